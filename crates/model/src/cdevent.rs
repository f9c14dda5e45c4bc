//! CDEvents as the calculators read them: the context, the subject and the custom data of one
//! event, whatever spec release it was written in (v0.3 uses `context.version`, v0.4+ uses
//! `context.specversion`). Schema validation lives in `dora-spec`; this is the typed view.

use chrono::{DateTime, Utc};
use serde_json::Value;

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

impl CdEvent {
    /// Reads the typed view out of a CDEvent document.
    pub fn from_value(value: &Value) -> Result<Self, CdEventError> {
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
