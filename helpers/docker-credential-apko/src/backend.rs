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

#[cfg(target_os = "linux")]
fn lock_path() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if PathBuf::from(&dir).is_dir() => {
            PathBuf::from(dir).join("docker-credential-apko.lock")
        }
        // SAFETY: getuid(2) cannot fail.
        _ => std::env::temp_dir().join(format!("docker-credential-apko-{}.lock", unsafe {
            libc::getuid()
        })),
    }
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
