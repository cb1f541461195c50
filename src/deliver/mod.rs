//! Delivery edges: where rendered messages go (Slack, or stdout for dry runs).
//!
//! The [`Deliver`] trait is the contract between the scheduler and an edge. An edge sends one
//! message at a time and handles transport retries itself — but only where a retry cannot post
//! twice: a 429 or a refused connection (nothing was posted) is retried after a wait, a read is
//! retried after a 5xx or a timeout, while a post whose answer was lost is **never** repeated:
//! it ends as [`DeliveryError::Unknown`] and the scheduler reconciles it with the channel's
//! history before anything is sent again. An edge never decides *what* to send, never records
//! anything (that is the ledger's job) and never logs tokens.
//!
//! Every wait and request of an edge ends by the tick's deadline when one is set
//! ([`with_deadline`]); past it, a call fails instead of waiting.

pub mod answers;
pub mod console;
pub mod leader;
pub mod ledger;
pub mod metrics;
pub mod slack;
pub mod tick;

use crate::render::Message;
use std::future::Future;

/// Where a message ended up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The channel ID Slack answered with (or the destination as given, for stdout).
    pub channel: String,
    /// Slack's message timestamp (its id within the channel).
    pub ts: String,
}

/// Why a message was not delivered. Every variant is final for this attempt: the edge has
/// already retried what can be retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Slack refused this message (`ok: false`): `channel_not_found`, `not_in_channel`,
    /// `users_not_found`, … Other messages may still go out.
    #[error("Slack refused the message: {code}")]
    Rejected { code: String },
    /// The token is wrong or lacks a scope (`invalid_auth`, `not_authed`, `missing_scope`, …):
    /// no other message can go out either; stop the tick.
    #[error("Slack rejected the token: {code}")]
    Auth { code: String },
    /// Definitely not posted, but worth trying again later: rate limited beyond the bounded
    /// waits (or beyond the tick's deadline), connection refused, an HTTP 4xx.
    #[error("Slack unavailable: {detail}")]
    Unavailable { detail: String },
    /// The request may have had its effect (the message may be in the channel): a timeout, a
    /// connection closed after the request was written, a 5xx, an answer that is not Slack's
    /// JSON. Never retried blindly.
    #[error("outcome unknown: {detail}")]
    Unknown { detail: String },
}

impl DeliveryError {
    /// Whether every later message would fail the same way.
    pub fn is_fatal(&self) -> bool {
        matches!(self, DeliveryError::Auth { .. })
    }

    /// A short, stable cause for counting and reporting once per cause.
    pub fn cause(&self) -> String {
        match self {
            DeliveryError::Rejected { code } | DeliveryError::Auth { code } => code.clone(),
            DeliveryError::Unavailable { .. } => "unavailable".to_string(),
            DeliveryError::Unknown { .. } => "outcome_unknown".to_string(),
        }
    }

    /// Whether the message may have been posted although this error came back.
    pub fn may_have_posted(&self) -> bool {
        matches!(self, DeliveryError::Unknown { .. })
    }
}

tokio::task_local! {
    static DEADLINE: tokio::time::Instant;
}

/// Runs `fut` with `deadline` as the limit for every edge call made inside it.
pub async fn with_deadline<F: Future>(deadline: tokio::time::Instant, fut: F) -> F::Output {
    DEADLINE.scope(deadline, fut).await
}

/// The deadline set by [`with_deadline`] for the current task, if any.
pub fn deadline() -> Option<tokio::time::Instant> {
    DEADLINE.try_with(|d| *d).ok()
}

/// A place messages can be sent to. Shared by the scheduler's per-channel tasks.
pub trait Deliver: Send + Sync + 'static {
    /// Sends `message` — one post carrying every notice in `notice_ids` (one, or several
    /// batched for one destination), tagged with all of them so each can be recognised later
    /// — to `message.channel`: a channel name or ID, or `email:a@x,b@y` for direct messages.
    /// Called once per message by the scheduler, after the ledger recorded every one of its
    /// notices as pending.
    fn send(
        &self,
        notice_ids: &[&str],
        message: &Message,
    ) -> impl Future<Output = Result<Delivered, DeliveryError>> + Send;

    /// Looks for a message tagged with `notice_id` in the history of `channel` (as recorded in
    /// the ledger) posted since `since` (the attempt; a few minutes of clock skew are allowed).
    /// `Ok(None)` means it is proven absent, so it may be sent again; `Err` means the edge
    /// cannot tell (no history scope, channel not resolvable, Slack unavailable): the caller
    /// must not resend.
    fn find_sent(
        &self,
        notice_id: &str,
        channel: &str,
        since: chrono::DateTime<chrono::FixedOffset>,
    ) -> impl Future<Output = Result<Option<Delivered>, DeliveryError>> + Send;

    /// The Slack user id of `email`, so a contact written as an email can mention the person
    /// (`<@U…>`). `Ok(None)` when the edge cannot tell (a dry run, an unknown address): the
    /// email then stays text. Never posts anything.
    fn lookup_user(
        &self,
        _email: &str,
    ) -> impl Future<Output = Result<Option<String>, DeliveryError>> + Send {
        async { Ok(None) }
    }

    /// Whether sends are recorded in the ledger (false for dry runs).
    fn records(&self) -> bool {
        true
    }
}

/// The `metadata.event_type` forewarn puts on every message it posts.
pub const EVENT_TYPE: &str = "forewarn_notice";
