//! Reading the real Kyverno objects in ../shared/fixtures: every policy, report and exception
//! loads, and the files that are not whole objects get the documented, precise error.

#[macro_use]
mod common;

use common::{fixture, fixtures, load};
use forewarn::inventory::{Mode, ModeSpec, PolicyKind, PolicySeverity};
use forewarn::model::ids::Engine;

/// Files in the fixtures that are not whole Kubernetes objects, and the field each error names.
/// Chainsaw assertion files leave out the namespace (the test runner supplies it) or hold
/// JMESPath expressions; the Helm chart and the Terraform heredoc are templates, not YAML.
const NOT_WHOLE_OBJECTS: &[(&str, &str)] = &[
    (
        "charts/kyverno-policies/templates/baseline/disallow-privileged-containers.yaml",
        "",
    ),
    (
        "exception-annotations/backstage-io.terraform-heredoc.kyverno-v2beta1.yaml",
        "",
    ),
    (
        "chainsaw/background-only/policy/not-rejected/policy.yaml",
        "metadata.namespace",
    ),
    ("chainsaw/openreports/report.yaml", "scope.namespace"),
    (
        "chainsaw/reports/admission/update-deployment/report-assert.yaml",
        "metadata.namespace",
    ),
    (
        "cornercases/validate-pattern-should-skip/report-skip-assert.yaml",
        "metadata.namespace",
    ),
    (
        "policies-with-the-same-name/report-assert.yaml",
        "metadata.namespace",
    ),
    (
        "validating-policies/report/admission/report.yaml",
        "metadata.namespace",
    ),
    (
        "with-exception-skip-result/fail-report-assert.yaml",
        "metadata.namespace",
    ),
    (
        "with-exception-skip-result/skip-report-assert.yaml",
        "metadata.namespace",
    ),
    (
        "validating-admission-policy-fail/report-assert.yaml",
        "metadata.namespace",
    ),
    ("samples/sample-cis-k8s.yaml", "metadata.namespace"),
    ("samples/sample-v1beta1-kyverno.yaml", "metadata.namespace"),
];

#[test]
fn every_fixture_loads_or_gets_the_documented_error() {
    needs_fixtures!();
    let inv = load(&fixtures());
    let mut expected: Vec<&str> = NOT_WHOLE_OBJECTS.iter().map(|(f, _)| *f).collect();
    for p in &inv.problems {
        let known = NOT_WHOLE_OBJECTS.iter().find(|(file, field)| {
            p.object.contains(file) && (field.is_empty() || p.field == *field)
        });
        match known {
            Some((file, _)) => expected.retain(|f| f != file),
            None => {
                // Reports of other producers with an older schema: named precisely.
                // The fixtures gather examples from many clusters, so some objects share a
                // name: each is read once, the later copies named in a warning.
                let copy = !p.is_error()
                    && p.message
                        .contains("with different content; the copy read first is used");
                let other = copy
                    || (p.object.contains("kube-bench-adapter") && p.field == "apiVersion")
                    || (p.object.contains("trivy-adapter") && p.field == "results[0].result");
                assert!(other, "unexpected problem: {p}");
            }
        }
    }
    assert!(
        expected.is_empty(),
        "documented errors not reported: {expected:?}"
    );
    // Every problem names its file and document.
    assert!(inv.problems.iter().all(|p| p.object.contains(".yaml doc ")));
    // The trivy report's 14 bad results are one problem, not fourteen.
    assert_eq!(
        inv.problems
            .iter()
            .filter(|p| p.object.contains("trivy-adapter"))
            .count(),
        1
    );

    // What is real is read: the policy library, the CEL policies and the exceptions.
    assert!(
        inv.policies.len() >= 35,
        "policies read: {}",
        inv.policies.len()
    );
    // The library has ClusterPolicy and ValidatingPolicy versions of the same names: the bare
    // name is ambiguous; the kind-qualified one names the ClusterPolicy (copies of the same
    // ClusterPolicy in several folders are several objects here).
    assert!(inv.policies_named("require-run-as-nonroot").count() >= 1);
    assert!(
        inv.policies_named("ClusterPolicy:disallow-host-path")
            .count()
            >= 1
    );
    assert!(
        inv.exceptions.len() >= 8,
        "exceptions read: {}",
        inv.exceptions.len()
    );
    assert!(
        inv.skipped
            .contains_key("apiextensions.k8s.io/v1 CustomResourceDefinition")
    );
}

#[test]
fn policy_library_docs_are_read() {
    needs_fixtures!();
    let inv = load(&fixture("kyverno-policies"));
    assert!(inv.problems.is_empty(), "{:?}", inv.problems);
    let p = inv.policy("require-run-as-nonroot").expect("policy");
    assert_eq!(p.kind(), PolicyKind::ClusterPolicy);
    assert_eq!(p.title(), "Require runAsNonRoot");
    assert_eq!(
        p.docs.category.as_deref(),
        Some("Pod Security Standards (Restricted)")
    );
    assert_eq!(p.docs.severity, Some(PolicySeverity::Medium));
    assert!(
        p.docs
            .description
            .as_deref()
            .unwrap_or("")
            .starts_with("Containers must be required")
    );
    assert_eq!(
        p.mode_for(None, "anything", &Default::default()),
        Mode::Audit
    );
    // The Enforce kustomization variant and the CEL variants.
    let vpol = inv
        .policies
        .iter()
        .find(|p| {
            p.kind() == PolicyKind::ValidatingPolicy && p.name() == "disallow-privileged-containers"
        })
        .expect("vpol");
    assert_eq!(vpol.modes, ModeSpec::Fixed(Mode::Audit));
    // Severity and docs may be missing: the title falls back to the name.
    let no_docs = inv.policies.iter().find(|p| p.docs.title.is_none());
    if let Some(p) = no_docs {
        assert_eq!(p.title(), p.name());
    }
}

#[test]
fn validating_policy_deny_is_enforce() {
    needs_fixtures!();
    let inv = load(&fixture(
        "kyverno/website/vpol-require-prod-label-deny.docs.yaml",
    ));
    let p = inv.policy("require-prod-label").expect("vpol");
    assert_eq!(
        p.mode_for(None, "default", &Default::default()),
        Mode::Enforce
    );
    let inv = load(&fixture(
        "kyverno/test/conformance/chainsaw/validating-policies/report/with-exception-skip-result/policy.yaml",
    ));
    let p = inv
        .policy("with-exception-skip-result")
        .expect("v1beta1 vpol");
    assert_eq!(p.modes, ModeSpec::Fixed(Mode::Audit));
}

#[test]
fn reports_without_rule_message_summary_or_timestamp() {
    needs_fixtures!();
    // A kubectl List of VAP reports: no rule, one result without message.
    let inv = load(&fixture("kyverno/website/polr-list-vap.docs.yaml"));
    assert!(inv.problems.is_empty(), "{:?}", inv.problems);
    let s = &inv.results[&(
        Engine::ValidatingAdmission,
        "check-deployment-replicas".into(),
        Some("staging-ns".into()),
        // The binding the results name (`properties.binding`).
        Some("check-deployment-replicas-binding".into()),
    )];
    assert_eq!(s.counts().fail, 1);
    assert_eq!(s.counts().pass, 1);
    assert_eq!(s.fail_by_rule().get(""), Some(1));
    assert_eq!(s.sample()[0].name, "deployment-3");
    assert_eq!(
        s.sample()[0].message.as_deref(),
        Some("failed expression: object.spec.replicas <= 5")
    );

    // Skip by a CEL exception: counted as skipped by an exception, not as failing.
    let inv = load(&fixture(
        "kyverno/website/policyreport-skip-by-cel-exception.docs.yaml",
    ));
    let s = &inv.results[&(
        Engine::KyvernoValidating,
        "vpol-report-background-sample".into(),
        Some("default".into()),
        None,
    )];
    assert_eq!(
        (s.counts().fail, s.counts().skip, s.skipped_by_exception()),
        (0, 1, 1)
    );

    // A cluster report about Namespace objects belongs to those namespaces.
    let inv = load(&fixture(
        "kyverno/test/conformance/chainsaw/reports/admission/two-rules-with-different-modes/reports-assert.yaml",
    ));
    let s = &inv.results[&(
        Engine::Kyverno,
        "check-ns-labels".into(),
        Some("good-ns-1".into()),
        None,
    )];
    assert_eq!(s.fail_by_rule().get("require-ns-env-label"), Some(1));
    assert_eq!(s.counts().pass, 1);
}

#[test]
fn exceptions_of_every_api() {
    needs_fixtures!();
    let inv = load(&fixture(
        "kyverno/exception-annotations/sre-io.neuvector.kyverno-v2beta1.yaml",
    ));
    let x = &inv.exceptions[0];
    assert_eq!(x.name, "neuvector-enforcer-privileged");
    assert_eq!(x.api_version, "kyverno.io/v2beta1");
    assert_eq!(x.policies.len(), 3);
    assert_eq!(x.match_namespaces, vec!["neuvector"]);
    assert_eq!(x.annotations["sre.io/exception-expiry"], "2027-01-01");

    let inv = load(&fixture("kyverno/website/polex-cel-v1alpha1.docs.yaml"));
    let x = &inv.exceptions[0];
    assert_eq!(x.api_version, "policies.kyverno.io/v1alpha1");
    assert_eq!(x.policies[0].policy, "require-prod-label");

    // A Terraform heredoc is not YAML: one error naming the file and the line.
    let inv = load(&fixture(
        "kyverno/exception-annotations/backstage-io.terraform-heredoc.kyverno-v2beta1.yaml",
    ));
    assert_eq!(inv.problems.len(), 1);
    assert!(
        inv.problems[0].message.contains("invalid YAML"),
        "{}",
        inv.problems[0]
    );
    assert!(
        inv.problems[0].message.contains("line 20"),
        "{}",
        inv.problems[0]
    );
}
