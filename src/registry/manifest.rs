//! Compatibility only: the manifest model is [`crate::oci`]. What is left is the platform
//! shape `image/build.rs` still builds (variant as an `Option`) and the `Platform::parse`
//! `cli/push.rs` calls; both go when those files name [`crate::oci::Platform`].

/// A wanted platform with the variant as an `Option`; converted to [`crate::oci::Platform`]
/// (no variant is the empty one, "any") where it is used.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Platform {
    /// `amd64`, `arm64`.
    pub architecture: String,
    /// `linux`.
    pub os: String,
    /// `v8`, `v7`.
    pub variant: Option<String>,
}

impl Platform {
    /// [`crate::oci::Platform::parse`].
    pub fn parse(text: &str) -> Result<crate::oci::Platform, String> {
        crate::oci::Platform::parse(text)
    }
}

impl From<Platform> for crate::oci::Platform {
    fn from(p: Platform) -> crate::oci::Platform {
        crate::oci::Platform {
            architecture: p.architecture,
            os: p.os,
            variant: p.variant.unwrap_or_default(),
        }
    }
}
