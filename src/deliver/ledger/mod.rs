//! The ledger: the record of what was sent, so every notice goes out exactly once across ticks,
//! retries, restarts and concurrent runs.
//!
//! A notice is written as `pending` (with the attempt time) before the Slack call and as `sent`
//! (with the channel and message ts) or `failed` (with Slack's error) after it. A `pending`
//! entry whose outcome stayed unknown is resolved at the next tick by looking for the message in
//! the channel's history; it is never sent again blindly.
//!
//! Two stores implement [`Ledger`]: a local file ([`file::FileLedger`]: one writer at a time,
//! under an exclusive lock, atomic replace) and a Kubernetes ConfigMap
//! ([`configmap::ConfigMapLedger`]: compare-and-swap on `resourceVersion`). Both keep the same
//! JSON [`Document`]. A corrupt document is an error naming it: it is never reset silently,
//! because that would resend everything.
//!
//! Beside the record of notices, both stores keep the audit history ([`history`]: daily
//! counts and the last seen modes), in a file or ConfigMap of its own.

pub mod configmap;
pub mod file;
pub mod history;

pub use file::FileLedger;

use chrono::{DateTime, Duration, FixedOffset};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;

/// How long entries are kept after their policy's enforcement date.
pub const KEEP_AFTER_ENFORCEMENT_DAYS: i64 = 30;

/// How long a reported failure is remembered (then, if it still happens, it is reported again).
pub const KEEP_REPORTED_DAYS: i64 = 90;

/// The document version written today. Version 1 (one `reported` list of causes) still loads.
pub const VERSION: u32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Recorded before the send; the outcome is not known yet (or could not be confirmed).
    Pending,
    Sent,
    /// Slack refused it (`channel_not_found`, …); not retried for this milestone.
    Failed,
    /// Due at a tick that could not deliver it (Slack unavailable, the tick's deadline, a
    /// shutdown, a rejected token); definitely not posted. The next tick sends it (late, and
    /// the platform is told) while it is still due, or marks it `superseded`.
    Deferred,
    /// Never posted: a later notice of the same policy and audience went out instead, or the
    /// plan no longer has it (the rollout changed). `error` says which.
    Superseded,
}

impl State {
    /// Whether a notice in this state must not be sent (again): it went out, may have, was
    /// refused for good or was replaced. Only a deferred notice is still to be sent.
    pub fn settled(self) -> bool {
        self != State::Deferred
    }

    /// Whether the notice reached (or may have reached) its audience: what the planner counts
    /// as "told".
    pub fn told(self) -> bool {
        matches!(self, State::Pending | State::Sent)
    }
}

/// One notice's delivery record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    pub state: State,
    /// The destination as planned (`#payments`, `email:…`).
    pub destination: String,
    /// The channel ID Slack posted into, once sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For `pending`: when the send was attempted (history is searched from there on).
    pub at: DateTime<FixedOffset>,
    /// When the notice's policy is enforced; entries are pruned some time after.
    pub enforce_at: DateTime<FixedOffset>,
    /// When the notice was due (its planned send time), for telling the platform about a
    /// notice that missed its day. Absent in entries written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<DateTime<FixedOffset>>,
}

/// A failure already told to the platform channel: this notice, for this reason.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Reported {
    pub id: String,
    pub reason: String,
    pub at: DateTime<FixedOffset>,
}

/// One element of `reported` as read: version 1 kept bare causes, version 2 keeps
/// (notice, reason) pairs.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum ReportedItem {
    Pair(Reported),
    Cause(String),
}

/// The JSON document both ledgers store:
/// `{"version": 2, "entries": {id: entry}, "reported": [{"id", "reason", "at"}]}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Document {
    pub version: u32,
    pub entries: BTreeMap<String, Entry>,
    pub reported: Vec<Reported>,
}

impl Default for Document {
    fn default() -> Self {
        Self {
            version: VERSION,
            entries: BTreeMap::new(),
            reported: Vec::new(),
        }
    }
}

#[derive(Deserialize)]
struct RawDocument {
    version: u32,
    entries: BTreeMap<String, Entry>,
    #[serde(default)]
    reported: Vec<ReportedItem>,
}

impl Document {
    /// Parses a document of version 1 or 2; `Err` is a message for [`LedgerError::Corrupt`].
    ///
    /// Version 1 remembered one cause per failure kind (`"channel_not_found"`), for every notice
    /// at once; it becomes one (notice, reason) pair per `failed` entry with that error, so
    /// nothing already reported is reported again.
    pub fn parse(bytes: &[u8]) -> Result<Document, String> {
        let raw: RawDocument = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if raw.version != 1 && raw.version != VERSION {
            return Err(format!("unknown version {}", raw.version));
        }
        if let Some((key, e)) = raw.entries.iter().find(|(k, e)| **k != e.id) {
            return Err(format!("entry {key:?} has id {:?}", e.id));
        }
        let mut reported = Vec::new();
        for item in raw.reported {
            match item {
                ReportedItem::Pair(r) => reported.push(r),
                ReportedItem::Cause(cause) => {
                    for e in raw.entries.values() {
                        if e.state == State::Failed && e.error.as_deref() == Some(cause.as_str()) {
                            reported.push(Reported {
                                id: e.id.clone(),
                                reason: cause.clone(),
                                at: e.at,
                            });
                        }
                    }
                }
            }
        }
        reported.sort();
        reported.dedup_by(|a, b| a.id == b.id && a.reason == b.reason);
        Ok(Document {
            version: VERSION,
            entries: raw.entries,
            reported,
        })
    }

    pub fn is_reported(&self, id: &str, reason: &str) -> bool {
        self.reported
            .iter()
            .any(|r| r.id == id && r.reason == reason)
    }
}

/// One change to a [`Document`], kept as a value so a shared store can apply it again on top of
/// content re-read after a conflict.
#[derive(Debug, Clone)]
pub enum Change {
    /// Set `entry`; `seen` is this writer's record of the id before the change.
    Put { entry: Entry, seen: Option<Entry> },
    /// Remove `id`; `seen` is this writer's record of it before the change.
    Remove { id: String, seen: Option<Entry> },
    /// Remember that these (notice, reason) failures were reported.
    MarkReported(Vec<Reported>),
    /// Drop entries long past enforcement and old reports.
    Prune(DateTime<FixedOffset>),
}

impl Change {
    /// Applies the change to `c`; returns how many entries a prune dropped.
    pub fn apply(&self, c: &mut Document) -> usize {
        match self {
            Change::Put { entry, .. } => {
                c.entries.insert(entry.id.clone(), entry.clone());
                0
            }
            Change::Remove { id, .. } => {
                c.entries.remove(id);
                0
            }
            Change::MarkReported(items) => {
                for r in items {
                    if !c.is_reported(&r.id, &r.reason) {
                        c.reported.push(r.clone());
                    }
                }
                0
            }
            Change::Prune(now) => {
                let keep = Duration::days(KEEP_AFTER_ENFORCEMENT_DAYS);
                let before = c.entries.len();
                c.entries.retain(|_, e| e.enforce_at + keep >= *now);
                let forget = Duration::days(KEEP_REPORTED_DAYS);
                c.reported.retain(|r| r.at + forget >= *now);
                before - c.entries.len()
            }
        }
    }

    /// The notice id this change writes and the record this writer saw before, if any.
    pub fn guarded(&self) -> Option<(&str, &Option<Entry>)> {
        match self {
            Change::Put { entry, seen } => Some((&entry.id, seen)),
            Change::Remove { id, seen } => Some((id, seen)),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("cannot read ledger {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "ledger {path} is corrupt ({message}); it was left untouched — fix or move it away deliberately (forewarn will then resend the notices it listed)"
    )]
    Corrupt { path: PathBuf, message: String },
    #[error("cannot write ledger {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "ledger {path} is in use by another forewarn ({holder}); gave up after waiting {waited_s}s — nothing was sent"
    )]
    Locked {
        path: PathBuf,
        holder: String,
        waited_s: u64,
    },
}

/// Storage of delivery records.
///
/// Reads (`get`, `entries`, `reported`) answer from this writer's copy. Every write is durable
/// when it returns `Ok`; an `Err` means the record may not have been saved and the caller must
/// not send the notice. Writes are async and never block the runtime; a ledger shared by
/// several tasks sits behind a `tokio::sync::Mutex`.
pub trait Ledger: Send {
    fn get(&self, id: &str) -> Option<&Entry>;
    fn entries(&self) -> Vec<Entry>;
    fn put(&mut self, entry: Entry) -> impl Future<Output = Result<(), LedgerError>> + Send;
    fn remove(&mut self, id: &str) -> impl Future<Output = Result<(), LedgerError>> + Send;
    /// Whether the failure (`id`, `reason`) was already reported to the platform channel.
    fn reported(&self, id: &str, reason: &str) -> bool;
    /// Remembers that these failures were reported.
    fn mark_reported(
        &mut self,
        items: Vec<Reported>,
    ) -> impl Future<Output = Result<(), LedgerError>> + Send;
    /// Drops entries whose enforcement is long past.
    fn prune(
        &mut self,
        now: DateTime<FixedOffset>,
    ) -> impl Future<Output = Result<usize, LedgerError>> + Send;
    /// Called before every tick: takes what the store needs to be this tick's only writer (the
    /// file ledger's lock) and re-reads what other writers may have written.
    fn refresh(&mut self) -> impl Future<Output = Result<(), LedgerError>> + Send {
        async { Ok(()) }
    }
    /// Called after every tick of the daemon: lets another writer in until the next one.
    fn release(&mut self) {}
    /// The audit history kept beside the ledger (see [`history`]), as last read or written;
    /// `None` for a store that keeps none.
    fn progress(&self) -> Option<&crate::plan::progress::Progress> {
        None
    }
    /// Records one tick's counts and modes in the audit history, keeping `keep_days` days;
    /// durable when `Ok`. A store without a history does nothing.
    fn record_progress(
        &mut self,
        measured: &crate::plan::progress::Measurement,
        keep_days: u32,
    ) -> impl Future<Output = Result<(), LedgerError>> + Send {
        let _ = (measured, keep_days);
        async { Ok(()) }
    }
}
