//! Talking to OCI registries: references now; the client comes with the registry issue.

pub mod reference;
