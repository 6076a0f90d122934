//! Running one helper process: stdin in, bounded stdout/stderr out, a deadline, and a
//! kill of the whole process group when anything goes wrong.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Environment variables that carry secrets for this project or its peers. They are removed
/// from every helper's environment, so a helper can never see (or log) them.
pub const SECRET_ENV_VARS: &[&str] = &[
    "APKO_AUTH",
    "APKO_PASSWORD",
    "HTTP_AUTH",
    "DOCKER_AUTH_CONFIG",
    "REGISTRY_PASSWORD",
];

/// How long to wait for the pipes to close once the helper itself has exited. A daemon the
/// helper started (gpg-agent, for instance) may keep them open forever.
const DRAIN_GRACE: Duration = Duration::from_millis(250);

/// What a finished helper produced.
#[derive(Debug)]
pub(crate) struct RawOutput {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The pipes were still open when the drain grace expired after the helper exited.
    pub lingered: bool,
}

/// Why running the helper produced no [`RawOutput`].
#[derive(Debug)]
pub(crate) enum RunError {
    Spawn(std::io::Error),
    TimedOut,
    Flooded { stream: &'static str, limit: usize },
}

enum Event {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    StdoutEof,
    StderrEof,
    Exited(std::io::Result<ExitStatus>),
}

pub(crate) struct Limits {
    pub timeout: Duration,
    pub max_stdout: usize,
    pub max_stderr: usize,
}

/// Runs `program args…` with `input` on stdin.
pub(crate) fn run(
    program: &Path,
    args: &[&str],
    input: &[u8],
    extra_env: &[(String, Option<String>)],
    limits: &Limits,
) -> Result<RawOutput, RunError> {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in SECRET_ENV_VARS {
        cmd.env_remove(var);
    }
    for (k, v) in extra_env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    #[cfg(unix)]
    {
        // Its own process group, so a timeout kills the helper *and* what it started.
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let started = Instant::now();
    let mut child = spawn_retrying_busy(&mut cmd).map_err(RunError::Spawn)?;
    let pid = child.id();

    let (tx, rx) = mpsc::channel();
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_vec();
    // A helper that never reads its stdin must not block us: write from a thread and ignore
    // EPIPE (helpers such as `list` may exit without reading).
    thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    spawn_reader(
        child.stdout.take().expect("stdout is piped"),
        tx.clone(),
        Event::Stdout,
        Event::StdoutEof,
    );
    spawn_reader(
        child.stderr.take().expect("stderr is piped"),
        tx.clone(),
        Event::Stderr,
        Event::StderrEof,
    );
    spawn_waiter(child, tx);

    let deadline = started + limits.timeout;
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let (mut out_open, mut err_open) = (true, true);
    let mut status: Option<ExitStatus> = None;
    let mut drain_deadline: Option<Instant> = None;

    let failure = loop {
        if status.is_some() && !out_open && !err_open {
            break None;
        }
        let wait_until = drain_deadline.map_or(deadline, |d| d.min(deadline));
        let now = Instant::now();
        if now >= wait_until {
            if status.is_some() {
                // The helper exited but something it spawned holds the pipes: use what we have.
                break None;
            }
            break Some(RunError::TimedOut);
        }
        match rx.recv_timeout(wait_until - now) {
            Ok(Event::Stdout(chunk)) => {
                if stdout.len() + chunk.len() > limits.max_stdout {
                    break Some(RunError::Flooded {
                        stream: "stdout",
                        limit: limits.max_stdout,
                    });
                }
                stdout.extend_from_slice(&chunk);
            }
            Ok(Event::Stderr(chunk)) => {
                if stderr.len() + chunk.len() > limits.max_stderr {
                    break Some(RunError::Flooded {
                        stream: "stderr",
                        limit: limits.max_stderr,
                    });
                }
                stderr.extend_from_slice(&chunk);
            }
            Ok(Event::StdoutEof) => out_open = false,
            Ok(Event::StderrEof) => err_open = false,
            Ok(Event::Exited(Ok(s))) => {
                status = Some(s);
                drain_deadline = Some(Instant::now() + DRAIN_GRACE);
            }
            Ok(Event::Exited(Err(e))) => break Some(RunError::Spawn(e)),
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // Every sender is gone: the helper exited and both pipes closed.
                break if status.is_some() {
                    None
                } else {
                    Some(RunError::TimedOut)
                };
            }
        }
    };

    match failure {
        None => {
            let lingered = out_open || err_open;
            if lingered {
                // The helper exited but left something in its group holding our pipes.
                kill_group(pid);
            }
            Ok(RawOutput {
                status: status.expect("set before leaving the loop"),
                stdout,
                stderr,
                lingered,
            })
        }
        Some(err) => {
            if status.is_none() {
                kill_group(pid);
                // Reap it, so no zombie is left behind; the waiter thread delivers the status.
                while let Ok(event) = rx.recv_timeout(Duration::from_secs(5)) {
                    if let Event::Exited(_) = event {
                        break;
                    }
                }
            } else {
                // Exited already; kill whatever it left in its group.
                kill_group(pid);
            }
            Err(err)
        }
    }
}

#[cfg(unix)]
const TEXT_BUSY: Option<i32> = Some(libc::ETXTBSY);
#[cfg(not(unix))]
const TEXT_BUSY: Option<i32> = None;

/// Spawns, retrying briefly on ETXTBSY: a helper script just written (installed, or made by a
/// test) can still be open for writing in a process another thread forked meanwhile.
fn spawn_retrying_busy(cmd: &mut Command) -> std::io::Result<Child> {
    let mut delay = Duration::from_millis(5);
    for _ in 0..6 {
        match cmd.spawn() {
            Err(e) if e.raw_os_error().is_some() && e.raw_os_error() == TEXT_BUSY => {
                thread::sleep(delay);
                delay *= 2;
            }
            other => return other,
        }
    }
    cmd.spawn()
}

fn spawn_reader(
    mut pipe: impl Read + Send + 'static,
    tx: mpsc::Sender<Event>,
    data: fn(Vec<u8>) -> Event,
    eof: Event,
) {
    thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(data(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
        let _ = tx.send(eof);
    });
}

fn spawn_waiter(mut child: Child, tx: mpsc::Sender<Event>) {
    thread::spawn(move || {
        let _ = tx.send(Event::Exited(child.wait()));
    });
}

#[cfg(unix)]
fn kill_group(pid: u32) {
    // SAFETY: kill(2) with a negative pid signals the process group we created at spawn time;
    // the leader is not yet reaped (or was reaped by us just now), so the group id is ours.
    unsafe {
        libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
    }
}

#[cfg(not(unix))]
fn kill_group(pid: u32) {
    // No process groups here: kill the helper itself.
    let _ = Command::new("taskkill")
        .args(["/F", "/T", "/PID", &pid.to_string()])
        .status();
}
