//! The snapshot source: an inventory read from a directory of YAML/JSON files.
//!
//! Accepts what `kubectl get -o yaml` writes and what a GitOps repository holds: every
//! `.yaml`, `.yml` and `.json` file under the directory, recursively, in name order; several
//! documents per file; `kind: List`. A file or document that cannot be read is one problem
//! naming the file and document; it never stops the other files from loading. Only an
//! unreadable directory is an error.

mod fast;

use super::ingest::ingest;
use super::model::Inventory;
use crate::model::ids::ClusterName;
use crate::model::problem::Problem;
use serde_json::Value;
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
    collect_files(dir, &mut files).map_err(|source| SnapshotError::Dir {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut inv = Inventory::default();
    let mut summaries = fast::Summaries::default();
    let mut add = |part: fast::Partial| {
        fast::absorb_owned(&mut inv, part.inv);
        summaries.merge(part.summaries);
    };
    let threads = threads.clamp(1, files.len().max(1));
    if threads == 1 {
        files.iter().for_each(|f| add(read_file(f)));
    } else {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            for _ in 0..threads {
                let (tx, next, files) = (tx.clone(), &next, &files);
                scope.spawn(move || {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(file) = files.get(i) else { break };
                        if tx.send((i, read_file(file))).is_err() {
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
                    add(part);
                    due += 1;
                }
            }
        });
    }
    // Built in one go from sorted pairs, so the map's nodes are full (a third of the memory
    // of inserting one by one).
    inv.results = summaries.into_results();
    inv.finish();
    Ok(inv)
}

/// Reads one file into what it contributes.
fn read_file(file: &Path) -> fast::Partial {
    let name = file.display().to_string();
    match std::fs::read_to_string(file) {
        Ok(text) => read_text(&name, &text),
        Err(e) => {
            let mut part = fast::Partial::default();
            part.inv
                .problems
                .push(Problem::error(name, "", format!("cannot read file: {e}")));
            part
        }
    }
}

/// One file's text: JSON through the fast path when it can, everything else precisely.
fn read_text(name: &str, text: &str) -> fast::Partial {
    if name.ends_with(".json")
        && let Some(part) = fast::read_json(name, text)
    {
        return part;
    }
    let mut fragment = Inventory::default();
    load_text_precise(&mut fragment, name, text);
    let mut part = fast::Partial::default();
    part.add_fragment(fragment);
    part
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            collect_files(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

/// Reads the objects of one file's text into `inv`; `name` is used in problems.
pub fn load_text(inv: &mut Inventory, name: &str, text: &str) {
    let part = read_text(name, text);
    fast::absorb_owned(inv, part.inv);
    for (key, s) in part.summaries.into_results() {
        inv.results.entry(key).or_default().absorb(&s);
    }
}

/// The precise reader: every document through `serde_json::Value` and [`ingest`], so each
/// problem names its file, document or item, and field.
fn load_text_precise(inv: &mut Inventory, name: &str, text: &str) {
    if name.ends_with(".json") {
        match serde_json::from_str::<Value>(text) {
            Ok(v) => ingest(inv, &v, name),
            Err(e) => inv
                .problems
                .push(Problem::error(name, "", format!("invalid JSON: {e}"))),
        }
        return;
    }
    for doc in split_documents(text) {
        let origin = format!("{name} doc {}", doc.index);
        match serde_saphyr::from_str::<Value>(doc.text) {
            Ok(Value::Null) => {}
            Ok(v) => ingest(inv, &v, &origin),
            Err(e) => inv.problems.push(Problem::error(
                format!("{origin} (from line {})", doc.first_line),
                "",
                format!("invalid YAML: {}", first_line(&e.to_string())),
            )),
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
                        "metadata": {"name": format!("r{j}"), "namespace": format!("ns-{}", j % 3)},
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
