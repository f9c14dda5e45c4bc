//! Helpers the transformers share: reading the CloudEvent payload, reading a JSON payload into
//! serde structs with errors that name the field, percent-encoding for purls, and laying out
//! incident CDEvents.
//!
//! Only logic that is the same for every caller lives here; each transformer keeps its own
//! rules (which fields, which ids). Times that tools write in their own formats are read with
//! [`de::optional_time`] (the formats of `dora_model::time::parse_timestamp`, and numbers of Unix
//! seconds or milliseconds).

use chrono::{DateTime, Utc};
use dora_model::cdevent::{Content, CustomData, DoraData, IncidentContent, Reference};
use dora_model::cloudevent::{CloudEvent, Data};
use dora_model::ids::derived_id;
use dora_model::time::{from_unix, from_unix_int, parse_timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use serde_path_to_error::Segment;

use super::{CdEventDraft, Emitted, TransformError};

/// The CloudEvent data, which must be a JSON object (webhook payloads, Kubernetes objects,
/// Tekton runs).
pub(crate) fn payload(event: &CloudEvent) -> Result<&Value, TransformError> {
    match &event.data {
        Some(Data::Json(value @ Value::Object(_))) => Ok(value),
        Some(Data::Json(_)) => Err(TransformError::new("data is not a JSON object")),
        Some(_) => Err(TransformError::new("data is not JSON")),
        None => Err(TransformError::new("data is missing")),
    }
}

/// A time as a JSON value: a string in any format of [`parse_timestamp`] (RFC 3339,
/// `2016-08-12 15:23:28 UTC`, `+0200` offsets, decimal Unix seconds or milliseconds) or a number
/// of Unix seconds or milliseconds (told apart by magnitude). `None` for anything else.
pub fn time_value(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::String(text) => parse_timestamp(text),
        Value::Number(number) => match number.as_i64() {
            Some(whole) => from_unix_int(whole),
            None => number.as_f64().and_then(from_unix),
        },
        _ => None,
    }
}

/// `time` (the first of an event's times that its payload has), else the CloudEvent `time`,
/// else an error naming the payload's fields (`names`, `data.<path>`).
pub(crate) fn time_or_event_time(
    time: Option<DateTime<Utc>>,
    event: &CloudEvent,
    names: &[&str],
) -> Result<DateTime<Utc>, TransformError> {
    time.or(event.time).ok_or_else(|| no_timestamp(names))
}

/// The error of an event without a time: none of the payload's fields `names` (`data.<path>`)
/// is set and the CloudEvent has no `time`.
pub(crate) fn no_timestamp<S: AsRef<str>>(names: &[S]) -> TransformError {
    let names: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
    TransformError::new(format!(
        "no timestamp: {} {} missing and the CloudEvent has no time",
        names.join(", "),
        if names.len() == 1 { "is" } else { "are" }
    ))
}

/// The error of a field (`data.<path>`) that the event needs but its payload lacks, where only
/// what the event says makes it required (a merged pull request's `merged_at`).
pub(crate) fn missing(name: &str) -> TransformError {
    TransformError::new(format!("{name} is missing"))
}

/// A payload path as errors name it: `data.pull_request.number`, or
/// `data.metadata.annotations["deployment.kubernetes.io/revision"]` for keys that are not plain
/// identifiers.
pub(crate) fn display_path(path: &[&str]) -> String {
    let mut text = String::from("data");
    for key in path {
        push_key(&mut text, key);
    }
    text
}

/// Appends `.key` to a field name, or `["key"]` when `key` is not a plain identifier.
fn push_key(name: &mut String, key: &str) {
    if key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        name.push('.');
        name.push_str(key);
    } else {
        name.push_str(&format!("[{key:?}]"));
    }
}

/// Reads the payload `data` into `T`, a struct of the fields a transformer uses (see [`de`]
/// for the fields that need more than serde's own rules); a wrong or missing field is an error
/// naming it ([`FieldFault::describe`]).
pub(crate) fn read<'a, T: Deserialize<'a>>(data: &'a Value) -> Result<T, TransformError> {
    read_fields(data).map_err(|fault| TransformError::new(fault.describe()))
}

/// [`read`], with the fault as it is rather than worded, for a source whose errors name fields
/// its own way (Argo CD's JSON pointers).
pub(crate) fn read_fields<'a, T: Deserialize<'a>>(data: &'a Value) -> Result<T, FieldFault> {
    serde_path_to_error::deserialize(data).map_err(|error| FieldFault::new(&error))
}

/// A step of the path to a field of the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Key {
    Name(String),
    Index(usize),
    /// A step `serde_path_to_error` could not name.
    Unknown,
}

/// What is wrong with a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Absent, or (for [`de`] fields) empty.
    Missing,
    /// `null` where a value is expected (`an object`, `a string`, ...).
    Null(String),
    /// A value of another type than expected (`an object`, `a string`, `a whole number`, ...).
    NotA(String),
    /// A message of one of the [`de`] readers (`"soon" is not a timestamp`).
    Other(String),
}

/// A wrong or missing field of a payload read by [`read_fields`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldFault {
    /// The path to the field from the payload's root.
    pub(crate) path: Vec<Key>,
    pub(crate) fault: Fault,
}

impl FieldFault {
    fn new(error: &serde_path_to_error::Error<serde_json::Error>) -> Self {
        let mut path: Vec<Key> = error
            .path()
            .iter()
            .map(|segment| match segment {
                Segment::Seq { index } => Key::Index(*index),
                Segment::Map { key } | Segment::Enum { variant: key } => Key::Name(key.clone()),
                Segment::Unknown => Key::Unknown,
            })
            .collect();
        // `serde_json::Error` says what went wrong only in its message; these are the messages
        // of `serde::de::Error`'s provided methods (`missing_field`, `invalid_type`,
        // `invalid_value`), and `is missing` of the [`de`] readers.
        let message = error.inner().to_string();
        let wrong = ["invalid type: ", "invalid value: "]
            .iter()
            .any(|prefix| message.starts_with(prefix));
        let expected = message
            .split_once(", expected ")
            .filter(|_| wrong)
            .map(|(_, expected)| expected_name(expected));
        let fault = if let Some(field) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.strip_suffix('`'))
        {
            path.push(Key::Name(field.to_owned()));
            Fault::Missing
        } else if message == "is missing" {
            Fault::Missing
        } else if let Some(expected) = expected {
            if message.starts_with("invalid type: null,") {
                Fault::Null(expected)
            } else {
                Fault::NotA(expected)
            }
        } else {
            Fault::Other(message)
        };
        Self { path, fault }
    }

    /// The field as a JSON pointer from the payload's root: `/app/name`, `/images/1`.
    pub(crate) fn pointer(&self) -> String {
        self.path
            .iter()
            .map(|key| match key {
                Key::Name(name) => format!("/{}", name.replace('~', "~0").replace('/', "~1")),
                Key::Index(index) => format!("/{index}"),
                Key::Unknown => "/?".to_owned(),
            })
            .collect()
    }

    /// What is wrong with the field, without its name: `is missing`, `is not a string`.
    pub(crate) fn what(&self) -> String {
        match &self.fault {
            Fault::Missing | Fault::Null(_) => "is missing".to_owned(),
            Fault::NotA(expected) => format!("is not {expected}"),
            Fault::Other(message) => message.clone(),
        }
    }

    /// The field as errors name it: `data.commits[2].id`, `data.metadata.labels["app/name"]`.
    fn name(&self) -> String {
        let mut name = String::from("data");
        for key in &self.path {
            match key {
                Key::Name(key) => push_key(&mut name, key),
                Key::Index(index) => name.push_str(&format!("[{index}]")),
                Key::Unknown => name.push_str(".?"),
            }
        }
        name
    }

    /// `data.pull_request.merged_at is missing` (absent, `null` or, for [`de`] fields, empty),
    /// `data.commits[2].id is not a string`, `data.pull_request.number is not a whole number`,
    /// `data.commits is not an array`, `data.issue is not an object`; a message of one of the
    /// [`de`] readers follows the name (`data.t "soon" is not a timestamp`).
    pub(crate) fn describe(&self) -> String {
        format!("{} {}", self.name(), self.what())
    }
}

/// What serde's message says was expected, as errors name it (`a string`, `an array`, ...).
fn expected_name(expected: &str) -> String {
    match expected {
        "a string" | "a borrowed string" => "a string",
        "u64" => "a whole number",
        "a sequence" => "an array",
        "a map" => "an object",
        object if object.starts_with("struct ") => "an object",
        other => other,
    }
    .to_owned()
}

/// Readers of payload fields for `#[serde(deserialize_with = "...")]`, with the rules the
/// transformers have always read them by: an empty string is as good as absent, and times come
/// in every format of [`time_value`]. Their errors are worded for [`FieldFault`].
pub(crate) mod de {
    use chrono::{DateTime, Utc};
    use dora_model::time::parse_rfc3339;
    use serde::de::{DeserializeOwned, Error};
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    use super::time_value;

    /// A string that must be there: absent, `null` or empty is missing.
    pub(crate) fn text<'de, D: Deserializer<'de>>(data: D) -> Result<&'de str, D::Error> {
        match <&str>::deserialize(data)? {
            "" => Err(D::Error::custom("is missing")),
            text => Ok(text),
        }
    }

    /// A string that may be absent (use with `default`): absent, `null` or empty is `None`.
    pub(crate) fn optional_text<'de, D: Deserializer<'de>>(
        data: D,
    ) -> Result<Option<&'de str>, D::Error> {
        Ok(Option::<&str>::deserialize(data)?.filter(|text| !text.is_empty()))
    }

    /// A time that must be there ([`optional_time`]).
    pub(crate) fn time<'de, D: Deserializer<'de>>(data: D) -> Result<DateTime<Utc>, D::Error> {
        optional_time(data)?.ok_or_else(|| D::Error::custom("is missing"))
    }

    /// A time that may be absent (use with `default`): a string or number read by
    /// [`time_value`]; absent, `null` or an empty string is `None`.
    pub(crate) fn optional_time<'de, D: Deserializer<'de>>(
        data: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        match Value::deserialize(data)? {
            Value::Null => Ok(None),
            Value::String(text) if text.is_empty() => Ok(None),
            value => time_value(&value)
                .map(Some)
                .ok_or_else(|| D::Error::custom(format!("{value} is not a timestamp"))),
        }
    }

    /// An RFC 3339 time that may be absent (use with `default`): absent, `null` or an empty
    /// string is `None` (tools that write only RFC 3339: Tekton).
    pub(crate) fn optional_rfc3339<'de, D: Deserializer<'de>>(
        data: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        rfc3339(optional_text(data)?)
    }

    /// `text` read as an RFC 3339 time: `"soon" is not an RFC 3339 timestamp` if it is not one.
    pub(crate) fn rfc3339<E: Error>(text: Option<&str>) -> Result<Option<DateTime<Utc>>, E> {
        text.map(|text| {
            parse_rfc3339(text)
                .ok_or_else(|| E::custom(format!("{text:?} is not an RFC 3339 timestamp")))
        })
        .transpose()
    }

    /// A section that may be absent or `null` (use with `default`): then it is `T::default()`.
    pub(crate) fn or_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
        data: D,
    ) -> Result<T, D::Error> {
        Ok(Option::<T>::deserialize(data)?.unwrap_or_default())
    }

    /// A field read only when it is a `T` (use with `default`): anything else is as if absent,
    /// for details the transformers pass on when they are there and well-formed.
    pub(crate) fn lenient<'de, D: Deserializer<'de>, T: DeserializeOwned>(
        data: D,
    ) -> Result<Option<T>, D::Error> {
        Ok(T::deserialize(Value::deserialize(data)?).ok())
    }
}

/// Inserts `value` under `key` when there is one (a detail of the payload into `customData`).
pub(crate) fn insert_some(into: &mut Map<String, Value>, key: &str, value: Option<impl Serialize>) {
    if let Some(value) = value {
        into.insert(key.into(), json!(value));
    }
}

/// The value of a `<key>:<value>` or `<key>=<value>` tag or label (Opsgenie tags, Jira labels),
/// the key compared without case; empty values are as if absent.
pub(crate) fn tag_value<'a>(tags: &'a [String], key: &str) -> Option<&'a str> {
    tags.iter().find_map(|tag| {
        let (name, value) = tag.split_once([':', '='])?;
        let value = value.trim();
        (name.trim().eq_ignore_ascii_case(key) && !value.is_empty()).then_some(value)
    })
}

/// `http(s)://` followed by something, without whitespace.
pub(crate) fn is_http_url(text: &str) -> bool {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    rest.is_some_and(|rest| !rest.is_empty() && !text.chars().any(char::is_whitespace))
}

/// Percent-encodes everything but ASCII letters, digits, `-._~` and the bytes in `keep`.
pub(crate) fn percent_encode(text: &str, keep: &[u8]) -> String {
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

/// The `subject.content` of an incident CDEvent: `description` (when known), `environment`
/// and `service` (when known), each as a plain id.
pub(crate) fn incident_content(
    description: Option<&str>,
    environment: &str,
    service: Option<&str>,
) -> Content {
    Content::Incident(IncidentContent {
        description: description.map(str::to_owned),
        environment: Some(Reference::id(environment)),
        service: service.map(Reference::id),
        ..IncidentContent::default()
    })
}

/// An incident CDEvent from an incident webhook (Alertmanager, PagerDuty): the id is
/// `derived_id([transformer, source, CloudEvent id])`, context and subject source are the
/// CloudEvent source, and `details` become `customData.dora` (none of them a key the calculators
/// read).
pub(crate) fn incident_cdevent(
    transformer: &str,
    event: &CloudEvent,
    event_type: &'static str,
    timestamp: DateTime<Utc>,
    subject_id: String,
    content: Content,
    details: Map<String, Value>,
) -> Emitted {
    CdEventDraft {
        event_type,
        id: derived_id(&[transformer, &event.source, &event.id]),
        source: event.source.clone(),
        timestamp,
        subject_id,
        subject_source: Some(event.source.clone()),
        content,
        custom_data: Some(CustomData::dora(DoraData {
            details,
            ..DoraData::default()
        })),
    }
    .into_cdevent()
    .into()
}

/// A deterministic CDEvent id for a fact about a repository of a code host (`tool` is `github`
/// or `gitlab`, `url` the repository's URL).
pub(crate) fn repository_fact_id(tool: &str, url: &str, parts: &[&str]) -> String {
    let mut all = vec![tool, url];
    all.extend_from_slice(parts);
    derived_id(&all)
}

/// The time at `key` of `data`, read as a [`de::optional_time`] field is.
#[cfg(test)]
pub(crate) fn time_at(data: &Value, key: &str) -> Result<Option<DateTime<Utc>>, TransformError> {
    #[derive(Deserialize)]
    struct Time(#[serde(deserialize_with = "de::optional_time")] Option<DateTime<Utc>>);

    let mut one = Map::new();
    if let Some(value) = data.get(key) {
        one.insert(key.to_owned(), value.clone());
    }
    let times: Map<String, Value> = one;
    let read: std::collections::BTreeMap<String, Time> = read(&Value::Object(times))?;
    Ok(read.into_values().next().and_then(|time| time.0))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use dora_model::time::format_rfc3339;

    fn read(value: Value) -> Result<Option<String>, String> {
        time_at(&json!({ "t": value }), "t")
            .map(|time| time.map(|t| format_rfc3339(&t)))
            .map_err(|e| e.reason)
    }

    #[derive(Deserialize)]
    struct Sample<'a> {
        #[serde(deserialize_with = "de::text")]
        name: &'a str,
        number: u64,
        #[serde(default, deserialize_with = "de::optional_text")]
        note: Option<&'a str>,
        flag: Option<bool>,
        #[serde(borrow)]
        items: Option<Vec<Item<'a>>>,
        #[serde(default, deserialize_with = "de::lenient")]
        count: Option<u64>,
    }

    #[derive(Deserialize)]
    struct Item<'a> {
        #[serde(deserialize_with = "de::text")]
        id: &'a str,
    }

    fn sample_error(changes: Value) -> String {
        let mut data = json!({"name": "n", "number": 1});
        for (key, value) in changes.as_object().unwrap() {
            if value == "<gone>" {
                data.as_object_mut().unwrap().remove(key);
            } else {
                data[key] = value.clone();
            }
        }
        super::read::<Sample>(&data).err().unwrap().reason
    }

    #[test]
    fn payload_fields_are_read_with_errors_that_name_the_field() {
        let data = json!({"name": "n", "number": 7, "note": "", "flag": true, "count": "x",
                          "items": [{"id": "a", "extra": 1}], "unknown": {"a": 1}});
        let sample: Sample = super::read(&data).unwrap();
        assert_eq!((sample.name, sample.number, sample.note), ("n", 7, None));
        assert_eq!((sample.flag, sample.count), (Some(true), None));
        assert_eq!(sample.items.unwrap()[0].id, "a");

        for (changes, reason) in [
            (json!({"name": "<gone>"}), "data.name is missing"),
            (json!({"name": null}), "data.name is missing"),
            (json!({"name": ""}), "data.name is missing"),
            (json!({"name": 3}), "data.name is not a string"),
            (json!({"number": "7"}), "data.number is not a whole number"),
            (json!({"number": -1}), "data.number is not a whole number"),
            (json!({"flag": "yes"}), "data.flag is not a boolean"),
            (json!({"items": {}}), "data.items is not an array"),
            (json!({"items": ["a"]}), "data.items[0] is not an object"),
            (
                json!({"items": [{"id": "a"}, {"id": 3}]}),
                "data.items[1].id is not a string",
            ),
            (json!({"items": [{}]}), "data.items[0].id is missing"),
        ] {
            assert_eq!(sample_error(changes.clone()), reason, "{changes}");
        }
    }

    #[test]
    fn times_are_read_from_strings_and_numbers_of_every_tool_format() {
        let same = Ok(Some("2016-08-12T15:23:28Z".to_owned()));
        assert_eq!(read(json!("2016-08-12T17:23:28+02:00")), same);
        assert_eq!(read(json!("2016-08-12 15:23:28 UTC")), same);
        assert_eq!(read(json!("2016-08-12 17:23:28 +0200")), same);
        assert_eq!(read(json!(1_471_015_408)), same);
        assert_eq!(read(json!(1_471_015_408_000_u64)), same);
        assert_eq!(read(json!("1471015408")), same);
        assert_eq!(
            read(json!(1_471_015_408.5)),
            Ok(Some("2016-08-12T15:23:28.500Z".to_owned()))
        );
    }

    #[test]
    fn absent_null_and_empty_are_none_and_garbage_names_the_field() {
        assert_eq!(read(Value::Null), Ok(None));
        assert_eq!(read(json!("")), Ok(None));
        assert_eq!(time_at(&json!({}), "t").unwrap(), None);
        assert_eq!(
            read(json!("soon")),
            Err("data.t \"soon\" is not a timestamp".to_owned())
        );
        assert_eq!(
            read(json!(true)),
            Err("data.t true is not a timestamp".to_owned())
        );
        assert_eq!(
            read(json!(1e300)),
            Err("data.t 1e+300 is not a timestamp".to_owned())
        );
        #[derive(Debug, Deserialize)]
        struct A {
            #[allow(dead_code)]
            a: B,
        }
        #[derive(Debug, Deserialize)]
        struct B {
            #[allow(dead_code)]
            #[serde(deserialize_with = "de::time")]
            b: DateTime<Utc>,
        }
        for a in [json!({}), json!({"b": null}), json!({"b": ""})] {
            assert_eq!(
                super::read::<A>(&json!({ "a": a })).unwrap_err().reason,
                "data.a.b is missing"
            );
        }
    }
}
