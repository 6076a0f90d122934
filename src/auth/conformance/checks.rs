//! The checklist items. Each returns its own [`Check`]; the whole-run items (25, 28, 29) are
//! judged in [`finish`] from what [`Runner`] recorded.

use super::judge::{
    Judged, code, expect_error, expect_get, field, ok_silent, parse_get, parse_list, roundtrip,
    shorten, stdout,
};
use super::{Check, Outcome, Runner};
use apko_credential::wire::{ERR_MISSING_SERVER_URL, ERR_MISSING_USERNAME, ERR_NOT_FOUND};
use std::time::{Duration, Instant};

fn check(item: u8, title: &'static str, judged: Judged) -> Check {
    Check {
        item,
        title,
        outcome: match judged {
            Ok(d) => Outcome::Pass(d),
            Err(d) => Outcome::Fail(d),
        },
    }
}

/// Runs every item that talks to the helper, in an order that keeps item 20 (empty store)
/// before anything is stored.
pub(super) fn all(r: &Runner) -> Vec<Check> {
    let mut out = vec![
        check(
            24,
            "version prints one line; --version, -v, --help and -h exit 0",
            version(r),
        ),
        empty_list(r),
        check(
            19,
            "list with empty stdin and with `unused` prints a JSON object of strings",
            list_stdin(r),
        ),
    ];
    let k1 = r.url("/one");
    let s1 = r.secret("one");
    let stored = r
        .store("store (item 1)", &k1, "u", &s1)
        .and_then(|i| ok_silent(&i, "store"));
    out.push(check(
        1,
        "store then get round-trips username and secret",
        stored
            .clone()
            .and_then(|_| expect_get(r, "get (item 1)", &k1, "u", &s1)),
    ));
    out.push(check(
        2,
        "get prints one JSON object with exactly ServerURL, Username, Secret",
        stored.clone().and_then(|_| exact_keys(r, &k1)),
    ));
    out.push(check(
        23,
        "no arguments, two arguments and an unknown action fail",
        bad_arguments(r),
    ));
    out.push(check(3, "Username <token> round-trips", token(r)));
    out.push(check(
        4,
        "get of an unknown server: the not-found text, non-zero exit",
        r.call_failing("get (unknown)", &["get"], r.url("/absent").as_bytes())
            .and_then(|i| expect_error(&i, ERR_NOT_FOUND)),
    ));
    out.push(check(
        5,
        "get with empty or blank stdin: `no credentials server URL`",
        missing_url_get(r),
    ));
    out.push(check(
        6,
        "erase with empty stdin: `no credentials server URL`",
        r.call_failing("erase (empty stdin)", &["erase"], b"")
            .and_then(|i| expect_error(&i, ERR_MISSING_SERVER_URL)),
    ));
    out.push(check(
        7,
        "store without ServerURL: `no credentials server URL`",
        store_missing(r, true),
    ));
    out.push(check(
        8,
        "store without Username: `no credentials username`",
        store_missing(r, false),
    ));
    out.push(check(
        9,
        "store with an empty Secret succeeds",
        roundtrip(r, "/empty-secret", "u", ""),
    ));
    out.push(check(
        10,
        "get ignores a trailing LF or CRLF and surrounding spaces",
        stored.clone().and_then(|_| whitespace(r, &k1, &s1)),
    ));
    out.push(check(11, "store accepts pretty-printed JSON", pretty(r)));
    out.push(large(r));
    out.push(check(
        13,
        "newline, quote, backslash, &, <, non-ASCII and a trailing newline round-trip",
        special(r),
    ));
    out.push(check(
        14,
        "a second store overwrites the first; list shows one entry",
        overwrite(r),
    ));
    out.push(check(
        15,
        "keys that differ only in their path are distinct",
        paths(r),
    ));
    out.push(ports(r));
    out.push(check(17, "erase removes the entry", erase(r)));
    out.push(erase_missing(r));
    out.push(check(
        21,
        "every listed key reads back with its listed username",
        listed_readable(r),
    ));
    out.push(check(
        22,
        "list shows <token> entries with username <token>",
        list_token(r),
    ));
    out.push(check(
        26,
        "answers within 10 s with no terminal, display or session bus",
        no_session(r),
    ));
    out.push(check(
        27,
        "20 parallel gets interleaved with stores of other keys",
        parallel(r, &k1, &s1),
    ));
    out.push(check(
        30,
        "store ignores unknown JSON fields",
        unknown_fields(r),
    ));
    out
}

/// Items judged from the whole run.
pub(super) fn finish(r: &Runner, argv_leaks: Option<Vec<String>>, out: &mut Vec<Check>) {
    let stderr = r.stderr_leaks.lock().unwrap().clone();
    let item25 = match (stderr.is_empty(), argv_leaks) {
        (false, _) => Outcome::Fail(format!(
            "a secret appeared on stderr of: {}",
            stderr.join(", ")
        )),
        (true, Some(procs)) if !procs.is_empty() => Outcome::Fail(format!(
            "a secret appeared in the argv or environment of: {}",
            procs.join(", ")
        )),
        (true, Some(_)) => Outcome::Pass(
            "stderr of every call, and every process's argv and environment, scanned".into(),
        ),
        (true, None) => {
            Outcome::Pass("stderr of every call scanned; argv not scanned on this platform".into())
        }
    };
    out.push(Check {
        item: 25,
        title: "no secret on stderr or in any process's argv or environment",
        outcome: item25,
    });
    let lingered = r.lingered.lock().unwrap().clone();
    out.push(check(
        28,
        "stdout and stderr close when the helper exits (no daemon holds them)",
        if lingered.is_empty() {
            Ok(String::new())
        } else {
            Err(format!(
                "still open 250 ms after exit: {}",
                lingered.join(", ")
            ))
        },
    ));
    let zero = r.zero_on_failure.lock().unwrap().clone();
    out.push(check(
        29,
        "every failure exits non-zero",
        if zero.is_empty() {
            Ok(String::new())
        } else {
            Err(format!("exit 0 on: {}", zero.join(", ")))
        },
    ));
}

fn version(r: &Runner) -> Judged {
    let v = r.call("version", &["version"], b"")?;
    if v.code != Some(0) {
        return Err(format!("version: {}", code(&v)));
    }
    let text = String::from_utf8_lossy(&v.stdout);
    if text.trim().is_empty() || text.trim().lines().count() != 1 {
        return Err(format!(
            "version printed {} lines",
            text.trim().lines().count()
        ));
    }
    let mut failed = Vec::new();
    for flag in ["--version", "-v", "--help", "-h"] {
        let i = r.call(flag, &[flag], b"")?;
        if i.code != Some(0) {
            failed.push(format!("{flag}: {}", code(&i)));
        }
    }
    if failed.is_empty() {
        Ok(String::new())
    } else {
        Err(failed.join("; "))
    }
}

fn bad_arguments(r: &Runner) -> Judged {
    let mut failed = Vec::new();
    for (label, args) in [
        ("no arguments", &[][..]),
        ("two arguments", &["get", "extra"][..]),
    ] {
        let i = r.call_failing(label, args, r.url("/one").as_bytes())?;
        if i.code == Some(0) {
            failed.push(format!("{label}: exit 0"));
        }
    }
    let i = r.call_failing("unknown action", &["frob"], b"")?;
    if i.code == Some(0) {
        failed.push("frob: exit 0".into());
    } else if i.stdout.iter().all(u8::is_ascii_whitespace) {
        failed.push("frob: no message on stdout".into());
    }
    if failed.is_empty() {
        Ok(String::new())
    } else {
        Err(failed.join("; "))
    }
}

fn empty_list(r: &Runner) -> Check {
    let title = "list on an empty store prints {}";
    let outcome = match r
        .list("list (empty store)")
        .map(|i| (stdout(&i), parse_list(&i)))
    {
        Err(e) => Outcome::Fail(e),
        Ok((_, Err(e))) => Outcome::Fail(e),
        Ok((text, Ok(entries))) if entries.is_empty() => {
            if text == "{}" {
                Outcome::Pass(String::new())
            } else {
                Outcome::Fail(format!("printed {} instead of {{}}", shorten(&text)))
            }
        }
        Ok((_, Ok(entries))) => Outcome::Skip(format!(
            "the store is not empty ({} entries); run against an empty store to judge this",
            entries.len()
        )),
    };
    Check {
        item: 20,
        title,
        outcome,
    }
}

fn list_stdin(r: &Runner) -> Judged {
    for (label, stdin) in [("empty stdin", &b""[..]), ("`unused`", &b"unused"[..])] {
        let i = r.call(&format!("list ({label})"), &["list"], stdin)?;
        parse_list(&i).map_err(|e| format!("with {label}: {e}"))?;
    }
    Ok(String::new())
}

fn exact_keys(r: &Runner, url: &str) -> Judged {
    let i = r.get("get (item 2)", url)?;
    let map = parse_get(&i)?;
    let mut keys: Vec<&str> = map.keys().map(String::as_str).collect();
    keys.sort_unstable();
    if keys != ["Secret", "ServerURL", "Username"] {
        return Err(format!("keys are {keys:?}"));
    }
    let first = i.stdout.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err("something precedes the JSON object".into());
    }
    Ok(String::new())
}

fn token(r: &Runner) -> Judged {
    let secret = r.secret("identity-token");
    roundtrip(r, "/token", "<token>", &secret)
}

fn missing_url_get(r: &Runner) -> Judged {
    for (label, stdin) in [
        ("empty", &b""[..]),
        ("a newline", &b"\n"[..]),
        ("blanks", &b"  \r\n \n"[..]),
    ] {
        let i = r.call_failing(&format!("get ({label} stdin)"), &["get"], stdin)?;
        expect_error(&i, ERR_MISSING_SERVER_URL).map_err(|e| format!("with {label}: {e}"))?;
    }
    Ok(String::new())
}

fn store_missing(r: &Runner, url: bool) -> Judged {
    let secret = r.secret(if url { "no-url" } else { "no-user" });
    let u = r.url("/missing-field");
    let (absent, empty, text) = if url {
        (
            serde_json::json!({"Username": "u", "Secret": secret}),
            serde_json::json!({"ServerURL": "", "Username": "u", "Secret": secret}),
            ERR_MISSING_SERVER_URL,
        )
    } else {
        (
            serde_json::json!({"ServerURL": u, "Secret": secret}),
            serde_json::json!({"ServerURL": u, "Username": "", "Secret": secret}),
            ERR_MISSING_USERNAME,
        )
    };
    for (label, json) in [("absent", absent), ("empty", empty)] {
        let i = r.call_failing(
            &format!("store ({label} field)"),
            &["store"],
            json.to_string().as_bytes(),
        )?;
        if i.code == Some(0) {
            // It stored something: remember it for cleanup.
            r.stored.lock().unwrap().insert(u.clone());
        }
        expect_error(&i, text).map_err(|e| format!("field {label}: {e}"))?;
    }
    Ok(String::new())
}

fn whitespace(r: &Runner, url: &str, secret: &str) -> Judged {
    for (label, input) in [
        ("LF", format!("{url}\n")),
        ("CRLF", format!("{url}\r\n")),
        ("spaces", format!("  {url}  ")),
    ] {
        expect_get(r, &format!("get ({label})"), &input, "u", secret)
            .map_err(|e| format!("with {label}: {e}"))?;
    }
    Ok(String::new())
}

fn pretty(r: &Runner) -> Judged {
    let url = r.url("/pretty");
    let secret = r.secret("pretty");
    let json = serde_json::to_string_pretty(
        &serde_json::json!({"ServerURL": url, "Username": "u", "Secret": secret}),
    )
    .expect("a JSON value serializes");
    ok_silent(&r.store_raw("store (pretty)", &url, &json)?, "store")?;
    expect_get(r, "get (pretty)", &url, "u", &secret)
}

fn big_secret(r: &Runner, tag: &str, len: usize) -> String {
    let head = r.secret(tag);
    let mut s = head.clone();
    let filler = "0123456789abcdefghijklmnopqrstuvwxyz";
    while s.len() < len {
        s.push_str(filler);
    }
    s.truncate(len);
    s
}

fn large(r: &Runner) -> Check {
    let s60 = big_secret(r, "60k", 60_000);
    let outcome = match roundtrip(r, "/large-60000", "u", &s60) {
        Err(e) => Outcome::Fail(format!("60,000 bytes: {e}")),
        Ok(_) => {
            let s70 = big_secret(r, "70k", 70_000);
            match roundtrip(r, "/large-70000", "u", &s70) {
                Ok(_) => Outcome::Pass("70,000 bytes (past Go's 64 KiB line limit) too".into()),
                Err(e) => Outcome::Pass(format!(
                    "60,000 bytes round-trip; 70,000 bytes do not ({e}): document the limit"
                )),
            }
        }
    };
    Check {
        item: 12,
        title: "a 60,000-byte secret round-trips byte-exactly",
        outcome,
    }
}

fn special(r: &Runner) -> Judged {
    let secret = format!(
        "{}\nline \"two\" back\\slash & <tag> é ü 雪 🔑\n",
        r.secret("special")
    );
    roundtrip(r, "/special", "user@example.com", &secret)
}

fn overwrite(r: &Runner) -> Judged {
    let url = r.url("/overwrite");
    let first = r.secret("first");
    let second = r.secret("second");
    ok_silent(
        &r.store("store (first)", &url, "u1", &first)?,
        "first store",
    )?;
    ok_silent(
        &r.store("store (second)", &url, "u2", &second)?,
        "second store",
    )?;
    expect_get(r, "get (overwritten)", &url, "u2", &second)?;
    let entries = parse_list(&r.list("list (overwrite)")?)?;
    let matching: Vec<&(String, String)> = entries.iter().filter(|(k, _)| *k == url).collect();
    match matching.as_slice() {
        [(_, user)] if user == "u2" => Ok(String::new()),
        [(_, user)] => Err(format!("list shows username {user:?} instead of \"u2\"")),
        other => Err(format!("list shows the key {} times", other.len())),
    }
}

fn paths(r: &Runner) -> Judged {
    let urls: Vec<(String, String)> = ["/v1/", "/v1/access-token", "/v1/refresh-token"]
        .iter()
        .map(|p| (r.url(p), r.secret(p.trim_matches('/'))))
        .collect();
    for (url, secret) in &urls {
        ok_silent(&r.store("store (paths)", url, "u", secret)?, "store")?;
    }
    for (url, secret) in &urls {
        expect_get(r, "get (paths)", url, "u", secret).map_err(|e| format!("{url}: {e}"))?;
    }
    Ok(String::new())
}

fn ports(r: &Runner) -> Check {
    let key = format!("{}:5000", r.host);
    let secret = r.secret("port");
    let title = "host:port keys round-trip; does https://host:port match too?";
    let outcome = match r
        .store("store (host:port)", &key, "u", &secret)
        .and_then(|i| ok_silent(&i, "store"))
        .and_then(|_| expect_get(r, "get (host:port)", &key, "u", &secret))
    {
        Err(e) => Outcome::Fail(e),
        Ok(_) => match r.get("get (https://host:port)", &format!("https://{key}")) {
            Ok(i) if i.code == Some(0) => Outcome::Pass(
                "https://host:port also matches host:port (as osxkeychain and wincred do)".into(),
            ),
            Ok(_) => Outcome::Pass(
                "https://host:port does not match host:port (as pass and secretservice)".into(),
            ),
            Err(e) => Outcome::Fail(e),
        },
    };
    Check {
        item: 16,
        title,
        outcome,
    }
}

fn erase(r: &Runner) -> Judged {
    let url = r.url("/erase");
    let secret = r.secret("erase");
    ok_silent(&r.store("store (erase)", &url, "u", &secret)?, "store")?;
    ok_silent(&r.call("erase", &["erase"], url.as_bytes())?, "erase")?;
    let i = r.call_failing("get (erased)", &["get"], url.as_bytes())?;
    expect_error(&i, ERR_NOT_FOUND).map_err(|e| format!("get after erase: {e}"))
}

fn erase_missing(r: &Runner) -> Check {
    let title = "erase of a missing key: exit 0, or the not-found text";
    let outcome = match r.call(
        "erase (missing)",
        &["erase"],
        r.url("/never-stored").as_bytes(),
    ) {
        Err(e) => Outcome::Fail(e),
        Ok(i) if i.code == Some(0) && stdout(&i).is_empty() => {
            Outcome::Pass("exit 0 (treated as done)".into())
        }
        Ok(i) if i.code != Some(0) && stdout(&i) == ERR_NOT_FOUND => {
            Outcome::Pass(format!("{} with the not-found text", code(&i)))
        }
        Ok(i) => Outcome::Fail(format!("{} with stdout {}", code(&i), shorten(&stdout(&i)))),
    };
    Check {
        item: 18,
        title,
        outcome,
    }
}

fn listed_readable(r: &Runner) -> Judged {
    let entries = parse_list(&r.list("list (item 21)")?)?;
    let mut bad = Vec::new();
    for (key, user) in &entries {
        // Real entries are read too (that is the point), but only the key is ever printed.
        let i = r.get("get (listed key)", key)?;
        let wrong = match parse_get(&i) {
            Ok(map) if field(&map, "Username") == Some(user) => None,
            Ok(_) => Some("a different username"),
            Err(_) if i.code != Some(0) => Some("get failed"),
            Err(_) => Some("unreadable get output"),
        };
        if let Some(why) = wrong {
            // Another client may have erased it meanwhile: only a key still listed counts.
            let still = parse_list(&r.list("list (recheck)")?)?;
            if still.iter().any(|(k, _)| k == key) {
                bad.push(format!("{key:?}: {why}"));
            }
        }
    }
    if bad.is_empty() {
        Ok(format!("{} keys read back", entries.len()))
    } else {
        Err(bad.join("; "))
    }
}

fn list_token(r: &Runner) -> Judged {
    let url = r.url("/token");
    let entries = parse_list(&r.list("list (item 22)")?)?;
    match entries.iter().find(|(k, _)| *k == url) {
        Some((_, user)) if user == "<token>" => Ok(String::new()),
        Some((_, user)) => Err(format!("listed with username {user:?}")),
        None => Err("the <token> entry stored for item 3 is not listed".into()),
    }
}

fn no_session(r: &Runner) -> Judged {
    let limit = Duration::from_secs(10);
    let program = r
        .variant(limit)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("GPG_TTY")
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/apko-test-helper",
        );
    let started = Instant::now();
    let result = r.call_with(
        &program,
        "get (no session)",
        &["get"],
        r.url("/one").as_bytes(),
    );
    let took = started.elapsed();
    match result {
        Ok(i) => Ok(format!("{} after {} ms", code(&i), took.as_millis())),
        Err(e) => Err(e),
    }
}

fn parallel(r: &Runner, k1: &str, s1: &str) -> Judged {
    let keys: Vec<(String, String)> = (0..10)
        .map(|n| {
            (
                r.url(&format!("/parallel/{n}")),
                r.secret(&format!("parallel-{n}")),
            )
        })
        .collect();
    let errors: Vec<String> = std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for n in 0..20 {
            handles.push(scope.spawn(move || {
                expect_get(r, "get (parallel)", k1, "u", s1).map_err(|e| format!("get {n}: {e}"))
            }));
            if let Some((url, secret)) = keys.get(n / 2).filter(|_| n % 2 == 0) {
                handles.push(scope.spawn(move || {
                    r.store("store (parallel)", url, "p", secret)
                        .and_then(|i| ok_silent(&i, "store"))
                        .map_err(|e| format!("store {url}: {e}"))
                }));
            }
        }
        handles
            .into_iter()
            .filter_map(|h| h.join().expect("a check thread panicked").err())
            .collect()
    });
    if let Some(first) = errors.first() {
        return Err(format!(
            "{} of 30 calls failed; first: {first}",
            errors.len()
        ));
    }
    for (url, secret) in &keys {
        expect_get(r, "get (after parallel)", url, "p", secret)
            .map_err(|e| format!("{url} after the parallel stores: {e}"))?;
    }
    Ok(String::new())
}

fn unknown_fields(r: &Runner) -> Judged {
    let url = r.url("/extra-fields");
    let secret = r.secret("extra");
    let json = serde_json::json!({
        "ServerURL": url, "Username": "u", "Secret": secret, "Extra": 1, "Labels": {"a": "b"}
    });
    ok_silent(
        &r.store_raw("store (extra fields)", &url, &json.to_string())?,
        "store",
    )?;
    expect_get(r, "get (extra fields)", &url, "u", &secret)
}
