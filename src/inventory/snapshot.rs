//! The snapshot source: an inventory read from a directory of YAML/JSON files.
//!
//! Accepts what `kubectl get -o yaml` writes and what a GitOps repository holds: every
//! `.yaml`, `.yml` and `.json` file under the directory, recursively, in name order; several
//! documents per file; `kind: List`. A file or document that cannot be read is one problem
//! naming the file and document; it never stops the other files from loading. Only an
//! unreadable directory is an error.

use super::ingest::ingest;
use super::model::Inventory;
use crate::problem::Problem;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Something that can produce an inventory. Called once per scheduler tick or command;
/// `Err` means nothing could be read at all (problems with single objects are in the inventory).
pub trait InventorySource {
    /// A short description for logs: the directory, or the cluster context.
    fn describe(&self) -> String;
    fn load(&self) -> Result<Inventory, SnapshotError>;
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

/// A directory of Kubernetes objects.
#[derive(Debug, Clone)]
pub struct SnapshotSource {
    pub dir: PathBuf,
}

impl SnapshotSource {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
}

impl InventorySource for SnapshotSource {
    fn describe(&self) -> String {
        format!("snapshot {}", self.dir.display())
    }

    fn load(&self) -> Result<Inventory, SnapshotError> {
        load_dir(&self.dir)
    }
}

/// Reads every object file under `dir`.
pub fn load_dir(dir: &Path) -> Result<Inventory, SnapshotError> {
    let mut files = Vec::new();
    collect_files(dir, &mut files).map_err(|source| SnapshotError::Dir {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut inv = Inventory::default();
    for file in files {
        let name = file.display().to_string();
        match std::fs::read_to_string(&file) {
            Ok(text) => load_text(&mut inv, &name, &text),
            Err(e) => inv
                .problems
                .push(Problem::error(name, "", format!("cannot read file: {e}"))),
        }
    }
    inv.finish();
    Ok(inv)
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
}
