//! The audit history store, beside the ledger: the daily failing and excepted counts per
//! (cluster, policy, team) and the last seen modes ([`Progress`]), kept for
//! `review.history-days` (default 180).
//!
//! # Encoding
//!
//! One JSON document, compact: per cluster the days that have a point, once, and per policy
//! and team one string of tokens aligned with those days — `F` (failing, nothing excepted),
//! `F/E`, or `.` (no point that day), each optionally followed by `*N` for N equal days in a
//! row:
//!
//! ```json
//! {"version":1,"clusters":{"":{"days":["2026-12-01","2026-12-02","2026-12-03"],
//!   "series":{"require-run-as-nonroot":{"":"23/2,21/2*2","payments":".,4*2"}},
//!   "modes":{"require-run-as-nonroot":["payments","storefront"]}}}}
//! ```
//!
//! # Where
//!
//! - Beside a file ledger `NAME.json`: `NAME.history.json`, plain JSON, written atomically
//!   (as the ledger is) under the ledger's lock.
//! - Beside a ConfigMap ledger `NAME`: the ConfigMap `NAME-history`, gzip-compressed under
//!   `binaryData["history.json.gz"]`, written with compare-and-swap on `resourceVersion` (a
//!   conflict re-reads and records again on top: recording is a merge, the same day's point
//!   is replaced). A ConfigMap holds at most 1 MiB: 100 policies × 50 teams × 180 days of
//!   slowly falling counts compress to well under [`DEFAULT_MAX_BYTES`] (see the tests); a
//!   history that would not fit loses its oldest days first, with a warning.
//!
//! A document that cannot be read is an error naming it, never reset silently. This store
//! never decides anything about the counts; it keeps them.

use super::LedgerError;
use super::configmap::{Content, PutFailure, put_configmap};
use crate::plan::progress::{Counts, Measurement, Progress, Series};
use chrono::NaiveDate;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use tracing::{info, warn};

/// The document version written today.
pub const VERSION: u32 = 1;
/// The ConfigMap key holding the compressed document.
pub const DATA_KEY: &str = "history.json.gz";
/// The largest compressed document written to a ConfigMap (which holds at most 1 MiB).
pub const DEFAULT_MAX_BYTES: usize = 900 * 1024;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    version: u32,
    #[serde(default)]
    clusters: BTreeMap<String, WireCluster>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireCluster {
    #[serde(default)]
    days: Vec<NaiveDate>,
    /// Policy → team → tokens aligned with `days`.
    #[serde(default)]
    series: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    modes: BTreeMap<String, BTreeSet<crate::model::name::Name>>,
}

fn token(c: Option<&Counts>) -> String {
    match c {
        None => ".".to_string(),
        Some(c) if c.excepted == 0 => c.failing.to_string(),
        Some(c) => format!("{}/{}", c.failing, c.excepted),
    }
}

/// Encodes `points` aligned with `days`, run-length compressed; trailing days without a
/// point are left out.
fn encode_series(days: &[NaiveDate], points: &BTreeMap<NaiveDate, Counts>) -> String {
    let mut runs: Vec<(String, usize)> = Vec::new();
    for d in days {
        let t = token(points.get(d));
        match runs.last_mut() {
            Some((prev, n)) if *prev == t => *n += 1,
            _ => runs.push((t, 1)),
        }
    }
    while runs.last().is_some_and(|(t, _)| t == ".") {
        runs.pop();
    }
    runs.iter()
        .map(|(t, n)| {
            if *n > 1 {
                format!("{t}*{n}")
            } else {
                t.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn decode_series(days: &[NaiveDate], text: &str) -> Result<BTreeMap<NaiveDate, Counts>, String> {
    let mut out = BTreeMap::new();
    let mut i = 0;
    for tok in text.split(',').filter(|t| !t.is_empty()) {
        let (value, times) = match tok.split_once('*') {
            Some((v, n)) => (
                v,
                n.parse::<usize>()
                    .map_err(|_| format!("'{tok}': bad repeat count"))?,
            ),
            None => (tok, 1),
        };
        let counts = match value {
            "." => None,
            v => {
                let (f, e) = v.split_once('/').unwrap_or((v, "0"));
                let n = |s: &str| {
                    s.parse::<u64>()
                        .map_err(|_| format!("'{tok}': not a count"))
                };
                Some(Counts {
                    failing: n(f)?,
                    excepted: n(e)?,
                })
            }
        };
        for _ in 0..times {
            let Some(d) = days.get(i) else {
                return Err(format!(
                    "'{text}' has more values than the {} days",
                    days.len()
                ));
            };
            if let Some(c) = counts {
                out.insert(*d, c);
            }
            i += 1;
        }
    }
    Ok(out)
}

/// The JSON document of `p`.
pub fn encode(p: &Progress) -> Vec<u8> {
    let mut clusters: BTreeMap<String, WireCluster> = BTreeMap::new();
    for (cluster, series) in &p.series {
        let days: Vec<NaiveDate> = series
            .values()
            .flat_map(|s| s.keys().copied())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut wire: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for ((policy, team), points) in series {
            wire.entry(policy.clone())
                .or_default()
                .insert(team.clone(), encode_series(&days, points));
        }
        let c = clusters.entry(cluster.clone()).or_default();
        c.days = days;
        c.series = wire;
    }
    for (cluster, modes) in &p.modes {
        clusters.entry(cluster.clone()).or_default().modes = modes.clone();
    }
    // A map of strings and lists cannot fail to serialise.
    serde_json::to_vec(&Wire {
        version: VERSION,
        clusters,
    })
    .unwrap_or_default()
}

/// Reads a JSON document; `Err` is a message for [`LedgerError::Corrupt`].
pub fn decode(bytes: &[u8]) -> Result<Progress, String> {
    let wire: Wire = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if wire.version != VERSION {
        return Err(format!("unknown version {}", wire.version));
    }
    let mut out = Progress::default();
    for (cluster, c) in wire.clusters {
        let mut series = Series::new();
        for (policy, teams) in c.series {
            for (team, text) in teams {
                let points = decode_series(&c.days, &text)
                    .map_err(|e| format!("clusters[{cluster:?}].series.{policy}.{team:?}: {e}"))?;
                if !points.is_empty() {
                    series.insert((policy.clone(), team), points);
                }
            }
        }
        if !series.is_empty() {
            out.series.insert(cluster.clone(), series);
        }
        if !c.modes.is_empty() {
            // Every policy names the same namespaces: each name is held once.
            let mut names = crate::model::name::Names::default();
            let modes = c
                .modes
                .into_iter()
                .map(|(policy, set)| (policy, set.iter().map(|n| names.intern(n)).collect()))
                .collect();
            out.modes.insert(cluster, modes);
        }
    }
    Ok(out)
}

fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(bytes)?;
    e.finish()
}

fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| format!("not gzip: {e}"))?;
    Ok(out)
}

/// The compressed document of `p`, at most `max` bytes: when it would be larger, the oldest
/// days are dropped (a tenth of them at a time) until it fits. Returns the bytes and how many
/// days were dropped.
pub fn compressed_within(p: &mut Progress, max: usize) -> Result<(Vec<u8>, usize), String> {
    let mut dropped = 0;
    loop {
        let bytes = gzip(&encode(p)).map_err(|e| e.to_string())?;
        if bytes.len() <= max {
            return Ok((bytes, dropped));
        }
        let days: BTreeSet<NaiveDate> = p
            .series
            .values()
            .flat_map(|s| s.values().flat_map(|pts| pts.keys().copied()))
            .collect();
        if days.is_empty() {
            return Err(format!(
                "the history would be {} bytes compressed, over the limit of {max}, even without any counts",
                bytes.len()
            ));
        }
        let cut = days.len().div_ceil(10);
        let Some(first_kept) = days.iter().nth(cut).copied() else {
            p.series.clear();
            dropped += days.len();
            continue;
        };
        for series in p.series.values_mut() {
            series.retain(|_, pts| {
                pts.retain(|d, _| *d >= first_kept);
                !pts.is_empty()
            });
        }
        dropped += cut;
    }
}

/// The history file beside the file ledger at `ledger`: `NAME.history.json`.
pub fn file_path(ledger: &Path) -> PathBuf {
    let stem = ledger
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "forewarn-ledger".to_string());
    ledger.with_file_name(format!("{stem}.history.json"))
}

/// Reads the history file at `path`; a missing file is an empty history.
pub fn read_file(path: &Path) -> Result<Progress, LedgerError> {
    match std::fs::read(path) {
        Ok(bytes) => decode(&bytes).map_err(|message| LedgerError::Corrupt {
            path: path.to_path_buf(),
            message,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Progress::default()),
        Err(source) => Err(LedgerError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Replaces the history file at `path` with `p`, atomically, off the runtime's workers. The
/// caller holds the ledger's lock.
pub async fn write_file(path: &Path, p: &Progress) -> Result<(), LedgerError> {
    let bytes = encode(p);
    let target = path.to_path_buf();
    tokio::task::spawn_blocking(move || super::file::write_atomically(&target, &bytes))
        .await
        .map_err(std::io::Error::other)
        .and_then(|r| r)
        .map_err(|source| LedgerError::Write {
            path: path.to_path_buf(),
            source,
        })
}

/// The history in the ConfigMap `NAME-history` beside the ConfigMap ledger `NAME`.
pub struct ConfigMapHistory {
    api: Api<ConfigMap>,
    namespace: String,
    name: String,
    content: Progress,
    resource_version: Option<String>,
    max_bytes: usize,
}

impl std::fmt::Debug for ConfigMapHistory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigMapHistory")
            .field("configmap", &format!("{}/{}", self.namespace, self.name))
            .field("resource_version", &self.resource_version)
            .finish()
    }
}

/// The name of the history ConfigMap beside the ledger ConfigMap `ledger`.
pub fn configmap_name(ledger: &str) -> String {
    format!("{ledger}-history")
}

impl ConfigMapHistory {
    /// Opens the history beside the ledger ConfigMap `ledger` and loads it (a missing
    /// ConfigMap is an empty history, created on the first record).
    pub async fn open(
        client: kube::Client,
        namespace: &str,
        ledger: &str,
    ) -> Result<Self, LedgerError> {
        let mut h = Self {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_string(),
            name: configmap_name(ledger),
            content: Progress::default(),
            resource_version: None,
            max_bytes: DEFAULT_MAX_BYTES,
        };
        h.refresh().await?;
        Ok(h)
    }

    /// Sets the largest compressed document written (default [`DEFAULT_MAX_BYTES`]).
    pub fn with_max_bytes(mut self, max: usize) -> Self {
        self.max_bytes = max;
        self
    }

    pub fn progress(&self) -> &Progress {
        &self.content
    }

    fn label(&self) -> PathBuf {
        PathBuf::from(format!("ConfigMap {}/{}", self.namespace, self.name))
    }

    fn error(&self, message: impl std::fmt::Display) -> LedgerError {
        LedgerError::Write {
            path: self.label(),
            source: std::io::Error::other(message.to_string()),
        }
    }

    /// Re-reads the ConfigMap.
    pub async fn refresh(&mut self) -> Result<(), LedgerError> {
        let (content, rv) = self.read().await?;
        self.content = content;
        self.resource_version = rv;
        Ok(())
    }

    async fn read(&self) -> Result<(Progress, Option<String>), LedgerError> {
        let read_error = |message: String| LedgerError::Read {
            path: self.label(),
            source: std::io::Error::other(message),
        };
        let got = tokio::time::timeout(
            super::configmap::REQUEST_TIMEOUT,
            self.api.get_opt(&self.name),
        )
        .await
        .map_err(|_| read_error("the API server did not answer in time".into()))?
        .map_err(|e| read_error(e.to_string()))?;
        let Some(cm) = got else {
            return Ok((Progress::default(), None));
        };
        let rv = cm.metadata.resource_version.clone();
        let content = match cm.binary_data.as_ref().and_then(|d| d.get(DATA_KEY)) {
            None => Progress::default(),
            Some(bytes) => gunzip(&bytes.0)
                .and_then(|json| decode(&json))
                .map_err(|message| LedgerError::Corrupt {
                    path: self.label(),
                    message: format!("binaryData[\"{DATA_KEY}\"]: {message}"),
                })?,
        };
        Ok((content, rv))
    }

    /// Records `m`, keeping `keep_days` days; durable when `Ok`. On a conflict (another
    /// replica wrote meanwhile) it re-reads and records again on top, up to
    /// [`super::configmap::MAX_ATTEMPTS`] times.
    pub async fn record(&mut self, m: &Measurement, keep_days: u32) -> Result<(), LedgerError> {
        for _ in 0..super::configmap::MAX_ATTEMPTS {
            let mut next = self.content.clone();
            next.record(m, keep_days);
            if next == self.content {
                return Ok(());
            }
            let (bytes, dropped) =
                compressed_within(&mut next, self.max_bytes).map_err(|e| self.error(e))?;
            if dropped > 0 {
                warn!(configmap = %self.label().display(), days = dropped, limit = self.max_bytes,
                    "audit history over its size limit; dropped its oldest days");
            }
            let at = (self.namespace.as_str(), self.name.as_str());
            let rv = self.resource_version.clone();
            match put_configmap(&self.api, at, rv, DATA_KEY, Content::Bytes(bytes)).await {
                Ok(rv) => {
                    self.content = next;
                    self.resource_version = rv;
                    return Ok(());
                }
                Err(PutFailure::Conflict | PutFailure::Gone) => {
                    info!(configmap = %self.label().display(), "audit history changed meanwhile; recording again on the fresh content");
                    self.refresh().await?;
                }
                Err(PutFailure::TimedOut) => {
                    return Err(self.error("the API server did not answer in time"));
                }
                Err(PutFailure::Api(e)) => return Err(self.error(e)),
            }
        }
        Err(self.error(format!(
            "gave up after {} attempts: the ConfigMap kept changing",
            super::configmap::MAX_ATTEMPTS
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("day")
    }

    #[test]
    fn a_document_reads_back_as_written() {
        let mut p = Progress::default();
        let s = p.series.entry(String::new()).or_default();
        let pts = s.entry(("pol".into(), String::new())).or_default();
        for (i, (f, e)) in [(23, 2), (21, 2), (21, 2), (20, 0)].iter().enumerate() {
            pts.insert(
                day("2026-12-01") + Duration::days(i as i64),
                Counts {
                    failing: *f,
                    excepted: *e,
                },
            );
        }
        s.entry(("pol".into(), "web".into())).or_default().insert(
            day("2026-12-02"),
            Counts {
                failing: 4,
                excepted: 0,
            },
        );
        p.modes
            .entry(String::new())
            .or_default()
            .insert("pol".into(), BTreeSet::from(["web".into()]));
        let bytes = encode(&p);
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains(r#""":"23/2,21/2*2,20""#), "{text}");
        assert!(text.contains(r#""web":".,4""#), "{text}");
        assert_eq!(decode(&bytes).expect("decode"), p);
        assert!(decode(br#"{"version":1,"clusters":{"":{"days":["2026-12-01"],"series":{"p":{"":"1,2"}}}}}"#)
            .expect_err("too many values")
            .contains("more values"));
    }

    /// 100 policies × 50 teams × 180 days: counts that fall slowly, with some noise, change on
    /// about one day in three; exceptions change rarely. Plus where each policy audits, in 300
    /// namespaces.
    fn large(seed: u64) -> Progress {
        let mut state = seed;
        let mut rand = move |n: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        let mut p = Progress::default();
        let start = day("2026-06-01");
        let series = p.series.entry(String::new()).or_default();
        for policy in 0..100 {
            let name = format!("require-some-policy-number-{policy:03}");
            for team in 0..50 {
                let mut failing = 20 + rand(200);
                let mut excepted = rand(5);
                let points = series
                    .entry((name.clone(), format!("team-{team:02}-name")))
                    .or_default();
                for d in 0..180 {
                    match rand(10) {
                        0..=1 => failing = failing.saturating_sub(1 + rand(3)),
                        2 => failing += rand(2),
                        _ => {}
                    }
                    if rand(30) == 0 {
                        excepted += 1;
                    }
                    points.insert(start + Duration::days(d), Counts { failing, excepted });
                }
            }
        }
        let namespaces: BTreeSet<crate::model::name::Name> = (0..300)
            .map(|i| format!("namespace-{i:03}").into())
            .collect();
        let modes = p.modes.entry(String::new()).or_default();
        for policy in 0..100 {
            modes.insert(
                format!("require-some-policy-number-{policy:03}"),
                namespaces.clone(),
            );
        }
        p
    }

    #[test]
    fn a_large_history_fits_a_configmap_whole() {
        let mut p = large(7);
        let json = encode(&p).len();
        let (bytes, dropped) = compressed_within(&mut p, DEFAULT_MAX_BYTES).expect("fits");
        eprintln!(
            "100 policies × 50 teams × 180 days: {json} bytes of JSON, {} compressed",
            bytes.len()
        );
        assert_eq!(dropped, 0);
        assert!(bytes.len() <= DEFAULT_MAX_BYTES && bytes.len() < 1024 * 1024);
        assert_eq!(decode(&gunzip(&bytes).expect("gunzip")).expect("decode"), p);
    }

    #[test]
    fn a_history_over_the_limit_loses_its_oldest_days_first() {
        let mut p = large(11);
        let (bytes, dropped) = compressed_within(&mut p, 100 * 1024).expect("fits");
        assert!(bytes.len() <= 100 * 1024 && dropped > 0);
        let back = decode(&gunzip(&bytes).expect("gunzip")).expect("decode");
        let days: BTreeSet<NaiveDate> = back.series[""]
            .values()
            .flat_map(|s| s.keys().copied())
            .collect();
        assert_eq!(
            days.last().copied(),
            Some(day("2026-06-01") + Duration::days(179))
        );
        assert_eq!(days.len(), 180 - dropped);
        assert_eq!(back.modes, p.modes);
    }
}
