//! docker-credential-apko serving the real Go ecosystem, and the real Go ecosystem serving
//! apko, against Debian's htpasswd `docker-registry` on loopback:
//!
//! - real apko (`apko-go`, chainguard apko v1.2.39) publishing with the secret in
//!   docker-credential-apko, as `credsStore` and as a `credHelpers` entry, on the kernel keyring
//!   and on the Secret Service;
//! - crane (go-containerregistry v0.22.1) reading docker-credential-apko (`auth get`, push,
//!   pull) and what `apko login` wrote, and crane as a credential helper for apko;
//! - oras (v1.3.6) logging in, pushing and pulling through docker-credential-apko;
//! - docker-credential-pass and docker-credential-secretservice v0.9.13 (upstream's current
//!   helpers) as apko's `credsStore` and `credHelpers` entry.
//!
//! The Go peers are built by `tests/peers.sh`; a missing peer or component fails the test.

use crate::support::layout::{base_image, sha256};
use crate::support::{
    APKO, APKO_CLI, Out, PassStore, Registry, SecretService, auth_get_line, basic, our_helper,
    peer, peers_bin,
};
use apko_credential::{Credentials, Program};

use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The htpasswd registry's account.
const USER: &str = "testuser";
const PASS: &str = "testpass";
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

impl Out {
    /// The password, in the forms it travels in, appears in neither stream.
    fn assert_no_password(&self, what: &str) {
        for needle in [PASS.to_string(), basic(USER, PASS), "dGVzdHBhc3M".into()] {
            assert!(
                !self.stdout.contains(&needle) && !self.stderr.contains(&needle),
                "{what} printed {needle:?}: {self:#?}"
            );
        }
    }
}

fn run(cmd: &mut Command, stdin: &str) -> Out {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let mut input = child.stdin.take().unwrap();
    // A program that does not read its stdin may have exited already.
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    let out = child.wait_with_output().unwrap();
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A private tree in which every tool runs: `home/`, `run/`, `xdg/`, `tmp/`, `bin/` (first on
/// PATH, holding `docker-credential-apko`; the Go peers' directory comes next) and `docker/`
/// (`DOCKER_CONFIG`). `vars` (the backend, a D-Bus address, a pass store) go to every command.
struct Env {
    dir: tempfile::TempDir,
    vars: Vec<(String, String)>,
    /// Keys erased from docker-credential-apko now and on drop (the kernel keyring is shared
    /// by every test of the user and outlives the test).
    forget: Vec<String>,
}

impl Env {
    fn new(vars: &[(String, String)]) -> Env {
        let dir = tempfile::Builder::new().prefix("eco").tempdir().unwrap();
        for sub in ["bin", "home", "run", "xdg", "tmp", "docker"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        std::os::unix::fs::symlink(our_helper(), dir.path().join("bin/docker-credential-apko"))
            .unwrap();
        Env {
            dir,
            vars: vars.to_vec(),
            forget: Vec::new(),
        }
    }

    /// docker-credential-apko on the kernel keyring.
    fn keyutils() -> Env {
        Env::new(&[("DOCKER_CREDENTIAL_APKO_BACKEND".into(), "keyutils".into())])
    }

    /// docker-credential-apko on `service`.
    fn secret_service(service: &SecretService) -> Env {
        let mut vars = service.env.clone();
        vars.push((
            "DOCKER_CREDENTIAL_APKO_BACKEND".into(),
            "secret-service".into(),
        ));
        Env::new(&vars)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn config_dir(&self) -> PathBuf {
        self.path("docker")
    }

    fn write_config(&self, config: &serde_json::Value) {
        std::fs::write(self.config_dir().join("config.json"), config.to_string()).unwrap();
    }

    fn read_config(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.config_dir().join("config.json")).unwrap())
            .unwrap()
    }

    /// A Docker config directory `name/` holding only `auths` for the registry's account:
    /// credentials that do not go through any helper, to check what landed.
    fn plain_auths(&self, name: &str, host: &str) -> PathBuf {
        let dir = self.path(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("config.json"),
            json!({"auths": {host: {"auth": basic(USER, PASS)}}}).to_string(),
        )
        .unwrap();
        dir
    }

    /// An empty Docker config directory: anonymous.
    fn no_credentials(&self) -> PathBuf {
        let dir = self.path("anonymous");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.json"), "{}").unwrap();
        dir
    }

    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let root = self.dir.path();
        let mut cmd = Command::new(program);
        cmd.current_dir(root)
            .env("HOME", root.join("home"))
            .env("DOCKER_CONFIG", self.config_dir())
            .env("XDG_RUNTIME_DIR", root.join("run"))
            .env("XDG_CONFIG_HOME", root.join("xdg"))
            .env("XDG_CACHE_HOME", root.join("home/.cache"))
            .env("TMPDIR", root.join("tmp"))
            .env(
                "PATH",
                crate::support::path_with_peers(&[&root.join("bin")]),
            );
        for var in [
            "REGISTRY_AUTH_FILE",
            "APKO_AUTH",
            "HTTP_AUTH",
            "DOCKER_AUTH_CONFIG",
            "DOCKER_CONTEXT",
            "DOCKER_HOST",
            "DBUS_SESSION_BUS_ADDRESS",
            "GNUPGHOME",
            "PASSWORD_STORE_DIR",
            "GITHUB_TOKEN",
            "SSL_CERT_FILE",
            "SSL_CERT_DIR",
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "http_proxy",
            "https_proxy",
            "ALL_PROXY",
        ] {
            cmd.env_remove(var);
        }
        for (k, v) in &self.vars {
            cmd.env(k, v);
        }
        cmd
    }

    fn run(&self, program: impl AsRef<std::ffi::OsStr>, args: &[&str], stdin: &str) -> Out {
        run(self.command(program).args(args), stdin)
    }

    /// Our `apko ARGS…` (its config from `DOCKER_CONFIG`).
    fn apko(&self, args: &[&str], stdin: &str) -> Out {
        self.run(APKO, args, stdin)
    }

    /// The Go peer `name` (`crane`, `oras`, `apko-go`).
    fn peer(&self, name: &str, args: &[&str], stdin: &str) -> Out {
        self.run(peer(name), args, stdin)
    }

    /// A helper program (a path) with this environment, called directly.
    fn helper(&self, path: &Path) -> Program {
        self.vars
            .iter()
            .fold(Program::new(path.to_str().unwrap()), |p, (k, v)| {
                p.env(k.clone(), v.clone())
            })
    }

    /// docker-credential-apko on this environment's backend.
    fn ours(&self) -> Program {
        self.helper(&our_helper())
    }

    /// Erases `key` from docker-credential-apko now and when the test ends.
    fn forget(&mut self, key: &str) {
        self.ours().erase(key).unwrap();
        self.forget.push(key.to_string());
    }

    /// `docker-credential-apko store` with the payload on stdin, as any client stores.
    fn store_in_ours(&self, host: &str) {
        let payload = json!({"ServerURL": host, "Username": USER, "Secret": PASS}).to_string();
        let out = self.run(our_helper(), &["store"], &payload);
        assert_eq!(
            (out.code, out.stdout.as_str(), out.stderr.as_str()),
            (Some(0), "", ""),
            "docker-credential-apko store"
        );
    }

    /// What docker-credential-apko answers for `host`, as (username, secret).
    fn ours_get(&self, host: &str) -> Option<(String, String)> {
        self.ours()
            .get(host)
            .unwrap()
            .map(|c| (c.username.clone(), c.secret.expose().clone()))
    }

    /// `apko login HOST -u testuser --password-stdin`, checked against the registry.
    fn apko_login(&self, host: &str) {
        let out = self.apko(
            &["login", host, "-u", USER, "--password-stdin"],
            &format!("{PASS}\n"),
        );
        assert_eq!(out.code, Some(0), "apko login: {out:#?}");
        assert_eq!(out.stdout, "Login Succeeded\n");
        assert_eq!(out.stderr, "");
    }

    /// `crane manifest REF` with only `auths` credentials: the bytes the registry serves.
    fn manifest(&self, host: &str, reference: &str) -> Vec<u8> {
        let auths = self.plain_auths("verify-auths", host);
        let out = run(
            self.command(peer("crane"))
                .env("DOCKER_CONFIG", &auths)
                .args(["manifest", reference]),
            "",
        )
        .ok("crane manifest");
        out.stdout.into_bytes()
    }

    /// An anonymous `crane manifest HOST/REPO:TAG` is refused by the registry.
    fn assert_anonymous_refused(&self, host: &str, repo: &str, tag: &str) {
        let out = run(
            self.command(peer("crane"))
                .env("DOCKER_CONFIG", self.no_credentials())
                .args(["manifest", &format!("{host}/{repo}:{tag}")]),
            "",
        );
        assert_eq!(out.code, Some(1), "{out:#?}");
        assert_eq!(out.stdout, "");
        assert_eq!(
            out.stderr,
            format!(
                "Error: fetching manifest {host}/{repo}:{tag}: GET http://{host}/v2/{repo}/manifests/{tag}: \
                 UNAUTHORIZED: authentication required; [map[Action:pull Class: Name:{repo} Type:repository]]\n"
            )
        );
    }

    /// Real apko publishes its own test config (x86_64 only) to `HOST/REPO:1` with whatever
    /// credentials the config gives it; checks the index landed and returns its digest.
    fn real_apko_publish(&self, host: &str, repo: &str) -> String {
        let work = self.path(&format!("work-{repo}"));
        std::fs::create_dir(&work).unwrap();
        std::os::unix::fs::symlink(APKO_CLI, work.join("testdata")).unwrap();
        let cache = self.path("apk-cache");
        let tag = format!("{host}/{repo}:1");
        let out = self.peer(
            "apko-go",
            &[
                "-C",
                work.to_str().unwrap(),
                "publish",
                "testdata/apko.yaml",
                &tag,
                "--arch",
                "x86_64",
                "--cache-dir",
                cache.to_str().unwrap(),
                "--log-level",
                "debug",
            ],
            "",
        );
        assert_eq!(out.code, Some(0), "apko-go publish: {out:#?}");
        out.assert_no_password("apko-go publish");
        assert!(
            out.stderr
                .contains(&format!(" INFO publishing index tag {tag}\n")),
            "{out:#?}"
        );
        let digest = out
            .stdout
            .strip_prefix(&format!("{host}/{repo}@"))
            .and_then(|d| d.strip_suffix('\n'))
            .unwrap_or_else(|| panic!("apko-go publish printed {:?}", out.stdout))
            .to_string();
        assert_digest(&digest);

        // What the registry serves under the tag is that index: one linux/amd64 image.
        let index = self.manifest(host, &tag);
        assert_eq!(sha256(&index), digest);
        let index: serde_json::Value = serde_json::from_slice(&index).unwrap();
        assert_eq!(
            index["mediaType"], "application/vnd.oci.image.index.v1+json",
            "{index:#}"
        );
        let manifests = index["manifests"].as_array().unwrap();
        assert_eq!(manifests.len(), 1, "{index:#}");
        assert_eq!(
            manifests[0]["platform"],
            json!({"architecture": "amd64", "os": "linux"})
        );
        self.assert_anonymous_refused(host, repo, "1");
        digest
    }

    /// Our `apko push` of the shared two-arch base image to `HOST/REPO:1`, and `apko pull` of
    /// it back, both with the credentials the config gives them.
    fn apko_push_and_pull(&self, host: &str, repo: &str) {
        let digest = base_index_digest();
        let reference = format!("{host}/{repo}@{digest}\n");
        let tag = format!("{host}/{repo}:1");
        let out = self
            .apko(&["push", base_image().to_str().unwrap(), &tag], "")
            .ok("apko push");
        assert_eq!(out.stdout, reference);
        out.assert_no_password("apko push");
        let pulled = self.path(&format!("pulled-{repo}"));
        let out = self
            .apko(&["pull", &tag, pulled.to_str().unwrap()], "")
            .ok("apko pull");
        assert_eq!(out.stdout, reference);
        assert_eq!(
            sha256(&std::fs::read(pulled.join("index.json")).unwrap()),
            digest
        );
        assert_eq!(sha256(&self.manifest(host, &tag)), digest);
        self.assert_anonymous_refused(host, repo, "1");
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for key in &self.forget {
            let _ = self.ours().erase(key);
        }
    }
}

fn assert_digest(digest: &str) {
    let hex = digest
        .strip_prefix("sha256:")
        .unwrap_or_else(|| panic!("{digest}"));
    assert!(
        hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        "{digest}"
    );
}

/// `sha256:…` of the shared base image's index: what pushing it yields.
fn base_index_digest() -> String {
    sha256(&std::fs::read(base_image().join("index.json")).unwrap())
}

// ---------------------------------------------------------------------------------------------
// 1. Real apko publishing with the secret in docker-credential-apko.

/// Both ways of naming our helper, with the secret put there both ways: `apko login` under
/// `credsStore`, `docker-credential-apko store` under a `credHelpers` entry (and then the other
/// way round, so each config form meets each way of storing).
fn real_apko_publishes_through_docker_credential_apko(mut env: Env, login_first: bool) {
    let registry = Registry::start_htpasswd();
    let host = registry.host.as_str();
    env.forget(host);

    // Without the secret, real apko is refused and says so.
    env.write_config(&json!({"credsStore": "apko"}));
    let work = env.path("work-refused");
    std::fs::create_dir(&work).unwrap();
    std::os::unix::fs::symlink(APKO_CLI, work.join("testdata")).unwrap();
    let out = env.peer(
        "apko-go",
        &[
            "-C",
            work.to_str().unwrap(),
            "publish",
            "testdata/apko.yaml",
            &format!("{host}/refused:1"),
            "--arch",
            "x86_64",
            "--cache-dir",
            env.path("apk-cache").to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert_eq!(out.stdout, "");
    let refused = format!(
        "Error: publishing images from index: HEAD http://{host}/v2/refused/manifests/sha256:"
    );
    assert!(
        out.stderr.contains(&refused)
            && out.stderr.contains(
                ": unexpected status code 401 Unauthorized (HEAD responses have no body, use GET for details)\n"
            ),
        "{out:#?}"
    );

    // credsStore: apko.
    if login_first {
        env.apko_login(host);
        assert_eq!(
            env.read_config(),
            json!({"auths": {host: {}}, "credsStore": "apko"})
        );
    } else {
        env.store_in_ours(host);
    }
    assert_eq!(env.ours_get(host), Some((USER.into(), PASS.into())));
    let first = env.real_apko_publish(host, "via-creds-store");

    // credHelpers[host]: apko, no credsStore.
    env.forget(host);
    env.write_config(&json!({"credHelpers": {host: "apko"}}));
    if login_first {
        env.store_in_ours(host);
    } else {
        env.apko_login(host);
        assert_eq!(
            env.read_config(),
            json!({"auths": {host: {}}, "credHelpers": {host: "apko"}})
        );
    }
    assert_eq!(env.ours_get(host), Some((USER.into(), PASS.into())));
    let second = env.real_apko_publish(host, "via-cred-helpers");
    // The same config, the same build date: the same index.
    assert_eq!(first, second);
}

#[test]
fn real_apko_publishes_with_the_secret_in_docker_credential_apko_on_the_kernel_keyring() {
    real_apko_publishes_through_docker_credential_apko(Env::keyutils(), true);
}

#[test]
fn real_apko_publishes_with_the_secret_in_docker_credential_apko_on_the_secret_service() {
    let service = SecretService::start();
    real_apko_publishes_through_docker_credential_apko(Env::secret_service(&service), false);
}

#[test]
fn real_apko_publishes_the_bundled_example() {
    let registry = Registry::start_htpasswd();
    let host = registry.host.as_str();
    let mut env = Env::keyutils();
    env.forget(host);
    env.write_config(&json!({"credsStore": "apko"}));
    env.store_in_ours(host);
    let tag = format!("{host}/hello:1");
    let out = env.peer(
        "apko-go",
        &[
            "-C",
            ROOT,
            "publish",
            "examples/hello/apko.yaml",
            &tag,
            "--arch",
            "x86_64",
            "--cache-dir",
            env.path("apk-cache").to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(out.code, Some(0), "apko-go publish: {out:#?}");
    out.assert_no_password("apko-go publish");
    let digest = out
        .stdout
        .strip_prefix(&format!("{host}/hello@"))
        .and_then(|d| d.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("{out:#?}"))
        .to_string();
    assert_eq!(sha256(&env.manifest(host, &tag)), digest);
    env.assert_anonymous_refused(host, "hello", "1");
}

// ---------------------------------------------------------------------------------------------
// 2. crane.

#[test]
fn crane_auth_get_answers_with_what_docker_credential_apko_holds() {
    let mut env = Env::keyutils();
    let nonce = std::process::id();
    let host = format!("crane-get-{nonce}.example:5000");
    let token_host = format!("crane-token-{nonce}.example");
    let missing = format!("crane-missing-{nonce}.example");
    env.forget(&host);
    env.forget(&token_host);
    env.ours()
        .store(&Credentials::new(&host, "alice", "pa\"ss\\wörd"))
        .unwrap();
    env.ours()
        .store(&Credentials::new(&token_host, "<token>", "refresh-1"))
        .unwrap();
    for config in [
        json!({"credsStore": "apko"}),
        json!({"credHelpers": {&host: "apko", &token_host: "apko", &missing: "apko"}}),
    ] {
        env.write_config(&config);
        let out = env
            .peer("crane", &["auth", "get", &host], "")
            .ok("crane auth get");
        assert_eq!(
            out.stdout, "{\"Username\":\"alice\",\"Secret\":\"pa\\\"ss\\\\wörd\"}\n",
            "{config}"
        );
        assert_eq!(out.stderr, "");
        // crane reads an identity token as one and writes it back in helper form.
        let out = env
            .peer("crane", &["auth", "get", &token_host], "")
            .ok("crane auth get (token)");
        assert_eq!(
            out.stdout,
            "{\"Username\":\"\\u003ctoken\\u003e\",\"Secret\":\"refresh-1\"}\n"
        );
        // A miss: our helper's not-found answer is anonymous to crane.
        let out = env.peer("crane", &["auth", "get", &missing], "");
        assert_eq!(
            (out.code, out.stdout.as_str(), out.stderr.as_str()),
            (Some(1), "credentials not found in native keychain\n", ""),
            "{config}"
        );
    }
}

#[test]
fn crane_pushes_and_pulls_with_what_apko_login_stored_in_docker_credential_apko() {
    let registry = Registry::start_htpasswd();
    let host = registry.host.as_str();
    let mut env = Env::keyutils();
    env.forget(host);
    env.write_config(&json!({"credsStore": "apko"}));
    env.apko_login(host);

    let out = env
        .peer("crane", &["auth", "get", host], "")
        .ok("crane auth get");
    assert_eq!(
        out.stdout,
        format!("{{\"Username\":\"{USER}\",\"Secret\":\"{PASS}\"}}\n")
    );

    let digest = base_index_digest();
    let tag = format!("{host}/crane:1");
    let out = env
        .peer(
            "crane",
            &["push", "--index", base_image().to_str().unwrap(), &tag],
            "",
        )
        .ok("crane push");
    assert_eq!(out.stdout, format!("{host}/crane@{digest}\n"));
    out.assert_no_password("crane push");
    let pulled = env.path("crane-pulled");
    let out = env
        .peer(
            "crane",
            &["pull", "--format", "oci", &tag, pulled.to_str().unwrap()],
            "",
        )
        .ok("crane pull");
    assert_eq!(out.stdout, "");
    out.assert_no_password("crane pull");
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(pulled.join("index.json")).unwrap()).unwrap();
    assert_eq!(
        index["manifests"][0]["digest"],
        digest.as_str(),
        "{index:#}"
    );
    // Every blob of the base image came back unchanged.
    for entry in std::fs::read_dir(base_image().join("blobs/sha256")).unwrap() {
        let entry = entry.unwrap();
        assert_eq!(
            std::fs::read(pulled.join("blobs/sha256").join(entry.file_name())).unwrap(),
            std::fs::read(entry.path()).unwrap()
        );
    }
    // crane's push is what apko pulls, with the same helper.
    let ours = env.path("apko-pulled");
    let out = env
        .apko(&["pull", &tag, ours.to_str().unwrap()], "")
        .ok("apko pull");
    assert_eq!(out.stdout, format!("{host}/crane@{digest}\n"));
    env.assert_anonymous_refused(host, "crane", "1");

    // After `apko logout`, crane has nothing.
    let out = env.apko(&["logout", host], "").ok("apko logout");
    assert_eq!(
        out.stdout,
        format!("Removing login credentials for {host}\n")
    );
    let out = env.peer("crane", &["manifest", &tag], "");
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(
        out.stderr.contains("UNAUTHORIZED: authentication required"),
        "{out:#?}"
    );
}

#[test]
fn crane_reads_what_apko_login_wrote_into_auths_without_a_helper() {
    let registry = Registry::start_htpasswd();
    let host = registry.host.as_str();
    let env = Env::keyutils();
    let out = env
        .apko(
            &["login", host, "-u", USER, "--password-stdin"],
            &format!("{PASS}\n"),
        )
        .ok("apko login");
    assert_eq!(out.stdout, "Login Succeeded\n");
    assert_eq!(
        env.read_config(),
        json!({"auths": {host: {"auth": basic(USER, PASS)}}})
    );
    let out = env
        .peer("crane", &["auth", "get", host], "")
        .ok("crane auth get");
    assert_eq!(
        out.stdout,
        format!("{{\"Username\":\"{USER}\",\"Secret\":\"{PASS}\"}}\n")
    );
    let tag = format!("{host}/crane-auths:1");
    let out = env
        .peer(
            "crane",
            &["push", "--index", base_image().to_str().unwrap(), &tag],
            "",
        )
        .ok("crane push");
    assert_eq!(
        out.stdout,
        format!("{host}/crane-auths@{}\n", base_index_digest())
    );
}

/// `docker-credential-crane`: `crane auth get` (which reads the server from stdin, as the
/// helper `get` verb does) over crane's own Docker config.
fn crane_helper(env: &Env, crane_config: &Path) {
    let script = env.path("bin/docker-credential-crane");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nDOCKER_CONFIG='{}' exec '{}' auth \"$@\"\n",
            crane_config.display(),
            peer("crane").display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn crane_as_a_credential_helper_serves_apko_auth_get_push_and_pull() {
    let registry = Registry::start_htpasswd();
    let host = registry.host.as_str();
    let env = Env::keyutils();
    let crane_config = env.plain_auths("crane-config", host);
    crane_helper(&env, &crane_config);
    let missing = format!("crane-missing-{}.example", std::process::id());

    for (n, config) in [
        json!({"credHelpers": {host: "crane", &missing: "crane"}}),
        json!({"credsStore": "crane"}),
    ]
    .into_iter()
    .enumerate()
    {
        env.write_config(&config);
        let out = env.apko(&["auth", "get", host], "");
        assert_eq!(out.code, Some(0), "{config}: {out:#?}");
        assert_eq!(out.stdout, auth_get_line(host, USER, PASS));
        assert_eq!(out.stderr, "");
        // crane's miss is the protocol's not-found text: a miss for apko too.
        let out = env.apko(&["auth", "get", &missing], "");
        assert_eq!(
            (out.code, out.stdout.as_str(), out.stderr.as_str()),
            (Some(1), "credentials not found in native keychain\n", ""),
            "{config}"
        );
        env.apko_push_and_pull(host, &format!("via-crane-{n}"));
    }
}

// ---------------------------------------------------------------------------------------------
// 3. oras.

#[test]
fn oras_logs_in_pushes_and_pulls_through_docker_credential_apko() {
    let registry = Registry::start_htpasswd();
    let host = registry.host.as_str();
    let mut env = Env::keyutils();
    env.forget(host);
    env.write_config(&json!({"credsStore": "apko"}));
    let files = env.path("files");
    std::fs::create_dir(&files).unwrap();
    std::fs::write(files.join("a.txt"), "hello from oras\n").unwrap();
    let oras = |args: &[&str], dir: &Path, stdin: &str| {
        run(env.command(peer("oras")).current_dir(dir).args(args), stdin)
    };

    // Without credentials oras is refused.
    let tag = format!("{host}/oras:1");
    let out = oras(
        &["push", "--plain-http", &tag, "a.txt:text/plain"],
        &files,
        "",
    );
    assert_eq!(out.code, Some(1), "{out:#?}");

    // oras login stores with the config's credsStore, through our helper.
    let out = oras(
        &[
            "login",
            "--plain-http",
            host,
            "-u",
            USER,
            "--password-stdin",
        ],
        &files,
        &format!("{PASS}\n"),
    );
    assert_eq!(out.code, Some(0), "oras login: {out:#?}");
    assert_eq!(out.stdout, "Login Succeeded\n");
    out.assert_no_password("oras login");
    assert_eq!(env.ours_get(host), Some((USER.into(), PASS.into())));
    // oras adds no `auths` marker (docker and apko do).
    assert_eq!(env.read_config(), json!({"credsStore": "apko"}));
    let out = env.apko(&["auth", "get", host], "").ok("apko auth get");
    assert_eq!(out.stdout, auth_get_line(host, USER, PASS));

    let out = oras(
        &["push", "--plain-http", &tag, "a.txt:text/plain"],
        &files,
        "",
    );
    assert_eq!(out.code, Some(0), "oras push: {out:#?}");
    out.assert_no_password("oras push");
    assert!(
        out.stdout.contains(&format!("\nPushed [registry] {tag}\n")),
        "{out:#?}"
    );
    let digest = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Digest: "))
        .unwrap_or_else(|| panic!("{out:#?}"))
        .to_string();
    assert_digest(&digest);
    assert_eq!(sha256(&env.manifest(host, &tag)), digest);
    env.assert_anonymous_refused(host, "oras", "1");

    let pulled = env.path("pulled");
    std::fs::create_dir(&pulled).unwrap();
    let out = oras(&["pull", "--plain-http", &tag], &pulled, "");
    assert_eq!(out.code, Some(0), "oras pull: {out:#?}");
    assert!(
        out.stdout
            .ends_with(&format!("Pulled [registry] {tag}\nDigest: {digest}\n")),
        "{out:#?}"
    );
    assert_eq!(
        std::fs::read_to_string(pulled.join("a.txt")).unwrap(),
        "hello from oras\n"
    );

    // oras logout erases from our helper; then oras is refused; `apko login` (our side) brings
    // it back for oras.
    let out = oras(&["logout", host], &files, "");
    assert_eq!(out.code, Some(0), "oras logout: {out:#?}");
    assert_eq!(env.ours_get(host), None);
    let again = env.path("pulled-again");
    std::fs::create_dir(&again).unwrap();
    let out = oras(&["pull", "--plain-http", &tag], &again, "");
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(
        out.stderr.contains("Error: basic credential not found"),
        "{out:#?}"
    );
    env.apko_login(host);
    let out = oras(&["pull", "--plain-http", &tag], &again, "");
    assert_eq!(out.code, Some(0), "oras pull after apko login: {out:#?}");
    assert_eq!(
        std::fs::read_to_string(again.join("a.txt")).unwrap(),
        "hello from oras\n"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. docker-credential-helpers v0.9.13 serving apko.

/// `name` (`pass-0.9.13`, `secretservice-0.9.13`) as `credsStore` (secret put there by
/// `apko login`, removed by `apko logout`) and as a `credHelpers` entry (secret stored in the
/// helper directly): `apko auth get` and a real `apko push`/`pull`.
fn go_helper_serves_apko(name: &str, vars: &[(String, String)]) {
    let registry = Registry::start_htpasswd();
    let host = registry.host.as_str();
    let env = Env::new(vars);
    let real = env.helper(&peer(&format!("docker-credential-{name}")));

    env.write_config(&json!({"credsStore": name}));
    env.apko_login(host);
    assert_eq!(
        env.read_config(),
        json!({"auths": {host: {}}, "credsStore": name})
    );
    let got = real.get(host).unwrap().expect("apko login stored it");
    assert_eq!(
        (got.username.as_str(), got.secret.expose().as_str()),
        (USER, PASS)
    );
    let out = env.apko(&["auth", "get", host], "").ok("apko auth get");
    assert_eq!(out.stdout, auth_get_line(host, USER, PASS));
    assert_eq!(out.stderr, "");
    env.apko_push_and_pull(host, "via-creds-store");
    let out = env.apko(&["logout", host], "").ok("apko logout");
    assert_eq!(
        out.stdout,
        format!("Removing login credentials for {host}\n")
    );
    assert_eq!(out.stderr, "");
    assert!(real.get(host).unwrap().is_none());

    env.write_config(&json!({"credHelpers": {host: name}}));
    real.store(&Credentials::new(host, USER, PASS)).unwrap();
    let out = env.apko(&["auth", "get", host], "").ok("apko auth get");
    assert_eq!(out.stdout, auth_get_line(host, USER, PASS));
    env.apko_push_and_pull(host, "via-cred-helpers");
    real.erase(host).unwrap();
    // With the entry gone, the registry refuses apko.
    let out = env.apko(
        &[
            "push",
            base_image().to_str().unwrap(),
            &format!("{host}/gone:1"),
        ],
        "",
    );
    assert_eq!(out.code, Some(1), "{out:#?}");
}

#[test]
fn docker_credential_pass_0_9_13_serves_apko_as_creds_store_and_cred_helpers() {
    let store = PassStore::init();
    go_helper_serves_apko("pass-0.9.13", &store.env);
}

#[test]
fn docker_credential_secretservice_0_9_13_serves_apko_as_creds_store_and_cred_helpers() {
    let service = SecretService::start();
    go_helper_serves_apko("secretservice-0.9.13", &service.env);
}

#[test]
fn the_go_peers_are_the_pinned_versions() {
    let env = Env::keyutils();
    let out = env.peer("crane", &["version"], "").ok("crane version");
    assert_eq!(out.stdout, "v0.22.1\n");
    let out = env.peer("oras", &["version"], "").ok("oras version");
    assert!(out.stdout.starts_with("Version:    1.3.6\n"), "{out:#?}");
    let out = env.peer("apko-go", &["version"], "").ok("apko-go version");
    assert!(out.stdout.contains("GitVersion:    v1.2.39\n"), "{out:#?}");
    for name in ["pass", "secretservice"] {
        let out = env
            .run(
                peers_bin().join(format!("docker-credential-{name}-0.9.13")),
                &["version"],
                "",
            )
            .ok("version");
        assert_eq!(
            out.stdout,
            format!(
                "docker-credential-{name} (github.com/docker/docker-credential-helpers) v0.9.13\n"
            )
        );
    }
}
