//! `apko publish CONFIG TAG...`: build, then push to every tag, as apko does; the index's
//! reference goes to stdout.

use super::build::{BuildFlags, build_image, sbom_dir, write_sboms};
use super::registry_args::RegistryArgs;
use crate::image::output;
use crate::registry::reference::Reference;
use anyhow::{Context, bail};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Flags of `apko publish`.
#[derive(Debug, Args)]
#[command(
    after_help = "Prints REGISTRY/REPOSITORY@DIGEST of the pushed index (first tag) on stdout.\n\nExample:\n  apko publish apko.yaml registry.example.com/team/app:1.0 registry.example.com/team/app:latest"
)]
pub struct PublishArgs {
    /// The apko configuration (YAML).
    #[arg(value_name = "CONFIG")]
    config_file: PathBuf,
    /// Where to push: one or more image references with tags; the first also names the
    /// per-architecture images (TAG-ARCH in the layout, by digest in the registry).
    #[arg(required = true, value_name = "TAG")]
    tags: Vec<String>,
    /// Write the pushed references (each image by digest, then the index) to FILE.
    #[arg(long, value_name = "FILE")]
    image_refs: Option<PathBuf>,
    /// Parallel blob transfers.
    #[arg(short = 'j', long, default_value_t = 4, value_name = "N")]
    jobs: usize,
    /// Load the image into the local Docker daemon (DOCKER_HOST) instead of pushing: the
    /// image for GOOS/GOARCH (default linux/amd64, as apko), as apko.local/cache:DIGEST and
    /// each TAG.
    #[arg(long)]
    local: bool,
    #[command(flatten)]
    flags: BuildFlags,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// Runs `apko publish`.
pub fn run(args: PublishArgs, config_dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    let tags = args
        .tags
        .iter()
        .map(|t| Reference::parse(t).map_err(anyhow::Error::from))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if let Some(t) = tags.iter().find(|t| t.digest.is_some()) {
        bail!("unable to publish to {t}: it names a digest; give a tag, e.g. name:latest");
    }
    // as apko: SBOMs only with --sbom-path
    let sbom_dir = sbom_dir(&args.flags, None)?;
    let primary = tags.iter().map(|t| t.registry.clone()).collect();
    let resolver = Arc::new(args.flags.auth.resolver(config_dir, primary)?);
    let built = build_image(
        &args.config_file,
        &args.flags,
        args.registry.options(),
        resolver.clone(),
    )?;

    if args.local {
        return publish_local(&built, &args.tags);
    }

    // The layout to push: the built images, with the index exactly as built (the layout
    // writer's per-image ref names are for the layout, not for the registry).
    let dir = tempfile::Builder::new()
        .prefix("apko-publish-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    output::write_layout(dir.path(), &built.images, &built.index, &tags[0])
        .context("writing the OCI layout to push")?;
    std::fs::write(dir.path().join("index.json"), &built.index_json)
        .context("writing the OCI layout to push")?;
    if let Some(dir) = sbom_dir {
        write_sboms(dir, &built, &tags[0])?;
    }
    super::push::push_and_report(
        dir.path(),
        &tags,
        resolver,
        args.jobs,
        &args.registry,
        args.image_refs.as_deref(),
    )
}

/// apko's name for images it loads into the daemon: `apko.local/cache:<manifest hex>`.
const LOCAL_REPO: &str = "apko.local/cache";

/// `publish --local`: loads the image apko would pick into the daemon and tags it; prints
/// `apko.local/cache:<hex>`.
fn publish_local(built: &crate::image::build::Built, tags: &[String]) -> anyhow::Result<ExitCode> {
    let env = |k: &str, default: &str| {
        std::env::var(k)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.to_string())
    };
    let (goos, goarch) = (env("GOOS", "linux"), env("GOARCH", "amd64"));
    // As apko: the last image for GOOS/GOARCH (variant not compared), else the first.
    let image = built
        .images
        .iter()
        .rev()
        .find(|i| goos == "linux" && i.arch.oci_platform().0 == goarch)
        .or(built.images.first())
        .context("the build made no image")?;
    tracing::info!("using best guess single-arch image for local tags ({goos}/{goarch})");
    let hex = image.descriptor.digest.trim_start_matches("sha256:");
    let local = format!("{LOCAL_REPO}:{hex}");
    let daemon = crate::daemon::Daemon::from_env()?;
    tracing::info!(
        "saving OCI image locally: {local} (Docker daemon at {})",
        daemon.endpoint()
    );

    let dir = tempfile::Builder::new()
        .prefix("apko-local-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let tarball = dir.path().join("image.tar");
    let reference = Reference::parse(&local)?;
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [serde_json::to_value(&image.descriptor)?],
    });
    output::write_tarball_tagged(
        &tarball,
        std::slice::from_ref(image),
        &serde_json::to_vec(&index)?,
        &reference,
        true,
    )
    .context("writing the image to load")?;
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let said = daemon.load(&tarball).await?;
        tracing::debug!("docker daemon response: {said}");
        for tag in tags {
            let (repo, t) = split_tag(tag);
            if repo.starts_with("apko.local/") {
                continue;
            }
            tracing::info!("tagging local image {local} as {tag}");
            daemon.tag(&local, repo, t).await?;
        }
        anyhow::Ok(())
    })?;
    println!("{local}");
    Ok(ExitCode::SUCCESS)
}

/// `name:tag` → (`name`, `tag`); no tag is `latest` (a `:` before the last `/` is a port).
fn split_tag(text: &str) -> (&str, &str) {
    match text.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (text, "latest"),
    }
}
