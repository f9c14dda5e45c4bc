//! `POST /webhooks/pagerduty`: PagerDuty v3 webhook subscriptions, one CloudEvent per delivery.
//!
//! # Signature
//!
//! When `[webhooks.pagerduty] secret` is set, `X-PagerDuty-Signature` must hold at least one
//! `v1=<hex>` entry (the header is a comma-separated list: PagerDuty signs with every secret of
//! the subscription while one is being rotated) that is the HMAC-SHA256 of the raw body under
//! the secret, compared in constant time. Entries of other versions are ignored. A missing or
//! non-matching signature is `401` naming `X-PagerDuty-Signature`, and nothing is stored.
//!
//! # The CloudEvent
//!
//! The body is `{"event": {"id", "event_type", "resource_type", "occurred_at", "agent",
//! "client", "data"}}`; it becomes one CloudEvent:
//!
//! * `type`: `com.pagerduty.<event_type>`, e.g. `com.pagerduty.incident.triggered`; every event
//!   type is stored (the `pagerduty` transformer maps only `incident.triggered` and
//!   `incident.resolved`), including the `pagey.ping` a new subscription sends;
//! * `source`: scheme and host of `event.data.html_url` (the incident's page, e.g.
//!   `https://acme.pagerduty.com`: the PagerDuty account), or `pagerduty` without one;
//! * `id`: `event.id` (unique per event, the same on PagerDuty's retries, so a redelivery is a
//!   duplicate);
//! * `time`: `event.occurred_at`, as sent;
//! * `data`: the `event` object.
//!
//! A malformed payload (not JSON, no `event` object, no `event.id`, `event.event_type` or
//! parsable `event.occurred_at`) is `400` naming the field as a JSON pointer.

use super::TYPE_PREFIX;
use dora_http::Problem;
use dora_model::cloudevent::CloudEvent;
use dora_model::time::parse_rfc3339;
use http::HeaderMap;
use serde_json::Value;

use crate::webhook::{
    check_signature_header, hmac_sha256_matches, invalid_payload, json_object_body,
    required_object, required_text, url_origin, Authentication, Webhook,
};

/// The header carrying the signatures.
const SIGNATURE: &str = "X-PagerDuty-Signature";
/// The source of events that name no PagerDuty account.
pub const DEFAULT_SOURCE: &str = "pagerduty";
/// The title of its `400`s.
const TITLE: &str = "Invalid PagerDuty payload";

/// `POST /webhooks/pagerduty`: [`check_signature`] when `[webhooks.pagerduty] secret` is set.
pub const WEBHOOK: Webhook = Webhook::new(
    "pagerduty",
    Authentication::BodySignature {
        header: SIGNATURE,
        check: check_signature,
    },
    adapt,
);

/// Wraps the payload of an authenticated request into CloudEvents.
fn adapt(_headers: &HeaderMap, body: &[u8]) -> Result<Vec<CloudEvent>, Problem> {
    let payload = json_object_body(body, "a PagerDuty webhook payload", TITLE)?;
    let event = required_object(&payload, "", "event", TITLE)?;
    let id = required_text(event, "/event", "id", TITLE)?;
    let event_type = required_text(event, "/event", "event_type", TITLE)?;
    let occurred_at = required_text(event, "/event", "occurred_at", TITLE)?;
    let time = parse_rfc3339(occurred_at).ok_or_else(|| {
        invalid(
            "/event/occurred_at",
            format!("{occurred_at:?} is not an RFC 3339 timestamp"),
        )
    })?;
    let source = match event.get("data") {
        None | Some(Value::Null) => None,
        Some(Value::Object(data)) => match data.get("html_url") {
            Some(Value::String(url)) => url_origin(url),
            _ => None,
        },
        Some(_) => return Err(invalid("/event/data", "must be an object")),
    }
    .unwrap_or_else(|| DEFAULT_SOURCE.to_owned());
    let event_type = format!("{TYPE_PREFIX}{event_type}");
    Ok(vec![CloudEvent::json(
        id.to_owned(),
        source,
        event_type,
        Value::Object(event.clone()),
    )
    .at(time, occurred_at.to_owned())])
}

/// Any `v1=<hex>` entry of `X-PagerDuty-Signature` that is the HMAC-SHA256 of the body.
fn check_signature(headers: &HeaderMap, body: &[u8], secret: &str) -> Result<(), Problem> {
    check_signature_header(
        headers,
        SIGNATURE,
        "the request has no X-PagerDuty-Signature header, but [webhooks.pagerduty] secret is set",
        "no v1 signature in X-PagerDuty-Signature matches the body under [webhooks.pagerduty] \
         secret",
        |value| {
            value
                .split(',')
                .filter_map(|entry| entry.trim().strip_prefix("v1="))
                .any(|signature| hmac_sha256_matches(secret.as_bytes(), body, signature))
        },
    )
}

/// `400` about one field of the payload.
fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Problem {
    invalid_payload(TITLE, field, detail)
}
