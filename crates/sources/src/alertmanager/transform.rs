//! Prometheus Alertmanager: alerts wrapped into CloudEvents by `POST /webhooks/alertmanager`
//! (`io.prometheus.alertmanager.alert.firing|resolved`) -> `incident.detected|resolved`.
//!
//! # Input
//!
//! One CloudEvent per alert, as the webhook adapter (`dora_sources::alertmanager::webhook`)
//! makes them from an Alertmanager webhook notification (payload version 4):
//!
//! * `type`: [`ALERT_FIRING`] or [`ALERT_RESOLVED`], after the alert's own `status`;
//! * `source`: the notification's `externalURL` (the Alertmanager), or `alertmanager`;
//! * `id`: [`event_id`] = `<fingerprint>/<startsAt>/<status>`, with `startsAt` in UTC
//!   ([`format_rfc3339`]). A firing alert sent again (every `repeat_interval`, or by each replica
//!   of an HA pair) has the same id, so the raw store keeps it once; its `endsAt`, which
//!   Alertmanager moves forward on every resend, is not part of the id. The resolution is another
//!   id, and counts once;
//! * `data`: the alert object as sent (`status`, `labels`, `annotations`, `startsAt`, `endsAt`,
//!   `generatorURL`, `fingerprint`), plus the notification's `receiver`, `groupKey`,
//!   `commonLabels` and `externalURL`.
//!
//! Alerts from Alertmanager versions before 0.19 carry no `fingerprint`. It is then computed
//! from the labels by [`label_fingerprint`], the algorithm Alertmanager itself uses
//! (`model.LabelSet.Fingerprint` of prometheus/common: 64-bit FNV-1a over the label names and
//! values sorted by name, each followed by the byte `0xff`, printed as 16 hex digits), so an
//! upgraded Alertmanager sends the very fingerprint derived before the upgrade.
//!
//! Other types (under the same prefix, or routed here by mistake) give nothing.
//!
//! # Output
//!
//! * firing -> `dev.cdevents.incident.detected.0.3.0` ([`INCIDENT_DETECTED`]), timestamp =
//!   `startsAt`;
//! * resolved -> `dev.cdevents.incident.resolved.0.3.0` ([`INCIDENT_RESOLVED`]), timestamp =
//!   `endsAt` (required, and not Go's zero time `0001-01-01T00:00:00Z`).
//!
//! Timestamps always come from the alert, never from the clock. Fields:
//!
//! * context `id` = `derived_id(["alertmanager", <CloudEvent source>, <CloudEvent id>])`, context
//!   `source` and `subject.source` = the CloudEvent source;
//! * `subject.id` = the incident identity [`incident_key`] = `<fingerprint>/<startsAt>`, the same
//!   for the detection and the resolution of one alert, so they pair up; an alert that fires
//!   again after it resolved has a new `startsAt`, so it is a new incident;
//! * `subject.content.service.id` = the value of the first label of
//!   [`AlertmanagerSettings::service_labels`] the alert has (non-empty); no such label: no
//!   `service` (the incident is then attributed to no service);
//! * `subject.content.environment.id` = the first label of
//!   [`AlertmanagerSettings::environment_labels`]; else
//!   [`AlertmanagerSettings::default_environment`] (`"unknown"` by default, and when set
//!   empty): the incident schemas require an environment;
//! * `subject.content.description` = the annotation `summary`, else `description`, else
//!   `message`, else the label `alertname`;
//! * `customData.dora` = `fingerprint`, `status`, `startsAt`, `endsAt` (resolved only: on a
//!   firing alert it is only Alertmanager's guess of when to give up, not a fact), `generatorURL`
//!   (when sent), `labels` (all of them).
//!
//! Malformed data (not an object, a label that is not a string, a missing, unparsable or zero
//! `startsAt`, a resolved alert without `endsAt`) is a [`TransformError`] naming the field.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use dora_model::cloudevent::CloudEvent;
use dora_model::time::{format_rfc3339, parse_rfc3339};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::common::{de, incident_cdevent, incident_content, read};
use crate::transform::{Emitted, TransformError, Transformer};
pub use crate::transform::{INCIDENT_DETECTED, INCIDENT_RESOLVED};

/// The type prefix of every Alertmanager CloudEvent.
pub const TYPE_PREFIX: &str = "io.prometheus.alertmanager.";
/// CloudEvent type of a firing alert.
pub const ALERT_FIRING: &str = "io.prometheus.alertmanager.alert.firing";
/// CloudEvent type of a resolved alert.
pub const ALERT_RESOLVED: &str = "io.prometheus.alertmanager.alert.resolved";

/// The environment of alerts without an environment label, when the setting is empty.
pub const UNKNOWN_ENVIRONMENT: &str = "unknown";

/// `[sources.alertmanager]` in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertmanagerSettings {
    /// Alert labels naming the service, first present wins.
    pub service_labels: Vec<String>,
    /// Alert labels naming the environment, first present wins.
    pub environment_labels: Vec<String>,
    /// The environment of alerts that carry none of `environment_labels` (default `"unknown"`).
    pub default_environment: String,
}

impl Default for AlertmanagerSettings {
    fn default() -> Self {
        Self {
            service_labels: vec!["service".into(), "app".into(), "job".into()],
            environment_labels: vec!["environment".into(), "env".into(), "namespace".into()],
            default_environment: UNKNOWN_ENVIRONMENT.into(),
        }
    }
}

/// The `alertmanager` transformer.
pub struct AlertmanagerTransformer {
    settings: AlertmanagerSettings,
}

impl AlertmanagerTransformer {
    pub fn new(settings: AlertmanagerSettings) -> Self {
        Self { settings }
    }
}

/// FNV-1a, 64 bits: offset basis and prime.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
/// What prometheus/common puts after each label name and value (`model.SeparatorByte`).
const SEPARATOR: u8 = 0xff;

/// The fingerprint Alertmanager gives an alert with these labels (`model.LabelSet.Fingerprint`
/// of prometheus/common), as the 16 lowercase hex digits the webhook sends. A label whose value
/// is not a string is an error carrying that label's name.
pub fn label_fingerprint(labels: &Map<String, Value>) -> Result<String, String> {
    let mut sorted = BTreeMap::new();
    for (name, value) in labels {
        match value {
            Value::String(value) => {
                sorted.insert(name.as_str(), value.as_str());
            }
            _ => return Err(name.clone()),
        }
    }
    let mut hash = FNV_OFFSET;
    let mut add = |bytes: &[u8]| {
        for byte in bytes.iter().chain(std::iter::once(&SEPARATOR)) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(FNV_PRIME);
        }
    };
    for (name, value) in sorted {
        add(name.as_bytes());
        add(value.as_bytes());
    }
    Ok(format!("{hash:016x}"))
}

/// The identity of the incident an alert stands for: `<fingerprint>/<startsAt in UTC>`.
pub fn incident_key(fingerprint: &str, starts_at: &DateTime<Utc>) -> String {
    format!("{fingerprint}/{}", format_rfc3339(starts_at))
}

/// The CloudEvent id of an alert in a state (`firing` or `resolved`): the incident identity
/// followed by the state.
pub fn event_id(fingerprint: &str, starts_at: &DateTime<Utc>, status: &str) -> String {
    format!("{}/{status}", incident_key(fingerprint, starts_at))
}

/// False for Go's zero time (`0001-01-01T00:00:00Z`), which Alertmanager sends for "not set".
pub fn is_set(time: &DateTime<Utc>) -> bool {
    time.year() > 1
}

impl Transformer for AlertmanagerTransformer {
    fn name(&self) -> &str {
        "alertmanager"
    }

    fn transform(&self, event: &CloudEvent) -> Result<Vec<Emitted>, TransformError> {
        let resolved = match event.event_type.as_str() {
            ALERT_FIRING => false,
            ALERT_RESOLVED => true,
            _ => return Ok(Vec::new()),
        };
        let data = event
            .data_json()
            .ok_or_else(|| TransformError::new("data is missing or not JSON"))?;
        let alert: Alert<'_> = read(data)?;
        let empty = Map::new();
        let labels = alert.labels.as_ref().unwrap_or(&empty);
        let fingerprint = match alert.fingerprint {
            Some(fingerprint) => fingerprint.to_owned(),
            None => label_fingerprint(labels).map_err(|name| {
                TransformError::new(format!("data.labels.{name} is not a string"))
            })?,
        };
        let (starts_at, ends_at) = alert_times(&alert, resolved)?;

        let service = first_label(labels, &self.settings.service_labels)?;
        let environment = match first_label(labels, &self.settings.environment_labels)? {
            Some(environment) => environment,
            None if self.settings.default_environment.is_empty() => UNKNOWN_ENVIRONMENT,
            None => self.settings.default_environment.as_str(),
        };
        let description = description(&alert, labels)?;

        let content = incident_content(description, environment, service);

        let status = if resolved { "resolved" } else { "firing" };
        let mut details = Map::new();
        details.insert("fingerprint".into(), json!(fingerprint));
        details.insert("status".into(), json!(status));
        details.insert("startsAt".into(), json!(format_rfc3339(&starts_at)));
        if let Some(ends_at) = &ends_at {
            details.insert("endsAt".into(), json!(format_rfc3339(ends_at)));
        }
        if let Some(url) = alert.generator_url {
            details.insert("generatorURL".into(), json!(url));
        }
        details.insert("labels".into(), Value::Object(labels.clone()));

        let cdevent = incident_cdevent(
            "alertmanager",
            event,
            if resolved {
                INCIDENT_RESOLVED
            } else {
                INCIDENT_DETECTED
            },
            ends_at.unwrap_or(starts_at),
            incident_key(&fingerprint, &starts_at),
            content,
            details,
        );
        Ok(vec![cdevent])
    }
}

/// The first of the labels `names` that is set.
fn first_label<'a>(
    labels: &'a Map<String, Value>,
    names: &[String],
) -> Result<Option<&'a str>, TransformError> {
    for name in names {
        match labels.get(name) {
            Some(Value::String(value)) if !value.is_empty() => return Ok(Some(value)),
            None | Some(Value::Null) | Some(Value::String(_)) => {}
            Some(_) => {
                return Err(TransformError::new(format!(
                    "data.labels.{name} is not a string"
                )))
            }
        }
    }
    Ok(None)
}

/// The annotation `name` of the alert, when set.
fn annotation<'a>(alert: &'a Alert<'_>, name: &str) -> Result<Option<&'a str>, TransformError> {
    match alert
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get(name))
    {
        Some(Value::String(text)) if !text.is_empty() => Ok(Some(text)),
        None | Some(Value::Null) | Some(Value::String(_)) => Ok(None),
        Some(_) => Err(TransformError::new(format!(
            "data.annotations.{name} is not a string"
        ))),
    }
}

/// The incident's description: the `summary`, `description` or `message` annotation, else the
/// `alertname` label.
fn description<'a>(
    alert: &'a Alert<'_>,
    labels: &'a Map<String, Value>,
) -> Result<Option<&'a str>, TransformError> {
    for name in ["summary", "description", "message"] {
        if let Some(text) = annotation(alert, name)? {
            return Ok(Some(text));
        }
    }
    first_label(labels, &["alertname".to_owned()])
}

/// When the alert started and, for a resolved one, ended; the zero time is refused.
fn alert_times(
    alert: &Alert<'_>,
    resolved: bool,
) -> Result<(DateTime<Utc>, Option<DateTime<Utc>>), TransformError> {
    let starts_at = required_time(alert.starts_at, "startsAt")?;
    if !is_set(&starts_at) {
        return Err(TransformError::new("data.startsAt is the zero time"));
    }
    if !resolved {
        return Ok((starts_at, None));
    }
    let ends_at = required_time(alert.ends_at, "endsAt")?;
    if !is_set(&ends_at) {
        return Err(TransformError::new(
            "data.endsAt is the zero time, but a resolved alert must say when it ended",
        ));
    }
    Ok((starts_at, Some(ends_at)))
}

/// One alert of the webhook, as far as the transformer reads it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Alert<'a> {
    /// Empty (Alertmanager before 0.19 sends none) is as if absent.
    #[serde(default, borrow, deserialize_with = "de::optional_text")]
    fingerprint: Option<&'a str>,
    /// Label values are read as strings where they are used.
    #[serde(default)]
    labels: Option<Map<String, Value>>,
    #[serde(default)]
    annotations: Option<Map<String, Value>>,
    #[serde(default, borrow)]
    starts_at: Option<&'a str>,
    #[serde(default, borrow)]
    ends_at: Option<&'a str>,
    #[serde(
        default,
        borrow,
        rename = "generatorURL",
        deserialize_with = "de::optional_text"
    )]
    generator_url: Option<&'a str>,
}

/// `text`, the member `name` of the alert, as an RFC 3339 timestamp.
fn required_time(text: Option<&str>, name: &str) -> Result<DateTime<Utc>, TransformError> {
    let text = text
        .filter(|text| !text.is_empty())
        .ok_or_else(|| TransformError::new(format!("data.{name} is missing")))?;
    parse_rfc3339(text).ok_or_else(|| {
        TransformError::new(format!("data.{name} {text:?} is not an RFC 3339 timestamp"))
    })
}

#[cfg(test)]
#[path = "transform_tests.rs"]
mod tests;
