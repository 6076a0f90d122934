//! What can go wrong while reading repositories, resolving and installing packages. Every
//! message names the file, URL, host or package involved, and never carries a secret (URLs
//! are shown without their credentials).

use crate::auth::resolver::ResolveError;
use std::path::PathBuf;

/// An APK error: the message says what failed, on what, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ApkError {
    /// A local file or directory could not be read or written.
    #[error("cannot read {}: {cause}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why (in the message, so not a `source`: `{:#}` would print it twice).
        cause: std::io::Error,
    },
    /// A download failed: network error or an HTTP status other than 401/403.
    #[error("fetching {url}: {reason}")]
    Fetch {
        /// The URL, without credentials.
        url: String,
        /// What happened.
        reason: String,
    },
    /// HTTPS cannot be set up: `SSL_CERT_FILE`, `--ca-file`, the TLS client.
    #[error("{0}")]
    Tls(String),
    /// The server refused every credential (or the credential sources failed).
    #[error("fetching {url}: {cause}")]
    Auth {
        /// The URL, without credentials.
        url: String,
        /// The host and every source tried.
        cause: ResolveError,
    },
    /// An offline build needs a download that is not in the cache.
    #[error(
        "{url} is needed but the build is offline and it is not in the cache{}; run once without --offline (with the same --cache-dir) to fill the cache",
        cache.as_ref().map(|c| format!(" {}", c.display())).unwrap_or_default()
    )]
    Offline {
        /// The URL, without credentials.
        url: String,
        /// The cache directory, if any.
        cache: Option<PathBuf>,
    },
    /// A public key could not be loaded.
    #[error("{0}")]
    Key(String),
    /// An index signature is missing or does not match.
    #[error("{0}")]
    Signature(String),
    /// An index is signed only by keys the keyring lacks (key discovery may supply them).
    #[error("{0}")]
    UnknownKey(String),
    /// A checksum does not match: a tampered or corrupted index or package.
    #[error("{0}")]
    Integrity(String),
    /// An index, package or database is not in the expected format.
    #[error("{0}")]
    Malformed(String),
    /// The requested packages cannot be installed together.
    #[error("{0}")]
    Resolve(String),
    /// A package could not be installed into the image.
    #[error("{0}")]
    Install(String),
}

impl ApkError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> ApkError {
        ApkError::Io {
            path: path.into(),
            cause: source,
        }
    }
}
