//! Memory stays bounded by the number of files, not by their bytes: an `apko build` of 1,000
//! packages (a 256 MB tree, which the builder once held whole, tar and `.tar.gz` too: about
//! 900 MB) must peak under 600 MB. Not a timing test. The figure is the child's own
//! (`support::peak`: `wait4` in a fresh trampoline process, so no other test's memory counts).

use crate::support::peak;
use crate::support::rootfs::signed_repo;
use apko::apk::mkrepo::{FileSpec, PackageSpec};

const PACKAGES: usize = 1000;
const FILE_SIZE: usize = 256 * 1024;
const BOUND_MB: i64 = 600;

/// Bytes that compress about 2:1, different for every package.
fn data(seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(FILE_SIZE);
    while out.len() < FILE_SIZE {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let r = x.wrapping_mul(0x2545_f491_4f6c_dd1d);
        out.extend(
            r.to_le_bytes()
                .iter()
                .map(|b| b"abcdefghijklmnop"[(b & 15) as usize]),
        );
    }
    out
}

/// Runs `apko ARGS` with `dir`'s settings as `support::rootfs::apko` does, and returns its exit
/// status, stderr and its own peak RSS in MB ([`peak::run`]: that child's figure, no other's).
fn apko_peak(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, String, i64) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_apko"));
    cmd.args(args)
        .env("SOURCE_DATE_EPOCH", "0")
        .env("DOCKER_CONFIG", dir.join("docker"))
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("APKO_AUTH");
    let run = peak::run(&cmd);
    (run.code, run.stderr, run.peak_kib / 1024)
}

#[test]
fn a_thousand_package_build_stays_under_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let base = PackageSpec {
        version: "1.0-r0".into(),
        arch: "x86_64".into(),
        license: "MIT".into(),
        build_time: 1_700_000_000,
        ..PackageSpec::default()
    };
    let mut packages = vec![PackageSpec {
        name: "base".into(),
        files: vec![
            FileSpec::Dir("usr".into(), 0o755),
            FileSpec::Dir("usr/bin".into(), 0o755),
        ],
        ..base.clone()
    }];
    for i in 0..PACKAGES {
        packages.push(PackageSpec {
            name: format!("pkg{i:04}"),
            depends: vec!["base".into()],
            files: vec![FileSpec::File(
                format!("usr/bin/pkg{i:04}"),
                data(i as u64),
                0o755,
            )],
            ..base.clone()
        });
    }
    signed_repo(dir.path(), &packages);
    let d = dir.path().display();
    let mut yaml = format!(
        "contents:\n  keyring: [{d}/test.rsa.pub]\n  repositories: [{d}/repo]\n  packages:\n"
    );
    for p in &packages {
        yaml.push_str(&format!("    - {}\n", p.name));
    }
    yaml.push_str("archs: [x86_64]\n");
    std::fs::write(dir.path().join("apko.yaml"), yaml).unwrap();
    drop(packages);
    let (config, image) = (dir.path().join("apko.yaml"), dir.path().join("image.tar"));
    let sboms = format!("--sbom-path={d}");
    let args = [
        "build",
        config.to_str().unwrap(),
        "mem:1",
        image.to_str().unwrap(),
        &sboms,
    ];
    let (status, stderr, peak) = apko_peak(dir.path(), &args);
    assert_eq!(status, Some(0), "apko build failed:\n{stderr}");
    let size = std::fs::metadata(&image).unwrap().len();
    assert!(size > 100 << 20, "the image is {size} bytes");
    assert!(
        peak < BOUND_MB,
        "apko build of {PACKAGES} packages peaked at {peak} MB of RSS (bound {BOUND_MB} MB)"
    );
    eprintln!("apko build of {PACKAGES} packages: peak RSS {peak} MB");
}
