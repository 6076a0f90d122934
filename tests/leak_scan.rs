//! The secret-leak scan: every registry-facing command (`build`, `push`, `publish`, `login`,
//! `auth explain`, `auth get`) with a sentinel secret that the real registry refuses, at every
//! log level. The sentinel must appear nowhere but where it belongs: not on stdout or stderr,
//! not in any child's argv or environment (watched in /proc while the commands run), not in
//! the helper's own argv or environment, not in any file written (config.json, the image).

mod registry_common;

use apko_test_support::Registry;
use apko_test_support::SENTINEL;
use registry_common::Cli;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Relative to the project root (`-C`), where its repository paths point.
const EXAMPLE: &str = "examples/hello/apko.yaml";

/// Every process other than `apko` itself (whose own argv/environment carries what the user
/// put there) whose argv or environment shows the sentinel, while it runs.
struct ProcWatch {
    stop: Arc<AtomicBool>,
    found: Arc<Mutex<Vec<String>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ProcWatch {
    fn start() -> ProcWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let found: Arc<Mutex<Vec<String>>> = Arc::default();
        let (s, f) = (stop.clone(), found.clone());
        let me = std::process::id().to_string();
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                for entry in std::fs::read_dir("/proc").unwrap().flatten() {
                    let pid = entry.file_name().to_string_lossy().into_owned();
                    if pid == me || !pid.bytes().all(|b| b.is_ascii_digit()) {
                        continue;
                    }
                    let read =
                        |f: &str| std::fs::read(format!("/proc/{pid}/{f}")).unwrap_or_default();
                    let environ = read("environ");
                    let cmdline = read("cmdline");
                    let hit =
                        |d: &[u8]| d.windows(SENTINEL.len()).any(|w| w == SENTINEL.as_bytes());
                    if !hit(&environ) && !hit(&cmdline) {
                        continue;
                    }
                    // apko itself (the user put the sentinel in its environment), including a
                    // child between fork and exec, which is still apko's image.
                    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
                    let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
                    if exe == Path::new(env!("CARGO_BIN_EXE_apko"))
                        || argv0 == env!("CARGO_BIN_EXE_apko").as_bytes()
                    {
                        continue;
                    }
                    let comm = String::from_utf8_lossy(&read("comm")).trim().to_string();
                    f.lock().unwrap().push(format!(
                        "{comm} [exe {}, argv0 {}]",
                        exe.display(),
                        String::from_utf8_lossy(argv0)
                    ));
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        });
        ProcWatch {
            stop,
            found,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap();
        self.found.lock().unwrap().clone()
    }
}

fn contains(hay: &[u8]) -> bool {
    hay.windows(SENTINEL.len())
        .any(|w| w == SENTINEL.as_bytes())
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
fn the_sentinel_appears_nowhere_it_does_not_belong() {
    let registry = Registry::start_htpasswd();
    let host = registry.host.clone();
    let mut cli = Cli::new();
    // A helper that answers with the sentinel as a (wrong) password and records its own
    // argv and environment.
    let dump = cli.path("helper-env.log");
    cli.helper(
        "leaky",
        &format!(
            "in=$(cat)\n{{ echo \"ARGV $*\"; env; }} >> '{}'\n\
             [ \"$1\" = get ] && printf '{{\"ServerURL\":\"%s\",\"Username\":\"testuser\",\"Secret\":\"{SENTINEL}\"}}' \"$in\"\n\
             [ \"$1\" = store ] && exit 0\nexit 0",
            dump.display()
        ),
    );
    cli.config_json(r#"{"credsStore":"leaky"}"#);
    // The environment carries it too (APKO_AUTH for another host): never passed on.
    cli.env("APKO_AUTH", &format!("other.example=basic:u:{SENTINEL}"));
    let layout = apko_test_support::layout::base_image();
    let watch = ProcWatch::start();
    let mut runs = 0;
    for level in ["trace", "debug", "info", "warn", "error"] {
        let image = format!("{host}/leak/{level}:1");
        let tarball = cli.path(&format!("{level}.tar"));
        let cases: Vec<(Vec<String>, &str, bool)> = vec![
            (
                vec!["push".into(), layout.display().to_string(), image.clone()],
                "",
                false,
            ),
            (
                vec!["publish".into(), EXAMPLE.into(), image.clone()],
                "",
                false,
            ),
            (
                vec![
                    "build".into(),
                    EXAMPLE.into(),
                    image.clone(),
                    tarball.display().to_string(),
                    "--auth-file".into(),
                    cli.file("auth.txt", &format!("{host}=testuser:{SENTINEL}\n"))
                        .display()
                        .to_string(),
                ],
                "",
                true,
            ),
            (
                vec!["auth".into(), "explain".into(), image.clone()],
                "",
                true,
            ),
            (
                vec![
                    "login".into(),
                    host.clone(),
                    "-u".into(),
                    "testuser".into(),
                    "--password-stdin".into(),
                ],
                SENTINEL,
                false,
            ),
        ];
        for (args, stdin, succeeds) in cases {
            let mut all: Vec<&str> = vec!["-C", env!("CARGO_MANIFEST_DIR"), "--log-level", level];
            all.extend(args.iter().map(String::as_str));
            let out = cli.run_stdin(&all, stdin);
            runs += 1;
            assert_eq!(out.code == 0, succeeds, "{all:?}: {out:#?}");
            if !succeeds {
                // Refused for the right reason: the sentinel is the wrong password.
                assert!(
                    out.stderr.contains("401 Unauthorized from"),
                    "{all:?}: {}",
                    out.stderr
                );
            }
            assert!(
                !contains(out.stdout.as_bytes()),
                "{all:?} stdout: {}",
                out.stdout
            );
            assert!(
                !contains(out.stderr.as_bytes()),
                "{all:?} stderr: {}",
                out.stderr
            );
        }
        for part in image_bytes(&tarball) {
            assert!(
                !contains(&part),
                "the image built at {level} holds the sentinel"
            );
        }
    }
    // `apko auth get` prints the secret on stdout by design (it is a helper's `get`); never on
    // stderr.
    let out = cli.run(&["--log-level", "trace", "auth", "get", &host]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(out.stdout.contains(SENTINEL));
    assert!(!contains(out.stderr.as_bytes()), "{}", out.stderr);
    let offenders = watch.finish();
    assert!(offenders.is_empty(), "the sentinel was in: {offenders:?}");

    // The helper ran, and never had the sentinel in its argv or environment.
    let log = std::fs::read(&dump).unwrap();
    assert!(log.starts_with(b"ARGV get"), "the helper never ran");
    assert!(
        !contains(&log),
        "the helper's argv or environment held the sentinel"
    );
    // No file written beside it holds it: config.json (login failed: nothing stored).
    let config = std::fs::read(cli.docker_config().join("config.json")).unwrap();
    assert!(!contains(&config));
    assert_eq!(runs, 25);
}
