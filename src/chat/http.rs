//! The HTTP edge: Slack slash commands, button clicks, health, readiness and metrics, and the
//! review page when a review token is configured ([`crate::chat::review_page`]).
//!
//! `POST /slack/commands` checks the body's size and type, verifies Slack's signature on the raw
//! bytes, and only then parses the command and answers it from the inventory in memory — within
//! Slack's 3 seconds. `POST /slack/interactions` (the triage buttons) goes through the very same
//! checks — size, type, signature, replay — before its `payload` is parsed and handed to
//! [`crate::chat::interactions`]. When no inventory is loaded yet it acknowledges at once and posts the
//! answer to `response_url`, but only to Slack's own hosts. This module never logs the signing
//! secret or a signature, and never lets an internal error reach the user as more than a short
//! apology.

use crate::chat::answer::{Answer, answer_clusters, caller_team, help};
use crate::chat::request::{SlashRequest, parse_form, parse_question};
use crate::chat::verify::{MAX_SKEW_SECS, SigningSecret, verify};
use crate::config::Config;
use crate::deliver::metrics::Labels;
use crate::deliver::slack::Client;
use crate::inventory::Inventory;
use crate::render::{Message, Renderer};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use serde_json::{Value, json};
use slack_morphism::prelude::*;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tracing::{info, warn};

/// Largest request body accepted (Slack's slash-command bodies are well under 4 KiB).
pub const MAX_BODY: usize = 16 * 1024;

/// How long an answer may wait for the caller's email.
pub const EMAIL_LOOKUP_LIMIT: Duration = Duration::from_millis(1000);

/// Hosts a `response_url` may point at.
pub const SLACK_RESPONSE_HOSTS: &[&str] = &["hooks.slack.com"];

/// The time source, injectable for tests.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// What `/metrics` shows, kept with `prometheus-client`: the HTTP edge's own metrics and
/// whatever else was registered (delivery, Slack).
#[derive(Debug)]
pub struct Metrics {
    commands: Family<Labels, Counter>,
    interactions: Family<Labels, Counter>,
    rejections: Family<Labels, Counter>,
    latency: Histogram,
    ready: Gauge,
    inventory: Family<Labels, Gauge>,
    registry: Registry,
}

const BUCKETS: [f64; 9] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let m = Self {
            commands: Family::default(),
            interactions: Family::default(),
            rejections: Family::default(),
            latency: Histogram::new(BUCKETS),
            ready: Gauge::default(),
            inventory: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "forewarn_ready",
            "1 once an inventory is loaded",
            m.ready.clone(),
        );
        registry.register(
            "forewarn_inventory_objects",
            "Objects in the loaded inventory, by kind",
            m.inventory.clone(),
        );
        registry.register(
            "forewarn_commands",
            "Slash commands answered, by sub-command",
            m.commands.clone(),
        );
        registry.register(
            "forewarn_interactions",
            "Triage button clicks, by outcome (recorded, refused, ignored)",
            m.interactions.clone(),
        );
        registry.register(
            "forewarn_command_rejections",
            "Requests refused before parsing, by reason",
            m.rejections.clone(),
        );
        registry.register(
            "forewarn_command_duration_seconds",
            "Time to answer a slash command",
            m.latency.clone(),
        );
        Self { registry, ..m }
    }
}

impl Metrics {
    pub(crate) fn command(&self, name: &str, took: Duration) {
        self.commands
            .get_or_create(&vec![("command", name.to_string())])
            .inc();
        self.latency.observe(took.as_secs_f64());
    }

    pub(crate) fn interaction(&self, outcome: &str) {
        self.interactions
            .get_or_create(&vec![("outcome", outcome.to_string())])
            .inc();
    }

    fn reject(&self, reason: &'static str) {
        self.rejections
            .get_or_create(&vec![("reason", reason.to_string())])
            .inc();
    }

    /// Where other parts register their metrics (before the state is shared).
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }
}

/// Everything the handlers share. Cheap to clone through `Arc`; the inventory is swapped whole.
pub struct AppState {
    pub config: Arc<Config>,
    pub renderer: Arc<Renderer>,
    /// `None`: commands are refused (401) until `SLACK_SIGNING_SECRET` is configured.
    pub secret: Option<SigningSecret>,
    pub clock: Clock,
    /// Hosts `response_url` may point at.
    pub response_hosts: Vec<String>,
    /// Posts delayed answers; `None` disables the delayed path.
    pub responder: Option<Client>,
    /// The bot's Web API client: looks up a caller's email (Slack `users.info`) when the
    /// channel names no team, and updates a message once a triage button was clicked.
    pub directory: Option<Arc<crate::deliver::slack::Slack>>,
    /// Where triage answers are recorded; `None`: clicks are refused with a reason.
    pub answers: Option<Arc<crate::deliver::answers::AnswerStore>>,
    pub metrics: Metrics,
    /// How long a request body may take to arrive (default [`DEFAULT_BODY_READ_TIMEOUT`]).
    pub body_read_timeout: Duration,
    /// Signatures already accepted within the signature window.
    pub replays: ReplayCache,
    /// `/review` and `/review.json`, when a review token is configured; `None`: 404.
    pub review: Option<crate::chat::review_page::ReviewPage>,
    inventory_tx: watch::Sender<Option<Arc<Vec<Inventory>>>>,
}

impl AppState {
    pub fn new(
        config: Arc<Config>,
        renderer: Arc<Renderer>,
        secret: Option<SigningSecret>,
    ) -> Self {
        Self {
            config,
            renderer,
            secret,
            clock: Arc::new(Utc::now),
            response_hosts: SLACK_RESPONSE_HOSTS.iter().map(|h| h.to_string()).collect(),
            responder: None,
            directory: None,
            answers: None,
            metrics: Metrics::default(),
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            replays: ReplayCache::new(REPLAY_CACHE_SIZE),
            review: None,
            inventory_tx: watch::channel(None).0,
        }
    }

    /// Replaces the inventories (one per cluster) answers are computed from.
    pub fn set_inventory(&self, clusters: Vec<Inventory>) {
        self.inventory_tx.send_replace(Some(Arc::new(clusters)));
    }

    /// The current inventories, if loaded (a cheap `Arc` copy; no lock is held after).
    pub fn inventory(&self) -> Option<Arc<Vec<Inventory>>> {
        self.inventory_tx.borrow().clone()
    }

    /// Whether `url` is on one of [`AppState::response_hosts`] (over https, or plain http for
    /// a local test host).
    pub(crate) fn response_url_allowed(&self, url: &str) -> bool {
        let Ok(u) = url::Url::parse(url) else {
            return false;
        };
        let host = u.host_str().unwrap_or_default();
        let https_or_test =
            u.scheme() == "https" || self.response_hosts.iter().any(|h| h == "127.0.0.1");
        https_or_test && self.response_hosts.iter().any(|h| h == host)
    }
}

/// The routes, as a value tests can call without a socket.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/slack/commands", post(commands))
        .route("/slack/interactions", post(interactions))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/review", get(crate::chat::review_page::html))
        .route("/review.json", get(crate::chat::review_page::json))
        .with_state(state)
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    match state.inventory() {
        Some(_) => (StatusCode::OK, "ready\n").into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "inventory not loaded yet\n",
        )
            .into_response(),
    }
}

fn reject(state: &AppState, status: StatusCode, reason: &'static str, detail: &str) -> Response {
    state.metrics.reject(reason);
    warn!(reason, detail, "request from Slack rejected");
    (status, format!("{detail}\n")).into_response()
}

/// A slash-command reply body.
fn reply(message: &Message) -> Value {
    json!({ "response_type": "ephemeral", "text": message.text, "blocks": message.blocks })
}

fn apology() -> Value {
    json!({ "response_type": "ephemeral", "text": "Sorry, something went wrong on forewarn's side. The platform team has the details in its logs." })
}

async fn commands(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let bytes = match verified_body(&state, &headers, body).await {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    // 3. Only now parse.
    let request = match parse_form(&bytes) {
        Ok(r) => r,
        Err(e) => return reject(&state, StatusCode::BAD_REQUEST, "form", &e.to_string()),
    };
    let (name, body) = respond(&state, request).await;
    state.metrics.command(name, started.elapsed());
    axum::Json(body).into_response()
}

/// A click on a triage button: verified exactly like a command, then acknowledged with an
/// empty 200 once handled (the person who clicked sees the updated message, or a reason).
async fn interactions(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let bytes = match verified_body(&state, &headers, body).await {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    let payload = match crate::chat::interactions::payload_of_form(&bytes) {
        Ok(p) => p,
        Err(e) => return reject(&state, StatusCode::BAD_REQUEST, "form", &e),
    };
    crate::chat::interactions::handle(&state, &payload).await;
    StatusCode::OK.into_response()
}

/// The raw body of a request from Slack, once its size, type, signature and freshness are
/// checked and it was not seen before; else the refusal to send.
async fn verified_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Bytes, Response> {
    // 1. Size and type, before reading anything.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        return Err(reject(
            state,
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "request body too large",
        ));
    }
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !form {
        return Err(reject(
            state,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content_type",
            "expected application/x-www-form-urlencoded",
        ));
    }
    let bytes: Bytes = match tokio::time::timeout(
        state.body_read_timeout,
        axum::body::to_bytes(body, MAX_BODY),
    )
    .await
    {
        Ok(Ok(b)) => b,
        Ok(Err(_)) => {
            return Err(reject(
                state,
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "request body too large",
            ));
        }
        Err(_) => {
            return Err(reject(
                state,
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                "request body not received in time",
            ));
        }
    };
    // 2. Signature on the raw bytes.
    let header_str = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let now = (state.clock)().timestamp();
    let Some(secret) = &state.secret else {
        return Err(reject(
            state,
            StatusCode::UNAUTHORIZED,
            "no_secret",
            "SLACK_SIGNING_SECRET is not configured; requests cannot be verified",
        ));
    };
    if let Err(e) = verify(
        secret,
        header_str("x-slack-request-timestamp"),
        header_str("x-slack-signature"),
        &bytes,
        now,
    ) {
        return Err(reject(
            state,
            StatusCode::UNAUTHORIZED,
            "signature",
            &e.to_string(),
        ));
    }
    // 2b. A valid signature is accepted once: a replay within the window is refused.
    match state
        .replays
        .first_use(header_str("x-slack-signature").unwrap_or_default(), now)
    {
        Ok(()) => Ok(bytes),
        Err(Replay::Seen) => Err(reject(
            state,
            StatusCode::UNAUTHORIZED,
            "replay",
            "this signed request was already received",
        )),
        Err(Replay::Full) => Err(reject(
            state,
            StatusCode::SERVICE_UNAVAILABLE,
            "replay_cache_full",
            "too many requests; try again in a minute",
        )),
    }
}

/// Answers a verified command: the reply body, and the sub-command name for metrics. Shared by
/// the HTTP endpoint and Socket Mode.
pub async fn respond(state: &Arc<AppState>, request: SlashRequest) -> (&'static str, Value) {
    let command = if request.command.is_empty() {
        "/policy".to_string()
    } else {
        request.command.clone()
    };
    let question = parse_question(&request.text);
    let name = match &question {
        Ok(q) => sub_command(q),
        Err(_) => "invalid",
    };
    let Some(inventory) = state.inventory() else {
        return (name, delayed(state, request, command));
    };
    let mut caller = caller_team(
        &state.config,
        &request.channel_id,
        request.channel_name.as_deref(),
        None,
    );
    if caller.team.is_none()
        && let Some(directory) = &state.directory
    {
        // Bounded: the answer must still arrive within Slack's 3 seconds.
        let lookup =
            tokio::time::timeout(EMAIL_LOOKUP_LIMIT, directory.user_email(&request.user_id)).await;
        if let Ok(Ok(Some(email))) = lookup {
            caller = caller_team(
                &state.config,
                &request.channel_id,
                request.channel_name.as_deref(),
                Some(&email),
            );
        }
    }
    let now = (state.clock)()
        .with_timezone(&state.config.time_zone)
        .fixed_offset();
    // What teams answered with the buttons (`status` lists it); unknown: nothing listed.
    let triage = match (&question, &state.answers) {
        (Ok(crate::chat::request::Question::Status(_)), Some(store)) => {
            match tokio::time::timeout(EMAIL_LOOKUP_LIMIT, store.load()).await {
                Ok(Ok(a)) => Some(a),
                Ok(Err(e)) => {
                    warn!(error = %e, "cannot read the triage answers for /policy status");
                    None
                }
                Err(_) => None,
            }
        }
        _ => None,
    };
    let answers: Vec<Answer> = match &question {
        Ok(q) => answer_clusters(
            &inventory,
            &state.config,
            q,
            &caller,
            &command,
            now,
            triage.as_ref(),
        ),
        Err(e) => vec![help(&command, Some(e.clone()), Vec::new())],
    };
    let mut rendered: Option<Message> = None;
    for a in &answers {
        match state.renderer.render_answer(a.kind, &a.data) {
            // Several clusters: one answer after the other, within Slack's block limit.
            Ok(m) => match &mut rendered {
                Some(all) => all.append(m),
                None => rendered = Some(m),
            },
            Err(e) => {
                tracing::error!(error = %e, "cannot render a slash-command answer");
                return (name, apology());
            }
        }
    }
    match rendered {
        Some(m) => (name, reply(&m)),
        None => (name, apology()),
    }
}

fn sub_command(q: &crate::chat::request::Question) -> &'static str {
    use crate::chat::request::Question;
    match q {
        Question::Help => "help",
        Question::WhyPolicy(_) => "why_policy",
        Question::WhyResource { .. } => "why_resource",
        Question::Status(_) => "status",
        Question::Exceptions(_) => "exceptions",
    }
}

/// No inventory yet: acknowledge now, answer through `response_url` when it is loaded — if the
/// URL is Slack's.
fn delayed(state: &Arc<AppState>, request: SlashRequest, command: String) -> Value {
    let url = request.response_url.clone().unwrap_or_default();
    if !state.response_url_allowed(&url) {
        warn!(host = %url::Url::parse(&url).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default(), "response_url is not a Slack host; not posting to it");
        return json!({ "response_type": "ephemeral", "text": "forewarn is still loading the cluster inventory. Try again in a minute." });
    }
    let Some(client) = state.responder.clone() else {
        return json!({ "response_type": "ephemeral", "text": "forewarn is still loading the cluster inventory. Try again in a minute." });
    };
    let state = state.clone();
    tokio::spawn(async move {
        let mut rx = state.inventory_tx.subscribe();
        let loaded = matches!(
            tokio::time::timeout(Duration::from_secs(25 * 60), rx.wait_for(|v| v.is_some())).await,
            Ok(Ok(_))
        );
        if !loaded {
            warn!("inventory still not loaded; dropping a delayed slash-command answer");
            return;
        }
        let (_, body) = Box::pin(respond(
            &state,
            SlashRequest {
                response_url: None,
                ..request
            },
        ))
        .await;
        let content = SlackMessageContent::new()
            .opt_text(body["text"].as_str().map(str::to_string))
            .opt_blocks(serde_json::from_value(body["blocks"].clone()).ok());
        let Ok(parsed) = url::Url::parse(&url) else {
            return;
        };
        let req = SlackApiPostWebhookMessageRequest::new(content);
        match client.post_webhook_message(&parsed, &req).await {
            Ok(_) => info!(command = %command, "delayed answer posted"),
            Err(e) => warn!(error = %e, "cannot post a delayed answer to response_url"),
        }
    });
    json!({ "response_type": "ephemeral", "text": "Working on it: forewarn is loading the cluster inventory and will answer here in a moment." })
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let inv = state.inventory();
    state.metrics.ready.set(i64::from(inv.is_some()));
    if let Some(clusters) = &inv {
        let total = |f: fn(&Inventory) -> usize| clusters.iter().map(f).sum::<usize>();
        for (kind, n) in [
            ("policies", total(|i| i.policies.len())),
            ("result_summaries", total(|i| i.results.len())),
            (
                "failing_resources",
                total(|i| {
                    i.findings
                        .values()
                        .filter(|f| f.iter().any(|f| f.result != "skip"))
                        .count()
                }),
            ),
            ("exceptions", total(|i| i.exceptions.len())),
            ("namespaces", total(|i| i.namespaces.len())),
        ] {
            state
                .metrics
                .inventory
                .get_or_create(&vec![("kind", kind.to_string())])
                .set(n as i64);
        }
    }
    let mut out = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &state.metrics.registry) {
        tracing::error!(error = %e, "cannot encode metrics");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

/// Loads the inventory now and then every `every`, publishing each one to `state`. Until the
/// first load succeeds (a cluster still being listed) it tries again every 2 seconds; a failed
/// reload later keeps the previous inventory.
pub async fn keep_loaded(
    state: Arc<AppState>,
    source: impl crate::inventory::snapshot::InventorySource + Clone + Send + 'static,
    every: Duration,
) {
    loop {
        // Parsing a snapshot is CPU work: off the runtime's workers.
        let loading = source.clone();
        let loaded = match tokio::task::spawn_blocking(move || loading.load()).await {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %e, "the inventory load task failed");
                tokio::time::sleep(every).await;
                continue;
            }
        };
        let wait = match loaded {
            Ok(inv) => {
                let policies: usize = inv.iter().map(|i| i.policies.len()).sum();
                info!(source = %source.describe(), clusters = inv.len(), policies, "inventory loaded");
                state.set_inventory(inv);
                every
            }
            Err(e) if state.inventory().is_none() => {
                info!(reason = %e, "inventory not loaded yet");
                Duration::from_secs(2)
            }
            Err(e) => {
                warn!(error = %e, "cannot reload the inventory; keeping the previous one");
                every
            }
        };
        tokio::time::sleep(wait).await;
    }
}

/// How many signatures the replay cache holds at most (Slack sends far fewer commands in five
/// minutes); when full of live entries, new commands get 503 until some expire.
pub const REPLAY_CACHE_SIZE: usize = 10_000;

/// Why a signature was refused by the [`ReplayCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    Seen,
    Full,
}

/// The signatures accepted within the signature window ([`MAX_SKEW_SECS`] either side), so a
/// captured request cannot be replayed; bounded in size. A std lock, never held across I/O.
#[derive(Debug)]
pub struct ReplayCache {
    inner: std::sync::Mutex<ReplayInner>,
}

#[derive(Debug, Default)]
struct ReplayInner {
    /// Signature → until when it is remembered (unix seconds).
    seen: std::collections::HashMap<String, i64>,
    /// (until, signature), in insertion order, for expiry.
    order: std::collections::VecDeque<(i64, String)>,
    cap: usize,
}

impl ReplayCache {
    pub fn new(cap: usize) -> Self {
        Self {
            inner: std::sync::Mutex::new(ReplayInner {
                cap,
                ..ReplayInner::default()
            }),
        }
    }

    /// Records `signature` as used at `now`; `Err(Seen)` when it was used within the window.
    pub fn first_use(&self, signature: &str, now: i64) -> Result<(), Replay> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let ReplayInner { seen, order, cap } = &mut *inner;
        // Forget what has expired (in insertion order; a re-inserted signature keeps its
        // latest time in `seen`).
        while order.front().is_some_and(|(until, _)| *until < now) {
            if let Some((_, sig)) = order.pop_front()
                && seen.get(&sig).is_some_and(|u| *u < now)
            {
                seen.remove(&sig);
            }
        }
        if seen.get(signature).is_some_and(|until| *until >= now) {
            return Err(Replay::Seen);
        }
        if seen.len() >= *cap {
            return Err(Replay::Full);
        }
        // Valid from now − window to now + window: remember it that long after now.
        let until = now + 2 * MAX_SKEW_SECS;
        seen.insert(signature.to_string(), until);
        order.push_back((until, signature.to_string()));
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .seen
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How long a request body may take to arrive by default (then 408).
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Limits that keep slow or idle clients from starving the server (with
/// [`AppState::body_read_timeout`], which the handler applies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// A request's head must arrive within this time after the server starts waiting for it
    /// (hyper's header read timeout; it also ends a keep-alive connection that sends nothing).
    pub header_read_timeout: Duration,
    /// A connection on which no byte moves for this long is closed.
    pub idle_timeout: Duration,
    /// Connections served at once; beyond them a client gets 503 and the connection is closed.
    pub max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 512,
        }
    }
}

/// Serves [`router`] on `listener` until `shutdown` resolves, with the default
/// [`ServerLimits`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, ServerLimits::default(), shutdown).await
}

/// The answer given, without reading anything, to a connection beyond the cap.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ncontent-length: 23\r\nretry-after: 1\r\nconnection: close\r\n\r\nserver busy, try again\n";

/// Serves [`router`] on `listener` with `limits` until `shutdown` resolves; then lets the
/// connections in flight finish (at most 10 seconds).
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    limits: ServerLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tokio::io::AsyncWriteExt;
    info!(addr = ?listener.local_addr().ok(), ?limits, "listening");
    let app = router(state);
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors, usually: wait a little rather than spin.
                    warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tokio::spawn(async move {
                let mut stream = stream;
                let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(BUSY)).await;
                let _ = stream.shutdown().await;
            });
            continue;
        };
        let activity = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let started = tokio::time::Instant::now();
        let io = TokioIo::new(ActivityIo {
            inner: stream,
            activity: activity.clone(),
            started,
        });
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .serve_connection(io, service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _permit = permit;
            let idle = limits.idle_timeout;
            let watchdog = async {
                loop {
                    tokio::time::sleep(idle / 4).await;
                    let last =
                        Duration::from_millis(activity.load(std::sync::atomic::Ordering::Relaxed));
                    if started.elapsed().saturating_sub(last) >= idle {
                        return;
                    }
                }
            };
            tokio::select! {
                _ = conn => {}
                _ = watchdog => {}
            }
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await;
    Ok(())
}

/// A socket that remembers when a byte last moved (milliseconds since `started`).
struct ActivityIo {
    inner: tokio::net::TcpStream,
    activity: Arc<std::sync::atomic::AtomicU64>,
    started: tokio::time::Instant,
}

impl ActivityIo {
    fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.activity
            .store(ms, std::sync::atomic::Ordering::Relaxed);
    }
}

impl tokio::io::AsyncRead for ActivityIo {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, std::task::Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.touch();
        }
        r
    }
}

impl tokio::io::AsyncWrite for ActivityIo {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let r = std::pin::Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(r, std::task::Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
