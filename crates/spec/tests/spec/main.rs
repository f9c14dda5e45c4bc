//! Integration tests of `dora-spec` against the official CDEvents examples and SDK test resources
//! copied into `tests/fixtures/cdevents-spec/` (repo root).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod negative;
mod official;
mod types;

use std::path::{Path, PathBuf};

use serde_json::Value;

/// `tests/fixtures/cdevents-spec/` at the workspace root.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/cdevents-spec")
}

/// Parses one fixture, given relative to `fixtures_dir()`.
pub fn fixture(rel: &str) -> Value {
    let path = fixtures_dir().join(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The `*.json` files of a fixture directory, sorted, relative to `fixtures_dir()`.
pub fn fixtures_in(dir: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(fixtures_dir().join(dir))
        .unwrap_or_else(|e| panic!("cannot list {dir}: {e}"))
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json"))
        .map(|name| format!("{dir}/{name}"))
        .collect();
    files.sort();
    files
}
