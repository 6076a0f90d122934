//! The command line as apko 1.2's (cobra): comma-separated lists, bare booleans, annotation
//! checks with apko's texts (compared with real apko, `tests/peers.sh`'s `apko-go`), apko's
//! log levels, `show-config`'s source flags and `version --json`.

use crate::support::peer;
use std::path::Path;
use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn run(program: &Path, args: &[&str], out_dir: &Path) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(ROOT)
        .env("HOME", out_dir)
        .env("XDG_CACHE_HOME", out_dir.join("cache"))
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap()
}

fn ours() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_apko"))
}

/// The `Error: …` line a command printed.
fn error_line(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .find(|l| l.starts_with("Error: "))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn annotations_are_split_at_commas_and_checked_with_apkos_texts() {
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("o.tar");
    let tar = tar.to_str().unwrap();
    for (value, error) in [
        (
            "a:1,B:2",
            "Error: parsing annotations from command line: annotation key malformed: B",
        ),
        (
            "a:1,a:2",
            "Error: parsing annotations from command line: annotation a defined more than once",
        ),
        (
            "a:",
            "Error: parsing annotations from command line: annotation a value is empty",
        ),
        (
            "nocolon",
            "Error: parsing annotations from command line: unable to parse annotation: nocolon",
        ),
    ] {
        let args = [
            "build",
            "examples/hello/apko.yaml",
            "x:1",
            tar,
            "--annotations",
            value,
            "--sbom=false",
        ];
        let theirs = run(&peer("apko-go"), &args, dir.path());
        let mine = run(ours(), &args, dir.path());
        assert_eq!(mine.status.code(), Some(1), "{value}");
        assert_eq!(theirs.status.code(), Some(1), "{value}");
        assert_eq!(error_line(&mine), error_line(&theirs), "{value}");
        assert_eq!(error_line(&mine), error);
        assert!(!Path::new(tar).exists());
    }
    // Two annotations in one flag both reach the image.
    let layout = dir.path().join("layout");
    std::fs::create_dir(&layout).unwrap();
    let out = run(
        ours(),
        &[
            "build",
            "examples/hello/apko.yaml",
            "x:1",
            layout.to_str().unwrap(),
            "--annotations",
            "org.example.a:1,org.example.b:2",
            "--sbom",
            "--sbom-path",
            dir.path().to_str().unwrap(),
            "--vcs=false",
        ],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let digest = index["manifests"][0]["digest"].as_str().unwrap();
    let inner: serde_json::Value = serde_json::from_slice(
        &std::fs::read(layout.join("blobs/sha256").join(&digest[7..])).unwrap(),
    )
    .unwrap();
    assert_eq!(inner["annotations"]["org.example.a"], "1");
    assert_eq!(inner["annotations"]["org.example.b"], "2");
    // A bare --sbom is true, as cobra reads it.
    assert!(dir.path().join("sbom-index.spdx.json").is_file());
}

#[test]
fn show_config_takes_apkos_source_flags_and_prints_the_config_without_them() {
    let dir = tempfile::tempdir().unwrap();
    let (key, repo) = (
        "examples/hello/apko-rs-example.rsa.pub",
        "./examples/hello/repo",
    );
    let both = format!("{repo},{repo}");
    let flags = [
        "-r",
        both.as_str(),
        "-k",
        key,
        "-b",
        repo,
        "--offline",
        "--cache-dir",
        "/nonexistent",
    ];
    let plain = run(
        ours(),
        &["show-config", "examples/hello/apko.yaml"],
        dir.path(),
    );
    for program in [ours(), peer("apko-go").as_path()] {
        let mut args = vec!["show-config", "examples/hello/apko.yaml"];
        args.extend(flags);
        let out = run(program, &args, dir.path());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if program == ours() {
            assert_eq!(out.stdout, plain.stdout);
        }
        // Neither prints the appended repositories and keys.
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(text.matches("examples/hello/repo").count(), 1, "{text}");
    }
}

#[test]
fn apkos_log_levels_and_version_json() {
    let dir = tempfile::tempdir().unwrap();
    for level in ["fatal", "panic", "FATAL", "error", "debug"] {
        let out = run(ours(), &["--log-level", level, "version"], dir.path());
        assert!(out.status.success(), "{level}");
    }
    let out = run(ours(), &["--log-level", "loud", "version"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(
        "unknown log level \"loud\"; use trace, debug, info, warn, error, fatal or panic"
    ));
    let keys = |out: &Output| -> Vec<String> {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.trim().strip_prefix('"'))
            .map(|l| l.split('"').next().unwrap().to_string())
            .collect()
    };
    let mine = run(ours(), &["version", "--json"], dir.path());
    let theirs = run(&peer("apko-go"), &["version", "--json"], dir.path());
    let parsed: serde_json::Value = serde_json::from_slice(&mine.stdout).unwrap();
    assert_eq!(
        parsed["gitVersion"],
        concat!("v", env!("CARGO_PKG_VERSION"))
    );
    // The same fields in the same order, but Go's `goVersion`, which a Rust build lacks.
    let mut theirs = keys(&theirs);
    theirs.retain(|k| k != "goVersion");
    assert_eq!(keys(&mine), theirs);
}
