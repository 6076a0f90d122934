//! .apk reading (signature, control and data sections): never panics, whatever the bytes.
#![no_main]
use apko::apk::package::ApkFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(apk) = ApkFile::open(data.to_vec(), None, "fuzz.apk") {
        let _ = apk.scripts();
        let _ = apk.for_each_entry(|_| Ok(()));
    }
});
