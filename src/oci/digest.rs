//! Content digests (`sha256:<hex>`, `sha512:<hex>`): strict parsing, because a digest from a
//! manifest becomes a file name and a URL path, and hashing for verification on receipt.

use sha2::Digest as _;
use std::fmt;

/// A validated digest: a known algorithm and lowercase hex of the right length.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

/// The hash functions the OCI image spec registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// `sha256`, what everything uses.
    Sha256,
    /// `sha512`.
    Sha512,
}

/// Why a digest string was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid digest {0:?}: expected sha256:<64 lowercase hex> or sha512:<128 lowercase hex>")]
pub struct DigestError(pub String);

impl Digest {
    /// Parses `algorithm:hex`, accepting only sha256 and sha512 with lowercase hex.
    pub fn parse(text: &str) -> Result<Digest, DigestError> {
        let err = || DigestError(text.chars().take(200).collect());
        let (alg, hex) = text.split_once(':').ok_or_else(err)?;
        let len = match alg {
            "sha256" => 64,
            "sha512" => 128,
            _ => return Err(err()),
        };
        if hex.len() != len || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(err());
        }
        Ok(Digest(text.to_string()))
    }

    /// The sha256 digest of `bytes`.
    pub fn sha256(bytes: &[u8]) -> Digest {
        let mut h = Hasher::new(Algorithm::Sha256);
        h.update(bytes);
        h.finish()
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        if self.0.starts_with("sha512:") {
            Algorithm::Sha512
        } else {
            Algorithm::Sha256
        }
    }

    /// `sha256`.
    pub fn algorithm_name(&self) -> &str {
        self.0.split_once(':').map_or("", |(a, _)| a)
    }

    /// The hex part.
    pub fn hex(&self) -> &str {
        self.0.split_once(':').map_or("", |(_, h)| h)
    }

    /// `sha256:<hex>`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `bytes` hash to this digest.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        let mut h = Hasher::new(self.algorithm());
        h.update(bytes);
        h.finish() == *self
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Incremental hashing for a streamed blob.
pub enum Hasher {
    /// sha256 state.
    Sha256(sha2::Sha256),
    /// sha512 state.
    Sha512(sha2::Sha512),
}

impl Hasher {
    /// A fresh hasher for `algorithm`.
    pub fn new(algorithm: Algorithm) -> Hasher {
        match algorithm {
            Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    /// Adds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    /// The digest of everything added.
    pub fn finish(self) -> Digest {
        match self {
            Hasher::Sha256(h) => Digest(format!("sha256:{:x}", h.finalize())),
            Hasher::Sha512(h) => Digest(format!("sha512:{:x}", h.finalize())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_hash() {
        let d = Digest::sha256(b"");
        assert_eq!(
            d.as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(Digest::parse(d.as_str()).unwrap(), d);
        assert_eq!(d.hex().len(), 64);
        assert!(d.matches(b""));
        assert!(!d.matches(b"x"));
        let mut h = Hasher::new(Algorithm::Sha512);
        h.update(b"abc");
        let d512 = h.finish();
        assert!(Digest::parse(d512.as_str()).is_ok());
        assert!(d512.matches(b"abc"));
    }

    #[test]
    fn refuses_what_could_escape_a_path() {
        for bad in [
            "",
            "sha256",
            "sha256:",
            "sha256:../../etc/passwd",
            "md5:d41d8cd98f00b204e9800998ecf8427e",
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855/",
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Digest::parse("sha256:x").unwrap_err().to_string(),
            "invalid digest \"sha256:x\": expected sha256:<64 lowercase hex> or sha512:<128 lowercase hex>"
        );
    }
}
