//! The OCI model `image/` builds and `registry/` transfers: digests, media types,
//! descriptors, platforms, manifests, indexes, image configs and layouts on disk.
//!
//! Documents are written as apko writes them (go-containerregistry, Go's `encoding/json`):
//! ggcr's field order, empty fields left out as `omitempty` does, map keys sorted, and `<`,
//! `>`, `&`, U+2028 and U+2029 escaped. Their digests are the image's identity, so the bytes
//! must not depend on hash-map order or on a serializer's choices.
//!
//! Why not `oci-spec` (the crate made for this; not a dependency): its types cannot produce
//! those bytes. Its `Descriptor` serialises `mediaType, digest, size` where ggcr writes
//! `mediaType, size, digest`; annotations and labels are `HashMap`s, so their order changes
//! from run to run (youki-dev/oci-spec-rs#249), as are `ExposedPorts` and `Volumes`; its
//! `ImageConfiguration` puts `created` and `author` before `architecture` (ggcr's
//! `ConfigFile` is `architecture, author, container, created, …`) and its run `Config`
//! writes `User, ExposedPorts, Env, Entrypoint, Cmd` where ggcr writes `Cmd, Entrypoint,
//! Env, …, User`. Reading with it and writing with these would be two models again, which is
//! what this module replaces; Go's escaping is a formatter ([`json`]) that any type could use.

pub mod config;
pub mod descriptor;
pub mod digest;
pub mod json;
pub mod layout;
pub mod manifest;
pub mod media;
pub mod platform;
pub mod time;

pub use config::{Config, ConfigFile, Empty, History, RootFs};
pub use descriptor::Descriptor;
pub use digest::{Algorithm, Digest, DigestError, Hasher};
pub use json::{to_go_json, to_go_json_indented};
pub use layout::{Layout, LayoutError, Node};
pub use manifest::{Index, Manifest, ManifestError, Parsed, media_type_of, parse};
pub use media::{
    ACCEPT, CONFIG_MEDIA_TYPE, DOCKER_LIST, DOCKER_MANIFEST, INDEX_MEDIA_TYPE, LAYER_MEDIA_TYPE,
    MANIFEST_MEDIA_TYPE, REF_NAME, is_index, is_manifest,
};
pub use platform::{Platform, normalize_arch};
pub use time::{parse_rfc3339, rfc3339};
