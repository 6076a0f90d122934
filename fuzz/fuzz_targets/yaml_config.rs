//! apko YAML configs: never panic; errors name the file.
#![no_main]
use apko::image::config::ImageConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = ImageConfig::parse(text, "fuzz.yaml") {
        let _ = e.to_string();
    }
});
