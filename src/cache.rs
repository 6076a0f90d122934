//! The download cache of APK downloads and pulled base-image blobs: where it is by default,
//! and what `apko clean` may remove from it. Packages are kept by checksum and verified on
//! every reuse; indexes and keys are kept by URL for `--offline` and downloaded again otherwise.

use std::path::{Path, PathBuf};

/// The cache's own entries. `clean` removes these and nothing else, so a `--cache-dir`
/// pointed at the wrong directory cannot take other files with it.
pub const ENTRIES: [&str; 4] = ["blobs", "indexes", "keys", "packages"];

/// The default cache, as apko keeps one by default: `$XDG_CACHE_HOME/apko-rs`, else
/// `~/.cache/apko-rs`. The layout is not go-apk's, so it does not share apko's directory.
pub fn default_dir() -> Option<PathBuf> {
    let nonempty = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let base = nonempty("XDG_CACHE_HOME")
        .filter(|p| p.is_absolute())
        .or_else(|| nonempty("HOME").map(|h| h.join(".cache")))?;
    Some(base.join("apko-rs"))
}

/// Creates `dir` and its missing parents, private to the user: the cache holds packages and
/// indexes of private repositories.
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// What [`clean`] found (and removed unless it was a dry run).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Cleaned {
    /// Files of the cache's own entries.
    pub files: u64,
    /// Their total size in bytes.
    pub bytes: u64,
    /// Names in the directory that are not the cache's, left in place.
    pub others: Vec<String>,
}

/// Measures the cache at `dir` and, unless `dry_run`, removes its entries (and `dir` itself
/// when nothing else is in it). A missing `dir` is an empty cache.
pub fn clean(dir: &Path, dry_run: bool) -> std::io::Result<Cleaned> {
    let mut cleaned = Cleaned::default();
    let listing = match std::fs::read_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(cleaned),
        other => other?,
    };
    for entry in listing {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !ENTRIES.contains(&name.as_str()) || !entry.file_type()?.is_dir() {
            cleaned.others.push(name);
            continue;
        }
        measure(&entry.path(), &mut cleaned)?;
        if !dry_run {
            std::fs::remove_dir_all(entry.path())?;
        }
    }
    cleaned.others.sort();
    if !dry_run && cleaned.others.is_empty() {
        std::fs::remove_dir(dir)?;
    }
    Ok(cleaned)
}

fn measure(dir: &Path, into: &mut Cleaned) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            measure(&entry.path(), into)?;
        } else {
            into.files += 1;
            into.bytes += entry.metadata()?.len();
        }
    }
    Ok(())
}

/// `1.5 MiB`-style sizes, as apko prints the cache size.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1.0 KiB");
        assert_eq!(human_size(1536 * 1024), "1.5 MiB");
        assert_eq!(human_size(3 << 30), "3.0 GiB");
    }

    #[test]
    fn clean_removes_only_the_caches_entries() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("c");
        assert_eq!(clean(&dir, false).unwrap(), Cleaned::default());
        std::fs::create_dir_all(dir.join("packages")).unwrap();
        std::fs::create_dir_all(dir.join("indexes/ab")).unwrap();
        std::fs::write(dir.join("packages/1.apk"), [0u8; 100]).unwrap();
        std::fs::write(dir.join("indexes/ab/APKINDEX.tar.gz"), [0u8; 28]).unwrap();
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        let want = Cleaned {
            files: 2,
            bytes: 128,
            others: vec!["notes.txt".into()],
        };
        assert_eq!(clean(&dir, true).unwrap(), want);
        assert!(dir.join("packages/1.apk").exists());
        assert_eq!(clean(&dir, false).unwrap(), want);
        assert!(!dir.join("packages").exists() && !dir.join("indexes").exists());
        assert_eq!(
            std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
            "mine"
        );
        std::fs::remove_file(dir.join("notes.txt")).unwrap();
        std::fs::create_dir_all(dir.join("keys")).unwrap();
        clean(&dir, false).unwrap();
        assert!(!dir.exists(), "an emptied cache directory goes too");
    }
}
