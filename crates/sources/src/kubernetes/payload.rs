//! The Kubernetes objects an ApiServerSource sends, read into serde structs: only the fields the
//! transformer uses (the others are ignored), read with [`crate::common::read`] so that a wrong
//! field is an error naming it. This is the edge of the Kubernetes source: `transform.rs` and
//! `events.rs` read the CloudEvent data through these types and work on them.
//!
//! Fields that only some objects need (a Deployment's name, an Event's message) are optional
//! here, and the transformer says they are missing where it needs them, so that an object it
//! ignores never fails on a field it lacks. Objects are read in steps for the same reason: what
//! decides whether an object gives anything first ([`TypeMeta`], [`EventHead`]), then the rest.

use chrono::{DateTime, Utc};
use dora_model::time::parse_rfc3339;
use serde::de::{Error, IgnoredAny};
use serde::{Deserialize, Deserializer};
use serde_json::{Number, Value};

use super::transform::hash_template;
use crate::common::de;
use crate::transform::TransformError;

/// `kind` and `apiVersion`, which say what the object is.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TypeMeta<'a> {
    #[serde(deserialize_with = "de::text")]
    pub(crate) kind: &'a str,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) api_version: Option<&'a str>,
}

/// The data of a Reference-mode CloudEvent: which object it is about.
#[derive(Deserialize)]
pub(crate) struct ObjectReference<'a> {
    #[serde(deserialize_with = "de::text")]
    pub(crate) name: &'a str,
    #[serde(deserialize_with = "de::text")]
    pub(crate) namespace: &'a str,
}

// ---------------------------------------------------------------------------------------------
// Deployments and ReplicaSets

/// The `metadata` of a Deployment or ReplicaSet (read first: it decides whether the object gives
/// anything).
#[derive(Deserialize)]
pub(crate) struct Object<'a> {
    #[serde(default, borrow, deserialize_with = "or_default")]
    pub(crate) metadata: ObjectMeta<'a>,
}

/// `metadata` (of a Deployment, a ReplicaSet or an Event).
#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ObjectMeta<'a> {
    /// Required by every object the transformer reads.
    #[serde(deserialize_with = "de::optional_text")]
    pub(crate) name: Option<&'a str>,
    /// Required by every object the transformer reads.
    #[serde(deserialize_with = "de::optional_text")]
    pub(crate) namespace: Option<&'a str>,
    #[serde(deserialize_with = "de::optional_text")]
    pub(crate) uid: Option<&'a str>,
    #[serde(borrow)]
    pub(crate) creation_timestamp: Option<Stamp<'a>>,
    /// Set while the object is being deleted, whatever it holds.
    #[serde(borrow)]
    pub(crate) deletion_timestamp: Option<Stamp<'a>>,
    #[serde(borrow, deserialize_with = "or_default")]
    pub(crate) annotations: Annotations<'a>,
    #[serde(borrow, deserialize_with = "or_default")]
    pub(crate) labels: Labels<'a>,
    #[serde(borrow)]
    pub(crate) owner_references: Option<Vec<ObjectRef<'a>>>,
}

/// The annotations the deployment controller writes (the keys are
/// [`super::REVISION_ANNOTATION`] and [`super::REVISION_HISTORY_ANNOTATION`]).
#[derive(Default, Deserialize)]
#[serde(default)]
pub(crate) struct Annotations<'a> {
    #[serde(rename = "deployment.kubernetes.io/revision")]
    #[serde(deserialize_with = "de::optional_text")]
    pub(crate) revision: Option<&'a str>,
    #[serde(rename = "deployment.kubernetes.io/revision-history")]
    #[serde(deserialize_with = "de::optional_text")]
    pub(crate) revision_history: Option<&'a str>,
}

/// The labels passed on in `customData.kubernetes.labels` (the keys are `KEPT_LABELS`).
#[derive(Default, Deserialize)]
#[serde(default)]
pub(crate) struct Labels<'a> {
    #[serde(rename = "app.kubernetes.io/part-of")]
    #[serde(deserialize_with = "de::optional_text")]
    pub(crate) part_of: Option<&'a str>,
    #[serde(rename = "app.kubernetes.io/version")]
    #[serde(deserialize_with = "de::optional_text")]
    pub(crate) version: Option<&'a str>,
}

/// A reference to another object: an entry of `metadata.ownerReferences`, or the
/// `involvedObject` of an Event. What the transformer needs of it, it requires itself.
#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ObjectRef<'a> {
    /// Only `true` makes an owner reference the controller.
    #[serde(deserialize_with = "de::lenient")]
    pub(crate) controller: Option<bool>,
    #[serde(deserialize_with = "de::optional_text")]
    pub(crate) kind: Option<&'a str>,
    #[serde(deserialize_with = "de::optional_text")]
    pub(crate) api_version: Option<&'a str>,
    #[serde(deserialize_with = "de::optional_text")]
    pub(crate) name: Option<&'a str>,
    #[serde(deserialize_with = "de::optional_text")]
    pub(crate) namespace: Option<&'a str>,
    #[serde(deserialize_with = "de::optional_text")]
    pub(crate) uid: Option<&'a str>,
}

/// The `spec` of a Deployment or ReplicaSet (read once its `metadata` says it may be a rollout).
#[derive(Deserialize)]
pub(crate) struct WithSpec<'a> {
    #[serde(default, borrow, deserialize_with = "or_default")]
    pub(crate) spec: Spec<'a>,
}

/// `spec`.
#[derive(Default, Deserialize)]
pub(crate) struct Spec<'a> {
    /// Absent is the API default, 1.
    #[serde(default, deserialize_with = "number")]
    pub(crate) replicas: Option<Number>,
    #[serde(default, borrow)]
    pub(crate) template: Option<PodTemplate<'a>>,
}

/// `spec.template`.
#[derive(Deserialize)]
pub(crate) struct PodTemplate<'a> {
    #[serde(default, borrow)]
    pub(crate) spec: Option<PodSpec<'a>>,
}

/// `spec.template.spec`.
#[derive(Deserialize)]
pub(crate) struct PodSpec<'a> {
    #[serde(default, borrow)]
    pub(crate) containers: Option<Vec<Container<'a>>>,
}

/// An entry of `spec.template.spec.containers`.
#[derive(Deserialize)]
pub(crate) struct Container<'a> {
    /// Required of every container of a rollout.
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) image: Option<&'a str>,
}

/// [`super::template_hash`] of `spec.template`, the whole JSON of it (empty without a template).
#[derive(Deserialize)]
pub(crate) struct HashedTemplate {
    #[serde(default, deserialize_with = "or_default")]
    spec: HashedSpec,
}

/// `spec` of a [`HashedTemplate`].
#[derive(Default, Deserialize)]
struct HashedSpec {
    #[serde(default, deserialize_with = "hash")]
    template: String,
}

impl HashedTemplate {
    pub(crate) fn hash(self) -> String {
        self.spec.template
    }
}

// ---------------------------------------------------------------------------------------------
// core v1 Events

/// What decides whether a core v1 Event gives anything: what it is about and why.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EventHead<'a> {
    #[serde(borrow)]
    pub(crate) involved_object: ObjectRef<'a>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) reason: Option<&'a str>,
    /// Required for a `ScalingReplicaSet` Event.
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) message: Option<&'a str>,
}

/// The rest of a scale-up Event: which occurrence of it this is, and when.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ScalingEvent<'a> {
    #[serde(default, borrow, deserialize_with = "or_default")]
    pub(crate) metadata: ObjectMeta<'a>,
    /// Absent is `1`.
    #[serde(default, deserialize_with = "number")]
    pub(crate) count: Option<Number>,
    #[serde(default, borrow)]
    pub(crate) last_timestamp: Option<Stamp<'a>>,
    #[serde(default, borrow)]
    pub(crate) event_time: Option<Stamp<'a>>,
    #[serde(default, borrow)]
    pub(crate) first_timestamp: Option<Stamp<'a>>,
}

// ---------------------------------------------------------------------------------------------
// Field readers

/// A time the transformer falls back on when the CloudEvent has no `time`: RFC 3339 text as
/// Kubernetes writes it. Anything else is kept, to be an error only when the time is needed.
#[derive(Clone, Copy, Deserialize)]
#[serde(untagged)]
pub(crate) enum Stamp<'a> {
    Text(&'a str),
    Other(IgnoredAny),
}

impl Stamp<'_> {
    /// The time, `None` for an empty string; `name` (`data.<path>`) names the field in errors.
    pub(crate) fn time(self, name: &str) -> Result<Option<DateTime<Utc>>, TransformError> {
        match self {
            Stamp::Text("") => Ok(None),
            Stamp::Text(text) => parse_rfc3339(text).map(Some).ok_or_else(|| {
                TransformError::new(format!("{name} {text:?} is not an RFC 3339 timestamp"))
            }),
            Stamp::Other(_) => Err(TransformError::new(format!("{name} is not a string"))),
        }
    }
}

/// A part of the object that may be absent or `null` (use with `default`): either is its
/// default, as if it were empty.
fn or_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    data: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(data)?.unwrap_or_default())
}

/// A JSON number, kept as written (`count` goes into an id); `null` is absent.
fn number<'de, D: Deserializer<'de>>(data: D) -> Result<Option<Number>, D::Error> {
    match Value::deserialize(data)? {
        Value::Null => Ok(None),
        Value::Number(number) => Ok(Some(number)),
        _ => Err(D::Error::custom("is not a number")),
    }
}

/// [`super::template_hash`] of any JSON; `null` is as if absent.
fn hash<'de, D: Deserializer<'de>>(data: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(data)? {
        Value::Null => String::new(),
        template => hash_template(template),
    })
}
