//! Golden tests of the `kubernetes` transformer: every directory under
//! `tests/fixtures/kubernetes/` (repository root) and under its `removals/` holds `input.json` (a
//! CloudEvent in structured JSON) and `expected.json` (the JSON array of CDEvents it must give).
//! With `DORA_UPDATE_GOLDEN=1` the expected files are rewritten from the current output instead.
//!
//! The cases whose output is a `service.removed` live in `removals/`: the end-to-end test
//! `tests/api/deploy_frequency.rs` posts every top-level case and counts every id of their
//! expected files as a deployment, so a top-level case must never give a removal (asserted here).
//!
//! Every emitted CDEvent must validate against the official CDEvents schemas (`dora_spec`), and
//! the rules of the transformer (what a rollout is, which inputs share an id) are asserted on
//! the fixtures, so that a wrong implementation fails even after a careless golden update.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{assert_golden, cases_in, input_event, parse, read_json, single};
use dora_model::cloudevent::CloudEvent;
use dora_sources::kubernetes::{self, KubernetesTransformer};
use dora_sources::transform::{SERVICE_DEPLOYED, SERVICE_REMOVED, SERVICE_ROLLEDBACK};
use serde_json::{json, Value};

const TOOL: &str = "kubernetes";

fn fixtures() -> PathBuf {
    common::fixtures(TOOL)
}

/// Every case directory: the top-level ones (what the end-to-end test posts), then `removals/`.
fn cases() -> Vec<PathBuf> {
    let mut dirs = cases_in(&fixtures());
    dirs.extend(cases_in(&fixtures().join("removals")));
    dirs
}

/// The case's path under `tests/fixtures/kubernetes`, e.g. `removals/book-05-deployment-delete`.
fn case_name(dir: &Path) -> String {
    dir.strip_prefix(fixtures())
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// The input CloudEvent of a case (by directory name).
fn input(case: &str) -> Value {
    common::input(TOOL, case)
}

/// Runs the transformer and checks every CDEvent against the schemas.
fn transform(event: &CloudEvent) -> Vec<Value> {
    common::checked(&KubernetesTransformer, event)
}

fn run(case: &str) -> Vec<Value> {
    transform(&parse(input(case)))
}

/// The one CDEvent a case gives.
fn one(case: &str) -> Value {
    single(run(case), case)
}

fn id(document: &Value) -> String {
    document["context"]["id"].as_str().unwrap().to_owned()
}

#[test]
fn golden_cases() {
    assert_golden(&cases(), 28, |dir| transform(&input_event(dir)));
}

#[test]
fn every_case_gives_the_same_output_twice() {
    for dir in cases() {
        let event = parse(read_json(&dir.join("input.json")));
        assert_eq!(transform(&event), transform(&event), "{}", case_name(&dir));
    }
}

#[test]
fn add_without_revision_and_update_with_revision_1_are_one_rollout() {
    let add = one("book-01-deployment-add");
    let revision_1 = one("book-02-deployment-update-revision-1");
    assert_eq!(id(&add), id(&revision_1));
    assert_eq!(add["customData"]["kubernetes"]["revision"], "1");
    // The add comes first, so its timestamp is the one the store keeps.
    assert_eq!(add["context"]["timestamp"], "2023-08-05T10:00:00.120431Z");
}

#[test]
fn scale_only_update_keeps_the_id() {
    assert_eq!(
        id(&one("book-03-deployment-scaled")),
        id(&one("book-02-deployment-update-revision-1"))
    );
}

#[test]
fn image_change_is_a_new_rollout() {
    let before = one("book-03-deployment-scaled");
    let after = one("book-04-deployment-image-changed");
    assert_ne!(id(&before), id(&after));
    assert_eq!(
        after["subject"]["content"]["artifactId"],
        "pkg:oci/nginx?repository_url=docker.io/library/nginx&tag=1.16.1"
    );
    assert_eq!(after["subject"]["id"], "nginx-deployment");
    assert_eq!(
        after["subject"]["content"]["environment"],
        json!({"id": "default", "source": "https://10.96.0.1:443"})
    );
    assert_eq!(
        after["customData"]["kubernetes"]["labels"],
        json!({"app.kubernetes.io/part-of": "conference-app", "app.kubernetes.io/version": "1.16.1"})
    );
}

#[test]
fn top_level_cases_give_no_removal_and_removals_only_removals() {
    // The end-to-end test counts every id of the top-level expected files as a deployment.
    for dir in cases_in(&fixtures()) {
        for document in transform(&parse(read_json(&dir.join("input.json")))) {
            assert_ne!(
                document["context"]["type"],
                SERVICE_REMOVED,
                "{} gives a removal: move it to removals/",
                case_name(&dir)
            );
        }
    }
    let removals = cases_in(&fixtures().join("removals"));
    assert!(removals.len() >= 3);
    for dir in removals {
        let out = transform(&parse(read_json(&dir.join("input.json"))));
        assert_eq!(out.len(), 1, "{}", case_name(&dir));
        assert_eq!(out[0]["context"]["type"], SERVICE_REMOVED);
    }
}

#[test]
fn deployment_deletion_is_one_removal_with_a_stable_id() {
    let removed = one("removals/book-05-deployment-delete");
    assert_eq!(removed["context"]["type"], SERVICE_REMOVED);
    assert_eq!(removed["subject"]["id"], "nginx-deployment");
    assert_eq!(
        removed["subject"]["content"],
        json!({"environment": {"id": "default", "source": "https://10.96.0.1:443"}})
    );
    assert_eq!(removed["customData"]["kubernetes"]["revision"], "3");
    assert_eq!(
        removed["context"]["timestamp"],
        "2023-08-05T11:00:00.050113Z"
    );
    // Redelivered as another CloudEvent, or seen in another state: the same removal.
    let mut again = input("removals/book-05-deployment-delete");
    again["id"] = json!("6a1d2c3e-0099-4b6f-9e2a-5d7c8b9a0f99");
    again["time"] = json!("2023-08-05T11:00:02Z");
    again["data"]["metadata"]["resourceVersion"] = json!("1703");
    again["data"]["metadata"]["deletionTimestamp"] = json!("2023-08-05T11:00:00Z");
    let again = transform(&parse(again));
    assert_eq!(again.len(), 1);
    assert_eq!(id(&again[0]), id(&removed));
    // Not the id of any rollout of the Deployment.
    for case in [
        "book-01-deployment-add",
        "book-04-deployment-image-changed",
        "book-17-deployment-rolled-back-revision-3",
    ] {
        assert_ne!(id(&one(case)), id(&removed), "{case}");
    }
    // Another Deployment (kubewatch's real object): another removal.
    let other = one("removals/kubewatch-deployment-delete");
    assert_eq!(other["context"]["type"], SERVICE_REMOVED);
    assert_ne!(id(&other), id(&removed));
    // A deleted ReplicaSet is no removal of the service.
    assert!(run("book-22-replicaset-delete").is_empty());
}

#[test]
fn reference_mode_gives_only_removals() {
    common::assert_give_nothing(
        &[
            "book-12-ref-mode-deployment-update",
            "book-21-ref-mode-deployment-add",
        ],
        run,
    );
    let removed = one("removals/book-23-ref-mode-deployment-delete");
    assert_eq!(removed["context"]["type"], SERVICE_REMOVED);
    assert_eq!(removed["subject"]["id"], "nginx-deployment");
    assert_eq!(
        removed["subject"]["content"]["environment"]["id"],
        "default"
    );
    // One removal per deletion event: the same CloudEvent gives the same id, another one another.
    let mut redelivered = input("removals/book-23-ref-mode-deployment-delete");
    redelivered["time"] = json!("2023-08-05T11:00:03Z");
    assert_eq!(id(&transform(&parse(redelivered))[0]), id(&removed));
    let mut deleted_again = input("removals/book-23-ref-mode-deployment-delete");
    deleted_again["id"] = json!("6a1d2c3e-0098-4b6f-9e2a-5d7c8b9a0f98");
    assert_ne!(id(&transform(&parse(deleted_again))[0]), id(&removed));
}

#[test]
fn rollback_on_the_replica_set_is_service_rolledback_with_the_deployment_revision_id() {
    let renumbered = one("book-16-replicaset-rolled-back-to-revision-1");
    assert_eq!(renumbered["context"]["type"], SERVICE_ROLLEDBACK);
    assert_eq!(renumbered["subject"]["id"], "nginx-deployment");
    assert_eq!(
        renumbered["subject"]["content"]["artifactId"],
        "pkg:oci/nginx?repository_url=docker.io/library/nginx&tag=1.14.2"
    );
    let details = &renumbered["customData"]["kubernetes"];
    assert_eq!(details["revision"], "3");
    assert_eq!(details["revisionHistory"], json!(["1"]));
    assert_eq!(details["replicaSet"], "nginx-deployment-7c5ddbdf54");
    assert_eq!(details["uid"], "b4e0a1f2-6c3d-4e5f-8a9b-0c1d2e3f4a5b");
    assert_eq!(
        renumbered["context"]["timestamp"],
        "2023-08-05T10:20:00.212874Z"
    );

    // The Deployment's revision 3 and the scale-up are the same rollout; the store keeps the
    // first, the ReplicaSet's rollback.
    let deployment = one("book-17-deployment-rolled-back-revision-3");
    assert_eq!(deployment["context"]["type"], SERVICE_DEPLOYED);
    assert_eq!(id(&deployment), id(&renumbered));
    let scaled_up = one("book-18-replicaset-rolled-back-scaled-up");
    assert_eq!(scaled_up["context"]["type"], SERVICE_ROLLEDBACK);
    assert_eq!(id(&scaled_up), id(&renumbered));
    assert!(
        renumbered["context"]["timestamp"].as_str() < deployment["context"]["timestamp"].as_str()
    );

    // The rollback is a new rollout, not revision 1 again.
    assert_ne!(id(&renumbered), id(&one("book-01-deployment-add")));
    assert_ne!(
        id(&renumbered),
        id(&one("book-04-deployment-image-changed"))
    );
}

#[test]
fn template_hash_is_the_same_for_the_same_pod_template() {
    let hash = |case: &str| {
        one(case)["customData"]["kubernetes"]["templateHash"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let revision_1 = hash("book-01-deployment-add");
    for case in [
        "book-02-deployment-update-revision-1",
        "book-03-deployment-scaled",
        "book-16-replicaset-rolled-back-to-revision-1",
        "book-17-deployment-rolled-back-revision-3",
        "book-18-replicaset-rolled-back-scaled-up",
    ] {
        assert_eq!(hash(case), revision_1, "{case}");
    }
    let revision_2 = hash("book-04-deployment-image-changed");
    assert_ne!(revision_2, revision_1);
    assert_eq!(hash("book-13-replicaset-created-revision-2"), revision_2);
}

#[test]
fn replica_set_rollouts_share_the_deployment_ids() {
    let created = one("book-13-replicaset-created-revision-2");
    assert_eq!(created["context"]["type"], SERVICE_DEPLOYED);
    assert_eq!(id(&created), id(&one("book-04-deployment-image-changed")));
    assert_eq!(created["subject"]["id"], "nginx-deployment");
    assert_eq!(
        created["customData"]["kubernetes"]["replicaSet"],
        "nginx-deployment-66b6c48dd5"
    );
    // Not running (scaled down, listed at 0 replicas): nothing.
    common::assert_give_nothing(
        &[
            "book-14-replicaset-old-scaled-to-0",
            "book-15-replicaset-listed-with-0-replicas",
        ],
        run,
    );
}

#[test]
fn events_see_a_rollback_as_a_deployment() {
    let scaled_up = one("book-19-event-rollback-scaled-up-from-0");
    assert_eq!(scaled_up["context"]["type"], SERVICE_DEPLOYED);
    assert_eq!(
        scaled_up["customData"]["kubernetes"]["replicaSet"],
        "nginx-deployment-7c5ddbdf54"
    );
    assert_ne!(id(&scaled_up), id(&one("book-06-event-scaled-up-from-0")));
    // The deprecated rollbackTo path's Event: nothing (its scale-up is the rollout).
    assert!(run("book-20-event-deployment-rollback").is_empty());
}

#[test]
fn every_namespace_is_an_environment() {
    let checkout = one("multi-namespace-deployment-add");
    assert_eq!(checkout["subject"]["id"], "checkout");
    assert_eq!(
        checkout["subject"]["content"]["environment"],
        json!({"id": "payments", "source": "https://10.96.0.1:443"})
    );
    assert_eq!(
        checkout["subject"]["content"]["artifactId"],
        "pkg:oci/checkout?repository_url=ghcr.io/example/checkout&tag=2.3.0"
    );
    assert_eq!(
        checkout["customData"]["kubernetes"]["labels"]["app.kubernetes.io/part-of"],
        "payments"
    );
}

#[test]
fn pod_events_other_kinds_and_scale_downs_give_nothing() {
    common::assert_give_nothing(
        &[
            "knative-docs-pod-event",
            "knative-docs-kubevirt-vm-add",
            "book-08-pod-event",
            "book-11-event-scaled-down",
        ],
        run,
    );
}

#[test]
fn scale_up_from_0_is_one_rollout_and_from_3_none() {
    let from_0 = one("book-06-event-scaled-up-from-0");
    assert_eq!(from_0["context"]["type"], SERVICE_DEPLOYED);
    assert_eq!(from_0["context"]["source"], "https://10.96.0.1:443");
    assert_eq!(from_0["subject"]["id"], "nginx-deployment");
    assert_eq!(
        from_0["customData"]["kubernetes"]["replicaSet"],
        "nginx-deployment-7c5ddbdf54"
    );
    assert!(run("book-09-event-scaled-up-from-3").is_empty());
    // The next rollout's new ReplicaSet is another rollout.
    assert_ne!(
        id(&one("book-10-event-new-replica-set-from-0")),
        id(&from_0)
    );
}

#[test]
fn add_and_update_of_the_same_event_object_are_one_rollout_but_a_recount_is_new() {
    let add = one("book-06-event-scaled-up-from-0");
    let mut update = input("book-06-event-scaled-up-from-0");
    update["type"] = json!(kubernetes::RESOURCE_UPDATE);
    update["id"] = json!("6a1d2c3e-0006-4b6f-9e2a-5d7c8b9a0f99");
    update["time"] = json!("2023-08-05T10:00:30Z");
    let update = transform(&parse(update));
    assert_eq!(update.len(), 1);
    assert_eq!(id(&update[0]), id(&add));

    // A rollback to the same ReplicaSet: the Event is counted again.
    let mut rollback = input("book-06-event-scaled-up-from-0");
    rollback["type"] = json!(kubernetes::RESOURCE_UPDATE);
    rollback["data"]["count"] = json!(2);
    let rollback = transform(&parse(rollback));
    assert_eq!(rollback.len(), 1);
    assert_ne!(id(&rollback[0]), id(&add));
}

#[test]
fn scale_up_without_from_counts_the_replica_set_once() {
    let first = one("book-07-event-scaled-up-without-from");
    // No CloudEvent time in this fixture: lastTimestamp.
    assert_eq!(first["context"]["timestamp"], "2023-08-05T10:00:00Z");
    let mut later = input("book-07-event-scaled-up-without-from");
    later["data"]["message"] = json!("Scaled up replica set nginx-deployment-7c5ddbdf54 to 5");
    later["data"]["metadata"]["uid"] = json!("0d3c4b5a-0099-4e8f-9a1b-2c3d4e5f6a99");
    later["data"]["count"] = json!(1);
    let later = transform(&parse(later));
    assert_eq!(later.len(), 1);
    assert_eq!(id(&later[0]), id(&first));
}

#[test]
fn kubewatch_deployment_is_a_rollout_of_its_revision() {
    let document = one("kubewatch-deployment-update");
    assert_eq!(document["customData"]["kubernetes"]["revision"], "5");
    assert_eq!(
        document["subject"]["content"]["artifactId"],
        "pkg:oci/aaaaaaaaa?repository_url=docker.io/robustadev/aaaaaaaaa&tag=v2.9.0"
    );
    assert_eq!(
        document["context"]["timestamp"],
        "2024-12-18T17:58:39.674637507Z"
    );
}

#[test]
fn the_registry_declares_exactly_the_types_handled() {
    let registry = read_json(&fixtures().join("apiserversource.registry-eventTypes.json"));
    let mut declared: Vec<&str> = registry
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["type"].as_str().unwrap())
        .collect();
    declared.sort_unstable();
    let mut handled = vec![
        kubernetes::RESOURCE_ADD,
        kubernetes::RESOURCE_UPDATE,
        kubernetes::RESOURCE_DELETE,
        kubernetes::REF_ADD,
        kubernetes::REF_UPDATE,
        kubernetes::REF_DELETE,
    ];
    handled.sort_unstable();
    assert_eq!(declared, handled);

    // The same Deployment object is a rollout under resource.add and resource.update, a removal
    // under resource.delete; its reference is a removal under ref.delete only.
    for event_type in declared {
        let reference = event_type.starts_with("dev.knative.apiserver.ref.");
        let mut event = if reference {
            input("book-12-ref-mode-deployment-update")
        } else {
            input("book-02-deployment-update-revision-1")
        };
        event["type"] = json!(event_type);
        let types: Vec<Value> = transform(&parse(event))
            .iter()
            .map(|document| document["context"]["type"].clone())
            .collect();
        let expected: Vec<Value> = match event_type {
            kubernetes::RESOURCE_ADD | kubernetes::RESOURCE_UPDATE => vec![json!(SERVICE_DEPLOYED)],
            kubernetes::RESOURCE_DELETE | kubernetes::REF_DELETE => vec![json!(SERVICE_REMOVED)],
            _ => Vec::new(),
        };
        assert_eq!(types, expected, "{event_type}");
    }
}
