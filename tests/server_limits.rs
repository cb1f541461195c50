//! The HTTP server cannot be starved: raw TCP clients on 127.0.0.1 that send a partial head,
//! nothing at all, half a body, or hold idle keep-alive connections are cut off in bounded time;
//! connections beyond the cap get 503; a replayed signed request gets 401. Every loop here is
//! bounded in count and time.

mod common;

use common::{example_config, example_inventory};
use forewarn::chat::http::{AppState, ServerLimits, serve_with};
use forewarn::chat::verify::{SigningSecret, sign};
use forewarn::render::Renderer;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SECRET: &str = "test-signing-secret";

/// A body must arrive within this time in these tests.
const BODY_TIMEOUT: Duration = Duration::from_millis(300);

async fn start(limits: ServerLimits) -> (u16, tokio::sync::oneshot::Sender<()>) {
    let config = example_config();
    let renderer = Renderer::for_config(&config).expect("templates");
    let mut state = AppState::new(
        Arc::new(config),
        Arc::new(renderer),
        Some(SigningSecret::new(SECRET)),
    );
    state.body_read_timeout = BODY_TIMEOUT;
    let state = Arc::new(state);
    state.set_inventory(vec![example_inventory()]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve_with(listener, state, limits, async move {
        let _ = rx.await;
    }));
    (port, tx)
}

fn short() -> ServerLimits {
    ServerLimits {
        header_read_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_millis(600),
        max_connections: 64,
    }
}

/// Reads until the server closes the connection (or `limit` passes): what it sent, and whether
/// it closed.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut out = Vec::new();
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    while started.elapsed() < limit {
        match tokio::time::timeout(limit - started.elapsed(), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&out).to_string(), true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    (String::from_utf8_lossy(&out).to_string(), false)
}

#[tokio::test]
async fn a_client_that_sends_nothing_or_half_a_head_is_cut_off() {
    let (port, _stop) = start(short()).await;
    let mut silent = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let mut partial = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    partial
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut silent, Duration::from_secs(3)).await;
    assert!(closed, "a silent client is closed");
    let (_, closed) = read_until_closed(&mut partial, Duration::from_secs(3)).await;
    assert!(closed, "a partial head is closed");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let (port, _stop) = start(short()).await;
    let mut c = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let started = Instant::now();
    let (text, closed) = read_until_closed(&mut c, Duration::from_secs(3)).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(closed, "closed after being idle");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_body_that_never_arrives_gets_408() {
    let (port, _stop) = start(ServerLimits {
        // Long enough not to close the connection while the handler waits for the body.
        idle_timeout: Duration::from_secs(5),
        ..short()
    })
    .await;
    let mut c = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    c.write_all(
        b"POST /slack/commands HTTP/1.1\r\nHost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\ncommand=%2F",
    )
    .await
    .expect("write");
    let started = Instant::now();
    let (text, _) = read_until_closed(&mut c, Duration::from_secs(3)).await;
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn connections_beyond_the_cap_get_503_and_legitimate_ones_still_work() {
    let (port, _stop) = start(ServerLimits {
        header_read_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(5),
        max_connections: 4,
    })
    .await;
    // Four slow clients hold every slot.
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut c = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        c.write_all(b"GET /healthz HTTP/1.1\r\n")
            .await
            .expect("write");
        held.push(c);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..3 {
        let mut c = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let _ = c
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await;
        let (text, closed) = read_until_closed(&mut c, Duration::from_secs(2)).await;
        assert!(text.starts_with("HTTP/1.1 503"), "{text}");
        assert!(closed);
    }
    // Slots free up when the slow clients go: a legitimate request is answered.
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut c = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nconnection: close\r\n\r\n")
        .await
        .expect("write");
    let (text, _) = read_until_closed(&mut c, Duration::from_secs(2)).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
}

#[tokio::test]
async fn a_replayed_signed_request_gets_401() {
    let (port, _stop) = start(short()).await;
    let body = "command=%2Fpolicy&text=help&user_id=U1&channel_id=C1&channel_name=payments-dev";
    let ts = chrono::Utc::now().timestamp();
    let signature = sign(
        &SigningSecret::new(SECRET),
        &ts.to_string(),
        body.as_bytes(),
    );
    let request = format!(
        "POST /slack/commands HTTP/1.1\r\nHost: x\r\nconnection: close\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\nx-slack-request-timestamp: {ts}\r\nx-slack-signature: {signature}\r\n\r\n{body}",
        body.len()
    );
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let mut c = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        c.write_all(request.as_bytes()).await.expect("write");
        let (text, _) = read_until_closed(&mut c, Duration::from_secs(3)).await;
        statuses.push(text.lines().next().unwrap_or_default().to_string());
    }
    assert!(statuses[0].starts_with("HTTP/1.1 200"), "{statuses:?}");
    assert!(statuses[1].starts_with("HTTP/1.1 401"), "{statuses:?}");
}

#[test]
fn the_replay_cache_is_bounded_and_forgets_after_the_window() {
    use forewarn::chat::http::{Replay, ReplayCache};
    let cache = ReplayCache::new(3);
    assert_eq!(cache.first_use("a", 1000), Ok(()));
    assert_eq!(cache.first_use("a", 1001), Err(Replay::Seen));
    assert_eq!(cache.first_use("b", 1001), Ok(()));
    assert_eq!(cache.first_use("c", 1002), Ok(()));
    assert_eq!(cache.first_use("d", 1003), Err(Replay::Full));
    // Past the window, old signatures are forgotten (they would fail the timestamp check).
    assert_eq!(cache.first_use("d", 1000 + 601), Ok(()));
    assert!(cache.len() <= 3);
}
