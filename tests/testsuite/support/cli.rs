//! Shared by the registry, build and leak tests: the `apko` binary in an isolated environment (its own
//! HOME, Docker config directory and PATH for helpers; no credential variables inherited).

pub use super::our_helper;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// An isolated place to run `apko`.
pub struct Cli {
    pub dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

/// What a run printed and returned.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Panics with everything unless it exited 0.
    pub fn ok(self) -> Out {
        assert_eq!(self.code, 0, "apko failed: {self:#?}");
        self
    }
}

impl Cli {
    pub fn new() -> Cli {
        let dir = tempfile::Builder::new().prefix("cli").tempdir().unwrap();
        std::fs::create_dir(dir.path().join("bin")).unwrap();
        std::fs::create_dir(dir.path().join("docker")).unwrap();
        Cli {
            dir,
            env: Vec::new(),
        }
    }

    /// A path inside the temp dir.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The Docker config directory (`DOCKER_CONFIG`).
    pub fn docker_config(&self) -> PathBuf {
        self.path("docker")
    }

    /// Writes `DOCKER_CONFIG/config.json`.
    pub fn config_json(&self, json: &str) {
        std::fs::write(self.docker_config().join("config.json"), json).unwrap();
    }

    /// Reads `DOCKER_CONFIG/config.json`.
    pub fn read_config_json(&self) -> String {
        std::fs::read_to_string(self.docker_config().join("config.json")).unwrap()
    }

    /// A fake helper `docker-credential-<name>` on the PATH apko gets.
    pub fn helper(&self, name: &str, body: &str) {
        crate::support::fake_helper(&self.path("bin"), name, body);
    }

    /// A helper that logs `ACTION STDIN` lines to `<name>.log` and answers `get` with `json`
    /// (`%s` is replaced by the server asked for).
    pub fn recording_helper(&self, name: &str, json: &str) {
        let log = self.path(&format!("{name}.log"));
        self.helper(
            name,
            &format!(
                "in=$(cat)\nprintf '%s %s\\n' \"$1\" \"$in\" >> '{}'\n\
                 [ \"$1\" = get ] && printf '{}\\n' \"$in\"\nexit 0",
                log.display(),
                json.replace('\'', "'\\''")
            ),
        );
    }

    /// The lines a recording helper logged.
    pub fn helper_log(&self, name: &str) -> Vec<String> {
        std::fs::read_to_string(self.path(&format!("{name}.log")))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Sets a variable for every later run.
    pub fn env(&mut self, key: &str, value: &str) {
        self.env.push((key.to_string(), value.to_string()));
    }

    /// A file in the temp dir with `text`; its path.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// An `--auth-file` giving `host` the test registry's account (one file per host); its
    /// path.
    pub fn auth_file(&self, host: &str) -> String {
        self.file(
            &format!("auth-{}.txt", host.replace(':', "_")),
            &format!("{host}=testuser:testpass\n"),
        )
        .display()
        .to_string()
    }

    /// `apko push` of apko's two-arch base image to `tag` with the `--auth-file` `auth`.
    pub fn push_base(&self, tag: &str, auth: &str, extra: &[&str]) -> Out {
        let base = crate::support::layout::base_image();
        let mut args = vec!["push", base.to_str().unwrap(), tag, "--auth-file", auth];
        args.extend(extra);
        self.run(&args)
    }

    pub fn run(&self, args: &[&str]) -> Out {
        self.run_stdin(args, "")
    }

    pub fn run_stdin(&self, args: &[&str], stdin: &str) -> Out {
        let path = format!(
            "{}:{}",
            self.path("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_apko"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            .env("XDG_CACHE_HOME", self.dir.path().join(".cache"))
            .env("DOCKER_CONFIG", self.docker_config())
            .env("PATH", path);
        for var in [
            "APKO_AUTH",
            "HTTP_AUTH",
            "DOCKER_AUTH_CONFIG",
            "GITHUB_TOKEN",
            "GITHUB_ACTOR",
            "REGISTRY_AUTH_FILE",
            "XDG_RUNTIME_DIR",
            "XDG_CONFIG_HOME",
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
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run apko");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// `sha256:<hex>` of a file.
pub fn file_digest(path: &Path) -> String {
    crate::support::layout::sha256(&std::fs::read(path).unwrap())
}

/// The base image's `index.json` digest: what pushing it yields.
pub fn base_index_digest() -> String {
    file_digest(&crate::support::layout::base_image().join("index.json"))
}

/// Every blob file of a layout: (name, bytes), sorted.
pub fn blobs(layout: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(layout.join("blobs/sha256"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The base image's blobs (manifests, configs, layers) and its index, as a pull writes them.
pub fn base_blobs() -> Vec<(String, Vec<u8>)> {
    let base = crate::support::layout::base_image();
    let mut out = blobs(&base);
    let index = std::fs::read(base.join("index.json")).unwrap();
    out.push((base_index_digest()[7..].to_string(), index));
    out.sort();
    out
}

/// A multi-thread runtime for tests that call the registry library directly.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A library client with the test registries' htpasswd credentials.
pub fn client() -> apko::registry::Client {
    apko::registry::Client::new(
        apko::registry::Options::default(),
        apko::registry::Credentials::Fixed(Some(apko::auth::Credential::Basic {
            username: "testuser".into(),
            password: "testpass".to_string().into(),
        })),
    )
    .unwrap()
}

/// Pulls `reference` into a new layout beside `layout` and asserts its index and every blob
/// came back byte for byte.
pub fn assert_pulls_back(
    rt: &tokio::runtime::Runtime,
    client: &apko::registry::Client,
    reference: &str,
    layout: &crate::support::layout::RandomLayout,
) {
    let pulled = layout.dir.with_extension("pulled");
    let reference = apko::registry::reference::Reference::parse(reference).unwrap();
    rt.block_on(apko::registry::pull::pull_image(
        client,
        &reference,
        &[],
        &pulled,
        None,
    ))
    .unwrap();
    assert_eq!(
        std::fs::read(pulled.join("index.json")).unwrap(),
        layout.index
    );
    for (digest, bytes) in &layout.blobs {
        assert_eq!(
            &std::fs::read(pulled.join("blobs/sha256").join(&digest[7..])).unwrap(),
            bytes,
            "{digest}"
        );
    }
}

/// Push options that send any blob over 1 MiB in 1 MiB PATCH chunks.
pub fn one_mib_chunks() -> apko::registry::push::PushOptions {
    apko::registry::push::PushOptions {
        upload: apko::registry::blob::UploadOptions {
            monolithic_max: 1 << 20,
            chunk_size: 1 << 20,
        },
        mount_from: Vec::new(),
    }
}
