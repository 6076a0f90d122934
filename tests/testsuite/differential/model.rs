//! The model of what a builder produced: an OCI layout's index, manifests, configs and
//! layers (each tar entry's header fields and content digest), a docker tarball's entries,
//! `manifest.json` and `index.json`, and the SBOMs.

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// What one builder produced for one case.
pub(crate) struct Outcome {
    pub(crate) status: i32,
    pub(crate) stderr: String,
    pub(crate) layout: Option<Layout>,
    pub(crate) tarball: Option<Tarball>,
    pub(crate) sboms: BTreeMap<String, Value>,
}

/// One tar entry of a layer.
#[derive(Clone)]
pub(crate) struct Entry {
    /// The name as written (`etc/`, `./bin`…).
    pub(crate) raw: String,
    pub(crate) fields: BTreeMap<&'static str, String>,
    /// The text of an installed database, compared record by record.
    pub(crate) installed: Option<String>,
}

pub(crate) struct Image {
    pub(crate) arch: String,
    pub(crate) manifest: Value,
    pub(crate) config: Value,
    pub(crate) layers: Vec<Vec<Entry>>,
}

pub(crate) struct Layout {
    pub(crate) index: Value,
    pub(crate) oci_layout: String,
    pub(crate) images: Vec<Image>,
    /// Blob symbol (`manifest@x86_64`, `layer@x86_64#0`, `diffid@…`) to (digest, size).
    pub(crate) blobs: BTreeMap<String, (String, u64)>,
    /// Digest hex to blob symbol.
    pub(crate) names: BTreeMap<String, String>,
}

pub(crate) struct Tarball {
    /// Entry names with digests replaced by symbols, and each entry's mode.
    pub(crate) entries: Vec<(String, String)>,
    pub(crate) manifest: Value,
    pub(crate) index: Option<Value>,
    /// The digest hex of its `index.json`.
    pub(crate) index_sha: Option<String>,
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// apk name of an OCI platform.
pub(crate) fn apk_arch(platform: &Value) -> String {
    let arch = platform["architecture"].as_str().unwrap_or("?");
    let variant = platform["variant"].as_str().unwrap_or("");
    match (arch, variant) {
        ("amd64", _) => "x86_64",
        ("arm64", _) => "aarch64",
        ("arm", "v6") => "armhf",
        ("arm", _) => "armv7",
        ("386", _) => "x86",
        ("loong64", _) => "loongarch64",
        (other, _) => other,
    }
    .to_string()
}

/// `layer@x86_64` for an image's first layer, `layer@x86_64#1`… for the others.
pub(crate) fn layer_symbol(kind: &str, arch: &str, i: usize) -> String {
    if i == 0 {
        format!("{kind}@{arch}")
    } else {
        format!("{kind}@{arch}#{i}")
    }
}

pub(crate) fn read_layout(dir: &Path) -> Layout {
    let blob = |digest: &str| {
        let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
        std::fs::read(dir.join("blobs/sha256").join(hex))
            .unwrap_or_else(|e| panic!("{} blob {digest}: {e}", dir.display()))
    };
    let index_bytes = std::fs::read(dir.join("index.json")).unwrap();
    let index: Value = serde_json::from_slice(&index_bytes).unwrap();
    let mut blobs = BTreeMap::new();
    let mut names = BTreeMap::new();
    let mut note = |symbol: String, digest: &str, size: u64| {
        let hex = digest.trim_start_matches("sha256:").to_string();
        names.entry(hex.clone()).or_insert_with(|| symbol.clone());
        blobs.insert(symbol, (hex, size));
    };
    note(
        "index.json".into(),
        &sha256_hex(&index_bytes),
        index_bytes.len() as u64,
    );
    let mut images = Vec::new();
    for m in index["manifests"].as_array().cloned().unwrap_or_default() {
        let arch = apk_arch(&m["platform"]);
        let digest = m["digest"].as_str().unwrap();
        let raw = blob(digest);
        note(format!("manifest@{arch}"), digest, raw.len() as u64);
        let manifest: Value = serde_json::from_slice(&raw).unwrap();
        let config_digest = manifest["config"]["digest"].as_str().unwrap();
        let config_raw = blob(config_digest);
        note(
            format!("config@{arch}"),
            config_digest,
            config_raw.len() as u64,
        );
        let config: Value = serde_json::from_slice(&config_raw).unwrap();
        let mut layers = Vec::new();
        for (i, l) in manifest["layers"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let digest = l["digest"].as_str().unwrap();
            let compressed = blob(digest);
            note(
                layer_symbol("layer", &arch, i),
                digest,
                compressed.len() as u64,
            );
            let mut tar = Vec::new();
            flate2::read::MultiGzDecoder::new(&compressed[..])
                .read_to_end(&mut tar)
                .unwrap();
            note(
                layer_symbol("diffid", &arch, i),
                &sha256_hex(&tar),
                tar.len() as u64,
            );
            layers.push(read_layer(&tar));
        }
        images.push(Image {
            arch,
            manifest,
            config,
            layers,
        });
    }
    Layout {
        index,
        oci_layout: std::fs::read_to_string(dir.join("oci-layout")).unwrap_or_default(),
        images,
        blobs,
        names,
    }
}

pub(crate) fn read_layer(tar_bytes: &[u8]) -> Vec<Entry> {
    let mut archive = tar::Archive::new(tar_bytes);
    let mut entries = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let header = entry.header().clone();
        let mut fields = BTreeMap::new();
        let kind = match header.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => "file".to_string(),
            tar::EntryType::Directory => "dir".into(),
            tar::EntryType::Symlink => "symlink".into(),
            tar::EntryType::Link => "hardlink".into(),
            tar::EntryType::Char => "char".into(),
            tar::EntryType::Block => "block".into(),
            tar::EntryType::Fifo => "fifo".into(),
            other => format!("{other:?}"),
        };
        fields.insert("type", kind);
        fields.insert("mode", format!("{:o}", header.mode().unwrap_or(0)));
        fields.insert("uid", header.uid().unwrap_or(0).to_string());
        fields.insert("gid", header.gid().unwrap_or(0).to_string());
        fields.insert(
            "uname",
            header.username().ok().flatten().unwrap_or("").to_string(),
        );
        fields.insert(
            "gname",
            header.groupname().ok().flatten().unwrap_or("").to_string(),
        );
        fields.insert("mtime", header.mtime().unwrap_or(0).to_string());
        if let Some(link) = entry.link_name_bytes() {
            fields.insert("link", String::from_utf8_lossy(&link).into_owned());
        }
        let format = if header.as_ustar().is_some() {
            "ustar"
        } else if header.as_gnu().is_some() {
            "gnu"
        } else {
            "v7"
        };
        let mut pax = Vec::new();
        if let Ok(Some(ext)) = entry.pax_extensions() {
            for e in ext.flatten() {
                let k = e.key().unwrap_or("?").to_string();
                let v = String::from_utf8_lossy(e.value_bytes()).into_owned();
                pax.push(format!("{k}={v}"));
            }
        }
        pax.sort();
        fields.insert("header", format.to_string());
        if !pax.is_empty() {
            fields.insert("pax", pax.join(" "));
        }
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        fields.insert("size", data.len().to_string());
        if header.entry_type() == tar::EntryType::Regular {
            fields.insert("sha256", sha256_hex(&data));
        }
        let installed = raw
            .ends_with("apk/db/installed")
            .then(|| String::from_utf8_lossy(&data).into_owned());
        entries.push(Entry {
            raw,
            fields,
            installed,
        });
    }
    entries
}

pub(crate) fn read_tarball(path: &Path) -> Tarball {
    let bytes = std::fs::read(path).unwrap();
    let mut archive = tar::Archive::new(&bytes[..]);
    let mut entries = Vec::new();
    let mut manifest = Value::Null;
    let mut index = None;
    let mut index_sha = None;
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let mode = format!("{:o}", entry.header().mode().unwrap_or(0));
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if name == "manifest.json" {
            manifest = serde_json::from_slice(&data).unwrap();
        } else if name == "index.json" {
            index = Some(serde_json::from_slice(&data).unwrap());
            index_sha = Some(sha256_hex(&data));
        }
        entries.push((name, mode));
    }
    Tarball {
        entries,
        manifest,
        index,
        index_sha,
    }
}
