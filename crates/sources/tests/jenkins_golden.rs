//! Golden tests of the `jenkins` source: every directory under `tests/fixtures/jenkins/`
//! (repository root) holds `input.json` (a CloudEvent of the Jenkins CDEvents plugin, in its
//! CloudEvents 0.3 form), `expected.json` (the JSON array of CDEvents it must give) and, for
//! some, `settings.json` (`[sources.jenkins]`). With `DORA_UPDATE_GOLDEN=1` the expected files
//! are rewritten from the current output.
//!
//! Every emitted CDEvent must validate against the official CDEvents schemas, and the rules
//! (deploy jobs only, the statuses that are rollouts, service and environment from the build
//! parameters) are asserted on the fixtures.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{assert_golden, case_name, cases, input_event, single};
use dora_sources::cdevents::PassThrough;
use dora_sources::jenkins::{JenkinsSettings, JenkinsTransformer};
use dora_sources::transform::{Transformer, SERVICE_DEPLOYED};
use serde_json::Value;

const TOOL: &str = "jenkins";

fn run_dir(dir: &Path) -> Vec<Value> {
    let settings: JenkinsSettings = common::settings(dir);
    common::checked(&JenkinsTransformer::new(settings), &input_event(dir))
}

fn run(case: &str) -> Vec<Value> {
    run_dir(&common::fixtures(TOOL).join(case))
}

#[test]
fn golden_cases() {
    assert_golden(&cases(TOOL), 7, run_dir);
}

#[test]
fn a_deploy_job_build_is_a_deployment_of_the_service_its_parameters_name() {
    let deployed = single(run("deploy-job-parameters"), "deploy-job-parameters");
    assert_eq!(deployed["context"]["type"], SERVICE_DEPLOYED);
    assert_eq!(deployed["subject"]["id"], "shop-web");
    assert_eq!(deployed["subject"]["content"]["environment"]["id"], "prod");
    let dora = &deployed["customData"]["dora"];
    assert_eq!(dora["outcome"], "success");
    assert_eq!(dora["revision"], "9fceb02d0ae598e95dc970b74767f19372d61af8");
    let failed = single(run("deploy-job-failure"), "deploy-job-failure");
    assert_eq!(failed["customData"]["dora"]["outcome"], "failure");
    assert_eq!(failed["subject"]["id"], "shop-web", "parameters as a list");
    assert_ne!(failed["context"]["id"], deployed["context"]["id"]);
}

#[test]
fn the_plugins_own_finished_run_counts_once_its_job_is_a_deploy_job() {
    assert!(run("pipelinerun-finished").is_empty(), "not a deploy job");
    let deployed = single(
        run("pipelinerun-finished-deploy-job"),
        "pipelinerun-finished-deploy-job",
    );
    assert_eq!(deployed["subject"]["id"], "PipelineCommit");
    assert_eq!(
        deployed["subject"]["content"]["environment"]["id"],
        "production"
    );
    assert_eq!(
        deployed["context"]["timestamp"],
        "2023-04-06T20:56:06.898710400Z"
    );
}

#[test]
fn aborted_builds_queued_runs_and_tasks_give_nothing() {
    for case in [
        "deploy-job-aborted",
        "pipelinerun-queued",
        "taskrun-finished",
    ] {
        assert!(run(case).is_empty(), "{case}");
    }
}

#[test]
fn the_pass_through_leaves_the_v01_binding_alone() {
    for dir in cases(TOOL) {
        let event = input_event(&dir);
        assert!(
            PassThrough.transform(&event).unwrap().is_empty(),
            "{}",
            case_name(&dir)
        );
    }
}
