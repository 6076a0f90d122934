//! Image references as docker and crane read them: `alpine`, `r.example:5000/ns/img:tag`,
//! `img@sha256:…`. Only the parts credential lookup and pushing need.

pub use crate::auth::host::{DOCKER_HUB, normalize_registry};
use std::fmt;

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `docker.io`, `r.example:5000`, `localhost`, `[::1]:5000`.
    pub registry: String,
    /// `library/alpine`, `ns/img`.
    pub repository: String,
    /// The tag, if one was given.
    pub tag: Option<String>,
    /// The digest, if one was given.
    pub digest: Option<String>,
}

/// Why a reference could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid image reference {input:?}: {why}")]
pub struct ParseError {
    input: String,
    why: &'static str,
}

impl Reference {
    /// Parses `[registry/]repository[:tag][@digest]` with docker's rule: the first component is
    /// a registry when it contains `.` or `:` or is `localhost`.
    pub fn parse(input: &str) -> Result<Reference, ParseError> {
        let err = |why| ParseError {
            input: input.to_string(),
            why,
        };
        if input.is_empty() {
            return Err(err("it is empty"));
        }
        let (rest, digest) = match input.split_once('@') {
            // Checked strictly (`Digest::parse`) where it is used.
            Some((r, d)) if d.contains(':') && !d.is_empty() => (r, Some(d.to_string())),
            Some(_) => return Err(err("the digest must look like algorithm:hex")),
            None => (input, None),
        };
        let (registry, path) = match rest.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), path)
            }
            _ => (DOCKER_HUB.to_string(), rest),
        };
        let (path, tag) = match path.rsplit_once(':') {
            Some((p, t)) if !t.contains('/') => (p, Some(t.to_string())),
            _ => (path, None),
        };
        if path.is_empty() || path.split('/').any(str::is_empty) {
            return Err(err("the repository name is empty"));
        }
        if path.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(err("repository names must be lowercase"));
        }
        // distribution's grammar: components of [a-z0-9] separated by `.`, `_`, `__` or `-`s;
        // so no `..`, `?` or `#` ever reaches a request path.
        let component_ok = |c: &str| {
            let b = c.as_bytes();
            b.first().is_some_and(u8::is_ascii_alphanumeric)
                && b.last().is_some_and(u8::is_ascii_alphanumeric)
                && b.iter()
                    .all(|&x| x.is_ascii_alphanumeric() || matches!(x, b'.' | b'_' | b'-'))
        };
        if !path.split('/').all(component_ok) {
            return Err(err(
                "repository path components are lowercase letters, digits and . _ - between them",
            ));
        }
        if tag.as_deref() == Some("") {
            return Err(err("the tag is empty"));
        }
        if let Some(t) = &tag
            && (t.len() > 128
                || t.starts_with(['.', '-'])
                || !t
                    .bytes()
                    .all(|x| x.is_ascii_alphanumeric() || matches!(x, b'.' | b'_' | b'-')))
        {
            return Err(err(
                "a tag is at most 128 letters, digits, . _ - and does not start with . or -",
            ));
        }
        if !registry.bytes().all(|x| {
            x.is_ascii_alphanumeric() || matches!(x, b'.' | b'-' | b':' | b'[' | b']' | b'_')
        }) {
            return Err(err("the registry is not a host name or address"));
        }
        let registry = normalize_registry(&registry);
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_string()
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }
}

/// What credentials are looked up for: the registry and repository.
impl crate::auth::resolver::RegistryRepository for Reference {
    fn registry(&self) -> &str {
        &self.registry
    }

    fn repository(&self) -> &str {
        &self.repository
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> (String, String, Option<String>) {
        let r = Reference::parse(s).unwrap();
        (r.registry, r.repository, r.tag)
    }

    #[test]
    fn docker_rules() {
        assert_eq!(
            p("alpine"),
            ("docker.io".into(), "library/alpine".into(), None)
        );
        assert_eq!(
            p("alpine:3.20"),
            (
                "docker.io".into(),
                "library/alpine".into(),
                Some("3.20".into())
            )
        );
        assert_eq!(p("ns/img"), ("docker.io".into(), "ns/img".into(), None));
        assert_eq!(
            p("r.example:5000/ns/img:tag"),
            ("r.example:5000".into(), "ns/img".into(), Some("tag".into()))
        );
        assert_eq!(p("localhost/img"), ("localhost".into(), "img".into(), None));
        assert_eq!(
            p("index.docker.io/library/alpine"),
            ("docker.io".into(), "library/alpine".into(), None)
        );
        assert_eq!(
            p("registry-1.docker.io/x/y"),
            ("docker.io".into(), "x/y".into(), None)
        );
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let d = Reference::parse(&format!("r.example/img@sha256:{hex}")).unwrap();
        assert_eq!(d.digest, Some(format!("sha256:{hex}")));
        assert_eq!(d.to_string(), format!("r.example/img@sha256:{hex}"));
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            "",
            "r.example/",
            "r.example//img",
            "Upper/Case",
            "img:",
            "img@nodigest",
            "r.example/../v2/x",
            "r.example/a/.hidden",
            "r.example/a?b",
            "r.example/a#b",
            "img:-tag",
            "r.ex%61mple/a",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Reference::parse("img:").unwrap_err().to_string(),
            "invalid image reference \"img:\": the tag is empty"
        );
    }
}
