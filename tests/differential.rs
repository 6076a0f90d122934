//! Differential builds: each config of the corpus is built by real apko (v1.2.39, from
//! `tests/peers.sh`) and by ours, offline, with the same `SOURCE_DATE_EPOCH`; layers, configs,
//! manifests, index, tarball and SBOMs are read into one model and compared. Every difference
//! must match a row of `docs/apko-differences.md`, and every row must match a difference.
//! The table goes to stdout and `target/differential/table.md`.

use apko::apk::mkrepo::{FileSpec, PackageSpec, load_private_key, public_pem, write_repo};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

const EPOCH: &str = "1700000000";
const TAG: &str = "difftest:latest";
const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/testdata/apko-cli");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// One config of the corpus: its key, its path from the work dir, extra `build` arguments.
struct Case {
    name: &'static str,
    config: &'static str,
    args: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        name: "apko.yaml",
        config: "testdata/apko.yaml",
        args: &[],
    },
    Case {
        name: "apko.yaml+lock",
        config: "testdata/apko.yaml",
        args: &["--lockfile", "testdata/apko.lock.json"],
    },
    Case {
        name: "base_image.apko.yaml",
        config: "testdata/base_image.apko.yaml",
        args: &[],
    },
    Case {
        name: "image_on_top.apko.yaml",
        config: "testdata/image_on_top.apko.yaml",
        args: &["--lockfile", "testdata/image_on_top.apko.lock.json"],
    },
    Case {
        name: "layering.yaml",
        config: "testdata/layering.yaml",
        args: &[],
    },
    Case {
        name: "empty-layering.yaml",
        config: "testdata/empty-layering.yaml",
        args: &[],
    },
    Case {
        name: "apko-certs.yaml",
        config: "testdata/apko-certs.yaml",
        args: &[],
    },
    Case {
        name: "hello",
        config: "examples/hello/apko.yaml",
        args: &[],
    },
    Case {
        name: "full",
        config: "differential/full.yaml",
        args: &[],
    },
    Case {
        name: "include",
        config: "differential/include.yaml",
        args: &[],
    },
    Case {
        name: "include-merge",
        config: "differential/include-merge.yaml",
        args: &[],
    },
    Case {
        name: "service-bundle",
        config: "differential/service-bundle.yaml",
        args: &[],
    },
    Case {
        name: "own-layering",
        config: "differential/layering.yaml",
        args: &[],
    },
    Case {
        name: "multiarch",
        config: "differential/multiarch.yaml",
        args: &[],
    },
    Case {
        name: "shell-fragment",
        config: "differential/shell-fragment.yaml",
        args: &[],
    },
    Case {
        name: "refuse-uid0",
        config: "differential/refuse-uid0.yaml",
        args: &[],
    },
    Case {
        name: "refuse-unknown-key",
        config: "differential/refuse-unknown-key.yaml",
        args: &[],
    },
];

/// Which builder.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Apko,
    Ours,
}

impl Side {
    fn binary(self) -> PathBuf {
        match self {
            Side::Apko => apko_test_support::peer("apko-go"),
            Side::Ours => PathBuf::from(env!("CARGO_BIN_EXE_apko")),
        }
    }
    fn label(self) -> &'static str {
        match self {
            Side::Apko => "apko",
            Side::Ours => "ours",
        }
    }
}

/// One found difference: its key and what each side had.
#[derive(Clone)]
struct Diff {
    key: String,
    apko: String,
    ours: String,
}

/// Collects differences under a prefix (`config/arch part:`).
struct Diffs<'a> {
    prefix: String,
    out: &'a mut Vec<Diff>,
}

impl Diffs<'_> {
    fn add(&mut self, what: &str, apko: impl Into<String>, ours: impl Into<String>) {
        self.out.push(Diff {
            key: format!("{}: {what}", self.prefix),
            apko: apko.into(),
            ours: ours.into(),
        });
    }
    fn sub(&mut self, prefix: String) -> Diffs<'_> {
        Diffs {
            prefix,
            out: self.out,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The work dir: symlinks to the shared testdata, the examples and our configs, and a local
// signed repository made with the project's own mkrepo.

fn work_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("differential")
        .tempdir()
        .unwrap();
    let root = dir.path();
    let shared = Path::new(SHARED)
        .canonicalize()
        .expect("../shared/testdata");
    let link = |target: &Path, name: &str| std::os::unix::fs::symlink(target, root.join(name));
    link(&shared, "testdata").unwrap();
    // base_image.apko.yaml names its inputs relative to apko-cli itself.
    for name in ["melange.rsa.pub", "packages", "private_packages"] {
        link(&shared.join(name), name).unwrap();
    }
    link(&Path::new(ROOT).join("examples"), "examples").unwrap();
    link(&Path::new(ROOT).join("tests/differential"), "differential").unwrap();
    local_repo(&root.join("local"), &shared.join("melange.rsa"));
    for name in ["home", "cache", "docker"] {
        std::fs::create_dir(root.join(name)).unwrap();
    }
    dir
}

/// Every architecture apko 1.2 knows, by apk name.
const APK_ARCHS: &[&str] = &[
    "x86_64",
    "aarch64",
    "armv7",
    "armhf",
    "x86",
    "ppc64le",
    "riscv64",
    "s390x",
    "loongarch64",
];

/// Packages without symlinks: apko refuses a symlink that has no `APK-TOOLS.checksum.SHA1`,
/// which mkrepo does not write (see `hello`); `paths` makes the symlinks instead.
fn local_repo(dir: &Path, key: &Path) {
    let key = load_private_key(key).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("difftest.rsa.pub"), public_pem(&key)).unwrap();
    let bundle = std::fs::read(Path::new(ROOT).join("tests/fixtures/test-ca-2.pem")).unwrap();
    let provided = std::fs::read(Path::new(ROOT).join("tests/fixtures/test-ca.pem")).unwrap();
    for arch in APK_ARCHS {
        let base = PackageSpec {
            arch: arch.to_string(),
            license: "MIT".into(),
            build_time: 1_690_000_000,
            version: "1.0-r0".into(),
            ..PackageSpec::default()
        };
        let dir_ = |p: &str, m| FileSpec::Dir(p.into(), m);
        let file = |p: &str, d: &str, m| FileSpec::File(p.into(), d.as_bytes().to_vec(), m);
        let packages = vec![
            PackageSpec {
                name: "difftest-base".into(),
                description: "os-release, a shell and some data".into(),
                provides: vec!["cmd:sh=1.0-r0".into()],
                files: vec![
                    dir_("bin", 0o755),
                    file("bin/sh", "#!/bin/true\n", 0o755),
                    dir_("etc", 0o755),
                    file(
                        "etc/os-release",
                        "ID=difftest\nNAME=\"Difftest\"\nPRETTY_NAME=\"Difftest 1\"\nVERSION_ID=1.0\nHOME_URL=\"https://example.invalid/\"\n",
                        0o644,
                    ),
                    dir_("etc/ssl", 0o755),
                    dir_("etc/ssl/certs", 0o755),
                    FileSpec::File(
                        "etc/ssl/certs/ca-certificates.crt".into(),
                        bundle.clone(),
                        0o644,
                    ),
                    dir_("opt", 0o755),
                    dir_("opt/app", 0o755),
                    file("opt/app/run.sh", "#!/bin/sh\nexec /usr/bin/app\n", 0o755),
                    dir_("opt/app/conf", 0o755),
                    file("opt/app/conf/app.conf", "port=8080\n", 0o644),
                    dir_("usr", 0o755),
                    dir_("usr/share", 0o755),
                    dir_("usr/share/difftest", 0o755),
                    file("usr/share/difftest/data.txt", "base data\n", 0o644),
                    dir_("usr/share/difftest/sub", 0o700),
                    file("usr/share/difftest/sub/deep.txt", "deep\n", 0o600),
                    dir_("var", 0o755),
                    dir_("var/lib", 0o755),
                    dir_("var/lib/difftest", 0o700),
                ],
                ..base.clone()
            },
            PackageSpec {
                name: "difftest-app".into(),
                version: "2.0-r1".into(),
                description: "the application".into(),
                depends: vec!["difftest-base".into(), "cmd:sh".into()],
                files: vec![
                    dir_("usr", 0o755),
                    dir_("usr/bin", 0o755),
                    file("usr/bin/app", "#!/bin/sh\necho app\n", 0o755),
                ],
                ..base.clone()
            },
            PackageSpec {
                name: "difftest-replacer".into(),
                description: "replaces a file of difftest-base".into(),
                depends: vec!["difftest-base".into()],
                replaces: vec!["difftest-base".into()],
                files: vec![
                    dir_("usr", 0o755),
                    dir_("usr/share", 0o755),
                    dir_("usr/share/difftest", 0o755),
                    file("usr/share/difftest/data.txt", "replaced data\n", 0o644),
                ],
                ..base.clone()
            },
            PackageSpec {
                name: "difftest-certs".into(),
                description: "a CA certificate provider".into(),
                provides: vec!["difftest-ca-provider".into()],
                files: vec![
                    dir_("usr", 0o755),
                    dir_("usr/share", 0o755),
                    dir_("usr/share/ca-certificates", 0o755),
                    dir_("usr/share/ca-certificates/difftest", 0o755),
                    FileSpec::File(
                        "usr/share/ca-certificates/difftest/provided.crt".into(),
                        provided.clone(),
                        0o644,
                    ),
                ],
                ..base.clone()
            },
            PackageSpec {
                name: "s6".into(),
                version: "2.13-r0".into(),
                description: "a stand-in for the s6 supervisor".into(),
                files: vec![
                    dir_("bin", 0o755),
                    file("bin/s6-svscan", "#!/bin/sh\nexec sleep infinity\n", 0o755),
                ],
                ..base.clone()
            },
            PackageSpec {
                name: "difftest-lib1".into(),
                description: "a library of its own origin".into(),
                files: vec![
                    dir_("usr", 0o755),
                    dir_("usr/lib", 0o755),
                    file("usr/lib/lib1.so", &"one\n".repeat(4096), 0o755),
                ],
                ..base.clone()
            },
            PackageSpec {
                name: "difftest-lib2".into(),
                description: "another library of its own origin".into(),
                files: vec![
                    dir_("usr", 0o755),
                    dir_("usr/lib", 0o755),
                    file("usr/lib/lib2.so", &"two\n".repeat(8192), 0o755),
                ],
                ..base
            },
        ];
        write_repo(&dir.join("repo"), arch, &packages, &key, "difftest.rsa.pub").unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Building.

/// What one builder produced for one case.
struct Outcome {
    status: i32,
    stderr: String,
    layout: Option<Layout>,
    tarball: Option<Tarball>,
    sboms: BTreeMap<String, Value>,
}

fn build(side: Side, case: &Case, root: &Path, out: &Path) -> Outcome {
    let layout = out.join("layout");
    let sboms = out.join("sboms");
    let tar_sboms = out.join("tar-sboms");
    for d in [&layout, &sboms, &tar_sboms] {
        std::fs::create_dir_all(d).unwrap();
    }
    let run = |output: &Path, sbom_dir: &Path| {
        let mut cmd = Command::new(side.binary());
        cmd.current_dir(root)
            .arg("build")
            .arg(case.config)
            .arg(TAG)
            .arg(output)
            .args(["--offline", "--vcs=false", "--sbom-path"])
            .arg(sbom_dir)
            .args(case.args)
            .env("SOURCE_DATE_EPOCH", EPOCH)
            .env("HOME", root.join("home"))
            .env("XDG_CACHE_HOME", root.join("cache"))
            .env("DOCKER_CONFIG", root.join("docker"))
            .env_remove("REGISTRY_AUTH_FILE")
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("APKO_AUTH")
            .env_remove("HTTP_AUTH");
        cmd.output().expect("run a builder")
    };
    let dir_out = run(Path::new(&format!("{}/", layout.display())), &sboms);
    let status = dir_out.status.code().unwrap_or(-1);
    let stderr = String::from_utf8_lossy(&dir_out.stderr).into_owned();
    if status != 0 {
        return Outcome {
            status,
            stderr,
            layout: None,
            tarball: None,
            sboms: BTreeMap::new(),
        };
    }
    let tar_path = out.join("image.tar");
    let tar_out = run(&tar_path, &tar_sboms);
    assert!(
        tar_out.status.success(),
        "{} built {} as a layout but not as a tarball: {}",
        side.label(),
        case.name,
        String::from_utf8_lossy(&tar_out.stderr)
    );
    let mut sbom_files = BTreeMap::new();
    for entry in std::fs::read_dir(&sboms).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let json = serde_json::from_slice(&std::fs::read(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        sbom_files.insert(name, json);
    }
    Outcome {
        status,
        stderr,
        layout: Some(read_layout(&layout)),
        tarball: Some(read_tarball(&tar_path)),
        sboms: sbom_files,
    }
}

// ---------------------------------------------------------------------------------------------
// The model.

/// One tar entry of a layer.
#[derive(Clone)]
struct Entry {
    /// The name as written (`etc/`, `./bin`…).
    raw: String,
    fields: BTreeMap<&'static str, String>,
    /// The text of an installed database, compared record by record.
    installed: Option<String>,
}

struct Image {
    arch: String,
    manifest: Value,
    config: Value,
    layers: Vec<Vec<Entry>>,
}

struct Layout {
    index: Value,
    oci_layout: String,
    images: Vec<Image>,
    /// Blob symbol (`manifest@x86_64`, `layer@x86_64#0`, `diffid@…`) to (digest, size).
    blobs: BTreeMap<String, (String, u64)>,
    /// Digest hex to blob symbol.
    names: BTreeMap<String, String>,
}

struct Tarball {
    /// Entry names with digests replaced by symbols, and each entry's mode.
    entries: Vec<(String, String)>,
    manifest: Value,
    index: Option<Value>,
    /// The digest hex of its `index.json`.
    index_sha: Option<String>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// apk name of an OCI platform.
fn apk_arch(platform: &Value) -> String {
    let arch = platform["architecture"].as_str().unwrap_or("?");
    let variant = platform["variant"].as_str().unwrap_or("");
    match (arch, variant) {
        ("amd64", _) => "x86_64",
        ("arm64", _) => "aarch64",
        ("arm", "v6") => "armhf",
        ("arm", _) => "armv7",
        ("386", _) => "x86",
        ("loong64", _) => "loongarch64",
        (other, _) => other,
    }
    .to_string()
}

/// `layer@x86_64` for an image's first layer, `layer@x86_64#1`… for the others.
fn layer_symbol(kind: &str, arch: &str, i: usize) -> String {
    if i == 0 {
        format!("{kind}@{arch}")
    } else {
        format!("{kind}@{arch}#{i}")
    }
}

fn read_layout(dir: &Path) -> Layout {
    let blob = |digest: &str| {
        let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
        std::fs::read(dir.join("blobs/sha256").join(hex))
            .unwrap_or_else(|e| panic!("{} blob {digest}: {e}", dir.display()))
    };
    let index_bytes = std::fs::read(dir.join("index.json")).unwrap();
    let index: Value = serde_json::from_slice(&index_bytes).unwrap();
    let mut blobs = BTreeMap::new();
    let mut names = BTreeMap::new();
    let mut note = |symbol: String, digest: &str, size: u64| {
        let hex = digest.trim_start_matches("sha256:").to_string();
        names.entry(hex.clone()).or_insert_with(|| symbol.clone());
        blobs.insert(symbol, (hex, size));
    };
    note(
        "index.json".into(),
        &sha256_hex(&index_bytes),
        index_bytes.len() as u64,
    );
    let mut images = Vec::new();
    for m in index["manifests"].as_array().cloned().unwrap_or_default() {
        let arch = apk_arch(&m["platform"]);
        let digest = m["digest"].as_str().unwrap();
        let raw = blob(digest);
        note(format!("manifest@{arch}"), digest, raw.len() as u64);
        let manifest: Value = serde_json::from_slice(&raw).unwrap();
        let config_digest = manifest["config"]["digest"].as_str().unwrap();
        let config_raw = blob(config_digest);
        note(
            format!("config@{arch}"),
            config_digest,
            config_raw.len() as u64,
        );
        let config: Value = serde_json::from_slice(&config_raw).unwrap();
        let mut layers = Vec::new();
        for (i, l) in manifest["layers"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let digest = l["digest"].as_str().unwrap();
            let compressed = blob(digest);
            note(
                layer_symbol("layer", &arch, i),
                digest,
                compressed.len() as u64,
            );
            let mut tar = Vec::new();
            flate2::read::MultiGzDecoder::new(&compressed[..])
                .read_to_end(&mut tar)
                .unwrap();
            note(
                layer_symbol("diffid", &arch, i),
                &sha256_hex(&tar),
                tar.len() as u64,
            );
            layers.push(read_layer(&tar));
        }
        images.push(Image {
            arch,
            manifest,
            config,
            layers,
        });
    }
    Layout {
        index,
        oci_layout: std::fs::read_to_string(dir.join("oci-layout")).unwrap_or_default(),
        images,
        blobs,
        names,
    }
}

fn read_layer(tar_bytes: &[u8]) -> Vec<Entry> {
    let mut archive = tar::Archive::new(tar_bytes);
    let mut entries = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let header = entry.header().clone();
        let mut fields = BTreeMap::new();
        let kind = match header.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => "file".to_string(),
            tar::EntryType::Directory => "dir".into(),
            tar::EntryType::Symlink => "symlink".into(),
            tar::EntryType::Link => "hardlink".into(),
            tar::EntryType::Char => "char".into(),
            tar::EntryType::Block => "block".into(),
            tar::EntryType::Fifo => "fifo".into(),
            other => format!("{other:?}"),
        };
        fields.insert("type", kind);
        fields.insert("mode", format!("{:o}", header.mode().unwrap_or(0)));
        fields.insert("uid", header.uid().unwrap_or(0).to_string());
        fields.insert("gid", header.gid().unwrap_or(0).to_string());
        fields.insert(
            "uname",
            header.username().ok().flatten().unwrap_or("").to_string(),
        );
        fields.insert(
            "gname",
            header.groupname().ok().flatten().unwrap_or("").to_string(),
        );
        fields.insert("mtime", header.mtime().unwrap_or(0).to_string());
        if let Some(link) = entry.link_name_bytes() {
            fields.insert("link", String::from_utf8_lossy(&link).into_owned());
        }
        let format = if header.as_ustar().is_some() {
            "ustar"
        } else if header.as_gnu().is_some() {
            "gnu"
        } else {
            "v7"
        };
        let mut pax = Vec::new();
        if let Ok(Some(ext)) = entry.pax_extensions() {
            for e in ext.flatten() {
                let k = e.key().unwrap_or("?").to_string();
                let v = String::from_utf8_lossy(e.value_bytes()).into_owned();
                pax.push(format!("{k}={v}"));
            }
        }
        pax.sort();
        fields.insert("header", format.to_string());
        if !pax.is_empty() {
            fields.insert("pax", pax.join(" "));
        }
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        fields.insert("size", data.len().to_string());
        if header.entry_type() == tar::EntryType::Regular {
            fields.insert("sha256", sha256_hex(&data));
        }
        let installed = raw
            .ends_with("apk/db/installed")
            .then(|| String::from_utf8_lossy(&data).into_owned());
        entries.push(Entry {
            raw,
            fields,
            installed,
        });
    }
    entries
}

fn read_tarball(path: &Path) -> Tarball {
    let bytes = std::fs::read(path).unwrap();
    let mut archive = tar::Archive::new(&bytes[..]);
    let mut entries = Vec::new();
    let mut manifest = Value::Null;
    let mut index = None;
    let mut index_sha = None;
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let mode = format!("{:o}", entry.header().mode().unwrap_or(0));
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if name == "manifest.json" {
            manifest = serde_json::from_slice(&data).unwrap();
        } else if name == "index.json" {
            index = Some(serde_json::from_slice(&data).unwrap());
            index_sha = Some(sha256_hex(&data));
        }
        entries.push((name, mode));
    }
    Tarball {
        entries,
        manifest,
        index,
        index_sha,
    }
}

// ---------------------------------------------------------------------------------------------
// Comparing.

/// Replaces every 64-digit hex run in `s` by the symbol of the blob it names (`<layer@x86_64#0>`),
/// or `<sha256>` when it names none.
fn symbolize_str(s: &str, names: &BTreeMap<String, String>) -> String {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if s[i..].starts_with("%3A") {
            // A percent-encoded `:` before a digest (`sha256%3A…`).
            out.push_str("%3A");
            i += 3;
            continue;
        }
        let run = b[i..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
        if run == 64 {
            let hex = &s[i..i + 64];
            match names.get(&hex.to_ascii_lowercase()) {
                Some(name) => out.push_str(&format!("<{name}>")),
                None => out.push_str("<sha256>"),
            }
            i += 64;
        } else if run > 0 {
            out.push_str(&s[i..i + run]);
            i += run;
        } else {
            let c = s[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Digests to symbols, and every descriptor's `size` to `<size>` (compared with the blobs).
fn symbolize(v: &Value, names: &BTreeMap<String, String>) -> Value {
    match v {
        Value::String(s) => Value::String(symbolize_str(s, names)),
        Value::Array(a) => Value::Array(a.iter().map(|x| symbolize(x, names)).collect()),
        Value::Object(o) => {
            let descriptor = o.get("digest").is_some_and(Value::is_string);
            Value::Object(
                o.iter()
                    .map(|(k, x)| {
                        let x = if descriptor && k == "size" && x.is_number() {
                            Value::String("<size>".into())
                        } else {
                            symbolize(x, names)
                        };
                        (symbolize_str(k, names), x)
                    })
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

/// Flattens JSON into path → value: objects by `.key`, arrays of objects by `[i]`; scalars
/// and arrays of scalars are leaves.
fn flatten(v: &Value, path: String, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(o) if !o.is_empty() => {
            for (k, x) in o {
                flatten(x, format!("{path}.{k}"), out);
            }
        }
        Value::Array(a) if a.iter().any(|x| x.is_object() || x.is_array()) => {
            for (i, x) in a.iter().enumerate() {
                flatten(x, format!("{path}[{i}]"), out);
            }
        }
        other => {
            out.insert(
                if path.is_empty() { ".".into() } else { path },
                other.to_string(),
            );
        }
    }
}

fn compare_json(apko: &Value, ours: &Value, d: &mut Diffs) {
    let (mut a, mut o) = (BTreeMap::new(), BTreeMap::new());
    flatten(apko, String::new(), &mut a);
    flatten(ours, String::new(), &mut o);
    for (k, av) in &a {
        match o.get(k) {
            None => d.add(&format!("{k} only in apko"), av.clone(), ""),
            Some(ov) if ov != av => d.add(&format!("{k} differs"), av.clone(), ov.clone()),
            _ => {}
        }
    }
    for (k, ov) in &o {
        if !a.contains_key(k) {
            d.add(&format!("{k} only in ours"), "", ov.clone());
        }
    }
}

/// Entries by name (trailing `/` and leading `./` dropped; a repeated name gets `#2`…).
fn keyed(entries: &[Entry]) -> Vec<(String, &Entry)> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    entries
        .iter()
        .map(|e| {
            let name = e
                .raw
                .trim_start_matches("./")
                .trim_end_matches('/')
                .to_string();
            let n = seen.entry(name.clone()).or_insert(0);
            *n += 1;
            let key = if *n == 1 { name } else { format!("{name}#{n}") };
            (key, e)
        })
        .collect()
}

fn compare_entries(apko: &[Entry], ours: &[Entry], d: &mut Diffs) {
    let (a, o) = (keyed(apko), keyed(ours));
    let am: BTreeMap<&str, &Entry> = a.iter().map(|(k, e)| (k.as_str(), *e)).collect();
    let om: BTreeMap<&str, &Entry> = o.iter().map(|(k, e)| (k.as_str(), *e)).collect();
    for (k, ae) in &am {
        let Some(oe) = om.get(k) else {
            d.add(&format!("{k} only in apko"), describe(ae), "");
            continue;
        };
        if ae.raw != oe.raw {
            d.add(&format!("{k} name differs"), ae.raw.clone(), oe.raw.clone());
        }
        let fields: BTreeSet<&str> = ae.fields.keys().chain(oe.fields.keys()).copied().collect();
        let db = match (&ae.installed, &oe.installed) {
            (Some(x), Some(y)) => {
                compare_installed(k, x, y, d);
                true
            }
            _ => false,
        };
        for f in fields {
            if db && (f == "sha256" || f == "size") {
                continue; // compared record by record
            }
            let (av, ov) = (ae.fields.get(f), oe.fields.get(f));
            if av != ov {
                // apko leaves mtime 0 on what it makes itself: one class, whatever the path.
                let zero = f == "mtime" && av.is_some_and(|v| v == "0");
                d.add(
                    &format!("{k} {f} differs{}", if zero { " (apko 0)" } else { "" }),
                    av.cloned().unwrap_or_else(|| "(none)".into()),
                    ov.cloned().unwrap_or_else(|| "(none)".into()),
                );
            }
        }
    }
    for (k, oe) in &om {
        if !am.contains_key(k) {
            d.add(&format!("{k} only in ours"), "", describe(oe));
        }
    }
    let common_a: Vec<&str> = a
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| om.contains_key(k))
        .collect();
    let common_o: Vec<&str> = o
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| am.contains_key(k))
        .collect();
    if common_a != common_o {
        let i = common_a
            .iter()
            .zip(&common_o)
            .position(|(x, y)| x != y)
            .unwrap_or(0);
        d.add(
            "entry order differs",
            format!(
                "…{}",
                common_a[i..]
                    .iter()
                    .take(4)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            format!(
                "…{}",
                common_o[i..]
                    .iter()
                    .take(4)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
}

/// An installed database's records by package (`P:`), and their order.
fn compare_installed(k: &str, apko: &str, ours: &str, d: &mut Diffs) {
    let records = |text: &str| -> Vec<(String, String)> {
        text.split("\n\n")
            .filter(|r| !r.trim().is_empty())
            .map(|r| {
                let name = r.lines().find_map(|l| l.strip_prefix("P:")).unwrap_or("?");
                (name.to_string(), r.trim().to_string())
            })
            .collect()
    };
    let (a, o) = (records(apko), records(ours));
    let am: BTreeMap<&str, &str> = a.iter().map(|(n, r)| (n.as_str(), r.as_str())).collect();
    let om: BTreeMap<&str, &str> = o.iter().map(|(n, r)| (n.as_str(), r.as_str())).collect();
    for (name, ar) in &am {
        match om.get(name) {
            None => d.add(&format!("{k} record {name} only in apko"), *ar, ""),
            Some(or) if or != ar => {
                let lines = |x: &str, y: &str| {
                    let ys: BTreeSet<&str> = y.lines().collect();
                    x.lines()
                        .filter(|l| !ys.contains(l))
                        .collect::<Vec<_>>()
                        .join(" ")
                };
                d.add(
                    &format!("{k} record {name} differs"),
                    format!("only here: {}", lines(ar, or)),
                    format!("only here: {}", lines(or, ar)),
                )
            }
            _ => {}
        }
    }
    for (name, or) in &om {
        if !am.contains_key(name) {
            d.add(&format!("{k} record {name} only in ours"), "", *or);
        }
    }
    let order = |v: &[(String, String)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    if am.keys().eq(om.keys()) && order(&a) != order(&o) {
        d.add(
            &format!("{k} record order differs"),
            order(&a).join(", "),
            order(&o).join(", "),
        );
    }
}

fn describe(e: &Entry) -> String {
    let f = |k| e.fields.get(k).map(String::as_str).unwrap_or("");
    let mut s = format!("{} {} {}:{}", f("type"), f("mode"), f("uid"), f("gid"));
    if let Some(link) = e.fields.get("link") {
        s.push_str(&format!(" -> {link}"));
    } else {
        s.push_str(&format!(" {} bytes", f("size")));
    }
    s
}

/// The later layers' entries over the earlier ones', by name.
fn merged(layers: &[Vec<Entry>]) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    for layer in layers {
        for e in layer {
            let name = e.raw.trim_start_matches("./").trim_end_matches('/');
            out.retain(|x| x.raw.trim_start_matches("./").trim_end_matches('/') != name);
            out.push(e.clone());
        }
    }
    out
}

fn compare_layouts(case: &str, a: &Layout, o: &Layout, out: &mut Vec<Diff>) {
    let mut d = Diffs {
        prefix: format!("{case} index"),
        out,
    };
    compare_json(
        &symbolize(&a.index, &a.names),
        &symbolize(&o.index, &o.names),
        &mut d,
    );
    if a.oci_layout.trim() != o.oci_layout.trim() {
        d.sub(format!("{case} oci-layout")).add(
            "differs",
            a.oci_layout.clone(),
            o.oci_layout.clone(),
        );
    }
    for (symbol, (ad, asize)) in &a.blobs {
        let mut d = d.sub(format!("{case} blob"));
        match o.blobs.get(symbol) {
            None => d.add(&format!("{symbol} only in apko"), ad.clone(), ""),
            Some((od, osize)) if od != ad || osize != asize => d.add(
                &format!("{symbol} differs"),
                format!("{ad} ({asize} bytes)"),
                format!("{od} ({osize} bytes)"),
            ),
            _ => {}
        }
    }
    for (symbol, (od, _)) in &o.blobs {
        if !a.blobs.contains_key(symbol) {
            d.sub(format!("{case} blob"))
                .add(&format!("{symbol} only in ours"), "", od.clone());
        }
    }
    for ai in &a.images {
        let Some(oi) = o.images.iter().find(|i| i.arch == ai.arch) else {
            continue; // reported by the index comparison
        };
        let arch = &ai.arch;
        compare_json(
            &symbolize(&ai.manifest, &a.names),
            &symbolize(&oi.manifest, &o.names),
            &mut d.sub(format!("{case}/{arch} manifest")),
        );
        compare_json(
            &symbolize(&ai.config, &a.names),
            &symbolize(&oi.config, &o.names),
            &mut d.sub(format!("{case}/{arch} config")),
        );
        if ai.layers.len() == oi.layers.len() {
            for (i, (al, ol)) in ai.layers.iter().zip(&oi.layers).enumerate() {
                let part = if ai.layers.len() == 1 {
                    "layer".to_string()
                } else {
                    format!("layer#{i}")
                };
                compare_entries(al, ol, &mut d.sub(format!("{case}/{arch} {part}")));
            }
        } else {
            d.sub(format!("{case}/{arch} layers")).add(
                "count differs",
                ai.layers.len().to_string(),
                oi.layers.len().to_string(),
            );
            compare_entries(
                &merged(&ai.layers),
                &merged(&oi.layers),
                &mut d.sub(format!("{case}/{arch} layers(merged)")),
            );
        }
    }
}

fn compare_tarballs(
    case: &str,
    a: &Tarball,
    an: &Layout,
    o: &Tarball,
    on: &Layout,
    out: &mut Vec<Diff>,
) {
    let mut d = Diffs {
        prefix: format!("{case} tarball"),
        out,
    };
    let names = |t: &Tarball, l: &Layout| -> Vec<String> {
        t.entries
            .iter()
            .map(|(n, m)| format!("{} {m}", symbolize_str(n, &l.names)))
            .collect()
    };
    // Only the set: apko writes the images in Go map order, which changes from run to run.
    let (ae, oe) = (names(a, an), names(o, on));
    let (sa, so): (BTreeSet<&String>, BTreeSet<&String>) =
        (ae.iter().collect(), oe.iter().collect());
    for n in sa.difference(&so) {
        d.add(&format!("entry {n} only in apko"), "", "");
    }
    for n in so.difference(&sa) {
        d.add(&format!("entry {n} only in ours"), "", "");
    }
    compare_json(
        &by_config(&symbolize(&a.manifest, &an.names)),
        &by_config(&symbolize(&o.manifest, &on.names)),
        &mut d.sub(format!("{case} tarball manifest.json")),
    );
    match (&a.index, &o.index) {
        (Some(ai), Some(oi)) => compare_json(
            &symbolize(ai, &an.names),
            &symbolize(oi, &on.names),
            &mut d.sub(format!("{case} tarball index.json")),
        ),
        (Some(_), None) => d.add("index.json only in apko", "", ""),
        (None, Some(_)) => d.add("index.json only in ours", "", ""),
        (None, None) => {}
    }
}

/// `manifest.json`'s images by their config's symbol (so by architecture), not by position.
fn by_config(manifest: &Value) -> Value {
    let mut m = serde_json::Map::new();
    for image in manifest.as_array().cloned().unwrap_or_default() {
        let key = image["Config"].as_str().unwrap_or("?").to_string();
        m.insert(key, image);
    }
    Value::Object(m)
}

/// An SPDX document with its elements named by their `name` instead of their SPDXIDs
/// (which embed digests and differ in form), so packages pair up across the two sides.
fn spdx_model(doc: &Value, names: &BTreeMap<String, String>) -> Value {
    let doc = symbolize(doc, names);
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    ids.insert("SPDXRef-DOCUMENT".into(), "DOCUMENT".into());
    let mut packages = serde_json::Map::new();
    for p in doc["packages"].as_array().cloned().unwrap_or_default() {
        let mut key = p["name"].as_str().unwrap_or("?").to_string();
        while packages.contains_key(&key) {
            key.push('+');
        }
        if let Some(id) = p["SPDXID"].as_str() {
            ids.insert(id.to_string(), key.clone());
        }
        packages.insert(key, p);
    }
    let name_of = |id: &Value| {
        let id = id.as_str().unwrap_or("?");
        ids.get(id).cloned().unwrap_or_else(|| format!("?{id}"))
    };
    let mut relationships: Vec<String> = doc["relationships"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                name_of(&r["spdxElementId"]),
                r["relationshipType"].as_str().unwrap_or("?"),
                name_of(&r["relatedSpdxElement"])
            )
        })
        .collect();
    relationships.sort();
    let mut m = doc.as_object().cloned().unwrap_or_default();
    m.insert("packages".into(), Value::Object(packages));
    m.insert(
        "relationships".into(),
        Value::Object(
            relationships
                .into_iter()
                .map(|r| (r, Value::Bool(true)))
                .collect(),
        ),
    );
    if let Some(described) = doc["documentDescribes"].as_array() {
        m.insert(
            "documentDescribes".into(),
            Value::Array(
                described
                    .iter()
                    .map(|x| Value::String(name_of(x)))
                    .collect(),
            ),
        );
    }
    Value::Object(m)
}

fn compare_sboms(case: &str, a: &Outcome, o: &Outcome, out: &mut Vec<Diff>) {
    let (al, ol) = (a.layout.as_ref().unwrap(), o.layout.as_ref().unwrap());
    // Our SBOM index names the index without the layout's `ref.name`s: the tarball's.
    let with_tar_index = |l: &Layout, t: &Tarball| {
        let mut names = l.names.clone();
        if let Some(hex) = &t.index_sha {
            names
                .entry(hex.clone())
                .or_insert_with(|| "index.json".into());
        }
        names
    };
    let an = with_tar_index(al, a.tarball.as_ref().unwrap());
    let on = with_tar_index(ol, o.tarball.as_ref().unwrap());
    let files: BTreeSet<&String> = a.sboms.keys().chain(o.sboms.keys()).collect();
    for f in files {
        let part = match f
            .strip_prefix("sbom-")
            .and_then(|s| s.strip_suffix(".spdx.json"))
        {
            Some("index") => format!("{case} sbom-index"),
            Some(arch) => format!("{case}/{arch} sbom"),
            None => format!("{case} {f}"),
        };
        let mut d = Diffs {
            prefix: part,
            out: &mut *out,
        };
        match (a.sboms.get(f), o.sboms.get(f)) {
            (Some(x), Some(y)) => compare_json(&spdx_model(x, &an), &spdx_model(y, &on), &mut d),
            (Some(_), None) => d.add("file only in apko", f.clone(), ""),
            (None, Some(_)) => d.add("file only in ours", "", f.clone()),
            (None, None) => {}
        }
    }
}

/// The last line of a log that says why it failed.
fn error_line(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .find(|l| l.starts_with("Error:"))
        .or(lines.last())
        .unwrap_or(&"")
        .to_string()
}

fn compare(case: &Case, a: &Outcome, o: &Outcome) -> Vec<Diff> {
    let mut out = Vec::new();
    let mut d = Diffs {
        prefix: format!("{} build", case.name),
        out: &mut out,
    };
    match (a.status == 0, o.status == 0) {
        (true, true) => {}
        (false, false) => {
            if a.status != o.status {
                d.add(
                    "exit code differs",
                    a.status.to_string(),
                    o.status.to_string(),
                );
            }
            d.add(
                "both refuse, error texts differ",
                error_line(&a.stderr),
                error_line(&o.stderr),
            );
            return out;
        }
        _ => {
            let who = if a.status != 0 { "apko" } else { "ours" };
            d.add(
                &format!("fails only in {who}"),
                format!("exit {}: {}", a.status, error_line(&a.stderr)),
                format!("exit {}: {}", o.status, error_line(&o.stderr)),
            );
            return out;
        }
    }
    let (al, ol) = (a.layout.as_ref().unwrap(), o.layout.as_ref().unwrap());
    compare_layouts(case.name, al, ol, &mut out);
    compare_tarballs(
        case.name,
        a.tarball.as_ref().unwrap(),
        al,
        o.tarball.as_ref().unwrap(),
        ol,
        &mut out,
    );
    compare_sboms(case.name, a, o, &mut out);
    out
}

// ---------------------------------------------------------------------------------------------
// The list of known differences.

struct Row {
    id: String,
    globs: Vec<String>,
    status: String,
}

/// The rows of the table in `docs/apko-differences.md`: `id | matches | status | reason`,
/// each glob of `matches` in backticks.
fn known_rows() -> Vec<Row> {
    let path = Path::new(ROOT).join("docs/apko-differences.md");
    let text = std::fs::read_to_string(&path).expect("docs/apko-differences.md");
    let mut rows = Vec::new();
    for line in text.lines() {
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        if !line.starts_with('|') || cells[0] == "id" || cells[0].starts_with("---") {
            continue;
        }
        assert_eq!(
            cells.len(),
            4,
            "a row needs 4 cells (no `|` inside): {line}"
        );
        let globs: Vec<String> = cells[1]
            .split('`')
            .skip(1)
            .step_by(2)
            .map(String::from)
            .collect();
        assert!(
            !globs.is_empty(),
            "row {} has no `glob` in matches",
            cells[0]
        );
        assert!(
            cells[2] == "intentional" || cells[2] == "open",
            "row {}: status must be intentional or open, not {}",
            cells[0],
            cells[2]
        );
        rows.push(Row {
            id: cells[0].to_string(),
            globs,
            status: cells[2].to_string(),
        });
    }
    assert!(!rows.is_empty(), "no rows in {}", path.display());
    let ids: BTreeSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), rows.len(), "row ids must be unique");
    rows
}

/// `*` matches any run of characters, `?` one; all else is literal.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

fn cell(s: &str) -> String {
    let s = s.replace('|', "\\|").replace('\n', "⏎");
    if s.chars().count() > 160 {
        format!("{}…", s.chars().take(160).collect::<String>())
    } else {
        s
    }
}

#[test]
fn real_apko_and_ours_build_the_corpus_alike_but_for_the_listed_differences() {
    let started = Instant::now();
    let rows = known_rows();
    let work = work_dir();
    let root = work.path();
    apko_test_support::peer("apko-go");

    // Build every (case, side) on two threads.
    let jobs: Vec<(usize, Side)> = (0..CASES.len())
        .flat_map(|i| [(i, Side::Apko), (i, Side::Ours)])
        .collect();
    let next = Mutex::new(0usize);
    let results: Mutex<BTreeMap<(usize, bool), Outcome>> = Mutex::new(BTreeMap::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let job = {
                        let mut n = next.lock().unwrap();
                        let j = jobs.get(*n).copied();
                        *n += 1;
                        j
                    };
                    let Some((i, side)) = job else { break };
                    let out = root.join("out").join(format!("{i}-{}", side.label()));
                    let outcome = build(side, &CASES[i], root, &out);
                    results
                        .lock()
                        .unwrap()
                        .insert((i, side == Side::Apko), outcome);
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    let built = started.elapsed();

    let mut table = String::from("| config | archs | differences | ids |\n|---|---|---|---|\n");
    let mut unexplained: Vec<Diff> = Vec::new();
    let mut hits = vec![0usize; rows.len()];
    let mut listing = String::new();
    for (i, case) in CASES.iter().enumerate() {
        let a = results.remove(&(i, true)).unwrap();
        let o = results.remove(&(i, false)).unwrap();
        let archs: Vec<String> = a
            .layout
            .as_ref()
            .or(o.layout.as_ref())
            .map(|l| l.images.iter().map(|im| im.arch.clone()).collect())
            .unwrap_or_default();
        // The comparator finds nothing between a build and itself.
        for (side, x) in [("apko", &a), ("ours", &o)]
            .into_iter()
            .filter(|(_, x)| x.status == 0)
        {
            let own = compare(case, x, x);
            assert!(
                own.is_empty(),
                "{}: {side}'s build differs from itself: {}",
                case.name,
                own[0].key
            );
        }
        let diffs = compare(case, &a, &o);
        let mut ids: BTreeMap<&str, usize> = BTreeMap::new();
        let mut unknown = 0;
        for diff in &diffs {
            match rows
                .iter()
                .position(|r| r.globs.iter().any(|g| glob(g, &diff.key)))
            {
                Some(r) => {
                    hits[r] += 1;
                    *ids.entry(rows[r].id.as_str()).or_insert(0) += 1;
                    listing.push_str(&format!(
                        "{}\t{}\t{}\t{}\n",
                        rows[r].id,
                        diff.key,
                        cell(&diff.apko),
                        cell(&diff.ours)
                    ));
                }
                None => {
                    unknown += 1;
                    unexplained.push(diff.clone());
                    listing.push_str(&format!(
                        "UNEXPLAINED\t{}\t{}\t{}\n",
                        diff.key,
                        cell(&diff.apko),
                        cell(&diff.ours)
                    ));
                }
            }
        }
        let mut id_list: Vec<String> = ids.iter().map(|(id, n)| format!("{id} ({n})")).collect();
        if unknown > 0 {
            id_list.push(format!("**unexplained ({unknown})**"));
        }
        table.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            case.name,
            if archs.is_empty() {
                "-".into()
            } else {
                archs.join(", ")
            },
            diffs.len(),
            id_list.join(", ")
        ));
    }
    let stale: Vec<&Row> = rows
        .iter()
        .zip(&hits)
        .filter(|(_, h)| **h == 0)
        .map(|(r, _)| r)
        .collect();
    let mut report = table.clone();
    report.push_str(&format!(
        "\nrows: {} ({} open, {} intentional); built in {:.1} s, compared in {:.1} s\n",
        rows.len(),
        rows.iter().filter(|r| r.status == "open").count(),
        rows.iter().filter(|r| r.status == "intentional").count(),
        built.as_secs_f64(),
        (started.elapsed() - built).as_secs_f64()
    ));
    if !unexplained.is_empty() {
        report.push_str("\n## Unexplained differences\n\n| key | apko | ours |\n|---|---|---|\n");
        for d in &unexplained {
            report.push_str(&format!(
                "| {} | {} | {} |\n",
                cell(&d.key),
                cell(&d.apko),
                cell(&d.ours)
            ));
        }
    }
    if !stale.is_empty() {
        report.push_str("\n## Stale rows (matched nothing)\n\n");
        for r in &stale {
            report.push_str(&format!("- {}: {}\n", r.id, r.globs.join(", ")));
        }
    }
    let dir = Path::new(ROOT).join("target/differential");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("table.md"), &report).unwrap();
    std::fs::write(dir.join("keys.tsv"), &listing).unwrap();
    println!("{report}");
    if std::env::var_os("DIFFERENTIAL_KEEP").is_some() {
        println!("kept the builds in {}", work.keep().display());
    }
    assert!(
        unexplained.is_empty() && stale.is_empty(),
        "{} unexplained differences and {} stale rows (see target/differential/table.md)",
        unexplained.len(),
        stale.len()
    );
}

#[test]
fn globs_match_whole_keys() {
    let key = "full/x86_64 layer: etc/apko.json only in apko";
    assert!(glob("* etc/apko.json only in apko", key));
    assert!(glob("*/* layer: etc/apko.json only in ap?o", key));
    assert!(glob("*", key));
    assert!(!glob("* etc/apko.json", key));
    assert!(!glob("etc/apko.json*", key));
    assert!(glob(
        "*/apk/db/installed record * differs",
        "a/b layer: usr/lib/apk/db/installed record x differs"
    ));
    assert!(!glob(
        "* blob: layer@*#* only in apko",
        "c blob: layer@x86_64 only in apko"
    ));
    assert!(glob(
        "* blob: layer@*#* only in apko",
        "c blob: layer@x86_64#1 only in apko"
    ));
}

#[test]
fn digests_become_the_names_of_their_blobs() {
    let hex = "ab".repeat(32);
    let names = BTreeMap::from([(hex.clone(), "layer@x86_64".to_string())]);
    assert_eq!(
        symbolize_str(
            &format!(
                "pkg:oci/x@sha256%3A{hex}?a SPDXRef-sha256-{hex} {}",
                "cd".repeat(32)
            ),
            &names
        ),
        "pkg:oci/x@sha256%3A<layer@x86_64>?a SPDXRef-sha256-<layer@x86_64> <sha256>"
    );
}
