//! Routing one Kubernetes object to the reader for its API group, version and kind.
//!
//! Shared by every inventory source (snapshot files and the cluster watch) so both
//! understand exactly the same objects. Bad objects become one [`Problem`] naming the object and
//! the field and are left out; they never stop the rest of the inventory from loading.

use super::fields::{FieldError, Node};
use super::kyverno;
use super::model::{Inventory, PolicyKind};
use super::report;
use super::{gatekeeper, vap};
use crate::model::problem::Problem;
use serde_json::Value;

/// Where an object came from, for messages: `examples/cluster/reports.yaml doc 3`.
pub fn describe(origin: &str, obj: &Value) -> String {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("object");
    let meta = obj.get("metadata");
    let name = meta.and_then(|m| m.get("name")).and_then(Value::as_str);
    let ns = meta
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str);
    match (ns, name) {
        (Some(ns), Some(name)) => format!("{origin} ({kind} {ns}/{name})"),
        (None, Some(name)) => format!("{origin} ({kind} {name})"),
        _ => format!("{origin} ({kind})"),
    }
}

/// Adds one parsed object (or every item of a `List`) to the inventory.
pub fn ingest(inv: &mut Inventory, obj: &Value, origin: &str) {
    if !obj.is_object() {
        inv.problems.push(Problem::error(
            origin,
            "",
            "not a Kubernetes object (expected a mapping with apiVersion and kind)",
        ));
        return;
    }
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind == "List" || (kind.ends_with("List") && obj.get("items").is_some_and(Value::is_array)) {
        if let Some(items) = obj.get("items").and_then(Value::as_array) {
            for (i, item) in items.iter().enumerate() {
                ingest(inv, item, &format!("{origin} items[{i}]"));
            }
        }
        return;
    }
    inv.objects += 1;
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let node = Node::root(obj);
    let err = |inv: &mut Inventory, e: FieldError| {
        inv.problems
            .push(Problem::error(describe(origin, obj), e.field, e.message));
    };
    match (group, kind) {
        ("kyverno.io", "ClusterPolicy" | "Policy") => {
            if !matches!(version, "v1" | "v2beta1") {
                return err(
                    inv,
                    unknown_version(api_version, kind, "kyverno.io/v1 or kyverno.io/v2beta1"),
                );
            }
            let k = if kind == "Policy" {
                PolicyKind::Policy
            } else {
                PolicyKind::ClusterPolicy
            };
            match kyverno::read_kyverno_policy(node, k) {
                Ok(p) => inv.policies.push(p),
                Err(e) => err(inv, e),
            }
        }
        ("policies.kyverno.io", "ValidatingPolicy" | "NamespacedValidatingPolicy") => {
            if !matches!(version, "v1" | "v1beta1" | "v1alpha1") {
                return err(
                    inv,
                    unknown_version(
                        api_version,
                        kind,
                        "policies.kyverno.io/v1, v1beta1 or v1alpha1",
                    ),
                );
            }
            let k = if kind == "ValidatingPolicy" {
                PolicyKind::ValidatingPolicy
            } else {
                PolicyKind::NamespacedValidatingPolicy
            };
            match kyverno::read_validating_policy(node, k) {
                Ok(p) => inv.policies.push(p),
                Err(e) => err(inv, e),
            }
        }
        ("kyverno.io" | "policies.kyverno.io", "PolicyException") => {
            let known = match group {
                "kyverno.io" => matches!(version, "v2" | "v2beta1"),
                _ => matches!(version, "v1" | "v1beta1" | "v1alpha1"),
            };
            if !known {
                return err(
                    inv,
                    unknown_version(
                        api_version,
                        kind,
                        "kyverno.io/v2, v2beta1 or policies.kyverno.io/v1, v1beta1, v1alpha1",
                    ),
                );
            }
            match kyverno::read_exception(node, api_version) {
                Ok(x) => inv.exceptions.push(x),
                Err(e) => err(inv, e),
            }
        }
        ("wgpolicyk8s.io", "PolicyReport" | "ClusterPolicyReport")
        | ("openreports.io", "Report" | "ClusterReport") => {
            let known = match group {
                "wgpolicyk8s.io" => matches!(version, "v1alpha2" | "v1beta1"),
                _ => version == "v1alpha1",
            };
            if !known {
                return err(
                    inv,
                    unknown_version(
                        api_version,
                        kind,
                        "wgpolicyk8s.io/v1alpha2 or openreports.io/v1alpha1",
                    ),
                );
            }
            let report = match report::Report::from_value(obj) {
                Ok(r) => r,
                Err(e) => return err(inv, e),
            };
            match report::read_report(&report, kind, inv) {
                // One problem per report: the first bad result, and how many more were skipped.
                Ok(problems) => {
                    if let Some(e) = report::results_problem(&problems) {
                        err(inv, e);
                    }
                }
                Err(e) => err(inv, e),
            }
        }
        ("templates.gatekeeper.sh", "ConstraintTemplate") => {
            if !matches!(version, "v1" | "v1beta1" | "v1alpha1") {
                return err(
                    inv,
                    unknown_version(api_version, kind, "templates.gatekeeper.sh/v1 or v1beta1"),
                );
            }
            match gatekeeper::read_template(node) {
                Ok(t) => {
                    inv.templates.insert(t.kind.clone(), t);
                }
                Err(e) => err(inv, e),
            }
        }
        ("constraints.gatekeeper.sh", _) if !kind.is_empty() => {
            if !matches!(version, "v1" | "v1beta1" | "v1alpha1") {
                return err(
                    inv,
                    unknown_version(api_version, kind, "constraints.gatekeeper.sh/v1beta1 or v1"),
                );
            }
            match gatekeeper::read_constraint(node, kind) {
                Ok(read) => {
                    inv.policies.extend(read.policy);
                    inv.results.merge(read.results);
                    for (at, f) in read.findings {
                        inv.findings.entry(at).or_default().push(f);
                    }
                }
                Err(e) => err(inv, e),
            }
        }
        (
            "admissionregistration.k8s.io",
            "ValidatingAdmissionPolicy" | "ValidatingAdmissionPolicyBinding",
        ) => {
            if !matches!(version, "v1" | "v1beta1" | "v1alpha1") {
                return err(
                    inv,
                    unknown_version(
                        api_version,
                        kind,
                        "admissionregistration.k8s.io/v1, v1beta1 or v1alpha1",
                    ),
                );
            }
            if kind == "ValidatingAdmissionPolicy" {
                match vap::read_policy(node) {
                    Ok(p) => inv.admission_policies.push(p),
                    Err(e) => err(inv, e),
                }
            } else {
                match vap::read_binding(node) {
                    Ok(b) => inv.bindings.push(b),
                    Err(e) => err(inv, e),
                }
            }
        }
        ("", "Namespace") if version == "v1" => match kyverno::read_namespace(node) {
            Ok(ns) => {
                inv.namespaces.insert(ns.name.clone(), ns);
            }
            Err(e) => err(inv, e),
        },
        _ => {
            let label = if kind.is_empty() {
                "(no kind: not a Kubernetes object)".to_string()
            } else {
                format!("{api_version} {kind}")
            };
            *inv.skipped.entry(label).or_default() += 1;
        }
    }
}

fn unknown_version(api_version: &str, kind: &str, known: &str) -> FieldError {
    FieldError::new(
        "apiVersion",
        format!("unknown API version '{api_version}' for {kind} (forewarn reads {known})"),
    )
}
