//! `apko install-keys`: asks every http(s) repository of the host's `/etc/apk/repositories`
//! for the keys it publishes (Chainguard-style discovery) and writes them to
//! `/etc/apk/keys`, as apko's command does, so the host's own `apk` trusts them.

use super::auth_args::AuthArgs;
use crate::apk::discover;
use crate::apk::fetch::Fetcher;
use crate::apk::repo::Spec;
use anyhow::{Context, bail};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Flags of `apko install-keys` (apko's has none; `--root` is apk's, for a chroot).
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  apko install-keys\n  apko install-keys --root /mnt/rootfs")]
pub struct InstallKeysArgs {
    /// The root filesystem whose etc/apk/repositories is read and whose etc/apk/keys is
    /// written (as apk's --root).
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
    #[command(flatten)]
    auth: AuthArgs,
}

/// The repositories of an `/etc/apk/repositories` text: one per line, `#` comments and blank
/// lines skipped (as apk reads it).
fn repositories(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// Runs `apko install-keys`.
pub fn run(args: InstallKeysArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let list = args.root.join("etc/apk/repositories");
    let text =
        crate::files::read_regular_text(&list, crate::files::MAX_LIST).with_context(|| {
            format!(
                "cannot read {}: install-keys discovers keys for the repositories listed there",
                list.display()
            )
        })?;
    let resolver = args.auth.resolver(config, Vec::new())?;
    let fetcher = Fetcher::new(&resolver, None, false, &[])?;
    let keys_dir = args.root.join("etc/apk/keys");
    let runtime = super::runtime()?;
    let mut written = 0;
    for repo in repositories(&text) {
        let spec = Spec::parse(repo).with_context(|| format!("{}: {repo:?}", list.display()))?;
        let keys = runtime.block_on(discover::discover(&fetcher, &spec))?;
        if keys.is_empty() {
            tracing::debug!("{} publishes no keys", spec.display());
            continue;
        }
        std::fs::create_dir_all(&keys_dir)
            .with_context(|| format!("cannot create {}", keys_dir.display()))?;
        for key in keys {
            let path = keys_dir.join(&key.name);
            if path.symlink_metadata().is_ok_and(|m| !m.is_file()) {
                bail!(
                    "{} exists and is not a regular file; remove it to install the key {} of {}",
                    path.display(),
                    key.name,
                    spec.display()
                );
            }
            crate::image::output::write_file_atomically(&path, key.pem.as_bytes())
                .with_context(|| format!("failed to write key {}", path.display()))?;
            tracing::info!("wrote {} (from {})", path.display(), spec.display());
            written += 1;
        }
    }
    if written == 0 {
        tracing::info!("no repository in {} publishes keys", list.display());
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_list_skips_comments_and_blank_lines() {
        assert_eq!(
            super::repositories(
                "# main\nhttps://a.example/os\n\n  @tag https://b.example/x  \n#x\n"
            ),
            ["https://a.example/os", "@tag https://b.example/x"]
        );
    }
}
