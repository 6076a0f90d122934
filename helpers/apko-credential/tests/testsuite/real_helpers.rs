//! The client against the real third-party helpers from Debian's
//! golang-docker-credential-helpers (0.6.4): `docker-credential-pass` over a throwaway gpg key
//! and `docker-credential-secretservice` over gnome-keyring on a private D-Bus.

use apko_credential::client::{Error, Program};
use apko_credential::wire::Credentials;
use apko_test_support::{PassStore, SENTINEL, SecretService, require};

fn program(name: &str, env: &[(String, String)]) -> Program {
    require(
        &format!("docker-credential-{name}"),
        "golang-docker-credential-helpers",
    );
    env.iter()
        .fold(Program::new(name), |p, (k, v)| p.env(k.clone(), v.clone()))
}

/// The round trip every helper must support; `secret` is varied by the callers.
fn round_trip(helper: &Program, secret: &str) {
    let key = "127.0.0.1:5000";
    assert!(
        helper.get(key).unwrap().is_none(),
        "fresh store has no {key}"
    );
    helper
        .store(&Credentials::new(key, "testuser", secret))
        .unwrap();
    helper
        .store(&Credentials::new(
            "https://index.docker.io/v1/",
            "<token>",
            "refresh-1",
        ))
        .unwrap();

    let got = helper.get(key).unwrap().expect("stored entry is found");
    assert_eq!(
        (got.server_url.as_str(), got.username.as_str()),
        (key, "testuser")
    );
    assert_eq!(got.secret.expose(), secret);
    let hub = helper.get("https://index.docker.io/v1/").unwrap().unwrap();
    assert!(hub.is_identity_token());
    assert_eq!(hub.secret.expose(), "refresh-1");
    // Exact-key matching: the scheme-prefixed form is a different key for these helpers.
    assert!(helper.get("https://127.0.0.1:5000").unwrap().is_none());

    let list = helper.list().unwrap();
    assert_eq!(list.get(key).map(String::as_str), Some("testuser"));
    assert_eq!(
        list.get("https://index.docker.io/v1/").map(String::as_str),
        Some("<token>")
    );
    assert_eq!(list.len(), 2);

    assert!(helper.erase(key).unwrap());
    assert!(helper.get(key).unwrap().is_none());
    assert_eq!(helper.list().unwrap().len(), 1);
}

#[test]
fn pass_round_trip() {
    let store = PassStore::init();
    let helper = program("pass", &store.env);
    assert_eq!(helper.version().unwrap(), "0.6.4");
    round_trip(&helper, SENTINEL);
    // The secret is in the store only, encrypted: no file there holds it in the clear.
    for entry in walk(&store.store_dir()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(SENTINEL),
            "{}",
            entry.display()
        );
    }
}

#[test]
fn pass_quirks_are_handled() {
    let store = PassStore::init();
    let helper = program("pass", &store.env);
    // 0.6.4 answers a miss with empty credentials and exit 0: the client reads it as a miss.
    assert!(helper.get("nothing.example").unwrap().is_none());
    // 0.6.4 fails an erase of a missing key with its own text (not the not-found text).
    let e = helper.erase("nothing.example").unwrap_err();
    assert!(matches!(e, Error::Failed { .. }));
    let text = e.to_string();
    assert!(
        text.starts_with(
            "credential helper docker-credential-pass (erase) failed with exit status 1: "
        ),
        "{text}"
    );
    assert!(text.contains("is not in the password store"), "{text}");
}

#[test]
fn secretservice_round_trip() {
    let service = SecretService::start();
    let helper = program("secretservice", &service.env);
    assert_eq!(helper.version().unwrap(), "0.6.4");
    round_trip(&helper, SENTINEL);
    // Erase of a missing key succeeds with this helper.
    assert!(helper.erase("nothing.example").unwrap());
}

#[test]
fn secrets_with_special_characters_survive_both_helpers() {
    let secret = "line1\nquote\" back\\slash & <tag> ünï 🔑";
    let service = SecretService::start();
    round_trip(&program("secretservice", &service.env), secret);
    let store = PassStore::init();
    round_trip(&program("pass", &store.env), secret);
}

#[test]
fn secretservice_large_secret_limit_is_reported_without_the_secret() {
    // The Go library of 0.6.4 reads stdin with bufio.Scanner: one line over 64 KiB fails.
    let service = SecretService::start();
    let helper = program("secretservice", &service.env);
    let big = format!("{SENTINEL}{}", "x".repeat(70_000));
    let e = helper
        .store(&Credentials::new("big.example", "u", big))
        .unwrap_err();
    let text = e.to_string();
    assert_eq!(
        text,
        "credential helper docker-credential-secretservice (store) failed with exit status 1: \
         bufio.Scanner: token too long"
    );
    let fits = "y".repeat(60_000);
    helper
        .store(&Credentials::new("big.example", "u", fits.clone()))
        .unwrap();
    assert_eq!(
        helper.get("big.example").unwrap().unwrap().secret.expose(),
        &fits
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
