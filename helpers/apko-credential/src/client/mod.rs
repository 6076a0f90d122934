//! The client side: run a `docker-credential-*` program and interpret its answer.
//!
//! Compared with docker's Go client this adds a timeout (the helper and its process group are
//! killed), bounded output, removal of secret-carrying variables from the helper's
//! environment, and error texts that name the helper and never contain a secret.

mod error;
mod exec;

pub use error::Error;
pub use exec::SECRET_ENV_VARS;

use crate::wire::{
    Action, CredentialList, Credentials, ERR_NOT_FOUND, PROGRAM_PREFIX, UNUSED_STDIN,
};
use exec::{Limits, RawOutput, RunError};
use std::path::{MAIN_SEPARATOR, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

/// Environment variable that sets the helper timeout for every call (`30`, `2.5`, `500ms`, `2m`).
pub const TIMEOUT_ENV: &str = "APKO_CREDENTIAL_HELPER_TIMEOUT";
/// Timeout when neither [`TIMEOUT_ENV`] nor [`Program::timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Most bytes read from a helper's stdout (a `get` of a 1 MiB secret fits, JSON-escaped).
pub const DEFAULT_MAX_STDOUT: usize = 16 << 20;
/// Most bytes read from a helper's stderr.
pub const DEFAULT_MAX_STDERR: usize = 1 << 20;

/// One credential helper program, as named by `credsStore`, a `credHelpers` entry or a flag.
#[derive(Debug)]
pub struct Program {
    display: String,
    explicit_path: Option<PathBuf>,
    origin: Option<String>,
    timeout: Result<Duration, String>,
    max_stdout: usize,
    max_stderr: usize,
    env: Vec<(String, Option<String>)>,
    resolved: OnceLock<Result<PathBuf, String>>,
}

/// What a helper did, for callers (such as a conformance checker) that judge it themselves.
/// Its `Debug` shows sizes, never the output, which may hold secrets.
pub struct Invocation {
    /// Exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    /// Everything it printed on stdout. May hold secrets: never log it.
    pub stdout: Vec<u8>,
    /// Everything it printed on stderr.
    pub stderr: Vec<u8>,
    /// Something (a daemon it started) held stdout or stderr open after the helper exited,
    /// so the client had to give up waiting for end-of-file.
    pub lingered: bool,
}

impl std::fmt::Debug for Invocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invocation")
            .field("code", &self.code)
            .field("stdout_len", &self.stdout.len())
            .field("stderr_len", &self.stderr.len())
            .field("lingered", &self.lingered)
            .finish()
    }
}

impl Program {
    /// The helper for `name`: `docker-credential-<name>` on `PATH`, or `name` itself when it
    /// contains a path separator.
    pub fn new(name: &str) -> Self {
        let is_path = name.contains('/') || name.contains(MAIN_SEPARATOR);
        Program {
            display: if is_path {
                name.to_string()
            } else {
                format!("{PROGRAM_PREFIX}{name}")
            },
            explicit_path: is_path.then(|| PathBuf::from(name)),
            origin: None,
            timeout: timeout_from_env(),
            max_stdout: DEFAULT_MAX_STDOUT,
            max_stderr: DEFAULT_MAX_STDERR,
            env: Vec::new(),
            resolved: OnceLock::new(),
        }
    }

    /// Names the configuration entry that asked for this helper, for error messages
    /// (e.g. `credHelpers["r.example"] in /home/u/.docker/config.json`).
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Overrides the timeout for every call of this program.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Ok(timeout);
        self
    }

    /// Overrides the stdout and stderr bounds.
    pub fn output_limits(mut self, max_stdout: usize, max_stderr: usize) -> Self {
        self.max_stdout = max_stdout;
        self.max_stderr = max_stderr;
        self
    }

    /// Sets a (non-secret) environment variable for the helper, e.g. a D-Bus address. A `PATH`
    /// set here is also where the program is looked up.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), Some(value.into())));
        self
    }

    /// Removes a variable from the helper's environment, e.g. `DISPLAY` to prove a helper does
    /// not wait for a GUI prompt.
    pub fn env_remove(mut self, key: impl Into<String>) -> Self {
        self.env.push((key.into(), None));
        self
    }

    /// The program name as users see it, e.g. `docker-credential-pass`.
    pub fn name(&self) -> &str {
        &self.display
    }

    /// The credentials stored for `server_url`; `None` when the helper has none.
    pub fn get(&self, server_url: &str) -> Result<Option<Credentials>, Error> {
        let out = self.run(Action::Get, server_url.as_bytes())?;
        self.judge_get_output(server_url, &out)
    }

    /// Judges what a finished `get` printed, exactly as [`Program::get`] does. Public so the
    /// judging can be tested and fuzzed without a process.
    #[cfg(unix)]
    pub fn judge_get(
        &self,
        server_url: &str,
        code: i32,
        stdout: &[u8],
        stderr: &[u8],
    ) -> Result<Option<Credentials>, Error> {
        self.judge_get_output(server_url, &raw_output(code, stdout, stderr))
    }

    /// Judges a failed `store` that was sent `secret`, as [`Program::store`] does.
    #[cfg(unix)]
    pub fn judge_store(
        &self,
        secret: &str,
        code: i32,
        stdout: &[u8],
        stderr: &[u8],
    ) -> Result<(), Error> {
        let out = raw_output(code, stdout, stderr);
        if out.status.success() {
            return Ok(());
        }
        Err(self.failed(Action::Store, &out, Some(secret)))
    }

    fn judge_get_output(
        &self,
        server_url: &str,
        out: &RawOutput,
    ) -> Result<Option<Credentials>, Error> {
        if !out.status.success() {
            if String::from_utf8_lossy(&out.stdout).trim() == ERR_NOT_FOUND {
                return Ok(None);
            }
            return Err(self.failed(Action::Get, out, None));
        }
        let mut creds: Credentials = self.parse_json(Action::Get, &out.stdout)?;
        if creds.username.is_empty() && creds.secret.is_empty() {
            // docker-credential-pass 0.6.4 answers a miss this way, with exit 0.
            return Ok(None);
        }
        if creds.server_url.is_empty() {
            creds.server_url = server_url.to_string();
        }
        Ok(Some(creds))
    }

    /// Stores `creds`, replacing any entry for the same server URL.
    pub fn store(&self, creds: &Credentials) -> Result<(), Error> {
        let payload = serde_json::to_vec(creds).expect("credentials always serialize");
        let secret = creds.secret.expose().as_str();
        let out = self.run(Action::Store, &payload)?;
        if !out.status.success() {
            return Err(self.failed(Action::Store, &out, Some(secret)));
        }
        Ok(())
    }

    /// Erases the entry for `server_url`. `Ok(false)` when the helper said it had none
    /// (helpers differ: some succeed, some answer not-found; both mean "nothing there now").
    pub fn erase(&self, server_url: &str) -> Result<bool, Error> {
        let out = self.run(Action::Erase, server_url.as_bytes())?;
        if out.status.success() {
            return Ok(true);
        }
        if String::from_utf8_lossy(&out.stdout).trim() == ERR_NOT_FOUND {
            return Ok(false);
        }
        Err(self.failed(Action::Erase, &out, None))
    }

    /// Every server URL the helper holds, with its username.
    pub fn list(&self) -> Result<CredentialList, Error> {
        let out = self.run(Action::List, UNUSED_STDIN)?;
        if !out.status.success() {
            return Err(self.failed(Action::List, &out, None));
        }
        self.parse_json(Action::List, &out.stdout)
    }

    /// The helper's version text (its stdout, trimmed).
    pub fn version(&self) -> Result<String, Error> {
        let out = self.run(Action::Version, UNUSED_STDIN)?;
        if !out.status.success() {
            return Err(self.failed(Action::Version, &out, None));
        }
        let text = self.utf8(Action::Version, &out.stdout)?;
        Ok(text.trim().to_string())
    }

    /// Runs the helper with arbitrary arguments and reports what it did, judging nothing.
    /// Timeout, output bounds and process-group kill apply as for every call.
    pub fn invoke(&self, args: &[&str], stdin: &[u8]) -> Result<Invocation, Error> {
        let label = args.first().copied().unwrap_or("(no action)");
        let out = self.run_raw(label, args, stdin)?;
        Ok(Invocation {
            code: out.status.code(),
            stdout: out.stdout,
            stderr: out.stderr,
            lingered: out.lingered,
        })
    }

    fn run(&self, action: Action, stdin: &[u8]) -> Result<RawOutput, Error> {
        self.run_raw(action.as_str(), &[action.as_str()], stdin)
    }

    fn run_raw(&self, label: &str, args: &[&str], stdin: &[u8]) -> Result<RawOutput, Error> {
        let timeout = self
            .timeout
            .clone()
            .map_err(|reason| Error::Config { reason })?;
        let path = self.path()?;
        let limits = Limits {
            timeout,
            max_stdout: self.max_stdout,
            max_stderr: self.max_stderr,
        };
        exec::run(&path, args, stdin, &self.env, &limits).map_err(|e| match e {
            RunError::Spawn(source) if source.kind() == std::io::ErrorKind::NotFound => {
                self.not_installed(format!("{} does not exist", path.display()))
            }
            RunError::Spawn(source) => Error::Spawn {
                program: self.display.clone(),
                action: label.to_string(),
                cause: source,
            },
            RunError::TimedOut => Error::TimedOut {
                program: self.display.clone(),
                action: label.to_string(),
                timeout,
            },
            RunError::Flooded { stream, limit } => Error::Flooded {
                program: self.display.clone(),
                action: label.to_string(),
                stream,
                limit,
            },
        })
    }

    fn path(&self) -> Result<PathBuf, Error> {
        let resolved = self.resolved.get_or_init(|| match &self.explicit_path {
            Some(p) => Ok(p.clone()),
            None => {
                // A PATH given through `env` is the helper's PATH; search that one.
                let found = match self.env.iter().rev().find(|(k, _)| k == "PATH") {
                    Some((_, Some(path))) => std::env::current_dir()
                        .map_err(|e| e.to_string())
                        .and_then(|cwd| {
                            which::which_in(&self.display, Some(path), cwd)
                                .map_err(|e| e.to_string())
                        }),
                    Some((_, None)) => Err("PATH is removed from its environment".into()),
                    None => which::which(&self.display).map_err(|e| e.to_string()),
                };
                found.map_err(|_| "it is not on PATH".to_string())
            }
        });
        resolved.clone().map_err(|why| self.not_installed(why))
    }

    fn not_installed(&self, why: String) -> Error {
        Error::NotInstalled {
            program: self.display.clone(),
            why,
            origin: self.origin.clone(),
        }
    }

    fn failed(&self, action: Action, out: &RawOutput, secret: Option<&str>) -> Error {
        Error::Failed {
            program: self.display.clone(),
            action: action.as_str().to_string(),
            status: describe_status(out.status),
            stdout: error::redact(action, &out.stdout, secret),
            stderr: error::redact(action, &out.stderr, secret),
        }
    }

    fn utf8<'a>(&self, action: Action, bytes: &'a [u8]) -> Result<&'a str, Error> {
        std::str::from_utf8(bytes)
            .map_err(|_| self.invalid(action, "its output is not valid UTF-8"))
    }

    fn parse_json<T: serde::de::DeserializeOwned>(
        &self,
        action: Action,
        bytes: &[u8],
    ) -> Result<T, Error> {
        let text = self.utf8(action, bytes)?;
        let start = text.trim_start();
        if start.is_empty() {
            return Err(self.invalid(action, "it printed nothing, expected a JSON object"));
        }
        if !start.starts_with('{') {
            return Err(self.invalid(
                action,
                "its output does not start with a JSON object (something printed before it?)",
            ));
        }
        // Like Go clients, the first JSON value counts and anything after it is ignored.
        let mut values = serde_json::Deserializer::from_str(start).into_iter::<T>();
        match values.next() {
            Some(Ok(v)) => Ok(v),
            // Only the kind and position: serde_json's data errors can quote a value.
            Some(Err(e)) => Err(self.invalid(
                action,
                &format!(
                    "its output is not the expected JSON ({})",
                    crate::wire::describe_json_error(&e)
                ),
            )),
            None => Err(self.invalid(action, "it printed nothing, expected a JSON object")),
        }
    }

    fn invalid(&self, action: Action, reason: &str) -> Error {
        Error::InvalidOutput {
            program: self.display.clone(),
            action: action.as_str().to_string(),
            reason: reason.to_string(),
        }
    }
}

#[cfg(unix)]
fn raw_output(code: i32, stdout: &[u8], stderr: &[u8]) -> RawOutput {
    use std::os::unix::process::ExitStatusExt;
    RawOutput {
        status: std::process::ExitStatus::from_raw((code & 0xff) << 8),
        stdout: stdout.to_vec(),
        stderr: stderr.to_vec(),
        lingered: false,
    }
}

fn describe_status(status: std::process::ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return format!("signal {sig}");
        }
    }
    status.to_string()
}

fn timeout_from_env() -> Result<Duration, String> {
    match std::env::var(TIMEOUT_ENV) {
        Err(_) => Ok(DEFAULT_TIMEOUT),
        Ok(value) => parse_duration(&value).ok_or_else(|| {
            format!("{TIMEOUT_ENV}={value:?} is not a duration; use seconds (30, 2.5) or a unit (500ms, 2m)")
        }),
    }
}

/// Parses `30`, `2.5`, `30s`, `500ms` or `2m`; zero, negative values and more than a day are
/// refused.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else {
        (text, 1.0)
    };
    let secs: f64 = number.trim().parse().ok()?;
    let secs = secs * scale;
    (secs.is_finite() && secs > 0.0 && secs <= 86_400.0).then(|| Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("2.5"), Some(Duration::from_millis(2500)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("3s"), Some(Duration::from_secs(3)));
        assert_eq!(parse_duration("0"), None);
        assert_eq!(parse_duration("-1"), None);
        assert_eq!(parse_duration("abc"), None);
        assert_eq!(parse_duration("1e20"), None);
        assert_eq!(parse_duration("inf"), None);
        assert_eq!(parse_duration("1441m"), None);
    }

    #[test]
    fn names() {
        assert_eq!(Program::new("pass").name(), "docker-credential-pass");
        assert_eq!(Program::new("./x/helper").name(), "./x/helper");
    }
}
