//! Packages that would make an image no unpacker can reproduce, or that write into another
//! package's files, are refused at install time naming the package and the path, and
//! `apko build` then writes no OUTPUT: a hard link to a path that does not exist (or to a
//! directory), a path under a regular file, a write through a symlink (the package's own or
//! another's) into a file another package installed without `replaces`, a file over a
//! directory that is not empty. What apk accepts still builds: the same contents twice, a
//! `replaces`d file (listed under the replacing package only in the installed database), a hard
//! link to a file installed before it.

use crate::support::rootfs::{apko, files, ok, signed_repo};
use apko::apk::mkrepo::{FileSpec, PackageSpec};
use std::io::Read;
use std::path::Path;

fn package(name: &str, depends: &[&str], files: Vec<FileSpec>) -> PackageSpec {
    PackageSpec {
        name: name.into(),
        version: "1.0-r0".into(),
        arch: "x86_64".into(),
        license: "MIT".into(),
        build_time: 1_700_000_000,
        depends: depends.iter().map(|d| d.to_string()).collect(),
        files,
        ..PackageSpec::default()
    }
}

fn dir(path: &str) -> FileSpec {
    FileSpec::Dir(path.into(), 0o755)
}

fn file(path: &str, data: &str) -> FileSpec {
    FileSpec::File(path.into(), data.as_bytes().to_vec(), 0o644)
}

fn link(path: &str, target: &str) -> FileSpec {
    FileSpec::Symlink(path.into(), target.into())
}

fn hardlink(path: &str, target: &str) -> FileSpec {
    FileSpec::Hardlink(path.into(), target.into())
}

/// `libfoo` (`usr/lib/libfoo.so`), which the other packages depend on, so it is installed
/// first.
fn libfoo() -> PackageSpec {
    package(
        "libfoo",
        &[],
        vec![
            dir("usr"),
            dir("usr/lib"),
            file("usr/lib/libfoo.so", "the real library\n"),
            dir("opt"),
            dir("opt/data"),
            file("opt/data/table", "rows\n"),
            dir("etc"),
            file("etc/foo.conf", "a = 1\n"),
        ],
    )
}

/// The hostile packages, each depending on libfoo.
fn repo(dir_: &Path) {
    let on = &["libfoo"][..];
    let mut replacer = package(
        "replacer",
        on,
        vec![
            link("via", "usr/lib"),
            file("via/libfoo.so", "the replacement\n"),
            dir("etc"),
            file("etc/foo.conf", "a = 2\n"),
        ],
    );
    replacer.replaces = vec!["libfoo".into()];
    // After same-contents, whose copy of libfoo.so is libfoo's.
    replacer.depends.push("same-contents".into());
    signed_repo(
        dir_,
        &[
            libfoo(),
            package(
                "dangling-hardlink",
                on,
                vec![
                    dir("usr"),
                    dir("usr/bin"),
                    hardlink("usr/bin/tool", "usr/bin/missing"),
                ],
            ),
            package(
                "dir-hardlink",
                on,
                vec![dir("usr"), hardlink("usr/share", "usr/lib")],
            ),
            package(
                "under-a-file",
                on,
                vec![dir("etc"), file("etc/foo.conf/extra", "b = 1\n")],
            ),
            package(
                "own-file-parent",
                &[],
                vec![file("motd", "hi\n"), file("motd/x", "nested\n")],
            ),
            package(
                "dir-over-file",
                on,
                vec![
                    dir("etc"),
                    dir("etc/foo.conf"),
                    file("etc/foo.conf/x", "\n"),
                ],
            ),
            package(
                "through-own-symlink",
                on,
                vec![link("lib", "usr/lib"), file("lib/libfoo.so", "evil\n")],
            ),
            package(
                "through-absolute-symlink",
                on,
                vec![
                    dir("usr"),
                    link("usr/lib64", "/usr/lib"),
                    dir("usr/lib64"),
                    file("usr/lib64/libfoo.so", "evil\n"),
                ],
            ),
            package(
                "direct-overwrite",
                on,
                vec![
                    dir("usr"),
                    dir("usr/lib"),
                    file("usr/lib/libfoo.so", "evil\n"),
                ],
            ),
            package(
                "file-over-dir",
                on,
                vec![dir("opt"), file("opt/data", "flat\n")],
            ),
            replacer,
            package(
                "same-contents",
                on,
                vec![
                    dir("usr"),
                    dir("usr/lib"),
                    file("usr/lib/libfoo.so", "the real library\n"),
                    hardlink("usr/lib/libfoo.so.1", "usr/lib/libfoo.so"),
                    dir("usr/lib/mine"),
                    file("usr/lib/mine/own", "own\n"),
                    hardlink("usr/lib/mine/own2", "usr/lib/mine/own"),
                ],
            ),
        ],
    );
}

fn config(dir_: &Path, packages: &str) {
    std::fs::write(
        dir_.join("apko.yaml"),
        format!(
            "contents:\n  keyring: [test.rsa.pub]\n  repositories: [./repo]\n  packages: [{packages}]\narchs: [x86_64]\n"
        ),
    )
    .unwrap();
}

/// `apko build` of `packages`: fails with exactly `error` and writes no OUTPUT.
fn refused(dir_: &Path, packages: &str, error: &str) {
    config(dir_, packages);
    let out = apko(dir_, &["build", "apko.yaml", "test:1", "out.tar"]);
    assert_eq!(out.status.code(), Some(1), "{packages}: {out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr,
        format!("Error: building amd64: {error}\n"),
        "{packages}"
    );
    assert!(
        !dir_.join("out.tar").exists(),
        "{packages}: a failed build left its OUTPUT"
    );
}

/// The image's layer files: path → contents; hard links as `=> target`.
fn layer(out_tar: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut outer = tar::Archive::new(std::fs::File::open(out_tar).unwrap());
    for entry in outer.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".tar.gz") {
            continue;
        }
        let mut gz = Vec::new();
        entry.read_to_end(&mut gz).unwrap();
        let mut out = files(&gz);
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(&gz[..]));
        for e in tar.entries().unwrap() {
            let e = e.unwrap();
            if e.header().entry_type() == tar::EntryType::Link {
                let to = e.link_name().unwrap().unwrap().display().to_string();
                out.insert(
                    e.path().unwrap().display().to_string(),
                    format!("=> {to}").into_bytes(),
                );
            }
        }
        return out;
    }
    panic!("no layer in {}", out_tar.display());
}

#[test]
fn hostile_packages_are_refused_naming_the_package_and_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    repo(d);

    refused(
        d,
        "dangling-hardlink",
        "package dangling-hardlink: the hard link /usr/bin/tool points to /usr/bin/missing, which does not exist; refusing to install it",
    );
    refused(
        d,
        "dir-hardlink",
        "package dir-hardlink: the hard link /usr/share points to /usr/lib, which is a directory; refusing to install it",
    );
    refused(
        d,
        "under-a-file",
        "package under-a-file: cannot install /etc/foo.conf/extra: /etc/foo.conf is a regular file, not a directory; refusing to install it",
    );
    refused(
        d,
        "own-file-parent",
        "package own-file-parent: cannot install /motd/x: /motd is a regular file, not a directory; refusing to install it",
    );
    refused(
        d,
        "dir-over-file",
        "package dir-over-file: cannot install the directory /etc/foo.conf: /etc/foo.conf is a regular file; refusing to install it",
    );
    refused(
        d,
        "through-own-symlink",
        "package through-own-symlink would overwrite /lib/libfoo.so (through a symlink, /usr/lib/libfoo.so), which package libfoo installed; one of them must declare `replaces` on the other",
    );
    refused(
        d,
        "through-absolute-symlink",
        "package through-absolute-symlink would overwrite /usr/lib64/libfoo.so (through a symlink, /usr/lib/libfoo.so), which package libfoo installed; one of them must declare `replaces` on the other",
    );
    refused(
        d,
        "direct-overwrite",
        "package direct-overwrite would overwrite /usr/lib/libfoo.so, which package libfoo installed; one of them must declare `replaces` on the other",
    );
    refused(
        d,
        "file-over-dir",
        "package file-over-dir: cannot install /opt/data: /opt/data is a directory that is not empty; refusing to install it",
    );
}

#[test]
fn what_apk_accepts_still_builds() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    repo(d);
    config(d, "replacer, same-contents");
    ok(&apko(d, &["build", "apko.yaml", "test:1", "out.tar"]));
    let files = layer(&d.join("out.tar"));
    // `replaces` lets a write through the package's own symlink overwrite libfoo's file.
    assert_eq!(files["usr/lib/libfoo.so"], b"the replacement\n");
    assert_eq!(files["etc/foo.conf"], b"a = 2\n");
    // Hard links to files installed before them.
    assert_eq!(files["usr/lib/libfoo.so.1"], b"=> usr/lib/libfoo.so");
    assert_eq!(files["usr/lib/mine/own2"], b"=> usr/lib/mine/own");
    // The replaced file is listed under the replacing package only; same contents, under
    // the package that installed them first.
    let db = String::from_utf8_lossy(&files["usr/lib/apk/db/installed"]).into_owned();
    let record = |name: &str| {
        db.split("\n\n")
            .find(|r| r.contains(&format!("\nP:{name}\n")) || r.starts_with(&format!("P:{name}\n")))
            .unwrap_or_else(|| panic!("{name} in {db}"))
            .lines()
            .filter(|l| l.starts_with("F:") || l.starts_with("R:"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(
        record("libfoo"),
        "F:etc F:opt F:opt/data R:table F:usr F:usr/lib"
    );
    // (via/libfoo.so is under no directory replacer lists, so its record leaves it out.)
    assert_eq!(record("replacer"), "F: R:via F:etc R:foo.conf");
    assert_eq!(
        record("same-contents"),
        "F:usr F:usr/lib R:libfoo.so.1 F:usr/lib/mine R:own R:own2"
    );
}

/// What `apko build` says for `args` (it must fail with exit 1 and write no OUTPUT).
fn build_refused(dir_: &Path, args: &[&str]) -> String {
    let out = dir_.join("out.tar");
    let mut all = vec!["build"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["x:1", out.to_str().unwrap()]);
    let run = apko(dir_, &all);
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    assert!(!out.exists());
    String::from_utf8_lossy(&run.stderr)
        .lines()
        .last()
        .unwrap()
        .to_string()
}

#[test]
fn inputs_that_are_not_regular_files_or_too_big_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let mkfifo = |name: &str| {
        let c = std::ffi::CString::new(d.join(name).to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    };
    // A FIFO as the configuration: refused at once (it would block forever).
    mkfifo("fifo.yaml");
    let started = std::time::Instant::now();
    assert_eq!(
        build_refused(d, &["fifo.yaml"]),
        "Error: failed to read image configuration fifo.yaml: it is a FIFO (named pipe), not a regular file"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    // A device.
    assert_eq!(
        build_refused(d, &["/dev/zero"]),
        "Error: failed to read image configuration /dev/zero: it is a device, not a regular file"
    );
    // Over 16 MiB: refused before it is read.
    let big = std::fs::File::create(d.join("big.yaml")).unwrap();
    big.set_len((16 << 20) + 1).unwrap();
    assert_eq!(
        build_refused(d, &["big.yaml"]),
        "Error: failed to read image configuration big.yaml: it is 16777217 bytes, more than such a file can be (16 MiB)"
    );
    // An include that is a FIFO.
    std::fs::write(
        d.join("top.yaml"),
        "include: fifo.yaml\ncontents:\n  packages: [x]\n",
    )
    .unwrap();
    assert_eq!(
        build_refused(d, &["top.yaml"]),
        "Error: failed to read image configuration fifo.yaml: it is a FIFO (named pipe), not a regular file"
    );
    // A key that is a device, and an --auth-file that is a FIFO.
    std::fs::write(
        d.join("ok.yaml"),
        "contents:\n  repositories: [./repo]\n  packages: [x]\narchs: [x86_64]\n",
    )
    .unwrap();
    let err = build_refused(d, &["ok.yaml", "-k", "/dev/zero"]);
    assert!(
        err.ends_with("cannot read /dev/zero: it is a device, not a regular file"),
        "{err}"
    );
    assert_eq!(
        build_refused(d, &["ok.yaml", "--auth-file", "fifo.yaml"]),
        "Error: cannot read --auth-file fifo.yaml: it is a FIFO (named pipe), not a regular file"
    );
}
