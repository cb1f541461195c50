//! The one policy-report reader: how a report's results fold into per policy × namespace
//! summaries, whatever the report was parsed from.
//!
//! Reads `wgpolicyk8s.io` PolicyReport / ClusterPolicyReport and `openreports.io` Report /
//! ClusterReport. A report is deserialised into [`Report`], borrowed and lenient: every field it
//! uses keeps what it found (a string, absent, or the wrong type), and everything else is
//! skipped, so deserialising never fails on the shape of a report — only on syntax or a key
//! given twice, which the caller hands to the `Value` path. The same [`Report`] is read from a
//! `serde_json::Value` (a YAML document, the live watch) and straight from the bytes of a JSON
//! file (the snapshot's fast path), and [`read_report`] folds it the same way into the
//! inventory's results store and findings: the checks, their order and their messages are
//! written once, and every string kept is a shared name. Only counts and a
//! bounded sample of failing resources are kept; the report itself is dropped, so memory grows
//! with policies × namespaces, never with results. It must never panic on any input.

use super::fields::FieldError;
use super::kyverno::valid_namespace_name;
use super::model::{FailingResource, Finding, Inventory, ResourceRef, ResultCounts};
use crate::model::ids::Engine;
use crate::model::name::Names;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// Whether a report kind is cluster-scoped.
pub fn is_cluster_report(kind: &str) -> bool {
    matches!(kind, "ClusterPolicyReport" | "ClusterReport")
}

/// Whether `api_version` and `kind` name a report kind and version forewarn reads.
pub fn is_known_report(api_version: &str, kind: &str) -> bool {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    match (group, kind) {
        ("wgpolicyk8s.io", "PolicyReport" | "ClusterPolicyReport") => {
            matches!(version, "v1alpha2" | "v1beta1")
        }
        ("openreports.io", "Report" | "ClusterReport") => version == "v1alpha1",
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Lenient, borrowed fields

/// A string field: absent (or null), a string borrowed from the input when it can be, or
/// another type (named for the error).
#[derive(Debug, Default)]
pub enum Text<'a> {
    #[default]
    Absent,
    Str(Cow<'a, str>),
    Wrong(&'static str),
}

impl Text<'_> {
    pub fn get(&self) -> Option<&str> {
        match self {
            Text::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The string, `None` when absent; an error naming `field` when it is another type.
    fn read(&self, field: impl FnOnce() -> String) -> Result<Option<&str>, FieldError> {
        match self {
            Text::Absent => Ok(None),
            Text::Str(s) => Ok(Some(s)),
            Text::Wrong(what) => Err(FieldError::new(
                field(),
                format!("expected a string, found {what}"),
            )),
        }
    }

    /// Like [`Text::read`], and absent is "missing".
    fn required(&self, field: impl Fn() -> String) -> Result<&str, FieldError> {
        self.read(&field)?
            .ok_or_else(|| FieldError::new(field(), "missing"))
    }
}

/// Visits any value and names its type; strings are kept by the caller's visitor.
macro_rules! other_types {
    ($out:ty, $wrong:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<$out, E> {
            Ok($wrong("a boolean"))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<$out, E> {
            Ok($wrong("a number"))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<$out, E> {
            Ok($wrong("a number"))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<$out, E> {
            Ok($wrong("a number"))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<$out, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($wrong("a list"))
        }
    };
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text::Str(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text::Str(Cow::Owned(v)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Text<'de>, E> {
                Ok(Text::Absent)
            }
            fn visit_none<E: de::Error>(self) -> Result<Text<'de>, E> {
                Ok(Text::Absent)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Text<'de>, D::Error> {
                Text::deserialize(d)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text::Wrong("a mapping"))
            }
            other_types!(Text<'de>, Text::Wrong);
        }
        d.deserialize_any(V)
    }
}

/// A list field: absent (or null), its items, or another type (named for the error).
#[derive(Debug, Default)]
pub enum List<T> {
    #[default]
    Absent,
    Items(Vec<T>),
    Wrong(&'static str),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List<T>, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(List::Items(items))
            }
            fn visit_unit<E: de::Error>(self) -> Result<List<T>, E> {
                Ok(List::Absent)
            }
            fn visit_none<E: de::Error>(self) -> Result<List<T>, E> {
                Ok(List::Absent)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<List<T>, D::Error> {
                List::deserialize(d)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<List<T>, E> {
                Ok(List::Wrong("a string"))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<List<T>, E> {
                Ok(List::Wrong("a boolean"))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<List<T>, E> {
                Ok(List::Wrong("a number"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<List<T>, E> {
                Ok(List::Wrong("a number"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<List<T>, E> {
                Ok(List::Wrong("a number"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<List<T>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(List::Wrong("a mapping"))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<T> List<T> {
    fn read(&self, field: &str) -> Result<&[T], FieldError> {
        match self {
            List::Absent => Ok(&[]),
            List::Items(items) => Ok(items),
            List::Wrong(what) => Err(FieldError::new(
                field,
                format!("expected a list, found {what}"),
            )),
        }
    }
}

/// A mapping read into `T`; any other value (a string where a mapping belongs) reads as an
/// empty `T`, as field lookups on a non-mapping find nothing.
#[derive(Debug, Default)]
pub struct Loose<T>(pub T);

impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for Loose<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de> + Default> Visitor<'de> for V<T> {
            type Value = Loose<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Loose<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Loose)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Loose<T>, E> {
                Ok(Loose(T::default()))
            }
            fn visit_none<E: de::Error>(self) -> Result<Loose<T>, E> {
                Ok(Loose(T::default()))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Loose<T>, D::Error> {
                Loose::deserialize(d)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Loose<T>, E> {
                Ok(Loose(T::default()))
            }
            other_types!(Loose<T>, |_| Loose(T::default()));
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// Labels or annotations: only checked to be what the inventory accepts elsewhere (a mapping of
/// strings, numbers or booleans); a report's are not kept. A key given twice is an error, for
/// the `Value` path to report as a duplicate.
#[derive(Debug, Default)]
pub enum StringMap {
    #[default]
    Fine,
    /// Not a mapping.
    Wrong(&'static str),
    /// The first key (in sorted order, as the `Value` path walks it) whose value is not a
    /// string, number or boolean.
    BadValue(String, &'static str),
}

impl<'de> Deserialize<'de> for StringMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// A label value's type: `None` for a scalar.
        struct Scalar(Option<&'static str>);
        impl<'de> Deserialize<'de> for Scalar {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = Scalar;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str("any value")
                    }
                    fn visit_str<E: de::Error>(self, _: &str) -> Result<Scalar, E> {
                        Ok(Scalar(None))
                    }
                    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Scalar, E> {
                        Ok(Scalar(None))
                    }
                    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Scalar, E> {
                        Ok(Scalar(None))
                    }
                    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Scalar, E> {
                        Ok(Scalar(None))
                    }
                    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Scalar, E> {
                        Ok(Scalar(None))
                    }
                    fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
                        Ok(Scalar(Some("null")))
                    }
                    fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
                        Ok(Scalar(Some("null")))
                    }
                    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
                        while seq.next_element::<IgnoredAny>()?.is_some() {}
                        Ok(Scalar(Some("a list")))
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
                        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                        Ok(Scalar(Some("a mapping")))
                    }
                }
                d.deserialize_any(V)
            }
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StringMap;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StringMap, A::Error> {
                let mut keys: Vec<Text<'de>> = Vec::new();
                let mut bad: Option<(String, &'static str)> = None;
                while let Some(k) = map.next_key::<Text<'de>>()? {
                    let Scalar(wrong) = map.next_value()?;
                    let key = k.get().unwrap_or_default();
                    if keys.iter().any(|x| x.get() == Some(key)) {
                        return Err(de::Error::custom("duplicate key"));
                    }
                    if let Some(what) = wrong
                        && bad.as_ref().is_none_or(|(b, _)| key < b.as_str())
                    {
                        bad = Some((key.to_string(), what));
                    }
                    keys.push(k);
                }
                Ok(match bad {
                    Some((k, what)) => StringMap::BadValue(k, what),
                    None => StringMap::Fine,
                })
            }
            fn visit_unit<E: de::Error>(self) -> Result<StringMap, E> {
                Ok(StringMap::Fine)
            }
            fn visit_none<E: de::Error>(self) -> Result<StringMap, E> {
                Ok(StringMap::Fine)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<StringMap, D::Error> {
                StringMap::deserialize(d)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<StringMap, E> {
                Ok(StringMap::Wrong("a string"))
            }
            other_types!(StringMap, StringMap::Wrong);
        }
        d.deserialize_any(V)
    }
}

impl StringMap {
    fn check(&self, field: &str) -> Result<(), FieldError> {
        match self {
            StringMap::Fine => Ok(()),
            StringMap::Wrong(what) => Err(FieldError::new(
                field,
                format!("expected a mapping, found {what}"),
            )),
            StringMap::BadValue(k, what) => Err(FieldError::new(
                format!("{field}.{k}"),
                format!("expected a string, found {what}"),
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A report, as read

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Meta<'a> {
    #[serde(borrow)]
    pub name: Text<'a>,
    #[serde(borrow)]
    pub namespace: Text<'a>,
    pub labels: StringMap,
    pub annotations: StringMap,
    #[serde(rename = "creationTimestamp", borrow)]
    pub created: Text<'a>,
}

impl Meta<'_> {
    /// Checks every field as every object's metadata is checked (`kyverno::read_meta`).
    fn check(&self) -> Result<(), FieldError> {
        self.name.read(|| "metadata.name".into())?;
        self.namespace.read(|| "metadata.namespace".into())?;
        self.labels.check("metadata.labels")?;
        self.annotations.check("metadata.annotations")?;
        self.created.read(|| "metadata.creationTimestamp".into())?;
        Ok(())
    }
}

/// A report's `scope`, or one of a result's `resources`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Subject<'a> {
    #[serde(borrow)]
    pub kind: Text<'a>,
    #[serde(borrow)]
    pub name: Text<'a>,
    #[serde(borrow)]
    pub namespace: Text<'a>,
}

/// A subject whose fields are checked.
struct Checked<'r> {
    kind: &'r str,
    name: &'r str,
    namespace: Option<&'r str>,
}

impl<'a> Subject<'a> {
    fn check(&self, base: &str) -> Result<Checked<'_>, FieldError> {
        Ok(Checked {
            kind: self.kind.read(|| format!("{base}.kind"))?.unwrap_or(""),
            name: self.name.read(|| format!("{base}.name"))?.unwrap_or(""),
            namespace: self.namespace.read(|| format!("{base}.namespace"))?,
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Properties<'a> {
    #[serde(borrow)]
    pub exceptions: Text<'a>,
    /// The ValidatingAdmissionPolicyBinding a VAP result is about (kyverno
    /// `pkg/utils/report/results.go`, `addProperty("binding", …)`).
    #[serde(borrow)]
    pub binding: Text<'a>,
}

/// One entry of `results`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReportResult<'a> {
    #[serde(borrow)]
    pub policy: Text<'a>,
    #[serde(borrow)]
    pub source: Text<'a>,
    #[serde(borrow)]
    pub result: Text<'a>,
    #[serde(borrow)]
    pub rule: Text<'a>,
    #[serde(borrow)]
    pub message: Text<'a>,
    #[serde(borrow)]
    pub resources: List<Loose<Subject<'a>>>,
    #[serde(borrow)]
    pub properties: Option<Loose<Properties<'a>>>,
}

/// Any Kubernetes object, with what a report is read from: `apiVersion`, `kind` and
/// `metadata` for every object, `scope` and `results` for a report.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Report<'a> {
    #[serde(rename = "apiVersion", borrow)]
    pub api_version: Text<'a>,
    #[serde(borrow)]
    pub kind: Text<'a>,
    #[serde(borrow)]
    pub metadata: Loose<Meta<'a>>,
    #[serde(borrow)]
    pub scope: Option<Loose<Subject<'a>>>,
    #[serde(borrow)]
    pub results: List<Loose<ReportResult<'a>>>,
}

impl Report<'_> {
    /// Reads a report from a parsed value (a YAML document, an object from the watch).
    pub fn from_value(value: &serde_json::Value) -> Result<Report<'_>, FieldError> {
        Report::deserialize(value).map_err(|e| FieldError::new("", e.to_string()))
    }
}

// ---------------------------------------------------------------------------------------------
// Folding

/// A report result's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    Warn,
    Error,
    Skip,
}

impl Outcome {
    fn parse(s: &str) -> Option<Outcome> {
        Some(match s {
            "pass" => Outcome::Pass,
            "fail" => Outcome::Fail,
            "warn" => Outcome::Warn,
            "error" => Outcome::Error,
            "skip" => Outcome::Skip,
            _ => return None,
        })
    }

    fn word(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Warn => "warn",
            Outcome::Error => "error",
            Outcome::Skip => "skip",
        }
    }
}

/// One result, as it is folded.
pub struct Folded<'r> {
    pub engine: Engine,
    pub policy: &'r str,
    /// The binding a ValidatingAdmissionPolicy result names (`None` for other engines, and
    /// when the report names none, as older Kyverno's do).
    pub binding: Option<&'r str>,
    /// Where the result belongs (`None`: cluster-scoped).
    pub namespace: Option<&'r str>,
    pub outcome: Outcome,
    /// The rule, `None` when the result names none.
    pub rule: Option<&'r str>,
    /// A `skip` that names the exception that skipped it.
    pub excepted: bool,
    pub kind: &'r str,
    pub name: &'r str,
    message: Option<&'r str>,
}

impl Folded<'_> {
    /// The failing (or warning) resource, for a sample.
    pub fn sample(&self, names: &mut Names) -> FailingResource {
        FailingResource {
            kind: names.intern(self.kind),
            name: names.intern(self.name),
            rule: self.rule.map(|r| names.intern(r)),
            message: self.message.map(|m| names.intern(m.trim())),
        }
    }
}

/// Counts with one outcome set.
fn one(set: impl FnOnce(&mut ResultCounts)) -> ResultCounts {
    let mut c = ResultCounts::default();
    set(&mut c);
    c
}

/// Counts one result into `inv`'s summaries.
fn count(inv: &mut Inventory, r: &Folded<'_>) {
    let (s, names) = inv
        .results
        .summary_and_names(r.engine, r.policy, r.namespace, r.binding);
    match r.outcome {
        Outcome::Pass => s.add_counts(&one(|c| c.pass = 1), 0),
        Outcome::Error => s.add_counts(&one(|c| c.error = 1), 0),
        Outcome::Skip => s.add_counts(&one(|c| c.skip = 1), u64::from(r.excepted)),
        Outcome::Fail => {
            let rule = names.intern(r.rule.unwrap_or(""));
            let sample = s.sample_has_room().then(|| r.sample(names));
            s.add_failure(rule, sample);
        }
        Outcome::Warn => {
            let rule = names.intern(r.rule.unwrap_or(""));
            let sample = s.warnings_have_room().then(|| r.sample(names));
            s.add_warning(rule, sample);
        }
    }
}

/// Adds the results of one report of `kind` to `sink`. Returns the problems with single
/// results (those results are skipped, the others counted) or one error when the report as a
/// whole cannot be placed (and nothing of it is counted).
pub fn read_report(
    report: &Report<'_>,
    kind: &str,
    inv: &mut Inventory,
) -> Result<Vec<FieldError>, FieldError> {
    report.metadata.0.check()?;
    let scope = match &report.scope {
        Some(s) => Some(s.0.check("scope")?),
        None => None,
    };
    let cluster = is_cluster_report(kind);
    // Where the results belong. A namespaced report lives in its namespace; a cluster report
    // about a Namespace object belongs to that namespace's owner; other cluster results are
    // cluster-scoped.
    let namespace: Option<&str> = if cluster {
        scope
            .as_ref()
            .filter(|s| s.kind == "Namespace" && valid_namespace_name(s.name))
            .map(|s| s.name)
    } else {
        let (ns, field) = match (
            report.metadata.0.namespace.get(),
            scope.as_ref().and_then(|s| s.namespace),
        ) {
            (Some(ns), _) => (ns, "metadata.namespace"),
            (None, Some(ns)) => (ns, "scope.namespace"),
            (None, None) => {
                return Err(FieldError::new(
                    "metadata.namespace",
                    format!(
                        "missing: a {kind} is namespaced (a test assertion fragment, not a whole object?)"
                    ),
                ));
            }
        };
        if !valid_namespace_name(ns) {
            return Err(FieldError::new(
                field,
                format!(
                    "'{ns}' is not a namespace name (a test assertion fragment, not a whole object?)"
                ),
            ));
        }
        Some(ns)
    };

    let mut problems = Vec::new();
    for (i, r) in report.results.read("results")?.iter().enumerate() {
        if let Err(e) = read_result(&r.0, i, namespace, cluster, scope.as_ref(), inv) {
            problems.push(e);
        }
    }
    Ok(problems)
}

fn read_result(
    r: &ReportResult<'_>,
    i: usize,
    report_namespace: Option<&str>,
    cluster: bool,
    scope: Option<&Checked<'_>>,
    inv: &mut Inventory,
) -> Result<(), FieldError> {
    let field = |name: &str| format!("results[{i}].{name}");
    let policy = r.policy.required(|| field("policy"))?;
    let engine = Engine::from_report_source(r.source.read(|| field("source"))?);
    let outcome = r.result.required(|| field("result"))?;
    let rule = r.rule.read(|| field("rule"))?.filter(|s| !s.is_empty());
    let message = r.message.read(|| field("message"))?;
    // Older reports list the subjects per result.
    let listed = match r.resources.read(&field("resources"))?.first() {
        Some(c) => Some(c.0.check(&field("resources[0]"))?),
        None => None,
    };
    let resource = listed.as_ref().or(scope);
    let namespace = match report_namespace {
        Some(ns) => Some(ns),
        None if cluster => resource
            .and_then(|s| s.namespace)
            .filter(|ns| valid_namespace_name(ns)),
        None => None,
    };
    let excepted = r
        .properties
        .as_ref()
        .is_some_and(|p| p.0.exceptions.get().is_some());
    // Only a ValidatingAdmissionPolicy result is about a binding.
    let binding = match &r.properties {
        Some(p) if engine == Engine::ValidatingAdmission => {
            p.0.binding
                .read(|| field("properties.binding"))?
                .filter(|b| !b.is_empty())
        }
        _ => None,
    };
    let Some(outcome) = Outcome::parse(outcome) else {
        return Err(FieldError::new(
            field("result"),
            format!("unknown value '{outcome}' (expected pass, fail, warn, error or skip)"),
        ));
    };
    let folded = Folded {
        engine,
        policy,
        binding,
        namespace,
        outcome,
        rule,
        excepted,
        kind: resource.map_or("", |s| s.kind),
        name: resource.map_or("", |s| s.name),
        message,
    };
    // Failing and warning results, and results an exception skipped (so a reminder can tell
    // exactly which resources lose that exception).
    if (matches!(outcome, Outcome::Fail | Outcome::Warn) || (outcome == Outcome::Skip && excepted))
        && let Some(res) = resource.filter(|r| !r.name.is_empty())
    {
        let names = inv.results.names();
        let at = ResourceRef {
            namespace: names.intern(res.namespace.or(namespace).unwrap_or_default()),
            kind: names.intern(res.kind),
            name: names.intern(res.name),
        };
        let finding = Finding {
            engine,
            policy: names.intern(policy),
            binding: binding.map(|b| names.intern(b)),
            rule: rule.map(|r| names.intern(r)),
            result: names.intern(outcome.word()),
            message: message.map(|m| names.intern(m.trim())),
        };
        inv.findings.entry(at).or_default().push(finding);
    }
    count(inv, &folded);
    Ok(())
}

/// The one problem for a report's bad results: the first, and how many were skipped.
pub fn results_problem(problems: &[FieldError]) -> Option<FieldError> {
    let first = problems.first()?;
    let mut e = first.clone();
    e.message = match problems.len() {
        1 => format!("{} (this result was skipped)", e.message),
        n => format!("{} ({n} results with problems were skipped)", e.message),
    };
    Some(e)
}
