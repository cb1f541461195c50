//! Reducing policy reports to per policy × namespace summaries as they are read.
//!
//! Reads `wgpolicyk8s.io` PolicyReport / ClusterPolicyReport and `openreports.io` Report /
//! ClusterReport. Only counts and a bounded sample of failing resources are kept; the report
//! object itself is dropped, so memory grows with policies × namespaces, never with results.

use super::fields::{FieldError, FieldResult, Node};
use super::kyverno::{read_meta, valid_namespace_name};
use super::model::{FailingResource, Finding, ResourceRef, ResultKey, ResultSummary};
use crate::model::ids::Engine;
use std::collections::BTreeMap;

/// Whether a report kind is cluster-scoped.
pub fn is_cluster_report(kind: &str) -> bool {
    matches!(kind, "ClusterPolicyReport" | "ClusterReport")
}

struct Subject {
    kind: String,
    name: String,
    namespace: Option<String>,
}

fn subject(node: Node<'_>) -> FieldResult<Subject> {
    Ok(Subject {
        kind: node.str("kind")?.unwrap_or("").to_string(),
        name: node.str("name")?.unwrap_or("").to_string(),
        namespace: node.str("namespace")?.map(str::to_string),
    })
}

/// Adds the results of one report to `summaries`. Returns the problems with single results
/// (those results are skipped, the others counted) or one error when the report as a whole
/// cannot be placed.
/// Where report results are folded into.
pub struct Sink<'a> {
    pub summaries: &'a mut BTreeMap<ResultKey, ResultSummary>,
    pub findings: &'a mut BTreeMap<ResourceRef, Vec<Finding>>,
}

pub fn read_report(
    obj: Node<'_>,
    kind: &str,
    sink: &mut Sink<'_>,
) -> Result<Vec<FieldError>, FieldError> {
    let meta = read_meta(obj)?;
    let scope = match obj.get("scope") {
        Some(s) => Some(subject(s.node())?),
        None => None,
    };
    let cluster = is_cluster_report(kind);
    // Where the results belong. A namespaced report lives in its namespace; a cluster report
    // about a Namespace object belongs to that namespace's owner; other cluster results are
    // cluster-scoped.
    let namespace: Option<String> = if cluster {
        scope
            .as_ref()
            .filter(|s| s.kind == "Namespace" && valid_namespace_name(&s.name))
            .map(|s| s.name.clone())
    } else {
        let (ns, field) = match (
            &meta.namespace,
            scope.as_ref().and_then(|s| s.namespace.as_ref()),
        ) {
            (Some(ns), _) => (ns.clone(), "metadata.namespace"),
            (None, Some(ns)) => (ns.clone(), "scope.namespace"),
            (None, None) => {
                return Err(FieldError::new(
                    "metadata.namespace",
                    format!(
                        "missing: a {kind} is namespaced (a test assertion fragment, not a whole object?)"
                    ),
                ));
            }
        };
        if !valid_namespace_name(&ns) {
            return Err(FieldError::new(
                field,
                format!(
                    "'{ns}' is not a namespace name (a test assertion fragment, not a whole object?)"
                ),
            ));
        }
        Some(ns)
    };

    let mut problems = Vec::new();
    for item in obj.list("results")? {
        if let Err(e) = read_result(
            item.node(),
            namespace.as_deref(),
            cluster,
            scope.as_ref(),
            sink,
        ) {
            problems.push(e);
        }
    }
    Ok(problems)
}

fn read_result(
    r: Node<'_>,
    report_namespace: Option<&str>,
    cluster: bool,
    scope: Option<&Subject>,
    sink: &mut Sink<'_>,
) -> FieldResult<()> {
    let summaries = &mut *sink.summaries;
    let policy = r.req_str("policy")?;
    let engine = Engine::from_report_source(r.str("source")?);
    let outcome = r.req_str("result")?;
    let rule = r.str("rule")?.filter(|s| !s.is_empty());
    let message = r.str("message")?.map(|s| s.trim().to_string());
    // Older reports list the subjects per result.
    let listed = match r.list("resources")?.first() {
        Some(c) => Some(subject(c.node())?),
        None => None,
    };
    let resource = listed.as_ref().or(scope);
    let namespace = match report_namespace {
        Some(ns) => Some(ns.to_string()),
        None if cluster => resource
            .and_then(|s| s.namespace.clone())
            .filter(|ns| valid_namespace_name(ns)),
        None => None,
    };
    let excepted = r
        .get("properties")
        .map(|p| p.node().str("exceptions").ok().flatten().is_some())
        .unwrap_or(false);
    // Failing and warning results, and results an exception skipped (so a reminder can tell
    // exactly which resources lose that exception).
    if (matches!(outcome, "fail" | "warn") || (outcome == "skip" && excepted))
        && let Some(res) = resource.filter(|r| !r.name.is_empty())
    {
        let at = ResourceRef {
            namespace: res
                .namespace
                .clone()
                .or_else(|| namespace.clone())
                .unwrap_or_default(),
            kind: res.kind.clone(),
            name: res.name.clone(),
        };
        sink.findings.entry(at).or_default().push(Finding {
            engine,
            policy: policy.to_string(),
            rule: rule.map(str::to_string),
            result: outcome.to_string(),
            message: message.clone(),
        });
    }
    let key = (engine, policy.to_string(), namespace);
    match outcome {
        "pass" => summaries.entry(key).or_default().counts.pass += 1,
        "warn" => {
            let warning = FailingResource {
                kind: resource.map(|s| s.kind.clone()).unwrap_or_default(),
                name: resource.map(|s| s.name.clone()).unwrap_or_default(),
                rule: rule.map(str::to_string),
                message,
            };
            summaries.entry(key).or_default().add_warning(rule, warning);
        }
        "error" => summaries.entry(key).or_default().counts.error += 1,
        "skip" => {
            let s = summaries.entry(key).or_default();
            s.counts.skip += 1;
            if excepted {
                s.skipped_by_exception += 1;
            }
        }
        "fail" => {
            let failing = FailingResource {
                kind: resource.map(|s| s.kind.clone()).unwrap_or_default(),
                name: resource.map(|s| s.name.clone()).unwrap_or_default(),
                rule: rule.map(str::to_string),
                message,
            };
            summaries.entry(key).or_default().add_failure(rule, failing);
        }
        other => {
            return Err(r.error(
                "result",
                format!("unknown value '{other}' (expected pass, fail, warn, error or skip)"),
            ));
        }
    }
    Ok(())
}
