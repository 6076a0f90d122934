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
