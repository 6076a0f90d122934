//! The last line of defence between a secret and the terminal. Every secret apko learns (a
//! credential from any source, a password typed at `login`, a registry token) is remembered
//! in each form it travels in, and error messages and log lines are masked before they are
//! written. It exists for text apko does not write itself: a registry or token server that
//! echoes the `Authorization` header or the password in its error message, a helper's
//! diagnostic. The first lines of defence stay: `Secret` never prints, helper output is
//! withheld or masked, URLs lose their credentials.

use crate::auth::credential::Credential;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use std::borrow::Cow;
use std::sync::RwLock;

/// What replaces a secret.
pub const MASK: &str = "<redacted>";

/// Shorter secrets are not masked in free text: they would mask ordinary words (`a`, `ab`)
/// without protecting anything worth a guess.
const MIN_LEN: usize = 4;

static KNOWN: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// The forms text about `secret` may be normalised to before it is shown: control
/// characters removed (server error excerpts), or replaced by spaces, whitespace runs made one
/// space, ends trimmed; and Rust's `{:?}` escaping.
fn normalised(secret: &str) -> Vec<String> {
    let stripped: String = secret.chars().filter(|c| !c.is_control()).collect();
    let spaced: String = secret
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let collapse = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let debug = format!("{secret:?}");
    vec![
        stripped.trim().to_string(),
        stripped.clone(),
        collapse(&stripped),
        collapse(&spaced),
        debug[1..debug.len() - 1].to_string(),
    ]
}

/// Remembers `secret` in the forms it may come back in: as is, JSON-escaped,
/// percent-encoded (form bodies), base64 (alone, and as a Basic header with `username`), and
/// as text normalisation leaves it ([`normalised`]).
pub fn remember(username: Option<&str>, secret: &str) {
    if secret.len() < MIN_LEN {
        return;
    }
    let json = serde_json::to_string(secret).expect("strings serialize");
    let mut forms = vec![
        secret.to_string(),
        json[1..json.len() - 1].to_string(),
        url::form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
        STANDARD.encode(secret),
        URL_SAFE_NO_PAD.encode(secret),
    ];
    forms.extend(normalised(secret));
    if let Some(user) = username {
        forms.push(STANDARD.encode(format!("{user}:{secret}")));
    }
    let mut known = KNOWN.write().unwrap_or_else(|e| e.into_inner());
    for form in forms {
        if form.len() >= MIN_LEN && !known.contains(&form) {
            known.push(form);
        }
    }
    // Longest first: a form that contains another is masked whole.
    known.sort_by_key(|f| std::cmp::Reverse(f.len()));
}

/// Remembers the secret of `credential`.
pub fn remember_credential(credential: &Credential) {
    match credential {
        Credential::Basic { username, password } => remember(Some(username), password.expose()),
        Credential::IdentityToken(t) | Credential::Bearer(t) => remember(None, t.expose()),
    }
}

/// `text` with every remembered secret replaced by [`MASK`].
pub fn mask(text: &str) -> Cow<'_, str> {
    let known = KNOWN.read().unwrap_or_else(|e| e.into_inner());
    let mut out = Cow::Borrowed(text);
    for form in known.iter() {
        if out.contains(form.as_str()) {
            out = Cow::Owned(out.replace(form.as_str(), MASK));
        }
    }
    out
}

/// A writer for log lines that masks each one before it reaches stderr. The fmt layer writes
/// one event per writer, so each event is masked whole.
#[derive(Default)]
pub struct MaskedStderr(Vec<u8>);

impl std::io::Write for MaskedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for MaskedStderr {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.0);
        let _ = std::io::Write::write_all(&mut std::io::stderr(), mask(&text).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_is_masked_and_short_secrets_are_left_alone() {
        remember(Some("alice"), "pa ss&wörd\"1");
        let basic = STANDARD.encode("alice:pa ss&wörd\"1");
        let text = format!(
            "raw pa ss&wörd\"1, json pa ss&wörd\\\"1, form pa+ss%26w%C3%B6rd%221, basic {basic}"
        );
        assert_eq!(
            mask(&text),
            "raw <redacted>, json <redacted>, form <redacted>, basic <redacted>"
        );
        remember(None, "abc");
        assert_eq!(mask("abcdef"), "abcdef");
    }

    #[test]
    fn secrets_with_control_characters_are_masked_after_normalisation() {
        remember(None, "line1\nline2\u{7}\tend  x");
        for shown in [
            "line1\nline2\u{7}\tend  x",
            "line1line2end  x",
            "line1line2end x",
            "line1 line2 end x",
            "line1\\nline2\\u{7}\\tend  x",
            "line1\\nline2\\u0007\\tend  x",
        ] {
            assert_eq!(
                mask(&format!("got {shown}!")),
                "got <redacted>!",
                "{shown:?}"
            );
        }
    }
}
