//! Reading the files a user names (configurations, includes, lockfiles, keys, `--auth-file`,
//! CA bundles): only regular files (a FIFO would hang the build, `/dev/zero` would fill the
//! memory), and only up to a size that file can sensibly have, checked before reading.

use std::io::Read;
use std::path::Path;

/// An apko configuration or one of its includes: real ones are a few KiB.
pub const MAX_CONFIG: u64 = 16 << 20;

/// An apko lockfile: one entry per package and architecture; the largest real ones are
/// about a MiB.
pub const MAX_LOCKFILE: u64 = 64 << 20;

/// A list of credentials, repositories or certificates.
pub const MAX_LIST: u64 = 16 << 20;

/// Reads `path` whole if it is a regular file (symlinks followed) of at most `limit` bytes;
/// otherwise an error whose text says what it is and the limit (the caller names the file).
pub fn read_regular(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    // O_NONBLOCK: opening a FIFO must not wait for a writer.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)?;
    let meta = file.metadata()?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a FIFO (named pipe)"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        return Err(std::io::Error::other(format!(
            "it is {what}, not a regular file"
        )));
    }
    let too_big = |size: String| {
        std::io::Error::other(format!(
            "it is {size}, more than such a file can be ({})",
            human(limit)
        ))
    };
    if meta.len() > limit {
        return Err(too_big(format!("{} bytes", meta.len())));
    }
    let mut data = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut data)?;
    if data.len() as u64 > limit {
        return Err(too_big("growing while being read".into()));
    }
    Ok(data)
}

/// As [`read_regular`], as UTF-8 text.
pub fn read_regular_text(path: &Path, limit: u64) -> std::io::Result<String> {
    String::from_utf8(read_regular(path, limit)?)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not UTF-8 text"))
}

fn human(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.yaml");
        std::fs::write(&f, "x: 1\n").unwrap();
        assert_eq!(read_regular_text(&f, 10).unwrap(), "x: 1\n");
        assert_eq!(
            read_regular(&f, 4).unwrap_err().to_string(),
            "it is 5 bytes, more than such a file can be (4 bytes)"
        );
        assert_eq!(
            read_regular(dir.path(), 10).unwrap_err().to_string(),
            "it is a directory, not a regular file"
        );
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert_eq!(
            read_regular(&fifo, 10).unwrap_err().to_string(),
            "it is a FIFO (named pipe), not a regular file"
        );
        assert_eq!(
            read_regular(Path::new("/dev/zero"), MAX_CONFIG)
                .unwrap_err()
                .to_string(),
            "it is a device, not a regular file"
        );
        std::fs::write(&f, [0xff, 0xfe]).unwrap();
        assert_eq!(
            read_regular_text(&f, 10).unwrap_err().to_string(),
            "it is not UTF-8 text"
        );
    }
}
