//! A ledger kept in a Kubernetes ConfigMap, so that several replicas (and a replica that moved
//! to another node) share one record of what was sent.
//!
//! The ConfigMap (`forewarn-ledger` by default) holds the same JSON [`Document`] as the file
//! ledger under `data["ledger.json"]` (version 1 documents still load).
//!
//! # Writes
//!
//! Every `put`/`remove`/`mark_reported`/`prune` is async and durable when it returns `Ok`: it is a
//! `replace` of the whole ConfigMap carrying the `metadata.resourceVersion` last read, so the API
//! server refuses it (409 Conflict) when anyone else wrote in between. On a conflict the ledger
//! re-reads the ConfigMap, applies the same change on top of the fresh content and tries again,
//! up to [`MAX_ATTEMPTS`] times, after a short random wait so two writers do not collide in
//! lockstep. Entries are keyed by notice id and merged per key, with one
//! safety rule: when the fresh content holds a *different* record for the very notice being
//! written than the one this replica last saw, someone else is delivering that notice, and the
//! write fails instead of overwriting it (the daemon then does not send). The ConfigMap is
//! created on the first write when it does not exist; a ConfigMap without the `ledger.json` key
//! (e.g. created empty by a chart so that RBAC can name it) is an empty ledger.
//!
//! Only the leader delivers (see [`crate::deliver::leader`]), so conflicts are rare; a replica that has
//! just become leader should call [`ConfigMapLedger::refresh`] before planning, because its
//! copy may be older than the previous leader's last writes.
//!
//! # Size
//!
//! A ConfigMap holds at most 1 MiB. The JSON is kept under [`DEFAULT_MAX_JSON_BYTES`] (900 KiB,
//! leaving room for metadata). When a write would exceed it, entries are dropped — those whose
//! enforcement date is past first, oldest enforcement first, then the oldest sent or failed
//! entries — and every drop is logged. Pending entries are never dropped: when they alone do not
//! fit, the write fails.
//!
//! # Runtime
//!
//! Every call is plain async (no `block_in_place`, no lock held while waiting for the API
//! server): a slow write stalls only the task that waits for it.
//!
//! A content that cannot be read is an error naming the ConfigMap: it is never reset silently,
//! because that would resend everything.

use crate::deliver::ledger::{Change, Document, Entry, Ledger, LedgerError, Reported, State};
use chrono::{DateTime, FixedOffset, Utc};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ObjectMeta, PostParams};
use std::collections::BTreeMap;
use std::path::PathBuf;
use tracing::{info, warn};

/// The ConfigMap key holding the JSON document.
pub const DATA_KEY: &str = "ledger.json";
/// The largest JSON document written by default (a ConfigMap holds at most 1 MiB in total).
pub const DEFAULT_MAX_JSON_BYTES: usize = 900 * 1024;
/// How many times a write is tried when other writers keep changing the ConfigMap.
pub const MAX_ATTEMPTS: usize = 8;
/// How long one API request may take before the ledger call fails.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What one of forewarn's ConfigMaps holds under its one key.
pub enum Content {
    Text(String),
    Bytes(Vec<u8>),
}

/// Why [`put_configmap`] wrote nothing.
pub enum PutFailure {
    /// Someone else wrote (or created it) first: re-read and try again.
    Conflict,
    /// Replaced, but it was deleted meanwhile (it can be created again).
    Gone,
    /// No answer within [`REQUEST_TIMEOUT`].
    TimedOut,
    Api(kube::Error),
}

/// Creates the ConfigMap `name` (when `resource_version` is `None`) or replaces it,
/// compare-and-swap on `resource_version`, labelled as forewarn's and holding `content` under
/// `key`; returns the new `resourceVersion`. The one write of the ledger, the audit history and
/// the triage answers.
pub async fn put_configmap(
    api: &Api<ConfigMap>,
    (namespace, name): (&str, &str),
    resource_version: Option<String>,
    key: &str,
    content: Content,
) -> Result<Option<String>, PutFailure> {
    let replacing = resource_version.is_some();
    let (data, binary_data) = match content {
        Content::Text(t) => (Some(BTreeMap::from([(key.to_string(), t)])), None),
        Content::Bytes(b) => (
            None,
            Some(BTreeMap::from([(
                key.to_string(),
                k8s_openapi::ByteString(b),
            )])),
        ),
    };
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            resource_version,
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/name".to_string(),
                "forewarn".to_string(),
            )])),
            ..ObjectMeta::default()
        },
        data,
        binary_data,
        ..ConfigMap::default()
    };
    let pp = PostParams::default();
    let call = async {
        if replacing {
            api.replace(name, &pp, &cm).await
        } else {
            api.create(&pp, &cm).await
        }
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, call).await {
        Err(_) => Err(PutFailure::TimedOut),
        Ok(Ok(written)) => Ok(written.metadata.resource_version),
        Ok(Err(kube::Error::Api(s))) if s.is_already_exists() || s.is_conflict() => {
            Err(PutFailure::Conflict)
        }
        Ok(Err(kube::Error::Api(s))) if s.is_not_found() && replacing => Err(PutFailure::Gone),
        Ok(Err(e)) => Err(PutFailure::Api(e)),
    }
}

/// A [`Ledger`] in one ConfigMap, shared by all replicas.
pub struct ConfigMapLedger {
    api: Api<ConfigMap>,
    namespace: String,
    name: String,
    content: Document,
    /// The `resourceVersion` of the ConfigMap `content` was read from; `None` when it did not
    /// exist.
    resource_version: Option<String>,
    max_json_bytes: usize,
    /// The audit history, in the ConfigMap `NAME-history` (see [`super::history`]).
    history: super::history::ConfigMapHistory,
}

impl std::fmt::Debug for ConfigMapLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigMapLedger")
            .field("configmap", &self.configmap())
            .field("resource_version", &self.resource_version)
            .field("entries", &self.content.entries.len())
            .finish()
    }
}

/// What a read of the ConfigMap found.
struct Snapshot {
    content: Document,
    resource_version: Option<String>,
}

/// Why one write attempt did not go through.
enum WriteFailure {
    /// Someone else wrote first: re-read and try again.
    Conflict,
    /// The ConfigMap was deleted behind us: create it again.
    Gone,
    Fatal(LedgerError),
}

impl ConfigMapLedger {
    /// Opens the ledger in ConfigMap `name` of `namespace` and loads its content; a missing
    /// ConfigMap is an empty ledger (created on the first write).
    pub async fn open(
        client: kube::Client,
        namespace: &str,
        name: &str,
    ) -> Result<Self, LedgerError> {
        let history =
            super::history::ConfigMapHistory::open(client.clone(), namespace, name).await?;
        let mut ledger = Self {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_string(),
            name: name.to_string(),
            content: Document::default(),
            resource_version: None,
            max_json_bytes: DEFAULT_MAX_JSON_BYTES,
            history,
        };
        let snap = ledger.read().await?;
        ledger.content = snap.content;
        ledger.resource_version = snap.resource_version;
        info!(
            configmap = %ledger.configmap(),
            entries = ledger.content.entries.len(),
            "ledger loaded"
        );
        Ok(ledger)
    }

    /// Sets the largest JSON document this ledger writes (default [`DEFAULT_MAX_JSON_BYTES`]).
    pub fn with_max_json_bytes(mut self, max: usize) -> Self {
        self.max_json_bytes = max;
        self
    }

    /// `namespace/name` of the ConfigMap.
    pub fn configmap(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// Re-reads the ConfigMap, replacing this replica's copy. Call it when becoming leader (or
    /// at the start of each tick) so that notices another replica sent are not sent again.
    pub async fn refresh(&mut self) -> Result<(), LedgerError> {
        let snap = self.read().await?;
        self.content = snap.content;
        self.resource_version = snap.resource_version;
        self.history.refresh().await
    }

    fn label(&self) -> PathBuf {
        PathBuf::from(format!("ConfigMap {}/{}", self.namespace, self.name))
    }

    fn read_error(&self, message: impl std::fmt::Display) -> LedgerError {
        LedgerError::Read {
            path: self.label(),
            source: std::io::Error::other(message.to_string()),
        }
    }

    fn write_error(&self, message: impl std::fmt::Display) -> LedgerError {
        LedgerError::Write {
            path: self.label(),
            source: std::io::Error::other(message.to_string()),
        }
    }

    async fn read(&self) -> Result<Snapshot, LedgerError> {
        let got = tokio::time::timeout(REQUEST_TIMEOUT, self.api.get_opt(&self.name))
            .await
            .map_err(|_| self.read_error("the API server did not answer in time"))?
            .map_err(|e| self.read_error(e))?;
        let Some(cm) = got else {
            return Ok(Snapshot {
                content: Document::default(),
                resource_version: None,
            });
        };
        let resource_version = cm.metadata.resource_version.clone();
        let content = match cm.data.as_ref().and_then(|d| d.get(DATA_KEY)) {
            None => Document::default(),
            Some(text) => self.parse(text)?,
        };
        Ok(Snapshot {
            content,
            resource_version,
        })
    }

    fn parse(&self, text: &str) -> Result<Document, LedgerError> {
        Document::parse(text.as_bytes()).map_err(|message| LedgerError::Corrupt {
            path: self.label(),
            message: format!("data[\"{DATA_KEY}\"]: {message}"),
        })
    }

    /// Drops entries until `c` serialises within the size limit; returns the JSON.
    fn fit(&self, c: &mut Document, now: DateTime<FixedOffset>) -> Result<String, LedgerError> {
        let mut json = serde_json::to_string(&*c).map_err(|e| self.write_error(e))?;
        if json.len() <= self.max_json_bytes {
            return Ok(json);
        }
        // Past enforcement first (oldest enforcement first), then sent/failed (oldest first).
        let mut past: Vec<&Entry> = c
            .entries
            .values()
            .filter(|e| e.state != State::Pending && e.enforce_at < now)
            .collect();
        past.sort_by(|a, b| (a.enforce_at, &a.id).cmp(&(b.enforce_at, &b.id)));
        let mut done: Vec<&Entry> = c
            .entries
            .values()
            .filter(|e| e.state != State::Pending && e.enforce_at >= now)
            .collect();
        done.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        let order: Vec<String> = past.into_iter().chain(done).map(|e| e.id.clone()).collect();

        let mut dropped = Vec::new();
        let mut order = order.into_iter();
        let mut size = json.len();
        while json.len() > self.max_json_bytes {
            // Drop by estimate first, then check with a real serialisation.
            while size > self.max_json_bytes {
                let Some(id) = order.next() else { break };
                if let Some(e) = c.entries.remove(&id) {
                    let key = serde_json::to_string(&id).map_or(0, |k| k.len());
                    let value = serde_json::to_string(&e).map_or(0, |v| v.len());
                    size = size.saturating_sub(key + value + 2);
                    dropped.push(id);
                }
            }
            json = serde_json::to_string(&*c).map_err(|e| self.write_error(e))?;
            if json.len() > self.max_json_bytes {
                let Some(id) = order.next() else {
                    let pending = c
                        .entries
                        .values()
                        .filter(|e| e.state == State::Pending)
                        .count();
                    return Err(self.write_error(format!(
                        "the ledger would be {} bytes, over the limit of {}, even after dropping every entry that is not pending ({pending} pending entries kept)",
                        json.len(),
                        self.max_json_bytes
                    )));
                };
                if c.entries.remove(&id).is_some() {
                    dropped.push(id);
                }
                size = serde_json::to_string(&*c).map_or(usize::MAX, |j| j.len());
            }
        }
        if !dropped.is_empty() {
            warn!(
                configmap = %self.configmap(),
                dropped = dropped.len(),
                ids = ?dropped,
                limit = self.max_json_bytes,
                "ledger over its size limit; dropped the oldest finished entries"
            );
        }
        Ok(json)
    }

    /// One create-or-replace with `json`; returns the new `resourceVersion`.
    async fn try_write(&self, json: String) -> Result<Option<String>, WriteFailure> {
        let at = (self.namespace.as_str(), self.name.as_str());
        let rv = self.resource_version.clone();
        match put_configmap(&self.api, at, rv, DATA_KEY, Content::Text(json)).await {
            Ok(rv) => Ok(rv),
            Err(PutFailure::Conflict) => Err(WriteFailure::Conflict),
            Err(PutFailure::Gone) => Err(WriteFailure::Gone),
            Err(PutFailure::TimedOut) => Err(WriteFailure::Fatal(
                self.write_error("the API server did not answer in time"),
            )),
            Err(PutFailure::Api(e)) => Err(WriteFailure::Fatal(self.write_error(e))),
        }
    }

    /// Applies `change` and makes it durable, re-reading and re-applying on conflicts.
    /// Returns how many entries a prune dropped.
    async fn write(&mut self, change: Change) -> Result<usize, LedgerError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut next = self.content.clone();
            let pruned = change.apply(&mut next);
            if next == self.content {
                return Ok(0);
            }
            let json = self.fit(&mut next, Utc::now().fixed_offset())?;
            match self.try_write(json).await {
                Ok(rv) => {
                    self.content = next;
                    self.resource_version = rv;
                    return Ok(pruned);
                }
                Err(WriteFailure::Fatal(e)) => return Err(e),
                Err(WriteFailure::Gone) => {
                    // Deleted behind our back: write everything we know again, as the file
                    // ledger rewrites a removed file.
                    warn!(configmap = %self.configmap(), "ledger ConfigMap was deleted; recreating it");
                    self.resource_version = None;
                }
                Err(WriteFailure::Conflict) => {
                    if attempt >= MAX_ATTEMPTS {
                        return Err(self.write_error(format!(
                            "gave up after {attempt} attempts: the ConfigMap kept changing"
                        )));
                    }
                    // Two writers that keep colliding must not collide in lockstep.
                    tokio::time::sleep(conflict_backoff(attempt)).await;
                    let fresh = self.read().await?;
                    if let Some((id, seen)) = change.guarded() {
                        let now = fresh.content.entries.get(id);
                        if now != seen.as_ref() {
                            self.content = fresh.content;
                            self.resource_version = fresh.resource_version;
                            return Err(self.write_error(format!(
                                "notice {id} was changed by another replica meanwhile; not overwriting it"
                            )));
                        }
                    }
                    info!(configmap = %self.configmap(), attempt, "ledger changed meanwhile; re-applying on the fresh content");
                    if fresh.resource_version.is_some() {
                        self.content = fresh.content;
                    }
                    // When it is gone (absent after AlreadyExists/Conflict), keep what we
                    // know and create it again.
                    self.resource_version = fresh.resource_version;
                }
            }
        }
    }
}

/// A random wait of up to `20 ms × attempt` before re-reading after a conflict.
fn conflict_backoff(attempt: usize) -> std::time::Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_usize(attempt);
    let max_ms = 20 * attempt as u64;
    std::time::Duration::from_millis(h.finish() % max_ms.max(1))
}

impl Ledger for ConfigMapLedger {
    async fn refresh(&mut self) -> Result<(), LedgerError> {
        ConfigMapLedger::refresh(self).await
    }

    fn get(&self, id: &str) -> Option<&Entry> {
        self.content.entries.get(id)
    }

    fn entries(&self) -> Vec<Entry> {
        self.content.entries.values().cloned().collect()
    }

    async fn put(&mut self, entry: Entry) -> Result<(), LedgerError> {
        let seen = self.content.entries.get(&entry.id).cloned();
        self.write(Change::Put { entry, seen }).await.map(|_| ())
    }

    async fn remove(&mut self, id: &str) -> Result<(), LedgerError> {
        let seen = self.content.entries.get(id).cloned();
        if seen.is_none() {
            return Ok(());
        }
        let id = id.to_string();
        self.write(Change::Remove { id, seen }).await.map(|_| ())
    }

    fn reported(&self, id: &str, reason: &str) -> bool {
        self.content.is_reported(id, reason)
    }

    async fn mark_reported(&mut self, items: Vec<Reported>) -> Result<(), LedgerError> {
        let items: Vec<Reported> = items
            .into_iter()
            .filter(|r| !self.content.is_reported(&r.id, &r.reason))
            .collect();
        if items.is_empty() {
            return Ok(());
        }
        self.write(Change::MarkReported(items)).await.map(|_| ())
    }

    async fn prune(&mut self, now: DateTime<FixedOffset>) -> Result<usize, LedgerError> {
        self.write(Change::Prune(now)).await
    }

    fn progress(&self) -> Option<&crate::plan::progress::Progress> {
        Some(self.history.progress())
    }

    async fn record_progress(
        &mut self,
        measured: &crate::plan::progress::Measurement,
        keep_days: u32,
    ) -> Result<(), LedgerError> {
        self.history.record(measured, keep_days).await
    }
}
