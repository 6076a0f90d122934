//! From layers to an image and from images to an index, with the fields apko sets: the config
//! (entrypoint, cmd, env with apko's defaults, user, working dir, stop signal, volumes, labels,
//! one history entry per layer, `created` = the build date), the manifest with the
//! configuration's annotations, and the index with one manifest per architecture (sorted by
//! architecture) and the creation time.

use super::base::BaseImage;
use super::config::{Arch, ImageConfig};
use super::layer::{self, BlobData, Layer};
use super::oci::{self, ConfigFile, Descriptor, History, Index, Manifest, Platform};
use std::collections::BTreeMap;

/// apko's default environment, added for any variable the config does not set.
const DEFAULT_ENV: [(&str, &str); 2] = [
    (
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/sbin:/bin",
    ),
    ("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt"),
];

/// The annotation carrying the creation time.
pub const CREATED: &str = "org.opencontainers.image.created";

/// A blob of the image: bytes and descriptor.
#[derive(Debug, Clone)]
pub struct Blob {
    /// The bytes (shared: base layers are not copied; a built layer stays in its file).
    pub data: BlobData,
    /// Its descriptor.
    pub descriptor: Descriptor,
}

/// One architecture's finished image.
#[derive(Debug, Clone)]
pub struct Image {
    /// Its architecture.
    pub arch: Arch,
    /// The config blob.
    pub config: Blob,
    /// The layer blobs, bottom first.
    pub layers: Vec<Blob>,
    /// The manifest bytes.
    pub manifest: Vec<u8>,
    /// The manifest's descriptor as the index lists it.
    pub descriptor: Descriptor,
}

/// The annotations of the configuration plus the VCS ones apko derives from `vcs-url`.
pub fn annotations(ic: &ImageConfig) -> BTreeMap<String, String> {
    let mut a = ic.annotations.clone().unwrap_or_default();
    if let Some((url, rev)) = ic.vcs_url.split_once('@') {
        a.insert("org.opencontainers.image.source".into(), url.into());
        a.insert("org.opencontainers.image.revision".into(), rev.into());
    }
    a
}

/// Splits a command line as apko does (POSIX shell words).
fn split(what: &str, line: &str) -> Result<Vec<String>, String> {
    shlex::split(line).ok_or_else(|| format!("unable to parse {what}: {line:?}"))
}

/// The image config for `arch`, on top of `base` when there is one.
pub fn config_file(
    ic: &ImageConfig,
    arch: &Arch,
    created: u64,
    base: Option<&BaseImage>,
    diff_id: &str,
) -> Result<ConfigFile, String> {
    config_file_layers(ic, arch, created, base, &[diff_id.to_string()], false)
}

/// [`config_file`] for the layers whose diff_ids are `diff_ids`; `layered` (a `layering`
/// build) gives each its own history entry without a comment, as apko writes them.
pub fn config_file_layers(
    ic: &ImageConfig,
    arch: &Arch,
    created: u64,
    base: Option<&BaseImage>,
    diff_ids: &[String],
    layered: bool,
) -> Result<ConfigFile, String> {
    let mut cfg = base.map(|b| b.config.clone()).unwrap_or_default();
    let when = oci::rfc3339(created);
    let (architecture, variant) = arch.oci_platform();
    cfg.author = "github.com/chainguard-dev/apko".into();
    cfg.architecture = architecture.into();
    cfg.variant = variant.unwrap_or_default().into();
    cfg.created = when.clone();
    cfg.os = "linux".into();
    // apko's labels are the manifest's annotations, the creation time included.
    cfg.config.Labels = annotations(ic);
    cfg.config.Labels.insert(CREATED.into(), when.clone());
    if !ic.entrypoint.shell_fragment.is_empty() {
        cfg.config.Entrypoint = vec![
            "/bin/sh".into(),
            "-c".into(),
            ic.entrypoint.shell_fragment.clone(),
        ];
    } else if !ic.entrypoint.command.is_empty() {
        cfg.config.Entrypoint = split("entrypoint command", &ic.entrypoint.command)?;
    }
    if !ic.cmd.is_empty() {
        cfg.config.Cmd = split("cmd", &ic.cmd)?;
    }
    if !ic.work_dir.is_empty() {
        cfg.config.WorkingDir = ic.work_dir.clone();
    }
    if !ic.volumes.is_empty() {
        cfg.config.Volumes = ic
            .volumes
            .iter()
            .map(|v| (v.clone(), oci::Empty {}))
            .collect();
    }
    let mut env = ic.environment.clone().unwrap_or_default();
    for (k, v) in DEFAULT_ENV {
        env.entry(k.into()).or_insert_with(|| v.into());
    }
    let mut env: Vec<String> = env.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    env.sort();
    cfg.config.Env = env;
    if !ic.accounts.run_as.is_empty() {
        cfg.config.User = ic.accounts.run_as.clone();
    }
    if !ic.stop_signal.is_empty() {
        cfg.config.StopSignal = ic.stop_signal.clone();
    }
    for _ in diff_ids {
        cfg.history.push(History {
            author: "apko".into(),
            created: when.clone(),
            created_by: "apko".into(),
            comment: if layered {
                String::new()
            } else {
                "This is an apko single-layer image".into()
            },
            empty_layer: false,
        });
    }
    cfg.rootfs.kind = "layers".into();
    cfg.rootfs.diff_ids.extend(diff_ids.iter().cloned());
    Ok(cfg)
}

/// The image for `arch`: the base's layers (if any) and `layer` on top.
pub fn image(
    ic: &ImageConfig,
    arch: &Arch,
    created: u64,
    base: Option<&BaseImage>,
    layer: Layer,
) -> Result<Image, String> {
    image_layers(ic, arch, created, base, vec![layer], false)
}

/// [`image`] with `built` layers on top of the base's (several for a `layering` build,
/// `layered`).
pub fn image_layers(
    ic: &ImageConfig,
    arch: &Arch,
    created: u64,
    base: Option<&BaseImage>,
    built: Vec<Layer>,
    layered: bool,
) -> Result<Image, String> {
    let diff_ids: Vec<String> = built.iter().map(|l| l.diff_id.clone()).collect();
    let cfg = config_file_layers(ic, arch, created, base, &diff_ids, layered)?;
    let cfg_bytes = oci::to_go_json(&cfg);
    let config = Blob {
        descriptor: Descriptor {
            media_type: oci::CONFIG_MEDIA_TYPE.into(),
            size: cfg_bytes.len() as u64,
            digest: layer::sha256(&cfg_bytes),
            ..Descriptor::default()
        },
        data: BlobData::from(cfg_bytes),
    };
    let mut layers: Vec<Blob> = base
        .map(|b| {
            b.layers
                .iter()
                .map(|l| Blob {
                    data: l.blob.clone(),
                    descriptor: l.descriptor.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    for layer in built {
        layers.push(Blob {
            descriptor: Descriptor {
                media_type: oci::LAYER_MEDIA_TYPE.into(),
                size: layer.blob.len() as u64,
                digest: layer.digest,
                ..Descriptor::default()
            },
            data: layer.blob,
        });
    }
    let mut annotations = annotations(ic);
    annotations.insert(CREATED.into(), oci::rfc3339(created));
    let manifest = oci::to_go_json(&Manifest {
        schema_version: 2,
        media_type: oci::MANIFEST_MEDIA_TYPE.into(),
        config: config.descriptor.clone(),
        layers: layers.iter().map(|l| l.descriptor.clone()).collect(),
        annotations,
    });
    let (architecture, variant) = arch.oci_platform();
    let descriptor = Descriptor {
        media_type: oci::MANIFEST_MEDIA_TYPE.into(),
        size: manifest.len() as u64,
        digest: layer::sha256(&manifest),
        annotations: BTreeMap::new(),
        platform: Some(Platform {
            architecture: architecture.into(),
            os: "linux".into(),
            variant: variant.unwrap_or_default().into(),
        }),
        artifact_type: oci::CONFIG_MEDIA_TYPE.into(),
    };
    Ok(Image {
        arch: arch.clone(),
        config,
        layers,
        manifest,
        descriptor,
    })
}

/// The index over `images` (sorted by architecture), created at the latest of their dates.
pub fn index(ic: &ImageConfig, images: &[Image], created: u64) -> Index {
    let mut sorted: Vec<&Image> = images.iter().collect();
    sorted.sort_by(|a, b| a.arch.as_str().cmp(b.arch.as_str()));
    let mut annotations = annotations(ic);
    annotations.insert(CREATED.into(), oci::rfc3339(created));
    Index {
        schema_version: 2,
        media_type: oci::INDEX_MEDIA_TYPE.into(),
        manifests: sorted.iter().map(|i| i.descriptor.clone()).collect(),
        annotations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_like_apkos() {
        let ic = ImageConfig::parse("entrypoint:\n  command: /bin/sh -l\n", "t").unwrap();
        let cfg = config_file(
            &ic,
            &Arch::parse("arm64"),
            1_700_000_000,
            None,
            "sha256:6769113ae8b7cedae24cd7fa756b3dbeb890abe9fdbb9174aa0296e13d37fb09",
        )
        .unwrap();
        // byte for byte the config apko 1.2.39 writes for the testdata's base_image.apko.yaml
        // (arm64, SOURCE_DATE_EPOCH=1700000000): its PATH order and the `created` label (the
        // older apko of ../shared/testdata wrote `/usr/sbin:/usr/bin` and no labels)
        assert_eq!(
            String::from_utf8(oci::to_go_json(&cfg)).unwrap(),
            r#"{"architecture":"arm64","author":"github.com/chainguard-dev/apko","created":"2023-11-14T22:13:20Z","history":[{"author":"apko","created":"2023-11-14T22:13:20Z","created_by":"apko","comment":"This is an apko single-layer image"}],"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:6769113ae8b7cedae24cd7fa756b3dbeb890abe9fdbb9174aa0296e13d37fb09"]},"config":{"Entrypoint":["/bin/sh","-l"],"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/sbin:/bin","SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"],"Labels":{"org.opencontainers.image.created":"2023-11-14T22:13:20Z"}}}"#
        );
        // the index's entries carry the config's media type as `artifactType`, as apko 1.2.39
        let layer = crate::image::layer::Layer::from_tree(&crate::fs::Tree::new(), 1);
        let img = image(&ic, &Arch::parse("arm64"), 1_700_000_000, None, layer).unwrap();
        let idx = String::from_utf8(oci::to_go_json(&index(
            &ic,
            std::slice::from_ref(&img),
            1_700_000_000,
        )))
        .unwrap();
        assert_eq!(
            idx,
            format!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":{},"digest":"{}","platform":{{"architecture":"arm64","os":"linux"}},"artifactType":"application/vnd.oci.image.config.v1+json"}}],"annotations":{{"org.opencontainers.image.created":"2023-11-14T22:13:20Z"}}}}"#,
                img.manifest.len(),
                img.descriptor.digest
            )
        );
        assert_eq!(
            crate::image::output::OCI_LAYOUT,
            b"{\n    \"imageLayoutVersion\": \"1.0.0\"\n}"
        );
        let sh = ImageConfig::parse(
            "entrypoint:\n  shell-fragment: a && b\ncmd: -c 'x y'\nenvironment:\n  PATH: /bin\nvolumes: [/data]\nstop-signal: SIGTERM\nwork-dir: /w\naccounts:\n  run-as: '65532'\nannotations:\n  k: v\nvcs-url: https://g/x@abc\n",
            "t",
        )
        .unwrap();
        let c = config_file(&sh, &Arch::parse("arm/v7"), 0, None, "d").unwrap();
        assert_eq!(c.config.Entrypoint, ["/bin/sh", "-c", "a && b"]);
        assert_eq!(c.config.Cmd, ["-c", "x y"]);
        assert_eq!(
            c.config.Env,
            [
                "PATH=/bin",
                "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"
            ]
        );
        assert_eq!((c.architecture.as_str(), c.variant.as_str()), ("arm", "v7"));
        assert_eq!(c.config.User, "65532");
        assert_eq!(c.config.StopSignal, "SIGTERM");
        assert_eq!(c.config.WorkingDir, "/w");
        assert_eq!(c.config.Labels["org.opencontainers.image.revision"], "abc");
        assert!(c.config.Volumes.contains_key("/data"));
        let bad = ImageConfig::parse("cmd: \"'unclosed\"\n", "t").unwrap();
        assert_eq!(
            config_file(&bad, &Arch::parse("amd64"), 0, None, "d").unwrap_err(),
            "unable to parse cmd: \"'unclosed\""
        );
    }
}
