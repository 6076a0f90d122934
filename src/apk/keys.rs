//! The keyring: RSA public keys that index signatures are checked against. A signature
//! names its key by file name (`.SIGN.RSA256.<name>`), so each key is kept under the file
//! name it came from, and installed into the image under that name.

use super::ApkError;
use rsa::RsaPublicKey;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use std::path::Path;

/// One public key.
#[derive(Debug, Clone)]
pub struct Key {
    /// The file name signatures refer to it by, e.g. `melange.rsa.pub`.
    pub name: String,
    /// The PEM text as read (written to `/etc/apk/keys/<name>`).
    pub pem: Vec<u8>,
    /// The parsed key.
    pub key: RsaPublicKey,
}

/// Public keys by name; the first key added under a name wins.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    keys: Vec<Key>,
}

impl Keyring {
    /// An empty keyring.
    pub fn new() -> Keyring {
        Keyring::default()
    }

    /// Adds a PEM key (`BEGIN PUBLIC KEY` or `BEGIN RSA PUBLIC KEY`) named `name`; `source`
    /// is named in the error.
    pub fn add(&mut self, name: &str, pem: Vec<u8>, source: &str) -> Result<(), ApkError> {
        let bad = |why: String| {
            ApkError::Key(format!(
                "key {source} is not an RSA public key in PEM form: {why}"
            ))
        };
        let text = std::str::from_utf8(&pem).map_err(|_| bad("it is not text".into()))?;
        let trimmed = text.trim();
        let key = RsaPublicKey::from_public_key_pem(trimmed)
            .or_else(|e| RsaPublicKey::from_pkcs1_pem(trimmed).map_err(|_| e))
            .map_err(|e| bad(e.to_string()))?;
        if self.get(name).is_none() {
            self.keys.push(Key {
                name: name.to_string(),
                pem,
                key,
            });
        }
        Ok(())
    }

    /// Adds a key file (named by its file name) or every `*.pub` file of a directory.
    pub fn add_path(&mut self, path: &Path) -> Result<(), ApkError> {
        let meta = std::fs::metadata(path).map_err(|e| ApkError::io(path, e))?;
        if meta.is_dir() {
            let mut files: Vec<_> = std::fs::read_dir(path)
                .map_err(|e| ApkError::io(path, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "pub") && p.is_file())
                .collect();
            files.sort();
            for file in files {
                self.add_file(&file)?;
            }
            Ok(())
        } else {
            self.add_file(path)
        }
    }

    fn add_file(&mut self, path: &Path) -> Result<(), ApkError> {
        let pem = crate::files::read_regular(path, crate::net::MAX_KEY_SIZE)
            .map_err(|e| ApkError::io(path, e))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.add(&name, pem, &path.display().to_string())
    }

    /// The key named `name`.
    pub fn get(&self, name: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// Every key, in the order added.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// True when there is no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/testdata");

    #[test]
    fn files_and_directories() {
        let mut ring = Keyring::new();
        ring.add_path(Path::new(&format!("{TESTDATA}/apk/signing/keys")))
            .unwrap();
        ring.add_path(Path::new(&format!(
            "{TESTDATA}/apk/alpine-316/alpine-devel@lists.alpinelinux.org-4a6a0840.rsa.pub"
        )))
        .unwrap();
        let names: Vec<&str> = ring.keys().iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names.len(), 4);
        assert!(names[0].starts_with("chainguard-0106f58b"));
        assert_eq!(
            names[3],
            "alpine-devel@lists.alpinelinux.org-4a6a0840.rsa.pub"
        );
        let err = ring
            .add("x.rsa.pub", b"not a key".to_vec(), "/tmp/x.rsa.pub")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("key /tmp/x.rsa.pub is not an RSA public key in PEM form: "),
            "{err}"
        );
    }
}
