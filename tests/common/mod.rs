//! Shared helpers for the integration tests: where the real fixtures are, and the example.
#![allow(dead_code)]

pub mod fake_kube;

use forewarn::config::Config;
use forewarn::inventory::Inventory;
use forewarn::inventory::snapshot::load_dir;
use std::path::{Path, PathBuf};

/// The project root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shared, real fixtures: `FOREWARN_FIXTURES` (set by `.ci/run`), else `../shared/fixtures`.
/// Fails loudly when they are absent: these tests are about real objects.
pub fn fixtures() -> PathBuf {
    let dir = std::env::var_os("FOREWARN_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/fixtures"));
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
