//! The inventory: what forewarn knows of a cluster, independent of where it was read from.
//!
//! Policies with their docs and per-rule modes, report results reduced to per policy ×
//! namespace summaries, exceptions and namespaces. The snapshot source and the live
//! cluster source both build this same value. It holds no I/O and no clock; it must never keep
//! whole report objects (large clusters carry hundreds of thousands of results).

pub use super::results::{
    FailingResource, ResultCounts, ResultKey, ResultKeyRef, ResultSummary, Results, RuleCounts,
    SAMPLE_LIMIT, Warnings, push_sample,
};
use super::selector::{LabelSelector, SelectorExt, gatekeeper_glob, wildcard_match};
use crate::model::ids::Engine;
pub use crate::model::ids::{PolicyKind, PolicyRef};
pub use crate::model::name::Name;
use crate::model::problem::Problem;
use serde::Serialize;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// The annotation with which a policy asks Kyverno to report its failures as warnings.
pub const SCORED: &str = "policies.kyverno.io/scored";

/// Labels or annotations of an object.
pub type Labels = BTreeMap<String, String>;

/// What the admission engine does with a violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Mode {
    /// Violations are reported but admitted.
    Audit,
    /// Violations are blocked.
    Enforce,
}

impl Mode {
    /// Kyverno accepts `Audit`/`Enforce` and the deprecated lower-case spellings.
    pub fn parse_kyverno(s: &str) -> Option<Mode> {
        match s {
            "Audit" | "audit" => Some(Mode::Audit),
            "Enforce" | "enforce" => Some(Mode::Enforce),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Audit => "Audit",
            Mode::Enforce => "Enforce",
        }
    }
}

/// Severity as written in `policies.kyverno.io/severity`, normalised to lower case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicySeverity {
    Low,
    Medium,
    High,
    Critical,
}

impl PolicySeverity {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "low" | "info" => Some(Self::Low),
            "medium" => Some(Self::Medium),
            "high" => Some(Self::High),
            "critical" => Some(Self::Critical),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

/// The human description of a policy, from the `policies.kyverno.io/*` annotations.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PolicyDocs {
    pub title: Option<String>,
    pub category: Option<String>,
    pub severity: Option<PolicySeverity>,
    pub subject: Option<String>,
    pub description: Option<String>,
}

/// One `failureActionOverrides` / `validationFailureActionOverrides` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ModeOverride {
    pub action: Mode,
    /// Namespace names, `*` and `?` wildcards allowed. `None` when the field is absent (Kyverno
    /// tells an absent list from an empty one).
    pub namespaces: Option<Vec<String>>,
    pub namespace_selector: Option<LabelSelector>,
}

impl ModeOverride {
    /// Kyverno's matching (`matchOverride` in kyverno `pkg/engine/api/engineresponse.go`):
    /// with neither a namespace list nor a selector the override applies in every namespace;
    /// with only a selector, the namespace's labels decide; with a list (even an empty one), a
    /// namespace must match a pattern and, when a selector is given, the labels too.
    pub fn matches(&self, namespace: &str, labels: &Labels) -> bool {
        match (&self.namespaces, &self.namespace_selector) {
            (None, None) => true,
            (None, Some(sel)) => sel.matches(labels),
            (Some(list), sel) => {
                list.iter().any(|p| wildcard_match(p, namespace))
                    && sel.as_ref().is_none_or(|s| s.matches(labels))
            }
        }
    }
}

/// The name Kyverno gives a rule it generates for pod controllers: `prefix-name`, cut to 63
/// bytes (`getAutogenRuleName` in kyverno `pkg/autogen/v1/rule.go`).
pub fn autogen_rule_name(prefix: &str, name: &str) -> String {
    let mut full = format!("{prefix}-{name}");
    if full.len() > 63 {
        let mut cut = 63;
        while !full.is_char_boundary(cut) {
            cut -= 1;
        }
        full.truncate(cut);
    }
    full
}

fn first_override(overrides: &[ModeOverride], namespace: &str, labels: &Labels) -> Option<Mode> {
    overrides
        .iter()
        .find(|o| o.matches(namespace, labels))
        .map(|o| o.action)
}

/// The rule a report result names: the rule itself, or the rule Kyverno generated from it for
/// pod controllers (`autogen-<rule>` for Deployments and the like, `autogen-cronjob-<rule>` for
/// CronJobs), which keeps its rule's `failureAction` and `failureActionOverrides`
/// (kyverno `pkg/autogen/v1/rule.go`).
fn find_rule<'a>(rules: &'a [Rule], name: &str) -> Option<&'a Rule> {
    rules.iter().find(|r| r.name == name).or_else(|| {
        if !name.starts_with("autogen-") {
            return None;
        }
        rules.iter().find(|r| {
            autogen_rule_name("autogen", &r.name) == name
                || autogen_rule_name("autogen-cronjob", &r.name) == name
        })
    })
}

/// A rule of a Kyverno policy, as far as its mode is concerned.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    /// Only validate rules can block admission.
    pub validate: bool,
    pub failure_action: Option<Mode>,
    pub overrides: Vec<ModeOverride>,
}

/// A Gatekeeper constraint's `spec.enforcementAction` (gatekeeper
/// `pkg/util/enforcement_action.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnforcementAction {
    Deny,
    Dryrun,
    Warn,
    Scoped,
}

impl EnforcementAction {
    pub fn as_str(self) -> &'static str {
        match self {
            EnforcementAction::Deny => "deny",
            EnforcementAction::Dryrun => "dryrun",
            EnforcementAction::Warn => "warn",
            EnforcementAction::Scoped => "scoped",
        }
    }
}

/// One of a ValidatingAdmissionPolicyBinding's `spec.validationActions` (kubernetes
/// `staging/src/k8s.io/api/admissionregistration/v1/types.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ValidationAction {
    Deny,
    Warn,
    Audit,
}

impl ValidationAction {
    pub fn parse(s: &str) -> Option<ValidationAction> {
        Some(match s {
            "Deny" => ValidationAction::Deny,
            "Warn" => ValidationAction::Warn,
            "Audit" => ValidationAction::Audit,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ValidationAction::Deny => "Deny",
            ValidationAction::Warn => "Warn",
            ValidationAction::Audit => "Audit",
        }
    }
}

/// The engine's own setting that a rollout changes, as it is today: to say what the flip
/// changes in the engine's terms.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Setting {
    /// Kyverno: the failure action, Audit → Enforce.
    #[default]
    FailureAction,
    /// A Gatekeeper constraint's `spec.enforcementAction`; the flip sets `deny`.
    EnforcementAction(EnforcementAction),
    /// A ValidatingAdmissionPolicyBinding's `spec.validationActions`; the flip adds `Deny`.
    ValidationActions(Vec<ValidationAction>),
}

/// How the mode of a policy is decided.
#[derive(Debug, Clone, PartialEq)]
pub enum ModeSpec {
    /// Kyverno ClusterPolicy / Policy: per rule, then spec, with overrides.
    Kyverno {
        rules: Vec<Rule>,
        spec_action: Mode,
        spec_overrides: Vec<ModeOverride>,
    },
    /// ValidatingPolicy, Gatekeeper constraint: one mode everywhere it applies (a
    /// ValidatingPolicy's `spec.validationActions`, a constraint's `spec.enforcementAction`).
    Fixed(Mode),
    /// A ValidatingAdmissionPolicyBinding: `deny` when its `validationActions` has `Deny`. Every
    /// binding of a policy that matches a request applies (Kubernetes evaluates each one), so a
    /// namespace that another Deny binding of the same policy reaches (`denied_by`) is blocked
    /// already, before and after this binding's flip.
    Binding { deny: bool, denied_by: Vec<Reach> },
}

/// Where a policy applies, as far as the namespace decides it.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Reach {
    /// Every namespace (a namespaced Kyverno Policy: its own, see [`Policy::applies_in`]).
    #[default]
    Everywhere,
    /// A Gatekeeper constraint's `spec.match`.
    Constraint(ConstraintMatch),
    /// Namespaces whose labels every selector matches: a binding's
    /// `matchResources.namespaceSelector` and its policy's `matchConstraints.namespaceSelector`.
    Selectors(Vec<LabelSelector>),
}

impl Reach {
    /// Whether a resource in `namespace` (`""`: cluster-scoped) with the namespace's `labels`
    /// can be matched. A cluster-scoped object other than a Namespace passes every namespace
    /// test, in Gatekeeper (`namespacesMatch`, `namespaceSelectorMatch` in gatekeeper
    /// `pkg/mutation/match/match.go`) and in Kubernetes (`MatchNamespaceSelector` in kubernetes
    /// `staging/src/k8s.io/apiserver/pkg/admission/plugin/webhook/predicates/namespace/matcher.go`);
    /// a Namespace object is matched by its own name and labels, which are the namespace's.
    pub fn matches(&self, namespace: &str, labels: &Labels) -> bool {
        if namespace.is_empty() {
            return true;
        }
        match self {
            Reach::Everywhere => true,
            Reach::Constraint(m) => m.matches_namespace(namespace, labels),
            Reach::Selectors(list) => list.iter().all(|s| s.matches(labels)),
        }
    }
}

/// The namespace part of a Gatekeeper constraint's `spec.match`, plus what is kept only to be
/// shown (kinds, label selector, scope: they depend on the resource, which audit already
/// matched before listing a violation).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConstraintMatch {
    /// `namespaces`: globs with `*` at the front and/or end; empty: every namespace.
    pub namespaces: Vec<String>,
    /// `excludedNamespaces`, the same globs.
    pub excluded: Vec<String>,
    pub namespace_selector: Option<LabelSelector>,
    /// `kinds[].kinds`, as written.
    pub kinds: Vec<String>,
    /// `scope`: `Cluster`, `Namespaced` or `*` when set.
    pub scope: Option<String>,
    /// Whether a `labelSelector` narrows it to labelled resources.
    pub label_selector: bool,
}

impl ConstraintMatch {
    /// `namespacesMatch`, `excludedNamespacesMatch` and `namespaceSelectorMatch` of gatekeeper
    /// `pkg/mutation/match/match.go` for a namespace-scoped resource in `namespace`.
    pub fn matches_namespace(&self, namespace: &str, labels: &Labels) -> bool {
        (self.namespaces.is_empty()
            || self
                .namespaces
                .iter()
                .any(|p| gatekeeper_glob(p, namespace)))
            && !self.excluded.iter().any(|p| gatekeeper_glob(p, namespace))
            && self
                .namespace_selector
                .as_ref()
                .is_none_or(|s| s.matches(labels))
    }
}

/// Gatekeeper lists at most `--constraint-violations-limit` violations in a constraint's status
/// (default 20) while `totalViolations` counts all it found: the counts read from the list are
/// then lower bounds (gatekeeper `pkg/audit/manager.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Truncated {
    /// Distinct resources in the listed violations.
    pub listed: u64,
    /// `status.totalViolations`.
    pub total: u64,
}

/// A policy with everything forewarn reads from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Which policy this is: kind (and so engine), namespace and name.
    pub reference: PolicyRef,
    /// How forewarn names it in ids, messages and problems: the report name, or
    /// `Kind:name` when another policy of the inventory shares that name. Set by
    /// [`Inventory::finish`].
    pub label: String,
    pub annotations: Labels,
    pub docs: PolicyDocs,
    pub modes: ModeSpec,
    /// The engine's setting the rollout changes, as it is today.
    pub setting: Setting,
    /// Where it applies, by namespace.
    pub reach: Reach,
    /// Set when the engine listed fewer violations than it found (Gatekeeper): counts are lower
    /// bounds.
    pub truncated: Option<Truncated>,
}

impl Policy {
    /// The mode of `rule` (or the whole policy when the result names no rule) for a resource in
    /// `namespace`, with Kyverno's precedence: the rule's `failureActionOverrides`, the rule's
    /// `failureAction`, the spec's `validationFailureActionOverrides`, the spec's
    /// `validationFailureAction` (default Audit).
    pub fn mode_for(&self, rule: Option<&str>, namespace: &str, labels: &Labels) -> Mode {
        self.mode_with_base(rule, namespace, labels, None)
    }

    /// The mode of `rule` (or the whole policy) in `namespace` once the policy is flipped:
    /// the same precedence as [`Policy::mode_for`] with the base action — the rule's
    /// `failureAction` when it has one, the spec's `validationFailureAction` otherwise — set to
    /// Enforce, and every override left as written. First match wins, as in kyverno
    /// `pkg/engine/api/engineresponse.go` (`ruleAction`: rule overrides, then the rule's
    /// action; `failureActionForRule`: then the spec's overrides, then the spec's action) and
    /// `pkg/policycache/cache.go` (`checkValidationFailureActionOverrides`). So a namespace that
    /// an override keeps in Audit stays in Audit after the flip. A ValidatingPolicy has no
    /// overrides: Enforce.
    pub fn mode_after_flip(&self, rule: Option<&str>, namespace: &str, labels: &Labels) -> Mode {
        self.mode_with_base(rule, namespace, labels, Some(Mode::Enforce))
    }

    /// Whether a failure of `rule` in `namespace` is blocked now because of the flip: Enforce
    /// now, and Audit were the base action still Audit (an Enforce override that always
    /// applied there is not a flip).
    pub fn flipped_in(&self, rule: Option<&str>, namespace: &str, labels: &Labels) -> bool {
        self.mode_for(rule, namespace, labels) == Mode::Enforce
            && self.mode_with_base(rule, namespace, labels, Some(Mode::Audit)) == Mode::Audit
    }

    /// Whether a failure of `rule` in `namespace` is admitted today and would be rejected once
    /// the policy is flipped: Audit now, Enforce after the flip.
    pub fn flips_in(&self, rule: Option<&str>, namespace: &str, labels: &Labels) -> bool {
        self.mode_for(rule, namespace, labels) == Mode::Audit
            && self.mode_after_flip(rule, namespace, labels) == Mode::Enforce
    }

    /// Whether a failure of `rule` in `namespace` stays admitted after the flip because an
    /// override keeps it in Audit.
    pub fn stays_audit_in(&self, rule: Option<&str>, namespace: &str, labels: &Labels) -> bool {
        self.mode_for(rule, namespace, labels) == Mode::Audit
            && self.mode_after_flip(rule, namespace, labels) == Mode::Audit
    }

    /// Whether the flip has yet to happen in `namespace`: some validating rule (or the policy,
    /// without rules) is in Audit there and would be Enforce after it.
    pub fn flip_pending_in(&self, namespace: &str, labels: &Labels) -> bool {
        match &self.modes {
            ModeSpec::Fixed(mode) => *mode == Mode::Audit,
            ModeSpec::Binding { .. } => self.flips_in(None, namespace, labels),
            ModeSpec::Kyverno { rules, .. } => {
                let mut validating = rules.iter().filter(|r| r.validate).peekable();
                if validating.peek().is_none() {
                    return self.flips_in(None, namespace, labels);
                }
                validating.any(|r| self.flips_in(Some(&r.name), namespace, labels))
            }
        }
    }

    /// [`Policy::mode_for`], with the base action (the rule's `failureAction` where it has one,
    /// else the spec's `validationFailureAction`) replaced by `base` when given; overrides are
    /// always as written.
    fn mode_with_base(
        &self,
        rule: Option<&str>,
        namespace: &str,
        labels: &Labels,
        base: Option<Mode>,
    ) -> Mode {
        match &self.modes {
            ModeSpec::Fixed(mode) => base.unwrap_or(*mode),
            ModeSpec::Binding { deny, denied_by } => {
                if denied_by.iter().any(|r| r.matches(namespace, labels)) {
                    Mode::Enforce
                } else if self.reach.matches(namespace, labels) {
                    base.unwrap_or(if *deny { Mode::Enforce } else { Mode::Audit })
                } else {
                    Mode::Audit
                }
            }
            ModeSpec::Kyverno {
                rules,
                spec_action,
                spec_overrides,
            } => {
                let spec_action = &base.unwrap_or(*spec_action);
                let rule_action = |r: &Rule| r.failure_action.map(|a| base.unwrap_or(a));
                let spec_mode =
                    || first_override(spec_overrides, namespace, labels).unwrap_or(*spec_action);
                // The engine's action for a failure of the rule (kyverno
                // `pkg/engine/api/engineresponse.go`, `failureActionForRule`).
                let engine_mode = |r: &Rule| {
                    first_override(&r.overrides, namespace, labels)
                        .or(rule_action(r))
                        .unwrap_or_else(spec_mode)
                };
                // Whether the policy cache puts the rule among those evaluated to block
                // (kyverno `pkg/policycache/cache.go`, `checkValidationFailureActionOverrides`):
                // the rule's overrides, or the spec's when it has none, the first that matches
                // — with no namespaces and no selector it matches everywhere; otherwise by
                // namespace pattern or by selector — else the rule's action, else the spec's.
                let cache_mode = |r: &Rule| {
                    let overrides = if r.overrides.is_empty() {
                        spec_overrides
                    } else {
                        &r.overrides
                    };
                    overrides
                        .iter()
                        .find(|o| {
                            let no_namespaces = o.namespaces.as_ref().is_none_or(Vec::is_empty);
                            (no_namespaces && o.namespace_selector.is_none())
                                || (!namespace.is_empty()
                                    && (o
                                        .namespaces
                                        .iter()
                                        .flatten()
                                        .any(|p| wildcard_match(p, namespace))
                                        || o.namespace_selector
                                            .as_ref()
                                            .is_some_and(|s| s.matches(labels))))
                        })
                        .map(|o| o.action)
                        .or(rule_action(r))
                        .unwrap_or(*spec_action)
                };
                // A failure blocks only when both say Enforce: the cache decides which rules
                // run on the blocking path, the engine whether their failure blocks.
                let rule_mode = |r: &Rule| {
                    if engine_mode(r) == Mode::Enforce && cache_mode(r) == Mode::Enforce {
                        Mode::Enforce
                    } else {
                        Mode::Audit
                    }
                };
                match rule.and_then(|name| find_rule(rules, name)) {
                    Some(r) => rule_mode(r),
                    // No rule named: the policy audits there if any validate rule does.
                    None => {
                        let mut validating = rules.iter().filter(|r| r.validate).peekable();
                        if validating.peek().is_none() {
                            return spec_mode();
                        }
                        if validating.any(|r| rule_mode(r) == Mode::Audit) {
                            Mode::Audit
                        } else {
                            Mode::Enforce
                        }
                    }
                }
            }
        }
    }

    /// Whether the policy sets `policies.kyverno.io/scored: "false"`: Kyverno then reports its
    /// failures as warnings (kyverno `pkg/utils/report/results.go`).
    pub fn is_unscored(&self) -> bool {
        self.annotations
            .get(SCORED)
            .is_some_and(|v| v.trim() == "false")
    }

    /// Whether the policy has anything that can block admission.
    pub fn is_validating(&self) -> bool {
        match &self.modes {
            ModeSpec::Fixed(_) | ModeSpec::Binding { .. } => true,
            ModeSpec::Kyverno { rules, .. } => rules.iter().any(|r| r.validate),
        }
    }

    /// The title to show: the title annotation, else the name.
    pub fn title(&self) -> &str {
        self.docs.title.as_deref().unwrap_or(&self.reference.name)
    }

    pub fn name(&self) -> &str {
        &self.reference.name
    }

    pub fn kind(&self) -> PolicyKind {
        self.reference.kind
    }

    pub fn engine(&self) -> Engine {
        self.reference.engine()
    }

    /// The namespace of a namespaced policy.
    pub fn namespace(&self) -> Option<&str> {
        self.reference.namespace.as_deref()
    }

    /// Whether the policy can apply to resources in `namespace` at all, by the namespace's
    /// name alone (a namespaced policy applies only in its own).
    pub fn applies_in(&self, namespace: &str) -> bool {
        self.namespace().is_none_or(|ns| ns == namespace)
    }

    /// Whether the policy can apply to resources in `namespace` with the namespace's `labels`:
    /// [`Policy::applies_in`] and its [`Reach`] (a constraint's `match`, a binding's selectors).
    pub fn reaches(&self, namespace: &str, labels: &Labels) -> bool {
        self.applies_in(namespace) && self.reach.matches(namespace, labels)
    }

    /// Whether `text` names this policy: its label, its own name (a constraint's `Kind/name`,
    /// a binding's name), or `Kind:name` / `Kind/name` (kind case-insensitive).
    pub fn is_named(&self, text: &str) -> bool {
        let text = text.trim();
        if text == self.label || text == self.reference.own_name() {
            return true;
        }
        text.split_once([':', '/'])
            .and_then(|(kind, name)| Some((crate::model::ids::PolicyKind::parse(kind)?, name)))
            .is_some_and(|(kind, name)| kind == self.kind() && name == self.reference.own_name())
    }
}

/// A resource, as reports name it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ResourceRef {
    /// Empty for cluster-scoped resources.
    pub namespace: Name,
    pub kind: Name,
    pub name: Name,
}

/// One failing or warning result about one resource, or one an exception skipped (passes and
/// other skips are only counted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub engine: Engine,
    /// The policy as the report names it.
    pub policy: Name,
    /// The ValidatingAdmissionPolicyBinding the result names (`properties.binding`).
    pub binding: Option<Name>,
    pub rule: Option<Name>,
    /// `fail`, `warn`, or `skip` (skipped by an exception).
    pub result: Name,
    pub message: Option<Name>,
}

impl Finding {
    /// Replaces every name by the shared copy `names` holds.
    pub fn canon(&mut self, names: &mut crate::model::name::Names) {
        names.canon(&mut self.policy);
        names.canon(&mut self.result);
        for n in [&mut self.binding, &mut self.rule, &mut self.message]
            .into_iter()
            .flatten()
        {
            names.canon(n);
        }
    }
}

/// A PolicyException, kept for exception hygiene, reminders and coverage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exception {
    pub name: String,
    pub namespace: Option<String>,
    pub api_version: String,
    /// Policies (and their rules) the exception exempts resources from.
    pub policies: Vec<ExceptedPolicy>,
    /// Namespaces named in `spec.match` (wildcards as written); empty when not restricted.
    pub match_namespaces: Vec<String>,
    /// Resource names named in `spec.match` (wildcards as written); empty when not restricted.
    pub match_names: Vec<String>,
    /// `spec.match` of a kyverno.io exception, as written.
    pub matching: MatchResources,
    /// `spec.matchConditions` of a policies.kyverno.io exception: (name, CEL expression).
    pub match_conditions: Vec<(String, String)>,
    /// What in the exception forewarn cannot evaluate, whatever the resource: `spec.conditions`,
    /// `spec.podSecurity`, `spec.images`, unknown fields. Each makes a matching result only
    /// *possibly* covered.
    pub undecidable: Vec<String>,
    pub annotations: Labels,
    pub labels: Labels,
    pub created: Option<String>,
    /// `spec.expiresAt` when set (policies.kyverno.io).
    pub expires_at: Option<String>,
}

impl Exception {
    /// Whether the exception's `match` can cover a resource called `name`.
    pub fn names_match(&self, name: &str) -> bool {
        self.match_names.is_empty() || self.match_names.iter().any(|p| wildcard_match(p, name))
    }

    /// Whether this is a `policies.kyverno.io` (CEL) exception.
    pub fn is_cel(&self) -> bool {
        self.api_version.starts_with("policies.kyverno.io/")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExceptedPolicy {
    pub policy: String,
    /// `ruleNames` (kyverno.io; wildcards allowed; an empty list names no rule).
    pub rules: Vec<String>,
    /// `policyRefs[].kind` (policies.kyverno.io).
    pub kind: Option<String>,
}

/// `spec.match` of a kyverno.io exception: `any` (one filter must match) or, when `any` is
/// empty, `all` (every filter must match); with neither it matches nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MatchResources {
    pub any: Vec<ResourceFilter>,
    pub all: Vec<ResourceFilter>,
}

/// One `match.any[]` / `match.all[]` entry: its `resources` block and who makes the request.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ResourceFilter {
    /// `Kind`, `version/Kind`, `group/version/Kind`, `Kind/subresource`; wildcards allowed.
    pub kinds: Vec<String>,
    pub name: Option<String>,
    pub names: Vec<String>,
    pub namespaces: Vec<String>,
    pub annotations: Labels,
    #[serde(skip)]
    pub selector: Option<LabelSelector>,
    #[serde(skip)]
    pub namespace_selector: Option<LabelSelector>,
    /// `subjects`, `roles`, `clusterRoles` when set: they depend on who makes the request.
    pub user_info: Vec<String>,
    /// Fields forewarn does not know, by path.
    pub unknown: Vec<String>,
}

impl ResourceFilter {
    /// Kyverno's `ResourceFilter.IsEmpty`: nothing at all to match on.
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
            && self.name.is_none()
            && self.names.is_empty()
            && self.namespaces.is_empty()
            && self.annotations.is_empty()
            && self.selector.is_none()
            && self.namespace_selector.is_none()
            && self.user_info.is_empty()
            && self.unknown.is_empty()
    }
}

/// A namespace with the metadata used to find its owner and to match selectors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Namespace {
    pub name: String,
    pub labels: Labels,
    pub annotations: Labels,
}

/// A Gatekeeper ConstraintTemplate: the constraint kind it defines and its description.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub name: String,
    /// `spec.crd.spec.names.kind`.
    pub kind: String,
    pub docs: PolicyDocs,
}

/// A Kubernetes ValidatingAdmissionPolicy, as far as its bindings need it.
#[derive(Debug, Clone, PartialEq)]
pub struct AdmissionPolicy {
    pub name: String,
    pub annotations: Labels,
    pub docs: PolicyDocs,
    /// `spec.matchConstraints.namespaceSelector`.
    pub namespace_selector: Option<LabelSelector>,
}

/// A Kubernetes ValidatingAdmissionPolicyBinding.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub name: String,
    /// `spec.policyName`.
    pub policy: String,
    /// `spec.validationActions` contains `Deny`.
    pub deny: bool,
    /// `spec.validationActions`, as written.
    pub actions: Vec<ValidationAction>,
    pub annotations: Labels,
    /// `spec.matchResources.namespaceSelector`.
    pub namespace_selector: Option<LabelSelector>,
}

/// Everything read from one source.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// Which cluster this is.
    pub cluster: crate::model::ids::ClusterName,
    /// Sorted by reference.
    pub policies: Vec<Policy>,
    /// Keyed by (engine from the result's `source`, policy as reports name it, namespace,
    /// binding named).
    pub results: Results,
    /// Failing and warning results per resource, for `/policy why <resource>`, and results an
    /// exception skipped (`skip`), for exception reminders. Grows with failures and excepted
    /// resources, not with passing results.
    pub findings: BTreeMap<ResourceRef, Vec<Finding>>,
    pub exceptions: Vec<Exception>,
    pub namespaces: BTreeMap<String, Namespace>,
    /// Gatekeeper ConstraintTemplates, by the constraint kind each defines.
    pub templates: BTreeMap<String, Template>,
    /// Kubernetes ValidatingAdmissionPolicies (their bindings become policies in
    /// [`Inventory::finish`]).
    pub admission_policies: Vec<AdmissionPolicy>,
    /// Kubernetes ValidatingAdmissionPolicyBindings, as read.
    pub bindings: Vec<Binding>,
    /// Objects of kinds forewarn does not read, by `apiVersion kind`.
    pub skipped: BTreeMap<String, u64>,
    /// Objects read, including skipped ones.
    pub objects: u64,
    /// Problems met while reading; the rest was still loaded.
    pub problems: Vec<Problem>,
}

impl Inventory {
    /// The policy `text` names (see [`Policy::is_named`]); `None` when none or several do.
    pub fn policy(&self, text: &str) -> Option<&Policy> {
        let mut named = self.policies.iter().filter(|p| p.is_named(text));
        let first = named.next()?;
        named.next().is_none().then_some(first)
    }

    /// The policy a report result names: same engine (the result's `source`) and the same
    /// report name.
    pub fn policy_of_result(&self, engine: Engine, report_name: &str) -> Option<&Policy> {
        self.policies
            .iter()
            .find(|p| p.engine() == engine && p.reference.is_report_name(report_name))
    }

    /// The policy that decides a result about a resource in `namespace` (`""`: cluster-scoped):
    /// [`Inventory::policy_of_result`], except that of several bindings of one
    /// ValidatingAdmissionPolicy the one the result names (`binding`) is taken, else the one
    /// whose flip would block it is preferred, then one that reaches the namespace.
    pub fn policy_deciding(
        &self,
        engine: Engine,
        report_name: &str,
        binding: Option<&str>,
        namespace: &str,
        labels: &Labels,
    ) -> Option<&Policy> {
        let mut named = self
            .policies
            .iter()
            .filter(|p| p.engine() == engine && p.reference.is_report_name(report_name));
        let all: Vec<&Policy> = named.by_ref().collect();
        if let Some(b) = binding
            && let Some(p) = all.iter().find(|p| {
                p.kind() == PolicyKind::ValidatingAdmissionPolicyBinding && p.reference.name == b
            })
        {
            return Some(p);
        }
        all.iter()
            .find(|p| p.reaches(namespace, labels) && p.flips_in(None, namespace, labels))
            .or_else(|| all.iter().find(|p| p.reaches(namespace, labels)))
            .or_else(|| all.first())
            .copied()
    }

    /// The policies `text` names (several when a name is shared across kinds).
    pub fn policies_named<'a>(&'a self, text: &'a str) -> impl Iterator<Item = &'a Policy> + 'a {
        self.policies.iter().filter(move |p| p.is_named(text))
    }

    /// Labels of a namespace (empty when the namespace object was not seen).
    pub fn namespace_labels(&self, namespace: &str) -> &Labels {
        static EMPTY: Labels = BTreeMap::new();
        self.namespaces.get(namespace).map_or(&EMPTY, |n| &n.labels)
    }

    /// Result summaries of one policy, by namespace. A binding counts the results that name it
    /// and those that name no binding (older Kyverno), never another binding's; where it has
    /// both in one namespace they are added up.
    pub fn results_for<'a>(
        &'a self,
        policy: &PolicyRef,
    ) -> impl Iterator<Item = (Option<&'a str>, Cow<'a, ResultSummary>)> + 'a {
        let (engine, name) = (policy.engine(), policy.report_name());
        let binding = (policy.kind == PolicyKind::ValidatingAdmissionPolicyBinding)
            .then(|| policy.name.clone());
        let mut entries = self
            .results
            .of_policy(engine, &name)
            .filter(move |(_, b, _)| b.is_none_or(|b| Some(b) == binding.as_deref()))
            .map(|(ns, _, s)| (ns, s))
            .peekable();
        // Keys sort by namespace before binding: one namespace's entries are adjacent.
        std::iter::from_fn(move || {
            let (ns, first) = entries.next()?;
            let mut sum = Cow::Borrowed(first);
            while let Some((_, s)) = entries.next_if(|(n, _)| *n == ns) {
                sum.to_mut().absorb(s);
            }
            Some((ns, sum))
        })
    }

    /// Adds everything `other` holds (the live source keeps one small inventory per object and
    /// folds them into one).
    pub fn absorb(&mut self, other: &Inventory) {
        self.policies.extend(other.policies.iter().cloned());
        for ((engine, policy, namespace, binding), s) in &other.results {
            let key = (
                engine,
                Name::from(policy),
                namespace.map(Name::from),
                binding.map(Name::from),
            );
            self.results.add(&key, s.clone());
        }
        for (k, f) in &other.findings {
            self.findings
                .entry(k.clone())
                .or_default()
                .extend(f.iter().cloned());
        }
        self.exceptions.extend(other.exceptions.iter().cloned());
        for (k, ns) in &other.namespaces {
            self.namespaces.insert(k.clone(), ns.clone());
        }
        for (k, t) in &other.templates {
            self.templates.insert(k.clone(), t.clone());
        }
        self.admission_policies
            .extend(other.admission_policies.iter().cloned());
        self.bindings.extend(other.bindings.iter().cloned());
        for (k, n) in &other.skipped {
            *self.skipped.entry(k.clone()).or_default() += n;
        }
        self.objects += other.objects;
        self.problems.extend(other.problems.iter().cloned());
    }

    /// Joins what one object cannot know alone — a constraint's template, a binding's policy
    /// and sibling bindings — and puts policies in a stable order; called once a source has
    /// finished loading.
    pub fn finish(&mut self) {
        self.results.seal();
        self.join_engines();
        self.policies.sort_by(|a, b| {
            (a.reference.own_name(), &a.reference).cmp(&(b.reference.own_name(), &b.reference))
        });
        // A name shared by two policies (a ClusterPolicy and a ValidatingPolicy, say) is
        // qualified by kind wherever forewarn shows it, so ids stay unique.
        let mut by_name: BTreeMap<String, usize> = BTreeMap::new();
        for p in &self.policies {
            *by_name.entry(p.reference.own_name()).or_default() += 1;
        }
        for p in &mut self.policies {
            let name = p.reference.own_name();
            p.label = if by_name.get(&name).copied().unwrap_or(0) > 1 {
                p.reference.qualified()
            } else {
                name
            };
        }
        self.exceptions
            .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        self.unscored_warnings_fail();
    }

    /// A constraint takes its title and description from its template when it has none; each
    /// ValidatingAdmissionPolicyBinding becomes a policy (the binding carries the rollout),
    /// reaching the namespaces its selector and its policy's select, and knowing which other
    /// Deny bindings of the same policy block where (every matching binding applies).
    fn join_engines(&mut self) {
        for p in &mut self.policies {
            if p.kind() != PolicyKind::Constraint {
                continue;
            }
            if let Some(t) = p
                .reference
                .parent
                .as_ref()
                .and_then(|k| self.templates.get(k))
            {
                let d = &mut p.docs;
                d.title = d.title.take().or_else(|| t.docs.title.clone());
                d.description = d.description.take().or_else(|| t.docs.description.clone());
            }
        }
        self.policies
            .retain(|p| p.kind() != PolicyKind::ValidatingAdmissionPolicyBinding);
        let reach_of = |b: &Binding, vap: Option<&AdmissionPolicy>| {
            let selectors: Vec<LabelSelector> = [
                b.namespace_selector.clone(),
                vap.and_then(|v| v.namespace_selector.clone()),
            ]
            .into_iter()
            .flatten()
            .collect();
            if selectors.is_empty() {
                Reach::Everywhere
            } else {
                Reach::Selectors(selectors)
            }
        };
        for b in &self.bindings {
            let vap = self.admission_policies.iter().find(|v| v.name == b.policy);
            let denied_by = self
                .bindings
                .iter()
                .filter(|o| o.policy == b.policy && o.name != b.name && o.deny)
                .map(|o| reach_of(o, vap))
                .collect();
            let mut docs = vap.map(|v| v.docs.clone()).unwrap_or_default();
            docs.title = docs.title.or_else(|| Some(b.policy.clone()));
            self.policies.push(Policy {
                reference: PolicyRef {
                    kind: PolicyKind::ValidatingAdmissionPolicyBinding,
                    namespace: None,
                    name: b.name.clone(),
                    parent: Some(b.policy.clone()),
                },
                label: b.name.clone(),
                annotations: b.annotations.clone(),
                docs,
                modes: ModeSpec::Binding {
                    deny: b.deny,
                    denied_by,
                },
                setting: Setting::ValidationActions(b.actions.clone()),
                reach: reach_of(b, vap),
                truncated: None,
            });
        }
    }

    /// Failures of policies annotated `policies.kyverno.io/scored: "false"` are reported as
    /// `warn` (kyverno `pkg/utils/report/results.go`); such a resource is still blocked once the
    /// policy enforces, so forewarn counts those warnings as failures (summaries and
    /// per-resource findings). Other warnings keep only their count.
    fn unscored_warnings_fail(&mut self) {
        // Report name → engines of the unscored policies so named.
        let mut unscored: BTreeMap<String, Vec<Engine>> = BTreeMap::new();
        for p in self.policies.iter().filter(|p| p.is_unscored()) {
            unscored
                .entry(p.reference.report_name())
                .or_default()
                .push(p.engine());
        }
        let is_unscored =
            |engine: Engine, name: &str| unscored.get(name).is_some_and(|e| e.contains(&engine));
        for ((engine, name, _, _), s) in self.results.iter_mut() {
            if s.warnings().is_none() {
                continue;
            }
            if is_unscored(engine, name) {
                s.warnings_are_failures();
            } else {
                s.drop_warnings();
            }
        }
        if unscored.is_empty() {
            return;
        }
        for findings in self.findings.values_mut() {
            for f in findings.iter_mut() {
                if f.result == "warn" && is_unscored(f.engine, &f.policy) {
                    f.result = "fail".into();
                }
            }
        }
    }
}
