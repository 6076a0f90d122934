//! One installation, start to end: keys, indexes (verified), resolution, downloads
//! (verified), then the tree. Nothing is written into the tree before every package has
//! been downloaded and checked, so a tampered package leaves the tree as it was.

use super::fetch::{Fetcher, Kind, url_key};
use super::index::Index;
use super::install::{self, Installer};
use super::keys::Keyring;
use super::package::ApkFile;
use super::repo::{Location, Spec, runtime_line};
use super::resolve::{PackageResolver, Source};
use super::{ApkError, InstallRequest, InstalledPackage};
use base64::Engine;
use futures_util::{StreamExt, TryStreamExt, stream};
use std::path::Path;

/// Parallel downloads.
const PARALLEL: usize = 8;

/// Loads every key of `req.keyring` (files, directories, http(s) URLs).
async fn load_keyring(
    req: &InstallRequest<'_>,
    fetcher: &Fetcher<'_>,
) -> Result<Keyring, ApkError> {
    let mut keyring = Keyring::new();
    for text in &req.keyring {
        let spec = Spec::parse(text)?;
        match &spec.location {
            Location::Local(path) => keyring.add_path(path)?,
            Location::Http(url) => {
                let name = url.rsplit('/').next().unwrap_or(url).to_string();
                let cache = format!("keys/{}/{name}", url_key(url));
                let got = fetcher
                    .read(&spec, &spec.location, Some(&cache), false, Kind::Key)
                    .await?;
                keyring.add(&name, got.bytes.clone(), url)?;
                fetcher.keep(got.unstored, &got.bytes);
            }
        }
    }
    Ok(keyring)
}

/// The cache name of a package: its control checksum in hex.
fn package_cache_key(checksum: &str) -> Option<String> {
    let digest = base64::engine::general_purpose::STANDARD
        .decode(checksum.strip_prefix("Q1")?)
        .ok()?;
    Some(format!("packages/{}.apk", hex::encode(digest)))
}

fn fetcher<'a>(req: &'a InstallRequest<'_>) -> Result<Fetcher<'a>, ApkError> {
    Fetcher::new(
        req.resolver,
        req.cache_dir.clone(),
        req.offline,
        &req.ca_certificates,
    )
}

/// What resolving needs: the repositories (build-only ones last), their verified indexes and
/// the keyring.
struct Prepared {
    specs: Vec<Spec>,
    indexes: Vec<Index>,
    keyring: Keyring,
}

/// Loads the keyring, then fetches and verifies every repository's index for `req.arch`.
async fn prepare(req: &InstallRequest<'_>, fetcher: &Fetcher<'_>) -> Result<Prepared, ApkError> {
    let mut keyring = load_keyring(req, fetcher).await?;
    let specs = req
        .repositories
        .iter()
        .chain(&req.build_repositories)
        .map(|r| Spec::parse(r))
        .collect::<Result<Vec<_>, _>>()?;
    // An index signed by a key the keyring lacks gets one more try after asking its
    // repository for its keys (apko's Chainguard-style discovery), so a build asks only the
    // repositories whose keys it needs.
    let mut results = load_indexes(req, fetcher, &specs, &keyring, None).await;
    let unknown: Vec<usize> = (0..specs.len())
        .filter(|&i| matches!(results[i], Err(ApkError::UnknownKey(_))))
        .collect();
    let mut found = 0;
    for &i in &unknown {
        found += super::discover::add_discovered(fetcher, &specs[i], &mut keyring).await?;
    }
    if found > 0 {
        let again = load_indexes(req, fetcher, &specs, &keyring, Some(&unknown)).await;
        for (i, result) in unknown.iter().zip(again) {
            results[*i] = result;
        }
    }
    let indexes = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    finish_prepare(req, specs, indexes, keyring)
}

/// Fetches and verifies the index of each repository (or of those in `only`), in order.
async fn load_indexes(
    req: &InstallRequest<'_>,
    fetcher: &Fetcher<'_>,
    specs: &[Spec],
    keyring: &Keyring,
    only: Option<&[usize]>,
) -> Vec<Result<Index, ApkError>> {
    let arch = req.arch.as_str();
    let check = (!req.ignore_signatures).then_some(keyring);
    let which: Vec<usize> = only.map_or_else(|| (0..specs.len()).collect(), <[usize]>::to_vec);
    // Indices, not references, feed the streams: a future that holds a closure over
    // references is not `Send` for every lifetime, and the image builder spawns this one.
    stream::iter(which)
        .map(|i| async move {
            let spec = &specs[i];
            let location = spec.join(&format!("{arch}/APKINDEX.tar.gz"));
            let what = location.display();
            let cache = format!("indexes/{}/APKINDEX.tar.gz", url_key(&what));
            let got = fetcher
                .read(spec, &location, Some(&cache), false, Kind::Index)
                .await?;
            let index = Index::from_targz(&got.bytes, check, &what)?;
            fetcher.keep(got.unstored, &got.bytes);
            Ok::<_, ApkError>(index)
        })
        .buffered(PARALLEL)
        .collect()
        .await
}

fn finish_prepare(
    req: &InstallRequest<'_>,
    specs: Vec<Spec>,
    indexes: Vec<Index>,
    keyring: Keyring,
) -> Result<Prepared, ApkError> {
    if req.ignore_signatures {
        tracing::warn!("index signatures are not checked (--ignore-signatures)");
    }
    Ok(Prepared {
        specs,
        indexes,
        keyring,
    })
}

/// The installed database of `tree` (a base image), if it has one.
fn base_index(tree: &crate::fs::Tree) -> Result<Option<Index>, ApkError> {
    install::installed_db(tree)
        .map(Index::parse)
        .transpose()
        .map_err(|e| ApkError::Malformed(format!("the base image's installed database: {e}")))
}

/// The resolver's sources: the base image's packages (installed), then each repository.
fn sources<'a>(base: Option<&'a Index>, prepared: &'a Prepared) -> Vec<Source<'a>> {
    let mut sources = Vec::new();
    if let Some(base) = base {
        sources.push(Source {
            index: base,
            tag: None,
            installed: true,
        });
    }
    for (spec, index) in prepared.specs.iter().zip(&prepared.indexes) {
        sources.push(Source {
            index,
            tag: spec.tag.as_deref(),
            installed: false,
        });
    }
    sources
}

/// A package resolution chose, without downloading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Package name.
    pub name: String,
    /// Full version.
    pub version: String,
    /// Where its `.apk` is, without credentials.
    pub url: String,
}

/// Resolves `req.packages` over the repositories (and the installed database of `tree`, a
/// base image) without downloading or installing anything: what `apko show-packages` prints.
pub async fn resolve_only(
    req: &InstallRequest<'_>,
    tree: &crate::fs::Tree,
) -> Result<Vec<Resolved>, ApkError> {
    let fetcher = fetcher(req)?;
    let prepared = prepare(req, &fetcher).await?;
    let base = base_index(tree)?;
    let sources = sources(base.as_ref(), &prepared);
    let first_repo = sources.len() - prepared.specs.len();
    let resolver = PackageResolver::new(sources);
    let order = resolver.resolve(&req.packages)?;
    Ok(order
        .into_iter()
        .map(|id| {
            let p = resolver.package(id);
            let spec = &prepared.specs[id.source as usize - first_repo];
            Resolved {
                name: p.name().to_string(),
                version: p.version().to_string(),
                url: spec.join(&format!("{}/{}.apk", req.arch, p.id())).display(),
            }
        })
        .collect())
}

/// Runs one installation (see [`super::install`]).
pub async fn run(
    req: &InstallRequest<'_>,
    tree: &mut crate::fs::Tree,
) -> Result<Vec<InstalledPackage>, ApkError> {
    let fetcher = fetcher(req)?;
    let prepared = prepare(req, &fetcher).await?;
    let arch = req.arch.as_str();
    let fetcher = &fetcher;
    let base = base_index(tree)?;
    let sources = sources(base.as_ref(), &prepared);
    let first_repo = sources.len() - prepared.specs.len();
    let resolver = PackageResolver::new(sources);
    let order = resolver.resolve(&req.packages)?;
    let (specs, keyring) = (&prepared.specs, &prepared.keyring);

    // Download and verify everything before touching the tree.
    let resolver = &resolver;
    let apks: Vec<(ApkFile, usize, String)> = stream::iter(order.iter().copied())
        .map(|id| {
            let repo = id.source as usize - first_repo;
            let spec = &specs[repo];
            let p = resolver.package(id);
            let location = spec.join(&format!("{arch}/{}.apk", p.id()));
            let cache = package_cache_key(p.checksum());
            async move {
                let what = location.display();
                let expected = (!p.checksum().is_empty()).then(|| p.checksum());
                let got = fetcher
                    .read(spec, &location, cache.as_deref(), true, Kind::Package)
                    .await?;
                let unstored = got.unstored;
                // Served by the cache (a download would be waiting to be stored).
                let from_cache = cache.is_some()
                    && matches!(location, Location::Http(_))
                    && fetcher.cache_dir().is_some()
                    && unstored.is_none();
                let apk = match ApkFile::open(got.bytes, expected, &what) {
                    Err(e) if from_cache => {
                        // A bad cached copy: download again once.
                        fetcher.evict(cache.as_deref().unwrap_or_default());
                        if req.offline {
                            return Err(e);
                        }
                        let got = fetcher
                            .read(spec, &location, cache.as_deref(), false, Kind::Package)
                            .await?;
                        // Still not the package the index names: no copy of it is kept.
                        let apk = ApkFile::open(got.bytes, expected, &what)?;
                        keep(fetcher, got.unstored, &apk);
                        apk
                    }
                    other => {
                        let apk = other?;
                        keep(fetcher, unstored, &apk);
                        apk
                    }
                };
                Ok::<_, ApkError>((apk, repo, what))
            }
        })
        .buffered(PARALLEL)
        .try_collect()
        .await?;

    // What the installer makes itself gets mtime 0, as apko's tarfs leaves it; packages' own
    // files keep theirs, and scripts.tar's members carry the build time.
    install::init_layout(tree, arch, 0)?;
    let mut installer = Installer::new(tree, req.build_time);
    let mut installed = Vec::with_capacity(apks.len());
    for (apk, repo, url) in &apks {
        installer.add(tree, apk)?;
        installed.push(install::summary(apk, &specs[*repo].display(), url.clone()));
    }
    installer.finish(tree)?;
    install::link_lib_apk(tree, 0)?;
    install::write_world(tree, &req.packages, 0)?;
    let runtime: Vec<String> = req.repositories.iter().map(|r| runtime_line(r)).collect();
    install::write_repositories(tree, &runtime, 0)?;
    install::write_keys(tree, keyring.keys(), 0)?;
    Ok(installed)
}

/// Stores a verified download in the cache (its data section is read back from the spill
/// file, so only when there is something to store).
fn keep(fetcher: &Fetcher<'_>, unstored: Option<std::path::PathBuf>, apk: &ApkFile) {
    if unstored.is_none() {
        return;
    }
    match apk.raw() {
        Ok(raw) => fetcher.keep(unstored, &raw),
        Err(e) => tracing::warn!("downloads are not cached: {e}"),
    }
}

/// Reads a local `.apk` with no index to check it against (tests and tools).
pub fn open_local(path: &Path) -> Result<ApkFile, ApkError> {
    let bytes = std::fs::read(path).map_err(|e| ApkError::io(path, e))?;
    ApkFile::open(bytes, None, &path.display().to_string())
}
