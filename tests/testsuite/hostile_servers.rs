//! Servers that attack the client on loopback: one that accepts and never answers, endless
//! bodies, a body trickled a byte at a time, a huge token, gzip bombs in an index's first
//! member and in a package, a secret with a newline echoed back. Each case runs the real
//! `apko` binary with short limits set by flag and checks the exact error, how long it took,
//! the child's peak memory (wait4's rusage) and that nothing is left in OUTPUT or the cache.

use crate::support::peak::{self, Run};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// What a hostile server does with one connection, given the request line's path.
type Handler = dyn Fn(&str, &mut TcpStream) + Send + Sync;

/// A raw HTTP/1.1 server on loopback: every connection on its own thread, the request head
/// read, then `handler` writes what it likes (or nothing, for as long as it likes).
fn serve(handler: impl Fn(&str, &mut TcpStream) + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handler: std::sync::Arc<Handler> = std::sync::Arc::new(handler);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let handler = handler.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    return;
                }
                let path = line.split(' ').nth(1).unwrap_or("").to_string();
                loop {
                    let mut header = String::new();
                    match reader.read_line(&mut header) {
                        Ok(0) | Err(_) => return,
                        Ok(_) if header == "\r\n" => break,
                        Ok(_) => {}
                    }
                }
                handler(&path, &mut stream);
            });
        }
    });
    format!("127.0.0.1:{}", addr.port())
}

/// Holds the connection open without a byte.
fn stall(stream: &mut TcpStream) {
    let _ = stream;
    std::thread::sleep(Duration::from_secs(120));
}

/// A 200 (or `status`) head with `headers`, then `chunk` forever (until the client hangs up).
fn endless(stream: &mut TcpStream, status: &str, headers: &str, chunk: &[u8]) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nConnection: close\r\n{headers}\r\n"
    );
    let block = chunk.repeat((64 << 10) / chunk.len().max(1));
    while stream.write_all(&block).is_ok() {}
}

/// A 200 announcing `len` bytes, one byte every `every`.
fn trickle(stream: &mut TcpStream, len: usize, every: Duration, content_type: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\n\r\n"
    );
    for _ in 0..len {
        if stream.write_all(b"{").is_err() || stream.flush().is_err() {
            return;
        }
        std::thread::sleep(every);
    }
}

fn respond(stream: &mut TcpStream, status: &str, headers: &str, body: &[u8]) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n{headers}\r\n",
        body.len()
    );
    let _ = stream.write_all(body);
}

/// Runs apko with `args` in `home` (its HOME, cache under `home/cache`), measuring its own
/// peak resident set ([`peak::run`]).
fn apko(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_apko"));
    cmd.args(args)
        .env("HOME", home)
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_RUNTIME_DIR", home)
        .env_remove("DOCKER_CONFIG")
        .env_remove("DOCKER_AUTH_CONFIG")
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("HTTP_AUTH")
        .env_remove("APKO_AUTH")
        .env_remove("GITHUB_TOKEN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    peak::run(&cmd)
}

/// Every file under `dir` (none when it does not exist).
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The `Error:` line of `stderr` (warnings before it carry timestamps).
fn error_line(stderr: &str) -> &str {
    stderr
        .lines()
        .rfind(|l| l.starts_with("Error: "))
        .unwrap_or(stderr)
}

/// What every failed case shares: exit 1, within `max`, under `max_mib` of memory, no OUTPUT
/// and an empty cache. Prints the row of the table of hostile cases.
fn check(case: &str, run: &Run, home: &Path, output: &Path, max: Duration, max_mib: i64) {
    check_with(case, run, home, output, max, max_mib, false)
}

fn check_with(
    case: &str,
    run: &Run,
    home: &Path,
    output: &Path,
    max: Duration,
    max_mib: i64,
    verified_index: bool,
) {
    eprintln!(
        "| {case} | {} | {:.1} s | {} MiB |",
        error_line(&run.stderr),
        run.took.as_secs_f64(),
        run.peak_kib / 1024
    );
    assert_eq!(run.code, Some(1), "{case}: {}", run.stderr);
    assert!(
        run.took < max,
        "{case}: took {:?}, more than {max:?}",
        run.took
    );
    assert!(
        run.peak_kib < max_mib << 10,
        "{case}: peak RSS {} KiB, more than {max_mib} MiB",
        run.peak_kib
    );
    assert!(!output.exists(), "{case}: {} was written", output.display());
    // Only an index that passed verification may be kept (the package cases serve a good
    // one); nothing refused is.
    let cached: Vec<PathBuf> = files(&home.join("cache"))
        .into_iter()
        .filter(|p| !(verified_index && p.to_string_lossy().contains("/indexes/")))
        .collect();
    assert_eq!(cached, Vec::<PathBuf>::new(), "{case}");
}

const KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/hello/apko-rs-example.rsa.pub"
);

/// `apko build` of `hello` from `http://HOST/repo` with `extra` flags.
fn build(host: &str, home: &Path, extra: &[&str]) -> (Run, PathBuf) {
    let config = home.join("apko.yaml");
    std::fs::write(
        &config,
        format!(
            "contents:\n  keyring: [{KEY}]\n  repositories: [http://{host}/repo]\n  packages: [hello]\narchs: [x86_64]\n"
        ),
    )
    .unwrap();
    let output = home.join("out.tar");
    let mut args = vec![
        "build",
        config.to_str().unwrap(),
        "hello:1",
        output.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    (apko(home, &args, &[]), output)
}

/// One gzip member of `size` zero bytes: about a thousandth of that, compressed.
fn bomb(size: usize) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..size >> 20 {
        encoder.write_all(&zeros).unwrap();
    }
    encoder.finish().unwrap()
}

#[test]
fn an_apk_repository_that_never_answers_fails_within_the_read_timeout() {
    let host = serve(|_, s| stall(s));
    let home = tempfile::tempdir().unwrap();
    let (run, out) = build(&host, home.path(), &["--read-timeout", "1"]);
    assert_eq!(
        error_line(&run.stderr),
        format!(
            "Error: building amd64: fetching http://{host}/repo/x86_64/APKINDEX.tar.gz: no answer from {host} within 1 s (--read-timeout) (after 4 attempts)"
        )
    );
    // Four tries of 1 s and 1.75 s of backoff between them.
    assert!(run.took >= Duration::from_secs(4), "{:?}", run.took);
    check(
        "APK: accepts, never answers",
        &run,
        home.path(),
        &out,
        Duration::from_secs(15),
        64,
    );
}

#[test]
fn an_endless_apkindex_is_refused_at_its_limit_and_not_cached() {
    let host = serve(|_, s| endless(s, "200 OK", "", b"\x1f\x8b endless index "));
    let home = tempfile::tempdir().unwrap();
    let (run, out) = build(
        &host,
        home.path(),
        &["--max-apkindex-decompressed-size", "1048576"],
    );
    // 1 MiB inflated allows 1 MiB + 1048 + 1 MiB (signature member) compressed.
    assert_eq!(
        error_line(&run.stderr),
        format!(
            "Error: building amd64: fetching http://{host}/repo/x86_64/APKINDEX.tar.gz: the answer is larger than the limit of 2098200 bytes (--max-apkindex-decompressed-size); refusing it"
        )
    );
    check(
        "APK: endless APKINDEX body",
        &run,
        home.path(),
        &out,
        Duration::from_secs(10),
        64,
    );
}

#[test]
fn an_endless_package_is_refused_at_the_http_limit() {
    let index = unsigned_index("Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    let host = serve(move |path, s| {
        if path.ends_with("APKINDEX.tar.gz") {
            respond(s, "200 OK", "", &index);
        } else {
            endless(s, "200 OK", "", b"endless package ");
        }
    });
    let home = tempfile::tempdir().unwrap();
    let (run, out) = build(
        &host,
        home.path(),
        &["--ignore-signatures", "--max-http-response-size", "8388608"],
    );
    assert_eq!(
        error_line(&run.stderr),
        format!(
            "Error: building amd64: fetching http://{host}/repo/x86_64/hello-1.0-r0.apk: the answer is larger than the limit of 8388608 bytes (--max-http-response-size); refusing it"
        )
    );
    check_with(
        "APK: endless package body",
        &run,
        home.path(),
        &out,
        Duration::from_secs(10),
        64,
        true,
    );
}

#[test]
fn a_trickled_apkindex_fails_at_the_response_deadline() {
    let host = serve(|_, s| trickle(s, 1000, Duration::from_millis(300), "application/gzip"));
    let home = tempfile::tempdir().unwrap();
    let (run, out) = build(
        &host,
        home.path(),
        &["--response-timeout", "2", "--read-timeout", "10"],
    );
    let prefix = format!(
        "Error: building amd64: fetching http://{host}/repo/x86_64/APKINDEX.tar.gz: the body did not arrive whole within 2 s ("
    );
    assert!(
        error_line(&run.stderr).starts_with(&prefix),
        "{}",
        run.stderr
    );
    assert!(
        error_line(&run.stderr).ends_with(
            " bytes by then; --response-timeout, plus 1 s per 256 KiB received) (after 4 attempts)"
        ),
        "{}",
        run.stderr
    );
    // Four tries of 2 s and 1.75 s of backoff.
    assert!(run.took >= Duration::from_secs(8), "{:?}", run.took);
    check(
        "APK: APKINDEX trickled 1 byte / 300 ms",
        &run,
        home.path(),
        &out,
        Duration::from_secs(25),
        64,
    );
}

#[test]
fn an_index_whose_first_member_is_a_bomb_is_refused_before_the_signature_check() {
    // 512 MiB of zeros in half a MiB: more than the default 300 MiB.
    let index = bomb(512 << 20);
    assert!(index.len() < 2 << 20, "{}", index.len());
    let host = serve(move |_, s| respond(s, "200 OK", "", &index));
    let home = tempfile::tempdir().unwrap();
    let (run, out) = build(&host, home.path(), &[]);
    assert_eq!(
        error_line(&run.stderr),
        format!(
            "Error: building amd64: http://{host}/repo/x86_64/APKINDEX.tar.gz: its first gzip member: it inflates to more than 314572800 bytes (--max-apkindex-decompressed-size); refusing it"
        )
    );
    check(
        "APK: index first member inflates to 512 MiB",
        &run,
        home.path(),
        &out,
        Duration::from_secs(30),
        64,
    );
}

/// An unsigned index naming `hello-1.0-r0` with control checksum `checksum`.
fn unsigned_index(checksum: &str) -> Vec<u8> {
    let text = format!("C:{checksum}\nP:hello\nV:1.0-r0\nA:x86_64\nS:100\nI:100\nT:hello\n\n");
    let mut tar = apko::apk::sign::cut_tar(&[("APKINDEX", text.as_bytes(), 0o644)], 0);
    tar.extend_from_slice(&[0; 1024]);
    apko::apk::sign::gzip(&tar)
}

#[test]
fn a_package_whose_first_member_is_a_bomb_is_refused_before_its_checksum() {
    let index = unsigned_index("Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    let package = bomb(64 << 20);
    let host = serve(move |path, s| {
        if path.ends_with("APKINDEX.tar.gz") {
            respond(s, "200 OK", "", &index);
        } else {
            respond(s, "200 OK", "", &package);
        }
    });
    let home = tempfile::tempdir().unwrap();
    let (run, out) = build(
        &host,
        home.path(),
        &["--ignore-signatures", "--max-apk-control-size", "1048576"],
    );
    assert_eq!(
        error_line(&run.stderr),
        format!(
            "Error: building amd64: package http://{host}/repo/x86_64/hello-1.0-r0.apk: its first gzip member: it inflates to more than 1048576 bytes (--max-apk-control-size); refusing it"
        )
    );
    check_with(
        "APK: package first member inflates to 64 MiB",
        &run,
        home.path(),
        &out,
        Duration::from_secs(10),
        64,
        true,
    );
}

/// A registry at `host` answering `/v2/` with 200 and everything else with `manifest`.
fn registry(manifest: impl Fn(&str, &mut TcpStream) + Send + Sync + 'static) -> String {
    serve(move |path, s| {
        if path == "/v2/" {
            respond(s, "200 OK", "", b"{}");
        } else {
            manifest(path, s)
        }
    })
}

fn pull(host: &str, home: &Path, extra: &[&str], env: &[(&str, &str)]) -> (Run, PathBuf) {
    let dest = home.join("pulled");
    let reference = format!("{host}/x:latest");
    let mut args = vec!["pull", reference.as_str(), dest.to_str().unwrap()];
    args.extend_from_slice(extra);
    (apko(home, &args, env), dest)
}

const MANIFEST: &str = "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n";

#[test]
fn an_endless_manifest_is_refused_at_4_mib() {
    let host = registry(|_, s| endless(s, "200 OK", MANIFEST, b"{\"a\":1}"));
    let home = tempfile::tempdir().unwrap();
    let (run, dest) = pull(&host, home.path(), &[], &[]);
    assert_eq!(
        error_line(&run.stderr),
        format!(
            "Error: GET manifest latest of {host}/x: the answer is larger than the limit of 4194304 bytes (a registry stores no manifest over 4 MiB); refusing it"
        )
    );
    check(
        "registry: endless manifest",
        &run,
        home.path(),
        &dest,
        Duration::from_secs(10),
        64,
    );
}

#[test]
fn an_endless_404_body_gives_the_status_error() {
    let host = registry(|_, s| endless(s, "404 Not Found", "", b"no such manifest "));
    let home = tempfile::tempdir().unwrap();
    let (run, dest) = pull(&host, home.path(), &[], &[]);
    let excerpt: String = "no such manifest ".repeat(20).chars().take(300).collect();
    assert_eq!(
        error_line(&run.stderr),
        format!("Error: GET manifest latest of {host}/x: 404 Not Found ({excerpt})")
    );
    check(
        "registry: endless 404 body",
        &run,
        home.path(),
        &dest,
        Duration::from_secs(10),
        64,
    );
}

#[test]
fn a_trickled_manifest_fails_at_the_response_deadline() {
    let host = registry(|_, s| {
        trickle(
            s,
            1000,
            Duration::from_millis(300),
            "application/vnd.oci.image.manifest.v1+json",
        )
    });
    let home = tempfile::tempdir().unwrap();
    let (run, dest) = pull(&host, home.path(), &["--response-timeout", "2"], &[]);
    let prefix = format!(
        "Error: GET manifest latest of {host}/x: the body did not arrive whole within 2 s ("
    );
    assert!(
        error_line(&run.stderr).starts_with(&prefix),
        "{}",
        run.stderr
    );
    assert!(
        error_line(&run.stderr)
            .ends_with(" bytes by then; --response-timeout, plus 1 s per 256 KiB received)"),
        "{}",
        run.stderr
    );
    check(
        "registry: manifest trickled 1 byte / 300 ms",
        &run,
        home.path(),
        &dest,
        Duration::from_secs(8),
        64,
    );
}

#[test]
fn a_registry_that_never_answers_fails_within_the_read_timeout() {
    let host = serve(|_, s| stall(s));
    let home = tempfile::tempdir().unwrap();
    let (run, dest) = pull(
        &host,
        home.path(),
        &["--read-timeout", "1", "--plain-http"],
        &[],
    );
    assert_eq!(
        error_line(&run.stderr),
        format!(
            "Error: GET http://{host}/v2/: no answer from {host} within 1 s (--read-timeout) (after 4 attempts)"
        )
    );
    assert!(run.took >= Duration::from_secs(4), "{:?}", run.took);
    check(
        "registry: accepts, never answers",
        &run,
        home.path(),
        &dest,
        Duration::from_secs(15),
        64,
    );
}

/// A registry whose token endpoint answers with `token`.
fn token_registry(token: impl Fn(&mut TcpStream) + Send + Sync + 'static) -> String {
    let port = std::sync::Arc::new(std::sync::OnceLock::<String>::new());
    let realm = port.clone();
    let host = serve(move |path, s| {
        if path.starts_with("/token") {
            token(s);
        } else {
            let host = realm.get().unwrap();
            respond(
                s,
                "401 Unauthorized",
                &format!(
                    "WWW-Authenticate: Bearer realm=\"http://{host}/token\",service=\"x\"\r\n"
                ),
                b"{}",
            );
        }
    });
    port.set(host.clone()).unwrap();
    host
}

#[test]
fn an_endless_token_answer_is_refused_at_1_mib() {
    let host = token_registry(|s| endless(s, "200 OK", "", b"{\"token\":\"aaaa"));
    let home = tempfile::tempdir().unwrap();
    let (run, dest) = pull(&host, home.path(), &[], &[]);
    assert!(
        run.stderr.contains(&format!(
            "reading the answer of token endpoint http://{host}/token (GET): the answer is larger than the limit of 1048576 bytes (a token answer is a few KiB); refusing it"
        )),
        "{}",
        run.stderr
    );
    check(
        "registry: endless token answer",
        &run,
        home.path(),
        &dest,
        Duration::from_secs(10),
        64,
    );
}

#[test]
fn a_100_mb_token_is_refused_unread() {
    // Streamed, so that the test process stays small (a child spawned by vfork counts the
    // parent's resident pages in its peak).
    let host = token_registry(|s| {
        let _ = write!(
            s,
            "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 100000012\r\n\r\n{{\"token\":\""
        );
        let block = vec![b'a'; 1 << 20];
        for _ in 0..95 {
            if s.write_all(&block).is_err() {
                return;
            }
        }
    });
    let home = tempfile::tempdir().unwrap();
    let (run, dest) = pull(&host, home.path(), &[], &[]);
    assert!(
        run.stderr.contains(&format!(
            "reading the answer of token endpoint http://{host}/token (GET): the answer announces 100000012 bytes, more than the limit of 1048576 bytes (a token answer is a few KiB); refusing it"
        )),
        "{}",
        run.stderr
    );
    check(
        "registry: 100 MB token",
        &run,
        home.path(),
        &dest,
        Duration::from_secs(10),
        64,
    );
}

#[test]
fn a_secret_with_a_newline_echoed_by_the_registry_is_masked() {
    use base64::Engine;
    let secret = "s3cr3t-first\nsecond\u{7}third";
    let echo = serde_json::json!({
        "errors": [{"code": "DENIED", "message": format!("bad password {secret}")}]
    })
    .to_string();
    let host = serve(move |_, s| {
        respond(
            s,
            "401 Unauthorized",
            "WWW-Authenticate: Basic realm=\"x\"\r\n",
            echo.as_bytes(),
        )
    });
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("alice:{secret}"));
    let config = format!("{{\"auths\":{{\"{host}\":{{\"auth\":\"{auth}\"}}}}}}");
    let home = tempfile::tempdir().unwrap();
    let (run, _) = pull(&host, home.path(), &[], &[("DOCKER_AUTH_CONFIG", &config)]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    for part in ["s3cr3t", "second", "third"] {
        assert!(!run.stderr.contains(part), "{part} in {}", run.stderr);
    }
    eprintln!(
        "| registry: secret with a newline echoed | {} |",
        error_line(&run.stderr)
    );
    assert!(run.stderr.contains("<redacted>"), "{}", run.stderr);
}
