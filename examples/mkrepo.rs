//! Builds the example repository under `examples/hello/` with the project's own code: a
//! `busybox` package (Debian's static busybox as `/bin/busybox`, `/bin/sh` linked to it) and
//! a `hello` package whose `/usr/bin/hello` prints `hello from apko-rs`, signed with an RSA
//! key; writes the public key next to it.
//!
//! ```sh
//! openssl genrsa -out /tmp/apko-rs-example.rsa 2048
//! cargo run --example mkrepo -- /tmp/apko-rs-example.rsa /bin/busybox examples/hello
//! ```

use apko::apk::mkrepo::{FileSpec, PackageSpec, load_private_key, public_pem, write_repo};
use std::path::PathBuf;
use std::process::ExitCode;

/// The name signatures use for the key (the public key's file name).
const KEY_NAME: &str = "apko-rs-example.rsa.pub";
/// All entries get this mtime, so rebuilding gives the same files.
const BUILD_TIME: u64 = 1_735_689_600;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [key, busybox, out] = args.as_slice() else {
        eprintln!("usage: mkrepo PRIVATE_KEY.pem BUSYBOX_BINARY OUT_DIR");
        return ExitCode::from(2);
    };
    match run(key.into(), busybox.into(), out.into()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mkrepo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(key: PathBuf, busybox: PathBuf, out: PathBuf) -> Result<(), Box<dyn std::error::Error>> {
    let key = load_private_key(&key)?;
    let busybox = std::fs::read(&busybox).map_err(|e| format!("{}: {e}", busybox.display()))?;
    let base = PackageSpec {
        arch: "x86_64".into(),
        license: "GPL-2.0-only".into(),
        build_time: BUILD_TIME,
        ..PackageSpec::default()
    };
    let packages = [
        PackageSpec {
            name: "busybox".into(),
            version: "1.35.0-r4".into(),
            description: "Debian's static busybox".into(),
            provides: vec!["cmd:sh=1.35.0-r4".into(), "/bin/sh".into()],
            files: vec![
                FileSpec::Dir("bin".into(), 0o755),
                FileSpec::File("bin/busybox".into(), busybox, 0o755),
                FileSpec::Symlink("bin/sh".into(), "busybox".into()),
                FileSpec::Dir("etc".into(), 0o755),
                FileSpec::Dir("etc/busybox-paths.d".into(), 0o755),
                // The applet list busybox packages ship since Alpine 1.36.0-r8; apko links each.
                FileSpec::File(
                    "etc/busybox-paths.d/busybox".into(),
                    b"/bin/cat\n/bin/echo\n/bin/ls\n/bin/sh\n".to_vec(),
                    0o644,
                ),
            ],
            ..base.clone()
        },
        PackageSpec {
            name: "hello".into(),
            version: "1.0-r0".into(),
            description: "Prints a greeting".into(),
            license: "Apache-2.0".into(),
            depends: vec!["/bin/sh".into()],
            files: vec![
                FileSpec::Dir("usr".into(), 0o755),
                FileSpec::Dir("usr/bin".into(), 0o755),
                FileSpec::File(
                    "usr/bin/hello".into(),
                    b"#!/bin/sh\necho 'hello from apko-rs'\n".to_vec(),
                    0o755,
                ),
            ],
            ..base
        },
    ];
    write_repo(&out.join("repo"), "x86_64", &packages, &key, KEY_NAME)?;
    std::fs::write(out.join(KEY_NAME), public_pem(&key))?;
    println!("wrote {}", out.join("repo/x86_64").display());
    Ok(())
}
