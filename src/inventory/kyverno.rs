//! Reading Kyverno's policy and exception objects (and Namespaces) into the inventory model.
//!
//! Knows the field names of `kyverno.io` and `policies.kyverno.io` objects and how Kyverno
//! decides a rule's mode. Each function reads one object and returns a model value or a
//! [`FieldError`] naming the offending field; it never looks at other objects and does no I/O.

use super::fields::{FieldError, FieldResult, Node};
use super::model::{
    ExceptedPolicy, Exception, MatchResources, Mode, ModeOverride, ModeSpec, Namespace, Policy,
    PolicyDocs, PolicyKind, PolicyRef, PolicySeverity, Reach, ResourceFilter, Rule,
};
use super::selector::{Expression, LabelSelector};

/// Annotations of the Kyverno policy library that describe a policy.
pub const TITLE: &str = "policies.kyverno.io/title";
pub const CATEGORY: &str = "policies.kyverno.io/category";
pub const SEVERITY: &str = "policies.kyverno.io/severity";
pub const SUBJECT: &str = "policies.kyverno.io/subject";
pub const DESCRIPTION: &str = "policies.kyverno.io/description";

/// Name, namespace, labels and annotations of any object.
pub struct Meta {
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub labels: super::model::Labels,
    pub annotations: super::model::Labels,
    pub created: Option<String>,
}

pub fn read_meta(obj: Node<'_>) -> FieldResult<Meta> {
    let Some(meta) = obj.get("metadata") else {
        return Ok(Meta {
            name: None,
            namespace: None,
            labels: Default::default(),
            annotations: Default::default(),
            created: None,
        });
    };
    let m = meta.node();
    Ok(Meta {
        name: m.str("name")?.map(str::to_string),
        namespace: m.str("namespace")?.map(str::to_string),
        labels: m.string_map("labels")?,
        annotations: m.string_map("annotations")?,
        created: m.str("creationTimestamp")?.map(str::to_string),
    })
}

/// Whether `s` is a valid namespace name (an RFC 1123 label). Rejects template placeholders
/// such as `${var.namespace}` or chainsaw's `($namespace)` that are not real objects.
pub fn valid_namespace_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn check_namespace(value: &str, field: &str) -> FieldResult<()> {
    if valid_namespace_name(value) {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            format!(
                "'{value}' is not a namespace name (a template placeholder or test assertion, not a whole object?)"
            ),
        ))
    }
}

pub fn required_name(meta: &Meta) -> FieldResult<String> {
    meta.name
        .clone()
        .ok_or_else(|| FieldError::new("metadata.name", "missing"))
}

/// A `metav1.LabelSelector` as kube's [`LabelSelector`]; an unknown operator or a missing
/// value list names its field.
pub fn read_selector(node: Node<'_>) -> FieldResult<LabelSelector> {
    let mut exprs: Vec<Expression> = node
        .string_map("matchLabels")?
        .into_iter()
        .map(|(k, v)| Expression::Equal(k, v))
        .collect();
    for expr in node.list("matchExpressions")? {
        let e = expr.node();
        let key = e.req_str("key")?.to_string();
        let values = || -> FieldResult<std::collections::BTreeSet<String>> {
            match e.str_list("values")? {
                Some(v) if !v.is_empty() => Ok(v.into_iter().collect()),
                _ => Err(e.error("values", "missing: In and NotIn need at least one value")),
            }
        };
        exprs.push(match e.req_str("operator")? {
            "In" => Expression::In(key, values()?),
            "NotIn" => Expression::NotIn(key, values()?),
            "Exists" => Expression::Exists(key),
            "DoesNotExist" => Expression::DoesNotExist(key),
            other => {
                return Err(e.error(
                    "operator",
                    format!(
                        "unknown operator '{other}' (expected In, NotIn, Exists or DoesNotExist)"
                    ),
                ));
            }
        });
    }
    Ok(exprs.into_iter().collect())
}

fn read_overrides(node: Node<'_>, key: &str) -> FieldResult<Vec<ModeOverride>> {
    let mut out = Vec::new();
    for item in node.list(key)? {
        let o = item.node();
        let action_text = o.req_str("action")?;
        // Kyverno skips overrides whose action is not valid; we report it instead of guessing.
        let action = Mode::parse_kyverno(action_text).ok_or_else(|| {
            o.error(
                "action",
                format!("unknown action '{action_text}' (expected Audit or Enforce)"),
            )
        })?;
        let namespace_selector = match o.get("namespaceSelector") {
            Some(c) => Some(read_selector(c.node())?),
            None => None,
        };
        out.push(ModeOverride {
            action,
            namespaces: o.str_list("namespaces")?,
            namespace_selector,
        });
    }
    Ok(out)
}

fn read_mode(node: Node<'_>, key: &str) -> FieldResult<Option<Mode>> {
    match node.str(key)? {
        None => Ok(None),
        Some(s) => Mode::parse_kyverno(s).map(Some).ok_or_else(|| {
            node.error(
                key,
                format!("unknown value '{s}' (expected Audit or Enforce)"),
            )
        }),
    }
}

pub fn docs(meta: &Meta) -> PolicyDocs {
    let get = |k: &str| {
        meta.annotations
            .get(k)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    PolicyDocs {
        title: get(TITLE),
        category: get(CATEGORY),
        severity: get(SEVERITY).and_then(|s| PolicySeverity::parse(&s)),
        subject: get(SUBJECT),
        description: get(DESCRIPTION),
    }
}

/// A `kyverno.io` ClusterPolicy or Policy.
pub fn read_kyverno_policy(obj: Node<'_>, kind: PolicyKind) -> FieldResult<Policy> {
    let meta = read_meta(obj)?;
    let name = required_name(&meta)?;
    let namespace = match kind {
        PolicyKind::Policy => {
            let ns = meta.namespace.clone().ok_or_else(|| {
                FieldError::new("metadata.namespace", "missing: a Policy is namespaced")
            })?;
            check_namespace(&ns, "metadata.namespace")?;
            Some(ns)
        }
        _ => None,
    };
    let spec_child = obj
        .get("spec")
        .ok_or_else(|| FieldError::new("spec", "missing"))?;
    let spec = spec_child.node();
    let mut rules = Vec::new();
    for item in spec.list("rules")? {
        let r = item.node();
        let rule_name = r.req_str("name")?.to_string();
        let (validate, failure_action, overrides) = match r.get("validate") {
            Some(v) => {
                let v = v.node();
                (
                    true,
                    read_mode(v, "failureAction")?,
                    read_overrides(v, "failureActionOverrides")?,
                )
            }
            None => (false, None, Vec::new()),
        };
        rules.push(Rule {
            name: rule_name,
            validate,
            failure_action,
            overrides,
        });
    }
    let spec_action = read_mode(spec, "validationFailureAction")?.unwrap_or(Mode::Audit);
    let spec_overrides = read_overrides(spec, "validationFailureActionOverrides")?;
    let reference = PolicyRef {
        kind,
        namespace,
        name,
        parent: None,
    };
    Ok(Policy {
        label: reference.report_name(),
        reference,
        docs: docs(&meta),
        annotations: meta.annotations,
        modes: ModeSpec::Kyverno {
            rules,
            spec_action,
            spec_overrides,
        },
        setting: Default::default(),
        reach: Reach::Everywhere,
        truncated: None,
    })
}

/// A `policies.kyverno.io` ValidatingPolicy or NamespacedValidatingPolicy.
pub fn read_validating_policy(obj: Node<'_>, kind: PolicyKind) -> FieldResult<Policy> {
    let meta = read_meta(obj)?;
    let name = required_name(&meta)?;
    let namespace = if kind == PolicyKind::NamespacedValidatingPolicy {
        let ns = meta.namespace.clone().ok_or_else(|| {
            FieldError::new("metadata.namespace", "missing: this kind is namespaced")
        })?;
        check_namespace(&ns, "metadata.namespace")?;
        Some(ns)
    } else {
        None
    };
    let spec = obj
        .get("spec")
        .ok_or_else(|| FieldError::new("spec", "missing"))?;
    let actions = spec
        .node()
        .str_list("validationActions")?
        .unwrap_or_default();
    for a in &actions {
        if !matches!(a.as_str(), "Deny" | "Audit" | "Warn") {
            return Err(FieldError::new(
                "spec.validationActions",
                format!("unknown action '{a}' (expected Deny, Audit or Warn)"),
            ));
        }
    }
    // Kubernetes' default for validationActions is Deny; only Deny blocks admission.
    let mode = if actions.is_empty() || actions.iter().any(|a| a == "Deny") {
        Mode::Enforce
    } else {
        Mode::Audit
    };
    let reference = PolicyRef {
        kind,
        namespace,
        name,
        parent: None,
    };
    Ok(Policy {
        label: reference.report_name(),
        reference,
        docs: docs(&meta),
        annotations: meta.annotations,
        modes: ModeSpec::Fixed(mode),
        setting: Default::default(),
        reach: Reach::Everywhere,
        truncated: None,
    })
}

/// A PolicyException of `kyverno.io` (v2, v2beta1) or `policies.kyverno.io` (v1, v1beta1, v1alpha1).
pub fn read_exception(obj: Node<'_>, api_version: &str) -> FieldResult<Exception> {
    let meta = read_meta(obj)?;
    let name = required_name(&meta)?;
    if let Some(ns) = &meta.namespace {
        check_namespace(ns, "metadata.namespace")?;
    }
    let spec_child = obj
        .get("spec")
        .ok_or_else(|| FieldError::new("spec", "missing"))?;
    let spec = spec_child.node();
    let cel = api_version.starts_with("policies.kyverno.io/");
    let mut policies = Vec::new();
    let mut undecidable = Vec::new();
    // kyverno.io: spec.exceptions[].policyName (+ ruleNames)
    for item in spec.list("exceptions")? {
        let e = item.node();
        policies.push(ExceptedPolicy {
            policy: e.req_str("policyName")?.to_string(),
            rules: e.str_list("ruleNames")?.unwrap_or_default(),
            kind: None,
        });
    }
    // policies.kyverno.io: spec.policyRefs[] (name and kind)
    for item in spec.list("policyRefs")? {
        let r = item.node();
        policies.push(ExceptedPolicy {
            policy: r.req_str("name")?.to_string(),
            rules: Vec::new(),
            kind: r.str("kind")?.map(str::to_string),
        });
    }
    let mut match_conditions = Vec::new();
    for item in spec.list("matchConditions")? {
        let c = item.node();
        match_conditions.push((
            c.str("name")?.unwrap_or("").to_string(),
            c.str("expression")?.unwrap_or("").to_string(),
        ));
    }
    let mut matching = MatchResources::default();
    if let Some(m) = spec.get("match") {
        let m = m.node();
        matching.any = read_filters(m, "any")?;
        matching.all = read_filters(m, "all")?;
        if let Some(obj) = m.value().as_object() {
            for key in obj.keys().filter(|k| !matches!(k.as_str(), "any" | "all")) {
                undecidable.push(format!("spec.match.{key} is not a field forewarn knows"));
            }
        }
    }
    let mut match_namespaces = Vec::new();
    let mut match_names = Vec::new();
    for f in matching.any.iter().chain(&matching.all) {
        match_namespaces.extend(f.namespaces.iter().cloned());
        match_names.extend(f.names.iter().cloned());
        match_names.extend(f.name.iter().cloned());
    }
    // What cannot be decided from reports, whatever the resource.
    let known: &[&str] = if cel {
        &[
            "policyRefs",
            "matchConditions",
            "expiresAt",
            "reportResult",
            "evaluationMode",
            "images",
            "allowedValues",
            "properties",
        ]
    } else {
        &[
            "exceptions",
            "match",
            "conditions",
            "podSecurity",
            "background",
        ]
    };
    if let Some(obj) = spec.value().as_object() {
        for (key, value) in obj {
            if value.is_null() {
                continue;
            }
            let empty = value.as_array().is_some_and(Vec::is_empty)
                || value.as_object().is_some_and(|o| o.is_empty());
            match key.as_str() {
                k if !known.contains(&k) => {
                    undecidable.push(format!("spec.{k} is not a field forewarn knows"));
                }
                "conditions" if !empty => undecidable.push(
                    "spec.conditions are evaluated on the admission request, which reports do not show"
                        .to_string(),
                ),
                "podSecurity" if !empty => undecidable.push(
                    "spec.podSecurity exempts only some Pod Security controls".to_string(),
                ),
                "images" | "allowedValues" if !empty => undecidable.push(format!(
                    "spec.{key} exempts only some values, not the whole resource"
                )),
                _ => {}
            }
        }
    }
    Ok(Exception {
        name,
        namespace: meta.namespace,
        api_version: api_version.to_string(),
        policies,
        match_namespaces,
        match_names,
        matching,
        match_conditions,
        undecidable,
        annotations: meta.annotations,
        labels: meta.labels,
        created: meta.created,
        expires_at: spec.str("expiresAt")?.map(str::to_string),
    })
}

/// `match.any` or `match.all` of a kyverno.io exception.
fn read_filters(node: Node<'_>, key: &str) -> FieldResult<Vec<ResourceFilter>> {
    let mut out = Vec::new();
    for item in node.list(key)? {
        let f = item.node();
        let mut filter = ResourceFilter::default();
        if let Some(obj) = f.value().as_object() {
            for (k, v) in obj {
                match k.as_str() {
                    "resources" => {}
                    "subjects" | "roles" | "clusterRoles" => {
                        if !v.is_null() && !v.as_array().is_some_and(Vec::is_empty) {
                            filter.user_info.push(k.clone());
                        }
                    }
                    _ => filter.unknown.push(format!("{}.{k}", f.path())),
                }
            }
        }
        if let Some(res) = f.get("resources") {
            let r = res.node();
            filter.kinds = r.str_list("kinds")?.unwrap_or_default();
            filter.name = r.str("name")?.filter(|s| !s.is_empty()).map(str::to_string);
            filter.names = r.str_list("names")?.unwrap_or_default();
            filter.namespaces = r.str_list("namespaces")?.unwrap_or_default();
            filter.annotations = r.string_map("annotations")?;
            filter.selector = match r.get("selector") {
                Some(c) => Some(read_selector(c.node())?),
                None => None,
            };
            filter.namespace_selector = match r.get("namespaceSelector") {
                Some(c) => Some(read_selector(c.node())?),
                None => None,
            };
            if let Some(obj) = r.value().as_object() {
                for k in obj.keys() {
                    if !matches!(
                        k.as_str(),
                        "kinds"
                            | "name"
                            | "names"
                            | "namespaces"
                            | "annotations"
                            | "selector"
                            | "namespaceSelector"
                            | "operations"
                    ) {
                        filter.unknown.push(format!("{}.{k}", r.path()));
                    }
                }
            }
        }
        out.push(filter);
    }
    Ok(out)
}

/// A core/v1 Namespace.
pub fn read_namespace(obj: Node<'_>) -> FieldResult<Namespace> {
    let meta = read_meta(obj)?;
    let name = required_name(&meta)?;
    check_namespace(&name, "metadata.name")?;
    Ok(Namespace {
        name,
        labels: meta.labels,
        annotations: meta.annotations,
    })
}
