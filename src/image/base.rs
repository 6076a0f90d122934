//! `contents.baseimage`: a local OCI layout (as apko writes one) whose image for the build's
//! architecture is the bottom of the new image. Its layers are kept as they are (same blobs,
//! same digests) and also unpacked into the tree, so packages install on top of what the base
//! holds and the new layer carries only what changed.

use super::config::Arch;
use super::layer::BlobData;
use super::oci::{self, ConfigFile, Descriptor, Index, Manifest};
use crate::fs::{Content, CopyError, Entry, Kind, Spill, Tree, normalize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a base image could not be used.
#[derive(Debug, thiserror::Error)]
#[error("base image {layout}: {why}")]
pub struct BaseError {
    layout: String,
    why: String,
}

/// One base layer, kept byte for byte.
#[derive(Debug, Clone)]
pub struct BaseLayer {
    /// The blob as stored in the layout.
    pub blob: BlobData,
    /// Its descriptor in the base manifest.
    pub descriptor: Descriptor,
    /// Its diff_id from the base config.
    pub diff_id: String,
}

/// The base image for one architecture.
#[derive(Debug, Clone)]
pub struct BaseImage {
    /// Its config (run settings and history are inherited).
    pub config: ConfigFile,
    /// Its layers, bottom first.
    pub layers: Vec<BaseLayer>,
}

impl BaseImage {
    /// Opens the image for `arch` in the layout at `dir`.
    pub fn open(dir: &Path, arch: &Arch) -> Result<BaseImage, BaseError> {
        let err = |why: String| BaseError {
            layout: dir.display().to_string(),
            why,
        };
        let blob_path = |digest: &str| -> Result<PathBuf, BaseError> {
            let hex = digest
                .strip_prefix("sha256:")
                .filter(|h| h.len() == 64 && h.bytes().all(|c| c.is_ascii_hexdigit()))
                .ok_or_else(|| err(format!("unsupported digest {digest:?}")))?;
            Ok(dir.join("blobs/sha256").join(hex))
        };
        // A layer is copied, hashed on the way, into an unnamed temporary file: what is
        // checked is what is used, and it is never whole in memory.
        let read_layer = |digest: &str| -> Result<BlobData, BaseError> {
            let path = blob_path(digest)?;
            let copy = || -> std::io::Result<(String, BlobData)> {
                let mut from = std::fs::File::open(&path)?;
                let (file, _) = crate::fs::temp_file()?;
                let mut to = HashTee {
                    hash: Sha256::new(),
                    out: std::io::BufWriter::with_capacity(1 << 20, file),
                };
                let len = std::io::copy(&mut from, &mut to)?;
                let file = to.out.into_inner().map_err(|e| e.into_error())?;
                let got = format!("sha256:{}", hex::encode(to.hash.finalize()));
                Ok((got, BlobData::file(file, len)))
            };
            let (got, blob) =
                copy().map_err(|e| err(format!("cannot read {}: {e}", path.display())))?;
            if got != digest {
                return Err(err(format!("blob {digest} does not match its digest")));
            }
            Ok(blob)
        };
        let read = |digest: &str| -> Result<Vec<u8>, BaseError> {
            let path = blob_path(digest)?;
            let data = std::fs::read(&path)
                .map_err(|e| err(format!("cannot read {}: {e}", path.display())))?;
            if super::layer::sha256(&data) != digest {
                return Err(err(format!("blob {digest} does not match its digest")));
            }
            Ok(data)
        };
        fn json<T: serde::de::DeserializeOwned>(data: &[u8], what: &str) -> Result<T, String> {
            serde_json::from_slice(data).map_err(|e| format!("invalid {what}: {e}"))
        }
        let index_path = dir.join("index.json");
        let index: Index = json(
            &std::fs::read(&index_path)
                .map_err(|e| err(format!("cannot read {}: {e}", index_path.display())))?,
            "index.json",
        )
        .map_err(err)?;
        let (want_arch, want_variant) = arch.oci_platform();
        let desc = find_manifest(&index, want_arch, want_variant, &read, &|d| {
            json::<Index>(d, "index").map_err(err)
        })?
        .ok_or_else(|| err(format!("no image for architecture {arch}")))?;
        let manifest: Manifest = json(&read(&desc.digest)?, "manifest").map_err(err)?;
        let config: ConfigFile = json(&read(&manifest.config.digest)?, "config").map_err(err)?;
        if config.rootfs.diff_ids.len() != manifest.layers.len() {
            return Err(err("config and manifest disagree on the layers".into()));
        }
        let layers = manifest
            .layers
            .iter()
            .zip(&config.rootfs.diff_ids)
            .map(|(d, diff_id)| {
                Ok(BaseLayer {
                    blob: read_layer(&d.digest)?,
                    descriptor: d.clone(),
                    diff_id: diff_id.clone(),
                })
            })
            .collect::<Result<_, BaseError>>()?;
        Ok(BaseImage { config, layers })
    }

    /// Unpacks every layer, bottom first, into `tree` (whiteouts applied). Each layer is
    /// inflated twice, streamed: once to check its diff_id, then to unpack it, its files
    /// going to the build's spill file.
    pub fn unpack(&self, tree: &mut Tree) -> Result<(), String> {
        let spill = Spill::shared().map_err(|e| e.to_string())?;
        for l in &self.layers {
            let what = |e: std::io::Error| format!("layer {}: {e}", l.descriptor.digest);
            let mut hash = Sha256::new();
            std::io::copy(&mut self.layer_tar(l), &mut HashSink(&mut hash)).map_err(what)?;
            let raw_digest = format!("sha256:{}", hex::encode(hash.finalize()));
            if raw_digest != l.diff_id {
                return Err(format!(
                    "layer {} does not match its diff_id {}",
                    l.descriptor.digest, l.diff_id
                ));
            }
            unpack_from(self.layer_tar(l), tree, &spill).map_err(what)?;
        }
        Ok(())
    }

    /// The uncompressed tar of layer `l`.
    fn layer_tar<'a>(&self, l: &'a BaseLayer) -> Box<dyn Read + 'a> {
        let raw = std::io::BufReader::with_capacity(1 << 16, l.blob.reader());
        if l.descriptor.media_type.ends_with("gzip") {
            Box::new(flate2::bufread::GzDecoder::new(raw))
        } else {
            Box::new(raw)
        }
    }
}

/// Hashes what it writes to `out`.
struct HashTee<W> {
    hash: Sha256,
    out: W,
}

impl<W: std::io::Write> std::io::Write for HashTee<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Feeds a hash.
struct HashSink<'a>(&'a mut Sha256);

impl std::io::Write for HashSink<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

type ReadBlob<'a> = dyn Fn(&str) -> Result<Vec<u8>, BaseError> + 'a;

/// The manifest for a platform, looking into nested indexes too.
fn find_manifest(
    index: &Index,
    arch: &str,
    variant: Option<&str>,
    read: &ReadBlob<'_>,
    parse_index: &dyn Fn(&[u8]) -> Result<Index, BaseError>,
) -> Result<Option<Descriptor>, BaseError> {
    for d in &index.manifests {
        if d.media_type == oci::INDEX_MEDIA_TYPE {
            let nested = parse_index(&read(&d.digest)?)?;
            if let Some(found) = find_manifest(&nested, arch, variant, read, parse_index)? {
                return Ok(Some(found));
            }
        } else if let Some(p) = &d.platform
            && p.architecture == arch
            && (variant.is_none() || p.variant == variant.unwrap_or_default())
        {
            return Ok(Some(d.clone()));
        }
    }
    Ok(None)
}

/// Applies one uncompressed layer tar to `tree`, honouring OCI whiteouts.
pub fn unpack_tar(raw: &[u8], tree: &mut Tree) -> std::io::Result<()> {
    unpack_from(raw, tree, &Spill::shared()?)
}

/// [`unpack_tar`] from a reader, files larger than a few bytes going to `spill`.
fn unpack_from(raw: impl Read, tree: &mut Tree, spill: &Arc<Spill>) -> std::io::Result<()> {
    let mut archive = tar::Archive::new(raw);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        let path = normalize(&path).map_err(std::io::Error::other)?;
        let (dir, name) = match path.rfind('/') {
            Some(i) => (&path[..i], &path[i + 1..]),
            None => ("", path.as_str()),
        };
        if name == ".wh..wh..opq" {
            let prefix = if dir.is_empty() {
                String::new()
            } else {
                format!("{dir}/")
            };
            let below: Vec<String> = tree
                .iter()
                .map(|(p, _)| p)
                .filter(|p| p.starts_with(&prefix) && *p != dir)
                .map(str::to_string)
                .collect();
            for p in below {
                tree.remove(&p);
            }
            continue;
        }
        if let Some(hidden) = name.strip_prefix(".wh.") {
            tree.remove(&if dir.is_empty() {
                hidden.to_string()
            } else {
                format!("{dir}/{hidden}")
            });
            continue;
        }
        let header = entry.header().clone();
        let link_name = entry
            .link_name()?
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let link = || -> std::io::Result<String> { Ok(link_name.clone()) };
        let kind = match header.entry_type() {
            tar::EntryType::Directory => Kind::Dir,
            tar::EntryType::Symlink => Kind::Symlink(link()?),
            tar::EntryType::Link => {
                Kind::Hardlink(normalize(&link()?).map_err(std::io::Error::other)?)
            }
            tar::EntryType::Char => Kind::CharDevice(
                header.device_major()?.unwrap_or(0),
                header.device_minor()?.unwrap_or(0),
            ),
            tar::EntryType::Block => Kind::BlockDevice(
                header.device_major()?.unwrap_or(0),
                header.device_minor()?.unwrap_or(0),
            ),
            tar::EntryType::Fifo => Kind::Fifo,
            tar::EntryType::Regular | tar::EntryType::Continuous => Kind::File(
                Content::from_reader(&mut entry, spill).map_err(|e| match e {
                    CopyError::Read(e) | CopyError::Write(e) => e,
                })?,
            ),
            _ => continue,
        };
        let mut xattrs = BTreeMap::new();
        if let Some(exts) = entry.pax_extensions()? {
            for ext in exts {
                let ext = ext?;
                if let Some(k) = ext.key().ok().and_then(|k| k.strip_prefix("SCHILY.xattr.")) {
                    xattrs.insert(k.to_string(), ext.value_bytes().to_vec());
                }
            }
        }
        let e = Entry {
            kind,
            mode: header.mode()? & 0o7777,
            uid: header.uid()? as u32,
            gid: header.gid()? as u32,
            mtime: header.mtime()?,
            xattrs,
        };
        // A directory over an existing directory keeps what is below it.
        tree.insert(&path, e).map_err(std::io::Error::other)?;
    }
    Ok(())
}
