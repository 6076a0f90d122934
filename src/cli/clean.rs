//! `apko clean`: empties the download cache, as apko's `clean` does, but removes only the
//! cache's own entries.

use crate::cache;
use anyhow::{Context, anyhow};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `apko clean` (apko's).
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  apko clean\n  apko clean --cache-dir /custom/cache/path\n  apko clean --dry-run"
)]
pub struct CleanArgs {
    /// The cache directory [default: $XDG_CACHE_HOME/apko-rs or ~/.cache/apko-rs].
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Show the cache's size without deleting anything.
    #[arg(long)]
    dry_run: bool,
}

/// Runs `apko clean`.
pub fn run(args: CleanArgs) -> anyhow::Result<ExitCode> {
    let dir = match args.cache_dir {
        Some(dir) => dir,
        None => cache::default_dir()
            .ok_or_else(|| anyhow!("no cache directory: HOME is not set; pass --cache-dir"))?,
    };
    if dir.exists() && !dir.is_dir() {
        return Err(anyhow!(
            "the cache path {} is not a directory",
            dir.display()
        ));
    }
    tracing::info!("Cleaning cache directory: {}", dir.display());
    if !dir.exists() {
        tracing::info!("Cache directory does not exist, nothing to clean");
        return Ok(ExitCode::SUCCESS);
    }
    let cleaned = cache::clean(&dir, args.dry_run)
        .with_context(|| format!("cannot clean the cache directory {}", dir.display()))?;
    tracing::info!(
        "Cache size: {} in {} files",
        cache::human_size(cleaned.bytes),
        cleaned.files
    );
    if !cleaned.others.is_empty() {
        tracing::warn!(
            "{} holds other files than apko's cache ({}): they were left in place",
            dir.display(),
            cleaned.others.join(", ")
        );
    }
    if args.dry_run {
        tracing::info!("Dry run mode: nothing was deleted");
    } else {
        tracing::info!("Cache directory cleaned successfully");
    }
    Ok(ExitCode::SUCCESS)
}
