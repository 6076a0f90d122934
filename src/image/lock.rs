//! `apko lock`: what a configuration resolves to, per architecture, written as apko's
//! lockfile (`pkg/lock`): each package with the byte range and digest of its signature,
//! control and data sections, the repositories and the keys. `apko build --lockfile`
//! then installs exactly these packages.

use super::base::BaseImage;
use super::build::{base_layout, join_all};
use super::config::{Arch, ImageConfig};
use super::oci;
use crate::apk::{self, InstalledPackage};
use crate::auth::Resolver;
use crate::fs::{Kind, Tree};
use anyhow::{Context, anyhow};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;

/// A lockfile; the field order and names are apko's JSON.
#[derive(Debug, Serialize)]
pub struct Lock {
    version: &'static str,
    config: LockConfig,
    contents: Contents,
}

#[derive(Debug, Serialize)]
struct LockConfig {
    name: String,
    checksum: String,
}

#[derive(Debug, Serialize)]
struct Contents {
    keyring: Vec<Key>,
    build_repositories: Vec<Repository>,
    runtime_repositories: Vec<Repository>,
    repositories: Vec<Repository>,
    packages: Vec<Package>,
}

#[derive(Debug, Serialize)]
struct Key {
    name: String,
    url: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    content: String,
}

#[derive(Debug, Serialize)]
struct Repository {
    name: String,
    url: String,
    architecture: String,
}

#[derive(Debug, Serialize)]
struct Package {
    name: String,
    url: String,
    version: String,
    architecture: String,
    signature: Range,
    control: Range,
    data: Range,
    checksum: String,
}

/// `{"range": "bytes=A-B", "checksum": "sha1-…"}`; both empty for an unsigned package's
/// signature, as apko writes it.
#[derive(Debug, Default, Serialize)]
struct Range {
    range: String,
    checksum: String,
}

impl From<&apk::package::Section> for Range {
    fn from(s: &apk::package::Section) -> Range {
        Range {
            range: s.range(),
            checksum: s.checksum.clone(),
        }
    }
}

/// How to resolve (`lock` and `show-packages`).
pub struct Options {
    /// In the order they are written.
    pub archs: Vec<Arch>,
    /// `--ignore-signatures`.
    pub ignore_signatures: bool,
    /// No network: indexes and packages from `cache_dir` only.
    pub offline: bool,
    /// The download cache.
    pub cache_dir: Option<PathBuf>,
    /// Credentials for repositories, keys and a base image in a registry.
    pub resolver: Arc<Resolver>,
    /// How to reach a registry that holds the base image.
    pub registry: crate::registry::Options,
}

impl Lock {
    /// The lockfile's bytes, as apko writes them (`json.MarshalIndent`, two spaces, a final
    /// newline).
    pub fn to_json(&self) -> Vec<u8> {
        oci::to_go_json_indented(self)
    }

    /// How many packages it pins, over all architectures.
    pub fn package_count(&self) -> usize {
        self.contents.packages.len()
    }
}

/// Resolves and downloads (verifying each package against its signed index) the packages of
/// every architecture of `ic`; `name` and `checksum` identify the configuration.
pub async fn lock(
    ic: &ImageConfig,
    name: String,
    checksum: String,
    opts: &Options,
) -> anyhow::Result<Lock> {
    let base = base_layout(
        ic,
        &opts.archs,
        &opts.resolver,
        &opts.registry,
        opts.offline,
        opts.cache_dir.as_deref(),
    )
    .await?;
    let base_dir = base.as_ref().map(|b| b.path.as_path());
    let resolved = join_all(
        opts.archs
            .iter()
            .map(|arch| async move {
                resolve_arch(ic, opts, arch, base_dir)
                    .await
                    .with_context(|| format!("locking {arch}"))
            })
            .collect(),
    )
    .await;

    let mut contents = Contents {
        keyring: Vec::new(),
        build_repositories: Vec::new(),
        runtime_repositories: Vec::new(),
        repositories: Vec::new(),
        packages: Vec::new(),
    };
    let mut trees = Vec::new();
    for (arch, result) in opts.archs.iter().zip(resolved) {
        let (installed, tree) = result?;
        let apk_arch = arch.to_apk();
        contents.packages.extend(installed.iter().map(|p| {
            Package {
                name: p.name.clone(),
                url: p.url.clone(),
                version: p.version.clone(),
                architecture: p.arch.clone(),
                signature: p
                    .sections
                    .signature
                    .as_ref()
                    .map(Range::from)
                    .unwrap_or_default(),
                control: Range::from(&p.sections.control),
                data: Range::from(&p.sections.data),
                checksum: p.checksum.clone(),
            }
        }));
        for (repos, out) in [
            (
                &ic.contents.build_repositories,
                &mut contents.build_repositories,
            ),
            (
                &ic.contents.runtime_repositories,
                &mut contents.runtime_repositories,
            ),
            (&ic.contents.repositories, &mut contents.repositories),
        ] {
            out.extend(repos.iter().map(|r| repository(r, apk_arch)));
        }
        trees.push(tree);
    }
    contents.keyring = ic
        .contents
        .keyring
        .iter()
        .map(|k| Key {
            name: strip_scheme(&apk::repo::redact(k)).to_string(),
            url: apk::repo::redact(k),
            content: trees.first().map(|t| key_text(t, k)).unwrap_or_default(),
        })
        .collect();
    contents.keyring.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Lock {
        version: "v1",
        config: LockConfig { name, checksum },
        contents,
    })
}

/// The tree packages resolve against for `arch`: the base image's (unpacked from the layout
/// at `base_dir`), else empty.
pub fn base_tree(base_dir: Option<&std::path::Path>, arch: &Arch) -> anyhow::Result<Tree> {
    let mut tree = Tree::new();
    if let Some(dir) = base_dir {
        BaseImage::open(dir, arch)?
            .unpack(&mut tree)
            .map_err(|e| anyhow!("base image: {e}"))?;
    }
    Ok(tree)
}

/// What to resolve for `arch`: the configuration's repositories, keys and packages.
pub fn install_request<'a>(
    ic: &ImageConfig,
    opts: &'a Options,
    arch: &Arch,
) -> apk::InstallRequest<'a> {
    apk::InstallRequest {
        repositories: ic.contents.repositories.clone(),
        build_repositories: ic.contents.build_repositories.clone(),
        keyring: ic.contents.keyring.clone(),
        packages: ic.contents.packages.clone(),
        arch: arch.to_apk().to_string(),
        ignore_signatures: opts.ignore_signatures,
        cache_dir: opts.cache_dir.clone(),
        offline: opts.offline,
        build_time: 0,
        resolver: &opts.resolver,
        ca_certificates: opts.registry.ca_files.clone(),
    }
}

/// One architecture: the base image (if any) unpacked, then the packages resolved,
/// downloaded, verified and installed into a scratch tree.
async fn resolve_arch(
    ic: &ImageConfig,
    opts: &Options,
    arch: &Arch,
    base_dir: Option<&std::path::Path>,
) -> anyhow::Result<(Vec<InstalledPackage>, Tree)> {
    let mut tree = base_tree(base_dir, arch)?;
    let installed = apk::install(&install_request(ic, opts, arch), &mut tree).await?;
    Ok((installed, tree))
}

/// apko's `repoLock`: `REPO/ARCH` without its scheme or `@tag`, and its index URL;
/// credentials in the URL are never written (apko writes them).
fn repository(repo: &str, arch: &str) -> Repository {
    let mut text = apk::repo::redact(repo.trim());
    while let Some(rest) = text.strip_prefix('@') {
        text = rest
            .split_once(char::is_whitespace)
            .map_or("", |(_, loc)| loc)
            .trim_start()
            .to_string();
    }
    let base = format!("{}/{arch}", text.trim_end_matches('/'));
    Repository {
        name: strip_scheme(&base).to_string(),
        url: format!("{base}/APKINDEX.tar.gz"),
        architecture: arch.to_string(),
    }
}

fn strip_scheme(url: &str) -> &str {
    url.strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(url)
}

/// The PEM text of keyring entry `key` as installed into `/etc/apk/keys` (empty for a
/// directory of keys, which has no one text).
fn key_text(tree: &Tree, key: &str) -> String {
    let file = key
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    match tree.get(&format!("etc/apk/keys/{file}")).map(|e| &e.kind) {
        Some(Kind::File(data)) if !std::path::Path::new(key).is_dir() => {
            String::from_utf8_lossy(data).into_owned()
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_are_named_as_apko_names_them() {
        let r = repository("./testdata/packages", "x86_64");
        assert_eq!(r.name, "./testdata/packages/x86_64");
        assert_eq!(r.url, "./testdata/packages/x86_64/APKINDEX.tar.gz");
        let r = repository("@local https://u:secret@repo.example/os/", "aarch64");
        assert_eq!(r.name, "repo.example/os/aarch64");
        assert_eq!(r.url, "https://repo.example/os/aarch64/APKINDEX.tar.gz");
        assert_eq!(r.architecture, "aarch64");
    }
}
