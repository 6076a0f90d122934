//! Registry errors: each names the registry or host, what was being done, and what to do.
//! None carries a secret: request URLs never hold one, and response bodies are reduced to the
//! registry's error codes and messages.

use crate::auth::resolver::ResolveError;
use reqwest::StatusCode;

/// Anything that can go wrong talking to a registry.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with a status the operation cannot use.
    #[error("{context}: {status}{detail}")]
    Status {
        /// What was being done, e.g. `PUT manifest sha256:… to r.example/app`.
        context: String,
        /// The status.
        status: StatusCode,
        /// ` (CODE: message)` from the registry's error body, or empty.
        detail: String,
    },
    /// The request did not get an answer (connection, TLS, timeout).
    #[error("{context}: {cause}{hint}")]
    Transport {
        /// What was being done.
        context: String,
        /// The underlying cause chain.
        cause: String,
        /// What to do about it, or empty.
        hint: String,
        /// Whether trying again may help.
        retriable: bool,
    },
    /// No credential source could authenticate.
    #[error(transparent)]
    Credentials(#[from] ResolveError),
    /// A reference, tag or digest the caller gave that cannot be used.
    #[error("{0}")]
    Reference(String),
    /// A manifest or index that is malformed, or lacks what was asked of it (a platform).
    #[error("{0}")]
    Manifest(String),
    /// A manifest of a media type this client does not read.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Content that does not match its digest or size, as served or as stored.
    #[error("{0}")]
    DigestMismatch(String),
    /// A body larger than apko holds in memory for its kind (never retried).
    #[error("{0}")]
    TooLarge(String),
    /// The registry broke the protocol: no usable `Location`, a 401 without a challenge, a
    /// token answer that is not one, too many redirects.
    #[error("{0}")]
    Protocol(String),
    /// Refused for safety or by an option: credentials towards plain HTTP or an internal
    /// address, a downgrade to HTTP, a pull under `--offline`.
    #[error("{0}")]
    Refused(String),
    /// The registry refused a fixed credential (or anonymous access) and there is no other
    /// source to try.
    #[error("{0}")]
    Unauthorized(String),
    /// `login` could not verify the credential (refused or unreachable); nothing was stored.
    #[error("{0}")]
    Login(String),
    /// The trust settings cannot be used: `--ca-file`, `SSL_CERT_FILE`, the TLS client.
    #[error("{0}")]
    Tls(String),
    /// An OCI layout that cannot be read or written.
    #[error(transparent)]
    Layout(#[from] crate::oci::LayoutError),
    /// Local I/O outside a layout (a blob being received, a file being sent).
    #[error("{0}")]
    Io(String),
    /// The process could not do its part: the async runtime, a worker task.
    #[error("{0}")]
    Internal(String),
    /// A failure that was already retried as often as allowed: whoever would restart the
    /// operation on a passing failure must not multiply the attempts.
    #[error(transparent)]
    Retried(Box<Error>),
}

impl Error {
    /// Whether a retry of the same operation may succeed (429, 5xx, dropped connections).
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Status { status, .. } => retriable_status(*status),
            Error::Transport { retriable, .. } => *retriable,
            _ => false,
        }
    }

    /// Says that the operation was tried `attempts` times, when it was: the user then knows
    /// the failure is not a passing one.
    pub fn after_attempts(self, attempts: u32) -> Error {
        if attempts < 2 {
            return self;
        }
        let note = format!(" (after {attempts} attempts)");
        match self {
            Error::Status {
                context,
                status,
                detail,
            } => Error::Status {
                context,
                status,
                detail: detail + &note,
            },
            Error::Transport {
                context,
                cause,
                hint,
                retriable,
            } => Error::Transport {
                context,
                cause: cause + &note,
                hint,
                retriable,
            },
            other => other,
        }
    }

    /// The error for an answer with a status the operation cannot use: the registry's own
    /// error text, then what the transport tried (see [`Error::after_trying`]).
    pub async fn from_response(context: String, response: reqwest::Response) -> Error {
        let status = response.status();
        let tried = super::transport::Tried::of(&response);
        let body = crate::net::read_error_body(response).await;
        Error::Status {
            context,
            status,
            detail: error_detail(&body),
        }
        .after_trying(tried)
    }

    /// Says how often a passing failure was tried and whether a `Retry-After` was too long,
    /// and marks it [`Error::Retried`] when the transport already retried it as often as
    /// allowed, so that no caller starts it over.
    pub fn after_trying(self, tried: super::transport::Tried) -> Error {
        if !self.is_retriable() {
            return self;
        }
        let e = match (self, tried.refused_wait) {
            (
                Error::Status {
                    context,
                    status,
                    detail,
                },
                Some(wait),
            ) => Error::Status {
                context,
                status,
                detail: format!(
                    "{detail} (it asked to be retried in {} s, longer than apko waits: try again later)",
                    wait.as_secs()
                ),
            },
            (e, _) => e,
        };
        let e = e.after_attempts(tried.attempts);
        if tried.exhausted || tried.refused_wait.is_some() {
            e.retried()
        } else {
            e
        }
    }

    /// Marks the error as already retried as often as allowed (see [`Error::Retried`]).
    pub fn retried(self) -> Error {
        match self {
            Error::Retried(_) => self,
            other => Error::Retried(Box::new(other)),
        }
    }

    /// Puts what the failed request was part of in front of a transport error (whose
    /// context is only the request), e.g. which blob an upload URL was for.
    pub fn within(self, what: &str) -> Error {
        match self {
            Error::Transport {
                context,
                cause,
                hint,
                retriable,
            } if !context.starts_with(what) => Error::Transport {
                context: format!("{what}: {context}"),
                cause,
                hint,
                retriable,
            },
            Error::Retried(inner) => Error::Retried(Box::new(inner.within(what))),
            other => other,
        }
    }

    /// A manifest or index (read as `what`) that cannot be used: an unsupported media type
    /// apart from the rest, so that a caller can tell it from a malformed document.
    pub fn manifest(what: &str, why: crate::oci::ManifestError) -> Error {
        let text = format!("{what}: {why}");
        match why {
            crate::oci::ManifestError::UnsupportedMediaType(_) => Error::UnsupportedMediaType(text),
            _ => Error::Manifest(text),
        }
    }

    /// A body held in memory that did not arrive whole: too large (never retried), too slow
    /// or cut off (retried as transport errors are).
    pub fn body(context: String, err: crate::net::BodyError) -> Error {
        if err.is_too_large() {
            return Error::TooLarge(format!("{context}: {err}"));
        }
        Error::Transport {
            context,
            retriable: err.is_transient(),
            cause: err.to_string(),
            hint: String::new(),
        }
    }

    /// A transport error from reqwest, with its cause chain and a hint for TLS problems.
    pub fn transport(context: String, err: &reqwest::Error) -> Error {
        let cause = crate::net::describe(err);
        let certificate = crate::net::is_certificate_problem(&cause);
        let hint = if certificate {
            "; if the registry uses a private CA, give its certificate with --ca-file FILE (or SSL_CERT_FILE)"
        } else {
            ""
        };
        Error::Transport {
            context,
            cause,
            hint: hint.to_string(),
            // A certificate that is not trusted now will not be in a second.
            retriable: !certificate && crate::net::is_transient(err),
        }
    }
}

/// A descriptor built in memory with a digest that is not one (those read are checked).
impl From<crate::oci::DigestError> for Error {
    fn from(e: crate::oci::DigestError) -> Error {
        Error::Manifest(e.to_string())
    }
}

/// 429 and the 5xx statuses that mean "later".
pub use crate::net::retry::retriable_status;

/// ` (CODE: message; CODE: message)` from a distribution-spec error body, or a short excerpt
/// of a non-JSON body; empty when there is nothing useful. Bounded in length.
pub fn error_detail(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default)]
        errors: Vec<Entry>,
        // Token servers: {"details": …} (distribution), {"error": …, "error_description": …}.
        #[serde(default)]
        details: Option<String>,
        #[serde(default)]
        error: Option<String>,
        #[serde(default)]
        error_description: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    // Secrets are masked before the text is normalised below (control characters dropped):
    // after, a secret holding one would no longer be found.
    let text = match serde_json::from_slice::<Body>(body) {
        Ok(b) => {
            let mut parts: Vec<String> = b
                .errors
                .iter()
                .map(|e| match (e.code.is_empty(), e.message.is_empty()) {
                    (false, false) => format!("{}: {}", e.code, e.message),
                    (false, true) => e.code.clone(),
                    _ => e.message.clone(),
                })
                .filter(|s| !s.is_empty())
                .collect();
            parts.extend(b.details);
            parts.extend(b.error);
            parts.extend(b.error_description);
            parts.join("; ")
        }
        Err(_) => {
            let s = String::from_utf8_lossy(body);
            let s = s.trim();
            if s.starts_with('<') || s.contains('\u{fffd}') {
                String::new()
            } else {
                s.to_string()
            }
        }
    };
    let text = crate::redact::mask(&text);
    let text: String = text.chars().filter(|c| !c.is_control()).take(300).collect();
    if text.is_empty() {
        String::new()
    } else {
        format!(" ({text})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details() {
        assert_eq!(
            error_detail(
                br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}"#
            ),
            " (UNAUTHORIZED: authentication required)"
        );
        assert_eq!(
            error_detail(br#"{"details":"bad credentials"}"#),
            " (bad credentials)"
        );
        assert_eq!(error_detail(b"<html>nope</html>"), "");
        assert_eq!(error_detail(b""), "");
        assert_eq!(error_detail(b"plain text\n"), " (plain text)");
        assert_eq!(error_detail(&[b'x'; 1000]).len(), 303);
    }

    #[test]
    fn manifest_errors_say_which_kind() {
        let e = Error::manifest(
            "r.example/img",
            crate::oci::ManifestError::UnsupportedMediaType("text/plain".into()),
        );
        assert!(matches!(e, Error::UnsupportedMediaType(_)));
        assert_eq!(
            e.to_string(),
            "r.example/img: unsupported manifest media type \"text/plain\""
        );
        let e = Error::manifest(
            "r.example/img",
            crate::oci::ManifestError::InvalidIndex("eof".into()),
        );
        assert!(matches!(e, Error::Manifest(_)));
        assert_eq!(e.to_string(), "r.example/img: invalid index: eof");
    }
}
