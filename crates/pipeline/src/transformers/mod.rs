//! CDEvents transformers: each turns one CloudEvent into zero or more CDEvents.
//!
//! A transformer is a pure function of the event (plus its own configuration), so the router can
//! run it again after a crash or during `recompute` and get the same CDEvents, with the same ids.
//! Output is validated against the CDEvents schema by the router before it is stored.

use dora_model::cloudevent::CloudEvent;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

pub mod alertmanager;
pub mod argocd;
pub mod cdevents;
mod common;
pub mod github;
pub mod gitlab;
pub mod kubernetes;
pub mod pagerduty;
pub mod rules;
pub mod tekton;

/// The CDEvents release transformers emit (context `specversion`).
pub const EMIT_SPEC_VERSION: &str = "0.5.1";
/// `service.deployed` as v0.5.1 names it.
pub const SERVICE_DEPLOYED: &str = "dev.cdevents.service.deployed.0.3.0";
/// `service.upgraded` as v0.5.1 names it.
pub const SERVICE_UPGRADED: &str = "dev.cdevents.service.upgraded.0.3.0";
/// `service.rolledback` as v0.5.1 names it.
pub const SERVICE_ROLLEDBACK: &str = "dev.cdevents.service.rolledback.0.3.0";
/// `service.removed` as v0.5.1 names it.
pub const SERVICE_REMOVED: &str = "dev.cdevents.service.removed.0.3.0";
/// `change.created` as v0.5.1 names it.
pub const CHANGE_CREATED: &str = "dev.cdevents.change.created.0.4.0";
/// `change.updated` as v0.5.1 names it.
pub const CHANGE_UPDATED: &str = "dev.cdevents.change.updated.0.3.0";
/// `change.merged` as v0.5.1 names it.
pub const CHANGE_MERGED: &str = "dev.cdevents.change.merged.0.3.0";
/// `change.abandoned` as v0.5.1 names it.
pub const CHANGE_ABANDONED: &str = "dev.cdevents.change.abandoned.0.3.0";
/// `pipelinerun.finished` as v0.5.1 names it.
pub const PIPELINERUN_FINISHED: &str = "dev.cdevents.pipelinerun.finished.0.3.0";
/// `incident.detected` as v0.5.1 names it.
pub const INCIDENT_DETECTED: &str = "dev.cdevents.incident.detected.0.3.0";
/// `incident.resolved` as v0.5.1 names it.
pub const INCIDENT_RESOLVED: &str = "dev.cdevents.incident.resolved.0.3.0";
/// `artifact.published` as v0.5.1 names it.
pub const ARTIFACT_PUBLISHED: &str = "dev.cdevents.artifact.published.0.3.0";

/// Why a transformer could not handle an event (recorded as a failure, never fatal).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct TransformError {
    pub reason: String,
}

impl TransformError {
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }
}

/// Turns one CloudEvent into zero or more CDEvent documents.
pub trait Transformer: Send + Sync {
    /// The name routes refer to; also part of every id the transformer derives.
    fn name(&self) -> &str;
    /// The CDEvents this event stands for (often none: most events are not deliveries).
    fn transform(&self, event: &CloudEvent) -> Result<Vec<Value>, TransformError>;
}

/// `[sources.*]`: options of the built-in transformers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourcesConfig {
    pub github: github::GithubSettings,
    pub gitlab: gitlab::GitlabSettings,
    pub tekton: tekton::TektonSettings,
    pub argocd: argocd::ArgocdSettings,
    pub alertmanager: alertmanager::AlertmanagerSettings,
    pub pagerduty: pagerduty::PagerdutySettings,
}

/// The built-in transformers, as the configuration names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransformerKind {
    /// Knative ApiServerSource events about Deployments -> `service.deployed`.
    Kubernetes,
    /// CloudEvents whose type is `dev.cdevents.*`: the data is the CDEvent.
    Cdevents,
    /// GitHub (Knative GitHubSource or `POST /webhooks/github`).
    Github,
    /// Prometheus Alertmanager (`POST /webhooks/alertmanager`).
    Alertmanager,
    /// PagerDuty v3 webhooks (`POST /webhooks/pagerduty`).
    Pagerduty,
    /// GitLab (Knative GitLabSource or `POST /webhooks/gitlab`).
    Gitlab,
    /// Tekton's CloudEvents (`dev.tekton.event.*`).
    Tekton,
    /// Argo CD notifications (`POST /webhooks/argocd`).
    Argocd,
}

impl TransformerKind {
    /// Every built-in transformer.
    pub const ALL: [Self; 8] = [
        Self::Kubernetes,
        Self::Cdevents,
        Self::Github,
        Self::Gitlab,
        Self::Tekton,
        Self::Argocd,
        Self::Alertmanager,
        Self::Pagerduty,
    ];

    /// The built-in transformer of that name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    pub fn build(self, sources: &SourcesConfig) -> Box<dyn Transformer> {
        match self {
            Self::Kubernetes => Box::new(kubernetes::KubernetesTransformer),
            Self::Cdevents => Box::new(cdevents::PassThrough),
            Self::Github => Box::new(github::GithubTransformer::new(sources.github.clone())),
            Self::Alertmanager => Box::new(alertmanager::AlertmanagerTransformer::new(
                sources.alertmanager.clone(),
            )),
            Self::Pagerduty => Box::new(pagerduty::PagerdutyTransformer::new(
                sources.pagerduty.clone(),
            )),
            Self::Gitlab => Box::new(gitlab::GitlabTransformer::new(sources.gitlab.clone())),
            Self::Tekton => Box::new(tekton::TektonTransformer::new(sources.tekton.clone())),
            Self::Argocd => Box::new(argocd::ArgocdTransformer::new(sources.argocd.clone())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kubernetes => "kubernetes",
            Self::Cdevents => "cdevents",
            Self::Github => "github",
            Self::Alertmanager => "alertmanager",
            Self::Pagerduty => "pagerduty",
            Self::Gitlab => "gitlab",
            Self::Tekton => "tekton",
            Self::Argocd => "argocd",
        }
    }
}

/// What a route's `transformers` list names: a built-in transformer (`"github"`), every rule of
/// the configuration (`"rules"`), one rule (`"rule:<name>"`), or an external function
/// (`"http:<name>"`, a `[functions.<name>]` entry).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub enum TransformerRef {
    /// A built-in transformer.
    Builtin(TransformerKind),
    /// Every `[[rules]]` entry, in the order of the file.
    Rules,
    /// The `[[rules]]` entry of that name.
    Rule(String),
    /// The `[functions.<name>]` entry of that name, called by the function worker.
    Function(String),
}

impl From<TransformerKind> for TransformerRef {
    fn from(kind: TransformerKind) -> Self {
        Self::Builtin(kind)
    }
}

impl TryFrom<String> for TransformerRef {
    type Error = String;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        if let Some(kind) = TransformerKind::from_name(&name) {
            return Ok(Self::Builtin(kind));
        }
        if name == "rules" {
            return Ok(Self::Rules);
        }
        if let Some(rule) = name.strip_prefix("rule:") {
            if rules::is_valid_name(rule) {
                return Ok(Self::Rule(rule.to_owned()));
            }
            return Err(format!(
                "transformer {name:?}: a rule name is letters, digits, '-', '_' or '.'"
            ));
        }
        if let Some(function) = name.strip_prefix("http:") {
            if rules::is_valid_name(function) {
                return Ok(Self::Function(function.to_owned()));
            }
            return Err(format!(
                "transformer {name:?}: a function name is letters, digits, '-', '_' or '.'"
            ));
        }
        let builtins: Vec<&str> = TransformerKind::ALL.iter().map(|k| k.as_str()).collect();
        Err(format!(
            "unknown transformer {name:?}: expected one of {}, \"rules\", \"rule:<name>\" or \"http:<name>\"",
            builtins.join(", ")
        ))
    }
}

impl From<TransformerRef> for String {
    fn from(reference: TransformerRef) -> Self {
        reference.to_string()
    }
}

impl std::fmt::Display for TransformerRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Builtin(kind) => f.write_str(kind.as_str()),
            Self::Rules => f.write_str("rules"),
            Self::Rule(name) => write!(f, "rule:{name}"),
            Self::Function(name) => write!(f, "http:{name}"),
        }
    }
}

/// The fields of a CDEvent a transformer fills in; [`CdEventDraft::into_json`] lays out the v0.5.1 document.
#[derive(Debug, Clone)]
pub struct CdEventDraft {
    /// Full type string, e.g. [`SERVICE_DEPLOYED`].
    pub event_type: &'static str,
    /// Deterministic id (see `dora_model::ids::derived_id`).
    pub id: String,
    /// Context source: the system the fact comes from (e.g. the cluster).
    pub source: String,
    pub timestamp: chrono::DateTime<chrono::Utc>,
    pub subject_id: String,
    pub subject_source: Option<String>,
    pub content: Map<String, Value>,
    pub custom_data: Option<Value>,
}

impl CdEventDraft {
    pub fn into_json(self) -> Value {
        let mut subject = Map::new();
        subject.insert("id".into(), Value::String(self.subject_id));
        if let Some(source) = self.subject_source {
            subject.insert("source".into(), Value::String(source));
        }
        subject.insert("content".into(), Value::Object(self.content));
        let mut document = json!({
            "context": {
                "specversion": EMIT_SPEC_VERSION,
                "id": self.id,
                "source": self.source,
                "type": self.event_type,
                "timestamp": dora_model::time::format_rfc3339(&self.timestamp),
            },
            "subject": Value::Object(subject),
        });
        if let (Some(custom), Some(object)) = (self.custom_data, document.as_object_mut()) {
            object.insert("customData".into(), custom);
        }
        document
    }
}
