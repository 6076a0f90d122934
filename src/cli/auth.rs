//! `apko auth …`: commands about credentials themselves.

use super::auth_args::AuthArgs;
use crate::auth::resolver::{Outcome, Target};
use crate::auth::{conformance, migrate};
use crate::registry::reference::Reference;
use apko_credential::Program;
use apko_credential::wire::{ERR_NOT_FOUND, parse_server_url};
use clap::{Subcommand, ValueEnum};
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

/// Set in the environment of helpers that `apko auth get` runs, so that apko configured as a
/// helper of itself answers not-found instead of recursing.
const AUTH_GET_ACTIVE: &str = "APKO_AUTH_GET_ACTIVE";

#[derive(Debug, Subcommand)]
pub(super) enum AuthCommand {
    /// Print the credentials for a registry as a credential helper's `get` would.
    ///
    /// Resolves through every source (helpers, config files, --auth) and prints
    /// {"ServerURL":…,"Username":…,"Secret":…}, or `credentials not found in native keychain`
    /// with exit 1, so apko can serve as a credential helper for other tools. The server is
    /// read from stdin when not given.
    #[command(
        after_help = "Examples:\n  apko auth get registry.example.com\n  echo registry.example.com | apko auth get\n\nAs a helper for other tools: a script docker-credential-apko-resolve containing\n  #!/bin/sh\n  [ \"$1\" = get ] && exec apko auth get\n  echo 'only get is supported'; exit 1"
    )]
    Get {
        /// The registry host (stdin when absent).
        server: Option<String>,
        #[command(flatten)]
        auth: AuthArgs,
    },
    /// Show every credential source consulted for an image reference or host, in order.
    ///
    /// Lists the config files looked at, then each source (helpers, auths entries, --auth
    /// values) with its answer: found (username, secret length), no credentials, or the
    /// failure. Secrets are never shown.
    #[command(
        after_help = "Examples:\n  apko auth explain registry.example.com/team/app:1.0\n  apko auth explain cgr.dev/chainguard/static --auth cgr.dev=bearer:$TOKEN\n  apko auth explain https://packages.example.com/os   # an APK repository"
    )]
    Explain {
        /// An image reference, a registry host, or an APK repository URL (http/https).
        reference: String,
        #[command(flatten)]
        auth: AuthArgs,
    },
    /// Run the credential-helper conformance checklist against an installed helper.
    ///
    /// Stores, reads and erases entries under a scratch host
    /// (apko-test-helper-<pid>-<nonce>.invalid) and removes them afterwards. Existing entries
    /// are only read (to check that `list` and `get` agree) and never printed. Exits 1 when an
    /// item fails.
    #[command(
        after_help = "Examples:\n  apko auth test-helper apko\n  apko auth test-helper pass --format json\n  apko auth test-helper ./bin/docker-credential-mine"
    )]
    TestHelper {
        /// The helper: `pass` runs docker-credential-pass from PATH; a path runs that file.
        name: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Copy every entry from one credential helper to another.
    ///
    /// Lists the source, reads each entry and stores it in the destination. Entries the
    /// destination already holds with different credentials are kept unless --overwrite is
    /// given. Prints server URLs and usernames, never secrets.
    #[command(
        after_help = "Examples:\n  apko auth migrate --from secretservice --to apko\n  apko auth migrate --from pass --to apko --dry-run"
    )]
    Migrate {
        /// The helper to copy from.
        #[arg(long)]
        from: String,
        /// The helper to copy to.
        #[arg(long)]
        to: String,
        /// Replace entries the destination already has with different credentials.
        #[arg(long)]
        overwrite: bool,
        /// Show what would be copied; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum Format {
    Table,
    Json,
}

pub(super) fn run(cmd: AuthCommand, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    match cmd {
        AuthCommand::Get { server, auth } => get(server, &auth, config),
        AuthCommand::Explain { reference, auth } => explain(&reference, &auth, config),
        AuthCommand::TestHelper { name, format } => {
            let report = conformance::run(&name);
            match format {
                Format::Table => print!("{}", report.render()),
                Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
            }
            Ok(if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        AuthCommand::Migrate {
            from,
            to,
            overwrite,
            dry_run,
        } => {
            if from == to {
                anyhow::bail!("--from and --to both name {from:?}; name two different helpers");
            }
            let migration =
                migrate::migrate(&Program::new(&from), &Program::new(&to), overwrite, dry_run)
                    .map_err(|e| anyhow::anyhow!("cannot list the entries to copy: {e}"))?;
            print!("{migration}");
            Ok(if migration.succeeded() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

fn get(server: Option<String>, auth: &AuthArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let server = match server {
        Some(s) => s,
        None => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text)?;
            match parse_server_url(&text) {
                Some(s) => s,
                None => {
                    println!("{}", apko_credential::wire::ERR_MISSING_SERVER_URL);
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
    };
    if std::env::var_os(AUTH_GET_ACTIVE).is_some() {
        // apko asked itself: answer as a helper with nothing would.
        println!("{ERR_NOT_FOUND}");
        return Ok(ExitCode::FAILURE);
    }
    let target = Target::registry_host(&server);
    let resolver = auth
        .resolver(config, vec![target.host.clone()])?
        .with_helper_env(AUTH_GET_ACTIVE, "1");
    match resolver.resolve(&target) {
        Ok(resolved) => match resolved.credential {
            None => {
                println!("{ERR_NOT_FOUND}");
                Ok(ExitCode::FAILURE)
            }
            Some(c) => match c.to_wire(&server) {
                Some(wire) => {
                    println!("{}", serde_json::to_string(&wire)?);
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    println!(
                        "the credentials for {server} are a bearer token, which the credential-helper protocol cannot carry"
                    );
                    Ok(ExitCode::FAILURE)
                }
            },
        },
        Err(e) => {
            // Helpers report errors on stdout; the details go to stderr.
            println!("cannot resolve credentials for {server}");
            eprintln!("{}", crate::redact::mask(&e.to_string()));
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Whether `explain`'s argument names a registry rather than an image: a name without `/` that
/// docker would read as a registry (`r.example`, `r.example:5000`, `localhost:5000`, `[::1]`).
/// `alpine` and `alpine:3` are Docker Hub images, as `docker pull` reads them.
fn names_a_host(reference: &str) -> bool {
    if reference.contains('/') || reference.contains('@') {
        return false;
    }
    let host = match reference.rsplit_once(':') {
        Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
        Some(_) if !reference.starts_with('[') => return false, // `name:tag`
        _ => reference,
    };
    host.contains('.') || host == "localhost" || host.starts_with('[')
}

fn explain(reference: &str, auth: &AuthArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let (target, what) = if reference.starts_with("http://") || reference.starts_with("https://") {
        (Target::apk_repository(reference), "APK repository")
    } else if names_a_host(reference) {
        (Target::registry_host(reference), "registry")
    } else {
        let r = Reference::parse(reference)?;
        (Target::registry(&r), "registry")
    };
    let resolver = auth.resolver(config, vec![target.host.clone()])?;
    let mut out = format!(
        "Credentials for {} ({what}{})\n\nConfig files, in lookup order:\n",
        target.host,
        target
            .repository
            .as_deref()
            .map(|r| format!(", repository {r}"))
            .unwrap_or_default()
    );
    if let Some(loc) = resolver.locations() {
        if loc.env_config.is_some() {
            out.push_str(&format!(
                "  {} (environment, asked first): read\n",
                crate::auth::config::ENV_AUTH_CONFIG
            ));
        }
        for (path, kind) in &loc.files {
            let state = if resolver.files().iter().any(|f| &f.path == path) {
                "read"
            } else {
                "not present"
            };
            let why = match kind {
                crate::auth::config::FileKind::Docker => loc.docker_dir_origin,
                crate::auth::config::FileKind::RegistryAuthFile => "REGISTRY_AUTH_FILE",
                crate::auth::config::FileKind::PodmanRuntime => "podman, runtime",
                crate::auth::config::FileKind::PodmanConfig => "podman, config",
                crate::auth::config::FileKind::AuthFlag => "--auth",
                crate::auth::config::FileKind::EnvAuthConfig => "environment",
            };
            out.push_str(&format!("  {} ({why}): {state}\n", path.display()));
        }
    }
    out.push_str("\nSources, in order:\n");
    let steps = resolver.explain(&target);
    let used = steps
        .iter()
        .position(|s| matches!(s.outcome, Outcome::Found(_)));
    for (n, step) in steps.iter().enumerate() {
        out.push_str(&format!(
            "  {}. {}: {}{}\n",
            n + 1,
            step.source,
            step.outcome,
            if Some(n) == used { "  <- used" } else { "" }
        ));
    }
    let failed = steps
        .iter()
        .any(|s| matches!(s.outcome, Outcome::Failed(_)));
    out.push_str(&format!(
        "  {}. anonymous{}\n",
        steps.len() + 1,
        if used.is_none() && !failed {
            "  <- used"
        } else {
            ""
        }
    ));
    out.push_str(&match (used, failed) {
        (Some(n), _) => match &steps[n].outcome {
            Outcome::Found(c) => format!("\nResult: {} from {}\n", c.describe(), steps[n].source),
            _ => unreachable!(),
        },
        (None, true) => {
            "\nResult: error: a source failed and no other source has credentials\n".into()
        }
        (None, false) => "\nResult: anonymous (no source has credentials)\n".into(),
    });
    print!("{out}");
    Ok(if used.is_none() && failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
