//! The image filesystem as the builder assembles it: packages are installed into a [`Tree`],
//! accounts and `paths` change it, and the layer writer turns it into a tar. Ownership and
//! modes live here, not on disk, so building needs no root.

use std::collections::BTreeMap;
use std::sync::Arc;

/// What a path is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Dir,
    /// A regular file with its contents.
    File(Arc<[u8]>),
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
    pub fn file(data: impl Into<Arc<[u8]>>, mode: u32) -> Entry {
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
