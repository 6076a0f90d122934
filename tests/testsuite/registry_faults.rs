//! What no well-behaved registry shows, played by small servers around the real one: blob
//! downloads redirected to another host (the registry's own `redirect` middleware) and upload
//! Locations on another host get no `Authorization`; a 401 in the middle of a push and a 429
//! with `Retry-After` are recovered; a registry that alters a blob or a manifest is caught.

use crate::support::cli::{Cli, base_blobs, base_index_digest, blobs};
use crate::support::http::{Request, Response, Server, forward};
use crate::support::layout::base_image;
use crate::support::token::{TokenOptions, TokenServer};
use crate::support::{Registry, RegistryAuth, RegistryConfig};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[test]
fn redirected_blob_downloads_get_no_authorization() {
    // A CDN serving the registry's storage directory. The directory is only known once the
    // registry exists, which needs the CDN's URL first: a cell set right after.
    let root: Arc<Mutex<Option<std::path::PathBuf>>> = Arc::default();
    let cdn = {
        let root = root.clone();
        Server::start(move |req| {
            let Some(dir) = root.lock().unwrap().clone() else {
                return Response::new(503);
            };
            match std::fs::read(dir.join(req.path().trim_start_matches('/'))) {
                Ok(bytes) => Response::new(200).body(bytes),
                Err(_) => Response::new(404),
            }
        })
    };
    let registry = Registry::start(RegistryConfig {
        redirect: Some(cdn.url()),
        ..RegistryConfig::default()
    });
    *root.lock().unwrap() = Some(registry.data_dir());
    let h = registry.host.as_str();
    let cli = Cli::new();
    let auth = cli.auth_file(h);
    cli.push_base(&format!("{h}/cdn:1"), &auth, &[]).ok();
    let dir = cli.path("pulled");
    cli.run(&[
        "pull",
        &format!("{h}/cdn:1"),
        dir.to_str().unwrap(),
        "--auth-file",
        &auth,
    ])
    .ok();
    assert_eq!(blobs(&dir), base_blobs());

    let seen = cdn.requests();
    let gets = seen.iter().filter(|r| r.method == "GET").count();
    assert_eq!(
        gets, 4,
        "every config and layer came from the CDN: {seen:#?}"
    );
    assert!(
        seen.iter()
            .all(|r| r.path().starts_with("/docker/registry/v2/blobs/sha256/"))
    );
    for r in &seen {
        assert_eq!(r.header("authorization"), None, "{r:#?}");
    }
    // The registry itself was sent credentials (it needs them): the redirect is what strips them.
    assert!(registry.log().contains("auth.user.name=testuser"));
}

#[test]
fn upload_locations_on_another_host_get_no_authorization() {
    let registry = Registry::start_htpasswd();
    let upstream = registry.host.clone();
    // B: the "other host" uploads are sent to; it authorizes by itself when forwarding.
    let b = {
        let upstream = upstream.clone();
        Server::start(move |req| {
            let mut req = req.clone();
            req.headers
                .retain(|(k, _)| !k.eq_ignore_ascii_case("authorization"));
            req.headers.push((
                "Authorization".into(),
                "Basic dGVzdHVzZXI6dGVzdHBhc3M=".into(),
            ));
            forward(&upstream, &req)
        })
    };
    let b_addr = b.addr.clone();
    // A: the registry as the client sees it; upload Locations point at B.
    let a_addr: Arc<Mutex<String>> = Arc::default();
    let a = {
        let (upstream, a_addr) = (upstream.clone(), a_addr.clone());
        Server::start(move |req| {
            let mut resp = forward(&upstream, req);
            let a_addr = a_addr.lock().unwrap().clone();
            for (k, v) in resp.headers.iter_mut() {
                if k.eq_ignore_ascii_case("location") && v.contains("/blobs/uploads/") {
                    *v = v.replace(&a_addr, &b_addr);
                }
            }
            resp
        })
    };
    *a_addr.lock().unwrap() = a.addr.clone();
    let cli = Cli::new();
    let auth = cli.auth_file(&a.addr);
    let out = cli
        .push_base(&format!("{}/moved:1", a.addr), &auth, &[])
        .ok();
    assert_eq!(
        out.stdout,
        format!("{}/moved@{}\n", a.addr, base_index_digest())
    );
    let uploads: Vec<Request> = b.requests();
    assert_eq!(
        uploads.iter().filter(|r| r.method == "PUT").count(),
        4,
        "{uploads:#?}"
    );
    for r in &uploads {
        assert_eq!(
            r.header("authorization"),
            None,
            "sent to {}: {r:#?}",
            b.addr
        );
    }
    // A did get credentials.
    assert!(
        a.requests()
            .iter()
            .any(|r| r.header("authorization").is_some())
    );
}

/// A proxy in front of `upstream` that answers the first request matching `hit` with
/// `answer` instead of forwarding it; records when each request came.
struct Faulty {
    server: Server,
    times: Arc<Mutex<Vec<(String, String, Instant)>>>,
}

fn faulty(
    upstream: String,
    hit: impl Fn(&Request) -> bool + Send + Sync + 'static,
    answer: Response,
) -> Faulty {
    let times: Arc<Mutex<Vec<(String, String, Instant)>>> = Arc::default();
    let done = AtomicUsize::new(0);
    let server = {
        let times = times.clone();
        Server::start(move |req| {
            times.lock().unwrap().push((
                req.method.clone(),
                req.path().to_string(),
                Instant::now(),
            ));
            if hit(req) && done.fetch_add(1, Ordering::SeqCst) == 0 {
                return answer.clone();
            }
            forward(&upstream, req)
        })
    };
    Faulty { server, times }
}

#[test]
fn a_401_in_the_middle_of_a_push_is_recovered_basic() {
    let registry = Registry::start_htpasswd();
    let proxy = faulty(
        registry.host.clone(),
        |r| r.method == "PUT" && r.path().contains("/manifests/"),
        Response::new(401)
            .header("WWW-Authenticate", r#"Basic realm="basic-realm""#)
            .header("Content-Type", "application/json")
            .body(r#"{"errors":[{"code":"UNAUTHORIZED","message":"session expired"}]}"#),
    );
    let p = proxy.server.addr.clone();
    let cli = Cli::new();
    let auth = cli.auth_file(&p);
    let out = cli.push_base(&format!("{p}/mid:1"), &auth, &[]).ok();
    assert_eq!(out.stdout, format!("{p}/mid@{}\n", base_index_digest()));
    // Three manifest PUTs reached the registry (two images, the index) after one refused.
    let puts = proxy
        .times
        .lock()
        .unwrap()
        .iter()
        .filter(|(m, p, _)| m == "PUT" && p.contains("/manifests/"))
        .count();
    assert_eq!(puts, 4);
}

#[test]
fn a_401_in_the_middle_of_a_push_gets_a_fresh_token() {
    let tokens = TokenServer::start(TokenOptions::default());
    let registry = Registry::start(RegistryConfig {
        auth: RegistryAuth::Token(&tokens),
        ..RegistryConfig::default()
    });
    let realm = tokens.realm();
    let proxy = faulty(
        registry.host.clone(),
        |r| r.method == "PUT" && r.path().contains("/blobs/uploads/"),
        Response::new(401)
            .header(
                "WWW-Authenticate",
                &format!(r#"Bearer realm="{realm}",service="test-registry",error="invalid_token""#),
            )
            .body(r#"{"errors":[{"code":"UNAUTHORIZED","message":"token expired"}]}"#),
    );
    let p = proxy.server.addr.clone();
    let cli = Cli::new();
    let auth = cli.auth_file(&p);
    let out = cli.push_base(&format!("{p}/tokmid:1"), &auth, &[]).ok();
    assert_eq!(out.stdout, format!("{p}/tokmid@{}\n", base_index_digest()));
    // One token for the push, one more after the 401.
    assert_eq!(tokens.requests().len(), 2, "{:#?}", tokens.requests());
}

#[test]
fn retry_after_is_honoured() {
    let registry = Registry::start_htpasswd();
    let proxy = faulty(
        registry.host.clone(),
        |r| r.method == "PUT" && r.path().ends_with("/manifests/1"),
        Response::new(429)
            .header("Retry-After", "1")
            .body(r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}"#),
    );
    let p = proxy.server.addr.clone();
    let cli = Cli::new();
    let auth = cli.auth_file(&p);
    cli.push_base(&format!("{p}/slow:1"), &auth, &[]).ok();
    let times = proxy.times.lock().unwrap().clone();
    let tag_puts: Vec<Instant> = times
        .iter()
        .filter(|(m, path, _)| m == "PUT" && path.ends_with("/manifests/1"))
        .map(|(_, _, t)| *t)
        .collect();
    assert_eq!(tag_puts.len(), 2);
    let waited = tag_puts[1] - tag_puts[0];
    assert!(
        waited >= std::time::Duration::from_secs(1),
        "retried after {waited:?}"
    );
}

#[test]
fn altered_blobs_and_manifests_are_refused() {
    let registry = Registry::start_htpasswd();
    let cli = Cli::new();
    let auth = cli.auth_file(&registry.host);
    cli.push_base(&format!("{}/liar:1", registry.host), &auth, &[])
        .ok();

    // A layer with one byte changed.
    let layer = "sha256:583625b6164fff3b017f62b9fcd60cb53fff18a7e89ee538212134a13fc29fb1";
    let upstream = registry.host.clone();
    let liar = Server::start(move |req| {
        let mut resp = forward(&upstream, req);
        if req.method == "GET" && req.path().ends_with(layer) {
            resp.body[100] ^= 1;
        }
        resp
    });
    let l = liar.addr.clone();
    let auth = cli.auth_file(&l);
    let dir = cli.path("pulled");
    let out = cli.run(&[
        "pull",
        &format!("{l}/liar:1"),
        dir.to_str().unwrap(),
        "--auth-file",
        &auth,
    ]);
    assert_eq!(out.code, 1);
    let altered = {
        let mut b = std::fs::read(base_image().join("blobs/sha256").join(&layer[7..])).unwrap();
        b[100] ^= 1;
        crate::support::layout::sha256(&b)
    };
    assert_eq!(
        out.stderr,
        format!(
            "Error: GET blob {layer} from {l}/liar: the content's digest is {altered}: refusing it\n"
        )
    );
    assert!(
        !dir.join("blobs/sha256").join(&layer[7..]).exists(),
        "the altered blob is not kept"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // An index served with a digest that does not match its bytes.
    let upstream = registry.host.clone();
    let liar = Server::start(move |req| {
        let mut resp = forward(&upstream, req);
        if req.method == "GET" && req.path().ends_with("/manifests/1") {
            resp.body.push(b'\n');
        }
        resp
    });
    let l = liar.addr.clone();
    let auth = cli.auth_file(&l);
    let out = cli.run(&[
        "pull",
        &format!("{l}/liar:1"),
        dir.to_str().unwrap(),
        "--auth-file",
        &auth,
    ]);
    assert_eq!(out.code, 1);
    let mut index = std::fs::read(base_image().join("index.json")).unwrap();
    index.push(b'\n');
    assert_eq!(
        out.stderr,
        format!(
            "Error: {l}/liar served manifest 1 with digest {} instead of {}: refusing it\n",
            crate::support::layout::sha256(&index),
            base_index_digest()
        )
    );
}

#[test]
fn a_403_moves_to_the_next_source() {
    let registry = Registry::start_htpasswd();
    let upstream = registry.host.clone();
    // "limited" may log in but not push: the proxy answers its requests 403, as a registry
    // does for an account without write access.
    let limited = "Basic bGltaXRlZDpwdw=="; // limited:pw
    let proxy = Server::start(move |req| {
        if req.header("authorization") == Some(limited) {
            return Response::new(403)
                .header("Content-Type", "application/json")
                .body(r#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#);
        }
        forward(&upstream, req)
    });
    let p = proxy.addr.clone();
    let cli = Cli::new();
    cli.recording_helper(
        "limited",
        r#"{"ServerURL":"%s","Username":"limited","Secret":"pw"}"#,
    );
    cli.config_json(&format!(r#"{{"credHelpers":{{"{p}":"limited"}}}}"#));
    let auth = cli.auth_file(&p);
    let base = base_image();
    let out = cli
        .run(&[
            "push",
            base.to_str().unwrap(),
            &format!("{p}/denied:1"),
            "--auth-file",
            &auth,
            "--log-level",
            "debug",
        ])
        .ok();
    assert_eq!(out.stdout, format!("{p}/denied@{}\n", base_index_digest()));
    assert!(
        out.stderr
            .contains(&format!("credential rejected: 403 Forbidden from {p}")),
        "{}",
        out.stderr
    );
}

#[test]
fn a_503_is_retried() {
    let registry = Registry::start_htpasswd();
    let proxy = faulty(
        registry.host.clone(),
        |r| r.method == "GET" && r.path().ends_with("/manifests/1"),
        Response::new(503).body("try later"),
    );
    let cli = Cli::new();
    let auth = cli.auth_file(&registry.host);
    cli.push_base(&format!("{}/busy:1", registry.host), &auth, &[])
        .ok();
    let p = proxy.server.addr.clone();
    let auth = cli.auth_file(&p);
    let dir = cli.path("pulled");
    cli.run(&[
        "pull",
        &format!("{p}/busy:1"),
        dir.to_str().unwrap(),
        "--auth-file",
        &auth,
    ])
    .ok();
    assert_eq!(blobs(&dir), base_blobs());
    let gets = proxy
        .times
        .lock()
        .unwrap()
        .iter()
        .filter(|(m, path, _)| m == "GET" && path.ends_with("/manifests/1"))
        .count();
    assert_eq!(gets, 2);
}
