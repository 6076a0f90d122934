//! `--vcs` (on by default, as in apko): when the config sets no `vcs-url`, the git repository
//! holding the config file gives one, `ORIGIN-URL@HEAD-COMMIT`, which becomes the
//! `org.opencontainers.image.source` and `.revision` annotations. As apko's `ProbeDirFromPath`:
//! the search goes from the config's directory up to the working directory and no further;
//! credentials in the remote URL are dropped; scp-style remotes (`git@host:org/repo`) become
//! `git+ssh://host/org/repo`; no `origin` remote or no commit means no URL. Reads git's files
//! directly (`.git` directories and worktree `.git` files, loose and packed refs).

use std::path::{Path, PathBuf};

/// The VCS URL for the config at `config`, if it lives in a git repository with an origin.
pub fn probe(config: &Path) -> Option<String> {
    let top = std::env::current_dir().ok()?;
    let start = std::path::absolute(config).ok()?;
    let mut dir = if start.is_dir() {
        start
    } else {
        start.parent()?.to_path_buf()
    };
    loop {
        if !dir.starts_with(&top) {
            return None;
        }
        if let Some(url) = open(&dir) {
            return url;
        }
        if dir == top || !dir.pop() {
            return None;
        }
    }
}

/// `Some(url or None)` when `dir` is a repository's work tree.
fn open(dir: &Path) -> Option<Option<String>> {
    let dot_git = dir.join(".git");
    let git_dir = if dot_git.is_dir() {
        dot_git
    } else {
        let text = std::fs::read_to_string(&dot_git).ok()?;
        let target = PathBuf::from(text.strip_prefix("gitdir:")?.trim());
        if target.is_absolute() {
            target
        } else {
            dir.join(target)
        }
    };
    let common = match std::fs::read_to_string(git_dir.join("commondir")) {
        Ok(c) => git_dir.join(c.trim()),
        Err(_) => git_dir.clone(),
    };
    Some((|| {
        let url = origin_url(&std::fs::read_to_string(common.join("config")).ok()?)?;
        let head = resolve(&git_dir, &common, "HEAD", 0)?;
        Some(format!("{}@{head}", normalize(&url)))
    })())
}

/// `url` of `[remote "origin"]` in a git config file.
fn origin_url(config: &str) -> Option<String> {
    let mut in_origin = false;
    for line in config.lines().map(str::trim) {
        if line.starts_with('[') {
            in_origin = line.replace(char::is_whitespace, "") == "[remote\"origin\"]";
        } else if in_origin
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == "url"
        {
            return Some(v.trim().trim_matches('"').to_string());
        }
    }
    None
}

/// A ref (or `HEAD`) to its commit: symbolic refs followed, loose refs, then packed-refs.
fn resolve(git_dir: &Path, common: &Path, name: &str, depth: u8) -> Option<String> {
    if depth > 5 {
        return None;
    }
    let loose = if name == "HEAD" { git_dir } else { common }.join(name);
    if let Ok(text) = std::fs::read_to_string(loose) {
        let text = text.trim();
        return match text.strip_prefix("ref:") {
            Some(target) => resolve(git_dir, common, target.trim(), depth + 1),
            None => is_hash(text).then(|| text.to_string()),
        };
    }
    let packed = std::fs::read_to_string(common.join("packed-refs")).ok()?;
    packed.lines().find_map(|l| {
        let (hash, r) = l.split_once(' ')?;
        (r == name && is_hash(hash)).then(|| hash.to_string())
    })
}

fn is_hash(s: &str) -> bool {
    matches!(s.len(), 40 | 64) && s.bytes().all(|c| c.is_ascii_hexdigit())
}

/// apko's `getRemoteURL` normalization: no user info; scp-style → `git+ssh://`.
fn normalize(url: &str) -> String {
    let url = match url.split_once("://") {
        Some(_) => url.to_string(),
        None if scp_style(url) => format!("git+ssh://{}", url.replacen(':', "/", 1)),
        None => return url.to_string(),
    };
    let (scheme, rest) = url.split_once("://").expect("has a scheme");
    let end = rest.find('/').unwrap_or(rest.len());
    let host = rest[..end].rsplit('@').next().unwrap_or_default();
    format!("{scheme}://{host}{}", &rest[end..])
}

/// `user@host:path` or `host:path` — a colon before any slash, which URL parsing refuses.
fn scp_style(url: &str) -> bool {
    match (url.find(':'), url.find('/')) {
        (Some(c), Some(s)) => c < s,
        (Some(_), None) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_as_apko_normalizes_them() {
        assert_eq!(
            normalize("git@github.com:org/repo.git"),
            "git+ssh://github.com/org/repo.git"
        );
        assert_eq!(
            normalize("https://user:tok@example.com/org/repo"),
            "https://example.com/org/repo"
        );
        assert_eq!(normalize("/srv/git/repo.git"), "/srv/git/repo.git");
        assert_eq!(
            origin_url(
                "[core]\n\tbare = false\n[remote \"origin\"]\n\turl = https://g/x\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n"
            ),
            Some("https://g/x".into())
        );
        assert_eq!(
            origin_url("[remote \"upstream\"]\n\turl = https://g/x\n"),
            None
        );
    }
}
