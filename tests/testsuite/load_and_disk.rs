//! Load and crash safety of whole commands: 20 parallel publishes to one real registry,
//! `kill -9` at many points of `apko build`, and a full disk under OUTPUT.

use crate::support::Registry;
use crate::support::cli::Cli;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// The project root: the example's paths are relative to it.
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const CONFIG: &str = "examples/hello/apko.yaml";

#[test]
fn twenty_parallel_publishes_to_one_registry_are_all_correct() {
    let registry = Registry::start_htpasswd();
    let h = registry.host.clone();
    let cli = Cli::new();
    let auth = cli.file("auth.txt", &format!("{h}=testuser:testpass\n"));
    let outs: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let (cli, h, auth) = (&cli, &h, &auth);
                s.spawn(move || {
                    cli.run(&[
                        "-C",
                        ROOT,
                        "publish",
                        CONFIG,
                        &format!("{h}/load{i}:1"),
                        "--auth-file",
                        auth.to_str().unwrap(),
                    ])
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut digests = Vec::new();
    for (i, out) in outs.into_iter().enumerate() {
        let out = out.ok();
        let reference = out.stdout.trim_end().to_string();
        let digest = reference
            .strip_prefix(&format!("{h}/load{i}@"))
            .unwrap_or_else(|| panic!("{reference}"))
            .to_string();
        digests.push(digest);
    }
    // The same inputs give the same image, whichever of the 20 pushed it.
    assert!(digests.iter().all(|d| *d == digests[0]), "{digests:?}");
    // Each pushed image reads back completely.
    for i in [0, 7, 19] {
        let dest = cli.path(&format!("pulled{i}"));
        cli.run(&[
            "pull",
            &format!("{h}/load{i}:1"),
            dest.to_str().unwrap(),
            "--auth-file",
            auth.to_str().unwrap(),
        ])
        .ok();
        assert!(dest.join("index.json").is_file());
    }
}

fn build(output: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_apko"))
        .args(["-C", ROOT, "build", CONFIG, "hello:1", "--sbom=false"])
        .arg(output)
        .env("SOURCE_DATE_EPOCH", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn kill_9_during_a_build_leaves_no_partial_output() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference.tar");
    let started = Instant::now();
    assert!(build(&reference).wait().unwrap().success());
    let full = started.elapsed();
    let expected = std::fs::read(&reference).unwrap();
    let mut complete = 0;
    for n in 0..30 {
        let out = dir.path().join(format!("out{n}.tar"));
        let mut child = build(&out);
        std::thread::sleep(full.mul_f64(f64::from(n) / 25.0));
        let _ = child.kill();
        child.wait().unwrap();
        // Either nothing, or the whole image: never a partial tarball under the name.
        if out.exists() {
            assert_eq!(std::fs::read(&out).unwrap(), expected, "kill {n}");
            complete += 1;
        }
    }
    // Some kills landed before the end (else the test proved nothing).
    assert!(complete < 30, "every build finished before its kill");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("out") && n != "reference.tar")
        .collect();
    eprintln!("{complete} of 30 killed builds had finished; leftovers: {names:?}");
}

#[test]
fn a_full_disk_fails_the_build_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(&mnt)
        .status()
        .unwrap();
    assert!(
        mounted.success(),
        "this test needs to mount a small tmpfs (root, as CI runs)"
    );
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(&mnt);
    let out = mnt.join("hello.tar");
    let result = Command::new(env!("CARGO_BIN_EXE_apko"))
        .args(["-C", ROOT, "build", CONFIG, "hello:1", "--sbom=false"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(result.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(!out.exists());
    // Nothing half-written is left on the full disk either.
    let left: Vec<_> = std::fs::read_dir(&mnt).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}
