//! Parsing a document into a `serde_json::Value` while noting keys given twice, with one rule
//! for JSON and YAML: the last value wins — what the Kubernetes API server does with JSON — and
//! each duplicate is reported with its path, so no file is dropped for it.
//!
//! YAML is read with serde-saphyr set to pass repeated keys through to this visitor
//! ([`yaml_options`]), JSON with serde_json, which always does.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// A parsed value and the paths of the keys given more than once in it (`metadata.labels.app`,
/// `spec.rules[2].name`), relative to the value.
#[derive(Debug, Default)]
pub struct Checked {
    pub value: Value,
    pub duplicates: Vec<String>,
}

/// `base.key`, or `key` at the root.
pub fn join(base: &str, key: &str) -> String {
    if base.is_empty() {
        key.to_string()
    } else {
        format!("{base}.{key}")
    }
}

fn prefixed(base: &str, inner: Vec<String>) -> impl Iterator<Item = String> + '_ {
    inner.into_iter().map(move |p| {
        if p.starts_with('[') {
            format!("{base}{p}")
        } else {
            join(base, &p)
        }
    })
}

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

fn plain(value: Value) -> Checked {
    Checked {
        value,
        duplicates: Vec::new(),
    }
}

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML or JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Checked, E> {
        Ok(plain(Value::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Checked, E> {
        Ok(plain(Value::Number(v.into())))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Checked, E> {
        Ok(plain(Value::Number(v.into())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Checked, E> {
        Ok(plain(
            Number::from_f64(v).map_or(Value::Null, Value::Number),
        ))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Checked, E> {
        Ok(plain(Value::String(v.to_string())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Checked, E> {
        Ok(plain(Value::String(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Checked, E> {
        Ok(plain(Value::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<Checked, E> {
        Ok(plain(Value::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Checked, D::Error> {
        Checked::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        let mut items = Vec::new();
        let mut duplicates = Vec::new();
        while let Some(c) = seq.next_element::<Checked>()? {
            let base = format!("[{}]", items.len());
            duplicates.extend(prefixed(&base, c.duplicates));
            items.push(c.value);
        }
        Ok(Checked {
            value: Value::Array(items),
            duplicates,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        let mut out = Map::new();
        let mut duplicates = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let c: Checked = map.next_value()?;
            // Reported once per key, at the key; the last value is kept.
            if out.contains_key(&key) && !duplicates.contains(&key) {
                duplicates.push(key.clone());
            }
            duplicates.extend(prefixed(&key, c.duplicates));
            out.insert(key, c.value);
        }
        Ok(Checked {
            value: Value::Object(out),
            duplicates,
        })
    }
}

/// How forewarn reads YAML: repeated keys reach [`Checked`] (last wins, reported); no limit on
/// the size of a document — a `kubectl get -o yaml` List of a large cluster has millions of
/// nodes, and its items are read one at a time — while the limits on anchors, aliases and
/// nesting that guard against crafted input stay as serde-saphyr sets them.
pub fn yaml_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_events = usize::MAX;
    budget.max_nodes = usize::MAX;
    budget.max_total_scalar_bytes = usize::MAX;
    budget.max_documents = usize::MAX;
    budget.max_reader_input_bytes = None;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::PassThrough;
    options
}

/// The problem for a key given twice in the object read at `place`.
pub fn duplicate_problem(place: &str, path: &str) -> crate::model::problem::Problem {
    crate::model::problem::Problem::warning(
        place,
        path,
        "key given more than once; the last value is used (for JSON and YAML alike)",
    )
}
