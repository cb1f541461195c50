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

/// Counts of report results by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ResultCounts {
    pub pass: u64,
    pub fail: u64,
    pub warn: u64,
    pub error: u64,
    pub skip: u64,
}

impl ResultCounts {
    pub fn add(&mut self, b: &ResultCounts) {
        self.pass += b.pass;
        self.fail += b.fail;
        self.warn += b.warn;
        self.error += b.error;
        self.skip += b.skip;
    }
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
    sample: Vec<FailingResource>,
    warnings: Option<Warnings>,
}

/// Report results for one policy in one namespace (or cluster-scoped).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResultSummary {
    pub counts: ResultCounts,
    /// Skip results that name the exception that skipped them.
    pub skipped_by_exception: u64,
    /// Boxed: most summaries only count passes.
    failures: Option<Box<Failures>>,
}

static NO_RULES: RuleCounts = RuleCounts(Vec::new());

impl ResultSummary {
    /// Failing results per rule (`""` when the result names no rule).
    pub fn fail_by_rule(&self) -> &RuleCounts {
        self.failures.as_ref().map_or(&NO_RULES, |f| &f.by_rule)
    }

    /// A bounded sample of failing resources, first seen first.
    pub fn sample(&self) -> &[FailingResource] {
        self.failures.as_ref().map_or(&[], |f| &f.sample)
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
        self.counts.fail += n;
        self.failures().by_rule.add(rule, n);
    }

    /// Counts a failing result of `rule`, with the resource for the sample.
    pub fn add_failure(&mut self, rule: Name, resource: Option<FailingResource>) {
        self.add_failures(rule, 1);
        if let Some(r) = resource {
            push_sample(&mut self.failures().sample, r);
        }
    }

    /// Keeps `resource` in the sample of failing resources (when there is room).
    pub fn add_sample(&mut self, resource: FailingResource) {
        push_sample(&mut self.failures().sample, resource);
    }

    /// Counts `n` warning results of `rule` (see [`ResultSummary::warnings`]).
    pub fn add_warnings(&mut self, rule: Name, n: u64) {
        self.counts.warn += n;
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
        self.counts.add(&other.counts);
        self.skipped_by_exception += other.skipped_by_exception;
        let Some(theirs) = &other.failures else {
            return;
        };
        let mine = self.failures();
        mine.by_rule.absorb(&theirs.by_rule);
        for r in &theirs.sample {
            push_sample(&mut mine.sample, r.clone());
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
        self.counts.fail += self.counts.warn;
        self.counts.warn = 0;
        if let Some(f) = &mut self.failures
            && let Some(w) = f.warnings.take()
        {
            for (rule, n) in w.by_rule.0 {
                f.by_rule.add(rule, n);
            }
            for r in w.sample {
                push_sample(&mut f.sample, r);
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
        let samples = f
            .sample
            .iter_mut()
            .chain(f.warnings.iter_mut().flat_map(|w| w.sample.iter_mut()));
        for r in samples {
            r.canon(names);
        }
        if let Some(w) = &mut f.warnings {
            w.by_rule.canon(names);
        }
        f.sample.shrink_to_fit();
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

/// No namespace or binding, in a numeric key.
const NONE: u32 = u32::MAX;

/// Engine, policy, namespace, binding as [`Names`] numbers ([`NONE`]: absent).
type NumericKey = (Engine, u32, u32, u32);

/// While results are added: the shared names and where each key's summary is.
#[derive(Debug, Clone, Default)]
struct Filling {
    names: Names,
    index: HashMap<NumericKey, u32>,
}

/// Every summary of an inventory. Added to in any order; [`Results::seal`] (called by the
/// inventory's `finish`) sorts it by key, so that it is read in key order and by range.
#[derive(Debug, Clone, Default)]
pub struct Results {
    entries: Vec<(ResultKey, ResultSummary)>,
    /// Present while results are added; rebuilt when something is added after sealing.
    filling: Option<Box<Filling>>,
}

/// The same summaries under the same keys, in whatever order they were added.
impl PartialEq for Results {
    fn eq(&self, other: &Results) -> bool {
        if self.filling.is_none() && other.filling.is_none() {
            return self.entries == other.entries;
        }
        fn sorted(r: &Results) -> Vec<&(ResultKey, ResultSummary)> {
            let mut all: Vec<_> = r.entries.iter().collect();
            all.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            all
        }
        sorted(self) == sorted(other)
    }
}

impl Results {
    fn filling(&mut self) -> &mut Filling {
        if self.filling.is_none() {
            let mut f = Filling::default();
            for (i, (key, s)) in self.entries.iter_mut().enumerate() {
                let numeric = numeric(&mut f.names, key);
                canon_key(&mut f.names, key);
                s.canon(&mut f.names);
                f.index.insert(numeric, i as u32);
            }
            self.filling = Some(Box::new(f));
        }
        self.filling.get_or_insert_with(Default::default)
    }

    /// The shared copy of `s`, for what is added next (samples, findings).
    pub fn name(&mut self, s: &str) -> Name {
        self.filling().names.intern(s)
    }

    /// The shared names, for what is added next.
    pub fn names(&mut self) -> &mut Names {
        &mut self.filling().names
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
        self.filling();
        let Results { entries, filling } = self;
        let f = filling.get_or_insert_with(Default::default);
        let key = (
            engine,
            f.names.id(policy),
            namespace.map_or(NONE, |n| f.names.id(n)),
            binding.map_or(NONE, |b| f.names.id(b)),
        );
        let next = entries.len() as u32;
        let i = *f.index.entry(key).or_insert(next);
        let new = i == next;
        if new {
            let name = |id: u32| (id != NONE).then(|| f.names.get(id).clone());
            let full = (engine, f.names.get(key.1).clone(), name(key.2), name(key.3));
            entries.push((full, ResultSummary::default()));
        }
        (&mut entries[i as usize].1, new, &mut f.names)
    }

    /// Adds `s` to the summary of `key`.
    pub fn add(&mut self, key: &ResultKey, mut s: ResultSummary) {
        let (engine, policy, namespace, binding) = key;
        s.canon(self.names());
        match self.slot(*engine, policy, namespace.as_deref(), binding.as_deref()) {
            (mine, true, _) => *mine = s,
            (mine, false, _) => mine.absorb(&s),
        }
    }

    /// Adds everything `other` holds, after what this one holds.
    pub fn merge(&mut self, other: Results) {
        // Nothing here yet: take `other` whole rather than copy it (names given out for what
        // was added before stay valid; they are only not shared with `other`'s).
        if self.entries.is_empty() {
            *self = other;
            return;
        }
        for ((engine, policy, namespace, binding), mut s) in other.entries {
            s.canon(self.names());
            match self.slot(engine, &policy, namespace.as_deref(), binding.as_deref()) {
                (mine, true, _) => *mine = s,
                (mine, false, _) => mine.absorb(&s),
            }
        }
    }

    /// Sorts the summaries by key and drops what was kept for adding.
    pub fn seal(&mut self) {
        if self.filling.take().is_some() {
            self.entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            self.entries.shrink_to_fit();
        }
    }

    fn sealed(&self) -> &[(ResultKey, ResultSummary)] {
        debug_assert!(
            self.filling.is_none(),
            "results read before the inventory was finished"
        );
        &self.entries
    }

    /// The summaries of `policy` (as reports name it) for `engine`, in namespace then binding
    /// order.
    pub fn of_policy(&self, engine: Engine, policy: &str) -> &[(ResultKey, ResultSummary)] {
        let all = self.sealed();
        let from = all.partition_point(|((e, p, _, _), _)| (*e, p.as_str()) < (engine, policy));
        let to = from
            + all[from..].partition_point(|((e, p, _, _), _)| (*e, p.as_str()) == (engine, policy));
        &all[from..to]
    }

    /// The summary of `key`.
    pub fn get(&self, key: &ResultKey) -> Option<&ResultSummary> {
        match self.filling {
            None => self
                .entries
                .binary_search_by(|(k, _)| k.cmp(key))
                .ok()
                .map(|i| &self.entries[i].1),
            Some(_) => self.entries.iter().find(|(k, _)| k == key).map(|(_, s)| s),
        }
    }

    /// Every summary with its key (in key order once sealed).
    pub fn iter(&self) -> impl Iterator<Item = (&ResultKey, &ResultSummary)> {
        self.entries.iter().map(|(k, s)| (k, s))
    }

    /// Every summary, to change it in place (keys stay as they are).
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut ResultSummary> {
        self.entries.iter_mut().map(|(_, s)| s)
    }

    /// Every summary with its key, to change the summary in place.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&ResultKey, &mut ResultSummary)> {
        self.entries.iter_mut().map(|(k, s)| (&*k, s))
    }

    pub fn keys(&self) -> impl Iterator<Item = &ResultKey> {
        self.entries.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &ResultSummary> {
        self.entries.iter().map(|(_, s)| s)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl IntoIterator for Results {
    type Item = (ResultKey, ResultSummary);
    type IntoIter = std::vec::IntoIter<(ResultKey, ResultSummary)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a> IntoIterator for &'a Results {
    type Item = (&'a ResultKey, &'a ResultSummary);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (ResultKey, ResultSummary)>,
        fn(&'a (ResultKey, ResultSummary)) -> (&'a ResultKey, &'a ResultSummary),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(k, s)| (k, s))
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

fn numeric(names: &mut Names, (engine, policy, namespace, binding): &ResultKey) -> NumericKey {
    (
        *engine,
        names.id(policy),
        namespace.as_deref().map_or(NONE, |n| names.id(n)),
        binding.as_deref().map_or(NONE, |b| names.id(b)),
    )
}

fn canon_key(names: &mut Names, (_, policy, namespace, binding): &mut ResultKey) {
    names.canon(policy);
    for n in namespace.iter_mut().chain(binding.iter_mut()) {
        names.canon(n);
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
        let mut r = Results::default();
        r.summary(Engine::Kyverno, "b", Some("team-b"), None)
            .counts
            .pass += 2;
        r.summary(Engine::Kyverno, "a", Some("team-b"), None)
            .counts
            .pass += 1;
        let s = r.summary(Engine::Kyverno, "a", Some("team-a"), None);
        s.add_failure("check".into(), Some(failing("web")));
        r.summary(Engine::Kyverno, "a", None, None).counts.skip += 1;
        r.summary(Engine::Kyverno, "b", Some("team-b"), None)
            .counts
            .pass += 1;
        r.seal();
        let keys: Vec<String> = r
            .keys()
            .map(|(_, p, n, _)| format!("{p}/{}", n.as_deref().unwrap_or("-")))
            .collect();
        assert_eq!(keys, ["a/-", "a/team-a", "a/team-b", "b/team-b"]);
        let a = r.of_policy(Engine::Kyverno, "a");
        assert_eq!(a.len(), 3);
        assert_eq!(a[1].1.fail_by_rule().get("check"), Some(1));
        assert_eq!(a[1].1.sample()[0].name, "web");
        assert_eq!(r.of_policy(Engine::Kyverno, "b")[0].1.counts.pass, 3);
        assert!(r.of_policy(Engine::Gatekeeper, "a").is_empty());
        // Added to after sealing: found again, sealed again.
        r.summary(Engine::Kyverno, "a", Some("team-a"), None)
            .counts
            .pass += 1;
        r.seal();
        assert_eq!(r.of_policy(Engine::Kyverno, "a")[1].1.counts.pass, 1);
        assert_eq!(r.len(), 4);
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
        two.summary(Engine::Kyverno, "c", Some("ns"), None)
            .counts
            .pass = 4;
        one.merge(two);
        one.seal();
        let s = &one.of_policy(Engine::Kyverno, "a")[0].1;
        assert_eq!(s.counts.fail, 3);
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
