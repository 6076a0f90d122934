//! Memory stays bounded by the number of files, not by their bytes: an `apko build` of 1,000
//! packages (a 256 MB tree, which the builder once held whole, tar and `.tar.gz` too: about
//! 900 MB) must peak under 600 MB. Not a timing test. The figure is the child's own
//! (`wait4`), and the test is alone in its binary, so nothing else runs beside it.

mod rootfs_common;

use apko::apk::mkrepo::{FileSpec, PackageSpec};
use rootfs_common::signed_repo;

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

/// Runs `apko ARGS` with `dir`'s settings as `rootfs_common::apko` does, and returns its exit
/// status, stderr and its own peak RSS in MB (`wait4`: that child's figure, no other's).
// The child is reaped by `wait4`, which clippy does not see.
#[allow(clippy::zombie_processes)]
fn apko_peak(dir: &std::path::Path, args: &[&str]) -> (std::process::ExitStatus, String, i64) {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_apko"))
        .args(args)
        .env("SOURCE_DATE_EPOCH", "0")
        .env("DOCKER_CONFIG", dir.join("docker"))
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("APKO_AUTH")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run apko");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is our unreaped child; `status` and `usage` are valid and writable.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4");
    (
        std::process::ExitStatus::from_raw(status),
        stderr,
        usage.ru_maxrss / 1024,
    )
}

/// This process's peak RSS (`VmHWM`) in MB.
fn self_peak_mb() -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        .unwrap();
    kb / 1024
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
    // The child is started with vfork, and Linux counts the parent's peak RSS (making the
    // repository took a few hundred MB) in the child's `ru_maxrss`: give memory back and
    // reset this process's peak first.
    // SAFETY: malloc_trim only returns free heap memory to the system.
    unsafe { libc::malloc_trim(0) };
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    assert!(
        self_peak_mb() < 64,
        "this process still holds {} MB",
        self_peak_mb()
    );

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
    assert!(status.success(), "apko build failed ({status}):\n{stderr}");
    let size = std::fs::metadata(&image).unwrap().len();
    assert!(size > 100 << 20, "the image is {size} bytes");
    assert!(
        peak < BOUND_MB,
        "apko build of {PACKAGES} packages peaked at {peak} MB of RSS (bound {BOUND_MB} MB)"
    );
    eprintln!("apko build of {PACKAGES} packages: peak RSS {peak} MB");
}
