//! Shared by the tests that build a root filesystem from a repository they make: a signed
//! repository (`apko::apk::mkrepo`, a fresh openssl key), `apko build-minirootfs`, and the
//! tarball's files. Each test binary uses part of it.

use apko::apk::mkrepo::{PackageSpec, load_private_key, public_pem, write_repo};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Output};

/// Writes `dir/repo/x86_64` with `packages`, signed by a new key whose public half is
/// `dir/test.rsa.pub`.
pub fn signed_repo(dir: &Path, packages: &[PackageSpec]) {
    let key_path = dir.join("test.rsa");
    let status = Command::new("openssl")
        .args(["genrsa", "-out"])
        .arg(&key_path)
        .arg("2048")
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl (tests/run.sh installs it)");
    assert!(status.success());
    let key = load_private_key(&key_path).unwrap();
    std::fs::write(dir.join("test.rsa.pub"), public_pem(&key)).unwrap();
    write_repo(&dir.join("repo"), "x86_64", packages, &key, "test.rsa.pub").unwrap();
}

/// `apko ARGS` in `dir`, with the Docker config, cache and runtime directory of the user
/// kept out.
pub fn apko(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_apko"))
        .current_dir(dir)
        .args(args)
        .env("SOURCE_DATE_EPOCH", "0")
        .env("DOCKER_CONFIG", dir.join("docker"))
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("APKO_AUTH")
        .output()
        .expect("run apko")
}

/// Asserts success; returns stderr (the log).
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Writes `yaml` as `dir/apko.yaml`, runs `apko build-minirootfs apko.yaml rootfs.tar.gz
/// --build-arch x86_64` and returns the tarball's files (it must succeed).
pub fn build_rootfs(dir: &Path, yaml: &str) -> BTreeMap<String, Vec<u8>> {
    std::fs::write(dir.join("apko.yaml"), yaml).unwrap();
    ok(&minirootfs(dir, "apko.yaml"));
    files(&std::fs::read(dir.join("rootfs.tar.gz")).unwrap())
}

/// `apko build-minirootfs CONFIG rootfs.tar.gz --build-arch x86_64` in `dir`.
pub fn minirootfs(dir: &Path, config: &str) -> Output {
    apko(
        dir,
        &[
            "build-minirootfs",
            config,
            "rootfs.tar.gz",
            "--build-arch",
            "x86_64",
        ],
    )
}

/// Regular files and symlinks of a `.tar.gz`: path → contents (or `-> target`).
pub fn files(targz: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(targz));
    let mut out = BTreeMap::new();
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        match entry.header().entry_type() {
            tar::EntryType::Regular => {
                entry.read_to_end(&mut data).unwrap();
            }
            tar::EntryType::Symlink => {
                let to = entry.link_name().unwrap().unwrap();
                data = format!("-> {}", to.display()).into_bytes()
            }
            _ => continue,
        }
        out.insert(name, data);
    }
    out
}
