//! The real docker CLI (no daemon needed for login/logout) storing through docker-credential-apko
//! on the kernel keyring, against a real htpasswd-protected distribution registry.

use apko_credential::Program;
use apko_test_support::{Registry, require};
use std::io::Write;
use std::process::{Command, Stdio};

#[test]
fn docker_login_and_logout_go_through_docker_credential_apko() {
    let docker = require(
        "docker",
        "docker.io (the docker CLI; the machine image ships it)",
    );
    let registry = Registry::start_htpasswd();
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_docker-credential-apko"),
        bin.join("docker-credential-apko"),
    )
    .unwrap();
    let config = dir.path().join("docker");
    std::fs::create_dir(&config).unwrap();
    std::fs::write(config.join("config.json"), r#"{"credsStore":"apko"}"#).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let docker_cmd = |args: &[&str]| {
        let mut cmd = Command::new(&docker);
        cmd.args(args)
            .env("DOCKER_CONFIG", &config)
            .env("HOME", dir.path())
            .env("PATH", &path)
            .env("DOCKER_CREDENTIAL_APKO_BACKEND", "keyutils")
            .env_remove("DOCKER_HOST");
        cmd
    };

    let mut login = docker_cmd(&[
        "login",
        &registry.host,
        "-u",
        "testuser",
        "--password-stdin",
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    login
        .stdin
        .take()
        .unwrap()
        .write_all(b"testpass\n")
        .unwrap();
    let out = login.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "docker login failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Login Succeeded"), "{stdout}");

    // docker wrote only a placeholder; the secret is in our helper.
    let file = std::fs::read_to_string(config.join("config.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&file).unwrap();
    assert_eq!(json["auths"][&registry.host], serde_json::json!({}));
    assert_eq!(json["credsStore"], "apko");
    assert!(!file.contains("testpass"));
    let ours = Program::new(bin.join("docker-credential-apko").to_str().unwrap())
        .env("DOCKER_CREDENTIAL_APKO_BACKEND", "keyutils");
    let creds = ours
        .get(&registry.host)
        .unwrap()
        .expect("docker stored through our helper");
    assert_eq!(
        (creds.username.as_str(), creds.secret.expose().as_str()),
        ("testuser", "testpass")
    );

    let out = docker_cmd(&["logout", &registry.host]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains(&format!("Removing login credentials for {}", registry.host))
    );
    assert!(
        ours.get(&registry.host).unwrap().is_none(),
        "docker logout erased through our helper"
    );
}
