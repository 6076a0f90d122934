//! `contents.baseimage.image` naming an image in a registry (real apko only takes a local OCI
//! layout): pulled, with the build's credentials, into a temporary layout the build reads.

use super::client::Client;
use super::error::Error;
use super::pull::pull_image;
use super::reference::Reference;
use super::session::Credentials;
use super::transport::Options;
use crate::auth::Resolver;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The base image's layout, and the temporary directory it lives in when it was pulled.
pub struct BaseLayout {
    /// The OCI layout directory.
    pub path: PathBuf,
    _pulled: Option<tempfile::TempDir>,
}

/// Whether `image` names a registry image rather than a layout directory: it is not a
/// directory, does not start like a path, and its first component is a registry (has `.` or
/// `:`, or is `localhost`).
pub fn is_reference(image: &str) -> bool {
    if Path::new(image).exists() || image.starts_with(['.', '/', '~']) {
        return false;
    }
    let Some((first, _)) = image.split_once('/') else {
        return false;
    };
    (first.contains('.') || first.contains(':') || first == "localhost")
        && Reference::parse(image).is_ok()
}

/// The layout for `image`: the directory itself, or the image pulled (just `platforms`) into a
/// temporary layout that lives as long as the returned value. Its blobs are kept in
/// `cache_dir/blobs` for the next pull. `platforms` are [`crate::oci::Platform`]s or the
/// `registry::manifest` form `image/build.rs` still builds.
pub async fn layout<P: Clone + Into<crate::oci::Platform>>(
    image: &str,
    platforms: &[P],
    resolver: Arc<Resolver>,
    options: &Options,
    offline: bool,
    cache_dir: Option<&Path>,
) -> Result<BaseLayout, Error> {
    if !is_reference(image) {
        return Ok(BaseLayout {
            path: PathBuf::from(image),
            _pulled: None,
        });
    }
    if offline {
        return Err(Error::Refused(format!(
            "base image {image} is in a registry and --offline forbids pulling it: pull it first (apko pull {image} DIR) and name DIR as contents.baseimage.image"
        )));
    }
    let reference = Reference::parse(image).map_err(|e| Error::Reference(e.to_string()))?;
    let dir = tempfile::Builder::new()
        .prefix("apko-base-")
        .tempdir()
        .map_err(|e| {
            Error::Io(format!(
                "cannot create a directory for base image {image}: {e}"
            ))
        })?;
    let options = Options {
        progress: false,
        ..options.clone()
    };
    let client = Client::new(options, Credentials::Resolver(resolver))?;
    let blobs = cache_dir.map(|c| c.join("blobs"));
    let platforms: Vec<crate::oci::Platform> = platforms.iter().cloned().map(Into::into).collect();
    let pulled = pull_image(
        &client,
        &reference,
        &platforms,
        dir.path(),
        blobs.as_deref(),
    )
    .await?;
    tracing::info!("base image {image}: pulled {}", pulled.digest);
    Ok(BaseLayout {
        path: dir.path().to_path_buf(),
        _pulled: Some(dir),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_paths() {
        assert!(is_reference("cgr.dev/chainguard/static:latest"));
        assert!(is_reference("localhost:5000/base:1"));
        assert!(is_reference("127.0.0.1:5000/base"));
        assert!(!is_reference("./testdata/base_image/"));
        assert!(!is_reference("testdata/base_image"));
        assert!(!is_reference("/abs/layout"));
        assert!(!is_reference("alpine:3"));
        assert!(!is_reference("base_image"));
    }
}
