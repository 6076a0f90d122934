//! skopeo and podman (both containers/image) storing, reading and erasing credentials through
//! docker-credential-apko on the kernel keyring, against a real htpasswd-protected registry,
//! pushing and pulling the apko-built OCI layout from the shared test data.
//!
//! Both ignore `credsStore`; the helper is named in a `credHelpers` entry of the `--authfile`
//! (`skopeo login`/`podman login` call `store` only when the file they write names a helper for
//! that host). The helper on PATH is a small shell wrapper that records each action (and, for
//! `get` and `erase`, the server it was asked about; never `store`'s payload) before running the
//! real binary, so the tests assert exactly which calls each client makes.
//!
//! Outside their temp dirs, skopeo and podman as root still touch two machine paths that no
//! flag moves: containers/image's blob-info cache `/var/lib/containers/cache/` and netavark's
//! (empty) `/run/containers/networks/`.

use apko_credential::Program;
use apko_test_support::{Registry, fake_helper, require};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const HELPER: &str = env!("CARGO_BIN_EXE_docker-credential-apko");
const BASE_IMAGE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/testdata/apko-cli/base_image"
);

/// A private PATH holding the logging wrapper, an isolated HOME and an auth file naming our
/// helper for the registry.
struct Client {
    dir: tempfile::TempDir,
    path: String,
    log: PathBuf,
    authfile: PathBuf,
}

impl Client {
    fn new(host: &str) -> Client {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let log = dir.path().join("actions.log");
        fake_helper(
            &bin,
            "apko",
            &format!(
                "log='{log}'\nreal='{HELPER}'\n\
                 if [ \"$1\" = store ]; then echo store >> \"$log\"; exec \"$real\" store; fi\n\
                 in=$(cat)\nprintf '%s %s\\n' \"$1\" \"$in\" >> \"$log\"\n\
                 printf '%s' \"$in\" | \"$real\" \"$@\"",
                log = log.display()
            ),
        );
        let authfile = dir.path().join("auth.json");
        std::fs::write(&authfile, auth_json(host)).unwrap();
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
        Client {
            dir,
            path,
            log,
            authfile,
        }
    }

    /// `program args…` with the isolated environment and the keyutils backend forced.
    fn command(&self, program: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env("HOME", self.dir.path())
            .env("PATH", &self.path)
            .env("DOCKER_CREDENTIAL_APKO_BACKEND", "keyutils")
            // containers/image also reads these locations; keep the machine's out of the test.
            .env_remove("DOCKER_CONFIG")
            .env_remove("REGISTRY_AUTH_FILE")
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("XDG_CONFIG_HOME");
        cmd
    }

    /// The actions the helper received since the last call, then forgets them.
    fn take_actions(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        std::fs::write(&self.log, "").unwrap();
        text.lines().map(str::to_string).collect()
    }

    fn authfile(&self) -> &str {
        self.authfile.to_str().unwrap()
    }
}

fn auth_json(host: &str) -> String {
    format!(r#"{{"auths":{{}},"credHelpers":{{"{host}":"apko"}}}}"#)
}

/// Runs `cmd` with `stdin` as its input and returns its output.
fn run(cmd: &mut Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Panics with both streams unless `out` succeeded.
fn ok(out: Output, what: &str) -> Output {
    assert!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// Our helper itself (not the logging wrapper), on the same backend.
fn helper() -> Program {
    Program::new(HELPER).env("DOCKER_CREDENTIAL_APKO_BACKEND", "keyutils")
}

/// Keeps `host` out of the helper before and after a test, also when the test fails: the
/// helper links every key into the user's persistent keyring, which outlives the session keyring
/// the tests run under.
struct Forget<'a>(&'a str);

impl<'a> Forget<'a> {
    fn new(host: &'a str) -> Forget<'a> {
        helper().erase(host).unwrap();
        Forget(host)
    }
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        let _ = helper().erase(self.0);
    }
}

fn assert_stored(host: &str) {
    let creds = helper()
        .get(host)
        .unwrap()
        .unwrap_or_else(|| panic!("no credentials for {host} in docker-credential-apko"));
    assert_eq!(creds.username, "testuser");
    assert_eq!(creds.secret.expose(), "testpass");
}

/// The auth file holds no secret, neither plain nor as docker's base64 `auth`.
fn assert_no_secret_in(authfile: &Path) {
    let file = std::fs::read_to_string(authfile).unwrap();
    assert!(!file.contains("testpass"), "{file}");
    assert!(!file.contains("dGVzdHVzZXI6dGVzdHBhc3M"), "{file}");
}

fn sha256_hex(path: &Path) -> String {
    let out = ok(
        Command::new("sha256sum").arg(path).output().unwrap(),
        "sha256sum",
    );
    text(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// The apko-built two-arch image from the shared test data, as an OCI layout whose only tag
/// `base` names its image index. The original's `index.json` lists the two manifests without
/// any tag, which neither skopeo nor podman can address; here it becomes a blob of a new layout
/// whose blobs are symlinks to the originals (nothing is copied).
struct Layout {
    dir: PathBuf,
    /// `sha256:…` of the original `index.json`: the digest of the pushed image index.
    index_digest: String,
    /// The original `index.json`, byte for byte.
    index: Vec<u8>,
}

impl Layout {
    fn new(parent: &Path) -> Layout {
        let src = Path::new(BASE_IMAGE);
        assert!(
            src.join("index.json").is_file(),
            "the shared test data is missing: {} (see /work/shared/testdata/README.md)",
            src.display()
        );
        let dir = parent.join("layout");
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        for entry in std::fs::read_dir(src.join("blobs/sha256")).unwrap() {
            let entry = entry.unwrap();
            std::os::unix::fs::symlink(entry.path(), blobs.join(entry.file_name())).unwrap();
        }
        std::fs::write(
            dir.join("oci-layout"),
            std::fs::read(src.join("oci-layout")).unwrap(),
        )
        .unwrap();
        let index = std::fs::read(src.join("index.json")).unwrap();
        let hex = sha256_hex(&src.join("index.json"));
        std::fs::write(blobs.join(&hex), &index).unwrap();
        let top = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "size": index.len(),
                "digest": format!("sha256:{hex}"),
                "annotations": {"org.opencontainers.image.ref.name": "base"},
            }],
        });
        std::fs::write(dir.join("index.json"), top.to_string()).unwrap();
        Layout {
            dir,
            index_digest: format!("sha256:{hex}"),
            index,
        }
    }

    /// `oci:<dir>:base`.
    fn reference(&self) -> String {
        format!("oci:{}:base", self.dir.display())
    }

    /// The config digest (`sha256:…`) of the linux/amd64 image, which is also podman's image ID.
    fn amd64_config_digest(&self) -> String {
        let index: serde_json::Value = serde_json::from_slice(&self.index).unwrap();
        let manifest = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["platform"]["architecture"] == "amd64")
            .expect("an amd64 manifest in the test image");
        let digest = manifest["digest"].as_str().unwrap();
        let hex = digest.strip_prefix("sha256:").unwrap();
        let bytes = std::fs::read(Path::new(BASE_IMAGE).join("blobs/sha256").join(hex)).unwrap();
        let manifest: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        manifest["config"]["digest"].as_str().unwrap().to_string()
    }
}

#[test]
fn skopeo_login_inspect_copy_logout_through_docker_credential_apko() {
    let skopeo = require("skopeo", "skopeo");
    let registry = Registry::start_htpasswd();
    let host = registry.host.as_str();
    let _forget = Forget::new(host);
    let client = Client::new(host);
    let layout = Layout::new(client.dir.path());
    let authfile = client.authfile();
    let image = format!("docker://{host}/apko-base:1");

    // A wrong password: skopeo asks the helper first, then stores nothing.
    let out = run(
        &mut client.command(
            &skopeo,
            &[
                "login",
                "--authfile",
                authfile,
                "--tls-verify=false",
                "-u",
                "testuser",
                "--password-stdin",
                host,
            ],
        ),
        "wrong-password\n",
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains(&format!(
            r#"level=fatal msg="logging into \"{host}\": invalid username/password""#
        )),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(client.take_actions(), [format!("get {host}")]);
    assert!(helper().get(host).unwrap().is_none());

    let out = ok(
        run(
            &mut client.command(
                &skopeo,
                &[
                    "login",
                    "--authfile",
                    authfile,
                    "--tls-verify=false",
                    "-u",
                    "testuser",
                    "--password-stdin",
                    host,
                ],
            ),
            "testpass\n",
        ),
        "skopeo login",
    );
    assert_eq!(text(&out.stdout), "Login Succeeded!\n");
    assert_eq!(
        client.take_actions(),
        [format!("get {host}"), "store".into()]
    );
    assert_stored(host);
    // The secret went to our helper; skopeo left the auth file as it was.
    assert_eq!(
        std::fs::read_to_string(&client.authfile).unwrap(),
        auth_json(host)
    );

    // Push the two-arch image with the stored credentials.
    ok(
        run(
            &mut client.command(
                &skopeo,
                &[
                    "copy",
                    "--all",
                    "--authfile",
                    authfile,
                    "--dest-tls-verify=false",
                    &layout.reference(),
                    &image,
                ],
            ),
            "",
        ),
        "skopeo copy to the registry",
    );
    assert_eq!(client.take_actions(), [format!("get {host}")]);

    let out = ok(
        run(
            &mut client.command(
                &skopeo,
                &[
                    "inspect",
                    "--raw",
                    "--authfile",
                    authfile,
                    "--tls-verify=false",
                    &image,
                ],
            ),
            "",
        ),
        "skopeo inspect --raw",
    );
    assert_eq!(
        out.stdout, layout.index,
        "the registry serves apko's image index byte for byte"
    );
    assert_eq!(client.take_actions(), [format!("get {host}")]);

    let out = ok(
        run(
            &mut client.command(
                &skopeo,
                &[
                    "inspect",
                    "--override-arch",
                    "amd64",
                    "--override-os",
                    "linux",
                    "--authfile",
                    authfile,
                    "--tls-verify=false",
                    &image,
                ],
            ),
            "",
        ),
        "skopeo inspect",
    );
    let inspected: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(inspected["Name"], format!("{host}/apko-base"));
    assert_eq!(inspected["Digest"], layout.index_digest.as_str());
    assert_eq!(inspected["RepoTags"], serde_json::json!(["1"]));
    assert_eq!(inspected["Architecture"], "amd64");
    // Two lookups: one for the image, one for the tag list behind `RepoTags`.
    assert_eq!(
        client.take_actions(),
        [format!("get {host}"), format!("get {host}")]
    );

    // Pull it back: every blob returns unchanged.
    let pulled = client.dir.path().join("pulled");
    ok(
        run(
            &mut client.command(
                &skopeo,
                &[
                    "copy",
                    "--all",
                    "--authfile",
                    authfile,
                    "--src-tls-verify=false",
                    &image,
                    &format!("oci:{}:1", pulled.display()),
                ],
            ),
            "",
        ),
        "skopeo copy from the registry",
    );
    assert_eq!(client.take_actions(), [format!("get {host}")]);
    let pulled_index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(pulled.join("index.json")).unwrap()).unwrap();
    assert_eq!(
        pulled_index["manifests"][0]["digest"],
        layout.index_digest.as_str()
    );
    let mut names = Vec::new();
    for entry in std::fs::read_dir(layout.dir.join("blobs/sha256")).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        assert_eq!(
            std::fs::read(pulled.join("blobs/sha256").join(&name)).unwrap(),
            std::fs::read(entry.path()).unwrap(),
            "blob {name}"
        );
        names.push(name);
    }
    let mut pulled_names: Vec<String> = std::fs::read_dir(pulled.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    pulled_names.sort();
    assert_eq!(pulled_names, names);

    let out = ok(
        run(
            &mut client.command(&skopeo, &["logout", "--authfile", authfile, host]),
            "",
        ),
        "skopeo logout",
    );
    assert_eq!(
        text(&out.stdout),
        format!("Removed login credentials for {host}\n")
    );
    assert_eq!(client.take_actions(), [format!("erase {host}")]);
    assert!(
        helper().get(host).unwrap().is_none(),
        "skopeo logout erased through our helper"
    );
    // logout rewrites (re-indents) the file but keeps the helper entry and holds no secret.
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&client.authfile).unwrap()).unwrap();
    assert_eq!(
        file,
        serde_json::from_str::<serde_json::Value>(&auth_json(host)).unwrap()
    );
    assert_no_secret_in(&client.authfile);

    // Our miss answer is the one containers/image understands: it goes on anonymously and
    // the registry refuses, rather than failing on the helper.
    let out = run(
        &mut client.command(
            &skopeo,
            &[
                "inspect",
                "--raw",
                "--authfile",
                authfile,
                "--tls-verify=false",
                &image,
            ],
        ),
        "",
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("unauthorized: authentication required"),
        "{stderr}"
    );
    assert!(!stderr.contains("error getting credentials"), "{stderr}");
    assert_eq!(client.take_actions(), [format!("get {host}")]);
}

/// podman as root with its own storage (vfs under a temp dir), so it neither touches the
/// machine's images nor collides with a parallel test.
struct Podman {
    program: PathBuf,
    args: Vec<String>,
}

impl Podman {
    fn new(program: &Path, dir: &Path) -> Podman {
        let path = |name: &str| dir.join(name).display().to_string();
        Podman {
            program: program.to_path_buf(),
            args: vec![
                "--root".into(),
                path("root"),
                "--runroot".into(),
                path("runroot"),
                "--tmpdir".into(),
                path("tmp"),
                "--storage-driver".into(),
                "vfs".into(),
                "--cgroup-manager".into(),
                "cgroupfs".into(),
                "--events-backend".into(),
                "file".into(),
            ],
        }
    }

    fn command(&self, client: &Client, args: &[&str]) -> Command {
        let mut cmd = client.command(&self.program, &[]);
        cmd.args(&self.args).args(args);
        cmd
    }
}

#[test]
fn podman_login_push_pull_logout_through_docker_credential_apko() {
    let program = require("podman", "podman");
    // SAFETY: geteuid(2) has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test runs podman as root (rootless podman needs subuid/subgid setup)"
    );
    let registry = Registry::start_htpasswd();
    let host = registry.host.as_str();
    let _forget = Forget::new(host);
    let client = Client::new(host);
    let layout = Layout::new(client.dir.path());
    let authfile = client.authfile();
    let podman = Podman::new(&program, &client.dir.path().join("storage"));
    let image = format!("{host}/apko-podman:1");

    let out = ok(
        run(
            &mut podman.command(
                &client,
                &[
                    "login",
                    "--authfile",
                    authfile,
                    "--tls-verify=false",
                    "-u",
                    "testuser",
                    "--password-stdin",
                    host,
                ],
            ),
            "testpass\n",
        ),
        "podman login",
    );
    assert_eq!(text(&out.stdout), "Login Succeeded!\n");
    assert_eq!(
        client.take_actions(),
        [format!("get {host}"), "store".into()]
    );
    assert_stored(host);
    assert_eq!(
        std::fs::read_to_string(&client.authfile).unwrap(),
        auth_json(host)
    );

    // Into podman's storage from the layout: no registry, no credentials. podman names the
    // image after the layout's path, and a temp dir's mixed-case name is not a valid image
    // name ("repository name must be lowercase"), so the path is relative to the temp dir.
    assert_eq!(layout.dir, client.dir.path().join("layout"));
    let out = ok(
        run(
            podman
                .command(
                    &client,
                    &[
                        "pull",
                        "--quiet",
                        "--platform",
                        "linux/amd64",
                        "oci:layout:base",
                    ],
                )
                .current_dir(client.dir.path()),
            "",
        ),
        "podman pull oci:",
    );
    let config = layout.amd64_config_digest();
    let id = config.strip_prefix("sha256:").unwrap();
    assert_eq!(text(&out.stdout), format!("{id}\n"));
    assert_eq!(client.take_actions(), Vec::<String>::new());

    ok(
        run(&mut podman.command(&client, &["tag", id, &image]), ""),
        "podman tag",
    );
    ok(
        run(
            &mut podman.command(
                &client,
                &["push", "--authfile", authfile, "--tls-verify=false", &image],
            ),
            "",
        ),
        "podman push",
    );
    assert_eq!(client.take_actions(), [format!("get {host}")]);

    // A second, empty storage pulls it back with the stored credentials: the same image.
    let fresh = Podman::new(&program, &client.dir.path().join("storage2"));
    let pull = |client: &Client| {
        run(
            &mut fresh.command(
                client,
                &[
                    "pull",
                    "--quiet",
                    "--authfile",
                    authfile,
                    "--tls-verify=false",
                    &image,
                ],
            ),
            "",
        )
    };
    let out = ok(pull(&client), "podman pull from the registry");
    assert_eq!(text(&out.stdout), format!("{id}\n"));
    assert_eq!(client.take_actions(), [format!("get {host}")]);

    let out = ok(
        run(
            &mut podman.command(&client, &["logout", "--authfile", authfile, host]),
            "",
        ),
        "podman logout",
    );
    assert_eq!(
        text(&out.stdout),
        format!("Removed login credentials for {host}\n")
    );
    assert_eq!(client.take_actions(), [format!("erase {host}")]);
    assert!(
        helper().get(host).unwrap().is_none(),
        "podman logout erased through our helper"
    );
    assert_no_secret_in(&client.authfile);

    // Logged out: podman reads our miss, goes on anonymously, and the registry refuses.
    let out = pull(&client);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("unauthorized: authentication required"),
        "{stderr}"
    );
    assert!(!stderr.contains("error getting credentials"), "{stderr}");
    assert_eq!(client.take_actions(), [format!("get {host}")]);
}
