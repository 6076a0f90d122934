//! SPDX 2.3 SBOMs as apko writes them: `sbom-<apkarch>.spdx.json` for each image and
//! `sbom-index.spdx.json` for the index.
//!
//! Behaviour followed: apko v1.2.39 (`pkg/sbom/generator/spdx`), field for field: document
//! name `sbom-<first layer digest>` (`sbom-<index digest>`), namespace
//! `https://spdx.org/spdxdocs/apko/`, license list 3.27, no `files` key. The image package
//! (`SPDXRef-Package-Image-sha256-…`) CONTAINS each layer package
//! (`SPDXRef-Package-ImageLayer-sha256-…`, purpose `CONTAINER`, version = the OS's
//! `VERSION_ID`); then comes an `OPERATING_SYSTEM` package from `/etc/os-release`. Only the
//! installed packages that ship their own SBOM (melange's
//! `/var/lib/db/sbom/<name>-<version>.spdx.json`) are described, by the packages of that SBOM
//! (files left out, `filesAnalyzed: false`, no verification code, a missing originator or
//! supplier filled in), each one it describes CONTAINed by the image; on a base image only the
//! packages installed on top of it. The index package (supplier `Chainguard, Inc.`) is
//! VARIANT_OF each image and, with a `vcs-url`, GENERATED_FROM its source package.

mod spdx;

use super::assemble::Image;
use super::layer;
use super::oci;
use crate::apk::index::Index as ApkIndex;
use crate::apk::install;
use crate::fs::{Kind, Tree};
use crate::registry::reference::Reference;
use spdx::*;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

const NOASSERTION: &str = "NOASSERTION";
const PACKAGE_MANAGER: &str = "PACKAGE-MANAGER";
const NAMESPACE: &str = "https://spdx.org/spdxdocs/apko/";
const LICENSE_LIST_VERSION: &str = "3.27";
/// Where melange puts a package's own SBOM.
const APK_SBOM_DIR: &str = "var/lib/db/sbom";
/// The OS name apko gives the index SBOM (its suppliers).
const INDEX_OS_NAME: &str = "Chainguard, Inc.";

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

/// One installed package that ships its own SBOM.
#[derive(Debug, Clone)]
pub struct InstalledPackage {
    name: String,
    /// The package's own SBOM.
    own_sbom: crate::fs::Content,
}

/// What an image's SBOM says about its contents, read from its final filesystem.
#[derive(Debug, Clone)]
pub struct Contents {
    /// The OS release.
    pub os: OsInfo,
    /// The installed packages that ship their own SBOM, in database order.
    pub packages: Vec<InstalledPackage>,
    /// The image's date (seconds since the epoch).
    pub created: u64,
}

fn file<'a>(tree: &'a Tree, path: &str) -> Option<&'a crate::fs::Content> {
    match tree.get(&tree.resolve(path)).map(|e| &e.kind) {
        Some(Kind::File(data)) => Some(data),
        _ => None,
    }
}

/// `(name, version)` of each record of `tree`'s installed database, in its order.
fn installed(tree: &Tree) -> Vec<(String, String)> {
    let db = install::installed_db(tree).unwrap_or_default();
    match ApkIndex::parse(db) {
        Ok(index) => index
            .packages()
            .map(|p| {
                let p = p.to_package();
                (p.name, p.version)
            })
            .collect(),
        Err(e) => {
            tracing::warn!("the installed database cannot be read for the SBOM: {e}");
            Vec::new()
        }
    }
}

/// Reads the OS release (`/etc/os-release`, as apko: no other path) and the installed packages
/// with their own SBOMs from `tree`; on a base image (`base`, its tree) only the packages
/// installed on top of it, as apko's database holds only those.
pub fn contents(tree: &Tree, base: Option<&Tree>, created: u64) -> Contents {
    let os = file(tree, "etc/os-release").map_or_else(OsInfo::unknown, |d| {
        OsInfo::parse(&String::from_utf8_lossy(d))
    });
    let old: HashSet<(String, String)> = base
        .map(installed)
        .unwrap_or_default()
        .into_iter()
        .collect();
    let packages = installed(tree)
        .into_iter()
        .filter(|p| !old.contains(p))
        .filter_map(|(name, version)| {
            let own_sbom = own_sbom(tree, &name, &version)?;
            Some(InstalledPackage { name, own_sbom })
        })
        .collect();
    Contents {
        os,
        packages,
        created,
    }
}

/// melange's SBOM of a package: `<name>-<version>`, `<name>-<version without -rN>`, `<name>`.
fn own_sbom(tree: &Tree, name: &str, version: &str) -> Option<crate::fs::Content> {
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

/// The `sbom-<apkarch>.spdx.json` document of `image`, whose filesystem `contents` describes;
/// an error (apko's) when a package's own SBOM relates to an element it does not hold.
pub fn image_document(image: &Image, contents: &Contents, name: &str) -> Result<Vec<u8>, String> {
    let os = &contents.os;
    let (architecture, _) = image.arch.oci_platform();
    let supplier = supplier(&os.name);
    let digest = &image.descriptor.digest;
    let image_pkg = Package {
        id: identifier(&format!("SPDXRef-Package-Image-{digest}")),
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
    for l in &image.layers {
        let d = &l.descriptor;
        let layer_pkg = Package {
            id: format!("SPDXRef-Package-ImageLayer-{}", identifier(&d.digest)),
            name: d.digest.clone(),
            version: os.version.clone(),
            description: "apko operating system layer".into(),
            download_location: NOASSERTION.into(),
            supplier: supplier.clone(),
            primary_purpose: "CONTAINER".into(),
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
        packages.push(layer_pkg);
    }
    packages.push(Package {
        id: format!("SPDXRef-OperatingSystem-{}", identifier(&os.id)),
        name: os.id.clone(),
        version: os.version.clone(),
        supplier: supplier.clone(),
        description: "Operating System".into(),
        download_location: NOASSERTION.into(),
        primary_purpose: "OPERATING_SYSTEM".into(),
        ..Package::default()
    });
    let mut licensing_infos: Vec<LicensingInfo> = Vec::new();
    for p in &contents.packages {
        let own: OwnSbom = match serde_json::from_slice(&p.own_sbom) {
            Ok(d) => d,
            Err(e) => {
                // apko ignores an SBOM it cannot parse
                tracing::debug!("{}'s own SBOM is unreadable: {e}", p.name);
                continue;
            }
        };
        copy_own_sbom(
            own,
            &supplier,
            &image_pkg.id,
            &mut packages,
            &mut relationships,
            &mut licensing_infos,
        )
        .map_err(|e| {
            format!(
                "generating spdx sbom: parsing internal apk SBOM of {}: copying element: {e}",
                p.name
            )
        })?;
    }
    let mut seen = HashSet::new();
    packages.retain(|p| seen.insert(p.id.clone()));
    let first_layer = image
        .layers
        .first()
        .map(|l| format!("sbom-{}", l.descriptor.digest))
        .unwrap_or_else(|| "sbom".into());
    Ok(to_json(&Document {
        id: "SPDXRef-DOCUMENT".into(),
        name: first_layer,
        spdx_version: "SPDX-2.3",
        creation_info: creation_info(contents.created),
        data_license: "CC0-1.0",
        document_namespace: NAMESPACE,
        document_describes: vec![image_pkg.id],
        packages,
        relationships,
        licensing_infos,
    }))
}

/// Copies what a package's own SBOM describes (its `documentDescribes` and the targets of its
/// `SPDXRef-DOCUMENT DESCRIBES` relationships), and everything those relate to but files,
/// then relates the image to each described package, as apko's `ProcessInternalApkSBOM`.
fn copy_own_sbom(
    mut own: OwnSbom,
    supplier: &str,
    root: &str,
    packages: &mut Vec<Package>,
    relationships: &mut Vec<Relationship>,
    licensing_infos: &mut Vec<LicensingInfo>,
) -> Result<(), String> {
    // apko's fix-ups: files are stripped, so nothing was analysed; checkers want a supplier
    for q in &mut own.packages {
        if q.originator.is_empty() {
            q.originator = supplier.to_string();
        }
        if q.supplier.is_empty() {
            q.supplier = q.originator.clone();
        }
        q.files_analyzed = false;
    }
    let mut described: HashSet<&str> = own.document_describes.iter().map(String::as_str).collect();
    for r in &own.relationships {
        if r.element == "SPDXRef-DOCUMENT" && r.kind == "DESCRIBES" {
            described.insert(&r.related);
        }
    }
    let mut targets: Vec<String> = Vec::new();
    for q in &own.packages {
        if described.contains(q.id.as_str()) && !targets.contains(&q.id) {
            targets.push(q.id.clone());
        }
    }
    let is_file = |id: &str| id.starts_with("SPDXRef-File-");
    let mut todo: HashSet<String> = targets.iter().cloned().collect();
    loop {
        let before = todo.len();
        for r in &own.relationships {
            if !is_file(&r.related) && todo.contains(&r.element) {
                todo.insert(r.related.clone());
            }
        }
        if todo.len() == before {
            break;
        }
    }
    let mut done = HashSet::new();
    for q in own.packages.iter().filter(|q| todo.contains(&q.id)) {
        packages.push(q.clone());
        done.insert(q.id.clone());
    }
    relationships.extend(
        own.relationships
            .iter()
            .filter(|r| todo.contains(&r.element) && !is_file(&r.related))
            .cloned(),
    );
    let mut missing: Vec<&String> = todo.iter().filter(|id| !done.contains(*id)).collect();
    if !missing.is_empty() {
        missing.sort();
        return Err(format!(
            "unable to find {} elements in source document: {missing:?}",
            missing.len()
        ));
    }
    for info in own.licensing_infos {
        if !licensing_infos
            .iter()
            .any(|i| i.license_id == info.license_id)
        {
            licensing_infos.push(info);
        }
    }
    for id in &targets {
        relationships.push(Relationship::new(root, "CONTAINS", id));
    }
    Ok(())
}

/// The source package of a `vcs-url` (`URL@REVISION`) and its ID, as apko's
/// `addSourcePackage`.
fn source_package(vcs_url: &str, supplier: &str) -> Package {
    let (mut package_name, version, checksums) = match vcs_url.split_once('@') {
        Some((url, rev)) => (
            url,
            rev.to_string(),
            vec![Checksum {
                algorithm: "SHA1".into(),
                value: rev.into(),
            }],
        ),
        None => (vcs_url, String::new(), Vec::new()),
    };
    for scheme in ["git+ssh://", "git://", "https://"] {
        package_name = package_name.strip_prefix(scheme).unwrap_or(package_name);
    }
    let external_refs = match package_name
        .strip_prefix("github.com/")
        .and_then(|slug| slug.split_once('/'))
    {
        Some((org, repo)) => purl_ref(purl(
            "github",
            org,
            repo.strip_suffix(".git").unwrap_or(repo),
            &version,
            &[],
        )),
        None => Vec::new(),
    };
    Package {
        id: format!("SPDXRef-Package-{}", identifier(vcs_url)),
        name: package_name.into(),
        version,
        supplier: supplier.into(),
        primary_purpose: "SOURCE".into(),
        description: "Image configuration source".into(),
        download_location: if vcs_url.is_empty() {
            NOASSERTION.into()
        } else {
            vcs_url.into()
        },
        checksums,
        external_refs,
        ..Package::default()
    }
}

/// The `sbom-index.spdx.json` document of the index whose bytes are `index_json`.
pub fn index_document(
    images: &[Image],
    index_json: &[u8],
    name: &str,
    created: u64,
    vcs_url: &str,
) -> Vec<u8> {
    let digest = layer::sha256(index_json);
    let supplier = supplier(INDEX_OS_NAME);
    let index_name = if name == "image" { "index" } else { name };
    let index_pkg = Package {
        id: format!("SPDXRef-Package-{}", identifier(&digest)),
        name: digest.clone(),
        version: digest.clone(),
        description: "Multi-arch image index".into(),
        download_location: NOASSERTION.into(),
        supplier: supplier.clone(),
        source_info: "Generated at image build time by apko".into(),
        primary_purpose: "CONTAINER".into(),
        checksums: sha256_checksum(&digest),
        external_refs: purl_ref(purl(
            "oci",
            "",
            index_name,
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
            supplier: supplier.clone(),
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
    if !vcs_url.is_empty() {
        let source = source_package(vcs_url, &supplier);
        relationships.push(Relationship::new(
            &index_pkg.id,
            "GENERATED_FROM",
            &source.id,
        ));
        packages.push(source);
    }
    to_json(&Document {
        id: "SPDXRef-DOCUMENT".into(),
        name: format!("sbom-{digest}"),
        spdx_version: "SPDX-2.3",
        creation_info: creation_info(created),
        data_license: "CC0-1.0",
        document_namespace: NAMESPACE,
        document_describes: vec![index_pkg.id],
        packages,
        relationships,
        licensing_infos: Vec::new(),
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
    vcs_url: &str,
) -> std::io::Result<Vec<PathBuf>> {
    let name = purl_name(reference);
    let mut docs: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    for (image, c) in images.iter().zip(contents) {
        docs.push((
            dir.join(format!("sbom-{}.spdx.json", image.arch.to_apk())),
            image_document(image, c, &name).map_err(std::io::Error::other)?,
        ));
    }
    docs.push((
        dir.join("sbom-index.spdx.json"),
        index_document(images, index_json, &name, index_created, vcs_url),
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
            "pkg:oci/golden@sha256:ab?arch=amd64&mediaType=application%2Fvnd.oci.image.manifest.v1%2Bjson&os=linux"
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
    fn purls_keep_colons_and_escape_what_packageurl_go_escapes() {
        assert_eq!(
            purl("github", "org/", "a+b@c/d", "v1:2", &[("k", "a b&c")]),
            "pkg:github/org/a%2Bb%40c%2Fd@v1:2?k=a+b%26c"
        );
        assert_eq!(purl("github", "", "x", "", &[]), "pkg:github/x");
    }

    #[test]
    fn a_packages_own_sbom_is_copied_as_apko_1_2_39_copies_it() {
        let own: OwnSbom = serde_json::from_value(serde_json::json!({
            "documentDescribes": ["SPDXRef-Package-a"],
            "packages": [
                {"SPDXID": "SPDXRef-Package-a", "name": "a", "filesAnalyzed": true,
                 "hasFiles": ["SPDXRef-File-x"], "licenseInfoFromFiles": ["MIT"],
                 "packageVerificationCode": {"packageVerificationCodeValue": "ab"},
                 "downloadLocation": "NOASSERTION"},
                {"SPDXID": "SPDXRef-Package-b", "name": "b", "originator": "Person: B"},
                {"SPDXID": "SPDXRef-Package-c", "name": "c", "supplier": "Organization: C"},
                {"SPDXID": "SPDXRef-Package-unrelated", "name": "u"}
            ],
            "relationships": [
                {"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
                 "relatedSpdxElement": "SPDXRef-Package-c"},
                {"spdxElementId": "SPDXRef-Package-a", "relationshipType": "CONTAINS",
                 "relatedSpdxElement": "SPDXRef-File-x"},
                {"spdxElementId": "SPDXRef-Package-a", "relationshipType": "DESCRIBED_BY",
                 "relatedSpdxElement": "SPDXRef-Package-b"}
            ],
            "hasExtractedLicensingInfos": [
                {"licenseId": "LicenseRef-x", "extractedText": "x"},
                {"licenseId": "LicenseRef-known", "extractedText": "other"}
            ]
        }))
        .unwrap();
        let (mut packages, mut relationships) = (Vec::new(), Vec::new());
        let mut infos = vec![LicensingInfo {
            license_id: "LicenseRef-known".into(),
            extracted_text: "known".into(),
        }];
        copy_own_sbom(
            own,
            "Organization: OS",
            "IMG",
            &mut packages,
            &mut relationships,
            &mut infos,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(to_json(&packages)).unwrap(),
            r#"[
  {
    "SPDXID": "SPDXRef-Package-a",
    "name": "a",
    "filesAnalyzed": false,
    "downloadLocation": "NOASSERTION",
    "originator": "Organization: OS",
    "supplier": "Organization: OS"
  },
  {
    "SPDXID": "SPDXRef-Package-b",
    "name": "b",
    "filesAnalyzed": false,
    "downloadLocation": "",
    "originator": "Person: B",
    "supplier": "Person: B"
  },
  {
    "SPDXID": "SPDXRef-Package-c",
    "name": "c",
    "filesAnalyzed": false,
    "downloadLocation": "",
    "originator": "Organization: OS",
    "supplier": "Organization: C"
  }
]
"#
        );
        let rel: Vec<String> = relationships
            .iter()
            .map(|r| format!("{} {} {}", r.element, r.kind, r.related))
            .collect();
        assert_eq!(
            rel,
            [
                "SPDXRef-Package-a DESCRIBED_BY SPDXRef-Package-b",
                "IMG CONTAINS SPDXRef-Package-a",
                "IMG CONTAINS SPDXRef-Package-c"
            ]
        );
        let ids: Vec<(&str, &str)> = infos
            .iter()
            .map(|i| (i.license_id.as_str(), i.extracted_text.as_str()))
            .collect();
        assert_eq!(ids, [("LicenseRef-known", "known"), ("LicenseRef-x", "x")]);

        // an element it relates to but does not hold: apko's error
        let own: OwnSbom = serde_json::from_value(serde_json::json!({
            "documentDescribes": ["SPDXRef-Package-a"],
            "packages": [{"SPDXID": "SPDXRef-Package-a", "name": "a"}],
            "relationships": [{"spdxElementId": "SPDXRef-Package-a",
                "relationshipType": "DEPENDS_ON", "relatedSpdxElement": "SPDXRef-Package-gone"}]
        }))
        .unwrap();
        assert_eq!(
            copy_own_sbom(
                own,
                "",
                "IMG",
                &mut Vec::new(),
                &mut Vec::new(),
                &mut Vec::new()
            )
            .unwrap_err(),
            "unable to find 1 elements in source document: [\"SPDXRef-Package-gone\"]"
        );
    }

    #[test]
    fn the_vcs_source_package_is_apkos() {
        let p = source_package(
            "https://github.com/chainguard-dev/apko.git@0123abc",
            "Organization: Chainguard, Inc.",
        );
        assert_eq!(
            String::from_utf8(to_json(&p)).unwrap(),
            r#"{
  "SPDXID": "SPDXRef-Package-https-C47C47github.comC47chainguard-devC47apko.gitC640123abc",
  "name": "github.com/chainguard-dev/apko.git",
  "versionInfo": "0123abc",
  "filesAnalyzed": false,
  "description": "Image configuration source",
  "downloadLocation": "https://github.com/chainguard-dev/apko.git@0123abc",
  "supplier": "Organization: Chainguard, Inc.",
  "primaryPackagePurpose": "SOURCE",
  "checksums": [
    {
      "algorithm": "SHA1",
      "checksumValue": "0123abc"
    }
  ],
  "externalRefs": [
    {
      "referenceCategory": "PACKAGE-MANAGER",
      "referenceLocator": "pkg:github/chainguard-dev/apko@0123abc",
      "referenceType": "purl"
    }
  ]
}
"#
        );
        let p = source_package("git://example.invalid/x", "S");
        assert_eq!(
            (
                p.name.as_str(),
                p.version.as_str(),
                p.checksums.len(),
                p.external_refs.len()
            ),
            ("example.invalid/x", "", 0, 0)
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
