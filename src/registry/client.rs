//! The registry client: one connection setup per registry, authenticated requests (with the
//! 401 handling of [`session`](super::session)), and manifest reads and writes with their
//! digests checked.

use super::error::{Error, error_detail};
use super::reference::Reference;
use super::session::{Attempt, Credentials, Refusal, Registry};
use super::transport::{Body, Counter, Options, Request, Transport, redact};
use crate::oci::{self, Digest};
use bytes::Bytes;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};
use reqwest::{Method, StatusCode, Url};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A registry client for one command: the HTTP setup, where credentials come from, and the
/// registries contacted so far.
pub struct Client {
    transport: Transport,
    credentials: Credentials,
    registries: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Arc<Registry>>>>>,
}

/// A manifest or index as served, with its verified digest.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The exact bytes.
    pub bytes: Bytes,
    /// Its media type.
    pub media_type: String,
    /// sha256 of the bytes (or the algorithm of the digest asked for).
    pub digest: Digest,
}

impl Client {
    /// A client with these options and credentials.
    pub fn new(options: Options, credentials: Credentials) -> Result<Client, Error> {
        Ok(Client {
            transport: Transport::new(options)?,
            credentials,
            registries: Mutex::default(),
        })
    }

    /// The options.
    pub fn options(&self) -> &Options {
        self.transport.options()
    }

    /// The transport, for protocol steps that are not registry requests (tokens).
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// The registry `host`, pinged once per client.
    pub async fn registry(&self, host: &str) -> Result<Arc<Registry>, Error> {
        let cell = self
            .registries
            .lock()
            .unwrap()
            .entry(host.to_string())
            .or_default()
            .clone();
        cell.get_or_try_init(|| async {
            Registry::connect(&self.transport, host, self.credentials.clone())
                .await
                .map(Arc::new)
        })
        .await
        .cloned()
    }

    /// Sends `req` authenticated for `scopes` on behalf of `repository`: on a 401 it
    /// authenticates again once, then moves to the next credential source.
    pub async fn send(
        &self,
        registry: &Registry,
        repository: &str,
        scopes: &[String],
        req: &Request,
        progress: Option<&Counter>,
    ) -> Result<reqwest::Response, Error> {
        let mut attempt = Attempt::default();
        loop {
            let auth = registry
                .authorize(&self.transport, repository, scopes)
                .await?;
            let sent = self
                .transport
                .send(req, auth.header.as_ref(), &registry.base, progress)
                .await?;
            let status = sent.response.status();
            if !(sent.from_origin
                && (status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN))
            {
                return Ok(sent.response);
            }
            let headers = sent.response.headers().clone();
            let body = crate::net::read_error_body(sent.response).await;
            let refusal = Refusal {
                status,
                headers,
                detail: error_detail(&body),
            };
            registry
                .unauthorized(repository, scopes, &auth, &refusal, &mut attempt)
                .await?;
        }
    }

    /// `base/v2/<repository>/<rest>`.
    pub fn url(registry: &Registry, repository: &str, rest: &str) -> Url {
        registry
            .base
            .join(&format!("v2/{repository}/{rest}"))
            .expect("repository names are URL-safe")
    }

    /// Fetches the manifest or index `reference` names (by digest, else by tag), checking its
    /// digest: against the one asked for, else against `Docker-Content-Digest`.
    pub async fn get_manifest(&self, reference: &Reference) -> Result<Fetched, Error> {
        let registry = self.registry(&reference.registry).await?;
        let repo = &reference.repository;
        let wanted = reference
            .digest
            .as_deref()
            .map(Digest::parse)
            .transpose()
            .map_err(|e| Error::Reference(e.to_string()))?;
        let name = match (&wanted, &reference.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_string(),
        };
        let url = Self::url(&registry, repo, &format!("manifests/{name}"));
        let scopes = [super::session::repository_scope(repo, "pull")];
        let req = Request::new(Method::GET, url).header(ACCEPT, oci::ACCEPT);
        let context = format!("GET manifest {name} of {}/{repo}", reference.registry);
        let response = self.send(&registry, repo, &scopes, &req, None).await?;
        if response.status() != StatusCode::OK {
            return Err(Error::from_response(context, response).await);
        }
        let headers = response.headers().clone();
        let body = crate::net::read_body(
            response,
            crate::net::MAX_MANIFEST_SIZE,
            "a registry stores no manifest over 4 MiB",
            self.transport.policy(),
        )
        .await
        .map_err(|e| Error::body(context.clone(), e))?;
        let served = headers
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| Digest::parse(v).ok());
        let expected = wanted.or(served);
        let digest = match &expected {
            Some(d) if !d.matches(&body) => {
                return Err(Error::DigestMismatch(format!(
                    "{}/{repo} served manifest {name} with digest {} instead of {d}: refusing it",
                    reference.registry,
                    Digest::sha256(&body)
                )));
            }
            Some(d) => d.clone(),
            None => Digest::sha256(&body),
        };
        let content_type = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_string());
        let media_type = oci::media_type_of(&body, content_type.as_deref())
            .map_err(|why| Error::manifest(&context, why))?;
        Ok(Fetched {
            bytes: body,
            media_type,
            digest,
        })
    }

    /// Puts a manifest or index under `name` (a tag or its digest) and checks the digest the
    /// registry computed.
    pub async fn put_manifest(
        &self,
        registry: &Registry,
        repository: &str,
        scopes: &[String],
        name: &str,
        media_type: &str,
        bytes: &Bytes,
    ) -> Result<Digest, Error> {
        let digest = Digest::sha256(bytes);
        let url = Self::url(registry, repository, &format!("manifests/{name}"));
        let req = Request::new(Method::PUT, url)
            .header(CONTENT_TYPE, media_type)
            .body(Body::Bytes(bytes.clone()));
        let context = format!(
            "PUT manifest {name} ({media_type}) to {}/{repository}",
            registry.host
        );
        let response = self.send(registry, repository, scopes, &req, None).await?;
        let status = response.status();
        let headers = response.headers().clone();
        if status != StatusCode::CREATED && status != StatusCode::OK {
            return Err(Error::from_response(context, response).await);
        }
        check_digest_header(&headers, &digest, &context)?;
        Ok(digest)
    }
}

/// A `Docker-Content-Digest` that disagrees with what was sent is an error.
pub fn check_digest_header(headers: &HeaderMap, sent: &Digest, context: &str) -> Result<(), Error> {
    if let Some(served) = headers
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        && served != sent.as_str()
    {
        return Err(Error::DigestMismatch(format!(
            "{context}: the registry stored {served}, not {sent}"
        )));
    }
    Ok(())
}

/// Resolves an upload `Location` (relative or absolute) against the registry.
pub fn location(registry: &Registry, headers: &HeaderMap, context: &str) -> Result<Url, Error> {
    let text = headers
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            Error::Protocol(format!("{context}: the registry gave no upload Location"))
        })?;
    registry.base.join(text).map_err(|_| {
        Error::Protocol(format!(
            "{context}: invalid upload Location {:?}",
            redact(&registry.base)
        ))
    })
}
