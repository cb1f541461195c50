//! Policies are identified by engine, kind, namespace and name, never by name alone; every
//! notice id is unique; several clusters are planned side by side, each with its own dates.

#[macro_use]
mod common;

use common::{at, config_from, fixture, inventory_from, load};
use forewarn::inventory::{Inventory, Mode, PolicyKind};
use forewarn::model::ids::{ClusterName, Engine};
use forewarn::plan::{NoticeKind, plan};
use forewarn::render::{Renderer, to_text};
use std::collections::BTreeSet;

const CONFIG: &str = r##"
time-zone: UTC
platform: {channel: "#platform"}
teams:
  payments: {channel: "#payments"}
  web: {channel: "#web"}
"##;

/// A ClusterPolicy in Audit and a ValidatingPolicy of the same name that already denies,
/// modelled on the Kyverno policy library's `restrict-seccomp-strict` and its CEL version.
const SAME_NAME: &str = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: restrict-seccomp-strict
  annotations:
    policies.kyverno.io/title: Restrict Seccomp (Strict)
    forewarn.dev/enforce-on: "2026-12-14"
spec:
  validationFailureAction: Audit
  background: true
  rules:
  - name: check-seccomp-strict
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: Use of custom Seccomp profiles is disallowed.
      pattern: {spec: {securityContext: {seccompProfile: {type: RuntimeDefault | Localhost}}}}
---
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata:
  name: restrict-seccomp-strict
  annotations:
    policies.kyverno.io/title: Restrict Seccomp (Strict) in ValidatingPolicy
    forewarn.dev/enforce-on: "2026-12-21"
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [pods]}
  validations:
  - expression: "has(object.spec.securityContext)"
---
apiVersion: v1
kind: Namespace
metadata: {name: checkout, labels: {team: payments}, annotations: {forewarn.dev/owner: payments}}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop, annotations: {forewarn.dev/owner: web}}
---
apiVersion: wgpolicyk8s.io/v1alpha2
kind: PolicyReport
metadata: {name: r1, namespace: checkout}
scope: {apiVersion: v1, kind: Pod, name: api-0, namespace: checkout}
results:
- {policy: restrict-seccomp-strict, rule: check-seccomp-strict, result: fail, source: kyverno,
   message: "Use of custom Seccomp profiles is disallowed."}
- {policy: restrict-seccomp-strict, result: pass, source: KyvernoValidatingPolicy}
---
apiVersion: wgpolicyk8s.io/v1alpha2
kind: PolicyReport
metadata: {name: r2, namespace: shop}
scope: {apiVersion: v1, kind: Pod, name: web-0, namespace: shop}
results:
- {policy: restrict-seccomp-strict, rule: check-seccomp-strict, result: pass, source: kyverno}
- {policy: restrict-seccomp-strict, result: fail, source: KyvernoValidatingPolicy,
   message: "failed expression: has(object.spec.securityContext)"}
"#;

/// The header line of a notice's message, rendered with the built-in templates.
fn header(n: &forewarn::plan::Notice, config: &forewarn::config::Config) -> String {
    let m = Renderer::builtin()
        .expect("templates")
        .render(n, config)
        .expect("render");
    to_text(&m).lines().next().unwrap_or("").to_string()
}

fn same_name() -> Inventory {
    inventory_from(&[("same-name.yaml", SAME_NAME)])
}

#[test]
fn same_name_policies_keep_their_own_results_and_ids() {
    let inv = same_name();
    let labels: Vec<&str> = inv.policies.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(
        labels,
        vec![
            "ClusterPolicy:restrict-seccomp-strict",
            "ValidatingPolicy:restrict-seccomp-strict"
        ]
    );
    // Results are matched by the report's `source`: each policy sees only its own.
    let cp = inv
        .policy("ClusterPolicy:restrict-seccomp-strict")
        .expect("cp");
    let vp = inv
        .policy("ValidatingPolicy/restrict-seccomp-strict")
        .expect("vp");
    assert_eq!(
        (cp.kind(), cp.engine()),
        (PolicyKind::ClusterPolicy, Engine::Kyverno)
    );
    assert_eq!(vp.engine(), Engine::KyvernoValidating);
    let fails = |p: &forewarn::inventory::Policy| -> Vec<(String, u64)> {
        inv.results_for(&p.reference)
            .map(|(ns, s)| (ns.unwrap_or("").to_string(), s.counts().fail))
            .collect()
    };
    assert_eq!(fails(cp), vec![("checkout".into(), 1), ("shop".into(), 0)]);
    assert_eq!(fails(vp), vec![("checkout".into(), 0), ("shop".into(), 1)]);
    // The bare name is ambiguous.
    assert!(inv.policy("restrict-seccomp-strict").is_none());
    assert_eq!(inv.policies_named("restrict-seccomp-strict").count(), 2);
    assert_eq!(
        vp.mode_for(None, "shop", &Default::default()),
        Mode::Enforce
    );

    // Only the ClusterPolicy audits: only its failing namespace is announced, under its own id.
    let planned = plan(
        std::slice::from_ref(&inv),
        &config_from(CONFIG),
        at("2026-12-01T08:00:00Z"),
    );
    let announces: Vec<String> = planned
        .notices
        .iter()
        .filter(|n| n.kind == NoticeKind::Announce)
        .map(|n| n.id.to_string())
        .collect();
    assert_eq!(
        announces,
        vec![
            "announce/ClusterPolicy:restrict-seccomp-strict/payments/T-14",
            "announce/ClusterPolicy:restrict-seccomp-strict/payments/T-7",
            // T-3 and T-1 (a Sunday, moved to Friday) share a tick: the later milestone stays.
            "announce/ClusterPolicy:restrict-seccomp-strict/payments/T-1",
            "announce/ClusterPolicy:restrict-seccomp-strict/payments/T-0",
        ]
    );
    let ids: Vec<String> = planned.notices.iter().map(|n| n.id.to_string()).collect();
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), unique.len(), "duplicate ids: {ids:?}");
}

#[test]
fn the_real_library_policies_of_one_name_are_told_apart() {
    needs_fixtures!();
    // The policy library ships `disallow-host-path` as a ClusterPolicy and as a ValidatingPolicy.
    let mut inv = load(&fixture(
        "kyverno-policies/pod-security/baseline/disallow-host-path/disallow-host-path.yaml",
    ));
    let vpol = load(&fixture(
        "kyverno-policies/pod-security-vpol/baseline/disallow-host-path/disallow-host-path.yaml",
    ));
    inv.absorb(&vpol);
    inv.finish();
    let refs: Vec<(PolicyKind, &str)> = inv
        .policies
        .iter()
        .map(|p| (p.kind(), p.label.as_str()))
        .collect();
    assert_eq!(
        refs,
        vec![
            (
                PolicyKind::ClusterPolicy,
                "ClusterPolicy:disallow-host-path"
            ),
            (
                PolicyKind::ValidatingPolicy,
                "ValidatingPolicy:disallow-host-path"
            ),
        ]
    );
}

#[test]
fn check_warns_about_a_shared_name() {
    let inv = same_name();
    let config = config_from(CONFIG);
    let report = forewarn::cli::check(
        &config,
        std::slice::from_ref(&inv),
        at("2026-12-01T08:00:00Z"),
    );
    let shared: Vec<&str> = report
        .problems
        .iter()
        .filter(|p| p.message.contains("another policy is also named"))
        .map(|p| p.object.as_str())
        .collect();
    assert_eq!(
        shared,
        vec![
            "policy ClusterPolicy:restrict-seccomp-strict",
            "policy ValidatingPolicy:restrict-seccomp-strict"
        ]
    );
    assert!(report.text.contains("another policy is also named"));
}

fn cluster(name: &str, date: &str) -> Inventory {
    let text = SAME_NAME.replace("2026-12-14", date);
    let mut inv = inventory_from(&[("c.yaml", &text)]);
    inv.cluster = ClusterName::parse(name).expect("name");
    inv
}

#[test]
fn two_clusters_with_their_own_dates() {
    // Staging flips a week before prod.
    let clusters = vec![
        cluster("prod", "2026-12-14"),
        cluster("staging", "2026-12-07"),
    ];
    let config = config_from(CONFIG);
    let planned = plan(&clusters, &config, at("2026-12-01T08:00:00Z"));
    let t0: Vec<(String, String)> = planned
        .notices
        .iter()
        .filter(|n| n.kind == NoticeKind::Announce && n.milestone == "T-0")
        .map(|n| (n.id.to_string(), n.send_at.date_naive().to_string()))
        .collect();
    assert_eq!(
        t0,
        vec![
            (
                "announce/staging/ClusterPolicy:restrict-seccomp-strict/payments/T-0".to_string(),
                "2026-12-07".to_string()
            ),
            (
                "announce/prod/ClusterPolicy:restrict-seccomp-strict/payments/T-0".to_string(),
                "2026-12-14".to_string()
            ),
        ]
    );
    // Every namespace is tagged with its cluster; every id is unique.
    for n in &planned.notices {
        let c = n.cluster.as_ref().expect("named cluster").to_string();
        assert!(n.namespaces.iter().all(|ns| ns.cluster.to_string() == c));
        assert!(n.id.to_string().contains(&format!("/{c}/")), "{}", n.id);
    }
    let ids: BTreeSet<String> = planned.notices.iter().map(|n| n.id.to_string()).collect();
    assert_eq!(ids.len(), planned.notices.len());
    // The message names its cluster.
    let staging = planned
        .notices
        .iter()
        .find(|n| n.id == "announce/staging/ClusterPolicy:restrict-seccomp-strict/payments/T-7")
        .expect("staging T-7");
    let text = header(staging, &config);
    assert!(text.contains("staging"), "{text}");
}

#[test]
fn one_cluster_keeps_its_ids_and_a_configured_name_shows_in_messages() {
    let inv = cluster("prod", "2026-12-14");
    let mut config = config_from(CONFIG);
    let planned = plan(
        std::slice::from_ref(&inv),
        &config,
        at("2026-12-01T08:00:00Z"),
    );
    let first = &planned.notices[0];
    assert!(first.cluster.is_none());
    assert!(!first.id.to_string().contains("prod"));
    assert!(!header(first, &config).contains("prod"));

    config.cluster_name = Some(ClusterName::parse("prod").expect("name"));
    let planned = plan(
        std::slice::from_ref(&inv),
        &config,
        at("2026-12-01T08:00:00Z"),
    );
    let first = &planned.notices[0];
    // Ids stay the same (the ledger keeps working); the message names the cluster.
    assert!(!first.id.to_string().contains("prod"));
    let named = header(first, &config);
    assert!(named.contains("prod"), "{named}");
}

/// Copies the bundled example cluster into `dir`, moving `require-run-as-nonroot`'s date.
fn example_copy(dir: &std::path::Path, date: &str) {
    fn copy(from: &std::path::Path, to: &std::path::Path, date: &str) {
        std::fs::create_dir_all(to).expect("mkdir");
        for e in std::fs::read_dir(from).expect("read example") {
            let e = e.expect("entry");
            let target = to.join(e.file_name());
            if e.path().is_dir() {
                copy(&e.path(), &target, date);
            } else {
                let text = std::fs::read_to_string(e.path()).expect("read");
                let text = if e.file_name() == "require-run-as-nonroot.yaml" {
                    text.replace("2026-12-14", date)
                } else {
                    text
                };
                std::fs::write(target, text).expect("write");
            }
        }
    }
    copy(&common::root().join("examples/cluster"), dir, date);
}

/// `forewarn ARGS` run in the project root, without a Slack token.
fn forewarn(args: &[String]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_forewarn"))
        .current_dir(common::root())
        .env_remove("SLACK_BOT_TOKEN")
        .env_remove("SLACK_BOT_TOKEN_FILE")
        .args(args)
        .output()
        .expect("run forewarn")
}

#[test]
fn plan_json_for_two_snapshots_from_the_command_line() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (prod, staging) = (tmp.path().join("p"), tmp.path().join("s"));
    example_copy(&prod, "2026-12-14");
    example_copy(&staging, "2026-12-09");
    let clusters = [
        "--snapshot".to_string(),
        format!("prod={}", prod.display()),
        "--snapshot".to_string(),
        format!("staging={}", staging.display()),
    ];
    let args = |words: &[&str]| -> Vec<String> {
        words
            .iter()
            .map(|w| w.to_string())
            .chain(clusters.iter().cloned())
            .collect()
    };
    let out = forewarn(&args(&[
        "plan",
        "--output",
        "json",
        "--now",
        "2026-12-01T08:00:00+01:00",
    ]));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let notices = doc["notices"].as_array().expect("notices");
    let ids: BTreeSet<&str> = notices.iter().filter_map(|n| n["id"].as_str()).collect();
    assert_eq!(ids.len(), notices.len(), "ids are unique");
    for n in notices {
        for ns in n["namespaces"].as_array().expect("namespaces") {
            assert!(
                matches!(ns["cluster"].as_str(), Some("prod" | "staging")),
                "{ns}"
            );
        }
    }
    // Staging's earlier date is respected: its T-0 is on the 9th, prod's on the 14th.
    let t0 = |cluster: &str| {
        notices
            .iter()
            .find(|n| {
                n["id"]
                    == format!("announce/{cluster}/require-run-as-nonroot/payments/T-0").as_str()
            })
            .and_then(|n| n["send_at"].as_str())
            .map(|t| t[..10].to_string())
    };
    assert_eq!(t0("staging").as_deref(), Some("2026-12-09"));
    assert_eq!(t0("prod").as_deref(), Some("2026-12-14"));

    // `run --once` (a dry run without a token) sends what is due in both clusters.
    let ledger = tmp.path().join("ledger.json").display().to_string();
    let out = forewarn(&args(&[
        "run",
        "--once",
        "--now",
        "2026-12-07T09:00:00+01:00",
        "--state",
        &ledger,
    ]));
    let printed = String::from_utf8_lossy(&out.stdout);
    for id in [
        "announce/prod/require-run-as-nonroot/payments/T-7",
        "announce/staging/require-run-as-nonroot/payments/T-3",
        "digest/prod/payments/2026-12-07",
        "digest/staging/payments/2026-12-07",
    ] {
        // One message per destination carries every heads-up due there: its line lists them.
        assert!(
            printed
                .lines()
                .any(|l| l.starts_with("──── ") && l.split(['─', ' ', ',']).any(|w| w == id)),
            "{id} not sent:\n{printed}"
        );
    }

    // A name used twice is a usage error.
    let out = forewarn(&[
        "plan".to_string(),
        "--snapshot".to_string(),
        format!("x={}", prod.display()),
        "--snapshot".to_string(),
        format!("x={}", staging.display()),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("two clusters are named 'x'"));
}
