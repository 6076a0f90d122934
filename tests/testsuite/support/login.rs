//! What the `login_{interop,files,secrets}` tests share: a sandbox in which `apko`,
//! `docker` and `skopeo` run with their own HOME, Docker config, XDG directories and PATH, so
//! the machine's credential files are never read or written.

use apko_credential::Program;
use base64::Engine;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub use super::{APKO, BASE_IMAGE, Out, auth_get_line, basic, our_helper};

/// docker-credential-apko on the kernel keyring, called directly (not through apko).
pub fn keyutils_helper() -> Program {
    Program::new(our_helper().to_str().unwrap()).env("DOCKER_CREDENTIAL_APKO_BACKEND", "keyutils")
}

/// A private directory tree: `home/`, `run/` (XDG_RUNTIME_DIR), `xdg/` (XDG_CONFIG_HOME),
/// `bin/` (first on PATH, holding `docker-credential-apko`) and `docker/` (the Docker config
/// directory, created by whoever writes it first).
pub struct Sandbox {
    /// The root.
    pub dir: tempfile::TempDir,
    /// First on PATH.
    pub bin: PathBuf,
    /// Passed as `--config` to apko and as `DOCKER_CONFIG` to everything.
    pub config_dir: PathBuf,
    path: String,
    env: Vec<(String, String)>,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    /// A fresh sandbox; `docker/` does not exist yet.
    pub fn new() -> Sandbox {
        let dir = tempfile::Builder::new().prefix("login").tempdir().unwrap();
        let bin = dir.path().join("bin");
        for sub in ["bin", "home", "run", "xdg"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        std::os::unix::fs::symlink(our_helper(), bin.join("docker-credential-apko")).unwrap();
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
        Sandbox {
            config_dir: dir.path().join("docker"),
            bin,
            path,
            dir,
            env: Vec::new(),
        }
    }

    /// Adds variables (a helper's D-Bus address, a pass store) to every command.
    pub fn with_env(mut self, env: &[(String, String)]) -> Sandbox {
        self.env.extend(env.iter().cloned());
        self
    }

    /// `docker/config.json`.
    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("config.json")
    }

    /// Writes `docker/config.json`.
    pub fn write_config(&self, json: &serde_json::Value) {
        std::fs::create_dir_all(&self.config_dir).unwrap();
        std::fs::write(self.config_file(), json.to_string()).unwrap();
    }

    /// `docker/config.json`, parsed.
    pub fn read_config(&self) -> serde_json::Value {
        let text = std::fs::read(self.config_file()).unwrap();
        serde_json::from_slice(&text).unwrap_or_else(|e| {
            panic!(
                "{} is not JSON ({e}): {}",
                self.config_file().display(),
                String::from_utf8_lossy(&text)
            )
        })
    }

    /// `XDG_RUNTIME_DIR` as the commands see it.
    pub fn runtime_dir(&self) -> PathBuf {
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k == "XDG_RUNTIME_DIR")
            .map(|(_, v)| PathBuf::from(v))
            .unwrap_or_else(|| self.dir.path().join("run"))
    }

    /// `program` with the sandbox's environment.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let root = self.dir.path();
        let mut cmd = Command::new(program);
        cmd.env("HOME", root.join("home"))
            .env("DOCKER_CONFIG", &self.config_dir)
            .env("XDG_RUNTIME_DIR", root.join("run"))
            .env("XDG_CONFIG_HOME", root.join("xdg"))
            .env("PATH", &self.path)
            .env("DOCKER_CREDENTIAL_APKO_BACKEND", "keyutils")
            // Never a machine's daemon: docker logs in client-side when none answers.
            .env(
                "DOCKER_HOST",
                format!("unix://{}", root.join("no-daemon.sock").display()),
            );
        for var in [
            "REGISTRY_AUTH_FILE",
            "APKO_AUTH",
            "HTTP_AUTH",
            "DOCKER_AUTH_CONFIG",
            "DOCKER_CONTEXT",
            "DOCKER_CERT_PATH",
            "DOCKER_TLS_VERIFY",
            "DBUS_SESSION_BUS_ADDRESS",
            "GNUPGHOME",
            "PASSWORD_STORE_DIR",
        ] {
            cmd.env_remove(var);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// `apko --config docker/ ARGS…` with `stdin` as its input.
    pub fn apko(&self, args: &[&str], stdin: &str) -> Out {
        let mut cmd = self.command(APKO);
        cmd.arg("--config").arg(&self.config_dir).args(args);
        run(&mut cmd, stdin)
    }

    /// `apko login SERVER -u USER --password-stdin --no-verify` (no registry there).
    pub fn login(&self, server: &str, user: &str, password: &str) -> Out {
        self.apko(&login_args(server, user), &format!("{password}\n"))
    }

    /// [`Sandbox::login`], started but not waited for.
    pub fn spawn_login(&self, server: &str, user: &str, password: &str) -> Child {
        let mut child = self
            .command(APKO)
            .arg("--config")
            .arg(&self.config_dir)
            .args(login_args(server, user))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes())
            .unwrap();
        child
    }

    /// `docker ARGS…`.
    pub fn docker(&self, args: &[&str], stdin: &str) -> Out {
        let docker = crate::support::require(
            "docker",
            "docker.io (the docker CLI; the machine image ships it)",
        );
        run(self.command(docker).args(args), stdin)
    }

    /// `skopeo ARGS…`.
    pub fn skopeo(&self, args: &[&str]) -> Out {
        let skopeo = crate::support::require("skopeo", "skopeo");
        run(self.command(skopeo).args(args), "")
    }

    /// `skopeo inspect --raw` of `image` with `authfile` as its only credentials: containers/image
    /// also reads `$DOCKER_CONFIG/config.json`, so that points at an empty directory here.
    pub fn skopeo_inspect(&self, authfile: &Path, image: &str) -> Out {
        let skopeo = crate::support::require("skopeo", "skopeo");
        let nothing = self.dir.path().join("no-docker-config");
        std::fs::create_dir_all(&nothing).unwrap();
        let mut cmd = self.command(skopeo);
        cmd.env("DOCKER_CONFIG", &nothing).args([
            "inspect",
            "--raw",
            "--authfile",
            authfile.to_str().unwrap(),
            "--tls-verify=false",
            image,
        ]);
        run(&mut cmd, "")
    }

    /// Pushes the shared test image to `host/apko-base:1` with skopeo, authenticated by a
    /// containers auth file of its own (not by anything apko wrote), and returns the image
    /// index the registry now serves, byte for byte.
    pub fn push_test_image(&self, host: &str) -> Vec<u8> {
        let layout = self.dir.path().join("layout");
        let src = Path::new(BASE_IMAGE);
        assert!(
            src.join("index.json").is_file(),
            "the shared test data is missing: {} (see /work/shared/testdata/README.md)",
            src.display()
        );
        // The original index.json lists the two manifests without a tag; here it becomes a blob
        // of a new layout tagged `base`, whose other blobs are symlinks to the originals.
        let blobs = layout.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        for entry in std::fs::read_dir(src.join("blobs/sha256")).unwrap() {
            let entry = entry.unwrap();
            std::os::unix::fs::symlink(entry.path(), blobs.join(entry.file_name())).unwrap();
        }
        std::fs::copy(src.join("oci-layout"), layout.join("oci-layout")).unwrap();
        let index = std::fs::read(src.join("index.json")).unwrap();
        let sum = run(Command::new("sha256sum").arg(src.join("index.json")), "").ok("sha256sum");
        let hex = sum.stdout.split_whitespace().next().unwrap().to_string();
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
        std::fs::write(layout.join("index.json"), top.to_string()).unwrap();
        let authfile = self.dir.path().join("push-auth.json");
        std::fs::write(
            &authfile,
            serde_json::json!({"auths": {host: {"auth": basic("testuser", "testpass")}}})
                .to_string(),
        )
        .unwrap();
        self.skopeo(&[
            "copy",
            "--all",
            "--dest-authfile",
            authfile.to_str().unwrap(),
            "--dest-tls-verify=false",
            &format!("oci:{}:base", layout.display()),
            &format!("docker://{host}/apko-base:1"),
        ])
        .ok("skopeo copy (pushing the test image)");
        index
    }
}

/// Runs `cmd` with `stdin` as its input.
pub fn run(cmd: &mut Command, stdin: &str) -> Out {
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

/// Keeps `host` out of docker-credential-apko's kernel keyring before and after a test, also
/// when it fails: the keyring is shared by every test of the user and outlives the test.
pub struct Forget(pub String);

impl Forget {
    /// Erases `host` now and on drop.
    pub fn new(host: &str) -> Forget {
        keyutils_helper().erase(host).unwrap();
        Forget(host.to_string())
    }
}

impl Drop for Forget {
    fn drop(&mut self) {
        let _ = keyutils_helper().erase(&self.0);
    }
}

/// The warning `apko login` prints when it writes a secret into the file.
pub fn unencrypted_warning(path: &Path) -> String {
    format!(
        "WARNING! Your credentials are stored unencrypted in '{}'.\n\
         Configure a credential helper to remove this warning (\"credsStore\": \"apko\" uses docker-credential-apko).\n\
         See https://docs.docker.com/go/credential-store/\n",
        path.display()
    )
}

fn login_args<'a>(server: &'a str, user: &'a str) -> [&'a str; 6] {
    [
        "login",
        server,
        "-u",
        user,
        "--password-stdin",
        "--no-verify",
    ]
}
