//! The fast path for JSON files: report items are read straight from the file's bytes into
//! the inventory's summaries.
//!
//! What `kubectl get -o json` writes is a `List` whose items are mostly PolicyReports. A
//! structural scan finds each item's bytes without building values; a report item is then
//! deserialised into the one report reader's borrowed, lenient [`Report`] (no
//! `serde_json::Value`, no owned string per result) and folded by [`read_report`] — the same
//! code the `Value` path runs, so every problem is the one the precise reader gives — into per
//! policy × namespace counters keyed by shared names. Other kinds, and an item with a key
//! given twice, go through the `Value` path (`ingest`) for that item only. A syntax error
//! anywhere in the file makes the whole file take the precise path, which reports it as before.

use super::super::ingest::ingest;
use super::super::model::Inventory;
use super::super::report::{Loose, Report, is_known_report, read_report, results_problem};
use super::checked::yaml_options;
use super::dedupe::{Dedupe, ObjectKey, Raw, Seen, content_hash, object_key};
use crate::model::problem::Problem;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use std::collections::HashSet;

/// Deeper nesting than this is left to the precise path (serde_json's own limit is 128).
const MAX_DEPTH: usize = 100;

// ---------------------------------------------------------------------------------------------
// One file

/// What one file contributes (its report summaries still being filled in).
#[derive(Default)]
pub(super) struct Partial {
    pub inv: Inventory,
    /// Every object read, for leaving out copies read from other files.
    pub seen: Vec<Seen>,
}

impl Partial {
    /// Adds what the precise path read into `fragment`.
    pub(super) fn add_fragment(&mut self, fragment: Inventory) {
        absorb_owned(&mut self.inv, fragment);
    }
}

/// Moves everything `other` holds into `inv` (as [`Inventory::absorb`], without cloning);
/// the names it holds become the ones `inv` shares.
pub(super) fn absorb_owned(inv: &mut Inventory, other: Inventory) {
    inv.policies.extend(other.policies);
    inv.results.merge(other.results);
    if !other.findings.is_empty() {
        let names = inv.results.names();
        for (mut at, mut found) in other.findings {
            names.canon(&mut at.namespace);
            names.canon(&mut at.kind);
            names.canon(&mut at.name);
            for f in &mut found {
                f.canon(names);
            }
            inv.findings.entry(at).or_default().extend(found);
        }
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
            let error = match read_report(&r, kind, &mut part.inv) {
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
    use crate::model::ids::Engine;
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
        fast.results.seal();
        precise.results.seal();
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
            inv.results[&(Engine::Kyverno, "p1".into(), Some("ns-a".into()), None)]
                .counts()
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
        let ns = Some("ns-a");
        let keys: Vec<_> = inv.results.keys().collect();
        assert_eq!(
            keys,
            vec![
                (Engine::Kyverno, "p1", ns, None),
                (Engine::ValidatingAdmission, "vap", ns, None),
                (Engine::ValidatingAdmission, "vap", ns, Some("vap-b")),
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
