//! The transformer contract every source implements: one CloudEvent in, zero or more CDEvents
//! out (typed [`CdEvent`]s, or documents passed on as given), and the CDEvent types
//! transformers emit.
//!
//! A transformer is a pure function of the event (plus its own configuration), so the router can
//! run it again after a crash or during `recompute` and get the same CDEvents, with the same ids.
//! Output is validated against the CDEvents schema by the router before it is stored.

use chrono::{DateTime, Utc};
use dora_model::cdevent::{CdEvent, Content, CustomData, DoraData};
use dora_model::cloudevent::CloudEvent;
use serde_json::{Map, Value};

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
/// `pipelinerun.started` as v0.5.1 names it.
pub const PIPELINERUN_STARTED: &str = "dev.cdevents.pipelinerun.started.0.3.0";
/// `taskrun.started` as v0.5.1 names it.
pub const TASKRUN_STARTED: &str = "dev.cdevents.taskrun.started.0.3.0";
/// `taskrun.finished` as v0.5.1 names it.
pub const TASKRUN_FINISHED: &str = "dev.cdevents.taskrun.finished.0.3.0";
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

/// One CDEvent a transformer emits.
#[derive(Debug, Clone, PartialEq)]
pub enum Emitted {
    /// A CDEvent the transformer built; the router writes its document once.
    Typed(Box<CdEvent>),
    /// A CDEvent document passed on as given: the CDEvents pass-through, user rules.
    Verbatim(Value),
}

impl Emitted {
    /// The document to validate and store.
    pub fn into_document(self) -> Value {
        match self {
            Emitted::Typed(event) => event.to_document(),
            Emitted::Verbatim(document) => document,
        }
    }
}

impl From<CdEvent> for Emitted {
    fn from(event: CdEvent) -> Self {
        Emitted::Typed(Box::new(event))
    }
}

/// Turns one CloudEvent into zero or more CDEvents.
pub trait Transformer: Send + Sync {
    /// The name routes refer to; also part of every id the transformer derives.
    fn name(&self) -> &str;
    /// The CDEvents this event stands for (often none: most events are not deliveries).
    fn transform(&self, event: &CloudEvent) -> Result<Vec<Emitted>, TransformError>;

    /// [`Transformer::transform`], with each CDEvent as its document (what tests and
    /// `dora-events transform` show).
    fn documents(&self, event: &CloudEvent) -> Result<Vec<Value>, TransformError> {
        let emitted = self.transform(event)?;
        Ok(emitted.into_iter().map(Emitted::into_document).collect())
    }
}

/// The fields of a CDEvent a transformer fills in; [`CdEventDraft::into_cdevent`] makes the
/// v0.5.1 CDEvent of them.
#[derive(Debug, Clone)]
pub struct CdEventDraft {
    /// Full type string, e.g. [`SERVICE_DEPLOYED`].
    pub event_type: &'static str,
    /// Deterministic id (see `dora_model::ids::derived_id`).
    pub id: String,
    /// Context source: the system the fact comes from (e.g. the cluster).
    pub source: String,
    pub timestamp: DateTime<Utc>,
    pub subject_id: String,
    pub subject_source: Option<String>,
    pub content: Content,
    pub custom_data: Option<CustomData>,
}

impl CdEventDraft {
    pub fn into_cdevent(self) -> CdEvent {
        CdEvent {
            id: self.id,
            source: self.source,
            event_type: self.event_type.to_owned(),
            timestamp: self.timestamp,
            spec_version: EMIT_SPEC_VERSION.to_owned(),
            subject_id: self.subject_id,
            subject_source: self.subject_source,
            content: self.content,
            custom_data: self.custom_data,
        }
    }
}

/// A CDEvent a transformer emits about something of one system (a repository, an Argo CD, a
/// Tekton installation): context and subject source are that system, and `customData` holds
/// what the calculators read (`dora`) and the tool's own fields.
#[derive(Debug, Clone)]
pub struct Fact {
    /// Full type string, e.g. [`SERVICE_DEPLOYED`].
    pub event_type: &'static str,
    /// Deterministic id (see `dora_model::ids::derived_id`).
    pub id: String,
    pub timestamp: DateTime<Utc>,
    pub subject_id: String,
    pub content: Content,
    /// `customData.dora`; left out when `None`.
    pub dora: Option<DoraData>,
    /// `customData.<tool>`: the tool's name and its own fields; left out when `None`.
    pub own: Option<(&'static str, Map<String, Value>)>,
}

impl Fact {
    /// The CDEvent, with `source` as context and subject source.
    pub fn into_cdevent(self, source: &str) -> CdEvent {
        let mut custom = CustomData {
            dora: self.dora,
            tools: Map::new(),
        };
        if let Some((tool, own)) = self.own {
            custom.tools.insert(tool.into(), Value::Object(own));
        }
        CdEventDraft {
            event_type: self.event_type,
            id: self.id,
            source: source.to_owned(),
            timestamp: self.timestamp,
            subject_id: self.subject_id,
            subject_source: Some(source.to_owned()),
            content: self.content,
            custom_data: Some(custom),
        }
        .into_cdevent()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dora_spec::SpecRelease;

    #[test]
    fn every_type_constant_is_the_v0_5_1_type() {
        for (constant, subject, predicate) in [
            (SERVICE_DEPLOYED, "service", "deployed"),
            (SERVICE_UPGRADED, "service", "upgraded"),
            (SERVICE_ROLLEDBACK, "service", "rolledback"),
            (SERVICE_REMOVED, "service", "removed"),
            (CHANGE_CREATED, "change", "created"),
            (CHANGE_UPDATED, "change", "updated"),
            (CHANGE_MERGED, "change", "merged"),
            (CHANGE_ABANDONED, "change", "abandoned"),
            (PIPELINERUN_STARTED, "pipelinerun", "started"),
            (PIPELINERUN_FINISHED, "pipelinerun", "finished"),
            (TASKRUN_STARTED, "taskrun", "started"),
            (TASKRUN_FINISHED, "taskrun", "finished"),
            (INCIDENT_DETECTED, "incident", "detected"),
            (INCIDENT_RESOLVED, "incident", "resolved"),
            (ARTIFACT_PUBLISHED, "artifact", "published"),
        ] {
            assert_eq!(
                dora_spec::type_for(SpecRelease::V0_5_1, subject, predicate),
                Some(constant),
                "{subject}.{predicate}"
            );
        }
    }
}
