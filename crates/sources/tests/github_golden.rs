//! Golden tests of the `github` transformer: every directory under `tests/fixtures/github/`
//! (repository root) holds `input.json` (a CloudEvent in structured JSON, as `POST
//! /webhooks/github` or a Knative GitHubSource makes it), optionally `settings.json`
//! (`[sources.github]` for that case), and `expected.json` (the JSON array of CDEvents it must
//! give). With `DORA_UPDATE_GOLDEN=1` the expected files are rewritten from the current output.
//!
//! Every emitted CDEvent must validate against the official CDEvents v0.5.1 schemas
//! (`dora_spec`), and the rules of the transformer (what becomes which CDEvent, which inputs
//! share an id, what gives nothing) are asserted on the fixtures, so that a wrong implementation
//! fails even after a careless golden update.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::WithServices;

use common::{
    assert_unmapped_types_give_nothing, declared_types, each_case_twice, event_type, id, read_json,
    services_of,
};
use dora_sources::github::{
    self, GithubSettings, GithubTransformer, ARTIFACT_PUBLISHED, CHANGE_ABANDONED, CHANGE_CREATED,
    CHANGE_MERGED, CHANGE_UPDATED, INCIDENT_DETECTED, INCIDENT_RESOLVED, PIPELINERUN_FINISHED,
};
use dora_sources::transform::SERVICE_DEPLOYED;
use serde_json::{json, Value};

golden_tool!("github", WithServices<GithubSettings>, transformer, golden_minimum: 39);

/// The transformer of a case: its `[sources.github]` and `[[services]]`.
fn transformer(settings: WithServices<GithubSettings>) -> GithubTransformer {
    GithubTransformer::new(GithubSettings {
        services: settings.service_map(),
        ..settings.tool
    })
}

#[test]
fn every_case_gives_the_same_output_twice_and_names_its_repository() {
    each_case_twice(&cases(), run_in, |_, _, output| {
        for document in output {
            let source = document["context"]["source"].as_str().unwrap();
            assert!(source.starts_with("https://github.com/"), "{source}");
            assert_eq!(document["subject"]["source"], source);
            let repository = document["customData"]["dora"]["repository"]
                .as_str()
                .unwrap();
            assert_eq!(source, format!("https://github.com/{repository}"));
        }
    });
}

#[test]
fn merged_pull_request_gives_change_merged_with_its_merge_sha() {
    let merged = one("cdviz-pull-request-closed-merged");
    assert_eq!(event_type(&merged), CHANGE_MERGED);
    assert_eq!(merged["subject"]["id"], "aaaaa-aaa/aaaaa-aaaaaaaaa#97");
    assert_eq!(
        merged["subject"]["content"]["repository"],
        json!({"id": "aaaaa-aaa/aaaaa-aaaaaaaaa", "source": "https://github.com"})
    );
    let dora = &merged["customData"]["dora"];
    assert_eq!(dora["mergeSha"], "44d21f9752bb9eb3952238ff7e25965b8f779d51");
    assert_eq!(dora["mergedAt"], "2025-05-21T17:35:21Z");
    assert_eq!(dora["createdAt"], "2025-05-21T14:28:11Z");
    assert_eq!(dora["number"], 97);
    assert_eq!(merged["context"]["timestamp"], "2025-05-21T17:35:21Z");

    // The same pull request when it was opened: change.created, same subject, another id.
    let opened = one("cdviz-pull-request-opened");
    assert_eq!(event_type(&opened), CHANGE_CREATED);
    assert_eq!(opened["subject"]["id"], merged["subject"]["id"]);
    assert_ne!(id(&opened), id(&merged));
    assert_eq!(opened["context"]["timestamp"], "2025-05-21T14:28:11Z");
    assert!(opened["customData"]["dora"].get("mergeSha").is_none());
    assert!(opened["subject"]["content"]["description"].is_string());
}

#[test]
fn closed_unmerged_pull_request_is_abandoned_not_merged() {
    let closed = one("octokit-pull-request-closed-unmerged");
    assert_eq!(event_type(&closed), CHANGE_ABANDONED);
    assert!(closed["customData"]["dora"].get("mergeSha").is_none());
    assert_eq!(closed["context"]["timestamp"], "2019-05-15T15:21:18Z");
    assert_eq!(
        event_type(&one("octokit-pull-request-opened")),
        CHANGE_CREATED
    );
    common::assert_give_nothing(
        &[
            "octokit-pull-request-synchronize",
            "cdviz-pull-request-synchronize",
        ],
        run,
    );
}

#[test]
fn push_carries_its_commits_with_their_timestamps() {
    let push = one("cdviz-push-main");
    assert_eq!(event_type(&push), CHANGE_UPDATED);
    let dora = &push["customData"]["dora"];
    assert_eq!(dora["revision"], "11a11a1111aa1aa1111111aa1a11111a1a111a11");
    assert_eq!(dora["after"], dora["revision"]);
    assert_eq!(dora["before"], "7bf02115318c93a7c8f017d82ab05d61a93cf92a");
    assert_eq!(dora["ref"], "refs/heads/main");
    assert_eq!(dora["branch"], "main");
    assert_eq!(dora["defaultBranch"], true);
    let commits = dora["commits"].as_array().unwrap();
    assert_eq!(commits.len(), 7);
    assert_eq!(
        commits[0],
        json!({
            "sha": "8790880d31513da215ff31c99438510572638ad8",
            // 2025-05-21T19:35:21+02:00 in UTC; only the first line of the message.
            "timestamp": "2025-05-21T17:35:21Z",
            "message": "ci: update mega-linter workflow"
        })
    );
    // repository.pushed_at (Unix seconds 1747848921).
    assert_eq!(push["context"]["timestamp"], "2025-05-21T17:35:21Z");
    assert_eq!(
        push["subject"]["id"],
        "aaaaa-aaa/aaaaa-aaaaaaaaa@11a11a1111aa1aa1111111aa1a11111a1a111a11"
    );

    let feature = one("cdviz-push-branch-created");
    assert_eq!(feature["customData"]["dora"]["defaultBranch"], false);
    assert_eq!(
        feature["customData"]["dora"]["commits"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let new_branch = one("octokit-push-new-branch");
    assert_eq!(new_branch["customData"]["dora"]["defaultBranch"], true);
    assert_eq!(
        new_branch["customData"]["dora"]["commits"][0]["timestamp"],
        "2019-05-15T15:19:25Z"
    );
}

#[test]
fn tags_deleted_branches_and_ref_creation_give_nothing() {
    common::assert_give_nothing(
        &[
            "octokit-push-tag-deleted",
            "cdviz-push-branch-deleted",
            "cdviz-create-branch",
            "octokit-create-tag",
        ],
        run,
    );
}

#[test]
fn github_source_and_webhook_give_the_same_cdevents() {
    assert_eq!(run("knative-push-main"), run("cdviz-push-main"));
    assert_eq!(
        run("knative-pull-request-closed-merged"),
        run("cdviz-pull-request-closed-merged")
    );
}

#[test]
fn successful_deployment_status_is_a_deployment_of_the_repository() {
    let deployed = one("octokit-deployment-status-success");
    assert_eq!(event_type(&deployed), SERVICE_DEPLOYED);
    assert_eq!(deployed["subject"]["id"], "Hello-World");
    assert_eq!(
        deployed["subject"]["content"]["environment"],
        json!({"id": "production", "source": "https://github.com/Codertocat/Hello-World"})
    );
    assert_eq!(
        deployed["subject"]["content"]["artifactId"],
        "pkg:github/codertocat/hello-world@f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
    );
    let dora = &deployed["customData"]["dora"];
    assert_eq!(dora["revision"], "f95f852bd8fca8fcc58a9a2d6c842781e32a215e");
    assert_eq!(dora["outcome"], "success");
    assert_eq!(deployed["context"]["timestamp"], "2019-05-15T15:20:55Z");
}

#[test]
fn failed_deployment_status_carries_outcome_failure_under_the_same_id() {
    let success = one("octokit-deployment-status-success");
    for case in [
        "derived-deployment-status-failure",
        "derived-deployment-status-error",
    ] {
        let failed = one(case);
        assert_eq!(event_type(&failed), SERVICE_DEPLOYED, "{case}");
        assert_eq!(failed["customData"]["dora"]["outcome"], "failure", "{case}");
        // One GitHub deployment is one rollout: its first terminal status decides.
        assert_eq!(id(&failed), id(&success), "{case}");
    }
    common::assert_give_nothing(
        &[
            "octokit-deployment-status-in-progress",
            "octokit-deployment-created",
        ],
        run,
    );
}

#[test]
fn deployment_payload_names_the_service() {
    let deployed = one("derived-deployment-status-named-service");
    common::assert_deployed(&deployed, "hello-api", "staging");
}

#[test]
fn completed_workflow_runs_are_finished_pipeline_runs() {
    let run_success = one("cdviz-workflow-run-completed");
    assert_eq!(event_type(&run_success), PIPELINERUN_FINISHED);
    assert_eq!(run_success["subject"]["content"]["outcome"], "success");
    assert_eq!(run_success["subject"]["content"]["pipelineName"], "aa");
    assert_eq!(run_success["context"]["timestamp"], "2025-01-22T19:03:50Z");
    let failed = one("derived-workflow-run-failure");
    assert_eq!(failed["subject"]["content"]["outcome"], "failure");
    assert_eq!(failed["customData"]["dora"]["outcome"], "failure");
    // The run's name is empty in this payload: the workflow's name.
    let octokit = one("octokit-workflow-run-completed");
    assert_eq!(octokit["subject"]["content"]["pipelineName"], "test");
    common::assert_give_nothing(
        &[
            "octokit-workflow-run-requested",
            "cdviz-workflow-run-in-progress",
        ],
        run,
    );
}

#[test]
fn issues_without_the_incident_label_give_nothing() {
    // The same payload gives an incident with `incident_label = "bug"`, nothing by default.
    assert_eq!(
        input("octokit-issues-opened-not-an-incident")["data"],
        input("octokit-issues-opened-incident")["data"]
    );
    assert!(run("octokit-issues-opened-not-an-incident").is_empty());
    assert!(run("cdviz-issue-labeled-other-label").is_empty());
}

#[test]
fn opened_and_labeled_deliveries_of_one_issue_are_one_incident() {
    let opened = one("octokit-issues-opened-incident");
    let labeled = one("octokit-issues-labeled-incident");
    assert_eq!(event_type(&opened), INCIDENT_DETECTED);
    assert_eq!(opened, labeled);
    assert_eq!(opened["subject"]["id"], "Codertocat/Hello-World#1");
    assert_eq!(opened["context"]["timestamp"], "2019-05-15T15:20:18Z");
    common::assert_incident_in(&opened, "Hello-World", "production");
}

#[test]
fn closing_an_incident_resolves_it_once() {
    let closed = run("cdviz-issue-closed");
    let types: Vec<&str> = closed.iter().map(event_type).collect();
    assert_eq!(types, [INCIDENT_DETECTED, INCIDENT_RESOLVED]);
    assert_eq!(closed[0]["context"]["timestamp"], "2025-05-21T17:43:50Z");
    assert_eq!(closed[1]["context"]["timestamp"], "2025-05-21T17:46:53Z");
    assert_eq!(closed[0]["subject"]["id"], closed[1]["subject"]["id"]);
    // Reopened: detected again under the same id (the store keeps the first).
    let reopened = one("cdviz-issue-reopened");
    assert_eq!(id(&reopened), id(&closed[0]));
    // Closed again after reopening: the same resolution id, so the first close counts.
    let again = run("cdviz-issue-closed-again");
    assert_eq!(id(&again[1]), id(&closed[1]));
    assert_eq!(again[1]["context"]["timestamp"], "2025-05-21T17:49:53Z");
}

#[test]
fn labels_name_the_environment_and_the_service_of_an_incident() {
    let detected = one("derived-issues-opened-incident-env-service");
    common::assert_incident_in(&detected, "hello-api", "staging");
}

#[test]
fn published_release_is_a_published_artifact_once() {
    let published = one("octokit-release-published");
    assert_eq!(event_type(&published), ARTIFACT_PUBLISHED);
    assert_eq!(
        published["subject"]["id"],
        "pkg:github/codertocat/hello-world@0.0.1"
    );
    assert_eq!(published["context"]["timestamp"], "2019-05-15T15:20:53Z");
    // `target_commitish` is the branch `master` here: no revision.
    assert!(published["customData"]["dora"].get("revision").is_none());
    let pinned = one("cdviz-release-published");
    assert_eq!(event_type(&pinned), ARTIFACT_PUBLISHED);
    assert_eq!(
        pinned["customData"]["dora"]["revision"],
        "0a911053a049294a128690ab0e488e3a96c4fe4d"
    );
    assert!(run("octokit-release-released").is_empty());
}

#[test]
fn ping_and_unmapped_events_give_nothing() {
    common::assert_give_nothing(&["cdviz-ping", "octokit-check-suite-completed"], run);
}

#[test]
fn every_github_source_type_not_mapped_gives_nothing() {
    let registry = read_json(&fixtures().join("githubsource.registry-eventTypes.json"));
    let declared = declared_types(&registry);
    // GitHubSource does not declare workflow_run: only the webhook delivers it.
    assert!(!declared.contains(&"dev.knative.source.github.workflow_run"));
    let mapped = [
        "push",
        "pull_request",
        "deployment_status",
        "issues",
        "release",
    ];
    // A payload that would be mapped under another type.
    let sample = input("octokit-deployment-status-success");
    assert_unmapped_types_give_nothing(&declared, github::TYPE_PREFIX, &mapped, &sample, |event| {
        transform_with(WithServices::default(), event)
    });
}

#[test]
fn a_monorepo_push_is_one_change_per_service_its_commits_touched() {
    // The merge of pull request 97: 7 commits. [[services]] (settings.json): transformers =
    // config/transformers/** and examples/assets/**/kubewatch_cloudevents/** (team
    // collectors); tooling = .github/** and *.toml (top-level only); docs = docs/**.
    let plain = run("cdviz-push-main");
    let split = run("cdviz-push-main-services");
    let (own, sv) = (&split[0], services_of(&split));
    assert_eq!(
        sv,
        [
            // .cargo/config.toml: `*` does not cross `/`, so no service: the push's own change.
            ("".into(), Value::Null, Value::Null, vec!["e4c9ffc".into()]),
            (
                "transformers".into(),
                json!("transformers"),
                json!("collectors"),
                vec!["8a75281".into(), "be92e0b".into(), "4effb85".into()]
            ),
            (
                "tooling".into(),
                json!("tooling"),
                Value::Null,
                // 4effb85 touches .mise.toml and a kubewatch_cloudevents input: both services.
                vec![
                    "8790880".into(),
                    "4effb85".into(),
                    "bb6e84b".into(),
                    "11a11a1".into()
                ]
            ),
        ]
    );
    // The rest of the push keeps the push's id and subject; each service's change has its own.
    assert_eq!(id(own), id(&plain[0]));
    assert_eq!(own["subject"]["id"], plain[0]["subject"]["id"]);
    let ids: std::collections::BTreeSet<&str> = split.iter().map(id).collect();
    assert_eq!(ids.len(), 3);
    for document in &split {
        assert_eq!(event_type(document), CHANGE_UPDATED);
        // Every part keeps the head as its revision: a deployment of it contains each.
        assert_eq!(
            document["customData"]["dora"]["revision"],
            plain[0]["customData"]["dora"]["revision"]
        );
    }
    // A repository no [[services]] entry names: the very same output.
    assert_eq!(run("cdviz-push-main-other-repository"), plain);
}

#[test]
fn a_team_label_puts_the_pull_request_in_that_team() {
    // octokit's opened pull request with a second label, `team/payments`; the prefix is set as
    // `Team/` (compared without case).
    let mut labelled = one("derived-pull-request-opened-team-label");
    assert_eq!(labelled["customData"]["dora"]["team"], "payments");
    let plain = one("octokit-pull-request-opened");
    assert!(plain["customData"]["dora"].get("team").is_none());
    // The label changes nothing else.
    labelled["customData"]["dora"]
        .as_object_mut()
        .unwrap()
        .remove("team");
    assert_eq!(labelled, plain);
    // Without the prefix set (the default), the label is just a label.
    let dir = fixtures().join("derived-pull-request-opened-team-label");
    let event = common::input_event(&dir);
    let default = transform_with(WithServices::default(), &event);
    assert!(default[0]["customData"]["dora"].get("team").is_none());
}
