//! What the templates see of each notice kind: one typed payload per kind, fixed at planning
//! time and serialised for Handlebars. Field names are the template variables documented in
//! `templates/README.md`; the words are in the templates, never here.
//!
//! Plain data: no I/O, no clock, no formatting beyond the dates already shown as text.

use crate::config::Config;
use crate::inventory::{EnforcementAction, Setting, ValidationAction};
use crate::model::ids::NoticeKind;
use serde::Serialize;
use std::sync::Arc;

/// What a notice carries beyond its envelope.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Payload {
    /// The heads-up: its words come from the policy brief and the namespaces of the notice;
    /// with the key its triage buttons answer for, when it goes to a team.
    Announce(Option<std::sync::Arc<crate::model::triage::TriageKey>>),
    Reminder(Box<ReminderView>),
    Digest(Box<DigestView>),
    /// Readiness before the flip, and overdue after the date: the same view.
    Readiness(Box<ReadinessView>),
    Overdue(Box<ReadinessView>),
    Enforced(Box<EnforcedView>),
    Postponed(Box<MovedView>),
    AllClear(Box<AllClearView>),
}

impl Payload {
    pub fn kind(&self) -> NoticeKind {
        match self {
            Payload::Announce(_) => NoticeKind::Announce,
            Payload::Reminder(_) => NoticeKind::Reminder,
            Payload::Digest(_) => NoticeKind::Digest,
            Payload::Readiness(_) => NoticeKind::Readiness,
            Payload::Overdue(_) => NoticeKind::Overdue,
            Payload::Enforced(_) => NoticeKind::Enforced,
            Payload::Postponed(_) => NoticeKind::Postponed,
            Payload::AllClear(_) => NoticeKind::AllClear,
        }
    }
}

/// A policy as a message names it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyName {
    pub id: String,
    pub title: String,
}

/// The platform team's channel and contact.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlatformView {
    pub channel: String,
    pub contact: Option<String>,
}

impl PlatformView {
    pub fn of(config: &Config) -> Self {
        Self {
            channel: config.platform.channel.clone(),
            contact: config.platform.contact.clone(),
        }
    }
}

/// A team as a message names it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamView {
    pub key: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// The members' emails, comma-separated, when the team has `mention-members` (a
    /// template writes `{{mention team.mention}}` to ping them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mention: Option<String>,
}

impl TeamView {
    /// The team `key` with its display name (and contact, when `with_contact`).
    pub fn of(key: &str, config: &Config, with_contact: bool) -> Self {
        Self {
            key: key.to_string(),
            name: config.team_name(key).to_string(),
            contact: with_contact
                .then(|| config.teams.get(key).and_then(|t| t.contact.clone()))
                .flatten(),
            mention: config
                .teams
                .get(key)
                .filter(|t| t.mention_members && !t.members.is_empty())
                .map(|t| t.members.join(", ")),
        }
    }
}

/// A rollout's burn-down in a message: "23 → 11 failing in 14 days; at this rate ready by
/// 18 Dec, enforcement 14 Dec: at risk" (the words are in the templates).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendView {
    /// Failing at the first and the latest point of the window.
    pub from: u64,
    pub to: u64,
    /// Days between those two points (0 with one point).
    pub days: i64,
    /// The projected ready day (`18 Dec`), when failures fall.
    pub ready_by: Option<String>,
    /// The enforcement day (`14 Dec`), when there is one.
    pub enforce_on: Option<String>,
    /// `ready`, `on track`, `at risk`, `no progress` or `no data`.
    pub status: &'static str,
}

/// What a policy's flip changes, in its engine's own terms (the words are in the templates).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChangeView {
    /// `kyverno` (the failure action, Audit → Enforce), `gatekeeper` (the constraint's
    /// `enforcementAction` → `deny`) or `vap` (the binding's `validationActions` gain `Deny`).
    pub engine: &'static str,
    /// Gatekeeper: `enforcementAction` today (`dryrun`, `warn` or `scoped`).
    pub from: Option<&'static str>,
    /// VAP: `validationActions` today, and once `Deny` is added.
    pub actions: Vec<&'static str>,
    pub actions_after: Vec<&'static str>,
    /// Failing resources are admitted with a warning today (`warn`, or `Warn` among the
    /// actions), rather than only reported.
    pub warns: bool,
}

impl ChangeView {
    pub fn of(setting: &Setting) -> ChangeView {
        match setting {
            Setting::FailureAction => ChangeView {
                engine: "kyverno",
                ..ChangeView::default()
            },
            Setting::EnforcementAction(a) => ChangeView {
                engine: "gatekeeper",
                from: Some(a.as_str()),
                warns: *a == EnforcementAction::Warn,
                ..ChangeView::default()
            },
            Setting::ValidationActions(actions) => {
                let mut after = actions.clone();
                if !after.contains(&ValidationAction::Deny) {
                    after.insert(0, ValidationAction::Deny);
                }
                ChangeView {
                    engine: "vap",
                    actions: actions.iter().map(|a| a.as_str()).collect(),
                    actions_after: after.iter().map(|a| a.as_str()).collect(),
                    warns: actions.contains(&ValidationAction::Warn),
                    ..ChangeView::default()
                }
            }
        }
    }
}

/// One namespace in a readiness or overdue notice.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadinessItem {
    pub name: String,
    pub audience: String,
    pub uncovered: u64,
    pub covered: u64,
    pub sample: Arc<[String]>,
    /// Failures an exception may cover (forewarn cannot evaluate all of it), a sample of
    /// them, and why: `exception <id>: <reason>`.
    pub possibly: u64,
    pub possibly_sample: Arc<[String]>,
    pub possibly_why: Arc<[String]>,
}

/// A namespace an override keeps in Audit after the flip (it fails, but is not blocked).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeptView {
    pub name: String,
    pub audience: String,
    pub failing: u64,
}

/// Readiness (before the date) and overdue (after it, still in Audit), to the platform.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadinessView {
    /// `readiness` or `overdue`.
    pub kind: &'static str,
    pub policy: PolicyName,
    pub enforce_on: String,
    /// Days from the send day to the enforcement day (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_left: Option<i64>,
    /// The same as words (`today`, `tomorrow`, `in 3 days`); readiness only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// Days past the date while still in Audit (overdue only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_late: Option<i64>,
    pub ready: bool,
    pub uncovered: u64,
    pub covered: u64,
    pub possibly: u64,
    /// Violations the engine found but did not list (Gatekeeper's
    /// `--constraint-violations-limit`): the counts are lower bounds, "at least".
    pub unlisted: u64,
    /// The policy sets `policies.kyverno.io/scored: "false"`: its failures are reported as
    /// warnings, and counted here as failing.
    pub unscored: bool,
    pub items: Vec<ReadinessItem>,
    /// Namespaces that stay in Audit by override after the flip.
    pub kept_in_audit: Vec<KeptView>,
    /// What the teams that would be blocked answered with the buttons, and who has not.
    pub triage: crate::plan::triage::TriageView,
    pub platform: PlatformView,
    /// The burn-down of its failing resources, when counts were recorded.
    pub trend: Option<TrendView>,
    /// The review page (`review.base-url` + `/review`), when configured.
    pub review_url: Option<String>,
}

/// A failing resource as a follow-up lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleView {
    pub kind: String,
    pub name: String,
    pub message: Option<String>,
}

/// One namespace in a now-enforced notice.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnforcedItem {
    pub name: String,
    pub failing: u64,
    pub sample: Vec<SampleView>,
}

/// "Now enforced", to a team whose resources still fail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnforcedView {
    pub policy: PolicyName,
    pub enforce_on: String,
    pub what_to_do: Option<String>,
    pub guidance: Option<String>,
    pub contact: String,
    pub team: Option<TeamView>,
    pub total_failing: u64,
    pub items: Vec<EnforcedItem>,
}

/// "The date moved", to a team that was warned about the previous one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MovedView {
    pub policy: PolicyName,
    /// The new date, as messages show it.
    pub enforce_on: String,
    /// The new date relative to the moment of sending (`in 20 days`).
    pub when: String,
    /// The date the team was warned about.
    pub previous: String,
    /// Whether the new date is later (postponed) rather than earlier.
    pub later: bool,
    /// Resources of this team the flip will block, as of now.
    pub still_failing: u64,
    pub team: Option<TeamView>,
    pub platform: PlatformView,
}

/// "All clear — thanks", to a team that was warned and fixed everything before the date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AllClearView {
    pub policy: PolicyName,
    pub enforce_on: String,
    pub when: String,
    pub team: Option<TeamView>,
}

/// The exception a reminder is about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExceptionInfo {
    pub id: String,
    pub name: String,
    pub namespace: Option<String>,
    pub reason: Option<String>,
    pub owner: Option<String>,
}

/// Results an exception skipped: what loses it when it ends.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AffectedView {
    pub policy: String,
    /// The namespace.
    pub name: Option<String>,
    pub skipped: u64,
    /// Up to five of the resources, `Kind/name`.
    pub resources: Vec<String>,
}

/// A reminder to an exception's owner.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReminderView {
    pub exception: ExceptionInfo,
    /// `expires` or `is due for review`.
    pub what: &'static str,
    pub due: String,
    pub days_left: i64,
    /// The due day relative to the moment of sending (`tomorrow`, `in 7 days`).
    pub when: String,
    pub overdue: bool,
    pub policies: String,
    pub scope: String,
    pub items: Vec<AffectedView>,
    pub count: usize,
    /// Where the due date is read from: a review annotation, `spec.expiresAt` or the TTL label.
    pub due_from: String,
    /// How to move the date.
    pub extend: String,
    pub team: Option<TeamView>,
    pub platform: PlatformView,
}

/// One policy's row in a digest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyRow {
    pub policy: String,
    pub title: String,
    pub mode: &'static str,
    pub failing: u64,
    /// The engine found more violations than it lists (Gatekeeper): `failing` is a lower
    /// bound, "at least".
    pub at_least: bool,
    pub excepted: u64,
    /// Shared by the digests of both ticks planned (the same failures).
    pub namespaces: Arc<str>,
    pub top: Arc<[String]>,
    pub enforce_on: Option<String>,
    pub days_left: Option<i64>,
    /// The enforcement (or overdue) date relative to the moment of sending (`today`,
    /// `in 3 days`, `yesterday`).
    pub when: Option<String>,
    /// Past its date and still to be flipped: the date, and how many days late.
    pub overdue_since: Option<String>,
    pub days_late: Option<i64>,
    /// The burn-down of this audience's failing resources of the policy, for an upcoming
    /// enforcement, when counts were recorded.
    pub trend: Option<TrendView>,
}

/// A policy's failing total across the cluster, for the platform digest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Total {
    pub policy: String,
    pub failing: u64,
    /// The engine found more violations than it lists: `failing` is a lower bound.
    pub at_least: bool,
    pub namespaces: usize,
}

/// An exception with hygiene findings, for the platform digest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InformalView {
    pub id: String,
    pub findings: String,
}

/// An upcoming flip and whether it is ready, for the platform digest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlipView {
    pub policy: String,
    pub title: String,
    pub enforce_on: String,
    pub ready: bool,
    pub uncovered: u64,
    /// Failures an exception may cover, which forewarn cannot evaluate: not ready either.
    pub possibly: u64,
    /// Violations the engine found but did not list: `uncovered` is a lower bound, and the
    /// flip is not ready.
    pub unlisted: u64,
    pub blockers: String,
    /// Namespaces that stay in Audit by override after the flip (`name (count)`), if any.
    pub kept_in_audit: String,
    /// The date relative to the moment of sending.
    pub when: String,
    /// Already flipped (on its date): the resources it now blocks are `still_failing`.
    pub enforced: bool,
    pub still_failing: u64,
    /// The burn-down of its failing resources, when counts were recorded.
    pub trend: Option<TrendView>,
    /// What the teams that would be blocked answered with the buttons, and who has not.
    pub triage: crate::plan::triage::TriageView,
}

/// A rollout past its date and still to be flipped, in every platform digest until it is
/// flipped or its date moves.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OverdueView {
    pub policy: String,
    pub title: String,
    pub enforce_on: String,
    pub days_late: i64,
    /// The date relative to the moment of sending (`yesterday`, `7 days ago`).
    pub when: String,
    pub uncovered: u64,
    /// Violations the engine found but did not list: `uncovered` is a lower bound.
    pub unlisted: u64,
    pub blockers: String,
    pub kept_in_audit: String,
}

/// A team's digest, or the platform's.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum DigestView {
    Team(TeamDigest),
    Platform(PlatformDigest),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamDigest {
    pub date: String,
    pub audience: String,
    /// Always true: the template tells the two digests apart by it.
    pub per_team: bool,
    pub recipient: String,
    pub team: Option<TeamView>,
    pub items: Vec<PolicyRow>,
    pub count: usize,
    pub total_failing: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlatformDigest {
    pub date: String,
    pub audience: &'static str,
    pub totals: Vec<Total>,
    pub unowned: Vec<String>,
    pub unowned_failing: Vec<PolicyRow>,
    pub informal: Vec<InformalView>,
    pub flips: Vec<FlipView>,
    /// Rollouts past their date and still in Audit.
    pub overdue: Vec<OverdueView>,
    /// The flips again, as the generic item list.
    pub items: Vec<FlipView>,
    pub count: usize,
    /// The review page (`review.base-url` + `/review`), when configured.
    pub review_url: Option<String>,
}

/// One notice the platform is told about in a failure report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailureItem {
    pub id: String,
    pub reason: String,
    pub detail: String,
}

/// What `failure.hbs` sees: the notices that could not be delivered or confirmed this tick.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailureView {
    /// The distinct reasons, comma-separated.
    pub cause: String,
    pub count: usize,
    pub items: Vec<FailureItem>,
    /// Of `count`: not delivered or not confirmed (refused, unrenderable, unconfirmed).
    pub failed: usize,
    /// Of `count`: delivered at this tick although due at an earlier one.
    pub late: usize,
    /// Of `count`: due at an earlier tick, never delivered, and now replaced or dropped.
    pub superseded: usize,
}
