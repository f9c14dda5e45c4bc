//! Unit tests of the gitlab transformer.

#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::code_host::{checked_documents, source_event};
use crate::common::time_at;
use crate::transform::Transformer;
use crate::transform::{INCIDENT_DETECTED, INCIDENT_RESOLVED};
use dora_model::time::parse_rfc3339;

fn cloud_event(gitlab_event: &str, data: Value) -> CloudEvent {
    source_event(
        "0d3e2c5a-5b1e-4a5e-9a3c-6f3f1d2b9c01",
        "https://gitlab.example.com/acme/shop",
        format!("{TYPE_PREFIX}{gitlab_event}"),
        data,
    )
}

fn run_with(
    settings: GitlabSettings,
    gitlab_event: &str,
    data: Value,
) -> Result<Vec<Value>, TransformError> {
    checked_documents(
        &GitlabTransformer::new(settings),
        &cloud_event(gitlab_event, data),
    )
}

fn run(gitlab_event: &str, data: Value) -> Result<Vec<Value>, TransformError> {
    run_with(GitlabSettings::default(), gitlab_event, data)
}

fn error(gitlab_event: &str, data: Value) -> String {
    run(gitlab_event, data).unwrap_err().reason
}

fn project_json() -> Value {
    json!({
        "id": 7,
        "name": "Shop",
        "path_with_namespace": "acme/platform/shop",
        "web_url": "https://gitlab.example.com/acme/platform/shop",
        "default_branch": "main"
    })
}

fn deployment_json(status: &str) -> Value {
    json!({
        "object_kind": "deployment",
        "status": status,
        "status_changed_at": "2024-01-02 04:04:05 +0100",
        "deployment_id": 15,
        "environment": "production",
        "project": project_json(),
        "short_sha": "279484c0",
        "commit_url": "https://gitlab.example.com/acme/platform/shop/-/commit/279484c09fbe69ededfced8c1bb6e6d24616b468",
        "ref": "main"
    })
}

fn issue_json(action: &str, labels: Value) -> Value {
    json!({
        "object_kind": "issue",
        "project": project_json(),
        "object_attributes": {"iid": 4, "title": "Checkout down", "action": action,
                              "state": if action == "close" { "closed" } else { "opened" },
                              "created_at": "2024-01-01 10:00:00 UTC",
                              "updated_at": "2024-01-01 12:30:00 UTC"},
        "labels": labels
    })
}

#[test]
fn the_three_gitlab_time_formats_parse_to_the_same_instant() {
    let data = json!({"rfc": "2016-08-12T17:23:28+02:00", "utc": "2016-08-12 15:23:28 UTC",
                      "offset": "2016-08-12 17:23:28 +0200", "bad": "2016-08-12 15:23:28 CEST"});
    for key in ["rfc", "utc", "offset"] {
        let time = time_at(&data, key).unwrap().unwrap();
        assert_eq!(format_rfc3339(&time), "2016-08-12T15:23:28Z", "{key}");
    }
    assert_eq!(
        time_at(&data, "bad").unwrap_err().reason,
        "data.bad \"2016-08-12 15:23:28 CEST\" is not a timestamp"
    );
}

#[test]
fn settings_default_and_partial_configuration() {
    let settings = GitlabSettings::default();
    assert_eq!(settings.incident_label, "incident");
    assert_eq!(settings.default_environment, "production");
    let partial: GitlabSettings =
        serde_json::from_value(json!({"default_environment": "prod"})).unwrap();
    assert_eq!(partial.incident_label, "incident");
    assert_eq!(partial.default_environment, "prod");
    assert!(serde_json::from_value::<GitlabSettings>(json!({"token": "x"})).is_err());
}

#[test]
fn purls_are_generic_with_the_project_as_vcs_url() {
    assert_eq!(
        gitlab_purl(
            "acme/platform/shop",
            Some("279484c0"),
            "https://gitlab.example.com/acme/platform/shop"
        ),
        "pkg:generic/acme/platform/shop@279484c0\
         ?vcs_url=git%2Bhttps://gitlab.example.com/acme/platform/shop"
    );
    assert_eq!(
        gitlab_purl("a b/c+d", None, "http://h:3000/a%20b/c+d"),
        "pkg:generic/a%20b/c%2Bd?vcs_url=git%2Bhttp://h:3000/a%2520b/c%2Bd"
    );
}

#[test]
fn pipeline_statuses_map_to_outcomes_or_nothing() {
    for (status, outcome) in [
        ("success", "success"),
        ("failed", "failure"),
        ("canceled", "cancel"),
        ("skipped", "cancel"),
    ] {
        assert_eq!(pipeline_outcome(status), Some(outcome), "{status}");
        assert!(!PIPELINE_NOT_DONE.contains(&status));
    }
    for status in PIPELINE_NOT_DONE {
        assert_eq!(pipeline_outcome(status), None);
        let data = json!({"project": project_json(),
            "object_attributes": {"id": 1, "status": status}});
        assert!(run("pipeline", data).unwrap().is_empty(), "{status}");
    }
    let data = json!({"project": project_json(),
        "object_attributes": {"id": 1, "status": "exploded",
                              "finished_at": "2024-01-01 00:00:00 UTC"}});
    assert_eq!(
        error("pipeline", data),
        "data.object_attributes.status \"exploded\" is not a known pipeline status"
    );
}

#[test]
fn pipeline_without_name_or_url_uses_the_project() {
    let data = json!({"project": project_json(),
        "object_attributes": {"id": 9, "status": "failed", "ref": "v1.0", "tag": true,
                              "sha": "abc", "finished_at": "2024-01-01 00:00:00 UTC"}});
    let out = run("pipeline", data).unwrap();
    let content = &out[0]["subject"]["content"];
    assert_eq!(content["pipelineName"], "acme/platform/shop");
    assert_eq!(
        content["uri"],
        "https://gitlab.example.com/acme/platform/shop/-/pipelines/9"
    );
    assert_eq!(content["outcome"], "failure");
    assert_eq!(out[0]["customData"]["dora"]["tag"], "v1.0");
    assert!(out[0]["customData"]["dora"].get("branch").is_none());
    assert_eq!(out[0]["subject"]["id"], "9");
}

#[test]
fn deployment_revision_comes_from_the_commit_url_and_short_sha_stays_apart() {
    let out = run("deployment", deployment_json("success")).unwrap();
    assert_eq!(out.len(), 1);
    let document = &out[0];
    assert_eq!(document["context"]["type"], SERVICE_DEPLOYED);
    assert_eq!(document["subject"]["id"], "shop");
    assert_eq!(document["context"]["timestamp"], "2024-01-02T03:04:05Z");
    let dora = &document["customData"]["dora"];
    assert_eq!(dora["revision"], "279484c09fbe69ededfced8c1bb6e6d24616b468");
    assert_eq!(dora["shortRevision"], "279484c0");
    assert_eq!(dora["outcome"], "success");
    assert_eq!(
        document["subject"]["content"]["artifactId"],
        "pkg:generic/acme/platform/shop@279484c09fbe69ededfced8c1bb6e6d24616b468\
         ?vcs_url=git%2Bhttps://gitlab.example.com/acme/platform/shop"
    );

    // A commit URL that does not end in a full SHA, or in another commit: short SHA only.
    for url in [
        Some("https://gitlab.example.com/acme/platform/shop/-/commit/279484c0"),
        Some("https://gitlab.example.com/acme/platform/shop/-/commit/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
        Some("https://gitlab.example.com/acme/platform/shop/-/tree/279484c09fbe69ededfced8c1bb6e6d24616b468"),
        None,
    ] {
        let mut data = deployment_json("success");
        match url {
            Some(url) => data["commit_url"] = json!(url),
            None => {
                data.as_object_mut().unwrap().remove("commit_url");
            }
        }
        let out = run("deployment", data).unwrap();
        let dora = &out[0]["customData"]["dora"];
        assert!(dora.get("revision").is_none(), "{url:?}");
        assert_eq!(dora["shortRevision"], "279484c0");
        assert_eq!(
            out[0]["subject"]["content"]["artifactId"],
            "pkg:generic/acme/platform/shop@279484c0\
             ?vcs_url=git%2Bhttps://gitlab.example.com/acme/platform/shop"
        );
        assert_eq!(out[0]["context"]["id"], document["context"]["id"]);
    }
}

#[test]
fn deployment_statuses() {
    let success = run("deployment", deployment_json("success")).unwrap();
    let failed = run("deployment", deployment_json("failed")).unwrap();
    assert_eq!(failed[0]["customData"]["dora"]["outcome"], "failure");
    assert_eq!(failed[0]["context"]["id"], success[0]["context"]["id"]);
    for status in ["running", "canceled", "created", "blocked"] {
        assert!(run("deployment", deployment_json(status))
            .unwrap()
            .is_empty());
    }
}

#[test]
fn malformed_payloads_name_the_field() {
    let mut data = deployment_json("success");
    data.as_object_mut().unwrap().remove("environment");
    assert_eq!(error("deployment", data), "data.environment is missing");
    let mut data = deployment_json("success");
    data["status_changed_at"] = json!("28/04/2021");
    assert_eq!(
        error("deployment", data),
        "data.status_changed_at \"28/04/2021\" is not a timestamp"
    );
    let mut data = deployment_json("success");
    data.as_object_mut().unwrap().remove("status_changed_at");
    assert_eq!(
        error("deployment", data),
        "no timestamp: data.status_changed_at is missing and the CloudEvent has no time"
    );
    let mut data = deployment_json("success");
    data.as_object_mut().unwrap().remove("project");
    assert_eq!(error("deployment", data), "data.project is missing");
    let merge = json!({"project": project_json(),
        "object_attributes": {"action": "merge", "iid": "3",
                              "created_at": "2024-01-01T00:00:00Z"}});
    assert_eq!(
        error("merge_request", merge),
        "data.object_attributes.iid is not a whole number"
    );
    let merge = json!({"project": project_json(),
        "object_attributes": {"action": "merge", "iid": 3,
                              "created_at": "2024-01-01T00:00:00Z",
                              "updated_at": "2024-01-02T00:00:00Z"}});
    assert!(error("merge_request", merge)
        .starts_with("data.object_attributes.merge_commit_sha is missing"));
    let push = json!({"ref": "refs/heads/main", "before": "a", "after": "b",
        "project": project_json(), "commits": [{"id": "b", "timestamp": "soon"}]});
    assert_eq!(
        error("push", push),
        "data.commits[0].timestamp \"soon\" is not a timestamp"
    );
    let push = json!({"ref": "refs/heads/main", "before": "a", "after": "b",
        "project": project_json(), "commits": [{"id": "b"}]});
    assert_eq!(
        error("push", push),
        "no timestamp: data.commits[].timestamp are missing and the CloudEvent has no time"
    );
    assert_eq!(error("push", json!([1])), "data is not a JSON object");
    let data = json!({"project": {"path_with_namespace": "/x"}, "status": "success",
        "deployment_id": 1, "environment": "e", "status_changed_at": "2024-01-01T00:00:00Z"});
    assert!(error("deployment", data).contains("is not <namespace>/<project>"));
}

#[test]
fn merge_sha_falls_back_to_the_squash_then_the_head_commit() {
    let data = |attributes: Value| {
        let mut base = json!({"action": "merge", "iid": 3, "state": "merged",
            "created_at": "2024-01-01 00:00:00 UTC", "updated_at": "2024-01-02 00:00:00 UTC",
            "last_commit": {"id": "head"}});
        for (key, value) in attributes.as_object().unwrap() {
            base[key] = value.clone();
        }
        json!({"project": project_json(), "object_attributes": base})
    };
    let out = run(
        "merge_request",
        data(json!({"merge_commit_sha": "m", "squash_commit_sha": "s"})),
    )
    .unwrap();
    assert_eq!(out[0]["customData"]["dora"]["mergeSha"], "m");
    assert_eq!(
        out[0]["customData"]["gitlab"]["mergeShaFrom"],
        "merge_commit_sha"
    );
    let out = run(
        "merge_request",
        data(json!({"merge_commit_sha": null, "squash_commit_sha": "s"})),
    )
    .unwrap();
    assert_eq!(out[0]["customData"]["dora"]["mergeSha"], "s");
    let out = run("merge_request", data(json!({}))).unwrap();
    assert_eq!(out[0]["customData"]["dora"]["mergeSha"], "head");
    assert_eq!(
        out[0]["customData"]["gitlab"]["mergeShaFrom"],
        "last_commit.id"
    );
    assert_eq!(out[0]["context"]["timestamp"], "2024-01-02T00:00:00Z");
    assert_eq!(out[0]["subject"]["id"], "acme/platform/shop!3");
    for action in ["update", "reopen", "approved", "unapproved"] {
        assert!(run("merge_request", data(json!({"action": action})))
            .unwrap()
            .is_empty());
    }
}

#[test]
fn incidents_by_label_or_by_type_with_scoped_labels() {
    let out = run(
        "issue",
        issue_json(
            "open",
            json!([{"title": "Incident"}, {"title": "env::staging"},
                   {"title": "service::billing"}]),
        ),
    )
    .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["context"]["type"], INCIDENT_DETECTED);
    assert_eq!(out[0]["subject"]["content"]["environment"]["id"], "staging");
    assert_eq!(out[0]["subject"]["content"]["service"]["id"], "billing");
    assert_eq!(out[0]["context"]["timestamp"], "2024-01-01T10:00:00Z");
    let out = run(
        "issue",
        issue_json(
            "open",
            json!([{"title": "incident"}, {"title": "Environment: qa"}]),
        ),
    )
    .unwrap();
    assert_eq!(out[0]["subject"]["content"]["environment"]["id"], "qa");
    assert_eq!(out[0]["subject"]["content"]["service"]["id"], "shop");
    assert!(run("issue", issue_json("open", json!([{"title": "bug"}])))
        .unwrap()
        .is_empty());

    for (key, value) in [("type", "Incident"), ("issue_type", "incident")] {
        let mut data = issue_json("open", json!([]));
        data["object_attributes"][key] = json!(value);
        let out = run("confidential_issue", data).unwrap();
        assert_eq!(out.len(), 1, "{key}");
        assert_eq!(
            out[0]["subject"]["content"]["environment"]["id"],
            "production"
        );
    }

    let settings = GitlabSettings {
        incident_label: "sev1".into(),
        default_environment: "prod".into(),
        ..Default::default()
    };
    let out = run_with(
        settings,
        "issue",
        issue_json("open", json!([{"title": "SEV1"}])),
    )
    .unwrap();
    assert_eq!(out[0]["subject"]["content"]["environment"]["id"], "prod");
}

#[test]
fn closing_resolves_and_edits_of_closed_incidents_resolve_too() {
    let out = run("issue", issue_json("close", json!([{"title": "incident"}]))).unwrap();
    let types: Vec<&Value> = out.iter().map(|d| &d["context"]["type"]).collect();
    assert_eq!(types, [INCIDENT_DETECTED, INCIDENT_RESOLVED]);
    // No closed_at: the close's updated_at.
    assert_eq!(out[1]["context"]["timestamp"], "2024-01-01T12:30:00Z");
    assert_eq!(
        out[1]["customData"]["dora"]["resolvedAt"],
        "2024-01-01T12:30:00Z"
    );

    let mut data = issue_json("update", json!([{"title": "incident"}]));
    data["object_attributes"]["state"] = json!("closed");
    // An edit of a closed issue without closed_at: detected only.
    assert_eq!(run("issue", data.clone()).unwrap().len(), 1);
    data["object_attributes"]["closed_at"] = json!("2024-01-01 11:00:00 UTC");
    let out = run("issue", data).unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(out[1]["context"]["timestamp"], "2024-01-01T11:00:00Z");

    let mut data = issue_json("close", json!([{"title": "incident"}]));
    data["object_attributes"]
        .as_object_mut()
        .unwrap()
        .remove("updated_at");
    assert_eq!(
        error("issue", data),
        "data.object_attributes.closed_at is missing"
    );
}

#[test]
fn pushes_without_commits_tags_and_deletions_give_nothing() {
    let base = json!({"ref": "refs/heads/main", "before": "a", "after": "b",
        "project": project_json(), "commits": []});
    assert!(run("push", base.clone()).unwrap().is_empty());
    let mut tag = base.clone();
    tag["ref"] = json!("refs/tags/v1");
    tag["commits"] = json!([{"id": "b", "timestamp": "2024-01-01T00:00:00Z"}]);
    assert!(run("push", tag).unwrap().is_empty());
    let mut deleted = base;
    deleted["after"] = json!("0000000000000000000000000000000000000000");
    deleted["commits"] = json!([{"id": "b", "timestamp": "2024-01-01T00:00:00Z"}]);
    assert!(run("push", deleted).unwrap().is_empty());
}

#[test]
fn push_time_is_the_head_commit_else_the_latest_else_the_cloudevent() {
    let mut data = json!({"ref": "refs/heads/dev", "before": "a", "after": "c",
        "project": {"path_with_namespace": "o/r"},
        "commits": [{"id": "c", "timestamp": "2024-05-01T10:00:00+02:00"},
                    {"id": "b", "timestamp": "2024-05-01 09:00:00 UTC"}]});
    let out = run("push", data.clone()).unwrap();
    assert_eq!(out[0]["context"]["timestamp"], "2024-05-01T08:00:00Z");
    // Without a web_url: gitlab.com.
    assert_eq!(out[0]["context"]["source"], "https://gitlab.com/o/r");
    assert!(out[0]["customData"]["dora"].get("defaultBranch").is_none());
    data["after"] = json!("d");
    let out = run("push", data.clone()).unwrap();
    assert_eq!(out[0]["context"]["timestamp"], "2024-05-01T09:00:00Z");
    data["commits"] = json!([{"id": "d"}]);
    let mut event = cloud_event("push", data);
    event.time = parse_rfc3339("2024-06-01T00:00:00Z");
    let out = GitlabTransformer::new(GitlabSettings::default())
        .documents(&event)
        .unwrap();
    assert_eq!(out[0]["context"]["timestamp"], "2024-06-01T00:00:00Z");
}

/// The project of a payload.
fn project_of(data: &Value) -> Result<Repository<'_>, TransformError> {
    project(&read::<payload::Project>(&data["project"])?)
}

#[test]
fn project_url_and_server() {
    let data = json!({"project": {"path_with_namespace": "g/s/p",
                                  "web_url": "http://10.0.0.1:3000/g/s/p/"}});
    let parsed = project_of(&data).unwrap();
    assert_eq!(parsed.url, "http://10.0.0.1:3000/g/s/p");
    assert_eq!(parsed.server, "http://10.0.0.1:3000");
    assert_eq!(parsed.name, "p");
    let data = json!({"project": {"path_with_namespace": "g/p",
                                  "web_url": "https://example.com/other/place"}});
    assert_eq!(project_of(&data).unwrap().server, "https://example.com");
    let data = json!({"project": {"path_with_namespace": "g/p", "web_url": "not a url",
                                  "homepage": "https://h.example/g/p"}});
    assert_eq!(project_of(&data).unwrap().url, "https://h.example/g/p");
}

#[test]
fn unknown_events_and_foreign_types_give_nothing() {
    for event in [
        "tag_push",
        "job",
        "build",
        "note",
        "release",
        "wiki_page",
        "system",
    ] {
        assert!(run(event, json!({"object_kind": event}))
            .unwrap()
            .is_empty());
    }
    let foreign = CloudEvent::from_json_value(json!({
        "specversion": "1.0", "id": "1", "source": "x", "type": "com.example.push",
        "data": {"ref": 1}
    }))
    .unwrap();
    let transformer = GitlabTransformer::new(GitlabSettings::default());
    assert!(transformer.documents(&foreign).unwrap().is_empty());
}

#[test]
fn ignored_actions_and_statuses_need_no_other_field() {
    for (gitlab_event, data) in [
        (
            "merge_request",
            json!({"object_attributes": {"action": "update"}}),
        ),
        ("issue", json!({"object_attributes": {"action": "delete"}})),
        ("issue", json!({"object_attributes": {"action": "open"}})),
        (
            "pipeline",
            json!({"object_attributes": {"status": "running"}}),
        ),
        ("deployment", json!({"status": "running"})),
        ("push", json!({"ref": "refs/tags/v1", "after": "b"})),
        (
            "push",
            json!({"ref": "refs/heads/main", "after": "0000000000"}),
        ),
        (
            "push",
            json!({"ref": "refs/heads/main", "after": "b", "commits": []}),
        ),
    ] {
        assert!(
            run(gitlab_event, data.clone()).unwrap().is_empty(),
            "{data}"
        );
    }
    assert_eq!(
        error("merge_request", json!({"object_attributes": {}})),
        "data.object_attributes.action is missing"
    );
}

#[test]
fn malformed_labels_name_the_label() {
    let data = issue_json("open", json!([{"title": "incident"}, {"color": "red"}]));
    assert_eq!(error("issue", data), "data.labels[1].title is missing");
    let data = issue_json("open", json!({"title": "incident"}));
    assert_eq!(error("issue", data), "data.labels is not an array");
}
