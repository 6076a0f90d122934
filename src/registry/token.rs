//! The registry token protocol (distribution's `token.md` and `oauth.md`): GET with Basic
//! credentials or anonymously, the OAuth2 `refresh_token` POST for identity tokens (GET when
//! the server answers 404), and the response with its lifetime.

use super::error::{Error, error_detail};
use super::transport::{Body, Request, Transport, redact};
use crate::auth::Credential;
use apko_credential::Secret;
use base64::Engine as _;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use std::time::{Duration, Instant};

/// The `client_id` this client gives token servers.
pub const CLIENT_ID: &str = "apko";

/// Where to get tokens for one registry: the Bearer challenge's `realm` and `service`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Realm {
    /// The token endpoint.
    pub url: Url,
    /// The `service` parameter, if the challenge named one.
    pub service: Option<String>,
}

/// A token and when to stop using it.
#[derive(Clone)]
pub struct Token {
    /// The bearer token.
    pub token: Secret<String>,
    /// A refresh token, when one was asked for (`offline_token=true`) and given.
    pub refresh_token: Option<Secret<String>>,
    /// When it is considered expired (a little before the server's limit).
    pub expires: Instant,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("token", &"<redacted>")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expires", &self.expires)
            .finish()
    }
}

impl Token {
    /// `Authorization: Bearer …`, marked sensitive.
    pub fn header(&self) -> HeaderValue {
        bearer_header(self.token.expose())
    }
}

/// `Bearer <token>`, marked sensitive so it never shows in Debug output.
pub fn bearer_header(token: &str) -> HeaderValue {
    let mut v = HeaderValue::from_str(&format!("Bearer {token}"))
        .unwrap_or_else(|_| HeaderValue::from_static("Bearer invalid"));
    v.set_sensitive(true);
    v
}

/// `Basic base64(user:password)`, marked sensitive.
pub fn basic_header(username: &str, password: &str) -> HeaderValue {
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    let mut v = HeaderValue::from_str(&format!("Basic {encoded}"))
        .unwrap_or_else(|_| HeaderValue::from_static("Basic invalid"));
    v.set_sensitive(true);
    v
}

/// Why no token came back.
#[derive(Debug)]
pub enum TokenError {
    /// The endpoint refused the credential (400/401/403): try the next source.
    Rejected(String),
    /// Anything else.
    Failed(Error),
}

/// What to ask for.
pub struct TokenRequest<'a> {
    /// The realm.
    pub realm: &'a Realm,
    /// `repository:name:actions` scopes.
    pub scopes: &'a [String],
    /// The credential, or anonymous.
    pub credential: Option<&'a Credential>,
    /// Ask for a refresh token (`offline_token=true`), as `login` does.
    pub offline: bool,
}

/// Gets a token: POST for an identity token (GET on 404), else GET.
pub async fn fetch(transport: &Transport, req: &TokenRequest<'_>) -> Result<Token, TokenError> {
    if let Some(Credential::IdentityToken(refresh)) = req.credential {
        match post_refresh(transport, req, refresh.expose()).await {
            Err(TokenError::Failed(Error::Status {
                status: StatusCode::NOT_FOUND,
                ..
            })) => {
                // No OAuth2 at this endpoint: the GET every token server has. An identity
                // token is no Basic password, so that GET is anonymous (as go-containerregistry).
                tracing::debug!("token endpoint has no OAuth2 (POST 404); using GET");
                return get(transport, req, None).await;
            }
            other => return other,
        }
    }
    let basic = match req.credential {
        Some(Credential::Basic { username, password }) => Some((username.as_str(), password)),
        _ => None,
    };
    get(transport, req, basic).await
}

async fn get(
    transport: &Transport,
    req: &TokenRequest<'_>,
    basic: Option<(&str, &Secret<String>)>,
) -> Result<Token, TokenError> {
    let mut url = req.realm.url.clone();
    {
        let mut q = url.query_pairs_mut();
        if let Some(s) = &req.realm.service {
            q.append_pair("service", s);
        }
        for scope in req.scopes {
            q.append_pair("scope", scope);
        }
        if let Some((user, _)) = basic {
            q.append_pair("account", user);
        }
        if req.offline {
            q.append_pair("offline_token", "true");
            q.append_pair("client_id", CLIENT_ID);
        }
    }
    let auth = basic.map(|(u, p)| basic_header(u, p.expose()));
    let request = Request::new(Method::GET, url).header(ACCEPT, "application/json");
    send(
        transport,
        &request,
        auth.as_ref(),
        req.realm,
        basic.map(|(_, p)| p.expose().as_str()),
    )
    .await
}

async fn post_refresh(
    transport: &Transport,
    req: &TokenRequest<'_>,
    refresh: &str,
) -> Result<Token, TokenError> {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "refresh_token");
    form.append_pair("refresh_token", refresh);
    if let Some(s) = &req.realm.service {
        form.append_pair("service", s);
    }
    if !req.scopes.is_empty() {
        form.append_pair("scope", &req.scopes.join(" "));
    }
    form.append_pair("client_id", CLIENT_ID);
    let body = form.finish();
    let request = Request::new(Method::POST, req.realm.url.clone())
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(ACCEPT, "application/json")
        .body(Body::Bytes(body.into_bytes().into()));
    send(transport, &request, None, req.realm, Some(refresh)).await
}

async fn send(
    transport: &Transport,
    request: &Request,
    auth: Option<&HeaderValue>,
    realm: &Realm,
    secret: Option<&str>,
) -> Result<Token, TokenError> {
    let what = format!(
        "token endpoint {} ({})",
        redact_realm(&realm.url),
        request.method
    );
    let sent = transport
        .send(request, auth, &realm.url, None)
        .await
        .map_err(TokenError::Failed)?;
    let status = sent.response.status();
    let tried = super::transport::Tried::of(&sent.response);
    if !status.is_success() {
        let body = crate::net::read_error_body(sent.response).await;
        let mut detail = error_detail(&body);
        if let Some(s) = secret.filter(|s| !s.is_empty())
            && (detail.contains(s) || memchr::memmem::find(&body, s.as_bytes()).is_some())
        {
            detail = " (answer withheld: it echoes the secret)".to_string();
        }
        return Err(match status.as_u16() {
            400 | 401 | 403 => TokenError::Rejected(format!("{status} from the {what}{detail}")),
            _ => TokenError::Failed(
                Error::Status {
                    context: what,
                    status,
                    detail,
                }
                .after_trying(tried),
            ),
        });
    }
    let body = crate::net::read_body(
        sent.response,
        crate::net::MAX_TOKEN_ANSWER_SIZE,
        "a token answer is a few KiB",
        transport.policy(),
    )
    .await
    .map_err(|e| TokenError::Failed(Error::body(format!("reading the answer of {what}"), e)))?;
    parse_response(&body)
        .map_err(|why| TokenError::Failed(Error::Protocol(format!("{what}: {why}"))))
}

/// The realm without query or credentials, for messages.
fn redact_realm(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_password(None);
    let _ = u.set_username("");
    redact(&u)
}

/// Reads `{"token"|"access_token", "expires_in", "refresh_token"}`; `expires_in` is at least
/// 60 s (distribution's rule) and the token is dropped 10 s (or a tenth) early.
pub fn parse_response(body: &[u8]) -> Result<Token, String> {
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(default)]
        token: Option<String>,
        #[serde(default)]
        access_token: Option<String>,
        #[serde(default)]
        expires_in: Option<i64>,
        #[serde(default)]
        refresh_token: Option<String>,
    }
    // Never quote the body: it holds the token.
    let a: Answer = serde_json::from_slice(body)
        .map_err(|_| "the answer is not the token JSON the protocol defines".to_string())?;
    let token = a
        .token
        .filter(|t| !t.is_empty())
        .or(a.access_token.filter(|t| !t.is_empty()))
        .ok_or("the answer holds neither token nor access_token")?;
    let refresh_token = a.refresh_token.filter(|t| !t.is_empty());
    if let Some(long) = [Some(&token), refresh_token.as_ref()]
        .into_iter()
        .flatten()
        .find(|t| t.len() > crate::net::MAX_TOKEN_SIZE)
    {
        return Err(format!(
            "the token it gave is {} bytes, more than apko sends in a header ({} bytes); refusing it",
            long.len(),
            crate::net::MAX_TOKEN_SIZE
        ));
    }
    crate::redact::remember(None, &token);
    if let Some(r) = &refresh_token {
        crate::redact::remember(None, r);
    }
    let refresh_token = refresh_token.map(Secret::from);
    let lifetime = Duration::from_secs(a.expires_in.unwrap_or(60).max(60) as u64);
    let margin = (lifetime / 10).min(Duration::from_secs(10));
    Ok(Token {
        token: Secret::from(token),
        refresh_token,
        expires: Instant::now() + lifetime - margin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses() {
        let t = parse_response(br#"{"token":"a","access_token":"b","expires_in":1}"#).unwrap();
        assert_eq!(t.token.expose(), "a");
        let left = t.expires - Instant::now();
        assert!(
            left > Duration::from_secs(50) && left <= Duration::from_secs(54),
            "{left:?}"
        );
        let t = parse_response(br#"{"access_token":"b","refresh_token":"r"}"#).unwrap();
        assert_eq!(t.token.expose(), "b");
        assert_eq!(t.refresh_token.unwrap().expose(), "r");
        let t = parse_response(br#"{"token":"a","expires_in":3600}"#).unwrap();
        assert!(t.expires - Instant::now() > Duration::from_secs(3580));
        assert_eq!(
            parse_response(br#"{"token":""}"#).unwrap_err(),
            "the answer holds neither token nor access_token"
        );
        let err = parse_response(b"secret-token-text").unwrap_err();
        assert!(!err.contains("secret"));
    }

    #[test]
    fn headers_are_sensitive() {
        let h = basic_header("u", "p");
        assert!(h.is_sensitive());
        assert_eq!(h.to_str().unwrap(), "Basic dTpw");
        assert!(!format!("{h:?}").contains("dTpw"));
        assert!(bearer_header("t").is_sensitive());
        let t = parse_response(br#"{"token":"zzsecretzz"}"#).unwrap();
        assert!(!format!("{t:?}").contains("zzsecretzz"));
    }
}
