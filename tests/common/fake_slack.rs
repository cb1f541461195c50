//! A fake Slack Web API on 127.0.0.1 that can misbehave the way networks and Slack do, for the
//! fault-injection tests and the tests that run the real binary.
//!
//! A plain HTTP/1.1 server on a raw TCP socket (so it can close a connection mid-answer, hang, or
//! answer garbage), on its own Tokio runtime in a background thread. It keeps every message
//! "posted" as a channel history (channel id, the notice ids from `metadata.event_payload`, ts)
//! and answers `chat.postMessage`, `conversations.history` (with `oldest` and the metadata),
//! `conversations.list`, `users.lookupByEmail`, `conversations.open` — only when `users` is a
//! comma-separated string of user ids, as Slack documents it (an array is refused with
//! `invalid_arguments`) — and `chat.update`, and takes posts to `/response/…` as a
//! `response_url` would; `apps.connections.open` answers the URL of a fake Socket Mode server
//! (see [`FakeSlack::set_socket_url`]).
//!
//! Faults come from a seeded generator, so a failing schedule can be replayed by its seed.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the fake does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answers normally.
    None,
    /// Posts the message, then answers 503.
    PostThen503,
    /// Posts the message, then closes the connection without answering.
    PostThenClose,
    /// Posts the message, then never answers (until the client gives up).
    PostThenHang,
    /// Posts the message, then answers 200 with an HTML page.
    PostThenHtml,
    /// Does not post; answers 429 with `Retry-After: 1`.
    RateLimited,
    /// Does not post; answers 429 with `Retry-After: 3600`.
    RateLimitedForAnHour,
    /// Does not post; answers 500.
    ServerError,
    /// Does not post; closes the connection without answering.
    Close,
    /// Does not post; never answers.
    Hang,
}

pub const ALL_FAULTS: [Fault; 8] = [
    Fault::PostThen503,
    Fault::PostThenClose,
    Fault::PostThenHang,
    Fault::PostThenHtml,
    Fault::RateLimited,
    Fault::ServerError,
    Fault::Close,
    Fault::Hang,
];

/// One message in a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub channel: String,
    /// The first notice id the message carries (the only one, unless batched).
    pub notice_id: String,
    /// Every notice id the message carries (`metadata.event_payload.notice_ids`).
    pub notice_ids: Vec<String>,
    pub ts: String,
    pub text: String,
    /// The channel as the request named it (`#data`, or an ID).
    pub to: String,
    /// The message's blocks, as JSON text.
    pub blocks: String,
}

/// A small deterministic generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

#[derive(Debug)]
struct State {
    history: Vec<Posted>,
    rng: Rng,
    /// Percent of requests that meet a fault (0: a healthy Slack).
    fault_percent: u64,
    /// The faults drawn from.
    kinds: Vec<Fault>,
    /// Only requests to these methods meet faults (empty: all).
    methods: Vec<String>,
    /// Whether `conversations.history` is allowed (false: `missing_scope`).
    history_scope: bool,
    /// How long a hanging answer hangs before the connection is dropped.
    hang: Duration,
    seq: u64,
    /// The channels `conversations.list` lists, by name.
    channels: Vec<String>,
    /// Requests per method, and faults served.
    calls: BTreeMap<String, u64>,
    faults: Vec<(String, Fault)>,
    /// The JSON bodies of `chat.postMessage`, `chat.update` and `/response/…` requests, in
    /// order.
    bodies: Vec<(String, Value)>,
    /// What `apps.connections.open` answers (a Socket Mode WebSocket URL).
    socket_url: Option<String>,
    /// `users` of each `conversations.open`, as received.
    opened: Vec<Value>,
}

/// A running fake Slack. Dropping it stops the server.
pub struct FakeSlack {
    pub port: u16,
    state: Arc<Mutex<State>>,
    _runtime: tokio::runtime::Runtime,
}

/// The channel id the fake gives a `#name`.
pub fn channel_id(name: &str) -> String {
    let n = name.trim_start_matches('#');
    if n.starts_with('C')
        && n.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return n.to_string();
    }
    format!(
        "C{}",
        n.chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_uppercase()
    )
}

impl FakeSlack {
    /// Starts a healthy fake with the faults of `seed` switched off.
    pub fn start(seed: u64) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let state = Arc::new(Mutex::new(State {
            history: Vec::new(),
            rng: Rng::new(seed),
            fault_percent: 0,
            kinds: ALL_FAULTS.to_vec(),
            methods: Vec::new(),
            history_scope: true,
            hang: Duration::from_secs(3),
            seq: 0,
            channels: [
                "payments-dev",
                "data-eng",
                "platform-policy",
                "search-oncall",
                "storefront",
            ]
            .map(String::from)
            .to_vec(),
            calls: BTreeMap::new(),
            faults: Vec::new(),
            bodies: Vec::new(),
            socket_url: None,
            opened: Vec::new(),
        }));
        let listener =
            runtime.block_on(async { TcpListener::bind("127.0.0.1:0").await.expect("bind") });
        let port = listener.local_addr().expect("addr").port();
        let st = state.clone();
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(connection(stream, st.clone()));
            }
        });
        Self {
            port,
            state,
            _runtime: runtime,
        }
    }

    /// The base URL for `SLACK_API_URL`.
    pub fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}/api", self.port)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// From now on, this percentage of requests meets a random fault.
    pub fn set_fault_percent(&self, percent: u64) {
        self.lock().fault_percent = percent;
    }

    /// From now on, faults are drawn from `kinds`, for requests to `methods` only (empty: all).
    pub fn set_fault_kinds(&self, kinds: &[Fault], methods: &[&str]) {
        let mut s = self.lock();
        s.kinds = kinds.to_vec();
        s.methods = methods.iter().map(|m| m.to_string()).collect();
    }

    /// Channels (names without `#`) that exist besides the example cluster's.
    pub fn add_channels(&self, names: &[&str]) {
        self.lock()
            .channels
            .extend(names.iter().map(|n| n.to_string()));
    }

    pub fn set_history_scope(&self, allowed: bool) {
        self.lock().history_scope = allowed;
    }

    pub fn set_hang(&self, hang: Duration) {
        self.lock().hang = hang;
    }

    /// Every message in every channel, in posting order.
    pub fn posted(&self) -> Vec<Posted> {
        self.lock().history.clone()
    }

    /// How many times each notice id was posted (in any message that carries it).
    pub fn counts(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for p in self.lock().history.iter() {
            for id in &p.notice_ids {
                *out.entry(id.clone()).or_default() += 1;
            }
        }
        out
    }

    /// The `users` of every `conversations.open` request, as sent.
    pub fn opened(&self) -> Vec<Value> {
        self.lock().opened.clone()
    }

    pub fn calls(&self, method: &str) -> u64 {
        self.lock().calls.get(method).copied().unwrap_or(0)
    }

    /// The faults served so far, as (method, fault).
    pub fn faults(&self) -> Vec<(String, Fault)> {
        self.lock().faults.clone()
    }

    /// The JSON bodies received by `method` (`chat.postMessage`, `chat.update`, or
    /// `response` for posts to a `response_url`), in order.
    pub fn bodies(&self, method: &str) -> Vec<Value> {
        self.lock()
            .bodies
            .iter()
            .filter(|(m, _)| m == method)
            .map(|(_, b)| b.clone())
            .collect()
    }

    /// Makes `apps.connections.open` answer `url` (a local fake Socket Mode server).
    pub fn set_socket_url(&self, url: &str) {
        self.lock().socket_url = Some(url.to_string());
    }

    /// A `response_url` served by this fake.
    pub fn response_url(&self) -> String {
        format!("http://127.0.0.1:{}/response/T1/1/abc", self.port)
    }
}

/// One parsed request.
struct Request {
    method_path: String,
    query: BTreeMap<String, String>,
    body: Vec<u8>,
}

async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Request> {
    let header_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let mut lines = head.split("\r\n");
    let target = lines.next()?.split_whitespace().nth(1)?.to_string();
    let length: usize = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[header_end..header_end + length].to_vec();
    buf.drain(..header_end + length);
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let query = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    Some(Request {
        method_path: path.trim_start_matches("/api/").to_string(),
        query,
        body,
    })
}

async fn answer(
    stream: &mut TcpStream,
    status: &str,
    extra: &str,
    ctype: &str,
    body: &str,
) -> bool {
    let text = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\n{extra}\r\n{body}",
        body.len()
    );
    stream.write_all(text.as_bytes()).await.is_ok()
}

async fn json_answer(stream: &mut TcpStream, v: Value) -> bool {
    answer(
        stream,
        "200 OK",
        "",
        "application/json; charset=utf-8",
        &v.to_string(),
    )
    .await
}

async fn connection(mut stream: TcpStream, state: Arc<Mutex<State>>) {
    let mut buf = Vec::new();
    while let Some(req) = read_request(&mut stream, &mut buf).await {
        let lock = || state.lock().unwrap_or_else(|e| e.into_inner());
        let (fault, hang) = {
            let mut s = lock();
            *s.calls.entry(req.method_path.clone()).or_default() += 1;
            let percent = s.fault_percent;
            let targeted = s.methods.is_empty() || s.methods.contains(&req.method_path);
            let fault = if targeted && percent > 0 && !s.kinds.is_empty() && s.rng.chance(percent) {
                let n = s.kinds.len() as u64;
                let i = s.rng.below(n) as usize;
                let f = s.kinds[i];
                // Reads cannot "post": their faults are the transport ones.
                let f = if req.method_path == "chat.postMessage" {
                    f
                } else {
                    match f {
                        Fault::PostThen503 | Fault::ServerError => Fault::ServerError,
                        Fault::PostThenClose | Fault::Close => Fault::Close,
                        Fault::PostThenHang | Fault::Hang => Fault::Hang,
                        Fault::PostThenHtml => Fault::ServerError,
                        other => other,
                    }
                };
                s.faults.push((req.method_path.clone(), f));
                f
            } else {
                Fault::None
            };
            (fault, s.hang)
        };
        match fault {
            Fault::RateLimited => {
                let body = json!({"ok": false, "error": "ratelimited"}).to_string();
                if !answer(
                    &mut stream,
                    "429 Too Many Requests",
                    "retry-after: 1\r\n",
                    "application/json",
                    &body,
                )
                .await
                {
                    return;
                }
                continue;
            }
            Fault::RateLimitedForAnHour => {
                let body = json!({"ok": false, "error": "ratelimited"}).to_string();
                if !answer(
                    &mut stream,
                    "429 Too Many Requests",
                    "retry-after: 3600\r\n",
                    "application/json",
                    &body,
                )
                .await
                {
                    return;
                }
                continue;
            }
            Fault::ServerError => {
                if !answer(
                    &mut stream,
                    "500 Internal Server Error",
                    "",
                    "text/plain",
                    "oops",
                )
                .await
                {
                    return;
                }
                continue;
            }
            Fault::Close => return,
            Fault::Hang => {
                tokio::time::sleep(hang).await;
                return;
            }
            _ => {}
        }
        let reply = handle(&req, &state);
        match fault {
            Fault::PostThen503 => {
                if !answer(
                    &mut stream,
                    "503 Service Unavailable",
                    "",
                    "text/plain",
                    "upstream",
                )
                .await
                {
                    return;
                }
            }
            Fault::PostThenClose => return,
            Fault::PostThenHang => {
                tokio::time::sleep(hang).await;
                return;
            }
            Fault::PostThenHtml => {
                if !answer(
                    &mut stream,
                    "200 OK",
                    "",
                    "text/html",
                    "<html><body>Bad gateway</body></html>",
                )
                .await
                {
                    return;
                }
            }
            _ => {
                if !json_answer(&mut stream, reply).await {
                    return;
                }
            }
        }
    }
}

/// The healthy answer to a request (posting the message for `chat.postMessage`).
fn handle(req: &Request, state: &Arc<Mutex<State>>) -> Value {
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
    let method = if req.method_path.starts_with("/response/") {
        "response"
    } else {
        req.method_path.as_str()
    };
    if matches!(method, "chat.postMessage" | "chat.update" | "response") {
        s.bodies.push((method.to_string(), body.clone()));
    }
    match method {
        "response" => json!({"ok": true}),
        "apps.connections.open" => match &s.socket_url {
            Some(url) => json!({"ok": true, "url": url}),
            None => json!({"ok": false, "error": "invalid_auth"}),
        },
        "chat.update" => {
            let channel = body["channel"].as_str().unwrap_or_default().to_string();
            let ts = body["ts"].as_str().unwrap_or_default().to_string();
            if !s.history.iter().any(|p| p.channel == channel && p.ts == ts) {
                return json!({"ok": false, "error": "message_not_found"});
            }
            json!({"ok": true, "channel": channel, "ts": ts, "text": body["text"],
                   "message": {"text": body["text"], "blocks": body["blocks"], "user": "UBOT"}})
        }
        "chat.postMessage" => {
            let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
            let to = body["channel"].as_str().unwrap_or_default().to_string();
            let channel = channel_id(&to);
            s.seq += 1;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            let ts = format!("{}.{:06}", now.as_secs(), s.seq % 1_000_000);
            let notice_ids = super::notice_ids(&body);
            s.history.push(Posted {
                channel: channel.clone(),
                notice_id: notice_ids.first().cloned().unwrap_or_default(),
                notice_ids,
                ts: ts.clone(),
                text: body["text"].as_str().unwrap_or_default().to_string(),
                to,
                blocks: body["blocks"].to_string(),
            });
            json!({"ok": true, "channel": channel, "ts": ts,
                   "message": {"type": "message", "text": "", "ts": ts}})
        }
        "conversations.history" => {
            if !s.history_scope {
                return json!({"ok": false, "error": "missing_scope", "needed": "channels:history"});
            }
            let channel = req.query.get("channel").cloned().unwrap_or_default();
            let oldest: f64 = req
                .query
                .get("oldest")
                .and_then(|o| o.parse().ok())
                .unwrap_or(0.0);
            let messages: Vec<Value> = s
                .history
                .iter()
                .rev()
                .filter(|p| p.channel == channel)
                .filter(|p| p.ts.parse::<f64>().unwrap_or(0.0) >= oldest)
                .map(|p| {
                    json!({"type": "message", "text": p.text, "ts": p.ts,
                       "metadata": {"event_type": "forewarn_notice",
                                    "event_payload": {"notice_ids": p.notice_ids.join(" ")}}})
                })
                .collect();
            json!({"ok": true, "has_more": false, "messages": messages})
        }
        "conversations.list" => {
            let channels: Vec<Value> = s
                .channels
                .iter()
                .map(|n| json!({"id": channel_id(n), "name": n}))
                .collect();
            json!({"ok": true, "channels": channels, "response_metadata": {"next_cursor": ""}})
        }
        "users.lookupByEmail" => {
            let email = req.query.get("email").cloned().unwrap_or_default();
            json!({"ok": true, "user": {"id": format!("U{}", channel_id(&email).trim_start_matches('C')), "name": email}})
        }
        "conversations.open" => {
            let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
            s.opened.push(body["users"].clone());
            match body["users"].as_str() {
                Some(users)
                    if !users.is_empty() && users.split(',').all(|u| u.starts_with('U')) =>
                {
                    json!({"ok": true, "channel": {"id": format!("D{}", users.replace(',', "").trim_start_matches('U'))}})
                }
                _ => json!({"ok": false, "error": "invalid_arguments"}),
            }
        }
        _ => json!({"ok": false, "error": "unknown_method"}),
    }
}
