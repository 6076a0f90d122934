//! Go's `encoding/json` bytes: compact with HTML-safe escaping (`<`, `>`, `&`, U+2028, U+2029),
//! as go-containerregistry writes manifests, indexes and configs; their digests depend on it.

use serde::Serialize;

/// Go's `json.Marshal` bytes for `value`.
pub fn to_go_json<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter);
    value
        .serialize(&mut ser)
        .expect("these documents always serialize");
    out
}

/// Go's `json.MarshalIndent(v, "", "  ")` (HTML-safe escaping), newline-terminated: SBOMs
/// and lockfiles, which apko writes so.
pub fn to_go_json_indented<T: Serialize>(value: &T) -> Vec<u8> {
    let text = serde_json::to_string_pretty(value).expect("these documents always serialize");
    // `<`, `>`, `&`, U+2028 and U+2029 occur only inside JSON strings
    let mut out = String::with_capacity(text.len() + 1);
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            _ => out.push(c),
        }
    }
    out.push('\n');
    out.into_bytes()
}

/// Compact JSON with Go's HTML-safe string escaping.
struct GoFormatter;

impl serde_json::ser::Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let esc = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            writer.write_all(&fragment.as_bytes()[start..i])?;
            writer.write_all(esc.as_bytes())?;
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_escaping() {
        let c = crate::oci::Config {
            Entrypoint: vec!["/bin/sh".into(), "-c".into(), "a && b <x>".into()],
            ..crate::oci::Config::default()
        };
        assert_eq!(
            String::from_utf8(to_go_json(&c)).unwrap(),
            r#"{"Entrypoint":["/bin/sh","-c","a \u0026\u0026 b \u003cx\u003e"]}"#
        );
    }
}
