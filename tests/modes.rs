//! Kyverno's failure-action precedence, on the real policies in ../shared/fixtures: the rule's
//! overrides, the rule's action, the spec's overrides, the spec's action (default Audit);
//! overrides match by namespace list (with wildcards) and/or namespace selector.

#[macro_use]
mod common;

use common::{fixture, inventory_from, load};
use forewarn::inventory::{Labels, Mode};

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const CHAINSAW: &str = "kyverno/test/conformance/chainsaw";

#[test]
fn rule_overrides_come_first() {
    needs_fixtures!();
    let inv = load(&fixture(&format!(
        "{CHAINSAW}/generate-validating-admission-policy/clusterpolicy/standard/skip-generate/cpol-multiple-validation-failure-action-overrides/policy.yaml"
    )));
    let p = inv.policy("check-label-app").expect("policy");
    let none = Labels::new();
    assert_eq!(
        p.mode_for(Some("check-label-app"), "default", &none),
        Mode::Enforce
    );
    assert_eq!(
        p.mode_for(Some("check-label-app"), "test", &none),
        Mode::Audit
    );
    assert_eq!(
        p.mode_for(Some("check-label-app"), "other", &none),
        Mode::Audit
    );
    // A result without a rule name: the policy audits there if any validate rule does.
    assert_eq!(p.mode_for(None, "default", &none), Mode::Enforce);
}

#[test]
fn spec_overrides_apply_when_the_rule_says_nothing() {
    needs_fixtures!();
    let inv = load(&fixture(
        "kyverno/release-1.12/test/conformance/chainsaw/generate-validating-admission-policy/clusterpolicy/standard/skip-generate/cpol-validation-failure-action-overrides-with-namespace/policy.yaml",
    ));
    let p = inv.policy("check-label-app1").expect("policy");
    let none = Labels::new();
    assert_eq!(
        p.mode_for(Some("check-label-app"), "default", &none),
        Mode::Enforce
    );
    assert_eq!(
        p.mode_for(Some("check-label-app"), "prod", &none),
        Mode::Audit
    );
}

#[test]
fn selector_overrides_match_namespace_labels() {
    needs_fixtures!();
    let inv = load(&fixture(&format!(
        "{CHAINSAW}/validate/clusterpolicy/standard/enforce/enforce-validate-labeled-action-override/policy.yaml"
    )));
    let p = inv
        .policy("check-labels-audit-labeled-namespaces")
        .expect("policy");
    assert_eq!(
        p.mode_for(
            Some("check-labels"),
            "team-a",
            &labels(&[("kyverno-audit", "true")])
        ),
        Mode::Audit
    );
    assert_eq!(
        p.mode_for(
            Some("check-labels"),
            "team-a",
            &labels(&[("kyverno-audit", "false")])
        ),
        Mode::Enforce
    );
    assert_eq!(
        p.mode_for(Some("check-labels"), "team-a", &Labels::new()),
        Mode::Enforce
    );
}

#[test]
fn rule_action_beats_spec_overrides_and_wildcards_match() {
    // Written here to cover the combinations the fixtures do not: a rule-level action shadows
    // the spec's overrides; wildcards in namespace lists; list AND selector.
    let inv = inventory_from(&[(
        "policy.yaml",
        r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: p}
spec:
  validationFailureAction: Audit
  validationFailureActionOverrides:
    - action: Enforce
      namespaces: ["prod-*"]
  rules:
    - name: with-action
      validate:
        failureAction: Audit
        message: x
    - name: inherits
      validate:
        message: x
    - name: both
      validate:
        failureActionOverrides:
          - action: Enforce
            namespaces: ["team-?"]
            namespaceSelector:
              matchExpressions:
                - {key: env, operator: In, values: [prod]}
        message: x
"#,
    )]);
    assert!(inv.problems.is_empty(), "{:?}", inv.problems);
    let p = inv.policy("p").expect("policy");
    let none = Labels::new();
    assert_eq!(
        p.mode_for(Some("with-action"), "prod-eu", &none),
        Mode::Audit
    );
    assert_eq!(
        p.mode_for(Some("inherits"), "prod-eu", &none),
        Mode::Enforce
    );
    assert_eq!(p.mode_for(Some("inherits"), "dev", &none), Mode::Audit);
    let prod = labels(&[("env", "prod")]);
    assert_eq!(p.mode_for(Some("both"), "team-a", &prod), Mode::Enforce);
    assert_eq!(p.mode_for(Some("both"), "team-a", &none), Mode::Audit);
    assert_eq!(p.mode_for(Some("both"), "team-ab", &prod), Mode::Audit);
}

#[test]
fn a_bad_action_names_the_field() {
    let inv = inventory_from(&[(
        "bad.yaml",
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: p}\nspec:\n  rules:\n    - name: r\n      validate:\n        failureAction: Block\n",
    )]);
    assert_eq!(inv.problems.len(), 1);
    let p = &inv.problems[0];
    assert_eq!(p.object, "bad.yaml doc 1 (ClusterPolicy p)");
    assert_eq!(p.field, "spec.rules[0].validate.failureAction");
    assert!(p.message.contains("'Block'"));
}

/// After the flip the base action is Enforce and every override stays as written (kyverno
/// `pkg/engine/api/engineresponse.go`, `ruleAction` / `failureActionForRule`: first match wins):
/// `test` keeps its Audit override, everything else blocks.
#[test]
fn after_the_flip_overrides_still_win() {
    needs_fixtures!();
    let inv = load(&fixture(&format!(
        "{CHAINSAW}/generate-validating-admission-policy/clusterpolicy/standard/skip-generate/cpol-multiple-validation-failure-action-overrides/policy.yaml"
    )));
    let p = inv.policy("check-label-app").expect("policy");
    let none = Labels::new();
    let rule = Some("check-label-app");
    assert_eq!(p.mode_after_flip(rule, "default", &none), Mode::Enforce);
    assert_eq!(p.mode_after_flip(rule, "test", &none), Mode::Audit);
    assert_eq!(p.mode_after_flip(rule, "other", &none), Mode::Enforce);
    assert!(p.flips_in(rule, "other", &none));
    assert!(!p.flips_in(rule, "default", &none), "already Enforce");
    assert!(p.stays_audit_in(rule, "test", &none));

    // A selector override keeps labelled namespaces in Audit after a flip too.
    let inv = load(&fixture(&format!(
        "{CHAINSAW}/validate/clusterpolicy/standard/enforce/enforce-validate-labeled-action-override/policy.yaml"
    )));
    let p = inv
        .policy("check-labels-audit-labeled-namespaces")
        .expect("policy");
    let audit = labels(&[("kyverno-audit", "true")]);
    assert_eq!(p.mode_after_flip(None, "x", &audit), Mode::Audit);
    assert_eq!(p.mode_after_flip(None, "x", &none), Mode::Enforce);
}

/// A rule without its own action falls back to the spec's overrides after the flip, and the
/// spec's action is the base that flips. A ValidatingPolicy has no overrides: all Enforce.
#[test]
fn after_the_flip_spec_overrides_stay_and_validating_policies_enforce() {
    let inv = inventory_from(&[(
        "p.yaml",
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: p}\nspec:\n  validationFailureAction: Audit\n  validationFailureActionOverrides:\n  - {action: Audit, namespaces: [legacy-*]}\n  rules:\n  - name: r\n    validate: {message: m}\n---\n\
apiVersion: policies.kyverno.io/v1\nkind: ValidatingPolicy\nmetadata: {name: vp}\nspec:\n  validationActions: [Audit]\n  validations: [{expression: 'true'}]\n",
    )]);
    let none = Labels::new();
    let p = inv.policy("p").expect("p");
    assert_eq!(
        p.mode_after_flip(Some("r"), "legacy-batch", &none),
        Mode::Audit
    );
    assert_eq!(p.mode_after_flip(Some("r"), "shop", &none), Mode::Enforce);
    let vp = inv.policy("vp").expect("vp");
    assert_eq!(vp.mode_for(None, "shop", &none), Mode::Audit);
    assert_eq!(vp.mode_after_flip(None, "shop", &none), Mode::Enforce);
}
