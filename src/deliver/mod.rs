//! Delivery edges: where rendered messages go (Slack, or stdout for dry runs).
//!
//! The [`Deliver`] trait is the contract between the scheduler and an edge. An edge sends one
//! message at a time and handles transport retries itself (429 `Retry-After`, bounded retries
//! on 5xx and timeouts); it never decides *what* to send, never records anything (that is the
//! ledger's job) and never logs tokens.

pub mod console;
pub mod leader;
pub mod ledger;
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
    /// Slack stayed unavailable (5xx, timeouts, repeated 429) after the bounded retries.
    #[error("Slack unavailable after retries: {detail}")]
    Unavailable { detail: String },
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
        }
    }
}

/// A place messages can be sent to.
pub trait Deliver {
    /// Sends `message` (tagged with `notice_id` so it can be recognised later) to
    /// `message.channel`: a channel name or ID, or `email:a@x,b@y` for direct messages.
    /// Called once per notice by the scheduler, after the ledger recorded it as pending.
    fn send(
        &self,
        notice_id: &str,
        message: &Message,
    ) -> impl Future<Output = Result<Delivered, DeliveryError>>;

    /// Looks for a message tagged with `notice_id` in the recent history of `channel` (as
    /// recorded in the ledger). `Ok(None)` means it is not there, so it may be sent again;
    /// `Err` means the edge cannot tell (no history scope): the caller must not resend blindly.
    fn find_sent(
        &self,
        notice_id: &str,
        channel: &str,
    ) -> impl Future<Output = Result<Option<Delivered>, DeliveryError>>;

    /// Whether sends are recorded in the ledger (false for dry runs).
    fn records(&self) -> bool {
        true
    }
}

/// The `metadata.event_type` forewarn puts on every message it posts.
pub const EVENT_TYPE: &str = "forewarn_notice";
