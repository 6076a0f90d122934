//! Real indexes from ../shared/testdata: signatures (SHA-1, SHA-256, several keys), tampering,
//! and the whole Alpine 3.16 index.

use apko::apk::index::Index;
use apko::apk::keys::Keyring;
use std::path::Path;

use crate::support::TESTDATA;

fn data(rel: &str) -> Vec<u8> {
    std::fs::read(format!("{TESTDATA}/{rel}")).unwrap()
}

fn keyring(paths: &[&str]) -> Keyring {
    let mut ring = Keyring::new();
    for p in paths {
        ring.add_path(Path::new(&format!("{TESTDATA}/{p}")))
            .unwrap();
    }
    ring
}

#[test]
fn rsa256_signed_index_verifies() {
    let ring = keyring(&["apk/rsa256-signed/test-rsa256.rsa.pub"]);
    let index = Index::from_targz(
        &data("apk/rsa256-signed/APKINDEX.tar.gz"),
        Some(&ring),
        "idx",
    )
    .unwrap();
    assert_eq!(index.signed_by.as_deref(), Some("test-rsa256.rsa.pub"));
    assert_eq!(index.len(), 1);
    let p = index.get(0);
    assert_eq!(p.id(), "alpine-baselayout-3.2.0-r23");
}

#[test]
fn sha1_signed_index_verifies_with_its_second_key_only() {
    let path = "apko-cli/private_packages/packages/x86_64/APKINDEX.tar.gz";
    let ring = keyring(&[
        "apko-cli/melange.rsa.pub",
        "apko-cli/private_packages/private_pkg_key.rsa.pub",
    ]);
    let index = Index::from_targz(&data(path), Some(&ring), "private/x86_64").unwrap();
    assert_eq!(index.signed_by.as_deref(), Some("private_pkg_key.rsa.pub"));
    let names: Vec<String> = index.packages().map(|p| p.id()).collect();
    assert_eq!(names, ["package-y-1.0.0-r0", "package-x-1.0.0-r0"]);

    let ring = keyring(&["apko-cli/melange.rsa.pub"]);
    let err = Index::from_targz(&data(path), Some(&ring), "private/x86_64")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "private/x86_64 is signed by private_pkg_key.rsa.pub, which is not in the keyring (it has melange.rsa.pub); add that public key to contents.keyring (or -k/--keyring-append)"
    );
}

#[test]
fn index_signed_by_several_keys_verifies_with_any_of_them() {
    for key in std::fs::read_dir(format!("{TESTDATA}/apk/signing/keys")).unwrap() {
        let key = key.unwrap().path();
        let mut ring = Keyring::new();
        ring.add_path(&key).unwrap();
        let index = Index::from_targz(&data("apk/signing/APKINDEX.tar.gz"), Some(&ring), "signing")
            .unwrap();
        assert_eq!(
            index.signed_by.as_deref(),
            Some(key.file_name().unwrap().to_str().unwrap())
        );
    }
}

#[test]
fn tampered_index_is_refused() {
    let mut bytes = data("apko-cli/packages/x86_64/APKINDEX.tar.gz");
    // Inside the compressed index member, after the 650-byte signature member.
    bytes[700] ^= 0x01;
    let ring = keyring(&["apko-cli/melange.rsa.pub"]);
    let err = Index::from_targz(&bytes, Some(&ring), "packages/x86_64/APKINDEX.tar.gz")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "packages/x86_64/APKINDEX.tar.gz: the signature by melange.rsa.pub does not match its contents: the index was modified after it was signed (or the key file under that name is another key); refusing to use it"
    );
}

#[test]
fn unsigned_index_needs_ignore_signatures() {
    let bytes = data("apk/APKINDEX.tar.gz");
    let err = Index::from_targz(&bytes, Some(&Keyring::new()), "apk/APKINDEX.tar.gz")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "apk/APKINDEX.tar.gz is not signed; sign it (abuild-sign, melange sign-index) or build with --ignore-signatures"
    );
    let index = Index::from_targz(&bytes, None, "apk/APKINDEX.tar.gz").unwrap();
    assert!(!index.is_empty());
}

#[test]
fn whole_alpine_316_index() {
    let bytes = data("apk/alpine-316/APKINDEX.tar.gz");
    // The index is signed with Alpine's 6165ee59 key; the testdata ships only 4a6a0840.
    let ring = keyring(&["apk/alpine-316/alpine-devel@lists.alpinelinux.org-4a6a0840.rsa.pub"]);
    let err = Index::from_targz(&bytes, Some(&ring), "alpine-316")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "alpine-316 is signed by alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub, which is not in the keyring (it has alpine-devel@lists.alpinelinux.org-4a6a0840.rsa.pub); add that public key to contents.keyring (or -k/--keyring-append)"
    );
    let index = Index::from_targz(&bytes, None, "alpine-316").unwrap();
    assert_eq!(index.len(), 4929);
    assert_eq!(index.description, "v3.16.3-13-g4d933a1fa3");
    let musl = index.packages().find(|p| p.name() == "musl").unwrap();
    assert!(
        musl.provides()
            .any(|p| p.starts_with("so:libc.musl-x86_64.so.1="))
    );
    assert_eq!((musl.arch(), musl.version()), ("x86_64", "1.2.3-r2"));
    assert!(musl.checksum().starts_with("Q1"));
}
