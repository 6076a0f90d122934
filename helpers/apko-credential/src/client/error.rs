//! Client errors: each names the helper and the action, says what to do, and never carries a
//! secret (helper output is redacted before it is put into a message).

use crate::wire::Action;
use std::time::Duration;

/// Why a helper call gave no answer. A helper's "not found" is not an error: `get` returns
/// `Ok(None)` for it and `erase` returns `Ok(false)`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The program does not exist.
    #[error(
        "credential helper {program} is not installed: {why}{}; install it, or remove the setting that names it",
        origin.as_deref().map(|o| format!(" (it is configured by {o})")).unwrap_or_default()
    )]
    NotInstalled {
        /// e.g. `docker-credential-pass`.
        program: String,
        /// What the lookup found.
        why: String,
        /// The configuration entry that asked for it.
        origin: Option<String>,
    },
    /// The program exists but could not be started (permissions, bad interpreter).
    #[error("credential helper {program} ({action}) could not be started: {cause}")]
    Spawn {
        /// The helper.
        program: String,
        /// The action it was asked for.
        action: String,
        /// The operating system's reason (in the message, so not a `source`).
        cause: std::io::Error,
    },
    /// It did not finish in time; it and its process group were killed.
    #[error(
        "credential helper {program} ({action}) did not answer within {} and was killed; fix the helper, or allow more time with {}=SECONDS",
        fmt_duration(*timeout), super::TIMEOUT_ENV
    )]
    TimedOut {
        /// The helper.
        program: String,
        /// The action it was asked for.
        action: String,
        /// The limit it exceeded.
        timeout: Duration,
    },
    /// It printed more than the bound allows; it was killed.
    #[error(
        "credential helper {program} ({action}) printed more than {limit} bytes on {stream} and was killed"
    )]
    Flooded {
        /// The helper.
        program: String,
        /// The action it was asked for.
        action: String,
        /// `stdout` or `stderr`.
        stream: &'static str,
        /// The bound it exceeded.
        limit: usize,
    },
    /// It exited unsuccessfully with something other than "not found".
    #[error(
        "credential helper {program} ({action}) failed with {status}: {}{}",
        if stdout.is_empty() { "no output" } else { stdout.as_str() },
        if stderr.is_empty() { String::new() } else { format!("; stderr: {stderr}") }
    )]
    Failed {
        /// The helper.
        program: String,
        /// The action it was asked for.
        action: String,
        /// `exit status N` or `signal N`.
        status: String,
        /// Its stdout, trimmed and redacted.
        stdout: String,
        /// Its stderr, trimmed and redacted.
        stderr: String,
    },
    /// It succeeded but its answer is not what the protocol says.
    #[error("credential helper {program} ({action}) gave an unusable answer: {reason}")]
    InvalidOutput {
        /// The helper.
        program: String,
        /// The action it was asked for.
        action: String,
        /// What was wrong (never the output itself).
        reason: String,
    },
    /// The client's own settings are invalid (e.g. the timeout variable).
    #[error("{reason}")]
    Config {
        /// What is wrong and how to fix it.
        reason: String,
    },
}

impl Error {
    /// The helper this error is about, if any.
    pub fn program(&self) -> Option<&str> {
        match self {
            Error::NotInstalled { program, .. }
            | Error::Spawn { program, .. }
            | Error::TimedOut { program, .. }
            | Error::Flooded { program, .. }
            | Error::Failed { program, .. }
            | Error::InvalidOutput { program, .. } => Some(program),
            Error::Config { .. } => None,
        }
    }
}

fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

const MAX_SHOWN: usize = 500;

/// Helper output (stdout or stderr) made fit for an error message. After `get`, `list` and
/// `erase` the output may hold credentials the client does not know (a helper that dumps the
/// entry it failed to erase), so anything that looks like JSON or mentions a secret is
/// withheld entirely (as ggcr does); for every action the known secret, raw or JSON-escaped,
/// is masked; long output is cut.
pub(crate) fn redact(action: Action, output: &[u8], secret: Option<&str>) -> String {
    let text = String::from_utf8_lossy(output);
    if matches!(action, Action::Get | Action::List | Action::Erase)
        && (text.contains('{') || text.to_ascii_lowercase().contains("secret"))
    {
        return format!(
            "<{} bytes withheld: they may contain a secret>",
            text.trim().len()
        );
    }
    // Mask before trimming: a secret with leading or trailing blanks must still match whole.
    shorten(mask(&text, secret).trim().to_string())
}

/// Masks the secret as it may appear: raw, JSON-escaped, and JSON-escaped the way Go's
/// encoder does it (`<`, `>`, `&`, U+2028, U+2029 as `\uXXXX`).
fn mask(text: &str, secret: Option<&str>) -> String {
    let mut out = text.to_string();
    if let Some(secret) = secret.filter(|s| !s.is_empty()) {
        let escaped = serde_json::to_string(secret).expect("strings serialize");
        let escaped = escaped[1..escaped.len() - 1].to_string();
        let go_escaped = escaped
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026")
            .replace('\u{2028}', "\\u2028")
            .replace('\u{2029}', "\\u2029");
        for form in [secret, escaped.as_str(), go_escaped.as_str()] {
            out = out.replace(form, "<redacted>");
        }
    }
    out
}

fn shorten(mut text: String) -> String {
    if text.len() > MAX_SHOWN {
        let mut cut = MAX_SHOWN;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let total = text.len();
        text.truncate(cut);
        text.push_str(&format!("… ({total} bytes in all)"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_output_that_may_hold_a_secret_is_withheld() {
        let r = redact(Action::Get, br#"{"Secret":"hunter2"}"#, None);
        assert_eq!(r, "<20 bytes withheld: they may contain a secret>");
        assert_eq!(
            redact(Action::Get, b"boom: keychain locked\n", None),
            "boom: keychain locked"
        );
        // erase knows no secret, yet a careless helper may print the entry it failed to erase.
        let r = redact(Action::Erase, br#"{"Secret":"hunter2"}"#, None);
        assert_eq!(r, "<20 bytes withheld: they may contain a secret>");
    }

    #[test]
    fn a_secret_with_blanks_at_its_ends_is_masked_whole() {
        // Found by fuzz/fuzz_targets/helper_output.rs: trimming first left all but the blank.
        let secret = " s3cret-with-blanks \n";
        let out = format!("rejected: {secret}");
        assert_eq!(
            redact(Action::Store, out.as_bytes(), Some(secret)),
            "rejected: <redacted>"
        );
    }

    #[test]
    fn known_secret_is_masked_raw_and_escaped() {
        let r = redact(Action::Store, b"bad input a\\\"b and a\"b", Some("a\"b"));
        assert_eq!(r, "bad input <redacted> and <redacted>");
    }

    #[test]
    fn go_escaped_secret_is_masked() {
        let r = redact(
            Action::Store,
            br#"echo: {"Secret":"a\u003cb\u0026c"}"#,
            Some("a<b&c"),
        );
        assert_eq!(r, r#"echo: {"Secret":"<redacted>"}"#);
    }

    #[test]
    fn long_output_is_shortened() {
        let r = redact(Action::Erase, "x".repeat(2000).as_bytes(), None);
        assert!(r.ends_with("… (2000 bytes in all)"));
        assert_eq!(r.chars().filter(|c| *c == 'x').count(), MAX_SHOWN);
    }
}
