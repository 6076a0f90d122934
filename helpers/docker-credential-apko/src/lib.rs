//! `docker-credential-apko`: a Docker credential helper that keeps secrets in the Secret
//! Service (GNOME Keyring, KWallet) or, on headless Linux, the kernel keyring; on macOS in the
//! login Keychain, on Windows in the Credential Manager.
//!
//! Storage layout and backend choice are documented in `plugin-protocol.md`.

mod backend;
mod blob;
#[cfg(test)]
mod fake;
mod keychain;
#[cfg(target_os = "linux")]
mod secret_service;

pub use backend::BACKEND_ENV;
pub use keychain::{INDEX_SERVICE, SERVICE};

use apko_credential::{CredentialList, Credentials, Error, Helper, HelperInfo};
use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::Duration;

/// The program name.
pub const NAME: &str = "docker-credential-apko";
/// Where it comes from, for `version`.
pub const PACKAGE: &str = "apko-rs";
/// Overrides how long the helper waits for the keychain before giving up (seconds).
pub const TIMEOUT_ENV: &str = "DOCKER_CREDENTIAL_APKO_TIMEOUT";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(8);
/// What to do about a keychain that did not answer.
#[cfg(target_os = "linux")]
const TIMEOUT_HINT: &str = "unlock it, or use DOCKER_CREDENTIAL_APKO_BACKEND=keyutils on a machine without a desktop session";
#[cfg(target_os = "macos")]
const TIMEOUT_HINT: &str = "unlock the login keychain (`security unlock-keychain`) and try again";
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
const TIMEOUT_HINT: &str = "unlock it and try again";

/// Runs the helper on the process's argv, stdin and stdout, and exits.
pub fn main() -> ! {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let timeout = std::env::var(TIMEOUT_ENV)
        .ok()
        .and_then(|v| apko_credential::client::parse_duration(&v))
        .unwrap_or(DEFAULT_TIMEOUT);
    let code = run(args, std::io::stdin(), std::io::stdout(), timeout);
    std::process::exit(code)
}

/// One invocation with I/O injected. A keychain that does not answer within `timeout`
/// (locked, waiting on a prompt nobody can see) is an error, never a hang.
pub fn run(
    args: Vec<String>,
    stdin: impl Read + Send + 'static,
    mut stdout: impl Write,
    timeout: Duration,
) -> i32 {
    if !matches!(args.as_slice(), [a] if ["store", "get", "erase", "list"].contains(&a.as_str())) {
        // `version`, help and usage errors never touch the keychain: no worker thread, no
        // watchdog (a thread's start-up is a tenth of `version`'s time).
        return apko_credential::serve(&LazyKeychain::default(), &args, stdin, stdout);
    }
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let mut out = Vec::new();
        let code = apko_credential::serve(&LazyKeychain::default(), &args, stdin, &mut out);
        let _ = tx.send((code, out));
    });
    let answer = rx.recv_timeout(timeout);
    if answer.is_ok() {
        // It has answered and is only returning: let it finish before the process exits.
        // Under Wine, exiting while another thread is still ending sometimes leaves the
        // process alive long enough for wineserver to SIGKILL it (or to replace its exit
        // code), though its answer was already written (tests/cross.sh).
        let _ = worker.join();
    }
    let (code, out) = answer.unwrap_or_else(|_| {
        let msg = format!(
            "{NAME}: the keychain did not answer within {}s (locked, or waiting for a password prompt?); \
             {TIMEOUT_HINT}\n",
            timeout.as_secs_f32(),
        );
        (1, msg.into_bytes())
    });
    let _ = stdout.write_all(&out).and_then(|_| stdout.flush());
    code
}

/// Opens the keychain on the first call that needs it, so `version` and `--help` work
/// without one.
#[derive(Default)]
struct LazyKeychain(std::sync::OnceLock<Result<keychain::Keychain, String>>);

impl LazyKeychain {
    fn open(&self) -> Result<&keychain::Keychain, Error> {
        self.0
            .get_or_init(|| backend::open().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(Error::other)
    }
}

impl Helper for LazyKeychain {
    fn info(&self) -> HelperInfo {
        keychain::info()
    }
    fn add(&self, creds: &Credentials) -> Result<(), Error> {
        self.open()?.add(creds)
    }
    fn get(&self, server_url: &str) -> Result<Credentials, Error> {
        self.open()?.get(server_url)
    }
    fn erase(&self, server_url: &str) -> Result<(), Error> {
        self.open()?.erase(server_url)
    }
    fn list(&self) -> Result<CredentialList, Error> {
        self.open()?.list()
    }
}
