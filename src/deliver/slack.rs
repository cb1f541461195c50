//! The Slack edge: posts rendered messages through the Slack Web API and finds them again.
//!
//! [`Slack`] implements [`Deliver`] with slack-morphism's hyper client and five Web API
//! methods: `chat.postMessage` (every message carries `metadata.event_type` =
//! [`EVENT_TYPE`] and `event_payload.notice_ids`, every notice id it carries — one, or a batch —
//! separated by spaces, so each can be recognised later), `users.lookupByEmail` (for `email:` destinations, and for
//! contacts written as emails, which become mentions; scope `users:read.email`; cached for the
//! life of the value) and `conversations.open` (for `email:` destinations; `users` sent as Slack
//! documents it, a comma-separated string of ids), `conversations.list` (to turn a `#name`
//! into a channel ID for [`Deliver::find_sent`]) and `conversations.history` (for
//! [`Deliver::find_sent`], which also recognises messages posted before batching by their
//! single `event_payload.notice_id`). `chat.postMessage` and `conversations.open` are sent
//! with forewarn's own request bodies (slack-morphism's types hold only string metadata values
//! and send `users` as an array).
//!
//! Besides the scopes for posting and reading history, [`Deliver::find_sent`] with a channel
//! *name* (`#payments-dev`) needs `channels:read` and `groups:read` (for `conversations.list`);
//! without them it answers [`DeliveryError::Auth`] (`missing_scope`) and the ledger entry stays
//! pending.
//!
//! Retries are handled here, deterministically, with `tokio::time::sleep` (slack-morphism's own
//! rate control and retries are never switched on). Whether a failed request may be repeated
//! depends on whether repeating it could post twice:
//!
//! - HTTP 429 (Slack did nothing): wait the `Retry-After` seconds and try again, at most
//!   [`SlackSettings::max_rate_limit_waits`] times and never past the tick's deadline, then
//!   [`DeliveryError::Unavailable`];
//! - connection refused (the request never left): at most [`SlackSettings::max_retries`]
//!   retries with exponential backoff, then [`DeliveryError::Unavailable`];
//! - HTTP 5xx, 408, a timeout, a connection closed after the request was written, an answer that
//!   is not Slack's JSON: reads (`conversations.history`, `conversations.list`, lookups) are
//!   retried like a refused connection; `chat.postMessage` is **not** — the message may be in
//!   the channel — and ends at once as [`DeliveryError::Unknown`], for the scheduler to
//!   reconcile with the channel's history;
//! - `ok: false` with a token problem (`invalid_auth`, `missing_scope`, …):
//!   [`DeliveryError::Auth`], no retry;
//! - any other `ok: false` (`channel_not_found`, `users_not_found`, …):
//!   [`DeliveryError::Rejected`], no retry.
//!
//! Every request is limited by [`SlackSettings::request_timeout`] and by the tick's deadline
//! ([`crate::deliver::deadline`]), whichever comes first.
//!
//! A 429 is recognised when its body is JSON (Slack sends `{"ok":false,"error":"ratelimited"}`)
//! or carries a non-JSON content type; an empty 429 body without a content type cannot be told
//! apart by slack-morphism and ends as `Unavailable` without a retry.
//!
//! This module must never log, print or put into an error the bot token: [`SlackToken`] has no
//! `Display`, its `Debug` prints `SlackToken(***)`, and errors carry only Slack's error codes and
//! HTTP statuses.

use super::{Deliver, Delivered, DeliveryError, EVENT_TYPE};
use crate::deliver::metrics::Labels;
use crate::model::ids::Destination;
use crate::render::Message;
use anyhow::{Context, bail};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde::Deserialize;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;
use tracing::Instrument;

/// The default Slack Web API base URL.
pub const DEFAULT_API_URL: &str = "https://slack.com/api";

/// `ok: false` codes that mean the token itself is unusable: every other message would fail too.
pub const AUTH_CODES: [&str; 7] = [
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "missing_scope",
    "no_permission",
];

/// The longest `Retry-After` forewarn is willing to wait; beyond it the message is
/// `Unavailable` at once (the next tick tries again).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// The longest single backoff between retries after 5xx or connection errors.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Page size of `conversations.history` in [`Slack::find_sent`].
const HISTORY_LIMIT: &str = "200";

/// How many history pages [`Slack::find_sent`] reads at most (messages since the attempt only).
const HISTORY_PAGES: usize = 10;

/// Clock skew allowed between this host and Slack when searching history since an attempt.
const HISTORY_SKEW_SECS: i64 = 600;

/// Page size of `conversations.list` when resolving a channel name.
const LIST_LIMIT: &str = "1000";

/// A Slack bot token (`xoxb-…`). It never shows up in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct SlackToken(String);

impl std::fmt::Debug for SlackToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SlackToken(***)")
    }
}

impl SlackToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// Reads the token from `SLACK_BOT_TOKEN` or the file named by `SLACK_BOT_TOKEN_FILE`
    /// (the rule of [`crate::config::secret`]). `Ok(None)` when neither is set: forewarn then
    /// does a dry run.
    pub fn from_env() -> anyhow::Result<Option<Self>> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`SlackToken::from_env`] with the variables read through `lookup` (for tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Option<Self>> {
        Ok(
            crate::config::secret::from_lookup("SLACK_BOT_TOKEN", lookup)?
                .map(|s| Self(s.expose().to_string())),
        )
    }
}

/// How to reach Slack and how hard to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackSettings {
    /// Web API base URL, `https://slack.com/api` unless `SLACK_API_URL` says otherwise. With or
    /// without a trailing `/`.
    pub api_url: String,
    /// Retries after 5xx, connection errors and timeouts (so at most `max_retries + 1` requests).
    pub max_retries: u32,
    /// The first backoff; each further retry waits twice as long (capped at one minute).
    pub backoff_base: Duration,
    /// How many 429 `Retry-After` waits one call may do before giving up.
    pub max_rate_limit_waits: u32,
    /// Deadline for one HTTP request (config `delivery.request-timeout`, default 10 s); `None`
    /// waits forever (only sensible in tests with paused time, where a pending deadline would
    /// fire while the fake server answers).
    pub request_timeout: Option<Duration>,
}

impl Default for SlackSettings {
    fn default() -> Self {
        Self {
            api_url: DEFAULT_API_URL.to_string(),
            max_retries: 3,
            backoff_base: Duration::from_secs(1),
            max_rate_limit_waits: 5,
            request_timeout: Some(Duration::from_secs(10)),
        }
    }
}

impl SlackSettings {
    /// The defaults, with `api_url` taken from `SLACK_API_URL` when set.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`SlackSettings::from_env`] with the variables read through `lookup` (for tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let mut settings = Self::default();
        if let Some(url) = lookup("SLACK_API_URL").filter(|v| !v.trim().is_empty()) {
            settings.api_url = url.trim().to_string();
        }
        settings
    }

    /// Same settings with another base URL (for tests: `format!("{}/api", server.uri())`).
    pub fn with_api_url(self, api_url: impl Into<String>) -> Self {
        Self {
            api_url: api_url.into(),
            ..self
        }
    }
}

/// What the Slack edge has done since start, for `/metrics` (`forewarn_slack_total{outcome}`).
#[derive(Debug, Clone)]
pub struct SlackCounters {
    /// All of them, by `outcome` label.
    pub family: Family<Labels, Counter>,
    /// Messages posted.
    pub sent: Counter,
    /// Requests repeated after a refused connection, or reads repeated after a 5xx or timeout.
    pub retried: Counter,
    /// 429 answers (each one waited for, or given up on).
    pub rate_limited: Counter,
    /// Messages that ended in a [`DeliveryError`].
    pub failed: Counter,
}

impl Default for SlackCounters {
    fn default() -> Self {
        let family = Family::<Labels, Counter>::default();
        let of = |outcome: &str| {
            family
                .get_or_create(&vec![("outcome", outcome.to_string())])
                .clone()
        };
        Self {
            sent: of("sent"),
            retried: of("retried"),
            rate_limited: of("rate_limited"),
            failed: of("failed"),
            family,
        }
    }
}

impl SlackCounters {
    fn bump(counter: &Counter) {
        counter.inc();
    }

    pub fn register(&self, registry: &mut prometheus_client::registry::Registry) {
        registry.register(
            "forewarn_slack",
            "Slack Web API outcomes: messages sent and failed, requests retried, 429 answers",
            self.family.clone(),
        );
    }
}

pub type Client = SlackClient<SlackClientHyperHttpsConnector>;

/// The Slack delivery edge.
///
/// For `email:a@x,b@y` destinations every address is looked up once (`users.lookupByEmail`,
/// cached for the life of this value) and the message goes to **one** conversation opened with
/// all of them (`conversations.open`): a direct message for one address, a group DM for several
/// (Slack allows up to 8 people in one), so everyone sees the same thread and the notice has a
/// single `Delivered`.
pub struct Slack {
    client: Client,
    token: SlackApiToken,
    settings: SlackSettings,
    /// Lower-cased email → Slack user id.
    users: Mutex<HashMap<String, String>>,
    /// Lower-cased channel name (without `#`) → channel id, filled by `conversations.list`.
    channels: Mutex<HashMap<String, String>>,
    /// Slack user id → email (or none visible), filled by `users.info`.
    emails: Mutex<HashMap<String, Option<String>>>,
    counters: SlackCounters,
}

impl std::fmt::Debug for Slack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slack")
            .field("api_url", &self.settings.api_url)
            .field("token", &"***")
            .finish_non_exhaustive()
    }
}

/// What to do after a failed request.
enum Failure {
    /// HTTP 429, with the `Retry-After` Slack asked for: nothing was done.
    RateLimited(Option<Duration>),
    /// The request never reached Slack (connection refused): worth retrying.
    NotSent(String),
    /// The request may have had its effect: retried only when it is a read.
    Unknown(String),
    /// Final for this message.
    Final(DeliveryError),
}

/// Whether `cause` (somewhere in its chain) is a failure to connect: the request never left.
fn is_connect_error(cause: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(cause);
    while let Some(e) = next {
        if e.downcast_ref::<hyper_util::client::legacy::Error>()
            .is_some_and(|h| h.is_connect())
        {
            return true;
        }
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
        {
            return true;
        }
        next = e.source();
    }
    false
}

fn classify(method: &str, err: SlackClientError) -> Failure {
    match err {
        SlackClientError::ApiError(e) => {
            if AUTH_CODES.contains(&e.code.as_str()) {
                Failure::Final(DeliveryError::Auth { code: e.code })
            } else {
                Failure::Final(DeliveryError::Rejected { code: e.code })
            }
        }
        SlackClientError::RateLimitError(e) => Failure::RateLimited(e.retry_after),
        SlackClientError::HttpError(e) => {
            let status = e.status_code.as_u16();
            if e.status_code.is_server_error() || status == 408 {
                Failure::Unknown(format!("{method}: HTTP {status}"))
            } else if status == 401 || status == 403 {
                Failure::Final(DeliveryError::Auth {
                    code: format!("http_{status}"),
                })
            } else {
                Failure::Final(DeliveryError::Unavailable {
                    detail: format!("{method}: HTTP {status}"),
                })
            }
        }
        SlackClientError::HttpProtocolError(e) => {
            let connect = e.cause.as_deref().is_some_and(|c| is_connect_error(c));
            if connect {
                Failure::NotSent(format!("{method}: cannot connect: {e}"))
            } else {
                Failure::Unknown(format!("{method}: connection failed: {e}"))
            }
        }
        SlackClientError::SystemError(e) => Failure::Unknown(format!("{method}: {e}")),
        SlackClientError::EndOfStream(e) => Failure::Unknown(format!("{method}: {e}")),
        // The answer did not parse (an HTML error page, `{}`): the request may well have had its
        // effect.
        SlackClientError::ProtocolError(e) => {
            Failure::Unknown(format!("{method}: unexpected answer: {}", e.json_error))
        }
        SlackClientError::SocketModeProtocolError(e) => Failure::Unknown(format!("{method}: {e}")),
    }
}

/// One `conversations.history` answer, read leniently: other apps' metadata may hold any JSON.
///
/// `ok` is required: slack-morphism turns a 200 answer that is not JSON into `{}`, which must
/// never read as "no messages".
#[derive(Deserialize)]
struct History {
    #[allow(dead_code)]
    ok: bool,
    #[serde(default)]
    messages: Vec<HistoryMessage>,
    #[serde(default)]
    has_more: bool,
    response_metadata: Option<ListMetadata>,
}

#[derive(Deserialize)]
struct HistoryMessage {
    ts: String,
    metadata: Option<HistoryMetadata>,
}

#[derive(Deserialize)]
struct HistoryMetadata {
    event_type: String,
    #[serde(default)]
    event_payload: serde_json::Value,
}

/// One `conversations.list` page, read leniently (only names and ids matter here).
#[derive(Deserialize)]
struct ChannelList {
    #[allow(dead_code)]
    ok: bool,
    #[serde(default)]
    channels: Vec<ListedChannel>,
    response_metadata: Option<ListMetadata>,
}

#[derive(Deserialize)]
struct ListedChannel {
    id: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct ListMetadata {
    #[serde(default)]
    next_cursor: Option<String>,
}

/// Whether `channel` is a Slack conversation ID (`C…`, `G…`, `D…` then uppercase letters or
/// digits) rather than a name.
fn is_channel_id(channel: &str) -> bool {
    let mut chars = channel.chars();
    matches!(chars.next(), Some('C' | 'G' | 'D'))
        && channel.len() > 1
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// The addresses of an `email:a@x,b@y` destination; `Rejected(no_recipients)` when empty.
fn parse_emails(list: &str) -> Result<Vec<&str>, DeliveryError> {
    let emails: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    if emails.is_empty() {
        return Err(DeliveryError::Rejected {
            code: "no_recipients".to_string(),
        });
    }
    Ok(emails)
}

impl HistoryMessage {
    /// Whether this message carries `notice_id`: listed in `event_payload.notice_ids` (every
    /// notice a batched message carries), or as `event_payload.notice_id` (messages posted by
    /// forewarn before batching, still reconciled).
    fn is_notice(&self, notice_id: &str) -> bool {
        self.metadata.as_ref().is_some_and(|m| {
            m.event_type == EVENT_TYPE
                && (m.event_payload.get("notice_id").and_then(|v| v.as_str()) == Some(notice_id)
                    || m.event_payload
                        .get("notice_ids")
                        .and_then(|v| v.as_str())
                        .is_some_and(|ids| ids.split(' ').any(|i| i == notice_id)))
        })
    }
}

/// The `chat.postMessage` request forewarn sends. The notice ids go in one string value,
/// separated by spaces (ids never hold one): Slack's metadata payloads — and slack-morphism's
/// `SlackMessageMetadata`, which Socket Mode uses to read a clicked message back — take string
/// values, and an array there would make every click on a batched message unreadable.
#[derive(serde::Serialize)]
struct PostMessage<'a> {
    channel: &'a str,
    text: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    blocks: &'a [SlackBlock],
    metadata: PostMetadata,
}

#[derive(serde::Serialize)]
struct PostMetadata {
    event_type: &'static str,
    event_payload: NoticeIds,
}

#[derive(serde::Serialize)]
struct NoticeIds {
    notice_ids: String,
}

/// `conversations.open` as Slack documents it: `users` is a comma-separated string of user
/// ids (slack-morphism's request type sends a JSON array).
#[derive(serde::Serialize)]
struct OpenConversation {
    users: String,
}

/// A slack-morphism client over an https-or-http connector (rustls with ring, the system's
/// root certificates; plain HTTP is allowed so tests can use a local fake). Also used to post
/// slash-command answers to `response_url`.
pub fn hyper_client(api_url: &str, plain_http: bool) -> anyhow::Result<Client> {
    let provider = rustls::crypto::ring::default_provider();
    let tls = match SlackHyperHttpsConnector::builder()
        .with_provider_and_native_roots(provider.clone())
    {
        Ok(builder) => builder,
        // Without system roots only plain HTTP can work; that is enough for a local fake.
        Err(_) if plain_http => {
            let config = rustls::ClientConfig::builder_with_provider(provider.into())
                .with_safe_default_protocol_versions()
                .context("TLS setup")?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
            SlackHyperHttpsConnector::builder().with_tls_config(config)
        }
        Err(e) => {
            return Err(e).context("cannot load the system's root certificates for Slack");
        }
    };
    let https = tls.https_or_http().enable_all_versions().build();
    // No `with_rate_control`: slack-morphism then neither throttles nor retries, and every
    // 429 comes back to `call` below.
    let connector = SlackClientHyperConnector::from(https).with_slack_api_url(api_url);
    Ok(SlackClient::new(connector))
}

impl Slack {
    /// Builds the client. `settings.api_url` may be `https://…` (checked against the system's
    /// root certificates) or `http://…` (tests against a local fake).
    pub fn new(token: SlackToken, settings: SlackSettings) -> anyhow::Result<Slack> {
        let api_url = settings.api_url.trim().trim_end_matches('/').to_string();
        let plain_http = api_url.starts_with("http://");
        if !plain_http && !api_url.starts_with("https://") {
            bail!(
                "SLACK_API_URL must start with https:// or http://, got {:?}",
                settings.api_url
            );
        }
        let client = hyper_client(&api_url, plain_http)?;
        Ok(Slack {
            client,
            token: SlackApiToken::new(SlackApiTokenValue(token.0)),
            settings: SlackSettings {
                api_url,
                ..settings
            },
            users: Mutex::new(HashMap::new()),
            channels: Mutex::new(HashMap::new()),
            emails: Mutex::new(HashMap::new()),
            counters: SlackCounters::default(),
        })
    }

    pub fn counters(&self) -> &SlackCounters {
        &self.counters
    }

    pub fn settings(&self) -> &SlackSettings {
        &self.settings
    }

    /// Runs one Web API call with the retry policy of this module. `read` says whether the
    /// call may be repeated after an unknown outcome (it changes nothing in Slack).
    async fn call<T, F, Fut>(
        &self,
        method: &'static str,
        read: bool,
        mut request: F,
    ) -> Result<T, DeliveryError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = ClientResult<T>>,
    {
        let mut failures: u32 = 0;
        let mut waits: u32 = 0;
        let deadline = super::deadline();
        let past_deadline =
            |wait: Duration| deadline.is_some_and(|d| tokio::time::Instant::now() + wait >= d);
        loop {
            // Without a request timeout (tests with paused time) the deadline does not cut
            // requests short either: it would fire while the fake server answers.
            let limit = self.settings.request_timeout.map(|t| match deadline {
                Some(d) => t.min(d.saturating_duration_since(tokio::time::Instant::now())),
                None => t,
            });
            if limit.is_some_and(|l| l.is_zero()) {
                return Err(DeliveryError::Unavailable {
                    detail: format!("{method}: not sent: the tick's deadline has passed"),
                });
            }
            let result = match limit {
                Some(limit) => match tokio::time::timeout(limit, request()).await {
                    Ok(result) => result.map_err(|e| classify(method, e)),
                    Err(_) => Err(Failure::Unknown(format!(
                        "{method}: no answer within {}s",
                        limit.as_secs_f64()
                    ))),
                },
                None => request().await.map_err(|e| classify(method, e)),
            };
            let (detail, wait) = match result {
                Ok(value) => return Ok(value),
                Err(Failure::Final(err)) => return Err(err),
                Err(Failure::Unknown(detail)) if !read => {
                    return Err(DeliveryError::Unknown { detail });
                }
                Err(Failure::RateLimited(after)) => {
                    SlackCounters::bump(&self.counters.rate_limited);
                    let wait = after.unwrap_or(self.settings.backoff_base);
                    if waits >= self.settings.max_rate_limit_waits {
                        return Err(DeliveryError::Unavailable {
                            detail: format!("{method}: still rate limited after {waits} waits"),
                        });
                    }
                    if wait > MAX_RETRY_AFTER || past_deadline(wait) {
                        return Err(DeliveryError::Unavailable {
                            detail: format!(
                                "{method}: rate limited for {}s, longer than this tick can wait",
                                wait.as_secs()
                            ),
                        });
                    }
                    waits += 1;
                    tracing::info!(
                        method,
                        retry_after_s = wait.as_secs_f64(),
                        "Slack rate limit: waiting"
                    );
                    tokio::time::sleep(wait).await;
                    continue;
                }
                Err(Failure::NotSent(detail) | Failure::Unknown(detail)) => {
                    let wait = self
                        .settings
                        .backoff_base
                        .saturating_mul(2u32.saturating_pow(failures))
                        .min(MAX_BACKOFF);
                    (detail, wait)
                }
            };
            if failures >= self.settings.max_retries || past_deadline(wait) {
                let detail = format!("{detail} (after {failures} retries)");
                return Err(if read {
                    DeliveryError::Unknown { detail }
                } else {
                    DeliveryError::Unavailable { detail }
                });
            }
            failures += 1;
            SlackCounters::bump(&self.counters.retried);
            tracing::info!(method, %detail, backoff_s = wait.as_secs_f64(), attempt = failures, "Slack call failed: retrying");
            tokio::time::sleep(wait).await;
        }
    }

    /// The email of a Slack user (`users.info`, which needs `users:read.email`), cached; used to
    /// find which team a `/policy` caller belongs to.
    pub async fn user_email(&self, user_id: &str) -> Result<Option<String>, DeliveryError> {
        let cached = {
            let emails = self.emails.lock().unwrap_or_else(|e| e.into_inner());
            emails.get(user_id).cloned()
        };
        if let Some(email) = cached {
            return Ok(email);
        }
        let request = SlackApiUsersInfoRequest::new(SlackUserId(user_id.to_string()));
        let request = &request;
        let found = self
            .call("users.info", true, || {
                let session = self.client.open_session(&self.token);
                async move { session.users_info(request).await }
            })
            .await?;
        let email = found.user.profile.and_then(|p| p.email).map(|e| e.0);
        self.emails
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(user_id.to_string(), email.clone());
        Ok(email)
    }

    /// The Slack user id for `email`, from the cache or `users.lookupByEmail`.
    async fn user_id(&self, email: &str) -> Result<String, DeliveryError> {
        let key = email.to_lowercase();
        let cached = {
            let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
            users.get(&key).cloned()
        };
        if let Some(id) = cached {
            return Ok(id);
        }
        let request = SlackApiUsersLookupByEmailRequest::new(EmailAddress(email.to_string()));
        let request = &request;
        let found = self
            .call("users.lookupByEmail", true, || {
                let session = self.client.open_session(&self.token);
                async move { session.users_lookup_by_email(request).await }
            })
            .await?;
        let id = found.user.id.0;
        self.users
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, id.clone());
        Ok(id)
    }

    /// Replaces the message `ts` in `channel` with `text` and `blocks` (`chat.update`, which
    /// needs only `chat:write`), keeping `metadata` when given. Repeating it has the same
    /// effect, so it is retried like a read.
    pub async fn update_message(
        &self,
        channel: &str,
        ts: &str,
        text: &str,
        blocks: Vec<SlackBlock>,
        metadata: Option<SlackMessageMetadata>,
    ) -> Result<(), DeliveryError> {
        let content = SlackMessageContent::new()
            .with_text(text.to_string())
            .with_blocks(blocks)
            .opt_metadata(metadata);
        let request = SlackApiChatUpdateRequest::new(
            SlackChannelId(channel.to_string()),
            content,
            SlackTs(ts.to_string()),
        );
        let request = &request;
        self.call("chat.update", true, || {
            let session = self.client.open_session(&self.token);
            async move { session.chat_update(request).await }
        })
        .await
        .map(|_| ())
    }

    /// Opens (or finds) the conversation with everyone in `emails` and returns its channel id.
    async fn open_conversation(&self, emails: &[&str]) -> Result<String, DeliveryError> {
        let mut ids = Vec::with_capacity(emails.len());
        for email in emails {
            ids.push(self.user_id(email).await?);
        }
        ids.sort();
        ids.dedup();
        let request = OpenConversation {
            users: ids.join(","),
        };
        let request = &request;
        let opened: SlackApiConversationsOpenResponse<SlackBasicChannelInfo> = self
            .call("conversations.open", true, || {
                let session = self.client.open_session(&self.token);
                async move {
                    session
                        .http_session_api
                        .http_post("conversations.open", request, None)
                        .await
                }
            })
            .await?;
        Ok(opened.channel.id.0)
    }

    async fn post(
        &self,
        notice_ids: &[&str],
        channel: String,
        message: &Message,
    ) -> Result<Delivered, DeliveryError> {
        let request = PostMessage {
            channel: &channel,
            text: &message.text,
            blocks: &message.blocks,
            metadata: PostMetadata {
                event_type: EVENT_TYPE,
                event_payload: NoticeIds {
                    notice_ids: notice_ids.join(" "),
                },
            },
        };
        let request = &request;
        let posted: SlackApiChatPostMessageResponse = self
            .call("chat.postMessage", false, || {
                let session = self.client.open_session(&self.token);
                async move {
                    session
                        .http_session_api
                        .http_post("chat.postMessage", request, None)
                        .await
                }
            })
            .await?;
        Ok(Delivered {
            channel: posted.channel.0,
            ts: posted.ts.0,
        })
    }

    async fn deliver(
        &self,
        notice_ids: &[&str],
        message: &Message,
    ) -> Result<Delivered, DeliveryError> {
        let channel = match &message.channel {
            Destination::Emails(list) => {
                let emails: Vec<&str> = list.iter().map(String::as_str).collect();
                if emails.is_empty() {
                    return Err(DeliveryError::Rejected {
                        code: "no_recipients".to_string(),
                    });
                }
                // Nothing is posted before `chat.postMessage`: a lookup that failed in any way
                // leaves the message definitely unsent.
                self.open_conversation(&emails).await.map_err(|e| match e {
                    DeliveryError::Unknown { detail } => DeliveryError::Unavailable { detail },
                    other => other,
                })?
            }
            Destination::Channel(c) => c.clone(),
        };
        self.post(notice_ids, channel, message).await
    }

    /// The channel id for a channel name (`#name` or `name`), from the cache or by paging
    /// through `conversations.list` (public and private channels the bot can see, archived
    /// ones left out). Every name seen on the way is cached.
    ///
    /// A name that is not listed is `Rejected(channel_not_found)`, not "never sent":
    /// `chat.postMessage` may have posted to a channel `conversations.list` does not show (e.g.
    /// a private channel without `groups:read`), so the caller must leave the entry pending
    /// rather than send it again.
    async fn channel_id(&self, name: &str) -> Result<String, DeliveryError> {
        let key = name.trim().trim_start_matches('#').to_lowercase();
        let cached = {
            let channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
            channels.get(&key).cloned()
        };
        if let Some(id) = cached {
            return Ok(id);
        }
        let mut cursor: Option<String> = None;
        loop {
            let params: Vec<(&str, Option<String>)> = vec![
                ("types", Some("public_channel,private_channel".to_string())),
                ("exclude_archived", Some("true".to_string())),
                ("limit", Some(LIST_LIMIT.to_string())),
                ("cursor", cursor.clone()),
            ];
            let params = &params;
            let page: ChannelList = self
                .call("conversations.list", true, || {
                    let session = self.client.open_session(&self.token);
                    async move {
                        session
                            .http_session_api
                            .http_get("conversations.list", params, None)
                            .await
                    }
                })
                .await?;
            let found = {
                let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
                for channel in page.channels {
                    if let Some(name) = channel.name {
                        channels.insert(name.to_lowercase(), channel.id);
                    }
                }
                channels.get(&key).cloned()
            };
            if let Some(id) = found {
                return Ok(id);
            }
            cursor = page
                .response_metadata
                .and_then(|m| m.next_cursor)
                .filter(|c| !c.is_empty());
            if cursor.is_none() {
                return Err(DeliveryError::Rejected {
                    code: "channel_not_found".to_string(),
                });
            }
        }
    }

    /// The conversation id a destination (channel id, `#name`, or `email:…`) refers to.
    async fn resolve(&self, destination: &str) -> Result<String, DeliveryError> {
        if let Some(list) = destination.strip_prefix("email:") {
            self.open_conversation(&parse_emails(list)?).await
        } else if is_channel_id(destination) {
            Ok(destination.to_string())
        } else {
            self.channel_id(destination).await
        }
    }
}

impl Deliver for Slack {
    async fn send(
        &self,
        notice_ids: &[&str],
        message: &Message,
    ) -> Result<Delivered, DeliveryError> {
        let ids = notice_ids.join(",");
        let span =
            tracing::info_span!("slack_send", notice_ids = %ids, destination = %message.channel);
        async {
            let result = self.deliver(notice_ids, message).await;
            match &result {
                Ok(delivered) => {
                    SlackCounters::bump(&self.counters.sent);
                    tracing::info!(channel = %delivered.channel, ts = %delivered.ts, "posted to Slack");
                }
                Err(err) => {
                    SlackCounters::bump(&self.counters.failed);
                    tracing::warn!(cause = %err.cause(), error = %err, "not posted to Slack");
                }
            }
            result
        }
        .instrument(span)
        .await
    }

    async fn lookup_user(&self, email: &str) -> Result<Option<String>, DeliveryError> {
        match self.user_id(email).await {
            Ok(id) => Ok(Some(id)),
            Err(DeliveryError::Rejected { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn find_sent(
        &self,
        notice_id: &str,
        channel: &str,
        since: chrono::DateTime<chrono::FixedOffset>,
    ) -> Result<Option<Delivered>, DeliveryError> {
        let span = tracing::info_span!("slack_find_sent", notice_id, channel);
        async {
            let channel = self.resolve(channel).await?;
            let oldest = (since.timestamp() - HISTORY_SKEW_SECS).max(0);
            let mut cursor: Option<String> = None;
            for _ in 0..HISTORY_PAGES {
                let params: Vec<(&str, Option<String>)> = vec![
                    ("channel", Some(channel.clone())),
                    ("limit", Some(HISTORY_LIMIT.to_string())),
                    ("oldest", Some(format!("{oldest}.000000"))),
                    ("include_all_metadata", Some("true".to_string())),
                    ("cursor", cursor.clone()),
                ];
                let params = &params;
                let history: History = self
                    .call("conversations.history", true, || {
                        let session = self.client.open_session(&self.token);
                        async move {
                            session
                                .http_session_api
                                .http_get("conversations.history", params, None)
                                .await
                        }
                    })
                    .await?;
                if let Some(m) = history.messages.iter().find(|m| m.is_notice(notice_id)) {
                    return Ok(Some(Delivered {
                        channel: channel.clone(),
                        ts: m.ts.clone(),
                    }));
                }
                cursor = history
                    .response_metadata
                    .and_then(|m| m.next_cursor)
                    .filter(|c| !c.is_empty());
                if !history.has_more || cursor.is_none() {
                    return Ok(None);
                }
            }
            // Too much history to prove it absent.
            Err(DeliveryError::Unknown {
                detail: format!(
                    "conversations.history: more than {HISTORY_PAGES} pages since the attempt"
                ),
            })
        }
        .instrument(span)
        .await
    }
}
