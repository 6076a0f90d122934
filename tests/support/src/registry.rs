//! Debian's `docker-registry` (distribution 2.8) on a free loopback port: htpasswd
//! (`testuser`/`testpass`) or token auth, plain HTTP or TLS, optionally redirecting blob
//! downloads elsewhere (its `redirect` storage middleware). Its log is kept at `info`, one line
//! per request, for assertions such as a cross-repository mount.

use crate::tls::Ca;
use crate::token::{ISSUER, SERVICE, TokenServer};
use crate::{require, run};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How the registry authenticates.
pub enum RegistryAuth<'a> {
    /// Open to everyone.
    None,
    /// htpasswd with `testuser`/`testpass`.
    Htpasswd,
    /// Tokens from this server.
    Token(&'a TokenServer),
}

/// What to start.
pub struct RegistryConfig<'a> {
    /// Authentication.
    pub auth: RegistryAuth<'a>,
    /// Serve HTTPS with the CA's server certificate.
    pub tls: Option<&'a Ca>,
    /// Redirect blob GET/HEAD to this base URL + the storage path (`/docker/registry/v2/…`).
    pub redirect: Option<String>,
}

impl Default for RegistryConfig<'_> {
    fn default() -> Self {
        RegistryConfig {
            auth: RegistryAuth::Htpasswd,
            tls: None,
            redirect: None,
        }
    }
}

/// A running registry, stopped on drop.
pub struct Registry {
    dir: tempfile::TempDir,
    child: std::process::Child,
    /// `127.0.0.1:<port>`.
    pub host: String,
    tls: bool,
}

impl Registry {
    /// htpasswd auth over plain HTTP.
    pub fn start_htpasswd() -> Registry {
        Registry::start(RegistryConfig::default())
    }

    /// Starts it and waits until it accepts connections.
    pub fn start(config: RegistryConfig<'_>) -> Registry {
        let bin = require("docker-registry", "docker-registry");
        let dir = tempfile::Builder::new()
            .prefix("reg")
            .tempdir()
            .expect("tempdir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let host = format!("127.0.0.1:{port}");
        let mut yaml = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {root}\n  delete:\n    enabled: true\n\
             http:\n  addr: {host}\n  secret: test-only\n",
            root = dir.path().join("data").display(),
        );
        if let Some(ca) = config.tls {
            yaml += &format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                ca.server_cert.display(),
                ca.server_key.display()
            );
        }
        match config.auth {
            RegistryAuth::None => {}
            RegistryAuth::Htpasswd => {
                require("htpasswd", "apache2-utils");
                let htpasswd = run(
                    Command::new("htpasswd").args(["-Bbn", "testuser", "testpass"]),
                    "htpasswd",
                );
                std::fs::write(dir.path().join("htpasswd"), htpasswd).unwrap();
                yaml += &format!(
                    "auth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n",
                    dir.path().join("htpasswd").display()
                );
            }
            RegistryAuth::Token(server) => {
                yaml += &format!(
                    "auth:\n  token:\n    realm: {}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
                    server.realm(),
                    server.cert.display()
                );
            }
        }
        if let Some(base) = &config.redirect {
            yaml += &format!(
                "middleware:\n  storage:\n    - name: redirect\n      options:\n        baseurl: {base}\n"
            );
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, yaml).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new(bin)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(&host).is_err() {
            assert!(
                Instant::now() < deadline,
                "docker-registry did not start on {host}: {}",
                std::fs::read_to_string(dir.path().join("registry.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Registry {
            dir,
            child,
            host,
            tls: config.tls.is_some(),
        }
    }

    /// `http://host` or `https://host`.
    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "https" } else { "http" },
            self.host
        )
    }

    /// Everything it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Every request it answered, from its log: (method, URI, status), in order.
    pub fn requests(&self) -> Vec<(String, String, u16)> {
        let field = |line: &str, name: &str| -> Option<String> {
            let start = line.find(&format!(" {name}="))? + name.len() + 2;
            let rest = &line[start..];
            Some(match rest.strip_prefix('"') {
                Some(q) => q[..q.find('"')?].to_string(),
                None => rest.split(' ').next()?.to_string(),
            })
        };
        self.log()
            .lines()
            .filter(|l| l.contains("msg=\"response completed"))
            .filter_map(|l| {
                Some((
                    field(l, "http.request.method")?,
                    field(l, "http.request.uri")?,
                    field(l, "http.response.status")?.parse().ok()?,
                ))
            })
            .collect()
    }

    /// Its storage root (`rootdirectory`).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
