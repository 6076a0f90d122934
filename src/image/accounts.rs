//! `accounts` → `/etc/passwd`, `/etc/group` and `/etc/shadow`, as apko 1.2's `mutateAccounts`
//! writes them: the lines the packages installed are kept, configured users and groups are
//! appended (`name:x:uid:gid:Account created by apko:home:shell`, `name:x:gid:a,b`, and a
//! locked `name:!:::::::` shadow entry), and each user's missing home directory is created 0700
//! and owned by the user. `/etc/passwd` is always written (empty when nobody is configured or
//! installed), `/etc/group` only when groups are configured, `/etc/shadow` (new: 0640) only
//! when users are, exactly as apko. A `run-as` that names an account of `/etc/passwd` becomes
//! its numeric UID, as apko 1.2 writes the image's `User`.

use super::config::Accounts;
use crate::fs::{Entry, Kind, Tree};

/// Applies `accounts` to `tree`; new files and directories get `mtime`. Returns the image's
/// user: `run-as`, or the UID of the first `/etc/passwd` entry of that name.
pub fn apply(tree: &mut Tree, accounts: &Accounts, mtime: u64) -> Result<String, String> {
    if !accounts.groups.is_empty() {
        let mut text = existing(tree, "etc/group")?;
        for g in &accounts.groups {
            text.push_str(&format!(
                "{}:x:{}:{}\n",
                g.groupname,
                g.gid,
                g.members.join(",")
            ));
        }
        write(tree, "etc/group", text, mtime)?;
    }

    let mut text = existing(tree, "etc/passwd")?;
    for u in &accounts.users {
        let shell = if u.shell.is_empty() {
            "/bin/sh"
        } else {
            &u.shell
        };
        let home = if u.homedir.is_empty() {
            format!("/home/{}", u.username)
        } else {
            u.homedir.clone()
        };
        text.push_str(&format!(
            "{}:x:{}:{}:Account created by apko:{home}:{shell}\n",
            u.username,
            u.uid,
            u.gid.unwrap_or(u.uid),
        ));
    }
    // Home directories of every account in the file, the packages' ones too.
    let mut run_as = accounts.run_as.clone();
    let mut resolved = accounts.run_as.is_empty();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() != 7 {
            return Err(format!(
                "malformed line in /etc/passwd, {} fields instead of 7: {line:?}",
                f.len()
            ));
        }
        let (Ok(uid), Ok(gid)) = (f[2].parse::<u32>(), f[3].parse::<u32>()) else {
            return Err(format!("malformed line in /etc/passwd: {line:?}"));
        };
        if !resolved && f[0] == accounts.run_as {
            run_as = uid.to_string();
            resolved = true;
        }
        let home = f[5];
        if home == "/dev/null" {
            continue;
        }
        match tree.get(home) {
            Some(Entry {
                kind: Kind::Dir, ..
            }) => {}
            Some(_) => {
                return Err(format!(
                    "{} home directory {home} exists, but is not a directory",
                    f[0]
                ));
            }
            None => {
                let mut parent = String::new();
                for part in home.split('/').filter(|p| !p.is_empty()) {
                    if !parent.is_empty() {
                        parent.push('/');
                    }
                    parent.push_str(part);
                    if tree.get(&parent).is_none() {
                        let mut e = Entry::dir(0o755);
                        e.mtime = mtime;
                        tree.insert(&parent, e).map_err(|e| e.to_string())?;
                    }
                }
                let dir = tree.get_mut(home).expect("just created");
                dir.mode = 0o700;
                dir.uid = uid;
                dir.gid = gid;
            }
        }
    }
    write(tree, "etc/passwd", text, mtime)?;
    if !accounts.users.is_empty() {
        let mut shadow = String::new();
        if let Some(existing) = file_text(tree, "etc/shadow")? {
            for line in existing.lines() {
                shadow.push_str(&shadow_line(line)?);
            }
        }
        for u in &accounts.users {
            shadow.push_str(&format!("{}:!:::::::\n", u.username));
        }
        if tree.get("etc/shadow").is_none() {
            let mut e = Entry::file(Vec::new(), 0o640);
            e.mtime = mtime;
            tree.insert("etc/shadow", e).map_err(|e| e.to_string())?;
        }
        write(tree, "etc/shadow", shadow, mtime)?;
    }
    Ok(run_as)
}

/// An existing `/etc/shadow` line as apko's `ShadowEntry` reads and writes it back: nine
/// fields or an error, and the third (the date of the last change) left empty, since apko's
/// parser never reads it.
fn shadow_line(line: &str) -> Result<String, String> {
    let f: Vec<&str> = line.trim().split(':').collect();
    if f.len() != 9 {
        return Err(format!(
            "unable to parse: malformed line, contains {} parts, expecting 9",
            f.len()
        ));
    }
    Ok(format!(
        "{}:{}::{}:{}:{}:{}:{}:{}\n",
        f[0], f[1], f[3], f[4], f[5], f[6], f[7], f[8]
    ))
}

/// A regular file's text, `None` when it does not exist.
fn file_text(tree: &Tree, path: &str) -> Result<Option<String>, String> {
    match tree.get(path) {
        None => Ok(None),
        Some(Entry {
            kind: Kind::File(data),
            ..
        }) => Ok(Some(String::from_utf8_lossy(data).into_owned())),
        Some(_) => Err(format!("/{path} is not a regular file")),
    }
}

/// The file's text, or empty when it does not exist.
fn existing(tree: &Tree, path: &str) -> Result<String, String> {
    match tree.get(path) {
        None => Ok(String::new()),
        Some(Entry {
            kind: Kind::File(data),
            ..
        }) => {
            let mut text = String::from_utf8_lossy(data).into_owned();
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            Ok(text)
        }
        Some(_) => Err(format!("/{path} is not a regular file")),
    }
}

/// Replaces the contents, keeping the mode and owner of an existing file (new: 0644 root).
fn write(tree: &mut Tree, path: &str, text: String, mtime: u64) -> Result<(), String> {
    let data = crate::fs::Content::from(text.into_bytes());
    if let Some(e) = tree.get_mut(path) {
        e.kind = Kind::File(data);
        return Ok(());
    }
    let mut e = Entry::file(data, 0o644);
    e.mtime = mtime;
    tree.insert(path, e).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::config::{Group, User};

    fn text(t: &Tree, p: &str) -> String {
        match &t.get(p).unwrap().kind {
            Kind::File(d) => String::from_utf8(d.to_vec()).unwrap(),
            k => panic!("{k:?}"),
        }
    }

    #[test]
    fn users_and_groups_as_apko_writes_them() {
        let mut t = Tree::new();
        t.insert(
            "etc/passwd",
            Entry::file(&b"root:x:0:0:root:/root:/bin/ash"[..], 0o644),
        )
        .unwrap();
        let acc = Accounts {
            run_as: String::new(),
            users: vec![
                User {
                    username: "something-else".into(),
                    uid: 2,
                    gid: Some(1),
                    homedir: "/not/home".into(),
                    ..User::default()
                },
                User {
                    username: "user".into(),
                    uid: 3,
                    ..User::default()
                },
            ],
            groups: vec![Group {
                groupname: "nonroot".into(),
                gid: 65532,
                members: vec!["user".into(), "something-else".into()],
            }],
        };
        assert_eq!(apply(&mut t, &acc, 7).unwrap(), "");
        assert_eq!(
            text(&t, "etc/passwd"),
            "root:x:0:0:root:/root:/bin/ash\n\
             something-else:x:2:1:Account created by apko:/not/home:/bin/sh\n\
             user:x:3:3:Account created by apko:/home/user:/bin/sh\n"
        );
        assert_eq!(
            text(&t, "etc/group"),
            "nonroot:x:65532:user,something-else\n"
        );
        let home = t.get("home/user").unwrap();
        assert_eq!((home.mode, home.uid, home.gid), (0o700, 3, 3));
        assert_eq!(t.get("home").unwrap().mode, 0o755);
        assert_eq!(t.get("not/home").unwrap().uid, 2);
        assert_eq!(t.get("root").unwrap().mode, 0o700);
        assert_eq!(t.get("etc/group").unwrap().mtime, 7);
    }

    #[test]
    fn empty_passwd_and_no_group_without_accounts() {
        let mut t = Tree::new();
        apply(&mut t, &Accounts::default(), 0).unwrap();
        assert_eq!(text(&t, "etc/passwd"), "");
        assert!(t.get("etc/group").is_none());
        assert!(t.get("etc/shadow").is_none());
    }

    #[test]
    fn shadow_has_locked_entries_and_run_as_becomes_the_uid() {
        // as apko 1.2.39 writes them for tests/differential/full.yaml
        let user = |name: &str, uid| User {
            username: name.into(),
            uid,
            gid: Some(uid),
            ..User::default()
        };
        let acc = Accounts {
            run_as: "app".into(),
            users: vec![user("app", 1000), user("svc", 1001)],
            groups: Vec::new(),
        };
        let mut t = Tree::new();
        assert_eq!(apply(&mut t, &acc, 7).unwrap(), "1000");
        assert_eq!(text(&t, "etc/shadow"), "app:!:::::::\nsvc:!:::::::\n");
        let shadow = t.get("etc/shadow").unwrap();
        assert_eq!((shadow.mode, shadow.uid, shadow.gid), (0o640, 0, 0));

        // a package's accounts count too (the first of the name wins); an existing shadow
        // keeps its mode and its lines, less the date of the last change, as apko's parser
        // drops it; a name no account has stays as written
        let mut t = Tree::new();
        t.insert(
            "etc/passwd",
            Entry::file(
                &b"nobody:x:65534:65534::/dev/null:/sbin/nologin\n"[..],
                0o644,
            ),
        )
        .unwrap();
        t.insert(
            "etc/shadow",
            Entry::file(&b"nobody:*:19000:0:99999:7:::\n"[..], 0o600),
        )
        .unwrap();
        let acc = Accounts {
            run_as: "nobody".into(),
            users: vec![user("app", 1000)],
            groups: Vec::new(),
        };
        assert_eq!(apply(&mut t, &acc, 7).unwrap(), "65534");
        assert_eq!(
            text(&t, "etc/shadow"),
            "nobody:*::0:99999:7:::\napp:!:::::::\n"
        );
        assert_eq!(t.get("etc/shadow").unwrap().mode, 0o600);
        let acc = Accounts {
            run_as: "ghost".into(),
            ..Accounts::default()
        };
        assert_eq!(apply(&mut Tree::new(), &acc, 7).unwrap(), "ghost");

        t.insert("etc/shadow", Entry::file(&b"x:y\n"[..], 0o600))
            .unwrap();
        assert_eq!(
            apply(
                &mut t,
                &Accounts {
                    users: vec![user("a", 2)],
                    ..Accounts::default()
                },
                7
            )
            .unwrap_err(),
            "unable to parse: malformed line, contains 2 parts, expecting 9"
        );
    }
}
