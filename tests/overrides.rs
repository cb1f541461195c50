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
