//! Reading OPA Gatekeeper objects — ConstraintTemplates and the constraints of the kinds they
//! define — into the inventory model: a constraint becomes a policy named `Kind/name`, its audit
//! violations (`status.violations`) become report results.
//!
//! Knows Gatekeeper's field names and how Gatekeeper decides whether a constraint blocks
//! admission. Each function reads one object and returns model values or a [`FieldError`]
//! naming the field; it never looks at other objects (the template is joined in
//! `Inventory::finish`) and does no I/O.

use super::fields::{FieldError, FieldResult, Node};
use super::kyverno::{docs, read_meta, read_selector, required_name};
use super::model::{
    ConstraintMatch, EnforcementAction, FailingResource, Finding, Mode, ModeSpec, Policy,
    PolicyDocs, PolicyKind, PolicyRef, Reach, ResourceRef, Results, Setting, Template, Truncated,
};
use crate::model::ids::Engine;
use std::collections::BTreeSet;

/// Gatekeeper's title annotation on templates (gatekeeper-library).
pub const TITLE: &str = "metadata.gatekeeper.sh/title";
/// The description annotation of gatekeeper-library templates.
pub const DESCRIPTION: &str = "description";

/// The enforcement points at which a `scoped` constraint's `deny` blocks admission: Gatekeeper's
/// webhook, the ValidatingAdmissionPolicy binding Gatekeeper generates (`deny` → `Deny`,
/// gatekeeper `pkg/drivers/k8scel/transform/make_vap_objects.go`), or every point
/// (`enforcementPointEnabled` in gatekeeper `pkg/util/enforcement_action.go`).
const ADMISSION_POINTS: [&str; 3] = ["validation.gatekeeper.sh", "vap.k8s.io", "*"];

fn docs_with_gatekeeper(meta: &super::kyverno::Meta) -> PolicyDocs {
    let get = |k: &str| {
        meta.annotations
            .get(k)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let mut d = docs(meta);
    d.title = d.title.or_else(|| get(TITLE));
    d.description = d.description.or_else(|| get(DESCRIPTION));
    d
}

/// A `templates.gatekeeper.sh` ConstraintTemplate: the kind it defines.
pub fn read_template(obj: Node<'_>) -> FieldResult<Template> {
    let meta = read_meta(obj)?;
    let name = required_name(&meta)?;
    let kind = obj
        .value()
        .pointer("/spec/crd/spec/names/kind")
        .and_then(|v| v.as_str())
        .filter(|k| !k.is_empty())
        .ok_or_else(|| FieldError::new("spec.crd.spec.names.kind", "missing"))?
        .to_string();
    Ok(Template {
        name,
        kind,
        docs: docs_with_gatekeeper(&meta),
    })
}

/// A constraint read: the policy, and its audit violations as report results.
#[derive(Debug, Default)]
pub struct ConstraintRead {
    pub policy: Option<Policy>,
    pub results: Results,
    pub findings: Vec<(ResourceRef, Finding)>,
}

/// Whether a constraint blocks admission, from `spec.enforcementAction` (absent: `deny`, the
/// CRD default in frameworks `constraint/pkg/client/crds/schema.go` and `GetEnforcementAction`
/// in gatekeeper `pkg/util/enforcement_action.go`): `deny` blocks; `dryrun` and `warn` do
/// not; `scoped` blocks when `spec.scopedEnforcementActions` has `deny` for an admission
/// point. Any other value is refused, naming the field.
fn read_mode(spec: Option<Node<'_>>) -> FieldResult<(Mode, EnforcementAction)> {
    let Some(spec) = spec else {
        return Ok((Mode::Enforce, EnforcementAction::Deny));
    };
    match spec.str("enforcementAction")?.unwrap_or("deny") {
        "" | "deny" => Ok((Mode::Enforce, EnforcementAction::Deny)),
        "dryrun" => Ok((Mode::Audit, EnforcementAction::Dryrun)),
        "warn" => Ok((Mode::Audit, EnforcementAction::Warn)),
        "scoped" => {
            let mut blocks = false;
            if spec.get("scopedEnforcementActions").is_none() {
                return Err(spec.error(
                    "scopedEnforcementActions",
                    "missing: enforcementAction 'scoped' takes its actions from it",
                ));
            }
            for item in spec.list("scopedEnforcementActions")? {
                let a = item.node();
                let action = a.req_str("action")?;
                if !matches!(action, "deny" | "dryrun" | "warn") {
                    return Err(a.error(
                        "action",
                        format!("unknown action '{action}' (expected deny, dryrun or warn)"),
                    ));
                }
                for point in a.list("enforcementPoints")? {
                    let name = point.node().req_str("name")?;
                    blocks |= action == "deny" && ADMISSION_POINTS.contains(&name);
                }
            }
            let mode = if blocks { Mode::Enforce } else { Mode::Audit };
            Ok((mode, EnforcementAction::Scoped))
        }
        other => Err(spec.error(
            "enforcementAction",
            format!(
                "unknown action '{other}' (Gatekeeper knows deny, dryrun, warn and scoped and does not enforce anything else)"
            ),
        )),
    }
}

fn read_match(spec: Option<Node<'_>>) -> FieldResult<ConstraintMatch> {
    let mut m = ConstraintMatch::default();
    let Some(spec) = spec else {
        return Ok(m);
    };
    let Some(child) = spec.get("match") else {
        return Ok(m);
    };
    let node = child.node();
    m.namespaces = node.str_list("namespaces")?.unwrap_or_default();
    m.excluded = node.str_list("excludedNamespaces")?.unwrap_or_default();
    if let Some(sel) = node.get("namespaceSelector") {
        m.namespace_selector = Some(read_selector(sel.node())?);
    }
    for k in node.list("kinds")? {
        m.kinds
            .extend(k.node().str_list("kinds")?.unwrap_or_default());
    }
    m.scope = node.str("scope")?.map(str::to_string);
    m.label_selector = node.get("labelSelector").is_some();
    Ok(m)
}

/// A `constraints.gatekeeper.sh` constraint of kind `kind`, with its audit violations.
///
/// A violation names `group`, `version`, `kind`, `name` and `namespace` (omitted when empty);
/// one about a Namespace object is counted in the namespace it names, one about another
/// cluster-scoped object as cluster-scoped. Each resource counts once. When
/// `status.totalViolations` is more than the violations listed (Gatekeeper lists at most
/// `--constraint-violations-limit`, gatekeeper `pkg/audit/manager.go`), the policy is marked
/// [`Truncated`].
pub fn read_constraint(obj: Node<'_>, kind: &str) -> FieldResult<ConstraintRead> {
    let meta = read_meta(obj)?;
    let name = required_name(&meta)?;
    let spec_child = obj.get("spec");
    let spec = spec_child.as_ref().map(|c| c.node());
    let (mode, action) = read_mode(spec)?;
    let matching = read_match(spec)?;
    let reference = PolicyRef {
        kind: PolicyKind::Constraint,
        namespace: None,
        name,
        parent: Some(kind.to_string()),
    };
    let report_name = reference.report_name();
    let mut read = ConstraintRead::default();
    let mut seen: BTreeSet<(String, String, String, String)> = BTreeSet::new();
    let mut entries = 0u64;
    let mut total = None;
    if let Some(status) = obj.get("status") {
        let status = status.node();
        total = status.u64("totalViolations")?;
        for item in status.list("violations")? {
            entries += 1;
            let v = item.node();
            let group = v.str("group")?.unwrap_or("").to_string();
            let vkind = v.req_str("kind")?.to_string();
            let vname = v.req_str("name")?.to_string();
            let namespace = match v.str("namespace")?.filter(|s| !s.is_empty()) {
                Some(ns) => Some(ns.to_string()),
                None if vkind == "Namespace" && group.is_empty() => Some(vname.clone()),
                None => None,
            };
            let ns_text = namespace.clone().unwrap_or_default();
            if !seen.insert((group, vkind.clone(), ns_text.clone(), vname.clone())) {
                continue;
            }
            let message = v.str("message")?;
            let (summary, names) = read.results.summary_and_names(
                Engine::Gatekeeper,
                &report_name,
                namespace.as_deref(),
                None,
            );
            let (vkind, vname) = (names.intern(&vkind), names.intern(&vname));
            let message = message.map(|m| names.intern(m));
            summary.add_failure(
                names.intern(""),
                Some(FailingResource {
                    kind: vkind.clone(),
                    name: vname.clone(),
                    rule: None,
                    message: message.clone(),
                }),
            );
            read.findings.push((
                ResourceRef {
                    namespace: names.intern(&ns_text),
                    kind: vkind,
                    name: vname,
                },
                Finding {
                    engine: Engine::Gatekeeper,
                    policy: names.intern(&report_name),
                    binding: None,
                    rule: None,
                    result: names.intern("fail"),
                    message,
                },
            ));
        }
    }
    let listed = seen.len() as u64;
    let truncated = total
        .filter(|t| *t > entries)
        .map(|total| Truncated { listed, total });
    read.policy = Some(Policy {
        label: reference.own_name(),
        reference,
        docs: docs_with_gatekeeper(&meta),
        annotations: meta.annotations,
        modes: ModeSpec::Fixed(mode),
        setting: Setting::EnforcementAction(action),
        reach: Reach::Constraint(matching),
        truncated,
    });
    Ok(read)
}
