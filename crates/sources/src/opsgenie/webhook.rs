//! `POST /webhooks/opsgenie`: Opsgenie's outgoing Webhook integration, one CloudEvent per
//! delivery.
//!
//! # Authentication
//!
//! When `[webhooks.opsgenie] token` is set, the request must carry
//! `Authorization: Bearer <token>` (a custom header of the Webhook integration, "Add Custom
//! Headers To Request"); the token is compared in constant time. A missing or wrong token is
//! `401` naming `Authorization`, and nothing is stored.
//!
//! # The CloudEvent
//!
//! The body is `{"action", "alert": {"alertId", "message", "tags", "entity", "createdAt",
//! "updatedAt", ...}, "source", "integrationName", ...}`; it becomes one CloudEvent:
//!
//! * `type`: `com.opsgenie.alert.<action in lower case>`, e.g. `com.opsgenie.alert.create`,
//!   `.close`, `.acknowledge`, `.addnote`; every action is stored (the `opsgenie` transformer
//!   maps only `Create` and `Close`);
//! * `source`: `opsgenie` (the payload names no account; alert ids are unique across them);
//! * `id`: `<alertId>/<action>` for `Create` and `Close` (each happens once to an alert, so a
//!   redelivery, or the same alert sent by a second Webhook integration, is a duplicate);
//!   `<alertId>/<action>/<updatedAt>` for the actions that can repeat (`Acknowledge`,
//!   `AddNote`, ...);
//! * `time`: when the action happened: `alert.createdAt` for `Create`, else `alert.updatedAt`
//!   (else `alert.createdAt`), read by [`alert_time`] (Opsgenie sends milliseconds in
//!   `createdAt` and nanoseconds in `updatedAt`), written as RFC 3339;
//! * `data`: the payload as sent.
//!
//! A malformed payload (not JSON, not an object, no `action` or `alert` object, no
//! `alert.alertId`, no usable time) is `400` naming the field as a JSON pointer.

use super::{alert_time, TYPE_PREFIX};
use dora_http::Problem;
use dora_model::cloudevent::CloudEvent;
use http::HeaderMap;
use serde_json::{Map, Value};

use crate::webhook::{
    invalid_payload, json_object_body, payload_event_at, required_object, required_text,
    Authentication, Webhook,
};

/// The source of every Opsgenie CloudEvent.
pub const DEFAULT_SOURCE: &str = "opsgenie";
/// The title of its `400`s.
const TITLE: &str = "Invalid Opsgenie payload";

/// `POST /webhooks/opsgenie`: a bearer token when `[webhooks.opsgenie] token` is set.
pub const WEBHOOK: Webhook = Webhook::new(
    "opsgenie",
    Authentication::Bearer {
        hint: "a custom header of the Opsgenie Webhook integration",
    },
    adapt,
);

/// Wraps the payload of an authenticated request into a CloudEvent.
fn adapt(_headers: &HeaderMap, body: &[u8]) -> Result<Vec<CloudEvent>, Problem> {
    let payload = json_object_body(body, "an Opsgenie webhook payload", TITLE)?;
    let action = required_text(&payload, "", "action", TITLE)?.to_ascii_lowercase();
    let alert = required_object(&payload, "", "alert", TITLE)?;
    let alert_id = required_text(alert, "/alert", "alertId", TITLE)?;
    let order: &[&str] = if action == "create" {
        &["createdAt"]
    } else {
        &["updatedAt", "createdAt"]
    };
    let (time, updated) = action_time(alert, order)?;
    let id = if action == "create" || action == "close" {
        format!("{alert_id}/{action}")
    } else {
        format!("{alert_id}/{action}/{updated}")
    };
    let (source, event_type) = (DEFAULT_SOURCE.to_owned(), format!("{TYPE_PREFIX}{action}"));
    Ok(payload_event_at(id, source, event_type, payload, time))
}

/// The time of the first of `names` the alert has, and that member as sent (for the id).
fn action_time(
    alert: &Map<String, Value>,
    names: &[&str],
) -> Result<(chrono::DateTime<chrono::Utc>, String), Problem> {
    for name in names {
        match alert.get(*name) {
            None | Some(Value::Null) => continue,
            Some(value) => {
                let time = alert_time(value).ok_or_else(|| {
                    invalid(
                        format!("/alert/{name}"),
                        format!("{value} is not a time (Unix milliseconds or nanoseconds)"),
                    )
                })?;
                let text = match value {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                return Ok((time, text));
            }
        }
    }
    let first = names.first().copied().unwrap_or("createdAt");
    Err(invalid(
        format!("/alert/{first}"),
        "is required (Unix milliseconds or nanoseconds)",
    ))
}

/// `400` about one field of the payload.
fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Problem {
    invalid_payload(TITLE, field, detail)
}
