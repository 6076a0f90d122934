//! `apko push` and `apko pull` against Debian's real `docker-registry` (htpasswd, plain HTTP on
//! loopback): byte-exact round trips of the apko-built two-arch image, several tags, the
//! cross-repository mount as the registry logs it, chunked uploads, platform selection, and
//! skopeo and podman reading what apko pushed.

use crate::support::cli::{
    Cli, assert_pulls_back, base_blobs, base_index_digest, blobs, client, one_mib_chunks, runtime,
};
use crate::support::layout::{base_image, random_layout};
use crate::support::{Registry, require};
use apko::registry::push::{PushOptions, push_layout};
use apko::registry::reference::Reference;
use std::path::Path;
use std::process::Command;

const AMD64: &str = "sha256:2ef91a9967f2e1759ea49a8c01cf6a45dd9f9af71fe09bcf2b86175bc4a71314";
const ARM64: &str = "sha256:5a99438a9ced8193f1d71209d0b558fdc0b184aee5cf258e5f7aa9a6ab0f0671";

fn auth_file(cli: &Cli, host: &str) -> String {
    cli.file("auth.txt", &format!("{host}=testuser:testpass\n"))
        .display()
        .to_string()
}

#[test]
fn push_then_pull_is_byte_exact() {
    let registry = Registry::start_htpasswd();
    let h = registry.host.as_str();
    let cli = Cli::new();
    let auth = auth_file(&cli, h);
    let base = base_image();
    let digest = base_index_digest();
    let refs = cli.path("refs.txt");

    let out = cli
        .run(&[
            "push",
            base.to_str().unwrap(),
            &format!("{h}/apko/base:1"),
            &format!("{h}/apko/base:latest"),
            "--auth-file",
            &auth,
            "--image-refs",
            refs.to_str().unwrap(),
        ])
        .ok();
    assert_eq!(out.stdout, format!("{h}/apko/base@{digest}\n"));
    assert!(
        out.stderr.contains(&format!(
            "{h}/apko/base: 4 blobs uploaded, 0 mounted, 0 already there"
        )),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&refs).unwrap(),
        format!("{h}/apko/base@{AMD64}\n{h}/apko/base@{ARM64}\n{h}/apko/base@{digest}\n")
    );
    // Both tags were put, each once, with the index's media type; the images by digest.
    let puts: Vec<(String, u16)> = registry
        .requests()
        .into_iter()
        .filter(|(m, u, _)| m == "PUT" && u.contains("/manifests/"))
        .map(|(_, u, s)| (u, s))
        .collect();
    let mut expected = vec![
        (format!("/v2/apko/base/manifests/{AMD64}"), 201),
        (format!("/v2/apko/base/manifests/{ARM64}"), 201),
    ];
    let mut got_images: Vec<_> = puts[..2].to_vec();
    got_images.sort();
    expected.sort();
    assert_eq!(got_images, expected);
    assert_eq!(
        puts[2..],
        [
            ("/v2/apko/base/manifests/1".to_string(), 201),
            ("/v2/apko/base/manifests/latest".to_string(), 201)
        ]
    );

    // Pull it back by tag and by digest: the same bytes, blob for blob.
    for (name, image) in [
        ("by-tag", format!("{h}/apko/base:latest")),
        ("by-digest", format!("{h}/apko/base@{digest}")),
    ] {
        let dir = cli.path(name);
        let out = cli
            .run(&["pull", &image, dir.to_str().unwrap(), "--auth-file", &auth])
            .ok();
        assert_eq!(out.stdout, format!("{h}/apko/base@{digest}\n"));
        assert_eq!(blobs(&dir), base_blobs(), "{name}");
        assert_eq!(
            std::fs::read(dir.join("index.json")).unwrap(),
            std::fs::read(base.join("index.json")).unwrap()
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("oci-layout")).unwrap(),
            r#"{"imageLayoutVersion":"1.0.0"}"#
        );
    }

    // Pushing again uploads nothing.
    let out = cli
        .run(&[
            "push",
            base.to_str().unwrap(),
            &format!("{h}/apko/base:1"),
            "--auth-file",
            &auth,
        ])
        .ok();
    assert!(
        out.stderr.contains(&format!(
            "{h}/apko/base: 0 blobs uploaded, 0 mounted, 4 already there"
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn pull_one_platform() {
    let registry = Registry::start_htpasswd();
    let h = registry.host.as_str();
    let cli = Cli::new();
    let auth = auth_file(&cli, h);
    let base = base_image();
    cli.run(&[
        "push",
        base.to_str().unwrap(),
        &format!("{h}/app:1"),
        "--auth-file",
        &auth,
    ])
    .ok();
    let dir = cli.path("arm");
    cli.run(&[
        "pull",
        &format!("{h}/app:1"),
        dir.to_str().unwrap(),
        "--platform",
        "linux/aarch64",
        "--auth-file",
        &auth,
    ])
    .ok();
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    assert_eq!(
        index,
        serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "size": 402,
                "digest": ARM64,
                "platform": {"architecture": "arm64", "os": "linux"},
            }],
        })
    );
    // The arm64 manifest, its config and layer, and the original index: nothing of amd64.
    let names: Vec<String> = blobs(&dir).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(names.contains(&ARM64[7..].to_string()));
    assert!(!names.contains(&AMD64[7..].to_string()));

    let out = cli.run(&[
        "pull",
        &format!("{h}/app:1"),
        cli.path("s390x").to_str().unwrap(),
        "--platform",
        "linux/s390x",
        "--auth-file",
        &auth,
    ]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        format!(
            "Error: {h}/app:1 has no image for linux/s390x (it has linux/amd64, linux/arm64)\n"
        )
    );
}

#[test]
fn second_repository_mounts_from_the_first() {
    let registry = Registry::start_htpasswd();
    let h = registry.host.as_str();
    let cli = Cli::new();
    let auth = auth_file(&cli, h);
    let base = base_image();
    let out = cli
        .run(&[
            "push",
            base.to_str().unwrap(),
            &format!("{h}/first:1"),
            &format!("{h}/second:1"),
            "--auth-file",
            &auth,
        ])
        .ok();
    assert!(
        out.stderr.contains(&format!(
            "{h}/second: 0 blobs uploaded, 4 mounted, 0 already there"
        )),
        "{}",
        out.stderr
    );
    let requests = registry.requests();
    let blobs: Vec<String> = blobs(&base).into_iter().map(|(n, _)| n).collect();
    let layers_and_configs: Vec<&String> = blobs
        .iter()
        .filter(|b| ![&AMD64[7..], &ARM64[7..]].contains(&b.as_str()))
        .collect();
    assert_eq!(layers_and_configs.len(), 4);
    for hex in layers_and_configs {
        let mount = (
            "POST".to_string(),
            format!("/v2/second/blobs/uploads/?mount=sha256%3A{hex}&from=first"),
            201,
        );
        assert!(requests.contains(&mount), "no {mount:?} in {requests:#?}");
    }
    // No blob data went to the second repository.
    assert!(
        !requests
            .iter()
            .any(|(m, u, _)| (m == "PUT" || m == "PATCH") && u.starts_with("/v2/second/blobs/")),
        "{requests:#?}"
    );
}

#[test]
fn large_blobs_go_in_chunks_and_mount_hints_are_used() {
    let registry = Registry::start_htpasswd();
    let h = registry.host.as_str();
    let dir = tempfile::tempdir().unwrap();
    let layout = random_layout(&dir.path().join("layout"), &[2_500_000, 1000], 7);
    let client = client();
    let options = one_mib_chunks();
    let rt = runtime();
    let tag = Reference::parse(&format!("{h}/chunked:1")).unwrap();
    let pushed = rt
        .block_on(push_layout(&client, &layout.dir, &[tag], &options))
        .unwrap();
    assert_eq!(pushed.digest.as_str(), layout.index_digest);
    let requests = registry.requests();
    let uploads: Vec<(&str, u16)> = requests
        .iter()
        .filter(|(m, u, _)| {
            (m == "PATCH" || m == "PUT") && u.starts_with("/v2/chunked/blobs/uploads/")
        })
        .map(|(m, _, s)| (m.as_str(), *s))
        .collect();
    // The big layer: three 1 MiB-or-less PATCHes and a closing PUT; the small layer and
    // the config: one PUT each.
    assert_eq!(
        uploads.iter().filter(|(m, _)| *m == "PATCH").count(),
        3,
        "{uploads:?}"
    );
    assert!(
        uploads
            .iter()
            .all(|(m, s)| (*m == "PATCH" && *s == 202) || (*m == "PUT" && *s == 201))
    );
    assert_eq!(uploads.iter().filter(|(m, _)| *m == "PUT").count(), 3);

    // Another push with the first repository as a mount hint mounts everything.
    let hinted = PushOptions {
        mount_from: vec![Reference::parse(&format!("{h}/chunked")).unwrap()],
        ..PushOptions::default()
    };
    let tag = Reference::parse(&format!("{h}/hinted:1")).unwrap();
    rt.block_on(push_layout(&client, &layout.dir, &[tag], &hinted))
        .unwrap();
    let mounts = registry
        .requests()
        .into_iter()
        .filter(|(m, u, s)| {
            m == "POST" && u.contains("/v2/hinted/blobs/uploads/?mount=") && *s == 201
        })
        .count();
    assert_eq!(mounts, 3);

    // Pulled back, byte for byte.
    assert_pulls_back(&rt, &client, &format!("{h}/hinted:1"), &layout);
}

/// skopeo and podman with their own isolated configuration.
fn containers_command(program: &Path, home: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.env("HOME", home)
        .env_remove("DOCKER_CONFIG")
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("XDG_CONFIG_HOME");
    cmd
}

fn ok(cmd: &mut Command, what: &str) -> std::process::Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn skopeo_and_podman_read_what_apko_pushed() {
    let skopeo = require("skopeo", "skopeo");
    let podman = require("podman", "podman");
    let registry = Registry::start_htpasswd();
    let h = registry.host.as_str();
    let cli = Cli::new();
    let auth = auth_file(&cli, h);
    let base = base_image();
    cli.run(&[
        "push",
        base.to_str().unwrap(),
        &format!("{h}/apko/read:1"),
        "--auth-file",
        &auth,
    ])
    .ok();
    let home = cli.path("home");
    std::fs::create_dir(&home).unwrap();
    let image = format!("docker://{h}/apko/read:1");
    let creds = ["--creds", "testuser:testpass", "--tls-verify=false"];

    let out = ok(
        containers_command(&skopeo, &home)
            .args(["inspect", "--raw"])
            .args(creds)
            .arg(&image),
        "skopeo inspect --raw",
    );
    assert_eq!(out.stdout, std::fs::read(base.join("index.json")).unwrap());

    let out = ok(
        containers_command(&skopeo, &home)
            .args([
                "inspect",
                "--override-arch",
                "arm64",
                "--override-os",
                "linux",
            ])
            .args(creds)
            .arg(&image),
        "skopeo inspect",
    );
    let inspected: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(inspected["Digest"], base_index_digest().as_str());
    assert_eq!(inspected["Architecture"], "arm64");
    assert_eq!(inspected["RepoTags"], serde_json::json!(["1"]));

    let copied = cli.path("copied");
    ok(
        containers_command(&skopeo, &home)
            .args([
                "copy",
                "--all",
                "--src-creds",
                "testuser:testpass",
                "--src-tls-verify=false",
            ])
            .arg(&image)
            .arg(format!("oci:{}:1", copied.display())),
        "skopeo copy back",
    );
    assert_eq!(blobs(&copied), base_blobs());

    // podman as root with private storage.
    let storage = cli.path("podman");
    let p = |name: &str| storage.join(name).display().to_string();
    let out = ok(
        containers_command(&podman, &home)
            .args([
                "--root",
                &p("root"),
                "--runroot",
                &p("runroot"),
                "--tmpdir",
                &p("tmp"),
            ])
            .args(["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs"])
            .args(["--events-backend", "file"])
            .args(["pull", "--quiet", "--platform", "linux/amd64"])
            .args(creds)
            .arg(format!("{h}/apko/read:1")),
        "podman pull",
    );
    // podman's image ID is the amd64 config digest.
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(base.join("blobs/sha256").join(&AMD64[7..])).unwrap(),
    )
    .unwrap();
    let config = manifest["config"]["digest"].as_str().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}\n", &config[7..])
    );
}

#[test]
fn docker_manifest_lists_pull_and_push_back_unchanged() {
    let skopeo = require("skopeo", "skopeo");
    let registry = Registry::start_htpasswd();
    let h = registry.host.as_str();
    let cli = Cli::new();
    let auth = auth_file(&cli, h);
    let base = base_image();
    cli.run(&[
        "push",
        base.to_str().unwrap(),
        &format!("{h}/oci:1"),
        "--auth-file",
        &auth,
    ])
    .ok();
    let home = cli.path("home");
    std::fs::create_dir(&home).unwrap();
    // skopeo rewrites it as a Docker manifest list of Docker schema 2 manifests.
    ok(
        containers_command(&skopeo, &home)
            .args(["copy", "--all", "--format", "v2s2"])
            .args(["--src-creds", "testuser:testpass", "--src-tls-verify=false"])
            .args([
                "--dest-creds",
                "testuser:testpass",
                "--dest-tls-verify=false",
            ])
            .arg(format!("docker://{h}/oci:1"))
            .arg(format!("docker://{h}/docker:1")),
        "skopeo copy --format v2s2",
    );
    let raw = |repo: &str| {
        ok(
            containers_command(&skopeo, &home)
                .args([
                    "inspect",
                    "--raw",
                    "--creds",
                    "testuser:testpass",
                    "--tls-verify=false",
                ])
                .arg(format!("docker://{h}/{repo}:1")),
            "skopeo inspect --raw",
        )
        .stdout
    };
    let list = raw("docker");
    assert!(
        String::from_utf8_lossy(&list)
            .contains("application/vnd.docker.distribution.manifest.list.v2+json")
    );
    let dir = cli.path("docker-layout");
    let out = cli
        .run(&[
            "pull",
            &format!("{h}/docker:1"),
            dir.to_str().unwrap(),
            "--auth-file",
            &auth,
        ])
        .ok();
    let digest = crate::support::layout::sha256(&list);
    assert_eq!(out.stdout, format!("{h}/docker@{digest}\n"));
    assert_eq!(std::fs::read(dir.join("index.json")).unwrap(), list);
    // Pushed back from the layout: the registry serves the very same list.
    let out = cli
        .run(&[
            "push",
            dir.to_str().unwrap(),
            &format!("{h}/again:1"),
            "--auth-file",
            &auth,
        ])
        .ok();
    assert_eq!(out.stdout, format!("{h}/again@{digest}\n"));
    assert_eq!(raw("again"), list);
}
