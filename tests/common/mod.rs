//! Shared helpers for the integration tests: where the real fixtures are, the example cluster
//! and config, inventories and configs written by a test, the rustls provider, times.
#![allow(dead_code, unused_macros)]

pub mod fake_kube;
pub mod fake_slack;

use forewarn::config::Config;
use forewarn::inventory::Inventory;
use forewarn::inventory::snapshot::load_dir;
use std::path::{Path, PathBuf};

/// The project root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where the shared, real fixtures are: `FOREWARN_FIXTURES` (set by `.ci/run`), else
/// `../shared/fixtures` beside the clone.
pub fn fixtures_dir() -> PathBuf {
    std::env::var_os("FOREWARN_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/fixtures"))
}

/// Whether the calling test can read the shared fixtures. On a plain clone (no fixtures, `CI`
/// unset) it prints one line naming the skipped test and returns `false`; when `CI` is set the
/// fixtures must be there, and the test fails.
pub fn have_fixtures() -> bool {
    let dir = fixtures_dir();
    if dir.join("README.md").is_file() {
        return true;
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    if std::env::var_os("CI").is_some() {
        panic!(
            "real fixtures not found at {} (CI is set): set FOREWARN_FIXTURES to the shared/fixtures directory",
            dir.display()
        );
    }
    // Straight to stderr, past the test harness's capture, so the skip is seen.
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "skipped {test}: the shared fixtures are not at {} (set FOREWARN_FIXTURES)",
        dir.display()
    );
    false
}

/// A headless browser for the tests that open a page: `FOREWARN_CHROMIUM`, else `chromium`,
/// `chromium-browser` or `google-chrome` on the PATH. Without one, on a plain clone (`CI`
/// unset) it prints one line naming the skipped test and returns `None`; when `CI` is set
/// the browser must be there (`.ci/run` installs Debian's `chromium`), and the test fails.
pub fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("FOREWARN_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| {
            let path = std::env::var_os("PATH")?;
            std::env::split_paths(&path).find_map(|dir| {
                ["chromium", "chromium-browser", "google-chrome"]
                    .iter()
                    .map(|name| dir.join(name))
                    .find(|p| p.is_file())
            })
        });
    if found.is_some() {
        return found;
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    if std::env::var_os("CI").is_some() {
        panic!("no chromium found (CI is set): install Debian's chromium or set FOREWARN_CHROMIUM");
    }
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "skipped {test}: no chromium on the PATH (apt-get install chromium, or set FOREWARN_CHROMIUM)"
    );
    None
}

/// Returns from the calling test when the shared fixtures are absent (see [`have_fixtures`]).
macro_rules! needs_fixtures {
    () => {
        if !common::have_fixtures() {
            return;
        }
    };
}

/// The shared, real fixtures. Tests call [`needs_fixtures!`] first.
pub fn fixtures() -> PathBuf {
    let dir = fixtures_dir();
    assert!(
        dir.join("README.md").is_file(),
        "real fixtures not found at {}: set FOREWARN_FIXTURES to the shared/fixtures directory",
        dir.display()
    );
    dir
}

pub fn fixture(rel: &str) -> PathBuf {
    fixtures().join(rel)
}

/// Loads a single fixture file (or directory) as an inventory.
pub fn load(path: &Path) -> Inventory {
    if path.is_dir() {
        return load_dir(path).expect("readable directory");
    }
    let mut inv = Inventory::default();
    let text = std::fs::read_to_string(path).expect("readable fixture");
    forewarn::inventory::snapshot::load_text(&mut inv, &path.display().to_string(), &text);
    inv.finish();
    inv
}

pub fn example_config() -> Config {
    Config::load(&root().join("config/forewarn.yaml")).expect("example config is valid")
}

pub fn example_inventory() -> Inventory {
    load_dir(&root().join("examples/cluster")).expect("example cluster")
}

/// An inventory from YAML text written by a test.
pub fn inventory_from(files: &[(&str, &str)]) -> Inventory {
    let mut inv = Inventory::default();
    for (name, text) in files {
        forewarn::inventory::snapshot::load_text(&mut inv, name, text);
    }
    inv.finish();
    inv
}

/// A config from YAML text written by a test.
pub fn config_from(text: &str) -> Config {
    match Config::parse(text, "test-config.yaml", Path::new(".")) {
        Ok(c) => c,
        Err(e) => panic!("test config invalid: {e:?}"),
    }
}

pub fn at(s: &str) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(s).expect("test time")
}

/// Installs the ring crypto provider for rustls (as `main` does); idempotent.
pub fn init_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Runs the `forewarn` binary from the project root on snapshot `snap` with config `cfg` at
/// `now`, after `args` (the command and its own flags).
pub fn forewarn_on(snap: &Path, cfg: &Path, now: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_forewarn"))
        .args(args)
        .arg("--snapshot")
        .arg(snap)
        .arg("--config")
        .arg(cfg)
        .args(["--now", now])
        .current_dir(root())
        .env_remove("FOREWARN_LOG")
        .output()
        .expect("run forewarn")
}

/// What a run printed, stdout then stderr.
pub fn printed(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The notice ids a posted message carries: `metadata.event_payload.notice_ids`, one string
/// of ids separated by spaces.
pub fn notice_ids(body: &serde_json::Value) -> Vec<String> {
    body["metadata"]["event_payload"]["notice_ids"]
        .as_str()
        .map(|ids| ids.split(' ').map(str::to_string).collect())
        .unwrap_or_default()
}
