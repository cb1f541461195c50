//! Long words in messages: a section that is too long keeps its heading, the start of each
//! paragraph and its links; text is cut at a word boundary with "…", never inside an escape.

mod common;

use common::{at, config_from, fixture, inventory_from};
use forewarn::plan::plan;
use forewarn::render::{MAX_SECTION, Message, Renderer};
use serde_json::Value;

const NOW: &str = "2026-12-01T08:00:00+01:00";

fn sections(m: &Message) -> Vec<String> {
    let v = serde_json::to_value(&m.blocks).expect("blocks");
    v.as_array()
        .expect("array")
        .iter()
        .filter(|b| b["type"] == "section")
        .map(|b| b["text"]["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Every `&` starts a whole escape.
fn escapes_whole(text: &str) -> bool {
    text.match_indices('&').all(|(i, _)| {
        let rest = &text[i..];
        rest.starts_with("&amp;") || rest.starts_with("&lt;") || rest.starts_with("&gt;")
    })
}

/// `n` characters or more of prose with ampersands and angle brackets.
fn prose(first: &str, n: usize) -> String {
    let mut s = first.to_string();
    let words = [
        "containers",
        "&",
        "init",
        "containers",
        "must",
        "set",
        "<type>",
        "to",
        "an",
        "allowed",
        "value;",
        "see",
        "the",
        "runbook",
        "for",
        "each",
        "workload",
        "kind",
    ];
    let mut i = 0;
    while s.len() < n {
        s.push(' ');
        s.push_str(words[i % words.len()]);
        i += 1;
    }
    s
}

fn render(notice_id: &str, yaml: &[(&str, &str)], config: &str) -> Message {
    let config = config_from(config);
    let inv = inventory_from(yaml);
    let planned = plan(std::slice::from_ref(&inv), &config, at(NOW));
    let n = planned
        .notices
        .iter()
        .find(|n| n.id == notice_id)
        .unwrap_or_else(|| {
            let ids: Vec<String> = planned.notices.iter().map(|n| n.id.to_string()).collect();
            panic!("no {notice_id} in {ids:?}")
        });
    Renderer::builtin()
        .expect("templates")
        .render(n, &config)
        .expect("render")
}

const CONFIG: &str = "platform: {channel: \"#platform\"}\nteams:\n  shop: {channel: \"#shop\"}\n";

#[test]
fn a_long_description_and_remediation_keep_headings_start_and_link() {
    let description = prose("SELinux options can be used to escalate privileges:", 4000);
    let remedy = prose(
        "Remove seLinuxOptions.type from every container & pod spec:",
        5000,
    );
    let policy = std::fs::read_to_string(fixture(
        "kyverno-policies/pod-security/baseline/disallow-selinux/disallow-selinux.yaml",
    ))
    .expect("fixture");
    let start = policy
        .find("    policies.kyverno.io/description: >-")
        .expect("description");
    let end = policy.find("spec:").expect("spec");
    let policy = format!(
        "{}    policies.kyverno.io/description: \"{description}\"\n    forewarn.dev/enforce-on: \"2026-12-14\"\n    forewarn.dev/guidance: https://wiki.example.com/selinux?a=1&b=2\n    forewarn.dev/what-to-do: \"{remedy}\"\n{}",
        &policy[..start],
        &policy[end..]
    );
    let ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, annotations: {forewarn.dev/owner: shop}}\n";
    let report = "apiVersion: wgpolicyk8s.io/v1alpha2\nkind: PolicyReport\nmetadata: {name: r1, namespace: shop}\nscope: {kind: Pod, name: web, namespace: shop}\nresults:\n- {policy: disallow-selinux, rule: selinux-type, result: fail, message: 'Setting the SELinux type is restricted & <checked>'}\n";
    let m = render(
        "announce/disallow-selinux/shop/T-7",
        &[("p.yaml", &policy), ("ns.yaml", ns), ("r.yaml", report)],
        CONFIG,
    );
    let secs = sections(&m);
    for s in &secs {
        assert!(
            s.chars().count() <= MAX_SECTION,
            "{} chars",
            s.chars().count()
        );
        assert!(escapes_whole(s), "half an escape in: {s}");
        assert!(!s.contains("…and"), "a paragraph was dropped: {s}");
    }
    let what_changes = secs
        .iter()
        .find(|s| s.starts_with("*What changes*"))
        .expect("what changes");
    assert!(what_changes.contains("> SELinux options can be used to escalate privileges:"));
    assert!(
        what_changes.contains("Failing it today: 1 resource in 1 namespace."),
        "{what_changes}"
    );
    let what_to_do = secs
        .iter()
        .find(|s| s.starts_with("*What to do*"))
        .expect("what to do");
    assert!(
        what_to_do.contains("Remove seLinuxOptions.type from every container &amp; pod spec:"),
        "{what_to_do}"
    );
    assert!(
        what_to_do.contains("Guide: <https://wiki.example.com/selinux?a=1&amp;b=2|how to comply>"),
        "{what_to_do}"
    );
    // Cut at a word boundary: what is kept before "…" is whole words of the text.
    let line = what_to_do.lines().nth(1).expect("remediation line");
    assert!(line.ends_with('…'), "{line}");
    let kept = line.trim_end_matches('…');
    let escaped = forewarn::render::escape_mrkdwn(&remedy);
    assert!(escaped.starts_with(kept), "{kept}");
    assert!(
        escaped[kept.len()..].starts_with(' '),
        "cut inside a word: {kept}"
    );
}

#[test]
fn a_platform_digest_with_hundreds_of_unowned_namespaces_keeps_every_part() {
    let mut docs = vec![
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: p\n  annotations: {forewarn.dev/enforce-on: '2026-12-21'}\nspec:\n  rules:\n  - name: r\n    validate: {message: m}\n".to_string(),
    ];
    for i in 0..500 {
        docs.push(format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: team-{i:03}}}\n---\napiVersion: wgpolicyk8s.io/v1alpha2\nkind: PolicyReport\nmetadata: {{name: r, namespace: team-{i:03}}}\nscope: {{kind: Pod, name: a, namespace: team-{i:03}}}\nresults:\n- {{policy: p, rule: r, result: fail, message: m}}\n"
        ));
    }
    let docs = docs.join("---\n");
    let config = config_from(CONFIG);
    let inv = inventory_from(&[("c.yaml", &docs)]);
    let planned = plan(std::slice::from_ref(&inv), &config, at(NOW));
    let n = planned
        .notices
        .iter()
        .find(|n| n.kind.as_str() == "digest" && n.audience == "platform")
        .expect("platform digest");
    let m = Renderer::builtin()
        .expect("templates")
        .render(n, &config)
        .expect("render");
    let secs = sections(&m);
    let body = &secs[0];
    assert!(body.chars().count() <= MAX_SECTION);
    assert!(body.contains("*Failing results per policy:*"), "{body}");
    assert!(body.contains("• `p`: 500 in 500 namespaces"), "{body}");
    let unowned = body
        .lines()
        .find(|l| l.starts_with("*Unowned namespaces:*"))
        .unwrap_or_else(|| panic!("{body}"));
    assert!(unowned.contains("`team-000`"), "{unowned}");
    assert!(unowned.ends_with('…'), "{unowned}");
    // Never half a code span.
    assert_eq!(unowned.matches('`').count() % 2, 0, "{unowned}");
    assert!(body.contains("*Upcoming flips:*"), "{body}");
    let v: Value = serde_json::to_value(&m.blocks).expect("json");
    assert!(v.as_array().unwrap().len() <= 50);
}
