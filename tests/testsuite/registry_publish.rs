//! `apko publish`: the bundled example built and pushed to the real `docker-registry`, read
//! back byte for byte, the same images `apko build` writes.

use crate::support::Registry;
use crate::support::cli::Cli;
use crate::support::layout::sha256;

/// The project root: the example's paths are relative to it.
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const CONFIG: &str = "examples/hello/apko.yaml";

#[test]
fn publish_builds_and_pushes_to_every_tag() {
    let registry = Registry::start_htpasswd();
    let h = registry.host.as_str();
    let cli = Cli::new();
    let auth = cli.file("auth.txt", &format!("{h}=testuser:testpass\n"));
    let refs = cli.path("refs.txt");
    let out = cli
        .run(&[
            "-C",
            ROOT,
            "publish",
            CONFIG,
            &format!("{h}/hello:1"),
            &format!("{h}/hello:latest"),
            "--auth-file",
            auth.to_str().unwrap(),
            "--image-refs",
            refs.to_str().unwrap(),
        ])
        .ok();
    let reference = out.stdout.trim_end().to_string();
    let digest = reference
        .strip_prefix(&format!("{h}/hello@"))
        .unwrap_or_else(|| panic!("{reference}"))
        .to_string();

    // What `apko build` writes into a layout: the same images (its index.json adds the
    // per-image TAG-ARCH names the registry does not get).
    let built = cli.path("built");
    std::fs::create_dir(&built).unwrap();
    cli.run(&[
        "-C",
        ROOT,
        "build",
        CONFIG,
        "hello:1",
        built.to_str().unwrap(),
    ])
    .ok();
    let built_index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(built.join("index.json")).unwrap()).unwrap();

    for tag in ["1", "latest"] {
        let dir = cli.path(&format!("pulled-{tag}"));
        let out = cli
            .run(&[
                "pull",
                &format!("{h}/hello:{tag}"),
                dir.to_str().unwrap(),
                "--auth-file",
                auth.to_str().unwrap(),
            ])
            .ok();
        assert_eq!(out.stdout, format!("{reference}\n"));
        let index = std::fs::read(dir.join("index.json")).unwrap();
        assert_eq!(sha256(&index), digest);
        let pulled: serde_json::Value = serde_json::from_slice(&index).unwrap();
        let entries = pulled["manifests"].as_array().unwrap();
        let built_entries = built_index["manifests"].as_array().unwrap();
        assert_eq!(entries.len(), built_entries.len());
        for (p, b) in entries.iter().zip(built_entries) {
            assert_eq!(p["digest"], b["digest"]);
            assert_eq!(p["platform"], b["platform"]);
            assert!(p["annotations"]["org.opencontainers.image.ref.name"].is_null());
        }
        // Every blob of the built layout came back unchanged.
        for entry in std::fs::read_dir(built.join("blobs/sha256")).unwrap() {
            let entry = entry.unwrap();
            assert_eq!(
                std::fs::read(dir.join("blobs/sha256").join(entry.file_name())).unwrap(),
                std::fs::read(entry.path()).unwrap()
            );
        }
    }
    let images: Vec<String> = built_index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| format!("{h}/hello@{}", m["digest"].as_str().unwrap()))
        .collect();
    assert_eq!(
        std::fs::read_to_string(&refs).unwrap(),
        format!("{}\n{reference}\n", images.join("\n"))
    );
}

#[test]
fn publish_refuses_a_digest_and_wrong_credentials_store_nothing() {
    let registry = Registry::start_htpasswd();
    let h = registry.host.as_str();
    let cli = Cli::new();
    let out = cli.run(&[
        "publish",
        CONFIG,
        &format!("{h}/hello@sha256:{}", "0".repeat(64)),
    ]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        format!(
            "Error: unable to publish to {h}/hello@sha256:{}: it names a digest; give a tag, e.g. name:latest\n",
            "0".repeat(64)
        )
    );
    let out = cli.run(&["-C", ROOT, "publish", CONFIG, &format!("{h}/hello:1")]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.ends_with(&format!(
            "  1. anonymous: rejected by the server: 401 Unauthorized from {h}\nFix the failing source, or give credentials with --auth {h}=USER:PASSWORD (or --auth-file); `apko auth explain` shows every source\n"
        )),
        "{}",
        out.stderr
    );
}
