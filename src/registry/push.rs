//! Pushing an OCI layout to one or more tags: blobs in parallel (existing ones skipped,
//! others mounted from a repository of the same registry that has them), then image
//! manifests by digest, then the index under every tag.

use super::blob::{Pushed, UploadOptions};
use super::client::Client;
use super::error::Error;
use super::progress::Progress;
use super::reference::Reference;
use super::session::{Registry, repository_scope};
use crate::oci::{Descriptor, Digest, Layout, Node, Parsed};
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// How to push.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// Upload sizes.
    pub upload: UploadOptions,
    /// Repositories that may already hold some of the blobs (the base image's, say): on the
    /// same registry as a tag, blobs are mounted from them instead of uploaded.
    pub mount_from: Vec<Reference>,
}

/// What was pushed.
#[derive(Debug, Clone)]
pub struct PushResult {
    /// The digest of the pushed index (or manifest).
    pub digest: Digest,
    /// `registry/repository@digest` for the first tag: what `apko push` prints.
    pub reference: String,
    /// Each image manifest by digest in the first tag's repository, then `reference`
    /// (what apko's `--image-refs` file lists).
    pub image_refs: Vec<String>,
}

/// The push plan: the layout's content in push order.
struct PushPlan {
    root: Node,
    /// Image manifests under the root.
    images: Vec<Node>,
    /// Nested indexes, children before parents.
    indexes: Vec<Node>,
    /// Every blob once.
    blobs: Vec<(Descriptor, PathBuf)>,
}

impl PushPlan {
    fn read(layout: &Layout) -> Result<PushPlan, Error> {
        let root = layout.root()?;
        let mut plan = PushPlan {
            root: root.clone(),
            images: Vec::new(),
            indexes: Vec::new(),
            blobs: Vec::new(),
        };
        let mut seen = HashSet::new();
        plan.walk(layout, &root, &mut seen, true)?;
        Ok(plan)
    }

    fn walk(
        &mut self,
        layout: &Layout,
        node: &Node,
        seen: &mut HashSet<Digest>,
        is_root: bool,
    ) -> Result<(), Error> {
        match &node.parsed {
            Parsed::Index(index) => {
                for entry in &index.manifests {
                    if !seen.insert(entry.checked_digest()?) {
                        continue;
                    }
                    let child = layout.node(entry)?;
                    self.walk(layout, &child, seen, false)?;
                }
                if !is_root {
                    self.indexes.push(node.clone());
                }
            }
            Parsed::Manifest(manifest) => {
                for blob in manifest.blobs() {
                    if seen.insert(blob.checked_digest()?) {
                        let path = layout.check_blob(blob)?;
                        self.blobs.push((blob.clone(), path));
                    }
                }
                if !is_root {
                    self.images.push(node.clone());
                }
            }
        }
        Ok(())
    }

    fn blob_bytes(&self) -> u64 {
        self.blobs.iter().map(|(d, _)| d.size).sum()
    }
}

/// Pushes the image in `layout_dir` to every tag. Tags of one repository share the upload;
/// further repositories of a registry mount blobs from the first.
pub async fn push_layout(
    client: &Client,
    layout_dir: &Path,
    tags: &[Reference],
    options: &PushOptions,
) -> Result<PushResult, Error> {
    let Some(first) = tags.first() else {
        return Err(Error::Reference("no tag to push to".to_string()));
    };
    let layout = Layout::open(layout_dir)?;
    let plan = PushPlan::read(&layout)?;
    let digest = plan.root.digest.clone();

    // registry → [(repository, [tag or digest])], in the order given.
    type Names = Vec<(String, Vec<String>)>;
    let mut groups: Vec<(String, Names)> = Vec::new();
    for tag in tags {
        let name = match (&tag.digest, &tag.tag) {
            (Some(d), _) if d != digest.as_str() => {
                return Err(Error::Reference(format!(
                    "{tag} names digest {d}, but the layout's image is {digest}"
                )));
            }
            (Some(d), _) => d.clone(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_string(),
        };
        let group = match groups.iter_mut().position(|(r, _)| *r == tag.registry) {
            Some(i) => &mut groups[i].1,
            None => {
                groups.push((tag.registry.clone(), Vec::new()));
                &mut groups.last_mut().expect("just pushed").1
            }
        };
        match group.iter_mut().find(|(repo, _)| *repo == tag.repository) {
            Some((_, names)) => {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            None => group.push((tag.repository.clone(), vec![name])),
        }
    }

    for (host, repos) in &groups {
        let registry = client.registry(host).await?;
        let hints: Vec<String> = options
            .mount_from
            .iter()
            .filter(|r| r.registry == *host)
            .map(|r| r.repository.clone())
            .collect();
        for (i, (repo, names)) in repos.iter().enumerate() {
            let mut mount_from = Vec::new();
            if i > 0 {
                mount_from.push(repos[0].0.clone());
            }
            mount_from.extend(hints.iter().filter(|h| *h != repo).cloned());
            mount_from.dedup();
            push_repository(client, &registry, repo, names, &mount_from, &plan, options).await?;
        }
    }

    let reference = format!("{}/{}@{digest}", first.registry, first.repository);
    let mut image_refs: Vec<String> = plan
        .images
        .iter()
        .map(|n| format!("{}/{}@{}", first.registry, first.repository, n.digest))
        .collect();
    image_refs.push(reference.clone());
    Ok(PushResult {
        digest,
        reference,
        image_refs,
    })
}

async fn push_repository(
    client: &Client,
    registry: &Registry,
    repo: &str,
    names: &[String],
    mount_from: &[String],
    plan: &PushPlan,
    options: &PushOptions,
) -> Result<(), Error> {
    let mut scopes = vec![repository_scope(repo, "push,pull")];
    scopes.extend(mount_from.iter().map(|m| repository_scope(m, "pull")));
    let target = format!("{}/{repo}", registry.host);
    let progress = Progress::new(
        client.options().progress,
        &format!("pushing {target}"),
        plan.blob_bytes(),
    );
    let counter = progress.counter();
    let jobs = client.options().jobs.max(1);
    let outcomes: Vec<Pushed> = futures_util::stream::iter(&plan.blobs)
        .map(|(desc, path)| {
            let (scopes, progress, counter) = (&scopes, &progress, counter.as_ref());
            async move {
                let pushed = client
                    .push_blob(
                        registry,
                        repo,
                        scopes,
                        desc,
                        path,
                        mount_from,
                        &options.upload,
                        counter,
                    )
                    .await?;
                if pushed != Pushed::Uploaded {
                    progress.inc(desc.size);
                }
                Ok::<_, Error>(pushed)
            }
        })
        .buffer_unordered(jobs)
        .try_collect()
        .await?;
    progress.finish();
    let count = |kind| outcomes.iter().filter(|p| **p == kind).count();
    tracing::info!(
        "{target}: {} blobs uploaded, {} mounted, {} already there",
        count(Pushed::Uploaded),
        count(Pushed::Mounted),
        count(Pushed::Existed)
    );

    let put = |node: &Node, name: String| {
        let scopes = &scopes;
        let bytes: Bytes = node.bytes.clone();
        let media_type = node.media_type.clone();
        async move {
            client
                .put_manifest(registry, repo, scopes, &name, &media_type, &bytes)
                .await
        }
    };
    futures_util::stream::iter(&plan.images)
        .map(|n| put(n, n.digest.to_string()))
        .buffer_unordered(jobs)
        .try_collect::<Vec<_>>()
        .await?;
    for index in &plan.indexes {
        put(index, index.digest.to_string()).await?;
    }
    for name in names {
        put(&plan.root, name.clone()).await?;
    }
    Ok(())
}
