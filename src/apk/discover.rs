//! Chainguard-style key discovery, as apko does it: a repository may publish
//! `<repo>/apk-configuration` (`{"jwks_uri": ...}`) naming a JWKS of the RSA keys that sign
//! its index, so a config needs no `keyring` entry for it. A 404 means the repository does
//! not offer discovery. Keys are named `<kid>.rsa.pub`, as signatures refer to them.

use super::ApkError;
use super::fetch::{Fetcher, Kind, url_key};
use super::keys::Keyring;
use super::repo::{Location, Spec};
use base64::Engine;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::{BigUint, RsaPublicKey};

/// One discovered key: the file name signatures use and its PEM text (PKIX, as apko writes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredKey {
    /// `<kid>.rsa.pub`.
    pub name: String,
    /// `-----BEGIN PUBLIC KEY-----` … with LF line ends.
    pub pem: String,
}

#[derive(serde::Deserialize)]
struct Configuration {
    jwks_uri: Option<String>,
}

#[derive(serde::Deserialize)]
struct Jwks {
    #[serde(default)]
    keys: Vec<Jwk>,
}

#[derive(serde::Deserialize)]
struct Jwk {
    #[serde(default)]
    kty: String,
    #[serde(default)]
    kid: String,
    n: Option<String>,
    e: Option<String>,
}

/// The keys `spec`'s repository publishes; empty when it is not an http(s) repository or
/// offers no discovery (404).
pub async fn discover(fetcher: &Fetcher<'_>, spec: &Spec) -> Result<Vec<DiscoveredKey>, ApkError> {
    let Location::Http(repo) = &spec.location else {
        return Ok(Vec::new());
    };
    // Offline builds trust what an earlier online build discovered (and verified as a JWKS).
    let cached = fetcher
        .cache_dir()
        .map(|dir| dir.join(format!("keys/discovered/{}.jwks", url_key(repo))));
    if fetcher.offline() {
        return match cached.as_deref().map(std::fs::read) {
            Some(Ok(body)) => parse_jwks(&body).map_err(|why| {
                ApkError::Key(format!("key discovery for {repo}: the cached JWKS {why}"))
            }),
            _ => Ok(Vec::new()),
        };
    }
    let url = format!("{}/apk-configuration", repo.trim_end_matches('/'));
    let Some(body) = fetcher.lookup(spec, &url, Kind::Discovery).await? else {
        return Ok(Vec::new());
    };
    let bad = |why: String| ApkError::Key(format!("key discovery for {repo}: {url} {why}"));
    let config: Configuration = serde_json::from_slice(&body)
        .map_err(|e| bad(format!("is not the JSON discovery document ({e})")))?;
    let Some(jwks_uri) = config.jwks_uri.filter(|u| !u.is_empty()) else {
        return Err(bad("names no \"jwks_uri\"".into()));
    };
    let jwks_spec = jwks_location(spec, repo, &jwks_uri).map_err(|why| {
        ApkError::Key(format!(
            "key discovery for {repo}: jwks_uri {jwks_uri:?} {why}"
        ))
    })?;
    let Location::Http(jwks_url) = &jwks_spec.location else {
        unreachable!("jwks_location only accepts http(s)")
    };
    let body = fetcher
        .lookup(&jwks_spec, jwks_url, Kind::Discovery)
        .await?
        .ok_or_else(|| {
            ApkError::Key(format!(
                "key discovery for {repo}: {jwks_url} answered 404 Not Found"
            ))
        })?;
    let keys = parse_jwks(&body).map_err(|why| {
        ApkError::Key(format!(
            "key discovery for {repo}: the JWKS at {jwks_url} {why}"
        ))
    })?;
    fetcher.keep(cached, &body);
    Ok(keys)
}

/// Where the JWKS is, with the repository's own URL credentials when it is on the same
/// host (so a private repository's key set is read as its index is). A repository read
/// over https must not send us to plain http.
fn jwks_location(spec: &Spec, repo: &str, jwks_uri: &str) -> Result<Spec, String> {
    let parsed = Spec::parse(jwks_uri).map_err(|e| format!("is not a URL: {e}"))?;
    let Location::Http(url) = &parsed.location else {
        return Err("is not an http(s) URL".into());
    };
    if repo.starts_with("https://") && !url.starts_with("https://") {
        return Err("is plain http for an https repository".into());
    }
    if parsed.userinfo.is_some() {
        return Err("carries credentials".into());
    }
    let host = |u: &str| {
        u.split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or_default().to_string())
    };
    Ok(Spec {
        tag: None,
        location: Location::Http(url.clone()),
        userinfo: if host(url) == host(repo) {
            spec.userinfo.clone()
        } else {
            None
        },
    })
}

/// RSA keys of a JWKS as PEM; every key must be RSA with a `kid` usable as a file name.
pub fn parse_jwks(body: &[u8]) -> Result<Vec<DiscoveredKey>, String> {
    let jwks: Jwks =
        serde_json::from_slice(body).map_err(|e| format!("is not a JSON key set ({e})"))?;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut keys = Vec::with_capacity(jwks.keys.len());
    for key in jwks.keys {
        if key.kid.is_empty() {
            return Err("has a key without \"kid\"".into());
        }
        let kid = key.kid;
        if kid.contains(['/', '\\', '\0']) || kid.starts_with('.') || kid.len() > 200 {
            return Err(format!("has a kid {kid:?} that is not a usable file name"));
        }
        if key.kty != "RSA" {
            return Err(format!(
                "has key {kid:?} of type {:?}; only RSA keys sign APK indexes",
                key.kty
            ));
        }
        let number = |field: Option<String>, what: &str| {
            let text = field.ok_or_else(|| format!("has RSA key {kid:?} without {what:?}"))?;
            b64.decode(text.trim_end_matches('='))
                .map(|b| BigUint::from_bytes_be(&b))
                .map_err(|_| format!("has RSA key {kid:?} whose {what:?} is not base64url"))
        };
        let n = number(key.n, "n")?;
        let e = number(key.e, "e")?;
        let public = RsaPublicKey::new(n, e).map_err(|e| format!("has RSA key {kid:?}: {e}"))?;
        let pem = public
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| format!("has RSA key {kid:?}: {e}"))?;
        keys.push(DiscoveredKey {
            name: format!("{kid}.rsa.pub"),
            pem,
        });
    }
    Ok(keys)
}

/// Adds the keys `spec`'s repository publishes to `keyring` and says how many there were.
/// A repository without discovery, or one that cannot be reached for it, adds none (the
/// index's signature error then says which key is missing); a malformed answer is named in
/// a warning.
pub async fn add_discovered(
    fetcher: &Fetcher<'_>,
    spec: &Spec,
    keyring: &mut Keyring,
) -> Result<usize, ApkError> {
    match discover(fetcher, spec).await {
        Ok(keys) => {
            let found = keys.len();
            for key in keys {
                keyring.add(&key.name, key.pem.into_bytes(), &spec.display())?;
            }
            tracing::debug!("{} publishes {found} key(s)", spec.display());
            Ok(found)
        }
        Err(e @ ApkError::Key(_)) => {
            tracing::warn!("{e}; its keys are not trusted");
            Ok(0)
        }
        Err(e) => {
            tracing::debug!("no key discovery for {}: {e}", spec.display());
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_keys_become_pkix_pem_named_by_kid() {
        // A 512-bit test modulus (no real key): only the encoding is checked.
        let key = RsaPublicKey::new(BigUint::from_bytes_be(&[0xc3; 64]), BigUint::from(65537u32))
            .unwrap();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let n = b64.encode([0xc3; 64]);
        let body = format!(
            r#"{{"keys":[{{"kty":"RSA","kid":"chainguard-1","n":"{n}","e":"AQAB","alg":"RS256"}}]}}"#
        );
        let keys = parse_jwks(body.as_bytes()).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].name, "chainguard-1.rsa.pub");
        assert_eq!(keys[0].pem, key.to_public_key_pem(LineEnding::LF).unwrap());
        assert!(keys[0].pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(keys[0].pem.ends_with("-----END PUBLIC KEY-----\n"));
    }

    #[test]
    fn bad_key_sets_are_refused_with_the_reason() {
        let cases = [
            (
                r#"{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}"#,
                "has a key without \"kid\"",
            ),
            (
                r#"{"keys":[{"kty":"EC","kid":"k"}]}"#,
                "has key \"k\" of type \"EC\"; only RSA keys sign APK indexes",
            ),
            (
                r#"{"keys":[{"kty":"RSA","kid":"../../etc/x","n":"AQAB","e":"AQAB"}]}"#,
                "has a kid \"../../etc/x\" that is not a usable file name",
            ),
            (
                r#"{"keys":[{"kty":"RSA","kid":"k","e":"AQAB"}]}"#,
                "has RSA key \"k\" without \"n\"",
            ),
            (
                r#"{"keys":[{"kty":"RSA","kid":"k","n":"*","e":"AQAB"}]}"#,
                "has RSA key \"k\" whose \"n\" is not base64url",
            ),
        ];
        for (body, want) in cases {
            assert_eq!(parse_jwks(body.as_bytes()).unwrap_err(), want, "{body}");
        }
        assert!(
            parse_jwks(b"<html>")
                .unwrap_err()
                .starts_with("is not a JSON key set (")
        );
    }

    #[test]
    fn the_jwks_keeps_url_credentials_only_on_the_repository_host() {
        let spec = Spec::parse("https://u:p@repo.example/os").unwrap();
        let same = jwks_location(
            &spec,
            "https://repo.example/os",
            "https://repo.example/keys",
        )
        .unwrap();
        assert!(same.userinfo.is_some());
        let other = jwks_location(
            &spec,
            "https://repo.example/os",
            "https://keys.example/jwks",
        )
        .unwrap();
        assert!(other.userinfo.is_none());
        assert_eq!(
            jwks_location(&spec, "https://repo.example/os", "http://repo.example/keys")
                .unwrap_err(),
            "is plain http for an https repository"
        );
        assert_eq!(
            jwks_location(&spec, "https://repo.example/os", "/etc/passwd").unwrap_err(),
            "is not an http(s) URL"
        );
    }
}
