//! One build, every architecture: base image → packages → accounts, paths and devices → layer
//! → image, then the index. Architectures are built concurrently; each layer is compressed on
//! every core.

use super::assemble::{self, Image};
use super::base::BaseImage;
use super::config::{Arch, ImageConfig};
use super::layer::Layer;
use super::oci::{self, Index};
use super::sbom;
use super::{accounts, apko_json, paths};
use crate::apk;
use crate::auth::Resolver;
use crate::fs::{Entry, Kind, Tree};
use crate::registry::baseimage;
use crate::registry::manifest::Platform;
use anyhow::{Context, anyhow, bail};
use std::path::PathBuf;
use std::sync::Arc;

/// Receives each architecture's progress (`installing packages`, `writing layer`, `done`).
pub type Progress = Arc<dyn Fn(&Arch, &str) + Send + Sync>;

/// Everything a build needs besides the configuration.
pub struct Options {
    /// Architectures to build.
    pub archs: Vec<Arch>,
    /// Fixed build date (`--build-date`, `SOURCE_DATE_EPOCH`); `None`: the newest package's.
    pub build_date: Option<u64>,
    /// Skip signature checks.
    pub ignore_signatures: bool,
    /// No network.
    pub offline: bool,
    /// Download cache.
    pub cache_dir: Option<PathBuf>,
    /// apko lockfile: install exactly these packages.
    pub lockfile: Option<Lockfile>,
    /// Credentials for repositories and keys.
    pub resolver: Arc<Resolver>,
    /// How to reach a registry that holds the base image (the command's `--ca-file`,
    /// `--insecure-registry`, `--plain-http`, `--retry-times`).
    pub registry: crate::registry::Options,
    /// Compression threads per layer.
    pub threads: usize,
    /// Pin every package in the world and `/etc/apko.json` (apko's `build` locks the
    /// configuration first; its `build-minirootfs` and `build-cpio` do not).
    pub pin: bool,
    /// Progress reports.
    pub progress: Progress,
}

/// The images and their index.
#[derive(Debug)]
pub struct Built {
    /// One image per architecture, sorted by architecture.
    pub images: Vec<Image>,
    /// The index.
    pub index: Index,
    /// The index's bytes.
    pub index_json: Vec<u8>,
    /// What each image's SBOM describes (same order as `images`).
    pub contents: Vec<sbom::Contents>,
    /// The index's date (the newest image's).
    pub created: u64,
    /// The configuration's `vcs-url` (the index SBOM's source package).
    pub vcs_url: String,
}

/// Builds every architecture of `ic`.
pub async fn build(ic: &ImageConfig, opts: Options) -> anyhow::Result<Built> {
    if ic.contents.baseimage.is_some() && opts.lockfile.is_none() {
        bail!("building with base image is supported only with a lockfile");
    }
    if let Some(l) = layering_of(ic) {
        super::layering::check(&l.strategy, ic.contents.baseimage.is_some()).map_err(|e| {
            anyhow!("layering: {e} (the one strategy is \"origin\", with a budget of layers)")
        })?;
    }
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
    let builds = opts.archs.iter().map(|arch| {
        let (opts, lock) = (&opts, opts.lockfile.as_ref());
        async move {
            build_arch(ic, opts, arch, lock, base_dir)
                .await
                .with_context(|| format!("building {arch}"))
        }
    });
    let mut images = Vec::new();
    for r in join_all(builds.collect()).await {
        images.push(r?);
    }
    images.sort_by(|a, b| a.0.arch.cmp(&b.0.arch));
    let created = opts
        .build_date
        .unwrap_or_else(|| images.iter().map(|(_, c)| c.created).max().unwrap_or(0));
    let (images, contents): (Vec<Image>, Vec<sbom::Contents>) = images.into_iter().unzip();
    let index = assemble::index(ic, &images, created);
    let index_json = oci::to_go_json(&index);
    Ok(Built {
        images,
        index,
        index_json,
        contents,
        created,
        vcs_url: ic.vcs_url.clone(),
    })
}

/// The base image's OCI layout, if the configuration names one: one in a registry is pulled
/// (the architectures built) into a temporary layout.
pub(crate) async fn base_layout(
    ic: &ImageConfig,
    archs: &[Arch],
    resolver: &Arc<Resolver>,
    registry: &crate::registry::Options,
    offline: bool,
    cache_dir: Option<&std::path::Path>,
) -> anyhow::Result<Option<baseimage::BaseLayout>> {
    let Some(b) = &ic.contents.baseimage else {
        return Ok(None);
    };
    let platforms: Vec<Platform> = archs
        .iter()
        .map(|a| {
            let (architecture, variant) = a.oci_platform();
            Platform {
                os: "linux".into(),
                architecture: architecture.into(),
                variant: variant.map(str::to_string),
            }
        })
        .collect();
    let layout = baseimage::layout(
        &b.image,
        &platforms,
        resolver.clone(),
        registry,
        offline,
        cache_dir,
    )
    .await
    .with_context(|| format!("base image {}", b.image))?;
    Ok(Some(layout))
}

/// Runs the futures concurrently on this task (the installer's futures need not be `Send`;
/// the CPU-heavy layer writing runs on blocking threads) and returns their outputs in order.
pub(crate) async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, out) in futures.iter_mut().zip(outputs.iter_mut()) {
            if out.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *out = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

async fn build_arch(
    ic: &ImageConfig,
    opts: &Options,
    arch: &Arch,
    lock: Option<&Lockfile>,
    base_dir: Option<&std::path::Path>,
) -> anyhow::Result<(Image, sbom::Contents)> {
    let progress = |what: &str| (opts.progress)(arch, what);
    let mut tree = Tree::new();
    let base = match base_dir {
        Some(dir) => {
            progress("reading base image");
            let base = BaseImage::open(dir, arch)?;
            base.unpack(&mut tree)
                .map_err(|e| anyhow!("base image: {e}"))?;
            Some(base)
        }
        None => None,
    };
    let base_tree = base.as_ref().map(|_| tree.clone());

    progress("installing packages");
    let started = std::time::Instant::now();
    let packages = match lock {
        Some(l) => l.packages_for(arch.to_apk()),
        None => ic.contents.packages.clone(),
    };
    let req = apk::InstallRequest {
        repositories: ic.contents.repositories.clone(),
        build_repositories: ic.contents.build_repositories.clone(),
        keyring: ic.contents.keyring.clone(),
        packages,
        arch: arch.to_apk().to_string(),
        ignore_signatures: opts.ignore_signatures,
        cache_dir: opts.cache_dir.clone(),
        offline: opts.offline,
        build_time: opts.build_date.unwrap_or(0),
        resolver: &opts.resolver,
        ca_certificates: opts.registry.ca_files.clone(),
    };
    let installed = apk::install(&req, &mut tree).await?;
    root_owned(&mut tree, base_tree.as_ref());
    tracing::debug!(
        "{arch}: installed {} packages in {:.2?}",
        installed.len(),
        started.elapsed()
    );
    let created = opts.build_date.unwrap_or_else(|| newest_package(&tree));

    // apko builds each architecture from its locked configuration, every package pinned;
    // that list (and a base image's packages) is the world.
    let pinned = match lock {
        Some(l) => l.packages_for(arch.to_apk()),
        None if !opts.pin => ic.contents.packages.clone(),
        None => apko_json::pinned(
            &ic.contents.packages,
            installed
                .iter()
                .map(|p| (p.name.as_str(), p.version.as_str())),
        ),
    };
    let mut aic = apko_json::locked(ic, arch, pinned);
    let mut world = aic.contents.packages.clone();
    if let Some(b) = &base_tree {
        world.extend(
            apk::db::name_versions(&base_packages(ic, arch, b)?)
                .into_iter()
                .map(|(n, v)| format!("{n}={v}")),
        );
    }
    apk::install::set_world(&mut tree, &world)?;

    finish_tree(&mut tree, &mut aic, created)?;
    let contents = sbom::contents(&tree, base_tree.as_ref(), created);

    progress("writing layer");
    let started = std::time::Instant::now();
    let layer_tree = match &base_tree {
        Some(b) => diff(b, &tree, created),
        None => tree,
    };
    let threads = opts.threads;
    let budget = layering_of(ic).map(|l| l.budget as usize);
    let arch_name = arch.to_string();
    let layers = tokio::task::spawn_blocking(move || match budget {
        None => Layer::write(&layer_tree, threads).map(|l| vec![l]),
        Some(budget) => {
            let installed = apk::install::installed_db(&layer_tree).unwrap_or_default();
            let walk = super::layer::tar::walk_order(&layer_tree);
            let (plans, groups) = super::layering::plan(&walk, &installed, budget);
            tracing::info!(
                "{arch_name}: building {} layers with budget {budget}",
                groups.len()
            );
            for (i, names) in groups.iter().enumerate() {
                tracing::info!("{arch_name}:   layer[{i}]: {}", names.join(", "));
            }
            plans
                .iter()
                .map(|plan| {
                    let order: Vec<(&str, &Entry)> =
                        plan.iter().map(|(p, e)| (p.as_str(), e)).collect();
                    Layer::write_entries(&layer_tree, &order, threads)
                })
                .collect()
        }
    })
    .await
    .map_err(|e| anyhow!("writing the layer failed: {e}"))?
    .map_err(|e| anyhow!("writing the layer failed: {e}"))?;
    for layer in &layers {
        tracing::debug!(
            "{arch}: layer {} ({} bytes) written in {:.2?}",
            layer.digest,
            layer.blob.len(),
            started.elapsed()
        );
    }
    let image =
        assemble::image_layers(&aic, arch, created, base.as_ref(), layers, budget.is_some())
            .map_err(|e| anyhow!(e))?;
    progress("done");
    Ok((image, contents))
}

/// The `layering` block when it asks for layers (apko builds one layer for none and for
/// `layering: {}`).
fn layering_of(ic: &ImageConfig) -> Option<&crate::image::config::Layering> {
    ic.layering
        .as_ref()
        .filter(|l| !l.strategy.is_empty() || l.budget != 0)
}

/// What a base image holds, as apko reads it: `contents.baseimage.apkindex`'s
/// `<arch>/APKINDEX`; without one (apko refuses the build), the base image's own installed
/// database, with a warning.
fn base_packages(ic: &ImageConfig, arch: &Arch, base: &Tree) -> anyhow::Result<String> {
    let dir = ic
        .contents
        .baseimage
        .as_ref()
        .map_or("", |b| b.apkindex.as_str());
    let path = std::path::Path::new(dir)
        .join(arch.to_apk())
        .join("APKINDEX");
    match std::fs::read(&path) {
        Ok(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound || dir.is_empty() => {
            tracing::warn!(
                "base image: no {}; its installed database names its packages instead",
                path.display()
            );
            Ok(apk::install::installed_db(base).unwrap_or_default())
        }
        Err(e) => Err(anyhow!("base image: reading {}: {e}", path.display())),
    }
}

/// apko 1.2.39 writes what packages install as uid/gid 0 (its tarfs never takes a tar header's
/// owner; the installed database still records the package's `a:` owner): every entry of
/// `tree` but those a base image (`base`) holds unchanged becomes root's. Accounts and `paths`
/// change owners afterwards.
pub fn root_owned(tree: &mut Tree, base: Option<&Tree>) {
    let changed: Vec<String> = tree
        .iter()
        .filter(|(p, e)| (e.uid, e.gid) != (0, 0) && base.and_then(|b| b.get(p)) != Some(*e))
        .map(|(p, _)| p.to_string())
        .collect();
    for p in changed {
        if let Some(e) = tree.get_mut(&p) {
            e.uid = 0;
            e.gid = 0;
        }
    }
}

/// What apko does to the tree after installing packages: runtime repositories and keys, accounts
/// (not on a base image: its accounts are kept; `run-as` in `ic` becomes the user's UID),
/// `/etc/apko.json` (from `ic`, the architecture's locked configuration), `paths`,
/// `certificates` and the CA bundles' checksums, the s6 services, busybox's applet links, the
/// character devices and glibc's `/etc/ld.so.cache`.
pub fn finish_tree(tree: &mut Tree, ic: &mut ImageConfig, created: u64) -> anyhow::Result<()> {
    // apko writes the repositories and the runtime-only ones as one sorted set (without
    // credentials here: apko writes a URL's user and password into the image).
    if tree.get("etc/apk/repositories").is_some() || !ic.contents.runtime_repositories.is_empty() {
        let runtime: Vec<String> = ic
            .contents
            .runtime_repositories
            .iter()
            .map(|r| crate::apk::repo::runtime_line(r))
            .collect();
        set_lines(tree, "etc/apk/repositories", &runtime, 0);
    }
    for key in &ic.contents.runtime_keyring {
        let name = key.name.rsplit('/').next().unwrap_or_default();
        if name.is_empty() || name == "." || name == ".." {
            bail!(
                "runtime_keyring entry {:?} has no usable file name",
                key.name
            );
        }
        let mut e = Entry::file(key.content.clone().into_bytes(), 0o644);
        e.mtime = created;
        tree.insert(&format!("etc/apk/keys/{name}"), e)?;
    }
    if ic.contents.baseimage.is_none() {
        ic.accounts.run_as = accounts::apply(tree, &ic.accounts, 0)
            .map_err(|e| anyhow!("failed to mutate accounts: {e}"))?;
    }
    let json = Entry::file(apko_json::encode(ic), 0o444);
    tree.insert("etc/apko.json", json)?;
    paths::apply(tree, &ic.paths, 0).map_err(|e| anyhow!(e))?;
    if let Some(certs) = &ic.certificates {
        super::certificates::install(tree, certs, created)
            .map_err(|e| anyhow!("failed to install certificates: {e:#}"))?;
    }
    super::certificates::write_checksums(tree, created)?;
    // s6 supervision tree (`entrypoint.services`), as apko's s6 package writes it
    for (service, command) in &ic.entrypoint.services {
        let dir = Entry::dir(0o777);
        for p in ["sv".to_string(), format!("sv/{service}")] {
            match tree.get_mut(&p) {
                Some(e) => e.mode = 0o777,
                None => tree.insert(&p, dir.clone())?,
            }
        }
        let run = Entry::file(format!("#!/bin/execlineb\n{command}\n").into_bytes(), 0o755);
        tree.insert(&format!("sv/{service}/run"), run)?;
    }
    super::busybox::install_links(tree)?;
    for (name, major, minor, mode) in [
        ("console", 5, 1, 0o620),
        ("null", 1, 3, 0o666),
        ("random", 1, 8, 0o666),
        ("urandom", 1, 9, 0o666),
        ("zero", 1, 5, 0o666),
    ] {
        let path = format!("dev/{name}");
        if tree.get(&path).is_none() {
            if tree.get("dev").is_none() {
                tree.insert("dev", Entry::dir(0o755))?;
            }
            let mut e = Entry::dir(mode);
            e.kind = Kind::CharDevice(major, minor);
            tree.insert(&path, e)?;
        }
    }
    super::ldso_cache::update(tree, created);
    Ok(())
}

/// `path`'s lines and `lines` as one sorted set, one per line.
fn set_lines(tree: &mut Tree, path: &str, lines: &[String], mtime: u64) {
    let old = match tree.get(path).map(|e| &e.kind) {
        Some(Kind::File(d)) => String::from_utf8_lossy(d).into_owned(),
        _ => String::new(),
    };
    let set: std::collections::BTreeSet<&str> = old
        .lines()
        .map(str::trim)
        .chain(lines.iter().map(|l| l.trim()))
        .filter(|l| !l.is_empty())
        .collect();
    let mut text = String::new();
    for l in set {
        text.push_str(l);
        text.push('\n');
    }
    let data = crate::fs::Content::from(text.into_bytes());
    match tree.get_mut(path) {
        Some(e) => e.kind = Kind::File(data),
        None => {
            let mut e = Entry::file(data, 0o644);
            e.mtime = mtime;
            let _ = tree.insert(path, e);
        }
    }
}

/// The newest build time (`t:`) in the installed database: apko's image date when none is
/// given.
pub fn newest_package(tree: &Tree) -> u64 {
    ["usr/lib/apk/db/installed", "lib/apk/db/installed"]
        .iter()
        .filter_map(|p| match tree.get(p).map(|e| &e.kind) {
            Some(Kind::File(d)) => Some(d.clone()),
            _ => None,
        })
        .flat_map(|d| {
            String::from_utf8_lossy(&d)
                .lines()
                .filter_map(|l| l.strip_prefix("t:")?.trim().parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .max()
        .unwrap_or(0)
}

/// The layer that turns `base` into `full`: changed and new entries (with their parent
/// directories as `full` has them) and whiteouts for what was removed.
pub fn diff(base: &Tree, full: &Tree, mtime: u64) -> Tree {
    let mut out = Tree::new();
    let add = |out: &mut Tree, path: &str, e: &Entry| {
        let mut parent = String::new();
        for part in path
            .split('/')
            .collect::<Vec<_>>()
            .split_last()
            .map_or(&[][..], |(_, p)| p)
        {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(part);
            if out.get(&parent).is_none()
                && let Some(pe) = full.get(&parent)
            {
                let _ = out.insert(&parent, pe.clone());
            }
        }
        let _ = out.insert(path, e.clone());
    };
    for (path, e) in full.iter() {
        if base.get(path) != Some(e) {
            add(&mut out, path, e);
        }
    }
    for (path, _) in base.iter() {
        let parent = path.rfind('/').map(|i| &path[..i]);
        let parent_gone = parent.is_some_and(|p| full.get(p).is_none());
        if full.get(path).is_none() && !parent_gone {
            let (dir, name) = match parent {
                Some(p) => (format!("{p}/"), &path[p.len() + 1..]),
                None => (String::new(), path),
            };
            let mut wh = Entry::file(Vec::new(), 0o644);
            wh.mtime = mtime;
            add(&mut out, &format!("{dir}.wh.{name}"), &wh);
        }
    }
    out
}

/// What a build takes from an apko lockfile: `contents.packages[]` (name, version,
/// architecture) and the config checksum it was made for.
#[derive(Debug, Clone)]
pub struct Lockfile {
    packages: Vec<(String, String, String)>,
    /// `config.checksum`: `sha256-…` over the config and its includes; `None` in old files.
    pub checksum: Option<String>,
}

impl Lockfile {
    /// Reads the file at `path`.
    pub fn read(path: &std::path::Path) -> anyhow::Result<Lockfile> {
        let text = crate::files::read_regular(path, crate::files::MAX_LOCKFILE)
            .with_context(|| format!("failed to load lock-file {}", path.display()))?;
        let v: serde_json::Value = serde_json::from_slice(&text)
            .with_context(|| format!("failed to load lock-file {}", path.display()))?;
        let packages = v["contents"]["packages"]
            .as_array()
            .ok_or_else(|| anyhow!("lock-file {} has no contents.packages", path.display()))?
            .iter()
            .map(|p| {
                let s = |k: &str| p[k].as_str().unwrap_or_default().to_string();
                (s("name"), s("version"), s("architecture"))
            })
            .collect();
        let checksum = v["config"]["checksum"].as_str().map(String::from);
        Ok(Lockfile { packages, checksum })
    }

    /// `name=version` for every package locked for `arch`.
    fn packages_for(&self, arch: &str) -> Vec<String> {
        self.packages
            .iter()
            .filter(|(_, _, a)| a == arch)
            .map(|(n, v, _)| format!("{n}={v}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_bundle_writes_the_supervision_tree() {
        let ic = ImageConfig::parse(
            "entrypoint:\n  type: service-bundle\n  services:\n    nginx: /usr/sbin/nginx -c /etc/nginx.conf\naccounts:\n  users:\n    - username: app\n      uid: 1000\npaths:\n  - path: /data/x\n    type: directory\n    permissions: 0o755\n",
            "t",
        )
        .unwrap();
        let mut t = Tree::new();
        finish_tree(&mut t, &mut ic.clone(), 5).unwrap();
        let run = t.get("sv/nginx/run").unwrap();
        assert_eq!(
            run.kind,
            Kind::File(
                b"#!/bin/execlineb\n/usr/sbin/nginx -c /etc/nginx.conf\n"
                    .to_vec()
                    .into()
            )
        );
        // apko's tarfs leaves what apko creates at mtime 0, whatever the build date (5 here)
        assert_eq!((run.mode, run.mtime), (0o755, 0));
        assert_eq!(t.get("sv/nginx").unwrap().mtime, 0);
        for p in ["etc/apko.json", "etc/passwd", "home/app", "data", "data/x"] {
            assert_eq!(t.get(p).unwrap().mtime, 0, "{p}");
        }
        assert_eq!(
            (t.get("sv").unwrap().mode, t.get("sv/nginx").unwrap().mode),
            (0o777, 0o777)
        );
        assert_eq!(t.get("dev/null").unwrap().kind, Kind::CharDevice(1, 3));
    }

    #[test]
    fn installed_entries_become_roots_but_a_base_images_unchanged_ones() {
        let owned = |uid| Entry {
            uid,
            gid: uid + 1,
            ..Entry::file(&b"a"[..], 0o644)
        };
        let mut base = Tree::new();
        base.insert("kept", owned(7)).unwrap();
        base.insert("changed", owned(7)).unwrap();
        let mut t = base.clone();
        t.insert(
            "changed",
            Entry {
                mode: 0o600,
                ..owned(7)
            },
        )
        .unwrap();
        t.insert("new", owned(501)).unwrap();
        let mut alone = t.clone();
        root_owned(&mut t, Some(&base));
        let ids = |t: &Tree, p: &str| (t.get(p).unwrap().uid, t.get(p).unwrap().gid);
        assert_eq!(
            [ids(&t, "kept"), ids(&t, "changed"), ids(&t, "new")],
            [(7, 8), (0, 0), (0, 0)]
        );
        root_owned(&mut alone, None);
        assert_eq!(ids(&alone, "kept"), (0, 0));
        assert_eq!(t.get("changed").unwrap().mode, 0o600);
    }

    #[test]
    fn diff_keeps_changes_parents_and_whiteouts() {
        let mut base = Tree::new();
        base.insert("etc/os-release", Entry::file(&b"a"[..], 0o644))
            .unwrap();
        base.insert("etc/gone", Entry::file(&b"x"[..], 0o644))
            .unwrap();
        base.insert("old/dir/f", Entry::file(&b"x"[..], 0o644))
            .unwrap();
        base.insert("same", Entry::file(&b"s"[..], 0o644)).unwrap();
        let mut full = base.clone();
        full.get_mut("etc/os-release").unwrap().kind = Kind::File(b"b".to_vec().into());
        full.get_mut("etc").unwrap().mode = 0o750;
        full.remove("etc/gone");
        full.remove("old");
        full.insert("usr/bin/x", Entry::file(&b"x"[..], 0o755))
            .unwrap();
        let d = diff(&base, &full, 3);
        let paths: Vec<&str> = d.iter().map(|(p, _)| p).collect();
        assert_eq!(
            paths,
            [
                "etc",
                "etc/.wh.gone",
                "etc/os-release",
                ".wh.old",
                "usr",
                "usr/bin",
                "usr/bin/x"
            ]
            .iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
        );
        assert_eq!(d.get("etc").unwrap().mode, 0o750);
    }
}
