//! `forewarn review`: the audit review document — per rollout its date and the review's
//! deadline, modes, failing per team and namespace, exceptions, readiness, and the burn-down
//! with its projection — as Markdown, self-contained HTML or JSON.
//!
//! Reads only: the clusters, and the audit history and the triage answers beside `run`'s
//! ledger (files, read without their locks, or the ConfigMaps). Never records anything.

use super::{EXIT_OK, SourceArgs, load, parse_now};
use crate::deliver::answers::AnswerStore;
use crate::model::triage::Answers;
use crate::plan::progress::Progress;
use crate::plan::review::{Scope, review};
use clap::{Args, ValueEnum};
use std::io::Write as _;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ReviewArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// The time to review at: RFC 3339 or YYYY-MM-DD (midnight in the config's time zone).
    /// Defaults to the current time.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// The file ledger `run --state` keeps: the audit history (`NAME.history.json`) and the
    /// triage answers (`NAME.answers.json`) beside it are read, without the ledger's lock.
    #[arg(long, value_name = "PATH", default_value = "forewarn-ledger.json")]
    pub state: PathBuf,
    /// Read the audit history and the triage answers beside the ConfigMap ledger
    /// `configmap:NAME` (the ConfigMaps `NAME-history` and `NAME-answers`, in POD_NAMESPACE or
    /// the kubeconfig's namespace) instead of --state.
    #[arg(long, value_name = "configmap:NAME")]
    pub ledger: Option<String>,
    /// Only this policy (repeatable; its name, or `Kind:name` when two share it). Named
    /// policies are reviewed even without an enforcement date.
    #[arg(long, value_name = "POLICY")]
    pub policy: Vec<String>,
    /// Only this team's rows (a team key, a channel, or `platform`).
    #[arg(long, value_name = "TEAM")]
    pub team: Option<String>,
    #[arg(long, value_enum, default_value_t = ReviewOutput::Markdown)]
    pub output: ReviewOutput,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReviewOutput {
    Markdown,
    Html,
    Json,
}

pub(super) fn cmd_review(args: ReviewArgs) -> anyhow::Result<u8> {
    let (config, clusters) = load(&args.source)?;
    let now = parse_now(args.now.as_deref(), &config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (progress, store) = match super::configmap_ledger(args.ledger.as_deref())? {
        Some(name) => runtime.block_on(configmap_stores(&args, name))?,
        None => (
            crate::deliver::ledger::history::read_file(
                &crate::deliver::ledger::history::file_path(&args.state),
            )?,
            AnswerStore::beside_file_ledger(&args.state),
        ),
    };
    // Unreadable answers do not stop the review: it says they are unknown.
    let answers: Option<Answers> = match runtime.block_on(store.load()) {
        Ok(a) => Some(a),
        Err(e) => {
            eprintln!("warning: {e}; the review shows no triage answers");
            None
        }
    };
    // Today's counts, as the next tick records them.
    let measured = crate::plan::progress::measure(&clusters, &config, now);
    let mut progress = progress;
    progress.record(&measured, config.review.history_days);
    let scope = Scope {
        policies: args.policy.clone(),
        team: args.team.clone(),
    };
    let doc = review(&clusters, &config, now, &progress, answers.as_ref(), &scope);
    for p in &args.policy {
        if !doc.policies.iter().any(|r| r.policy == *p)
            && !clusters.iter().any(|inv| {
                inv.policies
                    .iter()
                    .any(|q| q.label == *p || q.reference.report_name() == *p)
            })
        {
            eprintln!("warning: --policy {p}: no such policy in the clusters read");
        }
    }
    let text = match args.output {
        ReviewOutput::Json => serde_json::to_string_pretty(&doc)? + "\n",
        ReviewOutput::Markdown => crate::render::review::markdown(&doc, &config),
        ReviewOutput::Html => crate::render::review::html(&doc, &config),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(EXIT_OK)
}

/// The history beside the ConfigMap ledger `name`, in the pod's (or kubeconfig's) namespace,
/// and the store of the triage answers beside it.
async fn configmap_stores(
    args: &ReviewArgs,
    name: &str,
) -> anyhow::Result<(Progress, AnswerStore)> {
    let (kube_config, namespace) =
        super::own_cluster(args.source.context.first().map(String::as_str)).await?;
    let client = kube::Client::try_from(kube_config)?;
    let history =
        crate::deliver::ledger::history::ConfigMapHistory::open(client.clone(), &namespace, name)
            .await?;
    Ok((
        history.progress().clone(),
        AnswerStore::beside_configmap_ledger(client, &namespace, name),
    ))
}
