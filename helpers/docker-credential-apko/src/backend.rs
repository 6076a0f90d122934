//! Which store holds the secrets: chosen automatically, or forced by an environment variable.
//!
//! Each backend is a store (built only on its platform) plus a profile: entry size, labels,
//! modifiers and how `list` finds entries. The profiles are compiled on every platform, so the
//! tests on Linux run the macOS and Windows profiles over stand-in stores that follow those
//! crates' rules (`src/fake.rs`).

use crate::blob::{BlobStore, SearchBy};
use crate::keychain::{Keychain, Listing};
use apko_credential::Error;
use keyring_core::CredentialStore;
use std::path::PathBuf;
use std::sync::Arc;

/// Forces a backend: `secret-service`, `keyutils` (Linux), `keychain` (macOS), `wincred`
/// (Windows); `auto`, the default, picks one.
pub const BACKEND_ENV: &str = "DOCKER_CREDENTIAL_APKO_BACKEND";

/// Largest payload of one kernel-keyring key is 32,767 bytes; leave room.
const KEYUTILS_MAX_ENTRY: usize = 32_000;

/// Longest server URL on the kernel keyring. A key's description is at most 4,095 bytes
/// (`KEY_MAX_DESC_SIZE` − 1); a part's is `keyring:<url>#<i>@docker-credential-apko.part`,
/// 37 bytes plus the URL and the part number, so 4,000 leaves room for 58-digit part numbers.
const KEYUTILS_MAX_SERVER_URL: usize = 4_000;

/// Longest server URL in the Windows Credential Manager: the store takes the user (our server
/// URL) as the credential's `UserName`, at most `CRED_MAX_USERNAME_LENGTH` = 513 characters.
const WINCRED_MAX_SERVER_URL: usize = 513;

/// Largest value of one Windows credential. `windows-native-keyring-store` 1.x stores
/// `Entry::set_secret` bytes verbatim as the credential blob (`save_credential` copies the
/// slice; only `set_password` encodes UTF-16, and [`BlobStore`] never calls it), and its
/// `validate_secret` rejects more than `CRED_MAX_CREDENTIAL_BLOB_SIZE` = 5 × 512 = 2,560 bytes,
/// the limit of `CredWriteW` itself. So a part may be 2,560 bytes, and the head, which is
/// [`BlobStore`]'s header line (at most 36 bytes) plus at most 2,560 − 36 bytes of value, fits
/// too. Had the bytes been UTF-16-encoded, this would have had to be 1,280.
const WINCRED_MAX_ENTRY: usize = 2_560;

/// `persistence = Local` (`CRED_PERSIST_LOCAL_MACHINE`): kept across logons on this computer,
/// never roamed to others, as docker-credential-wincred does. The store's default,
/// `Enterprise`, would roam with the user's profile.
const WINCRED_MODIFIERS: &[(&str, &str)] = &[("persistence", "Local")];

/// The keychain this process should use.
pub fn open() -> Result<Keychain, Error> {
    let choice = std::env::var(BACKEND_ENV).unwrap_or_default();
    match choice.as_str() {
        "" | "auto" => auto(),
        "secret-service" => secret_service(),
        "keyutils" => keyutils(),
        "keychain" => keychain(),
        "wincred" => wincred(),
        other => Err(not_a_backend(other)),
    }
}

/// The backends of this platform, for error texts.
#[cfg(target_os = "linux")]
const BACKENDS: &str = "secret-service, keyutils";
#[cfg(target_os = "macos")]
const BACKENDS: &str = "keychain";
#[cfg(windows)]
const BACKENDS: &str = "wincred";

#[cfg(target_os = "linux")]
fn auto() -> Result<Keychain, Error> {
    secret_service().or_else(|_| keyutils())
}

#[cfg(target_os = "macos")]
fn auto() -> Result<Keychain, Error> {
    keychain()
}

#[cfg(windows)]
fn auto() -> Result<Keychain, Error> {
    wincred()
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
fn auto() -> Result<Keychain, Error> {
    Err(unsupported())
}

/// Secret Service: whole values (no size limit that matters), labels for Seahorse, attribute
/// search.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn secret_service_profile(store: Arc<CredentialStore>) -> Keychain {
    Keychain::new(
        BlobStore::new(store, usize::MAX, true),
        Listing::Search(SearchBy::ServiceAttribute),
        "secret-service",
    )
}

/// Kernel keyring: 32,000-byte parts, no labels, no search (an index under a file lock).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn keyutils_profile(store: Arc<CredentialStore>, lock: PathBuf) -> Keychain {
    Keychain::new(
        BlobStore::new(store, KEYUTILS_MAX_ENTRY, false),
        Listing::Index(lock),
        "keyutils",
    )
    .with_max_server_url(KEYUTILS_MAX_SERVER_URL)
}

/// macOS Keychain (`apple-native-keyring-store::keychain`, the login keychain): whole values in
/// one generic password; no labels (its `build` accepts only the `keychain` modifier); search
/// by the exact `service` attribute, users from the items' `acct`, so no index and no lock file.
#[cfg_attr(not(target_os = "macos"), allow(dead_code))]
fn keychain_profile(store: Arc<CredentialStore>) -> Keychain {
    Keychain::new(
        BlobStore::new(store, usize::MAX, false),
        Listing::Search(SearchBy::Service),
        "keychain",
    )
}

/// Windows Credential Manager (`windows-native-keyring-store`, generic credentials named
/// `<user>.<service>`): 2,560-byte parts, local persistence, no labels (its `build` accepts
/// only `target` and `persistence`); search enumerates the user's credentials, as
/// docker-credential-wincred's `list` does, so no index and no lock file.
#[cfg_attr(not(windows), allow(dead_code))]
fn wincred_profile(store: Arc<CredentialStore>) -> Keychain {
    Keychain::new(
        BlobStore::new(store, WINCRED_MAX_ENTRY, false).with_modifiers(WINCRED_MODIFIERS),
        Listing::Search(SearchBy::Everything),
        "wincred",
    )
    .with_max_server_url(WINCRED_MAX_SERVER_URL)
}

#[cfg(target_os = "linux")]
fn secret_service() -> Result<Keychain, Error> {
    let have_bus = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
        || std::env::var_os("XDG_RUNTIME_DIR")
            .is_some_and(|d| PathBuf::from(d).join("bus").exists());
    if !have_bus {
        return Err(Error::other(format!(
            "{}: no D-Bus session bus, so no Secret Service (set DBUS_SESSION_BUS_ADDRESS, or use {BACKEND_ENV}=keyutils)",
            crate::NAME
        )));
    }
    let store = crate::secret_service::Store::new().map_err(|e| {
        Error::other(format!(
            "{}: the Secret Service is not reachable: {e}",
            crate::NAME
        ))
    })?;
    Ok(secret_service_profile(store))
}

#[cfg(target_os = "linux")]
fn keyutils() -> Result<Keychain, Error> {
    ensure_session_keyring()?;
    let store = linux_keyutils_keyring_store::Store::new().map_err(|e| {
        Error::other(format!(
            "{}: the kernel keyring is not usable: {e}",
            crate::NAME
        ))
    })?;
    Ok(keyutils_profile(store, lock_path()).with_explain(keyutils_explain))
}

/// `EDQUOT` from `add_key(2)`: the user's keys would pass the kernel's per-user quota, which
/// the store reports as "QuotaExceeded". Says which quota, how full it is and how to raise it.
#[cfg(target_os = "linux")]
fn keyutils_explain(e: &keyring_core::Error) -> Option<String> {
    let keyring_core::Error::PlatformFailure(inner) = e else {
        return None;
    };
    if inner.downcast_ref::<linux_keyutils::KeyError>()
        != Some(&linux_keyutils::KeyError::QuotaExceeded)
    {
        return None;
    }
    // SAFETY: getuid(2) cannot fail.
    let uid = unsafe { libc::getuid() };
    let prefix = if uid == 0 { "root_" } else { "" };
    let read = |name: &str| {
        let path = format!("/proc/sys/kernel/keys/{prefix}{name}");
        let value = std::fs::read_to_string(&path).unwrap_or_default();
        (path, value.trim().to_string())
    };
    let (bytes_path, bytes) = read("maxbytes");
    let (keys_path, keys) = read("maxkeys");
    Some(format!(
        "the kernel keyring's quota for user {uid} is full (at most {bytes} bytes of keys, \
         {bytes_path}, and {keys} keys, {keys_path}); erase other keys, or raise the quota as \
         root: `sysctl -w kernel.keys.{prefix}maxbytes=1000000`"
    ))
}

/// The login keychain. A locked keychain, or a binary the item's access list does not name
/// (for example after a rebuild), makes macOS ask the user; the watchdog of [`crate::run`]
/// turns a prompt nobody answers into an error.
#[cfg(target_os = "macos")]
fn keychain() -> Result<Keychain, Error> {
    let store = apple_native_keyring_store::keychain::Store::new().map_err(|e| {
        Error::other(format!(
            "{}: the macOS Keychain is not usable: {e}",
            crate::NAME
        ))
    })?;
    Ok(keychain_profile(store))
}

#[cfg(windows)]
fn wincred() -> Result<Keychain, Error> {
    let store = windows_native_keyring_store::Store::new().map_err(|e| {
        Error::other(format!(
            "{}: the Windows Credential Manager is not usable: {e}",
            crate::NAME
        ))
    })?;
    Ok(wincred_profile(store))
}

/// Makes keys written by this process findable by the next one.
///
/// The keyring store adds keys to the session keyring and links them into the per-user
/// persistent keyring, and finds them by searching the session keyring (which has the
/// persistent keyring linked in). A process started outside a login session (CI jobs,
/// containers, services) has no session keyring: the store would then search the user-session
/// keyring while the kernel silently gives the store a fresh anonymous session keyring for
/// the write, so `store` succeeded and every later `get` missed. Joining a session keyring of
/// our own first, and requiring the persistent keyring, makes both go through the persistent
/// keyring.
#[cfg(target_os = "linux")]
fn ensure_session_keyring() -> Result<(), Error> {
    use linux_keyutils::{KeyRing, KeyRingIdentifier};
    let session = KeyRing::from_special_id(KeyRingIdentifier::Session, false).ok();
    let user_session = KeyRing::from_special_id(KeyRingIdentifier::UserSession, false).ok();
    if session.is_some() && session != user_session {
        return Ok(()); // A real session keyring (a login, or `keyctl session -`).
    }
    KeyRing::from_special_id(KeyRingIdentifier::Session, true).map_err(|e| {
        Error::other(format!(
            "{}: the kernel keyring is not usable: cannot create a session keyring ({e})",
            crate::NAME
        ))
    })?;
    KeyRing::get_persistent(KeyRingIdentifier::Session).map_err(|e| {
        Error::other(format!(
            "{}: this process has no session keyring and the kernel offers no persistent keyring ({e}), \
             so a stored credential would be lost when it exits; run the client under `keyctl session -`",
            crate::NAME
        ))
    })?;
    Ok(())
}

/// One lock file per user, the same for every client: the index it guards lives in the per-user
/// persistent keyring, so clients with different `TMPDIR` or `XDG_RUNTIME_DIR` (podman sets
/// its own) must still meet on one lock.
#[cfg(target_os = "linux")]
fn lock_path() -> PathBuf {
    // SAFETY: getuid(2) cannot fail.
    let uid = unsafe { libc::getuid() };
    PathBuf::from(format!("/tmp/docker-credential-apko-{uid}.lock"))
}

#[cfg(not(target_os = "linux"))]
fn secret_service() -> Result<Keychain, Error> {
    Err(elsewhere("secret-service", "Linux"))
}

#[cfg(not(target_os = "linux"))]
fn keyutils() -> Result<Keychain, Error> {
    Err(elsewhere("keyutils", "Linux"))
}

#[cfg(not(target_os = "macos"))]
fn keychain() -> Result<Keychain, Error> {
    Err(elsewhere("keychain", "macOS"))
}

#[cfg(not(windows))]
fn wincred() -> Result<Keychain, Error> {
    Err(elsewhere("wincred", "Windows"))
}

/// A backend of another platform was asked for.
#[cfg(any(target_os = "linux", target_os = "macos", windows))]
fn elsewhere(backend: &str, platform: &str) -> Error {
    Error::other(format!(
        "{}: {BACKEND_ENV}={backend} exists only on {platform}; use {BACKENDS} or auto",
        crate::NAME
    ))
}

#[cfg(any(target_os = "linux", target_os = "macos", windows))]
fn not_a_backend(choice: &str) -> Error {
    Error::other(format!(
        "{}: {BACKEND_ENV}={choice:?} is not a backend; use {BACKENDS} or auto",
        crate::NAME
    ))
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
fn elsewhere(_backend: &str, _platform: &str) -> Error {
    unsupported()
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
fn not_a_backend(_choice: &str) -> Error {
    unsupported()
}

/// Every storage action on a platform with none of the backends (FreeBSD, …).
#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
fn unsupported() -> Error {
    Error::other(format!(
        "{}: this platform's keychain is not supported yet (the Linux Secret Service and kernel \
         keyring, the macOS Keychain and the Windows Credential Manager are)",
        crate::NAME
    ))
}

/// The macOS and Windows profiles over stand-ins that follow their crates' rules
/// (`src/fake.rs`): everything of those backends but the OS store itself.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{Rules, Store as Fake, WIN_MAX_BLOB};
    use crate::keychain::{INDEX_SERVICE, SERVICE};
    use apko_credential::{CredentialList, Credentials, Helper};

    fn secret(len: usize) -> String {
        (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect()
    }

    fn round_trip(keychain: &Keychain, url: &str, len: usize) {
        let creds = Credentials::new(url, "user", secret(len));
        keychain.add(&creds).unwrap();
        let got = keychain.get(url).unwrap();
        assert_eq!(got.username, "user");
        assert!(got.secret.expose() == creds.secret.expose(), "{url}: {len}");
    }

    #[test]
    fn wincred_parts_fit_one_credential_at_every_boundary() {
        assert_eq!(WINCRED_MAX_ENTRY, WIN_MAX_BLOB);
        let fake = Fake::new(Rules::WinCred);
        let blobs = BlobStore::new(fake.clone(), WINCRED_MAX_ENTRY, false)
            .with_modifiers(WINCRED_MODIFIERS);
        // The head holds 2,560 − 36 = 2,524 bytes of value; parts hold 2,560.
        let first = WINCRED_MAX_ENTRY - 36;
        let mut sizes = vec![0, 1, first - 1, first, first + 1];
        for parts in 1..4 {
            let edge = first + parts * WINCRED_MAX_ENTRY;
            sizes.extend([edge - 1, edge, edge + 1]);
        }
        sizes.push(1 << 20);
        for len in sizes {
            let value = secret(len).into_bytes();
            blobs.put(SERVICE, "r.example", "label", &value).unwrap();
            assert_eq!(
                blobs.get(SERVICE, "r.example").unwrap(),
                Some(value),
                "{len}"
            );
        }
        assert_eq!(fake.largest_write(), WINCRED_MAX_ENTRY);
        // A shorter value left no surplus parts behind.
        blobs.put(SERVICE, "r.example", "label", b"x").unwrap();
        assert_eq!(fake.items().len(), 1);
        assert!(blobs.delete(SERVICE, "r.example").unwrap());
        assert!(fake.items().is_empty());
    }

    #[test]
    fn wincred_round_trips_lists_and_erases() {
        let fake = Fake::new(Rules::WinCred);
        let keychain = wincred_profile(fake.clone());
        // Someone else's credentials, one of them named like ours but for another service.
        fake.put_foreign("git", "https://github.com", b"token");
        fake.put_foreign("docker-credential-apko-old", "r.example", b"x");
        fake.put_foreign("plain", "", b"x");
        let urls = [
            "r.example",
            "https://r.example:5000/v2/",
            "a.b.docker-credential-apko",
            "x#1",
            "ends.with.part",
        ];
        for (i, url) in urls.iter().enumerate() {
            round_trip(&keychain, url, [10, 3_000, 50_000, 1 << 20, 2_524][i]);
        }
        for item in fake.items().values() {
            assert!(item.secret.len() <= WIN_MAX_BLOB);
            if item.service.starts_with(SERVICE) && item.service != "docker-credential-apko-old" {
                assert_eq!(item.persistence.as_deref(), Some("Local"), "{item:?}");
            }
        }
        // No index: the search is the list.
        assert!(fake.items().values().all(|i| i.service != INDEX_SERVICE));
        let want: CredentialList = urls
            .iter()
            .map(|u| (u.to_string(), "user".into()))
            .collect();
        assert_eq!(keychain.list().unwrap(), want);
        for url in urls {
            keychain.erase(url).unwrap();
            keychain.erase(url).unwrap(); // a missing entry erases fine
        }
        assert_eq!(keychain.list().unwrap(), CredentialList::new());
        assert_eq!(fake.items().len(), 3, "only the foreign items are left");
    }

    #[test]
    fn wincred_refuses_a_server_url_longer_than_a_windows_user_name() {
        let keychain = wincred_profile(Fake::new(Rules::WinCred));
        round_trip(&keychain, &"h".repeat(513), 10);
        let long = "h".repeat(514);
        let err = keychain
            .add(&Credentials::new(long.as_str(), "user", "s"))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "docker-credential-apko (wincred): the server URL {:?}… is 514 bytes long; \
                 this keychain takes server URLs of at most 513 bytes",
                "h".repeat(64)
            )
        );
        // Nothing can be stored under it: not found, and erased like any missing entry.
        assert!(matches!(keychain.get(&long), Err(Error::NotFound)));
        keychain.erase(&long).unwrap();
    }

    #[test]
    fn keychain_keeps_values_whole_and_lists_by_service() {
        let fake = Fake::new(Rules::MacKeychain);
        let keychain = keychain_profile(fake.clone());
        fake.put_foreign("docker-credential-apko.part", "r.example#1", b"x");
        fake.put_foreign("other", "r.example", b"x");
        round_trip(&keychain, "r.example", 1 << 20);
        round_trip(&keychain, "https://q.example/v1/", 10);
        // One item per credential (no parts, no index), and no `label` modifier (the
        // stand-in, like the crate, refuses it).
        let ours: Vec<_> = fake
            .items()
            .into_values()
            .filter(|i| i.service == SERVICE)
            .collect();
        assert_eq!(ours.len(), 2);
        assert_eq!(fake.items().len(), 4);
        let want: CredentialList = [("r.example", "user"), ("https://q.example/v1/", "user")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(keychain.list().unwrap(), want);
        keychain.erase("r.example").unwrap();
        keychain.erase("r.example").unwrap();
        assert_eq!(keychain.list().unwrap().len(), 1);
        assert!(matches!(keychain.get("r.example"), Err(Error::NotFound)));
    }
}
