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

use common::{case_name, input_event};
use dora_sources::cdevents::PassThrough;
use dora_sources::jenkins::{JenkinsSettings, JenkinsTransformer};
use dora_sources::transform::Transformer;

golden_tool!("jenkins", JenkinsSettings, JenkinsTransformer::new, golden_minimum: 7);

#[test]
fn a_deploy_job_build_is_a_deployment_of_the_service_its_parameters_name() {
    let deployed = one("deploy-job-parameters");
    common::assert_deployed(&deployed, "shop-web", "prod");
    let dora = &deployed["customData"]["dora"];
    assert_eq!(dora["outcome"], "success");
    assert_eq!(dora["revision"], "9fceb02d0ae598e95dc970b74767f19372d61af8");
    let failed = one("deploy-job-failure");
    assert_eq!(failed["customData"]["dora"]["outcome"], "failure");
    assert_eq!(failed["subject"]["id"], "shop-web", "parameters as a list");
    assert_ne!(failed["context"]["id"], deployed["context"]["id"]);
}

#[test]
fn the_plugins_own_finished_run_counts_once_its_job_is_a_deploy_job() {
    assert!(run("pipelinerun-finished").is_empty(), "not a deploy job");
    let deployed = one("pipelinerun-finished-deploy-job");
    common::assert_deployed(&deployed, "PipelineCommit", "production");
    assert_eq!(
        deployed["context"]["timestamp"],
        "2023-04-06T20:56:06.898710400Z"
    );
}

#[test]
fn aborted_builds_queued_runs_and_tasks_give_nothing() {
    common::assert_give_nothing(
        &[
            "deploy-job-aborted",
            "pipelinerun-queued",
            "taskrun-finished",
        ],
        run,
    );
}

#[test]
fn the_pass_through_leaves_the_v01_binding_alone() {
    for dir in cases() {
        let event = input_event(&dir);
        assert!(
            PassThrough.transform(&event).unwrap().is_empty(),
            "{}",
            case_name(&dir)
        );
    }
}
