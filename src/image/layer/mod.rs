//! A layer: the tree as a tar (its SHA-256 is the diff_id), gzip-compressed on every core (its
//! SHA-256 is the digest).

pub mod gzip;
pub mod tar;

use crate::fs::Tree;
use sha2::{Digest, Sha256};

/// gzip level: apko's (Go's default compression).
pub const LEVEL: u32 = 6;

/// A compressed layer and its two digests.
#[derive(Debug, Clone)]
pub struct Layer {
    /// The `.tar.gz` bytes.
    pub blob: Vec<u8>,
    /// `sha256:` of the uncompressed tar.
    pub diff_id: String,
    /// `sha256:` of `blob`.
    pub digest: String,
}

impl Layer {
    /// Writes `tree` as a layer, compressing with up to `threads` threads.
    pub fn from_tree(tree: &Tree, threads: usize) -> Layer {
        let mut raw = Vec::new();
        tar::write(tree, &mut raw);
        Layer::from_tar(&raw, threads)
    }

    /// Compresses an uncompressed layer tar; hashing runs beside compression.
    pub fn from_tar(raw: &[u8], threads: usize) -> Layer {
        let (diff_id, blob) = std::thread::scope(|s| {
            let h = s.spawn(|| sha256(raw));
            let blob = gzip::compress(raw, LEVEL, threads);
            (h.join().expect("hashing does not panic"), blob)
        });
        let digest = sha256(&blob);
        Layer {
            blob,
            diff_id,
            digest,
        }
    }
}

/// `sha256:<hex>` of `data`.
pub fn sha256(data: &[u8]) -> String {
    let d = Sha256::digest(data);
    let mut s = String::with_capacity(71);
    s.push_str("sha256:");
    for b in d {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// The number of threads to compress with: every core.
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
