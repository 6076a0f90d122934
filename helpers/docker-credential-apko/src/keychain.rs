//! The [`Helper`] over a [`BlobStore`]: one entry per server URL, a `list` that is always
//! right, and a lock around every change of the index on stores that cannot search.

use crate::blob::{BlobStore, SearchBy};
use apko_credential::wire::{CredentialList, Credentials};
use apko_credential::{Error, Helper, HelperInfo};
use std::fs::File;
use std::path::{Path, PathBuf};

/// Service name of every entry, as seen in Seahorse, Keychain Access, Credential Manager or
/// `keyctl show`. It must not contain a `.`: the Windows search splits target names
/// `<user>.<service>` at the last `.` ([`SearchBy::Everything`]).
pub const SERVICE: &str = "docker-credential-apko";
const _: () = assert!(!has_dot(SERVICE));

/// Service of the index of server URLs, kept on stores without search (the kernel keyring).
pub const INDEX_SERVICE: &str = "docker-credential-apko.index";
const INDEX_USER: &str = "server-urls";

/// How `list` finds the entries.
pub enum Listing {
    /// The store searches (Secret Service, macOS Keychain, Windows Credential Manager).
    Search(SearchBy),
    /// The store cannot search: an index entry, changed under a file lock at this path.
    Index(PathBuf),
}

/// docker-credential-apko's storage.
pub struct Keychain {
    blobs: BlobStore,
    listing: Listing,
    backend: &'static str,
    max_server_url: usize,
    explain: Option<Explain>,
}

/// A backend's own reading of a store error, where the store's text would mislead.
pub type Explain = fn(&keyring_core::Error) -> Option<String>;

/// At most this many bytes of a server URL are quoted in an error.
const QUOTED_URL: usize = 64;

impl Keychain {
    /// A keychain over `blobs`; `backend` names it in error messages.
    pub fn new(blobs: BlobStore, listing: Listing, backend: &'static str) -> Self {
        Keychain {
            blobs,
            listing,
            backend,
            max_server_url: usize::MAX,
            explain: None,
        }
    }

    /// Server URLs longer than `max` bytes are refused by `store` (naming the limit), not found
    /// by `get` and erased by `erase` (nothing can be stored under them).
    pub fn with_max_server_url(mut self, max: usize) -> Self {
        self.max_server_url = max;
        self
    }

    /// Store errors that `explain` recognises are reported in its words (the kernel keyring's
    /// quota; other platforms' stores say what they mean).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub fn with_explain(mut self, explain: Explain) -> Self {
        self.explain = Some(explain);
        self
    }

    fn too_long(&self, server_url: &str) -> bool {
        server_url.len() > self.max_server_url
    }

    fn fail(&self, what: &str, e: keyring_core::Error) -> Error {
        // Display only: keyring-core's Debug of some variants carries secret bytes.
        let text = self
            .explain
            .and_then(|explain| explain(&e))
            .unwrap_or_else(|| e.to_string());
        Error::other(format!(
            "{} ({}): {what}: {text}",
            crate::NAME,
            self.backend
        ))
    }

    fn lock(&self) -> Result<Option<IndexLock>, Error> {
        match &self.listing {
            Listing::Search(_) => Ok(None),
            Listing::Index(path) => IndexLock::take(path).map(Some),
        }
    }

    fn read_index(&self) -> Result<CredentialList, Error> {
        match self.blobs.get(INDEX_SERVICE, INDEX_USER) {
            Ok(None) => Ok(CredentialList::new()),
            Ok(Some(bytes)) => serde_json::from_slice(&bytes).map_err(|e| {
                Error::other(format!("{}: the index entry is damaged: {e}", crate::NAME))
            }),
            Err(e) => Err(self.fail("reading the index", e)),
        }
    }

    fn write_index(&self, index: &CredentialList) -> Result<(), Error> {
        let bytes = serde_json::to_vec(index).expect("a map of strings serializes");
        let label = "docker-credential-apko: index of stored server URLs";
        self.blobs
            .put(INDEX_SERVICE, INDEX_USER, label, &bytes)
            .map_err(|e| self.fail("writing the index", e))
    }
}

impl Helper for Keychain {
    fn info(&self) -> HelperInfo {
        info()
    }

    fn add(&self, creds: &Credentials) -> Result<(), Error> {
        let url = &creds.server_url;
        if self.too_long(url) {
            let mut end = QUOTED_URL.min(url.len());
            while !url.is_char_boundary(end) {
                end -= 1;
            }
            return Err(Error::other(format!(
                "{} ({}): the server URL {:?}… is {} bytes long; this keychain takes server URLs of at most {} bytes",
                crate::NAME,
                self.backend,
                &url[..end],
                url.len(),
                self.max_server_url
            )));
        }
        let _lock = self.lock()?;
        let value = serde_json::to_vec(creds).expect("credentials serialize");
        let label = format!(
            "Docker credentials for {} (docker-credential-apko)",
            creds.server_url
        );
        self.blobs
            .put(SERVICE, &creds.server_url, &label, &value)
            .map_err(|e| self.fail("storing the credentials", e))?;
        if let Listing::Index(_) = self.listing {
            let mut index = self.read_index()?;
            if index.get(&creds.server_url) != Some(&creds.username) {
                index.insert(creds.server_url.clone(), creds.username.clone());
                self.write_index(&index)?;
            }
        }
        Ok(())
    }

    fn get(&self, server_url: &str) -> Result<Credentials, Error> {
        if self.too_long(server_url) {
            return Err(Error::NotFound);
        }
        let bytes = self
            .blobs
            .get(SERVICE, server_url)
            .map_err(|e| self.fail("reading the credentials", e))?
            .ok_or(Error::NotFound)?;
        serde_json::from_slice(&bytes).map_err(|_| {
            Error::other(format!(
                "{}: the entry for {server_url} is damaged; store it again",
                crate::NAME
            ))
        })
    }

    /// Erasing a missing key succeeds (exit 0), as docker-credential-secretservice does: `docker
    /// logout` erases up to four candidate keys and only one of them usually exists.
    fn erase(&self, server_url: &str) -> Result<(), Error> {
        if self.too_long(server_url) {
            return Ok(());
        }
        let _lock = self.lock()?;
        if let Listing::Index(_) = self.listing {
            // Index first: `list` never names an entry that is already gone.
            let mut index = self.read_index()?;
            if index.remove(server_url).is_some() {
                self.write_index(&index)?;
            }
        }
        self.blobs
            .delete(SERVICE, server_url)
            .map_err(|e| self.fail("erasing the credentials", e))?;
        Ok(())
    }

    fn list(&self) -> Result<CredentialList, Error> {
        let keys: Vec<String> = match &self.listing {
            Listing::Search(by) => self
                .blobs
                .search_users(SERVICE, *by)
                .map_err(|e| self.fail("searching the keychain", e))?,
            Listing::Index(_) => self.read_index()?.into_keys().collect(),
        };
        // Every listed key is read back, so each one is known to answer `get`.
        let mut list = CredentialList::new();
        for key in keys {
            match self.get(&key) {
                Ok(creds) => {
                    list.insert(key, creds.username);
                }
                Err(Error::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(list)
    }
}

/// What `version` reports.
pub fn info() -> HelperInfo {
    HelperInfo {
        name: crate::NAME,
        package: crate::PACKAGE,
        version: env!("CARGO_PKG_VERSION"),
    }
}

/// An exclusive lock on the index lock file, released on drop (also when the process dies).
struct IndexLock {
    _held: File,
}

impl IndexLock {
    fn open_error(path: &Path, e: std::io::Error) -> Error {
        Error::other(format!(
            "{}: cannot open the lock file {}: {e}",
            crate::NAME,
            path.display()
        ))
    }

    /// `flock(2)`: blocks until the lock is ours.
    #[cfg(unix)]
    fn take(path: &Path) -> Result<IndexLock, Error> {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| Self::open_error(path, e))?;
        // SAFETY: flock(2) on a descriptor we own; the lock dies with the descriptor.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            return Err(Error::other(format!(
                "{}: cannot lock {}: {e}",
                crate::NAME,
                path.display()
            )));
        }
        Ok(IndexLock { _held: file })
    }

    /// Windows has no `flock`: the file opened with share mode 0 is the lock (any other open
    /// fails with a sharing violation until our handle closes). `File::lock` would do, but it is
    /// newer (Rust 1.89) than this workspace's `rust-version`. No deadline: the watchdog of
    /// [`crate::run`] ends a wait that lasts too long.
    #[cfg(windows)]
    fn take(path: &Path) -> Result<IndexLock, Error> {
        use std::os::windows::fs::OpenOptionsExt;
        const ERROR_SHARING_VIOLATION: i32 = 32;
        loop {
            let opened = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .share_mode(0)
                .open(path);
            match opened {
                Ok(file) => return Ok(IndexLock { _held: file }),
                Err(e) if e.raw_os_error() == Some(ERROR_SHARING_VIOLATION) => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => return Err(Self::open_error(path, e)),
            }
        }
    }

    #[cfg(not(any(unix, windows)))]
    fn take(path: &Path) -> Result<IndexLock, Error> {
        Err(Error::other(format!(
            "{}: cannot lock {}: no file locking on this platform",
            crate::NAME,
            path.display()
        )))
    }
}

/// `s` contains a `.` (for the compile-time check on [`SERVICE`]).
const fn has_dot(s: &str) -> bool {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'.' {
            return true;
        }
        i += 1;
    }
    false
}
