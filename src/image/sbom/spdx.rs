//! SPDX 2.3 documents as apko serializes them: the wire types (field order is output order),
//! IDs, purls, checksums, and Go's JSON encoding.

use super::super::oci;
use super::{LICENSE_LIST_VERSION, NOASSERTION, PACKAGE_MANAGER};
use crate::registry::reference::Reference;
use serde::{Deserialize, Serialize};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Document {
    #[serde(rename = "SPDXID")]
    pub(super) id: String,
    pub(super) name: String,
    pub(super) spdx_version: &'static str,
    pub(super) creation_info: CreationInfo,
    pub(super) data_license: &'static str,
    pub(super) document_namespace: &'static str,
    pub(super) document_describes: Vec<String>,
    pub(super) packages: Vec<Package>,
    pub(super) relationships: Vec<Relationship>,
    #[serde(
        rename = "hasExtractedLicensingInfos",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(super) licensing_infos: Vec<LicensingInfo>,
}

/// An extracted license (`hasExtractedLicensingInfos`), merged from packages' own SBOMs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct LicensingInfo {
    pub(super) license_id: String,
    pub(super) extracted_text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CreationInfo {
    pub(super) created: String,
    pub(super) creators: Vec<String>,
    pub(super) license_list_version: &'static str,
}

/// An SPDX package with apko's fields, in apko's order (also read from packages' own SBOMs,
/// whose other fields apko drops: `hasFiles`, `licenseInfoFromFiles`, the verification code).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct Package {
    #[serde(rename = "SPDXID")]
    pub(super) id: String,
    pub(super) name: String,
    #[serde(rename = "versionInfo", skip_serializing_if = "String::is_empty")]
    pub(super) version: String,
    pub(super) files_analyzed: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(super) license_concluded: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(super) license_declared: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(super) description: String,
    pub(super) download_location: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(super) originator: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(super) supplier: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(super) source_info: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(super) copyright_text: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(super) attribution_text: String,
    #[serde(
        rename = "primaryPackagePurpose",
        skip_serializing_if = "String::is_empty"
    )]
    pub(super) primary_purpose: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) checksums: Vec<Checksum>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) external_refs: Vec<ExternalRef>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct Checksum {
    pub(super) algorithm: String,
    #[serde(rename = "checksumValue")]
    pub(super) value: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct ExternalRef {
    #[serde(rename = "referenceCategory")]
    pub(super) category: String,
    #[serde(rename = "referenceLocator")]
    pub(super) locator: String,
    #[serde(rename = "referenceType")]
    pub(super) kind: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct Relationship {
    #[serde(rename = "spdxElementId")]
    pub(super) element: String,
    #[serde(rename = "relationshipType")]
    pub(super) kind: String,
    #[serde(rename = "relatedSpdxElement")]
    pub(super) related: String,
}

impl Relationship {
    pub(super) fn new(element: &str, kind: &str, related: &str) -> Relationship {
        Relationship {
            element: element.into(),
            kind: kind.into(),
            related: related.into(),
        }
    }
}

/// The parts of a package's own SBOM apko uses.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct OwnSbom {
    pub(super) document_describes: Vec<String>,
    pub(super) packages: Vec<Package>,
    pub(super) relationships: Vec<Relationship>,
    #[serde(rename = "hasExtractedLicensingInfos")]
    pub(super) licensing_infos: Vec<LicensingInfo>,
}

/// apko's SPDX identifier: `:` → `-`, then each byte outside `[A-Za-z0-9.-]` → `C<byte>`.
pub(super) fn identifier(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b':' => out.push('-'),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' => out.push(b as char),
            _ => out.push_str(&format!("C{b}")),
        }
    }
    out
}

/// A qualifier value as Go's `url.QueryEscape`: everything but `[A-Za-z0-9._~-]`
/// percent-encoded, a space as `+`.
pub(super) fn query_escape(text: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(text, SET)
        .to_string()
        .replace("%20", "+")
}

/// A purl path segment as packageurl-go 0.1.6 writes it: unreserved characters, the
/// sub-delimiters but `+`, and `:` as they are; everything else (`@ + / ? #` …) percent-encoded.
pub(super) fn purl_escape(text: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~')
        .remove(b'!')
        .remove(b'$')
        .remove(b'&')
        .remove(b'\'')
        .remove(b'(')
        .remove(b')')
        .remove(b'*')
        .remove(b',')
        .remove(b';')
        .remove(b'=')
        .remove(b':');
    percent_encoding::utf8_percent_encode(text, SET).to_string()
}

/// `pkg:TYPE[/NAMESPACE…]/NAME[@VERSION][?k=v&…]`: namespace segments (empty ones dropped),
/// name and version path-escaped, qualifiers sorted and query-escaped (apko's own
/// `PurlQualifiers.String`), those with an empty value left out.
pub(super) fn purl(
    kind: &str,
    namespace: &str,
    name: &str,
    version: &str,
    qualifiers: &[(&str, &str)],
) -> String {
    let mut s = format!("pkg:{kind}");
    for segment in namespace.split('/').filter(|s| !s.is_empty()) {
        s.push('/');
        s.push_str(&purl_escape(segment));
    }
    s.push('/');
    s.push_str(&purl_escape(name));
    if !version.is_empty() {
        s.push('@');
        s.push_str(&purl_escape(version));
    }
    let mut q: Vec<&(&str, &str)> = qualifiers.iter().filter(|(_, v)| !v.is_empty()).collect();
    q.sort();
    if !q.is_empty() {
        s.push('?');
        let parts: Vec<String> = q
            .iter()
            .map(|(k, v)| format!("{k}={}", query_escape(v)))
            .collect();
        s.push_str(&parts.join("&"));
    }
    s
}

pub(super) fn purl_ref(locator: String) -> Vec<ExternalRef> {
    vec![ExternalRef {
        category: PACKAGE_MANAGER.into(),
        locator,
        kind: "purl".into(),
    }]
}

pub(super) fn sha256_checksum(digest: &str) -> Vec<Checksum> {
    vec![Checksum {
        algorithm: "SHA256".into(),
        value: digest.trim_start_matches("sha256:").into(),
    }]
}

pub(super) fn supplier(os_name: &str) -> String {
    if os_name.is_empty() {
        NOASSERTION.into()
    } else {
        format!("Organization: {os_name}")
    }
}

/// The name apko gives the image in purls: the last part of the tag's repository.
pub fn purl_name(reference: &Reference) -> String {
    reference
        .repository
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty())
        .unwrap_or("image")
        .to_string()
}

pub(super) fn creation_info(created: u64) -> CreationInfo {
    CreationInfo {
        created: oci::rfc3339(created),
        creators: vec![
            format!("Tool: apko ({})", env!("CARGO_PKG_VERSION")),
            "Organization: Chainguard, Inc".into(),
        ],
        license_list_version: LICENSE_LIST_VERSION,
    }
}

/// Go's `json.Encoder` with a two-space indent and HTML escaping, newline-terminated.
pub(super) fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    oci::to_go_json_indented(value)
}
