//! Writing the result, as apko does, and only once it is whole:
//!
//! - OUTPUT is an existing directory → an OCI image layout (`oci-layout`, `blobs/sha256/*`,
//!   `index.json` = the image index). Each manifest entry also carries
//!   `org.opencontainers.image.ref.name` = `TAG-ARCH` (the name apko gives the per-arch images
//!   of its tarball), without which skopeo, umoci and podman cannot pick an image from a
//!   multi-arch layout. Everything is staged in a hidden directory inside OUTPUT and moved in
//!   with `index.json` last, so a failed build adds nothing that names an image.
//! - otherwise → a `docker load`-able tarball (`manifest.json`, the config and layer blobs,
//!   each arch tagged `TAG-ARCH`) followed, as apko appends them, by the raw manifests and
//!   `index.json`. Written to a temporary file beside OUTPUT and renamed over it.
//!
//! Layers are streamed from where the build left them (a temporary file), never read whole.

use super::assemble::Image;
use super::layer::BlobData;
use super::layer::tar::{END, file_header, padding};
use super::oci::{self, Index, REF_NAME};
use crate::registry::reference::{DOCKER_HUB, Reference};
use serde::Serialize;
use std::io::{BufWriter, Write};
use std::path::Path;

/// The per-arch name apko tags images with in its tarball: `TAG-ARCH` (`/` → `_`).
pub fn arch_tag(tag: &str, image: &Image) -> String {
    format!("{tag}-{}", image.arch.as_str().replace('/', "_"))
}

fn tag_of(reference: &Reference) -> &str {
    reference.tag.as_deref().unwrap_or("latest")
}

/// Writes the OCI image layout into the existing directory `dir`.
pub fn write_layout(
    dir: &Path,
    images: &[Image],
    index: &Index,
    reference: &Reference,
) -> std::io::Result<()> {
    let staging = tempfile::Builder::new().prefix(".apko-").tempdir_in(dir)?;
    let blobs = staging.path().join("blobs/sha256");
    std::fs::create_dir_all(&blobs)?;
    let mut names = Vec::new();
    for image in images {
        let manifest = BlobData::from(image.manifest.clone());
        let mut all = vec![
            (image.descriptor.digest.as_str(), &manifest),
            (image.config.descriptor.digest.as_str(), &image.config.data),
        ];
        for l in &image.layers {
            all.push((l.descriptor.digest.as_str(), &l.data));
        }
        for (digest, data) in all {
            let hex = digest.trim_start_matches("sha256:");
            if !names.iter().any(|n| n == hex) {
                let mut w =
                    BufWriter::with_capacity(1 << 20, std::fs::File::create(blobs.join(hex))?);
                data.write_to(&mut w)?;
                w.into_inner().map_err(|e| e.into_error())?;
                names.push(hex.to_string());
            }
        }
    }
    let mut index = index.clone();
    for d in &mut index.manifests {
        if let Some(image) = images.iter().find(|i| i.descriptor.digest == d.digest) {
            d.annotations
                .insert(REF_NAME.into(), arch_tag(tag_of(reference), image));
        }
    }
    std::fs::write(staging.path().join("oci-layout"), OCI_LAYOUT)?;
    std::fs::write(staging.path().join("index.json"), oci::to_go_json(&index))?;

    let target = dir.join("blobs/sha256");
    std::fs::create_dir_all(&target)?;
    for hex in &names {
        std::fs::rename(blobs.join(hex), target.join(hex))?;
    }
    std::fs::rename(staging.path().join("oci-layout"), dir.join("oci-layout"))?;
    std::fs::rename(staging.path().join("index.json"), dir.join("index.json"))?;
    Ok(())
}

/// `oci-layout` as apko writes it (go-containerregistry's `layout.Write`: indented, no
/// final newline).
pub const OCI_LAYOUT: &[u8] = b"{\n    \"imageLayoutVersion\": \"1.0.0\"\n}";

#[derive(Serialize)]
#[allow(non_snake_case)]
struct TarManifest {
    Config: String,
    RepoTags: Vec<String>,
    Layers: Vec<String>,
}

/// The repository name go-containerregistry writes in `RepoTags` (Docker Hub spelled
/// `index.docker.io`, official images under `library/`).
fn repo_name(reference: &Reference) -> String {
    let registry = if reference.registry == DOCKER_HUB {
        "index.docker.io"
    } else {
        &reference.registry
    };
    format!("{registry}/{}", reference.repository)
}

/// Writes `data` to `path` whole or not at all: a temporary file beside it (mode 0644, synced)
/// renamed over it.
pub fn write_file_atomically(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".apko-")
        .suffix(".tmp")
        .tempfile_in(parent)?;
    tmp.write_all(data)?;
    tmp.as_file()
        .set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Writes the docker tarball to `path` (a new file, or replacing a file).
pub fn write_tarball(
    path: &Path,
    images: &[Image],
    index_json: &[u8],
    reference: &Reference,
) -> std::io::Result<()> {
    write_tarball_tagged(path, images, index_json, reference, false)
}

/// [`write_tarball`]; `exact` tags each image `reference` itself rather than `TAG-ARCH` (one
/// image, for a daemon to load under that name).
pub fn write_tarball_tagged(
    path: &Path,
    images: &[Image],
    index_json: &[u8],
    reference: &Reference,
    exact: bool,
) -> std::io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".apko-")
        .suffix(".tar.tmp")
        .tempfile_in(parent)?;
    let mut w = BufWriter::with_capacity(1 << 20, tmp.as_file());
    let entry = |w: &mut BufWriter<_>, name: &str, data: &[u8]| -> std::io::Result<()> {
        w.write_all(&file_header(name, data.len() as u64))?;
        w.write_all(data)?;
        w.write_all(padding(data.len() as u64))
    };
    let blob = |w: &mut BufWriter<_>, name: &str, data: &BlobData| -> std::io::Result<()> {
        w.write_all(&file_header(name, data.len() as u64))?;
        data.write_to(w)?;
        w.write_all(padding(data.len() as u64))
    };

    let mut written: Vec<&str> = Vec::new();
    let mut manifest = Vec::new();
    for image in images {
        blob(&mut w, &image.config.descriptor.digest, &image.config.data)?;
        let mut files = Vec::new();
        for l in &image.layers {
            let name = format!(
                "{}.tar.gz",
                l.descriptor.digest.trim_start_matches("sha256:")
            );
            if !written.contains(&l.descriptor.digest.as_str()) {
                blob(&mut w, &name, &l.data)?;
                written.push(&l.descriptor.digest);
            }
            files.push(name);
        }
        manifest.push(TarManifest {
            Config: image.config.descriptor.digest.clone(),
            RepoTags: vec![if exact {
                format!("{}:{}", repo_name(reference), tag_of(reference))
            } else {
                format!(
                    "{}:{}",
                    repo_name(reference),
                    arch_tag(tag_of(reference), image)
                )
            }],
            Layers: files,
        });
    }
    manifest.sort_by_key(|m| m.RepoTags.join(","));
    entry(&mut w, "manifest.json", &oci::to_go_json(&manifest))?;
    for image in images {
        entry(&mut w, &image.descriptor.digest, &image.manifest)?;
    }
    entry(&mut w, "index.json", index_json)?;
    w.write_all(&END)?;
    w.flush()?;
    drop(w);
    // a temporary file is private (0600); the image is an ordinary file, as apko writes it
    tmp.as_file()
        .set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
