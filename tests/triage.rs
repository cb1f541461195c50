//! The triage buttons under a heads-up, as Slack delivers clicks: a real heads-up of the
//! example cluster is posted to the fake Slack, then signed `block_actions` payloads arrive at
//! `POST /slack/interactions`. The answer lands in the answer store, the message is updated
//! with `chat.update` (its content kept, a line added under the buttons), and forged, stale,
//! replayed or unknown clicks record nothing.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::fake_slack::FakeSlack;
use common::{example_config, example_inventory, init_tls};
use forewarn::chat::http::{AppState, router};
use forewarn::chat::verify::{SigningSecret, sign};
use forewarn::deliver::Deliver;
use forewarn::deliver::answers::AnswerStore;
use forewarn::deliver::slack::{Slack, SlackSettings, SlackToken};
use forewarn::model::triage::{Triage, TriageKey};
use forewarn::plan::{NoticeKind, Payload};
use forewarn::render::Renderer;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt;

const SECRET: &str = "test-signing-secret";
/// Tuesday 1 December 2026, 08:00 in Berlin.
const NOW: i64 = 1_796_108_400;

struct World {
    slack: FakeSlack,
    state: Arc<AppState>,
    store: Arc<AnswerStore>,
    /// The heads-up as posted: channel, ts, body.
    channel: String,
    ts: String,
    posted: Value,
    key: TriageKey,
    _dir: tempfile::TempDir,
}

/// Posts Payments' heads-up about require-run-as-nonroot to the fake Slack and builds the
/// server state that receives its clicks.
fn world(rt: &tokio::runtime::Runtime) -> World {
    init_tls();
    let slack = FakeSlack::start(7);
    let config = example_config();
    let inv = example_inventory();
    let now = chrono::DateTime::from_timestamp(NOW, 0)
        .expect("time")
        .fixed_offset();
    let plan = forewarn::plan::plan(std::slice::from_ref(&inv), &config, now);
    let notice = plan
        .notices
        .iter()
        .find(|n| {
            n.kind == NoticeKind::Announce
                && n.team.as_deref() == Some("payments")
                && n.policy == "require-run-as-nonroot"
        })
        .expect("a heads-up to Payments");
    let Payload::Announce(Some(key)) = &notice.payload else {
        panic!("a heads-up to a team carries its triage key");
    };
    let renderer = Renderer::for_config(&config).expect("templates");
    let message = renderer.render(notice, &config).expect("render");
    let bot = Arc::new(
        Slack::new(
            SlackToken::new("xoxb-test"),
            SlackSettings::default().with_api_url(slack.api_url()),
        )
        .expect("client"),
    );
    let delivered = rt
        .block_on(bot.send(&[notice.id.to_string().as_str()], &message))
        .expect("posted");
    let posted = slack
        .bodies("chat.postMessage")
        .pop()
        .expect("the post's body");
    let dir = tempfile::tempdir().expect("dir");
    let store = Arc::new(AnswerStore::beside_file_ledger(
        &dir.path().join("ledger.json"),
    ));
    let mut s = AppState::new(
        Arc::new(config),
        Arc::new(renderer),
        Some(SigningSecret::new(SECRET)),
    );
    s.clock = Arc::new(|| chrono::DateTime::from_timestamp(NOW, 0).expect("time"));
    s.directory = Some(bot);
    s.answers = Some(store.clone());
    s.response_hosts = vec!["127.0.0.1".into()];
    s.responder =
        Some(forewarn::deliver::slack::hyper_client(&slack.api_url(), true).expect("responder"));
    let state = Arc::new(s);
    state.set_inventory(vec![inv]);
    World {
        channel: delivered.channel,
        ts: delivered.ts,
        posted,
        key: (**key).clone(),
        store,
        state,
        slack,
        _dir: dir,
    }
}

impl World {
    /// A `block_actions` payload for a click on `action_id` in the posted heads-up (with the
    /// message as Slack sends it back), naming `block_id`.
    fn click(&self, block_id: &str, action_id: &str, date: Option<&str>) -> Value {
        let mut action = json!({
            "type": if date.is_some() { "datepicker" } else { "button" },
            "action_id": action_id, "block_id": block_id, "action_ts": "1796108460.000200"
        });
        if let Some(d) = date {
            action["selected_date"] = json!(d);
        }
        json!({
            "type": "block_actions",
            "user": {"id": "U0MARIA", "username": "maria", "name": "maria", "team_id": "T1"},
            "api_app_id": "A1",
            "token": "unused",
            "team": {"id": "T1", "domain": "example"},
            "container": {"type": "message", "message_ts": self.ts, "channel_id": self.channel, "is_ephemeral": false},
            "trigger_id": "1.2.3",
            "channel": {"id": self.channel, "name": "payments-dev"},
            "message": {"type": "message", "user": "UBOT", "ts": self.ts, "text": self.posted["text"],
                        "blocks": self.posted["blocks"], "metadata": self.posted["metadata"]},
            "response_url": self.slack.response_url(),
            "actions": [action],
            "state": {"values": {}}
        })
    }

    fn block_id(&self) -> String {
        self.key.block_id().expect("block id")
    }

    async fn post(&self, payload: &Value, ts: i64, secret: &str) -> StatusCode {
        let body = serde_urlencoded::to_string([("payload", payload.to_string())]).expect("form");
        let ts = ts.to_string();
        let req = Request::post("/slack/interactions")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", &ts)
            .header(
                "x-slack-signature",
                sign(&SigningSecret::new(secret), &ts, body.as_bytes()),
            )
            .body(Body::from(body))
            .expect("request");
        let res = router(self.state.clone())
            .oneshot(req)
            .await
            .expect("response");
        let status = res.status();
        let _ = res.into_body().collect().await;
        status
    }
}

/// Every text of the message's blocks, one per line.
fn texts(blocks: &Value) -> String {
    let mut out = String::new();
    for b in blocks.as_array().expect("blocks") {
        for t in [&b["text"]["text"], &b["elements"][0]["text"]] {
            if let Some(t) = t.as_str() {
                out.push_str(t);
                out.push('\n');
            }
        }
    }
    out
}

#[test]
fn the_heads_up_carries_three_buttons_named_for_its_cluster_policy_and_team() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let w = world(&rt);
    let blocks = w.posted["blocks"].as_array().expect("blocks");
    let actions: Vec<&Value> = blocks.iter().filter(|b| b["type"] == "actions").collect();
    assert_eq!(actions.len(), 1, "{blocks:?}");
    assert_eq!(
        actions[0]["block_id"],
        json!(format!(
            "fw1|{}|ClusterPolicy||require-run-as-nonroot|payments",
            w.key.cluster
        ))
    );
    let labels: Vec<String> = actions[0]["elements"]
        .as_array()
        .expect("elements")
        .iter()
        .map(|e| {
            e["text"]["text"]
                .as_str()
                .or(e["placeholder"]["text"].as_str())
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(labels, ["Got it", "We'll fix by…", "We need an exception"]);
    assert_eq!(actions[0]["elements"][1]["type"], "datepicker");
}

#[test]
fn got_it_is_recorded_and_the_message_shows_who_answered() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let w = world(&rt);
    let status = rt.block_on(w.post(
        &w.click(&w.block_id(), "forewarn_got_it", None),
        NOW,
        SECRET,
    ));
    assert_eq!(status, StatusCode::OK);
    let answers = rt.block_on(w.store.load()).expect("answers");
    let a = answers.get(&w.key).expect("recorded");
    assert_eq!(a.answer, Triage::GotIt);
    assert_eq!(a.user.as_str(), "U0MARIA");

    let updates = w.slack.bodies("chat.update");
    assert_eq!(updates.len(), 1);
    let u = &updates[0];
    assert_eq!(u["channel"], json!(w.channel));
    assert_eq!(u["ts"], json!(w.ts));
    assert_eq!(u["text"], w.posted["text"], "the fallback text is kept");
    let before = w.posted["blocks"].as_array().expect("blocks");
    let after = u["blocks"].as_array().expect("blocks");
    assert_eq!(after.len(), before.len() + 1, "one line added");
    let at = before
        .iter()
        .position(|b| b["type"] == "actions")
        .expect("buttons");
    assert_eq!(
        &after[..=at],
        &before[..=at],
        "the content up to the buttons is kept"
    );
    assert_eq!(&after[at + 2..], &before[at + 1..], "and what follows them");
    let line = after[at + 1]["elements"][0]["text"].as_str().expect("line");
    assert!(line.contains("Seen by <@U0MARIA> for Payments"), "{line}");
    assert_eq!(
        u["metadata"]["event_payload"]["notice_id"],
        w.posted["metadata"]["event_payload"]["notice_id"],
        "the notice id stays on the message"
    );
}

#[test]
fn a_fix_date_after_the_enforcement_date_is_flagged_and_replaces_the_earlier_answer() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let w = world(&rt);
    let block = w.block_id();
    assert_eq!(
        rt.block_on(w.post(&w.click(&block, "forewarn_got_it", None), NOW, SECRET)),
        StatusCode::OK
    );
    assert_eq!(
        rt.block_on(w.post(
            &w.click(&block, "forewarn_fix_by", Some("2026-12-18")),
            NOW + 1,
            SECRET
        )),
        StatusCode::OK
    );
    let answers = rt.block_on(w.store.load()).expect("answers");
    assert_eq!(answers.len(), 1);
    assert_eq!(
        answers.get(&w.key).map(|a| a.answer),
        Some(Triage::FixBy(
            chrono::NaiveDate::from_ymd_opt(2026, 12, 18).expect("date")
        ))
    );
    let last = w.slack.bodies("chat.update").pop().expect("update");
    let all = texts(&last["blocks"]);
    assert!(
        all.contains("<@U0MARIA>: Payments will fix it by *Fri 18 Dec 2026* — :warning: after the enforcement date (Mon 14 Dec 2026)"),
        "{all}"
    );
    // The second update was made from the message as first posted (Slack sends it back with
    // each click); the line is never doubled.
    assert_eq!(all.matches("<@U0MARIA>").count(), 1, "{all}");
}

#[test]
fn forged_stale_and_replayed_clicks_are_refused_with_401_and_record_nothing() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let w = world(&rt);
    let click = w.click(&w.block_id(), "forewarn_need_exception", None);
    assert_eq!(
        rt.block_on(w.post(&click, NOW, "not-the-secret")),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        rt.block_on(w.post(&click, NOW - 600, SECRET)),
        StatusCode::UNAUTHORIZED,
        "stale"
    );
    assert!(rt.block_on(w.store.load()).expect("load").is_empty());
    assert!(w.slack.bodies("chat.update").is_empty());
    // Signed once, accepted once.
    let body = serde_urlencoded::to_string([("payload", click.to_string())]).expect("form");
    let ts = NOW.to_string();
    let signature = sign(&SigningSecret::new(SECRET), &ts, body.as_bytes());
    let request = || {
        Request::post("/slack/interactions")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", &ts)
            .header("x-slack-signature", &signature)
            .body(Body::from(body.clone()))
            .expect("request")
    };
    let first = rt
        .block_on(router(w.state.clone()).oneshot(request()))
        .expect("response");
    assert_eq!(first.status(), StatusCode::OK);
    let again = rt
        .block_on(router(w.state.clone()).oneshot(request()))
        .expect("response");
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED, "replayed");
    let updates = w.slack.bodies("chat.update");
    assert_eq!(updates.len(), 1);
    // The answer line points to where exceptions are requested (`exceptions.request-url`).
    let line = updates[0]["blocks"].to_string();
    assert!(
        line.contains("needs an exception — <https://wiki.example.com/platform/exceptions/request|request it here>; the platform team will follow up"),
        "{line}"
    );
}

#[test]
fn a_click_naming_an_unknown_team_or_policy_is_refused_with_a_reason_only_the_clicker_sees() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let w = world(&rt);
    let cluster = w.key.cluster.to_string();
    for (block, says) in [
        (
            format!("fw1|{cluster}|ClusterPolicy||require-run-as-nonroot|nobody"),
            "forewarn knows no team 'nobody'",
        ),
        (
            format!("fw1|{cluster}|ClusterPolicy||no-such-policy|payments"),
            "there is no policy ClusterPolicy:no-such-policy in cluster",
        ),
        (
            "fw1|elsewhere|ClusterPolicy||require-run-as-nonroot|payments".to_string(),
            "does not read a cluster 'elsewhere'",
        ),
        (
            format!("fw1|{cluster}|Deployment||x|payments"),
            "'Deployment' is not a policy kind",
        ),
    ] {
        let status = rt.block_on(w.post(&w.click(&block, "forewarn_got_it", None), NOW, SECRET));
        assert_eq!(status, StatusCode::OK, "{block}");
        let told = w.slack.bodies("response").pop().expect("told");
        let text = told["text"].as_str().unwrap_or_default();
        assert!(
            text.contains("forewarn did not record this answer") && text.contains(says),
            "{block}: {text}"
        );
        assert_eq!(told["replace_original"], json!(false), "the heads-up stays");
    }
    assert!(rt.block_on(w.store.load()).expect("load").is_empty());
    assert!(w.slack.bodies("chat.update").is_empty());
}

/// Replicas answering clicks at the same moment on the ConfigMap store: every click is kept
/// (a 409 re-reads and applies the answer again), none overwrites another team's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_clicks_on_the_configmap_store_are_all_kept() {
    use forewarn::model::ids::{ClusterName, PolicyKind, PolicyRef};
    use forewarn::model::triage::{SlackUser, TriageAnswer};
    init_tls();
    let fake = common::fake_kube::FakeKube::start(&[]).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        // One store value per writer, as one per replica.
        let store =
            AnswerStore::beside_configmap_ledger(fake.client(), "forewarn", "forewarn-ledger");
        let answer = TriageAnswer {
            key: TriageKey {
                cluster: ClusterName::parse("prod").expect("name"),
                policy: PolicyRef {
                    kind: PolicyKind::ClusterPolicy,
                    namespace: None,
                    name: "require-run-as-nonroot".into(),
                    parent: None,
                },
                team: forewarn::model::ids::TeamKey::parse(&format!("team-{i}")).expect("team"),
            },
            answer: Triage::NeedException,
            user: SlackUser::parse("U1").expect("user"),
            user_name: None,
            at: chrono::Utc::now().fixed_offset(),
        };
        tasks.push(tokio::spawn(async move { store.record(&answer).await }));
    }
    for t in tasks {
        t.await.expect("task").expect("recorded");
    }
    let store = AnswerStore::beside_configmap_ledger(fake.client(), "forewarn", "forewarn-ledger");
    assert_eq!(
        store.describe(),
        "ConfigMap forewarn/forewarn-ledger-answers"
    );
    let all = store.load().await.expect("load");
    assert_eq!(all.len(), 8, "every click kept");
    assert!(
        fake.configmap("forewarn", "forewarn-ledger-answers")
            .is_some()
    );
}

/// Who answered, and who has not, as the platform reads it: the readiness notice, the platform
/// digest and `/policy status` list the answers of the teams the flip would block (a fix date
/// after the enforcement date flagged) and the teams still silent.
#[test]
fn readiness_digest_and_status_list_the_answers_and_the_teams_that_have_not_answered() {
    use forewarn::model::ids::{PolicyKind, PolicyRef};
    use forewarn::model::triage::{Answers, SlackUser, TriageAnswer};
    let config = example_config();
    let inv = example_inventory();
    let answered = |team: &str, answer: Triage, user: &str, name: Option<&str>| TriageAnswer {
        key: TriageKey {
            cluster: inv.cluster.clone(),
            policy: PolicyRef {
                kind: PolicyKind::ClusterPolicy,
                namespace: None,
                name: "require-run-as-nonroot".into(),
                parent: None,
            },
            team: forewarn::model::ids::TeamKey::parse(team).expect("team"),
        },
        answer,
        user: SlackUser::parse(user).expect("user"),
        user_name: name.map(str::to_string),
        at: common::at("2026-12-01T10:00:00+01:00"),
    };
    let list = vec![
        answered(
            "payments",
            Triage::FixBy(chrono::NaiveDate::from_ymd_opt(2026, 12, 18).expect("date")),
            "U0MARIA",
            Some("maria"),
        ),
        answered("data", Triage::GotIt, "U0DATA", None),
    ];
    let history = forewarn::plan::History {
        answers: Some(Answers::new(list.clone())),
        ..Default::default()
    };
    let planned = forewarn::plan::plan_with(
        std::slice::from_ref(&inv),
        &config,
        common::at("2026-12-01T08:00:00+01:00"),
        &history,
    );
    let renderer = Renderer::for_config(&config).expect("templates");
    let shown = |id: &str| {
        let n = planned
            .notices
            .iter()
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("{id} planned"));
        forewarn::render::to_text(&renderer.render(n, &config).expect("render"))
    };
    let answers_line = "*Answers:* Data platform has seen it (U0DATA) · Payments will fix by Fri 18 Dec 2026 :warning: after the enforcement date (maria)";
    let silent_line = "*No answer yet from:* Storefront";
    let readiness = shown("readiness/require-run-as-nonroot/T-3");
    assert!(readiness.contains(answers_line), "{readiness}");
    assert!(readiness.contains(silent_line), "{readiness}");
    let digest = shown("digest/platform/2026-12-07");
    let row = digest
        .split("\n\n")
        .find(|s| s.contains("(`require-run-as-nonroot`)"))
        .expect("the flip's row");
    assert!(row.contains(answers_line), "{row}");
    assert!(row.contains(silent_line), "{row}");
    // Another flip: nobody answered it yet.
    let other = digest
        .split("\n\n")
        .find(|s| s.contains("(`disallow-host-path`)"))
        .expect("another row");
    assert!(
        other.contains("*No answer yet from:* Data platform, Storefront"),
        "{other}"
    );

    // `/policy status` reads the answer store.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("dir");
    let store = Arc::new(AnswerStore::File(dir.path().join("answers.json")));
    for a in &list {
        rt.block_on(store.record(a)).expect("recorded");
    }
    let mut s = AppState::new(
        Arc::new(config),
        Arc::new(renderer),
        Some(SigningSecret::new(SECRET)),
    );
    s.clock = Arc::new(|| chrono::DateTime::from_timestamp(NOW, 0).expect("time"));
    s.answers = Some(store);
    let state = Arc::new(s);
    state.set_inventory(vec![inv]);
    let (_, reply) = rt.block_on(forewarn::chat::http::respond(
        &state,
        forewarn::chat::request::SlashRequest {
            command: "/policy".into(),
            text: "status".into(),
            user_id: "U0INES".into(),
            user_name: None,
            channel_id: "CPLATFORMPOLICY".into(),
            channel_name: Some("platform-policy".into()),
            team_id: None,
            response_url: None,
            trigger_id: None,
            api_app_id: None,
            enterprise_id: None,
            is_enterprise_install: None,
        },
    ));
    let all = texts(&reply["blocks"]);
    let item = all
        .split("*Require runAsNonRoot*")
        .nth(1)
        .expect("the policy's item");
    assert!(item.contains(answers_line), "{all}");
    assert!(item.contains(silent_line), "{all}");
}

/// A fake Socket Mode server: each connection gets `hello`; the first then receives `frames`
/// one at a time, each sent once the previous one was acknowledged. Every frame the client
/// sends back (the acks) goes to the returned channel.
async fn fake_socket_mode(
    frames: Vec<Value>,
) -> (String, tokio::sync::mpsc::UnboundedReceiver<Value>) {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message as Frame;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "ws://127.0.0.1:{}/link/?ticket=t1",
        listener.local_addr().expect("addr").port()
    );
    let (acks, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut frames = Some(frames);
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                continue;
            };
            let mine = frames.take().unwrap_or_default();
            let acks = acks.clone();
            tokio::spawn(async move {
                let hello = json!({"type": "hello", "num_connections": 1,
                    "debug_info": {"host": "fake-socket-mode", "build_number": 1, "approximate_connection_time": 18060},
                    "connection_info": {"app_id": "A1"}});
                if ws.send(Frame::text(hello.to_string())).await.is_err() {
                    return;
                }
                for frame in mine {
                    if ws.send(Frame::text(frame.to_string())).await.is_err() {
                        return;
                    }
                    // Wait for this envelope's ack before the next one.
                    while let Some(Ok(msg)) = ws.next().await {
                        if let Frame::Text(t) = msg {
                            let v: Value = serde_json::from_str(t.as_str()).unwrap_or_default();
                            let done = v["envelope_id"] == frame["envelope_id"];
                            let _ = acks.send(v);
                            if done {
                                break;
                            }
                        }
                    }
                }
                // Keep the connection open (answering pings) until the client leaves.
                while let Some(Ok(_)) = ws.next().await {}
            });
        }
    });
    (url, rx)
}

/// Socket Mode end to end: `apps.connections.open` gives the URL of a local fake server,
/// which says hello, sends a `/policy status` command and then a click on the heads-up's date
/// picker; both envelopes are acknowledged (the command's ack carries the answer), the answer
/// is recorded and the message updated.
#[test]
fn socket_mode_answers_a_command_and_records_a_click_and_acks_both() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let w = world(&rt);
    let command = json!({
        "envelope_id": "env-command", "type": "slash_commands", "accepts_response_payload": true,
        "payload": {
            "token": "unused", "team_id": "T1", "team_domain": "example",
            "channel_id": "CPLATFORMPOLICY", "channel_name": "platform-policy",
            "user_id": "U0INES", "user_name": "ines", "command": "/policy", "text": "status",
            "api_app_id": "A1", "is_enterprise_install": "false",
            "response_url": "https://hooks.slack.com/commands/T1/1/abc", "trigger_id": "1.2.3"
        }
    });
    // The date picker's click as Socket Mode delivers it: the date also in the state.
    let mut click = w.click(&w.block_id(), "forewarn_fix_by", Some("2026-12-11"));
    click["state"] = json!({"values": {w.block_id(): {"forewarn_fix_by":
        {"type": "datepicker", "selected_date": "2026-12-11"}}}});
    let interactive = json!({
        "envelope_id": "env-click", "type": "interactive", "accepts_response_payload": false,
        "payload": click
    });
    let (url, mut acks) = rt.block_on(fake_socket_mode(vec![command, interactive]));
    w.slack.set_socket_url(&url);
    let token = forewarn::chat::socket::AppToken::new("xapp-1-A1-1-fakefakefake").expect("token");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (api_url, state) = (w.slack.api_url(), w.state.clone());
    let listener = rt.spawn(async move {
        forewarn::chat::socket::serve_socket_mode_at(&api_url, token, state, async {
            let _ = stopped.await;
        })
        .await
    });
    let (command_ack, click_ack) = rt.block_on(async {
        let limit = std::time::Duration::from_secs(30);
        let mut got = std::collections::BTreeMap::new();
        while got.len() < 2 {
            let ack = tokio::time::timeout(limit, acks.recv())
                .await
                .expect("acks arrive")
                .expect("server running");
            if let Some(id) = ack["envelope_id"].as_str() {
                got.insert(id.to_string(), ack);
            }
        }
        (got["env-command"].clone(), got["env-click"].clone())
    });
    assert_eq!(click_ack["envelope_id"], "env-click");
    let answer = texts(&command_ack["payload"]["blocks"]);
    assert!(answer.contains("Require runAsNonRoot"), "{command_ack}");
    assert_eq!(command_ack["payload"]["response_type"], "ephemeral");

    let answers = rt.block_on(w.store.load()).expect("answers");
    assert_eq!(
        answers.get(&w.key).map(|a| a.answer),
        Some(Triage::FixBy(
            chrono::NaiveDate::from_ymd_opt(2026, 12, 11).expect("date")
        ))
    );
    let update = w.slack.bodies("chat.update").pop().expect("updated");
    let all = texts(&update["blocks"]);
    assert!(
        all.contains("<@U0MARIA>: Payments will fix it by *Fri 11 Dec 2026*"),
        "{all}"
    );
    assert!(!all.contains("after the enforcement date"), "{all}");
    let _ = stop.send(());
    rt.block_on(listener)
        .expect("listener task")
        .expect("listener ran");
}

/// A preview (`plan`, `render`) reads no answer store: it lists no answers and does not claim
/// that nobody answered.
#[test]
fn without_an_answer_store_nothing_is_claimed_about_answers() {
    let config = example_config();
    let planned = forewarn::plan::plan(
        std::slice::from_ref(&example_inventory()),
        &config,
        common::at("2026-12-01T08:00:00+01:00"),
    );
    let renderer = Renderer::for_config(&config).expect("templates");
    for id in [
        "readiness/require-run-as-nonroot/T-3",
        "digest/platform/2026-12-07",
    ] {
        let n = planned
            .notices
            .iter()
            .find(|n| n.id == id)
            .expect("planned");
        let text = forewarn::render::to_text(&renderer.render(n, &config).expect("render"));
        assert!(!text.contains("No answer yet"), "{id}: {text}");
        assert!(!text.contains("*Answers:*"), "{id}: {text}");
    }
}

/// A mistake in the words of the answered line is found by `forewarn check`, before anyone
/// clicks a button.
#[test]
fn check_finds_a_mistake_in_the_triage_words() {
    let dir = tempfile::tempdir().expect("dir");
    let templates = dir.path().join("templates");
    std::fs::create_dir_all(&templates).expect("mkdir");
    let builtin =
        std::fs::read_to_string(common::root().join("templates/triage.hbs")).expect("builtin");
    std::fs::write(
        templates.join("triage.hbs"),
        builtin.replace("{{team}} will fix it by", "{{teem}} will fix it by"),
    )
    .expect("write");
    let text =
        std::fs::read_to_string(common::root().join("config/forewarn.yaml")).expect("config");
    let cfg = dir.path().join("forewarn.yaml");
    std::fs::write(
        &cfg,
        format!("{text}\ntemplates: {}\n", templates.display()),
    )
    .expect("write");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_forewarn"))
        .args([
            "check",
            "--snapshot",
            "examples/cluster",
            "--now",
            "2026-12-01",
        ])
        .arg("--config")
        .arg(&cfg)
        .current_dir(common::root())
        .output()
        .expect("check");
    let out = common::printed(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("templates (triage buttons)") && out.contains("teem"),
        "{out}"
    );
}
