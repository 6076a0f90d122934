//! The credential sources beyond config files, and what happens around them, through the
//! `apko` binary: `DOCKER_AUTH_CONFIG` (docker/cli 28+), the GitHub keychain for ghcr.io (as
//! real apko's `publish` has it), `auth explain` on image names and failing sources, and a
//! failing helper that must not break a registry open to anonymous access.

use crate::support::cli::{Cli, base_index_digest};
use crate::support::{Registry, RegistryAuth, RegistryConfig};

/// `base64("ci:s3cr3t-env")`.
const ENV_AUTH: &str = "Y2k6czNjcjN0LWVudg==";

fn auth_get(cli: &Cli, host: &str) -> crate::support::cli::Out {
    cli.run(&["auth", "get", host])
}

#[test]
fn docker_auth_config_comes_before_helpers_and_files() {
    let mut cli = Cli::new();
    cli.recording_helper(
        "alpha",
        r#"{"ServerURL":"%s","Username":"alpha","Secret":"from-helper"}"#,
    );
    cli.config_json(r#"{"credsStore":"alpha","auths":{"r.example":{"auth":"dTpw"}}}"#);
    cli.env(
        "DOCKER_AUTH_CONFIG",
        &format!(r#"{{"auths":{{"r.example":{{"auth":"{ENV_AUTH}"}}}}}}"#),
    );
    let out = auth_get(&cli, "r.example").ok();
    assert_eq!(
        out.stdout,
        "{\"ServerURL\":\"r.example\",\"Username\":\"ci\",\"Secret\":\"s3cr3t-env\"}\n"
    );
    assert_eq!(
        cli.helper_log("alpha"),
        Vec::<String>::new(),
        "no helper ran"
    );
    // Another host falls back to the config file's helper, as in docker.
    let out = auth_get(&cli, "q.example").ok();
    assert_eq!(
        out.stdout,
        "{\"ServerURL\":\"q.example\",\"Username\":\"alpha\",\"Secret\":\"from-helper\"}\n"
    );
    let explained = cli.run(&["auth", "explain", "r.example/team/app:1"]).ok();
    assert!(
        explained
            .stdout
            .contains("  $DOCKER_AUTH_CONFIG (environment, asked first): read\n"),
        "{}",
        explained.stdout
    );
    assert!(
        explained.stdout.contains(
            "  1. auths[\"r.example\"] in $DOCKER_AUTH_CONFIG: found username \"ci\" with a password (10 bytes)  <- used\n"
        ),
        "{}",
        explained.stdout
    );
    assert!(!explained.stdout.contains("s3cr3t-env"));
}

#[test]
fn a_docker_auth_config_docker_would_refuse_is_a_clear_error_without_its_text() {
    let mut cli = Cli::new();
    cli.config_json(r#"{"auths":{"r.example":{"auth":"dTpw"}}}"#);
    for (value, why) in [
        (
            format!(r#"{{"auths":{{"r.example":{{"auth":"{ENV_AUTH}"}}"#),
            "DOCKER_AUTH_CONFIG at line 1 column 53: invalid JSON (unexpected end of input at line 1 column 53)",
        ),
        (
            format!(r#"{{"credsStore":"pass","auths":{{"r.example":{{"auth":"{ENV_AUTH}"}}}}}}"#),
            "DOCKER_AUTH_CONFIG: unknown field `credsStore`",
        ),
        (
            r#"{"auths":{"r.example":{"username":"ci","password":"s3cr3t-env"}}}"#.to_string(),
            "DOCKER_AUTH_CONFIG: `auths[\"r.example\"]`: unknown field `password`",
        ),
        (
            r#"{"auths":{"r.example":{"auth":""}}}"#.to_string(),
            "DOCKER_AUTH_CONFIG: `auths[\"r.example\"]` is missing key `auth`",
        ),
    ] {
        let mut cli2 = Cli::new();
        std::mem::swap(&mut cli, &mut cli2);
        cli.config_json(r#"{"auths":{"r.example":{"auth":"dTpw"}}}"#);
        cli.env("DOCKER_AUTH_CONFIG", &value);
        let out = cli.run(&["auth", "explain", "r.example"]);
        assert_eq!(out.code, 1, "{out:#?}");
        assert_eq!(
            out.stderr,
            format!(
                "Error: {why}; fix the variable (docker accepts only \
                 {{\"auths\":{{\"HOST\":{{\"auth\":\"base64(user:password)\"}}}}}} there) or unset it\n"
            )
        );
        assert!(!out.stderr.contains("s3cr3t-env") && !out.stderr.contains(ENV_AUTH));
    }
}

#[test]
fn github_token_answers_for_ghcr_io_only_after_helpers_and_files() {
    let mut cli = Cli::new();
    cli.env("GITHUB_TOKEN", "ghp_t0ken-for-ci");
    cli.env("GITHUB_ACTOR", "octocat");
    let out = auth_get(&cli, "ghcr.io").ok();
    assert_eq!(
        out.stdout,
        "{\"ServerURL\":\"ghcr.io\",\"Username\":\"octocat\",\"Secret\":\"ghp_t0ken-for-ci\"}\n"
    );
    let out = auth_get(&cli, "r.example");
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "credentials not found in native keychain\n");

    // A helper for ghcr.io is asked first, as go-containerregistry's DefaultKeychain is.
    cli.recording_helper(
        "alpha",
        r#"{"ServerURL":"%s","Username":"alpha","Secret":"from-helper"}"#,
    );
    cli.config_json(r#"{"credHelpers":{"ghcr.io":"alpha"}}"#);
    let out = auth_get(&cli, "ghcr.io").ok();
    assert_eq!(
        out.stdout,
        "{\"ServerURL\":\"ghcr.io\",\"Username\":\"alpha\",\"Secret\":\"from-helper\"}\n"
    );
    let explained = cli.run(&["auth", "explain", "ghcr.io/org/app:1"]).ok();
    assert!(
        explained.stdout.contains(
            "  2. GITHUB_TOKEN (as GITHUB_ACTOR) for ghcr.io: found username \"octocat\" with a password (16 bytes)\n"
        ),
        "{}",
        explained.stdout
    );

    // Without GITHUB_ACTOR the username is `unset`, as go-containerregistry's.
    let mut cli = Cli::new();
    cli.env("GITHUB_TOKEN", "ghp_t0ken-for-ci");
    let out = auth_get(&cli, "ghcr.io").ok();
    assert_eq!(
        out.stdout,
        "{\"ServerURL\":\"ghcr.io\",\"Username\":\"unset\",\"Secret\":\"ghp_t0ken-for-ci\"}\n"
    );
}

#[test]
fn explain_reads_a_name_without_a_slash_as_docker_does() {
    let cli = Cli::new();
    for (arg, head) in [
        (
            "alpine:3",
            "Credentials for docker.io (registry, repository library/alpine)\n",
        ),
        (
            "alpine",
            "Credentials for docker.io (registry, repository library/alpine)\n",
        ),
        ("r.example", "Credentials for r.example (registry)\n"),
        (
            "r.example:5000",
            "Credentials for r.example:5000 (registry)\n",
        ),
        (
            "localhost:5000",
            "Credentials for localhost:5000 (registry)\n",
        ),
    ] {
        let out = cli.run(&["auth", "explain", arg]).ok();
        assert!(out.stdout.starts_with(head), "{arg}: {}", out.stdout);
    }
}

#[test]
fn explain_marks_nothing_used_when_a_source_failed() {
    let cli = Cli::new();
    cli.helper("broken", "echo 'the store is locked'; exit 1");
    cli.config_json(r#"{"credsStore":"broken"}"#);
    let out = cli.run(&["auth", "explain", "r.example"]);
    assert_eq!(out.code, 1);
    assert!(out.stdout.contains("  2. anonymous\n"), "{}", out.stdout);
    assert!(!out.stdout.contains("<- used"), "{}", out.stdout);
    assert!(
        out.stdout
            .ends_with("\nResult: error: a source failed and no other source has credentials\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_failing_helper_does_not_break_an_anonymous_pull_and_is_named_when_the_registry_refuses() {
    let cli = Cli::new();
    let ran = cli.path("broken.ran");
    cli.helper(
        "broken",
        &format!(
            "echo run >> '{}'; echo 'the store is locked'; exit 1",
            ran.display()
        ),
    );
    cli.config_json(r#"{"credsStore":"broken"}"#);

    // A registry open to everyone asks for no credentials: the push and the pull work, and
    // the broken helper is never run.
    let open = Registry::start(RegistryConfig {
        auth: RegistryAuth::None,
        ..RegistryConfig::default()
    });
    let tag = format!("{}/public/app:1", open.host);
    let base = crate::support::layout::base_image();
    let out = cli.run(&["push", base.to_str().unwrap(), &tag]).ok();
    assert_eq!(
        out.stdout,
        format!("{}/public/app@{}\n", open.host, base_index_digest())
    );
    let pulled = cli.path("pulled");
    cli.run(&["pull", &tag, pulled.to_str().unwrap()]).ok();
    assert!(
        !ran.exists(),
        "the helper ran for a registry that asked for nothing"
    );

    // A registry that needs credentials: the error names the helper's failure and the refusal.
    let closed = Registry::start_htpasswd();
    let tag = format!("{}/private/app:1", closed.host);
    let out = cli.run(&["push", base.to_str().unwrap(), &tag]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(
        out.stderr.contains(&format!(
            "{}: no source gave credentials and one failed; trying without credentials",
            closed.host
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("docker-credential-broken get")
            && out.stderr.contains("the store is locked")
            && out.stderr.contains("anonymous: rejected"),
        "{}",
        out.stderr
    );
}

/// `mkfifo` at `path`.
fn mkfifo(path: &std::path::Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo(3) with a NUL-terminated path we own.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

#[test]
fn a_config_json_that_is_not_a_regular_file_or_too_big_is_refused_at_once() {
    let cli = Cli::new();
    let config = cli.docker_config().join("config.json");
    mkfifo(&config);
    let started = std::time::Instant::now();
    let out = auth_get(&cli, "r.example");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        format!(
            "Error: {}: it is a FIFO (named pipe), not a regular file: point it (or the symlink) at a JSON file, or remove it; fix the file (apko never rewrites a file it cannot parse)\n",
            config.display()
        )
    );

    std::fs::remove_file(&config).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &config).unwrap();
    let out = auth_get(&cli, "r.example");
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains(
            ": it is a device, not a regular file: point it (or the symlink) at a JSON file"
        ),
        "{}",
        out.stderr
    );

    std::fs::remove_file(&config).unwrap();
    // Sparse: refused by its size, before a byte is read.
    let big = std::fs::File::create(&config).unwrap();
    big.set_len((64 << 20) + 1).unwrap();
    drop(big);
    let out = auth_get(&cli, "r.example");
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        format!(
            "Error: {}: it is 67108865 bytes, more than a credential config can be (64 MiB); fix the file (apko never rewrites a file it cannot parse)\n",
            config.display(),
        )
    );
}

#[test]
fn login_through_a_symlink_writes_only_to_a_regular_file() {
    let cli = Cli::new();
    let fifo = cli.path("pipe");
    mkfifo(&fifo);
    let config = cli.docker_config().join("config.json");
    std::os::unix::fs::symlink(&fifo, &config).unwrap();
    let out = cli.run_stdin(
        &[
            "login",
            "r.example",
            "-u",
            "ci",
            "--password-stdin",
            "--no-verify",
        ],
        "s3cr3t\n",
    );
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(
        out.stderr.contains(&format!(
            "{}: it is a FIFO (named pipe), not a regular file",
            config.display()
        )),
        "{}",
        out.stderr
    );
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    assert!(
        std::fs::symlink_metadata(&config)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}
