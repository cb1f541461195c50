//! The fast path for JSON files: reports are deserialised straight into compact summaries.
//!
//! What `kubectl get -o json` writes is a `List` whose items are mostly PolicyReports. A
//! structural scan finds each item's bytes without building values; a report item is then
//! deserialised into borrowed, typed fields (no `serde_json::Value`, no owned string per
//! result) and folded into per policy × namespace counters keyed by interned names. Anything
//! the fast path does not fully understand — another kind, a wrong type, a missing field, an
//! unknown outcome — goes through the precise path (`Value` + `ingest`) for that item only, so
//! the problems reported are exactly those of the precise reader. A syntax error anywhere in
//! the file makes the whole file take the precise path, which reports it as before.

use super::super::ingest::ingest;
use super::super::kyverno::valid_namespace_name;
use super::super::model::{
    FailingResource, Finding, Inventory, ResourceRef, ResultCounts, ResultKey, ResultSummary,
    SAMPLE_LIMIT, Warnings, push_sample,
};
use super::super::report::is_cluster_report;
use super::dedupe::{Dedupe, ObjectKey, Seen, content_hash, object_key};
use crate::model::ids::Engine;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

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
    index: HashMap<(Engine, u32, u32), u32>,
    pairs: Vec<((Engine, u32, u32), Compact)>,
}

const PASS: usize = 0;
const FAIL: usize = 1;
const WARN: usize = 2;
const ERROR: usize = 3;
const SKIP: usize = 4;

fn outcome_index(s: &str) -> Option<usize> {
    Some(match s {
        "pass" => PASS,
        "fail" => FAIL,
        "warn" => WARN,
        "error" => ERROR,
        "skip" => SKIP,
        _ => return None,
    })
}

impl Summaries {
    fn pair(&mut self, engine: Engine, policy: &str, namespace: Option<&str>) -> &mut Compact {
        let p = self.names.id(policy);
        let n = namespace.map_or(NONE, |n| self.names.id(n));
        self.pair_ids(engine, p, n)
    }

    fn pair_ids(&mut self, engine: Engine, p: u32, n: u32) -> &mut Compact {
        let next = self.pairs.len() as u32;
        let i = *self.index.entry((engine, p, n)).or_insert(next);
        if i == next {
            self.pairs.push(((engine, p, n), Compact::default()));
        }
        &mut self.pairs[i as usize].1
    }

    /// Adds a summary read by the precise path (same semantics as [`ResultSummary::absorb`]).
    pub(super) fn absorb(
        &mut self,
        engine: Engine,
        policy: &str,
        namespace: Option<&str>,
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
        let c = self.pair(engine, policy, namespace);
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
        for ((engine, p, n), c) in other.pairs {
            let n = if n == NONE { NONE } else { map[n as usize] };
            let mine = self.pair_ids(engine, map[p as usize], n);
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
            .map(|((engine, p, n), c)| {
                let key = (
                    engine,
                    names[p as usize].to_string(),
                    (n != NONE).then(|| names[n as usize].to_string()),
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
        for ((engine, policy, ns), s) in std::mem::take(&mut fragment.results) {
            self.summaries.absorb(engine, &policy, ns.as_deref(), &s);
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
pub(super) fn read_json(name: &str, text: &str, exclude: &HashSet<ObjectKey>) -> Option<Partial> {
    let items = list_items(text)?;
    let mut part = Partial::default();
    let mut dedupe = Dedupe::new(exclude);
    for (i, span) in items.into_iter().enumerate() {
        let item = &text[span.0..span.1];
        let origin = format!("{name} items[{i}]");
        let mut admitted = false;
        if let Ok(fast) = serde_json::from_str::<FastItem>(item) {
            let meta = fast.metadata.as_ref();
            let kind = s(&fast.kind).unwrap_or("");
            let (ns, obj_name) = (
                meta.and_then(|m| s(&m.namespace)),
                meta.and_then(|m| s(&m.name)),
            );
            let key = object_key(s(&fast.api_version).unwrap_or(""), kind, ns, obj_name);
            let place = match (ns, obj_name) {
                (Some(ns), Some(n)) => format!("{origin} ({kind} {ns}/{n})"),
                (None, Some(n)) => format!("{origin} ({kind} {n})"),
                _ => format!("{origin} ({kind})"),
            };
            if !dedupe.admit(
                key,
                || content_hash(item.as_bytes()),
                Some((name.to_string(), span.0, span.1)),
                &place,
                &mut part.inv.problems,
            ) {
                continue;
            }
            admitted = true;
            if fold_report(&fast, &mut part) {
                continue;
            }
        }
        // The precise path for this item; a syntax error sends the whole file there.
        let checked: super::checked::Checked = serde_json::from_str(item).ok()?;
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
    }
    part.seen = dedupe.seen;
    Some(part)
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

// ---------------------------------------------------------------------------------------------
// Typed, borrowed report fields

/// A string, borrowed from the file unless it has escapes.
struct Str<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

fn s<'b>(v: &'b Option<Str<'_>>) -> Option<&'b str> {
    v.as_ref().map(|s| &*s.0)
}

/// Labels or annotations: only checked to be what the precise reader accepts (a mapping of
/// strings, numbers or booleans); a report's are not kept.
struct CheckedMap;

impl<'de> Deserialize<'de> for CheckedMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Scalar;
        impl<'de> Deserialize<'de> for Scalar {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = Scalar;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str("a string, number or boolean")
                    }
                    fn visit_str<E: de::Error>(self, _: &str) -> Result<Scalar, E> {
                        Ok(Scalar)
                    }
                    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Scalar, E> {
                        Ok(Scalar)
                    }
                    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Scalar, E> {
                        Ok(Scalar)
                    }
                    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Scalar, E> {
                        Ok(Scalar)
                    }
                    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Scalar, E> {
                        Ok(Scalar)
                    }
                }
                d.deserialize_any(V)
            }
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CheckedMap;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CheckedMap, A::Error> {
                // A key given twice is the precise path's to report.
                let mut keys: Vec<String> = Vec::new();
                while let Some((k, _)) = map.next_entry::<String, Scalar>()? {
                    if keys.contains(&k) {
                        return Err(de::Error::custom("duplicate key"));
                    }
                    keys.push(k);
                }
                Ok(CheckedMap)
            }
        }
        d.deserialize_map(V)
    }
}

/// Every field is checked as the precise reader checks it; only the namespace is used.
#[derive(Deserialize)]
#[allow(dead_code)]
struct FastMeta<'a> {
    #[serde(borrow)]
    name: Option<Str<'a>>,
    #[serde(borrow)]
    namespace: Option<Str<'a>>,
    labels: Option<CheckedMap>,
    annotations: Option<CheckedMap>,
    #[serde(rename = "creationTimestamp", borrow)]
    created: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct FastSubject<'a> {
    #[serde(borrow)]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    name: Option<Str<'a>>,
    #[serde(borrow)]
    namespace: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct FastProperties<'a> {
    #[serde(borrow)]
    exceptions: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct FastResult<'a> {
    #[serde(borrow)]
    source: Option<Str<'a>>,
    #[serde(borrow)]
    policy: Option<Str<'a>>,
    #[serde(borrow)]
    result: Option<Str<'a>>,
    #[serde(borrow)]
    rule: Option<Str<'a>>,
    #[serde(borrow)]
    message: Option<Str<'a>>,
    #[serde(borrow)]
    resources: Option<Vec<FastSubject<'a>>>,
    #[serde(borrow)]
    properties: Option<FastProperties<'a>>,
}

#[derive(Deserialize)]
struct FastItem<'a> {
    #[serde(rename = "apiVersion", borrow)]
    api_version: Option<Str<'a>>,
    #[serde(borrow)]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    metadata: Option<FastMeta<'a>>,
    #[serde(borrow)]
    scope: Option<FastSubject<'a>>,
    #[serde(borrow)]
    results: Option<Vec<FastResult<'a>>>,
}

/// Folds a report read by the fast path; `false` (and nothing changed) when the item is not
/// a report or anything about it needs the precise path's judgement.
fn fold_report(item: &FastItem<'_>, part: &mut Partial) -> bool {
    let kind = s(&item.kind).unwrap_or("");
    let api_version = s(&item.api_version).unwrap_or("");
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let known = match (group, kind) {
        ("wgpolicyk8s.io", "PolicyReport" | "ClusterPolicyReport") => {
            matches!(version, "v1alpha2" | "v1beta1")
        }
        ("openreports.io", "Report" | "ClusterReport") => version == "v1alpha1",
        _ => false,
    };
    if !known {
        return false;
    }
    let cluster = is_cluster_report(kind);
    let meta_ns = item.metadata.as_ref().and_then(|m| s(&m.namespace));
    let scope = item.scope.as_ref();
    let scope_ns = scope.and_then(|sc| s(&sc.namespace));
    let namespace: Option<&str> = if cluster {
        scope
            .filter(|sc| s(&sc.kind) == Some("Namespace"))
            .and_then(|sc| s(&sc.name))
            .filter(|n| valid_namespace_name(n))
    } else {
        match meta_ns.or(scope_ns) {
            Some(ns) if valid_namespace_name(ns) => Some(ns),
            // Missing or invalid: the precise path reports it.
            _ => return false,
        }
    };
    let results = item.results.as_deref().unwrap_or(&[]);
    // Check every result first, so a report is folded entirely or not at all.
    for r in results {
        if r.policy.is_none()
            || r.result
                .as_ref()
                .and_then(|o| outcome_index(&o.0))
                .is_none()
        {
            return false;
        }
    }
    part.inv.objects += 1;
    let mut findings: Vec<(ResourceRef, Finding)> = Vec::new();
    for r in results {
        let policy = s(&r.policy).unwrap_or_default();
        let engine = Engine::from_report_source(s(&r.source));
        let outcome = outcome_index(s(&r.result).unwrap_or_default()).unwrap_or(PASS);
        let rule = s(&r.rule).filter(|x| !x.is_empty());
        let resource = r.resources.as_ref().and_then(|l| l.first()).or(scope);
        let res_ns = resource.and_then(|x| s(&x.namespace));
        let ns = match namespace {
            Some(ns) => Some(ns),
            None if cluster => res_ns.filter(|n| valid_namespace_name(n)),
            None => None,
        };
        let message = || s(&r.message).map(|m| m.trim().to_string());
        let res_name = resource.and_then(|x| s(&x.name)).unwrap_or("");
        let res_kind = resource.and_then(|x| s(&x.kind)).unwrap_or("");
        let excepted = r
            .properties
            .as_ref()
            .is_some_and(|p| p.exceptions.is_some());
        if (matches!(outcome, FAIL | WARN) || (outcome == SKIP && excepted)) && !res_name.is_empty()
        {
            let at = ResourceRef {
                namespace: res_ns.or(ns).unwrap_or("").to_string(),
                kind: res_kind.to_string(),
                name: res_name.to_string(),
            };
            findings.push((
                at,
                Finding {
                    engine,
                    policy: policy.to_string(),
                    rule: rule.map(str::to_string),
                    result: match outcome {
                        FAIL => "fail",
                        WARN => "warn",
                        _ => "skip",
                    }
                    .to_string(),
                    message: message(),
                },
            ));
        }
        let sums = &mut part.summaries;
        match outcome {
            FAIL => {
                let c_rule = sums.names.id(rule.unwrap_or(""));
                let c = sums.pair(engine, policy, ns);
                c.counts[FAIL] += 1;
                match c.fail_by_rule.iter_mut().find(|(x, _)| *x == c_rule) {
                    Some((_, k)) => *k += 1,
                    None => c.fail_by_rule.push((c_rule, 1)),
                }
                // Checked first: a full sample costs no allocation per result.
                if c.sample.len() < SAMPLE_LIMIT {
                    let failing = FailingResource {
                        kind: res_kind.to_string(),
                        name: res_name.to_string(),
                        rule: rule.map(str::to_string),
                        message: message(),
                    };
                    push_sample(&mut c.sample, failing);
                }
            }
            SKIP => {
                let c = sums.pair(engine, policy, ns);
                c.counts[SKIP] += 1;
                if excepted {
                    c.skipped_by_exception += 1;
                }
            }
            WARN => {
                let c_rule = sums.names.id(rule.unwrap_or(""));
                let c = sums.pair(engine, policy, ns);
                c.counts[WARN] += 1;
                let w = c.warnings.get_or_insert_with(Default::default);
                add_by_rule(&mut w.by_rule, c_rule, 1);
                if w.sample.len() < SAMPLE_LIMIT {
                    let warning = FailingResource {
                        kind: res_kind.to_string(),
                        name: res_name.to_string(),
                        rule: rule.map(str::to_string),
                        message: message(),
                    };
                    push_sample(&mut w.sample, warning);
                }
            }
            other => sums.pair(engine, policy, ns).counts[other] += 1,
        }
    }
    // Findings of one resource stay in order; a report usually names one resource.
    for (at, f) in findings {
        part.inv.findings.entry(at).or_default().push(f);
    }
    true
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
        let text = serde_json::to_string_pretty(&json!({"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}})).unwrap();
        let inv = same(&text);
        assert!(inv.problems.len() >= 5, "{:#?}", inv.problems);
        assert_eq!(
            inv.results[&(Engine::Kyverno, "p1".to_string(), Some("ns-a".to_string()))]
                .counts
                .fail,
            14
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
