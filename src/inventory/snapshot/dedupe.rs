//! The same object read twice — a copied file, a directory mounted twice — counts once.
//!
//! Objects are identified by API group, kind, namespace and name. Within a load, the first
//! copy read (files in name order, documents and items in order) is kept; a later identical
//! copy is dropped silently, a later copy with different content is dropped with a warning
//! naming both places. Content is compared by a hash: of the raw bytes of a `List` item read
//! straight from a large file, else of the object's compact JSON form.

use super::super::ingest::{describe, ingest};
use super::super::model::Inventory;
use crate::model::problem::Problem;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// API group, kind, namespace (empty when cluster-scoped) and name.
pub type ObjectKey = (String, String, String, String);

/// One object read: its identity, a hash of its content and where it was read.
#[derive(Debug, Clone)]
pub struct Seen {
    pub key: ObjectKey,
    pub hash: u64,
    pub origin: String,
    /// For an item of a `List` read by the fast path, `hash` is of its raw bytes: where they
    /// are, to compare it by value with a copy written differently (YAML, another layout) when
    /// that is needed.
    pub raw: Option<Raw>,
}

/// Where the raw bytes of a `List` item are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raw {
    pub file: String,
    /// The byte range, counted after a byte-order mark.
    pub from: usize,
    pub to: usize,
    /// A block-YAML sequence entry (`- …`), else a JSON value.
    pub yaml: bool,
}

impl Seen {
    /// A hash of the object's value (its compact JSON form), whatever its format on disk.
    fn value_hash(&self) -> Option<u64> {
        match &self.raw {
            None => Some(self.hash),
            Some(Raw {
                file,
                from,
                to,
                yaml,
            }) => {
                let bytes = std::fs::read(file).ok()?;
                // Ranges are of the text after a byte-order mark.
                let base = if bytes.starts_with(b"\xef\xbb\xbf") {
                    3
                } else {
                    0
                };
                let item = bytes.get(base + *from..base + *to)?;
                let value: Value = if *yaml {
                    let text = std::str::from_utf8(item).ok()?;
                    let mut items: Vec<Value> =
                        serde_saphyr::from_str_with_options(text, super::checked::yaml_options())
                            .ok()?;
                    items.pop()?
                } else {
                    serde_json::from_slice(item).ok()?
                };
                Some(value_hash(&value))
            }
        }
    }
}

/// Whether two copies of an object have the same content: the same hash of the same form, or
/// else the same value.
pub fn same_content(a: &Seen, b: &Seen) -> bool {
    let form = |s: &Seen| s.raw.as_ref().map(|r| r.yaml);
    if a.hash == b.hash && form(a) == form(b) {
        return true;
    }
    match (a.value_hash(), b.value_hash()) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// The identity of an object with `apiVersion`, `kind` and `metadata.name`.
pub fn object_key(
    api_version: &str,
    kind: &str,
    namespace: Option<&str>,
    name: Option<&str>,
) -> Option<ObjectKey> {
    let name = name.filter(|n| !n.is_empty())?;
    if kind.is_empty() {
        return None;
    }
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    Some((
        group.to_string(),
        kind.to_string(),
        namespace.unwrap_or("").to_string(),
        name.to_string(),
    ))
}

fn value_key(obj: &Value) -> Option<ObjectKey> {
    let meta = obj.get("metadata");
    object_key(
        obj.get("apiVersion").and_then(Value::as_str).unwrap_or(""),
        obj.get("kind").and_then(Value::as_str).unwrap_or(""),
        meta.and_then(|m| m.get("namespace"))
            .and_then(Value::as_str),
        meta.and_then(|m| m.get("name")).and_then(Value::as_str),
    )
}

/// A fast, non-cryptographic 64-bit hash (a multiply-rotate over 8-byte words).
pub fn content_hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = (bytes.len() as u64).wrapping_mul(K);
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let w = u64::from_le_bytes(w.try_into().unwrap_or([0; 8]));
        h = (h ^ w).wrapping_mul(K).rotate_left(29);
    }
    let mut tail = [0u8; 8];
    tail[..words.remainder().len()].copy_from_slice(words.remainder());
    h = (h ^ u64::from_le_bytes(tail)).wrapping_mul(K);
    h ^ (h >> 32)
}

fn value_hash(obj: &Value) -> u64 {
    content_hash(&serde_json::to_vec(obj).unwrap_or_default())
}

fn shown(key: &ObjectKey) -> String {
    let (group, kind, ns, name) = key;
    let kind = if group.is_empty() {
        kind.clone()
    } else {
        format!("{kind}.{group}")
    };
    if ns.is_empty() {
        format!("{kind} {name}")
    } else {
        format!("{kind} {ns}/{name}")
    }
}

/// The warning for a later copy that differs from the first one.
pub fn differing_copy(key: &ObjectKey, later: &str, first: &str) -> Problem {
    Problem::warning(
        later,
        "",
        format!(
            "{} is also in {first} with different content; the copy read first is used",
            shown(key)
        ),
    )
}

/// The objects one file contributes, so that a copy inside the file, or one already read from
/// another file (`exclude`), is left out.
pub struct Dedupe<'a> {
    pub seen: Vec<Seen>,
    local: HashMap<ObjectKey, usize>,
    exclude: &'a HashSet<ObjectKey>,
}

impl<'a> Dedupe<'a> {
    pub fn new(exclude: &'a HashSet<ObjectKey>) -> Self {
        Dedupe {
            seen: Vec::new(),
            local: HashMap::new(),
            exclude,
        }
    }

    /// Whether the object `key` (content `hash`, read at `origin`) is to be read: not one of
    /// the excluded objects, and not already read from this file (a differing copy is a
    /// warning in `problems`).
    pub fn admit(
        &mut self,
        key: Option<ObjectKey>,
        hash: impl FnOnce() -> u64,
        raw: Option<Raw>,
        origin: &str,
        problems: &mut Vec<Problem>,
    ) -> bool {
        let Some(key) = key else { return true };
        if self.exclude.contains(&key) {
            return false;
        }
        let seen = Seen {
            key,
            hash: hash(),
            origin: origin.to_string(),
            raw,
        };
        if let Some(&i) = self.local.get(&seen.key) {
            let first = &self.seen[i];
            if !same_content(first, &seen) {
                problems.push(differing_copy(&seen.key, origin, &first.origin));
            }
            return false;
        }
        self.local.insert(seen.key.clone(), self.seen.len());
        self.seen.push(seen);
        true
    }

    /// A point to go back to with [`Dedupe::rollback`].
    pub fn mark(&self) -> usize {
        self.seen.len()
    }

    /// Forgets the objects admitted since `mark` (their document could not be read).
    pub fn rollback(&mut self, mark: usize) {
        for s in self.seen.drain(mark..) {
            self.local.remove(&s.key);
        }
    }

    /// Reads a parsed document: each object (each item of a `List`, as [`ingest`] expands it)
    /// unless it is a copy.
    pub fn ingest(&mut self, inv: &mut Inventory, obj: &Value, origin: &str) {
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        let items = obj.get("items").and_then(Value::as_array);
        if kind == "List" || (kind.ends_with("List") && items.is_some()) {
            for (i, item) in items.into_iter().flatten().enumerate() {
                self.ingest(inv, item, &format!("{origin} items[{i}]"));
            }
            return;
        }
        let place = describe(origin, obj);
        if self.admit(
            value_key(obj),
            || value_hash(obj),
            None,
            &place,
            &mut inv.problems,
        ) {
            ingest(inv, obj, origin);
        }
    }
}
