//! The peak resident set of one child process, its own. A child spawned (with vfork) from the
//! test binary, a large multi-threaded process running other tests at the same time, has the
//! binary's peak counted in its `ru_maxrss` (Linux records the old address space's high-water
//! mark at exec). So [`run`] starts a fresh copy of the test binary that runs only
//! [`trampoline`] (the crate's `#[test] fn trampoline`), and that small process starts the
//! child, waits for it with `wait4` and reports its peak.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PROGRAM: &str = "APKO_TESTSUITE_TRAMPOLINE_PROGRAM";
const ARGS: &str = "APKO_TESTSUITE_TRAMPOLINE_ARGS";
const RSS: &str = "APKO_TESTSUITE_TRAMPOLINE_MAXRSS";

/// How a measured run ended.
#[derive(Debug)]
pub struct Run {
    /// Exit code (128 + signal when a signal ended it, as a shell reports it).
    pub code: Option<i32>,
    /// Its stderr (its stdout is discarded: the trampoline's test harness writes there).
    pub stderr: String,
    /// Wall time, trampoline included.
    pub took: Duration,
    /// Peak resident set of the child, KiB.
    pub peak_kib: i64,
}

/// Runs `cmd` (its program, arguments, environment and directory) through the trampoline.
pub fn run(cmd: &Command) -> Run {
    let start = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let rss_file = dir.path().join("maxrss");
    let mut args = Vec::new();
    for (i, a) in cmd.get_args().enumerate() {
        if i > 0 {
            args.push(0x1f);
        }
        args.extend_from_slice(a.as_bytes());
    }
    let mut t = Command::new(std::env::current_exe().unwrap());
    t.args([
        "--exact",
        "trampoline",
        "--nocapture",
        "--test-threads=1",
        "-q",
    ]);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => t.env(k, v),
            None => t.env_remove(k),
        };
    }
    if let Some(d) = cmd.get_current_dir() {
        t.current_dir(d);
    }
    t.env(PROGRAM, cmd.get_program())
        .env(ARGS, OsString::from_vec(args))
        .env(RSS, &rss_file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let out = t.output().unwrap();
    let peak_kib = std::fs::read_to_string(&rss_file)
        .unwrap_or_else(|e| panic!("no peak from the trampoline ({e}): {out:?}"))
        .trim()
        .parse()
        .unwrap();
    Run {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: start.elapsed(),
        peak_kib,
    }
}

/// With the trampoline's variables set (by [`run`]), runs that program, waits for it with
/// wait4, writes its peak resident set (KiB) where [`run`] reads it and exits with its code.
/// Without them (a normal test run) it does nothing.
pub fn trampoline() {
    let Some(program) = std::env::var_os(PROGRAM) else {
        return;
    };
    let args = std::env::var_os(ARGS).unwrap_or_default().into_vec();
    let mut cmd = Command::new(program);
    if !args.is_empty() {
        cmd.args(
            args.split(|b| *b == 0x1f)
                .map(|a| OsString::from_vec(a.to_vec())),
        );
    }
    let child = cmd
        .env_remove(PROGRAM)
        .env_remove(ARGS)
        .env_remove(RSS)
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is our unwaited child; the pointers are to live locals.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    std::fs::write(std::env::var_os(RSS).unwrap(), usage.ru_maxrss.to_string()).unwrap();
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    std::process::exit(code);
}
