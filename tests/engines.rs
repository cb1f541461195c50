//! Gatekeeper constraints and Kubernetes ValidatingAdmissionPolicies beside Kyverno: read from
//! the real objects in ../shared/fixtures (gatekeeper/, vap/) and from objects written here
//! modelled on them, planned, gated and answered like Kyverno policies. Each rule names the Go
//! file it comes from.

#[macro_use]
mod common;

use common::{at, config_from, example_config, example_inventory, fixture, inventory_from, load};
use forewarn::inventory::{Inventory, Mode, PolicyKind};
use forewarn::plan::plan;

const NOW: &str = "2026-12-01T08:00:00+01:00";

fn mode_of(inv: &Inventory, name: &str, namespace: &str) -> Mode {
    let p = inv
        .policy(name)
        .unwrap_or_else(|| panic!("no policy {name}: {:?}", labels(inv)));
    p.mode_for(None, namespace, inv.namespace_labels(namespace))
}

fn labels(inv: &Inventory) -> Vec<&str> {
    inv.policies.iter().map(|p| p.label.as_str()).collect()
}

/// (notice id, destination, [(namespace, failing)]).
type Planned = (String, String, Vec<(String, u64)>);

/// The announce notices planned.
fn announces(inv: &Inventory, config: &forewarn::config::Config) -> Vec<Planned> {
    plan(std::slice::from_ref(inv), config, at(NOW))
        .notices
        .into_iter()
        .filter(|n| n.kind == forewarn::plan::NoticeKind::Announce)
        .map(|n| {
            (
                n.id.to_string(),
                n.destination.to_string(),
                n.namespaces
                    .iter()
                    .map(|ns| (ns.name.clone(), ns.failing))
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn gatekeeper_enforcement_actions_decide_whether_a_constraint_blocks() {
    needs_fixtures!();
    // gatekeeper pkg/util/enforcement_action.go: no action is deny; dryrun and warn admit;
    // scoped blocks only with deny at an admission point (validation.gatekeeper.sh,
    // vap.k8s.io or *).
    let cases = [
        (
            "gatekeeper/constraint-with-audit-violations.yaml",
            "K8sRequiredLabels/ns-must-have-gk",
            Mode::Enforce,
        ),
        (
            "gatekeeper/constraint-dryrun-with-violations.yaml",
            "K8sRequiredLabels/ns-must-have-gk",
            Mode::Audit,
        ),
        (
            "gatekeeper/src/test/bats/tests/constraints/all_cm_must_have_gatekeeper-warn.yaml",
            "K8sRequiredLabels/cm-must-have-gk",
            Mode::Audit,
        ),
        (
            "gatekeeper/src/test/bats/tests/constraints/all_cm_must_have_gatekeeper-dryrun.yaml",
            "K8sRequiredLabels/cm-must-have-gk",
            Mode::Audit,
        ),
        // deny only at audit, warn at the webhook: admitted.
        (
            "gatekeeper/src/test/bats/tests/constraints/all_cm_must_have_gatekeeper_scoped.yaml",
            "K8sRequiredLabels/cm-must-have-gk-scoped",
            Mode::Audit,
        ),
        (
            "gatekeeper/src/test/bats/tests/constraints/all_cm_must_have_gatekeeper_scoped_audit.yaml",
            "K8sRequiredLabels/cm-must-have-gk-scoped-audit",
            Mode::Audit,
        ),
        // deny at the webhook: blocked.
        (
            "gatekeeper/src/test/bats/tests/constraints/all_cm_must_have_gatekeeper_scoped_webhook.yaml",
            "K8sRequiredLabels/cm-must-have-gk-scoped-webhook",
            Mode::Enforce,
        ),
        // warn at vap.k8s.io and the webhook: admitted.
        (
            "gatekeeper/src/test/bats/tests/constraints/all_ns_must_have_label_provided_vapbinding_scoped.yaml",
            "K8sRequiredLabelsVap/all-must-have-label-scoped",
            Mode::Audit,
        ),
        // deny only for gator (the CLI), warn at the webhook: admitted.
        (
            "gatekeeper/src/test/gator/verify/constraint_with_scopedEA.yaml",
            "K8sFooIs/foo-is-bar",
            Mode::Audit,
        ),
    ];
    for (file, name, mode) in cases {
        let inv = load(&fixture(file));
        assert!(inv.problems.is_empty(), "{file}: {:?}", inv.problems);
        assert_eq!(mode_of(&inv, name, "default"), mode, "{file}");
        let p = inv.policy(name).expect("policy");
        assert_eq!(p.kind(), PolicyKind::Constraint);
        // After the flip (enforcementAction: deny) it blocks.
        assert_eq!(
            p.mode_after_flip(None, "default", &Default::default()),
            Mode::Enforce
        );
    }
}

#[test]
fn gatekeeper_violations_are_counted_per_resource_and_namespace_objects_in_their_namespace() {
    needs_fixtures!();
    // A Namespace violation has no namespace: it belongs to the namespace it names.
    let inv = load(&fixture(
        "gatekeeper/constraint-dryrun-with-violations.yaml",
    ));
    let p = inv
        .policy("K8sRequiredLabels/ns-must-have-gk")
        .expect("policy");
    let by_ns: Vec<(Option<&str>, u64)> = inv
        .results_for(&p.reference)
        .map(|(ns, s)| (ns, s.counts().fail))
        .collect();
    assert_eq!(
        by_ns,
        vec![(Some("default"), 1), (Some("gatekeeper-system"), 1)]
    );

    // kubectl get -o json of live constraints (sapcc): totalViolations equals what is listed.
    let inv = load(&fixture(
        "gatekeeper/sapcc-gatekeeper-addons/doop-analyzer/fixtures/gatekeeper",
    ));
    let p = inv
        .policy("GkOutdatedImageBases/outdatedimagebases")
        .expect("policy");
    assert!(p.truncated.is_none());
    let kube_monitoring: u64 = inv
        .results_for(&p.reference)
        .filter(|(ns, _)| *ns == Some("kube-monitoring"))
        .map(|(_, s)| s.counts().fail)
        .sum();
    assert_eq!(kube_monitoring, 4);
    let p = inv
        .policy("GkOwnerInfoOnHelmReleases/ownerinfoonhelmreleases")
        .expect("policy");
    assert_eq!(inv.results_for(&p.reference).count(), 2);
}

#[test]
fn gatekeeper_templates_define_the_kinds_and_describe_their_constraints() {
    needs_fixtures!();
    let inv = load(&fixture(
        "gatekeeper/gatekeeper-library/library/general/requiredprobes",
    ));
    assert!(inv.templates.contains_key("K8sRequiredProbes"));
    let p = inv
        .policy("K8sRequiredProbes/must-have-probes")
        .expect("constraint");
    assert_eq!(p.title(), "Required Probes");
    assert_eq!(
        p.docs.description.as_deref(),
        Some("Requires Pods to have readiness and/or liveness probes.")
    );
    // No enforcementAction: deny (frameworks constraint/pkg/client/crds/schema.go).
    assert_eq!(
        mode_of(&inv, "K8sRequiredProbes/must-have-probes", "default"),
        Mode::Enforce
    );
    // Every library template reads.
    let inv = load(&fixture("gatekeeper/gatekeeper-library"));
    assert_eq!(inv.templates.len(), 6, "{:?}", inv.templates.keys());
}

const GATEKEEPER: &str = r#"
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredLabels
metadata:
  name: team-label
  annotations:
    forewarn.dev/enforce-on: "2026-12-14"
spec:
  enforcementAction: warn
  match:
    namespaces: ["shop-*", "*-batch", "ops"]
    excludedNamespaces: ["*-sandbox"]
    namespaceSelector:
      matchExpressions:
        - {key: tier, operator: NotIn, values: [test]}
status:
  totalViolations: 9
  violations:
  - {enforcementAction: warn, group: apps, version: v1, kind: Deployment, namespace: shop-web, name: web, message: missing}
  - {enforcementAction: warn, group: apps, version: v1, kind: Deployment, namespace: shop-web, name: web, message: missing}
  - {enforcementAction: warn, group: apps, version: v1, kind: Deployment, namespace: shop-web, name: api, message: missing}
  - {enforcementAction: warn, group: "", version: v1, kind: Namespace, name: nightly-batch, message: missing}
  - {enforcementAction: warn, group: apps, version: v1, kind: Deployment, namespace: shop-sandbox, name: toy, message: stale}
  - {enforcementAction: warn, group: apps, version: v1, kind: Deployment, namespace: shop-test, name: t, message: stale}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop-web, labels: {team: shop}}
---
apiVersion: v1
kind: Namespace
metadata: {name: nightly-batch, labels: {team: shop}}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop-sandbox, labels: {team: shop}}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop-test, labels: {team: shop, tier: test}}
"#;

const CONFIG: &str = r##"
time-zone: Europe/Berlin
schedule: "0 0 9 * * Mon-Fri"
platform: {channel: "#platform"}
owner-labels: [team]
teams:
  shop: {name: Shop, channel: "#shop"}
policies:
  K8sRequiredLabels/team-label:
    what-to-do: Add the team label.
  min-replicas-rest:
    enforce-on: "2026-12-21"
"##;

#[test]
fn gatekeeper_match_globs_and_selectors_decide_where_a_constraint_applies_and_counts_are_lower_bounds()
 {
    let inv = inventory_from(&[("gk.yaml", GATEKEEPER)]);
    assert!(inv.problems.is_empty(), "{:?}", inv.problems);
    let config = config_from(CONFIG);
    let p = inv
        .policy("K8sRequiredLabels/team-label")
        .expect("constraint");
    // gatekeeper pkg/mutation/match/match.go and pkg/wildcard/wildcard.go: `shop-*` and
    // `*-batch` globs, `*-sandbox` excluded, the selector leaves out tier=test.
    let reach = |ns: &str| p.reaches(ns, inv.namespace_labels(ns));
    assert!(reach("shop-web") && reach("nightly-batch") && reach("ops"));
    assert!(!reach("shop-sandbox") && !reach("shop-test") && !reach("default"));
    // 6 entries, 5 distinct resources, 9 found: a lower bound.
    assert_eq!(p.truncated.map(|t| (t.listed, t.total)), Some((5, 9)));
    // The config entry keyed `Kind/name` applies; stale violations where the match no longer
    // applies are not announced; the Namespace object counts in its own namespace.
    let got = announces(&inv, &config);
    assert_eq!(
        got.first(),
        Some(&(
            "announce/K8sRequiredLabels/team-label/shop/T-14".to_string(),
            "#shop".to_string(),
            vec![
                ("nightly-batch".to_string(), 1),
                ("shop-web".to_string(), 2)
            ]
        ))
    );
    let plan = plan(std::slice::from_ref(&inv), &config, at(NOW));
    let n = &plan.notices[0];
    assert!(n.namespaces.iter().all(|ns| ns.at_least));
    assert_eq!(n.brief.what_to_do.as_deref(), Some("Add the team label."));
    let renderer = forewarn::render::Renderer::for_config(&config).expect("templates");
    let text = forewarn::render::to_text(&renderer.render(n, &config).expect("render"));
    assert!(
        text.contains("Failing it today: at least 3 resources in 2 namespaces."),
        "{text}"
    );
    assert!(
        text.contains("*shop-web* — at least 2 failing resources"),
        "{text}"
    );
}

#[test]
fn vap_bindings_decide_with_their_selectors_and_deny_bindings_already_blocking() {
    needs_fixtures!();
    // kubernetes-website: one Deny binding for every namespace but kube-system.
    let mut inv = load(&fixture(
        "vap/kubernetes-website/deny-privileged-policy.0d1c9fb.yaml",
    ));
    for (name, labels) in [("default", "default"), ("kube-system", "kube-system")] {
        inv.namespaces.insert(
            name.to_string(),
            forewarn::inventory::Namespace {
                name: name.to_string(),
                labels: [(
                    "kubernetes.io/metadata.name".to_string(),
                    labels.to_string(),
                )]
                .into(),
                annotations: Default::default(),
            },
        );
    }
    let p = inv
        .policy("example-deny-privileged-binding.static.k8s.io")
        .expect("binding");
    assert_eq!(p.kind(), PolicyKind::ValidatingAdmissionPolicyBinding);
    assert_eq!(
        p.reference.report_name(),
        "example-deny-privileged.static.k8s.io"
    );
    assert!(p.reaches("default", inv.namespace_labels("default")));
    assert!(!p.reaches("kube-system", inv.namespace_labels("kube-system")));
    assert_eq!(
        mode_of(
            &inv,
            "example-deny-privileged-binding.static.k8s.io",
            "default"
        ),
        Mode::Enforce
    );

    // Kyverno's VAP report test: a Deny binding selecting environment=staging-ns-2.
    let inv = load(&fixture(
        "vap/kyverno/test/conformance/chainsaw/validating-admission-policy-reports/background/with-validating-admission-policy-binding-fail",
    ));
    assert_eq!(
        mode_of(&inv, "check-deployment-replicas-binding-04", "staging-ns-2"),
        Mode::Enforce
    );
    // Every VAP fixture reads (the CLI test's binding without validationActions included).
    let inv = load(&fixture("vap"));
    assert!(
        inv.policy("check-deployment-replicas-binding").is_some(),
        "{:?}",
        labels(&inv)
    );
}

const VAP: &str = r#"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: min-replicas, labels: {reports.kyverno.io/enabled: "true"}}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}]
  validations: [{expression: "object.spec.replicas >= 2"}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: min-replicas-prod}
spec:
  policyName: min-replicas
  validationActions: [Deny]
  matchResources: {namespaceSelector: {matchLabels: {env: prod}}}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: min-replicas-rest}
spec:
  policyName: min-replicas
  validationActions: [Audit, Warn]
---
apiVersion: v1
kind: Namespace
metadata: {name: shop-prod, labels: {team: shop, env: prod}}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop-dev, labels: {team: shop, env: dev}}
---
apiVersion: wgpolicyk8s.io/v1alpha2
kind: PolicyReport
metadata: {name: r1, namespace: shop-prod}
scope: {apiVersion: apps/v1, kind: Deployment, name: api, namespace: shop-prod}
results:
- {policy: min-replicas, rule: min-replicas, result: fail, source: ValidatingAdmissionPolicy, message: too few, properties: {binding: min-replicas-prod, process: background scan}}
---
apiVersion: wgpolicyk8s.io/v1alpha2
kind: PolicyReport
metadata: {name: r2, namespace: shop-dev}
scope: {apiVersion: apps/v1, kind: Deployment, name: api, namespace: shop-dev}
results:
- {policy: min-replicas, result: fail, source: ValidatingAdmissionPolicy, message: too few, properties: {binding: min-replicas-rest, process: background scan}}
"#;

#[test]
fn every_matching_binding_applies_and_a_namespace_denied_already_is_not_announced() {
    let inv = inventory_from(&[("vap.yaml", VAP)]);
    assert!(inv.problems.is_empty(), "{:?}", inv.problems);
    let config = config_from(CONFIG);
    // shop-prod: both bindings match and one denies — blocked today, nothing to announce.
    assert_eq!(
        mode_of(&inv, "min-replicas-rest", "shop-prod"),
        Mode::Enforce
    );
    assert_eq!(mode_of(&inv, "min-replicas-rest", "shop-dev"), Mode::Audit);
    let got = announces(&inv, &config);
    assert_eq!(
        got.first(),
        Some(&(
            "announce/min-replicas-rest/shop/T-14".to_string(),
            "#shop".to_string(),
            vec![("shop-dev".to_string(), 1)]
        ))
    );
    assert!(got.iter().all(|(id, ..)| !id.contains("min-replicas-prod")));
}

/// Failing results a policy counts, by namespace (`""`: cluster-scoped).
fn failing_by_ns(inv: &Inventory, label: &str) -> Vec<(String, u64)> {
    let p = inv
        .policy(label)
        .unwrap_or_else(|| panic!("no policy {label}: {:?}", labels(inv)));
    inv.results_for(&p.reference)
        .map(|(ns, s)| (ns.unwrap_or_default().to_string(), s.counts().fail))
        .collect()
}

/// Two Audit bindings of one policy, both reaching shop-prod, each named by its own results;
/// one result names no binding (as older Kyverno reports).
const TWO_BINDINGS: &str = r#"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: spread, labels: {reports.kyverno.io/enabled: "true"}}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}]
  validations: [{expression: "has(object.spec.template.spec.topologySpreadConstraints)"}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: spread-all, annotations: {forewarn.dev/enforce-on: "2026-12-21"}}
spec: {policyName: spread, validationActions: [Audit]}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: spread-prod, annotations: {forewarn.dev/enforce-on: "2026-12-21"}}
spec:
  policyName: spread
  validationActions: [Audit]
  matchResources: {namespaceSelector: {matchLabels: {env: prod}}}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop-prod, labels: {team: shop, env: prod}}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop-dev, labels: {team: shop, env: dev}}
---
apiVersion: wgpolicyk8s.io/v1alpha2
kind: PolicyReport
metadata: {name: r1, namespace: shop-prod}
scope: {apiVersion: apps/v1, kind: Deployment, name: api, namespace: shop-prod}
results:
- {policy: spread, result: fail, source: ValidatingAdmissionPolicy, properties: {binding: spread-all, process: background scan}}
---
apiVersion: wgpolicyk8s.io/v1alpha2
kind: PolicyReport
metadata: {name: r2, namespace: shop-prod}
scope: {apiVersion: apps/v1, kind: Deployment, name: web, namespace: shop-prod}
results:
- {policy: spread, result: fail, source: ValidatingAdmissionPolicy, properties: {binding: spread-prod, process: background scan}}
---
apiVersion: wgpolicyk8s.io/v1alpha2
kind: PolicyReport
metadata: {name: r3, namespace: shop-prod}
scope: {apiVersion: apps/v1, kind: Deployment, name: worker, namespace: shop-prod}
results:
- {policy: spread, result: fail, source: ValidatingAdmissionPolicy, properties: {process: background scan}}
---
apiVersion: wgpolicyk8s.io/v1alpha2
kind: PolicyReport
metadata: {name: r4, namespace: shop-dev}
scope: {apiVersion: apps/v1, kind: Deployment, name: api, namespace: shop-dev}
results:
- {policy: spread, result: fail, source: ValidatingAdmissionPolicy, properties: {binding: spread-all, process: background scan}}
"#;

#[test]
fn a_vap_result_counts_for_the_binding_it_names_and_one_naming_none_for_every_binding() {
    // kyverno pkg/utils/report/results.go: a VAP result names its binding in
    // `properties.binding`. shop-prod: api failed spread-all, web failed spread-prod, worker's
    // result names no binding and counts for both.
    let inv = inventory_from(&[("two-bindings.yaml", TWO_BINDINGS)]);
    assert!(inv.problems.is_empty(), "{:?}", inv.problems);
    assert_eq!(
        failing_by_ns(&inv, "spread-all"),
        vec![("shop-dev".to_string(), 1), ("shop-prod".to_string(), 2)]
    );
    assert_eq!(
        failing_by_ns(&inv, "spread-prod"),
        vec![("shop-prod".to_string(), 2)]
    );
    // Each binding's announcement counts its own failures.
    let got = announces(&inv, &config_from(CONFIG));
    let of = |binding: &str| {
        let mut ns: Vec<(String, u64)> = got
            .iter()
            .filter(|(id, ..)| *id == format!("announce/{binding}/shop/T-14"))
            .flat_map(|(_, _, ns)| ns.clone())
            .collect();
        ns.sort();
        ns
    };
    assert_eq!(
        of("spread-all"),
        vec![("shop-dev".to_string(), 1), ("shop-prod".to_string(), 2)]
    );
    assert_eq!(of("spread-prod"), vec![("shop-prod".to_string(), 2)]);

    // A resource's failure is answered for the binding its result names.
    let config = config_from(CONFIG);
    let q =
        forewarn::chat::request::parse_question("why shop-prod/Deployment/web").expect("question");
    let caller = forewarn::chat::answer::Caller { team: None };
    let a = forewarn::chat::answer::answer(&inv, &config, &q, &caller, "/policy", at(NOW));
    let renderer = forewarn::render::Renderer::for_config(&config).expect("templates");
    let why = forewarn::render::to_text(&renderer.render_answer(a.kind, &a.data).expect("render"));
    assert!(why.contains("spread-prod"), "{why}");
    assert!(!why.contains("spread-all"), "{why}");
}

/// A second binding of the policies Kyverno's VAP report fixtures name.
const SECOND_BINDINGS: &str = r#"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: check-deployment-replicas}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}]
  validations: [{expression: "object.spec.replicas <= 5"}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: check-deployment-replicas-binding}
spec: {policyName: check-deployment-replicas, validationActions: [Audit]}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: check-deployment-replicas-other}
spec: {policyName: check-deployment-replicas, validationActions: [Audit]}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: check-deployment-replicas-binding-05}
spec: {policyName: check-deployment-replicas-04, validationActions: [Audit]}
"#;

#[test]
fn kyverno_vap_reports_with_and_without_a_binding_count_for_the_right_bindings() {
    needs_fixtures!();
    let read = |rel: &str| std::fs::read_to_string(fixture(rel)).expect("readable fixture");
    // The documented report names check-deployment-replicas-binding: the other binding of the
    // same policy counts none of it.
    let docs = read("kyverno/website/polr-list-vap.docs.yaml");
    let inv = inventory_from(&[
        ("polr-list-vap.docs.yaml", &docs),
        ("ours.yaml", SECOND_BINDINGS),
    ]);
    assert!(inv.problems.is_empty(), "{:?}", inv.problems);
    assert_eq!(
        failing_by_ns(&inv, "check-deployment-replicas-binding"),
        vec![("staging-ns".to_string(), 1)]
    );
    assert_eq!(
        failing_by_ns(&inv, "check-deployment-replicas-other"),
        Vec::<(String, u64)>::new()
    );
    // Kyverno's chainsaw report names no binding: it counts for each binding of its policy.
    let dir = "vap/kyverno/test/conformance/chainsaw/validating-admission-policy-reports/background/with-validating-admission-policy-binding-fail";
    let (policy, ns, report) = (
        read(&format!("{dir}/policy.yaml")),
        read(&format!("{dir}/ns.yaml")),
        read(&format!("{dir}/report-assert.yaml")),
    );
    let inv = inventory_from(&[
        ("policy.yaml", &policy),
        ("ns.yaml", &ns),
        ("report-assert.yaml", &report),
        ("ours.yaml", SECOND_BINDINGS),
    ]);
    assert!(inv.problems.is_empty(), "{:?}", inv.problems);
    for binding in [
        "check-deployment-replicas-binding-04",
        "check-deployment-replicas-binding-05",
    ] {
        assert_eq!(
            failing_by_ns(&inv, binding),
            vec![("staging-ns-2".to_string(), 1)],
            "{binding}"
        );
    }
}

/// `/policy <text>` answered about the example cluster, rendered as plain text.
fn slash(text: &str) -> String {
    let config = example_config();
    let inv = example_inventory();
    let q = forewarn::chat::request::parse_question(text).expect("question");
    let caller = forewarn::chat::answer::Caller { team: None };
    let a = forewarn::chat::answer::answer(&inv, &config, &q, &caller, "/policy", at(NOW));
    let renderer = forewarn::render::Renderer::for_config(&config).expect("templates");
    let m = renderer.render_answer(a.kind, &a.data).expect("render");
    forewarn::render::to_text(&m)
}

#[test]
fn the_example_cluster_plans_kyverno_gatekeeper_and_vap_side_by_side() {
    let inv = example_inventory();
    let got = announces(&inv, &example_config());
    let first = |id: &str| {
        got.iter()
            .find(|(i, ..)| i == id)
            .map(|(_, d, ns)| (d.as_str(), ns.clone()))
    };
    let ns = |list: &[(&str, u64)]| {
        list.iter()
            .map(|(n, c)| (n.to_string(), *c))
            .collect::<Vec<_>>()
    };
    // Gatekeeper: the dry-run constraint, by owner; the denying one is not announced.
    assert_eq!(
        first("announce/K8sRequiredLabels/workloads-need-cost-center/data/T-14"),
        Some(("#data-eng", ns(&[("data-ingest", 1), ("data-sandbox", 1)])))
    );
    assert_eq!(
        first("announce/K8sRequiredLabels/workloads-need-cost-center/payments/T-14"),
        Some(("#payments-dev", ns(&[("payments-api", 1)])))
    );
    assert!(
        got.iter()
            .all(|(id, ..)| !id.contains("namespaces-need-owner"))
    );
    // VAP: the Audit binding flips; payments is denied by the other binding already.
    assert_eq!(
        first("announce/min-replicas-all/#search-oncall/T-14"),
        Some(("#search-oncall", ns(&[("storefront-search", 1)])))
    );
    assert!(
        got.iter()
            .all(|(id, ..)| !id.starts_with("announce/min-replicas-all/payments"))
    );
    // Kyverno alongside, unchanged.
    assert_eq!(
        first("announce/require-run-as-nonroot/payments/T-14"),
        Some((
            "#payments-dev",
            ns(&[("payments-api", 2), ("payments-worker", 1)])
        ))
    );
}

#[test]
fn why_and_status_answer_for_constraints_and_bindings() {
    let why = slash("why K8sRequiredLabels/workloads-need-cost-center");
    assert!(
        why.contains("Gatekeeper constraint of kind K8sRequiredLabels"),
        "{why}"
    );
    assert!(why.contains("*Mode now:* Audit"), "{why}");
    assert!(
        why.contains("Gatekeeper found 7 violations but lists 5"),
        "{why}"
    );
    assert!(
        why.contains("*Cluster-wide:* at least 5 failing resources in 4 namespaces"),
        "{why}"
    );

    let why = slash("why min-replicas-all");
    assert!(
        why.contains("binding of the ValidatingAdmissionPolicy min-replicas"),
        "{why}"
    );
    assert!(
        why.contains("Enforce in payments-api, payments-worker"),
        "{why}"
    );

    // A resource's failure names the binding whose flip would block it.
    let why = slash("why data-ingest/Deployment/kafka-connect");
    assert!(why.contains("min-replicas-all"), "{why}");

    let status = slash("status data-ingest");
    assert!(
        status.contains("`K8sRequiredLabels/workloads-need-cost-center`"),
        "{status}"
    );
    assert!(status.contains("`min-replicas-all`"), "{status}");
}

#[test]
fn gate_works_on_constraints_and_bindings() {
    let cfg = common::root().join("config/forewarn.yaml");
    let snap = common::root().join("examples/cluster");
    let o = common::forewarn_on(
        &snap,
        &cfg,
        NOW,
        &["gate", "K8sRequiredLabels/workloads-need-cost-center"],
    );
    let out = common::printed(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("NOT READY — at least 5 failing resources would be blocked"),
        "{out}"
    );
    assert!(
        out.contains("Gatekeeper found 7 violations but lists 5"),
        "{out}"
    );
    let o = common::forewarn_on(&snap, &cfg, NOW, &["gate", "min-replicas-all"]);
    let out = common::printed(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("storefront-search"), "{out}");
    assert!(!out.contains("payments-api"), "denied already: {out}");
    let o = common::forewarn_on(&snap, &cfg, NOW, &["gate", "min-replicas-payments"]);
    assert_eq!(o.status.code(), Some(0), "{}", common::printed(&o));
}

#[test]
fn readiness_and_the_platform_digest_say_at_least_when_gatekeeper_lists_fewer_violations() {
    // The example constraint: Gatekeeper found 7 violations and lists 5.
    let config = example_config();
    let inv = example_inventory();
    let planned = plan(std::slice::from_ref(&inv), &config, at(NOW));
    let renderer = forewarn::render::Renderer::builtin().expect("templates");
    let text = |n: &forewarn::plan::Notice| {
        forewarn::render::to_text(&renderer.render(n, &config).expect("render"))
    };
    let readiness = planned
        .notices
        .iter()
        .find(|n| {
            n.kind == forewarn::plan::NoticeKind::Readiness
                && n.policy == "K8sRequiredLabels/workloads-need-cost-center"
        })
        .map(text)
        .expect("readiness notice");
    assert!(
        readiness.contains("but at least 5 failing resources no exception covers"),
        "{readiness}"
    );
    assert!(
        readiness.contains("Gatekeeper found 2 more violations than it lists"),
        "{readiness}"
    );
    let digest = planned
        .notices
        .iter()
        .find(|n| n.kind == forewarn::plan::NoticeKind::Digest && n.audience == "platform")
        .map(text)
        .expect("platform digest");
    assert!(
        digest.contains(
            "• `K8sRequiredLabels/workloads-need-cost-center`: at least 5 in 4 namespaces"
        ),
        "{digest}"
    );
    assert!(
        digest.contains("*not ready*: at least 5 resources would be blocked"),
        "{digest}"
    );
    // Kyverno's counts stay exact; each VAP binding counts the results that name it.
    assert!(
        digest.contains("• `require-run-as-nonroot`: 8 in 7 namespaces"),
        "{digest}"
    );
    assert!(
        digest.contains("• `min-replicas-all`: 3 in 3 namespaces"),
        "{digest}"
    );
    assert!(
        digest.contains("• `min-replicas-payments`: 1 in 1 namespace\n"),
        "{digest}"
    );
}

#[test]
fn heads_ups_say_what_changes_in_each_engines_own_terms() {
    let config = example_config();
    let inv = example_inventory();
    let planned = plan(std::slice::from_ref(&inv), &config, at(NOW));
    let renderer = forewarn::render::Renderer::builtin().expect("templates");
    let first = |policy: &str| {
        let n = planned
            .notices
            .iter()
            .find(|n| n.kind == forewarn::plan::NoticeKind::Announce && n.policy == policy)
            .unwrap_or_else(|| panic!("no heads-up for {policy}"));
        forewarn::render::to_text(&renderer.render(n, &config).expect("render"))
    };
    // gatekeeper pkg/util/enforcement_action.go: the flip sets `deny`.
    let gk = first("K8sRequiredLabels/workloads-need-cost-center");
    assert!(
        gk.contains("the Gatekeeper constraint *Required labels* (`K8sRequiredLabels/workloads-need-cost-center`) switches its `enforcementAction` from `dryrun` to `deny`: resources that break it will be rejected instead of reported."),
        "{gk}"
    );
    assert!(!gk.contains("Audit to Enforce"), "{gk}");
    // kubernetes admissionregistration/v1 types.go: only `Deny` rejects; `Warn` admits with a
    // warning.
    let vap = first("min-replicas-all");
    assert!(
        vap.contains("the binding `min-replicas-all` of the ValidatingAdmissionPolicy *min-replicas* gains `Deny` in its `validationActions` (`Audit`, `Warn` → `Deny`, `Audit`, `Warn`): resources that break it will be rejected instead of admitted with a warning."),
        "{vap}"
    );
    // Kyverno keeps its words.
    let kyverno = first("require-run-as-nonroot");
    assert!(kyverno.contains("moves from Audit to Enforce"), "{kyverno}");
}
