//! `apko build-minirootfs CONFIG OUTPUT` and `apko build-cpio CONFIG OUTPUT`: one
//! architecture's root filesystem, built as apko builds these (from the configuration as
//! written, not locked first), as a tar (gzipped for a `.gz` name: the image layer's bytes) or
//! a newc cpio archive, for chroots, WSL, `docker import` or an initramfs.

use super::auth_args::AuthArgs;
use super::build::{BuildFlags, build_image};
use super::source_args::SourceArgs;
use crate::image::config::{Arch, ImageConfig};
use crate::image::output;
use anyhow::{Context, bail};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Flags of `apko build-minirootfs` (apko's, plus the cache and credential flags).
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  apko build-minirootfs apko.yaml rootfs.tar.gz --build-arch aarch64"
)]
pub struct MinirootfsArgs {
    /// The apko configuration (YAML).
    #[arg(value_name = "CONFIG")]
    config_file: PathBuf,
    /// The file to write: gzipped when its name ends in `.gz`.
    #[arg(value_name = "OUTPUT")]
    output: PathBuf,
    /// The architecture (apk or OCI name); the config's `archs` are ignored, as in apko.
    #[arg(long, value_name = "ARCH", default_value_t = Arch::host().to_string())]
    build_arch: String,
    /// The build date (RFC 3339); SOURCE_DATE_EPOCH, when set, wins.
    #[arg(long, value_name = "DATE")]
    build_date: Option<String>,
    /// Extra packages.
    #[arg(short = 'p', long = "package-append", value_name = "PACKAGE")]
    package_append: Vec<String>,
    /// Do not verify repository signatures (dangerous).
    #[arg(long)]
    ignore_signatures: bool,
    /// Also write the root filesystem's SPDX SBOM (sbom-ARCH.spdx.json) into this existing
    /// directory (apko 1.2 accepts the flag and writes none).
    #[arg(long, value_name = "DIR")]
    sbom_path: Option<PathBuf>,
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    auth: AuthArgs,
}

/// What to write the root filesystem as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The layer's tar, gzipped when OUTPUT ends in `.gz` (`build-minirootfs`).
    TarGz,
    /// A `newc` cpio archive, gzipped when OUTPUT ends in `.gz` (`build-cpio`).
    Cpio,
}

/// Runs `apko build-minirootfs` or `apko build-cpio`.
pub fn run(
    args: MinirootfsArgs,
    config_dir: Option<&Path>,
    format: Format,
) -> anyhow::Result<ExitCode> {
    if args.output.is_dir() || args.output.to_string_lossy().ends_with('/') {
        bail!(
            "{} is a directory; name the .tar.gz to write",
            args.output.display()
        );
    }
    let ic = ImageConfig::load(&args.config_file, &[])?;
    if ic.contents.baseimage.is_some() {
        bail!(
            "build-minirootfs writes a whole root filesystem from packages; {} builds on a base image (contents.baseimage): use `apko build`",
            args.config_file.display()
        );
    }
    let arch = Arch::parse(&args.build_arch);
    if !ic.archs.is_empty() {
        tracing::warn!("ignoring archs in config, only building for {arch}");
    }
    let flags = BuildFlags {
        arch: vec![arch.to_string()],
        package_append: args.package_append,
        annotations: Vec::new(),
        build_date: args.build_date,
        source: args.source,
        lockfile: None,
        include_paths: Vec::new(),
        ignore_signatures: args.ignore_signatures,
        sbom: args.sbom_path.is_some(),
        sbom_path: args.sbom_path,
        sbom_formats: "spdx".into(),
        vcs: false,
        auth: args.auth,
        unlocked: true,
    };
    let sbom_dir = super::build::sbom_dir(&flags, None)?;
    let resolver = Arc::new(flags.auth.resolver(config_dir, Vec::new())?);
    // A base-image config is refused above: no registry is asked.
    let built = build_image(
        &args.config_file,
        &flags,
        crate::registry::Options::default(),
        resolver,
    )?;
    let layer = built
        .images
        .first()
        .and_then(|i| i.layers.last())
        .context("the build produced no layer")?;
    let gz = args.output.to_string_lossy().ends_with(".gz");
    write_rootfs(&args.output, &layer.data, format, gz)
        .with_context(|| format!("writing {}", args.output.display()))?;
    if let Some(dir) = sbom_dir {
        let image = &built.images[0];
        // Named after the rootfs file (`rootfs.tar.gz` → `rootfs`): there is no image name.
        let file = args
            .output
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        let name = file.split('.').next().unwrap_or("minirootfs");
        let doc = crate::image::sbom::image_document(image, &built.contents[0], name)
            .map_err(anyhow::Error::msg)?;
        let path = dir.join(format!("sbom-{}.spdx.json", image.arch.to_apk()));
        output::write_file_atomically(&path, &doc).with_context(|| {
            format!(
                "writing the SBOM to {}; check that the directory is writable",
                dir.display()
            )
        })?;
        tracing::info!("wrote SBOM {}", path.display());
    }
    if format == Format::TarGz {
        tracing::info!(
            "wrote minirootfs {} ({} bytes, {})",
            args.output.display(),
            layer.data.len(),
            layer.descriptor.digest
        );
    } else {
        tracing::info!("wrote cpio archive {}", args.output.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The layer written to `path` as `format`, streamed from where the layer is kept: the
/// `.tar.gz` itself, the plain tar, or a cpio archive (gzipped, at Go's default level as apko,
/// when `gz`); written beside `path` and renamed into place when complete.
fn write_rootfs(
    path: &Path,
    layer: &crate::image::layer::BlobData,
    format: Format,
    gz: bool,
) -> std::io::Result<()> {
    use std::io::Write;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".apko-")
        .suffix(".tmp")
        .tempfile_in(parent)?;
    let mut file = std::io::BufWriter::with_capacity(1 << 20, tmp.as_file());
    let tar = || flate2::read::GzDecoder::new(layer.reader());
    match (format, gz) {
        (Format::TarGz, true) => layer.write_to(&mut file)?,
        (Format::TarGz, false) => {
            std::io::copy(&mut tar(), &mut file)?;
        }
        (Format::Cpio, true) => {
            let mut gz = flate2::write::GzEncoder::new(&mut file, flate2::Compression::new(6));
            crate::image::cpio::from_layer(tar(), &mut gz)?;
            gz.finish()?;
        }
        (Format::Cpio, false) => crate::image::cpio::from_layer(tar(), &mut file)?,
    }
    file.flush()?;
    drop(file);
    tmp.as_file()
        .set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
