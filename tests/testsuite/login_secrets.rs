//! The sentinel secret (`crate::support::SENTINEL`), used as the password, never appears in
//! the stderr of any apko command at any `--log-level`, in `apko auth explain`, in an error, on
//! a helper's argv or in its environment: with the file store, with docker-credential-apko on
//! the kernel keyring (behind a wrapper that records argv and environment), and with careless
//! helpers that print what they hold or echo their stdin when they fail. `apko auth get`
//! prints the secret on stdout by design; only that stdout is exempt.

use crate::support::login::{Forget, Out, Sandbox, auth_get_line, basic, unencrypted_warning};
use crate::support::{SENTINEL, fake_helper};
use serde_json::json;

const LEVELS: [&str; 5] = ["trace", "debug", "info", "warn", "error"];

/// The sentinel, raw and base64-encoded at each of the three alignments it can have inside
/// an encoded `user:password` (the characters that depend on the sentinel's bytes only).
fn sentinel_forms() -> Vec<String> {
    let mut forms = vec![SENTINEL.to_string()];
    for prefix in ["", "a", "ab"] {
        let encoded = basic(prefix, SENTINEL); // base64("{prefix}:{SENTINEL}")
        forms.push(encoded[4..encoded.len() - 4].to_string());
    }
    forms
}

fn assert_no_sentinel(out: &Out, what: &str, stdout_too: bool) {
    for form in sentinel_forms() {
        assert!(
            !out.stderr.contains(&form),
            "{what}: stderr holds {form:?}: {out:#?}"
        );
        if stdout_too {
            assert!(
                !out.stdout.contains(&form),
                "{what}: stdout holds {form:?}: {out:#?}"
            );
        }
    }
}

/// The login / auth get / explain / logout flow for `host` at `level`; `auth get` must print
/// the secret (its job), nothing else may.
fn flow_keeps_the_sentinel_quiet(sb: &Sandbox, host: &str, level: &str) {
    let lv = ["--log-level", level];
    let out = sb.apko(
        &[
            &lv[..],
            &[
                "login",
                host,
                "-u",
                "leakuser",
                "--password-stdin",
                "--no-verify",
            ],
        ]
        .concat(),
        &format!("{SENTINEL}\n"),
    );
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_no_sentinel(&out, "login", true);
    let out = sb.apko(&[&lv[..], &["auth", "get", host]].concat(), "");
    assert_eq!(
        out.stdout,
        auth_get_line(host, "leakuser", SENTINEL),
        "{out:#?}"
    );
    assert_no_sentinel(&out, "auth get", false);
    let out = sb.apko(&[&lv[..], &["auth", "explain", host]].concat(), "");
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(out.stdout.contains("<- used"), "{out:#?}");
    assert_no_sentinel(&out, "explain", true);
    let out = sb.apko(&[&lv[..], &["logout", host]].concat(), "");
    assert_eq!(
        out.stdout,
        format!("Removing login credentials for {host}\n")
    );
    assert_eq!(
        out.stderr.contains(" DEBUG removed "),
        matches!(level, "trace" | "debug"),
        "the level took effect: {out:#?}"
    );
    assert_no_sentinel(&out, "logout", true);
}

#[test]
fn the_sentinel_never_reaches_stderr_explain_or_errors_at_any_log_level() {
    let nonce = std::process::id();

    // The file store, with the password on stdin and on the command line.
    let file = Sandbox::new();
    for level in LEVELS {
        let host = format!("file-{level}.example");
        flow_keeps_the_sentinel_quiet(&file, &host, level);
        let out = file.apko(
            &[
                "--log-level",
                level,
                "login",
                "--no-verify",
                &host,
                "-u",
                "leakuser",
                "-p",
                SENTINEL,
            ],
            "",
        );
        assert_eq!(out.code, Some(0), "{out:#?}");
        assert_eq!(
            out.stderr,
            "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n"
                .to_string()
                + &unencrypted_warning(&file.config_file())
        );
        assert_no_sentinel(&out, "login -p", true);
        let out = file.apko(
            &[
                "--log-level",
                level,
                "login",
                "--no-verify",
                &host,
                "-u",
                "leakuser",
                "-p",
                SENTINEL,
                "--password-stdin",
            ],
            "",
        );
        assert_eq!(out.code, Some(2), "{out:#?}");
        assert_no_sentinel(&out, "login -p --password-stdin", true);
    }

    // docker-credential-apko, through a wrapper that records every helper's argv and
    // environment.
    let helper_sb = Sandbox::new();
    let log = helper_sb.dir.path().join("helper-calls.log");
    fake_helper(
        &helper_sb.bin,
        "rec",
        &format!(
            "{{ echo \"argv: $0 $*\"; env; }} >> '{}'\nexec '{}' \"$@\"",
            log.display(),
            crate::support::login::our_helper().display()
        ),
    );
    helper_sb.write_config(&json!({"credsStore": "rec"}));
    for level in LEVELS {
        let host = format!("leak-{nonce}-{level}.example");
        let _forget = Forget::new(&host);
        flow_keeps_the_sentinel_quiet(&helper_sb, &host, level);
    }
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(calls.contains("argv: "), "the wrapper ran");
    for form in sentinel_forms() {
        assert!(
            !calls.contains(&form),
            "{form:?} on a helper's argv or in its environment"
        );
    }

    // A careless helper: `store` works but prints what it got on stderr; `get`, `erase` and
    // `list` fail printing the stored entry on both streams.
    let careless = Sandbox::new();
    fake_helper(
        &careless.bin,
        "careless",
        "state=\"$(dirname \"$0\")/careless.state\"\n\
         case \"$1\" in\n\
         store) cat > \"$state\"; cat \"$state\" >&2; exit 0;;\n\
         *) cat \"$state\"; cat \"$state\" >&2; exit 1;;\n\
         esac",
    );
    // A helper whose `store` fails echoing its stdin (the payload) on both streams.
    fake_helper(&careless.bin, "echo", "cat | tee /dev/stderr\nexit 1");
    for level in LEVELS {
        let lv = ["--log-level", level];
        let host = format!("careless-{level}.example");
        careless.write_config(&json!({"credsStore": "careless"}));
        let out = careless.apko(
            &[
                &lv[..],
                &[
                    "login",
                    &host,
                    "-u",
                    "leakuser",
                    "--password-stdin",
                    "--no-verify",
                ],
            ]
            .concat(),
            &format!("{SENTINEL}\n"),
        );
        assert_eq!(out.code, Some(0), "{out:#?}");
        assert_no_sentinel(&out, "login", true);
        let out = careless.apko(&[&lv[..], &["auth", "get", &host]].concat(), "");
        assert_eq!(out.code, Some(1), "{out:#?}");
        assert_eq!(
            out.stdout,
            format!("cannot resolve credentials for {host}\n")
        );
        assert!(
            out.stderr
                .contains("bytes withheld: they may contain a secret"),
            "{out:#?}"
        );
        assert_no_sentinel(&out, "auth get (failing)", true);
        let out = careless.apko(&[&lv[..], &["auth", "explain", &host]].concat(), "");
        assert_eq!(out.code, Some(1), "{out:#?}");
        assert!(out.stdout.contains(": FAILED: credential helper docker-credential-careless (get) failed with exit status 1: <"), "{out:#?}");
        assert_no_sentinel(&out, "explain (failing)", true);
        let out = careless.apko(&[&lv[..], &["logout", &host]].concat(), "");
        assert_eq!(out.code, Some(0), "{out:#?}");
        assert!(
            out.stderr.contains("WARNING: could not erase credentials: credential helper docker-credential-careless (erase) failed with exit status 1: <"),
            "{out:#?}"
        );
        assert_no_sentinel(&out, "logout (failing)", true);

        careless.write_config(&json!({"credsStore": "echo"}));
        let out = careless.apko(
            &[
                &lv[..],
                &[
                    "login",
                    &host,
                    "-u",
                    "leakuser",
                    "--password-stdin",
                    "--no-verify",
                ],
            ]
            .concat(),
            &format!("{SENTINEL}\n"),
        );
        assert_eq!(out.code, Some(1), "{out:#?}");
        let echoed =
            format!(r#"{{"ServerURL":"{host}","Username":"leakuser","Secret":"<redacted>"}}"#);
        assert_eq!(
            out.stderr,
            format!(
                "Error: cannot store the credentials for {host}: credential helper docker-credential-echo (store) failed with exit status 1: {echoed}; stderr: {echoed}\n"
            )
        );
        assert_no_sentinel(&out, "login (failing store)", true);
    }
}
