//! Path-aware access to a parsed Kubernetes object, so every error names the field it is about.
//!
//! Objects arrive as `serde_json::Value` (from YAML or JSON, one document at a time); readers
//! walk them through [`Node`], which remembers the path (`spec.rules[2].validate`). It must never
//! panic on any shape of input: a wrong type is a [`FieldError`], an absent field is `None`.

use super::model::Labels;
use serde_json::Value;

/// What is wrong, and where inside the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

pub type FieldResult<T> = Result<T, FieldError>;

/// A value and the path that led to it.
#[derive(Debug, Clone, Copy)]
pub struct Node<'a> {
    value: &'a Value,
    path: &'a str,
}

/// An owned path plus the value, for children (paths are built as we descend).
#[derive(Debug, Clone)]
pub struct Child<'a> {
    pub value: &'a Value,
    pub path: String,
}

impl<'a> Child<'a> {
    pub fn node(&self) -> Node<'_> {
        Node {
            value: self.value,
            path: &self.path,
        }
    }
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

impl<'a> Node<'a> {
    pub fn root(value: &'a Value) -> Self {
        Node { value, path: "" }
    }

    pub fn path(&self) -> &str {
        self.path
    }

    pub fn value(&self) -> &'a Value {
        self.value
    }

    fn join(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub fn error(&self, key: &str, message: impl Into<String>) -> FieldError {
        FieldError::new(self.join(key), message)
    }

    /// A child mapping entry; absent or null gives `None`.
    pub fn get(&self, key: &str) -> Option<Child<'a>> {
        match self.value.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(Child {
                value: v,
                path: self.join(key),
            }),
        }
    }

    /// A string field. Numbers and booleans are accepted as written (YAML `version: 1.2`).
    pub fn str(&self, key: &str) -> FieldResult<Option<&'a str>> {
        match self.value.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(other) => {
                Err(self.error(key, format!("expected a string, found {}", describe(other))))
            }
        }
    }

    pub fn req_str(&self, key: &str) -> FieldResult<&'a str> {
        self.str(key)?.ok_or_else(|| self.error(key, "missing"))
    }

    pub fn u64(&self, key: &str) -> FieldResult<Option<u64>> {
        match self.value.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or_else(|| {
                self.error(
                    key,
                    format!("expected a non-negative integer, found {}", describe(v)),
                )
            }),
        }
    }

    /// A list field; absent gives an empty list.
    pub fn list(&self, key: &str) -> FieldResult<Vec<Child<'a>>> {
        match self.value.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => {
                let base = self.join(key);
                Ok(items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| Child {
                        value: v,
                        path: format!("{base}[{i}]"),
                    })
                    .collect())
            }
            Some(other) => {
                Err(self.error(key, format!("expected a list, found {}", describe(other))))
            }
        }
    }

    /// A list of strings; `None` when absent (Kyverno distinguishes absent from empty).
    pub fn str_list(&self, key: &str) -> FieldResult<Option<Vec<String>>> {
        if self.get(key).is_none() {
            return Ok(None);
        }
        self.list(key)?
            .iter()
            .map(|c| match c.value {
                Value::String(s) => Ok(s.clone()),
                other => Err(FieldError::new(
                    c.path.clone(),
                    format!("expected a string, found {}", describe(other)),
                )),
            })
            .collect::<FieldResult<Vec<_>>>()
            .map(Some)
    }

    /// A string → string mapping such as labels or annotations; absent gives an empty map.
    pub fn string_map(&self, key: &str) -> FieldResult<Labels> {
        match self.value.get(key) {
            None | Some(Value::Null) => Ok(Labels::new()),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    Value::Number(n) => Ok((k.clone(), n.to_string())),
                    Value::Bool(b) => Ok((k.clone(), b.to_string())),
                    other => Err(FieldError::new(
                        format!("{}.{k}", self.join(key)),
                        format!("expected a string, found {}", describe(other)),
                    )),
                })
                .collect(),
            Some(other) => Err(self.error(
                key,
                format!("expected a mapping, found {}", describe(other)),
            )),
        }
    }
}
