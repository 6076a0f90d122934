//! apko's image configuration (`apko.yaml`): the schema, `include` merging and validation,
//! with apko's rules (unknown keys are errors; an included file is merged under its includer).
//!
//! YAML crate: `serde_norway`. `serde_yaml` is deprecated and unmaintained (RUSTSEC-2024-0320)
//! and `serde_yml` is unsound (RUSTSEC-2025-0068); `serde_norway` is the maintained drop-in fork
//! of `serde_yaml` on libyaml, whose errors carry the key path and the line and column
//! (`contents: unknown field `x` … at line 3 column 3`), which is what a user needs to fix a
//! config. The pure-Rust `serde-saphyr` was the alternative; its error paths are less complete.

pub mod arch;

pub use arch::Arch;

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("failed to read image configuration {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        reason: std::io::Error,
    },
    /// The YAML is malformed or has keys or values apko does not accept.
    #[error("failed to parse image configuration {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message, with the key path and line.
        message: String,
    },
    /// The configuration parses but is not acceptable.
    #[error("{0}")]
    Invalid(String),
}

/// The whole `apko.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImageConfig {
    /// Packages, repositories, keys, base image.
    #[serde(deserialize_with = "nullable")]
    pub contents: Contents,
    /// The image's entrypoint.
    #[serde(deserialize_with = "nullable")]
    pub entrypoint: Entrypoint,
    /// Arguments to the entrypoint, shell-split.
    #[serde(deserialize_with = "nullable")]
    pub cmd: String,
    /// OCI StopSignal.
    #[serde(rename = "stop-signal", deserialize_with = "nullable")]
    pub stop_signal: String,
    /// OCI WorkingDir.
    #[serde(rename = "work-dir", deserialize_with = "nullable")]
    pub work_dir: String,
    /// Users, groups and the user to run as.
    #[serde(deserialize_with = "nullable")]
    pub accounts: Accounts,
    /// Architectures to build when `--arch` is not given.
    #[serde(deserialize_with = "nullable")]
    pub archs: Vec<String>,
    /// Environment; `None` (absent) gets apko's PATH and SSL_CERT_FILE defaults.
    #[serde(deserialize_with = "nullable")]
    pub environment: Option<BTreeMap<String, String>>,
    /// Changes to paths of the filesystem after installation.
    #[serde(deserialize_with = "nullable")]
    pub paths: Vec<PathMutation>,
    /// `URL@revision` → source and revision annotations.
    #[serde(rename = "vcs-url", deserialize_with = "nullable")]
    pub vcs_url: String,
    /// Annotations for the manifests and the index.
    #[serde(deserialize_with = "nullable")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Another configuration merged under this one (deprecated in apko).
    #[serde(deserialize_with = "nullable")]
    pub include: String,
    /// OCI Volumes.
    #[serde(deserialize_with = "nullable")]
    pub volumes: Vec<String>,
    /// Multi-layer split (accepted; this builder writes one layer).
    #[serde(deserialize_with = "nullable")]
    pub layering: Option<Layering>,
    /// `tar` (the default) or `erofs`.
    #[serde(deserialize_with = "nullable")]
    pub format: String,
    /// Extra CA certificates.
    #[serde(deserialize_with = "nullable")]
    pub certificates: Option<Certificates>,
}

/// `contents`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Contents {
    /// Used at build time and written to `/etc/apk/repositories`.
    #[serde(deserialize_with = "nullable")]
    pub repositories: Vec<String>,
    /// Used at build time only.
    #[serde(deserialize_with = "nullable")]
    pub build_repositories: Vec<String>,
    /// Written to the image only.
    #[serde(deserialize_with = "nullable")]
    pub runtime_repositories: Vec<String>,
    /// Public keys (paths or URLs) that sign the repositories.
    #[serde(deserialize_with = "nullable")]
    pub keyring: Vec<String>,
    /// Inline keys written to `/etc/apk/keys`.
    #[serde(deserialize_with = "nullable")]
    pub runtime_keyring: Vec<NamedContent>,
    /// Package constraints.
    #[serde(deserialize_with = "nullable")]
    pub packages: Vec<String>,
    /// A local OCI layout to build on top of.
    #[serde(deserialize_with = "nullable")]
    pub baseimage: Option<BaseImage>,
}

/// `contents.baseimage`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BaseImage {
    /// Path to the base image's OCI layout.
    #[serde(deserialize_with = "nullable")]
    pub image: String,
    /// Directory holding `<arch>/APKINDEX` of the base image's packages.
    #[serde(deserialize_with = "nullable")]
    pub apkindex: String,
}

/// A `{name, content}` pair (runtime keys, extra certificates).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NamedContent {
    /// File name.
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    /// PEM text.
    #[serde(deserialize_with = "nullable")]
    pub content: String,
}

/// `entrypoint`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Entrypoint {
    /// Only `service-bundle` (s6) is known.
    #[serde(rename = "type", deserialize_with = "nullable")]
    pub kind: String,
    /// Shell-split into the OCI Entrypoint.
    #[serde(deserialize_with = "nullable")]
    pub command: String,
    /// Becomes `/bin/sh -c FRAGMENT`.
    #[serde(rename = "shell-fragment", deserialize_with = "nullable")]
    pub shell_fragment: String,
    /// s6 services (name → command).
    #[serde(deserialize_with = "nullable")]
    pub services: BTreeMap<String, String>,
}

/// `accounts`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Accounts {
    /// OCI User: a name or a UID.
    #[serde(rename = "run-as", deserialize_with = "nullable")]
    pub run_as: String,
    /// Users appended to `/etc/passwd`.
    #[serde(deserialize_with = "nullable")]
    pub users: Vec<User>,
    /// Groups appended to `/etc/group`.
    #[serde(deserialize_with = "nullable")]
    pub groups: Vec<Group>,
}

/// `accounts.users[]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct User {
    /// Login name.
    #[serde(deserialize_with = "nullable")]
    pub username: String,
    /// User ID (0 is refused).
    #[serde(deserialize_with = "go_int")]
    pub uid: u32,
    /// Primary group; absent means the same number as the UID.
    #[serde(deserialize_with = "go_int_opt")]
    pub gid: Option<u32>,
    /// Login shell (default `/bin/sh`).
    #[serde(deserialize_with = "nullable")]
    pub shell: String,
    /// Home directory (default `/home/USERNAME`).
    #[serde(deserialize_with = "nullable")]
    pub homedir: String,
}

/// `accounts.groups[]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Group {
    /// Group name.
    #[serde(deserialize_with = "nullable")]
    pub groupname: String,
    /// Group ID.
    #[serde(deserialize_with = "go_int")]
    pub gid: u32,
    /// Member user names.
    #[serde(deserialize_with = "nullable")]
    pub members: Vec<String>,
}

/// `paths[]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PathMutation {
    /// The path to create or change.
    #[serde(deserialize_with = "nullable")]
    pub path: String,
    /// `directory`, `empty-file`, `hardlink`, `symlink` or `permissions`.
    #[serde(rename = "type", deserialize_with = "nullable")]
    pub kind: String,
    /// Owner (absent: `None`, which apko 1.2 tells apart from an explicit 0).
    #[serde(
        deserialize_with = "go_int_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub uid: Option<u32>,
    /// Group (absent: `None`).
    #[serde(
        deserialize_with = "go_int_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub gid: Option<u32>,
    /// Mode bits (YAML `0o755`, `0755` and `493` all mean the same, as in apko).
    #[serde(deserialize_with = "go_int")]
    pub permissions: u32,
    /// Link target for `hardlink` and `symlink`.
    #[serde(deserialize_with = "nullable")]
    pub source: String,
    /// For `directory`: apply ownership and mode to everything below too.
    #[serde(deserialize_with = "nullable")]
    pub recursive: bool,
}

/// `layering`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Layering {
    /// Only `origin` exists.
    #[serde(deserialize_with = "nullable")]
    pub strategy: String,
    /// Maximum number of package layers.
    #[serde(deserialize_with = "go_int")]
    pub budget: u32,
}

/// `certificates`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Certificates {
    /// Certificates given inline.
    #[serde(deserialize_with = "nullable")]
    pub additional: Vec<NamedContent>,
    /// Packages that provide certificates.
    #[serde(deserialize_with = "nullable")]
    pub providers: Vec<String>,
}

/// YAML `null` (e.g. `packages:` with nothing under it) means the empty value, as in Go.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// An integer as Go's `strconv.ParseInt(s, 0, …)` reads it, which is what yaml.v3 does:
/// `0o755`, `0755` (octal), `0x1ed`, `493`.
fn parse_go_int(text: &str) -> Option<u32> {
    let t = text.trim().replace('_', "");
    let (digits, radix) = if let Some(r) = t.strip_prefix("0o").or_else(|| t.strip_prefix("0O")) {
        (r, 8)
    } else if let Some(r) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (r, 16)
    } else if let Some(r) = t.strip_prefix("0b").or_else(|| t.strip_prefix("0B")) {
        (r, 2)
    } else if t.len() > 1 && t.starts_with('0') {
        (&t[1..], 8)
    } else {
        (t.strip_prefix('+').unwrap_or(&t), 10)
    };
    u32::from_str_radix(digits, radix).ok()
}

fn go_int_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(text) => parse_go_int(&text).map(Some).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "invalid integer {text:?} (expected 0 to 4294967295)"
            ))
        }),
    }
}

fn go_int<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    Ok(go_int_opt(d)?.unwrap_or_default())
}

impl ImageConfig {
    /// Parses one document (no `include` handling); `name` is for messages.
    pub fn parse(text: &str, name: &str) -> Result<ImageConfig, ConfigError> {
        if text.trim().is_empty() {
            return Ok(ImageConfig::default());
        }
        serde_norway::from_str(text).map_err(|e| ConfigError::Parse {
            path: name.to_string(),
            message: e.to_string(),
        })
    }

    /// Loads `path`, resolving `include` (relative to the working directory or one of
    /// `include_paths`, as apko) and merging it under this file, then normalizes and
    /// validates as apko does before building.
    pub fn load(path: &Path, include_paths: &[PathBuf]) -> Result<ImageConfig, ConfigError> {
        Self::load_with_checksum(path, include_paths).map(|(ic, _)| ic)
    }

    /// [`ImageConfig::load`], plus apko's checksum of what was read (`sha256-<base64>` over
    /// the file, then each included file): lockfiles record it to notice a changed config.
    pub fn load_with_checksum(
        path: &Path,
        include_paths: &[PathBuf],
    ) -> Result<(ImageConfig, String), ConfigError> {
        use base64::Engine;
        use sha2::Digest;
        let mut seen = Vec::new();
        let mut hasher = sha2::Sha256::new();
        let mut ic = Self::load_rec(path, include_paths, &mut seen, &mut hasher)?;
        ic.validate()?;
        let checksum = format!(
            "sha256-{}",
            base64::engine::general_purpose::STANDARD.encode(hasher.finalize())
        );
        Ok((ic, checksum))
    }

    fn load_rec(
        path: &Path,
        include_paths: &[PathBuf],
        seen: &mut Vec<PathBuf>,
        hasher: &mut sha2::Sha256,
    ) -> Result<ImageConfig, ConfigError> {
        let resolved = resolve(path, include_paths);
        let name = resolved.display().to_string();
        let canonical = resolved.canonicalize().unwrap_or_else(|_| resolved.clone());
        if seen.contains(&canonical) {
            return Err(ConfigError::Invalid(format!(
                "failed to read include file: {name} includes itself"
            )));
        }
        seen.push(canonical);
        let text = crate::files::read_regular_text(&resolved, crate::files::MAX_CONFIG).map_err(
            |reason| ConfigError::Read {
                path: name.clone(),
                reason,
            },
        )?;
        sha2::Digest::update(hasher, text.as_bytes());
        let mut ic = Self::parse(&text, &name)?;
        if !ic.include.is_empty() {
            tracing::info!("including {} for configuration", ic.include);
            let included =
                Self::load_rec(Path::new(&ic.include.clone()), include_paths, seen, hasher)?;
            included.merge_into(&mut ic);
        }
        for repos in [
            &mut ic.contents.runtime_repositories,
            &mut ic.contents.build_repositories,
        ] {
            for r in repos.iter_mut() {
                let trimmed = r.trim_end_matches('/').len();
                r.truncate(trimmed);
            }
        }
        if ic.contents.baseimage.is_some()
            && (ic.entrypoint != Entrypoint::default()
                || !ic.cmd.is_empty()
                || !ic.stop_signal.is_empty()
                || !ic.work_dir.is_empty()
                || ic.accounts != Accounts::default()
                || ic.environment.as_ref().is_some_and(|e| !e.is_empty())
                || !ic.paths.is_empty()
                || ic.annotations.as_ref().is_some_and(|a| !a.is_empty()))
        {
            return Err(ConfigError::Invalid(
                "when using base image, the only supported image specification are: contents, archs and includes".into(),
            ));
        }
        Ok(ic)
    }

    /// Merges `self` (the included file) into `target`, which wins: apko's `MergeInto`.
    pub fn merge_into(self, target: &mut ImageConfig) {
        if target.entrypoint == Entrypoint::default() {
            target.entrypoint = self.entrypoint;
        }
        for (t, s) in [
            (&mut target.cmd, self.cmd),
            (&mut target.stop_signal, self.stop_signal),
            (&mut target.work_dir, self.work_dir),
            (&mut target.accounts.run_as, self.accounts.run_as),
        ] {
            if t.is_empty() {
                *t = s;
            }
        }
        if target.layering.is_none() {
            target.layering = self.layering;
        }
        if target.format.is_empty() {
            target.format = self.format;
        }
        if target.certificates.is_none() {
            target.certificates = self.certificates;
        }
        if target.archs.is_empty() {
            target.archs = self.archs;
        }
        prepend(&mut target.accounts.users, self.accounts.users);
        prepend(&mut target.accounts.groups, self.accounts.groups);
        for (t, s) in [
            (&mut target.environment, self.environment),
            (&mut target.annotations, self.annotations),
        ] {
            if let Some(s) = s {
                let t = t.get_or_insert_with(BTreeMap::new);
                for (k, v) in s {
                    t.entry(k).or_insert(v);
                }
            }
        }
        prepend(&mut target.paths, self.paths);
        prepend(&mut target.volumes, self.volumes);
        let (c, t) = (self.contents, &mut target.contents);
        prepend(&mut t.keyring, c.keyring);
        prepend(&mut t.runtime_keyring, c.runtime_keyring);
        prepend(&mut t.build_repositories, c.build_repositories);
        prepend(&mut t.runtime_repositories, c.runtime_repositories);
        prepend(&mut t.repositories, c.repositories);
        prepend(&mut t.packages, c.packages);
        if t.baseimage.is_none() {
            t.baseimage = c.baseimage;
        }
    }

    /// apko's preflight checks and defaults (`Validate`).
    fn validate(&mut self) -> Result<(), ConfigError> {
        if self.entrypoint.kind == "service-bundle" {
            self.entrypoint.command = "/bin/s6-svscan /sv".into();
            self.contents.packages.push("s6".into());
        }
        for u in &mut self.accounts.users {
            if u.username.is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "configured user with UID {} has no configured user name",
                    u.uid
                )));
            }
            if u.uid == 0 {
                return Err(ConfigError::Invalid(format!(
                    "configured user {:?} has UID 0 (to run as root, use `run-as: 0`)",
                    u.username
                )));
            }
            if u.homedir.is_empty() {
                u.homedir = format!("/home/{}", u.username);
            }
        }
        for g in &self.accounts.groups {
            if g.groupname.is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "configured group with GID {} has no configured group name",
                    g.gid
                )));
            }
        }
        for p in &self.paths {
            if !matches!(
                p.kind.as_str(),
                "directory" | "empty-file" | "hardlink" | "symlink" | "permissions"
            ) {
                return Err(ConfigError::Invalid(format!(
                    "unsupported path mutation type {:?}",
                    p.kind
                )));
            }
        }
        if !matches!(self.format.as_str(), "" | "tar") {
            return Err(ConfigError::Invalid(format!(
                "unsupported layer format {:?}: this builder writes tar layers only",
                self.format
            )));
        }
        Ok(())
    }
}

fn prepend<T>(target: &mut Vec<T>, mut first: Vec<T>) {
    first.append(target);
    *target = first;
}

/// apko's `paths.ResolvePath`: the path as given if it exists, else the first include path
/// that has it.
fn resolve(path: &Path, include_paths: &[PathBuf]) -> PathBuf {
    if path.exists() || path.is_absolute() {
        return path.to_path_buf();
    }
    include_paths
        .iter()
        .map(|dir| dir.join(path))
        .find(|p| p.exists())
        .unwrap_or_else(|| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_integers() {
        for (t, v) in [
            ("0o755", 493),
            ("0755", 493),
            ("493", 493),
            ("0x1ed", 493),
            ("0", 0),
        ] {
            assert_eq!(parse_go_int(t), Some(v), "{t}");
        }
        assert_eq!(parse_go_int("09"), None);
        let ic = ImageConfig::parse(
            "paths:\n- path: /a\n  type: directory\n  permissions: 0o750\n- path: /b\n  type: directory\n  permissions: 0755\n",
            "t",
        )
        .unwrap();
        assert_eq!(ic.paths[0].permissions, 0o750);
        assert_eq!(ic.paths[1].permissions, 0o755);
    }

    #[test]
    fn unknown_key_names_path_and_line() {
        let err = ImageConfig::parse("contents:\n  packages: [a]\n  pakages: [b]\n", "x.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "failed to parse image configuration x.yaml: contents: unknown field `pakages`"
            ),
            "{err}"
        );
        assert!(err.contains("line 3 column 3"), "{err}");
    }

    #[test]
    fn include_merges_every_field_as_apkos_merge_into() {
        // the included file's lists go first; its single values fill what the includer lacks
        let included = ImageConfig::parse(
            "contents:\n  repositories: [./base-repo]\n  runtime_keyring: [{name: a.pub, content: A}]\n  baseimage: {image: ./img, apkindex: ./idx}\n  packages: [a]\nlayering: {strategy: origin, budget: 3}\nformat: tar\ncertificates:\n  providers: [ca]\n",
            "base",
        )
        .unwrap();
        let mut ic = ImageConfig::parse(
            "contents:\n  repositories: [./repo]\n  runtime_keyring: [{name: b.pub, content: B}]\n  packages: [b]\n",
            "top",
        )
        .unwrap();
        included.merge_into(&mut ic);
        let c = &ic.contents;
        assert_eq!(c.repositories, ["./base-repo", "./repo"]);
        assert_eq!(
            c.runtime_keyring
                .iter()
                .map(|k| k.name.as_str())
                .collect::<Vec<_>>(),
            ["a.pub", "b.pub"]
        );
        assert_eq!(c.packages, ["a", "b"]);
        assert_eq!(c.baseimage.as_ref().unwrap().apkindex, "./idx");
        assert_eq!(
            ic.layering,
            Some(Layering {
                strategy: "origin".into(),
                budget: 3
            })
        );
        assert_eq!(ic.format, "tar");
        assert_eq!(ic.certificates.unwrap().providers, ["ca"]);
    }

    #[test]
    fn nulls_are_empty() {
        let ic = ImageConfig::parse("contents:\n  packages:\narchs:\n", "t").unwrap();
        assert!(ic.contents.packages.is_empty() && ic.archs.is_empty());
    }
}
