//! `apko lock CONFIG`: resolve every architecture and write apko's lockfile, which
//! `apko build --lockfile` installs exactly. `apko resolve` is apko's deprecated name for it.

use super::auth_args::AuthArgs;
use crate::image::config::{ImageConfig, arch};
use crate::image::{layer, lock, output};
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
    /// Extra keys for the keyring.
    #[arg(short = 'k', long = "keyring-append", value_name = "PATH|URL")]
    keyring_append: Vec<String>,
    /// Extra repositories.
    #[arg(short = 'r', long = "repository-append", value_name = "REPO")]
    repository_append: Vec<String>,
    /// Extra build-only repositories.
    #[arg(short = 'b', long = "build-repository-append", value_name = "REPO")]
    build_repository_append: Vec<String>,
    /// Directories searched for `include` files.
    #[arg(long, value_name = "DIR")]
    include_paths: Vec<PathBuf>,
    /// Do not verify repository signatures (dangerous).
    #[arg(long)]
    ignore_signatures: bool,
    /// Use only the download cache; no network.
    #[arg(long)]
    offline: bool,
    /// Directory of downloaded packages and indexes.
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    #[command(flatten)]
    auth: AuthArgs,
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
    ic.contents
        .keyring
        .extend(args.keyring_append.iter().cloned());
    ic.contents
        .repositories
        .extend(args.repository_append.iter().cloned());
    ic.contents
        .build_repositories
        .extend(args.build_repository_append.iter().cloned());
    let archs = if !args.arch.is_empty() {
        arch::parse_list(&args.arch)
    } else if !ic.archs.is_empty() {
        // The config's order, as apko keeps it.
        let mut archs: Vec<arch::Arch> = Vec::new();
        for a in arch::parse_list_in_order(&ic.archs) {
            if !archs.contains(&a) {
                archs.push(a);
            }
        }
        archs
    } else {
        arch::parse_list(&["all".into()])
    };
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
        offline: args.offline,
        cache_dir: args.cache_dir.clone(),
        resolver: Arc::new(args.auth.resolver(config_dir, primary)?),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(layer::threads())
        .build()
        .context("cannot start the async runtime")?;
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
