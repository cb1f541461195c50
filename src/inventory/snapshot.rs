//! The snapshot source: an inventory read from a directory of YAML/JSON files.
//!
//! Accepts what `kubectl get -o yaml` writes and what a GitOps repository holds: every
//! `.yaml`, `.yml` and `.json` file under the directory, recursively, in name order; several
//! documents per file; `kind: List`. A file or document that cannot be read is one problem
//! naming the file and document; it never stops the other files from loading. Only an
//! unreadable top directory is an error; an unreadable subdirectory is a problem naming it.
//! The same object found twice (group, kind, namespace, name) is read once. A large `List`
//! file (one `kubectl get -o json` or `-o yaml` dump) is streamed, its items read on all cores
//! (`stream`); every report, whatever the path, is folded by the one reader in `report`.

mod checked;
mod dedupe;
mod fast;
mod stream;
mod yaml;

use super::model::Inventory;
use crate::model::ids::ClusterName;
use crate::model::problem::Problem;
use dedupe::{Dedupe, ObjectKey, Seen};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Something that can produce the inventories of one or more clusters, one per cluster, each
/// named ([`Inventory::cluster`]). Called once per scheduler tick or command; `Err` means
/// nothing could be read at all (problems with single objects are in the inventories).
pub trait InventorySource {
    /// A short description for logs: the directory, or the cluster context.
    fn describe(&self) -> String;
    fn load(&self) -> Result<Vec<Inventory>, SnapshotError>;
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The live source has not finished its first full listing: planning now could announce
    /// from a half-loaded cluster.
    #[error("the cluster inventory is not loaded yet ({0})")]
    NotReady(String),
    #[error("cannot read snapshot directory {path}: {source}")]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A directory of Kubernetes objects: one cluster.
#[derive(Debug, Clone)]
pub struct SnapshotSource {
    pub dir: PathBuf,
    pub cluster: ClusterName,
}

impl SnapshotSource {
    /// A snapshot named after its directory (`examples/cluster` → `cluster`).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        let cluster = default_cluster_name(&dir);
        Self { dir, cluster }
    }

    pub fn named(dir: impl Into<PathBuf>, cluster: ClusterName) -> Self {
        Self {
            dir: dir.into(),
            cluster,
        }
    }
}

/// A directory's base name as a cluster name, when it is one; else `default`.
pub fn default_cluster_name(dir: &Path) -> ClusterName {
    dir.canonicalize()
        .ok()
        .as_deref()
        .unwrap_or(dir)
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| ClusterName::parse(n).ok())
        .unwrap_or_else(|| ClusterName::parse("default").unwrap_or_default())
}

impl InventorySource for SnapshotSource {
    fn describe(&self) -> String {
        format!("snapshot {}", self.dir.display())
    }

    fn load(&self) -> Result<Vec<Inventory>, SnapshotError> {
        let mut inv = load_dir(&self.dir)?;
        inv.cluster = self.cluster.clone();
        Ok(vec![inv])
    }
}

/// Reads every object file under `dir`, parsing files on all available cores.
pub fn load_dir(dir: &Path) -> Result<Inventory, SnapshotError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    load_dir_with(dir, threads)
}

/// [`load_dir`] with at most `threads` files parsed at once. The result does not depend on
/// `threads`: files are folded in name order whatever order they finish in.
pub fn load_dir_with(dir: &Path, threads: usize) -> Result<Inventory, SnapshotError> {
    let mut files = Vec::new();
    let mut walk_problems = Vec::new();
    // Only the top directory being unreadable stops the load.
    std::fs::read_dir(dir).map_err(|source| SnapshotError::Dir {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut visited = std::collections::HashSet::new();
    collect_files(dir, &mut files, &mut walk_problems, &mut visited);
    let mut inv = Inventory::default();
    inv.problems.extend(walk_problems);
    // The first copy of each object, in name order (see `dedupe`).
    let mut registry: HashMap<ObjectKey, Seen> = HashMap::new();
    let no_exclusions = HashSet::new();
    let threads = threads.max(1);
    let mut add = |i: usize, mut part: fast::Partial| {
        let copies: Vec<&Seen> = part
            .seen
            .iter()
            .filter(|s| registry.contains_key(&s.key))
            .collect();
        if !copies.is_empty() {
            // Objects already read from an earlier file: read this one again without them.
            let mut problems = Vec::new();
            for c in &copies {
                let first = &registry[&c.key];
                if !dedupe::same_content(first, c) {
                    problems.push(dedupe::differing_copy(&c.key, &c.origin, &first.origin));
                }
            }
            let exclude: HashSet<ObjectKey> = copies.iter().map(|c| c.key.clone()).collect();
            part = read_file(&files[i], &exclude, threads);
            part.inv.problems.extend(problems);
        }
        for s in std::mem::take(&mut part.seen) {
            registry.entry(s.key.clone()).or_insert(s);
        }
        fast::absorb_owned(&mut inv, part.inv);
    };
    // A large List file is read alone, its items on all threads; the files between two such
    // files are read in parallel, one file per thread.
    let streamed: Vec<bool> = files.iter().map(|f| streamed(f).is_some()).collect();
    let mut from = 0;
    while from < files.len() {
        if streamed[from] {
            add(from, read_file(&files[from], &no_exclusions, threads));
            from += 1;
            continue;
        }
        let to = (from..files.len())
            .find(|&i| streamed[i])
            .unwrap_or(files.len());
        let group = &files[from..to];
        let threads = threads.min(group.len());
        if threads == 1 {
            for (k, f) in group.iter().enumerate() {
                add(from + k, read_file(f, &no_exclusions, 1));
            }
        } else {
            let next = std::sync::atomic::AtomicUsize::new(0);
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::scope(|scope| {
                for _ in 0..threads {
                    let (tx, next, none) = (tx.clone(), &next, &no_exclusions);
                    scope.spawn(move || {
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(file) = group.get(i) else { break };
                            if tx.send((i, read_file(file, none, 1))).is_err() {
                                break;
                            }
                        }
                    });
                }
                drop(tx);
                // Fold in name order, whatever order the files finish in.
                let mut waiting = std::collections::BTreeMap::new();
                let mut due = 0;
                for (i, part) in rx {
                    waiting.insert(i, part);
                    while let Some(part) = waiting.remove(&due) {
                        add(from + due, part);
                        due += 1;
                    }
                }
            });
        }
        from = to;
    }
    inv.finish();
    Ok(inv)
}

/// How `file` is streamed ([`stream`]), when it is large enough to be.
fn streamed(file: &Path) -> Option<fast::Format> {
    let format = match file.extension().and_then(|e| e.to_str()) {
        Some("json") => fast::Format::Json,
        Some("yaml" | "yml") => fast::Format::Yaml,
        _ => return None,
    };
    std::fs::metadata(file)
        .is_ok_and(|m| m.len() > stream::STREAM)
        .then_some(format)
}

/// Reads one file into what it contributes, leaving out the objects in `exclude`; the items of
/// a large `List` file are parsed on `threads` threads.
fn read_file(file: &Path, exclude: &HashSet<ObjectKey>, threads: usize) -> fast::Partial {
    let name = file.display().to_string();
    if let Some(format) = streamed(file)
        && let Ok(f) = std::fs::File::open(file)
    {
        if let Some(part) = stream::read_large_list(f, &name, format, exclude, threads) {
            return part;
        }
        // Not a List the scan could read. A syntax error is found without holding the file.
        if format == fast::Format::Json
            && let Some(e) = json_syntax_error(file)
        {
            let mut part = fast::Partial::default();
            part.inv
                .problems
                .push(Problem::error(name, "", format!("invalid JSON: {e}")));
            return part;
        }
    }
    if !name.ends_with(".json")
        && let Ok(f) = std::fs::File::open(file)
        && f.metadata().is_ok_and(|m| m.len() > yaml::LARGE_FILE)
    {
        // Parsed as it is read: never the whole text in memory.
        let mut fragment = Inventory::default();
        let mut dedupe = Dedupe::new(exclude);
        let origin = format!("{name} doc 1");
        match yaml::read_large_file(&mut fragment, &mut dedupe, &origin, f) {
            yaml::Large::SeveralDocuments => {}
            outcome => {
                if let yaml::Large::Failed(e) = outcome {
                    fragment.problems.push(Problem::error(
                        origin,
                        "",
                        format!("invalid YAML: {}", first_line(&e.to_string())),
                    ));
                }
                let mut part = fast::Partial::default();
                part.add_fragment(fragment);
                part.seen = dedupe.seen;
                return part;
            }
        }
    }
    match std::fs::read_to_string(file) {
        Ok(text) => read_text(&name, &text, exclude),
        Err(e) => {
            let mut part = fast::Partial::default();
            part.inv
                .problems
                .push(Problem::error(name, "", format!("cannot read file: {e}")));
            part
        }
    }
}

/// One file's text: JSON through the fast path when it can, everything else precisely. A
/// UTF-8 byte-order mark at the start is not part of the text.
fn read_text(name: &str, text: &str, exclude: &HashSet<ObjectKey>) -> fast::Partial {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if name.ends_with(".json")
        && let Some(part) = fast::read_json(name, text, exclude)
    {
        return part;
    }
    let mut fragment = Inventory::default();
    let mut dedupe = Dedupe::new(exclude);
    load_text_precise(&mut fragment, name, text, &mut dedupe);
    let mut part = fast::Partial::default();
    part.add_fragment(fragment);
    part.seen = dedupe.seen;
    part
}

/// The syntax error in a JSON file, read as it streams (a UTF-8 byte-order mark is skipped).
fn json_syntax_error(file: &Path) -> Option<serde_json::Error> {
    use std::io::BufRead;
    let mut r = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(file).ok()?);
    if r.fill_buf().ok()?.starts_with(b"\xef\xbb\xbf") {
        r.consume(3);
    }
    serde_json::from_reader::<_, serde::de::IgnoredAny>(r)
        .err()
        .filter(|e| e.is_syntax() || e.is_eof())
}

/// Every object file under `dir`, in name order. Symbolic links are followed (a directory
/// already visited, through a link loop or twice, is read once); names starting with `..` are
/// skipped — a ConfigMap volume keeps its files in `..<timestamp>/` behind a `..data` link,
/// with a link per file at the top. A subdirectory or entry that cannot be read is a problem
/// naming it; the rest is still read.
fn collect_files(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    problems: &mut Vec<Problem>,
    visited: &mut HashSet<PathBuf>,
) {
    let shown = dir.display().to_string();
    match std::fs::canonicalize(dir) {
        Ok(real) => {
            if !visited.insert(real.clone()) {
                problems.push(Problem::warning(
                    shown,
                    "",
                    format!(
                        "directory {} is already read (a symbolic link to it, or a link loop); skipped",
                        real.display()
                    ),
                ));
                return;
            }
        }
        Err(e) => {
            problems.push(Problem::error(
                shown,
                "",
                format!("cannot read directory: {e}"),
            ));
            return;
        }
    }
    let entries = match std::fs::read_dir(dir).and_then(|d| d.collect::<Result<Vec<_>, _>>()) {
        Ok(entries) => entries,
        Err(e) => {
            problems.push(Problem::error(
                shown,
                "",
                format!("cannot read directory: {e}"),
            ));
            return;
        }
    };
    let mut entries = entries;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        if entry.file_name().to_string_lossy().starts_with("..") {
            continue;
        }
        let path = entry.path();
        // Follows symbolic links.
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) => {
                problems.push(Problem::error(
                    path.display().to_string(),
                    "",
                    format!("cannot read: {e}"),
                ));
                continue;
            }
        };
        if meta.is_dir() {
            collect_files(&path, out, problems, visited);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        ) {
            out.push(path);
        }
    }
}

/// Reads the objects of one file's text into `inv`; `name` is used in problems.
pub fn load_text(inv: &mut Inventory, name: &str, text: &str) {
    let part = read_text(name, text, &HashSet::new());
    fast::absorb_owned(inv, part.inv);
}

/// The precise reader: every document through `serde_json::Value` and [`ingest`], so each
/// problem names its file, document or item, and field.
fn load_text_precise(inv: &mut Inventory, name: &str, text: &str, dedupe: &mut Dedupe<'_>) {
    if name.ends_with(".json") {
        match serde_json::from_str::<checked::Checked>(text) {
            Ok(c) => {
                for path in &c.duplicates {
                    inv.problems.push(checked::duplicate_problem(name, path));
                }
                dedupe.ingest(inv, &c.value, name);
            }
            Err(e) => inv
                .problems
                .push(Problem::error(name, "", format!("invalid JSON: {e}"))),
        }
        return;
    }
    for doc in split_documents(text) {
        let origin = format!("{name} doc {}", doc.index);
        if let Err(e) = yaml::read_document(inv, dedupe, &origin, doc.text) {
            inv.problems.push(Problem::error(
                format!("{origin} (from line {})", doc.first_line),
                "",
                format!("invalid YAML: {}", first_line(&e.to_string())),
            ));
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// One YAML document of a multi-document file.
pub struct Document<'a> {
    /// 1-based, counting only documents with content.
    pub index: usize,
    /// 1-based line where the document's text starts.
    pub first_line: usize,
    pub text: &'a str,
}

/// Splits a YAML stream at `---` (and after `...`) markers, so one broken document does not
/// hide the others. Documents holding only comments and blank lines are dropped.
pub fn split_documents<'a>(text: &'a str) -> Vec<Document<'a>> {
    let mut docs = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1usize;
    let mut offset = 0usize;
    let push = |from: usize, to: usize, line: usize, docs: &mut Vec<Document<'a>>| {
        let body = &text[from..to];
        let has_content = body
            .lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
        if has_content {
            docs.push(Document {
                index: docs.len() + 1,
                first_line: line,
                text: body,
            });
        }
    };
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let bare = line.trim_end();
        let is_start = bare == "---" || bare.starts_with("--- ") || bare.starts_with("---\t");
        let is_end = bare == "...";
        if is_start || is_end {
            push(start, offset, start_line, &mut docs);
            // Content after `--- ` on the same line belongs to the new document.
            start = if is_start {
                offset + 3
            } else {
                offset + line.len()
            };
            start_line = i + 1 + usize::from(is_end);
        }
        offset += line.len();
    }
    push(start, text.len(), start_line, &mut docs);
    docs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_documents_and_skips_empty_ones() {
        let text = "---\n# only a comment\n---\na: 1\n--- \nb: 2\n...\n";
        let docs = split_documents(text);
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].text.trim(), "a: 1");
        assert_eq!(docs[0].first_line, 3);
        assert_eq!(docs[1].index, 2);
        assert_eq!(docs[1].text.trim(), "b: 2");
    }

    #[test]
    fn parallel_loading_gives_the_same_inventory() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..6 {
            let items: Vec<serde_json::Value> = (0..20)
                .map(|j| {
                    serde_json::json!({
                        "apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport",
                        "metadata": {"name": format!("r{i}-{j}"), "namespace": format!("ns-{}", j % 3)},
                        "scope": {"kind": "Pod", "name": format!("pod-{i}-{j}")},
                        "results": [
                            {"policy": "p", "rule": "r", "result": if (i + j) % 4 == 0 { "fail" } else { "pass" },
                             "message": format!("m{i}{j}")},
                        ],
                    })
                })
                .collect();
            let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
            std::fs::write(dir.path().join(format!("f{i}.json")), list.to_string()).unwrap();
        }
        std::fs::write(dir.path().join("broken.yaml"), "a: [\n").unwrap();
        let one = load_dir_with(dir.path(), 1).unwrap();
        let two = load_dir_with(dir.path(), 2).unwrap();
        assert_eq!(one.results, two.results);
        assert_eq!(one.findings, two.findings);
        assert_eq!(one.problems, two.problems);
        assert_eq!(one.objects, 120);
        assert_eq!(one.problems.len(), 1);
    }
}
