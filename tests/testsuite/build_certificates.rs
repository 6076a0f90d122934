//! `certificates` in a config, as apko 1.2.39 installs them: the inline CA as
//! `usr/local/share/ca-certificates/<name>-<sha256>.crt`, then the providers' certificates under
//! `usr/local/share/ca-certificates/`, all of them appended to the bundle the image has, no
//! `etc/ca-certificates.conf`; a config that names a key instead of a certificate fails with
//! apko's error and writes nothing.

use crate::support::rootfs::{build_rootfs, files, minirootfs, ok, signed_repo};
use apko::apk::mkrepo::{FileSpec, PackageSpec};
use base64::Engine;
use sha2::{Digest, Sha256};
use std::path::Path;

const CA1: &str = include_str!("../fixtures/test-ca.pem");
const CA2: &str = include_str!("../fixtures/test-ca-2.pem");
use crate::support::TESTDATA;

fn fingerprint(pem: &str) -> String {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    hex::encode(Sha256::digest(der))
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("        {l}\n")).collect()
}

/// A signed repository with a CA bundle package and a package providing
/// `custom-ca-certificates` (a CA under usr/share, one under usr/local/share, and a `.pem`
/// that is not a certificate).
fn repo(dir: &Path) {
    let base = PackageSpec {
        version: "1.0-r0".into(),
        arch: "x86_64".into(),
        license: "MIT".into(),
        build_time: 1_700_000_000,
        ..PackageSpec::default()
    };
    let dirs = |paths: &[&str]| -> Vec<FileSpec> {
        paths
            .iter()
            .map(|p| FileSpec::Dir((*p).into(), 0o755))
            .collect()
    };
    let mut bundle = dirs(&["etc", "etc/ssl", "etc/ssl/certs"]);
    bundle.push(FileSpec::File(
        "etc/ssl/certs/ca-certificates.crt".into(),
        b"# the system roots\n".to_vec(),
        0o644,
    ));
    let mut corp = dirs(&[
        "usr",
        "usr/share",
        "usr/share/ca-certificates",
        "usr/share/ca-certificates/corp",
        "usr/local",
        "usr/local/share",
        "usr/local/share/ca-certificates",
    ]);
    corp.extend([
        FileSpec::File(
            "usr/share/ca-certificates/corp/corp-root.crt".into(),
            format!("subject=CN = apko-rs-test-ca\n{CA1}").into_bytes(),
            0o644,
        ),
        FileSpec::File(
            "usr/share/ca-certificates/corp/readme.pem".into(),
            b"not a certificate\n".to_vec(),
            0o644,
        ),
        FileSpec::File(
            "usr/local/share/ca-certificates/extra.crt".into(),
            CA2.as_bytes().to_vec(),
            0o644,
        ),
    ]);
    let packages = [
        PackageSpec {
            name: "ca-certificates-bundle".into(),
            files: bundle,
            ..base.clone()
        },
        PackageSpec {
            name: "corp-certs".into(),
            provides: vec!["custom-ca-certificates".into()],
            files: corp,
            ..base
        },
    ];
    signed_repo(dir, &packages);
}

#[test]
fn inline_and_provided_certificates_are_installed_as_apko_installs_them() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    repo(d);
    let files = build_rootfs(
        d,
        &format!(
            "contents:\n  keyring: [test.rsa.pub]\n  repositories: [./repo]\n  packages: [ca-certificates-bundle, corp-certs]\narchs: [x86_64]\ncertificates:\n  additional:\n    - name: inline-ca\n      content: |\n{}  providers: [custom-ca-certificates]\n",
            indent(&format!("Our CA, pasted with a comment line:\n{CA1}"))
        ),
    );

    // The inline certificate, re-encoded without the comment, named by its SHA-256.
    let inline = format!(
        "usr/local/share/ca-certificates/inline-ca-{}.crt",
        fingerprint(CA1)
    );
    assert_eq!(String::from_utf8_lossy(&files[&inline]), CA1);
    // apko 1.2.39 registers nothing for update-ca-certificates.
    assert!(!files.contains_key("etc/ca-certificates.conf"));
    // The bundle: what it held, the inline CA, then the providers' CAs under
    // usr/local/share/ca-certificates/ sorted by path, each followed by a newline; those
    // under usr/share/ca-certificates/ (corp-root.crt, readme.pem) are not apko's to add.
    assert_eq!(
        String::from_utf8_lossy(&files["etc/ssl/certs/ca-certificates.crt"]),
        format!("# the system roots\n{CA1}\n{CA2}\n")
    );
    // The packages' own files are untouched.
    assert_eq!(
        files["usr/share/ca-certificates/corp/corp-root.crt"],
        format!("subject=CN = apko-rs-test-ca\n{CA1}").into_bytes()
    );

    // A key pasted instead of a certificate: apko's error, and nothing written.
    std::fs::remove_file(d.join("rootfs.tar.gz")).unwrap();
    std::fs::write(
        d.join("bad.yaml"),
        "contents:\n  keyring: [test.rsa.pub]\n  repositories: [./repo]\n  packages: [ca-certificates-bundle]\narchs: [x86_64]\ncertificates:\n  additional:\n    - name: oops\n      content: |\n        -----BEGIN PRIVATE KEY-----\n        AAAA\n        -----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let out = minirootfs(d, "bad.yaml");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "failed to install certificates: failed to parse certificate oops: expected CERTIFICATE block, got PRIVATE KEY"
        ),
        "{stderr}"
    );
    assert!(!d.join("rootfs.tar.gz").exists());
}

#[test]
fn apkos_certificate_test_config_keeps_the_providers_files_and_creates_nothing() {
    // apko-certs.yaml: providers whose certificates live in usr/local/share and an image with
    // no bundle, so apko changes nothing; neither may we.
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::os::unix::fs::symlink(Path::new(TESTDATA).join("apko-cli"), d.join("testdata")).unwrap();
    ok(&minirootfs(d, "testdata/apko-certs.yaml"));
    let files = files(&std::fs::read(d.join("rootfs.tar.gz")).unwrap());
    let certs: Vec<&str> = files
        .keys()
        .filter(|p| p.contains("ca-certificates") || p.ends_with(".crt"))
        .map(String::as_str)
        .collect();
    assert_eq!(
        certs,
        [
            "usr/local/share/ca-certificates/cert-a.crt",
            "usr/local/share/ca-certificates/cert-b.crt",
            "usr/local/share/ca-certificates/cert-c.crt",
            "usr/local/share/ca-certificates/cert-d.crt",
        ]
    );
}
