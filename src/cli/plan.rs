//! `forewarn plan`: the calendar of notices — who hears what, and when — as a table or JSON.
//!
//! Prints only; never sends or records anything.

use super::{SourceArgs, all_problems, exit_for, load, parse_now};
use crate::config::Config;
use crate::model::problem::Problem;
use crate::plan::{Plan, plan_with};
use chrono::{DateTime, FixedOffset};
use clap::{Args, ValueEnum};
use std::fmt::Write as _;
use std::io::Write as _;

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
    /// With `--output json`: at most this many failing resources per namespace in each notice
    /// (counts are always whole; messages show up to five).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub samples: usize,
    /// The file ledger `run --state` keeps (read only, without its lock): catch-ups already
    /// sent are left out, and moved dates and "all clear" are planned as `run` would.
    #[arg(long, value_name = "PATH")]
    pub state: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PlanOutput {
    Table,
    Json,
}

pub(super) fn cmd_plan(args: PlanArgs) -> anyhow::Result<u8> {
    let (config, clusters) = load(&args.source)?;
    let now = parse_now(args.now.as_deref(), &config)?;
    let ledger = match &args.state {
        Some(path) => Some(crate::deliver::ledger::FileLedger::read_only(path)?),
        None => None,
    };
    let history = ledger
        .as_ref()
        .map(crate::deliver::tick::history)
        .unwrap_or_default();
    // Today's counts, as the next tick records them: the trends read the same.
    let (history, _) = crate::deliver::tick::with_today(history, &clusters, &config, now);
    let mut planned = plan_with(&clusters, &config, now, &history);
    // What the ledger holds went out already: not a catch-up any more.
    let sent = |id: &str| {
        use crate::deliver::ledger::Ledger as _;
        ledger
            .as_ref()
            .is_some_and(|l| l.get(id).is_some_and(|e| e.state.settled()))
    };
    planned.catch_up = next_tick(&config, now)
        .map(|t| planned.catch_ups(t))
        .unwrap_or_default()
        .iter()
        .map(|n| n.id.to_string())
        .filter(|id| !sent(id))
        .collect();
    let problems = all_problems(&clusters, &planned);
    match args.output {
        PlanOutput::Json => {
            planned.notices.retain(|n| n.send_at >= now);
            planned.problems = problems.clone();
            cut_samples(&mut planned, args.samples);
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

/// Keeps at most `n` failing resources per namespace in each notice; notices that shared their
/// namespace list still share the shortened one. Each list is shortened in place once every
/// notice that shares it has let it go, so no list is ever held twice.
fn cut_samples(planned: &mut Plan, n: usize) {
    use crate::plan::NamespaceFailures;
    use std::sync::Arc;
    // Notices by the list they share (keyed by its address while they all hold it).
    let mut groups: std::collections::HashMap<*const Vec<NamespaceFailures>, Vec<usize>> =
        std::collections::HashMap::new();
    for (i, notice) in planned.notices.iter().enumerate() {
        if notice.namespaces.iter().any(|ns| ns.sample.len() > n) {
            groups
                .entry(Arc::as_ptr(&notice.namespaces))
                .or_default()
                .push(i);
        }
    }
    for sharing in groups.into_values() {
        let mut list = Arc::default();
        for &i in &sharing {
            list = std::mem::take(&mut planned.notices[i].namespaces);
        }
        let mut owned = Arc::unwrap_or_clone(list);
        for ns in &mut owned {
            if ns.sample.len() > n {
                ns.sample = ns.sample.iter().take(n).cloned().collect();
            }
        }
        let short = Arc::new(owned);
        for &i in &sharing {
            planned.notices[i].namespaces = short.clone();
        }
    }
}

/// The first tick of the schedule at or after `now`.
fn next_tick(config: &Config, now: DateTime<FixedOffset>) -> Option<DateTime<FixedOffset>> {
    config
        .schedule
        .after(&(now.with_timezone(&config.time_zone) - chrono::Duration::seconds(1)))
        .next()
        .map(|t| t.fixed_offset())
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
    // First what the next tick sends that was due earlier (catch-ups: a preview before the
    // first tick, or after downtime, shows them), then the calendar ahead.
    let next = next_tick(config, planned.now);
    let catch_ups: Vec<&crate::plan::Notice> = planned
        .notices
        .iter()
        .filter(|n| planned.catch_up.contains(&n.id.to_string()))
        .collect();
    let rows: Vec<[String; 7]> = catch_ups
        .iter()
        .map(|n| (*n, true))
        .chain(planned.upcoming().map(|n| (n, false)))
        .map(|(n, late)| {
            let at = if late {
                next.unwrap_or(n.send_at)
            } else {
                n.send_at
            };
            [
                at.with_timezone(&tz)
                    .format("%a %Y-%m-%d %H:%M")
                    .to_string(),
                n.kind.as_str().to_string(),
                if late {
                    format!("{} (catch-up)", n.milestone)
                } else {
                    n.milestone.clone()
                },
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
    if !catch_ups.is_empty() {
        let _ = writeln!(
            out,
            "\n(catch-up): due before {}; the next tick sends it unless its ledger already holds it (an earlier milestone of the same policy and audience is superseded by a later one).",
            planned.now.with_timezone(&tz).format("%a %-d %b %Y %H:%M")
        );
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
