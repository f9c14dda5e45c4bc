//! Golden tests of the `gitlab` transformer: every directory under `tests/fixtures/gitlab/`
//! (repository root) holds `input.json` (a CloudEvent in structured JSON, as `POST
//! /webhooks/gitlab` or a Knative GitLabSource makes it), optionally `settings.json`
//! (`[sources.gitlab]` for that case), and `expected.json` (the JSON array of CDEvents it must
//! give). With `DORA_UPDATE_GOLDEN=1` the expected files are rewritten from the current output.
//!
//! Every emitted CDEvent must validate against the official CDEvents v0.5.1 schemas
//! (`dora_spec`), and the rules of the transformer (what becomes which CDEvent, which inputs
//! share an id, how the three timestamp formats and the deployment hook's short SHA are read,
//! what gives nothing) are asserted on the fixtures, so that a wrong implementation fails even
//! after a careless golden update.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::WithServices;

use common::{
    assert_unmapped_types_give_nothing, case_name, declared_types, each_case_twice, event_type, id,
    parse, read_json, services_of,
};
use dora_sources::github::{
    CHANGE_ABANDONED, CHANGE_CREATED, CHANGE_MERGED, CHANGE_UPDATED, INCIDENT_DETECTED,
    INCIDENT_RESOLVED, PIPELINERUN_FINISHED,
};
use dora_sources::gitlab::{self, GitlabSettings, GitlabTransformer};
use dora_sources::transform::{Transformer, SERVICE_DEPLOYED};
use serde_json::{json, Value};

golden_tool!("gitlab", WithServices<GitlabSettings>, transformer, golden_minimum: 35);

/// The transformer of a case: its `[sources.gitlab]` and `[[services]]`.
fn transformer(settings: WithServices<GitlabSettings>) -> GitlabTransformer {
    GitlabTransformer::new(GitlabSettings {
        services: settings.service_map(),
        ..settings.tool
    })
}

#[test]
fn every_case_gives_the_same_output_twice_and_names_its_project() {
    each_case_twice(&cases(), run_in, |dir, event, output| {
        let data = event.data_json().unwrap();
        for document in output {
            let source = document["context"]["source"].as_str().unwrap();
            assert_eq!(source, data["project"]["web_url"], "{}", case_name(dir));
            assert_eq!(document["subject"]["source"], source);
            assert_eq!(
                document["customData"]["dora"]["repository"],
                data["project"]["path_with_namespace"]
            );
            // Every time written is RFC 3339 in UTC.
            let timestamp = document["context"]["timestamp"].as_str().unwrap();
            assert!(timestamp.ends_with('Z'), "{timestamp}");
        }
    });
}

#[test]
fn push_carries_its_commits_with_their_timestamps_in_utc() {
    let push = one("gitlab-docs-push-hook");
    assert_eq!(event_type(&push), CHANGE_UPDATED);
    let dora = &push["customData"]["dora"];
    assert_eq!(dora["revision"], "da1560886d4f094c3e6c9ef40349f7d38b5d27d7");
    assert_eq!(dora["before"], "95790bf891e76fee5e1747ab589903a6a1f80f22");
    assert_eq!(dora["ref"], "refs/heads/master");
    assert_eq!(dora["branch"], "master");
    assert_eq!(dora["defaultBranch"], true);
    assert_eq!(dora["repository"], "mike/diaspora");
    assert_eq!(
        dora["commits"],
        json!([
            {"sha": "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327",
             // 2011-12-12T14:27:31+02:00
             "timestamp": "2011-12-12T12:27:31Z",
             "message": "Update Catalan translation to e38cb41."},
            {"sha": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
             "timestamp": "2012-01-03T21:36:29Z",
             "message": "fixed readme"}
        ])
    );
    // The push hook has no push time: the head commit's.
    assert_eq!(push["context"]["timestamp"], "2012-01-03T21:36:29Z");
    assert_eq!(
        push["subject"]["id"],
        "mike/diaspora@da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
    );
    assert_eq!(
        push["subject"]["content"]["repository"],
        json!({"id": "mike/diaspora", "source": "http://example.com"})
    );
    // GitLab lists at most 20 commits; the real count is kept.
    assert_eq!(push["customData"]["gitlab"]["totalCommitsCount"], 4);
}

#[test]
fn the_same_push_from_three_corpora_is_one_cdevent() {
    let docs = one("gitlab-docs-push-hook");
    // The copies differ in a commit message, not in SHAs and times.
    let commits = |document: &Value| -> Vec<(String, String)> {
        document["customData"]["dora"]["commits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["sha"].to_string(), c["timestamp"].to_string()))
            .collect()
    };
    for case in ["go-gitlab-push", "go-playground-push-event"] {
        let other = one(case);
        assert_eq!(id(&other), id(&docs), "{case}");
        assert_eq!(commits(&other), commits(&docs), "{case}");
    }
}

#[test]
fn tags_deleted_branches_jobs_and_releases_give_nothing() {
    common::assert_give_nothing(
        &[
            "go-gitlab-tag-push",
            "derived-push-branch-deleted",
            "derived-gitlab-docs-job-hook",
            "go-gitlab-build-no-uuid",
            "go-gitlab-release",
        ],
        run,
    );
}

#[test]
fn merge_request_open_merge_and_close() {
    let opened = one("gitlab-docs-merge-request-hook-open");
    assert_eq!(event_type(&opened), CHANGE_CREATED);
    assert_eq!(opened["subject"]["id"], "gitlabhq/gitlab-test!1");
    assert_eq!(opened["subject"]["content"]["description"], "MS-Viewport");
    assert_eq!(opened["context"]["timestamp"], "2013-12-03T17:23:34Z");
    assert_eq!(
        opened["customData"]["dora"]["createdAt"],
        "2013-12-03T17:23:34Z"
    );
    assert!(opened["customData"]["dora"].get("mergeSha").is_none());

    let merged = one("derived-merge-request-merged");
    assert_eq!(event_type(&merged), CHANGE_MERGED);
    assert_eq!(merged["subject"]["id"], opened["subject"]["id"]);
    assert_ne!(id(&merged), id(&opened));
    let dora = &merged["customData"]["dora"];
    assert_eq!(dora["mergeSha"], "8fd5d4a1c1e37f2b3a9e6c0d7f41b2e5a3c9d6e1");
    assert_eq!(dora["createdAt"], "2013-12-03T17:23:34Z");
    // `2013-12-04 09:12:00 UTC`: no merged_at in the hook, the merge's updated_at.
    assert_eq!(dora["mergedAt"], "2013-12-04T09:12:00Z");
    assert_eq!(merged["context"]["timestamp"], "2013-12-04T09:12:00Z");
    assert_eq!(dora["headSha"], "da1560886d4f094c3e6c9ef40349f7d38b5d27d7");

    let closed = one("derived-merge-request-closed");
    assert_eq!(event_type(&closed), CHANGE_ABANDONED);
    assert_eq!(closed["context"]["timestamp"], "2013-12-05T08:00:00Z");
    assert!(run("derived-merge-request-update").is_empty());

    // The same merge request in go-gitlab's and go-playground's copies of the example.
    for case in [
        "go-gitlab-merge-request-open",
        "go-playground-merge-request-event",
    ] {
        let other = one(case);
        assert_eq!(event_type(&other), CHANGE_CREATED, "{case}");
        assert_eq!(id(&other), id(&opened), "{case}");
    }
}

#[test]
fn group_merge_request_with_utc_times_is_merged() {
    let merged = one("derived-go-gitlab-group-merge-request-merged");
    assert_eq!(event_type(&merged), CHANGE_MERGED);
    assert_eq!(
        merged["subject"]["id"],
        "exm-namespace/example-project!1402"
    );
    let dora = &merged["customData"]["dora"];
    assert_eq!(dora["mergeSha"], "ac3ca1559bc39abf963586372eff7f8fdded646e");
    // `2016-12-01 13:11:10 UTC` and `2016-12-01 13:21:20 UTC`.
    assert_eq!(dora["createdAt"], "2016-12-01T13:11:10Z");
    assert_eq!(dora["mergedAt"], "2016-12-01T13:21:20Z");
}

#[test]
fn the_verbatim_group_merge_request_with_padded_keys_is_an_error_naming_the_field() {
    // go-gitlab's file has keys like "iid " (with a trailing space); GitLab does not send those.
    let data = read_json(&fixtures().join("go-gitlab-group-merge-request.verbatim.json"));
    let mut event = input("derived-go-gitlab-group-merge-request-merged");
    event["data"] = data;
    let error = GitlabTransformer::new(GitlabSettings::default())
        .documents(&parse(event))
        .unwrap_err();
    assert_eq!(error.reason, "data.object_attributes.iid is missing");
}

#[test]
fn pipelines_finish_with_an_outcome() {
    let success = one("gitlab-docs-pipeline-hook-success");
    assert_eq!(event_type(&success), PIPELINERUN_FINISHED);
    let content = &success["subject"]["content"];
    assert_eq!(content["outcome"], "success");
    assert_eq!(content["pipelineName"], "Pipeline for branch: master");
    assert_eq!(
        content["uri"],
        "http://example.com/gitlab-org/gitlab-test/-/pipelines/31"
    );
    assert_eq!(success["subject"]["id"], "31");
    // `2016-08-12 15:26:29 UTC`.
    assert_eq!(success["context"]["timestamp"], "2016-08-12T15:26:29Z");
    let dora = &success["customData"]["dora"];
    assert_eq!(dora["revision"], "bcbb5ec396a2c0f828686f14fac9b80b780504f2");
    assert_eq!(dora["branch"], "master");
    assert_eq!(dora["createdAt"], "2016-08-12T15:23:28Z");

    let failed = one("derived-pipeline-failed");
    assert_eq!(failed["subject"]["content"]["outcome"], "failure");
    assert_eq!(failed["customData"]["dora"]["outcome"], "failure");
    assert_ne!(id(&failed), id(&success));
    assert!(run("derived-pipeline-running").is_empty());

    // go-gitlab's copy has no name and no url: the project path and the pipeline page.
    let go_gitlab = one("go-gitlab-pipeline-success");
    assert_eq!(
        go_gitlab["subject"]["content"]["pipelineName"],
        "gitlab-org/gitlab-test"
    );
    assert_eq!(
        go_gitlab["subject"]["content"]["uri"],
        "http://192.168.64.1:3005/gitlab-org/gitlab-test/-/pipelines/31"
    );
    assert_eq!(id(&one("go-playground-pipeline-event")), id(&go_gitlab));
}

#[test]
fn deployment_hook_is_a_deployment_with_the_full_sha_from_its_commit_url() {
    let deployed = one("gitlab-docs-deployment-hook-success");
    assert_eq!(event_type(&deployed), SERVICE_DEPLOYED);
    assert_eq!(deployed["subject"]["id"], "test-deployment-webhooks");
    assert_eq!(
        deployed["subject"]["content"]["environment"],
        json!({"id": "staging",
               "source": "http://10.126.0.2:3000/root/test-deployment-webhooks"})
    );
    // `2021-04-28 21:50:00 +0200`.
    assert_eq!(deployed["context"]["timestamp"], "2021-04-28T19:50:00Z");
    let dora = &deployed["customData"]["dora"];
    assert_eq!(dora["revision"], "279484c09fbe69ededfced8c1bb6e6d24616b468");
    assert_eq!(dora["shortRevision"], "279484c0");
    assert_eq!(dora["outcome"], "success");
    assert_eq!(
        deployed["subject"]["content"]["artifactId"],
        "pkg:generic/root/test-deployment-webhooks@279484c09fbe69ededfced8c1bb6e6d24616b468\
         ?vcs_url=git%2Bhttp://10.126.0.2:3000/root/test-deployment-webhooks"
    );
    assert_eq!(
        deployed["customData"]["gitlab"]["environmentTier"],
        "staging"
    );

    // The same deployment (id 15 of that project) in the other corpora: the same CDEvent id.
    for case in [
        "go-gitlab-deployment-success",
        "go-playground-deployment-event",
    ] {
        assert_eq!(id(&one(case)), id(&deployed), "{case}");
    }
}

#[test]
fn a_short_sha_alone_is_never_the_revision() {
    let deployed = one("derived-deployment-short-sha-only");
    let dora = &deployed["customData"]["dora"];
    assert!(dora.get("revision").is_none(), "{dora:#}");
    assert_eq!(dora["shortRevision"], "279484c0");
    assert!(deployed["subject"]["content"]["artifactId"]
        .as_str()
        .unwrap()
        .contains("@279484c0?"));
}

#[test]
fn failed_deployment_carries_outcome_failure_under_the_same_id() {
    let success = one("gitlab-docs-deployment-hook-success");
    let failed = one("derived-deployment-failed");
    assert_eq!(event_type(&failed), SERVICE_DEPLOYED);
    assert_eq!(failed["customData"]["dora"]["outcome"], "failure");
    // One GitLab deployment is one rollout: its first final status decides.
    assert_eq!(id(&failed), id(&success));
    common::assert_give_nothing(
        &["derived-deployment-running", "derived-deployment-canceled"],
        run,
    );
}

#[test]
fn issues_are_incidents_by_label_or_by_type() {
    // The same payload: nothing by default, an incident with `incident_label = "API"`.
    assert_eq!(
        input("gitlab-docs-issue-hook-not-an-incident")["data"],
        input("gitlab-docs-issue-hook-incident")["data"]
    );
    assert!(run("gitlab-docs-issue-hook-not-an-incident").is_empty());
    assert!(run("go-gitlab-issue-open").is_empty());
    let detected = one("gitlab-docs-issue-hook-incident");
    assert_eq!(event_type(&detected), INCIDENT_DETECTED);
    assert_eq!(detected["subject"]["id"], "gitlabhq/gitlab-test#23");
    assert_eq!(detected["context"]["timestamp"], "2013-12-03T17:15:43Z");
    common::assert_incident_in(&detected, "gitlab-test", "production");

    // GitLab's own incident type, no label needed; also as a confidential issue.
    let typed = one("derived-issue-incident-type");
    assert_eq!(event_type(&typed), INCIDENT_DETECTED);
    assert_eq!(id(&typed), id(&detected));
    let confidential = one("derived-confidential-issue-incident");
    assert_eq!(id(&confidential), id(&detected));
}

#[test]
fn closing_an_incident_resolves_it() {
    let closed = run("derived-issue-incident-closed");
    let types: Vec<&str> = closed.iter().map(event_type).collect();
    assert_eq!(types, [INCIDENT_DETECTED, INCIDENT_RESOLVED]);
    assert_eq!(closed[0]["context"]["timestamp"], "2013-12-03T17:15:43Z");
    // `2013-12-03 19:45:00 UTC`.
    assert_eq!(closed[1]["context"]["timestamp"], "2013-12-03T19:45:00Z");
    assert_eq!(closed[0]["subject"]["id"], closed[1]["subject"]["id"]);
    assert_eq!(id(&closed[0]), id(&one("derived-issue-incident-type")));
}

#[test]
fn scoped_labels_name_the_environment_and_the_service_of_an_incident() {
    let detected = one("derived-issue-incident-scoped-labels");
    common::assert_incident_in(&detected, "diaspora-api", "staging");
}

#[test]
fn gitlab_source_and_webhook_give_the_same_cdevents() {
    assert_eq!(run("knative-push-hook"), run("gitlab-docs-push-hook"));
    assert_eq!(
        run("knative-deployment-hook-success"),
        run("gitlab-docs-deployment-hook-success")
    );
}

#[test]
fn every_gitlab_source_type_not_mapped_gives_nothing() {
    let registry = read_json(&fixtures().join("gitlabsource.registry-eventTypes.json"));
    let mapped = ["push", "merge_request", "pipeline", "deployment", "issue"];
    // A payload that would be mapped under another type.
    let sample = input("gitlab-docs-deployment-hook-success");
    assert_unmapped_types_give_nothing(
        &declared_types(&registry),
        gitlab::TYPE_PREFIX,
        &mapped,
        &sample,
        |event| transform_with(WithServices::default(), event),
    );
}

#[test]
fn a_monorepo_push_is_one_change_per_service_its_commits_touched() {
    // The documented Push Hook: both commits add CHANGELOG and modify
    // app/controller/application.rb. [[services]]: changelog = CHANGELOG; app = app/** (team
    // diaspora-core); docs = doc/** (touched by neither).
    let plain = run("gitlab-docs-push-hook");
    let split = run("gitlab-docs-push-hook-services");
    let both = || vec!["b6568db".to_owned(), "da15608".to_owned()];
    assert_eq!(
        services_of(&split),
        [
            ("changelog".into(), json!("changelog"), Value::Null, both()),
            ("app".into(), json!("app"), json!("diaspora-core"), both()),
        ],
        "each commit counts for both services; no commit is left for the push's own change"
    );
    assert_ne!(id(&split[0]), id(&split[1]));
    assert!(split.iter().all(|d| id(d) != id(&plain[0])));
    assert_eq!(
        split[1]["subject"]["id"],
        format!("{}:app", plain[0]["subject"]["id"].as_str().unwrap())
    );
}

#[test]
fn a_scoped_team_label_puts_the_merge_request_in_that_team() {
    // The documented merge request, merged, with a second label `team::payments` (GitLab's
    // scoped labels); the prefix is `team::`.
    let mut labelled = one("derived-merge-request-merged-team-label");
    assert_eq!(labelled["customData"]["dora"]["team"], "payments");
    let plain = one("derived-merge-request-merged");
    assert!(plain["customData"]["dora"].get("team").is_none());
    labelled["customData"]["dora"]
        .as_object_mut()
        .unwrap()
        .remove("team");
    assert_eq!(labelled, plain, "the label changes nothing else");
}
