//! Kubernetes: Knative ApiServerSource events about Deployments -> `service.deployed`,
//! `service.rolledback` and `service.removed`.
//!
//! # Input
//!
//! CloudEvents sent by a Knative `ApiServerSource` (the design of "Platform Engineering on
//! Kubernetes", ch. 9). Their `source` is the URL of the API server, i.e. the cluster (e.g.
//! `https://10.96.0.1:443`); it becomes the CDEvent's context source, subject source and
//! environment source.
//!
//! * `dev.knative.apiserver.resource.add` / `.update`: Resource mode, the data is the whole object:
//!   Deployments, ReplicaSets and core `v1` Events, as below.
//! * `dev.knative.apiserver.resource.delete`: the last state of a deleted object: a Deployment is a
//!   removal (below); anything else (ReplicaSets pruned by `revisionHistoryLimit`, expired Event
//!   objects, ...) gives nothing.
//! * `dev.knative.apiserver.ref.*`: Reference mode, the data is only a reference (apiVersion,
//!   kind, name, namespace): only `ref.delete` of a Deployment gives something (a removal).
//! * Any other type, and any object of another kind: nothing.
//!
//! Nothing is filtered by namespace: every namespace the ApiServerSource watches is an
//! environment (`environment.id` = the namespace).
//!
//! The transformer is a pure function of the event: no state, no I/O, no clock. Everything that
//! would need memory of earlier events is replaced by a deterministic CDEvent id, and the CDEvents
//! store (unique on context source + id) keeps the first CDEvent of each id.
//!
//! # Rollouts from `apps/v1` Deployment objects (`data.kind == "Deployment"`)
//!
//! A rollout is a new Deployment or a new pod template. The deployment controller numbers pod
//! templates in the annotation `deployment.kubernetes.io/revision`; ApiServerSource sends only the
//! new object and sends an `update` for every status or scale change as well, so each
//! (Deployment, revision) pair is one rollout, with the id
//! `derived_id(["kubernetes", "deployment", <cluster>, <metadata.uid, or namespace/name without
//! uid>, <revision>])`. Every update of the same revision yields the same id, so a scale-only
//! change is not a new rollout. A Deployment without the annotation yet (the `add` that arrives
//! before the controller sets it) counts as revision `"1"`, so it has the id of the later
//! `update` with revision 1. A Deployment being deleted (`metadata.deletionTimestamp` set) is not a
//! rollout. Accepted API groups: `apps` (and the old `extensions`), or no `apiVersion` at all.
//!
//! A Deployment object is always `service.deployed`, also after a rollback: `kubectl rollout
//! undo` of an apps/v1 Deployment is a client-side patch that copies the old ReplicaSet's pod
//! template back into the Deployment, and the controller then gives it a new revision number;
//! nothing in the Deployment object says that the template was deployed before. What can tell,
//! later, is `customData.kubernetes.templateHash` (below): two rollouts of the same Deployment
//! with the same hash ran the same pod template.
//!
//! `subject.content.artifactId` is the purl ([`oci_purl`]) of the first container image of
//! `spec.template.spec.containers`.
//!
//! # Rollouts and rollbacks from `apps/v1` ReplicaSet objects (`data.kind == "ReplicaSet"`)
//!
//! The evidence of a rollback is on the ReplicaSet. When a Deployment's pod template becomes equal
//! to the template of one of its existing ReplicaSets (`kubectl rollout undo`, a revert applied by
//! GitOps, the deprecated `rollbackTo`), the controller reuses that ReplicaSet: it gives it the new
//! revision number and appends the revision it had before to its annotation
//! `deployment.kubernetes.io/revision-history` ("that means we are rolling back to this replica
//! set", `SetNewReplicaSetAnnotations` in the Kubernetes deployment controller). A ReplicaSet
//! created for a new template has no such annotation. So a ReplicaSet whose controller
//! (`metadata.ownerReferences[]` with `controller: true`) is an `apps` Deployment and that carries
//! `deployment.kubernetes.io/revision` N stands for the rollout (Deployment, N), with **the same
//! id as the Deployment object gives** (`derived_id(["kubernetes", "deployment", <cluster>, <owner
//! uid>, N])`):
//!
//! * with a non-empty `revision-history`: `service.rolledback` (revision N returned to the pod
//!   template of the revisions listed), on every `update`, whatever the replicas: the controller
//!   renumbers the ReplicaSet while it still has 0 replicas, and does so before it copies the new
//!   revision into the Deployment's annotation, so this update is the first event that carries
//!   the rollout's id; on `add` (objects listed when the source starts) only with
//!   `spec.replicas > 0`;
//! * without: `service.deployed`, only with `spec.replicas > 0` (absent = 1, the API default): a
//!   ReplicaSet at 0 replicas is an old revision (scaled down, or listed when the source starts)
//!   or a new one not scaled up yet, whose scale-up `update` counts;
//! * no controller, a controller of another kind (an Argo Rollout, ...), no revision annotation,
//!   `metadata.deletionTimestamp` set: nothing.
//!
//! The service is the owner Deployment (`subject.id` = its name), the artifact is the first
//! container image of the ReplicaSet's template, and the timestamp falls back to
//! `metadata.creationTimestamp` only for `service.deployed` (a reused ReplicaSet was created long
//! before its rollback).
//!
//! # Rollouts from core `v1` Event objects (`data.kind == "Event"`)
//!
//! What the book's tutorial watches. Only Events about a Deployment (`involvedObject.kind`) with
//! reason `ScalingReplicaSet` count, and only when their message is the scale-up of a ReplicaSet
//! from zero:
//!
//! * `Scaled up replica set <rs> to <n> from 0` (Kubernetes >= 1.26): a rollout, with the id
//!   `derived_id(["kubernetes", "event", <cluster>, <namespace>, <deployment>, <rs>, <Event
//!   metadata.uid (or metadata.name without uid)>, <Event count, default "1">])`. The add and the
//!   updates of the same Event object with the same count are one rollout, while a rollback to the
//!   same ReplicaSet (which re-counts the Event or creates a new one) is a new rollout.
//! * `Scaled up replica set <rs> to <n>` (no `from` clause, Kubernetes < 1.26): a rollout, with the
//!   id `derived_id(["kubernetes", "event", <cluster>, <namespace>, <deployment>, <rs>])`: each
//!   ReplicaSet is counted once, the first time it is seen scaling up.
//! * `... from <n>` with n > 0 (a scale-only change), `Scaled down ...`, other reasons, Events about
//!   other kinds: nothing. A `ScalingReplicaSet` message in another form is an error, so that a
//!   change of format shows up as transform failures instead of silently missing rollouts.
//! * Reason `DeploymentRollback` ("Rolled back deployment %q to revision %d"): nothing. The
//!   controller emits it only on the deprecated `rollbackTo` path (the `rollback` subresource of
//!   `extensions/v1beta1` and `apps/v1beta1`, removed in Kubernetes 1.16, or the
//!   `deprecated.deployment.rollback.to` annotation), never for `kubectl rollout undo` on apps/v1;
//!   and it names no ReplicaSet, so it cannot share the id of the `ScalingReplicaSet` Event of the
//!   same rollout, which is already counted. Events show rollbacks as `service.deployed`.
//!
//! Events carry no image, but `artifactId` is required (minLength 1) by the v0.5.1 schema. purl
//! has no registered type for Kubernetes objects, so it is `pkg:generic/<namespace>/<deployment>`
//! ([`deployment_purl`]): the `generic` type, with the purl namespace component holding the
//! Kubernetes namespace.
//!
//! # Removals
//!
//! * `resource.delete` of a Deployment: one `service.removed` per object, with the id
//!   `derived_id(["kubernetes", "removed", <cluster>, <metadata.uid, or namespace/name without
//!   uid>])`; timestamp: the CloudEvent `time`, else `metadata.deletionTimestamp`.
//! * `ref.delete` whose reference is a Deployment: there is no uid in Reference mode, and keying on
//!   namespace/name alone would merge the removals of a Deployment deleted, created again and
//!   deleted again; so the id is `derived_id(["kubernetes", "removed", "reference", <cluster>,
//!   <namespace>, <name>, <CloudEvent id>])`: one removal per deletion event, and a redelivery of
//!   the same CloudEvent gives the same id. The timestamp is the CloudEvent `time` (required: the
//!   reference holds no time). When the CloudEvent says which object it is about (the `kind`
//!   extension recent adapters add, or `subject`, `/apis/<apiVersion>/namespaces/<ns>/<kind>s/<name>`)
//!   and that is not this Deployment, nothing: old adapters could send the reference of the
//!   *controller* of the object (v1alpha1 `controller: true`), e.g. the Deployment of a deleted
//!   ReplicaSet.
//!
//! `service.removed` has no `artifactId`; its `customData.kubernetes` holds what is known of the
//! object (namespace, name, uid, last revision, labels).
//!
//! # Reference mode `ref.add` / `ref.update`: nothing
//!
//! A reference has no uid, no revision and no pod template, and ApiServerSource sends a
//! `ref.update` for every status or scale change as well: nothing in it tells a rollout from a
//! status change, and any key (namespace/name, the CloudEvent id or time) would either merge all
//! rollouts of a Deployment or count every status update. Use Resource mode for rollouts.
//!
//! # Output
//!
//! `dev.cdevents.service.deployed.0.3.0`, `dev.cdevents.service.rolledback.0.3.0` (one per rollout)
//! and `dev.cdevents.service.removed.0.3.0` (CDEvents v0.5.1):
//!
//! * context source = the CloudEvent source (the cluster); timestamp = the CloudEvent `time`, else
//!   the fallbacks named above (Events: `lastTimestamp`, `eventTime`, `firstTimestamp`, then
//!   `metadata.creationTimestamp`); if there is none, an error (never "now": the output must be
//!   deterministic);
//! * `subject.id` = the Deployment name, `subject.source` = the cluster;
//! * `subject.content.environment` = `{"id": <namespace>, "source": <cluster>}`;
//! * `customData.kubernetes` = `namespace`, `name` (the Deployment), `uid` (the Deployment),
//!   `revision`, `replicaSet` (ReplicaSets, Events), `revisionHistory` (rolled-back ReplicaSets:
//!   the earlier revisions of the same template), `images` (all container images),
//!   `templateHash` and `labels` (only `app.kubernetes.io/part-of` and `app.kubernetes.io/version`,
//!   from the Deployment's labels, or the ReplicaSet's, which are its pod template's), each only
//!   when known.
//!
//! `templateHash` ([`template_hash`]) is a UUIDv5 over the canonical JSON (object keys sorted) of
//! `spec.template`, without the `pod-template-hash` label the controller adds to a ReplicaSet's
//! copy: the same pod template gives the same hash in a Deployment and in its ReplicaSet, before
//! and after a rollback.
//!
//! Malformed input of a kind the transformer handles (data missing or not an object, no `kind`,
//! a Deployment without `metadata.name`, ...) is a [`TransformError`] naming the field.
//!
//! # Limitations
//!
//! * Watch Deployments or Events, not both: the two shapes give different ids, so the same rollout
//!   would be counted twice. ReplicaSets can be watched alone or with Deployments (same ids); the
//!   store keeps the first CDEvent of an id, so with both a rollback is `service.rolledback` only
//!   if the ReplicaSet's update arrives before the Deployment's revision update (the controller
//!   writes it first, but ApiServerSource watches each resource separately). Watching
//!   ReplicaSets alone has no such race.
//! * Rollbacks are seen only on ReplicaSets: Deployment objects and Events give
//!   `service.deployed` for them (see `templateHash`). A rollback to a template whose ReplicaSet
//!   was already pruned (`revisionHistoryLimit`) creates a new ReplicaSet and is
//!   `service.deployed`.
//! * ReplicaSets: a Deployment kept at 0 replicas has no rollout; the labels are the pod
//!   template's (the deployment controller copies annotations, not labels, from the Deployment).
//! * Deployment objects: between a template change and the controller's bump of the revision
//!   annotation, an `update` carries the new template under the old revision; its id is the old
//!   rollout's, so the store drops it (unless the old rollout was never seen). A revision first
//!   seen long after it happened (e.g. objects listed when the source starts, or an old
//!   ReplicaSet scaled down just after) is dated by that event.
//! * Events without a `from` clause (Kubernetes < 1.26): a rollback to an old ReplicaSet that was
//!   already seen is not a new rollout, and a scale-up of a ReplicaSet first seen after its
//!   rollout counts as one.
//! * Only core `v1` Events (`involvedObject`, `message`, `count`); `events.k8s.io/v1` Events
//!   (`regarding`, `note`) give nothing.

use chrono::{DateTime, Utc};
use dora_model::cloudevent::CloudEvent;
use dora_model::ids::derived_id;
use dora_model::time::parse_rfc3339;
use serde_json::{json, Map, Value};

use crate::common::{field, payload, percent_encode};
use crate::transform::{
    CdEventDraft, TransformError, Transformer, SERVICE_DEPLOYED, SERVICE_REMOVED,
    SERVICE_ROLLEDBACK,
};

/// The type prefix of every ApiServerSource CloudEvent.
pub const APISERVER_PREFIX: &str = "dev.knative.apiserver.";
/// Resource mode, object added.
pub const RESOURCE_ADD: &str = "dev.knative.apiserver.resource.add";
/// Resource mode, object updated.
pub const RESOURCE_UPDATE: &str = "dev.knative.apiserver.resource.update";
/// Resource mode, object deleted.
pub const RESOURCE_DELETE: &str = "dev.knative.apiserver.resource.delete";
/// Reference mode, object added.
pub const REF_ADD: &str = "dev.knative.apiserver.ref.add";
/// Reference mode, object updated.
pub const REF_UPDATE: &str = "dev.knative.apiserver.ref.update";
/// Reference mode, object deleted.
pub const REF_DELETE: &str = "dev.knative.apiserver.ref.delete";

/// The annotation in which the deployment controller numbers pod templates.
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
/// The annotation in which the deployment controller keeps the earlier revisions of a reused
/// ReplicaSet (a rollback to its template).
pub const REVISION_HISTORY_ANNOTATION: &str = "deployment.kubernetes.io/revision-history";
/// The label the deployment controller adds to a ReplicaSet's copy of the pod template.
pub const POD_TEMPLATE_HASH_LABEL: &str = "pod-template-hash";

/// The labels copied to `customData.kubernetes.labels`.
const KEPT_LABELS: [&str; 2] = ["app.kubernetes.io/part-of", "app.kubernetes.io/version"];

/// API groups whose `Deployment` and `ReplicaSet` kinds are the ones the deployment controller
/// manages.
const DEPLOYMENT_GROUPS: [&str; 2] = ["apps", "extensions"];

/// The `kubernetes` transformer.
pub struct KubernetesTransformer;

impl Transformer for KubernetesTransformer {
    fn name(&self) -> &str {
        "kubernetes"
    }

    fn transform(&self, event: &CloudEvent) -> Result<Vec<Value>, TransformError> {
        match event.event_type.as_str() {
            RESOURCE_ADD | RESOURCE_UPDATE | RESOURCE_DELETE | REF_DELETE => {}
            // A reference carries nothing that tells a rollout; the rest is not an
            // ApiServerSource event.
            _ => return Ok(Vec::new()),
        }
        let data = payload(event)?;
        let kind = required_str(data, &["kind"])?;
        let api_version = optional_str(data, &["apiVersion"])?;
        let apps = in_groups(api_version, &DEPLOYMENT_GROUPS);
        match (event.event_type.as_str(), kind) {
            (REF_DELETE, "Deployment") if apps => removed_by_reference(event, data),
            (REF_DELETE, _) => Ok(Vec::new()),
            (RESOURCE_DELETE, "Deployment") if apps => removed_deployment(event, data),
            (RESOURCE_DELETE, _) => Ok(Vec::new()),
            (_, "Deployment") if apps => from_deployment(event, data),
            (_, "ReplicaSet") if apps => from_replica_set(event, data),
            (_, "Event") if api_version.is_none_or(|v| v == "v1") => from_event(event, data),
            _ => Ok(Vec::new()),
        }
    }
}

/// `service.deployed` for a Deployment object (Resource mode `add` or `update`).
fn from_deployment(event: &CloudEvent, data: &Value) -> Result<Vec<Value>, TransformError> {
    let name = required_str(data, &["metadata", "name"])?;
    let namespace = required_str(data, &["metadata", "namespace"])?;
    if field(data, &["metadata", "deletionTimestamp"]).is_some() {
        return Ok(Vec::new());
    }
    let uid = optional_str(data, &["metadata", "uid"])?;
    let revision =
        optional_str(data, &["metadata", "annotations", REVISION_ANNOTATION])?.unwrap_or("1");
    let object_key = uid.map_or_else(|| format!("{namespace}/{name}"), str::to_owned);
    let cluster = event.source.as_str();
    let id = derived_id(&["kubernetes", "deployment", cluster, &object_key, revision]);
    let template = pod_template(data)?;
    let timestamp = timestamp(event, data, &[&["metadata", "creationTimestamp"]])?;

    let mut details = Map::new();
    details.insert("namespace".into(), json!(namespace));
    details.insert("name".into(), json!(name));
    if let Some(uid) = uid {
        details.insert("uid".into(), json!(uid));
    }
    details.insert("revision".into(), json!(revision));
    details.insert("images".into(), json!(template.images));
    details.insert("templateHash".into(), json!(template.hash));
    insert_labels(&mut details, data)?;
    Ok(vec![ServiceEvent {
        event_type: SERVICE_DEPLOYED,
        id,
        timestamp,
        name,
        namespace,
        artifact_id: Some(template.artifact_id),
        details,
    }
    .into_json(event)])
}

/// `service.deployed` or `service.rolledback` for a ReplicaSet of a Deployment (Resource mode
/// `add` or `update`); nothing for a ReplicaSet that is not running a rollout.
fn from_replica_set(event: &CloudEvent, data: &Value) -> Result<Vec<Value>, TransformError> {
    let replica_set = required_str(data, &["metadata", "name"])?;
    let namespace = required_str(data, &["metadata", "namespace"])?;
    if field(data, &["metadata", "deletionTimestamp"]).is_some() {
        return Ok(Vec::new());
    }
    let Some(owner) = deployment_owner(data)? else {
        return Ok(Vec::new());
    };
    let Some(revision) = optional_str(data, &["metadata", "annotations", REVISION_ANNOTATION])?
    else {
        return Ok(Vec::new());
    };
    let history: Vec<&str> = optional_str(
        data,
        &["metadata", "annotations", REVISION_HISTORY_ANNOTATION],
    )?
    .unwrap_or_default()
    .split(',')
    .map(str::trim)
    .filter(|revision| !revision.is_empty())
    .collect();
    let replicas = match field(data, &["spec", "replicas"]) {
        None => 1,
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| TransformError::new("data.spec.replicas is not a count"))?,
        Some(_) => return Err(TransformError::new("data.spec.replicas is not a number")),
    };
    let rolled_back = !history.is_empty();
    let running = replicas > 0 || (rolled_back && event.event_type == RESOURCE_UPDATE);
    if !running {
        return Ok(Vec::new());
    }
    let cluster = event.source.as_str();
    let id = derived_id(&["kubernetes", "deployment", cluster, owner.uid, revision]);
    let template = pod_template(data)?;
    let (event_type, timestamp) = if rolled_back {
        (SERVICE_ROLLEDBACK, timestamp(event, data, &[])?)
    } else {
        (
            SERVICE_DEPLOYED,
            timestamp(event, data, &[&["metadata", "creationTimestamp"]])?,
        )
    };

    let mut details = Map::new();
    details.insert("namespace".into(), json!(namespace));
    details.insert("name".into(), json!(owner.name));
    details.insert("uid".into(), json!(owner.uid));
    details.insert("revision".into(), json!(revision));
    details.insert("replicaSet".into(), json!(replica_set));
    if rolled_back {
        details.insert("revisionHistory".into(), json!(history));
    }
    details.insert("images".into(), json!(template.images));
    details.insert("templateHash".into(), json!(template.hash));
    insert_labels(&mut details, data)?;
    Ok(vec![ServiceEvent {
        event_type,
        id,
        timestamp,
        name: owner.name,
        namespace,
        artifact_id: Some(template.artifact_id),
        details,
    }
    .into_json(event)])
}

/// The Deployment that controls a ReplicaSet.
struct Owner<'a> {
    name: &'a str,
    uid: &'a str,
}

/// The controller of the object (`metadata.ownerReferences[]` with `controller: true`) when it is
/// an `apps` Deployment; `None` for no controller or a controller of another kind.
fn deployment_owner(data: &Value) -> Result<Option<Owner<'_>>, TransformError> {
    let references = match field(data, &["metadata", "ownerReferences"]) {
        None => return Ok(None),
        Some(Value::Array(references)) => references,
        Some(_) => {
            return Err(TransformError::new(
                "data.metadata.ownerReferences is not an array",
            ))
        }
    };
    let Some((index, controller)) = references
        .iter()
        .enumerate()
        .find(|(_, reference)| reference.get("controller") == Some(&Value::Bool(true)))
    else {
        return Ok(None);
    };
    let text = |key: &str| -> Result<Option<&str>, TransformError> {
        match controller.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.as_str()).filter(|text| !text.is_empty())),
            Some(_) => Err(TransformError::new(format!(
                "data.metadata.ownerReferences[{index}].{key} is not a string"
            ))),
        }
    };
    if text("kind")? != Some("Deployment") || !in_groups(text("apiVersion")?, &DEPLOYMENT_GROUPS) {
        return Ok(None);
    }
    let required = |key: &str| {
        text(key)?.ok_or_else(|| {
            TransformError::new(format!(
                "data.metadata.ownerReferences[{index}].{key} is missing"
            ))
        })
    };
    Ok(Some(Owner {
        name: required("name")?,
        uid: required("uid")?,
    }))
}

/// What a pod template (`data.spec.template`) gives a rollout.
struct PodTemplate<'a> {
    /// Every container image, in order.
    images: Vec<&'a str>,
    /// The purl of the first image.
    artifact_id: String,
    /// [`template_hash`].
    hash: String,
}

fn pod_template(data: &Value) -> Result<PodTemplate<'_>, TransformError> {
    let containers = field(data, &["spec", "template", "spec", "containers"])
        .and_then(Value::as_array)
        .filter(|containers| !containers.is_empty())
        .ok_or_else(|| {
            TransformError::new("data.spec.template.spec.containers is missing or empty")
        })?;
    let mut images = Vec::with_capacity(containers.len());
    for (index, container) in containers.iter().enumerate() {
        let path = format!("data.spec.template.spec.containers[{index}].image");
        match container.get("image") {
            Some(Value::String(image)) if !image.is_empty() => images.push(image.as_str()),
            Some(Value::String(_)) | Some(Value::Null) | None => {
                return Err(TransformError::new(format!("{path} is missing")))
            }
            Some(_) => return Err(TransformError::new(format!("{path} is not a string"))),
        }
    }
    let first_image = images[0];
    let artifact_id = oci_purl(first_image).ok_or_else(|| {
        TransformError::new(format!(
            "data.spec.template.spec.containers[0].image {first_image:?} is not an image reference"
        ))
    })?;
    let hash = field(data, &["spec", "template"])
        .map(template_hash)
        .unwrap_or_default();
    Ok(PodTemplate {
        images,
        artifact_id,
        hash,
    })
}

/// A stable hash of a pod template: a UUIDv5 over its canonical JSON (object keys sorted, no
/// whitespace), without the `pod-template-hash` label, so that a Deployment's template and the
/// copy in its ReplicaSet give the same hash.
///
/// ```
/// use dora_sources::kubernetes::template_hash;
/// use serde_json::json;
/// let deployment = json!({"metadata": {"labels": {"app": "web"}},
///                         "spec": {"containers": [{"name": "web", "image": "nginx:1"}]}});
/// let replica_set = json!({"spec": {"containers": [{"image": "nginx:1", "name": "web"}]},
///                          "metadata": {"labels": {"app": "web", "pod-template-hash": "5d4f"}}});
/// assert_eq!(template_hash(&deployment), template_hash(&replica_set));
/// ```
pub fn template_hash(template: &Value) -> String {
    let mut template = template.clone();
    if let Some(labels) = template
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove(POD_TEMPLATE_HASH_LABEL);
    }
    let mut text = String::new();
    canonical_json(&template, &mut text);
    derived_id(&["kubernetes", "pod-template", &text])
}

/// Writes `value` as JSON with the keys of every object sorted.
fn canonical_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(object) => {
            let mut entries: Vec<(&String, &Value)> = object.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (index, (key, value)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical_json(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Copies the [`KEPT_LABELS`] of `data.metadata.labels` into `details.labels`.
fn insert_labels(details: &mut Map<String, Value>, data: &Value) -> Result<(), TransformError> {
    let mut labels = Map::new();
    for label in KEPT_LABELS {
        if let Some(value) = optional_str(data, &["metadata", "labels", label])? {
            labels.insert(label.into(), json!(value));
        }
    }
    if !labels.is_empty() {
        details.insert("labels".into(), Value::Object(labels));
    }
    Ok(())
}

/// `service.removed` for the last state of a deleted Deployment (Resource mode `delete`).
fn removed_deployment(event: &CloudEvent, data: &Value) -> Result<Vec<Value>, TransformError> {
    let name = required_str(data, &["metadata", "name"])?;
    let namespace = required_str(data, &["metadata", "namespace"])?;
    let uid = optional_str(data, &["metadata", "uid"])?;
    let object_key = uid.map_or_else(|| format!("{namespace}/{name}"), str::to_owned);
    let id = derived_id(&["kubernetes", "removed", &event.source, &object_key]);
    let timestamp = timestamp(event, data, &[&["metadata", "deletionTimestamp"]])?;

    let mut details = Map::new();
    details.insert("namespace".into(), json!(namespace));
    details.insert("name".into(), json!(name));
    if let Some(uid) = uid {
        details.insert("uid".into(), json!(uid));
    }
    if let Some(revision) = optional_str(data, &["metadata", "annotations", REVISION_ANNOTATION])? {
        details.insert("revision".into(), json!(revision));
    }
    insert_labels(&mut details, data)?;
    Ok(vec![ServiceEvent {
        event_type: SERVICE_REMOVED,
        id,
        timestamp,
        name,
        namespace,
        artifact_id: None,
        details,
    }
    .into_json(event)])
}

/// `service.removed` for a Reference-mode `delete` of a Deployment.
fn removed_by_reference(event: &CloudEvent, data: &Value) -> Result<Vec<Value>, TransformError> {
    let name = required_str(data, &["name"])?;
    let namespace = required_str(data, &["namespace"])?;
    // The CloudEvent may be about another object whose controller this Deployment is.
    if event
        .extension_str("kind")
        .is_some_and(|kind| kind != "Deployment")
        || event.subject.as_deref().is_some_and(|subject| {
            !subject.ends_with(&format!("/namespaces/{namespace}/deployments/{name}"))
        })
    {
        return Ok(Vec::new());
    }
    let id = derived_id(&[
        "kubernetes",
        "removed",
        "reference",
        &event.source,
        namespace,
        name,
        &event.id,
    ]);
    let timestamp = timestamp(event, data, &[])?;
    let mut details = Map::new();
    details.insert("namespace".into(), json!(namespace));
    details.insert("name".into(), json!(name));
    Ok(vec![ServiceEvent {
        event_type: SERVICE_REMOVED,
        id,
        timestamp,
        name,
        namespace,
        artifact_id: None,
        details,
    }
    .into_json(event)])
}

/// `service.deployed` for a core v1 Event reporting that a Deployment scaled a ReplicaSet up from
/// zero; nothing for any other Event.
fn from_event(event: &CloudEvent, data: &Value) -> Result<Vec<Value>, TransformError> {
    if field(data, &["involvedObject"]).is_none() {
        return Err(TransformError::new("data.involvedObject is missing"));
    }
    if optional_str(data, &["involvedObject", "kind"])? != Some("Deployment")
        || !in_groups(
            optional_str(data, &["involvedObject", "apiVersion"])?,
            &DEPLOYMENT_GROUPS,
        )
    {
        return Ok(Vec::new());
    }
    if optional_str(data, &["reason"])? != Some("ScalingReplicaSet") {
        return Ok(Vec::new());
    }
    let message = required_str(data, &["message"])?;
    let (replica_set, from) = match parse_scaling_message(message) {
        Some(Scaling::Up { replica_set, from }) => (replica_set, from),
        Some(Scaling::Down) => return Ok(Vec::new()),
        None => {
            return Err(TransformError::new(format!(
                "data.message {message:?} is not a ScalingReplicaSet message \
                 (\"Scaled up|down replica set <name> to <n> [from <m>]\")"
            )))
        }
    };
    if from.is_some_and(|from| from != 0) {
        return Ok(Vec::new());
    }
    let name = required_str(data, &["involvedObject", "name"])?;
    let namespace = match optional_str(data, &["involvedObject", "namespace"])? {
        Some(namespace) => namespace,
        None => optional_str(data, &["metadata", "namespace"])?
            .ok_or_else(|| TransformError::new("data.involvedObject.namespace is missing"))?,
    };
    let cluster = event.source.as_str();
    let id = if from.is_some() {
        let event_key = match optional_str(data, &["metadata", "uid"])? {
            Some(uid) => uid,
            None => optional_str(data, &["metadata", "name"])?
                .ok_or_else(|| TransformError::new("data.metadata.uid is missing"))?,
        };
        let count = match field(data, &["count"]) {
            None => "1".to_owned(),
            Some(Value::Number(count)) => count.to_string(),
            Some(_) => return Err(TransformError::new("data.count is not a number")),
        };
        derived_id(&[
            "kubernetes",
            "event",
            cluster,
            namespace,
            name,
            replica_set,
            event_key,
            &count,
        ])
    } else {
        derived_id(&["kubernetes", "event", cluster, namespace, name, replica_set])
    };
    let timestamp = timestamp(
        event,
        data,
        &[
            &["lastTimestamp"],
            &["eventTime"],
            &["firstTimestamp"],
            &["metadata", "creationTimestamp"],
        ],
    )?;

    let mut details = Map::new();
    details.insert("namespace".into(), json!(namespace));
    details.insert("name".into(), json!(name));
    if let Some(uid) = optional_str(data, &["involvedObject", "uid"])? {
        details.insert("uid".into(), json!(uid));
    }
    details.insert("replicaSet".into(), json!(replica_set));

    Ok(vec![ServiceEvent {
        event_type: SERVICE_DEPLOYED,
        id,
        timestamp,
        name,
        namespace,
        artifact_id: Some(deployment_purl(namespace, name)),
        details,
    }
    .into_json(event)])
}

/// The fields of one `service.*` CDEvent about a Deployment.
struct ServiceEvent<'a> {
    event_type: &'static str,
    id: String,
    timestamp: DateTime<Utc>,
    /// The Deployment name.
    name: &'a str,
    namespace: &'a str,
    /// `None` for `service.removed`, whose schema has no `artifactId`.
    artifact_id: Option<String>,
    /// `customData.kubernetes`.
    details: Map<String, Value>,
}

impl ServiceEvent<'_> {
    fn into_json(self, event: &CloudEvent) -> Value {
        let mut content = Map::new();
        content.insert(
            "environment".into(),
            json!({"id": self.namespace, "source": event.source}),
        );
        if let Some(artifact_id) = self.artifact_id {
            content.insert("artifactId".into(), Value::String(artifact_id));
        }
        CdEventDraft {
            event_type: self.event_type,
            id: self.id,
            source: event.source.clone(),
            timestamp: self.timestamp,
            subject_id: self.name.to_owned(),
            subject_source: Some(event.source.clone()),
            content,
            custom_data: Some(json!({ "kubernetes": Value::Object(self.details) })),
        }
        .into_json()
    }
}

/// What a `ScalingReplicaSet` message says.
#[derive(Debug, PartialEq, Eq)]
enum Scaling<'a> {
    /// `Scaled up replica set <rs> to <n>[ from <m>]`.
    Up {
        replica_set: &'a str,
        from: Option<u64>,
    },
    /// `Scaled down replica set <rs> to <n>[ from <m>]`.
    Down,
}

/// Parses the deployment controller's `ScalingReplicaSet` message; `None` if it has another form.
fn parse_scaling_message(message: &str) -> Option<Scaling<'_>> {
    let (up, rest) = if let Some(rest) = message.strip_prefix("Scaled up replica set ") {
        (true, rest)
    } else {
        (false, message.strip_prefix("Scaled down replica set ")?)
    };
    let words: Vec<&str> = rest.split_whitespace().collect();
    let (replica_set, from) = match words.as_slice() {
        [replica_set, "to", to] => {
            to.parse::<u64>().ok()?;
            (*replica_set, None)
        }
        [replica_set, "to", to, "from", from] => {
            to.parse::<u64>().ok()?;
            (*replica_set, Some(from.parse::<u64>().ok()?))
        }
        _ => return None,
    };
    Some(if up {
        Scaling::Up { replica_set, from }
    } else {
        Scaling::Down
    })
}

/// The CDEvent timestamp: the CloudEvent `time`, else the first of `fallbacks` present in the data.
fn timestamp(
    event: &CloudEvent,
    data: &Value,
    fallbacks: &[&[&str]],
) -> Result<DateTime<Utc>, TransformError> {
    if let Some(time) = event.time {
        return Ok(time);
    }
    for path in fallbacks {
        if let Some(text) = optional_str(data, path)? {
            return parse_rfc3339(text).ok_or_else(|| {
                TransformError::new(format!(
                    "{} {text:?} is not an RFC 3339 timestamp",
                    display_path(path)
                ))
            });
        }
    }
    if fallbacks.is_empty() {
        return Err(TransformError::new(
            "no timestamp: the CloudEvent has no time",
        ));
    }
    let names: Vec<String> = fallbacks.iter().map(|path| display_path(path)).collect();
    Err(TransformError::new(format!(
        "no timestamp: the CloudEvent has no time and {} {} missing",
        names.join(", "),
        if names.len() == 1 { "is" } else { "are" }
    )))
}

/// True when the `apiVersion` (`group/version`) is in one of `groups`, or absent.
fn in_groups(api_version: Option<&str>, groups: &[&str]) -> bool {
    api_version.is_none_or(|v| {
        v.split_once('/')
            .is_some_and(|(group, _)| groups.contains(&group))
    })
}

/// The string at `path`; `None` when absent, `null` or empty; an error when not a string.
fn optional_str<'a>(root: &'a Value, path: &[&str]) -> Result<Option<&'a str>, TransformError> {
    match field(root, path) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.as_str()).filter(|text| !text.is_empty())),
        Some(_) => Err(TransformError::new(format!(
            "{} is not a string",
            display_path(path)
        ))),
    }
}

/// The string at `path`; an error naming the field when it is absent, empty or not a string.
fn required_str<'a>(root: &'a Value, path: &[&str]) -> Result<&'a str, TransformError> {
    optional_str(root, path)?
        .ok_or_else(|| TransformError::new(format!("{} is missing", display_path(path))))
}

/// `data.metadata.name`, or `data.metadata.annotations["deployment.kubernetes.io/revision"]` for
/// keys that are not plain identifiers.
fn display_path(path: &[&str]) -> String {
    let mut text = String::from("data");
    for key in path {
        if key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            text.push('.');
            text.push_str(key);
        } else {
            text.push_str(&format!("[{key:?}]"));
        }
    }
    text
}

/// The purl (type `oci`, <https://github.com/package-url/purl-spec>) of a container image
/// reference as Kubernetes takes it; `None` when it is not one.
///
/// * The first path segment is a registry only if it contains `.` or `:` or is `localhost`;
///   otherwise the registry is Docker Hub (`docker.io`, with `library/` for one-segment names).
/// * The name is the last path segment, lowercased; `repository_url` is registry + path.
/// * A digest (`@sha256:...`) is the version (`:` percent-encoded); a tag is the `tag` qualifier;
///   with neither, the tag is `latest` (what the container runtime pulls).
///
/// ```
/// use dora_sources::kubernetes::oci_purl;
/// assert_eq!(
///     oci_purl("nginx:1.14.2").as_deref(),
///     Some("pkg:oci/nginx?repository_url=docker.io/library/nginx&tag=1.14.2")
/// );
/// ```
pub fn oci_purl(image: &str) -> Option<String> {
    let image = image.trim();
    let (reference, digest) = match image.split_once('@') {
        Some((reference, digest)) => (reference, Some(digest)),
        None => (image, None),
    };
    let last_slash = reference.rfind('/');
    let (repository, tag) = match reference.rfind(':') {
        Some(colon) if last_slash.is_none_or(|slash| colon > slash) => {
            (&reference[..colon], Some(&reference[colon + 1..]))
        }
        _ => (reference, None),
    };
    let (registry, path) = match repository.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first, rest)
        }
        _ => ("docker.io", repository),
    };
    let registry = if registry == "index.docker.io" {
        "docker.io"
    } else {
        registry
    };
    let path = if registry == "docker.io" && !path.contains('/') {
        format!("library/{path}")
    } else {
        path.to_owned()
    };
    let name = path
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if name.is_empty()
        || path.split('/').any(str::is_empty)
        || registry.is_empty()
        || tag.is_some_and(str::is_empty)
        || digest.is_some_and(|d| d.is_empty() || !d.contains(':'))
        || image.chars().any(char::is_whitespace)
    {
        return None;
    }
    let tag = match (tag, digest) {
        (None, None) => Some("latest"),
        (tag, _) => tag,
    };
    let mut purl = format!("pkg:oci/{}", percent_encode(&name, b""));
    if let Some(digest) = digest {
        purl.push('@');
        purl.push_str(&percent_encode(digest, b""));
    }
    purl.push_str("?repository_url=");
    purl.push_str(&percent_encode(&format!("{registry}/{path}"), b":/"));
    if let Some(tag) = tag {
        purl.push_str("&tag=");
        purl.push_str(&percent_encode(tag, b""));
    }
    Some(purl)
}

/// The purl standing for a Deployment when no image is known (Events):
/// `pkg:generic/<namespace>/<name>`. purl has no registered type for Kubernetes objects.
pub fn deployment_purl(namespace: &str, name: &str) -> String {
    format!(
        "pkg:generic/{}/{}",
        percent_encode(namespace, b""),
        percent_encode(name, b"")
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
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
        KubernetesTransformer.transform(event)
    }

    fn one(event: &CloudEvent) -> Value {
        let mut out = run(event).unwrap();
        assert_eq!(out.len(), 1, "{out:?}");
        out.remove(0)
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
            json!({
                "context": {
                    "specversion": "0.5.1",
                    "id": derived_id(&["kubernetes", "deployment", CLUSTER,
                        "5b0a4a7e-2f29-4a57-9c0c-3a1f7f1e8a10", "2"]),
                    "source": CLUSTER,
                    "type": SERVICE_DEPLOYED,
                    "timestamp": "2023-08-05T10:00:05Z"
                },
                "subject": {
                    "id": "nginx-deployment",
                    "source": CLUSTER,
                    "content": {
                        "environment": {"id": "default", "source": CLUSTER},
                        "artifactId": "pkg:oci/nginx?repository_url=docker.io/library/nginx&tag=1.16.1"
                    }
                },
                "customData": {"kubernetes": {
                    "namespace": "default",
                    "name": "nginx-deployment",
                    "uid": "5b0a4a7e-2f29-4a57-9c0c-3a1f7f1e8a10",
                    "revision": "2",
                    "images": ["nginx:1.16.1", "ghcr.io/org/sidecar:v1"],
                    "templateHash": template_hash(&pod_template_of("nginx:1.16.1")),
                    "labels": {"app.kubernetes.io/part-of": "conference"}
                }}
            })
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
            assert!(run(&cloud_event(event_type, None, other.clone()))
                .unwrap()
                .is_empty());
        }
        let mut foreign = data.clone();
        foreign["apiVersion"] = json!("example.com/v1");
        for event_type in [RESOURCE_UPDATE, RESOURCE_DELETE] {
            assert!(run(&cloud_event(event_type, None, foreign.clone()))
                .unwrap()
                .is_empty());
        }
        let mut terminating = data;
        terminating["metadata"]["deletionTimestamp"] = json!("2023-08-05T11:00:00Z");
        assert!(run(&cloud_event(RESOURCE_UPDATE, None, terminating))
            .unwrap()
            .is_empty());
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
    fn the_types_are_the_v0_5_1_ones() {
        use dora_spec::SpecRelease;
        for (constant, predicate) in [
            (SERVICE_DEPLOYED, "deployed"),
            (SERVICE_ROLLEDBACK, "rolledback"),
            (SERVICE_REMOVED, "removed"),
        ] {
            assert_eq!(
                dora_spec::type_for(SpecRelease::V0_5_1, "service", predicate),
                Some(constant)
            );
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
            json!({
                "context": {
                    "specversion": "0.5.1",
                    "id": id_of(&from_deployment),
                    "source": CLUSTER,
                    "type": SERVICE_DEPLOYED,
                    "timestamp": "2023-08-05T10:00:01Z"
                },
                "subject": {
                    "id": "nginx-deployment",
                    "source": CLUSTER,
                    "content": {
                        "environment": {"id": "default", "source": CLUSTER},
                        "artifactId": "pkg:oci/nginx?repository_url=docker.io/library/nginx&tag=1.16.1"
                    }
                },
                "customData": {"kubernetes": {
                    "namespace": "default",
                    "name": "nginx-deployment",
                    "uid": DEPLOYMENT_UID,
                    "revision": "2",
                    "replicaSet": "nginx-deployment-7c5ddbdf54",
                    "images": ["nginx:1.16.1", "ghcr.io/org/sidecar:v1"],
                    "templateHash": from_deployment["customData"]["kubernetes"]["templateHash"]
                }}
            })
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
        assert!(run(&cloud_event(RESOURCE_ADD, None, data))
            .unwrap()
            .is_empty());
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
            derived_id(&[
                "kubernetes",
                "event",
                CLUSTER,
                "default",
                "nginx-deployment",
                rs,
                "8f6b2a37-5f0e-4bde-9a0e-0c3f1b6e2d44",
                "1"
            ])
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
        assert_eq!(
            id_of(&first),
            derived_id(&[
                "kubernetes",
                "event",
                CLUSTER,
                "default",
                "nginx-deployment",
                rs
            ])
        );
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
            assert!(
                run(&cloud_event(RESOURCE_UPDATE, None, data))
                    .unwrap()
                    .is_empty(),
                "{message}"
            );
        }
        let mut other_reason =
            scaling_event("Deployment does not have minimum availability.", None);
        other_reason["reason"] = json!("MinimumReplicasUnavailable");
        assert!(run(&cloud_event(RESOURCE_UPDATE, None, other_reason))
            .unwrap()
            .is_empty());
        let mut about_rollout = scaling_event(&format!("Scaled up replica set {rs} to 1"), None);
        about_rollout["involvedObject"]["kind"] = json!("Rollout");
        about_rollout["involvedObject"]["apiVersion"] = json!("argoproj.io/v1alpha1");
        assert!(run(&cloud_event(RESOURCE_UPDATE, None, about_rollout))
            .unwrap()
            .is_empty());
        let mut new_api = scaling_event(&format!("Scaled up replica set {rs} to 1"), None);
        new_api["apiVersion"] = json!("events.k8s.io/v1");
        assert!(run(&cloud_event(RESOURCE_UPDATE, None, new_api))
            .unwrap()
            .is_empty());
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
}
