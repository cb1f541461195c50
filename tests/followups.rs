//! Exception reminders, the audit digest, readiness and overdue notices, the now-enforced
//! follow-up, and `forewarn gate` — on the example cluster and on small clusters written here.

mod common;

use common::{at, config_from, example_config, example_inventory, inventory_from, root};
use forewarn::plan::{Notice, NoticeKind, plan};
use forewarn::render::Renderer;
use std::process::Command;

fn of_kind(notices: &[Notice], kind: NoticeKind) -> Vec<&Notice> {
    notices.iter().filter(|n| n.kind == kind).collect()
}

fn text(n: &Notice) -> String {
    let config = example_config();
    let m = Renderer::for_config(&config)
        .expect("templates")
        .render(n, &config)
        .expect("render");
    serde_json::to_string(&m.blocks).expect("json")
}

#[test]
fn exception_reminders_at_each_milestone_then_weekly_while_overdue() {
    let planned = plan(
        std::slice::from_ref(&example_inventory()),
        &example_config(),
        at("2026-11-20T08:00:00+01:00"),
    );
    let reminders: Vec<(String, String)> = of_kind(&planned.notices, NoticeKind::Reminder)
        .into_iter()
        .filter(|n| n.policy == "data-warehouse/clickhouse-sizing-trial")
        .map(|n| (n.milestone.clone(), n.send_at.to_rfc3339()))
        .collect();
    // Review date Tue 15 Dec 2026: T-14 Tue 1 Dec, T-7 Tue 8 Dec, T-1 Mon 14 Dec; to the data team.
    assert_eq!(
        reminders,
        vec![
            ("T-14".to_string(), "2026-12-01T09:00:00+01:00".to_string()),
            ("T-7".to_string(), "2026-12-08T09:00:00+01:00".to_string()),
            ("T-1".to_string(), "2026-12-14T09:00:00+01:00".to_string()),
        ]
    );
    let t7 = planned
        .notices
        .iter()
        .find(|n| n.id == "reminder/data-warehouse/clickhouse-sizing-trial/data/T-7")
        .expect("T-7");
    assert_eq!(t7.destination, "#data-eng");
    let words = text(t7);
    assert!(
        words.contains("is due for review on *Tue 15 Dec 2026*"),
        "{words}"
    );
    assert!(words.contains("`require-requests-limits`"), "{words}");
    assert!(words.contains("in *data-warehouse*: 1 result"), "{words}");
    assert!(
        words.contains(
            "*To extend it*, set a later date in the annotation `forewarn.dev/review-by`"
        ),
        "{words}"
    );
    assert!(
        words.contains("The date comes from the annotation `forewarn.dev/review-by`"),
        "{words}"
    );

    // Overdue: every 7 days after the date, while the exception is still there.
    let planned = plan(
        std::slice::from_ref(&example_inventory()),
        &example_config(),
        at("2026-12-30T08:00:00+01:00"),
    );
    let overdue: Vec<String> = of_kind(&planned.notices, NoticeKind::Reminder)
        .into_iter()
        .filter(|n| n.policy == "data-warehouse/clickhouse-sizing-trial")
        .map(|n| n.id.to_string())
        .collect();
    assert!(
        overdue.contains(
            &"reminder/data-warehouse/clickhouse-sizing-trial/data/overdue-2026-12-29".to_string()
        ),
        "{overdue:?}"
    );
    assert!(
        overdue.contains(
            &"reminder/data-warehouse/clickhouse-sizing-trial/data/overdue-2027-01-05".to_string()
        ),
        "{overdue:?}"
    );
    let n = planned
        .notices
        .iter()
        .find(|n| n.id.to_string().ends_with("overdue-2026-12-29"))
        .expect("overdue");
    assert!(
        text(n).contains("was due for review on *Tue 15 Dec 2026* and is still in place"),
        "{}",
        text(n)
    );
}

#[test]
fn the_digest_per_team_and_for_the_platform() {
    let planned = plan(
        std::slice::from_ref(&example_inventory()),
        &example_config(),
        at("2026-12-01T08:00:00+01:00"),
    );
    let digests = of_kind(&planned.notices, NoticeKind::Digest);
    let ids: Vec<String> = digests.iter().map(|n| n.id.to_string()).collect();
    // Monday 30 Nov (the latest, for catching up) and Monday 7 Dec (the next).
    for audience in [
        "data",
        "payments",
        "storefront",
        "#search-oncall",
        "platform",
    ] {
        assert!(
            ids.contains(&format!("digest/{audience}/2026-11-30")),
            "{ids:?}"
        );
        assert!(
            ids.contains(&format!("digest/{audience}/2026-12-07")),
            "{ids:?}"
        );
    }
    let payments = digests
        .iter()
        .find(|n| n.id == "digest/payments/2026-12-07")
        .expect("payments");
    let words = text(payments);
    assert!(
        words.contains("Policy audit digest for Payments — Mon 7 Dec 2026"),
        "{words}"
    );
    assert!(
        words.contains(
            "*Require runAsNonRoot* (`require-run-as-nonroot`, Audit) — 3 failing resources"
        ),
        "{words}"
    );
    assert!(
        words.contains("payments-api (2), payments-worker (1)"),
        "{words}"
    );
    assert!(
        words.contains("enforced from *Mon 14 Dec 2026* (in 7 days)"),
        "{words}"
    );
    assert!(
        words.contains("`disallow-latest-tag`, Enforce"),
        "already enforced there: {words}"
    );

    let platform = digests
        .iter()
        .find(|n| n.id == "digest/platform/2026-12-07")
        .expect("platform");
    let words = text(platform);
    assert!(
        words.contains("`require-run-as-nonroot`: 8 in 7 namespaces"),
        "{words}"
    );
    assert!(
        words.contains("*Unowned namespaces:* `legacy-batch`"),
        "{words}"
    );
    assert!(
        words.contains("`kyverno/hotfix-latest-tag` — no owner"),
        "{words}"
    );
    assert!(words.contains("*Require runAsNonRoot* (`require-run-as-nonroot`) — Mon 14 Dec 2026 (in 7 days): *not ready*: 8 resources would be blocked"), "{words}");
    // Excepted failures are shown as covered: the data team's clickhouse is excepted.
    let data = digests
        .iter()
        .find(|n| n.id == "digest/data/2026-12-07")
        .expect("data");
    assert!(
        text(data).contains("1 covered by exceptions"),
        "{}",
        text(data)
    );
}

#[test]
fn readiness_before_the_flip_and_overdue_after() {
    let planned = plan(
        std::slice::from_ref(&example_inventory()),
        &example_config(),
        at("2026-12-01T08:00:00+01:00"),
    );
    let r = planned
        .notices
        .iter()
        .find(|n| n.id == "readiness/require-run-as-nonroot/T-3")
        .expect("readiness at T-3");
    assert_eq!(r.destination, "#platform-policy");
    assert_eq!(r.send_at.to_rfc3339(), "2026-12-11T09:00:00+01:00");
    let words = text(r);
    assert!(
        words.contains("Not ready: Require runAsNonRoot is enforced in 3 days"),
        "{words}"
    );
    assert!(
        words.contains("*payments-api* (payments) — 2: `Deployment/checkout-api`"),
        "{words}"
    );
    assert!(
        words.contains("forewarn gate require-run-as-nonroot"),
        "{words}"
    );

    let planned = plan(
        std::slice::from_ref(&example_inventory()),
        &example_config(),
        at("2026-12-16T08:00:00+01:00"),
    );
    let o = planned
        .notices
        .iter()
        .find(|n| n.id == "overdue/require-run-as-nonroot/2026-12-14")
        .expect("overdue");
    assert_eq!(o.send_at.to_rfc3339(), "2026-12-15T09:00:00+01:00");
    assert!(
        text(o).contains(
            "was due to be enforced on *Mon 14 Dec 2026* (2 days ago) and is still in Audit"
        ),
        "{}",
        text(o)
    );
}

const CONFIG: &str = "time-zone: UTC\nplatform: {channel: \"#platform\"}\nteams:\n  web: {channel: \"#web\", contact: \"@ana\"}\n";

fn flipped(mode: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: shop, annotations: {{forewarn.dev/owner: web}}}}\n---\n\
apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: pinned-images\n  annotations: {{forewarn.dev/enforce-on: '2026-12-07', forewarn.dev/what-to-do: 'Pin the tag.'}}\nspec:\n  validationFailureAction: {mode}\n  rules:\n  - name: r\n    validate: {{message: m}}\n---\n\
apiVersion: wgpolicyk8s.io/v1alpha2\nkind: PolicyReport\nmetadata: {{name: a, namespace: shop}}\nscope: {{kind: Deployment, name: cart, namespace: shop}}\nresults:\n- {{policy: pinned-images, rule: r, result: fail, message: 'uses :latest'}}\n"
    )
}

#[tokio::test]
async fn a_flipped_policy_tells_the_teams_once() {
    let config = config_from(CONFIG);
    let now = at("2026-12-08T10:00:00Z");
    // Flipped to Enforce on its date: the team still failing it hears it is now enforced.
    let inv = inventory_from(&[("c.yaml", &flipped("Enforce"))]);
    let planned = plan(std::slice::from_ref(&inv), &config, now);
    let enforced = of_kind(&planned.notices, NoticeKind::Enforced);
    assert_eq!(enforced.len(), 1);
    let n = enforced[0];
    assert_eq!(
        (
            n.id.to_string().as_str(),
            n.destination.to_string().as_str()
        ),
        ("enforced/pinned-images/web", "#web")
    );
    assert_eq!(n.send_at.to_rfc3339(), "2026-12-07T09:00:00+00:00");
    let m = Renderer::builtin()
        .expect("templates")
        .render(n, &config)
        .expect("render");
    let words = serde_json::to_string(&m.blocks).expect("json");
    assert!(words.contains("Now enforced: pinned-images"), "{words}");
    assert!(words.contains("`Deployment/cart`: uses :latest"), "{words}");
    assert!(words.contains("Pin the tag."), "{words}");
    assert!(of_kind(&planned.notices, NoticeKind::Overdue).is_empty());

    // Once in the ledger, it is not due again (later ticks, restarts).
    let dir = tempfile::tempdir().expect("dir");
    let mut ledger =
        forewarn::deliver::ledger::FileLedger::open(&dir.path().join("l.json")).expect("ledger");
    let due: Vec<String> = forewarn::deliver::tick::due(&planned, &ledger)
        .iter()
        .map(|n| n.id.to_string())
        .collect();
    assert!(
        due.contains(&"enforced/pinned-images/web".to_string()),
        "{due:?}"
    );
    use forewarn::deliver::ledger::Ledger;
    ledger
        .put(forewarn::deliver::ledger::Entry {
            id: "enforced/pinned-images/web".into(),
            state: forewarn::deliver::ledger::State::Sent,
            destination: "#web".into(),
            channel: None,
            ts: None,
            error: None,
            at: now,
            enforce_at: now,
            due: None,
        })
        .await
        .expect("put");
    let later = plan(
        std::slice::from_ref(&inv),
        &config,
        at("2026-12-09T10:00:00Z"),
    );
    let due: Vec<String> = forewarn::deliver::tick::due(&later, &ledger)
        .iter()
        .map(|n| n.id.to_string())
        .collect();
    assert!(
        !due.contains(&"enforced/pinned-images/web".to_string()),
        "{due:?}"
    );

    // Still in Audit after its date: no follow-up to the team; the platform hears it is overdue.
    let inv = inventory_from(&[("c.yaml", &flipped("Audit"))]);
    let planned = plan(std::slice::from_ref(&inv), &config, now);
    assert!(of_kind(&planned.notices, NoticeKind::Enforced).is_empty());
    assert_eq!(
        of_kind(&planned.notices, NoticeKind::Overdue)[0].id,
        "overdue/pinned-images/2026-12-07"
    );
}

fn gate(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_forewarn"))
        .arg("gate")
        .args(args)
        .current_dir(root())
        .output()
        .expect("run")
}

#[test]
fn gate_exit_codes() {
    let now = [
        "--snapshot",
        "examples/cluster",
        "--now",
        "2026-12-01T08:00:00+01:00",
    ];
    // Failing resources no exception covers: not ready, exit 1, with the table.
    let o = gate(&[&["require-run-as-nonroot"][..], &now[..]].concat());
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("NOT READY — 8 failing resources would be blocked"),
        "{out}"
    );
    assert!(out.contains("payments-api"), "{out}");
    // Only covered or no failures: ready, exit 0. Enforced everywhere with nothing in Audit.
    let o = gate(&[&["disallow-privileged-containers"][..], &now[..]].concat());
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("READY"), "{out}");
    // An unknown policy is a usage error with suggestions.
    let o = gate(&[&["require-run-as-non-root"][..], &now[..]].concat());
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("did you mean require-run-as-nonroot"));
}

#[test]
fn every_planned_notice_renders_even_for_owners_not_in_the_config() {
    // A config that knows none of the example's teams: owners become channels or the platform.
    let config = config_from("time-zone: Europe/Berlin\nplatform: {channel: \"#platform\"}\n");
    let renderer = Renderer::builtin().expect("templates");
    for now in [
        "2026-11-23T08:00:00+01:00",
        "2026-12-16T08:00:00+01:00",
        "2027-01-20T08:00:00+01:00",
    ] {
        let planned = plan(std::slice::from_ref(&example_inventory()), &config, at(now));
        assert!(!planned.notices.is_empty());
        for n in &planned.notices {
            if let Err(e) = renderer.render(n, &config) {
                panic!("{}: {e}", n.id);
            }
        }
    }
}

/// The ids of the notices a tick at `now` would send with an empty ledger.
fn due_now(planned: &forewarn::plan::Plan) -> Vec<String> {
    let dir = tempfile::tempdir().expect("dir");
    let ledger =
        forewarn::deliver::ledger::FileLedger::open(&dir.path().join("l.json")).expect("ledger");
    forewarn::deliver::tick::due(planned, &ledger)
        .iter()
        .map(|n| n.id.to_string())
        .collect()
}

#[test]
fn on_the_date_still_in_audit_is_scheduled_not_enforced() {
    let config = config_from(CONFIG);
    // Mon 7 Dec, 09:00: the date has come, the policy is still in Audit.
    let now = at("2026-12-07T09:00:00Z");
    let inv = inventory_from(&[("c.yaml", &flipped("Audit"))]);
    let planned = plan(std::slice::from_ref(&inv), &config, now);
    let t0 = planned
        .notices
        .iter()
        .find(|n| n.id == "announce/pinned-images/web/T-0")
        .expect("T-0");
    let words = text(t0);
    assert!(
        words.contains("Scheduled for today, not switched yet: pinned-images"),
        "{words}"
    );
    assert!(
        words.contains("You will hear when it is switched"),
        "{words}"
    );
    assert!(!words.contains("Enforced today"), "{words}");
    assert!(!words.contains("blocks new and updated"), "{words}");
    assert!(due_now(&planned).contains(&"announce/pinned-images/web/T-0".to_string()));
    assert!(of_kind(&planned.notices, NoticeKind::Enforced).is_empty());

    // announce.on-the-day: false — nothing that day until the flip is seen.
    let quiet = config_from(&format!("{CONFIG}announce: {{on-the-day: false}}\n"));
    let planned = plan(std::slice::from_ref(&inv), &quiet, now);
    assert!(planned.notices.iter().all(|n| n.milestone != "T-0"));
    assert!(!due_now(&planned).contains(&"announce/pinned-images/web/T-0".to_string()));
}

#[test]
fn a_flip_before_the_first_tick_is_followed_up_that_day() {
    let config = config_from(CONFIG);
    // Flipped at 08:30 on Mon 7 Dec; the 09:00 tick sees Enforce: no T-0 heads-up, and the
    // team still failing hears "enforced now" at that tick, not the next day.
    let inv = inventory_from(&[("c.yaml", &flipped("Enforce"))]);
    let planned = plan(
        std::slice::from_ref(&inv),
        &config,
        at("2026-12-07T09:00:00Z"),
    );
    assert!(of_kind(&planned.notices, NoticeKind::Announce).is_empty());
    let due: Vec<String> = due_now(&planned)
        .into_iter()
        .filter(|id| !id.starts_with("digest/"))
        .collect();
    assert_eq!(due, ["enforced/pinned-images/web"], "{due:?}");

    // Flipped after the 09:00 tick (which said "not switched yet"): the next tick, the day
    // after, sends "enforced now" — and no overdue, since it was flipped.
    let planned = plan(
        std::slice::from_ref(&inv),
        &config,
        at("2026-12-08T09:00:00Z"),
    );
    let due: Vec<String> = due_now(&planned)
        .into_iter()
        .filter(|id| !id.starts_with("digest/"))
        .collect();
    assert_eq!(due, ["enforced/pinned-images/web"]);
    assert!(of_kind(&planned.notices, NoticeKind::Overdue).is_empty());
}

/// A small cluster: namespace `shop` of team web, `pinned-images` in `mode` with its date on
/// `date`, and one result for Deployment/cart (`fail` or `pass`).
fn shop(mode: &str, date: &str, result: &str) -> forewarn::inventory::Inventory {
    let text = flipped(mode)
        .replace("'2026-12-07'", &format!("'{date}'"))
        .replace("result: fail", &format!("result: {result}"));
    inventory_from(&[("c.yaml", &text)])
}

fn told(id: &str, enforce_at: &str) -> forewarn::plan::Told {
    forewarn::plan::Told {
        id: id.to_string(),
        destination: "#web".parse().expect("destination"),
        enforce_at: at(enforce_at),
    }
}

#[test]
fn overdue_stays_in_every_platform_digest_until_flipped() {
    let config = config_from(CONFIG);
    // Mon 14 Dec: a week past its date, still in Audit.
    let inv = shop("Audit", "2026-12-07", "fail");
    let planned = plan(
        std::slice::from_ref(&inv),
        &config,
        at("2026-12-14T09:00:00Z"),
    );
    let platform = planned
        .notices
        .iter()
        .find(|n| n.id == "digest/platform/2026-12-14")
        .expect("platform digest");
    let words = text(platform);
    assert!(
        words.contains("*Overdue — past their date and still in Audit:*"),
        "{words}"
    );
    assert!(
        words.contains("*pinned-images* (`pinned-images`) — due Mon 7 Dec 2026 (7 days ago), 7 days late: 1 failing resource would be blocked (web (1))"),
        "{words}"
    );
    let team = planned
        .notices
        .iter()
        .find(|n| n.id == "digest/web/2026-12-14")
        .expect("team digest");
    let words = text(team);
    assert!(
        words.contains("overdue: due *Mon 7 Dec 2026* (7 days ago) and still in Audit"),
        "{words}"
    );
    // The gate says so too.
    let p = inv.policy("pinned-images").expect("policy");
    let r = forewarn::plan::readiness::readiness(p, &inv, &config, at("2026-12-14T09:00:00Z"));
    assert_eq!(r.days_late, Some(7));

    // Flipped: no longer overdue anywhere.
    let inv = shop("Enforce", "2026-12-07", "fail");
    let planned = plan(
        std::slice::from_ref(&inv),
        &config,
        at("2026-12-14T09:00:00Z"),
    );
    let platform = planned
        .notices
        .iter()
        .find(|n| n.id == "digest/platform/2026-12-14")
        .expect("platform digest");
    assert!(!text(platform).contains("Overdue"), "{}", text(platform));
}

#[test]
fn a_moved_date_reaches_the_teams_that_were_warned_once() {
    let config = config_from(CONFIG);
    // web was warned (T-14, T-7) about Mon 7 Dec; the date is now Mon 21 Dec.
    let inv = shop("Audit", "2026-12-21", "fail");
    let history = forewarn::plan::History {
        told: vec![
            told("announce/pinned-images/web/T-14", "2026-12-07T00:00:00Z"),
            told("announce/pinned-images/web/T-7", "2026-12-07T00:00:00Z"),
        ],
        ..Default::default()
    };
    let now = at("2026-12-03T09:00:00Z");
    let planned = forewarn::plan::plan_with(std::slice::from_ref(&inv), &config, now, &history);
    let moved = of_kind(&planned.notices, NoticeKind::Postponed);
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].id, "postponed/pinned-images/web/2026-12-21");
    assert_eq!(moved[0].send_at, now);
    let words = text(moved[0]);
    assert!(
        words.contains("Postponed: pinned-images — new date Mon 21 Dec 2026"),
        "{words}"
    );
    assert!(
        words.contains("will not move to Enforce on Mon 7 Dec 2026 as announced: the new date is *Mon 21 Dec 2026* (in 18 days). 1 resource of yours still fails it"),
        "{words}"
    );
    // The new date's heads-ups carry it in their ids: the T-14 and T-7 sent about the old
    // date do not stand for them.
    let ids: Vec<String> = of_kind(&planned.notices, NoticeKind::Announce)
        .iter()
        .map(|n| n.id.to_string())
        .collect();
    assert!(
        ids.contains(&"announce/pinned-images/web/2026-12-21/T-7".to_string()),
        "{ids:?}"
    );
    assert!(!ids.contains(&"announce/pinned-images/web/T-7".to_string()));

    // Without history (a preview), nothing is said about a move.
    let planned = plan(std::slice::from_ref(&inv), &config, now);
    assert!(of_kind(&planned.notices, NoticeKind::Postponed).is_empty());
}

#[test]
fn a_team_that_fixed_everything_hears_all_clear_once() {
    let config = config_from(CONFIG);
    let inv = shop("Audit", "2026-12-07", "pass");
    let history = forewarn::plan::History {
        told: vec![told(
            "announce/pinned-images/web/T-7",
            "2026-12-07T00:00:00Z",
        )],
        ..Default::default()
    };
    let now = at("2026-12-03T09:00:00Z");
    let planned = forewarn::plan::plan_with(std::slice::from_ref(&inv), &config, now, &history);
    let clear = of_kind(&planned.notices, NoticeKind::AllClear);
    assert_eq!(clear.len(), 1);
    assert_eq!(clear[0].id, "all-clear/pinned-images/web");
    let words = text(clear[0]);
    assert!(words.contains("All clear: pinned-images"), "{words}");
    assert!(
        words.contains("nothing of yours will be blocked when it is enforced on *Mon 7 Dec 2026* (in 4 days). Thanks!"),
        "{words}"
    );
    // No more heads-ups for web, and its digest does not list the policy.
    assert!(of_kind(&planned.notices, NoticeKind::Announce).is_empty());
    assert!(
        planned
            .notices
            .iter()
            .all(|n| n.id != "digest/web/2026-12-07")
    );

    // announce.all-clear: false — nothing.
    let quiet = config_from(&format!("{CONFIG}announce: {{all-clear: false}}\n"));
    let planned = forewarn::plan::plan_with(std::slice::from_ref(&inv), &quiet, now, &history);
    assert!(of_kind(&planned.notices, NoticeKind::AllClear).is_empty());
}

#[test]
fn a_digest_posted_a_day_late_speaks_of_yesterday() {
    let config = config_from(CONFIG);
    // Monday's digest goes out on Tuesday (Slack was down): the date was yesterday, not today.
    let inv = shop("Audit", "2026-12-14", "fail");
    let planned = plan(
        std::slice::from_ref(&inv),
        &config,
        at("2026-12-15T09:00:00Z"),
    );
    let team = planned
        .notices
        .iter()
        .find(|n| n.id == "digest/web/2026-12-14")
        .expect("Monday's digest, caught up");
    let words = text(team);
    assert!(
        words.contains("overdue: due *Mon 14 Dec 2026* (yesterday) and still in Audit"),
        "{words}"
    );
    assert!(!words.contains("(today)"), "{words}");
}

/// With several clusters, what was told is read per cluster: the ledger's ids name it.
#[test]
fn a_moved_date_is_told_per_cluster() {
    let config = config_from(CONFIG);
    let named = |name: &str| {
        let mut inv = shop("Audit", "2026-12-21", "fail");
        inv.cluster = forewarn::model::ids::ClusterName::parse(name).expect("name");
        inv
    };
    let clusters = [named("prod"), named("staging")];
    // Only prod's team was warned about Mon 7 Dec.
    let history = forewarn::plan::History {
        told: vec![told(
            "announce/prod/pinned-images/web/T-7",
            "2026-12-07T00:00:00Z",
        )],
        ..Default::default()
    };
    let planned =
        forewarn::plan::plan_with(&clusters, &config, at("2026-12-03T09:00:00Z"), &history);
    let moved: Vec<String> = of_kind(&planned.notices, NoticeKind::Postponed)
        .iter()
        .map(|n| n.id.to_string())
        .collect();
    assert_eq!(moved, ["postponed/prod/pinned-images/web/2026-12-21"]);
    let ids: Vec<String> = planned.notices.iter().map(|n| n.id.to_string()).collect();
    assert!(ids.contains(&"announce/prod/pinned-images/web/2026-12-21/T-7".to_string()));
    assert!(ids.contains(&"announce/staging/pinned-images/web/T-7".to_string()));
}
