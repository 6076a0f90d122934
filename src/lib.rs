//! `apko`: builds OCI images from APK packages; every credential comes from Docker
//! credential helpers first.

pub mod apk;
pub mod auth;
pub mod cache;
pub mod cli;
pub mod daemon;
pub mod files;
pub mod fs;
pub mod image;
pub mod net;
pub mod oci;
pub mod redact;
pub mod registry;
