//! The [`Helper`] over a [`BlobStore`]: one entry per server URL, a `list` that is always
//! right, and a lock around every change of the index on stores that cannot search.

use crate::blob::BlobStore;
use apko_credential::wire::{CredentialList, Credentials};
use apko_credential::{Error, Helper, HelperInfo};
use std::fs::File;
use std::path::PathBuf;

/// Service name of every entry, as seen in Seahorse, Keychain Access or `keyctl show`.
pub const SERVICE: &str = "docker-credential-apko";
/// Service of the index of server URLs, kept on stores without search (the kernel keyring).
pub const INDEX_SERVICE: &str = "docker-credential-apko.index";
const INDEX_USER: &str = "server-urls";

/// How `list` finds the entries.
pub enum Listing {
    /// The store searches by attribute (Secret Service).
    Search,
    /// The store cannot search: an index entry, changed under a file lock at this path.
    Index(PathBuf),
}

/// docker-credential-apko's storage.
pub struct Keychain {
    blobs: BlobStore,
    listing: Listing,
    backend: &'static str,
}

impl Keychain {
    /// A keychain over `blobs`; `backend` names it in error messages.
    pub fn new(blobs: BlobStore, listing: Listing, backend: &'static str) -> Self {
        Keychain {
            blobs,
            listing,
            backend,
        }
    }

    fn fail(&self, what: &str, e: keyring_core::Error) -> Error {
        // Display only: keyring-core's Debug of some variants carries secret bytes.
        Error::other(format!("{} ({}): {what}: {e}", crate::NAME, self.backend))
    }

    fn lock(&self) -> Result<Option<IndexLock>, Error> {
        match &self.listing {
            Listing::Search => Ok(None),
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
            Listing::Search => self
                .blobs
                .search_users(SERVICE)
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

/// An exclusive `flock` on the index lock file, released on drop.
struct IndexLock {
    _held: File,
}

impl IndexLock {
    fn take(path: &PathBuf) -> Result<IndexLock, Error> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| {
                Error::other(format!(
                    "{}: cannot open the lock file {}: {e}",
                    crate::NAME,
                    path.display()
                ))
            })?;
        use std::os::fd::AsRawFd;
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
}
