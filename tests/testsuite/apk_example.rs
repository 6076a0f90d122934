//! The committed example repository (examples/hello): it verifies, installs, and what it
//! installs runs.

use apko::apk::{InstallRequest, install};
use apko::auth::Resolver;
use apko::fs::{Kind, Tree};
use std::os::unix::fs::PermissionsExt;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[tokio::test]
async fn example_repository_installs_and_hello_runs() {
    let resolver = Resolver::new(None, vec![], vec![]).unwrap();
    let req = InstallRequest {
        repositories: vec![format!("{ROOT}/examples/hello/repo")],
        build_repositories: vec![],
        keyring: vec![format!("{ROOT}/examples/hello/apko-rs-example.rsa.pub")],
        packages: vec!["hello".into()],
        arch: "x86_64".into(),
        ignore_signatures: false,
        cache_dir: None,
        offline: false,
        build_time: 0,
        resolver: &resolver,
        ca_certificates: vec![],
    };
    let mut tree = Tree::new();
    let got = install(&req, &mut tree).await.unwrap();
    let ids: Vec<String> = got
        .iter()
        .map(|p| format!("{}-{}", p.name, p.version))
        .collect();
    assert_eq!(ids, ["busybox-1.35.0-r4", "hello-1.0-r0"]);
    assert_eq!(
        tree.get("bin/sh").unwrap().kind,
        Kind::Symlink("busybox".into())
    );

    // Run /usr/bin/hello with the installed busybox, from a copy of the tree on disk.
    let dir = tempfile::tempdir().unwrap();
    for (path, entry) in tree.iter() {
        let target = dir.path().join(path);
        match &entry.kind {
            Kind::Dir => std::fs::create_dir_all(&target).unwrap(),
            Kind::File(data) => {
                std::fs::write(&target, data).unwrap();
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(entry.mode))
                    .unwrap();
            }
            _ => {}
        }
    }
    let out = std::process::Command::new(dir.path().join("bin/busybox"))
        .arg("sh")
        .arg(dir.path().join("usr/bin/hello"))
        .output()
        .unwrap();
    assert_eq!(
        (out.status.code(), out.stdout.as_slice()),
        (Some(0), &b"hello from apko-rs\n"[..])
    );
}

/// The image builder runs one install per architecture in spawned tasks: the future must be
/// `Send` for any lifetime of the request it borrows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_runs_in_a_spawned_task() {
    let task = tokio::spawn(async move {
        let resolver = Resolver::new(None, vec![], vec![]).unwrap();
        let req = InstallRequest {
            repositories: vec![format!("{ROOT}/examples/hello/repo")],
            build_repositories: vec![],
            keyring: vec![format!("{ROOT}/examples/hello/apko-rs-example.rsa.pub")],
            packages: vec!["hello".into()],
            arch: "x86_64".into(),
            ignore_signatures: false,
            cache_dir: None,
            offline: false,
            build_time: 0,
            resolver: &resolver,
            ca_certificates: vec![],
        };
        let mut tree = Tree::new();
        install(&req, &mut tree).await.map(|p| p.len())
    });
    assert_eq!(task.await.unwrap().unwrap(), 2);
}
