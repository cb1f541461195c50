//! The audit review end to end: `forewarn run --once` ticks on several days against a fake
//! Slack while failures go away, then `forewarn review` shows each rollout's burn-down and
//! projected ready date, the digest says whether it is on track, and a flip made between two
//! separate runs is still followed up (the last seen modes are kept beside the ledger).

mod common;

use common::fake_slack::FakeSlack;
use common::root;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const CONFIG: &str = "time-zone: UTC\nschedule: \"0 0 9 * * *\"\nplatform: {channel: \"#platform-policy\"}\nteams:\n  web: {name: Web, channel: \"#storefront\"}\n  data: {name: Data, channel: \"#data-eng\"}\nreview: {owner: \"@maria (platform)\", due-days-before: 7, base-url: \"https://forewarn.example.com\"}\ndelivery: {request-timeout: 2s, tick-deadline: 20s, channel-pace: 10ms, retry-backoff: 50ms}\n";

/// A cluster where `pinned-images` (enforced Fri 18 Dec, in `mode`) fails `web` times in
/// namespace shop (team web) and `data` times in lake (team data).
fn cluster(dir: &Path, web: usize, data: usize, mode: &str, enforce_on: Option<&str>) {
    std::fs::create_dir_all(dir).expect("dir");
    let date = enforce_on
        .map(|d| format!("forewarn.dev/enforce-on: '{d}', "))
        .unwrap_or_default();
    let mut docs = vec![
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, annotations: {forewarn.dev/owner: web}}".to_string(),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: lake, annotations: {forewarn.dev/owner: data}}".to_string(),
        format!(
            "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: pinned-images\n  annotations: {{{date}policies.kyverno.io/title: Pinned images}}\nspec:\n  validationFailureAction: {mode}\n  rules:\n  - name: tag\n    match: {{any: [{{resources: {{kinds: [Deployment]}}}}]}}\n    validate: {{message: pin the image}}"
        ),
    ];
    for (ns, n) in [("shop", web), ("lake", data)] {
        for i in 0..n {
            docs.push(format!(
                "apiVersion: wgpolicyk8s.io/v1alpha2\nkind: PolicyReport\nmetadata: {{name: r{i}, namespace: {ns}}}\nscope: {{kind: Deployment, name: app-{i}, namespace: {ns}}}\nresults:\n- {{policy: pinned-images, rule: tag, result: fail, source: kyverno, message: 'image tag is not pinned'}}\n"
            ));
        }
    }
    std::fs::write(dir.join("cluster.yaml"), docs.join("\n---\n")).expect("write");
}

fn forewarn(slack: Option<&FakeSlack>, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_forewarn"));
    c.args(args)
        .current_dir(root())
        .env_remove("FOREWARN_LOG")
        .env_remove("SLACK_BOT_TOKEN_FILE");
    match slack {
        Some(s) => c
            .env("SLACK_BOT_TOKEN", "xoxb-fake")
            .env("SLACK_API_URL", s.api_url()),
        None => c.env_remove("SLACK_BOT_TOKEN"),
    };
    c.output().expect("run forewarn")
}

fn ok(o: &Output) -> String {
    let text = common::printed(o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    String::from_utf8_lossy(&o.stdout).to_string()
}

struct World {
    dir: tempfile::TempDir,
    slack: FakeSlack,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("forewarn.yaml"), CONFIG).expect("config");
        Self {
            dir,
            slack: FakeSlack::start(1),
        }
    }

    fn path(&self, rel: &str) -> String {
        self.dir.path().join(rel).display().to_string()
    }

    /// `run --once` at 09:00 on `day` on the cluster as it is then.
    fn tick(&self, day: &str, web: usize, data: usize, mode: &str, enforce_on: Option<&str>) {
        let snap = self.path(day);
        cluster(Path::new(&snap), web, data, mode, enforce_on);
        ok(&forewarn(
            Some(&self.slack),
            &[
                "run",
                "--once",
                "--snapshot",
                &format!("prod={snap}"),
                "--config",
                &self.path("forewarn.yaml"),
                "--state",
                &self.path("ledger.json"),
                "--now",
                &format!("{day}T09:00:00Z"),
            ],
        ));
    }

    fn review(&self, day: &str, output: &str, extra: &[&str]) -> String {
        let mut args: Vec<String> = vec![
            "review".into(),
            "--snapshot".into(),
            format!("prod={}", self.path(day)),
            "--config".into(),
            self.path("forewarn.yaml"),
            "--state".into(),
            self.path("ledger.json"),
            "--now".into(),
            format!("{day}T15:00:00Z"),
            "--output".into(),
            output.into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(&forewarn(None, &refs))
    }
}

/// Five ticks, Tue 1 to Mon 7 December: web fixes its images (8, 6, 4, 3, 2), data does
/// nothing (3 throughout).
fn falling() -> World {
    let w = World::new();
    for (day, web) in [
        ("2026-12-01", 8),
        ("2026-12-02", 6),
        ("2026-12-03", 4),
        ("2026-12-04", 3),
        ("2026-12-07", 2),
    ] {
        w.tick(day, web, 3, "Audit", Some("2026-12-18"));
    }
    w
}

#[test]
fn after_ticks_with_falling_counts_the_review_projects_each_rollout() {
    let w = falling();
    let json: Value =
        serde_json::from_str(&w.review("2026-12-07", "json", &[])).expect("review json");
    assert_eq!(json["owner"], "@maria (platform)");
    let p = &json["policies"][0];
    assert_eq!(p["policy"], "pinned-images");
    assert_eq!(p["enforce_date"], "2026-12-18");
    assert_eq!(p["review_due"], "2026-12-11");
    let failing: Vec<u64> = p["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| h["failing"].as_u64().expect("failing"))
        .collect();
    assert_eq!(failing, vec![11, 9, 7, 6, 5]);
    assert_eq!(p["history"][0]["date"], "2026-12-01");
    // About one a day fixed: five left, ready around 13 Dec, before the 18th.
    assert_eq!(p["status"], "on track", "{p:#}");
    assert_eq!(p["projected_ready"], "2026-12-13");
    let team = |key: &str| {
        p["teams"]
            .as_array()
            .expect("teams")
            .iter()
            .find(|t| t["team"] == key)
            .cloned()
            .expect("team row")
    };
    assert_eq!(team("web")["status"], "on track");
    assert_eq!(team("data")["status"], "no progress");
    assert_eq!(team("data")["projected_ready"], Value::Null);
    assert_eq!(
        team("data")["namespaces"][0]["messages"][0]["message"],
        "image tag is not pinned"
    );
    assert_eq!(p["readiness"]["would_block"], 5);

    // --team keeps that team's rows only.
    let json: Value = serde_json::from_str(&w.review("2026-12-07", "json", &["--team", "data"]))
        .expect("review json");
    let teams = json["policies"][0]["teams"].as_array().expect("teams");
    assert_eq!(teams.len(), 1);
    assert_eq!(teams[0]["team"], "data");

    let html = w.review("2026-12-07", "html", &[]);
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains(r#"data-policy="pinned-images""#), "{html}");
    assert!(html.contains(r#"<svg class="chart""#), "{html}");
    assert!(html.contains(r#"class="projection""#), "{html}");
    assert!(html.contains("Sun 13 Dec 2026"), "{html}");
    assert!(
        !html.contains("<script") && !html.contains("src="),
        "{html}"
    );

    let md = w.review("2026-12-07", "markdown", &[]);
    assert!(
        md.contains("| pinned-images | prod | Fri 18 Dec 2026 | Fri 11 Dec 2026 | 5 | on track | Sun 13 Dec 2026 |"),
        "{md}"
    );
    assert!(
        md.contains("11 → 5 failing in 6 days; at this rate ready by 13 Dec"),
        "{md}"
    );
}

#[test]
fn the_digest_says_whether_each_rollout_is_on_track() {
    let w = falling();
    // Monday 7 December is a digest day: the platform's digest words the trend.
    let posted = w.slack.posted();
    let digest = posted
        .iter()
        .find(|p| p.notice_id == "digest/platform/2026-12-07")
        .expect("platform digest posted");
    assert!(
        digest.blocks.contains(
            "Trend: 11 → 5 failing in 6 days; at this rate ready by 13 Dec, enforcement 18 Dec: *on track*"
        ),
        "{}",
        digest.blocks
    );
    assert!(
        digest
            .blocks
            .contains("<https://forewarn.example.com/review|the audit review>"),
        "{}",
        digest.blocks
    );
    let data = posted
        .iter()
        .find(|p| p.notice_id == "digest/data/2026-12-07")
        .expect("data digest posted");
    assert!(
        data.blocks.contains("3 → 3 failing in 6 days: no progress"),
        "{}",
        data.blocks
    );
}

#[test]
fn a_flip_made_while_forewarn_was_down_is_still_followed_up() {
    // No date: only the remembered modes can tell that it was flipped. Audit on Monday,
    // forewarn down on Tuesday, Enforce by Wednesday's run (a new process).
    let w = World::new();
    w.tick("2026-12-07", 2, 1, "Audit", None);
    assert!(
        std::fs::read_to_string(w.path("ledger.history.json"))
            .expect("history beside the ledger")
            .contains("\"modes\"")
    );
    w.tick("2026-12-09", 2, 1, "Enforce", None);
    let ids: Vec<String> = w.slack.posted().into_iter().map(|p| p.notice_id).collect();
    assert!(
        ids.contains(&"enforced/pinned-images/web".to_string())
            && ids.contains(&"enforced/pinned-images/data".to_string()),
        "{ids:?}"
    );
}

/// Runs headless chromium on `page` with `args`, in a profile of its own, logging its
/// network activity to `net`.
fn browse(browser: &Path, page: &Path, net: &Path, args: &[&str]) -> Output {
    let profile = page.with_file_name("chromium-profile");
    let mut c = Command::new(browser);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .arg(format!("--log-net-log={}", net.display()))
    .args(args)
    .arg(format!("file://{}", page.display()));
    c.output().expect("run chromium")
}

/// The URLs the page itself asked for (not the browser's own background traffic): requests
/// whose network isolation key is the page's `file://` site.
fn page_requests(net: &Path) -> Vec<String> {
    let log: Value =
        serde_json::from_str(&std::fs::read_to_string(net).expect("net log")).expect("json");
    let start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].clone();
    log["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == start)
        .filter(|e| {
            e["params"]["network_isolation_key"]
                .as_str()
                .is_some_and(|k| k.starts_with("file://"))
        })
        .filter_map(|e| e["params"]["url"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn the_html_review_opens_in_a_real_browser_without_the_network() {
    let Some(browser) = common::chromium() else {
        return;
    };
    let w = falling();
    let page = w.dir.path().join("review.html");
    std::fs::write(&page, w.review("2026-12-07", "html", &[])).expect("write page");

    let net = w.dir.path().join("net-dom.json");
    let o = browse(&browser, &page, &net, &["--dump-dom"]);
    let dom = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "{}", common::printed(&o));
    // The DOM as the browser built it: the rollout, each team, the chart and its projection.
    assert!(dom.contains(r#"data-policy="pinned-images""#), "{dom}");
    for team in [r#"data-team="web""#, r#"data-team="data""#] {
        assert!(dom.contains(team), "{team}: {dom}");
    }
    assert!(dom.contains("<svg class=\"chart\""), "{dom}");
    assert!(dom.contains("<polyline class=\"actual\""), "{dom}");
    assert!(dom.contains("<polyline class=\"projection\""), "{dom}");
    assert!(dom.contains("Sun 13 Dec 2026"), "{dom}");
    assert_eq!(page_requests(&net), Vec::<String>::new());

    let shot = w.dir.path().join("review.png");
    let net = w.dir.path().join("net-shot.json");
    let o = browse(
        &browser,
        &page,
        &net,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1100,1800",
            "--hide-scrollbars",
        ],
    );
    assert!(o.status.success(), "{}", common::printed(&o));
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
    assert_eq!(page_requests(&net), Vec::<String>::new());
}

#[test]
fn check_names_each_bad_review_setting() {
    let dir = tempfile::tempdir().expect("dir");
    let cfg = dir.path().join("forewarn.yaml");
    std::fs::write(
        &cfg,
        "platform: {channel: \"#p\"}\nreview: {trend-days: 1, base-url: \"forewarn.example.com/x\"}\n",
    )
    .expect("write");
    let o = common::forewarn_on(
        &root().join("examples/cluster"),
        &cfg,
        "2026-12-01",
        &["check"],
    );
    let out = common::printed(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("review.trend-days: 1: a trend needs at least 2 days"),
        "{out}"
    );
    assert!(
        out.contains("review.base-url: 'forewarn.example.com/x' is not an absolute http(s) URL"),
        "{out}"
    );
}

#[test]
fn the_readiness_notice_words_the_trend_and_links_to_the_review() {
    // Fixing too slowly: 7, 6, 5, 5 from Thu 10 to Tue 15 December, three days before the date.
    let w = World::new();
    for (day, web) in [
        ("2026-12-10", 4),
        ("2026-12-11", 3),
        ("2026-12-14", 2),
        ("2026-12-15", 2),
    ] {
        w.tick(day, web, 3, "Audit", Some("2026-12-18"));
    }
    let posted = w.slack.posted();
    let readiness = posted
        .iter()
        .find(|p| p.notice_id == "readiness/pinned-images/T-3")
        .expect("readiness posted");
    assert!(
        readiness.blocks.contains(
            "Trend: 7 → 5 failing in 5 days; at this rate ready by 29 Dec, enforcement 18 Dec: *at risk*"
        ),
        "{}",
        readiness.blocks
    );
    assert!(
        readiness
            .blocks
            .contains("<https://forewarn.example.com/review|the audit review>"),
        "{}",
        readiness.blocks
    );
}

/// The triage answers recorded from the buttons, and the teams asked that have not answered,
/// are part of the review: in the JSON, the Markdown and the HTML (escaped); a fix date after
/// the enforcement date is flagged. Answers that cannot be read are said to be unknown, never
/// shown as "nobody answered".
#[test]
fn the_review_lists_the_triage_answers_and_who_has_not_answered() {
    use forewarn::deliver::answers::AnswerStore;
    use forewarn::model::ids::{ClusterName, PolicyKind, PolicyRef, TeamKey};
    use forewarn::model::triage::{SlackUser, Triage, TriageAnswer, TriageKey};
    let w = World::new();
    w.tick("2026-12-07", 2, 3, "Audit", Some("2026-12-18"));
    let store = AnswerStore::beside_file_ledger(Path::new(&w.path("ledger.json")));
    let fix_by = chrono::NaiveDate::from_ymd_opt(2026, 12, 21).expect("date");
    let answer = TriageAnswer {
        key: TriageKey {
            cluster: ClusterName::parse("prod").expect("cluster"),
            policy: PolicyRef {
                kind: PolicyKind::ClusterPolicy,
                namespace: None,
                name: "pinned-images".into(),
                parent: None,
            },
            team: TeamKey::parse("web").expect("team"),
        },
        answer: Triage::FixBy(fix_by),
        user: SlackUser::parse("U0MARIA").expect("user"),
        user_name: Some("maria <ops>".into()),
        at: common::at("2026-12-07T10:30:00Z"),
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(store.record(&answer)).expect("recorded");

    let json: Value =
        serde_json::from_str(&w.review("2026-12-07", "json", &[])).expect("review json");
    assert_eq!(json["answers_read"], true);
    let triage = &json["policies"][0]["triage"];
    let web = &triage["answered"][0];
    assert_eq!(web["team"], "Web", "{triage:#}");
    assert_eq!(web["answer"], "fix-by");
    assert_eq!(web["date"], "2026-12-21");
    assert_eq!(web["fix_by"], "Mon 21 Dec 2026");
    assert_eq!(web["late"], true);
    assert_eq!(web["by"], "maria <ops>");
    assert_eq!(web["at"], "2026-12-07T10:30:00Z");
    assert_eq!(triage["late"], true);
    assert_eq!(triage["unanswered"], serde_json::json!(["Data"]));

    let md = w.review("2026-12-07", "markdown", &[]);
    assert!(
        md.contains("| Web | will fix by Mon 21 Dec 2026 — **after the enforcement date** | maria \\<ops\\> | Mon 7 Dec 2026 10:30 |"),
        "{md}"
    );
    assert!(md.contains("**No answer yet from:** Data"), "{md}");

    let html = w.review("2026-12-07", "html", &[]);
    assert!(
        html.contains(r#"<tr data-answer="fix-by"><td>Web</td><td>will fix by Mon 21 Dec 2026 — <strong class="late">after the enforcement date</strong></td><td>maria &lt;ops&gt;</td>"#),
        "{html}"
    );
    assert!(
        html.contains("<strong>No answer yet from:</strong> Data</p>"),
        "{html}"
    );

    // --team data: only that team's part of the triage.
    let json: Value = serde_json::from_str(&w.review("2026-12-07", "json", &["--team", "data"]))
        .expect("review json");
    let triage = &json["policies"][0]["triage"];
    assert_eq!(triage["answered"], serde_json::json!([]), "{triage:#}");
    assert_eq!(triage["unanswered"], serde_json::json!(["Data"]));

    // An answers file that cannot be read: a warning naming it, and the review says the
    // answers are unknown instead of listing every team as silent.
    let answers_file = w.path("ledger.answers.json");
    std::fs::write(&answers_file, "{not json").expect("corrupt");
    let out = forewarn(
        None,
        &[
            "review",
            "--snapshot",
            &format!("prod={}", w.path("2026-12-07")),
            "--config",
            &w.path("forewarn.yaml"),
            "--state",
            &w.path("ledger.json"),
            "--now",
            "2026-12-07T15:00:00Z",
        ],
    );
    let md = ok(&out);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&answers_file),
        "{}",
        common::printed(&out)
    );
    assert!(
        md.contains("The triage answers could not be read, so who has answered is not known here."),
        "{md}"
    );
    assert!(!md.contains("No answer yet"), "{md}");
    let json: Value =
        serde_json::from_str(&w.review("2026-12-07", "json", &[])).expect("review json");
    assert_eq!(json["answers_read"], false);
    assert_eq!(json["policies"][0]["triage"], Value::Null);
}
