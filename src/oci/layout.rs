//! OCI image layouts on disk (image-spec `image-layout.md`): what `apko build` writes and
//! `contents.baseimage` reads, the source of `push` and the destination of `pull`. The one
//! reader: every blob read is checked against its digest, and an image is found for a
//! platform by [`Platform::matches`] only.

use super::descriptor::Descriptor;
use super::digest::Digest;
use super::manifest::{self, ManifestError, Parsed};
use super::media::{INDEX_MEDIA_TYPE, is_index};
use super::platform::Platform;
use bytes::Bytes;
use std::path::{Path, PathBuf};

/// The `oci-layout` file's content.
pub const OCI_LAYOUT: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;

/// What went wrong with a layout; each names the layout (or file) and what to do.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    /// The directory lacks `oci-layout` or `index.json`.
    #[error(
        "{} is not an OCI image layout: it has no {missing} (build one with `apko build CONFIG TAG DIR/`)",
        dir.display()
    )]
    NotALayout {
        /// The directory.
        dir: PathBuf,
        /// `oci-layout` or `index.json`.
        missing: &'static str,
    },
    /// A blob a descriptor names is not there.
    #[error("layout {} is missing blob {digest} ({}: {source})", dir.display(), path.display())]
    MissingBlob {
        /// The layout.
        dir: PathBuf,
        /// The blob.
        digest: String,
        /// Where it should be.
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// A blob whose content does not hash to its name.
    #[error("layout {}: blob {digest} does not match its digest (the file is corrupt)", dir.display())]
    Corrupt {
        /// The layout.
        dir: PathBuf,
        /// The blob.
        digest: String,
    },
    /// A blob whose size is not its descriptor's.
    #[error("layout {}: blob {digest} has {actual} bytes, its descriptor says {expected}", dir.display())]
    Size {
        /// The layout.
        dir: PathBuf,
        /// The blob.
        digest: String,
        /// On disk.
        actual: u64,
        /// In the descriptor.
        expected: u64,
    },
    /// `index.json` is not an index.
    #[error("{}: {source}", path.display())]
    InvalidIndexJson {
        /// `…/index.json`.
        path: PathBuf,
        /// Why.
        source: ManifestError,
    },
    /// A manifest or index blob that cannot be read as one.
    #[error("layout {}: {digest} {source}", dir.display())]
    Invalid {
        /// The layout.
        dir: PathBuf,
        /// The blob.
        digest: String,
        /// Why.
        source: ManifestError,
    },
    /// A descriptor's digest that is not one (only for descriptors built in memory).
    #[error("layout {}: {source}", dir.display())]
    BadDigest {
        /// The layout.
        dir: PathBuf,
        /// Why.
        source: super::digest::DigestError,
    },
    /// Reading, creating or writing a file failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// `read`, `create`, `write`.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// A layout directory.
#[derive(Debug, Clone)]
pub struct Layout {
    dir: PathBuf,
}

/// A manifest or index read from a layout, digest checked.
#[derive(Debug, Clone)]
pub struct Node {
    /// Its exact bytes.
    pub bytes: Bytes,
    /// Its media type.
    pub media_type: String,
    /// Its digest.
    pub digest: Digest,
    /// Parsed.
    pub parsed: Parsed,
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> LayoutError + 'a {
    move |source| LayoutError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

impl Layout {
    /// An existing layout: `oci-layout` and `index.json` must be there.
    pub fn open(dir: &Path) -> Result<Layout, LayoutError> {
        for missing in ["oci-layout", "index.json"] {
            if !dir.join(missing).is_file() {
                return Err(LayoutError::NotALayout {
                    dir: dir.to_path_buf(),
                    missing,
                });
            }
        }
        Ok(Layout {
            dir: dir.to_path_buf(),
        })
    }

    /// Creates `dir` (and its `oci-layout` and `blobs/sha256`) if needed.
    pub fn create(dir: &Path) -> Result<Layout, LayoutError> {
        std::fs::create_dir_all(dir.join("blobs/sha256")).map_err(io("create", dir))?;
        std::fs::write(dir.join("oci-layout"), OCI_LAYOUT).map_err(io("create", dir))?;
        Ok(Layout {
            dir: dir.to_path_buf(),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where a blob lives.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dir
            .join("blobs")
            .join(digest.algorithm_name())
            .join(digest.hex())
    }

    /// A blob's bytes, checked against its digest.
    pub fn read_blob(&self, digest: &Digest) -> Result<Bytes, LayoutError> {
        let path = self.blob_path(digest);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(source) => {
                return Err(LayoutError::MissingBlob {
                    dir: self.dir.clone(),
                    digest: digest.to_string(),
                    path,
                    source,
                });
            }
        };
        if !digest.matches(&bytes) {
            return Err(LayoutError::Corrupt {
                dir: self.dir.clone(),
                digest: digest.to_string(),
            });
        }
        Ok(bytes.into())
    }

    fn digest_of(&self, desc: &Descriptor) -> Result<Digest, LayoutError> {
        desc.checked_digest()
            .map_err(|source| LayoutError::BadDigest {
                dir: self.dir.clone(),
                source,
            })
    }

    /// Checks that the blob of `desc` is present with the right size (its content is checked
    /// by the registry on upload).
    pub fn check_blob(&self, desc: &Descriptor) -> Result<PathBuf, LayoutError> {
        let path = self.blob_path(&self.digest_of(desc)?);
        match std::fs::metadata(&path) {
            Ok(m) if m.len() == desc.size => Ok(path),
            Ok(m) => Err(LayoutError::Size {
                dir: self.dir.clone(),
                digest: desc.digest.clone(),
                actual: m.len(),
                expected: desc.size,
            }),
            Err(source) => Err(LayoutError::MissingBlob {
                dir: self.dir.clone(),
                digest: desc.digest.clone(),
                path,
                source,
            }),
        }
    }

    /// Writes a blob (atomically, through a temporary file) unless it is already there.
    pub fn write_blob(&self, digest: &Digest, bytes: &[u8]) -> Result<(), LayoutError> {
        let path = self.blob_path(digest);
        if std::fs::read(&path).is_ok_and(|b| b == bytes) {
            return Ok(());
        }
        write_atomic(&path, bytes)
    }

    /// Replaces `index.json`.
    pub fn write_index(&self, bytes: &[u8]) -> Result<(), LayoutError> {
        write_atomic(&self.dir.join("index.json"), bytes)
    }

    /// The image the layout holds: `index.json` itself, or, when it has exactly one entry
    /// and that entry is an index (as `skopeo copy` writes), that index.
    pub fn root(&self) -> Result<Node, LayoutError> {
        let path = self.dir.join("index.json");
        let bytes: Bytes = std::fs::read(&path).map_err(io("read", &path))?.into();
        let index = match manifest::parse(&bytes, INDEX_MEDIA_TYPE) {
            Ok(Parsed::Index(i)) => i,
            Ok(_) => unreachable!("parsed as an index"),
            Err(source) => return Err(LayoutError::InvalidIndexJson { path, source }),
        };
        if let [only] = index.manifests.as_slice()
            && is_index(&only.media_type)
        {
            return self.node(only);
        }
        let media_type = if index.media_type.is_empty() {
            INDEX_MEDIA_TYPE.to_string()
        } else {
            index.media_type.clone()
        };
        Ok(Node {
            digest: Digest::sha256(&bytes),
            bytes,
            media_type,
            parsed: Parsed::Index(index),
        })
    }

    /// The manifest or index `desc` points at.
    pub fn node(&self, desc: &Descriptor) -> Result<Node, LayoutError> {
        let digest = self.digest_of(desc)?;
        let bytes = self.read_blob(&digest)?;
        let parsed =
            manifest::parse(&bytes, &desc.media_type).map_err(|source| LayoutError::Invalid {
                dir: self.dir.clone(),
                digest: desc.digest.clone(),
                source,
            })?;
        Ok(Node {
            bytes,
            media_type: desc.media_type.clone(),
            digest,
            parsed,
        })
    }

    /// The descriptor of the image manifest for `platform`, looking into nested indexes too
    /// (depth first, in order: the first match wins, as go-containerregistry picks).
    pub fn image_for(&self, platform: &Platform) -> Result<Option<Descriptor>, LayoutError> {
        fn walk(
            layout: &Layout,
            node: &Node,
            platform: &Platform,
            depth: usize,
        ) -> Result<Option<Descriptor>, LayoutError> {
            let Parsed::Index(index) = &node.parsed else {
                return Ok(None);
            };
            for d in &index.manifests {
                if is_index(&d.media_type) {
                    // A layout is local and written by tools, but a cycle would still be a
                    // hash collision away; the bound costs nothing.
                    if depth < 8
                        && let Some(found) = walk(layout, &layout.node(d)?, platform, depth + 1)?
                    {
                        return Ok(Some(found));
                    }
                } else if d.platform.as_ref().is_some_and(|p| platform.matches(p)) {
                    return Ok(Some(d.clone()));
                }
            }
            Ok(None)
        }
        walk(self, &self.root()?, platform, 0)
    }
}

/// Writes through a temporary file in the same directory, then renames.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), LayoutError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io("write", path))?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(io("write", path))?;
    tmp.as_file()
        .set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .map_err(io("write", path))?;
    tmp.persist(path).map_err(|e| io("write", path)(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::{Index, MANIFEST_MEDIA_TYPE, to_go_json};

    #[test]
    fn finds_an_image_by_platform_in_nested_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path()).unwrap();
        let entry = |arch: &str, variant: &str| Descriptor {
            platform: Some(Platform {
                os: "linux".into(),
                architecture: arch.into(),
                variant: variant.into(),
            }),
            ..Descriptor::new(MANIFEST_MEDIA_TYPE, &Digest::sha256(arch.as_bytes()), 1)
        };
        let nested = to_go_json(&Index {
            schema_version: 2,
            media_type: INDEX_MEDIA_TYPE.into(),
            manifests: vec![entry("amd64", ""), entry("arm", "v7")],
            ..Index::default()
        });
        let nested_digest = Digest::sha256(&nested);
        layout.write_blob(&nested_digest, &nested).unwrap();
        let top = Index {
            schema_version: 2,
            media_type: INDEX_MEDIA_TYPE.into(),
            manifests: vec![
                entry("arm64", ""),
                Descriptor::new(INDEX_MEDIA_TYPE, &nested_digest, nested.len() as u64),
            ],
            ..Index::default()
        };
        layout.write_index(&to_go_json(&top)).unwrap();
        let find = |p: &str| {
            layout
                .image_for(&Platform::parse(p).unwrap())
                .unwrap()
                .and_then(|d| d.platform)
                .map(|p| p.to_string())
        };
        assert_eq!(find("linux/arm64/v8").as_deref(), Some("linux/arm64"));
        assert_eq!(find("linux/arm/v7").as_deref(), Some("linux/arm/v7"));
        assert_eq!(find("linux/x86_64").as_deref(), Some("linux/amd64"));
        assert_eq!(find("linux/arm/v6"), None);

        std::fs::remove_file(layout.blob_path(&nested_digest)).unwrap();
        let err = layout
            .image_for(&Platform::parse("linux/s390x").unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("is missing blob"), "{err}");
    }
}
