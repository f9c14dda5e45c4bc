//! `POST /webhooks/alertmanager`: Prometheus Alertmanager's webhook receiver
//! (`webhook_configs`, payload `version` "4"), one CloudEvent per alert.
//!
//! # Authentication
//!
//! When `[webhooks.alertmanager] token` is set, the request must carry
//! `Authorization: Bearer <token>` (what Alertmanager sends with
//! `http_config.authorization.credentials`); the token is compared in constant time. A missing
//! or wrong token is `401` naming `Authorization`, and nothing is stored.
//!
//! # The CloudEvents
//!
//! Each element of `alerts` becomes one CloudEvent:
//!
//! * `type`: `io.prometheus.alertmanager.alert.firing` or `.resolved`, after the alert's own
//!   `status` (a notification of a firing group may carry resolved alerts). An alert without a
//!   `status` takes the notification's `status`;
//! * `source`: the notification's `externalURL`, or `alertmanager` when it is empty;
//! * `id`: `<fingerprint>/<startsAt in UTC>/<status>` (see
//!   `dora_sources::alertmanager::event_id`): a firing alert sent again is a
//!   duplicate, whatever its `endsAt`; its resolution is a new event. Alerts without
//!   `fingerprint` (Alertmanager < 0.19) get the fingerprint Alertmanager computes from their
//!   labels (`label_fingerprint`);
//! * `time`: `startsAt` (firing) or `endsAt` (resolved), as sent;
//! * `data`: the alert object as sent, plus the notification's `receiver`, `groupKey`,
//!   `commonLabels` and `externalURL`.
//!
//! A malformed payload (not JSON, no `alerts` array, an alert that is not an object, without
//! `startsAt` or a usable `status`, a resolved alert without `endsAt`, a label that is not a
//! string) is `400` naming the field as a JSON pointer (e.g. `/alerts/0/startsAt`); nothing of
//! it is stored.

use super::{event_id, is_set, label_fingerprint, ALERT_FIRING, ALERT_RESOLVED};
use chrono::{DateTime, Utc};
use dora_http::Problem;
use dora_model::cloudevent::CloudEvent;
use dora_model::time::parse_rfc3339;
use http::HeaderMap;
use serde_json::{Map, Value};

use crate::webhook::{invalid_payload, json_object_body, Authentication, Webhook};

/// The title of its `400`s.
const TITLE: &str = "Invalid Alertmanager payload";

/// The source of notifications without `externalURL`.
pub const DEFAULT_SOURCE: &str = "alertmanager";
/// The members of the notification copied into each alert's data.
const GROUP_FIELDS: [&str; 4] = ["receiver", "groupKey", "commonLabels", "externalURL"];

/// `POST /webhooks/alertmanager`: a bearer token when `[webhooks.alertmanager] token` is set.
pub const WEBHOOK: Webhook = Webhook::new(
    "alertmanager",
    Authentication::Bearer {
        hint: "http_config.authorization in the Alertmanager receiver",
    },
    adapt,
);

/// Wraps the payload of an authenticated request into CloudEvents.
fn adapt(_headers: &HeaderMap, body: &[u8]) -> Result<Vec<CloudEvent>, Problem> {
    let group = json_object_body(body, "an Alertmanager notification", TITLE)?;
    let alerts = match group.get("alerts") {
        Some(Value::Array(alerts)) => alerts,
        None | Some(Value::Null) => return Err(invalid("/alerts", "is required (an array)")),
        Some(_) => return Err(invalid("/alerts", "must be an array")),
    };
    let group_status = match group.get("status") {
        None | Some(Value::Null) => None,
        Some(Value::String(status)) => Some(status.as_str()),
        Some(_) => return Err(invalid("/status", "must be a string")),
    };
    let source = match group.get("externalURL") {
        None | Some(Value::Null) => DEFAULT_SOURCE,
        Some(Value::String(url)) if url.is_empty() => DEFAULT_SOURCE,
        Some(Value::String(url)) => url.as_str(),
        Some(_) => return Err(invalid("/externalURL", "must be a string")),
    };
    let mut group_fields = Map::new();
    for name in GROUP_FIELDS {
        if let Some(value) = group.get(name) {
            group_fields.insert(name.to_owned(), value.clone());
        }
    }
    alerts
        .iter()
        .enumerate()
        .map(|(index, alert)| one_alert(index, alert, group_status, source, &group_fields))
        .collect()
}

/// The CloudEvent of `alerts[index]`.
fn one_alert(
    index: usize,
    alert: &Value,
    group_status: Option<&str>,
    source: &str,
    group_fields: &Map<String, Value>,
) -> Result<CloudEvent, Problem> {
    let at = |name: &str| format!("/alerts/{index}/{name}");
    let Value::Object(alert) = alert else {
        return Err(invalid(
            format!("/alerts/{index}"),
            "an alert must be an object",
        ));
    };
    let resolved = alert_status(alert, group_status, &at)?;
    let status = if resolved { "resolved" } else { "firing" };
    let empty = Map::new();
    let labels = match alert.get("labels") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(labels)) => labels,
        Some(_) => return Err(invalid(at("labels"), "must be an object")),
    };
    let derived = label_fingerprint(labels).map_err(|name| {
        invalid(
            format!("/alerts/{index}/labels/{}", pointer_escape(&name)),
            "label values must be strings",
        )
    })?;
    let fingerprint = match alert.get("fingerprint") {
        None | Some(Value::Null) => derived,
        Some(Value::String(fingerprint)) if !fingerprint.is_empty() => fingerprint.clone(),
        Some(_) => return Err(invalid(at("fingerprint"), "must be a non-empty string")),
    };
    let (starts_at, starts_text) = time(alert, "startsAt", &at("startsAt"))?;
    if !is_set(&starts_at) {
        return Err(invalid(at("startsAt"), "is the zero time"));
    }
    let (time, time_text) = if resolved {
        let (ends_at, ends_text) = time(alert, "endsAt", &at("endsAt"))?;
        if !is_set(&ends_at) {
            return Err(invalid(
                at("endsAt"),
                "is the zero time, but a resolved alert must say when it ended",
            ));
        }
        (ends_at, ends_text)
    } else {
        (starts_at, starts_text)
    };

    let mut data = alert.clone();
    for (name, value) in group_fields {
        data.insert(name.clone(), value.clone());
    }
    let event_type = if resolved {
        ALERT_RESOLVED
    } else {
        ALERT_FIRING
    };
    let id = event_id(&fingerprint, &starts_at, status);
    Ok(CloudEvent::json(
        id,
        source.to_owned(),
        event_type.to_owned(),
        Value::Object(data),
    )
    .at(time, time_text.to_owned()))
}

/// Whether the alert is resolved (else firing): its own `status`, else the group's.
fn alert_status(
    alert: &Map<String, Value>,
    group_status: Option<&str>,
    at: &dyn Fn(&str) -> String,
) -> Result<bool, Problem> {
    let status = match alert.get("status") {
        None | Some(Value::Null) => group_status,
        Some(Value::String(status)) => Some(status.as_str()),
        Some(_) => return Err(invalid(at("status"), "must be a string")),
    };
    match status {
        Some("firing") => Ok(false),
        Some("resolved") => Ok(true),
        Some(other) => Err(invalid(
            at("status"),
            format!("{other:?} is not an alert status (\"firing\" or \"resolved\")"),
        )),
        None => Err(invalid(
            at("status"),
            "is required (\"firing\" or \"resolved\")",
        )),
    }
}

/// A required RFC 3339 member of an alert, parsed and as sent.
fn time<'a>(
    alert: &'a Map<String, Value>,
    name: &str,
    pointer: &str,
) -> Result<(DateTime<Utc>, &'a str), Problem> {
    match alert.get(name) {
        Some(Value::String(text)) if !text.is_empty() => parse_rfc3339(text)
            .map(|time| (time, text.as_str()))
            .ok_or_else(|| invalid(pointer, format!("{text:?} is not an RFC 3339 timestamp"))),
        None | Some(Value::Null) | Some(Value::String(_)) => {
            Err(invalid(pointer, "is required (an RFC 3339 timestamp)"))
        }
        Some(_) => Err(invalid(pointer, "must be a string")),
    }
}

/// Escapes a name for use as a JSON pointer segment (RFC 6901).
fn pointer_escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// `400` about one field of the payload.
fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Problem {
    invalid_payload(TITLE, field, detail)
}
