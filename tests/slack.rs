//! The Slack edge against a fake Slack Web API (wiremock on 127.0.0.1).

use forewarn::deliver::slack::{Slack, SlackSettings, SlackToken};
use forewarn::deliver::{Deliver, Delivered, DeliveryError, EVENT_TYPE};
use forewarn::render::Message;
use serde_json::{Value, json};
use slack_morphism::prelude::*;
use std::time::Duration;
use wiremock::matchers::{
    body_partial_json, header, method, path, query_param, query_param_is_missing,
};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TOKEN: &str = "xoxb-test";

fn init() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Settings pointing at the fake, with a 1 ms backoff so retry tests stay quick.
///
/// The crate's dev-dependencies lack tokio's `test-util` feature, so time cannot be paused here:
/// the waits are real but short, and the tests assert on request counts, never on timing.
fn settings(server: &MockServer) -> SlackSettings {
    SlackSettings {
        backoff_base: Duration::from_millis(1),
        ..SlackSettings::default()
    }
    .with_api_url(format!("{}/api/", server.uri()))
}

fn slack(server: &MockServer) -> Slack {
    Slack::new(SlackToken::new(TOKEN), settings(server)).expect("client")
}

fn message(channel: &str) -> Message {
    Message {
        channel: channel.parse().unwrap_or_else(|never| match never {}),
        text: "Policy require-limits is enforced on 2025-07-01".to_string(),
        blocks: vec![
            SlackHeaderBlock::new(
                SlackBlockPlainText::new(
                    "Heads-up: require-limits is enforced on 2025-07-01".to_string(),
                )
                .into(),
            )
            .into(),
        ],
    }
}

fn ok_post(channel: &str, ts: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "ok": true,
        "channel": channel,
        "ts": ts,
        "message": {"type": "message", "text": "hi", "ts": ts},
    }))
}

fn slack_error(code: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": code}))
}

fn body(request: &Request) -> Value {
    serde_json::from_slice(&request.body).expect("JSON body")
}

async fn requests_to(server: &MockServer, method_path: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .expect("recording on")
        .into_iter()
        .filter(|r| r.url.path() == method_path)
        .collect()
}

#[tokio::test]
async fn posts_to_a_channel_with_text_blocks_and_metadata() {
    init();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .and(header("authorization", "Bearer xoxb-test"))
        .respond_with(ok_post("C0PAYMENTS", "1700000000.000100"))
        .expect(1)
        .mount(&server)
        .await;
    let slack = slack(&server);

    let delivered = slack.send(&["n-42"], &message("#payments")).await.unwrap();

    assert_eq!(
        delivered,
        Delivered {
            channel: "C0PAYMENTS".to_string(),
            ts: "1700000000.000100".to_string()
        }
    );
    let posts = requests_to(&server, "/api/chat.postMessage").await;
    assert_eq!(posts.len(), 1);
    let sent = body(&posts[0]);
    assert_eq!(sent["channel"], "#payments");
    assert_eq!(
        sent["text"],
        "Policy require-limits is enforced on 2025-07-01"
    );
    assert_eq!(sent["blocks"][0]["type"], "header");
    assert_eq!(
        sent["blocks"][0]["text"]["text"],
        "Heads-up: require-limits is enforced on 2025-07-01"
    );
    assert_eq!(
        sent["metadata"],
        json!({"event_type": EVENT_TYPE, "event_payload": {"notice_ids": "n-42"}})
    );
    assert_eq!(slack.counters().sent.get(), 1);
    assert_eq!(slack.counters().failed.get(), 0);
}

#[tokio::test]
async fn waits_out_a_rate_limit_then_delivers_once() {
    init();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .set_body_json(json!({"ok": false, "error": "ratelimited"})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(ok_post("C1", "1700000000.000200"))
        .mount(&server)
        .await;
    let slack = slack(&server);

    let delivered = slack.send(&["n-1"], &message("C1")).await.unwrap();

    assert_eq!(delivered.ts, "1700000000.000200");
    assert_eq!(requests_to(&server, "/api/chat.postMessage").await.len(), 2);
    let counters = slack.counters();
    assert_eq!(counters.rate_limited.get(), 1);
    assert_eq!(counters.sent.get(), 1);
    assert_eq!(counters.retried.get(), 0);
}

#[tokio::test]
async fn gives_up_when_rate_limited_too_often() {
    init();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "0")
                .set_body_json(json!({"ok": false, "error": "ratelimited"})),
        )
        .mount(&server)
        .await;
    let slack = slack(&server);

    let err = slack.send(&["n-1"], &message("C1")).await.unwrap_err();

    assert!(matches!(err, DeliveryError::Unavailable { .. }), "{err:?}");
    // The first request and one after each of the 5 waits.
    assert_eq!(requests_to(&server, "/api/chat.postMessage").await.len(), 6);
    assert_eq!(slack.counters().failed.get(), 1);
}

/// A 5xx to chat.postMessage may come after Slack posted the message: it is never repeated.
#[tokio::test]
async fn a_server_error_to_a_post_is_an_unknown_outcome_never_retried() {
    init();
    for status in [500u16, 502, 503, 504, 408] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/api/chat.postMessage"))
            .respond_with(ResponseTemplate::new(status))
            .mount(&server)
            .await;
        let slack = slack(&server);

        let err = slack.send(&["n-1"], &message("C1")).await.unwrap_err();

        assert!(
            matches!(err, DeliveryError::Unknown { .. }),
            "{status}: {err:?}"
        );
        assert!(err.may_have_posted());
        assert_eq!(err.cause(), "outcome_unknown");
        assert_eq!(requests_to(&server, "/api/chat.postMessage").await.len(), 1);
        assert_eq!(slack.counters().retried.get(), 0);
        assert_eq!(slack.counters().failed.get(), 1);
    }
}

/// An answer that is not Slack's JSON (a proxy's HTML page) may hide a posted message too.
#[tokio::test]
async fn an_html_answer_to_a_post_is_an_unknown_outcome() {
    init();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/html")
                .set_body_string("<html>Bad gateway</html>"),
        )
        .mount(&server)
        .await;
    let slack = slack(&server);
    let err = slack.send(&["n-1"], &message("C1")).await.unwrap_err();
    assert!(matches!(err, DeliveryError::Unknown { .. }), "{err:?}");
    assert_eq!(requests_to(&server, "/api/chat.postMessage").await.len(), 1);
}

/// No answer within the request timeout: unknown, not repeated.
#[tokio::test]
async fn a_post_without_an_answer_times_out_as_unknown() {
    init();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(ok_post("C1", "1.1").set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let settings = SlackSettings {
        request_timeout: Some(Duration::from_millis(200)),
        ..settings(&server)
    };
    let slack = Slack::new(SlackToken::new(TOKEN), settings).expect("client");
    let started = std::time::Instant::now();
    let err = slack.send(&["n-1"], &message("C1")).await.unwrap_err();
    assert!(matches!(err, DeliveryError::Unknown { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(requests_to(&server, "/api/chat.postMessage").await.len(), 1);
}

/// Reads change nothing in Slack: they are retried after a 5xx.
#[tokio::test]
async fn a_read_is_retried_after_a_server_error() {
    init();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/conversations.history"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/conversations.history"))
        .respond_with(history())
        .mount(&server)
        .await;
    let slack = slack(&server);
    let found = slack
        .find_sent("n-42", "C0PAYMENTS", since())
        .await
        .unwrap();
    assert!(found.is_some());
    assert_eq!(slack.counters().retried.get(), 1);
}

/// A 200 answer without Slack's JSON to a history read must never count as "not there".
#[tokio::test]
async fn a_history_answer_that_is_not_slack_json_proves_nothing() {
    init();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/conversations.history"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/html")
                .set_body_string("<html>maintenance</html>"),
        )
        .mount(&server)
        .await;
    let slack = slack(&server);
    let err = slack
        .find_sent("n-42", "C0PAYMENTS", since())
        .await
        .unwrap_err();
    assert!(matches!(err, DeliveryError::Unknown { .. }), "{err:?}");
}

/// A Retry-After beyond the tick's deadline is not waited for.
#[tokio::test]
async fn a_retry_after_past_the_deadline_is_not_waited_for() {
    init();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "30")
                .set_body_json(json!({"ok": false, "error": "ratelimited"})),
        )
        .mount(&server)
        .await;
    let slack = slack(&server);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let started = std::time::Instant::now();
    let err = forewarn::deliver::with_deadline(deadline, slack.send(&["n-1"], &message("C1")))
        .await
        .unwrap_err();
    assert!(matches!(err, DeliveryError::Unavailable { .. }), "{err:?}");
    assert!(!err.may_have_posted());
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(requests_to(&server, "/api/chat.postMessage").await.len(), 1);
}

#[tokio::test]
async fn connection_refused_ends_as_unavailable_after_bounded_retries() {
    init();
    // A port nothing listens on: bind, remember, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let settings = SlackSettings {
        backoff_base: Duration::from_millis(1),
        max_retries: 2,
        ..SlackSettings::default()
    }
    .with_api_url(format!("http://127.0.0.1:{port}/api"));
    let slack = Slack::new(SlackToken::new(TOKEN), settings).unwrap();

    let err = slack.send(&["n-1"], &message("C1")).await.unwrap_err();

    assert!(matches!(err, DeliveryError::Unavailable { .. }), "{err:?}");
    assert_eq!(slack.counters().retried.get(), 2);
    assert!(!format!("{err:?}").contains(TOKEN));
}

#[tokio::test]
async fn a_refused_message_is_rejected_without_retry() {
    init();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(slack_error("channel_not_found"))
        .mount(&server)
        .await;
    let slack = slack(&server);

    let err = slack.send(&["n-1"], &message("#nope")).await.unwrap_err();

    assert_eq!(
        err,
        DeliveryError::Rejected {
            code: "channel_not_found".to_string()
        }
    );
    assert!(!err.is_fatal());
    assert_eq!(requests_to(&server, "/api/chat.postMessage").await.len(), 1);
    assert_eq!(slack.counters().failed.get(), 1);
    assert_eq!(slack.counters().retried.get(), 0);
}

#[tokio::test]
async fn a_bad_token_is_an_auth_error_without_retry() {
    init();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(slack_error("invalid_auth"))
        .mount(&server)
        .await;
    let slack = slack(&server);

    let err = slack.send(&["n-1"], &message("C1")).await.unwrap_err();

    assert_eq!(
        err,
        DeliveryError::Auth {
            code: "invalid_auth".to_string()
        }
    );
    assert!(err.is_fatal());
    assert_eq!(requests_to(&server, "/api/chat.postMessage").await.len(), 1);
}

#[tokio::test]
async fn email_destinations_go_to_an_opened_dm_and_lookups_are_cached() {
    init();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/users.lookupByEmail"))
        .and(query_param("email", "ana@example.com"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ok": true,
            "user": {"id": "U0ANA", "name": "ana"},
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/conversations.open"))
        // Slack documents `users` as a comma-separated string of ids.
        .and(body_partial_json(json!({"users": "U0ANA"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ok": true,
            "channel": {"id": "D0ANA"},
        })))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .and(body_partial_json(json!({"channel": "D0ANA"})))
        .respond_with(ok_post("D0ANA", "1700000000.000400"))
        .expect(2)
        .mount(&server)
        .await;
    let slack = slack(&server);

    let first = slack
        .send(&["n-1"], &message("email:ana@example.com"))
        .await
        .unwrap();
    let second = slack
        .send(&["n-2"], &message("email:Ana@Example.com"))
        .await
        .unwrap();

    assert_eq!(first.channel, "D0ANA");
    assert_eq!(second.channel, "D0ANA");
    let order: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_string())
        .collect();
    assert_eq!(
        order,
        [
            "/api/users.lookupByEmail",
            "/api/conversations.open",
            "/api/chat.postMessage",
            "/api/conversations.open",
            "/api/chat.postMessage",
        ]
    );
    let posts = requests_to(&server, "/api/chat.postMessage").await;
    assert_eq!(
        body(&posts[1])["metadata"]["event_payload"]["notice_ids"],
        json!("n-2")
    );
}

#[tokio::test]
async fn several_emails_share_one_group_dm() {
    init();
    let server = MockServer::start().await;
    for (email, id) in [("ana@example.com", "U0ANA"), ("bo@example.com", "U0BO")] {
        Mock::given(method("GET"))
            .and(path("/api/users.lookupByEmail"))
            .and(query_param("email", email))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"ok": true, "user": {"id": id}})),
            )
            .expect(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/api/conversations.open"))
        .and(body_partial_json(json!({"users": "U0ANA,U0BO"})))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": true, "channel": {"id": "G0BOTH"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .and(body_partial_json(json!({"channel": "G0BOTH"})))
        .respond_with(ok_post("G0BOTH", "1700000000.000500"))
        .expect(1)
        .mount(&server)
        .await;
    let slack = slack(&server);

    let delivered = slack
        .send(&["n-1"], &message("email:bo@example.com, ana@example.com"))
        .await
        .unwrap();

    assert_eq!(delivered.channel, "G0BOTH");
}

#[tokio::test]
async fn an_unknown_email_is_rejected_and_nothing_is_posted() {
    init();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/users.lookupByEmail"))
        .respond_with(slack_error("users_not_found"))
        .mount(&server)
        .await;
    let slack = slack(&server);

    let err = slack
        .send(&["n-1"], &message("email:ghost@example.com"))
        .await
        .unwrap_err();

    assert_eq!(
        err,
        DeliveryError::Rejected {
            code: "users_not_found".to_string()
        }
    );
    assert!(
        requests_to(&server, "/api/chat.postMessage")
            .await
            .is_empty()
    );
}

fn history() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "ok": true,
        "has_more": false,
        "messages": [
            {"type": "message", "text": "someone else", "ts": "1700000000.000001"},
            {
                "type": "message", "text": "other app", "ts": "1700000000.000002",
                "metadata": {"event_type": "deploy", "event_payload": {"id": 7, "nested": {"a": [1]}}}
            },
            {
                "type": "message", "text": "older notice", "ts": "1700000000.000003",
                "metadata": {"event_type": "forewarn_notice", "event_payload": {"notice_id": "n-1"}}
            },
            {
                "type": "message", "text": "the notice", "ts": "1700000000.000004",
                "metadata": {"event_type": "forewarn_notice", "event_payload": {"notice_id": "n-42"}}
            },
            {
                "type": "message", "text": "a batch", "ts": "1700000000.000005",
                "metadata": {"event_type": "forewarn_notice", "event_payload": {"notice_ids": "n-7 n-8"}}
            },
        ],
    }))
}

/// When the notices were attempted: shortly before the messages of [`history`].
fn since() -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339("2023-11-14T22:10:00Z").expect("time")
}

#[tokio::test]
async fn find_sent_finds_the_message_tagged_with_the_notice_id() {
    init();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/conversations.history"))
        .and(query_param("channel", "C0PAYMENTS"))
        .and(query_param("limit", "200"))
        .and(query_param("include_all_metadata", "true"))
        // Only since the attempt (less ten minutes of clock skew).
        .and(query_param("oldest", "1699999200.000000"))
        .and(header("authorization", "Bearer xoxb-test"))
        .respond_with(history())
        .mount(&server)
        .await;
    let slack = slack(&server);

    let found = slack
        .find_sent("n-42", "C0PAYMENTS", since())
        .await
        .unwrap();
    assert_eq!(
        found,
        Some(Delivered {
            channel: "C0PAYMENTS".to_string(),
            ts: "1700000000.000004".to_string()
        })
    );
    assert_eq!(
        slack
            .find_sent("n-404", "C0PAYMENTS", since())
            .await
            .unwrap(),
        None
    );
    // A batched message is found by any of the notices it lists (a message posted before
    // batching, by its single `notice_id`, above).
    assert_eq!(
        slack
            .find_sent("n-8", "C0PAYMENTS", since())
            .await
            .unwrap()
            .map(|d| d.ts),
        Some("1700000000.000005".to_string())
    );
}

#[tokio::test]
async fn find_sent_without_history_scope_is_an_auth_error() {
    init();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/conversations.history"))
        .respond_with(slack_error("missing_scope"))
        .expect(1)
        .mount(&server)
        .await;
    let slack = slack(&server);

    let err = slack
        .find_sent("n-42", "C0PAYMENTS", since())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        DeliveryError::Auth {
            code: "missing_scope".to_string()
        }
    );
}

#[tokio::test]
async fn find_sent_resolves_a_channel_name_through_a_paged_conversations_list() {
    init();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/conversations.list"))
        .and(query_param("types", "public_channel,private_channel"))
        .and(query_param("exclude_archived", "true"))
        .and(query_param("limit", "1000"))
        .and(query_param_is_missing("cursor"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ok": true,
            "channels": [
                {"id": "C0GENERAL", "name": "general", "is_channel": true},
                {"id": "C0PAYDEV", "name": "payments-dev"},
            ],
            "response_metadata": {"next_cursor": "page2"},
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/conversations.list"))
        .and(query_param("cursor", "page2"))
        .and(query_param("types", "public_channel,private_channel"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ok": true,
            "channels": [{"id": "G0PAYMENTS", "name": "payments", "is_private": true}],
            "response_metadata": {"next_cursor": ""},
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/conversations.history"))
        .and(query_param("channel", "G0PAYMENTS"))
        .respond_with(history())
        .expect(2)
        .mount(&server)
        .await;
    let slack = slack(&server);

    let found = slack.find_sent("n-42", "#payments", since()).await.unwrap();
    assert_eq!(
        found,
        Some(Delivered {
            channel: "G0PAYMENTS".to_string(),
            ts: "1700000000.000004".to_string()
        })
    );
    // The name is cached: no second listing.
    assert_eq!(
        slack.find_sent("n-404", "payments", since()).await.unwrap(),
        None
    );
    assert_eq!(
        requests_to(&server, "/api/conversations.list").await.len(),
        2
    );
}

#[tokio::test]
async fn find_sent_with_an_unlisted_channel_name_is_rejected_not_none() {
    init();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/conversations.list"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ok": true,
            "channels": [{"id": "C0GENERAL", "name": "general"}],
            "response_metadata": {"next_cursor": ""},
        })))
        .expect(1)
        .mount(&server)
        .await;
    let slack = slack(&server);

    let err = slack
        .find_sent("n-42", "#secret", since())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        DeliveryError::Rejected {
            code: "channel_not_found".to_string()
        }
    );
    assert!(
        requests_to(&server, "/api/conversations.history")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn find_sent_without_list_scope_is_an_auth_error() {
    init();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/conversations.list"))
        .respond_with(slack_error("missing_scope"))
        .expect(1)
        .mount(&server)
        .await;
    let slack = slack(&server);

    let err = slack
        .find_sent("n-42", "#payments-dev", since())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        DeliveryError::Auth {
            code: "missing_scope".to_string()
        }
    );
}

#[tokio::test]
async fn find_sent_with_an_email_destination_reads_the_opened_dm() {
    init();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/users.lookupByEmail"))
        .and(query_param("email", "ana@example.com"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"ok": true, "user": {"id": "U0ANA"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/conversations.open"))
        // Slack documents `users` as a comma-separated string of ids.
        .and(body_partial_json(json!({"users": "U0ANA"})))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": true, "channel": {"id": "D0ANA"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/conversations.history"))
        .and(query_param("channel", "D0ANA"))
        .respond_with(history())
        .expect(1)
        .mount(&server)
        .await;
    let slack = slack(&server);

    let found = slack
        .find_sent("n-42", "email:ana@example.com", since())
        .await
        .unwrap();
    assert_eq!(
        found,
        Some(Delivered {
            channel: "D0ANA".to_string(),
            ts: "1700000000.000004".to_string()
        })
    );
    assert!(
        requests_to(&server, "/api/conversations.list")
            .await
            .is_empty()
    );
}

#[test]
fn the_token_never_shows_in_debug_output() {
    let token = SlackToken::new("xoxb-secret-123");
    assert_eq!(format!("{token:?}"), "SlackToken(***)");
    assert!(!format!("{:?}", Some(&token)).contains("xoxb"));

    init();
    let settings = SlackSettings::default().with_api_url("http://127.0.0.1:9/api");
    let slack = Slack::new(token, settings).unwrap();
    assert!(!format!("{slack:?}").contains("xoxb"));
}

#[test]
fn the_token_comes_from_the_environment_or_a_file() {
    let none = |_: &str| None;
    assert!(SlackToken::from_lookup(none).unwrap().is_none());

    let direct =
        SlackToken::from_lookup(|name| (name == "SLACK_BOT_TOKEN").then(|| "xoxb-a\n".to_string()));
    assert_eq!(direct.unwrap(), Some(SlackToken::new("xoxb-a")));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "  xoxb-from-secret\n").unwrap();
    let file_name = file.display().to_string();
    let from_file =
        SlackToken::from_lookup(|name| (name == "SLACK_BOT_TOKEN_FILE").then(|| file_name.clone()));
    assert_eq!(
        from_file.unwrap(),
        Some(SlackToken::new("xoxb-from-secret"))
    );

    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let empty_name = empty.display().to_string();
    let err = SlackToken::from_lookup(|name| {
        (name == "SLACK_BOT_TOKEN_FILE").then(|| empty_name.clone())
    })
    .unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");

    let missing_name = dir.path().join("missing").display().to_string();
    let err = SlackToken::from_lookup(|name| {
        (name == "SLACK_BOT_TOKEN_FILE").then(|| missing_name.clone())
    })
    .unwrap_err();
    assert!(err.to_string().contains("cannot read"), "{err}");
}

#[test]
fn the_api_url_comes_from_the_environment() {
    assert_eq!(
        SlackSettings::from_lookup(|_| None).api_url,
        "https://slack.com/api"
    );
    let custom = SlackSettings::from_lookup(|name| {
        (name == "SLACK_API_URL").then(|| "http://127.0.0.1:9/api/".to_string())
    });
    assert_eq!(custom.api_url, "http://127.0.0.1:9/api/");
    assert_eq!(custom.max_retries, 3);
    assert_eq!(custom.backoff_base, Duration::from_secs(1));
}

#[tokio::test]
async fn the_api_url_works_without_a_trailing_slash() {
    init();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(ok_post("C1", "1700000000.000600"))
        .expect(1)
        .mount(&server)
        .await;
    let settings = SlackSettings::default().with_api_url(format!("{}/api", server.uri()));
    let slack = Slack::new(SlackToken::new(TOKEN), settings).unwrap();

    assert_eq!(
        slack.send(&["n-1"], &message("C1")).await.unwrap().ts,
        "1700000000.000600"
    );
}
