//! Authentication state for one registry: how it asks to be authenticated (learnt from the
//! `/v2/` ping or a later 401), the credential in use for each repository (from the resolver,
//! moving to the next source when the server rejects one), and cached tokens per scope set.

use super::challenge::{self, Challenge};
use super::error::Error;
use super::token::{self, Realm, Token, TokenError, TokenRequest, basic_header, bearer_header};
use super::transport::{Request, Transport, host_name, is_internal_ip, is_loopback, redact};
use crate::auth::Credential;
use crate::auth::resolver::{Outcome, ResolveError, Resolved, Resolver, Step, Target};
use reqwest::header::{HeaderValue, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode, Url};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// Where credentials come from.
#[derive(Clone)]
pub enum Credentials {
    /// The resolver: helpers, config files, `--auth`, then anonymous, moving on when the
    /// server rejects one.
    Resolver(Arc<Resolver>),
    /// Exactly this credential (or anonymous), as `login` verifies.
    Fixed(Option<Credential>),
}

/// How the registry asks to be authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheme {
    /// `/v2/` answered 200: nothing asked (yet).
    Open,
    /// HTTP Basic.
    Basic,
    /// Token authentication.
    Bearer(Realm),
}

/// The `Authorization` to send, and which credential generation produced it.
pub struct Auth {
    /// The header, or none (anonymous, open registry).
    pub header: Option<HeaderValue>,
    generation: u64,
    /// The cached token it came from (0: none).
    token: u64,
}

/// A 401 or 403 from the registry.
pub struct Refusal {
    /// 401 or 403.
    pub status: StatusCode,
    /// Its headers (`WWW-Authenticate`).
    pub headers: reqwest::header::HeaderMap,
    /// ` (CODE: message)` from its body.
    pub detail: String,
}

/// Per-request memory of what was already tried after a 401.
#[derive(Default)]
pub struct Attempt {
    reauthenticated: Option<u64>,
    rounds: u32,
}

/// The credential in use for one repository.
struct Slot {
    credential: Option<Credential>,
    resolved: Option<Resolved>,
    generation: u64,
}

struct State {
    scheme: Scheme,
    slots: HashMap<String, Slot>,
    /// Scope key → (credential generation, token id, token).
    tokens: HashMap<String, (u64, u64, Token)>,
    generations: u64,
    token_ids: u64,
}

/// One registry: where it is and how to authenticate to it.
pub struct Registry {
    /// The registry as image references name it (`docker.io`, `r.example:5000`).
    pub host: String,
    /// Its API root, e.g. `https://registry-1.docker.io/`.
    pub base: Url,
    credentials: Credentials,
    state: tokio::sync::Mutex<State>,
}

impl Registry {
    /// Pings `/v2/` over HTTPS (and plain HTTP where allowed) and learns how to authenticate.
    pub async fn connect(
        transport: &Transport,
        host: &str,
        credentials: Credentials,
    ) -> Result<Registry, Error> {
        let endpoint = if host == crate::registry::reference::DOCKER_HUB {
            "registry-1.docker.io"
        } else {
            host
        };
        // Loopback: plain HTTP first, as go-containerregistry does (no TLS set-up for a local
        // registry; the probe carries no credentials), HTTPS when that fails. Registries named
        // by --insecure-registry: HTTPS first, as docker does.
        let name = super::transport::host_name(host);
        let schemes: &[&str] = if transport.options().plain_http {
            &["http"]
        } else if is_loopback(name) {
            &["http", "https"]
        } else if transport.plain_http_allowed(host) {
            &["https", "http"]
        } else {
            &["https"]
        };
        // What the HTTPS attempt said: the error worth reporting when both fail.
        let mut https_error: Option<Error> = None;
        for (i, scheme) in schemes.iter().enumerate() {
            let last = i + 1 == schemes.len();
            let base = Url::parse(&format!("{scheme}://{endpoint}/"))
                .map_err(|e| Error::Reference(format!("invalid registry name {host:?}: {e}")))?;
            let ping = base.join("v2/").expect("a relative path joins");
            let mut req = Request::new(Method::GET, ping.clone());
            req.retry = last;
            let sent = match transport.send(&req, None, &ping, None).await {
                Ok(sent) => sent,
                Err(e @ Error::Transport { .. }) if !last => {
                    tracing::debug!("{e}; trying the other scheme");
                    if *scheme == "https" {
                        https_error = Some(e);
                    }
                    continue;
                }
                Err(e) => return Err(https_error.unwrap_or(e)),
            };
            // A TLS server spoken to in plain HTTP (Go answers 400).
            if *scheme == "http" && sent.response.status() == StatusCode::BAD_REQUEST {
                if !last {
                    continue;
                }
                if let Some(e) = https_error {
                    return Err(e);
                }
            }
            let status = sent.response.status();
            let challenges = challenges(sent.response.headers());
            let scheme = match status {
                StatusCode::OK => Scheme::Open,
                StatusCode::UNAUTHORIZED => scheme_from(&challenges, &base, host)?.ok_or_else(|| {
                    Error::Protocol(format!(
                        "registry {host} answered 401 without a Basic or Bearer challenge; it cannot be authenticated to"
                    ))
                })?,
                _ => {
                    let context = format!("pinging registry {host} (GET {})", redact(&ping));
                    return Err(Error::from_response(context, sent.response).await);
                }
            };
            tracing::debug!(registry = host, base = %base, scheme = ?scheme, "registry");
            return Ok(Registry {
                host: host.to_string(),
                base,
                credentials,
                state: tokio::sync::Mutex::new(State {
                    scheme,
                    slots: HashMap::new(),
                    tokens: HashMap::new(),
                    generations: 0,
                    token_ids: 0,
                }),
            });
        }
        Err(https_error.unwrap_or_else(|| Error::Protocol(format!("cannot reach registry {host}"))))
    }

    /// The `Authorization` header for `scopes` on behalf of `repository`.
    pub async fn authorize(
        &self,
        transport: &Transport,
        repository: &str,
        scopes: &[String],
    ) -> Result<Auth, Error> {
        let mut st = self.state.lock().await;
        if st.scheme == Scheme::Open {
            return Ok(Auth {
                header: None,
                generation: 0,
                token: 0,
            });
        }
        loop {
            let slot = self.slot(&mut st, repository).await?;
            let generation = slot.generation;
            let credential = slot.credential.clone();
            let anonymous = Auth {
                header: None,
                generation,
                token: 0,
            };
            let scheme = st.scheme.clone();
            match (&scheme, &credential) {
                (Scheme::Open, _) | (Scheme::Basic, None) => return Ok(anonymous),
                (_, Some(Credential::Bearer(t))) => {
                    return Ok(Auth {
                        header: Some(bearer_header(t.expose())),
                        generation,
                        token: 0,
                    });
                }
                (Scheme::Basic, Some(Credential::Basic { username, password })) => {
                    return Ok(Auth {
                        header: Some(basic_header(username, password.expose())),
                        generation,
                        token: 0,
                    });
                }
                (Scheme::Basic, Some(Credential::IdentityToken(_))) => {
                    let why = format!(
                        "an identity token needs token authentication, and {} asks for Basic",
                        self.host
                    );
                    self.reject(&mut st, repository, why).await?;
                }
                (Scheme::Bearer(realm), credential) => {
                    let key = scope_key(scopes);
                    if let Some((g, id, t)) = st.tokens.get(&key)
                        && *g == generation
                        && t.expires > Instant::now()
                    {
                        return Ok(Auth {
                            header: Some(t.header()),
                            generation,
                            token: *id,
                        });
                    }
                    let req = TokenRequest {
                        realm,
                        scopes,
                        credential: credential.as_ref(),
                        offline: false,
                    };
                    match token::fetch(transport, &req).await {
                        Ok(t) => {
                            let header = t.header();
                            st.token_ids += 1;
                            let id = st.token_ids;
                            st.tokens.insert(key, (generation, id, t));
                            return Ok(Auth {
                                header: Some(header),
                                generation,
                                token: id,
                            });
                        }
                        Err(TokenError::Rejected(why)) => {
                            self.reject(&mut st, repository, why).await?;
                        }
                        Err(TokenError::Failed(e)) => return Err(e),
                    }
                }
            }
        }
    }

    /// After a 401/403 from the registry to a request sent with `auth`: learns a new scheme,
    /// re-authenticates once (a fresh token) or rejects the credential and moves to the next
    /// source. `Ok` means: send again.
    pub async fn unauthorized(
        &self,
        repository: &str,
        scopes: &[String],
        auth: &Auth,
        refusal: &Refusal,
        attempt: &mut Attempt,
    ) -> Result<(), Error> {
        attempt.rounds += 1;
        let status = refusal.status;
        let detail = &refusal.detail;
        let challenges = challenges(&refusal.headers);
        let mut st = self.state.lock().await;
        if status == StatusCode::UNAUTHORIZED
            && let Some(scheme) = scheme_from(&challenges, &self.base, &self.host)?
            && scheme != st.scheme
            && attempt.rounds < 20
        {
            tracing::debug!(registry = %self.host, scheme = ?scheme, "registry asks for another scheme");
            st.scheme = scheme;
            st.tokens.clear();
            return Ok(());
        }
        let current = st.slots.get(repository).map_or(0, |s| s.generation);
        if current != auth.generation && attempt.rounds < 20 {
            return Ok(()); // Another request already moved on.
        }
        // A fresh token may help (it expired, or was revoked), unless the registry says the
        // credential lacks the scope: then only another credential can.
        let insufficient = challenges
            .iter()
            .any(|c| c.param("error") == Some("insufficient_scope"));
        if status == StatusCode::UNAUTHORIZED
            && !insufficient
            && attempt.reauthenticated != Some(current)
        {
            attempt.reauthenticated = Some(current);
            let key = scope_key(scopes);
            // Only the token this request used: another request may have renewed it already.
            if st
                .tokens
                .get(&key)
                .is_some_and(|(_, id, _)| *id == auth.token)
            {
                st.tokens.remove(&key);
            }
            tracing::debug!(registry = %self.host, "401: authenticating again");
            return Ok(());
        }
        let why = format!("{status} from {}{detail}", self.host);
        self.reject(&mut st, repository, why).await
    }

    /// The credential slot for `repository`, resolving on first use.
    async fn slot<'a>(&self, st: &'a mut State, repository: &str) -> Result<&'a Slot, Error> {
        if !st.slots.contains_key(repository) {
            st.generations += 1;
            let generation = st.generations;
            let slot = match &self.credentials {
                Credentials::Fixed(c) => Slot {
                    credential: c.clone(),
                    resolved: None,
                    generation,
                },
                Credentials::Resolver(resolver) => {
                    let resolver = resolver.clone();
                    let target = self.target(repository);
                    let resolved = tokio::task::spawn_blocking(move || resolver.resolve(&target))
                        .await
                        .map_err(|e| Error::Internal(format!("credential lookup failed: {e}")))?
                        .unwrap_or_else(Resolved::anonymous_after);
                    Slot {
                        credential: resolved.credential.clone(),
                        resolved: Some(resolved),
                        generation,
                    }
                }
            };
            st.slots.insert(repository.to_string(), slot);
        }
        Ok(&st.slots[repository])
    }

    fn target(&self, repository: &str) -> Target {
        let mut target = Target::registry_host(&self.host);
        target.repository = Some(repository.to_string());
        target
    }

    /// The server refused the credential in use for `repository`: the next source, or the
    /// final error listing every source and what happened.
    async fn reject(&self, st: &mut State, repository: &str, why: String) -> Result<(), Error> {
        tracing::debug!(registry = %self.host, "credential rejected: {why}");
        st.generations += 1;
        let generation = st.generations;
        let host = self.host.clone();
        let Some(slot) = st.slots.get_mut(repository) else {
            return Err(Error::Unauthorized(format!(
                "{host} refused the request: {why}"
            )));
        };
        match (&self.credentials, slot.resolved.clone()) {
            (Credentials::Resolver(resolver), Some(previous)) => {
                if previous.credential.is_none() {
                    let mut trail = previous.trail;
                    trail.push(Step {
                        source: "anonymous".to_string(),
                        outcome: Outcome::Rejected(why),
                    });
                    return Err(Error::Credentials(ResolveError { host, trail }));
                }
                let resolver = resolver.clone();
                let target = self.target(repository);
                let next = tokio::task::spawn_blocking(move || {
                    resolver.resolve_after(&target, &previous, &why)
                })
                .await
                .map_err(|e| Error::Internal(format!("credential lookup failed: {e}")))?
                .unwrap_or_else(Resolved::anonymous_after);
                slot.credential = next.credential.clone();
                slot.resolved = Some(next);
                slot.generation = generation;
                Ok(())
            }
            _ => Err(Error::Unauthorized(match &slot.credential {
                Some(c) => format!("{host} refused {}: {why}", c.describe()),
                None => format!("{host} requires authentication: {why}"),
            })),
        }
    }

    /// The credential currently in use for `repository` and where it came from (for `login`
    /// and messages); `None` before the first request.
    pub async fn credential_source(&self, repository: &str) -> Option<String> {
        let st = self.state.lock().await;
        st.slots
            .get(repository)
            .and_then(|s| s.resolved.as_ref())
            .and_then(|r| r.source.clone())
    }

    /// The scheme learnt so far.
    pub async fn scheme(&self) -> Scheme {
        self.state.lock().await.scheme.clone()
    }
}

/// Every challenge of every `WWW-Authenticate` header.
pub fn challenges(headers: &reqwest::header::HeaderMap) -> Vec<Challenge> {
    challenge::parse_all(
        headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
}

/// The scheme to use from a 401's challenges: Bearer (with a realm we may talk to) before
/// Basic. A realm over plain HTTP is refused for an HTTPS registry, and a realm on an
/// internal IP literal for a registry that is not itself internal.
pub fn scheme_from(
    challenges: &[Challenge],
    base: &Url,
    host: &str,
) -> Result<Option<Scheme>, Error> {
    if let Some(c) = challenges
        .iter()
        .find(|c| c.scheme == "bearer" && c.param("realm").is_some())
    {
        let realm_text = c.param("realm").unwrap_or_default();
        let realm = Url::parse(realm_text).map_err(|_| {
            Error::Protocol(format!(
                "registry {host} names an invalid token endpoint {realm_text:?}"
            ))
        })?;
        match realm.scheme() {
            "https" => {}
            "http" if base.scheme() == "http" => {}
            _ => {
                return Err(Error::Refused(format!(
                    "registry {host} is HTTPS but names a token endpoint that is not ({}); refusing to send credentials there",
                    redact(&realm)
                )));
            }
        }
        let realm_host = realm.host_str().unwrap_or_default();
        let registry_name = host_name(base.host_str().unwrap_or_default());
        if is_internal_ip(realm_host)
            && !(is_internal_ip(registry_name) || is_loopback(registry_name))
        {
            return Err(Error::Refused(format!(
                "registry {host} names a token endpoint on an internal address ({}); refusing to send credentials there",
                redact(&realm)
            )));
        }
        return Ok(Some(Scheme::Bearer(Realm {
            url: realm,
            service: c.param("service").map(str::to_string),
        })));
    }
    if challenges.iter().any(|c| c.scheme == "basic") {
        return Ok(Some(Scheme::Basic));
    }
    Ok(None)
}

/// The cache key of a scope set: order does not matter.
fn scope_key(scopes: &[String]) -> String {
    let mut s: Vec<&str> = scopes.iter().map(String::as_str).collect();
    s.sort_unstable();
    s.dedup();
    s.join(" ")
}

/// `repository:NAME:ACTIONS`.
pub fn repository_scope(repository: &str, actions: &str) -> String {
    format!("repository:{repository}:{actions}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(h: &str) -> Vec<Challenge> {
        challenge::parse(h)
    }

    #[test]
    fn realm_rules() {
        let https = Url::parse("https://r.example/").unwrap();
        let http = Url::parse("http://127.0.0.1:5000/").unwrap();
        let bearer_http = parse(r#"Bearer realm="http://127.0.0.1:1/token",service="s""#);
        assert_eq!(
            scheme_from(&bearer_http, &http, "127.0.0.1:5000").unwrap(),
            Some(Scheme::Bearer(Realm {
                url: Url::parse("http://127.0.0.1:1/token").unwrap(),
                service: Some("s".into())
            }))
        );
        assert_eq!(
            scheme_from(&bearer_http, &https, "r.example")
                .unwrap_err()
                .to_string(),
            "registry r.example is HTTPS but names a token endpoint that is not (http://127.0.0.1:1/token); refusing to send credentials there"
        );
        let internal = parse(r#"Bearer realm="https://169.254.169.254/token""#);
        assert!(
            scheme_from(&internal, &https, "r.example")
                .unwrap_err()
                .to_string()
                .contains("internal address")
        );
        assert!(
            scheme_from(
                &internal,
                &Url::parse("https://10.0.0.2/").unwrap(),
                "10.0.0.2"
            )
            .is_ok()
        );
        let both = parse(r#"Basic realm="x", Bearer realm="https://a.example/t""#);
        assert!(matches!(
            scheme_from(&both, &https, "r.example").unwrap(),
            Some(Scheme::Bearer(_))
        ));
        assert_eq!(
            scheme_from(&parse(r#"Basic realm="x""#), &https, "r").unwrap(),
            Some(Scheme::Basic)
        );
        assert_eq!(scheme_from(&parse("Negotiate"), &https, "r").unwrap(), None);
    }

    #[test]
    fn scope_keys_ignore_order() {
        let a = vec![
            repository_scope("a", "push,pull"),
            repository_scope("b", "pull"),
        ];
        let b = vec![a[1].clone(), a[0].clone(), a[1].clone()];
        assert_eq!(scope_key(&a), scope_key(&b));
    }
}
