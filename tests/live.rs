//! The live source against a local fake Kubernetes API (tests/common/fake_kube.rs): the same
//! inventory as the snapshot of the same objects, watch events changing the plan, relisting
//! after 410 Gone, API groups installed later, and a forbidden resource.

mod common;

use common::fake_kube::FakeKube;
use common::{at, example_config, root};
use forewarn::inventory::Inventory;
use forewarn::inventory::kube::{LiveInventory, run};
use forewarn::inventory::snapshot::{InventorySource, load_dir, split_documents};
use forewarn::plan::plan;
use serde_json::Value;
use std::time::Duration;

const ALL_GROUPS: &[&str] = &[
    "",
    "kyverno.io",
    "policies.kyverno.io",
    "wgpolicyk8s.io",
    "openreports.io",
    "templates.gatekeeper.sh",
    "admissionregistration.k8s.io",
];
const NOW: &str = "2026-12-01T08:00:00+01:00";

/// Every object of the example cluster, one by one.
fn example_objects() -> Vec<Value> {
    let mut out = Vec::new();
    let mut files: Vec<_> = walk(&root().join("examples/cluster"));
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read");
        for doc in split_documents(&text) {
            let v: Value = serde_saphyr::from_str(doc.text).expect("yaml");
            match v["items"].as_array() {
                Some(items) => out.extend(items.iter().cloned()),
                None => out.push(v),
            }
        }
    }
    out
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "yaml") {
            out.push(p);
        }
    }
    out
}

async fn start(fake: &FakeKube, rediscover: Duration) -> LiveInventory {
    common::init_tls();
    let live = LiveInventory::new();
    tokio::spawn(run(
        fake.client(),
        live.clone(),
        rediscover,
        std::future::pending(),
    ));
    live
}

/// Waits (bounded) until `check` holds for the live inventory.
async fn until(live: &LiveInventory, what: &str, check: impl Fn(&Inventory) -> bool) -> Inventory {
    for _ in 0..400 {
        if let Ok(inv) = live.load().map(|mut clusters| clusters.remove(0))
            && check(&inv)
        {
            return inv;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "timed out waiting for: {what}; pending: {:?}, errors: {:?}",
        live.pending(),
        live.errors()
    );
}

/// (notice id, destination, [(namespace, failing)]).
type Planned = (String, String, Vec<(String, u64)>);

fn notices(inv: &Inventory) -> Vec<Planned> {
    plan(std::slice::from_ref(inv), &example_config(), at(NOW))
        .notices
        .into_iter()
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_inventory_equals_the_snapshot_of_the_same_objects() {
    let fake = FakeKube::start(ALL_GROUPS).await;
    for obj in example_objects() {
        fake.apply(&obj);
    }
    let live = start(&fake, Duration::from_secs(60)).await;
    let from_cluster = until(&live, "first full listing", |_| true).await;
    let from_files = load_dir(&root().join("examples/cluster")).expect("snapshot");

    let ids = |inv: &Inventory| {
        inv.policies
            .iter()
            .map(|p| p.label.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&from_cluster), ids(&from_files));
    assert_eq!(from_cluster.namespaces, from_files.namespaces);
    let counts = |inv: &Inventory| {
        inv.results
            .iter()
            .map(|(k, s)| {
                (
                    owned(k),
                    s.counts(),
                    s.fail_by_rule().clone(),
                    s.skipped_by_exception(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(counts(&from_cluster), counts(&from_files));
    // What `/policy why` and the notices' samples show, word for word (objects are folded
    // in another order than files are read).
    let sorted = |items: Vec<String>| {
        let mut items = items;
        items.sort();
        items
    };
    let findings = |inv: &Inventory| {
        inv.findings
            .iter()
            .map(|(at, f)| {
                (
                    at.clone(),
                    sorted(f.iter().map(|f| format!("{f:?}")).collect()),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(findings(&from_cluster), findings(&from_files));
    let samples = |inv: &Inventory| {
        inv.results
            .iter()
            .map(|(k, s)| {
                (
                    owned(k),
                    sorted(s.sample().iter().map(|r| format!("{r:?}")).collect()),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(samples(&from_cluster), samples(&from_files));
    assert_eq!(from_cluster.exceptions, from_files.exceptions);
    assert!(
        from_cluster.problems.is_empty(),
        "{:?}",
        from_cluster.problems
    );
    assert_eq!(notices(&from_cluster), notices(&from_files));
    // The three engines side by side, read from the API: the Gatekeeper constraint (a kind
    // discovered from its template) and the VAP binding are planned like the Kyverno policies.
    let planned = notices(&from_cluster);
    let first = |id: &str| {
        planned
            .iter()
            .find(|(i, ..)| i == id)
            .map(|(_, dest, ns)| (dest.clone(), ns.clone()))
    };
    assert_eq!(
        first("announce/K8sRequiredLabels/workloads-need-cost-center/storefront/T-14"),
        Some(("#storefront".into(), vec![("storefront-web".into(), 2)]))
    );
    assert_eq!(
        first("announce/min-replicas-all/data/T-14"),
        Some((
            "#data-eng".into(),
            vec![("data-ingest".into(), 1), ("data-sandbox".into(), 1)]
        ))
    );
    assert!(
        first("announce/min-replicas-all/payments/T-14").is_none(),
        "payments is denied by another binding already"
    );
    assert!(
        first("announce/require-run-as-nonroot/payments/T-14").is_some(),
        "Kyverno alongside"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gatekeeper_installed_later_is_picked_up_with_its_constraint_kinds() {
    // A cluster without Gatekeeper or VAPs is normal: the rest is read.
    let fake = FakeKube::start(&["", "kyverno.io", "policies.kyverno.io", "wgpolicyk8s.io"]).await;
    for obj in example_objects() {
        fake.apply(&obj);
    }
    let live = start(&fake, Duration::from_millis(200)).await;
    let inv = until(&live, "listed without Gatekeeper", |_| true).await;
    assert!(inv.policy("require-run-as-nonroot").is_some());
    assert!(
        inv.policy("K8sRequiredLabels/workloads-need-cost-center")
            .is_none()
    );

    // Gatekeeper is installed: its templates, then a template defining a new kind.
    fake.serve_group("templates.gatekeeper.sh");
    fake.apply(&serde_json::json!({
        "apiVersion": "templates.gatekeeper.sh/v1", "kind": "ConstraintTemplate",
        "metadata": {"name": "k8sallowedrepos"},
        "spec": {"crd": {"spec": {"names": {"kind": "K8sAllowedRepos"}}}},
    }));
    fake.apply(&serde_json::json!({
        "apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sAllowedRepos",
        "metadata": {"name": "repos", "annotations": {"forewarn.dev/enforce-on": "2026-12-14"}},
        "spec": {"enforcementAction": "warn"},
        "status": {"totalViolations": 1, "violations": [
            {"enforcementAction": "warn", "group": "", "version": "v1", "kind": "Pod",
             "namespace": "payments-api", "name": "checkout", "message": "repo not allowed"}]},
    }));
    let inv = until(&live, "the new constraint kind", |inv| {
        inv.policy("K8sAllowedRepos/repos").is_some()
            && inv
                .policy("K8sRequiredLabels/workloads-need-cost-center")
                .is_some()
    })
    .await;
    assert!(notices(&inv).iter().any(|(id, _, ns)| id
        == "announce/K8sAllowedRepos/repos/payments/T-14"
        && ns == &vec![("payments-api".to_string(), 1)]));
}

/// A results key as owned strings, to compare two inventories' keys.
fn owned(
    (engine, policy, ns, binding): forewarn::inventory::ResultKeyRef<'_>,
) -> (
    forewarn::model::ids::Engine,
    String,
    Option<String>,
    Option<String>,
) {
    (
        engine,
        policy.to_string(),
        ns.map(str::to_string),
        binding.map(str::to_string),
    )
}

fn report_for(inv: &Inventory, ns: &str) -> u64 {
    inv.results
        .get(&(
            forewarn::model::ids::Engine::Kyverno,
            "require-run-as-nonroot".into(),
            Some(ns.into()),
            None,
        ))
        .map_or(0, |s| s.counts().fail)
}

fn example_report(ns: &str, resource: &str) -> Value {
    example_objects()
        .into_iter()
        .find(|o| {
            o["kind"] == "PolicyReport"
                && o["metadata"]["namespace"] == ns
                && o["scope"]["name"] == resource
        })
        .expect("report in the example")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_events_change_the_plan() {
    let fake = FakeKube::start(ALL_GROUPS).await;
    for obj in example_objects() {
        fake.apply(&obj);
    }
    let live = start(&fake, Duration::from_secs(60)).await;
    until(&live, "listed", |inv| {
        report_for(inv, "payments-worker") == 1
    })
    .await;

    // DELETED: the worker's report goes away; payments now hears only about payments-api.
    let worker = example_report("payments-worker", "settlement-worker-0");
    let name = worker["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_string();
    fake.delete(
        "wgpolicyk8s.io",
        "PolicyReport",
        "payments-worker",
        &name,
        true,
    );
    let inv = until(&live, "worker report deleted", |inv| {
        report_for(inv, "payments-worker") == 0
    })
    .await;
    let n = notices(&inv);
    let payments = n
        .iter()
        .find(|(id, _, _)| id == "announce/require-run-as-nonroot/payments/T-7")
        .expect("notice");
    assert_eq!(payments.2, vec![("payments-api".to_string(), 2)]);

    // MODIFIED: checkout-api now passes the policy.
    let mut checkout = example_report("payments-api", "checkout-api");
    checkout["results"][0]["result"] = Value::String("pass".into());
    fake.apply(&checkout);
    let inv = until(&live, "checkout-api passes", |inv| {
        report_for(inv, "payments-api") == 1
    })
    .await;
    let n = notices(&inv);
    let payments = n
        .iter()
        .find(|(id, _, _)| id == "announce/require-run-as-nonroot/payments/T-7")
        .expect("notice");
    assert_eq!(payments.2, vec![("payments-api".to_string(), 1)]);

    // ADDED: the worker's report comes back.
    fake.apply(&worker);
    let inv = until(&live, "worker report back", |inv| {
        report_for(inv, "payments-worker") == 1
    })
    .await;
    assert!(
        notices(&inv)
            .iter()
            .any(|(_, _, ns)| ns.contains(&("payments-worker".to_string(), 1)))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_410_leads_to_a_relist_without_losing_state() {
    let fake = FakeKube::start(ALL_GROUPS).await;
    for obj in example_objects() {
        fake.apply(&obj);
    }
    let live = start(&fake, Duration::from_secs(60)).await;
    let before = until(&live, "listed", |_| true).await;
    // Wait until every resource is watching, then lose an event and expire the watches.
    for _ in 0..200 {
        if fake.open_watches() >= 9 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let worker = example_report("payments-worker", "settlement-worker-0");
    let name = worker["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_string();
    fake.delete(
        "wgpolicyk8s.io",
        "PolicyReport",
        "payments-worker",
        &name,
        false,
    );
    fake.expire_watches();
    let after = until(&live, "relisted without the missed object", |inv| {
        report_for(inv, "payments-worker") == 0
    })
    .await;
    // Everything else is still there.
    assert_eq!(after.policies.len(), before.policies.len());
    assert_eq!(after.namespaces, before.namespaces);
    assert_eq!(after.exceptions, before.exceptions);
    assert_eq!(report_for(&after, "payments-api"), 2);
    assert!(live.is_ready());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_group_is_tolerated_and_picked_up_later() {
    // openreports.io is not installed at first.
    let fake = FakeKube::start(&["", "kyverno.io", "policies.kyverno.io", "wgpolicyk8s.io"]).await;
    for obj in example_objects() {
        fake.apply(&obj);
    }
    let live = start(&fake, Duration::from_millis(200)).await;
    let inv = until(&live, "listed without openreports.io", |_| true).await;
    assert_eq!(report_for(&inv, "data-sandbox"), 1);

    fake.serve_group("openreports.io");
    let report = serde_json::json!({
        "apiVersion": "openreports.io/v1alpha1", "kind": "Report",
        "metadata": {"name": "r1", "namespace": "data-sandbox"},
        "scope": {"apiVersion": "v1", "kind": "Pod", "name": "scratch", "namespace": "data-sandbox"},
        "results": [{"policy": "require-run-as-nonroot", "rule": "run-as-non-root", "result": "fail", "message": "root"}],
    });
    fake.apply(&report);
    until(&live, "the openreports.io report", |inv| {
        report_for(inv, "data-sandbox") == 2
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_resource_is_named_and_the_rest_works() {
    let fake = FakeKube::start(ALL_GROUPS).await;
    for obj in example_objects() {
        fake.apply(&obj);
    }
    fake.forbid("policyexceptions", "kyverno.io");
    let live = start(&fake, Duration::from_secs(60)).await;
    let inv = until(&live, "listed", |_| true).await;
    assert!(inv.exceptions.is_empty());
    assert_eq!(report_for(&inv, "payments-api"), 2);
    let errors = live.errors();
    assert_eq!(
        errors
            .get("policyexceptions.kyverno.io")
            .map(String::as_str),
        Some("forbidden (needs list and watch)")
    );
    assert_eq!(errors.len(), 1);
}
