//! CDEvents as the calculators read them: the context, the subject and the custom data of one
//! event, whatever spec release it was written in (v0.3 uses `context.version`, v0.4+ uses
//! `context.specversion`). Schema validation lives in `dora-spec`; this is the typed view.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::limits;
use crate::time::parse_rfc3339;

/// The parts of a CDEvent the pipeline uses.
#[derive(Debug, Clone, PartialEq)]
pub struct CdEvent {
    pub id: String,
    pub source: String,
    pub event_type: String,
    pub timestamp: DateTime<Utc>,
    /// `context.specversion` (v0.4+) or `context.version` (older releases).
    pub spec_version: String,
    pub subject_id: String,
    pub subject_source: Option<String>,
    /// `subject.content`, or `null` when absent.
    pub content: Value,
    pub custom_data: Option<Value>,
}

/// A document that is not a usable CDEvent, with the JSON pointer of the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct CdEventError {
    pub field: String,
    pub message: String,
}

fn field_str<'a>(value: &'a Value, pointer: &str) -> Result<&'a str, CdEventError> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| CdEventError {
            field: pointer.to_owned(),
            message: "is required and must be a non-empty string".into(),
        })
}

/// Where a CDEvent carries text the facts calculator stores in indexed columns, besides its
/// context and subject ids, with the limit of each: environment, service and team names, the
/// changes it names and the commits it lists (a change id is `<service>@<sha>`).
const INDEXED_NAMES: [(&str, usize); 6] = [
    ("/subject/content/environment/id", limits::MAX_NAME_BYTES),
    ("/subject/content/service/id", limits::MAX_NAME_BYTES),
    ("/subject/content/change/id", limits::MAX_ID_BYTES),
    ("/customData/dora/service", limits::MAX_NAME_BYTES),
    ("/customData/dora/team", limits::MAX_NAME_BYTES),
    (
        "/customData/kubernetes/labels/app.kubernetes.io~1part-of",
        limits::MAX_NAME_BYTES,
    ),
];

fn too_long(field: String, error: limits::Unstorable) -> CdEventError {
    CdEventError {
        field,
        message: error.to_string(),
    }
}

/// Checks the texts a CDEvent's facts are indexed by (see [`INDEXED_NAMES`]), wherever the
/// document has them as strings.
fn check_indexed_names(value: &Value) -> Result<(), CdEventError> {
    for (pointer, limit) in INDEXED_NAMES {
        if let Some(text) = value.pointer(pointer).and_then(Value::as_str) {
            limits::check_text(text, limit).map_err(|e| too_long(pointer.to_owned(), e))?;
        }
    }
    let dora = value.pointer("/customData/dora");
    for key in ["changes", "commits"] {
        let Some(Value::Array(items)) = dora.and_then(|dora| dora.get(key)) else {
            continue;
        };
        for (i, item) in items.iter().enumerate() {
            let (text, pointer, limit) = match item {
                Value::String(id) if key == "changes" => (
                    id,
                    format!("/customData/dora/changes/{i}"),
                    limits::MAX_ID_BYTES,
                ),
                Value::String(sha) => (
                    sha,
                    format!("/customData/dora/commits/{i}"),
                    limits::MAX_NAME_BYTES,
                ),
                Value::Object(commit) => {
                    let Some((name, Value::String(sha))) = ["sha", "id"]
                        .iter()
                        .find_map(|name| commit.get(*name).map(|v| (*name, v)))
                    else {
                        continue;
                    };
                    (
                        sha,
                        format!("/customData/dora/{key}/{i}/{name}"),
                        limits::MAX_NAME_BYTES,
                    )
                }
                _ => continue,
            };
            limits::check_text(text, limit).map_err(|e| too_long(pointer, e))?;
        }
    }
    Ok(())
}

impl CdEvent {
    /// Reads the typed view out of a CDEvent document, refusing text the store cannot index
    /// ([`crate::limits`]): context id, source and type, subject id (a service name for
    /// `service.*` events) and source, and the names the facts calculator indexes.
    pub fn from_value(value: &Value) -> Result<Self, CdEventError> {
        let event = Self::from_value_unchecked(value)?;
        Self::check_limits(value)?;
        Ok(event)
    }

    /// Checks the texts of a CDEvent document the store indexes against [`crate::limits`],
    /// wherever the document has them as strings, without requiring any: what ingest checks of
    /// a CloudEvent of a CDEvent type sent to `POST /events`, which the router will read.
    pub fn check_limits(value: &Value) -> Result<(), CdEventError> {
        let text = |pointer: &str| value.pointer(pointer).and_then(Value::as_str);
        let subject_id_limit =
            if text("/context/type").is_some_and(|t| t.starts_with("dev.cdevents.service.")) {
                limits::MAX_NAME_BYTES
            } else {
                limits::MAX_ID_BYTES
            };
        for (pointer, limit) in [
            ("/context/id", limits::MAX_ID_BYTES),
            ("/context/source", limits::MAX_SOURCE_BYTES),
            ("/context/type", limits::MAX_TYPE_BYTES),
            ("/subject/id", subject_id_limit),
            ("/subject/source", limits::MAX_SOURCE_BYTES),
        ] {
            if let Some(text) = text(pointer) {
                limits::check_text(text, limit).map_err(|e| too_long(pointer.to_owned(), e))?;
            }
        }
        check_indexed_names(value)
    }

    fn from_value_unchecked(value: &Value) -> Result<Self, CdEventError> {
        let timestamp_text = field_str(value, "/context/timestamp")?;
        let timestamp = parse_rfc3339(timestamp_text).ok_or_else(|| CdEventError {
            field: "/context/timestamp".into(),
            message: format!("{timestamp_text:?} is not an RFC 3339 timestamp"),
        })?;
        let spec_version = field_str(value, "/context/specversion")
            .or_else(|_| field_str(value, "/context/version"))?;
        Ok(Self {
            id: field_str(value, "/context/id")?.to_owned(),
            source: field_str(value, "/context/source")?.to_owned(),
            event_type: field_str(value, "/context/type")?.to_owned(),
            timestamp,
            spec_version: spec_version.to_owned(),
            subject_id: field_str(value, "/subject/id")?.to_owned(),
            subject_source: value
                .pointer("/subject/source")
                .and_then(Value::as_str)
                .map(str::to_owned),
            content: value
                .pointer("/subject/content")
                .cloned()
                .unwrap_or(Value::Null),
            custom_data: value.get("customData").cloned(),
        })
    }

    /// A string inside `subject.content`, by JSON pointer relative to it (e.g. "/environment/id").
    pub fn content_str(&self, pointer: &str) -> Option<&str> {
        self.content.pointer(pointer).and_then(Value::as_str)
    }
}

impl CdEvent {
    /// The CloudEvent that carries a bare CDEvent `document` (this view of it), as the CDEvents
    /// CloudEvents binding has it: the CDEvent's id, source, type and timestamp, its subject id,
    /// and the document as JSON data. Redelivering the same CDEvent is then a duplicate.
    pub fn into_cloudevent(self, document: Value) -> crate::cloudevent::CloudEvent {
        crate::cloudevent::CloudEvent {
            time_text: document
                .pointer("/context/timestamp")
                .and_then(Value::as_str)
                .map(str::to_owned),
            id: self.id,
            source: self.source,
            event_type: self.event_type,
            time: Some(self.timestamp),
            subject: Some(self.subject_id),
            datacontenttype: Some("application/json".into()),
            dataschema: None,
            extensions: serde_json::Map::new(),
            data: Some(crate::cloudevent::Data::Json(document)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_v03_and_v05_contexts() {
        let v03 = json!({"context": {"version": "0.3.0", "id": "a", "source": "/s",
            "type": "dev.cdevents.service.deployed.0.1.1", "timestamp": "2023-03-20T14:27:05.315384Z"},
            "subject": {"id": "svc", "content": {"environment": {"id": "prod"}, "artifactId": "pkg:oci/x"}}});
        let event = CdEvent::from_value(&v03).unwrap();
        assert_eq!(event.spec_version, "0.3.0");
        assert_eq!(event.content_str("/environment/id"), Some("prod"));
        let mut v05 = v03.clone();
        v05["context"].as_object_mut().unwrap().remove("version");
        v05["context"]["specversion"] = json!("0.5.1");
        assert_eq!(CdEvent::from_value(&v05).unwrap().spec_version, "0.5.1");
    }

    fn deployed(service: &str) -> Value {
        json!({"context": {"specversion": "0.5.1", "id": "a", "source": "/s",
            "type": "dev.cdevents.service.deployed.0.3.0", "timestamp": "2023-03-20T14:27:05Z"},
            "subject": {"id": service, "content": {"environment": {"id": "prod"}, "artifactId": "pkg:oci/x"}}})
    }

    #[test]
    fn indexed_texts_over_their_limits_are_named() {
        assert!(CdEvent::from_value(&deployed(&"s".repeat(255))).is_ok());
        let long_service = CdEvent::from_value(&deployed(&"s".repeat(256))).unwrap_err();
        assert_eq!(long_service.field, "/subject/id");
        assert!(long_service.message.contains("255"), "{long_service}");
        // A subject that is not a service may be as long as an id.
        let mut incident = deployed(&"s".repeat(1024));
        incident["context"]["type"] = json!("dev.cdevents.incident.detected.0.2.0");
        assert!(CdEvent::from_value(&incident).is_ok());
        let cases: [(&str, Value, &str); 7] = [
            ("/context/id", json!("i".repeat(1025)), "/context/id"),
            (
                "/context/source",
                json!("s".repeat(1025)),
                "/context/source",
            ),
            (
                "/subject/source",
                json!("s".repeat(1025)),
                "/subject/source",
            ),
            (
                "/subject/content/environment/id",
                json!("e".repeat(256)),
                "/subject/content/environment/id",
            ),
            (
                "/customData",
                json!({"dora": {"team": "t".repeat(256)}}),
                "/customData/dora/team",
            ),
            (
                "/customData",
                json!({"dora": {"changes": ["ok", "c".repeat(1025)]}}),
                "/customData/dora/changes/1",
            ),
            (
                "/customData",
                json!({"dora": {"commits": [{"sha": "f".repeat(256)}]}}),
                "/customData/dora/commits/0/sha",
            ),
        ];
        for (pointer, value, field) in cases {
            let mut document = deployed("svc");
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            document.pointer_mut(parent).unwrap()[key] = value;
            assert_eq!(
                CdEvent::from_value(&document).unwrap_err().field,
                field,
                "{pointer}"
            );
        }
        let mut document = deployed("svc");
        document["subject"]["content"]["environment"]["id"] = json!("pr\u{0}od");
        assert_eq!(
            CdEvent::from_value(&document).unwrap_err().field,
            "/subject/content/environment/id"
        );
    }

    #[test]
    fn names_the_missing_field() {
        let broken = json!({"context": {"version": "0.3.0", "id": "a", "source": "/s",
            "type": "t", "timestamp": "2023-03-20T14:27:05Z"}, "subject": {}});
        assert_eq!(
            CdEvent::from_value(&broken).unwrap_err().field,
            "/subject/id"
        );
    }
}
