//! Opsgenie: Webhook integration payloads wrapped into CloudEvents by `POST /webhooks/opsgenie`
//! (`com.opsgenie.alert.<action>`, e.g. `com.opsgenie.alert.create`) -> incidents.
//!
//! # Input
//!
//! One CloudEvent per delivery, as the adapter (`dora_sources::opsgenie::webhook`) makes them:
//! `type` = `com.opsgenie.alert.<action in lower case>`, `source` = `opsgenie`, `id` =
//! `<alertId>/<action>` (`Create`, `Close`), `time` = when the action happened, `data` = the
//! payload (`action`, `alert`, `source`, `integrationName`, ...).
//!
//! # Output
//!
//! * [`ALERT_CREATED`] -> `dev.cdevents.incident.detected.0.3.0`, timestamp = `alert.createdAt`;
//! * [`ALERT_CLOSED`] -> `dev.cdevents.incident.resolved.0.3.0`, timestamp = `alert.updatedAt`
//!   (the last change of a closed alert is its closing), else `alert.createdAt`;
//! * anything else (`Acknowledge`, `AddNote`, `Escalate`, `TakeOwnership`, ...): nothing.
//!
//! Timestamps come from the alert ([`alert_time`]), else the CloudEvent `time`; never the clock.
//! Fields:
//!
//! * context `id` = `derived_id(["opsgenie", <CloudEvent source>, <CloudEvent id>])`, context
//!   `source` and `subject.source` = the CloudEvent source;
//! * `subject.id` = `alert.alertId`, the same for the creation and the closing, so they pair up;
//! * `subject.content.service.id` = the first of [`OpsgenieSettings::service_keys`] found
//!   ([`tagged`]: an extra property of `alert.details`, else a tag `<key>:<value>` or
//!   `<key>=<value>`), else `alert.entity` when [`OpsgenieSettings::entity_is_service`]; else
//!   no `service` (the incident is then attributed to no service);
//! * `subject.content.environment.id` = the first of [`OpsgenieSettings::environment_keys`]
//!   found the same way, else [`OpsgenieSettings::default_environment`] (`"production"` by
//!   default, and when set empty: the alerts that page someone are production ones);
//! * `subject.content.description` = `alert.message`;
//! * `customData.dora` = `action`, `alias`, `tinyId`, `priority`, `entity`, `team`, `tags`,
//!   `integrationName`, when present.
//!
//! Malformed data of a handled type (no `alert.alertId`, a time that is not one) is a
//! [`TransformError`] naming the field.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use dora_model::cloudevent::CloudEvent;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::common::{
    de, incident_cdevent, incident_content, insert_some, read, tag_value, time_value,
};
use crate::transform::{
    Emitted, TransformError, Transformer, INCIDENT_DETECTED, INCIDENT_RESOLVED,
};

/// The prefix of every Opsgenie CloudEvent type.
pub const TYPE_PREFIX: &str = "com.opsgenie.alert.";
/// CloudEvent type of a `Create` action.
pub const ALERT_CREATED: &str = "com.opsgenie.alert.create";
/// CloudEvent type of a `Close` action.
pub const ALERT_CLOSED: &str = "com.opsgenie.alert.close";
/// The environment of alerts that name none, when the setting is empty.
pub const DEFAULT_ENVIRONMENT: &str = "production";
/// Unix times at or above this are nanoseconds (`updatedAt`); below, seconds or milliseconds.
const UNIX_NANOS_FROM: i64 = 100_000_000_000_000_000;

/// `[sources.opsgenie]` in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpsgenieSettings {
    /// Extra properties (`alert.details`) or tag keys naming the service, first found wins.
    pub service_keys: Vec<String>,
    /// Extra properties or tag keys naming the environment, first found wins.
    pub environment_keys: Vec<String>,
    /// Whether `alert.entity` is the service when no `service_keys` is found (default true).
    pub entity_is_service: bool,
    /// The environment of alerts that name none (default `"production"`).
    pub default_environment: String,
}

impl Default for OpsgenieSettings {
    fn default() -> Self {
        Self {
            service_keys: vec!["service".into()],
            environment_keys: vec!["environment".into(), "env".into()],
            entity_is_service: true,
            default_environment: DEFAULT_ENVIRONMENT.into(),
        }
    }
}

/// A time of an Opsgenie alert: Unix nanoseconds (`updatedAt`, `insertedAt`), or anything
/// [`time_value`] reads (Unix milliseconds of `createdAt`, seconds, RFC 3339).
pub fn alert_time(value: &Value) -> Option<DateTime<Utc>> {
    match value.as_i64() {
        Some(nanos) if nanos >= UNIX_NANOS_FROM => Some(DateTime::from_timestamp_nanos(nanos)),
        _ => time_value(value),
    }
}

/// The `opsgenie` transformer.
pub struct OpsgenieTransformer {
    settings: OpsgenieSettings,
}

impl OpsgenieTransformer {
    pub fn new(settings: OpsgenieSettings) -> Self {
        Self { settings }
    }

    /// The service of the alert: a keyed property or tag, else its entity.
    fn service<'a>(&self, alert: &'a Alert<'a>) -> Option<&'a str> {
        tagged(alert, &self.settings.service_keys)
            .or(alert.entity.filter(|_| self.settings.entity_is_service))
    }

    fn environment<'a>(&'a self, alert: &'a Alert<'a>) -> &'a str {
        tagged(alert, &self.settings.environment_keys).unwrap_or(
            if self.settings.default_environment.is_empty() {
                DEFAULT_ENVIRONMENT
            } else {
                &self.settings.default_environment
            },
        )
    }
}

impl Transformer for OpsgenieTransformer {
    fn name(&self) -> &str {
        "opsgenie"
    }

    fn transform(&self, event: &CloudEvent) -> Result<Vec<Emitted>, TransformError> {
        let (event_type, names): (_, &[&str]) = match event.event_type.as_str() {
            ALERT_CREATED => (INCIDENT_DETECTED, &["createdAt"]),
            ALERT_CLOSED => (INCIDENT_RESOLVED, &["updatedAt", "createdAt"]),
            _ => return Ok(Vec::new()),
        };
        let data = event
            .data_json()
            .ok_or_else(|| TransformError::new("data is missing or not JSON"))?;
        let webhook: Webhook<'_> = read(data)?;
        let alert = &webhook.alert;
        let timestamp = timestamp(data, names)?
            .or(event.time)
            .ok_or_else(|| crate::common::no_timestamp(&["data.alert.createdAt"]))?;
        let content = incident_content(alert.message, self.environment(alert), self.service(alert));
        Ok(vec![incident_cdevent(
            "opsgenie",
            event,
            event_type,
            timestamp,
            alert.alert_id.to_owned(),
            content,
            details(&webhook),
        )])
    }
}

/// The first of `names` that `data.alert` has, read by [`alert_time`].
fn timestamp(data: &Value, names: &[&str]) -> Result<Option<DateTime<Utc>>, TransformError> {
    for name in names {
        match data.pointer(&format!("/alert/{name}")) {
            None | Some(Value::Null) => continue,
            Some(value) => {
                return alert_time(value).map(Some).ok_or_else(|| {
                    TransformError::new(format!("data.alert.{name} {value} is not a timestamp"))
                })
            }
        }
    }
    Ok(None)
}

/// The value of the first of `keys` the alert carries: an extra property (`alert.details`),
/// else a tag `<key>:<value>` or `<key>=<value>` (key compared without case); empty values are
/// as if absent.
fn tagged<'a>(alert: &'a Alert<'a>, keys: &[String]) -> Option<&'a str> {
    keys.iter().find_map(|key| {
        let property = alert
            .details
            .as_ref()
            .and_then(|details| details.get(key.as_str()))
            .map(|value| value.trim())
            .filter(|value| !value.is_empty());
        property.or_else(|| tag_value(alert.tags.as_deref().unwrap_or_default(), key))
    })
}

/// The payload, as far as the transformer reads it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Webhook<'a> {
    #[serde(default, borrow, deserialize_with = "de::optional_text")]
    action: Option<&'a str>,
    #[serde(borrow)]
    alert: Alert<'a>,
    #[serde(default, borrow)]
    integration_name: Option<&'a str>,
}

/// `data.alert`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Alert<'a> {
    #[serde(borrow, deserialize_with = "de::text")]
    alert_id: &'a str,
    #[serde(default, borrow, deserialize_with = "de::optional_text")]
    message: Option<&'a str>,
    #[serde(default, borrow, deserialize_with = "de::optional_text")]
    entity: Option<&'a str>,
    #[serde(default, borrow, deserialize_with = "de::optional_text")]
    alias: Option<&'a str>,
    #[serde(default, borrow, deserialize_with = "de::optional_text")]
    tiny_id: Option<&'a str>,
    #[serde(default, borrow, deserialize_with = "de::optional_text")]
    team: Option<&'a str>,
    /// `P3` in newer payloads, `3` in older ones: passed on as sent.
    #[serde(default)]
    priority: Option<Value>,
    /// Read when it is an array of strings.
    #[serde(default, deserialize_with = "de::lenient")]
    tags: Option<Vec<String>>,
    /// Extra properties, read when they are an object of strings.
    #[serde(default, deserialize_with = "de::lenient")]
    details: Option<BTreeMap<String, String>>,
}

/// `customData.dora` of the incident.
fn details(webhook: &Webhook<'_>) -> Map<String, Value> {
    let alert = &webhook.alert;
    let mut details = Map::new();
    for (key, text) in [
        ("action", webhook.action),
        ("alias", alert.alias),
        ("tinyId", alert.tiny_id),
        ("entity", alert.entity),
        ("team", alert.team),
        ("integrationName", webhook.integration_name),
    ] {
        insert_some(&mut details, key, text);
    }
    insert_some(
        &mut details,
        "priority",
        alert.priority.as_ref().filter(|p| !p.is_null()),
    );
    if let Some(tags) = alert.tags.as_ref().filter(|tags| !tags.is_empty()) {
        details.insert("tags".into(), json!(tags));
    }
    details
}
