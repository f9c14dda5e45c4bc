//! Unit tests of the argocd transformer.

#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::argocd::payload::*;

const SHA: &str = "90460e57069cadc1332ca8137268028bf3f12765";

#[test]
fn revisions_prefer_the_single_one_then_a_commit() {
    assert_eq!(pick_revision(Some("abc"), &["0.6.3", SHA]), Some("abc"));
    assert_eq!(pick_revision(None, &["0.6.3", SHA]), Some(SHA));
    assert_eq!(pick_revision(None, &["0.6.3", "1.0.0"]), Some("0.6.3"));
    assert_eq!(pick_revision(None, &[]), None);
}

#[test]
fn the_image_tagged_like_a_revision_is_chosen() {
    let images = ["ghcr.io/o/app:0.6.2", "ghcr.io/o/app:0.6.3"];
    assert_eq!(
        chosen_image(&images, &["0.6.3", SHA]),
        Some("ghcr.io/o/app:0.6.3")
    );
    assert_eq!(
        chosen_image(&images, &["v0.6.3"]),
        Some("ghcr.io/o/app:0.6.3")
    );
    assert_eq!(chosen_image(&images, &[SHA]), Some("ghcr.io/o/app:0.6.2"));
    assert_eq!(chosen_image(&[], &[SHA]), None);
    assert_eq!(image_tag("localhost:5000/app"), None);
    assert_eq!(image_tag("localhost:5000/app:1@sha256:ab"), Some("1"));
}

#[test]
fn field_errors_describe_their_path() {
    let error = FieldError::new("/history/1/deployStartedAt", "is bad");
    assert_eq!(error.describe(), "data.history[1].deployStartedAt is bad");
    let error = FieldError::new("/app/labels/a~1b", "must be a string");
    assert_eq!(error.describe(), "data.app.labels.a/b must be a string");
}

#[test]
fn the_environment_mapping_tries_cluster_and_namespace() {
    let data = json!({"trigger": "on-deployed", "app": {"name": "web"},
        "destination": {"name": "prod-eu", "server": "https://10.0.0.1", "namespace": "web"}});
    let n = parse(&data).unwrap();
    let with = |pairs: &[(&str, &str)]| ArgocdSettings {
        environments: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..ArgocdSettings::default()
    };
    let lookup = |pairs: &[(&str, &str)]| mapped_environment(&with(pairs), &n);
    assert_eq!(lookup(&[]), None);
    assert_eq!(
        lookup(&[("prod-eu", "production")]).as_deref(),
        Some("production")
    );
    assert_eq!(
        lookup(&[("prod-eu", "a"), ("web", "b")]).as_deref(),
        Some("b")
    );
    assert_eq!(
        lookup(&[("web", "b"), ("https://10.0.0.1/web", "c")]).as_deref(),
        Some("c")
    );
    assert_eq!(
        lookup(&[("https://10.0.0.1/web", "c"), ("prod-eu/web", "d")]).as_deref(),
        Some("d")
    );
}

#[test]
fn settings_default_and_partial_configuration() {
    let settings = ArgocdSettings::default();
    assert_eq!(
        settings.deployed_triggers,
        ["on-deployed", "on-sync-succeeded"]
    );
    assert_eq!(settings.failed_triggers, ["on-sync-failed"]);
    assert_eq!(settings.incident_triggers, ["on-health-degraded"]);
    let partial: ArgocdSettings =
        serde_json::from_value(json!({"environments": {"prod": "production"}})).unwrap();
    assert_eq!(partial.environments["prod"], "production");
    assert_eq!(partial.resolved_triggers, ["on-health-recovered"]);
}

#[test]
fn only_the_last_two_history_entries_are_read() {
    let history = |history: Value| {
        let data = json!({"trigger": "t", "app": {"name": "a"}, "history": history});
        let picked = |n: Notification| {
            let revisions = n.history.iter().map(Rollout::picked_revision);
            revisions.map(|r| r.map(str::to_owned)).collect::<Vec<_>>()
        };
        parse(&data).map(picked).map_err(|e| e.pointer)
    };
    let two = Ok(vec![Some("b".to_owned()), Some(SHA.to_owned())]);
    let entries = json!([5, {"revision": "b"}, {"revisions": ["1.0", SHA]}]);
    assert_eq!(history(entries), two);
    assert_eq!(history(json!([{}, {}, 5])), Err("/history/2".to_owned()));
    assert_eq!(history(json!(null)), Ok(vec![]));
    assert_eq!(history(json!({})), Err("/history".to_owned()));
}

#[test]
fn members_are_named_by_their_json_pointer() {
    let error = |app: Value| parse(&json!({"trigger": "t", "app": app})).unwrap_err();
    assert_eq!(
        error(json!({"name": "a", "labels": {"a/b~": null}})),
        FieldError::new("/app/labels/a~1b~0", "must be a string")
    );
    assert_eq!(
        error(json!({"name": " "})),
        FieldError::new("/app/name", "is required (the application name)")
    );
    assert_eq!(
        error(json!(null)),
        FieldError::new("/app", "is required (an object)")
    );
    assert_eq!(
        parse(&json!([])).unwrap_err(),
        FieldError::new("", "an Argo CD notification must be a JSON object")
    );
}
