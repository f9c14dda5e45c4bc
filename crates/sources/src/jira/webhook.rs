//! `POST /webhooks/jira`: Jira Cloud (or Data Center) issue webhooks, one CloudEvent per
//! delivery.
//!
//! # Signature
//!
//! When `[webhooks.jira] secret` is set, `X-Hub-Signature` must be `sha256=<hex>`, the
//! HMAC-SHA256 of the raw body under the secret (the webhook's "Secret" in Jira Cloud),
//! compared in constant time. A missing or non-matching signature is `401` naming
//! `X-Hub-Signature`, and nothing is stored.
//!
//! # The CloudEvent
//!
//! The body is `{"timestamp", "webhookEvent", "issue": {"id", "key", "self", "fields"}, ...}`;
//! it becomes one CloudEvent:
//!
//! * `type`: `com.atlassian.jira.<webhookEvent without "jira:">`, e.g.
//!   `com.atlassian.jira.issue_created`; every event is stored (the `jira` transformer maps
//!   `issue_created` and `issue_updated`);
//! * `source`: scheme and host of `issue.self` (the Jira site), or `jira` without one;
//! * `id`: `<issue.id>/<webhookEvent>/<timestamp>` (a retry of a delivery is a duplicate);
//! * `time`: `timestamp` (Unix milliseconds), written as RFC 3339;
//! * `data`: the payload as sent.
//!
//! A malformed payload (not JSON, not an object, no `webhookEvent`, `timestamp`, `issue`
//! object or `issue.id`) is `400` naming the field as a JSON pointer.

use super::TYPE_PREFIX;
use dora_http::Problem;
use dora_model::cloudevent::CloudEvent;
use dora_model::time::from_unix_int;
use http::HeaderMap;
use serde_json::Value;

use crate::webhook::{
    invalid_payload, json_object_body, payload_event_at, required_object, required_text,
    url_origin, Authentication, Webhook,
};

/// The header carrying the signature.
const SIGNATURE: &str = "X-Hub-Signature";
/// The source of events whose issue names no site.
pub const DEFAULT_SOURCE: &str = "jira";
/// The title of its `400`s.
const TITLE: &str = "Invalid Jira payload";

/// `POST /webhooks/jira`: signed when `[webhooks.jira] secret` is set.
pub const WEBHOOK: Webhook = Webhook::new(
    "jira",
    Authentication::Sha256Signature { header: SIGNATURE },
    adapt,
);

/// Wraps the payload of an authenticated request into a CloudEvent.
fn adapt(_headers: &HeaderMap, body: &[u8]) -> Result<Vec<CloudEvent>, Problem> {
    let payload = json_object_body(body, "a Jira webhook payload", TITLE)?;
    let event = required_text(&payload, "", "webhookEvent", TITLE)?;
    let time = payload
        .get("timestamp")
        .and_then(Value::as_i64)
        .and_then(from_unix_int)
        .ok_or_else(|| invalid("/timestamp", "is required (Unix milliseconds)"))?;
    let issue = required_object(&payload, "", "issue", TITLE)?;
    let issue_id = match issue.get("id") {
        Some(Value::String(id)) if !id.is_empty() => id.clone(),
        Some(Value::Number(id)) => id.to_string(),
        _ => return Err(invalid("/issue/id", "is required (a string)")),
    };
    let source = match issue.get("self") {
        Some(Value::String(url)) => url_origin(url),
        _ => None,
    }
    .unwrap_or_else(|| DEFAULT_SOURCE.to_owned());
    let millis = time.timestamp_millis();
    let event_type = format!("{TYPE_PREFIX}{}", event.trim_start_matches("jira:"));
    let id = format!("{issue_id}/{event}/{millis}");
    Ok(payload_event_at(id, source, event_type, payload, time))
}

/// `400` about one field of the payload.
fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Problem {
    invalid_payload(TITLE, field, detail)
}
