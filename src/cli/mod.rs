//! Command-line interface.

use clap::Parser;
use std::process::ExitCode;

/// Build OCI images from APK packages, with credentials from Docker credential helpers.
#[derive(Debug, Parser)]
#[command(name = "apko", version, about, long_about = None)]
pub struct Cli {}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let _cli = Cli::parse();
    ExitCode::SUCCESS
}
