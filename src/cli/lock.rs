//! `apko lock CONFIG`: resolve every architecture and write apko's lockfile, which
//! `apko build --lockfile` installs exactly. `apko resolve` is apko's deprecated name for it.

use super::auth_args::AuthArgs;
use super::source_args::SourceArgs;
use crate::image::config::{ImageConfig, arch};
use crate::image::{lock, output};
use crate::registry::baseimage::is_reference;
use crate::registry::reference::Reference;
use anyhow::{Context, bail};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Flags of `apko lock` (apko's, plus `--offline` and credentials).
#[derive(Debug, Args)]
#[command(
    after_help = "Writes CONFIG with its extension replaced by .lock.json unless --output is given.\n\nExample:\n  apko lock apko.yaml && apko build --lockfile apko.lock.json apko.yaml app:latest app.tar"
)]
pub struct LockArgs {
    /// The apko configuration (YAML).
    #[arg(value_name = "CONFIG")]
    config_file: PathBuf,
    /// Where to write the lockfile.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Architectures (comma list; apk or OCI names; `host`, `all`). Default: the config's
    /// `archs`, else all.
    #[arg(long, value_delimiter = ',')]
    arch: Vec<String>,
    /// Directories searched for `include` files.
    #[arg(long, value_name = "DIR")]
    include_paths: Vec<PathBuf>,
    /// Do not verify repository signatures (dangerous).
    #[arg(long)]
    ignore_signatures: bool,
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    auth: AuthArgs,
    #[command(flatten)]
    registry: super::registry_args::RegistryArgs,
}

/// Runs `apko lock` (`extension` `lock.json`) or `apko resolve` (`resolved.json`).
pub fn run(args: LockArgs, extension: &str, config_dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    let output = match &args.output {
        Some(o) => o.clone(),
        None => args.config_file.with_extension(extension),
    };
    if output.is_dir() {
        bail!(
            "--output {} is a directory; name the lockfile to write",
            output.display()
        );
    }
    let (mut ic, checksum) =
        ImageConfig::load_with_checksum(&args.config_file, &args.include_paths)?;
    args.source.apply(&mut ic);
    let archs = arch::select(&args.arch, &ic.archs);
    if args.ignore_signatures {
        tracing::warn!("ignoring signatures is not recommended");
    }
    tracing::info!(
        "Determining packages for {} architectures: {}",
        archs.len(),
        archs
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    // Values without HOST= are for the base image's registry, when it is in one.
    let primary = match &ic.contents.baseimage {
        Some(b) if is_reference(&b.image) => vec![Reference::parse(&b.image)?.registry],
        _ => Vec::new(),
    };
    let opts = lock::Options {
        archs,
        ignore_signatures: args.ignore_signatures,
        offline: args.source.offline,
        cache_dir: args.source.cache_dir(),
        resolver: Arc::new(args.auth.resolver(config_dir, primary)?),
        registry: args.registry.options(),
    };
    let runtime = super::runtime()?;
    let name = args.config_file.to_string_lossy().into_owned();
    let lock = runtime.block_on(lock::lock(&ic, name, checksum, &opts))?;
    output::write_file_atomically(&output, &lock.to_json())
        .with_context(|| format!("writing lockfile {}", output.display()))?;
    tracing::info!(
        "wrote {} ({} packages)",
        output.display(),
        lock.package_count()
    );
    Ok(ExitCode::SUCCESS)
}
