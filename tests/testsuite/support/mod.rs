//! The one support API of the test suite: the real components of `apko-test-support`
//! (re-exported, shared with the helper crates' tests) and what needs the `apko` binary or
//! library: the sandboxes `apko` runs in ([`cli::Cli`] for the registry and build tests,
//! [`login::Sandbox`] for login/docker/skopeo), signed repositories made on the fly
//! ([`rootfs`]), and peak-memory runs ([`peak`]).

#![allow(dead_code, unused_imports)]

pub mod cli;
pub mod login;
pub mod peak;
pub mod rootfs;

pub use apko_test_support::*;

use std::path::PathBuf;

/// The binary under test.
pub const APKO: &str = env!("CARGO_BIN_EXE_apko");

/// The shared test data (`../shared/testdata`, see its README).
pub const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/testdata");

/// Real apko's own test data: a melange-built, signed two-arch repository and its configs.
pub const APKO_CLI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/testdata/apko-cli");

/// The apko-built two-arch OCI layout of the shared test data.
pub const BASE_IMAGE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/testdata/apko-cli/base_image"
);

/// docker-credential-apko, built beside `apko` by `cargo build`/`cargo test --workspace`.
pub fn our_helper() -> PathBuf {
    let path = PathBuf::from(APKO).with_file_name("docker-credential-apko");
    assert!(
        path.is_file(),
        "{} is missing: run the workspace tests (`bash tests/run.sh`) or `cargo build -p docker-credential-apko` first",
        path.display()
    );
    path
}

/// `base64(user:password)`, as docker writes `auth`.
pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

/// `apko auth get`'s answer: one line of helper-protocol JSON.
pub fn auth_get_line(host: &str, user: &str, secret: &str) -> String {
    format!(r#"{{"ServerURL":"{host}","Username":"{user}","Secret":"{secret}"}}"#) + "\n"
}

/// What a finished process printed.
#[derive(Debug)]
pub struct Out {
    /// Exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
}

impl Out {
    /// Panics with both streams unless it exited 0.
    pub fn ok(self, what: &str) -> Out {
        assert_eq!(self.code, Some(0), "{what} failed: {self:#?}");
        self
    }
}

impl From<std::process::Output> for Out {
    fn from(o: std::process::Output) -> Out {
        Out {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}
