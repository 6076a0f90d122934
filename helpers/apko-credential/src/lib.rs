//! The Docker credential-helper protocol, both sides, synchronous and without network.
//!
//! - [`wire`]: the JSON shapes, actions and exact error texts — the specification.
//! - [`serve`]: the helper side; a helper binary is one [`Helper`] impl and a one-line `main`.
//! - [`client`]: the caller side; runs `docker-credential-<name>` with a timeout, bounded
//!   output and error texts that never carry a secret.
//!
//! `plugin-protocol.md` at the repository root describes the protocol in prose.

#![forbid(unsafe_op_in_unsafe_fn)]

pub mod client;
mod secret;
pub mod serve;
pub mod wire;

pub use client::Program;
pub use secret::Secret;
pub use serve::{Error, Helper, HelperInfo, serve};
pub use wire::{Action, CredentialList, Credentials};
