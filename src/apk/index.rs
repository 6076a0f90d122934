//! `APKINDEX.tar.gz`: a repository's signed list of packages. The text is kept as one
//! string and each record as byte spans into it, so reading a whole distribution's index
//! costs little more than inflating it; full metadata is parsed only for the packages
//! installed ([`PackageRef::to_package`]).

use super::ApkError;
use super::keys::Keyring;
use super::meta::Package;
use super::sign;
use std::io::Read;

/// A byte range of the index text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
}

impl Span {
    fn get<'a>(&self, text: &'a str) -> &'a str {
        &text[self.start as usize..self.end as usize]
    }
}

/// The fields resolution needs, as spans; the rest stays in the record's text.
#[derive(Debug, Clone, Default)]
struct Record {
    all: Span,
    name: Span,
    version: Span,
    arch: Span,
    checksum: Span,
    origin: Span,
    depends: Span,
    provides: Span,
    install_if: Span,
    replaces: Span,
    provider_priority: Option<u32>,
    size: u64,
}

/// A parsed index (or installed database, which has the same record format).
#[derive(Debug, Default)]
pub struct Index {
    text: String,
    records: Vec<Record>,
    /// The DESCRIPTION entry (e.g. `v3.16.2-...`), empty when absent.
    pub description: String,
    /// The key whose signature was verified, if any.
    pub signed_by: Option<String>,
}

/// One package of an index, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct PackageRef<'a> {
    text: &'a str,
    record: &'a Record,
}

/// Space-separated words of a field.
pub type Words<'a> = std::str::SplitAsciiWhitespace<'a>;

impl<'a> PackageRef<'a> {
    /// `P:`
    pub fn name(&self) -> &'a str {
        self.record.name.get(self.text)
    }
    /// `V:`
    pub fn version(&self) -> &'a str {
        self.record.version.get(self.text)
    }
    /// `A:`
    pub fn arch(&self) -> &'a str {
        self.record.arch.get(self.text)
    }
    /// `C:` (`Q1…`), empty when absent.
    pub fn checksum(&self) -> &'a str {
        self.record.checksum.get(self.text)
    }
    /// `o:`, empty when absent.
    pub fn origin(&self) -> &'a str {
        self.record.origin.get(self.text)
    }
    /// `S:`: size of the `.apk`.
    pub fn size(&self) -> u64 {
        self.record.size
    }
    /// `k:`
    pub fn provider_priority(&self) -> Option<u32> {
        self.record.provider_priority
    }
    /// `D:` entries.
    pub fn depends(&self) -> Words<'a> {
        self.record.depends.get(self.text).split_ascii_whitespace()
    }
    /// `p:` entries (`name` or `name=version`).
    pub fn provides(&self) -> Words<'a> {
        self.record.provides.get(self.text).split_ascii_whitespace()
    }
    /// `i:` entries.
    pub fn install_if(&self) -> Words<'a> {
        self.record
            .install_if
            .get(self.text)
            .split_ascii_whitespace()
    }
    /// `r:` entries.
    pub fn replaces(&self) -> Words<'a> {
        self.record.replaces.get(self.text).split_ascii_whitespace()
    }
    /// The record's text (every line, up to the blank line).
    pub fn record_text(&self) -> &'a str {
        self.record.all.get(self.text)
    }
    /// `name-version`.
    pub fn id(&self) -> String {
        format!("{}-{}", self.name(), self.version())
    }
    /// Every field, owned.
    pub fn to_package(&self) -> Package {
        let mut p = Package::default();
        for line in self.record_text().lines() {
            let b = line.as_bytes();
            if b.len() >= 2 && b[1] == b':' {
                // Values were checked when the index was read.
                let _ = p.set_index_field(b[0], &line[2..]);
            }
        }
        p
    }
}

/// Parses a number field without allocating; `what` names it in the error.
fn number(value: &str, what: &str, line: usize) -> Result<u64, String> {
    value
        .parse()
        .map_err(|_| format!("line {line}: {what} {value:?} is not a number"))
}

/// A package name apk could have written: printable ASCII or UTF-8, no blanks, no `/` or `\\`,
/// not `.` or `..` (those could escape a repository directory once made into a path).
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '/' || c == '\\')
}

impl Index {
    /// Parses index text (`APKINDEX` or `lib/apk/db/installed`). Lines the index format does
    /// not know are skipped; a record without `P:` or `V:` is an error naming its line.
    pub fn parse(text: String) -> Result<Index, String> {
        if text.len() > u32::MAX as usize {
            return Err("the index is larger than 4 GiB".to_string());
        }
        let mut records = Vec::with_capacity(text.len() / 400);
        let bytes = text.as_bytes();
        let mut record = Record::default();
        let mut in_record = false;
        let mut record_line = 0;
        let mut pos = 0usize;
        let mut line_no = 0usize;
        let finish = |record: &mut Record,
                      end: usize,
                      line: usize|
         -> Result<Option<Record>, String> {
            let mut r = std::mem::take(record);
            if r.name.end == r.name.start || r.version.end == r.version.start {
                return Err(format!(
                    "the record at line {line} has no P: (name) or V: (version)"
                ));
            }
            // Names and versions become file names (`NAME-VERSION.apk`): refused before
            // any path is built from them.
            let name = r.name.get(&text);
            if !valid_name(name) {
                return Err(format!(
                    "the record at line {line} has an invalid package name {name:?} (a name is printable, without blanks or path separators)"
                ));
            }
            let version = r.version.get(&text);
            if !crate::apk::version::is_valid(version) {
                return Err(format!(
                    "the record at line {line} (package {name}) has an invalid version {version:?}"
                ));
            }
            r.all.end = end as u32;
            Ok(Some(r))
        };
        while pos <= bytes.len() {
            let end = memchr::memchr(b'\n', &bytes[pos..]).map_or(bytes.len(), |i| pos + i);
            line_no += 1;
            let line = &bytes[pos..end];
            if line.is_empty() {
                if in_record {
                    records.extend(finish(&mut record, pos, record_line)?);
                    in_record = false;
                }
            } else {
                if !in_record {
                    in_record = true;
                    record_line = line_no;
                    record.all.start = pos as u32;
                }
                if line.len() >= 2 && line[1] == b':' {
                    let span = Span {
                        start: (pos + 2) as u32,
                        end: end as u32,
                    };
                    match line[0] {
                        b'P' => record.name = span,
                        b'V' => record.version = span,
                        b'A' => record.arch = span,
                        b'C' => record.checksum = span,
                        b'o' => record.origin = span,
                        b'D' => record.depends = span,
                        b'p' => record.provides = span,
                        b'i' => record.install_if = span,
                        b'r' => record.replaces = span,
                        b'S' => record.size = number(span.get(&text), "S: (size)", line_no)?,
                        b'k' => {
                            record.provider_priority = Some(
                                number(span.get(&text), "k: (provider priority)", line_no)?
                                    .min(u32::MAX as u64) as u32,
                            )
                        }
                        b'I' => {
                            number(span.get(&text), "I: (installed size)", line_no)?;
                        }
                        b't' => {
                            number(span.get(&text), "t: (build time)", line_no)?;
                        }
                        _ => {}
                    }
                }
            }
            if end == bytes.len() {
                break;
            }
            pos = end + 1;
        }
        if in_record {
            records.extend(finish(&mut record, bytes.len(), record_line)?);
        }
        Ok(Index {
            text,
            records,
            description: String::new(),
            signed_by: None,
        })
    }

    /// Reads an `APKINDEX.tar.gz`. With a keyring, a signature by one of its keys must match
    /// (`None` skips the check: `--ignore-signatures`). `what` names the index in errors.
    pub fn from_targz(
        bytes: &[u8],
        keyring: Option<&Keyring>,
        what: &str,
    ) -> Result<Index, ApkError> {
        let bound = sign::Bound::index();
        let signed = sign::split(bytes, what, bound)?;
        let signed_by = match keyring {
            Some(keyring) => Some(sign::verify(&signed, keyring, what)?),
            None => None,
        };
        let malformed = |why: String| ApkError::Malformed(format!("{what}: {why}"));
        let unreadable = |doing: &str, e: std::io::Error| {
            if crate::net::is_inflate_limit(&e) {
                ApkError::Malformed(format!("{what}: {e}"))
            } else {
                malformed(format!("{doing}: {e}"))
            }
        };
        // The last member's trailer holds its size: a good guess for the whole.
        let hint = bytes
            .len()
            .checked_sub(4)
            .map(|i| u32::from_le_bytes(bytes[i..].try_into().unwrap()) as usize)
            .unwrap_or(0);
        let decoder = bound.reader(flate2::bufread::MultiGzDecoder::new(signed.signed));
        let mut archive = tar::Archive::new(decoder);
        let mut index = None;
        let mut description = String::new();
        let entries = archive
            .entries()
            .map_err(|e| unreadable("not a tar.gz", e))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| unreadable("not a tar.gz", e))?;
            let path = entry
                .path()
                .map_err(|e| malformed(e.to_string()))?
                .to_string_lossy()
                .into_owned();
            match path.as_str() {
                "APKINDEX" => {
                    let size = (entry.size() as usize)
                        .min(hint.max(1 << 20))
                        .min(bound.limit.min(usize::MAX as u64) as usize);
                    let mut data = Vec::with_capacity(size);
                    entry
                        .read_to_end(&mut data)
                        .map_err(|e| unreadable("reading APKINDEX", e))?;
                    index = Some(data);
                }
                "DESCRIPTION" => {
                    let mut data = Vec::new();
                    entry
                        .read_to_end(&mut data)
                        .map_err(|e| unreadable("reading DESCRIPTION", e))?;
                    description = String::from_utf8_lossy(&data).trim().to_string();
                }
                _ => {}
            }
        }
        let data = index.ok_or_else(|| malformed("it has no APKINDEX entry".to_string()))?;
        let text = String::from_utf8(data)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        let mut index = Index::parse(text).map_err(malformed)?;
        index.description = description;
        index.signed_by = signed_by;
        Ok(index)
    }

    /// Number of packages.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when there are no packages.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The `i`-th package.
    pub fn get(&self, i: usize) -> PackageRef<'_> {
        PackageRef {
            text: &self.text,
            record: &self.records[i],
        }
    }

    /// Every package, in index order.
    pub fn packages(&self) -> impl Iterator<Item = PackageRef<'_>> {
        self.records.iter().map(|record| PackageRef {
            text: &self.text,
            record,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_errors() {
        let index = Index::parse(
            "C:Q1abc=\nP:a\nV:1.0-r0\nA:x86_64\nS:10\nD:b so:libc.so.6\np:cmd:a=1.0-r0 virt\nk:5\nT:x y\n\nP:b\nV:2\n"
                .to_string(),
        )
        .unwrap();
        assert_eq!(index.len(), 2);
        let a = index.get(0);
        assert_eq!(
            (a.name(), a.version(), a.arch(), a.checksum()),
            ("a", "1.0-r0", "x86_64", "Q1abc=")
        );
        assert_eq!(a.depends().collect::<Vec<_>>(), ["b", "so:libc.so.6"]);
        assert_eq!(a.provides().collect::<Vec<_>>(), ["cmd:a=1.0-r0", "virt"]);
        assert_eq!((a.size(), a.provider_priority()), (10, Some(5)));
        assert_eq!(a.to_package().description, "x y");
        assert_eq!(index.get(1).id(), "b-2");
        assert_eq!(
            Index::parse("P:a\nV:1\nS:x\n".to_string()).unwrap_err(),
            "line 3: S: (size) \"x\" is not a number"
        );
        assert_eq!(
            Index::parse("P:a\nV:1\n\n\nA:x\n".to_string()).unwrap_err(),
            "the record at line 5 has no P: (name) or V: (version)"
        );
    }
}
