//! Checking a username and password against a registry before `apko login` stores them, as
//! `docker login` does: `/v2/` with Basic, or the token flow asking for a refresh token
//! (`offline_token=true`), which is then stored instead of the password.

use super::error::{Error, error_detail};
use super::session::{Credentials, Registry, Scheme};
use super::token::{self, TokenError, TokenRequest, basic_header};
use super::transport::{Options, Request, Transport};
use crate::auth::Credential;
use apko_credential::Secret;
use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode};

/// A successful check.
#[derive(Debug)]
pub struct Verified {
    /// A refresh token the token endpoint gave: store it (as `<token>`) instead of the
    /// password, as docker does.
    pub identity_token: Option<Secret<String>>,
}

/// Checks `username`/`password` against `host` (`docker.io`, `r.example:5000`).
pub async fn verify(
    transport: &Transport,
    host: &str,
    username: &str,
    password: &Secret<String>,
) -> Result<Verified, Error> {
    let credential = Credential::Basic {
        username: username.to_string(),
        password: password.clone(),
    };
    crate::redact::remember_credential(&credential);
    let registry = Registry::connect(
        transport,
        host,
        Credentials::Fixed(Some(credential.clone())),
    )
    .await?;
    let failed =
        |why: String| Error::Login(format!("login to {host} failed: {why}; nothing was stored"));
    let (header, identity_token) = match registry.scheme().await {
        Scheme::Open => {
            return Ok(Verified {
                identity_token: None,
            });
        }
        Scheme::Basic => (basic_header(username, password.expose()), None),
        Scheme::Bearer(realm) => {
            let req = TokenRequest {
                realm: &realm,
                scopes: &[],
                credential: Some(&credential),
                offline: true,
            };
            match token::fetch(transport, &req).await {
                Ok(t) => (t.header(), t.refresh_token),
                Err(TokenError::Rejected(why)) => return Err(failed(why)),
                Err(TokenError::Failed(e)) => return Err(e),
            }
        }
    };
    check(transport, &registry, &header).await.map_err(failed)?;
    Ok(Verified { identity_token })
}

/// `GET /v2/` with `header` must answer 200.
async fn check(
    transport: &Transport,
    registry: &Registry,
    header: &HeaderValue,
) -> Result<(), String> {
    let url = registry.base.join("v2/").expect("a relative path joins");
    let sent = transport
        .send(
            &Request::new(Method::GET, url),
            Some(header),
            &registry.base,
            None,
        )
        .await
        .map_err(|e| e.to_string())?;
    let status = sent.response.status();
    if status == StatusCode::OK {
        return Ok(());
    }
    let body = crate::net::read_error_body(sent.response).await;
    Err(format!(
        "{status} from {}{}",
        registry.host,
        error_detail(&body)
    ))
}

/// [`verify`] on its own runtime, for the synchronous `login` command.
pub fn verify_blocking(
    host: &str,
    username: &str,
    password: &Secret<String>,
    options: Options,
) -> Result<Verified, Error> {
    let transport = Transport::new(options)?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))?
        .block_on(verify(&transport, host, username, password))
}
