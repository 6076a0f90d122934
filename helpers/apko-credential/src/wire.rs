//! The wire format of the Docker credential-helper protocol.
//!
//! These types and constants *are* the specification: `plugin-protocol.md` describes them,
//! and the tests pin their exact bytes.

use crate::Secret;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Prefix of every helper program: `credsStore: "pass"` runs `docker-credential-pass`.
pub const PROGRAM_PREFIX: &str = "docker-credential-";

/// Username that marks `Secret` as an OAuth2 identity (refresh) token rather than a password.
pub const TOKEN_USERNAME: &str = "<token>";

/// What a helper prints (stdout, exit 1) when it holds nothing for a server URL.
pub const ERR_NOT_FOUND: &str = "credentials not found in native keychain";
/// What a helper prints when `get`, `erase` or `store` receives no server URL.
pub const ERR_MISSING_SERVER_URL: &str = "no credentials server URL";
/// What a helper prints when `store` receives no username.
pub const ERR_MISSING_USERNAME: &str = "no credentials username";

/// The stdin a client sends to `list` and `version`, which ignore it (docker/cli does the same).
pub const UNUSED_STDIN: &[u8] = b"unused";

/// `list` output: server URL → username.
pub type CredentialList = BTreeMap<String, String>;

/// One credential as the protocol carries it: `{"ServerURL":…,"Username":…,"Secret":…}`.
///
/// Serialization writes exactly these three keys in this order. Deserialization accepts any
/// letter case for the keys (as Go's `encoding/json` does), ignores unknown keys and treats a
/// missing key as empty, so that validation can report *which* field is missing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Credentials {
    /// The key the credential is stored under: a host, `host:port`, or a URL.
    #[serde(rename = "ServerURL")]
    pub server_url: String,
    /// The user name, or [`TOKEN_USERNAME`] for an identity token.
    #[serde(rename = "Username")]
    pub username: String,
    /// The password or token.
    #[serde(rename = "Secret")]
    pub secret: Secret<String>,
}

impl Credentials {
    /// Credentials for `server_url`.
    pub fn new(
        server_url: impl Into<String>,
        username: impl Into<String>,
        secret: impl Into<String>,
    ) -> Self {
        Credentials {
            server_url: server_url.into(),
            username: username.into(),
            secret: Secret::from(secret.into()),
        }
    }

    /// True when `Secret` is an identity token (`Username` is `<token>`).
    pub fn is_identity_token(&self) -> bool {
        self.username == TOKEN_USERNAME
    }
}

impl<'de> Deserialize<'de> for Credentials {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CredentialsVisitor;

        impl<'de> Visitor<'de> for CredentialsVisitor {
            type Value = Credentials;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object with ServerURL, Username and Secret")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Credentials, A::Error> {
                let mut creds = Credentials::default();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    // Later keys win, as in Go; a `null` value leaves the field empty.
                    if key.eq_ignore_ascii_case("ServerURL") {
                        creds.server_url = map.next_value::<Option<String>>()?.unwrap_or_default();
                    } else if key.eq_ignore_ascii_case("Username") {
                        creds.username = map.next_value::<Option<String>>()?.unwrap_or_default();
                    } else if key.eq_ignore_ascii_case("Secret") {
                        creds.secret = map
                            .next_value::<Option<Secret<String>>>()?
                            .unwrap_or_default();
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(creds)
            }
        }

        deserializer.deserialize_map(CredentialsVisitor)
    }
}

/// The first argument of a helper: what it is asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Save a [`Credentials`] read from stdin.
    Store,
    /// Print the [`Credentials`] for the server URL on stdin.
    Get,
    /// Delete the credentials for the server URL on stdin.
    Erase,
    /// Print a [`CredentialList`].
    List,
    /// Print the helper's name and version.
    Version,
}

impl Action {
    /// Every action, in the order the usage line names them.
    pub const ALL: [Action; 5] = [
        Action::Store,
        Action::Get,
        Action::Erase,
        Action::List,
        Action::Version,
    ];

    /// The argv word for this action.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Store => "store",
            Action::Get => "get",
            Action::Erase => "erase",
            Action::List => "list",
            Action::Version => "version",
        }
    }

    /// Parses an argv word; `--version`/`-v` are [`Action::Version`]. Help flags are not actions.
    pub fn parse(word: &str) -> Option<Action> {
        Some(match word {
            "store" => Action::Store,
            "get" => Action::Get,
            "erase" => Action::Erase,
            "list" => Action::List,
            "version" | "--version" | "-v" => Action::Version,
            _ => return None,
        })
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// True for the flags that print the usage line and succeed.
pub fn is_help_flag(word: &str) -> bool {
    matches!(word, "--help" | "-h")
}

/// The server URL a Go helper reads from `get`/`erase` stdin: lines joined without their
/// `\n`/`\r\n` separators (so `https://r.\nexample` is `https://r.example`), then
/// surrounding whitespace trimmed.
///
/// Returns `None` when nothing is left (the helper then answers [`ERR_MISSING_SERVER_URL`]).
pub fn parse_server_url(stdin: &str) -> Option<String> {
    let joined: String = stdin
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .collect();
    let trimmed = joined.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

/// A JSON decoding error described without serde_json's data-error message, which can quote a
/// scalar from the input (a secret, for instance). Syntax messages ("trailing comma",
/// "expected value") never quote input, so they are kept.
pub fn describe_json_error(e: &serde_json::Error) -> String {
    let kind = match e.classify() {
        serde_json::error::Category::Io => "read error".to_string(),
        serde_json::error::Category::Syntax => {
            let full = e.to_string();
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            full.strip_suffix(&suffix)
                .unwrap_or("syntax error")
                .to_string()
        }
        serde_json::error::Category::Data => "wrong type or shape".to_string(),
        serde_json::error::Category::Eof => "unexpected end of input".to_string(),
    };
    format!("{kind} at line {} column {}", e.line(), e.column())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_exact_keys_in_order() {
        let c = Credentials::new("https://r.example", "u", "s");
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"ServerURL":"https://r.example","Username":"u","Secret":"s"}"#
        );
    }

    #[test]
    fn deserializes_case_insensitively_and_ignores_unknown_keys() {
        let c: Credentials = serde_json::from_str(
            r#"{"serverurl":"a","USERNAME":"u","secret":"s","Extra":[1,{"x":2}]}"#,
        )
        .unwrap();
        assert_eq!(c.server_url, "a");
        assert_eq!(c.username, "u");
        assert_eq!(c.secret.expose(), "s");
    }

    #[test]
    fn missing_and_null_fields_are_empty() {
        let c: Credentials = serde_json::from_str(r#"{"Username":null}"#).unwrap();
        assert_eq!(c, Credentials::default());
    }

    #[test]
    fn escaped_token_username_is_an_identity_token() {
        let c: Credentials =
            serde_json::from_str(r#"{"Username":"\u003ctoken\u003e","Secret":"T"}"#).unwrap();
        assert!(c.is_identity_token());
    }

    #[test]
    fn server_url_parsing_matches_go() {
        let p = |s: &str| parse_server_url(s);
        assert_eq!(
            p(" https://r.example \r\n").as_deref(),
            Some("https://r.example")
        );
        assert_eq!(
            p("https://r.\nexample").as_deref(),
            Some("https://r.example")
        );
        assert_eq!(p("\n \r\n\t"), None);
        assert_eq!(p(""), None);
    }

    #[test]
    fn actions_round_trip() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
        assert_eq!(Action::parse("-v"), Some(Action::Version));
        assert_eq!(Action::parse("--version"), Some(Action::Version));
        assert_eq!(Action::parse("frob"), None);
        assert!(is_help_flag("-h") && is_help_flag("--help"));
    }
}
