//! OCI image layouts on disk (image-spec `image-layout.md`): what `apko build` writes and
//! `contents.baseimage` reads, the source of `push` and the destination of `pull`.

use super::digest::Digest;
use super::error::Error;
use super::manifest::{self, Descriptor, Parsed};
use bytes::Bytes;
use std::path::{Path, PathBuf};

/// The `oci-layout` file's content.
pub const OCI_LAYOUT: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;

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

impl Layout {
    /// An existing layout: `oci-layout` and `index.json` must be there.
    pub fn open(dir: &Path) -> Result<Layout, Error> {
        for file in ["oci-layout", "index.json"] {
            if !dir.join(file).is_file() {
                return Err(Error::Other(format!(
                    "{} is not an OCI image layout: it has no {file} (build one with `apko build CONFIG TAG DIR/`)",
                    dir.display()
                )));
            }
        }
        Ok(Layout {
            dir: dir.to_path_buf(),
        })
    }

    /// Creates `dir` (and its `oci-layout` and `blobs/sha256`) if needed.
    pub fn create(dir: &Path) -> Result<Layout, Error> {
        let io = |e: std::io::Error| Error::Other(format!("cannot create {}: {e}", dir.display()));
        std::fs::create_dir_all(dir.join("blobs/sha256")).map_err(io)?;
        std::fs::write(dir.join("oci-layout"), OCI_LAYOUT).map_err(io)?;
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
    pub fn read_blob(&self, digest: &Digest) -> Result<Bytes, Error> {
        let path = self.blob_path(digest);
        let bytes = std::fs::read(&path).map_err(|e| {
            Error::Other(format!(
                "layout {} is missing blob {digest} ({}: {e})",
                self.dir.display(),
                path.display()
            ))
        })?;
        if !digest.matches(&bytes) {
            return Err(Error::Other(format!(
                "layout {}: blob {digest} does not match its digest (the file is corrupt)",
                self.dir.display()
            )));
        }
        Ok(bytes.into())
    }

    /// Checks that the blob of `desc` is present with the right size (its content is checked
    /// by the registry on upload).
    pub fn check_blob(&self, desc: &Descriptor) -> Result<PathBuf, Error> {
        let path = self.blob_path(&desc.digest);
        match std::fs::metadata(&path) {
            Ok(m) if m.len() == desc.size => Ok(path),
            Ok(m) => Err(Error::Other(format!(
                "layout {}: blob {} has {} bytes, its descriptor says {}",
                self.dir.display(),
                desc.digest,
                m.len(),
                desc.size
            ))),
            Err(e) => Err(Error::Other(format!(
                "layout {} is missing blob {} ({}: {e})",
                self.dir.display(),
                desc.digest,
                path.display()
            ))),
        }
    }

    /// Writes a blob (atomically, through a temporary file) unless it is already there.
    pub fn write_blob(&self, digest: &Digest, bytes: &[u8]) -> Result<(), Error> {
        let path = self.blob_path(digest);
        if std::fs::read(&path).is_ok_and(|b| b == bytes) {
            return Ok(());
        }
        write_atomic(&path, bytes)
    }

    /// Replaces `index.json`.
    pub fn write_index(&self, bytes: &[u8]) -> Result<(), Error> {
        write_atomic(&self.dir.join("index.json"), bytes)
    }

    /// The image the layout holds: `index.json` itself, or, when it has exactly one entry
    /// and that entry is an index (as `skopeo copy` writes), that index.
    pub fn root(&self) -> Result<Node, Error> {
        let path = self.dir.join("index.json");
        let bytes: Bytes = std::fs::read(&path)
            .map_err(|e| Error::Other(format!("cannot read {}: {e}", path.display())))?
            .into();
        let index = match manifest::parse(&bytes, manifest::OCI_INDEX) {
            Ok(Parsed::Index(i)) => i,
            Ok(_) => unreachable!("parsed as an index"),
            Err(why) => return Err(Error::Other(format!("{}: {why}", path.display()))),
        };
        if let [only] = index.manifests.as_slice()
            && manifest::is_index(&only.media_type)
        {
            return self.node(only);
        }
        let media_type = index
            .media_type
            .clone()
            .unwrap_or_else(|| manifest::OCI_INDEX.to_string());
        Ok(Node {
            digest: Digest::sha256(&bytes),
            bytes,
            media_type,
            parsed: Parsed::Index(index),
        })
    }

    /// The manifest or index `desc` points at.
    pub fn node(&self, desc: &Descriptor) -> Result<Node, Error> {
        let bytes = self.read_blob(&desc.digest)?;
        let parsed = manifest::parse(&bytes, &desc.media_type).map_err(|why| {
            Error::Other(format!(
                "layout {}: {} {why}",
                self.dir.display(),
                desc.digest
            ))
        })?;
        Ok(Node {
            bytes,
            media_type: desc.media_type.clone(),
            digest: desc.digest.clone(),
            parsed,
        })
    }
}

/// Writes through a temporary file in the same directory, then renames.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let io = |e: std::io::Error| Error::Other(format!("cannot write {}: {e}", path.display()));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(io)?;
    tmp.as_file()
        .set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}
