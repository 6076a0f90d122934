//! The image config (`v1.ConfigFile`): the fields apko writes or a base image may carry, in
//! go-containerregistry's field order, empty fields left out as its `omitempty` does.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

fn is_false(b: &bool) -> bool {
    !*b
}

/// The image config (`v1.ConfigFile`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConfigFile {
    /// OCI architecture.
    pub architecture: String,
    /// Who made it.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub author: String,
    /// Legacy docker field.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub container: String,
    /// RFC 3339 creation time.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub created: String,
    /// Legacy docker field.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub docker_version: String,
    /// One entry per layer (and per empty step).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    /// `linux`.
    pub os: String,
    /// The diff_ids.
    pub rootfs: RootFs,
    /// What to run.
    pub config: Config,
    /// OS version (Windows).
    #[serde(rename = "os.version", skip_serializing_if = "String::is_empty")]
    pub os_version: String,
    /// CPU variant (`v7`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub variant: String,
    /// OS features.
    #[serde(rename = "os.features", skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
}

/// One history entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct History {
    /// Author.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub author: String,
    /// RFC 3339 time.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub created: String,
    /// The step.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub created_by: String,
    /// Free text.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub comment: String,
    /// No layer for this step.
    #[serde(skip_serializing_if = "is_false")]
    pub empty_layer: bool,
}

/// `rootfs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `sha256:` of each uncompressed layer, bottom first.
    pub diff_ids: Vec<String>,
}

impl Default for RootFs {
    fn default() -> Self {
        RootFs {
            kind: "layers".into(),
            diff_ids: Vec::new(),
        }
    }
}

/// The run configuration (`v1.Config`): only the fields apko sets or a base image may carry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[allow(non_snake_case, missing_docs)]
pub struct Config {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub Cmd: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub Entrypoint: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub Env: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub Labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub User: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub Volumes: BTreeMap<String, Empty>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub WorkingDir: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub ExposedPorts: BTreeMap<String, Empty>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub StopSignal: String,
}

/// `{}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Empty {}
