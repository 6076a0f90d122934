//! `contents.baseimage.image` naming an image in the real `docker-registry`: pulled with the
//! build's credentials, the build is the same, byte for byte, as on the local layout, but for
//! `/etc/apko.json`, which names the base image as the config does.

use crate::support::Registry;
use crate::support::cli::{Cli, blobs};
use crate::support::layout::base_image;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// The top layer of a one-image layout: each entry's header bytes and its contents.
fn top_layer(layout: &Path) -> BTreeMap<String, (Vec<u8>, String)> {
    let json = |digest: &str| -> serde_json::Value {
        let hex = digest.strip_prefix("sha256:").unwrap();
        serde_json::from_slice(&std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap())
            .unwrap()
    };
    let index = json_file(&layout.join("index.json"));
    let manifest = json(index["manifests"][0]["digest"].as_str().unwrap());
    let layers = manifest["layers"].as_array().unwrap();
    let digest = layers.last().unwrap()["digest"].as_str().unwrap();
    let blob = std::fs::read(layout.join("blobs/sha256").join(&digest[7..])).unwrap();
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(&blob[..])
        .read_to_end(&mut tar)
        .unwrap();
    let mut out = BTreeMap::new();
    for e in tar::Archive::new(&tar[..]).entries().unwrap() {
        let mut e = e.unwrap();
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let header = e.header().as_bytes().to_vec();
        let mut data = String::new();
        let _ = e.read_to_string(&mut data);
        out.insert(name, (header, data));
    }
    out
}

fn json_file(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

const LOCK: &str = r#"{"version":"v1","contents":{"keyring":[],"build_repositories":[],"runtime_repositories":[],"repositories":[],"packages":[]}}"#;

/// An empty lockfile made for `config` (so that `build` neither refuses nor warns about it).
fn lock_for(config: &str) -> String {
    use sha2::Digest;
    let checksum = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        sha2::Sha256::digest(config.as_bytes()),
    );
    LOCK.replacen(
        r#""contents""#,
        &format!(r#""config":{{"name":"apko.yaml","checksum":"sha256-{checksum}"}},"contents""#),
        1,
    )
}

#[test]
fn a_base_image_from_a_registry_builds_as_the_local_layout_does() {
    let registry = Registry::start_htpasswd();
    let h = registry.host.as_str();
    let mut cli = Cli::new();
    cli.env("SOURCE_DATE_EPOCH", "1700000000");
    let auth = cli.file("auth.txt", &format!("{h}=testuser:testpass\n"));
    let auth = auth.to_str().unwrap();
    let base = base_image();
    cli.run(&[
        "push",
        base.to_str().unwrap(),
        &format!("{h}/base:1"),
        "--auth-file",
        auth,
    ])
    .ok();
    cli.file("apko.lock.json", LOCK);
    let build = |name: &str, image: &str| {
        cli.file(
            &format!("{name}.yaml"),
            &format!(
                "contents:\n  baseimage:\n    image: {image}\n    apkindex: {}\n",
                base.display()
            ),
        );
        let out_dir = cli.path(name);
        std::fs::create_dir(&out_dir).unwrap();
        let out = cli.run(&[
            "build",
            &format!("{name}.yaml"),
            "apko-test/ontop:v1",
            out_dir.to_str().unwrap(),
            "--lockfile",
            "apko.lock.json",
            "--arch",
            "amd64",
            "--auth-file",
            auth,
        ]);
        (out, out_dir)
    };
    let (out, local) = build("local", base.to_str().unwrap());
    let out = out.ok();
    assert!(!out.stderr.contains("pulled"), "{}", out.stderr);
    let (out, remote) = build("remote", &format!("{h}/base:1"));
    let out = out.ok();
    assert!(
        out.stderr.contains(&format!(
            "base image {h}/base:1: pulled {}",
            crate::support::cli::base_index_digest()
        )),
        "{}",
        out.stderr
    );
    let (remote_files, local_files) = (top_layer(&remote), top_layer(&local));
    assert_eq!(
        remote_files["etc/apko.json"].1,
        local_files["etc/apko.json"]
            .1
            .replacen(base.to_str().unwrap(), &format!("{h}/base:1"), 1)
    );
    let without_config = |mut files: BTreeMap<String, (Vec<u8>, String)>| {
        files.remove("etc/apko.json");
        files
    };
    assert_eq!(without_config(remote_files), without_config(local_files));
    // Only the amd64 image was pulled.
    let pulls: Vec<(String, String, u16)> = registry
        .requests()
        .into_iter()
        .filter(|(m, u, _)| m == "GET" && u.contains("/manifests/"))
        .collect();
    assert_eq!(pulls.len(), 2, "{pulls:#?}");

    // Again: the manifests are asked for (the tag may have moved), the blobs come from the
    // download cache.
    let before = registry.requests().len();
    let blob_gets = |r: &[(String, String, u16)]| {
        r.iter()
            .filter(|(m, u, _)| m == "GET" && u.contains("/blobs/"))
            .count()
    };
    assert!(
        blob_gets(&registry.requests()) >= 2,
        "the first pull downloads"
    );
    let (out, again) = build("again", &format!("{h}/base:1"));
    out.ok();
    assert_eq!(blobs(&again), blobs(&remote));
    let asked: Vec<(String, String, u16)> = registry.requests()[before..]
        .iter()
        .filter(|(m, _, _)| m == "GET")
        .cloned()
        .collect();
    assert!(
        asked.iter().all(|(_, u, _)| !u.contains("/blobs/")),
        "{asked:#?}"
    );
    assert_eq!(
        asked
            .iter()
            .filter(|(_, u, _)| u.contains("/manifests/"))
            .count(),
        2,
        "{asked:#?}"
    );

    // Without credentials for that registry, the error says which and what to do.
    let mut anonymous = Cli::new();
    anonymous.env("SOURCE_DATE_EPOCH", "1700000000");
    let config = format!(
        "contents:\n  baseimage:\n    image: {h}/base:1\n    apkindex: {}\n",
        base.display()
    );
    anonymous.file("apko.lock.json", &lock_for(&config));
    anonymous.file("apko.yaml", &config);
    let dir = anonymous.path("out");
    std::fs::create_dir(&dir).unwrap();
    let out = anonymous.run(&[
        "build",
        "apko.yaml",
        "apko-test/ontop:v1",
        dir.to_str().unwrap(),
        "--lockfile",
        "apko.lock.json",
        "--arch",
        "amd64",
    ]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        format!(
            "Error: base image {h}/base:1: no usable credentials for {h}; sources tried:\n\
             \x20 1. anonymous: rejected by the server: 401 Unauthorized from {h} (UNAUTHORIZED: authentication required)\n\
             Fix the failing source, or give credentials with --auth {h}=USER:PASSWORD (or --auth-file); `apko auth explain` shows every source\n"
        )
    );
}

/// The command's registry flags reach the base image's registry (they used to be dropped:
/// the pull ran with default options): `--ca-file` for an HTTPS registry with a private CA.
#[test]
fn a_base_image_in_an_https_registry_is_pulled_with_the_commands_ca_file() {
    let ca = crate::support::tls::Ca::create();
    let registry = Registry::start(crate::support::RegistryConfig {
        tls: Some(&ca),
        ..crate::support::RegistryConfig::default()
    });
    let h = registry.host.as_str();
    let mut cli = Cli::new();
    cli.env("SOURCE_DATE_EPOCH", "1700000000");
    let ca_file = ca.cert.to_str().unwrap();
    let auth = cli.file("auth.txt", &format!("{h}=testuser:testpass\n"));
    let auth = auth.to_str().unwrap();
    let base = base_image();
    cli.run(&[
        "push",
        base.to_str().unwrap(),
        &format!("{h}/base:1"),
        "--ca-file",
        ca_file,
        "--auth-file",
        auth,
    ])
    .ok();
    let config = format!(
        "contents:\n  baseimage:\n    image: {h}/base:1\n    apkindex: {}\n",
        base.display()
    );
    cli.file("apko.yaml", &config);
    cli.file("apko.lock.json", &lock_for(&config));
    let build = |name: &str, extra: &[&str]| {
        let dir = cli.path(name);
        std::fs::create_dir(&dir).unwrap();
        let mut args = vec![
            "build",
            "apko.yaml",
            "apko-test/ontop:v1",
            dir.to_str().unwrap(),
            "--lockfile",
            "apko.lock.json",
            "--arch",
            "amd64",
            "--auth-file",
            auth,
        ];
        args.extend(extra);
        cli.run(&args)
    };
    let out = build("without", &[]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(
        out.stderr
            .starts_with(&format!("Error: base image {h}/base:1: ")),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("certificate"), "{}", out.stderr);
    let out = build("with", &["--ca-file", ca_file]).ok();
    assert!(
        out.stderr.contains(&format!(
            "base image {h}/base:1: pulled {}",
            crate::support::cli::base_index_digest()
        )),
        "{}",
        out.stderr
    );
}
