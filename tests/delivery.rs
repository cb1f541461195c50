//! `forewarn run` ticks on the example cluster against a local fake Slack Web API (wiremock on
//! 127.0.0.1): exactly-once delivery across ticks and restarts, Slack faults, reconciliation of
//! pending entries, and pacing per channel under paused time.

mod common;

use common::{at, example_config, root};
use forewarn::deliver::ledger::{Entry, FileLedger, Ledger, State};
use forewarn::deliver::slack::{Slack, SlackSettings, SlackToken};
use forewarn::deliver::tick::{Tick, TickOutcome};
use forewarn::inventory::snapshot::SnapshotSource;
use forewarn::render::Renderer;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Mutex;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Monday 7 December 2026, 09:00 in Berlin: T-7 of require-run-as-nonroot and more.
const MONDAY: &str = "2026-12-07T09:00:00+01:00";

/// A fake chat.postMessage: answers with a channel ID derived from the name, or with `error`
/// for the channel named in `refuse`.
struct FakePost {
    refuse: Option<(&'static str, &'static str)>,
    ts: AtomicUsize,
}

impl Respond for FakePost {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let channel = body["channel"].as_str().unwrap_or_default().to_string();
        if let Some((name, code)) = self.refuse
            && channel == name
        {
            return ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": code}));
        }
        let n = self.ts.fetch_add(1, Ordering::SeqCst) + 1;
        let ts = format!("1796000000.{n:06}");
        ResponseTemplate::new(200).set_body_json(json!({
            "ok": true,
            "channel": format!("C{}", channel.trim_start_matches('#').to_uppercase()),
            "ts": ts,
            "message": {"type": "message", "text": "", "ts": ts},
        }))
    }
}

async fn fake_slack(refuse: Option<(&'static str, &'static str)>) -> MockServer {
    common::init_tls();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(FakePost {
            refuse,
            ts: AtomicUsize::new(0),
        })
        .mount(&server)
        .await;
    server
}

fn slack(server: &MockServer) -> Slack {
    slack_at(&server.uri())
}

fn slack_at(uri: &str) -> Slack {
    let settings = SlackSettings {
        backoff_base: Duration::from_millis(1),
        request_timeout: None,
        ..SlackSettings::default()
    }
    .with_api_url(format!("{uri}/api"));
    Slack::new(SlackToken::new("xoxb-test"), settings).expect("client")
}

async fn run_tick(server: &MockServer, state: &Path, now: &str) -> TickOutcome {
    run_tick_on(&server.uri(), state, now).await
}

/// A tick against the Slack Web API at `uri` (which may be down).
async fn run_tick_on(uri: &str, state: &Path, now: &str) -> TickOutcome {
    let config = example_config();
    let renderer = Renderer::for_config(&config).expect("templates");
    let source = SnapshotSource::new(root().join("examples/cluster"));
    let ledger = Arc::new(Mutex::new(FileLedger::open(state).expect("ledger")));
    let (slack, stop) = (Arc::new(slack_at(uri)), Arc::new(AtomicBool::new(false)));
    Tick {
        source: &source,
        config: &config,
        renderer: &renderer,
        deliver: &slack,
        ledger: &ledger,
        stop: &stop,
        metrics: None,
        answers: None,
    }
    .run(at(now))
    .await
    .expect("tick")
}

/// The blocks (as JSON text) of every failure report posted.
async fn report_texts(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .expect("recording")
        .into_iter()
        .filter(|r| r.url.path() == "/api/chat.postMessage")
        .filter_map(|r| {
            let b: Value = serde_json::from_slice(&r.body).ok()?;
            let ids = common::notice_ids(&b);
            ids.first()?
                .starts_with("failure/")
                .then(|| b["blocks"].to_string())
        })
        .collect()
}

/// (channel, notice id) of every notice carried by the chat.postMessage requests received (a
/// batched message carries several, listed in `metadata.event_payload.notice_ids`).
async fn posts(server: &MockServer) -> Vec<(String, String)> {
    messages(server)
        .await
        .into_iter()
        .flat_map(|(channel, ids)| ids.into_iter().map(move |id| (channel.clone(), id)))
        .collect()
}

/// (channel, notice ids) of every chat.postMessage received, in order.
async fn messages(server: &MockServer) -> Vec<(String, Vec<String>)> {
    server
        .received_requests()
        .await
        .expect("recording")
        .into_iter()
        .filter(|r| r.url.path() == "/api/chat.postMessage")
        .map(|r| {
            let b: Value = serde_json::from_slice(&r.body).expect("json");
            let ids = common::notice_ids(&b);
            (b["channel"].as_str().unwrap_or_default().to_string(), ids)
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_tick_posts_exactly_the_due_notices_once_even_across_restarts() {
    let server = fake_slack(None).await;
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("ledger.json");

    let outcome = run_tick(&server, &state, MONDAY).await;
    let mut got = posts(&server).await;
    got.sort();
    // Monday's heads-ups, the weekly digests, the readiness warnings to the platform, and the
    // reminder about the data team's expiring exception (its T-14 was missed: caught up once).
    let expected = vec![
        // Gatekeeper: the dry-run constraint flips on 14 December (T-7).
        (
            "#data-eng",
            "announce/K8sRequiredLabels/workloads-need-cost-center/data/T-7",
        ),
        ("#data-eng", "announce/disallow-host-path/data/T-14"),
        // ValidatingAdmissionPolicy: the Audit binding flips on 21 December (T-14).
        ("#data-eng", "announce/min-replicas-all/data/T-14"),
        // (data's only disallow-latest-tag failure is in data-sandbox, which its override
        // keeps in Audit after the flip: nothing to announce there.)
        ("#data-eng", "announce/require-run-as-nonroot/data/T-7"),
        ("#data-eng", "digest/data/2026-12-07"),
        (
            "#data-eng",
            "reminder/data-warehouse/clickhouse-sizing-trial/data/T-14",
        ),
        (
            "#payments-dev",
            "announce/K8sRequiredLabels/workloads-need-cost-center/payments/T-7",
        ),
        // (payments' min-replicas failure is denied by its Deny binding already: not told.)
        (
            "#payments-dev",
            "announce/require-run-as-nonroot/payments/T-7",
        ),
        ("#payments-dev", "digest/payments/2026-12-07"),
        (
            "#platform-policy",
            "announce/disallow-latest-tag/platform/T-0",
        ),
        (
            "#platform-policy",
            "announce/require-run-as-nonroot/platform/T-7",
        ),
        ("#platform-policy", "digest/platform/2026-12-07"),
        ("#platform-policy", "readiness/disallow-latest-tag/T-3"),
        (
            "#platform-policy",
            "readiness/storefront-web/require-app-label/T-3",
        ),
        (
            "#search-oncall",
            "announce/disallow-latest-tag/#search-oncall/T-0",
        ),
        (
            "#search-oncall",
            "announce/min-replicas-all/#search-oncall/T-14",
        ),
        ("#search-oncall", "digest/#search-oncall/2026-12-07"),
        (
            "#storefront",
            "announce/K8sRequiredLabels/workloads-need-cost-center/storefront/T-7",
        ),
        ("#storefront", "announce/disallow-host-path/storefront/T-14"),
        ("#storefront", "announce/disallow-latest-tag/storefront/T-0"),
        (
            "#storefront",
            "announce/require-run-as-nonroot/storefront/T-7",
        ),
        (
            "#storefront",
            "announce/storefront-web/require-app-label/storefront/T-3",
        ),
        ("#storefront", "digest/storefront/2026-12-07"),
    ];
    let expected: Vec<(String, String)> = expected
        .into_iter()
        .map(|(a, b)| (a.into(), b.into()))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(outcome.sent.len(), expected.len());
    assert!(outcome.failed.is_empty());
    // One post per destination and tick for the heads-ups: #storefront's five arrive as one
    // message (the digest apart), soonest enforcement first.
    let sent = messages(&server).await;
    assert_eq!(sent.len(), 13, "{sent:?}");
    let storefront: Vec<&Vec<String>> = sent
        .iter()
        .filter(|(c, _)| c == "#storefront")
        .map(|(_, ids)| ids)
        .collect();
    assert_eq!(
        storefront,
        [
            &vec![
                "announce/disallow-latest-tag/storefront/T-0".to_string(),
                "announce/storefront-web/require-app-label/storefront/T-3".to_string(),
                "announce/K8sRequiredLabels/workloads-need-cost-center/storefront/T-7".to_string(),
                "announce/require-run-as-nonroot/storefront/T-7".to_string(),
                "announce/disallow-host-path/storefront/T-14".to_string(),
            ],
            &vec!["digest/storefront/2026-12-07".to_string()],
        ]
    );

    // The message itself: blocks and the text fallback.
    let requests = server.received_requests().await.expect("recording");
    let payments = requests
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.body).expect("json"))
        .find(|b| {
            b["channel"] == "#payments-dev"
                && common::notice_ids(b)
                    .iter()
                    .any(|i| i == "announce/require-run-as-nonroot/payments/T-7")
        })
        .expect("payments post");
    // Two heads-ups for Mon 14 Dec in one post, a header each (ties in id order).
    let headers: Vec<&str> = payments["blocks"]
        .as_array()
        .expect("blocks")
        .iter()
        .filter(|b| b["type"] == "header")
        .filter_map(|b| b["text"]["text"].as_str())
        .collect();
    assert_eq!(
        headers,
        [
            "Required labels will be enforced in 7 days",
            "Require runAsNonRoot will be enforced in 7 days"
        ]
    );
    assert!(
        payments["text"]
            .as_str()
            .expect("text")
            .contains("require-run-as-nonroot")
    );
    assert_eq!(payments["metadata"]["event_type"], "forewarn_notice");

    // The ledger holds every one as sent, with Slack's channel and ts.
    let ledger = FileLedger::read_only(&state).expect("reopen");
    let e = ledger
        .get("announce/require-run-as-nonroot/payments/T-7")
        .expect("entry");
    assert_eq!(e.state, State::Sent);
    assert_eq!(e.channel.as_deref(), Some("CPAYMENTS-DEV"));
    assert!(e.ts.is_some());

    // A second tick an hour later, and a restart (a fresh ledger handle on the same file), post
    // nothing new.
    let again = run_tick(&server, &state, "2026-12-07T10:00:00+01:00").await;
    assert_eq!(again.due, 0);
    let restarted = run_tick(&server, &state, MONDAY).await;
    assert_eq!(restarted.due, 0);
    assert_eq!(posts(&server).await.len(), expected.len());
}

#[tokio::test(start_paused = true)]
async fn one_refused_channel_does_not_stop_the_others_and_is_reported_once() {
    let server = fake_slack(Some(("#storefront", "channel_not_found"))).await;
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("ledger.json");

    let outcome = run_tick(&server, &state, MONDAY).await;
    assert_eq!(outcome.failed.len(), 6);
    assert!(
        outcome
            .failed
            .iter()
            .all(|(_, cause)| cause == "channel_not_found")
    );
    assert_eq!(outcome.sent.len(), 17);
    let ledger = FileLedger::read_only(&state).expect("reopen");
    let e = ledger
        .get("announce/require-run-as-nonroot/storefront/T-7")
        .expect("entry");
    assert_eq!(e.state, State::Failed);
    assert_eq!(e.error.as_deref(), Some("channel_not_found"));
    assert_eq!(
        ledger
            .get("announce/require-run-as-nonroot/payments/T-7")
            .map(|e| e.state),
        Some(State::Sent)
    );
    // The platform channel heard about it, once, in one message listing the six.
    let reports = |p: &Vec<(String, String)>| {
        p.iter()
            .filter(|(c, id)| id.starts_with("failure/") && c == "#platform-policy")
            .count()
    };
    assert_eq!(reports(&posts(&server).await), 1);
    assert_eq!(outcome.reported, 6);
    let report = report_texts(&server).await.pop().expect("report");
    assert!(
        report.contains("announce/require-run-as-nonroot/storefront/T-7")
            && report.contains("channel_not_found"),
        "{report}"
    );
    let ledger = FileLedger::read_only(&state).expect("reopen");
    assert!(ledger.reported(
        "announce/require-run-as-nonroot/storefront/T-7",
        "channel_not_found"
    ));
    // The next day's tick has nothing new to report.
    let again = run_tick(&server, &state, "2026-12-08T09:00:00+01:00").await;
    assert_eq!(again.reported, 0);
    assert_eq!(reports(&posts(&server).await), 1);
    // A week later another milestone to the same channel fails the same way: a new failure
    // (another notice), reported again.
    let later = run_tick(&server, &state, "2026-12-11T09:00:00+01:00").await;
    let new_failures: Vec<_> = later
        .failed
        .iter()
        .filter(|(id, _)| id.contains("storefront"))
        .collect();
    assert!(!new_failures.is_empty(), "{later:?}");
    assert_eq!(reports(&posts(&server).await), 2, "{later:?}");
}

#[tokio::test(start_paused = true)]
async fn a_rejected_token_marks_nothing_sent() {
    common::init_tls();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": "invalid_auth"})),
        )
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("ledger.json");
    let outcome = run_tick(&server, &state, MONDAY).await;
    assert!(
        outcome
            .stopped
            .as_deref()
            .unwrap_or("")
            .contains("invalid_auth"),
        "{outcome:?}"
    );
    assert!(outcome.sent.is_empty());
    let ledger = FileLedger::read_only(&state).expect("reopen");
    assert!(
        ledger.entries().iter().all(|e| e.state == State::Deferred),
        "nothing sent, all deferred to when the token works: {:?}",
        ledger.entries()
    );
    // Stopped at once: no retry storm (one post per channel at most).
    assert!(messages(&server).await.len() <= 5);
}

#[tokio::test(start_paused = true)]
async fn pending_entries_are_reconciled_with_the_channel_history() {
    let server = fake_slack(None).await;
    let found = "announce/require-run-as-nonroot/payments/T-7";
    let lost = "announce/require-run-as-nonroot/data/T-7";
    // The ledger knows channel names; Slack's history wants IDs.
    Mock::given(method("GET"))
        .and(path("/api/conversations.list"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ok": true,
            "channels": [
                {"id": "CPAYMENTS", "name": "payments-dev"},
                {"id": "CDATA", "name": "data-eng"},
            ],
            "response_metadata": {"next_cursor": ""},
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/conversations.history"))
        .and(query_param("channel", "CDATA"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": true, "has_more": false, "messages": []})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/conversations.history"))
        .and(query_param("channel", "CPAYMENTS"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ok": true, "has_more": false,
            "messages": [{
                "type": "message", "text": "x", "ts": "1796000000.000777",
                "metadata": {"event_type": "forewarn_notice", "event_payload": {"notice_id": found}}
            }]
        })))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("ledger.json");
    {
        // A crash between the ledger write and Slack's answer left two notices pending.
        let mut ledger = FileLedger::open(&state).expect("ledger");
        for (id, dest) in [(found, "#payments-dev"), (lost, "#data-eng")] {
            ledger
                .put(Entry {
                    id: id.into(),
                    state: State::Pending,
                    destination: dest.into(),
                    channel: None,
                    ts: None,
                    error: None,
                    at: at(MONDAY),
                    enforce_at: at("2026-12-14T00:00:00+01:00"),
                    due: None,
                })
                .await
                .expect("put");
        }
    }
    let outcome = run_tick(&server, &state, MONDAY).await;
    assert_eq!(outcome.reconciled, 2);
    let sent: Vec<String> = posts(&server).await.into_iter().map(|(_, id)| id).collect();
    assert!(
        !sent.contains(&found.to_string()),
        "found in history: not resent"
    );
    assert_eq!(
        sent.iter().filter(|id| *id == lost).count(),
        1,
        "not in history: sent once"
    );
    let ledger = FileLedger::read_only(&state).expect("reopen");
    let e = ledger.get(found).expect("entry");
    assert_eq!(
        (e.state, e.ts.as_deref()),
        (State::Sent, Some("1796000000.000777"))
    );
    assert_eq!(ledger.get(lost).map(|e| e.state), Some(State::Sent));
}

#[tokio::test(start_paused = true)]
async fn pacing_is_per_channel_and_channels_do_not_wait_for_each_other() {
    let server = fake_slack(None).await;
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("ledger.json");
    let started = tokio::time::Instant::now();
    run_tick(&server, &state, MONDAY).await;
    let elapsed = started.elapsed();
    // The longest queue (#platform-policy: its heads-ups in one message, the digest, two
    // readiness notices) holds 4 messages: three one-second gaps on the (paused, virtual)
    // clock. Whether channels wait for each other is decided by the order below, not by a
    // time bound: the fake Slack's real sockets can let the paused clock run ahead while a
    // request is in flight.
    assert!(elapsed >= Duration::from_secs(3), "{elapsed:?}");
    // Every channel's first message goes out before #platform-policy's second one.
    let order = messages(&server).await;
    let second_platform = order
        .iter()
        .enumerate()
        .filter(|(_, (c, _))| c == "#platform-policy")
        .nth(1)
        .map(|(i, _)| i)
        .expect("two platform posts");
    let channels_before: std::collections::BTreeSet<&str> = order[..second_platform]
        .iter()
        .map(|(c, _)| c.as_str())
        .collect();
    assert_eq!(channels_before.len(), 5, "{order:?}");
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_between_messages_and_loses_nothing() {
    let server = fake_slack(None).await;
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("ledger.json");
    let config = example_config();
    let renderer = Renderer::for_config(&config).expect("templates");
    let source = SnapshotSource::new(root().join("examples/cluster"));
    let ledger = Arc::new(Mutex::new(FileLedger::open(&state).expect("ledger")));
    let stop = Arc::new(AtomicBool::new(false));
    let slack = Arc::new(slack(&server));
    // SIGTERM arrives half a second into the tick: each channel's first message is in flight or
    // done; nothing after it is started.
    let signal = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        stop.store(true, Ordering::SeqCst);
    };
    let tick = Tick {
        source: &source,
        config: &config,
        renderer: &renderer,
        deliver: &slack,
        ledger: &ledger,
        stop: &stop,
        metrics: None,
        answers: None,
    };
    let (outcome, ()) = tokio::join!(tick.run(at(MONDAY)), signal);
    let outcome = outcome.expect("tick");
    assert_eq!(outcome.stopped.as_deref(), Some("shutdown"));
    let sent = messages(&server).await;
    assert_eq!(sent.len(), 5, "one per channel: {sent:?}");
    // Everything posted — every notice of each message — is recorded as sent; nothing is
    // left half-done.
    let carried = posts(&server).await.len();
    assert_eq!(outcome.sent.len(), carried);
    drop(ledger);
    let ledger = FileLedger::read_only(&state).expect("reopen");
    assert_eq!(ledger.entries().len(), carried);
    assert!(ledger.entries().iter().all(|e| e.state == State::Sent));
    // The next run sends the rest, and only the rest.
    let rest = run_tick(&server, &state, MONDAY).await;
    assert_eq!(rest.sent.len(), 23 - carried);
    assert_eq!(posts(&server).await.len(), 23);
}

/// Only the leader delivers: `run_loop` with a schedule that ticks every second, a leadership
/// signal the test controls, and a cluster written here whose only milestone is already due
/// (so the test does not depend on today's date).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_delivers() {
    use forewarn::deliver::tick::run_loop;
    use std::str::FromStr;
    let server = fake_slack(None).await;
    let dir = tempfile::tempdir().expect("dir");
    let enforce = (chrono::Utc::now() + chrono::Duration::days(10))
        .format("%Y-%m-%d")
        .to_string();
    let cluster = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: web, annotations: {{forewarn.dev/owner: storefront}}}}\n---\n\
apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: p\n  annotations: {{forewarn.dev/enforce-on: '{enforce}'}}\nspec:\n  rules:\n  - name: r\n    validate: {{message: m}}\n---\n\
apiVersion: wgpolicyk8s.io/v1alpha2\nkind: PolicyReport\nmetadata: {{name: a, namespace: web}}\nscope: {{kind: Pod, name: x, namespace: web}}\nresults:\n- {{policy: p, rule: r, result: fail}}\n"
    );
    std::fs::write(dir.path().join("cluster.yaml"), cluster).expect("write");
    let mut config = example_config();
    config.schedule = cron::Schedule::from_str("* * * * * *").expect("cron");
    config.milestones = vec![14];
    // Only the heads-up: no digest this week.
    config.digest_schedule = cron::Schedule::from_str("0 0 9 1 1 * 2099").expect("cron");
    let renderer = Renderer::for_config(&config).expect("templates");
    let source = SnapshotSource::new(dir.path());
    let ledger = Arc::new(Mutex::new(
        FileLedger::open(&dir.path().join("ledger.json")).expect("ledger"),
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let slack = Arc::new(slack(&server));
    let (leader_tx, leader_rx) = tokio::sync::watch::channel(false);
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    };
    let tick = Tick {
        source: &source,
        config: &config,
        renderer: &renderer,
        deliver: &slack,
        ledger: &ledger,
        stop: &stop,
        metrics: None,
        answers: None,
    };
    let daemon = run_loop(tick, Some(leader_rx), shutdown);
    let test = async {
        // A follower lets several ticks pass without sending anything.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert!(
            posts(&server).await.is_empty(),
            "a follower must not deliver"
        );
        // Once it leads, the due notice goes out, once.
        leader_tx.send_replace(true);
        let mut sent = Vec::new();
        for _ in 0..100 {
            sent = posts(&server).await;
            if !sent.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        stop_tx.send_replace(true);
        sent
    };
    let (result, sent) = tokio::join!(daemon, test);
    result.expect("daemon");
    assert_eq!(
        sent,
        vec![(
            "#storefront".to_string(),
            "announce/p/storefront/T-14".to_string()
        )]
    );
    assert_eq!(
        posts(&server).await.len(),
        1,
        "sent once across later ticks"
    );
}

/// A policy flipped to Enforce between two ticks — without any enforcement date — tells the
/// teams whose resources still fail it, once.
#[tokio::test(start_paused = true)]
async fn a_flip_seen_between_two_ticks_is_followed_up_once() {
    use std::str::FromStr;
    let server = fake_slack(None).await;
    let dir = tempfile::tempdir().expect("dir");
    let write = |mode: &str| {
        let cluster = format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: web, annotations: {{forewarn.dev/owner: storefront}}}}\n---\n\
apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {{name: no-host-network}}\nspec:\n  validationFailureAction: {mode}\n  rules:\n  - name: r\n    validate: {{message: m}}\n---\n\
apiVersion: wgpolicyk8s.io/v1alpha2\nkind: PolicyReport\nmetadata: {{name: a, namespace: web}}\nscope: {{kind: Deployment, name: cart, namespace: web}}\nresults:\n- {{policy: no-host-network, rule: r, result: fail, message: 'hostNetwork is set'}}\n"
        );
        std::fs::write(dir.path().join("cluster.yaml"), cluster).expect("write");
    };
    let mut config = example_config();
    config.digest_schedule = cron::Schedule::from_str("0 0 9 1 1 * 2099").expect("cron");
    let renderer = Renderer::for_config(&config).expect("templates");
    let source = SnapshotSource::new(dir.path());
    let ledger = Arc::new(Mutex::new(
        FileLedger::open(&dir.path().join("ledger.json")).expect("ledger"),
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let slack = Arc::new(slack(&server));
    let modes = Mutex::new(None);
    let tick = Tick {
        source: &source,
        config: &config,
        renderer: &renderer,
        deliver: &slack,
        ledger: &ledger,
        stop: &stop,
        metrics: None,
        answers: None,
    };
    let run = |now: &'static str| tick.run_with(at(now), Some(&modes));

    write("Audit");
    assert!(
        run("2026-12-08T09:00:00+01:00")
            .await
            .expect("tick")
            .sent
            .is_empty()
    );
    write("Enforce");
    let outcome = run("2026-12-09T09:00:00+01:00").await.expect("tick");
    assert_eq!(
        outcome.sent,
        vec!["enforced/no-host-network/storefront".to_string()]
    );
    let sent = server.received_requests().await.expect("recording");
    let body: Value = serde_json::from_slice(&sent[0].body).expect("json");
    assert_eq!(body["channel"], "#storefront");
    let text = body["blocks"].to_string();
    assert!(text.contains("Now enforced: no-host-network"), "{text}");
    assert!(text.contains("Since *Wed 9 Dec 2026*"), "{text}");
    assert!(
        text.contains("`Deployment/cart`: hostNetwork is set"),
        "{text}"
    );
    // Later ticks: nothing more.
    assert!(
        run("2026-12-10T09:00:00+01:00")
            .await
            .expect("tick")
            .sent
            .is_empty()
    );
    assert_eq!(posts(&server).await.len(), 1);
}

/// A template that fails at render time for some notices: the others go out, the run is not
/// clean, and the platform hears once which notices could not be rendered.
#[tokio::test(start_paused = true)]
async fn render_failures_are_reported_once_and_the_rest_goes_out() {
    let server = fake_slack(None).await;
    let dir = tempfile::tempdir().expect("dir");
    let templates = dir.path().join("templates");
    std::fs::create_dir_all(&templates).expect("mkdir");
    let announce = std::fs::read_to_string(root().join("templates/announce.hbs")).expect("read");
    // Breaks only the seven-day heads-ups (strict mode: an unknown variable is an error).
    let broken = announce.replace(
        "{{!-- section: what_to_do --}}\n",
        "{{!-- section: what_to_do --}}\n{{#if (eq days_left 7)}}{{no_such_value}}{{/if}}",
    );
    assert_ne!(broken, announce);
    std::fs::write(templates.join("announce.hbs"), broken).expect("write");
    let mut config = example_config();
    config.templates = Some(templates);
    let renderer = Renderer::for_config(&config).expect("templates compile");
    let source = SnapshotSource::new(root().join("examples/cluster"));
    let state = dir.path().join("ledger.json");
    let ledger = Arc::new(Mutex::new(FileLedger::open(&state).expect("ledger")));
    let (slack, stop) = (Arc::new(slack(&server)), Arc::new(AtomicBool::new(false)));
    let tick = Tick {
        source: &source,
        config: &config,
        renderer: &renderer,
        deliver: &slack,
        ledger: &ledger,
        stop: &stop,
        metrics: None,
        answers: None,
    };
    let outcome = tick.run(at(MONDAY)).await.expect("tick");
    let broken: Vec<&String> = outcome
        .failed
        .iter()
        .filter(|(_, r)| r == "render_error")
        .map(|(id, _)| id)
        .collect();
    assert!(!broken.is_empty(), "{outcome:?}");
    assert!(broken.iter().all(|id| id.ends_with("/T-7")), "{broken:?}");
    assert!(!outcome.sent.is_empty());
    assert!(!outcome.is_clean());
    assert_eq!(outcome.reported, broken.len());
    let report = report_texts(&server).await.pop().expect("one report");
    assert!(
        report.contains("render_error") && report.contains(broken[0].as_str()),
        "{report}"
    );
    // Next tick: the same notices fail the same way; nothing new to report.
    let again = tick
        .run(at("2026-12-07T10:00:00+01:00"))
        .await
        .expect("tick");
    assert_eq!(again.failed.len(), broken.len(), "{again:?}");
    assert_eq!(again.reported, 0);
    assert_eq!(report_texts(&server).await.len(), 1);
}

/// A pending notice whose channel cannot be resolved (not listed: private without
/// `groups:read`, or gone) is never sent again blindly; the platform hears once.
#[tokio::test(start_paused = true)]
async fn a_pending_notice_in_an_unresolvable_channel_stays_pending_and_is_reported_once() {
    let server = fake_slack(None).await;
    Mock::given(method("GET"))
        .and(path("/api/conversations.list"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ok": true,
            "channels": [{"id": "CPAYMENTS", "name": "payments-dev"}],
            "response_metadata": {"next_cursor": ""},
        })))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("ledger.json");
    let id = "announce/require-run-as-nonroot/data/T-7";
    {
        let mut ledger = FileLedger::open(&state).expect("ledger");
        ledger
            .put(Entry {
                id: id.into(),
                state: State::Pending,
                destination: "#data-eng".into(),
                channel: None,
                ts: None,
                error: None,
                at: at(MONDAY),
                enforce_at: at("2026-12-14T00:00:00+01:00"),
                due: None,
            })
            .await
            .expect("put");
    }
    let first = run_tick(&server, &state, MONDAY).await;
    assert!(
        first
            .pending
            .iter()
            .any(|(p, why)| p == id && why == "unconfirmed: channel_not_found"),
        "{first:?}"
    );
    assert_eq!(first.reported, 1);
    let second = run_tick(&server, &state, "2026-12-07T10:00:00+01:00").await;
    assert_eq!(second.reported, 0);
    assert!(!second.is_clean());
    let sent: Vec<String> = posts(&server).await.into_iter().map(|(_, i)| i).collect();
    assert!(!sent.contains(&id.to_string()), "never sent blindly");
    assert_eq!(report_texts(&server).await.len(), 1);
    let ledger = FileLedger::read_only(&state).expect("reopen");
    assert_eq!(ledger.get(id).map(|e| e.state), Some(State::Pending));
}

/// Slack is down for the whole Monday tick: every notice due is recorded as deferred. At the
/// next tick (Wednesday) a deferred notice that is still the latest of its thread goes out
/// late; one a later milestone replaced (T-3 → T-1 of require-app-label) is never sent; both
/// are recorded and told to the platform channel once.
#[tokio::test(start_paused = true)]
async fn a_notice_missed_on_its_day_is_sent_late_or_superseded_and_the_platform_hears_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("ledger.json");
    // Nothing listens: every request is refused, so nothing can have been posted.
    let down = {
        let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", free.local_addr().expect("address"))
    };
    let monday = run_tick_on(&down, &state, MONDAY).await;
    assert!(monday.sent.is_empty(), "{monday:?}");
    let t3 = "announce/storefront-web/require-app-label/storefront/T-3";
    let t7 = "announce/require-run-as-nonroot/payments/T-7";
    {
        let l = FileLedger::read_only(&state).expect("ledger");
        for id in [t3, t7] {
            assert_eq!(l.get(id).map(|e| e.state), Some(State::Deferred), "{id}");
        }
    }

    let server = fake_slack(None).await;
    let wednesday = run_tick(&server, &state, "2026-12-09T09:00:00+01:00").await;
    let sent: Vec<(String, String)> = posts(&server).await;
    let ids: Vec<&str> = sent.iter().map(|(_, id)| id.as_str()).collect();
    assert!(ids.contains(&t7), "still due, sent late: {ids:?}");
    assert!(!ids.contains(&t3), "replaced by T-1, never sent: {ids:?}");
    assert!(ids.contains(&"announce/storefront-web/require-app-label/storefront/T-1"));
    assert!(wednesday.late.iter().any(|id| id == t7), "{wednesday:?}");
    assert!(
        wednesday.superseded.iter().any(|(id, why)| id == t3
            && why == "superseded by announce/storefront-web/require-app-label/storefront/T-1"),
        "{wednesday:?}"
    );
    let l = FileLedger::read_only(&state).expect("ledger");
    assert_eq!(l.get(t3).map(|e| e.state), Some(State::Superseded));
    assert_eq!(l.get(t7).map(|e| e.state), Some(State::Sent));

    let reports = report_texts(&server).await;
    assert_eq!(reports.len(), 1, "{reports:?}");
    let report = &reports[0];
    assert!(report.contains("missed their day"), "{report}");
    assert!(
        report.contains(&format!("`{t7}` — late: due Mon 7 Dec 09:00")),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "`{t3}` — superseded: due Mon 7 Dec 09:00, not delivered then; never sent: superseded by"
        )),
        "{report}"
    );

    // Told once: the next tick neither resends nor reports them again.
    let again = run_tick(&server, &state, "2026-12-09T09:00:00+01:00").await;
    assert!(again.sent.is_empty() && again.late.is_empty() && again.superseded.is_empty());
    assert_eq!(report_texts(&server).await.len(), 1);
}

/// A batched message whose answer was lost leaves every notice it carries pending; the next
/// tick finds the one message in the channel's history by each notice id it lists, marks every
/// one sent with that message's ts, and posts nothing again.
#[tokio::test(start_paused = true)]
async fn a_lost_batch_is_reconciled_notice_by_notice() {
    let server = fake_slack(None).await;
    // #storefront: Slack posts, but the answer is lost (503).
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .and(wiremock::matchers::body_partial_json(
            json!({"channel": "#storefront"}),
        ))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream"))
        .with_priority(1)
        .up_to_n_times(2)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("ledger.json");
    let first = run_tick(&server, &state, MONDAY).await;
    let batch = [
        "announce/disallow-latest-tag/storefront/T-0",
        "announce/storefront-web/require-app-label/storefront/T-3",
        "announce/require-run-as-nonroot/storefront/T-7",
        "announce/disallow-host-path/storefront/T-14",
    ];
    for id in batch {
        assert!(
            first.pending.iter().any(|(p, _)| p == id),
            "{id}: {:?}",
            first.pending
        );
    }
    // What Slack holds in #storefront: the two messages it received, as it received them.
    let held: Vec<Value> = messages(&server)
        .await
        .into_iter()
        .filter(|(c, _)| c == "#storefront")
        .enumerate()
        .map(|(i, (_, ids))| {
            json!({"type": "message", "text": "x", "ts": format!("1796000001.00000{i}"),
                   "metadata": {"event_type": "forewarn_notice", "event_payload": {"notice_ids": ids.join(" ")}}})
        })
        .collect();
    assert_eq!(
        held.len(),
        2,
        "the heads-ups in one message, the digest in another"
    );
    Mock::given(method("GET"))
        .and(path("/api/conversations.list"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ok": true,
            "channels": [{"id": "CSTOREFRONT", "name": "storefront"}],
            "response_metadata": {"next_cursor": ""},
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/conversations.history"))
        .and(query_param("channel", "CSTOREFRONT"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": true, "has_more": false, "messages": held})),
        )
        .mount(&server)
        .await;
    let before = messages(&server).await.len();

    let second = run_tick(&server, &state, "2026-12-07T10:00:00+01:00").await;
    assert_eq!(second.reconciled, 6, "{second:?}");
    assert_eq!(second.due, 0);
    assert_eq!(
        messages(&server).await.len(),
        before,
        "nothing posted again"
    );
    let ledger = FileLedger::read_only(&state).expect("reopen");
    for id in batch {
        let e = ledger.get(id).expect("entry");
        assert_eq!(
            (e.state, e.channel.as_deref(), e.ts.as_deref()),
            (State::Sent, Some("CSTOREFRONT"), Some("1796000001.000000")),
            "{id}"
        );
    }
}
