//! `apko auth test-helper`: the helper conformance checklist (credential-helpers.md §7(a),
//! plugin-protocol.md §10) run against any installed helper. No peer offers this, and users
//! otherwise learn a helper's quirks from a failed push.
//!
//! Every entry the checker writes lives under one scratch host,
//! `apko-test-helper-<pid>-<nonce>.invalid`, and is erased afterwards. Real entries are only
//! read (item 21), never printed.

mod checks;
mod judge;

use apko_credential::Program;
use apko_credential::client::Invocation;
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What one checklist item found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "result", content = "detail", rename_all = "lowercase")]
pub enum Outcome {
    /// The helper behaves as the protocol says.
    Pass(String),
    /// It does not; the text says how.
    Fail(String),
    /// Could not be judged here (e.g. the store is not empty).
    Skip(String),
}

impl Outcome {
    /// The word shown in the table.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Pass(_) => "pass",
            Outcome::Fail(_) => "FAIL",
            Outcome::Skip(_) => "skip",
        }
    }

    /// The explanation.
    pub fn detail(&self) -> &str {
        match self {
            Outcome::Pass(d) | Outcome::Fail(d) | Outcome::Skip(d) => d,
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// The item number in credential-helpers.md §7(a).
    pub item: u8,
    /// What it checks.
    pub title: &'static str,
    /// What it found.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The whole run.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The helper as users name it, e.g. `docker-credential-pass`.
    pub helper: String,
    /// Its `version` output, when it has one.
    pub version: Option<String>,
    /// The scratch host every test entry used.
    pub scratch_host: String,
    /// One row per checklist item, in item order.
    pub checks: Vec<Check>,
    /// Scratch entries that could not be removed afterwards (empty when cleanup worked).
    pub leftovers: Vec<String>,
}

impl Report {
    /// True when nothing failed and nothing was left behind.
    pub fn passed(&self) -> bool {
        self.leftovers.is_empty()
            && self
                .checks
                .iter()
                .all(|c| !matches!(c.outcome, Outcome::Fail(_)))
    }

    /// Counts of pass, fail and skip.
    pub fn counts(&self) -> [usize; 3] {
        let mut n = [0; 3];
        for c in &self.checks {
            n[match c.outcome {
                Outcome::Pass(_) => 0,
                Outcome::Fail(_) => 1,
                Outcome::Skip(_) => 2,
            }] += 1;
        }
        n
    }

    /// The numbers of the failed items, for scripts and the README table.
    pub fn failed_items(&self) -> Vec<u8> {
        self.checks
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Fail(_)))
            .map(|c| c.item)
            .collect()
    }

    /// The human-readable table.
    pub fn render(&self) -> String {
        let mut out = format!(
            "Conformance of {}{} (credential-helpers.md §7(a); scratch host {})\n\n",
            self.helper,
            self.version
                .as_deref()
                .map(|v| format!(", version {v:?}"))
                .unwrap_or_default(),
            self.scratch_host
        );
        out.push_str("   #  result  check\n");
        for c in &self.checks {
            out.push_str(&format!(
                "  {:>2}  {:<6}  {}\n",
                c.item,
                c.outcome.label(),
                c.title
            ));
            if !c.outcome.detail().is_empty() {
                out.push_str(&format!("              {}\n", c.outcome.detail()));
            }
        }
        let [pass, fail, skip] = self.counts();
        out.push_str(&format!("\n{pass} passed, {fail} failed, {skip} skipped"));
        if fail > 0 {
            let items: Vec<String> = self.failed_items().iter().map(u8::to_string).collect();
            out.push_str(&format!(" (failed: {})", items.join(", ")));
        }
        out.push('\n');
        if self.leftovers.is_empty() {
            out.push_str("All scratch entries were removed.\n");
        } else {
            out.push_str(&format!(
                "Could not remove {} scratch entries; erase them by hand: {}\n",
                self.leftovers.len(),
                self.leftovers.join(", ")
            ));
        }
        out
    }
}

/// Runs the checklist against the helper `name` (a `docker-credential-` suffix or a path).
pub fn run(name: &str) -> Report {
    let runner = Runner::new(name);
    let version = runner
        .call("version", &["version"], b"")
        .ok()
        .filter(|i| i.code == Some(0))
        .map(|i| String::from_utf8_lossy(&i.stdout).trim().to_string())
        .filter(|v| !v.is_empty());
    let scanner = procscan::Scanner::start(runner.secrets.clone());
    let mut checks = checks::all(&runner);
    let argv_leaks = scanner.stop();
    checks::finish(&runner, argv_leaks, &mut checks);
    checks.sort_by_key(|c| c.item);
    let leftovers = runner.cleanup();
    Report {
        helper: runner.program.name().to_string(),
        version,
        scratch_host: runner.host.clone(),
        checks,
        leftovers,
    }
}

/// Calls the helper and records what the whole-run items (25, 28, 29) need.
pub(crate) struct Runner {
    name: String,
    program: Program,
    host: String,
    nonce: String,
    stored: Mutex<BTreeSet<String>>,
    secrets: Arc<Mutex<Vec<String>>>,
    stderr_leaks: Mutex<Vec<String>>,
    lingered: Mutex<Vec<String>>,
    zero_on_failure: Mutex<Vec<String>>,
}

impl Runner {
    fn new(name: &str) -> Runner {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let nonce = format!("{:x}", nanos ^ ((std::process::id() as u128) << 64));
        let nonce = nonce[nonce.len().saturating_sub(10)..].to_string();
        Runner {
            name: name.to_string(),
            program: Program::new(name),
            host: format!("apko-test-helper-{}-{nonce}.invalid", std::process::id()),
            nonce,
            stored: Mutex::default(),
            secrets: Arc::default(),
            stderr_leaks: Mutex::default(),
            lingered: Mutex::default(),
            zero_on_failure: Mutex::default(),
        }
    }

    /// A scratch server URL: `https://<scratch host><path>`.
    fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.host)
    }

    /// A secret unique to this run, so a leak scan cannot match anything else.
    fn secret(&self, tag: &str) -> String {
        let s = format!("apko-scratch-{}-{tag}", self.nonce);
        self.secrets.lock().unwrap().push(s.clone());
        s
    }

    /// Runs one raw action; `label` names the step in details.
    fn call(&self, label: &str, args: &[&str], stdin: &[u8]) -> Result<Invocation, String> {
        self.call_with(&self.program, label, args, stdin)
    }

    fn call_with(
        &self,
        program: &Program,
        label: &str,
        args: &[&str],
        stdin: &[u8],
    ) -> Result<Invocation, String> {
        let inv = program.invoke(args, stdin).map_err(|e| e.to_string())?;
        if inv.lingered {
            self.lingered.lock().unwrap().push(label.to_string());
        }
        let stderr = String::from_utf8_lossy(&inv.stderr);
        if self
            .secrets
            .lock()
            .unwrap()
            .iter()
            .any(|s| stderr.contains(s.get(..s.len().min(64)).unwrap_or(s)))
        {
            self.stderr_leaks.lock().unwrap().push(label.to_string());
        }
        Ok(inv)
    }

    /// A call that must fail: records a zero exit for item 29.
    fn call_failing(&self, label: &str, args: &[&str], stdin: &[u8]) -> Result<Invocation, String> {
        let inv = self.call(label, args, stdin)?;
        if inv.code == Some(0) {
            self.zero_on_failure.lock().unwrap().push(label.to_string());
        }
        Ok(inv)
    }

    /// Stores raw JSON for `url` (remembered for cleanup).
    fn store_raw(&self, label: &str, url: &str, json: &str) -> Result<Invocation, String> {
        self.stored.lock().unwrap().insert(url.to_string());
        self.call(label, &["store"], json.as_bytes())
    }

    fn store(
        &self,
        label: &str,
        url: &str,
        user: &str,
        secret: &str,
    ) -> Result<Invocation, String> {
        let json = serde_json::json!({"ServerURL": url, "Username": user, "Secret": secret});
        self.store_raw(label, url, &json.to_string())
    }

    fn get(&self, label: &str, url: &str) -> Result<Invocation, String> {
        self.call(label, &["get"], url.as_bytes())
    }

    fn list(&self, label: &str) -> Result<Invocation, String> {
        self.call(label, &["list"], b"")
    }

    /// Erases every scratch entry; returns those still listed afterwards.
    fn cleanup(&self) -> Vec<String> {
        let stored: Vec<String> = self.stored.lock().unwrap().iter().cloned().collect();
        for url in &stored {
            let _ = self.program.invoke(&["erase"], url.as_bytes());
        }
        match self.program.list() {
            Ok(list) => list
                .keys()
                .filter(|k| k.contains(&self.host))
                .cloned()
                .collect(),
            // Without list, check each key we wrote.
            Err(_) => stored
                .into_iter()
                .filter(|u| matches!(self.program.get(u), Ok(Some(_))))
                .collect(),
        }
    }

    /// The same helper with a different environment or timeout, for item 26.
    fn variant(&self, timeout: Duration) -> Program {
        Program::new(&self.name).timeout(timeout)
    }
}

/// Watches every process's argv and environment for the run's secrets (item 25). Linux only:
/// elsewhere it reports that nothing was checked.
mod procscan {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::thread::JoinHandle;
    use std::time::Duration;

    pub(crate) struct Scanner {
        stop: Arc<AtomicBool>,
        thread: Option<JoinHandle<Vec<String>>>,
    }

    impl Scanner {
        /// Scans every 20 ms for a prefix of any secret in `secrets` until [`Scanner::stop`].
        pub(crate) fn start(secrets: Arc<Mutex<Vec<String>>>) -> Scanner {
            let stop = Arc::new(AtomicBool::new(false));
            let thread = cfg!(target_os = "linux").then(|| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut found = Vec::new();
                    let me = std::process::id().to_string();
                    while !stop.load(Ordering::Relaxed) {
                        let needles: Vec<Vec<u8>> = secrets
                            .lock()
                            .unwrap()
                            .iter()
                            .map(|s| s.as_bytes()[..s.len().min(48)].to_vec())
                            .collect();
                        if !needles.is_empty() {
                            scan_once(&me, &needles, &mut found);
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    found
                })
            });
            Scanner { stop, thread }
        }

        /// Stops scanning: `None` when this platform cannot be scanned, otherwise the processes
        /// (command and pid) that showed a secret.
        pub(crate) fn stop(mut self) -> Option<Vec<String>> {
            self.stop.store(true, Ordering::Relaxed);
            self.thread.take().and_then(|t| t.join().ok())
        }
    }

    fn scan_once(me: &str, needles: &[Vec<u8>], found: &mut Vec<String>) {
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return;
        };
        for entry in dir.flatten() {
            let pid = entry.file_name();
            let Some(pid) = pid.to_str() else { continue };
            if pid == me || !pid.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            for file in ["cmdline", "environ"] {
                let Ok(data) = std::fs::read(format!("/proc/{pid}/{file}")) else {
                    continue;
                };
                if needles.iter().any(|n| contains(&data, n)) {
                    let comm =
                        std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                    let what = format!("{} (pid {pid}, {file})", comm.trim());
                    if !found.contains(&what) {
                        found.push(what);
                    }
                }
            }
        }
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
    }
}
