//! HTTPS registries with a private CA: `--ca-file` and `SSL_CERT_FILE` are trusted, nothing
//! else is, and a token endpoint over plain HTTP is refused for an HTTPS registry.

use crate::support::cli::{Cli, base_blobs, base_index_digest, blobs};
use crate::support::layout::base_image;
use crate::support::tls::Ca;
use crate::support::token::{TokenOptions, TokenServer};
use crate::support::{Registry, RegistryAuth, RegistryConfig};

fn tls_registry(ca: &Ca) -> Registry {
    Registry::start(RegistryConfig {
        tls: Some(ca),
        ..RegistryConfig::default()
    })
}

#[test]
fn ca_file_push_pull_and_login() {
    let ca = Ca::create();
    let registry = tls_registry(&ca);
    let h = registry.host.as_str();
    let cli = Cli::new();
    let ca_file = ca.cert.to_str().unwrap();
    let auth = cli.file("auth.txt", &format!("{h}=testuser:testpass\n"));
    let base = base_image();
    let out = cli
        .run(&[
            "push",
            base.to_str().unwrap(),
            &format!("{h}/tls:1"),
            "--ca-file",
            ca_file,
            "--auth-file",
            auth.to_str().unwrap(),
        ])
        .ok();
    assert_eq!(out.stdout, format!("{h}/tls@{}\n", base_index_digest()));
    let dir = cli.path("pulled");
    cli.run(&[
        "pull",
        &format!("{h}/tls:1"),
        dir.to_str().unwrap(),
        "--ca-file",
        ca_file,
        "--auth-file",
        auth.to_str().unwrap(),
    ])
    .ok();
    assert_eq!(blobs(&dir), base_blobs());

    let out = cli
        .run_stdin(
            &[
                "login",
                h,
                "-u",
                "testuser",
                "--password-stdin",
                "--ca-file",
                ca_file,
            ],
            "testpass",
        )
        .ok();
    assert_eq!(out.stdout, "Login Succeeded\n");
}

#[test]
fn unknown_ca_is_refused_with_a_hint() {
    let ca = Ca::create();
    let registry = tls_registry(&ca);
    let h = registry.host.as_str();
    let cli = Cli::new();
    let base = base_image();
    // Loopback may fall back to plain HTTP, but a TLS server answers that with 400: the
    // certificate error is what is reported.
    let out = cli.run(&["push", base.to_str().unwrap(), &format!("{h}/tls:1")]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        format!(
            "Error: GET https://{h}/v2/: invalid peer certificate: UnknownIssuer; if the registry uses a private CA, give its certificate with --ca-file FILE (or SSL_CERT_FILE)\n"
        )
    );
    // --insecure-registry allows plain HTTP, not an unverified certificate.
    let out = cli.run(&[
        "push",
        base.to_str().unwrap(),
        &format!("{h}/tls:1"),
        "--insecure-registry",
        h,
    ]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("UnknownIssuer"), "{}", out.stderr);
    // A file that holds no certificate is named.
    let junk = cli.file("junk.pem", "not a certificate\n");
    let out = cli.run(&[
        "push",
        base.to_str().unwrap(),
        &format!("{h}/tls:1"),
        "--ca-file",
        junk.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        format!(
            "Error: --ca-file {} holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)\n",
            junk.display()
        )
    );
}

#[test]
fn ssl_cert_file_replaces_the_system_bundle() {
    let ca = Ca::create();
    let registry = tls_registry(&ca);
    let h = registry.host.as_str();
    let mut cli = Cli::new();
    cli.env("SSL_CERT_FILE", ca.cert.to_str().unwrap());
    let auth = cli.file("auth.txt", &format!("{h}=testuser:testpass\n"));
    let base = base_image();
    let out = cli
        .run(&[
            "push",
            base.to_str().unwrap(),
            &format!("{h}/env:1"),
            "--auth-file",
            auth.to_str().unwrap(),
        ])
        .ok();
    assert_eq!(out.stdout, format!("{h}/env@{}\n", base_index_digest()));

    let mut cli = Cli::new();
    cli.env("SSL_CERT_FILE", "/nonexistent/ca.pem");
    let out = cli.run(&["push", base.to_str().unwrap(), &format!("{h}/env:1")]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "Error: SSL_CERT_FILE=/nonexistent/ca.pem holds no PEM certificate (it replaces the system's CA bundle): fix or unset it\n"
    );
}

#[test]
fn https_registry_with_a_plain_http_token_endpoint_is_refused() {
    let ca = Ca::create();
    let tokens = TokenServer::start(TokenOptions::default());
    let registry = Registry::start(RegistryConfig {
        auth: RegistryAuth::Token(&tokens),
        tls: Some(&ca),
        redirect: None,
    });
    let h = registry.host.as_str();
    let cli = Cli::new();
    let auth = cli.file("auth.txt", &format!("{h}=testuser:testpass\n"));
    let base = base_image();
    let out = cli.run(&[
        "push",
        base.to_str().unwrap(),
        &format!("{h}/tok:1"),
        "--ca-file",
        ca.cert.to_str().unwrap(),
        "--auth-file",
        auth.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        format!(
            "Error: registry {h} is HTTPS but names a token endpoint that is not ({}); refusing to send credentials there\n",
            tokens.realm()
        )
    );
    assert!(
        tokens.requests().is_empty(),
        "no request reached the token server"
    );
}
