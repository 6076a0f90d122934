//! A credential as the registry and repository clients use it.

use apko_credential::{Credentials, Secret};

/// What to authenticate with. `Debug` never shows a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// HTTP Basic, or the username/password grant at a token endpoint.
    Basic {
        /// The user.
        username: String,
        /// The password.
        password: Secret<String>,
    },
    /// An OAuth2 refresh token (a helper's `<token>`, `identitytoken`): exchanged at the
    /// registry's token endpoint, never sent as Basic.
    IdentityToken(Secret<String>),
    /// A bearer token sent as is (`registrytoken`, `--auth bearer:…`).
    Bearer(Secret<String>),
}

impl Credential {
    /// A description safe to print: the username and the secret's kind and length.
    pub fn describe(&self) -> String {
        match self {
            Credential::Basic { username, password } => format!(
                "username {username:?} with a password ({} bytes)",
                password.expose().len()
            ),
            Credential::IdentityToken(t) => {
                format!("an identity token ({} bytes)", t.expose().len())
            }
            Credential::Bearer(t) => format!("a bearer token ({} bytes)", t.expose().len()),
        }
    }

    /// The username, when there is one.
    pub fn username(&self) -> Option<&str> {
        match self {
            Credential::Basic { username, .. } => Some(username),
            _ => None,
        }
    }

    /// The helper-protocol form, as `apko auth get` prints it; `None` for a bearer token,
    /// which the protocol cannot carry.
    pub fn to_wire(&self, server_url: &str) -> Option<Credentials> {
        match self {
            Credential::Basic { username, password } => Some(Credentials {
                server_url: server_url.to_string(),
                username: username.clone(),
                secret: password.clone(),
            }),
            Credential::IdentityToken(t) => Some(Credentials {
                server_url: server_url.to_string(),
                username: apko_credential::wire::TOKEN_USERNAME.to_string(),
                secret: t.clone(),
            }),
            Credential::Bearer(_) => None,
        }
    }
}

impl From<Credentials> for Credential {
    fn from(c: Credentials) -> Self {
        if c.is_identity_token() {
            Credential::IdentityToken(c.secret)
        } else {
            Credential::Basic {
                username: c.username,
                password: c.secret,
            }
        }
    }
}
