//! Messages people act on, end to end: the real binary (`forewarn run --once`) against the fake
//! Slack Web API on a cluster written here — one post per destination per tick (the heads-ups
//! for a channel in one message, soonest first, every notice id in its metadata, sent once),
//! countdowns true at the moment of sending (a catch-up), contacts that ping (emails through
//! `users.lookupByEmail`, only Slack's exact mention grammar passed through), direct messages
//! opened with `users` as a comma-separated string, grouped failures without Kyverno's tail,
//! and what to do next. `render --output json` keeps every payload within Block Kit's limits.

mod common;

use common::fake_slack::FakeSlack;
use common::{printed, root};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

/// Thursday 3 December 2026, 09:00 in Berlin: the tick after an outage. p-a's T-7 (Mon 30
/// Nov, about Mon 7 Dec) and p-b's T-14 (Mon 30 Nov) were missed; p-c's T-14 is today.
const THURSDAY: &str = "2026-12-03T09:00:00+01:00";

const CONFIG: &str = r##"
time-zone: Europe/Berlin
platform:
  channel: "#platform-policy"
  contact: "<!subteam^S0PLATFORM|@platform> (not <!here>, not <!channel>)"
exceptions:
  request-url: "https://tickets.example.com/new?type=exception&team=any"
teams:
  shop:
    name: Shop
    channel: "#storefront"
    contact: "lena@example.com"
    members: [lena@example.com, tom@example.com]
    mention-members: true
  ops:
    name: Ops
    contact: "sam@example.com or <@U0SAM>"
    members: [sam@example.com, kim@example.com]
"##;

fn policy(name: &str, date: &str) -> String {
    format!(
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: {name}\n  annotations:\n    policies.kyverno.io/title: 'Policy {name}'\n    forewarn.dev/enforce-on: '{date}'\nspec:\n  validationFailureAction: Audit\n  rules:\n  - name: r\n    validate: {{message: m}}\n"
    )
}

fn namespace(name: &str, owner: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  annotations: {{forewarn.dev/owner: {owner}}}\n"
    )
}

/// One report per resource, failing `policies` with Kyverno's own message format.
fn report(ns: &str, kind: &str, name: &str, policies: &[&str]) -> String {
    let results: String = policies
        .iter()
        .map(|p| {
            format!(
                "- policy: {p}\n  rule: autogen-r\n  result: fail\n  message: 'validation error: Containers must not run as root. rule autogen-r failed at path /spec/template/spec/securityContext/runAsNonRoot/'\n"
            )
        })
        .collect();
    format!(
        "apiVersion: wgpolicyk8s.io/v1alpha2\nkind: PolicyReport\nmetadata: {{name: {name}, namespace: {ns}}}\nscope: {{kind: {kind}, name: {name}, namespace: {ns}}}\nresults:\n{results}"
    )
}

fn write_cluster(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let snap = dir.join("cluster");
    std::fs::create_dir_all(&snap).expect("mkdir");
    let docs = [
        policy("p-a", "2026-12-07"),
        policy("p-b", "2026-12-14"),
        policy("p-c", "2026-12-17"),
        namespace("shop-web", "shop"),
        namespace("ops-tools", "ops"),
        report("shop-web", "Deployment", "web", &["p-a", "p-b", "p-c"]),
        report("shop-web", "Deployment", "api", &["p-a", "p-b", "p-c"]),
        report("ops-tools", "Deployment", "runner", &["p-a"]),
    ];
    std::fs::write(snap.join("cluster.yaml"), docs.join("---\n")).expect("write");
    let cfg = dir.join("forewarn.yaml");
    std::fs::write(&cfg, CONFIG).expect("write config");
    (snap, cfg)
}

fn run_once(slack: &FakeSlack, snap: &Path, cfg: &Path, state: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_forewarn"))
        .args(["run", "--once", "--now", THURSDAY])
        .arg("--snapshot")
        .arg(snap)
        .arg("--config")
        .arg(cfg)
        .arg("--state")
        .arg(state)
        .current_dir(root())
        .env("SLACK_BOT_TOKEN", "xoxb-fake")
        .env_remove("SLACK_BOT_TOKEN_FILE")
        .env("SLACK_API_URL", slack.api_url())
        .env("FOREWARN_LOG", "warn")
        .output()
        .expect("run forewarn")
}

#[test]
fn one_post_per_channel_true_countdowns_and_contacts_that_ping() {
    common::init_tls();
    let dir = tempfile::tempdir().expect("dir");
    let (snap, cfg) = write_cluster(dir.path());
    let state = dir.path().join("ledger.json");
    let slack = FakeSlack::start(1);

    let out = run_once(&slack, &snap, &cfg, &state);
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));

    // #storefront: the three heads-ups in one message, soonest enforcement first (the weekly
    // digest, caught up too, apart).
    let posted = slack.posted();
    let heads_ups = |p: &&common::fake_slack::Posted| p.notice_id.starts_with("announce/");
    let shop: Vec<_> = posted
        .iter()
        .filter(|p| p.channel == "CSTOREFRONT")
        .filter(heads_ups)
        .collect();
    assert_eq!(shop.len(), 1, "{posted:#?}");
    let shop = shop[0];
    assert_eq!(
        shop.notice_ids,
        [
            "announce/p-a/shop/T-7",
            "announce/p-b/shop/T-14",
            "announce/p-c/shop/T-14"
        ]
    );
    let blocks: Value = serde_json::from_str(&shop.blocks).expect("blocks");
    let headers: Vec<&str> = blocks
        .as_array()
        .expect("array")
        .iter()
        .filter(|b| b["type"] == "header")
        .filter_map(|b| b["text"]["text"].as_str())
        .collect();
    // The catch-up of Mon 30 Nov speaks for Thursday: 4 days before Mon 7 Dec, not 7.
    assert_eq!(
        headers,
        [
            "Policy p-a will be enforced in 4 days",
            "Policy p-b will be enforced in 11 days",
            "Policy p-c will be enforced in 14 days"
        ]
    );
    let words = &shop.blocks;
    // The date is always shown beside the countdown.
    assert!(words.contains("*Mon 7 Dec 2026* (in 4 days)"), "{words}");
    // Contacts ping: the user group passes (its exact grammar), @here and @channel never do;
    // the team's members (mention-members) are mentioned through users.lookupByEmail.
    assert!(words.contains("<!subteam^S0PLATFORM|@platform>"), "{words}");
    assert!(
        words.contains("&lt;!here&gt;") && !words.contains("<!here>"),
        "{words}"
    );
    assert!(!words.contains("<!channel>"), "{words}");
    assert!(
        words.contains("cc <@ULENAEXAMPLECOM>, <@UTOMEXAMPLECOM>"),
        "{words}"
    );
    // Sent to the team's own channel: not told to contact itself.
    assert!(!words.contains("your team"), "{words}");
    // Identical failures grouped, Kyverno's tail left to /policy why.
    assert!(
        words.contains(
            "2 resources: `Deployment/web`, `Deployment/api` — Containers must not run as root."
        ),
        "{words}"
    );
    assert!(!words.contains("failed at path"), "{words}");
    // What next: the exception request link, and who is rejected.
    assert!(
        words.contains(
            "<https://tickets.example.com/new?type=exception&amp;team=any|Request an exception>"
        ),
        "{words}"
    );
    assert!(words.contains("Only new or re-created workloads are rejected"));

    // ops has no channel: one direct message to its members, opened with `users` as Slack
    // documents it (a comma-separated string); it names the team's contact, as a mention.
    // (Its heads-up and its digest: two messages, each to the same conversation.)
    let opened = slack.opened();
    assert!(!opened.is_empty());
    assert!(
        opened
            .iter()
            .all(|users| *users == json!("UKIMEXAMPLECOM,USAMEXAMPLECOM")),
        "{opened:?}"
    );
    let dm: Vec<_> = posted
        .iter()
        .filter(|p| p.channel.contains("KIMEXAMPLECOMUSAMEXAMPLECOM"))
        .filter(heads_ups)
        .collect();
    assert_eq!(dm.len(), 1, "{posted:#?}");
    assert_eq!(dm[0].notice_ids, ["announce/p-a/ops/T-7"]);
    assert!(
        dm[0]
            .blocks
            .contains("your team: <@USAMEXAMPLECOM> or <@U0SAM>"),
        "{}",
        dm[0].blocks
    );
    // Each address was looked up once (cached across the tick).
    assert_eq!(slack.calls("users.lookupByEmail"), 4);

    // Exactly once: a second run posts nothing, and each notice was carried by one message.
    let again = run_once(&slack, &snap, &cfg, &state);
    assert_eq!(again.status.code(), Some(0), "{}", printed(&again));
    assert_eq!(slack.posted().len(), posted.len());
    assert!(
        slack.counts().values().all(|n| *n == 1),
        "{:?}",
        slack.counts()
    );
}

/// Checks one `chat.postMessage` payload against Block Kit's limits (python-slack-sdk
/// `slack_sdk/models/blocks/blocks.py`; docs.slack.dev: 50 blocks per message).
fn within_limits(payload: &Value) -> Result<(), String> {
    let blocks = payload["blocks"].as_array().ok_or("no blocks")?;
    if blocks.len() > 50 {
        return Err(format!("{} blocks", blocks.len()));
    }
    for b in blocks {
        let chars = |v: &Value| v.as_str().map_or(0, |t| t.chars().count());
        match b["type"].as_str() {
            Some("header") if chars(&b["text"]["text"]) > 150 => {
                return Err(format!("header of {}", chars(&b["text"]["text"])));
            }
            Some("section") if chars(&b["text"]["text"]) > 3000 => {
                return Err(format!("section of {}", chars(&b["text"]["text"])));
            }
            Some("context") => {
                let elements = b["elements"].as_array().ok_or("context")?;
                if elements.len() > 10 || elements.iter().any(|e| chars(&e["text"]) > 3000) {
                    return Err("context too large".into());
                }
            }
            _ => {}
        }
    }
    let ids = payload["metadata"]["event_payload"]["notice_ids"]
        .as_str()
        .ok_or("no notice_ids")?;
    if ids.is_empty() {
        return Err("empty notice_ids".into());
    }
    Ok(())
}

/// `render --output json` of `snap`: the payloads.
fn render_json(snap: &Path, cfg: &Path, now: &str) -> Vec<Value> {
    let out = common::forewarn_on(snap, cfg, now, &["render", "--output", "json"]);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        printed(&out)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn every_rendered_payload_stays_within_block_kit_limits() {
    // The bundled example.
    let payloads = render_json(
        &root().join("examples/cluster"),
        &root().join("config/forewarn.yaml"),
        "2026-12-01T08:00:00+01:00",
    );
    assert!(!payloads.is_empty());
    for p in &payloads {
        within_limits(p).unwrap_or_else(|e| panic!("{e}: {p}"));
    }

    // A team failing 8 policies in 30 namespaces each, with long messages: its heads-ups of
    // one day do not fit one message, so they are split — each policy whole in one message,
    // every notice carried exactly once.
    let dir = tempfile::tempdir().expect("dir");
    let snap = dir.path().join("big");
    std::fs::create_dir_all(&snap).expect("mkdir");
    let names: Vec<String> = (0..8).map(|i| format!("p-{i}")).collect();
    let mut docs: Vec<String> = names.iter().map(|p| policy(p, "2026-12-17")).collect();
    let long = "x".repeat(200);
    for n in 0..30 {
        let ns = format!("shop-{n:02}");
        docs.push(namespace(&ns, "shop"));
        for r in 0..3 {
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            docs.push(
                report(&ns, "Deployment", &format!("app-{r}"), &refs)
                    .replace("Containers must not run as root.", &format!("{long} {r}.")),
            );
        }
    }
    std::fs::write(snap.join("cluster.yaml"), docs.join("---\n")).expect("write");
    let cfg = dir.path().join("forewarn.yaml");
    std::fs::write(&cfg, CONFIG).expect("config");
    let payloads = render_json(&snap, &cfg, THURSDAY);
    for p in &payloads {
        within_limits(p).unwrap_or_else(|e| panic!("{e}: {p}"));
    }
    let today: Vec<&Value> = payloads
        .iter()
        .filter(|p| p["channel"] == "#storefront")
        .filter(|p| {
            common::notice_ids(p)
                .first()
                .is_some_and(|id| id.ends_with("/T-14"))
        })
        .collect();
    assert!(today.len() > 1, "split across messages: {}", today.len());
    let mut carried: Vec<String> = today.iter().flat_map(|p| common::notice_ids(p)).collect();
    carried.sort();
    let mut expected: Vec<String> = names
        .iter()
        .map(|p| format!("announce/{p}/shop/T-14"))
        .collect();
    expected.sort();
    assert_eq!(carried, expected);
}

/// `teams.<key>.mute` and `teams.<key>.min-severity`: the team hears no heads-ups about those
/// policies, its digest still lists them, and the platform (never muted) still hears about its
/// own namespaces.
#[test]
fn a_team_can_mute_policies_and_set_a_minimum_severity() {
    use forewarn::plan::{NoticeKind, Payload, plan};
    let config = common::config_from(&CONFIG.replace(
        "    mention-members: true\n",
        "    mention-members: true\n    mute: [p-b]\n    min-severity: high\n",
    ));
    let with_severity = |name: &str, date: &str, severity: &str| {
        policy(name, date).replace(
            "    forewarn.dev/enforce-on",
            &format!("    policies.kyverno.io/severity: {severity}\n    forewarn.dev/enforce-on"),
        )
    };
    let docs = [
        with_severity("p-a", "2026-12-07", "high"),
        with_severity("p-b", "2026-12-14", "critical"),
        with_severity("p-c", "2026-12-17", "low"),
        namespace("shop-web", "shop"),
        namespace("ops-tools", "ops"),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: nobody}\n".to_string(),
        report("shop-web", "Deployment", "web", &["p-a", "p-b", "p-c"]),
        report("ops-tools", "Deployment", "runner", &["p-b", "p-c"]),
        report("nobody", "Deployment", "stray", &["p-b"]),
    ];
    let inv = common::inventory_from(&[("c.yaml", &docs.join("---\n"))]);
    assert!(inv.problems.is_empty(), "{:?}", inv.problems);
    let planned = plan(std::slice::from_ref(&inv), &config, common::at(THURSDAY));
    let heads_ups = |audience: &str| -> std::collections::BTreeSet<String> {
        planned
            .notices
            .iter()
            .filter(|n| n.kind == NoticeKind::Announce && n.audience == audience)
            .map(|n| n.policy.clone())
            .collect()
    };
    // shop: p-b muted, p-c below high.
    assert_eq!(heads_ups("shop"), ["p-a".to_string()].into());
    // ops has no preferences.
    assert_eq!(
        heads_ups("ops"),
        ["p-b".to_string(), "p-c".to_string()].into()
    );
    // The platform is never muted.
    assert_eq!(heads_ups("platform"), ["p-b".to_string()].into());
    // shop's digest still lists what it muted.
    let digest = planned
        .notices
        .iter()
        .find(|n| n.kind == NoticeKind::Digest && n.audience == "shop")
        .expect("shop digest");
    let Payload::Digest(view) = &digest.payload else {
        panic!("a digest");
    };
    let listed = serde_json::to_string(view).expect("json");
    assert!(
        listed.contains("\"p-b\"") && listed.contains("\"p-c\""),
        "{listed}"
    );
}

/// A long policy description is quoted in part: what to do, whom to contact and the guide
/// link always follow it, whole.
#[test]
fn a_long_description_never_pushes_out_what_to_do() {
    use forewarn::render::{RenderContext, Renderer};
    let config = common::config_from(CONFIG);
    let description = "Why this matters, at length. ".repeat(300);
    let doc = policy("p-a", "2026-12-07").replace(
        "    forewarn.dev/enforce-on",
        &format!(
            "    policies.kyverno.io/description: '{description}'\n    forewarn.dev/guidance: https://wiki.example.com/p-a\n    forewarn.dev/enforce-on"
        ),
    );
    let docs = [
        doc,
        namespace("shop-web", "shop"),
        report("shop-web", "Deployment", "web", &["p-a"]),
    ];
    let inv = common::inventory_from(&[("c.yaml", &docs.join("---\n"))]);
    let planned = forewarn::plan::plan(std::slice::from_ref(&inv), &config, common::at(THURSDAY));
    let due = planned.due_at(planned.now);
    let (batches, errors) = Renderer::builtin().expect("templates").render_batches(
        &due,
        &config,
        &RenderContext::at(planned.now),
        true,
    );
    assert!(errors.is_empty());
    let shop = batches
        .iter()
        .find(|b| b.notices.iter().any(|n| n.audience == "shop"))
        .expect("shop's message");
    let text = forewarn::render::to_text(&shop.message);
    let quoted = text
        .lines()
        .find(|l| l.starts_with("> Why this matters"))
        .expect("quoted");
    assert!(
        quoted.ends_with('…') && quoted.chars().count() < 420,
        "{quoted}"
    );
    assert!(text.contains("*What to do*"), "{text}");
    assert!(
        text.contains("<https://wiki.example.com/p-a|how to comply>"),
        "{text}"
    );
    assert!(text.contains("*Who to contact*"), "{text}");
}
