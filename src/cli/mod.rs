//! The command line: flags shared by every command, and one file per command (`plan`,
//! `render`, `check`, `gate`, `run`, `serve`, `review`) with its output.
//!
//! The only module that knows clap. Flags are turned into validated values (config, source,
//! time) before any core function runs; commands print to stdout and return an exit code:
//! 0 ok, 1 problems found, 2 usage or unreadable input (an `Err` from [`run`]).

mod check;
mod gate;
mod plan;
mod render;
mod review;
mod run;
mod serve;

pub use check::{CheckArgs, CheckReport, check};
pub use gate::GateArgs;
pub use plan::{PlanArgs, PlanOutput, plan_table};
pub use render::{RenderArgs, RenderOutput};
pub use review::{ReviewArgs, ReviewOutput};
pub use run::{RunArgs, once_summary};
pub use serve::ServeArgs;

use crate::config::Config;
use crate::inventory::Inventory;
use crate::model::problem::Problem;
use crate::model::time::start_of_day;
use crate::plan::Plan;
use anyhow::{Context, bail};
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

pub const EXIT_OK: u8 = 0;
pub const EXIT_PROBLEMS: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "forewarn",
    version,
    about = "Dated Slack heads-ups for Kubernetes policy rollouts"
)]
pub struct Cli {
    /// Log format on stderr (set the level with FOREWARN_LOG, e.g. FOREWARN_LOG=info).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the calendar of upcoming notices: who hears about which policy, and when.
    Plan(PlanArgs),
    /// Show the messages themselves, as text or as chat.postMessage payloads.
    Render(RenderArgs),
    /// Validate the config, the templates and the rollout annotations; exit 1 on any error.
    Check(CheckArgs),
    /// The service: at every tick of the schedule, post the notices that are due to Slack,
    /// once each. Without SLACK_BOT_TOKEN it prints them instead (dry run, nothing recorded).
    Run(RunArgs),
    /// Answer `/policy` slash commands over HTTP (and Socket Mode with SLACK_APP_TOKEN), with
    /// /healthz, /readyz and /metrics.
    Serve(ServeArgs),
    /// Check that policies can be flipped to Enforce: failing resources no active exception
    /// covers, per team. Exit 0 when every named policy is ready, 1 when one is not (for a CI
    /// step before the flip is merged).
    Gate(GateArgs),
    /// The audit review: per rollout its date and the review's deadline, what fails per team
    /// and namespace, exceptions, readiness, and the burn-down with its projected ready date
    /// (from the history `run` keeps beside its ledger), as Markdown, HTML or JSON.
    Review(ReviewArgs),
}

#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Directory of Kubernetes objects (YAML/JSON, as `kubectl get -o yaml` writes them), one
    /// per cluster: `--snapshot prod=DIR1 --snapshot staging=DIR2` (the name defaults to the
    /// directory's base name). Without it (and without --context), forewarn reads the cluster
    /// of the current kubeconfig context (or the in-cluster ServiceAccount).
    #[arg(long, value_name = "[NAME=]DIR")]
    pub snapshot: Vec<String>,
    /// A kubeconfig context to read (repeatable, one per cluster; its name names the cluster).
    #[arg(long, value_name = "NAME")]
    pub context: Vec<String>,
    /// The forewarn config file.
    #[arg(long, value_name = "FILE", default_value = "config/forewarn.yaml")]
    pub config: PathBuf,
}

impl SourceArgs {
    /// The clusters to read; the config's `cluster-name` names a lone unnamed one.
    pub fn spec(&self, config: &Config) -> anyhow::Result<crate::inventory::source::SourceSpec> {
        crate::inventory::source::SourceSpec::from_flags(
            &self.snapshot,
            &self.context,
            config.cluster_name.as_ref(),
        )
        .map_err(anyhow::Error::msg)
    }
}

/// Runs a parsed command line. `Err` is a usage or input error (exit 2).
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Plan(args) => plan::cmd_plan(args),
        Command::Render(args) => render::cmd_render(args),
        Command::Check(args) => check::cmd_check(args),
        Command::Run(args) => run::cmd_run(args),
        Command::Serve(args) => serve::cmd_serve(args),
        Command::Gate(args) => gate::cmd_gate(args),
        Command::Review(args) => review::cmd_review(args),
    }
}

fn load(args: &SourceArgs) -> anyhow::Result<(Config, Vec<Inventory>)> {
    let config = Config::load(&args.config)?;
    let clusters = crate::inventory::source::load_once(&args.spec(&config)?)?;
    Ok((config, clusters))
}

/// Parses `--now`: RFC 3339, or a date meaning midnight in the config's zone.
pub fn parse_now(text: Option<&str>, config: &Config) -> anyhow::Result<DateTime<FixedOffset>> {
    let tz = config.time_zone;
    match text {
        None => Ok(Utc::now().with_timezone(&tz).fixed_offset()),
        Some(t) => {
            if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
                let start = start_of_day(d, tz)
                    .with_context(|| format!("--now {t}: no midnight in {tz}"))?;
                return Ok(start.fixed_offset());
            }
            match DateTime::parse_from_rfc3339(t) {
                Ok(dt) => Ok(dt.with_timezone(&tz).fixed_offset()),
                Err(_) => bail!(
                    "--now '{t}': expected RFC 3339 (2026-12-01T09:00:00+01:00) or YYYY-MM-DD"
                ),
            }
        }
    }
}

/// Every problem met reading the clusters (named by cluster when there are several) and
/// planning.
/// The ConfigMap named by `--ledger configmap:NAME`, if given.
fn configmap_ledger(spec: Option<&str>) -> anyhow::Result<Option<&str>> {
    match spec {
        None => Ok(None),
        Some(spec) => match spec.strip_prefix("configmap:") {
            Some(name) if !name.is_empty() => Ok(Some(name)),
            _ => bail!("--ledger '{spec}': expected configmap:NAME"),
        },
    }
}

/// The cluster forewarn's own state lives in (the ConfigMaps, the Lease): the kube config of
/// `context` (the first `--context`, or the in-cluster / default one) and the namespace —
/// the pod's (`POD_NAMESPACE`), else the kube config's default.
async fn own_cluster(context: Option<&str>) -> anyhow::Result<(kube::Config, String)> {
    let kube_config = crate::inventory::source::kube_config(context).await?;
    let namespace = std::env::var("POD_NAMESPACE")
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| kube_config.default_namespace.clone());
    Ok((kube_config, namespace))
}

fn all_problems(clusters: &[Inventory], plan: &Plan) -> Vec<Problem> {
    let mut out = Vec::new();
    for inv in clusters {
        out.extend(inv.problems.iter().cloned().map(|mut p| {
            if clusters.len() > 1 {
                p.object = format!("{} (cluster {})", p.object, inv.cluster);
            }
            p
        }));
    }
    out.extend(plan.problems.iter().cloned());
    out
}

fn exit_for(problems: &[Problem]) -> u8 {
    if problems.iter().any(Problem::is_error) {
        EXIT_PROBLEMS
    } else {
        EXIT_OK
    }
}
