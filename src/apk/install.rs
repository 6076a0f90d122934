//! Installing into the image filesystem: apk's base directories and database files, then
//! each package's files with the modes and owners of its tar headers (recorded in the
//! [`Tree`], never applied on disk, so no root is needed), in dependency order.

use super::db::{self, FileRecord};
use super::package::{ApkFile, DataEntry, EntryKind};
use super::{ApkError, InstalledPackage};
use crate::fs::{Content, Entry, Kind, Spill, Tree, normalize};
use std::collections::HashMap;
use std::sync::Arc;

/// Where apko keeps apk's database (`lib/apk` links to `usr/lib/apk`).
pub const DB_DIR: &str = "usr/lib/apk/db";
/// Where older apk and apko kept it; a base image built so keeps it there.
const OLD_DB_DIR: &str = "lib/apk/db";

/// The database directory of a tree: the base image's old `lib/apk/db` if it has one.
pub fn db_dir(tree: &Tree) -> &'static str {
    match tree
        .get(&format!("{OLD_DB_DIR}/installed"))
        .map(|e| &e.kind)
    {
        Some(Kind::File(_)) if tree.get("lib/apk").is_some_and(|e| e.kind == Kind::Dir) => {
            OLD_DB_DIR
        }
        _ => DB_DIR,
    }
}

/// The installed database of a tree (a base image), if any.
pub fn installed_db(tree: &Tree) -> Option<String> {
    file_text(tree, &format!("{}/installed", db_dir(tree)))
        .map(|data| String::from_utf8_lossy(&data).into_owned())
}

fn file_text(tree: &Tree, path: &str) -> Option<Vec<u8>> {
    match tree.get(path).map(|e| &e.kind) {
        Some(Kind::File(data)) => data.read().ok().map(|d| d.into_owned()),
        _ => None,
    }
}

fn dir(mode: u32, mtime: u64) -> Entry {
    Entry {
        mtime,
        ..Entry::dir(mode)
    }
}

fn file(data: impl Into<Content>, mode: u32, mtime: u64) -> Entry {
    Entry {
        mtime,
        ..Entry::file(data, mode)
    }
}

fn insert(tree: &mut Tree, path: &str, entry: Entry) -> Result<(), ApkError> {
    tree.insert(path, entry)
        .map_err(|e| ApkError::Install(e.to_string()))
}

/// apk's skeleton, as apko creates it: base directories, device nodes and empty database
/// files. Paths that already exist (a base image) are kept.
pub fn init_layout(tree: &mut Tree, arch: &str, mtime: u64) -> Result<(), ApkError> {
    let db = db_dir(tree);
    let dirs: [(&str, u32); 16] = [
        ("tmp", 0o1777),
        ("dev", 0o755),
        ("etc", 0o755),
        ("opt", 0o755),
        ("proc", 0o555),
        ("var", 0o755),
        ("usr", 0o755),
        ("etc/apk", 0o755),
        ("etc/apk/keys", 0o755),
        ("usr/lib", 0o755),
        ("usr/lib/apk", 0o755),
        ("usr/lib/apk/db", 0o755),
        ("usr/lib/apk/exec", 0o755),
        ("var/cache", 0o755),
        ("var/cache/apk", 0o755),
        ("var/cache/misc", 0o755),
    ];
    for (path, mode) in dirs {
        if tree.get(path).is_none() {
            insert(tree, path, dir(mode, mtime))?;
        }
    }
    let files: [(String, u32, &[u8]); 6] = [
        ("etc/apk/world".into(), 0o644, b"\n"),
        ("etc/apk/repositories".into(), 0o644, b"\n"),
        (format!("{db}/lock"), 0o600, b""),
        (format!("{db}/triggers"), 0o644, b""),
        (format!("{db}/installed"), 0o644, b""),
        (format!("{db}/scripts.tar"), 0o644, &[0u8; 1024]),
    ];
    for (path, mode, data) in files {
        let path = path.as_str();
        if tree.get(path).is_none() {
            insert(tree, path, file(data, mode, mtime))?;
        }
    }
    insert(
        tree,
        "etc/apk/arch",
        file(format!("{arch}\n").into_bytes(), 0o644, mtime),
    )?;
    let devices: [(&str, u32, u32, u32); 5] = [
        ("dev/zero", 1, 5, 0o666),
        ("dev/urandom", 1, 9, 0o666),
        ("dev/null", 1, 3, 0o666),
        ("dev/random", 1, 8, 0o666),
        ("dev/console", 5, 1, 0o620),
    ];
    for (path, major, minor, mode) in devices {
        if tree.get(path).is_none() {
            let entry = Entry {
                kind: Kind::CharDevice(major, minor),
                ..dir(mode, mtime)
            };
            insert(tree, path, entry)?;
        }
    }
    Ok(())
}

/// After the packages: `lib/apk` → `../usr/lib/apk` unless `lib` already leads there.
pub fn link_lib_apk(tree: &mut Tree, mtime: u64) -> Result<(), ApkError> {
    if let Some(Entry {
        kind: Kind::Symlink(target),
        ..
    }) = tree.get("lib")
        && normalize(target.trim_start_matches("..")).as_deref() == Ok("usr/lib")
    {
        return Ok(());
    }
    if tree.get("lib/apk").is_some() {
        return Ok(());
    }
    if tree.get("lib").is_none() {
        insert(tree, "lib", dir(0o755, mtime))?;
    }
    let link = Entry {
        mtime,
        ..Entry::symlink("../usr/lib/apk")
    };
    insert(tree, "lib/apk", link)
}

/// Who installed each file: for file conflicts and `replaces`.
#[derive(Debug, Clone)]
struct Owner {
    name: String,
    origin: String,
    replaces: Vec<String>,
}

/// A package's database record, written once every package is in: a regular file another
/// package overwrote later is listed under that package only, as go-apk lists it.
struct Pending {
    package: super::meta::Package,
    /// Each path with, for a regular file, where it landed (the key of `owners`).
    files: Vec<(FileRecord, Option<String>)>,
}

/// Installs verified packages into a tree, keeping apk's database in step.
pub struct Installer {
    db: &'static str,
    /// Keyed by where each path landed in the tree (symlinked parents followed), so a write
    /// through a symlink meets the owner of the file it would overwrite.
    owners: HashMap<String, Owner>,
    installed: String,
    pending: Vec<Pending>,
    scripts: Vec<u8>,
    triggers: String,
    build_time: u64,
    /// Where packages' files go (created with the first package).
    spill: Option<Arc<Spill>>,
}

impl Installer {
    /// Starts from the tree's current database (empty, or a base image's).
    pub fn new(tree: &Tree, build_time: u64) -> Installer {
        let db = db_dir(tree);
        let installed = installed_db(tree).unwrap_or_default();
        let mut owners = HashMap::new();
        if let Ok(index) = super::index::Index::parse(installed.clone()) {
            let by_name: HashMap<&str, Owner> = index
                .packages()
                .map(|p| {
                    (
                        p.name(),
                        Owner {
                            name: p.name().to_string(),
                            origin: p.origin().to_string(),
                            replaces: p.replaces().map(String::from).collect(),
                        },
                    )
                })
                .collect();
            for (name, path) in db::owned_files(&installed) {
                if let Some(owner) = by_name.get(name.as_str()) {
                    owners.insert(tree.resolve_parents(&path), owner.clone());
                }
            }
        }
        let mut scripts = file_text(tree, &format!("{db}/scripts.tar")).unwrap_or_default();
        if scripts.len() >= 1024 && scripts[scripts.len() - 1024..].iter().all(|b| *b == 0) {
            scripts.truncate(scripts.len() - 1024);
        }
        Installer {
            db,
            owners,
            installed,
            pending: Vec::new(),
            scripts,
            triggers: file_text(tree, &format!("{db}/triggers"))
                .map(|t| String::from_utf8_lossy(&t).into_owned())
                .unwrap_or_default(),
            build_time,
            spill: None,
        }
    }

    /// Installs one package's files and records it.
    pub fn add(&mut self, tree: &mut Tree, apk: &ApkFile) -> Result<(), ApkError> {
        let pkg = &apk.package;
        let me = Owner {
            name: pkg.name.clone(),
            origin: pkg.origin.clone(),
            replaces: pkg.replaces.clone(),
        };
        let spill = match &self.spill {
            Some(s) => s.clone(),
            None => {
                let s = Spill::shared().map_err(|e| {
                    ApkError::Install(format!("package {}: {e}; cannot install it", pkg.name))
                })?;
                self.spill.insert(s).clone()
            }
        };
        let mut files = Vec::new();
        apk.for_each_entry_spilled(&spill, |entry, content| {
            self.add_entry(tree, &me, entry, content, &mut files)
        })?;
        self.pending.push(Pending {
            package: pkg.clone(),
            files,
        });
        for (mut header, data) in apk.scripts() {
            let orig = String::from_utf8_lossy(&header.path_bytes()).into_owned();
            let name = format!("{}-{}.{}{}", pkg.name, pkg.version, pkg.checksum, orig);
            header.set_mtime(self.build_time);
            let mut builder = tar::Builder::new(Vec::new());
            builder
                .append_data(&mut header, &name, &data[..])
                .map_err(|e| ApkError::Install(format!("scripts.tar: {e}")))?;
            let mut bytes = builder
                .into_inner()
                .map_err(|e| ApkError::Install(format!("scripts.tar: {e}")))?;
            bytes.truncate(bytes.len() - 1024);
            self.scripts.extend_from_slice(&bytes);
        }
        for value in &pkg.triggers {
            self.triggers
                .push_str(&format!("{} {value}\n", pkg.checksum));
        }
        Ok(())
    }

    fn add_entry(
        &mut self,
        tree: &mut Tree,
        me: &Owner,
        entry: DataEntry,
        content: Option<Content>,
        files: &mut Vec<(FileRecord, Option<String>)>,
    ) -> Result<(), ApkError> {
        let refuse = |why: String| {
            ApkError::Install(format!(
                "package {}: {why}; refusing to install it",
                me.name
            ))
        };
        let bad = |e: crate::fs::BadPath| refuse(e.to_string());
        let rel = normalize(&entry.path).map_err(bad)?;
        if rel.is_empty() {
            return Ok(());
        }
        let is_dir = entry.kind == EntryKind::Dir;
        // Where opening the path inside the image would write: symlinked parents followed.
        let path = tree.resolve_parents(&rel);
        let via = if path == rel {
            String::new()
        } else {
            format!(" (through a symlink, /{path})")
        };
        if let Some((parent, e)) = tree.non_dir_parent(&path) {
            return Err(refuse(format!(
                "cannot install /{rel}{via}: /{parent} is {}, not a directory",
                e.kind.describe()
            )));
        }
        let record = FileRecord {
            path: rel.clone(),
            dir: is_dir,
            mode: entry.mode,
            uid: entry.uid,
            gid: entry.gid,
            checksum: entry.checksum.clone(),
        };
        if is_dir {
            match tree.get_mut(&path) {
                Some(existing) if existing.kind == Kind::Dir => {
                    existing.mode = entry.mode;
                    existing.uid = entry.uid;
                    existing.gid = entry.gid;
                    existing.mtime = entry.mtime;
                    existing.xattrs = entry.xattrs;
                }
                // A symlink stays (usr-merged layouts); what is written through it is checked
                // where it lands.
                Some(existing) if matches!(existing.kind, Kind::Symlink(_)) => {}
                Some(existing) => {
                    return Err(refuse(format!(
                        "cannot install the directory /{rel}{via}: /{path} is {}",
                        existing.kind.describe()
                    )));
                }
                None => insert(
                    tree,
                    &path,
                    Entry {
                        kind: Kind::Dir,
                        mode: entry.mode,
                        uid: entry.uid,
                        gid: entry.gid,
                        mtime: entry.mtime,
                        xattrs: entry.xattrs,
                    },
                )?,
            }
            files.push((record, None));
            return Ok(());
        }
        let kind = match entry.kind {
            EntryKind::File(_) => Kind::File(content.unwrap_or_default()),
            EntryKind::Symlink(target) => Kind::Symlink(target),
            EntryKind::Hardlink(target) => {
                let target = normalize(&target).map_err(bad)?;
                let at = tree.resolve_parents(&target);
                match tree.get(&at).map(|e| &e.kind) {
                    None => {
                        return Err(refuse(format!(
                            "the hard link /{rel} points to /{target}, which does not exist"
                        )));
                    }
                    Some(Kind::Dir) => {
                        return Err(refuse(format!(
                            "the hard link /{rel} points to /{target}, which is a directory"
                        )));
                    }
                    Some(_) => Kind::Hardlink(at),
                }
            }
            EntryKind::CharDevice(a, b) => Kind::CharDevice(a, b),
            EntryKind::BlockDevice(a, b) => Kind::BlockDevice(a, b),
            EntryKind::Fifo => Kind::Fifo,
            EntryKind::Dir => unreachable!("handled above"),
        };
        let regular = matches!(kind, Kind::File(_)).then(|| path.clone());
        if let Some(owner) = self.owners.get(&path)
            && owner.name != me.name
        {
            // The same contents (a file's bytes, a link's target): the first one stays, as
            // apk keeps it.
            if tree.get(&path).is_some_and(|e| e.kind == kind) {
                files.push((record, regular));
                return Ok(());
            }
            if owner.replaces.contains(&me.name) {
                // The installed package replaces this one: its file stays.
                files.push((record, regular));
                return Ok(());
            }
            let allowed = me.replaces.contains(&owner.name)
                || (!owner.origin.is_empty() && owner.origin == me.origin);
            if !allowed {
                return Err(ApkError::Install(format!(
                    "package {} would overwrite /{rel}{via}, which package {} installed; one of them must declare `replaces` on the other",
                    me.name, owner.name
                )));
            }
        }
        if tree.get(&path).is_some_and(|e| e.kind == Kind::Dir) {
            if tree.children(&path).next().is_some() {
                return Err(refuse(format!(
                    "cannot install /{rel}{via}: /{path} is a directory that is not empty"
                )));
            }
            tree.remove(&path);
        }
        self.owners.insert(path.clone(), me.clone());
        files.push((record, regular));
        insert(
            tree,
            &path,
            Entry {
                kind,
                mode: entry.mode,
                uid: entry.uid,
                gid: entry.gid,
                mtime: entry.mtime,
                xattrs: entry.xattrs,
            },
        )
    }

    /// Writes the database files, with mtime 0 as apko's tarfs leaves what the installer makes
    /// (only `scripts.tar`'s members carry the build time).
    pub fn finish(mut self, tree: &mut Tree) -> Result<(), ApkError> {
        let (t, db) = (0, self.db);
        for pending in &self.pending {
            let name = &pending.package.name;
            let files: Vec<FileRecord> = pending
                .files
                .iter()
                .filter(|(_, at)| {
                    at.as_ref()
                        .is_none_or(|at| self.owners.get(at).is_none_or(|o| &o.name == name))
                })
                .map(|(f, _)| f.clone())
                .collect();
            self.installed
                .push_str(&db::record(&pending.package, &files));
        }
        let installed = self.installed.into_bytes();
        insert(tree, &format!("{db}/installed"), file(installed, 0o644, t))?;
        self.scripts.extend_from_slice(&[0u8; 1024]);
        insert(
            tree,
            &format!("{db}/scripts.tar"),
            file(self.scripts, 0o644, t),
        )?;
        let triggers = self.triggers.into_bytes();
        insert(tree, &format!("{db}/triggers"), file(triggers, 0o644, t))?;
        Ok(())
    }
}

/// `/etc/apk/world`: the sorted, de-duplicated world (a base image's entries kept).
pub fn write_world(tree: &mut Tree, packages: &[String], mtime: u64) -> Result<(), ApkError> {
    let mut world: Vec<String> = file_text(tree, "etc/apk/world")
        .map(|t| {
            String::from_utf8_lossy(&t)
                .split_whitespace()
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    world.extend(packages.iter().cloned());
    world.sort();
    world.dedup();
    let text = format!("{}\n", world.join("\n"));
    insert(tree, "etc/apk/world", file(text.into_bytes(), 0o644, mtime))
}

/// `/etc/apk/world` replaced by `packages`, sorted and de-duplicated, as apko's `SetWorld`
/// writes the locked world (every package pinned); the entry keeps its metadata.
pub fn set_world(tree: &mut Tree, packages: &[String]) -> Result<(), ApkError> {
    let mut world = packages.to_vec();
    world.sort();
    world.dedup();
    let text = Content::from(format!("{}\n", world.join("\n")).into_bytes());
    match tree.get_mut("etc/apk/world") {
        Some(e) => {
            e.kind = Kind::File(text);
            Ok(())
        }
        None => insert(tree, "etc/apk/world", file(text, 0o644, 0)),
    }
}

/// `/etc/apk/repositories`: the runtime repositories, without credentials.
pub fn write_repositories(tree: &mut Tree, lines: &[String], mtime: u64) -> Result<(), ApkError> {
    let text = format!("{}\n", lines.join("\n"));
    insert(
        tree,
        "etc/apk/repositories",
        file(text.into_bytes(), 0o644, mtime),
    )
}

/// `/etc/apk/keys/<name>` for each key.
pub fn write_keys(tree: &mut Tree, keys: &[super::keys::Key], mtime: u64) -> Result<(), ApkError> {
    for key in keys {
        insert(
            tree,
            &format!("etc/apk/keys/{}", key.name),
            file(key.pem.clone(), 0o644, mtime),
        )?;
    }
    Ok(())
}

/// The summary of an installed package.
pub fn summary(apk: &ApkFile, repository: &str, url: String) -> InstalledPackage {
    let p = &apk.package;
    InstalledPackage {
        name: p.name.clone(),
        version: p.version.clone(),
        arch: p.arch.clone(),
        checksum: p.checksum.clone(),
        origin: (!p.origin.is_empty()).then(|| p.origin.clone()),
        repository: repository.to_string(),
        url,
        size: p.size,
        sections: apk.sections.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_world_is_replaced_sorted_and_de_duplicated() {
        let mut tree = Tree::new();
        init_layout(&mut tree, "x86_64", 3).unwrap();
        let world = ["s6=2.13-r0", "difftest-app=2.0-r1", "s6", "s6"].map(String::from);
        set_world(&mut tree, &world).unwrap();
        let e = tree.get("etc/apk/world").unwrap();
        assert_eq!(
            e.kind,
            Kind::File(b"difftest-app=2.0-r1\ns6\ns6=2.13-r0\n".to_vec().into())
        );
        assert_eq!((e.mode, e.mtime), (0o644, 3));
    }

    #[test]
    fn symlinked_parents_are_followed() {
        let mut tree = Tree::new();
        tree.insert("usr/lib", Entry::dir(0o755)).unwrap();
        tree.insert("lib", Entry::symlink("usr/lib")).unwrap();
        tree.insert("bin", Entry::symlink("/usr/bin")).unwrap();
        tree.insert("usr/lib64", Entry::symlink("../lib")).unwrap();
        assert_eq!(tree.resolve_parents("lib/x.so"), "usr/lib/x.so");
        assert_eq!(tree.resolve_parents("bin/sh"), "usr/bin/sh");
        assert_eq!(tree.resolve_parents("usr/lib64/y"), "usr/lib/y");
        assert_eq!(tree.resolve_parents("lib"), "lib");
        assert_eq!(tree.resolve_parents("etc/passwd"), "etc/passwd");
    }
}
