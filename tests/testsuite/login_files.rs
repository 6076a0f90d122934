//! How `apko login` and `logout` change Docker's `config.json`: 50 concurrent logins lose
//! nothing, unknown fields survive, `kill -9` in the middle of a save never leaves a partial
//! file, and a symlinked `config.json` (absolute, relative, dangling, chained) is written
//! through with the link kept. Real `apko` processes on real files, no helper.

use crate::support::login::{Sandbox, basic};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

/// Top-level fields apko does not know, which it must keep as they are.
fn unknown_fields() -> Value {
    json!({
        "psFormat": "table {{.ID}}\\t{{.Names}}",
        "proxies": {"default": {"httpProxy": "http://proxy.example:3128", "noProxy": "*.internal"}},
        "plugins": {"compose": {"nested": {"deeper": [1, 2.5, {"x": null, "y": [true, false]}]}}},
        "experimental": "enabled",
        "detachKeys": "ctrl-e,e",
        "currentContext": "default",
        "HttpHeaders": {"X-Meta": "kept"},
        "credHelpers": {"unrelated.example": "apko"},
        "unicode": "caf\u{e9} \u{1f600} \"quoted\" \\ back",
        "aNumber": 12345678901234567u64,
        "aNull": null
    })
}

/// The file without its `auths`.
fn without_auths(v: &Value) -> Value {
    let mut v = v.clone();
    v.as_object_mut().unwrap().remove("auths");
    v
}

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn fifty_concurrent_logins_lose_nothing_and_unknown_fields_survive() {
    let sb = Sandbox::new();
    sb.write_config(&unknown_fields());
    let server = |i: usize| format!("srv{i}.example:5000");
    let started = Instant::now();
    let logins: Vec<_> = (0..50)
        .map(|i| sb.spawn_login(&server(i), &format!("user{i}"), &format!("pass-{i}:x")))
        .collect();
    for (i, child) in logins.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "login {i}: {out:?}");
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            format!(
                "Credentials for {} stored (not verified against the registry).\n",
                server(i)
            )
        );
    }
    let elapsed = started.elapsed();
    let v = sb.read_config();
    let auths = v["auths"].as_object().unwrap();
    assert_eq!(auths.len(), 50, "{auths:#?}");
    for i in 0..50 {
        assert_eq!(
            auths[&server(i)],
            json!({"auth": basic(&format!("user{i}"), &format!("pass-{i}:x"))}),
            "{}",
            server(i)
        );
    }
    assert_eq!(without_auths(&v), unknown_fields());

    // 25 concurrent logouts.
    let logouts: Vec<_> = (0..50)
        .step_by(2)
        .map(|i| {
            (
                i,
                sb.command(crate::support::login::APKO)
                    .arg("--config")
                    .arg(&sb.config_dir)
                    .args(["logout", &server(i)])
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap(),
            )
        })
        .collect();
    for (i, child) in logouts {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "logout {i}: {out:?}");
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            format!("Removing login credentials for {}\n", server(i))
        );
        assert_eq!(String::from_utf8(out.stderr).unwrap(), "");
    }
    let v = sb.read_config();
    let mut left: Vec<&String> = v["auths"].as_object().unwrap().keys().collect();
    left.sort();
    let mut expected: Vec<String> = (1..50).step_by(2).map(server).collect();
    expected.sort();
    assert_eq!(left, expected.iter().collect::<Vec<_>>());
    assert_eq!(without_auths(&v), unknown_fields());
    let out = sb.apko(&["auth", "get", &server(49)], "").ok("auth get");
    assert_eq!(
        out.stdout,
        format!(
            r#"{{"ServerURL":"{}","Username":"user49","Secret":"pass-49:x"}}"#,
            server(49)
        ) + "\n"
    );
    assert_eq!(
        dir_entries(&sb.config_dir),
        ["config.json"],
        "no temp file left"
    );
    eprintln!("50 concurrent logins took {elapsed:?}");
}

/// Leftover `.config.json.*.tmp` files: a save that was killed after creating its temp file
/// and before renaming it.
fn temp_files(dir: &Path) -> Vec<String> {
    dir_entries(dir)
        .into_iter()
        .filter(|n| n.starts_with(".config.json.") && n.ends_with(".tmp"))
        .collect()
}

#[test]
fn kill_9_during_a_save_leaves_the_old_or_the_new_file_never_a_partial_one() {
    // 30 MB of an unknown field make a save (read, parse, serialize, write, fsync, rename)
    // take long enough to be interrupted.
    let old_value = json!({
        "auths": {"kill.example": {"auth": basic("old", "old-pass")}},
        "bigUnknown": "x".repeat(30 << 20),
        "psFormat": "table",
    });
    let old = serde_json::to_vec(&old_value).unwrap();

    // The uninterrupted save, for the exact new bytes and the time it takes.
    let reference = Sandbox::new();
    reference.write_config(&old_value);
    let started = Instant::now();
    let out = reference
        .apko(
            &[
                "login",
                "kill.example",
                "-u",
                "new",
                "--password-stdin",
                "--no-verify",
            ],
            "new-pass\n",
        )
        .ok("uninterrupted login");
    let full = started.elapsed();
    drop(out);
    let new = std::fs::read(reference.config_file()).unwrap();
    assert_ne!(new, old);
    let new_value: Value = serde_json::from_slice(&new).unwrap();
    assert_eq!(
        new_value["auths"]["kill.example"],
        json!({"auth": basic("new", "new-pass")})
    );
    assert_eq!(without_auths(&new_value), without_auths(&old_value));

    let sb = Sandbox::new();
    std::fs::create_dir(&sb.config_dir).unwrap();
    let mut outcomes = Vec::new();
    // Kills at fractions of the uninterrupted run, denser at its end where the temp file is
    // written, then kills as soon as the temp file appears (those land while it is written).
    const FRACTIONS: [f64; 11] = [0.0, 0.3, 0.6, 0.8, 0.9, 0.94, 0.97, 0.99, 1.01, 1.05, 1.2];
    // Kills "when the temp file appears" go on until two land mid-write (at most 20), so a
    // loaded machine cannot make the test prove nothing.
    let mut delays: std::collections::VecDeque<Option<Duration>> =
        FRACTIONS.iter().map(|f| Some(full.mul_f64(*f))).collect();
    delays.extend([None, None]);
    let mut watched = 0;
    while let Some(delay) = delays.pop_front() {
        std::fs::write(sb.config_file(), &old).unwrap();
        let before = temp_files(&sb.config_dir);
        let mut child = sb.spawn_login("kill.example", "new", "new-pass");
        let started = Instant::now();
        match delay {
            Some(d) => std::thread::sleep(d),
            None => {
                while temp_files(&sb.config_dir).len() == before.len()
                    && started.elapsed() < full * 5
                {
                    std::hint::spin_loop();
                }
            }
        }
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        let at = started.elapsed();
        let now = std::fs::read(sb.config_file()).unwrap();
        let state = if now == old {
            "old"
        } else if now == new {
            "new"
        } else {
            panic!(
                "after SIGKILL at {at:?} config.json is neither the old nor the new file ({} bytes; parses: {})",
                now.len(),
                serde_json::from_slice::<Value>(&now).is_ok()
            );
        };
        let leftovers: Vec<String> = temp_files(&sb.config_dir)
            .into_iter()
            .filter(|n| !before.contains(n))
            .collect();
        let mid_write = match leftovers.as_slice() {
            [] => None,
            [one] => Some(std::fs::metadata(sb.config_dir.join(one)).unwrap().len()),
            more => panic!("one save left several temp files: {more:?}"),
        };
        if mid_write.is_some() {
            assert_eq!(
                state, "old",
                "killed before the rename, yet the file changed"
            );
        }
        outcomes.push((delay, at, status.code(), state, mid_write));
        if delay.is_none() {
            watched += 1;
            let landed = outcomes[FRACTIONS.len()..]
                .iter()
                .filter(|o| o.4.is_some())
                .count();
            if delays.is_empty() && landed < 2 && watched < 20 {
                delays.push_back(None);
            }
        }
    }
    for (delay, at, code, state, mid_write) in &outcomes {
        eprintln!(
            "kill {}: at {at:?}, exit {code:?}, config.json = {state}{}",
            delay.map_or("when the temp file appeared".to_string(), |d| format!(
                "after {d:?}"
            )),
            mid_write.map_or(String::new(), |n| format!(
                ", mid-write (temp file of {n} of {} bytes left)",
                new.len()
            ))
        );
    }
    let mid = outcomes.iter().filter(|o| o.4.is_some()).count();
    eprintln!(
        "uninterrupted save: {full:?}; {mid} of {} kills landed mid-write",
        outcomes.len()
    );
    assert!(
        outcomes[FRACTIONS.len()..].iter().any(|o| o.4.is_some()),
        "no kill landed while the temp file was there: the test proved nothing"
    );
    // The leftovers do not get in the way of the next save.
    std::fs::write(sb.config_file(), &old).unwrap();
    sb.apko(
        &[
            "login",
            "kill.example",
            "-u",
            "new",
            "--password-stdin",
            "--no-verify",
        ],
        "new-pass\n",
    )
    .ok("login after the kills");
    assert_eq!(std::fs::read(sb.config_file()).unwrap(), new);
}

/// `config.json` is a symlink (its text `link`) to `target`: login and logout write `target`
/// and keep the link.
fn assert_written_through(sb: &Sandbox, link: &Path, target: &Path, existing: bool) {
    let cfg = sb.config_file();
    let host = "link.example";
    // From another directory: a relative link is relative to the link, not to the cwd.
    let mut cmd = sb.command(crate::support::login::APKO);
    cmd.current_dir("/")
        .arg("--config")
        .arg(&sb.config_dir)
        .args(["login", host, "-u", "u", "--password-stdin", "--no-verify"]);
    let out = crate::support::login::run(&mut cmd, "p\n").ok("login through a symlink");
    assert_eq!(out.stderr, crate::support::login::unencrypted_warning(&cfg));
    assert_eq!(std::fs::read_link(&cfg).unwrap(), link, "the link is kept");
    let v: Value = serde_json::from_slice(&std::fs::read(target).unwrap()).unwrap();
    assert_eq!(v["auths"][host], json!({"auth": basic("u", "p")}));
    if existing {
        assert_eq!(v["psFormat"], "kept");
    } else {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(target).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o600, "a new target is 0600");
    }
    let out = sb.apko(&["auth", "get", host], "").ok("auth get");
    assert_eq!(
        out.stdout,
        format!(r#"{{"ServerURL":"{host}","Username":"u","Secret":"p"}}"#) + "\n"
    );
    sb.apko(&["logout", host], "")
        .ok("logout through a symlink");
    assert_eq!(std::fs::read_link(&cfg).unwrap(), link, "the link is kept");
    let v: Value = serde_json::from_slice(&std::fs::read(target).unwrap()).unwrap();
    assert_eq!(v["auths"], json!({}));
    assert_eq!(
        dir_entries(&sb.config_dir),
        ["config.json"],
        "nothing else in the config directory"
    );
}

#[test]
fn symlinked_config_json_is_written_through_and_kept() {
    let kept = json!({"psFormat": "kept"}).to_string();

    // Absolute.
    let sb = Sandbox::new();
    std::fs::create_dir(&sb.config_dir).unwrap();
    let target = sb.dir.path().join("elsewhere/real.json");
    std::fs::create_dir(target.parent().unwrap()).unwrap();
    std::fs::write(&target, &kept).unwrap();
    std::os::unix::fs::symlink(&target, sb.config_file()).unwrap();
    assert_written_through(&sb, &target, &target, true);

    // Relative, to another directory.
    let sb = Sandbox::new();
    std::fs::create_dir(&sb.config_dir).unwrap();
    let target = sb.dir.path().join("elsewhere/real.json");
    std::fs::create_dir(target.parent().unwrap()).unwrap();
    std::fs::write(&target, &kept).unwrap();
    let link = Path::new("../elsewhere/real.json");
    std::os::unix::fs::symlink(link, sb.config_file()).unwrap();
    assert_written_through(&sb, link, &target, true);

    // Dangling: the target is created.
    let sb = Sandbox::new();
    std::fs::create_dir(&sb.config_dir).unwrap();
    let target = sb.dir.path().join("elsewhere/new.json");
    std::fs::create_dir(target.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&target, sb.config_file()).unwrap();
    assert_written_through(&sb, &target, &target, false);

    // Chained: config.json -> (absolute) hop -> (relative) real file.
    let sb = Sandbox::new();
    std::fs::create_dir(&sb.config_dir).unwrap();
    let hop = sb.dir.path().join("hop/config.json");
    let target = sb.dir.path().join("final/real.json");
    std::fs::create_dir(hop.parent().unwrap()).unwrap();
    std::fs::create_dir(target.parent().unwrap()).unwrap();
    std::fs::write(&target, &kept).unwrap();
    std::os::unix::fs::symlink("../final/real.json", &hop).unwrap();
    std::os::unix::fs::symlink(&hop, sb.config_file()).unwrap();
    assert_written_through(&sb, &hop, &target, true);
    assert_eq!(
        std::fs::read_link(&hop).unwrap(),
        Path::new("../final/real.json")
    );
}
