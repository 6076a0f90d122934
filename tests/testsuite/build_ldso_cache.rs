//! `/etc/ld.so.cache` for glibc images, checked by glibc itself: `ldconfig -p -C` reads the
//! cache back, and the real dynamic loader, in a chroot of the built root filesystem, runs
//! this machine's `git` whose `libz.so.1` lies only in a directory `/etc/ld.so.conf` includes
//! (and fails to without the cache).

use crate::support::rootfs::{build_rootfs, signed_repo};
use apko::apk::mkrepo::{FileSpec, PackageSpec};
use std::path::Path;
use std::process::Command;

/// Reads a file of this machine (following links).
fn host(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A glibc root filesystem: the loader, libc and libpcre2 in /lib, git, and zlib only in
/// /opt/sdk/lib; with `/etc/ld.so.conf` including a file that lists /opt/sdk/lib or not.
fn package(with_conf: bool) -> PackageSpec {
    let dirs = [
        "etc",
        "etc/ld.so.conf.d",
        "lib",
        "lib64",
        "usr",
        "usr/bin",
        "opt",
        "opt/sdk",
        "opt/sdk/lib",
    ];
    let mut files: Vec<FileSpec> = dirs
        .iter()
        .map(|p| FileSpec::Dir((*p).into(), 0o755))
        .collect();
    if with_conf {
        files.extend([
            FileSpec::File(
                "etc/ld.so.conf".into(),
                b"# as Wolfi ships it\ninclude /etc/ld.so.conf.d/*.conf\n".to_vec(),
                0o644,
            ),
            FileSpec::File(
                "etc/ld.so.conf.d/sdk.conf".into(),
                b"/opt/sdk/lib\n".to_vec(),
                0o644,
            ),
        ]);
    }
    files.extend([
        FileSpec::File(
            "lib64/ld-linux-x86-64.so.2".into(),
            host("/lib64/ld-linux-x86-64.so.2"),
            0o755,
        ),
        FileSpec::File(
            "lib/libc.so.6".into(),
            host("/lib/x86_64-linux-gnu/libc.so.6"),
            0o755,
        ),
        FileSpec::File(
            "lib/libpcre2-8.so.0".into(),
            host("/lib/x86_64-linux-gnu/libpcre2-8.so.0"),
            0o755,
        ),
        FileSpec::File("usr/bin/git".into(), host("/usr/bin/git"), 0o755),
        // The versioned file and its SONAME link: only the link is an entry.
        FileSpec::File(
            "opt/sdk/lib/libz.so.1.9.9".into(),
            host("/lib/x86_64-linux-gnu/libz.so.1"),
            0o755,
        ),
        FileSpec::Symlink("opt/sdk/lib/libz.so.1".into(), "libz.so.1.9.9".into()),
        FileSpec::File("opt/sdk/lib/README".into(), b"not ELF".to_vec(), 0o644),
    ]);
    PackageSpec {
        name: "glibc-ish".into(),
        version: "1-r0".into(),
        arch: "x86_64".into(),
        license: "MIT".into(),
        files,
        ..PackageSpec::default()
    }
}

/// Builds the root filesystem and unpacks it into `dir/root`; returns its files.
fn build(dir: &Path, with_conf: bool) -> std::collections::BTreeMap<String, Vec<u8>> {
    signed_repo(dir, &[package(with_conf)]);
    let files = build_rootfs(
        dir,
        "contents:\n  keyring: [test.rsa.pub]\n  repositories: [./repo]\n  packages: [glibc-ish]\narchs: [x86_64]\n",
    );
    std::fs::create_dir(dir.join("root")).unwrap();
    let status = Command::new("tar")
        .arg("xzf")
        .arg(dir.join("rootfs.tar.gz"))
        .arg("-C")
        .arg(dir.join("root"))
        .status()
        .unwrap();
    assert!(status.success());
    files
}

fn git_in(root: &Path) -> std::process::Output {
    let chroot = crate::support::require("chroot", "coreutils");
    Command::new(chroot)
        .arg(root)
        .args(["/usr/bin/git", "--version"])
        .env_clear()
        .output()
        .unwrap()
}

#[test]
fn glibc_finds_libraries_through_the_cache() {
    if std::env::consts::ARCH != "x86_64" {
        return; // the libraries are this machine's and the image is x86_64
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let files = build(d, true);

    // ldconfig reads it: one entry per SONAME, in ldconfig's own order.
    let cache = d.join("root/etc/ld.so.cache");
    assert_eq!(files["etc/ld.so.cache"], std::fs::read(&cache).unwrap());
    let ldconfig = crate::support::require("ldconfig", "libc-bin");
    let out = Command::new(ldconfig)
        .arg("-p")
        .arg("-C")
        .arg(&cache)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!(
            "3 libs found in cache `{}'\n\
             \tlibz.so.1 (libc6,x86-64) => /opt/sdk/lib/libz.so.1\n\
             \tlibpcre2-8.so.0 (libc6,x86-64) => /lib/libpcre2-8.so.0\n\
             \tlibc.so.6 (libc6,x86-64) => /lib/libc.so.6\n",
            cache.display()
        )
    );

    // The dynamic loader finds libz.so.1 only through the cache.
    let out = git_in(&d.join("root"));
    assert!(
        out.status.success() && out.stdout.starts_with(b"git version "),
        "{out:?}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let files = build(tmp.path(), false);
    assert!(!files.contains_key("etc/ld.so.cache"));
    let out = git_in(&tmp.path().join("root"));
    assert_eq!(out.status.code(), Some(127), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "error while loading shared libraries: libz.so.1: cannot open shared object file"
        ),
        "{out:?}"
    );
}
