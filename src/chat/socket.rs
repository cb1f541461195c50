//! Slack Socket Mode: `/policy` slash commands and triage button clicks without a public
//! endpoint.
//!
//! With an app-level token (`xapp-…`, from `SLACK_APP_TOKEN` or the file named by
//! `SLACK_APP_TOKEN_FILE`) forewarn opens outbound WebSocket connections to Slack and receives
//! the same slash commands it would otherwise get on `POST /slack/commands`, and the same
//! button clicks as `POST /slack/interactions` (`interactive` envelopes, handled by
//! [`crate::chat::interactions::handle`] and acknowledged). Each command is
//! turned into a [`SlashRequest`] ([`to_request`]), answered by the very same handler as the
//! HTTP edge ([`crate::chat::http::respond`]), and the reply goes back as the envelope's
//! acknowledgement payload ([`to_ack`]). Socket Mode frames are authenticated by the connection
//! itself, so there is no signature to verify here.
//!
//! The Slack client is built by [`crate::deliver::slack::hyper_client`], so the only TLS
//! provider compiled in stays rustls with ring; the Web API base URL follows `SLACK_API_URL`
//! like the rest of the Slack edge.
//!
//! This module must never log, print or put into an error the app token: [`AppToken`] has no
//! `Display`, its `Debug` prints `AppToken(***)`, and its validation errors name the variable or
//! file, never the value.
//!
//! A command that cannot be answered (a panic in the handler, no application state, an answer
//! too slow for Slack's 3 seconds) is acknowledged with a short apology; it never stops the
//! listener.
//!
//! Testing: the pure parts (token handling, [`to_request`], [`to_ack`]) are unit-tested below;
//! `tests/triage.rs` runs the listener end to end against a local fake Socket Mode server
//! (`apps.connections.open` answering a `ws://127.0.0.1` URL).

use crate::chat::http::AppState;
use crate::chat::request::SlashRequest;
use crate::deliver::slack::{Client, SlackSettings, hyper_client};
use anyhow::{Context, bail};
use serde_json::Value;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tracing::{error, info, warn};

/// The prefix of every Slack app-level token.
const APP_TOKEN_PREFIX: &str = "xapp-";

/// How long an answer may take before the command is acknowledged with an apology instead
/// (Slack waits 3 seconds for the acknowledgement).
const ANSWER_TIMEOUT: Duration = Duration::from_millis(2500);

/// The reply when a command could not be answered.
const APOLOGY: &str = "Sorry, something went wrong on forewarn's side. The platform team has the details in its logs.";

/// A Slack app-level token (`xapp-…`) for Socket Mode. It never shows up in `Debug` output or
/// logs.
#[derive(Clone, PartialEq, Eq)]
pub struct AppToken(String);

impl std::fmt::Debug for AppToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppToken(***)")
    }
}

impl AppToken {
    /// A checked token (trimmed; it must start with `xapp-`). `source` names where it came from
    /// in the error, which never contains the token.
    fn checked(token: &str, source: &str) -> anyhow::Result<Self> {
        let token = token.trim();
        if token.is_empty() {
            bail!("{source}: the Slack app token is empty");
        }
        if !token.starts_with(APP_TOKEN_PREFIX) {
            bail!(
                "{source}: not a Slack app-level token (it must start with `{APP_TOKEN_PREFIX}`; \
                 create one under Basic Information → App-Level Tokens with the \
                 `connections:write` scope)"
            );
        }
        Ok(Self(token.to_string()))
    }

    /// A token from a string (trimmed), checked like [`AppToken::from_env`] does.
    pub fn new(token: &str) -> anyhow::Result<Self> {
        Self::checked(token, "Slack app token")
    }

    /// Reads the token from `SLACK_APP_TOKEN`, or from the file named by `SLACK_APP_TOKEN_FILE`
    /// (e.g. a mounted Kubernetes Secret; surrounding whitespace is trimmed).
    ///
    /// `Ok(None)` when neither is set (an empty variable counts as unset): Socket Mode is then
    /// off. An error when both are set, when the file is unreadable or empty, or when the token
    /// does not start with `xapp-`.
    pub fn from_env() -> anyhow::Result<Option<Self>> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`AppToken::from_env`] with the variables read through `lookup` (for tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Option<Self>> {
        match crate::config::secret::from_lookup("SLACK_APP_TOKEN", lookup)? {
            Some(s) => Self::checked(s.expose(), "SLACK_APP_TOKEN").map(Some),
            None => Ok(None),
        }
    }

    fn api_token(&self) -> SlackApiToken {
        SlackApiToken::new(SlackApiTokenValue(self.0.clone()))
            .with_token_type(SlackApiTokenType::App)
    }
}

/// The parsed form of a Socket Mode slash command, as the HTTP edge would have parsed it.
///
/// Fields the Socket Mode event does not carry (`user_name`, `api_app_id`, the enterprise
/// fields) are `None`; the answer does not depend on them.
pub fn to_request(event: &SlackCommandEvent) -> SlashRequest {
    SlashRequest {
        command: event.command.0.clone(),
        text: event.text.clone().unwrap_or_default(),
        user_id: event.user_id.0.clone(),
        user_name: None,
        channel_id: event.channel_id.0.clone(),
        channel_name: event.channel_name.clone(),
        team_id: Some(event.team_id.0.clone()),
        response_url: Some(event.response_url.0.to_string()),
        trigger_id: Some(event.trigger_id.0.clone()),
        api_app_id: None,
        enterprise_id: None,
        is_enterprise_install: None,
    }
}

/// The acknowledgement payload for a reply body of [`crate::chat::http::respond`]
/// (`{"response_type", "text", "blocks"}`): ephemeral unless the body says `in_channel`.
///
/// Blocks that do not parse as Block Kit are dropped (with a warning) and the text is kept.
pub fn to_ack(body: &Value) -> SlackCommandEventResponse {
    let blocks = match body.get("blocks") {
        None | Some(Value::Null) => None,
        Some(blocks) => match serde_json::from_value::<Vec<SlackBlock>>(blocks.clone()) {
            Ok(blocks) => Some(blocks),
            Err(e) => {
                warn!(error = %e, "slash-command reply blocks are not Block Kit; sending text only");
                None
            }
        },
    };
    let content = SlackMessageContent::new()
        .opt_text(body.get("text").and_then(Value::as_str).map(str::to_string))
        .opt_blocks(blocks);
    let response_type = match body.get("response_type").and_then(Value::as_str) {
        Some("in_channel") => SlackMessageResponseType::InChannel,
        _ => SlackMessageResponseType::Ephemeral,
    };
    SlackCommandEventResponse::new(content).with_response_type(response_type)
}

fn apology_ack() -> SlackCommandEventResponse {
    SlackCommandEventResponse::new(SlackMessageContent::new().with_text(APOLOGY.to_string()))
        .with_response_type(SlackMessageResponseType::Ephemeral)
}

/// Connects to Slack in Socket Mode and answers `/policy` commands from `state` until
/// `shutdown` resolves; then closes the connections.
///
/// An error only when the client cannot be set up (bad `SLACK_API_URL`, no root certificates)
/// or the token cannot be registered; connection failures afterwards are retried by the
/// listener.
pub async fn serve_socket_mode(
    token: AppToken,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let api_url = SlackSettings::from_env().api_url;
    serve_socket_mode_at(&api_url, token, state, shutdown).await
}

/// [`serve_socket_mode`] with the Web API at `api_url` (where `apps.connections.open` is asked
/// for the WebSocket URL).
pub async fn serve_socket_mode_at(
    api_url: &str,
    token: AppToken,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let api_url = api_url.trim().trim_end_matches('/').to_string();
    let plain_http = api_url.starts_with("http://");
    if !plain_http && !api_url.starts_with("https://") {
        bail!("SLACK_API_URL must start with https:// or http://, got {api_url:?}");
    }
    let client: Arc<Client> = Arc::new(hyper_client(&api_url, plain_http)?);
    let environment = Arc::new(
        SlackClientEventsListenerEnvironment::new(client)
            .with_error_handler(on_error)
            .with_user_state(state),
    );
    let callbacks = SlackSocketModeListenerCallbacks::new()
        .with_hello_events(on_hello)
        .with_command_events(on_command)
        .with_interaction_events(on_interaction);
    let config = SlackClientSocketModeConfig::new();
    let listener = SlackClientSocketModeListener::new(&config, environment, callbacks);
    listener
        .listen_for(&token.api_token())
        .await
        .context("cannot register the Slack app token for Socket Mode")?;
    listener.start().await;
    info!(
        connections = config.max_connections_count,
        "Socket Mode listener started; answering slash commands and button clicks over Slack's WebSocket"
    );
    shutdown.await;
    info!("Socket Mode listener shutting down");
    listener.shutdown().await;
    Ok(())
}

/// Logs each established connection. Generic because slack-morphism does not export the hello
/// event's type by name; it is read through its JSON form.
async fn on_hello<E: serde::Serialize + Send + 'static>(
    event: E,
    _client: Arc<Client>,
    _state: SlackClientEventsUserState,
) {
    let hello = serde_json::to_value(&event).unwrap_or_default();
    info!(
        app_id = hello["connection_info"]["app_id"]
            .as_str()
            .unwrap_or_default(),
        connections = hello["num_connections"].as_u64().unwrap_or_default(),
        host = hello["debug_info"]["host"].as_str().unwrap_or_default(),
        "Socket Mode connected to Slack"
    );
}

/// Logs listener errors (malformed frames, failed callbacks) without their payloads, and
/// acknowledges so Slack does not redeliver.
fn on_error(
    err: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<Client>,
    _state: SlackClientEventsUserState,
) -> HttpStatusCode {
    let kind = match err.downcast_ref::<SlackClientError>() {
        Some(SlackClientError::ProtocolError(_) | SlackClientError::SocketModeProtocolError(_)) => {
            "protocol"
        }
        Some(_) => "client",
        None => "callback",
    };
    warn!(kind, "Socket Mode listener error");
    HttpStatusCode::OK
}

async fn on_command(
    event: SlackCommandEvent,
    _client: Arc<Client>,
    storage: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    let state = storage
        .read()
        .await
        .get_user_state::<Arc<AppState>>()
        .cloned();
    let Some(state) = state else {
        error!("Socket Mode: no application state registered; cannot answer a slash command");
        return Ok(apology_ack());
    };
    let request = to_request(&event);
    // Answer on its own task so that a panic in the handler stays there.
    let started = std::time::Instant::now();
    let metrics_state = state.clone();
    let task = tokio::spawn(async move { crate::chat::http::respond(&state, request).await });
    let ack = match tokio::time::timeout(ANSWER_TIMEOUT, task).await {
        Ok(Ok((name, body))) => {
            metrics_state.metrics.command(name, started.elapsed());
            info!(command = name, "slash command answered over Socket Mode");
            to_ack(&body)
        }
        Ok(Err(e)) => {
            error!(error = %e, "Socket Mode: the slash-command handler failed");
            apology_ack()
        }
        Err(_) => {
            warn!(
                timeout_ms = ANSWER_TIMEOUT.as_millis() as u64,
                "Socket Mode: slash-command answer too slow; acknowledged with an apology"
            );
            apology_ack()
        }
    };
    Ok(ack)
}

/// A button click: handled like one on `POST /slack/interactions`, on its own task and within
/// Slack's 3 seconds; the envelope is acknowledged either way (an answer still being recorded
/// finishes on its task).
async fn on_interaction(
    event: SlackInteractionEvent,
    _client: Arc<Client>,
    storage: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    let state = storage
        .read()
        .await
        .get_user_state::<Arc<AppState>>()
        .cloned();
    let Some(state) = state else {
        error!("Socket Mode: no application state registered; cannot handle a click");
        return Ok(());
    };
    // The typed event is read back as Slack's JSON: the one parser of clicks reads it
    // (a date picked is in its `state`).
    let payload = match serde_json::to_value(&event) {
        Ok(p) => p,
        Err(e) => {
            warn!(error = %e, "Socket Mode: an interaction that cannot be read back");
            return Ok(());
        }
    };
    let task =
        tokio::spawn(async move { crate::chat::interactions::handle(&state, &payload).await });
    match tokio::time::timeout(ANSWER_TIMEOUT, task).await {
        Ok(Ok(_)) => info!("button click handled over Socket Mode"),
        Ok(Err(e)) => error!(error = %e, "Socket Mode: the click handler failed"),
        Err(_) => warn!("Socket Mode: click still being handled; acknowledged meanwhile"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> SlackCommandEvent {
        // The `payload` of a Socket Mode `slash_commands` envelope.
        serde_json::from_value(json!({
            "token": "verification-token-unused",
            "team_id": "T0001",
            "team_domain": "example",
            "channel_id": "C0001",
            "channel_name": "payments-dev",
            "user_id": "U0001",
            "user_name": "alice",
            "command": "/policy",
            "text": "why require-run-as-nonroot",
            "api_app_id": "A0001",
            "is_enterprise_install": "false",
            "response_url": "https://hooks.slack.com/commands/T0001/1/abc",
            "trigger_id": "1.2.abc"
        }))
        .expect("a Socket Mode command payload")
    }

    #[test]
    fn to_request_maps_the_fields() {
        let r = to_request(&event());
        assert_eq!(r.command, "/policy");
        assert_eq!(r.text, "why require-run-as-nonroot");
        assert_eq!(r.user_id, "U0001");
        assert_eq!(r.channel_id, "C0001");
        assert_eq!(r.channel_name.as_deref(), Some("payments-dev"));
        assert_eq!(r.team_id.as_deref(), Some("T0001"));
        assert_eq!(
            r.response_url.as_deref(),
            Some("https://hooks.slack.com/commands/T0001/1/abc")
        );
        assert_eq!(r.trigger_id.as_deref(), Some("1.2.abc"));
        assert_eq!(r.user_name, None);
        assert_eq!(r.api_app_id, None);
        assert_eq!(r.enterprise_id, None);
        assert_eq!(r.is_enterprise_install, None);
    }

    #[test]
    fn to_request_without_text_is_empty_text() {
        let mut e = event();
        e.text = None;
        assert_eq!(to_request(&e).text, "");
    }

    #[test]
    fn to_ack_is_ephemeral_with_text_and_blocks() {
        let body = json!({
            "response_type": "ephemeral",
            "text": "require-run-as-nonroot is enforced on 2026-12-15",
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": "*require-run-as-nonroot*"}}
            ]
        });
        let ack = to_ack(&body);
        assert_eq!(ack.response_type, Some(SlackMessageResponseType::Ephemeral));
        let out = serde_json::to_value(&ack).unwrap();
        assert_eq!(out["response_type"], "ephemeral");
        assert_eq!(
            out["text"],
            "require-run-as-nonroot is enforced on 2026-12-15"
        );
        assert_eq!(out["blocks"][0]["type"], "section");
        assert_eq!(out["blocks"][0]["text"]["text"], "*require-run-as-nonroot*");
    }

    #[test]
    fn to_ack_defaults_to_ephemeral_and_keeps_in_channel() {
        let ack = to_ack(&json!({ "text": "hi" }));
        assert_eq!(ack.response_type, Some(SlackMessageResponseType::Ephemeral));
        assert_eq!(ack.content.text.as_deref(), Some("hi"));
        assert!(ack.content.blocks.is_none());
        let ack = to_ack(&json!({ "response_type": "in_channel", "text": "hi" }));
        assert_eq!(ack.response_type, Some(SlackMessageResponseType::InChannel));
    }

    #[test]
    fn to_ack_drops_blocks_that_are_not_block_kit() {
        let ack = to_ack(&json!({ "text": "hi", "blocks": "nonsense" }));
        assert_eq!(ack.content.text.as_deref(), Some("hi"));
        assert!(ack.content.blocks.is_none());
    }

    #[test]
    fn apology_is_ephemeral_text() {
        let out = serde_json::to_value(apology_ack()).unwrap();
        assert_eq!(out["response_type"], "ephemeral");
        assert!(out["text"].as_str().unwrap().starts_with("Sorry"));
    }

    const SECRET: &str = "xapp-1-A0001-1234-secretsecret";

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn debug_hides_the_token() {
        let t = AppToken::new(SECRET).unwrap();
        assert_eq!(format!("{t:?}"), "AppToken(***)");
        assert_eq!(format!("{:?}", Some(t)), "Some(AppToken(***))");
    }

    #[test]
    fn from_env_reads_and_trims_the_variable() {
        let t = AppToken::from_lookup(lookup(&[("SLACK_APP_TOKEN", &format!("  {SECRET}\n"))]))
            .unwrap()
            .unwrap();
        assert_eq!(t.0, SECRET);
    }

    #[test]
    fn from_env_empty_is_unset() {
        assert!(AppToken::from_lookup(lookup(&[])).unwrap().is_none());
        assert!(
            AppToken::from_lookup(lookup(&[
                ("SLACK_APP_TOKEN", "  "),
                ("SLACK_APP_TOKEN_FILE", "")
            ]))
            .unwrap()
            .is_none()
        );
    }

    #[test]
    fn rejects_a_token_that_is_not_an_app_token_without_showing_it() {
        let bot = "xoxb-123-456-secretsecret";
        let err = AppToken::from_lookup(lookup(&[("SLACK_APP_TOKEN", bot)])).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("SLACK_APP_TOKEN"), "{msg}");
        assert!(msg.contains("xapp-"), "{msg}");
        assert!(!msg.contains("secretsecret"), "{msg}");
        assert!(!format!("{err:?}").contains("secretsecret"));
    }

    #[test]
    fn both_variables_set_is_an_error() {
        let err = AppToken::from_lookup(lookup(&[
            ("SLACK_APP_TOKEN", SECRET),
            ("SLACK_APP_TOKEN_FILE", "/nonexistent"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("set only one"));
        assert!(!format!("{err:#}").contains("secretsecret"));
    }

    #[test]
    fn from_file_reads_checks_and_never_shows_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good");
        std::fs::write(&good, format!("{SECRET}\n")).unwrap();
        let path = good.to_str().unwrap().to_string();
        let t = AppToken::from_lookup(lookup(&[("SLACK_APP_TOKEN_FILE", &path)]))
            .unwrap()
            .unwrap();
        assert_eq!(t.0, SECRET);

        let bad = dir.path().join("bad");
        std::fs::write(&bad, "xoxb-123-secretsecret").unwrap();
        let from = |p: &std::path::Path| {
            let p = p.to_str().unwrap().to_string();
            AppToken::from_lookup(lookup(&[("SLACK_APP_TOKEN_FILE", &p)]))
        };
        let err = from(&bad).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("SLACK_APP_TOKEN"), "{msg}");
        assert!(!msg.contains("secretsecret"), "{msg}");

        let empty = dir.path().join("empty");
        std::fs::write(&empty, " \n").unwrap();
        assert!(
            format!("{:#}", from(&empty).unwrap_err()).contains("empty"),
            "empty file"
        );

        let missing = dir.path().join("missing");
        assert!(from(&missing).is_err());
    }
}
