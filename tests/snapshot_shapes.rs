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
    let mut all: Vec<&str> = args.to_vec();
    all.extend([
        "--snapshot",
        snap.to_str().expect("utf8"),
        "--config",
        cfg.to_str().expect("utf8"),
        "--now",
        NOW,
    ]);
    Command::new(env!("CARGO_BIN_EXE_forewarn"))
        .args(&all)
        .current_dir(root())
        .env_remove("FOREWARN_LOG")
        .output()
        .expect("run forewarn")
}

fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
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
