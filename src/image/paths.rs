//! `paths`: the filesystem changes a config asks for after installation, with apko 1.2.39's
//! semantics (`pkg/build/paths.go` on its tarfs): each mutation creates its path, then sets
//! its mode and owner (`mutatePermissions`), on everything beneath it too with `recursive`.
//!
//! - `directory`: created with its missing parents, all with the given mode (existing ones
//!   are left alone until the permissions step).
//! - `empty-file`: created (or truncated) under 0755 parents.
//! - `hardlink`: replaces the path with a link to `source`: one inode, so mode and owner
//!   apply to both; the layer gets it as a second regular file with the source's bytes and
//!   metadata (apko's tarfs records no link header for it).
//! - `symlink`: a new link to `source` (an existing path is an error, as for `symlink(2)`),
//!   with its parent directory's mtime.
//! - `permissions`: mode and owner of an existing path.
//!
//! The permissions step changes the mode always and the owner only when `uid` or `gid` is set
//! (the other one then 0); like apko's `Chmod`/`Chown`, it follows a symlink to what it points
//! at (a dangling one is an error), and it reaches every name of a hard-linked file. The
//! recursive walk does not descend through symlinks, but a symlink it meets has its target
//! changed.

use super::config::PathMutation;
use crate::fs::{Entry, Kind, Tree, normalize};

/// Applies every mutation in order; created entries get `mtime`.
pub fn apply(tree: &mut Tree, mutations: &[PathMutation], mtime: u64) -> Result<(), String> {
    let mut links = Vec::new();
    for m in mutations {
        apply_one(tree, m, mtime, &mut links).map_err(|why| {
            format!(
                "failed to mutate paths: {} {:?}: {why}",
                m.kind,
                format!("/{}", normalize(&m.path).unwrap_or_else(|_| m.path.clone()))
            )
        })?;
    }
    // the hard links made here become copies of their (final) source
    for path in links {
        if let Some(Entry {
            kind: Kind::Hardlink(source),
            ..
        }) = tree.get(&path)
            && let Some(e) = tree.get(source).cloned()
        {
            tree.insert(&path, e).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// Every name of the inode at `path` (symlinks followed, as `getNode`): the file and the
/// hard links to it.
fn inode_names(tree: &Tree, path: &str) -> Result<Vec<String>, String> {
    let resolved = tree.resolve(path);
    let first = match tree.get(&resolved).map(|e| &e.kind) {
        None => return Err("no such file or directory".into()),
        Some(Kind::Hardlink(source)) => source.clone(),
        Some(_) => resolved,
    };
    let mut names = vec![first.clone()];
    names.extend(
        tree.iter()
            .filter(|(_, e)| e.kind == Kind::Hardlink(first.clone()))
            .map(|(p, _)| p.to_string()),
    );
    Ok(names)
}

/// apko's `mutatePermissionsDirect`: the mode always, the owner when `uid` or `gid` is set.
fn set(tree: &mut Tree, m: &PathMutation, path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Ok(()); // the root is not in the layer
    }
    for name in inode_names(tree, path)? {
        let e = tree.get_mut(&name).expect("listed above");
        e.mode = m.permissions & 0o7777;
        if m.uid.is_some() || m.gid.is_some() {
            e.uid = m.uid.unwrap_or(0);
            e.gid = m.gid.unwrap_or(0);
        }
    }
    Ok(())
}

/// apko's `mutatePermissions`: `path`, and with `recursive` every entry beneath it.
fn permissions(tree: &mut Tree, m: &PathMutation, path: &str) -> Result<(), String> {
    if !m.recursive {
        return set(tree, m, path);
    }
    let root = tree.resolve(path);
    if !path.is_empty() && tree.get(&root).is_none() {
        return Err("no such file or directory".into());
    }
    let is_dir = root.is_empty() || matches!(tree.get(&root), Some(e) if e.kind == Kind::Dir);
    set(tree, m, path)?;
    if !is_dir {
        return Ok(());
    }
    let prefix = format!("{root}/");
    let below: Vec<String> = tree
        .iter()
        .map(|(p, _)| p)
        .filter(|p| root.is_empty() || p.starts_with(&prefix))
        .map(str::to_string)
        .collect();
    for p in below {
        set(tree, m, &p).map_err(|why| format!("mutating permissions for path \"/{p}\": {why}"))?;
    }
    Ok(())
}

fn apply_one(
    tree: &mut Tree,
    m: &PathMutation,
    mtime: u64,
    links: &mut Vec<String>,
) -> Result<(), String> {
    let path = normalize(&m.path).map_err(|e| e.to_string())?;
    if path.is_empty() && m.kind != "directory" && m.kind != "permissions" {
        return Err("the root cannot be replaced".into());
    }
    match m.kind.as_str() {
        "directory" => {
            mkdir_all(tree, &path, m.permissions & 0o7777, mtime)?;
        }
        "empty-file" => {
            mkdir_all(tree, parent(&path), 0o755, mtime)?;
            if matches!(tree.get(&path), Some(e) if e.kind == Kind::Dir) {
                return Err("is a directory".into());
            }
            let mut e = Entry::file(Vec::new(), 0o644);
            e.mtime = mtime;
            tree.insert(&path, e).map_err(|e| e.to_string())?;
        }
        "hardlink" => {
            let source = normalize(&m.source).map_err(|e| e.to_string())?;
            let source = match tree.get(&tree.resolve(&source)).map(|e| &e.kind) {
                Some(Kind::File(_)) => tree.resolve(&source),
                Some(Kind::Hardlink(s)) => s.clone(),
                Some(_) => return Err(format!("link source /{source} is not a regular file")),
                None => return Err(format!("link source /{source}: no such file")),
            };
            mkdir_all(tree, parent(&path), 0o755, mtime)?;
            tree.remove(&path);
            let mut e = tree.get(&source).cloned().expect("checked above");
            e.kind = Kind::Hardlink(source.clone());
            tree.insert(&path, e).map_err(|e| e.to_string())?;
            links.push(path.clone());
        }
        "symlink" => {
            mkdir_all(tree, parent(&path), 0o755, mtime)?;
            if tree.get(&path).is_some() {
                return Err("file exists".into());
            }
            // apko's tarfs gives a new symlink its parent directory's mtime
            let mut e = Entry::symlink(m.source.clone());
            e.mtime = tree
                .get(&tree.resolve(parent(&path)))
                .map_or(0, |d| d.mtime);
            tree.insert(&path, e).map_err(|e| e.to_string())?;
        }
        "permissions" => {}
        other => return Err(format!("unsupported path mutation type {other:?}")),
    }
    permissions(tree, m, &path)
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
        t.insert(
            "usr/bin",
            Entry {
                mtime: 1234,
                ..Entry::dir(0o755)
            },
        )
        .unwrap();
        let mut rec = m("directory", "/var/lib/app", "", 0o750, 65532);
        rec.recursive = true;
        t.insert("var/lib/app/data/x", Entry::file(&b"x"[..], 0o600))
            .unwrap();
        t.insert("var/lib/app/data/link", Entry::symlink("/etc/shown"))
            .unwrap();
        t.insert("etc/shown", Entry::file(&b"s"[..], 0o644))
            .unwrap();
        apply(
            &mut t,
            &[
                m("directory", "/data/cache", "", 0o700, 1000),
                m("empty-file", "/run/app.pid", "", 0o640, 1000),
                m("hardlink", "/etc/motd2", "/etc/motd", 0o600, 5),
                m("symlink", "/usr/bin/app", "/etc/motd", 0o755, 7),
                m("permissions", "/etc/motd2", "", 0o444, 0),
                rec,
            ],
            9,
        )
        .unwrap();
        let g = |p: &str| t.get(p).unwrap().clone();
        let mu = |p: &str| (g(p).mode, g(p).uid, g(p).gid);
        assert_eq!((g("data").mode, g("data/cache").mode), (0o700, 0o700));
        assert_eq!(g("data/cache").uid, 1000);
        assert_eq!(g("run/app.pid").kind, Kind::File(Vec::new().into()));
        assert_eq!((g("run/app.pid").mode, g("run").mode), (0o640, 0o755));
        // one inode: the last change to either name shows on both; the link made by paths is
        // written as a second regular file with the source's bytes and metadata
        assert_eq!(g("etc/motd2"), g("etc/motd"));
        assert_eq!(g("etc/motd2").kind, Kind::File(b"hi".to_vec().into()));
        assert_eq!(mu("etc/motd"), (0o444, 0, 0));
        // a symlink's mode and owner go to its target (apko's Chmod and Chown follow it)
        assert_eq!(g("usr/bin/app").kind, Kind::Symlink("/etc/motd".into()));
        assert_eq!(mu("usr/bin/app"), (0o777, 0, 0));
        assert_eq!(g("usr/bin/app").mtime, 1234); // its directory's
        for p in ["var/lib/app", "var/lib/app/data", "var/lib/app/data/x"] {
            assert_eq!(mu(p), (0o750, 65532, 65532), "{p}");
        }
        assert_eq!(mu("var/lib/app/data/link"), (0o777, 0, 0));
        assert_eq!(mu("etc/shown"), (0o750, 65532, 65532));
        assert_eq!(g("var/lib").mode, 0o755);
        assert_eq!(
            apply(&mut t, &[m("permissions", "/nope", "", 0o644, 0)], 0).unwrap_err(),
            "failed to mutate paths: permissions \"/nope\": no such file or directory"
        );
        assert_eq!(
            apply(&mut t, &[m("symlink", "/etc/motd", "x", 0, 0)], 0).unwrap_err(),
            "failed to mutate paths: symlink \"/etc/motd\": file exists"
        );
        // apko chmods what a new symlink points at: a dangling one is an error
        assert_eq!(
            apply(
                &mut t,
                &[m("symlink", "/usr/bin/dangling", "/nope", 0, 0)],
                0
            )
            .unwrap_err(),
            "failed to mutate paths: symlink \"/usr/bin/dangling\": no such file or directory"
        );
    }

    #[test]
    fn recursive_permissions_reach_everything_below_and_keep_owners_when_none_is_given() {
        let mut t = Tree::new();
        let owned = |e: Entry| Entry {
            uid: 9,
            gid: 9,
            ..e
        };
        t.insert("opt/app", owned(Entry::dir(0o755))).unwrap();
        t.insert("opt/app/run.sh", owned(Entry::file(&b"r"[..], 0o755)))
            .unwrap();
        t.insert(
            "opt/app/conf/app.conf",
            owned(Entry::file(&b"c"[..], 0o644)),
        )
        .unwrap();
        t.insert("opt/other", owned(Entry::file(&b"o"[..], 0o644)))
            .unwrap();
        let mut rec = m("permissions", "/opt/app", "", 0o700, 1000);
        rec.recursive = true;
        apply(&mut t, &[rec.clone()], 0).unwrap();
        let mu = |t: &Tree, p: &str| {
            let e = t.get(p).unwrap();
            (e.mode, e.uid, e.gid)
        };
        for p in [
            "opt/app",
            "opt/app/run.sh",
            "opt/app/conf",
            "opt/app/conf/app.conf",
        ] {
            assert_eq!(mu(&t, p), (0o700, 1000, 1000), "{p}");
        }
        assert_eq!(mu(&t, "opt/other"), (0o644, 9, 9));
        // mode only: neither uid nor gid
        (rec.uid, rec.gid, rec.permissions) = (None, None, 0o750);
        apply(&mut t, &[rec.clone()], 0).unwrap();
        assert_eq!(mu(&t, "opt/app/run.sh"), (0o750, 1000, 1000));
        // one of them: the other is 0
        (rec.uid, rec.recursive) = (Some(5), false);
        apply(&mut t, &[rec], 0).unwrap();
        assert_eq!(mu(&t, "opt/app"), (0o750, 5, 0));
        assert_eq!(mu(&t, "opt/app/run.sh"), (0o750, 1000, 1000));
    }
}
