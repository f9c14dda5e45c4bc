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

use crate::common::{data_object, incident_cdevent, incident_content};
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
        let data = data_object(event)?;
        let incident = match data.get("data") {
            Some(Value::Object(incident)) => incident,
            None | Some(Value::Null) => return Err(TransformError::new("data.data is missing")),
            Some(_) => return Err(TransformError::new("data.data is not an object")),
        };
        let incident_id = optional_str(incident, "data.data.id")?
            .filter(|id| !id.is_empty())
            .ok_or_else(|| TransformError::new("data.data.id is missing"))?;
        let timestamp = match optional_str(data, "data.occurred_at")? {
            Some(text) => parse_rfc3339(text).ok_or_else(|| {
                TransformError::new(format!(
                    "data.occurred_at {text:?} is not an RFC 3339 timestamp"
                ))
            })?,
            None => event
                .time
                .ok_or_else(|| TransformError::new("data.occurred_at is missing"))?,
        };
        let (service_name, service_id) = service_of(incident)?;
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

        let content = incident_content(
            optional_str(incident, "data.data.title")?,
            environment,
            mapped.or(service_name),
        );

        let details = details(data, incident, service_id, service_name)?;

        let cdevent = incident_cdevent(
            "pagerduty",
            event,
            event_type,
            timestamp,
            incident_id.to_owned(),
            content,
            details,
        );
        Ok(vec![cdevent])
    }
}

/// The incident's service: its name (`summary`) and id, when set.
fn service_of(
    incident: &Map<String, Value>,
) -> Result<(Option<&str>, Option<&str>), TransformError> {
    let service = match incident.get("service") {
        None | Some(Value::Null) => None,
        Some(Value::Object(service)) => Some(service),
        Some(_) => return Err(TransformError::new("data.data.service is not an object")),
    };
    let service_name = match service {
        Some(service) => optional_str(service, "data.data.service.summary")?,
        None => None,
    }
    .filter(|name| !name.is_empty());
    let service_id = match service {
        Some(service) => optional_str(service, "data.data.service.id")?,
        None => None,
    }
    .filter(|id| !id.is_empty());
    Ok((service_name, service_id))
}

/// `customData.dora` of the incident: the event type, the incident's number, status, urgency,
/// URL and priority, and its service.
fn details(
    data: &Map<String, Value>,
    incident: &Map<String, Value>,
    service_id: Option<&str>,
    service_name: Option<&str>,
) -> Result<Map<String, Value>, TransformError> {
    let mut details = Map::new();
    if let Some(kind) = optional_str(data, "data.event_type")? {
        details.insert("eventType".into(), json!(kind));
    }
    if let Some(number) = incident.get("number").filter(|n| n.is_number()) {
        details.insert("incidentNumber".into(), number.clone());
    }
    for (name, key) in [
        ("status", "status"),
        ("urgency", "urgency"),
        ("html_url", "htmlUrl"),
    ] {
        if let Some(text) = optional_str(incident, &format!("data.data.{name}"))? {
            details.insert(key.into(), json!(text));
        }
    }
    if let Some(Value::Object(priority)) = incident.get("priority") {
        if let Some(summary) = optional_str(priority, "data.data.priority.summary")? {
            details.insert("priority".into(), json!(summary));
        }
    }
    if let Some(id) = service_id {
        details.insert("serviceId".into(), json!(id));
    }
    if let Some(name) = service_name {
        details.insert("serviceName".into(), json!(name));
    }
    Ok(details)
}

/// The member named by the last segment of `path` (a dotted path used in errors), which must be
/// a string when present.
fn optional_str<'a>(
    object: &'a Map<String, Value>,
    path: &str,
) -> Result<Option<&'a str>, TransformError> {
    let name = path.rsplit('.').next().unwrap_or(path);
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(TransformError::new(format!("{path} is not a string"))),
    }
}
