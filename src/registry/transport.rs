//! HTTP for registries: TLS roots, when plain HTTP is allowed, retries with backoff, and
//! redirects followed by hand so that `Authorization` only ever goes to the origin it is for.

use super::error::Error;
use crate::net::retry::{backoff, retriable_status, retry_after};
use bytes::Bytes;
use futures_util::TryStreamExt;
use reqwest::header::{AUTHORIZATION, CONTENT_LENGTH, HeaderMap, HeaderValue, LOCATION};
use reqwest::{Method, StatusCode, Url};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// How to reach registries; the command-line flags.
#[derive(Debug, Clone)]
pub struct Options {
    /// Registries (`host` or `host:port`) that may be reached over plain HTTP when HTTPS
    /// fails, as docker's `--insecure-registry`. Loopback registries always may.
    pub insecure_registries: Vec<String>,
    /// Use plain HTTP for every registry (oras's `--plain-http`).
    pub plain_http: bool,
    /// Extra CA certificates (PEM files) trusted besides the system's (or `SSL_CERT_FILE`'s).
    pub ca_files: Vec<PathBuf>,
    /// Parallel blob transfers.
    pub jobs: usize,
    /// Retries of a request that got 429, 5xx or no answer.
    pub retries: u32,
    /// Longest wait a `Retry-After` may ask for before giving up.
    pub max_retry_after: Duration,
    /// Show progress bars (on a terminal).
    pub progress: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            insecure_registries: Vec::new(),
            plain_http: false,
            ca_files: Vec::new(),
            jobs: 4,
            retries: crate::net::retry::RETRIES,
            max_retry_after: crate::net::retry::MAX_RETRY_AFTER,
            progress: false,
        }
    }
}

/// A request body that can be produced again for a retry.
#[derive(Debug, Clone)]
pub enum Body {
    /// No body.
    Empty,
    /// Bytes in memory.
    Bytes(Bytes),
    /// A range of a file, streamed.
    File {
        /// The file.
        path: PathBuf,
        /// Where the range starts.
        offset: u64,
        /// Its length.
        len: u64,
    },
}

/// One request, reusable across retries and re-authentication.
#[derive(Debug, Clone)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The URL.
    pub url: Url,
    /// Headers other than `Authorization`.
    pub headers: HeaderMap,
    /// The body.
    pub body: Body,
    /// Whether repeating the request is safe (false for upload steps, retried whole).
    pub retry: bool,
}

impl Request {
    /// A body-less request that may be retried.
    pub fn new(method: Method, url: Url) -> Request {
        Request {
            method,
            url,
            headers: HeaderMap::new(),
            body: Body::Empty,
            retry: true,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: reqwest::header::HeaderName, value: &str) -> Request {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.insert(name, v);
        }
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: Body) -> Request {
        self.body = body;
        self
    }
}

/// The answer, and whether it came from the origin the credentials are for.
pub struct Sent {
    /// The final response (after redirects).
    pub response: reqwest::Response,
    /// False when a redirect led to another host.
    pub from_origin: bool,
}

/// What [`Transport::send`] went through for the answer it returns, kept in the response's
/// extensions so that a status error can say it is not a passing one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tried {
    /// Requests sent, this answer's included.
    pub attempts: u32,
    /// A `Retry-After` longer than [`Options::max_retry_after`] that was not waited for.
    pub refused_wait: Option<Duration>,
    /// Retrying stopped at the limit: the caller must not start over.
    pub exhausted: bool,
}

impl Tried {
    /// What the transport recorded in `response` (one plain attempt when nothing was).
    pub fn of(response: &reqwest::Response) -> Tried {
        response
            .extensions()
            .get::<Tried>()
            .copied()
            .unwrap_or(Tried {
                attempts: 1,
                ..Tried::default()
            })
    }
}

/// Counts bytes sent or received, for progress bars.
pub type Counter = std::sync::Arc<dyn Fn(u64) + Send + Sync>;

/// The HTTP client with this process's TLS and plain-HTTP policy.
pub struct Transport {
    /// For `http://` URLs: no certificate store is loaded for it.
    plain: reqwest::Client,
    /// For `https://` URLs, built on first use (loading the system's roots takes a while).
    tls: OnceLock<Result<reqwest::Client, String>>,
    /// `--ca-file` certificates.
    extra_roots: Vec<reqwest::Certificate>,
    options: Options,
    /// Timeouts and size limits (the command's [`crate::net::policy`]).
    policy: crate::net::Policy,
}

/// What both clients share: no automatic redirects, HTTP/1.1 only. The read timeout is
/// kept by [`Transport::send`] and the body readers, which know what was awaited (reqwest's
/// would also count the time spent sending an upload).
fn builder(policy: &crate::net::Policy) -> reqwest::ClientBuilder {
    crate::net::tls::builder(policy)
        .redirect(reqwest::redirect::Policy::none())
        // Parallel uploads on parallel HTTP/1.1 connections: one HTTP/2 connection would cap
        // them all at the server's flow-control window (1 MiB in Go's registries).
        .http1_only()
}

impl Transport {
    /// Checks `SSL_CERT_FILE` and reads the `--ca-file` certificates; HTTPS then trusts the
    /// system roots (or `SSL_CERT_FILE`'s) plus those.
    pub fn new(options: Options) -> Result<Transport, Error> {
        let extra_roots = crate::net::tls::extra_roots(&options.ca_files).map_err(Error::Tls)?;
        let policy = crate::net::policy();
        let plain = builder(&policy)
            .tls_certs_only(Vec::new())
            .build()
            .map_err(|e| Error::Tls(format!("cannot set up the HTTP client: {}", chain(&e))))?;
        Ok(Transport {
            plain,
            tls: OnceLock::new(),
            extra_roots,
            options,
            policy,
        })
    }

    /// The client for `url`'s scheme.
    fn client(&self, url: &Url) -> Result<&reqwest::Client, Error> {
        if url.scheme() == "http" {
            return Ok(&self.plain);
        }
        self.tls
            .get_or_init(|| {
                builder(&self.policy)
                    .tls_certs_merge(self.extra_roots.clone())
                    .build()
                    .map_err(|e| chain(&e))
            })
            .as_ref()
            .map_err(|e| Error::Tls(format!("cannot set up HTTPS: {e}")))
    }

    /// The options it was built with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Its timeouts and size limits.
    pub fn policy(&self) -> &crate::net::Policy {
        &self.policy
    }

    /// Whether `host` (`name[:port]`) may be spoken to over plain HTTP.
    pub fn plain_http_allowed(&self, host: &str) -> bool {
        let name = host_name(host);
        self.options.plain_http
            || is_loopback(name)
            || self
                .options
                .insecure_registries
                .iter()
                .any(|r| r.eq_ignore_ascii_case(host) || r.eq_ignore_ascii_case(name))
    }

    /// Sends `req`, retrying 429/5xx/connection failures (when `req.retry`) and following
    /// GET/HEAD redirects; `auth` goes only to `origin` (scheme, host and port).
    pub async fn send(
        &self,
        req: &Request,
        auth: Option<&HeaderValue>,
        origin: &Url,
        progress: Option<&Counter>,
    ) -> Result<Sent, Error> {
        let mut attempt = 0;
        loop {
            let result = self.send_once(req, auth, origin, progress).await;
            let retry = req.retry && attempt < self.options.retries;
            let tried = |refused_wait| Tried {
                attempts: attempt + 1,
                refused_wait,
                exhausted: req.retry,
            };
            match result {
                Ok(mut sent) if retry && retriable_status(sent.response.status()) => {
                    let wait =
                        retry_after(sent.response.headers()).unwrap_or_else(|| backoff(attempt));
                    if wait > self.options.max_retry_after {
                        sent.response.extensions_mut().insert(tried(Some(wait)));
                        return Ok(sent);
                    }
                    tracing::debug!(
                        "{} {}: {}, retrying in {wait:?}",
                        req.method,
                        redact(&req.url),
                        sent.response.status()
                    );
                    drop(sent);
                    tokio::time::sleep(wait).await;
                }
                Err(e) if retry && e.is_retriable() => {
                    tracing::debug!("{e}; retrying");
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(e) if req.retry && e.is_retriable() => {
                    // Already retried here: the blob-level retry must not multiply it.
                    return Err(e.after_attempts(attempt + 1).retried());
                }
                Ok(mut sent) => {
                    sent.response.extensions_mut().insert(tried(None));
                    return Ok(sent);
                }
                other => return other,
            }
            attempt += 1;
        }
    }

    async fn send_once(
        &self,
        req: &Request,
        auth: Option<&HeaderValue>,
        origin: &Url,
        progress: Option<&Counter>,
    ) -> Result<Sent, Error> {
        let mut url = req.url.clone();
        let follow = req.method == Method::GET || req.method == Method::HEAD;
        for _hop in 0..=10 {
            let from_origin = same_origin(&url, origin);
            let mut builder = self
                .client(&url)?
                .request(req.method.clone(), url.clone())
                .headers(req.headers.clone());
            if from_origin && let Some(a) = auth {
                builder = builder.header(AUTHORIZATION, a.clone());
            }
            // When a byte of the request body last left: no answer is awaited before the
            // body is sent.
            let activity = Activity::new();
            builder = match &req.body {
                Body::Empty => builder,
                Body::Bytes(b) => builder
                    .header(CONTENT_LENGTH, b.len())
                    .body(reqwest::Body::from(b.clone())),
                Body::File { path, offset, len } => builder.header(CONTENT_LENGTH, *len).body(
                    file_body(path, *offset, *len, progress.cloned(), activity.clone()).await?,
                ),
            };
            let context = || format!("{} {}", req.method, redact(&url));
            let idle = self.policy.read_timeout;
            let send = builder.send();
            tokio::pin!(send);
            let response = loop {
                tokio::select! {
                    sent = &mut send => break sent.map_err(|e| Error::transport(context(), &e))?,
                    _ = tokio::time::sleep_until(activity.last() + idle) => {
                        if activity.last() + idle <= tokio::time::Instant::now() {
                            return Err(Error::Transport {
                                context: context(),
                                cause: crate::net::header_timeout(&authority(&url), idle),
                                hint: String::new(),
                                retriable: true,
                            });
                        }
                    }
                }
            };
            let status = response.status();
            if !(follow && status.is_redirection() && status != StatusCode::NOT_MODIFIED) {
                return Ok(Sent {
                    response,
                    from_origin,
                });
            }
            let Some(next) = response
                .headers()
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| url.join(l).ok())
            else {
                return Err(Error::Protocol(format!(
                    "{}: {status} without a usable Location",
                    context()
                )));
            };
            if next.scheme() == "http"
                && !self.plain_http_allowed(&authority(&next))
                && url.scheme() == "https"
            {
                return Err(Error::Refused(format!(
                    "{}: redirected from HTTPS to plain HTTP ({}); refusing (name the host with --insecure-registry to allow it)",
                    context(),
                    redact(&next)
                )));
            }
            tracing::debug!("{}: {status} → {}", context(), redact(&next));
            url = next;
        }
        Err(Error::Protocol(format!(
            "{} {}: more than 10 redirects",
            req.method,
            redact(&req.url)
        )))
    }
}

/// When a request last made progress (its start, or the last chunk of its body taken by the
/// connection).
#[derive(Clone)]
struct Activity {
    start: tokio::time::Instant,
    millis: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: tokio::time::Instant::now(),
            millis: Default::default(),
        }
    }

    fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.millis.store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    fn last(&self) -> tokio::time::Instant {
        self.start + Duration::from_millis(self.millis.load(std::sync::atomic::Ordering::Relaxed))
    }
}

/// A streamed body over `len` bytes of `path` from `offset`.
async fn file_body(
    path: &Path,
    offset: u64,
    len: u64,
    progress: Option<Counter>,
    activity: Activity,
) -> Result<reqwest::Body, Error> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| Error::Io(format!("cannot open {}: {e}", path.display())))?;
    if offset > 0 {
        file.seek(std::io::SeekFrom::Start(offset))
            .await
            .map_err(|e| Error::Io(format!("cannot seek in {}: {e}", path.display())))?;
    }
    let stream = tokio_util::io::ReaderStream::with_capacity(file.take(len), 256 * 1024)
        .inspect_ok(move |chunk| {
            activity.touch();
            if let Some(p) = &progress {
                p(chunk.len() as u64);
            }
        });
    Ok(reqwest::Body::wrap_stream(stream))
}

/// Same scheme, host and port.
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// `host[:port]` of a URL, as registries are named.
pub fn authority(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => String::new(),
    }
}

/// The URL without its query (upload URLs carry opaque state), for messages and logs.
pub fn redact(url: &Url) -> String {
    let mut u = url.clone();
    let had_query = u.query().is_some();
    u.set_query(None);
    let mut text = u.to_string();
    if had_query {
        text.push_str("?…");
    }
    text
}

/// `name` of `name:port`, `[v6]:port` or `name`.
pub fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// `localhost` and loopback addresses.
pub fn is_loopback(name: &str) -> bool {
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost")
        || name.to_ascii_lowercase().ends_with(".localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Private, loopback, link-local or unspecified IP literals: where a token realm named by a
/// public registry must not point.
pub fn is_internal_ip(name: &str) -> bool {
    let name = name.trim_start_matches('[').trim_end_matches(']');
    match name.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            ip.is_private()
                || ip.is_loopback()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || (ip.octets()[0] == 100 && (ip.octets()[1] & 0xc0) == 64)
        }
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || (ip.segments()[0] & 0xfe00) == 0xfc00
                || (ip.segments()[0] & 0xffc0) == 0xfe80
                || ip
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_internal_ip(&v4.to_string()))
        }
        Err(_) => false,
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(host_name("r.example:5000"), "r.example");
        assert_eq!(host_name("[::1]:5000"), "::1");
        assert_eq!(host_name("r.example"), "r.example");
        assert!(is_loopback("127.0.0.7"));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("[::1]"));
        assert!(!is_loopback("10.0.0.1"));
        assert!(is_internal_ip("10.1.2.3"));
        assert!(is_internal_ip("169.254.169.254"));
        assert!(is_internal_ip("[fd00::1]"));
        assert!(!is_internal_ip("8.8.8.8"));
        assert!(!is_internal_ip("auth.example"));
    }

    #[test]
    fn origins() {
        let a = Url::parse("https://r.example/v2/").unwrap();
        assert!(same_origin(
            &a,
            &Url::parse("https://r.example:443/x").unwrap()
        ));
        assert!(!same_origin(&a, &Url::parse("http://r.example/x").unwrap()));
        assert!(!same_origin(
            &a,
            &Url::parse("https://r.example:8443/x").unwrap()
        ));
        assert!(!same_origin(
            &a,
            &Url::parse("https://cdn.example/x").unwrap()
        ));
        assert_eq!(
            redact(&Url::parse("http://h:1/v2/a/blobs/uploads/x?_state=abc&digest=d").unwrap()),
            "http://h:1/v2/a/blobs/uploads/x?…"
        );
    }
}
