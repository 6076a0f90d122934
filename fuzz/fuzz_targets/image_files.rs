//! Files read out of packages while finishing an image: ELF shared objects (for
//! /etc/ld.so.cache) and PEM certificates (for `certificates`): never panic, whatever the bytes;
//! a certificate that parses re-parses to the same fingerprint.
#![no_main]
use apko::image::{certificates, ldso_cache};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ldso_cache::elf_sonames(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok((fingerprint, pem)) = certificates::parse_certificate(text) {
            let (again, _) = certificates::parse_certificate(&pem).expect("re-encoded PEM parses");
            assert_eq!(again, fingerprint);
        }
    }
});
