//! Unit tests of the kubernetes transformer.

#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::kubernetes::events::{parse_scaling_message, Scaling};
use dora_model::cloudevent::Data;

const CLUSTER: &str = "https://10.96.0.1:443";

fn cloud_event(event_type: &str, time: Option<&str>, data: Value) -> CloudEvent {
    let mut value = json!({
        "specversion": "1.0",
        "id": "e0447eb7-36b5-443b-9d37-faf4fe5c62f0",
        "source": CLUSTER,
        "type": event_type,
        "datacontenttype": "application/json",
        "data": data,
    });
    if let Some(time) = time {
        value["time"] = json!(time);
    }
    CloudEvent::from_json_value(value).unwrap()
}

fn deployment(revision: Option<&str>, replicas: u64, image: &str) -> Value {
    let mut value = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "nginx-deployment",
            "namespace": "default",
            "uid": "5b0a4a7e-2f29-4a57-9c0c-3a1f7f1e8a10",
            "creationTimestamp": "2023-08-05T10:00:00Z",
            "labels": {"app": "nginx", "app.kubernetes.io/part-of": "conference"}
        },
        "spec": {
            "replicas": replicas,
            "template": pod_template_of(image)
        }
    });
    if let Some(revision) = revision {
        value["metadata"]["annotations"] = json!({ REVISION_ANNOTATION: revision });
    }
    value
}

fn pod_template_of(image: &str) -> Value {
    json!({
        "metadata": {"labels": {"app": "nginx"}},
        "spec": {"containers": [
            {"name": "nginx", "image": image},
            {"name": "sidecar", "image": "ghcr.io/org/sidecar:v1"}
        ]}
    })
}

const DEPLOYMENT_UID: &str = "5b0a4a7e-2f29-4a57-9c0c-3a1f7f1e8a10";

/// A ReplicaSet of `deployment()`, as the controller writes it.
fn replica_set(revision: &str, history: Option<&str>, replicas: u64, image: &str) -> Value {
    let mut template = pod_template_of(image);
    template["metadata"]["labels"]["pod-template-hash"] = json!("7c5ddbdf54");
    let mut annotations = json!({
        "deployment.kubernetes.io/desired-replicas": "3",
        "deployment.kubernetes.io/max-replicas": "4",
        REVISION_ANNOTATION: revision,
    });
    if let Some(history) = history {
        annotations[REVISION_HISTORY_ANNOTATION] = json!(history);
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": "nginx-deployment-7c5ddbdf54",
            "namespace": "default",
            "uid": "0c9e3f4a-1b2c-4d5e-8f6a-7b8c9d0e1f2a",
            "creationTimestamp": "2023-08-05T09:00:00Z",
            "labels": {"app": "nginx", "pod-template-hash": "7c5ddbdf54"},
            "annotations": annotations,
            "ownerReferences": [{
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": "nginx-deployment",
                "uid": DEPLOYMENT_UID,
                "controller": true,
                "blockOwnerDeletion": true
            }]
        },
        "spec": {"replicas": replicas, "template": template}
    })
}

fn scaling_event(message: &str, count: Option<u64>) -> Value {
    let mut value = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": "nginx-deployment.1775a6d9b7b0e4c1",
            "namespace": "default",
            "uid": "8f6b2a37-5f0e-4bde-9a0e-0c3f1b6e2d44",
            "creationTimestamp": "2023-08-05T10:00:01Z"
        },
        "involvedObject": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "nginx-deployment",
            "namespace": "default",
            "uid": "5b0a4a7e-2f29-4a57-9c0c-3a1f7f1e8a10"
        },
        "reason": "ScalingReplicaSet",
        "message": message,
        "firstTimestamp": "2023-08-05T10:00:01Z",
        "lastTimestamp": "2023-08-05T10:00:02Z",
        "eventTime": null,
        "type": "Normal"
    });
    if let Some(count) = count {
        value["count"] = json!(count);
    }
    value
}

fn run(event: &CloudEvent) -> Result<Vec<Value>, TransformError> {
    KubernetesTransformer.documents(event)
}

/// Whether a CloudEvent without a time of `event_type` about `data` gives no CDEvent.
fn gives_nothing(event_type: &str, data: Value) -> bool {
    run(&cloud_event(event_type, None, data))
        .unwrap()
        .is_empty()
}

fn one(event: &CloudEvent) -> Value {
    let mut out = run(event).unwrap();
    assert_eq!(out.len(), 1, "{out:?}");
    out.remove(0)
}

/// The id of a scaling of `nginx-deployment` in `default`: `parts` follow the Deployment's.
fn scaling_id(parts: &[&str]) -> String {
    let mut all = vec![
        "kubernetes",
        "event",
        CLUSTER,
        "default",
        "nginx-deployment",
    ];
    all.extend_from_slice(parts);
    derived_id(&all)
}

fn id_of(document: &Value) -> &str {
    document["context"]["id"].as_str().unwrap()
}

fn error(event: &CloudEvent) -> String {
    run(event).unwrap_err().reason
}

#[test]
fn oci_purls() {
    let cases = [
        (
            "nginx:1.14.2",
            "pkg:oci/nginx?repository_url=docker.io/library/nginx&tag=1.14.2",
        ),
        (
            "nginx",
            "pkg:oci/nginx?repository_url=docker.io/library/nginx&tag=latest",
        ),
        (
            "ghcr.io/org/app:v1",
            "pkg:oci/app?repository_url=ghcr.io/org/app&tag=v1",
        ),
        (
            "repo/app@sha256:abc",
            "pkg:oci/app@sha256%3Aabc?repository_url=docker.io/repo/app",
        ),
        (
            "nginx:1.14.2@sha256:abc",
            "pkg:oci/nginx@sha256%3Aabc?repository_url=docker.io/library/nginx&tag=1.14.2",
        ),
        (
            "localhost:5000/app:1",
            "pkg:oci/app?repository_url=localhost:5000/app&tag=1",
        ),
        (
            "localhost/app",
            "pkg:oci/app?repository_url=localhost/app&tag=latest",
        ),
        (
            "registry.example.com:5000/team/App",
            "pkg:oci/app?repository_url=registry.example.com:5000/team/App&tag=latest",
        ),
        (
            "docker.io/nginx:1",
            "pkg:oci/nginx?repository_url=docker.io/library/nginx&tag=1",
        ),
        (
            "index.docker.io/library/nginx:1",
            "pkg:oci/nginx?repository_url=docker.io/library/nginx&tag=1",
        ),
        (
            "gcr.io/distroless/static:nonroot",
            "pkg:oci/static?repository_url=gcr.io/distroless/static&tag=nonroot",
        ),
        (
            "robustadev/aaaaaaaaa:v2.9.0",
            "pkg:oci/aaaaaaaaa?repository_url=docker.io/robustadev/aaaaaaaaa&tag=v2.9.0",
        ),
    ];
    for (image, purl) in cases {
        assert_eq!(oci_purl(image).as_deref(), Some(purl), "{image}");
    }
}

#[test]
fn not_image_references() {
    for image in [
        "",
        " ",
        "nginx:",
        "nginx@",
        "nginx@abc",
        "ghcr.io//app",
        "/app",
        "a b",
    ] {
        assert_eq!(oci_purl(image), None, "{image:?}");
    }
}

#[test]
fn generic_purl_for_deployments() {
    assert_eq!(
        deployment_purl("default", "nginx-deployment"),
        "pkg:generic/default/nginx-deployment"
    );
    assert_eq!(deployment_purl("a b", "c@d"), "pkg:generic/a%20b/c%40d");
}

#[test]
fn scaling_messages() {
    let rs = "nginx-deployment-7c5ddbdf54";
    assert_eq!(
        parse_scaling_message(&format!("Scaled up replica set {rs} to 3 from 0")),
        Some(Scaling::Up {
            replica_set: rs,
            from: Some(0)
        })
    );
    assert_eq!(
        parse_scaling_message(&format!("Scaled up replica set {rs} to 3")),
        Some(Scaling::Up {
            replica_set: rs,
            from: None
        })
    );
    assert_eq!(
        parse_scaling_message(&format!("Scaled down replica set {rs} to 0 from 3")),
        Some(Scaling::Down)
    );
    for other in [
        "Scaled up replica set",
        "Scaled up replica set x to three",
        "Scaled up replica set x to 3 from",
        "Scaled up replica set x to 3 from -1",
        "Created pod: x",
    ] {
        assert_eq!(parse_scaling_message(other), None, "{other}");
    }
}

/// The whole `service.deployed` of `nginx-deployment` (image nginx:1.16.1) in `default`, with
/// `customData.kubernetes` = `kubernetes`.
fn nginx_deployed(id: &str, timestamp: &str, kubernetes: Value) -> Value {
    json!({
        "context": {
            "specversion": "0.5.1",
            "id": id,
            "source": CLUSTER,
            "type": SERVICE_DEPLOYED,
            "timestamp": timestamp
        },
        "subject": {
            "id": "nginx-deployment",
            "source": CLUSTER,
            "content": {
                "environment": {"id": "default", "source": CLUSTER},
                "artifactId": "pkg:oci/nginx?repository_url=docker.io/library/nginx&tag=1.16.1"
            }
        },
        "customData": {"kubernetes": kubernetes}
    })
}

#[test]
fn deployment_rollout_document() {
    let event = cloud_event(
        RESOURCE_UPDATE,
        Some("2023-08-05T10:00:05Z"),
        deployment(Some("2"), 3, "nginx:1.16.1"),
    );
    let document = one(&event);
    assert_eq!(
        document,
        nginx_deployed(
            &derived_id(&[
                "kubernetes",
                "deployment",
                CLUSTER,
                "5b0a4a7e-2f29-4a57-9c0c-3a1f7f1e8a10",
                "2"
            ]),
            "2023-08-05T10:00:05Z",
            json!({
                "namespace": "default",
                "name": "nginx-deployment",
                "uid": "5b0a4a7e-2f29-4a57-9c0c-3a1f7f1e8a10",
                "revision": "2",
                "images": ["nginx:1.16.1", "ghcr.io/org/sidecar:v1"],
                "templateHash": template_hash(&pod_template_of("nginx:1.16.1")),
                "labels": {"app.kubernetes.io/part-of": "conference"}
            })
        )
    );
}

#[test]
fn one_id_per_revision() {
    let time = Some("2023-08-05T10:00:00Z");
    let add = one(&cloud_event(
        RESOURCE_ADD,
        time,
        deployment(None, 3, "nginx:1.14.2"),
    ));
    let rev1 = one(&cloud_event(
        RESOURCE_UPDATE,
        Some("2023-08-05T10:00:01Z"),
        deployment(Some("1"), 3, "nginx:1.14.2"),
    ));
    let scaled = one(&cloud_event(
        RESOURCE_UPDATE,
        time,
        deployment(Some("1"), 5, "nginx:1.14.2"),
    ));
    let rev2 = one(&cloud_event(
        RESOURCE_UPDATE,
        time,
        deployment(Some("2"), 5, "nginx:1.16.1"),
    ));
    assert_eq!(id_of(&add), id_of(&rev1));
    assert_eq!(id_of(&rev1), id_of(&scaled));
    assert_ne!(id_of(&rev1), id_of(&rev2));
}

#[test]
fn deployment_without_uid_is_keyed_by_namespace_and_name() {
    let mut data = deployment(Some("4"), 1, "nginx");
    data["metadata"].as_object_mut().unwrap().remove("uid");
    let document = one(&cloud_event(RESOURCE_UPDATE, None, data));
    assert_eq!(
        id_of(&document),
        derived_id(&[
            "kubernetes",
            "deployment",
            CLUSTER,
            "default/nginx-deployment",
            "4"
        ])
    );
    // No CloudEvent time: the creation timestamp.
    assert_eq!(document["context"]["timestamp"], "2023-08-05T10:00:00Z");
    assert!(document["customData"]["kubernetes"].get("uid").is_none());
}

#[test]
fn nothing_for_ref_add_update_other_kinds_and_terminating_deployments() {
    let data = deployment(Some("1"), 3, "nginx");
    for event_type in [REF_ADD, REF_UPDATE, "com.example.other"] {
        assert_eq!(
            run(&cloud_event(event_type, None, data.clone())).unwrap(),
            Vec::<Value>::new()
        );
    }
    let mut other = data.clone();
    other["kind"] = json!("StatefulSet");
    for event_type in [RESOURCE_UPDATE, RESOURCE_DELETE] {
        assert!(gives_nothing(event_type, other.clone()));
    }
    let mut foreign = data.clone();
    foreign["apiVersion"] = json!("example.com/v1");
    for event_type in [RESOURCE_UPDATE, RESOURCE_DELETE] {
        assert!(gives_nothing(event_type, foreign.clone()));
    }
    let mut terminating = data;
    terminating["metadata"]["deletionTimestamp"] = json!("2023-08-05T11:00:00Z");
    assert!(gives_nothing(RESOURCE_UPDATE, terminating));
}

#[test]
fn every_namespace_is_an_environment() {
    for namespace in ["default", "payments", "kube-system", "team-a-prod"] {
        let mut data = deployment(Some("1"), 1, "nginx");
        data["metadata"]["namespace"] = json!(namespace);
        let document = one(&cloud_event(RESOURCE_UPDATE, None, data));
        assert_eq!(
            document["subject"]["content"]["environment"],
            json!({"id": namespace, "source": CLUSTER})
        );
        assert_eq!(document["customData"]["kubernetes"]["namespace"], namespace);
    }
}

#[test]
fn template_hash_ignores_key_order_and_the_pod_template_hash_label() {
    let deployment_template = pod_template_of("nginx:1.14.2");
    let replica_set_template =
        replica_set("1", None, 3, "nginx:1.14.2")["spec"]["template"].clone();
    assert_ne!(deployment_template, replica_set_template);
    assert_eq!(
        template_hash(&deployment_template),
        template_hash(&replica_set_template)
    );
    let reordered: Value = serde_json::from_str(
        r#"{"spec": {"containers": [{"image": "nginx:1.14.2", "name": "nginx"},
            {"image": "ghcr.io/org/sidecar:v1", "name": "sidecar"}]},
            "metadata": {"labels": {"app": "nginx"}}}"#,
    )
    .unwrap();
    assert_eq!(
        template_hash(&reordered),
        template_hash(&deployment_template)
    );
    assert_ne!(
        template_hash(&pod_template_of("nginx:1.16.1")),
        template_hash(&deployment_template)
    );
    // Container order matters (the first container is the artifact).
    let mut swapped = deployment_template.clone();
    swapped["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .reverse();
    assert_ne!(template_hash(&swapped), template_hash(&deployment_template));
}

#[test]
fn replica_set_rollout_has_the_id_of_the_deployment_revision() {
    let event = cloud_event(
        RESOURCE_ADD,
        Some("2023-08-05T10:00:01Z"),
        replica_set("2", None, 1, "nginx:1.16.1"),
    );
    let document = one(&event);
    let from_deployment = one(&cloud_event(
        RESOURCE_UPDATE,
        None,
        deployment(Some("2"), 3, "nginx:1.16.1"),
    ));
    assert_eq!(id_of(&document), id_of(&from_deployment));
    assert_eq!(
        id_of(&document),
        derived_id(&["kubernetes", "deployment", CLUSTER, DEPLOYMENT_UID, "2"])
    );
    assert_eq!(
        document,
        nginx_deployed(
            id_of(&from_deployment),
            "2023-08-05T10:00:01Z",
            json!({
                "namespace": "default",
                "name": "nginx-deployment",
                "uid": DEPLOYMENT_UID,
                "revision": "2",
                "replicaSet": "nginx-deployment-7c5ddbdf54",
                "images": ["nginx:1.16.1", "ghcr.io/org/sidecar:v1"],
                "templateHash": from_deployment["customData"]["kubernetes"]["templateHash"]
            })
        )
    );
    // Every update of the revision (scale, status) is the same rollout; no time: creation.
    let scaled = one(&cloud_event(
        RESOURCE_UPDATE,
        None,
        replica_set("2", None, 3, "nginx:1.16.1"),
    ));
    assert_eq!(id_of(&scaled), id_of(&document));
    assert_eq!(scaled["context"]["timestamp"], "2023-08-05T09:00:00Z");
    // No spec.replicas: the API default, 1.
    let mut defaulted = replica_set("2", None, 1, "nginx:1.16.1");
    defaulted["spec"]
        .as_object_mut()
        .unwrap()
        .remove("replicas");
    assert_eq!(
        id_of(&one(&cloud_event(RESOURCE_ADD, None, defaulted))),
        id_of(&document)
    );
}

#[test]
fn reused_replica_set_is_a_rollback() {
    let time = Some("2023-08-05T10:20:00Z");
    // `kubectl rollout undo`: revision 1's ReplicaSet becomes revision 3, still at 0 replicas.
    let renumbered = one(&cloud_event(
        RESOURCE_UPDATE,
        time,
        replica_set("3", Some("1"), 0, "nginx:1.14.2"),
    ));
    assert_eq!(renumbered["context"]["type"], SERVICE_ROLLEDBACK);
    assert_eq!(
        id_of(&renumbered),
        derived_id(&["kubernetes", "deployment", CLUSTER, DEPLOYMENT_UID, "3"])
    );
    assert_eq!(renumbered["context"]["timestamp"], "2023-08-05T10:20:00Z");
    assert_eq!(renumbered["subject"]["id"], "nginx-deployment");
    assert_eq!(
        renumbered["subject"]["content"]["artifactId"],
        "pkg:oci/nginx?repository_url=docker.io/library/nginx&tag=1.14.2"
    );
    assert_eq!(
        renumbered["customData"]["kubernetes"]["revisionHistory"],
        json!(["1"])
    );
    // The Deployment's own revision 3 is the same rollout, with the same template.
    let deployment_3 = one(&cloud_event(
        RESOURCE_UPDATE,
        time,
        deployment(Some("3"), 3, "nginx:1.14.2"),
    ));
    assert_eq!(deployment_3["context"]["type"], SERVICE_DEPLOYED);
    assert_eq!(id_of(&deployment_3), id_of(&renumbered));
    assert_eq!(
        deployment_3["customData"]["kubernetes"]["templateHash"],
        renumbered["customData"]["kubernetes"]["templateHash"]
    );
    // Scaled up: the same rollback.
    let scaled_up = one(&cloud_event(
        RESOURCE_UPDATE,
        time,
        replica_set("3", Some("1"), 3, "nginx:1.14.2"),
    ));
    assert_eq!(scaled_up["context"]["type"], SERVICE_ROLLEDBACK);
    assert_eq!(id_of(&scaled_up), id_of(&renumbered));
    // Listed when the source starts: only while it runs.
    assert!(run(&cloud_event(
        RESOURCE_ADD,
        time,
        replica_set("3", Some("1"), 0, "nginx:1.14.2")
    ))
    .unwrap()
    .is_empty());
    let listed = one(&cloud_event(
        RESOURCE_ADD,
        time,
        replica_set("3", Some("1"), 3, "nginx:1.14.2"),
    ));
    assert_eq!(listed["context"]["type"], SERVICE_ROLLEDBACK);
    // A second rollback to the same template.
    let again = one(&cloud_event(
        RESOURCE_UPDATE,
        time,
        replica_set("5", Some("1, 3"), 0, "nginx:1.14.2"),
    ));
    assert_eq!(
        again["customData"]["kubernetes"]["revisionHistory"],
        json!(["1", "3"])
    );
    assert_ne!(id_of(&again), id_of(&renumbered));
    // No CloudEvent time: the ReplicaSet's creation is not the rollback's time.
    assert_eq!(
        error(&cloud_event(
            RESOURCE_UPDATE,
            None,
            replica_set("3", Some("1"), 0, "nginx:1.14.2")
        )),
        "no timestamp: the CloudEvent has no time"
    );
    // An empty history is no rollback.
    let plain = one(&cloud_event(
        RESOURCE_UPDATE,
        time,
        replica_set("3", Some(""), 3, "nginx:1.14.2"),
    ));
    assert_eq!(plain["context"]["type"], SERVICE_DEPLOYED);
    assert!(plain["customData"]["kubernetes"]
        .get("revisionHistory")
        .is_none());
}

#[test]
fn replica_sets_not_running_a_rollout_give_nothing() {
    let time = Some("2023-08-05T10:20:00Z");
    let nothing = |event_type: &str, data: Value| {
        assert_eq!(
            run(&cloud_event(event_type, time, data.clone())).unwrap(),
            Vec::<Value>::new(),
            "{event_type} {data:#}"
        );
    };
    // At 0 replicas: an old revision, or a new one before its scale-up.
    nothing(RESOURCE_ADD, replica_set("1", None, 0, "nginx"));
    nothing(RESOURCE_UPDATE, replica_set("1", None, 0, "nginx"));
    // Deleted (pruned by revisionHistoryLimit) or being deleted.
    nothing(RESOURCE_DELETE, replica_set("1", None, 3, "nginx"));
    let mut terminating = replica_set("1", None, 3, "nginx");
    terminating["metadata"]["deletionTimestamp"] = json!("2023-08-05T11:00:00Z");
    nothing(RESOURCE_UPDATE, terminating);
    // Not numbered by the deployment controller.
    let mut unnumbered = replica_set("1", None, 3, "nginx");
    unnumbered["metadata"]["annotations"]
        .as_object_mut()
        .unwrap()
        .remove(REVISION_ANNOTATION);
    nothing(RESOURCE_UPDATE, unnumbered);
    // Not controlled by a Deployment.
    let mut orphan = replica_set("1", None, 3, "nginx");
    orphan["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("ownerReferences");
    nothing(RESOURCE_UPDATE, orphan);
    let mut not_controller = replica_set("1", None, 3, "nginx");
    not_controller["metadata"]["ownerReferences"][0]["controller"] = json!(false);
    nothing(RESOURCE_UPDATE, not_controller);
    let mut argo = replica_set("1", None, 3, "nginx");
    argo["metadata"]["ownerReferences"][0]["apiVersion"] = json!("argoproj.io/v1alpha1");
    argo["metadata"]["ownerReferences"][0]["kind"] = json!("Rollout");
    nothing(RESOURCE_UPDATE, argo);
    let mut foreign = replica_set("1", None, 3, "nginx");
    foreign["metadata"]["ownerReferences"][0]["apiVersion"] = json!("example.com/v1");
    nothing(RESOURCE_UPDATE, foreign);
    // Reference mode.
    nothing(REF_UPDATE, replica_set("1", None, 3, "nginx"));
}

#[test]
fn malformed_replica_sets_name_the_field() {
    let time = Some("2023-08-05T10:20:00Z");
    let mut data = replica_set("1", None, 3, "nginx");
    data["metadata"]["ownerReferences"] = json!({"kind": "Deployment"});
    assert_eq!(
        error(&cloud_event(RESOURCE_UPDATE, time, data)),
        "data.metadata.ownerReferences is not an array"
    );
    let mut data = replica_set("1", None, 3, "nginx");
    data["metadata"]["ownerReferences"][0]
        .as_object_mut()
        .unwrap()
        .remove("uid");
    assert_eq!(
        error(&cloud_event(RESOURCE_UPDATE, time, data)),
        "data.metadata.ownerReferences[0].uid is missing"
    );
    let mut data = replica_set("1", None, 3, "nginx");
    data["metadata"]["ownerReferences"][0]["kind"] = json!(1);
    assert_eq!(
        error(&cloud_event(RESOURCE_UPDATE, time, data)),
        "data.metadata.ownerReferences[0].kind is not a string"
    );
    let mut data = replica_set("1", None, 3, "nginx");
    data["spec"]["replicas"] = json!("3");
    assert_eq!(
        error(&cloud_event(RESOURCE_UPDATE, time, data)),
        "data.spec.replicas is not a number"
    );
    let mut data = replica_set("1", None, 3, "nginx");
    data["spec"]["replicas"] = json!(-1);
    assert_eq!(
        error(&cloud_event(RESOURCE_UPDATE, time, data)),
        "data.spec.replicas is not a count"
    );
    let mut data = replica_set("1", None, 3, "nginx");
    data["spec"]["template"]["spec"]
        .as_object_mut()
        .unwrap()
        .remove("containers");
    assert_eq!(
        error(&cloud_event(RESOURCE_UPDATE, time, data)),
        "data.spec.template.spec.containers is missing or empty"
    );
}

#[test]
fn deleted_deployment_is_one_removal() {
    let mut data = deployment(Some("2"), 3, "nginx:1.16.1");
    let removed = one(&cloud_event(
        RESOURCE_DELETE,
        Some("2023-08-05T11:00:00Z"),
        data.clone(),
    ));
    assert_eq!(
        removed,
        json!({
            "context": {
                "specversion": "0.5.1",
                "id": derived_id(&["kubernetes", "removed", CLUSTER, DEPLOYMENT_UID]),
                "source": CLUSTER,
                "type": SERVICE_REMOVED,
                "timestamp": "2023-08-05T11:00:00Z"
            },
            "subject": {
                "id": "nginx-deployment",
                "source": CLUSTER,
                "content": {"environment": {"id": "default", "source": CLUSTER}}
            },
            "customData": {"kubernetes": {
                "namespace": "default",
                "name": "nginx-deployment",
                "uid": DEPLOYMENT_UID,
                "revision": "2",
                "labels": {"app.kubernetes.io/part-of": "conference"}
            }}
        })
    );
    // The same object deleted (delivered again, or in another state): the same removal.
    data["metadata"]["deletionTimestamp"] = json!("2023-08-05T10:59:58Z");
    let again = one(&cloud_event(RESOURCE_DELETE, None, data.clone()));
    assert_eq!(id_of(&again), id_of(&removed));
    // No CloudEvent time: the deletion timestamp.
    assert_eq!(again["context"]["timestamp"], "2023-08-05T10:59:58Z");
    // Without uid: namespace/name.
    data["metadata"].as_object_mut().unwrap().remove("uid");
    assert_eq!(
        id_of(&one(&cloud_event(RESOURCE_DELETE, None, data.clone()))),
        derived_id(&["kubernetes", "removed", CLUSTER, "default/nginx-deployment"])
    );
    // No time at all: an error, never the creation time.
    data["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("deletionTimestamp");
    assert_eq!(
        error(&cloud_event(RESOURCE_DELETE, None, data)),
        "no timestamp: the CloudEvent has no time and data.metadata.deletionTimestamp is missing"
    );
    // A removal needs no pod template.
    let bare = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "payments", "uid": "u-1"}});
    let removed = one(&cloud_event(
        RESOURCE_DELETE,
        Some("2023-08-05T11:00:00Z"),
        bare,
    ));
    assert_eq!(
        removed["subject"]["content"]["environment"]["id"],
        "payments"
    );
    assert!(removed["subject"]["content"].get("artifactId").is_none());
}

fn reference(event_type: &str, event_id: &str, kind: &str) -> CloudEvent {
    let plural = format!("{}s", kind.to_ascii_lowercase());
    CloudEvent::from_json_value(json!({
        "specversion": "1.0",
        "id": event_id,
        "source": CLUSTER,
        "type": event_type,
        "time": "2023-08-05T11:00:00Z",
        "subject": format!("/apis/apps/v1/namespaces/default/{plural}/nginx-deployment"),
        "kind": kind,
        "datacontenttype": "application/json",
        "data": {"apiVersion": "apps/v1", "kind": "Deployment",
                 "name": "nginx-deployment", "namespace": "default"}
    }))
    .unwrap()
}

#[test]
fn reference_delete_is_one_removal_per_deletion_event() {
    let removed = one(&reference(REF_DELETE, "ce-1", "Deployment"));
    assert_eq!(removed["context"]["type"], SERVICE_REMOVED);
    assert_eq!(
        id_of(&removed),
        derived_id(&[
            "kubernetes",
            "removed",
            "reference",
            CLUSTER,
            "default",
            "nginx-deployment",
            "ce-1"
        ])
    );
    assert_eq!(removed["context"]["timestamp"], "2023-08-05T11:00:00Z");
    assert_eq!(removed["subject"]["id"], "nginx-deployment");
    assert_eq!(
        removed["customData"],
        json!({"kubernetes": {"namespace": "default", "name": "nginx-deployment"}})
    );
    // The same CloudEvent again: the same removal; another deletion event: another one.
    assert_eq!(
        id_of(&one(&reference(REF_DELETE, "ce-1", "Deployment"))),
        id_of(&removed)
    );
    assert_ne!(
        id_of(&one(&reference(REF_DELETE, "ce-2", "Deployment"))),
        id_of(&removed)
    );
    // The reference of the controller of a deleted ReplicaSet: nothing.
    assert!(run(&reference(REF_DELETE, "ce-3", "ReplicaSet"))
        .unwrap()
        .is_empty());
    let mut other_subject = reference(REF_DELETE, "ce-4", "Deployment");
    other_subject.extensions.remove("kind");
    other_subject.subject =
        Some("/apis/apps/v1/namespaces/default/replicasets/nginx-deployment-7c5ddbdf54".into());
    assert!(run(&other_subject).unwrap().is_empty());
    // Without the kind extension and subject: taken as the Deployment's deletion.
    let mut bare = reference(REF_DELETE, "ce-5", "Deployment");
    bare.extensions.remove("kind");
    bare.subject = None;
    assert_eq!(run(&bare).unwrap().len(), 1);
    // Add and update: nothing, whatever the reference.
    for event_type in [REF_ADD, REF_UPDATE] {
        assert!(run(&reference(event_type, "ce-6", "Deployment"))
            .unwrap()
            .is_empty());
    }
    // References to other kinds: nothing.
    let mut pod = reference(REF_DELETE, "ce-7", "Pod");
    pod.data = Some(Data::Json(json!({"apiVersion": "v1", "kind": "Pod",
        "name": "nginx-deployment-7c5ddbdf54-abcde", "namespace": "default"})));
    assert!(run(&pod).unwrap().is_empty());
}

#[test]
fn malformed_references_name_the_field() {
    let mut event = reference(REF_DELETE, "ce-1", "Deployment");
    event.time = None;
    assert_eq!(error(&event), "no timestamp: the CloudEvent has no time");
    let mut event = reference(REF_DELETE, "ce-1", "Deployment");
    event.data = Some(Data::Json(
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "default"}),
    ));
    assert_eq!(error(&event), "data.name is missing");
    let mut event = reference(REF_DELETE, "ce-1", "Deployment");
    event.data = Some(Data::Json(json!({"apiVersion": "apps/v1", "name": "x"})));
    assert_eq!(error(&event), "data.kind is missing");
}

#[test]
fn deployment_rollback_events_give_nothing() {
    let mut data = scaling_event(
        "Rolled back deployment \"nginx-deployment\" to revision 1",
        Some(1),
    );
    data["reason"] = json!("DeploymentRollback");
    assert!(gives_nothing(RESOURCE_ADD, data));
}

#[test]
fn malformed_deployments_name_the_field() {
    let without = |pointer: &str, key: &str| {
        let mut data = deployment(Some("1"), 1, "nginx");
        data.pointer_mut(pointer)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove(key);
        error(&cloud_event(RESOURCE_UPDATE, None, data))
    };
    assert_eq!(
        without("/metadata", "name"),
        "data.metadata.name is missing"
    );
    assert_eq!(
        without("/metadata", "namespace"),
        "data.metadata.namespace is missing"
    );
    assert_eq!(
        without("/spec/template/spec", "containers"),
        "data.spec.template.spec.containers is missing or empty"
    );
    assert_eq!(
        without("/spec/template/spec/containers/1", "image"),
        "data.spec.template.spec.containers[1].image is missing"
    );
    assert!(without("", "kind").contains("data.kind is missing"));
    let no_time = without("/metadata", "creationTimestamp");
    assert!(
        no_time.contains("data.metadata.creationTimestamp"),
        "{no_time}"
    );

    let mut data = deployment(Some("1"), 1, "nginx:");
    assert!(error(&cloud_event(RESOURCE_UPDATE, None, data.clone())).contains("not an image"));
    data["metadata"]["name"] = json!(7);
    assert_eq!(
        error(&cloud_event(RESOURCE_UPDATE, None, data)),
        "data.metadata.name is not a string"
    );
    let mut data = deployment(None, 1, "nginx");
    data["metadata"]["annotations"] = json!({ REVISION_ANNOTATION: 2 });
    assert_eq!(
        error(&cloud_event(RESOURCE_UPDATE, None, data)),
        "data.metadata.annotations[\"deployment.kubernetes.io/revision\"] is not a string"
    );
    assert_eq!(
        error(&cloud_event(RESOURCE_ADD, None, json!([1]))),
        "data is not a JSON object"
    );
    let no_data = CloudEvent::from_json_value(json!({
        "specversion": "1.0", "id": "1", "source": CLUSTER, "type": RESOURCE_ADD
    }))
    .unwrap();
    assert_eq!(error(&no_data), "data is missing");
}

#[test]
fn scale_up_from_zero_is_a_rollout() {
    let rs = "nginx-deployment-7c5ddbdf54";
    let data = scaling_event(&format!("Scaled up replica set {rs} to 3 from 0"), Some(1));
    let add = one(&cloud_event(RESOURCE_ADD, None, data.clone()));
    let update = one(&cloud_event(
        RESOURCE_UPDATE,
        Some("2023-08-05T10:09:00Z"),
        data.clone(),
    ));
    assert_eq!(id_of(&add), id_of(&update));
    assert_eq!(
        id_of(&add),
        scaling_id(&[rs, "8f6b2a37-5f0e-4bde-9a0e-0c3f1b6e2d44", "1"])
    );
    // No CloudEvent time: lastTimestamp.
    assert_eq!(add["context"]["timestamp"], "2023-08-05T10:00:02Z");
    assert_eq!(add["subject"]["id"], "nginx-deployment");
    assert_eq!(
        add["subject"]["content"]["artifactId"],
        "pkg:generic/default/nginx-deployment"
    );
    assert_eq!(add["customData"]["kubernetes"]["replicaSet"], rs);
    assert_eq!(
        add["customData"]["kubernetes"]["uid"],
        "5b0a4a7e-2f29-4a57-9c0c-3a1f7f1e8a10"
    );

    // A rollback to the same ReplicaSet re-counts the Event: a new rollout.
    let recounted = scaling_event(&format!("Scaled up replica set {rs} to 3 from 0"), Some(2));
    assert_ne!(
        id_of(&one(&cloud_event(RESOURCE_UPDATE, None, recounted))),
        id_of(&add)
    );
    // No count: "1".
    let uncounted = scaling_event(&format!("Scaled up replica set {rs} to 3 from 0"), None);
    assert_eq!(
        id_of(&one(&cloud_event(RESOURCE_UPDATE, None, uncounted))),
        id_of(&add)
    );
}

#[test]
fn scale_up_without_from_counts_each_replica_set_once() {
    let rs = "nginx-deployment-7c5ddbdf54";
    let first = one(&cloud_event(
        RESOURCE_ADD,
        None,
        scaling_event(&format!("Scaled up replica set {rs} to 1"), Some(1)),
    ));
    let again = one(&cloud_event(
        RESOURCE_ADD,
        None,
        scaling_event(&format!("Scaled up replica set {rs} to 3"), Some(4)),
    ));
    assert_eq!(id_of(&first), id_of(&again));
    assert_eq!(id_of(&first), scaling_id(&[rs]));
}

#[test]
fn other_events_give_nothing() {
    let rs = "nginx-deployment-7c5ddbdf54";
    for message in [
        format!("Scaled up replica set {rs} to 5 from 3"),
        format!("Scaled down replica set {rs} to 0 from 3"),
        format!("Scaled down replica set {rs} to 0"),
    ] {
        let data = scaling_event(&message, Some(1));
        assert!(gives_nothing(RESOURCE_UPDATE, data), "{message}");
    }
    let mut other_reason = scaling_event("Deployment does not have minimum availability.", None);
    other_reason["reason"] = json!("MinimumReplicasUnavailable");
    assert!(gives_nothing(RESOURCE_UPDATE, other_reason));
    let mut about_rollout = scaling_event(&format!("Scaled up replica set {rs} to 1"), None);
    about_rollout["involvedObject"]["kind"] = json!("Rollout");
    about_rollout["involvedObject"]["apiVersion"] = json!("argoproj.io/v1alpha1");
    assert!(gives_nothing(RESOURCE_UPDATE, about_rollout));
    let mut new_api = scaling_event(&format!("Scaled up replica set {rs} to 1"), None);
    new_api["apiVersion"] = json!("events.k8s.io/v1");
    assert!(gives_nothing(RESOURCE_UPDATE, new_api));
}

#[test]
fn malformed_events_name_the_field() {
    assert_eq!(
        error(&cloud_event(
            RESOURCE_UPDATE,
            None,
            scaling_event("Scaled sideways replica set x", None)
        )),
        "data.message \"Scaled sideways replica set x\" is not a ScalingReplicaSet message \
         (\"Scaled up|down replica set <name> to <n> [from <m>]\")"
    );
    let message = "Scaled up replica set x to 1 from 0";
    let mut data = scaling_event(message, None);
    data["involvedObject"]
        .as_object_mut()
        .unwrap()
        .remove("name");
    assert_eq!(
        error(&cloud_event(RESOURCE_UPDATE, None, data)),
        "data.involvedObject.name is missing"
    );
    let mut data = scaling_event(message, None);
    data.as_object_mut().unwrap().remove("involvedObject");
    assert_eq!(
        error(&cloud_event(RESOURCE_UPDATE, None, data)),
        "data.involvedObject is missing"
    );
    let mut data = scaling_event(message, None);
    data["count"] = json!("1");
    assert_eq!(
        error(&cloud_event(RESOURCE_UPDATE, None, data)),
        "data.count is not a number"
    );
    let mut data = scaling_event(message, None);
    for key in ["lastTimestamp", "firstTimestamp", "eventTime"] {
        data.as_object_mut().unwrap().remove(key);
    }
    data["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("creationTimestamp");
    assert_eq!(
        error(&cloud_event(RESOURCE_UPDATE, None, data)),
        "no timestamp: the CloudEvent has no time and data.lastTimestamp, data.eventTime, \
         data.firstTimestamp, data.metadata.creationTimestamp are missing"
    );
    let mut data = scaling_event(message, None);
    data["lastTimestamp"] = json!("yesterday");
    assert_eq!(
        error(&cloud_event(RESOURCE_UPDATE, None, data)),
        "data.lastTimestamp \"yesterday\" is not an RFC 3339 timestamp"
    );
}

#[test]
fn same_input_same_output() {
    let event = cloud_event(RESOURCE_ADD, None, deployment(None, 3, "nginx:1.14.2"));
    assert_eq!(run(&event).unwrap(), run(&event).unwrap());
}

/// Sets the value at `pointer` in `data`, adding the last key when it is not there.
fn set(data: &mut Value, pointer: &str, value: Value) {
    match data.pointer_mut(pointer) {
        Some(place) => *place = value,
        None => {
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            data.pointer_mut(parent).unwrap()[key] = value;
        }
    }
}

/// What an event gives, in short: `<context.{key}> <context.timestamp>` of each CDEvent, or the
/// error.
fn outcome(event: &CloudEvent, key: &str) -> String {
    match run(event) {
        Ok(out) => out
            .iter()
            .map(|cdevent| {
                format!(
                    "{} {}",
                    cdevent["context"][key], cdevent["context"]["timestamp"]
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
        Err(error) => error.reason,
    }
}

/// Edge cases of reading the payload: which field is absent, `null`, empty or of another type,
/// and which are read at all (a fallback time only without a CloudEvent time, a pod template
/// only for a rollout).
#[test]
fn payload_edge_cases_keep_their_outcome() {
    let time = Some("2023-08-05T10:20:00Z");
    let outcome = |event_type: &str, time: Option<&str>, data: Value| {
        outcome(&cloud_event(event_type, time, data), "type")
    };
    let with = |mut data: Value, pointer: &str, value: Value| {
        set(&mut data, pointer, value);
        data
    };
    let deployed = format!("{SERVICE_DEPLOYED:?} \"2023-08-05T10:20:00Z\"");
    let at_creation = format!("{SERVICE_DEPLOYED:?} \"2023-08-05T10:00:00Z\"");
    let deployment = || deployment(Some("2"), 1, "nginx:1.14.2");
    let cases: Vec<(&str, Option<&str>, Value, String)> = vec![
        // A fallback time is read only without a CloudEvent time.
        (RESOURCE_ADD, time, with(deployment(), "/metadata/creationTimestamp", json!(5)), deployed.clone()),
        (RESOURCE_ADD, None, with(deployment(), "/metadata/creationTimestamp", json!(5)),
         "data.metadata.creationTimestamp is not a string".into()),
        (RESOURCE_ADD, None, with(deployment(), "/metadata/creationTimestamp", json!("")),
         "no timestamp: the CloudEvent has no time and data.metadata.creationTimestamp is missing".into()),
        (RESOURCE_ADD, None, deployment(), at_creation.clone()),
        (RESOURCE_DELETE, None, with(deployment(), "/metadata/creationTimestamp", json!(5)),
         "no timestamp: the CloudEvent has no time and data.metadata.deletionTimestamp is missing".into()),
        // Any deletionTimestamp but null is a deletion.
        (RESOURCE_UPDATE, time, with(deployment(), "/metadata/deletionTimestamp", json!("")), String::new()),
        (RESOURCE_UPDATE, time, with(deployment(), "/metadata/deletionTimestamp", json!({})), String::new()),
        (RESOURCE_UPDATE, time, with(deployment(), "/metadata/deletionTimestamp", Value::Null), deployed.clone()),
        (RESOURCE_DELETE, None, with(deployment(), "/metadata/deletionTimestamp", json!(5)),
         "data.metadata.deletionTimestamp is not a string".into()),
        (RESOURCE_DELETE, None, with(deployment(), "/metadata/deletionTimestamp", json!("now")),
         "data.metadata.deletionTimestamp \"now\" is not an RFC 3339 timestamp".into()),
        // Names and kinds.
        (RESOURCE_ADD, time, with(deployment(), "/metadata", json!(null)), "data.metadata.name is missing".into()),
        (RESOURCE_ADD, time, with(deployment(), "/metadata/name", json!("")), "data.metadata.name is missing".into()),
        (RESOURCE_DELETE, time, with(deployment(), "/metadata/namespace", Value::Null),
         "data.metadata.namespace is missing".into()),
        (RESOURCE_ADD, time, with(deployment(), "/kind", json!(5)), "data.kind is not a string".into()),
        (RESOURCE_ADD, time, with(deployment(), "/apiVersion", json!("")), deployed.clone()),
        (RESOURCE_ADD, time, with(deployment(), "/metadata/annotations", json!({REVISION_ANNOTATION: ""})), deployed.clone()),
        // The pod template.
        (RESOURCE_ADD, time, with(deployment(), "/spec/template/spec/containers/0/image", json!("")),
         "data.spec.template.spec.containers[0].image is missing".into()),
        (RESOURCE_ADD, time, with(deployment(), "/spec/template/spec/containers/1/image", json!(5)),
         "data.spec.template.spec.containers[1].image is not a string".into()),
        (RESOURCE_ADD, time, with(deployment(), "/spec/template/spec/containers", json!([])),
         "data.spec.template.spec.containers is missing or empty".into()),
        (RESOURCE_ADD, time, with(deployment(), "/spec/template", Value::Null),
         "data.spec.template.spec.containers is missing or empty".into()),
        // ReplicaSets.
        (RESOURCE_ADD, time, with(replica_set("1", None, 0, "nginx"), "/spec/template/spec/containers/0/image", json!("")),
         String::new()),
        (RESOURCE_ADD, time, with(replica_set("1", None, 0, "nginx"), "/spec/replicas", Value::Null), deployed.clone()),
        (RESOURCE_ADD, time, with(replica_set("1", None, 3, "nginx"), "/metadata/ownerReferences", Value::Null), String::new()),
        (RESOURCE_ADD, time, with(replica_set("1", None, 3, "nginx"), "/metadata/ownerReferences/0/controller", json!("true")),
         String::new()),
        (RESOURCE_ADD, time, with(replica_set("1", None, 3, "nginx"), "/metadata/ownerReferences/0/name", json!("")),
         "data.metadata.ownerReferences[0].name is missing".into()),
        (RESOURCE_ADD, time, with(replica_set("1", None, 3, "nginx"), "/metadata/ownerReferences/0/apiVersion", Value::Null),
         deployed.clone()),
        (RESOURCE_ADD, time, with(replica_set("1", None, 3, "nginx"), "/spec/replicas", json!(1.5)),
         "data.spec.replicas is not a count".into()),
        (RESOURCE_ADD, None, with(replica_set("1", None, 3, "nginx"), "/metadata/creationTimestamp", json!("")),
         "no timestamp: the CloudEvent has no time and data.metadata.creationTimestamp is missing".into()),
        // A part that is not an object (or list) is as if absent, its entries as if empty.
        (RESOURCE_ADD, time, with(deployment(), "/metadata", json!("x")), "data.metadata.name is missing".into()),
        (RESOURCE_ADD, time, with(deployment(), "/metadata/annotations", json!("x")), deployed.clone()),
        (RESOURCE_ADD, time, with(deployment(), "/spec", json!("x")),
         "data.spec.template.spec.containers is missing or empty".into()),
        (RESOURCE_ADD, time, with(deployment(), "/spec/template/spec/containers", json!({})),
         "data.spec.template.spec.containers is missing or empty".into()),
        (RESOURCE_ADD, time, with(deployment(), "/spec/template/spec/containers/1", json!("x")),
         "data.spec.template.spec.containers[1].image is missing".into()),
        (RESOURCE_DELETE, time, with(deployment(), "/metadata/ownerReferences", json!(5)),
         format!("{SERVICE_REMOVED:?} \"2023-08-05T10:20:00Z\"")),
        (RESOURCE_ADD, time, with(
                replica_set("1", None, 3, "nginx"),
                "/metadata/ownerReferences",
                json!(["x", {"apiVersion": "apps/v1", "kind": "Deployment",
                             "name": "nginx-deployment", "uid": DEPLOYMENT_UID, "controller": true}]),
            ),
         deployed.clone()),
        (RESOURCE_ADD, time, with(replica_set("1", None, 3, "nginx"), "/metadata/ownerReferences", json!(5)),
         "data.metadata.ownerReferences is not an array".into()),
        // Fields read only where they are used.
        (RESOURCE_ADD, time, with(deployment(), "/spec/replicas", json!("x")), deployed.clone()),
        (RESOURCE_ADD, time, with(replica_set("1", None, 0, "nginx"), "/spec/template/spec/containers/0/image", json!(5)),
         String::new()),
        // References.
        (REF_DELETE, time, json!({"kind": "Deployment", "name": "", "namespace": "default"}), "data.name is missing".into()),
        (REF_DELETE, time, json!({"kind": "Deployment", "name": "web", "namespace": 5}), "data.namespace is not a string".into()),
    ];
    for (event_type, time, data, expected) in cases {
        assert_eq!(
            outcome(event_type, time, data.clone()),
            expected,
            "{event_type} {data}"
        );
    }
}

/// Edge cases of reading a core v1 Event.
#[test]
fn event_edge_cases_keep_their_outcome() {
    let message = "Scaled up replica set x to 1 from 0";
    let outcome = |data: Value| outcome(&cloud_event(RESOURCE_UPDATE, None, data), "id");
    let with = |changes: Value| {
        let mut data = scaling_event(message, None);
        for (pointer, value) in changes.as_object().unwrap() {
            set(&mut data, pointer, value.clone());
        }
        data
    };
    // The id of the rollout: per ReplicaSet, then the Event's key and count when counted.
    let id = |occurrence: &[&str]| {
        let mut parts = vec![
            "kubernetes",
            "event",
            CLUSTER,
            "default",
            "nginx-deployment",
            "x",
        ];
        parts.extend_from_slice(occurrence);
        derived_id(&parts)
    };
    let uid = "8f6b2a37-5f0e-4bde-9a0e-0c3f1b6e2d44";
    let rolled_out = |id: String, time: &str| format!("{id:?} {time:?}");
    let cases: Vec<(Value, String)> = vec![
        (
            json!({"/involvedObject": null}),
            "data.involvedObject is missing".into(),
        ),
        (json!({"/involvedObject": "x"}), String::new()),
        (
            json!({"/message": "Scaled up replica set x to 1", "/count": "x"}),
            rolled_out(id(&[]), "2023-08-05T10:00:02Z"),
        ),
        (json!({"/count": "x"}), "data.count is not a number".into()),
        (
            json!({"/metadata/annotations": 5, "/metadata/uid": null}),
            rolled_out(
                id(&["nginx-deployment.1775a6d9b7b0e4c1", "1"]),
                "2023-08-05T10:00:02Z",
            ),
        ),
        (json!({"/message": null}), "data.message is missing".into()),
        (
            json!({"/message": 5}),
            "data.message is not a string".into(),
        ),
        (json!({"/message": null, "/reason": "Other"}), String::new()),
        (json!({"/reason": ""}), String::new()),
        (
            json!({"/involvedObject/kind": 5}),
            "data.involvedObject.kind is not a string".into(),
        ),
        (
            json!({"/involvedObject/apiVersion": null}),
            rolled_out(id(&[uid, "1"]), "2023-08-05T10:00:02Z"),
        ),
        (
            json!({"/count": 2.0}),
            rolled_out(id(&[uid, "2.0"]), "2023-08-05T10:00:02Z"),
        ),
        (
            json!({"/count": null}),
            rolled_out(id(&[uid, "1"]), "2023-08-05T10:00:02Z"),
        ),
        (
            json!({"/metadata/uid": ""}),
            rolled_out(
                id(&["nginx-deployment.1775a6d9b7b0e4c1", "1"]),
                "2023-08-05T10:00:02Z",
            ),
        ),
        (
            json!({"/metadata/uid": null, "/metadata/name": null}),
            "data.metadata.uid is missing".into(),
        ),
        (
            json!({"/involvedObject/namespace": null}),
            rolled_out(id(&[uid, "1"]), "2023-08-05T10:00:02Z"),
        ),
        (
            json!({"/involvedObject/namespace": null, "/metadata/namespace": ""}),
            "data.involvedObject.namespace is missing".into(),
        ),
        (
            json!({"/lastTimestamp": "", "/firstTimestamp": null, "/eventTime": "2023-08-05T10:00:03.000001Z"}),
            rolled_out(id(&[uid, "1"]), "2023-08-05T10:00:03.000001Z"),
        ),
        (
            json!({"/lastTimestamp": null, "/eventTime": 7}),
            "data.eventTime is not a string".into(),
        ),
        (
            json!({"/lastTimestamp": null, "/firstTimestamp": null}),
            rolled_out(id(&[uid, "1"]), "2023-08-05T10:00:01Z"),
        ),
    ];
    for (changes, expected) in cases {
        assert_eq!(outcome(with(changes.clone())), expected, "{changes}");
    }
}
