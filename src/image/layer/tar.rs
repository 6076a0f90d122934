//! Tree → tar, byte for byte as apko writes layers (Go's `archive/tar` driven by
//! `fs.WalkDir`): entries in directory-walk order, USTAR headers unless a field needs PAX,
//! Go's header encoding (octal fields, `NUL space` checksum, `PaxHeaders.0/` extended-header
//! names), user and group names looked up in the image's own `/etc/passwd` and `/etc/group`,
//! and extended attributes as `SCHILY.xattr.*` records.
//!
//! The `tar` crate's writer encodes the checksum and PAX names differently from Go, which would
//! change every layer digest against apko, so headers are encoded here; reading uses the crate.

use crate::fs::{Entry, Kind, Tree};
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

const BLOCK: usize = 512;

/// The order `fs.WalkDir` visits paths: each directory's entries sorted by name, children
/// right after their parent (`a`, `a/b`, `a-c`; a plain byte sort would put `a-c` before
/// `a/b`).
pub fn walk_order(tree: &Tree) -> Vec<(&str, &Entry)> {
    let mut entries: Vec<(&str, &Entry)> = tree.iter().collect();
    entries.sort_by(|(a, _), (b, _)| {
        a.bytes()
            .map(|c| if c == b'/' { 0 } else { c })
            .cmp(b.bytes().map(|c| if c == b'/' { 0 } else { c }))
    });
    entries
}

/// Writes the whole tree as a tar archive (with the two zero blocks that end it) into memory.
/// Panics if a spilled file cannot be read back (see [`write_to`]).
pub fn write(tree: &Tree, out: &mut Vec<u8>) {
    write_to(tree, out).expect("reading the tree's files back");
}

/// Streams the whole tree as a tar archive (with the two zero blocks that end it) to `out`,
/// each file's contents straight from where they are kept.
pub fn write_to(tree: &Tree, out: &mut dyn Write) -> io::Result<()> {
    write_entries(tree, &walk_order(tree), out)
}

/// Streams `order` (paths of `tree`, or entries made from them, as a layering plan lists
/// them) as a tar archive to `out`; owner names come from `tree`'s passwd and group files.
pub fn write_entries(tree: &Tree, order: &[(&str, &Entry)], out: &mut dyn Write) -> io::Result<()> {
    let users = names(tree, "etc/passwd");
    let groups = names(tree, "etc/group");
    let order = order.to_vec();
    let mut head = Vec::with_capacity(4 * BLOCK);
    // A file and its hard links are one inode, written as apko's writer writes one: the first
    // path in walk order carries the data, every other is a link to it. (A link written before
    // its target names a file the archive has not had yet: GNU tar and umoci refuse it.)
    let mut first: HashMap<&str, &str> = HashMap::new();
    for (path, entry) in &order {
        match &entry.kind {
            Kind::Hardlink(target) => first.entry(target.as_str()).or_insert(path),
            Kind::Dir => continue,
            _ => first.entry(path).or_insert(path),
        };
    }
    for (path, entry) in order {
        let rewritten;
        let entry = match &entry.kind {
            Kind::Dir => entry,
            k if !matches!(k, Kind::Hardlink(_)) && first.get(path).is_some_and(|f| *f != path) => {
                let mut link = entry.clone();
                link.kind = Kind::Hardlink(first[path].to_string());
                rewritten = link;
                &rewritten
            }
            Kind::Hardlink(target) => match (first.get(target.as_str()), tree.get(target)) {
                (Some(f), Some(file)) if *f == path => {
                    rewritten = file.clone();
                    &rewritten
                }
                (Some(f), _) if *f != path && *f != target.as_str() => {
                    let mut link = entry.clone();
                    link.kind = Kind::Hardlink(f.to_string());
                    rewritten = link;
                    &rewritten
                }
                _ => entry,
            },
            _ => entry,
        };
        let size = match &entry.kind {
            Kind::File(d) => d.len(),
            _ => 0,
        };
        let header = Header {
            name: path,
            entry,
            size,
            uname: users.get(&entry.uid).map_or("", String::as_str),
            gname: groups.get(&entry.gid).map_or("", String::as_str),
        };
        head.clear();
        header.write(&mut head);
        out.write_all(&head)?;
        if let Kind::File(d) = &entry.kind {
            d.write_to(out)?;
        }
        out.write_all(padding(size))?;
    }
    out.write_all(&END)
}

/// The header of a plain root-owned 0644 file with mtime 0, as go-containerregistry writes the
/// entries of a `docker save` tarball.
pub fn file_header(name: &str, size: u64) -> Vec<u8> {
    let entry = Entry::file(Vec::new(), 0o644);
    let mut out = Vec::with_capacity(BLOCK);
    Header {
        name,
        entry: &entry,
        size,
        uname: "",
        gname: "",
    }
    .write(&mut out);
    out
}

/// Zero bytes that pad an entry of `size` bytes to a whole block.
pub fn padding(size: u64) -> &'static [u8] {
    const ZEROS: [u8; BLOCK] = [0; BLOCK];
    &ZEROS[..(BLOCK - (size as usize % BLOCK)) % BLOCK]
}

/// The two zero blocks that end an archive.
pub const END: [u8; 2 * BLOCK] = [0; 2 * BLOCK];

/// `id → name` from a passwd or group file in the tree (later lines win, bad lines are
/// skipped), as apko's `walkFS` reads them.
fn names(tree: &Tree, path: &str) -> HashMap<u32, String> {
    let mut map = HashMap::new();
    if let Some(Entry {
        kind: Kind::File(data),
        ..
    }) = tree.get(path)
    {
        for line in String::from_utf8_lossy(data).lines() {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.len() >= 3
                && let Ok(id) = fields[2].parse::<u32>()
            {
                map.insert(id, fields[0].to_string());
            }
        }
    }
    map
}

fn pad(out: &mut Vec<u8>) {
    let rem = out.len() % BLOCK;
    if rem != 0 {
        out.resize(out.len() + BLOCK - rem, 0);
    }
}

struct Header<'a> {
    name: &'a str,
    entry: &'a Entry,
    size: u64,
    uname: &'a str,
    gname: &'a str,
}

impl Header<'_> {
    fn write(&self, out: &mut Vec<u8>) {
        let e = self.entry;
        let (typeflag, link): (u8, &str) = match &e.kind {
            Kind::File(_) => (b'0', ""),
            Kind::Hardlink(t) => (b'1', t),
            Kind::Symlink(t) => (b'2', t),
            Kind::CharDevice(..) => (b'3', ""),
            Kind::BlockDevice(..) => (b'4', ""),
            Kind::Dir => (b'5', ""),
            Kind::Fifo => (b'6', ""),
        };
        let (major, minor) = match e.kind {
            Kind::CharDevice(a, b) | Kind::BlockDevice(a, b) => (u64::from(a), u64::from(b)),
            _ => (0, 0),
        };

        // Go's Header.allowedFormats: which fields force PAX, and the records they need.
        let mut ustar = true;
        let mut pax: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for (value, size, key) in [
            (self.name, 100, "path"),
            (link, 100, "linkpath"),
            (self.uname, 32, "uname"),
            (self.gname, 32, "gname"),
        ] {
            if !is_ascii(value) || value.len() > size {
                if key != "path" || split_ustar_path(value).is_none() {
                    ustar = false;
                }
                pax.insert(key.into(), value.as_bytes().to_vec());
            }
        }
        for (value, size, key) in [
            (u64::from(e.uid), 8, "uid"),
            (u64::from(e.gid), 8, "gid"),
            (self.size, 12, "size"),
        ] {
            if !fits_octal(size, value) {
                ustar = false;
                pax.insert(key.into(), value.to_string().into_bytes());
            }
        }
        if matches!(e.kind, Kind::File(_) | Kind::Dir) && !e.xattrs.is_empty() {
            ustar = false;
            for (k, v) in &e.xattrs {
                pax.insert(format!("SCHILY.xattr.{k}"), v.clone());
            }
        }

        let mut b = [0u8; BLOCK];
        let mut name = self.name.to_string();
        let mut prefix = String::new();
        if ustar {
            if let Some((p, n)) = split_ustar_path(self.name) {
                prefix = p.to_string();
                name = n.to_string();
            }
        } else {
            write_pax(self.name, &pax, out);
            name = to_ascii(&name);
        }
        put_str(&mut b[0..100], &name);
        put_octal(&mut b[100..108], u64::from(e.mode & 0o7777));
        put_octal(&mut b[108..116], u64::from(e.uid));
        put_octal(&mut b[116..124], u64::from(e.gid));
        put_octal(&mut b[124..136], self.size);
        put_octal(&mut b[136..148], e.mtime);
        b[156] = typeflag;
        put_str(&mut b[157..257], &to_ascii(link));
        put_str(&mut b[265..297], &to_ascii(self.uname));
        put_str(&mut b[297..329], &to_ascii(self.gname));
        put_octal(&mut b[329..337], major);
        put_octal(&mut b[337..345], minor);
        put_str(&mut b[345..500], &prefix);
        finish(&mut b);
        out.extend_from_slice(&b);
    }
}

/// An extended header (`x`) holding `records`, named `DIR/PaxHeaders.0/FILE` as Go names it.
fn write_pax(real_name: &str, records: &BTreeMap<String, Vec<u8>>, out: &mut Vec<u8>) {
    let mut data = Vec::new();
    for (k, v) in records {
        let base = k.len() + v.len() + 3;
        let mut size = base + base.to_string().len();
        if size.to_string().len() != base.to_string().len() {
            size = base + size.to_string().len();
        }
        data.extend_from_slice(format!("{size} {k}=").as_bytes());
        data.extend_from_slice(v);
        data.push(b'\n');
    }
    let (dir, file) = match real_name.rfind('/') {
        Some(i) => (&real_name[..i], &real_name[i + 1..]),
        None => ("", real_name),
    };
    let mut name = if dir.is_empty() {
        format!("PaxHeaders.0/{file}")
    } else {
        format!("{dir}/PaxHeaders.0/{file}")
    };
    name = to_ascii(&name);
    name.truncate(100);
    let name = name.trim_end_matches('/');
    let mut b = [0u8; BLOCK];
    put_str(&mut b[0..100], name);
    put_octal(&mut b[100..108], 0);
    put_octal(&mut b[108..116], 0);
    put_octal(&mut b[116..124], 0);
    put_octal(&mut b[124..136], data.len() as u64);
    put_octal(&mut b[136..148], 0);
    b[156] = b'x';
    finish(&mut b);
    out.extend_from_slice(&b);
    out.extend_from_slice(&data);
    pad(out);
}

/// Magic, version and checksum (`%06o\0 `), as Go's `block.setFormat` for USTAR and PAX.
fn finish(b: &mut [u8; BLOCK]) {
    b[257..263].copy_from_slice(b"ustar\0");
    b[263..265].copy_from_slice(b"00");
    let sum: u64 = b
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            if (148..156).contains(&i) {
                32
            } else {
                u64::from(c)
            }
        })
        .sum();
    put_octal(&mut b[148..155], sum);
    b[155] = b' ';
}

fn is_ascii(s: &str) -> bool {
    s.bytes().all(|c| c < 0x80 && c != 0)
}

fn to_ascii(s: &str) -> String {
    s.chars().filter(|&c| c < '\u{80}' && c != '\0').collect()
}

fn fits_octal(field: usize, x: u64) -> bool {
    field >= 22 || x < 1u64 << (3 * (field - 1))
}

/// Go's `formatString`: the bytes, NUL-terminated when shorter than the field.
fn put_str(field: &mut [u8], s: &str) {
    let n = s.len().min(field.len());
    field[..n].copy_from_slice(&s.as_bytes()[..n]);
    if n < field.len() {
        field[n] = 0;
    }
}

/// Go's `formatOctal`: zero-padded octal leaving room for a NUL; 0 when it does not fit.
fn put_octal(field: &mut [u8], x: u64) {
    let x = if fits_octal(field.len(), x) { x } else { 0 };
    let s = format!("{x:0width$o}", width = field.len() - 1);
    put_str(field, &s);
}

/// Go's `splitUSTARPath`: a long ASCII name split at a `/` into a ≤155-byte prefix and a
/// ≤100-byte name.
fn split_ustar_path(name: &str) -> Option<(&str, &str)> {
    let mut length = name.len();
    if length <= 100 || !is_ascii(name) {
        return None;
    }
    if length > 156 {
        length = 156;
    } else if name.as_bytes()[length - 1] == b'/' {
        length -= 1;
    }
    let i = name[..length].rfind('/')?;
    let (nlen, plen) = (name.len() - i - 1, i);
    if i == 0 || nlen > 100 || nlen == 0 || plen > 155 {
        return None;
    }
    Some((&name[..i], &name[i + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hard_link_before_its_target_carries_the_data() {
        let mut t = Tree::new();
        t.insert("usr", Entry::dir(0o755)).unwrap();
        t.insert("usr/lib", Entry::dir(0o755)).unwrap();
        t.insert("usr/lib/own", Entry::file(&b"data"[..], 0o755))
            .unwrap();
        for p in ["usr/a-link", "usr/z-link"] {
            let mut link = Entry::file(Vec::new(), 0o644);
            link.kind = Kind::Hardlink("usr/lib/own".into());
            t.insert(p, link).unwrap();
        }
        let mut out = Vec::new();
        write(&t, &mut out);
        let mut got = Vec::new();
        for e in ::tar::Archive::new(&out[..]).entries().unwrap() {
            let mut e = e.unwrap();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
            got.push((
                e.path().unwrap().display().to_string(),
                e.header().entry_type().as_byte(),
                e.link_name().unwrap().map(|l| l.display().to_string()),
                data,
                e.header().mode().unwrap(),
            ));
        }
        let link = |p: &str| Some(p.to_string());
        assert_eq!(
            got,
            [
                ("usr".into(), b'5', None, vec![], 0o755),
                ("usr/a-link".into(), b'0', None, b"data".to_vec(), 0o755),
                ("usr/lib".into(), b'5', None, vec![], 0o755),
                (
                    "usr/lib/own".into(),
                    b'1',
                    link("usr/a-link"),
                    vec![],
                    0o755
                ),
                ("usr/z-link".into(), b'1', link("usr/a-link"), vec![], 0o644),
            ]
        );
    }

    #[test]
    fn walk_order_puts_children_after_parents() {
        let mut t = Tree::new();
        for p in ["a-c", "a/b", "a/b/c", "ab"] {
            t.insert(p, Entry::dir(0o755)).unwrap();
        }
        let order: Vec<&str> = walk_order(&t).into_iter().map(|(p, _)| p).collect();
        assert_eq!(order, ["a", "a/b", "a/b/c", "a-c", "ab"]);
    }

    #[test]
    fn long_and_unusual_entries_read_back() {
        let mut t = Tree::new();
        let split = format!("{}/{}", "d".repeat(120), "f".repeat(90));
        let unsplittable = format!("a/{}", "n".repeat(120));
        let mut big = Entry::file(&b"x"[..], 0o4755);
        big.uid = 3_000_000;
        big.xattrs
            .insert("security.capability".into(), vec![1, 0, 0, 2, 0]);
        t.insert(&split, Entry::file(&b"s"[..], 0o644)).unwrap();
        t.insert(&unsplittable, big).unwrap();
        t.insert("caf\u{e9}", Entry::symlink("\u{e9}t\u{e9}"))
            .unwrap();
        let mut link = Entry::file(Vec::new(), 0o644);
        link.kind = Kind::Hardlink("caf\u{e9}".into());
        t.insert("h", link).unwrap();
        let mut out = Vec::new();
        write(&t, &mut out);
        assert_eq!(out.len() % BLOCK, 0);
        type Back = (String, Option<String>, u64, u32, Vec<(String, Vec<u8>)>);
        let mut back: Vec<Back> = Vec::new();
        let mut ar = ::tar::Archive::new(&out[..]);
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let xattrs = e
                .pax_extensions()
                .unwrap()
                .map(|x| {
                    x.map(|x| x.unwrap())
                        .filter(|x| x.key().unwrap().starts_with("SCHILY"))
                        .map(|x| (x.key().unwrap().to_string(), x.value_bytes().to_vec()))
                        .collect()
                })
                .unwrap_or_default();
            back.push((
                e.path().unwrap().to_string_lossy().into_owned(),
                e.link_name()
                    .unwrap()
                    .map(|l| l.to_string_lossy().into_owned()),
                e.header().uid().unwrap(),
                e.header().mode().unwrap(),
                xattrs,
            ));
        }
        let names: Vec<&str> = back.iter().map(|b| b.0.as_str()).collect();
        assert_eq!(
            names,
            ["a", &unsplittable, "caf\u{e9}", &split[..120], &split, "h"]
        );
        let entry = |n: &str| back.iter().find(|b| b.0 == n).unwrap().clone();
        assert_eq!(entry(&unsplittable).2, 3_000_000);
        assert_eq!(entry(&unsplittable).3, 0o4755);
        assert_eq!(
            entry(&unsplittable).4,
            [(
                "SCHILY.xattr.security.capability".to_string(),
                vec![1, 0, 0, 2, 0]
            )]
        );
        assert_eq!(entry("caf\u{e9}").1.as_deref(), Some("\u{e9}t\u{e9}"));
        assert_eq!(entry("h").1.as_deref(), Some("caf\u{e9}"));
        // the splittable long name is plain USTAR (prefix + name); a long name without a
        // `/` to split at, a non-ASCII name or link target, a big UID and xattrs need PAX,
        // whose headers are named as Go names them (non-ASCII dropped, cut at 100 bytes)
        let pax_names: Vec<String> = out
            .chunks(BLOCK)
            .filter(|b| b[156] == b'x' && b[257..263] == *b"ustar\0")
            .map(|b| {
                String::from_utf8_lossy(&b[..100])
                    .trim_end_matches('\0')
                    .to_string()
            })
            .collect();
        assert_eq!(
            pax_names,
            [
                format!("a/PaxHeaders.0/{}", "n".repeat(100 - 15)),
                "PaxHeaders.0/caf".to_string(),
                format!("PaxHeaders.0/{}", "d".repeat(100 - 13)),
                "PaxHeaders.0/h".to_string(),
            ]
        );
    }

    #[test]
    fn pax_record_lengths() {
        let mut out = Vec::new();
        let mut r = BTreeMap::new();
        r.insert("path".to_string(), vec![b'x'; 92]);
        write_pax("d/f", &r, &mut out);
        // "102 path=xxx…\n" is 102 bytes: 3 digits plus 99 — the length counts itself.
        assert_eq!(&out[512..516], b"102 ");
        assert_eq!(&out[..17], b"d/PaxHeaders.0/f\0");
    }
}
