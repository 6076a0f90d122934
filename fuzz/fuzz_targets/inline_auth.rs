//! `--auth`, `HTTP_AUTH` and image references: never panic; an error never quotes the value.
#![no_main]
use apko::auth::inline;
use apko::registry::reference::Reference;
use libfuzzer_sys::fuzz_target;

/// The same value with its letters and digits replaced: its error has the same wording, so
/// text found in both is the message's own, not an echo of the value.
fn masked(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_alphanumeric() { 'Q' } else { c })
        .collect()
}

fn check(text: &str, parse: impl Fn(&str) -> Result<(), String>) {
    if let Err(e) = parse(text) {
        if text.len() >= 16 && !text.contains('\n') && e.contains(text) {
            let other = parse(&masked(text)).err().unwrap_or_default();
            assert!(other.contains(text), "the value was echoed: {e}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check(text, |t| inline::parse(t, "--auth #1").map(|_| ()));
    check(text, |t| inline::parse_http_auth(t).map(|_| ()));
    let _ = inline::parse_lines(text, "APKO_AUTH");
    if let Ok(r) = Reference::parse(text) {
        // What Display prints parses back to the same reference.
        assert_eq!(Reference::parse(&r.to_string()).as_ref(), Ok(&r));
    }
});
