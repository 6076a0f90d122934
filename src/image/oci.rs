//! OCI image config, manifest and index documents, serialized as apko (go-containerregistry,
//! Go's `encoding/json`) serializes them: the same field order, empty fields left out, map keys
//! sorted, and `<`, `>`, `&`, U+2028 and U+2029 escaped. The digests of these documents are the
//! image's identity, so their bytes must not depend on hash-map order (oci-spec's types use
//! `HashMap`, youki-dev/oci-spec-rs#249) or on a serializer's choices; hence these types.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `application/vnd.oci.image.index.v1+json`
pub const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
/// `application/vnd.oci.image.manifest.v1+json`
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// `application/vnd.oci.image.config.v1+json`
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
/// `application/vnd.oci.image.layer.v1.tar+gzip`
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// The annotation tools read an image's name in a layout from.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

fn is_false(b: &bool) -> bool {
    !*b
}

/// The image config (`v1.ConfigFile`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConfigFile {
    /// OCI architecture.
    pub architecture: String,
    /// Who made it.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub author: String,
    /// Legacy docker field.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub container: String,
    /// RFC 3339 creation time.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub created: String,
    /// Legacy docker field.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub docker_version: String,
    /// One entry per layer (and per empty step).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    /// `linux`.
    pub os: String,
    /// The diff_ids.
    pub rootfs: RootFs,
    /// What to run.
    pub config: Config,
    /// OS version (Windows).
    #[serde(rename = "os.version", skip_serializing_if = "String::is_empty")]
    pub os_version: String,
    /// CPU variant (`v7`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub variant: String,
    /// OS features.
    #[serde(rename = "os.features", skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
}

/// One history entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct History {
    /// Author.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub author: String,
    /// RFC 3339 time.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub created: String,
    /// The step.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub created_by: String,
    /// Free text.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub comment: String,
    /// No layer for this step.
    #[serde(skip_serializing_if = "is_false")]
    pub empty_layer: bool,
}

/// `rootfs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `sha256:` of each uncompressed layer, bottom first.
    pub diff_ids: Vec<String>,
}

impl Default for RootFs {
    fn default() -> Self {
        RootFs {
            kind: "layers".into(),
            diff_ids: Vec::new(),
        }
    }
}

/// The run configuration (`v1.Config`): only the fields apko sets or a base image may carry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[allow(non_snake_case, missing_docs)]
pub struct Config {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub Cmd: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub Entrypoint: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub Env: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub Labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub User: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub Volumes: BTreeMap<String, Empty>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub WorkingDir: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub ExposedPorts: BTreeMap<String, Empty>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub StopSignal: String,
}

/// `{}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Empty {}

/// A content descriptor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type.
    pub media_type: String,
    /// Size in bytes.
    pub size: u64,
    /// `sha256:…`.
    pub digest: String,
    /// Annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Platform (index entries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// The config's media type, on the index's entries (as apko 1.2 writes them).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub artifact_type: String,
}

/// A platform.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Platform {
    /// OCI architecture.
    pub architecture: String,
    /// `linux`.
    pub os: String,
    /// CPU variant.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub variant: String,
}

/// An image manifest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Manifest {
    /// 2.
    pub schema_version: u32,
    /// The manifest media type.
    pub media_type: String,
    /// The config blob.
    pub config: Descriptor,
    /// The layer blobs, bottom first.
    pub layers: Vec<Descriptor>,
    /// Annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An image index.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Index {
    /// 2.
    pub schema_version: u32,
    /// The index media type.
    pub media_type: String,
    /// One manifest per platform.
    pub manifests: Vec<Descriptor>,
    /// Annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Go's `json.Marshal` bytes for `value`.
pub fn to_go_json<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter);
    value
        .serialize(&mut ser)
        .expect("these documents always serialize");
    out
}

/// Go's `json.MarshalIndent(v, "", "  ")` (HTML-safe escaping), newline-terminated: SBOMs
/// and lockfiles, which apko writes so.
pub fn to_go_json_indented<T: Serialize>(value: &T) -> Vec<u8> {
    let text = serde_json::to_string_pretty(value).expect("these documents always serialize");
    // `<`, `>`, `&`, U+2028 and U+2029 occur only inside JSON strings
    let mut out = String::with_capacity(text.len() + 1);
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            _ => out.push(c),
        }
    }
    out.push('\n');
    out.into_bytes()
}

/// Compact JSON with Go's HTML-safe string escaping.
struct GoFormatter;

impl serde_json::ser::Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let esc = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            writer.write_all(&fragment.as_bytes()[start..i])?;
            writer.write_all(esc.as_bytes())?;
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

/// An RFC 3339 UTC time (`1970-01-01T00:00:00Z`) as Go formats a whole-second time.
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // civil-from-days (Howard Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Parses `--build-date` (RFC 3339: `2024-05-01T12:00:00Z`, `…+02:00`, fractional seconds
/// dropped) into seconds since the epoch.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r).and_then(digits);
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[13] != b':' || b[16] != b':' || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    if h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = &text[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &frac[n..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && rest.as_bytes()[3] == b':' => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            sign * (digits(&rest[1..3])? * 3600 + digits(&rest[4..6])? * 60)
        }
        _ => return None,
    };
    // days-from-civil
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + s - offset;
    u64::try_from(secs).ok()
}

fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(parse_rfc3339("2023-11-14T22:13:20Z"), Some(1_700_000_000));
        assert_eq!(
            parse_rfc3339("2023-11-15T00:13:20+02:00"),
            Some(1_700_000_000)
        );
        assert_eq!(parse_rfc3339("2023-11-14T22:13:20.5Z"), Some(1_700_000_000));
        assert_eq!(parse_rfc3339("2023-11-14"), None);
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), None);
    }

    #[test]
    fn go_escaping() {
        let c = Config {
            Entrypoint: vec!["/bin/sh".into(), "-c".into(), "a && b <x>".into()],
            ..Config::default()
        };
        assert_eq!(
            String::from_utf8(to_go_json(&c)).unwrap(),
            r#"{"Entrypoint":["/bin/sh","-c","a \u0026\u0026 b \u003cx\u003e"]}"#
        );
    }
}
