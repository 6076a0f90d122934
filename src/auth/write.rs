//! Changing a config file without ever losing it: a lock so concurrent logins lose nothing,
//! a temp file in the same directory renamed over the target (atomic), symlinks written
//! through, unknown fields kept, 0700 directories and 0600 files.

use super::config::{ConfigError, parse_object, read_config_file};
use serde::Serialize;
use serde_json::{Map, Value};
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Applies `change` to the JSON object in `path` (an absent file is `{}`) and saves it if
/// `change` returns true. Returns whether it saved.
pub fn update(
    path: &Path,
    change: impl FnOnce(&mut Map<String, Value>) -> bool,
) -> Result<bool, ConfigError> {
    let target = resolve_symlinks(path)?;
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let err = |why: String| ConfigError::Write {
        path: path.to_path_buf(),
        why,
    };
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| err(format!("cannot create {}: {e}", dir.display())))?;
    }
    let _lock =
        DirLock::take(&dir).map_err(|e| err(format!("cannot lock {}: {e}", dir.display())))?;

    // Only a regular file is ever replaced: a symlink to a device or FIFO is refused, never
    // turned into a plain file holding credentials.
    let (text, meta) = match read_config_file(&target)? {
        Some(t) => (t, std::fs::metadata(&target).ok()),
        None => (Vec::new(), None),
    };
    let mut root = parse_object(path, &text)?;
    if !change(&mut root) {
        return Ok(false);
    }
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"\t"),
    );
    Value::Object(root)
        .serialize(&mut ser)
        .map_err(|e| err(e.to_string()))?;
    out.push(b'\n');

    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config.json".into());
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(&dir)
        .map_err(|e| {
            err(format!(
                "cannot create a temporary file in {}: {e}",
                dir.display()
            ))
        })?;
    if let Some(meta) = &meta {
        // Keep the existing file's mode and owner (root editing a user's file).
        let _ = temp
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(meta.mode() & 0o7777));
        if meta.uid() > 0 && meta.gid() > 0 {
            let _ = std::os::unix::fs::fchown(temp.as_file(), Some(meta.uid()), Some(meta.gid()));
        }
    }
    temp.write_all(&out)
        .and_then(|_| temp.as_file().sync_all())
        .map_err(|e| err(e.to_string()))?;
    temp.persist(&target)
        .map_err(|e| err(format!("cannot replace it: {}", e.error)))?;
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(true)
}

/// Follows symlinks (absolute, relative, dangling) to the file a save must replace, so the
/// link itself is kept.
fn resolve_symlinks(path: &Path) -> Result<PathBuf, ConfigError> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = std::fs::read_link(&current).map_err(|source| ConfigError::Read {
                    path: current.clone(),
                    cause: source,
                })?;
                current = if link.is_absolute() {
                    link
                } else {
                    current.parent().unwrap_or(Path::new("")).join(link)
                };
            }
            _ => return Ok(current),
        }
    }
    Err(ConfigError::Write {
        path: path.to_path_buf(),
        why: "too many levels of symbolic links".into(),
    })
}

/// An exclusive `flock` on the directory holding the file: every writer of any file in it
/// takes it, and nothing extra is left on disk.
struct DirLock(#[allow(dead_code)] File);

impl DirLock {
    fn take(dir: &Path) -> std::io::Result<DirLock> {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(dir)?;
        use std::os::fd::AsRawFd;
        // SAFETY: flock(2) on a descriptor we own; the lock is released when it is closed.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(DirLock(f))
    }
}
