//! A registry token server (distribution's `token.md` and `oauth.md`) for `docker-registry`'s
//! `auth: token`: RS256 JWTs with an `x5c` header, signed by the openssl CLI with a key made
//! per server. `testuser`/`testpass` get every action asked for, anonymous requests `pull`
//! only. GET with Basic (and `offline_token=true` → a refresh token), POST with
//! `grant_type=refresh_token` or `password`.

use crate::http::{Request, Response, Server};
use crate::{require, run};
use base64::Engine as _;
use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

/// The issuer the registry is configured to trust.
pub const ISSUER: &str = "test-issuer";
/// The service name (the registry's `auth.token.service`).
pub const SERVICE: &str = "test-registry";
/// A refresh token the server accepts from the start (for helpers answering `<token>`).
pub const REFRESH_TOKEN: &str = "refresh-fixed";

/// How the token server behaves.
#[derive(Debug, Clone)]
pub struct TokenOptions {
    /// Answer `offline_token=true` with a `refresh_token`.
    pub refresh_tokens: bool,
    /// Serve the OAuth2 POST; when false, POST answers 404 (a server without OAuth2).
    pub oauth: bool,
    /// `expires_in` of every token.
    pub expires_in: u64,
    /// Answer every request 503 (a token service that is down).
    pub down: bool,
}

impl Default for TokenOptions {
    fn default() -> Self {
        TokenOptions {
            refresh_tokens: true,
            oauth: true,
            expires_in: 300,
            down: false,
        }
    }
}

struct Keys {
    key: PathBuf,
    x5c: String,
}

/// A running token server.
pub struct TokenServer {
    _dir: tempfile::TempDir,
    server: Server,
    /// The certificate the registry's `rootcertbundle` names.
    pub cert: PathBuf,
    issued: Arc<Mutex<HashSet<String>>>,
}

impl TokenServer {
    /// Makes a signing key and starts serving on a free loopback port.
    pub fn start(options: TokenOptions) -> TokenServer {
        require("openssl", "openssl");
        let dir = tempfile::Builder::new().prefix("tok").tempdir().unwrap();
        let key = dir.path().join("token.key");
        let cert = dir.path().join("token.crt");
        run(
            Command::new("openssl")
                .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout"])
                .arg(&key)
                .arg("-out")
                .arg(&cert)
                .args(["-days", "2", "-subj", "/CN=test-token-issuer"]),
            "openssl: the token signing key",
        );
        let der = Command::new("openssl")
            .args(["x509", "-outform", "DER", "-in"])
            .arg(&cert)
            .output()
            .expect("openssl x509");
        assert!(der.status.success(), "openssl x509 -outform DER failed");
        let keys = Arc::new(Keys {
            key,
            x5c: base64::engine::general_purpose::STANDARD.encode(der.stdout),
        });
        let issued: Arc<Mutex<HashSet<String>>> =
            Arc::new(Mutex::new(HashSet::from([REFRESH_TOKEN.to_string()])));
        let server = {
            let issued = issued.clone();
            Server::start(move |req| handle(req, &keys, &options, &issued))
        };
        TokenServer {
            _dir: dir,
            server,
            cert,
            issued,
        }
    }

    /// The realm: `http://127.0.0.1:<port>/token`.
    pub fn realm(&self) -> String {
        format!("{}/token", self.server.url())
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.server.requests()
    }

    /// Whether `token` is a refresh token this server gave out (or [`REFRESH_TOKEN`]).
    pub fn knows_refresh_token(&self, token: &str) -> bool {
        self.issued.lock().unwrap().contains(token)
    }
}

fn json(status: u16, body: &str) -> Response {
    Response::new(status)
        .header("Content-Type", "application/json")
        .body(body.as_bytes().to_vec())
}

fn handle(
    req: &Request,
    keys: &Keys,
    options: &TokenOptions,
    issued: &Mutex<HashSet<String>>,
) -> Response {
    if options.down {
        return json(503, r#"{"details":"token service unavailable"}"#);
    }
    if req.path() != "/token" {
        return json(404, r#"{"details":"not found"}"#);
    }
    let (params, user) = match req.method.as_str() {
        "GET" => {
            let params = req.query();
            let user = match req.header("authorization") {
                Some(a) if a.starts_with("Basic ") => {
                    let decoded = base64::engine::general_purpose::STANDARD
                        .decode(&a[6..])
                        .unwrap_or_default();
                    let text = String::from_utf8_lossy(&decoded).into_owned();
                    match text.split_once(':') {
                        Some(("testuser", "testpass")) => Some("testuser".to_string()),
                        _ => return json(401, r#"{"details":"bad credentials"}"#),
                    }
                }
                Some(_) => return json(401, r#"{"details":"unsupported authorization"}"#),
                None => None,
            };
            (params, user)
        }
        "POST" if !options.oauth => return json(404, r#"{"details":"no oauth here"}"#),
        "POST" => {
            let form = req.form();
            let get = |k: &str| {
                form.iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.as_str())
                    .unwrap_or("")
            };
            let user = match get("grant_type") {
                "refresh_token" if issued.lock().unwrap().contains(get("refresh_token")) => {
                    "testuser"
                }
                "password" if get("username") == "testuser" && get("password") == "testpass" => {
                    "testuser"
                }
                _ => return json(401, r#"{"details":"bad grant"}"#),
            };
            // OAuth2 sends one space-separated `scope`.
            let mut params: Vec<(String, String)> =
                form.iter().filter(|(k, _)| k != "scope").cloned().collect();
            for s in get("scope").split(' ').filter(|s| !s.is_empty()) {
                params.push(("scope".to_string(), s.to_string()));
            }
            (params, Some(user.to_string()))
        }
        _ => return json(405, r#"{"details":"method not allowed"}"#),
    };
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let access: Vec<serde_json::Value> = params
        .iter()
        .filter(|(k, _)| k == "scope")
        .filter_map(|(_, scope)| {
            let (typ, rest) = scope.split_once(':')?;
            let (name, actions) = rest.rsplit_once(':')?;
            let actions: Vec<&str> = actions
                .split(',')
                .filter(|a| user.is_some() || *a == "pull")
                .collect();
            Some(serde_json::json!({"type": typ, "name": name, "actions": actions}))
        })
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    static JTI: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let jti = JTI.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let claims = serde_json::json!({
        "iss": ISSUER,
        "sub": user.clone().unwrap_or_default(),
        "aud": get("service").unwrap_or(SERVICE),
        "exp": now + options.expires_in,
        "nbf": now - 10,
        "iat": now,
        "jti": format!("jti-{jti}"),
        "access": access,
    });
    let token = sign(keys, &claims);
    let mut answer = serde_json::json!({
        "token": token,
        "access_token": token,
        "expires_in": options.expires_in,
    });
    if user.is_some() && get("offline_token") == Some("true") && options.refresh_tokens {
        let refresh = format!("refresh-{jti}-{now}");
        issued.lock().unwrap().insert(refresh.clone());
        answer["refresh_token"] = refresh.into();
    }
    json(200, &answer.to_string())
}

/// A compact JWS, RS256, with the certificate in `x5c`.
fn sign(keys: &Keys, claims: &serde_json::Value) -> String {
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [keys.x5c]});
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(&keys.key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl dgst");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl dgst -sign failed");
    format!("{input}.{}", b64(&out.stdout))
}
