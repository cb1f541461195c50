//! Who answered the triage buttons of a rollout, and who has not: what the readiness notice,
//! the platform digest and `/policy status` list about one policy in one cluster.
//!
//! Pure: reads the answers the caller loaded (the delivery edge keeps them), the config
//! (team names) and the teams concerned; never reads a store, never decides who is asked.

use crate::config::Config;
use crate::model::ids::{ClusterName, PolicyRef, TeamKey};
use crate::model::time::EnforceOn;
use crate::model::triage::{Answers, Triage, TriageKey};
use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use std::collections::BTreeMap;

/// The answers of the teams a rollout concerns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TriageView {
    /// One per team that answered, by team name.
    pub answered: Vec<AnsweredRow>,
    /// The names of the teams that have not answered.
    pub unanswered: Vec<String>,
    /// Some team answered with a fix date after the enforcement date.
    pub late: bool,
}

/// One team's answer, as the platform sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnsweredRow {
    pub team: String,
    pub got_it: bool,
    /// The day picked (`Fri 18 Dec 2026`), for *We'll fix by…*.
    pub fix_by: Option<String>,
    /// That day is after the enforcement date.
    pub late: bool,
    pub need_exception: bool,
    /// Who clicked: their Slack name, else their user id.
    pub by: String,
    /// The answer as data: `answer` (`got-it`, `fix-by`, `need-exception`) and, for
    /// `fix-by`, the `date` picked (`YYYY-MM-DD`).
    #[serde(flatten)]
    pub answer: Triage,
    /// When they clicked.
    pub at: DateTime<FixedOffset>,
}

/// The answers of `teams` (team keys; audiences that are not configured teams are left out)
/// about `policy` in `cluster`; a fix date after `enforce` is flagged. Without `answers` (no
/// store was read) nothing is listed.
pub fn triage_view<'t>(
    config: &Config,
    answers: Option<&Answers>,
    cluster: &ClusterName,
    policy: &PolicyRef,
    enforce: Option<&EnforceOn>,
    teams: impl IntoIterator<Item = &'t str>,
) -> TriageView {
    let Some(answers) = answers else {
        return TriageView::default();
    };
    let teams: BTreeMap<&TeamKey, &crate::config::Team> = teams
        .into_iter()
        .filter_map(|t| config.teams.get_key_value(t))
        .collect();
    let mut view = TriageView::default();
    for (team, settings) in teams {
        let name = settings.name.clone().unwrap_or_else(|| team.to_string());
        let key = TriageKey {
            cluster: cluster.clone(),
            policy: policy.clone(),
            team: team.clone(),
        };
        let Some(a) = answers.get(&key) else {
            view.unanswered.push(name);
            continue;
        };
        let fix_by = match a.answer {
            Triage::FixBy(d) => Some(d),
            _ => None,
        };
        let late = fix_by.zip(enforce).is_some_and(|(d, e)| d > e.date);
        view.late |= late;
        view.answered.push(AnsweredRow {
            team: name,
            got_it: a.answer == Triage::GotIt,
            fix_by: fix_by.map(|d| d.format("%a %-d %b %Y").to_string()),
            late,
            need_exception: a.answer == Triage::NeedException,
            by: a
                .user_name
                .clone()
                .unwrap_or_else(|| a.user.as_str().to_string()),
            answer: a.answer,
            at: a.at,
        });
    }
    view
}
