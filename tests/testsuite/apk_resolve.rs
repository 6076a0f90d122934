//! Resolution over real indexes (Alpine 3.16, apko's testdata repositories) and over small
//! indexes written here for one rule each: provides, provider_priority, pinning, conflicts,
//! install_if, version constraints.

use apko::apk::index::Index;
use apko::apk::resolve::{PackageResolver, Source};

use crate::support::TESTDATA;

fn real(rel: &str) -> Index {
    let bytes = std::fs::read(format!("{TESTDATA}/{rel}")).unwrap();
    Index::from_targz(&bytes, None, rel).unwrap()
}

fn text(t: &str) -> Index {
    Index::parse(t.to_string()).unwrap()
}

fn world(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// `name-version` of each package to install, in order.
fn resolve(sources: &[Source], w: &[&str]) -> Result<Vec<String>, String> {
    let resolver = PackageResolver::new(sources.to_vec());
    let w = world(w);
    let w: &'static [String] = Box::leak(w.into_boxed_slice());
    resolver
        .resolve(w)
        .map(|ids| ids.iter().map(|id| resolver.package(*id).id()).collect())
        .map_err(|e| e.to_string())
}

fn src(index: &Index) -> Source<'_> {
    Source {
        index,
        tag: None,
        installed: false,
    }
}

#[test]
fn alpine_base_on_alpine_316() {
    let index = real("apk/alpine-316/APKINDEX.tar.gz");
    let got = resolve(&[src(&index)], &["alpine-base"]).unwrap();
    assert_eq!(
        got,
        [
            "alpine-baselayout-data-3.2.0-r23",
            "musl-1.2.3-r2",
            "busybox-1.35.0-r17",
            "alpine-baselayout-3.2.0-r23",
            "ifupdown-ng-0.12.1-r0",
            "openrc-0.44.10-r7",
            "alpine-conf-3.14.6-r1",
            "ca-certificates-bundle-20220614-r0",
            "libcrypto1.1-1.1.1s-r0",
            "libssl1.1-1.1.1s-r0",
            "zlib-1.2.12-r3",
            "apk-tools-2.12.9-r3",
            "busybox-suid-1.35.0-r17",
            "mdev-conf-4.2-r0",
            "busybox-initscripts-4.2-r0",
            "scanelf-1.3.4-r0",
            "musl-utils-1.2.3-r2",
            "libc-utils-0.7.2-r3",
            "alpine-keys-2.4-r1",
            "alpine-base-3.16.3-r0",
            // install_if: busybox and libssl1.1
            "ssl_client-1.35.0-r17",
        ]
    );
}

#[test]
fn apko_cli_repositories_with_a_second_keyed_repository() {
    let main = real("apko-cli/packages/x86_64/APKINDEX.tar.gz");
    let private = real("apko-cli/private_packages/packages/x86_64/APKINDEX.tar.gz");
    assert_eq!(
        resolve(&[src(&main), src(&private)], &["package-y"]).unwrap(),
        [
            "pretend-baselayout-1.0.0-r0",
            "package-x-1.0.0-r0",
            "package-y-1.0.0-r0"
        ]
    );
    assert_eq!(
        resolve(&[src(&main)], &["replayout"]).unwrap(),
        ["pretend-baselayout-1.0.0-r0", "replayout-1.0.0-r0"]
    );
}

#[test]
fn base_image_packages_count_as_installed() {
    let main = real("apko-cli/packages/x86_64/APKINDEX.tar.gz");
    let installed = std::fs::read_to_string(format!(
        "{TESTDATA}/apko-cli/base_image/metadata/x86_64/APKINDEX"
    ))
    .unwrap();
    let installed = text(&installed);
    let sources = [
        Source {
            index: &installed,
            tag: None,
            installed: true,
        },
        src(&main),
    ];
    assert_eq!(
        resolve(&sources, &["replayout"]).unwrap(),
        ["replayout-1.0.0-r0"]
    );
    assert_eq!(
        resolve(&sources, &["package-y"]).unwrap(),
        Vec::<String>::new()
    );
}

const SMALL: &str = "\
P:app
V:1.0-r0
D:so:libfoo.so.1 cmd:sh /bin/sh

P:libfoo
V:1.0-r0
p:so:libfoo.so.1=1

P:libfoo
V:1.2-r0
p:so:libfoo.so.1=1

P:busybox
V:1.36-r0
p:cmd:sh=1.36-r0 /bin/sh

P:dash
V:0.5-r0
p:cmd:sh=0.5-r0 /bin/sh
k:100

P:old
V:2.0-r0
D:!newer

P:newer
V:1.0-r0

P:uses-newer
V:1.0-r0
D:newer

P:lang
V:1.0-r0

P:lang-doc
V:1.0-r0
i:lang docs

P:docs
V:1
";

#[test]
fn provides_versions_and_priorities() {
    let idx = text(SMALL);
    // so: picks the highest libfoo; cmd:sh picks the highest version provided (busybox 1.36
    // over dash 0.5) although dash has the higher provider_priority; /bin/sh is then met.
    assert_eq!(
        resolve(&[src(&idx)], &["app"]).unwrap(),
        ["libfoo-1.2-r0", "busybox-1.36-r0", "app-1.0-r0"]
    );
    // An unversioned virtual: provider_priority decides.
    assert_eq!(
        resolve(&[src(&idx)], &["/bin/sh"]).unwrap(),
        ["dash-0.5-r0"]
    );
    assert_eq!(
        resolve(&[src(&idx)], &["libfoo<1.2"]).unwrap(),
        ["libfoo-1.0-r0"]
    );
    assert_eq!(
        resolve(&[src(&idx)], &["libfoo~1.0"]).unwrap(),
        ["libfoo-1.0-r0"]
    );
    // A versioned world entry holds for every dependency on that name.
    assert_eq!(
        resolve(&[src(&idx)], &["app", "libfoo=1.0-r0"]).unwrap(),
        ["libfoo-1.0-r0", "busybox-1.36-r0", "app-1.0-r0"]
    );
}

#[test]
fn install_if_follows_its_triggers() {
    let idx = text(SMALL);
    assert_eq!(resolve(&[src(&idx)], &["lang"]).unwrap(), ["lang-1.0-r0"]);
    assert_eq!(
        resolve(&[src(&idx)], &["lang", "docs"]).unwrap(),
        ["lang-1.0-r0", "docs-1", "lang-doc-1.0-r0"]
    );
}

#[test]
fn conflicts_are_reported_with_their_chains() {
    let idx = text(SMALL);
    assert_eq!(
        resolve(&[src(&idx)], &["uses-newer", "old"]).unwrap_err(),
        "conflict: world \"uses-newer\" → uses-newer-1.0-r0 → newer-1.0-r0 is selected, but world \"old\" → old-2.0-r0 forbids it (\"!newer\")"
    );
    assert_eq!(
        resolve(&[src(&idx)], &["old", "uses-newer"]).unwrap_err(),
        "no package satisfies \"newer\" (needed by world \"uses-newer\" → uses-newer-1.0-r0 → newer):\n  newer-1.0-r0 conflicts with \"!newer\" from world \"old\" → old-2.0-r0"
    );
    assert_eq!(
        resolve(&[src(&idx)], &["lang", "!docs", "docs"]).unwrap_err(),
        "no package satisfies \"docs\" (needed by world \"docs\" → docs):\n  docs-1 conflicts with \"!docs\" from world \"!docs\""
    );
    assert_eq!(
        resolve(&[src(&idx)], &["nosuch>=1"]).unwrap_err(),
        "nothing provides \"nosuch>=1\" (needed by world \"nosuch>=1\" → nosuch>=1); check the package name and the repositories"
    );
    assert_eq!(
        resolve(&[src(&idx)], &["libfoo>2"]).unwrap_err(),
        "no package satisfies \"libfoo>2\" (needed by world \"libfoo>2\" → libfoo>2):\n  libfoo-1.0-r0 does not match the version\n  libfoo-1.2-r0 does not match the version"
    );
}

#[test]
fn pinned_repositories_serve_only_tagged_requests() {
    let main = text("P:tool\nV:1.0-r0\n\nP:lib\nV:1.0-r0\n");
    let edge = text("P:tool\nV:2.0-r0\nD:lib>=2\n\nP:lib\nV:2.0-r0\n");
    let sources = [
        src(&main),
        Source {
            index: &edge,
            tag: Some("edge"),
            installed: false,
        },
    ];
    assert_eq!(resolve(&sources, &["tool"]).unwrap(), ["tool-1.0-r0"]);
    // tool@edge, and its dependency lib>=2 from the same tagged repository.
    assert_eq!(
        resolve(&sources, &["tool@edge"]).unwrap(),
        ["lib-2.0-r0", "tool-2.0-r0"]
    );
    assert_eq!(
        resolve(&sources, &["lib>=2"]).unwrap_err(),
        "no package satisfies \"lib>=2\" (needed by world \"lib>=2\" → lib>=2):\n  lib-1.0-r0 does not match the version\n  lib-2.0-r0 is in the repository tagged @edge (ask for lib@edge)"
    );
}

/// A dependency chain of 100,000 levels resolves (it used to overflow the stack at about
/// 30,000 on the main thread), each package after the one it depends on.
#[test]
fn a_chain_of_100000_levels_resolves_without_recursion() {
    const N: usize = 100_000;
    let mut t = String::with_capacity(N * 40);
    for i in 0..N {
        t.push_str(&format!("P:p{i}\nV:1.0-r0\n"));
        if i + 1 < N {
            t.push_str(&format!("D:p{}\n", i + 1));
        }
        t.push('\n');
    }
    let index = text(&t);
    let got = resolve(&[src(&index)], &["p0"]).unwrap();
    assert_eq!(got.len(), N);
    assert_eq!(got[0], format!("p{}-1.0-r0", N - 1));
    assert_eq!(got[N - 1], "p0-1.0-r0");
}

/// Names and versions become paths (`NAME-VERSION.apk`): one that could leave the repository
/// directory is refused when the index is read, naming the record.
#[test]
fn names_and_versions_that_could_escape_a_path_are_refused() {
    for (record, error) in [
        (
            "P:../../x\nV:1.0-r0\n",
            "the record at line 1 has an invalid package name \"../../x\" (a name is printable, without blanks or path separators)",
        ),
        (
            "P:..\nV:1.0-r0\n",
            "the record at line 1 has an invalid package name \"..\" (a name is printable, without blanks or path separators)",
        ),
        (
            "P:x\nV:1.0/../../y\n",
            "the record at line 1 (package x) has an invalid version \"1.0/../../y\"",
        ),
    ] {
        let err = Index::parse(format!("P:ok\nV:1-r0\n\n{record}"))
            .err()
            .unwrap_or_else(|| panic!("{record:?} was accepted"));
        assert_eq!(err, error.replace("line 1", "line 4"));
    }
    // apk's own virtual names (`apk add -t .build-deps`) and `+` stay valid.
    assert!(
        Index::parse(
            "P:.build-deps\nV:20240101.000000\n\nP:libstdc++\nV:12.2.1_git20220924-r4\n".into()
        )
        .is_ok()
    );
}
