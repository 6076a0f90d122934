//! Private repositories over HTTP and HTTPS on loopback that require Basic auth
//! (tests/fixtures/apk_repo_server.py), with credentials from a real docker-credential-pass
//! (credsStore), from `--auth`, and in the URL; rejected credentials, keys fetched from the
//! repository host, the download cache and offline builds.

use crate::support::{PassStore, SENTINEL, require};
use apko::apk::{ApkError, InstallRequest, install};
use apko::auth::Resolver;
use apko::auth::config::Locations;
use apko::auth::inline;
use apko::fs::{Kind, Tree};
use apko_credential::{Credentials, Program};
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const USER: &str = "repo-user";

/// The fixture server over a copy of examples/hello (repository and public key).
struct Server {
    child: Child,
    host: String,
    scheme: &'static str,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(tls: Option<&Tls>) -> Server {
        Server::serving(&format!("{ROOT}/examples/hello"), tls)
    }

    /// Serves `root` (which holds `repo/`).
    fn serving(root: &str, tls: Option<&Tls>) -> Server {
        require("python3", "python3");
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("requests.log");
        let mut cmd = Command::new("python3");
        cmd.arg(format!("{ROOT}/tests/fixtures/apk_repo_server.py"))
            .arg(root)
            .env("APK_TEST_USER", USER)
            .env("APK_TEST_PASSWORD", SENTINEL)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap());
        if let Some(tls) = tls {
            cmd.arg(&tls.cert).arg(&tls.key);
        }
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line.trim().parse().expect("the server prints its port");
        Server {
            child,
            host: format!("127.0.0.1:{port}"),
            scheme: if tls.is_some() { "https" } else { "http" },
            log,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("{}://{}/repo", self.scheme, self.host)
    }

    fn requests(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private CA and a server certificate for 127.0.0.1 signed by it.
struct Tls {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    _dir: tempfile::TempDir,
}

fn tls() -> Tls {
    require("openssl", "openssl");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(d)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::write(
        d.join("ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=apko-rs test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "srv.key",
        "-out",
        "srv.csr",
        "-subj",
        "/CN=localhost",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "srv.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "srv.crt",
        "-days",
        "2",
        "-extfile",
        "ext",
    ]);
    Tls {
        ca: d.join("ca.crt"),
        cert: d.join("srv.crt"),
        key: d.join("srv.key"),
        _dir: dir,
    }
}

/// A Docker config directory whose config.json says `json`, and a resolver over it.
struct Config {
    dir: tempfile::TempDir,
}

impl Config {
    fn new(json: &str) -> Config {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("docker")).unwrap();
        std::fs::write(dir.path().join("docker/config.json"), json).unwrap();
        Config { dir }
    }

    fn config_file(&self) -> PathBuf {
        self.dir.path().join("docker/config.json")
    }

    fn resolver(&self, inline: Vec<inline::InlineAuth>, env: &[(String, String)]) -> Resolver {
        let home: OsString = self.dir.path().join("home").into();
        let run: OsString = self.dir.path().join("run").into();
        let locations = Locations::discover(Some(&self.dir.path().join("docker")), &|k| match k {
            "HOME" => Some(home.clone()),
            "XDG_RUNTIME_DIR" => Some(run.clone()),
            _ => None,
        });
        env.iter().fold(
            Resolver::new(Some(locations), inline, vec![]).unwrap(),
            |r, (k, v)| r.with_helper_env(k, v),
        )
    }
}

fn request<'a>(resolver: &'a Resolver, repo: String) -> InstallRequest<'a> {
    InstallRequest {
        repositories: vec![repo],
        build_repositories: vec![],
        keyring: vec![format!("{ROOT}/examples/hello/apko-rs-example.rsa.pub")],
        packages: vec!["hello".into()],
        arch: "x86_64".into(),
        ignore_signatures: false,
        cache_dir: None,
        offline: false,
        build_time: 0,
        resolver,
        ca_certificates: vec![],
    }
}

async fn installs(req: &InstallRequest<'_>) -> Result<Tree, ApkError> {
    let mut tree = Tree::new();
    let got = install(req, &mut tree).await?;
    assert_eq!(got.len(), 2);
    Ok(tree)
}

fn file(tree: &Tree, path: &str) -> String {
    match &tree.get(path).unwrap().kind {
        Kind::File(d) => String::from_utf8(d.to_vec()).unwrap(),
        other => panic!("{path}: {other:?}"),
    }
}

fn pass_with(host: &str, password: &str) -> PassStore {
    let store = PassStore::init();
    let pass = store.env.iter().fold(Program::new("pass"), |p, (k, v)| {
        p.env(k.clone(), v.clone())
    });
    pass.store(&Credentials::new(host, USER, password)).unwrap();
    store
}

#[tokio::test]
async fn http_and_https_with_credentials_from_docker_credential_pass() {
    let tls = tls();
    for server in [Server::start(None), Server::start(Some(&tls))] {
        let store = pass_with(&server.host, SENTINEL);
        let config = Config::new(r#"{"credsStore":"pass"}"#);
        let resolver = config.resolver(vec![], &store.env);
        let mut req = request(&resolver, server.url());
        req.ca_certificates = vec![tls.ca.clone()];
        // The key comes from the same host, with the same credentials.
        req.keyring = vec![format!(
            "{}://{}/apko-rs-example.rsa.pub",
            server.scheme, server.host
        )];
        let tree = installs(&req).await.unwrap();
        assert_eq!(
            file(&tree, "etc/apk/repositories"),
            format!("{}\n", server.url())
        );
        assert!(tree.get("etc/apk/keys/apko-rs-example.rsa.pub").is_some());
        // One helper run for the host, however many files came from it.
        assert_eq!(resolver.helper_calls(), 1);
        let log = server.requests();
        assert_eq!(
            log.lines()
                .filter(|l| l.contains(" ok user=repo-user"))
                .count(),
            4,
            "{log}"
        );
        assert!(!log.contains(SENTINEL));
    }
}

#[tokio::test]
async fn https_needs_the_private_ca() {
    let tls = tls();
    let server = Server::start(Some(&tls));
    let resolver = Config::new("{}").resolver(vec![], &[]);
    let req = request(&resolver, server.url());
    let err = installs(&req).await.unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "fetching https://{}/repo/x86_64/APKINDEX.tar.gz: invalid peer certificate: UnknownIssuer; if the server's certificate comes from a private CA, give its certificate with --ca-file FILE (or SSL_CERT_FILE)",
            server.host
        )
    );
}

#[tokio::test]
async fn inline_auth_and_fallback_from_a_rejected_helper() {
    let server = Server::start(None);
    let value = format!("{}={USER}:{SENTINEL}", server.host);
    let auth = inline::parse(&value, "--auth #1").unwrap();
    // Only --auth.
    let resolver = Config::new("{}").resolver(vec![auth.clone()], &[]);
    installs(&request(&resolver, server.url())).await.unwrap();

    // pass has a stale password: the server rejects it and --auth is used instead.
    let store = pass_with(&server.host, "stale-password");
    let config = Config::new(r#"{"credsStore":"pass"}"#);
    let resolver = config.resolver(vec![auth], &store.env);
    installs(&request(&resolver, server.url())).await.unwrap();
    let log = server.requests();
    assert!(
        log.contains("GET /repo/x86_64/APKINDEX.tar.gz 401 user=repo-user"),
        "{log}"
    );
}

#[tokio::test]
async fn wrong_credentials_name_the_host_and_every_source() {
    let server = Server::start(None);
    let store = pass_with(&server.host, "wrong-password");
    let config = Config::new(r#"{"credsStore":"pass"}"#);
    let resolver = config.resolver(vec![], &store.env);
    let err = installs(&request(&resolver, server.url()))
        .await
        .unwrap_err()
        .to_string();
    let host = &server.host;
    assert_eq!(
        err,
        format!(
            "fetching http://{host}/repo/x86_64/APKINDEX.tar.gz: no usable credentials for {host}; sources tried:\n  1. docker-credential-pass get \"{host}\" (credsStore in {}): rejected by the server: 401 Unauthorized\n  2. anonymous: rejected by the server: 401 Unauthorized\nFix the failing source, or give credentials with --auth {host}=USER:PASSWORD (or --auth-file); `apko auth explain` shows every source",
            config.config_file().display()
        )
    );
}

#[tokio::test]
async fn credentials_in_the_url_never_reach_the_image_or_errors() {
    let server = Server::start(None);
    let resolver = Config::new("{}").resolver(vec![], &[]);
    let with = |password: &str| format!("http://{USER}:{password}@{}/repo", server.host);
    let mut req = request(&resolver, with(SENTINEL));
    let tree = installs(&req).await.unwrap();
    assert_eq!(
        file(&tree, "etc/apk/repositories"),
        format!("{}\n", server.url())
    );
    assert!(!file(&tree, "usr/lib/apk/db/installed").contains(SENTINEL));

    req.repositories = vec![with("not-the-password")];
    let err = installs(&req).await.unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "fetching http://{host}/repo/x86_64/APKINDEX.tar.gz: no usable credentials for {host}; sources tried:\n  1. the user name and password in the repository URL: rejected by the server: 401 Unauthorized\nFix the failing source, or give credentials with --auth {host}=USER:PASSWORD (or --auth-file); `apko auth explain` shows every source",
            host = server.host
        )
    );
    assert!(!err.contains("not-the-password"));
}

#[tokio::test]
async fn build_repositories_stay_out_of_the_image() {
    let server = Server::start(None);
    let resolver = Config::new("{}").resolver(vec![], &[]);
    let runtime = format!("{ROOT}/examples/hello/repo");
    let mut req = request(&resolver, runtime.clone());
    req.build_repositories = vec![format!("http://{USER}:{SENTINEL}@{}/repo", server.host)];
    let tree = installs(&req).await.unwrap();
    assert_eq!(file(&tree, "etc/apk/repositories"), format!("{runtime}\n"));
    assert!(
        server
            .requests()
            .contains("GET /repo/x86_64/APKINDEX.tar.gz ok")
    );
}

#[tokio::test]
async fn cache_serves_offline_builds() {
    let cache = tempfile::tempdir().unwrap();
    let resolver = Config::new("{}").resolver(vec![], &[]);
    let url;
    {
        let server = Server::start(None);
        url = format!("http://{USER}:{SENTINEL}@{}/repo", server.host);
        let mut req = request(&resolver, url.clone());
        req.cache_dir = Some(cache.path().to_path_buf());
        installs(&req).await.unwrap();
    }
    // The server is gone: offline, everything comes from the cache.
    let mut req = request(&resolver, url.clone());
    req.cache_dir = Some(cache.path().to_path_buf());
    req.offline = true;
    installs(&req).await.unwrap();
    let cached: Vec<PathBuf> = walk(cache.path());
    assert_eq!(
        cached
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "apk"))
            .count(),
        2
    );

    let empty = tempfile::tempdir().unwrap();
    req.cache_dir = Some(empty.path().to_path_buf());
    let err = installs(&req).await.unwrap_err().to_string();
    let host = url.split('@').nth(1).unwrap().split('/').next().unwrap();
    assert_eq!(
        err,
        format!(
            "http://{host}/repo/x86_64/APKINDEX.tar.gz is needed but the build is offline and it is not in the cache {}; run once without --offline (with the same --cache-dir) to fill the cache",
            empty.path().display()
        )
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// A copy of examples/hello/repo whose `apk-configuration` names a JWKS holding the
/// example's key under `kid` (served beside it, behind the same Basic auth).
fn discovery_repo(kid: &str) -> (tempfile::TempDir, Server) {
    use base64::Engine;
    use rsa::pkcs8::DecodePublicKey;
    use rsa::traits::PublicKeyParts;
    let root = tempfile::tempdir().unwrap();
    let status = Command::new("cp")
        .arg("-r")
        .arg(format!("{ROOT}/examples/hello/repo"))
        .arg(root.path())
        .status()
        .unwrap();
    assert!(status.success());
    let server = Server::serving(root.path().to_str().unwrap(), None);
    let pem =
        std::fs::read_to_string(format!("{ROOT}/examples/hello/apko-rs-example.rsa.pub")).unwrap();
    let key = rsa::RsaPublicKey::from_public_key_pem(pem.trim()).unwrap();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let jwks = format!(
        r#"{{"keys":[{{"kty":"RSA","alg":"RS256","use":"sig","kid":"{kid}","n":"{}","e":"{}"}}]}}"#,
        b64.encode(key.n().to_bytes_be()),
        b64.encode(key.e().to_bytes_be())
    );
    std::fs::write(root.path().join("jwks.json"), jwks).unwrap();
    std::fs::write(
        root.path().join("repo/apk-configuration"),
        format!(r#"{{"jwks_uri":"http://{}/jwks.json"}}"#, server.host),
    )
    .unwrap();
    (root, server)
}

#[tokio::test]
async fn keys_are_discovered_from_a_repository_that_publishes_them() {
    let (_root, server) = discovery_repo("apko-rs-example");
    let cache = tempfile::tempdir().unwrap();
    let value = format!("{}={USER}:{SENTINEL}", server.host);
    let resolver =
        Config::new("{}").resolver(vec![inline::parse(&value, "--auth #1").unwrap()], &[]);
    let mut req = request(&resolver, server.url());
    req.keyring = vec![];
    req.cache_dir = Some(cache.path().to_path_buf());
    let tree = installs(&req).await.unwrap();
    // Trusted for the index and installed into the image under the name signatures use, as
    // PKIX PEM (what apko writes).
    let pem =
        std::fs::read_to_string(format!("{ROOT}/examples/hello/apko-rs-example.rsa.pub")).unwrap();
    let written = file(&tree, "etc/apk/keys/apko-rs-example.rsa.pub");
    assert!(
        written.starts_with("-----BEGIN PUBLIC KEY-----\n"),
        "{written}"
    );
    let normalise = |t: &str| {
        t.lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<String>()
    };
    assert_eq!(normalise(&written), normalise(&pem));
    let log = server.requests();
    let asked: Vec<&str> = log.lines().filter(|l| !l.contains(" 401 ")).collect();
    // Discovery only after the index named a key the keyring lacks; then that index again.
    assert_eq!(
        asked[..4],
        [
            "GET /repo/x86_64/APKINDEX.tar.gz ok user=repo-user",
            "GET /repo/apk-configuration ok user=repo-user",
            "GET /jwks.json ok user=repo-user",
            "GET /repo/x86_64/APKINDEX.tar.gz ok user=repo-user",
        ],
        "{log}"
    );
    assert!(
        asked[4..]
            .iter()
            .all(|l| l.ends_with(".apk ok user=repo-user")),
        "{log}"
    );
    assert_eq!(asked.len(), 6, "{log}");

    // Offline, the JWKS cached by that build still supplies the key.
    drop(server);
    req.offline = true;
    let tree = installs(&req).await.unwrap();
    assert_eq!(file(&tree, "etc/apk/keys/apko-rs-example.rsa.pub"), written);
}

#[tokio::test]
async fn a_repository_without_discovery_gets_the_missing_key_error() {
    let (root, server) = discovery_repo("another-key");
    let value = format!("{}={USER}:{SENTINEL}", server.host);
    let resolver =
        Config::new("{}").resolver(vec![inline::parse(&value, "--auth #1").unwrap()], &[]);
    let mut req = request(&resolver, server.url());
    req.keyring = vec![];
    let want = format!(
        "http://{}/repo/x86_64/APKINDEX.tar.gz is signed by apko-rs-example.rsa.pub, which is not in the keyring (it has another-key.rsa.pub); add that public key to contents.keyring (or -k/--keyring-append)",
        server.host
    );
    // A JWKS with another key: trusted, but the index is not signed by it.
    assert_eq!(installs(&req).await.unwrap_err().to_string(), want);
    // No discovery document (404): the keyring stays empty.
    std::fs::remove_file(root.path().join("repo/apk-configuration")).unwrap();
    assert_eq!(
        installs(&req).await.unwrap_err().to_string(),
        format!(
            "http://{}/repo/x86_64/APKINDEX.tar.gz is signed by apko-rs-example.rsa.pub, which is not in the keyring (the keyring is empty); add that public key to contents.keyring (or -k/--keyring-append)",
            server.host
        )
    );
    // A discovery document that is not JSON: the same error (and a warning naming it).
    std::fs::write(root.path().join("repo/apk-configuration"), "<html>").unwrap();
    assert!(installs(&req).await.unwrap_err().to_string().ends_with(
        "(the keyring is empty); add that public key to contents.keyring (or -k/--keyring-append)"
    ));
}

#[test]
fn install_keys_writes_what_the_repositories_publish() {
    let (_root, server) = discovery_repo("apko-rs-example");
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("etc/apk")).unwrap();
    std::fs::write(
        root.path().join("etc/apk/repositories"),
        format!("# local and remote\n/var/empty/repo\n{}\n", server.url()),
    )
    .unwrap();
    let auth = root.path().join("auth");
    std::fs::write(&auth, format!("{}={USER}:{SENTINEL}\n", server.host)).unwrap();
    let home = tempfile::tempdir().unwrap();
    let run = |root: &Path| {
        Command::new(env!("CARGO_BIN_EXE_apko"))
            .args(["install-keys", "--root"])
            .arg(root)
            .arg("--auth-file")
            .arg(&auth)
            .env("HOME", home.path())
            .env_remove("DOCKER_CONFIG")
            .output()
            .unwrap()
    };
    let out = run(root.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let key = root.path().join("etc/apk/keys/apko-rs-example.rsa.pub");
    let pem = std::fs::read_to_string(&key).unwrap();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{pem}");
    assert!(
        stderr.contains(&format!("wrote {} (from {})", key.display(), server.url())),
        "{stderr}"
    );
    assert!(!stderr.contains(SENTINEL));

    // No list to read: the error names the file and why it is needed.
    let empty = tempfile::tempdir().unwrap();
    let out = run(empty.path());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "Error: cannot read {}/etc/apk/repositories: install-keys discovers keys for the repositories listed there: No such file or directory (os error 2)\n",
            empty.path().display()
        )
    );
}

#[test]
fn ca_file_is_trusted_for_apk_repositories_too() {
    let tls = tls();
    let server = Server::start(Some(&tls));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("apko.yaml");
    std::fs::write(
        &config,
        format!(
            "contents:\n  keyring: [{ROOT}/examples/hello/apko-rs-example.rsa.pub]\n  repositories: [{}]\n  packages: [hello]\narchs: [x86_64]\n",
            server.url()
        ),
    )
    .unwrap();
    let auth = dir.path().join("auth");
    std::fs::write(&auth, format!("{}={USER}:{SENTINEL}\n", server.host)).unwrap();
    let out = dir.path().join("image.tar");
    let build = |extra: &[&std::ffi::OsStr]| {
        Command::new(env!("CARGO_BIN_EXE_apko"))
            .arg("build")
            .arg(&config)
            .arg("hello:1")
            .arg(&out)
            .arg("--auth-file")
            .arg(&auth)
            .args(extra)
            .env("HOME", dir.path())
            .env("DOCKER_CONFIG", dir.path().join("docker"))
            .env_remove("SSL_CERT_FILE")
            .output()
            .unwrap()
    };
    let refused = build(&[]);
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&refused.stderr)
            .lines()
            .last()
            .unwrap(),
        format!(
            "Error: building amd64: fetching https://{}/repo/x86_64/APKINDEX.tar.gz: invalid peer certificate: UnknownIssuer; if the server's certificate comes from a private CA, give its certificate with --ca-file FILE (or SSL_CERT_FILE)",
            server.host
        )
    );
    assert!(!out.exists());
    let built = build(&["--ca-file".as_ref(), tls.ca.as_os_str()]);
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    assert!(out.is_file());
}
