//! `docker-credential-apko`: keeps registry and repository secrets in the OS keychain.
//!
//! The keychain backends are not written yet; until they are, every action that touches
//! storage fails with a message that says so.

use apko_credential::{CredentialList, Credentials, Error, Helper, HelperInfo};

struct Unsupported;

const MESSAGE: &str = "docker-credential-apko has no keychain backend in this build";

impl Helper for Unsupported {
    fn info(&self) -> HelperInfo {
        HelperInfo {
            name: "docker-credential-apko",
            package: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
        }
    }
    fn add(&self, _: &Credentials) -> Result<(), Error> {
        Err(Error::other(MESSAGE))
    }
    fn get(&self, _: &str) -> Result<Credentials, Error> {
        Err(Error::other(MESSAGE))
    }
    fn erase(&self, _: &str) -> Result<(), Error> {
        Err(Error::other(MESSAGE))
    }
    fn list(&self) -> Result<CredentialList, Error> {
        Err(Error::other(MESSAGE))
    }
}

fn main() {
    std::process::exit(apko_credential::serve(
        &Unsupported,
        std::env::args().skip(1),
        std::io::stdin().lock(),
        std::io::stdout().lock(),
    ));
}
