//! The image filesystem as the builder assembles it: packages are installed into a [`Tree`],
//! accounts and `paths` change it, and the layer writer turns it into a tar. Ownership and
//! modes live here, not on disk, so building needs no root.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// What a path is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Dir,
    /// A regular file with its contents.
    File(Content),
    /// A symbolic link to this target (as written, relative or absolute).
    Symlink(String),
    /// A hard link to another path of the tree (relative, no leading `/`).
    Hardlink(String),
    /// A character device (major, minor).
    CharDevice(u32, u32),
    /// A block device (major, minor).
    BlockDevice(u32, u32),
    /// A named pipe.
    Fifo,
}

impl Kind {
    /// What it is, for messages: "a regular file", "a directory", ….
    pub fn describe(&self) -> &'static str {
        match self {
            Kind::Dir => "a directory",
            Kind::File(_) => "a regular file",
            Kind::Symlink(_) => "a symlink",
            Kind::Hardlink(_) => "a hard link",
            Kind::CharDevice(..) => "a character device",
            Kind::BlockDevice(..) => "a block device",
            Kind::Fifo => "a named pipe",
        }
    }
}

/// One path of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// What it is.
    pub kind: Kind,
    /// Permission bits, including setuid/setgid/sticky (`0o7777` mask).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time, seconds since the epoch (the build date for reproducibility).
    pub mtime: u64,
    /// Extended attributes (e.g. `security.capability`).
    pub xattrs: BTreeMap<String, Vec<u8>>,
}

impl Entry {
    /// A root-owned directory with `mode`.
    pub fn dir(mode: u32) -> Entry {
        Entry {
            kind: Kind::Dir,
            mode,
            uid: 0,
            gid: 0,
            mtime: 0,
            xattrs: BTreeMap::new(),
        }
    }

    /// A root-owned file with `mode`.
    pub fn file(data: impl Into<Content>, mode: u32) -> Entry {
        Entry {
            kind: Kind::File(data.into()),
            ..Entry::dir(mode)
        }
    }

    /// A root-owned symlink.
    pub fn symlink(target: impl Into<String>) -> Entry {
        Entry {
            kind: Kind::Symlink(target.into()),
            ..Entry::dir(0o777)
        }
    }
}

/// A regular file's bytes: inline for what the builder writes itself (and small package
/// files), or a range of a [`Spill`] file for package data, so the tree costs memory per file,
/// not per byte. Reading a spilled range is `pread`; the layer writer streams it
/// ([`Content::write_to`]).
#[derive(Clone)]
pub struct Content(Repr);

#[derive(Clone)]
enum Repr {
    Inline(Arc<[u8]>),
    Spilled {
        spill: Arc<Spill>,
        offset: u64,
        len: u64,
        /// What [`Deref`](std::ops::Deref) read, kept for the next caller.
        cache: OnceLock<Arc<[u8]>>,
    },
}

/// Package files up to this size stay in memory: a reference costs about as much.
pub const INLINE_MAX: usize = 256;

/// Streaming chunk for spilled contents.
const CHUNK: usize = 256 * 1024;

impl Content {
    /// Its size in bytes.
    pub fn len(&self) -> u64 {
        match &self.0 {
            Repr::Inline(d) => d.len() as u64,
            Repr::Spilled { len, .. } => *len,
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when the bytes live in a spill file (not in memory).
    pub fn is_spilled(&self) -> bool {
        matches!(self.0, Repr::Spilled { .. })
    }

    /// The whole contents, read now and not kept (for files read once, e.g. libraries
    /// parsed for `ld.so.cache`).
    pub fn read(&self) -> std::io::Result<Cow<'_, [u8]>> {
        match &self.0 {
            Repr::Inline(d) => Ok(Cow::Borrowed(d)),
            Repr::Spilled { cache, .. } if cache.get().is_some() => {
                Ok(Cow::Borrowed(cache.get().expect("checked")))
            }
            Repr::Spilled {
                spill, offset, len, ..
            } => {
                let mut buf = vec![0; usize::try_from(*len).map_err(std::io::Error::other)?];
                spill.read_exact_at(&mut buf, *offset)?;
                Ok(Cow::Owned(buf))
            }
        }
    }

    /// Writes the contents to `out` in chunks.
    pub fn write_to(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let (spill, offset, len) = match &self.0 {
            Repr::Inline(d) => return out.write_all(d),
            Repr::Spilled { cache, .. } if cache.get().is_some() => {
                return out.write_all(cache.get().expect("checked"));
            }
            Repr::Spilled {
                spill, offset, len, ..
            } => (spill, *offset, *len),
        };
        let mut buf = vec![0; CHUNK.min(len as usize)];
        let mut done = 0u64;
        while done < len {
            let n = (len - done).min(CHUNK as u64) as usize;
            spill.read_exact_at(&mut buf[..n], offset + done)?;
            out.write_all(&buf[..n])?;
            done += n as u64;
        }
        Ok(())
    }

    /// Reads `r` to its end: up to [`INLINE_MAX`] bytes inline, more appended to `spill`.
    pub fn from_reader(r: &mut dyn Read, spill: &Arc<Spill>) -> Result<Content, CopyError> {
        let mut head = Vec::with_capacity(INLINE_MAX + 1);
        r.take(INLINE_MAX as u64 + 1)
            .read_to_end(&mut head)
            .map_err(CopyError::Read)?;
        if head.len() <= INLINE_MAX {
            return Ok(Content::from(head));
        }
        let (offset, len) = spill.append(&head, r)?;
        Ok(Content(Repr::Spilled {
            spill: spill.clone(),
            offset,
            len,
            cache: OnceLock::new(),
        }))
    }

    /// `len` bytes at `offset` of `spill`, written there before.
    pub fn spilled(spill: &Arc<Spill>, offset: u64, len: u64) -> Content {
        Content(Repr::Spilled {
            spill: spill.clone(),
            offset,
            len,
            cache: OnceLock::new(),
        })
    }

    /// Bytes `[at, at + buf.len())` of the contents.
    pub fn read_at(&self, at: u64, buf: &mut [u8]) -> std::io::Result<()> {
        match &self.0 {
            Repr::Inline(d) => {
                buf.copy_from_slice(&d[at as usize..at as usize + buf.len()]);
                Ok(())
            }
            Repr::Spilled { spill, offset, .. } => spill.read_exact_at(buf, offset + at),
        }
    }

    /// Byte-wise equality without keeping what is read; a read error counts as different.
    fn same_bytes(&self, other: &Content) -> std::io::Result<bool> {
        if self.len() != other.len() {
            return Ok(false);
        }
        match (&self.0, &other.0) {
            (Repr::Inline(a), Repr::Inline(b)) => return Ok(a == b),
            (
                Repr::Spilled {
                    spill: a,
                    offset: x,
                    ..
                },
                Repr::Spilled {
                    spill: b,
                    offset: y,
                    ..
                },
            ) if Arc::ptr_eq(a, b) && x == y => return Ok(true),
            _ => {}
        }
        let len = self.len();
        let n = CHUNK.min(len as usize);
        let (mut a, mut b) = (vec![0; n], vec![0; n]);
        let mut at = 0;
        while at < len {
            let n = (len - at).min(CHUNK as u64) as usize;
            self.read_at(at, &mut a[..n])?;
            other.read_at(at, &mut b[..n])?;
            if a[..n] != b[..n] {
                return Ok(false);
            }
            at += n as u64;
        }
        Ok(true)
    }
}

impl std::ops::Deref for Content {
    type Target = [u8];

    /// The bytes in memory. A spilled file is read once and kept: meant for the small files
    /// the builder edits (`/etc/passwd`, `os-release`, the CA bundle); the layer writer streams
    /// instead. Panics if the spill file cannot be read back (a failing disk).
    fn deref(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline(d) => d,
            Repr::Spilled { cache, .. } => cache.get_or_init(|| match self.read() {
                Ok(d) => d.into_owned().into(),
                Err(e) => panic!("reading a file back from the build's spill file failed: {e}"),
            }),
        }
    }
}

impl AsRef<[u8]> for Content {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl PartialEq for Content {
    fn eq(&self, other: &Content) -> bool {
        self.same_bytes(other).unwrap_or(false)
    }
}

impl Eq for Content {}

impl std::fmt::Debug for Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Repr::Inline(d) => write!(f, "Content({:?})", String::from_utf8_lossy(d)),
            Repr::Spilled { offset, len, .. } => {
                write!(f, "Content(spilled {len} bytes at {offset})")
            }
        }
    }
}

impl Default for Content {
    fn default() -> Content {
        Content(Repr::Inline(Arc::from(&[][..])))
    }
}

impl From<Arc<[u8]>> for Content {
    fn from(d: Arc<[u8]>) -> Content {
        Content(Repr::Inline(d))
    }
}

impl From<Vec<u8>> for Content {
    fn from(d: Vec<u8>) -> Content {
        Content(Repr::Inline(d.into()))
    }
}

impl From<&[u8]> for Content {
    fn from(d: &[u8]) -> Content {
        Content(Repr::Inline(d.into()))
    }
}

impl From<Box<[u8]>> for Content {
    fn from(d: Box<[u8]>) -> Content {
        Content(Repr::Inline(d.into()))
    }
}

/// Copying into a spill file failed: reading the source, or writing the file.
#[derive(Debug)]
pub enum CopyError {
    /// The source failed (a corrupt or over-limit package): its error.
    Read(std::io::Error),
    /// The spill file could not be written (disk full).
    Write(std::io::Error),
}

/// An append-only, unnamed temporary file holding file contents (and downloaded packages'
/// data sections) during a build. Unnamed (`O_TMPFILE`), so the kernel frees it when the last
/// handle closes, even if the process is killed: a build leaves nothing behind. It lives in
/// [`spill_dir`]. Writes are buffered; a read of a range not yet written flushes first.
pub struct Spill {
    file: File,
    dir: PathBuf,
    state: Mutex<SpillState>,
    /// `state.written`, readable without the lock.
    flushed: AtomicU64,
}

struct SpillState {
    /// Bytes appended but not yet written to the file.
    buf: Vec<u8>,
    /// Bytes in the file.
    written: u64,
}

const SPILL_BUFFER: usize = 1 << 20;

static SPILL_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);
static CURRENT: Mutex<Weak<Spill>> = Mutex::new(Weak::new());

/// Where spill files and layers being written go: the directory set with [`set_spill_dir`]
/// (e.g. beside OUTPUT), else the system's temporary directory (`TMPDIR`).
pub fn spill_dir() -> PathBuf {
    SPILL_DIR
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_else(std::env::temp_dir)
}

/// Puts spill files in `dir` (`None`: the system's temporary directory) from now on.
pub fn set_spill_dir(dir: Option<PathBuf>) {
    *SPILL_DIR.lock().unwrap_or_else(|e| e.into_inner()) = dir;
}

/// An unnamed temporary file in [`spill_dir`], with the path in the error.
pub fn temp_file() -> std::io::Result<(File, PathBuf)> {
    let dir = spill_dir();
    match tempfile::tempfile_in(&dir) {
        Ok(f) => Ok((f, dir)),
        Err(e) => Err(std::io::Error::new(
            e.kind(),
            format!("cannot create a temporary file in {}: {e}", dir.display()),
        )),
    }
}

impl Spill {
    /// The spill file builds of this process share while any is alive; a new one once the
    /// last contents referring to the old one are gone (its space is then freed).
    pub fn shared() -> std::io::Result<Arc<Spill>> {
        let mut current = CURRENT.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = current.upgrade() {
            return Ok(s);
        }
        let (file, dir) = temp_file()?;
        let s = Arc::new(Spill {
            file,
            dir,
            state: Mutex::new(SpillState {
                buf: Vec::with_capacity(SPILL_BUFFER),
                written: 0,
            }),
            flushed: AtomicU64::new(0),
        });
        *current = Arc::downgrade(&s);
        Ok(s)
    }

    /// The directory it is in (for messages).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends `head` then `rest` to its end: where they start and their length.
    pub fn append(&self, head: &[u8], rest: &mut dyn Read) -> Result<(u64, u64), CopyError> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let offset = st.written + st.buf.len() as u64;
        self.push(&mut st, head).map_err(CopyError::Write)?;
        let mut len = head.len() as u64;
        let mut chunk = vec![0; 64 * 1024];
        loop {
            let n = match rest.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(CopyError::Read(e)),
            };
            self.push(&mut st, &chunk[..n]).map_err(CopyError::Write)?;
            len += n as u64;
        }
        Ok((offset, len))
    }

    /// Appends bytes already in memory.
    pub fn append_bytes(&self, data: &[u8]) -> std::io::Result<(u64, u64)> {
        self.append(data, &mut std::io::empty())
            .map_err(|e| match e {
                CopyError::Read(e) | CopyError::Write(e) => e,
            })
    }

    fn push(&self, st: &mut SpillState, data: &[u8]) -> std::io::Result<()> {
        if st.buf.len() + data.len() > SPILL_BUFFER {
            self.flush(st)?;
        }
        if data.len() >= SPILL_BUFFER {
            self.file.write_all_at(data, st.written)?;
            st.written += data.len() as u64;
            self.flushed.store(st.written, Ordering::Release);
        } else {
            st.buf.extend_from_slice(data);
        }
        Ok(())
    }

    fn flush(&self, st: &mut SpillState) -> std::io::Result<()> {
        if !st.buf.is_empty() {
            self.file.write_all_at(&st.buf, st.written)?;
            st.written += st.buf.len() as u64;
            st.buf.clear();
            self.flushed.store(st.written, Ordering::Release);
        }
        Ok(())
    }

    /// `pread` of `buf.len()` bytes at `offset`, flushing first if they are still buffered.
    pub fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        let end = offset + buf.len() as u64;
        if end > self.flushed.load(Ordering::Acquire) {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            self.flush(&mut st)?;
        }
        self.file.read_exact_at(buf, offset)
    }
}

/// Paths are relative (`usr/bin/hello`, no leading `/`, no `.` or `..` components); the map
/// keeps them sorted, which is the order layers are written in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    entries: BTreeMap<String, Entry>,
}

/// A path that would escape the tree or is malformed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid path {0:?} in the image: it must stay inside the root")]
pub struct BadPath(pub String);

/// `/usr//bin/./x` → `usr/bin/x`; `..` is refused.
pub fn normalize(path: &str) -> Result<String, BadPath> {
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(BadPath(path.to_string())),
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

impl Tree {
    /// An empty tree.
    pub fn new() -> Tree {
        Tree::default()
    }

    /// Inserts or replaces `path`, creating missing parent directories (0755, root).
    pub fn insert(&mut self, path: &str, entry: Entry) -> Result<(), BadPath> {
        let path = normalize(path)?;
        if path.is_empty() {
            return Ok(()); // the root itself
        }
        let mut parent = String::new();
        for part in path
            .split('/')
            .collect::<Vec<_>>()
            .split_last()
            .map(|(_, p)| p)
            .unwrap_or(&[])
        {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(part);
            self.entries
                .entry(parent.clone())
                .or_insert_with(|| Entry::dir(0o755));
        }
        self.entries.insert(path, entry);
        Ok(())
    }

    /// The entry at `path`.
    pub fn get(&self, path: &str) -> Option<&Entry> {
        normalize(path).ok().and_then(|p| self.entries.get(&p))
    }

    /// The entry at `path`, to change it.
    pub fn get_mut(&mut self, path: &str) -> Option<&mut Entry> {
        normalize(path).ok().and_then(|p| self.entries.get_mut(&p))
    }

    /// Removes `path` and, for a directory, everything under it.
    pub fn remove(&mut self, path: &str) -> Option<Entry> {
        let path = normalize(path).ok()?;
        let prefix = format!("{path}/");
        self.entries.retain(|k, _| !k.starts_with(&prefix));
        self.entries.remove(&path)
    }

    /// The entries directly inside directory `dir` (`""` for the root): name and entry, sorted
    /// by name.
    pub fn children<'a>(&'a self, dir: &str) -> impl Iterator<Item = (&'a str, &'a Entry)> {
        let prefix = match normalize(dir).unwrap_or_default() {
            d if d.is_empty() => String::new(),
            d => format!("{d}/"),
        };
        let skip = prefix.len();
        self.entries
            .range(prefix.clone()..)
            .take_while(move |(k, _)| k.starts_with(&prefix))
            .map(move |(k, v)| (&k[skip..], v))
            .filter(|(name, _)| !name.is_empty() && !name.contains('/'))
    }

    /// Every entry, sorted by path.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The first of `path`'s parents (not `path` itself) that exists and is not a directory:
    /// [`Tree::insert`] would put `path` under it, which no unpacker can reproduce. Symlinks
    /// among the parents are not followed (pass [`Tree::resolve_parents`]'s result).
    pub fn non_dir_parent(&self, path: &str) -> Option<(String, &Entry)> {
        let path = normalize(path).ok()?;
        let mut end = 0;
        while let Some(i) = path[end..].find('/') {
            end += i;
            let parent = &path[..end];
            match self.entries.get(parent) {
                Some(e) if e.kind != Kind::Dir => return Some((parent.to_string(), e)),
                Some(_) => {}
                None => return None,
            }
            end += 1;
        }
        None
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `path` with symlinked directories among its parents followed, as opening it inside the
    /// image would (a package's `lib/x` lands in `usr/lib/x` when `lib` links to `usr/lib`).
    /// The last component is not followed; `..` stops at the root; at most 40 links.
    pub fn resolve_parents(&self, path: &str) -> String {
        let mut todo: std::collections::VecDeque<String> =
            path.split('/').map(String::from).collect();
        let last = todo.pop_back().unwrap_or_default();
        let mut done: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(part) = todo.pop_front() {
            match part.as_str() {
                "" | "." => continue,
                ".." => {
                    done.pop();
                    continue;
                }
                _ => done.push(part),
            }
            if hops < 40
                && let Some(Entry {
                    kind: Kind::Symlink(target),
                    ..
                }) = self.get(&done.join("/"))
            {
                hops += 1;
                done.pop();
                if target.starts_with('/') {
                    done.clear();
                }
                for c in target.split('/').rev() {
                    todo.push_front(c.to_string());
                }
            }
        }
        done.push(last);
        done.join("/")
    }

    /// Creates the missing directories of `dir` (0755, root, `mtime`), following the tree's
    /// symlinks as `mkdir -p` would; `Err` names a component that is not a directory.
    pub fn make_dirs(&mut self, dir: &str, mtime: u64) -> Result<(), String> {
        let mut prefix = String::new();
        for part in dir.split('/').filter(|p| !p.is_empty()) {
            prefix.push('/');
            prefix.push_str(part);
            let at = self.resolve(&prefix);
            match self.get(&at).map(|e| &e.kind) {
                _ if at.is_empty() => {}
                Some(Kind::Dir) => {}
                None => {
                    let mut d = Entry::dir(0o755);
                    d.mtime = mtime;
                    self.insert(&at, d).map_err(|e| e.to_string())?;
                }
                Some(_) => return Err(format!("/{at} is not a directory")),
            }
        }
        Ok(())
    }

    /// `path` with every symlink followed, the last component too (at most 40 links): where
    /// writing to `path` inside the image writes.
    pub fn resolve(&self, path: &str) -> String {
        let mut path = self.resolve_parents(path);
        for _ in 0..40 {
            let Some(Entry {
                kind: Kind::Symlink(target),
                ..
            }) = self.get(&path)
            else {
                break;
            };
            let joined = match (target.starts_with('/'), path.rsplit_once('/')) {
                (false, Some((dir, _))) => format!("{dir}/{target}"),
                _ => target.clone(),
            };
            path = self.resolve_parents(&joined);
        }
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_are_created_and_paths_normalized() {
        let mut t = Tree::new();
        t.insert("/usr//bin/./hello", Entry::file(&b"x"[..], 0o755))
            .unwrap();
        let paths: Vec<&str> = t.iter().map(|(p, _)| p).collect();
        assert_eq!(paths, ["usr", "usr/bin", "usr/bin/hello"]);
        t.insert("usr/bin-x", Entry::dir(0o755)).unwrap();
        t.insert("usr/bin/a/b", Entry::dir(0o755)).unwrap();
        let names = |d: &str| {
            t.children(d)
                .map(|(n, _)| n.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(names("usr/bin"), ["a", "hello"]);
        assert_eq!(names("/usr/"), ["bin", "bin-x"]);
        assert_eq!(names(""), ["usr"]);
        assert!(names("nothing").is_empty());
        assert_eq!(t.get("usr").unwrap().kind, Kind::Dir);
        assert_eq!(
            t.insert("../etc", Entry::dir(0o755)),
            Err(BadPath("../etc".into()))
        );
        assert_eq!(t.non_dir_parent("usr/bin/a/b/c"), None);
        assert_eq!(t.non_dir_parent("usr/bin/hello"), None);
        let (at, e) = t.non_dir_parent("/usr/bin/hello/x/y").unwrap();
        assert_eq!(
            (at.as_str(), e.kind.describe()),
            ("usr/bin/hello", "a regular file")
        );
        assert_eq!(t.non_dir_parent("opt/x/y"), None);
        t.remove("usr");
        assert!(t.is_empty());
    }
}
