//! `/etc/apko.json`, as apko 1.2 writes it (`WriteEtcApkoConfig`): the architecture's locked
//! configuration encoded by Go's `json.Encoder` (compact, HTML-safe escapes, a final newline)
//! in the field order and with the `omitempty` rules of apko's `types.ImageConfiguration`,
//! mode 0444.
//!
//! The locked configuration ([`locked`]) is what apko builds each architecture from: the
//! configuration with its repositories and keys sorted and de-duplicated, every resolved
//! package pinned (`name=version`, sorted; a lockfile's list as it stands), `archs` the one
//! architecture, and neither `vcs-url` nor `include` (apko's `MergeInto` copies neither).

use super::config::{self, Arch, ImageConfig};
use super::oci;
use serde::Serialize;
use std::collections::BTreeMap;

/// The configuration `arch` is built from: `packages` are the locked ones, before the
/// service bundle's `s6` (which apko's validation appends once more, unpinned).
pub fn locked(ic: &ImageConfig, arch: &Arch, packages: Vec<String>) -> ImageConfig {
    let mut out = ic.clone();
    let c = &mut out.contents;
    for list in [
        &mut c.repositories,
        &mut c.build_repositories,
        &mut c.keyring,
    ] {
        // The image is shared; credentials in a URL are not (apko keeps them here).
        for entry in list.iter_mut() {
            *entry = crate::apk::repo::redact(entry);
        }
        list.sort();
        list.dedup();
    }
    for entry in c.runtime_repositories.iter_mut() {
        *entry = crate::apk::repo::redact(entry);
    }
    c.packages = packages;
    if out.entrypoint.kind == "service-bundle" {
        c.packages.push("s6".into());
    }
    out.archs = vec![arch.as_str().to_string()];
    out.vcs_url.clear();
    out.include.clear();
    out
}

/// `name=version` of each resolved package, with the `@tag` its constraint in `originals`
/// carried, sorted as apko's `unify` sorts them (by the whole string).
pub fn pinned<'a>(
    originals: &[String],
    resolved: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<String> {
    let mut tags: BTreeMap<&str, &str> = BTreeMap::new();
    for orig in originals {
        if let Some(at) = orig.find('@') {
            let end = orig.find(['=', '<', '>', '~']).unwrap_or(orig.len());
            let name = orig[..end]
                .strip_suffix(&orig[at..])
                .unwrap_or(&orig[..end]);
            tags.insert(name, &orig[at..]);
        }
    }
    let mut out: Vec<String> = resolved
        .into_iter()
        .map(|(name, version)| format!("{name}={version}{}", tags.get(name).unwrap_or(&"")))
        .collect();
    out.sort();
    out
}

/// The bytes of `/etc/apko.json` for the locked configuration `ic`.
pub fn encode(ic: &ImageConfig) -> Vec<u8> {
    let mut out = oci::to_go_json(&Go::from(ic));
    out.push(b'\n');
    out
}

fn empty<T>(v: &[T]) -> bool {
    v.is_empty()
}
fn zero(n: &u32) -> bool {
    *n == 0
}
fn no_map(m: &Option<&BTreeMap<String, String>>) -> bool {
    m.is_none_or(|m| m.is_empty())
}

/// `types.ImageConfiguration`'s JSON.
#[derive(Serialize)]
struct Go<'a> {
    contents: Contents<'a>,
    entrypoint: Entrypoint<'a>,
    #[serde(skip_serializing_if = "str::is_empty")]
    cmd: &'a str,
    #[serde(rename = "stop-signal", skip_serializing_if = "str::is_empty")]
    stop_signal: &'a str,
    #[serde(rename = "work-dir", skip_serializing_if = "str::is_empty")]
    work_dir: &'a str,
    accounts: Accounts<'a>,
    #[serde(skip_serializing_if = "empty")]
    archs: &'a [String],
    #[serde(skip_serializing_if = "no_map")]
    environment: Option<&'a BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "empty")]
    paths: Vec<Path<'a>>,
    #[serde(rename = "vcs-url", skip_serializing_if = "str::is_empty")]
    vcs_url: &'a str,
    #[serde(skip_serializing_if = "no_map")]
    annotations: Option<&'a BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "str::is_empty")]
    include: &'a str,
    #[serde(skip_serializing_if = "empty")]
    volumes: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    layering: Option<Layering<'a>>,
    #[serde(skip_serializing_if = "str::is_empty")]
    format: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    certificates: Option<Certificates<'a>>,
}

#[derive(Serialize)]
struct Contents<'a> {
    #[serde(skip_serializing_if = "empty")]
    build_repositories: &'a [String],
    #[serde(skip_serializing_if = "empty")]
    runtime_repositories: &'a [String],
    #[serde(skip_serializing_if = "empty")]
    repositories: &'a [String],
    #[serde(skip_serializing_if = "empty")]
    keyring: &'a [String],
    #[serde(skip_serializing_if = "empty")]
    runtime_keyring: Vec<Named<'a>>,
    #[serde(skip_serializing_if = "empty")]
    packages: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    baseimage: Option<BaseImage<'a>>,
}

#[derive(Serialize)]
struct BaseImage<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    image: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    apkindex: &'a str,
}

#[derive(Serialize)]
struct Named<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    content: &'a str,
}

#[derive(Serialize)]
struct Entrypoint<'a> {
    #[serde(rename = "type", skip_serializing_if = "str::is_empty")]
    kind: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    command: &'a str,
    #[serde(rename = "shell-fragment", skip_serializing_if = "str::is_empty")]
    shell_fragment: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    services: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Accounts<'a> {
    #[serde(rename = "run-as", skip_serializing_if = "str::is_empty")]
    run_as: &'a str,
    #[serde(skip_serializing_if = "empty")]
    users: Vec<User<'a>>,
    #[serde(skip_serializing_if = "empty")]
    groups: Vec<Group<'a>>,
}

#[derive(Serialize)]
struct User<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    username: &'a str,
    #[serde(skip_serializing_if = "zero")]
    uid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    gid: Option<u32>,
    #[serde(skip_serializing_if = "str::is_empty")]
    shell: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    homedir: &'a str,
}

#[derive(Serialize)]
struct Group<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    groupname: &'a str,
    #[serde(skip_serializing_if = "zero")]
    gid: u32,
    #[serde(skip_serializing_if = "empty")]
    members: &'a [String],
}

#[derive(Serialize)]
struct Path<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    path: &'a str,
    #[serde(rename = "type", skip_serializing_if = "str::is_empty")]
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gid: Option<u32>,
    #[serde(skip_serializing_if = "zero")]
    permissions: u32,
    #[serde(skip_serializing_if = "str::is_empty")]
    source: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    recursive: bool,
}

#[derive(Serialize)]
struct Layering<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    strategy: &'a str,
    #[serde(skip_serializing_if = "zero")]
    budget: u32,
}

#[derive(Serialize)]
struct Certificates<'a> {
    #[serde(skip_serializing_if = "empty")]
    additional: Vec<Named<'a>>,
    #[serde(skip_serializing_if = "empty")]
    providers: &'a [String],
}

fn named(list: &[config::NamedContent]) -> Vec<Named<'_>> {
    list.iter()
        .map(|n| Named {
            name: &n.name,
            content: &n.content,
        })
        .collect()
}

impl<'a> From<&'a ImageConfig> for Go<'a> {
    fn from(ic: &'a ImageConfig) -> Go<'a> {
        let c = &ic.contents;
        Go {
            contents: Contents {
                build_repositories: &c.build_repositories,
                runtime_repositories: &c.runtime_repositories,
                repositories: &c.repositories,
                keyring: &c.keyring,
                runtime_keyring: named(&c.runtime_keyring),
                packages: &c.packages,
                baseimage: c.baseimage.as_ref().map(|b| BaseImage {
                    image: &b.image,
                    apkindex: &b.apkindex,
                }),
            },
            entrypoint: Entrypoint {
                kind: &ic.entrypoint.kind,
                command: &ic.entrypoint.command,
                shell_fragment: &ic.entrypoint.shell_fragment,
                services: &ic.entrypoint.services,
            },
            cmd: &ic.cmd,
            stop_signal: &ic.stop_signal,
            work_dir: &ic.work_dir,
            accounts: Accounts {
                run_as: &ic.accounts.run_as,
                users: ic
                    .accounts
                    .users
                    .iter()
                    .map(|u| User {
                        username: &u.username,
                        uid: u.uid,
                        gid: u.gid,
                        shell: &u.shell,
                        homedir: &u.homedir,
                    })
                    .collect(),
                groups: ic
                    .accounts
                    .groups
                    .iter()
                    .map(|g| Group {
                        groupname: &g.groupname,
                        gid: g.gid,
                        members: &g.members,
                    })
                    .collect(),
            },
            archs: &ic.archs,
            environment: ic.environment.as_ref(),
            paths: ic
                .paths
                .iter()
                .map(|p| Path {
                    path: &p.path,
                    kind: &p.kind,
                    uid: p.uid,
                    gid: p.gid,
                    permissions: p.permissions,
                    source: &p.source,
                    recursive: p.recursive,
                })
                .collect(),
            vcs_url: &ic.vcs_url,
            annotations: ic.annotations.as_ref(),
            include: &ic.include,
            volumes: &ic.volumes,
            layering: ic.layering.as_ref().map(|l| Layering {
                strategy: &l.strategy,
                budget: l.budget,
            }),
            format: &ic.format,
            certificates: ic.certificates.as_ref().map(|c| Certificates {
                additional: named(&c.additional),
                providers: &c.providers,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_carry_the_tag_and_sort_by_the_whole_string() {
        let originals = vec![
            "foo@testing".to_string(),
            "foo-bar=1.0@edge".into(),
            "x".into(),
        ];
        assert_eq!(
            pinned(
                &originals,
                [("foo-bar", "1.0-r0"), ("foo", "2-r1"), ("x", "3-r0")]
            ),
            ["foo-bar=1.0-r0@edge", "foo=2-r1@testing", "x=3-r0"]
        );
    }

    #[test]
    fn every_setting_as_apko_writes_it() {
        // tests/differential/full.yaml, loaded (user homes defaulted) and locked as a build
        // locks it for x86_64, `run-as: app` resolved to its UID: byte for byte the
        // /etc/apko.json apko 1.2.39 wrote for it
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let ic = ImageConfig::load(&root.join("tests/differential/full.yaml"), &[]).unwrap();
        let packages = pinned(
            &ic.contents.packages,
            [
                ("difftest-base", "1.0-r0"),
                ("difftest-app", "2.0-r1"),
                ("difftest-replacer", "1.0-r0"),
                ("difftest-certs", "1.0-r0"),
            ],
        );
        let mut locked = locked(&ic, &Arch::parse("x86_64"), packages);
        locked.accounts.run_as = "1000".into();
        assert_eq!(
            String::from_utf8(encode(&locked)).unwrap(),
            std::fs::read_to_string(root.join("tests/fixtures/apko-1.2.39/full-x86_64.apko.json"))
                .unwrap()
        );
    }

    #[test]
    fn service_bundle_and_empty_config_as_apko_writes_them() {
        // byte for byte apko 1.2.39's /etc/apko.json for tests/differential/service-bundle.yaml
        let ic = ImageConfig::parse(
            "contents:\n  keyring: [./local/difftest.rsa.pub]\n  repositories: [./local/repo]\n  packages: [difftest-app, s6]\nentrypoint:\n  type: service-bundle\n  command: /bin/s6-svscan /sv\n  services:\n    logger: /bin/sh -c \"exec cat\"\n    app: /usr/bin/app --serve\narchs: [x86_64]\nvcs-url: https://example.invalid/x@abc\n",
            "t",
        )
        .unwrap();
        let packages = pinned(
            &ic.contents.packages,
            [
                ("s6", "2.13-r0"),
                ("difftest-base", "1.0-r0"),
                ("difftest-app", "2.0-r1"),
            ],
        );
        let locked = locked(&ic, &Arch::parse("x86_64"), packages);
        assert_eq!(
            String::from_utf8(encode(&locked)).unwrap(),
            r#"{"contents":{"repositories":["./local/repo"],"keyring":["./local/difftest.rsa.pub"],"packages":["difftest-app=2.0-r1","difftest-base=1.0-r0","s6=2.13-r0","s6"]},"entrypoint":{"type":"service-bundle","command":"/bin/s6-svscan /sv","services":{"app":"/usr/bin/app --serve","logger":"/bin/sh -c \"exec cat\""}},"accounts":{},"archs":["amd64"]}
"#
        );
        assert_eq!(
            encode(&ImageConfig::default()),
            b"{\"contents\":{},\"entrypoint\":{},\"accounts\":{}}\n"
        );
    }
}
