//! GitLab issues that are incidents (by label, or of type `incident`) -> `incident.detected`
//! and `incident.resolved`.

use dora_model::cloudevent::CloudEvent;
use serde_json::{json, Map, Value};

use super::payload;
use super::transform::*;
use crate::code_host::{default_environment, label_value, IncidentIssue};
use crate::common::{insert_some, missing, read};
use crate::transform::{Emitted, TransformError};

/// `issue` (or `confidential_issue`) that is an incident -> `incident.detected` (and
/// `incident.resolved` once closed).
pub(crate) fn issue(
    settings: &GitlabSettings,
    event: &CloudEvent,
    data: &Value,
) -> Result<Vec<Emitted>, TransformError> {
    let action = object_action(data)?;
    if !matches!(action, "open" | "reopen" | "close" | "update") {
        return Ok(Vec::new());
    }
    let mut kind: payload::IssueKind = read(data)?;
    let closed = kind.object_attributes.state == Some("closed");
    let (detect, resolve) = match action {
        "open" | "reopen" => (true, false),
        "close" => (true, true),
        // An edit, e.g. the incident label added later; of a closed issue: also resolved.
        _ => (true, closed),
    };
    let labels: Vec<&str> = kind
        .labels
        .or(kind.object_attributes.labels.take())
        .unwrap_or_default()
        .into_iter()
        .map(|label| label.0)
        .collect();
    if !is_incident(settings, &kind.object_attributes, &labels) {
        return Ok(Vec::new());
    }
    let (project, issue) = project_object::<payload::Issue>(data)?;
    let mut gitlab = Map::new();
    gitlab.insert("iid".into(), json!(issue.iid));
    insert_some(&mut gitlab, "issueId", issue.id);
    insert_some(&mut gitlab, "url", issue.url);
    insert_some(&mut gitlab, "type", issue.kind);
    insert_some(&mut gitlab, "severity", issue.severity);
    insert_some(&mut gitlab, "escalationStatus", issue.escalation_status);
    // The resolution time: `closed_at`, else (closing now) `updated_at`, else the CloudEvent time.
    let resolved_at = if resolve {
        let mut time = issue.closed_at;
        if time.is_none() && action == "close" {
            time = issue.updated_at;
        }
        match time.or(event.time) {
            Some(time) => Some(time),
            None if action == "close" => return Err(missing("data.object_attributes.closed_at")),
            // An edit of a closed issue that does not say when it was closed: detected only.
            None => None,
        }
    } else {
        None
    };

    let issue = IncidentIssue {
        number: issue.iid.to_string(),
        title: issue.title,
        service: label_value(&labels, &["service"], true).unwrap_or(project.name),
        environment: label_value(&labels, &["env", "environment"], true).unwrap_or(
            default_environment(&settings.default_environment, DEFAULT_ENVIRONMENT),
        ),
        created_at: issue.created_at,
        detect,
        resolved_at,
        own: gitlab,
    };
    Ok(project.incident_cdevents(issue))
}

/// An issue is an incident when it carries the configured incident label, or is of type
/// `incident` (GitLab's own incidents).
fn is_incident(settings: &GitlabSettings, issue: &payload::IssueType<'_>, labels: &[&str]) -> bool {
    let incident_label = settings.incident_label.trim();
    let labelled = !incident_label.is_empty()
        && labels
            .iter()
            .any(|label| label.trim().eq_ignore_ascii_case(incident_label));
    let typed = [issue.kind, issue.issue_type]
        .into_iter()
        .flatten()
        .any(|kind| kind.eq_ignore_ascii_case("incident"));
    labelled || typed
}
