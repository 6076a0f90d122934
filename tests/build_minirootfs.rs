//! `apko build-minirootfs`: the tarball is the layer `apko build` writes for the same config
//! and architecture, byte for byte; `--build-arch` picks the architecture; a base-image
//! config and a directory as OUTPUT are refused and nothing is written.

use std::path::Path;

mod rootfs_common;

use rootfs_common::{apko, files, ok};

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/testdata");
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

#[test]
fn the_rootfs_is_the_layer_apko_build_writes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root = Path::new(ROOT);
    let rootfs = d.join("rootfs.tar.gz");
    let log = ok(&apko(
        root,
        &[
            "build-minirootfs",
            "examples/hello/apko.yaml",
            rootfs.to_str().unwrap(),
            "--build-arch",
            "x86_64",
        ],
    ));
    assert!(
        log.contains(" WARN ignoring archs in config, only building for amd64\n"),
        "{log}"
    );
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
    let written = std::fs::read(&rootfs).unwrap();
    assert!(written == layout_layer(&d.join("oci")));
    let files = files(&written);
    assert!(files.contains_key("usr/bin/hello"), "{:?}", files.keys());
    assert_eq!(files["etc/apk/arch"], b"x86_64\n");
    let mode = std::fs::metadata(&rootfs).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o644
    );
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
    // The image's SBOM, byte for byte (the rootfs is named as the image is).
    assert!(
        std::fs::read(d.join("sbom-rootfs/sbom-x86_64.spdx.json")).unwrap()
            == std::fs::read(d.join("sbom-build/sbom-x86_64.spdx.json")).unwrap()
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
