//! `apko build CONFIG TAG OUTPUT`, with real apko's flags plus `--auth`/`--auth-file`.

use super::auth_args::AuthArgs;
use super::source_args::SourceArgs;
use crate::image::build::{self, Options};
use crate::image::config::{Arch, ImageConfig, arch};
use crate::image::{layer, oci, output, sbom, vcs};
use crate::registry::reference::Reference;
use anyhow::{Context, anyhow, bail};
use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Flags of `apko build`.
#[derive(Debug, Args)]
#[command(
    after_help = "OUTPUT: an existing directory gets an OCI image layout; any other path a docker tarball (docker load, podman load) that also carries the OCI index.\n\nExample:\n  apko build examples/hello/apko.yaml hello:latest hello.tar"
)]
pub struct BuildArgs {
    /// The apko configuration (YAML).
    #[arg(value_name = "CONFIG")]
    pub config_file: PathBuf,
    /// The image reference; each architecture's image is also tagged TAG-ARCH.
    pub tag: String,
    /// An existing directory (OCI layout) or a file path (docker tarball).
    pub output: PathBuf,
    #[command(flatten)]
    pub flags: BuildFlags,
    /// How to reach a registry holding `contents.baseimage`.
    #[command(flatten)]
    pub registry: super::registry_args::RegistryArgs,
}

/// The flags `apko build` and `apko publish` share.
#[derive(Debug, Args)]
pub struct BuildFlags {
    /// Architectures (comma list; apk or OCI names; `host`, `all`). Default: the config's
    /// `archs`, else all.
    #[arg(long, value_delimiter = ',')]
    pub arch: Vec<String>,
    /// Extra packages.
    #[arg(
        short = 'p',
        long = "package-append",
        value_name = "PACKAGE",
        value_delimiter = ','
    )]
    pub package_append: Vec<String>,
    /// Extra annotations, `key:value`.
    #[arg(long, value_name = "KEY:VALUE", value_delimiter = ',')]
    pub annotations: Vec<String>,
    /// The build date (RFC 3339); SOURCE_DATE_EPOCH, when set, wins.
    #[arg(long, value_name = "DATE")]
    pub build_date: Option<String>,
    /// An apko lockfile: install exactly the packages it lists.
    #[arg(long, value_name = "FILE")]
    pub lockfile: Option<PathBuf>,
    /// Directories searched for `include` files.
    #[arg(long, value_name = "DIR", value_delimiter = ',')]
    pub include_paths: Vec<PathBuf>,
    /// Do not verify repository signatures (dangerous).
    #[arg(long)]
    pub ignore_signatures: bool,
    /// Write SPDX SBOMs: sbom-<arch>.spdx.json per architecture and sbom-index.spdx.json.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub sbom: bool,
    /// An existing directory for the SBOMs. `build`: default the current directory;
    /// `publish`: SBOMs are written only when this is given.
    #[arg(long, value_name = "DIR")]
    pub sbom_path: Option<PathBuf>,
    /// SBOM formats, a comma list; the one supported format is `spdx`.
    #[arg(long, value_name = "FORMATS", default_value = "spdx")]
    pub sbom_formats: String,
    /// Take `vcs-url` from the git repository holding CONFIG when the config sets none.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub vcs: bool,
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub auth: AuthArgs,
    /// Build from the configuration as written, not locked first: the world and
    /// `/etc/apko.json` list the packages as requested (apko's `build-minirootfs` and
    /// `build-cpio`, which skip the lock step `build` runs).
    #[arg(skip)]
    pub unlocked: bool,
}

/// Runs `apko build`.
pub fn run(args: BuildArgs, config_dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    let reference = Reference::parse(&args.tag)?;
    if reference.digest.is_some() {
        bail!(
            "unable to use {:?} as the image tag: it names a digest; give a tag, e.g. name:latest",
            args.tag
        );
    }
    let to_dir = args.output.is_dir();
    if !to_dir && args.output.to_string_lossy().ends_with('/') {
        bail!("output directory {} does not exist", args.output.display());
    }
    let sbom_dir = sbom_dir(&args.flags, Some(Path::new(".")))?;
    let resolver = Arc::new(
        args.flags
            .auth
            .resolver(config_dir, vec![reference.registry.clone()])?,
    );
    let built = build_image(
        &args.config_file,
        &args.flags,
        args.registry.options(),
        resolver,
    )?;

    if to_dir {
        output::write_layout(&args.output, &built.images, &built.index, &reference)
            .with_context(|| format!("writing OCI layout to {}", args.output.display()))?;
    } else {
        output::write_tarball(&args.output, &built.images, &built.index_json, &reference)
            .with_context(|| format!("writing {}", args.output.display()))?;
    }
    if let Some(dir) = sbom_dir {
        write_sboms(dir, &built, &reference)?;
    }
    for image in &built.images {
        tracing::debug!(
            "{}: {} ({})",
            output::arch_tag(reference.tag.as_deref().unwrap_or("latest"), image),
            image.descriptor.digest,
            image.arch
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Where SBOMs go: `None` when none are wanted (`--sbom=false`, an empty `--sbom-formats`),
/// else `--sbom-path`, else `default` (`build`: the current directory; `publish`: none).
/// Checked before building, so a bad flag writes nothing.
pub fn sbom_dir<'a>(
    flags: &'a BuildFlags,
    default: Option<&'a Path>,
) -> anyhow::Result<Option<&'a Path>> {
    let formats = sbom::parse_formats(&flags.sbom_formats).map_err(|e| anyhow!(e))?;
    if !flags.sbom || formats.is_empty() {
        return Ok(None);
    }
    let dir = flags.sbom_path.as_deref().or(default);
    if let Some(d) = dir
        && !d.is_dir()
    {
        bail!(
            "--sbom-path {}: no such directory; create it first (apko does not)",
            d.display()
        );
    }
    Ok(dir)
}

/// Writes the SBOMs of `built` into `dir`.
pub fn write_sboms(dir: &Path, built: &build::Built, reference: &Reference) -> anyhow::Result<()> {
    let written = sbom::write_all(
        dir,
        &built.images,
        &built.contents,
        &built.index_json,
        built.created,
        reference,
        &built.vcs_url,
    )
    .with_context(|| {
        format!(
            "writing SBOMs to {}; check that the directory is writable",
            dir.display()
        )
    })?;
    for p in written {
        tracing::debug!("wrote SBOM {}", p.display());
    }
    Ok(())
}

/// Builds every architecture `flags` ask for from the configuration at `config_file`, with
/// credentials from `resolver` (`apko build` and `apko publish`).
pub fn build_image(
    config_file: &Path,
    flags: &BuildFlags,
    registry: crate::registry::Options,
    resolver: Arc<crate::auth::Resolver>,
) -> anyhow::Result<build::Built> {
    let (mut ic, checksum) = ImageConfig::load_with_checksum(config_file, &flags.include_paths)?;
    let lockfile = match &flags.lockfile {
        Some(path) => Some(check_lockfile(path, config_file, &checksum)?),
        None => None,
    };
    flags.source.apply(&mut ic);
    ic.contents
        .packages
        .extend(flags.package_append.iter().cloned());
    let annotations = parse_annotations(&flags.annotations)
        .map_err(|e| anyhow!("parsing annotations from command line: {e}"))?;
    for (k, v) in annotations {
        ic.annotations
            .get_or_insert_with(Default::default)
            .insert(k, v);
    }
    if flags.vcs
        && ic.vcs_url.is_empty()
        && let Some(url) = vcs::probe(config_file)
    {
        tracing::debug!("detected {url} as VCS URL");
        ic.vcs_url = url;
    }
    let archs = if !flags.arch.is_empty() {
        arch::parse_list(&flags.arch)
    } else if !ic.archs.is_empty() {
        arch::parse_list(&ic.archs)
    } else {
        arch::parse_list(&["all".into()])
    };
    let build_date = build_date(flags.build_date.as_deref())?;
    if flags.ignore_signatures {
        tracing::warn!("ignoring signatures is not recommended");
    }
    let bars = Bars::new(&archs);
    let opts = Options {
        archs,
        build_date,
        ignore_signatures: flags.ignore_signatures,
        offline: flags.source.offline,
        cache_dir: flags.source.cache_dir(),
        lockfile,
        resolver,
        registry,
        threads: layer::threads(),
        pin: !flags.unlocked,
        progress: Arc::new(move |arch: &Arch, what: &str| bars.set(arch, what)),
    };
    let runtime = super::runtime()?;
    runtime.block_on(build::build(&ic, opts))
}

/// `--annotations key:value`, checked as apko's `parseAnnotations` checks them (the same
/// texts): a key of `[a-z0-9-.]`, once, with a value.
fn parse_annotations(raw: &[String]) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for a in raw {
        let Some((k, v)) = a.split_once(':') else {
            return Err(format!("unable to parse annotation: {a}"));
        };
        if out.iter().any(|(seen, _)| seen == k) {
            return Err(format!("annotation {k} defined more than once"));
        }
        if k.is_empty()
            || !k
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        {
            return Err(format!("annotation key malformed: {k}"));
        }
        if v.is_empty() {
            return Err(format!("annotation {k} value is empty"));
        }
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

/// As apko: a lockfile made from another version of the config (or of a file it includes) is
/// refused; one without the config's checksum (older apko) only gets a warning.
fn check_lockfile(
    path: &Path,
    config_file: &Path,
    checksum: &str,
) -> anyhow::Result<build::Lockfile> {
    let lock = build::Lockfile::read(path)?;
    match lock.checksum.as_deref() {
        None => tracing::warn!(
            "the lock file {} does not contain the checksum of the config; regenerate it with `apko lock`",
            path.display()
        ),
        Some(locked) if locked != checksum => bail!(
            "the lock file {} was made from another version of {} (or of a file it includes): regenerate it with `apko lock {}`",
            path.display(),
            config_file.display(),
            config_file.display()
        ),
        Some(_) => {}
    }
    Ok(lock)
}

/// `apko show-config`: the configuration after `include`, as YAML, with credentials in
/// repository and key URLs redacted.
pub fn show_config(path: &Path, source: &SourceArgs) -> anyhow::Result<ExitCode> {
    // apko takes the source flags here too but prints the configuration without them.
    let _ = source;
    let mut ic = ImageConfig::load(path, &[])?;
    let c = &mut ic.contents;
    for url in c
        .repositories
        .iter_mut()
        .chain(c.build_repositories.iter_mut())
        .chain(c.runtime_repositories.iter_mut())
        .chain(c.keyring.iter_mut())
    {
        *url = redact(url);
    }
    let mut value = serde_norway::to_value(&ic)?;
    prune(&mut value);
    print!("{}", serde_norway::to_string(&value)?);
    Ok(ExitCode::SUCCESS)
}

/// Drops empty values, as apko's `omitempty` fields do.
fn prune(v: &mut serde_norway::Value) -> bool {
    use serde_norway::Value;
    match v {
        Value::Mapping(m) => {
            m.retain(|_, v| !prune(v));
            m.is_empty()
        }
        Value::Sequence(s) => {
            s.iter_mut().for_each(|v| {
                prune(v);
            });
            s.is_empty()
        }
        Value::String(s) => s.is_empty(),
        Value::Null => true,
        Value::Bool(b) => !*b,
        Value::Number(n) => n.as_u64() == Some(0),
        Value::Tagged(_) => false,
    }
}

/// `https://user:secret@host/x` → `https://user:xxxxx@host/x`, as Go's `url.Redacted`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let masked = if userinfo.contains(':') {
                format!("{user}:xxxxx")
            } else {
                user.to_string()
            };
            format!("{scheme}://{masked}@{host}{}", &rest[authority_end..])
        }
        None => url.to_string(),
    }
}

/// `--build-date`, overridden by a non-empty SOURCE_DATE_EPOCH (a malformed one is an error).
fn build_date(flag: Option<&str>) -> anyhow::Result<Option<u64>> {
    if let Ok(v) = std::env::var("SOURCE_DATE_EPOCH")
        && !v.is_empty()
    {
        return v
            .parse::<u64>()
            .map(Some)
            .map_err(|e| anyhow!("failed to parse SOURCE_DATE_EPOCH {v:?}: {e}"));
    }
    flag.map(|d| {
        oci::parse_rfc3339(d).ok_or_else(|| {
            anyhow!("invalid --build-date {d:?}: expected RFC 3339, e.g. 2024-01-02T15:04:05Z")
        })
    })
    .transpose()
}

/// One spinner per architecture on a terminal; nothing otherwise.
struct Bars {
    bars: Mutex<HashMap<Arch, ProgressBar>>,
}

impl Bars {
    fn new(archs: &[Arch]) -> Bars {
        let multi = MultiProgress::new();
        let style = ProgressStyle::with_template("{spinner} {prefix:>8} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bars = archs
            .iter()
            .map(|a| {
                let b = multi.add(ProgressBar::new_spinner());
                b.set_style(style.clone());
                b.set_prefix(a.to_string());
                b.enable_steady_tick(Duration::from_millis(120));
                (a.clone(), b)
            })
            .collect();
        Bars {
            bars: Mutex::new(bars),
        }
    }

    fn set(&self, arch: &Arch, what: &str) {
        let bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(b) = bars.get(arch) {
            if what == "done" {
                b.finish_with_message("done");
            } else {
                b.set_message(what.to_string());
            }
        }
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        for b in self
            .bars
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .values()
        {
            b.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted_like_go() {
        assert_eq!(
            redact("https://u:secret@repo.example/os"),
            "https://u:xxxxx@repo.example/os"
        );
        assert_eq!(
            redact("https://tok@repo.example/os"),
            "https://tok@repo.example/os"
        );
        assert_eq!(redact("./packages"), "./packages");
        assert_eq!(
            redact("https://repo.example/a@b"),
            "https://repo.example/a@b"
        );
    }
}
