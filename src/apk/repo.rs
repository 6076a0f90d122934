//! Repository locations as written in configs: `[@tag ]LOCATION`, where LOCATION is a local
//! directory, `file://PATH` or `http(s)://[USER:PASSWORD@]HOST/PATH`, in the layout
//! `<repo>/<arch>/APKINDEX.tar.gz` and `<repo>/<arch>/<name>-<version>.apk`. Credentials in
//! a URL are split off here so no other part of the program ever sees them in a URL.

use super::ApkError;
use apko_credential::Secret;
use percent_encoding::percent_decode_str;
use std::path::PathBuf;

/// Where a repository (or a key) is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local directory or file.
    Local(PathBuf),
    /// An http(s) URL without credentials.
    Http(String),
}

/// A repository or key URL with its credentials (if any) split off.
#[derive(Clone)]
pub struct Spec {
    /// `@tag`, for pinned repositories.
    pub tag: Option<String>,
    /// Where it is.
    pub location: Location,
    /// `user:password@` from the URL, percent-decoded.
    pub userinfo: Option<(String, Secret<String>)>,
}

impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spec")
            .field("tag", &self.tag)
            .field("location", &self.location)
            .field("userinfo", &self.userinfo.as_ref().map(|(u, _)| u))
            .finish()
    }
}

/// `text` with any `user:password@` removed from its URL (what may be shown or written
/// into the image).
pub fn redact(text: &str) -> String {
    let Some(scheme_end) = text.find("://") else {
        return text.to_string();
    };
    let authority_start = scheme_end + 3;
    let authority_end = text[authority_start..]
        .find('/')
        .map_or(text.len(), |i| authority_start + i);
    match text[authority_start..authority_end].rfind('@') {
        Some(at) => format!(
            "{}{}",
            &text[..authority_start],
            &text[authority_start + at + 1..]
        ),
        None => text.to_string(),
    }
}

impl Spec {
    /// Parses `[@tag ]LOCATION`.
    pub fn parse(text: &str) -> Result<Spec, ApkError> {
        let text = text.trim();
        let (tag, location) = match text.strip_prefix('@') {
            Some(rest) => match rest.split_once(char::is_whitespace) {
                Some((tag, loc)) if !tag.is_empty() => (Some(tag.to_string()), loc.trim()),
                _ => {
                    return Err(ApkError::Malformed(format!(
                        "repository {:?}: a tag must be followed by a space and the location, as in `@edge https://…`",
                        redact(text)
                    )));
                }
            },
            None => (None, text),
        };
        if location.is_empty() {
            return Err(ApkError::Malformed(
                "an empty repository location".to_string(),
            ));
        }
        let lower = location.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            let scheme_end = location.find("://").unwrap_or(0) + 3;
            let authority_end = location[scheme_end..]
                .find('/')
                .map_or(location.len(), |i| scheme_end + i);
            let authority = &location[scheme_end..authority_end];
            let userinfo = authority.rfind('@').map(|at| {
                let info = &authority[..at];
                let (user, pass) = info.split_once(':').unwrap_or((info, ""));
                let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
                (decode(user), Secret::from(decode(pass)))
            });
            let url = redact(location).trim_end_matches('/').to_string();
            Ok(Spec {
                tag,
                location: Location::Http(url),
                userinfo,
            })
        } else if let Some(path) = location.strip_prefix("file://") {
            Ok(Spec {
                tag,
                location: Location::Local(PathBuf::from(path)),
                userinfo: None,
            })
        } else if location.contains("://") {
            Err(ApkError::Malformed(format!(
                "repository {:?}: only local paths, file:// and http(s):// are supported",
                redact(location)
            )))
        } else {
            Ok(Spec {
                tag,
                location: Location::Local(PathBuf::from(location)),
                userinfo: None,
            })
        }
    }

    /// The location without credentials, as shown in messages and lockfiles.
    pub fn display(&self) -> String {
        match &self.location {
            Location::Local(p) => p.display().to_string(),
            Location::Http(u) => u.clone(),
        }
    }

    /// The same location with `rel` appended (`x86_64/APKINDEX.tar.gz`).
    pub fn join(&self, rel: &str) -> Location {
        match &self.location {
            Location::Local(p) => Location::Local(p.join(rel)),
            Location::Http(u) => Location::Http(format!("{u}/{rel}")),
        }
    }
}

impl Location {
    /// For messages.
    pub fn display(&self) -> String {
        match self {
            Location::Local(p) => p.display().to_string(),
            Location::Http(u) => u.clone(),
        }
    }
}

/// The line for `/etc/apk/repositories`: `[@tag ]LOCATION` without credentials.
pub fn runtime_line(text: &str) -> String {
    redact(text.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_split_off() {
        let s = Spec::parse("@priv https://al%40ice:p%3Ass@repo.example:8443/os/").unwrap();
        assert_eq!(s.tag.as_deref(), Some("priv"));
        assert_eq!(
            s.location,
            Location::Http("https://repo.example:8443/os".into())
        );
        let (user, pass) = s.userinfo.as_ref().unwrap();
        assert_eq!((user.as_str(), pass.expose().as_str()), ("al@ice", "p:ss"));
        assert!(!format!("{s:?}").contains("p:ss"));
        assert_eq!(
            runtime_line("@priv https://alice:secret@repo.example/os"),
            "@priv https://repo.example/os"
        );
        assert_eq!(
            Spec::parse("file:///srv/repo").unwrap().location,
            Location::Local("/srv/repo".into())
        );
        assert_eq!(
            Spec::parse("./packages")
                .unwrap()
                .join("x86_64/APKINDEX.tar.gz"),
            Location::Local("./packages/x86_64/APKINDEX.tar.gz".into())
        );
        assert_eq!(
            Spec::parse("ftp://u:secret@h/x").unwrap_err().to_string(),
            "repository \"ftp://h/x\": only local paths, file:// and http(s):// are supported"
        );
    }
}
