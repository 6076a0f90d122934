//! `apko push` (an OCI layout to tags) and `apko pull` (an image into an OCI layout).

use super::auth_args::AuthArgs;
use super::registry_args::RegistryArgs;
use crate::oci::Platform;
use crate::registry::push::PushOptions;
use crate::registry::reference::Reference;
use crate::registry::{Options, blocking};
use anyhow::Context;
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Args)]
#[command(
    after_help = "Prints REGISTRY/REPOSITORY@DIGEST of the pushed index (first tag) on stdout.\n\nExamples:\n  apko push ./layout registry.example.com/team/app:1.0 registry.example.com/team/app:latest\n  apko push ./layout localhost:5000/app:dev --auth-file ci-auth.txt\n  apko push ./layout r.internal:5000/app:1 --insecure-registry r.internal:5000"
)]
pub(super) struct PushArgs {
    /// An OCI image layout directory (as `apko build CONFIG TAG DIR/` writes).
    layout: PathBuf,
    /// Where to push: one or more image references with tags.
    #[arg(required = true, value_name = "TAG")]
    tags: Vec<String>,
    /// Write the pushed references (each image by digest, then the index) to FILE.
    #[arg(long, value_name = "FILE")]
    image_refs: Option<PathBuf>,
    /// Parallel blob transfers.
    #[arg(short = 'j', long, default_value_t = 4, value_name = "N")]
    jobs: usize,
    #[command(flatten)]
    auth: AuthArgs,
    #[command(flatten)]
    registry: RegistryArgs,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  apko pull cgr.dev/chainguard/static:latest ./base\n  apko pull registry.example.com/team/base:1 ./base --platform linux/amd64 --platform linux/arm64"
)]
pub(super) struct PullArgs {
    /// The image to pull.
    image: String,
    /// The OCI layout directory to write (created if needed).
    dir: PathBuf,
    /// Only this platform (OS/ARCH[/VARIANT]); repeat for several. Default: all.
    #[arg(long, value_name = "PLATFORM")]
    platform: Vec<String>,
    /// Parallel blob transfers.
    #[arg(short = 'j', long, default_value_t = 4, value_name = "N")]
    jobs: usize,
    #[command(flatten)]
    auth: AuthArgs,
    #[command(flatten)]
    registry: RegistryArgs,
}

fn parse_refs(texts: &[String]) -> anyhow::Result<Vec<Reference>> {
    texts
        .iter()
        .map(|t| Reference::parse(t).map_err(anyhow::Error::from))
        .collect()
}

pub(super) fn push(args: PushArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let tags = parse_refs(&args.tags)?;
    let primary = tags.iter().map(|t| t.registry.clone()).collect();
    let resolver = Arc::new(args.auth.resolver(config, primary)?);
    push_and_report(
        &args.layout,
        &tags,
        resolver,
        args.jobs,
        &args.registry,
        args.image_refs.as_deref(),
    )
}

/// Pushes a layout to every tag, writes `--image-refs`, and prints the index's reference:
/// what `push` and `publish` both end with.
pub(super) fn push_and_report(
    layout: &Path,
    tags: &[Reference],
    resolver: Arc<crate::auth::Resolver>,
    jobs: usize,
    registry: &RegistryArgs,
    image_refs: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let result = blocking::push_layout(
        layout,
        tags,
        resolver,
        Options {
            jobs: jobs.max(1),
            ..registry.options()
        },
        &PushOptions::default(),
    )?;
    if let Some(file) = image_refs {
        std::fs::write(file, result.image_refs.join("\n") + "\n")
            .with_context(|| format!("cannot write --image-refs {}", file.display()))?;
    }
    println!("{}", result.reference);
    Ok(ExitCode::SUCCESS)
}

pub(super) fn pull(args: PullArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let reference = Reference::parse(&args.image)?;
    let platforms = args
        .platform
        .iter()
        .map(|p| Platform::parse(p).map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let resolver = Arc::new(
        args.auth
            .resolver(config, vec![reference.registry.clone()])?,
    );
    let pulled = blocking::pull_image(
        &reference,
        &platforms,
        &args.dir,
        resolver,
        Options {
            jobs: args.jobs.max(1),
            ..args.registry.options()
        },
    )?;
    println!(
        "{}/{}@{}",
        reference.registry, reference.repository, pulled.digest
    );
    Ok(ExitCode::SUCCESS)
}
