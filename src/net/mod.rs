//! What a failed HTTP exchange says to the user, shared by the registry client and APK
//! downloads so both describe a reset or a cut-off body in the same words; and the limits on
//! both: timeouts and sizes ([`Policy`]), bodies read into memory ([`read_body`]), inflation
//! ([`LimitedReader`]).

pub mod retry;
pub mod tls;

use std::time::Duration;

/// reqwest's error and its causes, joined with `: `, without the URL (callers name it) and
/// without the wrappers that only say "something failed" (`error sending request`,
/// `client error (…)`, `error decoding response body`).
pub fn describe(err: &reqwest::Error) -> String {
    if err.is_connect() && err.is_timeout() {
        return format!(
            "could not connect within {} (--connect-timeout)",
            seconds(policy().connect_timeout)
        );
    }
    let mut text = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(err);
    let mut first = true;
    while let Some(e) = source {
        let part = if first {
            // The top level repeats the URL; its kind is all that is wanted from it.
            strip_url(&e.to_string())
        } else {
            e.to_string()
        };
        let noise = part.starts_with("error sending request")
            || part.starts_with("client error (")
            || part.starts_with("error decoding response body")
            || part.starts_with("request or response body error");
        if !noise && !part.is_empty() && !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
        first = false;
        source = e.source();
    }
    if text.is_empty() {
        text = strip_url(&err.to_string());
    }
    if text.contains("end of file before message length reached") {
        text.push_str(" (the connection closed before the whole body arrived)");
    }
    text
}

/// Whether trying the same request again may succeed: the connection failed, timed out, was
/// reset or closed before the whole body arrived. reqwest wraps a body cut off mid-stream in
/// a decode error, so the causes are looked at too.
pub fn is_transient(err: &reqwest::Error) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(err);
    while let Some(e) = source {
        if let Some(r) = e.downcast_ref::<reqwest::Error>()
            && (r.is_connect() || r.is_timeout() || r.is_request() || r.is_body())
        {
            return true;
        }
        source = e.source();
    }
    false
}

/// Whether `text` (from [`describe`]) is about a certificate: retrying will not help, a CA
/// file will.
pub fn is_certificate_problem(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("certificate") || lower.contains("unknownissuer")
}

/// `error sending request for url (…)` → `error sending request`.
fn strip_url(text: &str) -> String {
    match text.find(" for url (") {
        Some(at) => text[..at].to_string(),
        None => text.to_string(),
    }
}

/// Timeouts and size limits for everything apko reads from a server, one set per command
/// (the global flags; see [`set_policy`]). Both HTTP clients read it when they are built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// TCP connect and TLS handshake (`--connect-timeout`).
    pub connect_timeout: Duration,
    /// No byte received (nor, while a request body is sent, sent) for this long
    /// (`--read-timeout`).
    pub read_timeout: Duration,
    /// Whole-answer deadline for a body held in memory (`--response-timeout`), extended by
    /// one second per [`DEADLINE_BYTES_PER_SECOND`] bytes received.
    pub response_timeout: Duration,
    /// APK downloads (indexes, packages, keys) held in memory (`--max-http-response-size`).
    pub max_http_response_size: u64,
    /// An `APKINDEX.tar.gz` inflated (`--max-apkindex-decompressed-size`).
    pub max_apkindex_decompressed_size: u64,
    /// A package's first members (signature, control) inflated (`--max-apk-control-size`).
    pub max_apk_control_size: u64,
    /// A package's data section inflated (`--max-apk-data-size`).
    pub max_apk_data_size: u64,
}

/// apko's defaults (pkg/options: `DefaultSizeLimits`), and timeouts a user waits out.
pub const DEFAULT_POLICY: Policy = Policy {
    connect_timeout: Duration::from_secs(30),
    read_timeout: Duration::from_secs(60),
    response_timeout: Duration::from_secs(60),
    max_http_response_size: 8 << 30,
    max_apkindex_decompressed_size: 300 << 20,
    max_apk_control_size: 10 << 20,
    max_apk_data_size: 16 << 30,
};

/// The deadline of a body held in memory grows by one second per this many bytes received,
/// so a large package on a link of at least 256 KiB/s never meets it.
pub const DEADLINE_BYTES_PER_SECOND: u64 = 256 << 10;

/// A manifest or index from a registry: distribution refuses to store more than 4 MiB.
pub const MAX_MANIFEST_SIZE: u64 = 4 << 20;
/// A token endpoint's answer (real ones are a few KiB).
pub const MAX_TOKEN_ANSWER_SIZE: u64 = 1 << 20;
/// A token sent back as `Authorization: Bearer` (servers refuse headers past 8 to 64 KiB).
pub const MAX_TOKEN_SIZE: usize = 64 << 10;
/// What is read of an error answer's body (only its first 300 characters are shown).
pub const MAX_ERROR_BODY_SIZE: u64 = 64 << 10;
/// An image config blob read into memory (real ones are a few KiB).
pub const MAX_CONFIG_SIZE: u64 = 32 << 20;
/// A public key downloaded for the keyring (a PEM RSA key is under 1 KiB).
pub const MAX_KEY_SIZE: u64 = 1 << 20;

static POLICY: std::sync::RwLock<Policy> = std::sync::RwLock::new(DEFAULT_POLICY);

/// Sets the command's policy (the CLI does, before any client is built).
pub fn set_policy(policy: Policy) {
    *POLICY.write().unwrap_or_else(|e| e.into_inner()) = policy;
}

/// The command's policy.
pub fn policy() -> Policy {
    POLICY.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// `12 s`, `1.5 s`, `250 ms`.
pub fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Why a body held in memory was not read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// More than `limit` bytes (announced or received).
    TooLarge {
        /// The limit.
        limit: u64,
        /// The flag that sets it, or what fixes it.
        setting: &'static str,
        /// The announced `Content-Length`, when that is what gave it away.
        announced: Option<u64>,
    },
    /// No byte for the read timeout.
    Idle {
        /// How long nothing came.
        waited: Duration,
        /// Bytes received before.
        received: u64,
    },
    /// The whole-answer deadline passed.
    Deadline {
        /// The deadline.
        after: Duration,
        /// Bytes received by then.
        received: u64,
    },
    /// The connection failed (described with [`describe`]).
    Transport {
        /// What happened.
        reason: String,
        /// Whether trying again may help.
        transient: bool,
    },
}

impl BodyError {
    /// Whether trying again may help: not for a body that is too large.
    pub fn is_transient(&self) -> bool {
        match self {
            BodyError::TooLarge { .. } => false,
            BodyError::Transport { transient, .. } => *transient,
            _ => true,
        }
    }

    /// The size limit was what stopped it.
    pub fn is_too_large(&self) -> bool {
        matches!(self, BodyError::TooLarge { .. })
    }
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::TooLarge {
                limit,
                setting,
                announced: Some(n),
            } => write!(
                f,
                "the answer announces {n} bytes, more than the limit of {limit} bytes ({setting}); refusing it"
            ),
            BodyError::TooLarge { limit, setting, .. } => write!(
                f,
                "the answer is larger than the limit of {limit} bytes ({setting}); refusing it"
            ),
            BodyError::Idle { waited, received } => write!(
                f,
                "no data for {} after {received} bytes of the body (--read-timeout)",
                seconds(*waited)
            ),
            BodyError::Deadline { after, received } => write!(
                f,
                "the body did not arrive whole within {} ({received} bytes by then; --response-timeout, plus 1 s per 256 KiB received)",
                seconds(*after)
            ),
            BodyError::Transport { reason, .. } => f.write_str(reason),
        }
    }
}

/// Reads `response`'s body into memory: at most `limit` bytes (more is an error naming
/// `setting`), with the policy's read timeout between chunks and its whole-answer deadline.
pub async fn read_body(
    response: reqwest::Response,
    limit: u64,
    setting: &'static str,
    policy: &Policy,
) -> Result<bytes::Bytes, BodyError> {
    read_limited(response, limit, policy, false)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge {
                limit, announced, ..
            } => BodyError::TooLarge {
                limit,
                setting,
                announced,
            },
            other => other,
        })
}

/// The first `limit` bytes of an error answer's body, or what arrived before a timeout or a
/// failure: the body only adds detail to an error already decided.
pub async fn read_error_body(response: reqwest::Response) -> bytes::Bytes {
    let policy = policy();
    match read_limited(response, MAX_ERROR_BODY_SIZE, &policy, true).await {
        Ok(b) => b,
        Err(_) => bytes::Bytes::new(),
    }
}

async fn read_limited(
    mut response: reqwest::Response,
    limit: u64,
    policy: &Policy,
    truncate: bool,
) -> Result<bytes::Bytes, BodyError> {
    if let Some(n) = response.content_length()
        && n > limit
        && !truncate
    {
        return Err(BodyError::TooLarge {
            limit,
            setting: "",
            announced: Some(n),
        });
    }
    let start = tokio::time::Instant::now();
    let capacity = response
        .content_length()
        .unwrap_or(0)
        .min(limit)
        .min(64 << 20);
    let mut out = bytes::BytesMut::with_capacity(capacity as usize);
    loop {
        let received = out.len() as u64;
        let deadline_len =
            policy.response_timeout + Duration::from_secs(received / DEADLINE_BYTES_PER_SECOND);
        let deadline = start + deadline_len;
        let idle = tokio::time::Instant::now() + policy.read_timeout;
        let chunk = match tokio::time::timeout_at(idle.min(deadline), response.chunk()).await {
            Ok(Ok(Some(chunk))) => chunk,
            Ok(Ok(None)) => return Ok(out.freeze()),
            Ok(Err(e)) => {
                // A body cut off or reset after a good status: worth asking again.
                return Err(BodyError::Transport {
                    reason: describe(&e),
                    transient: true,
                });
            }
            Err(_) if truncate => return Ok(out.freeze()),
            Err(_) if idle <= deadline => {
                return Err(BodyError::Idle {
                    waited: policy.read_timeout,
                    received,
                });
            }
            Err(_) => {
                return Err(BodyError::Deadline {
                    after: deadline_len,
                    received,
                });
            }
        };
        let room = (limit - received) as usize;
        if chunk.len() > room {
            if truncate {
                out.extend_from_slice(&chunk[..room]);
                return Ok(out.freeze());
            }
            return Err(BodyError::TooLarge {
                limit,
                setting: "",
                announced: None,
            });
        }
        out.extend_from_slice(&chunk);
    }
}

/// What a request waited for when it timed out before the answer's headers.
pub fn header_timeout(host: &str, waited: Duration) -> String {
    format!(
        "no answer from {host} within {} (--read-timeout)",
        seconds(waited)
    )
}

/// A reader that fails once more than `limit` bytes come out of `inner` (an inflating
/// decoder): apko's `limitio`, so that a small gzip member cannot inflate without bound.
pub struct LimitedReader<R> {
    inner: R,
    left: u64,
    limit: u64,
    what: &'static str,
}

impl<R> LimitedReader<R> {
    /// At most `limit` bytes; the error names `what` (a flag).
    pub fn new(inner: R, limit: u64, what: &'static str) -> Self {
        LimitedReader {
            inner,
            left: limit,
            limit,
            what,
        }
    }

    /// The wrapped reader.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// The limit.
    pub fn limit(&self) -> u64 {
        self.limit
    }
}

/// The error a [`LimitedReader`] returns: `inflates to more than N bytes (FLAG)`.
#[derive(Debug)]
pub struct InflateLimit {
    /// The limit.
    pub limit: u64,
    /// The flag that sets it.
    pub what: &'static str,
}

impl std::fmt::Display for InflateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "it inflates to more than {} bytes ({}); refusing it",
            self.limit, self.what
        )
    }
}

impl std::error::Error for InflateLimit {}

fn inflate_limit_error(limit: u64, what: &'static str) -> std::io::Error {
    std::io::Error::other(InflateLimit { limit, what })
}

/// Whether `e` (or what it wraps) is a [`LimitedReader`]'s.
pub fn is_inflate_limit(e: &std::io::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = e.get_ref().map(|r| r as _);
    while let Some(s) = source {
        if s.is::<InflateLimit>() {
            return true;
        }
        source = s.source();
    }
    false
}

impl<R: std::io::Read> std::io::Read for LimitedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            // At the limit: one more byte means over it.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(inflate_limit_error(self.limit, self.what)),
            };
        }
        let want = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}
