//! Exactly once under faults: the real binary (`forewarn run --once`) against a fake Slack that
//! loses answers after posting, closes connections, hangs, answers 5xx, HTML and 429, on seeded
//! random schedules; with crashes of the process at random points and two processes on one
//! ledger file. After every schedule, repeated `run --once` on a recovered Slack delivers every
//! due notice exactly once — asserted on what the fake Slack recorded, by the notice ids in each
//! message's metadata (the heads-ups for one channel are batched into one message, so a lost
//! answer or a crash leaves several notices pending on one post, each reconciled by its id).
//!
//! Short limits keep it fast: requests time out after 250 ms, a tick gives up after 2 s, the
//! channel pace is 10 ms, retries start at 50 ms. `FOREWARN_FAULT_SEEDS=N` runs more seeds
//! (default 10; a failing schedule is replayed by its seed).

mod common;

use common::fake_slack::{FakeSlack, Rng};
use common::root;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Monday 7 December 2026, 09:00 in Berlin: 18 notices are due on the example cluster (data's
/// sandbox stays in Audit after the flip of disallow-latest-tag: nothing to announce there).
const MONDAY: &str = "2026-12-07T09:00:00+01:00";

/// The example config with short delivery limits.
fn config(dir: &Path, lock_wait: &str) -> PathBuf {
    let text = std::fs::read_to_string(root().join("config/forewarn.yaml")).expect("config");
    let path = dir.join("forewarn.yaml");
    std::fs::write(
        &path,
        format!(
            "{text}\ndelivery:\n  request-timeout: 250ms\n  tick-deadline: 2s\n  lock-wait: {lock_wait}\n  channel-pace: 10ms\n  retry-backoff: 50ms\n"
        ),
    )
    .expect("write config");
    path
}

fn command(slack: &FakeSlack, config: &Path, state: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_forewarn"));
    c.args([
        "run",
        "--once",
        "--snapshot",
        "examples/cluster",
        "--now",
        MONDAY,
    ])
    .arg("--config")
    .arg(config)
    .arg("--state")
    .arg(state)
    .current_dir(root())
    .env("SLACK_BOT_TOKEN", "xoxb-fake")
    .env_remove("SLACK_BOT_TOKEN_FILE")
    .env("SLACK_API_URL", slack.api_url())
    .env("FOREWARN_LOG", "warn")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    c
}

fn spawn(slack: &FakeSlack, config: &Path, state: &Path) -> Child {
    command(slack, config, state)
        .spawn()
        .expect("spawn forewarn")
}

fn wait(child: Child) -> Output {
    child.wait_with_output().expect("wait")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The notices due at [`MONDAY`]: what a healthy Slack receives from one clean run.
fn expected_ids() -> Vec<String> {
    static IDS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    IDS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("dir");
        let slack = FakeSlack::start(0);
        let cfg = config(dir.path(), "5s");
        let o = wait(spawn(&slack, &cfg, &dir.path().join("ledger.json")));
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let ids: Vec<String> = slack.counts().into_keys().collect();
        assert_eq!(ids.len(), 23, "{ids:?}");
        // Batched: the heads-ups for one channel share a message (13 posts carry the 23), so
        // every schedule below loses, crashes and reconciles batched messages too.
        assert_eq!(slack.posted().len(), 13);
        assert!(slack.posted().iter().any(|p| p.notice_ids.len() > 1));
        ids
    })
    .clone()
}

/// Every due notice exactly once, and nothing else but failure reports.
fn assert_exactly_once(slack: &FakeSlack, context: &str) {
    let counts: BTreeMap<String, usize> = slack
        .counts()
        .into_iter()
        .filter(|(id, _)| !id.starts_with("failure/"))
        .collect();
    let expected = expected_ids();
    let dupes: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        dupes.is_empty(),
        "{context}: posted more than once: {dupes:?}"
    );
    let missing: Vec<_> = expected
        .iter()
        .filter(|id| !counts.contains_key(*id))
        .collect();
    assert!(missing.is_empty(), "{context}: never posted: {missing:?}");
    assert_eq!(counts.len(), expected.len(), "{context}: {counts:?}");
}

#[test]
fn two_processes_on_one_ledger_file_post_every_notice_once() {
    let dir = tempfile::tempdir().expect("dir");
    let slack = FakeSlack::start(1);
    let cfg = config(dir.path(), "20s");
    let state = dir.path().join("ledger.json");
    let (a, b) = (spawn(&slack, &cfg, &state), spawn(&slack, &cfg, &state));
    let (a, b) = (wait(a), wait(b));
    assert_eq!(a.status.code(), Some(0), "{}", text(&a));
    assert_eq!(b.status.code(), Some(0), "{}", text(&b));
    assert_exactly_once(&slack, "two processes");
    // One of them waited for the other, and said so.
    let waited = [&a, &b]
        .iter()
        .any(|o| String::from_utf8_lossy(&o.stderr).contains("Blocking waiting for file lock"));
    assert!(waited, "{}\n{}", text(&a), text(&b));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_run_that_cannot_get_the_ledger_lock_sends_nothing_and_exits_2() {
    let dir = tempfile::tempdir().expect("dir");
    let slack = FakeSlack::start(2);
    let cfg = config(dir.path(), "300ms");
    let state = dir.path().join("ledger.json");
    let held = forewarn::deliver::ledger::FileLedger::open(&state).expect("hold the lock");
    let o = wait(spawn(&slack, &cfg, &state));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Blocking waiting for file lock"), "{err}");
    assert!(
        err.contains("in use by another forewarn")
            && err.contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    assert!(slack.posted().is_empty(), "nothing sent");
    drop(held);
}

/// A notice whose post lost its answer stays pending; without the history scope it is never
/// posted again, `run --once` exits 1 naming it, and the platform hears once which notices
/// could not be confirmed.
#[test]
fn without_history_scope_unknown_outcomes_stay_pending_and_are_reported_once() {
    use common::fake_slack::Fault;
    let dir = tempfile::tempdir().expect("dir");
    let slack = FakeSlack::start(3);
    slack.set_hang(Duration::from_millis(600));
    let cfg = config(dir.path(), "20s");
    let state = dir.path().join("ledger.json");
    // Every post is made, and every answer lost.
    slack.set_fault_kinds(
        &[
            Fault::PostThen503,
            Fault::PostThenClose,
            Fault::PostThenHtml,
            Fault::PostThenHang,
        ],
        &["chat.postMessage"],
    );
    slack.set_fault_percent(100);
    slack.set_history_scope(false);
    let first = wait(spawn(&slack, &cfg, &state));
    assert_eq!(first.status.code(), Some(1), "{}", text(&first));
    let err = String::from_utf8_lossy(&first.stderr);
    assert!(err.contains("23 pending"), "{err}");
    assert!(
        err.contains("pending: announce/") && err.contains("outcome unknown"),
        "{err}"
    );
    // 23 notices in 13 messages (the heads-ups for one channel share a post).
    assert_eq!(slack.counts().len(), 23);
    assert_eq!(slack.posted().len(), 13);
    // Slack recovers, but history stays closed: nothing is posted again, the platform is told
    // once.
    slack.set_fault_percent(0);
    for run in 0..3 {
        let o = wait(spawn(&slack, &cfg, &state));
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("unconfirmed: missing_scope"), "{err}");
        let reports: Vec<_> = slack
            .posted()
            .into_iter()
            .filter(|p| p.notice_id.starts_with("failure/"))
            .collect();
        assert_eq!(reports.len(), 1, "run {run}: {reports:?}");
    }
    let counts = slack.counts();
    assert!(
        counts
            .iter()
            .filter(|(id, _)| !id.starts_with("failure/"))
            .all(|(_, n)| *n == 1)
    );
    // With the scope granted, every pending notice is found and marked sent: exit 0, no
    // duplicate.
    slack.set_history_scope(true);
    let o = wait(spawn(&slack, &cfg, &state));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_exactly_once(&slack, "after the scope was granted");
}

/// A Slack that never answers holds a tick for about its deadline, not for minutes: what is
/// left stays pending (or unsent) for the next run, which exits 1.
#[test]
fn a_hanging_slack_holds_a_tick_only_until_its_deadline() {
    use common::fake_slack::Fault;
    let dir = tempfile::tempdir().expect("dir");
    let slack = FakeSlack::start(4);
    slack.set_hang(Duration::from_secs(20));
    let text_cfg = std::fs::read_to_string(root().join("config/forewarn.yaml")).expect("config");
    let cfg = dir.path().join("forewarn.yaml");
    std::fs::write(
        &cfg,
        format!("{text_cfg}\ndelivery:\n  request-timeout: 1s\n  tick-deadline: 3s\n  channel-pace: 10ms\n"),
    )
    .expect("write");
    let state = dir.path().join("ledger.json");
    slack.set_fault_kinds(&[Fault::Hang, Fault::PostThenHang], &[]);
    slack.set_fault_percent(100);
    let o = wait(spawn(&slack, &cfg, &state));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // Bounded by the settings, as the run reports it: each post waited at most the request
    // timeout (or what was left of the tick), and what the deadline left is not sent.
    let err = String::from_utf8_lossy(&o.stderr);
    for line in err
        .lines()
        .filter(|l| l.trim_start().starts_with("pending: "))
    {
        assert!(
            line.contains("outcome unknown: chat.postMessage: no answer within")
                || line.contains("not sent: tick deadline reached"),
            "{line}"
        );
    }
    assert!(err.contains("23 pending"), "{err}");
    // Slack recovers: the next runs deliver each notice once.
    slack.set_fault_percent(0);
    until_clean(&slack, &cfg, &state, "after the hang");
    assert_exactly_once(&slack, "after the hang");
}

/// 429 with `Retry-After: 3600` for everything: not waited for, nothing posted, exit 1 (never
/// "0 sent, exit 0"); once Slack lets it through, every notice goes out once.
#[test]
fn a_retry_after_beyond_the_deadline_leaves_notices_for_the_next_run() {
    use common::fake_slack::Fault;
    let dir = tempfile::tempdir().expect("dir");
    let slack = FakeSlack::start(5);
    let cfg = config(dir.path(), "20s");
    let state = dir.path().join("ledger.json");
    slack.set_fault_kinds(&[Fault::RateLimitedForAnHour], &[]);
    slack.set_fault_percent(100);
    let o = wait(spawn(&slack, &cfg, &state));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // Not waited for: the run says why it gave up on each post (no wall-clock bound here).
    assert!(
        text(&o).contains("rate limited for 3600s, longer than this tick can wait"),
        "{}",
        text(&o)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("0 sent") && err.contains("23 pending"),
        "{err}"
    );
    assert!(err.contains("not sent: Slack unavailable"), "{err}");
    assert!(slack.posted().is_empty());
    slack.set_fault_percent(0);
    until_clean(&slack, &cfg, &state, "after the rate limit");
    assert_exactly_once(&slack, "after the rate limit");
}

/// Runs `run --once` until it exits 0 (bounded), returning the outputs.
fn until_clean(slack: &FakeSlack, cfg: &Path, state: &Path, context: &str) -> Vec<Output> {
    let mut outs = Vec::new();
    for _ in 0..8 {
        let o = wait(spawn(slack, cfg, state));
        let code = o.status.code();
        outs.push(o);
        match code {
            Some(0) => return outs,
            Some(1) => continue,
            _ => panic!("{context}: {}", text(outs.last().expect("output"))),
        }
    }
    panic!(
        "{context}: still not clean after 8 runs on a healthy Slack:\n{}",
        outs.iter().map(text).collect::<Vec<_>>().join("\n---\n")
    );
}

fn seeds() -> u64 {
    std::env::var("FOREWARN_FAULT_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
}

/// For each seed: a few runs against a faulty Slack — some killed at a random moment, some two
/// at a time on the same ledger — then runs on a healthy Slack until one exits 0. Every due
/// notice is then in the channel exactly once.
#[test]
fn seeded_fault_schedules_deliver_every_notice_exactly_once() {
    let started = Instant::now();
    expected_ids();
    for seed in 1..=seeds() {
        let seed_started = Instant::now();
        let dir = tempfile::tempdir().expect("dir");
        let slack = FakeSlack::start(seed);
        slack.set_hang(Duration::from_millis(1500));
        let cfg = config(dir.path(), "20s");
        let state = dir.path().join("ledger.json");
        let mut rng = Rng::new(seed * 7919);
        slack.set_fault_percent(20 + rng.below(50));
        let mut log = Vec::new();
        for round in 0..(2 + rng.below(3)) {
            match rng.below(3) {
                0 => {
                    // A crash at a random point of the tick.
                    let mut child = spawn(&slack, &cfg, &state);
                    std::thread::sleep(Duration::from_millis(rng.below(900)));
                    let _ = child.kill();
                    let o = wait(child);
                    log.push(format!("round {round}: killed ({:?})", o.status.code()));
                }
                1 => {
                    let (a, b) = (spawn(&slack, &cfg, &state), spawn(&slack, &cfg, &state));
                    let (a, b) = (wait(a), wait(b));
                    for o in [&a, &b] {
                        assert!(
                            matches!(o.status.code(), Some(0 | 1)),
                            "seed {seed}: {}",
                            text(o)
                        );
                    }
                    log.push(format!(
                        "round {round}: two processes ({:?}, {:?})",
                        a.status.code(),
                        b.status.code()
                    ));
                }
                _ => {
                    let o = wait(spawn(&slack, &cfg, &state));
                    assert!(
                        matches!(o.status.code(), Some(0 | 1)),
                        "seed {seed}: {}",
                        text(&o)
                    );
                    log.push(format!("round {round}: one run ({:?})", o.status.code()));
                }
            }
        }
        // Slack recovers.
        slack.set_fault_percent(0);
        let context = format!(
            "seed {seed} ({}; faults {:?})",
            log.join(", "),
            slack.faults()
        );
        let recovery = until_clean(&slack, &cfg, &state, &context);
        assert_exactly_once(&slack, &context);
        eprintln!(
            "seed {seed}: {} faults, {} recovery run(s), {:?}",
            slack.faults().len(),
            recovery.len(),
            seed_started.elapsed()
        );
    }
    eprintln!("{} schedules in {:?}", seeds(), started.elapsed());
}
