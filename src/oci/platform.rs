//! Platforms (`os/architecture[/variant]`) and the one rule that says whether an index entry
//! serves the platform wanted: used by pulls, base images and layouts alike.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A platform, as go-containerregistry's `v1.Platform` writes it: the variant is a string left
/// out when empty (not an `Option`), so that what is read compares equal to what is written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Platform {
    /// OCI architecture (`amd64`, `arm64`).
    pub architecture: String,
    /// `linux`.
    pub os: String,
    /// CPU variant (`v7`, `v8`); empty for none.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_empty"
    )]
    pub variant: String,
}

/// Go reads `"variant": null` as the empty string.
fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

impl Platform {
    /// Parses `os/arch[/variant]`, e.g. `linux/arm64/v8`; apk's `x86_64`/`aarch64` names are
    /// accepted for the architecture.
    pub fn parse(text: &str) -> Result<Platform, String> {
        let bad =
            || format!("invalid platform {text:?}: expected OS/ARCH[/VARIANT], e.g. linux/amd64");
        let mut parts = text.split('/');
        let (Some(os), Some(arch)) = (parts.next(), parts.next()) else {
            return Err(bad());
        };
        let variant = parts.next().unwrap_or_default();
        if os.is_empty() || arch.is_empty() || parts.next().is_some() {
            return Err(bad());
        }
        Ok(Platform {
            os: os.to_string(),
            architecture: normalize_arch(arch).to_string(),
            variant: variant.to_string(),
        })
    }

    /// Whether an index entry for `have` serves this (wanted) platform. go-containerregistry's
    /// rule (`remote.matchesPlatform`, what apko's base images and `crane --platform` use): os
    /// and architecture equal, the variant equal when one is wanted, any when not. Plus
    /// containerd's normalisation that `arm64` without a variant is `arm64/v8`, so that
    /// `linux/arm64/v8` finds the usual arm64 entry. apk's architecture names are accepted.
    pub fn matches(&self, have: &Platform) -> bool {
        if self.os != have.os || self.architecture != normalize_arch(&have.architecture) {
            return false;
        }
        match (self.variant.as_str(), have.variant.as_str()) {
            ("", _) => true,
            (want, "") => self.architecture == "arm64" && want == "v8",
            (want, have) => want == have,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if !self.variant.is_empty() {
            write!(f, "/{}", self.variant)?;
        }
        Ok(())
    }
}

/// OCI/Go architecture names for apk's.
pub fn normalize_arch(arch: &str) -> &str {
    match arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "armv7" | "armhf" => "arm",
        "x86" => "386",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(os: &str, architecture: &str, variant: &str) -> Platform {
        Platform {
            os: os.into(),
            architecture: architecture.into(),
            variant: variant.into(),
        }
    }

    #[test]
    fn platforms() {
        let arm64 = Platform::parse("linux/arm64").unwrap();
        assert!(arm64.matches(&p("linux", "arm64", "v8")));
        let amd = Platform::parse("linux/x86_64").unwrap();
        assert_eq!(amd.to_string(), "linux/amd64");
        assert!(!amd.matches(&arm64));
        let v8 = Platform::parse("linux/arm64/v8").unwrap();
        assert!(v8.matches(&p("linux", "arm64", "")));
        assert!(v8.matches(&p("linux", "aarch64", "v8")));
        let v7 = Platform::parse("linux/arm/v7").unwrap();
        assert!(v7.matches(&p("linux", "arm", "v7")));
        assert!(!v7.matches(&p("linux", "arm", "v6")));
        assert!(!v7.matches(&p("linux", "arm", "")));
        assert!(!arm64.matches(&p("windows", "arm64", "")));
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("linux/arm/v7/x").is_err());
    }

    #[test]
    fn serialised_as_go_does() {
        let json = |p: &Platform| String::from_utf8(crate::oci::to_go_json(p)).unwrap();
        assert_eq!(
            json(&p("linux", "arm64", "")),
            r#"{"architecture":"arm64","os":"linux"}"#
        );
        assert_eq!(
            json(&p("linux", "arm", "v7")),
            r#"{"architecture":"arm","os":"linux","variant":"v7"}"#
        );
        let read: Platform =
            serde_json::from_str(r#"{"architecture":"amd64","os":"linux","variant":null}"#)
                .unwrap();
        assert_eq!(read, p("linux", "amd64", ""));
    }
}
