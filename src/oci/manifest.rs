//! Image manifests and indexes, OCI and Docker v2, in go-containerregistry's field order. A
//! document read is kept as bytes by whoever needs its digest: any re-encoding changes it.

use super::descriptor::Descriptor;
use super::media::{INDEX_MEDIA_TYPE, MANIFEST_MEDIA_TYPE, is_index, is_manifest};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An image manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// 2.
    #[serde(default)]
    pub schema_version: u32,
    /// The manifest media type; empty when a document read does not name it.
    #[serde(default)]
    pub media_type: String,
    /// The config blob.
    pub config: Descriptor,
    /// The layer blobs, bottom first.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Manifest {
    /// Every blob: config first, then layers.
    pub fn blobs(&self) -> impl Iterator<Item = &Descriptor> {
        std::iter::once(&self.config).chain(&self.layers)
    }
}

/// An image index (or Docker manifest list).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    /// 2.
    #[serde(default)]
    pub schema_version: u32,
    /// The index media type; empty when a document read does not name it.
    #[serde(default)]
    pub media_type: String,
    /// One manifest per platform.
    pub manifests: Vec<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Either kind, as read from bytes.
#[derive(Debug, Clone)]
pub enum Parsed {
    /// An image manifest.
    Manifest(Manifest),
    /// An index.
    Index(Index),
}

/// Why a manifest or index could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// Not JSON at all.
    #[error("not JSON: {0}")]
    NotJson(String),
    /// JSON, but no `manifests` or `config` to tell what it is.
    #[error("neither an image manifest nor an index")]
    Unrecognised,
    /// An index that does not have an index's shape.
    #[error("invalid index: {0}")]
    InvalidIndex(String),
    /// A manifest that does not have a manifest's shape.
    #[error("invalid image manifest: {0}")]
    InvalidManifest(String),
    /// A media type that names neither.
    #[error("unsupported manifest media type {0:?}")]
    UnsupportedMediaType(String),
}

/// The media type of a manifest: its own `mediaType` field, else the one it was served
/// with, else its shape.
pub fn media_type_of(bytes: &[u8], served_as: Option<&str>) -> Result<String, ManifestError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
        config: Option<serde_json::Value>,
    }
    let probe: Probe =
        serde_json::from_slice(bytes).map_err(|e| ManifestError::NotJson(e.to_string()))?;
    if let Some(m) = probe.media_type {
        return Ok(m);
    }
    if let Some(s) = served_as.filter(|s| !s.is_empty() && *s != "application/json") {
        return Ok(s.to_string());
    }
    match (probe.manifests, probe.config) {
        (Some(_), _) => Ok(INDEX_MEDIA_TYPE.to_string()),
        (None, Some(_)) => Ok(MANIFEST_MEDIA_TYPE.to_string()),
        _ => Err(ManifestError::Unrecognised),
    }
}

/// Parses a manifest or index of `media_type`.
pub fn parse(bytes: &[u8], media_type: &str) -> Result<Parsed, ManifestError> {
    if is_index(media_type) {
        serde_json::from_slice(bytes)
            .map(Parsed::Index)
            .map_err(|e| ManifestError::InvalidIndex(e.to_string()))
    } else if is_manifest(media_type) {
        serde_json::from_slice(bytes)
            .map(Parsed::Manifest)
            .map_err(|e| ManifestError::InvalidManifest(e.to_string()))
    } else {
        Err(ManifestError::UnsupportedMediaType(media_type.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::media::DOCKER_MANIFEST;

    #[test]
    fn media_types() {
        assert_eq!(
            media_type_of(br#"{"manifests":[]}"#, None).unwrap(),
            INDEX_MEDIA_TYPE
        );
        assert_eq!(
            media_type_of(br#"{"config":{}}"#, Some(DOCKER_MANIFEST)).unwrap(),
            DOCKER_MANIFEST
        );
        assert_eq!(
            media_type_of(
                br#"{"mediaType":"x","config":{}}"#,
                Some(MANIFEST_MEDIA_TYPE)
            )
            .unwrap(),
            "x"
        );
        let bad = br#"{"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"c","digest":"sha256:../x","size":1}}"#;
        assert!(
            parse(bad, MANIFEST_MEDIA_TYPE)
                .unwrap_err()
                .to_string()
                .contains("invalid digest")
        );
        assert_eq!(
            parse(b"{}", "text/plain").unwrap_err().to_string(),
            "unsupported manifest media type \"text/plain\""
        );
    }
}
