//! Keptn's two payloads, read into the fields the transformer uses (unknown fields ignored),
//! with errors naming the field (`data.resource.name is missing`, `data.metadata.annotations:
//! invalid type ...`).
//!
//! Both are built by the lifecycle operator's event sender
//! (`lifecycle-operator/controllers/common/eventsender/eventsender.go` in `keptn/lifecycle-toolkit`):
//! the CloudEvent's data is `{message, type, version, resource: {group, kind, version, name,
//! namespace}}`, the Kubernetes Event is recorded with `AnnotatedEventf` on the phase item (a
//! `KeptnWorkloadVersion` or `KeptnAppVersion`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// The data of a Keptn CloudEvent (`source: keptn.sh`, `type: <phase long name>.<status>`).
#[derive(Debug, Deserialize)]
pub(crate) struct PhaseCloudEvent {
    /// `<phase long name>: <reason> / Namespace: <ns>, Name: <name>[, Version: <version>]`.
    pub(crate) message: String,
    /// The Kubernetes Event type: `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub(crate) event_type: String,
    /// The version of the workload or application (empty for objects without one).
    #[serde(default)]
    pub(crate) version: String,
    /// The phase item; absent in releases before it was added, then read from `message`.
    #[serde(default)]
    pub(crate) resource: Option<Resource>,
}

/// `data.resource`: the object the phase is about. `group`, `kind` and `version` are often
/// empty: the operator reads them from the object's TypeMeta, which typed objects read through
/// controller-runtime's cache do not carry.
#[derive(Debug, Deserialize)]
pub(crate) struct Resource {
    pub(crate) name: String,
    pub(crate) namespace: String,
}

/// The data of an ApiServerSource CloudEvent about a core v1 Event.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CoreEvent {
    #[serde(default)]
    pub(crate) metadata: EventMetadata,
    pub(crate) involved_object: InvolvedObject,
    /// `<phase short name><status>`, e.g. `WorkloadDeployFinished`.
    pub(crate) reason: String,
    #[serde(default)]
    pub(crate) message: Option<String>,
    /// `Normal` or `Warning`.
    #[serde(default, rename = "type")]
    pub(crate) event_type: Option<String>,
    #[serde(default)]
    pub(crate) last_timestamp: Option<DateTime<Utc>>,
    #[serde(default)]
    pub(crate) event_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub(crate) first_timestamp: Option<DateTime<Utc>>,
}

/// `metadata` of a core v1 Event: Keptn's annotations (`namespace`, `name`, `phase`,
/// `appName`, `appVersion`, `workloadName`, `workloadVersion`, `traceparent`, ...).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct EventMetadata {
    #[serde(default)]
    pub(crate) annotations: BTreeMap<String, String>,
}

/// `involvedObject` of a core v1 Event.
#[derive(Debug, Deserialize)]
pub(crate) struct InvolvedObject {
    #[serde(default)]
    pub(crate) kind: Option<String>,
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) namespace: Option<String>,
}

/// What `message` says after the phase: `(namespace, name, version)`, for CloudEvents without
/// `resource`.
pub(crate) fn message_object(message: &str) -> Option<(&str, &str, Option<&str>)> {
    let (_, object) = message.rsplit_once(" / Namespace: ")?;
    let (namespace, rest) = object.split_once(", Name: ")?;
    match rest.split_once(", Version: ") {
        Some((name, version)) => Some((namespace, name, Some(version))),
        None => Some((namespace, rest, None)),
    }
}
