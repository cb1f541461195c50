//! Clicks on the triage buttons under a heads-up (Slack `block_actions` interactions), from
//! `POST /slack/interactions` (verified like commands, see [`super::http`]) or a Socket Mode
//! `interactive` envelope (see [`super::socket`]).
//!
//! A click is parsed once at this boundary into typed values — the [`TriageKey`] from the
//! actions block's `block_id`, the [`Triage`] answer from the `action_id` (and the date
//! picked), the [`SlackUser`] who clicked — and checked against what forewarn knows: a team of
//! the config, a cluster and a policy of the loaded inventory. Nothing in the payload is
//! trusted beyond that. A known answer is recorded in the answer store
//! ([`crate::deliver::answers`]) and the message is updated (`chat.update`) with a line under
//! the buttons saying who answered; anything else is refused, and the person who clicked is
//! told why on the payload's `response_url` (only Slack's own hosts), seen only by them.
//!
//! Never logs the payload (it holds message content) and never lets one bad click stop the
//! others.

use crate::chat::http::AppState;
use crate::model::triage::{SlackUser, Triage, TriageAnswer, TriageKey};
use serde::Deserialize;
use serde_json::Value;
use slack_morphism::prelude::*;
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

/// How long the update of the message may take (the click is acknowledged within Slack's 3
/// seconds either way).
const UPDATE_LIMIT: Duration = Duration::from_millis(2000);

/// The fields of a `block_actions` payload forewarn reads (Slack's reference: "block_actions
/// payload"); everything else is ignored.
#[derive(Debug, Deserialize)]
struct Payload {
    #[serde(rename = "type")]
    kind: String,
    user: Option<User>,
    container: Option<Container>,
    channel: Option<Channel>,
    /// The message the buttons are in, as posted.
    message: Option<Value>,
    response_url: Option<String>,
    #[serde(default)]
    actions: Vec<Action>,
    /// The full state of the message's interactive elements; where a date picked is found
    /// when an action does not carry it.
    state: Option<State>,
}

#[derive(Debug, Deserialize)]
struct User {
    id: String,
    username: Option<String>,
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Container {
    channel_id: Option<String>,
    message_ts: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Channel {
    id: String,
}

#[derive(Debug, Deserialize)]
struct Action {
    action_id: String,
    block_id: Option<String>,
    selected_date: Option<String>,
}

#[derive(Debug, Deserialize)]
struct State {
    #[serde(default)]
    values: std::collections::HashMap<String, std::collections::HashMap<String, StateValue>>,
}

#[derive(Debug, Deserialize)]
struct StateValue {
    selected_date: Option<String>,
}

/// One click, as received (not yet trusted).
#[derive(Debug, Clone, PartialEq)]
pub struct Click {
    pub user_id: String,
    pub user_name: Option<String>,
    pub block_id: String,
    pub action_id: String,
    pub selected_date: Option<String>,
    pub channel: Option<String>,
    pub message_ts: Option<String>,
    pub response_url: Option<String>,
    /// The message the buttons are in (`text`, `blocks`, `metadata`), when Slack sent it.
    pub message: Option<Value>,
}

/// The clicks of an interaction payload (the JSON in the form field `payload`). Payloads of
/// other types (`view_submission`, `shortcut`, …) have none. `Err` names what is missing.
pub fn clicks(payload: &Value) -> Result<Vec<Click>, String> {
    let p: Payload =
        serde_json::from_value(payload.clone()).map_err(|e| format!("interaction payload: {e}"))?;
    if p.kind != "block_actions" {
        return Ok(Vec::new());
    }
    let user = p.user.ok_or("block_actions payload: no `user`")?;
    let channel = p
        .container
        .as_ref()
        .and_then(|c| c.channel_id.clone())
        .or(p.channel.map(|c| c.id));
    let message_ts = p.container.and_then(|c| c.message_ts);
    let picked = |block: &str, action: &str| {
        p.state
            .as_ref()
            .and_then(|s| s.values.get(block))
            .and_then(|b| b.get(action))
            .and_then(|v| v.selected_date.clone())
    };
    Ok(p.actions
        .iter()
        .map(|a| {
            let block_id = a.block_id.clone().unwrap_or_default();
            Click {
                user_id: user.id.clone(),
                user_name: user.username.clone().or(user.name.clone()),
                selected_date: a
                    .selected_date
                    .clone()
                    .or_else(|| picked(&block_id, &a.action_id)),
                block_id,
                action_id: a.action_id.clone(),
                channel: channel.clone(),
                message_ts: message_ts.clone(),
                response_url: p.response_url.clone(),
                message: p.message.clone(),
            }
        })
        .collect())
}

/// The JSON of the form field `payload` of an interaction request body.
pub fn payload_of_form(body: &[u8]) -> Result<Value, String> {
    let fields: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|e| format!("interaction form: {e}"))?;
    let mut payloads = fields.into_iter().filter(|(k, _)| k == "payload");
    let (_, json) = payloads
        .next()
        .ok_or("interaction form: missing field `payload`")?;
    if payloads.next().is_some() {
        return Err("interaction form: field `payload` given twice".to_string());
    }
    serde_json::from_str(&json).map_err(|e| format!("interaction form: `payload` is not JSON: {e}"))
}

/// What became of a click.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Recorded; `updated` says whether the message now shows it.
    Recorded { key: TriageKey, updated: bool },
    /// Not recorded, for this reason (told to the person who clicked).
    Refused(String),
    /// Not one of forewarn's buttons: ignored.
    Ignored,
}

/// Handles every click of `payload`: records the answers forewarn knows, updates their
/// messages, refuses the rest. Shared by the HTTP endpoint and Socket Mode.
pub async fn handle(state: &Arc<AppState>, payload: &Value) -> Vec<Outcome> {
    let clicks = match clicks(payload) {
        Ok(c) => c,
        Err(e) => {
            warn!(error = %e, "interaction payload refused");
            return vec![Outcome::Refused(e)];
        }
    };
    let mut out = Vec::new();
    for click in clicks {
        let outcome = handle_click(state, &click).await;
        match &outcome {
            Outcome::Recorded { key, updated } => {
                info!(cluster = %key.cluster, policy = %key.policy.qualified(), team = %key.team, updated, "triage answer recorded")
            }
            Outcome::Refused(reason) => {
                warn!(%reason, action = %click.action_id, "triage answer refused");
                tell(state, &click, reason).await;
            }
            Outcome::Ignored => {}
        }
        state.metrics.interaction(match &outcome {
            Outcome::Recorded { .. } => "recorded",
            Outcome::Refused(_) => "refused",
            Outcome::Ignored => "ignored",
        });
        out.push(outcome);
    }
    out
}

/// Whether a click is meant for forewarn at all: its `action_id` is one of the triage
/// buttons.
fn ours(click: &Click) -> bool {
    click.action_id.starts_with("forewarn_")
}

/// A click checked against the config and the inventory: the answer to record, or why not.
fn checked(state: &AppState, click: &Click) -> Result<(TriageAnswer, String), String> {
    let key = TriageKey::parse_block_id(&click.block_id)?;
    let answer = Triage::from_action(&click.action_id, click.selected_date.as_deref())?;
    let user = SlackUser::parse(&click.user_id)?;
    let Some(team) = state.config.teams.get(&key.team) else {
        return Err(format!(
            "forewarn knows no team '{}' (the teams are those of its configuration)",
            key.team
        ));
    };
    let Some(clusters) = state.inventory() else {
        return Err(
            "forewarn is still loading the cluster inventory; try again in a minute".into(),
        );
    };
    let Some(inv) = clusters.iter().find(|i| i.cluster == key.cluster) else {
        return Err(format!(
            "forewarn does not read a cluster '{}'",
            key.cluster
        ));
    };
    if !inv.policies.iter().any(|p| p.reference == key.policy) {
        return Err(format!(
            "there is no policy {} in cluster '{}'",
            key.policy.qualified(),
            key.cluster
        ));
    }
    let now = (state.clock)().fixed_offset();
    let name = team.name.clone().unwrap_or_else(|| key.team.to_string());
    Ok((
        TriageAnswer {
            key,
            answer,
            user,
            user_name: click.user_name.clone(),
            at: now,
        },
        name,
    ))
}

async fn handle_click(state: &Arc<AppState>, click: &Click) -> Outcome {
    if !ours(click) {
        return Outcome::Ignored;
    }
    let (answer, team_name) = match checked(state, click) {
        Ok(a) => a,
        Err(reason) => return Outcome::Refused(reason),
    };
    let Some(store) = &state.answers else {
        return Outcome::Refused(
            "this forewarn keeps no answers (it was started without an answer store)".into(),
        );
    };
    if let Err(e) = store.record(&answer).await {
        tracing::error!(error = %e, "cannot record a triage answer");
        return Outcome::Refused(
            "it could not be saved; please try again (the platform team has the details in its logs)"
                .into(),
        );
    }
    let updated = matches!(
        tokio::time::timeout(UPDATE_LIMIT, show_answer(state, click, &answer, &team_name)).await,
        Ok(true)
    );
    Outcome::Recorded {
        key: answer.key,
        updated,
    }
}

/// Updates the message the click came from with the answered line under its buttons; false
/// when it could not (no bot token, no message in the payload, Slack refused).
async fn show_answer(
    state: &AppState,
    click: &Click,
    answer: &TriageAnswer,
    team_name: &str,
) -> bool {
    let (Some(slack), Some(channel), Some(ts), Some(message)) = (
        &state.directory,
        &click.channel,
        &click.message_ts,
        &click.message,
    ) else {
        return false;
    };
    let enforce = state.inventory().and_then(|clusters| {
        let inv = clusters.iter().find(|i| i.cluster == answer.key.cluster)?;
        let policy = inv
            .policies
            .iter()
            .find(|p| p.reference == answer.key.policy)?;
        crate::plan::rollout::rollout_for(policy, &state.config)
            .0
            .enforce_on
    });
    let line = match state.renderer.answered_line(
        answer,
        team_name,
        enforce.as_ref(),
        state.config.time_zone,
        state.config.exceptions.request_url.as_deref(),
    ) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "cannot render the answered line");
            return false;
        }
    };
    let blocks = message["blocks"].as_array().cloned().unwrap_or_default();
    let blocks = crate::render::actions::with_answered_line(blocks, &answer.key, line);
    let blocks: Vec<SlackBlock> = match serde_json::from_value(Value::Array(blocks)) {
        Ok(b) => b,
        Err(e) => {
            warn!(error = %e, "the message's blocks are not Block Kit forewarn can update");
            return false;
        }
    };
    let metadata: Option<SlackMessageMetadata> =
        serde_json::from_value(message["metadata"].clone()).ok();
    let text = message["text"].as_str().unwrap_or_default();
    match slack
        .update_message(channel, ts, text, blocks, metadata)
        .await
    {
        Ok(()) => true,
        Err(e) => {
            warn!(error = %e, "chat.update failed: the answer is recorded but the message does not show it");
            false
        }
    }
}

/// Tells the person who clicked why the answer was not recorded, on the payload's
/// `response_url` (Slack's hosts only), as a message only they see.
async fn tell(state: &AppState, click: &Click, reason: &str) {
    let Some(url) = click.response_url.as_deref() else {
        return;
    };
    if !state.response_url_allowed(url) {
        warn!("response_url is not a Slack host; not posting to it");
        return;
    }
    let (Some(client), Ok(parsed)) = (&state.responder, url::Url::parse(url)) else {
        return;
    };
    let text = match state.renderer.triage_refusal(reason) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "cannot render a triage refusal");
            return;
        }
    };
    let request =
        SlackApiPostWebhookMessageRequest::new(SlackMessageContent::new().with_text(text))
            .with_replace_original(false);
    if let Err(e) = client.post_webhook_message(&parsed, &request).await {
        warn!(error = %e, "cannot tell the user why a triage answer was refused");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload() -> Value {
        json!({
            "type": "block_actions",
            "user": {"id": "U0123", "username": "maria", "team_id": "T1"},
            "api_app_id": "A1",
            "team": {"id": "T1", "domain": "example"},
            "container": {"type": "message", "message_ts": "1796108400.000100", "channel_id": "CPAYMENTSDEV", "is_ephemeral": false},
            "trigger_id": "1.2.3",
            "channel": {"id": "CPAYMENTSDEV", "name": "payments-dev"},
            "message": {"type": "message", "text": "heads-up", "ts": "1796108400.000100", "blocks": []},
            "response_url": "https://hooks.slack.com/actions/T1/1/abc",
            "actions": [{
                "type": "datepicker", "action_id": "forewarn_fix_by",
                "block_id": "fw1|prod|ClusterPolicy||p|payments",
                "selected_date": "2026-12-18", "action_ts": "1796108401.1"
            }],
            "state": {"values": {}}
        })
    }

    #[test]
    fn a_date_pick_is_one_click_with_its_date() {
        let c = clicks(&payload()).expect("clicks");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].user_id, "U0123");
        assert_eq!(c[0].user_name.as_deref(), Some("maria"));
        assert_eq!(c[0].selected_date.as_deref(), Some("2026-12-18"));
        assert_eq!(c[0].channel.as_deref(), Some("CPAYMENTSDEV"));
        assert_eq!(c[0].message_ts.as_deref(), Some("1796108400.000100"));
    }

    #[test]
    fn the_date_is_read_from_the_state_when_the_action_lacks_it() {
        // slack-morphism's typed action (Socket Mode) has no `selected_date`; the state has.
        let mut p = payload();
        p["actions"][0]
            .as_object_mut()
            .expect("object")
            .remove("selected_date");
        p["state"] = json!({"values": {"fw1|prod|ClusterPolicy||p|payments": {
            "forewarn_fix_by": {"type": "datepicker", "selected_date": "2026-12-21"}}}});
        let c = clicks(&p).expect("clicks");
        assert_eq!(c[0].selected_date.as_deref(), Some("2026-12-21"));
    }

    #[test]
    fn other_payload_types_have_no_clicks_and_the_form_needs_one_payload() {
        assert!(
            clicks(&json!({"type": "view_closed"}))
                .expect("ok")
                .is_empty()
        );
        assert!(payload_of_form(b"token=x").is_err());
        assert!(payload_of_form(b"payload=%7B%7D&payload=%7B%7D").is_err());
        assert_eq!(payload_of_form(b"payload=%7B%7D"), Ok(json!({})));
    }
}
