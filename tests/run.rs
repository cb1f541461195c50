//! `forewarn run`: one tick at a time, what is due, the dry run, and the ledger across restarts.
//! The Slack side of these scenarios runs against a local fake Slack Web API in tests/delivery.rs.

mod common;

use common::{at, example_config, example_inventory, root};
use forewarn::deliver::ledger::{Entry, FileLedger, Ledger, State};
use forewarn::deliver::tick::due;
use forewarn::plan::plan;
use std::process::Command;

#[test]
fn after_downtime_only_the_latest_missed_milestone_is_due() {
    // forewarn was down from before T-14 (Mon 30 Nov) until Thursday 10 December: T-14 and T-7
    // were both missed; only T-7 goes out, once per team.
    let dir = tempfile::tempdir().expect("dir");
    let ledger = FileLedger::open(&dir.path().join("l.json")).expect("ledger");
    let planned = plan(
        std::slice::from_ref(&example_inventory()),
        &example_config(),
        at("2026-12-10T09:00:00+01:00"),
    );
    let ids: Vec<String> = due(&planned, &ledger)
        .into_iter()
        .filter(|n| n.policy == "require-run-as-nonroot")
        .map(|n| n.id.to_string())
        .collect();
    assert_eq!(
        ids,
        vec![
            "announce/require-run-as-nonroot/data/T-7",
            "announce/require-run-as-nonroot/payments/T-7",
            "announce/require-run-as-nonroot/platform/T-7",
            "announce/require-run-as-nonroot/storefront/T-7",
        ]
    );
}

#[tokio::test]
async fn what_the_ledger_holds_is_not_due_again() {
    let dir = tempfile::tempdir().expect("dir");
    let mut ledger = FileLedger::open(&dir.path().join("l.json")).expect("ledger");
    let now = at("2026-12-07T09:00:00+01:00");
    let planned = plan(
        std::slice::from_ref(&example_inventory()),
        &example_config(),
        now,
    );
    let first: Vec<String> = due(&planned, &ledger)
        .iter()
        .map(|n| n.id.to_string())
        .collect();
    assert!(first.contains(&"announce/require-run-as-nonroot/payments/T-7".to_string()));
    for (i, id) in first.iter().enumerate() {
        let state = if i % 2 == 0 {
            State::Sent
        } else {
            State::Failed
        };
        ledger
            .put(Entry {
                id: id.clone(),
                state,
                destination: "#x".into(),
                channel: None,
                ts: None,
                error: None,
                at: now,
                enforce_at: now,
                due: None,
            })
            .await
            .expect("put");
    }
    let reopened = FileLedger::read_only(&dir.path().join("l.json")).expect("reopen");
    assert!(due(&planned, &reopened).is_empty());
    // An hour later nothing new is due either.
    let later = plan(
        std::slice::from_ref(&example_inventory()),
        &example_config(),
        at("2026-12-07T10:00:00+01:00"),
    );
    assert!(due(&later, &reopened).is_empty());
}

/// `forewarn run --once` on the example on Monday 7 December, without a Slack token.
fn run_once_dry(state: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_forewarn"))
        .args(["run", "--once", "--snapshot", "examples/cluster"])
        .args(["--now", "2026-12-07T09:00:00+01:00", "--state"])
        .arg(state)
        .current_dir(root())
        .env_remove("SLACK_BOT_TOKEN")
        .env_remove("SLACK_BOT_TOKEN_FILE")
        .output()
        .expect("run")
}

#[test]
fn without_a_token_run_once_prints_and_records_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("ledger.json");
    let o = run_once_dry(&state);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains("announce/require-run-as-nonroot/payments/T-7 → #payments-dev (dry run"),
        "{out}"
    );
    assert!(
        out.contains("# Require runAsNonRoot will be enforced in 7 days"),
        "{out}"
    );
    assert!(
        !state.exists()
            || !std::fs::read_to_string(&state)
                .expect("read")
                .contains("announce/")
    );
}

#[test]
fn a_corrupt_ledger_is_named_and_never_reset() {
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("ledger.json");
    std::fs::write(&state, "{\"version\": 1, \"entries\": {").expect("write");
    let o = run_once_dry(&state);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("ledger.json is corrupt"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&state).expect("read"),
        "{\"version\": 1, \"entries\": {"
    );
}
