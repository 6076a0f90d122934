//! Real components for tests, each started privately and stopped on drop:
//! `docker-credential-pass` over a throwaway gpg key, `docker-credential-secretservice` over a
//! gnome-keyring on its own D-Bus, Debian's `docker-registry` (htpasswd or token auth, plain
//! HTTP or TLS with a throwaway CA), a token server, tiny fake helpers written as shell
//! scripts, and a small HTTP server for what no real component can play.
//!
//! A missing component is a test failure with the package to install, never a skip.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub mod http;
pub mod layout;
pub mod leak;
mod registry;
pub mod tls;
pub mod token;

pub use registry::{Registry, RegistryAuth, RegistryConfig};

/// A secret used throughout the tests; it must never appear in an error, a log line or argv.
pub const SENTINEL: &str = "s3ntinel-7Qx9-DO-NOT-LEAK";

/// Fails the test unless `program` is on PATH, naming the Debian package that provides it.
pub fn require(program: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(program);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "{program} is not installed: this test needs the real component. \
         Run `bash tests/run.sh` (it installs Debian's {package}) or `apt-get install {package}`."
    );
}

/// Where `tests/peers.sh` links the Go peers: `$APKO_PEERS_BIN`, else the workspace's
/// `target/peers/bin`.
pub fn peers_bin() -> PathBuf {
    match std::env::var_os("APKO_PEERS_BIN") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/peers/bin"),
    }
}

/// Fails the test unless the Go peer `name` (`apko-go`, `crane`, `oras`,
/// `docker-credential-pass-0.9.13`, `docker-credential-secretservice-0.9.13`,
/// `docker-credential-wincred-0.9.13.exe`) was built by `tests/peers.sh`.
pub fn peer(name: &str) -> PathBuf {
    let path = peers_bin().join(name);
    assert!(
        path.is_file(),
        "{} is missing: this test needs the real Go peer. Run `bash tests/peers.sh` (or \
         `bash tests/run.sh`, which runs it); it needs Go 1.26 and the Go module proxy.",
        path.display()
    );
    path
}

/// A PATH with the Go peers' directory first, for clients that find
/// `docker-credential-<name>` helpers on PATH.
pub fn path_with_peers(extra_first: &[&Path]) -> std::ffi::OsString {
    let mut dirs: Vec<PathBuf> = extra_first.iter().map(|p| p.to_path_buf()).collect();
    dirs.push(peers_bin());
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs).expect("PATH entries without ':'")
}

/// Writes an executable shell script `dir/docker-credential-<name>` and returns its path.
pub fn fake_helper(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(format!("docker-credential-{name}"));
    let mut f = std::fs::File::create(&path).expect("create fake helper");
    writeln!(f, "#!/bin/sh\n{body}").expect("write fake helper");
    drop(f);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

pub(crate) fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A `pass` password store over a fresh gpg key with an empty passphrase.
pub struct PassStore {
    dir: tempfile::TempDir,
    /// Variables a helper needs to reach this store.
    pub env: Vec<(String, String)>,
}

impl PassStore {
    /// Creates the key and the store (about one second).
    pub fn init() -> PassStore {
        require("gpg", "gnupg");
        require("pass", "pass");
        require("docker-credential-pass", "golang-docker-credential-helpers");
        let dir = tempfile::Builder::new()
            .prefix("pass")
            .tempdir()
            .expect("tempdir");
        let gnupg = dir.path().join("g");
        std::fs::create_dir(&gnupg).unwrap();
        std::fs::set_permissions(&gnupg, std::fs::Permissions::from_mode(0o700)).unwrap();
        let store = dir.path().join("store");
        let env = vec![
            ("GNUPGHOME".to_string(), gnupg.display().to_string()),
            (
                "PASSWORD_STORE_DIR".to_string(),
                store.display().to_string(),
            ),
        ];
        let with_env = |cmd: &mut Command| {
            for (k, v) in &env {
                cmd.env(k, v);
            }
        };
        let mut gen_key = Command::new("gpg");
        gen_key.args([
            "--batch",
            "--passphrase",
            "",
            "--quick-gen-key",
            "apko-test <apko-test@example.invalid>",
            "default",
            "default",
            "never",
        ]);
        with_env(&mut gen_key);
        run(&mut gen_key, "gpg --quick-gen-key");
        let mut list = Command::new("gpg");
        list.args(["--list-keys", "--with-colons"]);
        with_env(&mut list);
        let listing = run(&mut list, "gpg --list-keys");
        let fpr = listing
            .lines()
            .find_map(|l| {
                l.strip_prefix("fpr:")
                    .map(|r| r.trim_matches(':').to_string())
            })
            .expect("gpg lists the new key's fingerprint");
        let mut init = Command::new("pass");
        init.args(["init", &fpr]);
        with_env(&mut init);
        run(&mut init, "pass init");
        PassStore { dir, env }
    }

    /// Where pass keeps its files.
    pub fn store_dir(&self) -> PathBuf {
        self.dir.path().join("store")
    }
}

impl Drop for PassStore {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .args(["--kill", "gpg-agent"])
            .env("GNUPGHOME", self.dir.path().join("g"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

const BUS_CONFIG: &str = r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#;

/// A private D-Bus session bus with an unlocked gnome-keyring serving the Secret Service.
pub struct SecretService {
    _home: tempfile::TempDir,
    dbus_pid: libc::pid_t,
    /// Variables a helper needs to reach this Secret Service.
    pub env: Vec<(String, String)>,
}

impl SecretService {
    /// Starts dbus-daemon and gnome-keyring-daemon and waits until the `login` collection exists.
    pub fn start() -> SecretService {
        require("dbus-daemon", "dbus");
        require("dbus-send", "dbus");
        require("gnome-keyring-daemon", "gnome-keyring");
        let home = tempfile::Builder::new()
            .prefix("ss")
            .tempdir()
            .expect("tempdir");
        let run_dir = home.path().join("run");
        std::fs::create_dir(&run_dir).unwrap();
        std::fs::set_permissions(&run_dir, std::fs::Permissions::from_mode(0o700)).unwrap();

        // No service directories: with D-Bus activation, a client that asks before the
        // unlocked daemon owns org.freedesktop.secrets would start a second, locked
        // gnome-keyring without the `login` collection (a race seen in CI).
        let config = home.path().join("bus.conf");
        std::fs::write(&config, BUS_CONFIG).unwrap();
        let mut daemon = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--fork", "--print-address=1", "--print-pid=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dbus-daemon");
        let mut lines = BufReader::new(daemon.stdout.take().unwrap()).lines();
        let address = lines
            .next()
            .expect("dbus address")
            .expect("read dbus address");
        let pid: libc::pid_t = lines
            .next()
            .expect("dbus pid")
            .expect("read dbus pid")
            .trim()
            .parse()
            .expect("numeric dbus pid");
        let _ = daemon.wait();

        let env = vec![
            ("DBUS_SESSION_BUS_ADDRESS".to_string(), address),
            ("XDG_RUNTIME_DIR".to_string(), run_dir.display().to_string()),
        ];
        let mut keyring = Command::new("gnome-keyring-daemon");
        keyring
            .args(["--unlock", "--components=secrets"])
            .env("HOME", home.path())
            .env_remove("DISPLAY")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in &env {
            keyring.env(k, v);
        }
        let mut child = keyring.spawn().expect("start gnome-keyring-daemon");
        // A newline, not empty input: only then is the `login` collection created and unlocked.
        child.stdin.take().unwrap().write_all(b"\n").unwrap();
        let status = child.wait().expect("gnome-keyring-daemon");
        assert!(
            status.success(),
            "gnome-keyring-daemon --unlock failed: {status}"
        );

        let service = SecretService {
            _home: home,
            dbus_pid: pid,
            env,
        };
        service.wait_for_login_collection();
        service
    }

    fn wait_for_login_collection(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut cmd = Command::new("dbus-send");
            cmd.args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.secrets",
                "/org/freedesktop/secrets",
                "org.freedesktop.DBus.Properties.Get",
                "string:org.freedesktop.Secret.Service",
                "string:Collections",
            ]);
            for (k, v) in &self.env {
                cmd.env(k, v);
            }
            if let Ok(out) = cmd.stdin(Stdio::null()).stderr(Stdio::null()).output()
                && String::from_utf8_lossy(&out.stdout).contains("collection/login")
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "gnome-keyring never created its login collection"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        // gnome-keyring-daemon exits when its bus goes away.
        // SAFETY: plain kill(2) of the dbus-daemon we started; it is not our child, so no reaping.
        unsafe {
            libc::kill(self.dbus_pid, libc::SIGTERM);
        }
    }
}
