//! A layer: the tree as a tar (its SHA-256 is the diff_id), gzip-compressed on every core (its
//! SHA-256 is the digest). The tar is streamed through the hash and the compressor into an
//! unnamed temporary file ([`Layer::write`]): neither the tar nor the `.tar.gz` is ever whole
//! in memory.

pub mod gzip;
pub mod tar;

use crate::fs::Tree;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::sync::{Arc, OnceLock};

/// gzip level: apko's (Go's default compression).
pub const LEVEL: u32 = 6;

/// A compressed layer and its two digests.
#[derive(Debug, Clone)]
pub struct Layer {
    /// The `.tar.gz` bytes.
    pub blob: BlobData,
    /// `sha256:` of the uncompressed tar.
    pub diff_id: String,
    /// `sha256:` of `blob`.
    pub digest: String,
}

impl Layer {
    /// Writes `tree` as a layer into an unnamed file in [`crate::fs::spill_dir`], compressing
    /// with up to `threads` threads.
    pub fn write(tree: &Tree, threads: usize) -> io::Result<Layer> {
        let (file, _) = crate::fs::temp_file()?;
        let out = HashWriter::new(io::BufWriter::with_capacity(1 << 20, file));
        let (diff_id, out) = compress(threads, out, |w| tar::write_to(tree, w))?;
        let (digest, len, out) = out.finish();
        let file = out.into_inner().map_err(|e| e.into_error())?;
        Ok(Layer {
            blob: BlobData::file(file, len),
            diff_id,
            digest,
        })
    }

    /// Writes `order` (a layering plan's entries; owner names from `tree`) as a layer into
    /// an unnamed file, as [`Layer::write`] does.
    pub fn write_entries(
        tree: &Tree,
        order: &[(&str, &crate::fs::Entry)],
        threads: usize,
    ) -> io::Result<Layer> {
        let (file, _) = crate::fs::temp_file()?;
        let out = HashWriter::new(io::BufWriter::with_capacity(1 << 20, file));
        let (diff_id, out) = compress(threads, out, |w| tar::write_entries(tree, order, w))?;
        let (digest, len, out) = out.finish();
        let file = out.into_inner().map_err(|e| e.into_error())?;
        Ok(Layer {
            blob: BlobData::file(file, len),
            diff_id,
            digest,
        })
    }

    /// Writes `tree` as a layer held in memory (small trees and tests). Panics if a spilled
    /// file cannot be read back.
    pub fn from_tree(tree: &Tree, threads: usize) -> Layer {
        Layer::in_memory(threads, |w| tar::write_to(tree, w))
            .expect("reading the tree's files back")
    }

    /// Compresses an uncompressed layer tar.
    pub fn from_tar(raw: &[u8], threads: usize) -> Layer {
        Layer::in_memory(threads, |w| w.write_all(raw)).expect("writing to memory")
    }

    fn in_memory(
        threads: usize,
        produce: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<Layer> {
        let (diff_id, out) = compress(threads, HashWriter::new(Vec::new()), produce)?;
        let (digest, _, blob) = out.finish();
        Ok(Layer {
            blob: BlobData::from(blob),
            diff_id,
            digest,
        })
    }
}

/// Streams `produce`'s tar through SHA-256 (the diff_id, returned) and the compressor into
/// `out`.
fn compress<W: Write + Send>(
    threads: usize,
    out: HashWriter<W>,
    produce: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<(String, HashWriter<W>)> {
    let mut diff_id = String::new();
    let out = gzip::compress_to(out, LEVEL, threads, |w| {
        let mut raw = HashWriter::new(w);
        produce(&mut raw)?;
        diff_id = raw.finish().0;
        Ok(())
    })?;
    Ok((diff_id, out))
}

/// A writer that hashes and counts what passes through it.
struct HashWriter<W> {
    inner: W,
    hash: Sha256,
    len: u64,
}

impl<W: Write> HashWriter<W> {
    fn new(inner: W) -> HashWriter<W> {
        HashWriter {
            inner,
            hash: Sha256::new(),
            len: 0,
        }
    }

    /// `sha256:<hex>`, the byte count and the inner writer.
    fn finish(self) -> (String, u64, W) {
        (hex_digest(self.hash.finalize()), self.len, self.inner)
    }
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A blob's bytes: in memory (configs, manifests, small layers), or an unnamed temporary file
/// (a built layer), which output streams from. Shared, not copied, when cloned.
#[derive(Clone)]
pub struct BlobData(Arc<BlobRepr>);

enum BlobRepr {
    Memory(Vec<u8>),
    File {
        file: File,
        len: u64,
        /// What [`Deref`](std::ops::Deref) read.
        loaded: OnceLock<Vec<u8>>,
    },
}

impl BlobData {
    /// The first `len` bytes of `file`.
    pub fn file(file: File, len: u64) -> BlobData {
        BlobData(Arc::new(BlobRepr::File {
            file,
            len,
            loaded: OnceLock::new(),
        }))
    }

    /// Its size in bytes (without reading a file).
    pub fn len(&self) -> usize {
        match &*self.0 {
            BlobRepr::Memory(d) => d.len(),
            BlobRepr::File { len, .. } => *len as usize,
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the bytes to `out`, a file's in chunks.
    pub fn write_to(&self, out: &mut dyn Write) -> io::Result<()> {
        let (file, len) = match &*self.0 {
            BlobRepr::Memory(d) => return out.write_all(d),
            BlobRepr::File { file, len, .. } => (file, *len),
        };
        let mut buf = vec![0; (1 << 20).min(len as usize)];
        let mut at = 0;
        while at < len {
            let n = (len - at).min(buf.len() as u64) as usize;
            file.read_exact_at(&mut buf[..n], at)?;
            out.write_all(&buf[..n])?;
            at += n as u64;
        }
        Ok(())
    }
}

impl BlobData {
    /// A reader of the bytes from the start.
    pub fn reader(&self) -> impl io::Read + '_ {
        BlobReader { data: self, at: 0 }
    }
}

struct BlobReader<'a> {
    data: &'a BlobData,
    at: u64,
}

impl io::Read for BlobReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (self.data.len() as u64 - self.at).min(buf.len() as u64) as usize;
        match &*self.data.0 {
            BlobRepr::Memory(d) => {
                buf[..n].copy_from_slice(&d[self.at as usize..self.at as usize + n]);
            }
            BlobRepr::File { file, .. } => file.read_exact_at(&mut buf[..n], self.at)?,
        }
        self.at += n as u64;
        Ok(n)
    }
}

impl From<Vec<u8>> for BlobData {
    fn from(d: Vec<u8>) -> BlobData {
        BlobData(Arc::new(BlobRepr::Memory(d)))
    }
}

impl std::ops::Deref for BlobData {
    type Target = [u8];

    /// The bytes in memory: a file is read once and kept (`build-minirootfs` and
    /// `build-cpio` rework the layer whole). Panics if the file cannot be read back.
    fn deref(&self) -> &[u8] {
        match &*self.0 {
            BlobRepr::Memory(d) => d,
            BlobRepr::File { loaded, .. } => loaded.get_or_init(|| {
                let mut out = Vec::with_capacity(self.len());
                self.write_to(&mut out)
                    .unwrap_or_else(|e| panic!("reading back the layer's temporary file: {e}"));
                out
            }),
        }
    }
}

impl AsRef<[u8]> for BlobData {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl std::fmt::Debug for BlobData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.0 {
            BlobRepr::Memory(d) => write!(f, "BlobData({} bytes in memory)", d.len()),
            BlobRepr::File { len, .. } => write!(f, "BlobData({len} bytes in a file)"),
        }
    }
}

/// `sha256:<hex>` of `data`.
pub fn sha256(data: &[u8]) -> String {
    hex_digest(Sha256::digest(data))
}

fn hex_digest(d: impl AsRef<[u8]>) -> String {
    let mut s = String::with_capacity(71);
    s.push_str("sha256:");
    for b in d.as_ref() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// The number of threads to compress with: every core.
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
