//! `forewarn check`: validates the config, the templates, the rollout annotations and the
//! exceptions against the clusters read, and says what it read.
//!
//! Reads only; exit 1 on any error.

use super::{EXIT_PROBLEMS, SourceArgs, all_problems, exit_for, parse_now};
use crate::config::Config;
use crate::inventory::Inventory;
use crate::model::problem::Problem;
use crate::plan::plan;
use crate::plan::rollout::{Source, rollout_for};
use crate::render::Renderer;
use chrono::{DateTime, FixedOffset, Utc};
use clap::Args;
use std::fmt::Write as _;

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// The time to check against (as for `plan`); decides which enforcement dates have passed.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
}

pub(super) fn cmd_check(args: CheckArgs) -> anyhow::Result<u8> {
    let config = match Config::load(&args.source.config) {
        Ok(c) => c,
        Err(crate::config::ConfigError::Invalid { problems, .. }) => {
            for p in &problems {
                println!("{p}");
            }
            println!(
                "\n{} in the config",
                crate::model::words::plural(problems.len() as u64, "error")
            );
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
            .filter(|p| p.label != p.reference.own_name())
        {
            problems.push(Problem::warning(
                format!("policy {}", p.label),
                "metadata.name",
                format!(
                    "another policy is also named '{}': notices, config entries and commands name this one '{}'",
                    p.reference.own_name(),
                    p.label
                ),
            ));
        }
        // Gatekeeper lists at most --constraint-violations-limit violations: what forewarn
        // counts is then a lower bound, and messages say "at least".
        for p in &inv.policies {
            if let Some(t) = p.truncated {
                problems.push(Problem::warning(
                    format!("policy {}", p.label),
                    "status.totalViolations",
                    format!(
                        "Gatekeeper found {} violations but lists {} resources: counts are lower bounds and messages say \"at least\" (raise --constraint-violations-limit to see them all)",
                        t.total, t.listed
                    ),
                ));
            }
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
        // What `gate` cannot decide about it: the failures it names are only possibly covered.
        if let Some(scope) = crate::plan::exceptions::scope_words(x)
            && x.is_cel()
        {
            problems.push(Problem::warning(
                format!("exception {}", v.id),
                "spec.matchConditions",
                format!("applies to {scope}: CEL forewarn cannot evaluate, so the failures it names count as possibly covered, not ready"),
            ));
        }
        for why in &x.undecidable {
            problems.push(Problem::warning(
                format!("exception {}", v.id),
                "",
                format!("{why}: the failures it names count as possibly covered, not ready"),
            ));
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
            if let Err(e) = renderer.check_triage() {
                problems.push(Problem::error(
                    "templates (triage buttons)",
                    "",
                    e.to_string(),
                ));
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
    let _ = writeln!(
        text,
        "\n{}, {}.",
        crate::model::words::plural(errors as u64, "error"),
        crate::model::words::plural(warnings as u64, "warning")
    );
    CheckReport { problems, text }
}
