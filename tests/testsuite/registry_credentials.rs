//! Where `apko push` gets registry credentials, against the real htpasswd `docker-registry`:
//! a `credsStore` helper (docker-credential-apko on the kernel keyring), a `credHelpers`
//! helper, `auths`, `--auth`; a stale helper entry falling back to `--auth`; a wrong password
//! as a clear error naming the source; `apko login` checking before it stores.

use crate::support::Registry;
use crate::support::cli::{Cli, base_index_digest, our_helper};
use crate::support::layout::base_image;
use apko_credential::{Credentials, Program};

/// `base64("testuser:testpass")`: must never show either.
const BASIC: &str = "dGVzdHVzZXI6dGVzdHBhc3M=";

fn push(cli: &Cli, host: &str, extra: &[&str]) -> crate::support::cli::Out {
    let base = base_image();
    let tag = format!("{host}/creds/app:1");
    let mut args = vec!["push", base.to_str().unwrap(), tag.as_str()];
    args.extend(extra);
    cli.run(&args)
}

fn pushed(host: &str) -> String {
    format!("{host}/creds/app@{}\n", base_index_digest())
}

fn assert_no_secret(text: &str) {
    assert!(!text.contains("testpass"), "{text}");
    assert!(!text.contains(BASIC), "{text}");
}

/// docker-credential-apko on the kernel keyring, on the PATH apko gets, erased afterwards.
struct Keyring<'a> {
    host: &'a str,
}

impl<'a> Keyring<'a> {
    fn install(cli: &mut Cli, host: &'a str) -> Keyring<'a> {
        std::os::unix::fs::symlink(our_helper(), cli.path("bin/docker-credential-apko")).unwrap();
        cli.env("DOCKER_CREDENTIAL_APKO_BACKEND", "keyutils");
        let k = Keyring { host };
        let _ = k.program().erase(host);
        k
    }

    fn program(&self) -> Program {
        Program::new(our_helper().to_str().unwrap())
            .env("DOCKER_CREDENTIAL_APKO_BACKEND", "keyutils")
    }
}

impl Drop for Keyring<'_> {
    fn drop(&mut self) {
        let _ = self.program().erase(self.host);
    }
}

#[test]
fn creds_store_helper() {
    let registry = Registry::start_htpasswd();
    let h = registry.host.as_str();
    let mut cli = Cli::new();
    let keyring = Keyring::install(&mut cli, h);
    keyring
        .program()
        .store(&Credentials {
            server_url: h.to_string(),
            username: "testuser".into(),
            secret: "testpass".to_string().into(),
        })
        .unwrap();
    cli.config_json(r#"{"credsStore":"apko"}"#);
    let out = push(&cli, h, &["--log-level", "trace"]).ok();
    assert_eq!(out.stdout, pushed(h));
    assert_no_secret(&out.stderr);
}

#[test]
fn cred_helpers_helper_is_asked_once() {
    let registry = Registry::start_htpasswd();
    let h = registry.host.as_str();
    let cli = Cli::new();
    cli.recording_helper(
        "rec",
        r#"{"ServerURL":"%s","Username":"testuser","Secret":"testpass"}"#,
    );
    cli.config_json(&format!(
        r#"{{"credsStore":"nope","credHelpers":{{"{h}":"rec"}}}}"#
    ));
    let out = push(&cli, h, &[]).ok();
    assert_eq!(out.stdout, pushed(h));
    // One process, one lookup, however many requests.
    assert_eq!(cli.helper_log("rec"), [format!("get {h}")]);
}

#[test]
fn auths_entry() {
    let registry = Registry::start_htpasswd();
    let h = registry.host.as_str();
    let cli = Cli::new();
    cli.config_json(&format!(
        r#"{{"auths":{{"http://{h}":{{"auth":"{BASIC}"}}}}}}"#
    ));
    let out = push(&cli, h, &[]).ok();
    assert_eq!(out.stdout, pushed(h));
}

#[test]
fn inline_auth_never_logged() {
    let registry = Registry::start_htpasswd();
    let h = registry.host.as_str();
    let cli = Cli::new();
    let out = push(
        &cli,
        h,
        &["--auth", "testuser:testpass", "--log-level", "trace"],
    )
    .ok();
    assert_eq!(out.stdout, pushed(h));
    assert!(out.stderr.starts_with(
        "WARNING! Using --auth with a secret on the command line is insecure. Use --auth-file or APKO_AUTH.\n"
    ));
    assert_no_secret(&out.stderr);
}

#[test]
fn stale_helper_entry_falls_back_to_auth_file() {
    let registry = Registry::start_htpasswd();
    let h = registry.host.as_str();
    let cli = Cli::new();
    cli.recording_helper(
        "stale",
        r#"{"ServerURL":"%s","Username":"testuser","Secret":"old-password"}"#,
    );
    cli.config_json(&format!(r#"{{"credHelpers":{{"{h}":"stale"}}}}"#));
    let auth = cli.file("auth.txt", &format!("{h}=testuser:testpass\n"));
    let out = push(
        &cli,
        h,
        &[
            "--auth-file",
            auth.to_str().unwrap(),
            "--log-level",
            "debug",
        ],
    )
    .ok();
    assert_eq!(out.stdout, pushed(h));
    assert_eq!(cli.helper_log("stale"), [format!("get {h}")]);
    assert!(
        out.stderr
            .contains("credential rejected: 401 Unauthorized from"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("old-password"), "{}", out.stderr);
    assert_no_secret(&out.stderr);
}

#[test]
fn wrong_password_names_every_source() {
    let registry = Registry::start_htpasswd();
    let h = registry.host.as_str();
    let cli = Cli::new();
    cli.recording_helper(
        "stale",
        r#"{"ServerURL":"%s","Username":"testuser","Secret":"old-password"}"#,
    );
    cli.config_json(&format!(r#"{{"credHelpers":{{"{h}":"stale"}}}}"#));
    let auth = cli.file("auth.txt", &format!("{h}=testuser:wrong-password\n"));
    let out = push(&cli, h, &["--auth-file", auth.to_str().unwrap()]);
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "");
    let config = cli.docker_config().join("config.json");
    assert_eq!(
        out.stderr,
        format!(
            "Error: no usable credentials for {h}; sources tried:\n\
             \x20 1. docker-credential-stale get \"{h}\" (credHelpers[\"{h}\"] in {config}): rejected by the server: 401 Unauthorized from {h}\n\
             \x20 2. --auth-file {auth} line 1: rejected by the server: 401 Unauthorized from {h}\n\
             \x20 3. anonymous: rejected by the server: 401 Unauthorized from {h}\n\
             Fix the failing source, or give credentials with --auth {h}=USER:PASSWORD (or --auth-file); `apko auth explain` shows every source\n",
            config = config.display(),
            auth = auth.display(),
        )
    );
    assert!(!out.stderr.contains("wrong-password") && !out.stderr.contains("old-password"));
}

#[test]
fn no_credentials_at_all() {
    let registry = Registry::start_htpasswd();
    let h = registry.host.as_str();
    let cli = Cli::new();
    let out = push(&cli, h, &[]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        format!(
            "Error: no usable credentials for {h}; sources tried:\n\
             \x20 1. anonymous: rejected by the server: 401 Unauthorized from {h}\n\
             Fix the failing source, or give credentials with --auth {h}=USER:PASSWORD (or --auth-file); `apko auth explain` shows every source\n"
        )
    );
}

#[test]
fn login_checks_before_storing() {
    let registry = Registry::start_htpasswd();
    let h = registry.host.as_str();
    let mut cli = Cli::new();
    let keyring = Keyring::install(&mut cli, h);
    cli.config_json(r#"{"credsStore":"apko"}"#);

    let out = cli.run_stdin(
        &["login", h, "-u", "testuser", "--password-stdin"],
        "wrong-password\n",
    );
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        format!(
            "Error: login to {h} failed: 401 Unauthorized from {h} (UNAUTHORIZED: authentication required); nothing was stored\n"
        )
    );
    assert!(keyring.program().get(h).unwrap().is_none());
    assert_eq!(cli.read_config_json(), r#"{"credsStore":"apko"}"#);

    let out = cli
        .run_stdin(
            &["login", h, "-u", "testuser", "--password-stdin"],
            "testpass\n",
        )
        .ok();
    assert_eq!(out.stdout, "Login Succeeded\n");
    let stored = keyring
        .program()
        .get(h)
        .unwrap()
        .expect("stored in the helper");
    assert_eq!(
        (stored.username.as_str(), stored.secret.expose().as_str()),
        ("testuser", "testpass")
    );
    let config: serde_json::Value = serde_json::from_str(&cli.read_config_json()).unwrap();
    assert_eq!(
        config,
        serde_json::json!({"credsStore": "apko", "auths": {h: {}}})
    );
    // And the stored credentials push.
    assert_eq!(push(&cli, h, &[]).ok().stdout, pushed(h));
}

#[test]
fn login_no_verify_stores_without_asking() {
    let cli = Cli::new();
    // Nothing listens there: --no-verify must not try.
    let out = cli
        .run_stdin(
            &[
                "login",
                "127.0.0.1:9",
                "-u",
                "u",
                "--password-stdin",
                "--no-verify",
            ],
            "p\n",
        )
        .ok();
    assert_eq!(
        out.stdout,
        "Credentials for 127.0.0.1:9 stored (not verified against the registry).\n"
    );
    let out = cli.run_stdin(
        &["login", "127.0.0.1:9", "-u", "u", "--password-stdin"],
        "p\n",
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.starts_with(
            "Error: GET https://127.0.0.1:9/v2/: tcp connect error: Connection refused"
        ),
        "{}",
        out.stderr
    );
}
