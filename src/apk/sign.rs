//! apk's signed streams: an index or package is gzip members one after the other; the first
//! may hold `.SIGN.RSA.<key>` (SHA-1) or `.SIGN.RSA256.<key>` (SHA-256) tar entries, each an
//! RSA PKCS#1 v1.5 signature over the compressed bytes that follow that member.

use super::ApkError;
use super::keys::Keyring;
use flate2::Compression;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use std::io::Read;

/// The digest a signature is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// `.SIGN.RSA.`
    Sha1,
    /// `.SIGN.RSA256.`
    Sha256,
    /// `.SIGN.RSA512.`
    Sha512,
}

impl Algorithm {
    fn prefix(self) -> &'static str {
        match self {
            Algorithm::Sha1 => ".SIGN.RSA.",
            Algorithm::Sha256 => ".SIGN.RSA256.",
            Algorithm::Sha512 => ".SIGN.RSA512.",
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Algorithm::Sha1 => Sha1::digest(data).to_vec(),
            Algorithm::Sha256 => Sha256::digest(data).to_vec(),
            Algorithm::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    fn scheme(self) -> Pkcs1v15Sign {
        match self {
            Algorithm::Sha1 => Pkcs1v15Sign::new::<Sha1>(),
            Algorithm::Sha256 => Pkcs1v15Sign::new::<Sha256>(),
            Algorithm::Sha512 => Pkcs1v15Sign::new::<Sha512>(),
        }
    }
}

/// One signature found in a stream.
#[derive(Debug, Clone)]
pub struct Signature {
    /// Its digest.
    pub algorithm: Algorithm,
    /// The key's file name.
    pub key_name: String,
    /// The raw signature.
    pub bytes: Vec<u8>,
}

/// A stream split into its signatures and the bytes they sign.
#[derive(Debug)]
pub struct Signed<'a> {
    /// Empty for an unsigned stream.
    pub signatures: Vec<Signature>,
    /// The compressed bytes after the signature member (the whole stream when unsigned).
    pub signed: &'a [u8],
    /// Where `signed` starts in the stream.
    pub offset: usize,
}

/// How far a gzip member may inflate, and the setting that says so (for errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    /// Bytes.
    pub limit: u64,
    /// The flag.
    pub flag: &'static str,
}

impl Bound {
    /// `--max-apkindex-decompressed-size` of the command.
    pub fn index() -> Bound {
        Bound {
            limit: crate::net::policy().max_apkindex_decompressed_size,
            flag: "--max-apkindex-decompressed-size",
        }
    }

    /// `--max-apk-control-size` of the command.
    pub fn control() -> Bound {
        Bound {
            limit: crate::net::policy().max_apk_control_size,
            flag: "--max-apk-control-size",
        }
    }

    /// `--max-apk-data-size` of the command.
    pub fn data() -> Bound {
        Bound {
            limit: crate::net::policy().max_apk_data_size,
            flag: "--max-apk-data-size",
        }
    }

    /// `reader` failing past the bound.
    pub fn reader<R: Read>(self, reader: R) -> crate::net::LimitedReader<R> {
        crate::net::LimitedReader::new(reader, self.limit, self.flag)
    }
}

/// Decompresses the first gzip member of `bytes`, at most `bound` bytes of it: its content
/// and its compressed length.
pub fn first_member(bytes: &[u8], bound: Bound) -> std::io::Result<(Vec<u8>, usize)> {
    let mut decoder = bound.reader(flate2::bufread::GzDecoder::new(bytes));
    let mut out = Vec::new();
    decoder.read_to_end(&mut out)?;
    let rest = decoder.into_inner().into_inner();
    Ok((out, bytes.len() - rest.len()))
}

/// The signatures of the first gzip member of `bytes` (inflated as a stream, at most `bound`
/// bytes, keeping only signature entries) and its compressed length.
fn first_member_signatures(bytes: &[u8], bound: Bound) -> std::io::Result<(Vec<Signature>, usize)> {
    let mut decoder = bound.reader(flate2::bufread::GzDecoder::new(bytes));
    // Not a tar, or not one of signatures: an unsigned stream (as before streaming).
    let found = signatures_in(&mut decoder).unwrap_or_default();
    // The rest of the member, to find where it ends; past the bound this fails.
    std::io::copy(&mut decoder, &mut std::io::sink())?;
    let rest = decoder.into_inner().into_inner();
    Ok((found, bytes.len() - rest.len()))
}

/// The `.SIGN.*` entries of a tar (a signature member holds nothing else).
fn signatures_in(tar: impl Read) -> std::io::Result<Vec<Signature>> {
    let mut found = Vec::new();
    let mut archive = tar::Archive::new(tar);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        let algorithm = [Algorithm::Sha256, Algorithm::Sha512, Algorithm::Sha1]
            .into_iter()
            .find(|a| path.starts_with(a.prefix()));
        let Some(algorithm) = algorithm else {
            return Ok(Vec::new());
        };
        // An RSA signature is the key's size: 512 bytes for RSA-4096.
        if entry.size() > 64 << 10 {
            return Ok(Vec::new());
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes)?;
        found.push(Signature {
            algorithm,
            key_name: path[algorithm.prefix().len()..].to_string(),
            bytes,
        });
    }
    Ok(found)
}

/// Splits a stream into signatures and signed bytes; `what` names it in errors. The first
/// member is inflated at most to `bound`, before anything else looks at it.
pub fn split<'a>(bytes: &'a [u8], what: &str, bound: Bound) -> Result<Signed<'a>, ApkError> {
    let (signatures, len) = first_member_signatures(bytes, bound).map_err(|e| {
        if crate::net::is_inflate_limit(&e) {
            ApkError::Malformed(format!("{what}: its first gzip member: {e}"))
        } else {
            ApkError::Malformed(format!("{what} is not a gzip stream: {e}"))
        }
    })?;
    if signatures.is_empty() {
        return Ok(Signed {
            signatures,
            signed: bytes,
            offset: 0,
        });
    }
    Ok(Signed {
        signatures,
        signed: &bytes[len..],
        offset: len,
    })
}

/// Checks that at least one signature is by a key of `keyring` and matches; returns that
/// key's name. Errors say which keys signed and which the keyring has.
pub fn verify(signed: &Signed<'_>, keyring: &Keyring, what: &str) -> Result<String, ApkError> {
    if signed.signatures.is_empty() {
        return Err(ApkError::Signature(format!(
            "{what} is not signed; sign it (abuild-sign, melange sign-index) or build with --ignore-signatures"
        )));
    }
    let mut mismatched = Vec::new();
    for sig in &signed.signatures {
        let Some(key) = keyring.get(&sig.key_name) else {
            continue;
        };
        let digest = sig.algorithm.digest(signed.signed);
        if key
            .key
            .verify(sig.algorithm.scheme(), &digest, &sig.bytes)
            .is_ok()
        {
            return Ok(sig.key_name.clone());
        }
        mismatched.push(sig.key_name.as_str());
    }
    if !mismatched.is_empty() {
        return Err(ApkError::Signature(format!(
            "{what}: the signature by {} does not match its contents: the index was modified after it was signed (or the key file under that name is another key); refusing to use it",
            mismatched.join(", ")
        )));
    }
    let signers: Vec<&str> = signed
        .signatures
        .iter()
        .map(|s| s.key_name.as_str())
        .collect();
    let have: Vec<&str> = keyring.keys().iter().map(|k| k.name.as_str()).collect();
    Err(ApkError::UnknownKey(format!(
        "{what} is signed by {}, which is not in the keyring ({}); add that public key to contents.keyring (or -k/--keyring-append)",
        signers.join(", "),
        if have.is_empty() {
            "the keyring is empty".to_string()
        } else {
            format!("it has {}", have.join(", "))
        }
    )))
}

/// A tar of `entries` without the end-of-archive blocks, as apk concatenates them.
pub fn cut_tar(entries: &[(&str, &[u8], u32)], mtime: u64) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data, mode) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(*mode);
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, name, *data)
            .expect("writing a tar to memory");
    }
    let mut out = builder.into_inner().expect("writing a tar to memory");
    out.truncate(out.len() - 1024);
    out
}

/// One gzip member holding `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), Compression::best());
    std::io::Write::write_all(&mut encoder, data).expect("compressing in memory");
    encoder.finish().expect("compressing in memory")
}

/// The signature member for `signed` (RSA PKCS#1 v1.5 over SHA-256, `.SIGN.RSA256.`).
pub fn signature_member(key: &RsaPrivateKey, key_name: &str, signed: &[u8]) -> Vec<u8> {
    let algorithm = Algorithm::Sha256;
    let signature = key
        .sign(algorithm.scheme(), &algorithm.digest(signed))
        .expect("an RSA key signs a SHA-256 digest");
    let name = format!("{}{key_name}", algorithm.prefix());
    gzip(&cut_tar(&[(&name, &signature, 0o644)], 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/testdata");

    #[test]
    fn members_split_exactly() {
        let bytes = std::fs::read(format!("{TESTDATA}/apk/rsa256-signed/APKINDEX.tar.gz")).unwrap();
        let (first, len) = first_member(&bytes, Bound::index()).unwrap();
        assert_eq!((first.len(), len), (1024, 638));
        let signed = split(&bytes, "x", Bound::index()).unwrap();
        assert_eq!(signed.offset, 638);
        assert_eq!(signed.signatures.len(), 1);
        assert_eq!(signed.signatures[0].algorithm, Algorithm::Sha256);
        assert_eq!(signed.signatures[0].key_name, "test-rsa256.rsa.pub");
    }
}
