//! Docker config.json / containers auth.json parsing: never panics; every entry it accepts
//! yields a credential or a placeholder; errors never quote the file.
#![no_main]
use apko::auth::config::{ConfigFile, FileKind};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    match ConfigFile::parse(Path::new("/fuzz/config.json"), FileKind::Docker, data) {
        Ok(file) => {
            for (_, entry) in &file.auths {
                let _ = entry.credential();
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with("/fuzz/config.json"), "{msg}");
        }
    }
});
