//! Installing apko's real test repositories into a tree, compared with what real apko wrote
//! (the layer of ../shared/testdata/apko-cli/base_image, built from base_image.apko.yaml).

use apko::apk::{InstallRequest, install};
use apko::auth::Resolver;
use apko::fs::{Kind, Tree};
use std::io::Read;

use crate::support::TESTDATA;

fn cli(rel: &str) -> String {
    format!("{TESTDATA}/apko-cli/{rel}")
}

fn request<'a>(resolver: &'a Resolver, packages: &[&str]) -> InstallRequest<'a> {
    InstallRequest {
        repositories: vec![cli("packages"), cli("private_packages/packages")],
        build_repositories: vec![],
        keyring: vec![
            cli("melange.rsa.pub"),
            cli("private_packages/private_pkg_key.rsa.pub"),
        ],
        packages: packages.iter().map(|s| s.to_string()).collect(),
        arch: "x86_64".into(),
        ignore_signatures: false,
        cache_dir: None,
        offline: false,
        build_time: 0,
        resolver,
        ca_certificates: vec![],
    }
}

/// The records of `names`, with the values that differ between two builds of the same
/// package (sizes, checksums) masked.
fn records(db: &str, names: &[&str]) -> Vec<String> {
    db.split("\n\n")
        .filter(|r| names.iter().any(|n| r.starts_with(&format!("P:{n}\n"))))
        .map(|r| {
            r.lines()
                .map(|l| match l.split_at_checked(2) {
                    Some((k @ ("S:" | "I:" | "C:" | "Z:"), _)) => format!("{k}*"),
                    _ => l.to_string(),
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect()
}

/// A file of the x86_64 layer apko built for base_image.apko.yaml.
fn apko_layer_file(path: &str) -> Vec<u8> {
    let layer = std::fs::read(cli(
        "base_image/blobs/sha256/bf74ddaf55d32ec9672a0a40efc6cb1bf0a167763c18fc22586c8a301167822f",
    ))
    .unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&layer[..]));
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().to_str() == Some(path) {
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            return data;
        }
    }
    panic!("{path} is not in apko's layer");
}

fn file(tree: &Tree, path: &str) -> Vec<u8> {
    match &tree
        .get(path)
        .unwrap_or_else(|| panic!("{path} missing"))
        .kind
    {
        Kind::File(data) => data.to_vec(),
        other => panic!("{path} is {other:?}"),
    }
}

#[tokio::test]
async fn private_repository_with_second_key_matches_apko() {
    let resolver = Resolver::new(None, vec![], vec![]).unwrap();
    let mut tree = Tree::new();
    let got = install(&request(&resolver, &["package-y"]), &mut tree)
        .await
        .unwrap();
    let names: Vec<(&str, &str)> = got
        .iter()
        .map(|p| (p.name.as_str(), p.checksum.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("pretend-baselayout", "Q1m6wB0UFePGN8Drz82pC8y2uAiu8="),
            ("package-x", "Q1Vl3vU8cV22CofaOpqDJHyDPEzH8="),
            ("package-y", "Q1GsmJ2snap2o2kZ+vvMmuEc+bSnM="),
        ]
    );
    assert_eq!(
        got[2].url,
        cli("private_packages/packages/x86_64/package-y-1.0.0-r0.apk")
    );
    assert_eq!(got[2].size, 2258);
    // What apko wrote for the same config, from an earlier build of the same packages (so
    // sizes and checksums differ; pretend-baselayout was also rebuilt with other owners).
    let ours = String::from_utf8(file(&tree, "usr/lib/apk/db/installed")).unwrap();
    let theirs = String::from_utf8(apko_layer_file("lib/apk/db/installed")).unwrap();
    let both = ["package-x", "package-y"];
    assert_eq!(records(&ours, &both), records(&theirs, &both));
    assert_eq!(records(&ours, &both).len(), 2);
    assert!(ours.ends_with("Z:Q1qO7DClstcbyJAXX1s2Hrso18VKg=\n\n"));
    assert_eq!(
        file(&tree, "etc/apk/repositories"),
        format!(
            "{}\n{}\n",
            cli("packages"),
            cli("private_packages/packages")
        )
        .into_bytes()
    );
    for path in [
        "etc/apk/world",
        "etc/apk/arch",
        "etc/apk/keys/melange.rsa.pub",
        "etc/apk/keys/private_pkg_key.rsa.pub",
        "x/hello.txt",
        "etc/os-release",
    ] {
        assert_eq!(file(&tree, path), apko_layer_file(path), "{path}");
    }
    let hello = tree.get("x/hello.txt").unwrap();
    assert_eq!((hello.mode, hello.uid, hello.gid), (0o644, 501, 20));
    assert_eq!(file(&tree, "usr/lib/apk/db/scripts.tar"), vec![0u8; 1024]);
    assert_eq!(
        tree.get("lib/apk").unwrap().kind,
        Kind::Symlink("../usr/lib/apk".into())
    );
    assert_eq!(tree.get("tmp").unwrap().mode, 0o1777);
    assert_eq!(
        tree.get("dev/console").unwrap().kind,
        Kind::CharDevice(5, 1)
    );
}

/// The x86_64 base image as a tree (what the image half does with contents.baseimage).
fn base_image_tree() -> Tree {
    let layer = std::fs::read(cli(
        "base_image/blobs/sha256/bf74ddaf55d32ec9672a0a40efc6cb1bf0a167763c18fc22586c8a301167822f",
    ))
    .unwrap();
    let mut tree = Tree::new();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&layer[..]));
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let h = entry.header().clone();
        let kind = match h.entry_type() {
            tar::EntryType::Directory => Kind::Dir,
            tar::EntryType::Char => Kind::CharDevice(
                h.device_major().unwrap().unwrap(),
                h.device_minor().unwrap().unwrap(),
            ),
            _ => {
                let mut data = Vec::new();
                entry.read_to_end(&mut data).unwrap();
                Kind::File(data.into())
            }
        };
        let e = apko::fs::Entry {
            kind,
            mode: h.mode().unwrap(),
            uid: 0,
            gid: 0,
            mtime: 0,
            xattrs: Default::default(),
        };
        tree.insert(&path, e).unwrap();
    }
    tree
}

#[tokio::test]
async fn image_on_top_of_a_base_image_installs_only_what_is_missing() {
    let resolver = Resolver::new(None, vec![], vec![]).unwrap();
    let mut tree = base_image_tree();
    let mut req = request(&resolver, &["replayout"]);
    req.repositories = vec![cli("packages")];
    req.keyring = vec![cli("melange.rsa.pub")];
    let got = install(&req, &mut tree).await.unwrap();
    let names: Vec<&str> = got.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["replayout"]);
    // The base image keeps its database where it was, now with replayout appended.
    let db = String::from_utf8(file(&tree, "lib/apk/db/installed")).unwrap();
    let packages: Vec<&str> = db.lines().filter_map(|l| l.strip_prefix("P:")).collect();
    assert_eq!(
        packages,
        ["pretend-baselayout", "package-x", "package-y", "replayout"]
    );
    assert!(tree.get("usr/lib/apk/db/installed").is_none());
    assert_eq!(file(&tree, "etc/apk/world"), b"package-y\nreplayout\n");
    // replayout replaces pretend-baselayout, so its os-release wins.
    assert_eq!(file(&tree, "etc/os-release").len(), 102);
    assert_eq!(file(&tree, "x/hello.txt"), b"HELLO\n");
}

#[tokio::test]
async fn replaces_lets_a_package_overwrite_another_ones_file() {
    let resolver = Resolver::new(None, vec![], vec![]).unwrap();
    let mut tree = Tree::new();
    let mut req = request(&resolver, &["replayout"]);
    req.repositories = vec![cli("packages")];
    let got = install(&req, &mut tree).await.unwrap();
    assert_eq!(got.len(), 2);
    let db = String::from_utf8(file(&tree, "usr/lib/apk/db/installed")).unwrap();
    assert!(db.contains("\nr:pretend-baselayout\n"), "{db}");
    let os_release = file(&tree, "etc/os-release");
    assert_eq!(
        os_release.len(),
        102,
        "replayout's os-release (102 bytes) must win"
    );
}

/// A copy of apko-cli/packages in a temp dir, with `edit` applied to one package.
fn tampered_repo(package: &str, edit: impl Fn(&mut Vec<u8>)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let arch_dir = dir.path().join("x86_64");
    std::fs::create_dir(&arch_dir).unwrap();
    for entry in std::fs::read_dir(cli("packages/x86_64")).unwrap() {
        let entry = entry.unwrap();
        let mut bytes = std::fs::read(entry.path()).unwrap();
        if entry.file_name().to_str() == Some(package) {
            edit(&mut bytes);
        }
        std::fs::write(arch_dir.join(entry.file_name()), bytes).unwrap();
    }
    dir
}

#[tokio::test]
async fn tampered_packages_are_refused_and_nothing_is_installed() {
    let resolver = Resolver::new(None, vec![], vec![]).unwrap();
    // A changed byte in the data section (pretend-baselayout's data starts at 1629).
    let repo = tampered_repo("pretend-baselayout-1.0.0-r0.apk", |b| b[2000] ^= 0x20);
    let mut req = request(&resolver, &["replayout"]);
    req.repositories = vec![repo.path().display().to_string()];
    let mut tree = Tree::new();
    let err = install(&req, &mut tree).await.unwrap_err().to_string();
    let apk = repo.path().join("x86_64/pretend-baselayout-1.0.0-r0.apk");
    let tampered = std::fs::read(&apk).unwrap();
    let actual = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&tampered[1629..]));
    assert_eq!(
        err,
        format!(
            "package {}: its data section's SHA-256 is {actual} but its .PKGINFO says datahash = 72405aa6c68cbb910e6ff7b8122d6cda5ffe7593046a61e15266a827cc9e6708: the files were modified after the package was built; refusing to install it",
            apk.display()
        )
    );
    assert!(tree.is_empty());

    // A corrupted control section (647..1629).
    let repo = tampered_repo("pretend-baselayout-1.0.0-r0.apk", |b| b[1000] ^= 0x20);
    req.repositories = vec![repo.path().display().to_string()];
    let err = install(&req, &mut tree).await.unwrap_err().to_string();
    let apk = repo.path().join("x86_64/pretend-baselayout-1.0.0-r0.apk");
    assert_eq!(
        err,
        format!(
            "package {}: its control section is corrupt (corrupt gzip stream does not have a matching checksum), so it cannot match the index's checksum Q1m6wB0UFePGN8Drz82pC8y2uAiu8=; refusing to install it",
            apk.display()
        )
    );
    // A control section rewritten as valid gzip (same files, other compression).
    let repo = tampered_repo("pretend-baselayout-1.0.0-r0.apk", |b| {
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(&b[647..1629])
            .read_to_end(&mut tar)
            .unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &tar).unwrap();
        let rest = b.split_off(1629);
        b.truncate(647);
        b.extend(gz.finish().unwrap());
        b.extend(rest);
    });
    req.repositories = vec![repo.path().display().to_string()];
    let err = install(&req, &mut tree).await.unwrap_err().to_string();
    let apk = repo.path().join("x86_64/pretend-baselayout-1.0.0-r0.apk");
    let prefix = format!(
        "package {}: its control section's checksum is Q1",
        apk.display()
    );
    assert!(err.starts_with(&prefix), "{err}");
    assert!(
        err.ends_with(" but the index says Q1m6wB0UFePGN8Drz82pC8y2uAiu8=: the package was modified or replaced after the index was signed; refusing to install it"),
        "{err}"
    );
    assert!(tree.is_empty());
}

/// The sections of each package are what apko pinned in apko-cli/apko.lock.json.
#[tokio::test]
async fn sections_match_apkos_lockfile() {
    let lock: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cli("apko.lock.json")).unwrap()).unwrap();
    let resolver = Resolver::new(None, vec![], vec![]).unwrap();
    for arch in ["x86_64", "aarch64"] {
        let mut req = request(&resolver, &["replayout"]);
        req.repositories = vec![cli("packages")];
        req.keyring = vec![cli("melange.rsa.pub")];
        req.arch = arch.into();
        let mut tree = Tree::new();
        let got = install(&req, &mut tree).await.unwrap();
        let expected: Vec<&serde_json::Value> = lock["contents"]["packages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["architecture"] == arch)
            .collect();
        assert_eq!(got.len(), expected.len());
        for (ours, theirs) in got.iter().zip(expected) {
            assert_eq!(ours.name, theirs["name"].as_str().unwrap());
            assert_eq!(ours.version, theirs["version"].as_str().unwrap());
            assert_eq!(ours.checksum, theirs["checksum"].as_str().unwrap());
            let s = &ours.sections;
            let sig = s.signature.as_ref().unwrap();
            for (section, key) in [
                (sig, "signature"),
                (&s.control, "control"),
                (&s.data, "data"),
            ] {
                assert_eq!(
                    section.range(),
                    theirs[key]["range"].as_str().unwrap(),
                    "{key}"
                );
                assert_eq!(
                    section.checksum,
                    theirs[key]["checksum"].as_str().unwrap(),
                    "{key}"
                );
            }
            assert!(theirs["url"].as_str().unwrap().ends_with(&format!(
                "packages/{arch}/{}-{}.apk",
                ours.name, ours.version
            )));
        }
    }
}
