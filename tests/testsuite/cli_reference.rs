//! The CLI reference in `docs/cli.md` and the man pages in `docs/man/` are generated from the
//! clap definitions; this test fails when they drift. `APKO_UPDATE_DOCS=1 cargo test --test
//! cli_reference` rewrites them.

use clap::CommandFactory;
use std::fmt::Write as _;
use std::path::Path;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn arg_line(arg: &clap::Arg) -> String {
    let mut s = String::new();
    if let Some(short) = arg.get_short() {
        write!(s, "-{short}").unwrap();
    }
    if let Some(long) = arg.get_long() {
        if !s.is_empty() {
            s.push_str(", ");
        }
        write!(s, "--{long}").unwrap();
    }
    let takes_value = arg.get_num_args().is_none_or(|n| n.takes_values());
    if takes_value
        && !matches!(
            arg.get_action(),
            clap::ArgAction::SetTrue | clap::ArgAction::Count
        )
    {
        let names = arg
            .get_value_names()
            .map(|v| {
                v.iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_else(|| arg.get_id().to_string().to_uppercase());
        if arg.get_long().is_some() || arg.get_short().is_some() {
            if arg.is_require_equals_set() {
                write!(s, "[=<{names}>]").unwrap();
            } else {
                write!(s, " <{names}>").unwrap();
            }
        } else {
            write!(s, "<{names}>").unwrap();
        }
    }
    s
}

fn help_text(arg: &clap::Arg) -> String {
    let mut help = arg
        .get_long_help()
        .or(arg.get_help())
        .map(|h| h.to_string())
        .unwrap_or_default()
        .replace('\n', " ");
    let defaults: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .filter(|v| !v.is_empty())
        .collect();
    let flag = matches!(
        arg.get_action(),
        clap::ArgAction::SetTrue | clap::ArgAction::Count
    );
    if !defaults.is_empty() && !arg.is_hide_default_value_set() && !flag {
        write!(help, " [default: {}]", defaults.join(",")).unwrap();
    }
    let values: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_string())
        .collect();
    if !values.is_empty() && !matches!(arg.get_action(), clap::ArgAction::SetTrue) {
        write!(help, " [possible values: {}]", values.join(", ")).unwrap();
    }
    help.trim().to_string()
}

fn args_list(out: &mut String, args: Vec<&clap::Arg>) {
    for arg in args {
        writeln!(out, "- `{}`: {}", arg_line(arg), help_text(arg)).unwrap();
    }
}

fn render(cmd: &clap::Command, path: &str, out: &mut String) {
    writeln!(out, "## `{path}`\n").unwrap();
    if let Some(about) = cmd.get_long_about().or(cmd.get_about()) {
        writeln!(out, "{}\n", about.to_string().trim()).unwrap();
    }
    let usage = cmd.clone().render_usage().to_string();
    let usage = usage.trim_start_matches("Usage: ");
    writeln!(out, "```text\n{usage}\n```\n").unwrap();
    let visible: Vec<&clap::Arg> = cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set() && a.get_id() != "help" && a.get_id() != "version")
        .filter(|a| path == "apko" || !a.is_global_set())
        .collect();
    let (positional, options): (Vec<&clap::Arg>, Vec<&clap::Arg>) =
        visible.into_iter().partition(|a| a.is_positional());
    if !positional.is_empty() {
        out.push_str("Arguments:\n\n");
        args_list(out, positional);
        out.push('\n');
    }
    if !options.is_empty() {
        out.push_str(if path == "apko" {
            "Options of every command:\n\n"
        } else {
            "Options:\n\n"
        });
        args_list(out, options);
        out.push('\n');
    }
    if let Some(after) = cmd.get_after_long_help().or(cmd.get_after_help()) {
        writeln!(out, "```text\n{}\n```\n", after.to_string().trim()).unwrap();
    }
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        render(sub, &format!("{path} {}", sub.get_name()), out);
    }
}

fn markdown() -> String {
    let mut cmd = apko::cli::Cli::command();
    cmd.build();
    let mut out = String::from(
        "# CLI reference\n\nGenerated from the command definitions by `tests/testsuite/cli_reference.rs` \
         (`APKO_UPDATE_DOCS=1 cargo test --test testsuite cli_reference::` rewrites it); `apko help COMMAND` \
         prints the same. Man pages: [`docs/man/`](man/).\n\n",
    );
    render(&cmd, "apko", &mut out);
    out.trim_end().to_string() + "\n"
}

/// One man page per visible command: `apko.1`, `apko-build.1`, `apko-auth-get.1`, ….
fn man_pages() -> Vec<(String, Vec<u8>)> {
    fn walk(cmd: &clap::Command, name: &str, out: &mut Vec<(String, Vec<u8>)>) {
        let mut page = Vec::new();
        clap_mangen::Man::new(
            cmd.clone()
                .name(&*Box::leak(name.to_string().into_boxed_str())),
        )
        .date("")
        .render(&mut page)
        .unwrap();
        out.push((format!("{name}.1"), page));
        for sub in cmd.get_subcommands() {
            if sub.is_hide_set() || sub.get_name() == "help" {
                continue;
            }
            walk(sub, &format!("{name}-{}", sub.get_name()), out);
        }
    }
    let mut cmd = apko::cli::Cli::command();
    cmd.build();
    let mut out = Vec::new();
    walk(&cmd, "apko", &mut out);
    out
}

fn check(path: &Path, want: &[u8], stale: &mut Vec<String>) {
    if std::env::var_os("APKO_UPDATE_DOCS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, want).unwrap();
    } else if std::fs::read(path).ok().as_deref() != Some(want) {
        stale.push(path.strip_prefix(ROOT).unwrap().display().to_string());
    }
}

#[test]
fn the_cli_reference_and_man_pages_match_the_commands() {
    let mut stale = Vec::new();
    check(
        &Path::new(ROOT).join("docs/cli.md"),
        markdown().as_bytes(),
        &mut stale,
    );
    let pages = man_pages();
    let dir = Path::new(ROOT).join("docs/man");
    for (name, page) in &pages {
        check(&dir.join(name), page, &mut stale);
    }
    // No page left over from a command that is gone.
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            if !pages.iter().any(|(n, _)| *n == name) {
                if std::env::var_os("APKO_UPDATE_DOCS").is_some() {
                    std::fs::remove_file(dir.join(&name)).unwrap();
                } else {
                    stale.push(format!("docs/man/{name} (no such command)"));
                }
            }
        }
    }
    assert!(
        stale.is_empty(),
        "out of date: {}; run `APKO_UPDATE_DOCS=1 cargo test --test testsuite cli_reference::` and commit the result",
        stale.join(", ")
    );
    let md = markdown();
    for command in [
        "## `apko build`",
        "## `apko publish`",
        "## `apko auth explain`",
        "## `apko install-keys`",
    ] {
        assert!(md.contains(command), "{command} missing");
    }
}
