//! Which store holds the secrets: chosen automatically, or forced by an environment variable.

use crate::blob::BlobStore;
use crate::keychain::{Keychain, Listing};
use apko_credential::Error;
use std::path::PathBuf;

/// Forces a backend: `secret-service` or `keyutils` (`auto`, the default, picks one).
pub const BACKEND_ENV: &str = "DOCKER_CREDENTIAL_APKO_BACKEND";

/// Largest payload of one kernel-keyring key is 32,767 bytes; leave room.
const KEYUTILS_MAX_ENTRY: usize = 32_000;

/// The keychain this process should use.
pub fn open() -> Result<Keychain, Error> {
    let choice = std::env::var(BACKEND_ENV).unwrap_or_default();
    match choice.as_str() {
        "" | "auto" => match secret_service() {
            Ok(k) => Ok(k),
            Err(_) => keyutils(),
        },
        "secret-service" => secret_service(),
        "keyutils" => keyutils(),
        other => Err(Error::other(format!(
            "{}: {BACKEND_ENV}={other:?} is not a backend; use secret-service, keyutils or auto",
            crate::NAME
        ))),
    }
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
    let store = dbus_secret_service_keyring_store::Store::new().map_err(|e| {
        Error::other(format!(
            "{}: the Secret Service is not reachable: {e}",
            crate::NAME
        ))
    })?;
    Ok(Keychain::new(
        BlobStore::new(store, usize::MAX, true),
        Listing::Search,
        "secret-service",
    ))
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
    Ok(Keychain::new(
        BlobStore::new(store, KEYUTILS_MAX_ENTRY, false),
        Listing::Index(lock_path()),
        "keyutils",
    ))
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
    Err(unsupported())
}

#[cfg(not(target_os = "linux"))]
fn keyutils() -> Result<Keychain, Error> {
    Err(unsupported())
}

#[cfg(not(target_os = "linux"))]
fn unsupported() -> Error {
    Error::other(format!(
        "{}: this platform's keychain is not supported yet (Linux Secret Service and kernel keyring are)",
        crate::NAME
    ))
}
