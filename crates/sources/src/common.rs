//! Helpers the transformers share: reading the CloudEvent payload, reading typed fields of a
//! JSON payload with errors that name the field, percent-encoding for purls, and laying out
//! incident CDEvents.
//!
//! Only logic that is the same for every caller lives here; each transformer keeps its own
//! rules (which fields, which ids). Times that tools write in their own formats are read with
//! [`optional_time`] (the formats of `dora_model::time::parse_timestamp`, and numbers of Unix
//! seconds or milliseconds).

use chrono::{DateTime, Utc};
use dora_model::cdevent::{Content, CustomData, DoraData, IncidentContent, Reference};
use dora_model::cloudevent::{CloudEvent, Data};
use dora_model::ids::derived_id;
use dora_model::time::{from_unix, from_unix_int, parse_timestamp};
use serde_json::{json, Map, Value};

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

/// The CloudEvent data as a JSON object, as the incident webhooks (Alertmanager, PagerDuty)
/// read it: `data_json` also accepts JSON carried as text.
pub(crate) fn data_object(event: &CloudEvent) -> Result<&Map<String, Value>, TransformError> {
    match event.data_json() {
        Some(Value::Object(data)) => Ok(data),
        Some(_) => Err(TransformError::new("data is not a JSON object")),
        None => Err(TransformError::new("data is missing or not JSON")),
    }
}

/// The value at `path` under `root`; `None` when absent or `null`.
pub(crate) fn field<'a>(root: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(root, |value, key| value.get(key))
        .filter(|value| !value.is_null())
}

/// The string at `path`; `None` when absent, `null` or empty; an error when not a string.
pub(crate) fn optional_str<'a>(
    root: &'a Value,
    path: &[&str],
) -> Result<Option<&'a str>, TransformError> {
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
pub(crate) fn required_str<'a>(root: &'a Value, path: &[&str]) -> Result<&'a str, TransformError> {
    optional_str(root, path)?
        .ok_or_else(|| TransformError::new(format!("{} is missing", display_path(path))))
}

/// The boolean at `path`, if present.
pub(crate) fn optional_bool(root: &Value, path: &[&str]) -> Result<Option<bool>, TransformError> {
    match field(root, path) {
        None => Ok(None),
        Some(Value::Bool(flag)) => Ok(Some(*flag)),
        Some(_) => Err(TransformError::new(format!(
            "{} is not a boolean",
            display_path(path)
        ))),
    }
}

/// A non-negative whole number at `path` (GitHub ids and numbers, GitLab ids and iids), as
/// decimal text.
pub(crate) fn required_number(root: &Value, path: &[&str]) -> Result<String, TransformError> {
    match field(root, path) {
        Some(Value::Number(number)) if number.is_u64() => Ok(number.to_string()),
        None => Err(TransformError::new(format!(
            "{} is missing",
            display_path(path)
        ))),
        Some(_) => Err(TransformError::new(format!(
            "{} is not a whole number",
            display_path(path)
        ))),
    }
}

/// Decimal text from [`required_number`] back as a JSON number.
pub(crate) fn number_value(text: &str) -> Value {
    text.parse::<u64>()
        .map_or_else(|_| json!(text), |n| json!(n))
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

/// The time at `path` ([`time_value`]); `None` when absent, `null` or an empty string; an error
/// naming the field when it is not a time.
pub(crate) fn optional_time(
    root: &Value,
    path: &[&str],
) -> Result<Option<DateTime<Utc>>, TransformError> {
    named_time(field(root, path), || display_path(path))
}

/// `value` read as a time ([`time_value`]); `None` when absent, `null` or an empty string; an
/// error naming the field (`name()`) when it is not a time.
pub(crate) fn named_time(
    value: Option<&Value>,
    name: impl FnOnce() -> String,
) -> Result<Option<DateTime<Utc>>, TransformError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.is_empty() => Ok(None),
        Some(value) => time_value(value)
            .map(Some)
            .ok_or_else(|| TransformError::new(format!("{} {value} is not a timestamp", name()))),
    }
}

/// The time at `path` ([`optional_time`]); an error naming the field when it is absent.
pub(crate) fn required_time(root: &Value, path: &[&str]) -> Result<DateTime<Utc>, TransformError> {
    optional_time(root, path)?
        .ok_or_else(|| TransformError::new(format!("{} is missing", display_path(path))))
}

/// The first of `paths` present in the payload (read with [`optional_time`]), else the
/// CloudEvent `time`, else an error.
pub(crate) fn first_time(
    event: &CloudEvent,
    data: &Value,
    paths: &[&[&str]],
) -> Result<DateTime<Utc>, TransformError> {
    for path in paths {
        if let Some(time) = optional_time(data, path)? {
            return Ok(time);
        }
    }
    if let Some(time) = event.time {
        return Ok(time);
    }
    let names: Vec<String> = paths.iter().map(|path| display_path(path)).collect();
    Err(TransformError::new(format!(
        "no timestamp: {} {} missing and the CloudEvent has no time",
        names.join(", "),
        if names.len() == 1 { "is" } else { "are" }
    )))
}

/// A payload path as errors name it: `data.pull_request.number`, or
/// `data.metadata.annotations["deployment.kubernetes.io/revision"]` for keys that are not plain
/// identifiers.
pub(crate) fn display_path(path: &[&str]) -> String {
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

/// Copies the strings at `fields` (`(key, path)`) of the payload into `into` under their keys,
/// leaving out what is absent or empty; an error names a field that is not a string.
pub(crate) fn copy_strings(
    data: &Value,
    into: &mut Map<String, Value>,
    fields: &[(&str, &[&str])],
) -> Result<(), TransformError> {
    for (key, path) in fields {
        if let Some(value) = optional_str(data, path)? {
            into.insert((*key).into(), json!(value));
        }
    }
    Ok(())
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use dora_model::time::format_rfc3339;

    fn read(value: Value) -> Result<Option<String>, String> {
        optional_time(&json!({ "t": value }), &["t"])
            .map(|time| time.map(|t| format_rfc3339(&t)))
            .map_err(|e| e.reason)
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
        assert_eq!(optional_time(&json!({}), &["t"]).unwrap(), None);
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
        assert_eq!(
            required_time(&json!({}), &["a", "b"]).unwrap_err().reason,
            "data.a.b is missing"
        );
    }
}
