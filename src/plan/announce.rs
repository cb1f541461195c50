//! Announcements: the dated heads-ups (T-14 … T-0) to the owners of every namespace where a
//! policy with an enforcement date still audits, would block after the flip, and fails; and,
//! from what was already told, "postponed" when the date moved and "all clear" when a warned
//! team has nothing left to fix.
//!
//! Pure: reads one cluster's inventory (with what was told), the config and `now`; pushes
//! notices and problems.

use super::owners::{Audience, Destination};
use super::resolve::Resolved;
use super::schedule::send_time;
use super::views::{AllClearView, MovedView, PlatformView, PolicyName, TeamView};
use super::{
    NamespaceFailures, Notice, Payload, audit_failures, brief, flip_pending, kept_in_audit,
};
use crate::model::ids::{NoticeId, NoticeKind, TeamKey};
use crate::model::problem::Problem;
use crate::model::time::{EnforceOn, show_day};
use crate::model::triage::TriageKey;
use crate::model::words::{plural, relative_days};
use chrono::{DateTime, FixedOffset};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Plans the heads-ups of every validating policy of `inv` with an enforcement date that has
/// not passed.
pub fn plan_announces(r: &Resolved, notices: &mut Vec<Notice>, problems: &mut Vec<Problem>) {
    let (inv, config, now) = (r.inv, r.config, r.now);
    let tz = config.time_zone;
    let today = r.today();
    let mut owner_problems = BTreeMap::new();
    for (policy, rollout, rollout_problems) in r.policies().filter(|(p, ..)| p.is_validating()) {
        problems.extend(rollout_problems.iter().cloned());
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
            if flip_pending(policy, inv) {
                let failing: u64 = affected.iter().map(|n| n.failing).sum();
                problems.push(Problem::warning(
                    format!("policy {}", policy.label),
                    enforce_field(rollout, config, &policy.label),
                    format!(
                        "enforce-on {} has passed but the policy is still in Audit ({} in {})",
                        enforce.display(),
                        plural(failing, "failing result"),
                        plural(affected.len() as u64, "namespace")
                    ),
                ));
            }
            continue;
        }
        if !flip_pending(policy, inv) {
            // Nothing left to flip: wherever it still audits, an override keeps it in Audit
            // (and a flip leaves overrides as they are).
            let kept = kept_in_audit(policy, inv);
            if !kept.is_empty() {
                problems.push(Problem::warning(
                    format!("policy {}", policy.label),
                    enforce_field(rollout, config, &policy.label),
                    format!(
                        "enforce-on {} is set, but the policy already enforces wherever no override keeps it in Audit: {} stay in Audit by override after a flip (remove the override to enforce there)",
                        enforce.display(),
                        kept.iter()
                            .map(|n| n.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }

        // Group the affected namespaces by who hears about them.
        let mut groups: BTreeMap<
            (Audience, Destination),
            (Option<TeamKey>, Vec<NamespaceFailures>),
        > = BTreeMap::new();
        for mut ns in affected.drain(..) {
            let found = r.owner(&ns.name);
            let (owner, problem) = found.as_ref();
            if let Some(p) = problem {
                owner_problems
                    .entry(p.object.clone())
                    .or_insert_with(|| p.clone());
            }
            ns.unowned = owner.unowned;
            groups
                .entry((owner.audience.clone(), owner.destination.clone()))
                .or_insert_with(|| (owner.team.clone(), Vec::new()))
                .1
                .push(ns);
        }

        let policy_brief = Arc::new(brief(policy, rollout));
        let told = r.told_about(&policy.label);
        let date_text = enforce.date.format("%Y-%m-%d").to_string();
        let failing_audiences: Vec<String> = groups.keys().map(|(a, _)| a.key()).collect();
        for ((audience, destination), (team, namespaces)) in groups {
            if quiet_for(config, team.as_deref(), policy) {
                continue;
            }
            let key = audience.key();
            let earlier = told.get(&key).map(Vec::as_slice).unwrap_or_default();
            // Warned about another date: the date moved. The heads-ups for the new date then
            // carry it in their ids (`…/<audience>/<date>/T-7`), so they are not taken for the
            // ones already sent about the old date; so do they once any such id was sent.
            let moved_from = earlier
                .iter()
                .filter(|t| t.enforce_at != enforce.instant.fixed_offset())
                .map(|t| t.enforce_at)
                .max();
            let dated = moved_from.is_some()
                || earlier
                    .iter()
                    .any(|t| t.id.contains(&format!("/{date_text}/")));
            if let Some(previous) = moved_from {
                notices.push(moved_notice(
                    r,
                    policy,
                    &policy_brief,
                    enforce,
                    previous,
                    (&key, &destination, team.as_ref()),
                    namespaces.iter().map(|n| n.failing).sum(),
                ));
            }
            let namespaces = Arc::new(namespaces);
            // A team answers the heads-up's buttons for this cluster and policy.
            let triage = team.as_ref().map(|t| {
                Arc::new(TriageKey {
                    cluster: inv.cluster.clone(),
                    policy: policy.reference.clone(),
                    team: t.clone(),
                })
            });
            // One send time per milestone; milestones that fall on the same tick (a weekend
            // shift) keep only the one closest to enforcement.
            let mut by_time: BTreeMap<chrono::DateTime<chrono_tz::Tz>, u32> = BTreeMap::new();
            // On the date itself the policy is still in Audit (or it would not be announced):
            // the T-0 notice says so — "scheduled for today, not switched yet" — unless the
            // config asks for silence until the flip is seen.
            for &days in config
                .milestones
                .iter()
                .filter(|&&d| d > 0 || config.on_the_day)
            {
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
                notices.push(Notice {
                    id: NoticeId::new(
                        NoticeKind::Announce,
                        &[
                            &policy.label,
                            &key,
                            if dated { &date_text } else { "" },
                            &format!("T-{days}"),
                        ],
                    ),
                    kind: NoticeKind::Announce,
                    policy: policy.label.clone(),
                    cluster: None,
                    audience: audience.key(),
                    destination: destination.clone(),
                    send_at: send_at.fixed_offset(),
                    told_at: send_at.fixed_offset(),
                    milestone: format!("T-{days}"),
                    enforce_on: Some(enforce),
                    namespaces: namespaces.clone(),
                    keep_until: enforce.instant.fixed_offset(),
                    team: team.clone(),
                    brief: policy_brief.clone(),
                    payload: Payload::Announce(triage.clone()),
                });
            }
        }
        // Warned, and nothing of theirs fails it any more (or nothing the flip would block):
        // one short "all clear" before the date.
        if config.all_clear && flip_pending(policy, inv) {
            for (key, earlier) in &told {
                if failing_audiences.contains(key) {
                    continue;
                }
                let Some(last) = earlier.iter().max_by_key(|t| t.enforce_at) else {
                    continue;
                };
                notices.push(all_clear_notice(
                    r,
                    policy,
                    &policy_brief,
                    enforce,
                    key,
                    &last.destination,
                ));
            }
        }
    }
    problems.extend(owner_problems.into_values());
}

/// Whether `team` asked to hear no heads-ups about `policy`: it is in the team's `mute` list
/// (by its name as reports write it, or `Kind:name`), or its severity is below the team's
/// `min-severity` (a policy without a severity is always announced). The platform is never
/// quiet (it is not a team), and the digest still lists what a team muted.
pub fn quiet_for(
    config: &crate::config::Config,
    team: Option<&str>,
    policy: &crate::inventory::Policy,
) -> bool {
    let Some(t) = team.and_then(|k| config.teams.get(k)) else {
        return false;
    };
    let muted = t.mute.iter().any(|m| {
        let m = m.trim();
        m == policy.label || m == policy.reference.report_name()
    });
    let below = match (
        t.min_severity
            .as_deref()
            .and_then(crate::inventory::PolicySeverity::parse),
        policy.docs.severity,
    ) {
        (Some(min), Some(severity)) => severity < min,
        _ => false,
    };
    muted || below
}

/// The team key of an audience, when it is a configured team.
fn team_of(config: &crate::config::Config, audience: &str) -> Option<TeamKey> {
    config.teams.get_key_value(audience).map(|(k, _)| k.clone())
}

/// "The date moved": to an audience warned about `previous`, sent at the first plan that sees
/// the new date (now), once per new date.
fn moved_notice(
    r: &Resolved,
    policy: &crate::inventory::Policy,
    brief: &Arc<super::PolicyBrief>,
    enforce: EnforceOn,
    previous: DateTime<FixedOffset>,
    (audience, destination, team): (&str, &Destination, Option<&TeamKey>),
    still_failing: u64,
) -> Notice {
    let config = r.config;
    let tz = config.time_zone;
    let date_text = enforce.date.format("%Y-%m-%d").to_string();
    let view = MovedView {
        policy: PolicyName {
            id: policy.label.clone(),
            title: policy.title().to_string(),
        },
        enforce_on: enforce.shown(tz),
        when: relative_days((enforce.date - r.today()).num_days()),
        previous: show_day(previous.with_timezone(&tz)),
        later: enforce.instant.fixed_offset() > previous,
        still_failing,
        team: team.map(|k| TeamView::of(k, config, true)),
        platform: PlatformView::of(config),
    };
    Notice {
        id: NoticeId::new(
            NoticeKind::Postponed,
            &[&policy.label, audience, &date_text],
        ),
        kind: NoticeKind::Postponed,
        policy: policy.label.clone(),
        cluster: None,
        audience: audience.to_string(),
        destination: destination.clone(),
        send_at: r.now,
        told_at: r.now,
        milestone: "postponed".to_string(),
        enforce_on: Some(enforce),
        namespaces: Default::default(),
        keep_until: enforce.instant.fixed_offset(),
        team: team.cloned(),
        brief: brief.clone(),
        payload: Payload::Postponed(Box::new(view)),
    }
}

/// "All clear — thanks": to an audience that was warned and has nothing left that the flip
/// would block; once per policy.
fn all_clear_notice(
    r: &Resolved,
    policy: &crate::inventory::Policy,
    brief: &Arc<super::PolicyBrief>,
    enforce: EnforceOn,
    audience: &str,
    destination: &Destination,
) -> Notice {
    let config = r.config;
    let tz = config.time_zone;
    let team = team_of(config, audience);
    let view = AllClearView {
        policy: PolicyName {
            id: policy.label.clone(),
            title: policy.title().to_string(),
        },
        enforce_on: enforce.shown(tz),
        when: relative_days((enforce.date - r.today()).num_days()),
        team: team.as_deref().map(|k| TeamView::of(k, config, false)),
    };
    Notice {
        // Once per policy and audience, whatever the date: a moved date does not make a
        // second "all clear" (nothing of theirs is affected by it).
        id: NoticeId::new(NoticeKind::AllClear, &[&policy.label, audience]),
        kind: NoticeKind::AllClear,
        policy: policy.label.clone(),
        cluster: None,
        audience: audience.to_string(),
        destination: destination.clone(),
        send_at: r.now,
        told_at: r.now,
        milestone: "all-clear".to_string(),
        enforce_on: Some(enforce),
        namespaces: Default::default(),
        keep_until: enforce.instant.fixed_offset(),
        team,
        brief: brief.clone(),
        payload: Payload::AllClear(Box::new(view)),
    }
}

/// Where a policy's `enforce-on` was read: its annotation, or the config file's entry.
fn enforce_field(
    rollout: &super::rollout::Rollout,
    config: &crate::config::Config,
    label: &str,
) -> String {
    let from_config = rollout
        .fields
        .iter()
        .any(|(k, s)| *k == "enforce-on" && s.source == super::rollout::Source::Config);
    if from_config {
        format!("{}: policies.{label}.enforce-on", config.source)
    } else {
        format!("metadata.annotations.{}", config.annotation("enforce-on"))
    }
}
