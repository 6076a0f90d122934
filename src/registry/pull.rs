//! Pulling an image (an index and some or all of its platforms, or one manifest) into an OCI
//! layout, every manifest and blob checked against its digest: what `contents.baseimage`
//! reads when it names a registry.

use super::client::Client;
use super::error::Error;
use super::progress::Progress;
use super::reference::Reference;
use super::session::repository_scope;
use crate::oci::{self, Descriptor, Digest, Layout, Manifest, Parsed, Platform};
use futures_util::{StreamExt, TryStreamExt};
use std::collections::HashSet;
use std::path::Path;

/// What was pulled.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The digest of what the reference named (index or manifest).
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// The image manifests written, with their platforms.
    pub images: Vec<(Option<Platform>, Digest)>,
}

/// Pulls `reference` into the layout at `dest` (created if needed). With `platforms` empty an
/// index is pulled whole and `index.json` is its exact bytes (same digest); otherwise only the
/// matching entries are pulled and `index.json` lists just them. A single manifest gets an
/// `index.json` with one entry carrying the platform from its config. Blobs already in the
/// layout, or in `blob_cache` (a `blobs` directory kept between pulls), with the
/// right digest are not downloaded again; downloaded ones are added to `blob_cache`.
pub async fn pull_image(
    client: &Client,
    reference: &Reference,
    platforms: &[Platform],
    dest: &Path,
    blob_cache: Option<&Path>,
) -> Result<Pulled, Error> {
    let root = client.get_manifest(reference).await?;
    let layout = Layout::create(dest)?;
    let registry = client.registry(&reference.registry).await?;
    let repo = &reference.repository;
    let scopes = [repository_scope(repo, "pull")];
    let parsed = oci::parse(&root.bytes, &root.media_type)
        .map_err(|why| Error::manifest(&reference.to_string(), why))?;

    // (descriptor, manifest) of every image to pull.
    let mut images: Vec<(Descriptor, Manifest)> = Vec::new();
    let index_json: Vec<u8>;
    match parsed {
        Parsed::Index(index) => {
            let selected: Vec<&Descriptor> = index
                .manifests
                .iter()
                .filter(|d| {
                    platforms.is_empty()
                        || d.platform
                            .as_ref()
                            .is_some_and(|p| platforms.iter().any(|w| w.matches(p)))
                })
                .collect();
            for wanted in platforms {
                if !selected
                    .iter()
                    .any(|d| d.platform.as_ref().is_some_and(|p| wanted.matches(p)))
                {
                    let have: Vec<String> = index
                        .manifests
                        .iter()
                        .filter_map(|d| d.platform.as_ref().map(|p| p.to_string()))
                        .collect();
                    return Err(Error::Manifest(format!(
                        "{reference} has no image for {wanted} (it has {})",
                        if have.is_empty() {
                            "no platform entries".to_string()
                        } else {
                            have.join(", ")
                        }
                    )));
                }
            }
            for desc in &selected {
                if oci::is_index(&desc.media_type) {
                    return Err(Error::Manifest(format!(
                        "{reference}: nested index {} is not supported",
                        desc.digest
                    )));
                }
                let child = client
                    .get_manifest(&Reference {
                        digest: Some(desc.digest.to_string()),
                        tag: None,
                        ..reference.clone()
                    })
                    .await?;
                match oci::parse(&child.bytes, &desc.media_type) {
                    Ok(Parsed::Manifest(m)) => images.push(((*desc).clone(), m)),
                    Ok(Parsed::Index(_)) => unreachable!("not an index media type"),
                    Err(why) => {
                        return Err(Error::manifest(
                            &format!("{reference}@{}", desc.digest),
                            why,
                        ));
                    }
                }
                layout.write_blob(&desc.checked_digest()?, &child.bytes)?;
            }
            index_json = if selected.len() == index.manifests.len() {
                root.bytes.to_vec()
            } else {
                filtered_index(&root.bytes, &selected)?
            };
        }
        Parsed::Manifest(m) => {
            let desc = Descriptor::new(&root.media_type, &root.digest, root.bytes.len() as u64);
            layout.write_blob(&root.digest, &root.bytes)?;
            images.push((desc, m));
            index_json = Vec::new(); // written once the config (and so the platform) is here
        }
    }
    layout.write_blob(&root.digest, &root.bytes)?;
    // The config is read into memory (for the platform, and by builds on this image).
    if let Some((_, m)) = images
        .iter()
        .find(|(_, m)| m.config.size > crate::net::MAX_CONFIG_SIZE)
    {
        return Err(Error::TooLarge(format!(
            "{reference}: its config {} is {} bytes, more than apko reads ({} bytes; real configs are a few KiB); refusing it",
            m.config.digest,
            m.config.size,
            crate::net::MAX_CONFIG_SIZE
        )));
    }

    // Every blob once, skipping those already in the layout.
    let mut seen = HashSet::new();
    let mut blobs: Vec<(&Descriptor, Digest)> = Vec::new();
    for d in images.iter().flat_map(|(_, m)| m.blobs()) {
        let digest = d.checked_digest()?;
        if seen.insert(digest.clone())
            && !present(&layout.blob_path(&digest), &digest, d.size)
            && !blob_cache.is_some_and(|c| from_cache(c, &layout, &digest, d.size))
        {
            blobs.push((d, digest));
        }
    }
    let downloaded: Vec<Digest> = blobs.iter().map(|(_, d)| d.clone()).collect();
    let progress = Progress::new(
        client.options().progress,
        &format!("pulling {reference}"),
        blobs.iter().map(|(d, _)| d.size).sum(),
    );
    let counter = progress.counter();
    futures_util::stream::iter(blobs)
        .map(|(desc, digest)| {
            let (registry, layout, scopes, counter) = (&registry, &layout, &scopes, &counter);
            async move {
                client
                    .download_blob(
                        registry,
                        repo,
                        scopes,
                        desc,
                        &layout.blob_path(&digest),
                        counter.as_ref(),
                    )
                    .await
            }
        })
        .buffer_unordered(client.options().jobs.max(1))
        .try_collect::<Vec<()>>()
        .await?;
    progress.finish();
    if let Some(cache) = blob_cache {
        for digest in &downloaded {
            to_cache(cache, &layout, digest);
        }
    }

    let index_json = if index_json.is_empty() {
        let (desc, m) = &images[0];
        single_index(desc, &layout.read_blob(&m.config.checked_digest()?)?)?
    } else {
        index_json
    };
    layout.write_index(&index_json)?;
    let images = images
        .into_iter()
        .map(|(d, _)| Ok((d.platform.clone(), d.checked_digest()?)))
        .collect::<Result<_, Error>>()?;
    Ok(Pulled {
        digest: root.digest,
        media_type: root.media_type,
        images,
    })
}

/// Whether the blob at `path` is there, whole and right.
fn present(path: &Path, digest: &Digest, size: u64) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() == size)
        && std::fs::read(path).is_ok_and(|b| digest.matches(&b))
}

/// The cache's file for `digest`: `ALGORITHM/HEX`, as in a layout's `blobs/`.
fn cached(cache: &Path, digest: &Digest) -> std::path::PathBuf {
    cache.join(digest.algorithm_name()).join(digest.hex())
}

/// Puts the cached copy of blob `digest` into the layout (a hard link, else a copy) when the
/// cache holds it whole and right; a bad copy is dropped from the cache.
fn from_cache(cache: &Path, layout: &Layout, digest: &Digest, size: u64) -> bool {
    let source = cached(cache, digest);
    if !source.exists() {
        return false;
    }
    if !present(&source, digest, size) {
        let _ = std::fs::remove_file(&source);
        return false;
    }
    let dest = layout.blob_path(digest);
    let _ = std::fs::remove_file(&dest);
    let linked = std::fs::hard_link(&source, &dest).is_ok()
        || std::fs::copy(&source, &dest).is_ok_and(|n| n == size);
    if linked {
        tracing::debug!("blob {digest} from the cache");
    }
    linked
}

/// Adds a downloaded (and so checked) blob to the cache; a failure only costs a later
/// download.
fn to_cache(cache: &Path, layout: &Layout, digest: &Digest) {
    let source = layout.blob_path(digest);
    let dest = cached(cache, digest);
    let dir = dest.parent().unwrap_or(cache);
    if dest.exists() || crate::cache::create_dir(dir).is_err() {
        return;
    }
    if std::fs::hard_link(&source, &dest).is_ok() {
        return;
    }
    // Another filesystem: copy beside the target, then rename, so no reader sees a part.
    if let Ok(tmp) = tempfile::NamedTempFile::new_in(dir)
        && std::fs::copy(&source, tmp.path()).is_ok()
    {
        let _ = tmp.persist(&dest);
    }
}

/// The index with only the `selected` entries, every other field kept.
fn filtered_index(bytes: &[u8], selected: &[&Descriptor]) -> Result<Vec<u8>, Error> {
    let mut value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::Manifest(format!("invalid index: {e}")))?;
    let keep: HashSet<&str> = selected.iter().map(|d| d.digest.as_str()).collect();
    if let Some(entries) = value
        .get_mut("manifests")
        .and_then(serde_json::Value::as_array_mut)
    {
        entries.retain(|e| {
            e.get("digest")
                .and_then(serde_json::Value::as_str)
                .is_some_and(|d| keep.contains(d))
        });
    }
    Ok(serde_json::to_vec(&value).expect("a JSON value serializes"))
}

/// An OCI index with one entry for a single pulled manifest, its platform from the config.
fn single_index(desc: &Descriptor, config: &[u8]) -> Result<Vec<u8>, Error> {
    #[derive(serde::Deserialize)]
    struct Config {
        #[serde(default)]
        os: Option<String>,
        #[serde(default)]
        architecture: Option<String>,
        #[serde(default)]
        variant: Option<String>,
    }
    let config: Config = serde_json::from_slice(config)
        .map_err(|e| Error::Manifest(format!("image config {} is not JSON: {e}", desc.digest)))?;
    let mut entry = serde_json::json!({
        "mediaType": desc.media_type,
        "digest": desc.digest.as_str(),
        "size": desc.size,
    });
    if let (Some(os), Some(architecture)) = (config.os, config.architecture) {
        let mut platform = serde_json::json!({"architecture": architecture, "os": os});
        if let Some(v) = config.variant {
            platform["variant"] = v.into();
        }
        entry["platform"] = platform;
    }
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": oci::INDEX_MEDIA_TYPE,
        "manifests": [entry],
    });
    Ok(serde_json::to_vec(&index).expect("a JSON value serializes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_blob_cache_serves_only_whole_right_blobs_and_drops_bad_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::create(&tmp.path().join("layout")).unwrap();
        let cache = tmp.path().join("cache");
        let bytes = b"layer bytes".to_vec();
        let digest = Digest::sha256(&bytes);
        let size = bytes.len() as u64;
        assert!(!from_cache(&cache, &layout, &digest, size), "empty cache");

        let file = cached(&cache, &digest);
        crate::cache::create_dir(file.parent().unwrap()).unwrap();
        std::fs::write(&file, b"layer bytez").unwrap();
        assert!(!from_cache(&cache, &layout, &digest, size));
        assert!(!file.exists(), "a bad copy is dropped");

        layout.write_blob(&digest, &bytes).unwrap();
        to_cache(&cache, &layout, &digest);
        assert_eq!(std::fs::read(&file).unwrap(), bytes);
        std::fs::remove_file(layout.blob_path(&digest)).unwrap();
        assert!(from_cache(&cache, &layout, &digest, size));
        assert_eq!(std::fs::read(layout.blob_path(&digest)).unwrap(), bytes);
    }
}
