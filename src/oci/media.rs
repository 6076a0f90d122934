//! Media types: the OCI ones apko writes, and Docker's v2 ones a registry may serve instead.

/// `application/vnd.oci.image.index.v1+json`
pub const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
/// `application/vnd.oci.image.manifest.v1+json`
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// `application/vnd.oci.image.config.v1+json`
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
/// `application/vnd.oci.image.layer.v1.tar+gzip`
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// Docker manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// What a manifest GET accepts: every index and manifest type this model reads.
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// The annotation tools read an image's name in a layout from.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Whether `media_type` names an index (OCI index or Docker manifest list).
pub fn is_index(media_type: &str) -> bool {
    media_type == INDEX_MEDIA_TYPE || media_type == DOCKER_LIST
}

/// Whether `media_type` names an image manifest (OCI or Docker schema 2).
pub fn is_manifest(media_type: &str) -> bool {
    media_type == MANIFEST_MEDIA_TYPE || media_type == DOCKER_MANIFEST
}
