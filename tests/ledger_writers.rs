//! Two ConfigMap-ledger writers at the same moment against the shared fake Kubernetes API
//! (`tests/common/fake_kube.rs`), which refuses stale writes with 409 like the real API: every
//! write of both survives, conflicts were met and resolved, and of two writers racing to
//! record the same notice exactly one wins — so only one of them would send it.

mod common;

use chrono::DateTime;
use common::fake_kube::FakeKube;
use forewarn::deliver::ledger::configmap::{ConfigMapLedger, DATA_KEY};
use forewarn::deliver::ledger::{Entry, Ledger, State};
use serde_json::Value;

const NS: &str = "forewarn";
const CM: &str = "forewarn-ledger";

fn entry(id: &str, destination: &str) -> Entry {
    let t = DateTime::parse_from_rfc3339("2026-12-01T08:00:00Z").expect("time");
    Entry {
        id: id.into(),
        state: State::Pending,
        destination: destination.into(),
        channel: None,
        ts: None,
        error: None,
        at: t,
        enforce_at: DateTime::parse_from_rfc3339("2026-12-20T00:00:00Z").expect("time"),
        due: None,
    }
}

/// Records 15 notices of its own and tries to claim 15 shared ones; returns the claimed ones.
async fn writer(mut ledger: ConfigMapLedger, who: &'static str) -> Vec<String> {
    let mut claimed = Vec::new();
    for i in 0..15 {
        ledger
            .put(entry(&format!("{who}/{i}"), who))
            .await
            .expect("an entry nobody else writes always goes through");
        let shared = format!("shared/{i}");
        if ledger.get(&shared).is_none() && ledger.put(entry(&shared, who)).await.is_ok() {
            claimed.push(shared);
        }
    }
    claimed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_configmap_writers_lose_nothing_and_never_both_claim_a_notice() {
    let fake = FakeKube::start(&[]).await;
    let a = ConfigMapLedger::open(fake.client(), NS, CM)
        .await
        .expect("open a");
    let b = ConfigMapLedger::open(fake.client(), NS, CM)
        .await
        .expect("open b");
    let (ta, tb) = (tokio::spawn(writer(a, "a")), tokio::spawn(writer(b, "b")));
    let (won_a, won_b) = (ta.await.expect("task a"), tb.await.expect("task b"));

    let cm = fake.configmap(NS, CM).expect("created");
    let doc: Value =
        serde_json::from_str(cm["data"][DATA_KEY].as_str().expect("ledger.json")).expect("json");
    let entries = doc["entries"].as_object().expect("entries");
    for who in ["a", "b"] {
        for i in 0..15 {
            assert!(
                entries.contains_key(&format!("{who}/{i}")),
                "{who}/{i} lost"
            );
        }
    }
    // Each shared notice is recorded once, by the writer that claimed it.
    assert_eq!(won_a.len() + won_b.len(), 15, "a: {won_a:?}, b: {won_b:?}");
    for id in &won_a {
        assert_eq!(entries[id]["destination"], "a", "{id}");
    }
    for id in &won_b {
        assert_eq!(entries[id]["destination"], "b", "{id}");
    }
    assert!(fake.conflicts() > 0, "the writers did collide");
    let reopened = ConfigMapLedger::open(fake.client(), NS, CM)
        .await
        .expect("reopen");
    assert_eq!(reopened.entries().len(), 45);
}
