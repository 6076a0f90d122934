//! docker-credential-apko, the real binary, on the real keychains: the kernel keyring (the
//! test run has no session keyring, as CI jobs and containers; one test adds `keyctl session -`)
//! and gnome-keyring's Secret Service on a private D-Bus. Driven through this project's client, so both sides meet for real.

use apko_credential::Program;
use apko_credential::wire::Credentials;
use apko_test_support::{SENTINEL, SecretService, require};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_docker-credential-apko");

fn keyutils() -> Program {
    Program::new(BIN).env("DOCKER_CREDENTIAL_APKO_BACKEND", "keyutils")
}

/// Runs the helper inside a fresh `keyctl session -` (a login-like session keyring).
fn in_session(action: &str, stdin: &str) -> (i32, String) {
    require("keyctl", "keyutils");
    let mut child = Command::new("keyctl")
        .args(["session", "-", BIN, action])
        .env("DOCKER_CREDENTIAL_APKO_BACKEND", "keyutils")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

/// Keys written with or without a session keyring are found by processes of the other kind:
/// both go through the per-user persistent keyring. (Before the fix, a `store` by a process
/// without a session keyring succeeded and no later `get` could find it.)
#[test]
fn keyutils_entries_cross_between_session_and_sessionless_processes() {
    let outside = key("sessionless");
    let inside = key("in-session");
    let helper = keyutils();
    helper
        .store(&Credentials::new(&outside, "u1", "s-outside"))
        .unwrap();
    assert_eq!(
        helper.get(&outside).unwrap().unwrap().secret.expose(),
        "s-outside"
    );
    assert_eq!(
        in_session("get", &outside),
        (
            0,
            format!(r#"{{"ServerURL":"{outside}","Username":"u1","Secret":"s-outside"}}"#) + "\n"
        )
    );
    let payload = format!(r#"{{"ServerURL":"{inside}","Username":"u2","Secret":"s-inside"}}"#);
    assert_eq!(in_session("store", &payload), (0, String::new()));
    let got = helper.get(&inside).unwrap().unwrap();
    assert_eq!(
        (got.username.as_str(), got.secret.expose().as_str()),
        ("u2", "s-inside")
    );
    let listed = helper.list().unwrap();
    assert_eq!(listed.get(&outside).map(String::as_str), Some("u1"));
    assert_eq!(listed.get(&inside).map(String::as_str), Some("u2"));
    assert!(helper.erase(&inside).unwrap());
    assert_eq!(in_session("erase", &outside), (0, String::new()));
    assert!(helper.get(&outside).unwrap().is_none());
    assert!(helper.get(&inside).unwrap().is_none());
}

fn secret_service(service: &SecretService) -> Program {
    let p = Program::new(BIN).env("DOCKER_CREDENTIAL_APKO_BACKEND", "secret-service");
    service
        .env
        .iter()
        .fold(p, |p, (k, v)| p.env(k.clone(), v.clone()))
}

/// Keys unique to this test process: the kernel keyring's persistent keyring is per user,
/// shared by every test.
fn key(name: &str) -> String {
    format!("{name}.{}.test.invalid:5000", std::process::id())
}

fn round_trip(helper: &Program, prefix: &str) {
    let k = key(prefix);
    let hub = format!("https://{}/v1/", key(&format!("{prefix}-hub")));
    assert!(helper.get(&k).unwrap().is_none());
    helper
        .store(&Credentials::new(&k, "testuser", SENTINEL))
        .unwrap();
    helper
        .store(&Credentials::new(&hub, "<token>", "refresh-1"))
        .unwrap();
    let got = helper.get(&k).unwrap().unwrap();
    assert_eq!(
        (got.server_url.as_str(), got.username.as_str()),
        (k.as_str(), "testuser")
    );
    assert_eq!(got.secret.expose(), SENTINEL);
    assert!(helper.get(&hub).unwrap().unwrap().is_identity_token());
    let list = helper.list().unwrap();
    assert_eq!(list.get(&k).map(String::as_str), Some("testuser"));
    assert_eq!(list.get(&hub).map(String::as_str), Some("<token>"));
    // Exact keys: the scheme-prefixed form is another key.
    assert!(helper.get(&format!("https://{k}")).unwrap().is_none());

    // Any size, any bytes the protocol carries, byte-exactly; then overwrite with a short one.
    let odd = "line1\nquote\" back\\slash & <tag> ünïcødé 🔑\u{1}\r\n\n";
    let big: String = odd.repeat((1 << 20) / odd.len() + 1);
    for secret in [odd, big.as_str(), "short"] {
        helper
            .store(&Credentials::new(&k, "testuser", secret))
            .unwrap();
        assert_eq!(
            helper.get(&k).unwrap().unwrap().secret.expose(),
            secret,
            "{} bytes",
            secret.len()
        );
    }

    assert!(helper.erase(&k).unwrap());
    assert!(helper.get(&k).unwrap().is_none());
    assert!(!helper.list().unwrap().contains_key(&k));
    // Erasing a missing key succeeds (documented in plugin-protocol.md).
    assert!(helper.erase(&k).unwrap());
    assert!(helper.erase(&hub).unwrap());
}

#[test]
fn keyutils_round_trip() {
    round_trip(&keyutils(), "rt");
}

#[test]
fn secret_service_round_trip() {
    let service = SecretService::start();
    let helper = secret_service(&service);
    assert_eq!(
        helper.list().unwrap().len(),
        0,
        "a fresh keyring lists nothing"
    );
    round_trip(&helper, "rt");
    assert_eq!(helper.list().unwrap().len(), 0);
}

#[test]
fn exact_protocol_texts_from_the_binary() {
    let run = |args: &[&str], stdin: &[u8]| {
        let inv = keyutils().invoke(args, stdin).unwrap();
        (inv.code, String::from_utf8(inv.stdout).unwrap(), inv.stderr)
    };
    let missing = key("never-stored");
    assert_eq!(
        run(&["get"], missing.as_bytes()),
        (
            Some(1),
            "credentials not found in native keychain\n".into(),
            vec![]
        )
    );
    assert_eq!(
        run(&["get"], b" \n"),
        (Some(1), "no credentials server URL\n".into(), vec![])
    );
    assert_eq!(
        run(&["erase"], missing.as_bytes()),
        (Some(0), String::new(), vec![])
    );
    assert_eq!(
        run(&["store"], br#"{"ServerURL":"x"}"#),
        (Some(1), "no credentials username\n".into(), vec![])
    );
    let usage = "Usage: docker-credential-apko <store|get|erase|list|version>\n";
    assert_eq!(run(&[], b""), (Some(1), usage.into(), vec![]));
    assert_eq!(run(&["-h"], b""), (Some(0), usage.into(), vec![]));
    let version = format!(
        "docker-credential-apko (apko-rs) {}\n",
        env!("CARGO_PKG_VERSION")
    );
    for flag in ["version", "--version", "-v"] {
        assert_eq!(run(&[flag], b""), (Some(0), version.clone(), vec![]));
    }
    assert_eq!(
        run(&["frob"], b""),
        (
            Some(1),
            "docker-credential-apko: unknown action: frob\n".into(),
            vec![]
        )
    );
}

#[test]
fn hundred_parallel_stores_and_gets_leave_a_complete_list() {
    let helper = keyutils();
    let keys: Vec<String> = (0..100).map(|i| key(&format!("par{i}"))).collect();
    std::thread::scope(|scope| {
        for chunk in keys.chunks(10) {
            let helper = &helper;
            scope.spawn(move || {
                for k in chunk {
                    helper
                        .store(&Credentials::new(
                            k,
                            format!("user-{k}"),
                            format!("secret-{k}"),
                        ))
                        .unwrap();
                    let got = helper.get(k).unwrap().unwrap();
                    assert_eq!(got.secret.expose(), &format!("secret-{k}"));
                }
            });
        }
    });
    let list = helper.list().unwrap();
    for k in &keys {
        assert_eq!(
            list.get(k),
            Some(&format!("user-{k}")),
            "{k} missing from list"
        );
        assert_eq!(
            helper.get(k).unwrap().unwrap().secret.expose(),
            &format!("secret-{k}")
        );
    }
    std::thread::scope(|scope| {
        for chunk in keys.chunks(10) {
            let helper = &helper;
            scope.spawn(move || chunk.iter().for_each(|k| assert!(helper.erase(k).unwrap())));
        }
    });
    let list = helper.list().unwrap();
    assert!(keys.iter().all(|k| !list.contains_key(k)));
}

#[test]
fn entries_carry_the_documented_service_and_label() {
    require("secret-tool", "libsecret-tools");
    let service = SecretService::start();
    let helper = secret_service(&service);
    helper
        .store(&Credentials::new("r.example", "u", SENTINEL))
        .unwrap();
    let mut cmd = Command::new("secret-tool");
    cmd.args(["search", "--all", "service", "docker-credential-apko"]);
    for (k, v) in &service.env {
        cmd.env(k, v);
    }
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("label = Docker credentials for r.example (docker-credential-apko)"),
        "{text}"
    );
    assert!(
        text.contains("attribute.service = docker-credential-apko"),
        "{text}"
    );
    assert!(text.contains("attribute.username = r.example"), "{text}");
}

#[test]
fn without_a_reachable_keychain_it_fails_fast_and_never_prompts() {
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .arg("get")
        .env("DOCKER_CREDENTIAL_APKO_BACKEND", "secret-service")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .env_remove("DISPLAY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // The URL, then stdin closed: nobody is there to answer a prompt.
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"r.example").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.starts_with("docker-credential-apko: the Secret Service is not reachable: "),
        "{stdout}"
    );
    let out = Command::new(BIN)
        .arg("list")
        .env("DOCKER_CREDENTIAL_APKO_BACKEND", "bogus")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "docker-credential-apko: DOCKER_CREDENTIAL_APKO_BACKEND=\"bogus\" is not a backend; use secret-service, keyutils or auto\n"
    );
}

#[test]
fn the_macos_and_windows_backends_are_refused_on_linux() {
    for (backend, platform) in [("keychain", "macOS"), ("wincred", "Windows")] {
        let out = Command::new(BIN)
            .arg("list")
            .env("DOCKER_CREDENTIAL_APKO_BACKEND", backend)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            format!(
                "docker-credential-apko: DOCKER_CREDENTIAL_APKO_BACKEND={backend} exists only on {platform}; \
                 use secret-service, keyutils or auto\n"
            )
        );
    }
}

#[test]
fn a_keychain_that_never_answers_is_cut_off_by_the_watchdog() {
    // A stdin that never ends stands in for a keychain stuck on an invisible prompt.
    struct Forever;
    impl std::io::Read for Forever {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            std::thread::sleep(Duration::from_secs(3600));
            Ok(0)
        }
    }
    let mut out = Vec::new();
    let started = Instant::now();
    let code = docker_credential_apko::run(
        vec!["store".into()],
        Forever,
        &mut out,
        Duration::from_millis(300),
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(code, 1);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "docker-credential-apko: the keychain did not answer within 0.3s (locked, or waiting for a password prompt?); \
         unlock it, or use DOCKER_CREDENTIAL_APKO_BACKEND=keyutils on a machine without a desktop session\n"
    );
}

/// Runs the binary with `DOCKER_CREDENTIAL_APKO_BACKEND=keyutils`: (exit code, stdout).
fn keyutils_run(action: &str, stdin: &[u8]) -> (Option<i32>, String) {
    let inv = keyutils().invoke(&[action], stdin).unwrap();
    (inv.code, String::from_utf8(inv.stdout).unwrap())
}

/// A server URL longer than a kernel key's description can hold: `store` names the URL and
/// the limit (it said "Value of 'password' is invalid"), `get` does not find it and `erase`
/// succeeds, as for any missing entry (both failed). One of exactly 4,000 bytes, with a secret
/// of three parts, round-trips.
#[test]
fn a_server_url_too_long_for_the_kernel_keyring_is_refused_by_name_and_erases() {
    let long = "h".repeat(100_000);
    let payload = serde_json::json!({"ServerURL": long, "Username": "u", "Secret": "s"});
    assert_eq!(
        keyutils_run("store", payload.to_string().as_bytes()),
        (
            Some(1),
            format!(
                "docker-credential-apko (keyutils): the server URL \"{}\"… is 100000 bytes long; \
                 this keychain takes server URLs of at most 4000 bytes\n",
                "h".repeat(64)
            )
        )
    );
    assert_eq!(
        keyutils_run("get", long.as_bytes()),
        (Some(1), "credentials not found in native keychain\n".into())
    );
    assert_eq!(
        keyutils_run("erase", long.as_bytes()),
        (Some(0), String::new())
    );

    let mut edge = key("edge");
    edge.push_str(&"e".repeat(4_000 - edge.len()));
    let secret = "x".repeat(70_000);
    let helper = keyutils();
    helper
        .store(&Credentials::new(&edge, "u", secret.as_str()))
        .unwrap();
    assert_eq!(helper.get(&edge).unwrap().unwrap().secret.expose(), &secret);
    assert_eq!(
        helper.list().unwrap().get(&edge).map(String::as_str),
        Some("u")
    );
    assert!(helper.erase(&edge).unwrap());
    assert!(helper.get(&edge).unwrap().is_none());
    let one_more = format!("{edge}e");
    let payload = serde_json::json!({"ServerURL": one_more, "Username": "u", "Secret": "s"});
    let (code, out) = keyutils_run("store", payload.to_string().as_bytes());
    assert_eq!(code, Some(1));
    assert!(
        out.ends_with(
            "is 4001 bytes long; this keychain takes server URLs of at most 4000 bytes\n"
        ),
        "{out}"
    );
}

/// The kernel's per-user key quota (20,000 bytes for a non-root user by default) is named, with
/// the file that sets it and how to raise it; the store said "QuotaExceeded". Run as `nobody`
/// when the tests run as root (root's quota is 25 MB), else as the test's own user.
#[test]
fn the_kernel_keyring_quota_is_named_with_how_to_raise_it() {
    // SAFETY: getuid(2) cannot fail.
    let root = unsafe { libc::getuid() } == 0;
    let uid = if root {
        65534
    } else {
        unsafe { libc::getuid() }
    };
    let read = |name: &str| {
        let path = format!("/proc/sys/kernel/keys/{name}");
        (
            std::fs::read_to_string(&path).unwrap().trim().to_string(),
            path,
        )
    };
    let (bytes, bytes_path) = read("maxbytes");
    let (keys, keys_path) = read("maxkeys");
    let over: usize = bytes.parse::<usize>().unwrap() + 1;
    assert!(
        over < 32_000,
        "{bytes_path} is {bytes}: the test needs a quota below one kernel key (32,000 bytes)"
    );
    let payload = serde_json::json!({
        "ServerURL": key("quota"), "Username": "u", "Secret": "q".repeat(over),
    });
    let mut cmd = if root {
        require("setpriv", "util-linux");
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN]);
        c
    } else {
        Command::new(BIN)
    };
    let mut child = cmd
        .arg("store")
        .env("DOCKER_CREDENTIAL_APKO_BACKEND", "keyutils")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        payload.to_string().as_bytes(),
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        (out.status.code(), String::from_utf8(out.stdout).unwrap()),
        (
            Some(1),
            format!(
                "docker-credential-apko (keyutils): storing the credentials: the kernel keyring's \
                 quota for user {uid} is full (at most {bytes} bytes of keys, {bytes_path}, and \
                 {keys} keys, {keys_path}); erase other keys, or raise the quota as root: \
                 `sysctl -w kernel.keys.maxbytes=1000000`\n"
            )
        )
    );
}
