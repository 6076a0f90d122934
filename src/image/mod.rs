//! The image half of the builder: the apko configuration, the filesystem changes apko makes
//! after installing packages (accounts, paths, devices), the layer writer, and the OCI and
//! docker outputs.

pub mod accounts;
pub mod apko_json;
pub mod assemble;
pub mod base;
pub mod build;
pub mod busybox;
pub mod certificates;
pub mod config;
pub mod cpio;
pub mod layer;
pub mod layering;
pub mod ldso_cache;
pub mod lock;
pub mod oci;
pub mod output;
pub mod paths;
pub mod sbom;
pub mod vcs;
