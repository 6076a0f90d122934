//! Blocking entry points for the synchronous builder: `apko publish` pushes the layout it
//! built, and `contents.baseimage` pulls a base image named by a registry reference.

use super::client::Client;
use super::error::Error;
use super::pull::{self, Pulled};
use super::push::{self, PushOptions, PushResult};
use super::reference::Reference;
use super::session::Credentials;
use super::transport::Options;
use crate::auth::Resolver;
use crate::oci::Platform;
use std::path::Path;
use std::sync::Arc;

/// A runtime for one blocking call (two workers: hashing and I/O overlap).
fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))
}

/// Pushes the OCI layout at `layout_dir` to every tag, with credentials from `resolver`
/// (whose primary registries should be the tags'). Prints nothing; the caller prints
/// [`PushResult::reference`].
pub fn push_layout(
    layout_dir: &Path,
    tags: &[Reference],
    resolver: Arc<Resolver>,
    options: Options,
    push_options: &PushOptions,
) -> Result<PushResult, Error> {
    let client = Client::new(options, Credentials::Resolver(resolver))?;
    runtime()?.block_on(push::push_layout(&client, layout_dir, tags, push_options))
}

/// Pulls `reference` into an OCI layout at `dest` (created if needed): all platforms when
/// `platforms` is empty, else just those. See [`pull::pull_image`].
pub fn pull_image(
    reference: &Reference,
    platforms: &[Platform],
    dest: &Path,
    resolver: Arc<Resolver>,
    options: Options,
) -> Result<Pulled, Error> {
    let client = Client::new(options, Credentials::Resolver(resolver))?;
    runtime()?.block_on(pull::pull_image(&client, reference, platforms, dest, None))
}
