//! An APK host that fails the way real ones do: 503s and 429 with `Retry-After` are retried,
//! a host that keeps failing gives an exact error and no OUTPUT.

use apko_test_support::http::{Response, Server};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/hello/repo");
const KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/hello/apko-rs-example.rsa.pub"
);

/// Serves the example repository; the first `failures` requests of each path get `fail`.
fn server(failures: usize, fail: fn() -> Response) -> Server {
    let seen: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>> = Arc::default();
    let total = Arc::new(AtomicUsize::new(0));
    Server::start(move |req| {
        total.fetch_add(1, Ordering::Relaxed);
        let path = req.path().to_string();
        let n = {
            let mut seen = seen.lock().unwrap();
            let n = seen.entry(path.clone()).or_default();
            *n += 1;
            *n
        };
        if n <= failures {
            return fail();
        }
        match std::fs::read(Path::new(REPO).join(path.trim_start_matches("/repo/"))) {
            Ok(bytes) => Response::new(200).body(bytes),
            Err(_) => Response::new(404),
        }
    })
}

fn build(server: &Server, dir: &Path) -> (Option<i32>, String) {
    let config = dir.join("apko.yaml");
    std::fs::write(
        &config,
        format!(
            "contents:\n  keyring: [{KEY}]\n  repositories: [{}/repo]\n  packages: [hello]\narchs: [x86_64]\n",
            server.url()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_apko"))
        .args(["build", config.to_str().unwrap(), "hello:1"])
        .arg(dir.join("out.tar"))
        .env("HOME", dir)
        .env_remove("DOCKER_CONFIG")
        .env_remove("HTTP_AUTH")
        .env_remove("APKO_AUTH")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn transient_failures_are_retried() {
    for fail in [
        (|| Response::new(503)) as fn() -> Response,
        || Response::new(429).header("Retry-After", "0"),
        || Response::new(502),
    ] {
        let s = server(2, fail);
        let dir = tempfile::tempdir().unwrap();
        let (code, stderr) = build(&s, dir.path());
        assert_eq!(code, Some(0), "{stderr}");
        assert!(dir.path().join("out.tar").is_file());
    }
}

#[test]
fn a_host_that_keeps_failing_gives_an_exact_error_and_no_output() {
    let s = server(usize::MAX, || Response::new(500));
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = build(&s, dir.path());
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(&format!(
            "fetching {}/repo/x86_64/APKINDEX.tar.gz: the server answered 500 Internal Server Error (after 4 attempts)",
            s.url()
        )),
        "{stderr}"
    );
    assert!(!dir.path().join("out.tar").exists());
}
