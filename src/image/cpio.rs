//! The image's layer as a `newc` cpio archive (an initramfs), byte for byte as apko's
//! `build-cpio` writes it with u-root's writer: every record has inode, owner, link count and
//! mtime 0; each path's missing parent directories come first as `0777` directories (the
//! kernel creates none itself); a path already written is an error. Hard links, block devices
//! and FIFOs are left out, as apko does (each named in a warning).

use std::collections::HashSet;
use std::io::{self, Read, Write};

const S_IFMT: u32 = 0o170000;
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;

/// The last record's name.
const TRAILER: &str = "TRAILER!!!";

struct Writer<W: Write> {
    out: W,
    pos: u64,
    written: HashSet<String>,
}

/// One record's header fields besides its name and size.
#[derive(Default, Clone, Copy)]
struct Info {
    mode: u32,
    rmajor: u32,
    rminor: u32,
}

/// Go's `path.Clean` of a relative name with leading `/`s removed (u-root's `Normalize`).
fn normalize(name: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in name.trim_start_matches('/').split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

/// `path.Dir` of a normalized name: `a/b` → `a`, `a` → `.`.
fn parent(name: &str) -> &str {
    name.rsplit_once('/').map_or(".", |(dir, _)| dir)
}

impl<W: Write> Writer<W> {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.pos += bytes.len() as u64;
        Ok(())
    }

    fn pad(&mut self) -> io::Result<()> {
        let rem = (self.pos % 4) as usize;
        if rem != 0 {
            self.put(&[0u8; 3][..4 - rem])?;
        }
        Ok(())
    }

    /// Writes one record unless its name was written before (u-root's dedup writer);
    /// `content` is `None` for records without data (directories, devices).
    fn record(
        &mut self,
        name: &str,
        info: Info,
        size: u64,
        content: Option<&mut dyn Read>,
    ) -> io::Result<()> {
        let name = normalize(name);
        if !self.written.insert(name.clone()) {
            return Ok(());
        }
        let size = if content.is_some() { size } else { 0 };
        let size32 = u32::try_from(size).map_err(|_| {
            io::Error::other(format!(
                "{name} is {size} bytes; a newc cpio archive holds files up to 4 GiB"
            ))
        })?;
        let fields: [u32; 13] = [
            0,
            info.mode,
            0,
            0,
            0,
            0,
            size32,
            0,
            0,
            info.rmajor,
            info.rminor,
            name.len() as u32 + 1,
            0,
        ];
        let mut header = String::with_capacity(110);
        header.push_str("070701");
        for f in fields {
            header.push_str(&format!("{f:08X}"));
        }
        self.put(header.as_bytes())?;
        self.put(name.as_bytes())?;
        self.put(&[0])?;
        self.pad()?;
        if let Some(content) = content {
            let copied = io::copy(&mut content.take(size), &mut CountingWriter(self))?;
            if copied != size {
                return Err(io::Error::other(format!(
                    "{name}: the layer holds {copied} of its {size} bytes"
                )));
            }
            if copied > 0 {
                self.pad()?;
            }
        }
        Ok(())
    }

    /// A record after its parent directories (u-root's `WriteRecordsAndDirs`).
    fn record_and_dirs(
        &mut self,
        name: &str,
        info: Info,
        size: u64,
        content: Option<&mut dyn Read>,
    ) -> io::Result<()> {
        let name = normalize(name);
        if self.written.contains(&name) {
            return Err(io::Error::other(format!(
                "{name} is twice in the layer; a cpio archive can hold it once"
            )));
        }
        let dir = parent(&name).to_string();
        let mut prefix = String::new();
        for part in dir.split('/') {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            let d = normalize(&prefix);
            self.record(
                &d,
                Info {
                    mode: S_IFDIR | 0o777,
                    ..Info::default()
                },
                0,
                None,
            )?;
        }
        self.record(&name, info, size, content)
    }
}

/// Counts what `io::copy` writes through the archive writer (for the padding).
struct CountingWriter<'a, W: Write>(&'a mut Writer<W>);

impl<W: Write> Write for CountingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.0.out.write(buf)?;
        self.0.pos += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.out.flush()
    }
}

/// Converts an uncompressed layer tar into a cpio archive on `out`.
pub fn from_layer(layer: impl Read, out: impl Write) -> io::Result<()> {
    let mut w = Writer {
        out,
        pos: 0,
        written: HashSet::new(),
    };
    let mut archive = tar::Archive::new(layer);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let header = entry.header();
        let mode = header.mode()? & 0o7777;
        let kind = header.entry_type();
        if kind.is_dir() {
            let info = Info {
                mode: S_IFDIR | (mode & !S_IFMT),
                ..Info::default()
            };
            w.record_and_dirs(&name, info, 0, None)?;
        } else if kind.is_symlink() {
            let target = entry
                .link_name_bytes()
                .map(|t| t.into_owned())
                .unwrap_or_default();
            let info = Info {
                mode: S_IFLNK | 0o777,
                ..Info::default()
            };
            let size = target.len() as u64;
            w.record_and_dirs(&name, info, size, Some(&mut &target[..]))?;
        } else if kind.is_file() {
            let size = header.size()?;
            let info = Info {
                mode: S_IFREG | mode,
                ..Info::default()
            };
            w.record_and_dirs(&name, info, size, Some(&mut entry))?;
        } else if kind.is_character_special() {
            let info = Info {
                mode: S_IFCHR | mode,
                rmajor: header.device_major()?.unwrap_or(0),
                rminor: header.device_minor()?.unwrap_or(0),
            };
            w.record_and_dirs(&name, info, 0, None)?;
        } else {
            let what = if kind.is_hard_link() {
                "a hard link"
            } else if kind.is_block_special() {
                "a block device"
            } else if kind.is_fifo() {
                "a FIFO"
            } else {
                "of an unsupported type"
            };
            tracing::warn!("{name} is {what}; the cpio archive leaves it out, as apko does");
        }
    }
    w.record(TRAILER, Info::default(), 0, Some(&mut io::empty()))?;
    w.out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned_as_go_does() {
        assert_eq!(normalize("/etc/"), "etc");
        assert_eq!(normalize("./a//b/./c"), "a/b/c");
        assert_eq!(normalize(""), ".");
        assert_eq!(parent("a/b/c"), "a/b");
        assert_eq!(parent("a"), ".");
    }

    #[test]
    fn a_directory_and_a_file_as_u_root_writes_them() {
        let mut tar = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        tar.append_data(&mut h, "etc/", io::empty()).unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_size(3);
        tar.append_data(&mut h, "etc/x", &b"hi\n"[..]).unwrap();
        let raw = tar.into_inner().unwrap();
        let mut out = Vec::new();
        from_layer(&raw[..], &mut out).unwrap();
        let rec = |mode: u32, size: u32, name: &str| {
            let mut s = format!("070701{:08X}{mode:08X}", 0);
            for _ in 0..4 {
                s.push_str("00000000");
            }
            s.push_str(&format!("{size:08X}"));
            for _ in 0..4 {
                s.push_str("00000000");
            }
            s.push_str(&format!("{:08X}00000000{name}\0", name.len() + 1));
            while s.len() % 4 != 0 {
                s.push('\0');
            }
            s
        };
        let mut want = rec(0o40777, 0, ".") + &rec(0o40755, 0, "etc") + &rec(0o100644, 3, "etc/x");
        want.push_str("hi\n\0");
        want += &rec(0, 0, TRAILER);
        assert_eq!(String::from_utf8(out).unwrap(), want);
    }
}
