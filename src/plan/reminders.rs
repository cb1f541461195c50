//! Reminders to an exception's owner before its review date or expiry, and again every week
//! while it is overdue: which workloads lose the exception, which policies they fail, how to
//! renew or fix.
//!
//! Pure: from the inventory, the config and `now` to notices. An exception without an owner
//! goes to the platform channel (and is a hygiene finding elsewhere). Never I/O.

use crate::inventory::Exception;
use crate::inventory::push_sample;
use crate::model::ids::{NoticeId, TeamKey};
use crate::model::problem::Problem;
use crate::model::time::EnforceOn;
use crate::model::time::show_day;
use crate::plan::exceptions::{Coverage, ExceptionView, TTL_LABEL, coverage};
use crate::plan::owners::{Audience, Destination, PLATFORM};
use crate::plan::resolve::Resolved;
use crate::plan::schedule::send_time;
use crate::plan::views::{AffectedView, ExceptionInfo, PlatformView, ReminderView, TeamView};
use crate::plan::{Notice, NoticeKind, Payload};
use chrono::{DateTime, Duration, FixedOffset, Utc};
use std::collections::BTreeMap;

/// Where an exception's reminders go: its owner as a team key, an email, a channel, or the
/// owner of the exception's namespace; else the platform.
fn recipient(
    x: &Exception,
    v: &ExceptionView,
    res: &Resolved,
) -> (Audience, Destination, Option<TeamKey>) {
    let config = res.config;
    let platform = (
        Audience::Platform,
        Destination::Channel(config.platform.channel.clone()),
        None,
    );
    match v.owner.as_deref().map(str::trim) {
        Some(o) if let Some((key, team)) = config.teams.get_key_value(o) => {
            let dest = match &team.channel {
                Some(c) if !c.is_empty() => Destination::Channel(c.clone()),
                _ => Destination::Emails(team.members.clone()),
            };
            (Audience::Team(key.clone()), dest, Some(key.clone()))
        }
        Some(o) if o == PLATFORM => platform,
        Some(o) if o.contains('@') => (
            Audience::Channel(o.to_string()),
            Destination::Emails(vec![o.to_string()]),
            None,
        ),
        Some(o) if o.starts_with('#') => (
            Audience::Channel(o.to_string()),
            Destination::Channel(o.to_string()),
            None,
        ),
        _ => match x.namespace.as_deref() {
            Some(ns) => {
                let own = &res.owner(ns).0;
                (
                    own.audience.clone(),
                    own.destination.clone(),
                    own.team.clone(),
                )
            }
            None => platform,
        },
    }
}

/// Plans the reminders of every exception with a review date or expiry.
pub fn plan_reminders(res: &Resolved, notices: &mut Vec<Notice>, problems: &mut Vec<Problem>) {
    let (inv, config, now) = (res.inv, res.config, res.now);
    let tz = config.time_zone;
    let settings = &config.exceptions;
    for (x, v, found) in res.exceptions() {
        problems.extend(found.iter().cloned());
        let Some(due) = v.due else { continue };
        let (audience, destination, team) = recipient(x, v, res);
        let due_local = due.with_timezone(&tz);
        let as_milestone = EnforceOn {
            instant: due_local,
            date: due_local.date_naive(),
            date_only: false,
        };
        let expires = v.expires.is_some() && v.expires == v.due;
        let what = if expires {
            "expires"
        } else {
            "is due for review"
        };
        let policies: Vec<String> = x.policies.iter().map(|p| p.policy.clone()).collect();
        let scope: Vec<String> = if x.match_namespaces.is_empty() {
            x.namespace.iter().cloned().collect()
        } else {
            x.match_namespaces.clone()
        };
        // What loses the exception: the resources whose results it skipped — each skip
        // result checked against this exception's own policies, rules, namespaces and names
        // (exceptions::coverage, as covers decides), not every skip of its policies.
        let mut covered: BTreeMap<(String, String), (u64, Vec<String>)> = BTreeMap::new();
        for (resource, found) in &inv.findings {
            for f in found.iter().filter(|f| f.result == "skip") {
                let Some(policy) = inv.policy_of_result(f.engine, &f.policy) else {
                    continue;
                };
                // Covered, or possibly (a part forewarn cannot evaluate): the report says an
                // exception skipped it, and this one may be it.
                let ns_labels = inv
                    .namespaces
                    .get(resource.namespace.as_str())
                    .map(|n| &n.labels);
                if coverage(x, policy, f.rule.as_deref(), resource, ns_labels)
                    == Coverage::NotCovered
                {
                    continue;
                }
                let shown = if resource.namespace.is_empty() {
                    crate::plan::CLUSTER_SCOPED.to_string()
                } else {
                    resource.namespace.to_string()
                };
                let entry = covered.entry((policy.label.clone(), shown)).or_default();
                entry.0 += 1;
                push_sample(&mut entry.1, format!("{}/{}", resource.kind, resource.name));
            }
        }
        let affected: Vec<AffectedView> = covered
            .into_iter()
            .map(|((policy, ns), (skipped, resources))| AffectedView {
                policy,
                name: Some(ns),
                skipped,
                resources,
            })
            .collect();
        // Where the date comes from, and so how to move it.
        let source = if expires {
            match v.expiry_source {
                Some("spec.expiresAt") => DueSource::ExpiresAt,
                _ => DueSource::Ttl,
            }
        } else {
            DueSource::Review(
                v.review_key
                    .clone()
                    .or_else(|| config.exceptions.keys.review_by.first().cloned())
                    .unwrap_or_default(),
            )
        };
        let shown_due = show_day(due_local);
        let mk =
            |id: NoticeId, milestone: String, send_at: DateTime<FixedOffset>, overdue: bool| {
                // Days as seen when it goes out (a catch-up is sent now, not on its day).
                let days_left = (due_local.date_naive()
                    - crate::plan::told(send_at, now)
                        .with_timezone(&tz)
                        .date_naive())
                .num_days();
                Notice {
                    id,
                    kind: NoticeKind::Reminder,
                    policy: v.id.clone(),
                    cluster: None,
                    audience: audience.key(),
                    destination: destination.clone(),
                    send_at,
                    told_at: send_at,
                    milestone,
                    enforce_on: Some(as_milestone),
                    namespaces: Default::default(),
                    // Kept in the ledger until well after the exception's date.
                    keep_until: (due + Duration::days(365)).fixed_offset(),
                    team: team.clone(),
                    brief: Default::default(),
                    payload: Payload::Reminder(Box::new(ReminderView {
                        exception: ExceptionInfo {
                            id: v.id.clone(),
                            name: x.name.clone(),
                            namespace: x.namespace.clone(),
                            reason: v.reason.clone(),
                            owner: v.owner.clone(),
                        },
                        what,
                        due: shown_due.clone(),
                        days_left,
                        when: crate::model::words::relative_days(days_left),
                        overdue,
                        policies: policies
                            .iter()
                            .map(|p| format!("`{p}`"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        scope: if scope.is_empty() {
                            "the whole cluster".to_string()
                        } else {
                            scope.join(", ")
                        },
                        items: affected.clone(),
                        count: affected.len(),
                        due_from: source.field(),
                        extend: source.how_to_extend(),
                        team: team.as_deref().map(|k| TeamView::of(k, config, false)),
                        platform: PlatformView::of(config),
                    })),
                }
            };
        for &days in &settings.reminders {
            if let Some(at) = send_time(&config.schedule, tz, &as_milestone, days) {
                notices.push(mk(
                    NoticeId::new(
                        NoticeKind::Reminder,
                        &[&v.id, &audience.key(), &format!("T-{days}")],
                    ),
                    format!("T-{days}"),
                    at.fixed_offset(),
                    false,
                ));
            }
        }
        // Overdue: every `overdue_every_days` after the date, while the exception is still there.
        // Planned: the latest occurrence that has come, and the next one.
        let now_utc = now.with_timezone(&Utc);
        if due < now_utc + Duration::days(i64::from(settings.overdue_every_days)) {
            let every = Duration::days(i64::from(settings.overdue_every_days.max(1)));
            let mut k = 1i64;
            let mut occurrences = Vec::new();
            loop {
                let at = due + every * k as i32;
                if at > now_utc + every {
                    break;
                }
                if at + every > now_utc {
                    occurrences.push(at);
                }
                k += 1;
                if k > 520 {
                    break;
                }
            }
            for at in occurrences {
                let local = at.with_timezone(&tz);
                let Some(tick) = config
                    .schedule
                    .after(&(local - Duration::seconds(1)))
                    .next()
                else {
                    continue;
                };
                let label = format!("overdue-{}", local.format("%Y-%m-%d"));
                notices.push(mk(
                    NoticeId::new(NoticeKind::Reminder, &[&v.id, &audience.key(), &label]),
                    label,
                    tick.fixed_offset(),
                    true,
                ));
            }
        }
    }
}

/// Where an exception's due date comes from.
enum DueSource {
    /// A review annotation (forewarn's or the configured one); Kyverno ignores it.
    Review(String),
    /// `spec.expiresAt` (policies.kyverno.io exceptions).
    ExpiresAt,
    /// The `cleanup.kyverno.io/ttl` label: Kyverno's cleanup controller deletes it.
    Ttl,
}

impl DueSource {
    fn field(&self) -> String {
        match self {
            DueSource::Review(key) => format!("the annotation `{key}`"),
            DueSource::ExpiresAt => "`spec.expiresAt`".to_string(),
            DueSource::Ttl => format!("the label `{TTL_LABEL}`"),
        }
    }

    fn how_to_extend(&self) -> String {
        match self {
            DueSource::Review(key) => {
                format!("set a later date in the annotation `{key}` (and update the reason)")
            }
            DueSource::ExpiresAt => {
                "set a later `spec.expiresAt` on the exception (RFC 3339)".to_string()
            }
            DueSource::Ttl => format!(
                "change the label `{TTL_LABEL}` to a later date (`2006-01-02`) or a longer duration — Kyverno deletes the exception when it runs out"
            ),
        }
    }
}
