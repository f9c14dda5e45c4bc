//! CDEvents as the calculators read them: the context, the subject and the custom data of one
//! event, whatever spec release it was written in (v0.3 uses `context.version`, v0.4+ uses
//! `context.specversion`). Schema validation lives in `dora-spec`; this is the typed view, and
//! the typed value transformers build ([`CdEvent`]'s `Serialize` writes the document).

mod content;
mod dora_data;

pub use content::{
    subject_of, ArtifactContent, ChangeContent, Content, IncidentContent, PipelineRunContent,
    Reference, RunFields, ServiceContent, TaskRunContent,
};
pub use dora_data::DoraData;

use chrono::{DateTime, Utc};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::limits;
use crate::time::parse_rfc3339;

/// A CDEvent, typed: what transformers emit (serialized in the v0.5.1 layout by its
/// `Serialize`) and what the calculators read from a stored document ([`CdEvent::from_value`]).
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
    /// `subject.content`, typed by the subject of [`CdEvent::event_type`].
    pub content: Content,
    pub custom_data: Option<CustomData>,
}

/// `customData`: the DORA keys ([`DoraData`]) and the tools' own fields, each under the
/// tool's name (`customData.github`, `customData.kubernetes`, ...), kept as given.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CustomData {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dora: Option<DoraData>,
    #[serde(flatten)]
    pub tools: Map<String, Value>,
}

impl CustomData {
    /// `customData.dora` and nothing else.
    pub fn dora(dora: DoraData) -> Self {
        Self {
            dora: Some(dora),
            tools: Map::new(),
        }
    }

    /// The fields a tool keeps under its name.
    pub fn tool(&self, name: &str) -> Option<&Value> {
        self.tools.get(name)
    }
}

/// A document that is not a usable CDEvent, with the JSON pointer of the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct CdEventError {
    pub field: String,
    pub message: String,
}

/// `Value::pointer` without its allocations (it copies every token to unescape it): only a
/// token holding `~` is unescaped. On the ingest hot path, every CDEvent is looked up about
/// twenty times.
fn lookup<'a>(value: &'a Value, pointer: &str) -> Option<&'a Value> {
    let mut tokens = pointer.split('/');
    if tokens.next() != Some("") {
        return None;
    }
    tokens.try_fold(value, |at, token| {
        let token: std::borrow::Cow<'_, str> = if token.contains('~') {
            token.replace("~1", "/").replace("~0", "~").into()
        } else {
            token.into()
        };
        match at {
            Value::Object(map) => map.get(token.as_ref()),
            // As RFC 6901 has it: digits only, no leading zero.
            Value::Array(_)
                if token.starts_with('+') || (token.starts_with('0') && token.len() > 1) =>
            {
                None
            }
            Value::Array(items) => items.get(token.parse::<usize>().ok()?),
            _ => None,
        }
    })
}

fn field_str<'a>(value: &'a Value, pointer: &str) -> Result<&'a str, CdEventError> {
    lookup(value, pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| CdEventError {
            field: pointer.to_owned(),
            message: "is required and must be a non-empty string".into(),
        })
}

/// Where a CDEvent carries text the facts calculator stores in indexed columns, besides its
/// context and subject ids, with the limit of each: environment, service and team names, the
/// changes it names and the commits it lists (a change id is `<service>@<sha>`), the revision
/// and merge commit (SHAs), the artifact and the deployment it names (ids). `DoraData`'s
/// snake_case spellings of stored history are checked too.
const INDEXED_NAMES: [(&str, usize); 12] = [
    ("/subject/content/environment/id", limits::MAX_NAME_BYTES),
    ("/subject/content/service/id", limits::MAX_NAME_BYTES),
    ("/subject/content/change/id", limits::MAX_ID_BYTES),
    ("/subject/content/artifactId", limits::MAX_ID_BYTES),
    ("/customData/dora/service", limits::MAX_NAME_BYTES),
    ("/customData/dora/team", limits::MAX_NAME_BYTES),
    ("/customData/dora/revision", limits::MAX_NAME_BYTES),
    ("/customData/dora/mergeSha", limits::MAX_NAME_BYTES),
    ("/customData/dora/merge_sha", limits::MAX_NAME_BYTES),
    ("/customData/dora/artifact", limits::MAX_ID_BYTES),
    ("/customData/dora/deployment", limits::MAX_ID_BYTES),
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
        if let Some(text) = lookup(value, pointer).and_then(Value::as_str) {
            limits::check_text(text, limit).map_err(|e| too_long(pointer.to_owned(), e))?;
        }
    }
    let dora = lookup(value, "/customData/dora");
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
        let text = |pointer: &str| lookup(value, pointer).and_then(Value::as_str);
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
        let event_type = field_str(value, "/context/type")?;
        let content = lookup(value, "/subject/content").unwrap_or(&Value::Null);
        let content =
            Content::read(event_type, content).map_err(|e| at_path("/subject/content", e))?;
        let custom_data = match value.get("customData") {
            None | Some(Value::Null) => None,
            Some(custom) => Some(read_custom_data(custom)?),
        };
        Ok(Self {
            id: field_str(value, "/context/id")?.to_owned(),
            source: field_str(value, "/context/source")?.to_owned(),
            event_type: event_type.to_owned(),
            timestamp,
            spec_version: spec_version.to_owned(),
            subject_id: field_str(value, "/subject/id")?.to_owned(),
            subject_source: lookup(value, "/subject/source")
                .and_then(Value::as_str)
                .map(str::to_owned),
            content,
            custom_data,
        })
    }

    /// `customData.dora`, if the event has it.
    pub fn dora(&self) -> Option<&DoraData> {
        self.custom_data.as_ref()?.dora.as_ref()
    }
}

/// A serde error inside the document, with its field as a JSON pointer below `base`.
fn at_path(base: &str, error: serde_path_to_error::Error<serde_json::Error>) -> CdEventError {
    let mut field = base.to_owned();
    for segment in error.path().iter() {
        match segment {
            serde_path_to_error::Segment::Seq { index } => field.push_str(&format!("/{index}")),
            serde_path_to_error::Segment::Map { key } => {
                field.push('/');
                field.push_str(&key.replace('~', "~0").replace('/', "~1"));
            }
            serde_path_to_error::Segment::Enum { .. } | serde_path_to_error::Segment::Unknown => {}
        }
    }
    let message = error.into_inner().to_string();
    CdEventError { field, message }
}

fn read_custom_data(custom: &Value) -> Result<CustomData, CdEventError> {
    let Value::Object(fields) = custom else {
        return Err(CdEventError {
            field: "/customData".into(),
            message: "must be a JSON object".into(),
        });
    };
    let mut data = CustomData::default();
    for (key, value) in fields {
        if key == "dora" {
            let dora = serde_path_to_error::deserialize(value)
                .map_err(|e| at_path("/customData/dora", e))?;
            data.dora = Some(dora);
        } else {
            data.tools.insert(key.clone(), value.clone());
        }
    }
    Ok(data)
}

/// The v0.5.1 document of a typed CDEvent: `context`, `subject` and, when there is any,
/// `customData`.
impl Serialize for CdEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Context<'a> {
            specversion: &'a str,
            id: &'a str,
            source: &'a str,
            #[serde(rename = "type")]
            event_type: &'a str,
            timestamp: String,
        }
        #[derive(Serialize)]
        struct Subject<'a> {
            id: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            source: Option<&'a str>,
            content: &'a Content,
        }
        let mut document = serializer.serialize_map(None)?;
        document.serialize_entry(
            "context",
            &Context {
                specversion: &self.spec_version,
                id: &self.id,
                source: &self.source,
                event_type: &self.event_type,
                timestamp: crate::time::format_rfc3339(&self.timestamp),
            },
        )?;
        document.serialize_entry(
            "subject",
            &Subject {
                id: &self.subject_id,
                source: self.subject_source.as_deref(),
                content: &self.content,
            },
        )?;
        if let Some(custom) = &self.custom_data {
            document.serialize_entry("customData", custom)?;
        }
        document.end()
    }
}

impl CdEvent {
    /// The document, as the router validates and stores it.
    pub fn to_document(&self) -> Value {
        // Every field serializes to JSON (strings, maps with string keys): this cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
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
    fn lookup_finds_what_value_pointer_finds() {
        let doc = json!({"a": {"b/c": [1, {"~d": "x"}], "": {"e": true}}, "f": null});
        for pointer in [
            "",
            "/a",
            "/a/b~1c",
            "/a/b~1c/0",
            "/a/b~1c/1/~0d",
            "/a/b~1c/2",
            "/a/b~1c/x",
            "/a/b~1c/-1",
            "/a//e",
            "/f",
            "/f/g",
            "/missing",
            "a",
            "/a/b/c",
        ] {
            assert_eq!(lookup(&doc, pointer), doc.pointer(pointer), "{pointer}");
        }
    }

    #[test]
    fn reads_v03_and_v05_contexts() {
        let v03 = json!({"context": {"version": "0.3.0", "id": "a", "source": "/s",
            "type": "dev.cdevents.service.deployed.0.1.1", "timestamp": "2023-03-20T14:27:05.315384Z"},
            "subject": {"id": "svc", "content": {"environment": {"id": "prod"}, "artifactId": "pkg:oci/x"}}});
        let event = CdEvent::from_value(&v03).unwrap();
        assert_eq!(event.spec_version, "0.3.0");
        assert_eq!(event.content.environment(), Some("prod"));
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
    fn a_typed_event_reads_back_as_it_was_written() {
        let mut dora = DoraData {
            revision: Some("abc".into()),
            changes: Some(vec!["acme/web#1".into()]),
            ..DoraData::default()
        };
        dora.detail("branch", "main");
        let event = CdEvent {
            id: "a".into(),
            source: "/s".into(),
            event_type: "dev.cdevents.service.deployed.0.3.0".into(),
            timestamp: parse_rfc3339("2023-03-20T14:27:05Z").unwrap(),
            spec_version: "0.5.1".into(),
            subject_id: "svc".into(),
            subject_source: Some("/s".into()),
            content: Content::Service(ServiceContent {
                environment: Some(Reference::within("prod", "/c")),
                artifact_id: Some("pkg:oci/x".into()),
            }),
            custom_data: Some(CustomData::dora(dora)),
        };
        let document = event.to_document();
        assert_eq!(document["customData"]["dora"]["branch"], "main");
        assert_eq!(
            document["subject"]["content"]["environment"]["source"],
            "/c"
        );
        assert_eq!(CdEvent::from_value(&document).unwrap(), event);
    }

    #[test]
    fn custom_data_of_the_wrong_type_is_named() {
        let mut document = deployed("svc");
        document["customData"] = json!({"dora": {"outcome": ["failure"]}});
        let error = CdEvent::from_value(&document).unwrap_err();
        assert_eq!(error.field, "/customData/dora/outcome");
        document["customData"] = json!("text");
        assert_eq!(
            CdEvent::from_value(&document).unwrap_err().field,
            "/customData"
        );
        document["customData"] = json!({"dora": {}, "kubernetes": {"labels": {}}});
        let read = CdEvent::from_value(&document).unwrap();
        assert!(read.custom_data.unwrap().tool("kubernetes").is_some());
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
