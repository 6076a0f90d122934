//! A `.apk` file: gzip members for an optional signature, the control section (`.PKGINFO`
//! and scripts) and the data section (the files). The control section's SHA-1 must equal the
//! index's `C:Q1…` and the data section's SHA-256 the `.PKGINFO` `datahash`, so a package
//! swapped or edited after the index was signed is refused.
//!
//! Once verified, the data section moves to the build's spill file ([`crate::fs::Spill`]) and
//! is inflated from there, entry by entry, as it is installed: a package costs memory for its
//! control section only.

use super::ApkError;
use super::meta::Package;
use super::sign;
use crate::fs::{Content, CopyError, Spill};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::{Digest, Sha1};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

/// A byte range of a package file and its digest, as apko's lockfiles record them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// First byte.
    pub start: u64,
    /// Last byte (inclusive, as in `bytes=START-END`).
    pub end: u64,
    /// `sha1-<base64>` (signature, control) or `sha256-<base64>` (data).
    pub checksum: String,
}

impl Section {
    /// A SHA-1 section (signature, control).
    fn sha1(start: usize, bytes: &[u8]) -> Section {
        Section {
            start: start as u64,
            end: (start + bytes.len()).saturating_sub(1) as u64,
            checksum: format!("sha1-{}", BASE64.encode(Sha1::digest(bytes))),
        }
    }

    /// `bytes=START-END`.
    pub fn range(&self) -> String {
        format!("bytes={}-{}", self.start, self.end)
    }
}

/// Where a package's parts are: what a lockfile pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sections {
    /// The signature member, when the package is signed.
    pub signature: Option<Section>,
    /// The control member.
    pub control: Section,
    /// The data member(s).
    pub data: Section,
}

/// A verified package file.
#[derive(Debug)]
pub struct ApkFile {
    /// `.PKGINFO`, with [`Package::checksum`] set to the control section's `Q1…`.
    pub package: Package,
    /// Byte ranges and digests of its parts.
    pub sections: Sections,
    /// The control section, decompressed (a tar: `.PKGINFO`, `.pre-install`, …).
    pub control: Vec<u8>,
    /// The signature and control members as read.
    head: Vec<u8>,
    /// The data section, compressed, as read (verified against `datahash`).
    data: Content,
}

/// What a data entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A directory.
    Dir,
    /// A regular file and its contents.
    File(Vec<u8>),
    /// A symbolic link to this target.
    Symlink(String),
    /// A hard link to this path of the package.
    Hardlink(String),
    /// A character device.
    CharDevice(u32, u32),
    /// A block device.
    BlockDevice(u32, u32),
    /// A named pipe.
    Fifo,
}

/// One entry of the data section.
#[derive(Debug, Clone)]
pub struct DataEntry {
    /// The path as in the tar (relative, may end in `/` for directories).
    pub path: String,
    /// What it is.
    pub kind: EntryKind,
    /// Permission bits (`0o7777`).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time.
    pub mtime: u64,
    /// `SCHILY.xattr.*` PAX records.
    pub xattrs: BTreeMap<String, Vec<u8>>,
    /// The `APK-TOOLS.checksum.SHA1` PAX record as `Q1…`, when present.
    pub checksum: Option<String>,
}

/// `Q1` + base64 of a SHA-1 digest: apk's checksum notation.
pub fn q1(digest: &[u8]) -> String {
    format!("Q1{}", BASE64.encode(digest))
}

impl ApkFile {
    /// Verifies and opens `bytes`. `expected` is the index's `C:` checksum (`None` for a
    /// package that comes with no index); `what` names the package in errors.
    pub fn open(bytes: Vec<u8>, expected: Option<&str>, what: &str) -> Result<ApkFile, ApkError> {
        let malformed = |why: String| ApkError::Malformed(format!("package {what}: {why}"));
        let control_bound = sign::Bound::control();
        let control_offset = sign::split(&bytes, &format!("package {what}"), control_bound)?.offset;
        let (control, control_len) = sign::first_member(&bytes[control_offset..], control_bound)
            .map_err(|e| match expected {
                _ if crate::net::is_inflate_limit(&e) => {
                    malformed(format!("its control section: {e}"))
                }
                Some(sum) => ApkError::Integrity(format!(
                    "package {what}: its control section is corrupt ({e}), so it cannot match the index's checksum {sum}; refusing to install it"
                )),
                None => malformed(format!("its control section is not gzip: {e}")),
            })?;
        let control_bytes = &bytes[control_offset..control_offset + control_len];
        let checksum = q1(&Sha1::digest(control_bytes));
        if let Some(expected) = expected
            && expected != checksum
        {
            return Err(ApkError::Integrity(format!(
                "package {what}: its control section's checksum is {checksum} but the index says {expected}: the package was modified or replaced after the index was signed; refusing to install it"
            )));
        }
        let mut package = None;
        let mut archive = tar::Archive::new(&control[..]);
        let entries = archive
            .entries()
            .map_err(|e| malformed(format!("its control section is not a tar: {e}")))?;
        for entry in entries {
            let mut entry =
                entry.map_err(|e| malformed(format!("its control section is not a tar: {e}")))?;
            if entry.path_bytes().as_ref() == b".PKGINFO" {
                let mut text = String::new();
                entry
                    .read_to_string(&mut text)
                    .map_err(|e| malformed(format!("reading .PKGINFO: {e}")))?;
                package = Some(
                    Package::from_pkginfo(&text)
                        .map_err(|e| malformed(format!("its .PKGINFO is invalid: {e}")))?,
                );
            }
        }
        let mut package = package.ok_or_else(|| malformed("it has no .PKGINFO".to_string()))?;
        package.checksum = checksum;
        package.size = bytes.len() as u64;
        let data_offset = control_offset + control_len;
        let data_digest = Sha256::digest(&bytes[data_offset..]);
        let sections = Sections {
            signature: (control_offset > 0).then(|| Section::sha1(0, &bytes[..control_offset])),
            control: Section::sha1(control_offset, control_bytes),
            data: Section {
                start: data_offset as u64,
                end: (bytes.len() as u64).saturating_sub(1),
                checksum: format!("sha256-{}", BASE64.encode(data_digest)),
            },
        };
        if let Some(hash) = &package.data_hash {
            let actual = hex::encode(data_digest);
            if !actual.eq_ignore_ascii_case(hash) {
                return Err(ApkError::Integrity(format!(
                    "package {what}: its data section's SHA-256 is {actual} but its .PKGINFO says datahash = {hash}: the files were modified after the package was built; refusing to install it"
                )));
            }
        }
        let data = if bytes.len() - data_offset <= crate::fs::INLINE_MAX {
            Content::from(&bytes[data_offset..])
        } else {
            let spilled = Spill::shared().and_then(|spill| {
                let (offset, len) = spill.append_bytes(&bytes[data_offset..])?;
                Ok(Content::spilled(&spill, offset, len))
            });
            spilled.map_err(|e| {
                ApkError::Install(format!(
                    "package {what}: cannot keep its data section in {}: {e}",
                    crate::fs::spill_dir().display()
                ))
            })?
        };
        let mut head = bytes;
        head.truncate(data_offset);
        head.shrink_to_fit();
        Ok(ApkFile {
            package,
            sections,
            control,
            head,
            data,
        })
    }

    /// The file as read (what the download cache keeps), read back whole.
    pub fn raw(&self) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(self.head.len() + self.data.len() as usize);
        out.extend_from_slice(&self.head);
        self.data.write_to(&mut out)?;
        Ok(out)
    }

    /// The control section's executable entries (`.pre-install`, `.trigger`, …) with their
    /// tar headers: what goes into `scripts.tar`.
    pub fn scripts(&self) -> Vec<(tar::Header, Vec<u8>)> {
        let mut out = Vec::new();
        let mut archive = tar::Archive::new(&self.control[..]);
        let Ok(entries) = archive.entries() else {
            return out;
        };
        for mut entry in entries.flatten() {
            let name = entry.path_bytes().into_owned();
            let mode = entry.header().mode().unwrap_or(0);
            if name == b".PKGINFO" || mode & 0o555 != 0o555 {
                continue;
            }
            let header = entry.header().clone();
            let mut data = Vec::new();
            if entry.read_to_end(&mut data).is_ok() {
                out.push((header, data));
            }
        }
        out
    }

    /// Calls `f` for each entry of the data section, in tar order, a regular file's contents
    /// in memory (tests and tools; the installer uses [`ApkFile::for_each_entry_spilled`]).
    pub fn for_each_entry(
        &self,
        mut f: impl FnMut(DataEntry) -> Result<(), ApkError>,
    ) -> Result<(), ApkError> {
        let bound = sign::Bound::data();
        self.walk(|mut entry, size, reader, bad| {
            if let EntryKind::File(data) = &mut entry.kind {
                // The header's size is the sender's word: no more than the bound, nor than a
                // first guess.
                let hint = size.min(bound.limit).min(64 << 20);
                data.reserve(hint as usize);
                reader.read_to_end(data).map_err(bad)?;
            }
            f(entry)
        })
    }

    /// Calls `f` for each entry of the data section, in tar order, with a regular file's
    /// contents as a [`Content`]: small ones inline, the rest streamed into `spill` as they are
    /// inflated (the entry's `EntryKind::File` is then empty).
    pub fn for_each_entry_spilled(
        &self,
        spill: &Arc<Spill>,
        mut f: impl FnMut(DataEntry, Option<Content>) -> Result<(), ApkError>,
    ) -> Result<(), ApkError> {
        let what = self.package.id();
        self.walk(|entry, _, reader, bad| {
            let content = match entry.kind {
                EntryKind::File(_) => {
                    Some(Content::from_reader(reader, spill).map_err(|e| match e {
                        CopyError::Read(e) => bad(e),
                        CopyError::Write(e) => ApkError::Install(format!(
                            "package {what}: cannot write its files to {}: {e}",
                            spill.dir().display()
                        )),
                    })?)
                }
                _ => None,
            };
            f(entry, content)
        })
    }

    /// Walks the data section: each entry (a regular file with no data yet), its header's
    /// size, a reader of its contents and the error mapping for reads.
    fn walk(
        &self,
        mut f: impl FnMut(
            DataEntry,
            u64,
            &mut dyn Read,
            &dyn Fn(std::io::Error) -> ApkError,
        ) -> Result<(), ApkError>,
    ) -> Result<(), ApkError> {
        let what = self.package.id();
        let bad = |e: std::io::Error| {
            if crate::net::is_inflate_limit(&e) {
                ApkError::Malformed(format!("package {what}: its data section: {e}"))
            } else {
                ApkError::Malformed(format!(
                    "package {what}: its data section is unreadable: {e}"
                ))
            }
        };
        let bound = sign::Bound::data();
        let source = std::io::BufReader::with_capacity(64 * 1024, ContentReader::new(&self.data));
        let decoder = bound.reader(flate2::bufread::MultiGzDecoder::new(source));
        let mut archive = tar::Archive::new(decoder);
        for entry in archive.entries().map_err(bad)? {
            let mut entry = entry.map_err(bad)?;
            let header = entry.header().clone();
            let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let mut xattrs = BTreeMap::new();
            let mut checksum = None;
            if let Some(pax) = entry.pax_extensions().map_err(bad)? {
                for ext in pax {
                    let ext = ext.map_err(bad)?;
                    let key = ext.key().unwrap_or_default();
                    if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                        xattrs.insert(name.to_string(), ext.value_bytes().to_vec());
                    } else if key == "APK-TOOLS.checksum.SHA1" {
                        let value = ext.value().unwrap_or_default();
                        checksum = Some(match hex::decode(value) {
                            Ok(digest) => q1(&digest),
                            Err(_) => value.to_string(),
                        });
                    }
                }
            }
            let link = || {
                entry
                    .link_name_bytes()
                    .map(|l| String::from_utf8_lossy(&l).into_owned())
                    .unwrap_or_default()
            };
            let device = || {
                (
                    header.device_major().ok().flatten().unwrap_or(0),
                    header.device_minor().ok().flatten().unwrap_or(0),
                )
            };
            let kind = match header.entry_type() {
                tar::EntryType::Directory => EntryKind::Dir,
                tar::EntryType::Symlink => EntryKind::Symlink(link()),
                tar::EntryType::Link => EntryKind::Hardlink(link()),
                tar::EntryType::Char => {
                    let (a, b) = device();
                    EntryKind::CharDevice(a, b)
                }
                tar::EntryType::Block => {
                    let (a, b) = device();
                    EntryKind::BlockDevice(a, b)
                }
                tar::EntryType::Fifo => EntryKind::Fifo,
                tar::EntryType::Regular | tar::EntryType::Continuous => EntryKind::File(Vec::new()),
                // GNU long names and PAX headers are consumed by the tar reader.
                _ => continue,
            };
            let data_entry = DataEntry {
                path,
                kind,
                mode: header.mode().unwrap_or(0o644) & 0o7777,
                uid: header.uid().unwrap_or(0) as u32,
                gid: header.gid().unwrap_or(0) as u32,
                mtime: header.mtime().unwrap_or(0),
                xattrs,
                checksum,
            };
            f(data_entry, header.size().unwrap_or(0), &mut entry, &bad)?;
        }
        Ok(())
    }
}

/// A [`Content`] read from the start, in order.
struct ContentReader<'a> {
    content: &'a Content,
    at: u64,
}

impl<'a> ContentReader<'a> {
    fn new(content: &'a Content) -> ContentReader<'a> {
        ContentReader { content, at: 0 }
    }
}

impl Read for ContentReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (self.content.len() - self.at).min(buf.len() as u64) as usize;
        self.content.read_at(self.at, &mut buf[..n])?;
        self.at += n as u64;
        Ok(n)
    }
}
