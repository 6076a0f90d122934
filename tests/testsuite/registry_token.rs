//! Token authentication against the real `docker-registry` (`auth: token`) and the test
//! token server: Basic credentials exchanged by GET, identity tokens by the OAuth2 POST (GET
//! when the server has no OAuth2), bearer tokens sent as they are, the token cache, `login`
//! storing a refresh token, and rejected credentials moving on to the next source.

use crate::support::cli::{Cli, base_blobs, base_index_digest, blobs};
use crate::support::http::{Request, forward};
use crate::support::layout::base_image;
use crate::support::token::{REFRESH_TOKEN, TokenOptions, TokenServer};
use crate::support::{Registry, RegistryAuth, RegistryConfig};

const BASIC: &str = "Basic dGVzdHVzZXI6dGVzdHBhc3M=";

fn start(options: TokenOptions) -> (TokenServer, Registry) {
    let tokens = TokenServer::start(options);
    let registry = Registry::start(RegistryConfig {
        auth: RegistryAuth::Token(&tokens),
        ..RegistryConfig::default()
    });
    (tokens, registry)
}

fn push(cli: &Cli, host: &str, repo: &str, extra: &[&str]) -> crate::support::cli::Out {
    let base = base_image();
    let tag = format!("{host}/{repo}:1");
    let mut args = vec!["push", base.to_str().unwrap(), tag.as_str()];
    args.extend(extra);
    cli.run(&args)
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    params
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

#[test]
fn basic_credentials_get_one_token_per_scope_set() {
    // expires_in 1 is read as 60 s: one token serves the whole push.
    let (tokens, registry) = start(TokenOptions {
        expires_in: 1,
        ..TokenOptions::default()
    });
    let h = registry.host.as_str();
    let cli = Cli::new();
    let auth = cli.file("auth.txt", &format!("{h}=testuser:testpass\n"));
    let auth = auth.to_str().unwrap();
    let out = push(&cli, h, "tok/app", &["--auth-file", auth]).ok();
    assert_eq!(out.stdout, format!("{h}/tok/app@{}\n", base_index_digest()));
    let requests = tokens.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    let r = &requests[0];
    assert_eq!((r.method.as_str(), r.path()), ("GET", "/token"));
    assert_eq!(r.header("authorization"), Some(BASIC));
    let q = r.query();
    assert_eq!(param(&q, "service"), ["test-registry"]);
    assert_eq!(param(&q, "scope"), ["repository:tok/app:push,pull"]);
    assert_eq!(param(&q, "account"), ["testuser"]);

    // Pull in a new process: one token for the pull scope.
    let dir = cli.path("pulled");
    cli.run(&[
        "pull",
        &format!("{h}/tok/app:1"),
        dir.to_str().unwrap(),
        "--auth-file",
        auth,
    ])
    .ok();
    assert_eq!(blobs(&dir), base_blobs());
    let requests = tokens.requests();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    assert_eq!(
        param(&requests[1].query(), "scope"),
        ["repository:tok/app:pull"]
    );
}

#[test]
fn identity_token_from_a_helper_uses_the_oauth2_post() {
    let (tokens, registry) = start(TokenOptions::default());
    let h = registry.host.as_str();
    let cli = Cli::new();
    cli.recording_helper(
        "idtok",
        &format!(r#"{{"ServerURL":"%s","Username":"<token>","Secret":"{REFRESH_TOKEN}"}}"#),
    );
    cli.config_json(&format!(r#"{{"credHelpers":{{"{h}":"idtok"}}}}"#));
    let out = push(&cli, h, "tok/id", &["--log-level", "trace"]).ok();
    assert_eq!(out.stdout, format!("{h}/tok/id@{}\n", base_index_digest()));
    assert!(!out.stderr.contains(REFRESH_TOKEN), "{}", out.stderr);
    let requests = tokens.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    let r = &requests[0];
    assert_eq!((r.method.as_str(), r.path()), ("POST", "/token"));
    assert_eq!(
        r.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    // Never as Basic `<token>:…`.
    assert_eq!(r.header("authorization"), None);
    assert_eq!(
        r.form(),
        [
            ("grant_type", "refresh_token"),
            ("refresh_token", REFRESH_TOKEN),
            ("service", "test-registry"),
            ("scope", "repository:tok/id:push,pull"),
            ("client_id", "apko"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
    );
}

#[test]
fn no_oauth2_falls_back_to_get_then_to_the_next_source() {
    let (tokens, registry) = start(TokenOptions {
        oauth: false,
        ..TokenOptions::default()
    });
    let h = registry.host.as_str();
    let cli = Cli::new();
    cli.recording_helper(
        "idtok",
        &format!(r#"{{"ServerURL":"%s","Username":"<token>","Secret":"{REFRESH_TOKEN}"}}"#),
    );
    cli.config_json(&format!(r#"{{"credHelpers":{{"{h}":"idtok"}}}}"#));
    let auth = cli.file("auth.txt", &format!("{h}=testuser:testpass\n"));
    let out = push(
        &cli,
        h,
        "tok/noauth",
        &["--auth-file", auth.to_str().unwrap()],
    )
    .ok();
    assert_eq!(
        out.stdout,
        format!("{h}/tok/noauth@{}\n", base_index_digest())
    );
    // POST 404 → GET without credentials (a pull-only token) → the registry refuses the
    // push → the next source's Basic credentials.
    let summary: Vec<(String, Option<String>)> = tokens
        .requests()
        .iter()
        .map(|r| {
            (
                r.method.clone(),
                r.header("authorization").map(str::to_string),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("POST".to_string(), None),
            ("GET".to_string(), None),
            ("GET".to_string(), Some(BASIC.to_string())),
        ]
    );

    // With only the identity token, pulling still works: the anonymous token grants pull.
    let dir = cli.path("pulled");
    cli.run(&["pull", &format!("{h}/tok/noauth:1"), dir.to_str().unwrap()])
        .ok();
    assert_eq!(blobs(&dir), base_blobs());
}

#[test]
fn stale_identity_token_and_wrong_password_are_named() {
    let (_tokens, registry) = start(TokenOptions::default());
    let h = registry.host.as_str();
    let cli = Cli::new();
    cli.recording_helper(
        "idtok",
        r#"{"ServerURL":"%s","Username":"<token>","Secret":"refresh-revoked"}"#,
    );
    let config = cli.docker_config().join("config.json");
    cli.config_json(&format!(r#"{{"credHelpers":{{"{h}":"idtok"}}}}"#));
    let auth = cli.file("auth.txt", &format!("{h}=testuser:wrong\n"));
    let out = push(
        &cli,
        h,
        "tok/stale",
        &["--auth-file", auth.to_str().unwrap()],
    );
    assert_eq!(out.code, 1);
    let realm = _tokens.realm();
    assert_eq!(
        out.stderr,
        format!(
            "Error: no usable credentials for {h}; sources tried:\n\
             \x20 1. docker-credential-idtok get \"{h}\" (credHelpers[\"{h}\"] in {config}): rejected by the server: 401 Unauthorized from the token endpoint {realm} (POST) (bad grant)\n\
             \x20 2. --auth-file {auth} line 1: rejected by the server: 401 Unauthorized from the token endpoint {realm} (GET) (bad credentials)\n\
             \x20 3. anonymous: rejected by the server: 401 Unauthorized from {h} (UNAUTHORIZED: authentication required)\n\
             Fix the failing source, or give credentials with --auth {h}=USER:PASSWORD (or --auth-file); `apko auth explain` shows every source\n",
            config = config.display(),
            auth = auth.display(),
        )
    );
    assert!(!out.stderr.contains("refresh-revoked"));
}

#[test]
fn login_stores_the_refresh_token() {
    let (tokens, registry) = start(TokenOptions::default());
    let h = registry.host.as_str();
    let cli = Cli::new();
    let out = cli
        .run_stdin(
            &["login", h, "-u", "testuser", "--password-stdin"],
            "testpass\n",
        )
        .ok();
    assert_eq!(out.stdout, "Login Succeeded\n");
    let r = &tokens.requests()[0];
    assert_eq!(r.header("authorization"), Some(BASIC));
    let q = r.query();
    assert_eq!(param(&q, "offline_token"), ["true"]);
    assert_eq!(param(&q, "client_id"), ["apko"]);
    assert_eq!(param(&q, "account"), ["testuser"]);
    // No helper configured: the file gets the identity token, not the password.
    let config: serde_json::Value = serde_json::from_str(&cli.read_config_json()).unwrap();
    let entry = &config["auths"][h];
    assert_eq!(entry["auth"], "dGVzdHVzZXI6");
    let token = entry["identitytoken"].as_str().unwrap();
    assert!(tokens.knows_refresh_token(token), "{token}");
    assert!(!cli.read_config_json().contains("testpass"));

    // The stored identity token pushes, through the OAuth2 POST.
    let out = push(&cli, h, "tok/login", &[]).ok();
    assert_eq!(
        out.stdout,
        format!("{h}/tok/login@{}\n", base_index_digest())
    );
    let last = tokens.requests().pop().unwrap();
    assert_eq!(last.method, "POST");

    let out = cli.run_stdin(
        &["login", h, "-u", "testuser", "--password-stdin"],
        "nope\n",
    );
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        format!(
            "Error: login to {h} failed: 401 Unauthorized from the token endpoint {} (GET) (bad credentials); nothing was stored\n",
            tokens.realm()
        )
    );
}

#[test]
fn bearer_token_is_sent_as_it_is() {
    let (tokens, registry) = start(TokenOptions::default());
    let h = registry.host.as_str();
    let addr = tokens.realm()["http://".len()..]
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let answer = forward(
        &addr,
        &Request {
            method: "GET".into(),
            target: "/token?service=test-registry&scope=repository%3Atok%2Fbearer%3Apush%2Cpull"
                .into(),
            headers: vec![
                ("Host".into(), addr.clone()),
                ("Authorization".into(), BASIC.into()),
            ],
            body: Vec::new(),
        },
    );
    assert_eq!(answer.status, 200);
    let json: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    let token = json["token"].as_str().unwrap().to_string();
    let cli = Cli::new();
    let auth = cli.file("auth.txt", &format!("{h}=bearer:{token}\n"));
    let before = tokens.requests().len();
    let out = push(
        &cli,
        h,
        "tok/bearer",
        &["--auth-file", auth.to_str().unwrap()],
    )
    .ok();
    assert_eq!(
        out.stdout,
        format!("{h}/tok/bearer@{}\n", base_index_digest())
    );
    assert_eq!(
        tokens.requests().len(),
        before,
        "no exchange for a bearer token"
    );
}

#[test]
fn a_token_service_that_is_down_is_retried_then_named() {
    let (tokens, registry) = start(TokenOptions {
        down: true,
        ..TokenOptions::default()
    });
    let h = registry.host.as_str();
    let cli = Cli::new();
    let auth = cli.file("auth.txt", &format!("{h}=testuser:testpass\n"));
    let out = push(
        &cli,
        h,
        "tok/down",
        &["--auth-file", auth.to_str().unwrap()],
    );
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        format!(
            "Error: token endpoint {} (GET): 503 Service Unavailable (token service unavailable) (after 4 attempts)\n",
            tokens.realm()
        )
    );
    assert_eq!(tokens.requests().len(), 4);
}
