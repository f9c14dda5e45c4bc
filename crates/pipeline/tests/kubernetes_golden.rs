//! Golden tests of the `kubernetes` transformer: every directory under
//! `tests/fixtures/kubernetes/` (repository root) holds `input.json` (a CloudEvent in structured
//! JSON) and `expected.json` (the JSON array of CDEvents it must give). With
//! `DORA_UPDATE_GOLDEN=1` the expected files are rewritten from the current output instead.
//!
//! Every emitted CDEvent must validate against the official CDEvents schemas (`dora_spec`), and
//! the rules of the transformer (what a rollout is, which inputs share an id) are asserted on
//! the fixtures, so that a wrong implementation fails even after a careless golden update.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};

use dora_model::cloudevent::CloudEvent;
use dora_pipeline::transformers::kubernetes::{self, KubernetesTransformer};
use dora_pipeline::transformers::{Transformer, SERVICE_DEPLOYED};
use serde_json::{json, Value};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/kubernetes")
}

/// The case directories, sorted by name.
fn cases() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(fixtures())
        .expect("tests/fixtures/kubernetes is readable")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("input.json").is_file())
        .collect();
    dirs.sort();
    dirs
}

fn case_name(dir: &Path) -> String {
    dir.file_name().unwrap().to_string_lossy().into_owned()
}

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The input CloudEvent of a case (by directory name).
fn input(case: &str) -> Value {
    read_json(&fixtures().join(case).join("input.json"))
}

fn parse(value: Value) -> CloudEvent {
    CloudEvent::from_json_value(value).expect("the input is a valid CloudEvent")
}

/// Runs the transformer and checks every CDEvent against the schemas.
fn transform(event: &CloudEvent) -> Vec<Value> {
    let out = KubernetesTransformer
        .transform(event)
        .unwrap_or_else(|e| panic!("event {} failed: {e}", event.id));
    for document in &out {
        let validated = dora_spec::validate(document)
            .unwrap_or_else(|e| panic!("event {}: invalid CDEvent: {e}\n{document:#}", event.id));
        assert_eq!(validated.release, dora_spec::EMIT_RELEASE);
    }
    out
}

fn run(case: &str) -> Vec<Value> {
    transform(&parse(input(case)))
}

/// The one CDEvent a case gives.
fn one(case: &str) -> Value {
    let mut out = run(case);
    assert_eq!(
        out.len(),
        1,
        "{case} should give exactly one CDEvent: {out:#?}"
    );
    out.remove(0)
}

fn id(document: &Value) -> String {
    document["context"]["id"].as_str().unwrap().to_owned()
}

#[test]
fn golden_cases() {
    let update = std::env::var("DORA_UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let cases = cases();
    assert!(
        cases.len() >= 16,
        "fixtures missing: found {} cases",
        cases.len()
    );
    let mut failures = Vec::new();
    for dir in &cases {
        let name = case_name(dir);
        let out = Value::Array(transform(&parse(read_json(&dir.join("input.json")))));
        let expected_path = dir.join("expected.json");
        if update {
            let mut text = serde_json::to_string_pretty(&out).unwrap();
            text.push('\n');
            fs::write(&expected_path, text).unwrap();
            continue;
        }
        if !expected_path.is_file() {
            failures.push(format!(
                "{name}: no expected.json (run with DORA_UPDATE_GOLDEN=1)"
            ));
            continue;
        }
        let expected = read_json(&expected_path);
        if out != expected {
            failures.push(format!(
                "{name}: output differs from expected.json\n--- got:\n{out:#}\n--- expected:\n{expected:#}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
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
fn deletes_and_reference_mode_give_nothing() {
    for case in [
        "book-05-deployment-delete",
        "kubewatch-deployment-delete",
        "book-12-ref-mode-deployment-update",
    ] {
        assert!(run(case).is_empty(), "{case}");
    }
}

#[test]
fn pod_events_other_kinds_and_scale_downs_give_nothing() {
    for case in [
        "knative-docs-pod-event",
        "knative-docs-kubevirt-vm-add",
        "book-08-pod-event",
        "book-11-event-scaled-down",
    ] {
        assert!(run(case).is_empty(), "{case}");
    }
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

    // The same Deployment object is a rollout only under resource.add and resource.update.
    for event_type in declared {
        let mut event = input("book-02-deployment-update-revision-1");
        event["type"] = json!(event_type);
        let expected = usize::from(
            event_type == kubernetes::RESOURCE_ADD || event_type == kubernetes::RESOURCE_UPDATE,
        );
        assert_eq!(transform(&parse(event)).len(), expected, "{event_type}");
    }
}
