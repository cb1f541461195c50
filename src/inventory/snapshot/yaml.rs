//! Reading YAML documents with bounded memory: a document's top-level `items` (what
//! `kubectl get -o yaml` writes for a List) is read one item at a time, each item read into
//! the inventory and dropped before the next, so a List of a million results is never held as
//! one value. A large file is read straight from disk ([`read_large_file`]); the text of a
//! smaller one is split into documents first, so that one broken document does not hide the
//! others.

use super::super::ingest::describe;
use super::super::model::Inventory;
use super::checked::{Checked, duplicate_problem, join, yaml_options};
use super::dedupe::Dedupe;
use super::fast::absorb_owned;
use crate::model::problem::Problem;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// Files larger than this are read from disk as they are parsed, not as one string.
pub const LARGE_FILE: u64 = 32 * 1024 * 1024;

/// Reads one document into `inv`; on an error nothing of it is kept.
fn read_with<F>(
    inv: &mut Inventory,
    dedupe: &mut Dedupe<'_>,
    origin: &str,
    parse: F,
) -> Result<(), serde_saphyr::Error>
where
    F: FnOnce(DocReader<'_, '_>) -> Result<(), serde_saphyr::Error>,
{
    let mark = dedupe.mark();
    let mut fragment = Inventory::default();
    let reader = DocReader {
        inv: &mut fragment,
        dedupe: &mut *dedupe,
        origin,
    };
    match parse(reader) {
        Ok(()) => {
            absorb_owned(inv, fragment);
            Ok(())
        }
        Err(e) => {
            dedupe.rollback(mark);
            Err(e)
        }
    }
}

/// One document of a YAML text.
pub fn read_document(
    inv: &mut Inventory,
    dedupe: &mut Dedupe<'_>,
    origin: &str,
    text: &str,
) -> Result<(), serde_saphyr::Error> {
    read_with(inv, dedupe, origin, |reader| {
        serde_saphyr::with_deserializer_from_str_with_options(text, yaml_options(), |de| {
            reader.deserialize(de)
        })
    })
}

/// What reading a large file gave.
pub enum Large {
    Read,
    /// The file holds several documents: read its text instead.
    SeveralDocuments,
    Failed(serde_saphyr::Error),
}

/// A large single-document file, parsed as it is read from disk (a UTF-8 BOM is skipped).
pub fn read_large_file(
    inv: &mut Inventory,
    dedupe: &mut Dedupe<'_>,
    origin: &str,
    file: std::fs::File,
) -> Large {
    let reader = std::io::BufReader::with_capacity(1 << 20, file);
    let result = read_with(inv, dedupe, origin, |doc| {
        serde_saphyr::with_deserializer_from_reader_with_options(reader, yaml_options(), |de| {
            doc.deserialize(de)
        })
    });
    match result {
        Ok(()) => Large::Read,
        Err(e)
            if matches!(e, serde_saphyr::Error::MultipleDocuments { .. })
                || e.to_string().contains("read_with_options") =>
        {
            Large::SeveralDocuments
        }
        Err(e) => Large::Failed(e),
    }
}

/// Reads one document, streaming a top-level `items` sequence.
pub struct DocReader<'a, 'b> {
    inv: &'a mut Inventory,
    dedupe: &'a mut Dedupe<'b>,
    origin: &'a str,
}

impl DocReader<'_, '_> {
    fn object(self, c: Checked) {
        if c.value.is_null() {
            return;
        }
        let place = describe(self.origin, &c.value);
        for path in &c.duplicates {
            self.inv.problems.push(duplicate_problem(&place, path));
        }
        self.dedupe.ingest(self.inv, &c.value, self.origin);
    }
}

impl<'de> DeserializeSeed<'de> for DocReader<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

macro_rules! forward_scalar {
    ($($name:ident: $t:ty),*) => {$(
        fn $name<E: de::Error>(self, v: $t) -> Result<(), E> {
            let c = CheckedOnly.$name::<E>(v)?;
            self.object(c);
            Ok(())
        }
    )*};
}

/// Builds a [`Checked`] from a scalar handed over by [`DocReader`].
struct CheckedOnly;

impl<'de> Visitor<'de> for CheckedOnly {
    type Value = Checked;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Checked, E> {
        Ok(scalar(Value::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Checked, E> {
        Ok(scalar(Value::Number(v.into())))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Checked, E> {
        Ok(scalar(Value::Number(v.into())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Checked, E> {
        Ok(scalar(
            serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
        ))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Checked, E> {
        Ok(scalar(Value::String(v.to_string())))
    }
}

fn scalar(value: Value) -> Checked {
    Checked {
        value,
        duplicates: Vec::new(),
    }
}

impl<'de> Visitor<'de> for DocReader<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Kubernetes object or List")
    }

    forward_scalar!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_str: &str);

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        let c = serde::Deserialize::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        self.object(c);
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut rest = Map::new();
        let mut duplicates = Vec::new();
        let mut streamed: Option<Inventory> = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" && streamed.is_none() && !rest.contains_key("items") {
                let mut fragment = Inventory::default();
                let outcome = map.next_value_seed(Items {
                    inv: &mut fragment,
                    dedupe: &mut *self.dedupe,
                    origin: self.origin,
                })?;
                match outcome {
                    Some(c) => {
                        duplicates.extend(c.duplicates.iter().map(|p| join("items", p)));
                        rest.insert(key, c.value);
                    }
                    None => streamed = Some(fragment),
                }
                continue;
            }
            let c: Checked = map.next_value()?;
            if rest.contains_key(&key) || (key == "items" && streamed.is_some()) {
                duplicates.push(key.clone());
            }
            duplicates.extend(c.duplicates.iter().map(|p| join(&key, p)));
            rest.insert(key, c.value);
        }
        let value = Value::Object(rest);
        let Some(fragment) = streamed else {
            self.object(Checked { value, duplicates });
            return Ok(());
        };
        let place = describe(self.origin, &value);
        for path in &duplicates {
            self.inv.problems.push(duplicate_problem(&place, path));
        }
        let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
        if kind.ends_with("List") {
            absorb_owned(self.inv, fragment);
        } else {
            self.inv.problems.push(Problem::error(
                place,
                "items",
                format!(
                    "a {kind} with a top-level items list is not a List; its items were not read"
                ),
            ));
        }
        Ok(())
    }
}

/// A top-level `items` value: a sequence is read item by item (`None`); anything else is
/// returned as a value.
struct Items<'a, 'b> {
    inv: &'a mut Inventory,
    dedupe: &'a mut Dedupe<'b>,
    origin: &'a str,
}

impl<'de> DeserializeSeed<'de> for Items<'_, '_> {
    type Value = Option<Checked>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Checked>, D::Error> {
        d.deserialize_any(self)
    }
}

macro_rules! items_scalar {
    ($($name:ident: $t:ty),*) => {$(
        fn $name<E: de::Error>(self, v: $t) -> Result<Option<Checked>, E> {
            CheckedOnly.$name(v).map(Some)
        }
    )*};
}

impl<'de> Visitor<'de> for Items<'_, '_> {
    type Value = Option<Checked>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of objects")
    }

    items_scalar!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_str: &str);

    fn visit_unit<E: de::Error>(self) -> Result<Option<Checked>, E> {
        Ok(Some(scalar(Value::Null)))
    }
    fn visit_none<E: de::Error>(self) -> Result<Option<Checked>, E> {
        Ok(Some(scalar(Value::Null)))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Option<Checked>, A::Error> {
        serde::Deserialize::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Checked>, A::Error> {
        let mut i = 0usize;
        while let Some(c) = seq.next_element::<Checked>()? {
            let origin = format!("{} items[{i}]", self.origin);
            let place = describe(&origin, &c.value);
            for path in &c.duplicates {
                self.inv.problems.push(duplicate_problem(&place, path));
            }
            self.dedupe.ingest(self.inv, &c.value, &origin);
            i += 1;
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn large(text: &str) -> (Large, Inventory) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.yaml");
        std::fs::write(&path, text).unwrap();
        let none = HashSet::new();
        let mut dedupe = Dedupe::new(&none);
        let mut inv = Inventory::default();
        let outcome = read_large_file(
            &mut inv,
            &mut dedupe,
            "big.yaml doc 1",
            std::fs::File::open(&path).unwrap(),
        );
        (outcome, inv)
    }

    #[test]
    fn a_large_file_with_several_documents_is_left_to_the_text_reader() {
        let ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n";
        let (outcome, inv) = large(&format!("{ns}---\n{}", ns.replace("name: a", "name: b")));
        assert!(matches!(outcome, Large::SeveralDocuments));
        assert!(
            inv.namespaces.is_empty(),
            "nothing kept from a file read again"
        );
        let (outcome, inv) = large(&format!(
            "apiVersion: v1\nitems:\n- {}\nkind: List\n",
            ns.replace('\n', "\n  ").trim_end()
        ));
        assert!(matches!(outcome, Large::Read));
        assert!(inv.namespaces.contains_key("a"));
        let (outcome, _) = large("a: [\n");
        assert!(matches!(outcome, Large::Failed(_)));
    }
}
