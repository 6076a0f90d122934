//! busybox applet links, as apko creates them (apk's `busybox --install -s` trigger is never
//! run): one `/bin/busybox` link per path in the package's `/etc/busybox-paths.d/busybox`,
//! through a merged-usr `/bin`, keeping files other packages installed.

use crate::support::rootfs::{build_rootfs, signed_repo};
use apko::apk::mkrepo::{FileSpec, PackageSpec};

#[test]
fn applet_links_come_from_the_busybox_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let base = PackageSpec {
        version: "1.37.0-r0".into(),
        arch: "x86_64".into(),
        license: "GPL-2.0-only".into(),
        build_time: 1_700_000_000,
        ..PackageSpec::default()
    };
    let busybox = PackageSpec {
        name: "busybox".into(),
        files: vec![
            FileSpec::Dir("usr".into(), 0o755),
            FileSpec::Dir("usr/bin".into(), 0o755),
            FileSpec::File("usr/bin/busybox".into(), b"\x7fELF".to_vec(), 0o755),
            FileSpec::Dir("etc".into(), 0o755),
            FileSpec::Dir("etc/busybox-paths.d".into(), 0o755),
            FileSpec::File(
                "etc/busybox-paths.d/busybox".into(),
                b"/bin/busybox\n/bin/cat\n/bin/ls\n/bin/sh\n/sbin/ifconfig\n/usr/bin/wget\n"
                    .to_vec(),
                0o644,
            ),
        ],
        ..base.clone()
    };
    let layout = PackageSpec {
        name: "merged-usr".into(),
        version: "1-r0".into(),
        files: vec![
            FileSpec::Symlink("bin".into(), "usr/bin".into()),
            FileSpec::Dir("usr".into(), 0o755),
            FileSpec::Dir("usr/bin".into(), 0o755),
            FileSpec::File("usr/bin/sh".into(), b"#!dash".to_vec(), 0o755),
        ],
        ..base
    };
    signed_repo(d, &[busybox, layout]);
    let files = build_rootfs(
        d,
        "contents:\n  keyring: [test.rsa.pub]\n  repositories: [./repo]\n  packages: [merged-usr, busybox]\narchs: [x86_64]\n",
    );
    let links: Vec<(&str, String)> = files
        .iter()
        .filter(|(_, v)| v.starts_with(b"-> "))
        .map(|(k, v)| (k.as_str(), String::from_utf8_lossy(v).into_owned()))
        .collect();
    assert_eq!(
        links,
        [
            ("bin", "-> usr/bin".to_string()),
            ("lib/apk", "-> ../usr/lib/apk".to_string()),
            ("sbin/ifconfig", "-> /bin/busybox".to_string()),
            ("usr/bin/cat", "-> /bin/busybox".to_string()),
            ("usr/bin/ls", "-> /bin/busybox".to_string()),
            ("usr/bin/wget", "-> /bin/busybox".to_string()),
        ]
    );
    assert_eq!(
        files["usr/bin/sh"], b"#!dash",
        "a file another package installed is kept"
    );
}
