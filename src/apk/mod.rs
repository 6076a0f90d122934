//! APK packages: versions, signed indexes, keys, dependency resolution, `.apk` files and
//! installing them into the image filesystem ([`crate::fs::Tree`]). Every download goes
//! through the credential resolver ([`crate::auth::Resolver`]), per host.

pub mod db;
pub mod discover;
pub mod error;
pub mod fetch;
pub mod index;
pub mod install;
pub mod keys;
pub mod meta;
pub mod mkrepo;
pub mod package;
pub mod repo;
pub mod resolve;
pub mod session;
pub mod sign;
pub mod version;

pub use error::ApkError;

use std::path::PathBuf;

/// What to install and from where: the APK half of an image build.
pub struct InstallRequest<'a> {
    /// Repositories used to resolve and written to `/etc/apk/repositories` (credentials
    /// stripped). `@tag URL` pins a repository to `name@tag` packages.
    pub repositories: Vec<String>,
    /// Repositories used only to resolve; never written into the image.
    pub build_repositories: Vec<String>,
    /// Public keys: files, directories of `*.pub` files, or http(s) URLs (fetched with the
    /// same credentials as repositories). A signature names its key by file name.
    pub keyring: Vec<String>,
    /// World constraints: `name`, `name=1.2-r0`, `name>=1`, `so:libc.musl-x86_64.so.1`,
    /// `cmd:sh`, `name@tag`, `!name`.
    pub packages: Vec<String>,
    /// The apk architecture name: `x86_64`, `aarch64`, `armv7`, ...
    pub arch: String,
    /// Skips index signature checks (checksums of packages are still verified).
    pub ignore_signatures: bool,
    /// Where downloads are kept between builds (packages by checksum, indexes by URL).
    pub cache_dir: Option<PathBuf>,
    /// No network: http(s) repositories and keys come from `cache_dir` only.
    pub offline: bool,
    /// SOURCE_DATE_EPOCH: the modification time of the files apk itself writes.
    pub build_time: u64,
    /// Credentials for every repository and key host.
    pub resolver: &'a crate::auth::Resolver,
    /// Extra PEM certificates trusted for https repositories, besides the system roots
    /// (which honour `SSL_CERT_FILE`).
    pub ca_certificates: Vec<PathBuf>,
}

/// One package as installed, for lockfiles, SBOMs and the image's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledPackage {
    /// Package name.
    pub name: String,
    /// Full version, e.g. `1.2.3-r0`.
    pub version: String,
    /// Architecture as in the index.
    pub arch: String,
    /// The control section's checksum, `Q1` + base64 SHA-1 (the index's `C:`).
    pub checksum: String,
    /// The origin (source package), when the index names one.
    pub origin: Option<String>,
    /// The repository it came from, without credentials.
    pub repository: String,
    /// Where the `.apk` was read from, without credentials.
    pub url: String,
    /// Size of the `.apk` file in bytes.
    pub size: u64,
    /// Byte ranges and digests of its signature, control and data sections (lockfiles).
    pub sections: package::Sections,
}

/// Resolves `req.packages` over the repositories, downloads and verifies the packages and
/// installs them into `tree` with apk's database; returns them in installation order.
/// Packages already in the tree's installed database (a base image) count as installed.
pub async fn install(
    req: &InstallRequest<'_>,
    tree: &mut crate::fs::Tree,
) -> Result<Vec<InstalledPackage>, ApkError> {
    session::run(req, tree).await
}
