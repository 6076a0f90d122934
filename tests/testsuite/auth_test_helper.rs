//! `apko auth test-helper` and `apko auth migrate` against real helpers: docker-credential-apko
//! on both Linux backends, docker-credential-pass and docker-credential-secretservice.

use crate::support::{PassStore, SecretService, our_helper, require};
use apko_credential::{Credentials, Program};

use std::process::{Command, Output};

fn apko(args: &[&str], env: &[(String, String)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_apko"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run apko")
}

struct Run {
    code: Option<i32>,
    report: serde_json::Value,
}

impl Run {
    fn failed(&self) -> Vec<u64> {
        self.with("fail")
    }

    fn with(&self, result: &str) -> Vec<u64> {
        self.report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["result"] == result)
            .map(|c| c["item"].as_u64().unwrap())
            .collect()
    }

    /// Every item that did not pass, one line each, so a failing assertion shows them first
    /// (CI logs keep only the start and end of long output).
    fn summary(&self) -> String {
        self.report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["result"] != "pass")
            .map(|c| format!("item {} {}: {}", c["item"], c["result"], c["detail"]))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn detail(&self, item: u64) -> String {
        self.report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["item"] == item)
            .unwrap()["detail"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

fn test_helper(name: &str, env: &[(String, String)]) -> Run {
    let out = apko(&["auth", "test-helper", name, "--format", "json"], env);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(report["checks"].as_array().unwrap().len(), 30, "{report:#}");
    assert_eq!(report["leftovers"], serde_json::json!([]), "{report:#}");
    Run {
        code: out.status.code(),
        report,
    }
}

fn keyutils() -> Vec<(String, String)> {
    vec![("DOCKER_CREDENTIAL_APKO_BACKEND".into(), "keyutils".into())]
}

#[test]
fn docker_credential_apko_passes_every_item_on_keyutils() {
    let run = test_helper(our_helper().to_str().unwrap(), &keyutils());
    assert_eq!(run.failed(), Vec::<u64>::new(), "{}", run.summary());
    assert_eq!(run.code, Some(0));
    // The kernel keyring is shared with the other tests, so it is rarely empty.
    let skipped = run.with("skip");
    assert!(skipped.is_empty() || skipped == [20], "{skipped:?}");
}

#[test]
fn docker_credential_apko_passes_every_item_on_secret_service() {
    let service = SecretService::start();
    let mut env = service.env.clone();
    env.push((
        "DOCKER_CREDENTIAL_APKO_BACKEND".into(),
        "secret-service".into(),
    ));
    let run = test_helper(our_helper().to_str().unwrap(), &env);
    assert_eq!(run.with("pass").len(), 30, "{}", run.summary());
    assert_eq!(run.code, Some(0));
    assert_eq!(
        run.detail(16),
        "https://host:port does not match host:port (as pass and secretservice)"
    );
}

#[test]
fn docker_credential_pass_fails_the_items_its_quirks_predict() {
    require("docker-credential-pass", "golang-docker-credential-helpers");
    let store = PassStore::init();
    let run = test_helper("pass", &store.env);
    // Debian's 0.6.4 (plugin-protocol.md §9): a missing key answers exit 0 with empty
    // credentials (4, 17, 29); the trailing newline of a secret is lost (13); a second store
    // with another username adds a file and `get` keeps answering the first (14); erase of a
    // missing key is an error with its own text (18); no --version/--help (24).
    // Under load, gpg-agent sometimes refuses one of item 27's parallel gets ("No secret key",
    // plugin-protocol.md §9.3): a real failure of pass, so the report must say so and name gpg.
    let mut failed = run.failed();
    if failed.contains(&27) {
        let detail = run.detail(27);
        assert!(
            detail.contains(" of 30 calls failed; first: ") && detail.contains("gpg: "),
            "{detail}"
        );
        failed.retain(|&i| i != 27);
    }
    assert_eq!(failed, [4, 13, 14, 17, 18, 24, 29], "{}", run.summary());
    assert_eq!(run.code, Some(1));
    assert!(
        run.detail(13).starts_with(
            "secret came back as 76 bytes instead of 77 (first difference at byte 76)"
        ),
        "{}",
        run.detail(13)
    );
    assert_eq!(
        run.detail(14),
        "Username came back as Some(\"u1\") instead of \"u2\""
    );
    assert_eq!(run.detail(29), "exit 0 on: get (unknown), get (erased)");
    assert!(
        run.detail(18)
            .starts_with("exit 1 with stdout \"exit status 1: Error: docker-credential-helpers/"),
        "{}",
        run.detail(18)
    );
}

#[test]
fn docker_credential_secretservice_fails_the_items_its_quirks_predict() {
    require(
        "docker-credential-secretservice",
        "golang-docker-credential-helpers",
    );
    let service = SecretService::start();
    let run = test_helper("secretservice", &service.env);
    // Debian's 0.6.4: an entry stored with an empty secret cannot be read back (9), and so
    // `list` shows a key `get` cannot read (21); no --version/--help (24).
    // A second store with another username adds a second item instead of replacing the first
    // (14). Which item `get` and `list` answer is fixed for one gnome-keyring run but differs
    // between runs: in about 1 run in 25 both answer with the newer item, and then nothing the
    // protocol can ask shows the older one (`erase` removes both), so item 14 passes.
    let failed = run.failed();
    assert!(
        failed == [9, 14, 21, 24] || failed == [9, 21, 24],
        "{failed:?}\n{}",
        run.summary()
    );
    assert_eq!(run.code, Some(1));
    if failed.contains(&14) {
        assert!(
            run.detail(14).ends_with("\"u1\") instead of \"u2\"")
                || run.detail(14).ends_with("\"u1\" instead of \"u2\""),
            "{}",
            run.detail(14)
        );
    }
    assert!(
        run.detail(21).contains("/empty-secret\": get failed"),
        "{}",
        run.detail(21)
    );
    assert_eq!(
        run.detail(24),
        "--version: exit 1; -v: exit 1; --help: exit 1; -h: exit 1"
    );
}

#[test]
fn a_careless_helper_fails_the_items_it_breaks() {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/careless-helper.sh"
    );
    let run = test_helper(fixture, &[]);
    assert_eq!(run.code, Some(1));
    assert_eq!(
        run.failed(),
        [
            1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 19, 20, 21, 22, 23, 24, 25,
            27, 28, 29, 30
        ],
        "{}",
        run.summary()
    );
    assert!(
        run.detail(25).contains("stderr of: store"),
        "{}",
        run.detail(25)
    );
    assert!(
        run.detail(28)
            .starts_with("still open 250 ms after exit: list"),
        "{}",
        run.detail(28)
    );
}

#[test]
fn table_output_names_the_helper_and_the_totals() {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/careless-helper.sh"
    );
    let out = apko(&["auth", "test-helper", fixture], &[]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(&format!(
            "Conformance of {fixture} (credential-helpers.md §7(a); scratch host apko-test-helper-"
        )),
        "{text}"
    );
    assert!(text.contains("\n   4  FAIL    get of an unknown server: the not-found text, non-zero exit\n              exit 0 with stdout \"(nothing)\"\n"), "{text}");
    assert!(text.ends_with("2 passed, 28 failed, 0 skipped (failed: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 19, 20, 21, 22, 23, 24, 25, 27, 28, 29, 30)\nAll scratch entries were removed.\n"), "{text}");
}

#[test]
fn migrate_copies_pass_into_docker_credential_apko_without_printing_secrets() {
    require("docker-credential-pass", "golang-docker-credential-helpers");
    let store = PassStore::init();
    let pass = Program::new("pass");
    let pass = store
        .env
        .iter()
        .fold(pass, |p, (k, v)| p.env(k.clone(), v.clone()));
    let ours = our_helper();
    let ours_str = ours.to_str().unwrap();
    let apko_helper = Program::new(ours_str).env("DOCKER_CREDENTIAL_APKO_BACKEND", "keyutils");
    let nonce = std::process::id();
    let a = format!("https://migrate-a-{nonce}.example");
    let b = format!("migrate-b-{nonce}.example:5000");
    let c = format!("https://migrate-c-{nonce}.example/v1/");
    let secret_a = format!("{}-a", crate::support::SENTINEL);
    let secret_b = format!("{}-b", crate::support::SENTINEL);
    pass.store(&Credentials::new(&a, "alice", &secret_a))
        .unwrap();
    pass.store(&Credentials::new(&b, "<token>", &secret_b))
        .unwrap();
    pass.store(&Credentials::new(&c, "carol", "old")).unwrap();
    // The destination already has c, with other credentials: kept without --overwrite.
    apko_helper
        .store(&Credentials::new(&c, "carol", "newer"))
        .unwrap();

    let mut env = store.env.clone();
    env.extend(keyutils());
    let out = apko(
        &["auth", "migrate", "--from", "pass", "--to", ours_str],
        &env,
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        !stdout.contains(crate::support::SENTINEL) && !stderr.contains(crate::support::SENTINEL)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            format!("copied     {a} (user \"alice\")"),
            format!(
                "kept       {c} ({ours_str} already has different credentials; --overwrite replaces them)"
            ),
            format!("copied     {b} (an identity token)"),
            format!("Copied 2 of 3 entries from docker-credential-pass to {ours_str} (1 kept)."),
        ]
    );
    let got = apko_helper.get(&a).unwrap().unwrap();
    assert_eq!(
        (got.username.as_str(), got.secret.expose().as_str()),
        ("alice", secret_a.as_str())
    );
    let got = apko_helper.get(&b).unwrap().unwrap();
    assert!(got.is_identity_token());
    assert_eq!(got.secret.expose(), &secret_b);
    assert_eq!(
        apko_helper.get(&c).unwrap().unwrap().secret.expose(),
        "newer"
    );

    // A second run changes nothing; --overwrite then replaces c.
    let out = apko(
        &[
            "auth",
            "migrate",
            "--from",
            "pass",
            "--to",
            ours_str,
            "--overwrite",
        ],
        &env,
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.ends_with(&format!(
            "Copied 1 of 3 entries from docker-credential-pass to {ours_str} (2 unchanged).\n"
        )),
        "{stdout}"
    );
    assert_eq!(apko_helper.get(&c).unwrap().unwrap().secret.expose(), "old");
    for url in [&a, &b, &c] {
        apko_helper.erase(url).unwrap();
    }
}

#[test]
fn migrate_reports_an_unlistable_source_and_the_same_helper_twice() {
    let out = apko(&["auth", "migrate", "--from", "apko", "--to", "apko"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "Error: --from and --to both name \"apko\"; name two different helpers\n"
    );
    let out = apko(
        &[
            "auth",
            "migrate",
            "--from",
            "no-such-helper-xyz",
            "--to",
            "apko",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "Error: cannot list the entries to copy: credential helper docker-credential-no-such-helper-xyz is not installed: it is not on PATH; install it, or remove the setting that names it\n"
    );
}

// docker-credential-helpers v0.9.13, upstream's current release, built by tests/peers.sh.

/// The variables for a 0.9.13 helper: `env`, and the Go peers' directory on PATH.
fn with_peers(env: &[(String, String)]) -> Vec<(String, String)> {
    let mut env = env.to_vec();
    env.push((
        "PATH".into(),
        crate::support::path_with_peers(&[]).into_string().unwrap(),
    ));
    env
}

/// A 0.9.13 helper called directly, with `env`.
fn go_helper(name: &str, env: &[(String, String)]) -> Program {
    let path = crate::support::peer(&format!("docker-credential-{name}"));
    env.iter()
        .fold(Program::new(path.to_str().unwrap()), |p, (k, v)| {
            p.env(k.clone(), v.clone())
        })
}

/// Erases keys from docker-credential-apko on the kernel keyring now and on drop, also when
/// the test fails (the keyring outlives the test).
struct ForgetInOurs(Vec<String>);

impl ForgetInOurs {
    fn new(keys: &[&String]) -> ForgetInOurs {
        let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        let ours = Program::new(our_helper().to_str().unwrap())
            .env("DOCKER_CREDENTIAL_APKO_BACKEND", "keyutils");
        for k in &keys {
            ours.erase(k).unwrap();
        }
        ForgetInOurs(keys)
    }
}

impl Drop for ForgetInOurs {
    fn drop(&mut self) {
        let ours = Program::new(our_helper().to_str().unwrap())
            .env("DOCKER_CREDENTIAL_APKO_BACKEND", "keyutils");
        for k in &self.0 {
            let _ = ours.erase(k);
        }
    }
}

#[test]
fn docker_credential_pass_0_9_13_fails_the_items_its_source_predicts() {
    let store = PassStore::init();
    let run = test_helper("pass-0.9.13", &with_peers(&store.env));
    assert_eq!(
        run.report["version"],
        "docker-credential-pass (github.com/docker/docker-credential-helpers) v0.9.13"
    );
    // pass/pass.go at v0.9.13 (the 0.6.4 misses answered with exit 0 were fixed in 0.7):
    // - 13: runPassHelper trims every trailing "\n\r" of `pass show`'s output
    //   (strings.TrimRight), so a secret ending in a newline loses it;
    // - 14: Add inserts `docker-credential-helpers/<base64url(ServerURL)>/<Username>`, so a
    //   second username adds a second file beside the first, and Get and List answer with the
    //   first name os.ReadDir returns (sorted: u1 before u2, every run);
    // - 18: Delete runs `pass rm -rf` on the missing directory; pass exits 1 ("… is not in the
    //   password store.") and the helper prints that error, not the not-found text.
    // Item 27 may fail under load as for Debian's pass (gpg-agent refusing a parallel get).
    let mut failed = run.failed();
    if failed.contains(&27) {
        let detail = run.detail(27);
        assert!(
            detail.contains(" of 30 calls failed; first: ") && detail.contains("gpg: "),
            "{detail}"
        );
        failed.retain(|&i| i != 27);
    }
    assert_eq!(failed, [13, 14, 18], "{}", run.summary());
    assert_eq!(run.code, Some(1));
    assert_eq!(
        run.detail(13),
        "secret came back as 76 bytes instead of 77 (first difference at byte 76)"
    );
    assert_eq!(
        run.detail(14),
        "Username came back as Some(\"u1\") instead of \"u2\""
    );
    assert!(
        run.detail(18)
            .starts_with("exit 1 with stdout \"exit status 1: Error: docker-credential-helpers/"),
        "{}",
        run.detail(18)
    );
    // Fixed since 0.6.4: a miss is the not-found text with exit 1 (4, 17, 29); version works.
    assert_eq!(run.detail(24), "");
}

#[test]
fn docker_credential_secretservice_0_9_13_fails_the_items_its_source_predicts() {
    let service = SecretService::start();
    let run = test_helper("secretservice-0.9.13", &with_peers(&service.env));
    assert_eq!(
        run.report["version"],
        "docker-credential-secretservice (github.com/docker/docker-credential-helpers) v0.9.13"
    );
    // secretservice/secretservice.{go,c} at v0.9.13:
    // - 9: Get answers ErrCredentialsNotFound whenever the stored secret is "" (`if pass == ""`);
    // - 21, 22: Add gives each item the display label `Registry credentials for <ServerURL>`
    //   (since v0.9.0), and list() keys its answer by secret_item_get_label(), not by the
    //   `server` attribute: every key `list` prints is that label, which `get` does not know,
    //   so no listed key reads back (21) and the <token> entry is not listed under its URL (22);
    // - 14: add() stores with attributes label, server, username and docker_cli, so another
    //   username is another item; get() walks every item for the server and keeps the last the
    //   search returns. Which one that is differs between gnome-keyring runs (as for 0.6.4):
    //   usually the older ("u1"); when it is the newer, the item still fails, on its `list`
    //   step, since `list` never shows the URL (the label quirk above). Unlike 0.6.4's, this
    //   item fails every run.
    // 0.6.4's item 24 (no --version/--help) is fixed.
    assert_eq!(run.failed(), [9, 14, 21, 22], "{}", run.summary());
    assert_eq!(run.code, Some(1));
    assert_eq!(
        run.detail(9),
        "get: exit 1 with stdout \"credentials not found in native keychain\""
    );
    let detail = run.detail(14);
    assert!(
        detail == "Username came back as Some(\"u1\") instead of \"u2\""
            || detail == "list shows the key 0 times",
        "{detail}"
    );
    let scratch = run.report["scratch_host"].as_str().unwrap();
    let listed: Vec<String> = run.detail(21).split("; ").map(str::to_string).collect();
    assert!(listed.len() >= 10, "{listed:?}");
    for key in &listed {
        let url = key
            .strip_prefix("\"Registry credentials for ")
            .and_then(|k| k.strip_suffix("\": get failed"))
            .unwrap_or_else(|| panic!("{key}"));
        assert!(url.contains(scratch), "{key}");
    }
    assert!(
        listed.contains(&format!(
            "\"Registry credentials for https://{scratch}/empty-secret\": get failed"
        )),
        "{listed:?}"
    );
    assert_eq!(
        run.detail(22),
        "the <token> entry stored for item 3 is not listed"
    );
    assert_eq!(run.detail(18), "exit 0 (treated as done)");
}

#[test]
fn migrate_copies_pass_0_9_13_into_docker_credential_apko_exactly() {
    let store = PassStore::init();
    let pass = go_helper("pass-0.9.13", &store.env);
    let ours = our_helper();
    let ours_str = ours.to_str().unwrap();
    let apko_helper = Program::new(ours_str).env("DOCKER_CREDENTIAL_APKO_BACKEND", "keyutils");
    let nonce = std::process::id();
    let a = format!("https://go-pass-a-{nonce}.example");
    let b = format!("go-pass-b-{nonce}.example:5000");
    let c = format!("https://go-pass-c-{nonce}.example/v1/");
    let _forget = ForgetInOurs::new(&[&a, &b, &c]);
    let secret_a = format!("{}-a", crate::support::SENTINEL);
    let secret_b = format!("{}-b", crate::support::SENTINEL);
    let secret_c = "quote\" backslash\\ & < é".to_string();
    pass.store(&Credentials::new(&a, "alice", &secret_a))
        .unwrap();
    pass.store(&Credentials::new(&b, "<token>", &secret_b))
        .unwrap();
    pass.store(&Credentials::new(&c, "carol", &secret_c))
        .unwrap();
    // The 0.9 schema: one gpg file per entry, docker-credential-helpers/<base64url(URL)>/<user>.
    let b64 = |s: &str| base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE, s);
    for (url, user) in [(&a, "alice"), (&b, "<token>"), (&c, "carol")] {
        let file = store
            .store_dir()
            .join("docker-credential-helpers")
            .join(b64(url))
            .join(format!("{user}.gpg"));
        assert!(file.is_file(), "{}", file.display());
    }

    let mut env = with_peers(&store.env);
    env.extend(keyutils());
    let out = apko(
        &["auth", "migrate", "--from", "pass-0.9.13", "--to", ours_str],
        &env,
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(stderr, "");
    assert!(!stdout.contains(crate::support::SENTINEL));
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            // The source's list order: sorted keys.
            format!("copied     {b} (an identity token)"),
            format!("copied     {a} (user \"alice\")"),
            format!("copied     {c} (user \"carol\")"),
            format!("Copied 3 of 3 entries from docker-credential-pass-0.9.13 to {ours_str}."),
        ]
    );
    for (url, user, secret) in [
        (&a, "alice", &secret_a),
        (&b, "<token>", &secret_b),
        (&c, "carol", &secret_c),
    ] {
        let got = apko_helper.get(url).unwrap().expect("copied");
        assert_eq!(
            (got.username.as_str(), got.secret.expose()),
            (user, secret),
            "{url}"
        );
    }
    assert!(apko_helper.get(&b).unwrap().unwrap().is_identity_token());
}

#[test]
fn migrate_copies_secretservice_0_9_13_into_docker_credential_apko_exactly() {
    require(
        "docker-credential-secretservice",
        "golang-docker-credential-helpers",
    );
    let service = SecretService::start();
    let go = go_helper("secretservice-0.9.13", &service.env);
    let debian = service
        .env
        .iter()
        .fold(Program::new("secretservice"), |p, (k, v)| {
            p.env(k.clone(), v.clone())
        });
    let ours = our_helper();
    let ours_str = ours.to_str().unwrap();
    let apko_helper = Program::new(ours_str).env("DOCKER_CREDENTIAL_APKO_BACKEND", "keyutils");
    let nonce = std::process::id();
    let a = format!("https://go-ss-a-{nonce}.example");
    let b = format!("go-ss-b-{nonce}.example:5000");
    let old = format!("https://go-ss-old-{nonce}.example");
    let _forget = ForgetInOurs::new(&[&a, &b, &old]);
    let secret_a = format!("{}-a", crate::support::SENTINEL);
    let secret_b = format!("{}-b", crate::support::SENTINEL);
    go.store(&Credentials::new(&a, "alice", &secret_a)).unwrap();
    go.store(&Credentials::new(&b, "<token>", &secret_b))
        .unwrap();
    // An item Debian's 0.6.4 stored in the same keyring (its label is the URL).
    debian
        .store(&Credentials::new(&old, "olduser", "old-secret"))
        .unwrap();
    // What 0.9.13's list answers: its own items under their labels, 0.6.4's under the URL;
    // `get` knows only URLs.
    let listed = go.list().unwrap();
    let keys: Vec<&str> = listed.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            format!("Registry credentials for {b}").as_str(),
            format!("Registry credentials for {a}").as_str(),
            old.as_str()
        ]
    );
    assert!(
        go.get(&format!("Registry credentials for {a}"))
            .unwrap()
            .is_none()
    );
    assert_eq!(go.get(&a).unwrap().unwrap().secret.expose(), &secret_a);

    let mut env = with_peers(&service.env);
    env.extend(keyutils());
    let out = apko(
        &[
            "auth",
            "migrate",
            "--from",
            "secretservice-0.9.13",
            "--to",
            ours_str,
        ],
        &env,
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stdout.contains(crate::support::SENTINEL));
    // Today: `skipped    Registry credentials for https://go-ss-a-….example (listed, but gone
    // when read)` for a and b, `copied` for old only, "Copied 1 of 3 entries … (2 vanished).",
    // exit 0.
    // The copies in any order, then the summary.
    let mut lines: Vec<&str> = stdout.lines().collect();
    let summary = lines.pop().unwrap_or_default();
    lines.sort_unstable();
    let mut copied = [
        format!("copied     {a} (user \"alice\")"),
        format!("copied     {old} (user \"olduser\")"),
        format!("copied     {b} (an identity token)"),
    ];
    copied.sort_unstable();
    assert_eq!(lines, copied, "{stderr}");
    assert_eq!(
        summary,
        format!("Copied 3 of 3 entries from docker-credential-secretservice-0.9.13 to {ours_str}.")
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    for (url, user, secret) in [
        (&a, "alice", secret_a.as_str()),
        (&b, "<token>", secret_b.as_str()),
        (&old, "olduser", "old-secret"),
    ] {
        let got = apko_helper.get(url).unwrap().expect("copied");
        assert_eq!(
            (got.username.as_str(), got.secret.expose().as_str()),
            (user, secret),
            "{url}"
        );
    }
}
