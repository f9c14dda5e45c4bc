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
use dora_model::cdevent::{Content, CustomData, Reference, ServiceContent};
use dora_model::cloudevent::CloudEvent;
use dora_model::ids::derived_id;
use serde_json::{json, Map, Value};

use super::events::from_event;
use super::payload::{
    self, HashedTemplate, Labels, Object, ObjectMeta, ObjectRef, ObjectReference, Owned, Scale,
    Stamp, TypeMeta, WithSpec,
};
use crate::common::{insert_some, missing, payload, read};
pub use crate::purl::{deployment_purl, oci_purl};
use crate::transform::{
    CdEventDraft, Emitted, TransformError, Transformer, SERVICE_DEPLOYED, SERVICE_REMOVED,
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
pub(crate) const DEPLOYMENT_GROUPS: [&str; 2] = ["apps", "extensions"];

/// The name of `metadata.creationTimestamp` in errors.
pub(crate) const CREATION_TIMESTAMP: &str = "data.metadata.creationTimestamp";

/// The `kubernetes` transformer.
pub struct KubernetesTransformer;

impl Transformer for KubernetesTransformer {
    fn name(&self) -> &str {
        "kubernetes"
    }

    fn transform(&self, event: &CloudEvent) -> Result<Vec<Emitted>, TransformError> {
        match event.event_type.as_str() {
            RESOURCE_ADD | RESOURCE_UPDATE | RESOURCE_DELETE | REF_DELETE => {}
            // A reference carries nothing that tells a rollout; the rest is not an
            // ApiServerSource event.
            _ => return Ok(Vec::new()),
        }
        let data = payload(event)?;
        let TypeMeta { kind, api_version } = read(data)?;
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
fn from_deployment(event: &CloudEvent, data: &Value) -> Result<Vec<Emitted>, TransformError> {
    let Object { metadata } = read(data)?;
    let (name, namespace) = name_and_namespace(&metadata)?;
    if metadata.deletion_timestamp.is_some() {
        return Ok(Vec::new());
    }
    let uid = metadata.uid;
    let revision = metadata.annotations.revision.unwrap_or("1");
    let object_key = uid.map_or_else(|| format!("{namespace}/{name}"), str::to_owned);
    let cluster = event.source.as_str();
    let id = derived_id(&["kubernetes", "deployment", cluster, &object_key, revision]);
    let WithSpec { spec } = read(data)?;
    let template = pod_template(data, spec.template)?;
    let timestamp = timestamp(event, &[(CREATION_TIMESTAMP, metadata.creation_timestamp)])?;

    let mut details = object_details(namespace, name, uid);
    details.insert("revision".into(), json!(revision));
    details.insert("images".into(), json!(template.images));
    details.insert("templateHash".into(), json!(template.hash));
    insert_labels(&mut details, &metadata.labels);
    let artifact_id = template.artifact_id;
    let deployed = ServiceEvent::deployed(id, timestamp, name, namespace, artifact_id, details);
    Ok(vec![deployed.into_cdevent(event)])
}

/// `service.deployed` or `service.rolledback` for a ReplicaSet of a Deployment (Resource mode
/// `add` or `update`); nothing for a ReplicaSet that is not running a rollout.
fn from_replica_set(event: &CloudEvent, data: &Value) -> Result<Vec<Emitted>, TransformError> {
    let Object { metadata } = read(data)?;
    let (replica_set, namespace) = name_and_namespace(&metadata)?;
    if metadata.deletion_timestamp.is_some() {
        return Ok(Vec::new());
    }
    let owned: Owned = read(data)?;
    let Some(owner) = deployment_owner(owned.metadata.owner_references.as_deref())? else {
        return Ok(Vec::new());
    };
    let Some(revision) = metadata.annotations.revision else {
        return Ok(Vec::new());
    };
    let history: Vec<&str> = metadata
        .annotations
        .revision_history
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|revision| !revision.is_empty())
        .collect();
    let Scale { spec } = read(data)?;
    let replicas = match spec.replicas {
        None => 1,
        Some(n) => n
            .as_u64()
            .ok_or_else(|| TransformError::new("data.spec.replicas is not a count"))?,
    };
    let rolled_back = !history.is_empty();
    let running = replicas > 0 || (rolled_back && event.event_type == RESOURCE_UPDATE);
    if !running {
        return Ok(Vec::new());
    }
    let cluster = event.source.as_str();
    let id = derived_id(&["kubernetes", "deployment", cluster, owner.uid, revision]);
    let WithSpec { spec } = read(data)?;
    let template = pod_template(data, spec.template)?;
    let (event_type, timestamp) = if rolled_back {
        (SERVICE_ROLLEDBACK, timestamp(event, &[])?)
    } else {
        let created = [(CREATION_TIMESTAMP, metadata.creation_timestamp)];
        (SERVICE_DEPLOYED, timestamp(event, &created)?)
    };

    let mut details = object_details(namespace, owner.name, Some(owner.uid));
    details.insert("revision".into(), json!(revision));
    details.insert("replicaSet".into(), json!(replica_set));
    if rolled_back {
        details.insert("revisionHistory".into(), json!(history));
    }
    details.insert("images".into(), json!(template.images));
    details.insert("templateHash".into(), json!(template.hash));
    insert_labels(&mut details, &metadata.labels);
    Ok(vec![ServiceEvent {
        event_type,
        id,
        timestamp,
        name: owner.name,
        namespace,
        artifact_id: Some(template.artifact_id),
        details,
    }
    .into_cdevent(event)])
}

/// `metadata.name` and `metadata.namespace`, which every Deployment and ReplicaSet must have.
fn name_and_namespace<'a>(metadata: &ObjectMeta<'a>) -> Result<(&'a str, &'a str), TransformError> {
    Ok((
        metadata.name.ok_or_else(|| missing("data.metadata.name"))?,
        metadata
            .namespace
            .ok_or_else(|| missing("data.metadata.namespace"))?,
    ))
}

/// The Deployment that controls a ReplicaSet.
struct Owner<'a> {
    name: &'a str,
    uid: &'a str,
}

/// The controller of the object (`metadata.ownerReferences[]` with `controller: true`) when it is
/// an `apps` Deployment; `None` for no controller or a controller of another kind.
fn deployment_owner<'a>(
    references: Option<&[ObjectRef<'a>]>,
) -> Result<Option<Owner<'a>>, TransformError> {
    let Some((index, controller)) = references
        .unwrap_or_default()
        .iter()
        .enumerate()
        .find(|(_, reference)| reference.controller == Some(true))
    else {
        return Ok(None);
    };
    if controller.kind != Some("Deployment")
        || !in_groups(controller.api_version, &DEPLOYMENT_GROUPS)
    {
        return Ok(None);
    }
    let required = |value: Option<&'a str>, key: &str| {
        value.ok_or_else(|| missing(&format!("data.metadata.ownerReferences[{index}].{key}")))
    };
    Ok(Some(Owner {
        name: required(controller.name, "name")?,
        uid: required(controller.uid, "uid")?,
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

/// The [`PodTemplate`] of `template` (`data.spec.template`, read from `data`).
fn pod_template<'a>(
    data: &Value,
    template: Option<payload::PodTemplate<'a>>,
) -> Result<PodTemplate<'a>, TransformError> {
    let containers = template
        .and_then(|template| template.spec)
        .and_then(|spec| spec.containers)
        .filter(|containers| !containers.is_empty())
        .ok_or_else(|| {
            TransformError::new("data.spec.template.spec.containers is missing or empty")
        })?;
    let images = containers
        .iter()
        .enumerate()
        .map(|(index, container)| {
            container.image.ok_or_else(|| {
                missing(&format!(
                    "data.spec.template.spec.containers[{index}].image"
                ))
            })
        })
        .collect::<Result<Vec<&str>, _>>()?;
    let first_image = images[0];
    let artifact_id = oci_purl(first_image).ok_or_else(|| {
        TransformError::new(format!(
            "data.spec.template.spec.containers[0].image {first_image:?} is not an image reference"
        ))
    })?;
    let hash = read::<HashedTemplate>(data)?.hash();
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
    hash_template(template.clone())
}

/// [`template_hash`] of a template the caller owns (no copy).
pub(crate) fn hash_template(mut template: Value) -> String {
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
fn insert_labels(details: &mut Map<String, Value>, labels: &Labels) {
    let mut kept = Map::new();
    for (label, value) in KEPT_LABELS
        .into_iter()
        .zip([labels.part_of, labels.version])
    {
        insert_some(&mut kept, label, value);
    }
    if !kept.is_empty() {
        details.insert("labels".into(), Value::Object(kept));
    }
}

/// `service.removed` for the last state of a deleted Deployment (Resource mode `delete`).
fn removed_deployment(event: &CloudEvent, data: &Value) -> Result<Vec<Emitted>, TransformError> {
    let Object { metadata } = read(data)?;
    let (name, namespace) = name_and_namespace(&metadata)?;
    let uid = metadata.uid;
    let object_key = uid.map_or_else(|| format!("{namespace}/{name}"), str::to_owned);
    let id = derived_id(&["kubernetes", "removed", &event.source, &object_key]);
    let deleted = [(
        "data.metadata.deletionTimestamp",
        metadata.deletion_timestamp,
    )];
    let timestamp = timestamp(event, &deleted)?;

    let mut details = object_details(namespace, name, uid);
    insert_some(&mut details, "revision", metadata.annotations.revision);
    insert_labels(&mut details, &metadata.labels);
    Ok(vec![ServiceEvent::removed(
        id, timestamp, name, namespace, details,
    )
    .into_cdevent(event)])
}

/// `service.removed` for a Reference-mode `delete` of a Deployment.
fn removed_by_reference(event: &CloudEvent, data: &Value) -> Result<Vec<Emitted>, TransformError> {
    let ObjectReference { name, namespace } = read(data)?;
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
    let timestamp = timestamp(event, &[])?;
    let details = object_details(namespace, name, None);
    Ok(vec![ServiceEvent::removed(
        id, timestamp, name, namespace, details,
    )
    .into_cdevent(event)])
}

/// `customData.kubernetes` of a Deployment: its namespace, name and, when known, uid.
pub(crate) fn object_details(namespace: &str, name: &str, uid: Option<&str>) -> Map<String, Value> {
    let mut details = Map::new();
    details.insert("namespace".into(), json!(namespace));
    details.insert("name".into(), json!(name));
    if let Some(uid) = uid {
        details.insert("uid".into(), json!(uid));
    }
    details
}

/// The fields of one `service.*` CDEvent about a Deployment.
pub(crate) struct ServiceEvent<'a> {
    pub(crate) event_type: &'static str,
    pub(crate) id: String,
    pub(crate) timestamp: DateTime<Utc>,
    /// The Deployment name.
    pub(crate) name: &'a str,
    pub(crate) namespace: &'a str,
    /// `None` for `service.removed`, whose schema has no `artifactId`.
    pub(crate) artifact_id: Option<String>,
    /// `customData.kubernetes`.
    pub(crate) details: Map<String, Value>,
}

impl<'a> ServiceEvent<'a> {
    /// `service.deployed` of the Deployment `namespace/name`, shipping `artifact_id`.
    pub(crate) fn deployed(
        id: String,
        timestamp: DateTime<Utc>,
        name: &'a str,
        namespace: &'a str,
        artifact_id: String,
        details: Map<String, Value>,
    ) -> Self {
        Self {
            artifact_id: Some(artifact_id),
            event_type: SERVICE_DEPLOYED,
            ..Self::removed(id, timestamp, name, namespace, details)
        }
    }

    /// `service.removed` (whose schema has no `artifactId`).
    pub(crate) fn removed(
        id: String,
        timestamp: DateTime<Utc>,
        name: &'a str,
        namespace: &'a str,
        details: Map<String, Value>,
    ) -> Self {
        Self {
            event_type: SERVICE_REMOVED,
            id,
            timestamp,
            name,
            namespace,
            artifact_id: None,
            details,
        }
    }

    pub(crate) fn into_cdevent(self, event: &CloudEvent) -> Emitted {
        let mut custom = CustomData::default();
        custom
            .tools
            .insert("kubernetes".into(), Value::Object(self.details));
        CdEventDraft {
            event_type: self.event_type,
            id: self.id,
            source: event.source.clone(),
            timestamp: self.timestamp,
            subject_id: self.name.to_owned(),
            subject_source: Some(event.source.clone()),
            content: Content::Service(ServiceContent {
                environment: Some(Reference::within(self.namespace, &event.source)),
                artifact_id: self.artifact_id,
            }),
            custom_data: Some(custom),
        }
        .into_cdevent()
        .into()
    }
}

/// The CDEvent timestamp: the CloudEvent `time`, else the first of `fallbacks` present in the data
/// (each a time and its name in errors, `data.<path>`).
pub(crate) fn timestamp(
    event: &CloudEvent,
    fallbacks: &[(&str, Option<Stamp>)],
) -> Result<DateTime<Utc>, TransformError> {
    if let Some(time) = event.time {
        return Ok(time);
    }
    for (name, stamp) in fallbacks {
        if let Some(time) = stamp.map(|stamp| stamp.time(name)).transpose()?.flatten() {
            return Ok(time);
        }
    }
    if fallbacks.is_empty() {
        return Err(TransformError::new(
            "no timestamp: the CloudEvent has no time",
        ));
    }
    let names: Vec<&str> = fallbacks.iter().map(|(name, _)| *name).collect();
    Err(TransformError::new(format!(
        "no timestamp: the CloudEvent has no time and {} {} missing",
        names.join(", "),
        if names.len() == 1 { "is" } else { "are" }
    )))
}

/// True when the `apiVersion` (`group/version`) is in one of `groups`, or absent.
pub(crate) fn in_groups(api_version: Option<&str>, groups: &[&str]) -> bool {
    api_version.is_none_or(|v| {
        v.split_once('/')
            .is_some_and(|(group, _)| groups.contains(&group))
    })
}

#[cfg(test)]
#[path = "transform_tests.rs"]
mod tests;
