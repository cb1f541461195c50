//! The ConfigMap ledger and Lease leader election against a local fake Kubernetes API on
//! 127.0.0.1 that follows the real API's rules for ConfigMaps and Leases: 404 with a `Status`
//! for absent objects, create refused with 409 AlreadyExists, replace only with the current
//! `metadata.resourceVersion` (else 409 Conflict), a `resourceVersion` that grows on every
//! write, merge patches, and server-side apply refusing to take a field another manager holds
//! with a different value.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset};
use forewarn::deliver::leader::{Leadership, LeaseTimings};
use forewarn::deliver::ledger::configmap::{ConfigMapLedger, DATA_KEY};
use forewarn::deliver::ledger::{Entry, Ledger, Reported, State};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const NS: &str = "forewarn";
const CM: &str = "forewarn-ledger";
const LEASE: &str = "forewarn-leader";

// ---------------------------------------------------------------------------------------------
// The fake API server
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct Store {
    /// (resource, namespace, name) → object.
    objects: BTreeMap<(String, String, String), Value>,
    rv: u64,
}

#[derive(Clone)]
struct Listener {
    store: Arc<Mutex<Store>>,
    /// When set, this listener answers 503 to everything (a partitioned replica).
    down: Arc<AtomicBool>,
}

/// One API server; every [`Fake::client`] gets its own listener so it can be cut off alone.
#[derive(Clone, Default)]
struct Fake {
    store: Arc<Mutex<Store>>,
}

struct Client {
    client: kube::Client,
    down: Arc<AtomicBool>,
}

impl Fake {
    async fn client(&self) -> Client {
        self.client_with(true).await
    }

    /// `retry: false` is how the leader election client should be built: kube retries 503s
    /// with a long backoff by default, which would deliver a deposed leader's renewal late.
    async fn client_with(&self, retry: bool) -> Client {
        let down = Arc::new(AtomicBool::new(false));
        let app = Router::new().fallback(handle).with_state(Listener {
            store: self.store.clone(),
            down: down.clone(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let mut config =
            kube::Config::new(format!("http://127.0.0.1:{port}").parse().expect("url"));
        config.default_retry = retry;
        Client {
            client: kube::Client::try_from(config).expect("client"),
            down,
        }
    }

    fn get(&self, resource: &str, name: &str) -> Option<Value> {
        let s = self.store.lock().expect("store");
        s.objects
            .get(&(resource.into(), NS.into(), name.into()))
            .cloned()
    }

    /// Writes `data[ledger.json]` directly, as an outside writer would.
    fn put_ledger_text(&self, text: &str) {
        let mut s = self.store.lock().expect("store");
        s.rv += 1;
        let rv = s.rv.to_string();
        s.objects.insert(
            ("configmaps".into(), NS.into(), CM.into()),
            json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": CM, "namespace": NS, "resourceVersion": rv},
                "data": {DATA_KEY: text},
            }),
        );
    }

    fn ledger_json(&self) -> Value {
        let cm = self.get("configmaps", CM).expect("configmap exists");
        let text = cm["data"][DATA_KEY].as_str().expect("ledger.json");
        serde_json::from_str(text).expect("valid json")
    }

    fn ledger_text_len(&self) -> usize {
        let cm = self.get("configmaps", CM).expect("configmap exists");
        cm["data"][DATA_KEY].as_str().expect("ledger.json").len()
    }
}

fn status(code: StatusCode, reason: &str, message: String) -> Response {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code.as_u16(),
    });
    (code, axum::Json(body)).into_response()
}

/// RFC 7386 merge; `null` removes a field.
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

async fn handle(
    AxState(l): AxState<Listener>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if l.down.load(Ordering::SeqCst) {
        return status(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "partitioned".into(),
        );
    }
    let segs: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    let (api_version, kind, rest) = match segs.as_slice() {
        ["api", "v1", "namespaces", rest @ ..] => ("v1", "ConfigMap", rest),
        ["apis", "coordination.k8s.io", "v1", "namespaces", rest @ ..] => {
            ("coordination.k8s.io/v1", "Lease", rest)
        }
        _ => return status(StatusCode::NOT_FOUND, "NotFound", "no such path".into()),
    };
    let (ns, resource, name) = match rest {
        [ns, res] => (*ns, *res, None),
        [ns, res, name] => (*ns, *res, Some(*name)),
        _ => return status(StatusCode::NOT_FOUND, "NotFound", "no such path".into()),
    };
    let expected = if kind == "Lease" {
        "leases"
    } else {
        "configmaps"
    };
    if resource != expected {
        return status(StatusCode::NOT_FOUND, "NotFound", "not served".into());
    }
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let mut store = l.store.lock().expect("store");
    let key = |n: &str| (resource.to_string(), ns.to_string(), n.to_string());
    let not_found = |n: &str| {
        status(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("{resource} \"{n}\" not found"),
        )
    };
    let conflict = |n: &str| {
        status(
            StatusCode::CONFLICT,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {resource} \"{n}\": the object has been modified; please apply your changes to the latest version and try again"
            ),
        )
    };
    match (method, name) {
        (Method::GET, Some(n)) => match store.objects.get(&key(n)) {
            Some(obj) => axum::Json(obj.clone()).into_response(),
            None => not_found(n),
        },
        (Method::POST, None) => {
            let Some(mut obj) = parsed else {
                return status(StatusCode::BAD_REQUEST, "BadRequest", "bad body".into());
            };
            let Some(n) = obj["metadata"]["name"].as_str().map(str::to_string) else {
                return status(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Invalid",
                    "no name".into(),
                );
            };
            if obj["metadata"].get("resourceVersion").is_some() {
                return status(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "resourceVersion should not be set on objects to be created".into(),
                );
            }
            if store.objects.contains_key(&key(&n)) {
                return status(
                    StatusCode::CONFLICT,
                    "AlreadyExists",
                    format!("{resource} \"{n}\" already exists"),
                );
            }
            store.rv += 1;
            obj["apiVersion"] = json!(api_version);
            obj["kind"] = json!(kind);
            obj["metadata"]["namespace"] = json!(ns);
            obj["metadata"]["resourceVersion"] = json!(store.rv.to_string());
            store.objects.insert(key(&n), obj.clone());
            (StatusCode::CREATED, axum::Json(obj)).into_response()
        }
        (Method::PUT, Some(n)) => {
            let Some(mut obj) = parsed else {
                return status(StatusCode::BAD_REQUEST, "BadRequest", "bad body".into());
            };
            let Some(current) = store.objects.get(&key(n)) else {
                return not_found(n);
            };
            let Some(rv) = obj["metadata"]["resourceVersion"].as_str() else {
                return status(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Invalid",
                    "metadata.resourceVersion: must be specified for an update".into(),
                );
            };
            if Some(rv) != current["metadata"]["resourceVersion"].as_str() {
                return conflict(n);
            }
            store.rv += 1;
            obj["apiVersion"] = json!(api_version);
            obj["kind"] = json!(kind);
            obj["metadata"]["namespace"] = json!(ns);
            obj["metadata"]["resourceVersion"] = json!(store.rv.to_string());
            store.objects.insert(key(n), obj.clone());
            axum::Json(obj).into_response()
        }
        (Method::PATCH, Some(n)) => {
            let Some(patch) = parsed else {
                return status(StatusCode::BAD_REQUEST, "BadRequest", "bad body".into());
            };
            let apply = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/apply-patch"));
            let Some(current) = store.objects.get(&key(n)).cloned() else {
                return not_found(n);
            };
            if let Some(rv) = patch["metadata"]["resourceVersion"].as_str()
                && Some(rv) != current["metadata"]["resourceVersion"].as_str()
            {
                return conflict(n);
            }
            if apply {
                // Server-side apply without force: taking a field that holds another value
                // (set by another manager) is a conflict.
                let mine = &patch["spec"]["holderIdentity"];
                let theirs = &current["spec"]["holderIdentity"];
                if !mine.is_null() && !theirs.is_null() && mine != theirs {
                    return conflict(n);
                }
            }
            let mut obj = current;
            let mut patch = patch;
            if let Some(m) = patch.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("resourceVersion");
            }
            merge(&mut obj, &patch);
            store.rv += 1;
            obj["metadata"]["resourceVersion"] = json!(store.rv.to_string());
            store.objects.insert(key(n), obj.clone());
            axum::Json(obj).into_response()
        }
        (m, _) => status(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("{m} not supported here"),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn init() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn t(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).expect("time")
}

fn entry(id: &str, state: State, at: &str, enforce: &str) -> Entry {
    Entry {
        id: id.into(),
        state,
        destination: "#payments".into(),
        channel: (state != State::Pending).then(|| "C123".into()),
        ts: (state == State::Sent).then(|| "1700000000.000100".into()),
        error: (state == State::Failed).then(|| "channel_not_found".into()),
        at: t(at),
        enforce_at: t(enforce),
        due: None,
    }
}

fn reported(id: &str, reason: &str) -> Reported {
    Reported {
        id: id.into(),
        reason: reason.into(),
        at: DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z").expect("time"),
    }
}

async fn open(c: &Client) -> ConfigMapLedger {
    ConfigMapLedger::open(c.client.clone(), NS, CM)
        .await
        .expect("open ledger")
}

// ---------------------------------------------------------------------------------------------
// Ledger
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_put_creates_the_configmap_and_a_reopened_ledger_sees_it() {
    init();
    let fake = Fake::default();
    let c = fake.client().await;
    let mut l = open(&c).await;
    assert!(l.entries().is_empty());
    assert!(
        fake.get("configmaps", CM).is_none(),
        "nothing written on open"
    );

    let e = entry(
        "announce/p/payments/T-7",
        State::Pending,
        "2026-12-01T08:00:00+01:00",
        "2026-12-08T00:00:00+01:00",
    );
    l.put(e.clone()).await.expect("put");
    assert!(fake.get("configmaps", CM).is_some(), "created on first put");
    let sent = Entry {
        state: State::Sent,
        channel: Some("C123".into()),
        ts: Some("1.2".into()),
        ..e.clone()
    };
    l.put(sent.clone()).await.expect("put sent");
    l.mark_reported(vec![reported(&e.id, "channel_not_found")])
        .await
        .expect("mark");

    // Same document as the file ledger writes.
    let doc = fake.ledger_json();
    assert_eq!(doc["version"], 2);
    assert_eq!(doc["entries"][&e.id]["state"], "sent");
    assert_eq!(doc["reported"][0]["id"], json!(e.id));
    assert_eq!(doc["reported"][0]["reason"], json!("channel_not_found"));

    let again = open(&c).await;
    assert_eq!(again.get(&e.id), Some(&sent));
    assert!(again.reported(&e.id, "channel_not_found"));
    assert!(!again.reported(&e.id, "not_in_channel"));

    l.remove(&e.id).await.expect("remove");
    assert!(open(&c).await.get(&e.id).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflicting_write_is_retried_and_both_entries_survive() {
    init();
    let fake = Fake::default();
    let (ca, cb) = (fake.client().await, fake.client().await);
    let mut a = open(&ca).await;
    a.put(entry(
        "n/1",
        State::Sent,
        "2026-12-01T08:00:00Z",
        "2026-12-20T00:00:00Z",
    ))
    .await
    .expect("a first");
    // Another replica, with its own view, writes behind a's back.
    let mut b = open(&cb).await;
    b.put(entry(
        "n/2",
        State::Sent,
        "2026-12-01T09:00:00Z",
        "2026-12-20T00:00:00Z",
    ))
    .await
    .expect("b");
    let rv_before = fake.get("configmaps", CM).expect("cm")["metadata"]["resourceVersion"].clone();

    // a still holds the old resourceVersion: 409, re-read, re-apply.
    a.put(entry(
        "n/3",
        State::Pending,
        "2026-12-01T10:00:00Z",
        "2026-12-20T00:00:00Z",
    ))
    .await
    .expect("a retried");
    let cm = fake.get("configmaps", CM).expect("cm");
    assert_ne!(cm["metadata"]["resourceVersion"], rv_before);
    let doc = fake.ledger_json();
    let ids: Vec<&String> = doc["entries"]
        .as_object()
        .expect("entries")
        .keys()
        .collect();
    assert_eq!(ids, ["n/1", "n/2", "n/3"]);
    assert!(a.get("n/2").is_some(), "a now sees b's entry too");

    // A direct outside change is merged the same way.
    let mut outside = fake.ledger_json();
    outside["entries"]["n/4"] = serde_json::to_value(entry(
        "n/4",
        State::Failed,
        "2026-12-01T11:00:00Z",
        "2026-12-20T00:00:00Z",
    ))
    .expect("json");
    fake.put_ledger_text(&outside.to_string());
    a.mark_reported(vec![reported("n/4", "cause")])
        .await
        .expect("mark after outside change");
    let reopened = open(&ca).await;
    for id in ["n/1", "n/2", "n/3", "n/4"] {
        assert!(reopened.get(id).is_some(), "{id} survived");
    }
    assert!(reopened.reported("n/4", "cause"));
}

/// Writes 12 entries of its own and tries to claim 12 shared ones; returns how many it claimed.
async fn race_writes(l: &mut ConfigMapLedger, who: &str) -> usize {
    let mut won_shared = 0;
    for i in 0..12 {
        l.put(entry(
            &format!("{who}/{i}"),
            State::Pending,
            "2026-12-01T08:00:00Z",
            "2026-12-20T00:00:00Z",
        ))
        .await
        .expect("own entries always go through");
        let shared = format!("shared/{i}");
        if l.get(&shared).is_none() {
            let mut claim = entry(
                &shared,
                State::Pending,
                "2026-12-01T08:00:00Z",
                "2026-12-20T00:00:00Z",
            );
            claim.destination = who.to_string();
            if l.put(claim).await.is_ok() {
                won_shared += 1;
            }
        }
        tokio::task::yield_now().await;
    }
    won_shared
}

/// Two writers at the same moment, each with its own connection: every write meets 409s from
/// the other's, re-reads and re-applies; in the end every entry of both is there, and of two
/// writers racing for the same notice exactly one wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_writers_lose_nothing_and_never_both_claim_a_notice() {
    init();
    let fake = Fake::default();
    let (ca, cb) = (fake.client().await, fake.client().await);
    let (mut a, mut b) = (open(&ca).await, open(&cb).await);
    let (wa, wb) = tokio::join!(race_writes(&mut a, "a"), race_writes(&mut b, "b"));
    let doc = fake.ledger_json();
    let entries = doc["entries"].as_object().expect("entries");
    for who in ["a", "b"] {
        for i in 0..12 {
            assert!(
                entries.contains_key(&format!("{who}/{i}")),
                "{who}/{i} lost"
            );
        }
    }
    for i in 0..12 {
        assert!(entries.contains_key(&format!("shared/{i}")), "shared/{i}");
    }
    assert_eq!(
        wa + wb,
        12,
        "each shared notice claimed by exactly one writer"
    );
    // Whoever claimed a shared notice is the one recorded.
    let reopened = open(&ca).await;
    assert_eq!(reopened.entries().len(), 36);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_another_replica_recorded_meanwhile_is_not_overwritten() {
    init();
    let fake = Fake::default();
    let (ca, cb) = (fake.client().await, fake.client().await);
    let mut a = open(&ca).await;
    a.put(entry(
        "n/other",
        State::Sent,
        "2026-12-01T08:00:00Z",
        "2026-12-20T00:00:00Z",
    ))
    .await
    .expect("a");
    let mut b = open(&cb).await;
    let sent_by_b = entry(
        "n/1",
        State::Sent,
        "2026-12-01T09:00:00Z",
        "2026-12-20T00:00:00Z",
    );
    b.put(sent_by_b.clone()).await.expect("b sent it");

    // a's view is stale: writing pending for the same notice must fail (so a does not send).
    let err = a
        .put(entry(
            "n/1",
            State::Pending,
            "2026-12-01T10:00:00Z",
            "2026-12-20T00:00:00Z",
        ))
        .await
        .expect_err("same notice changed meanwhile");
    assert!(err.to_string().contains("n/1"), "{err}");
    assert_eq!(a.get("n/1"), Some(&sent_by_b), "a re-read the truth");
    assert_eq!(open(&ca).await.get("n/1"), Some(&sent_by_b));

    // refresh() brings a stale replica up to date without a write.
    let mut c = open(&cb).await;
    b.put(entry(
        "n/2",
        State::Sent,
        "2026-12-01T11:00:00Z",
        "2026-12-20T00:00:00Z",
    ))
    .await
    .expect("b again");
    assert!(c.get("n/2").is_none());
    c.refresh().await.expect("refresh");
    assert!(c.get("n/2").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_size_limit_drops_old_entries_first_and_keeps_pending_ones() {
    init();
    let fake = Fake::default();
    let c = fake.client().await;
    let one = serde_json::to_string(&entry(
        "size/probe/00",
        State::Sent,
        "2026-12-01T08:00:00Z",
        "2099-01-01T00:00:00Z",
    ))
    .expect("json")
    .len();
    let limit = 6 * (one + 20) + 60;
    let mut l = open(&c).await.with_max_json_bytes(limit);

    // In the order they may be dropped: enforcement long past (oldest enforcement first),
    // then sent/failed by age.
    let droppable = [
        entry(
            "size/past/01",
            State::Sent,
            "2025-06-01T08:00:00Z",
            "2025-01-01T00:00:00Z",
        ),
        entry(
            "size/past/02",
            State::Failed,
            "2024-06-01T08:00:00Z",
            "2025-02-01T00:00:00Z",
        ),
        entry(
            "size/sent/03",
            State::Sent,
            "2026-11-01T08:00:00Z",
            "2099-01-01T00:00:00Z",
        ),
        entry(
            "size/sent/04",
            State::Sent,
            "2026-11-02T08:00:00Z",
            "2099-01-01T00:00:00Z",
        ),
        entry(
            "size/sent/05",
            State::Sent,
            "2026-11-03T08:00:00Z",
            "2099-01-01T00:00:00Z",
        ),
    ];
    // Written newest-first so that write order is not what decides.
    for e in droppable.iter().rev() {
        l.put(e.clone()).await.expect("put finished");
    }
    let pending: Vec<Entry> = (0..5)
        .map(|i| {
            entry(
                &format!("size/pend/{i:02}"),
                State::Pending,
                "2020-01-01T08:00:00Z",
                "2020-01-02T00:00:00Z",
            )
        })
        .collect();
    for p in &pending {
        l.put(p.clone()).await.expect("put pending");
        assert!(fake.ledger_text_len() <= limit, "stays within the limit");
    }

    let kept = open(&c).await;
    for p in &pending {
        assert!(kept.get(&p.id).is_some(), "{} (pending) kept", p.id);
    }
    let gone: Vec<bool> = droppable
        .iter()
        .map(|e| kept.get(&e.id).is_none())
        .collect();
    let dropped = gone.iter().take_while(|g| **g).count();
    assert!(
        gone[dropped..].iter().all(|g| !g),
        "dropped in order: {gone:?}"
    );
    assert!(
        dropped >= 3,
        "past entries and then the oldest sent one were dropped: {gone:?}"
    );

    // When pending entries alone do not fit, the write fails and nothing is dropped.
    let before = fake.ledger_json();
    let mut err = None;
    for i in 5..20 {
        let p = entry(
            &format!("size/pend/{i:02}"),
            State::Pending,
            "2026-12-01T08:00:00Z",
            "2099-01-01T00:00:00Z",
        );
        match l.put(p).await {
            Ok(()) => {}
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    let err = err.expect("eventually too big");
    assert!(err.to_string().contains("pending"), "{err}");
    assert!(err.to_string().contains(CM), "{err}");
    let after = open(&c).await;
    for p in &pending {
        assert!(after.get(&p.id).is_some(), "{} still there", p.id);
    }
    assert!(fake.ledger_text_len() <= limit);
    let before_pending = before["entries"]
        .as_object()
        .expect("entries")
        .values()
        .filter(|e| e["state"] == "pending")
        .count();
    assert!(after.entries().len() >= before_pending);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_content_is_an_error_naming_the_configmap_and_is_left_alone() {
    init();
    let fake = Fake::default();
    let c = fake.client().await;
    let text = "{\"version\":1,\"entries\":{\"a\":";
    fake.put_ledger_text(text);
    let err = ConfigMapLedger::open(c.client.clone(), NS, CM)
        .await
        .expect_err("corrupt");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("ConfigMap {NS}/{CM} is corrupt")),
        "{msg}"
    );
    assert_eq!(
        fake.get("configmaps", CM).expect("cm")["data"][DATA_KEY],
        text
    );

    fake.put_ledger_text("{\"version\":3,\"entries\":{}}");
    let err = ConfigMapLedger::open(c.client.clone(), NS, CM)
        .await
        .expect_err("unknown version");
    assert!(err.to_string().contains("unknown version 3"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Leader election
// ---------------------------------------------------------------------------------------------

fn short() -> LeaseTimings {
    LeaseTimings {
        duration_secs: 2,
        renew_every_secs: 1,
        check_every: Duration::from_millis(100),
        safety_margin: Duration::from_millis(500),
    }
}

async fn join(c: &Client, identity: &str) -> Leadership {
    Leadership::start_with(c.client.clone(), NS, LEASE, identity, short())
        .await
        .expect("start")
}

/// Polls (at most ~`tries` × 100 ms) until `cond`; asserts "never both leaders" at each poll.
async fn until(
    what: &str,
    tries: usize,
    a: &Leadership,
    b: &Leadership,
    cond: impl Fn(bool, bool) -> bool,
) {
    for _ in 0..tries {
        let (la, lb) = (a.still_leader(), b.still_leader());
        assert!(!(la && lb), "two leaders at once");
        if cond(la, lb) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_one_leader_and_the_other_takes_over_when_it_stops() {
    init();
    let fake = Fake::default();
    let (ca, cb) = (fake.client_with(false).await, fake.client_with(false).await);
    let a = join(&ca, "replica-a").await;
    let b = join(&cb, "replica-b").await;

    until("one leads", 100, &a, &b, |x, y| x ^ y).await;
    // It stays that way across several renewals.
    for _ in 0..30 {
        assert!(a.still_leader() ^ b.still_leader(), "exactly one leader");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (leader, follower) = if a.is_leader() { (a, b) } else { (b, a) };
    assert!(*leader.watch().borrow());
    let lease = fake.get("leases", LEASE).expect("lease");
    assert_eq!(lease["spec"]["holderIdentity"], leader.identity());

    let mut follower_watch = follower.watch();
    leader.shutdown().await;
    let lease = fake.get("leases", LEASE).expect("lease");
    assert!(
        lease["spec"]["holderIdentity"].is_null(),
        "released: {lease}"
    );
    let mut took_over = false;
    for _ in 0..100 {
        if follower.still_leader() {
            took_over = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(took_over, "the follower took over");
    tokio::time::timeout(Duration::from_secs(5), follower_watch.wait_for(|l| *l))
        .await
        .expect("watch reports it")
        .expect("channel open");
    let lease = fake.get("leases", LEASE).expect("lease");
    assert_eq!(lease["spec"]["holderIdentity"], follower.identity());

    // Dropping the new leader stops it; its watchers hear so.
    drop(follower);
    tokio::time::timeout(Duration::from_secs(5), follower_watch.wait_for(|l| !*l))
        .await
        .expect("watch reports the end")
        .expect("false is sent before the channel closes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_leader_stops_before_the_other_takes_over() {
    init();
    let fake = Fake::default();
    let (ca, cb) = (fake.client_with(false).await, fake.client_with(false).await);
    let a = join(&ca, "replica-a").await;
    let b = join(&cb, "replica-b").await;
    until("one leads", 100, &a, &b, |x, y| x ^ y).await;

    let (leader, follower, leader_conn) = if a.is_leader() {
        (&a, &b, &ca)
    } else {
        (&b, &a, &cb)
    };
    // The leader can no longer reach the API: it cannot renew, so it must give up leading by
    // itself, and never overlap with the other replica taking over.
    leader_conn.down.store(true, Ordering::SeqCst);
    until("the cut-off leader stops", 100, &a, &b, |_, _| {
        !leader.still_leader()
    })
    .await;
    until("the other takes over", 150, &a, &b, |_, _| {
        follower.still_leader()
    })
    .await;
    assert!(!leader.still_leader());

    // Reconnected, the old leader stays a follower.
    leader_conn.down.store(false, Ordering::SeqCst);
    for _ in 0..20 {
        assert!(
            !(a.still_leader() && b.still_leader()),
            "two leaders at once"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(follower.still_leader() && !leader.still_leader());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_timings_are_refused() {
    init();
    let fake = Fake::default();
    let c = fake.client().await;
    let bad = LeaseTimings {
        duration_secs: 2,
        renew_every_secs: 1,
        check_every: Duration::from_millis(500),
        safety_margin: Duration::from_millis(600),
    };
    let err = Leadership::start_with(c.client.clone(), NS, LEASE, "x", bad)
        .await
        .expect_err("margin too large");
    assert!(
        err.to_string().contains("shorter than the lease duration"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// Audit history beside the ledger
// ---------------------------------------------------------------------------------------------

/// One day's counts: `pinned-images` failing `n` times for `team`.
fn measured(day: &str, team: &str, n: u64) -> forewarn::plan::progress::Measurement {
    use forewarn::plan::progress::{Counts, Measurement};
    let c = Counts {
        failing: n,
        excepted: 0,
    };
    Measurement {
        day: Some(chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").expect("day")),
        counts: BTreeMap::from([(
            String::new(),
            BTreeMap::from([
                (("pinned-images".to_string(), String::new()), c),
                (("pinned-images".to_string(), team.to_string()), c),
            ]),
        )]),
        modes: BTreeMap::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_is_kept_compressed_beside_the_ledger_and_merged_after_a_conflict() {
    init();
    let fake = Fake::default();
    let (c1, c2) = (fake.client().await, fake.client().await);
    let mut first = open(&c1).await;
    let mut second = open(&c2).await;
    first
        .record_progress(&measured("2026-12-01", "web", 5), 180)
        .await
        .expect("record");
    // The second replica's copy is stale: its write conflicts, is re-read and merged.
    second
        .record_progress(&measured("2026-12-02", "data", 3), 180)
        .await
        .expect("record after a conflict");
    let cm = fake
        .get("configmaps", "forewarn-ledger-history")
        .expect("history ConfigMap");
    assert!(cm["binaryData"]["history.json.gz"].is_string(), "{cm:#}");
    assert!(cm.get("data").is_none_or(|d| d.get(DATA_KEY).is_none()));
    let again = open(&c1).await;
    let p = again.progress().expect("history");
    let days = |team: &str| -> Vec<u64> {
        p.points("", "pinned-images", team)
            .iter()
            .map(|(_, c)| c.failing)
            .collect()
    };
    // web fell to nothing on the second day (data's measurement did not name it).
    assert_eq!(days("web"), vec![5, 0]);
    assert_eq!(days("data"), vec![3]);
    assert_eq!(days(""), vec![5, 3]);
}
