//! The credential flags every command that reaches a registry or repository shares.

use crate::auth::Resolver;
use crate::auth::config::Locations;
use crate::auth::inline::{self, AUTH_ENV, HTTP_AUTH_ENV, InlineAuth};
use anyhow::Context;
use clap::Args;
use std::path::{Path, PathBuf};

/// `--auth`, `--auth-file`, and the `APKO_AUTH`/`HTTP_AUTH` variables.
#[derive(Debug, Clone, Args)]
pub struct AuthArgs {
    /// Credentials: USER:PASSWORD, TOKEN, or a path to a Docker config/auth.json; prefix with
    /// HOST= for another host, and with basic:, bearer: or file: to be explicit. Without HOST=
    /// it is sent only to the registry of the image named on the command line. Prefer
    /// --auth-file or APKO_AUTH: anything on the command line is visible to other users.
    #[arg(long = "auth", value_name = "[HOST=]VALUE")]
    pub auth: Vec<String>,
    /// A file of --auth values, one per line (`#` comments allowed).
    #[arg(long, value_name = "FILE")]
    pub auth_file: Vec<PathBuf>,
}

impl AuthArgs {
    /// Every inline value: `--auth`, `--auth-file`, `APKO_AUTH`, `HTTP_AUTH`. Prints docker's
    /// warning when a secret was given on the command line.
    pub fn inline(&self) -> anyhow::Result<Vec<InlineAuth>> {
        let mut out = Vec::new();
        for (n, value) in self.auth.iter().enumerate() {
            let a =
                inline::parse(value, &format!("--auth #{}", n + 1)).map_err(anyhow::Error::msg)?;
            if a.secret_on_argv() {
                eprintln!(
                    "WARNING! Using --auth with a secret on the command line is insecure. Use --auth-file or {AUTH_ENV}."
                );
            }
            out.push(a);
        }
        for file in &self.auth_file {
            let text = crate::files::read_regular_text(file, crate::files::MAX_LIST)
                .with_context(|| format!("cannot read --auth-file {}", file.display()))?;
            out.extend(
                inline::parse_lines(&text, &format!("--auth-file {}", file.display()))
                    .map_err(anyhow::Error::msg)?,
            );
        }
        if let Ok(text) = std::env::var(AUTH_ENV) {
            out.extend(inline::parse_lines(&text, AUTH_ENV).map_err(anyhow::Error::msg)?);
        }
        if let Ok(text) = std::env::var(HTTP_AUTH_ENV)
            && !text.trim().is_empty()
        {
            out.extend(inline::parse_http_auth(&text).map_err(anyhow::Error::msg)?);
        }
        Ok(out)
    }

    /// A resolver over the discovered config files and these values; `primary` are the
    /// registries unscoped values are for.
    pub fn resolver(
        &self,
        config_dir: Option<&Path>,
        primary: Vec<String>,
    ) -> anyhow::Result<Resolver> {
        let locations = locations(config_dir);
        let inline = self.inline()?;
        if primary.is_empty() {
            for a in inline.iter().filter(|a| a.scope.is_none()) {
                tracing::warn!(
                    "{}: a value without HOST= is for the registry of the image named on the command line, and this command names none, so it is not used; write HOST=VALUE for the host it is for",
                    a.origin
                );
            }
        }
        Ok(Resolver::new(Some(locations), inline, primary)?)
    }
}

/// Config file locations from `--config` and the environment.
pub fn locations(config_dir: Option<&Path>) -> Locations {
    Locations::discover(config_dir, &|k| std::env::var_os(k))
}
