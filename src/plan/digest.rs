//! The audit digest: on its own schedule (default Monday 09:00), one message per team with the
//! policies failing in its namespaces, and one for the platform team with totals, unowned
//! namespaces, informal exceptions and the readiness of every upcoming flip.
//!
//! Pure: from the inventory, the config and `now` to notices; never I/O. Audit results nobody
//! reads are the failure mode this answers, so every digest names an owner.

use crate::config::Config;
use crate::inventory::Mode;
use crate::inventory::SAMPLE_LIMIT;
use crate::model::ids::{Destination, NoticeId, TeamKey};
use crate::model::time::show_day;
use crate::model::words::relative_days;
use crate::plan::exceptions::findings;
use crate::plan::resolve::Resolved;
use crate::plan::views::{
    DigestView, FlipView, InformalView, OverdueView, PlatformDigest, PolicyRow, TeamDigest,
    TeamView, Total,
};
use crate::plan::{Notice, NoticeKind, Payload};
use chrono::{DateTime, Duration, FixedOffset, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The digest ticks to plan at `now`: the latest one that has come (within a week) and the next.
fn ticks(config: &Config, now: DateTime<FixedOffset>) -> Vec<DateTime<FixedOffset>> {
    let local = now.with_timezone(&config.time_zone);
    let mut out = Vec::new();
    if let Some(prev) = config
        .digest_schedule
        .after(&(local + Duration::seconds(1)))
        .next_back()
        && local - prev <= Duration::days(7)
    {
        out.push(prev.fixed_offset());
    }
    if let Some(next) = config.digest_schedule.after(&local).next() {
        out.push(next.fixed_offset());
    }
    out
}

/// Plans the digests of the next (and the latest) digest tick.
pub fn plan_digests(
    res: &Resolved,
    ready: &BTreeMap<String, crate::plan::readiness::Readiness>,
    notices: &mut Vec<Notice>,
) {
    let (inv, config, now) = (res.inv, res.config, res.now);
    let tz = config.time_zone;
    // Failing results per audience → policy → namespace.
    // Each row: the namespace, failing, excepted, and its failing resources (shown up to
    // three per namespace, five per policy).
    type Row<'a> = (&'a str, u64, u64, &'a [crate::inventory::FailingResource]);
    type PerPolicy<'a> = BTreeMap<String, Vec<Row<'a>>>;
    // What a row lists, in words: the same at every tick, so written once.
    type Listed = (Arc<str>, Arc<[String]>);
    let mut per_audience: BTreeMap<(String, Destination), (Option<TeamKey>, PerPolicy)> =
        BTreeMap::new();
    let mut totals: BTreeMap<String, (u64, usize)> = BTreeMap::new();
    for ((engine, policy, ns, binding), s) in &inv.results {
        if s.counts().fail == 0 {
            continue;
        }
        let policy = &res.result_label(engine, policy, binding);
        let t = totals.entry(policy.clone()).or_default();
        t.0 += s.counts().fail;
        t.1 += 1;
        let Some(ns) = ns else { continue };
        let found = res.owner(ns);
        let owner = &found.0;
        let top = s.sample();
        per_audience
            .entry((owner.audience.key(), owner.destination.clone()))
            .or_insert_with(|| (owner.team.clone(), BTreeMap::new()))
            .1
            .entry(policy.clone())
            .or_default()
            .push((ns, s.counts().fail, s.skipped_by_exception(), top));
    }
    let listed: BTreeMap<(&str, &str), Listed> = per_audience
        .iter()
        .flat_map(|((audience, _), (_, policies))| {
            policies.iter().map(move |(p, rows)| {
                let namespaces = rows
                    .iter()
                    .map(|r| format!("{} ({})", r.0, r.1))
                    .collect::<Vec<_>>()
                    .join(", ");
                let top: Vec<String> = rows
                    .iter()
                    .flat_map(|r| r.3.iter().take(3))
                    .take(SAMPLE_LIMIT)
                    .map(|r| format!("{}/{}", r.kind, r.name))
                    .collect();
                (
                    (audience.as_str(), p.as_str()),
                    (namespaces.into(), top.into()),
                )
            })
        })
        .collect();
    let policy_row =
        |id: &str, rows: &[Row<'_>], day: chrono::NaiveDate, audience: &str| -> PolicyRow {
            let (namespaces, top) = listed
                .get(&(audience, id))
                .cloned()
                .unwrap_or_else(|| (Arc::from(""), Arc::from([])));
            let p = inv.policy(id);
            let upcoming = p
                .and_then(|p| res.rollout(p).enforce_on)
                .filter(|e| e.date >= day);
            let late = p
                .and_then(|p| Some((res.rollout(p).enforce_on?, ready.get(&p.label)?)))
                .filter(|(e, r)| r.flip_pending && e.date < day);
            let mode = p.map(|p| {
                let audits = rows
                    .iter()
                    .any(|(ns, ..)| p.mode_for(None, ns, inv.namespace_labels(ns)) == Mode::Audit);
                if audits { "Audit" } else { "Enforce" }
            });
            PolicyRow {
                policy: id.to_string(),
                title: p.map_or(id, |p| p.title()).to_string(),
                mode: mode.unwrap_or("unknown"),
                failing: rows.iter().map(|r| r.1).sum(),
                at_least: p.is_some_and(|p| p.truncated.is_some()),
                excepted: rows.iter().map(|r| r.2).sum(),
                namespaces,
                top,
                enforce_on: upcoming.map(|e| show_day(e.instant.with_timezone(&tz))),
                days_left: upcoming.map(|e| (e.date - day).num_days()),
                when: upcoming
                    .or(late.map(|(e, _)| e))
                    .map(|e| relative_days((e.date - day).num_days())),
                overdue_since: late.map(|(e, _)| show_day(e.instant.with_timezone(&tz))),
                days_late: late.map(|(e, _)| (day - e.date).num_days()),
                trend: upcoming.filter(|_| mode == Some("Audit")).and_then(|e| {
                    crate::plan::burndown::trend_view(
                        &res.failing_series(id, audience),
                        res.today(),
                        config.review.trend_days,
                        Some(e.date),
                    )
                }),
            }
        };

    // Platform: totals, unowned namespaces, informal exceptions, readiness of upcoming flips.
    let now_utc = now.with_timezone(&Utc);
    let informal: Vec<InformalView> = res
        .exceptions()
        .filter_map(|(x, v, _)| {
            let found = findings(
                x,
                v,
                inv,
                i64::from(config.exceptions.max_review_days),
                now_utc,
            );
            (!found.is_empty()).then(|| InformalView {
                id: v.id.clone(),
                findings: found
                    .iter()
                    .map(|(h, d)| {
                        if d.is_empty() {
                            h.describe().to_string()
                        } else {
                            format!("{}: {d}", h.describe())
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            })
        })
        .collect();
    let totals: Vec<Total> = totals
        .into_iter()
        .map(|(policy, (failing, namespaces))| Total {
            at_least: inv.policy(&policy).is_some_and(|p| p.truncated.is_some()),
            policy,
            failing,
            namespaces,
        })
        .collect();
    let unowned = crate::plan::unowned_namespaces(res);

    for tick in ticks(config, now) {
        let date = tick.with_timezone(&tz).format("%Y-%m-%d").to_string();
        let shown = show_day(tick.with_timezone(&tz));
        // Words about days are for the moment it goes out (a late digest says "yesterday").
        let day = crate::plan::told(tick, now).with_timezone(&tz).date_naive();
        // Upcoming flips (and today's, flipped or not) and overdue ones, as of the day the
        // digest goes out.
        let flips: Vec<FlipView> = res
            .validating()
            .filter_map(|(p, rollout)| {
                let e = rollout.enforce_on.filter(|e| e.date >= day)?;
                let r = ready.get(&p.label)?;
                // Flipped already (on its date, or early): never "ready", but "enforced".
                let enforced = !r.flip_pending;
                Some(FlipView {
                    policy: p.label.clone(),
                    title: p.title().to_string(),
                    enforce_on: show_day(e.instant.with_timezone(&tz)),
                    ready: r.is_ready(),
                    uncovered: r.uncovered(),
                    possibly: r.possibly(),
                    unlisted: r.unlisted,
                    blockers: blockers(r),
                    kept_in_audit: kept_text(r),
                    when: relative_days((e.date - day).num_days()),
                    enforced,
                    still_failing: if enforced {
                        crate::plan::flipped_failures(p, inv)
                            .iter()
                            .map(|n| n.failing)
                            .sum()
                    } else {
                        0
                    },
                    trend: (!enforced)
                        .then(|| crate::plan::readiness::policy_trend(res, &p.label, Some(&e)))
                        .flatten(),
                    triage: r.triage.clone(),
                })
            })
            .collect();
        let overdue: Vec<OverdueView> = res
            .validating()
            .filter_map(|(p, rollout)| {
                let e = rollout.enforce_on.filter(|e| e.date < day)?;
                let r = ready.get(&p.label).filter(|r| r.flip_pending)?;
                Some(OverdueView {
                    policy: p.label.clone(),
                    title: p.title().to_string(),
                    enforce_on: show_day(e.instant.with_timezone(&tz)),
                    days_late: (day - e.date).num_days(),
                    when: relative_days((e.date - day).num_days()),
                    uncovered: r.uncovered(),
                    unlisted: r.unlisted,
                    blockers: blockers(r),
                    kept_in_audit: kept_text(r),
                })
            })
            .collect();

        let mk = |audience: &str,
                  destination: &Destination,
                  team: Option<TeamKey>,
                  view: DigestView| Notice {
            id: NoticeId::new(NoticeKind::Digest, &[audience, &date]),
            kind: NoticeKind::Digest,
            policy: String::new(),
            cluster: None,
            audience: audience.to_string(),
            destination: destination.clone(),
            send_at: tick,
            told_at: tick,
            milestone: "digest".to_string(),
            enforce_on: None,
            namespaces: Default::default(),
            keep_until: tick + Duration::days(30),
            team,
            brief: Default::default(),
            payload: Payload::Digest(Box::new(view)),
        };
        for ((audience, destination), (team, policies)) in &per_audience {
            if audience == crate::plan::owners::PLATFORM {
                continue;
            }
            let items: Vec<PolicyRow> = policies
                .iter()
                .map(|(p, rows)| policy_row(p, rows, day, audience))
                .collect();
            let view = DigestView::Team(TeamDigest {
                date: shown.clone(),
                audience: audience.clone(),
                per_team: true,
                recipient: team
                    .as_ref()
                    .map_or(audience.as_str(), |k| config.team_name(k))
                    .to_string(),
                team: team.as_deref().map(|k| TeamView::of(k, config, false)),
                count: items.len(),
                total_failing: items.iter().map(|i| i.failing).sum(),
                items,
            });
            notices.push(mk(audience, destination, team.clone(), view));
        }
        let unowned_items: Vec<PolicyRow> = per_audience
            .iter()
            .filter(|((a, _), _)| a == crate::plan::owners::PLATFORM)
            .flat_map(|((audience, _), (_, policies))| {
                policies
                    .iter()
                    .map(|(p, rows)| policy_row(p, rows, day, audience))
            })
            .collect();
        let view = DigestView::Platform(PlatformDigest {
            date: shown,
            audience: "platform",
            totals: totals.clone(),
            unowned: unowned.clone(),
            unowned_failing: unowned_items,
            informal: informal.clone(),
            overdue,
            flips: flips.clone(),
            items: flips.clone(),
            count: flips.len(),
            review_url: config.review.page_url(),
        });
        let platform = Destination::Channel(config.platform.channel.clone());
        notices.push(mk("platform", &platform, None, view));
    }
}

/// The namespaces an override keeps in Audit after the flip, as a digest shows them.
pub(crate) fn kept_text(r: &crate::plan::readiness::Readiness) -> String {
    r.kept_in_audit
        .iter()
        .map(|k| format!("{} ({})", k.namespace, k.failing))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Who would be blocked, per audience: `data (3), storefront (1)`.
fn blockers(r: &crate::plan::readiness::Readiness) -> String {
    r.by_audience()
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(a, n)| format!("{a} ({n})"))
        .collect::<Vec<_>>()
        .join(", ")
}
