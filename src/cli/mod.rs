//! Command-line interface: flag names follow real apko, docker and crane, so scripts carry
//! over.

mod auth;
mod auth_args;
mod build;
mod clean;
mod install_keys;
mod lock;
mod login;
mod minirootfs;
mod publish;
mod push;
mod registry_args;
mod show_packages;
mod source_args;

use clap::{CommandFactory, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Build OCI images from APK packages, with credentials from Docker credential helpers.
#[derive(Debug, Parser)]
#[command(name = "apko", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Log level: trace, debug, info, warn, error (fatal and panic, apko's, show errors only).
    /// Secrets are never logged, at any level.
    #[arg(long, global = true, default_value = "info", value_parser = parse_level)]
    log_level: LevelFilter,

    /// Location of the Docker client config directory (as docker's --config); overrides
    /// DOCKER_CONFIG and ~/.docker.
    #[arg(long, global = true, value_name = "DIR")]
    config: Option<PathBuf>,

    /// Change to this directory before doing anything (as apko's -C).
    #[arg(short = 'C', long, global = true, value_name = "DIR")]
    workdir: Option<PathBuf>,

    #[command(flatten)]
    net: registry_args::NetArgs,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build an image from an apko configuration: OCI layout (existing directory) or docker
    /// tarball.
    Build(Box<build::BuildArgs>),
    /// Show the packages and versions a build of the configuration would install, per
    /// architecture (resolved from the signed indexes; nothing is downloaded).
    ShowPackages(Box<show_packages::ShowPackagesArgs>),
    /// Resolve the configuration's packages for every architecture and write an apko
    /// lockfile (for `build --lockfile`).
    Lock(Box<lock::LockArgs>),
    /// Deprecated name of `lock` (writes CONFIG.resolved.json), as in apko.
    #[command(hide = true)]
    Resolve(Box<lock::LockArgs>),
    /// Build one architecture's root filesystem as a .tar.gz (the image's layer), for
    /// chroots, WSL or `docker import`.
    BuildMinirootfs(Box<minirootfs::MinirootfsArgs>),
    /// Build one architecture's root filesystem as a newc cpio archive (an initramfs;
    /// gzipped when OUTPUT ends in .gz), as apko's hidden command.
    #[command(hide = true)]
    BuildCpio(Box<minirootfs::MinirootfsArgs>),
    /// Empty the download cache (packages, indexes and keys kept between builds).
    Clean(clean::CleanArgs),
    /// Discover and install keys for all repositories (of /etc/apk/repositories, into
    /// /etc/apk/keys), from those that publish them.
    InstallKeys(install_keys::InstallKeysArgs),
    /// Print the configuration as apko reads it (includes merged, credentials redacted).
    ShowConfig {
        /// The apko configuration (YAML).
        #[arg(value_name = "CONFIG")]
        config_file: PathBuf,
        /// Accepted as apko accepts them (`-k`, `-r`, `-b`, `--offline`, `--cache-dir`); as in
        /// apko, the configuration is printed without them.
        #[command(flatten)]
        source: source_args::SourceArgs,
    },
    /// Log in to a registry (stores through the configured credential helper).
    Login(login::LoginArgs),
    /// Log out from a registry (erases from the helper and the config file).
    Logout(login::LogoutArgs),
    /// Build an image and push it to one or more tags.
    Publish(Box<publish::PublishArgs>),
    /// Push an OCI image layout (as `apko build` writes) to one or more tags.
    Push(push::PushArgs),
    /// Pull an image from a registry into an OCI image layout.
    Pull(push::PullArgs),
    /// Inspect, test and move credentials kept by credential helpers.
    #[command(subcommand)]
    Auth(auth::AuthCommand),
    /// Print a shell completion script.
    #[command(after_help = "Example:\n  apko completion bash > /etc/bash_completion.d/apko")]
    Completion {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the version.
    Version {
        /// As JSON, with apko's fields.
        #[arg(long)]
        json: bool,
    },
}

fn parse_level(text: &str) -> Result<LevelFilter, String> {
    match text.to_ascii_lowercase().as_str() {
        // apko's (logrus's) two levels above error: only errors are shown.
        "fatal" | "panic" => Ok(LevelFilter::ERROR),
        other => other.parse().map_err(|_| {
            format!(
                "unknown log level {text:?}; use trace, debug, info, warn, error, fatal or panic"
            )
        }),
    }
}

/// The async runtime a command runs its network and build work on, one worker per core.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(crate::image::layer::threads())
        .build()
        .context("cannot start the async runtime")
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // Our own events at the chosen level; dependencies' (HTTP internals) at warn at most.
    let targets = tracing_subscriber::filter::Targets::new()
        .with_default(cli.log_level.min(LevelFilter::WARN))
        .with_target("apko", cli.log_level);
    tracing_subscriber::fmt()
        .with_writer(crate::redact::MaskedStderr::default)
        .with_max_level(cli.log_level)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .finish()
        .with(targets)
        .init();
    if let Some(dir) = &cli.workdir
        && let Err(e) = std::env::set_current_dir(dir)
    {
        eprintln!("Error: cannot change to {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    crate::net::set_policy(cli.net.policy());
    let config = cli.config.as_deref();
    let result = match cli.command {
        Command::Build(args) => build::run(*args, config),
        Command::BuildMinirootfs(args) => minirootfs::run(*args, config, minirootfs::Format::TarGz),
        Command::BuildCpio(args) => minirootfs::run(*args, config, minirootfs::Format::Cpio),
        Command::Clean(args) => clean::run(args),
        Command::InstallKeys(args) => install_keys::run(args, config),
        Command::ShowPackages(args) => show_packages::run(*args, config),
        Command::Lock(args) => lock::run(*args, "lock.json", config),
        Command::Resolve(args) => {
            tracing::warn!(
                "Please use `lock` command. The `resolve` command will get removed in the future versions."
            );
            lock::run(*args, "resolved.json", config)
        }
        Command::ShowConfig {
            config_file,
            source,
        } => build::show_config(&config_file, &source),
        Command::Login(args) => login::login(args, config),
        Command::Logout(args) => login::logout(args, config),
        Command::Publish(args) => publish::run(*args, config),
        Command::Push(args) => push::push(args, config),
        Command::Pull(args) => push::pull(args, config),
        Command::Auth(cmd) => auth::run(cmd, config),
        Command::Completion { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "apko", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Version { json: false } => {
            println!("apko {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        Command::Version { json: true } => {
            // apko's (sigs.k8s.io/release-utils) fields, two-space indented as it prints them.
            let field =
                |k: &str, v: &str| format!("  {}: {}", serde_json::json!(k), serde_json::json!(v));
            let platform = format!(
                "{}/{}",
                std::env::consts::OS,
                crate::image::config::Arch::host().oci_platform().0
            );
            let fields = [
                field("gitVersion", concat!("v", env!("CARGO_PKG_VERSION"))),
                field("gitCommit", "unknown"),
                field("gitTreeState", "unknown"),
                field("buildDate", "unknown"),
                field("compiler", "rustc"),
                field("platform", &platform),
            ];
            println!("{{\n{}\n}}", fields.join(",\n"));
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {}", crate::redact::mask(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}
