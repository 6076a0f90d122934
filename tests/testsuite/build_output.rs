//! The image half against real consumers: images made from a tree holding Debian's static
//! busybox are read by skopeo, validated by oci-image-tool, unpacked by umoci, and loaded and
//! run by podman (runc, no network, private storage); `apko build` builds on top of such an
//! image as a base, reproducibly, and leaves no OUTPUT when it fails.

use crate::support::require;
use apko::fs::{Entry, Tree};
use apko::image::assemble;
use apko::image::build::finish_tree;
use apko::image::config::{Arch, ImageConfig};
use apko::image::layer::Layer;
use apko::image::{oci, output};
use apko::registry::reference::Reference;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::TESTDATA;

fn apko() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_apko"));
    c.env_remove("SOURCE_DATE_EPOCH")
        .env("DOCKER_CONFIG", "/nonexistent-apko-test")
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR");
    c
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A tree with /bin/busybox (Debian's busybox-static) and a few applet links.
fn busybox_tree() -> Tree {
    let busybox = std::fs::read("/bin/busybox").unwrap_or_else(|_| {
        require("busybox-static-missing", "busybox-static");
        unreachable!()
    });
    let mut t = Tree::new();
    t.insert("bin/busybox", Entry::file(busybox, 0o755))
        .unwrap();
    for applet in ["sh", "echo", "cat", "ls", "id", "stat"] {
        t.insert(&format!("bin/{applet}"), Entry::symlink("busybox"))
            .unwrap();
    }
    t.insert(
        "etc/os-release",
        Entry::file(&b"ID=apko-test\nNAME=\"apko test\"\n"[..], 0o644),
    )
    .unwrap();
    t.insert("tmp", Entry::dir(0o1777)).unwrap();
    t
}

const CONFIG: &str = r#"
entrypoint:
  command: /bin/sh -c 'echo "hello from $(cat /etc/os-release | head -n1)"; id'
accounts:
  run-as: "65532"
  users:
    - username: nonroot
      uid: 65532
  groups:
    - groupname: nonroot
      gid: 65532
      members: [nonroot]
paths:
  - path: /data
    type: directory
    uid: 65532
    gid: 65532
    permissions: 0o750
annotations:
  org.example.purpose: test
contents:
  runtime_repositories: [https://packages.example/runtime]
  runtime_keyring:
    - name: runtime.rsa.pub
      content: "-----BEGIN PUBLIC KEY-----\nX\n-----END PUBLIC KEY-----\n"
"#;

/// The host architecture's image from the busybox tree, written as a layout and a tarball.
fn build_busybox(dir: &Path) -> (PathBuf, PathBuf, assemble::Image) {
    let mut ic = ImageConfig::parse(CONFIG, "test.yaml").unwrap();
    let arch = Arch::host();
    let mut tree = busybox_tree();
    finish_tree(&mut tree, &mut ic, 1_700_000_000).unwrap();
    let layer = Layer::from_tree(&tree, 2);
    let image = assemble::image(&ic, &arch, 1_700_000_000, None, layer).unwrap();
    let index = assemble::index(&ic, std::slice::from_ref(&image), 1_700_000_000);
    let reference = Reference::parse("apko-test/busybox:v1").unwrap();
    let layout = dir.join("layout");
    std::fs::create_dir(&layout).unwrap();
    output::write_layout(&layout, std::slice::from_ref(&image), &index, &reference).unwrap();
    let tarball = dir.join("busybox.tar");
    output::write_tarball(
        &tarball,
        std::slice::from_ref(&image),
        &oci::to_go_json(&index),
        &reference,
    )
    .unwrap();
    (layout, tarball, image)
}

fn host_tag() -> String {
    format!("v1-{}", Arch::host().as_str().replace('/', "_"))
}

#[test]
fn skopeo_reads_the_tarball_and_the_layout() {
    let skopeo = require("skopeo", "skopeo");
    let dir = tempfile::tempdir().unwrap();
    let (layout, tarball, image) = build_busybox(dir.path());
    for reference in [
        format!("oci:{}:{}", layout.display(), host_tag()),
        format!(
            "docker-archive:{}:index.docker.io/apko-test/busybox:{}",
            tarball.display(),
            host_tag()
        ),
    ] {
        let out = Command::new(&skopeo)
            .args(["inspect", "--config", &reference])
            .output()
            .unwrap();
        let cfg: serde_json::Value =
            serde_json::from_str(&ok(&out, &format!("skopeo inspect {reference}"))).unwrap();
        assert_eq!(cfg["architecture"], Arch::host().oci_platform().0);
        assert_eq!(cfg["created"], "2023-11-14T22:13:20Z");
        assert_eq!(cfg["config"]["User"], "65532");
        assert_eq!(cfg["config"]["Labels"]["org.example.purpose"], "test");
    }
    let out = Command::new(&skopeo)
        .args([
            "inspect",
            &format!("oci:{}:{}", layout.display(), host_tag()),
        ])
        .output()
        .unwrap();
    let inspect: serde_json::Value = serde_json::from_str(&ok(&out, "skopeo inspect")).unwrap();
    assert_eq!(inspect["Digest"], image.descriptor.digest);
    assert_eq!(inspect["Layers"][0], image.layers[0].descriptor.digest);
}

#[test]
fn oci_image_tool_validates_and_umoci_unpacks() {
    let tool = require("oci-image-tool", "oci-image-tool");
    let umoci = require("umoci", "umoci");
    let dir = tempfile::tempdir().unwrap();
    let (layout, _, _) = build_busybox(dir.path());
    let out = Command::new(&tool)
        .args(["validate", "--type", "image", "--ref"])
        .arg(format!("name={}", host_tag()))
        .arg(&layout)
        .output()
        .unwrap();
    let text = ok(&out, "oci-image-tool validate");
    assert!(text.contains("Validation succeeded"), "{text}");

    let bundle = dir.path().join("bundle");
    let out = Command::new(&umoci)
        .args(["unpack", "--rootless", "--image"])
        .arg(format!("{}:{}", layout.display(), host_tag()))
        .arg(&bundle)
        .output()
        .unwrap();
    ok(&out, "umoci unpack");
    let rootfs = bundle.join("rootfs");
    assert_eq!(
        std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap(),
        "nonroot:x:65532:65532:Account created by apko:/home/nonroot:/bin/sh\n"
    );
    assert_eq!(
        std::fs::read_to_string(rootfs.join("etc/group")).unwrap(),
        "nonroot:x:65532:nonroot\n"
    );
    assert_eq!(
        std::fs::read_to_string(rootfs.join("etc/apk/repositories")).unwrap(),
        "https://packages.example/runtime\n"
    );
    assert_eq!(
        std::fs::read_to_string(rootfs.join("etc/apk/keys/runtime.rsa.pub")).unwrap(),
        "-----BEGIN PUBLIC KEY-----\nX\n-----END PUBLIC KEY-----\n"
    );
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let data = std::fs::metadata(rootfs.join("data")).unwrap();
    assert_eq!(data.permissions().mode() & 0o7777, 0o750);
    assert_eq!(
        std::fs::read_link(rootfs.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    // umoci records the image's ownership (rootless: in its mtree, not on disk)
    let tmp = std::fs::metadata(rootfs.join("tmp")).unwrap();
    assert_eq!(tmp.permissions().mode() & 0o7777, 0o1777);
    assert_eq!(
        std::fs::metadata(rootfs.join("bin/busybox"))
            .unwrap()
            .mtime(),
        0
    );
}

/// podman with private storage, runc and lowered ulimits (test-infrastructure.md §8).
struct Podman {
    dir: tempfile::TempDir,
    bin: PathBuf,
}

impl Podman {
    fn new() -> Podman {
        let bin = require("podman", "podman");
        require("runc", "runc");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("containers.conf"),
            "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1000:1000\"]\n[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n",
        )
        .unwrap();
        Podman { dir, bin }
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn command(&self, args: &[&str]) -> Command {
        let d = self.dir.path();
        let mut c = Command::new(&self.bin);
        c.env("CONTAINERS_CONF", d.join("containers.conf"))
            .env("HOME", d)
            .env_remove("XDG_RUNTIME_DIR")
            .arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("runroot"))
            .arg("--tmpdir")
            .arg(d.join("tmp"))
            .args(["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs"])
            .args(args);
        c
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.run(&["system", "reset", "--force"]);
    }
}

#[test]
fn podman_loads_and_runs_the_tarball() {
    let dir = tempfile::tempdir().unwrap();
    let (_, tarball, _) = build_busybox(dir.path());
    let podman = Podman::new();
    let out = podman.run(&["load", "-i", tarball.to_str().unwrap()]);
    let text = ok(&out, "podman load");
    assert!(
        text.contains(&format!("apko-test/busybox:{}", host_tag())),
        "{text}"
    );
    let out = podman.run(&[
        "run",
        "--rm",
        "--network=none",
        &format!("apko-test/busybox:{}", host_tag()),
    ]);
    assert_eq!(
        ok(&out, "podman run"),
        "hello from ID=apko-test\nuid=65532(nonroot) gid=65532(nonroot) groups=65532(nonroot)\n"
    );
}

/// A directory where `testdata` is the given folder of shared testdata, as apko's tests ran.
fn workdir(testdata: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        format!("{TESTDATA}/{testdata}"),
        dir.path().join("testdata"),
    )
    .unwrap();
    dir
}

#[test]
fn every_real_config_parses_as_apko_reads_it() {
    let dir = workdir("apko-cli");
    for name in [
        "apko.yaml",
        "apko-certs.yaml",
        "apko-discover.yaml",
        "base_image.apko.yaml",
        "image_on_top.apko.yaml",
        "layering.yaml",
        "empty-layering.yaml",
    ] {
        let out = apko()
            .arg("-C")
            .arg(dir.path())
            .args(["show-config", &format!("testdata/{name}")])
            .output()
            .unwrap();
        ok(&out, name);
    }
    let types = workdir("apko-types");
    let out = apko()
        .arg("-C")
        .arg(types.path())
        .args([
            "show-config",
            "testdata/overlay/overlay_with_package.apko.yaml",
        ])
        .output()
        .unwrap();
    // the included files' lists come first; apko 1.2's MergeInto merges `repositories` too
    // (the older apko of ../shared/testdata dropped the included file's)
    assert_eq!(
        ok(&out, "overlay"),
        "contents:\n  repositories:\n  - repository\n  build_repositories:\n  - secret repository\n  - other_secret repository\n  runtime_repositories:\n  - runtime repository\n  - other runtime repository\n  keyring:\n  - key\n  packages:\n  - package\n  - other_package\ninclude: testdata/overlay/overlay.apko.yaml\n"
    );
    let out = apko()
        .arg("-C")
        .arg(types.path())
        .args(["show-config", "testdata/users.apko.yaml"])
        .output()
        .unwrap();
    let text = ok(&out, "users");
    assert!(
        text.contains(
            "  - username: something-else\n    uid: 2\n    gid: 1\n    homedir: /not/home\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("  - username: user\n    uid: 3\n    homedir: /home/user\n"),
        "{text}"
    );
}

fn failing_build(
    config: &str,
    env: &[(&str, &str)],
    extra: &[&str],
) -> (String, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("apko.yaml"), config).unwrap();
    let out_path = dir.path().join("out.tar");
    let mut cmd = apko();
    cmd.current_dir(dir.path())
        .args(["build", "apko.yaml", "test:1", "out.tar"])
        .args(extra);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(!out_path.exists(), "a failed build left its OUTPUT");
    (
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out_path,
        dir,
    )
}

#[test]
fn bad_configs_fail_with_exact_errors_and_no_output() {
    let (err, _, _) = failing_build("contents:\n  packages: []\n  pakages: [x]\n", &[], &[]);
    assert!(
        err.starts_with("Error: failed to parse image configuration apko.yaml: contents: unknown field `pakages`, expected one of "),
        "{err}"
    );
    assert!(err.trim_end().ends_with("at line 3 column 3"), "{err}");
    let (err, _, _) = failing_build(
        "accounts:\n  users:\n    - username: r\n      uid: 0\n",
        &[],
        &[],
    );
    assert_eq!(
        err,
        "Error: configured user \"r\" has UID 0 (to run as root, use `run-as: 0`)\n"
    );
    let (err, _, _) = failing_build(
        "archs: [x86_64]\n",
        &[("SOURCE_DATE_EPOCH", "yesterday")],
        &[],
    );
    assert_eq!(
        err,
        "Error: failed to parse SOURCE_DATE_EPOCH \"yesterday\": invalid digit found in string\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = apko()
        .current_dir(dir.path())
        .args(["build", "apko.yaml", "x@sha256:abcd", "out.tar"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error: unable to use \"x@sha256:abcd\" as the image tag: it names a digest; give a tag, e.g. name:latest\n"
    );
    let (err, _, _) = failing_build("archs: [x86_64]\n", &[], &["--annotations", "novalue"]);
    // apko's text, prefix and all (tests/testsuite/cli_parity.rs compares with real apko).
    assert_eq!(
        err,
        "Error: parsing annotations from command line: unable to parse annotation: novalue\n"
    );
    let (err, _, _) = failing_build(
        "contents:\n  baseimage:\n    image: ./layout\n    apkindex: ./layout\narchs: [x86_64]\n",
        &[],
        &[],
    );
    assert_eq!(
        err,
        "Error: building with base image is supported only with a lockfile\n"
    );
    let (err, _, _) = failing_build(
        "contents:\n  baseimage:\n    image: ./layout\nentrypoint:\n  command: /bin/true\n",
        &[],
        &[],
    );
    assert_eq!(
        err,
        "Error: when using base image, the only supported image specification are: contents, archs and includes\n"
    );
}

#[test]
fn a_failed_build_adds_nothing_to_an_output_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("apko.yaml"),
        "contents:\n  repositories: [./no-such-repo]\n  packages: [no-such-package]\narchs: [x86_64]\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("out")).unwrap();
    let out = apko()
        .current_dir(dir.path())
        .args(["build", "apko.yaml", "test:1", "out"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        std::fs::read_dir(dir.path().join("out")).unwrap().count(),
        0
    );
}

const LOCK: &str = r#"{"version":"v1","contents":{"keyring":[],"build_repositories":[],"runtime_repositories":[],"repositories":[],"packages":[]}}"#;

/// `apko build` on top of a base layout, with `SOURCE_DATE_EPOCH`.
/// Builds on the layout `base`, whose packages `apkindex/<arch>/APKINDEX` lists (as apko, which
/// reads it for the world; `None`: an empty one beside `base`, for a base without packages; the
/// path is in `/etc/apko.json`, so the same for every build on `base`).
fn build_on_base(dir: &Path, base: &Path, apkindex: Option<&str>, output: &str) -> Output {
    let apkindex = apkindex.map(PathBuf::from).unwrap_or_else(|| {
        let empty = base.with_file_name("apkindex");
        let arch_dir = empty.join(Arch::host().to_apk());
        std::fs::create_dir_all(&arch_dir).unwrap();
        std::fs::write(arch_dir.join("APKINDEX"), "").unwrap();
        empty
    });
    std::fs::write(
        dir.join("apko.yaml"),
        format!(
            "contents:\n  baseimage:\n    image: {}\n    apkindex: {}\n",
            base.display(),
            apkindex.display()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("apko.lock.json"), LOCK).unwrap();
    apko()
        .current_dir(dir)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args([
            "build",
            "apko.yaml",
            "apko-test/ontop:v1",
            output,
            "--lockfile",
            "apko.lock.json",
            "--arch",
            "host",
        ])
        .output()
        .unwrap()
}

#[test]
fn build_on_a_base_image_keeps_its_layers_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, _, base) = build_busybox(dir.path());
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    ok(
        &build_on_base(&work, &layout, None, "out.tar"),
        "apko build",
    );

    // the base layer is carried over untouched under the new one
    let extract = work.join("x");
    std::fs::create_dir(&extract).unwrap();
    let st = Command::new("tar")
        .arg("xf")
        .arg(work.join("out.tar"))
        .arg("-C")
        .arg(&extract)
        .status()
        .unwrap();
    assert!(st.success());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(extract.join("manifest.json")).unwrap()).unwrap();
    let layers = manifest[0]["Layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    assert_eq!(
        layers[0],
        format!(
            "{}.tar.gz",
            base.layers[0]
                .descriptor
                .digest
                .trim_start_matches("sha256:")
        )
    );
    assert_eq!(
        manifest[0]["RepoTags"][0],
        format!("index.docker.io/apko-test/ontop:{}", host_tag())
    );

    let podman = Podman::new();
    ok(
        &podman.run(&["load", "-i", work.join("out.tar").to_str().unwrap()]),
        "podman load",
    );
    let out = podman.run(&[
        "run",
        "--rm",
        "--network=none",
        &format!("apko-test/ontop:{}", host_tag()),
    ]);
    assert!(
        ok(&out, "podman run").starts_with("hello from ID=apko-test\n"),
        "{out:?}"
    );
}

#[test]
fn same_inputs_and_source_date_epoch_give_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, _, _) = build_busybox(dir.path());
    let mut tarballs = Vec::new();
    let mut layouts = Vec::new();
    for run in ["a", "b"] {
        let work = dir.path().join(run);
        std::fs::create_dir_all(work.join("oci")).unwrap();
        ok(
            &build_on_base(&work, &layout, None, "out.tar"),
            "tarball build",
        );
        ok(&build_on_base(&work, &layout, None, "oci"), "layout build");
        tarballs.push(std::fs::read(work.join("out.tar")).unwrap());
        let mut files = Vec::new();
        for e in walk(&work.join("oci")) {
            files.push((
                e.strip_prefix(work.join("oci")).unwrap().to_path_buf(),
                std::fs::read(&e).unwrap(),
            ));
        }
        files.sort();
        layouts.push(files);
    }
    assert!(tarballs[0] == tarballs[1], "tarballs differ");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("a/out.tar"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
    assert!(layouts[0] == layouts[1], "layouts differ");
    assert!(layouts[0].iter().any(|(p, _)| p == Path::new("index.json")));
    assert!(
        !layouts[0]
            .iter()
            .any(|(p, _)| p.to_string_lossy().contains(".apko-"))
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn building_on_apkos_base_image_reuses_its_layer() {
    let dir = workdir("apko-cli");
    let out = build_on_base(
        dir.path(),
        Path::new("testdata/base_image"),
        Some("testdata/base_image/metadata"),
        "out.tar",
    );
    // --arch host: only run where the base image has this architecture
    if !matches!(Arch::host().as_str(), "amd64" | "arm64") {
        return;
    }
    ok(&out, "apko build on base_image");
    let listing = Command::new("tar")
        .arg("tf")
        .arg(dir.path().join("out.tar"))
        .output()
        .unwrap();
    let names = ok(&listing, "tar tf");
    let base_layer = if Arch::host().as_str() == "amd64" {
        "bf74ddaf55d32ec9672a0a40efc6cb1bf0a167763c18fc22586c8a301167822f.tar.gz"
    } else {
        "583625b6164fff3b017f62b9fcd60cb53fff18a7e89ee538212134a13fc29fb1.tar.gz"
    };
    assert!(names.lines().any(|l| l == base_layer), "{names}");
}

#[test]
fn a_config_in_a_git_checkout_gets_source_and_revision_annotations() {
    let git = require("git", "git");
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("images")).unwrap();
    std::fs::write(repo.join("images/apko.yaml"), "archs: [x86_64]\n").unwrap();
    let g = |args: &[&str]| {
        let out = Command::new(&git)
            .current_dir(&repo)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
            .args(args)
            .output()
            .unwrap();
        ok(&out, &format!("git {args:?}"))
    };
    g(&["init", "-q"]);
    g(&[
        "remote",
        "add",
        "origin",
        "https://ci:token@git.example/org/images.git",
    ]);
    g(&["add", "."]);
    g(&["commit", "-q", "-m", "x"]);
    let head = g(&["rev-parse", "HEAD"]).trim().to_string();
    let build = |extra: &[&str]| {
        let out = apko()
            .current_dir(&repo)
            .env("SOURCE_DATE_EPOCH", "0")
            .args(["build", "images/apko.yaml", "vcs:1", "out.tar"])
            .args(extra)
            .output()
            .unwrap();
        ok(&out, "apko build");
        let listing = Command::new("tar")
            .args(["xOf", "out.tar", "index.json"])
            .current_dir(&repo)
            .output()
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&listing.stdout).unwrap()["annotations"].clone()
    };
    let a = build(&[]);
    assert_eq!(
        a["org.opencontainers.image.source"],
        "https://git.example/org/images.git"
    );
    assert_eq!(a["org.opencontainers.image.revision"], head.as_str());
    let a = build(&["--vcs=false"]);
    assert!(a.get("org.opencontainers.image.source").is_none(), "{a}");
}

/// podman's Docker-compatible API on a private socket, for `publish --local`.
struct DockerApi {
    child: std::process::Child,
    socket: PathBuf,
}

impl DockerApi {
    fn start(podman: &Podman) -> DockerApi {
        let socket = podman.dir.path().join("docker.sock");
        let mut child = podman
            .command(&[
                "system",
                "service",
                "--time=0",
                &format!("unix://{}", socket.display()),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..200 {
            if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
                return DockerApi { child, socket };
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "podman system service did not listen on {}",
            socket.display()
        );
    }

    fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }
}

impl Drop for DockerApi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `name:tag` of every image podman has.
fn podman_tags(podman: &Podman) -> Vec<String> {
    let out = podman.run(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    let mut tags: Vec<String> = ok(&out, "podman images")
        .lines()
        .map(String::from)
        .collect();
    tags.sort();
    tags
}

#[test]
fn publish_local_loads_the_image_into_the_daemon_and_tags_it() {
    let podman = Podman::new();
    let api = DockerApi::start(&podman);
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/hello/apko.yaml");
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    std::fs::create_dir(&layout).unwrap();
    ok(
        &apko()
            .args(["build", config, "hello:1"])
            .arg(&layout)
            .args(["--offline", "--cache-dir"])
            .arg(dir.path().join("cache"))
            .output()
            .unwrap(),
        "apko build",
    );
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let amd64 = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["platform"]["architecture"] == "amd64")
        .unwrap()["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();

    let out = apko()
        .args([
            "publish",
            "--local",
            config,
            "localhost/hello-local:1",
            "registry.example/team/hello:2",
        ])
        .args(["--offline", "--cache-dir"])
        .arg(dir.path().join("cache"))
        .env("DOCKER_HOST", api.host())
        .env_remove("GOARCH")
        .output()
        .unwrap();
    assert_eq!(
        ok(&out, "apko publish --local"),
        format!("apko.local/cache:{amd64}\n")
    );
    let tags = podman_tags(&podman);
    for want in [
        format!("apko.local/cache:{amd64}"),
        "localhost/hello-local:1".to_string(),
        "registry.example/team/hello:2".to_string(),
    ] {
        assert!(tags.contains(&want), "{want} not in {tags:?}");
    }
    // Only those: the load itself adds no other name.
    assert_eq!(tags.len(), 3, "{tags:?}");
    let out = podman.run(&[
        "image",
        "inspect",
        "--format",
        "{{.Architecture}}",
        "localhost/hello-local:1",
    ]);
    assert_eq!(ok(&out, "podman image inspect"), "amd64\n");

    // Real apko into the same daemon: the same output form, the same tags.
    let out = Command::new(crate::support::peer("apko-go"))
        .args([
            "publish",
            "--local",
            config,
            "localhost/hello-apko:1",
            "--sbom=false",
        ])
        .env("DOCKER_HOST", api.host())
        .env("DOCKER_CONFIG", "/nonexistent-apko-test")
        .env("HOME", dir.path())
        .env_remove("GOARCH")
        .output()
        .unwrap();
    let theirs = ok(&out, "real apko publish --local");
    let hex = theirs
        .strip_prefix("apko.local/cache:")
        .and_then(|t| t.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("{theirs:?}"));
    assert!(
        hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        "{theirs:?}"
    );
    let tags = podman_tags(&podman);
    for want in [
        format!("apko.local/cache:{hex}"),
        "localhost/hello-apko:1".into(),
    ] {
        assert!(tags.contains(&want), "{want} not in {tags:?}");
    }

    // No daemon: the error names where it looked and what to set.
    let out = apko()
        .args([
            "publish",
            "--local",
            config,
            "localhost/x:1",
            "--offline",
            "--cache-dir",
        ])
        .arg(dir.path().join("cache"))
        .env(
            "DOCKER_HOST",
            format!("unix://{}/none.sock", dir.path().display()),
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).lines().last().unwrap(),
        format!(
            "Error: cannot connect to the Docker daemon at unix://{}/none.sock: No such file or directory; is it running? (set DOCKER_HOST for another one, e.g. unix:///run/podman/podman.sock for podman's `podman system service`)",
            dir.path().display()
        )
    );
}

#[test]
fn layering_with_an_unknown_strategy_is_refused_before_any_fetch() {
    let dir = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let cases = [
        (
            "layering: {strategy: bogus, budget: 2}\n",
            "Error: layering: unrecognized layering strategy \"bogus\" (the one strategy is \"origin\", with a budget of layers)",
        ),
        (
            "layering: {budget: 2}\n",
            "Error: layering: unrecognized layering strategy \"\" (the one strategy is \"origin\", with a budget of layers)",
        ),
    ];
    for (layering, want) in cases {
        let config = dir.path().join("c.yaml");
        std::fs::write(
            &config,
            format!(
                "contents:\n  keyring: [{root}/examples/hello/apko-rs-example.rsa.pub]\n  repositories: [https://unreachable.invalid/repo]\n  packages: [hello]\narchs: [x86_64]\n{layering}"
            ),
        )
        .unwrap();
        let out = dir.path().join("out.tar");
        let run = apko()
            .arg("build")
            .arg(&config)
            .arg("x:1")
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(1));
        assert_eq!(
            String::from_utf8_lossy(&run.stderr).lines().last().unwrap(),
            want
        );
        assert!(!out.exists());
    }
}
