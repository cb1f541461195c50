//! The store of triage answers (the buttons under a heads-up): one JSON document beside the
//! ledger, in a local file or a ConfigMap, holding the latest answer per (cluster, policy,
//! team).
//!
//! Clicks arrive at any replica, at any time — also while `run` holds the ledger's lock for a
//! tick — so this store has its own document and its own guard, and no click is lost when
//! several write at once:
//!
//! - **File** (`<ledger>.answers.json` beside `--state`): every write takes an exclusive lock
//!   on `NAME.lock` (held only for that read-modify-write), re-reads the file, adds the answer
//!   and replaces the file atomically (temporary file, fsync, rename — as the file ledger).
//! - **ConfigMap** (`<ledger>-answers`): every write re-reads the ConfigMap and replaces it
//!   carrying the `resourceVersion` it read; a 409 (someone wrote in between) re-reads and
//!   applies the same answer again, a few times, after a short random wait.
//!
//! Adding an answer is idempotent and commutative per key (the later click wins), so
//! re-applying after a conflict is always right. A document that cannot be read is an error
//! naming it, never reset. This module decides nothing about what answers mean and never
//! talks to Slack.

use crate::deliver::ledger::configmap::{Content, PutFailure, REQUEST_TIMEOUT, put_configmap};
use crate::model::triage::{Answers, TriageAnswer};
use chrono::{DateTime, Duration, FixedOffset, Utc};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The ConfigMap key holding the document.
pub const DATA_KEY: &str = "answers.json";
/// Answers older than this are dropped at the next write.
pub const KEEP_DAYS: i64 = 180;
/// How many times a ConfigMap write is tried while others keep writing.
pub const MAX_ATTEMPTS: usize = 16;
/// How long a file write waits for another writer's lock.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum AnswersError {
    #[error("cannot read the answers in {at}: {message}")]
    Read { at: String, message: String },
    #[error(
        "the answers in {at} are corrupt ({message}); left untouched — fix or move the file away"
    )]
    Corrupt { at: String, message: String },
    #[error("cannot record the answer in {at}: {message}")]
    Write { at: String, message: String },
}

/// `{"version": 1, "answers": [answer, …]}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Document {
    version: u32,
    answers: Vec<TriageAnswer>,
}

impl Document {
    fn parse(bytes: &[u8]) -> Result<Document, String> {
        let d: Document = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if d.version != 1 {
            return Err(format!("unknown version {}", d.version));
        }
        Ok(d)
    }

    /// Adds `answer` (the later click per key wins) and drops answers older than
    /// [`KEEP_DAYS`].
    fn with(self, answer: &TriageAnswer, now: DateTime<FixedOffset>) -> Document {
        let mut all = Answers::new(self.answers);
        all.record(answer.clone());
        let keep = now - Duration::days(KEEP_DAYS);
        Document {
            version: 1,
            answers: all.iter().filter(|a| a.at >= keep).cloned().collect(),
        }
    }
}

/// Where the answers are kept. Cheap to share behind an `Arc`; every call re-reads the store.
pub enum AnswerStore {
    File(PathBuf),
    ConfigMap(Box<Shared>),
}

/// A ConfigMap store's coordinates.
pub struct Shared {
    api: Api<ConfigMap>,
    namespace: String,
    name: String,
}

impl std::fmt::Debug for AnswerStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl AnswerStore {
    /// The file beside the file ledger at `ledger`: `forewarn-ledger.json` →
    /// `forewarn-ledger.answers.json`.
    pub fn beside_file_ledger(ledger: &Path) -> AnswerStore {
        let stem = ledger
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "forewarn-ledger".to_string());
        AnswerStore::File(ledger.with_file_name(format!("{stem}.answers.json")))
    }

    /// The ConfigMap beside the ConfigMap ledger `ledger`: `<ledger>-answers`.
    pub fn beside_configmap_ledger(
        client: kube::Client,
        namespace: &str,
        ledger: &str,
    ) -> AnswerStore {
        AnswerStore::configmap(client, namespace, &format!("{ledger}-answers"))
    }

    /// The ConfigMap `name` in `namespace`.
    pub fn configmap(client: kube::Client, namespace: &str, name: &str) -> AnswerStore {
        AnswerStore::ConfigMap(Box::new(Shared {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_string(),
            name: name.to_string(),
        }))
    }

    /// Where the answers are, for messages and logs.
    pub fn describe(&self) -> String {
        match self {
            AnswerStore::File(p) => p.display().to_string(),
            AnswerStore::ConfigMap(c) => format!("ConfigMap {}/{}", c.namespace, c.name),
        }
    }

    /// Every answer recorded (none when the store does not exist yet).
    pub async fn load(&self) -> Result<Answers, AnswersError> {
        let doc = match self {
            AnswerStore::File(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || read_file(&path))
                    .await
                    .map_err(|e| self.read_error(e))??
            }
            AnswerStore::ConfigMap(_) => self.read_configmap().await?.0,
        };
        Ok(Answers::new(doc.answers))
    }

    /// Records `answer` durably (it replaces an earlier answer for the same key). `Err` means
    /// it may not have been saved; the caller tells the person who clicked.
    pub async fn record(&self, answer: &TriageAnswer) -> Result<(), AnswersError> {
        let now = Utc::now().fixed_offset();
        match self {
            AnswerStore::File(path) => {
                let (path, answer) = (path.clone(), answer.clone());
                tokio::task::spawn_blocking(move || record_in_file(&path, &answer, now))
                    .await
                    .map_err(|e| self.write_error(e))?
            }
            AnswerStore::ConfigMap(_) => self.record_in_configmap(answer, now).await,
        }
    }

    fn read_error(&self, message: impl std::fmt::Display) -> AnswersError {
        AnswersError::Read {
            at: self.describe(),
            message: message.to_string(),
        }
    }

    fn write_error(&self, message: impl std::fmt::Display) -> AnswersError {
        AnswersError::Write {
            at: self.describe(),
            message: message.to_string(),
        }
    }

    /// The document and the `resourceVersion` it was read at (`None`: no ConfigMap yet).
    async fn read_configmap(&self) -> Result<(Document, Option<String>), AnswersError> {
        let AnswerStore::ConfigMap(c) = self else {
            return Err(self.read_error("not a ConfigMap store"));
        };
        let got = tokio::time::timeout(REQUEST_TIMEOUT, c.api.get_opt(&c.name))
            .await
            .map_err(|_| self.read_error("the API server did not answer in time"))?
            .map_err(|e| self.read_error(e))?;
        let Some(cm) = got else {
            return Ok((Document::default(), None));
        };
        let doc = match cm.data.as_ref().and_then(|d| d.get(DATA_KEY)) {
            None => Document::default(),
            Some(text) => {
                Document::parse(text.as_bytes()).map_err(|message| AnswersError::Corrupt {
                    at: self.describe(),
                    message: format!("data[\"{DATA_KEY}\"]: {message}"),
                })?
            }
        };
        Ok((doc, cm.metadata.resource_version))
    }

    async fn record_in_configmap(
        &self,
        answer: &TriageAnswer,
        now: DateTime<FixedOffset>,
    ) -> Result<(), AnswersError> {
        let AnswerStore::ConfigMap(c) = self else {
            return Err(self.write_error("not a ConfigMap store"));
        };
        for attempt in 1..=MAX_ATTEMPTS {
            let (doc, rv) = self.read_configmap().await?;
            let json =
                serde_json::to_string(&doc.with(answer, now)).map_err(|e| self.write_error(e))?;
            let at = (c.namespace.as_str(), c.name.as_str());
            match put_configmap(&c.api, at, rv, DATA_KEY, Content::Text(json)).await {
                Ok(_) => return Ok(()),
                Err(PutFailure::Conflict | PutFailure::Gone) => {
                    tracing::info!(store = %self.describe(), attempt, "answers changed meanwhile; applying the answer again");
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(PutFailure::TimedOut) => {
                    return Err(self.write_error("the API server did not answer in time"));
                }
                Err(PutFailure::Api(e)) => return Err(self.write_error(e)),
            }
        }
        Err(self.write_error(format!(
            "gave up after {MAX_ATTEMPTS} attempts: the ConfigMap kept changing"
        )))
    }
}

/// A random wait of up to `20 ms × attempt`, so writers that collide do not collide again.
fn backoff(attempt: usize) -> std::time::Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_usize(attempt);
    std::time::Duration::from_millis(h.finish() % (20 * attempt as u64).max(1))
}

fn read_file(path: &Path) -> Result<Document, AnswersError> {
    match std::fs::read(path) {
        Ok(bytes) => Document::parse(&bytes).map_err(|message| AnswersError::Corrupt {
            at: path.display().to_string(),
            message,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Document::default()),
        Err(e) => Err(AnswersError::Read {
            at: path.display().to_string(),
            message: e.to_string(),
        }),
    }
}

/// Under the file's lock: re-read, add, replace atomically.
fn record_in_file(
    path: &Path,
    answer: &TriageAnswer,
    now: DateTime<FixedOffset>,
) -> Result<(), AnswersError> {
    let err = |message: String| AnswersError::Write {
        at: path.display().to_string(),
        message,
    };
    let mut lock_name = path.file_name().unwrap_or_default().to_os_string();
    lock_name.push(".lock");
    let lock_path = path.with_file_name(lock_name);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
    }
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| err(format!("{}: {e}", lock_path.display())))?;
    let started = std::time::Instant::now();
    loop {
        match lock.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < LOCK_WAIT => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(err(format!(
                    "{} stayed locked by another writer for {}s",
                    lock_path.display(),
                    LOCK_WAIT.as_secs()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(err(e.to_string())),
        }
    }
    let doc = read_file(path)?.with(answer, now);
    let bytes = serde_json::to_vec_pretty(&doc).map_err(|e| err(e.to_string()))?;
    crate::deliver::ledger::file::write_atomically(path, &bytes).map_err(|e| err(e.to_string()))
    // The lock is released when `lock` is dropped, after the rename.
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ids::{ClusterName, PolicyKind, PolicyRef};
    use crate::model::triage::{SlackUser, Triage, TriageKey};

    fn answer(team: &str, at: &str) -> TriageAnswer {
        TriageAnswer {
            key: TriageKey {
                cluster: ClusterName::parse("prod").expect("name"),
                policy: PolicyRef {
                    kind: PolicyKind::ClusterPolicy,
                    namespace: None,
                    name: "p".into(),
                    parent: None,
                },
                team: crate::model::ids::TeamKey::parse(team).expect("team"),
            },
            answer: Triage::GotIt,
            user: SlackUser::parse("U1").expect("user"),
            user_name: None,
            at: DateTime::parse_from_rfc3339(at).expect("time"),
        }
    }

    #[test]
    fn the_file_sits_beside_the_ledger() {
        let s = AnswerStore::beside_file_ledger(Path::new("/var/lib/forewarn/ledger.json"));
        assert_eq!(s.describe(), "/var/lib/forewarn/ledger.answers.json");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_clicks_on_one_file_are_all_kept() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("ledger.answers.json");
        let now = Utc::now().fixed_offset().to_rfc3339();
        let mut tasks = Vec::new();
        for i in 0..24 {
            // Each click on its own store value, as separate replicas would.
            let store = AnswerStore::File(path.clone());
            let a = answer(&format!("team-{i}"), &now);
            tasks.push(tokio::spawn(async move { store.record(&a).await }));
        }
        for t in tasks {
            t.await.expect("task").expect("recorded");
        }
        let all = AnswerStore::File(path).load().await.expect("load");
        assert_eq!(all.len(), 24);
    }

    #[tokio::test]
    async fn a_corrupt_file_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("a.json");
        std::fs::write(&path, "{\"version\":1,\"answers\":[").expect("write");
        let store = AnswerStore::File(path.clone());
        let err = store
            .record(&answer("t", "2026-12-01T10:00:00+01:00"))
            .await
            .expect_err("corrupt");
        assert!(err.to_string().contains("corrupt"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "{\"version\":1,\"answers\":["
        );
    }
}
