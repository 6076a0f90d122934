//! OCI layouts for registry tests: the apko-built two-arch image from the shared test data,
//! and layouts of random layers made on the spot (fresh blobs no registry has seen).

use sha2::Digest as _;
use std::path::{Path, PathBuf};

/// The apko-built two-arch layout in the shared test data (read-only: push it, never write).
pub fn base_image() -> PathBuf {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/testdata/apko-cli/base_image"
    ));
    assert!(
        dir.join("index.json").is_file(),
        "the shared test data is missing: {} (see ../shared/testdata/README.md)",
        dir.display()
    );
    dir.canonicalize().unwrap()
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", sha2::Sha256::digest(bytes))
}

/// A layout written by [`random_layout`].
pub struct RandomLayout {
    /// Its directory.
    pub dir: PathBuf,
    /// `index.json`'s bytes: the image index that gets pushed.
    pub index: Vec<u8>,
    /// Their digest.
    pub index_digest: String,
    /// The linux/amd64 manifest's digest.
    pub manifest_digest: String,
    /// Every blob (config and layers) with its bytes.
    pub blobs: Vec<(String, Vec<u8>)>,
}

/// Writes an OCI layout at `dir`: one linux/amd64 image whose layers are `sizes` bytes of
/// pseudo-random data from `seed` (uncompressed "tar" layers: registries and skopeo do not look
/// inside), and `index.json` an image index listing it.
pub fn random_layout(dir: &Path, sizes: &[usize], seed: u64) -> RandomLayout {
    let blobs_dir = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs_dir).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let mut blobs = Vec::new();
    let mut write = |bytes: Vec<u8>| {
        let digest = sha256(&bytes);
        std::fs::write(blobs_dir.join(&digest[7..]), &bytes).unwrap();
        blobs.push((digest.clone(), bytes));
        digest
    };
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut layers = Vec::new();
    for &size in sizes {
        let mut data = Vec::with_capacity(size + 8);
        while data.len() < size {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            data.extend_from_slice(&x.to_le_bytes());
        }
        data.truncate(size);
        let len = data.len();
        layers.push((write(data), len));
    }
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|(d, _)| d).collect::<Vec<_>>()},
    })
    .to_string()
    .into_bytes();
    let config_len = config.len();
    let config_digest = write(config);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_len},
        "layers": layers.iter().map(|(d, n)| serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": n,
        })).collect::<Vec<_>>(),
    })
    .to_string()
    .into_bytes();
    let manifest_len = manifest.len();
    let manifest_digest = sha256(&manifest);
    std::fs::write(blobs_dir.join(&manifest_digest[7..]), &manifest).unwrap();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest, "size": manifest_len,
            "platform": {"architecture": "amd64", "os": "linux"},
        }],
    })
    .to_string()
    .into_bytes();
    std::fs::write(dir.join("index.json"), &index).unwrap();
    RandomLayout {
        dir: dir.to_path_buf(),
        index_digest: sha256(&index),
        index,
        manifest_digest,
        blobs,
    }
}
