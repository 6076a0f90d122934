//! Whom HTTPS trusts, the same for registries and APK repositories: the system roots (or
//! `SSL_CERT_FILE`'s bundle, which replaces them, as in Go and OpenSSL) plus the PEM files of
//! `--ca-file`. A bundle that holds no certificate is refused up front, naming the file,
//! rather than failing every handshake later with "unknown issuer".

use std::path::{Path, PathBuf};

/// Checks `SSL_CERT_FILE` (when set) and reads `ca_files`; the certificates to add to the roots.
pub fn extra_roots(ca_files: &[PathBuf]) -> Result<Vec<reqwest::Certificate>, String> {
    if let Some(file) = std::env::var_os("SSL_CERT_FILE") {
        let path = Path::new(&file);
        let ok = crate::files::read_regular(path, crate::files::MAX_LIST)
            .map(|b| reqwest::Certificate::from_pem_bundle(&b).is_ok_and(|c| !c.is_empty()));
        if !matches!(ok, Ok(true)) {
            return Err(format!(
                "SSL_CERT_FILE={} holds no PEM certificate (it replaces the system's CA bundle): fix or unset it",
                path.display()
            ));
        }
    }
    let mut roots = Vec::new();
    for file in ca_files {
        let bytes = crate::files::read_regular(file, crate::files::MAX_LIST)
            .map_err(|e| format!("cannot read --ca-file {}: {e}", file.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&bytes).map_err(|e| {
            format!(
                "--ca-file {} is not a PEM certificate bundle: {e}",
                file.display()
            )
        })?;
        if certs.is_empty() {
            return Err(format!(
                "--ca-file {} holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)",
                file.display()
            ));
        }
        roots.extend(certs);
    }
    Ok(roots)
}

/// What every client here shares: its name, the connect timeout, kept-alive connections.
/// Read timeouts and deadlines are kept by the callers, which know what was awaited.
pub fn builder(policy: &super::Policy) -> reqwest::ClientBuilder {
    // The process's TLS provider: ring (installing it twice is harmless).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .user_agent(concat!("apko-rs/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(policy.connect_timeout)
        .pool_idle_timeout(std::time::Duration::from_secs(60))
        .tcp_nodelay(true)
}
