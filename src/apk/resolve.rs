//! Dependency resolution: from world constraints to the packages to install, dependencies
//! first. Candidates for a name are the packages of that name and the packages providing it
//! (`so:`, `cmd:`, `pc:`, virtual names); the best is chosen as apk chooses: an installed
//! package, the pinned repository, the highest version of the name, the highest
//! `provider_priority`, then the earliest repository. Conflicts (`!name`) and failures are
//! reported with the chain of packages that led to them.

use super::ApkError;
use super::index::{Index, PackageRef};
use super::version::{self, Dep, Op};
use std::cmp::Ordering;
use std::collections::HashMap;

/// One index to resolve over.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    /// Its packages.
    pub index: &'a Index,
    /// `@tag`: its packages are used only for `name@tag` constraints and their dependencies.
    pub tag: Option<&'a str>,
    /// The image's installed database (a base image): these packages are already there.
    pub installed: bool,
}

/// A package: which source, which record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PkgId {
    /// Index into the sources.
    pub source: u32,
    /// Index into that source's packages.
    pub pkg: u32,
}

#[derive(Debug, Clone, Copy)]
struct Candidate<'a> {
    id: PkgId,
    /// The version the package has for this name: its own, a provide's, or "" for an
    /// unversioned provide.
    version: &'a str,
    /// True when the name is the package's own.
    real: bool,
}

/// Why a package was selected.
#[derive(Debug, Clone, Copy)]
enum Parent<'a> {
    World(&'a str),
    Package(PkgId),
    InstallIf(PkgId),
    BaseImage,
}

/// The resolver over a set of sources; build once, resolve any world.
pub struct PackageResolver<'a> {
    sources: Vec<Source<'a>>,
    by_name: HashMap<&'a str, Vec<Candidate<'a>>>,
    install_if: Vec<PkgId>,
}

fn provide_parts(provide: &str) -> (&str, &str) {
    provide.split_once('=').unwrap_or((provide, ""))
}

impl<'a> PackageResolver<'a> {
    /// Indexes every package of `sources` by name and provided name.
    pub fn new(sources: Vec<Source<'a>>) -> PackageResolver<'a> {
        let total: usize = sources.iter().map(|s| s.index.len()).sum();
        let mut by_name: HashMap<&'a str, Vec<Candidate<'a>>> = HashMap::with_capacity(total * 2);
        let mut install_if = Vec::new();
        for (s, source) in sources.iter().enumerate() {
            for (i, p) in source.index.packages().enumerate() {
                let id = PkgId {
                    source: s as u32,
                    pkg: i as u32,
                };
                by_name.entry(p.name()).or_default().push(Candidate {
                    id,
                    version: p.version(),
                    real: true,
                });
                for provide in p.provides() {
                    let (name, version) = provide_parts(provide);
                    by_name.entry(name).or_default().push(Candidate {
                        id,
                        version,
                        real: false,
                    });
                }
                if p.install_if().next().is_some() {
                    install_if.push(id);
                }
            }
        }
        PackageResolver {
            sources,
            by_name,
            install_if,
        }
    }

    /// The package `id`.
    pub fn package(&self, id: PkgId) -> PackageRef<'a> {
        self.sources[id.source as usize].index.get(id.pkg as usize)
    }

    /// Resolves `world`; returns the packages to install (not those already installed),
    /// each after its dependencies, in a deterministic order.
    pub fn resolve(&self, world: &'a [String]) -> Result<Vec<PkgId>, ApkError> {
        let mut state = State {
            r: self,
            selected: HashMap::new(),
            provided: HashMap::new(),
            parent: HashMap::new(),
            conflicts: Vec::new(),
            pins: HashMap::new(),
            order: Vec::new(),
        };
        let mut deps = Vec::with_capacity(world.len());
        for text in world {
            let dep = Dep::parse(text)
                .map_err(|e| ApkError::Resolve(format!("invalid package constraint {e}")))?;
            if dep.conflict {
                state.conflicts.push((dep, Parent::World(text)));
            } else if !dep.op.is_any() {
                state.pins.entry(dep.name).or_default().push(dep);
            }
            deps.push((dep, text.as_str()));
        }
        for (s, source) in self.sources.iter().enumerate() {
            if source.installed {
                for i in 0..source.index.len() {
                    let id = PkgId {
                        source: s as u32,
                        pkg: i as u32,
                    };
                    state.select(id, Parent::BaseImage);
                }
            }
        }
        for (dep, text) in &deps {
            if !dep.conflict {
                state.require(*dep, Parent::World(text), dep.tag)?;
            }
        }
        state.install_if()?;
        Ok(state.order)
    }
}

/// A selected package whose dependencies are being required.
struct Frame<'a> {
    id: PkgId,
    tag: Option<&'a str>,
    depends: crate::apk::index::Words<'a>,
}

struct State<'r, 'a> {
    r: &'r PackageResolver<'a>,
    /// Package name → the selected package.
    selected: HashMap<&'a str, PkgId>,
    /// Provided name → selected providers and the versions they provide.
    provided: HashMap<&'a str, Vec<(PkgId, &'a str)>>,
    parent: HashMap<PkgId, Parent<'a>>,
    conflicts: Vec<(Dep<'a>, Parent<'a>)>,
    /// Versioned world constraints, which every package of that name must meet.
    pins: HashMap<&'a str, Vec<Dep<'a>>>,
    order: Vec<PkgId>,
}

impl<'a> State<'_, 'a> {
    fn pkg(&self, id: PkgId) -> PackageRef<'a> {
        self.r.package(id)
    }

    /// `world "x" → a-1.0-r0 → b-2.0-r0`: how `parent` came to be needed.
    fn chain(&self, parent: Parent<'a>) -> String {
        let mut parts = Vec::new();
        let mut at = parent;
        loop {
            match at {
                Parent::World(text) => {
                    parts.push(format!("world {text:?}"));
                    break;
                }
                Parent::BaseImage => {
                    parts.push("the base image".to_string());
                    break;
                }
                Parent::Package(id) | Parent::InstallIf(id) => {
                    let label = match at {
                        Parent::InstallIf(_) => format!("{} (install_if)", self.pkg(id).id()),
                        _ => self.pkg(id).id(),
                    };
                    if parts.contains(&label) || parts.len() > 64 {
                        break;
                    }
                    parts.push(label);
                    match self.parent.get(&id) {
                        Some(p) => at = *p,
                        None => break,
                    }
                }
            }
        }
        parts.reverse();
        parts.join(" → ")
    }

    /// The chain that selected `id`, ending with it.
    fn chain_of(&self, id: PkgId) -> String {
        match self.parent.get(&id) {
            Some(Parent::BaseImage) | None => format!("{} (in the base image)", self.pkg(id).id()),
            Some(p) => format!("{} → {}", self.chain(*p), self.pkg(id).id()),
        }
    }

    fn select(&mut self, id: PkgId, parent: Parent<'a>) {
        let p = self.pkg(id);
        self.selected.insert(p.name(), id);
        for provide in p.provides() {
            let (name, version) = provide_parts(provide);
            self.provided.entry(name).or_default().push((id, version));
        }
        self.parent.insert(id, parent);
    }

    /// The selected package that meets `dep`, if any.
    fn satisfied_by(&self, dep: &Dep<'a>) -> Option<PkgId> {
        if let Some(&id) = self.selected.get(dep.name)
            && dep.matches_version(self.pkg(id).version())
        {
            return Some(id);
        }
        self.provided.get(dep.name).and_then(|providers| {
            providers
                .iter()
                .find(|(_, v)| dep.op.is_any() || (!v.is_empty() && dep.matches_version(v)))
                .map(|(id, _)| *id)
        })
    }

    /// True when the package (or one of its provides) is what `conflict` forbids.
    fn hits(&self, p: &PackageRef<'a>, conflict: &Dep<'a>) -> bool {
        (p.name() == conflict.name && conflict.matches_version(p.version()))
            || p.provides().any(|provide| {
                let (name, version) = provide_parts(provide);
                name == conflict.name
                    && (conflict.op.is_any()
                        || (!version.is_empty() && conflict.matches_version(version)))
            })
    }

    /// Selects what `dep` needs and, depth first, everything that needs; each package is
    /// ordered after its dependencies. An explicit stack, not recursion: a dependency chain of
    /// any length (100,000 levels in the tests) costs memory, never the thread's stack.
    fn require(
        &mut self,
        dep: Dep<'a>,
        parent: Parent<'a>,
        allowed_tag: Option<&'a str>,
    ) -> Result<(), ApkError> {
        let Some(root) = self.enter(dep, parent, allowed_tag)? else {
            return Ok(());
        };
        let mut stack = vec![root];
        while let Some(frame) = stack.last_mut() {
            match frame.depends.next() {
                Some(text) => {
                    let (id, tag) = (frame.id, frame.tag);
                    let d = Dep::parse(text).map_err(|e| {
                        ApkError::Malformed(format!(
                            "package {} has an invalid dependency: {e}",
                            self.pkg(id).id()
                        ))
                    })?;
                    if let Some(child) = self.enter(d, Parent::Package(id), tag)? {
                        stack.push(child);
                    }
                }
                None => {
                    let done = stack.pop().expect("a frame is on the stack");
                    self.order.push(done.id);
                }
            }
        }
        Ok(())
    }

    /// One step of [`State::require`]: records a conflict, or finds `dep` already met, or
    /// selects a package for it; returns the package whose dependencies come next.
    fn enter(
        &mut self,
        dep: Dep<'a>,
        parent: Parent<'a>,
        allowed_tag: Option<&'a str>,
    ) -> Result<Option<Frame<'a>>, ApkError> {
        if dep.conflict {
            let mut selected: Vec<PkgId> = self.selected.values().copied().collect();
            selected.sort();
            if let Some(id) = selected
                .into_iter()
                .find(|id| self.hits(&self.pkg(*id), &dep))
            {
                return Err(ApkError::Resolve(format!(
                    "conflict: {} is selected, but {} forbids it (\"{dep}\")",
                    self.chain_of(id),
                    self.chain(parent),
                )));
            }
            self.conflicts.push((dep, parent));
            return Ok(None);
        }
        if self.satisfied_by(&dep).is_some() {
            return Ok(None);
        }
        let id = self.choose(&dep, parent, allowed_tag)?;
        self.select(id, parent);
        let source = self.r.sources[id.source as usize];
        if source.installed {
            return Ok(None);
        }
        Ok(Some(Frame {
            id,
            tag: source.tag.or(allowed_tag),
            depends: self.pkg(id).depends(),
        }))
    }

    /// The best candidate for `dep`, or an error saying why there is none.
    fn choose(
        &self,
        dep: &Dep<'a>,
        parent: Parent<'a>,
        allowed_tag: Option<&'a str>,
    ) -> Result<PkgId, ApkError> {
        let needed = || format!("{} → {dep}", self.chain(parent));
        let Some(all) = self.r.by_name.get(dep.name) else {
            return Err(ApkError::Resolve(format!(
                "nothing provides \"{dep}\" (needed by {}); check the package name and the repositories",
                needed()
            )));
        };
        let mut rejected: Vec<String> = Vec::new();
        let mut best: Option<&Candidate<'a>> = None;
        for c in all {
            let p = self.pkg(c.id);
            let source = self.r.sources[c.id.source as usize];
            let version_ok = if c.real {
                dep.matches_version(c.version)
            } else {
                dep.op.is_any() || (!c.version.is_empty() && dep.matches_version(c.version))
            };
            if !version_ok {
                rejected.push(format!("{} does not match the version", p.id()));
                continue;
            }
            if let Some(tag) = source.tag
                && Some(tag) != dep.tag
                && Some(tag) != allowed_tag
            {
                rejected.push(format!(
                    "{} is in the repository tagged @{tag} (ask for {}@{tag})",
                    p.id(),
                    dep.name
                ));
                continue;
            }
            if let Some(pin) = self
                .pins
                .get(p.name())
                .and_then(|pins| pins.iter().find(|d| !d.matches_version(p.version())))
            {
                rejected.push(format!("{} does not match world \"{pin}\"", p.id()));
                continue;
            }
            if let Some((conflict, from)) = self.conflicts.iter().find(|(d, _)| self.hits(&p, d)) {
                rejected.push(format!(
                    "{} conflicts with \"{conflict}\" from {}",
                    p.id(),
                    self.chain(*from)
                ));
                continue;
            }
            if let Some(&other) = self.selected.get(p.name())
                && other != c.id
            {
                rejected.push(format!(
                    "{} would replace {}, already selected by {}",
                    p.id(),
                    self.pkg(other).id(),
                    self.chain_of(other)
                ));
                continue;
            }
            if let Some(b) = best {
                if self.better(c, b, dep) == Ordering::Less {
                    best = Some(c);
                }
            } else {
                best = Some(c);
            }
        }
        if let Some(b) = best {
            return Ok(b.id);
        }
        rejected.dedup();
        Err(ApkError::Resolve(format!(
            "no package satisfies \"{dep}\" (needed by {}):\n  {}",
            needed(),
            rejected.join("\n  ")
        )))
    }

    /// Orders two candidates for `dep`, best first.
    fn better(&self, a: &Candidate<'a>, b: &Candidate<'a>, dep: &Dep<'a>) -> Ordering {
        let (sa, sb) = (
            self.r.sources[a.id.source as usize],
            self.r.sources[b.id.source as usize],
        );
        let (pa, pb) = (self.pkg(a.id), self.pkg(b.id));
        // Already installed, then the pinned repository.
        sb.installed
            .cmp(&sa.installed)
            .then_with(|| {
                let pinned = |s: Source| dep.tag.is_some() && s.tag == dep.tag;
                pinned(sb).cmp(&pinned(sa))
            })
            // The package's own name before a provide.
            .then_with(|| b.real.cmp(&a.real))
            // The highest version of the requested name.
            .then_with(|| {
                if a.version.is_empty() || b.version.is_empty() {
                    Ordering::Equal
                } else {
                    version::compare(b.version, a.version)
                }
            })
            .then_with(|| {
                pb.provider_priority()
                    .unwrap_or(0)
                    .cmp(&pa.provider_priority().unwrap_or(0))
            })
            .then_with(|| {
                if pa.name() == pb.name() {
                    version::compare(pb.version(), pa.version())
                } else {
                    Ordering::Equal
                }
            })
            .then_with(|| a.id.cmp(&b.id))
    }

    /// Adds the packages whose `install_if` conditions the selection meets, until none is
    /// left.
    fn install_if(&mut self) -> Result<(), ApkError> {
        loop {
            let mut added = false;
            let r = self.r;
            for &id in &r.install_if {
                let p = self.pkg(id);
                if self.selected.contains_key(p.name()) {
                    continue;
                }
                let met = p
                    .install_if()
                    .all(|t| Dep::parse(t).is_ok_and(|d| self.satisfied_by(&d).is_some()));
                if !met {
                    continue;
                }
                let trigger = p
                    .install_if()
                    .next()
                    .and_then(|t| Dep::parse(t).ok())
                    .and_then(|d| self.satisfied_by(&d));
                let parent = trigger.map_or(Parent::World("install_if"), Parent::InstallIf);
                let dep = Dep {
                    name: p.name(),
                    op: Op::ANY,
                    version: "",
                    tag: self.r.sources[id.source as usize].tag,
                    conflict: false,
                };
                // The best package of that name, which may be another version.
                self.require(dep, parent, None)?;
                added = true;
            }
            if !added {
                return Ok(());
            }
        }
    }
}
