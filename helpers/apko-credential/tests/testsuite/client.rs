//! Checklist 7(b) items 31–47 (those that concern the client, not config resolution) against
//! fake helpers: the shell scripts in `tests/fixtures/`, one behaviour each, installed as
//! `docker-credential-<name>` in a temporary PATH directory.

use apko_credential::client::{Error, Program};
use apko_credential::wire::Credentials;
use apko_test_support::SENTINEL;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct Fixture {
    dir: tempfile::TempDir,
    record: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let record = dir.path().join("record");
        std::fs::create_dir(&record).unwrap();
        Fixture { dir, record }
    }

    /// The helper named `name`, backed by `tests/fixtures/<script>.sh`.
    fn helper(&self, script: &str) -> Program {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{script}.sh"));
        let bin = self.dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::copy(&src, bin.join(format!("docker-credential-{script}"))).unwrap();
        Program::new(script)
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env("RECORD", self.record.display().to_string())
    }

    fn recorded(&self, file: &str) -> Vec<u8> {
        std::fs::read(self.record.join(file)).unwrap()
    }
}

fn err_text(e: Error) -> String {
    let text = e.to_string();
    assert!(
        !text.contains(SENTINEL),
        "secret leaked into an error: {text}"
    );
    assert!(
        !format!("{e:?}").contains(SENTINEL),
        "secret leaked into Debug: {e:?}"
    );
    text
}

fn alive(pid: &str) -> bool {
    // A zombie is dead for our purposes; /proc/PID/stat's third field says which.
    std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

#[test]
fn fixtures_use_the_shared_sentinel() {
    let ok = include_str!("../fixtures/ok.sh");
    assert!(ok.contains(SENTINEL));
}

#[test]
fn item31_32_runs_the_named_program_with_one_argument_and_the_bare_url_on_stdin() {
    let f = Fixture::new();
    let creds = f
        .helper("record")
        .get("https://r.example:5000")
        .unwrap()
        .unwrap();
    assert_eq!(creds.username, "u");
    assert_eq!(f.recorded("args"), b"1\nget\n");
    assert_eq!(f.recorded("stdin"), b"https://r.example:5000");
}

#[test]
fn erase_sends_the_bare_url_and_list_sends_unused() {
    let f = Fixture::new();
    let helper = f.helper("record");
    assert!(helper.erase("r.example").unwrap());
    assert_eq!(f.recorded("args"), b"1\nerase\n");
    assert_eq!(f.recorded("stdin"), b"r.example");
    let list = helper.list().unwrap();
    assert_eq!(
        list.into_iter().collect::<Vec<_>>(),
        [("a.example".to_string(), "ua".to_string())]
    );
    assert_eq!(f.recorded("args"), b"1\nlist\n");
    assert_eq!(f.recorded("stdin"), b"unused");
}

#[test]
fn item47_store_payload_is_the_exact_json() {
    let f = Fixture::new();
    f.helper("record")
        .store(&Credentials::new("r.example", "u", SENTINEL))
        .unwrap();
    assert_eq!(f.recorded("args"), b"1\nstore\n");
    let expected = format!(r#"{{"ServerURL":"r.example","Username":"u","Secret":"{SENTINEL}"}}"#);
    assert_eq!(String::from_utf8(f.recorded("stdin")).unwrap(), expected);
    f.helper("record")
        .store(&Credentials::new("r.example", "<token>", "refresh-1"))
        .unwrap();
    let sent: Credentials = serde_json::from_slice(&f.recorded("stdin")).unwrap();
    assert!(sent.is_identity_token());
}

#[test]
fn a_found_credential() {
    let f = Fixture::new();
    let c = f.helper("ok").get("r.example").unwrap().unwrap();
    assert_eq!(
        (c.server_url.as_str(), c.username.as_str()),
        ("r.example", "user")
    );
    assert_eq!(c.secret.expose(), SENTINEL);
    assert!(!format!("{c:?}").contains(SENTINEL));
}

#[test]
fn item37_38_not_found_with_exit_1_is_no_credentials() {
    let f = Fixture::new();
    assert!(f.helper("not-found").get("r.example").unwrap().is_none());
    assert!(
        f.helper("not-found-spaced")
            .get("r.example")
            .unwrap()
            .is_none()
    );
    assert!(!f.helper("not-found").erase("r.example").unwrap());
}

#[test]
fn item39_not_found_on_stderr_only_is_an_error_naming_the_helper() {
    let f = Fixture::new();
    let e = f.helper("not-found-stderr").get("r.example").unwrap_err();
    assert_eq!(
        err_text(e),
        "credential helper docker-credential-not-found-stderr (get) failed with exit status 1: no output; \
         stderr: credentials not found in native keychain"
    );
}

#[test]
fn item40_not_found_text_with_exit_0_is_an_error() {
    let f = Fixture::new();
    let e = f.helper("not-found-rc0").get("r.example").unwrap_err();
    assert_eq!(
        err_text(e),
        "credential helper docker-credential-not-found-rc0 (get) gave an unusable answer: \
         its output does not start with a JSON object (something printed before it?)"
    );
}

#[test]
fn exit_0_with_empty_username_and_secret_is_a_miss() {
    // docker-credential-pass 0.6.4 answers a miss this way.
    let f = Fixture::new();
    assert!(f.helper("empty-creds").get("r.example").unwrap().is_none());
}

#[test]
fn item41_noise_before_json_is_an_error_and_noise_after_is_ignored() {
    let f = Fixture::new();
    let e = f.helper("noise-before").get("r.example").unwrap_err();
    assert_eq!(
        err_text(e),
        "credential helper docker-credential-noise-before (get) gave an unusable answer: \
         its output does not start with a JSON object (something printed before it?)"
    );
    // Pinned: like Go's json.Decoder, the first value counts.
    let c = f.helper("noise-after").get("r.example").unwrap().unwrap();
    assert_eq!(c.secret.expose(), "s");
}

#[test]
fn garbage_and_non_utf8_and_wrong_shapes_are_errors() {
    let f = Fixture::new();
    let e = f.helper("garbage").get("r.example").unwrap_err();
    assert!(matches!(e, Error::InvalidOutput { .. }));
    let e = f.helper("non-utf8").get("r.example").unwrap_err();
    assert_eq!(
        err_text(e),
        "credential helper docker-credential-non-utf8 (get) gave an unusable answer: its output is not valid UTF-8"
    );
    let e = f.helper("list-bad").list().unwrap_err();
    assert_eq!(
        err_text(e),
        "credential helper docker-credential-list-bad (list) gave an unusable answer: \
         its output does not start with a JSON object (something printed before it?)"
    );
}

#[test]
fn item42_output_without_server_url_keeps_the_requested_one() {
    let f = Fixture::new();
    let c = f
        .helper("no-server-url")
        .get("https://r.example/v1/")
        .unwrap()
        .unwrap();
    assert_eq!(c.server_url, "https://r.example/v1/");
}

#[test]
fn item43_token_username_marks_an_identity_token_also_when_escaped() {
    let f = Fixture::new();
    for script in ["token", "token-escaped"] {
        let c = f.helper(script).get("r.example").unwrap().unwrap();
        assert!(c.is_identity_token(), "{script}");
        assert_eq!(c.username, "<token>");
    }
}

#[test]
fn item44_missing_helper_names_the_program_and_the_config_entry() {
    let f = Fixture::new();
    let program = Program::new("nonexistent")
        .env("PATH", f.dir.path().display().to_string())
        .origin("credHelpers[\"r.example\"] in /home/u/.docker/config.json");
    let e = program.get("r.example").unwrap_err();
    assert_eq!(
        err_text(e),
        "credential helper docker-credential-nonexistent is not installed: it is not on PATH \
         (it is configured by credHelpers[\"r.example\"] in /home/u/.docker/config.json); \
         install it, or remove the setting that names it"
    );
    let e = Program::new("/no/such/docker-credential-x")
        .get("r")
        .unwrap_err();
    assert_eq!(
        err_text(e),
        "credential helper /no/such/docker-credential-x is not installed: /no/such/docker-credential-x \
         does not exist; install it, or remove the setting that names it"
    );
}

#[test]
fn item45_a_hung_helper_is_killed_with_its_process_group_at_the_timeout() {
    let f = Fixture::new();
    let started = Instant::now();
    let e = f
        .helper("hang")
        .timeout(Duration::from_secs(2))
        .get("r.example")
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(
        err_text(e),
        "credential helper docker-credential-hang (get) did not answer within 2s and was killed; \
         fix the helper, or allow more time with APKO_CREDENTIAL_HELPER_TIMEOUT=SECONDS"
    );
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(4),
        "{took:?}"
    );
    let pid = String::from_utf8(f.recorded("pid")).unwrap();
    let child = String::from_utf8(f.recorded("child")).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert!(!alive(&pid), "helper {pid} survived");
    assert!(!alive(&child), "helper's child {child} survived");
}

#[test]
fn a_daemon_holding_stdout_does_not_make_the_call_hang() {
    let f = Fixture::new();
    let started = Instant::now();
    let c = f
        .helper("daemon-holds-stdout")
        .timeout(Duration::from_secs(20))
        .get("r")
        .unwrap();
    assert!(c.is_some());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let child = String::from_utf8(f.recorded("child")).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !alive(&child),
        "the process holding stdout ({child}) survived"
    );
}

#[test]
fn flooding_stdout_or_stderr_is_an_error_not_an_out_of_memory() {
    let f = Fixture::new();
    let e = f
        .helper("flood")
        .output_limits(1 << 20, 1 << 20)
        .get("r")
        .unwrap_err();
    assert_eq!(
        err_text(e),
        "credential helper docker-credential-flood (get) printed more than 1048576 bytes on stdout and was killed"
    );
    let e = f.helper("flood-stderr").get("r").unwrap_err();
    assert_eq!(
        err_text(e),
        "credential helper docker-credential-flood-stderr (get) printed more than 1048576 bytes on stderr and was killed"
    );
}

#[test]
fn killed_and_high_exit_codes_are_reported() {
    let f = Fixture::new();
    let e = f.helper("killed").get("r").unwrap_err();
    assert_eq!(
        err_text(e),
        "credential helper docker-credential-killed (get) failed with signal 9: no output"
    );
    let e = f.helper("exit137").get("r").unwrap_err();
    assert_eq!(
        err_text(e),
        "credential helper docker-credential-exit137 (get) failed with exit status 137: no output; stderr: out of memory"
    );
    let e = f.helper("fail-plain").erase("r").unwrap_err();
    assert_eq!(
        err_text(e),
        "credential helper docker-credential-fail-plain (erase) failed with exit status 1: \
         boom: keychain locked; stderr: detail on stderr"
    );
}

#[test]
fn item46_helper_output_that_may_hold_a_secret_never_reaches_an_error() {
    let f = Fixture::new();
    let e = f.helper("echo-secret-error").get("r").unwrap_err();
    assert_eq!(
        err_text(e),
        "credential helper docker-credential-echo-secret-error (get) failed with exit status 1: \
         <38 bytes withheld: they may contain a secret>"
    );
    let e = f.helper("echo-secret-stderr").get("r").unwrap_err();
    assert_eq!(
        err_text(e),
        "credential helper docker-credential-echo-secret-stderr (get) failed with exit status 1: \
         keychain exploded; stderr: <33 bytes withheld: they may contain a secret>"
    );
    // On store the client knows the secret and masks it wherever the helper echoes it.
    let e = f
        .helper("echo-store-error")
        .store(&Credentials::new("r", "u", SENTINEL))
        .unwrap_err();
    assert_eq!(
        err_text(e),
        "credential helper docker-credential-echo-store-error (store) failed with exit status 1: \
         cannot store: {\"ServerURL\":\"r\",\"Username\":\"u\",\"Secret\":\"<redacted>\"}; \
         stderr: stdin was: {\"ServerURL\":\"r\",\"Username\":\"u\",\"Secret\":\"<redacted>\"}"
    );
}

#[test]
fn version_is_one_trimmed_line() {
    let f = Fixture::new();
    assert_eq!(f.helper("version").version().unwrap(), "fake-helper 9.9.9");
}

#[test]
fn invoke_reports_without_judging() {
    let f = Fixture::new();
    let inv = f.helper("record").invoke(&[], b"").unwrap();
    assert_eq!(inv.code, Some(0));
    assert_eq!(f.recorded("args"), b"0\n");
    let inv = f.helper("not-found").invoke(&["get"], b"x").unwrap();
    assert_eq!(inv.code, Some(1));
    assert_eq!(inv.stdout, b"credentials not found in native keychain\n");
}
