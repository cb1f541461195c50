//! One large JSON file — `kubectl get … -A -o json > reports.json` — read as it streams from
//! disk, its `List` items parsed on all cores.
//!
//! The file is never held whole: a byte scan reads it in chunks, finds the boundaries of the
//! top-level `items`, and hands batches of whole items to worker threads, which read them with
//! the same per-item reader as a smaller file ([`fast::read_item`]). Batches are folded in file
//! order, so the result does not depend on the number of threads; an object already read from
//! an earlier batch is left out of a later one as it would be within one text. Anything the
//! scan does not recognise as a `List` (another shape, a syntax error anywhere, `kind` not a
//! List — kubectl writes `kind` after `items`, so this is known only at the end) makes the
//! caller read the file by the precise path, which reports it as before; nothing of the
//! streamed read is kept then.

use super::dedupe::{Dedupe, ObjectKey, Seen, differing_copy, same_content};
use super::fast::{self, Partial};
use serde::de::IgnoredAny;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;

/// JSON files larger than this are streamed.
pub const STREAM_JSON: u64 = 32 * 1024 * 1024;

/// Items are handed to workers in batches of about this many bytes.
const BATCH: usize = 2 * 1024 * 1024;

/// How much is read from disk at a time.
const CHUNK: usize = 1024 * 1024;

/// Deeper nesting than this is left to the precise path (as in [`fast`]).
const MAX_DEPTH: usize = 100;

/// Whole items of the file, in order.
struct Batch {
    /// Index (in `items`) of the first item.
    first: usize,
    /// Byte offset of `text` in the file (after a byte-order mark).
    at: usize,
    text: String,
    /// Each item's byte range in `text`.
    spans: Vec<(usize, usize)>,
}

/// What the scan found wrong: the file takes the precise path.
struct NotAList;

/// Reads a large JSON file; `None` when it must take the precise path as a whole.
pub(super) fn read_large_json(
    file: std::fs::File,
    name: &str,
    exclude: &HashSet<ObjectKey>,
    threads: usize,
) -> Option<Partial> {
    read_batched(file, name, exclude, threads, BATCH)
}

fn read_batched(
    file: std::fs::File,
    name: &str,
    exclude: &HashSet<ObjectKey>,
    threads: usize,
    batch_bytes: usize,
) -> Option<Partial> {
    let mut folder = Folder::new(name, exclude);
    let scanned = if threads <= 1 {
        scan(file, batch_bytes, |batch| {
            let part = read_batch(name, &batch, exclude);
            folder.fold(batch, part)
        })
    } else {
        parallel(file, name, exclude, threads, batch_bytes, &mut folder)
    };
    match scanned {
        Ok(()) if !folder.failed => Some(folder.acc),
        _ => None,
    }
}

fn parallel(
    file: std::fs::File,
    name: &str,
    exclude: &HashSet<ObjectKey>,
    threads: usize,
    batch_bytes: usize,
    folder: &mut Folder<'_>,
) -> Result<(), NotAList> {
    let (jobs_tx, jobs_rx) = std::sync::mpsc::sync_channel::<(usize, Batch)>(threads);
    let jobs_rx = std::sync::Mutex::new(jobs_rx);
    let (done_tx, done_rx) = std::sync::mpsc::sync_channel(threads * 2);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let (jobs_rx, done_tx) = (&jobs_rx, done_tx.clone());
            scope.spawn(move || {
                loop {
                    // The lock is held only to take the next batch.
                    let next = match jobs_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => break,
                    };
                    let Ok((seq, batch)) = next else { break };
                    let part = read_batch(name, &batch, exclude);
                    if done_tx.send((seq, batch, part)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        // Folds in file order, whatever order the batches finish in.
        let fold = scope.spawn(move || {
            let mut waiting = BTreeMap::new();
            let mut due = 0;
            for (seq, batch, part) in done_rx {
                waiting.insert(seq, (batch, part));
                while let Some((batch, part)) = waiting.remove(&due) {
                    folder.fold(batch, part);
                    due += 1;
                }
            }
        });
        let mut seq = 0;
        let scanned = scan(file, batch_bytes, |batch| {
            // A send fails only when every worker has stopped.
            let _ = jobs_tx.send((seq, batch));
            seq += 1;
        });
        drop(jobs_tx);
        let _ = fold.join();
        scanned
    })
}

/// Reads the items of one batch; `None` on a syntax error in one of them.
fn read_batch(name: &str, batch: &Batch, exclude: &HashSet<ObjectKey>) -> Option<Partial> {
    let mut part = Partial::default();
    let mut dedupe = Dedupe::new(exclude);
    for (k, &(from, to)) in batch.spans.iter().enumerate() {
        let item = &batch.text[from..to];
        fast::read_item(
            name,
            batch.first + k,
            item,
            batch.at + from,
            &mut dedupe,
            &mut part,
        )
        .ok()?;
    }
    part.seen = dedupe.seen;
    Some(part)
}

/// The batches read so far, folded in order.
struct Folder<'a> {
    name: &'a str,
    exclude: &'a HashSet<ObjectKey>,
    acc: Partial,
    /// The first copy of each object read from this file.
    first: HashMap<ObjectKey, usize>,
    failed: bool,
}

impl<'a> Folder<'a> {
    fn new(name: &'a str, exclude: &'a HashSet<ObjectKey>) -> Self {
        Folder {
            name,
            exclude,
            acc: Partial::default(),
            first: HashMap::new(),
            failed: false,
        }
    }

    fn fold(&mut self, batch: Batch, part: Option<Partial>) {
        if self.failed {
            return;
        }
        let Some(mut part) = part else {
            self.failed = true;
            return;
        };
        let copies: Vec<&Seen> = part
            .seen
            .iter()
            .filter(|s| self.first.contains_key(&s.key))
            .collect();
        if !copies.is_empty() {
            // Objects already read from an earlier batch: read this one again without them.
            let mut problems = Vec::new();
            for c in &copies {
                let first = &self.acc.seen[self.first[&c.key]];
                if !same_content(first, c) {
                    problems.push(differing_copy(&c.key, &c.origin, &first.origin));
                }
            }
            let exclude: HashSet<ObjectKey> = self
                .exclude
                .iter()
                .cloned()
                .chain(copies.iter().map(|c| c.key.clone()))
                .collect();
            match read_batch(self.name, &batch, &exclude) {
                Some(p) => part = p,
                None => {
                    self.failed = true;
                    return;
                }
            }
            part.inv.problems.extend(problems);
        }
        for s in std::mem::take(&mut part.seen) {
            self.first.insert(s.key.clone(), self.acc.seen.len());
            self.acc.seen.push(s);
        }
        fast::absorb_owned(&mut self.acc.inv, part.inv);
        self.acc.summaries.merge(part.summaries);
    }
}

// ---------------------------------------------------------------------------------------------
// The scan

/// A file read in chunks; `buf[pos..]` is what is not scanned yet, `buf[0]` is at byte `base`.
struct Bytes {
    file: std::fs::File,
    buf: Vec<u8>,
    pos: usize,
    base: usize,
}

impl Bytes {
    /// Reads more; `false` at the end of the file (or on a read error: the precise path
    /// reports it).
    fn fill(&mut self) -> bool {
        let len = self.buf.len();
        self.buf.resize(len + CHUNK, 0);
        match self.file.read(&mut self.buf[len..]) {
            Ok(n) => {
                self.buf.truncate(len + n);
                n > 0
            }
            Err(_) => {
                self.buf.truncate(len);
                false
            }
        }
    }

    fn peek(&mut self) -> Option<u8> {
        if self.pos == self.buf.len() && !self.fill() {
            return None;
        }
        Some(self.buf[self.pos])
    }

    fn ws(&mut self) -> Option<u8> {
        loop {
            let b = self.peek()?;
            if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(b);
            }
            self.pos += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Result<(), NotAList> {
        if self.ws() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(NotAList)
        }
    }

    /// Forgets the bytes before `buf[keep]`.
    fn forget(&mut self, keep: usize) {
        self.buf.drain(..keep);
        self.pos -= keep;
        self.base += keep;
    }

    /// Skips one value starting at `pos` (after whitespace), `depth` levels deep; its syntax
    /// is checked later by serde.
    fn value(&mut self, depth: usize) -> Result<(), NotAList> {
        match self.ws().ok_or(NotAList)? {
            b'{' | b'[' => {}
            b'"' => return self.string(),
            _ => loop {
                match self.peek() {
                    None => return Ok(()),
                    Some(b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') => return Ok(()),
                    Some(_) => self.pos += 1,
                }
            },
        }
        let mut level = 0usize;
        let mut in_str = false;
        let mut escaped = false;
        loop {
            let from = self.pos;
            for (k, &b) in self.buf[from..].iter().enumerate() {
                if in_str {
                    if escaped {
                        escaped = false;
                    } else if b == b'\\' {
                        escaped = true;
                    } else if b == b'"' {
                        in_str = false;
                    }
                    continue;
                }
                match b {
                    b'"' => in_str = true,
                    b'{' | b'[' => {
                        level += 1;
                        if depth + level > MAX_DEPTH {
                            return Err(NotAList);
                        }
                    }
                    b'}' | b']' => {
                        level = level.checked_sub(1).ok_or(NotAList)?;
                        if level == 0 {
                            self.pos = from + k + 1;
                            return Ok(());
                        }
                    }
                    _ => {}
                }
            }
            self.pos = self.buf.len();
            if !self.fill() {
                return Err(NotAList);
            }
        }
    }

    /// A string starting at the current `"`.
    fn string(&mut self) -> Result<(), NotAList> {
        self.pos += 1;
        let mut escaped = false;
        loop {
            let b = self.peek().ok_or(NotAList)?;
            self.pos += 1;
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                return Ok(());
            }
        }
    }

    fn text(&self, from: usize) -> Result<&str, NotAList> {
        std::str::from_utf8(&self.buf[from..self.pos]).map_err(|_| NotAList)
    }
}

/// Scans a top-level `{"kind": "...List", "items": [...]}` and hands its items to `emit` in
/// batches, in order.
fn scan(
    file: std::fs::File,
    batch_bytes: usize,
    mut emit: impl FnMut(Batch),
) -> Result<(), NotAList> {
    let mut s = Bytes {
        file,
        buf: Vec::with_capacity(batch_bytes + CHUNK),
        pos: 0,
        base: 0,
    };
    // A UTF-8 byte-order mark is not part of the text; offsets are counted after it.
    while s.buf.len() < 3 && s.fill() {}
    if s.buf.starts_with(b"\xef\xbb\xbf") {
        s.pos = 3;
        s.forget(3);
        s.base = 0;
    }
    s.eat(b'{')?;
    if s.ws() == Some(b'}') {
        return Err(NotAList);
    }
    let mut kind: Option<String> = None;
    let mut items_seen = false;
    loop {
        if s.ws() != Some(b'"') {
            return Err(NotAList);
        }
        let from = s.pos;
        s.string()?;
        let key = s.text(from)?.to_string();
        s.eat(b':')?;
        if key == "\"items\"" {
            if items_seen || s.ws() != Some(b'[') {
                return Err(NotAList);
            }
            items_seen = true;
            s.pos += 1;
            items(&mut s, batch_bytes, &mut emit)?;
        } else {
            s.ws();
            let from = s.pos;
            s.value(1)?;
            let value = s.text(from)?;
            // Everything outside the items must still be valid JSON.
            serde_json::from_str::<IgnoredAny>(value).map_err(|_| NotAList)?;
            if key == "\"kind\"" {
                if kind.is_some() {
                    return Err(NotAList);
                }
                kind = Some(serde_json::from_str(value).map_err(|_| NotAList)?);
            } else if key.contains('\\') {
                // An escaped key might spell `items` or `kind`.
                return Err(NotAList);
            }
            let keep = s.pos;
            s.forget(keep);
        }
        match s.ws() {
            Some(b',') => s.pos += 1,
            Some(b'}') => {
                s.pos += 1;
                break;
            }
            _ => return Err(NotAList),
        }
    }
    if s.ws().is_some() {
        return Err(NotAList);
    }
    match kind {
        Some(k) if k.ends_with("List") && items_seen => Ok(()),
        _ => Err(NotAList),
    }
}

/// The items after `[`, up to and including `]`.
fn items(s: &mut Bytes, batch_bytes: usize, emit: &mut impl FnMut(Batch)) -> Result<(), NotAList> {
    let mut index = 0usize;
    let mut batch_first = 0usize;
    let mut spans: Vec<(usize, usize)> = Vec::new();
    // Start of the current batch in `buf`.
    let mut start = s.pos;
    let mut flush = |s: &mut Bytes,
                     spans: &mut Vec<(usize, usize)>,
                     start: &mut usize,
                     first: &mut usize,
                     index: usize|
     -> Result<(), NotAList> {
        if !spans.is_empty() {
            let end = spans.last().map_or(*start, |x| x.1);
            let text = std::str::from_utf8(&s.buf[*start..end])
                .map_err(|_| NotAList)?
                .to_string();
            let at = s.base + *start;
            let shifted = spans
                .iter()
                .map(|&(a, b)| (a - *start, b - *start))
                .collect();
            spans.clear();
            emit(Batch {
                first: *first,
                at,
                text,
                spans: shifted,
            });
        }
        *first = index;
        let keep = s.pos;
        s.forget(keep);
        *start = s.pos;
        Ok(())
    };
    if s.ws() == Some(b']') {
        s.pos += 1;
        return Ok(());
    }
    loop {
        s.ws();
        let from = s.pos;
        s.value(2)?;
        spans.push((from, s.pos));
        index += 1;
        let end = match s.ws() {
            Some(b',') => {
                s.pos += 1;
                false
            }
            Some(b']') => {
                s.pos += 1;
                true
            }
            _ => return Err(NotAList),
        };
        if end || s.pos - start >= batch_bytes {
            flush(s, &mut spans, &mut start, &mut batch_first, index)?;
        }
        if end {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fast::{absorb_owned, read_json};
    use super::*;
    use crate::inventory::model::Inventory;
    use serde_json::json;

    fn inventory(part: Partial) -> Inventory {
        let mut inv = Inventory::default();
        absorb_owned(&mut inv, part.inv);
        inv.results = part.summaries.into_results();
        inv
    }

    fn streamed(text: &str, threads: usize) -> Option<Inventory> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.json");
        std::fs::write(&path, text).unwrap();
        let none = HashSet::new();
        let file = std::fs::File::open(&path).unwrap();
        read_batched(file, "big.json", &none, threads, 300).map(inventory)
    }

    fn report(ns: &str, name: &str, outcome: &str, message: &str) -> serde_json::Value {
        json!({"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport",
               "metadata": {"name": name, "namespace": ns},
               "scope": {"kind": "Pod", "name": name, "namespace": ns},
               "results": [{"policy": "p", "rule": "r", "result": outcome, "message": message}]})
    }

    #[test]
    fn batches_on_any_number_of_threads_read_as_the_whole_text() {
        let mut items: Vec<serde_json::Value> = (0..40)
            .map(|i| {
                report(
                    &format!("ns-{}", i % 4),
                    &format!("r{i}"),
                    if i % 3 == 0 { "fail" } else { "pass" },
                    &format!("m \"{i}\" \u{e9}"),
                )
            })
            .collect();
        // Copies of earlier objects, far enough to be in later batches: one the same, one not.
        items.push(report("ns-1", "r1", "pass", "m \"1\" \u{e9}"));
        items.push(report("ns-2", "r2", "fail", "changed"));
        items.push(report("ns-0", "bad", "fial", ""));
        items.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns-0"}}));
        items.push(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}));
        // kubectl writes `kind` after `items`.
        let text = format!(
            "\u{feff}{{\"apiVersion\": \"v1\", \"items\": {}, \"kind\": \"List\", \"metadata\": {{}}}}\n",
            serde_json::to_string_pretty(&items).unwrap()
        );
        let whole = inventory(
            read_json(
                "big.json",
                text.trim_start_matches('\u{feff}'),
                &HashSet::new(),
            )
            .unwrap(),
        );
        for threads in [1, 2, 3] {
            let inv = streamed(&text, threads).unwrap();
            assert_eq!(inv.results, whole.results);
            assert_eq!(inv.findings, whole.findings);
            assert_eq!(inv.problems, whole.problems, "{threads} threads");
            assert_eq!(inv.objects, whole.objects);
            assert_eq!(inv.namespaces, whole.namespaces);
        }
        assert_eq!(whole.objects, 43);
        assert_eq!(whole.problems.len(), 2, "{:#?}", whole.problems);
    }

    #[test]
    fn anything_but_a_list_is_left_to_the_precise_path() {
        let good = serde_json::to_string(&report("ns-a", "one", "fail", "m")).unwrap();
        for text in [
            format!(r#"{{"kind": "List", "items": [{good}, {{"kind": tru}}]}}"#),
            format!(r#"{{"kind": "List", "items": [{good}], "metadata": {{"a": 01}}}}"#),
            format!(r#"{{"kind": "List", "items": [{good}]}} trailing"#),
            format!(r#"{{"kind": "List", "items": [{good}"#),
            format!(r#"{{"kind": "PolicyReport", "items": [{good}]}}"#),
            format!(r#"{{"items": [{good}]}}"#),
            format!(r#"{{"kind": "List", "items": [{good}], "items": []}}"#),
            format!(r#"[{good}]"#),
            String::new(),
        ] {
            assert!(streamed(&text, 2).is_none(), "{text}");
        }
        let inv = streamed(&format!(r#"{{"kind": "List", "items": [{good}]}}"#), 2).unwrap();
        assert_eq!(inv.results.len(), 1);
    }
}
