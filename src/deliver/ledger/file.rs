//! The ledger in a local JSON file, with one writer at a time.
//!
//! # One writer
//!
//! The ledger is guarded by an exclusive advisory lock (`flock`, through std's
//! [`std::fs::File::try_lock`]) on a lock file beside it (`NAME.lock`, never removed), held for
//! the whole tick: from [`FileLedger::open`] (or [`Ledger::refresh`]) to the end of the process
//! (or [`Ledger::release`]). A second `forewarn run` on the same file waits for it, saying so
//! on stderr like cargo does ("Blocking waiting for file lock on … held by pid …"), for at most
//! the configured time, then fails with [`LedgerError::Locked`] before sending anything. The
//! file is re-read once the lock is taken, so the second run sees everything the first one
//! recorded.
//!
//! # Atomic writes
//!
//! Every write replaces the whole file: a temporary file unique to this process and write
//! (`.NAME.PID.RANDOM.tmp`), fsync, rename, fsync of the directory. A crash leaves the old or
//! the new file, never half of one; a failed write removes its temporary file, and one left by a
//! killed writer is removed by the next process that takes the lock. The file I/O runs on
//! Tokio's blocking pool, never on a runtime worker.

use super::{Change, Document, Entry, Ledger, LedgerError, Reported};
use chrono::{DateTime, FixedOffset};
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a second `run` waits for the lock by default.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(30);

/// How often a waiting `run` tries the lock again.
const LOCK_POLL: Duration = Duration::from_millis(50);

/// A ledger in a local JSON file.
#[derive(Debug)]
pub struct FileLedger {
    path: PathBuf,
    content: Document,
    /// The open lock file while this process holds the lock.
    lock: Option<File>,
    lock_wait: Duration,
    /// The audit history beside it (`NAME.history.json`, see [`super::history`]).
    progress: crate::plan::progress::Progress,
}

impl FileLedger {
    /// Opens the ledger at `path` holding its lock, waiting up to [`DEFAULT_LOCK_WAIT`] for
    /// another writer; a missing file is an empty ledger. Blocks the calling thread while
    /// waiting (use `spawn_blocking` inside a runtime).
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        Self::open_waiting(path, DEFAULT_LOCK_WAIT)
    }

    /// [`FileLedger::open`], waiting at most `lock_wait` for the lock.
    pub fn open_waiting(path: &Path, lock_wait: Duration) -> Result<Self, LedgerError> {
        let lock = acquire(path, lock_wait)?;
        let content = read(path)?;
        let progress = super::history::read_file(&super::history::file_path(path))?;
        Ok(Self {
            path: path.to_path_buf(),
            content,
            lock: Some(lock),
            lock_wait,
            progress,
        })
    }

    /// Reads the ledger without taking the lock, for inspection only: every write takes the
    /// lock first.
    pub fn read_only(path: &Path) -> Result<Self, LedgerError> {
        Ok(Self {
            path: path.to_path_buf(),
            content: read(path)?,
            lock: None,
            lock_wait: DEFAULT_LOCK_WAIT,
            progress: super::history::read_file(&super::history::file_path(path))?,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The lock file guarding `path`.
    pub fn lock_path(path: &Path) -> PathBuf {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        path.with_file_name(name)
    }

    /// Takes the lock (when not held) and re-reads the file.
    async fn lock_and_reload(&mut self) -> Result<(), LedgerError> {
        if self.lock.is_some() {
            return Ok(());
        }
        let (path, wait) = (self.path.clone(), self.lock_wait);
        let (lock, content, progress) = tokio::task::spawn_blocking(move || {
            let lock = acquire(&path, wait)?;
            let progress = super::history::read_file(&super::history::file_path(&path))?;
            Ok::<_, LedgerError>((lock, read(&path)?, progress))
        })
        .await
        .map_err(|e| self.write_error(std::io::Error::other(e)))??;
        self.lock = Some(lock);
        self.content = content;
        self.progress = progress;
        Ok(())
    }

    fn write_error(&self, source: std::io::Error) -> LedgerError {
        LedgerError::Write {
            path: self.path.clone(),
            source,
        }
    }

    /// Applies `change` and makes it durable; returns how many entries a prune dropped.
    async fn write(&mut self, change: Change) -> Result<usize, LedgerError> {
        self.lock_and_reload().await?;
        let mut next = self.content.clone();
        let dropped = change.apply(&mut next);
        if next == self.content {
            return Ok(0);
        }
        let bytes = serde_json::to_vec_pretty(&next)
            .map_err(|e| self.write_error(std::io::Error::other(e)))?;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || write_atomically(&path, &bytes))
            .await
            .map_err(|e| self.write_error(std::io::Error::other(e)))?
            .map_err(|e| self.write_error(e))?;
        self.content = next;
        Ok(dropped)
    }
}

/// Reads the document at `path`; a missing file is an empty ledger.
fn read(path: &Path) -> Result<Document, LedgerError> {
    match std::fs::read(path) {
        Ok(bytes) => Document::parse(&bytes).map_err(|message| LedgerError::Corrupt {
            path: path.to_path_buf(),
            message,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Document::default()),
        Err(source) => Err(LedgerError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Takes the exclusive lock on `path`'s lock file, waiting at most `wait`; then writes who holds
/// it into the lock file, for the next one who waits.
fn acquire(path: &Path, wait: Duration) -> Result<File, LedgerError> {
    let lock_path = FileLedger::lock_path(path);
    let err = |source| LedgerError::Write {
        path: lock_path.clone(),
        source,
    };
    if let Some(dir) = lock_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(err)?;
    let started = Instant::now();
    let mut told = false;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = holder(&lock_path);
                if started.elapsed() >= wait {
                    return Err(LedgerError::Locked {
                        path: path.to_path_buf(),
                        holder,
                        waited_s: wait.as_secs(),
                    });
                }
                if !told {
                    told = true;
                    eprintln!(
                        "Blocking waiting for file lock on {} (held by {holder}; giving up after {}s)",
                        lock_path.display(),
                        wait.as_secs()
                    );
                    tracing::info!(lock = %lock_path.display(), %holder, "waiting for the ledger lock");
                }
                std::thread::sleep(LOCK_POLL);
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(err(e)),
        }
    }
    // Who holds it now: best effort, the lock itself is what counts.
    let me = format!(
        "pid {} since {}",
        std::process::id(),
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
    );
    let _ = file.set_len(0);
    let _ = file.write_all(me.as_bytes());
    let _ = file.flush();
    remove_stale_temporaries(path);
    Ok(file)
}

/// Removes temporary files a killed writer left behind: under the lock nobody else writes, so
/// every `.NAME.*.tmp` beside the ledger is stale.
fn remove_stale_temporaries(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = format!(".{name}.");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(|e| e.ok()) {
        let file = e.file_name().to_string_lossy().to_string();
        if file.starts_with(&prefix) && file.ends_with(".tmp") {
            tracing::info!(file = %file, "removing a temporary ledger file left by an interrupted write");
            let _ = std::fs::remove_file(e.path());
        }
    }
}

fn holder(lock_path: &Path) -> String {
    std::fs::read_to_string(lock_path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "another process".to_string())
}

/// A name no other process or write uses: pid and a random number.
fn temp_name(path: &Path) -> PathBuf {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("ledger");
    path.with_file_name(format!(
        ".{name}.{}.{:016x}.tmp",
        std::process::id(),
        h.finish()
    ))
}

/// Replaces `path` with `bytes`: temporary file, fsync, rename, fsync of the directory. The
/// temporary file is removed when anything fails.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = temp_name(path);
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result?;
    // Make the rename itself durable.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

impl Ledger for FileLedger {
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
        self.write(Change::MarkReported(items)).await.map(|_| ())
    }

    async fn prune(&mut self, now: DateTime<FixedOffset>) -> Result<usize, LedgerError> {
        self.write(Change::Prune(now)).await
    }

    async fn refresh(&mut self) -> Result<(), LedgerError> {
        self.lock_and_reload().await
    }

    fn release(&mut self) {
        self.lock = None;
    }

    fn progress(&self) -> Option<&crate::plan::progress::Progress> {
        Some(&self.progress)
    }

    async fn record_progress(
        &mut self,
        measured: &crate::plan::progress::Measurement,
        keep_days: u32,
    ) -> Result<(), LedgerError> {
        self.lock_and_reload().await?;
        let mut next = self.progress.clone();
        next.record(measured, keep_days);
        if next == self.progress {
            return Ok(());
        }
        super::history::write_file(&super::history::file_path(&self.path), &next).await?;
        self.progress = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deliver::ledger::State;

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
            due: None,
        }
    }

    #[tokio::test]
    async fn survives_reopen_and_prunes_old_entries() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("state/ledger.json");
        let mut l = FileLedger::open(&path).expect("new");
        l.put(entry("a", "2026-01-01T00:00:00Z"))
            .await
            .expect("put");
        l.put(entry("b", "2026-12-01T00:00:00Z"))
            .await
            .expect("put");
        drop(l);
        let mut l = FileLedger::open(&path).expect("reopen");
        assert_eq!(l.get("a").map(|e| e.state), Some(State::Sent));
        let now = DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z").expect("now");
        assert_eq!(l.prune(now).await.expect("prune"), 1);
        drop(l);
        let l = FileLedger::open(&path).expect("reopen");
        assert!(l.get("a").is_none() && l.get("b").is_some());
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().expect("dir"))
            .expect("list")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn temporary_files_left_by_a_killed_writer_are_removed_under_the_lock() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("ledger.json");
        let stale = dir.path().join(".ledger.json.12345.00000000deadbeef.tmp");
        std::fs::write(&stale, "half").expect("write");
        let other = dir.path().join(".other.json.1.2.tmp");
        std::fs::write(&other, "not ours").expect("write");
        let _l = FileLedger::open(&path).expect("open");
        assert!(!stale.exists());
        assert!(other.exists());
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

    #[test]
    fn a_second_writer_waits_a_bounded_time_and_names_the_holder() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("ledger.json");
        let first = FileLedger::open(&path).expect("first");
        let started = Instant::now();
        let err = FileLedger::open_waiting(&path, Duration::from_millis(300)).expect_err("locked");
        assert!(started.elapsed() >= Duration::from_millis(300));
        let text = err.to_string();
        assert!(
            text.contains("in use by another forewarn")
                && text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        drop(first);
        FileLedger::open_waiting(&path, Duration::from_millis(300)).expect("free again");
    }

    #[test]
    fn a_version_1_file_loads_and_its_reported_causes_become_pairs() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("ledger.json");
        std::fs::write(
            &path,
            r##"{"version":1,"entries":{
              "a":{"id":"a","state":"failed","destination":"#x","error":"channel_not_found",
                   "at":"2026-12-01T09:00:00+01:00","enforce_at":"2026-12-08T00:00:00+01:00"},
              "b":{"id":"b","state":"sent","destination":"#y","channel":"C1","ts":"1.2",
                   "at":"2026-12-01T09:00:00+01:00","enforce_at":"2026-12-08T00:00:00+01:00"}},
              "reported":["channel_not_found"]}"##,
        )
        .expect("write");
        let l = FileLedger::open(&path).expect("v1 loads");
        assert!(l.reported("a", "channel_not_found"));
        assert!(!l.reported("b", "channel_not_found"));
        assert_eq!(l.get("b").map(|e| e.state), Some(State::Sent));
    }
}
