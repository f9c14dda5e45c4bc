//! `subject.content` of the CDEvents the product reads and emits, typed by the subject the
//! context type names (`dev.cdevents.<subject>.<predicate>.<version>`). Every release from v0.3
//! on lays these fields out the same way; fields the product does not use are not kept (the
//! stored document keeps them), and any other subject is [`Content::Other`], kept as given.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A reference to another thing by id, with the system it lives in when known
/// (`{"id": ..., "source": ...}`): an environment, a service, a repository, a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl Reference {
    /// A reference by id alone.
    pub fn id(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            source: None,
        }
    }

    /// A reference by id within `source`.
    pub fn within(id: impl Into<String>, source: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            source: Some(source.into()),
        }
    }
}

/// `service.deployed|upgraded|rolledback|removed`: where the service runs and what.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceContent {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<Reference>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_id: Option<String>,
}

/// `change.created|updated|merged|abandoned|reviewed`: the repository of the change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChangeContent {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<Reference>,
}

/// What pipeline runs and task runs both tell: where to see the run and, once finished, how
/// it ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunFields {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// `finished` only: `success`, `failure`, `cancel` or `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<String>,
}

/// `pipelinerun.queued|started|finished`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PipelineRunContent {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline_name: Option<String>,
    #[serde(flatten)]
    pub run: RunFields,
}

/// `taskrun.started|finished`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TaskRunContent {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline_run: Option<Reference>,
    #[serde(flatten)]
    pub run: RunFields,
}

/// `incident.detected|reported|resolved`: what is affected, where.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IncidentContent {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<Reference>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<Reference>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_id: Option<String>,
    #[serde(default, rename = "ticketURI", skip_serializing_if = "Option::is_none")]
    pub ticket_uri: Option<String>,
}

/// `artifact.packaged|published|signed|...`: the change it was built from, who published it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ArtifactContent {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<Reference>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// `subject.content`, by the subject of the context type.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Content {
    Service(ServiceContent),
    Change(ChangeContent),
    PipelineRun(PipelineRunContent),
    TaskRun(TaskRunContent),
    Incident(IncidentContent),
    Artifact(ArtifactContent),
    /// Any other subject (and custom types), as given.
    Other(Map<String, Value>),
}

impl Default for Content {
    fn default() -> Self {
        Content::Other(Map::new())
    }
}

/// The subject of a `dev.cdevents.<subject>.<predicate>.<version>` type, if it is one.
pub fn subject_of(event_type: &str) -> Option<&str> {
    event_type
        .strip_prefix("dev.cdevents.")
        .and_then(|rest| rest.split('.').next())
}

impl Content {
    /// Reads `content` (the value of `subject.content`, `null` when absent) as the content of
    /// `event_type`; the error is serde's, with the path inside the content.
    pub fn read(
        event_type: &str,
        content: &Value,
    ) -> Result<Self, serde_path_to_error::Error<serde_json::Error>> {
        fn typed<'a, T: Deserialize<'a>>(
            content: &'a Value,
            wrap: fn(T) -> Content,
        ) -> Result<Content, serde_path_to_error::Error<serde_json::Error>> {
            serde_path_to_error::deserialize(content).map(wrap)
        }
        let empty = Value::Object(Map::new());
        let content = if content.is_null() { &empty } else { content };
        match subject_of(event_type) {
            Some("service") => typed(content, Content::Service),
            Some("change") => typed(content, Content::Change),
            Some("pipelinerun") => typed(content, Content::PipelineRun),
            Some("taskrun") => typed(content, Content::TaskRun),
            Some("incident") => typed(content, Content::Incident),
            Some("artifact") => typed(content, Content::Artifact),
            _ => typed(content, Content::Other),
        }
    }

    /// The environment a service runs in or an incident happened in.
    pub fn environment(&self) -> Option<&str> {
        match self {
            Content::Service(service) => service.environment.as_ref(),
            Content::Incident(incident) => incident.environment.as_ref(),
            _ => None,
        }
        .map(|reference| reference.id.as_str())
    }

    /// The fields of a pipeline run or task run.
    pub fn run_fields_mut(&mut self) -> Option<&mut RunFields> {
        match self {
            Content::PipelineRun(run) => Some(&mut run.run),
            Content::TaskRun(run) => Some(&mut run.run),
            _ => None,
        }
    }

    /// The artifact a service runs or an incident is about.
    pub fn artifact_id(&self) -> Option<&str> {
        match self {
            Content::Service(service) => service.artifact_id.as_deref(),
            Content::Incident(incident) => incident.artifact_id.as_deref(),
            _ => None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_by_the_subject_of_the_type() {
        let deployed = Content::read(
            "dev.cdevents.service.deployed.0.3.0",
            &json!({"environment": {"id": "prod", "source": "/c"}, "artifactId": "pkg:oci/x"}),
        )
        .unwrap();
        assert_eq!(deployed.environment(), Some("prod"));
        assert_eq!(deployed.artifact_id(), Some("pkg:oci/x"));
        let change = Content::read("dev.cdevents.change.merged.0.3.0", &Value::Null).unwrap();
        assert_eq!(change, Content::Change(ChangeContent::default()));
        let other = Content::read("dev.cdevents.build.started.0.2.0", &json!({"x": 1})).unwrap();
        assert_eq!(
            other,
            Content::Other(json!({"x": 1}).as_object().unwrap().clone())
        );
    }

    #[test]
    fn a_wrong_type_names_its_path() {
        let error = Content::read(
            "dev.cdevents.incident.detected.0.3.0",
            &json!({"environment": {"id": 7}}),
        )
        .unwrap_err();
        assert_eq!(error.path().to_string(), "environment.id");
    }

    #[test]
    fn writes_the_spec_layout() {
        let content = Content::Incident(IncidentContent {
            environment: Some(Reference::id("prod")),
            ticket_uri: Some("https://t/1".into()),
            ..IncidentContent::default()
        });
        assert_eq!(
            serde_json::to_value(&content).unwrap(),
            json!({"environment": {"id": "prod"}, "ticketURI": "https://t/1"})
        );
    }
}
