//! `forewarn run`: the service — every tick, post what is due to Slack once each (or print it
//! without a token), with the file or ConfigMap ledger and optional leader election; `--once` for
//! one tick and an exit code that tells the truth.
//!
//! Wires the edges together; the tick itself lives in `deliver::tick`.

use super::serve::{Shutdown, server_state, spawn_socket_mode};
use super::{EXIT_OK, EXIT_PROBLEMS, SourceArgs, parse_now};
use crate::config::Config;
use crate::deliver::answers::AnswerStore;
use crate::render::Renderer;
use anyhow::Context;
use chrono::{DateTime, FixedOffset, Utc};
use clap::Args;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// The ledger file: what was sent. Keep it on persistent storage.
    #[arg(long, value_name = "PATH", default_value = "forewarn-ledger.json")]
    pub state: PathBuf,
    /// Run one tick now and exit (for a CronJob, or to try it out).
    #[arg(long)]
    pub once: bool,
    /// With --once: the time of that tick (as for `plan`). Defaults to the current time.
    #[arg(long, value_name = "TIME", requires = "once")]
    pub now: Option<String>,
    /// Address for the slash-command, health and metrics endpoints (not with --once).
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8080")]
    pub listen: String,
    /// Keep the ledger in a ConfigMap instead of --state: `configmap:NAME`, in the pod's
    /// namespace (POD_NAMESPACE) or the kubeconfig's. For several replicas.
    #[arg(long, value_name = "configmap:NAME")]
    pub ledger: Option<String>,
    /// Elect a leader through this Lease (in the same namespace): only the leader delivers,
    /// every replica answers slash commands.
    #[arg(long, value_name = "NAME")]
    pub leader_lease: Option<String>,
}

pub(super) fn cmd_run(args: RunArgs) -> anyhow::Result<u8> {
    let config = Config::load(&args.source.config)?;
    let renderer = Renderer::for_config(&config)?;
    if let Some(dir) = &config.templates {
        for (_, message) in crate::render::unknown_template_files(dir) {
            tracing::warn!(templates = %dir.display(), "{message}");
            eprintln!("warning: {}: {message}", dir.display());
        }
    }
    let now = match &args.now {
        Some(_) => Some(parse_now(args.now.as_deref(), &config)?),
        None => None,
    };
    let configmap = super::configmap_ledger(args.ledger.as_deref())?.map(str::to_string);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let source = crate::inventory::source::open(&args.source.spec(&config)?).await?;
        if args.once {
            crate::inventory::source::wait_ready(&source).await?;
        }
        // The cluster that holds the ConfigMap ledger and the Lease: the pod's own.
        let cluster = if configmap.is_some() || args.leader_lease.is_some() {
            Some(super::own_cluster(args.source.context.first().map(String::as_str)).await?)
        } else {
            None
        };
        let leadership = match (&args.leader_lease, &cluster) {
            (Some(lease), Some((kube_config, namespace))) => {
                let client = crate::deliver::leader::election_client(kube_config.clone())?;
                let identity = crate::deliver::leader::default_identity();
                tracing::info!(%lease, %namespace, %identity, "joining the leader election");
                Some(
                    crate::deliver::leader::Leadership::start(client, namespace, lease, &identity)
                        .await?,
                )
            }
            _ => None,
        };
        let leader = leadership.as_ref().map(|l| l.watch());
        let result = match (&configmap, &cluster) {
            (Some(name), Some((kube_config, namespace))) => {
                let client = kube::Client::try_from(kube_config.clone())?;
                let answers = Arc::new(AnswerStore::beside_configmap_ledger(
                    client.clone(),
                    namespace,
                    name,
                ));
                let ledger = crate::deliver::ledger::configmap::ConfigMapLedger::open(
                    client, namespace, name,
                )
                .await?;
                run_with_ledger(
                    &args,
                    &config,
                    &renderer,
                    &source,
                    (tokio::sync::Mutex::new(ledger), answers),
                    now,
                    leader,
                )
                .await
            }
            _ => {
                let (path, wait) = (args.state.clone(), config.delivery.lock_wait);
                let ledger = tokio::task::spawn_blocking(move || {
                    crate::deliver::ledger::FileLedger::open_waiting(&path, wait)
                })
                .await??;
                let answers = Arc::new(AnswerStore::beside_file_ledger(&args.state));
                run_with_ledger(
                    &args,
                    &config,
                    &renderer,
                    &source,
                    (tokio::sync::Mutex::new(ledger), answers),
                    now,
                    leader,
                )
                .await
            }
        };
        if let Some(l) = leadership {
            l.shutdown().await;
        }
        result
    })
}

async fn run_with_ledger<L: crate::deliver::ledger::Ledger + 'static>(
    args: &RunArgs,
    config: &Config,
    renderer: &Renderer,
    source: &crate::inventory::source::Sources,
    (ledger, answers): (tokio::sync::Mutex<L>, Arc<AnswerStore>),
    now: Option<DateTime<FixedOffset>>,
    leader: Option<tokio::sync::watch::Receiver<bool>>,
) -> anyhow::Result<u8> {
    use crate::deliver::console::Console;
    use crate::deliver::slack::{Slack, SlackToken};
    let ledger = Arc::new(ledger);
    let run = Run {
        args,
        config,
        renderer,
        source,
        ledger: &ledger,
        answers: &answers,
        leader,
    };
    match SlackToken::from_env()? {
        Some(token) => {
            let slack = Arc::new(Slack::new(token, slack_settings(config))?);
            run.with(&slack, now, Some(slack.clone())).await
        }
        None => {
            tracing::warn!(
                "SLACK_BOT_TOKEN is not set: dry run, printing messages and recording nothing"
            );
            run.with(&Arc::new(Console::stdout()), now, None).await
        }
    }
}

/// The Slack settings: the environment's base URL, the config's request timeout.
pub(super) fn slack_settings(config: &Config) -> crate::deliver::slack::SlackSettings {
    crate::deliver::slack::SlackSettings {
        request_timeout: Some(config.delivery.request_timeout),
        backoff_base: config.delivery.retry_backoff,
        ..crate::deliver::slack::SlackSettings::from_env()
    }
}

/// What `forewarn run` works with, whatever the delivery edge.
struct Run<'a, L> {
    args: &'a RunArgs,
    config: &'a Config,
    renderer: &'a Renderer,
    source: &'a crate::inventory::source::Sources,
    ledger: &'a Arc<tokio::sync::Mutex<L>>,
    /// The triage answers, beside the ledger.
    answers: &'a Arc<AnswerStore>,
    leader: Option<tokio::sync::watch::Receiver<bool>>,
}

impl<L: crate::deliver::ledger::Ledger + 'static> Run<'_, L> {
    async fn with<D: crate::deliver::Deliver>(
        &self,
        deliver: &Arc<D>,
        now: Option<DateTime<FixedOffset>>,
        slack: Option<Arc<crate::deliver::slack::Slack>>,
    ) -> anyhow::Result<u8> {
        use std::sync::atomic::AtomicBool;
        let stop = Arc::new(AtomicBool::new(false));
        let metrics = crate::deliver::metrics::DeliveryMetrics::default();
        let config = self.config;
        let tick = crate::deliver::tick::Tick {
            source: self.source,
            config,
            renderer: self.renderer,
            deliver,
            ledger: self.ledger,
            stop: &stop,
            metrics: Some(&metrics),
            answers: Some(self.answers),
        };
        if self.args.once {
            if self.leader.as_ref().is_some_and(|l| !*l.borrow()) {
                eprintln!("not the leader: another replica delivers");
                return Ok(EXIT_OK);
            }
            let now =
                now.unwrap_or_else(|| Utc::now().with_timezone(&config.time_zone).fixed_offset());
            let outcome = tick.run(now).await?;
            eprint!("{}", once_summary(&outcome, now, deliver.records()));
            return Ok(if outcome.is_clean() {
                EXIT_OK
            } else {
                EXIT_PROBLEMS
            });
        }
        // The daemon also answers slash commands and serves health and metrics.
        // `/review` (with FOREWARN_REVIEW_TOKEN) reads the history this ledger keeps.
        let ledger = self.ledger.clone();
        let history: crate::chat::review_page::HistoryReader = Arc::new(move || {
            let ledger = ledger.clone();
            Box::pin(async move { Ok(ledger.lock().await.progress().cloned().unwrap_or_default()) })
        });
        let state = server_state(
            config,
            slack,
            Some(&metrics),
            history,
            Some(self.answers.clone()),
        )?;
        let listener = tokio::net::TcpListener::bind(&self.args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", self.args.listen))?;
        let shutdown = Shutdown::new();
        let loader = tokio::spawn(crate::chat::http::keep_loaded(
            state.clone(),
            self.source.clone(),
            self.source.refresh_every(),
        ));
        let http = tokio::spawn(crate::chat::http::serve(
            listener,
            state.clone(),
            shutdown.wait(),
        ));
        let socket = spawn_socket_mode(state, shutdown.wait())?;
        crate::deliver::tick::run_loop(tick, self.leader.clone(), shutdown.on_signal()).await?;
        loader.abort();
        let _ = http.await;
        if let Some(s) = socket {
            let _ = s.await;
        }
        Ok(EXIT_OK)
    }
}

/// What `run --once` prints on stderr: counts, then every notice not (proven) sent and why.
pub fn once_summary(
    outcome: &crate::deliver::tick::TickOutcome,
    now: DateTime<FixedOffset>,
    records: bool,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "tick at {now}: {} due, {} {}, {} failed, {} pending{}",
        outcome.due,
        outcome.sent.len(),
        if records {
            "sent"
        } else {
            "printed (dry run: no Slack token)"
        },
        outcome.failed.len(),
        outcome.pending.len(),
        outcome
            .stopped
            .as_deref()
            .map(|s| format!(", stopped: {s}"))
            .unwrap_or_default()
    );
    for (id, cause) in &outcome.failed {
        let _ = writeln!(out, "  failed: {id}: {cause}");
    }
    for (id, why) in &outcome.pending {
        let _ = writeln!(out, "  pending: {id}: {why}");
    }
    for id in &outcome.late {
        let _ = writeln!(out, "  late: {id}: due at an earlier tick, sent now");
    }
    for (id, why) in &outcome.superseded {
        let _ = writeln!(out, "  superseded: {id}: {why}");
    }
    if outcome.reported > 0 {
        let _ = writeln!(
            out,
            "  {} reported to the platform channel (failures, late and superseded notices)",
            crate::model::words::plural(outcome.reported as u64, "notice")
        );
    }
    out
}
