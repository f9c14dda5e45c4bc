//! Golden tests of the delivery transformers, `tekton` and `argocd`.
//!
//! Every directory under `tests/fixtures/tekton/` and `tests/fixtures/argocd/` (repository root)
//! that holds an `input.json` is a case: `input.json` is a CloudEvent in structured JSON (for
//! Tekton, as its events controller sends it; for Argo CD, what `POST /webhooks/argocd` makes of
//! `payloads/<name>.json`, checked by `dora-ingest`'s `argocd_webhook` test), `settings.json`
//! (optional) is `[sources.tekton]` / `[sources.argocd]` for the case, and `expected.json` is
//! the JSON array of CDEvents the transformer must give. With `DORA_UPDATE_GOLDEN=1` the
//! expected files are rewritten from the current output.
//!
//! Every emitted CDEvent must validate against the official CDEvents v0.5.1 schemas
//! (`dora_spec`), and the rules (which runs deploy, which triggers fail, which inputs share an
//! id, what gives nothing) are asserted on the fixtures, so that a wrong implementation fails
//! even after a careless golden update.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{
    assert_minimum, case_name, cases, checked, compare_golden, event_type, fixtures, id, input,
    input_event, parse, settings,
};
use dora_model::cloudevent::CloudEvent;
use dora_sources::alertmanager::{INCIDENT_DETECTED, INCIDENT_RESOLVED};
use dora_sources::argocd::{ArgocdSettings, ArgocdTransformer};
use dora_sources::tekton::{
    TektonSettings, TektonTransformer, PIPELINERUN_FINISHED, PIPELINERUN_STARTED, TASKRUN_FINISHED,
    TASKRUN_STARTED,
};
use dora_sources::transform::{Transformer, SERVICE_DEPLOYED};
use serde_json::{json, Value};

fn tekton_with(settings: TektonSettings, event: &CloudEvent) -> Vec<Value> {
    checked(&TektonTransformer::new(settings), event)
}

fn argocd_with(settings: ArgocdSettings, event: &CloudEvent) -> Vec<Value> {
    checked(&ArgocdTransformer::new(settings), event)
}

/// The output of a case of `tool`, with the case's settings.
fn run_dir(tool: &str, dir: &Path) -> Vec<Value> {
    let event = input_event(dir);
    match tool {
        "tekton" => tekton_with(settings(dir), &event),
        "argocd" => argocd_with(settings(dir), &event),
        _ => unreachable!("{tool}"),
    }
}

fn tekton(case: &str) -> Vec<Value> {
    run_dir("tekton", &fixtures("tekton").join(case))
}

fn argocd(case: &str) -> Vec<Value> {
    run_dir("argocd", &fixtures("argocd").join(case))
}

fn types(out: &[Value]) -> Vec<&str> {
    out.iter().map(event_type).collect()
}

/// The one CDEvent of a type in an output.
fn only<'a>(out: &'a [Value], wanted: &str) -> &'a Value {
    let matching: Vec<&Value> = out.iter().filter(|d| event_type(d) == wanted).collect();
    assert_eq!(matching.len(), 1, "one {wanted} expected in {out:#?}");
    matching[0]
}

fn golden(tool: &str, minimum: usize) {
    let cases = cases(tool);
    let label = format!("{tool}/");
    assert_minimum(&format!("{tool}: "), &cases, minimum);
    let mut failures = Vec::new();
    compare_golden(
        &label,
        &cases,
        case_name,
        |dir| run_dir(tool, dir),
        &mut failures,
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn tekton_golden_cases() {
    golden("tekton", 14);
}

#[test]
fn argocd_golden_cases() {
    golden("argocd", 13);
}

#[test]
fn every_case_gives_the_same_output_twice() {
    for tool in ["tekton", "argocd"] {
        for dir in cases(tool) {
            let first = run_dir(tool, &dir);
            assert_eq!(first, run_dir(tool, &dir), "{tool}/{}", case_name(&dir));
            for document in &first {
                // Context and subject source are the CloudEvent's source.
                let source = &input(tool, &case_name(&dir))["source"];
                assert_eq!(&document["context"]["source"], source);
                assert_eq!(&document["subject"]["source"], source);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tekton

#[test]
fn tekton_pipeline_runs_start_and_finish() {
    let started = tekton("pipelinerun-build-started");
    assert_eq!(types(&started), [PIPELINERUN_STARTED]);
    let content = &started[0]["subject"]["content"];
    assert_eq!(content["pipelineName"], "build-and-test");
    assert_eq!(
        content["uri"],
        "https://kubernetes.default.svc/apis/tekton.dev/v1/namespaces/ci/pipelineruns/build-and-test-run-9qzt4"
    );
    assert_eq!(started[0]["subject"]["id"], "ci/build-and-test-run-9qzt4");
    assert_eq!(started[0]["context"]["timestamp"], "2024-05-14T08:58:01Z");

    let finished = tekton("pipelinerun-build-successful");
    assert_eq!(types(&finished), [PIPELINERUN_FINISHED]);
    assert_eq!(finished[0]["subject"]["content"]["outcome"], "success");
    assert_eq!(finished[0]["subject"]["id"], started[0]["subject"]["id"]);
    assert_ne!(id(&finished[0]), id(&started[0]));
    assert_eq!(finished[0]["context"]["timestamp"], "2024-05-14T09:03:47Z");
    assert_eq!(
        finished[0]["customData"]["dora"]["revision"],
        "4f2d7c1a9b8e6d5c3a2f1e0d9c8b7a6f5e4d3c2b"
    );

    assert!(tekton("pipelinerun-build-running").is_empty());
}

#[test]
fn a_pipeline_that_does_not_deploy_gives_no_deployment() {
    // The build pipeline's name matches no deploy pattern, and it carries no deploy label.
    let out = tekton("pipelinerun-build-successful");
    assert!(!types(&out).contains(&SERVICE_DEPLOYED), "{out:#?}");
    // A deploy-* pipeline labelled `dora-events.dev/deploy: "false"` does not deploy either.
    let out = tekton("pipelinerun-deploy-labelled-false");
    assert_eq!(types(&out), [PIPELINERUN_FINISHED]);
    // Nor does a deploy pipeline when no pattern is configured (the default).
    let event = parse(input("tekton", "pipelinerun-deploy-successful"));
    let out = tekton_with(TektonSettings::default(), &event);
    assert_eq!(types(&out), [PIPELINERUN_FINISHED]);
    // Starting a deploying run is not a deployment yet.
    assert_eq!(
        types(&tekton("pipelinerun-deploy-started")),
        [PIPELINERUN_STARTED]
    );
}

#[test]
fn a_successful_deploying_run_is_a_deployment_with_its_params() {
    let out = tekton("pipelinerun-deploy-successful");
    assert_eq!(types(&out), [PIPELINERUN_FINISHED, SERVICE_DEPLOYED]);
    let deployed = only(&out, SERVICE_DEPLOYED);
    assert_eq!(deployed["subject"]["id"], "checkout");
    assert_eq!(
        deployed["subject"]["content"],
        json!({
            "environment": {"id": "production"},
            "artifactId": "pkg:oci/checkout@sha256%3A9b2c6f1e0d8a7b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c?repository_url=ghcr.io/acme/checkout&tag=1.4.2"
        })
    );
    let dora = &deployed["customData"]["dora"];
    assert_eq!(dora["revision"], "4f2d7c1a9b8e6d5c3a2f1e0d9c8b7a6f5e4d3c2b");
    assert_eq!(dora["outcome"], "success");
    assert_eq!(dora["team"], "shop");
    assert_eq!(deployed["context"]["timestamp"], "2024-05-14T09:06:32Z");
    assert_eq!(
        deployed["customData"]["tekton"]["pipelineRun"],
        "ci/deploy-checkout-run-k4m8w"
    );
}

#[test]
fn a_resent_tekton_event_gives_the_same_cdevents() {
    // Tekton's CloudEvent ids are random: the CDEvent ids come from the run.
    assert_ne!(
        input("tekton", "pipelinerun-deploy-successful")["id"],
        input("tekton", "pipelinerun-deploy-successful-resent")["id"]
    );
    assert_eq!(
        tekton("pipelinerun-deploy-successful"),
        tekton("pipelinerun-deploy-successful-resent")
    );
}

#[test]
fn a_failed_deploying_run_is_a_failed_deployment() {
    let out = tekton("pipelinerun-deploy-failed");
    assert_eq!(types(&out), [PIPELINERUN_FINISHED, SERVICE_DEPLOYED]);
    let finished = only(&out, PIPELINERUN_FINISHED);
    assert_eq!(finished["subject"]["content"]["outcome"], "failure");
    assert_eq!(
        finished["subject"]["content"]["errors"],
        "Tasks Completed: 1 (Failed: 1, Cancelled 0), Skipped: 0"
    );
    let deployed = only(&out, SERVICE_DEPLOYED);
    assert_eq!(deployed["customData"]["dora"]["outcome"], "failure");
    assert_eq!(
        deployed["customData"]["dora"]["revision"],
        "8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b"
    );
    // A tag without digest: the `tag` qualifier.
    assert_eq!(
        deployed["subject"]["content"]["artifactId"],
        "pkg:oci/checkout?repository_url=ghcr.io/acme/checkout&tag=1.4.3"
    );
}

#[test]
fn a_cancelled_run_is_no_deployment() {
    let out = tekton("pipelinerun-deploy-cancelled");
    assert_eq!(types(&out), [PIPELINERUN_FINISHED]);
    assert_eq!(out[0]["subject"]["content"]["outcome"], "cancel");
}

#[test]
fn the_deploy_label_and_pipeline_defaults_name_the_deployment() {
    let out = tekton("pipelinerun-release-labelled-successful");
    let deployed = only(&out, SERVICE_DEPLOYED);
    // Service from the label app.kubernetes.io/name, environment from the pipeline's default.
    common::assert_deployed(deployed, "payments", "staging");
    // Revision from `git-revision`; no image: a generic purl of the service at that revision.
    assert_eq!(
        deployed["customData"]["dora"]["revision"],
        "c0ffee1234567890abcdef1234567890abcdef12"
    );
    assert_eq!(
        deployed["subject"]["content"]["artifactId"],
        "pkg:generic/payments@c0ffee1234567890abcdef1234567890abcdef12"
    );
    assert_eq!(
        only(&out, PIPELINERUN_FINISHED)["subject"]["content"]["outcome"],
        "success"
    );
}

#[test]
fn tekton_settings_choose_service_environment_and_link() {
    let event = parse(input("tekton", "pipelinerun-deploy-successful"));
    let settings: TektonSettings = serde_json::from_value(json!({
        "deploy_pipelines": ["deploy-check?ut"],
        "service_params": ["nope"],
        "service_labels": ["app.kubernetes.io/part-of"],
        "environment_params": [],
        "environment_labels": [],
        "default_environment": "prod-eu",
        "image_params": [],
        "dashboard_url": "https://tekton.example.com/"
    }))
    .unwrap();
    let out = tekton_with(settings, &event);
    let deployed = only(&out, SERVICE_DEPLOYED);
    common::assert_deployed(deployed, "shop", "prod-eu");
    assert_eq!(
        deployed["subject"]["content"]["artifactId"],
        "pkg:generic/shop@4f2d7c1a9b8e6d5c3a2f1e0d9c8b7a6f5e4d3c2b"
    );
    assert_eq!(
        only(&out, PIPELINERUN_FINISHED)["subject"]["content"]["uri"],
        "https://tekton.example.com/#/namespaces/ci/pipelineruns/deploy-checkout-run-k4m8w"
    );
    // The ids do not depend on the settings.
    let default_out = tekton("pipelinerun-deploy-successful");
    assert_eq!(id(deployed), id(only(&default_out, SERVICE_DEPLOYED)));
}

#[test]
fn tekton_task_runs() {
    assert!(tekton("tekton-docs-taskrun-unknown").is_empty());
    let started = tekton("derived-taskrun-started");
    assert_eq!(types(&started), [TASKRUN_STARTED]);
    assert_eq!(started[0]["subject"]["content"]["taskName"], "curl");
    assert_eq!(started[0]["subject"]["id"], "default/curl-run-6gplk");
    assert_eq!(started[0]["context"]["timestamp"], "2021-01-29T14:47:57Z");
    let finished = tekton("derived-taskrun-successful");
    assert_eq!(types(&finished), [TASKRUN_FINISHED]);
    assert_eq!(finished[0]["subject"]["content"]["outcome"], "success");
    assert_eq!(finished[0]["context"]["timestamp"], "2021-01-29T14:48:05Z");
    let failed = tekton("derived-taskrun-failed-in-pipeline");
    assert_eq!(types(&failed), [TASKRUN_FINISHED]);
    let content = &failed[0]["subject"]["content"];
    assert_eq!(content["outcome"], "failure");
    assert_eq!(content["taskName"], "kubectl-rollout");
    assert_eq!(
        content["pipelineRun"],
        json!({"id": "ci/deploy-checkout-run-x7k2p"})
    );
    // A task run is never a deployment, whatever the settings.
    let all: TektonSettings = serde_json::from_value(json!({"deploy_pipelines": ["*"]})).unwrap();
    let event = parse(input("tekton", "derived-taskrun-failed-in-pipeline"));
    assert_eq!(types(&tekton_with(all, &event)), [TASKRUN_FINISHED]);
}

#[test]
fn tekton_types_not_mapped_give_nothing() {
    let base = input("tekton", "pipelinerun-deploy-successful");
    for other in [
        "dev.tekton.event.pipelinerun.running.v1",
        "dev.tekton.event.pipelinerun.unknown.v1",
        "dev.tekton.event.pipelinerun.successful.v2",
        "dev.tekton.event.customrun.successful.v1",
        "dev.tekton.event.taskrun.running.v1",
        "com.example.pipelinerun.successful.v1",
    ] {
        let mut event = base.clone();
        event["type"] = json!(other);
        let settings = settings(&fixtures("tekton").join("pipelinerun-deploy-successful"));
        assert!(tekton_with(settings, &parse(event)).is_empty(), "{other}");
    }
}

#[test]
fn malformed_tekton_data_names_the_field() {
    let transformer = TektonTransformer::new(TektonSettings::default());
    let error = |mutate: &dyn Fn(&mut Value)| {
        let mut event = input("tekton", "pipelinerun-build-successful");
        mutate(&mut event);
        transformer.documents(&parse(event)).unwrap_err().reason
    };
    assert_eq!(
        error(&|e| e["data"] = json!({"taskRun": {}})),
        "data.pipelineRun is missing"
    );
    assert_eq!(
        error(&|e| {
            e["data"]["pipelineRun"]["metadata"]
                .as_object_mut()
                .unwrap()
                .remove("name");
        }),
        "data.pipelineRun.metadata.name is missing"
    );
    assert_eq!(
        error(&|e| e["data"]["pipelineRun"]["status"]["completionTime"] = json!("soon")),
        "data.pipelineRun.status.completionTime \"soon\" is not an RFC 3339 timestamp"
    );
    assert_eq!(
        error(&|e| e["data"]["pipelineRun"]["spec"]["params"] = json!({"revision": "x"})),
        "data.pipelineRun.spec.params is not an array"
    );
}

// ---------------------------------------------------------------------------------------------
// Argo CD

/// The one CDEvent of an Argo CD case.
fn argocd_one(case: &str) -> Value {
    let mut out = argocd(case);
    assert_eq!(out.len(), 1, "{case}: {out:#?}");
    out.remove(0)
}

#[test]
fn argocd_deployed_is_a_deployment_of_the_sync() {
    let deployed = argocd_one("cdviz-008-on-deployed-0");
    assert_eq!(event_type(&deployed), SERVICE_DEPLOYED);
    assert_eq!(deployed["subject"]["id"], "aaaaaaaaa");
    assert_eq!(
        deployed["subject"]["content"]["environment"],
        json!({"id": "argocd", "source": "https://kubernetes.default.svc"})
    );
    let dora = &deployed["customData"]["dora"];
    assert_eq!(dora["revision"], "94fcc5e8673e0d2d7fbca6b1c6c455ba308314fc");
    assert_eq!(dora["outcome"], "success");
    // No image: the generic purl of the service at the revision.
    assert_eq!(
        deployed["subject"]["content"]["artifactId"],
        "pkg:generic/aaaaaaaaa@94fcc5e8673e0d2d7fbca6b1c6c455ba308314fc"
    );
    assert_eq!(deployed["context"]["timestamp"], "2025-10-02T16:20:59Z");
    assert_eq!(deployed["context"]["source"], "https://demo.cdviz.dev");

    // The next sync of the same application is another deployment.
    let next = argocd_one("cdviz-013-on-deployed-0");
    assert_ne!(id(&next), id(&deployed));
    assert_eq!(
        next["customData"]["dora"]["revision"],
        "a390e57286ce93cd869ef0cd157c287a7082d504"
    );
}

#[test]
fn argocd_sync_succeeded_and_deployed_of_one_sync_are_one_deployment() {
    let deployed = argocd_one("cdviz-008-on-deployed-0");
    let succeeded = argocd_one("derived-008-on-sync-succeeded-0");
    assert_eq!(id(&succeeded), id(&deployed));
    assert_eq!(succeeded["subject"], deployed["subject"]);
    assert_eq!(
        succeeded["customData"]["dora"],
        deployed["customData"]["dora"]
    );
}

#[test]
fn argocd_failed_sync_carries_outcome_failure() {
    let failed = argocd_one("derived-019-on-sync-failed-0");
    assert_eq!(event_type(&failed), SERVICE_DEPLOYED);
    assert_eq!(failed["customData"]["dora"]["outcome"], "failure");
    assert_eq!(
        failed["customData"]["dora"]["revision"],
        "224f6a2da219e7efa4178277707ac90007e133b9"
    );
    assert!(failed["customData"]["argocd"]["message"]
        .as_str()
        .unwrap()
        .contains("denied the request"));
    // The settings map the destination to an environment.
    assert_eq!(
        failed["subject"]["content"]["environment"]["id"],
        "production"
    );
}

#[test]
fn argocd_images_and_multi_source_revisions() {
    // Multi-source (chart 0.6.3 + values repository): the commit SHA is the revision, and of
    // the two images the one tagged like the chart is the artifact.
    let deployed = argocd_one("cdviz-002-on-deployed-0");
    assert_eq!(
        deployed["customData"]["dora"]["revision"],
        "90460e57069cadc1332ca8137268028bf3f12765"
    );
    assert_eq!(
        deployed["subject"]["content"]["artifactId"],
        "pkg:oci/aaaaaaaa-aaaaaaa?repository_url=ghcr.io/cdviz-dev/aaaaaaaa-aaaaaaa&tag=0.6.3"
    );
    // A Helm chart alone: its version is the revision; the first image is the artifact.
    let helm = argocd_one("cdviz-017-on-deployed-0");
    assert_eq!(helm["customData"]["dora"]["revision"], "6.9.0");
    assert_eq!(
        helm["subject"]["content"]["artifactId"],
        "pkg:oci/aaaaaaa?repository_url=ghcr.io/stefanprodan/aaaaaaa&tag=6.9.0"
    );
    // No tag matches a revision: the first image.
    let first = argocd_one("cdviz-004-on-deployed-0");
    assert_eq!(
        first["subject"]["content"]["artifactId"],
        "pkg:oci/aaaaa-aaaaaaaaa?repository_url=ghcr.io/cdviz-dev/aaaaa-aaaaaaaaa&tag=0.8.0"
    );
}

#[test]
fn argocd_degradation_is_an_incident_of_the_last_rollout() {
    let detected = argocd_one("cdviz-010-on-health-degraded-0");
    assert_eq!(event_type(&detected), INCIDENT_DETECTED);
    assert_eq!(detected["context"]["timestamp"], "2025-10-02T16:31:04Z");
    let content = &detected["subject"]["content"];
    assert_eq!(content["service"], json!({"id": "aaaaaaa"}));
    assert_eq!(content["environment"]["id"], "aaaaaaa");
    assert_eq!(
        detected["subject"]["id"],
        "argocd/aaaaaaa/6.9.0/2025-10-02T16:21:00Z"
    );
    // It names the deployment CDEvent the same sync gives when reported as succeeded.
    let mut sync = input("argocd", "cdviz-010-on-health-degraded-0");
    sync["type"] = json!("io.argoproj.argocd.on-sync-succeeded");
    let deployment = argocd_with(ArgocdSettings::default(), &parse(sync)).remove(0);
    assert_eq!(event_type(&deployment), SERVICE_DEPLOYED);
    assert_eq!(
        detected["customData"]["dora"]["deployment"],
        id(&deployment)
    );
    assert_eq!(
        content["artifactId"],
        deployment["subject"]["content"]["artifactId"]
    );

    // An environment label wins over the destination namespace.
    let labelled = argocd_one("derived-010-on-health-degraded-labelled-0");
    assert_eq!(labelled["subject"]["content"]["environment"]["id"], "demo");
    assert!(labelled["subject"]["content"]["description"]
        .as_str()
        .unwrap()
        .ends_with("exceeded its progress deadline"));
}

#[test]
fn argocd_recovery_resolves_the_incident_of_the_degraded_rollout() {
    let detected = argocd_one("cdviz-010-on-health-degraded-0");
    let resolved = argocd("derived-017-on-health-recovered-0");
    assert_eq!(types(&resolved), [INCIDENT_RESOLVED, INCIDENT_RESOLVED]);
    let matching: Vec<&Value> = resolved
        .iter()
        .filter(|d| d["subject"]["id"] == detected["subject"]["id"])
        .collect();
    assert_eq!(matching.len(), 1, "{resolved:#?}");
    assert_eq!(matching[0]["context"]["timestamp"], "2025-10-02T16:53:25Z");
    assert_ne!(id(matching[0]), id(&detected));
    // A recovery reported while the application is not healthy resolves nothing.
    let mut sick = input("argocd", "derived-017-on-health-recovered-0");
    sick["data"]["health"]["status"] = json!("Progressing");
    assert!(argocd_with(ArgocdSettings::default(), &parse(sick)).is_empty());
}

#[test]
fn argocd_triggers_not_mapped_give_nothing() {
    common::assert_give_nothing(
        &[
            "cdviz-007-on-sync-running-0",
            "cdviz-000-on-sync-status-unknown-0",
            "cdviz-022-on-deleted-0",
        ],
        argocd,
    );
    // Foreign types too.
    let mut foreign = input("argocd", "cdviz-008-on-deployed-0");
    foreign["type"] = json!("com.example.on-deployed");
    assert!(argocd_with(ArgocdSettings::default(), &parse(foreign)).is_empty());
}

#[test]
fn argocd_settings_choose_service_environment_and_triggers() {
    let event = parse(input("argocd", "cdviz-004-on-deployed-0"));
    let settings: ArgocdSettings = serde_json::from_value(json!({
        "service_keys": ["app.kubernetes.io/part-of"],
        "environments": {"cdviz-dev": "demo"}
    }))
    .unwrap();
    let deployed = argocd_with(settings, &event).remove(0);
    common::assert_deployed(&deployed, "cdviz", "demo");
    // Without on-deployed among the deployment triggers, the notification gives nothing.
    let settings: ArgocdSettings =
        serde_json::from_value(json!({"deployed_triggers": ["on-sync-succeeded"]})).unwrap();
    assert!(argocd_with(settings, &event).is_empty());
    // Unknown settings are refused.
    assert!(serde_json::from_value::<ArgocdSettings>(json!({"service": "x"})).is_err());
    assert!(serde_json::from_value::<TektonSettings>(json!({"deploy": "x"})).is_err());
}

#[test]
fn malformed_argocd_data_names_the_field() {
    let transformer = ArgocdTransformer::new(ArgocdSettings::default());
    let error = |mutate: &dyn Fn(&mut Value)| {
        let mut event = input("argocd", "cdviz-008-on-deployed-0");
        mutate(&mut event);
        transformer.documents(&parse(event)).unwrap_err().reason
    };
    assert_eq!(
        error(&|e| e["data"]["operation"]["startedAt"] = json!("")),
        "data.operation.startedAt is missing: trigger \"on-deployed\" must report a sync operation"
    );
    assert_eq!(
        error(&|e| e["data"]["operation"]["finishedAt"] = json!("yesterday")),
        "data.operation.finishedAt \"yesterday\" is not an RFC 3339 timestamp"
    );
    assert_eq!(
        error(&|e| e["data"]["images"] = json!(["a", 1])),
        "data.images[1] must be a string"
    );
    assert_eq!(
        error(&|e| {
            e["data"]["app"].as_object_mut().unwrap().remove("name");
        }),
        "data.app.name is required (the application name)"
    );
}
