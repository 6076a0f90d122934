//! Talking to OCI registries: references, the authentication flows (Basic, tokens, identity
//! tokens, credential fallback), blob and manifest transfer, and pushing and pulling whole
//! images between OCI layouts and registries. The documents and layouts themselves are
//! [`crate::oci`]'s.

pub mod baseimage;
pub mod blob;
pub mod blocking;
pub mod challenge;
pub mod client;
pub mod error;
pub mod login;
pub mod manifest;
pub mod progress;
pub mod pull;
pub mod push;
pub mod reference;
pub mod session;
pub mod token;
pub mod transport;

pub use client::Client;
pub use error::Error;
pub use session::Credentials;
pub use transport::Options;
