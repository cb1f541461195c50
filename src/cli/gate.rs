//! `forewarn gate`: whether named policies can be flipped to Enforce without blocking anyone by
//! surprise — for a CI step before the flip is merged.
//!
//! Reads only; exit 0 when every policy is ready, 1 otherwise.

use super::{EXIT_OK, EXIT_PROBLEMS, SourceArgs, load, parse_now};
use anyhow::bail;
use clap::Args;
use std::fmt::Write as _;

#[derive(Debug, Args)]
pub struct GateArgs {
    /// Policies to check (as reports name them: `name`, or `namespace/name`; a Gatekeeper
    /// constraint as `Kind/name`, a ValidatingAdmissionPolicyBinding by its name; `Kind:name`
    /// when two policies share the name).
    #[arg(required = true, value_name = "POLICY")]
    pub policies: Vec<String>,
    #[command(flatten)]
    pub source: SourceArgs,
    /// The time to check at (as for `plan`): decides which exceptions have expired.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
}

pub(super) fn cmd_gate(args: GateArgs) -> anyhow::Result<u8> {
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
        let at_least = if r.unlisted > 0 { "at least " } else { "" };
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
            match (r.enforce_on.as_deref(), r.days_late) {
                (Some(d), Some(late)) => format!(
                    ", due {d} — overdue by {}, still in Audit",
                    crate::model::words::plural(late as u64, "day")
                ),
                (Some(d), None) => format!(", enforced from {d}"),
                _ => String::new(),
            },
            if r.is_ready() {
                "READY".to_string()
            } else if r.possibly() == 0 {
                format!(
                    "NOT READY — {}{} would be blocked",
                    at_least,
                    crate::render::plural(r.uncovered(), "failing resource")
                )
            } else {
                format!(
                    "NOT READY — {}{} would be blocked, {} possibly covered by an exception forewarn cannot fully evaluate",
                    at_least,
                    crate::render::plural(r.uncovered(), "failing resource"),
                    r.possibly()
                )
            }
        );
        if let Some(t) = p.truncated.filter(|_| r.unlisted > 0) {
            let _ = writeln!(
                out,
                "  Gatekeeper found {} violations but lists {}: {} more not listed, where forewarn cannot see them (raise --constraint-violations-limit)",
                t.total, t.listed, r.unlisted
            );
        }
        if !r.namespaces.is_empty() {
            let _ = writeln!(
                out,
                "  {:<24} {:<16} {:>9} {:>8} {:>8}  BLOCKED (SAMPLE)",
                "NAMESPACE", "OWNER", "UNCOVERED", "POSSIBLY", "COVERED"
            );
            for n in &r.namespaces {
                let _ = writeln!(
                    out,
                    "  {:<24} {:<16} {:>9} {:>8} {:>8}  {}",
                    n.namespace,
                    n.audience,
                    n.uncovered,
                    n.possibly,
                    n.covered,
                    n.sample.join(", ")
                );
                if n.possibly > 0 {
                    let _ = writeln!(
                        out,
                        "    possibly covered: {}",
                        n.possibly_sample.join(", ")
                    );
                    for why in n.possibly_why.iter() {
                        let _ = writeln!(out, "      {why}");
                    }
                }
            }
        }
        for k in &r.kept_in_audit {
            let _ = writeln!(
                out,
                "  stays in Audit by override: {} ({}): {} failing, not blocked by the flip",
                k.namespace, k.audience, k.failing
            );
        }
        out.push('\n');
    }
    print!("{out}");
    Ok(if all_ready { EXIT_OK } else { EXIT_PROBLEMS })
}
