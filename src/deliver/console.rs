//! The dry-run edge: prints each message to stdout instead of posting it.
//!
//! Used when no Slack token is configured. It records nothing, so a dry run never marks a
//! notice as sent and the real run later still delivers it.

use super::{Deliver, Delivered, DeliveryError};
use crate::render::{Message, to_text};
use std::io::Write;
use std::sync::Mutex;

/// Writes messages to a writer (stdout by default).
pub struct Console<W: Write> {
    out: Mutex<W>,
}

impl Console<std::io::Stdout> {
    pub fn stdout() -> Self {
        Self::new(std::io::stdout())
    }
}

impl<W: Write> Console<W> {
    pub fn new(out: W) -> Self {
        Self {
            out: Mutex::new(out),
        }
    }

    pub fn into_inner(self) -> W {
        self.out.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}

impl<W: Write + Send + 'static> Deliver for Console<W> {
    async fn send(
        &self,
        notice_ids: &[&str],
        message: &Message,
    ) -> Result<Delivered, DeliveryError> {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(
            out,
            "──── {} → {} (dry run: no Slack token)\n",
            notice_ids.join(", "),
            message.channel
        );
        let _ = write!(out, "{}", to_text(message));
        Ok(Delivered {
            channel: message.channel.to_string(),
            ts: String::new(),
        })
    }

    async fn find_sent(
        &self,
        _notice_id: &str,
        _channel: &str,
        _since: chrono::DateTime<chrono::FixedOffset>,
    ) -> Result<Option<Delivered>, DeliveryError> {
        Ok(None)
    }

    fn records(&self) -> bool {
        false
    }
}
