//! Stand-in for `crate::apk::install` until it installs packages (its API is in `crate::apk`;
//! the function still refuses every request, even an empty one, which would fail builds that
//! need no packages). Same types and signature; `build.rs` imports this as `apk`, and
//! switching is that one `use` line.
#![allow(dead_code)]

use std::path::PathBuf;

/// What to install, from where.
pub struct InstallRequest<'a> {
    /// Used at build time and written to `/etc/apk/repositories`.
    pub repositories: Vec<String>,
    /// Used at build time only.
    pub build_repositories: Vec<String>,
    /// Public keys.
    pub keyring: Vec<String>,
    /// Package constraints.
    pub packages: Vec<String>,
    /// apk architecture name.
    pub arch: String,
    /// Skip index signature checks.
    pub ignore_signatures: bool,
    /// Download cache.
    pub cache_dir: Option<PathBuf>,
    /// No network.
    pub offline: bool,
    /// Seconds since the epoch.
    pub build_time: u64,
    /// Credentials.
    pub resolver: &'a crate::auth::Resolver,
    /// Extra CA certificates for https repositories.
    pub ca_certificates: Vec<PathBuf>,
}

/// One installed package.
#[derive(Debug, Clone)]
pub struct InstalledPackage {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// apk architecture.
    pub arch: String,
    /// `Q1…` checksum.
    pub checksum: String,
    /// Origin package.
    pub origin: Option<String>,
    /// Where it came from.
    pub repository: String,
    /// Installed size.
    pub size: u64,
}

/// Installation failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ApkError(String);

/// Refuses: this build has no APK installer yet.
pub async fn install(
    req: &InstallRequest<'_>,
    _tree: &mut crate::fs::Tree,
) -> Result<Vec<InstalledPackage>, ApkError> {
    if req.packages.is_empty() {
        return Ok(Vec::new());
    }
    Err(ApkError(
        "installing APK packages is not available in this build yet".into(),
    ))
}
