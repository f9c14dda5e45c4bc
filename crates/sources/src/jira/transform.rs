//! Jira Service Management: issue webhooks wrapped into CloudEvents by `POST /webhooks/jira`
//! (`com.atlassian.jira.issue_created|issue_updated`) -> incidents.
//!
//! # Input
//!
//! One CloudEvent per delivery, as the adapter (`dora_sources::jira::webhook`) makes them:
//! `type` = `com.atlassian.jira.<webhookEvent without "jira:">`, `source` = the Jira site
//! (`https://acme.atlassian.net`) or `jira`, `time` = the payload's `timestamp`, `data` = the
//! payload (`webhookEvent`, `issue` {`id`, `key`, `fields`}, `changelog`, ...).
//!
//! # Output
//!
//! Only issues whose type (`issue.fields.issuetype.name`) is one of
//! [`JiraSettings::issue_types`] (`Incident` and JSM's `[System] Incident` by default); of them,
//! every [`ISSUE_CREATED`] or [`ISSUE_UPDATED`] event gives:
//!
//! * `dev.cdevents.incident.detected.0.3.0`, timestamp = `fields.created`, with the context id
//!   `derived_id(["jira", <source>, "<issue.id>/detected"])`: the same for every event of the
//!   issue, so it counts once, even when the `issue_created` delivery was missed;
//! * when the issue is resolved (`fields.resolutiondate` set, or the status category `done`),
//!   also `dev.cdevents.incident.resolved.0.3.0`, timestamp = `fields.resolutiondate` (else
//!   `fields.updated`), context id from `"<issue.id>/resolved/<that time>"`: each resolution
//!   once; an incident reopened and resolved again has a later one.
//!
//! Other events and issue types: nothing. Timestamps come from the issue, else the CloudEvent
//! `time`; never the clock. Fields:
//!
//! * `subject.id` = `issue.key` (`OPS-12`), the same for detection and resolution;
//! * `subject.content.service.id` = the first of [`JiraSettings::service_keys`] found as a
//!   label `<key>:<value>` or `<key>=<value>`, else the first component when
//!   [`JiraSettings::component_is_service`]; else none;
//! * `subject.content.environment.id` = the first of [`JiraSettings::environment_keys`] found
//!   as a label the same way, else [`JiraSettings::default_environment`] (`"production"`);
//! * `subject.content.description` = `fields.summary`;
//! * `customData.dora` = `webhookEvent`, `key`, `status`, `statusCategory`, `priority`,
//!   `project`, `labels`, when present.
//!
//! Malformed data of a handled type (no `issue.id` or `issue.key`, a time that is not one) is a
//! [`TransformError`] naming the field.

use chrono::{DateTime, Utc};
use dora_model::cloudevent::CloudEvent;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::common::{de, incident_cdevent, incident_content, insert_some, read, tag_value};
use crate::transform::{
    Emitted, TransformError, Transformer, INCIDENT_DETECTED, INCIDENT_RESOLVED,
};

/// The prefix of every Jira CloudEvent type.
pub const TYPE_PREFIX: &str = "com.atlassian.jira.";
/// CloudEvent type of `jira:issue_created`.
pub const ISSUE_CREATED: &str = "com.atlassian.jira.issue_created";
/// CloudEvent type of `jira:issue_updated`.
pub const ISSUE_UPDATED: &str = "com.atlassian.jira.issue_updated";
/// The environment of incidents that name none, when the setting is empty.
pub const DEFAULT_ENVIRONMENT: &str = "production";

/// `[sources.jira]` in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JiraSettings {
    /// The issue types that are incidents (default `Incident`, `[System] Incident`).
    pub issue_types: Vec<String>,
    /// Label keys naming the service (`service:checkout`), first found wins.
    pub service_keys: Vec<String>,
    /// Whether the first component is the service when no label names one (default true).
    pub component_is_service: bool,
    /// Label keys naming the environment, first found wins.
    pub environment_keys: Vec<String>,
    /// The environment of incidents that name none (default `"production"`).
    pub default_environment: String,
}

impl Default for JiraSettings {
    fn default() -> Self {
        Self {
            issue_types: vec!["Incident".into(), "[System] Incident".into()],
            service_keys: vec!["service".into()],
            component_is_service: true,
            environment_keys: vec!["environment".into(), "env".into()],
            default_environment: DEFAULT_ENVIRONMENT.into(),
        }
    }
}

/// The `jira` transformer.
pub struct JiraTransformer {
    settings: JiraSettings,
}

impl JiraTransformer {
    pub fn new(settings: JiraSettings) -> Self {
        Self { settings }
    }

    fn service<'a>(&self, fields: &'a Fields<'a>) -> Option<&'a str> {
        let labels = fields.labels.as_deref().unwrap_or_default();
        let label = self
            .settings
            .service_keys
            .iter()
            .find_map(|key| tag_value(labels, key));
        let component = || {
            let first = fields.components.as_ref()?.first()?;
            first.name.as_deref().filter(|name| !name.is_empty())
        };
        label.or_else(|| component().filter(|_| self.settings.component_is_service))
    }

    fn environment<'a>(&'a self, fields: &'a Fields<'a>) -> &'a str {
        let labels = fields.labels.as_deref().unwrap_or_default();
        let label = self
            .settings
            .environment_keys
            .iter()
            .find_map(|key| tag_value(labels, key));
        let default = self.settings.default_environment.as_str();
        label.unwrap_or(if default.is_empty() {
            DEFAULT_ENVIRONMENT
        } else {
            default
        })
    }
}

impl Transformer for JiraTransformer {
    fn name(&self) -> &str {
        "jira"
    }

    fn transform(&self, event: &CloudEvent) -> Result<Vec<Emitted>, TransformError> {
        if !matches!(event.event_type.as_str(), ISSUE_CREATED | ISSUE_UPDATED) {
            return Ok(Vec::new());
        }
        let data = event
            .data_json()
            .ok_or_else(|| TransformError::new("data is missing or not JSON"))?;
        let webhook: Webhook<'_> = read(data)?;
        let issue = &webhook.issue;
        let fields = &issue.fields;
        let issue_type = fields.issuetype.as_ref().and_then(|t| t.name);
        if !issue_type.is_some_and(|name| self.settings.issue_types.iter().any(|t| t == name)) {
            return Ok(Vec::new());
        }
        let content = || {
            incident_content(
                fields.summary,
                self.environment(fields),
                self.service(fields),
            )
        };
        let emit = |id: String, event_type, timestamp| {
            let keyed = CloudEvent {
                id,
                ..event.clone()
            };
            let details = details(&webhook);
            incident_cdevent(
                "jira",
                &keyed,
                event_type,
                timestamp,
                issue.key.to_owned(),
                content(),
                details,
            )
        };
        let detected = fields
            .created
            .or(event.time)
            .ok_or_else(|| missing("created"))?;
        let mut out = vec![emit(
            format!("{}/detected", issue.id),
            INCIDENT_DETECTED,
            detected,
        )];
        let done = fields.status.as_ref().and_then(|s| s.category()) == Some("done");
        if done || fields.resolutiondate.is_some() {
            let resolved = fields
                .resolutiondate
                .or(fields.updated)
                .or(event.time)
                .ok_or_else(|| missing("resolutiondate"))?;
            let id = format!("{}/resolved/{}", issue.id, resolved.timestamp_millis());
            out.push(emit(id, INCIDENT_RESOLVED, resolved));
        }
        Ok(out)
    }
}

/// A time of the issue the event lacks, and the CloudEvent has no `time` either.
fn missing(name: &str) -> TransformError {
    crate::common::no_timestamp(&[format!("data.issue.fields.{name}")])
}

/// The payload, as far as the transformer reads it.
#[derive(Deserialize)]
struct Webhook<'a> {
    #[serde(default, borrow, rename = "webhookEvent")]
    webhook_event: Option<&'a str>,
    #[serde(borrow)]
    issue: Issue<'a>,
}

/// `data.issue`.
#[derive(Deserialize)]
struct Issue<'a> {
    #[serde(borrow, deserialize_with = "de::text")]
    id: &'a str,
    #[serde(borrow, deserialize_with = "de::text")]
    key: &'a str,
    #[serde(borrow)]
    fields: Fields<'a>,
}

/// `data.issue.fields`.
#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(default, borrow, deserialize_with = "de::optional_text")]
    summary: Option<&'a str>,
    #[serde(default, borrow)]
    issuetype: Option<Named<'a>>,
    #[serde(default, borrow)]
    status: Option<Status<'a>>,
    #[serde(default, borrow)]
    priority: Option<Named<'a>>,
    #[serde(default, borrow)]
    project: Option<Project<'a>>,
    #[serde(default, deserialize_with = "de::optional_time")]
    created: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::optional_time")]
    updated: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::optional_time")]
    resolutiondate: Option<DateTime<Utc>>,
    /// Read when it is an array of strings.
    #[serde(default, deserialize_with = "de::lenient")]
    labels: Option<Vec<String>>,
    /// Read when it is an array of objects.
    #[serde(default, deserialize_with = "de::lenient")]
    components: Option<Vec<Component>>,
}

/// An object of which only the `name` is read (issue type, priority).
#[derive(Deserialize)]
struct Named<'a> {
    #[serde(default, borrow, deserialize_with = "de::optional_text")]
    name: Option<&'a str>,
}

#[derive(Deserialize)]
struct Component {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Project<'a> {
    #[serde(default, borrow, deserialize_with = "de::optional_text")]
    key: Option<&'a str>,
}

/// `fields.status`: its name and its category (`new`, `indeterminate`, `done`).
#[derive(Deserialize)]
struct Status<'a> {
    #[serde(default, borrow, deserialize_with = "de::optional_text")]
    name: Option<&'a str>,
    #[serde(default, borrow, rename = "statusCategory")]
    status_category: Option<StatusCategory<'a>>,
}

#[derive(Deserialize)]
struct StatusCategory<'a> {
    #[serde(default, borrow, deserialize_with = "de::optional_text")]
    key: Option<&'a str>,
}

impl Status<'_> {
    fn category(&self) -> Option<&str> {
        self.status_category.as_ref().and_then(|c| c.key)
    }
}

/// `customData.dora` of the incident.
fn details(webhook: &Webhook<'_>) -> Map<String, Value> {
    let fields = &webhook.issue.fields;
    let status = fields.status.as_ref();
    let mut details = Map::new();
    for (key, text) in [
        ("webhookEvent", webhook.webhook_event),
        ("key", Some(webhook.issue.key)),
        ("status", status.and_then(|s| s.name)),
        ("statusCategory", status.and_then(Status::category)),
        ("priority", fields.priority.as_ref().and_then(|p| p.name)),
        ("project", fields.project.as_ref().and_then(|p| p.key)),
    ] {
        insert_some(&mut details, key, text);
    }
    if let Some(labels) = fields.labels.as_ref().filter(|labels| !labels.is_empty()) {
        details.insert("labels".into(), json!(labels));
    }
    details
}
