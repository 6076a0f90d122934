//! The resolver against a matrix of config files and recording fake helpers (shell scripts):
//! checklist items 33–36, 44, 48–58 and 62 of credential-helpers.md §7, in-process.

use apko::auth::config::{ConfigFile, FileKind, Locations};
use apko::auth::inline::{self, InlineAuth};
use apko::auth::resolver::{Outcome, Resolver, Target, TargetKind};
use apko::auth::{Credential, login};
use apko::registry::reference::Reference;
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

struct World {
    dir: tempfile::TempDir,
    vars: HashMap<String, OsString>,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let mut vars = HashMap::new();
        vars.insert("HOME".into(), dir.path().join("home").into());
        vars.insert("XDG_RUNTIME_DIR".into(), dir.path().join("run").into());
        World { dir, vars }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    /// `~/.docker/config.json`.
    fn docker(&self, text: &str) -> PathBuf {
        self.write("home/.docker/config.json", text)
    }

    fn set(&mut self, key: &str, value: impl Into<OsString>) {
        self.vars.insert(key.into(), value.into());
    }

    fn locations(&self, flag: Option<&Path>) -> Locations {
        Locations::discover(flag, &|k| self.vars.get(k).cloned())
    }

    fn resolver(&self, inline: Vec<InlineAuth>, primary: &[&str]) -> Resolver {
        Resolver::new(
            Some(self.locations(None)),
            inline,
            primary.iter().map(|s| s.to_string()).collect(),
        )
        .unwrap()
    }

    /// A helper at an absolute path that records `ACTION STDIN` lines and answers `get` from
    /// `answers` (key, user, secret); everything else is not-found. Returns (path, log).
    fn helper(&self, name: &str, answers: &[(&str, &str, &str)]) -> (String, PathBuf) {
        let log = self.path(&format!("{name}.log"));
        let mut cases = String::new();
        for (k, u, s) in answers {
            cases.push_str(&format!(
                "  'get:{k}') printf '%s' '{{\"ServerURL\":\"{k}\",\"Username\":\"{u}\",\"Secret\":\"{s}\"}}'; exit 0;;\n"
            ));
        }
        let body = format!(
            "input=$(cat)\nprintf '%s %s\\n' \"$1\" \"$input\" >> '{}'\ncase \"$1:$input\" in\n{cases}  erase:*|store:*) exit 0;;\nesac\necho 'credentials not found in native keychain'\nexit 1",
            log.display()
        );
        let path = crate::support::fake_helper(self.dir.path(), name, &body);
        (path.to_str().unwrap().to_string(), log)
    }
}

fn calls(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

fn reg(reference: &str) -> Target {
    Target::registry(&Reference::parse(reference).unwrap())
}

fn basic(c: &Option<Credential>) -> (String, String) {
    match c {
        Some(Credential::Basic { username, password }) => {
            (username.clone(), password.expose().clone())
        }
        other => panic!("expected basic credentials, got {other:?}"),
    }
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn item33_docker_hub_key_for_creds_store() {
    let w = World::new();
    let (h, log) = w.helper(
        "rec",
        &[("https://index.docker.io/v1/", "hubuser", "hubpw")],
    );
    w.docker(&format!(r#"{{"credsStore":"{h}"}}"#));
    let r = w.resolver(vec![], &[]);
    for reference in [
        "alpine",
        "docker.io/library/alpine:3",
        "index.docker.io/x/y",
    ] {
        let got = r.resolve(&reg(reference)).unwrap();
        assert_eq!(basic(&got.credential), ("hubuser".into(), "hubpw".into()));
    }
    // One helper run for all three: docker/cli's key, cached.
    assert_eq!(calls(&log), ["get https://index.docker.io/v1/"]);
}

#[test]
fn item34_host_and_port_key_no_repository_lookup() {
    let w = World::new();
    let (h, log) = w.helper("rec", &[]);
    w.docker(&format!(r#"{{"credsStore":"{h}"}}"#));
    let got = w
        .resolver(vec![], &[])
        .resolve(&reg("r.example:5000/ns/img:1"))
        .unwrap();
    assert!(got.credential.is_none(), "not-found means anonymous");
    assert_eq!(calls(&log), ["get r.example:5000"]);
}

#[test]
fn item35_cred_helpers_beat_creds_store_per_host() {
    let w = World::new();
    let (a, log_a) = w.helper("a", &[("r.example", "ua", "pa")]);
    let (b, log_b) = w.helper("b", &[("other.example", "ub", "pb")]);
    w.docker(&format!(
        r#"{{"credsStore":"{b}","credHelpers":{{"r.example":"{a}"}}}}"#
    ));
    let r = w.resolver(vec![], &[]);
    assert_eq!(
        basic(&r.resolve(&reg("r.example/x")).unwrap().credential),
        ("ua".into(), "pa".into())
    );
    assert_eq!(
        basic(&r.resolve(&reg("other.example/x")).unwrap().credential),
        ("ub".into(), "pb".into())
    );
    assert_eq!(calls(&log_a), ["get r.example"]);
    assert_eq!(calls(&log_b), ["get other.example"]);
}

#[test]
fn item36_cred_helpers_keys_match_exactly() {
    let w = World::new();
    let (a, log_a) = w.helper("a", &[]);
    let (b, log_b) = w.helper("b", &[]);
    w.docker(&format!(
        r#"{{"credsStore":"{b}","credHelpers":{{"https://r.example":"{a}"}}}}"#
    ));
    w.resolver(vec![], &[])
        .resolve(&reg("r.example/x"))
        .unwrap();
    assert!(calls(&log_a).is_empty());
    assert_eq!(calls(&log_b), ["get r.example"]);
}

#[test]
fn item44_missing_helper_is_an_error_unless_a_later_source_has_credentials() {
    let w = World::new();
    let cfg = w.docker(r#"{"credsStore":"apko-test-no-such-helper"}"#);
    let r = w.resolver(vec![], &[]);
    let err = r.resolve(&reg("r.example/x")).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "no usable credentials for r.example; sources tried:\n  1. docker-credential-apko-test-no-such-helper get \"r.example\" (credsStore in {p}): FAILED: credential helper docker-credential-apko-test-no-such-helper is not installed: it is not on PATH (it is configured by credsStore in {p}); install it, or remove the setting that names it\nFix the failing source, or give credentials with --auth r.example=USER:PASSWORD (or --auth-file); `apko auth explain` shows every source",
            p = cfg.display()
        )
    );
    // A scoped --auth value after it wins, and the failure stays visible in the trail.
    let inline = vec![inline::parse("r.example=basic:u:p", "--auth #1").unwrap()];
    let got = w
        .resolver(inline, &[])
        .resolve(&reg("r.example/x"))
        .unwrap();
    assert_eq!(basic(&got.credential), ("u".into(), "p".into()));
    assert!(matches!(got.trail[0].outcome, Outcome::Failed(_)));
    assert_eq!(got.source.as_deref(), Some("--auth #1"));
}

#[test]
fn not_found_falls_through_to_auths_then_inline() {
    let w = World::new();
    let (h, _) = w.helper("rec", &[]);
    w.docker(&format!(
        r#"{{"credsStore":"{h}","auths":{{"r.example":{{"auth":"{}"}}}}}}"#,
        b64("fileuser:filepw")
    ));
    let inline = vec![inline::parse("r.example=basic:u:p", "--auth #1").unwrap()];
    let r = w.resolver(inline, &[]);
    let got = r.resolve(&reg("r.example/x")).unwrap();
    assert_eq!(basic(&got.credential), ("fileuser".into(), "filepw".into()));
    assert_eq!(got.trail.len(), 2);
    assert!(matches!(got.trail[0].outcome, Outcome::NotFound));
    // A stale file entry never blocks a correct --auth value.
    let next = r
        .resolve_after(&reg("r.example/x"), &got, "401 Unauthorized")
        .unwrap();
    assert_eq!(basic(&next.credential), ("u".into(), "p".into()));
    assert!(matches!(&next.trail[1].outcome, Outcome::Rejected(w) if w == "401 Unauthorized"));
    // After every credential is rejected: anonymous, as a public image may still be pulled.
    let last = r.resolve_after(&reg("r.example/x"), &next, "403").unwrap();
    assert!(last.credential.is_none());
    assert_eq!(last.trail.len(), 3);
}

#[test]
fn item53_auths_decoding() {
    let w = World::new();
    let unpadded = b64("u1:p1").trim_end_matches('=').to_string();
    w.docker(&format!(
        r#"{{"auths":{{
            "padded.example":{{"auth":"{}"}},
            "unpadded.example":{{"auth":"{unpadded}"}},
            "colon.example":{{"auth":"{}"}},
            "nul.example":{{"auth":"{}"}},
            "plain.example":{{"username":"pu","password":"pp"}},
            "idtok.example":{{"auth":"{}","identitytoken":"refresh-1"}},
            "regtok.example":{{"registrytoken":"bearer-1"}}
        }}}}"#,
        b64("u0:p0"),
        b64("u2:pa:ss:word"),
        b64("u3:p3\0\0"),
        b64("ignored:")
    ));
    let r = w.resolver(vec![], &[]);
    let get = |h: &str| r.resolve(&reg(&format!("{h}/x"))).unwrap().credential;
    assert_eq!(basic(&get("padded.example")), ("u0".into(), "p0".into()));
    assert_eq!(basic(&get("unpadded.example")), ("u1".into(), "p1".into()));
    assert_eq!(
        basic(&get("colon.example")),
        ("u2".into(), "pa:ss:word".into())
    );
    assert_eq!(basic(&get("nul.example")), ("u3".into(), "p3".into()));
    assert_eq!(basic(&get("plain.example")), ("pu".into(), "pp".into()));
    assert!(
        matches!(get("idtok.example"), Some(Credential::IdentityToken(t)) if t.expose() == "refresh-1")
    );
    // Item 55: a registry token is a bearer token, sent without an exchange.
    assert!(
        matches!(get("regtok.example"), Some(Credential::Bearer(t)) if t.expose() == "bearer-1")
    );

    let bad = w.docker(&format!(
        r#"{{"auths":{{"r.example":{{"auth":"{}"}}}}}}"#,
        b64("no-colon-here")
    ));
    let err = Resolver::new(Some(w.locations(None)), vec![], vec![])
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: `auths[\"r.example\"]`: `auth` is not base64 of username:password; run `apko login` again or fix the entry; fix the file (apko never rewrites a file it cannot parse)",
            bad.display()
        )
    );
}

#[test]
fn item54_auths_key_forms_and_exact_key_wins() {
    for key in [
        "https://r.example/v1/",
        "http://r.example",
        "r.example",
        "https://r.example",
    ] {
        let w = World::new();
        w.docker(&format!(
            r#"{{"auths":{{"{key}":{{"auth":"{}"}}}}}}"#,
            b64("u:p")
        ));
        let got = w
            .resolver(vec![], &[])
            .resolve(&reg("r.example/ns/img"))
            .unwrap();
        assert_eq!(basic(&got.credential), ("u".into(), "p".into()), "{key}");
        assert_eq!(
            got.source,
            Some(format!(
                "auths[{key:?}] in {}",
                w.path("home/.docker/config.json").display()
            ))
        );
    }
    let w = World::new();
    w.docker(&format!(
        r#"{{"auths":{{"https://r.example/v1/":{{"auth":"{}"}},"r.example":{{"auth":"{}"}},"r.example/other/repo":{{"auth":"{}"}}}}}}"#,
        b64("url:p"),
        b64("exact:p"),
        b64("other-repo:p")
    ));
    let r = w.resolver(vec![], &[]);
    assert_eq!(
        basic(&r.resolve(&reg("r.example/ns/img")).unwrap().credential).0,
        "exact"
    );
    assert_eq!(
        basic(&r.resolve(&reg("r.example/other/repo")).unwrap().credential).0,
        "other-repo"
    );
}

#[test]
fn item58_each_helper_key_asked_once_even_concurrently() {
    let w = World::new();
    let (h, log) = w.helper(
        "rec",
        &[("a.example", "ua", "pa"), ("b.example", "ub", "pb")],
    );
    w.docker(&format!(r#"{{"credsStore":"{h}"}}"#));
    let r = w.resolver(vec![], &[]);
    std::thread::scope(|s| {
        for t in 0..8 {
            let r = &r;
            s.spawn(move || {
                for n in 0..25 {
                    let host = ["a.example", "b.example", "c.example"][(t + n) % 3];
                    r.resolve(&reg(&format!("{host}/img"))).unwrap();
                }
            });
        }
    });
    assert_eq!(r.helper_calls(), 3);
    let mut got = calls(&log);
    got.sort();
    assert_eq!(got, ["get a.example", "get b.example", "get c.example"]);
}

#[test]
fn item62_containers_auth_json_order_and_namespaces() {
    let mut w = World::new();
    let (h, log) = w.helper("quayhelper", &[("quay.io", "helperuser", "hp")]);
    // Runtime file: a namespaced entry and a credHelpers entry (registry-keyed) and a
    // credsStore that containers/image ignores.
    w.write(
        "run/containers/auth.json",
        &format!(
            r#"{{"credsStore":"ignored-by-podman","auths":{{"quay.io/org":{{"auth":"{}"}},"quay.io":{{"auth":"{}"}}}},"credHelpers":{{"quay.io":"{h}"}}}}"#,
            b64("org:p"),
            b64("registry:p")
        ),
    );
    w.write(
        "home/.config/containers/auth.json",
        &format!(
            r#"{{"auths":{{"quay.io/org/img":{{"auth":"{}"}},"ghcr.io":{{"auth":"{}"}}}}}}"#,
            b64("config-file:p"),
            b64("ghcr:p")
        ),
    );
    w.set("XDG_CONFIG_HOME", w.path("home/.config"));
    let r = w.resolver(vec![], &[]);
    // The helper comes first (helpers before auths) and answers for quay.io.
    let got = r.resolve(&reg("quay.io/org/img")).unwrap();
    assert_eq!(basic(&got.credential).0, "helperuser");
    assert_eq!(calls(&log), ["get quay.io"]);
    // When the helper's answer is rejected: the runtime file's most specific key, then the
    // config file's.
    let next = r
        .resolve_after(&reg("quay.io/org/img"), &got, "401")
        .unwrap();
    assert_eq!(basic(&next.credential).0, "org");
    let next = r
        .resolve_after(&reg("quay.io/org/img"), &next, "401")
        .unwrap();
    assert_eq!(basic(&next.credential).0, "config-file");
    assert_eq!(
        basic(&r.resolve(&reg("ghcr.io/x/y")).unwrap().credential).0,
        "ghcr"
    );
    // The ignored credsStore was never run (it does not exist: running it would fail).
    assert!(
        r.resolve(&reg("other.example/x"))
            .unwrap()
            .credential
            .is_none()
    );
}

#[test]
fn item52_discovery_order() {
    let mut w = World::new();
    let flag = w.path("flagdir");
    w.set("DOCKER_CONFIG", w.path("envdir"));
    let l = w.locations(Some(&flag));
    assert_eq!(l.docker_config(), flag.join("config.json"));
    assert_eq!(l.docker_dir_origin, "--config");
    let l = w.locations(None);
    assert_eq!(l.docker_config(), w.path("envdir/config.json"));
    w.vars.remove("DOCKER_CONFIG");
    w.set("REGISTRY_AUTH_FILE", w.path("raf.json"));
    let l = w.locations(None);
    let files: Vec<(PathBuf, FileKind)> = l.files.clone();
    assert_eq!(
        files,
        [
            (w.path("home/.docker/config.json"), FileKind::Docker),
            (w.path("raf.json"), FileKind::RegistryAuthFile),
            (w.path("run/containers/auth.json"), FileKind::PodmanRuntime),
            (
                w.path("home/.config/containers/auth.json"),
                FileKind::PodmanConfig
            ),
        ]
    );
    // DOCKER_CONFIG's file wins; $HOME/.docker is not read at all.
    w.set("DOCKER_CONFIG", w.path("envdir"));
    w.write(
        "envdir/config.json",
        &format!(
            r#"{{"auths":{{"r.example":{{"auth":"{}"}}}}}}"#,
            b64("env:p")
        ),
    );
    w.docker(&format!(
        r#"{{"auths":{{"r.example":{{"auth":"{}"}}}}}}"#,
        b64("home:p")
    ));
    let got = w
        .resolver(vec![], &[])
        .resolve(&reg("r.example/x"))
        .unwrap();
    assert_eq!(basic(&got.credential).0, "env");
    assert_eq!(got.trail.len(), 1);
}

#[test]
fn malformed_files_are_errors_with_position_and_never_rewritten() {
    let w = World::new();
    let text = "{\n  \"auths\": {\n    \"r.example\": {\"auth\": \"x\"},\n  }\n}\n";
    let path = w.docker(text);
    let err = Resolver::new(Some(w.locations(None)), vec![], vec![])
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:4:3: invalid JSON (trailing comma at line 4 column 3); fix the file (apko never rewrites a file it cannot parse)",
            path.display()
        )
    );
    let e = login::login(
        &w.locations(None),
        Some("r.example"),
        "u",
        &apko_credential::Secret::from("p".to_string()),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("{}:4:3:", path.display())),
        "{e}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    for (bad, why) in [
        (r#"[]"#, "the file must hold a JSON object"),
        (r#"{"auths":[]}"#, "`auths` must be an object"),
        (r#"{"credsStore":1}"#, "`credsStore` must be a string"),
        (
            r#"{"credHelpers":{"r":2}}"#,
            "`credHelpers[\"r\"]` must be a string",
        ),
    ] {
        let e = ConfigFile::parse(
            Path::new("/x/config.json"),
            FileKind::Docker,
            bad.as_bytes(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "/x/config.json: {why}; fix the file (apko never rewrites a file it cannot parse)"
            )
        );
    }
}

#[test]
fn unscoped_inline_values_only_reach_the_named_registry() {
    let w = World::new();
    let inline = vec![
        inline::parse("bearer:tok", "--auth #1").unwrap(),
        inline::parse("apk.example=basic:au:ap", "--auth #2").unwrap(),
    ];
    let r = w.resolver(inline, &["r.example"]);
    assert!(matches!(
        r.resolve(&reg("r.example/img")).unwrap().credential,
        Some(Credential::Bearer(_))
    ));
    assert!(
        r.resolve(&reg("other.example/img"))
            .unwrap()
            .credential
            .is_none()
    );
    assert_eq!(
        basic(
            &r.resolve(&Target::apk_repository("https://apk.example/os"))
                .unwrap()
                .credential
        ),
        ("au".into(), "ap".into())
    );
    // HTTP_AUTH is for APK repositories only.
    let http = inline::parse_http_auth("basic:r.example:hu:hp").unwrap();
    let r = w.resolver(http, &[]);
    assert!(
        r.resolve(&reg("r.example/img"))
            .unwrap()
            .credential
            .is_none()
    );
    let apk = r
        .resolve(&Target {
            host: "r.example".into(),
            repository: None,
            kind: TargetKind::ApkRepository,
        })
        .unwrap();
    assert_eq!(basic(&apk.credential), ("hu".into(), "hp".into()));
}

#[test]
fn an_auth_file_brings_its_own_helpers() {
    let w = World::new();
    let (h, log) = w.helper("filehelper", &[("r.example", "fu", "fp")]);
    let file = w.write(
        "extra/auth.json",
        &format!(r#"{{"credHelpers":{{"r.example":"{h}"}}}}"#),
    );
    let inline = vec![inline::parse(file.to_str().unwrap(), "--auth #1").unwrap()];
    let got = w
        .resolver(inline, &["r.example"])
        .resolve(&reg("r.example/x"))
        .unwrap();
    assert_eq!(basic(&got.credential), ("fu".into(), "fp".into()));
    assert_eq!(calls(&log), ["get r.example"]);
}

#[test]
fn item48_49_login_through_helper_and_to_file() {
    use std::os::unix::fs::PermissionsExt;
    let w = World::new();
    let loc = w.locations(None);
    let pw = apko_credential::Secret::from("pw".to_string());
    // No helper: base64 in the file, 0600 file, 0700 directory, a warning.
    let stored = login::login(&loc, Some("https://r.example:5000/v2/"), "u", &pw).unwrap();
    assert_eq!(stored.key, "r.example:5000");
    assert!(
        stored.warnings[0].starts_with("WARNING! Your credentials are stored unencrypted in '")
    );
    let path = loc.docker_config();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        format!(
            "{{\n\t\"auths\": {{\n\t\t\"r.example:5000\": {{\n\t\t\t\"auth\": \"{}\"\n\t\t}}\n\t}}\n}}\n",
            b64("u:pw")
        )
    );
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    // With a helper: the helper gets the secret, the file only `{}`, unknown fields kept.
    // The recorder answers r.example:5000 with what is stored, the hub with nothing and
    // old.example with another user (as secretservice 0.6.4 after a login as another user).
    let (h, log) = w.helper(
        "rec",
        &[("r.example:5000", "u", "pw"), ("old.example", "old", "x")],
    );
    std::fs::write(
        &path,
        format!(r#"{{"psFormat":"table","credsStore":"{h}","auths":{{"r.example:5000":{{"auth":"{}"}}}},"x":{{"y":[1,2]}}}}"#, b64("old:old")),
    )
    .unwrap();
    let hub = login::login(&loc, None, "hubuser", &pw).unwrap();
    assert_eq!(
        hub.warnings,
        [format!(
            "WARNING: {h} stored the credentials for https://index.docker.io/v1/ but does not find them: lookups will not use them."
        )]
    );
    let stored = login::login(&loc, Some("r.example:5000"), "u", &pw).unwrap();
    assert!(stored.warnings.is_empty(), "{:?}", stored.warnings);
    let old = login::login(&loc, Some("old.example"), "u", &pw).unwrap();
    assert_eq!(
        old.warnings,
        [format!(
            "WARNING: {h} answers old.example with other credentials than the ones just stored: check `{h} list` and erase the other entry."
        )]
    );
    assert_eq!(
        calls(&log),
        [
            "get https://index.docker.io/v1/",
            r#"store {"ServerURL":"https://index.docker.io/v1/","Username":"hubuser","Secret":"pw"}"#,
            "get https://index.docker.io/v1/",
            "get r.example:5000",
            r#"store {"ServerURL":"r.example:5000","Username":"u","Secret":"pw"}"#,
            "get r.example:5000",
            // Another user's entry is erased first (secretservice would keep both).
            "get old.example",
            "erase old.example",
            r#"store {"ServerURL":"old.example","Username":"u","Secret":"pw"}"#,
            "get old.example",
        ]
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"psFormat":"table","credsStore":h,"auths":{"r.example:5000":{},"https://index.docker.io/v1/":{},"old.example":{}},"x":{"y":[1,2]}})
    );
}

#[test]
fn login_as_another_user_puts_the_previous_entry_back_when_the_store_fails() {
    let w = World::new();
    let log = w.path("full.log");
    let body = format!(
        "input=$(cat)\nprintf '%s %s\\n' \"$1\" \"$input\" >> '{}'\ncase \"$1:$input\" in\n  get:*) printf '%s' '{{\"ServerURL\":\"r.example\",\"Username\":\"old\",\"Secret\":\"old-pw\"}}';;\n  store:*'\"new\"'*) echo 'disk full'; exit 1;;\nesac\nexit 0",
        log.display()
    );
    let h = crate::support::fake_helper(w.dir.path(), "full", &body);
    let path = w.docker(&format!(r#"{{"credsStore":"{}"}}"#, h.display()));
    let pw = apko_credential::Secret::from("new-pw".to_string());
    let err = login::login(&w.locations(None), Some("r.example"), "new", &pw).unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        format!(
            "cannot store the credentials for r.example (the previous credentials were put back): credential helper {} (store) failed with exit status 1: disk full",
            h.display()
        )
    );
    assert_eq!(
        calls(&log),
        [
            "get r.example",
            "erase r.example",
            r#"store {"ServerURL":"r.example","Username":"new","Secret":"new-pw"}"#,
            r#"store {"ServerURL":"r.example","Username":"old","Secret":"old-pw"}"#,
        ]
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        format!(r#"{{"credsStore":"{}"}}"#, h.display()),
        "the config is not touched"
    );
}

#[test]
fn item56_logout_candidates_and_erase() {
    assert_eq!(login::logout_keys(None), ["https://index.docker.io/v1/"]);
    assert_eq!(
        login::logout_keys(Some("https://r.example:5000/v2/")),
        [
            "https://r.example:5000/v2/",
            "r.example:5000",
            "http://r.example:5000",
            "https://r.example:5000"
        ]
    );
    assert_eq!(
        login::logout_keys(Some("docker.io")),
        [
            "docker.io",
            "http://docker.io",
            "https://docker.io",
            "https://index.docker.io/v1/"
        ]
    );
    let w = World::new();
    let (h, log) = w.helper("rec", &[]);
    let path = w.docker(&format!(
        r#"{{"credsStore":"{h}","auths":{{"r.example":{{}},"https://r.example":{{}},"keep.example":{{}}}}}}"#
    ));
    let removed = login::logout(&w.locations(None), Some("r.example")).unwrap();
    assert_eq!(
        calls(&log),
        [
            "erase r.example",
            "erase http://r.example",
            "erase https://r.example"
        ]
    );
    assert_eq!(
        removed.removed,
        [
            format!("{h}: r.example"),
            format!("{h}: http://r.example"),
            format!("{h}: https://r.example"),
            format!("{}: r.example", path.display()),
            format!("{}: https://r.example", path.display()),
        ]
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(v["auths"], serde_json::json!({"keep.example":{}}));
}

#[test]
fn load_200_concurrent_lookups_for_20_hosts_run_20_helpers() {
    let w = World::new();
    let answers: Vec<(String, String, String)> = (0..20)
        .map(|n| (format!("h{n}.example"), format!("u{n}"), format!("p{n}")))
        .collect();
    let refs: Vec<(&str, &str, &str)> = answers
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    let (h, log) = w.helper("rec", &refs);
    w.docker(&format!(r#"{{"credsStore":"{h}"}}"#));
    let r = w.resolver(vec![], &[]);
    std::thread::scope(|s| {
        for t in 0..200 {
            let r = &r;
            s.spawn(move || {
                let n = t % 20;
                let got = r.resolve(&reg(&format!("h{n}.example/img"))).unwrap();
                assert_eq!(basic(&got.credential), (format!("u{n}"), format!("p{n}")));
            });
        }
    });
    assert_eq!(r.helper_calls(), 20);
    assert_eq!(calls(&log).len(), 20);
}
