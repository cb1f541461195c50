//! The planner on the example cluster and on small inventories written here: recipients,
//! milestones, the weekend shift, exception-skipped results, unowned namespaces, problems.

mod common;

use common::{at, config_from, example_config, example_inventory, inventory_from};
use forewarn::plan::{Notice, NoticeKind, plan};

fn ids<'a>(notices: impl Iterator<Item = &'a Notice>) -> Vec<String> {
    notices.map(|n| n.id.to_string()).collect()
}

#[test]
fn each_team_hears_about_its_own_failing_namespaces() {
    let planned = plan(
        std::slice::from_ref(&example_inventory()),
        &example_config(),
        at("2026-12-01T08:00:00+01:00"),
    );
    let t7: Vec<&Notice> = planned
        .notices
        .iter()
        .filter(|n| n.policy == "require-run-as-nonroot" && n.milestone == "T-7")
        .collect();
    let audiences: Vec<String> = t7
        .iter()
        .map(|n| format!("{} {}", n.audience, n.destination))
        .collect();
    assert_eq!(
        audiences,
        vec![
            "data #data-eng",
            "payments #payments-dev",
            "platform #platform-policy",
            "storefront #storefront",
        ]
    );
    let payments = t7
        .iter()
        .find(|n| n.audience == "payments")
        .expect("payments");
    // Annotation owner (payments-api) and label fallback (payments-worker) both count.
    let ns: Vec<(&str, u64)> = payments
        .namespaces
        .iter()
        .map(|n| (n.name.as_str(), n.failing))
        .collect();
    assert_eq!(ns, vec![("payments-api", 2), ("payments-worker", 1)]);
    assert_eq!(payments.send_at, at("2026-12-07T09:00:00+01:00"));
    assert_eq!(
        payments.enforce_on.map(|e| e.display()).as_deref(),
        Some("2026-12-14")
    );
    assert_eq!(payments.id, "announce/require-run-as-nonroot/payments/T-7");
    // Teams with nothing failing get nothing: no notice for the kyverno namespace's team.
    assert!(
        planned
            .notices
            .iter()
            .all(|n| n.audience != "platform" || n.namespaces.iter().all(|ns| ns.unowned))
    );
}

#[test]
fn milestones_shift_before_weekends_and_collapse() {
    let planned = plan(
        std::slice::from_ref(&example_inventory()),
        &example_config(),
        at("2026-11-27T08:00:00+01:00"),
    );
    // Enforcement on Monday 14 December: T-14 and T-7 are Mondays, T-3 (Friday) and T-1
    // (Sunday, moved to Friday) share a tick, where only T-1 is kept; T-0 is Monday morning.
    let got: Vec<(String, String)> = planned
        .notices
        .iter()
        .filter(|n| n.policy == "require-run-as-nonroot" && n.audience == "payments")
        .map(|n| (n.milestone.clone(), n.send_at.to_rfc3339()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("T-14".into(), "2026-11-30T09:00:00+01:00".into()),
            ("T-7".into(), "2026-12-07T09:00:00+01:00".into()),
            ("T-1".into(), "2026-12-11T09:00:00+01:00".into()),
            ("T-0".into(), "2026-12-14T09:00:00+01:00".into()),
        ]
    );
    // An enforcement with a time of day (Thursday 14:00): T-0 goes out that morning, before it.
    let app: Vec<String> = planned
        .notices
        .iter()
        .filter(|n| n.policy == "storefront-web/require-app-label")
        .map(|n| format!("{} {}", n.milestone, n.send_at.to_rfc3339()))
        .collect();
    assert!(
        app.contains(&"T-0 2026-12-10T09:00:00+01:00".to_string()),
        "{app:?}"
    );
    assert!(
        app.contains(&"T-3 2026-12-07T09:00:00+01:00".to_string()),
        "{app:?}"
    );
}

#[test]
fn enforced_namespaces_and_exception_skips_are_not_failing() {
    let planned = plan(
        std::slice::from_ref(&example_inventory()),
        &example_config(),
        at("2026-12-01T08:00:00+01:00"),
    );
    // disallow-latest-tag is already enforced in payments-* by a rule override.
    assert!(
        planned
            .notices
            .iter()
            .all(|n| !(n.policy == "disallow-latest-tag" && n.audience == "payments"))
    );
    // The sandbox stays in Audit by a namespaceSelector override, before and after the flip:
    // nothing there will be rejected, so data does not hear about it.
    assert!(
        !planned
            .notices
            .iter()
            .any(|n| n.policy == "disallow-latest-tag"
                && n.audience == "data"
                && n.namespaces.iter().any(|ns| ns.name == "data-sandbox"))
    );
    // storefront-web: web fails, web-legacy is skipped by its exception.
    let sf = planned
        .notices
        .iter()
        .find(|n| n.policy == "require-run-as-nonroot" && n.audience == "storefront")
        .expect("storefront notice");
    assert_eq!(sf.namespaces[0].failing, 1);
    assert_eq!(sf.namespaces[0].excepted, 1);
    assert_eq!(sf.namespaces[0].sample.len(), 1);
    assert_eq!(sf.namespaces[0].sample[0].name, "web");
    // require-requests-limits is Enforce in payments-*, storefront-* and legacy-* by a spec
    // override, Audit elsewhere: only data is told, with the config's date.
    let rl: Vec<&Notice> = planned
        .notices
        .iter()
        .filter(|n| n.policy == "require-requests-limits" && n.kind == NoticeKind::Announce)
        .collect();
    assert!(!rl.is_empty());
    assert!(rl.iter().all(|n| n.audience == "data"
        && n.enforce_on.map(|e| e.display()).as_deref() == Some("2027-01-11")));
    // Enforced everywhere, no date: nothing.
    assert!(
        planned
            .notices
            .iter()
            .all(|n| n.policy != "disallow-privileged-containers")
    );
}

#[test]
fn unowned_namespaces_go_to_the_platform_channel() {
    let planned = plan(
        std::slice::from_ref(&example_inventory()),
        &example_config(),
        at("2026-12-01T08:00:00+01:00"),
    );
    let unowned: Vec<&str> = planned.unowned.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(unowned, vec!["legacy-batch"]);
    let n = planned
        .notices
        .iter()
        .find(|n| n.policy == "require-run-as-nonroot" && n.audience == "platform")
        .expect("platform notice");
    assert_eq!(n.destination, "#platform-policy");
    assert_eq!(n.namespaces[0].name, "legacy-batch");
    assert!(n.namespaces[0].unowned);
    // A namespace's own channel routes its notices there.
    assert!(
        planned
            .notices
            .iter()
            .any(|n| n.destination == "#search-oncall")
    );
}

#[test]
fn upcoming_is_the_calendar_from_now() {
    let planned = plan(
        std::slice::from_ref(&example_inventory()),
        &example_config(),
        at("2026-12-11T09:00:00+01:00"),
    );
    let ahead = ids(planned
        .upcoming()
        .filter(|n| n.policy == "require-run-as-nonroot" && n.audience == "data"));
    assert_eq!(
        ahead,
        vec![
            "announce/require-run-as-nonroot/data/T-1",
            "announce/require-run-as-nonroot/data/T-0"
        ]
    );
    // On the day itself the T-0 notice is still planned; the day after, nothing is.
    let planned = plan(
        std::slice::from_ref(&example_inventory()),
        &example_config(),
        at("2026-12-14T10:00:00+01:00"),
    );
    assert!(
        planned
            .notices
            .iter()
            .any(|n| n.id == "announce/require-run-as-nonroot/data/T-0")
    );
    // The day after, no heads-up is planned; the platform hears that it is overdue instead,
    // because the example never flipped the policy.
    let planned = plan(
        std::slice::from_ref(&example_inventory()),
        &example_config(),
        at("2026-12-15T10:00:00+01:00"),
    );
    let kinds: Vec<(NoticeKind, String)> = planned
        .notices
        .iter()
        .filter(|n| n.policy == "require-run-as-nonroot")
        .map(|n| (n.kind, n.id.to_string()))
        .collect();
    assert_eq!(
        kinds,
        vec![(
            NoticeKind::Overdue,
            "overdue/require-run-as-nonroot/2026-12-14".to_string()
        )]
    );
}

const CONFIG: &str = r##"
time-zone: Europe/Berlin
platform: {channel: "#platform"}
teams:
  web: {channel: "#web"}
"##;

fn namespace(name: &str, owner: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  annotations:\n    forewarn.dev/owner: {owner}\n"
    )
}

fn policy(name: &str, enforce_on: &str) -> String {
    format!(
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: {name}\n  annotations:\n    forewarn.dev/enforce-on: \"{enforce_on}\"\nspec:\n  validationFailureAction: Audit\n  rules:\n  - name: r\n    validate: {{message: m}}\n"
    )
}

fn failing(policy: &str, ns: &str) -> String {
    format!(
        "apiVersion: wgpolicyk8s.io/v1alpha2\nkind: PolicyReport\nmetadata: {{name: r-{policy}, namespace: {ns}}}\nscope: {{kind: Pod, name: p, namespace: {ns}}}\nresults:\n- {{policy: {policy}, rule: r, result: fail}}\n"
    )
}

#[test]
fn problems_are_returned_not_panicked() {
    let docs = [
        namespace("web", "web"),
        namespace("ghost", "no-such-team"),
        policy("bad-date", "14/12/2026"),
        policy("past", "2026-11-02"),
        policy("ok", "2026-12-14"),
        failing("bad-date", "web"),
        failing("past", "web"),
        failing("ok", "web"),
        failing("ok", "ghost"),
    ]
    .join("---\n");
    let inv = inventory_from(&[("cluster.yaml", &docs)]);
    assert!(inv.problems.is_empty(), "{:?}", inv.problems);
    let planned = plan(
        std::slice::from_ref(&inv),
        &config_from(CONFIG),
        at("2026-12-01T10:00:00+01:00"),
    );
    let problems: Vec<(String, String)> = planned
        .problems
        .iter()
        .map(|p| (p.object.clone(), p.message.clone()))
        .collect();
    assert!(
        problems
            .iter()
            .any(|(o, m)| o == "policy bad-date" && m.contains("'14/12/2026' is not a date")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|(o, m)| o == "policy past"
            && m.contains("has passed but the policy is still in Audit")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|(o, m)| o == "namespace ghost" && m.contains("'no-such-team' is not a team")),
        "{problems:?}"
    );
    // The good policy is still planned, the unknown team's namespace goes to the platform.
    let ok: Vec<String> = planned
        .notices
        .iter()
        .filter(|n| n.policy == "ok" && n.milestone == "T-7")
        .map(|n| format!("{} {}", n.audience, n.destination))
        .collect();
    assert_eq!(ok, vec!["platform #platform", "web #web"]);
    let announced: Vec<&str> = planned
        .notices
        .iter()
        .filter(|n| n.kind == NoticeKind::Announce)
        .map(|n| n.policy.as_str())
        .collect();
    assert!(announced.iter().all(|p| *p == "ok"), "{announced:?}");
    // The policy whose date passed while still in Audit: an overdue notice to the platform.
    assert!(
        planned
            .notices
            .iter()
            .any(|n| n.id == "overdue/past/2026-11-02" && n.destination == "#platform")
    );
}
