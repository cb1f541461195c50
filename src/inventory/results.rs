//! Report results reduced to one summary per policy × namespace (and binding), and the store
//! that holds them: [`Results`].
//!
//! A large cluster has hundreds of thousands of these summaries, nearly all of them only
//! passing counts, so a summary is small (its counts, and a box for failures when there are
//! any) and every string in it is a shared [`Name`]. The store is filled in any order through
//! a small numeric index, then sealed: sorted by key, the index dropped, read by range. It
//! holds no I/O and must never keep single results.

use crate::model::ids::Engine;
use crate::model::name::{Name, Names};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

/// Counts of report results by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ResultCounts {
    pub pass: u64,
    pub fail: u64,
    pub warn: u64,
    pub error: u64,
    pub skip: u64,
}

/// One failing resource kept as an example.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailingResource {
    pub kind: Name,
    pub name: Name,
    pub rule: Option<Name>,
    pub message: Option<Name>,
}

/// How many failing resources are kept per policy × namespace (and shown per namespace).
pub const SAMPLE_LIMIT: usize = 5;

/// Adds `item` to a bounded sample: kept when there is room and it is not there yet.
pub fn push_sample<T: PartialEq>(sample: &mut Vec<T>, item: T) {
    if sample.len() < SAMPLE_LIMIT && !sample.contains(&item) {
        sample.push(item);
    }
}

/// [`push_sample`] for a shared sample: copied when it takes the item (at most
/// [`SAMPLE_LIMIT`] times), so that once filled it is shared by whatever shows it.
fn push_shared(sample: &mut Arc<[FailingResource]>, item: FailingResource) {
    if sample.len() < SAMPLE_LIMIT && !sample.contains(&item) {
        let mut more = Vec::with_capacity(sample.len() + 1);
        more.extend(sample.iter().cloned());
        more.push(item);
        *sample = more.into();
    }
}

/// Results per rule (`""` when the result names no rule), in rule order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleCounts(Vec<(Name, u64)>);

impl RuleCounts {
    /// Adds `n` results of `rule`.
    pub fn add(&mut self, rule: Name, n: u64) {
        match self.0.binary_search_by(|(r, _)| r.as_str().cmp(&rule)) {
            Ok(i) => self.0[i].1 += n,
            Err(i) => self.0.insert(i, (rule, n)),
        }
    }

    /// Each rule with its count, in rule order.
    pub fn iter(&self) -> impl Iterator<Item = (&Name, &u64)> {
        self.0.iter().map(|(r, n)| (r, n))
    }

    /// The count of `rule`.
    pub fn get(&self, rule: &str) -> Option<u64> {
        self.0.iter().find(|(r, _)| r == rule).map(|(_, n)| *n)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    fn absorb(&mut self, other: &RuleCounts) {
        for (r, n) in other.iter() {
            self.add(r.clone(), *n);
        }
    }

    fn canon(&mut self, names: &mut Names) {
        for (r, _) in &mut self.0 {
            names.canon(r);
        }
    }
}

impl Serialize for RuleCounts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

/// Warning results of one policy × namespace (see [`ResultSummary::warnings`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Warnings {
    pub by_rule: RuleCounts,
    pub sample: Vec<FailingResource>,
}

/// What only a summary with failing or warning results has.
#[derive(Debug, Clone, Default, PartialEq)]
struct Failures {
    by_rule: RuleCounts,
    sample: Arc<[FailingResource]>,
    warnings: Option<Warnings>,
}

/// Counts as a summary keeps them: a policy × namespace never has four billion results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Packed {
    pass: u32,
    fail: u32,
    warn: u32,
    error: u32,
    skip: u32,
    /// Skip results that name the exception that skipped them.
    excepted: u32,
}

/// Adds `n` to a packed count (saturating).
fn bump(count: &mut u32, n: u64) {
    *count = count.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
}

/// Report results for one policy in one namespace (or cluster-scoped).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResultSummary {
    counts: Packed,
    /// Boxed: most summaries only count passes.
    failures: Option<Box<Failures>>,
}

static NO_RULES: RuleCounts = RuleCounts(Vec::new());

impl ResultSummary {
    /// Its results by outcome.
    pub fn counts(&self) -> ResultCounts {
        let c = &self.counts;
        ResultCounts {
            pass: c.pass.into(),
            fail: c.fail.into(),
            warn: c.warn.into(),
            error: c.error.into(),
            skip: c.skip.into(),
        }
    }

    /// Skip results that name the exception that skipped them.
    pub fn skipped_by_exception(&self) -> u64 {
        self.counts.excepted.into()
    }

    /// Adds results counted elsewhere (without their rules or samples), and how many of the
    /// skips name an exception.
    pub fn add_counts(&mut self, c: &ResultCounts, skipped_by_exception: u64) {
        let mine = &mut self.counts;
        bump(&mut mine.pass, c.pass);
        bump(&mut mine.fail, c.fail);
        bump(&mut mine.warn, c.warn);
        bump(&mut mine.error, c.error);
        bump(&mut mine.skip, c.skip);
        bump(&mut mine.excepted, skipped_by_exception);
    }

    /// Failing results per rule (`""` when the result names no rule).
    pub fn fail_by_rule(&self) -> &RuleCounts {
        self.failures.as_ref().map_or(&NO_RULES, |f| &f.by_rule)
    }

    /// A bounded sample of failing resources, first seen first.
    pub fn sample(&self) -> &[FailingResource] {
        self.failures.as_ref().map_or(&[], |f| &f.sample)
    }

    /// [`ResultSummary::sample`], to share rather than copy.
    pub fn shared_sample(&self) -> Arc<[FailingResource]> {
        self.failures
            .as_ref()
            .map_or_else(Arc::default, |f| f.sample.clone())
    }

    /// Warning results per rule, and a bounded sample of them, until the inventory is finished
    /// and decides what they are: failures of a policy that sets
    /// `policies.kyverno.io/scored: "false"`, dropped otherwise.
    pub fn warnings(&self) -> Option<&Warnings> {
        self.failures.as_ref().and_then(|f| f.warnings.as_ref())
    }

    fn failures(&mut self) -> &mut Failures {
        self.failures.get_or_insert_with(Default::default)
    }

    /// Whether a failing resource would still be kept in the sample (so a full one costs no
    /// allocation).
    pub fn sample_has_room(&self) -> bool {
        self.sample().len() < SAMPLE_LIMIT
    }

    /// Whether a warning would still be kept in the warnings' sample.
    pub fn warnings_have_room(&self) -> bool {
        self.warnings()
            .is_none_or(|w| w.sample.len() < SAMPLE_LIMIT)
    }

    /// Counts `n` failing results of `rule`.
    pub fn add_failures(&mut self, rule: Name, n: u64) {
        bump(&mut self.counts.fail, n);
        self.failures().by_rule.add(rule, n);
    }

    /// Counts a failing result of `rule`, with the resource for the sample.
    pub fn add_failure(&mut self, rule: Name, resource: Option<FailingResource>) {
        self.add_failures(rule, 1);
        if let Some(r) = resource {
            push_shared(&mut self.failures().sample, r);
        }
    }

    /// Keeps `resource` in the sample of failing resources (when there is room).
    pub fn add_sample(&mut self, resource: FailingResource) {
        push_shared(&mut self.failures().sample, resource);
    }

    /// Counts `n` warning results of `rule` (see [`ResultSummary::warnings`]).
    pub fn add_warnings(&mut self, rule: Name, n: u64) {
        bump(&mut self.counts.warn, n);
        let w = self
            .failures()
            .warnings
            .get_or_insert_with(Default::default);
        w.by_rule.add(rule, n);
    }

    /// Counts a warning result of `rule`, with the resource for the warnings' sample.
    pub fn add_warning(&mut self, rule: Name, resource: Option<FailingResource>) {
        self.add_warnings(rule, 1);
        if let Some(r) = resource {
            self.add_warning_sample(r);
        }
    }

    /// Keeps `resource` in the warnings' sample (when there is room).
    pub fn add_warning_sample(&mut self, resource: FailingResource) {
        let w = self
            .failures()
            .warnings
            .get_or_insert_with(Default::default);
        push_sample(&mut w.sample, resource);
    }

    /// Adds per-rule counts of failing and of warning results that `counts` has already
    /// counted.
    pub fn add_rule_counts(
        &mut self,
        failing: impl IntoIterator<Item = (Name, u64)>,
        warning: impl IntoIterator<Item = (Name, u64)>,
    ) {
        let mut failing = failing.into_iter().peekable();
        let mut warning = warning.into_iter().peekable();
        if failing.peek().is_none() && warning.peek().is_none() {
            return;
        }
        let f = self.failures();
        for (r, n) in failing {
            f.by_rule.add(r, n);
        }
        if warning.peek().is_some() {
            let w = f.warnings.get_or_insert_with(Default::default);
            for (r, n) in warning {
                w.by_rule.add(r, n);
            }
        }
    }

    /// Adds another summary of the same policy and namespace (from another report).
    pub fn absorb(&mut self, other: &ResultSummary) {
        self.add_counts(&other.counts(), other.skipped_by_exception());
        let Some(theirs) = &other.failures else {
            return;
        };
        let mine = self.failures();
        mine.by_rule.absorb(&theirs.by_rule);
        if mine.sample.is_empty() {
            mine.sample = theirs.sample.clone();
        } else {
            for r in theirs.sample.iter() {
                push_shared(&mut mine.sample, r.clone());
            }
        }
        if let Some(w) = &theirs.warnings {
            let to = mine.warnings.get_or_insert_with(Default::default);
            to.by_rule.absorb(&w.by_rule);
            for r in &w.sample {
                push_sample(&mut to.sample, r.clone());
            }
        }
    }

    /// Counts the warnings as failures: Kyverno reports a failure of an unscored policy as
    /// `warn` (kyverno `pkg/utils/report/results.go`), and blocks it all the same once the
    /// policy enforces.
    pub(super) fn warnings_are_failures(&mut self) {
        let warn = std::mem::take(&mut self.counts.warn);
        bump(&mut self.counts.fail, warn.into());
        if let Some(f) = &mut self.failures
            && let Some(w) = f.warnings.take()
        {
            for (rule, n) in w.by_rule.0 {
                f.by_rule.add(rule, n);
            }
            for r in w.sample {
                push_shared(&mut f.sample, r);
            }
        }
    }

    /// Forgets the warnings (a scored policy's warnings are not failures).
    pub(super) fn drop_warnings(&mut self) {
        if let Some(f) = &mut self.failures {
            f.warnings = None;
            if f.by_rule.is_empty() && f.sample.is_empty() {
                self.failures = None;
            }
        }
    }

    /// Replaces every name by the shared copy `names` holds.
    fn canon(&mut self, names: &mut Names) {
        let Some(f) = &mut self.failures else {
            return;
        };
        f.by_rule.canon(names);
        if !f.sample.is_empty() {
            f.sample = f
                .sample
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    r.canon(names);
                    r
                })
                .collect();
        }
        if let Some(w) = &mut f.warnings {
            for r in &mut w.sample {
                r.canon(names);
            }
            w.by_rule.canon(names);
        }
    }
}

impl FailingResource {
    /// Replaces every name by the shared copy `names` holds.
    pub fn canon(&mut self, names: &mut Names) {
        names.canon(&mut self.kind);
        names.canon(&mut self.name);
        for n in self.rule.iter_mut().chain(self.message.iter_mut()) {
            names.canon(n);
        }
    }
}

/// Where a report result belongs: the engine (from the result's `source`), the policy as
/// reports name it (`name` or `namespace/name`), the namespace (`None`: cluster-scoped), and
/// for a ValidatingAdmissionPolicy result the binding it names (`properties.binding`, kyverno
/// `pkg/utils/report/results.go`; `None` when the report names none).
pub type ResultKey = (Engine, Name, Option<Name>, Option<Name>);

/// A [`ResultKey`] as the store hands it out: borrowed from its names.
pub type ResultKeyRef<'a> = (Engine, &'a str, Option<&'a str>, Option<&'a str>);

/// A key as the store keeps it: the names as numbers in its [`Names`] (plus one; 0: absent).
/// Sealed, the names are numbered in text order, so keys sort as their names do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Key {
    engine: Engine,
    policy: u32,
    namespace: u32,
    binding: u32,
}

/// Every summary of an inventory, filled in any order; [`Results::seal`] (called by the
/// inventory's `finish`) sorts it by key, so that it is read in key order and by range.
#[derive(Debug, Clone, Default)]
pub struct Results {
    /// Every name the summaries and their keys hold, and what the inventory adds beside them
    /// (findings), each held once.
    names: Names,
    entries: Vec<(Key, ResultSummary)>,
    /// Where each key is, while results are added; rebuilt when something is added after
    /// sealing.
    index: Option<HashMap<Key, u32>>,
}

/// The same summaries under the same keys, in whatever order they were added.
impl PartialEq for Results {
    fn eq(&self, other: &Results) -> bool {
        fn sorted(r: &Results) -> Vec<(ResultKeyRef<'_>, &ResultSummary)> {
            let mut all: Vec<_> = r.iter().collect();
            if r.index.is_some() {
                all.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            }
            all
        }
        sorted(self) == sorted(other)
    }
}

impl Results {
    /// The shared names, for what is added next.
    pub fn names(&mut self) -> &mut Names {
        &mut self.names
    }

    fn number(names: &mut Names, name: Option<&str>) -> u32 {
        name.map_or(0, |n| names.id(n) + 1)
    }

    fn found(&self, name: Option<&str>) -> Option<u32> {
        match name {
            None => Some(0),
            Some(n) => self.names.find(n).map(|id| id + 1),
        }
    }

    fn name_of(&self, number: u32) -> Option<&Name> {
        number.checked_sub(1).map(|id| self.names.get(id))
    }

    fn text_of(&self, number: u32) -> Option<&str> {
        self.name_of(number).map(Name::as_str)
    }

    fn key_ref(&self, k: &Key) -> ResultKeyRef<'_> {
        (
            k.engine,
            self.text_of(k.policy).unwrap_or(""),
            self.text_of(k.namespace),
            self.text_of(k.binding),
        )
    }

    /// The summary of `policy` in `namespace` (`None`: cluster-scoped) for `binding`, created
    /// empty when new.
    pub fn summary(
        &mut self,
        engine: Engine,
        policy: &str,
        namespace: Option<&str>,
        binding: Option<&str>,
    ) -> &mut ResultSummary {
        self.slot(engine, policy, namespace, binding).0
    }

    /// [`Results::summary`], with the shared names for what is added to it.
    pub fn summary_and_names(
        &mut self,
        engine: Engine,
        policy: &str,
        namespace: Option<&str>,
        binding: Option<&str>,
    ) -> (&mut ResultSummary, &mut Names) {
        let (s, _, names) = self.slot(engine, policy, namespace, binding);
        (s, names)
    }

    /// [`Results::summary`], whether it is new, and the shared names.
    fn slot(
        &mut self,
        engine: Engine,
        policy: &str,
        namespace: Option<&str>,
        binding: Option<&str>,
    ) -> (&mut ResultSummary, bool, &mut Names) {
        let Results {
            names,
            entries,
            index,
        } = self;
        let key = Key {
            engine,
            policy: Self::number(names, Some(policy)),
            namespace: Self::number(names, namespace),
            binding: Self::number(names, binding),
        };
        let index = index.get_or_insert_with(|| {
            entries
                .iter()
                .enumerate()
                .map(|(i, (k, _))| (*k, i as u32))
                .collect()
        });
        let next = entries.len() as u32;
        let i = *index.entry(key).or_insert(next);
        let new = i == next;
        if new {
            entries.push((key, ResultSummary::default()));
        }
        (&mut entries[i as usize].1, new, names)
    }

    /// Adds `s` to the summary of `key`.
    pub fn add(&mut self, key: &ResultKey, mut s: ResultSummary) {
        let (engine, policy, namespace, binding) = key;
        s.canon(&mut self.names);
        match self.slot(*engine, policy, namespace.as_deref(), binding.as_deref()) {
            (mine, true, _) => *mine = s,
            (mine, false, _) => mine.absorb(&s),
        }
    }

    /// Adds everything `other` holds, after what this one holds.
    pub fn merge(&mut self, other: Results) {
        // Nothing here yet: take `other` whole rather than copy it, with the names given out
        // for what was added before.
        if self.entries.is_empty() {
            let names = std::mem::take(&mut self.names);
            *self = other;
            for i in 0..names.len() {
                let mut n = names.get(i as u32).clone();
                self.names.canon(&mut n);
            }
            return;
        }
        let Results {
            names: theirs,
            entries,
            ..
        } = other;
        for (k, mut s) in entries {
            s.canon(&mut self.names);
            let name = |n: u32| n.checked_sub(1).map(|id| theirs.get(id).as_str());
            let policy = name(k.policy).unwrap_or("");
            match self.slot(k.engine, policy, name(k.namespace), name(k.binding)) {
                (mine, true, _) => *mine = s,
                (mine, false, _) => mine.absorb(&s),
            }
        }
    }

    /// Numbers the names in text order, sorts the summaries by key and drops what was kept
    /// for adding.
    pub fn seal(&mut self) {
        if self.index.take().is_none() {
            return;
        }
        let rank = self.names.sort();
        let renumber = |n: &mut u32| {
            if *n > 0 {
                *n = rank[*n as usize - 1] + 1;
            }
        };
        for (k, _) in &mut self.entries {
            renumber(&mut k.policy);
            renumber(&mut k.namespace);
            renumber(&mut k.binding);
        }
        self.entries.sort_unstable_by_key(|(k, _)| *k);
        self.entries.shrink_to_fit();
    }

    fn sealed(&self) -> &[(Key, ResultSummary)] {
        debug_assert!(
            self.index.is_none(),
            "results read before the inventory was finished"
        );
        &self.entries
    }

    /// The summaries of `policy` (as reports name it) for `engine`, in namespace then binding
    /// order: each with its namespace and binding.
    pub fn of_policy<'a>(
        &'a self,
        engine: Engine,
        policy: &str,
    ) -> impl Iterator<Item = (Option<&'a str>, Option<&'a str>, &'a ResultSummary)> + use<'a> {
        let all = self.sealed();
        let found = match self.found(Some(policy)) {
            Some(p) => {
                let from = all.partition_point(|(k, _)| (k.engine, k.policy) < (engine, p));
                let to = from
                    + all[from..].partition_point(|(k, _)| (k.engine, k.policy) == (engine, p));
                &all[from..to]
            }
            None => &[],
        };
        found
            .iter()
            .map(|(k, s)| (self.text_of(k.namespace), self.text_of(k.binding), s))
    }

    /// The summary of `key`.
    pub fn get(&self, (engine, policy, namespace, binding): &ResultKey) -> Option<&ResultSummary> {
        let key = Key {
            engine: *engine,
            policy: self.found(Some(policy))?,
            namespace: self.found(namespace.as_deref())?,
            binding: self.found(binding.as_deref())?,
        };
        let i = match &self.index {
            None => self.entries.binary_search_by_key(&key, |(k, _)| *k).ok()?,
            Some(index) => *index.get(&key)? as usize,
        };
        Some(&self.entries[i].1)
    }

    /// Every summary with its key (in key order once sealed).
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            results: self,
            inner: self.entries.iter(),
        }
    }

    /// Every summary with its key, to change the summary in place.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (ResultKeyRef<'_>, &mut ResultSummary)> {
        let Results { names, entries, .. } = self;
        let names = &*names;
        let name = move |n: u32| n.checked_sub(1).map(|id| names.get(id).as_str());
        entries.iter_mut().map(move |(k, s)| {
            (
                (
                    k.engine,
                    name(k.policy).unwrap_or(""),
                    name(k.namespace),
                    name(k.binding),
                ),
                s,
            )
        })
    }

    pub fn keys(&self) -> impl Iterator<Item = ResultKeyRef<'_>> {
        self.iter().map(|(k, _)| k)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The summaries of a [`Results`] with their keys.
pub struct Iter<'a> {
    results: &'a Results,
    inner: std::slice::Iter<'a, (Key, ResultSummary)>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (ResultKeyRef<'a>, &'a ResultSummary);
    fn next(&mut self) -> Option<Self::Item> {
        let (k, s) = self.inner.next()?;
        Some((self.results.key_ref(k), s))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<'a> IntoIterator for &'a Results {
    type Item = (ResultKeyRef<'a>, &'a ResultSummary);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Every summary with its key, owned.
impl IntoIterator for Results {
    type Item = (ResultKey, ResultSummary);
    type IntoIter = std::vec::IntoIter<(ResultKey, ResultSummary)>;
    fn into_iter(self) -> Self::IntoIter {
        let Results { names, entries, .. } = self;
        let name = |n: u32| n.checked_sub(1).map(|id| names.get(id).clone());
        entries
            .into_iter()
            .map(|(k, s)| {
                (
                    (
                        k.engine,
                        name(k.policy).unwrap_or_default(),
                        name(k.namespace),
                        name(k.binding),
                    ),
                    s,
                )
            })
            .collect::<Vec<_>>()
            .into_iter()
    }
}

impl std::ops::Index<&ResultKey> for Results {
    type Output = ResultSummary;
    fn index(&self, key: &ResultKey) -> &ResultSummary {
        match self.get(key) {
            Some(s) => s,
            None => panic!("no results for {key:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failing(name: &str) -> FailingResource {
        FailingResource {
            kind: "Pod".into(),
            name: name.into(),
            rule: Some("check".into()),
            message: Some("no".into()),
        }
    }

    #[test]
    fn filled_in_any_order_read_in_key_order() {
        let pass = |n| ResultCounts {
            pass: n,
            ..Default::default()
        };
        let mut r = Results::default();
        r.summary(Engine::Kyverno, "b", Some("team-b"), None)
            .add_counts(&pass(2), 0);
        r.summary(Engine::Kyverno, "a", Some("team-b"), None)
            .add_counts(&pass(1), 0);
        let s = r.summary(Engine::Kyverno, "a", Some("team-a"), None);
        s.add_failure("check".into(), Some(failing("web")));
        let skip = ResultCounts {
            skip: 1,
            ..Default::default()
        };
        r.summary(Engine::Kyverno, "a", None, None)
            .add_counts(&skip, 1);
        r.summary(Engine::Kyverno, "b", Some("team-b"), None)
            .add_counts(&pass(1), 0);
        r.seal();
        let keys: Vec<String> = r
            .keys()
            .map(|(_, p, n, _)| format!("{p}/{}", n.unwrap_or("-")))
            .collect();
        assert_eq!(keys, ["a/-", "a/team-a", "a/team-b", "b/team-b"]);
        let a: Vec<_> = r.of_policy(Engine::Kyverno, "a").collect();
        assert_eq!(a.len(), 3);
        assert_eq!(a[0].2.skipped_by_exception(), 1);
        assert_eq!(a[1].2.fail_by_rule().get("check"), Some(1));
        assert_eq!(a[1].2.sample()[0].name, "web");
        let b: Vec<_> = r.of_policy(Engine::Kyverno, "b").collect();
        assert_eq!(b[0].2.counts().pass, 3);
        assert_eq!(r.of_policy(Engine::Gatekeeper, "a").count(), 0);
        assert_eq!(r.of_policy(Engine::Kyverno, "unknown").count(), 0);
        let key = (Engine::Kyverno, "a".into(), Some("team-b".into()), None);
        assert_eq!(r[&key].counts().pass, 1);
        // Added to after sealing (a name new to it first): found again, sealed again.
        r.summary(Engine::Kyverno, "0-first", Some("team-a"), None)
            .add_counts(&pass(7), 0);
        r.summary(Engine::Kyverno, "a", Some("team-a"), None)
            .add_counts(&pass(1), 0);
        r.seal();
        let a: Vec<_> = r.of_policy(Engine::Kyverno, "a").collect();
        assert_eq!(a[1].2.counts().pass, 1);
        assert_eq!(a[1].2.counts().fail, 1);
        assert_eq!(r[&key].counts().pass, 1);
        assert_eq!(r.keys().next().map(|k| k.1), Some("0-first"));
        assert_eq!(r.len(), 5);
    }

    #[test]
    fn merge_adds_counts_rules_and_samples() {
        let mut one = Results::default();
        one.summary(Engine::Kyverno, "a", Some("ns"), None)
            .add_failure("check".into(), Some(failing("web")));
        let mut two = Results::default();
        let s = two.summary(Engine::Kyverno, "a", Some("ns"), None);
        s.add_failure("check".into(), Some(failing("api")));
        s.add_failure("other".into(), Some(failing("web")));
        let four = ResultCounts {
            pass: 4,
            ..Default::default()
        };
        two.summary(Engine::Kyverno, "c", Some("ns"), None)
            .add_counts(&four, 0);
        one.merge(two);
        one.seal();
        let (_, _, s) = one.of_policy(Engine::Kyverno, "a").next().expect("merged");
        assert_eq!(s.counts().fail, 3);
        let rules: Vec<(String, u64)> = s
            .fail_by_rule()
            .iter()
            .map(|(r, n)| (r.to_string(), *n))
            .collect();
        assert_eq!(rules, [("check".to_string(), 2), ("other".to_string(), 1)]);
        let names: Vec<&str> = s.sample().iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["web", "api"]);
        assert_eq!(one.len(), 2);
    }
}
