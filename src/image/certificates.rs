//! `certificates`: extra CAs in the image, as apko 1.2.39 installs them
//! (`pkg/build/certificates.go`). Inline certificates (`additional`) become
//! `usr/local/share/ca-certificates/<name>-<sha256>.crt`; then the `.crt`/`.pem` files that
//! installed packages providing one of `providers` own under
//! `usr/local/share/ca-certificates/` (sorted by path; a file that is not one certificate is
//! skipped). Every one of them is appended to the CA bundles the image already has; no
//! `etc/ca-certificates.conf` is written. This replaces `update-ca-certificates`, which apko
//! (and this builder) never runs.

use super::config::Certificates;
use crate::apk::index::Index as ApkIndex;
use crate::apk::{db, install as apk_install};
use crate::fs::{Entry, Kind, Tree};
use anyhow::{Context, anyhow, bail};
use base64::Engine;
use sha2::{Digest, Sha256};

/// Where inline certificates are written (read by `update-ca-certificates`).
const CA_CERTS_DIR: &str = "usr/local/share/ca-certificates";
/// The bundles apko appends to, when the image has them (`caBundlePaths`).
const BUNDLES: [&str; 3] = [
    "etc/ssl/certs/ca-certificates.crt",
    "var/lib/ecs/deps/execute-command/certs/tls-ca-bundle.pem",
    "kaniko/ssl/certs/ca-certificates.crt",
];
/// Java truststores apko also appends to; not written here (see [`install`]).
const JAVA_TRUSTSTORES: [&str; 1] = ["etc/ssl/certs/java/cacerts"];

/// Every CA store apko 1.2 writes a `sha256sum` sidecar for (`writeCABundleChecksums`).
const CHECKSUMMED: [&str; 4] = [
    "etc/ssl/certs/ca-certificates.crt",
    "var/lib/ecs/deps/execute-command/certs/tls-ca-bundle.pem",
    "kaniko/ssl/certs/ca-certificates.crt",
    "etc/ssl/certs/java/cacerts",
];

/// Beside each CA bundle (and Java truststore) the image has, `.<name>.sha256` (mode 0444,
/// `<sha256>  <name>\n`), as apko 1.2 writes after installing certificates, so integrity
/// tools can tell a bundle changed after the build.
pub fn write_checksums(tree: &mut Tree, mtime: u64) -> anyhow::Result<()> {
    for path in CHECKSUMMED {
        let Some(Kind::File(data)) = tree.get(&tree.resolve(path)).map(|e| &e.kind) else {
            continue;
        };
        let (dir, name) = path.rsplit_once('/').expect("a path with a directory");
        let line = format!("{}  {name}\n", hex::encode(Sha256::digest(data)));
        let mut file = Entry::file(line.into_bytes(), 0o444);
        file.mtime = mtime;
        let sidecar = tree.resolve_parents(&format!("{dir}/.{name}.sha256"));
        tree.insert(&sidecar, file)?;
    }
    Ok(())
}

/// One certificate, re-encoded as apko does (text around the PEM block dropped).
struct Parsed {
    pem: String,
    fingerprint: String,
}

/// Installs `certs` into `tree` (after packages, accounts and `paths`, as apko).
pub fn install(tree: &mut Tree, certs: &Certificates, mtime: u64) -> anyhow::Result<()> {
    let mut all = Vec::new();
    for extra in &certs.additional {
        check_name(&extra.name)?;
        let cert = parse(&extra.content)
            .map_err(|e| anyhow!("failed to parse certificate {}: {e:#}", extra.name))?;
        // apko's MkdirAll: new directories have mtime 0
        tree.make_dirs(CA_CERTS_DIR, 0).map_err(|e| anyhow!(e))?;
        let mut file = Entry::file(cert.pem.clone().into_bytes(), 0o644);
        file.mtime = mtime;
        let path = format!("{CA_CERTS_DIR}/{}-{}.crt", extra.name, cert.fingerprint);
        tree.insert(&tree.resolve_parents(&path), file)?;
        all.push(cert);
    }

    for path in provided_files(tree, &certs.providers) {
        let Some(Kind::File(data)) = tree.get(&tree.resolve(&path)).map(|e| &e.kind) else {
            continue;
        };
        // As apko: a package file that is not one certificate is skipped.
        let Ok(cert) = parse(&String::from_utf8_lossy(data)) else {
            tracing::debug!("{path} is not a certificate; skipped");
            continue;
        };
        all.push(cert);
    }
    if all.is_empty() {
        return Ok(());
    }
    let mut block = String::new();
    for cert in &all {
        block.push_str(&cert.pem);
        block.push('\n'); // as update-ca-certificates separates them
    }
    for bundle in BUNDLES {
        append(tree, bundle, block.as_bytes(), mtime)?;
    }
    for store in JAVA_TRUSTSTORES {
        if tree.get(store).is_some() {
            tracing::warn!(
                "/{store} (a Java truststore) was not given the {} extra certificate(s): apko adds them, this builder does not write Java keystores yet",
                all.len()
            );
        }
    }
    Ok(())
}

/// The file `additional` content becomes (`<sha256>`, re-encoded PEM), or apko's error.
/// Public so the parser can be fuzzed.
pub fn parse_certificate(text: &str) -> anyhow::Result<(String, String)> {
    parse(text).map(|c| (c.fingerprint, c.pem))
}

/// Names become file names: no paths, nothing hidden.
fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !ok {
        bail!(
            "certificates.additional name {name:?} is not a plain file name: use letters, digits, '.', '_' and '-' (not first '.')"
        );
    }
    Ok(())
}

/// The `.crt` and `.pem` files under `usr/local/share/ca-certificates/` owned by installed
/// packages that provide one of `providers`, sorted by path.
fn provided_files(tree: &Tree, providers: &[String]) -> Vec<String> {
    if providers.is_empty() {
        return Vec::new();
    }
    let Some(installed) = apk_install::installed_db(tree) else {
        return Vec::new();
    };
    let Ok(index) = ApkIndex::parse(installed.clone()) else {
        return Vec::new();
    };
    let chosen: Vec<String> = index
        .packages()
        .map(|p| p.to_package())
        .filter(|p| p.provides.iter().any(|given| providers.contains(given)))
        .map(|p| p.name)
        .collect();
    let mut files: Vec<String> = db::owned_files(&installed)
        .into_iter()
        .filter(|(name, path)| {
            chosen.contains(name)
                && path.starts_with(&format!("{CA_CERTS_DIR}/"))
                && (path.ends_with(".crt") || path.ends_with(".pem"))
        })
        .map(|(_, path)| path)
        .collect();
    files.sort();
    files.dedup();
    files
}

/// Appends `data` to the file at `path` (following a symlink in the tree); a missing file is
/// left missing.
fn append(tree: &mut Tree, path: &str, data: &[u8], mtime: u64) -> anyhow::Result<()> {
    let target = tree.resolve(path);
    if let Some(e) = tree.get_mut(&target) {
        let Kind::File(old) = &e.kind else {
            bail!("/{target} is not a regular file, so the certificates cannot be added to it");
        };
        let mut joined = old.to_vec();
        joined.extend_from_slice(data);
        e.kind = Kind::File(joined.into());
        e.mtime = mtime;
    }
    Ok(())
}

/// Exactly one PEM `CERTIFICATE` block holding an X.509 certificate, found as Go's
/// `pem.Decode` finds blocks (text around them is ignored). The errors are apko's.
fn parse(text: &str) -> anyhow::Result<Parsed> {
    if text.is_empty() {
        bail!("no certificate data provided");
    }
    let mut found: Option<Parsed> = None;
    let mut rest = text;
    while let Some((label, der, after)) = next_block(rest) {
        rest = after;
        if found.is_some() {
            bail!("multiple certificates found; only one is allowed");
        }
        if label != "CERTIFICATE" {
            bail!("expected CERTIFICATE block, got {label}");
        }
        check_x509(&der).context("failed to parse certificate")?;
        found = Some(Parsed {
            pem: encode(&der),
            fingerprint: hex::encode(Sha256::digest(&der)),
        });
    }
    found.ok_or_else(|| anyhow!("no certificates found in PEM data"))
}

/// The next `-----BEGIN L-----` … `-----END L-----` block: its label, decoded body and the
/// text after it. A block whose body is not base64 is skipped, as Go skips it.
fn next_block(mut text: &str) -> Option<(String, Vec<u8>, &str)> {
    loop {
        let start = text.find("-----BEGIN ")?;
        let after_begin = &text[start + 11..];
        let label_end = after_begin.find("-----")?;
        let label = &after_begin[..label_end];
        let body_start = &after_begin[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = body_start.find(&end_marker) else {
            text = body_start;
            continue;
        };
        let body = &body_start[..end];
        let rest = &body_start[end + end_marker.len()..];
        // Headers ("Proc-Type: …") end at the first blank line.
        let body = match body.find(':') {
            Some(_) => body.split_once("\n\n").map_or("", |(_, b)| b),
            None => body,
        };
        let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        match base64::engine::general_purpose::STANDARD.decode(compact) {
            Ok(der) => return Some((label.to_string(), der, rest)),
            Err(_) => text = rest,
        }
    }
}

/// PEM as Go's `pem.Encode` writes it: 64 columns, a newline after the END line.
fn encode(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// The outer shape of an X.509 certificate: a DER SEQUENCE of the to-be-signed SEQUENCE, the
/// signature algorithm SEQUENCE and the signature BIT STRING, and nothing after it. Enough to
/// refuse a key, a CSR or garbage pasted by mistake; trust decisions are the image's.
fn check_x509(der: &[u8]) -> anyhow::Result<()> {
    let (outer, rest) = tlv(der, 0x30).ok_or_else(|| anyhow!("not a DER SEQUENCE"))?;
    if !rest.is_empty() {
        bail!("{} bytes after the certificate", rest.len());
    }
    let (tbs, rest) = tlv(outer, 0x30).ok_or_else(|| anyhow!("no tbsCertificate"))?;
    let (_, rest) = tlv(rest, 0x30).ok_or_else(|| anyhow!("no signatureAlgorithm"))?;
    let (_, rest) = tlv(rest, 0x03).ok_or_else(|| anyhow!("no signatureValue"))?;
    if !rest.is_empty() {
        bail!("trailing data in the certificate");
    }
    // A TBSCertificate starts with [0] version (v2/v3) or the serial INTEGER (v1).
    match tbs.first() {
        Some(0xa0) | Some(0x02) => Ok(()),
        _ => bail!("the tbsCertificate has neither a version nor a serial number"),
    }
}

/// One DER TLV with `tag`: its contents and what follows.
fn tlv(data: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&first, rest) = data.split_first()?;
    if first != tag {
        return None;
    }
    let (&len0, mut rest) = rest.split_first()?;
    let len = if len0 < 0x80 {
        len0 as usize
    } else {
        let n = (len0 & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | b as usize);
        rest = &rest[n..];
        len
    };
    (rest.len() >= len).then(|| rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundles_get_sha256sum_sidecars() {
        let mut t = Tree::new();
        t.insert(
            "etc/ssl/certs/ca-certificates.crt",
            Entry::file(&b"bundle\n"[..], 0o644),
        )
        .unwrap();
        t.insert("kaniko/ssl/certs", Entry::dir(0o755)).unwrap();
        t.insert(
            "kaniko/ssl/certs/ca-certificates.crt",
            Entry::symlink("/etc/ssl/certs/ca-certificates.crt"),
        )
        .unwrap();
        write_checksums(&mut t, 9).unwrap();
        let line = "ef17b7d320f2acc023f2018dab381827ba22f9d01b6c4c97894e1bbfe4928313  ca-certificates.crt\n";
        for p in [
            "etc/ssl/certs/.ca-certificates.crt.sha256",
            "kaniko/ssl/certs/.ca-certificates.crt.sha256",
        ] {
            let e = t.get(p).unwrap();
            assert_eq!(e.kind, Kind::File(line.as_bytes().to_vec().into()), "{p}");
            assert_eq!((e.mode, e.mtime), (0o444, 9), "{p}");
        }
        assert!(
            t.get("var/lib/ecs/deps/execute-command/certs/.tls-ca-bundle.pem.sha256")
                .is_none()
        );
    }

    /// A self-signed CA made with `openssl req -x509 -newkey ec -pkeyopt
    /// ec_paramgen_curve:P-256 -subj /CN=apko-rs-test-ca -days 36500 -nodes`.
    const CA: &str = include_str!("../../tests/fixtures/test-ca.pem");

    #[test]
    fn parse_accepts_one_certificate_and_re_encodes_it() {
        let with_text = format!("subject=CN = apko-rs-test-ca\n{CA}\ntrailing words\n");
        let a = parse(&with_text).unwrap();
        let b = parse(CA).unwrap();
        assert_eq!(a.pem, b.pem);
        assert_eq!(a.fingerprint, b.fingerprint);
        assert!(a.pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(a.pem.ends_with("\n-----END CERTIFICATE-----\n"));
        assert!(
            a.pem
                .lines()
                .all(|l| l.len() <= 64 || l.starts_with("-----"))
        );
    }

    #[test]
    fn parse_errors_are_apkos() {
        let err = |t: &str| parse(t).map(|_| ()).unwrap_err().to_string();
        assert_eq!(err(""), "no certificate data provided");
        assert_eq!(err("hello"), "no certificates found in PEM data");
        assert_eq!(
            err(&format!("{CA}{CA}")),
            "multiple certificates found; only one is allowed"
        );
        assert_eq!(
            err("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
            "expected CERTIFICATE block, got PRIVATE KEY"
        );
        assert_eq!(
            err("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
            "failed to parse certificate"
        );
    }

    #[test]
    fn names_must_be_plain_file_names() {
        for bad in ["", "../x", "a/b", ".hidden", "a b"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        for good in ["corp-ca", "Corp_CA.2024"] {
            check_name(good).unwrap();
        }
    }

    #[test]
    fn bundles_are_appended_through_symlinks_and_only_when_present() {
        let mut tree = Tree::new();
        tree.insert(
            "etc/ssl/certs/ca-certificates.crt",
            Entry::symlink("../../../usr/share/bundle.pem"),
        )
        .unwrap();
        tree.insert("usr/share/bundle.pem", Entry::file(&b"OLD\n"[..], 0o644))
            .unwrap();
        let certs = Certificates {
            additional: vec![super::super::config::NamedContent {
                name: "corp".into(),
                content: CA.into(),
            }],
            providers: vec![],
        };
        install(&mut tree, &certs, 77).unwrap();
        let pem = parse(CA).unwrap();
        let Some(Kind::File(data)) = tree.get("usr/share/bundle.pem").map(|e| &e.kind) else {
            panic!("bundle gone")
        };
        assert_eq!(&data[..], format!("OLD\n{}\n", pem.pem).as_bytes());
        let file = format!("{CA_CERTS_DIR}/corp-{}.crt", pem.fingerprint);
        let e = tree.get(&file).unwrap();
        assert_eq!((e.mode, e.mtime), (0o644, 77));
        // the directory apko's MkdirAll makes keeps mtime 0; the bundle gets the build date
        assert_eq!(tree.get(CA_CERTS_DIR).unwrap().mtime, 0);
        assert_eq!(tree.get("usr/share/bundle.pem").unwrap().mtime, 77);
        assert!(
            tree.get(BUNDLES[1]).is_none(),
            "a missing bundle is not created"
        );
        assert!(tree.get("etc/ca-certificates.conf").is_none());
    }

    #[test]
    fn providers_certificates_under_usr_local_follow_the_additional_ones() {
        let mut tree = Tree::new();
        tree.insert(
            "etc/ssl/certs/ca-certificates.crt",
            Entry::file(&b"OLD\n"[..], 0o644),
        )
        .unwrap();
        let db = "P:prov\nV:1-r0\nA:x86_64\np:difftest-ca-provider\n\
                  F:usr/local/share/ca-certificates\nR:b.pem\nR:a.crt\nR:junk.crt\nR:note.txt\n\
                  F:usr/share/ca-certificates\nR:system.crt\n\n\
                  P:other\nV:1-r0\nA:x86_64\nF:usr/local/share/ca-certificates\nR:other.crt\n\n";
        tree.insert(
            "usr/lib/apk/db/installed",
            Entry::file(db.as_bytes(), 0o644),
        )
        .unwrap();
        let dir = "usr/local/share/ca-certificates";
        // a.crt's text has words around its block: apko re-encodes it
        for (name, text) in [
            ("a.crt", format!("words\n{CA}")),
            ("b.pem", CA.to_string()),
            ("junk.crt", "not a certificate\n".to_string()),
            ("note.txt", CA.to_string()),
            ("other.crt", CA.to_string()),
        ] {
            tree.insert(
                &format!("{dir}/{name}"),
                Entry::file(text.into_bytes(), 0o644),
            )
            .unwrap();
        }
        tree.insert(
            "usr/share/ca-certificates/system.crt",
            Entry::file(CA.as_bytes(), 0o644),
        )
        .unwrap();
        let certs = Certificates {
            additional: vec![super::super::config::NamedContent {
                name: "corp".into(),
                content: CA.into(),
            }],
            providers: vec!["difftest-ca-provider".into()],
        };
        install(&mut tree, &certs, 5).unwrap();
        let pem = parse(CA).unwrap().pem;
        // corp, then a.crt and b.pem (sorted); not junk, note.txt, other's or the system one
        let Some(Kind::File(data)) = tree.get(BUNDLES[0]).map(|e| &e.kind) else {
            panic!("bundle gone")
        };
        assert_eq!(
            String::from_utf8(data.to_vec()).unwrap(),
            format!("OLD\n{pem}\n{pem}\n{pem}\n")
        );
        assert!(tree.get("etc/ca-certificates.conf").is_none());
        assert_eq!(tree.get(BUNDLES[0]).unwrap().mtime, 5);
    }
}
