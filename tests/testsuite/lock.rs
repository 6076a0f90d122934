//! `apko lock` and `apko show-packages`: the lockfiles real apko wrote for the shared testdata
//! configs come out byte for byte (with and without a base image); `resolve` is the deprecated
//! name; a lockfile round-trips through `build --lockfile`; a private repository is reached
//! through docker-credential-pass and its credentials never reach the file; failures write
//! nothing; show-packages prints the resolution in apko's formats without downloading.

use crate::support::http::{Response, Server};
use crate::support::{PassStore, require};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::rootfs::{apko, ok};

use crate::support::TESTDATA;
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A temp dir where `testdata` → shared `apko-cli` (as apko's own tests ran) and `apko.yaml`
/// → `testdata/apko.yaml` (the name apko's lockfile records).
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(format!("{TESTDATA}/apko-cli"), dir.path().join("testdata"))
        .unwrap();
    std::os::unix::fs::symlink("testdata/apko.yaml", dir.path().join("apko.yaml")).unwrap();
    dir
}

fn read(path: impl AsRef<Path>) -> Vec<u8> {
    std::fs::read(path.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()))
}

#[test]
fn lockfiles_are_byte_identical_to_apkos() {
    let dir = workdir();
    let d = dir.path();
    // Two architectures from one signed repository.
    let log = ok(&apko(d, &["lock", "apko.yaml", "--output", "mine.json"]));
    assert_eq!(
        String::from_utf8(read(d.join("mine.json"))).unwrap(),
        String::from_utf8(read(format!("{TESTDATA}/apko-cli/apko.lock.json"))).unwrap()
    );
    assert!(
        log.contains("Determining packages for 2 architectures: amd64, arm64"),
        "{log}"
    );
    assert!(log.contains("wrote mine.json (4 packages)"), "{log}");

    // On top of apko's base image: only what the base image lacks is locked.
    ok(&apko(
        d,
        &[
            "lock",
            "testdata/image_on_top.apko.yaml",
            "--output",
            "top.json",
        ],
    ));
    assert_eq!(
        String::from_utf8(read(d.join("top.json"))).unwrap(),
        String::from_utf8(read(format!(
            "{TESTDATA}/apko-cli/image_on_top.apko.lock.json"
        )))
        .unwrap()
    );

    // The deprecated name writes CONFIG.resolved.json beside the config, and says so.
    let log = ok(&apko(d, &["resolve", "apko.yaml"]));
    assert!(
        log.contains("Please use `lock` command. The `resolve` command will get removed in the future versions."),
        "{log}"
    );
    assert_eq!(
        read(d.join("apko.resolved.json")),
        read(format!("{TESTDATA}/apko-cli/apko.lock.json"))
    );
    // `lock` without --output: CONFIG.lock.json. A credential without HOST= has no registry
    // to go to: it is named as unused, not sent anywhere.
    std::fs::write(d.join("auth.txt"), "user:hunter22\n").unwrap();
    let log = ok(&apko(
        d,
        &[
            "lock",
            "apko.yaml",
            "--arch",
            "aarch64",
            "--auth-file",
            "auth.txt",
        ],
    ));
    assert!(
        log.contains(" WARN --auth-file auth.txt line 1: a value without HOST= is for the registry of the image named on the command line, and this command names none, so it is not used; write HOST=VALUE for the host it is for\n"),
        "{log}"
    );
    let one: serde_json::Value = serde_json::from_slice(&read(d.join("apko.lock.json"))).unwrap();
    let archs: Vec<&str> = one["contents"]["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["architecture"].as_str().unwrap())
        .collect();
    assert_eq!(archs, ["aarch64", "aarch64"]);
    assert_eq!(
        one["contents"]["repositories"],
        serde_json::json!([{
            "name": "./testdata/packages/aarch64",
            "url": "./testdata/packages/aarch64/APKINDEX.tar.gz",
            "architecture": "aarch64"
        }])
    );
}

/// Each image's layer in a docker tarball (in the tarball's order): path → contents of the
/// files asked for.
fn layer_files(tarball: &Path, wanted: &[&str]) -> Vec<Vec<(String, Vec<u8>)>> {
    use std::io::Read;
    let mut files = std::collections::HashMap::new();
    let mut archive = tar::Archive::new(std::fs::File::open(tarball).unwrap());
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        files.insert(name, data);
    }
    let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    manifest
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let layer = &files[m["Layers"][0].as_str().unwrap()];
            let mut layer = tar::Archive::new(flate2::read::GzDecoder::new(&layer[..]));
            let mut out = Vec::new();
            for e in layer.entries().unwrap() {
                let mut e = e.unwrap();
                let path = e.path().unwrap().to_string_lossy().into_owned();
                if wanted.contains(&path.as_str()) {
                    let mut data = Vec::new();
                    e.read_to_end(&mut data).unwrap();
                    out.push((path, data));
                }
            }
            out
        })
        .collect()
}

#[test]
fn a_lockfile_round_trips_through_build() {
    let dir = workdir();
    let d = dir.path();
    ok(&apko(
        d,
        &["lock", "apko.yaml", "--output", "apko.lock.json"],
    ));
    let plain = ["build", "apko.yaml", "app:1", "plain.tar", "--sbom=false"];
    ok(&apko(d, &plain));
    let locked = [
        "build",
        "apko.yaml",
        "app:1",
        "locked.tar",
        "--sbom=false",
        "--lockfile",
        "apko.lock.json",
    ];
    ok(&apko(d, &locked));
    // The same packages, byte for byte, for both architectures; the world is pinned either
    // way, as apko 1.2 pins every installed package (from the lockfile or resolved).
    let db = "usr/lib/apk/db/installed";
    let wanted = [db, "etc/apk/world"];
    let (plain, locked) = (
        layer_files(&d.join("plain.tar"), &wanted),
        layer_files(&d.join("locked.tar"), &wanted),
    );
    assert_eq!(plain.len(), 2);
    for (p, l) in plain.iter().zip(&locked) {
        let get = |files: &[(String, Vec<u8>)], name: &str| {
            files
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, d)| String::from_utf8_lossy(d).into_owned())
                .unwrap_or_else(|| panic!("{name} missing"))
        };
        assert_eq!(get(p, db), get(l, db));
        assert!(get(p, db).contains("P:replayout\n"));
        let pinned = "pretend-baselayout=1.0.0-r0\nreplayout=1.0.0-r0\n";
        assert_eq!(get(p, "etc/apk/world"), pinned);
        assert_eq!(get(l, "etc/apk/world"), pinned);
    }
}

/// Serves `examples/hello/repo` under `/repo/` to requests with `Authorization: basic`.
fn private_repo(basic: String) -> Server {
    let repo = Path::new(ROOT).join("examples/hello/repo");
    Server::start(move |req| {
        if req.header("authorization") != Some(basic.as_str()) {
            return Response::new(401).header("WWW-Authenticate", "Basic realm=\"apk\"");
        }
        match std::fs::read(repo.join(req.path().trim_start_matches("/repo/"))) {
            Ok(bytes) => Response::new(200).body(bytes),
            Err(_) => Response::new(404),
        }
    })
}

#[test]
fn a_private_repository_through_docker_credential_pass_leaves_no_credential_in_the_file() {
    require("docker-credential-pass", "golang-docker-credential-helpers");
    let store = PassStore::init();
    let password = format!("lock-secret-{}", std::process::id());
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("apk-user:{password}")
        )
    );
    let server = private_repo(basic.clone());
    let host = server.addr.clone();
    let mut child = Command::new("docker-credential-pass")
        .arg("store")
        .envs(store.env.iter().cloned())
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        format!(r#"{{"ServerURL":"{host}","Username":"apk-user","Secret":"{password}"}}"#)
            .as_bytes(),
    )
    .unwrap();
    assert!(child.wait().unwrap().success());

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("docker")).unwrap();
    std::fs::write(
        d.join("docker/config.json"),
        format!(r#"{{"credHelpers":{{"{host}":"pass"}}}}"#),
    )
    .unwrap();
    let key = Path::new(ROOT).join("examples/hello/apko-rs-example.rsa.pub");
    std::fs::write(
        d.join("private.yaml"),
        format!(
            "contents:\n  keyring: [{}]\n  repositories: [http://{host}/repo]\n  packages: [hello]\narchs: [x86_64]\n",
            key.display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_apko"));
    cmd.current_dir(d)
        .args(["lock", "private.yaml"])
        .env("DOCKER_CONFIG", d.join("docker"))
        .env("XDG_CACHE_HOME", d.join("cache"))
        .envs(store.env.iter().cloned())
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("APKO_AUTH");
    ok(&cmd.output().unwrap());
    let text = String::from_utf8(read(d.join("private.lock.json"))).unwrap();
    assert!(!text.contains(&password), "{text}");
    assert!(!text.contains("apk-user"), "{text}");
    let lock: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(lock["config"]["name"], "private.yaml");
    assert_eq!(
        lock["contents"]["repositories"],
        serde_json::json!([{
            "name": format!("{host}/repo/x86_64"),
            "url": format!("http://{host}/repo/x86_64/APKINDEX.tar.gz"),
            "architecture": "x86_64"
        }])
    );
    let names: Vec<(&str, &str)> = lock["contents"]["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["url"].as_str().unwrap()))
        .collect();
    let hello = names
        .iter()
        .find(|(n, _)| *n == "hello")
        .expect("hello is locked");
    assert!(
        hello
            .1
            .starts_with(&format!("http://{host}/repo/x86_64/hello-")),
        "{names:?}"
    );
    // Every request carried pass's credentials (the first one too: no anonymous try first
    // for a host with a helper): the index, then each package.
    let requests = server.requests();
    assert_eq!(requests.len(), 1 + names.len(), "{requests:#?}");
    assert!(
        requests
            .iter()
            .all(|r| r.header("authorization") == Some(basic.as_str())),
        "{requests:#?}"
    );
}

#[test]
fn failures_write_no_lockfile() {
    let dir = workdir();
    let d = dir.path();
    std::fs::write(
        d.join("missing.yaml"),
        "contents:\n  keyring: [./testdata/melange.rsa.pub]\n  repositories: [./testdata/packages]\n  packages: [no-such-package]\narchs: [x86_64]\n",
    )
    .unwrap();
    let out = apko(d, &["lock", "missing.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out).lines().last().unwrap_or_default(),
        "Error: locking amd64: nothing provides \"no-such-package\" (needed by world \"no-such-package\" → no-such-package); check the package name and the repositories",
        "{}",
        stderr(&out)
    );
    assert!(!d.join("missing.lock.json").exists());

    // An existing lockfile is left as it was.
    std::fs::write(d.join("missing.lock.json"), b"old").unwrap();
    let out = apko(d, &["lock", "missing.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(read(d.join("missing.lock.json")), b"old");

    std::fs::create_dir(d.join("adir")).unwrap();
    let out = apko(d, &["lock", "apko.yaml", "--output", "adir"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "Error: --output adir is a directory; name the lockfile to write\n"
    );

    let leftovers: Vec<PathBuf> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".apko-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn show_packages_prints_the_resolution_without_downloading_a_package() {
    let dir = workdir();
    let d = dir.path();
    let out = apko(d, &["show-packages", "apko.yaml"]);
    ok(&out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "pretend-baselayout 1.0.0-r0\nreplayout 1.0.0-r0\npretend-baselayout 1.0.0-r0\nreplayout 1.0.0-r0\n"
    );
    // On apko's base image, only what it lacks.
    let out = apko(
        d,
        &[
            "show-packages",
            "testdata/image_on_top.apko.yaml",
            "--arch",
            "x86_64",
            "--format",
            "packagelock-source",
        ],
    );
    ok(&out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "- replayout=1.0.0-r0 # ./testdata/packages/x86_64/replayout-1.0.0-r0.apk\n"
    );

    // Over HTTP: the index is fetched, no package is.
    let repo = Path::new(ROOT).join("examples/hello/repo");
    let server = Server::start(move |req| {
        match std::fs::read(repo.join(req.path().trim_start_matches("/repo/"))) {
            Ok(bytes) => Response::new(200).body(bytes),
            Err(_) => Response::new(404),
        }
    });
    let key = Path::new(ROOT).join("examples/hello/apko-rs-example.rsa.pub");
    std::fs::write(
        d.join("http.yaml"),
        format!(
            "contents:\n  keyring: [{}]\n  repositories: [http://{}/repo]\n  packages: [hello]\narchs: [x86_64]\n",
            key.display(),
            server.addr
        ),
    )
    .unwrap();
    let out = apko(
        d,
        &[
            "show-packages",
            "http.yaml",
            "--format",
            "{{.Name}}={{ .Version }}",
        ],
    );
    ok(&out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "busybox=1.35.0-r4\nhello=1.0-r0\n"
    );
    let paths: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.path().to_string())
        .collect();
    assert_eq!(paths, ["/repo/x86_64/APKINDEX.tar.gz"]);

    let out = apko(
        d,
        &["show-packages", "apko.yaml", "--format", "{{ .Size }}"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "Error: --format \"{{ .Size }}\": unsupported action {{.Size}}; use {{ .Name }}, {{ .Version }} or {{ .Source }}, or a named format (see --help)\n"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn build_refuses_a_lockfile_made_from_another_config() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::os::unix::fs::symlink(format!("{TESTDATA}/apko-cli"), d.join("testdata")).unwrap();
    let config = std::fs::read_to_string(format!("{TESTDATA}/apko-cli/apko.yaml")).unwrap();
    std::fs::write(d.join("apko.yaml"), &config).unwrap();
    ok(&apko(d, &["lock", "apko.yaml"]));
    // The config changes after locking: the lockfile no longer describes it.
    std::fs::write(
        d.join("apko.yaml"),
        format!("{config}\nannotations:\n  a: b\n"),
    )
    .unwrap();
    let build = [
        "build",
        "apko.yaml",
        "app:1",
        "out.tar",
        "--sbom=false",
        "--lockfile",
        "apko.lock.json",
    ];
    let out = apko(d, &build);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "Error: the lock file apko.lock.json was made from another version of apko.yaml (or of a file it includes): regenerate it with `apko lock apko.yaml`\n"
    );
    assert!(!d.join("out.tar").exists());
    // Regenerated, it builds.
    ok(&apko(d, &["lock", "apko.yaml"]));
    ok(&apko(d, &build));
}
