//! `forewarn serve`: answers `/policy` over HTTP (and Socket Mode), with health and metrics;
//! also the shutdown signal and server wiring that `run` shares.
//!
//! Wires the edges together; answers are computed in `chat`.

use super::run::slack_settings;
use super::{EXIT_OK, SourceArgs};
use crate::config::Config;
use crate::render::Renderer;
use anyhow::Context;
use clap::Args;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Address for the HTTP endpoints.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8080")]
    pub listen: String,
}

pub(super) fn cmd_serve(args: ServeArgs) -> anyhow::Result<u8> {
    let config = Config::load(&args.source.config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let source = crate::inventory::source::open(&args.source.spec(&config)?).await?;
        // With a bot token, callers are matched to teams by email too.
        let slack = match crate::deliver::slack::SlackToken::from_env()? {
            Some(token) => Some(Arc::new(crate::deliver::slack::Slack::new(
                token,
                slack_settings(&config),
            )?)),
            None => None,
        };
        let state = server_state(&config, slack, None)?;
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let shutdown = Shutdown::new();
        let loader = tokio::spawn(crate::chat::http::keep_loaded(
            state.clone(),
            source.clone(),
            source.refresh_every(),
        ));
        let socket = spawn_socket_mode(state.clone(), shutdown.wait())?;
        tokio::spawn(shutdown.on_signal());
        crate::chat::http::serve(listener, state, shutdown.wait()).await?;
        loader.abort();
        if let Some(s) = socket {
            let _ = s.await;
        }
        Ok(EXIT_OK)
    })
}

/// One shutdown signal (Ctrl-C or SIGTERM), owned here and handed to every task.
pub(super) struct Shutdown {
    tx: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Shutdown {
    pub(super) fn new() -> Self {
        Self {
            tx: Arc::new(tokio::sync::watch::channel(false).0),
        }
    }

    /// Resolves once shutdown was asked for.
    pub(super) fn wait(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.tx.subscribe();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    }

    /// Waits for the OS signal, then tells every task.
    pub(super) fn on_signal(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let tx = self.tx.clone();
        async move {
            shutdown_signal().await;
            tx.send_replace(true);
        }
    }
}

pub(super) fn server_state(
    config: &Config,
    slack: Option<Arc<crate::deliver::slack::Slack>>,
    delivery: Option<&crate::deliver::metrics::DeliveryMetrics>,
) -> anyhow::Result<Arc<crate::chat::http::AppState>> {
    let secret = crate::chat::verify::SigningSecret::from_env()?;
    if secret.is_none() {
        tracing::warn!("SLACK_SIGNING_SECRET is not set: /slack/commands refuses every request");
    }
    let mut state = crate::chat::http::AppState::new(
        Arc::new(config.clone()),
        Arc::new(Renderer::for_config(config)?),
        secret,
    );
    if let Some(d) = delivery {
        d.register(state.metrics.registry_mut());
    }
    if let Some(slack) = slack {
        slack.counters().register(state.metrics.registry_mut());
        state.directory = Some(slack);
    }
    state.responder = Some(crate::deliver::slack::hyper_client(
        crate::deliver::slack::DEFAULT_API_URL,
        false,
    )?);
    Ok(Arc::new(state))
}

/// Starts Socket Mode when SLACK_APP_TOKEN is set.
pub(super) fn spawn_socket_mode(
    state: Arc<crate::chat::http::AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let Some(token) = crate::chat::socket::AppToken::from_env()? else {
        return Ok(None);
    };
    Ok(Some(tokio::spawn(async move {
        if let Err(e) = crate::chat::socket::serve_socket_mode(token, state, shutdown).await {
            tracing::error!(error = %format!("{e:#}"), "Socket Mode stopped");
        }
    })))
}

/// Resolves on Ctrl-C or SIGTERM (what Kubernetes sends before killing a pod).
pub(super) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
