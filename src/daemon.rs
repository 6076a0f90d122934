//! The Docker Engine API, as much as `apko publish --local` needs: load a docker tarball and
//! tag the image. The daemon is the one `DOCKER_HOST` names (`unix://PATH` or `tcp://HOST:PORT`,
//! plain HTTP), else `/var/run/docker.sock`; podman's compatible service works the same way.
//! Answers are bounded ([`MAX_ANSWER`]) and every wait has the network policy's limits.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The daemon's answers (progress lines of a load, error texts) are far smaller.
pub const MAX_ANSWER: usize = 1 << 20;

/// Where the daemon listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A unix socket.
    Unix(PathBuf),
    /// `host:port`, plain HTTP (as docker's `tcp://` without TLS settings).
    Tcp(String),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "unix://{}", p.display()),
            Endpoint::Tcp(a) => write!(f, "tcp://{a}"),
        }
    }
}

/// What went wrong talking to the daemon; each names the daemon.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// `DOCKER_HOST` is not a form this client speaks.
    #[error(
        "DOCKER_HOST={0:?} is not supported: use unix:///path/to/docker.sock or tcp://host:port"
    )]
    Host(String),
    /// No daemon there.
    #[error(
        "cannot connect to the Docker daemon at {endpoint}: {reason}; is it running? (set DOCKER_HOST for another one, e.g. unix:///run/podman/podman.sock for podman's `podman system service`)"
    )]
    Connect {
        /// The daemon.
        endpoint: Endpoint,
        /// The system's words.
        reason: String,
    },
    /// The daemon refused or failed a request.
    #[error("the Docker daemon at {endpoint} {what}: {reason}")]
    Request {
        /// The daemon.
        endpoint: Endpoint,
        /// What was asked, e.g. `could not load the image`.
        what: String,
        /// Its answer or the transport error.
        reason: String,
    },
}

/// A Docker Engine API client for one daemon.
pub struct Daemon {
    endpoint: Endpoint,
    policy: crate::net::Policy,
}

/// The endpoint `DOCKER_HOST` names (unset or empty: docker's default socket).
pub fn endpoint(docker_host: Option<&str>) -> Result<Endpoint, DaemonError> {
    match docker_host.map(str::trim).filter(|h| !h.is_empty()) {
        None => Ok(Endpoint::Unix(PathBuf::from("/var/run/docker.sock"))),
        Some(h) => {
            if let Some(path) = h.strip_prefix("unix://")
                && !path.is_empty()
            {
                Ok(Endpoint::Unix(PathBuf::from(path)))
            } else if let Some(addr) = h.strip_prefix("tcp://")
                && !addr.is_empty()
            {
                let addr = addr.trim_end_matches('/');
                Ok(Endpoint::Tcp(if addr.contains(':') {
                    addr.to_string()
                } else {
                    format!("{addr}:2375")
                }))
            } else {
                Err(DaemonError::Host(h.to_string()))
            }
        }
    }
}

type Body = BoxBody<Bytes, std::io::Error>;

impl Daemon {
    /// The daemon of `DOCKER_HOST`.
    pub fn from_env() -> Result<Daemon, DaemonError> {
        Ok(Daemon::new(endpoint(
            std::env::var("DOCKER_HOST").ok().as_deref(),
        )?))
    }

    /// The daemon at `endpoint`.
    pub fn new(endpoint: Endpoint) -> Daemon {
        Daemon {
            endpoint,
            policy: crate::net::policy(),
        }
    }

    /// Where it is.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn failed(&self, what: &str, reason: impl Into<String>) -> DaemonError {
        DaemonError::Request {
            endpoint: self.endpoint.clone(),
            what: what.to_string(),
            reason: reason.into(),
        }
    }

    /// One request: its status and (bounded) body.
    async fn request(
        &self,
        what: &str,
        method: hyper::Method,
        path_and_query: &str,
        content_type: Option<&str>,
        body: Body,
        wait: Duration,
    ) -> Result<(hyper::StatusCode, Vec<u8>), DaemonError> {
        let connect = async {
            match &self.endpoint {
                Endpoint::Unix(path) => {
                    let s = tokio::net::UnixStream::connect(path).await?;
                    handshake(s).await
                }
                Endpoint::Tcp(addr) => {
                    let s = tokio::net::TcpStream::connect(addr).await?;
                    handshake(s).await
                }
            }
        };
        let connect_failed = |reason: String| DaemonError::Connect {
            endpoint: self.endpoint.clone(),
            reason,
        };
        let mut sender = match tokio::time::timeout(self.policy.connect_timeout, connect).await {
            Err(_) => {
                return Err(connect_failed(format!(
                    "no connection within {} (--connect-timeout)",
                    crate::net::seconds(self.policy.connect_timeout)
                )));
            }
            Ok(Err(e)) => return Err(connect_failed(io_reason(&e))),
            Ok(Ok(s)) => s,
        };
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(hyper::header::HOST, "docker")
            .header(
                hyper::header::USER_AGENT,
                concat!("apko-rs/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(ct) = content_type {
            request = request.header(hyper::header::CONTENT_TYPE, ct);
        }
        let request = request
            .body(body)
            .map_err(|e| self.failed(what, e.to_string()))?;
        let exchange = async {
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| self.failed(what, describe(&e)))?;
            let status = response.status();
            let mut body = response.into_body();
            let mut answer = Vec::new();
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| self.failed(what, describe(&e)))?;
                if let Ok(data) = frame.into_data() {
                    if answer.len() + data.len() > MAX_ANSWER {
                        return Err(self.failed(
                            what,
                            format!("its answer passed {MAX_ANSWER} bytes; refusing to read more"),
                        ));
                    }
                    answer.extend_from_slice(&data);
                }
            }
            Ok((status, answer))
        };
        match tokio::time::timeout(wait, exchange).await {
            Ok(result) => result,
            Err(_) => Err(self.failed(
                what,
                format!("no complete answer within {}", crate::net::seconds(wait)),
            )),
        }
    }

    /// Loads a docker tarball (`docker load`); returns what the daemon said it loaded.
    pub async fn load(&self, tarball: &Path) -> Result<String, DaemonError> {
        const WHAT: &str = "could not load the image";
        let file = tokio::fs::File::open(tarball)
            .await
            .map_err(|e| self.failed(WHAT, format!("{}: {}", tarball.display(), io_reason(&e))))?;
        let size = file.metadata().await.map(|m| m.len()).unwrap_or(0);
        let stream = futures_util::StreamExt::map(
            tokio_util::io::ReaderStream::with_capacity(file, 1 << 20),
            |chunk| chunk.map(Frame::data),
        );
        // The read timeout, plus the time to send the tarball at 256 KiB/s at worst.
        let wait = self.policy.read_timeout
            + Duration::from_secs(size / crate::net::DEADLINE_BYTES_PER_SECOND);
        let (status, answer) = self
            .request(
                WHAT,
                hyper::Method::POST,
                "/images/load?quiet=1",
                Some("application/x-tar"),
                BodyExt::boxed(StreamBody::new(stream)),
                wait,
            )
            .await?;
        let messages = load_messages(&answer);
        if !status.is_success() {
            return Err(self.failed(WHAT, status_reason(status, &answer)));
        }
        match messages {
            Ok(lines) => Ok(lines.join("; ")),
            Err(error) => Err(self.failed(WHAT, error)),
        }
    }

    /// Tags `image` (an ID or name) as `repo:tag` (`docker tag`).
    pub async fn tag(&self, image: &str, repo: &str, tag: &str) -> Result<(), DaemonError> {
        let what = format!("could not tag {image} as {repo}:{tag}");
        let enc = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        let path = format!(
            "/images/{}/tag?repo={}&tag={}",
            enc(image),
            enc(repo),
            enc(tag)
        );
        let empty = BodyExt::boxed(Full::new(Bytes::new()).map_err(|never| match never {}));
        let (status, answer) = self
            .request(
                &what,
                hyper::Method::POST,
                &path,
                None,
                empty,
                self.policy.read_timeout,
            )
            .await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(self.failed(&what, status_reason(status, &answer)))
        }
    }
}

async fn handshake<S>(stream: S) -> std::io::Result<hyper::client::conn::http1::SendRequest<Body>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.split_once(" (os error") {
        Some((words, _)) => words.to_string(),
        None => text,
    }
}

/// `404 Not Found: no such image` from the daemon's `{"message": ...}` answer.
fn status_reason(status: hyper::StatusCode, answer: &[u8]) -> String {
    let message = serde_json::from_slice::<serde_json::Value>(answer)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(String::from))
        .unwrap_or_else(|| String::from_utf8_lossy(answer).trim().to_string());
    let status = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or_default()
    );
    let status = status.trim();
    if message.is_empty() {
        status.to_string()
    } else {
        format!("{status}: {}", crate::redact::mask(&message).into_owned())
    }
}

/// The `stream` lines of a load's JSON-lines answer, or its `error` (a load can fail after
/// a 200).
fn load_messages(answer: &[u8]) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    for value in serde_json::Deserializer::from_slice(answer).into_iter::<serde_json::Value>() {
        let Ok(value) = value else { break };
        if let Some(error) = value.get("error").and_then(|e| e.as_str()) {
            return Err(crate::redact::mask(error).into_owned());
        }
        if let Some(text) = value.get("stream").and_then(|s| s.as_str()) {
            let text = text.trim();
            if !text.is_empty() {
                lines.push(crate::redact::mask(text).into_owned());
            }
        }
    }
    Ok(lines)
}

/// An error and its causes, `: `-joined.
fn describe(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_host_forms() {
        assert_eq!(
            endpoint(None).unwrap(),
            Endpoint::Unix("/var/run/docker.sock".into())
        );
        assert_eq!(
            endpoint(Some("unix:///run/podman/podman.sock")).unwrap(),
            Endpoint::Unix("/run/podman/podman.sock".into())
        );
        assert_eq!(
            endpoint(Some("tcp://127.0.0.1")).unwrap(),
            Endpoint::Tcp("127.0.0.1:2375".into())
        );
        assert_eq!(
            endpoint(Some("ssh://me@host")).unwrap_err().to_string(),
            "DOCKER_HOST=\"ssh://me@host\" is not supported: use unix:///path/to/docker.sock or tcp://host:port"
        );
    }

    #[test]
    fn load_answers() {
        assert_eq!(
            load_messages(b"{\"stream\":\"Loaded image: apko.local/cache:ab\\n\"}\r\n").unwrap(),
            ["Loaded image: apko.local/cache:ab"]
        );
        assert_eq!(
            load_messages(
                b"{\"stream\":\"x\"}{\"errorDetail\":{\"message\":\"bad\"},\"error\":\"bad\"}"
            )
            .unwrap_err(),
            "bad"
        );
    }
}
