//! The flags every command that talks to a registry shares: plain HTTP, CA certificates,
//! retries.

use crate::registry::Options;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

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
    /// Trust the CA certificates in this PEM file too, for registries and APK repositories
    /// (besides the system's; SSL_CERT_FILE replaces the system's).
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

/// Timeouts and size limits for every server apko talks to (APK repositories, registries,
/// token endpoints), on every command. The size flags are apko's, with its defaults.
#[derive(Debug, Clone, Args)]
pub struct NetArgs {
    /// Give up on connecting (TCP and TLS) after this long: `30`, `2.5`, `500ms`, `2m`.
    #[arg(long, global = true, value_name = "DURATION", default_value = "30s", value_parser = parse_timeout)]
    pub connect_timeout: Duration,
    /// Give up when a server sends nothing for this long (no answer to a request, or a body
    /// that stops), after the request has been sent whole.
    #[arg(long, global = true, value_name = "DURATION", default_value = "60s", value_parser = parse_timeout)]
    pub read_timeout: Duration,
    /// Give up on an answer held in memory (index, package, key, manifest, token, error)
    /// that has not arrived whole after this long, plus 1 s per 256 KiB received.
    #[arg(long, global = true, value_name = "DURATION", default_value = "60s", value_parser = parse_timeout)]
    pub response_timeout: Duration,
    /// Maximum size for HTTP responses from APK repositories in bytes (0=default, -1=no limit).
    #[arg(long, global = true, value_name = "BYTES", default_value_t = crate::net::DEFAULT_POLICY.max_http_response_size as i64, allow_negative_numbers = true)]
    pub max_http_response_size: i64,
    /// Maximum decompressed size for APKINDEX archives in bytes, protects against gzip bombs
    /// (0=default, -1=no limit).
    #[arg(long, global = true, value_name = "BYTES", default_value_t = crate::net::DEFAULT_POLICY.max_apkindex_decompressed_size as i64, allow_negative_numbers = true)]
    pub max_apkindex_decompressed_size: i64,
    /// Maximum decompressed size for APK control sections in bytes (0=default, -1=no limit).
    #[arg(long, global = true, value_name = "BYTES", default_value_t = crate::net::DEFAULT_POLICY.max_apk_control_size as i64, allow_negative_numbers = true)]
    pub max_apk_control_size: i64,
    /// Maximum decompressed size for APK data sections in bytes, protects against gzip bombs
    /// (0=default, -1=no limit).
    #[arg(long, global = true, value_name = "BYTES", default_value_t = crate::net::DEFAULT_POLICY.max_apk_data_size as i64, allow_negative_numbers = true)]
    pub max_apk_data_size: i64,
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    apko_credential::client::parse_duration(text).ok_or_else(|| {
        format!("{text:?} is not a duration: give seconds (30, 2.5) or 500ms, 30s, 2m; more than zero, at most a day")
    })
}

/// apko's rule: 0 is the default, -1 (any negative) no limit.
fn size(value: i64, default: u64) -> u64 {
    match value {
        0 => default,
        v if v < 0 => u64::MAX,
        v => v as u64,
    }
}

impl NetArgs {
    /// The policy these flags give.
    pub fn policy(&self) -> crate::net::Policy {
        let d = crate::net::DEFAULT_POLICY;
        crate::net::Policy {
            connect_timeout: self.connect_timeout,
            read_timeout: self.read_timeout,
            response_timeout: self.response_timeout,
            max_http_response_size: size(self.max_http_response_size, d.max_http_response_size),
            max_apkindex_decompressed_size: size(
                self.max_apkindex_decompressed_size,
                d.max_apkindex_decompressed_size,
            ),
            max_apk_control_size: size(self.max_apk_control_size, d.max_apk_control_size),
            max_apk_data_size: size(self.max_apk_data_size, d.max_apk_data_size),
        }
    }
}
