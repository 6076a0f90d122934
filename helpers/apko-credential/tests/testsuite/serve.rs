//! Checklist 7(a) of credential-helpers.md against `serve`, in-process, with an in-memory store.
//! Every assertion is on exact stdout bytes and exit codes.

use apko_credential::wire::{CredentialList, Credentials};
use apko_credential::{Error, Helper, HelperInfo, serve};
use apko_test_support::SENTINEL;
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Default)]
struct Mem {
    entries: Mutex<BTreeMap<String, (String, String)>>,
    erase_missing_is_error: bool,
}

impl Helper for Mem {
    fn info(&self) -> HelperInfo {
        HelperInfo {
            name: "docker-credential-mem",
            package: "apko-tests",
            version: "v1.2.3",
        }
    }
    fn add(&self, c: &Credentials) -> Result<(), Error> {
        let value = (c.username.clone(), c.secret.expose().clone());
        self.entries
            .lock()
            .unwrap()
            .insert(c.server_url.clone(), value);
        Ok(())
    }
    fn get(&self, url: &str) -> Result<Credentials, Error> {
        let entries = self.entries.lock().unwrap();
        let (u, s) = entries.get(url).ok_or(Error::NotFound)?;
        Ok(Credentials::new(url, u.clone(), s.clone()))
    }
    fn erase(&self, url: &str) -> Result<(), Error> {
        match self.entries.lock().unwrap().remove(url) {
            None if self.erase_missing_is_error => Err(Error::NotFound),
            _ => Ok(()),
        }
    }
    fn list(&self) -> Result<CredentialList, Error> {
        let entries = self.entries.lock().unwrap();
        Ok(entries
            .iter()
            .map(|(k, (u, _))| (k.clone(), u.clone()))
            .collect())
    }
}

fn h(helper: &Mem, args: &[&str], stdin: &[u8]) -> (i32, String) {
    let mut out = Vec::new();
    let code = serve(helper, args.iter().copied(), stdin, &mut out);
    (code, String::from_utf8(out).expect("serve writes UTF-8"))
}

fn store(helper: &Mem, url: &str, user: &str, secret: &str) {
    let payload = serde_json::to_vec(&Credentials::new(url, user, secret)).unwrap();
    assert_eq!(h(helper, &["store"], &payload), (0, String::new()));
}

fn get(helper: &Mem, url: &str) -> Credentials {
    let (code, out) = h(helper, &["get"], url.as_bytes());
    assert_eq!(code, 0, "get {url}: {out}");
    // One compact JSON object, then one newline, nothing else.
    assert!(
        out.ends_with("}\n") && out.matches('\n').count() == 1,
        "{out}"
    );
    serde_json::from_str(&out).unwrap()
}

const NOT_FOUND: (i32, &str) = (1, "credentials not found in native keychain\n");
const NO_URL: (i32, &str) = (1, "no credentials server URL\n");
const NO_USER: (i32, &str) = (1, "no credentials username\n");

fn is(result: (i32, String), expected: (i32, &str)) {
    assert_eq!((result.0, result.1.as_str()), expected);
}

#[test]
fn item01_02_store_then_get_prints_exactly_one_object_with_the_three_keys() {
    let m = Mem::default();
    let (code, out) = h(
        &m,
        &["store"],
        br#"{"ServerURL":"https://r.example","Username":"u","Secret":"s"}"#,
    );
    assert_eq!((code, out.as_str()), (0, ""));
    let (code, out) = h(&m, &["get"], b"https://r.example");
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "{\"ServerURL\":\"https://r.example\",\"Username\":\"u\",\"Secret\":\"s\"}\n"
    );
}

#[test]
fn item03_22_token_username_round_trips_and_lists_as_token() {
    let m = Mem::default();
    store(&m, "r.example", "<token>", "refresh-1");
    let c = get(&m, "r.example");
    assert!(c.is_identity_token());
    assert_eq!(c.secret.expose(), "refresh-1");
    is(h(&m, &["list"], b""), (0, "{\"r.example\":\"<token>\"}\n"));
}

#[test]
fn item04_29_get_of_unknown_url_is_not_found_with_nonzero_exit() {
    is(
        h(&Mem::default(), &["get"], b"https://nope.example"),
        NOT_FOUND,
    );
}

#[test]
fn item05_get_without_url_is_missing_server_url() {
    for stdin in [&b""[..], b"   ", b"\n", b"\r\n", b" \n\t\r\n "] {
        is(h(&Mem::default(), &["get"], stdin), NO_URL);
    }
}

#[test]
fn item06_erase_without_url_is_missing_server_url() {
    is(h(&Mem::default(), &["erase"], b""), NO_URL);
    is(h(&Mem::default(), &["erase"], b" \r\n"), NO_URL);
}

#[test]
fn item07_store_without_server_url() {
    let m = Mem::default();
    is(
        h(&m, &["store"], br#"{"Username":"u","Secret":"s"}"#),
        NO_URL,
    );
    is(
        h(
            &m,
            &["store"],
            br#"{"ServerURL":"","Username":"u","Secret":"s"}"#,
        ),
        NO_URL,
    );
    is(
        h(
            &m,
            &["store"],
            br#"{"ServerURL":null,"Username":"u","Secret":"s"}"#,
        ),
        NO_URL,
    );
}

#[test]
fn item08_store_without_username() {
    let m = Mem::default();
    is(
        h(&m, &["store"], br#"{"ServerURL":"r","Secret":"s"}"#),
        NO_USER,
    );
    is(
        h(
            &m,
            &["store"],
            br#"{"ServerURL":"r","Username":"","Secret":"s"}"#,
        ),
        NO_USER,
    );
    // Server URL is checked first, as in the Go library.
    is(h(&m, &["store"], br#"{"Secret":"s"}"#), NO_URL);
}

#[test]
fn item09_empty_secret_is_accepted() {
    let m = Mem::default();
    is(
        h(
            &m,
            &["store"],
            br#"{"ServerURL":"r","Username":"u","Secret":""}"#,
        ),
        (0, ""),
    );
    is(
        h(&m, &["get"], b"r"),
        (
            0,
            "{\"ServerURL\":\"r\",\"Username\":\"u\",\"Secret\":\"\"}\n",
        ),
    );
    is(
        h(&m, &["store"], br#"{"ServerURL":"r2","Username":"u"}"#),
        (0, ""),
    );
}

#[test]
fn item10_get_input_is_trimmed_like_go() {
    let m = Mem::default();
    store(&m, "https://r.example", "u", "s");
    let expected = "{\"ServerURL\":\"https://r.example\",\"Username\":\"u\",\"Secret\":\"s\"}\n";
    for stdin in [
        "https://r.example\n",
        "https://r.example\r\n",
        "  https://r.example  ",
        "\thttps://r.example\n\n",
        "https://r.\nexample",
    ] {
        is(h(&m, &["get"], stdin.as_bytes()), (0, expected));
    }
}

#[test]
fn item11_pretty_printed_store_payload() {
    let m = Mem::default();
    let payload =
        "{\n  \"ServerURL\": \"r.example\",\n  \"Username\": \"u\",\r\n  \"Secret\": \"s\"\n}\n";
    is(h(&m, &["store"], payload.as_bytes()), (0, ""));
    assert_eq!(get(&m, "r.example").secret.expose(), "s");
}

#[test]
fn item12_large_secrets_round_trip_byte_exactly() {
    // 60 000 bytes works upstream; 70 000 bytes and more fail there with "token too long".
    for len in [60_000usize, 70_000, 1 << 20, 4 << 20] {
        let m = Mem::default();
        let secret: String = (0..len)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        store(&m, "big.example", "u", &secret);
        assert_eq!(
            get(&m, "big.example").secret.expose(),
            &secret,
            "{len} bytes"
        );
    }
}

#[test]
fn item13_special_characters_and_trailing_newline_round_trip() {
    let m = Mem::default();
    let secret = "line1\nline2 \"quoted\" back\\slash &amp; <tag> ünïcødé 🔑\u{0}\t\r\n\n";
    store(&m, "r.example", "u", secret);
    assert_eq!(get(&m, "r.example").secret.expose(), secret);
    // The Go encoding of the same payload (HTML-escaped) decodes identically.
    let go_style =
        r#"{"ServerURL":"g.example","Username":"u","Secret":"\u003ctag\u003e \u0026 x\n"}"#;
    is(h(&m, &["store"], go_style.as_bytes()), (0, ""));
    assert_eq!(get(&m, "g.example").secret.expose(), "<tag> & x\n");
}

#[test]
fn item14_overwrite_keeps_one_entry() {
    let m = Mem::default();
    store(&m, "r.example", "u1", "first");
    store(&m, "r.example", "u2", "second");
    let c = get(&m, "r.example");
    assert_eq!(
        (c.username.as_str(), c.secret.expose().as_str()),
        ("u2", "second")
    );
    is(h(&m, &["list"], b""), (0, "{\"r.example\":\"u2\"}\n"));
}

#[test]
fn item15_paths_are_distinct_keys() {
    let m = Mem::default();
    let keys = [
        "https://index.docker.io/v1/",
        "https://index.docker.io/v1/access-token",
        "https://index.docker.io/v1/refresh-token",
    ];
    for (i, k) in keys.iter().enumerate() {
        store(&m, k, "u", &format!("secret-{i}"));
    }
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(get(&m, k).secret.expose(), &format!("secret-{i}"));
    }
}

#[test]
fn item16_keys_match_exactly_including_scheme_and_port() {
    let m = Mem::default();
    store(&m, "registry.example.com:5000", "u", "s");
    assert_eq!(get(&m, "registry.example.com:5000").username, "u");
    // serve passes the key through unchanged: matching is the store's business, and this
    // project's helper matches exactly (as pass and secretservice do).
    is(
        h(&m, &["get"], b"https://registry.example.com:5000"),
        NOT_FOUND,
    );
}

#[test]
fn item17_erase_then_get_is_not_found() {
    let m = Mem::default();
    store(&m, "r.example", "u", "s");
    is(h(&m, &["erase"], b"r.example\n"), (0, ""));
    is(h(&m, &["get"], b"r.example"), NOT_FOUND);
}

#[test]
fn item18_erase_of_missing_key_gives_one_of_the_two_allowed_answers() {
    is(h(&Mem::default(), &["erase"], b"nope.example"), (0, ""));
    let strict = Mem {
        erase_missing_is_error: true,
        ..Mem::default()
    };
    is(h(&strict, &["erase"], b"nope.example"), NOT_FOUND);
}

#[test]
fn item19_20_list_ignores_stdin_and_prints_an_object() {
    let m = Mem::default();
    for stdin in [&b""[..], b"unused", b"{garbage"] {
        is(h(&m, &["list"], stdin), (0, "{}\n"));
    }
    store(&m, "b.example", "ub", "s");
    store(&m, "a.example", "ua", "s");
    is(
        h(&m, &["list"], b"unused"),
        (0, "{\"a.example\":\"ua\",\"b.example\":\"ub\"}\n"),
    );
}

#[test]
fn item21_every_listed_key_can_be_got() {
    let m = Mem::default();
    for k in [
        "r.example",
        "https://r.example",
        "r.example:5000/ns",
        "https://index.docker.io/v1/",
    ] {
        store(&m, k, &format!("user-{k}"), "s");
    }
    let (code, out) = h(&m, &["list"], b"");
    assert_eq!(code, 0);
    let listed: BTreeMap<String, String> = serde_json::from_str(&out).unwrap();
    assert_eq!(listed.len(), 4);
    for (k, user) in listed {
        assert_eq!(get(&m, &k).username, user);
    }
}

#[test]
fn item23_bad_arguments() {
    let m = Mem::default();
    let usage = "Usage: docker-credential-mem <store|get|erase|list|version>\n";
    is(h(&m, &[], b""), (1, usage));
    is(h(&m, &["get", "extra"], b"r"), (1, usage));
    is(
        h(&m, &["frob"], b""),
        (1, "docker-credential-mem: unknown action: frob\n"),
    );
    is(
        h(&m, &["GET"], b""),
        (1, "docker-credential-mem: unknown action: GET\n"),
    );
}

#[test]
fn item24_version_and_help() {
    let m = Mem::default();
    let version = "docker-credential-mem (apko-tests) v1.2.3\n";
    for flag in ["version", "--version", "-v"] {
        is(h(&m, &[flag], b""), (0, version));
    }
    let usage = "Usage: docker-credential-mem <store|get|erase|list|version>\n";
    for flag in ["--help", "-h"] {
        is(h(&m, &[flag], b""), (0, usage));
    }
}

#[test]
fn item25_errors_never_echo_the_input() {
    let m = Mem::default();
    let bad = format!(r#"{{"ServerURL":"r","Username":"u","Secret":"{SENTINEL}"#);
    let (code, out) = h(&m, &["store"], bad.as_bytes());
    assert_eq!(code, 1);
    assert!(out.starts_with("store: invalid JSON on stdin: "), "{out}");
    assert!(!out.contains(SENTINEL));
    let bad = format!(r#"{{"ServerURL":"r","Username":"u","Secret":{SENTINEL}}}"#);
    let (code, out) = h(&m, &["store"], bad.as_bytes());
    assert_eq!(code, 1);
    assert!(!out.contains(SENTINEL), "{out}");
    // serde_json's own messages quote scalars ("invalid type: string \"…\""); ours never do.
    let (code, out) = h(&m, &["store"], format!("\"{SENTINEL}\"").as_bytes());
    assert_eq!(
        (code, out.as_str()),
        (
            1,
            "store: invalid JSON on stdin: wrong type or shape at line 1 column 27\n"
        )
    );
    let (code, out) = h(
        &m,
        &["store"],
        br#"{"ServerURL":"r","Username":"u","Secret":12345678}"#,
    );
    assert_eq!(code, 1);
    assert!(!out.contains("12345678"), "{out}");
    // A successful store prints nothing at all.
    store(&m, "r", "u", SENTINEL);
}

#[test]
fn store_input_edge_cases() {
    let m = Mem::default();
    is(
        h(&m, &["store"], b""),
        (1, "store: stdin holds no JSON object\n"),
    );
    is(
        h(&m, &["store"], b"  \n"),
        (1, "store: stdin holds no JSON object\n"),
    );
    let bad = |input: &[u8], why: &str| {
        is(
            h(&m, &["store"], input),
            (1, &format!("store: invalid JSON on stdin: {why}\n")),
        );
    };
    bad(b"notjson", "expected ident at line 1 column 2");
    bad(b"[1,2]", "wrong type or shape at line 1 column 0");
    bad(
        b"{\"ServerURL\":",
        "unexpected end of input at line 1 column 13",
    );
    // Trailing data after the first object is ignored, as in Go.
    is(
        h(
            &m,
            &["store"],
            br#"{"ServerURL":"t","Username":"u","Secret":"s"} trailing"#,
        ),
        (0, ""),
    );
    is(
        h(
            &m,
            &["store"],
            b"{\"ServerURL\":\"r\",\"Username\":\"u\",\"Secret\":\"\xff\"}",
        ),
        (1, "stdin is not valid UTF-8\n"),
    );
    is(h(&m, &["get"], b"r\xff"), (1, "stdin is not valid UTF-8\n"));
}

#[test]
fn item27_concurrent_stores_and_gets() {
    let m = Mem::default();
    std::thread::scope(|scope| {
        for i in 0..20 {
            let m = &m;
            scope.spawn(move || {
                let url = format!("r{i}.example");
                store(m, &url, "u", &format!("secret-{i}"));
                assert_eq!(get(m, &url).secret.expose(), &format!("secret-{i}"));
            });
        }
    });
    let (_, out) = h(&m, &["list"], b"");
    assert_eq!(
        serde_json::from_str::<BTreeMap<String, String>>(&out)
            .unwrap()
            .len(),
        20
    );
}

#[test]
fn item30_unknown_fields_and_key_case_are_tolerated() {
    let m = Mem::default();
    is(
        h(
            &m,
            &["store"],
            br#"{"ServerURL":"r","Username":"u","Secret":"s","Extra":1,"Nested":{"a":[1]}}"#,
        ),
        (0, ""),
    );
    is(
        h(
            &m,
            &["store"],
            br#"{"serverurl":"l","username":"u","secret":"s"}"#,
        ),
        (0, ""),
    );
    assert_eq!(get(&m, "l").secret.expose(), "s");
}

#[test]
fn helper_errors_are_printed_verbatim() {
    struct Broken;
    impl Helper for Broken {
        fn info(&self) -> HelperInfo {
            HelperInfo {
                name: "docker-credential-broken",
                package: "p",
                version: "1",
            }
        }
        fn add(&self, _: &Credentials) -> Result<(), Error> {
            Err(Error::other(
                "keychain is locked; unlock it with `secret-tool`",
            ))
        }
        fn get(&self, _: &str) -> Result<Credentials, Error> {
            Err(Error::MissingUsername)
        }
        fn erase(&self, _: &str) -> Result<(), Error> {
            Err(Error::NotFound)
        }
        fn list(&self) -> Result<CredentialList, Error> {
            Err(Error::other("no keychain"))
        }
    }
    let run = |args: &[&str], stdin: &[u8]| {
        let mut out = Vec::new();
        let code = serve(&Broken, args.iter().copied(), stdin, &mut out);
        (code, String::from_utf8(out).unwrap())
    };
    assert_eq!(
        run(&["store"], br#"{"ServerURL":"r","Username":"u"}"#),
        (
            1,
            "keychain is locked; unlock it with `secret-tool`\n".to_string()
        )
    );
    assert_eq!(
        run(&["get"], b"r"),
        (1, "no credentials username\n".to_string())
    );
    assert_eq!(
        run(&["erase"], b"r"),
        (1, "credentials not found in native keychain\n".to_string())
    );
    assert_eq!(run(&["list"], b""), (1, "no keychain\n".to_string()));
}
