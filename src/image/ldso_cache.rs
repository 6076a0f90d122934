//! `/etc/ld.so.cache` for glibc images, as apko writes it (apk runs no `ldconfig`): without
//! it, glibc finds only libraries in its built-in directories, not those `/etc/ld.so.conf`
//! adds. Written only when the image has `/etc/ld.so.conf`.

use crate::fs::{Entry, Kind, Tree};

const MAGIC: &[u8; 17] = b"glibc-ld.so.cache";
const VERSION: &[u8; 3] = b"1.1";
const HEADER_SIZE: usize = 48;
const ENTRY_SIZE: usize = 24;
/// `FLAG_ELF | FLAG_ELF_LIBC6`.
const FLAG_ELF_LIBC6: u32 = 0x0003;
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;
const ET_DYN: u16 = 3;
const SHT_DYNAMIC: u32 = 6;
const DT_SONAME: i64 = 14;

/// One cache entry: the library's path as found under its directory, and its flags.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CacheEntry {
    path: String,
    flags: u32,
}

/// Writes `etc/ld.so.cache` when the tree has `etc/ld.so.conf`: `/lib` and the directories
/// the configuration lists (with its `include` globs), in apko's entry order and layout.
pub fn update(tree: &mut Tree, mtime: u64) {
    if file(tree, "etc/ld.so.conf").is_none() {
        return;
    }
    let mut dirs = vec!["/lib".to_string()];
    dirs.extend(parse_conf(tree, "etc/ld.so.conf", 0));
    let entries = entries(tree, &dirs);
    let mut e = Entry::file(write(&entries), 0o644);
    e.mtime = mtime;
    let path = tree.resolve("etc/ld.so.cache");
    if let Err(err) = tree.insert(&path, e) {
        tracing::warn!("cannot write /etc/ld.so.cache: {err}");
    }
}

fn file<'a>(tree: &'a Tree, path: &str) -> Option<&'a [u8]> {
    content(tree, path).map(|c| &c[..])
}

fn content<'a>(tree: &'a Tree, path: &str) -> Option<&'a crate::fs::Content> {
    match tree.get(&tree.resolve(path)).map(|e| &e.kind) {
        Some(Kind::File(data)) => Some(data),
        _ => None,
    }
}

/// The directories an `ld.so.conf` lists, following `include GLOB` as apko does: the
/// included files' directories are returned and the rest of the including file is not read.
fn parse_conf(tree: &Tree, path: &str, depth: u32) -> Vec<String> {
    let Some(text) = file(tree, path) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(text).into_owned();
    let mut dirs: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        if let Some(glob) = line.strip_prefix("include ") {
            let glob = glob.trim().trim_start_matches('/');
            if depth < 8 {
                for matched in glob_paths(tree, glob) {
                    dirs.extend(parse_conf(tree, &matched, depth + 1));
                }
            }
            return dirs;
        }
        if !dirs.iter().any(|d| d == line) {
            dirs.push(line.to_string());
        }
    }
    dirs
}

/// Paths in the tree matching `pattern` (`*` and `?` within one component), sorted, as Go's
/// `fs.Glob`.
fn glob_paths(tree: &Tree, pattern: &str) -> Vec<String> {
    let mut found = vec![String::new()];
    for part in pattern.split('/').filter(|p| !p.is_empty()) {
        let mut next = Vec::new();
        for dir in &found {
            if !part.contains(['*', '?']) {
                let path = join(dir, part);
                if tree.get(&tree.resolve(&path)).is_some() {
                    next.push(path);
                }
                continue;
            }
            let real = tree.resolve(dir);
            for (name, _) in tree.children(&real) {
                if matches(part.as_bytes(), name.as_bytes()) {
                    next.push(join(dir, name));
                }
            }
        }
        found = next;
    }
    found.sort();
    found.retain(|p| !p.is_empty());
    found
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// Shell-style `*`/`?` matching of one path component.
fn matches(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            matches(&pattern[1..], name) || (!name.is_empty() && matches(pattern, &name[1..]))
        }
        (Some(b'?'), Some(_)) => matches(&pattern[1..], &name[1..]),
        (Some(p), Some(n)) if p == n => matches(&pattern[1..], &name[1..]),
        _ => false,
    }
}

/// Every library of `dirs` (the first directory that has a name wins), in the order ld.so's
/// binary search needs: descending by [`libcmp`], as ldconfig writes them. (apko sorts by
/// name ascending, so ld.so's search misses most entries of a cache with more than one.)
fn entries(tree: &Tree, dirs: &[String]) -> Vec<CacheEntry> {
    let mut by_name: std::collections::HashMap<String, CacheEntry> = Default::default();
    for dir in dirs {
        let rel = dir.trim_start_matches('/');
        let real = tree.resolve(rel);
        if !matches!(tree.get(&real).map(|e| &e.kind), Some(Kind::Dir)) {
            continue;
        }
        for (name, entry) in tree.children(&real) {
            // Read for the moment, not kept: every library of the image passes here.
            let lib = match &entry.kind {
                Kind::File(d) => d,
                Kind::Symlink(_) => match content(tree, &join(&real, name)) {
                    Some(d) => d,
                    None => continue,
                },
                _ => continue,
            };
            let data = match lib.read() {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!("/{rel}/{name}: {e}; left out of /etc/ld.so.cache");
                    continue;
                }
            };
            let Some(elf) = Elf::parse(&data) else {
                continue;
            };
            let flags = FLAG_ELF_LIBC6
                | match elf.machine {
                    EM_X86_64 => 0x0300,
                    EM_AARCH64 => 0x0a00,
                    other => {
                        tracing::warn!(
                            "/{rel}/{name}: ELF machine {other} is not x86_64 or aarch64; left out of /etc/ld.so.cache"
                        );
                        continue;
                    }
                };
            let mut sonames = elf.sonames;
            if sonames.is_empty() && name.ends_with(".so") {
                sonames.push(name.to_string());
            }
            for soname in sonames {
                let Some(stem) = lib_stem(&soname) else {
                    continue;
                };
                if name != soname && name != format!("{stem}.so") {
                    continue;
                }
                by_name
                    .entry(name.to_string())
                    .or_insert_with(|| CacheEntry {
                        path: format!("/{}", join(rel, name)),
                        flags,
                    });
            }
        }
    }
    let mut sorted: Vec<(String, CacheEntry)> = by_name.into_iter().collect();
    sorted.sort_by(|(a, _), (b, _)| libcmp(b.as_bytes(), a.as_bytes()));
    sorted.into_iter().map(|(_, e)| e).collect()
}

/// glibc's `_dl_cache_libcmp`: runs of digits compare as numbers and sort after anything
/// else (`libfoo.so.10` after `libfoo.so.9`).
fn libcmp(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (mut i, mut j) = (0, 0);
    let number = |s: &[u8], k: &mut usize| -> u128 {
        let mut v: u128 = 0;
        while let Some(d) = s.get(*k).filter(|c| c.is_ascii_digit()) {
            v = v.saturating_mul(10).saturating_add(u128::from(d - b'0'));
            *k += 1;
        }
        v
    };
    loop {
        match (a.get(i), b.get(j)) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => match (x.is_ascii_digit(), y.is_ascii_digit()) {
                (true, true) => {
                    let (m, n) = (number(a, &mut i), number(b, &mut j));
                    if m != n {
                        return m.cmp(&n);
                    }
                }
                (true, false) => return Ordering::Greater,
                (false, true) => return Ordering::Less,
                (false, false) if x != y => return x.cmp(y),
                (false, false) => {
                    i += 1;
                    j += 1;
                }
            },
        }
    }
}

/// `libfoo.so.1` → `libfoo`; names ldconfig ignores (not `lib*`/`ld-*`) → `None`.
fn lib_stem(soname: &str) -> Option<&str> {
    if !soname.starts_with("lib") && !soname.starts_with("ld-") {
        return None;
    }
    if let Some(stem) = soname.strip_suffix(".so") {
        return Some(stem);
    }
    match soname.rfind(".so.") {
        Some(i) if i >= 1 => Some(&soname[..i]),
        _ => None,
    }
}

/// The new-format cache file: header, entries, string table, padding to 16 bytes.
fn write(entries: &[CacheEntry]) -> Vec<u8> {
    let table_start = HEADER_SIZE + entries.len() * ENTRY_SIZE;
    let mut strings = Vec::new();
    let mut records = Vec::with_capacity(entries.len() * ENTRY_SIZE);
    for e in entries {
        let value = (table_start + strings.len()) as u32;
        let dir_len = e.path.rfind('/').map_or(1, |i| i.max(1));
        let key = value + dir_len as u32 + 1;
        strings.extend_from_slice(e.path.as_bytes());
        strings.push(0);
        records.extend_from_slice(&e.flags.to_le_bytes());
        records.extend_from_slice(&key.to_le_bytes());
        records.extend_from_slice(&value.to_le_bytes());
        records.extend_from_slice(&0u32.to_le_bytes()); // OS version needed
        records.extend_from_slice(&0u64.to_le_bytes()); // hwcap needed
    }
    let mut out = Vec::with_capacity(table_start + strings.len() + 16);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(VERSION);
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    out.extend_from_slice(&(strings.len() as u32).to_le_bytes());
    out.extend_from_slice(&[0u8; 4]); // flags and unused
    out.extend_from_slice(&[0u8; 4]); // extension offset
    out.extend_from_slice(&[0u8; 12]); // unused
    out.extend_from_slice(&records);
    out.extend_from_slice(&strings);
    // As apko pads: to the next multiple of 16, a whole 16 bytes when already aligned.
    let pad = 16 - out.len() % 16;
    out.resize(out.len() + pad, 0);
    out
}

/// The ELF machine and `DT_SONAME`s of a shared object, as the cache reads them; `None` for
/// anything else. Public so the parser can be fuzzed.
pub fn elf_sonames(data: &[u8]) -> Option<(u16, Vec<String>)> {
    Elf::parse(data).map(|e| (e.machine, e.sonames))
}

/// What the cache needs from an ELF shared object.
struct Elf {
    machine: u16,
    sonames: Vec<String>,
}

impl Elf {
    /// A dynamic object's machine and `DT_SONAME`s; `None` for anything else.
    fn parse(data: &[u8]) -> Option<Elf> {
        if data.get(..4)? != b"\x7fELF" {
            return None;
        }
        let wide = match data.get(4)? {
            1 => false,
            2 => true,
            _ => return None,
        };
        let big = match data.get(5)? {
            1 => false,
            2 => true,
            _ => return None,
        };
        let r = Reader { data, big };
        if r.u16(16)? != ET_DYN {
            return None;
        }
        let machine = r.u16(18)?;
        let (shoff, shentsize, shnum) = if wide {
            (r.u64(0x28)?, r.u16(0x3a)? as u64, r.u16(0x3c)? as u64)
        } else {
            (
                r.u32(0x20)? as u64,
                r.u16(0x2e)? as u64,
                r.u16(0x30)? as u64,
            )
        };
        let section = |i: u64| -> Option<(u32, u64, u64, u32)> {
            let at = usize::try_from(shoff.checked_add(i.checked_mul(shentsize)?)?).ok()?;
            Some(if wide {
                (
                    r.u32(at + 4)?,
                    r.u64(at + 24)?,
                    r.u64(at + 32)?,
                    r.u32(at + 40)?,
                )
            } else {
                (
                    r.u32(at + 4)?,
                    r.u32(at + 16)? as u64,
                    r.u32(at + 20)? as u64,
                    r.u32(at + 24)?,
                )
            })
        };
        let mut sonames = Vec::new();
        let dynamic =
            (0..shnum.min(4096)).find_map(|i| section(i).filter(|(kind, ..)| *kind == SHT_DYNAMIC));
        if let Some((_, offset, size, link)) = dynamic {
            let (_, str_off, str_size, _) = section(link as u64)?;
            let step = if wide { 16 } else { 8 };
            let mut at = offset;
            while at + step <= offset.saturating_add(size) {
                let at_us = usize::try_from(at).ok()?;
                let (tag, val) = if wide {
                    (r.u64(at_us)? as i64, r.u64(at_us + 8)?)
                } else {
                    (r.u32(at_us)? as i32 as i64, r.u32(at_us + 4)? as u64)
                };
                if tag == 0 {
                    break;
                }
                if tag == DT_SONAME && val < str_size {
                    let start = usize::try_from(str_off.checked_add(val)?).ok()?;
                    let end = usize::try_from(str_off.checked_add(str_size)?).ok()?;
                    let bytes = data.get(start..end.min(data.len()))?;
                    let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
                    sonames.push(String::from_utf8_lossy(&bytes[..len]).into_owned());
                }
                at += step;
            }
        }
        Some(Elf { machine, sonames })
    }
}

struct Reader<'a> {
    data: &'a [u8],
    big: bool,
}

impl Reader<'_> {
    fn bytes<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        self.data.get(at..at.checked_add(N)?)?.try_into().ok()
    }
    fn u16(&self, at: usize) -> Option<u16> {
        let b = self.bytes::<2>(at)?;
        Some(if self.big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }
    fn u32(&self, at: usize) -> Option<u32> {
        let b = self.bytes::<4>(at)?;
        Some(if self.big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }
    fn u64(&self, at: usize) -> Option<u64> {
        let b = self.bytes::<8>(at)?;
        Some(if self.big {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_and_globs() {
        assert_eq!(lib_stem("libfoo.so.1"), Some("libfoo"));
        assert_eq!(lib_stem("libbar.so"), Some("libbar"));
        assert_eq!(lib_stem("ld-linux-x86-64.so.2"), Some("ld-linux-x86-64"));
        assert_eq!(lib_stem("foo.so.1"), None);
        assert_eq!(lib_stem("libfoo.a"), None);
        assert!(matches(b"*.conf", b"a.conf"));
        assert!(!matches(b"*.conf", b"a.conf~"));
        assert!(matches(b"?.c*", b"b.conf"));
    }

    #[test]
    fn libcmp_is_glibcs() {
        use std::cmp::Ordering::*;
        assert_eq!(libcmp(b"libfoo.so.10", b"libfoo.so.9"), Greater);
        assert_eq!(libcmp(b"libz3.so.4", b"libzstd.so.1"), Greater);
        assert_eq!(libcmp(b"libzstd.so.1", b"libz.so.1"), Greater);
        assert_eq!(libcmp(b"libz.so", b"libz.so.1"), Less);
        assert_eq!(libcmp(b"libc.so.6", b"libc.so.6"), Equal);
        // the order of the host's own /etc/ld.so.cache (`ldconfig -p`)
        let mut names = vec![
            "libz.so",
            "libyuv.so.0",
            "libz3.so.4",
            "libz.so.1",
            "libzstd.so.1",
        ];
        names.sort_by(|a, b| libcmp(b.as_bytes(), a.as_bytes()));
        assert_eq!(
            names,
            [
                "libz3.so.4",
                "libzstd.so.1",
                "libz.so.1",
                "libz.so",
                "libyuv.so.0"
            ]
        );
    }

    #[test]
    fn includes_end_the_including_file_as_in_apko() {
        let mut t = Tree::new();
        let f = |s: &str| Entry::file(s.as_bytes().to_vec(), 0o644);
        t.insert(
            "etc/ld.so.conf",
            f("/usr/local/lib # local\n/opt/x/lib\n/usr/local/lib\ninclude /etc/ld.so.conf.d/*.conf\n/after\n"),
        )
        .unwrap();
        t.insert("etc/ld.so.conf.d/b.conf", f("/b\n")).unwrap();
        t.insert("etc/ld.so.conf.d/a.conf", f("/a\n")).unwrap();
        t.insert("etc/ld.so.conf.d/c.txt", f("/c\n")).unwrap();
        assert_eq!(
            parse_conf(&t, "etc/ld.so.conf", 0),
            ["/usr/local/lib", "/opt/x/lib", "/a", "/b"]
        );
    }

    #[test]
    fn the_file_layout_is_glibcs_new_format() {
        let out = write(&[CacheEntry {
            path: "/lib/libz.so.1".into(),
            flags: 0x0303,
        }]);
        assert_eq!(&out[..20], b"glibc-ld.so.cache1.1");
        assert_eq!(u32::from_le_bytes(out[20..24].try_into().unwrap()), 1);
        assert_eq!(u32::from_le_bytes(out[24..28].try_into().unwrap()), 15);
        // entry: flags, key → "libz.so.1", value → "/lib/libz.so.1"
        assert_eq!(u32::from_le_bytes(out[48..52].try_into().unwrap()), 0x0303);
        assert_eq!(u32::from_le_bytes(out[52..56].try_into().unwrap()), 72 + 5);
        assert_eq!(u32::from_le_bytes(out[56..60].try_into().unwrap()), 72);
        assert_eq!(&out[72..87], b"/lib/libz.so.1\0");
        assert_eq!(out.len(), 96);
    }
}
