//! APKINDEX.tar.gz and its text: never panic, whatever the bytes.
#![no_main]
use apko::apk::index::Index;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(index) = Index::from_targz(data, None, "fuzz/APKINDEX.tar.gz") {
        for p in index.packages() {
            let _ = p.to_package();
            let _ = p.depends().count();
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(index) = Index::parse(text.to_string()) {
            for p in index.packages() {
                let _ = (p.id(), p.provides().count(), p.install_if().count());
            }
        }
    }
});
