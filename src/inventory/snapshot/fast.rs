//! The fast path for JSON files: report items are read straight from the file's bytes into
//! compact summaries.
//!
//! What `kubectl get -o json` writes is a `List` whose items are mostly PolicyReports. A
//! structural scan finds each item's bytes without building values; a report item is then
//! deserialised into the one report reader's borrowed, lenient [`Report`] (no
//! `serde_json::Value`, no owned string per result) and folded by [`read_report`] — the same
//! code the `Value` path runs, so every problem is the one the precise reader gives — into per
//! policy × namespace counters keyed by interned names. Other kinds, and an item with a key
//! given twice, go through the `Value` path (`ingest`) for that item only. A syntax error
//! anywhere in the file makes the whole file take the precise path, which reports it as before.

use super::super::ingest::ingest;
use super::super::model::{
    FailingResource, Finding, Inventory, ResourceRef, ResultCounts, ResultKey, ResultSummary,
    Warnings, push_sample,
};
use super::super::report::{
    Fold, Folded, Loose, Outcome, Report, has_room, is_known_report, read_report, results_problem,
};
use super::checked::yaml_options;
use super::dedupe::{Dedupe, ObjectKey, Raw, Seen, content_hash, object_key};
use crate::model::ids::Engine;
use crate::model::problem::Problem;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Deeper nesting than this is left to the precise path (serde_json's own limit is 128).
const MAX_DEPTH: usize = 100;

// ---------------------------------------------------------------------------------------------
// Compact summaries

/// Interned strings: each distinct policy id, namespace or rule is stored once.
#[derive(Default)]
struct Interner {
    ids: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Interner {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(s.into());
        self.ids.insert(s.into(), id);
        id
    }
}

/// No namespace (a cluster-scoped result).
const NONE: u32 = u32::MAX;

/// One policy × namespace: what [`ResultSummary`] holds, without owned keys.
#[derive(Default)]
struct Compact {
    counts: [u64; 5],
    skipped_by_exception: u64,
    /// Rule id → failing results.
    fail_by_rule: Vec<(u32, u64)>,
    sample: Vec<FailingResource>,
    /// Rule id → warning results, and a sample (see `ResultSummary::warnings`); boxed, as
    /// most pairs have none.
    warnings: Option<Box<CompactWarnings>>,
}

#[derive(Default)]
struct CompactWarnings {
    by_rule: Vec<(u32, u64)>,
    sample: Vec<FailingResource>,
}

fn add_by_rule(by_rule: &mut Vec<(u32, u64)>, r: u32, n: u64) {
    match by_rule.iter_mut().find(|(x, _)| *x == r) {
        Some((_, m)) => *m += n,
        None => by_rule.push((r, n)),
    }
}

/// Report results folded per policy × namespace, in first-seen order.
#[derive(Default)]
pub(super) struct Summaries {
    names: Interner,
    /// Keyed by (engine, policy, namespace, binding), names as ids ([`NONE`]: absent).
    index: HashMap<(Engine, u32, u32, u32), u32>,
    pairs: Vec<((Engine, u32, u32, u32), Compact)>,
}

const PASS: usize = 0;
const FAIL: usize = 1;
const WARN: usize = 2;
const ERROR: usize = 3;
const SKIP: usize = 4;

impl Summaries {
    fn pair(
        &mut self,
        engine: Engine,
        policy: &str,
        namespace: Option<&str>,
        binding: Option<&str>,
    ) -> &mut Compact {
        let p = self.names.id(policy);
        let n = namespace.map_or(NONE, |n| self.names.id(n));
        let b = binding.map_or(NONE, |b| self.names.id(b));
        self.pair_ids((engine, p, n, b))
    }

    fn pair_ids(&mut self, key: (Engine, u32, u32, u32)) -> &mut Compact {
        let next = self.pairs.len() as u32;
        let i = *self.index.entry(key).or_insert(next);
        if i == next {
            self.pairs.push((key, Compact::default()));
        }
        &mut self.pairs[i as usize].1
    }

    /// Adds a summary read by the precise path (same semantics as [`ResultSummary::absorb`]).
    pub(super) fn absorb(
        &mut self,
        (engine, policy, namespace, binding): &ResultKey,
        s: &ResultSummary,
    ) {
        let rules: Vec<(u32, u64)> = s
            .fail_by_rule
            .iter()
            .map(|(r, n)| (self.names.id(r), *n))
            .collect();
        let warn_rules: Vec<(u32, u64)> = s
            .warnings
            .iter()
            .flat_map(|w| w.by_rule.iter())
            .map(|(r, n)| (self.names.id(r), *n))
            .collect();
        let c = self.pair(*engine, policy, namespace.as_deref(), binding.as_deref());
        if let Some(w) = &s.warnings {
            let mine = c.warnings.get_or_insert_with(Default::default);
            for (r, n) in warn_rules {
                add_by_rule(&mut mine.by_rule, r, n);
            }
            for r in &w.sample {
                push_sample(&mut mine.sample, r.clone());
            }
        }
        let b = &s.counts;
        for (i, n) in [b.pass, b.fail, b.warn, b.error, b.skip]
            .into_iter()
            .enumerate()
        {
            c.counts[i] += n;
        }
        c.skipped_by_exception += s.skipped_by_exception;
        for (r, n) in rules {
            match c.fail_by_rule.iter_mut().find(|(x, _)| *x == r) {
                Some((_, m)) => *m += n,
                None => c.fail_by_rule.push((r, n)),
            }
        }
        for r in &s.sample {
            push_sample(&mut c.sample, r.clone());
        }
    }

    /// Adds everything `other` holds, after what this one holds.
    pub(super) fn merge(&mut self, other: Summaries) {
        let names = other.names.names;
        let map: Vec<u32> = names.iter().map(|n| self.names.id(n)).collect();
        let id = |x: u32| if x == NONE { NONE } else { map[x as usize] };
        for ((engine, p, n, b), c) in other.pairs {
            let mine = self.pair_ids((engine, map[p as usize], id(n), id(b)));
            for i in 0..5 {
                mine.counts[i] += c.counts[i];
            }
            mine.skipped_by_exception += c.skipped_by_exception;
            for (r, k) in c.fail_by_rule {
                let r = map[r as usize];
                match mine.fail_by_rule.iter_mut().find(|(x, _)| *x == r) {
                    Some((_, m)) => *m += k,
                    None => mine.fail_by_rule.push((r, k)),
                }
            }
            for s in c.sample {
                push_sample(&mut mine.sample, s);
            }
            if let Some(w) = c.warnings {
                let to = mine.warnings.get_or_insert_with(Default::default);
                for (r, k) in w.by_rule {
                    add_by_rule(&mut to.by_rule, map[r as usize], k);
                }
                for s in w.sample {
                    push_sample(&mut to.sample, s);
                }
            }
        }
    }

    /// The summaries as the inventory holds them.
    pub(super) fn into_results(self) -> BTreeMap<ResultKey, ResultSummary> {
        let Summaries {
            names,
            pairs,
            index,
        } = self;
        drop(index);
        let names = names.names;
        pairs
            .into_iter()
            .map(|((engine, p, n, b), c)| {
                let key = (
                    engine,
                    names[p as usize].to_string(),
                    (n != NONE).then(|| names[n as usize].to_string()),
                    (b != NONE).then(|| names[b as usize].to_string()),
                );
                let mut sample = c.sample;
                sample.shrink_to_fit();
                let summary = ResultSummary {
                    counts: ResultCounts {
                        pass: c.counts[PASS],
                        fail: c.counts[FAIL],
                        warn: c.counts[WARN],
                        error: c.counts[ERROR],
                        skip: c.counts[SKIP],
                    },
                    fail_by_rule: c
                        .fail_by_rule
                        .into_iter()
                        .map(|(r, k)| (names[r as usize].to_string(), k))
                        .collect(),
                    skipped_by_exception: c.skipped_by_exception,
                    sample,
                    warnings: c.warnings.map(|w| {
                        Box::new(Warnings {
                            by_rule: w
                                .by_rule
                                .into_iter()
                                .map(|(r, k)| (names[r as usize].to_string(), k))
                                .collect(),
                            sample: w.sample,
                        })
                    }),
                };
                (key, summary)
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// One file

/// What one file contributes: everything but the report summaries in `inv`, the summaries in
/// `summaries`.
#[derive(Default)]
pub(super) struct Partial {
    pub inv: Inventory,
    pub summaries: Summaries,
    /// Every object read, for leaving out copies read from other files.
    pub seen: Vec<Seen>,
}

impl Partial {
    /// Adds what the precise path read into `fragment`.
    pub(super) fn add_fragment(&mut self, mut fragment: Inventory) {
        for (key, s) in std::mem::take(&mut fragment.results) {
            self.summaries.absorb(&key, &s);
        }
        absorb_owned(&mut self.inv, fragment);
    }
}

/// Moves everything `other` holds into `inv` (as [`Inventory::absorb`], without cloning).
pub(super) fn absorb_owned(inv: &mut Inventory, other: Inventory) {
    inv.policies.extend(other.policies);
    for (k, s) in other.results {
        inv.results.entry(k).or_default().absorb(&s);
    }
    for (k, f) in other.findings {
        inv.findings.entry(k).or_default().extend(f);
    }
    inv.exceptions.extend(other.exceptions);
    inv.namespaces.extend(other.namespaces);
    inv.templates.extend(other.templates);
    inv.admission_policies.extend(other.admission_policies);
    inv.bindings.extend(other.bindings);
    for (k, n) in other.skipped {
        *inv.skipped.entry(k).or_default() += n;
    }
    inv.objects += other.objects;
    inv.problems.extend(other.problems);
}

/// Reads one JSON file; `None` when it must take the precise path as a whole (not a `List`
/// object, or not valid JSON).
/// Reads one JSON file; `None` when it must take the precise path as a whole (not a `List`
/// object, or not valid JSON).
pub(super) fn read_json(name: &str, text: &str, exclude: &HashSet<ObjectKey>) -> Option<Partial> {
    let items = list_items(text)?;
    let mut part = Partial::default();
    let mut dedupe = Dedupe::new(exclude);
    for (i, span) in items.into_iter().enumerate() {
        read_item(
            name,
            Format::Json,
            i,
            &text[span.0..span.1],
            span.0,
            &mut dedupe,
            &mut part,
        )
        .ok()?;
    }
    part.seen = dedupe.seen;
    Some(part)
}

/// A syntax error in an item: the whole file takes the precise path.
pub(super) struct SyntaxError;

/// How the items of a large `List` are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    /// A JSON value.
    Json,
    /// A block-YAML sequence entry (`- apiVersion: …`), of the file's only document.
    Yaml,
}

impl Format {
    /// The item, read as `T`.
    fn parse<'de, T: Deserialize<'de>>(self, item: &'de str) -> Option<T> {
        match self {
            Format::Json => serde_json::from_str(item).ok(),
            Format::Yaml => serde_saphyr::from_str_with_options::<One<T>>(item, yaml_options())
                .ok()
                .map(|o| o.0),
        }
    }
}

/// The one entry of a YAML sequence.
struct One<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for One<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = One<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a sequence of one entry")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<One<T>, A::Error> {
                let first = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::custom("no entry"))?;
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom("more than one entry"));
                }
                Ok(One(first))
            }
        }
        d.deserialize_seq(V(std::marker::PhantomData))
    }
}

/// Reads item `i` of a `List` in file `name` (its text `item`, at byte `at` of the file) into
/// `part`. A report is deserialised straight from the text into [`Report`] and folded by the
/// one report reader; anything else, and an item with a key given twice, is read through a
/// `Value` and [`ingest`].
pub(super) fn read_item(
    name: &str,
    format: Format,
    i: usize,
    item: &str,
    at: usize,
    dedupe: &mut Dedupe<'_>,
    part: &mut Partial,
) -> Result<(), SyntaxError> {
    let origin = match format {
        Format::Json => format!("{name} items[{i}]"),
        Format::Yaml => format!("{name} doc 1 items[{i}]"),
    };
    let mut admitted = false;
    // Only a mapping is read as a report (`Loose`: anything else reads as nothing).
    if let Some(Loose(r)) = format.parse::<Loose<Report>>(item) {
        let meta = &r.metadata.0;
        let kind = r.kind.get();
        let api_version = r.api_version.get().unwrap_or("");
        let (ns, obj_name) = (meta.namespace.get(), meta.name.get());
        let key = object_key(api_version, kind.unwrap_or(""), ns, obj_name);
        let shown = kind.unwrap_or("object");
        let place = match (ns, obj_name) {
            (Some(ns), Some(n)) => format!("{origin} ({shown} {ns}/{n})"),
            (None, Some(n)) => format!("{origin} ({shown} {n})"),
            _ => format!("{origin} ({shown})"),
        };
        let raw = Raw {
            file: name.to_string(),
            from: at,
            to: at + item.len(),
            yaml: format == Format::Yaml,
        };
        if !dedupe.admit(
            key,
            || content_hash(item.as_bytes()),
            Some(raw),
            &place,
            &mut part.inv.problems,
        ) {
            return Ok(());
        }
        admitted = true;
        if let Some(kind) = kind.filter(|k| is_known_report(api_version, k)) {
            part.inv.objects += 1;
            let error = match read_report(&r, kind, part) {
                Ok(problems) => results_problem(&problems),
                Err(e) => Some(e),
            };
            if let Some(e) = error {
                part.inv
                    .problems
                    .push(Problem::error(place, e.field, e.message));
            }
            return Ok(());
        }
    }
    // Not a report, or a key given twice: through a `Value`.
    let checked: super::checked::Checked = format.parse(item).ok_or(SyntaxError)?;
    let value = checked.value;
    let mut fragment = Inventory::default();
    if !checked.duplicates.is_empty() {
        let place = super::super::ingest::describe(&origin, &value);
        for path in &checked.duplicates {
            fragment
                .problems
                .push(super::checked::duplicate_problem(&place, path));
        }
    }
    if admitted {
        ingest(&mut fragment, &value, &origin);
    } else {
        dedupe.ingest(&mut fragment, &value, &origin);
    }
    part.add_fragment(fragment);
    Ok(())
}

/// The compact summaries of one file take report results as the inventory's do.
impl Fold for Partial {
    fn result(&mut self, r: &Folded<'_>) {
        let sums = &mut self.summaries;
        match r.outcome {
            Outcome::Fail => {
                let rule = sums.names.id(r.rule.unwrap_or(""));
                let c = sums.pair(r.engine, r.policy, r.namespace, r.binding);
                c.counts[FAIL] += 1;
                add_by_rule(&mut c.fail_by_rule, rule, 1);
                if has_room(c.sample.len()) {
                    push_sample(&mut c.sample, r.sample());
                }
            }
            Outcome::Warn => {
                let rule = sums.names.id(r.rule.unwrap_or(""));
                let c = sums.pair(r.engine, r.policy, r.namespace, r.binding);
                c.counts[WARN] += 1;
                let w = c.warnings.get_or_insert_with(Default::default);
                add_by_rule(&mut w.by_rule, rule, 1);
                if has_room(w.sample.len()) {
                    push_sample(&mut w.sample, r.sample());
                }
            }
            Outcome::Skip => {
                let c = sums.pair(r.engine, r.policy, r.namespace, r.binding);
                c.counts[SKIP] += 1;
                if r.excepted {
                    c.skipped_by_exception += 1;
                }
            }
            Outcome::Pass => {
                sums.pair(r.engine, r.policy, r.namespace, r.binding).counts[PASS] += 1
            }
            Outcome::Error => {
                sums.pair(r.engine, r.policy, r.namespace, r.binding).counts[ERROR] += 1
            }
        }
    }

    fn finding(&mut self, at: ResourceRef, finding: Finding) {
        self.inv.findings.entry(at).or_default().push(finding);
    }
}

// ---------------------------------------------------------------------------------------------
// The structural scan

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scan<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\n' | b'\r' | b'\t') {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// A string starting at the current `"`; returns its raw contents and whether it has escapes.
    fn string(&mut self) -> Option<(usize, usize, bool)> {
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.i + 1;
        let mut j = start;
        let mut escaped = false;
        loop {
            match *self.b.get(j)? {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    j += 2;
                }
                _ => j += 1,
            }
        }
        self.i = j + 1;
        Some((start, j, escaped))
    }

    /// Skips one value; its syntax is checked later by serde.
    fn value(&mut self, depth: usize) -> Option<()> {
        self.ws();
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b'{' | b'[' => {
                let mut level = 0usize;
                loop {
                    match *self.b.get(self.i)? {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => {
                            level += 1;
                            if depth + level > MAX_DEPTH {
                                return None;
                            }
                        }
                        b'}' | b']' => {
                            level -= 1;
                            if level == 0 {
                                self.i += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
            }
            _ => {
                while self.i < self.b.len()
                    && !matches!(
                        self.b[self.i],
                        b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'
                    )
                {
                    self.i += 1;
                }
                Some(())
            }
        }
    }
}

/// The byte ranges of the items of a top-level `{"kind": "...List", "items": [...]}`, or `None`
/// when the text is anything else (left to the precise path).
fn list_items(text: &str) -> Option<Vec<(usize, usize)>> {
    let mut s = Scan {
        b: text.as_bytes(),
        i: 0,
    };
    s.eat(b'{')?;
    let mut items = None;
    let mut kind = None;
    let mut others = Vec::new();
    s.ws();
    if s.peek()? == b'}' {
        return None;
    }
    loop {
        s.ws();
        let (ks, ke, escaped) = s.string()?;
        if escaped {
            return None;
        }
        let key = &text[ks..ke];
        s.eat(b':')?;
        s.ws();
        let start = s.i;
        if key == "items" {
            if items.is_some() || s.peek()? != b'[' {
                return None;
            }
            s.i += 1;
            let mut list = Vec::new();
            s.ws();
            if s.peek()? == b']' {
                s.i += 1;
            } else {
                loop {
                    s.ws();
                    let from = s.i;
                    s.value(2)?;
                    list.push((from, s.i));
                    s.ws();
                    match s.peek()? {
                        b',' => s.i += 1,
                        b']' => {
                            s.i += 1;
                            break;
                        }
                        _ => return None,
                    }
                }
            }
            items = Some(list);
        } else {
            s.value(1)?;
            let span = &text[start..s.i];
            if key == "kind" {
                if kind.is_some() {
                    return None;
                }
                kind = Some(span);
            } else {
                others.push(span);
            }
        }
        s.ws();
        match s.peek()? {
            b',' => s.i += 1,
            b'}' => {
                s.i += 1;
                break;
            }
            _ => return None,
        }
    }
    s.ws();
    if s.i != s.b.len() {
        return None;
    }
    // Only a list by `kind`; everything outside the items must still be valid JSON.
    let kind: String = serde_json::from_str(kind?).ok()?;
    if !kind.ends_with("List") {
        return None;
    }
    for span in others {
        serde_json::from_str::<IgnoredAny>(span).ok()?;
    }
    items
}

#[cfg(test)]
mod tests {
    use super::super::{load_text, load_text_precise};
    use super::*;
    use serde_json::Value;
    use serde_json::json;

    fn result(policy: &str, rule: &str, outcome: &str) -> Value {
        json!({"policy": policy, "rule": rule, "result": outcome, "message": format!(" {policy} {outcome} "),
               "scored": true, "source": "kyverno", "timestamp": {"seconds": 1, "nanos": 0},
               "properties": {"process": "background scan"}})
    }

    fn report(ns: &str, name: &str, results: Vec<Value>) -> Value {
        json!({"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport",
               "metadata": {"name": name, "namespace": ns, "labels": {"a": "b", "n": 1}},
               "scope": {"apiVersion": "v1", "kind": "Pod", "name": name, "namespace": ns},
               "results": results, "summary": {"pass": 1}})
    }

    /// Reads `text` both ways and checks they agree on everything.
    fn same(text: &str) -> Inventory {
        let mut fast = Inventory::default();
        load_text(&mut fast, "x.json", text);
        let mut precise = Inventory::default();
        let none = HashSet::new();
        load_text_precise(
            &mut precise,
            "x.json",
            text,
            &mut super::super::dedupe::Dedupe::new(&none),
        );
        assert_eq!(fast.results, precise.results);
        assert_eq!(fast.findings, precise.findings);
        assert_eq!(fast.problems, precise.problems);
        assert_eq!(fast.objects, precise.objects);
        assert_eq!(fast.skipped, precise.skipped);
        assert_eq!(fast.namespaces, precise.namespaces);
        assert_eq!(fast.policies, precise.policies);
        fast
    }

    #[test]
    fn fast_path_agrees_with_the_precise_reader() {
        let mut skip = result("p1", "r1", "skip");
        skip["properties"]["exceptions"] = json!("ex-1");
        let mut listed = result("p2", "r", "fail");
        listed["resources"] = json!([{"kind": "Deployment", "name": "d", "namespace": "other"}]);
        let mut escaped = result("p1", "r2", "fail");
        escaped["message"] = json!("a \"quoted\" <tag> & \u{e9}");
        let mut bad_type = report("ns-a", "bad-type", vec![result("p1", "r1", "pass")]);
        bad_type["results"][0]["policy"] = json!(7);
        let mut bad_props = report("ns-a", "bad-props", vec![result("p1", "r1", "skip")]);
        bad_props["results"][0]["properties"] = json!({"exceptions": ["x"]});
        let mut bad_labels = report("ns-a", "bad-labels", vec![result("p1", "r1", "pass")]);
        bad_labels["metadata"]["labels"] = json!({"a": null});
        let mut bad_label_order = report("ns-a", "bad-order", vec![result("p1", "r1", "pass")]);
        bad_label_order["metadata"]["labels"] = json!({"z": [1], "b": {"x": 1}, "a": "fine"});
        let mut bad_results = report("ns-a", "bad-results", vec![]);
        bad_results["results"] = json!({"policy": "p1"});
        let mut bad_scope = report("ns-a", "bad-scope", vec![result("p1", "r1", "fail")]);
        bad_scope["scope"]["kind"] = json!(["Pod"]);
        let mut bad_resource = result("p1", "r1", "fail");
        bad_resource["resources"] = json!([{"kind": "Pod", "name": false}]);
        let mut not_a_map = report("ns-a", "not-a-map", vec![result("p1", "r1", "fail")]);
        not_a_map["results"] = json!(["fail", null, result("p1", "r1", "fail")]);
        not_a_map["scope"] = json!("Pod");
        let bad_types = vec![
            bad_label_order,
            bad_results,
            bad_scope,
            report(
                "ns-a",
                "bad-resource",
                vec![bad_resource, result("p1", "r1", "pass")],
            ),
            not_a_map,
        ];
        let cluster = json!({"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "ClusterPolicyReport",
            "metadata": {"name": "c"}, "scope": {"kind": "Namespace", "name": "ns-b"},
            "results": [result("p3", "", "fail"), result("p3", "r", "pass")]});
        let mut cluster_items = json!({"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "ClusterPolicyReport",
            "metadata": {"name": "c2"}, "results": [result("p4", "r", "fail"), result("p4", "r", "warn")]});
        cluster_items["results"][0]["resources"] = json!([{"kind": "Node", "name": "n1"}]);
        cluster_items["results"][1]["resources"] =
            json!([{"kind": "Pod", "name": "x", "namespace": "ns-c"}]);
        let items = json!([
            report("ns-a", "one", vec![result("p1", "r1", "pass"), result("p1", "r1", "fail"),
                result("p1", "r2", "fail"), result("p2", "r", "warn"), result("p2", "r", "error"), skip, listed, escaped]),
            report("ns-a", "two", vec![result("p1", "r1", "fail"), result("p1", "r1", "fail")]),
            report("Not_A_Namespace", "three", vec![result("p1", "r1", "pass")]),
            report("ns-a", "four", vec![result("p1", "r1", "maybe"), result("p1", "r1", "fail")]),
            bad_type, bad_props, bad_labels, cluster, cluster_items,
            {"apiVersion": "wgpolicyk8s.io/v9", "kind": "PolicyReport", "metadata": {"name": "v", "namespace": "ns-a"}},
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns-a", "annotations": {"forewarn.dev/owner": "t"}}},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "ns-a"}},
            {"apiVersion": "v1", "kind": "List", "items": [report("ns-d", "nested", vec![result("p1", "r1", "fail")])]},
            5,
            report("ns-a", "five", (0..8).map(|i| { let mut r = result("p1", "r1", "fail"); r["message"] = json!(format!("m{i}")); r }).collect()),
        ]);
        let mut items = items;
        items.as_array_mut().unwrap().extend(bad_types);
        let text = serde_json::to_string_pretty(&json!({"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}})).unwrap();
        let inv = same(&text);
        assert!(inv.problems.len() >= 10, "{:#?}", inv.problems);
        let said = |field: &str| {
            // The last such problem: these reports come last.
            inv.problems
                .iter()
                .rev()
                .find(|p| p.field == field)
                .map(|p| p.message.clone())
                .unwrap_or_default()
        };
        assert_eq!(
            said("metadata.labels.b"),
            "expected a string, found a mapping"
        );
        assert_eq!(said("results"), "expected a list, found a mapping");
        assert_eq!(said("scope.kind"), "expected a string, found a list");
        assert_eq!(
            said("results[0].resources[0].name"),
            "expected a string, found a boolean (this result was skipped)"
        );
        assert_eq!(
            said("results[0].policy"),
            "missing (2 results with problems were skipped)"
        );
        assert_eq!(
            inv.results[&(
                Engine::Kyverno,
                "p1".to_string(),
                Some("ns-a".to_string()),
                None
            )]
                .counts
                .fail,
            15
        );
        // Duplicate keys, a List without kind first, a single object: all agree too.
        same(r#"{"items": [], "kind": "List", "items": []}"#);
        same(
            &serde_json::to_string(&report("ns-a", "single", vec![result("p1", "r1", "fail")]))
                .unwrap(),
        );
        same(
            r#"{"kind": "PolicyReportList", "apiVersion": "wgpolicyk8s.io/v1alpha2", "items": [{"kind": "PolicyReport"}]}"#,
        );
    }

    #[test]
    fn a_vap_result_keeps_the_binding_it_names_on_both_paths() {
        // kyverno pkg/utils/report/results.go: `properties.binding` on VAP results only.
        let vap = |binding: Option<&str>| {
            let mut r = result("vap", "vap", "fail");
            r["source"] = json!("ValidatingAdmissionPolicy");
            r["properties"] = json!({"binding": binding, "process": "background scan"});
            r
        };
        let mut kyverno = result("p1", "r1", "fail");
        kyverno["properties"] = json!({"binding": "not-a-vap"});
        let results = vec![vap(Some("vap-b")), vap(None), kyverno];
        let text = serde_json::to_string(&report("ns-a", "one", results)).unwrap();
        let inv = same(&text);
        let ns = Some("ns-a".to_string());
        let keys: Vec<_> = inv.results.keys().cloned().collect();
        assert_eq!(
            keys,
            vec![
                (Engine::Kyverno, "p1".to_string(), ns.clone(), None),
                (
                    Engine::ValidatingAdmission,
                    "vap".to_string(),
                    ns.clone(),
                    None
                ),
                (
                    Engine::ValidatingAdmission,
                    "vap".to_string(),
                    ns,
                    Some("vap-b".to_string())
                ),
            ]
        );
    }

    #[test]
    fn a_syntax_error_anywhere_is_one_problem_for_the_file() {
        let good = serde_json::to_string(&report("ns-a", "one", vec![result("p1", "r1", "fail")]))
            .unwrap();
        for text in [
            format!(r#"{{"kind": "List", "items": [{good}, {{"kind": tru}}]}}"#),
            format!(r#"{{"kind": "List", "items": [{good}], "metadata": {{"a": 01}}}}"#),
            format!(r#"{{"kind": "List", "items": [{good}]}} trailing"#),
            format!(r#"{{"kind": "List", "items": [{good}"#),
            String::new(),
        ] {
            let inv = same(&text);
            assert_eq!(inv.problems.len(), 1, "{text}");
            assert!(
                inv.problems[0].message.starts_with("invalid JSON"),
                "{text}"
            );
            assert!(inv.results.is_empty());
        }
    }
}
