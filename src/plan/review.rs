//! The audit review: per rollout (a validating policy with an enforcement date, per cluster),
//! what a review meeting needs — the date and the review's own deadline, the mode, what fails
//! per team and namespace with the top messages, the exceptions in force and their hygiene,
//! readiness if flipped today, the teams' triage answers and who has not answered, and the
//! burn-down with its projection.
//!
//! Pure: inventories × config × recorded progress × triage answers × `now` → [`Review`],
//! plain data that
//! `forewarn review` prints as JSON and `render::review` turns into Markdown or HTML. Never
//! does I/O and holds no words beyond names and statuses.

use crate::config::Config;
use crate::inventory::{Inventory, Mode, Policy, PolicyKind};
use crate::model::ids::TeamKey;
use crate::model::triage::{Answers, TriageKey};
use crate::plan::burndown::{Projection, Status, project};
use crate::plan::progress::{ALL_TEAMS, Progress, cluster_key};
use crate::plan::resolve::Resolved;
use crate::plan::triage::{TriageView, triage_view};
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// Which rollouts and teams a review covers.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Policies by label or report name; empty: every rollout.
    pub policies: Vec<String>,
    /// Only this team's rows (a team key, channel or `platform`).
    pub team: Option<String>,
}

/// The review document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Review {
    pub generated_at: DateTime<FixedOffset>,
    /// Who runs the review (`review.owner`).
    pub owner: Option<String>,
    /// Days of recent counts the burn-down rate is fitted on (`review.trend-days`).
    pub trend_days: u32,
    pub team: Option<String>,
    /// Whether the triage answers were read; when not, each policy's `triage` is null and
    /// nothing is claimed about who answered.
    pub answers_read: bool,
    pub policies: Vec<PolicyReview>,
}

/// One day of a series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    pub date: NaiveDate,
    pub failing: u64,
    pub excepted: u64,
}

/// The burn-down of one series: its points and what they project.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Burndown {
    /// Every recorded day, oldest first.
    pub history: Vec<Point>,
    /// Failing resources fixed per day over the window (negative: more each day).
    pub fixed_per_day: Option<f64>,
    /// The day failures reach zero at that rate; null when they do not fall.
    pub projected_ready: Option<NaiveDate>,
    pub status: Status,
}

/// One rollout.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyReview {
    pub policy: String,
    pub title: String,
    pub kind: PolicyKind,
    /// The cluster (its name; with several clusters each rollout is reviewed per cluster).
    pub cluster: String,
    /// The enforcement date (`YYYY-MM-DD`, or RFC 3339 with a time) and its day.
    pub enforce_on: Option<String>,
    pub enforce_date: Option<NaiveDate>,
    /// Days from today to the enforcement day (negative once passed).
    pub days_left: Option<i64>,
    /// The review's deadline: `review.due-days-before` days before enforcement.
    pub review_due: Option<NaiveDate>,
    /// `Audit`, `Enforce`, or `mixed` (some namespaces each way) in this cluster.
    pub mode: &'static str,
    pub audit_namespaces: usize,
    pub enforce_namespaces: usize,
    /// Already flipped: nothing left that a flip would change.
    pub enforced: bool,
    /// Failing resources the flip would block, and results exceptions skipped, today.
    pub failing: u64,
    pub excepted: u64,
    pub teams: Vec<TeamReview>,
    pub exceptions: Vec<ExceptionReview>,
    pub readiness: ReadinessReview,
    /// The answers to the heads-up's buttons of the teams asked (those with failing resources,
    /// and any team that answered), and those that have not answered; null when the answers
    /// were not read.
    pub triage: Option<TriageView>,
    #[serde(flatten)]
    pub burndown: Burndown,
    pub guidance: Option<String>,
    pub contact: Option<String>,
}

/// One team's share of a rollout.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamReview {
    /// The audience key: a team key, a channel, or `platform` (unowned namespaces).
    pub team: String,
    pub name: String,
    pub failing: u64,
    pub excepted: u64,
    pub namespaces: Vec<NamespaceReview>,
    #[serde(flatten)]
    pub burndown: Burndown,
}

/// One namespace of a team.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NamespaceReview {
    pub name: String,
    pub failing: u64,
    pub excepted: u64,
    /// The failing resources' messages, grouped, most frequent first (from the sample each
    /// report summary keeps).
    pub messages: Vec<MessageCount>,
    /// A sample of failing resources, `Kind/name`.
    pub sample: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageCount {
    pub message: String,
    pub count: u64,
}

/// An exception naming the policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExceptionReview {
    pub id: String,
    pub owner: Option<String>,
    pub reason: Option<String>,
    /// When its owner must act (the earlier of review date and expiry), `YYYY-MM-DD`.
    pub due: Option<String>,
    pub active: bool,
    /// Hygiene findings, as `check` words them.
    pub findings: Vec<String>,
}

/// What a flip today would do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadinessReview {
    pub ready: bool,
    /// Failing resources no exception covers: blocked by a flip today.
    pub would_block: u64,
    pub covered: u64,
    pub possibly_covered: u64,
    /// Who would be blocked: audience → count.
    pub blockers: BTreeMap<String, u64>,
    /// Namespaces an override keeps in Audit after the flip: namespace → failing.
    pub kept_in_audit: BTreeMap<String, u64>,
}

fn burndown(
    progress: &Progress,
    cluster: &str,
    policy: &str,
    team: &str,
    today: NaiveDate,
    window: u32,
    enforce: Option<NaiveDate>,
) -> Burndown {
    let points = progress.points(cluster, policy, team);
    let failing: Vec<(NaiveDate, u64)> = points.iter().map(|(d, c)| (*d, c.failing)).collect();
    let Projection {
        fixed_per_day,
        projected_ready,
        status,
        ..
    } = project(&failing, today, window, enforce);
    Burndown {
        history: points
            .into_iter()
            .map(|(date, c)| Point {
                date,
                failing: c.failing,
                excepted: c.excepted,
            })
            .collect(),
        fixed_per_day: fixed_per_day.map(|r| (r * 100.0).round() / 100.0),
        projected_ready,
        status,
    }
}

/// Whether exception `x` names `policy` at all (any rule): kyverno.io by the name reports use
/// (as `names_kyverno_policy` in `plan::exceptions`), policies.kyverno.io by name and kind.
fn names(x: &crate::inventory::Exception, policy: &Policy) -> bool {
    if x.is_cel() {
        return crate::plan::exceptions::lists_policy(x, policy, None);
    }
    matches!(
        policy.kind(),
        PolicyKind::ClusterPolicy | PolicyKind::Policy
    ) && x
        .policies
        .iter()
        .any(|p| p.policy == policy.reference.report_name())
}

fn wanted(policy: &Policy, scope: &Scope) -> bool {
    scope.policies.is_empty()
        || scope
            .policies
            .iter()
            .any(|p| *p == policy.label || *p == policy.reference.report_name())
}

/// Builds the review of `clusters` as of `now` from the recorded `progress` (today's counts
/// included when the caller merged them) and the triage `answers` (`None`: they could not be
/// read, and the review says so).
pub fn review(
    clusters: &[Inventory],
    config: &Config,
    now: DateTime<FixedOffset>,
    progress: &Progress,
    answers: Option<&Answers>,
    scope: &Scope,
) -> Review {
    let tz = config.time_zone;
    let window = config.review.trend_days;
    let mut policies = Vec::new();
    for inv in clusters {
        let key = cluster_key(inv, clusters.len());
        let res = Resolved::new(inv, config, now);
        let today = res.today();
        let ready = crate::plan::readiness::readiness_all(&res);
        for (policy, rollout) in res.validating() {
            // Every rollout; a policy named on the command line even without a date.
            if !wanted(policy, scope) || (scope.policies.is_empty() && rollout.enforce_on.is_none())
            {
                continue;
            }
            let enforce_date = rollout.enforce_on.map(|e| e.date);
            let (mut audit, mut enforce) = (0, 0);
            for ns in inv
                .namespaces
                .values()
                .filter(|ns| policy.applies_in(&ns.name))
            {
                match policy.mode_for(None, &ns.name, &ns.labels) {
                    Mode::Audit => audit += 1,
                    _ => enforce += 1,
                }
            }
            let mode = match (audit, enforce) {
                (0, 0) if crate::plan::flip_pending(policy, inv) => "Audit",
                (0, 0) => "Enforce",
                (_, 0) => "Audit",
                (0, _) => "Enforce",
                _ => "mixed",
            };
            // Per team: failing (what the flip would block) and excepted, per namespace.
            let mut teams: BTreeMap<String, Vec<NamespaceReview>> = BTreeMap::new();
            let failures = crate::plan::audit_failures(policy, inv);
            let mut by_ns: BTreeMap<String, NamespaceReview> = BTreeMap::new();
            for ns in &failures {
                let mut grouped: BTreeMap<String, u64> = BTreeMap::new();
                for r in ns.sample.iter() {
                    *grouped
                        .entry(r.message.as_deref().unwrap_or("(no message)").to_string())
                        .or_default() += 1;
                }
                let mut messages: Vec<MessageCount> = grouped
                    .into_iter()
                    .map(|(message, count)| MessageCount { message, count })
                    .collect();
                messages.sort_by(|a, b| b.count.cmp(&a.count).then(a.message.cmp(&b.message)));
                by_ns.insert(
                    ns.name.clone(),
                    NamespaceReview {
                        name: ns.name.clone(),
                        failing: ns.failing,
                        excepted: 0,
                        messages,
                        sample: ns
                            .sample
                            .iter()
                            .map(|r| format!("{}/{}", r.kind, r.name))
                            .collect(),
                    },
                );
            }
            for (ns, summary) in inv.results_for(&policy.reference) {
                if summary.skipped_by_exception() == 0 || ns.is_some_and(|n| !policy.applies_in(n))
                {
                    continue;
                }
                let name = ns.unwrap_or(crate::plan::CLUSTER_SCOPED).to_string();
                by_ns
                    .entry(name.clone())
                    .or_insert_with(|| NamespaceReview {
                        name,
                        failing: 0,
                        excepted: 0,
                        messages: Vec::new(),
                        sample: Vec::new(),
                    })
                    .excepted += summary.skipped_by_exception();
            }
            for (name, ns) in by_ns {
                let team = res.owner(&name).0.audience.key();
                teams.entry(team).or_default().push(ns);
            }
            // Teams with a recorded series but nothing now (they fixed everything) too.
            for team in progress.teams(&key, &policy.label) {
                teams.entry(team).or_default();
            }
            let team_rows: Vec<TeamReview> = teams
                .into_iter()
                .filter(|(team, _)| scope.team.as_ref().is_none_or(|t| t == team))
                .map(|(team, namespaces)| TeamReview {
                    name: config.team_name(&team).to_string(),
                    failing: namespaces.iter().map(|n| n.failing).sum(),
                    excepted: namespaces.iter().map(|n| n.excepted).sum(),
                    burndown: burndown(
                        progress,
                        &key,
                        &policy.label,
                        &team,
                        today,
                        window,
                        enforce_date,
                    ),
                    team,
                    namespaces,
                })
                .collect();
            if scope.team.is_some() && team_rows.is_empty() {
                continue;
            }
            // Asked: the teams with failing resources (their heads-ups carry the buttons), and
            // a team that answered and has since fixed everything.
            let triage = answers.map(|a| {
                let answered = |team: &str| {
                    TeamKey::parse(team).is_ok_and(|team| {
                        a.get(&TriageKey {
                            cluster: inv.cluster.clone(),
                            policy: policy.reference.clone(),
                            team,
                        })
                        .is_some()
                    })
                };
                triage_view(
                    config,
                    Some(a),
                    &inv.cluster,
                    &policy.reference,
                    rollout.enforce_on.as_ref(),
                    team_rows
                        .iter()
                        .filter(|t| t.failing > 0 || answered(&t.team))
                        .map(|t| t.team.as_str()),
                )
            });
            let now_utc = now.with_timezone(&Utc);
            let exceptions = res
                .exceptions()
                .filter(|(x, ..)| names(x, policy))
                .map(|(x, v, _)| ExceptionReview {
                    id: v.id.clone(),
                    owner: v.owner.clone(),
                    reason: v.reason.clone(),
                    due: v
                        .due
                        .map(|d| d.with_timezone(&tz).format("%Y-%m-%d").to_string()),
                    active: crate::plan::exceptions::is_active(v, now_utc),
                    findings: crate::plan::exceptions::findings(
                        x,
                        v,
                        inv,
                        i64::from(config.exceptions.max_review_days),
                        now_utc,
                    )
                    .into_iter()
                    .map(|(h, d)| {
                        if d.is_empty() {
                            h.describe().to_string()
                        } else {
                            format!("{}: {d}", h.describe())
                        }
                    })
                    .collect(),
                })
                .collect();
            let r = ready.get(&policy.label);
            let readiness = ReadinessReview {
                ready: r.is_none_or(|r| r.is_ready()),
                would_block: r.map_or(0, |r| r.uncovered()),
                covered: r.map_or(0, |r| r.covered()),
                possibly_covered: r.map_or(0, |r| r.possibly()),
                blockers: r
                    .map(|r| {
                        r.by_audience()
                            .into_iter()
                            .filter(|(_, n)| *n > 0)
                            .map(|(a, n)| (a.to_string(), n))
                            .collect()
                    })
                    .unwrap_or_default(),
                kept_in_audit: r
                    .map(|r| {
                        r.kept_in_audit
                            .iter()
                            .map(|k| (k.namespace.clone(), k.failing))
                            .collect()
                    })
                    .unwrap_or_default(),
            };
            let failing = failures.iter().map(|n| n.failing).sum();
            let excepted = inv
                .results_for(&policy.reference)
                .filter(|(ns, _)| ns.is_none_or(|n| policy.applies_in(n)))
                .map(|(_, s)| s.skipped_by_exception())
                .sum();
            policies.push(PolicyReview {
                policy: policy.label.clone(),
                title: policy.title().to_string(),
                kind: policy.kind(),
                cluster: inv.cluster.to_string(),
                enforce_on: rollout.enforce_on.map(|e| e.display()),
                enforce_date,
                days_left: enforce_date.map(|d| (d - today).num_days()),
                review_due: enforce_date
                    .map(|d| d - Duration::days(i64::from(config.review.due_days_before))),
                mode,
                audit_namespaces: audit,
                enforce_namespaces: enforce,
                enforced: r.is_some_and(|r| !r.flip_pending),
                failing,
                excepted,
                teams: team_rows,
                exceptions,
                readiness,
                triage,
                burndown: burndown(
                    progress,
                    &key,
                    &policy.label,
                    ALL_TEAMS,
                    today,
                    window,
                    enforce_date,
                ),
                guidance: rollout.guidance().map(str::to_string),
                contact: rollout.contact().map(str::to_string),
            });
        }
    }
    // Soonest enforcement first; undated last.
    policies.sort_by(|a, b| {
        (
            a.enforce_date.is_none(),
            a.enforce_date,
            &a.policy,
            &a.cluster,
        )
            .cmp(&(
                b.enforce_date.is_none(),
                b.enforce_date,
                &b.policy,
                &b.cluster,
            ))
    });
    Review {
        generated_at: now,
        owner: config.review.owner.clone(),
        trend_days: window,
        team: scope.team.clone(),
        answers_read: answers.is_some(),
        policies,
    }
}
