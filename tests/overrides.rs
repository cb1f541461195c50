//! Namespaces an override keeps in Audit after a flip: not announced, not counted as blocked,
//! listed for the platform. The example cluster's `disallow-latest-tag` keeps `env: sandbox`
//! namespaces in Audit through a rule override (`require-image-tag`).

#[macro_use]
mod common;

use common::{at, example_config, example_inventory};
use forewarn::plan::{NoticeKind, plan};
use forewarn::render::Renderer;

#[test]
fn the_sandbox_override_is_not_announced_and_not_blocked() {
    let inv = example_inventory();
    let config = example_config();
    let planned = plan(
        std::slice::from_ref(&inv),
        &config,
        at("2026-11-20T08:00:00+01:00"),
    );
    // No heads-up names data-sandbox for disallow-latest-tag: its only failure there is of the
    // rule the override keeps in Audit.
    for n in planned
        .notices
        .iter()
        .filter(|n| n.kind == NoticeKind::Announce && n.policy == "disallow-latest-tag")
    {
        assert!(
            n.namespaces.iter().all(|ns| ns.name != "data-sandbox"),
            "{} names data-sandbox",
            n.id
        );
    }
    let p = inv.policy("disallow-latest-tag").expect("policy");
    let r = forewarn::plan::readiness::readiness(p, &inv, &config, at("2026-11-20T08:00:00+01:00"));
    assert!(r.namespaces.iter().all(|n| n.namespace != "data-sandbox"));
    let kept: Vec<_> = r
        .kept_in_audit
        .iter()
        .map(|k| k.namespace.as_str())
        .collect();
    assert_eq!(kept, ["data-sandbox"]);

    // The platform hears it: in the readiness notice, when there is one, and in the digest.
    let renderer = Renderer::builtin().expect("templates");
    let digest = planned
        .notices
        .iter()
        .find(|n| n.id == "digest/platform/2026-11-23")
        .expect("platform digest");
    let m = renderer.render(digest, &config).expect("render");
    let words = serde_json::to_string(&m.blocks).expect("json");
    assert!(
        words.contains("stays in Audit by override: data-sandbox (1)"),
        "{words}"
    );
}

/// The readiness notice lists the namespaces an override keeps in Audit, apart from those the
/// flip would block.
#[test]
fn the_readiness_notice_names_what_stays_in_audit() {
    let config = example_config();
    let planned = plan(
        std::slice::from_ref(&example_inventory()),
        &config,
        at("2026-11-20T08:00:00+01:00"),
    );
    let n = planned
        .notices
        .iter()
        .find(|n| n.id == "readiness/disallow-latest-tag/T-3")
        .expect("readiness");
    let m = Renderer::builtin()
        .expect("templates")
        .render(n, &config)
        .expect("render");
    let words = serde_json::to_string(&m.blocks).expect("json");
    assert!(
        words.contains("Stays in Audit by override (not blocked by the flip): *data-sandbox* (data, 1 failing resource)"),
        "{words}"
    );
    assert!(!words.contains("*data-sandbox* (data) —"), "{words}");
}

/// Of two notices of one policy and audience, the later supersedes the earlier; a heads-up and
/// "enforced now" tell one story.
#[test]
fn a_later_notice_of_the_same_thread_supersedes_an_earlier_one() {
    let planned = plan(
        std::slice::from_ref(&example_inventory()),
        &example_config(),
        at("2026-11-20T08:00:00+01:00"),
    );
    let find = |id: &str| {
        planned
            .notices
            .iter()
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("{id}"))
    };
    let t7 = find("announce/require-run-as-nonroot/payments/T-7");
    let t14 = find("announce/require-run-as-nonroot/payments/T-14");
    assert!(t7.supersedes(t14));
    assert!(!t14.supersedes(t7));
    let other = find("announce/require-run-as-nonroot/data/T-14");
    assert!(!t7.supersedes(other), "another audience");
    // Before its time nothing is due; at T-7's tick, T-7 replaces the T-14 not yet sent.
    let due: Vec<String> = planned
        .due_at(at("2026-12-07T09:00:00+01:00"))
        .iter()
        .filter(|n| n.policy == "require-run-as-nonroot" && n.audience == "payments")
        .map(|n| n.id.to_string())
        .collect();
    assert_eq!(due, ["announce/require-run-as-nonroot/payments/T-7"]);
    let superseded: Vec<(String, String)> = planned
        .superseded_at(at("2026-12-07T09:00:00+01:00"))
        .iter()
        .filter(|(n, _)| n.policy == "require-run-as-nonroot" && n.audience == "payments")
        .map(|(n, by)| (n.id.to_string(), by.id.to_string()))
        .collect();
    assert_eq!(
        superseded,
        [(
            "announce/require-run-as-nonroot/payments/T-14".to_string(),
            "announce/require-run-as-nonroot/payments/T-7".to_string()
        )]
    );
}

/// A date on a policy that already enforces wherever no override keeps it in Audit: a flip
/// would change nothing, so nobody is announced and the platform hears why.
#[test]
fn a_date_that_a_flip_cannot_honour_is_a_warning() {
    let inv = common::inventory_from(&[(
        "c.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: data-lake, annotations: {forewarn.dev/owner: data}}\n---\n\
apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: limits\n  annotations: {forewarn.dev/enforce-on: '2027-01-11'}\nspec:\n  validationFailureAction: Enforce\n  validationFailureActionOverrides:\n  - {action: Audit, namespaces: [data-*]}\n  rules:\n  - name: r\n    validate: {message: m}\n---\n\
apiVersion: wgpolicyk8s.io/v1alpha2\nkind: PolicyReport\nmetadata: {name: a, namespace: data-lake}\nscope: {kind: Pod, name: etl, namespace: data-lake}\nresults:\n- {policy: limits, rule: r, result: fail}\n",
    )]);
    let config = common::config_from(
        "time-zone: UTC\nplatform: {channel: \"#platform\"}\nteams:\n  data: {channel: \"#data\"}\n",
    );
    let planned = plan(
        std::slice::from_ref(&inv),
        &config,
        at("2026-12-01T09:00:00Z"),
    );
    assert!(
        planned
            .notices
            .iter()
            .all(|n| n.kind != NoticeKind::Announce)
    );
    let p = planned
        .problems
        .iter()
        .find(|p| p.object == "policy limits")
        .expect("warning");
    assert!(
        p.message
            .contains("data-lake stay in Audit by override after a flip"),
        "{}",
        p.message
    );
}
