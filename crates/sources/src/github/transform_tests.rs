//! Unit tests of the github transformer.

#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::code_host::{checked_documents, source_event};
use crate::common::time_at;
use crate::transform::Transformer;
use dora_model::time::parse_rfc3339;

fn cloud_event(github_event: &str, data: Value) -> CloudEvent {
    source_event(
        "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "https://github.com/octo-org/octo-repo",
        format!("{TYPE_PREFIX}{github_event}"),
        data,
    )
}

fn run(github_event: &str, data: Value) -> Result<Vec<Value>, TransformError> {
    let transformer = GithubTransformer::new(GithubSettings::default());
    checked_documents(&transformer, &cloud_event(github_event, data))
}

fn error(github_event: &str, data: Value) -> String {
    run(github_event, data).unwrap_err().reason
}

fn repository_json() -> Value {
    json!({
        "name": "Octo-Repo",
        "full_name": "Octo-Org/Octo-Repo",
        "html_url": "https://github.com/Octo-Org/Octo-Repo",
        "default_branch": "main",
        "pushed_at": 1_700_000_000
    })
}

fn deployment_status_json(state: &str) -> Value {
    json!({
        "action": "created",
        "deployment_status": {"id": 2, "state": state, "updated_at": "2024-01-02T03:04:05Z"},
        "deployment": {"id": 1, "sha": "abc123", "environment": "staging", "ref": "main",
                       "payload": {}},
        "repository": repository_json()
    })
}

#[test]
fn settings_default_and_partial_configuration() {
    let settings = GithubSettings::default();
    assert_eq!(settings.incident_label, "incident");
    assert_eq!(settings.default_environment, "production");
    let partial: GithubSettings = serde_json::from_value(json!({"incident_label": "sev"}))
        .expect("partial settings deserialize");
    assert_eq!(partial.incident_label, "sev");
    assert_eq!(partial.default_environment, "production");
    assert!(serde_json::from_value::<GithubSettings>(json!({"incident": "x"})).is_err());
}

#[test]
fn purls_are_lowercased_and_encoded() {
    assert_eq!(
        github_purl("Octo-Org", "Octo.Repo", "v1.0+build"),
        "pkg:github/octo-org/octo.repo@v1.0%2Bbuild"
    );
}

#[test]
fn workflow_conclusions_map_to_outcomes() {
    for (conclusion, outcome) in [
        ("success", "success"),
        ("neutral", "success"),
        ("failure", "failure"),
        ("timed_out", "failure"),
        ("cancelled", "cancel"),
        ("skipped", "cancel"),
        ("stale", "cancel"),
        ("action_required", "cancel"),
        ("startup_failure", "error"),
    ] {
        assert_eq!(run_outcome(conclusion), Some(outcome), "{conclusion}");
    }
    assert_eq!(run_outcome("exploded"), None);
}

#[test]
fn pushed_at_is_rfc3339_or_unix_seconds() {
    let data = json!({"a": "2019-05-15T15:20:30-05:00", "b": 1_557_933_657, "c": "soon",
                      "d": true});
    assert_eq!(
        format_rfc3339(&time_at(&data, "a").unwrap().unwrap()),
        "2019-05-15T20:20:30Z"
    );
    assert_eq!(
        format_rfc3339(&time_at(&data, "b").unwrap().unwrap()),
        "2019-05-15T15:20:57Z"
    );
    assert_eq!(
        time_at(&data, "c").unwrap_err().reason,
        "data.c \"soon\" is not a timestamp"
    );
    assert_eq!(
        time_at(&data, "d").unwrap_err().reason,
        "data.d true is not a timestamp"
    );
    assert_eq!(time_at(&data, "e").unwrap(), None);
}

/// The repository of a payload.
fn repository_of(data: &Value) -> Result<Repository<'_>, TransformError> {
    repository(&read::<payload::Repository>(&data["repository"])?)
}

#[test]
fn repository_url_and_server() {
    let data =
        json!({"repository": {"full_name": "o/r", "html_url": "https://ghe.example.com/o/r"}});
    let repo = repository_of(&data).unwrap();
    assert_eq!(repo.url, "https://ghe.example.com/o/r");
    assert_eq!(repo.server, "https://ghe.example.com");
    let data = json!({"repository": {"full_name": "o/r"}});
    let repo = repository_of(&data).unwrap();
    assert_eq!(repo.url, "https://github.com/o/r");
    assert_eq!(repo.server, "https://github.com");
    for bad in ["o", "/r", "o/", "o/r/x"] {
        let data = json!({"repository": {"full_name": bad}});
        assert!(repository_of(&data)
            .err()
            .unwrap()
            .reason
            .contains("is not <owner>/<name>"));
    }
}

#[test]
fn deployment_states() {
    let success = run("deployment_status", deployment_status_json("success")).unwrap();
    assert_eq!(success.len(), 1);
    let document = &success[0];
    assert_eq!(document["context"]["type"], SERVICE_DEPLOYED);
    assert_eq!(document["subject"]["id"], "Octo-Repo");
    assert_eq!(
        document["subject"]["content"]["artifactId"],
        "pkg:github/octo-org/octo-repo@abc123"
    );
    assert_eq!(
        document["subject"]["content"]["environment"]["id"],
        "staging"
    );
    assert_eq!(document["customData"]["dora"]["revision"], "abc123");
    assert_eq!(document["customData"]["dora"]["outcome"], "success");
    assert_eq!(document["context"]["timestamp"], "2024-01-02T03:04:05Z");
    for state in ["failure", "error"] {
        let failed = run("deployment_status", deployment_status_json(state)).unwrap();
        assert_eq!(failed[0]["customData"]["dora"]["outcome"], "failure");
        assert_eq!(failed[0]["context"]["id"], document["context"]["id"]);
    }
    for state in ["pending", "queued", "in_progress", "inactive"] {
        assert!(run("deployment_status", deployment_status_json(state))
            .unwrap()
            .is_empty());
    }
}

#[test]
fn deployment_payload_may_name_the_service() {
    let mut data = deployment_status_json("success");
    data["deployment"]["payload"] = json!({"service": "billing"});
    assert_eq!(
        run("deployment_status", data.clone()).unwrap()[0]["subject"]["id"],
        "billing"
    );
    data["deployment"]["payload"] = json!({"service": 3});
    assert_eq!(
        error("deployment_status", data),
        "data.deployment.payload.service is not a non-empty string"
    );
}

#[test]
fn malformed_payloads_name_the_field() {
    let mut data = deployment_status_json("success");
    data["deployment"].as_object_mut().unwrap().remove("sha");
    assert_eq!(
        error("deployment_status", data),
        "data.deployment.sha is missing"
    );
    let mut data = deployment_status_json("success");
    data["deployment"]
        .as_object_mut()
        .unwrap()
        .remove("environment");
    assert_eq!(
        error("deployment_status", data),
        "data.deployment.environment is missing"
    );
    let mut data = deployment_status_json("success");
    data.as_object_mut().unwrap().remove("repository");
    assert_eq!(
        error("deployment_status", data),
        "data.repository is missing"
    );
    let mut data = deployment_status_json("success");
    data["deployment_status"]
        .as_object_mut()
        .unwrap()
        .remove("updated_at");
    assert_eq!(
        error("deployment_status", data),
        "no timestamp: data.deployment_status.updated_at, data.deployment_status.created_at \
         are missing and the CloudEvent has no time"
    );
    let pull = json!({"action": "closed", "repository": repository_json(),
                      "pull_request": {"number": "7"}});
    assert_eq!(
        error("pull_request", pull),
        "data.pull_request.number is not a whole number"
    );
    let pull = json!({"action": "closed", "repository": repository_json(),
        "pull_request": {"number": 7, "created_at": "2024-01-01T00:00:00Z",
                         "head": {"sha": "h"}, "merged": true,
                         "merged_at": "2024-01-02T00:00:00Z"}});
    assert_eq!(
        error("pull_request", pull),
        "data.pull_request.merge_commit_sha is missing"
    );
    let push = json!({"ref": "refs/heads/main", "before": "a", "after": "b",
        "repository": repository_json(), "commits": [{"id": "b", "timestamp": "yesterday"}]});
    assert_eq!(
        error("push", push),
        "data.commits[0].timestamp \"yesterday\" is not a timestamp"
    );
    let run_data = json!({"action": "completed", "repository": repository_json(),
        "workflow_run": {"id": 5, "conclusion": "exploded", "updated_at": "2024-01-01T00:00:00Z"}});
    assert_eq!(
        error("workflow_run", run_data),
        "data.workflow_run.conclusion \"exploded\" is not a known workflow run conclusion"
    );
    assert_eq!(error("push", json!([1])), "data is not a JSON object");
}

#[test]
fn ping_unknown_events_and_foreign_types_give_nothing() {
    assert!(run("ping", json!({"zen": "Keep it logically awesome."}))
        .unwrap()
        .is_empty());
    assert!(run("star", json!(null)).unwrap().is_empty());
    let foreign = CloudEvent::from_json_value(json!({
        "specversion": "1.0", "id": "1", "source": "x", "type": "com.example.push",
        "data": {"ref": 1}
    }))
    .unwrap();
    let transformer = GithubTransformer::new(GithubSettings::default());
    assert!(transformer.documents(&foreign).unwrap().is_empty());
}

#[test]
fn pushes_without_commits_tags_and_deletions_give_nothing() {
    let base = json!({"ref": "refs/heads/main", "before": "a", "after": "b",
        "repository": repository_json(), "commits": []});
    assert!(run("push", base.clone()).unwrap().is_empty());
    let mut tag = base.clone();
    tag["ref"] = json!("refs/tags/v1");
    tag["commits"] = json!([{"id": "b"}]);
    assert!(run("push", tag).unwrap().is_empty());
    let mut deleted = base;
    deleted["deleted"] = json!(true);
    deleted["commits"] = json!([{"id": "b"}]);
    assert!(run("push", deleted).unwrap().is_empty());
}

#[test]
fn push_time_falls_back_to_the_head_commit_then_the_cloudevent() {
    let mut data = json!({"ref": "refs/heads/dev", "before": "a", "after": "b",
        "repository": {"full_name": "o/r"},
        "commits": [{"id": "b", "message": "\nsecond line"}],
        "head_commit": {"timestamp": "2024-05-01T10:00:00+02:00"}});
    let document = run("push", data.clone()).unwrap().remove(0);
    assert_eq!(document["context"]["timestamp"], "2024-05-01T08:00:00Z");
    assert_eq!(
        document["customData"]["dora"]["commits"],
        json!([{"sha": "b"}])
    );
    assert!(document["customData"]["dora"]
        .get("default_branch")
        .is_none());
    data.as_object_mut().unwrap().remove("head_commit");
    let mut event = cloud_event("push", data);
    event.time = parse_rfc3339("2024-06-01T00:00:00Z");
    let out = GithubTransformer::new(GithubSettings::default())
        .documents(&event)
        .unwrap();
    assert_eq!(out[0]["context"]["timestamp"], "2024-06-01T00:00:00Z");
}

#[test]
fn incident_labels_choose_service_and_environment() {
    let data = |labels: Value| {
        json!({"action": "opened", "repository": repository_json(),
            "issue": {"number": 4, "title": "Down", "state": "open", "labels": labels,
                      "created_at": "2024-01-01T00:00:00Z"}})
    };
    let out = run(
        "issues",
        data(json!([{"name": "Incident"}, {"name": "env: staging"},
                    {"name": "Service:billing"}])),
    )
    .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["subject"]["content"]["environment"]["id"], "staging");
    assert_eq!(out[0]["subject"]["content"]["service"]["id"], "billing");
    let out = run("issues", data(json!([{"name": "incident"}]))).unwrap();
    assert_eq!(
        out[0]["subject"]["content"]["environment"]["id"],
        "production"
    );
    assert_eq!(out[0]["subject"]["content"]["service"]["id"], "Octo-Repo");
    assert!(run("issues", data(json!([{"name": "bug"}])))
        .unwrap()
        .is_empty());

    let settings = GithubSettings {
        incident_label: "sev1".into(),
        default_environment: "prod".into(),
        ..Default::default()
    };
    let out = GithubTransformer::new(settings)
        .documents(&cloud_event("issues", data(json!([{"name": "SEV1"}]))))
        .unwrap();
    assert_eq!(out[0]["subject"]["content"]["environment"]["id"], "prod");
}

#[test]
fn labeling_a_closed_issue_detects_and_resolves_it() {
    let data = json!({"action": "labeled", "label": {"name": "incident"},
        "repository": repository_json(),
        "issue": {"number": 4, "state": "closed", "labels": [{"name": "incident"}],
                  "created_at": "2024-01-01T00:00:00Z", "closed_at": "2024-01-01T02:00:00Z"}});
    let out = run("issues", data).unwrap();
    let types: Vec<&Value> = out.iter().map(|d| &d["context"]["type"]).collect();
    assert_eq!(types, [INCIDENT_DETECTED, INCIDENT_RESOLVED]);
    assert_eq!(out[1]["context"]["timestamp"], "2024-01-01T02:00:00Z");
    assert_eq!(out[0]["subject"]["id"], out[1]["subject"]["id"]);
}

#[test]
fn ignored_actions_and_states_need_no_other_field() {
    for (github_event, data) in [
        ("pull_request", json!({"action": "synchronize"})),
        ("pull_request", json!({"action": "edited"})),
        ("issues", json!({"action": "deleted"})),
        ("issues", json!({"action": "opened"})),
        ("workflow_run", json!({"action": "requested"})),
        ("release", json!({"action": "created"})),
        (
            "deployment_status",
            json!({"deployment_status": {"state": "pending"}}),
        ),
        ("push", json!({"ref": "refs/tags/v1"})),
    ] {
        assert!(
            run(github_event, data.clone()).unwrap().is_empty(),
            "{data}"
        );
    }
    assert_eq!(error("pull_request", json!({})), "data.action is missing");
}

#[test]
fn malformed_lists_name_the_item() {
    let push = json!({"ref": "refs/heads/main", "before": "a", "after": "b",
        "repository": repository_json(),
        "commits": [{"id": "a"}, {"id": "b"}, {"id": 3}]});
    assert_eq!(error("push", push), "data.commits[2].id is not a string");
    let labeled = json!({"action": "labeled", "label": {"name": "incident"},
        "issue": {"labels": [{"name": "incident"}, {"color": "red"}]}});
    assert_eq!(
        error("issues", labeled),
        "data.issue.labels[1].name is missing"
    );
    let labeled = json!({"action": "labeled", "issue": {"labels": []}});
    assert_eq!(error("issues", labeled), "data.label.name is missing");
}
