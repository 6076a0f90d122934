//! Downloads for indexes, packages and keys. Each host's credential comes from the resolver
//! once (helpers run once per host, not per file); when the server answers 401 or 403 the
//! next source is tried and the one that works is kept for the rest of the build. Local
//! repositories are read in place; `offline` serves http(s) only from the cache.

use super::ApkError;
use super::repo::{Location, Spec};
use crate::auth::Credential;
use crate::auth::resolver::{Outcome, ResolveError, Resolved, Resolver, Step, Target};
use crate::net::retry;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::Mutex;

/// Where the credential of a host comes from.
#[derive(Clone)]
enum HostAuth {
    /// `user:password@` in the URL: used as is, never replaced.
    Url(Credential),
    /// From the resolver (anonymous once no source is left).
    Resolved(Resolved),
}

/// The credential state of one host; `generation` counts rejections handled.
#[derive(Default)]
struct HostCell {
    auth: Option<HostAuth>,
    generation: u64,
}

/// What is being downloaded: it sets the size limit of the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An `APKINDEX.tar.gz`: no larger than its inflated limit allows (gzip never grows data
    /// by more than a few bytes per 64 KiB), nor than `--max-http-response-size`.
    Index,
    /// A `.apk`: `--max-http-response-size`.
    Package,
    /// A public key: [`crate::net::MAX_KEY_SIZE`].
    Key,
    /// A key-discovery document (`apk-configuration`, its JWKS): as small as a key.
    Discovery,
}

impl Kind {
    fn limit(self, policy: &crate::net::Policy) -> (u64, &'static str) {
        let http = policy.max_http_response_size;
        match self {
            Kind::Index => {
                let inflated = policy.max_apkindex_decompressed_size;
                let compressed = inflated
                    .saturating_add(inflated / 1000)
                    .saturating_add(1 << 20);
                if compressed < http {
                    (compressed, "--max-apkindex-decompressed-size")
                } else {
                    (http, "--max-http-response-size")
                }
            }
            Kind::Package => (http, "--max-http-response-size"),
            Kind::Key | Kind::Discovery if crate::net::MAX_KEY_SIZE < http => {
                (crate::net::MAX_KEY_SIZE, "a public key is far smaller")
            }
            Kind::Key | Kind::Discovery => (http, "--max-http-response-size"),
        }
    }
}

/// What [`Fetcher::read`] got, and where the cache keeps it once the caller has verified it
/// ([`Fetcher::keep`]): unverified bytes never reach the cache.
pub struct Fetched {
    /// The file.
    pub bytes: Vec<u8>,
    /// The cache file it goes to once verified; `None` when it came from the cache or a
    /// local repository, or there is no cache.
    pub unstored: Option<PathBuf>,
}

/// Fetches files for one build.
pub struct Fetcher<'a> {
    client: reqwest::Client,
    policy: crate::net::Policy,
    resolver: &'a Resolver,
    hosts: Mutex<HashMap<String, Arc<Mutex<HostCell>>>>,
    cache_dir: Option<PathBuf>,
    offline: bool,
    /// Set once a cache write has failed (warned about once per build).
    cache_failed: std::sync::atomic::AtomicBool,
}

/// Runs a (blocking) resolver call without stalling other tasks of a multi-thread runtime.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// A network error with its causes, and what to do for certificate problems.
fn describe(e: reqwest::Error) -> String {
    let mut text = crate::net::describe(&e);
    if crate::net::is_certificate_problem(&text) {
        text.push_str(
            "; if the server's certificate comes from a private CA, give its certificate with --ca-file FILE (or SSL_CERT_FILE)",
        );
    }
    text
}

fn status_text(status: reqwest::StatusCode) -> String {
    format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
    .trim()
    .to_string()
}

impl<'a> Fetcher<'a> {
    /// A fetcher trusting the system roots (or `SSL_CERT_FILE`'s) plus `ca_certificates`
    /// (`--ca-file`).
    pub fn new(
        resolver: &'a Resolver,
        cache_dir: Option<PathBuf>,
        offline: bool,
        ca_certificates: &[PathBuf],
    ) -> Result<Fetcher<'a>, ApkError> {
        let certs =
            crate::net::tls::extra_roots(ca_certificates).map_err(|reason| ApkError::Fetch {
                url: String::new(),
                reason,
            })?;
        let policy = crate::net::policy();
        // The read timeout and the deadline are kept by `get` (reqwest's would not say
        // which of them passed, nor after how long). Redirects are followed (mirrors and
        // CDNs use them); reqwest drops the credentials when the host changes.
        let client = crate::net::tls::builder(&policy)
            .tls_certs_merge(certs)
            .build()
            .map_err(|e| ApkError::Tls(format!("cannot set up HTTPS: {}", e.without_url())))?;
        Ok(Fetcher {
            client,
            policy,
            resolver,
            hosts: Mutex::default(),
            cache_dir,
            offline,
            cache_failed: Default::default(),
        })
    }

    /// Whether downloads are refused (`--offline`).
    pub fn offline(&self) -> bool {
        self.offline
    }

    /// The cache directory, if any.
    pub fn cache_dir(&self) -> Option<&Path> {
        self.cache_dir.as_deref()
    }

    /// Reads `location` of repository `spec`: a local file, or a download with the host's
    /// credentials, bounded by what `kind` may be. `cache` (a relative path in the cache
    /// directory) keeps downloads for offline builds once the caller has verified them
    /// ([`Fetcher::keep`]); `reuse` serves a cached copy without downloading (packages, whose
    /// checksum is verified after).
    pub async fn read(
        &self,
        spec: &Spec,
        location: &Location,
        cache: Option<&str>,
        reuse: bool,
        kind: Kind,
    ) -> Result<Fetched, ApkError> {
        let url = match location {
            Location::Local(path) => {
                return Ok(Fetched {
                    bytes: std::fs::read(path).map_err(|e| ApkError::io(path, e))?,
                    unstored: None,
                });
            }
            Location::Http(url) => url,
        };
        let cached = cache.and_then(|c| self.cache_dir.as_ref().map(|d| d.join(c)));
        if let Some(path) = &cached
            && (reuse || self.offline)
            && let Ok(bytes) = std::fs::read(path)
        {
            return Ok(Fetched {
                bytes,
                unstored: None,
            });
        }
        if self.offline {
            return Err(ApkError::Offline {
                url: url.clone(),
                cache: self.cache_dir.clone(),
            });
        }
        let bytes = self
            .get(spec, url, kind, false)
            .await?
            .expect("only a lookup answers a miss");
        Ok(Fetched {
            bytes,
            unstored: cached,
        })
    }

    /// Puts a download that passed verification into the cache (see [`Fetched`]).
    pub fn keep(&self, unstored: Option<PathBuf>, bytes: &[u8]) {
        if let Some(path) = &unstored
            && let Err(e) = store(path, bytes)
            && !self
                .cache_failed
                .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            // The build does not need the cache: a read-only or missing home must not fail it.
            tracing::warn!("downloads are not cached: {e}");
        }
    }

    /// Forgets a cached copy that failed verification.
    pub fn evict(&self, cache: &str) {
        if let Some(dir) = &self.cache_dir {
            let _ = std::fs::remove_file(dir.join(cache));
        }
    }

    async fn host_state(&self, host: &str) -> Arc<Mutex<HostCell>> {
        self.hosts
            .lock()
            .await
            .entry(host.to_string())
            .or_default()
            .clone()
    }

    /// GET `url` (credentials from `spec` or its host, as for a download), where a 404
    /// means the server does not offer it: `None`. For key discovery, which is optional.
    pub async fn lookup(
        &self,
        spec: &Spec,
        url: &str,
        kind: Kind,
    ) -> Result<Option<Vec<u8>>, ApkError> {
        if self.offline {
            return Err(ApkError::Offline {
                url: url.to_string(),
                cache: self.cache_dir.clone(),
            });
        }
        self.get(spec, url, kind, true).await
    }

    /// GET `url` (no credentials in it) with the credentials for its host; a 404 is `None`
    /// when `missing_ok`, an error otherwise.
    async fn get(
        &self,
        spec: &Spec,
        url: &str,
        kind: Kind,
        missing_ok: bool,
    ) -> Result<Option<Vec<u8>>, ApkError> {
        let target = Target::apk_repository(url);
        let cell = self.host_state(&target.host).await;
        let (limit, setting) = kind.limit(&self.policy);
        let after = |attempt: u32| format!("after {attempt} attempts");
        let mut attempt = 0u32;
        loop {
            // Take the host's current credential; requests run in parallel, outside the lock.
            let (auth, generation) = {
                let mut host = cell.lock().await;
                if host.auth.is_none() {
                    host.auth = Some(match &spec.userinfo {
                        Some((user, pass)) => {
                            let credential = Credential::Basic {
                                username: user.clone(),
                                password: pass.clone(),
                            };
                            crate::redact::remember_credential(&credential);
                            HostAuth::Url(credential)
                        }
                        None => HostAuth::Resolved(
                            blocking(|| self.resolver.resolve(&target))
                                .unwrap_or_else(Resolved::anonymous_after),
                        ),
                    });
                }
                (host.auth.clone().expect("set above"), host.generation)
            };
            let credential = match &auth {
                HostAuth::Url(c) => Some(c.clone()),
                HostAuth::Resolved(r) => r.credential.clone(),
            };
            let mut request = self.client.get(url);
            request = match &credential {
                Some(Credential::Basic { username, password }) => {
                    request.basic_auth(username, Some(password.expose()))
                }
                Some(Credential::Bearer(token)) | Some(Credential::IdentityToken(token)) => {
                    request.bearer_auth(token.expose())
                }
                None => request,
            };
            attempt += 1;
            let waited = self.policy.read_timeout;
            let sent = match tokio::time::timeout(waited, request.send()).await {
                Ok(sent) => sent.map_err(describe),
                Err(_) => Err(crate::net::header_timeout(&target.host, waited)),
            };
            let response = match sent {
                Ok(r) => r,
                Err(reason) => {
                    // A certificate problem will not go away by asking again.
                    if reason.contains("certificate") {
                        return Err(ApkError::Fetch {
                            url: url.to_string(),
                            reason,
                        });
                    }
                    if attempt < ATTEMPTS {
                        tracing::debug!(url, attempt, "download failed ({reason}); retrying");
                        tokio::time::sleep(retry::backoff(attempt - 1)).await;
                        continue;
                    }
                    return Err(ApkError::Fetch {
                        url: url.to_string(),
                        reason: format!("{reason} ({})", after(attempt)),
                    });
                }
            };
            let status = response.status();
            if status.is_success() {
                match crate::net::read_body(response, limit, setting, &self.policy).await {
                    Ok(bytes) => return Ok(Some(bytes.into())),
                    Err(e) if e.is_transient() && attempt < ATTEMPTS => {
                        tracing::debug!(url, attempt, "download cut off ({e}); retrying");
                        tokio::time::sleep(retry::backoff(attempt - 1)).await;
                        continue;
                    }
                    Err(e) if e.is_transient() => {
                        return Err(ApkError::Fetch {
                            url: url.to_string(),
                            reason: format!("{e} ({})", after(attempt)),
                        });
                    }
                    Err(e) => {
                        return Err(ApkError::Fetch {
                            url: url.to_string(),
                            reason: e.to_string(),
                        });
                    }
                }
            }
            let transient = retry::retriable_status(status);
            let wait = retry::wait(attempt - 1, response.headers(), retry::MAX_RETRY_AFTER);
            if transient
                && attempt < ATTEMPTS
                && let Some(wait) = wait
            {
                tracing::debug!(url, attempt, status = %status_text(status), "retrying in {wait:?}");
                tokio::time::sleep(wait).await;
                continue;
            }
            if transient && wait.is_none() {
                return Err(ApkError::Fetch {
                    url: url.to_string(),
                    reason: format!(
                        "the server answered {} and asks to retry after more than {} ({})",
                        status_text(status),
                        crate::net::seconds(retry::MAX_RETRY_AFTER),
                        after(attempt)
                    ),
                });
            }
            if transient {
                return Err(ApkError::Fetch {
                    url: url.to_string(),
                    reason: format!(
                        "the server answered {} ({})",
                        status_text(status),
                        after(attempt)
                    ),
                });
            }
            if missing_ok && status == reqwest::StatusCode::NOT_FOUND {
                return Ok(None);
            }
            if status != reqwest::StatusCode::UNAUTHORIZED
                && status != reqwest::StatusCode::FORBIDDEN
            {
                return Err(ApkError::Fetch {
                    url: url.to_string(),
                    reason: format!("the server answered {}", status_text(status)),
                });
            }
            let why = status_text(status);
            let mut host = cell.lock().await;
            if host.generation != generation {
                continue; // another download already moved on to the next source
            }
            let rejected = |mut trail: Vec<Step>| {
                match trail.last_mut() {
                    Some(step) if credential.is_some() => {
                        step.outcome = Outcome::Rejected(why.clone())
                    }
                    _ => trail.push(Step {
                        source: "anonymous".to_string(),
                        outcome: Outcome::Rejected(why.clone()),
                    }),
                }
                ApkError::Auth {
                    url: url.to_string(),
                    cause: ResolveError {
                        host: target.host.clone(),
                        trail,
                    },
                }
            };
            match auth {
                HostAuth::Url(c) => {
                    return Err(rejected(vec![Step {
                        source: "the user name and password in the repository URL".to_string(),
                        outcome: Outcome::Found(c),
                    }]));
                }
                HostAuth::Resolved(previous) => {
                    if previous.credential.is_none() {
                        return Err(rejected(previous.trail));
                    }
                    let next = blocking(|| self.resolver.resolve_after(&target, &previous, &why))
                        .unwrap_or_else(Resolved::anonymous_after);
                    tracing::debug!(host = %target.host, status = %why, "credential rejected; trying the next source");
                    host.auth = Some(HostAuth::Resolved(next));
                    host.generation += 1;
                }
            }
        }
    }
}

/// Tries per download (the first included), as for registries.
const ATTEMPTS: u32 = retry::RETRIES + 1;

/// Writes `bytes` to `path` atomically (a crash leaves no half-written cache entry).
fn store(path: &Path, bytes: &[u8]) -> Result<(), ApkError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    crate::cache::create_dir(dir).map_err(|e| ApkError::io(dir, e))?;
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| ApkError::io(dir, e))?;
    std::fs::write(tmp.path(), bytes).map_err(|e| ApkError::io(tmp.path(), e))?;
    tmp.persist(path).map_err(|e| ApkError::io(path, e.error))?;
    Ok(())
}

/// A cache file name for a URL (indexes and keys, whose content is not known in advance).
pub fn url_key(url: &str) -> String {
    hex::encode(&Sha256::digest(url.as_bytes())[..16])
}
