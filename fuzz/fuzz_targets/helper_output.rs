//! The client's judging of helper output: never panics, and the secret sent to `store` never
//! reaches an error message, however the helper echoes it.
#![no_main]
use apko_credential::Program;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&code, rest)) = data.split_first() else {
        return;
    };
    let program = Program::new("fuzz");
    let _ = program.judge_get("r.example", i32::from(code % 3), rest, rest);
    // First line: the secret; the rest: what the helper printed.
    let text = String::from_utf8_lossy(rest);
    let Some((secret, output)) = text.split_once('\n') else {
        return;
    };
    // A secret of letters, digits and dashes cannot be formed across the message's own
    // separators (": ", "; stderr: "), so finding it means the output was echoed.
    if secret.len() < 12 || !secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return;
    }
    let baseline = program
        .judge_store(secret, 1, b"", b"")
        .unwrap_err()
        .to_string();
    if baseline.contains(secret) {
        return;
    }
    if let Err(e) = program.judge_store(secret, i32::from(code % 2) + 1, output.as_bytes(), output.as_bytes()) {
        let msg = e.to_string();
        assert!(!msg.contains(secret), "secret leaked into: {msg}");
    }
});
