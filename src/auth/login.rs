//! What `apko login` and `apko logout` store and erase, with docker's keys and semantics:
//! through `credHelpers[server]` or `credsStore` with an `"auths": {"SERVER": {}}` marker, or
//! into `auths` (unencrypted, with a warning) when no helper is configured.

use super::config::{ConfigFile, FileKind, Locations, encode_basic};
use super::host::{DOCKER_HUB, DOCKER_HUB_KEY, auth_config_key, convert_to_hostname, key_host};
use super::write;
use anyhow::Context;
use apko_credential::{Credentials, Program, Secret};
use serde_json::{Map, Value};

/// The key `login`/`logout` use for a server argument (docker/cli `GetDefaultAuthConfig`):
/// none or Docker Hub → `https://index.docker.io/v1/`; otherwise the host of the argument.
pub fn server_key(server: Option<&str>) -> String {
    match server {
        None | Some("") => DOCKER_HUB_KEY.to_string(),
        Some(s) if s == DOCKER_HUB_KEY => DOCKER_HUB_KEY.to_string(),
        Some(s) => auth_config_key(&convert_to_hostname(s)),
    }
}

/// The helper the Docker config assigns to `key`, and the setting that does.
fn helper_for(file: Option<&ConfigFile>, key: &str) -> Option<(String, String)> {
    let file = file?;
    if let Some((_, h)) = file
        .cred_helpers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
    {
        if h.is_empty() {
            // Docker: `""` means no helper for this host; the file keeps the credentials.
            return None;
        }
        return Some((
            h.clone(),
            format!("credHelpers[{key:?}] in {}", file.path.display()),
        ));
    }
    file.creds_store
        .as_ref()
        .map(|h| (h.clone(), format!("credsStore in {}", file.path.display())))
}

/// Where `login` put the credentials.
#[derive(Debug)]
pub struct Stored {
    /// The key.
    pub key: String,
    /// The helper program, or `None` for the file itself.
    pub helper: Option<String>,
    /// Printed to stderr.
    pub warnings: Vec<String>,
}

/// Stores `username`/`password` for `server` as `docker login` does.
pub fn login(
    locations: &Locations,
    server: Option<&str>,
    username: &str,
    password: &Secret<String>,
) -> anyhow::Result<Stored> {
    store(locations, server, username, password, false)
}

/// Stores an identity token (the refresh token the registry's token endpoint gave at login)
/// instead of the password, as `docker login` does: the helper gets `<token>` as the
/// username, the file an `identitytoken` beside the username.
pub fn login_identity_token(
    locations: &Locations,
    server: Option<&str>,
    username: &str,
    token: &Secret<String>,
) -> anyhow::Result<Stored> {
    store(locations, server, username, token, true)
}

fn store(
    locations: &Locations,
    server: Option<&str>,
    username: &str,
    secret: &Secret<String>,
    identity_token: bool,
) -> anyhow::Result<Stored> {
    let key = server_key(server);
    let path = locations.docker_config();
    let file = ConfigFile::load(&path, FileKind::Docker)?;
    let mut warnings = Vec::new();
    match helper_for(file.as_ref(), &key) {
        Some((helper, origin)) => {
            let program = Program::new(&helper).origin(origin);
            let creds = Credentials {
                server_url: key.clone(),
                username: if identity_token {
                    apko_credential::wire::TOKEN_USERNAME.to_string()
                } else {
                    username.to_string()
                },
                secret: secret.clone(),
            };
            if let Some(w) = store_replacing(&program, &creds)? {
                warnings.push(w);
            }
            write::update(&path, |root| {
                set_entry(root, &key, Map::new());
                true
            })?;
            Ok(Stored {
                key,
                helper: Some(program.name().to_string()),
                warnings,
            })
        }
        None => {
            let mut entry = Map::new();
            if identity_token {
                entry.insert("auth".into(), Value::String(encode_basic(username, "")));
                entry.insert(
                    "identitytoken".into(),
                    Value::String(secret.expose().clone()),
                );
            } else {
                entry.insert(
                    "auth".into(),
                    Value::String(encode_basic(username, secret.expose())),
                );
            }
            write::update(&path, |root| {
                set_entry(root, &key, entry);
                true
            })?;
            warnings.push(format!(
                "WARNING! Your credentials are stored unencrypted in '{}'.\n\
                 Configure a credential helper to remove this warning (\"credsStore\": \"apko\" uses docker-credential-apko).\n\
                 See https://docs.docker.com/go/credential-store/",
                path.display()
            ));
            Ok(Stored {
                key,
                helper: None,
                warnings,
            })
        }
    }
}

/// Stores `creds` in place of what the helper holds for their server. Some helpers key an entry
/// by URL *and* username (docker-credential-secretservice 0.6.4): storing another user adds a
/// second entry, and `get` or `list` may keep answering with the first. So an entry for another
/// user is erased first, and put back if the store then fails. The stored entry is read back;
/// a helper that does not find it gets a warning, since lookups would not use it.
fn store_replacing(program: &Program, creds: &Credentials) -> anyhow::Result<Option<String>> {
    let key = &creds.server_url;
    let name = program.name();
    let same = |got: &Credentials| {
        got.username == creds.username && got.secret.expose() == creds.secret.expose()
    };
    // A helper that cannot answer `get` here will say so again below.
    let previous = program.get(key).ok().flatten();
    if let Some(old) = previous
        .as_ref()
        .filter(|old| old.username != creds.username)
    {
        tracing::debug!("erasing the entry of another user for {key} in {name} before storing");
        program
            .erase(key)
            .with_context(|| format!("cannot replace the credentials for {key}"))?;
        if let Err(e) = program.store(creds) {
            let restored = match program.store(old) {
                Ok(()) => "the previous credentials were put back",
                Err(_) => "putting the previous credentials back failed too: log in again",
            };
            return Err(anyhow::Error::new(e).context(format!(
                "cannot store the credentials for {key} ({restored})"
            )));
        }
    } else {
        program
            .store(creds)
            .with_context(|| format!("cannot store the credentials for {key}"))?;
    }
    Ok(match program.get(key) {
        Ok(Some(got)) if same(&got) => None,
        Ok(Some(_)) => Some(format!(
            "WARNING: {name} answers {key} with other credentials than the ones just stored: \
             check `{name} list` and erase the other entry."
        )),
        Ok(None) => Some(format!(
            "WARNING: {name} stored the credentials for {key} but does not find them: lookups will not use them."
        )),
        Err(e) => Some(format!(
            "WARNING: the credentials for {key} were stored, but reading them back failed: {e}"
        )),
    })
}

fn set_entry(root: &mut Map<String, Value>, key: &str, entry: Map<String, Value>) {
    let auths = root
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    if !auths.is_object() {
        *auths = Value::Object(Map::new());
    }
    auths
        .as_object_mut()
        .expect("just made an object")
        .insert(key.to_string(), Value::Object(entry));
}

/// What `logout` removed.
#[derive(Debug, Default)]
pub struct Removed {
    /// `helper: key` or `file: key` for each removal.
    pub removed: Vec<String>,
    /// Helper failures (logout still succeeds, as docker's does).
    pub warnings: Vec<String>,
}

/// docker's logout candidates: `S`, `host(S)`, `http://host`, `https://host`; with no server,
/// Docker Hub's key. Unlike docker (docker/cli#7326), `docker.io` also erases Hub's key.
pub fn logout_keys(server: Option<&str>) -> Vec<String> {
    let mut keys = Vec::new();
    match server {
        None | Some("") => keys.push(DOCKER_HUB_KEY.to_string()),
        Some(s) => {
            let host = convert_to_hostname(s);
            keys.extend([
                s.to_string(),
                host.clone(),
                format!("http://{host}"),
                format!("https://{host}"),
            ]);
            if key_host(s) == DOCKER_HUB {
                keys.push(DOCKER_HUB_KEY.to_string());
            }
        }
    }
    let mut seen = Vec::new();
    keys.retain(|k| {
        let keep = !seen.contains(k);
        seen.push(k.clone());
        keep
    });
    keys
}

/// Erases every candidate through its helper (never the same helper and key twice) and
/// from the file's `auths`. A helper erase counts as a removal only when the helper held the
/// key (known from an `auths` marker, else asked with `get`), so a second logout says nothing
/// was removed whatever the helper answers to erasing a missing entry.
pub fn logout(locations: &Locations, server: Option<&str>) -> anyhow::Result<Removed> {
    let path = locations.docker_config();
    let file = ConfigFile::load(&path, FileKind::Docker)?;
    let keys = logout_keys(server);
    let mut out = Removed::default();
    let mut asked: Vec<(String, String)> = Vec::new();
    // With an `auths` entry (a login's marker) the file says there is something to remove.
    // Without one, helpers are asked first: they differ on erasing a missing entry
    // (docker-credential-apko succeeds, pass 0.6.4 fails), so the erase alone cannot tell.
    let marked = file
        .as_ref()
        .is_some_and(|f| f.auths.iter().any(|(k, _)| keys.contains(k)));
    let mut failures: Vec<(String, String)> = Vec::new();
    let mut erased_by: Vec<String> = Vec::new();
    for key in &keys {
        if let Some((helper, origin)) = helper_for(file.as_ref(), key) {
            if asked.contains(&(helper.clone(), key.clone())) {
                continue;
            }
            asked.push((helper.clone(), key.clone()));
            let program = Program::new(&helper).origin(origin);
            let absent = !marked && matches!(program.get(key), Ok(None));
            match program.erase(key) {
                Ok(true) if !absent => {
                    erased_by.push(helper.clone());
                    out.removed.push(format!("{}: {key}", program.name()));
                }
                Ok(_) => erased_by.push(helper.clone()),
                Err(e) if absent => tracing::debug!("{key} was not in {}: {e}", program.name()),
                Err(e) => failures.push((helper, e.to_string())),
            }
        }
    }
    // A helper that erased one candidate and failed on the others is answering "missing" with
    // an error (pass 0.6.4); docker, too, warns only when every candidate failed.
    for (helper, e) in failures {
        if erased_by.contains(&helper) {
            tracing::debug!("could not erase credentials: {e}");
        } else {
            out.warnings.push(e);
        }
    }
    if file.is_some() {
        let mut from_file = Vec::new();
        write::update(&path, |root| {
            if let Some(Value::Object(auths)) = root.get_mut("auths") {
                for key in &keys {
                    if auths.remove(key).is_some() {
                        from_file.push(key.clone());
                    }
                }
            }
            !from_file.is_empty()
        })?;
        out.removed
            .extend(from_file.iter().map(|k| format!("{}: {k}", path.display())));
    }
    Ok(out)
}
