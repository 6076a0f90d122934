//! In-memory stand-ins for the macOS Keychain and Windows Credential Manager stores, so the
//! profiles of those backends run on Linux. Each follows the rules its crate's source enforces
//! (apple-native-keyring-store 1.0.3 `keychain`, windows-native-keyring-store 1.1.0): the
//! modifiers `build` accepts, empty-name and size limits, how an item is keyed, the search spec
//! and what a search result's specifiers say. They do not stand in for the OS itself (its
//! prompts, locking, roaming).

use keyring_core::api::{CredentialApi, CredentialStoreApi};
use keyring_core::attributes::parse_attributes;
use keyring_core::{Credential, Entry, Error, Result};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// Which crate's rules a [`Store`] follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rules {
    /// apple-native-keyring-store `keychain::Store`: generic passwords keyed by (service,
    /// account); `build` takes only `keychain`; search by exact `service`/`user`.
    MacKeychain,
    /// windows-native-keyring-store `Store::new()`: generic credentials keyed by the target
    /// name `<user>.<service>`; `build` takes only `target` and `persistence`; at most 513
    /// bytes of user and 2,560 bytes of secret; search takes only `pattern` and parses target
    /// names back into specifiers with `^(.*)\.(.*)$`.
    WinCred,
}

/// `CRED_MAX_CREDENTIAL_BLOB_SIZE`.
pub const WIN_MAX_BLOB: usize = 2_560;
/// `CRED_MAX_USERNAME_LENGTH`.
const WIN_MAX_USER: usize = 513;

/// One stored item.
#[derive(Clone, Debug)]
pub struct Item {
    /// The service it was written under (for Windows, what the specifier said).
    pub service: String,
    /// The user (account) it was written under.
    pub user: String,
    /// The secret bytes.
    pub secret: Vec<u8>,
    /// Windows persistence (`Session`, `Local`, `Enterprise`); `None` on macOS.
    pub persistence: Option<String>,
}

#[derive(Default)]
struct Items {
    by_key: BTreeMap<String, Item>,
    largest_write: usize,
}

/// A store following [`Rules`].
pub struct Store {
    rules: Rules,
    items: Arc<Mutex<Items>>,
}

impl Store {
    /// An empty store.
    pub fn new(rules: Rules) -> Arc<Store> {
        Arc::new(Store {
            rules,
            items: Arc::default(),
        })
    }

    /// Every item, by key (macOS: `<service>\0<user>`; Windows: the target name).
    pub fn items(&self) -> BTreeMap<String, Item> {
        self.items.lock().unwrap().by_key.clone()
    }

    /// The largest secret ever written.
    pub fn largest_write(&self) -> usize {
        self.items.lock().unwrap().largest_write
    }

    /// Writes an item as another program would.
    pub fn put_foreign(&self, service: &str, user: &str, secret: &[u8]) {
        let key = self.key(service, user);
        let item = Item {
            service: service.into(),
            user: user.into(),
            secret: secret.into(),
            persistence: None,
        };
        self.items.lock().unwrap().by_key.insert(key, item);
    }

    fn key(&self, service: &str, user: &str) -> String {
        match self.rules {
            Rules::MacKeychain => format!("{service}\0{user}"),
            Rules::WinCred => format!("{user}.{service}"),
        }
    }

    fn cred(&self, service: &str, user: &str, persistence: Option<String>) -> Entry {
        Entry::new_with_credential(Arc::new(Cred {
            rules: self.rules,
            items: self.items.clone(),
            key: self.key(service, user),
            specifiers: Some((service.into(), user.into())),
            persistence,
        }))
    }
}

impl CredentialStoreApi for Store {
    fn vendor(&self) -> String {
        format!("docker-credential-apko test stand-in ({:?})", self.rules)
    }

    fn id(&self) -> String {
        self.vendor()
    }

    fn build(
        &self,
        service: &str,
        user: &str,
        modifiers: Option<&HashMap<&str, &str>>,
    ) -> Result<Entry> {
        match self.rules {
            Rules::MacKeychain => {
                parse_attributes(&["keychain"], modifiers)?;
                for (name, value) in [("service", service), ("user", user)] {
                    if value.is_empty() {
                        return Err(Error::Invalid(name.into(), "cannot be empty".into()));
                    }
                }
                Ok(self.cred(service, user, None))
            }
            Rules::WinCred => {
                let mods = parse_attributes(&["target", "persistence"], modifiers)?;
                assert!(!mods.contains_key("target"), "not modelled");
                let persistence = match mods.get("persistence").map(|p| p.to_ascii_lowercase()) {
                    None => "Enterprise",
                    Some(p) if p == "enterprise" => "Enterprise",
                    Some(p) if p == "local" => "Local",
                    Some(p) if p == "session" => "Session",
                    Some(p) => {
                        return Err(Error::Invalid(
                            p,
                            "must be Session, Local, or Enterprise".into(),
                        ));
                    }
                };
                if user.len() > WIN_MAX_USER {
                    return Err(Error::TooLong("user".into(), WIN_MAX_USER as u32));
                }
                Ok(self.cred(service, user, Some(persistence.into())))
            }
        }
    }

    fn search(&self, spec: &HashMap<&str, &str>) -> Result<Vec<Entry>> {
        let items = self.items.lock().unwrap().by_key.clone();
        let found: Vec<(String, Option<(String, String)>)> = match self.rules {
            Rules::MacKeychain => {
                let spec = parse_attributes(&["service", "user"], Some(spec))?;
                items
                    .into_iter()
                    .filter(|(_, item)| {
                        spec.get("service").is_none_or(|s| *s == item.service)
                            && spec.get("user").is_none_or(|u| *u == item.user)
                    })
                    .map(|(key, item)| (key, Some((item.service, item.user))))
                    .collect()
            }
            Rules::WinCred => {
                let spec = parse_attributes(&["pattern"], Some(spec))?;
                assert!(spec.is_empty(), "patterns are not modelled");
                items
                    .into_keys()
                    .map(|target| {
                        // `^(.*)\.(.*)$`, greedy, and `.` does not match a newline.
                        let specifiers = target
                            .rsplit_once('.')
                            .filter(|_| !target.contains('\n'))
                            .map(|(user, service)| (service.to_string(), user.to_string()));
                        (target, specifiers)
                    })
                    .collect()
            }
        };
        Ok(found
            .into_iter()
            .map(|(key, specifiers)| {
                Entry::new_with_credential(Arc::new(Cred {
                    rules: self.rules,
                    items: self.items.clone(),
                    key,
                    specifiers,
                    persistence: None,
                }))
            })
            .collect())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

struct Cred {
    rules: Rules,
    items: Arc<Mutex<Items>>,
    key: String,
    specifiers: Option<(String, String)>,
    persistence: Option<String>,
}

impl CredentialApi for Cred {
    fn set_secret(&self, secret: &[u8]) -> Result<()> {
        if self.rules == Rules::WinCred && secret.len() > WIN_MAX_BLOB {
            return Err(Error::TooLong("secret".into(), WIN_MAX_BLOB as u32));
        }
        let (service, user) = self.specifiers.clone().expect("a specifier");
        let mut items = self.items.lock().unwrap();
        items.largest_write = items.largest_write.max(secret.len());
        let item = Item {
            service,
            user,
            secret: secret.to_vec(),
            persistence: self.persistence.clone(),
        };
        items.by_key.insert(self.key.clone(), item);
        Ok(())
    }

    fn get_secret(&self) -> Result<Vec<u8>> {
        let items = self.items.lock().unwrap();
        let item = items.by_key.get(&self.key).ok_or(Error::NoEntry)?;
        Ok(item.secret.clone())
    }

    fn delete_credential(&self) -> Result<()> {
        let mut items = self.items.lock().unwrap();
        items
            .by_key
            .remove(&self.key)
            .map(|_| ())
            .ok_or(Error::NoEntry)
    }

    fn get_credential(&self) -> Result<Option<Arc<Credential>>> {
        self.get_secret().map(|_| None)
    }

    fn get_specifiers(&self) -> Option<(String, String)> {
        self.specifiers.clone()
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
