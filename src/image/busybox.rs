//! busybox applet links. apk would run busybox's `busybox --install -s` trigger; apko runs no
//! package scripts and creates the links itself, from the manifest busybox packages ship in
//! `/etc/busybox-paths.d/<package>` (Alpine since 1.36.0-r8, Wolfi since 1.36.0-r3).

use crate::apk::index::Index as ApkIndex;
use crate::apk::install as apk_install;
use crate::fs::{Entry, Kind, Tree};
use anyhow::bail;

const BUSYBOX: &str = "/bin/busybox";
const PATHS_DIR: &str = "etc/busybox-paths.d";

/// Links every applet the installed busybox lists to `/bin/busybox`, as apko 1.2.39 does
/// (`installBusyboxLinks`): each link's directory is made (missing parents with mtime 0) and
/// given the busybox binary's mtime, and the link gets its directory's, that is the binary's,
/// mtime (apko's tarfs gives a new symlink its parent's). A path that already exists as a file
/// or link is kept (as `busybox --install -s` keeps it).
pub fn install_links(tree: &mut Tree) -> anyhow::Result<()> {
    let binary = tree.resolve(BUSYBOX);
    let mtime = match tree.get(&binary) {
        Some(Entry {
            kind: Kind::File(_),
            mtime,
            ..
        }) => *mtime,
        _ => return Ok(()),
    };
    let Some(db) = apk_install::installed_db(tree) else {
        return Ok(()); // not a tree apk installed
    };
    let Some((package, version)) = busybox_package(db) else {
        tracing::warn!(
            "/bin/busybox is in the image but no installed package is busybox or provides it: no applet links are created"
        );
        return Ok(());
    };
    let manifest = format!("{PATHS_DIR}/{package}");
    let Some(Kind::File(list)) = tree.get(&tree.resolve(&manifest)).map(|e| &e.kind) else {
        tracing::warn!(
            "{package} {version} ships no /{manifest}, so its applet links (ls, cat, …) are not created; apko falls back to a built-in list per busybox version, which this builder does not carry (busybox 1.36.0-r8 and later ship the file)"
        );
        return Ok(());
    };
    let list = String::from_utf8_lossy(list).into_owned();
    for link in list.lines().map(str::trim) {
        if link.is_empty() || link == BUSYBOX {
            continue;
        }
        let (dir, _) = link.rsplit_once('/').unwrap_or(("", link));
        if dir.trim_matches('/').is_empty() {
            continue; // apko skips a link without a directory
        }
        tree.make_dirs(dir, 0)
            .map_err(|e| anyhow::anyhow!("creating busybox link {link}: {e}"))?;
        let resolved_dir = tree.resolve(dir.trim_start_matches('/'));
        if let Some(d) = tree.get_mut(&resolved_dir) {
            d.mtime = mtime;
        }
        let at = tree.resolve_parents(link);
        match tree.get(&at).map(|e| &e.kind) {
            None => {
                let mut e = Entry::symlink(BUSYBOX);
                e.mtime = mtime;
                tree.insert(&at, e)?;
            }
            Some(Kind::Symlink(_)) | Some(Kind::File(_)) => {}
            Some(_) => {
                bail!("creating busybox link {link}: /{at} exists and is neither a file nor a link")
            }
        }
    }
    Ok(())
}

/// The installed package named busybox, else the first whose `provides` mentions busybox (as
/// apko looks for it): name and version.
fn busybox_package(db: String) -> Option<(String, String)> {
    let index = ApkIndex::parse(db).ok()?;
    let packages: Vec<_> = index.packages().map(|p| p.to_package()).collect();
    packages
        .iter()
        .find(|p| p.name == "busybox")
        .or_else(|| {
            packages
                .iter()
                .find(|p| p.provides.iter().any(|v| v.contains("busybox")))
        })
        .map(|p| (p.name.clone(), p.version.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// busybox's binary, built at 9.
    fn busybox() -> Entry {
        Entry {
            mtime: 9,
            ..Entry::file(&b"ELF"[..], 0o755)
        }
    }

    fn tree(installed: &str, merged_usr: bool) -> Tree {
        let mut t = Tree::new();
        let db = format!("{}/installed", apk_install::db_dir(&t));
        t.insert(&db, Entry::file(installed.as_bytes().to_vec(), 0o644))
            .unwrap();
        if merged_usr {
            t.insert("bin", Entry::symlink("usr/bin")).unwrap();
            t.insert("usr/bin/busybox", busybox()).unwrap();
        } else {
            t.insert("bin/busybox", busybox()).unwrap();
        }
        t
    }

    fn link(t: &Tree, path: &str) -> Option<(String, u64)> {
        match t.get(path) {
            Some(Entry {
                kind: Kind::Symlink(to),
                mtime,
                ..
            }) => Some((to.clone(), *mtime)),
            _ => None,
        }
    }

    #[test]
    fn links_come_from_the_packages_manifest_through_merged_usr() {
        let mut t = tree("P:busybox\nV:1.37.0-r0\n\n", true);
        t.insert("usr/bin/sh", Entry::file(&b"dash"[..], 0o755))
            .unwrap();
        t.insert("etc/busybox-paths.d/busybox", Entry::file(
            &b"/bin/busybox\n/bin/ls\n/bin/sh\n/usr/sbin/chroot\n/usr/local/deep/bin/x\nnodir\n\n"[..],
            0o644,
        ))
        .unwrap();
        install_links(&mut t).unwrap();
        assert_eq!(link(&t, "usr/bin/ls"), Some(("/bin/busybox".into(), 9)));
        assert_eq!(
            link(&t, "usr/sbin/chroot"),
            Some(("/bin/busybox".into(), 9))
        );
        // each link's directory gets busybox's mtime (through bin -> usr/bin), missing parents 0
        assert_eq!(t.get("usr/sbin").unwrap().mtime, 9);
        assert_eq!(t.get("usr/bin").unwrap().mtime, 9);
        assert_eq!(
            (
                t.get("usr/local/deep").unwrap().mtime,
                t.get("usr/local/deep/bin").unwrap().mtime
            ),
            (0, 9)
        );
        assert_eq!(
            link(&t, "usr/local/deep/bin/x"),
            Some(("/bin/busybox".into(), 9))
        );
        assert!(
            t.get("nodir").is_none(),
            "a link without a directory is skipped"
        );
        assert!(
            matches!(t.get("usr/bin/sh").unwrap().kind, Kind::File(_)),
            "an existing file is kept"
        );
        assert!(matches!(
            t.get("usr/bin/busybox").unwrap().kind,
            Kind::File(_)
        ));
    }

    #[test]
    fn a_provider_counts_and_no_manifest_means_no_links() {
        let mut t = tree(
            "P:busybox-full\nV:1.36.1-r5\np:busybox=1.36.1-r5\n\n",
            false,
        );
        t.insert(
            "etc/busybox-paths.d/busybox-full",
            Entry::file(&b"/bin/cat\n"[..], 0o644),
        )
        .unwrap();
        install_links(&mut t).unwrap();
        assert_eq!(link(&t, "bin/cat"), Some(("/bin/busybox".into(), 9)));

        let mut t = tree("P:busybox\nV:1.35.0-r4\n\n", false);
        let before = t.clone();
        install_links(&mut t).unwrap();
        assert_eq!(t, before);
    }

    #[test]
    fn without_a_binary_a_database_or_a_package_nothing_is_linked() {
        let mut t = Tree::new();
        install_links(&mut t).unwrap();
        assert!(t.is_empty());
        let mut t = Tree::new();
        t.insert("bin/busybox", Entry::file(&b"ELF"[..], 0o755))
            .unwrap();
        let before = t.clone();
        install_links(&mut t).unwrap();
        assert_eq!(t, before);
        let mut t = tree("P:hello\nV:1.0-r0\n\n", false);
        let before = t.clone();
        install_links(&mut t).unwrap();
        assert_eq!(t, before);
    }
}
