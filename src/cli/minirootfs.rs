//! `apko build-minirootfs CONFIG OUTPUT.tar.gz`: the image's root filesystem for one
//! architecture as a gzipped tar (the layer `apko build` writes, byte for byte), for
//! chroots, WSL or `docker import`.

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
    /// The `.tar.gz` to write.
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

/// Runs `apko build-minirootfs`.
pub fn run(args: MinirootfsArgs, config_dir: Option<&Path>) -> anyhow::Result<ExitCode> {
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
    output::write_file_atomically(&args.output, &layer.data)
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
    tracing::info!(
        "wrote minirootfs {} ({} bytes, {})",
        args.output.display(),
        layer.data.len(),
        layer.descriptor.digest
    );
    Ok(ExitCode::SUCCESS)
}
