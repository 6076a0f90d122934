//! `apko show-packages CONFIG`: the packages and versions a build would install, per
//! architecture, resolved from the signed indexes without downloading a package.

use super::auth_args::AuthArgs;
use super::source_args::SourceArgs;
use crate::apk;
use crate::image::build::base_layout;
use crate::image::config::{ImageConfig, arch};
use crate::image::lock;
use anyhow::{Context, anyhow, bail};
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// apko's named formats.
const FORMATS: [(&str, &str); 8] = [
    ("name-version", "{{ .Name }} {{ .Version }}"),
    (
        "name-version-source",
        "{{ .Name }} {{ .Version }} {{ .Source }}",
    ),
    ("name=version", "{{ .Name }}={{ .Version }}"),
    (
        "name=version-source",
        "{{ .Name }}={{ .Version }} {{ .Source }}",
    ),
    ("name-(version)", "{{ .Name }} ({{ .Version }})"),
    (
        "name-(version)-source",
        "{{ .Name }} ({{ .Version }}) {{ .Source }}",
    ),
    ("packagelock", "- {{ .Name }}={{ .Version }}"),
    (
        "packagelock-source",
        "- {{ .Name }}={{ .Version }} # {{ .Source }}",
    ),
];

/// Flags of `apko show-packages` (apko's, plus credentials).
#[derive(Debug, Args)]
#[command(
    after_help = "FORMAT: name-version (the default), name-version-source, name=version, \
name=version-source, name-(version), name-(version)-source, packagelock (`- name=version`, for a \
YAML package list), packagelock-source; or a template over {{ .Name }}, {{ .Version }} and \
{{ .Source }}.\n\nExample:\n  apko show-packages apko.yaml --format packagelock"
)]
pub struct ShowPackagesArgs {
    /// The apko configuration (YAML).
    #[arg(value_name = "CONFIG")]
    config_file: PathBuf,
    /// A named format or a template (see below).
    #[arg(long, default_value = "name-version")]
    format: String,
    /// Architectures (comma list; apk or OCI names; `host`, `all`). Default: the config's
    /// `archs`, else all.
    #[arg(long, value_delimiter = ',')]
    arch: Vec<String>,
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    auth: AuthArgs,
    #[command(flatten)]
    registry: super::registry_args::RegistryArgs,
}

/// One piece of a parsed format.
#[derive(Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Name,
    Version,
    Source,
}

/// Parses a named format or a template whose actions are `{{ .Name }}`, `{{ .Version }}`
/// and `{{ .Source }}` (the fields apko offers); any other action is an error.
fn parse_format(format: &str) -> anyhow::Result<Vec<Piece>> {
    let template = FORMATS
        .iter()
        .find(|(name, _)| *name == format)
        .map_or(format, |(_, t)| *t);
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            pieces.push(Piece::Text(rest[..open].to_string()));
        }
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .ok_or_else(|| anyhow!("--format {format:?}: a `{{{{` without its `}}}}`"))?;
        pieces.push(match after[..close].trim() {
            ".Name" => Piece::Name,
            ".Version" => Piece::Version,
            ".Source" => Piece::Source,
            other => bail!(
                "--format {format:?}: unsupported action {{{{{other}}}}}; use {{{{ .Name }}}}, {{{{ .Version }}}} or {{{{ .Source }}}}, or a named format (see --help)"
            ),
        });
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_string()));
    }
    Ok(pieces)
}

fn render(pieces: &[Piece], p: &apk::session::Resolved) -> String {
    pieces
        .iter()
        .map(|piece| match piece {
            Piece::Text(t) => t.as_str(),
            Piece::Name => p.name.as_str(),
            Piece::Version => p.version.as_str(),
            Piece::Source => p.url.as_str(),
        })
        .collect()
}

/// Runs `apko show-packages`.
pub fn run(args: ShowPackagesArgs, config_dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    let pieces = parse_format(&args.format)?;
    let mut ic = ImageConfig::load(&args.config_file, &[])?;
    args.source.apply(&mut ic);
    let archs = arch::select(&args.arch, &ic.archs);
    let opts = lock::Options {
        archs: archs.clone(),
        ignore_signatures: false,
        offline: args.source.offline,
        cache_dir: args.source.cache_dir(),
        resolver: Arc::new(args.auth.resolver(config_dir, Vec::new())?),
        registry: args.registry.options(),
    };
    let runtime = super::runtime()?;
    let lines = runtime.block_on(async {
        let base = base_layout(
            &ic,
            &archs,
            &opts.resolver,
            &opts.registry,
            opts.offline,
            opts.cache_dir.as_deref(),
        )
        .await?;
        let mut lines = String::new();
        for arch in &archs {
            let tree = lock::base_tree(base.as_ref().map(|b| b.path.as_path()), arch)?;
            let req = lock::install_request(&ic, &opts, arch);
            let resolved = apk::session::resolve_only(&req, &tree)
                .await
                .with_context(|| format!("resolving {arch}"))?;
            for p in &resolved {
                lines.push_str(&render(&pieces, p));
                lines.push('\n');
            }
        }
        anyhow::Ok(lines)
    })?;
    std::io::stdout()
        .write_all(lines.as_bytes())
        .context("writing to stdout")?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_templates() {
        let p = apk::session::Resolved {
            name: "hello".into(),
            version: "2.12-r0".into(),
            url: "./repo/x86_64/hello-2.12-r0.apk".into(),
        };
        let show = |f: &str| render(&parse_format(f).unwrap(), &p);
        assert_eq!(show("name-version"), "hello 2.12-r0");
        assert_eq!(
            show("packagelock-source"),
            "- hello=2.12-r0 # ./repo/x86_64/hello-2.12-r0.apk"
        );
        assert_eq!(show("{{.Name}}@{{ .Version }}!"), "hello@2.12-r0!");
        assert_eq!(
            parse_format("{{ .Size }}").unwrap_err().to_string(),
            "--format \"{{ .Size }}\": unsupported action {{.Size}}; use {{ .Name }}, {{ .Version }} or {{ .Source }}, or a named format (see --help)"
        );
        assert_eq!(
            parse_format("{{ .Name").unwrap_err().to_string(),
            "--format \"{{ .Name\": a `{{` without its `}}`"
        );
    }
}
