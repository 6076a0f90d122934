//! Differential builds: each config of the corpus is built by real apko (v1.2.39, from
//! `tests/peers.sh`) and by ours, offline, with the same `SOURCE_DATE_EPOCH`; layers, configs,
//! manifests, index, tarball and SBOMs are read into one model and compared. Every difference
//! must match a row of `docs/apko-differences.md`, and every row must match a difference.
//! The table goes to stdout and `target/differential/table.md`.

mod compare;
mod list;
mod model;

use apko::apk::mkrepo::{FileSpec, PackageSpec, load_private_key, public_pem, write_repo};
use compare::{Diff, compare, symbolize_str};
use list::{Row, cell, glob, known_rows};
use model::{Outcome, read_layout, read_tarball};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

const EPOCH: &str = "1700000000";
const TAG: &str = "difftest:latest";
const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/testdata/apko-cli");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// One config of the corpus: its key, its path from the work dir, extra `build` arguments.
struct Case {
    name: &'static str,
    config: &'static str,
    args: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        name: "apko.yaml",
        config: "testdata/apko.yaml",
        args: &[],
    },
    Case {
        name: "apko.yaml+lock",
        config: "testdata/apko.yaml",
        args: &["--lockfile", "testdata/apko.lock.json"],
    },
    Case {
        name: "base_image.apko.yaml",
        config: "testdata/base_image.apko.yaml",
        args: &[],
    },
    Case {
        name: "image_on_top.apko.yaml",
        config: "testdata/image_on_top.apko.yaml",
        args: &["--lockfile", "testdata/image_on_top.apko.lock.json"],
    },
    Case {
        name: "layering.yaml",
        config: "testdata/layering.yaml",
        args: &[],
    },
    Case {
        name: "empty-layering.yaml",
        config: "testdata/empty-layering.yaml",
        args: &[],
    },
    Case {
        name: "apko-certs.yaml",
        config: "testdata/apko-certs.yaml",
        args: &[],
    },
    Case {
        name: "hello",
        config: "examples/hello/apko.yaml",
        args: &[],
    },
    Case {
        name: "full",
        config: "differential/full.yaml",
        args: &[],
    },
    Case {
        name: "include",
        config: "differential/include.yaml",
        args: &[],
    },
    Case {
        name: "include-merge",
        config: "differential/include-merge.yaml",
        args: &[],
    },
    Case {
        name: "service-bundle",
        config: "differential/service-bundle.yaml",
        args: &[],
    },
    Case {
        name: "own-layering",
        config: "differential/layering.yaml",
        args: &[],
    },
    Case {
        name: "multiarch",
        config: "differential/multiarch.yaml",
        args: &[],
    },
    Case {
        name: "shell-fragment",
        config: "differential/shell-fragment.yaml",
        args: &[],
    },
    Case {
        name: "repositories",
        config: "differential/repositories.yaml",
        args: &[],
    },
    Case {
        name: "refuse-uid0",
        config: "differential/refuse-uid0.yaml",
        args: &[],
    },
    Case {
        name: "refuse-unknown-key",
        config: "differential/refuse-unknown-key.yaml",
        args: &[],
    },
    Case {
        name: "refuse-layering-strategy",
        config: "differential/refuse-layering-strategy.yaml",
        args: &[],
    },
];

/// Which builder.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Apko,
    Ours,
}

impl Side {
    fn binary(self) -> PathBuf {
        match self {
            Side::Apko => crate::support::peer("apko-go"),
            Side::Ours => PathBuf::from(env!("CARGO_BIN_EXE_apko")),
        }
    }
    fn label(self) -> &'static str {
        match self {
            Side::Apko => "apko",
            Side::Ours => "ours",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The work dir: symlinks to the shared testdata, the examples and our configs, and a local
// signed repository made with the project's own mkrepo.

fn work_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("differential")
        .tempdir()
        .unwrap();
    let root = dir.path();
    let shared = Path::new(SHARED)
        .canonicalize()
        .expect("../shared/testdata");
    let link = |target: &Path, name: &str| std::os::unix::fs::symlink(target, root.join(name));
    link(&shared, "testdata").unwrap();
    // base_image.apko.yaml names its inputs relative to apko-cli itself.
    for name in ["melange.rsa.pub", "packages", "private_packages"] {
        link(&shared.join(name), name).unwrap();
    }
    link(&Path::new(ROOT).join("examples"), "examples").unwrap();
    link(&Path::new(ROOT).join("tests/differential"), "differential").unwrap();
    local_repo(&root.join("local"), &shared.join("melange.rsa"));
    for name in ["home", "cache", "docker"] {
        std::fs::create_dir(root.join(name)).unwrap();
    }
    dir
}

/// Every architecture apko 1.2 knows, by apk name.
const APK_ARCHS: &[&str] = &[
    "x86_64",
    "aarch64",
    "armv7",
    "armhf",
    "x86",
    "ppc64le",
    "riscv64",
    "s390x",
    "loongarch64",
];

/// Packages without symlinks: apko refuses a symlink that has no `APK-TOOLS.checksum.SHA1`,
/// which mkrepo does not write (see `hello`); `paths` makes the symlinks instead.
fn local_repo(dir: &Path, key: &Path) {
    let key = load_private_key(key).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("difftest.rsa.pub"), public_pem(&key)).unwrap();
    let bundle = std::fs::read(Path::new(ROOT).join("tests/fixtures/test-ca-2.pem")).unwrap();
    let provided = std::fs::read(Path::new(ROOT).join("tests/fixtures/test-ca.pem")).unwrap();
    for arch in APK_ARCHS {
        let base = PackageSpec {
            arch: arch.to_string(),
            license: "MIT".into(),
            build_time: 1_690_000_000,
            version: "1.0-r0".into(),
            ..PackageSpec::default()
        };
        let dir_ = |p: &str, m| FileSpec::Dir(p.into(), m);
        let file = |p: &str, d: &str, m| FileSpec::File(p.into(), d.as_bytes().to_vec(), m);
        let packages = vec![
            PackageSpec {
                name: "difftest-base".into(),
                description: "os-release, a shell and some data".into(),
                provides: vec!["cmd:sh=1.0-r0".into()],
                files: vec![
                    dir_("bin", 0o755),
                    file("bin/sh", "#!/bin/true\n", 0o755),
                    dir_("etc", 0o755),
                    file(
                        "etc/os-release",
                        "ID=difftest\nNAME=\"Difftest\"\nPRETTY_NAME=\"Difftest 1\"\nVERSION_ID=1.0\nHOME_URL=\"https://example.invalid/\"\n",
                        0o644,
                    ),
                    dir_("etc/ssl", 0o755),
                    dir_("etc/ssl/certs", 0o755),
                    FileSpec::File(
                        "etc/ssl/certs/ca-certificates.crt".into(),
                        bundle.clone(),
                        0o644,
                    ),
                    dir_("opt", 0o755),
                    dir_("opt/app", 0o755),
                    file("opt/app/run.sh", "#!/bin/sh\nexec /usr/bin/app\n", 0o755),
                    dir_("opt/app/conf", 0o755),
                    file("opt/app/conf/app.conf", "port=8080\n", 0o644),
                    dir_("usr", 0o755),
                    dir_("usr/share", 0o755),
                    dir_("usr/share/difftest", 0o755),
                    file("usr/share/difftest/data.txt", "base data\n", 0o644),
                    dir_("usr/share/difftest/sub", 0o700),
                    file("usr/share/difftest/sub/deep.txt", "deep\n", 0o600),
                    dir_("var", 0o755),
                    dir_("var/lib", 0o755),
                    dir_("var/lib/difftest", 0o700),
                ],
                ..base.clone()
            },
            PackageSpec {
                name: "difftest-app".into(),
                version: "2.0-r1".into(),
                description: "the application".into(),
                depends: vec!["difftest-base".into(), "cmd:sh".into()],
                files: vec![
                    dir_("usr", 0o755),
                    dir_("usr/bin", 0o755),
                    file("usr/bin/app", "#!/bin/sh\necho app\n", 0o755),
                ],
                ..base.clone()
            },
            PackageSpec {
                name: "difftest-replacer".into(),
                description: "replaces a file of difftest-base".into(),
                depends: vec!["difftest-base".into()],
                replaces: vec!["difftest-base".into()],
                files: vec![
                    dir_("usr", 0o755),
                    dir_("usr/share", 0o755),
                    dir_("usr/share/difftest", 0o755),
                    file("usr/share/difftest/data.txt", "replaced data\n", 0o644),
                ],
                ..base.clone()
            },
            PackageSpec {
                name: "difftest-certs".into(),
                description: "a CA certificate provider".into(),
                provides: vec!["difftest-ca-provider".into()],
                files: vec![
                    dir_("usr", 0o755),
                    dir_("usr/share", 0o755),
                    dir_("usr/share/ca-certificates", 0o755),
                    dir_("usr/share/ca-certificates/difftest", 0o755),
                    FileSpec::File(
                        "usr/share/ca-certificates/difftest/provided.crt".into(),
                        provided.clone(),
                        0o644,
                    ),
                ],
                ..base.clone()
            },
            PackageSpec {
                name: "s6".into(),
                version: "2.13-r0".into(),
                description: "a stand-in for the s6 supervisor".into(),
                files: vec![
                    dir_("bin", 0o755),
                    file("bin/s6-svscan", "#!/bin/sh\nexec sleep infinity\n", 0o755),
                ],
                ..base.clone()
            },
            PackageSpec {
                name: "difftest-lib1".into(),
                description: "a library of its own origin".into(),
                files: vec![
                    dir_("usr", 0o755),
                    dir_("usr/lib", 0o755),
                    file("usr/lib/lib1.so", &"one\n".repeat(4096), 0o755),
                ],
                ..base.clone()
            },
            PackageSpec {
                name: "difftest-lib2".into(),
                description: "another library of its own origin".into(),
                files: vec![
                    dir_("usr", 0o755),
                    dir_("usr/lib", 0o755),
                    file("usr/lib/lib2.so", &"two\n".repeat(8192), 0o755),
                ],
                ..base
            },
        ];
        write_repo(&dir.join("repo"), arch, &packages, &key, "difftest.rsa.pub").unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Building.

fn build(side: Side, case: &Case, root: &Path, out: &Path) -> Outcome {
    let layout = out.join("layout");
    let sboms = out.join("sboms");
    let tar_sboms = out.join("tar-sboms");
    for d in [&layout, &sboms, &tar_sboms] {
        std::fs::create_dir_all(d).unwrap();
    }
    let run = |output: &Path, sbom_dir: &Path| {
        let mut cmd = Command::new(side.binary());
        cmd.current_dir(root)
            .arg("build")
            .arg(case.config)
            .arg(TAG)
            .arg(output)
            .args(["--offline", "--vcs=false", "--sbom-path"])
            .arg(sbom_dir)
            .args(case.args)
            .env("SOURCE_DATE_EPOCH", EPOCH)
            .env("HOME", root.join("home"))
            .env("XDG_CACHE_HOME", root.join("cache"))
            .env("DOCKER_CONFIG", root.join("docker"))
            .env_remove("REGISTRY_AUTH_FILE")
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("APKO_AUTH")
            .env_remove("HTTP_AUTH");
        cmd.output().expect("run a builder")
    };
    let dir_out = run(Path::new(&format!("{}/", layout.display())), &sboms);
    let status = dir_out.status.code().unwrap_or(-1);
    let stderr = String::from_utf8_lossy(&dir_out.stderr).into_owned();
    if status != 0 {
        return Outcome {
            status,
            stderr,
            layout: None,
            tarball: None,
            sboms: BTreeMap::new(),
        };
    }
    let tar_path = out.join("image.tar");
    let tar_out = run(&tar_path, &tar_sboms);
    assert!(
        tar_out.status.success(),
        "{} built {} as a layout but not as a tarball: {}",
        side.label(),
        case.name,
        String::from_utf8_lossy(&tar_out.stderr)
    );
    let mut sbom_files = BTreeMap::new();
    for entry in std::fs::read_dir(&sboms).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let json = serde_json::from_slice(&std::fs::read(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        sbom_files.insert(name, json);
    }
    Outcome {
        status,
        stderr,
        layout: Some(read_layout(&layout)),
        tarball: Some(read_tarball(&tar_path)),
        sboms: sbom_files,
    }
}

#[test]
fn real_apko_and_ours_build_the_corpus_alike_but_for_the_listed_differences() {
    let started = Instant::now();
    let rows = known_rows(Path::new(ROOT));
    let work = work_dir();
    let root = work.path();
    crate::support::peer("apko-go");

    // Build every (case, side) on two threads.
    let jobs: Vec<(usize, Side)> = (0..CASES.len())
        .flat_map(|i| [(i, Side::Apko), (i, Side::Ours)])
        .collect();
    let next = Mutex::new(0usize);
    let results: Mutex<BTreeMap<(usize, bool), Outcome>> = Mutex::new(BTreeMap::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let job = {
                        let mut n = next.lock().unwrap();
                        let j = jobs.get(*n).copied();
                        *n += 1;
                        j
                    };
                    let Some((i, side)) = job else { break };
                    let out = root.join("out").join(format!("{i}-{}", side.label()));
                    let outcome = build(side, &CASES[i], root, &out);
                    results
                        .lock()
                        .unwrap()
                        .insert((i, side == Side::Apko), outcome);
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    let built = started.elapsed();

    let mut table = String::from("| config | archs | differences | ids |\n|---|---|---|---|\n");
    let mut unexplained: Vec<Diff> = Vec::new();
    let mut hits = vec![0usize; rows.len()];
    let mut listing = String::new();
    for (i, case) in CASES.iter().enumerate() {
        let a = results.remove(&(i, true)).unwrap();
        let o = results.remove(&(i, false)).unwrap();
        let archs: Vec<String> = a
            .layout
            .as_ref()
            .or(o.layout.as_ref())
            .map(|l| l.images.iter().map(|im| im.arch.clone()).collect())
            .unwrap_or_default();
        // The comparator finds nothing between a build and itself.
        for (side, x) in [("apko", &a), ("ours", &o)]
            .into_iter()
            .filter(|(_, x)| x.status == 0)
        {
            let own = compare(case.name, x, x);
            assert!(
                own.is_empty(),
                "{}: {side}'s build differs from itself: {}",
                case.name,
                own[0].key
            );
        }
        let diffs = compare(case.name, &a, &o);
        let mut ids: BTreeMap<&str, usize> = BTreeMap::new();
        let mut unknown = 0;
        for diff in &diffs {
            match rows
                .iter()
                .position(|r| r.globs.iter().any(|g| glob(g, &diff.key)))
            {
                Some(r) => {
                    hits[r] += 1;
                    *ids.entry(rows[r].id.as_str()).or_insert(0) += 1;
                    listing.push_str(&format!(
                        "{}\t{}\t{}\t{}\n",
                        rows[r].id,
                        diff.key,
                        cell(&diff.apko),
                        cell(&diff.ours)
                    ));
                }
                None => {
                    unknown += 1;
                    unexplained.push(diff.clone());
                    listing.push_str(&format!(
                        "UNEXPLAINED\t{}\t{}\t{}\n",
                        diff.key,
                        cell(&diff.apko),
                        cell(&diff.ours)
                    ));
                }
            }
        }
        let mut id_list: Vec<String> = ids.iter().map(|(id, n)| format!("{id} ({n})")).collect();
        if unknown > 0 {
            id_list.push(format!("**unexplained ({unknown})**"));
        }
        table.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            case.name,
            if archs.is_empty() {
                "-".into()
            } else {
                archs.join(", ")
            },
            diffs.len(),
            id_list.join(", ")
        ));
    }
    let stale: Vec<&Row> = rows
        .iter()
        .zip(&hits)
        .filter(|(_, h)| **h == 0)
        .map(|(r, _)| r)
        .collect();
    let mut report = table.clone();
    report.push_str(&format!(
        "\nrows: {} ({} open, {} intentional); built in {:.1} s, compared in {:.1} s\n",
        rows.len(),
        rows.iter().filter(|r| r.status == "open").count(),
        rows.iter().filter(|r| r.status == "intentional").count(),
        built.as_secs_f64(),
        (started.elapsed() - built).as_secs_f64()
    ));
    if !unexplained.is_empty() {
        report.push_str("\n## Unexplained differences\n\n| key | apko | ours |\n|---|---|---|\n");
        for d in &unexplained {
            report.push_str(&format!(
                "| {} | {} | {} |\n",
                cell(&d.key),
                cell(&d.apko),
                cell(&d.ours)
            ));
        }
    }
    if !stale.is_empty() {
        report.push_str("\n## Stale rows (matched nothing)\n\n");
        for r in &stale {
            report.push_str(&format!("- {}: {}\n", r.id, r.globs.join(", ")));
        }
    }
    let dir = Path::new(ROOT).join("target/differential");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("table.md"), &report).unwrap();
    std::fs::write(dir.join("keys.tsv"), &listing).unwrap();
    println!("{report}");
    if std::env::var_os("DIFFERENTIAL_KEEP").is_some() {
        println!("kept the builds in {}", work.keep().display());
    }
    assert!(
        unexplained.is_empty() && stale.is_empty(),
        "{} unexplained differences and {} stale rows (see target/differential/table.md)",
        unexplained.len(),
        stale.len()
    );
}

#[test]
fn globs_match_whole_keys() {
    let key = "full/x86_64 layer: etc/apko.json only in apko";
    assert!(glob("* etc/apko.json only in apko", key));
    assert!(glob("*/* layer: etc/apko.json only in ap?o", key));
    assert!(glob("*", key));
    assert!(!glob("* etc/apko.json", key));
    assert!(!glob("etc/apko.json*", key));
    assert!(glob(
        "*/apk/db/installed record * differs",
        "a/b layer: usr/lib/apk/db/installed record x differs"
    ));
    assert!(!glob(
        "* blob: layer@*#* only in apko",
        "c blob: layer@x86_64 only in apko"
    ));
    assert!(glob(
        "* blob: layer@*#* only in apko",
        "c blob: layer@x86_64#1 only in apko"
    ));
}

#[test]
fn digests_become_the_names_of_their_blobs() {
    let hex = "ab".repeat(32);
    let names = BTreeMap::from([(hex.clone(), "layer@x86_64".to_string())]);
    assert_eq!(
        symbolize_str(
            &format!(
                "pkg:oci/x@sha256%3A{hex}?a SPDXRef-sha256-{hex} {}",
                "cd".repeat(32)
            ),
            &names
        ),
        "pkg:oci/x@sha256%3A<layer@x86_64>?a SPDXRef-sha256-<layer@x86_64> <sha256>"
    );
}
