//! Broken credential helpers met through the `apko` binary: each failure gives an exact error
//! naming the helper and its setting, never hangs, and never blocks a later source.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/helpers/apko-credential/tests/fixtures"
);

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

fn run(fixture: &str, extra: &[&str]) -> (Run, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join(".docker")).unwrap();
    std::fs::create_dir_all(dir.path().join("rec")).unwrap();
    let helper = format!("{FIXTURES}/{fixture}");
    let config = home.join(".docker/config.json");
    std::fs::write(&config, format!(r#"{{"credsStore":"{helper}"}}"#)).unwrap();
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_apko"))
        .args(["auth", "get", "r.example"])
        .args(extra)
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", dir.path().join("run"))
        .env("RECORD", dir.path().join("rec"))
        .env("APKO_CREDENTIAL_HELPER_TIMEOUT", "1")
        .env_remove("DOCKER_CONFIG")
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("APKO_AUTH")
        .env_remove("HTTP_AUTH")
        .output()
        .unwrap();
    let run = Run {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
        took: started.elapsed(),
    };
    (run, config, dir)
}

fn expected_error(fixture: &str, config: &Path, failure: &str) -> String {
    format!(
        "no usable credentials for r.example; sources tried:\n  1. {FIXTURES}/{fixture} get \"r.example\" (credsStore in {}): FAILED: credential helper {FIXTURES}/{fixture} (get) {failure}\nFix the failing source, or give credentials with --auth r.example=USER:PASSWORD (or --auth-file); `apko auth explain` shows every source\n",
        config.display()
    )
}

#[test]
fn each_broken_helper_gives_an_exact_error_and_a_later_source_still_works() {
    for (fixture, failure) in [
        (
            "hang.sh",
            "did not answer within 1s and was killed; fix the helper, or allow more time with APKO_CREDENTIAL_HELPER_TIMEOUT=SECONDS",
        ),
        (
            "flood.sh",
            "printed more than 16777216 bytes on stdout and was killed",
        ),
        (
            "exit137.sh",
            "failed with exit status 137: no output; stderr: out of memory",
        ),
        (
            "garbage.sh",
            "gave an unusable answer: its output does not start with a JSON object (something printed before it?)",
        ),
        (
            "non-utf8.sh",
            "gave an unusable answer: its output is not valid UTF-8",
        ),
        ("killed.sh", "failed with signal 9: no output"),
    ] {
        let (r, config, _dir) = run(fixture, &[]);
        assert_eq!(r.code, Some(1), "{fixture}");
        assert_eq!(
            r.stdout, "cannot resolve credentials for r.example\n",
            "{fixture}"
        );
        assert_eq!(
            r.stderr,
            expected_error(fixture, &config, failure),
            "{fixture}"
        );
        assert!(
            r.took < Duration::from_secs(5),
            "{fixture} took {:?}",
            r.took
        );

        // The same broken helper does not block a scoped --auth value.
        let (r, _, _dir) = run(fixture, &["--auth", "r.example=basic:u:p"]);
        assert_eq!(r.code, Some(0), "{fixture}: {}", r.stderr);
        assert_eq!(
            r.stdout,
            "{\"ServerURL\":\"r.example\",\"Username\":\"u\",\"Secret\":\"p\"}\n"
        );
    }
}

#[test]
fn a_hung_helper_and_its_children_are_gone_after_the_timeout() {
    let (r, _, dir) = run("hang.sh", &[]);
    assert_eq!(r.code, Some(1));
    assert!(
        r.took >= Duration::from_millis(900) && r.took < Duration::from_secs(6),
        "{:?}",
        r.took
    );
    // SIGKILL lands asynchronously: on a loaded machine a killed grandchild can still be
    // scheduled for a moment after apko has exited, so give it a short grace period.
    for file in ["pid", "child"] {
        let pid = std::fs::read_to_string(dir.path().join("rec").join(file)).unwrap();
        let alive = || {
            Path::new(&format!("/proc/{}", pid.trim())).exists()
                && !std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
                    .unwrap_or_default()
                    .contains(") Z ")
        };
        let deadline = std::time::Instant::now() + Duration::from_millis(500);
        while alive() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            !alive(),
            "{file} {} still runs 500 ms after apko exited",
            pid.trim()
        );
    }
}
