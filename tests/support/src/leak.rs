//! Watching for the sentinel where it must not be: the argv and environment of every
//! process while commands run (read from /proc), and every file under a directory.

use crate::SENTINEL;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Whether `hay` holds the sentinel.
pub fn contains(hay: &[u8]) -> bool {
    hay.windows(SENTINEL.len())
        .any(|w| w == SENTINEL.as_bytes())
}

/// Scans /proc every 2 ms, from `start` to `finish`, for processes started by this test
/// (its descendants: other tests run beside it) whose argv or environment holds the sentinel. Processes running one of `allowed` (the program the user gave the
/// sentinel to, on its command line or in its environment) are not counted, nor is the test
/// itself.
pub struct ProcWatch {
    stop: Arc<AtomicBool>,
    found: Arc<Mutex<Vec<String>>>,
    scans: Arc<Mutex<u64>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ProcWatch {
    /// Starts watching.
    pub fn start(allowed: &[PathBuf]) -> ProcWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let found: Arc<Mutex<Vec<String>>> = Arc::default();
        let scans: Arc<Mutex<u64>> = Arc::default();
        let (s, f, n) = (stop.clone(), found.clone(), scans.clone());
        let allowed = allowed.to_vec();
        let me = std::process::id().to_string();
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                for entry in std::fs::read_dir("/proc").unwrap().flatten() {
                    let pid = entry.file_name().to_string_lossy().into_owned();
                    if pid == me || !pid.bytes().all(|b| b.is_ascii_digit()) {
                        continue;
                    }
                    let read =
                        |f: &str| std::fs::read(format!("/proc/{pid}/{f}")).unwrap_or_default();
                    // A child between fork and exec is still its parent's image (with its
                    // parent's argv and environment), and it may exec between any two reads:
                    // argv and environment count only when the image read before and after
                    // them is the same. A process whose image cannot be read has gone.
                    let image = || std::fs::read_link(format!("/proc/{pid}/exe")).ok();
                    let sample = (0..3).find_map(|_| {
                        let exe = image()?;
                        let cmdline = read("cmdline");
                        let environ = read("environ");
                        (image()? == exe).then_some((exe, cmdline, environ))
                    });
                    let Some((exe, cmdline, environ)) = sample else {
                        continue;
                    };
                    if !contains(&environ) && !contains(&cmdline) {
                        continue;
                    }
                    if !descends_from(&pid, &me) {
                        continue;
                    }
                    let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
                    if allowed
                        .iter()
                        .any(|a| exe == *a || argv0 == a.as_os_str().as_encoded_bytes())
                    {
                        continue;
                    }
                    let comm = String::from_utf8_lossy(&read("comm")).trim().to_string();
                    f.lock().unwrap().push(format!(
                        "{comm} [exe {}, argv0 {}]",
                        exe.display(),
                        String::from_utf8_lossy(argv0)
                    ));
                }
                *n.lock().unwrap() += 1;
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        });
        ProcWatch {
            stop,
            found,
            scans,
            thread: Some(thread),
        }
    }

    /// Stops watching; the processes seen with the sentinel, and how many scans were made.
    pub fn finish(mut self) -> (Vec<String>, u64) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap();
        let scans = *self.scans.lock().unwrap();
        (self.found.lock().unwrap().clone(), scans)
    }
}

/// Whether process `pid` is `ancestor` or one of its descendants (by parent links in
/// /proc/PID/stat).
fn descends_from(pid: &str, ancestor: &str) -> bool {
    let mut pid = pid.to_string();
    for _ in 0..64 {
        if pid == ancestor {
            return true;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            return false;
        };
        match rest.split_whitespace().nth(1) {
            Some(ppid) if ppid != "0" => pid = ppid.to_string(),
            _ => return false,
        }
    }
    false
}

/// Every file under `dir` (recursively, symlinks not followed) that holds the sentinel,
/// except those under one of `exempt`.
pub fn files_holding(dir: &Path, exempt: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if exempt.iter().any(|e| path.starts_with(e)) {
            continue;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            out.extend(files_holding(&path, exempt));
        } else if kind.is_file() && std::fs::read(&path).is_ok_and(|b| contains(&b)) {
            out.push(path);
        }
    }
    out
}
