//! `forewarn serve`: answers `/policy` over HTTP (and Socket Mode), with health and metrics,
//! and the review page when FOREWARN_REVIEW_TOKEN is set;
//! also the shutdown signal and server wiring that `run` shares.
//!
//! Wires the edges together; answers are computed in `chat`.

use super::run::slack_settings;
use super::{EXIT_OK, SourceArgs};
use crate::chat::review_page::HistoryReader;
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
    /// The file ledger `run --state` keeps: `/review` (with FOREWARN_REVIEW_TOKEN) reads the
    /// audit history beside it, without its lock, and the answers of the triage buttons are
    /// recorded beside it (as `run` does).
    #[arg(long, value_name = "PATH", default_value = "forewarn-ledger.json")]
    pub state: std::path::PathBuf,
    /// Read the audit history for `/review`, and record the triage answers, beside the
    /// ConfigMap ledger `configmap:NAME` instead of --state.
    #[arg(long, value_name = "configmap:NAME")]
    pub ledger: Option<String>,
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
        let history = history_reader(&args).await?;
        let answers = answer_store(&args).await?;
        let state = server_state(&config, slack, None, history, Some(answers))?;
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

/// Where `/review` reads the audit history: beside the file ledger (read without its lock)
/// or the ConfigMap ledger (re-read at each request).
async fn history_reader(args: &ServeArgs) -> anyhow::Result<HistoryReader> {
    use crate::deliver::ledger::history;
    match super::configmap_ledger(args.ledger.as_deref())? {
        None => {
            let path = history::file_path(&args.state);
            Ok(Arc::new(move || {
                let path = path.clone();
                Box::pin(async move {
                    tokio::task::spawn_blocking(move || history::read_file(&path))
                        .await
                        .map_err(|e| e.to_string())?
                        .map_err(|e| e.to_string())
                })
            }))
        }
        Some(name) => {
            let (kube_config, namespace) =
                super::own_cluster(args.source.context.first().map(String::as_str)).await?;
            let client = kube::Client::try_from(kube_config)?;
            let name = name.to_string();
            Ok(Arc::new(move || {
                let (client, namespace, name) = (client.clone(), namespace.clone(), name.clone());
                Box::pin(async move {
                    history::ConfigMapHistory::open(client, &namespace, &name)
                        .await
                        .map(|h| h.progress().clone())
                        .map_err(|e| e.to_string())
                })
            }))
        }
    }
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

/// Where the triage answers are recorded: beside the ledger `--ledger configmap:NAME` names (the
/// ConfigMap `NAME-answers`), else beside the `--state` file — where `run` records them.
async fn answer_store(
    args: &ServeArgs,
) -> anyhow::Result<Arc<crate::deliver::answers::AnswerStore>> {
    use crate::deliver::answers::AnswerStore;
    let Some(name) = super::configmap_ledger(args.ledger.as_deref())? else {
        return Ok(Arc::new(AnswerStore::beside_file_ledger(&args.state)));
    };
    let (kube_config, namespace) =
        super::own_cluster(args.source.context.first().map(String::as_str)).await?;
    let client = kube::Client::try_from(kube_config)?;
    Ok(Arc::new(AnswerStore::beside_configmap_ledger(
        client, &namespace, name,
    )))
}

pub(super) fn server_state(
    config: &Config,
    slack: Option<Arc<crate::deliver::slack::Slack>>,
    delivery: Option<&crate::deliver::metrics::DeliveryMetrics>,
    history: HistoryReader,
    answers: Option<Arc<crate::deliver::answers::AnswerStore>>,
) -> anyhow::Result<Arc<crate::chat::http::AppState>> {
    let secret = crate::chat::verify::SigningSecret::from_env()?;
    let review_token = crate::config::secret::from_env(crate::chat::review_page::TOKEN_VAR)?;
    if secret.is_none() {
        tracing::warn!(
            "SLACK_SIGNING_SECRET is not set: /slack/commands and /slack/interactions refuse every request"
        );
    }
    let mut state = crate::chat::http::AppState::new(
        Arc::new(config.clone()),
        Arc::new(Renderer::for_config(config)?),
        secret,
    );
    if let Some(d) = delivery {
        d.register(state.metrics.registry_mut());
    }
    if let Some(store) = &answers {
        tracing::info!(store = %store.describe(), "triage answers are recorded here");
    }
    state.answers = answers;
    if let Some(slack) = slack {
        slack.counters().register(state.metrics.registry_mut());
        state.directory = Some(slack);
    }
    state.review =
        review_token.map(|token| crate::chat::review_page::ReviewPage { token, history });
    if state.review.is_none() {
        tracing::info!("FOREWARN_REVIEW_TOKEN is not set: /review and /review.json are not served");
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
