//! Credentials given on the command line or in the environment: `--auth`, `--auth-file`,
//! `APKO_AUTH`, and apko's `HTTP_AUTH` for APK repositories.
//!
//! A value is `[HOST=](basic:USER:PASSWORD | bearer:TOKEN | file:PATH | USER:PASSWORD | TOKEN |
//! PATH)`. Without `HOST=` it applies only to the registry of the image reference named on the
//! command line. Error messages never quote a value.

use super::credential::Credential;
use super::host::normalize_registry;
use apko_credential::Secret;
use std::path::PathBuf;

/// Environment variable with `--auth` values, one per line (keeps secrets out of argv).
pub const AUTH_ENV: &str = "APKO_AUTH";
/// apko's variable for APK repositories: `basic:HOST:USER:PASSWORD`, comma-separated.
pub const HTTP_AUTH_ENV: &str = "HTTP_AUTH";

/// What an inline value holds.
#[derive(Debug, Clone)]
pub enum InlineValue {
    /// A credential to use as is.
    Credential(Credential),
    /// A Docker config or containers auth.json whose helpers and `auths` apply.
    File(PathBuf),
}

/// One inline value.
#[derive(Debug, Clone)]
pub struct InlineAuth {
    /// The host it is for; `None` means the registry of the reference on the command line.
    pub scope: Option<String>,
    /// The value.
    pub value: InlineValue,
    /// Where it came from, e.g. `--auth #2`, `APKO_AUTH line 1`, `HTTP_AUTH #1`.
    pub origin: String,
    /// Only for APK repositories (`HTTP_AUTH`).
    pub apk_only: bool,
}

impl InlineAuth {
    /// True when the secret itself was on the command line (docker warns about `-p`).
    pub fn secret_on_argv(&self) -> bool {
        self.origin.starts_with("--auth #") && matches!(self.value, InlineValue::Credential(_))
    }
}

/// Parses one `--auth`/`APKO_AUTH`/`--auth-file` value. `Err` explains the form expected,
/// without the value.
pub fn parse(text: &str, origin: &str) -> Result<InlineAuth, String> {
    let bad = |why: &str| format!("{origin}: {why}");
    let text = text.trim_end_matches(['\r', '\n']);
    if text.is_empty() {
        return Err(bad("empty value"));
    }
    let (scope, value) = match text.split_once('=') {
        Some((host, value)) if looks_like_host(host) && !value.is_empty() => {
            (Some(normalize_registry(host)), value)
        }
        _ => (None, text),
    };
    let value = if let Some(rest) = value.strip_prefix("basic:") {
        match rest.split_once(':') {
            Some((u, p)) if !u.is_empty() => basic(u, p),
            _ => return Err(bad("`basic:` must be followed by USER:PASSWORD")),
        }
    } else if let Some(rest) = value.strip_prefix("bearer:") {
        if rest.is_empty() {
            return Err(bad("`bearer:` must be followed by a token"));
        }
        InlineValue::Credential(Credential::Bearer(Secret::from(rest.to_string())))
    } else if let Some(rest) = value.strip_prefix("file:") {
        file(rest).map_err(|why| bad(&why))?
    } else if std::path::Path::new(value).is_file() {
        InlineValue::File(PathBuf::from(value))
    } else if value.ends_with(".json") {
        return Err(bad(
            "looks like a path to an auth file, but no such file exists (use `file:PATH` to be explicit)",
        ));
    } else if let Some((u, p)) = value.split_once(':') {
        if u.is_empty() {
            return Err(bad("USER:PASSWORD with an empty user"));
        }
        basic(u, p)
    } else {
        InlineValue::Credential(Credential::Bearer(Secret::from(value.to_string())))
    };
    Ok(InlineAuth {
        scope,
        value,
        origin: origin.to_string(),
        apk_only: false,
    })
}

fn basic(u: &str, p: &str) -> InlineValue {
    InlineValue::Credential(Credential::Basic {
        username: u.to_string(),
        password: Secret::from(p.to_string()),
    })
}

fn file(path: &str) -> Result<InlineValue, String> {
    if std::path::Path::new(path).is_file() {
        Ok(InlineValue::File(PathBuf::from(path)))
    } else {
        Err(format!("no auth file at {path}"))
    }
}

/// `host`, `host:port`, `[v6]:port`: lowercase letters, digits, dots and dashes, and either a
/// dot, `localhost` or a numeric port, so `user:pass=` and `token==` are not mistaken for one.
fn looks_like_host(s: &str) -> bool {
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = s.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((_, "")) => true,
            Some((_, tail)) => tail.strip_prefix(':').is_some_and(digits),
            None => false,
        };
    }
    let (name, port) = match s.split_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (s, None),
    };
    if port.is_some_and(|p| !digits(p)) {
        return false;
    }
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && (name.contains('.') || name == "localhost" || port.is_some())
}

/// Parses `APKO_AUTH` or an `--auth-file`: one value per line; blank lines and `#` comments
/// are ignored.
pub fn parse_lines(text: &str, origin: &str) -> Result<Vec<InlineAuth>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(n, l)| parse(l.trim(), &format!("{origin} line {}", n + 1)))
        .collect()
}

/// Parses `HTTP_AUTH=basic:HOST:USER:PASSWORD[,basic:HOST:USER:PASSWORD…]`. Unlike apko's, a
/// password may contain `:` (and `,` unless followed by `basic:`), and several hosts work.
pub fn parse_http_auth(text: &str) -> Result<Vec<InlineAuth>, String> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    let mut n = 0;
    while !rest.is_empty() {
        n += 1;
        let origin = format!("{HTTP_AUTH_ENV} #{n}");
        let body = rest.strip_prefix("basic:").ok_or_else(|| {
            format!(
                "{origin}: expected basic:HOST:USER:PASSWORD (comma-separated for several hosts)"
            )
        })?;
        let (item, next) = match body.find(",basic:") {
            Some(i) => (&body[..i], &body[i + 1..]),
            None => (body, ""),
        };
        rest = next;
        let mut parts = item.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(host), Some(user), Some(pass)) if !host.is_empty() && !user.is_empty() => {
                out.push(InlineAuth {
                    scope: Some(host.to_ascii_lowercase()),
                    value: basic(user, pass),
                    origin,
                    apk_only: true,
                });
            }
            _ => {
                return Err(format!(
                    "{origin}: expected basic:HOST:USER:PASSWORD (HOST without a port)"
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred(a: &InlineAuth) -> &Credential {
        match &a.value {
            InlineValue::Credential(c) => c,
            InlineValue::File(_) => panic!("a file"),
        }
    }

    #[test]
    fn forms() {
        let a = parse("alice:pa:ss=word", "--auth #1").unwrap();
        assert_eq!(a.scope, None);
        assert_eq!(cred(&a).username(), Some("alice"));
        assert!(a.secret_on_argv());
        let t = parse("dG9rZW4==", "--auth #1").unwrap();
        assert!(matches!(cred(&t), Credential::Bearer(s) if s.expose() == "dG9rZW4=="));
        let s = parse("r.example:5000=basic:u:p", "x").unwrap();
        assert_eq!(s.scope.as_deref(), Some("r.example:5000"));
        let h = parse("index.docker.io=bearer:abc", "x").unwrap();
        assert_eq!(h.scope.as_deref(), Some("docker.io"));
        let l = parse("localhost:5000=u:p", "x").unwrap();
        assert_eq!(l.scope.as_deref(), Some("localhost:5000"));
        // `user:pass=` is a password ending in `=`, not a host.
        let p = parse("user:pass=", "x").unwrap();
        assert_eq!(p.scope, None);
        assert_eq!(
            parse("missing.json", "--auth #3").unwrap_err(),
            "--auth #3: looks like a path to an auth file, but no such file exists (use `file:PATH` to be explicit)"
        );
        assert_eq!(
            parse(":nouser", "--auth #1").unwrap_err(),
            "--auth #1: USER:PASSWORD with an empty user"
        );
    }

    #[test]
    fn http_auth_without_apkos_flaws() {
        let v = parse_http_auth("basic:a.example:u1:p:w,d,basic:b.example:u2:x").unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].scope.as_deref(), Some("a.example"));
        match cred(&v[0]) {
            Credential::Basic { username, password } => {
                assert_eq!(
                    (username.as_str(), password.expose().as_str()),
                    ("u1", "p:w,d")
                )
            }
            _ => panic!(),
        }
        assert_eq!(v[1].scope.as_deref(), Some("b.example"));
        assert!(v.iter().all(|a| a.apk_only));
        assert_eq!(
            parse_http_auth("bearer:x").unwrap_err(),
            "HTTP_AUTH #1: expected basic:HOST:USER:PASSWORD (comma-separated for several hosts)"
        );
    }
}
