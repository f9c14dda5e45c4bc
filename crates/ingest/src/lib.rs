//! The ingest stage: the book's CloudEvents endpoint and CDEvents endpoint
//! (**ingest** -> raw store -> router -> ...).
//!
//! `POST /events` (and `POST /`, so a Knative `sink.ref` works unchanged) takes CloudEvents in
//! any content mode; `POST /cdevents` takes CDEvents as CloudEvents or as bare CDEvent JSON,
//! validates them against their spec's schema, and stores them marked as CDEvents (the router
//! passes them through, whatever its routes). Both answer `202` only after the transaction
//! holding the events committed, and report how many CloudEvents were new and how many were
//! duplicates of an already stored (source, id). Request bodies held in memory at once are
//! bounded by a byte budget; past it, and when the commit queue is full, ingest answers `503`
//! with `Retry-After`.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use dora_http::auth::{self, Authenticator, Scope};
use dora_http::telemetry::IngestOutcome;
use dora_http::Problem;
use std::sync::Arc;
use utoipa::openapi::security::SecurityRequirement;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use dora_model::cdevent::CdEvent;
use dora_model::cloudevent::Data;
use dora_sources::WebhookSettings;
use dora_store::writer::{RawWriter, WriteError};
use dora_store::{NewRawEvent, Origin};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::Semaphore;

pub mod binding;
pub mod body;
pub mod schema;
pub mod webhook;

use binding::{content_mode, media_type, parse_events, ContentMode, ReceivedEvent};
use body::{read_body, BodyTimeouts, MEMORY_PER_BODY_BYTE};

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
    /// Memory for request bodies being read and parsed, in KiB permits, charged as bytes
    /// arrive ([`body::MEMORY_PER_BODY_BYTE`] per body byte), then for their JSON values
    /// ([`body::MEMORY_PER_JSON_VALUE`]) where those take more.
    pub in_flight: Arc<Semaphore>,
    /// The permits of `in_flight`.
    in_flight_kib: usize,
    pub webhooks: Arc<WebhookSettings>,
    /// Who may send events (ingest tokens; open unless configured).
    pub auth: Authenticator,
    /// How long a body may take to arrive.
    pub body_timeouts: BodyTimeouts,
}

impl IngestState {
    /// `max_in_flight_bytes` bounds the memory of request bodies being read and parsed (never
    /// less than one largest batch needs).
    pub fn new(
        writer: RawWriter,
        limits: Limits,
        max_in_flight_bytes: usize,
        webhooks: WebhookSettings,
    ) -> Self {
        let kib = max_in_flight_bytes
            .div_ceil(1024)
            .max((limits.max_batch_bytes * MEMORY_PER_BODY_BYTE).div_ceil(1024))
            .min(Semaphore::MAX_PERMITS);
        Self {
            writer,
            limits,
            in_flight: Arc::new(Semaphore::new(kib)),
            in_flight_kib: kib,
            webhooks: Arc::new(webhooks),
            auth: Authenticator::open(),
            body_timeouts: BodyTimeouts::default(),
        }
    }

    /// Requires ingest tokens as `auth` says (on the CloudEvents routes, and on the webhooks
    /// that have no secret of their own).
    pub fn with_auth(mut self, auth: Authenticator) -> Self {
        self.auth = auth;
        self
    }

    /// Sets how long a body may take to arrive (`[http]` settings).
    pub fn with_body_timeouts(mut self, timeouts: BodyTimeouts) -> Self {
        self.body_timeouts = timeouts;
        self
    }

    /// Reads a request's body within `limit` and the budget (see [`body::read_body`]), and
    /// charges what parsing it will take.
    async fn read_body(
        &self,
        headers: &HeaderMap,
        body: Body,
        limit: usize,
    ) -> Result<(axum::body::Bytes, body::Charge), Problem> {
        let (bytes, mut charge) =
            read_body(&self.in_flight, self.body_timeouts, headers, body, limit).await?;
        charge.cover_parse(&bytes, self.in_flight_kib)?;
        Ok((bytes, charge))
    }
}

/// The answer to an accepted request.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    /// Events stored by this request.
    pub accepted: usize,
    /// Events already stored before (same source and id), acknowledged and not stored again.
    pub duplicates: usize,
}

impl IntoResponse for Accepted {
    /// `202` with the counts, which the telemetry middleware also reads.
    fn into_response(self) -> Response {
        let mut response = (StatusCode::ACCEPTED, Json(&self)).into_response();
        response.extensions_mut().insert(IngestOutcome {
            accepted: self.accepted,
            duplicates: self.duplicates,
        });
        response
    }
}

/// The ingest routes, with their OpenAPI description. The CloudEvents routes need an ingest
/// token when ingest is protected; the webhooks check their tool's signature, or an ingest
/// token when their tool has no secret configured.
pub fn router(state: IngestState) -> OpenApiRouter {
    let cloudevents = OpenApiRouter::new()
        .routes(routes!(post_events))
        .routes(routes!(post_root))
        .routes(routes!(post_cdevents));
    let mut webhook = OpenApiRouter::new().routes(routes!(post_webhook));
    if state.auth.protects(Scope::Ingest) {
        for item in webhook.get_openapi_mut().paths.paths.values_mut() {
            if let Some(operation) = item.post.as_mut() {
                // A tool with its own secret needs no token: the token is one of two ways in.
                operation.security = Some(vec![
                    SecurityRequirement::new(auth::SECURITY_SCHEME, [Scope::Ingest.as_str()]),
                    SecurityRequirement::default(),
                ]);
            }
        }
    }
    auth::protect(cloudevents, &state.auth, Scope::Ingest)
        .merge(webhook)
        .with_state(state)
}

fn limit_for(mode: ContentMode, limits: Limits) -> usize {
    match mode {
        ContentMode::Batch => limits.max_batch_bytes,
        ContentMode::Binary | ContentMode::Structured => limits.max_event_bytes,
    }
}

async fn store(state: &IngestState, events: Vec<NewRawEvent>) -> Result<Accepted, Problem> {
    if events.is_empty() {
        return Ok(Accepted {
            accepted: 0,
            duplicates: 0,
        });
    }
    let inserted = state.writer.write(events).await.map_err(|e| match e {
        WriteError::Overloaded => {
            Problem::unavailable("the ingest queue is full; retry shortly", 1)
        }
        WriteError::Stopped => Problem::unavailable("the server is shutting down", 5),
        WriteError::Unavailable(reason) => {
            tracing::warn!(reason, "events were not stored: database unavailable");
            Problem::unavailable(
                "the database is unavailable; retry (events that were stored after all count as duplicates)",
                5,
            )
        }
        WriteError::Refused(reason) => Problem::bad_request(
            "unstorable-event",
            "Event refused by the database",
            "body",
            format!("the database refused to store this request's events (nothing was stored): {reason}"),
        ),
        WriteError::Failed(reason) => Problem::internal(&format!("events were not stored: {reason}")),
    })?;
    let accepted = inserted.iter().filter(|new| **new).count();
    Ok(Accepted {
        accepted,
        duplicates: inserted.len() - accepted,
    })
}

fn raw_event(received: ReceivedEvent, origin: Origin) -> NewRawEvent {
    NewRawEvent::received(received.event, received.content, origin)
}

/// Declares the route `$name` (`POST $path`), a handler that `$receive` does the work of, with
/// its OpenAPI description: the routes taking CloudEvents or CDEvents answer alike.
macro_rules! ingest_route {
    ($(#[$doc:meta])* $name:ident, $path:literal, cloudevents, $receive:ident) => {
        ingest_route!(
            $(#[$doc])*
            $name,
            $path,
            request_body(description = "A CloudEvent in structured mode (or binary mode: ce-* headers and the data as the body), or a batch of them", content((schema::CloudEvent = "application/cloudevents+json"), (Vec<schema::CloudEvent> = "application/cloudevents-batch+json"), (schema::CloudEvent = "application/json"))),
            $receive
        );
    };
    ($(#[$doc:meta])* $name:ident, $path:literal, request_body($($body:tt)*), $receive:ident) => {
        $(#[$doc])*
        #[utoipa::path(
            request_body($($body)*),
            post,
            path = $path,
            tag = "ingest",
            responses(
                (status = 202, description = "Stored durably (or already stored: duplicates)", body = Accepted),
                (status = 400, description = "An event is invalid (the attribute in `field`, the batch position in `index`); nothing of the request is stored", body = dora_http::ProblemDetails, content_type = "application/problem+json"),
                (status = 408, description = "The body stopped arriving, or arrived slower than `http.body_min_bytes_per_second`; the connection is closed", body = dora_http::ProblemDetails, content_type = "application/problem+json"),
                (status = 413, description = "The body is too large, or holds more JSON values than the ingest memory budget could parse", body = dora_http::ProblemDetails, content_type = "application/problem+json"),
                (status = 415, description = "Unsupported content type", body = dora_http::ProblemDetails, content_type = "application/problem+json"),
                (status = 503, description = "Overloaded or the database is unavailable; retry after `Retry-After`", body = dora_http::ProblemDetails, content_type = "application/problem+json")
            )
        )]
        async fn $name(
            state: State<IngestState>,
            headers: HeaderMap,
            body: Body,
        ) -> Result<Accepted, Problem> {
            $receive(state, headers, body).await
        }
    };
}

ingest_route!(
    /// Ingest CloudEvents (binary, structured or batch mode); `202` once they are stored durably.
    post_events,
    "/events",
    cloudevents,
    receive_events
);

ingest_route!(
    /// Ingest CloudEvents at the root, for Knative sinks (the same as `POST /events`).
    post_root,
    "/",
    cloudevents,
    receive_events
);

ingest_route!(
    /// Ingest CDEvents, as CloudEvents or bare CDEvent JSON, validated against their release's schema.
    post_cdevents,
    "/cdevents",
    request_body(description = "CDEvents as CloudEvents (any mode) or bare CDEvent JSON (an object or an array), validated against their release's schema", content((Object = "application/json"), (Object = "application/cloudevents+json"), (Object = "application/cloudevents-batch+json"))),
    receive_cdevents
);

/// The work of `POST /events` and `POST /`.
async fn receive_events(
    State(state): State<IngestState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Accepted, Problem> {
    let mode = content_mode(&headers)?;
    let limit = limit_for(mode, state.limits);
    let (bytes, _budget) = state.read_body(&headers, body, limit).await?;
    let received = parse_events(mode, &headers, &bytes)?;
    drop(bytes);
    let events = received
        .into_iter()
        .map(|r| raw_event(r, Origin::Events))
        .collect();
    store(&state, events).await
}

/// Checks a CDEvent against the schema of its release; `prefix` is where it sits in the request.
fn check_cdevent(document: &Value, prefix: &str, index: Option<usize>) -> Result<CdEvent, Problem> {
    let invalid = |field: String, message: String| {
        let detail = match index {
            Some(i) => format!("event {i}: {message} (at {field})"),
            None => format!("{message} (at {field})"),
        };
        Problem::bad_request("invalid-cdevent", "Invalid CDEvent", field, detail).at_index(index)
    };
    dora_spec::validate(document)
        .map_err(|e| invalid(format!("{prefix}{}", e.field()), e.to_string()))?;
    CdEvent::from_value(document).map_err(|e| invalid(format!("{prefix}{}", e.field), e.message))
}

/// A bare CDEvent, wrapped into the CloudEvent the raw store keeps for it. Its id and source
/// are the CDEvent's, as in the CDEvents CloudEvents binding, so a redelivery is a duplicate.
fn wrap_bare_cdevent(document: Value, index: Option<usize>) -> Result<NewRawEvent, Problem> {
    let event = check_cdevent(&document, "", index)?.into_cloudevent(document);
    event.check_storable().map_err(|e| {
        Problem::bad_request("invalid-cdevent", "Invalid CDEvent", e.attribute, e.message)
            .at_index(index)
    })?;
    let content = event.to_json_string();
    Ok(raw_event(
        ReceivedEvent { event, content },
        Origin::Cdevents,
    ))
}

/// The work of `POST /cdevents`.
async fn receive_cdevents(
    State(state): State<IngestState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Accepted, Problem> {
    let mode = content_mode(&headers)?;
    let is_cloudevent = mode == ContentMode::Batch
        || headers.contains_key("ce-specversion")
        || media_type(&headers).as_deref() == Some("application/cloudevents+json");
    if !is_cloudevent {
        // Bare CDEvent JSON: one object (the event limit), or an array of them (the batch limit).
        let limit = state.limits.max_batch_bytes;
        let (bytes, _budget) = state.read_body(&headers, body, limit).await?;
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
            _ if bytes.len() > state.limits.max_event_bytes => {
                return Err(Problem::payload_too_large(
                    state.limits.max_event_bytes,
                    "one CDEvent",
                ))
            }
            document => vec![wrap_bare_cdevent(document, None)?],
        };
        return store(&state, events).await;
    }
    let limit = limit_for(mode, state.limits);
    let (bytes, _budget) = state.read_body(&headers, body, limit).await?;
    let received = parse_events(mode, &headers, &bytes)?;
    drop(bytes);
    let batch = mode == ContentMode::Batch;
    let mut events = Vec::with_capacity(received.len());
    for (i, item) in received.into_iter().enumerate() {
        let index = batch.then_some(i);
        let parsed_text;
        let document = match &item.event.data {
            Some(Data::Json(document)) => document,
            Some(Data::Text(text)) if serde_json::from_str::<Value>(text).is_ok() => {
                parsed_text = serde_json::from_str::<Value>(text).unwrap_or_default();
                &parsed_text
            }
            _ => {
                return Err(Problem::bad_request(
                    "invalid-cdevent",
                    "Invalid CDEvent",
                    "data",
                    "the CloudEvent must carry a CDEvent as JSON data",
                )
                .at_index(index))
            }
        };
        check_cdevent(document, "/data", index)?;
        events.push(raw_event(item, Origin::Cdevents));
    }
    store(&state, events).await
}

/// Ingest a tool's own webhook (GitHub, GitLab, Argo CD, Alertmanager, PagerDuty).
///
/// The tool's adapter checks the signature or token and wraps the payload into CloudEvents,
/// stored like any other (so nothing a tool sends is lost, mapped or not).
#[utoipa::path(
    request_body(content = Object, description = "The tool's own webhook payload", content_type = "application/json"),
    post,
    path = "/webhooks/{tool}",
    tag = "ingest",
    params(
        ("tool" = inline(schema::WebhookTool), Path, description = "The tool: a source with a webhook")
    ),
    responses(
        (status = 202, description = "Stored durably (or already stored: duplicates)", body = Accepted),
        (status = 401, description = "Signature or token missing or wrong (the tool's own when `[webhooks.<tool>]` sets one, else an ingest bearer token when ingest is protected); nothing stored", body = dora_http::ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "Unknown tool", body = dora_http::ProblemDetails, content_type = "application/problem+json"),
        (status = 400, description = "An event is invalid (the attribute in `field`, the batch position in `index`); nothing of the request is stored", body = dora_http::ProblemDetails, content_type = "application/problem+json"),
        (status = 408, description = "The body stopped arriving, or arrived slower than `http.body_min_bytes_per_second`; the connection is closed", body = dora_http::ProblemDetails, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large, or holds more JSON values than the ingest memory budget could parse", body = dora_http::ProblemDetails, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`", body = dora_http::ProblemDetails, content_type = "application/problem+json"),
        (status = 503, description = "Overloaded or the database is unavailable; retry after `Retry-After`", body = dora_http::ProblemDetails, content_type = "application/problem+json")
    )
)]
async fn post_webhook(
    State(state): State<IngestState>,
    Path(tool): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let tool_webhook = webhook::webhook_for(&tool).ok_or_else(|| {
        let known: Vec<&str> = webhook::tools().collect();
        let detail = format!("no webhook for {tool:?}; known: {}", known.join(", "));
        Problem::unknown("unknown-webhook", "Unknown webhook", "tool", detail)
    })?;
    if state.webhooks.unsigned().contains(&tool.as_str()) {
        if let Err(refusal) = state.auth.check(&headers, Scope::Ingest).await {
            return Ok(auth::refusal_response(refusal, Scope::Ingest));
        }
    }
    // A token, or a signature's presence, is known from the headers: no body is read for a
    // request without them.
    tool_webhook
        .check_headers(&headers, &state.webhooks)
        .map_err(Problem::closing_connection)?;
    webhook::require_json(&headers)?;
    let limit = state.limits.max_batch_bytes;
    let (bytes, _budget) = state.read_body(&headers, body, limit).await?;
    let events = tool_webhook.receive(&headers, &bytes, &state.webhooks)?;
    drop(bytes);
    // The adapters build CloudEvents from the tool's payload: held to the same limits as any.
    for (i, event) in events.iter().enumerate() {
        event.check_storable().map_err(|e| {
            let index = (events.len() > 1).then_some(i);
            Problem::bad_request(
                "invalid-webhook",
                "Invalid webhook payload",
                e.attribute,
                e.message,
            )
            .at_index(index)
        })?;
    }
    let events = events
        .into_iter()
        .map(|event| {
            let content = event.to_json_string();
            raw_event(ReceivedEvent { event, content }, Origin::Events)
        })
        .collect();
    Ok(store(&state, events).await?.into_response())
}
