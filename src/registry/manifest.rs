//! Manifests and indexes, OCI and Docker v2: only the fields pushing and pulling need. The raw
//! bytes are always kept and sent as they are, since any re-encoding changes the digest.

use super::digest::Digest;
use serde::Deserialize;
use std::fmt;

/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// What a manifest GET accepts: every index and manifest type this client understands.
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// Whether `media_type` names an index (OCI index or Docker manifest list).
pub fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_LIST
}

/// A content descriptor.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced content.
    pub media_type: String,
    /// Its digest (validated).
    #[serde(deserialize_with = "de_digest")]
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// For index entries.
    #[serde(default)]
    pub platform: Option<Platform>,
}

fn de_digest<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
    let text = String::deserialize(d)?;
    Digest::parse(&text).map_err(serde::de::Error::custom)
}

/// The platform of an index entry.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Default)]
pub struct Platform {
    /// `amd64`, `arm64`.
    pub architecture: String,
    /// `linux`.
    pub os: String,
    /// `v8`, `v7`.
    #[serde(default)]
    pub variant: Option<String>,
}

impl Platform {
    /// Parses `os/arch[/variant]`, e.g. `linux/arm64/v8`; apk's `x86_64`/`aarch64` names are
    /// accepted for the architecture.
    pub fn parse(text: &str) -> Result<Platform, String> {
        let mut parts = text.split('/');
        let (Some(os), Some(arch)) = (parts.next(), parts.next()) else {
            return Err(format!(
                "invalid platform {text:?}: expected OS/ARCH[/VARIANT], e.g. linux/amd64"
            ));
        };
        let variant = parts.next().map(str::to_string);
        if os.is_empty() || arch.is_empty() || parts.next().is_some() {
            return Err(format!(
                "invalid platform {text:?}: expected OS/ARCH[/VARIANT], e.g. linux/amd64"
            ));
        }
        Ok(Platform {
            os: os.to_string(),
            architecture: normalize_arch(arch).to_string(),
            variant,
        })
    }

    /// Whether an index entry for `other` serves this platform; a wanted platform without a
    /// variant accepts any variant, and `arm64` accepts an entry without one as `v8`.
    pub fn matches(&self, other: &Platform) -> bool {
        if self.os != other.os || self.architecture != normalize_arch(&other.architecture) {
            return false;
        }
        match (&self.variant, &other.variant) {
            (None, _) => true,
            (Some(want), Some(have)) => want == have,
            (Some(want), None) => self.architecture == "arm64" && want == "v8",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// OCI/Go architecture names for apk's.
pub fn normalize_arch(arch: &str) -> &str {
    match arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "armv7" | "armhf" => "arm",
        "x86" => "386",
        other => other,
    }
}

/// An image manifest: the config and layers to transfer.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Media type, when the manifest names it.
    #[serde(default)]
    pub media_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// Layer blobs, in order.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
}

impl Manifest {
    /// Every blob: config first, then layers.
    pub fn blobs(&self) -> impl Iterator<Item = &Descriptor> {
        std::iter::once(&self.config).chain(&self.layers)
    }
}

/// An index (or manifest list).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    /// Media type, when the index names it.
    #[serde(default)]
    pub media_type: Option<String>,
    /// Its entries.
    pub manifests: Vec<Descriptor>,
}

/// Either kind, as read from bytes.
#[derive(Debug, Clone)]
pub enum Parsed {
    /// An image manifest.
    Manifest(Manifest),
    /// An index.
    Index(Index),
}

/// The media type of a manifest: its own `mediaType` field, else the one it was served
/// with, else its shape.
pub fn media_type_of(bytes: &[u8], served_as: Option<&str>) -> Result<String, String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
        config: Option<serde_json::Value>,
    }
    let probe: Probe = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    if let Some(m) = probe.media_type {
        return Ok(m);
    }
    if let Some(s) = served_as.filter(|s| !s.is_empty() && *s != "application/json") {
        return Ok(s.to_string());
    }
    match (probe.manifests, probe.config) {
        (Some(_), _) => Ok(OCI_INDEX.to_string()),
        (None, Some(_)) => Ok(OCI_MANIFEST.to_string()),
        _ => Err("neither an image manifest nor an index".to_string()),
    }
}

/// Parses a manifest or index of `media_type`.
pub fn parse(bytes: &[u8], media_type: &str) -> Result<Parsed, String> {
    if is_index(media_type) {
        serde_json::from_slice(bytes)
            .map(Parsed::Index)
            .map_err(|e| format!("invalid index: {e}"))
    } else if media_type == OCI_MANIFEST || media_type == DOCKER_MANIFEST {
        serde_json::from_slice(bytes)
            .map(Parsed::Manifest)
            .map_err(|e| format!("invalid image manifest: {e}"))
    } else {
        Err(format!("unsupported manifest media type {media_type:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms() {
        let p = Platform::parse("linux/arm64").unwrap();
        assert!(p.matches(&Platform {
            os: "linux".into(),
            architecture: "arm64".into(),
            variant: Some("v8".into())
        }));
        let amd = Platform::parse("linux/x86_64").unwrap();
        assert_eq!(amd.to_string(), "linux/amd64");
        assert!(!amd.matches(&p));
        let v8 = Platform::parse("linux/arm64/v8").unwrap();
        assert!(v8.matches(&Platform {
            os: "linux".into(),
            architecture: "arm64".into(),
            variant: None
        }));
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("linux/arm/v7/x").is_err());
    }

    #[test]
    fn media_types() {
        assert_eq!(
            media_type_of(br#"{"manifests":[]}"#, None).unwrap(),
            OCI_INDEX
        );
        assert_eq!(
            media_type_of(br#"{"config":{}}"#, Some(DOCKER_MANIFEST)).unwrap(),
            DOCKER_MANIFEST
        );
        assert_eq!(
            media_type_of(br#"{"mediaType":"x","config":{}}"#, Some(OCI_MANIFEST)).unwrap(),
            "x"
        );
        let bad = br#"{"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"c","digest":"sha256:../x","size":1}}"#;
        assert!(
            parse(bad, OCI_MANIFEST)
                .unwrap_err()
                .contains("invalid digest")
        );
    }
}
