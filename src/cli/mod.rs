//! The command line: flags, the `plan` / `render` / `check` / `run` commands and their output.
//!
//! The only module that knows clap. Flags are turned into validated values (config, source,
//! time) before any core function runs; commands print to stdout and return an exit code:
//! 0 ok, 1 problems found, 2 usage or unreadable input (an `Err` from [`run`]).

use crate::config::Config;
use crate::inventory::Inventory;
use crate::model::problem::Problem;
use crate::model::time::start_of_day;
use crate::plan::rollout::{Source, rollout_for};
use crate::plan::{Notice, Plan, plan};
use crate::render::{Renderer, to_text};
use anyhow::{Context, bail};
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

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
}

#[derive(Debug, Args)]
pub struct GateArgs {
    /// Policies to check (as reports name them: `name`, or `namespace/name`).
    #[arg(required = true, value_name = "POLICY")]
    pub policies: Vec<String>,
    #[command(flatten)]
    pub source: SourceArgs,
    /// The time to check at (as for `plan`): decides which exceptions have expired.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Address for the HTTP endpoints.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8080")]
    pub listen: String,
}

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

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// The time to check against (as for `plan`); decides which enforcement dates have passed.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
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

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// The time to plan from: RFC 3339 or YYYY-MM-DD (midnight in the config's time zone).
    /// Defaults to the current time.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    #[arg(long, value_enum, default_value_t = PlanOutput::Table)]
    pub output: PlanOutput,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PlanOutput {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// The time to plan from (as for `plan`).
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Render only the notice with this id (see `forewarn plan`).
    #[arg(long)]
    pub id: Option<String>,
    #[arg(long, value_enum, default_value_t = RenderOutput::Text)]
    pub output: RenderOutput,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RenderOutput {
    Text,
    Json,
}

/// Runs a parsed command line. `Err` is a usage or input error (exit 2).
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Plan(args) => cmd_plan(args),
        Command::Render(args) => cmd_render(args),
        Command::Check(args) => cmd_check(args),
        Command::Run(args) => cmd_run(args),
        Command::Serve(args) => cmd_serve(args),
        Command::Gate(args) => cmd_gate(args),
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

fn cmd_plan(args: PlanArgs) -> anyhow::Result<u8> {
    let (config, clusters) = load(&args.source)?;
    let now = parse_now(args.now.as_deref(), &config)?;
    let mut planned = plan(&clusters, &config, now);
    let problems = all_problems(&clusters, &planned);
    match args.output {
        PlanOutput::Json => {
            planned.notices.retain(|n| n.send_at >= now);
            planned.problems = problems.clone();
            // Streamed: a large cluster's plan is not built as one string first.
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            serde_json::to_writer_pretty(&mut out, &planned)?;
            writeln!(out)?;
            out.flush()?;
        }
        PlanOutput::Table => print!("{}", plan_table(&planned, &config, &problems)),
    }
    Ok(exit_for(&problems))
}

/// The human view of a plan.
pub fn plan_table(planned: &Plan, config: &Config, problems: &[Problem]) -> String {
    let tz = config.time_zone;
    let n_clusters = planned
        .unowned
        .iter()
        .map(|u| &u.cluster)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Notices planned from {} ({tz}):\n",
        planned.now.with_timezone(&tz).format("%a %-d %b %Y %H:%M")
    );
    let rows: Vec<[String; 7]> = planned
        .upcoming()
        .map(|n| {
            [
                n.send_at
                    .with_timezone(&tz)
                    .format("%a %Y-%m-%d %H:%M")
                    .to_string(),
                n.kind.as_str().to_string(),
                n.milestone.clone(),
                match (&n.cluster, n.policy.is_empty()) {
                    (_, true) => "-".to_string(),
                    (Some(c), false) => format!("{c}: {}", n.policy),
                    (None, false) => n.policy.clone(),
                },
                n.audience.clone(),
                n.destination.to_string(),
                n.namespaces
                    .iter()
                    .map(|ns| format!("{} ({})", ns.name, ns.failing))
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    let head = [
        "SEND AT",
        "KIND",
        "WHEN",
        "POLICY / EXCEPTION",
        "AUDIENCE",
        "DESTINATION",
        "NAMESPACES (FAILING)",
    ];
    let mut widths = head.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                let _ = write!(s, "{c:<w$}  ", w = widths[i]);
            }
        }
        s.trim_end().to_string()
    };
    let _ = writeln!(out, "{}", line(&head.map(str::to_string)));
    for r in &rows {
        let _ = writeln!(out, "{}", line(r));
    }
    if rows.is_empty() {
        let _ = writeln!(out, "(no notices ahead)");
    }
    let policies: std::collections::BTreeSet<_> = planned
        .upcoming()
        .filter(|n| n.kind == crate::plan::NoticeKind::Announce)
        .filter_map(|n| Some((&n.cluster, &n.policy, n.enforce_on?.display())))
        .collect();
    if !policies.is_empty() {
        let _ = writeln!(out, "\nEnforcement dates:");
        for (c, p, d) in policies {
            match c {
                Some(c) => {
                    let _ = writeln!(out, "  {c}: {p}: {d}");
                }
                None => {
                    let _ = writeln!(out, "  {p}: {d}");
                }
            }
        }
    }
    if !planned.unowned.is_empty() {
        let _ = writeln!(
            out,
            "\nUnowned namespaces (their notices go to {}): {}",
            config.platform.channel,
            planned
                .unowned
                .iter()
                .map(|u| match &n_clusters {
                    1 => u.name.clone(),
                    _ => format!("{}/{}", u.cluster, u.name),
                })
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !problems.is_empty() {
        let _ = writeln!(out, "\nProblems:");
        for p in problems {
            let _ = writeln!(out, "  {p}");
        }
    }
    out
}

fn cmd_render(args: RenderArgs) -> anyhow::Result<u8> {
    let (config, clusters) = load(&args.source)?;
    let now = parse_now(args.now.as_deref(), &config)?;
    let renderer = Renderer::for_config(&config)?;
    let planned = plan(&clusters, &config, now);
    let notices: Vec<&Notice> = match &args.id {
        Some(id) => {
            let found: Vec<_> = planned
                .notices
                .iter()
                .filter(|n| n.id == id.as_str())
                .collect();
            if found.is_empty() {
                bail!("no notice with id '{id}' (run `forewarn plan` to list them)");
            }
            found
        }
        None => planned.upcoming().collect(),
    };
    let mut messages = Vec::new();
    for n in &notices {
        messages.push((n, renderer.render(n, &config)?));
    }
    match args.output {
        RenderOutput::Json => {
            let payloads: Vec<_> = messages.iter().map(|(_, m)| m).collect();
            println!("{}", serde_json::to_string_pretty(&payloads)?);
        }
        RenderOutput::Text => {
            for (n, m) in &messages {
                println!(
                    "──── {} → {} at {}\n",
                    n.id,
                    m.channel,
                    n.send_at
                        .with_timezone(&config.time_zone)
                        .format("%a %Y-%m-%d %H:%M %Z")
                );
                print!("{}", to_text(m));
            }
            if messages.is_empty() {
                println!("(no notices ahead)");
            }
        }
    }
    let problems = all_problems(&clusters, &planned);
    for p in &problems {
        eprintln!("{p}");
    }
    Ok(exit_for(&problems))
}

fn cmd_check(args: CheckArgs) -> anyhow::Result<u8> {
    let config = match Config::load(&args.source.config) {
        Ok(c) => c,
        Err(crate::config::ConfigError::Invalid { problems, .. }) => {
            for p in &problems {
                println!("{p}");
            }
            println!("\n{} error(s) in the config", problems.len());
            return Ok(EXIT_PROBLEMS);
        }
        Err(e) => return Err(e.into()),
    };
    let clusters = crate::inventory::source::load_once(&args.source.spec(&config)?)?;
    let now = parse_now(args.now.as_deref(), &config)?;
    let report = check(&config, &clusters, now);
    print!("{}", report.text);
    Ok(exit_for(&report.problems))
}

fn cmd_gate(args: GateArgs) -> anyhow::Result<u8> {
    let (config, clusters) = load(&args.source)?;
    let now = parse_now(args.now.as_deref(), &config)?;
    // Every cluster that has the named policy is checked: a rollout is per cluster.
    let mut checks = Vec::new();
    for name in &args.policies {
        let found: Vec<_> = clusters
            .iter()
            .filter_map(|inv| inv.policy(name).map(|p| (inv, p)))
            .collect();
        if found.is_empty() {
            let shared: Vec<&str> = clusters
                .iter()
                .flat_map(|inv| inv.policies_named(name))
                .map(|p| p.label.as_str())
                .collect();
            if !shared.is_empty() {
                bail!(
                    "'{name}' names several policies: {} (name one with its kind)",
                    shared.join(", ")
                );
            }
            let close = crate::chat::answer::suggestions(
                name,
                clusters
                    .iter()
                    .flat_map(|inv| inv.policies.iter().map(|p| p.label.as_str())),
            );
            if close.is_empty() {
                bail!("no policy named '{name}'");
            }
            bail!(
                "no policy named '{name}' (did you mean {}?)",
                close.join(", ")
            );
        }
        checks.extend(found);
    }
    let mut all_ready = true;
    let mut out = String::new();
    for (inv, p) in checks {
        let r = crate::plan::readiness::readiness(p, inv, &config, now);
        all_ready &= r.is_ready();
        let _ = writeln!(
            out,
            "{}{} ({}){}: {}",
            p.label,
            if clusters.len() > 1 {
                format!(" in cluster {}", inv.cluster)
            } else {
                String::new()
            },
            p.title(),
            r.enforce_on
                .as_deref()
                .map(|d| format!(", enforced from {d}"))
                .unwrap_or_default(),
            if r.is_ready() {
                "READY".to_string()
            } else {
                format!(
                    "NOT READY — {} failing resource(s) would be blocked",
                    r.uncovered()
                )
            }
        );
        if !r.namespaces.is_empty() {
            let _ = writeln!(
                out,
                "  {:<24} {:<16} {:>9} {:>8}  BLOCKED (SAMPLE)",
                "NAMESPACE", "OWNER", "UNCOVERED", "COVERED"
            );
            for n in &r.namespaces {
                let _ = writeln!(
                    out,
                    "  {:<24} {:<16} {:>9} {:>8}  {}",
                    n.namespace,
                    n.audience,
                    n.uncovered,
                    n.covered,
                    n.sample.join(", ")
                );
            }
        }
        out.push('\n');
    }
    print!("{out}");
    Ok(if all_ready { EXIT_OK } else { EXIT_PROBLEMS })
}

/// What `forewarn check` found.
pub struct CheckReport {
    pub problems: Vec<Problem>,
    pub text: String,
}

/// Validates templates, annotations and config entries against the clusters' inventories.
pub fn check(config: &Config, clusters: &[Inventory], now: DateTime<FixedOffset>) -> CheckReport {
    let planned = plan(clusters, config, now);
    let mut problems = all_problems(clusters, &planned);
    let mut text = String::new();
    for inv in clusters {
        let _ = writeln!(
            text,
            "Read {}{} objects: {} policies, {} result summaries, {} exceptions, {} namespaces.",
            if clusters.len() > 1 {
                format!("cluster {}: ", inv.cluster)
            } else {
                String::new()
            },
            inv.objects,
            inv.policies.len(),
            inv.results.len(),
            inv.exceptions.len(),
            inv.namespaces.len()
        );
        if !inv.skipped.is_empty() {
            let skipped: Vec<_> = inv
                .skipped
                .iter()
                .map(|(k, n)| format!("{k} ×{n}"))
                .collect();
            let _ = writeln!(
                text,
                "Skipped (not read by forewarn): {}",
                skipped.join(", ")
            );
        }
        // Policies of different kinds that share a name: ids and messages qualify them by
        // kind, and config entries and commands must too.
        for p in inv
            .policies
            .iter()
            .filter(|p| p.label != p.reference.report_name())
        {
            problems.push(Problem::warning(
                format!("policy {}", p.label),
                "metadata.name",
                format!(
                    "another policy is also named '{}': notices, config entries and commands name this one '{}'",
                    p.reference.report_name(),
                    p.label
                ),
            ));
        }
    }

    let _ = writeln!(text, "\nRollouts:");
    let mut any = false;
    for (inv, policy) in clusters
        .iter()
        .flat_map(|inv| inv.policies.iter().map(move |p| (inv, p)))
    {
        let shown = if clusters.len() > 1 {
            format!("{} ({})", policy.label, inv.cluster)
        } else {
            policy.label.clone()
        };
        let (rollout, _) = rollout_for(policy, config);
        for (key, v) in &rollout.fields {
            any = true;
            let from = match v.source {
                Source::Annotation => format!("annotation {}", config.annotation(key)),
                Source::Config => format!("{} policies.{}", config.source, policy.label),
            };
            let _ = write!(text, "  {shown}: {key} = {} (from {from}", v.value);
            match &v.overridden {
                Some(o) => {
                    let _ = writeln!(text, "; overrides '{o}' in {})", config.source);
                }
                None => {
                    let _ = writeln!(text, ")");
                }
            }
        }
    }
    if !any {
        let _ = writeln!(
            text,
            "  (no policy has rollout annotations or config entries)"
        );
    }
    for key in config.policies.keys() {
        if clusters.iter().all(|inv| inv.policy(key).is_none()) {
            problems.push(Problem::warning(
                config.source.clone(),
                format!("policies.{key}"),
                "no such policy in the inventory",
            ));
        }
    }

    // Notice ids are unique by construction; a duplicate would be sent once for two notices.
    let mut seen = std::collections::BTreeSet::new();
    for n in &planned.notices {
        if !seen.insert(n.id.to_string()) {
            problems.push(Problem::error(
                format!("notice {}", n.id),
                "",
                "two planned notices share this id: only one of them would be sent",
            ));
        }
    }
    // Exception hygiene: informal exceptions are worth fixing, not errors.
    let now_utc = now.with_timezone(&Utc);
    for (inv, x) in clusters
        .iter()
        .flat_map(|inv| inv.exceptions.iter().map(move |x| (inv, x)))
    {
        let (v, _) = crate::plan::exceptions::view(x, &config.exceptions.keys, config.time_zone);
        let max = i64::from(config.exceptions.max_review_days);
        for (h, detail) in crate::plan::exceptions::findings(x, &v, inv, max, now_utc) {
            let message = if detail.is_empty() {
                h.describe().to_string()
            } else {
                format!("{}: {detail}", h.describe())
            };
            problems.push(Problem::warning(format!("exception {}", v.id), "", message));
        }
    }
    if let Some(dir) = &config.templates {
        for (name, message) in crate::render::unknown_template_files(dir) {
            problems.push(Problem::warning(
                format!("templates {}", dir.join(name).display()),
                "",
                message,
            ));
        }
    }
    match Renderer::for_config(config) {
        Err(e) => problems.push(Problem::error("templates", "", e.to_string())),
        Ok(renderer) => {
            let samples = crate::render::sample_notices(config);
            for n in planned.notices.iter().chain(&samples) {
                if let Err(e) = renderer.render(n, config) {
                    problems.push(Problem::error(
                        format!("templates (notice {})", n.id),
                        "",
                        e.to_string(),
                    ));
                    break;
                }
            }
        }
    }
    let errors = problems.iter().filter(|p| p.is_error()).count();
    let warnings = problems.len() - errors;
    if !problems.is_empty() {
        let _ = writeln!(text, "\nProblems:");
        for p in &problems {
            let _ = writeln!(text, "  {p}");
        }
    }
    let _ = writeln!(text, "\n{errors} error(s), {warnings} warning(s).");
    CheckReport { problems, text }
}

fn cmd_run(args: RunArgs) -> anyhow::Result<u8> {
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
    let configmap = match args.ledger.as_deref() {
        None => None,
        Some(spec) => match spec.strip_prefix("configmap:") {
            Some(name) if !name.is_empty() => Some(name.to_string()),
            _ => bail!("--ledger '{spec}': expected configmap:NAME"),
        },
    };
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
            let kube_config = crate::inventory::source::kube_config(
                args.source.context.first().map(String::as_str),
            )
            .await?;
            let namespace = std::env::var("POD_NAMESPACE")
                .ok()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| kube_config.default_namespace.clone());
            Some((kube_config, namespace))
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
                let ledger = crate::deliver::ledger::configmap::ConfigMapLedger::open(
                    client, namespace, name,
                )
                .await?;
                run_with_ledger(
                    &args,
                    &config,
                    &renderer,
                    &source,
                    tokio::sync::Mutex::new(ledger),
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
                run_with_ledger(
                    &args,
                    &config,
                    &renderer,
                    &source,
                    tokio::sync::Mutex::new(ledger),
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
    ledger: tokio::sync::Mutex<L>,
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
fn slack_settings(config: &Config) -> crate::deliver::slack::SlackSettings {
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
        let state = server_state(config, slack, Some(&metrics))?;
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
    if outcome.reported > 0 {
        let _ = writeln!(
            out,
            "  {} failure(s) reported to the platform channel",
            outcome.reported
        );
    }
    out
}

/// One shutdown signal (Ctrl-C or SIGTERM), owned here and handed to every task.
struct Shutdown {
    tx: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Shutdown {
    fn new() -> Self {
        Self {
            tx: Arc::new(tokio::sync::watch::channel(false).0),
        }
    }

    /// Resolves once shutdown was asked for.
    fn wait(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.tx.subscribe();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    }

    /// Waits for the OS signal, then tells every task.
    fn on_signal(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let tx = self.tx.clone();
        async move {
            shutdown_signal().await;
            tx.send_replace(true);
        }
    }
}

fn server_state(
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
fn spawn_socket_mode(
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

fn cmd_serve(args: ServeArgs) -> anyhow::Result<u8> {
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

/// Resolves on Ctrl-C or SIGTERM (what Kubernetes sends before killing a pod).
async fn shutdown_signal() {
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
