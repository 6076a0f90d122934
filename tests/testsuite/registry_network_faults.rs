//! A registry behind a flaky network, played by a proxy in front of the real one: reset
//! connections, blobs cut off mid-body and 500s are retried and the result is exact; a
//! registry that keeps failing gives an exact error naming the request, and a pull keeps no
//! partial blob.

use crate::support::Registry;
use crate::support::cli::{Cli, base_blobs, base_index_digest, blobs};
use crate::support::http::{Cut, Request, Response, Server, forward};
use crate::support::layout::base_image;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The base image's largest layer.
const LAYER: &str = "sha256:583625b6164fff3b017f62b9fcd60cb53fff18a7e89ee538212134a13fc29fb1";

/// A proxy in front of `upstream`; `fault` sees each request with how many times its method
/// and path came (1 for the first) and the registry's answer, and returns what to send.
struct Flaky {
    server: Server,
    seen: Arc<Mutex<HashMap<(String, String), usize>>>,
}

impl Flaky {
    fn start(
        upstream: String,
        fault: impl Fn(&Request, usize) -> Option<Response> + Send + Sync + 'static,
    ) -> Flaky {
        let seen: Arc<Mutex<HashMap<(String, String), usize>>> = Arc::default();
        let server = {
            let seen = seen.clone();
            Server::start(move |req| {
                let n = {
                    let mut seen = seen.lock().unwrap();
                    let n = seen
                        .entry((req.method.clone(), req.path().to_string()))
                        .or_default();
                    *n += 1;
                    *n
                };
                match fault(req, n) {
                    Some(answer) => answer,
                    None => forward(&upstream, req),
                }
            })
        };
        Flaky { server, seen }
    }

    /// How many times `method path-suffix` came.
    fn count(&self, method: &str, suffix: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|((m, p), _)| m == method && p.ends_with(suffix))
            .map(|(_, n)| *n)
            .sum()
    }
}

/// A registry holding the base image as `base:1`.
fn registry_with_base(cli: &Cli) -> Registry {
    let registry = Registry::start_htpasswd();
    let auth = cli.auth_file(&registry.host);
    cli.push_base(&format!("{}/base:1", registry.host), &auth, &[])
        .ok();
    registry
}

fn pull(cli: &Cli, host: &str, dir: &std::path::Path) -> crate::support::cli::Out {
    let auth = cli.auth_file(host);
    cli.run(&[
        "pull",
        &format!("{host}/base:1"),
        dir.to_str().unwrap(),
        "--auth-file",
        &auth,
    ])
}

#[test]
fn a_pull_recovers_from_resets_cut_off_blobs_and_500s() {
    let cli = Cli::new();
    let registry = registry_with_base(&cli);
    let upstream = registry.host.clone();
    let proxy = Flaky::start(registry.host.clone(), move |req, n| {
        if req.method != "GET" || n > 1 {
            return None;
        }
        let path = req.path();
        if path.ends_with(LAYER) {
            let right = forward(&upstream, req);
            let half = right.body.len() / 2;
            return Some(right.cut(Cut::After(half)));
        }
        if path.contains("/blobs/") {
            return Some(Response::reset());
        }
        if path.ends_with("/manifests/1") {
            return Some(Response::new(500).body("internal error"));
        }
        None
    });
    let p = proxy.server.addr.clone();
    let dir = cli.path("pulled");
    let out = pull(&cli, &p, &dir).ok();
    assert_eq!(out.stderr, "");
    assert_eq!(blobs(&dir), base_blobs());
    // Each fault cost exactly one more request: every blob was asked for twice.
    assert_eq!(proxy.count("GET", "/manifests/1"), 2);
    for (name, _) in blobs(&base_image()) {
        let as_blob = proxy.count("GET", &format!("/blobs/sha256:{name}"));
        let as_manifest = proxy.count("GET", &format!("/manifests/sha256:{name}"));
        assert!(
            (as_blob, as_manifest) == (2, 0) || (as_blob, as_manifest) == (0, 1),
            "{name}: {as_blob} blob GETs, {as_manifest} manifest GETs"
        );
    }
}

#[test]
fn a_push_recovers_from_resets_and_500s() {
    let cli = Cli::new();
    let registry = Registry::start_htpasswd();
    let reset: Mutex<std::collections::HashSet<String>> = Mutex::default();
    let proxy = Flaky::start(registry.host.clone(), move |req, n| {
        // The first upload of each blob (the PUT that ends it; each upload has its own path)
        // is reset: the registry never sees it. The first tag PUT gets a 500.
        if req.method == "PUT"
            && let Some((_, digest)) = req.target.split_once("digest=")
            && reset.lock().unwrap().insert(digest.to_string())
        {
            return Some(Response::reset());
        }
        if n == 1 && req.method == "PUT" && req.path().ends_with("/manifests/1") {
            return Some(Response::new(500));
        }
        None
    });
    let p = proxy.server.addr.clone();
    let auth = cli.auth_file(&p);
    let out = cli.push_base(&format!("{p}/flaky:1"), &auth, &[]).ok();
    assert_eq!(out.stdout, format!("{p}/flaky@{}\n", base_index_digest()));
    assert_eq!(proxy.count("PUT", "/manifests/1"), 2);
    // Every blob upload was started twice.
    let layers_and_configs = blobs(&base_image()).len() - 2;
    assert_eq!(
        proxy.count("POST", "/blobs/uploads/"),
        2 * layers_and_configs
    );
    // What the registry holds is exactly the image.
    let dir = cli.path("check");
    let auth = cli.auth_file(&registry.host);
    cli.run(&[
        "pull",
        &format!("{}/flaky:1", registry.host),
        dir.to_str().unwrap(),
        "--auth-file",
        &auth,
    ])
    .ok();
    assert_eq!(blobs(&dir), base_blobs());
}

#[test]
fn a_registry_that_keeps_failing_gives_an_exact_error() {
    let cli = Cli::new();
    let registry = registry_with_base(&cli);

    // Every download of the layer is cut off after 1000 bytes: the pull fails after four
    // attempts and keeps no partial blob.
    let upstream = registry.host.clone();
    let cut = Flaky::start(registry.host.clone(), move |req, _| {
        (req.method == "GET" && req.path().ends_with(LAYER))
            .then(|| forward(&upstream, req).cut(Cut::After(1000)))
    });
    let c = cut.server.addr.clone();
    let dir = cli.path("pulled");
    let out = pull(&cli, &c, &dir);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        format!(
            "Error: GET blob {LAYER} from {c}/base: error reading a body from connection: end of file before message length reached (the connection closed before the whole body arrived) (after 4 attempts)\n"
        )
    );
    assert_eq!(cut.count("GET", LAYER), 4);
    let left: Vec<String> = std::fs::read_dir(dir.join("blobs/sha256"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| n.contains(&LAYER[7..]))
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");

    // Every blob upload is reset: the push fails naming the blob, after four attempts.
    let reset = Flaky::start(registry.host.clone(), move |req, _| {
        (req.method == "PUT").then(Response::reset)
    });
    let r = reset.server.addr.clone();
    let auth = cli.auth_file(&r);
    let out = cli.push_base(&format!("{r}/never:1"), &auth, &[]);
    assert_eq!(out.code, 1);
    let pattern = "Error: uploading blob sha256:";
    assert!(out.stderr.starts_with(pattern), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            " to {r}/never: PUT http://{r}/v2/never/blobs/uploads/"
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.ends_with(
            "?…: connection error: Connection reset by peer (os error 104) (after 4 attempts)\n"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    // Nothing was tagged.
    assert_eq!(reset.count("PUT", "/manifests/1"), 0);
}

#[test]
fn retries_are_counted_once_and_follow_retry_times() {
    // HEAD of one blob always answers 503: the transport retries it `--retry-times` times and
    // the blob is not pushed again on top (which would multiply the requests).
    let cli = Cli::new();
    let registry = Registry::start_htpasswd();
    let proxy = Flaky::start(registry.host.clone(), move |req, _| {
        (req.method == "HEAD" && req.path().ends_with(LAYER)).then(|| Response::new(503))
    });
    let p = proxy.server.addr.clone();
    let auth = cli.auth_file(&p);
    let out = cli.push_base(&format!("{p}/busy:1"), &auth, &["--retry-times", "2"]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        format!(
            "Error: HEAD blob {LAYER} in {p}/busy: 503 Service Unavailable (after 3 attempts)\n"
        )
    );
    assert_eq!(proxy.count("HEAD", LAYER), 3);
}

#[test]
fn a_retry_after_beyond_the_limit_is_not_waited_for_and_the_error_says_so() {
    // HEAD of one blob answers 429 asking for an hour: no second request, no blob-level
    // restart, and the error tells the user to come back later.
    let cli = Cli::new();
    let registry = Registry::start_htpasswd();
    let proxy = Flaky::start(registry.host.clone(), move |req, _| {
        (req.method == "HEAD" && req.path().ends_with(LAYER))
            .then(|| Response::new(429).header("Retry-After", "3600"))
    });
    let p = proxy.server.addr.clone();
    let auth = cli.auth_file(&p);
    let out = cli.push_base(&format!("{p}/later:1"), &auth, &[]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        format!(
            "Error: HEAD blob {LAYER} in {p}/later: 429 Too Many Requests (it asked to be retried in 3600 s, longer than apko waits: try again later)\n"
        )
    );
    assert_eq!(proxy.count("HEAD", LAYER), 1);
}

#[test]
fn a_manifest_that_keeps_failing_names_the_attempts() {
    let cli = Cli::new();
    let registry = registry_with_base(&cli);
    let proxy = Flaky::start(registry.host.clone(), move |req, _| {
        req.path()
            .ends_with("/manifests/1")
            .then(|| Response::new(502).body("bad gateway"))
    });
    let p = proxy.server.addr.clone();
    let dir = cli.path("pulled");
    let out = pull(&cli, &p, &dir);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        format!(
            "Error: GET manifest 1 of {p}/base: 502 Bad Gateway (bad gateway) (after 4 attempts)\n"
        )
    );
    assert_eq!(proxy.count("GET", "/manifests/1"), 4);
    assert!(!dir.exists(), "a failed pull leaves no layout");
}

#[test]
fn a_chunk_that_fails_continues_from_what_the_registry_holds() {
    use crate::support::cli::{assert_pulls_back, client, one_mib_chunks, runtime};
    use apko::registry::push::push_layout;
    use apko::registry::reference::Reference;
    let registry = Registry::start_htpasswd();
    // The second PATCH of the upload is reset before the registry sees it.
    let proxy = Flaky::start(registry.host.clone(), |req, n| {
        (req.method == "PATCH" && n == 2).then(Response::reset)
    });
    let p = proxy.server.addr.clone();
    let dir = tempfile::tempdir().unwrap();
    let layout =
        crate::support::layout::random_layout(&dir.path().join("layout"), &[2_500_000], 11);
    let client = client();
    let options = one_mib_chunks();
    let tag = Reference::parse(&format!("{p}/resume:1")).unwrap();
    let rt = runtime();
    let pushed = rt
        .block_on(push_layout(&client, &layout.dir, &[tag], &options))
        .unwrap();
    assert_eq!(pushed.digest.as_str(), layout.index_digest);
    // One upload, not two: three chunks plus the reset one, and one status query.
    assert_eq!(
        proxy.count("POST", "/v2/resume/blobs/uploads/"),
        2,
        "the layer and the config"
    );
    let upload_paths: Vec<(String, usize)> = proxy
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|((m, path), _)| m == "PATCH" && path.contains("/blobs/uploads/"))
        .map(|((_, path), n)| (path.clone(), *n))
        .collect();
    assert_eq!(upload_paths.len(), 1, "{upload_paths:?}");
    assert_eq!(upload_paths[0].1, 4, "3 chunks and the reset one");
    let status_queries = registry
        .requests()
        .into_iter()
        .filter(|(m, u, s)| m == "GET" && u.contains("/v2/resume/blobs/uploads/") && *s == 204)
        .count();
    assert_eq!(status_queries, 1);

    // What the registry holds is the layer, byte for byte.
    assert_pulls_back(
        &rt,
        &client,
        &format!("{}/resume:1", registry.host),
        &layout,
    );
}
