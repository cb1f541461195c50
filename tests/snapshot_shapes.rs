//! Real input shapes of a snapshot directory: ConfigMap volumes, copied files, symbolic links,
//! unreadable subdirectories, byte-order marks, duplicate keys and large YAML lists. Objects
//! are modelled on Kyverno's own (../shared/fixtures).

mod common;

use common::{fixture, root};
use forewarn::inventory::snapshot::load_dir;
use serde_json::Value;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::{Command, Output};

const NOW: &str = "2026-12-01T08:00:00+01:00";

const CONFIG: &str = r##"
time-zone: Europe/Berlin
schedule: "0 0 9 * * Mon-Fri"
platform: {channel: "#platform"}
teams:
  shop: {name: Shop, channel: "#shop"}
"##;

const NS: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: default\n  annotations: {forewarn.dev/owner: shop}\n";

/// The library's baseline pod-security policy turned restricted (as the report below names it),
/// with a date.
fn policy() -> String {
    let text = std::fs::read_to_string(fixture(
        "kyverno-policies/pod-security/subrule/podsecurity-subrule-baseline/podsecurity-subrule-baseline.yaml",
    ))
    .expect("fixture");
    text.replace(
        "podsecurity-subrule-baseline",
        "podsecurity-subrule-restricted",
    )
    .replace("- name: baseline", "- name: restricted")
    .replace("level: baseline", "level: restricted")
    .replacen(
        "  annotations:\n",
        "  annotations:\n    forewarn.dev/enforce-on: \"2026-12-14\"\n",
        1,
    )
}

/// Kyverno's background-mode report assertion, named as a real report is.
fn report() -> String {
    std::fs::read_to_string(fixture(
        "kyverno/test/conformance/chainsaw/reports/background/test-report-background-mode/report-assert.yaml",
    ))
    .expect("fixture")
    .replacen("metadata:\n", "metadata:\n  name: 5b1e7c\n", 1)
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn forewarn(snap: &Path, args: &[&str]) -> Output {
    let cfg = snap.parent().expect("parent").join("forewarn.yaml");
    std::fs::write(&cfg, CONFIG).expect("config");
    common::forewarn_on(snap, &cfg, NOW, args)
}

fn out(o: &Output) -> String {
    common::printed(o)
}

/// The announce notices of `plan`: (id, failing count of the first namespace).
fn announces(snap: &Path) -> (Vec<(String, u64)>, Vec<Value>) {
    let o = forewarn(snap, &["plan", "--output", "json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", out(&o)));
    let notices = v["notices"]
        .as_array()
        .expect("notices")
        .iter()
        .filter(|n| n["kind"] == "announce")
        .map(|n| {
            (
                n["id"].as_str().unwrap().to_string(),
                n["namespaces"][0]["failing"].as_u64().unwrap(),
            )
        })
        .collect();
    (
        notices,
        v["problems"].as_array().cloned().unwrap_or_default(),
    )
}

fn expected() -> Vec<(String, u64)> {
    ["T-7", "T-1", "T-0"]
        .iter()
        .map(|m| {
            (
                format!("announce/podsecurity-subrule-restricted/shop/{m}"),
                1,
            )
        })
        .collect()
}

// --- 10. the same object twice ----------------------------------------------------------------

/// A ConfigMap mounted as a volume: the files live in `..<timestamp>/`, `..data` links to it
/// and each file has a link at the top. Read once.
#[test]
fn a_configmap_volume_is_read_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let snap = tmp.path().join("snap");
    let data = snap.join("..2026_12_01_07_00_00.123456789");
    write(&data, "policy.yaml", &policy());
    write(&data, "reports.yaml", &report());
    write(&data, "namespaces.yaml", NS);
    symlink("..2026_12_01_07_00_00.123456789", snap.join("..data")).expect("link");
    for f in ["policy.yaml", "reports.yaml", "namespaces.yaml"] {
        symlink(format!("..data/{f}"), snap.join(f)).expect("link");
    }
    let inv = load_dir(&snap).expect("load");
    assert!(inv.problems.is_empty(), "{:?}", inv.problems);
    assert_eq!(inv.objects, 3);
    let (notices, problems) = announces(&snap);
    assert_eq!(notices, expected());
    assert!(problems.is_empty(), "{problems:?}");
}

/// A copied file: identical objects count once, silently; a copy that differs counts once too,
/// with a warning naming both files (the first in name order is used).
#[test]
fn copies_count_once_and_differing_copies_are_named() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let snap = tmp.path().join("snap");
    write(&snap, "policy.yaml", &policy());
    write(&snap, "namespaces.yaml", NS);
    write(&snap, "reports/a.yaml", &report());
    write(&snap, "reports/b-copy.yaml", &report());
    let (notices, problems) = announces(&snap);
    assert_eq!(notices, expected());
    assert!(problems.is_empty(), "{problems:?}");

    // The same report as JSON inside a kubectl List, and an older differing copy.
    let json: Value = serde_saphyr::from_str(&report()).expect("yaml");
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": [json.clone()]});
    write(&snap, "reports/c.json", &list.to_string());
    let older = report().replace("result: fail", "result: pass");
    write(&snap, "reports/d-older.yaml", &older);
    let (notices, _) = announces(&snap);
    assert_eq!(notices, expected());
    let o = forewarn(&snap, &["check"]);
    let text = out(&o);
    let warning = text
        .lines()
        .find(|l| l.contains("d-older.yaml"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(warning.contains("warning:"), "{warning}");
    assert!(
        warning.contains("PolicyReport.wgpolicyk8s.io default/5b1e7c"),
        "{warning}"
    );
    assert!(warning.contains("reports/a.yaml"), "{warning}");
    assert!(warning.contains("different content"), "{warning}");
    assert!(!text.contains("b-copy.yaml"), "{text}");
    // The same report in a kubectl JSON List is the same object: no warning either.
    assert!(!text.contains("c.json"), "{text}");

    // Copies inside one file are caught as well.
    let tmp2 = tempfile::tempdir().expect("tempdir");
    let snap2 = tmp2.path().join("snap");
    write(
        &snap2,
        "all.yaml",
        &[policy(), NS.to_string(), report(), report()].join("\n---\n"),
    );
    let inv = load_dir(&snap2).expect("load");
    assert!(inv.problems.is_empty(), "{:?}", inv.problems);
    let (notices, _) = announces(&snap2);
    assert_eq!(notices, expected());
}

// --- 11. symbolic links to directories --------------------------------------------------------

#[test]
fn linked_directories_are_followed_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let snap = tmp.path().join("snap");
    let elsewhere = tmp.path().join("elsewhere");
    write(&elsewhere, "reports.yaml", &report());
    write(&snap, "policy.yaml", &policy());
    write(&snap, "namespaces.yaml", NS);
    symlink(&elsewhere, snap.join("reports")).expect("link");
    // A loop back to the top.
    symlink(&snap, snap.join("policy-loop")).expect("link");
    let inv = load_dir(&snap).expect("load");
    assert_eq!(inv.objects, 3, "{:?}", inv.problems);
    assert_eq!(inv.problems.len(), 1, "{:?}", inv.problems);
    assert!(
        inv.problems[0].object.ends_with("policy-loop"),
        "{}",
        inv.problems[0]
    );
    assert!(
        inv.problems[0].message.contains("already read"),
        "{}",
        inv.problems[0]
    );
    let (notices, _) = announces(&snap);
    assert_eq!(notices, expected());
}

// --- 12. an unreadable subdirectory -----------------------------------------------------------

#[test]
fn an_unreadable_subdirectory_is_named_and_the_rest_loads() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let snap = tmp.path().join("snap");
    write(&snap, "policy.yaml", &policy());
    write(&snap, "namespaces.yaml", NS);
    write(&snap, "reports/r.yaml", &report());
    write(&snap, "secret/other.yaml", NS);
    let open = |p: &Path, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod")
    };
    for d in [tmp.path(), snap.as_path(), &snap.join("reports")] {
        open(d, 0o755);
    }
    for f in ["policy.yaml", "namespaces.yaml", "reports/r.yaml"] {
        open(&snap.join(f), 0o644);
    }
    open(&snap.join("secret"), 0o000);
    // root reads anything: run the binary as nobody.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_forewarn"));
    let cfg = tmp.path().join("forewarn.yaml");
    std::fs::write(&cfg, CONFIG).expect("config");
    open(&cfg, 0o644);
    cmd.args([
        "check",
        "--snapshot",
        snap.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
        "--now",
        NOW,
    ])
    .current_dir("/")
    .env_remove("FOREWARN_LOG");
    if unsafe { libc::geteuid() } == 0 {
        use std::os::unix::process::CommandExt;
        cmd.uid(65534).gid(65534);
    }
    let o = cmd.output().expect("run");
    let text = out(&o);
    let secret = snap.join("secret").display().to_string();
    assert!(
        text.contains(&format!("error: {secret}: cannot read directory")),
        "{text}"
    );
    assert!(text.contains("Read 3 objects"), "{text}");
    open(&snap.join("secret"), 0o755);
}

// --- 13. a byte-order mark ----------------------------------------------------------------------

#[test]
fn a_byte_order_mark_is_not_part_of_the_text() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let snap = tmp.path().join("snap");
    write(&snap, "policy.yaml", &format!("\u{feff}{}", policy()));
    write(&snap, "namespaces.yaml", &format!("\u{feff}{NS}"));
    let json: Value = serde_saphyr::from_str(&report()).expect("yaml");
    write(&snap, "report.json", &format!("\u{feff}{json}"));
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": [json]});
    write(&snap, "list.json", &format!("\u{feff}{list}"));
    let inv = load_dir(&snap).expect("load");
    assert!(inv.problems.is_empty(), "{:?}", inv.problems);
    assert_eq!(inv.objects, 3);
    let (notices, problems) = announces(&snap);
    assert_eq!(notices, expected());
    assert!(problems.is_empty(), "{problems:?}");
}

// --- 14. duplicate keys -------------------------------------------------------------------------

/// One rule for JSON and YAML: the last value wins, and the key is named in a warning.
#[test]
fn a_duplicate_key_is_last_wins_in_json_and_yaml_with_a_warning() {
    let yaml = policy().replacen(
        "  annotations:\n",
        "  annotations:\n    forewarn.dev/enforce-on: \"2026-12-01\"\n",
        1,
    );
    // The earlier, passed date comes first; the later one wins.
    assert_eq!(yaml.matches("forewarn.dev/enforce-on").count(), 2);
    let policy_value: Value = {
        let single = policy();
        serde_saphyr::from_str(&single).expect("yaml")
    };
    let text = policy_value.to_string();
    let json = text.replacen(
        "\"annotations\":{",
        "\"annotations\":{\"forewarn.dev/enforce-on\":\"2026-12-01\",",
        1,
    );
    assert_ne!(json, text);
    for (file, body) in [
        ("policy.yaml", yaml.as_str()),
        ("policy.json", json.as_str()),
    ] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let snap = tmp.path().join("snap");
        write(&snap, file, body);
        write(&snap, "namespaces.yaml", NS);
        write(&snap, "reports.yaml", &report());
        let inv = load_dir(&snap).expect("load");
        assert_eq!(inv.policies.len(), 1, "{file}: {:?}", inv.problems);
        assert_eq!(inv.problems.len(), 1, "{file}: {:?}", inv.problems);
        let p = &inv.problems[0];
        assert!(!p.is_error(), "{p}");
        assert_eq!(
            p.field, "metadata.annotations.forewarn.dev/enforce-on",
            "{p}"
        );
        assert!(p.object.contains(file), "{p}");
        assert!(p.message.contains("the last value is used"), "{p}");
        let (notices, _) = announces(&snap);
        assert_eq!(notices, expected(), "{file}");
        let o = forewarn(&snap, &["check"]);
        assert!(
            out(&o).contains("enforce-on: key given more than once"),
            "{}",
            out(&o)
        );
    }
}

// --- 9. a large YAML List -----------------------------------------------------------------------

/// What `kubectl get policyreports -A -o yaml` writes: one List, `reports` items of `results`
/// results each, one in twenty failing.
fn report_list(reports: usize, results: usize) -> String {
    let mut out = String::from("apiVersion: v1\nitems:\n");
    for r in 0..reports {
        out.push_str(&format!(
            "- apiVersion: wgpolicyk8s.io/v1alpha2\n  kind: PolicyReport\n  metadata:\n    name: {r:08x}-1c2f-4d3a-9e8b-5f6a7b8c9d0e\n    namespace: default\n    labels: {{app.kubernetes.io/managed-by: kyverno}}\n  scope:\n    apiVersion: v1\n    kind: Pod\n    name: pod-{r}\n    namespace: default\n  results:\n"
        ));
        for i in 0..results {
            let outcome = if (r * results + i).is_multiple_of(20) {
                "fail"
            } else {
                "pass"
            };
            out.push_str(&format!(
                "  - category: Pod Security\n    message: validation rule 'restricted' {outcome}ed for check {i}\n    policy: podsecurity-subrule-restricted\n    result: {outcome}\n    rule: restricted\n    scored: true\n    severity: medium\n    source: kyverno\n    timestamp: {{nanos: 0, seconds: 1733040000}}\n"
            ));
        }
        out.push_str(&format!(
            "  summary: {{error: 0, fail: 0, pass: {results}, skip: 0, warn: 0}}\n"
        ));
    }
    out.push_str("kind: List\nmetadata:\n  resourceVersion: \"\"\n");
    out
}

/// Peak resident memory (MiB) of a child run of forewarn, and its exit code and output.
// `wait4` reaps the child (it also gives its resource usage, which `wait` does not).
#[allow(clippy::zombie_processes)]
fn peak_rss_mib(args: &[&str], stdout: &Path) -> (i32, u64) {
    let child = Command::new(env!("CARGO_BIN_EXE_forewarn"))
        .args(args)
        .current_dir(root())
        .env_remove("FOREWARN_LOG")
        .stdout(std::fs::File::create(stdout).expect("stdout file"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid);
    (libc::WEXITSTATUS(status), usage.ru_maxrss as u64 / 1024)
}

#[test]
fn a_large_yaml_list_loads_whole() {
    // 15,000 results: beyond serde-saphyr's default node budget, which rejected the whole file.
    let tmp = tempfile::tempdir().expect("tempdir");
    let snap = tmp.path().join("snap");
    write(&snap, "policy.yaml", &policy());
    write(&snap, "namespaces.yaml", NS);
    write(&snap, "policyreports.yaml", &report_list(500, 30));
    let inv = load_dir(&snap).expect("load");
    assert!(inv.problems.is_empty(), "{:?}", inv.problems);
    let (_, s) = inv.results.iter().next().expect("results");
    assert_eq!(s.counts().pass + s.counts().fail, 15_000);
    assert_eq!(s.counts().fail, 750);
}

/// A List larger than a whole-text read should hold is parsed as it is read from disk, one item
/// at a time: peak memory stays far below the size of the file's parsed tree.
#[test]
fn a_very_large_yaml_list_is_streamed_with_bounded_memory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let snap = tmp.path().join("snap");
    write(&snap, "policy.yaml", &policy());
    write(&snap, "namespaces.yaml", NS);
    let list = report_list(2_500, 60);
    let size = list.len() as u64;
    assert!(size > 32 * 1024 * 1024, "{size}");
    write(&snap, "policyreports.yaml", &list);
    drop(list);
    let cfg = tmp.path().join("forewarn.yaml");
    std::fs::write(&cfg, CONFIG).expect("config");
    let json = tmp.path().join("plan.json");
    let (code, rss) = peak_rss_mib(
        &[
            "plan",
            "--output",
            "json",
            "--snapshot",
            snap.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
            "--now",
            NOW,
        ],
        &json,
    );
    eprintln!("peak RSS {rss} MiB for a {} MiB file", size >> 20);
    assert_eq!(code, 0);
    // The file alone is over 32 MiB; its parsed tree would be ten times that.
    assert!(
        rss < 100,
        "peak RSS {rss} MiB for a {} MiB file",
        size >> 20
    );
    let v: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).expect("plan json");
    assert_eq!(v["problems"], Value::Array(vec![]));
    let announce: Vec<&Value> = v["notices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "announce")
        .collect();
    assert_eq!(announce.len(), 3);
    assert_eq!(announce[0]["namespaces"][0]["failing"], 7_500);
}
