//! The triage buttons under a heads-up — *Got it*, *We'll fix by…* (a date picker), *We need
//! an exception* — and the context line that shows a team's answer once someone clicked.
//!
//! Built here, once, for every place a heads-up section is rendered: the actions block's
//! `block_id` carries the typed identity ([`TriageKey::block_id`]), the `action_id`s say which
//! answer, and the words come from `templates/triage.hbs`. Pure: never records or sends
//! anything; what a click means is decided by `chat::interactions`.

use super::{MAX_SECTION, RenderError, Renderer, cut_chars};
use crate::model::time::{EnforceOn, show_day};
use crate::model::triage::{
    ACTION_EXCEPTION, ACTION_FIX_BY, ACTION_GOT_IT, Triage, TriageAnswer, TriageKey,
};
use serde::Serialize;
use serde_json::{Value, json};
use slack_morphism::prelude::*;

/// Block Kit: characters in a button's text.
const MAX_BUTTON: usize = 75;
/// Block Kit: characters in a date picker's placeholder.
const MAX_PLACEHOLDER: usize = 150;

/// What the `answered` part of `triage.hbs` sees.
#[derive(Debug, Serialize)]
struct AnsweredView<'a> {
    /// `<@U…>`, built from a checked user id.
    who: String,
    team: &'a str,
    got_it: bool,
    fix_by: Option<String>,
    /// The fix date is after the enforcement date.
    late: bool,
    enforce_on: Option<String>,
    need_exception: bool,
    /// Where exceptions are requested (config `exceptions.request-url`), if anywhere.
    request_url: Option<&'a str>,
    at: String,
}

impl Renderer {
    /// The actions block for `key`: three elements whose `action_id`s name the answer, in a
    /// block whose `block_id` names the cluster, policy and team. `None` when the key is too
    /// long for a `block_id` (Slack would refuse the whole message).
    pub fn triage_actions(&self, key: &TriageKey) -> Result<Option<SlackBlock>, RenderError> {
        let Some(block_id) = key.block_id() else {
            tracing::warn!(cluster = %key.cluster, policy = %key.policy.qualified(), team = %key.team, "names too long for a Slack block_id: this heads-up has no triage buttons");
            return Ok(None);
        };
        let label = |section: &str, max: usize| -> Result<String, RenderError> {
            Ok(cut_chars(&self.part("triage", section, &json!({}))?, max))
        };
        let button = |action: &str, text: String| {
            SlackActionBlockElement::Button(
                SlackBlockButtonElement::new(SlackBlockPlainTextOnly::from(text))
                    .with_action_id(SlackActionId(action.to_string()))
                    .with_value(action.to_string()),
            )
        };
        let picker = SlackActionBlockElement::DatePicker(
            SlackBlockDatePickerElement::new()
                .with_action_id(SlackActionId(ACTION_FIX_BY.to_string()))
                .with_placeholder(SlackBlockPlainTextOnly::from(label(
                    "fix_by",
                    MAX_PLACEHOLDER,
                )?)),
        );
        let elements = vec![
            button(ACTION_GOT_IT, label("got_it", MAX_BUTTON)?),
            picker,
            button(ACTION_EXCEPTION, label("need_exception", MAX_BUTTON)?),
        ];
        Ok(Some(
            SlackActionsBlock::new(elements)
                .with_block_id(SlackBlockId(block_id))
                .into(),
        ))
    }

    /// The context block that shows `answer` under its buttons: who, which team, what, when
    /// — a fix date after `enforce` flagged; a request for an exception points to
    /// `request_url` when one is configured. `team` is the team's display name.
    pub fn answered_line(
        &self,
        answer: &TriageAnswer,
        team: &str,
        enforce: Option<&EnforceOn>,
        tz: chrono_tz::Tz,
        request_url: Option<&str>,
    ) -> Result<Value, RenderError> {
        let fix_by = match answer.answer {
            Triage::FixBy(d) => Some(d),
            _ => None,
        };
        let view = AnsweredView {
            who: answer.user.mention(),
            team,
            got_it: answer.answer == Triage::GotIt,
            fix_by: fix_by.map(|d| d.format("%a %-d %b %Y").to_string()),
            late: fix_by.zip(enforce).is_some_and(|(d, e)| d > e.date),
            enforce_on: enforce.map(|e| e.shown(tz)),
            need_exception: answer.answer == Triage::NeedException,
            request_url,
            at: format!(
                "{} {}",
                show_day(answer.at.with_timezone(&tz)),
                answer.at.with_timezone(&tz).format("%H:%M")
            ),
        };
        let data = serde_json::to_value(&view).map_err(|e| RenderError::Render {
            file: "triage".into(),
            section: "answered".into(),
            message: e.to_string(),
        })?;
        let text = cut_chars(&self.part("triage", "answered", &data)?, MAX_SECTION);
        Ok(json!({
            "type": "context",
            "block_id": answer.key.answered_block_id(),
            "elements": [{"type": "mrkdwn", "text": text}],
        }))
    }

    /// What the person whose click was not recorded is told.
    pub fn triage_refusal(&self, reason: &str) -> Result<String, RenderError> {
        self.part("triage", "refused", &json!({ "reason": reason }))
    }
}

impl Renderer {
    /// Renders every branch of the answered line and the refusal once, with sample values, so
    /// that `forewarn check` finds a mistake in `triage.hbs` before anyone clicks.
    pub fn check_triage(&self) -> Result<(), RenderError> {
        use crate::model::ids::{ClusterName, PolicyKind, PolicyRef, TeamKey};
        let (Ok(team), Ok(user), Some(day)) = (
            TeamKey::parse("sample-team"),
            crate::model::triage::SlackUser::parse("U0SAMPLE"),
            chrono::NaiveDate::from_ymd_opt(2026, 1, 12),
        ) else {
            return Ok(());
        };
        let tz = chrono_tz::UTC;
        let enforce = crate::model::time::parse_enforce_on("2026-01-05", tz).ok();
        for answer in [Triage::GotIt, Triage::FixBy(day), Triage::NeedException] {
            let sample = TriageAnswer {
                key: TriageKey {
                    cluster: ClusterName::default(),
                    policy: PolicyRef {
                        kind: PolicyKind::ClusterPolicy,
                        namespace: None,
                        name: "sample-policy".into(),
                        parent: None,
                    },
                    team: team.clone(),
                },
                answer,
                user: user.clone(),
                user_name: Some("sample & <user>".into()),
                at: chrono::DateTime::UNIX_EPOCH.fixed_offset(),
            };
            for url in [None, Some("https://example.com/exceptions")] {
                self.answered_line(&sample, "Sample & <team>", enforce.as_ref(), tz, url)?;
            }
        }
        self.triage_refusal("a sample reason")?;
        Ok(())
    }
}

/// The blocks of a posted message with `line` (from [`Renderer::answered_line`]) right under
/// the buttons of its key, replacing the line an earlier answer left there; everything else
/// is kept as it was. Without those buttons in the message, the blocks are returned as they
/// were.
pub fn with_answered_line(mut blocks: Vec<Value>, key: &TriageKey, line: Value) -> Vec<Value> {
    let answered = key.answered_block_id();
    blocks.retain(|b| b["block_id"].as_str() != Some(answered.as_str()));
    let Some(actions) = key.block_id() else {
        return blocks;
    };
    if let Some(i) = blocks
        .iter()
        .position(|b| b["block_id"].as_str() == Some(actions.as_str()))
    {
        blocks.insert(i + 1, line);
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ids::{ClusterName, PolicyKind, PolicyRef};
    use crate::model::triage::SlackUser;

    fn key() -> TriageKey {
        TriageKey {
            cluster: ClusterName::parse("prod").expect("name"),
            policy: PolicyRef {
                kind: PolicyKind::ClusterPolicy,
                namespace: None,
                name: "require-run-as-nonroot".into(),
                parent: None,
            },
            team: crate::model::ids::TeamKey::parse("payments").expect("team"),
        }
    }

    #[test]
    fn the_actions_block_names_its_key_and_answers() {
        let r = Renderer::builtin().expect("templates");
        let block = r.triage_actions(&key()).expect("render").expect("block");
        let v = serde_json::to_value(&block).expect("json");
        assert_eq!(v["type"], "actions");
        assert_eq!(
            v["block_id"],
            "fw1|prod|ClusterPolicy||require-run-as-nonroot|payments"
        );
        let ids: Vec<&str> = v["elements"]
            .as_array()
            .expect("elements")
            .iter()
            .map(|e| e["action_id"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(ids, [ACTION_GOT_IT, ACTION_FIX_BY, ACTION_EXCEPTION]);
        assert_eq!(v["elements"][0]["text"]["text"], "Got it");
        assert_eq!(v["elements"][1]["type"], "datepicker");
        assert_eq!(v["elements"][1]["placeholder"]["text"], "We'll fix by…");
        assert_eq!(v["elements"][2]["text"]["text"], "We need an exception");
    }

    #[test]
    fn the_answered_line_goes_under_its_buttons_and_replaces_the_last_one() {
        let r = Renderer::builtin().expect("templates");
        let tz = chrono_tz::Europe::Berlin;
        let enforce = crate::model::time::parse_enforce_on("2026-12-14", tz).expect("date");
        let answer = TriageAnswer {
            key: key(),
            answer: Triage::FixBy(chrono::NaiveDate::from_ymd_opt(2026, 12, 18).expect("d")),
            user: SlackUser::parse("U0123").expect("user"),
            user_name: None,
            at: chrono::DateTime::parse_from_rfc3339("2026-12-01T09:30:00+01:00").expect("t"),
        };
        let line = r
            .answered_line(&answer, "Payments", Some(&enforce), tz, None)
            .expect("line");
        let text = line["elements"][0]["text"].as_str().expect("text");
        assert!(
            text.contains("<@U0123>: Payments will fix it by *Fri 18 Dec 2026*"),
            "{text}"
        );
        assert!(text.contains("after the enforcement date (Mon 14 Dec 2026)"));
        let buttons =
            serde_json::to_value(r.triage_actions(&key()).expect("r").expect("b")).expect("j");
        let blocks = vec![
            json!({"type": "section"}),
            buttons,
            json!({"type": "context"}),
        ];
        let once = with_answered_line(blocks, &key(), line.clone());
        assert_eq!(once.len(), 4);
        assert_eq!(once[2], line);
        let twice = with_answered_line(once.clone(), &key(), line);
        assert_eq!(twice, once);
    }
}
