//! The live source: the inventory of a running cluster, kept current by kube-rs watchers.
//!
//! Discovers which of the object kinds forewarn reads the cluster serves, watches each (list +
//! watch, relist after 410 Gone, backoff on errors), and keeps one small inventory *fragment*
//! per object — for a report, only its per policy × namespace counts and failing findings, never
//! the report itself. A kind whose API group is not installed is skipped with one info line and
//! picked up by periodic re-discovery; a 403 is one error naming the resource and the RBAC verbs.
//! It only reads: it never writes to the cluster, and it never decides who is told what.

use super::ingest::ingest;
use super::model::{
    FailingResource, Finding, Inventory, Name, ResourceRef, ResultKey, ResultSummary, RuleCounts,
};
use super::snapshot::{InventorySource, SnapshotError};
use crate::model::ids::Engine;
use crate::model::problem::Problem;
use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::{error, info, warn};

/// The kinds forewarn reads, by API group (`""` is the core group).
pub const WANTED: &[(&str, &str)] = &[
    ("", "Namespace"),
    ("kyverno.io", "ClusterPolicy"),
    ("kyverno.io", "Policy"),
    ("kyverno.io", "PolicyException"),
    ("policies.kyverno.io", "ValidatingPolicy"),
    ("policies.kyverno.io", "NamespacedValidatingPolicy"),
    ("policies.kyverno.io", "PolicyException"),
    ("wgpolicyk8s.io", "PolicyReport"),
    ("wgpolicyk8s.io", "ClusterPolicyReport"),
    ("openreports.io", "Report"),
    ("openreports.io", "ClusterReport"),
    ("templates.gatekeeper.sh", "ConstraintTemplate"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
    ),
];

/// The API group in which Gatekeeper serves one kind per ConstraintTemplate (the CRD it
/// creates from `spec.crd.spec.names.kind`): every kind it serves is watched, and the group is
/// looked at again whenever a template changes, so constraints of a new template are read.
pub const CONSTRAINTS_GROUP: &str = "constraints.gatekeeper.sh";

/// How long after a template changes the constraint group is looked at again (Gatekeeper
/// creates the constraint CRD shortly after the template).
pub const TEMPLATE_SETTLE: Duration = Duration::from_secs(5);

/// How often groups that were missing are looked for again.
pub const REDISCOVER_EVERY: Duration = Duration::from_secs(300);

/// What one object contributes. A report keeps only compact counts per policy × namespace
/// (ids into [`Store::pairs`]), its failing samples and its findings, with every string shared
/// through [`Shared`]: a few bytes per policy × namespace it names and a few dozen per failing
/// result, nothing per passing result beyond its count.
enum Fragment {
    Object(Box<Inventory>),
    Report(ReportFragment),
}

struct ReportFragment {
    /// Per policy × namespace, in increasing pair id: the id's distance from the previous one,
    /// a byte saying which counts are not zero, and those counts (see [`PairCounts`]), each an
    /// unsigned LEB128 number.
    counts: Box<[u8]>,
    /// Pair id → failing results per rule and the sample, in increasing pair id.
    failing: Box<[(u32, FailDetail)]>,
    findings: Box<[(SharedRef, Box<[SharedFinding]>)]>,
    problems: Box<[Problem]>,
    objects: u64,
}

/// Counts of one report for one policy × namespace: pass, fail, warn, error, skip, skipped by
/// an exception.
type PairCounts = [u64; 6];

struct FailDetail {
    fail_by_rule: Box<[(Arc<str>, u64)]>,
    sample: Box<[SharedSample]>,
    /// Warnings, kept until the folded inventory decides whether they are failures (see
    /// `ResultSummary::warn_by_rule`).
    warn_by_rule: Box<[(Arc<str>, u64)]>,
    warn_sample: Box<[SharedSample]>,
}

/// A [`FailingResource`] whose strings are shared.
struct SharedSample {
    kind: Arc<str>,
    name: Arc<str>,
    /// The rule and the message (policy and result are empty).
    said: Arc<Said>,
}

/// A [`ResourceRef`] whose strings are shared.
struct SharedRef {
    namespace: Arc<str>,
    kind: Arc<str>,
    name: Arc<str>,
}

/// A [`Finding`] whose strings are shared.
struct SharedFinding {
    engine: Engine,
    said: Arc<Said>,
}

/// What a finding says, apart from about which resource: the same for every resource a rule
/// fails the same way, so held once.
#[derive(PartialEq, Eq, Hash)]
struct Said {
    policy: Arc<str>,
    binding: Option<Arc<str>>,
    rule: Option<Arc<str>>,
    result: Arc<str>,
    message: Option<Arc<str>>,
}

/// Values that reports repeat, each held once. A value no fragment holds any more is dropped
/// at a later prune.
struct Interner<T: ?Sized> {
    held: HashSet<Arc<T>>,
    /// How many values were held after the last prune.
    kept: usize,
}

impl<T: ?Sized> Default for Interner<T> {
    fn default() -> Self {
        Interner {
            held: HashSet::new(),
            kept: 0,
        }
    }
}

impl<T: ?Sized + Eq + std::hash::Hash> Interner<T> {
    fn get(&mut self, value: &T, make: impl FnOnce(&T) -> Arc<T>) -> Arc<T> {
        if let Some(shared) = self.held.get(value) {
            return shared.clone();
        }
        let shared = make(value);
        self.held.insert(shared.clone());
        shared
    }

    /// Drops the values only the interner holds, once it has doubled since the last prune
    /// (so pruning costs a constant amount per value interned).
    fn prune(&mut self) {
        if self.held.len() > 2 * self.kept + 1024 {
            self.held.retain(|s| Arc::strong_count(s) > 1);
            self.kept = self.held.len();
        }
    }
}

/// What fragments share: strings (policy, rule, kind and resource names, messages — Kyverno
/// writes the same message for every resource a rule fails) and what findings say.
#[derive(Default)]
struct Shared {
    strings: Interner<str>,
    said: Interner<Said>,
}

impl Shared {
    fn get(&mut self, s: &str) -> Arc<str> {
        self.strings.get(s, |s| Arc::from(s))
    }

    fn opt(&mut self, s: Option<&str>) -> Option<Arc<str>> {
        s.map(|s| self.get(s))
    }

    fn said(&mut self, said: &Finding) -> Arc<Said> {
        let said = Said {
            policy: self.get(&said.policy),
            binding: self.opt(said.binding.as_deref()),
            rule: self.opt(said.rule.as_deref()),
            result: self.get(&said.result),
            message: self.opt(said.message.as_deref()),
        };
        self.held_said(said)
    }

    /// What a sample says: its rule and message.
    fn sample_said(&mut self, rule: Option<&str>, message: Option<&str>) -> Arc<Said> {
        let said = Said {
            policy: self.get(""),
            binding: None,
            rule: self.opt(rule),
            result: self.get(""),
            message: self.opt(message),
        };
        self.held_said(said)
    }

    fn held_said(&mut self, said: Said) -> Arc<Said> {
        match self.said.held.get(&said) {
            Some(held) => held.clone(),
            None => {
                let held = Arc::new(said);
                self.said.held.insert(held.clone());
                held
            }
        }
    }

    fn prune(&mut self) {
        // What findings say holds strings: it goes first.
        self.said.prune();
        self.strings.prune();
    }
}

/// Policy × namespace pairs seen, each named once.
#[derive(Default)]
struct Pairs {
    ids: HashMap<PairName, u32>,
    names: Vec<PairName>,
}

/// Engine, policy as reports name it, namespace, binding named (as in [`ResultKey`]).
type PairName = (Engine, Arc<str>, Option<Arc<str>>, Option<Arc<str>>);

impl Pairs {
    fn id(&mut self, (engine, policy, namespace, binding): &ResultKey, shared: &mut Shared) -> u32 {
        let key: PairName = (
            *engine,
            shared.get(policy),
            shared.opt(namespace.as_deref()),
            shared.opt(binding.as_deref()),
        );
        if let Some(&id) = self.ids.get(&key) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(key.clone());
        self.ids.insert(key, id);
        id
    }
}

fn put_number(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Reads one number written by [`put_number`] at `*at`, and moves past it.
fn take_number(bytes: &[u8], at: &mut usize) -> u64 {
    let mut n = 0u64;
    let mut shift = 0;
    while let Some(&b) = bytes.get(*at) {
        *at += 1;
        if shift < 64 {
            n |= u64::from(b & 0x7f) << shift;
        }
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    n
}

/// Encodes counts per pair id, in increasing pair id.
fn encode_counts(counts: &[(u32, PairCounts)]) -> Box<[u8]> {
    let mut out = Vec::with_capacity(counts.len() * 4);
    let mut last = 0u32;
    for (id, c) in counts {
        put_number(&mut out, u64::from(id - last));
        last = *id;
        let present = c
            .iter()
            .enumerate()
            .fold(0u8, |m, (i, n)| if *n > 0 { m | 1 << i } else { m });
        out.push(present);
        for n in c.iter().filter(|n| **n > 0) {
            put_number(&mut out, *n);
        }
    }
    out.into_boxed_slice()
}

/// The counts [`encode_counts`] wrote, pair by pair.
fn decode_counts(bytes: &[u8]) -> impl Iterator<Item = (u32, PairCounts)> + '_ {
    let mut at = 0;
    let mut id = 0u32;
    std::iter::from_fn(move || {
        if at >= bytes.len() {
            return None;
        }
        id += take_number(bytes, &mut at) as u32;
        let present = bytes.get(at).copied().unwrap_or(0);
        at += 1;
        let mut c = PairCounts::default();
        for (i, n) in c.iter_mut().enumerate() {
            if present & (1 << i) != 0 {
                *n = take_number(bytes, &mut at);
            }
        }
        Some((id, c))
    })
}

impl SharedSample {
    fn new(r: &FailingResource, shared: &mut Shared) -> SharedSample {
        SharedSample {
            kind: shared.get(&r.kind),
            name: shared.get(&r.name),
            said: shared.sample_said(r.rule.as_deref(), r.message.as_deref()),
        }
    }

    fn owned(&self) -> FailingResource {
        FailingResource {
            kind: self.kind.clone().into(),
            name: self.name.clone().into(),
            rule: self.said.rule.clone().map(Name::from),
            message: self.said.message.clone().map(Name::from),
        }
    }
}

impl SharedFinding {
    fn owned(&self) -> Finding {
        let said = &self.said;
        Finding {
            engine: self.engine,
            policy: said.policy.clone().into(),
            binding: said.binding.clone().map(Name::from),
            rule: said.rule.clone().map(Name::from),
            result: said.result.clone().into(),
            message: said.message.clone().map(Name::from),
        }
    }
}

fn shared_by_rule(by_rule: &RuleCounts, strings: &mut Shared) -> Box<[(Arc<str>, u64)]> {
    by_rule.iter().map(|(r, n)| (strings.get(r), *n)).collect()
}

fn shared_sample(sample: &[FailingResource], strings: &mut Shared) -> Box<[SharedSample]> {
    sample
        .iter()
        .map(|r| SharedSample::new(r, strings))
        .collect()
}

impl Fragment {
    /// Compacts what `ingest` read from one object.
    fn new(mut inv: Inventory, pairs: &mut Pairs, strings: &mut Shared) -> Fragment {
        let only_results = inv.policies.is_empty()
            && inv.exceptions.is_empty()
            && inv.namespaces.is_empty()
            && inv.templates.is_empty()
            && inv.admission_policies.is_empty()
            && inv.bindings.is_empty()
            && inv.skipped.is_empty();
        if !only_results {
            return Fragment::Object(Box::new(inv));
        }
        let mut counts = Vec::with_capacity(inv.results.len());
        let mut failing = Vec::new();
        for (key, s) in std::mem::take(&mut inv.results) {
            let c = s.counts();
            let id = pairs.id(&key, strings);
            counts.push((
                id,
                [
                    c.pass,
                    c.fail,
                    c.warn,
                    c.error,
                    c.skip,
                    s.skipped_by_exception(),
                ],
            ));
            if !s.fail_by_rule().is_empty() || !s.sample().is_empty() || s.warnings().is_some() {
                let none = Default::default();
                let warnings = s.warnings().unwrap_or(&none);
                failing.push((
                    id,
                    FailDetail {
                        fail_by_rule: shared_by_rule(s.fail_by_rule(), strings),
                        sample: shared_sample(s.sample(), strings),
                        warn_by_rule: shared_by_rule(&warnings.by_rule, strings),
                        warn_sample: shared_sample(&warnings.sample, strings),
                    },
                ));
            }
        }
        counts.sort_unstable_by_key(|(id, _)| *id);
        failing.sort_unstable_by_key(|(id, _)| *id);
        let findings = inv
            .findings
            .iter()
            .map(|(at, f)| {
                let at = SharedRef {
                    namespace: strings.get(&at.namespace),
                    kind: strings.get(&at.kind),
                    name: strings.get(&at.name),
                };
                let f = f
                    .iter()
                    .map(|f| SharedFinding {
                        engine: f.engine,
                        said: strings.said(f),
                    })
                    .collect();
                (at, f)
            })
            .collect();
        Fragment::Report(ReportFragment {
            counts: encode_counts(&counts),
            failing: failing.into_boxed_slice(),
            findings,
            problems: inv.problems.into_boxed_slice(),
            objects: inv.objects,
        })
    }
}

/// The templates one object contributed (a ConstraintTemplate's kind).
fn fragment_templates(f: &Fragment) -> Vec<&str> {
    match f {
        Fragment::Object(inv) => inv.templates.keys().map(String::as_str).collect(),
        Fragment::Report(_) => Vec::new(),
    }
}

#[derive(Default)]
struct Store {
    /// (resource, namespace/name) → what that one object contributes.
    /// Shared, so a snapshot copies handles under the lock and folds without it.
    fragments: HashMap<(Arc<str>, Box<str>), Arc<Fragment>>,
    pairs: Pairs,
    /// What fragments share (resource names among them).
    strings: Shared,
    /// Resources being watched, and whether their first listing is complete.
    watched: BTreeMap<String, bool>,
    /// During a relist: the objects seen so far, per resource.
    relisting: HashMap<String, BTreeSet<String>>,
    /// The last error per resource, for readiness reporting.
    errors: BTreeMap<String, String>,
    /// The first discovery pass has registered every kind the cluster serves.
    discovered: bool,
}

/// A cheap-to-clone handle on the live inventory. Readers take a folded copy and never hold
/// the lock while planning.
#[derive(Clone, Default)]
pub struct LiveInventory {
    store: Arc<Mutex<Store>>,
    /// Told when a ConstraintTemplate is added or changed: its constraint kind may be new.
    templates_changed: Arc<tokio::sync::Notify>,
}

fn object_key(obj: &Value) -> String {
    let meta = obj.get("metadata");
    let field = |k: &str| {
        meta.and_then(|m| m.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    format!("{}/{}", field("namespace"), field("name"))
}

impl LiveInventory {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts tracking `resource`; it is not ready until its first listing is done.
    pub fn watching(&self, resource: &str) {
        self.lock()
            .watched
            .entry(resource.to_string())
            .or_insert(false);
    }

    /// An object was added or changed (or listed).
    pub fn apply(&self, resource: &str, obj: &Value) {
        let key = object_key(obj);
        let mut read = Inventory::default();
        ingest(&mut read, obj, &format!("{resource} {key}"));
        let mut guard = self.lock();
        let store = &mut *guard;
        let fragment = Fragment::new(read, &mut store.pairs, &mut store.strings);
        if let Some(seen) = store.relisting.get_mut(resource) {
            seen.insert(key.clone());
        }
        let template = !fragment_templates(&fragment).is_empty();
        let resource = store.strings.get(resource);
        // What a replaced fragment alone held goes at a later prune.
        drop(
            store
                .fragments
                .insert((resource, key.into_boxed_str()), Arc::new(fragment)),
        );
        store.strings.prune();
        drop(guard);
        if template {
            self.templates_changed.notify_one();
        }
    }

    /// An object was deleted.
    pub fn delete(&self, resource: &str, obj: &Value) {
        let key = object_key(obj);
        let mut store = self.lock();
        drop(
            store
                .fragments
                .remove(&(Arc::from(resource), key.into_boxed_str())),
        );
        store.strings.prune();
    }

    /// A (re)list of `resource` starts: what it holds stays until the list is complete.
    pub fn relist_started(&self, resource: &str) {
        self.lock()
            .relisting
            .insert(resource.to_string(), BTreeSet::new());
    }

    /// A (re)list of `resource` is complete: objects it no longer lists are dropped.
    pub fn relist_done(&self, resource: &str) {
        let mut store = self.lock();
        let seen = store.relisting.remove(resource).unwrap_or_default();
        store
            .fragments
            .retain(|(r, key), _| &**r != resource || seen.contains(&**key));
        store.strings.prune();
        store.watched.insert(resource.to_string(), true);
        store.errors.remove(resource);
    }

    fn failed(&self, resource: &str, message: String) {
        self.lock().errors.insert(resource.to_string(), message);
    }

    /// Listing `resource` is forbidden: it is left out, and the rest of the inventory is usable
    /// without it.
    fn forbidden(&self, resource: &str) {
        let mut store = self.lock();
        store.watched.insert(resource.to_string(), true);
        store.errors.insert(
            resource.to_string(),
            "forbidden (needs list and watch)".to_string(),
        );
    }

    /// Resources that could not be read, with why.
    pub fn errors(&self) -> BTreeMap<String, String> {
        self.lock().errors.clone()
    }

    /// Whether every watched resource has completed its first listing.
    pub fn is_ready(&self) -> bool {
        let store = self.lock();
        store.discovered && !store.watched.is_empty() && store.watched.values().all(|done| *done)
    }

    /// The first discovery pass is over: every kind served now is being watched. Until then
    /// the inventory is not ready, even when the kinds found so far are listed.
    pub fn discovery_done(&self) {
        self.lock().discovered = true;
    }

    /// What is not ready yet, for messages.
    pub fn pending(&self) -> Vec<String> {
        let store = self.lock();
        let discovering = (!store.discovered).then(|| "discovering the API groups".to_string());
        discovering
            .into_iter()
            .chain(
                store
                    .watched
                    .iter()
                    .filter(|(_, done)| !**done)
                    .map(|(r, _)| match store.errors.get(r) {
                        Some(e) => format!("{r}: {e}"),
                        None => r.clone(),
                    }),
            )
            .collect()
    }

    /// The whole inventory, folded from the fragments.
    pub fn snapshot(&self) -> Inventory {
        let mut inv = Inventory::default();
        let mut summaries: HashMap<u32, ResultSummary> = HashMap::new();
        // Only handles are copied under the lock; the fold runs without it.
        let fragments: Vec<Arc<Fragment>> = self.lock().fragments.values().cloned().collect();
        for fragment in &fragments {
            match fragment.as_ref() {
                Fragment::Object(f) => inv.absorb(f),
                Fragment::Report(r) => {
                    for (id, c) in decode_counts(&r.counts) {
                        let detail = r
                            .failing
                            .binary_search_by_key(&id, |(j, _)| *j)
                            .ok()
                            .map(|j| &r.failing[j].1);
                        let s = summaries.entry(id).or_default();
                        s.add_counts(
                            &super::model::ResultCounts {
                                pass: c[0],
                                fail: c[1],
                                warn: c[2],
                                error: c[3],
                                skip: c[4],
                            },
                            c[5],
                        );
                        if let Some(d) = detail {
                            let by_rule = |rules: &[(Arc<str>, u64)]| {
                                rules
                                    .iter()
                                    .map(|(r, n)| (Name::from(r.clone()), *n))
                                    .collect::<Vec<_>>()
                            };
                            s.add_rule_counts(by_rule(&d.fail_by_rule), by_rule(&d.warn_by_rule));
                            for x in d.sample.iter() {
                                s.add_sample(x.owned());
                            }
                            for x in d.warn_sample.iter() {
                                s.add_warning_sample(x.owned());
                            }
                        }
                    }
                    for (at, f) in r.findings.iter() {
                        let at = ResourceRef {
                            namespace: at.namespace.clone().into(),
                            kind: at.kind.clone().into(),
                            name: at.name.clone().into(),
                        };
                        inv.findings
                            .entry(at)
                            .or_default()
                            .extend(f.iter().map(SharedFinding::owned));
                    }
                    inv.problems.extend(r.problems.iter().cloned());
                    inv.objects += r.objects;
                }
            }
        }
        let names = {
            let store = self.lock();
            summaries
                .keys()
                .map(|&id| (id, store.pairs.names[id as usize].clone()))
                .collect::<HashMap<_, _>>()
        };
        for (id, s) in summaries {
            let (engine, policy, ns, binding) = &names[&id];
            let key = (
                *engine,
                Name::from(policy.clone()),
                ns.clone().map(Name::from),
                binding.clone().map(Name::from),
            );
            inv.results.add(&key, s);
        }
        inv.finish();
        inv
    }
}

impl InventorySource for LiveInventory {
    fn describe(&self) -> String {
        "the cluster".to_string()
    }

    /// The current inventory, once every watched kind has been listed in full.
    fn load(&self) -> Result<Vec<Inventory>, SnapshotError> {
        if self.is_ready() {
            Ok(vec![self.snapshot()])
        } else {
            Err(SnapshotError::NotReady(format!(
                "waiting for: {}",
                self.pending().join(", ")
            )))
        }
    }
}

/// A resource's name for messages and RBAC: `policyreports.wgpolicyk8s.io`.
fn resource_name(ar: &ApiResource) -> String {
    if ar.group.is_empty() {
        ar.plural.clone()
    } else {
        format!("{}.{}", ar.plural, ar.group)
    }
}

/// Discovers the wanted kinds the cluster serves and watches them until `shutdown`; kinds
/// that are missing are looked for again every `rediscover_every`.
pub async fn run(
    client: kube::Client,
    live: LiveInventory,
    rediscover_every: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut started: BTreeSet<(String, String)> = BTreeSet::new();
    let mut reported_missing: BTreeSet<String> = BTreeSet::new();
    let mut tasks = Vec::new();
    loop {
        let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (g, k) in WANTED {
            if !started.contains(&(g.to_string(), k.to_string())) {
                groups.entry(g).or_default().push(k);
            }
        }
        // Every constraint kind Gatekeeper serves, whatever its name.
        groups.entry(CONSTRAINTS_GROUP).or_default();
        for (group, kinds) in groups {
            match kube::discovery::group(&client, group).await {
                Ok(api_group) if group == CONSTRAINTS_GROUP => {
                    for (ar, _) in api_group.resources_by_stability() {
                        if !started.insert((group.to_string(), ar.kind.clone())) {
                            continue;
                        }
                        let name = resource_name(&ar);
                        info!(resource = %name, version = %ar.version, "watching Gatekeeper constraints");
                        live.watching(&name);
                        tasks.push(tokio::spawn(watch(client.clone(), ar, name, live.clone())));
                    }
                }
                Ok(api_group) => {
                    let served = api_group.resources_by_stability();
                    for kind in kinds {
                        match served.iter().find(|(ar, _)| ar.kind == *kind) {
                            Some((ar, _)) => {
                                started.insert((group.to_string(), kind.to_string()));
                                let name = resource_name(ar);
                                info!(resource = %name, version = %ar.version, "watching");
                                live.watching(&name);
                                tasks.push(tokio::spawn(watch(
                                    client.clone(),
                                    ar.clone(),
                                    name,
                                    live.clone(),
                                )));
                            }
                            None => {
                                if reported_missing.insert(format!("{group}/{kind}")) {
                                    info!(
                                        group,
                                        kind,
                                        "not served by this cluster; skipped (looked for again later)"
                                    );
                                }
                            }
                        }
                    }
                }
                Err(e) => {
                    if reported_missing.insert(group.to_string()) {
                        let shown = if group.is_empty() { "core" } else { group };
                        info!(group = shown, reason = %e, "API group not served; skipped (looked for again later)");
                    }
                }
            }
        }
        live.discovery_done();
        // Constraint kinds come and go with templates: the group is looked at again for as
        // long as forewarn runs, every `rediscover_every` and soon after a template changes.
        tokio::select! {
            _ = tokio::time::sleep(rediscover_every) => {}
            _ = live.templates_changed.notified() => {
                tokio::select! {
                    _ = tokio::time::sleep(TEMPLATE_SETTLE) => {}
                    _ = &mut shutdown => break,
                }
            }
            _ = &mut shutdown => break,
        }
    }
    // The loop ends only at shutdown.
    for t in tasks {
        t.abort();
    }
}

/// Watches one resource: list, then watch; relists after 410 Gone; backs off on errors.
async fn watch(client: kube::Client, ar: ApiResource, name: String, live: LiveInventory) {
    let api: Api<DynamicObject> = Api::all_with(client, &ar);
    let api_version = ar.api_version.clone();
    let kind = ar.kind.clone();
    // The API omits apiVersion and kind on listed items; the readers need them.
    let to_value = |obj: DynamicObject| -> Value {
        let mut v = serde_json::to_value(obj).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut v {
            map.insert("apiVersion".into(), Value::String(api_version.clone()));
            map.insert("kind".into(), Value::String(kind.clone()));
        }
        v
    };
    let mut forbidden_reported = false;
    let mut stream = watcher(api).default_backoff().boxed();
    while let Some(event) = stream.next().await {
        match event {
            Ok(Event::Init) => live.relist_started(&name),
            Ok(Event::InitApply(obj)) | Ok(Event::Apply(obj)) => live.apply(&name, &to_value(obj)),
            Ok(Event::Delete(obj)) => live.delete(&name, &to_value(obj)),
            Ok(Event::InitDone) => {
                info!(resource = %name, "listed");
                live.relist_done(&name);
            }
            Err(e) => {
                let text = e.to_string();
                if is_forbidden(&e) {
                    if !forbidden_reported {
                        error!(
                            resource = %name,
                            "forbidden: forewarn's ServiceAccount needs the RBAC verbs list and watch on {name}; the other resources keep working"
                        );
                        forbidden_reported = true;
                    }
                    live.forbidden(&name);
                } else {
                    warn!(resource = %name, error = %text, "watch error; retrying with backoff");
                    live.failed(&name, text);
                }
            }
        }
    }
}

fn watcher(
    api: Api<DynamicObject>,
) -> impl futures::Stream<Item = watcher::Result<Event<DynamicObject>>> {
    watcher::watcher(api, watcher::Config::default())
}

fn is_forbidden(e: &watcher::Error) -> bool {
    let status = match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => Some(s.code),
        watcher::Error::WatchError(s) => Some(s.code),
        _ => None,
    };
    status == Some(403)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_of_any_size_fold_back_as_they_were() {
        let counts = vec![
            (0, [3, 0, 0, 0, 0, 0]),
            (1, [0, 0, 0, 0, 0, 0]),
            (127, [127, 128, 1, 0, 300, 2]),
            (90_000, [u64::from(u32::MAX) + 5, 0, 16_384, 0, 0, 0]),
        ];
        assert_eq!(
            decode_counts(&encode_counts(&counts)).collect::<Vec<_>>(),
            counts
        );
    }
}
