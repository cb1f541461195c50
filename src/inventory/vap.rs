//! Reading Kubernetes ValidatingAdmissionPolicies and their bindings
//! (`admissionregistration.k8s.io`) into the inventory model. The binding is what a rollout
//! changes — its `validationActions` — so each binding becomes a policy in
//! `Inventory::finish`, joined with the policy it binds.
//!
//! Each function reads one object and returns a model value or a [`FieldError`] naming the
//! field; it never looks at other objects and does no I/O. Violations come from reports
//! (Kyverno's VAP reports, `source: ValidatingAdmissionPolicy`), read elsewhere.

use super::fields::{FieldError, FieldResult, Node};
use super::kyverno::{docs, read_meta, read_selector, required_name};
use super::model::{AdmissionPolicy, Binding, ValidationAction};
use super::selector::LabelSelector;

fn namespace_selector(spec: Node<'_>, key: &str) -> FieldResult<Option<LabelSelector>> {
    let Some(m) = spec.get(key) else {
        return Ok(None);
    };
    match m.node().get("namespaceSelector") {
        Some(sel) => Ok(Some(read_selector(sel.node())?)),
        None => Ok(None),
    }
}

/// A ValidatingAdmissionPolicy: its name, description and `matchConstraints.namespaceSelector`.
pub fn read_policy(obj: Node<'_>) -> FieldResult<AdmissionPolicy> {
    let meta = read_meta(obj)?;
    let name = required_name(&meta)?;
    let spec = obj
        .get("spec")
        .ok_or_else(|| FieldError::new("spec", "missing"))?;
    Ok(AdmissionPolicy {
        name,
        docs: docs(&meta),
        annotations: meta.annotations,
        namespace_selector: namespace_selector(spec.node(), "matchConstraints")?,
    })
}

/// A ValidatingAdmissionPolicyBinding: the policy it binds, whether its `validationActions`
/// has `Deny` (only `Deny` rejects a request; `Warn` and `Audit` admit it — kubernetes
/// `staging/src/k8s.io/api/admissionregistration/v1/types.go`), and its
/// `matchResources.namespaceSelector`. An absent list blocks nothing (the API server refuses
/// such a binding; Kyverno's CLI reads one).
pub fn read_binding(obj: Node<'_>) -> FieldResult<Binding> {
    let meta = read_meta(obj)?;
    let name = required_name(&meta)?;
    let spec_child = obj
        .get("spec")
        .ok_or_else(|| FieldError::new("spec", "missing"))?;
    let spec = spec_child.node();
    let policy = spec.req_str("policyName")?.to_string();
    let mut actions = Vec::new();
    for a in spec.str_list("validationActions")?.unwrap_or_default() {
        let Some(action) = ValidationAction::parse(&a) else {
            return Err(spec.error(
                "validationActions",
                format!("unknown action '{a}' (expected Deny, Warn or Audit)"),
            ));
        };
        actions.push(action);
    }
    Ok(Binding {
        name,
        policy,
        deny: actions.contains(&ValidationAction::Deny),
        actions,
        annotations: meta.annotations,
        namespace_selector: namespace_selector(spec, "matchResources")?,
    })
}
