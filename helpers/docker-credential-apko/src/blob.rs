//! Byte values of any size on stores that limit one entry's size.
//!
//! A value goes into a *head* entry (`service`, `user`) that starts with the line
//! `apko-blob 1 <N>\n` followed by the first part of the value; parts 2…N live in entries
//! (`<service>.part`, `<user>#<i>`). The kernel keyring holds at most 32,767 bytes per key and
//! Windows Credential Manager 2,560, so both are chunked the same way; the Secret Service and the
//! macOS Keychain store the whole value in the head entry.

use keyring_core::{CredentialStore, Entry, Error};
use std::collections::HashMap;
use std::sync::Arc;

const MAGIC: &str = "apko-blob 1 ";

/// How [`BlobStore::search_users`] asks a store for the head entries of one service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchBy {
    /// Spec `{service: S}`; the user is the item's `username` attribute (Secret Service).
    ServiceAttribute,
    /// Spec `{service: S}`, matched exactly by the store; the user is the entry's specifier
    /// (macOS Keychain: the generic password's `svce` and `acct`).
    Service,
    /// Empty spec (every credential of the user); entries whose specifier names service S are
    /// kept (Windows Credential Manager: the store parses the target name `<user>.<service>`
    /// back into specifiers, splitting at the last `.`, so S must not contain a `.`).
    Everything,
}

/// A keyring-core store plus the largest value one of its entries accepts.
pub struct BlobStore {
    store: Arc<CredentialStore>,
    max_entry: usize,
    labels: bool,
    modifiers: &'static [(&'static str, &'static str)],
}

impl BlobStore {
    /// `max_entry` bytes per entry; `labels` when the store accepts a `label` modifier
    /// (Secret Service: the label is what Seahorse shows).
    pub fn new(store: Arc<CredentialStore>, max_entry: usize, labels: bool) -> Self {
        BlobStore {
            store,
            max_entry,
            labels,
            modifiers: &[],
        }
    }

    /// Gives every entry these creation modifiers (Windows: `persistence`).
    pub fn with_modifiers(mut self, modifiers: &'static [(&'static str, &'static str)]) -> Self {
        self.modifiers = modifiers;
        self
    }

    /// The entry (`service`, `user`); `label` only matters when it is created.
    fn entry(&self, service: &str, user: &str, label: Option<&str>) -> Result<Entry, Error> {
        let mut mods: HashMap<&str, &str> = self.modifiers.iter().copied().collect();
        if let Some(label) = label.filter(|_| self.labels) {
            mods.insert("label", label);
        }
        if mods.is_empty() {
            Entry::new_in_store(&self.store, service, user)
        } else {
            Entry::new_in_store_with_modifiers(&self.store, service, user, &mods)
        }
    }

    fn part(&self, service: &str, user: &str, i: usize) -> Result<Entry, Error> {
        let label = format!("{user} (part {} of a docker-credential-apko entry)", i + 1);
        self.entry(
            &format!("{service}.part"),
            &format!("{user}#{i}"),
            Some(&label),
        )
    }

    /// The value stored under (`service`, `user`), or `None`.
    pub fn get(&self, service: &str, user: &str) -> Result<Option<Vec<u8>>, Error> {
        let head = match self.entry(service, user, None)?.get_secret() {
            Ok(bytes) => bytes,
            Err(Error::NoEntry) => return Ok(None),
            Err(e) => return Err(e),
        };
        let (parts, first) = parse_head(&head)?;
        let mut value = first.to_vec();
        for i in 1..parts {
            match self.part(service, user, i)?.get_secret() {
                Ok(bytes) => value.extend_from_slice(&bytes),
                // A part vanished under us (a concurrent erase): the entry is gone.
                Err(Error::NoEntry) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        Ok(Some(value))
    }

    /// Stores `value`, replacing what was there (including surplus parts of a longer value).
    pub fn put(&self, service: &str, user: &str, label: &str, value: &[u8]) -> Result<(), Error> {
        let old_parts = self.head_parts(service, user)?;
        let header_room = MAGIC.len() + 24;
        let first_len = value.len().min(self.max_entry.saturating_sub(header_room));
        let rest = &value[first_len..];
        let per_part = self.max_entry.max(1);
        let parts = 1 + rest.len().div_ceil(per_part);
        // Parts first, head last: a reader never sees a head that names missing parts.
        for (i, chunk) in rest.chunks(per_part).enumerate() {
            self.part(service, user, i + 1)?.set_secret(chunk)?;
        }
        let mut head = format!("{MAGIC}{parts}\n").into_bytes();
        head.extend_from_slice(&value[..first_len]);
        self.entry(service, user, Some(label))?.set_secret(&head)?;
        for i in parts..old_parts {
            self.delete_part(service, user, i)?;
        }
        Ok(())
    }

    /// Deletes the value; `false` when there was none.
    pub fn delete(&self, service: &str, user: &str) -> Result<bool, Error> {
        let parts = self.head_parts(service, user)?;
        if parts == 0 {
            return Ok(false);
        }
        match self.entry(service, user, None)?.delete_credential() {
            Ok(()) => {}
            Err(Error::NoEntry) => return Ok(false),
            Err(e) => return Err(e),
        }
        for i in 1..parts {
            self.delete_part(service, user, i)?;
        }
        Ok(true)
    }

    /// Number of parts of the stored value; 0 when there is none.
    fn head_parts(&self, service: &str, user: &str) -> Result<usize, Error> {
        match self.entry(service, user, None)?.get_secret() {
            Ok(head) => Ok(parse_head(&head).map(|(n, _)| n).unwrap_or(1)),
            Err(Error::NoEntry) => Ok(0),
            Err(e) => Err(e),
        }
    }

    fn delete_part(&self, service: &str, user: &str, i: usize) -> Result<(), Error> {
        match self.part(service, user, i)?.delete_credential() {
            Ok(()) | Err(Error::NoEntry) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The users of every head entry of `service`, where the store can search.
    pub fn search_users(&self, service: &str, by: SearchBy) -> Result<Vec<String>, Error> {
        let spec = match by {
            SearchBy::ServiceAttribute | SearchBy::Service => HashMap::from([("service", service)]),
            SearchBy::Everything => HashMap::new(),
        };
        let mut users = Vec::new();
        for entry in self.store.search(&spec)? {
            match by {
                SearchBy::ServiceAttribute => {
                    if let Some(user) = entry.get_attributes()?.remove("username") {
                        users.push(user);
                    }
                }
                SearchBy::Service | SearchBy::Everything => {
                    let specifiers = entry.get_specifiers();
                    if let Some((_, user)) = specifiers.filter(|(found, _)| found == service) {
                        users.push(user);
                    }
                }
            }
        }
        Ok(users)
    }
}

fn parse_head(head: &[u8]) -> Result<(usize, &[u8]), Error> {
    let bad = || Error::BadStoreFormat("an entry is not in docker-credential-apko's format".into());
    let rest = head.strip_prefix(MAGIC.as_bytes()).ok_or_else(bad)?;
    let newline = rest.iter().position(|b| *b == b'\n').ok_or_else(bad)?;
    let count = std::str::from_utf8(&rest[..newline])
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|n| *n >= 1)
        .ok_or_else(bad)?;
    Ok((count, &rest[newline + 1..]))
}
