//! `apko build` on real apko configs and repositories (shared testdata) and on the bundled
//! example: what the image holds against the layer real apko built from the same config
//! (`base_image/`, from `base_image.apko.yaml`, two repositories signed by two keys), a build
//! on top of that base image with its lockfile, and the example run by podman.

use crate::support::require;
use apko::fs::{Entry, Kind, Tree};
use apko::image::base::unpack_tar;
use apko::image::config::Arch;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::TESTDATA;

fn apko(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_apko"));
    c.current_dir(dir)
        .env("SOURCE_DATE_EPOCH", "0")
        .env("DOCKER_CONFIG", "/nonexistent-apko-test")
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR");
    c
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A temp dir where `testdata` → shared `apko-cli`, as apko's own tests ran.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(format!("{TESTDATA}/apko-cli"), dir.path().join("testdata"))
        .unwrap();
    dir
}

/// The images of a docker tarball: (RepoTag, config JSON, layer trees bottom first).
fn read_tarball(path: &Path) -> Vec<(String, serde_json::Value, Vec<Tree>)> {
    let mut files = BTreeMap::new();
    let mut archive = tar::Archive::new(std::fs::File::open(path).unwrap());
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        files.insert(name, data);
    }
    let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    manifest
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let config = serde_json::from_slice(&files[m["Config"].as_str().unwrap()]).unwrap();
            let layers = m["Layers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| {
                    let mut raw = Vec::new();
                    flate2::read::GzDecoder::new(&files[l.as_str().unwrap()][..])
                        .read_to_end(&mut raw)
                        .unwrap();
                    let mut t = Tree::new();
                    unpack_tar(&raw, &mut t).unwrap();
                    t
                })
                .collect();
            (
                m["RepoTags"][0].as_str().unwrap().to_string(),
                config,
                layers,
            )
        })
        .collect()
}

/// apko's own layer for `arch` in the base_image layout.
fn apkos_layer(arch: &str) -> Tree {
    let base = apko::image::base::BaseImage::open(
        &PathBuf::from(TESTDATA).join("apko-cli/base_image"),
        &Arch::parse(arch),
    )
    .unwrap();
    let mut t = Tree::new();
    base.unpack(&mut t).unwrap();
    t
}

fn data(e: &Entry) -> &[u8] {
    match &e.kind {
        Kind::File(d) => d,
        k => panic!("not a file: {k:?}"),
    }
}

#[test]
fn base_image_config_builds_what_apko_built() {
    // base_image.apko.yaml: two repositories, the second signed with private_pkg_key
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("out.tar");
    let o = apko(&PathBuf::from(TESTDATA).join("apko-cli"))
        .args(["build", "base_image.apko.yaml", "base:test"])
        .arg(&out)
        .arg("--sbom=false") // the working directory is the shared testdata
        .output()
        .unwrap();
    ok(&o, "apko build base_image.apko.yaml");
    let images = read_tarball(&out);
    assert_eq!(images.len(), 2);
    for ((tag, config, layers), arch) in images.iter().zip(["amd64", "arm64"]) {
        assert_eq!(tag, &format!("index.docker.io/library/base:test-{arch}"));
        assert_eq!(config["architecture"], arch);
        assert_eq!(
            config["config"]["Entrypoint"],
            serde_json::json!(["/bin/sh", "-l"])
        );
        let ours = &layers[0];
        let theirs = apkos_layer(arch);
        // everything apko wrote outside apk's database directory (newer apk moved it to
        // usr/lib/apk/db) is here, same kind, mode and contents
        for (path, e) in theirs.iter() {
            if path == "lib/apk" || path.starts_with("lib/apk/") {
                continue;
            }
            let mine = ours
                .get(path)
                .unwrap_or_else(|| panic!("{arch}: /{path} missing"));
            assert_eq!(
                std::mem::discriminant(&mine.kind),
                std::mem::discriminant(&e.kind),
                "{arch}: /{path}"
            );
            assert_eq!(mine.mode, e.mode, "{arch}: mode of /{path}");
            // etc/apk/world: apko 1.2 pins every installed package there; the older apko
            // that built base_image/ wrote the config's `package-y` (checked below)
            if let Kind::File(_) = e.kind
                && !path.starts_with("var/lib/db/sbom/")
                && path != "etc/apk/arch"
                && path != "etc/apk/world"
            {
                assert_eq!(data(mine), data(e), "{arch}: /{path}");
            }
            if let Kind::CharDevice(..) = e.kind {
                assert_eq!(mine.kind, e.kind, "{arch}: /{path}");
            }
        }
        assert_eq!(data(ours.get("x/hello.txt").unwrap()), b"HELLO\n");
        // apko 1.2.39 writes package files as root's (its tarfs never takes the tar header's
        // owner; package-x was built on a Mac as 501:20) while the installed database keeps
        // the package's owner
        for path in ["x", "x/hello.txt", "var/lib/db/sbom", "etc/os-release"] {
            let e = ours.get(path).unwrap();
            assert_eq!((e.uid, e.gid), (0, 0), "{arch}: owner of /{path}");
        }
        let db = String::from_utf8(data(ours.get("usr/lib/apk/db/installed").unwrap()).to_vec())
            .unwrap();
        assert!(
            db.contains("F:x\nM:501:20:0755\nR:hello.txt\na:501:20:0644\n"),
            "{arch}: {db}"
        );
        assert_eq!(data(theirs.get("etc/apk/world").unwrap()), b"package-y\n");
        assert_eq!(
            data(ours.get("etc/apk/world").unwrap()),
            b"package-x=1.0.0-r0\npackage-y=1.0.0-r0\npretend-baselayout=1.0.0-r0\n"
        );
    }
}

#[test]
fn apko_yaml_builds_both_architectures_into_a_valid_layout() {
    let tool = require("oci-image-tool", "oci-image-tool");
    let dir = workdir();
    std::fs::create_dir(dir.path().join("oci")).unwrap();
    ok(
        &apko(dir.path())
            .args(["build", "testdata/apko.yaml", "apko-test:1", "oci"])
            .output()
            .unwrap(),
        "apko build apko.yaml",
    );
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("oci/index.json")).unwrap()).unwrap();
    let archs: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().unwrap())
        .collect();
    assert_eq!(archs, ["amd64", "arm64"]);
    assert_eq!(
        index["annotations"]["org.opencontainers.image.created"],
        "1970-01-01T00:00:00Z"
    );
    for name in ["1-amd64", "1-arm64"] {
        let out = Command::new(&tool)
            .args(["validate", "--type", "image", "--ref"])
            .arg(format!("name={name}"))
            .arg(dir.path().join("oci"))
            .output()
            .unwrap();
        assert!(ok(&out, "oci-image-tool").contains("Validation succeeded"));
    }
}

#[test]
fn image_on_top_keeps_apkos_base_layer_and_adds_replayout() {
    let dir = workdir();
    ok(
        &apko(dir.path())
            .args([
                "build",
                "testdata/image_on_top.apko.yaml",
                "ontop:1",
                "out.tar",
                "--lockfile",
                "testdata/image_on_top.apko.lock.json",
            ])
            .output()
            .unwrap(),
        "apko build image_on_top.apko.yaml",
    );
    let images = read_tarball(&dir.path().join("out.tar"));
    for ((_, config, layers), (arch, base_diff_id)) in images.iter().zip([
        (
            "amd64",
            "sha256:783b8b05724ae7998917558527ef930f1442af2f071850913fc406992e44606c",
        ),
        (
            "arm64",
            "sha256:2888aac57b90cf66093aa48092bf1f1f1b1bdb85bde8601a5f8cf0f06c814763",
        ),
    ]) {
        assert_eq!(config["architecture"], arch);
        assert_eq!(layers.len(), 2, "{arch}");
        assert_eq!(config["rootfs"]["diff_ids"][0], base_diff_id, "{arch}");
        // inherited from the base image's config
        assert_eq!(
            config["config"]["Entrypoint"],
            serde_json::json!(["/bin/sh", "-l"])
        );
        assert_eq!(config["history"].as_array().unwrap().len(), 2);
        let top = &layers[1];
        assert!(
            String::from_utf8_lossy(data(top.get("etc/os-release").unwrap()))
                .starts_with("ID=replaces\n"),
            "{arch}"
        );
        // the base's files that did not change are not repeated
        assert!(top.get("x/hello.txt").is_none() && top.get("dev/null").is_none());
    }
}

#[test]
fn the_readme_example_builds_and_runs_in_podman() {
    if Arch::host().as_str() != "amd64" {
        return; // the example repository is x86_64
    }
    let podman = require("podman", "podman");
    require("runc", "runc");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let tarball = dir.path().join("hello.tar");
    let mut cmd = apko(&root);
    cmd.env_remove("SOURCE_DATE_EPOCH")
        .args(["build", "examples/hello/apko.yaml", "hello:latest"])
        .arg(&tarball)
        .arg("--sbom-path")
        .arg(dir.path());
    ok(&cmd.output().unwrap(), "apko build examples/hello");
    let d = dir.path();
    std::fs::write(
        d.join("containers.conf"),
        "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1000:1000\"]\n[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        Command::new(&podman)
            .env("CONTAINERS_CONF", d.join("containers.conf"))
            .env("HOME", d)
            .env_remove("XDG_RUNTIME_DIR")
            .arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("runroot"))
            .arg("--tmpdir")
            .arg(d.join("tmp"))
            .args(["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs"])
            .args(args)
            .output()
            .unwrap()
    };
    let loaded = ok(
        &run(&["load", "-i", tarball.to_str().unwrap()]),
        "podman load",
    );
    assert!(loaded.contains("hello:latest-amd64"), "{loaded}");
    let out = run(&["run", "--rm", "--network=none", "hello:latest-amd64"]);
    let _ = run(&["system", "reset", "--force"]);
    assert_eq!(ok(&out, "podman run"), "hello from apko-rs\n");
}

/// tests/fixtures/apk_repo_server.py over the example, requiring Basic auth.
struct RepoServer {
    child: std::process::Child,
    host: String,
}

impl RepoServer {
    fn start(password: &str) -> RepoServer {
        use std::io::BufRead;
        let root = env!("CARGO_MANIFEST_DIR");
        let mut child = Command::new(require("python3", "python3"))
            .arg(format!("{root}/tests/fixtures/apk_repo_server.py"))
            .arg(format!("{root}/examples/hello"))
            .env("APK_TEST_USER", "ci")
            .env("APK_TEST_PASSWORD", password)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line.trim().parse().expect("the server prints its port");
        RepoServer {
            child,
            host: format!("127.0.0.1:{port}"),
        }
    }
}

impl Drop for RepoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn apko_build_fetches_a_private_http_repository_with_auth_file_credentials() {
    if Arch::host().as_str() != "amd64" {
        return; // the example repository is x86_64
    }
    let server = RepoServer::start("pw-for-ci");
    let dir = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    std::fs::write(
        dir.path().join("apko.yaml"),
        format!(
            "contents:\n  keyring: [{root}/examples/hello/apko-rs-example.rsa.pub]\n  repositories: [http://{}/repo]\n  packages: [hello]\narchs: [x86_64]\n",
            server.host
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("auth.txt"),
        format!("{}=ci:pw-for-ci\n", server.host),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("wrong.txt"),
        format!("{}=ci:not-the-password\n", server.host),
    )
    .unwrap();
    let build = |auth: &str, out: &str| {
        apko(dir.path())
            .env("XDG_CACHE_HOME", dir.path().join("cache"))
            .args(["build", "apko.yaml", "private:1", out, "--auth-file", auth])
            .output()
            .unwrap()
    };
    ok(&build("auth.txt", "ok.tar"), "apko build with --auth-file");
    let images = read_tarball(&dir.path().join("ok.tar"));
    let layer = &images[0].2[0];
    assert!(layer.get("usr/bin/hello").is_some());
    // the repository is written into the image as configured (no credentials were in it)
    assert_eq!(
        data(layer.get("etc/apk/repositories").unwrap()),
        format!("http://{}/repo\n", server.host).as_bytes()
    );

    let out = build("wrong.txt", "bad.tar");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&server.host), "{err}");
    assert!(
        err.contains("--auth-file"),
        "the error names the credential source: {err}"
    );
    assert!(!err.contains("not-the-password"), "{err}");
    assert!(!dir.path().join("bad.tar").exists());
}
