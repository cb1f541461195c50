//! Readiness before a flip, and what happens around the enforcement date: the T-3 readiness
//! notice to the platform team, the overdue notice when the date passed but the policy is still
//! in Audit, and the "now enforced" follow-up to the teams whose resources the flip now blocks —
//! at the first tick that sees the flip, on the date itself when it came before that day's tick.
//!
//! Pure: decides from the inventory, the config and `now` (the state at the moment of sending);
//! never I/O. A policy is *ready* when every failing result that the flip would block (Audit
//! now, Enforce after it) is covered by an active exception; namespaces an override keeps in
//! Audit after the flip are listed apart.

use crate::config::Config;
use crate::inventory::{Inventory, Mode, Name, Policy, push_sample};
use crate::model::ids::{ClusterName, Destination, Engine, NoticeId, TeamKey};
use crate::model::time::{EnforceOn, start_of_day};
use crate::plan::exceptions::{Coverage, coverage, exception_id, is_active};
use crate::plan::resolve::Resolved;
use crate::plan::schedule::send_time;
use crate::plan::views::{
    EnforcedItem, EnforcedView, KeptView, PlatformView, PolicyName, ReadinessItem, ReadinessView,
    SampleView, TeamView,
};
use crate::plan::{CLUSTER_SCOPED, NamespaceFailures, Notice, NoticeKind, Payload};
use chrono::{DateTime, Duration, FixedOffset, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One namespace's part of a readiness check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamespaceReadiness {
    pub namespace: String,
    /// Who owns it (team key, channel, or `platform`).
    pub audience: String,
    /// Failing resources no active exception covers: these will be blocked.
    pub uncovered: u64,
    /// Failing resources an active exception covers.
    pub covered: u64,
    /// Failing resources an active exception may cover, when forewarn cannot evaluate all of
    /// it (CEL, resource labels, …): not ready, since they may be blocked.
    pub possibly: u64,
    /// Up to five uncovered resources, `Kind/name`. Shared with the notices that show them.
    pub sample: Arc<[String]>,
    /// Up to five possibly covered resources, `Kind/name`.
    pub possibly_sample: Arc<[String]>,
    /// Why they are only possibly covered: `exception <id>: <reason>`, each once (at most five).
    pub possibly_why: Arc<[String]>,
}

/// A namespace's readiness while the findings are counted.
struct Tally {
    counts: NamespaceReadiness,
    sample: Vec<String>,
    possibly_sample: Vec<String>,
    possibly_why: Vec<String>,
}

impl Tally {
    fn done(self) -> NamespaceReadiness {
        NamespaceReadiness {
            sample: self.sample.into(),
            possibly_sample: self.possibly_sample.into(),
            possibly_why: self.possibly_why.into(),
            ..self.counts
        }
    }
}

/// A namespace where the policy fails but an override keeps it in Audit after the flip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeptInAudit {
    pub namespace: String,
    pub audience: String,
    /// Failing resources there (admitted before and after the flip).
    pub failing: u64,
}

/// Whether a policy can be flipped to Enforce without blocking anyone by surprise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Readiness {
    pub policy: String,
    pub enforce_on: Option<String>,
    /// Namespaces where the flip would start blocking failing resources.
    pub namespaces: Vec<NamespaceReadiness>,
    /// Namespaces that stay in Audit by override after the flip, with failing resources.
    pub kept_in_audit: Vec<KeptInAudit>,
    /// Whether the flip has yet to happen (Audit somewhere it would be Enforce after it).
    pub flip_pending: bool,
    /// Days past the enforcement date while the flip has yet to happen: overdue.
    pub days_late: Option<i64>,
    /// Violations the engine found but did not list (Gatekeeper's
    /// `--constraint-violations-limit`), while the flip is pending: forewarn cannot tell where
    /// they are or whether an exception covers them, so the counts are lower bounds.
    pub unlisted: u64,
    /// What the teams that would be blocked answered with the buttons, and who has not.
    pub triage: crate::plan::triage::TriageView,
}

impl Readiness {
    pub fn uncovered(&self) -> u64 {
        self.namespaces.iter().map(|n| n.uncovered).sum()
    }

    pub fn covered(&self) -> u64 {
        self.namespaces.iter().map(|n| n.covered).sum()
    }

    pub fn possibly(&self) -> u64 {
        self.namespaces.iter().map(|n| n.possibly).sum()
    }

    /// Ready only when every failure is provably covered: a possibly covered one may be
    /// blocked, and so may a violation the engine did not list.
    pub fn is_ready(&self) -> bool {
        self.uncovered() == 0 && self.possibly() == 0 && self.unlisted == 0
    }

    /// Failing resources not provably covered (uncovered or possibly covered), per audience.
    pub fn by_audience(&self) -> BTreeMap<&str, u64> {
        let mut out = BTreeMap::new();
        for n in &self.namespaces {
            *out.entry(n.audience.as_str()).or_default() += n.uncovered + n.possibly;
        }
        out
    }
}

/// Readiness of every validating policy, in one pass over the failing results: per policy,
/// the failing resources in namespaces where it still audits, split into those an active
/// exception covers and those it does not. Policies without failures are ready.
pub fn readiness_all(res: &Resolved) -> BTreeMap<String, Readiness> {
    let inv = res.inv;
    let now_utc = res.now.with_timezone(&Utc);
    let active: Vec<_> = res
        .exceptions()
        .filter(|(_, v, _)| is_active(v, now_utc))
        .map(|(x, ..)| x)
        .collect();
    // Findings name their policy as reports do: by engine (the result's source) and name.
    // Several policies share a report name: the bindings of one ValidatingAdmissionPolicy.
    let mut policies: BTreeMap<(Engine, String), Vec<&Policy>> = BTreeMap::new();
    for p in inv.policies.iter().filter(|p| p.is_validating()) {
        policies
            .entry((p.engine(), p.reference.report_name()))
            .or_default()
            .push(p);
    }
    let mut per_policy: BTreeMap<&str, BTreeMap<String, Tally>> = BTreeMap::new();
    let mut kept: BTreeMap<&str, BTreeMap<String, KeptInAudit>> = BTreeMap::new();
    for (resource, findings) in &inv.findings {
        let named = findings
            .iter()
            .filter(|f| f.result == "fail")
            .flat_map(|f| {
                policies
                    .get(&(f.engine, f.policy.to_string()))
                    .into_iter()
                    .flatten()
                    .map(move |p| (*p, f))
            });
        for (policy, f) in named {
            let ns = resource.namespace.as_str();
            if !ns.is_empty() && !policy.reaches(ns, inv.namespace_labels(ns)) {
                continue;
            }
            let (mode_ns, mode_labels) = crate::plan::mode_context(inv, policy, &resource.kind, ns);
            let shown = if ns.is_empty() { CLUSTER_SCOPED } else { ns };
            if policy.stays_audit_in(f.rule.as_deref(), mode_ns, mode_labels) {
                // Not blocked by the flip: an override keeps this namespace in Audit.
                kept.entry(policy.label.as_str())
                    .or_default()
                    .entry(shown.to_string())
                    .or_insert_with(|| KeptInAudit {
                        namespace: shown.to_string(),
                        audience: res.owner(shown).0.audience.key(),
                        failing: 0,
                    })
                    .failing += 1;
                continue;
            }
            if !policy.flips_in(f.rule.as_deref(), mode_ns, mode_labels) {
                continue;
            }
            let entry = per_policy
                .entry(policy.label.as_str())
                .or_default()
                .entry(shown.to_string())
                .or_insert_with(|| Tally {
                    counts: NamespaceReadiness {
                        namespace: shown.to_string(),
                        audience: res.owner(shown).0.audience.key(),
                        uncovered: 0,
                        covered: 0,
                        possibly: 0,
                        sample: Arc::new([]),
                        possibly_sample: Arc::new([]),
                        possibly_why: Arc::new([]),
                    },
                    sample: Vec::new(),
                    possibly_sample: Vec::new(),
                    possibly_why: Vec::new(),
                });
            let ns_labels = inv.namespaces.get(ns).map(|n| &n.labels);
            let mut verdict = Coverage::NotCovered;
            for x in &active {
                match coverage(x, policy, f.rule.as_deref(), resource, ns_labels) {
                    Coverage::Covered => {
                        verdict = Coverage::Covered;
                        break;
                    }
                    Coverage::Possibly(why) if verdict == Coverage::NotCovered => {
                        verdict =
                            Coverage::Possibly(format!("exception {}: {why}", exception_id(x)));
                    }
                    _ => {}
                }
            }
            let label = format!("{}/{}", resource.kind, resource.name);
            match verdict {
                Coverage::Covered => entry.counts.covered += 1,
                Coverage::Possibly(why) => {
                    entry.counts.possibly += 1;
                    push_sample(&mut entry.possibly_sample, label);
                    push_sample(&mut entry.possibly_why, why);
                }
                Coverage::NotCovered => {
                    entry.counts.uncovered += 1;
                    push_sample(&mut entry.sample, label);
                }
            }
        }
    }
    policies
        .values()
        .flatten()
        .map(|policy| {
            let rollout = res.rollout(policy);
            let namespaces = per_policy.remove(policy.label.as_str()).unwrap_or_default();
            let kept_in_audit = kept.remove(policy.label.as_str()).unwrap_or_default();
            let flip_pending = crate::plan::flip_pending(policy, inv);
            let days_late = rollout
                .enforce_on
                .filter(|e| flip_pending && e.passed_at(res.now, res.config.time_zone))
                .map(|e| (res.today() - e.date).num_days());
            let unlisted = policy
                .truncated
                .filter(|_| flip_pending)
                .map_or(0, |t| t.total.saturating_sub(t.listed));
            // The teams the flip would block are asked; an override's namespaces are not.
            let triage = crate::plan::triage::triage_view(
                res.config,
                res.answers(),
                &inv.cluster,
                &policy.reference,
                rollout.enforce_on.as_ref(),
                namespaces
                    .values()
                    .map(|n| &n.counts)
                    .filter(|n| n.uncovered + n.possibly > 0)
                    .map(|n| n.audience.as_str()),
            );
            let r = Readiness {
                triage,
                flip_pending,
                days_late,
                unlisted,
                policy: policy.label.clone(),
                enforce_on: rollout.enforce_on.map(|e| e.display()),
                namespaces: namespaces.into_values().map(Tally::done).collect(),
                kept_in_audit: kept_in_audit.into_values().collect(),
            };
            (policy.label.clone(), r)
        })
        .collect()
}

/// Checks one policy (see [`readiness_all`]).
pub fn readiness(
    policy: &Policy,
    inv: &Inventory,
    config: &Config,
    now: DateTime<FixedOffset>,
) -> Readiness {
    readiness_all(&Resolved::new(inv, config, now))
        .remove(&policy.label)
        .unwrap_or_else(|| Readiness {
            policy: policy.label.clone(),
            enforce_on: None,
            namespaces: Vec::new(),
            kept_in_audit: Vec::new(),
            flip_pending: false,
            days_late: None,
            unlisted: 0,
            triage: Default::default(),
        })
}

fn shown_date(e: &EnforceOn, config: &Config) -> String {
    e.shown(config.time_zone)
}

/// The readiness (or overdue) view of `r` for `policy`.
fn readiness_view(
    kind: &'static str,
    r: &Readiness,
    policy: &Policy,
    shown_on: String,
    days_left: Option<i64>,
    config: &Config,
    trend: Option<crate::plan::views::TrendView>,
) -> ReadinessView {
    ReadinessView {
        kind,
        policy: PolicyName {
            id: policy.label.clone(),
            title: policy.title().to_string(),
        },
        enforce_on: shown_on,
        days_left,
        when: days_left.map(crate::model::words::relative_days),
        days_late: r.days_late,
        ready: r.is_ready(),
        uncovered: r.uncovered(),
        covered: r.covered(),
        possibly: r.possibly(),
        unlisted: r.unlisted,
        unscored: policy.is_unscored(),
        items: r
            .namespaces
            .iter()
            .filter(|n| n.uncovered > 0 || n.possibly > 0)
            .map(|n| ReadinessItem {
                name: n.namespace.clone(),
                audience: n.audience.clone(),
                uncovered: n.uncovered,
                covered: n.covered,
                sample: n.sample.clone(),
                possibly: n.possibly,
                possibly_sample: n.possibly_sample.clone(),
                possibly_why: n.possibly_why.clone(),
            })
            .collect(),
        kept_in_audit: r
            .kept_in_audit
            .iter()
            .map(|k| KeptView {
                name: k.namespace.clone(),
                audience: k.audience.clone(),
                failing: k.failing,
            })
            .collect(),
        triage: r.triage.clone(),
        platform: PlatformView::of(config),
        trend,
        review_url: config.review.page_url(),
    }
}

/// The burn-down of `policy` as a whole, as of `res.now`, against its enforcement day.
pub(crate) fn policy_trend(
    res: &Resolved,
    policy: &str,
    enforce: Option<&EnforceOn>,
) -> Option<crate::plan::views::TrendView> {
    crate::plan::burndown::trend_view(
        &res.failing_series(policy, crate::plan::progress::ALL_TEAMS),
        res.today(),
        res.config.review.trend_days,
        enforce.map(|e| e.date),
    )
}

/// How long after the enforcement date forewarn still tells teams that it is now enforced.
pub const FOLLOW_UP_DAYS: i64 = 14;

/// The readiness (T-N), overdue and now-enforced notices for every policy with a date.
pub fn plan_followups(
    res: &Resolved,
    ready: &BTreeMap<String, Readiness>,
    notices: &mut Vec<Notice>,
) {
    let (config, now) = (res.config, res.now);
    let tz = config.time_zone;
    let today = res.today();
    let platform = Destination::Channel(config.platform.channel.clone());
    for (policy, rollout) in res.validating() {
        let Some(enforce) = rollout.enforce_on else {
            continue;
        };
        let passed = enforce.passed_at(now, tz);
        let policy_brief = std::sync::Arc::new(crate::plan::brief(policy, rollout));
        let Some(r) = ready.get(&policy.label) else {
            continue;
        };
        let base = |id: NoticeId,
                    audience: &str,
                    destination: &Destination,
                    send_at: DateTime<FixedOffset>,
                    milestone: &str,
                    payload: Payload| Notice {
            id,
            kind: payload.kind(),
            policy: policy.label.clone(),
            cluster: None,
            audience: audience.to_string(),
            destination: destination.clone(),
            send_at,
            told_at: send_at,
            milestone: milestone.to_string(),
            enforce_on: Some(enforce),
            namespaces: Default::default(),
            keep_until: enforce.instant.fixed_offset(),
            team: None,
            brief: policy_brief.clone(),
            payload,
        };
        // On or after the date, flipped: the teams whose resources it now blocks hear it the
        // first tick that sees the flip — on the date itself when it was flipped before that
        // day's first tick, never a day late. (Seen as flipped by this plan means: at the time
        // of sending.)
        if !r.flip_pending {
            if today >= enforce.date && (today - enforce.date).num_days() <= FOLLOW_UP_DAYS {
                let Some(at) = start_of_day(enforce.date, tz)
                    .and_then(|d| config.schedule.after(&(d - Duration::seconds(1))).next())
                else {
                    continue;
                };
                notices.extend(enforced_notices(
                    policy,
                    res,
                    &shown_date(&enforce, config),
                    at.fixed_offset(),
                    Some(enforce),
                    None,
                ));
            }
            continue;
        }
        if !passed {
            // Readiness at T-N, to the platform, only when something would be blocked.
            if !r.is_ready()
                && let Some(at) = send_time(&config.schedule, tz, &enforce, config.readiness_days)
            {
                let milestone = format!("T-{}", config.readiness_days);
                let days_left = (enforce.date
                    - crate::plan::told(at.fixed_offset(), now)
                        .with_timezone(&tz)
                        .date_naive())
                .num_days();
                let view = readiness_view(
                    "readiness",
                    r,
                    policy,
                    shown_date(&enforce, config),
                    Some(days_left),
                    config,
                    policy_trend(res, &policy.label, Some(&enforce)),
                );
                notices.push(base(
                    NoticeId::new(NoticeKind::Readiness, &[&policy.label, &milestone]),
                    "platform",
                    &platform,
                    at.fixed_offset(),
                    &milestone,
                    Payload::Readiness(Box::new(view)),
                ));
            }
            continue;
        }
        // After the date and still to be flipped: overdue, to the platform, the first tick
        // after the date (and in every platform digest until it is flipped or the date moves).
        let day_after = start_of_day(enforce.date + Duration::days(1), tz);
        let Some(at) =
            day_after.and_then(|d| config.schedule.after(&(d - Duration::seconds(1))).next())
        else {
            continue;
        };
        let view = readiness_view(
            "overdue",
            r,
            policy,
            shown_date(&enforce, config),
            None,
            config,
            policy_trend(res, &policy.label, Some(&enforce)),
        );
        notices.push(base(
            NoticeId::new(
                NoticeKind::Overdue,
                &[&policy.label, &enforce.date.format("%Y-%m-%d").to_string()],
            ),
            "platform",
            &platform,
            at.fixed_offset(),
            "overdue",
            Payload::Overdue(Box::new(view)),
        ));
    }
}

/// "Now enforced" notices for `policy`: one per owner of the namespaces where it is Enforce
/// (only those in `only`, when given) that still hold failing resources.
pub fn enforced_notices(
    policy: &Policy,
    res: &Resolved,
    since: &str,
    send_at: DateTime<FixedOffset>,
    enforce: Option<EnforceOn>,
    only: Option<&std::collections::BTreeSet<Name>>,
) -> Vec<Notice> {
    let (inv, config) = (res.inv, res.config);
    let keep_until = enforce.map_or(send_at, |e| e.instant.fixed_offset().max(send_at));
    let brief = std::sync::Arc::new(crate::plan::brief(policy, &res.rollout(policy)));
    let mut by_team: BTreeMap<(String, Destination), (Option<TeamKey>, Vec<NamespaceFailures>)> =
        BTreeMap::new();
    // Only the failures the flip now blocks: not those of rules an override keeps in Audit,
    // nor those an Enforce override blocked before the flip (nothing changed for them). With
    // `only` (namespaces seen leaving Audit between two ticks), whatever blocks there now.
    let failures = match only {
        Some(_) => crate::plan::blocking_failures(policy, inv),
        None => crate::plan::flipped_failures(policy, inv),
    };
    for ns in failures {
        if ns.name == crate::plan::CLUSTER_SCOPED
            || only.is_some_and(|o| !o.contains(ns.name.as_str()))
        {
            continue;
        }
        let found = res.owner(&ns.name);
        let owner = &found.0;
        by_team
            .entry((owner.audience.key(), owner.destination.clone()))
            .or_insert_with(|| (owner.team.clone(), Vec::new()))
            .1
            .push(NamespaceFailures {
                unowned: owner.unowned,
                ..ns
            });
    }
    by_team
        .into_iter()
        .map(|((audience, destination), (team, namespaces))| {
            let view = EnforcedView {
                policy: PolicyName {
                    id: policy.label.clone(),
                    title: policy.title().to_string(),
                },
                enforce_on: since.to_string(),
                what_to_do: brief.what_to_do.clone(),
                guidance: brief.guidance.clone(),
                contact: brief
                    .contact
                    .clone()
                    .or_else(|| config.platform.contact.clone())
                    .unwrap_or_else(|| config.platform.channel.clone()),
                team: team.as_deref().map(|k| TeamView::of(k, config, true)),
                total_failing: namespaces.iter().map(|n| n.failing).sum(),
                items: namespaces
                    .iter()
                    .map(|ns| EnforcedItem {
                        name: ns.name.clone(),
                        failing: ns.failing,
                        sample: ns
                            .sample
                            .iter()
                            .map(|r| SampleView {
                                kind: r.kind.to_string(),
                                name: r.name.to_string(),
                                message: r.message.as_deref().map(str::to_string),
                            })
                            .collect(),
                    })
                    .collect(),
            };
            Notice {
                id: NoticeId::new(NoticeKind::Enforced, &[&policy.label, &audience]),
                kind: NoticeKind::Enforced,
                policy: policy.label.clone(),
                cluster: None,
                audience,
                destination,
                send_at,
                told_at: send_at,
                milestone: "enforced".to_string(),
                enforce_on: enforce,
                namespaces: std::sync::Arc::new(namespaces),
                keep_until,
                team,
                brief: brief.clone(),
                payload: Payload::Enforced(Box::new(view)),
            }
        })
        .collect()
}

/// Where each validating policy is in Audit, for noticing flips between two inventories:
/// (cluster, policy label) → namespaces (among those known) where it audits.
pub type AuditModes = BTreeMap<(ClusterName, String), std::collections::BTreeSet<Name>>;

pub fn audit_modes(clusters: &[Inventory]) -> AuditModes {
    let mut out = AuditModes::new();
    for inv in clusters {
        let names: Vec<Name> = inv.namespaces.keys().map(Name::from).collect();
        for p in inv.policies.iter().filter(|p| p.is_validating()) {
            let auditing = inv
                .namespaces
                .values()
                .zip(&names)
                .filter(|(ns, _)| {
                    p.reaches(&ns.name, &ns.labels)
                        && p.mode_for(None, &ns.name, &ns.labels) == Mode::Audit
                })
                .map(|(_, name)| name.clone())
                .collect();
            out.insert((inv.cluster.clone(), p.label.clone()), auditing);
        }
    }
    out
}

/// "Now enforced" notices for policies that were in Audit in some namespaces in `before` and are
/// Enforce there now — flips seen between two inventories, with or without an enforcement date.
pub fn flip_notices(
    before: &AuditModes,
    clusters: &[Inventory],
    config: &Config,
    now: DateTime<FixedOffset>,
) -> Vec<Notice> {
    let now_modes = audit_modes(clusters);
    let since = crate::model::time::show_day(now.with_timezone(&config.time_zone));
    let mut out = Vec::new();
    for inv in clusters {
        let res = Resolved::new(inv, config, now);
        let first = out.len();
        for policy in inv.policies.iter().filter(|p| p.is_validating()) {
            let key = (inv.cluster.clone(), policy.label.clone());
            let (Some(was), Some(is)) = (before.get(&key), now_modes.get(&key)) else {
                continue;
            };
            let flipped: std::collections::BTreeSet<Name> = was.difference(is).cloned().collect();
            if flipped.is_empty() {
                continue;
            }
            out.extend(enforced_notices(
                policy,
                &res,
                &since,
                now,
                res.rollout(policy).enforce_on,
                Some(&flipped),
            ));
        }
        crate::plan::stamp_cluster(&mut out[first..], inv, clusters.len(), config);
    }
    out
}
