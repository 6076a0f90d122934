//! The `apko` command.

fn main() -> std::process::ExitCode {
    apko::cli::main()
}
