//! `paths`: the filesystem changes a config asks for after installation, with apko's
//! semantics (`mutatePaths`): each mutation creates its path, then sets its mode and owner.
//!
//! - `directory`: created with its missing parents, all with the given mode; `recursive`
//!   applies mode and owner to everything below as well.
//! - `empty-file`: created (or truncated) under 0755 parents.
//! - `hardlink`: replaces the path with a link to `source`; since the two are one inode, the
//!   mode and owner apply to both.
//! - `symlink`: a new link to `source` (an existing path is an error, as for `symlink(2)`);
//!   the owner applies to the link itself, the mode stays 0777 and the target is untouched.
//! - `permissions`: mode and owner of an existing path.

use super::config::PathMutation;
use crate::fs::{Entry, Kind, Tree, normalize};

/// Applies every mutation in order; created entries get `mtime`.
pub fn apply(tree: &mut Tree, mutations: &[PathMutation], mtime: u64) -> Result<(), String> {
    for m in mutations {
        apply_one(tree, m, mtime).map_err(|why| {
            format!(
                "failed to mutate paths: {} {:?}: {why}",
                m.kind,
                format!("/{}", normalize(&m.path).unwrap_or_else(|_| m.path.clone()))
            )
        })?;
    }
    Ok(())
}

fn apply_one(tree: &mut Tree, m: &PathMutation, mtime: u64) -> Result<(), String> {
    let path = normalize(&m.path).map_err(|e| e.to_string())?;
    if path.is_empty() && m.kind != "directory" && m.kind != "permissions" {
        return Err("the root cannot be replaced".into());
    }
    let set = |tree: &mut Tree, p: &str| -> Result<(), String> {
        let e = tree.get_mut(p).ok_or("no such file or directory")?;
        e.mode = m.permissions & 0o7777;
        e.uid = m.uid.unwrap_or(0);
        e.gid = m.gid.unwrap_or(0);
        Ok(())
    };
    match m.kind.as_str() {
        "directory" => {
            mkdir_all(tree, &path, m.permissions & 0o7777, mtime)?;
            if m.recursive {
                let prefix = format!("{path}/");
                let below: Vec<String> = tree
                    .iter()
                    .map(|(p, _)| p)
                    .filter(|p| path.is_empty() || p.starts_with(&prefix))
                    .map(str::to_string)
                    .collect();
                for p in below {
                    set(tree, &p)?;
                }
            }
            if path.is_empty() {
                return Ok(());
            }
            set(tree, &path)
        }
        "empty-file" => {
            mkdir_all(tree, parent(&path), 0o755, mtime)?;
            if matches!(tree.get(&path), Some(e) if e.kind == Kind::Dir) {
                return Err("is a directory".into());
            }
            let mut e = Entry::file(Vec::new(), 0o644);
            e.mtime = mtime;
            tree.insert(&path, e).map_err(|e| e.to_string())?;
            set(tree, &path)
        }
        "hardlink" => {
            let source = normalize(&m.source).map_err(|e| e.to_string())?;
            match tree.get(&source) {
                Some(Entry {
                    kind: Kind::File(_),
                    ..
                }) => {}
                Some(_) => return Err(format!("link source /{source} is not a regular file")),
                None => return Err(format!("link source /{source}: no such file")),
            }
            mkdir_all(tree, parent(&path), 0o755, mtime)?;
            tree.remove(&path);
            let mut e = tree.get(&source).cloned().expect("checked above");
            e.kind = Kind::Hardlink(source.clone());
            tree.insert(&path, e).map_err(|e| e.to_string())?;
            set(tree, &source)?;
            set(tree, &path)
        }
        "symlink" => {
            mkdir_all(tree, parent(&path), 0o755, mtime)?;
            if tree.get(&path).is_some() {
                return Err("file exists".into());
            }
            let mut e = Entry::symlink(m.source.clone());
            (e.uid, e.gid, e.mtime) = (m.uid.unwrap_or(0), m.gid.unwrap_or(0), mtime);
            tree.insert(&path, e).map_err(|e| e.to_string())
        }
        "permissions" => {
            if path.is_empty() {
                return Ok(());
            }
            set(tree, &path)
        }
        other => Err(format!("unsupported path mutation type {other:?}")),
    }
}

fn parent(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

/// `MkdirAll`: missing components are created with `mode`; an existing non-directory is an
/// error.
fn mkdir_all(tree: &mut Tree, path: &str, mode: u32, mtime: u64) -> Result<(), String> {
    let mut cur = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        if !cur.is_empty() {
            cur.push('/');
        }
        cur.push_str(part);
        match tree.get(&cur) {
            Some(Entry {
                kind: Kind::Dir, ..
            }) => {}
            Some(_) => return Err(format!("/{cur} exists and is not a directory")),
            None => {
                let mut e = Entry::dir(mode);
                e.mtime = mtime;
                tree.insert(&cur, e).map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(kind: &str, path: &str, source: &str, perms: u32, uid: u32) -> PathMutation {
        PathMutation {
            path: path.into(),
            kind: kind.into(),
            uid: Some(uid),
            gid: Some(uid),
            permissions: perms,
            source: source.into(),
            recursive: false,
        }
    }

    #[test]
    fn every_kind() {
        let mut t = Tree::new();
        t.insert("etc/motd", Entry::file(&b"hi"[..], 0o644))
            .unwrap();
        let mut rec = m("directory", "/var/lib/app", "", 0o750, 65532);
        rec.recursive = true;
        t.insert("var/lib/app/data/x", Entry::file(&b"x"[..], 0o600))
            .unwrap();
        apply(
            &mut t,
            &[
                m("directory", "/data/cache", "", 0o700, 1000),
                m("empty-file", "/run/app.pid", "", 0o640, 1000),
                m("hardlink", "/etc/motd2", "/etc/motd", 0o600, 5),
                m("symlink", "/usr/bin/app", "/opt/app", 0o755, 7),
                m("permissions", "/etc/motd2", "", 0o444, 0),
                rec,
            ],
            9,
        )
        .unwrap();
        let g = |p: &str| t.get(p).unwrap().clone();
        assert_eq!((g("data").mode, g("data/cache").mode), (0o700, 0o700));
        assert_eq!(g("data/cache").uid, 1000);
        assert_eq!(g("run/app.pid").kind, Kind::File(Vec::new().into()));
        assert_eq!((g("run/app.pid").mode, g("run").mode), (0o640, 0o755));
        assert_eq!(g("etc/motd2").kind, Kind::Hardlink("etc/motd".into()));
        assert_eq!((g("etc/motd").mode, g("etc/motd").uid), (0o600, 5));
        assert_eq!(g("etc/motd2").mode, 0o444);
        assert_eq!(g("usr/bin/app").kind, Kind::Symlink("/opt/app".into()));
        assert_eq!((g("usr/bin/app").mode, g("usr/bin/app").uid), (0o777, 7));
        for p in ["var/lib/app", "var/lib/app/data", "var/lib/app/data/x"] {
            assert_eq!((g(p).mode, g(p).uid), (0o750, 65532), "{p}");
        }
        assert_eq!(g("var/lib").mode, 0o755);
        assert_eq!(
            apply(&mut t, &[m("permissions", "/nope", "", 0o644, 0)], 0).unwrap_err(),
            "failed to mutate paths: permissions \"/nope\": no such file or directory"
        );
        assert_eq!(
            apply(&mut t, &[m("symlink", "/etc/motd", "x", 0, 0)], 0).unwrap_err(),
            "failed to mutate paths: symlink \"/etc/motd\": file exists"
        );
    }
}
