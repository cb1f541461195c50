//! The ledger: the record of what was sent, so every notice goes out exactly once across ticks,
//! retries and restarts.
//!
//! A notice is written as `pending` before the Slack call and as `sent` (with the channel and
//! message ts) or `failed` (with Slack's error) after it. The file ledger writes the whole
//! record atomically (temporary file, fsync, rename), so a crash leaves either the old or the
//! new file, never half of one. A corrupt file is an error naming the file: it is never reset
//! silently, because that would resend everything.

pub mod configmap;

use chrono::{DateTime, Duration, FixedOffset};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// How long entries are kept after their policy's enforcement date.
pub const KEEP_AFTER_ENFORCEMENT_DAYS: i64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Recorded before the send; the outcome is not known yet.
    Pending,
    Sent,
    /// Slack refused it (`channel_not_found`, …); not retried for this milestone.
    Failed,
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
    pub at: DateTime<FixedOffset>,
    /// When the notice's policy is enforced; entries are pruned some time after.
    pub enforce_at: DateTime<FixedOffset>,
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
}

/// Storage of delivery records. Every `put`/`remove` is durable when it returns `Ok`; an `Err`
/// means the record may not have been saved and the caller must not send the notice.
pub trait Ledger {
    fn get(&self, id: &str) -> Option<&Entry>;
    fn entries(&self) -> Vec<Entry>;
    fn put(&mut self, entry: Entry) -> Result<(), LedgerError>;
    fn remove(&mut self, id: &str) -> Result<(), LedgerError>;
    /// Causes of delivery failures already reported to the platform channel.
    fn reported(&self, cause: &str) -> bool;
    fn mark_reported(&mut self, cause: &str) -> Result<(), LedgerError>;
    /// Drops entries whose enforcement is long past.
    fn prune(&mut self, now: DateTime<FixedOffset>) -> Result<usize, LedgerError>;
    /// Re-reads shared storage that other replicas may have written (a no-op for a local file).
    /// Called at the start of every tick.
    fn refresh(&mut self) -> Result<(), LedgerError> {
        Ok(())
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct FileContent {
    version: u32,
    entries: BTreeMap<String, Entry>,
    #[serde(default)]
    reported: Vec<String>,
}

/// A ledger in a local JSON file.
#[derive(Debug)]
pub struct FileLedger {
    path: PathBuf,
    content: FileContent,
}

impl FileLedger {
    /// Opens the ledger at `path`; a missing file is an empty ledger.
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        let content = match std::fs::read(path) {
            Ok(bytes) => {
                let c: FileContent =
                    serde_json::from_slice(&bytes).map_err(|e| LedgerError::Corrupt {
                        path: path.to_path_buf(),
                        message: e.to_string(),
                    })?;
                if c.version != 1 {
                    return Err(LedgerError::Corrupt {
                        path: path.to_path_buf(),
                        message: format!("unknown version {}", c.version),
                    });
                }
                c
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => FileContent {
                version: 1,
                ..FileContent::default()
            },
            Err(source) => {
                return Err(LedgerError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        Ok(Self {
            path: path.to_path_buf(),
            content,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn save(&self) -> Result<(), LedgerError> {
        let err = |source| LedgerError::Write {
            path: self.path.clone(),
            source,
        };
        let dir = self
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(err)?;
        let bytes =
            serde_json::to_vec_pretty(&self.content).map_err(|e| err(std::io::Error::other(e)))?;
        let tmp = dir.join(format!(
            ".{}.tmp",
            self.path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("ledger")
        ));
        {
            let mut f = std::fs::File::create(&tmp).map_err(err)?;
            f.write_all(&bytes).map_err(err)?;
            f.sync_all().map_err(err)?;
        }
        std::fs::rename(&tmp, &self.path).map_err(err)?;
        // Make the rename itself durable.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl Ledger for FileLedger {
    fn get(&self, id: &str) -> Option<&Entry> {
        self.content.entries.get(id)
    }

    fn entries(&self) -> Vec<Entry> {
        self.content.entries.values().cloned().collect()
    }

    fn put(&mut self, entry: Entry) -> Result<(), LedgerError> {
        self.content.entries.insert(entry.id.clone(), entry);
        self.save()
    }

    fn remove(&mut self, id: &str) -> Result<(), LedgerError> {
        if self.content.entries.remove(id).is_some() {
            self.save()?;
        }
        Ok(())
    }

    fn reported(&self, cause: &str) -> bool {
        self.content.reported.iter().any(|c| c == cause)
    }

    fn mark_reported(&mut self, cause: &str) -> Result<(), LedgerError> {
        if !self.reported(cause) {
            self.content.reported.push(cause.to_string());
            self.save()?;
        }
        Ok(())
    }

    fn prune(&mut self, now: DateTime<FixedOffset>) -> Result<usize, LedgerError> {
        let keep = Duration::days(KEEP_AFTER_ENFORCEMENT_DAYS);
        let before = self.content.entries.len();
        self.content
            .entries
            .retain(|_, e| e.enforce_at + keep >= now);
        let dropped = before - self.content.entries.len();
        if dropped > 0 {
            self.save()?;
        }
        Ok(dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, enforce: &str) -> Entry {
        let t = DateTime::parse_from_rfc3339(enforce).expect("time");
        Entry {
            id: id.into(),
            state: State::Sent,
            destination: "#a".into(),
            channel: Some("C1".into()),
            ts: Some("1.2".into()),
            error: None,
            at: t,
            enforce_at: t,
        }
    }

    #[test]
    fn survives_reopen_and_prunes_old_entries() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("state/ledger.json");
        let mut l = FileLedger::open(&path).expect("new");
        l.put(entry("a", "2026-01-01T00:00:00Z")).expect("put");
        l.put(entry("b", "2026-12-01T00:00:00Z")).expect("put");
        let mut l = FileLedger::open(&path).expect("reopen");
        assert_eq!(l.get("a").map(|e| e.state), Some(State::Sent));
        let now = DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z").expect("now");
        assert_eq!(l.prune(now).expect("prune"), 1);
        let l = FileLedger::open(&path).expect("reopen");
        assert!(l.get("a").is_none() && l.get("b").is_some());
    }

    #[test]
    fn a_corrupt_file_is_an_error_and_left_alone() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("ledger.json");
        std::fs::write(&path, "{\"version\":1,\"entries\":{\"a\":").expect("write");
        let err = FileLedger::open(&path).expect_err("corrupt");
        assert!(err.to_string().contains("ledger.json is corrupt"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "{\"version\":1,\"entries\":{\"a\":"
        );
    }
}
