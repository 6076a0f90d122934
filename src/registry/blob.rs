//! Blobs: existence checks, cross-repository mounts, uploads (one PUT for small blobs, PATCH
//! chunks for large ones) and downloads streamed to disk with their digest checked.

use super::client::{Client, check_digest_header, location};
use super::error::Error;
use super::session::Registry;
use super::transport::{Body, Counter, Request, redact};
use crate::oci::{Descriptor, Digest, Hasher};
use futures_util::StreamExt;
use reqwest::header::{CONTENT_RANGE, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use std::path::Path;
use tokio::io::AsyncWriteExt;

/// How blobs are uploaded.
#[derive(Debug, Clone)]
pub struct UploadOptions {
    /// Blobs up to this size go in one PUT; larger ones in PATCH chunks.
    pub monolithic_max: u64,
    /// The size of each PATCH chunk.
    pub chunk_size: u64,
}

impl Default for UploadOptions {
    fn default() -> Self {
        UploadOptions {
            monolithic_max: 64 << 20,
            chunk_size: 32 << 20,
        }
    }
}

/// What pushing one blob did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// The repository already had it.
    Existed,
    /// Mounted from another repository of the registry.
    Mounted,
    /// Uploaded.
    Uploaded,
}

impl Client {
    /// Whether `repository` has the blob (`HEAD`; redirects are followed without
    /// credentials).
    pub async fn blob_exists(
        &self,
        registry: &Registry,
        repository: &str,
        scopes: &[String],
        digest: &Digest,
    ) -> Result<bool, Error> {
        let url = Client::url(registry, repository, &format!("blobs/{digest}"));
        let req = Request::new(Method::HEAD, url);
        let response = self.send(registry, repository, scopes, &req, None).await?;
        match response.status() {
            StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(Error::from_response(
                format!("HEAD blob {digest} in {}/{repository}", registry.host),
                response,
            )
            .await),
        }
    }

    /// Pushes the blob `desc` from `path`: nothing when it exists, a mount when one of
    /// `mount_from` (repositories of the same registry) has it, else an upload. Failures
    /// that may pass (429, 5xx, dropped connections) restart the blob, up to the retry limit.
    #[allow(clippy::too_many_arguments)]
    pub async fn push_blob(
        &self,
        registry: &Registry,
        repository: &str,
        scopes: &[String],
        desc: &Descriptor,
        path: &Path,
        mount_from: &[String],
        options: &UploadOptions,
        progress: Option<&Counter>,
    ) -> Result<Pushed, Error> {
        let mut attempt = 0;
        loop {
            let result = self
                .push_blob_once(
                    registry, repository, scopes, desc, path, mount_from, options, progress,
                )
                .await;
            match result {
                Err(e) if e.is_retriable() && attempt < self.options().retries => {
                    tracing::debug!("{e}; pushing blob {} again", desc.digest);
                    attempt += 1;
                    tokio::time::sleep(crate::net::retry::backoff(attempt)).await;
                }
                Err(e) => {
                    let what = format!(
                        "uploading blob {} to {}/{repository}",
                        desc.digest, registry.host
                    );
                    let e = if e.is_retriable() {
                        e.after_attempts(attempt + 1)
                    } else {
                        e
                    };
                    return Err(e.within(&what));
                }
                ok => return ok,
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn push_blob_once(
        &self,
        registry: &Registry,
        repository: &str,
        scopes: &[String],
        desc: &Descriptor,
        path: &Path,
        mount_from: &[String],
        options: &UploadOptions,
        progress: Option<&Counter>,
    ) -> Result<Pushed, Error> {
        let digest = &desc.checked_digest()?;
        if self
            .blob_exists(registry, repository, scopes, digest)
            .await?
        {
            return Ok(Pushed::Existed);
        }
        let target = format!("{}/{repository}", registry.host);
        let context = format!("uploading blob {digest} to {target}");
        let start = Client::url(registry, repository, "blobs/uploads/");
        let mut response = None;
        if let Some(from) = mount_from.iter().find(|r| *r != repository) {
            let mut url = start.clone();
            url.query_pairs_mut()
                .append_pair("mount", digest.as_str())
                .append_pair("from", from);
            let mut req = Request::new(Method::POST, url);
            req.retry = false;
            // Sent without the 401 handling: a refused mount (no pull access to `from`) says
            // nothing about the credential, and a plain upload follows.
            let auth = registry
                .authorize(self.transport(), repository, scopes)
                .await?;
            let sent = self
                .transport()
                .send(&req, auth.header.as_ref(), &registry.base, None)
                .await?;
            match sent.response.status() {
                StatusCode::CREATED => {
                    tracing::debug!("mounted {digest} into {target}");
                    return Ok(Pushed::Mounted);
                }
                StatusCode::ACCEPTED => response = Some(sent.response),
                status => tracing::debug!("mounting {digest} from {from}: {status}; uploading"),
            }
        }
        let response = match response {
            Some(r) => r,
            None => {
                let mut req = Request::new(Method::POST, start);
                req.retry = false;
                self.send(registry, repository, scopes, &req, None).await?
            }
        };
        let status = response.status();
        if status != StatusCode::ACCEPTED {
            return Err(Error::from_response(context, response).await);
        }
        let mut url = location(registry, response.headers(), &context)?;
        let size = desc.size;
        if size > options.monolithic_max {
            let mut offset = 0;
            let mut resumed = 0;
            while offset < size {
                let len = options.chunk_size.min(size - offset);
                let mut req = Request::new(Method::PATCH, url.clone())
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .header(CONTENT_RANGE, &format!("{}-{}", offset, offset + len - 1))
                    .body(Body::File {
                        path: path.to_path_buf(),
                        offset,
                        len,
                    });
                req.retry = false;
                let sent = match self
                    .send(registry, repository, scopes, &req, progress)
                    .await
                {
                    Ok(r) if r.status() == StatusCode::ACCEPTED => Ok(r),
                    Ok(r) if r.status() == StatusCode::NO_CONTENT => Ok(r),
                    Ok(r) => Err(Error::from_response(
                        format!("{context}: PATCH bytes {offset}-{}", offset + len - 1),
                        r,
                    )
                    .await),
                    Err(e) => Err(e),
                };
                match sent {
                    Ok(response) => {
                        url = location(registry, response.headers(), &context)?;
                        offset += len;
                    }
                    // A chunk that may pass: continue from what the registry holds rather
                    // than upload the whole blob again.
                    Err(e) if e.is_retriable() && resumed < self.options().retries => {
                        resumed += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(250 << resumed)).await;
                        match self
                            .upload_status(registry, repository, scopes, &url, &context)
                            .await
                        {
                            Some((at, received)) if received <= offset + len => {
                                tracing::debug!(
                                    "{e}; the registry holds {received} bytes of {digest}: continuing from there"
                                );
                                url = at;
                                offset = received;
                            }
                            _ => return Err(e),
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        url.query_pairs_mut().append_pair("digest", digest.as_str());
        let body = if size > options.monolithic_max {
            Body::Empty
        } else {
            Body::File {
                path: path.to_path_buf(),
                offset: 0,
                len: size,
            }
        };
        let mut req = Request::new(Method::PUT, url)
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(body);
        req.retry = false;
        let response = self
            .send(registry, repository, scopes, &req, progress)
            .await?;
        let status = response.status();
        if status != StatusCode::CREATED {
            return Err(Error::from_response(context, response).await);
        }
        check_digest_header(response.headers(), digest, &context)?;
        Ok(Pushed::Uploaded)
    }

    /// Where an upload stands (`GET` on its URL): the URL to continue with and how many bytes
    /// the registry holds. `None` when it does not say plainly; `Range: 0-0` (no byte or one)
    /// counts as none.
    async fn upload_status(
        &self,
        registry: &Registry,
        repository: &str,
        scopes: &[String],
        url: &url::Url,
        context: &str,
    ) -> Option<(url::Url, u64)> {
        let req = Request::new(Method::GET, url.clone());
        let response = self
            .send(registry, repository, scopes, &req, None)
            .await
            .ok()?;
        if response.status() != StatusCode::NO_CONTENT {
            return None;
        }
        let range = response
            .headers()
            .get(reqwest::header::RANGE)?
            .to_str()
            .ok()?;
        let (first, last) = range.trim().split_once('-')?;
        let (first, last): (u64, u64) = (first.parse().ok()?, last.parse().ok()?);
        if first != 0 {
            return None;
        }
        let received = if last == 0 { 0 } else { last + 1 };
        let next = location(registry, response.headers(), context).unwrap_or_else(|_| url.clone());
        Some((next, received))
    }

    /// Downloads the blob `desc` to `dest`, streaming through a temporary file beside it
    /// that becomes `dest` only when size and digest match.
    pub async fn download_blob(
        &self,
        registry: &Registry,
        repository: &str,
        scopes: &[String],
        desc: &Descriptor,
        dest: &Path,
        progress: Option<&Counter>,
    ) -> Result<(), Error> {
        let mut attempt = 0;
        loop {
            match self
                .download_once(registry, repository, scopes, desc, dest, progress)
                .await
            {
                Err(e) if e.is_retriable() && attempt < self.options().retries => {
                    tracing::debug!("{e}; downloading blob {} again", desc.digest);
                    attempt += 1;
                    tokio::time::sleep(crate::net::retry::backoff(attempt)).await;
                }
                Err(e) if e.is_retriable() => return Err(e.after_attempts(attempt + 1)),
                other => return other,
            }
        }
    }

    async fn download_once(
        &self,
        registry: &Registry,
        repository: &str,
        scopes: &[String],
        desc: &Descriptor,
        dest: &Path,
        progress: Option<&Counter>,
    ) -> Result<(), Error> {
        let digest = &desc.checked_digest()?;
        let url = Client::url(registry, repository, &format!("blobs/{digest}"));
        let context = format!("GET blob {digest} from {}/{repository}", registry.host);
        let response = self
            .send(
                registry,
                repository,
                scopes,
                &Request::new(Method::GET, url),
                None,
            )
            .await?;
        let status = response.status();
        if status != StatusCode::OK {
            let final_url = redact(response.url());
            return Err(Error::from_response(
                format!("{context} (answered by {final_url})"),
                response,
            )
            .await);
        }
        let io = |what: &str, e: std::io::Error| Error::Io(format!("{what}: {e}"));
        let partial =
            dest.with_file_name(format!(".{}.partial-{}", digest.hex(), std::process::id()));
        // Created here, not on the blocking pool, so that a download dropped (a parallel one
        // failed) cannot leave a file created after its clean-up ran.
        let file = std::fs::File::create(&partial)
            .map_err(|e| io(&format!("cannot create {}", partial.display()), e))?;
        // Removes the temporary file however this ends: an error, or the download dropped.
        // After the rename there is nothing left to remove.
        let _cleanup = RemoveOnDrop(&partial);
        let file = tokio::fs::File::from_std(file);
        let mut out = tokio::io::BufWriter::with_capacity(1 << 20, file);
        let mut hasher = Hasher::new(digest.algorithm());
        let mut received: u64 = 0;
        let mut stream = response.bytes_stream();
        let idle = self.transport().policy().read_timeout;
        let result: Result<(), Error> = async {
            loop {
                let next = tokio::time::timeout(idle, stream.next())
                    .await
                    .map_err(|_| {
                        Error::body(
                            context.clone(),
                            crate::net::BodyError::Idle {
                                waited: idle,
                                received,
                            },
                        )
                    })?;
                let Some(chunk) = next else { break };
                // A body cut off or reset after a good status: worth asking again.
                let chunk = chunk.map_err(|e| {
                    Error::body(
                        context.clone(),
                        crate::net::BodyError::Transport {
                            reason: crate::net::describe(&e),
                            transient: true,
                        },
                    )
                })?;
                received += chunk.len() as u64;
                if received > desc.size {
                    return Err(Error::DigestMismatch(format!(
                        "{context}: the registry sent more than the {} bytes the manifest gives",
                        desc.size
                    )));
                }
                hasher.update(&chunk);
                out.write_all(&chunk)
                    .await
                    .map_err(|e| io(&format!("cannot write {}", partial.display()), e))?;
                if let Some(p) = progress {
                    p(chunk.len() as u64);
                }
            }
            out.flush()
                .await
                .map_err(|e| io(&format!("cannot write {}", partial.display()), e))?;
            if received != desc.size {
                return Err(Error::DigestMismatch(format!(
                    "{context}: got {received} bytes, the manifest gives {}",
                    desc.size
                )));
            }
            let got = hasher.finish();
            if got != *digest {
                return Err(Error::DigestMismatch(format!(
                    "{context}: the content's digest is {got}: refusing it"
                )));
            }
            Ok(())
        }
        .await;
        result?;
        tokio::fs::rename(&partial, dest)
            .await
            .map_err(|e| io(&format!("cannot move {} into place", partial.display()), e))
    }
}

/// Deletes a file when dropped.
struct RemoveOnDrop<'a>(&'a Path);

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.0);
    }
}
