//! One large `List` file — `kubectl get … -A -o json > reports.json`, or `-o yaml` — read as it
//! streams from disk, its items parsed on all cores.
//!
//! The file is never held whole: a scan reads it in chunks, finds the boundaries of the
//! top-level `items` (JSON: by bytes; block YAML: by the indentation of each line), and hands
//! batches of whole items to worker threads, which read each with the same per-item reader as
//! a smaller JSON file ([`fast::read_item`]; a YAML item is parsed alone as a one-entry
//! sequence, and its problems name `doc 1 items[i]` as the whole-document reader's do). Batches are folded in file
//! order, so the result does not depend on the number of threads; an object already read from
//! an earlier batch is left out of a later one as it would be within one text. Anything the
//! scan does not recognise as a `List` (another shape, a syntax error anywhere, `kind` not a
//! List — kubectl writes `kind` after `items`, so this is known only at the end) makes the
//! caller read the file by the precise path, which reports it as before; nothing of the
//! streamed read is kept then.

use super::dedupe::{Dedupe, ObjectKey, Seen, differing_copy, same_content};
use super::fast::{self, Format, Partial};
use serde::de::IgnoredAny;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;

/// Files larger than this are streamed.
pub const STREAM: u64 = 32 * 1024 * 1024;

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

/// Reads a large `List` file; `None` when it must take the precise path as a whole.
pub(super) fn read_large_list(
    file: std::fs::File,
    name: &str,
    format: Format,
    exclude: &HashSet<ObjectKey>,
    threads: usize,
) -> Option<Partial> {
    read_batched(file, name, format, exclude, threads, BATCH)
}

fn read_batched(
    file: std::fs::File,
    name: &str,
    format: Format,
    exclude: &HashSet<ObjectKey>,
    threads: usize,
    batch_bytes: usize,
) -> Option<Partial> {
    let mut folder = Folder::new(name, format, exclude);
    let scanned = if threads <= 1 {
        scan(file, format, batch_bytes, |batch| {
            let part = read_batch(name, format, &batch, exclude);
            folder.fold(batch, part)
        })
    } else {
        parallel(
            file,
            name,
            format,
            exclude,
            threads,
            batch_bytes,
            &mut folder,
        )
    };
    match scanned {
        Ok(()) if !folder.failed => Some(folder.acc),
        _ => None,
    }
}

fn parallel(
    file: std::fs::File,
    name: &str,
    format: Format,
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
                    let part = read_batch(name, format, &batch, exclude);
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
        let scanned = scan(file, format, batch_bytes, |batch| {
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
fn read_batch(
    name: &str,
    format: Format,
    batch: &Batch,
    exclude: &HashSet<ObjectKey>,
) -> Option<Partial> {
    let mut part = Partial::default();
    let mut dedupe = Dedupe::new(exclude);
    for (k, &(from, to)) in batch.spans.iter().enumerate() {
        let item = &batch.text[from..to];
        fast::read_item(
            name,
            format,
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
    format: Format,
    exclude: &'a HashSet<ObjectKey>,
    acc: Partial,
    /// The first copy of each object read from this file.
    first: HashMap<ObjectKey, usize>,
    failed: bool,
}

impl<'a> Folder<'a> {
    fn new(name: &'a str, format: Format, exclude: &'a HashSet<ObjectKey>) -> Self {
        Folder {
            name,
            format,
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
            match read_batch(self.name, self.format, &batch, &exclude) {
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

    /// The next line from `pos`, with its line break: its range in `buf`.
    fn line(&mut self) -> Option<(usize, usize)> {
        let mut searched = self.pos;
        loop {
            if let Some(k) = self.buf[searched..].iter().position(|&b| b == b'\n') {
                let from = self.pos;
                self.pos = searched + k + 1;
                return Some((from, self.pos));
            }
            searched = self.buf.len();
            if !self.fill() {
                if self.pos == self.buf.len() {
                    return None;
                }
                let from = self.pos;
                self.pos = self.buf.len();
                return Some((from, self.pos));
            }
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

/// Scans a `List` and hands its items to `emit` in batches, in order.
fn scan(
    file: std::fs::File,
    format: Format,
    batch_bytes: usize,
    emit: impl FnMut(Batch),
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
    match format {
        Format::Json => scan_json(s, batch_bytes, emit),
        Format::Yaml => scan_yaml(s, batch_bytes, emit),
    }
}

/// A top-level `{"kind": "...List", "items": [...]}`.
fn scan_json(
    mut s: Bytes,
    batch_bytes: usize,
    mut emit: impl FnMut(Batch),
) -> Result<(), NotAList> {
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
            json_items(&mut s, batch_bytes, &mut emit)?;
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
fn json_items(
    s: &mut Bytes,
    batch_bytes: usize,
    emit: &mut impl FnMut(Batch),
) -> Result<(), NotAList> {
    let mut index = 0usize;
    let mut batch_first = 0usize;
    let mut spans: Vec<(usize, usize)> = Vec::new();
    // Start of the current batch in `buf`.
    let mut start = s.pos;
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
            flush(s, &mut spans, &mut start, &mut batch_first, index, emit)?;
        }
        if end {
            return Ok(());
        }
    }
}

/// Hands the items in `spans` (positions in `s.buf`, from `start`) to `emit` as one batch, and
/// forgets what was scanned; the next batch starts with item `index`.
fn flush(
    s: &mut Bytes,
    spans: &mut Vec<(usize, usize)>,
    start: &mut usize,
    first: &mut usize,
    index: usize,
    emit: &mut impl FnMut(Batch),
) -> Result<(), NotAList> {
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
}

/// What `kubectl get -o yaml` writes: a block mapping at column 0 whose `items` is a block
/// sequence (entries at column 0 or indented), the other keys scalars or indented blocks. An
/// entry ends where a line at its indentation or less starts; anything else — several
/// documents, flow style or quotes at the top, tabs — is not read here.
fn scan_yaml(
    mut s: Bytes,
    batch_bytes: usize,
    mut emit: impl FnMut(Batch),
) -> Result<(), NotAList> {
    // The document without its items, checked at the end.
    let mut rest = String::new();
    let mut items_seen = false;
    let mut line = s.line();
    while let Some((from, to)) = line {
        let text = &s.buf[from..to];
        let first = text.first().copied().unwrap_or(b'\n');
        if matches!(first, b'\n' | b'\r' | b'#') {
            line = s.line();
            continue;
        }
        let words = std::str::from_utf8(text).map_err(|_| NotAList)?;
        let Some((key, value)) = words.split_once(':') else {
            return Err(NotAList);
        };
        if !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') || key.is_empty() {
            return Err(NotAList);
        }
        if key == "items" {
            if items_seen || !value.trim().is_empty() {
                return Err(NotAList);
            }
            items_seen = true;
            line = yaml_items(&mut s, batch_bytes, &mut emit)?;
            continue;
        }
        rest.push_str(words);
        // The key's indented block, if any.
        loop {
            line = s.line();
            let Some((from, to)) = line else { break };
            if !matches!(s.buf.get(from), Some(b' ' | b'\n' | b'\r')) {
                break;
            }
            rest.push_str(std::str::from_utf8(&s.buf[from..to]).map_err(|_| NotAList)?);
        }
        if let Some((from, to)) = line {
            s.forget(from);
            line = Some((0, to - from));
        }
    }
    if !items_seen {
        return Err(NotAList);
    }
    let checked: super::checked::Checked =
        serde_saphyr::from_str_with_options(&rest, super::checked::yaml_options())
            .map_err(|_| NotAList)?;
    match checked
        .value
        .get("kind")
        .and_then(serde_json::Value::as_str)
    {
        Some(kind) if kind.ends_with("List") && checked.duplicates.is_empty() => Ok(()),
        _ => Err(NotAList),
    }
}

/// The entries of a top-level block sequence, after its `items:` line; returns the first line
/// after them (its range in `s.buf`).
fn yaml_items(
    s: &mut Bytes,
    batch_bytes: usize,
    emit: &mut impl FnMut(Batch),
) -> Result<Option<(usize, usize)>, NotAList> {
    let mut index = 0usize;
    let mut first = 0usize;
    let mut spans: Vec<(usize, usize)> = Vec::new();
    // Where the current batch starts in `s.buf`.
    let mut start: Option<usize> = None;
    // The indentation of the entries, known at the first one.
    let mut indent: Option<usize> = None;
    // The current entry: its start, and the end of its last line with content.
    let mut entry: Option<(usize, usize)> = None;
    let next = loop {
        let Some((from, to)) = s.line() else {
            break None;
        };
        let text = &s.buf[from..to];
        let spaces = text.iter().take_while(|&&b| b == b' ').count();
        let body = &text[spaces..];
        if body
            .first()
            .is_none_or(|b| matches!(b, b'\n' | b'\r' | b'#'))
        {
            // Blank lines and comments are read with the entry they are in.
            continue;
        }
        if body[0] == b'\t' {
            return Err(NotAList);
        }
        let dash = body[0] == b'-' && matches!(body.get(1), None | Some(b' ' | b'\n' | b'\r'));
        let level = *indent.get_or_insert(spaces);
        if dash && spaces == level {
            if let Some(e) = entry.take() {
                spans.push(e);
                index += 1;
            }
            match start {
                Some(st) if from - st >= batch_bytes => {
                    emit_batch(s, &spans, st, first, emit)?;
                    spans.clear();
                    first = index;
                    // Only the new entry's line is kept.
                    s.forget(from);
                    start = Some(0);
                    entry = Some((0, to - from));
                }
                Some(_) => entry = Some((from, to)),
                None => {
                    start = Some(from);
                    entry = Some((from, to));
                }
            }
            continue;
        }
        if spaces > level
            && let Some(e) = entry.as_mut()
        {
            e.1 = to;
            continue;
        }
        if spaces < level || (spaces == 0 && !dash) {
            break Some((from, to));
        }
        return Err(NotAList);
    };
    if let Some(e) = entry.take() {
        spans.push(e);
    }
    if let Some(st) = start
        && !spans.is_empty()
    {
        emit_batch(s, &spans, st, first, emit)?;
    }
    Ok(next)
}

/// Hands the entries in `spans` (ranges in `s.buf`, the batch starting at `start`) to `emit`.
fn emit_batch(
    s: &Bytes,
    spans: &[(usize, usize)],
    start: usize,
    first: usize,
    emit: &mut impl FnMut(Batch),
) -> Result<(), NotAList> {
    let end = spans.last().map_or(start, |x| x.1);
    let text = std::str::from_utf8(&s.buf[start..end])
        .map_err(|_| NotAList)?
        .to_string();
    emit(Batch {
        first,
        at: s.base + start,
        text,
        spans: spans.iter().map(|&(a, b)| (a - start, b - start)).collect(),
    });
    Ok(())
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
        inv
    }

    fn streamed(text: &str, threads: usize) -> Option<Inventory> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.json");
        std::fs::write(&path, text).unwrap();
        let none = HashSet::new();
        let file = std::fs::File::open(&path).unwrap();
        read_batched(file, "big.json", Format::Json, &none, threads, 300).map(inventory)
    }

    fn report(ns: &str, name: &str, outcome: &str, message: &str) -> serde_json::Value {
        json!({"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport",
               "metadata": {"name": name, "namespace": ns},
               "scope": {"kind": "Pod", "name": name, "namespace": ns},
               "results": [{"policy": "p", "rule": "r", "result": outcome, "message": message}]})
    }

    /// `n` reports in four namespaces (every third failing, each with its `message`), then
    /// copies of earlier objects far enough to be in later batches (one the same, one not), a
    /// report with a bad result, and a Namespace.
    fn reports(n: usize, message: impl Fn(usize) -> String) -> Vec<serde_json::Value> {
        let mut items: Vec<serde_json::Value> = (0..n)
            .map(|i| {
                report(
                    &format!("ns-{}", i % 4),
                    &format!("r{i}"),
                    if i % 3 == 0 { "fail" } else { "pass" },
                    &message(i),
                )
            })
            .collect();
        items.push(report("ns-1", "r1", "pass", &message(1)));
        items.push(report("ns-2", "r2", "fail", "changed"));
        items.push(report("ns-0", "bad", "fial", ""));
        items.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns-0"}}));
        items
    }

    #[test]
    fn batches_on_any_number_of_threads_read_as_the_whole_text() {
        let mut items = reports(40, |i| format!("m \"{i}\" \u{e9}"));
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
    fn a_block_yaml_list_reads_as_the_whole_document() {
        let mut items = reports(30, |i| format!("m: '{i}' # \u{e9}"));
        items.push(json!(null));
        let mut entries = String::new();
        for item in &items {
            let doc = serde_saphyr::to_string(item).unwrap();
            for (k, line) in doc.lines().enumerate() {
                entries.push_str(if k == 0 { "- " } else { "  " });
                entries.push_str(line);
                entries.push('\n');
            }
        }
        // A key given twice inside an entry, and a blank line and a comment between entries.
        entries.push_str("- apiVersion: v1\n  kind: Namespace\n  metadata:\n    name: ns-9\n    name: ns-8\n\n# done\n");
        let text = format!(
            "apiVersion: v1\nitems:\n{entries}kind: List\nmetadata:\n  resourceVersion: \"\"\n"
        );
        let mut whole = Inventory::default();
        super::super::load_text(&mut whole, "big.yaml", &text);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.yaml");
        std::fs::write(&path, &text).unwrap();
        let none = HashSet::new();
        for threads in [1, 2] {
            let file = std::fs::File::open(&path).unwrap();
            let inv = inventory(
                read_batched(file, "big.yaml", Format::Yaml, &none, threads, 300).unwrap(),
            );
            assert_eq!(inv.results, whole.results);
            assert_eq!(inv.findings, whole.findings);
            assert_eq!(inv.problems, whole.problems, "{threads} threads");
            assert_eq!(inv.objects, whole.objects);
            assert_eq!(inv.namespaces, whole.namespaces);
        }
        assert_eq!(whole.problems.len(), 4, "{:#?}", whole.problems);
        // Indented entries read the same.
        let indented: String = entries.lines().map(|l| format!("  {l}\n")).collect();
        let indented = text.replace(&entries, &indented);
        let file = {
            std::fs::write(&path, &indented).unwrap();
            std::fs::File::open(&path).unwrap()
        };
        let inv = inventory(read_batched(file, "big.yaml", Format::Yaml, &none, 2, 300).unwrap());
        assert_eq!(inv.results, whole.results);
        for bad in [
            format!("---\n{text}"),
            text.replace("kind: List", "kind: Thing"),
            text.replace("\n  kind: PolicyReport", "\n  kind: [PolicyReport"),
            text.replace("apiVersion: v1\nitems:", "items:\n- a\nitems:"),
            format!("{text}kind: List\n"),
            "items: []\nkind: List\n".to_string(),
        ] {
            std::fs::write(&path, &bad).unwrap();
            let file = std::fs::File::open(&path).unwrap();
            assert!(
                read_batched(file, "big.yaml", Format::Yaml, &none, 2, 300).is_none(),
                "{bad}"
            );
        }
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
