//! GitLab issues that are incidents (by label, or of type `incident`) -> `incident.detected`
//! and `incident.resolved`.

use dora_model::cloudevent::CloudEvent;
use serde_json::{json, Map, Value};

use super::transform::*;
use crate::code_host::{default_environment, label_value, IncidentIssue};
use crate::common::{
    copy_strings, field, number_value, optional_str, optional_time, required_number, required_str,
    required_time,
};
use crate::transform::{Emitted, TransformError};

/// `issue` (or `confidential_issue`) that is an incident -> `incident.detected` (and
/// `incident.resolved` once closed).
pub(crate) fn issue(
    settings: &GitlabSettings,
    event: &CloudEvent,
    data: &Value,
) -> Result<Vec<Emitted>, TransformError> {
    let action = required_str(data, &["object_attributes", "action"])?;
    let closed = optional_str(data, &["object_attributes", "state"])? == Some("closed");
    let (detect, resolve) = match action {
        "open" | "reopen" => (true, false),
        "close" => (true, true),
        // An edit, e.g. the incident label added later; of a closed issue: also resolved.
        "update" => (true, closed),
        _ => return Ok(Vec::new()),
    };
    let labels = issue_labels(data)?;
    if !is_incident(settings, data, &labels)? {
        return Ok(Vec::new());
    }
    let project = project(data)?;
    let iid = required_number(data, &["object_attributes", "iid"])?;
    let created_at = required_time(data, &["object_attributes", "created_at"])?;
    let title = optional_str(data, &["object_attributes", "title"])?;
    let mut gitlab = Map::new();
    gitlab.insert("iid".into(), json!(number_value(&iid)));
    if let Some(id) = field(data, &["object_attributes", "id"]).filter(|v| v.is_u64()) {
        gitlab.insert("issueId".into(), id.clone());
    }
    copy_strings(
        data,
        &mut gitlab,
        &[
            ("url", &["object_attributes", "url"]),
            ("type", &["object_attributes", "type"]),
            ("severity", &["object_attributes", "severity"]),
            (
                "escalationStatus",
                &["object_attributes", "escalation_status"],
            ),
        ],
    )?;
    // The resolution time: `closed_at`, else (closing now) `updated_at`, else the CloudEvent time.
    let resolved_at = if resolve {
        let mut time = optional_time(data, &["object_attributes", "closed_at"])?;
        if time.is_none() && action == "close" {
            time = optional_time(data, &["object_attributes", "updated_at"])?;
        }
        match time.or(event.time) {
            Some(time) => Some(time),
            None if action == "close" => {
                return Err(TransformError::new(
                    "data.object_attributes.closed_at is missing",
                ))
            }
            // An edit of a closed issue that does not say when it was closed: detected only.
            None => None,
        }
    } else {
        None
    };

    let issue = IncidentIssue {
        number: iid,
        title,
        service: label_value(&labels, &["service"], true).unwrap_or(project.name),
        environment: label_value(&labels, &["env", "environment"], true).unwrap_or(
            default_environment(&settings.default_environment, DEFAULT_ENVIRONMENT),
        ),
        created_at,
        detect,
        resolved_at,
        own: gitlab,
    };
    Ok(project.incident_cdevents(issue))
}

/// An issue is an incident when it carries the configured incident label, or is of type
/// `incident` (GitLab's own incidents).
fn is_incident(
    settings: &GitlabSettings,
    data: &Value,
    labels: &[&str],
) -> Result<bool, TransformError> {
    let incident_label = settings.incident_label.trim();
    let labelled = !incident_label.is_empty()
        && labels
            .iter()
            .any(|label| label.trim().eq_ignore_ascii_case(incident_label));
    let typed = [
        ["object_attributes", "type"],
        ["object_attributes", "issue_type"],
    ]
    .iter()
    .map(|path| optional_str(data, path))
    .collect::<Result<Vec<_>, _>>()?
    .into_iter()
    .flatten()
    .any(|kind| kind.eq_ignore_ascii_case("incident"));
    Ok(labelled || typed)
}

/// The titles of `data.labels`, else of `data.object_attributes.labels`.
fn issue_labels(data: &Value) -> Result<Vec<&str>, TransformError> {
    let (labels, at) = match field(data, &["labels"]) {
        Some(labels) => (labels, "data.labels"),
        None => match field(data, &["object_attributes", "labels"]) {
            Some(labels) => (labels, "data.object_attributes.labels"),
            None => return Ok(Vec::new()),
        },
    };
    let Value::Array(labels) = labels else {
        return Err(TransformError::new(format!("{at} is not an array")));
    };
    let mut titles = Vec::with_capacity(labels.len());
    for (index, label) in labels.iter().enumerate() {
        match label.get("title") {
            Some(Value::String(title)) => titles.push(title.as_str()),
            None if label.is_string() => titles.extend(label.as_str()),
            _ => {
                return Err(TransformError::new(format!(
                    "{at}[{index}].title is missing or not a string"
                )))
            }
        }
    }
    Ok(titles)
}
