//! Slash-command latency under concurrent signed requests, over real HTTP on 127.0.0.1.
//!
//! Run with `cargo bench --bench commands` (optionally `-- CLIENTS REQUESTS_PER_CLIENT`).
//! It starts the server on the bundled example cluster, sends signed `/policy` requests from
//! several concurrent clients, and prints throughput and latency percentiles. A benchmark, not
//! a test: it asserts nothing about time.

use forewarn::chat::http::AppState;
use forewarn::chat::verify::{SigningSecret, sign};
use forewarn::config::Config;
use forewarn::inventory::snapshot::load_dir;
use forewarn::render::Renderer;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "bench-signing-secret";
const QUESTIONS: [&str; 5] = [
    "why require-run-as-nonroot",
    "why payments-api/Deployment/checkout-api",
    "status payments",
    "exceptions storefront",
    "why require-run-as-non-root",
];

fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let clients = args.first().copied().unwrap_or(32);
    let per_client = args.get(1).copied().unwrap_or(200);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = Config::load(&root.join("config/forewarn.yaml"))?;
    let renderer = Renderer::for_config(&config)?;
    let inventory = load_dir(&root.join("examples/cluster"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let state = Arc::new(AppState::new(Arc::new(config), Arc::new(renderer), Some(SigningSecret::new(SECRET))));
        state.set_inventory(vec![inventory]);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(forewarn::chat::http::serve(listener, state, std::future::pending()));

        let started = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..clients {
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(per_client);
                for i in 0..per_client {
                    let text = QUESTIONS[(c + i) % QUESTIONS.len()];
                    let t = Instant::now();
                    let ok = one_request(addr, text).await;
                    if ok {
                        latencies.push(t.elapsed());
                    }
                }
                latencies
            }));
        }
        let mut all: Vec<Duration> = Vec::new();
        for t in tasks {
            all.extend(t.await?);
        }
        let wall = started.elapsed();
        all.sort();
        let pct = |p: f64| all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1))).copied().unwrap_or_default();
        println!("slash-command benchmark: {clients} concurrent clients × {per_client} requests, example cluster");
        println!("  answered   {} of {}", all.len(), clients * per_client);
        println!("  throughput {:.0} requests/s", all.len() as f64 / wall.as_secs_f64());
        println!("  latency    p50 {:?}  p95 {:?}  p99 {:?}  max {:?}", pct(0.50), pct(0.95), pct(0.99), all.last().copied().unwrap_or_default());
        anyhow::Ok(())
    })
}

/// Sends one signed request and reads the whole reply; true when Slack would accept it (200).
async fn one_request(addr: std::net::SocketAddr, text: &str) -> bool {
    let body = serde_urlencoded::to_string([
        ("command", "/policy"),
        ("text", text),
        ("user_id", "U1"),
        ("channel_id", "C1"),
        ("channel_name", "payments-dev"),
    ])
    .unwrap_or_default();
    let ts = chrono::Utc::now().timestamp().to_string();
    let sig = sign(&SigningSecret::new(SECRET), &ts, body.as_bytes());
    let raw = format!(
        "POST /slack/commands HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nX-Slack-Request-Timestamp: {ts}\r\nX-Slack-Signature: {sig}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return false;
    };
    if stream.write_all(raw.as_bytes()).await.is_err() {
        return false;
    }
    let mut response = Vec::new();
    if stream.read_to_end(&mut response).await.is_err() {
        return false;
    }
    response.starts_with(b"HTTP/1.1 200")
}
