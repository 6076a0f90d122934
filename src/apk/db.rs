//! apk's installed database (`usr/lib/apk/db/installed`) in the form apko writes it: each
//! package's header, then its files grouped by directory (files before subdirectories),
//! `F:` directories with `M:` ownership when not root 0755, `R:` files with `a:` when not
//! root 0644 and `Z:` checksums, and a blank line after each package.

use super::meta::Package;
use std::cmp::Ordering;
use std::collections::HashSet;

/// One path a package installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    /// Relative path, without a trailing `/`.
    pub path: String,
    /// True for a directory.
    pub dir: bool,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// `Q1…` of the contents, from the package's PAX record.
    pub checksum: Option<String>,
}

/// apko's order within the database: paths compared component by component; at the first
/// differing level a non-directory sorts before a directory.
fn path_compare(a: &FileRecord, b: &FileRecord) -> Ordering {
    if a.path == b.path {
        return Ordering::Equal;
    }
    let at: Vec<&str> = a.path.split('/').collect();
    let bt: Vec<&str> = b.path.split('/').collect();
    let mut n = 0;
    while n + 1 < at.len() && n + 1 < bt.len() {
        match at[n].cmp(bt[n]) {
            Ordering::Equal => n += 1,
            other => return other,
        }
    }
    let a_dir = n + 1 < at.len() || a.dir;
    let b_dir = n + 1 < bt.len() || b.dir;
    match (a_dir, b_dir) {
        (x, y) if x == y => at[n].cmp(bt[n]),
        (false, true) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

/// The record of `pkg` with `files` (in tar order), ending with a blank line.
pub fn record(pkg: &Package, files: &[FileRecord]) -> String {
    let mut files = files.to_vec();
    files.sort_by(path_compare);
    // Entries whose parent directories the package does not list are left out, as apko does.
    let dirs: HashSet<&str> = files
        .iter()
        .filter(|f| f.dir)
        .map(|f| f.path.as_str())
        .collect();
    let reachable = |path: &str| {
        let mut p = path;
        while let Some((parent, _)) = p.rsplit_once('/') {
            if !dirs.contains(parent) {
                return false;
            }
            p = parent;
        }
        true
    };
    let mut out = pkg.installed_header();
    let mut top_dir_needed = true;
    for f in files.iter().filter(|f| reachable(&f.path)) {
        let perm = f.mode & 0o7777;
        if f.dir {
            out.push_str(&format!("F:{}\n", f.path));
            if perm != 0o755 || f.uid != 0 || f.gid != 0 {
                out.push_str(&format!("M:{}:{}:{:04o}\n", f.uid, f.gid, perm));
            }
            top_dir_needed = false;
        } else {
            if top_dir_needed {
                out.push_str("F:\n");
                top_dir_needed = false;
            }
            let name = f.path.rsplit('/').next().unwrap_or(&f.path);
            out.push_str(&format!("R:{name}\n"));
            if perm != 0o644 || f.uid != 0 || f.gid != 0 {
                out.push_str(&format!("a:{}:{}:{:04o}\n", f.uid, f.gid, perm));
            }
            if let Some(sum) = &f.checksum {
                out.push_str(&format!("Z:{sum}\n"));
            }
        }
    }
    out.push('\n');
    out
}

/// `(name, version)` of each record of an installed database (or index), in its order, as
/// go-apk's `ParseInstalled` reads them: a record counts once an empty line ends it, so a last
/// record without one is left out.
pub fn name_versions(installed: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let (mut name, mut version) = (String::new(), String::new());
    for line in installed.lines() {
        if line.is_empty() {
            if !name.is_empty() {
                out.push((std::mem::take(&mut name), std::mem::take(&mut version)));
            }
            version.clear();
        } else if let Some(v) = line.strip_prefix("P:") {
            name = v.to_string();
        } else if let Some(v) = line.strip_prefix("V:") {
            version = v.to_string();
        }
    }
    out
}

/// The files each package of an installed database owns: `(package name, path)` pairs.
pub fn owned_files(installed: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut name = String::new();
    let mut dir = String::new();
    for line in installed.lines() {
        if line.is_empty() {
            name.clear();
            dir.clear();
        } else if let Some(v) = line.strip_prefix("P:") {
            name = v.to_string();
        } else if let Some(v) = line.strip_prefix("F:") {
            dir = v.to_string();
        } else if let Some(v) = line.strip_prefix("R:") {
            let path = if dir.is_empty() {
                v.to_string()
            } else {
                format!("{dir}/{v}")
            };
            out.push((name.clone(), path));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_versions_need_the_empty_line_that_ends_a_record() {
        assert_eq!(
            name_versions("P:a\nV:1-r0\nR:x\n\nP:b\nV:2-r0\n\nP:c\nV:3-r0\n"),
            [("a".into(), "1-r0".into()), ("b".into(), "2-r0".into())]
        );
    }

    fn f(path: &str, dir: bool) -> FileRecord {
        FileRecord {
            path: path.into(),
            dir,
            mode: if dir { 0o755 } else { 0o644 },
            uid: 0,
            gid: 0,
            checksum: None,
        }
    }

    #[test]
    fn files_before_subdirectories_and_orphans_dropped() {
        let pkg = Package {
            name: "p".into(),
            version: "1".into(),
            ..Package::default()
        };
        let mut setuid = f("usr/bin/su", false);
        setuid.mode = 0o4755;
        let files = [
            f("usr", true),
            f("usr/bin", true),
            f("usr/lib", true),
            f("usr/lib/x.so", false),
            setuid,
            f("usr/bin/a", false),
            f("top.txt", false),
            f("orphan/file", false),
        ];
        let text = record(&pkg, &files);
        let body = text.split_once("k:0\n").unwrap().1;
        assert_eq!(
            body,
            "F:\nR:top.txt\nF:usr\nF:usr/bin\nR:a\nR:su\na:0:0:4755\nF:usr/lib\nR:x.so\n\n"
        );
        assert_eq!(
            owned_files(&text),
            [
                ("p".to_string(), "top.txt".to_string()),
                ("p".to_string(), "usr/bin/a".to_string()),
                ("p".to_string(), "usr/bin/su".to_string()),
                ("p".to_string(), "usr/lib/x.so".to_string()),
            ]
        );
    }
}
