//! Judging one helper call for the checklist: exit codes, exact texts, `get` and `list`
//! answers, and report text that never shows a secret.

use super::Runner;
use apko_credential::client::Invocation;

/// An item's verdict: `Ok(detail)` passes, `Err(why)` fails.
pub(super) type Judged = Result<String, String>;

pub(super) fn stdout(i: &Invocation) -> String {
    String::from_utf8_lossy(&i.stdout).trim().to_string()
}

/// Helper output fit for the report: a `Secret` is never shown (a JSON answer keeps its
/// shape with the value masked; anything else that may hold one is withheld), then cut.
pub(super) fn shorten(s: &str) -> String {
    let shown = match serde_json::from_str::<serde_json::Value>(s.trim()) {
        Ok(serde_json::Value::Object(mut map)) => {
            for (key, value) in map.iter_mut() {
                if key.eq_ignore_ascii_case("secret") {
                    *value = serde_json::Value::String(crate::redact::MASK.into());
                }
            }
            serde_json::Value::Object(map).to_string()
        }
        Ok(_) => s.to_string(),
        // gpg's "No secret key" (pass, gopass) names no secret; anything else that mentions one
        // may hold it.
        Err(_)
            if s.contains('{')
                || s.to_ascii_lowercase()
                    .replace("no secret key", "")
                    .contains("secret") =>
        {
            format!("<{} bytes withheld: they may contain a secret>", s.len())
        }
        Err(_) => s.to_string(),
    };
    let shown = crate::redact::mask(&shown);
    let mut s: String = shown.chars().take(120).collect();
    if s.is_empty() {
        s.push_str("(nothing)");
    }
    format!("{s:?}")
}

pub(super) fn code(i: &Invocation) -> String {
    i.code
        .map_or_else(|| "a signal".into(), |c| format!("exit {c}"))
}

pub(super) fn ok_silent(i: &Invocation, what: &str) -> Judged {
    if i.code != Some(0) {
        return Err(format!(
            "{what}: {} with stdout {}",
            code(i),
            shorten(&stdout(i))
        ));
    }
    if !stdout(i).is_empty() {
        return Err(format!("{what}: printed {} on stdout", shorten(&stdout(i))));
    }
    Ok(String::new())
}

pub(super) fn expect_error(i: &Invocation, text: &str) -> Judged {
    let out = stdout(i);
    match (i.code, out == text) {
        (Some(0), _) => Err(format!("exit 0 with stdout {}", shorten(&out))),
        (_, true) => Ok(String::new()),
        (_, false) => Err(format!(
            "{}, stdout {} instead of {text:?}",
            code(i),
            shorten(&out)
        )),
    }
}

/// Parses `get` output; never puts the output itself in an error (it holds a secret).
pub(super) fn parse_get(
    i: &Invocation,
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    if i.code != Some(0) {
        return Err(format!(
            "get: {} with stdout {}",
            code(i),
            shorten(&stdout(i))
        ));
    }
    let text = String::from_utf8(i.stdout.clone()).map_err(|_| "get: stdout is not UTF-8")?;
    match serde_json::from_str::<serde_json::Value>(text.trim()) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err("get: stdout is JSON but not an object".into()),
        Err(e) => Err(format!(
            "get: stdout is not one JSON object ({})",
            apko_credential::wire::describe_json_error(&e)
        )),
    }
}

pub(super) fn field<'a>(
    map: &'a serde_json::Map<String, serde_json::Value>,
    key: &str,
) -> Option<&'a str> {
    map.get(key).and_then(|v| v.as_str())
}

fn compare_secret(got: &str, want: &str) -> Judged {
    if got == want {
        return Ok(String::new());
    }
    let at = got
        .bytes()
        .zip(want.bytes())
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    Err(format!(
        "secret came back as {} bytes instead of {} (first difference at byte {at})",
        got.len(),
        want.len()
    ))
}

pub(super) fn expect_get(r: &Runner, label: &str, url: &str, user: &str, secret: &str) -> Judged {
    let map = parse_get(&r.get(label, url)?)?;
    if field(&map, "Username") != Some(user) {
        return Err(format!(
            "Username came back as {:?} instead of {user:?}",
            field(&map, "Username")
        ));
    }
    let got = field(&map, "Secret").ok_or("no Secret string in the answer")?;
    compare_secret(got, secret)
}

pub(super) fn roundtrip(r: &Runner, path: &str, user: &str, secret: &str) -> Judged {
    let url = r.url(path);
    ok_silent(
        &r.store(&format!("store {path}"), &url, user, secret)?,
        "store",
    )?;
    expect_get(r, &format!("get {path}"), &url, user, secret)
}

pub(super) fn parse_list(i: &Invocation) -> Result<Vec<(String, String)>, String> {
    if i.code != Some(0) {
        return Err(format!(
            "list: {} with stdout {}",
            code(i),
            shorten(&stdout(i))
        ));
    }
    match serde_json::from_slice::<serde_json::Value>(&i.stdout) {
        Ok(serde_json::Value::Object(map)) => map
            .into_iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(u) => Ok((k, u)),
                _ => Err(format!("list: the value for {k:?} is not a string")),
            })
            .collect(),
        Ok(other) => Err(format!(
            "list printed {} instead of an object",
            shorten(&other.to_string())
        )),
        Err(e) => Err(format!(
            "list: stdout is not JSON ({})",
            apko_credential::wire::describe_json_error(&e)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::shorten;

    #[test]
    fn helper_output_in_the_report_never_shows_a_secret() {
        // A JSON answer keeps its fields (in sorted order), with the secret masked.
        assert_eq!(
            shorten(r#"{"ServerURL":"r","Username":"u","Secret":"hunter2"}"#),
            r#""{\"Secret\":\"<redacted>\",\"ServerURL\":\"r\",\"Username\":\"u\"}""#
        );
        // Cut-off JSON, or text naming a secret, is withheld.
        assert_eq!(
            shorten(r#"{"Secret":"hunter2"#),
            r#""<18 bytes withheld: they may contain a secret>""#
        );
        assert_eq!(
            shorten("secret hunter2 rejected"),
            r#""<23 bytes withheld: they may contain a secret>""#
        );
        assert_eq!(
            shorten("secret key: hunter2"),
            r#""<19 bytes withheld: they may contain a secret>""#
        );
        // Anything else is shown as it is, gpg's own failure text included.
        assert_eq!(
            shorten("exit status 2: gpg: decryption failed: No secret key"),
            r#""exit status 2: gpg: decryption failed: No secret key""#
        );
        assert_eq!(
            shorten("credentials not found in native keychain"),
            r#""credentials not found in native keychain""#
        );
        assert_eq!(shorten(""), r#""(nothing)""#);
    }
}
