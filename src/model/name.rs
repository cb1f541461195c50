//! `Name`: a string the inventory repeats — a policy, namespace, rule, kind, resource name or
//! message — held once and shared, and `Names`, which hands out one shared copy per distinct
//! string.
//!
//! A million report results name a few hundred policies and rules, a few thousand namespaces
//! and, for every failing resource, a message Kyverno writes the same way each time. Holding
//! each of those once is what keeps a large cluster's inventory small. A `Name` reads as a
//! `&str` everywhere (it dereferences to one, compares with one and is ordered and hashed as
//! one); it must never be used for text that is built per notice (that is an owned `String`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Borrow;
use std::collections::HashMap;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// A shared, immutable string. Cloning it copies a pointer.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(Arc<str>);

impl Name {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Name {
    fn default() -> Self {
        Name(Arc::from(""))
    }
}

impl Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Self {
        Name(Arc::from(s))
    }
}

impl From<String> for Name {
    fn from(s: String) -> Self {
        Name(Arc::from(s))
    }
}

impl From<&String> for Name {
    fn from(s: &String) -> Self {
        Name(Arc::from(s.as_str()))
    }
}

impl From<Arc<str>> for Name {
    fn from(s: Arc<str>) -> Self {
        Name(s)
    }
}

impl From<Name> for String {
    fn from(n: Name) -> Self {
        n.0.to_string()
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        &*self.0 == other.as_str()
    }
}

impl PartialEq<Name> for str {
    fn eq(&self, other: &Name) -> bool {
        self == &*other.0
    }
}

impl PartialEq<Name> for &str {
    fn eq(&self, other: &Name) -> bool {
        *self == &*other.0
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Name::from)
    }
}

/// Hands out one shared [`Name`] per distinct string, and a small number for it (in the order
/// first seen) for keys that must stay small.
#[derive(Debug, Clone, Default)]
pub struct Names {
    ids: HashMap<Name, u32>,
    list: Vec<Name>,
}

impl Names {
    /// The number of `s`, given to it the first time it is seen.
    pub fn id(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = u32::try_from(self.list.len()).unwrap_or(u32::MAX);
        let name = Name::from(s);
        self.list.push(name.clone());
        self.ids.insert(name, id);
        id
    }

    /// The number of `s`, when it has one.
    pub fn find(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }

    /// Renumbers the strings in text order; returns, for each old number, the new one.
    pub fn sort(&mut self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.list.len() as u32).collect();
        order.sort_unstable_by(|a, b| self.list[*a as usize].cmp(&self.list[*b as usize]));
        let mut rank = vec![0u32; order.len()];
        for (new, old) in order.iter().enumerate() {
            rank[*old as usize] = new as u32;
        }
        self.list = order
            .iter()
            .map(|&old| self.list[old as usize].clone())
            .collect();
        for v in self.ids.values_mut() {
            *v = rank[*v as usize];
        }
        rank
    }

    /// The string numbered `id`.
    pub fn get(&self, id: u32) -> &Name {
        &self.list[id as usize]
    }

    /// The shared copy of `s`.
    pub fn intern(&mut self, s: &str) -> Name {
        let id = self.id(s);
        self.list[id as usize].clone()
    }

    /// `name`, replaced by the shared copy of its text (kept as the shared copy when new).
    pub fn canon(&mut self, name: &mut Name) {
        match self.ids.get(name.as_str()) {
            Some(&id) => *name = self.list[id as usize].clone(),
            None => {
                let id = u32::try_from(self.list.len()).unwrap_or(u32::MAX);
                self.list.push(name.clone());
                self.ids.insert(name.clone(), id);
            }
        }
    }

    /// How many distinct strings it holds.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_copy_per_text_and_reads_as_str() {
        let mut names = Names::default();
        let a = names.intern("restrict-seccomp");
        let b = names.intern("restrict-seccomp");
        assert!(Arc::ptr_eq(&a.0, &b.0));
        assert_eq!(a, "restrict-seccomp");
        assert_eq!(names.len(), 1);
        let mut other = Name::from("restrict-seccomp".to_string());
        names.canon(&mut other);
        assert!(Arc::ptr_eq(&a.0, &other.0));
        let b = Name::from("b");
        assert!(a > b);
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"restrict-seccomp\"");
    }
}
