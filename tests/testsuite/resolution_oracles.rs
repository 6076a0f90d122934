//! The credential resolver against two real oracles over one matrix of configurations:
//! crane (`crane auth get`: go-containerregistry's DefaultKeychain, which real apko's `publish`
//! uses) and skopeo (`skopeo login --get-login`: containers/image, username only). Every cell
//! where apko disagrees with an oracle must be listed in `DISAGREEMENTS` with the tool whose
//! behaviour apko follows and why; an unlisted disagreement, or a listed one that no longer
//! happens, fails the test. The table is printed and written to
//! `target/resolution-oracles/table.md` (`bash benches/resolution.sh` prints it).

use crate::support::{fake_helper, peer, require};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What a tool resolved for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    /// Username and secret (skopeo tells the username only: secret `None`).
    Found(String, Option<String>),
    /// No credentials: anonymous.
    NotFound,
    /// The tool failed (bad file, failing helper): the first line of what it said.
    Error(String),
}

impl Answer {
    fn short(&self) -> String {
        match self {
            Answer::Found(u, Some(s)) => format!("{u}:{s}"),
            Answer::Found(u, None) => format!("{u}:?"),
            Answer::NotFound => "none".into(),
            Answer::Error(_) => "error".into(),
        }
    }

    /// Compared as far as the oracle can tell (skopeo: the username only).
    fn agrees_with(&self, oracle: &Answer) -> bool {
        match (self, oracle) {
            (Answer::Found(u, s), Answer::Found(ou, os)) => {
                u == ou && (os.is_none() || s.as_ref() == os.as_ref())
            }
            (Answer::NotFound, Answer::NotFound) => true,
            (Answer::Error(_), Answer::Error(_)) => true,
            _ => false,
        }
    }
}

/// One configuration and the host asked about.
struct Case {
    id: &'static str,
    /// `~/.docker/config.json`.
    docker: Option<&'static str>,
    /// `$REGISTRY_AUTH_FILE`.
    registry_auth_file: Option<&'static str>,
    /// podman's `$XDG_RUNTIME_DIR/containers/auth.json`.
    podman: Option<&'static str>,
    /// `$DOCKER_AUTH_CONFIG`.
    env_auth_config: Option<&'static str>,
    host: &'static str,
}

const fn case(id: &'static str, docker: &'static str, host: &'static str) -> Case {
    Case {
        id,
        docker: Some(docker),
        registry_auth_file: None,
        podman: None,
        env_auth_config: None,
        host,
    }
}

/// `case` with `$DOCKER_AUTH_CONFIG` set.
const fn env_case(
    id: &'static str,
    env: &'static str,
    docker: &'static str,
    host: &'static str,
) -> Case {
    Case {
        id,
        docker: Some(docker),
        registry_auth_file: None,
        podman: None,
        env_auth_config: Some(env),
        host,
    }
}

fn cases() -> Vec<Case> {
    // auths with the secret in `auth`, key varied.
    macro_rules! auths {
        ($key:literal) => {
            concat!(r#"{"auths":{""#, $key, r#"":{"auth":"dTpw"}}}"#)
        };
    }
    vec![
        case("empty config", "{}", "r.example"),
        case("auths host", auths!("r.example"), "r.example"),
        case(
            "auths https://host",
            auths!("https://r.example"),
            "r.example",
        ),
        case("auths http://host", auths!("http://r.example"), "r.example"),
        case(
            "auths https://host/v1/",
            auths!("https://r.example/v1/"),
            "r.example",
        ),
        case(
            "auths https://host/v2/",
            auths!("https://r.example/v2/"),
            "r.example",
        ),
        case(
            "auths https://host/some/path",
            auths!("https://r.example/some/path"),
            "r.example",
        ),
        case(
            "auths host/namespace",
            auths!("r.example/team"),
            "r.example",
        ),
        case("auths uppercase key", auths!("R.Example"), "r.example"),
        case(
            "auths key, uppercase query",
            auths!("r.example"),
            "R.Example",
        ),
        case(
            "auths host:port",
            auths!("r.example:5000"),
            "r.example:5000",
        ),
        case(
            "auths host, query host:port",
            auths!("r.example"),
            "r.example:5000",
        ),
        case(
            "auths host:port, query host",
            auths!("r.example:5000"),
            "r.example",
        ),
        case("auths other host", auths!("q.example"), "r.example"),
        case(
            "auths username+password",
            r#"{"auths":{"r.example":{"username":"v","password":"w"}}}"#,
            "r.example",
        ),
        case(
            "auths auth and username+password",
            r#"{"auths":{"r.example":{"auth":"dTpw","username":"v","password":"w"}}}"#,
            "r.example",
        ),
        case(
            "auths identitytoken",
            r#"{"auths":{"r.example":{"auth":"dTpw","identitytoken":"idt"}}}"#,
            "r.example",
        ),
        case(
            "auths registrytoken",
            r#"{"auths":{"r.example":{"registrytoken":"rt"}}}"#,
            "r.example",
        ),
        case(
            "auths auth not base64",
            r#"{"auths":{"r.example":{"auth":"%%%"}}}"#,
            "r.example",
        ),
        case(
            "auths auth without colon",
            r#"{"auths":{"r.example":{"auth":"dXNlcg=="}}}"#,
            "r.example",
        ),
        case(
            "auths empty entry",
            r#"{"auths":{"r.example":{}}}"#,
            "r.example",
        ),
        case("malformed json", r#"{"auths":"#, "r.example"),
        // Docker Hub.
        case(
            "hub key, query docker.io",
            auths!("https://index.docker.io/v1/"),
            "docker.io",
        ),
        case(
            "hub key, query index.docker.io",
            auths!("https://index.docker.io/v1/"),
            "index.docker.io",
        ),
        case(
            "hub key, query registry-1.docker.io",
            auths!("https://index.docker.io/v1/"),
            "registry-1.docker.io",
        ),
        case(
            "docker.io key, query docker.io",
            auths!("docker.io"),
            "docker.io",
        ),
        case(
            "index.docker.io key, query docker.io",
            auths!("index.docker.io"),
            "docker.io",
        ),
        // Helpers.
        case("credsStore", r#"{"credsStore":"alpha"}"#, "r.example"),
        case("credsStore, hub", r#"{"credsStore":"alpha"}"#, "docker.io"),
        case(
            "credsStore and auths",
            r#"{"credsStore":"alpha","auths":{"r.example":{"auth":"dTpw"}}}"#,
            "r.example",
        ),
        case(
            "credsStore miss, auths",
            r#"{"credsStore":"miss","auths":{"r.example":{"auth":"dTpw"}}}"#,
            "r.example",
        ),
        case("credsStore miss", r#"{"credsStore":"miss"}"#, "r.example"),
        case(
            "credsStore failing",
            r#"{"credsStore":"broken"}"#,
            "r.example",
        ),
        case(
            "credsStore failing, auths",
            r#"{"credsStore":"broken","auths":{"r.example":{"auth":"dTpw"}}}"#,
            "r.example",
        ),
        case(
            "credsStore not installed",
            r#"{"credsStore":"absent"}"#,
            "r.example",
        ),
        case(
            "credHelpers host",
            r#"{"credHelpers":{"r.example":"alpha"}}"#,
            "r.example",
        ),
        case(
            "credHelpers over credsStore",
            r#"{"credsStore":"beta","credHelpers":{"r.example":"alpha"}}"#,
            "r.example",
        ),
        case(
            "credHelpers other host, credsStore",
            r#"{"credsStore":"beta","credHelpers":{"q.example":"alpha"}}"#,
            "r.example",
        ),
        case(
            "credHelpers uppercase key, same query",
            r#"{"credHelpers":{"R.Example":"alpha"}}"#,
            "R.Example",
        ),
        case(
            "credHelpers uppercase key, lowercase query",
            r#"{"credHelpers":{"R.Example":"alpha"}}"#,
            "r.example",
        ),
        case(
            "credHelpers https key",
            r#"{"credHelpers":{"https://r.example":"alpha"}}"#,
            "r.example",
        ),
        case(
            "credHelpers host:port",
            r#"{"credHelpers":{"r.example:5000":"alpha"}}"#,
            "r.example:5000",
        ),
        case(
            "credHelpers empty name, auths, credsStore",
            r#"{"credsStore":"beta","credHelpers":{"r.example":""},"auths":{"r.example":{"auth":"dTpw"}}}"#,
            "r.example",
        ),
        case(
            "credHelpers miss, auths",
            r#"{"credHelpers":{"r.example":"miss"},"auths":{"r.example":{"auth":"dTpw"}}}"#,
            "r.example",
        ),
        case(
            "credHelpers docker.io",
            r#"{"credHelpers":{"docker.io":"alpha"}}"#,
            "docker.io",
        ),
        case(
            "credHelpers index.docker.io",
            r#"{"credHelpers":{"index.docker.io":"alpha"}}"#,
            "docker.io",
        ),
        case(
            "credHelpers hub key",
            r#"{"credHelpers":{"https://index.docker.io/v1/":"alpha"}}"#,
            "docker.io",
        ),
        // Other files.
        Case {
            id: "REGISTRY_AUTH_FILE only",
            docker: None,
            registry_auth_file: Some(auths!("r.example")),
            podman: None,
            env_auth_config: None,
            host: "r.example",
        },
        Case {
            id: "docker config and REGISTRY_AUTH_FILE",
            // base64("docker:p")
            docker: Some(r#"{"auths":{"r.example":{"auth":"ZG9ja2VyOnA="}}}"#),
            registry_auth_file: Some(auths!("r.example")),
            podman: None,
            env_auth_config: None,
            host: "r.example",
        },
        Case {
            id: "docker config for another host, REGISTRY_AUTH_FILE",
            docker: Some(auths!("q.example")),
            registry_auth_file: Some(auths!("r.example")),
            podman: None,
            env_auth_config: None,
            host: "r.example",
        },
        Case {
            id: "credsStore in REGISTRY_AUTH_FILE",
            docker: None,
            registry_auth_file: Some(r#"{"credsStore":"alpha"}"#),
            podman: None,
            env_auth_config: None,
            host: "r.example",
        },
        Case {
            id: "credHelpers in REGISTRY_AUTH_FILE",
            docker: None,
            registry_auth_file: Some(r#"{"credHelpers":{"r.example":"alpha"}}"#),
            podman: None,
            env_auth_config: None,
            host: "r.example",
        },
        Case {
            id: "podman auth.json only",
            docker: None,
            registry_auth_file: None,
            podman: Some(auths!("r.example")),
            env_auth_config: None,
            host: "r.example",
        },
        Case {
            id: "docker config for another host, podman auth.json",
            docker: Some(auths!("q.example")),
            registry_auth_file: None,
            podman: Some(auths!("r.example")),
            env_auth_config: None,
            host: "r.example",
        },
        Case {
            id: "REGISTRY_AUTH_FILE and podman auth.json",
            docker: None,
            // base64("raf:p")
            registry_auth_file: Some(r#"{"auths":{"r.example":{"auth":"cmFmOnA="}}}"#),
            podman: Some(auths!("r.example")),
            env_auth_config: None,
            host: "r.example",
        },
        // DOCKER_AUTH_CONFIG (base64("env:p") = ZW52OnA=).
        env_case(
            "DOCKER_AUTH_CONFIG only",
            r#"{"auths":{"r.example":{"auth":"ZW52OnA="}}}"#,
            "{}",
            "r.example",
        ),
        env_case(
            "DOCKER_AUTH_CONFIG over credHelpers",
            r#"{"auths":{"r.example":{"auth":"ZW52OnA="}}}"#,
            r#"{"credHelpers":{"r.example":"alpha"}}"#,
            "r.example",
        ),
        env_case(
            "DOCKER_AUTH_CONFIG for another host, credsStore",
            r#"{"auths":{"q.example":{"auth":"ZW52OnA="}}}"#,
            r#"{"credsStore":"alpha"}"#,
            "r.example",
        ),
        env_case(
            "DOCKER_AUTH_CONFIG hub key",
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"ZW52OnA="}}}"#,
            "{}",
            "docker.io",
        ),
        env_case(
            "DOCKER_AUTH_CONFIG with credsStore",
            r#"{"credsStore":"alpha","auths":{}}"#,
            auths!("r.example"),
            "r.example",
        ),
        env_case(
            "DOCKER_AUTH_CONFIG entry without auth",
            r#"{"auths":{"r.example":{"username":"env","password":"p"}}}"#,
            auths!("r.example"),
            "r.example",
        ),
        env_case(
            "DOCKER_AUTH_CONFIG malformed",
            r#"{"auths":"#,
            auths!("r.example"),
            "r.example",
        ),
        Case {
            id: "no files at all",
            docker: None,
            registry_auth_file: None,
            podman: None,
            env_auth_config: None,
            host: "r.example",
        },
    ]
}

/// Where apko disagrees with an oracle, on purpose or not yet fixed: (case, oracle, why).
/// Every entry must still happen; every disagreement must be here.
const DISAGREEMENTS: &[(&str, &str, &str)] = &[
    // Keys and names.
    (
        "auths host/namespace",
        "crane",
        "follows skopeo: a bare `host/ns` key is a containers-auth.json namespace, for repositories under it only; docker reads it as the whole host",
    ),
    (
        "auths uppercase key",
        "crane",
        "host names are case-insensitive (RFC 4343): `docker login R.Example` must not make `r.example` anonymous; docker and containers/image compare keys exactly",
    ),
    (
        "auths uppercase key",
        "skopeo",
        "as for crane: host names are case-insensitive",
    ),
    (
        "auths key, uppercase query",
        "crane",
        "host names are case-insensitive",
    ),
    (
        "auths key, uppercase query",
        "skopeo",
        "host names are case-insensitive",
    ),
    (
        "credHelpers uppercase key, lowercase query",
        "crane",
        "host names are case-insensitive; the helper is asked with the key as the file spells it",
    ),
    (
        "credHelpers uppercase key, lowercase query",
        "skopeo",
        "host names are case-insensitive",
    ),
    (
        "hub key, query registry-1.docker.io",
        "crane",
        "follows skopeo: registry-1.docker.io is Docker Hub's API host, the same registry",
    ),
    (
        "docker.io key, query docker.io",
        "crane",
        "follows skopeo: podman and skopeo write Docker Hub's entry as `docker.io`",
    ),
    (
        "index.docker.io key, query docker.io",
        "crane",
        "Docker Hub's other name, as for `docker.io`",
    ),
    (
        "credHelpers docker.io",
        "crane",
        "follows skopeo: a `docker.io` credHelpers key is how podman users name Docker Hub",
    ),
    (
        "credHelpers index.docker.io",
        "crane",
        "Docker Hub's other name, as for `docker.io`",
    ),
    (
        "credHelpers index.docker.io",
        "skopeo",
        "Docker Hub's other name, as for `docker.io`",
    ),
    (
        "credHelpers hub key",
        "skopeo",
        "follows docker: `https://index.docker.io/v1/` is the key docker writes for Docker Hub",
    ),
    // Fields.
    (
        "auths username+password",
        "skopeo",
        "follows docker: containers/image reads only `auth`, docker also `username`/`password`",
    ),
    (
        "auths identitytoken",
        "skopeo",
        "follows docker: an identity token is exchanged for a registry token; containers/image ignores it",
    ),
    (
        "auths registrytoken",
        "crane",
        "the helper protocol cannot carry a registry token: `apko auth get` says so (crane prints empty credentials); builds and pushes send it as a bearer token",
    ),
    (
        "auths registrytoken",
        "skopeo",
        "follows docker: containers/image ignores `registrytoken`",
    ),
    // Helpers.
    (
        "credsStore",
        "skopeo",
        "follows docker: `credsStore` in docker's config.json is docker's setting; containers/image ignores it",
    ),
    (
        "credsStore, hub",
        "skopeo",
        "containers/image ignores `credsStore`",
    ),
    (
        "credsStore and auths",
        "skopeo",
        "containers/image ignores `credsStore`",
    ),
    (
        "credHelpers other host, credsStore",
        "skopeo",
        "containers/image ignores `credsStore`",
    ),
    (
        "credsStore failing",
        "skopeo",
        "containers/image ignores `credsStore`",
    ),
    (
        "credsStore not installed",
        "skopeo",
        "containers/image ignores `credsStore`",
    ),
    (
        "credsStore in REGISTRY_AUTH_FILE",
        "crane",
        "follows skopeo, the tool that owns REGISTRY_AUTH_FILE: `credsStore` there means nothing (go-containerregistry reads the file as a docker config)",
    ),
    (
        "credHelpers empty name, auths, credsStore",
        "skopeo",
        "follows docker (no helper, `auths`); skopeo tries to run `docker-credential-` and fails",
    ),
    (
        "credsStore miss, auths",
        "crane",
        "a helper that has no entry is not the last word: apko goes on to the file's `auths` (docker then sends nothing)",
    ),
    (
        "credHelpers miss, auths",
        "crane",
        "as for credsStore: after a helper's miss, `auths`",
    ),
    (
        "credHelpers miss, auths",
        "skopeo",
        "as for crane: after a helper's miss, `auths`",
    ),
    (
        "credsStore failing, auths",
        "crane",
        "a failing helper does not stop a lookup that has another source; go-containerregistry fails",
    ),
    // DOCKER_AUTH_CONFIG (containers/image does not read it).
    (
        "DOCKER_AUTH_CONFIG only",
        "skopeo",
        "follows docker: DOCKER_AUTH_CONFIG is docker's (docker/cli 28+, read by go-containerregistry); containers/image ignores it",
    ),
    (
        "DOCKER_AUTH_CONFIG over credHelpers",
        "skopeo",
        "containers/image ignores DOCKER_AUTH_CONFIG",
    ),
    (
        "DOCKER_AUTH_CONFIG hub key",
        "skopeo",
        "containers/image ignores DOCKER_AUTH_CONFIG",
    ),
    (
        "DOCKER_AUTH_CONFIG for another host, credsStore",
        "skopeo",
        "containers/image ignores DOCKER_AUTH_CONFIG and credsStore",
    ),
    (
        "DOCKER_AUTH_CONFIG with credsStore",
        "crane",
        "a DOCKER_AUTH_CONFIG docker refuses (it takes only auths entries with auth) is an error naming the variable; docker warns and ignores it, so a CI job would go on without the credentials it was given",
    ),
    (
        "DOCKER_AUTH_CONFIG with credsStore",
        "skopeo",
        "as for crane: a clear error",
    ),
    (
        "DOCKER_AUTH_CONFIG entry without auth",
        "crane",
        "as for credsStore: a clear error, where docker warns and ignores the variable",
    ),
    (
        "DOCKER_AUTH_CONFIG entry without auth",
        "skopeo",
        "a clear error",
    ),
    (
        "DOCKER_AUTH_CONFIG malformed",
        "crane",
        "a clear error (naming the variable and the position, never its text), where docker warns and ignores the variable",
    ),
    ("DOCKER_AUTH_CONFIG malformed", "skopeo", "a clear error"),
    // Files.
    (
        "docker config and REGISTRY_AUTH_FILE",
        "skopeo",
        "follows docker and go-containerregistry (real apko): docker's config.json first; skopeo reads REGISTRY_AUTH_FILE first",
    ),
    (
        "docker config for another host, REGISTRY_AUTH_FILE",
        "crane",
        "follows skopeo: every file is read in order; go-containerregistry reads only the first file that exists",
    ),
    (
        "docker config for another host, podman auth.json",
        "crane",
        "follows skopeo: every file is read in order",
    ),
];

struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new(case: &Case) -> World {
        let dir = tempfile::tempdir().unwrap();
        let w = World { dir };
        std::fs::create_dir_all(w.path("home")).unwrap();
        std::fs::create_dir_all(w.path("run/containers")).unwrap();
        std::fs::create_dir_all(w.path("bin")).unwrap();
        if let Some(text) = case.docker {
            std::fs::create_dir_all(w.path("home/.docker")).unwrap();
            std::fs::write(w.path("home/.docker/config.json"), text).unwrap();
        }
        if let Some(text) = case.registry_auth_file {
            std::fs::write(w.path("registry-auth.json"), text).unwrap();
        }
        if let Some(text) = case.podman {
            std::fs::write(w.path("run/containers/auth.json"), text).unwrap();
        }
        // Each helper names itself and the ServerURL it was asked for in the secret, so a
        // cell also shows which helper ran and with which key.
        let bin = w.path("bin");
        for name in ["alpha", "beta"] {
            fake_helper(
                &bin,
                name,
                &format!(
                    r#"[ "$1" = get ] || exit 1
read -r url
printf '{{"ServerURL":"%s","Username":"{name}","Secret":"{name}@%s"}}\n' "$url" "$url""#
                ),
            );
        }
        fake_helper(
            &bin,
            "miss",
            "echo 'credentials not found in native keychain'; exit 1",
        );
        fake_helper(&bin, "broken", "echo 'the store is locked'; exit 1");
        w
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn command(&self, program: &Path, case: &Case) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("HOME", self.path("home"))
            .env("XDG_RUNTIME_DIR", self.path("run"))
            .env("XDG_CONFIG_HOME", self.path("home/.config"))
            .env(
                "PATH",
                format!(
                    "{}:/usr/local/bin:/usr/bin:/bin",
                    self.path("bin").display()
                ),
            )
            .current_dir(self.dir.path());
        if case.registry_auth_file.is_some() {
            cmd.env("REGISTRY_AUTH_FILE", self.path("registry-auth.json"));
        }
        if let Some(text) = case.env_auth_config {
            cmd.env("DOCKER_AUTH_CONFIG", text);
        }
        cmd
    }
}

fn first_line(text: &[u8]) -> String {
    String::from_utf8_lossy(text)
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .to_string()
}

/// A helper-format answer: `{"Username":…,"Secret":…}` or the not-found text.
fn helper_answer(out: &std::process::Output) -> Answer {
    let stdout = String::from_utf8_lossy(&out.stdout);
    if out.status.success() {
        let v: serde_json::Value = serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"));
        let field = |k: &str| v[k].as_str().unwrap_or("").to_string();
        return Answer::Found(field("Username"), Some(field("Secret")));
    }
    if stdout.trim() == "credentials not found in native keychain" {
        return Answer::NotFound;
    }
    let said = first_line(&out.stderr);
    Answer::Error(if said.is_empty() {
        first_line(&out.stdout)
    } else {
        said
    })
}

fn ours(w: &World, case: &Case) -> Answer {
    let out = w
        .command(Path::new(env!("CARGO_BIN_EXE_apko")), case)
        .args(["auth", "get", case.host])
        .output()
        .unwrap();
    helper_answer(&out)
}

fn crane(w: &World, case: &Case) -> Answer {
    let out = w
        .command(&peer("crane"), case)
        .args(["auth", "get", case.host])
        .output()
        .unwrap();
    helper_answer(&out)
}

fn skopeo(w: &World, case: &Case) -> Answer {
    let out = w
        .command(&require("skopeo", "skopeo"), case)
        .args(["login", "--get-login", case.host])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if out.status.success() {
        return Answer::Found(stdout.trim().to_string(), None);
    }
    let said = first_line(&out.stderr);
    if said.contains("not logged into") {
        Answer::NotFound
    } else {
        Answer::Error(said)
    }
}

#[test]
fn resolution_agrees_with_crane_and_skopeo_except_where_listed() {
    let cases = cases();
    let mut table =
        String::from("| case | host | apko | crane | skopeo |\n|---|---|---|---|---|\n");
    let mut found: BTreeMap<(String, String), (Answer, Answer)> = BTreeMap::new();
    let mut agree: BTreeMap<&str, usize> = BTreeMap::new();
    for case in &cases {
        let w = World::new(case);
        let a = ours(&w, case);
        let c = crane(&w, case);
        let s = skopeo(&w, case);
        let mark = |o: &Answer| {
            if a.agrees_with(o) {
                o.short()
            } else {
                format!("**{}**", o.short())
            }
        };
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            case.id,
            case.host,
            a.short(),
            mark(&c),
            mark(&s)
        ));
        for (oracle, answer) in [("crane", &c), ("skopeo", &s)] {
            if a.agrees_with(answer) {
                *agree.entry(oracle).or_default() += 1;
            } else {
                found.insert(
                    (case.id.to_string(), oracle.to_string()),
                    (a.clone(), answer.clone()),
                );
            }
        }
    }
    table.push_str(&format!(
        "\n{} cases: apko agrees with crane in {}, with skopeo in {}.\n",
        cases.len(),
        agree.get("crane").copied().unwrap_or(0),
        agree.get("skopeo").copied().unwrap_or(0)
    ));
    let listed: BTreeMap<(String, String), &str> = DISAGREEMENTS
        .iter()
        .map(|(c, o, why)| ((c.to_string(), o.to_string()), *why))
        .collect();
    let mut problems = Vec::new();
    for ((case, oracle), (a, o)) in &found {
        match listed.get(&(case.clone(), oracle.clone())) {
            Some(why) => table.push_str(&format!("- {case} / {oracle}: {why}\n")),
            None => problems.push(format!(
                "unlisted: {case} / {oracle}: apko {a:?}, {oracle} {o:?}"
            )),
        }
    }
    for (case, oracle) in listed.keys() {
        if !found.contains_key(&(case.clone(), oracle.clone())) {
            problems.push(format!("listed but agrees now: {case} / {oracle}"));
        }
    }
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/resolution-oracles");
    std::fs::create_dir_all(&out_dir).unwrap();
    std::fs::write(out_dir.join("table.md"), &table).unwrap();
    println!("{table}");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A helper name with a path separator, from a config in the current directory, is refused
/// by name and never run (docker only runs `docker-credential-NAME` from PATH); an absolute
/// path is run as given.
#[test]
fn a_relative_helper_path_is_refused_and_not_run() {
    let case = case(
        "relative credsStore",
        r#"{"credsStore":"./ci/evil.sh"}"#,
        "r.example",
    );
    let w = World::new(&case);
    std::fs::create_dir_all(w.path("ci")).unwrap();
    let ran = w.path("ran");
    fake_helper(
        &w.path("ci"),
        "unused",
        &format!(
            "touch {}; echo '{{\"Username\":\"u\",\"Secret\":\"s\"}}'",
            ran.display()
        ),
    );
    std::fs::rename(w.path("ci/docker-credential-unused"), w.path("ci/evil.sh")).unwrap();
    let out = w
        .command(Path::new(env!("CARGO_BIN_EXE_apko")), &case)
        .args(["auth", "get", "r.example"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "cannot resolve credentials for r.example\n"
    );
    let config = w.path("home/.docker/config.json");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!(
            "refused to run credential helper \"./ci/evil.sh\" (credsStore in {}): a helper name \
             with a path separator is run relative to the current directory. Give the name NAME \
             of a docker-credential-NAME on PATH, or an absolute path",
            config.display()
        )),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!ran.exists(), "the relative helper ran");

    // The same script named by its absolute path is the user's explicit choice.
    let absolute = w.path("ci/evil.sh");
    std::fs::write(
        &config,
        format!(r#"{{"credsStore":"{}"}}"#, absolute.display()),
    )
    .unwrap();
    let out = w
        .command(Path::new(env!("CARGO_BIN_EXE_apko")), &case)
        .args(["auth", "get", "r.example"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"ServerURL\":\"r.example\",\"Username\":\"u\",\"Secret\":\"s\"}\n"
    );
    assert!(ran.exists());
}
