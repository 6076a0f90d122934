//! The secret-leak scan: every command and path with a sentinel secret (a password from a
//! helper, typed at login, in an auth file, in the environment, in a repository URL), at every
//! log level,
//! with failures forced (a wrong password, a helper that crashes, a helper that hangs, a
//! registry that answers 500 and echoes what it was sent). The sentinel must appear nowhere
//! but where it belongs: not on stdout or stderr (except `get`'s answer), not in any
//! process's argv or environment other than `apko`'s own (watched in /proc while the commands
//! run), not in any file written (config.json, images, temporary files), only in the stores
//! meant for it (the helper's store, the kernel keyring).

use crate::support::SENTINEL;
use crate::support::cli::{Cli, Out, our_helper};
use crate::support::http::{Response, Server, forward};
use crate::support::leak::{ProcWatch, contains, files_holding};
use crate::support::{Registry, layout::base_image};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Relative to the project root (`-C`), where its repository paths point.
const EXAMPLE: &str = "examples/hello/apko.yaml";
const LEVELS: [&str; 5] = ["trace", "debug", "info", "warn", "error"];

/// Scans share the test process with the control test, whose children hold the sentinel on
/// purpose; the /proc watch of a scan running beside it would see them (seen under load). Scans
/// take this for reading (they run side by side), the control test for writing (alone).
static CONTROL: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// One scan: an isolated `apko` environment whose temporary files stay inside it, a /proc
/// watch, and a count of the commands run.
struct Scan {
    _beside_other_scans: std::sync::RwLockReadGuard<'static, ()>,
    cli: Cli,
    watch: ProcWatch,
    runs: usize,
    /// Where the sentinel belongs: the fake helpers' store, the user's own input files.
    exempt: Vec<PathBuf>,
}

impl Scan {
    fn new() -> Scan {
        let guard = CONTROL.read().unwrap_or_else(|e| e.into_inner());
        let mut cli = Cli::new();
        std::fs::create_dir(cli.path("tmp")).unwrap();
        std::fs::create_dir(cli.path("store")).unwrap();
        std::fs::write(cli.path("store/secret"), SENTINEL).unwrap();
        std::fs::create_dir(cli.path("input")).unwrap();
        cli.env("TMPDIR", cli.path("tmp").to_str().unwrap());
        let exempt = vec![cli.path("store"), cli.path("input")];
        Scan {
            _beside_other_scans: guard,
            cli,
            watch: ProcWatch::start(&[PathBuf::from(env!("CARGO_BIN_EXE_apko"))]),
            runs: 0,
            exempt,
        }
    }

    /// A file of the user's own holding `text` (an input: exempt from the file scan).
    fn input(&self, name: &str, text: &str) -> String {
        let path = self.cli.path("input").join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    /// A fake helper, its script free of the sentinel: it reads the secret from the store.
    fn helper(&self, name: &str, body: &str) {
        let store = self.cli.path("store/secret");
        let body = format!("secret=$(cat '{}')\n{body}", store.display());
        assert!(!contains(body.as_bytes()));
        self.cli.helper(name, &body);
    }

    /// Runs `apko -C <project> --log-level LEVEL ARGS` with `stdin`; checks the exit code
    /// and that neither stdout nor stderr holds the sentinel.
    fn apko(&mut self, level: &str, args: &[&str], stdin: &str, code: i32) -> Out {
        let mut all = vec!["-C", env!("CARGO_MANIFEST_DIR"), "--log-level", level];
        all.extend(args);
        let out = self.cli.run_stdin(&all, stdin);
        self.runs += 1;
        assert_eq!(out.code, code, "{all:?}: {out:#?}");
        assert!(!contains(out.stdout.as_bytes()), "{all:?}: {out:#?}");
        assert!(!contains(out.stderr.as_bytes()), "{all:?}: {out:#?}");
        out
    }

    /// Checks the /proc watch and every file written, then how many commands ran.
    fn finish(self, runs: usize) {
        let (offenders, scans) = self.watch.finish();
        assert!(offenders.is_empty(), "the sentinel was in: {offenders:?}");
        assert!(scans > 10, "/proc was scanned {scans} times");
        let files = files_holding(self.cli.dir.path(), &self.exempt);
        assert!(files.is_empty(), "files holding the sentinel: {files:?}");
        assert_eq!(self.runs, runs);
    }
}

/// Runs docker-credential-apko (kernel keyring) with `action` and `stdin`: code, stdout,
/// stderr.
fn ours(action: &str, stdin: &str) -> (i32, String, String) {
    ours_on(
        &[("DOCKER_CREDENTIAL_APKO_BACKEND".into(), "keyutils".into())],
        action,
        stdin,
    )
}

/// docker-credential-apko with the variables `env` (its backend) on `action` and `stdin`.
fn ours_on(env: &[(String, String)], action: &str, stdin: &str) -> (i32, String, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(our_helper())
        .arg(action)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A helper that does not read its input (version) may close it first.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every byte of a docker tarball, with its gzip layers decompressed.
fn image_bytes(tarball: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut archive = tar::Archive::new(std::fs::File::open(tarball).unwrap());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if data.starts_with(&[0x1f, 0x8b]) {
            let mut plain = Vec::new();
            flate2::read::MultiGzDecoder::new(&data[..])
                .read_to_end(&mut plain)
                .unwrap();
            out.push(plain);
        }
        out.push(data);
    }
    out
}

#[test]
fn registry_commands_with_a_wrong_password() {
    let registry = Registry::start_htpasswd();
    let host = registry.host.clone();
    let mut scan = Scan::new();
    // A helper that answers with the sentinel as a (wrong) password and records its own
    // argv and environment.
    let dump = scan.cli.path("helper-env.log");
    scan.helper(
        "leaky",
        &format!(
            "in=$(cat)\n{{ echo \"ARGV $*\"; env; }} >> '{}'\n\
             [ \"$1\" = get ] && printf '{{\"ServerURL\":\"%s\",\"Username\":\"testuser\",\"Secret\":\"%s\"}}' \"$in\" \"$secret\"\n\
             exit 0",
            dump.display()
        ),
    );
    scan.cli.config_json(r#"{"credsStore":"leaky"}"#);
    // The environment carries it too (APKO_AUTH for another host): never passed on.
    scan.cli
        .env("APKO_AUTH", &format!("other.example=basic:u:{SENTINEL}"));
    let auth_file = scan.input("auth.txt", &format!("{host}=testuser:{SENTINEL}\n"));
    let layout = base_image();
    let layout = layout.to_str().unwrap();
    for level in LEVELS {
        let image = format!("{host}/leak/{level}:1");
        let tarball = scan.cli.path(&format!("{level}.tar"));
        let tarball = tarball.to_str().unwrap();
        // Refused for the right reason: the sentinel is the wrong password.
        let pulled = scan.cli.path(&format!("pulled-{level}"));
        let pulled = pulled.to_str().unwrap();
        let base = format!("{host}/leak/base:1");
        for args in [
            vec!["push", layout, &image],
            vec!["publish", EXAMPLE, &image],
            vec!["pull", &base, pulled],
        ] {
            let out = scan.apko(level, &args, "", 1);
            assert!(out.stderr.contains("401 Unauthorized from"), "{out:#?}");
        }
        let login = ["login", &host, "-u", "testuser", "--password-stdin"];
        let out = scan.apko(level, &login, SENTINEL, 1);
        assert!(out.stderr.contains("401 Unauthorized from"), "{out:#?}");
        let build = ["build", EXAMPLE, &image, tarball, "--auth-file", &auth_file];
        scan.apko(level, &build, "", 0);
        scan.apko(level, &["auth", "explain", &image], "", 0);
        for part in image_bytes(Path::new(tarball)) {
            assert!(!contains(&part), "the image built at {level} holds it");
        }
    }
    // `apko auth get` prints the secret on stdout by design (it is a helper's `get`); never on
    // stderr.
    let out = scan
        .cli
        .run(&["--log-level", "trace", "auth", "get", &host]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(
        out.stdout,
        format!(
            "{{\"ServerURL\":\"{host}\",\"Username\":\"testuser\",\"Secret\":\"{SENTINEL}\"}}\n"
        )
    );
    assert!(!contains(out.stderr.as_bytes()), "{}", out.stderr);

    // The helper ran, and never had the sentinel in its argv or environment.
    let log = std::fs::read(&dump).unwrap();
    assert!(log.starts_with(b"ARGV get"), "the helper never ran");
    assert!(!contains(&log), "the helper's argv or environment held it");
    // Nothing was stored: login failed.
    assert!(!contains(scan.cli.read_config_json().as_bytes()));
    scan.finish(LEVELS.len() * 6);
}

#[test]
fn repository_urls_with_credentials() {
    // An APK repository whose URL carries the sentinel as its password (as apko configs may):
    // it goes to the host as Basic credentials, and nowhere else: not the image's
    // /etc/apk/repositories, not show-config, show-packages, a lockfile, a rootfs, the
    // download cache or the logs.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hello/repo");
    let server = Server::start(move |req| {
        match std::fs::read(repo.join(req.path().trim_start_matches("/repo/"))) {
            Ok(bytes) => Response::new(200).body(bytes),
            Err(_) => Response::new(404),
        }
    });
    let mut scan = Scan::new();
    let key = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hello/apko-rs-example.rsa.pub");
    let config = scan.input(
        "apko.yaml",
        &format!(
            "contents:\n  keyring: [{}]\n  repositories: [http://user:{SENTINEL}@{}/repo]\n  packages: [hello]\narchs: [x86_64]\n",
            key.display(),
            server.addr
        ),
    );
    for level in LEVELS {
        let tarball = scan.cli.path(&format!("{level}.tar"));
        let tarball = tarball.to_str().unwrap();
        scan.apko(level, &["build", &config, "hello:1", tarball], "", 0);
        for part in image_bytes(Path::new(tarball)) {
            assert!(!contains(&part), "the image built at {level} holds it");
        }
        let out = scan.apko(level, &["show-config", &config], "", 0);
        assert!(
            out.stdout
                .contains(&format!("http://user:xxxxx@{}/repo", server.addr)),
            "{out:#?}"
        );
        // apko writes the URL, password and all, into the lockfile; this writes it without.
        let lockfile = scan.cli.path(&format!("{level}.lock.json"));
        let lockfile = lockfile.to_str().unwrap();
        scan.apko(level, &["lock", &config, "--output", lockfile], "", 0);
        let lock = std::fs::read_to_string(lockfile).unwrap();
        assert!(
            lock.contains(&format!(
                "\"url\": \"http://{}/repo/x86_64/APKINDEX.tar.gz\"",
                server.addr
            )),
            "{lock}"
        );
        let out = scan.apko(
            level,
            &["show-packages", &config, "--format", "name-version-source"],
            "",
            0,
        );
        assert!(
            out.stdout.contains(&format!(
                "hello 1.0-r0 http://{}/repo/x86_64/hello-1.0-r0.apk\n",
                server.addr
            )),
            "{out:#?}"
        );
        let rootfs = scan.cli.path(&format!("{level}.tar.gz"));
        let rootfs = rootfs.to_str().unwrap();
        scan.apko(level, &["build-minirootfs", &config, rootfs], "", 0);
        let mut plain = Vec::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(rootfs).unwrap())
            .read_to_end(&mut plain)
            .unwrap();
        assert!(!contains(&plain), "the rootfs built at {level} holds it");
    }
    // The credentials did reach the host: the one place they belong.
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("user:{SENTINEL}")
        )
    );
    let requests = server.requests();
    assert!(!requests.is_empty());
    assert!(
        requests
            .iter()
            .all(|r| r.header("authorization") == Some(basic.as_str())),
        "{requests:#?}"
    );
    scan.finish(LEVELS.len() * 5);
}

#[test]
fn helper_commands_and_every_docker_credential_apko_action() {
    let mut scan = Scan::new();
    let host = format!("leak-{}.example", std::process::id());
    // A helper holding the sentinel for `host`, and answering it for any host asked.
    scan.helper(
        "leaky",
        &format!(
            "in=$(cat)\ncase \"$1\" in\n\
             get) printf '{{\"ServerURL\":\"%s\",\"Username\":\"testuser\",\"Secret\":\"%s\"}}' \"$in\" \"$secret\" ;;\n\
             list) printf '{{\"https://{host}\":\"testuser\"}}' ;;\n\
             esac\nexit 0"
        ),
    );
    std::os::unix::fs::symlink(our_helper(), scan.cli.path("bin/docker-credential-apko")).unwrap();
    scan.cli.env("DOCKER_CREDENTIAL_APKO_BACKEND", "keyutils");
    scan.cli
        .config_json(&format!(r#"{{"credHelpers":{{"{host}":"leaky"}}}}"#));
    for level in LEVELS {
        scan.apko(level, &["logout", &host], "", 0);
        // The checklist flags a helper that answers for hosts it never stored; what it
        // answered is never shown.
        let out = scan.apko(level, &["auth", "test-helper", "leaky"], "", 1);
        assert!(out.stdout.contains("FAIL"), "{out:#?}");
        let json = ["auth", "test-helper", "leaky", "--format", "json"];
        scan.apko(level, &json, "", 1);
        let migrate = ["auth", "migrate", "--from", "leaky", "--to", "apko"];
        let out = scan.apko(level, &[&migrate[..], &["--dry-run"]].concat(), "", 0);
        assert!(out.stdout.contains(&host), "{out:#?}");
        scan.apko(level, &[&migrate[..], &["--overwrite"]].concat(), "", 0);
    }
    // The migrated entry is in the kernel keyring, where it belongs.
    let (code, stdout, stderr) = ours("get", &format!("https://{host}"));
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(
        stdout,
        format!(
            "{{\"ServerURL\":\"https://{host}\",\"Username\":\"testuser\",\"Secret\":\"{SENTINEL}\"}}\n"
        )
    );
    assert_eq!(ours("erase", &format!("https://{host}")).0, 0);

    // Every action of docker-credential-apko itself, good input and bad, on the kernel
    // keyring and on a real Secret Service (gnome-keyring on a private D-Bus).
    let entry = format!(r#"{{"ServerURL":"{host}","Username":"u","Secret":"{SENTINEL}"}}"#);
    let answer = format!("{entry}\n");
    let cases: Vec<(&str, String, i32, &str)> = vec![
        ("store", entry.clone(), 0, ""),
        // `get` answers with the secret on stdout: its one intended channel.
        ("get", host.clone(), 0, &answer),
        ("list", String::new(), 0, ""),
        ("erase", host.clone(), 0, ""),
        (
            "get",
            host.clone(),
            1,
            "credentials not found in native keychain\n",
        ),
        // Malformed input that holds the sentinel is never echoed.
        ("store", entry[..entry.len() - 1].to_string(), 1, ""),
        ("store", format!("{{\"Secret\":\"{SENTINEL}\"}}"), 1, ""),
        ("store", format!("{SENTINEL}\n"), 1, ""),
        ("version", String::new(), 0, ""),
        ("frobnicate", SENTINEL.to_string(), 1, ""),
    ];
    let service = crate::support::SecretService::start();
    let backend = |name: &str| {
        (
            "DOCKER_CREDENTIAL_APKO_BACKEND".to_string(),
            name.to_string(),
        )
    };
    let mut secret_service = service.env.clone();
    secret_service.push(backend("secret-service"));
    for env in [vec![backend("keyutils")], secret_service] {
        for (action, stdin, code, stdout) in &cases {
            let (got, out, err) = ours_on(&env, action, stdin);
            scan.runs += 1;
            assert_eq!(got, *code, "{action} {stdin:?} on {env:?}: {out}{err}");
            if !stdout.is_empty() {
                assert_eq!(out, *stdout, "{action} on {env:?}");
            }
            if out != answer {
                assert!(!contains(out.as_bytes()), "{action}: {out}");
            }
            assert!(!contains(err.as_bytes()), "{action}: {err}");
        }
    }
    scan.finish(LEVELS.len() * 5 + 2 * 10);
}

#[test]
fn forced_failures_crash_timeout_and_500() {
    let registry = Registry::start_htpasswd();
    let mut scan = Scan::new();
    // Crashes: `get` dies by a signal halfway through its answer; `store` echoes what it was
    // given on stderr and fails.
    scan.helper(
        "crashy",
        "case \"$1\" in\n\
         get) cat >/dev/null; printf '{\"ServerURL\":\"x\",\"Username\":\"testuser\",\"Secret\":\"%s' \"$secret\"; kill -SEGV $$ ;;\n\
         store) cat >&2; exit 3 ;;\n\
         esac\nexit 0",
    );
    // Hangs: never answers (killed after APKO_CREDENTIAL_HELPER_TIMEOUT).
    scan.helper("sleepy", "cat >/dev/null\nexec sleep 30");
    scan.cli.env("APKO_CREDENTIAL_HELPER_TIMEOUT", "1");
    // A registry that answers 500 to anything with credentials, its error message echoing
    // the Authorization header and the password in it.
    let upstream = registry.host.clone();
    let proxy = Server::start(move |req| {
        match req.header("authorization") {
        Some(auth) => Response::new(500)
            .header("Content-Type", "application/json")
            .body(format!(
                r#"{{"errors":[{{"code":"UNKNOWN","message":"cannot check {auth} ({SENTINEL})"}}]}}"#
            )),
        None => forward(&upstream, req),
    }
    });
    let failing = proxy.addr.clone();
    let (crash_host, sleep_host) = ("crash.example", "sleep.example");
    scan.cli.config_json(&format!(
        r#"{{"credHelpers":{{"{crash_host}":"crashy","{sleep_host}":"sleepy","{}":"crashy"}}}}"#,
        registry.host
    ));
    // A later source for the registry: the sentinel as its (wrong) password.
    scan.cli.env(
        "APKO_AUTH",
        &format!("{}=testuser:{SENTINEL}", registry.host),
    );
    let auth_file = scan.input("auth.txt", &format!("{failing}=testuser:{SENTINEL}\n"));
    let layout = base_image();
    let layout = layout.to_str().unwrap();
    for level in LEVELS {
        for (host, get_fails, store_fails) in [
            (
                crash_host,
                "docker-credential-crashy (get) failed with signal 11: <74 bytes withheld: they may contain a secret>\n",
                r#"docker-credential-crashy (store) failed with exit status 3: no output; stderr: {"ServerURL":"crash.example","Username":"testuser","Secret":"<redacted>"}"#,
            ),
            (
                sleep_host,
                "docker-credential-sleepy (get) did not answer within 1s and was killed;",
                "docker-credential-sleepy (store) did not answer within 1s and was killed;",
            ),
        ] {
            let out = scan.apko(level, &["auth", "get", host], "", 1);
            assert!(out.stderr.contains(get_fails), "{out:#?}");
            let login = [
                "login",
                host,
                "-u",
                "testuser",
                "--password-stdin",
                "--no-verify",
            ];
            let out = scan.apko(level, &login, SENTINEL, 1);
            assert!(out.stderr.contains(store_fails), "{out:#?}");
        }
        // The helper crashes, the next source's password is refused.
        let image = format!("{}/leak:1", registry.host);
        let out = scan.apko(level, &["push", layout, &image], "", 1);
        assert!(out.stderr.contains("401 Unauthorized"), "{out:#?}");
        // The registry answers 500 to the login check and to the push.
        // One retry (--retry-times, as skopeo's) keeps the retried path in the scan.
        let login = [
            "login",
            &failing,
            "-u",
            "testuser",
            "--password-stdin",
            "--retry-times",
            "1",
        ];
        let out = scan.apko(level, &login, SENTINEL, 1);
        let echo = "(UNKNOWN: cannot check Basic <redacted> (<redacted>))";
        assert!(
            out.stderr.ends_with(&format!(
                "Error: login to {failing} failed: 500 Internal Server Error from {failing} {echo}; nothing was stored\n"
            )),
            "{out:#?}"
        );
        let image = format!("{failing}/leak:1");
        let push = [
            "push",
            layout,
            &image,
            "--auth-file",
            &auth_file,
            "--retry-times",
            "1",
        ];
        let out = scan.apko(level, &push, "", 1);
        // (HEAD answers carry no body to echo.)
        assert!(
            out.stderr
                .contains(": 500 Internal Server Error (after 2 attempts)\n"),
            "{out:#?}"
        );
    }
    assert!(!contains(scan.cli.read_config_json().as_bytes()));
    scan.finish(LEVELS.len() * 7);
}

#[test]
fn the_scan_itself_can_fail() {
    // A child with the sentinel in its environment, another with it in its argv, and a file
    // holding it: each is reported.
    let _alone = CONTROL.write().unwrap_or_else(|e| e.into_inner());
    let watch = ProcWatch::start(&[]);
    let mut by_env = std::process::Command::new("sleep")
        .arg("0.3")
        .env("LEAKED", SENTINEL)
        .spawn()
        .unwrap();
    let mut by_argv = std::process::Command::new("sh")
        .args(["-c", "sleep 0.3; true", SENTINEL])
        .spawn()
        .unwrap();
    by_env.wait().unwrap();
    by_argv.wait().unwrap();
    let (found, _) = watch.finish();
    assert!(found.iter().any(|f| f.starts_with("sleep [")), "{found:?}");
    assert!(found.iter().any(|f| f.starts_with("sh [")), "{found:?}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/f"), format!("x{SENTINEL}y")).unwrap();
    assert_eq!(
        files_holding(dir.path(), &[]),
        vec![dir.path().join("sub/f")]
    );
    assert!(files_holding(dir.path(), &[dir.path().join("sub")]).is_empty());
}
