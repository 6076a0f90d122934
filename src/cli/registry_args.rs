//! The flags every command that talks to a registry shares: plain HTTP, CA certificates,
//! retries.

use crate::registry::Options;
use clap::Args;
use std::path::PathBuf;

/// `--insecure-registry`, `--plain-http`, `--ca-file`, `--retry-times`.
#[derive(Debug, Clone, Args)]
pub struct RegistryArgs {
    /// Allow plain HTTP for this registry (HOST or HOST:PORT) when HTTPS fails, as docker's
    /// --insecure-registry (TLS certificates are still verified when it speaks HTTPS).
    /// Loopback registries (localhost, 127.0.0.1, [::1]) are always allowed.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure_registry: Vec<String>,
    /// Use plain HTTP for every registry (as oras --plain-http).
    #[arg(long)]
    pub plain_http: bool,
    /// Trust the CA certificates in this PEM file too (besides the system's; SSL_CERT_FILE
    /// replaces the system's).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Vec<PathBuf>,
    /// How many times to retry a request that got 429, 5xx, a reset connection or a cut-off
    /// body (as skopeo's --retry-times); 0 gives up at the first failure.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub retry_times: u32,
}

impl RegistryArgs {
    /// The registry client's options; progress bars when stderr is a terminal.
    pub fn options(&self) -> Options {
        Options {
            insecure_registries: self.insecure_registry.clone(),
            plain_http: self.plain_http,
            ca_files: self.ca_file.clone(),
            retries: self.retry_times,
            progress: true,
            ..Options::default()
        }
    }
}
