//! Golden tests of the `keptn` transformer: every directory under `tests/fixtures/keptn/`
//! (repository root) holds `input.json` (a Keptn CloudEvent, `ce-*`, or an ApiServerSource
//! CloudEvent of a Keptn Kubernetes Event, `event-*`, in structured JSON), `expected.json` (the
//! JSON array of CDEvents it must give) and, for some, `settings.json` (`[sources.keptn]`).
//! With `DORA_UPDATE_GOLDEN=1` the expected files are rewritten from the current output.
//!
//! Every emitted CDEvent must validate against the official CDEvents schemas (`dora_spec`), and
//! the rules (which outcomes are a rollout's verdict, which inputs share an id) are asserted on
//! the fixtures, so that a wrong implementation fails even after a careless golden update.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{each_case_twice, id};
use dora_sources::keptn::{KeptnSettings, KeptnTransformer};
use dora_sources::transform::SERVICE_DEPLOYED;

golden_tool!("keptn", KeptnSettings, KeptnTransformer::new, golden_minimum: 11);

#[test]
fn every_case_gives_the_same_output_twice() {
    each_case_twice(&cases(), run_in, |_, _, _| ());
}

#[test]
fn a_completed_workload_version_is_a_successful_deployment_of_the_workload() {
    let deployed = one("ce-workload-completed-finished");
    assert_eq!(deployed["context"]["type"], SERVICE_DEPLOYED);
    assert_eq!(deployed["context"]["source"], "keptn.sh");
    assert_eq!(
        deployed["context"]["timestamp"],
        "2024-05-02T09:15:20.004311Z"
    );
    common::assert_deployed(
        &deployed,
        "podtato-head-podtato-head-entry",
        "podtato-kubectl",
    );
    assert_eq!(
        deployed["subject"]["content"]["artifactId"],
        "pkg:generic/podtato-head-podtato-head-entry@0.3.0"
    );
    assert_eq!(deployed["customData"]["dora"]["outcome"], "success");
}

#[test]
fn every_verdict_of_one_workload_version_from_either_input_has_one_id() {
    let success = one("ce-workload-completed-finished");
    for case in [
        "event-workload-completed-finished",
        "ce-workload-post-evaluations-failed",
        "event-workload-post-evaluations-failed",
        "ce-workload-deployment-timeout",
    ] {
        let other = one(case);
        assert_eq!(id(&other), id(&success), "{case}");
        assert_eq!(other["subject"], success["subject"], "{case}");
    }
    assert_eq!(
        one("event-workload-completed-finished")["customData"]["dora"],
        success["customData"]["dora"]
    );
    for case in [
        "ce-workload-post-evaluations-failed",
        "event-workload-post-evaluations-failed",
        "ce-workload-deployment-timeout",
    ] {
        assert_eq!(
            one(case)["customData"]["dora"]["outcome"],
            "failure",
            "{case}"
        );
    }
}

#[test]
fn outcomes_before_the_verdict_give_nothing() {
    common::assert_give_nothing(
        &[
            "ce-workload-deployment-started",
            "ce-workload-deployment-finished",
            "ce-workload-completed-failed",
            "ce-app-completed-finished",
        ],
        run,
    );
}

#[test]
fn with_service_application_the_application_is_deployed_by_its_team() {
    let success = one("ce-app-completed-finished-application");
    let failure = one("event-app-deploy-failed-application");
    assert_eq!(id(&success), id(&failure));
    assert_eq!(success["subject"]["id"], "podtato-head");
    assert_eq!(success["customData"]["dora"]["team"], "podtato-head");
    assert_eq!(failure["customData"]["dora"]["outcome"], "failure");
}
