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
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeSeed, Error, IgnoredAny, MapAccess, SeqAccess, Unexpected, Visitor};
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
    #[serde(default, borrow, deserialize_with = "object_or_default")]
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
    #[serde(borrow, deserialize_with = "object_or_default")]
    pub(crate) annotations: Annotations<'a>,
    #[serde(borrow, deserialize_with = "object_or_default")]
    pub(crate) labels: Labels<'a>,
}

/// The owners of a ReplicaSet (read only for ReplicaSets, once they are not being deleted).
#[derive(Deserialize)]
pub(crate) struct Owned<'a> {
    #[serde(default, borrow, deserialize_with = "object_or_default")]
    pub(crate) metadata: OwnerReferences<'a>,
}

/// `metadata.ownerReferences`.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OwnerReferences<'a> {
    #[serde(default, borrow, deserialize_with = "strict_list")]
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

/// The `spec.replicas` of a ReplicaSet (read once its `metadata` says it may be a rollout).
#[derive(Deserialize)]
pub(crate) struct Scale {
    #[serde(default, deserialize_with = "object_or_default")]
    pub(crate) spec: Replicas,
}

/// `spec` of a [`Scale`].
#[derive(Default, Deserialize)]
pub(crate) struct Replicas {
    /// Absent is the API default, 1.
    #[serde(default, deserialize_with = "number")]
    pub(crate) replicas: Option<Number>,
}

/// The pod template of a Deployment or ReplicaSet (read once it is known to be a rollout).
#[derive(Deserialize)]
pub(crate) struct WithSpec<'a> {
    #[serde(default, borrow, deserialize_with = "object_or_default")]
    pub(crate) spec: Spec<'a>,
}

/// `spec` of a [`WithSpec`].
#[derive(Default, Deserialize)]
pub(crate) struct Spec<'a> {
    #[serde(default, borrow, deserialize_with = "optional_object")]
    pub(crate) template: Option<PodTemplate<'a>>,
}

/// `spec.template`.
#[derive(Default, Deserialize)]
pub(crate) struct PodTemplate<'a> {
    #[serde(default, borrow, deserialize_with = "optional_object")]
    pub(crate) spec: Option<PodSpec<'a>>,
}

/// `spec.template.spec`.
#[derive(Default, Deserialize)]
pub(crate) struct PodSpec<'a> {
    #[serde(default, borrow, deserialize_with = "list")]
    pub(crate) containers: Option<Vec<Container<'a>>>,
}

/// An entry of `spec.template.spec.containers`.
#[derive(Default, Deserialize)]
pub(crate) struct Container<'a> {
    /// Required of every container of a rollout.
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) image: Option<&'a str>,
}

/// [`super::template_hash`] of `spec.template`, the whole JSON of it (empty without a template).
#[derive(Deserialize)]
pub(crate) struct HashedTemplate {
    #[serde(default, deserialize_with = "object_or_default")]
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
    /// Required; anything but an object is an empty one.
    #[serde(default, borrow, deserialize_with = "present_object")]
    pub(crate) involved_object: Option<ObjectRef<'a>>,
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
    #[serde(default, borrow, deserialize_with = "object_or_default")]
    pub(crate) metadata: ObjectMeta<'a>,
    #[serde(default, borrow)]
    pub(crate) last_timestamp: Option<Stamp<'a>>,
    #[serde(default, borrow)]
    pub(crate) event_time: Option<Stamp<'a>>,
    #[serde(default, borrow)]
    pub(crate) first_timestamp: Option<Stamp<'a>>,
}

/// How many times an Event occurred (read only for the Events whose id it is part of).
#[derive(Deserialize)]
pub(crate) struct Count {
    /// Absent is `1`.
    #[serde(default, deserialize_with = "number")]
    pub(crate) count: Option<Number>,
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

/// What a part of an object holds: an object (read as `T`), `null`, or something else. The path
/// readers the transformer had before took the fields of anything but an object as absent
/// (`data.metadata.name` of `"metadata": 5` is missing); the readers below keep that.
enum Part<T> {
    Object(T),
    Null,
    Other,
}

/// The `visit_*` methods of a [`Visitor`] for booleans, numbers and strings, each giving what the
/// visitor's `other` method makes of the value (the visitors of parts that must be objects or
/// arrays).
macro_rules! scalars_are_other {
    () => {
        fn visit_bool<E: Error>(self, value: bool) -> Result<Self::Value, E> {
            self.other(Unexpected::Bool(value))
        }

        fn visit_i64<E: Error>(self, value: i64) -> Result<Self::Value, E> {
            self.other(Unexpected::Signed(value))
        }

        fn visit_u64<E: Error>(self, value: u64) -> Result<Self::Value, E> {
            self.other(Unexpected::Unsigned(value))
        }

        fn visit_f64<E: Error>(self, value: f64) -> Result<Self::Value, E> {
            self.other(Unexpected::Float(value))
        }

        fn visit_str<E: Error>(self, value: &str) -> Result<Self::Value, E> {
            self.other(Unexpected::Str(value))
        }
    };
}

/// Reads a [`Part`]; an object through the same deserializer, so that errors in it name the
/// field.
struct PartVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for PartVisitor<T> {
    type Value = Part<T>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Part<T>, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(Part::Object)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Part<T>, A::Error> {
        IgnoredAny.visit_seq(seq).map(|_| Part::Other)
    }

    fn visit_unit<E: Error>(self) -> Result<Part<T>, E> {
        Ok(Part::Null)
    }

    scalars_are_other!();
}

impl<T> PartVisitor<T> {
    fn other<E: Error>(self, _: Unexpected) -> Result<Part<T>, E> {
        Ok(Part::Other)
    }
}

fn part<'de, D: Deserializer<'de>, T: Deserialize<'de>>(data: D) -> Result<Part<T>, D::Error> {
    data.deserialize_any(PartVisitor(PhantomData))
}

/// A part that may be absent (use with `default`): `null` or not an object is its default, as if
/// empty.
fn object_or_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    data: D,
) -> Result<T, D::Error> {
    Ok(match part(data)? {
        Part::Object(object) => object,
        Part::Null | Part::Other => T::default(),
    })
}

/// A part that may be absent (use with `default`): `null` or not an object is `None`.
fn optional_object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    data: D,
) -> Result<Option<T>, D::Error> {
    Ok(match part(data)? {
        Part::Object(object) => Some(object),
        Part::Null | Part::Other => None,
    })
}

/// A part that must be there (use with `default`; the caller says it is missing when `None`):
/// absent or `null` is `None`, anything but an object an empty one.
fn present_object<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    data: D,
) -> Result<Option<T>, D::Error> {
    Ok(match part(data)? {
        Part::Object(object) => Some(object),
        Part::Null => None,
        Part::Other => Some(T::default()),
    })
}

/// A list of parts that may be absent (use with `default`): anything but an array is `None`, and
/// an entry that is not an object an empty one.
fn list<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    data: D,
) -> Result<Option<Vec<T>>, D::Error> {
    ListVisitor::read(data, false)
}

/// A [`list`] of which `null` is the only other value allowed (an error names the field
/// otherwise: `data.metadata.ownerReferences is not an array`).
fn strict_list<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    data: D,
) -> Result<Option<Vec<T>>, D::Error> {
    ListVisitor::read(data, true)
}

/// Reads a [`list`] or [`strict_list`].
struct ListVisitor<T> {
    /// Whether a value that is not an array (or `null`) is an error.
    strict: bool,
    items: PhantomData<T>,
}

impl<T> ListVisitor<T> {
    /// Reads `data` as a [`list`] or, `strict`, a [`strict_list`].
    fn read<'de, D: Deserializer<'de>>(data: D, strict: bool) -> Result<Option<Vec<T>>, D::Error>
    where
        T: Deserialize<'de> + Default,
    {
        data.deserialize_any(Self {
            strict,
            items: PhantomData,
        })
    }

    fn other<E: Error>(self, unexpected: Unexpected) -> Result<Option<Vec<T>>, E> {
        if self.strict {
            return Err(E::invalid_type(unexpected, &"a sequence"));
        }
        Ok(None)
    }
}

impl<'de, T: Deserialize<'de> + Default> Visitor<'de> for ListVisitor<T> {
    type Value = Option<Vec<T>>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(ObjectOrDefault(PhantomData))? {
            items.push(item);
        }
        Ok(Some(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        if self.strict {
            return Err(A::Error::invalid_type(Unexpected::Map, &self));
        }
        IgnoredAny.visit_map(map).map(|_| None)
    }

    fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    scalars_are_other!();
}

/// An entry of a [`list`], read as [`object_or_default`] reads a part.
struct ObjectOrDefault<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de> + Default> DeserializeSeed<'de> for ObjectOrDefault<T> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, data: D) -> Result<T, D::Error> {
        object_or_default(data)
    }
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
