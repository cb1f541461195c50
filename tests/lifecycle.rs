//! A rollout lived through as users would: five weeks on a small cluster, one tick every
//! weekday at 09:00, with what each audience was told each day asserted.
//!
//! Two policies. `pinned-images` (Mon 14 Dec) is flipped on time, at 08:30 on its date; its
//! rule keeps `env: sandbox` namespaces in Audit by override. `run-as-nonroot` (Wed 16 Dec) is
//! forgotten, then postponed to Mon 11 Jan. Team web fixes its image and gets an exception for
//! the rest; team data does nothing. Slack is down on Fri 11 Dec.
//!
//! Each day's 09:00 tick is the real scheduler (`deliver::tick::Tick`, as `run` drives it: a
//! snapshot source rewritten each day, a file ledger, the flip memory between ticks) posting
//! to the fake Slack Web API (`tests/common/fake_slack.rs`). On the outage day Slack answers
//! every request with a 500: the posts stay pending, the next tick finds them absent from the
//! channels' history and sends them late or records them superseded, and tells the platform.

mod common;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use common::fake_slack::{FakeSlack, Fault};
use common::{at, config_from};
use forewarn::deliver::ledger::FileLedger;
use forewarn::deliver::slack::{Slack, SlackSettings, SlackToken};
use forewarn::deliver::tick::{Tick, TickOutcome};
use forewarn::inventory::snapshot::SnapshotSource;
use forewarn::plan::readiness::AuditModes;
use forewarn::render::Renderer;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use tokio::sync::Mutex;

const CONFIG: &str = "time-zone: UTC\nplatform: {channel: \"#platform\"}\nteams:\n  web: {name: Web, channel: \"#web\"}\n  data: {name: Data, channel: \"#data\"}\n";

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("day")
}

/// The same, as the YAML documents of a snapshot.
fn cluster_yaml(d: NaiveDate) -> String {
    // Flipped at 08:30 on its date: the 09:00 tick sees Enforce.
    let pinned_mode = if d >= day("2026-12-14") {
        "Enforce"
    } else {
        "Audit"
    };
    // Forgotten on its date, then postponed on Tue 22 Dec.
    let nonroot_date = if d >= day("2026-12-22") {
        "2027-01-11"
    } else {
        "2026-12-16"
    };
    let web_fixed_cart = d >= day("2026-12-09");
    let api_excepted = d >= day("2026-12-08");

    let mut docs = vec![
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, annotations: {forewarn.dev/owner: web}}".to_string(),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: lake, annotations: {forewarn.dev/owner: data}}".to_string(),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: sandbox, annotations: {forewarn.dev/owner: data}, labels: {env: sandbox}}".to_string(),
        format!(
            "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: pinned-images\n  annotations: {{forewarn.dev/enforce-on: '2026-12-14', policies.kyverno.io/title: Pinned images}}\nspec:\n  rules:\n  - name: tag\n    match: {{any: [{{resources: {{kinds: [Deployment]}}}}]}}\n    validate:\n      failureAction: {pinned_mode}\n      failureActionOverrides:\n      - action: Audit\n        namespaceSelector: {{matchLabels: {{env: sandbox}}}}\n      message: pin the image"
        ),
        format!(
            "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: run-as-nonroot\n  annotations: {{forewarn.dev/enforce-on: '{nonroot_date}', policies.kyverno.io/title: Run as non-root}}\nspec:\n  validationFailureAction: Audit\n  rules:\n  - name: nonroot\n    match: {{any: [{{resources: {{kinds: [Deployment]}}}}]}}\n    validate: {{message: run as non-root}}"
        ),
    ];
    let report = |ns: &str, name: &str, results: &[(&str, &str, &str)]| {
        let mut text = format!(
            "apiVersion: wgpolicyk8s.io/v1alpha2\nkind: PolicyReport\nmetadata: {{name: {name}, namespace: {ns}}}\nscope: {{kind: Deployment, name: {name}, namespace: {ns}}}\nresults:\n"
        );
        for (policy, rule, result) in results {
            let props = if *result == "skip" {
                ", properties: {exceptions: api-root}"
            } else {
                ""
            };
            text.push_str(&format!(
                "- {{policy: {policy}, rule: {rule}, result: {result}, source: kyverno, message: '{policy} {result}'{props}}}\n"
            ));
        }
        text
    };
    let cart = if web_fixed_cart { "pass" } else { "fail" };
    let api = if api_excepted { "skip" } else { "fail" };
    docs.push(report("shop", "cart", &[("pinned-images", "tag", cart)]));
    docs.push(report("shop", "api", &[("run-as-nonroot", "nonroot", api)]));
    docs.push(report(
        "lake",
        "etl",
        &[
            ("pinned-images", "tag", "fail"),
            ("run-as-nonroot", "nonroot", "fail"),
        ],
    ));
    docs.push(report(
        "sandbox",
        "notebook",
        &[("pinned-images", "tag", "fail")],
    ));
    if api_excepted {
        docs.push(
            "apiVersion: kyverno.io/v2\nkind: PolicyException\nmetadata:\n  name: api-root\n  namespace: shop\n  creationTimestamp: '2026-12-08T08:00:00Z'\n  annotations: {forewarn.dev/owner: web, forewarn.dev/reason: 'the vendor image needs root until January'}\n  labels: {cleanup.kyverno.io/ttl: '2026-12-31'}\nspec:\n  exceptions: [{policyName: run-as-nonroot, ruleNames: [nonroot]}]\n  match: {any: [{resources: {kinds: [Deployment], namespaces: [shop], names: [api]}}]}".to_string(),
        );
    }
    docs.join("\n---\n")
}

/// One message as it went out.
#[derive(Debug, Clone)]
struct Said {
    to: String,
    id: String,
    words: String,
}

/// The scheduler as `run` drives it — snapshot source, file ledger, the Slack edge — against
/// the fake Slack Web API, and what went out, day by day.
struct World {
    slack: FakeSlack,
    deliver: Arc<Slack>,
    dir: tempfile::TempDir,
    ledger: Arc<Mutex<FileLedger>>,
    /// Where each policy audited at the previous tick, as the daemon remembers it.
    modes: Mutex<Option<AuditModes>>,
    days: BTreeMap<NaiveDate, Vec<Said>>,
    outcomes: BTreeMap<NaiveDate, TickOutcome>,
}

impl World {
    fn new() -> Self {
        common::init_tls();
        let slack = FakeSlack::start(1);
        slack.add_channels(&["data", "web", "platform"]);
        let settings = SlackSettings {
            backoff_base: std::time::Duration::from_millis(1),
            request_timeout: Some(std::time::Duration::from_secs(5)),
            ..SlackSettings::default()
        }
        .with_api_url(slack.api_url());
        let deliver = Arc::new(Slack::new(SlackToken::new("xoxb-test"), settings).expect("client"));
        let dir = tempfile::tempdir().expect("dir");
        std::fs::create_dir(dir.path().join("cluster")).expect("mkdir");
        let ledger = Arc::new(Mutex::new(
            FileLedger::open(&dir.path().join("ledger.json")).expect("ledger"),
        ));
        Self {
            slack,
            deliver,
            dir,
            ledger,
            modes: Mutex::new(None),
            days: BTreeMap::new(),
            outcomes: BTreeMap::new(),
        }
    }

    /// The 09:00 tick of `d`; on an `outage` day Slack answers every request with a 500 (the
    /// posts are left pending, reconciled with the channel's history at the next tick).
    async fn tick(&mut self, d: NaiveDate, outage: bool) {
        let snapshot = self.dir.path().join("cluster");
        std::fs::write(snapshot.join("cluster.yaml"), cluster_yaml(d)).expect("write");
        let config = config_from(CONFIG);
        let renderer = Renderer::builtin().expect("templates");
        let source = SnapshotSource::new(snapshot);
        let stop = Arc::new(AtomicBool::new(false));
        self.slack.set_fault_kinds(&[Fault::ServerError], &[]);
        self.slack.set_fault_percent(if outage { 100 } else { 0 });
        let before = self.slack.posted().len();
        let tick = Tick {
            source: &source,
            config: &config,
            renderer: &renderer,
            deliver: &self.deliver,
            ledger: &self.ledger,
            stop: &stop,
            metrics: None,
            answers: None,
        };
        let now = at(&format!("{d}T09:00:00Z"));
        let outcome = tick.run_with(now, Some(&self.modes)).await.expect("tick");
        self.outcomes.insert(d, outcome);
        // A batched message (the heads-ups for one channel at one tick) tells each notice it
        // carries its words.
        for p in self.slack.posted().into_iter().skip(before) {
            for id in &p.notice_ids {
                self.days.entry(d).or_default().push(Said {
                    to: p.to.clone(),
                    id: id.clone(),
                    words: format!("{}\n{}", p.text, p.blocks),
                });
            }
        }
        // Channels are delivered concurrently: a stable order for the transcript.
        if let Some(said) = self.days.get_mut(&d) {
            said.sort_by(|a, b| (&a.to, &a.id).cmp(&(&b.to, &b.id)));
        }
    }

    /// Ids told to `to` on `d`.
    fn told(&self, d: &str, to: &str) -> Vec<&str> {
        let mut ids: Vec<&str> = self
            .days
            .get(&day(d))
            .into_iter()
            .flatten()
            .filter(|s| s.to == to)
            .map(|s| s.id.as_str())
            .collect();
        ids.sort();
        ids
    }

    /// The words of message `id`, which went out on `d`.
    fn words(&self, d: &str, id: &str) -> &str {
        self.days
            .get(&day(d))
            .into_iter()
            .flatten()
            .find(|s| s.id == id)
            .map(|s| s.words.as_str())
            .unwrap_or_else(|| panic!("{id} was not sent on {d}: {:?}", self.days.get(&day(d))))
    }
}

fn not_digests(ids: Vec<&str>) -> Vec<&str> {
    ids.into_iter()
        .filter(|i| !i.starts_with("digest/"))
        .collect()
}

#[test]
fn five_weeks_of_a_rollout_told_truthfully() {
    // The fake Slack runs on its own runtime: started (and dropped) outside this one.
    let mut world = World::new();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut d = day("2026-11-30");
    while d <= day("2027-01-01") {
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            runtime.block_on(world.tick(d, d == day("2026-12-11")));
        }
        d += Duration::days(1);
    }

    // FOREWARN_LIFECYCLE_DUMP=1 prints who heard what, day by day.
    if std::env::var_os("FOREWARN_LIFECYCLE_DUMP").is_some() {
        for (d, o) in &world.outcomes {
            eprintln!("{d} {o:?}");
        }
        for (d, said) in &world.days {
            for s in said {
                eprintln!("{d} {:<10} {}", s.to, s.id);
            }
        }
    }

    // The whole transcript: who heard what, each day (Fri 11 Dec, Slack down, is missing; the
    // notices due then are caught up, or superseded by the flip, on Mon 14 Dec).
    let transcript: Vec<(String, String, String)> = world
        .days
        .iter()
        .flat_map(|(d, said)| {
            said.iter()
                .map(move |s| (d.to_string(), s.to.clone(), s.id.clone()))
        })
        .collect();
    // Each day in (channel, notice) order: channels are delivered concurrently.
    let expected = [
        ("2026-11-30", "#data", "announce/pinned-images/data/T-14"),
        ("2026-11-30", "#data", "digest/data/2026-11-30"),
        ("2026-11-30", "#platform", "digest/platform/2026-11-30"),
        ("2026-11-30", "#web", "announce/pinned-images/web/T-14"),
        ("2026-11-30", "#web", "digest/web/2026-11-30"),
        ("2026-12-02", "#data", "announce/run-as-nonroot/data/T-14"),
        ("2026-12-02", "#web", "announce/run-as-nonroot/web/T-14"),
        ("2026-12-07", "#data", "announce/pinned-images/data/T-7"),
        ("2026-12-07", "#data", "digest/data/2026-12-07"),
        ("2026-12-07", "#platform", "digest/platform/2026-12-07"),
        ("2026-12-07", "#web", "announce/pinned-images/web/T-7"),
        ("2026-12-07", "#web", "digest/web/2026-12-07"),
        ("2026-12-08", "#web", "all-clear/run-as-nonroot/web"),
        ("2026-12-09", "#data", "announce/run-as-nonroot/data/T-7"),
        ("2026-12-09", "#web", "all-clear/pinned-images/web"),
        ("2026-12-14", "#data", "announce/run-as-nonroot/data/T-3"),
        ("2026-12-14", "#data", "digest/data/2026-12-14"),
        ("2026-12-14", "#data", "enforced/pinned-images/data"),
        ("2026-12-14", "#platform", "digest/platform/2026-12-14"),
        (
            "2026-12-14",
            "#platform",
            "failure/2026-12-14T09:00:00+00:00",
        ),
        ("2026-12-14", "#platform", "readiness/run-as-nonroot/T-3"),
        ("2026-12-15", "#data", "announce/run-as-nonroot/data/T-1"),
        ("2026-12-16", "#data", "announce/run-as-nonroot/data/T-0"),
        (
            "2026-12-17",
            "#platform",
            "overdue/run-as-nonroot/2026-12-16",
        ),
        ("2026-12-17", "#web", "reminder/shop/api-root/web/T-14"),
        ("2026-12-21", "#data", "digest/data/2026-12-21"),
        ("2026-12-21", "#platform", "digest/platform/2026-12-21"),
        (
            "2026-12-22",
            "#data",
            "postponed/run-as-nonroot/data/2027-01-11",
        ),
        ("2026-12-24", "#web", "reminder/shop/api-root/web/T-7"),
        (
            "2026-12-28",
            "#data",
            "announce/run-as-nonroot/data/2027-01-11/T-14",
        ),
        ("2026-12-28", "#data", "digest/data/2026-12-28"),
        ("2026-12-28", "#platform", "digest/platform/2026-12-28"),
        ("2026-12-30", "#web", "reminder/shop/api-root/web/T-1"),
    ];
    assert_eq!(
        transcript,
        expected
            .iter()
            .map(|(d, to, id)| (d.to_string(), to.to_string(), id.to_string()))
            .collect::<Vec<_>>()
    );

    // Mon 30 Nov, T-14 of pinned-images: web for cart, data for etl — not for the sandbox
    // notebook, which its override keeps in Audit after the flip.
    assert_eq!(
        not_digests(world.told("2026-11-30", "#web")),
        ["announce/pinned-images/web/T-14"]
    );
    assert_eq!(
        not_digests(world.told("2026-11-30", "#data")),
        ["announce/pinned-images/data/T-14"]
    );
    let t14 = world.words("2026-11-30", "announce/pinned-images/data/T-14");
    assert!(
        t14.contains("Pinned images will be enforced in 14 days"),
        "{t14}"
    );
    assert!(t14.contains("*lake* — 1 failing resource"), "{t14}");
    assert!(!t14.contains("notebook"), "{t14}");
    let platform = world.words("2026-11-30", "digest/platform/2026-11-30");
    assert!(
        platform.contains("stays in Audit by override: sandbox (1)"),
        "{platform}"
    );

    // Wed 2 Dec, T-14 of run-as-nonroot to both teams.
    assert_eq!(
        world.told("2026-12-02", "#web"),
        ["announce/run-as-nonroot/web/T-14"]
    );
    assert_eq!(
        world.told("2026-12-02", "#data"),
        ["announce/run-as-nonroot/data/T-14"]
    );

    // Tue 8 Dec: web's api gets an exception — web was warned, nothing of theirs would be
    // blocked any more: one "all clear".
    assert_eq!(
        world.told("2026-12-08", "#web"),
        ["all-clear/run-as-nonroot/web"]
    );
    let clear = world.words("2026-12-08", "all-clear/run-as-nonroot/web");
    assert!(clear.contains("All clear: Run as non-root"), "{clear}");
    assert!(clear.contains("(in 8 days). Thanks!"), "{clear}");
    // Wed 9 Dec: web fixed cart — all clear for pinned-images; data hears T-7 of run-as-nonroot,
    // web does not.
    assert_eq!(
        world.told("2026-12-09", "#web"),
        ["all-clear/pinned-images/web"]
    );
    assert_eq!(
        world.told("2026-12-09", "#data"),
        ["announce/run-as-nonroot/data/T-7"]
    );

    // Fri 11 Dec: Slack is down — nothing went out; the four notices due are left pending.
    assert!(!world.days.contains_key(&day("2026-12-11")));
    assert_eq!(world.outcomes[&day("2026-12-11")].pending.len(), 4);
    // Mon 14 Dec: found absent from the channels' history, they are sent late while still
    // due (run-as-nonroot's T-3 and readiness), or recorded superseded (pinned-images was
    // flipped: its T-1 and readiness are no longer due); the platform hears which, once.
    let monday = &world.outcomes[&day("2026-12-14")];
    assert_eq!(
        monday.late,
        [
            "announce/run-as-nonroot/data/T-3",
            "readiness/run-as-nonroot/T-3"
        ]
    );
    let superseded: Vec<&str> = monday
        .superseded
        .iter()
        .map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(
        superseded,
        [
            "announce/pinned-images/data/T-1",
            "readiness/pinned-images/T-3"
        ]
    );
    let missed = world.words("2026-12-14", "failure/2026-12-14T09:00:00+00:00");
    assert!(
        missed.contains("forewarn: 4 notices missed their day"),
        "{missed}"
    );
    assert!(
        missed.contains("`announce/run-as-nonroot/data/T-3` — late: due Fri 11 Dec 09:00, delivered at this tick"),
        "{missed}"
    );
    assert!(
        missed.contains("`announce/pinned-images/data/T-1` — superseded: due Fri 11 Dec 09:00, not delivered then; never sent: no longer due"),
        "{missed}"
    );

    // Mon 14 Dec: pinned-images was flipped at 08:30. data hears "enforced now" at the first
    // tick (for lake, not the sandbox), no "scheduled" heads-up; the run-as-nonroot T-3 missed
    // on Friday is caught up with today's words ("in 2 days").
    assert_eq!(
        not_digests(world.told("2026-12-14", "#data")),
        [
            "announce/run-as-nonroot/data/T-3",
            "enforced/pinned-images/data",
        ]
    );
    let enforced = world.words("2026-12-14", "enforced/pinned-images/data");
    assert!(
        enforced.contains("Now enforced: Pinned images"),
        "{enforced}"
    );
    assert!(
        enforced.contains("1 resource of yours still fails it"),
        "{enforced}"
    );
    assert!(enforced.contains("*lake*"), "{enforced}");
    assert!(!enforced.contains("notebook"), "{enforced}");
    let caught_up = world.words("2026-12-14", "announce/run-as-nonroot/data/T-3");
    assert!(
        caught_up.contains("Run as non-root will be enforced in 2 days"),
        "{caught_up}"
    );
    assert!(not_digests(world.told("2026-12-14", "#web")).is_empty());
    let platform = world.words("2026-12-14", "digest/platform/2026-12-14");
    assert!(
        platform.contains("Mon 14 Dec 2026 (today): enforced — 1 resource still fails it"),
        "{platform}"
    );
    assert!(
        !platform.contains("Mon 14 Dec 2026 (today): ready"),
        "{platform}"
    );
    let readiness = world.words("2026-12-14", "readiness/run-as-nonroot/T-3");
    assert!(
        readiness.contains("Not ready: Run as non-root is enforced in 2 days"),
        "{readiness}"
    );

    // Tue 15 Dec: T-1, "tomorrow".
    let t1 = world.words("2026-12-15", "announce/run-as-nonroot/data/T-1");
    assert!(t1.contains("will be enforced tomorrow"), "{t1}");

    // Wed 16 Dec: the flip is forgotten. data is told it is scheduled, not switched — never
    // "enforced".
    let t0 = world.words("2026-12-16", "announce/run-as-nonroot/data/T-0");
    assert!(
        t0.contains("Scheduled for today, not switched yet: Run as non-root"),
        "{t0}"
    );
    assert!(!t0.contains("Enforced today"), "{t0}");

    // Thu 17 Dec: the platform hears it is overdue; data hears nothing (still Audit). web's
    // exception reminder (TTL label, Thu 31 Dec) lists only what it covers.
    assert_eq!(
        world.told("2026-12-17", "#platform"),
        ["overdue/run-as-nonroot/2026-12-16"]
    );
    assert!(world.told("2026-12-17", "#data").is_empty());
    let reminder = world.words("2026-12-17", "reminder/shop/api-root/web/T-14");
    assert!(
        reminder.contains("`run-as-nonroot` in *shop*: 1 result — `Deployment/api`"),
        "{reminder}"
    );
    assert!(
        reminder.contains("The date comes from the label `cleanup.kyverno.io/ttl`"),
        "{reminder}"
    );

    // Mon 21 Dec: still overdue — the platform digest says so, and data's digest too.
    let platform = world.words("2026-12-21", "digest/platform/2026-12-21");
    assert!(
        platform.contains("*Run as non-root* (`run-as-nonroot`) — due Wed 16 Dec 2026"),
        "{platform}"
    );
    assert!(platform.contains("5 days late"), "{platform}");
    let data = world.words("2026-12-21", "digest/data/2026-12-21");
    assert!(
        data.contains("overdue: due *Wed 16 Dec 2026* (5 days ago) and still in Audit"),
        "{data}"
    );

    // Tue 22 Dec: the date moves to Mon 11 Jan. Those warned hear it once: data, which still
    // fails it; web had its all clear and is not affected.
    assert_eq!(
        world.told("2026-12-22", "#data"),
        ["postponed/run-as-nonroot/data/2027-01-11"]
    );
    assert!(world.told("2026-12-22", "#web").is_empty());
    let moved = world.words("2026-12-22", "postponed/run-as-nonroot/data/2027-01-11");
    assert!(
        moved.contains("will not move to Enforce on Wed 16 Dec 2026 as announced: the new date is *Mon 11 Jan 2027* (in 20 days)"),
        "{moved}"
    );
    assert!(world.told("2026-12-23", "#data").is_empty());

    // Mon 28 Dec: the new date's T-14 goes out (its own id), and the overdue is gone from the
    // platform digest.
    assert!(
        world
            .told("2026-12-28", "#data")
            .contains(&"announce/run-as-nonroot/data/2027-01-11/T-14"),
        "{:?}",
        world.told("2026-12-28", "#data")
    );
    let platform = world.words("2026-12-28", "digest/platform/2026-12-28");
    assert!(!platform.contains("Overdue"), "{platform}");

    // Throughout: nobody was told "enforced" about a policy in Audit, web never heard again
    // about what it fixed, and every message went out once.
    for (d, said) in &world.days {
        for s in said {
            assert!(!s.words.contains("Enforced today"), "{d}: {}", s.id);
            if *d > day("2026-12-09") && s.to == "#web" {
                assert!(
                    !s.id.starts_with("announce/"),
                    "{d}: web heard {} after its all clear",
                    s.id
                );
            }
        }
    }
    let all: Vec<&str> = world
        .days
        .values()
        .flatten()
        .map(|s| s.id.as_str())
        .collect();
    let unique: std::collections::BTreeSet<&str> = all.iter().copied().collect();
    assert_eq!(all.len(), unique.len());
}

/// The scheduler itself (`deliver::tick`, against a fake Slack) reads who was warned from its
/// ledger: heads-ups sent on Wed 2 Dec about Wed 16 Dec; the next day the date reads Mon 11
/// Jan, and data — still failing — hears it moved; web, excepted meanwhile, hears all clear.
#[tokio::test]
async fn the_scheduler_tells_a_moved_date_from_its_ledger() {
    use serde_json::{Value, json};
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    common::init_tls();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ok": true, "channel": "C1", "ts": "1796000000.000001",
            "message": {"type": "message", "text": "", "ts": "1796000000.000001"},
        })))
        .mount(&server)
        .await;
    let settings = SlackSettings {
        backoff_base: std::time::Duration::from_millis(1),
        request_timeout: None,
        ..SlackSettings::default()
    }
    .with_api_url(format!("{}/api", server.uri()));
    let slack = Arc::new(Slack::new(SlackToken::new("xoxb-test"), settings).expect("client"));

    let dir = tempfile::tempdir().expect("dir");
    let snapshot = dir.path().join("cluster");
    std::fs::create_dir(&snapshot).expect("mkdir");
    let ledger = Arc::new(Mutex::new(
        FileLedger::open(&dir.path().join("ledger.json")).expect("ledger"),
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let config = config_from(CONFIG);
    let renderer = Renderer::builtin().expect("templates");
    let source = SnapshotSource::new(snapshot.clone());
    let write = |text: String| std::fs::write(snapshot.join("cluster.yaml"), text).expect("write");
    let yaml = |d: &str| cluster_yaml(day(d));

    let tick = Tick {
        source: &source,
        config: &config,
        renderer: &renderer,
        deliver: &slack,
        ledger: &ledger,
        stop: &stop,
        metrics: None,
        answers: None,
    };
    write(yaml("2026-12-02"));
    tick.run(at("2026-12-02T09:00:00Z")).await.expect("tick");
    write(yaml("2026-12-22"));
    let second = tick.run(at("2026-12-03T09:00:00Z")).await.expect("tick");
    assert!(
        second
            .sent
            .contains(&"postponed/run-as-nonroot/data/2027-01-11".to_string()),
        "{:?}",
        second.sent
    );
    assert!(
        second
            .sent
            .contains(&"all-clear/run-as-nonroot/web".to_string()),
        "{:?}",
        second.sent
    );
    let bodies: Vec<Value> = server
        .received_requests()
        .await
        .expect("recording")
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("json"))
        .collect();
    let moved = bodies
        .iter()
        .find(|b| {
            common::notice_ids(b)
                .iter()
                .any(|i| i == "postponed/run-as-nonroot/data/2027-01-11")
        })
        .expect("posted");
    assert_eq!(moved["channel"], "#data");
    assert!(
        moved["text"]
            .as_str()
            .is_some_and(|t| t.contains("is now enforced on Mon 11 Jan 2027, not Wed 16 Dec 2026")),
        "{moved}"
    );
}
