//! The slash-command endpoint as Slack calls it: signed form posts, answers on the example
//! cluster, rejections before parsing, health, readiness, metrics, the delayed path through
//! `response_url`, and a real HTTP round trip on 127.0.0.1.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{example_config, example_inventory};
use forewarn::chat::http::{AppState, router};
use forewarn::chat::verify::{SigningSecret, sign};
use forewarn::render::Renderer;
use http_body_util::BodyExt;
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;

const SECRET: &str = "test-signing-secret";
/// Tuesday 1 December 2026, 08:00 in Berlin.
const NOW: i64 = 1_796_108_400;

fn state(loaded: bool) -> Arc<AppState> {
    let config = example_config();
    let renderer = Renderer::for_config(&config).expect("templates");
    let mut s = AppState::new(
        Arc::new(config),
        Arc::new(renderer),
        Some(SigningSecret::new(SECRET)),
    );
    s.clock = Arc::new(|| chrono::DateTime::from_timestamp(NOW, 0).expect("time"));
    let s = Arc::new(s);
    if loaded {
        s.set_inventory(vec![example_inventory()]);
    }
    s
}

fn form(text: &str, channel_name: &str) -> String {
    serde_urlencoded::to_string([
        ("token", "ignored"),
        ("team_id", "T1"),
        ("channel_id", "C0TEST"),
        ("channel_name", channel_name),
        ("user_id", "U1"),
        ("user_name", "maria"),
        ("command", "/policy"),
        ("text", text),
        ("response_url", "https://hooks.slack.com/commands/T1/1/abc"),
        ("trigger_id", "1.2.3"),
    ])
    .expect("form")
}

fn signed(body: &str, ts: i64) -> Request<Body> {
    let ts = ts.to_string();
    Request::post("/slack/commands")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", &ts)
        .header(
            "x-slack-signature",
            sign(&SigningSecret::new(SECRET), &ts, body.as_bytes()),
        )
        .body(Body::from(body.to_string()))
        .expect("request")
}

async fn call(state: &Arc<AppState>, req: Request<Body>) -> (StatusCode, String) {
    let res = router(state.clone()).oneshot(req).await.expect("response");
    let status = res.status();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// Asks `/policy <text>` from channel `#<channel>`; returns the reply and all its text.
async fn ask(state: &Arc<AppState>, text: &str, channel: &str) -> (Value, String) {
    let (status, body) = call(state, signed(&form(text, channel), NOW)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json reply");
    assert_eq!(v["response_type"], "ephemeral");
    let mut all = String::new();
    for b in v["blocks"].as_array().expect("blocks") {
        for t in [&b["text"]["text"], &b["elements"][0]["text"]] {
            if let Some(t) = t.as_str() {
                all.push_str(t);
                all.push('\n');
            }
        }
    }
    (v, all)
}

#[tokio::test]
async fn why_a_policy_from_a_teams_channel_lists_that_teams_failures() {
    let s = state(true);
    let (v, all) = ask(&s, "why require-run-as-nonroot", "payments-dev").await;
    assert_eq!(v["blocks"][0]["text"]["text"], "Require runAsNonRoot");
    assert!(all.contains("Pod Security Standards (Restricted)"), "{all}");
    assert!(all.contains("*Mode now:* Audit"), "{all}");
    assert!(
        all.contains("*Enforced from:* Mon 14 Dec 2026 (in 13 days)"),
        "{all}"
    );
    assert!(all.contains("runAsNonRoot: true"), "{all}");
    assert!(
        all.contains("<https://wiki.example.com/platform/run-as-nonroot|guide>"),
        "{all}"
    );
    assert!(
        all.contains("*Contact:* #platform-security (ask for Ines)"),
        "{all}"
    );
    assert!(
        all.contains("*Failing in Payments's namespaces:* 3 resources"),
        "{all}"
    );
    assert!(
        all.contains("*payments-api* — 2 failing resources"),
        "{all}"
    );
    assert!(all.contains("`Deployment/checkout-api`"), "{all}");
    assert!(
        all.contains("*payments-worker* — 1 failing resource"),
        "{all}"
    );
    assert!(
        !all.contains("data-ingest"),
        "only the caller's namespaces: {all}"
    );
}

#[tokio::test]
async fn why_from_elsewhere_gives_a_cluster_count_and_modes_per_namespace() {
    let s = state(true);
    let (_, all) = ask(&s, "why require-run-as-nonroot", "random").await;
    assert!(
        all.contains("*Cluster-wide:* 8 failing resources in 7 namespaces"),
        "{all}"
    );
    let (_, all) = ask(&s, "why disallow-latest-tag", "random").await;
    assert!(all.contains("*Mode now:* Audit in data-ingest"), "{all}");
    assert!(
        all.contains("Enforce in payments-api, payments-worker"),
        "{all}"
    );
    assert!(
        all.contains(
            "*After the flip:* still Audit by override — `require-image-tag` in data-sandbox"
        ),
        "{all}"
    );
    // A namespaced Policy by its report name.
    let (_, all) = ask(&s, "why storefront-web/require-app-label", "storefront").await;
    assert!(
        all.contains("*Enforced from:* Thu 10 Dec 2026, 14:00 CET (in 9 days)"),
        "{all}"
    );
}

#[tokio::test]
async fn an_unknown_policy_gets_suggestions_not_an_error() {
    let s = state(true);
    let (v, all) = ask(&s, "why require-run-as-non-root", "random").await;
    assert!(
        all.contains("There is no policy named `require-run-as-non-root`."),
        "{all}"
    );
    assert!(
        all.contains("Did you mean `require-run-as-nonroot`"),
        "{all}"
    );
    assert!(all.contains("/policy why <policy>"), "{all}");
    assert!(v["text"].as_str().expect("text").contains("Usage"));
    let (_, all) = ask(&s, "frobnicate", "random").await;
    assert!(all.contains("unknown command"), "{all}");
    let (_, all) = ask(&s, "", "random").await;
    assert!(all.contains("/policy status [namespace|team]"), "{all}");
}

#[tokio::test]
async fn why_a_resource_lists_its_policies_and_exceptions() {
    let s = state(true);
    let (v, all) = ask(&s, "why payments-api/Deployment/checkout-api", "random").await;
    assert_eq!(
        v["blocks"][0]["text"]["text"],
        "Deployment/checkout-api in payments-api"
    );
    assert!(all.contains("Fails or warns on 2 policies"), "{all}");
    assert!(
        all.contains("*Require runAsNonRoot* (`require-run-as-nonroot`) — fail"),
        "{all}"
    );
    assert!(
        all.contains("Mode here: Audit · enforced from Mon 14 Dec 2026 (in 13 days)"),
        "{all}"
    );
    assert!(
        all.contains(
            "*Disallow Latest Tag* (`disallow-latest-tag`) — fail, rule `validate-image-tag`"
        ),
        "{all}"
    );
    assert!(all.contains("Mode here: Enforce"), "{all}");
    let (_, all) = ask(&s, "why deploy/web-legacy -n storefront-web", "random").await;
    assert!(
        all.contains("`storefront-web/web-legacy-runs-as-root` for `require-run-as-nonroot`"),
        "{all}"
    );
    assert!(
        all.contains("owner storefront, until Sun 31 Jan 2027"),
        "{all}"
    );
    let (_, all) = ask(&s, "why payments-api/Deployment/checkout", "random").await;
    assert!(all.contains("No policy reports a failure"), "{all}");
    assert!(all.contains("Did you mean `checkout-api`"), "{all}");
}

#[tokio::test]
async fn status_and_exceptions_by_namespace_or_team() {
    let s = state(true);
    let (_, all) = ask(&s, "status", "payments-dev").await;
    assert!(
        all.contains("Upcoming enforcements for team Payments"),
        "{all}"
    );
    assert!(all.contains("*Require runAsNonRoot* (`require-run-as-nonroot`) — enforced from *Mon 14 Dec 2026* (in 13 days)"), "{all}");
    assert!(
        all.contains("3 failing resources in payments-api, payments-worker"),
        "{all}"
    );
    assert!(
        !all.contains("disallow-latest-tag"),
        "enforced in payments already: {all}"
    );
    let (_, all) = ask(&s, "status data-warehouse", "random").await;
    assert!(
        all.contains("`require-requests-limits`) — enforced from *Mon 11 Jan 2027*"),
        "{all}"
    );
    let (_, all) = ask(&s, "status paymnts", "random").await;
    assert!(
        all.contains("There is no namespace or team named `paymnts`. Did you mean `payments`"),
        "{all}"
    );
    let (_, all) = ask(&s, "exceptions storefront", "random").await;
    assert!(
        all.contains(
            "*storefront-web/web-legacy-runs-as-root* — exempts from `require-run-as-nonroot`"
        ),
        "{all}"
    );
    assert!(all.contains("Owner: storefront"), "{all}");
    assert!(all.contains("Until Sun 31 Jan 2027 (review date)"), "{all}");
    let (_, all) = ask(&s, "exceptions payments", "random").await;
    // Only the informal, cluster-wide one applies there, and it shows what it lacks.
    assert!(
        all.contains("*kyverno/hotfix-latest-tag* — exempts from `disallow-latest-tag`"),
        "{all}"
    );
    assert!(
        all.contains("Owner: _none recorded_ · Reason: _none recorded_ · _no review date_"),
        "{all}"
    );
    assert!(!all.contains("web-legacy"), "{all}");
}

#[tokio::test]
async fn requests_are_refused_before_parsing() {
    let s = state(true);
    let body = form("why require-run-as-nonroot", "payments-dev");
    // Missing signature headers.
    let req = Request::post("/slack/commands")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body.clone()))
        .expect("request");
    assert_eq!(call(&s, req).await.0, StatusCode::UNAUTHORIZED);
    // Forged: signed with another secret.
    let mut req = signed(&body, NOW);
    let forged = sign(
        &SigningSecret::new("not-the-secret"),
        &NOW.to_string(),
        body.as_bytes(),
    );
    req.headers_mut()
        .insert("x-slack-signature", forged.parse().expect("header"));
    assert_eq!(call(&s, req).await.0, StatusCode::UNAUTHORIZED);
    // A body changed after signing.
    let mut req = signed(&body, NOW);
    *req.body_mut() = Body::from(body.replace("nonroot", "nonrooT"));
    assert_eq!(call(&s, req).await.0, StatusCode::UNAUTHORIZED);
    // Stale and future timestamps (correctly signed).
    assert_eq!(
        call(&s, signed(&body, NOW - 301)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&s, signed(&body, NOW + 301)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(call(&s, signed(&body, NOW - 299)).await.0, StatusCode::OK);
    // Too large, and the wrong type.
    let big = format!("{body}&pad={}", "x".repeat(20_000));
    assert_eq!(
        call(&s, signed(&big, NOW)).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let mut req = signed(&body, NOW);
    req.headers_mut()
        .insert("content-type", "application/json".parse().expect("header"));
    assert_eq!(call(&s, req).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let (_, metrics) = call(
        &s,
        Request::get("/metrics").body(Body::empty()).expect("req"),
    )
    .await;
    assert!(
        metrics.contains("forewarn_command_rejections_total{reason=\"signature\"} 5"),
        "{metrics}"
    );
    assert!(
        metrics.contains("forewarn_command_rejections_total{reason=\"too_large\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("forewarn_command_rejections_total{reason=\"content_type\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("forewarn_commands_total{command=\"why_policy\"} 1"),
        "{metrics}"
    );
    // Six Kyverno policies, two Gatekeeper constraints, two VAP bindings.
    assert!(
        metrics.contains("forewarn_inventory_objects{kind=\"policies\"} 10"),
        "{metrics}"
    );
    assert!(
        metrics.contains("forewarn_command_duration_seconds_count 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn health_and_readiness() {
    let s = state(false);
    let get = |path: &str| Request::get(path).body(Body::empty()).expect("req");
    assert_eq!(call(&s, get("/healthz")).await.0, StatusCode::OK);
    assert_eq!(
        call(&s, get("/readyz")).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    s.set_inventory(vec![example_inventory()]);
    assert_eq!(call(&s, get("/readyz")).await.0, StatusCode::OK);
}

#[tokio::test]
async fn without_an_inventory_the_answer_follows_on_slacks_response_url_only() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    common::init_tls();
    let hook = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/commands/T1/1/abc"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&hook)
        .await;
    let config = example_config();
    let renderer = Renderer::for_config(&config).expect("templates");
    let mut st = AppState::new(
        Arc::new(config),
        Arc::new(renderer),
        Some(SigningSecret::new(SECRET)),
    );
    st.clock = Arc::new(|| chrono::DateTime::from_timestamp(NOW, 0).expect("time"));
    // For the test, the fake's host stands in for Slack's.
    st.response_hosts = vec!["127.0.0.1".into()];
    st.responder =
        Some(forewarn::deliver::slack::hyper_client("http://127.0.0.1/api", true).expect("client"));
    let st = Arc::new(st);

    // A response_url on a foreign host is never posted to.
    let foreign = form("why require-run-as-nonroot", "payments-dev")
        .replace("hooks.slack.com", "evil.example.com");
    let (status, body) = call(&st, signed(&foreign, NOW)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("still loading"), "{body}");

    // Slack's (here: the fake's) host gets the answer once the inventory is in.
    let url = format!("{}/commands/T1/1/abc", hook.uri());
    let ok = serde_urlencoded::to_string([
        ("channel_id", "C0TEST"),
        ("channel_name", "payments-dev"),
        ("user_id", "U1"),
        ("command", "/policy"),
        ("text", "why require-run-as-nonroot"),
        ("response_url", url.as_str()),
    ])
    .expect("form");
    let (status, body) = call(&st, signed(&ok, NOW)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Working on it"), "{body}");
    st.set_inventory(vec![example_inventory()]);
    let mut posted = Vec::new();
    for _ in 0..200 {
        posted = hook.received_requests().await.expect("recording");
        if !posted.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(posted.len(), 1, "exactly one delayed answer");
    let v: Value = serde_json::from_slice(&posted[0].body).expect("json");
    assert!(
        v["blocks"].to_string().contains("Require runAsNonRoot"),
        "{v}"
    );
}

#[tokio::test]
async fn answers_over_real_http_on_loopback() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = state(true);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(forewarn::chat::http::serve(
        listener,
        s,
        std::future::pending(),
    ));
    let body = form("why require-run-as-nonroot", "payments-dev");
    let ts = NOW.to_string();
    let sig = sign(&SigningSecret::new(SECRET), &ts, body.as_bytes());
    let raw = format!(
        "POST /slack/commands HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nX-Slack-Request-Timestamp: {ts}\r\nX-Slack-Signature: {sig}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(raw.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("Require runAsNonRoot"), "{response}");
    server.abort();
}

#[tokio::test]
async fn a_caller_outside_team_channels_is_matched_by_email() {
    use forewarn::deliver::slack::{Slack, SlackSettings, SlackToken};
    use wiremock::matchers::path;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    common::init_tls();
    let fake = MockServer::start().await;
    Mock::given(path("/api/users.info"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "ok": true,
            "user": {"id": "U1", "name": "maria", "profile": {"email": "maria@example.com"}},
        })))
        .expect(1)
        .mount(&fake)
        .await;
    let config = example_config();
    let renderer = Renderer::for_config(&config).expect("templates");
    let mut st = AppState::new(
        Arc::new(config),
        Arc::new(renderer),
        Some(SigningSecret::new(SECRET)),
    );
    st.clock = Arc::new(|| chrono::DateTime::from_timestamp(NOW, 0).expect("time"));
    let settings = SlackSettings::default().with_api_url(format!("{}/api", fake.uri()));
    st.directory = Some(Arc::new(
        Slack::new(SlackToken::new("xoxb-test"), settings).expect("client"),
    ));
    let st = Arc::new(st);
    st.set_inventory(vec![example_inventory()]);
    let (_, all) = ask(&st, "why require-run-as-nonroot", "random").await;
    assert!(
        all.contains("*Failing in Payments's namespaces:* 3 resources"),
        "{all}"
    );
    // Cached: a second question does not ask Slack again (the mock expects one call).
    let (_, all) = ask(&st, "status", "random").await;
    assert!(
        all.contains("Upcoming enforcements for team Payments"),
        "{all}"
    );
}

/// `/metrics` shows delivery as the scheduler's last tick left it (prometheus-client's text
/// format): what is pending, failures by reason, notices sent.
#[tokio::test]
async fn metrics_show_pending_notices_and_failures_by_reason() {
    use forewarn::deliver::metrics::DeliveryMetrics;
    use forewarn::deliver::tick::TickOutcome;
    let config = example_config();
    let renderer = Renderer::for_config(&config).expect("templates");
    let mut state = AppState::new(Arc::new(config), Arc::new(renderer), None);
    let delivery = DeliveryMetrics::default();
    delivery.register(state.metrics.registry_mut());
    let state = Arc::new(state);
    delivery.record(&TickOutcome {
        due: 5,
        sent: vec!["a".into(), "b".into()],
        failed: vec![("c".into(), "channel_not_found".into())],
        pending: vec![
            (
                "d".into(),
                "outcome unknown: chat.postMessage: HTTP 503".into(),
            ),
            ("e".into(), "unconfirmed: missing_scope".into()),
        ],
        ..TickOutcome::default()
    });
    let (status, metrics) = call(
        &state,
        Request::get("/metrics").body(Body::empty()).expect("req"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    for line in [
        "forewarn_delivery_pending 2",
        "forewarn_delivery_last_tick_clean 0",
        "forewarn_notices_sent_total 2",
        "forewarn_delivery_failures_total{reason=\"channel_not_found\"} 1",
        "forewarn_delivery_failures_total{reason=\"outcome unknown\"} 1",
        "forewarn_delivery_failures_total{reason=\"unconfirmed\"} 1",
        "forewarn_ready 0",
    ] {
        assert!(metrics.contains(line), "{line} missing in:\n{metrics}");
    }
}

/// The state with a review page behind `token`, its history a falling series of
/// `require-run-as-nonroot` ending the day before `NOW`, and the triage answers in `answers`.
fn with_review(
    token: &str,
    answers: Option<Arc<forewarn::deliver::answers::AnswerStore>>,
) -> Arc<AppState> {
    use forewarn::plan::progress::{Counts, Progress};
    let config = example_config();
    let renderer = Renderer::for_config(&config).expect("templates");
    let mut s = AppState::new(Arc::new(config), Arc::new(renderer), None);
    s.clock = Arc::new(|| chrono::DateTime::from_timestamp(NOW, 0).expect("time"));
    let mut progress = Progress::default();
    let points = progress
        .series
        .entry(String::new())
        .or_default()
        .entry(("require-run-as-nonroot".into(), String::new()))
        .or_default();
    let first = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).expect("day");
    for (i, failing) in [20u64, 18, 17, 15, 13, 12, 11, 10].into_iter().enumerate() {
        points.insert(
            first + chrono::Duration::days(i as i64),
            Counts {
                failing,
                excepted: 0,
            },
        );
    }
    let progress = Arc::new(progress);
    s.answers = answers;
    s.review = Some(forewarn::chat::review_page::ReviewPage {
        token: forewarn::config::secret::Secret::new(token),
        history: Arc::new(move || {
            let p = (*progress).clone();
            Box::pin(async move { Ok(p) })
        }),
    });
    let s = Arc::new(s);
    s.set_inventory(vec![example_inventory()]);
    s
}

fn get(path: &str, auth: Option<&str>) -> Request<Body> {
    let mut r = Request::get(path);
    if let Some(a) = auth {
        r = r.header("authorization", a);
    }
    r.body(Body::empty()).expect("request")
}

#[tokio::test]
async fn the_review_page_is_served_only_with_a_token_and_only_to_its_holder() {
    // No review token configured: the paths do not exist.
    let s = state(true);
    for path in ["/review", "/review.json"] {
        let (status, _) = call(&s, get(path, Some("Bearer anything"))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    // Data platform answered the buttons of require-run-as-nonroot.
    let dir = tempfile::tempdir().expect("dir");
    let store = Arc::new(forewarn::deliver::answers::AnswerStore::File(
        dir.path().join("answers.json"),
    ));
    store
        .record(&forewarn::model::triage::TriageAnswer {
            key: forewarn::model::triage::TriageKey {
                cluster: example_inventory().cluster,
                policy: forewarn::model::ids::PolicyRef {
                    kind: forewarn::model::ids::PolicyKind::ClusterPolicy,
                    namespace: None,
                    name: "require-run-as-nonroot".into(),
                    parent: None,
                },
                team: forewarn::model::ids::TeamKey::parse("data").expect("team"),
            },
            answer: forewarn::model::triage::Triage::GotIt,
            user: forewarn::model::triage::SlackUser::parse("U0DATA").expect("user"),
            user_name: None,
            at: chrono::DateTime::from_timestamp(NOW, 0)
                .expect("time")
                .fixed_offset(),
        })
        .await
        .expect("recorded");
    let s = with_review("rv-token", Some(store));
    for auth in [
        None,
        Some("Bearer rv-token2"),
        Some("Bearer rv-toke"),
        Some("rv-token"),
    ] {
        let res = router(s.clone())
            .oneshot(get("/review", auth))
            .await
            .expect("response");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        assert!(
            res.headers()
                .get("www-authenticate")
                .is_some_and(|v| v.to_str().unwrap_or_default().starts_with("Basic")),
            "{auth:?}"
        );
    }
    let (status, html) = call(&s, get("/review", Some("Bearer rv-token"))).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains(r#"data-policy="require-run-as-nonroot""#),
        "{html}"
    );
    assert!(html.contains(r#"<svg class="chart""#), "{html}");
    // A browser sends the token as the password of HTTP Basic.
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "maria:rv-token")
    );
    let (status, json) = call(
        &s,
        get("/review.json?policy=require-run-as-nonroot", Some(&basic)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let v: Value = serde_json::from_str(&json).expect("json");
    let policies = v["policies"].as_array().expect("policies");
    assert_eq!(policies.len(), 1);
    assert_eq!(policies[0]["policy"], "require-run-as-nonroot");
    // The recorded days and today's count (8 failing on Tue 1 Dec).
    assert_eq!(policies[0]["history"].as_array().map(Vec::len), Some(9));
    assert_eq!(policies[0]["status"], "on track");
    // The teams' answers, read at the request, and who has not answered.
    let triage = &policies[0]["triage"];
    assert_eq!(triage["answered"][0]["team"], "Data platform", "{triage:#}");
    assert_eq!(triage["answered"][0]["answer"], "got-it");
    assert!(
        triage["unanswered"]
            .as_array()
            .is_some_and(|u| u.iter().any(|t| t == "Storefront")),
        "{triage:#}"
    );
}
