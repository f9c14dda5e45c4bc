//! PagerDuty: v3 webhook events wrapped into CloudEvents by `POST /webhooks/pagerduty`
//! (`com.pagerduty.<event_type>`, e.g. `com.pagerduty.incident.triggered`) -> incidents.
//!
//! # Input
//!
//! One CloudEvent per webhook delivery, as the adapter (`dora_sources::pagerduty::webhook`)
//! makes them: `type` = `com.pagerduty.<event.event_type>`, `source` = the scheme and host of
//! the incident's `html_url` (the PagerDuty account, e.g. `https://acme.pagerduty.com`) or
//! `pagerduty`, `id` = `event.id`, `time` = `event.occurred_at`, `data` = the v3 `event`
//! object (`id`, `event_type`, `resource_type`, `occurred_at`, `agent`, `data` = the incident).
//!
//! # Output
//!
//! * [`INCIDENT_TRIGGERED`] -> `dev.cdevents.incident.detected.0.3.0`;
//! * [`INCIDENT_RESOLVED_EVENT`] -> `dev.cdevents.incident.resolved.0.3.0`;
//! * anything else (`incident.acknowledged`, `.annotated`, `.priority_updated`, `.reopened`,
//!   `service.*`, `pagey.ping`, ...): nothing.
//!
//! Fields:
//!
//! * context `id` = `derived_id(["pagerduty", <CloudEvent source>, <CloudEvent id>])`, context
//!   `source` and `subject.source` = the CloudEvent source;
//! * `context.timestamp` = `data.occurred_at` (when the incident triggered, or resolved), else
//!   the CloudEvent `time`; never the clock;
//! * `subject.id` = the PagerDuty incident id (`data.data.id`, e.g. `PFQZPSY`), the same for the
//!   triggering and the resolution, so they pair up;
//! * `subject.content.service.id` = the PagerDuty service (`data.data.service.summary`, its
//!   name) mapped through [`PagerdutySettings::services`], looked up by name and then by service
//!   id (e.g. `PA2P440`); unmapped, the name as is; an incident without a service has no
//!   `service`;
//! * `subject.content.environment.id` = [`PagerdutySettings::environment`] (`"production"` by
//!   default, and when set empty): PagerDuty has no notion of environment, and the incidents
//!   that page someone are, in the usual setup, production ones;
//! * `subject.content.description` = the incident `title`;
//! * `customData.dora` = `eventType`, `incidentNumber`, `status`, `urgency`, `priority` (its
//!   summary), `htmlUrl`, `serviceId`, `serviceName` (as PagerDuty names it), when present.
//!
//! Malformed data of a handled type (not an object, no incident id, an unparsable
//! `occurred_at`) is a [`TransformError`] naming the field.

use std::collections::BTreeMap;

use dora_model::cloudevent::CloudEvent;
use dora_model::time::parse_rfc3339;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::common::{de, incident_cdevent, incident_content, missing, read};
use crate::transform::{
    Emitted, TransformError, Transformer, INCIDENT_DETECTED, INCIDENT_RESOLVED,
};

/// The prefix of every PagerDuty CloudEvent type.
pub const TYPE_PREFIX: &str = "com.pagerduty.";
/// CloudEvent type of a v3 `incident.triggered` event.
pub const INCIDENT_TRIGGERED: &str = "com.pagerduty.incident.triggered";
/// CloudEvent type of a v3 `incident.resolved` event.
pub const INCIDENT_RESOLVED_EVENT: &str = "com.pagerduty.incident.resolved";
/// The environment of PagerDuty incidents when the setting is empty.
pub const DEFAULT_ENVIRONMENT: &str = "production";

/// `[sources.pagerduty]` in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PagerdutySettings {
    /// PagerDuty service name (or id) -> dora-events service, when they differ.
    pub services: BTreeMap<String, String>,
    /// The environment of every PagerDuty incident (default `"production"`).
    pub environment: String,
}

impl Default for PagerdutySettings {
    fn default() -> Self {
        Self {
            services: BTreeMap::new(),
            environment: DEFAULT_ENVIRONMENT.into(),
        }
    }
}

/// The `pagerduty` transformer.
pub struct PagerdutyTransformer {
    settings: PagerdutySettings,
}

impl PagerdutyTransformer {
    pub fn new(settings: PagerdutySettings) -> Self {
        Self { settings }
    }
}

impl Transformer for PagerdutyTransformer {
    fn name(&self) -> &str {
        "pagerduty"
    }

    fn transform(&self, event: &CloudEvent) -> Result<Vec<Emitted>, TransformError> {
        let event_type = match event.event_type.as_str() {
            INCIDENT_TRIGGERED => INCIDENT_DETECTED,
            INCIDENT_RESOLVED_EVENT => INCIDENT_RESOLVED,
            _ => return Ok(Vec::new()),
        };
        let data = event
            .data_json()
            .ok_or_else(|| TransformError::new("data is missing or not JSON"))?;
        let webhook: Webhook<'_> = read(data)?;
        let incident = &webhook.data;
        let incident_id = incident.id.ok_or_else(|| missing("data.data.id"))?;
        let timestamp = match webhook.occurred_at {
            Some(text) => parse_rfc3339(text).ok_or_else(|| {
                TransformError::new(format!(
                    "data.occurred_at {text:?} is not an RFC 3339 timestamp"
                ))
            })?,
            None => event.time.ok_or_else(|| missing("data.occurred_at"))?,
        };
        let service = incident.service.as_ref();
        let service_name = service.and_then(|service| service.summary);
        let service_id = service.and_then(|service| service.id);
        let mapped = service_name
            .and_then(|name| self.settings.services.get(name))
            .or_else(|| service_id.and_then(|id| self.settings.services.get(id)))
            .map(String::as_str)
            .filter(|name| !name.is_empty());
        let environment = if self.settings.environment.is_empty() {
            DEFAULT_ENVIRONMENT
        } else {
            self.settings.environment.as_str()
        };

        let content = incident_content(incident.title, environment, mapped.or(service_name));
        Ok(vec![incident_cdevent(
            "pagerduty",
            event,
            event_type,
            timestamp,
            incident_id.to_owned(),
            content,
            details(&webhook),
        )])
    }
}

/// The v3 webhook `event`, as far as the transformer reads it.
#[derive(Deserialize)]
struct Webhook<'a> {
    #[serde(default, borrow)]
    event_type: Option<&'a str>,
    #[serde(default, borrow)]
    occurred_at: Option<&'a str>,
    #[serde(borrow)]
    data: Incident<'a>,
}

/// `data.data`: the incident.
#[derive(Deserialize)]
struct Incident<'a> {
    #[serde(default, borrow, deserialize_with = "de::optional_text")]
    id: Option<&'a str>,
    #[serde(default, borrow)]
    title: Option<&'a str>,
    /// Passed on when it is a number.
    #[serde(default, deserialize_with = "de::lenient")]
    number: Option<serde_json::Number>,
    #[serde(default, borrow)]
    status: Option<&'a str>,
    #[serde(default, borrow)]
    urgency: Option<&'a str>,
    #[serde(default, borrow)]
    html_url: Option<&'a str>,
    /// Read when it is an object.
    #[serde(default, deserialize_with = "de::lenient")]
    priority: Option<Priority>,
    #[serde(default, borrow)]
    service: Option<ServiceReference<'a>>,
}

#[derive(Deserialize)]
struct Priority {
    summary: Option<String>,
}

/// `data.data.service`: its name (`summary`) and id; empty ones are as if absent.
#[derive(Deserialize)]
struct ServiceReference<'a> {
    #[serde(default, borrow, deserialize_with = "de::optional_text")]
    id: Option<&'a str>,
    #[serde(default, borrow, deserialize_with = "de::optional_text")]
    summary: Option<&'a str>,
}

/// `customData.dora` of the incident: the event type, the incident's number, status, urgency,
/// URL and priority, and its service.
fn details(webhook: &Webhook<'_>) -> Map<String, Value> {
    let incident = &webhook.data;
    let service = incident.service.as_ref();
    let texts = [
        ("eventType", webhook.event_type),
        ("status", incident.status),
        ("urgency", incident.urgency),
        ("htmlUrl", incident.html_url),
        (
            "priority",
            incident
                .priority
                .as_ref()
                .and_then(|p| p.summary.as_deref()),
        ),
        ("serviceId", service.and_then(|service| service.id)),
        ("serviceName", service.and_then(|service| service.summary)),
    ];
    let mut details: Map<String, Value> = texts
        .into_iter()
        .filter_map(|(key, text)| Some((key.to_owned(), json!(text?))))
        .collect();
    if let Some(number) = &incident.number {
        details.insert("incidentNumber".into(), Value::Number(number.clone()));
    }
    details
}
