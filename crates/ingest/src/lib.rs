//! The ingest stage: the book's CloudEvents endpoint and CDEvents endpoint
//! (**ingest** -> raw store -> router -> ...).
//!
//! `POST /events` (and `POST /`, so a Knative `sink.ref` works unchanged) takes CloudEvents in
//! any content mode; `POST /cdevents` takes CDEvents as CloudEvents or as bare CDEvent JSON and
//! validates them against their spec's schema. Both answer `202` only after the transaction
//! holding the events committed, and report how many were new and how many were duplicates of
//! an already stored (source, id).

use axum::body::{to_bytes, Body};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use dora_http::Problem;
use dora_model::cloudevent::{CloudEvent, Data};
use dora_store::writer::{RawWriter, WriteError};
use dora_store::{NewCdEvent, NewRawEvent};
use serde::Serialize;
use serde_json::Value;

pub mod binding;

use binding::{content_mode, parse_events, ContentMode, ReceivedEvent};

/// Body size limits, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// One event (binary or structured mode, one bare CDEvent).
    pub max_event_bytes: usize,
    /// One batch request.
    pub max_batch_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_event_bytes: 1024 * 1024,
            max_batch_bytes: 10 * 1024 * 1024,
        }
    }
}

/// What the ingest routes need.
#[derive(Clone)]
pub struct IngestState {
    pub writer: RawWriter,
    pub limits: Limits,
}

/// The answer to an accepted request.
#[derive(Debug, Serialize)]
pub struct Accepted {
    /// Events stored by this request.
    pub accepted: usize,
    /// Events already stored before (same source and id), acknowledged and not stored again.
    pub duplicates: usize,
}

/// The ingest routes.
pub fn router(state: IngestState) -> Router {
    Router::new()
        .route("/events", post(post_events))
        .route("/", post(post_events))
        .route("/cdevents", post(post_cdevents))
        .with_state(state)
}

async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<axum::body::Bytes, Problem> {
    let too_large = || {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
            format!("the body is larger than the {limit} bytes allowed for this content mode"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large());
    }
    to_bytes(body, limit).await.map_err(|e| {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(error) = source {
            if error.is::<http_body_util::LengthLimitError>() {
                return too_large();
            }
            source = error.source();
        }
        Problem::bad_request(
            "unreadable-body",
            "Unreadable body",
            "body",
            format!("could not read the body: {e}"),
        )
    })
}

fn limit_for(mode: ContentMode, limits: Limits) -> usize {
    match mode {
        ContentMode::Batch => limits.max_batch_bytes,
        ContentMode::Binary | ContentMode::Structured => limits.max_event_bytes,
    }
}

async fn store(
    state: &IngestState,
    events: Vec<NewRawEvent>,
) -> Result<(StatusCode, Json<Accepted>), Problem> {
    if events.is_empty() {
        return Ok((
            StatusCode::ACCEPTED,
            Json(Accepted {
                accepted: 0,
                duplicates: 0,
            }),
        ));
    }
    let inserted = state.writer.write(events).await.map_err(|e| match e {
        WriteError::Overloaded => {
            Problem::unavailable("the ingest queue is full; retry shortly", 1)
        }
        WriteError::Stopped => Problem::unavailable("the server is shutting down", 5),
        WriteError::Failed(reason) => {
            tracing::error!(reason, "events were not stored");
            Problem::unavailable("the database is unavailable; nothing was stored", 5)
        }
    })?;
    let accepted = inserted.iter().filter(|new| **new).count();
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            accepted,
            duplicates: inserted.len() - accepted,
        }),
    ))
}

fn raw_event(received: ReceivedEvent, cdevent: Option<NewCdEvent>) -> NewRawEvent {
    let ReceivedEvent { event, content } = received;
    NewRawEvent {
        id: event.id,
        source: event.source,
        event_type: event.event_type,
        time: event.time,
        received_at: Utc::now(),
        content,
        cdevent,
    }
}

async fn post_events(
    State(state): State<IngestState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Accepted>), Problem> {
    let mode = content_mode(&headers)?;
    let bytes = read_body(&headers, body, limit_for(mode, state.limits)).await?;
    let received = parse_events(mode, &headers, &bytes)?;
    let events = received.into_iter().map(|r| raw_event(r, None)).collect();
    store(&state, events).await
}

fn cdevent_problem(
    document: &Value,
    pointer_prefix: &str,
    index: Option<usize>,
) -> Result<NewCdEvent, Problem> {
    match dora_spec::validate(document) {
        Ok(_) => dora_pipeline::router::validated_cdevent(document, "cdevents").map_err(|reason| {
            Problem::bad_request("invalid-cdevent", "Invalid CDEvent", pointer_prefix, reason)
        }),
        Err(error) => {
            let field = format!("{pointer_prefix}{}", error.field());
            let detail = match index {
                Some(i) => format!("event {i}: {error} (at {field})"),
                None => format!("{error} (at {field})"),
            };
            Err(Problem::bad_request(
                "invalid-cdevent",
                "Invalid CDEvent",
                field,
                detail,
            ))
        }
    }
    .map_err(|p| match index {
        Some(i) => p.with_index(i),
        None => p,
    })
}

/// A bare CDEvent, wrapped into the CloudEvent the raw store keeps for it.
fn wrap_bare_cdevent(document: Value, index: Option<usize>) -> Result<NewRawEvent, Problem> {
    let cdevent = cdevent_problem(&document, "", index)?;
    let event = CloudEvent {
        id: cdevent.id.clone(),
        source: cdevent.source.clone(),
        event_type: cdevent.event_type.clone(),
        time: Some(cdevent.timestamp),
        subject: Some(cdevent.subject_id.clone()),
        datacontenttype: Some("application/json".into()),
        dataschema: None,
        extensions: serde_json::Map::new(),
        data: Some(Data::Json(document)),
    };
    let content = event.to_json().to_string();
    Ok(raw_event(ReceivedEvent { event, content }, Some(cdevent)))
}

async fn post_cdevents(
    State(state): State<IngestState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Accepted>), Problem> {
    let mode = content_mode(&headers)?;
    let is_cloudevent = mode == ContentMode::Batch
        || headers.contains_key("ce-specversion")
        || headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                ct.to_ascii_lowercase()
                    .starts_with("application/cloudevents+json")
            });
    if !is_cloudevent {
        // Bare CDEvent JSON: one object, or an array of them.
        let bytes = read_body(&headers, body, state.limits.max_batch_bytes).await?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
            Problem::bad_request(
                "invalid-cdevent",
                "Invalid CDEvent",
                "body",
                format!("not valid JSON: {e}"),
            )
        })?;
        let events = match value {
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| wrap_bare_cdevent(item, Some(i)))
                .collect::<Result<Vec<_>, _>>()?,
            document => {
                if bytes.len() > state.limits.max_event_bytes {
                    return Err(Problem::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload-too-large",
                        "Payload too large",
                        format!(
                            "one CDEvent may be at most {} bytes",
                            state.limits.max_event_bytes
                        ),
                    ));
                }
                vec![wrap_bare_cdevent(document, None)?]
            }
        };
        return store(&state, events).await;
    }
    let bytes = read_body(&headers, body, limit_for(mode, state.limits)).await?;
    let received = parse_events(mode, &headers, &bytes)?;
    let batch = mode == ContentMode::Batch;
    let mut events = Vec::with_capacity(received.len());
    for (i, item) in received.into_iter().enumerate() {
        let index = batch.then_some(i);
        let document = match &item.event.data {
            Some(Data::Json(document)) => document.clone(),
            Some(Data::Text(text)) => serde_json::from_str(text).map_err(|_| {
                Problem::bad_request(
                    "invalid-cdevent",
                    "Invalid CDEvent",
                    "data",
                    "data is not a CDEvent JSON object",
                )
            })?,
            _ => {
                let problem = Problem::bad_request(
                    "invalid-cdevent",
                    "Invalid CDEvent",
                    "data",
                    "the CloudEvent must carry a CDEvent as JSON data",
                );
                return Err(match index {
                    Some(i) => problem.with_index(i),
                    None => problem,
                });
            }
        };
        let cdevent = cdevent_problem(&document, "/data", index)?;
        events.push(raw_event(item, Some(cdevent)));
    }
    store(&state, events).await
}
