//! The `forewarn` binary as a user runs it: outputs, the JSON shape, exit codes, and bad input
//! that is reported without stopping the rest.

mod common;

use common::root;
use serde_json::Value;
use std::process::{Command, Output};

const NOW: &str = "2026-12-01T08:00:00+01:00";

fn forewarn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_forewarn"))
        .args(args)
        .current_dir(root())
        .env_remove("FOREWARN_LOG")
        .output()
        .expect("run forewarn")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn plan_table_on_the_example_matches_the_golden_file() {
    let o = forewarn(&["plan", "--snapshot", "examples/cluster", "--now", NOW]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let golden = root().join("tests/golden/plan-example.txt");
    if std::env::var_os("FOREWARN_BLESS").is_some() {
        std::fs::write(&golden, stdout(&o)).expect("bless");
    }
    let expected = std::fs::read_to_string(&golden).expect("golden file");
    assert_eq!(
        stdout(&o),
        expected,
        "re-run with FOREWARN_BLESS=1 after an intended change"
    );
}

#[test]
fn plan_json_keeps_as_many_failing_resources_per_namespace_as_asked() {
    let largest = |extra: &[&str]| -> usize {
        let mut args = vec![
            "plan",
            "--snapshot",
            "examples/cluster",
            "--now",
            NOW,
            "--output",
            "json",
        ];
        args.extend_from_slice(extra);
        let o = forewarn(&args);
        let v: Value = serde_json::from_slice(&o.stdout).expect("json");
        v["notices"]
            .as_array()
            .expect("notices")
            .iter()
            .flat_map(|n| n["namespaces"].as_array().cloned().unwrap_or_default())
            .map(|ns| ns["sample"].as_array().map_or(0, Vec::len))
            .max()
            .unwrap_or(0)
    };
    // One by default; the whole sample (five at most) when asked; none with 0.
    assert_eq!(largest(&[]), 1);
    assert!(largest(&["--samples", "5"]) > 1);
    assert_eq!(largest(&["--samples", "0"]), 0);
}

#[test]
fn plan_json_has_the_agreed_shape() {
    let o = forewarn(&[
        "plan",
        "--snapshot",
        "examples/cluster",
        "--now",
        NOW,
        "--output",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["now"], NOW);
    assert_eq!(v["problems"], Value::Array(vec![]));
    let notices = v["notices"].as_array().expect("notices");
    assert!(!notices.is_empty());
    // What the next tick (09:00) sends that was due before 08:00: the catch-ups, one per
    // policy and audience (T-14 of require-run-as-nonroot, last Monday's digests).
    let catch_up: Vec<&str> = v["catch_up"]
        .as_array()
        .expect("catch_up")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        catch_up.contains(&"announce/require-run-as-nonroot/payments/T-14"),
        "{catch_up:?}"
    );
    assert!(
        catch_up.contains(&"digest/platform/2026-11-30"),
        "{catch_up:?}"
    );
    for n in notices {
        for key in [
            "id",
            "kind",
            "policy",
            "audience",
            "destination",
            "send_at",
            "milestone",
            "enforce_on",
            "namespaces",
        ] {
            assert!(n.get(key).is_some(), "notice lacks {key}: {n}");
        }
        for ns in n["namespaces"].as_array().expect("namespaces") {
            assert!(ns["name"].is_string() && ns["failing"].is_u64(), "{ns}");
        }
        assert!(n["send_at"].as_str().expect("send_at") >= NOW);
    }
    let kinds: std::collections::BTreeSet<&str> =
        notices.iter().filter_map(|n| n["kind"].as_str()).collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        vec!["announce", "digest", "readiness", "reminder"]
    );
    let first = notices
        .iter()
        .find(|n| n["kind"] == "announce")
        .expect("an announce notice");
    assert_eq!(
        first["id"],
        "announce/storefront-web/require-app-label/storefront/T-7"
    );
    assert_eq!(first["kind"], "announce");
    assert_eq!(first["send_at"], "2026-12-03T09:00:00+01:00");
    assert_eq!(first["enforce_on"], "2026-12-10T14:00:00+01:00");
    assert_eq!(first["namespaces"][0]["name"], "storefront-web");
    assert_eq!(first["namespaces"][0]["failing"], 2);
}

#[test]
fn render_json_prints_post_message_payloads() {
    let id = "announce/require-run-as-nonroot/platform/T-7";
    let o = forewarn(&[
        "render",
        "--snapshot",
        "examples/cluster",
        "--now",
        NOW,
        "--id",
        id,
        "--output",
        "json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    let m = &v[0];
    assert_eq!(m["channel"], "#platform-policy");
    assert!(
        m["text"]
            .as_str()
            .expect("text")
            .contains("Require runAsNonRoot")
    );
    assert_eq!(m["blocks"][0]["type"], "header");
    let all = m["blocks"].to_string();
    assert!(
        all.contains("legacy-batch") && all.contains("no owner on record"),
        "{all}"
    );

    let o = forewarn(&[
        "render",
        "--snapshot",
        "examples/cluster",
        "--now",
        NOW,
        "--id",
        "announce/nope/x/T-1",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no notice with id 'announce/nope/x/T-1'"));
}

#[test]
fn check_passes_on_the_example() {
    let o = forewarn(&["check", "--snapshot", "examples/cluster", "--now", NOW]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    // The example's informal exception is listed (warnings do not fail the check).
    assert!(out.contains("0 errors, 5 warnings."), "{out}");
    // Gatekeeper listed 5 of the 7 violations it found: counts are lower bounds.
    assert!(
        out.contains("warning: policy K8sRequiredLabels/workloads-need-cost-center: status.totalViolations: Gatekeeper found 7 violations but lists 5 resources"),
        "{out}"
    );
    assert!(
        out.contains("warning: exception kyverno/hotfix-latest-tag: no owner"),
        "{out}"
    );
    // Which source each rollout value came from, and that the annotation won.
    assert!(
        out.contains("require-requests-limits: enforce-on = 2027-01-11 (from config/forewarn.yaml"),
        "{out}"
    );
    assert!(
        out.contains("overrides '#platform-security' in config/forewarn.yaml"),
        "{out}"
    );
}

const GOOD: &str = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: good\n  annotations: {forewarn.dev/enforce-on: '2026-12-14'}\nspec:\n  rules:\n  - name: r\n    validate: {message: m}\n";

#[test]
fn a_malformed_document_is_named_and_the_rest_still_loads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let docs = [
        GOOD,
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: web, annotations: {forewarn.dev/owner: storefront}}\n",
        "apiVersion: wgpolicyk8s.io/v1alpha2\nkind: PolicyReport\nmetadata: {name: a, namespace: web}\nresults:\n- {policy: good, rule: r, result: fial}\n- {policy: good, rule: r, result: fail}\n",
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: broken\nspec: {}\n",
        "apiVersion: kyverno.io/v9\nkind: ClusterPolicy\nmetadata: {name: future}\nspec: {}\n",
    ]
    .join("---\n");
    std::fs::write(dir.path().join("cluster.yaml"), docs).expect("write");
    let snap = dir.path().to_str().expect("utf8");

    let o = forewarn(&["check", "--snapshot", snap, "--now", NOW]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains(
            "cluster.yaml doc 3 (PolicyReport web/a): results[0].result: unknown value 'fial'"
        ),
        "{out}"
    );
    assert!(out.contains("cluster.yaml doc 4 (from line"), "{out}");
    assert!(out.contains("invalid YAML"), "{out}");
    assert!(out.contains("cluster.yaml doc 5 (ClusterPolicy future): apiVersion: unknown API version 'kyverno.io/v9'"), "{out}");

    // The good policy and the good result still produce their notice.
    let o = forewarn(&["plan", "--snapshot", snap, "--now", NOW, "--output", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    let n = &v["notices"][0];
    assert_eq!(n["id"], "announce/good/storefront/T-7");
    assert_eq!(n["namespaces"][0]["failing"], 1);
    assert_eq!(v["problems"].as_array().expect("problems").len(), 3);
}

#[test]
fn usage_and_unreadable_input_exit_2() {
    let o = forewarn(&["plan", "--snapshot", "does/not/exist", "--now", NOW]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("does/not/exist"));
    let o = forewarn(&[
        "plan",
        "--snapshot",
        "examples/cluster",
        "--now",
        "next tuesday",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--now 'next tuesday'"));
    let o = forewarn(&[
        "plan",
        "--snapshot",
        "examples/cluster",
        "--config",
        "nope.yaml",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope.yaml"));
    let o = forewarn(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
    for cmd in ["plan", "render", "check"] {
        let o = forewarn(&[cmd, "--help"]);
        assert_eq!(o.status.code(), Some(0));
        assert!(stdout(&o).contains("--snapshot"));
    }
}

#[test]
fn a_bad_config_is_listed_key_by_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("forewarn.yaml");
    std::fs::write(
        &cfg,
        "time-zone: Europe/Atlantis\nschedule: \"0 9 * * Mon-Fri\"\nplatform: {channel: \"#p\"}\n",
    )
    .expect("write");
    let o = forewarn(&[
        "check",
        "--snapshot",
        "examples/cluster",
        "--config",
        cfg.to_str().expect("utf8"),
    ]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("time-zone: unknown time zone 'Europe/Atlantis'"),
        "{out}"
    );
    assert!(
        out.contains("schedule: '0 9 * * Mon-Fri' has 5 fields"),
        "{out}"
    );
}

/// The example config with `templates:` pointing at `dir` (absolute), written to `into`.
fn config_with_templates(into: &std::path::Path, dir: &std::path::Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(root().join("config/forewarn.yaml")).expect("config");
    let path = into.join("forewarn.yaml");
    std::fs::write(&path, format!("{text}\ntemplates: {}\n", dir.display())).expect("write");
    path
}

#[test]
fn a_templates_directory_that_does_not_exist_is_an_error_for_check_and_run() {
    let dir = tempfile::tempdir().expect("dir");
    let cfg = config_with_templates(dir.path(), &dir.path().join("nope"));
    let cfg = cfg.to_string_lossy().to_string();
    let check = forewarn(&["check", "--snapshot", "examples/cluster", "--config", &cfg]);
    assert_eq!(check.status.code(), Some(2), "{}", stdout(&check));
    let err = String::from_utf8_lossy(&check.stderr);
    assert!(
        err.contains("templates") && err.contains("nope") && err.contains("is not a directory"),
        "{err}"
    );
    let state = dir.path().join("ledger.json");
    let run = Command::new(env!("CARGO_BIN_EXE_forewarn"))
        .args([
            "run",
            "--once",
            "--snapshot",
            "examples/cluster",
            "--now",
            NOW,
            "--config",
            &cfg,
        ])
        .arg("--state")
        .arg(&state)
        .current_dir(root())
        .env_remove("SLACK_BOT_TOKEN")
        .env_remove("SLACK_BOT_TOKEN_FILE")
        .output()
        .expect("run");
    assert_eq!(
        run.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(!state.exists(), "nothing recorded");
}

#[test]
fn an_unknown_template_file_is_a_warning_listing_the_known_names() {
    let dir = tempfile::tempdir().expect("dir");
    let templates = dir.path().join("templates");
    std::fs::create_dir_all(&templates).expect("mkdir");
    std::fs::write(
        templates.join("announc.hbs"),
        "{{!-- section: header --}}\nx\n",
    )
    .expect("write");
    std::fs::write(templates.join("notes.md"), "not a template").expect("write");
    let cfg = config_with_templates(dir.path(), &templates);
    let cfg = cfg.to_string_lossy().to_string();
    let o = forewarn(&[
        "check",
        "--snapshot",
        "examples/cluster",
        "--now",
        NOW,
        "--config",
        &cfg,
    ]);
    let out = stdout(&o);
    assert!(
        out.contains("unknown template file 'announc.hbs'")
            && out.contains("announce.hbs, why-policy.hbs"),
        "{out}"
    );
    assert!(!out.contains("notes.md"), "{out}");
}

#[test]
fn delivery_limits_are_durations_and_a_bad_one_is_named() {
    use forewarn::config::parse_duration;
    use std::time::Duration;
    assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
    assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
    assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
    assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
    for bad in ["", "10", "soon", "0s", "-1s", "5h"] {
        assert_eq!(parse_duration(bad), None, "{bad}");
    }
    let dir = tempfile::tempdir().expect("dir");
    let text = std::fs::read_to_string(root().join("config/forewarn.yaml")).expect("config");
    let cfg = dir.path().join("forewarn.yaml");
    std::fs::write(
        &cfg,
        format!("{text}\ndelivery:\n  request-timeout: soon\n  tick-deadline: 30s\n"),
    )
    .expect("write");
    let cfg = cfg.to_string_lossy().to_string();
    let o = forewarn(&["check", "--snapshot", "examples/cluster", "--config", &cfg]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("delivery.request-timeout")
            && stdout(&o).contains("'soon' is not a duration"),
        "{}",
        stdout(&o)
    );
}

/// `plan --state` reads the ledger `run` keeps: a catch-up already sent is not listed again.
#[tokio::test]
async fn plan_with_a_ledger_leaves_out_what_was_sent() {
    use forewarn::deliver::ledger::{Entry, FileLedger, Ledger, State};
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("ledger.json");
    {
        let mut ledger = FileLedger::open(&state).expect("ledger");
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-30T09:00:00+01:00").expect("at");
        ledger
            .put(Entry {
                id: "announce/require-run-as-nonroot/payments/T-14".into(),
                state: State::Sent,
                destination: "#payments-dev".into(),
                channel: None,
                ts: None,
                error: None,
                at,
                enforce_at: chrono::DateTime::parse_from_rfc3339("2026-12-14T00:00:00+01:00")
                    .expect("enforce"),
                due: None,
            })
            .await
            .expect("put");
    }
    let catch_up = |o: &Output| -> Vec<String> {
        let v: Value = serde_json::from_slice(&o.stdout).expect("json");
        v["catch_up"]
            .as_array()
            .expect("catch_up")
            .iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    };
    let args = [
        "plan",
        "--snapshot",
        "examples/cluster",
        "--now",
        NOW,
        "--output",
        "json",
    ];
    let without = catch_up(&forewarn(&args));
    assert!(without.contains(&"announce/require-run-as-nonroot/payments/T-14".to_string()));
    let state_arg = state.display().to_string();
    let with = catch_up(&forewarn(&[&args[..], &["--state", &state_arg]].concat()));
    assert!(!with.contains(&"announce/require-run-as-nonroot/payments/T-14".to_string()));
    assert!(with.contains(&"announce/require-run-as-nonroot/data/T-14".to_string()));
}
