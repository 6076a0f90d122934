//! A throwaway certificate authority and a server certificate it signed for `127.0.0.1` and
//! `localhost`, made with the openssl CLI (EC P-256 keys: fast to generate).

use crate::{require, run};
use std::path::PathBuf;
use std::process::Command;

/// The CA certificate (what `--ca-file` gets) and the server's certificate and key.
pub struct Ca {
    _dir: tempfile::TempDir,
    /// `ca.crt`, PEM.
    pub cert: PathBuf,
    /// `server.crt`, PEM, for 127.0.0.1 and localhost, signed by the CA.
    pub server_cert: PathBuf,
    /// `server.key`, PEM (PKCS#8).
    pub server_key: PathBuf,
}

impl Ca {
    /// Makes the CA and the server certificate (a few tens of milliseconds).
    pub fn create() -> Ca {
        require("openssl", "openssl");
        let dir = tempfile::Builder::new().prefix("ca").tempdir().unwrap();
        let p = |name: &str| dir.path().join(name);
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        run(
            Command::new("openssl")
                .args(["req", "-x509"])
                .args(ec)
                .arg("-keyout")
                .arg(p("ca.key"))
                .arg("-out")
                .arg(p("ca.crt"))
                .args(["-days", "2", "-subj", "/CN=apko test CA"])
                .args(["-addext", "basicConstraints=critical,CA:TRUE"])
                .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]),
            "openssl: the CA",
        );
        run(
            Command::new("openssl")
                .arg("req")
                .args(ec)
                .arg("-keyout")
                .arg(p("server.key"))
                .arg("-out")
                .arg(p("server.csr"))
                .args(["-subj", "/CN=localhost"]),
            "openssl: the server key",
        );
        std::fs::write(
            p("ext.cnf"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        run(
            Command::new("openssl")
                .args(["x509", "-req", "-in"])
                .arg(p("server.csr"))
                .arg("-CA")
                .arg(p("ca.crt"))
                .arg("-CAkey")
                .arg(p("ca.key"))
                .args(["-CAcreateserial", "-days", "2", "-out"])
                .arg(p("server.crt"))
                .arg("-extfile")
                .arg(p("ext.cnf")),
            "openssl: signing the server certificate",
        );
        Ca {
            cert: p("ca.crt"),
            server_cert: p("server.crt"),
            server_key: p("server.key"),
            _dir: dir,
        }
    }
}
