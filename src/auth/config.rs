//! Docker `config.json` and containers `auth.json` files: where they are, and what they say
//! about credentials. A malformed file is an error naming its path, line and column; it is
//! never ignored and never overwritten.

use super::credential::Credential;
use apko_credential::Secret;
use base64::Engine;
use serde_json::{Map, Value};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Where a file came from, for messages and `apko auth explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// Docker's `config.json` (`--config`, `DOCKER_CONFIG` or `~/.docker`).
    Docker,
    /// `$REGISTRY_AUTH_FILE`.
    RegistryAuthFile,
    /// Podman's per-session file under `$XDG_RUNTIME_DIR` (or `/run/containers/<uid>`).
    PodmanRuntime,
    /// Podman's persistent file under `${XDG_CONFIG_HOME:-~/.config}`.
    PodmanConfig,
    /// A file named by `--auth` or `--auth-file`.
    AuthFlag,
    /// `$DOCKER_AUTH_CONFIG`: a docker config in the environment (docker/cli 28+), only
    /// `auths` entries with `auth`, asked before every other source.
    EnvAuthConfig,
}

/// The name `$DOCKER_AUTH_CONFIG` is shown under, where a file would show its path.
pub const ENV_AUTH_CONFIG: &str = "$DOCKER_AUTH_CONFIG";

/// The files to read, in order, and why each is there.
#[derive(Debug, Clone)]
pub struct Locations {
    /// Docker's config directory.
    pub docker_dir: PathBuf,
    /// What chose it: `--config`, `DOCKER_CONFIG` or `$HOME/.docker`.
    pub docker_dir_origin: &'static str,
    /// `DOCKER_AUTH_CONFIG`, when set (it holds secrets: never printed).
    pub env_config: Option<Secret<String>>,
    /// `GITHUB_TOKEN` as the password of `GITHUB_ACTOR` (else `unset`) for ghcr.io, as
    /// go-containerregistry's GitHub keychain gives it to real apko's `publish`.
    pub github: Option<Credential>,
    /// Every file, in lookup order.
    pub files: Vec<(PathBuf, FileKind)>,
}

impl Locations {
    /// The ecosystem's order: `--config DIR` over `DOCKER_CONFIG` over `~/.docker`, then
    /// `REGISTRY_AUTH_FILE`, then Podman's runtime and config files.
    pub fn discover(config_flag: Option<&Path>, env: &dyn Fn(&str) -> Option<OsString>) -> Self {
        let home = env("HOME").map(PathBuf::from).unwrap_or_default();
        let (docker_dir, docker_dir_origin) = match (config_flag, env("DOCKER_CONFIG")) {
            (Some(dir), _) => (dir.to_path_buf(), "--config"),
            (None, Some(dir)) if !dir.is_empty() => (PathBuf::from(dir), "DOCKER_CONFIG"),
            _ => (home.join(".docker"), "$HOME/.docker"),
        };
        let mut files = vec![(docker_dir.join("config.json"), FileKind::Docker)];
        if let Some(f) = env("REGISTRY_AUTH_FILE").filter(|f| !f.is_empty()) {
            files.push((PathBuf::from(f), FileKind::RegistryAuthFile));
        }
        let runtime = match env("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
            Some(dir) => PathBuf::from(dir).join("containers/auth.json"),
            // SAFETY: getuid(2) cannot fail.
            None => PathBuf::from(format!("/run/containers/{}/auth.json", unsafe {
                libc::getuid()
            })),
        };
        files.push((runtime, FileKind::PodmanRuntime));
        let config_home = env("XDG_CONFIG_HOME")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".config"));
        files.push((
            config_home.join("containers/auth.json"),
            FileKind::PodmanConfig,
        ));
        // The same file named twice is read once.
        let mut seen = Vec::new();
        files.retain(|(p, _)| {
            let keep = !seen.contains(p);
            seen.push(p.clone());
            keep
        });
        let env_config = env("DOCKER_AUTH_CONFIG")
            .filter(|v| !v.is_empty())
            .map(|v| Secret::from(v.to_string_lossy().into_owned()));
        let github = env("GITHUB_TOKEN")
            .filter(|v| !v.is_empty())
            .map(|token| Credential::Basic {
                username: env("GITHUB_ACTOR")
                    .filter(|v| !v.is_empty())
                    .map_or_else(|| "unset".to_string(), |a| a.to_string_lossy().into_owned()),
                password: Secret::from(token.to_string_lossy().into_owned()),
            });
        Locations {
            docker_dir,
            docker_dir_origin,
            env_config,
            github,
            files,
        }
    }

    /// Docker's `config.json`, the file `login` and `logout` write.
    pub fn docker_config(&self) -> PathBuf {
        self.docker_dir.join("config.json")
    }

    /// Loads every file that exists, in order, after `DOCKER_AUTH_CONFIG` when it is set.
    pub fn load(&self) -> Result<Vec<ConfigFile>, ConfigError> {
        let mut out = Vec::new();
        if let Some(text) = &self.env_config {
            out.push(ConfigFile::parse_env(text.expose())?);
        }
        for (path, kind) in &self.files {
            if let Some(file) = ConfigFile::load(path, *kind)? {
                out.push(file);
            }
        }
        Ok(out)
    }
}

/// A config file is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// It could not be read.
    #[error("cannot read {}: {cause}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why (in the message, so not a `source`).
        cause: std::io::Error,
    },
    /// It is not JSON, or not the shape the format has.
    #[error("{}{}: {why}; fix the file (apko never rewrites a file it cannot parse)", path.display(), position.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Line and column, when the JSON itself is broken.
        position: Option<(usize, usize)>,
        /// What is wrong (never a value from the file).
        why: String,
    },
    /// `DOCKER_AUTH_CONFIG` is not what docker accepts there.
    #[error("DOCKER_AUTH_CONFIG{}: {why}; fix the variable (docker accepts only {{\"auths\":{{\"HOST\":{{\"auth\":\"base64(user:password)\"}}}}}} there) or unset it", position.map(|(l, c)| format!(" at line {l} column {c}")).unwrap_or_default())]
    EnvMalformed {
        /// Line and column, when the JSON itself is broken.
        position: Option<(usize, usize)>,
        /// What is wrong (never a value from it).
        why: String,
    },
    /// It could not be written.
    #[error("cannot write {}: {why}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
}

impl ConfigError {
    pub(crate) fn malformed(path: &Path, why: impl Into<String>) -> Self {
        ConfigError::Malformed {
            path: path.to_path_buf(),
            position: None,
            why: why.into(),
        }
    }

    pub(crate) fn from_json(path: &Path, e: &serde_json::Error) -> Self {
        ConfigError::Malformed {
            path: path.to_path_buf(),
            position: Some((e.line(), e.column())),
            why: format!(
                "invalid JSON ({})",
                apko_credential::wire::describe_json_error(e)
            ),
        }
    }
}

/// One `auths` entry, decoded.
#[derive(Debug, Clone, Default)]
pub struct AuthEntry {
    /// From `auth` or `username`.
    pub username: Option<String>,
    /// From `auth` or `password`.
    pub password: Option<Secret<String>>,
    /// `identitytoken`: an OAuth2 refresh token.
    pub identity_token: Option<Secret<String>>,
    /// `registrytoken`: a bearer token sent as is.
    pub registry_token: Option<Secret<String>>,
}

impl AuthEntry {
    /// The credential this entry holds; `None` for `{}` (a helper's placeholder).
    pub fn credential(&self) -> Option<Credential> {
        if let Some(t) = &self.registry_token {
            return Some(Credential::Bearer(t.clone()));
        }
        if let Some(t) = &self.identity_token {
            return Some(Credential::IdentityToken(t.clone()));
        }
        match (&self.username, &self.password) {
            (Some(u), Some(p)) if !u.is_empty() => Some(Credential::Basic {
                username: u.clone(),
                password: p.clone(),
            }),
            _ => None,
        }
    }
}

/// What one file says about credentials.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    /// Where it is.
    pub path: PathBuf,
    /// Why it was read.
    pub kind: FileKind,
    /// `credsStore`.
    pub creds_store: Option<String>,
    /// `credHelpers`, in file order. An empty helper name is kept: docker reads it as "no
    /// helper for this host, not even `credsStore`" and uses `auths`.
    pub cred_helpers: Vec<(String, String)>,
    /// `auths`, in file order.
    pub auths: Vec<(String, AuthEntry)>,
}

impl ConfigFile {
    /// Reads `path`; `Ok(None)` when it does not exist.
    pub fn load(path: &Path, kind: FileKind) -> Result<Option<ConfigFile>, ConfigError> {
        match read_config_file(path)? {
            Some(text) => Self::parse(path, kind, &text).map(Some),
            None => Ok(None),
        }
    }

    /// Parses `DOCKER_AUTH_CONFIG` as docker/cli does: one JSON object with only `auths`, each
    /// entry only a non-empty `auth` (unknown fields are errors, as docker's decoder refuses
    /// them; so `credsStore` and `credHelpers` are refused there).
    pub fn parse_env(text: &str) -> Result<ConfigFile, ConfigError> {
        let bad = |why: String| ConfigError::EnvMalformed {
            position: None,
            why,
        };
        let root = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(bad("it must hold a JSON object".into())),
            Err(e) => {
                return Err(ConfigError::EnvMalformed {
                    position: Some((e.line(), e.column())),
                    why: format!(
                        "invalid JSON ({})",
                        apko_credential::wire::describe_json_error(&e)
                    ),
                });
            }
        };
        let path = Path::new(ENV_AUTH_CONFIG);
        let mut file = ConfigFile {
            path: path.to_path_buf(),
            kind: FileKind::EnvAuthConfig,
            creds_store: None,
            cred_helpers: Vec::new(),
            auths: Vec::new(),
        };
        for (name, value) in &root {
            if name != "auths" {
                return Err(bad(format!("unknown field `{name}`")));
            }
            let Value::Object(map) = value else {
                return Err(bad("`auths` must be an object".into()));
            };
            for (key, entry) in map {
                let Value::Object(fields) = entry else {
                    return Err(bad(format!("`auths[{key:?}]` must be an object")));
                };
                if let Some(other) = fields.keys().find(|k| *k != "auth") {
                    return Err(bad(format!("`auths[{key:?}]`: unknown field `{other}`")));
                }
                match fields.get("auth") {
                    Some(Value::String(s)) if !s.is_empty() => {}
                    _ => return Err(bad(format!("`auths[{key:?}]` is missing key `auth`"))),
                }
                let entry = decode_entry(path, key, entry).map_err(|e| match e {
                    ConfigError::Malformed { why, .. } => bad(why),
                    other => other,
                })?;
                file.auths.push((key.clone(), entry));
            }
        }
        Ok(file)
    }

    /// Parses file contents (an empty file counts as `{}`, as docker treats it).
    pub fn parse(path: &Path, kind: FileKind, text: &[u8]) -> Result<ConfigFile, ConfigError> {
        let root = parse_object(path, text)?;
        let mut file = ConfigFile {
            path: path.to_path_buf(),
            kind,
            creds_store: None,
            cred_helpers: Vec::new(),
            auths: Vec::new(),
        };
        match root.get("credsStore") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.is_empty() => {}
            Some(Value::String(s)) => file.creds_store = Some(s.clone()),
            Some(_) => {
                return Err(ConfigError::malformed(
                    path,
                    "`credsStore` must be a string",
                ));
            }
        }
        match root.get("credHelpers") {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (k, v) in map {
                    match v {
                        Value::String(h) => file.cred_helpers.push((k.clone(), h.clone())),
                        _ => {
                            return Err(ConfigError::malformed(
                                path,
                                format!("`credHelpers[{k:?}]` must be a string"),
                            ));
                        }
                    }
                }
            }
            Some(_) => {
                return Err(ConfigError::malformed(
                    path,
                    "`credHelpers` must be an object",
                ));
            }
        }
        match root.get("auths") {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (k, v) in map {
                    file.auths.push((k.clone(), decode_entry(path, k, v)?));
                }
            }
            Some(_) => return Err(ConfigError::malformed(path, "`auths` must be an object")),
        }
        Ok(file)
    }
}

/// The largest credential config file read: docker's and podman's files hold a few entries of a
/// few KB each (a long identity token is about 2 KB), and some tools keep other settings there
/// too; 64 MiB is far above any real one, yet a runaway or wrong file (a log, `/dev/zero`
/// through a symlink) stops before it costs more memory than a build.
pub const MAX_CONFIG_FILE: u64 = 64 << 20;

/// Reads a credential config file: `Ok(None)` when it does not exist; an error naming the file
/// when it is not a regular file (a FIFO would block every command forever, a device could be
/// endless) or larger than [`MAX_CONFIG_FILE`]. Opened non-blocking, so a FIFO is seen, not
/// waited on.
pub fn read_config_file(path: &Path) -> Result<Option<Vec<u8>>, ConfigError> {
    use std::io::Read;
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let read_err = |cause: std::io::Error| ConfigError::Read {
        path: path.to_path_buf(),
        cause,
    };
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_err(e)),
    };
    let meta = file.metadata().map_err(read_err)?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a FIFO (named pipe)"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        return Err(ConfigError::malformed(
            path,
            format!(
                "it is {what}, not a regular file: point it (or the symlink) at a JSON file, or remove it"
            ),
        ));
    }
    if meta.len() > MAX_CONFIG_FILE {
        return Err(ConfigError::malformed(
            path,
            format!(
                "it is {} bytes, more than a credential config can be ({} MiB)",
                meta.len(),
                MAX_CONFIG_FILE >> 20
            ),
        ));
    }
    let mut text = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_CONFIG_FILE + 1)
        .read_to_end(&mut text)
        .map_err(read_err)?;
    if text.len() as u64 > MAX_CONFIG_FILE {
        return Err(ConfigError::malformed(
            path,
            format!(
                "it grew past {} MiB while being read",
                MAX_CONFIG_FILE >> 20
            ),
        ));
    }
    Ok(Some(text))
}

/// Parses a file that must hold one JSON object (or nothing).
pub(crate) fn parse_object(path: &Path, text: &[u8]) -> Result<Map<String, Value>, ConfigError> {
    if text.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ConfigError::malformed(
            path,
            "the file must hold a JSON object",
        )),
        Err(e) => Err(ConfigError::from_json(path, &e)),
    }
}

fn decode_entry(path: &Path, key: &str, v: &Value) -> Result<AuthEntry, ConfigError> {
    let bad = |why: &str| ConfigError::malformed(path, format!("`auths[{key:?}]`: {why}"));
    let Value::Object(map) = v else {
        return Err(bad("must be an object"));
    };
    let text = |name: &str| -> Result<Option<String>, ConfigError> {
        match map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad(&format!("`{name}` must be a string"))),
        }
    };
    let mut entry = AuthEntry {
        username: text("username")?,
        password: text("password")?.map(Secret::from),
        identity_token: text("identitytoken")?.map(Secret::from),
        registry_token: text("registrytoken")?.map(Secret::from),
    };
    if let Some(auth) = text("auth")? {
        let (user, pass) = decode_basic(&auth).ok_or_else(|| {
            bad("`auth` is not base64 of username:password; run `apko login` again or fix the entry")
        })?;
        entry.username = Some(user);
        entry.password = Some(Secret::from(pass));
    }
    Ok(entry)
}

/// Decodes `base64(user:password)`, padded or not; splits at the first colon and trims
/// trailing NULs of the password (as docker/cli). `None` when malformed or the user is empty.
pub fn decode_basic(auth: &str) -> Option<(String, String)> {
    let auth = auth.trim();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(auth)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(auth))
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (user, pass) = text.split_once(':')?;
    if user.is_empty() {
        return None;
    }
    Some((user.to_string(), pass.trim_end_matches('\0').to_string()))
}

/// `base64(user:password)`, as docker writes `auth`.
pub fn encode_basic(user: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}
