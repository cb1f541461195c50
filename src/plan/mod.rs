//! Decides who hears what, when: from an inventory, the config and a point in time to a list of
//! dated notices with stable ids, plus the problems found on the way.
//!
//! `plan` is pure and synchronous: no I/O and no clock (`now` is an argument), so the same call
//! runs in tests, in `forewarn plan` previews and in the scheduler. It never sends anything and
//! never panics on bad data: bad dates and unknown teams come back as problems.

pub mod digest;
pub mod exceptions;
pub mod owners;
pub mod readiness;
pub mod reminders;
pub mod rollout;
pub mod schedule;

use crate::config::Config;
use crate::inventory::{FailingResource, Inventory, Mode, Policy};
use crate::model::problem::Problem;
use crate::plan::owners::{Audience, Destination, owner_of};
use crate::plan::rollout::{Rollout, rollout_for};
use crate::plan::schedule::send_time;
use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Where cluster-scoped results are listed.
pub const CLUSTER_SCOPED: &str = "(cluster-scoped)";

/// The kind of a notice; each kind has its own template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoticeKind {
    /// A dated heads-up before a policy is enforced.
    Announce,
    /// To an exception's owner before its review date or expiry, and weekly while overdue.
    Reminder,
    /// The scheduled audit digest, per team and for the platform.
    Digest,
    /// To the platform before a flip that would still block resources.
    Readiness,
    /// To the platform: the enforcement date passed but the policy is still in Audit.
    Overdue,
    /// To the teams still failing a policy that is now enforced.
    Enforced,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Announce => "announce",
            NoticeKind::Reminder => "reminder",
            NoticeKind::Digest => "digest",
            NoticeKind::Readiness => "readiness",
            NoticeKind::Overdue => "overdue",
            NoticeKind::Enforced => "enforced",
        }
    }
}

/// One namespace's share of a notice.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NamespaceFailures {
    pub name: String,
    /// Failing results of rules still in Audit there.
    pub failing: u64,
    /// Results that an exception skipped (not counted as failing).
    pub excepted: u64,
    pub unowned: bool,
    pub sample: Vec<FailingResource>,
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
}

/// One message to one audience.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notice {
    /// Stable across runs: `announce/<policy>/<audience>/T-<days>`.
    pub id: String,
    pub kind: NoticeKind,
    pub policy: String,
    pub audience: String,
    pub destination: String,
    pub send_at: DateTime<FixedOffset>,
    pub milestone: String,
    pub enforce_on: String,
    /// Shared by the milestones of one policy and audience (large plans hold many notices).
    pub namespaces: Arc<Vec<NamespaceFailures>>,
    /// Days between the send day and the enforcement day.
    #[serde(skip)]
    pub days_left: i64,
    #[serde(skip)]
    pub enforce_at: DateTime<FixedOffset>,
    /// The owning team (for its contact), when there is one.
    #[serde(skip)]
    pub team: Option<String>,
    #[serde(skip)]
    pub brief: Arc<PolicyBrief>,
    /// Template data for kinds other than `announce` (their words come from `<kind>.hbs`).
    #[serde(skip)]
    pub data: Option<serde_json::Value>,
}

/// The outcome of planning.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub now: DateTime<FixedOffset>,
    /// Every milestone of every policy that is not yet enforced, in send order.
    pub notices: Vec<Notice>,
    pub problems: Vec<Problem>,
    /// Namespaces nobody owns; their notices go to the platform channel.
    pub unowned: Vec<String>,
}

impl Plan {
    /// Notices sent at or after `now`: the calendar ahead.
    pub fn upcoming(&self) -> impl Iterator<Item = &Notice> {
        self.notices.iter().filter(move |n| n.send_at >= self.now)
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
    }
}

/// Namespaces where `policy` is still in Audit and has failing results, with counts.
pub fn audit_failures(policy: &Policy, inv: &Inventory) -> Vec<NamespaceFailures> {
    let mut out = Vec::new();
    for (ns, summary) in inv.results_for(&policy.reference) {
        let (name, labels) = match ns {
            Some(ns) if !policy.applies_in(ns) => continue,
            Some(ns) => (ns, inv.namespace_labels(ns)),
            None => ("", inv.namespace_labels("")),
        };
        let audits = |rule: &str| {
            let rule = (!rule.is_empty()).then_some(rule);
            policy.mode_for(rule, name, labels) == Mode::Audit
        };
        let failing: u64 = summary
            .fail_by_rule
            .iter()
            .filter(|(rule, _)| audits(rule))
            .map(|(_, n)| n)
            .sum();
        if failing == 0 {
            continue;
        }
        out.push(NamespaceFailures {
            name: ns.unwrap_or(CLUSTER_SCOPED).to_string(),
            failing,
            excepted: summary.skipped_by_exception,
            unowned: false,
            sample: summary
                .sample
                .iter()
                .filter(|r| audits(r.rule.as_deref().unwrap_or("")))
                .cloned()
                .collect(),
        });
    }
    out
}

/// Whether `policy` is in Audit anywhere forewarn can see (any known namespace, or a namespace
/// matched by no override).
fn audits_somewhere(policy: &Policy, inv: &Inventory) -> bool {
    let empty = Default::default();
    policy.mode_for(None, "", &empty) == Mode::Audit
        || inv.namespaces.values().any(|ns| {
            policy.applies_in(&ns.name)
                && policy.mode_for(None, &ns.name, &ns.labels) == Mode::Audit
        })
}

/// Namespaces nobody owns (their notices go to the platform channel).
pub fn unowned_namespaces(inv: &Inventory, config: &Config) -> Vec<String> {
    let mut seen: BTreeSet<&str> = inv.namespaces.keys().map(String::as_str).collect();
    seen.extend(inv.results.keys().filter_map(|(_, _, ns)| ns.as_deref()));
    seen.into_iter()
        .filter(|ns| owner_of(ns, inv, config).0.unowned)
        .map(str::to_string)
        .collect()
}

/// Plans every notice for the inventory as of `now`.
pub fn plan(inv: &Inventory, config: &Config, now: DateTime<FixedOffset>) -> Plan {
    let tz = config.time_zone;
    let today = now.with_timezone(&tz).date_naive();
    let mut notices = Vec::new();
    let mut problems = Vec::new();
    let mut owner_problems = BTreeMap::new();

    for policy in inv.policies.iter().filter(|p| p.is_validating()) {
        let (rollout, rollout_problems) = rollout_for(policy, config);
        problems.extend(rollout_problems);
        let Some(enforce) = rollout.enforce_on else {
            continue;
        };
        let mut affected = audit_failures(policy, inv);
        let passed = if enforce.date_only {
            enforce.date < today
        } else {
            enforce.instant < now
        };
        if passed {
            if audits_somewhere(policy, inv) {
                let failing: u64 = affected.iter().map(|n| n.failing).sum();
                problems.push(Problem::warning(
                    format!("policy {}", policy.label),
                    format!("metadata.annotations.{}", config.annotation("enforce-on")),
                    format!(
                        "enforce-on {} has passed but the policy is still in Audit ({failing} failing result(s) in {} namespace(s))",
                        enforce.display(),
                        affected.len()
                    ),
                ));
            }
            continue;
        }

        // Group the affected namespaces by who hears about them.
        let mut groups: BTreeMap<
            (Audience, Destination),
            (Option<String>, Vec<NamespaceFailures>),
        > = BTreeMap::new();
        for mut ns in affected.drain(..) {
            let (owner, problem) = owner_of(&ns.name, inv, config);
            if let Some(p) = problem {
                owner_problems.entry(p.object.clone()).or_insert(p);
            }
            ns.unowned = owner.unowned;
            groups
                .entry((owner.audience, owner.destination))
                .or_insert_with(|| (owner.team, Vec::new()))
                .1
                .push(ns);
        }

        let policy_brief = Arc::new(brief(policy, &rollout));
        for ((audience, destination), (team, namespaces)) in groups {
            let namespaces = Arc::new(namespaces);
            // One send time per milestone; milestones that fall on the same tick (a weekend
            // shift) keep only the one closest to enforcement.
            let mut by_time: BTreeMap<DateTime<chrono_tz::Tz>, u32> = BTreeMap::new();
            for &days in &config.milestones {
                match send_time(&config.schedule, tz, &enforce, days) {
                    Some(t) => {
                        let slot = by_time.entry(t).or_insert(days);
                        *slot = (*slot).min(days);
                    }
                    None => problems.push(Problem::error(
                        config.source.clone(),
                        "schedule",
                        format!(
                            "'{}' has no tick in the year before T-{days} of policy {}",
                            config.schedule_text, policy.label
                        ),
                    )),
                }
            }
            for (send_at, days) in by_time {
                let days_left = (enforce.date - send_at.date_naive()).num_days();
                notices.push(Notice {
                    id: format!("announce/{}/{}/T-{days}", policy.label, audience.key()),
                    kind: crate::plan::NoticeKind::Announce,
                    policy: policy.label.clone(),
                    audience: audience.key(),
                    destination: destination.to_string(),
                    send_at: send_at.fixed_offset(),
                    milestone: format!("T-{days}"),
                    enforce_on: enforce.display(),
                    namespaces: namespaces.clone(),
                    days_left,
                    enforce_at: enforce.instant.fixed_offset(),
                    team: team.clone(),
                    brief: policy_brief.clone(),
                    data: None,
                });
            }
        }
    }
    problems.extend(owner_problems.into_values());
    // Readiness is computed once, for the follow-ups and the digest.
    let ready = crate::plan::readiness::readiness_all(inv, config, now);
    crate::plan::readiness::plan_followups(inv, config, now, &ready, &mut notices);
    crate::plan::reminders::plan_reminders(inv, config, now, &mut notices, &mut problems);
    crate::plan::digest::plan_digests(inv, config, now, &ready, &mut notices);
    notices.sort_by(|a, b| {
        (a.send_at, a.kind, &a.policy, &a.audience).cmp(&(
            b.send_at,
            b.kind,
            &b.policy,
            &b.audience,
        ))
    });
    let unowned = unowned_namespaces(inv, config);

    Plan {
        now,
        notices,
        problems,
        unowned,
    }
}
