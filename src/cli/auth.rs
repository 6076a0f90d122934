//! `apko auth …`: commands about credentials themselves.

use crate::auth::{conformance, migrate};
use apko_credential::Program;
use clap::{Subcommand, ValueEnum};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub(super) enum AuthCommand {
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

pub(super) fn run(cmd: AuthCommand) -> anyhow::Result<ExitCode> {
    match cmd {
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
