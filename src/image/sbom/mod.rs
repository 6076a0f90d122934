//! SPDX 2.3 SBOMs as apko writes them: `sbom-<apkarch>.spdx.json` for each image and
//! `sbom-index.spdx.json` for the index.
//!
//! Behaviour followed: apko v0.13.x (the version whose output is the `base_image` golden
//! SBOMs), field for field: document name `sbom-<first layer digest>` (`sbom-<index digest>`),
//! namespace `https://spdx.org/spdxdocs/apko/`, license list 3.16; the image package CONTAINS
//! each layer package (version = the OS's `VERSION_ID`), the layer apko wrote CONTAINS each
//! installed package, the index package is VARIANT_OF each image. A package that ships its own
//! SBOM (melange's `/var/lib/db/sbom/<name>-<version>.spdx.json`) is described by that SBOM's
//! package, copied as it is with its files left out (`hasFiles: []`, no file relationships),
//! which keeps its `packageVerificationCode`; any other package gets apko's own description
//! from the installed database (SHA-1 of its control section, `pkg:apk/<os-id>/…` purl).
//! Two choices of later apko versions: a supplier whose OS name is unknown is `NOASSERTION`
//! (the index's, which has no OS), and packages are de-duplicated by SPDX ID.

mod spdx;

use super::assemble::Image;
use super::layer;
use super::oci;
use crate::apk::index::Index as ApkIndex;
use crate::apk::install;
use crate::fs::{Kind, Tree};
use crate::registry::reference::Reference;
use base64::Engine;
use spdx::*;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const NOASSERTION: &str = "NOASSERTION";
const PACKAGE_MANAGER: &str = "PACKAGE-MANAGER";
const NAMESPACE: &str = "https://spdx.org/spdxdocs/apko/";
const LICENSE_LIST_VERSION: &str = "3.16";
/// Where melange puts a package's own SBOM.
const APK_SBOM_DIR: &str = "var/lib/db/sbom";

/// The one SBOM format apko (and this builder) writes.
pub const FORMAT_SPDX: &str = "spdx";

/// `/etc/os-release` as apko reads it for purls and suppliers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsInfo {
    /// `ID` (`unknown` without an os-release).
    pub id: String,
    /// `NAME`.
    pub name: String,
    /// `VERSION_ID`.
    pub version: String,
}

impl OsInfo {
    /// Parses os-release text (`KEY=value`, quotes trimmed, `#` comments).
    pub fn parse(text: &str) -> OsInfo {
        let mut os = OsInfo {
            id: String::new(),
            name: String::new(),
            version: String::new(),
        };
        for line in text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.trim_matches('"').to_string();
            match key {
                "ID" => os.id = value,
                "NAME" => os.name = value,
                "VERSION_ID" => os.version = value,
                _ => {}
            }
        }
        os
    }

    /// What apko assumes when the image has no `/etc/os-release`.
    fn unknown() -> OsInfo {
        OsInfo {
            id: "unknown".into(),
            name: "apko-generated image".into(),
            version: "unknown".into(),
        }
    }
}

/// One installed package, from the image's installed database.
#[derive(Debug, Clone)]
pub struct InstalledPackage {
    name: String,
    version: String,
    license: String,
    description: String,
    url: String,
    maintainer: String,
    /// `Q1…` (base64 SHA-1 of the control section).
    checksum: String,
    /// The package's own SBOM, when it installed one.
    own_sbom: Option<Arc<[u8]>>,
}

/// What an image's SBOM says about its contents, read from its final filesystem.
#[derive(Debug, Clone)]
pub struct Contents {
    /// The OS release.
    pub os: OsInfo,
    /// Installed packages, in database order.
    pub packages: Vec<InstalledPackage>,
    /// The image's date (seconds since the epoch).
    pub created: u64,
}

fn file<'a>(tree: &'a Tree, path: &str) -> Option<&'a Arc<[u8]>> {
    match tree.get(path).map(|e| &e.kind) {
        Some(Kind::File(data)) => Some(data),
        _ => None,
    }
}

/// Reads the OS release, the installed packages and their own SBOMs from `tree`.
pub fn contents(tree: &Tree, created: u64) -> Contents {
    let os = ["etc/os-release", "usr/lib/os-release"]
        .iter()
        .find_map(|p| file(tree, p))
        .map_or_else(OsInfo::unknown, |d| {
            OsInfo::parse(&String::from_utf8_lossy(d))
        });
    let db = install::installed_db(tree).unwrap_or_default();
    let packages = match ApkIndex::parse(db) {
        Ok(index) => index
            .packages()
            .map(|p| {
                let p = p.to_package();
                let own_sbom = own_sbom(tree, &p.name, &p.version);
                InstalledPackage {
                    name: p.name,
                    version: p.version,
                    license: p.license,
                    description: p.description,
                    url: p.url,
                    maintainer: p.maintainer,
                    checksum: p.checksum,
                    own_sbom,
                }
            })
            .collect(),
        Err(e) => {
            tracing::warn!("the installed database cannot be read for the SBOM: {e}");
            Vec::new()
        }
    };
    Contents {
        os,
        packages,
        created,
    }
}

/// melange's SBOM of a package: `<name>-<version>`, `<name>-<version without -rN>`, `<name>`.
fn own_sbom(tree: &Tree, name: &str, version: &str) -> Option<Arc<[u8]>> {
    let bare = match version.rsplit_once("-r") {
        Some((v, r)) if !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()) => v,
        _ => version,
    };
    [
        format!("{APK_SBOM_DIR}/{name}-{version}.spdx.json"),
        format!("{APK_SBOM_DIR}/{name}-{bare}.spdx.json"),
        format!("{APK_SBOM_DIR}/{name}.spdx.json"),
    ]
    .iter()
    .find_map(|p| file(tree, p).cloned())
}

/// The `sbom-<apkarch>.spdx.json` document of `image`, whose filesystem `contents` describes.
pub fn image_document(image: &Image, contents: &Contents, name: &str) -> Vec<u8> {
    let os = &contents.os;
    let (architecture, _) = image.arch.oci_platform();
    let supplier = supplier(&os.name);
    let digest = &image.descriptor.digest;
    let image_pkg = Package {
        id: format!("SPDXRef-Package-{}", identifier(digest)),
        name: digest.clone(),
        version: digest.clone(),
        description: "apko container image".into(),
        download_location: NOASSERTION.into(),
        supplier: supplier.clone(),
        primary_purpose: "CONTAINER".into(),
        checksums: sha256_checksum(digest),
        external_refs: purl_ref(purl(
            "oci",
            "",
            name,
            digest,
            &[
                ("arch", architecture),
                ("mediaType", oci::MANIFEST_MEDIA_TYPE),
                ("os", "linux"),
            ],
        )),
        ..Package::default()
    };
    let mut relationships = Vec::new();
    let mut packages = vec![image_pkg.clone()];
    let mut top_layer = String::new();
    for l in &image.layers {
        let d = &l.descriptor;
        let layer_pkg = Package {
            id: format!("SPDXRef-Package-{}", identifier(&d.digest)),
            name: d.digest.clone(),
            version: os.version.clone(),
            description: "apko operating system layer".into(),
            download_location: NOASSERTION.into(),
            supplier: supplier.clone(),
            external_refs: purl_ref(purl(
                "oci",
                "",
                name,
                &d.digest,
                &[
                    ("arch", architecture),
                    ("mediaType", &d.media_type),
                    ("os", "linux"),
                ],
            )),
            ..Package::default()
        };
        relationships.push(Relationship::new(&image_pkg.id, "CONTAINS", &layer_pkg.id));
        top_layer = layer_pkg.id.clone();
        packages.push(layer_pkg);
    }
    let apk_arch = image.arch.to_apk();
    for p in &contents.packages {
        let copied = p
            .own_sbom
            .as_deref()
            .and_then(|data| from_own_sbom(data, p, &top_layer, &mut packages, &mut relationships));
        if copied.is_none() {
            let pkg = apk_package(p, os, &supplier, apk_arch, &top_layer);
            relationships.push(Relationship::new(&top_layer, "CONTAINS", &pkg.id));
            packages.push(pkg);
        }
    }
    let mut seen = HashSet::new();
    packages.retain(|p| seen.insert(p.id.clone()));
    let first_layer = image
        .layers
        .first()
        .map(|l| format!("sbom-{}", l.descriptor.digest))
        .unwrap_or_else(|| "sbom".into());
    to_json(&Document {
        id: "SPDXRef-DOCUMENT".into(),
        name: first_layer,
        spdx_version: "SPDX-2.3",
        creation_info: creation_info(contents.created),
        data_license: "CC0-1.0",
        document_namespace: NAMESPACE,
        document_describes: vec![image_pkg.id],
        files: Some(Vec::new()),
        packages,
        relationships,
    })
}

/// apko's description of a package that brings no SBOM of its own.
fn apk_package(
    p: &InstalledPackage,
    os: &OsInfo,
    supplier: &str,
    apk_arch: &str,
    layer_id: &str,
) -> Package {
    let sha1 = p
        .checksum
        .strip_prefix("Q1")
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .map(hex::encode);
    Package {
        id: identifier(&format!(
            "SPDXRef-Package-{layer_id}-{}-{}",
            p.name, p.version
        )),
        name: p.name.clone(),
        version: p.version.clone(),
        license_concluded: p.license.clone(),
        description: p.description.clone(),
        download_location: if p.url.is_empty() {
            NOASSERTION.into()
        } else {
            p.url.clone()
        },
        originator: if p.maintainer.is_empty() {
            String::new()
        } else {
            format!("Person: {}", p.maintainer)
        },
        supplier: supplier.into(),
        source_info: "Package info from apk database".into(),
        checksums: sha1
            .map(|value| {
                vec![Checksum {
                    algorithm: "SHA1".into(),
                    value,
                }]
            })
            .unwrap_or_default(),
        external_refs: purl_ref(purl(
            "apk",
            &os.id,
            &p.name,
            &p.version,
            &[("arch", apk_arch)],
        )),
        ..Package::default()
    }
}

/// Copies the packages `p`'s own SBOM describes (and what they relate to, files left out)
/// under the layer; `None` when that SBOM is unreadable or describes no package named `p`.
fn from_own_sbom(
    data: &[u8],
    p: &InstalledPackage,
    layer_id: &str,
    packages: &mut Vec<Package>,
    relationships: &mut Vec<Relationship>,
) -> Option<()> {
    let own: OwnSbom = match serde_json::from_slice(data) {
        Ok(d) => d,
        Err(e) => {
            tracing::debug!("{}'s own SBOM is unreadable: {e}", p.name);
            return None;
        }
    };
    let described: Vec<&str> = own
        .packages
        .iter()
        .filter(|q| q.name == p.name && own.document_describes.contains(&q.id))
        .map(|q| q.id.as_str())
        .collect();
    if described.is_empty() {
        return None;
    }
    let is_file = |id: &str| id.starts_with("SPDXRef-File-");
    let mut todo: Vec<String> = described.iter().map(|s| s.to_string()).collect();
    loop {
        let before = todo.len();
        for r in &own.relationships {
            if !is_file(&r.related) && todo.contains(&r.element) && !todo.contains(&r.related) {
                todo.push(r.related.clone());
            }
        }
        if todo.len() == before {
            break;
        }
    }
    for id in &described {
        relationships.push(Relationship::new(layer_id, "CONTAINS", id));
    }
    for q in own.packages.iter().filter(|q| todo.contains(&q.id)) {
        let mut q = q.clone();
        if q.has_files.is_some() {
            q.has_files = Some(Vec::new());
        }
        packages.push(q);
    }
    relationships.extend(
        own.relationships
            .iter()
            .filter(|r| todo.contains(&r.element) && !is_file(&r.related))
            .cloned(),
    );
    Some(())
}

/// The `sbom-index.spdx.json` document of the index whose bytes are `index_json`.
pub fn index_document(images: &[Image], index_json: &[u8], name: &str, created: u64) -> Vec<u8> {
    let digest = layer::sha256(index_json);
    let index_pkg = Package {
        id: format!("SPDXRef-Package-{}", identifier(&digest)),
        name: digest.clone(),
        version: digest.clone(),
        description: "Multi-arch image index".into(),
        download_location: NOASSERTION.into(),
        supplier: NOASSERTION.into(),
        source_info: "Generated at image build time by apko".into(),
        primary_purpose: "CONTAINER".into(),
        checksums: sha256_checksum(&digest),
        external_refs: purl_ref(purl(
            "oci",
            "",
            name,
            &digest,
            &[("mediaType", oci::INDEX_MEDIA_TYPE)],
        )),
        ..Package::default()
    };
    let mut sorted: Vec<&Image> = images.iter().collect();
    // apko sorts by the architecture's OCI name (amd64 before arm64)
    sorted.sort_by(|a, b| a.arch.as_str().cmp(b.arch.as_str()));
    let mut packages = vec![index_pkg.clone()];
    let mut relationships = Vec::new();
    for image in sorted {
        let d = &image.descriptor.digest;
        let (architecture, _) = image.arch.oci_platform();
        let pkg = Package {
            id: format!("SPDXRef-Package-{}", identifier(d)),
            name: d.clone(),
            version: d.clone(),
            download_location: NOASSERTION.into(),
            supplier: NOASSERTION.into(),
            primary_purpose: "CONTAINER".into(),
            checksums: sha256_checksum(d),
            external_refs: purl_ref(purl(
                "oci",
                "",
                name,
                d,
                &[
                    ("arch", architecture),
                    ("mediaType", oci::MANIFEST_MEDIA_TYPE),
                    ("os", "linux"),
                ],
            )),
            ..Package::default()
        };
        relationships.push(Relationship::new(&index_pkg.id, "VARIANT_OF", &pkg.id));
        packages.push(pkg);
    }
    to_json(&Document {
        id: "SPDXRef-DOCUMENT".into(),
        name: format!("sbom-{digest}"),
        spdx_version: "SPDX-2.3",
        creation_info: creation_info(created),
        data_license: "CC0-1.0",
        document_namespace: NAMESPACE,
        document_describes: vec![index_pkg.id],
        files: None,
        packages,
        relationships,
    })
}

/// Parses `--sbom-formats` (a comma list); only `spdx` exists.
pub fn parse_formats(value: &str) -> Result<Vec<String>, String> {
    let mut formats = Vec::new();
    for f in value.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        if f != FORMAT_SPDX {
            return Err(format!(
                "unsupported --sbom-formats value {f:?}: the supported format is {FORMAT_SPDX}"
            ));
        }
        if !formats.iter().any(|x| x == f) {
            formats.push(f.to_string());
        }
    }
    Ok(formats)
}

/// Writes every image's SBOM and the index's into `dir` (each to a temporary file there,
/// then renamed); returns the paths written.
pub fn write_all(
    dir: &Path,
    images: &[Image],
    contents: &[Contents],
    index_json: &[u8],
    index_created: u64,
    reference: &Reference,
) -> std::io::Result<Vec<PathBuf>> {
    let name = purl_name(reference);
    let mut docs: Vec<(PathBuf, Vec<u8>)> = images
        .iter()
        .zip(contents)
        .map(|(image, c)| {
            (
                dir.join(format!("sbom-{}.spdx.json", image.arch.to_apk())),
                image_document(image, c, &name),
            )
        })
        .collect();
    docs.push((
        dir.join("sbom-index.spdx.json"),
        index_document(images, index_json, &name, index_created),
    ));
    let mut written = Vec::new();
    for (path, data) in docs {
        super::output::write_file_atomically(&path, &data)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_purls_as_apko_writes_them() {
        assert_eq!(identifier("sha256:ab12"), "sha256-ab12");
        assert_eq!(identifier("a_b+c/d"), "aC95bC43cC47d");
        assert_eq!(
            purl(
                "oci",
                "",
                "golden",
                "sha256:ab",
                &[
                    ("os", "linux"),
                    ("mediaType", oci::MANIFEST_MEDIA_TYPE),
                    ("arch", "amd64")
                ]
            ),
            "pkg:oci/golden@sha256%3Aab?arch=amd64&mediaType=application%2Fvnd.oci.image.manifest.v1%2Bjson&os=linux"
        );
        assert_eq!(
            purl(
                "apk",
                "wolfi",
                "ca-certificates-bundle",
                "2024.2-r0",
                &[("arch", "x86_64")]
            ),
            "pkg:apk/wolfi/ca-certificates-bundle@2024.2-r0?arch=x86_64"
        );
    }

    #[test]
    fn os_release_and_formats() {
        let os = OsInfo::parse("# c\nID=pretend\nNAME=\"Pretend\"\nVERSION_ID=\"1.0.0\"\n");
        assert_eq!(
            (os.id.as_str(), os.name.as_str(), os.version.as_str()),
            ("pretend", "Pretend", "1.0.0")
        );
        assert_eq!(parse_formats("spdx").unwrap(), ["spdx"]);
        assert_eq!(parse_formats("spdx, spdx").unwrap(), ["spdx"]);
        assert!(parse_formats("").unwrap().is_empty());
        assert_eq!(
            parse_formats("spdx,cyclonedx").unwrap_err(),
            "unsupported --sbom-formats value \"cyclonedx\": the supported format is spdx"
        );
    }

    #[test]
    fn go_style_pretty_json() {
        let v = serde_json::json!({"a": ["x&y"], "b": []});
        assert_eq!(
            String::from_utf8(to_json(&v)).unwrap(),
            "{\n  \"a\": [\n    \"x\\u0026y\"\n  ],\n  \"b\": []\n}\n"
        );
    }
}
