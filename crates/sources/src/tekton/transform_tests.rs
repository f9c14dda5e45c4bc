//! Unit tests of the tekton transformer.

#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;

#[test]
fn deploy_patterns_are_globs_or_prefixes() {
    for (pattern, name, expected) in [
        ("deploy", "deploy", true),
        ("deploy", "deploy-prod", true),
        ("deploy", "predeploy", false),
        ("deploy-*", "deploy-checkout", true),
        ("deploy-*", "deploy-", true),
        ("deploy-*", "deploy", false),
        ("*-deploy", "checkout-deploy", true),
        ("*-deploy", "checkout-deploy-2", false),
        ("*deploy*", "blue-deploy-green", true),
        ("release-?", "release-1", true),
        ("release-?", "release-10", false),
        ("a*b*c", "axxbyyc", true),
        ("a*b*c", "axxbyy", false),
        ("*", "anything", true),
        ("", "anything", false),
    ] {
        assert_eq!(
            name_matches(pattern, name),
            expected,
            "{pattern:?} {name:?}"
        );
    }
}

#[test]
fn tekton_types() {
    assert_eq!(
        parse_type("pipelinerun.started.v1"),
        Some((Kind::PipelineRun, State::Started))
    );
    assert_eq!(
        parse_type("taskrun.failed.v1"),
        Some((Kind::TaskRun, State::Failed))
    );
    for ignored in [
        "pipelinerun.running.v1",
        "pipelinerun.unknown.v1",
        "pipelinerun.successful.v2",
        "pipelinerun.successful.v1.extra",
        "pipelinerun.successful",
        "customrun.successful.v1",
        "",
    ] {
        assert_eq!(parse_type(ignored), None, "{ignored}");
    }
}

#[test]
fn cancellation_reasons_are_cancel_and_the_rest_failure() {
    assert_eq!(outcome(State::Successful, Some("Completed")), "success");
    assert_eq!(outcome(State::Failed, Some("Cancelled")), "cancel");
    assert_eq!(outcome(State::Failed, Some("StoppedRunFinally")), "cancel");
    assert_eq!(
        outcome(State::Failed, Some("PipelineRunTimeout")),
        "failure"
    );
    assert_eq!(outcome(State::Failed, None), "failure");
    assert_eq!(outcome(State::Cancelled, None), "cancel");
    assert_eq!(
        parse_type("pipelinerun.cancelled.v1"),
        Some((Kind::PipelineRun, State::Cancelled))
    );
}

#[test]
fn generic_purls_are_encoded() {
    assert_eq!(generic_purl("checkout", None), "pkg:generic/checkout");
    assert_eq!(
        generic_purl("a b", Some("v1+2")),
        "pkg:generic/a%20b@v1%2B2"
    );
}

#[test]
fn settings_default_and_partial_configuration() {
    let settings = TektonSettings::default();
    assert!(settings.deploy_pipelines.is_empty());
    assert_eq!(settings.deploy_label, "dora-events.dev/deploy");
    assert_eq!(settings.service_params, ["service"]);
    assert_eq!(settings.service_labels, ["app.kubernetes.io/name"]);
    assert_eq!(settings.revision_params, ["revision", "git-revision"]);
    let partial: TektonSettings =
        serde_json::from_value(json!({"deploy_pipelines": ["deploy-*"]})).unwrap();
    assert_eq!(partial.deploy_pipelines, ["deploy-*"]);
    assert_eq!(partial.image_params, ["image"]);
}

#[test]
fn parameters_come_from_the_run_then_from_the_pipeline_defaults() {
    let data = json!({"pipelineRun": {
        "metadata": {"name": "r", "namespace": "ci", "labels": {"a": null, "b": "", "c": "x"}},
        "spec": {"params": [{"name": "image", "value": ["a"]}, {"name": "service", "value": ""}]},
        "status": {"pipelineSpec": {"params": [
            {"name": "image", "default": "i"},
            {"name": "revision", "default": "abc"},
            {"name": "service", "default": "s"},
            {"name": "other", "default": 1}
        ]}}
    }});
    let run = read::<PipelineRunData>(&data).unwrap().run;
    assert_eq!(run.param("revision"), Some("abc"));
    // Set on the run (not as a string, or empty): the default does not count.
    assert_eq!(run.param("image"), None);
    assert_eq!(run.param("service"), None);
    assert_eq!(run.param("other"), None);
    assert_eq!(
        run.first_label(&["a".into(), "b".into(), "c".into()]),
        Some("x")
    );
}

#[test]
fn a_run_without_any_time_names_the_fields() {
    let event = CloudEvent::from_json_value(json!({
        "specversion": "1.0", "id": "1", "source": "/tekton",
        "type": "dev.tekton.event.pipelinerun.started.v1",
        "data": {"pipelineRun": {"metadata": {"name": "r", "namespace": "ci"}}}
    }))
    .unwrap();
    let transformer = TektonTransformer::new(TektonSettings::default());
    assert_eq!(
        transformer.transform(&event).err().unwrap().reason,
        "no timestamp: data.pipelineRun.status.startTime, \
         data.pipelineRun.metadata.creationTimestamp are missing and the CloudEvent has no time"
    );
}
