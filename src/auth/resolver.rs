//! One resolver for every host the builder talks to (registries and APK repositories).
//!
//! Order: helpers (`credHelpers[key]`, else `credsStore`, per config file in discovery
//! order), then config-file `auths`, then inline values (`--auth`, `--auth-file`,
//! `APKO_AUTH`, `HTTP_AUTH`), then anonymous. A helper that answers not-found falls through; a
//! helper that fails is remembered, and is an error only when no later source has credentials.
//! When a server rejects a credential, [`Resolver::resolve_after`] moves on to the next source.
//! Each (helper, key) is asked at most once per process; concurrent asks wait for one answer.

use super::config::{AuthEntry, ConfigError, ConfigFile, FileKind, Locations};
use super::credential::Credential;
use super::host::normalize_registry;
use super::host::{auth_config_key, exact_auth_keys, helper_keys, key_host};
use super::inline::{InlineAuth, InlineValue};
use apko_credential::Program;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// What kind of server a host is; `HTTP_AUTH` only applies to APK repositories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// An OCI registry.
    Registry,
    /// An APK repository or keyring host.
    ApkRepository,
}

/// What credentials are wanted for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The host, with port; Docker Hub is `docker.io`.
    pub host: String,
    /// The repository, for namespaced `auths` keys (`quay.io/org/repo`).
    pub repository: Option<String>,
    /// Registry or APK repository.
    pub kind: TargetKind,
}

/// An image reference as credential lookup sees it. A trait, so that `auth` (below
/// `registry`) does not depend on `registry::reference::Reference`, which implements it.
pub trait RegistryRepository {
    /// The registry, normalised (`docker.io` for Docker Hub).
    fn registry(&self) -> &str;
    /// The repository (`library/alpine`).
    fn repository(&self) -> &str;
}

impl Target {
    /// The registry of an image reference.
    pub fn registry(reference: &impl RegistryRepository) -> Target {
        Target {
            host: reference.registry().to_string(),
            repository: Some(reference.repository().to_string()),
            kind: TargetKind::Registry,
        }
    }

    /// A registry host without a repository (`login`, `auth get`).
    pub fn registry_host(host: &str) -> Target {
        Target {
            host: normalize_registry(&super::host::key_host(host)),
            repository: None,
            kind: TargetKind::Registry,
        }
    }

    /// The host of an APK repository or key URL, e.g. `https://packages.example.com/os`.
    pub fn apk_repository(url: &str) -> Target {
        Target {
            host: super::host::convert_to_hostname(url),
            repository: None,
            kind: TargetKind::ApkRepository,
        }
    }
}

/// One place credentials may come from for one target.
#[derive(Debug, Clone)]
pub enum Source {
    /// A credential helper's `get`.
    Helper {
        /// As configured, e.g. `pass` (runs `docker-credential-pass`).
        program: String,
        /// The ServerURL sent on stdin.
        key: String,
        /// The setting that names it, e.g. `credsStore in /home/u/.docker/config.json`.
        origin: String,
    },
    /// An `auths` entry of a config file.
    Auths {
        /// The entry's key.
        key: String,
        /// The file.
        path: std::path::PathBuf,
        /// The entry.
        entry: AuthEntry,
    },
    /// A value given on the command line or in the environment.
    Inline {
        /// The credential.
        credential: Credential,
        /// e.g. `--auth #1`.
        origin: String,
    },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Helper {
                program,
                key,
                origin,
            } => write!(f, "{} get {key:?} ({origin})", Program::new(program).name()),
            Source::Auths { key, path, .. } => {
                write!(f, "auths[{key:?}] in {}", path.display())
            }
            Source::Inline { origin, .. } => write!(f, "{origin}"),
        }
    }
}

/// What a source said.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// It has credentials.
    Found(Credential),
    /// It has none for this host.
    NotFound,
    /// It could not answer; the text names it and says why (never a secret).
    Failed(String),
    /// The server refused the credential it gave.
    Rejected(String),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Found(c) => write!(f, "found {}", c.describe()),
            Outcome::NotFound => write!(f, "no credentials"),
            Outcome::Failed(e) => write!(f, "FAILED: {e}"),
            Outcome::Rejected(why) => write!(f, "rejected by the server: {why}"),
        }
    }
}

/// One source and what it said.
#[derive(Debug, Clone)]
pub struct Step {
    /// The source, described.
    pub source: String,
    /// Its answer.
    pub outcome: Outcome,
}

/// The credential to use (or anonymous), and how it was chosen.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// `None` means anonymous.
    pub credential: Option<Credential>,
    /// The source that gave it.
    pub source: Option<String>,
    /// Every source asked so far, in order.
    pub trail: Vec<Step>,
    position: usize,
}

impl Resolved {
    /// Anonymous after sources that failed (a broken or missing helper) and nothing else left:
    /// a registry or repository that allows anonymous access needs no credentials, so an
    /// unrelated broken helper must not break a public pull. If the server refuses, the error
    /// still lists what failed (the trail is kept).
    pub fn anonymous_after(failed: ResolveError) -> Resolved {
        tracing::warn!(
            "{}: no source gave credentials and one failed; trying without credentials",
            failed.host
        );
        Resolved {
            credential: None,
            source: None,
            trail: failed.trail,
            position: usize::MAX,
        }
    }
}

/// No source could give a usable credential, and at least one failed or was rejected.
#[derive(Debug, thiserror::Error)]
pub struct ResolveError {
    /// The host.
    pub host: String,
    /// Every source asked, in order.
    pub trail: Vec<Step>,
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "no usable credentials for {}; sources tried:", self.host)?;
        for (n, step) in self.trail.iter().enumerate() {
            writeln!(f, "  {}. {}: {}", n + 1, step.source, step.outcome)?;
        }
        write!(
            f,
            "Fix the failing source, or give credentials with --auth {}=USER:PASSWORD (or --auth-file); `apko auth explain` shows every source",
            self.host
        )
    }
}

/// A helper program and the ServerURL it is asked for: the unit of caching.
type HelperKey = (String, String);

/// The resolver for one process.
pub struct Resolver {
    locations: Option<Locations>,
    files: Vec<ConfigFile>,
    inline: Vec<(InlineAuth, Option<ConfigFile>)>,
    primary: Vec<String>,
    cache: Mutex<HashMap<HelperKey, Arc<OnceLock<Outcome>>>>,
    helper_calls: AtomicUsize,
    helper_env: Vec<(String, String)>,
}

impl Resolver {
    /// A resolver over the discovered config files and the inline values. `primary` are the
    /// registries of the image references on the command line: unscoped `--auth` values
    /// apply to them only.
    pub fn new(
        locations: Option<Locations>,
        inline: Vec<InlineAuth>,
        primary: Vec<String>,
    ) -> Result<Resolver, ConfigError> {
        let files = match &locations {
            Some(l) => l.load()?,
            None => Vec::new(),
        };
        let inline = inline
            .into_iter()
            .map(|a| {
                let file = match &a.value {
                    InlineValue::File(path) => {
                        Some(ConfigFile::load(path, FileKind::AuthFlag)?.ok_or_else(|| {
                            ConfigError::malformed(path, "the auth file disappeared")
                        })?)
                    }
                    InlineValue::Credential(_) => None,
                };
                Ok((a, file))
            })
            .collect::<Result<_, ConfigError>>()?;
        Ok(Resolver {
            locations,
            files,
            inline,
            primary: primary.iter().map(|h| normalize_registry(h)).collect(),
            cache: Mutex::default(),
            helper_calls: AtomicUsize::new(0),
            helper_env: Vec::new(),
        })
    }

    /// Sets a (non-secret) variable in every helper's environment.
    pub fn with_helper_env(mut self, key: &str, value: &str) -> Resolver {
        self.helper_env.push((key.to_string(), value.to_string()));
        self
    }

    /// The config files that were read.
    pub fn files(&self) -> &[ConfigFile] {
        &self.files
    }

    /// Where config files were looked for.
    pub fn locations(&self) -> Option<&Locations> {
        self.locations.as_ref()
    }

    /// How many helper processes this resolver has run.
    pub fn helper_calls(&self) -> usize {
        self.helper_calls.load(Ordering::Relaxed)
    }

    /// Every source for `target`, in the order they are asked.
    pub fn sources(&self, target: &Target) -> Vec<Source> {
        let host = normalize_registry(&target.host);
        let repo = target.repository.as_deref();
        // DOCKER_AUTH_CONFIG before everything (docker/cli's memory store over its stores).
        let (env, files): (Vec<&ConfigFile>, Vec<&ConfigFile>) = self
            .files
            .iter()
            .partition(|f| f.kind == FileKind::EnvAuthConfig);
        let mut out: Vec<Source> = env
            .iter()
            .filter_map(|f| auths_source(f, &host, repo))
            .collect();
        out.extend(files.iter().filter_map(|f| helper_source(f, &host)));
        out.extend(files.iter().filter_map(|f| auths_source(f, &host, repo)));
        // The GitHub keychain, where real apko's publish has it: after the docker keychain.
        if let Some(github) = self.locations.as_ref().and_then(|l| l.github.as_ref())
            && host == GHCR
            && target.kind == TargetKind::Registry
        {
            out.push(Source::Inline {
                credential: github.clone(),
                origin: "GITHUB_TOKEN (as GITHUB_ACTOR) for ghcr.io".to_string(),
            });
        }
        for (a, file) in &self.inline {
            let applies = match &a.scope {
                Some(scope) => normalize_registry(scope) == host,
                None => self.primary.contains(&host),
            } && (!a.apk_only || target.kind == TargetKind::ApkRepository);
            if !applies {
                continue;
            }
            match (&a.value, file) {
                (InlineValue::Credential(c), _) => out.push(Source::Inline {
                    credential: c.clone(),
                    origin: a.origin.clone(),
                }),
                (InlineValue::File(_), Some(f)) => {
                    out.extend(helper_source(f, &host));
                    out.extend(auths_source(f, &host, repo));
                }
                (InlineValue::File(_), None) => {}
            }
        }
        out
    }

    /// Asks one source (helpers through the per-process cache).
    pub fn lookup(&self, source: &Source) -> Outcome {
        match source {
            Source::Helper {
                program,
                key,
                origin,
            } => {
                let cell = self
                    .cache
                    .lock()
                    .unwrap()
                    .entry((program.clone(), key.clone()))
                    .or_default()
                    .clone();
                cell.get_or_init(|| {
                    if let Some(refused) = refuse_relative_helper(program, origin) {
                        return refused;
                    }
                    self.helper_calls.fetch_add(1, Ordering::Relaxed);
                    let helper = self
                        .helper_env
                        .iter()
                        .fold(Program::new(program).origin(origin.clone()), |p, (k, v)| {
                            p.env(k.clone(), v.clone())
                        });
                    let outcome = match helper.get(key) {
                        Ok(Some(c)) => {
                            let c = c.into();
                            crate::redact::remember_credential(&c);
                            Outcome::Found(c)
                        }
                        Ok(None) => Outcome::NotFound,
                        Err(e) => Outcome::Failed(e.to_string()),
                    };
                    tracing::debug!(helper = helper.name(), key, outcome = %outcome, "credential helper");
                    outcome
                })
                .clone()
            }
            Source::Auths { entry, .. } => entry.credential().map_or(Outcome::NotFound, |c| {
                crate::redact::remember_credential(&c);
                Outcome::Found(c)
            }),
            Source::Inline { credential, .. } => {
                crate::redact::remember_credential(credential);
                Outcome::Found(credential.clone())
            }
        }
    }

    /// The first credential for `target`; anonymous when no source has one and none failed.
    pub fn resolve(&self, target: &Target) -> Result<Resolved, ResolveError> {
        self.resolve_from(target, 0, Vec::new())
    }

    /// After the server rejected `previous`: the next source with credentials, or anonymous
    /// when none is left and nothing failed.
    pub fn resolve_after(
        &self,
        target: &Target,
        previous: &Resolved,
        why: &str,
    ) -> Result<Resolved, ResolveError> {
        let mut trail = previous.trail.clone();
        if let Some(last) = trail.last_mut()
            && previous.credential.is_some()
        {
            last.outcome = Outcome::Rejected(why.to_string());
        }
        self.resolve_from(target, previous.position, trail)
    }

    fn resolve_from(
        &self,
        target: &Target,
        start: usize,
        mut trail: Vec<Step>,
    ) -> Result<Resolved, ResolveError> {
        let sources = self.sources(target);
        for (i, source) in sources.iter().enumerate().skip(start) {
            let outcome = self.lookup(source);
            let found = match &outcome {
                Outcome::Found(c) => Some(c.clone()),
                _ => None,
            };
            trail.push(Step {
                source: source.to_string(),
                outcome,
            });
            if let Some(credential) = found {
                tracing::debug!(host = %target.host, source = %source, "using credentials");
                return Ok(Resolved {
                    credential: Some(credential),
                    source: Some(source.to_string()),
                    trail,
                    position: i + 1,
                });
            }
        }
        if trail
            .iter()
            .any(|s| matches!(s.outcome, Outcome::Failed(_)))
        {
            return Err(ResolveError {
                host: target.host.clone(),
                trail,
            });
        }
        Ok(Resolved {
            credential: None,
            source: None,
            trail,
            position: sources.len(),
        })
    }

    /// Every source for `target` and its answer (all of them, not just until one answers).
    pub fn explain(&self, target: &Target) -> Vec<Step> {
        self.sources(target)
            .iter()
            .map(|s| Step {
                source: s.to_string(),
                outcome: self.lookup(s),
            })
            .collect()
    }
}

/// Docker runs only `docker-credential-NAME` from PATH; a name with a path separator would be
/// run relative to the current directory, so a config in a checkout (or an `--auth` file)
/// could run a script of that checkout. Absolute paths are kept (they name one program).
fn refuse_relative_helper(program: &str, origin: &str) -> Option<Outcome> {
    let has_separator = program.contains('/') || program.contains(std::path::MAIN_SEPARATOR);
    if !has_separator || std::path::Path::new(program).is_absolute() {
        return None;
    }
    Some(Outcome::Failed(format!(
        "refused to run credential helper {program:?} ({origin}): a helper name with a path \
         separator is run relative to the current directory. Give the name NAME of a \
         docker-credential-NAME on PATH, or an absolute path"
    )))
}

/// The registry go-containerregistry's GitHub keychain answers for.
const GHCR: &str = "ghcr.io";

/// The helper a file assigns to `host`: `credHelpers` (key compared as host names are, without
/// case) wins over `credsStore`; `credHelpers[host] = ""` means none at all, as in docker.
fn helper_source(file: &ConfigFile, host: &str) -> Option<Source> {
    for key in helper_keys(host) {
        if let Some((written, program)) = file
            .cred_helpers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&key))
        {
            if program.is_empty() {
                return None;
            }
            // The key as the file spells it: `docker login R.Example` stored the helper's
            // entry under that spelling too.
            let key = written.clone();
            return Some(Source::Helper {
                program: program.clone(),
                origin: format!("credHelpers[{key:?}] in {}", file.path.display()),
                key,
            });
        }
    }
    // containers/image (podman, skopeo) has no credsStore: in the files it owns
    // (REGISTRY_AUTH_FILE, podman's auth.json) it means nothing.
    if matches!(
        file.kind,
        FileKind::RegistryAuthFile | FileKind::PodmanRuntime | FileKind::PodmanConfig
    ) {
        return None;
    }
    file.creds_store.as_ref().map(|program| Source::Helper {
        program: program.clone(),
        key: auth_config_key(host),
        origin: format!("credsStore in {}", file.path.display()),
    })
}

/// The `auths` entry of a file for `host`: exact keys, most specific first, then keys that
/// name the same host as a URL (`https://host/v1/`, `http://host`). Placeholders (`{}`) are
/// passed over; a key with another repository path never matches.
fn auths_source(file: &ConfigFile, host: &str, repo: Option<&str>) -> Option<Source> {
    let usable = |k: &str| {
        file.auths
            .iter()
            .find(|(key, e)| key == k && e.credential().is_some())
    };
    let found = exact_auth_keys(host, repo)
        .iter()
        .find_map(|k| usable(k))
        .or_else(|| {
            file.auths.iter().find(|(key, e)| {
                e.credential().is_some() && key_host(key) == host && registry_wide(key)
            })
        })?;
    Some(Source::Auths {
        key: found.0.clone(),
        path: file.path.clone(),
        entry: found.1.clone(),
    })
}

/// A key naming a whole registry: a URL (docker's `ConvertToHostname` drops its path, whatever
/// it is), or a bare key without a path or with only docker's `/v1/`/`/v2/` (a bare `host/ns`
/// is a containers-auth.json namespace).
fn registry_wide(key: &str) -> bool {
    if key.contains("://") {
        return true;
    }
    match key.split_once('/') {
        None => true,
        Some((_, path)) => matches!(path, "" | "v1" | "v1/" | "v2" | "v2/"),
    }
}
