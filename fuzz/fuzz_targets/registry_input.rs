//! What registries and token servers send: `WWW-Authenticate` headers, manifests, token
//! answers, error bodies. Never panics; names come out lowercased; a token answer's error never
//! quotes the body (it may hold the token); error details stay bounded.
#![no_main]
use apko::oci::{self, Digest};
use apko::registry::{challenge, error::error_detail, token};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for c in challenge::parse(&text) {
        assert_eq!(c.scheme, c.scheme.to_ascii_lowercase());
        assert!(!c.scheme.is_empty());
        for (name, _) in &c.params {
            assert_eq!(*name, name.to_ascii_lowercase());
        }
    }
    let _ = challenge::parse_all(text.split('\n'));
    if let Ok(media_type) = oci::media_type_of(data, Some(oci::MANIFEST_MEDIA_TYPE)) {
        let _ = oci::parse(data, &media_type);
    }
    let _ = oci::parse(data, oci::INDEX_MEDIA_TYPE);
    let _ = oci::Platform::parse(&text);
    if let Ok(d) = Digest::parse(&text) {
        assert_eq!(d.as_str(), text);
    }
    if let Err(e) = token::parse_response(data) {
        // Fixed texts only: nothing of the body (which may hold the token) is quoted.
        assert!(
            [
                "the answer is not the token JSON the protocol defines",
                "the answer holds neither token nor access_token",
            ]
            .contains(&e.as_str()),
            "{e}"
        );
    }
    assert!(error_detail(data).chars().count() <= 303);
});
