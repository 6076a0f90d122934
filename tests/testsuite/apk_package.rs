//! Real `.apk` files from abuild and melange: metadata, checksums, scripts and data entries.

use apko::apk::package::{ApkFile, EntryKind};
use apko::apk::session::open_local;
use std::path::Path;

use crate::support::TESTDATA;

fn open(rel: &str) -> ApkFile {
    open_local(Path::new(&format!("{TESTDATA}/{rel}"))).unwrap()
}

#[test]
fn alpine_package_from_abuild() {
    let apk = open("apk/alpine-316/alpine-baselayout-3.2.0-r23.apk");
    let p = &apk.package;
    assert_eq!(
        (p.name.as_str(), p.version.as_str(), p.arch.as_str()),
        ("alpine-baselayout", "3.2.0-r23", "aarch64")
    );
    assert_eq!(
        p.depends,
        [
            "alpine-baselayout-data=3.2.0-r23",
            "/bin/sh",
            "so:libc.musl-aarch64.so.1"
        ]
    );
    assert_eq!(p.provides, ["cmd:mkmntdirs=3.2.0-r23"]);
    assert_eq!(p.size, 11012);
    let scripts: Vec<String> = apk
        .scripts()
        .iter()
        .map(|(h, _)| String::from_utf8_lossy(&h.path_bytes()).into_owned())
        .collect();
    assert_eq!(
        scripts,
        [
            ".pre-install",
            ".pre-upgrade",
            ".post-upgrade",
            ".post-install"
        ]
    );
    let mut entries = Vec::new();
    apk.for_each_entry(|e| {
        entries.push(e);
        Ok(())
    })
    .unwrap();
    let crontab = entries
        .iter()
        .find(|e| e.path == "etc/crontabs/root")
        .unwrap();
    assert_eq!(crontab.mode, 0o600);
    assert_eq!(
        crontab.checksum.as_deref(),
        Some("Q1vfk1apUWI4yLJGhhNRd0kJixfvY=")
    );
    assert!(matches!(&crontab.kind, EntryKind::File(d) if d.len() == 283));
    assert!(
        entries
            .iter()
            .any(|e| e.path == "dev/pts/" && e.kind == EntryKind::Dir)
    );
    assert!(
        entries
            .iter()
            .any(|e| matches!(e.kind, EntryKind::Symlink(_)))
    );
}

#[test]
fn melange_packages() {
    let apk = open("apk/hello-wolfi-2.12.1-r0.apk");
    assert_eq!(apk.package.build_time, 12345678);
    assert_eq!(apk.package.provides, ["cmd:hello=2.12.1-r0"]);
    let mut files = 0;
    apk.for_each_entry(|e| {
        if let EntryKind::File(data) = &e.kind {
            files += 1;
            assert_eq!(e.mtime, 12345678);
            if e.path == "usr/bin/hello" {
                assert_eq!((data.len(), e.mode), (47736, 0o755));
            }
        }
        Ok(())
    })
    .unwrap();
    assert!(files > 10);
    let apk = open("apk/replaces/replaces-0.0.1-r0.apk");
    assert_eq!(apk.package.replaces, ["foo", "bar"]);
}

#[test]
fn control_checksum_must_match_the_index() {
    let path = format!("{TESTDATA}/apko-cli/packages/x86_64/replayout-1.0.0-r0.apk");
    let bytes = std::fs::read(&path).unwrap();
    let apk = ApkFile::open(
        bytes.clone(),
        Some("Q11/HhSewwwOXgl0r0ffb0O0BRtYc="),
        "replayout",
    )
    .unwrap();
    assert_eq!(apk.package.checksum, "Q11/HhSewwwOXgl0r0ffb0O0BRtYc=");
    let err = ApkFile::open(bytes, Some("Q1m6wB0UFePGN8Drz82pC8y2uAiu8="), "replayout")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "package replayout: its control section's checksum is Q11/HhSewwwOXgl0r0ffb0O0BRtYc= but the index says Q1m6wB0UFePGN8Drz82pC8y2uAiu8=: the package was modified or replaced after the index was signed; refusing to install it"
    );
}

#[test]
fn owners_modes_xattrs_and_links_go_into_the_tree_and_database() {
    use apko::apk::install::Installer;
    use apko::apk::sign::{cut_tar, gzip};
    use apko::fs::{Kind, Tree};

    let mut data = tar::Builder::new(Vec::new());
    let mut add = |path: &str,
                   kind: tar::EntryType,
                   mode: u32,
                   body: &[u8],
                   link: Option<&str>,
                   pax: &[(&str, &[u8])]| {
        if !pax.is_empty() {
            data.append_pax_extensions(pax.iter().copied()).unwrap();
        }
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(1000);
        h.set_gid(1001);
        h.set_mtime(42);
        h.set_size(body.len() as u64);
        match link {
            Some(target) => data.append_link(&mut h, path, target).unwrap(),
            None => data.append_data(&mut h, path, body).unwrap(),
        }
    };
    add("usr/", tar::EntryType::Directory, 0o755, b"", None, &[]);
    add("usr/bin/", tar::EntryType::Directory, 0o750, b"", None, &[]);
    add(
        "usr/bin/ping",
        tar::EntryType::Regular,
        0o4755,
        b"#!/bin/sh\n",
        None,
        &[
            ("SCHILY.xattr.security.capability", b"\x01\x00\x00\x02"),
            (
                "APK-TOOLS.checksum.SHA1",
                b"0123456789abcdef0123456789abcdef01234567",
            ),
        ],
    );
    add(
        "usr/bin/ping6",
        tar::EntryType::Link,
        0o4755,
        b"",
        Some("usr/bin/ping"),
        &[],
    );
    add(
        "usr/bin/p",
        tar::EntryType::Symlink,
        0o777,
        b"",
        Some("ping"),
        &[],
    );
    let data = gzip(&data.into_inner().unwrap());
    let info = "pkgname = iputils\npkgver = 1-r0\narch = x86_64\n";
    let control = gzip(&cut_tar(&[(".PKGINFO", info.as_bytes(), 0o644)], 0));
    let apk = ApkFile::open([control, data].concat(), None, "iputils").unwrap();

    let mut tree = Tree::new();
    let mut installer = Installer::new(&tree, 7);
    installer.add(&mut tree, &apk).unwrap();
    installer.finish(&mut tree).unwrap();
    let ping = tree.get("usr/bin/ping").unwrap();
    assert_eq!(
        (ping.mode, ping.uid, ping.gid, ping.mtime),
        (0o4755, 1000, 1001, 42)
    );
    assert_eq!(ping.xattrs["security.capability"], b"\x01\x00\x00\x02");
    assert_eq!(
        tree.get("usr/bin/ping6").unwrap().kind,
        Kind::Hardlink("usr/bin/ping".into())
    );
    assert_eq!(
        tree.get("usr/bin/p").unwrap().kind,
        Kind::Symlink("ping".into())
    );
    assert_eq!(tree.get("usr/bin").unwrap().mode, 0o750);
    let Kind::File(db) = &tree.get("usr/lib/apk/db/installed").unwrap().kind else {
        panic!()
    };
    let db = String::from_utf8(db.to_vec()).unwrap();
    let files = db
        .split_once(&format!("C:{}\n", apk.package.checksum))
        .unwrap()
        .1;
    assert_eq!(
        files,
        "F:usr\nM:1000:1001:0755\nF:usr/bin\nM:1000:1001:0750\nR:p\na:1000:1001:0777\nR:ping\na:1000:1001:4755\nZ:Q1ASNFZ4mrze8BI0VniavN7wEjRWc=\nR:ping6\na:1000:1001:4755\n\n"
    );
}

#[test]
fn scripts_go_into_scripts_tar_as_apk_names_them() {
    use apko::apk::install::Installer;
    use apko::fs::{Kind, Tree};
    use std::io::Read;

    let apk = open("apk/alpine-316/alpine-baselayout-3.2.0-r23.apk");
    let mut tree = Tree::new();
    let mut installer = Installer::new(&tree, 1_700_000_000);
    installer.add(&mut tree, &apk).unwrap();
    installer.finish(&mut tree).unwrap();
    let Kind::File(scripts) = &tree.get("usr/lib/apk/db/scripts.tar").unwrap().kind else {
        panic!()
    };
    assert!(scripts.ends_with(&[0u8; 1024]));
    let mut archive = tar::Archive::new(&scripts[..]);
    let mut got = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let h = entry.header().clone();
        let mut body = Vec::new();
        entry.read_to_end(&mut body).unwrap();
        got.push((
            entry.path().unwrap().to_string_lossy().into_owned(),
            h.mode().unwrap(),
            h.mtime().unwrap(),
            body.len(),
        ));
    }
    let c = &apk.package.checksum;
    assert_eq!(
        got,
        [
            (
                format!("alpine-baselayout-3.2.0-r23.{c}.pre-install"),
                0o755,
                1_700_000_000,
                56
            ),
            (
                format!("alpine-baselayout-3.2.0-r23.{c}.pre-upgrade"),
                0o755,
                1_700_000_000,
                755
            ),
            (
                format!("alpine-baselayout-3.2.0-r23.{c}.post-upgrade"),
                0o755,
                1_700_000_000,
                983
            ),
            (
                format!("alpine-baselayout-3.2.0-r23.{c}.post-install"),
                0o755,
                1_700_000_000,
                983
            ),
        ]
    );
}
