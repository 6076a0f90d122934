//! What a failed HTTP exchange says to the user, shared by the registry client and APK
//! downloads so both describe a reset or a cut-off body in the same words.

/// reqwest's error and its causes, joined with `: `, without the URL (callers name it) and
/// without the wrappers that only say "something failed" (`error sending request`,
/// `client error (…)`, `error decoding response body`).
pub fn describe(err: &reqwest::Error) -> String {
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
