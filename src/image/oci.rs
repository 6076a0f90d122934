//! The OCI model lives in [`crate::oci`], shared with `registry/`; re-exported here so that
//! `super::oci::…` keeps naming it inside `image/`.

pub use crate::oci::*;
