//! Rendering notices into Slack messages: mrkdwn escaping, Block Kit limits, templates from a
//! user's directory, and template mistakes reported by file and section.

mod common;

use common::{at, config_from, example_config, example_inventory, inventory_from};
use forewarn::plan::plan;
use forewarn::render::{MAX_BLOCKS, MAX_HEADER, MAX_SECTION, Message, Renderer};
use serde_json::Value;

fn texts(m: &Message) -> Vec<(String, String)> {
    let v = serde_json::to_value(&m.blocks).expect("blocks serialise");
    v.as_array()
        .expect("array")
        .iter()
        .map(|b| {
            let kind = b["type"].as_str().unwrap_or_default().to_string();
            let text = match kind.as_str() {
                "context" => b["elements"][0]["text"].as_str(),
                _ => b["text"]["text"].as_str(),
            };
            (kind, text.unwrap_or_default().to_string())
        })
        .collect()
}

#[test]
fn example_notice_has_the_agreed_structure() {
    let config = example_config();
    let planned = plan(
        std::slice::from_ref(&example_inventory()),
        &config,
        at("2026-12-01T08:00:00+01:00"),
    );
    let n = planned
        .notices
        .iter()
        .find(|n| n.id == "announce/require-run-as-nonroot/payments/T-7")
        .expect("notice");
    let m = Renderer::for_config(&config)
        .expect("templates")
        .render(n, &config)
        .expect("render");
    assert_eq!(m.channel, "#payments-dev");
    let blocks = texts(&m);
    let kinds: Vec<&str> = blocks.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "header", "section", "section", "section", "section", "section", "actions", "context"
        ]
    );
    assert_eq!(
        blocks[0].1,
        "Require runAsNonRoot will be enforced in 7 days"
    );
    assert!(blocks[1].1.starts_with("*What changes*"));
    assert!(blocks[1].1.contains("*Mon 14 Dec 2026*"));
    assert!(
        blocks[2]
            .1
            .starts_with("*payments-api* — 2 failing resources")
    );
    assert!(blocks[2].1.contains("`Deployment/checkout-api`"));
    assert!(
        blocks[3]
            .1
            .starts_with("*payments-worker* — 1 failing resource")
    );
    assert!(blocks[4].1.starts_with("*What to do*"));
    assert!(
        blocks[4]
            .1
            .contains("<https://wiki.example.com/platform/run-as-nonroot|how to comply>")
    );
    assert!(blocks[5].1.starts_with("*Who to contact*"));
    assert!(blocks[5].1.contains("#platform-security (ask for Ines)"));
    // Sent to the team's own channel: it is not told to contact itself.
    assert!(!blocks[5].1.contains("your team"), "{}", blocks[5].1);
    // The triage buttons sit between what to do and the footer (tests/triage.rs clicks them).
    assert!(blocks[7].1.contains("T-7"));
    assert!(m.text.contains("require-run-as-nonroot"));
    assert!(m.text.contains("in 7 days"));
}

// The team has no channel: its notices go to its members directly, and name its contact.
const CONFIG: &str = "platform: {channel: \"#platform\"}\nteams:\n  web: {members: [web@example.com], contact: \"Tom & Jerry <tj@example.com>\"}\n";

fn cluster(namespaces: usize, message: &str, title: &str) -> String {
    let mut docs = vec![format!(
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: p\n  annotations:\n    policies.kyverno.io/title: '{title}'\n    forewarn.dev/enforce-on: '2026-12-14'\n    forewarn.dev/guidance: 'https://example.com/g?a=1&b=2'\n    forewarn.dev/what-to-do: 'Use <none> & retry'\nspec:\n  rules:\n  - name: r\n    validate: {{message: m}}\n"
    )];
    for i in 0..namespaces {
        docs.push(format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns-{i:03}\n  annotations: {{forewarn.dev/owner: web}}\n"
        ));
        docs.push(format!(
            "apiVersion: wgpolicyk8s.io/v1alpha2\nkind: PolicyReport\nmetadata: {{name: r, namespace: ns-{i:03}}}\nscope: {{kind: Pod, name: pod-a, namespace: ns-{i:03}}}\nresults:\n- policy: p\n  rule: r\n  result: fail\n  message: '{message}'\n"
        ));
    }
    docs.join("---\n")
}

fn render_one(yaml: &str) -> Message {
    let config = config_from(CONFIG);
    let inv = inventory_from(&[("c.yaml", yaml)]);
    assert!(inv.problems.is_empty(), "{:?}", inv.problems);
    let planned = plan(
        std::slice::from_ref(&inv),
        &config,
        at("2026-12-01T08:00:00+01:00"),
    );
    let n = planned
        .notices
        .iter()
        .find(|n| n.milestone == "T-7")
        .expect("a notice");
    Renderer::builtin()
        .expect("templates")
        .render(n, &config)
        .expect("render")
}

#[test]
fn every_value_is_escaped_for_mrkdwn_and_links_survive() {
    let m = render_one(&cluster(1, "image <none> & tag > 1", "Cats & <Dogs>"));
    let blocks = texts(&m);
    // The header is plain text: shown as written.
    assert_eq!(blocks[0].1, "Cats & <Dogs> will be enforced in 7 days");
    let all: String = blocks[1..]
        .iter()
        .map(|(_, t)| t.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(all.contains("*Cats &amp; &lt;Dogs&gt;*"), "{all}");
    assert!(all.contains("image &lt;none&gt; &amp; tag &gt; 1"), "{all}");
    assert!(all.contains("Use &lt;none&gt; &amp; retry"), "{all}");
    assert!(
        all.contains("Tom &amp; Jerry &lt;tj@example.com&gt;"),
        "{all}"
    );
    assert!(
        all.contains("<https://example.com/g?a=1&amp;b=2|how to comply>"),
        "{all}"
    );
    // Nothing else is entity-encoded (no &#39; or &quot;).
    assert!(!all.contains("&#") && !all.contains("&quot;"), "{all}");
    assert!(m.text.contains("Cats &amp; &lt;Dogs&gt;"));
}

#[test]
fn block_kit_limits_are_respected() {
    let long_title = "T".repeat(400);
    let long_message = "x".repeat(5000);
    let m = render_one(&cluster(120, &long_message, &long_title));
    let v: Value = serde_json::to_value(&m.blocks).expect("json");
    let blocks = v.as_array().expect("array");
    assert_eq!(blocks.len(), MAX_BLOCKS);
    let header = blocks[0]["text"]["text"].as_str().expect("header");
    assert!(header.chars().count() <= MAX_HEADER);
    assert!(header.ends_with('…'));
    for b in blocks {
        if let Some(t) = b["text"]["text"].as_str() {
            assert!(
                t.chars().count() <= MAX_SECTION,
                "section of {} chars",
                t.chars().count()
            );
        }
    }
    let texts = texts(&m);
    let more = texts
        .iter()
        .find(|(_, t)| t.starts_with("…and "))
        .expect("a '…and N more' section");
    // 50 blocks: header, what changes, 45 namespaces, "…and 75 more", what to do, contact… and
    // the footer; every namespace is accounted for.
    let shown = texts.iter().filter(|(_, t)| t.starts_with("*ns-")).count();
    assert_eq!(more.1, format!("…and {} more namespaces", 120 - shown));
    assert_eq!(texts.last().map(|(k, _)| k.as_str()), Some("context"));
}

#[test]
fn a_users_template_directory_replaces_the_words() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut text =
        std::fs::read_to_string(common::root().join("templates/announce.hbs")).expect("builtin");
    text = text.replace("*What to do*", "*Your move*");
    std::fs::write(dir.path().join("announce.hbs"), &text).expect("write");
    let mut config = example_config();
    config.templates = Some(dir.path().to_path_buf());
    let planned = plan(
        std::slice::from_ref(&example_inventory()),
        &config,
        at("2026-12-01T08:00:00+01:00"),
    );
    let m = Renderer::for_config(&config)
        .expect("templates")
        .render(&planned.notices[0], &config)
        .expect("render");
    assert!(texts(&m).iter().any(|(_, t)| t.starts_with("*Your move*")));

    // A misspelt variable is an error naming the file and the part (strict mode).
    std::fs::write(
        dir.path().join("announce.hbs"),
        text.replace("{{what_to_do}}", "{{what_todo}}"),
    )
    .expect("write");
    let err = Renderer::for_config(&config)
        .expect("compiles")
        .render(&planned.notices[0], &config)
        .map(|_| ())
        .expect_err("strict mode");
    let msg = err.to_string();
    assert!(
        msg.contains("announce.hbs") && msg.contains("what_to_do"),
        "{msg}"
    );

    // A missing part is reported when the templates are loaded.
    std::fs::write(
        dir.path().join("announce.hbs"),
        "{{!-- section: header --}}\nhi\n",
    )
    .expect("write");
    let err = Renderer::for_config(&config)
        .map(|_| ())
        .expect_err("missing parts");
    assert!(err.to_string().contains("missing part"), "{err}");
}
