//! CloudEvents 1.0: the typed event ingest produces and the router consumes.
//!
//! Parsing checks what the spec requires (`specversion` "1.0", non-empty `id`, `source`, `type`,
//! RFC 3339 `time`, lowercase alphanumeric extension names) and names the attribute that broke it.
//! The structured JSON form ([`CloudEvent::to_json`]) is what the raw store keeps for binary-mode
//! events; structured-mode events are kept exactly as received.

use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::limits;
use crate::time::{format_rfc3339, parse_rfc3339};

/// The only CloudEvents version accepted.
pub const SPEC_VERSION: &str = "1.0";
/// The CloudEvents release before 1.0, still sent by some SDKs (the Jenkins CDEvents plugin's):
/// read, and kept as 1.0 ([`upgrade_from_0_3`]).
const SPEC_VERSION_0_3: &str = "0.3";

/// Renames a CloudEvents 0.3 event's attributes to their 1.0 names: `schemaurl` is
/// `dataschema`, and data a `datacontentencoding: base64` marks is `data_base64`. (0.3 has no
/// other encoding.)
fn upgrade_from_0_3(map: &mut Map<String, Value>) -> Result<(), AttributeError> {
    if let Some(schema) = map.remove("schemaurl") {
        map.insert("dataschema".into(), schema);
    }
    match map.remove("datacontentencoding") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(encoding)) if encoding.eq_ignore_ascii_case("base64") => {
            if let Some(data) = map.remove("data") {
                map.insert("data_base64".into(), data);
            }
            Ok(())
        }
        Some(other) => Err(AttributeError::new(
            "datacontentencoding",
            format!("{other} is not a CloudEvents 0.3 encoding (only \"base64\" is)"),
        )),
    }
}

/// The JSON pointer (from `value`) of the first string or key that holds U+0000, or number that
/// `numbers` refuses ([`limits::NumberCheck`]), with the reason; `None` when every one is
/// storable.
fn unstorable_pointer(
    value: &Value,
    numbers: &mut limits::NumberCheck,
) -> Option<(String, String)> {
    let escape = |key: &str| key.replace('~', "~0").replace('/', "~1");
    match value {
        Value::String(s) => s
            .contains('\0')
            .then(|| (String::new(), limits::Unstorable::Nul.to_string())),
        Value::Number(number) => numbers.check(number).err().map(|why| (String::new(), why)),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            let (below, why) = unstorable_pointer(item, numbers)?;
            Some((format!("/{i}{below}"), why))
        }),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.contains('\0') {
                let key = escape(&k.replace('\0', "\\u0000"));
                return Some((format!("/{key}"), limits::Unstorable::Nul.to_string()));
            }
            // The value first: the key is escaped (allocated) only on the path to a refusal.
            let (below, why) = unstorable_pointer(v, numbers)?;
            Some((format!("/{}{below}", escape(k)), why))
        }),
        _ => None,
    }
}

/// The context attributes the spec defines; anything else is an extension.
const KNOWN_ATTRIBUTES: [&str; 8] = [
    "specversion",
    "id",
    "source",
    "type",
    "time",
    "subject",
    "datacontenttype",
    "dataschema",
];

/// The payload of an event, typed by its `datacontenttype`.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// JSON data (`application/json`, `*+json`, or no content type).
    Json(Value),
    /// Text that is not JSON (e.g. `text/plain`, `application/xml`).
    Text(String),
    /// Bytes (`data_base64` in structured mode, or a non-UTF-8 binary-mode body).
    Binary(Vec<u8>),
}

/// One CloudEvent, parsed and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudEvent {
    pub id: String,
    pub source: String,
    pub event_type: String,
    pub time: Option<DateTime<Utc>>,
    /// `time` exactly as the sender wrote it (offset and precision kept), for the raw store.
    pub time_text: Option<String>,
    pub subject: Option<String>,
    pub datacontenttype: Option<String>,
    pub dataschema: Option<String>,
    /// Extension attributes, by name (strings, numbers or booleans).
    pub extensions: Map<String, Value>,
    pub data: Option<Data>,
}

/// A CloudEvent that breaks the spec, with the attribute at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{attribute}: {message}")]
pub struct AttributeError {
    /// The attribute name (`id`, `time`, `data`, ...), or `body` when the JSON itself is broken.
    pub attribute: String,
    /// What is wrong with it, in words.
    pub message: String,
}

impl AttributeError {
    pub fn new(attribute: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            attribute: attribute.into(),
            message: message.into(),
        }
    }
}

/// The media type of a `Content-Type` value, lowercased, without parameters.
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// True for `application/json`, `text/json` and any `*/*+json` media type (parameters ignored).
pub fn is_json_media_type(content_type: &str) -> bool {
    let media = media_type(content_type);
    media == "application/json" || media == "text/json" || media.ends_with("+json")
}

fn is_text_media_type(content_type: &str) -> bool {
    let media = media_type(content_type);
    media.starts_with("text/") || media.ends_with("/xml") || media.ends_with("+xml")
}

/// Extension names must be lowercase ASCII letters or digits (CloudEvents 1.0, "Attribute Naming").
/// Standard padded base64, reading encodings whose unused last bits are not zero (RFC 4648
/// lets a decoder accept them; several producers write them).
const LENIENT_BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

fn check_attribute_name(name: &str) -> Result<(), AttributeError> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return Err(AttributeError::new(
            name,
            "attribute names must be lowercase ASCII letters or digits",
        ));
    }
    Ok(())
}

fn required_string(map: &mut Map<String, Value>, name: &str) -> Result<String, AttributeError> {
    match map.remove(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) => Err(AttributeError::new(name, "must not be empty")),
        Some(other) => Err(AttributeError::new(
            name,
            format!("must be a string, found {}", json_kind(&other)),
        )),
        None => Err(AttributeError::new(name, "is required")),
    }
}

fn optional_string(
    map: &mut Map<String, Value>,
    name: &str,
) -> Result<Option<String>, AttributeError> {
    match map.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(AttributeError::new(
            name,
            format!("must be a string, found {}", json_kind(&other)),
        )),
    }
}

/// "a string", "an object", ...: the kind of a JSON value, for error messages.
pub fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, AttributeError> {
    parse_rfc3339(text).ok_or_else(|| {
        AttributeError::new(
            "time",
            format!("{text:?} is not an RFC 3339 timestamp (e.g. 2023-08-05T10:00:00Z)"),
        )
    })
}

/// Takes `data` or `data_base64` out of the event: base64 decoded to bytes, a string under a
/// non-JSON `datacontenttype` kept as text, anything else as JSON. Both at once is an error.
fn take_data(
    map: &mut Map<String, Value>,
    datacontenttype: Option<&str>,
) -> Result<Option<Data>, AttributeError> {
    let present = |value: Option<Value>| value.filter(|v| !v.is_null());
    Ok(
        match (
            present(map.remove("data")),
            present(map.remove("data_base64")),
        ) {
            (Some(_), Some(_)) => {
                return Err(AttributeError::new(
                    "data_base64",
                    "an event carries either data or data_base64, not both",
                ))
            }
            (None, Some(Value::String(encoded))) => Some(Data::Binary(
                LENIENT_BASE64.decode(encoded.as_bytes()).map_err(|e| {
                    AttributeError::new("data_base64", format!("not valid base64: {e}"))
                })?,
            )),
            (None, Some(other)) => {
                return Err(AttributeError::new(
                    "data_base64",
                    format!("must be a base64 string, found {}", json_kind(&other)),
                ))
            }
            (None, None) => None,
            (Some(Value::String(text)), None)
                if datacontenttype.is_some_and(|ct| !is_json_media_type(ct)) =>
            {
                Some(Data::Text(text))
            }
            (Some(value), None) => Some(Data::Json(value)),
        },
    )
}

/// The attributes left after the context ones, as extensions: each name checked, nulls dropped.
fn take_extensions(map: Map<String, Value>) -> Result<Map<String, Value>, AttributeError> {
    let mut extensions = Map::new();
    for (name, value) in map {
        check_attribute_name(&name)?;
        if let Some(value) = extension_value(&name, value)? {
            extensions.insert(name, value);
        }
    }
    Ok(extensions)
}

/// An extension's value as CloudEvents types it (String, Boolean or 32-bit Integer); `None` for
/// null, which means absent.
fn extension_value(name: &str, value: Value) -> Result<Option<Value>, AttributeError> {
    match value {
        Value::String(_) | Value::Bool(_) => Ok(Some(value)),
        Value::Number(ref n) if n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()) => {
            Ok(Some(value))
        }
        // A whole number written with a fraction (`7.0`) is still an Integer, as JSON
        // Schema reads it; it is kept as the integer.
        Value::Number(ref n)
            if n.as_f64().is_some_and(|f| {
                f.fract() == 0.0 && f >= f64::from(i32::MIN) && f <= f64::from(i32::MAX)
            }) =>
        {
            Ok(Some(Value::from(n.as_f64().map_or(0, |f| f as i32))))
        }
        Value::Number(n) => Err(AttributeError::new(
            name,
            format!("{n} is not a CloudEvents Integer (a 32-bit signed whole number)"),
        )),
        Value::Null => Ok(None),
        other => Err(AttributeError::new(
            name,
            format!(
                "extension values must be strings, numbers or booleans, found {}",
                json_kind(&other)
            ),
        )),
    }
}

impl CloudEvent {
    /// An event a source makes of a tool's JSON payload: `data` as `application/json`, no time
    /// and no subject until [`Self::at`] and [`Self::about`] give them.
    pub fn json(id: String, source: String, event_type: String, data: Value) -> Self {
        Self {
            id,
            source,
            event_type,
            time: None,
            time_text: None,
            subject: None,
            datacontenttype: Some("application/json".to_owned()),
            dataschema: None,
            extensions: Map::new(),
            data: Some(Data::Json(data)),
        }
    }

    /// The same event at `time`, written as `time_text` in the raw store.
    pub fn at(self, time: DateTime<Utc>, time_text: String) -> Self {
        Self {
            time: Some(time),
            time_text: Some(time_text),
            ..self
        }
    }

    /// The same event about `subject`.
    pub fn about(self, subject: Option<String>) -> Self {
        Self { subject, ..self }
    }

    /// Parses one event in structured JSON form (`application/cloudevents+json`).
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Self, AttributeError> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| AttributeError::new("body", format!("not valid JSON: {e}")))?;
        Self::from_json_value(value)
    }

    /// Parses one event from its structured JSON form, already read as a value.
    pub fn from_json_value(value: Value) -> Result<Self, AttributeError> {
        let event = Self::from_json_value_unchecked(value)?;
        event.check_storable()?;
        Ok(event)
    }

    /// Refuses what the store cannot keep: U+0000 anywhere in the event (neither PostgreSQL text
    /// nor JSONB can store it), an `id`, `source`, `type` or `subject` over its limit
    /// ([`crate::limits`]: they are indexed), and JSON numbers JSONB would give back unreadable
    /// or many times longer ([`limits::NumberCheck`]). The same event must be valid on every
    /// store.
    pub fn check_storable(&self) -> Result<(), AttributeError> {
        let nul =
            |attribute: &str| AttributeError::new(attribute, limits::Unstorable::Nul.to_string());
        for (name, value, limit) in [
            ("id", Some(&self.id), limits::MAX_ID_BYTES),
            ("source", Some(&self.source), limits::MAX_SOURCE_BYTES),
            ("type", Some(&self.event_type), limits::MAX_TYPE_BYTES),
            ("subject", self.subject.as_ref(), limits::MAX_SUBJECT_BYTES),
        ] {
            if let Some(value) = value {
                limits::check_text(value, limit)
                    .map_err(|e| AttributeError::new(name, e.to_string()))?;
            }
        }
        for (name, value) in [
            ("datacontenttype", &self.datacontenttype),
            ("dataschema", &self.dataschema),
        ] {
            if value.as_deref().is_some_and(|v| v.contains('\0')) {
                return Err(nul(name));
            }
        }
        let mut numbers = limits::NumberCheck::default();
        for (name, value) in &self.extensions {
            if let Some((_, why)) = unstorable_pointer(value, &mut numbers) {
                return Err(AttributeError::new(name, why));
            }
        }
        // Inside JSON data, the field is named by its JSON pointer from the event
        // (`/data/commits/0/message`), as `POST /cdevents` names CDEvent fields.
        match &self.data {
            Some(Data::Json(value)) => match unstorable_pointer(value, &mut numbers) {
                Some((pointer, why)) => Err(AttributeError::new(format!("/data{pointer}"), why)),
                None => Ok(()),
            },
            Some(Data::Text(text)) if text.contains('\0') => Err(nul("data")),
            _ => Ok(()),
        }
    }

    fn from_json_value_unchecked(value: Value) -> Result<Self, AttributeError> {
        let Value::Object(mut map) = value else {
            return Err(AttributeError::new(
                "body",
                format!(
                    "a CloudEvent must be a JSON object, found {}",
                    json_kind(&value)
                ),
            ));
        };
        let specversion = required_string(&mut map, "specversion")?;
        match specversion.as_str() {
            SPEC_VERSION => {}
            SPEC_VERSION_0_3 => upgrade_from_0_3(&mut map)?,
            _ => {
                return Err(AttributeError::new(
                    "specversion",
                    format!("{specversion:?} is not supported; only \"1.0\" and \"0.3\" are"),
                ))
            }
        }
        let id = required_string(&mut map, "id")?;
        let source = required_string(&mut map, "source")?;
        let event_type = required_string(&mut map, "type")?;
        let time_text = optional_string(&mut map, "time")?;
        let time = time_text.as_deref().map(parse_time).transpose()?;
        let subject = optional_string(&mut map, "subject")?;
        let datacontenttype = optional_string(&mut map, "datacontenttype")?;
        let dataschema = optional_string(&mut map, "dataschema")?;
        let data = take_data(&mut map, datacontenttype.as_deref())?;
        let extensions = take_extensions(map)?;
        Ok(Self {
            id,
            source,
            event_type,
            time,
            time_text,
            subject,
            datacontenttype,
            dataschema,
            extensions,
            data,
        })
    }

    /// Builds an event from binary-mode parts: the `ce-` attributes (names without the prefix,
    /// values already percent-decoded), the `Content-Type` and the body.
    pub fn from_binary<'a>(
        attributes: impl IntoIterator<Item = (&'a str, String)>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Self, AttributeError> {
        let mut map = Map::new();
        for (name, value) in attributes {
            if name == "datacontenttype" || name == "data" || name == "data_base64" {
                return Err(AttributeError::new(
                    name,
                    "not allowed as a ce- header in binary mode (use Content-Type and the body)",
                ));
            }
            check_attribute_name(name)?;
            map.insert(name.to_owned(), Value::String(value));
        }
        let data = if body.is_empty() {
            None
        } else {
            Some(match content_type {
                Some(ct) if is_json_media_type(ct) => {
                    Data::Json(serde_json::from_slice(body).map_err(|e| {
                        AttributeError::new(
                            "data",
                            format!("Content-Type is {ct} but the body is not valid JSON: {e}"),
                        )
                    })?)
                }
                Some(ct) if is_text_media_type(ct) => match std::str::from_utf8(body) {
                    Ok(text) => Data::Text(text.to_owned()),
                    Err(_) => Data::Binary(body.to_vec()),
                },
                _ => Data::Binary(body.to_vec()),
            })
        };
        let mut event = Self::from_json_value_unchecked(Value::Object(map))?;
        event.datacontenttype = content_type.map(str::to_owned);
        event.data = data;
        event.check_storable()?;
        Ok(event)
    }

    /// The structured JSON form of the event (CloudEvents JSON format).
    pub fn to_json(&self) -> Value {
        let mut map = Map::with_capacity(KNOWN_ATTRIBUTES.len() + self.extensions.len() + 1);
        map.insert("specversion".into(), Value::String(SPEC_VERSION.into()));
        map.insert("id".into(), Value::String(self.id.clone()));
        map.insert("source".into(), Value::String(self.source.clone()));
        map.insert("type".into(), Value::String(self.event_type.clone()));
        let optional = [
            (
                "time",
                self.time_text
                    .clone()
                    .or_else(|| self.time.as_ref().map(format_rfc3339)),
            ),
            ("subject", self.subject.clone()),
            ("datacontenttype", self.datacontenttype.clone()),
            ("dataschema", self.dataschema.clone()),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                map.insert(name.into(), Value::String(value));
            }
        }
        for (name, value) in &self.extensions {
            map.insert(name.clone(), value.clone());
        }
        match &self.data {
            Some(Data::Json(value)) => {
                map.insert("data".into(), value.clone());
            }
            Some(Data::Text(text)) => {
                map.insert("data".into(), Value::String(text.clone()));
            }
            Some(Data::Binary(bytes)) => {
                map.insert(
                    "data_base64".into(),
                    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
                );
            }
            None => {}
        }
        Value::Object(map)
    }

    /// The text of [`CloudEvent::to_json`] (`to_json().to_string()`), written from the event's
    /// fields without first copying them into a JSON tree: what ingest stores for events it
    /// builds (bare CDEvents, webhooks, binary mode), once per event.
    pub fn to_json_string(&self) -> String {
        /// A value of the structured form, borrowed from the event where it can be.
        enum Field<'a> {
            Text(&'a str),
            Owned(String),
            Json(&'a Value),
        }
        impl serde::Serialize for Field<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    Field::Text(text) => serializer.serialize_str(text),
                    Field::Owned(text) => serializer.serialize_str(text),
                    Field::Json(value) => value.serialize(serializer),
                }
            }
        }
        // The same keys as `to_json`, inserted in the same order (a later one replaces an
        // earlier one of the same name), and written sorted as `serde_json::Map` writes them.
        let mut map: std::collections::BTreeMap<&str, Field<'_>> =
            std::collections::BTreeMap::new();
        map.insert("specversion", Field::Text(SPEC_VERSION));
        map.insert("id", Field::Text(&self.id));
        map.insert("source", Field::Text(&self.source));
        map.insert("type", Field::Text(&self.event_type));
        match (&self.time_text, &self.time) {
            (Some(text), _) => map.insert("time", Field::Text(text)),
            (None, Some(time)) => map.insert("time", Field::Owned(format_rfc3339(time))),
            (None, None) => None,
        };
        for (name, value) in [
            ("subject", &self.subject),
            ("datacontenttype", &self.datacontenttype),
            ("dataschema", &self.dataschema),
        ] {
            if let Some(value) = value {
                map.insert(name, Field::Text(value));
            }
        }
        for (name, value) in &self.extensions {
            map.insert(name, Field::Json(value));
        }
        match &self.data {
            Some(Data::Json(value)) => map.insert("data", Field::Json(value)),
            Some(Data::Text(text)) => map.insert("data", Field::Text(text)),
            Some(Data::Binary(bytes)) => map.insert(
                "data_base64",
                Field::Owned(base64::engine::general_purpose::STANDARD.encode(bytes)),
            ),
            None => None,
        };
        // Serializing strings and JSON values into memory cannot fail.
        serde_json::to_string(&map).unwrap_or_else(|_| self.to_json().to_string())
    }

    /// The data as JSON, when the event carries JSON data.
    pub fn data_json(&self) -> Option<&Value> {
        match &self.data {
            Some(Data::Json(value)) => Some(value),
            _ => None,
        }
    }

    /// An extension attribute as a string, when it is one.
    pub fn extension_str(&self, name: &str) -> Option<&str> {
        self.extensions.get(name).and_then(Value::as_str)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn minimal() -> Value {
        json!({"specversion": "1.0", "id": "1", "source": "/s", "type": "t"})
    }

    fn error_for(value: Value) -> AttributeError {
        CloudEvent::from_json_value(value).unwrap_err()
    }

    #[test]
    fn structured_event_keeps_data_and_extensions() {
        let mut v = minimal();
        v["time"] = json!("2018-04-05T03:56:24Z");
        v["comexampleextension1"] = json!("value");
        v["data"] = json!({"message": "Hello World!"});
        let event = CloudEvent::from_json_value(v).unwrap();
        assert_eq!(event.data_json(), Some(&json!({"message": "Hello World!"})));
        assert_eq!(event.extension_str("comexampleextension1"), Some("value"));
        assert_eq!(format_rfc3339(&event.time.unwrap()), "2018-04-05T03:56:24Z");
    }

    #[test]
    fn the_json_text_is_that_of_the_json_form() {
        let mut full = minimal();
        full["time"] = json!("2018-04-05T03:56:24.5+02:00");
        full["subject"] = json!("a \"quoted\" subject \u{e9}\u{1F600}\n");
        full["dataschema"] = json!("https://example.com/schema");
        full["datacontenttype"] = json!("application/json");
        full["comexampleextension1"] = json!("value");
        full["zz"] = json!(7);
        full["aa"] = json!(true);
        full["data"] = json!({"z": [1, 2.5, null, {"b": "\u{7f}\t"}], "a": "</script>"});
        let mut text = minimal();
        text["datacontenttype"] = json!("text/plain");
        text["data"] = json!("plain \\ text");
        let mut binary = minimal();
        binary["data_base64"] = json!("AAEC/w==");
        let mut events: Vec<CloudEvent> = [minimal(), full, text, binary]
            .into_iter()
            .map(|v| CloudEvent::from_json_value(v).unwrap())
            .collect();
        let mut parsed_time = events[0].clone();
        parsed_time.time = Some(parse_rfc3339("2023-08-05T10:00:00.123Z").unwrap());
        events.push(parsed_time);
        for event in events {
            assert_eq!(event.to_json_string(), event.to_json().to_string());
        }
    }

    #[test]
    fn each_required_attribute_is_named_when_missing_or_empty() {
        for name in ["specversion", "id", "source", "type"] {
            let mut v = minimal();
            v.as_object_mut().unwrap().remove(name);
            assert_eq!(error_for(v).attribute, name);
            let mut v = minimal();
            v[name] = json!("");
            assert_eq!(error_for(v).attribute, name);
        }
    }

    #[test]
    fn wrong_specversion_time_and_types_are_named() {
        let mut v = minimal();
        v["specversion"] = json!("0.2");
        assert_eq!(error_for(v).attribute, "specversion");
        let mut v = minimal();
        v["time"] = json!("05/08/2023");
        assert_eq!(error_for(v).attribute, "time");
        let mut v = minimal();
        v["id"] = json!(7);
        assert_eq!(error_for(v).attribute, "id");
        let mut v = minimal();
        v["Bad-Name"] = json!("x");
        assert_eq!(error_for(v).attribute, "Bad-Name");
        let mut v = minimal();
        v["ext"] = json!({"nested": true});
        assert_eq!(error_for(v).attribute, "ext");
        let mut v = minimal();
        v["big"] = json!(3_000_000_000_i64);
        assert_eq!(error_for(v).attribute, "big");
        let mut v = minimal();
        v["float"] = json!(1.5);
        assert_eq!(error_for(v).attribute, "float");
        assert_eq!(error_for(json!([1])).attribute, "body");
    }

    #[test]
    fn a_cloudevents_0_3_event_is_read_and_kept_as_1_0() {
        let mut v = minimal();
        v["specversion"] = json!("0.3");
        v["schemaurl"] = json!("https://example.com/schema");
        v["pipelinename"] = json!("PipelineCommit");
        let event = CloudEvent::from_json_value(v.clone()).unwrap();
        assert_eq!(
            event.dataschema.as_deref(),
            Some("https://example.com/schema")
        );
        assert_eq!(event.extensions["pipelinename"], json!("PipelineCommit"));
        assert_eq!(event.to_json()["specversion"], "1.0");
        assert!(event.to_json().get("schemaurl").is_none());

        v["datacontentencoding"] = json!("base64");
        v["datacontenttype"] = json!("application/octet-stream");
        v["data"] = json!("aGk=");
        let event = CloudEvent::from_json_value(v.clone()).unwrap();
        assert_eq!(event.data, Some(Data::Binary(b"hi".to_vec())));
        v["datacontentencoding"] = json!("gzip");
        assert_eq!(error_for(v).attribute, "datacontentencoding");
    }

    #[test]
    fn a_whole_number_written_with_a_fraction_is_an_integer_extension() {
        let mut v = minimal();
        v["count"] = json!(7.0);
        v["big"] = json!(3.0e9);
        assert_eq!(error_for(v.clone()).attribute, "big");
        v.as_object_mut().unwrap().remove("big");
        let event = CloudEvent::from_json_value(v).unwrap();
        assert_eq!(event.extensions["count"], json!(7));
    }

    #[test]
    fn data_base64_with_nonzero_trailing_bits_is_read() {
        let mut v = minimal();
        v["data_base64"] = json!("Q7abJP==");
        let event = CloudEvent::from_json_value(v).unwrap();
        assert!(matches!(event.data, Some(Data::Binary(ref bytes)) if bytes.len() == 4));
    }

    #[test]
    fn data_base64_is_decoded_and_round_trips() {
        let mut v = minimal();
        v["datacontenttype"] = json!("application/octet-stream");
        v["data_base64"] = json!("AAEC");
        let event = CloudEvent::from_json_value(v).unwrap();
        assert_eq!(event.data, Some(Data::Binary(vec![0, 1, 2])));
        let again = CloudEvent::from_json_value(event.to_json()).unwrap();
        assert_eq!(again, event);
        let mut both = minimal();
        both["data"] = json!(1);
        both["data_base64"] = json!("AA==");
        assert_eq!(error_for(both).attribute, "data_base64");
    }

    #[test]
    fn null_data_is_absent_and_time_keeps_its_offset() {
        let mut v = minimal();
        v["data"] = Value::Null;
        v["data_base64"] = Value::Null;
        v["time"] = json!("2023-08-05T12:00:00.5+02:00");
        let event = CloudEvent::from_json_value(v).unwrap();
        assert_eq!(event.data, None);
        assert_eq!(event.to_json()["time"], "2023-08-05T12:00:00.5+02:00");
        assert_eq!(
            format_rfc3339(&event.time.unwrap()),
            "2023-08-05T10:00:00.500Z"
        );
    }

    #[test]
    fn nul_characters_are_refused_where_they_stand() {
        let mut v = minimal();
        v["id"] = json!("a\u{0}b");
        assert_eq!(error_for(v).attribute, "id");
        let mut v = minimal();
        v["data"] = json!({"nested": ["ok", "bad\u{0}"]});
        assert_eq!(error_for(v).attribute, "/data/nested/1");
        let mut v = minimal();
        v["data"] = json!({"a/b": {"k\u{0}": 1}});
        assert_eq!(error_for(v).attribute, "/data/a~1b/k\\u0000");
        let mut v = minimal();
        v["data"] = json!("bad\u{0}");
        assert_eq!(error_for(v).attribute, "/data");
        let mut v = minimal();
        v["ext"] = json!("x\u{0}");
        assert_eq!(error_for(v).attribute, "ext");
        // A backslash followed by "u0000" is ordinary text.
        let mut v = minimal();
        v["data"] = json!("\\u0000");
        assert!(CloudEvent::from_json_value(v).is_ok());
    }

    #[test]
    fn indexed_attributes_over_their_limits_are_named() {
        for (name, limit) in [
            ("id", limits::MAX_ID_BYTES),
            ("source", limits::MAX_SOURCE_BYTES),
            ("type", limits::MAX_TYPE_BYTES),
            ("subject", limits::MAX_SUBJECT_BYTES),
        ] {
            let mut v = minimal();
            v[name] = json!("x".repeat(limit));
            assert!(
                CloudEvent::from_json_value(v).is_ok(),
                "{name} at its limit"
            );
            let mut v = minimal();
            v[name] = json!("x".repeat(limit + 1));
            let error = error_for(v);
            assert_eq!(error.attribute, name);
            assert!(error.message.contains(&limit.to_string()), "{error}");
        }
        let attrs = [
            ("specversion", "1.0".to_string()),
            ("id", "x".repeat(3000)),
            ("source", "/s".to_string()),
            ("type", "t".to_string()),
        ];
        let error = CloudEvent::from_binary(attrs, None, b"").unwrap_err();
        assert_eq!(error.attribute, "id");
    }

    #[test]
    fn lone_surrogates_are_not_json() {
        // PostgreSQL's JSONB refuses them too; serde_json refuses them when reading the body.
        for escape in [r#""\ud800""#, r#""\udc00""#, r#""\ud800x""#] {
            let body = format!(
                r#"{{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{escape}}}"#
            );
            assert_eq!(
                CloudEvent::from_json_bytes(body.as_bytes())
                    .unwrap_err()
                    .attribute,
                "body",
                "{escape}"
            );
        }
    }

    #[test]
    fn text_data_stays_text() {
        let mut v = minimal();
        v["datacontenttype"] = json!("text/plain; charset=utf-8");
        v["data"] = json!("Hello, 🌎!");
        let event = CloudEvent::from_json_value(v).unwrap();
        assert_eq!(event.data, Some(Data::Text("Hello, 🌎!".into())));
        assert_eq!(CloudEvent::from_json_value(event.to_json()).unwrap(), event);
    }

    #[test]
    fn binary_mode_parses_json_body_and_rejects_broken_json() {
        let attrs = [
            ("specversion", "1.0".to_string()),
            ("id", "1234-1234-1234".to_string()),
            ("source", "/mycontext/subcontext".to_string()),
            ("type", "com.example.someevent".to_string()),
        ];
        let event = CloudEvent::from_binary(
            attrs.clone(),
            Some("application/json; charset=utf-8"),
            br#"{"message": "Hello World!"}"#,
        )
        .unwrap();
        assert_eq!(event.data_json(), Some(&json!({"message": "Hello World!"})));
        assert_eq!(
            event.datacontenttype.as_deref(),
            Some("application/json; charset=utf-8")
        );
        let err = CloudEvent::from_binary(attrs, Some("application/json"), b"{nope").unwrap_err();
        assert_eq!(err.attribute, "data");
    }

    #[test]
    fn media_types() {
        assert!(is_json_media_type("application/json; charset=utf-8"));
        assert!(is_json_media_type("application/cloudevents+json"));
        assert!(!is_json_media_type("text/plain"));
    }
}
