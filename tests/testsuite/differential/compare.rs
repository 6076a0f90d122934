//! Comparing two builds' models: every difference becomes a key
//! (`CONFIG[/ARCH] PART: WHAT`) with what each side had, digests replaced by the blob they name.

use super::model::{Entry, Layout, Outcome, Tarball};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// One found difference: its key and what each side had.
#[derive(Clone)]
pub(crate) struct Diff {
    pub(crate) key: String,
    pub(crate) apko: String,
    pub(crate) ours: String,
}

/// Collects differences under a prefix (`config/arch part:`).
pub(crate) struct Diffs<'a> {
    pub(crate) prefix: String,
    pub(crate) out: &'a mut Vec<Diff>,
}

impl Diffs<'_> {
    fn add(&mut self, what: &str, apko: impl Into<String>, ours: impl Into<String>) {
        self.out.push(Diff {
            key: format!("{}: {what}", self.prefix),
            apko: apko.into(),
            ours: ours.into(),
        });
    }
    fn sub(&mut self, prefix: String) -> Diffs<'_> {
        Diffs {
            prefix,
            out: self.out,
        }
    }
}

/// Replaces every 64-digit hex run in `s` by the symbol of the blob it names (`<layer@x86_64#0>`),
/// or `<sha256>` when it names none.
pub(crate) fn symbolize_str(s: &str, names: &BTreeMap<String, String>) -> String {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if s[i..].starts_with("%3A") {
            // A percent-encoded `:` before a digest (`sha256%3A…`).
            out.push_str("%3A");
            i += 3;
            continue;
        }
        let run = b[i..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
        if run == 64 {
            let hex = &s[i..i + 64];
            match names.get(&hex.to_ascii_lowercase()) {
                Some(name) => out.push_str(&format!("<{name}>")),
                None => out.push_str("<sha256>"),
            }
            i += 64;
        } else if run > 0 {
            out.push_str(&s[i..i + run]);
            i += run;
        } else {
            let c = s[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Digests to symbols, and every descriptor's `size` to `<size>` (compared with the blobs).
pub(crate) fn symbolize(v: &Value, names: &BTreeMap<String, String>) -> Value {
    match v {
        Value::String(s) => Value::String(symbolize_str(s, names)),
        Value::Array(a) => Value::Array(a.iter().map(|x| symbolize(x, names)).collect()),
        Value::Object(o) => {
            let descriptor = o.get("digest").is_some_and(Value::is_string);
            Value::Object(
                o.iter()
                    .map(|(k, x)| {
                        let x = if descriptor && k == "size" && x.is_number() {
                            Value::String("<size>".into())
                        } else {
                            symbolize(x, names)
                        };
                        (symbolize_str(k, names), x)
                    })
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

/// Flattens JSON into path → value: objects by `.key`, arrays of objects by `[i]`; scalars
/// and arrays of scalars are leaves.
pub(crate) fn flatten(v: &Value, path: String, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(o) if !o.is_empty() => {
            for (k, x) in o {
                flatten(x, format!("{path}.{k}"), out);
            }
        }
        Value::Array(a) if a.iter().any(|x| x.is_object() || x.is_array()) => {
            for (i, x) in a.iter().enumerate() {
                flatten(x, format!("{path}[{i}]"), out);
            }
        }
        other => {
            out.insert(
                if path.is_empty() { ".".into() } else { path },
                other.to_string(),
            );
        }
    }
}

pub(crate) fn compare_json(apko: &Value, ours: &Value, d: &mut Diffs) {
    let (mut a, mut o) = (BTreeMap::new(), BTreeMap::new());
    flatten(apko, String::new(), &mut a);
    flatten(ours, String::new(), &mut o);
    for (k, av) in &a {
        match o.get(k) {
            None => d.add(&format!("{k} only in apko"), av.clone(), ""),
            Some(ov) if ov != av => d.add(&format!("{k} differs"), av.clone(), ov.clone()),
            _ => {}
        }
    }
    for (k, ov) in &o {
        if !a.contains_key(k) {
            d.add(&format!("{k} only in ours"), "", ov.clone());
        }
    }
}

/// Entries by name (trailing `/` and leading `./` dropped; a repeated name gets `#2`…).
pub(crate) fn keyed(entries: &[Entry]) -> Vec<(String, &Entry)> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    entries
        .iter()
        .map(|e| {
            let name = e
                .raw
                .trim_start_matches("./")
                .trim_end_matches('/')
                .to_string();
            let n = seen.entry(name.clone()).or_insert(0);
            *n += 1;
            let key = if *n == 1 { name } else { format!("{name}#{n}") };
            (key, e)
        })
        .collect()
}

pub(crate) fn compare_entries(apko: &[Entry], ours: &[Entry], d: &mut Diffs) {
    let (a, o) = (keyed(apko), keyed(ours));
    let am: BTreeMap<&str, &Entry> = a.iter().map(|(k, e)| (k.as_str(), *e)).collect();
    let om: BTreeMap<&str, &Entry> = o.iter().map(|(k, e)| (k.as_str(), *e)).collect();
    for (k, ae) in &am {
        let Some(oe) = om.get(k) else {
            d.add(&format!("{k} only in apko"), describe(ae), "");
            continue;
        };
        if ae.raw != oe.raw {
            d.add(&format!("{k} name differs"), ae.raw.clone(), oe.raw.clone());
        }
        let fields: BTreeSet<&str> = ae.fields.keys().chain(oe.fields.keys()).copied().collect();
        let db = match (&ae.installed, &oe.installed) {
            (Some(x), Some(y)) => {
                compare_installed(k, x, y, d);
                true
            }
            _ => false,
        };
        for f in fields {
            if db && (f == "sha256" || f == "size") {
                continue; // compared record by record
            }
            let (av, ov) = (ae.fields.get(f), oe.fields.get(f));
            if av != ov {
                // apko leaves mtime 0 on what it makes itself: one class, whatever the path.
                let zero = f == "mtime" && av.is_some_and(|v| v == "0");
                d.add(
                    &format!("{k} {f} differs{}", if zero { " (apko 0)" } else { "" }),
                    av.cloned().unwrap_or_else(|| "(none)".into()),
                    ov.cloned().unwrap_or_else(|| "(none)".into()),
                );
            }
        }
    }
    for (k, oe) in &om {
        if !am.contains_key(k) {
            d.add(&format!("{k} only in ours"), "", describe(oe));
        }
    }
    let common_a: Vec<&str> = a
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| om.contains_key(k))
        .collect();
    let common_o: Vec<&str> = o
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| am.contains_key(k))
        .collect();
    if common_a != common_o {
        let i = common_a
            .iter()
            .zip(&common_o)
            .position(|(x, y)| x != y)
            .unwrap_or(0);
        d.add(
            "entry order differs",
            format!(
                "…{}",
                common_a[i..]
                    .iter()
                    .take(4)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            format!(
                "…{}",
                common_o[i..]
                    .iter()
                    .take(4)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
}

/// An installed database's records by package (`P:`), and their order.
pub(crate) fn compare_installed(k: &str, apko: &str, ours: &str, d: &mut Diffs) {
    let records = |text: &str| -> Vec<(String, String)> {
        text.split("\n\n")
            .filter(|r| !r.trim().is_empty())
            .map(|r| {
                let name = r.lines().find_map(|l| l.strip_prefix("P:")).unwrap_or("?");
                (name.to_string(), r.trim().to_string())
            })
            .collect()
    };
    let (a, o) = (records(apko), records(ours));
    let am: BTreeMap<&str, &str> = a.iter().map(|(n, r)| (n.as_str(), r.as_str())).collect();
    let om: BTreeMap<&str, &str> = o.iter().map(|(n, r)| (n.as_str(), r.as_str())).collect();
    for (name, ar) in &am {
        match om.get(name) {
            None => d.add(&format!("{k} record {name} only in apko"), *ar, ""),
            Some(or) if or != ar => {
                let lines = |x: &str, y: &str| {
                    let ys: BTreeSet<&str> = y.lines().collect();
                    x.lines()
                        .filter(|l| !ys.contains(l))
                        .collect::<Vec<_>>()
                        .join(" ")
                };
                d.add(
                    &format!("{k} record {name} differs"),
                    format!("only here: {}", lines(ar, or)),
                    format!("only here: {}", lines(or, ar)),
                )
            }
            _ => {}
        }
    }
    for (name, or) in &om {
        if !am.contains_key(name) {
            d.add(&format!("{k} record {name} only in ours"), "", *or);
        }
    }
    let order = |v: &[(String, String)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    if am.keys().eq(om.keys()) && order(&a) != order(&o) {
        d.add(
            &format!("{k} record order differs"),
            order(&a).join(", "),
            order(&o).join(", "),
        );
    }
}

pub(crate) fn describe(e: &Entry) -> String {
    let f = |k| e.fields.get(k).map(String::as_str).unwrap_or("");
    let mut s = format!("{} {} {}:{}", f("type"), f("mode"), f("uid"), f("gid"));
    if let Some(link) = e.fields.get("link") {
        s.push_str(&format!(" -> {link}"));
    } else {
        s.push_str(&format!(" {} bytes", f("size")));
    }
    s
}

/// The later layers' entries over the earlier ones', by name.
pub(crate) fn merged(layers: &[Vec<Entry>]) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    for layer in layers {
        for e in layer {
            let name = e.raw.trim_start_matches("./").trim_end_matches('/');
            out.retain(|x| x.raw.trim_start_matches("./").trim_end_matches('/') != name);
            out.push(e.clone());
        }
    }
    out
}

pub(crate) fn compare_layouts(case: &str, a: &Layout, o: &Layout, out: &mut Vec<Diff>) {
    let mut d = Diffs {
        prefix: format!("{case} index"),
        out,
    };
    compare_json(
        &symbolize(&a.index, &a.names),
        &symbolize(&o.index, &o.names),
        &mut d,
    );
    if a.oci_layout.trim() != o.oci_layout.trim() {
        d.sub(format!("{case} oci-layout")).add(
            "differs",
            a.oci_layout.clone(),
            o.oci_layout.clone(),
        );
    }
    for (symbol, (ad, asize)) in &a.blobs {
        let mut d = d.sub(format!("{case} blob"));
        match o.blobs.get(symbol) {
            None => d.add(&format!("{symbol} only in apko"), ad.clone(), ""),
            Some((od, osize)) if od != ad || osize != asize => d.add(
                &format!("{symbol} differs"),
                format!("{ad} ({asize} bytes)"),
                format!("{od} ({osize} bytes)"),
            ),
            _ => {}
        }
    }
    for (symbol, (od, _)) in &o.blobs {
        if !a.blobs.contains_key(symbol) {
            d.sub(format!("{case} blob"))
                .add(&format!("{symbol} only in ours"), "", od.clone());
        }
    }
    for ai in &a.images {
        let Some(oi) = o.images.iter().find(|i| i.arch == ai.arch) else {
            continue; // reported by the index comparison
        };
        let arch = &ai.arch;
        compare_json(
            &symbolize(&ai.manifest, &a.names),
            &symbolize(&oi.manifest, &o.names),
            &mut d.sub(format!("{case}/{arch} manifest")),
        );
        compare_json(
            &symbolize(&ai.config, &a.names),
            &symbolize(&oi.config, &o.names),
            &mut d.sub(format!("{case}/{arch} config")),
        );
        if ai.layers.len() == oi.layers.len() {
            for (i, (al, ol)) in ai.layers.iter().zip(&oi.layers).enumerate() {
                let part = if ai.layers.len() == 1 {
                    "layer".to_string()
                } else {
                    format!("layer#{i}")
                };
                compare_entries(al, ol, &mut d.sub(format!("{case}/{arch} {part}")));
            }
        } else {
            d.sub(format!("{case}/{arch} layers")).add(
                "count differs",
                ai.layers.len().to_string(),
                oi.layers.len().to_string(),
            );
            compare_entries(
                &merged(&ai.layers),
                &merged(&oi.layers),
                &mut d.sub(format!("{case}/{arch} layers(merged)")),
            );
        }
    }
}

pub(crate) fn compare_tarballs(
    case: &str,
    a: &Tarball,
    an: &Layout,
    o: &Tarball,
    on: &Layout,
    out: &mut Vec<Diff>,
) {
    let mut d = Diffs {
        prefix: format!("{case} tarball"),
        out,
    };
    let names = |t: &Tarball, l: &Layout| -> Vec<String> {
        t.entries
            .iter()
            .map(|(n, m)| format!("{} {m}", symbolize_str(n, &l.names)))
            .collect()
    };
    // Only the set: apko writes the images in Go map order, which changes from run to run.
    let (ae, oe) = (names(a, an), names(o, on));
    let (sa, so): (BTreeSet<&String>, BTreeSet<&String>) =
        (ae.iter().collect(), oe.iter().collect());
    for n in sa.difference(&so) {
        d.add(&format!("entry {n} only in apko"), "", "");
    }
    for n in so.difference(&sa) {
        d.add(&format!("entry {n} only in ours"), "", "");
    }
    compare_json(
        &by_config(&symbolize(&a.manifest, &an.names)),
        &by_config(&symbolize(&o.manifest, &on.names)),
        &mut d.sub(format!("{case} tarball manifest.json")),
    );
    match (&a.index, &o.index) {
        (Some(ai), Some(oi)) => compare_json(
            &symbolize(ai, &an.names),
            &symbolize(oi, &on.names),
            &mut d.sub(format!("{case} tarball index.json")),
        ),
        (Some(_), None) => d.add("index.json only in apko", "", ""),
        (None, Some(_)) => d.add("index.json only in ours", "", ""),
        (None, None) => {}
    }
}

/// `manifest.json`'s images by their config's symbol (so by architecture), not by position.
pub(crate) fn by_config(manifest: &Value) -> Value {
    let mut m = serde_json::Map::new();
    for image in manifest.as_array().cloned().unwrap_or_default() {
        let key = image["Config"].as_str().unwrap_or("?").to_string();
        m.insert(key, image);
    }
    Value::Object(m)
}

/// An SPDX document with its elements named by their `name` instead of their SPDXIDs
/// (which embed digests and differ in form), so packages pair up across the two sides.
pub(crate) fn spdx_model(doc: &Value, names: &BTreeMap<String, String>) -> Value {
    let doc = symbolize(doc, names);
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    ids.insert("SPDXRef-DOCUMENT".into(), "DOCUMENT".into());
    let mut packages = serde_json::Map::new();
    for p in doc["packages"].as_array().cloned().unwrap_or_default() {
        let mut key = p["name"].as_str().unwrap_or("?").to_string();
        while packages.contains_key(&key) {
            key.push('+');
        }
        if let Some(id) = p["SPDXID"].as_str() {
            ids.insert(id.to_string(), key.clone());
        }
        packages.insert(key, p);
    }
    let name_of = |id: &Value| {
        let id = id.as_str().unwrap_or("?");
        ids.get(id).cloned().unwrap_or_else(|| format!("?{id}"))
    };
    let mut relationships: Vec<String> = doc["relationships"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                name_of(&r["spdxElementId"]),
                r["relationshipType"].as_str().unwrap_or("?"),
                name_of(&r["relatedSpdxElement"])
            )
        })
        .collect();
    relationships.sort();
    let mut m = doc.as_object().cloned().unwrap_or_default();
    m.insert("packages".into(), Value::Object(packages));
    m.insert(
        "relationships".into(),
        Value::Object(
            relationships
                .into_iter()
                .map(|r| (r, Value::Bool(true)))
                .collect(),
        ),
    );
    if let Some(described) = doc["documentDescribes"].as_array() {
        m.insert(
            "documentDescribes".into(),
            Value::Array(
                described
                    .iter()
                    .map(|x| Value::String(name_of(x)))
                    .collect(),
            ),
        );
    }
    Value::Object(m)
}

pub(crate) fn compare_sboms(case: &str, a: &Outcome, o: &Outcome, out: &mut Vec<Diff>) {
    let (al, ol) = (a.layout.as_ref().unwrap(), o.layout.as_ref().unwrap());
    // Our SBOM index names the index without the layout's `ref.name`s: the tarball's.
    let with_tar_index = |l: &Layout, t: &Tarball| {
        let mut names = l.names.clone();
        if let Some(hex) = &t.index_sha {
            names
                .entry(hex.clone())
                .or_insert_with(|| "index.json".into());
        }
        names
    };
    let an = with_tar_index(al, a.tarball.as_ref().unwrap());
    let on = with_tar_index(ol, o.tarball.as_ref().unwrap());
    let files: BTreeSet<&String> = a.sboms.keys().chain(o.sboms.keys()).collect();
    for f in files {
        let part = match f
            .strip_prefix("sbom-")
            .and_then(|s| s.strip_suffix(".spdx.json"))
        {
            Some("index") => format!("{case} sbom-index"),
            Some(arch) => format!("{case}/{arch} sbom"),
            None => format!("{case} {f}"),
        };
        let mut d = Diffs {
            prefix: part,
            out: &mut *out,
        };
        match (a.sboms.get(f), o.sboms.get(f)) {
            (Some(x), Some(y)) => compare_json(&spdx_model(x, &an), &spdx_model(y, &on), &mut d),
            (Some(_), None) => d.add("file only in apko", f.clone(), ""),
            (None, Some(_)) => d.add("file only in ours", "", f.clone()),
            (None, None) => {}
        }
    }
}

/// The last line of a log that says why it failed.
pub(crate) fn error_line(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .find(|l| l.starts_with("Error:"))
        .or(lines.last())
        .unwrap_or(&"")
        .to_string()
}

/// Every difference between apko's outcome `a` and ours `o` for the config `case`.
pub(crate) fn compare(case: &str, a: &Outcome, o: &Outcome) -> Vec<Diff> {
    let mut out = Vec::new();
    let mut d = Diffs {
        prefix: format!("{case} build"),
        out: &mut out,
    };
    match (a.status == 0, o.status == 0) {
        (true, true) => {}
        (false, false) => {
            if a.status != o.status {
                d.add(
                    "exit code differs",
                    a.status.to_string(),
                    o.status.to_string(),
                );
            }
            d.add(
                "both refuse, error texts differ",
                error_line(&a.stderr),
                error_line(&o.stderr),
            );
            return out;
        }
        _ => {
            let who = if a.status != 0 { "apko" } else { "ours" };
            d.add(
                &format!("fails only in {who}"),
                format!("exit {}: {}", a.status, error_line(&a.stderr)),
                format!("exit {}: {}", o.status, error_line(&o.stderr)),
            );
            return out;
        }
    }
    let (al, ol) = (a.layout.as_ref().unwrap(), o.layout.as_ref().unwrap());
    compare_layouts(case, al, ol, &mut out);
    compare_tarballs(
        case,
        a.tarball.as_ref().unwrap(),
        al,
        o.tarball.as_ref().unwrap(),
        ol,
        &mut out,
    );
    compare_sboms(case, a, o, &mut out);
    out
}
