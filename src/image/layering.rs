//! `layering: {strategy: origin, budget: N}`: the image split into up to N package layers
//! plus a top layer, exactly as apko 1.2 splits it (`pkg/build/layers.go`), so the same
//! config gives the same layers (and pulls share them):
//!
//! - packages are grouped by origin; groups whose packages `replaces` one another are merged;
//! - groups are ordered by installed size (largest first; ties by their largest package
//!   name) and all past the first N-1 merged into one;
//! - walking the finished tree in layer order, each file a package installed goes to its
//!   group's layer, everything else (directories, files apko writes) to the top layer; a
//!   layer gets the directories above what it holds from the walk's directory stack, stamped
//!   with that entry's mtime (apko updates that stack only at directories, so a layer can get
//!   a sibling directory too);
//! - at `usr/lib/apk/db/installed`, each package layer gets the database records of its own
//!   packages (for scanners); the top layer holds the whole database.

use crate::fs::Entry;
use std::collections::{BTreeMap, HashMap};

/// Where apko adds each layer's partial installed database (the usr-merged path only).
const IDB: &str = "usr/lib/apk/db/installed";

/// One installed package, from its record in the installed database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Package {
    name: String,
    version: String,
    origin: String,
    replaces: Vec<String>,
    installed_size: u64,
    /// Its record, ending with the blank line.
    record: String,
}

/// Packages that share a layer.
#[derive(Debug, Clone, Default)]
struct Group {
    packages: Vec<Package>,
    size: u64,
    tiebreaker: String,
}

/// The records of an installed database.
fn packages(installed: &str) -> Vec<Package> {
    let mut out = Vec::new();
    let mut p = Package::default();
    for line in installed.split_inclusive('\n') {
        p.record.push_str(line);
        let l = line.trim_end_matches('\n');
        if l.is_empty() {
            if !p.name.is_empty() {
                out.push(std::mem::take(&mut p));
            }
            p = Package::default();
        } else if let Some(v) = l.strip_prefix("P:") {
            p.name = v.to_string();
        } else if let Some(v) = l.strip_prefix("V:") {
            p.version = v.to_string();
        } else if let Some(v) = l.strip_prefix("o:") {
            p.origin = v.to_string();
        } else if let Some(v) = l.strip_prefix("r:") {
            p.replaces = v.split_whitespace().map(String::from).collect();
        } else if let Some(v) = l.strip_prefix("I:") {
            p.installed_size = v.trim().parse().unwrap_or(0);
        }
    }
    out
}

fn merge(groups: Vec<Group>) -> Group {
    let mut merged = Group::default();
    for g in groups {
        merged.packages.extend(g.packages);
        merged.size += g.size;
        merged.tiebreaker = merged.tiebreaker.max(g.tiebreaker);
    }
    merged
}

/// apko's `groupByOriginAndSize`: at most `budget` groups (at least one).
fn groups(packages: Vec<Package>, budget: usize) -> Vec<Group> {
    // Group ids by origin; `replaces` merges ids (a union-find over origins).
    let mut origins: Vec<String> = Vec::new();
    let mut group_of_origin: HashMap<String, usize> = HashMap::new();
    for p in &packages {
        if !group_of_origin.contains_key(&p.origin) {
            group_of_origin.insert(p.origin.clone(), origins.len());
            origins.push(p.origin.clone());
        }
    }
    let mut parent: Vec<usize> = (0..origins.len()).collect();
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let by_name: HashMap<&str, &Package> = packages.iter().map(|p| (p.name.as_str(), p)).collect();
    for p in &packages {
        for rep in &p.replaces {
            let Ok(dep) = crate::apk::version::Dep::parse(rep) else {
                continue;
            };
            // Merged only when what it replaces is in the image, in a version it names.
            let Some(theirs) = by_name.get(dep.name) else {
                continue;
            };
            if !dep.matches_version(&theirs.version) {
                continue;
            }
            let a = find(&mut parent, group_of_origin[&p.origin]);
            let b = find(&mut parent, group_of_origin[&theirs.origin]);
            if a != b {
                parent[b] = a;
            }
        }
    }
    let mut by_root: BTreeMap<usize, Group> = BTreeMap::new();
    for p in packages {
        let root = find(&mut parent, group_of_origin[&p.origin]);
        let g = by_root.entry(root).or_default();
        g.size += p.installed_size;
        g.tiebreaker = g.tiebreaker.clone().max(p.name.clone());
        g.packages.push(p);
    }
    let mut groups: Vec<Group> = by_root.into_values().collect();
    groups.sort_by(|a, b| {
        b.size
            .cmp(&a.size)
            .then_with(|| a.tiebreaker.cmp(&b.tiebreaker))
    });
    if groups.len() > budget {
        let cutoff = budget.saturating_sub(1);
        let remainder = groups.split_off(cutoff);
        groups.push(merge(remainder));
    }
    for g in &mut groups {
        g.packages.sort_by(|a, b| a.name.cmp(&b.name));
    }
    groups
}

/// One layer's entries, in write order.
pub type LayerPlan = Vec<(String, Entry)>;

/// The packages of each package layer (`name=version`, by name), for the build log.
pub type GroupNames = Vec<Vec<String>>;

/// What is wrong with a `layering` block, as apko words it.
pub fn check(strategy: &str, has_base_image: bool) -> Result<(), String> {
    if strategy != "origin" {
        return Err(format!("unrecognized layering strategy {strategy:?}"));
    }
    if has_base_image {
        return Err("layering with \"baseimage\" is unsupported".into());
    }
    Ok(())
}

/// Splits the finished `tree` (walked in `walk` order, the layer writer's) into the package
/// layers and the top layer (last); `installed` is the tree's installed database.
pub fn plan(
    walk: &[(&str, &Entry)],
    installed: &str,
    budget: usize,
) -> (Vec<LayerPlan>, GroupNames) {
    let groups = groups(packages(installed), budget);
    let mut layer_of_package: HashMap<&str, usize> = HashMap::new();
    for (i, g) in groups.iter().enumerate() {
        for p in &g.packages {
            layer_of_package.insert(p.name.as_str(), i);
        }
    }
    let owners = crate::apk::db::owned_files(installed);
    let mut layer_of_path: HashMap<String, usize> = HashMap::new();
    for (name, path) in owners {
        if let Some(&i) = layer_of_package.get(name.as_str()) {
            // The last record that lists a path owns it (a `replaces` takes it over).
            layer_of_path.insert(path, i);
        }
    }
    let top = groups.len();
    let mut layers: Vec<LayerPlan> = vec![Vec::new(); top + 1];
    // Each layer's directory stack (indices into `stack` entries by path) and the main one.
    let mut stacks: Vec<Vec<String>> = vec![Vec::new(); top + 1];
    let mut stack: Vec<(String, Entry)> = Vec::new();
    let parent = |p: &str| p.rsplit_once('/').map_or("", |(d, _)| d).to_string();

    // Brings layer `w`'s stack in line with the main one; the directories to write first.
    fn align(w_stack: &mut Vec<String>, stack: &[(String, Entry)]) -> Vec<(String, Entry)> {
        let n = w_stack.len().max(stack.len());
        for i in 0..n {
            if i >= stack.len() {
                w_stack.truncate(i);
                return Vec::new();
            }
            if i < w_stack.len() && w_stack[i] == stack[i].0 {
                continue;
            }
            w_stack.truncate(i);
            w_stack.extend(stack[i..].iter().map(|(p, _)| p.clone()));
            return stack[i..].to_vec();
        }
        Vec::new()
    }

    for (path, entry) in walk {
        let path = *path;
        if matches!(entry.kind, crate::fs::Kind::Dir) {
            let dir = parent(path);
            while let Some((last, _)) = stack.last() {
                if *last == dir {
                    break;
                }
                stack.pop();
            }
            stack.push((path.to_string(), (*entry).clone()));
        }
        let w = if matches!(entry.kind, crate::fs::Kind::Dir) {
            top
        } else {
            layer_of_path.get(path).copied().unwrap_or(top)
        };
        for (dir, mut d) in align(&mut stacks[w], &stack) {
            if dir == path {
                continue;
            }
            d.mtime = entry.mtime;
            layers[w].push((dir, d));
        }
        layers[w].push((path.to_string(), (*entry).clone()));
        if path == IDB {
            for (i, g) in groups.iter().enumerate() {
                for (dir, mut d) in align(&mut stacks[i], &stack) {
                    d.mtime = entry.mtime;
                    layers[i].push((dir, d));
                }
                let text: String = g.packages.iter().map(|p| p.record.as_str()).collect();
                let mut idb = Entry::file(text.into_bytes(), entry.mode);
                idb.uid = entry.uid;
                idb.gid = entry.gid;
                idb.mtime = entry.mtime;
                idb.xattrs = entry.xattrs.clone();
                layers[i].push((IDB.to_string(), idb));
            }
        }
    }
    let names = groups
        .iter()
        .map(|g| {
            g.packages
                .iter()
                .map(|p| format!("{}={}", p.name, p.version))
                .collect()
        })
        .collect();
    (layers, names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::Tree;

    fn rec(name: &str, origin: &str, size: u64, extra: &str, files: &str) -> String {
        format!("P:{name}\nV:1.0-r0\no:{origin}\nI:{size}\n{extra}{files}\n")
    }

    #[test]
    fn groups_by_origin_size_and_replaces_as_apko() {
        let installed = [
            rec("base", "base", 100, "", ""),
            rec("app", "app", 10, "", ""),
            rec("lib1", "lib1", 16384, "", ""),
            rec("lib2", "lib2", 32768, "", ""),
            rec("certs", "certs", 5, "r:base\n", ""),
        ]
        .concat();
        let g = groups(packages(&installed), 3);
        let names: Vec<Vec<&str>> = g
            .iter()
            .map(|g| g.packages.iter().map(|p| p.name.as_str()).collect())
            .collect();
        // certs replaces base: one group; budget 3 keeps lib2, lib1 and merges the rest.
        assert_eq!(
            names,
            [vec!["lib2"], vec!["lib1"], vec!["app", "base", "certs"]]
        );
        assert_eq!(groups(packages(&installed), 0).len(), 1);
        assert_eq!(
            check("bogus", false).unwrap_err(),
            "unrecognized layering strategy \"bogus\""
        );
        assert_eq!(
            check("origin", true).unwrap_err(),
            "layering with \"baseimage\" is unsupported"
        );
    }

    #[test]
    fn files_go_to_their_package_layer_with_the_directories_above_them() {
        let installed = [
            rec("lib2", "lib2", 32768, "", "F:usr/lib\nR:lib2.so\n"),
            rec("base", "base", 5, "", "F:etc\nR:os-release\n"),
        ]
        .concat();
        let mut tree = Tree::new();
        let dir = |mtime| {
            let mut d = Entry::dir(0o755);
            d.mtime = mtime;
            d
        };
        let file = |data: &str, mtime| {
            let mut f = Entry::file(data.as_bytes().to_vec(), 0o644);
            f.mtime = mtime;
            f
        };
        for (p, e) in [
            ("etc", dir(5)),
            ("etc/apk", dir(0)),
            ("etc/apk/keys", dir(0)),
            ("etc/apk/keys/k.pub", file("k", 0)),
            ("etc/os-release", file("ID=x\n", 7)),
            ("usr", dir(5)),
            ("usr/lib", dir(5)),
            ("usr/lib/apk", dir(0)),
            ("usr/lib/apk/db", dir(0)),
            ("usr/lib/apk/db/installed", file(&installed, 0)),
            ("usr/lib/apk/exec", dir(0)),
            ("usr/lib/lib2.so", file("elf", 9)),
        ] {
            tree.insert(p, e).unwrap();
        }
        let walk: Vec<(&str, &Entry)> = tree.iter().collect();
        let (layers, names) = plan(&walk, &installed, 2);
        assert_eq!(
            names,
            [
                vec!["lib2=1.0-r0".to_string()],
                vec!["base=1.0-r0".to_string()]
            ]
        );
        let list = |l: &LayerPlan| -> Vec<(String, u64)> {
            l.iter().map(|(p, e)| (p.clone(), e.mtime)).collect()
        };
        let s = |v: &[(&str, u64)]| -> Vec<(String, u64)> {
            v.iter().map(|(p, m)| (p.to_string(), *m)).collect()
        };
        // apko's stale stack: os-release brings etc/apk and etc/apk/keys along, stamped 7.
        assert_eq!(
            list(&layers[1]),
            s(&[
                ("etc", 7),
                ("etc/apk", 7),
                ("etc/apk/keys", 7),
                ("etc/os-release", 7),
                ("usr", 0),
                ("usr/lib", 0),
                ("usr/lib/apk", 0),
                ("usr/lib/apk/db", 0),
                ("usr/lib/apk/db/installed", 0),
            ])
        );
        assert_eq!(
            list(&layers[0]),
            s(&[
                ("usr", 0),
                ("usr/lib", 0),
                ("usr/lib/apk", 0),
                ("usr/lib/apk/db", 0),
                ("usr/lib/apk/db/installed", 0),
                ("usr/lib/apk/exec", 9),
                ("usr/lib/lib2.so", 9),
            ])
        );
        assert_eq!(
            layers[2].len(),
            10,
            "the top layer: every directory and apko's files"
        );
    }
}
