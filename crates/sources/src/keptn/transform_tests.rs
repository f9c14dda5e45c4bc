//! Unit tests of the keptn transformer.

#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use serde_json::Value;

fn cloudevent(event_type: &str, data: Value) -> CloudEvent {
    CloudEvent::from_json_value(json!({
        "specversion": "1.0", "id": "1", "source": "keptn.sh", "type": event_type,
        "time": "2024-05-01T10:00:00Z", "datacontenttype": "application/json", "data": data
    }))
    .unwrap()
}

fn workload_data(kind: &str, event_type: &str) -> Value {
    json!({
        "message": "Workload Completed: has finished / Namespace: shop, Name: shop-cart-1.2.0, Version: 1.2.0",
        "type": event_type, "version": "1.2.0",
        "resource": {"group": "", "kind": kind, "version": "", "name": "shop-cart-1.2.0", "namespace": "shop"}
    })
}

#[test]
fn phases_are_read_from_types_and_reasons_in_every_known_spelling() {
    let (phase, status) = parse_type("Workload Deployment.Failed").unwrap();
    assert_eq!((phase.short, status), ("WorkloadDeploy", "Failed"));
    let (phase, status) = parse_type("App Post-Deployment Evaluations.Failed").unwrap();
    assert_eq!(
        (phase.short, phase.level, status),
        ("AppPostDeployEvaluations", Level::App, "Failed")
    );
    let (phase, status) = parse_reason("WorkloadPostDeployTasksFailed").unwrap();
    assert_eq!((phase.short, status), ("WorkloadPostDeployTasks", "Failed"));
    let (phase, status) = parse_reason("WorkloadPostDeployFailed").unwrap();
    assert_eq!((phase.short, status), ("WorkloadPostDeploy", "Failed"));
    let (phase, _) = parse_reason("WorkloadPostAnalysisFailed").unwrap();
    assert_eq!(phase.step, Step::PostDeploy);
    let (phase, status) = parse_reason("WorkloadDeploySucceeded").unwrap();
    assert_eq!((phase.short, status), ("WorkloadDeploy", "Succeeded"));
    for ignored in [
        "WorkloadPreDeployTasksFailed",
        "WorkloadDeployStarted",
        "ReconcileEvaluationFailed",
        "ScalingReplicaSet",
        "",
    ] {
        assert_eq!(parse_reason(ignored), None, "{ignored}");
    }
    for ignored in [
        "Workload Pre-Deployment Tasks.Failed",
        "Create Task.Failed",
        "Workload Deployment",
    ] {
        assert_eq!(parse_type(ignored), None, "{ignored}");
    }
}

#[test]
fn a_rollout_fails_in_its_deployment_or_after_and_succeeds_when_completed() {
    let phase = |short: &str| *PHASES.iter().find(|p| p.short == short).unwrap();
    assert_eq!(
        verdict(phase("WorkloadDeploy"), "Failed", true),
        Some("failure")
    );
    assert_eq!(
        verdict(phase("WorkloadDeploy"), "Finished", true),
        Some("failure")
    );
    assert_eq!(verdict(phase("WorkloadDeploy"), "Finished", false), None);
    assert_eq!(
        verdict(phase("WorkloadPostDeployEvaluations"), "Failed", true),
        Some("failure")
    );
    assert_eq!(
        verdict(phase("WorkloadPostDeployTasks"), "Finished", false),
        None
    );
    assert_eq!(
        verdict(phase("WorkloadCompleted"), "Finished", false),
        Some("success")
    );
    assert_eq!(verdict(phase("WorkloadCompleted"), "Failed", true), None);
    assert_eq!(
        verdict(phase("AppCompleted"), "Succeeded", false),
        Some("success")
    );
}

#[test]
fn the_service_is_the_phase_item_name_without_its_version() {
    assert_eq!(
        service_of(Level::Workload, "shop-cart-1.2.0", "1.2.0"),
        "shop-cart"
    );
    assert_eq!(
        service_of(Level::App, "shop-1.2.0-6b86b273", "1.2.0"),
        "shop"
    );
    assert_eq!(service_of(Level::App, "shop-1.2.0", "1.2.0"), "shop");
    // A name Keptn truncated no longer ends with the version: used whole.
    assert_eq!(
        service_of(Level::Workload, "shop-cart-1.2", "1.2.0"),
        "shop-cart-1.2"
    );
}

#[test]
fn the_kind_in_resource_is_not_needed() {
    let transformer = KeptnTransformer::default();
    let with_kind = transformer
        .documents(&cloudevent(
            "Workload Completed.Finished",
            workload_data("KeptnWorkloadVersion", "Normal"),
        ))
        .unwrap();
    let without = transformer
        .documents(&cloudevent(
            "Workload Completed.Finished",
            workload_data("", "Normal"),
        ))
        .unwrap();
    assert_eq!(with_kind.len(), 1);
    assert_eq!(with_kind[0]["context"]["id"], without[0]["context"]["id"]);
    assert_eq!(with_kind[0]["subject"]["id"], "shop-cart");
}

#[test]
fn without_resource_the_object_is_read_from_the_message() {
    let mut data = workload_data("", "Normal");
    data.as_object_mut().unwrap().remove("resource");
    let out = KeptnTransformer::default()
        .documents(&cloudevent("Workload Completed.Finished", data))
        .unwrap();
    assert_eq!(out[0]["subject"]["id"], "shop-cart");
    assert_eq!(out[0]["subject"]["content"]["environment"]["id"], "shop");
}

#[test]
fn malformed_data_names_the_field() {
    let transformer = KeptnTransformer::default();
    let error = transformer
        .transform(&cloudevent(
            "Workload Completed.Finished",
            json!({"type": "Normal"}),
        ))
        .unwrap_err();
    assert_eq!(error.reason, "data.message is missing");
    let mut data = workload_data("", "Normal");
    data["resource"].as_object_mut().unwrap().remove("name");
    let error = transformer
        .transform(&cloudevent("Workload Completed.Finished", data))
        .unwrap_err();
    assert_eq!(error.reason, "data.resource.name is missing");
    let error = transformer
        .transform(&cloudevent(
            "Workload Completed.Finished",
            json!({"message": 5, "type": "Normal"}),
        ))
        .unwrap_err();
    assert_eq!(error.reason, "data.message is not a string");
}

#[test]
fn application_outcomes_count_only_with_service_application() {
    let data = json!({
        "message": "App Completed: has finished / Namespace: shop, Name: shop-1.2.0-6b86b273, Version: 1.2.0",
        "type": "Normal", "version": "1.2.0",
        "resource": {"group": "", "kind": "", "version": "", "name": "shop-1.2.0-6b86b273", "namespace": "shop"}
    });
    let event = cloudevent("App Completed.Finished", data);
    assert!(KeptnTransformer::default()
        .documents(&event)
        .unwrap()
        .is_empty());
    let transformer = KeptnTransformer::new(KeptnSettings {
        service: ServiceLevel::Application,
        environment: Some("production".into()),
        ..KeptnSettings::default()
    });
    let out = transformer.documents(&event).unwrap();
    assert_eq!(out[0]["subject"]["id"], "shop");
    assert_eq!(
        out[0]["subject"]["content"]["environment"]["id"],
        "production"
    );
    assert_eq!(out[0]["customData"]["dora"]["team"], "shop");
    let workload = cloudevent("Workload Completed.Finished", workload_data("", "Normal"));
    assert!(transformer.documents(&workload).unwrap().is_empty());
}

#[test]
fn settings_read_from_toml_names() {
    let settings: KeptnSettings =
        serde_json::from_value(json!({"service": "application", "environment": "prod"})).unwrap();
    assert_eq!(settings.service, ServiceLevel::Application);
    assert_eq!(settings.source, "keptn.sh");
    assert!(serde_json::from_value::<KeptnSettings>(json!({"services": "x"})).is_err());
}
