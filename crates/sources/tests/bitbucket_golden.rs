//! Golden tests of the `bitbucket` source: every directory under `tests/fixtures/bitbucket/`
//! (repository root) holds `input.json` (the body Bitbucket Cloud POSTs), `event-key` (its
//! `X-Event-Key`) and `expected.json` (the JSON array of CDEvents it must give once
//! `POST /webhooks/bitbucket` wrapped it). With `DORA_UPDATE_GOLDEN=1` the expected files are
//! rewritten from the current output.
//!
//! Every emitted CDEvent must validate against the official CDEvents schemas, and the rules
//! (which events are changes, one per branch, full SHAs only, ids from the payload) are asserted
//! on the fixtures, so that a careless golden update cannot hide a wrong one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{assert_minimum, case_name, cases, compare_golden, single};
use dora_sources::bitbucket::{webhook, BitbucketTransformer};
use dora_sources::transform::{CHANGE_ABANDONED, CHANGE_CREATED, CHANGE_MERGED, CHANGE_UPDATED};
use dora_sources::WebhookSettings;
use http::HeaderMap;
use serde_json::Value;

const TOOL: &str = "bitbucket";

/// The body with its event key, wrapped by the webhook, then transformed.
fn run_body(key: &str, body: &[u8]) -> Vec<Value> {
    let mut headers = HeaderMap::new();
    headers.insert(webhook::EVENT_HEADER, key.parse().unwrap());
    let events = webhook::WEBHOOK
        .receive(&headers, body, &WebhookSettings::default())
        .unwrap();
    events
        .iter()
        .flat_map(|event| common::checked(&BitbucketTransformer, event))
        .collect()
}

fn run_dir(dir: &Path) -> Vec<Value> {
    let key = std::fs::read_to_string(dir.join("event-key")).unwrap();
    let body = std::fs::read(dir.join("input.json")).unwrap();
    run_body(key.trim(), &body)
}

fn run(case: &str) -> Vec<Value> {
    run_dir(&common::fixtures(TOOL).join(case))
}

fn one(case: &str) -> Value {
    single(run(case), case)
}

#[test]
fn golden_cases() {
    let cases = cases(TOOL);
    assert_minimum("", &cases, 15);
    let mut failures = Vec::new();
    compare_golden("", &cases, case_name, run_dir, &mut failures);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_push_to_a_branch_is_a_change_of_its_commits() {
    let pushed = one("repo-push-commit-created");
    assert_eq!(pushed["context"]["type"], CHANGE_UPDATED);
    let head = "5ecffa3874e96920f24a2b3c0d0038e47d5cd1a4";
    assert_eq!(pushed["subject"]["id"], format!("amuniz/test-repos@{head}"));
    assert_eq!(
        pushed["context"]["source"],
        "https://bitbucket.org/amuniz/test-repos"
    );
    assert_eq!(
        pushed["subject"]["content"]["repository"],
        serde_json::json!({"id": "amuniz/test-repos", "source": "https://bitbucket.org"})
    );
    let dora = &pushed["customData"]["dora"];
    assert_eq!(dora["revision"], head);
    assert_eq!(dora["repository"], "amuniz/test-repos");
    assert_eq!(dora["commits"].as_array().unwrap().len(), 5);
    assert_eq!(dora["commits"][0]["sha"], head);
    assert_eq!(dora["commits"][0]["timestamp"], "2025-02-03T18:26:00Z");
    assert_eq!(pushed["context"]["timestamp"], "2025-02-03T18:26:00Z");
    assert_eq!(pushed["customData"]["bitbucket"]["truncated"], true);
}

#[test]
fn one_change_per_branch_and_none_for_tags_deletions_and_empty_pushes() {
    let changes = run("repo-push-multiple-changes");
    assert_eq!(changes.len(), 2, "two branches and a tag");
    assert!(changes
        .iter()
        .all(|c| c["context"]["type"] == CHANGE_UPDATED));
    assert_ne!(changes[0]["context"]["id"], changes[1]["context"]["id"]);
    let created = one("repo-push-branch-created");
    assert_eq!(
        created["customData"]["dora"]["before"],
        "0000000000000000000000000000000000000000"
    );
    common::assert_give_nothing(
        &[
            "repo-push-branch-deleted",
            "repo-push-tag-created",
            "repo-push-empty",
            "pullrequest-updated",
            "repo-commit-status-updated",
        ],
        run,
    );
}

#[test]
fn pull_requests_are_created_merged_and_abandoned_changes() {
    let created = one("pullrequest-created");
    assert_eq!(created["context"]["type"], CHANGE_CREATED);
    assert_eq!(created["subject"]["id"], "cloudbeers/temp#1");
    let merged = one("pullrequest-fulfilled");
    assert_eq!(merged["context"]["type"], CHANGE_MERGED);
    assert_eq!(merged["subject"]["id"], "cloudbeers/temp#2");
    let dora = &merged["customData"]["dora"];
    assert_eq!(dora["createdAt"], "2017-03-06T10:41:26.966918Z");
    assert!(dora["mergedAt"].is_string());
    assert_eq!(
        dora.get("mergeSha"),
        None,
        "Bitbucket's 12-digit hash is not a SHA that can match"
    );
    assert_eq!(dora["shortMergeSha"], "1986c2284946");
    assert_eq!(dora["targetBranch"], "main");
    let declined = one("pullrequest-rejected");
    assert_eq!(declined["context"]["type"], CHANGE_ABANDONED);
}

#[test]
fn the_same_fact_delivered_again_has_the_same_id() {
    let body = std::fs::read_to_string(
        common::fixtures(TOOL)
            .join("pullrequest-fulfilled")
            .join("input.json"),
    )
    .unwrap();
    let once = single(run_body("pullrequest:fulfilled", body.as_bytes()), "once");
    let again = body.replace("\"comment_count\": 0", "\"comment_count\": 1");
    assert_ne!(body, again);
    let again = single(run_body("pullrequest:fulfilled", again.as_bytes()), "again");
    assert_eq!(once["context"]["id"], again["context"]["id"]);
    let created = single(run_body("pullrequest:created", body.as_bytes()), "created");
    assert_ne!(once["context"]["id"], created["context"]["id"]);
}
