//! apk version ordering is a total order on what it is given (reflexive, antisymmetric) and
//! dependency parsing never panics.
#![no_main]
use apko::apk::version::{Dep, compare};
use libfuzzer_sys::fuzz_target;
use std::cmp::Ordering;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (a, b) = text.split_once('\n').unwrap_or((text, ""));
    assert_eq!(compare(a, a), Ordering::Equal, "{a:?}");
    assert_eq!(compare(a, b), compare(b, a).reverse(), "{a:?} vs {b:?}");
    if let Ok(dep) = Dep::parse(a) {
        let _ = dep.matches_version(b);
    }
});
