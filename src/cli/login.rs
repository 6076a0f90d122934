//! `apko login` and `apko logout`, with docker's flags and texts.

use super::auth_args::locations;
use super::registry_args::RegistryArgs;
use crate::auth::Target;
use crate::auth::login as store;
use crate::redact::mask;
use crate::registry::login;
use anyhow::{Context, bail};
use apko_credential::Secret;
use clap::Args;
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  echo \"$TOKEN\" | apko login registry.example.com -u ci --password-stdin\n  apko login -u alice --password-stdin < pw.txt      # Docker Hub\n\nThe credentials are checked against the registry first (/v2/ with Basic, or its token\nendpoint, whose refresh token is then stored instead of the password); nothing is stored\nwhen the registry refuses them. --no-verify skips the check.\n\nWith \"credsStore\" or \"credHelpers\" in the Docker config the secret goes to that helper and\nthe file only gets an \"auths\": {\"SERVER\": {}} marker; otherwise it is written to the file\n(unencrypted, with a warning)."
)]
pub(super) struct LoginArgs {
    /// The registry (default: Docker Hub).
    server: Option<String>,
    /// Username.
    #[arg(short, long)]
    username: Option<String>,
    /// Password (insecure: visible to other users; use --password-stdin).
    #[arg(short, long, conflicts_with = "password_stdin")]
    password: Option<String>,
    /// Read the password from stdin.
    #[arg(long)]
    password_stdin: bool,
    /// Store without checking against the registry first (e.g. for an APK repository host,
    /// which has no registry API).
    #[arg(long)]
    no_verify: bool,
    #[command(flatten)]
    registry: RegistryArgs,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  apko logout registry.example.com\n  apko logout            # Docker Hub"
)]
pub(super) struct LogoutArgs {
    /// The registry (default: Docker Hub).
    server: Option<String>,
}

pub(super) fn login(args: LoginArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let Some(username) = args.username.filter(|u| !u.is_empty()) else {
        bail!("a username is required: apko login [SERVER] -u USER --password-stdin");
    };
    let password = match (args.password, args.password_stdin) {
        (Some(p), _) => {
            eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
            Secret::from(p)
        }
        (None, true) => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read the password from stdin")?;
            // Exactly one trailing line ending goes, as with docker.
            let trimmed = text
                .strip_suffix("\r\n")
                .or_else(|| text.strip_suffix('\n'))
                .or_else(|| text.strip_suffix('\r'))
                .unwrap_or(&text)
                .to_string();
            Secret::from(trimmed)
        }
        (None, false) => bail!("a password is required: pass it on stdin with --password-stdin"),
    };
    if password.expose().is_empty() {
        bail!("the password is empty");
    }
    crate::redact::remember(Some(&username), password.expose());
    let server = args.server.as_deref();
    let locations = locations(config);
    if args.no_verify {
        let stored = store::login(&locations, server, &username, &password)?;
        for w in &stored.warnings {
            eprintln!("{}", mask(w));
        }
        match &stored.helper {
            Some(helper) => println!(
                "Credentials for {} stored in {helper} (not verified against the registry).",
                stored.key
            ),
            None => println!(
                "Credentials for {} stored (not verified against the registry).",
                stored.key
            ),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let host = Target::registry_host(&store::server_key(server)).host;
    let verified = login::verify_blocking(&host, &username, &password, args.registry.options())?;
    let stored = match &verified.identity_token {
        Some(token) => store::login_identity_token(&locations, server, &username, token)?,
        None => store::login(&locations, server, &username, &password)?,
    };
    for w in &stored.warnings {
        eprintln!("{}", mask(w));
    }
    if let Some(helper) = &stored.helper {
        tracing::debug!("credentials for {} stored in {helper}", stored.key);
    }
    println!("Login Succeeded");
    Ok(ExitCode::SUCCESS)
}

pub(super) fn logout(args: LogoutArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let server = args.server.as_deref();
    let key = store::server_key(server);
    let removed = store::logout(&locations(config), server)?;
    for w in &removed.warnings {
        eprintln!("WARNING: could not erase credentials: {}", mask(w));
    }
    if removed.removed.is_empty() {
        eprintln!("WARNING: not logged in to {key}; nothing was removed.");
    } else {
        println!("Removing login credentials for {key}");
        for r in &removed.removed {
            tracing::debug!("removed {r}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
