//! Content descriptors: what manifests and indexes point at.

use super::digest::{Digest, DigestError};
use super::platform::Platform;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A content descriptor, in go-containerregistry's field order (`mediaType`, `size`, `digest`).
///
/// The digest is the string the document holds, checked with [`Digest::parse`] whenever a
/// descriptor is read: a digest from a manifest becomes a file name and a URL path, so none
/// that could escape either is accepted. A `String` rather than a [`Digest`] because
/// `image/` builds descriptors from the `sha256:…` strings its layers carry;
/// [`Descriptor::checked_digest`] gives it typed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced content.
    pub media_type: String,
    /// Size in bytes.
    pub size: u64,
    /// `sha256:…`.
    #[serde(deserialize_with = "checked")]
    pub digest: String,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Platform (index entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// The config's media type, on the index's entries (as apko 1.2 writes them).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub artifact_type: String,
}

impl Descriptor {
    /// The digest, typed. Always `Ok` for a descriptor that was read; one built in memory is
    /// checked here.
    pub fn checked_digest(&self) -> Result<Digest, DigestError> {
        Digest::parse(&self.digest)
    }

    /// A descriptor for content already hashed.
    pub fn new(media_type: &str, digest: &Digest, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            size,
            digest: digest.to_string(),
            ..Descriptor::default()
        }
    }
}

fn checked<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    Digest::parse(&text).map_err(serde::de::Error::custom)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_order_and_checked_digest() {
        let d = Descriptor::new("m", &Digest::sha256(b""), 0);
        let json = String::from_utf8(crate::oci::to_go_json(&d)).unwrap();
        assert_eq!(
            json,
            r#"{"mediaType":"m","size":0,"digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}"#
        );
        assert_eq!(serde_json::from_str::<Descriptor>(&json).unwrap(), d);
        let bad = r#"{"mediaType":"m","size":0,"digest":"sha256:../../x"}"#;
        let err = serde_json::from_str::<Descriptor>(bad).unwrap_err();
        assert!(err.to_string().contains("invalid digest"), "{err}");
    }
}
