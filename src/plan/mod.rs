//! Decides who hears what, when: from an inventory, the config and a point in time to a list of
//! dated notices with stable ids, plus the problems found on the way.
//!
//! `plan` is pure and synchronous: no I/O and no clock (`now` is an argument), so the same call
//! runs in tests, in `forewarn plan` previews and in the scheduler. It never sends anything and
//! never panics on bad data: bad dates and unknown teams come back as problems.

pub mod announce;
pub mod burndown;
pub mod digest;
pub mod exceptions;
pub mod owners;
pub mod progress;
pub mod readiness;
pub mod reminders;
pub mod resolve;
pub mod review;
pub mod rollout;
pub mod schedule;
pub mod triage;
pub mod views;

use crate::config::Config;
use crate::inventory::{FailingResource, Inventory, Labels, Policy};
pub use crate::model::ids::NoticeKind;
use crate::model::ids::{ClusterName, Engine, NoticeId, TeamKey};
use crate::model::problem::Problem;
use crate::model::time::EnforceOn;
use crate::plan::owners::Destination;
use crate::plan::rollout::Rollout;
use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::Arc;
pub use views::Payload;

/// Where cluster-scoped results are listed.
pub const CLUSTER_SCOPED: &str = "(cluster-scoped)";

/// One namespace's share of a notice.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NamespaceFailures {
    pub cluster: ClusterName,
    pub name: String,
    /// Failing results of rules still in Audit there.
    pub failing: u64,
    /// Results that an exception skipped (not counted as failing).
    pub excepted: u64,
    pub unowned: bool,
    /// `failing` is a lower bound: the engine listed fewer violations than it found
    /// (Gatekeeper's `--constraint-violations-limit`); messages say "at least".
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub at_least: bool,
    /// Shared with the inventory's summary when it is the same.
    pub sample: Arc<[FailingResource]>,
}

/// The words a notice needs about its policy, fixed at planning time.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PolicyBrief {
    pub title: String,
    pub description: Option<String>,
    pub category: Option<String>,
    pub severity: Option<String>,
    pub subject: Option<String>,
    pub contact: Option<String>,
    pub guidance: Option<String>,
    pub what_to_do: Option<String>,
    /// The policy sets `policies.kyverno.io/scored: "false"`: its failures are reported as
    /// warnings, and counted here as failing.
    pub unscored: bool,
    /// What the flip changes, in the engine's own terms.
    pub change: crate::plan::views::ChangeView,
}

/// One message to one audience.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notice {
    /// Stable across runs: `announce/<policy>/<audience>/T-<days>` (with the cluster after the
    /// kind when several clusters are planned).
    pub id: NoticeId,
    pub kind: NoticeKind,
    pub policy: String,
    /// The cluster, when messages name it (several clusters, or `cluster-name` configured).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterName>,
    pub audience: String,
    pub destination: Destination,
    pub send_at: DateTime<FixedOffset>,
    /// The moment its words are written for: the send time, or the planning time for a notice
    /// whose time has come (a catch-up speaks of "today" as the day it goes out).
    #[serde(skip)]
    pub told_at: DateTime<FixedOffset>,
    pub milestone: String,
    /// When the policy is enforced (for a reminder: when the exception is due); none for a
    /// digest. Shown as written: a date, or an RFC 3339 time.
    #[serde(serialize_with = "enforce_text")]
    pub enforce_on: Option<EnforceOn>,
    /// Shared by the milestones of one policy and audience (large plans hold many notices).
    pub namespaces: Arc<Vec<NamespaceFailures>>,
    /// The ledger keeps this notice's entry until this moment (plus its retention).
    #[serde(skip)]
    pub keep_until: DateTime<FixedOffset>,
    /// The owning team (for its contact), when there is one.
    #[serde(skip)]
    pub team: Option<TeamKey>,
    #[serde(skip)]
    pub brief: Arc<PolicyBrief>,
    /// What the kind's template sees beyond the envelope.
    #[serde(skip)]
    pub payload: Payload,
}

impl Notice {
    /// Days from the day it is told (see `told_at`) to the enforcement (or due) day, in `tz`;
    /// 0 without a date.
    pub fn days_left(&self, tz: chrono_tz::Tz) -> i64 {
        self.enforce_on.map_or(0, |e| {
            (e.date - self.told_at.with_timezone(&tz).date_naive()).num_days()
        })
    }

    /// What a later notice of the same thread replaces when both are due and only one can be
    /// sent: the rollout of one policy to one audience (heads-ups, "postponed", "all clear" and
    /// "enforced now" tell one story), or for other kinds the kind itself, with the cluster.
    /// Of two unsent notices of one thread, the later one supersedes the earlier.
    pub fn thread(&self) -> (&'static str, Option<&ClusterName>, &str, &str) {
        let family = match self.kind {
            NoticeKind::Announce
            | NoticeKind::Postponed
            | NoticeKind::AllClear
            | NoticeKind::Enforced => "rollout",
            k => k.as_str(),
        };
        (
            family,
            self.cluster.as_ref(),
            self.policy.as_str(),
            self.audience.as_str(),
        )
    }

    /// Whether this notice replaces `earlier` (same thread, later send time).
    pub fn supersedes(&self, earlier: &Notice) -> bool {
        self.thread() == earlier.thread() && self.send_at > earlier.send_at
    }
}

fn enforce_text<S: serde::Serializer>(e: &Option<EnforceOn>, s: S) -> Result<S::Ok, S::Error> {
    match e {
        Some(e) => s.collect_str(&e.display()),
        None => s.serialize_str(""),
    }
}

/// What was already told, as the ledger remembers it: the heads-ups (announce notices) sent,
/// each with the enforcement moment it was about and where it went. The planner reads it to
/// know who was warned, so that a moved date reaches them ("postponed to …") and a team that
/// fixed everything hears "all clear". Built by the scheduler from its ledger; empty for a
/// preview without one.
///
/// Why the ledger rather than the previous date's milestones: the inventory holds only the
/// current `enforce-on`, so the old date — and whether its heads-ups really went out (an
/// outage, a team added later) — is known only from what was sent. Each ledger entry keeps the
/// enforcement moment it was about, so "warned about another date" is a plain comparison.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub told: Vec<Told>,
    /// The daily counts recorded so far (today's included), for the trend words of the digest
    /// and readiness notices; empty without a store.
    pub progress: Arc<progress::Progress>,
    /// What teams answered with the buttons under the heads-ups (listed by the readiness
    /// notice and the platform digest); `None` when no answer store was read (a preview), and
    /// then nothing is listed rather than "no answer yet" from everyone.
    pub answers: Option<crate::model::triage::Answers>,
}

/// One heads-up that went out (or may have: a pending send counts).
#[derive(Debug, Clone)]
pub struct Told {
    /// The notice id as the ledger keeps it (`announce/<policy>/<audience>/T-7`).
    pub id: String,
    pub destination: Destination,
    /// The enforcement moment the heads-up was about.
    pub enforce_at: DateTime<FixedOffset>,
}

/// The outcome of planning.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub now: DateTime<FixedOffset>,
    /// Every milestone of every policy that is not yet enforced, in send order.
    pub notices: Vec<Notice>,
    pub problems: Vec<Problem>,
    /// Namespaces nobody owns; their notices go to the platform channel.
    pub unowned: Vec<UnownedNamespace>,
    /// Ids of notices due before `now` that the next tick sends (see [`Plan::catch_ups`]),
    /// in send order; filled in by `forewarn plan`, empty otherwise.
    pub catch_up: Vec<String>,
}

/// A namespace nobody owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnownedNamespace {
    pub cluster: ClusterName,
    pub name: String,
}

impl Plan {
    /// Notices sent at or after `now`: the calendar ahead.
    pub fn upcoming(&self) -> impl Iterator<Item = &Notice> {
        self.notices.iter().filter(move |n| n.send_at >= self.now)
    }

    /// What a tick at `at` sends when nothing was sent yet: for each kind, policy (or
    /// exception) and audience, only the latest notice whose time has come by `at` — the
    /// earlier ones of the same key are superseded (after downtime, one catch-up, never a
    /// burst). The scheduler subtracts what its ledger already holds.
    pub fn due_at(&self, at: DateTime<FixedOffset>) -> Vec<&Notice> {
        type Key<'a> = (NoticeKind, Option<&'a ClusterName>, &'a str, &'a str);
        let mut latest: std::collections::BTreeMap<Key, &Notice> = Default::default();
        for n in self.notices.iter().filter(|n| n.send_at <= at) {
            let key = (
                n.kind,
                n.cluster.as_ref(),
                n.policy.as_str(),
                n.audience.as_str(),
            );
            let slot = latest.entry(key).or_insert(n);
            if n.send_at > slot.send_at {
                *slot = n;
            }
        }
        let mut out: Vec<&Notice> = latest.into_values().collect();
        out.sort_by(|a, b| (a.send_at, &a.id).cmp(&(b.send_at, &b.id)));
        out
    }

    /// The notices whose time has come by `at` that a later one of the same kind, policy (or
    /// exception) and audience replaces, each with the notice that replaces it. The scheduler
    /// can tell the platform which of them never went out (those its ledger does not hold):
    /// superseded, not dropped silently.
    pub fn superseded_at(&self, at: DateTime<FixedOffset>) -> Vec<(&Notice, &Notice)> {
        let latest = self.due_at(at);
        self.notices
            .iter()
            .filter(|n| n.send_at <= at)
            .filter_map(|n| {
                let by = latest
                    .iter()
                    .find(|l| l.supersedes(n) && l.kind == n.kind)?;
                Some((n, *by))
            })
            .collect()
    }

    /// Notices whose time passed before `now` that a tick at `next_tick` would still send
    /// (catch-ups), unless a ledger already holds them.
    pub fn catch_ups(&self, next_tick: DateTime<FixedOffset>) -> Vec<&Notice> {
        self.due_at(next_tick)
            .into_iter()
            .filter(|n| n.send_at < self.now)
            .collect()
    }
}

/// The words a notice needs about `policy`, from its docs and its rollout.
pub fn brief(policy: &Policy, rollout: &Rollout) -> PolicyBrief {
    PolicyBrief {
        title: policy.title().to_string(),
        description: policy.docs.description.clone(),
        category: policy.docs.category.clone(),
        severity: policy.docs.severity.map(|s| s.as_str().to_string()),
        subject: policy.docs.subject.clone(),
        contact: rollout.contact().map(str::to_string),
        guidance: rollout.guidance().map(str::to_string),
        what_to_do: rollout.what_to_do().map(str::to_string),
        unscored: policy.is_unscored(),
        change: crate::plan::views::ChangeView::of(&policy.setting),
    }
}

/// Namespaces where `policy` is still in Audit, would be Enforce after the flip, and has
/// failing results, with counts. Failures of rules an override keeps in Audit after the flip
/// are left out (see [`kept_in_audit`]).
pub fn audit_failures(policy: &Policy, inv: &Inventory) -> Vec<NamespaceFailures> {
    failures_where(policy, inv, Policy::flips_in)
}

/// Namespaces where `policy` blocks now because it was flipped (not because an Enforce override
/// always applied there), with failing results: who hears "enforced now".
pub fn flipped_failures(policy: &Policy, inv: &Inventory) -> Vec<NamespaceFailures> {
    failures_where(policy, inv, Policy::flipped_in)
}

/// Namespaces where `policy` blocks failing results now (Enforce there), however it got so.
pub fn blocking_failures(policy: &Policy, inv: &Inventory) -> Vec<NamespaceFailures> {
    failures_where(policy, inv, |p, rule, ns, labels| {
        p.mode_for(rule, ns, labels) == crate::inventory::Mode::Enforce
    })
}

/// The moment a notice sent at `send_at` speaks for when planned at `now`: a notice whose time
/// has come goes out now, so its words are about now.
pub fn told(send_at: DateTime<FixedOffset>, now: DateTime<FixedOffset>) -> DateTime<FixedOffset> {
    send_at.max(now)
}

/// Namespaces where `policy` fails but an override keeps it in Audit after the flip: nobody
/// there is blocked by the flip; the platform sees them as "stays in Audit by override".
pub fn kept_in_audit(policy: &Policy, inv: &Inventory) -> Vec<NamespaceFailures> {
    failures_where(policy, inv, Policy::stays_audit_in)
}

fn failures_where(
    policy: &Policy,
    inv: &Inventory,
    keep: fn(&Policy, Option<&str>, &str, &crate::inventory::Labels) -> bool,
) -> Vec<NamespaceFailures> {
    let mut out = Vec::new();
    for (ns, summary) in inv.results_for(&policy.reference) {
        let (name, labels) = match ns {
            Some(ns) if !policy.reaches(ns, inv.namespace_labels(ns)) => continue,
            Some(ns) => (ns, inv.namespace_labels(ns)),
            None => ("", inv.namespace_labels("")),
        };
        let audits = |rule: &str| {
            let rule = (!rule.is_empty()).then_some(rule);
            keep(policy, rule, name, labels)
        };
        let empty = Labels::new();
        let audits_object = |rule: &str| {
            let rule = (!rule.is_empty()).then_some(rule);
            keep(policy, rule, "", &empty)
        };
        let mut failing: u64 = summary
            .fail_by_rule()
            .iter()
            .filter(|(rule, _)| audits(rule))
            .map(|(_, n)| n)
            .sum();
        // Failures of the Namespace object itself take the mode Kyverno gives them.
        let object_rules = ns.map(|ns| namespace_object_failures(inv, policy, ns));
        for rule in object_rules.iter().flatten() {
            let rule = rule.unwrap_or("");
            if audits(rule) {
                failing = failing.saturating_sub(1);
            }
            if audits_object(rule) {
                failing += 1;
            }
        }
        if failing == 0 {
            continue;
        }
        let is_object = |r: &FailingResource| r.kind == "Namespace" && Some(r.name.as_str()) == ns;
        out.push(NamespaceFailures {
            cluster: inv.cluster.clone(),
            name: ns.unwrap_or(CLUSTER_SCOPED).to_string(),
            failing,
            excepted: summary.skipped_by_exception(),
            unowned: false,
            at_least: policy.truncated.is_some(),
            sample: {
                let shown = |r: &&FailingResource| {
                    let rule = r.rule.as_deref().unwrap_or("");
                    if is_object(r) {
                        audits_object(rule)
                    } else {
                        audits(rule)
                    }
                };
                if summary.sample().iter().all(|r| shown(&r)) {
                    summary.shared_sample()
                } else {
                    summary.sample().iter().filter(shown).cloned().collect()
                }
            },
        });
    }
    out
}

/// The rules of the failing results of `policy` about the Namespace object `namespace` itself
/// (cluster reports put them in that namespace, for its owner). Kyverno decides their mode with
/// an empty namespace and no namespace labels — a Namespace is cluster-scoped, and its own
/// labels are not looked up (kyverno `pkg/webhooks/resource/handlers.go`) — so an override
/// by namespace name or selector meant for the namespace does not apply to it. Gatekeeper and
/// Kubernetes match a Namespace object by its own name and labels — the namespace's — so for
/// them there is nothing to set apart.
pub fn namespace_object_failures<'a>(
    inv: &'a Inventory,
    policy: &Policy,
    namespace: &str,
) -> Vec<Option<&'a str>> {
    if !matches!(policy.engine(), Engine::Kyverno | Engine::KyvernoValidating) {
        return Vec::new();
    }
    let at = crate::inventory::ResourceRef {
        namespace: namespace.into(),
        kind: "Namespace".into(),
        name: namespace.into(),
    };
    let name = policy.reference.report_name();
    inv.findings
        .get(&at)
        .into_iter()
        .flatten()
        .filter(|f| f.result == "fail" && f.engine == policy.engine() && f.policy == name)
        .map(|f| f.rule.as_deref())
        .collect()
}

/// The namespace and labels Kyverno matches failure-action overrides against for `resource`
/// in `namespace`: none for a Namespace object of a Kyverno policy (see
/// [`namespace_object_failures`]).
pub fn mode_context<'a>(
    inv: &'a Inventory,
    policy: &Policy,
    kind: &str,
    namespace: &'a str,
) -> (&'a str, &'a Labels) {
    static EMPTY: Labels = Labels::new();
    let kyverno = matches!(policy.engine(), Engine::Kyverno | Engine::KyvernoValidating);
    if kind == "Namespace" && kyverno {
        ("", &EMPTY)
    } else {
        (namespace, inv.namespace_labels(namespace))
    }
}

/// Whether `policy` has yet to be flipped anywhere forewarn can see (any known namespace, or
/// a namespace matched by no override): Audit there now, Enforce after the flip. Namespaces an
/// override keeps in Audit do not count — the flip leaves them in Audit.
pub fn flip_pending(policy: &Policy, inv: &Inventory) -> bool {
    let empty = Default::default();
    policy.flip_pending_in("", &empty)
        || inv.namespaces.values().any(|ns| {
            policy.reaches(&ns.name, &ns.labels) && policy.flip_pending_in(&ns.name, &ns.labels)
        })
}

/// Namespaces nobody owns (their notices go to the platform channel): those with an object or
/// report results.
pub fn unowned_namespaces(r: &resolve::Resolved) -> Vec<String> {
    let mut seen: BTreeSet<&str> = r.inv.namespaces.keys().map(String::as_str).collect();
    seen.extend(r.inv.results.keys().filter_map(|(_, _, ns, _)| ns));
    seen.into_iter()
        .filter(|ns| r.owner(ns).0.unowned)
        .map(str::to_string)
        .collect()
}

/// Marks notices planned for `inv`, one of `clusters` planned clusters: with several, the id
/// names the cluster; with several or a configured `cluster-name`, so do the messages.
pub fn stamp_cluster(notices: &mut [Notice], inv: &Inventory, clusters: usize, config: &Config) {
    for n in notices {
        if clusters > 1 {
            n.id = n.id.clone().in_cluster(&inv.cluster);
        }
        if clusters > 1 || config.cluster_name.is_some() {
            n.cluster = Some(inv.cluster.clone());
        }
    }
}

/// Plans every notice for `clusters` as of `now`. With several clusters every notice id names
/// its cluster; messages name it too when several are planned or `cluster-name` is configured.
pub fn plan(clusters: &[Inventory], config: &Config, now: DateTime<FixedOffset>) -> Plan {
    plan_with(clusters, config, now, &History::default())
}

/// [`plan`], knowing what was already told (see [`History`]).
pub fn plan_with(
    clusters: &[Inventory],
    config: &Config,
    now: DateTime<FixedOffset>,
    history: &History,
) -> Plan {
    let several = clusters.len() > 1;
    let mut notices = Vec::new();
    let mut problems = Vec::new();
    let mut unowned = Vec::new();
    for inv in clusters {
        let first = notices.len();
        let first_problem = problems.len();
        // Rollouts, owners and exception views are resolved once; every planner reads them.
        // The heads-ups told about this cluster's policies, with the id's cluster segment
        // (several clusters) taken off so they read like this cluster's own ids.
        let prefix = if several {
            format!("{}/{}/", NoticeKind::Announce.as_str(), inv.cluster)
        } else {
            format!("{}/", NoticeKind::Announce.as_str())
        };
        let told: Vec<Told> = history
            .told
            .iter()
            .filter_map(|t| {
                let rest = t.id.strip_prefix(&prefix)?;
                Some(Told {
                    id: format!("{}/{rest}", NoticeKind::Announce.as_str()),
                    ..t.clone()
                })
            })
            .collect();
        let r = resolve::Resolved::new(inv, config, now)
            .with_told(told)
            .with_progress(
                history.progress.clone(),
                progress::cluster_key(inv, clusters.len()),
            )
            .with_answers(history.answers.as_ref());
        announce::plan_announces(&r, &mut notices, &mut problems);
        // Readiness is computed once, for the follow-ups and the digest.
        let ready = readiness::readiness_all(&r);
        readiness::plan_followups(&r, &ready, &mut notices);
        reminders::plan_reminders(&r, &mut notices, &mut problems);
        digest::plan_digests(&r, &ready, &mut notices);
        stamp_cluster(&mut notices[first..], inv, clusters.len(), config);
        if several {
            for p in &mut problems[first_problem..] {
                p.object = format!("{} (cluster {})", p.object, inv.cluster);
            }
        }
        unowned.extend(
            unowned_namespaces(&r)
                .into_iter()
                .map(|name| UnownedNamespace {
                    cluster: inv.cluster.clone(),
                    name,
                }),
        );
    }
    for n in &mut notices {
        n.told_at = told(n.send_at, now);
    }
    notices.sort_by(|a, b| {
        (a.send_at, a.kind, &a.policy, &a.audience, &a.id).cmp(&(
            b.send_at,
            b.kind,
            &b.policy,
            &b.audience,
            &b.id,
        ))
    });
    Plan {
        now,
        notices,
        problems,
        unowned,
        catch_up: Vec::new(),
    }
}
