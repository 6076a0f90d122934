//! `apko build-minirootfs` and `build-cpio`: byte for byte what real apko 1.2 writes; a `.gz` rootfs is the layer `apko build` writes (unlocked) for the same config
//! and architecture, byte for byte; `--build-arch` picks the architecture; a base-image
//! config and a directory as OUTPUT are refused and nothing is written.

use std::path::Path;

use crate::support::rootfs::{apko, files, ok};

use crate::support::TESTDATA;
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The layer of the only image in the OCI layout at `dir`.
fn layout_layer(dir: &Path) -> Vec<u8> {
    let blob = |digest: &str| dir.join("blobs/sha256").join(&digest["sha256:".len()..]);
    let index = json(&dir.join("index.json"));
    let manifest = json(&blob(index["manifests"][0]["digest"].as_str().unwrap()));
    std::fs::read(blob(manifest["layers"][0]["digest"].as_str().unwrap())).unwrap()
}

/// Runs real apko 1.2 (`tests/peers.sh`) in `dir`.
fn real_apko(dir: &Path, args: &[&str]) -> std::process::Output {
    let home = tempfile::tempdir().unwrap();
    std::process::Command::new(crate::support::peer("apko-go"))
        .current_dir(dir)
        .args(args)
        .env("HOME", home.path())
        .env("DOCKER_CONFIG", "/nonexistent-apko-test")
        .output()
        .unwrap()
}

#[test]
fn the_rootfs_and_the_cpio_archive_are_the_bytes_real_apko_writes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root = Path::new(ROOT);
    let config = "examples/hello/apko.yaml";
    let path = |name: &str| d.join(name).to_str().unwrap().to_string();
    for (command, name) in [
        ("build-minirootfs", "rootfs.tar"),
        ("build-cpio", "initrd.cpio"),
        ("build-cpio", "initrd.cpio.gz"),
    ] {
        let ours = path(&format!("ours-{name}"));
        let theirs = path(&format!("theirs-{name}"));
        let log = ok(&apko(
            root,
            &[command, config, &ours, "--build-arch", "x86_64"],
        ));
        assert!(
            log.contains(" WARN ignoring archs in config, only building for amd64\n"),
            "{log}"
        );
        ok(&real_apko(
            root,
            &[command, config, &theirs, "--build-arch", "amd64"],
        ));
        let read = |p: &str| {
            let bytes = std::fs::read(p).unwrap();
            if p.ends_with(".gz") {
                let mut out = Vec::new();
                std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut out)
                    .unwrap();
                out
            } else {
                bytes
            }
        };
        // Byte for byte (a .gz after inflating: Go's deflate and ours emit other streams).
        assert!(
            read(&ours) == read(&theirs),
            "{command} {name} differs from real apko's"
        );
        let mode = std::fs::metadata(&ours).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o644
        );
    }
    let cpio = std::fs::read(path("ours-initrd.cpio")).unwrap();
    assert!(cpio.starts_with(b"070701"));
    assert!(cpio.windows(11).any(|w| w == b"TRAILER!!!\0"));
}

#[test]
fn a_gz_rootfs_is_the_layer_apko_build_writes_but_unlocked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root = Path::new(ROOT);
    let rootfs = d.join("rootfs.tar.gz");
    ok(&apko(
        root,
        &[
            "build-minirootfs",
            "examples/hello/apko.yaml",
            rootfs.to_str().unwrap(),
        ],
    ));
    std::fs::create_dir(d.join("oci")).unwrap();
    ok(&apko(
        root,
        &[
            "build",
            "examples/hello/apko.yaml",
            "hello:1",
            d.join("oci").to_str().unwrap(),
            "--sbom=false",
        ],
    ));
    let ours = files(&std::fs::read(&rootfs).unwrap());
    let built = files(&layout_layer(&d.join("oci")));
    assert!(ours.contains_key("usr/bin/hello"), "{:?}", ours.keys());
    assert_eq!(ours["etc/apk/arch"], b"x86_64\n");
    // `build` locks the configuration first; build-minirootfs, as apko's, does not.
    assert_eq!(ours["etc/apk/world"], b"hello\n");
    assert_eq!(built["etc/apk/world"], b"busybox=1.35.0-r4\nhello=1.0-r0\n");
    let differing: Vec<&String> = ours
        .keys()
        .filter(|k| built.get(*k) != ours.get(*k))
        .collect();
    assert_eq!(differing, ["etc/apk/world", "etc/apko.json"]);
    assert_eq!(ours.len(), built.len());
}

#[test]
fn build_arch_picks_the_architecture() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::os::unix::fs::symlink(format!("{TESTDATA}/apko-cli"), d.join("testdata")).unwrap();
    ok(&apko(
        d,
        &[
            "build-minirootfs",
            "testdata/apko.yaml",
            "arm.tar.gz",
            "--build-arch",
            "aarch64",
        ],
    ));
    let files = files(&std::fs::read(d.join("arm.tar.gz")).unwrap());
    assert_eq!(files["etc/apk/arch"], b"aarch64\n");
    let installed = String::from_utf8_lossy(&files["usr/lib/apk/db/installed"]).into_owned();
    assert_eq!(installed.matches("\nA:aarch64\n").count(), 2, "{installed}");
}

#[test]
fn refusals_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::os::unix::fs::symlink(format!("{TESTDATA}/apko-cli"), d.join("testdata")).unwrap();
    let out = apko(
        d,
        &[
            "build-minirootfs",
            "testdata/image_on_top.apko.yaml",
            "top.tar.gz",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error: build-minirootfs writes a whole root filesystem from packages; testdata/image_on_top.apko.yaml builds on a base image (contents.baseimage): use `apko build`\n"
    );
    assert!(!d.join("top.tar.gz").exists());

    std::fs::create_dir(d.join("out")).unwrap();
    let out = apko(d, &["build-minirootfs", "testdata/apko.yaml", "out"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error: out is a directory; name the .tar.gz to write\n"
    );
    assert_eq!(std::fs::read_dir(d.join("out")).unwrap().count(), 0);
}

#[test]
fn sbom_path_writes_the_sbom_apko_build_writes_for_that_architecture() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root = Path::new(ROOT);
    for sub in ["sbom-rootfs", "sbom-build", "oci"] {
        std::fs::create_dir(d.join(sub)).unwrap();
    }
    let rootfs = d.join("hello.tar.gz");
    ok(&apko(
        root,
        &[
            "build-minirootfs",
            "examples/hello/apko.yaml",
            rootfs.to_str().unwrap(),
            "--sbom-path",
            d.join("sbom-rootfs").to_str().unwrap(),
        ],
    ));
    ok(&apko(
        root,
        &[
            "build",
            "examples/hello/apko.yaml",
            "hello:1",
            d.join("oci").to_str().unwrap(),
            "--sbom-path",
            d.join("sbom-build").to_str().unwrap(),
        ],
    ));
    let names = |sub: &str| {
        let mut n: Vec<String> = std::fs::read_dir(d.join(sub))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    };
    assert_eq!(names("sbom-rootfs"), ["sbom-x86_64.spdx.json"]);
    // The image's SBOM: the same packages; it describes this rootfs (the layer, by digest).
    let sbom = |p: &str| json(&d.join(p));
    let packages = |doc: &serde_json::Value| {
        let mut v: Vec<(String, String)> = doc["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_string(),
                    p["versionInfo"].as_str().unwrap_or_default().to_string(),
                )
            })
            .filter(|(n, _)| !n.starts_with("sha256:"))
            .collect();
        v.sort();
        v
    };
    let ours = sbom("sbom-rootfs/sbom-x86_64.spdx.json");
    let built = sbom("sbom-build/sbom-x86_64.spdx.json");
    assert_eq!(packages(&ours), packages(&built));
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(std::fs::read(&rootfs).unwrap()))
    };
    assert!(
        ours.to_string().contains(&digest),
        "the SBOM names the layer sha256:{digest}"
    );

    // A missing directory is refused before anything is built.
    let missing = d.join("nope");
    let out = apko(
        root,
        &[
            "build-minirootfs",
            "examples/hello/apko.yaml",
            d.join("other.tar.gz").to_str().unwrap(),
            "--sbom-path",
            missing.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).lines().last().unwrap(),
        format!(
            "Error: --sbom-path {}: no such directory; create it first (apko does not)",
            missing.display()
        )
    );
    assert!(!d.join("other.tar.gz").exists());
}
