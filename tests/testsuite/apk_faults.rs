//! An APK host that fails the way real ones do: 503s, 429 with `Retry-After`, reset
//! connections and cut-off bodies are retried; a host that keeps failing, or serves another
//! package than its signed index names, gives an exact error and no OUTPUT.

use crate::support::http::{Cut, Response, Server};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/hello/repo");
const KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/hello/apko-rs-example.rsa.pub"
);

/// Serves the example repository; the first `failures` requests of each path get `fail` of
/// the right answer.
fn server(failures: usize, fail: fn(Response) -> Response) -> Server {
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
        let right = match std::fs::read(Path::new(REPO).join(path.trim_start_matches("/repo/"))) {
            Ok(bytes) => Response::new(200).body(bytes),
            Err(_) => Response::new(404),
        };
        if n <= failures { fail(right) } else { right }
    })
}

fn build(server: &Server, dir: &Path) -> (Option<i32>, String) {
    build_with(server, dir, &[])
}

fn build_with(server: &Server, dir: &Path, extra: &[&str]) -> (Option<i32>, String) {
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
        .args(extra)
        .env("HOME", dir)
        .env("XDG_CACHE_HOME", dir.join("cache"))
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
        (|_| Response::new(503)) as fn(Response) -> Response,
        |_| Response::new(429).header("Retry-After", "0"),
        |_| Response::new(502),
        |_| Response::reset(),
        |right| {
            let half = right.body.len() / 2;
            right.cut(Cut::After(half))
        },
    ] {
        let s = server(2, fail);
        let dir = tempfile::tempdir().unwrap();
        let (code, stderr) = build(&s, dir.path());
        assert_eq!(code, Some(0), "{stderr}");
        // Every file was asked for three times: two failures, then the answer.
        let mut asked: Vec<String> = s.requests().iter().map(|r| r.path().to_string()).collect();
        asked.sort();
        let expected: Vec<String> = [
            "/repo/x86_64/APKINDEX.tar.gz",
            "/repo/x86_64/busybox-1.35.0-r4.apk",
            "/repo/x86_64/hello-1.0-r0.apk",
        ]
        .iter()
        .flat_map(|p| [p.to_string(), p.to_string(), p.to_string()])
        .collect();
        assert_eq!(asked, expected);
        let reference = tempfile::tempdir().unwrap();
        let (code, stderr) = build(&s, reference.path());
        assert_eq!(code, Some(0), "{stderr}");
        assert_eq!(
            std::fs::read(dir.path().join("out.tar")).unwrap(),
            std::fs::read(reference.path().join("out.tar")).unwrap(),
            "a retried download builds the image an undisturbed one does"
        );
    }
}

#[test]
fn a_host_that_keeps_failing_gives_an_exact_error_and_no_output() {
    let s = server(usize::MAX, |_| Response::new(500));
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

#[test]
fn a_host_that_keeps_resetting_or_cutting_off_gives_an_exact_error_and_no_output() {
    for (fail, cause) in [
        (
            (|_| Response::reset()) as fn(Response) -> Response,
            "connection error: Connection reset by peer (os error 104)",
        ),
        (
            |right| {
                let half = right.body.len() / 2;
                right.cut(Cut::After(half))
            },
            "error reading a body from connection: end of file before message length reached (the connection closed before the whole body arrived)",
        ),
    ] {
        let s = server(usize::MAX, fail);
        let dir = tempfile::tempdir().unwrap();
        let (code, stderr) = build(&s, dir.path());
        assert_eq!(code, Some(1));
        assert_eq!(
            stderr,
            format!(
                "Error: building amd64: fetching {}/repo/x86_64/APKINDEX.tar.gz: {cause} (after 4 attempts)\n",
                s.url()
            )
        );
        assert_eq!(s.requests().len(), 4);
        assert_eq!(leftovers(dir.path()), Vec::<String>::new());
    }
}

#[test]
fn a_package_other_than_the_index_names_is_refused() {
    // The host serves busybox's package where hello's should be: a valid, signed package, but
    // not the one the signed index describes.
    let s = Server::start(|req| {
        let name = req.path().trim_start_matches("/repo/");
        let name = name.replace("hello-1.0-r0.apk", "busybox-1.35.0-r4.apk");
        match std::fs::read(Path::new(REPO).join(name)) {
            Ok(bytes) => Response::new(200).body(bytes),
            Err(_) => Response::new(404),
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let (code, stderr) = build_with(&s, dir.path(), &["--cache-dir", cache.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    // The checksums are busybox's control section and the one the signed index gives hello.
    assert_eq!(
        stderr,
        format!(
            "Error: building amd64: package {}/repo/x86_64/hello-1.0-r0.apk: its control section's checksum is Q1MQWXIlH3cUZnL8wH86U7yEd45uc= but the index says Q13wRmxw9uVi02sE0jwDo6lzUHc1c=: the package was modified or replaced after the index was signed; refusing to install it\n",
            s.url()
        )
    );
    assert_eq!(leftovers(dir.path()), vec!["cache".to_string()]);
    // The refused package is not kept in the download cache (packages are cached under
    // their index checksum): whatever is cached now is what a good host's build caches under
    // the same name.
    let snapshot = |dir: &Path| -> std::collections::BTreeMap<String, Vec<u8>> {
        walk(dir)
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "apk"))
            .map(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read(&p).unwrap())
            })
            .collect()
    };
    let after_refusal = snapshot(&cache);
    let good = server(0, |r| r);
    let (code, stderr) = build_with(&good, dir.path(), &["--cache-dir", cache.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stderr}");
    let after_good = snapshot(&cache);
    assert_eq!(after_good.len(), 2, "hello and busybox");
    for (name, bytes) in &after_refusal {
        assert!(
            after_good.get(name) == Some(bytes),
            "{name} held other bytes"
        );
    }
    assert!(after_refusal.len() < after_good.len());
}

/// Every file left in the build's directory besides its config: none, after a failure.
fn leftovers(dir: &Path) -> Vec<String> {
    let mut left: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "apko.yaml" && n != ".cache")
        .collect();
    left.sort();
    left
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn the_default_cache_serves_packages_again_and_offline_and_clean_empties_it() {
    use std::os::unix::fs::PermissionsExt;
    let s = server(0, |right| right);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let asked = || -> Vec<String> { s.requests().iter().map(|r| r.path().to_string()).collect() };
    let (code, stderr) = build(&s, d);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(asked().len(), 3, "{:?}", asked());
    let first = std::fs::read(d.join("out.tar")).unwrap();

    // Again: the index is asked for again (it may have changed), the packages are not.
    let (code, stderr) = build(&s, d);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(asked()[3..], ["/repo/x86_64/APKINDEX.tar.gz"]);
    assert_eq!(std::fs::read(d.join("out.tar")).unwrap(), first);
    let cache = d.join("cache/apko-rs");
    let mode = std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode, 0o700,
        "the cache holds private repositories' packages"
    );
    for entry in std::fs::read_dir(cache.join("packages")).unwrap() {
        let mode = entry.unwrap().metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    // Offline: nothing is asked for.
    let (code, stderr) = build_with(&s, d, &["--offline"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(asked().len(), 4);
    assert_eq!(std::fs::read(d.join("out.tar")).unwrap(), first);

    let clean = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_apko"))
            .arg("clean")
            .args(extra)
            .env("HOME", d)
            .env("XDG_CACHE_HOME", d.join("cache"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        String::from_utf8(out.stderr).unwrap()
    };
    let bytes: u64 = [
        "x86_64/APKINDEX.tar.gz",
        "x86_64/busybox-1.35.0-r4.apk",
        "x86_64/hello-1.0-r0.apk",
    ]
    .iter()
    .map(|f| std::fs::metadata(Path::new(REPO).join(f)).unwrap().len())
    .sum();
    let size = format!("Cache size: {:.1} KiB in 3 files", bytes as f64 / 1024.0);
    let stderr = clean(&["--dry-run"]);
    assert!(
        stderr.contains(&format!("Cleaning cache directory: {}", cache.display())),
        "{stderr}"
    );
    assert!(stderr.contains(&size), "{size}: {stderr}");
    assert!(
        stderr.contains("Dry run mode: nothing was deleted"),
        "{stderr}"
    );
    assert!(cache.join("packages").is_dir());

    let stderr = clean(&[]);
    assert!(stderr.contains(&size), "{size}: {stderr}");
    assert!(
        stderr.contains("Cache directory cleaned successfully"),
        "{stderr}"
    );
    assert!(!cache.exists());
    let stderr = clean(&[]);
    assert!(
        stderr.contains("Cache directory does not exist, nothing to clean"),
        "{stderr}"
    );
    let (code, stderr) = build_with(&s, d, &["--offline"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(&format!(
            "{}/repo/x86_64/APKINDEX.tar.gz is needed but the build is offline and it is not in the cache {}; run once without --offline",
            s.url(),
            cache.display()
        )),
        "{stderr}"
    );
    assert_eq!(asked().len(), 4);
}

#[test]
fn an_unwritable_cache_is_a_warning_not_a_failed_build() {
    let s = server(0, |right| right);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // XDG_CACHE_HOME (d/cache) is a file, so the cache directory cannot be made.
    std::fs::write(d.join("cache"), "not a directory").unwrap();
    let (code, stderr) = build(&s, d);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stderr.matches("downloads are not cached: ").count(),
        1,
        "one warning per build: {stderr}"
    );
    assert!(
        stderr.contains(&format!("{}/apko-rs/", d.join("cache").display())),
        "it names the path: {stderr}"
    );
    assert!(d.join("out.tar").is_file());
}
