//! The flags that say where packages come from, shared by every command that resolves them
//! (`build`, `publish`, `build-minirootfs`, `lock`, `show-packages`), with apko's names.

use crate::image::config::ImageConfig;
use clap::Args;
use std::path::PathBuf;

/// `-k`, `-r`, `-b`, `--offline`, `--cache-dir`.
#[derive(Debug, Default, Args)]
pub struct SourceArgs {
    /// Extra keys for the keyring.
    #[arg(
        short = 'k',
        long = "keyring-append",
        value_name = "PATH|URL",
        value_delimiter = ','
    )]
    pub keyring_append: Vec<String>,
    /// Extra repositories (used to build and written into the image).
    #[arg(
        short = 'r',
        long = "repository-append",
        value_name = "REPO",
        value_delimiter = ','
    )]
    pub repository_append: Vec<String>,
    /// Extra build-only repositories (never written into the image).
    #[arg(
        short = 'b',
        long = "build-repository-append",
        value_name = "REPO",
        value_delimiter = ','
    )]
    pub build_repository_append: Vec<String>,
    /// Use only the download cache; no network.
    #[arg(long)]
    pub offline: bool,
    /// Directory of downloaded packages, indexes and keys, kept between builds [default:
    /// $XDG_CACHE_HOME/apko-rs or ~/.cache/apko-rs]. Packages are verified on every reuse.
    #[arg(long = "cache-dir", value_name = "DIR")]
    pub cache_dir_flag: Option<PathBuf>,
}

impl SourceArgs {
    /// `--cache-dir`, else the default cache (none only when there is no home directory).
    pub fn cache_dir(&self) -> Option<PathBuf> {
        self.cache_dir_flag
            .clone()
            .or_else(crate::cache::default_dir)
    }

    /// Appends the extra keys and repositories to the configuration, as apko does.
    pub fn apply(&self, ic: &mut ImageConfig) {
        let c = &mut ic.contents;
        c.keyring.extend(self.keyring_append.iter().cloned());
        c.repositories
            .extend(self.repository_append.iter().cloned());
        c.build_repositories
            .extend(self.build_repository_append.iter().cloned());
    }
}
