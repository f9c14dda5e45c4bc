//! Kubernetes: Knative ApiServerSource events about Deployments -> `service.deployed`.
//!
//! # Input
//!
//! CloudEvents sent by a Knative `ApiServerSource` (the design of "Platform Engineering on
//! Kubernetes", ch. 9). Their `source` is the URL of the API server, i.e. the cluster (e.g.
//! `https://10.96.0.1:443`); it becomes the CDEvent's context source, subject source and
//! environment source.
//!
//! * `dev.knative.apiserver.resource.add` / `.update`: Resource mode, the data is the whole object.
//!   Handled as below.
//! * `dev.knative.apiserver.resource.delete`: nothing for now (a later issue emits
//!   `service.removed`). This also covers the deletion of expired Event objects.
//! * `dev.knative.apiserver.ref.*`: Reference mode, the data is only a reference (apiVersion, kind,
//!   name, namespace): nothing for now.
//! * Any other type, and any object of another kind: nothing.
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
//! `subject.content.artifactId` is the purl ([`oci_purl`]) of the first container image of
//! `spec.template.spec.containers`.
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
//!
//! Events carry no image, but `artifactId` is required (minLength 1) by the v0.5.1 schema. purl
//! has no registered type for Kubernetes objects, so it is `pkg:generic/<namespace>/<deployment>`
//! ([`deployment_purl`]): the `generic` type, with the purl namespace component holding the
//! Kubernetes namespace.
//!
//! # Output
//!
//! One `dev.cdevents.service.deployed.0.3.0` per rollout:
//!
//! * context source = the CloudEvent source (the cluster); timestamp = the CloudEvent `time`, else
//!   (Events) `lastTimestamp`, `eventTime`, `firstTimestamp`, else `metadata.creationTimestamp`;
//!   if there is none, an error (never "now": the output must be deterministic);
//! * `subject.id` = the Deployment name, `subject.source` = the cluster;
//! * `subject.content.environment` = `{"id": <namespace>, "source": <cluster>}`;
//! * `customData.kubernetes` = `namespace`, `name`, `uid`, `revision` (Deployment objects),
//!   `replicaSet` (Events), `images` (all container images, Deployment objects) and `labels` (only
//!   `app.kubernetes.io/part-of` and `app.kubernetes.io/version`, when set), each only when known.
//!
//! Malformed input of a kind the transformer handles (data missing or not an object, no `kind`,
//! a Deployment without `metadata.name`, ...) is a [`TransformError`] naming the field.
//!
//! # Limitations
//!
//! * Watch Deployments or Events, not both: the two shapes give different ids, so the same rollout
//!   would be counted twice.
//! * Deployment objects: between a template change and the controller's bump of the revision
//!   annotation, an `update` carries the new template under the old revision; its id is the old
//!   rollout's, so the store drops it (unless the old rollout was never seen). A revision first
//!   seen long after it happened (e.g. the `add` events ApiServerSource sends for existing
//!   objects when it starts) is dated by that event.
//! * Events without a `from` clause (Kubernetes < 1.26): a rollback to an old ReplicaSet that was
//!   already seen is not a new rollout, and a scale-up of a ReplicaSet first seen after its
//!   rollout counts as one.
//! * Only core `v1` Events (`involvedObject`, `message`, `count`); `events.k8s.io/v1` Events
//!   (`regarding`, `note`) give nothing.

use chrono::{DateTime, Utc};
use dora_model::cloudevent::{CloudEvent, Data};
use dora_model::ids::derived_id;
use dora_model::time::parse_rfc3339;
use serde_json::{json, Map, Value};

use super::{CdEventDraft, TransformError, Transformer, SERVICE_DEPLOYED};

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

/// The labels copied to `customData.kubernetes.labels`.
const KEPT_LABELS: [&str; 2] = ["app.kubernetes.io/part-of", "app.kubernetes.io/version"];

/// API groups whose `Deployment` kind is the one the deployment controller manages.
const DEPLOYMENT_GROUPS: [&str; 2] = ["apps", "extensions"];

/// The `kubernetes` transformer.
pub struct KubernetesTransformer;

impl Transformer for KubernetesTransformer {
    fn name(&self) -> &str {
        "kubernetes"
    }

    fn transform(&self, event: &CloudEvent) -> Result<Vec<Value>, TransformError> {
        match event.event_type.as_str() {
            RESOURCE_ADD | RESOURCE_UPDATE => {}
            // Deletions emit nothing for now; Reference mode carries too little; the rest is
            // not an ApiServerSource resource event.
            _ => return Ok(Vec::new()),
        }
        let data = match &event.data {
            Some(Data::Json(value @ Value::Object(_))) => value,
            Some(Data::Json(_)) => return Err(TransformError::new("data is not a JSON object")),
            Some(_) => return Err(TransformError::new("data is not JSON")),
            None => return Err(TransformError::new("data is missing")),
        };
        match required_str(data, &["kind"])? {
            "Deployment" if in_groups(optional_str(data, &["apiVersion"])?, &DEPLOYMENT_GROUPS) => {
                from_deployment(event, data)
            }
            "Event" if optional_str(data, &["apiVersion"])?.is_none_or(|v| v == "v1") => {
                from_event(event, data)
            }
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
    let timestamp = timestamp(event, data, &[&["metadata", "creationTimestamp"]])?;

    let mut details = Map::new();
    details.insert("namespace".into(), json!(namespace));
    details.insert("name".into(), json!(name));
    if let Some(uid) = uid {
        details.insert("uid".into(), json!(uid));
    }
    details.insert("revision".into(), json!(revision));
    details.insert("images".into(), json!(images));
    let mut labels = Map::new();
    for label in KEPT_LABELS {
        if let Some(value) = optional_str(data, &["metadata", "labels", label])? {
            labels.insert(label.into(), json!(value));
        }
    }
    if !labels.is_empty() {
        details.insert("labels".into(), Value::Object(labels));
    }
    Ok(vec![service_deployed(
        event,
        id,
        timestamp,
        name,
        namespace,
        artifact_id,
        details,
    )])
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
    Ok(vec![service_deployed(
        event,
        id,
        timestamp,
        name,
        namespace,
        deployment_purl(namespace, name),
        details,
    )])
}

/// Lays out the `service.deployed` CDEvent shared by both shapes.
fn service_deployed(
    event: &CloudEvent,
    id: String,
    timestamp: DateTime<Utc>,
    name: &str,
    namespace: &str,
    artifact_id: String,
    details: Map<String, Value>,
) -> Value {
    let mut content = Map::new();
    content.insert(
        "environment".into(),
        json!({"id": namespace, "source": event.source}),
    );
    content.insert("artifactId".into(), Value::String(artifact_id));
    CdEventDraft {
        event_type: SERVICE_DEPLOYED,
        id,
        source: event.source.clone(),
        timestamp,
        subject_id: name.to_owned(),
        subject_source: Some(event.source.clone()),
        content,
        custom_data: Some(json!({ "kubernetes": Value::Object(details) })),
    }
    .into_json()
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

/// The value at `path` under `root`; `None` when absent or `null`.
fn field<'a>(root: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(root, |value, key| value.get(key))
        .filter(|value| !value.is_null())
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

/// Percent-encodes everything but ASCII letters, digits, `-._~` and the bytes in `keep`.
fn percent_encode(text: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) || keep.contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
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
/// use dora_pipeline::transformers::kubernetes::oci_purl;
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
                "template": {"spec": {"containers": [
                    {"name": "nginx", "image": image},
                    {"name": "sidecar", "image": "ghcr.io/org/sidecar:v1"}
                ]}}
            }
        });
        if let Some(revision) = revision {
            value["metadata"]["annotations"] = json!({ REVISION_ANNOTATION: revision });
        }
        value
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
    fn nothing_for_deletes_ref_mode_other_kinds_and_terminating_deployments() {
        let data = deployment(Some("1"), 3, "nginx");
        for event_type in [
            RESOURCE_DELETE,
            REF_ADD,
            REF_UPDATE,
            REF_DELETE,
            "com.example.other",
        ] {
            assert_eq!(
                run(&cloud_event(event_type, None, data.clone())).unwrap(),
                Vec::<Value>::new()
            );
        }
        let mut other = data.clone();
        other["kind"] = json!("StatefulSet");
        assert!(run(&cloud_event(RESOURCE_UPDATE, None, other))
            .unwrap()
            .is_empty());
        let mut foreign = data.clone();
        foreign["apiVersion"] = json!("example.com/v1");
        assert!(run(&cloud_event(RESOURCE_UPDATE, None, foreign))
            .unwrap()
            .is_empty());
        let mut terminating = data;
        terminating["metadata"]["deletionTimestamp"] = json!("2023-08-05T11:00:00Z");
        assert!(run(&cloud_event(RESOURCE_UPDATE, None, terminating))
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
