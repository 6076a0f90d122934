//! SPDX SBOMs: `apko build` on apko's `base_image.apko.yaml` compared with the SBOMs real apko
//! wrote for it (`base_image/sboms/`), the bundled example's SBOMs in the current directory
//! (apko's default), `--sbom=false`, `--sbom-formats`, `--sbom-path`, and `apko publish`
//! writing SBOMs only with `--sbom-path`.

use crate::support::Registry;
use crate::support::cli::Cli;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
use crate::support::TESTDATA;

fn apko(cwd: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_apko"));
    c.current_dir(cwd)
        .env("SOURCE_DATE_EPOCH", "0")
        .env("DOCKER_CONFIG", "/nonexistent-apko-test")
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR");
    c
}

fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // apko's test authors left a trailing comma in one golden file
    let text = text.replace("},\n  ]", "}\n  ]");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `sbom-*.spdx.json` names in `dir`, sorted.
fn sboms_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("sbom-") || n.starts_with(".apko-"))
        .collect();
    names.sort();
    names
}

/// `sha256:…` of each manifest in an index, by OCI architecture.
fn manifest_digests(index: &Value) -> Vec<(String, String)> {
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["platform"]["architecture"].as_str().unwrap().to_string(),
                m["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The files of a tarball by name.
fn tar_files(path: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut archive = tar::Archive::new(std::fs::File::open(path).unwrap());
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        files.insert(name, data);
    }
    files
}

fn layer_of(manifest: &[u8]) -> String {
    let m: Value = serde_json::from_slice(manifest).unwrap();
    m["layers"][0]["digest"].as_str().unwrap().to_string()
}

fn golden_blob(digest: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(TESTDATA)
            .join("apko-cli/base_image/blobs/sha256")
            .join(digest.trim_start_matches("sha256:")),
    )
    .unwrap()
}

/// Replaces the values of the fields the golden files' authors edited by hand (`supplier`)
/// or that name the tool (`creators`), so that the rest compares exactly.
fn normalise(mut v: Value) -> Value {
    v["creationInfo"]["creators"][0] = json!("Tool: apko (VERSION)");
    for p in v["packages"].as_array_mut().unwrap() {
        if p.get("supplier").is_some() {
            p["supplier"] = json!("SUPPLIER");
        }
    }
    v
}

/// What apko 1.2.39 changed in the SBOMs since the apko that wrote the golden files
/// (`pkg/sbom/generator/spdx`): `pkg:oci` purls keep the digest's colon (packageurl-go 0.1.6),
/// no `files` key, the image and layer packages are `SPDXRef-Package-Image-…` and
/// `SPDXRef-Package-ImageLayer-…` and the layer's purpose is `CONTAINER`, an
/// `OPERATING_SYSTEM` package follows the layers, a package copied from its own SBOM has
/// `filesAnalyzed: false`, no `hasFiles` or verification code and its originator as supplier,
/// and the image (not the layer) CONTAINS each package.
fn as_apko_1_2_39(v: &Value, image: &str, layer: &str, os: Value) -> Value {
    let img = format!("SPDXRef-Package-{}", image.replace(':', "-"));
    let lay = format!("SPDXRef-Package-{}", layer.replace(':', "-"));
    let new_img = format!("SPDXRef-Package-Image-{}", image.replace(':', "-"));
    let new_lay = format!("SPDXRef-Package-ImageLayer-{}", layer.replace(':', "-"));
    let mut v = v.clone();
    v.as_object_mut().unwrap().remove("files");
    let mut packages = Vec::new();
    for mut p in v["packages"].as_array().unwrap().clone() {
        let o = p.as_object_mut().unwrap();
        if o["SPDXID"] == img.as_str() {
            o["SPDXID"] = json!(new_img);
        } else if o["SPDXID"] == lay.as_str() {
            o["SPDXID"] = json!(new_lay);
            // apko's field order: after supplier, before externalRefs
            let refs = o.remove("externalRefs").unwrap();
            o.insert("primaryPackagePurpose".into(), json!("CONTAINER"));
            o.insert("externalRefs".into(), refs);
        } else {
            o["filesAnalyzed"] = json!(false);
            o.remove("hasFiles");
            o.remove("packageVerificationCode");
            if !o.contains_key("supplier") {
                o.insert("supplier".into(), o["originator"].clone());
            }
        }
        let is_layer = p["SPDXID"] == new_lay.as_str();
        packages.push(p);
        if is_layer {
            packages.push(os.clone());
        }
    }
    v["packages"] = json!(packages);
    v["documentDescribes"] = json!([new_img]);
    for r in v["relationships"].as_array_mut().unwrap() {
        for k in ["spdxElementId", "relatedSpdxElement"] {
            if r[k] == img.as_str() {
                r[k] = json!(new_img);
            } else if r[k] == lay.as_str() {
                r[k] = json!(if k == "spdxElementId" {
                    &new_img
                } else {
                    &new_lay
                });
            }
        }
    }
    swap(&v, &[("sha256%3A", "sha256:")])
}

/// Replaces every occurrence of `from` with `to` in the JSON text.
fn swap(v: &Value, pairs: &[(&str, &str)]) -> Value {
    let mut text = v.to_string();
    for (from, to) in pairs {
        text = text.replace(from, to);
    }
    serde_json::from_str(&text).unwrap()
}

#[test]
fn base_image_sboms_match_apkos() {
    // the config's paths are relative to apko-cli/ (where apko's test ran it)
    let dir = tempfile::tempdir().unwrap();
    let cli_dir = Path::new(TESTDATA).join("apko-cli");
    let out = dir.path().join("out.tar");
    let sbom_dir = dir.path().join("sboms");
    std::fs::create_dir(&sbom_dir).unwrap();
    let o = apko(&cli_dir)
        .args(["build", "base_image.apko.yaml", "golden:latest"])
        .arg(&out)
        .arg("--sbom-path")
        .arg(&sbom_dir)
        .output()
        .unwrap();
    ok(&o, "apko build base_image.apko.yaml");
    assert_eq!(
        sboms_in(&sbom_dir),
        [
            "sbom-aarch64.spdx.json",
            "sbom-index.spdx.json",
            "sbom-x86_64.spdx.json"
        ]
    );
    assert!(sboms_in(&cli_dir).is_empty(), "SBOMs outside --sbom-path");

    // Our digests are not apko's: our apk keeps its database in usr/lib/apk/db (apko 0.13
    // wrote lib/apk/db), and the repository's pretend-baselayout was rebuilt since by a newer
    // melange. So the golden digests are swapped for ours before comparing.
    let golden = Path::new(TESTDATA).join("apko-cli/base_image");
    let files = tar_files(&out);
    let ours = manifest_digests(&serde_json::from_slice(&files["index.json"]).unwrap());
    let theirs = manifest_digests(&read_json(&golden.join("index.json")));
    assert_eq!(ours.len(), 2);
    let index_ours = crate::support::layout::sha256(&files["index.json"]);
    let index_theirs = "sha256:153e3d9292715569c0c1fcd7f00671e156427e9da285efca4002c580a8cf1694";
    let strip = |d: &str| d.trim_start_matches("sha256:").to_string();
    let mut pairs = vec![(strip(index_theirs), strip(&index_ours))];
    for ((arch, o), (arch2, t)) in ours.iter().zip(&theirs) {
        assert_eq!(arch, arch2);
        pairs.push((strip(t), strip(o)));
        pairs.push((
            strip(&layer_of(&golden_blob(t))),
            strip(&layer_of(&files[o])),
        ));
    }
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();

    // The index: exactly apko's, its purls keeping the digest's colon as 1.2.39 writes them.
    let index_doc = read_json(&sbom_dir.join("sbom-index.spdx.json"));
    for p in index_doc["packages"].as_array().unwrap() {
        assert_eq!(p["supplier"], "Organization: Chainguard, Inc.");
    }
    assert_eq!(index_doc["creationInfo"]["licenseListVersion"], "3.27");
    let index = normalise(index_doc);
    let golden_index = normalise(swap(
        &read_json(&golden.join("sboms/sbom-index.spdx.json")),
        &pairs,
    ));
    assert_eq!(index, swap(&golden_index, &[("sha256%3A", "sha256:")]));
    assert_eq!(
        index["packages"][0]["externalRefs"][0]["referenceLocator"],
        format!(
            "pkg:oci/golden@{index_ours}?mediaType=application%2Fvnd.oci.image.index.v1%2Bjson"
        )
    );

    for (arch, apk_arch) in [("amd64", "x86_64"), ("arm64", "aarch64")] {
        let image = &ours.iter().find(|(a, _)| a == arch).unwrap().1;
        let layer = layer_of(&files[image]);
        let raw = read_json(&sbom_dir.join(format!("sbom-{apk_arch}.spdx.json")));
        assert!(raw.get("files").is_none(), "{apk_arch}: files");
        assert_eq!(raw["creationInfo"]["licenseListVersion"], "3.27");
        let doc = normalise(raw.clone());
        let os = json!({
            "SPDXID": "SPDXRef-OperatingSystem-pretend",
            "name": "pretend",
            "versionInfo": "1.0.0",
            "filesAnalyzed": false,
            "description": "Operating System",
            "downloadLocation": "NOASSERTION",
            "supplier": "SUPPLIER",
            "primaryPackagePurpose": "OPERATING_SYSTEM"
        });
        let golden_doc = normalise(as_apko_1_2_39(
            &swap(
                &read_json(&golden.join(format!("sboms/sbom-{apk_arch}.spdx.json"))),
                &pairs,
            ),
            image,
            &layer,
            os.clone(),
        ));
        // Everything but the packages and relationships: exactly apko's.
        for key in [
            "SPDXID",
            "name",
            "spdxVersion",
            "creationInfo",
            "dataLicense",
            "documentNamespace",
            "documentDescribes",
        ] {
            assert_eq!(doc[key], golden_doc[key], "{apk_arch}: {key}");
        }
        assert_eq!(
            doc.as_object().unwrap().keys().collect::<Vec<_>>(),
            golden_doc.as_object().unwrap().keys().collect::<Vec<_>>()
        );
        assert_eq!(doc["name"], format!("sbom-{layer}"));
        assert_eq!(doc["creationInfo"]["created"], "1970-01-01T00:00:00Z");
        let packages = doc["packages"].as_array().unwrap();
        let golden_packages = golden_doc["packages"].as_array().unwrap();
        // image, layer, OS, package-x and package-y: exactly apko's, purls included
        for (ours, theirs) in [(0, 0), (1, 1), (2, 2), (5, 4), (6, 5)] {
            assert_eq!(packages[ours], golden_packages[theirs], "{apk_arch}");
        }
        let raw_packages = raw["packages"].as_array().unwrap();
        assert_eq!(raw_packages[0]["supplier"], "Organization: Pretend");
        assert_eq!(raw_packages[2]["supplier"], "Organization: Pretend");
        // a missing supplier is the package's originator
        assert_eq!(raw_packages[5]["supplier"], "Organization: Unknown");
        assert_eq!(packages[5]["filesAnalyzed"], false);
        assert!(packages[5].get("packageVerificationCode").is_none());
        assert!(packages[5].get("hasFiles").is_none());
        assert_eq!(
            packages[6]["externalRefs"][0]["referenceLocator"],
            format!("pkg:apk/unknown/package-y@1.0.0-r0?arch={apk_arch}")
        );
        assert_eq!(
            packages[0]["externalRefs"][0]["referenceLocator"],
            format!(
                "pkg:oci/golden@{image}?arch={arch}&mediaType=application%2Fvnd.oci.image.manifest.v1%2Bjson&os=linux"
            )
        );
        assert_eq!(packages[1]["versionInfo"], "1.0.0"); // VERSION_ID of the image's os-release
        assert_eq!(packages[1]["primaryPackagePurpose"], "CONTAINER");
        assert_eq!(packages[2], os);
        // pretend-baselayout: its own (newer melange) SBOM's package and what it relates to,
        // with apko's fix-ups
        let own: Value = serde_json::from_slice(
            &std::process::Command::new("tar")
                .args(["-xzOf"])
                .arg(format!(
                    "{TESTDATA}/apko-cli/packages/{apk_arch}/pretend-baselayout-1.0.0-r0.apk"
                ))
                .arg("var/lib/db/sbom/pretend-baselayout-1.0.0-r0.spdx.json")
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        let base_id = "SPDXRef-Package-apk-pretend-baselayout-1.0.0-r0";
        let own_packages = own["packages"].as_array().unwrap();
        let melange_pkg = own_packages
            .iter()
            .find(|p| {
                p["SPDXID"]
                    .as_str()
                    .unwrap()
                    .starts_with("SPDXRef-Package-Melange-")
            })
            .unwrap();
        let base_pkg = own_packages
            .iter()
            .find(|p| p["SPDXID"] == base_id)
            .unwrap();
        assert_eq!(packages[3], normalise_one(base_pkg));
        assert_eq!(packages[4], normalise_one(melange_pkg));
        assert_eq!(packages[3]["licenseDeclared"], "MIT");
        assert_eq!(packages.len(), 7);
        let img = format!("SPDXRef-Package-Image-{}", image.replace(':', "-"));
        let lay = format!("SPDXRef-Package-ImageLayer-{}", layer.replace(':', "-"));
        let rel = |a: &str, t: &str, b: &str| json!({"spdxElementId": a, "relationshipType": t, "relatedSpdxElement": b});
        assert_eq!(
            doc["relationships"],
            json!([
                rel(&img, "CONTAINS", &lay),
                rel(
                    base_id,
                    "DESCRIBED_BY",
                    melange_pkg["SPDXID"].as_str().unwrap()
                ),
                rel(&img, "CONTAINS", base_id),
                rel(&img, "CONTAINS", "SPDXRef-Package-package-x-1.0.0-r0"),
                rel(&img, "CONTAINS", "SPDXRef-Package-package-y-1.0.0-r0"),
            ])
        );
        // golden relationships, digests swapped, are ours but for the newer melange's edge
        // (before its CONTAINS, as apko copies a package's own relationships first) and its
        // package ID
        let mut expected = golden_doc["relationships"].as_array().unwrap().clone();
        assert_eq!(
            expected[1]["relatedSpdxElement"],
            "SPDXRef-Package-pretend-baselayout-1.0.0-r0"
        );
        expected[1]["relatedSpdxElement"] = json!(base_id);
        expected.insert(1, doc["relationships"][1].clone());
        assert_eq!(doc["relationships"], json!(expected));
    }
}

/// A package copied from a package's own SBOM as apko 1.2.39 copies it: supplier normalised,
/// `hasFiles`, `licenseInfoFromFiles` and the verification code dropped, nothing analysed.
fn normalise_one(p: &Value) -> Value {
    let mut p = p.clone();
    if p.get("supplier").is_some() {
        p["supplier"] = json!("SUPPLIER");
    }
    let o = p.as_object_mut().unwrap();
    for k in [
        "hasFiles",
        "licenseInfoFromFiles",
        "packageVerificationCode",
    ] {
        o.remove(k);
    }
    o["filesAnalyzed"] = json!(false);
    p
}

/// A temp dir where `examples` → the project's, so the example config's relative paths work
/// with this directory as the current one (apko writes SBOMs to the current directory).
fn example_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(format!("{ROOT}/examples"), dir.path().join("examples")).unwrap();
    dir
}

fn build_example(dir: &Path, out: &str, extra: &[&str]) -> Output {
    apko(dir)
        .args(["build", "examples/hello/apko.yaml", "hello:latest", out])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn example_build_writes_sboms_to_the_current_directory() {
    let dir = example_dir();
    let d = dir.path();
    ok(&build_example(d, "out.tar", &[]), "apko build");
    assert_eq!(
        sboms_in(d),
        ["sbom-index.spdx.json", "sbom-x86_64.spdx.json"]
    );
    let first: Vec<Vec<u8>> = sboms_in(d)
        .iter()
        .map(|n| std::fs::read(d.join(n)).unwrap())
        .collect();
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(d.join("sbom-x86_64.spdx.json"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o644);
    let doc = read_json(&d.join("sbom-x86_64.spdx.json"));
    let names: Vec<&str> = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    // apko 1.2.39 describes only packages that ship their own SBOM (neither busybox nor hello
    // does), so: image, layer and the OS, which without /etc/os-release is apko's `unknown`
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names[0].starts_with("sha256:") && names[1].starts_with("sha256:"));
    assert_eq!(
        doc["packages"][2],
        json!({
            "SPDXID": "SPDXRef-OperatingSystem-unknown",
            "name": "unknown",
            "versionInfo": "unknown",
            "filesAnalyzed": false,
            "description": "Operating System",
            "downloadLocation": "NOASSERTION",
            "supplier": "Organization: apko-generated image",
            "primaryPackagePurpose": "OPERATING_SYSTEM"
        })
    );
    assert_eq!(
        doc["packages"][1]["SPDXID"],
        format!("SPDXRef-Package-ImageLayer-{}", names[1].replace(':', "-"))
    );
    assert_eq!(
        doc["relationships"],
        json!([{
            "spdxElementId": format!("SPDXRef-Package-Image-{}", names[0].replace(':', "-")),
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": doc["packages"][1]["SPDXID"],
        }])
    );
    let text = String::from_utf8(first[1].clone()).unwrap();
    assert!(
        text.starts_with("{\n  \"SPDXID\": \"SPDXRef-DOCUMENT\",\n"),
        "{text}"
    );
    assert!(text.ends_with("}\n"));
    assert!(
        text.contains("?arch=amd64\\u0026mediaType="),
        "Go's HTML escaping"
    );

    // a second build: the same bytes
    ok(&build_example(d, "out2.tar", &[]), "apko build (again)");
    let second: Vec<Vec<u8>> = sboms_in(d)
        .iter()
        .map(|n| std::fs::read(d.join(n)).unwrap())
        .collect();
    assert_eq!(first, second);

    // --sbom=false: none
    let off = example_dir();
    ok(
        &build_example(off.path(), "out.tar", &["--sbom=false"]),
        "apko build --sbom=false",
    );
    assert!(sboms_in(off.path()).is_empty());
    assert!(off.path().join("out.tar").is_file());
}

#[test]
fn bad_sbom_flags_fail_before_anything_is_written() {
    let dir = example_dir();
    let d = dir.path();
    let out = build_example(d, "out.tar", &["--sbom-formats", "cyclonedx"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error: unsupported --sbom-formats value \"cyclonedx\": the supported format is spdx\n"
    );
    assert!(!d.join("out.tar").exists());
    assert!(sboms_in(d).is_empty());

    let out = build_example(d, "out.tar", &["--sbom-path", "missing"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error: --sbom-path missing: no such directory; create it first (apko does not)\n"
    );
    assert!(!d.join("out.tar").exists());

    // spdx is accepted as a list too
    ok(
        &build_example(
            d,
            "out.tar",
            &["--sbom-formats", "spdx,spdx", "--sbom-path", "."],
        ),
        "apko build --sbom-formats spdx,spdx",
    );
    assert_eq!(
        sboms_in(d),
        ["sbom-index.spdx.json", "sbom-x86_64.spdx.json"]
    );
}

#[test]
fn publish_writes_sboms_only_with_sbom_path() {
    let registry = Registry::start_htpasswd();
    let h = registry.host.as_str();
    let mut cli = Cli::new();
    cli.env("SOURCE_DATE_EPOCH", "0");
    std::os::unix::fs::symlink(format!("{ROOT}/examples"), cli.path("examples")).unwrap();
    let auth = cli.file("auth.txt", &format!("{h}=testuser:testpass\n"));
    let auth = auth.to_str().unwrap();
    let publish = |extra: &[&str]| {
        let mut args = vec![
            "publish",
            "examples/hello/apko.yaml",
            &format!("{h}/hello:1"),
            "--auth-file",
            auth,
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli.run(&args).ok()
    };
    publish(&[]);
    assert!(
        sboms_in(cli.dir.path()).is_empty(),
        "publish wrote SBOMs unasked"
    );

    let sbom_dir: PathBuf = cli.path("sboms");
    std::fs::create_dir(&sbom_dir).unwrap();
    publish(&["--sbom-path", sbom_dir.to_str().unwrap()]);
    assert_eq!(
        sboms_in(&sbom_dir),
        ["sbom-index.spdx.json", "sbom-x86_64.spdx.json"]
    );
    assert!(sboms_in(cli.dir.path()).is_empty());

    // the same SBOMs `apko build` writes for the same image name
    let built = tempfile::tempdir().unwrap();
    let b = built.path();
    std::os::unix::fs::symlink(format!("{ROOT}/examples"), b.join("examples")).unwrap();
    ok(&build_example(b, "out.tar", &[]), "apko build");
    for name in ["sbom-index.spdx.json", "sbom-x86_64.spdx.json"] {
        assert_eq!(
            std::fs::read(sbom_dir.join(name)).unwrap(),
            std::fs::read(b.join(name)).unwrap(),
            "{name}"
        );
    }
}
