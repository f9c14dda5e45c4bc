//! The CloudEvents 1.0 HTTP protocol binding: binary, structured and batch content modes.
//!
//! Mode by request: `Content-Type: application/cloudevents-batch+json` is batch,
//! `application/cloudevents+json` is structured, a `ce-specversion` header is binary. A plain
//! `application/json` body without `ce-` headers is read as structured (what `curl -d @event.json`
//! sends). Everything else is `415`.

use axum::http::{header, HeaderMap, StatusCode};
use dora_http::Problem;
use dora_model::cloudevent::{AttributeError, CloudEvent};
use percent_encoding::percent_decode_str;
use serde_json::value::RawValue;

/// How a request carries its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentMode {
    Binary,
    Structured,
    Batch,
}

/// One event read from a request, with the JSON the raw store keeps for it.
#[derive(Debug, Clone)]
pub struct ReceivedEvent {
    pub event: CloudEvent,
    /// Structured JSON: as received in structured and batch mode, rebuilt in binary mode.
    pub content: String,
}

/// The request's media type (lowercase, without parameters).
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(dora_model::cloudevent::media_type)
}

/// Decides the content mode, or answers `415`.
pub fn content_mode(headers: &HeaderMap) -> Result<ContentMode, Problem> {
    let media = media_type(headers);
    match media.as_deref() {
        Some("application/cloudevents-batch+json") => Ok(ContentMode::Batch),
        Some("application/cloudevents+json") => Ok(ContentMode::Structured),
        _ if headers.contains_key("ce-specversion") => Ok(ContentMode::Binary),
        Some("application/json") => Ok(ContentMode::Structured),
        other => Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            format!(
                "cannot read Content-Type {:?}: send application/cloudevents+json (structured), \
                 application/cloudevents-batch+json (batch), or ce-* headers (binary mode)",
                other.unwrap_or("(none)")
            ),
        )
        .with_field("Content-Type")),
    }
}

fn attribute_problem(error: AttributeError, index: Option<usize>) -> Problem {
    let detail = match index {
        Some(i) => format!(
            "event {i} of the batch: {} {}",
            error.attribute, error.message
        ),
        None => format!("{} {}", error.attribute, error.message),
    };
    Problem::bad_request(
        "invalid-cloudevent",
        "Invalid CloudEvent",
        error.attribute,
        detail,
    )
    .at_index(index)
}

/// Reads the events of a request body in the given mode. A batch with one bad event is refused whole.
pub fn parse_events(
    mode: ContentMode,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<ReceivedEvent>, Problem> {
    let events = parse_events_unchecked(mode, headers, body)?;
    for (i, received) in events.iter().enumerate() {
        check_cdevent_limits(&received.event)
            .map_err(|e| attribute_problem(e, (mode == ContentMode::Batch).then_some(i)))?;
    }
    Ok(events)
}

/// A CloudEvent of a CDEvent type carries a CDEvent the router will store: its indexed texts
/// are held to the limits here, at the door, whatever the routes do with it (the schema is
/// checked by `POST /cdevents` and by the router).
fn check_cdevent_limits(event: &CloudEvent) -> Result<(), AttributeError> {
    match event.data_json() {
        Some(document) if event.event_type.starts_with("dev.cdevents.") => {
            dora_model::cdevent::CdEvent::check_limits(document)
                .map_err(|e| AttributeError::new(format!("/data{}", e.field), e.message))
        }
        _ => Ok(()),
    }
}

fn parse_events_unchecked(
    mode: ContentMode,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<ReceivedEvent>, Problem> {
    match mode {
        ContentMode::Structured => {
            let event =
                CloudEvent::from_json_bytes(body).map_err(|e| attribute_problem(e, None))?;
            let content = String::from_utf8_lossy(body).into_owned();
            Ok(vec![ReceivedEvent { event, content }])
        }
        ContentMode::Batch => {
            let items: Vec<&RawValue> = serde_json::from_slice(body).map_err(|e| {
                Problem::bad_request(
                    "invalid-batch",
                    "Invalid batch",
                    "body",
                    format!("a batch must be a JSON array of CloudEvents: {e}"),
                )
            })?;
            items
                .into_iter()
                .enumerate()
                .map(|(index, raw)| {
                    let value = serde_json::from_str(raw.get()).map_err(|e| {
                        attribute_problem(AttributeError::new("body", e.to_string()), Some(index))
                    })?;
                    let event = CloudEvent::from_json_value(value)
                        .map_err(|e| attribute_problem(e, Some(index)))?;
                    Ok(ReceivedEvent {
                        event,
                        content: raw.get().to_owned(),
                    })
                })
                .collect()
        }
        ContentMode::Binary => {
            let mut attributes = Vec::new();
            for (name, value) in headers {
                let Some(attribute) = name.as_str().strip_prefix("ce-") else {
                    continue;
                };
                let decoded = value
                    .to_str()
                    .ok()
                    .and_then(|v| percent_decode_str(v).decode_utf8().ok())
                    .ok_or_else(|| {
                        attribute_problem(
                            AttributeError::new(
                                attribute,
                                "header value is not percent-encoded UTF-8",
                            ),
                            None,
                        )
                    })?;
                attributes.push((attribute, decoded.into_owned()));
            }
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            let event = CloudEvent::from_binary(attributes, content_type, body)
                .map_err(|e| attribute_problem(e, None))?;
            let content = event.to_json_string();
            Ok(vec![ReceivedEvent { event, content }])
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn binary_headers_are_percent_decoded() {
        let h = headers(&[
            ("ce-specversion", "1.0"),
            ("ce-id", "1"),
            ("ce-source", "/s"),
            ("ce-type", "t"),
            ("ce-subject", "caf%C3%A9%20au%20lait"),
            ("content-type", "application/json"),
        ]);
        assert_eq!(content_mode(&h).unwrap(), ContentMode::Binary);
        let events = parse_events(ContentMode::Binary, &h, b"{}").unwrap();
        assert_eq!(events[0].event.subject.as_deref(), Some("café au lait"));
    }

    #[test]
    fn batch_errors_name_the_index_and_attribute() {
        let body = br#"[{"specversion":"1.0","id":"1","source":"/s","type":"t"},{"specversion":"1.0","id":"","source":"/s","type":"t"}]"#;
        let problem = parse_events(ContentMode::Batch, &HeaderMap::new(), body).unwrap_err();
        assert_eq!(problem.index, Some(1));
        assert_eq!(problem.field.as_deref(), Some("id"));
    }

    #[test]
    fn unknown_content_type_is_415() {
        let problem = content_mode(&headers(&[("content-type", "text/plain")])).unwrap_err();
        assert_eq!(problem.status, 415);
    }
}
