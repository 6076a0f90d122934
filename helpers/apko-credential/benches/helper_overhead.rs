//! Overhead of one client `get` (timeout machinery, bounded reads, parsing) over running the
//! same trivial helper directly with `std::process::Command`. Prints medians of many runs.
//!
//! Run: `cargo bench -p apko-credential --bench helper_overhead` (or `benches/run.sh`).

use apko_credential::Program;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 300;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let helper = dir.path().join("docker-credential-trivial");
    std::fs::write(
        &helper,
        "#!/bin/sh\nprintf '{\"ServerURL\":\"r.example\",\"Username\":\"u\",\"Secret\":\"s\"}\\n'\n",
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let program = Program::new(helper.to_str().unwrap());

    let direct = || {
        let start = Instant::now();
        let mut child = Command::new(&helper)
            .arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let _ = child.stdin.take().unwrap().write_all(b"r.example"); // it may exit unread
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        start.elapsed()
    };
    let client = || {
        let start = Instant::now();
        let creds = program.get("r.example").unwrap().unwrap();
        assert_eq!(creds.username, "u");
        start.elapsed()
    };
    // Warm up, then alternate so both see the same machine state.
    for _ in 0..20 {
        direct();
        client();
    }
    let (mut d, mut c) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        d.push(direct());
        c.push(client());
    }
    let (d, c) = (median(d), median(c));
    println!("helper get, {RUNS} runs each (medians):");
    println!(
        "  direct std::process::Command: {:>8.3} ms",
        d.as_secs_f64() * 1e3
    );
    println!(
        "  apko_credential::Program::get: {:>7.3} ms",
        c.as_secs_f64() * 1e3
    );
    println!(
        "  overhead: {:+.3} ms ({:.2}x)",
        (c.as_secs_f64() - d.as_secs_f64()) * 1e3,
        c.as_secs_f64() / d.as_secs_f64()
    );
}
