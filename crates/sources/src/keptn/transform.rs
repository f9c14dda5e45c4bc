//! Keptn's lifecycle operator -> `service.deployed`, from either of its two outputs:
//!
//! - its CloudEvents (`KeptnConfig.spec.cloudEventsEndpoint`): `source` `keptn.sh`, `type`
//!   `<phase long name>.<status>` (`Workload Deployment.Failed`, `Workload Completed.Finished`),
//!   data `{message, type, version, resource: {name, namespace, ...}}`;
//! - its Kubernetes Events, through the ApiServerSource watching `v1` Events: `reason`
//!   `<phase short name><status>` (`WorkloadDeployFailed`, `WorkloadCompletedFinished`) on the
//!   phase item (`involvedObject`, a `KeptnWorkloadVersion` or `KeptnAppVersion`), with the
//!   annotations `workloadVersion` / `appVersion`.
//!
//! # One rollout, one CDEvent, the first verdict
//!
//! A rollout is one `KeptnWorkloadVersion` (or, with `service = "application"`, one
//! `KeptnAppVersion`). Every phase outcome of it gets the same id, `derived_id(["keptn",
//! "workload"|"app", <source setting>, <namespace>, <service>, <version>])`, and the CDEvents
//! store keeps the first CDEvent of an id. So the deployment is emitted once Keptn has the
//! rollout's verdict, from whichever input reports it first, and redeliveries change nothing:
//!
//! | phase (long / short name) | status | CDEvent |
//! |---|---|---|
//! | `Workload Deployment` / `WorkloadDeploy` | `Failed`, or `Finished` with type `Warning` (the deployment timed out) | `service.deployed`, outcome `failure` |
//! | `Workload Post-Deployment Tasks`, `... Evaluations` (and the 2022 spellings `Workload Post-Deployment`, `Workload Post-Evaluation`, `Workload Post-Analysis`) | `Failed` | `service.deployed`, outcome `failure` |
//! | `Workload Completed` / `WorkloadCompleted` | `Finished` (or `Succeeded`, the status before July 2023), type `Normal` | `service.deployed`, outcome `success` |
//! | the `App ...` phases of the same names | the same | the same, with `service = "application"` |
//! | anything else (`Started`, pre-deployment phases, `Workload Completed.Failed`, which follows a failure already reported or a pre-deployment failure that deployed nothing) | | nothing |
//!
//! A successful deployment is thus counted when Keptn finishes the version (after its
//! post-deployment tasks and evaluations), not when the pods are ready: a success emitted at
//! `Workload Deployment.Finished` would be the first CDEvent of the id and hide a later failed
//! evaluation. The timestamp is the verdict's.
//!
//! # What becomes what
//!
//! * `subject.id` (the service): the workload, as Keptn names its `KeptnWorkload`
//!   (`<application>-<workload>`): the phase item's name without `-<version>`; with
//!   `service = "application"`, the application: the `KeptnAppVersion` name before
//!   `-<version>-<hash>`. Both inputs carry the item's name, so both give the same service
//!   (a name Keptn truncated to 63 characters is used whole);
//! * `environment.id`: [`KeptnSettings::environment`], else the namespace;
//! * `artifactId`: `pkg:generic/<service>@<version>`;
//! * `customData.dora`: `outcome`; `team` = the application with `service = "application"`
//!   (the workload CloudEvents do not name the application, and both inputs must give the same
//!   CDEvent);
//! * `customData.keptn`: the phase (short name), status, event type, kind, name, namespace,
//!   version and message.
//!
//! Malformed data is a [`TransformError`] naming the field.

use chrono::{DateTime, Utc};
use dora_model::cdevent::{Content, DoraData, Reference, ServiceContent};
use dora_model::cloudevent::CloudEvent;
use dora_model::ids::derived_id;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map};

use super::payload::{message_object, CoreEvent, PhaseCloudEvent};
use crate::common::read;
use crate::purl::generic_purl;
use crate::transform::{Emitted, Fact, TransformError, Transformer, SERVICE_DEPLOYED};

/// The type prefix of the ApiServerSource's CloudEvents (as the kubernetes source reads them).
pub const APISERVER_PREFIX: &str = "dev.knative.apiserver.";

/// The kinds of Keptn's phase items (`KeptnWorkloadInstance` before v1beta1).
pub const PHASE_ITEM_KINDS: &[&str] = &[
    "KeptnWorkloadVersion",
    "KeptnWorkloadInstance",
    "KeptnAppVersion",
];

/// `[sources.keptn]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeptnSettings {
    /// What a deployment is of: each workload (default), or the application.
    pub service: ServiceLevel,
    /// The environment of every deployment; the namespace when unset.
    pub environment: Option<String>,
    /// The context and subject source of the CDEvents, the same for both inputs (give each
    /// cluster its own when several send to one dora-events).
    pub source: String,
}

impl Default for KeptnSettings {
    fn default() -> Self {
        Self {
            service: ServiceLevel::Workload,
            environment: None,
            source: "keptn.sh".into(),
        }
    }
}

/// `[sources.keptn] service`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceLevel {
    /// A deployment per `KeptnWorkloadVersion`.
    #[default]
    Workload,
    /// A deployment per `KeptnAppVersion`.
    Application,
}

/// Transforms Keptn's CloudEvents and Kubernetes Events into deployments.
#[derive(Debug, Clone, Default)]
pub struct KeptnTransformer {
    settings: KeptnSettings,
}

impl KeptnTransformer {
    pub fn new(settings: KeptnSettings) -> Self {
        Self { settings }
    }
}

/// Which phase item a phase belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Workload,
    App,
}

/// Where a phase stands in a rollout, for what its outcome says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Deploy,
    PostDeploy,
    Completed,
}

/// A phase Keptn reports whose outcome is a rollout's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Phase {
    pub(crate) long: &'static str,
    pub(crate) short: &'static str,
    pub(crate) level: Level,
    pub(crate) step: Step,
}

const fn phase(long: &'static str, short: &'static str, level: Level, step: Step) -> Phase {
    Phase {
        long,
        short,
        level,
        step,
    }
}

/// The phases read (`lifecycle-operator/apis/lifecycle/v1/common/phases.go`), with the
/// spellings of October 2022 (`Post-Deployment`, `Post-Evaluation`, `Post-Analysis`).
pub(crate) const PHASES: &[Phase] = &[
    phase(
        "Workload Deployment",
        "WorkloadDeploy",
        Level::Workload,
        Step::Deploy,
    ),
    phase(
        "Workload Post-Deployment Tasks",
        "WorkloadPostDeployTasks",
        Level::Workload,
        Step::PostDeploy,
    ),
    phase(
        "Workload Post-Deployment Evaluations",
        "WorkloadPostDeployEvaluations",
        Level::Workload,
        Step::PostDeploy,
    ),
    phase(
        "Workload Post-Deployment",
        "WorkloadPostDeploy",
        Level::Workload,
        Step::PostDeploy,
    ),
    phase(
        "Workload Post-Evaluation",
        "WorkloadPostEvaluation",
        Level::Workload,
        Step::PostDeploy,
    ),
    phase(
        "Workload Post-Analysis",
        "WorkloadPostAnalysis",
        Level::Workload,
        Step::PostDeploy,
    ),
    phase(
        "Workload Completed",
        "WorkloadCompleted",
        Level::Workload,
        Step::Completed,
    ),
    phase("App Deployment", "AppDeploy", Level::App, Step::Deploy),
    phase(
        "App Post-Deployment Tasks",
        "AppPostDeployTasks",
        Level::App,
        Step::PostDeploy,
    ),
    phase(
        "App Post-Deployment Evaluations",
        "AppPostDeployEvaluations",
        Level::App,
        Step::PostDeploy,
    ),
    phase(
        "App Post-Deployment",
        "AppPostDeploy",
        Level::App,
        Step::PostDeploy,
    ),
    phase(
        "App Post-Evaluation",
        "AppPostEvaluation",
        Level::App,
        Step::PostDeploy,
    ),
    phase(
        "App Post-Analysis",
        "AppPostAnalysis",
        Level::App,
        Step::PostDeploy,
    ),
    phase("App Completed", "AppCompleted", Level::App, Step::Completed),
];

/// The statuses that end a phase: `Finished` (`Succeeded` before July 2023) and `Failed`.
const END_STATUSES: &[&str] = &["Finished", "Succeeded", "Failed"];

/// The phase and status of a CloudEvent type (`Workload Deployment.Failed`).
pub(crate) fn parse_type(event_type: &str) -> Option<(Phase, &str)> {
    let (long, status) = event_type.rsplit_once('.')?;
    let phase = PHASES.iter().find(|p| p.long == long)?;
    Some((*phase, status))
}

/// The phase and status of an Event reason (`WorkloadDeployFailed`).
pub(crate) fn parse_reason(reason: &str) -> Option<(Phase, &str)> {
    PHASES.iter().find_map(|phase| {
        let status = reason.strip_prefix(phase.short)?;
        END_STATUSES.contains(&status).then_some((*phase, status))
    })
}

/// The rollout's outcome an outcome of `phase` says, if any.
pub(crate) fn verdict(phase: Phase, status: &str, warning: bool) -> Option<&'static str> {
    let succeeded = matches!(status, "Finished" | "Succeeded");
    match phase.step {
        _ if status == "Failed" && phase.step != Step::Completed => Some("failure"),
        Step::Deploy if succeeded && warning => Some("failure"),
        Step::Completed if succeeded && !warning => Some("success"),
        _ => None,
    }
}

/// The service a phase item stands for: a `KeptnWorkloadVersion` is named
/// `<workload>-<version>`, a `KeptnAppVersion` `<app>-<version>-<hash>`.
pub(crate) fn service_of(level: Level, name: &str, version: &str) -> String {
    let suffix = format!("-{version}");
    let service = match level {
        Level::Workload => name.strip_suffix(&suffix),
        Level::App => name
            .rfind(&format!("{suffix}-"))
            .map(|at| &name[..at])
            .or_else(|| name.strip_suffix(&suffix)),
    };
    service.filter(|s| !s.is_empty()).unwrap_or(name).to_owned()
}

/// One phase outcome, from either input.
struct Outcome<'a> {
    phase: Phase,
    status: &'a str,
    event_type: &'a str,
    namespace: &'a str,
    name: &'a str,
    version: &'a str,
    message: Option<&'a str>,
    timestamp: DateTime<Utc>,
}

impl KeptnTransformer {
    fn read_cloudevent(&self, event: &CloudEvent) -> Result<Vec<Emitted>, TransformError> {
        let Some((phase, status)) = parse_type(&event.event_type) else {
            return Ok(Vec::new());
        };
        let data: PhaseCloudEvent = read(json_data(event)?)?;
        let (namespace, name) = match &data.resource {
            Some(resource) => (resource.namespace.as_str(), resource.name.as_str()),
            None => message_object(&data.message)
                .map(|(namespace, name, _)| (namespace, name))
                .ok_or_else(|| {
                    TransformError::new(format!(
                        "data.resource is missing and data.message {:?} does not name the object \
                         (\"... / Namespace: <ns>, Name: <name>\")",
                        data.message
                    ))
                })?,
        };
        let timestamp = event
            .time
            .ok_or_else(|| TransformError::new("time is missing"))?;
        self.outcome(Outcome {
            phase,
            status,
            event_type: &data.event_type,
            namespace,
            name,
            version: &data.version,
            message: Some(&data.message),
            timestamp,
        })
    }

    fn read_event(&self, event: &CloudEvent) -> Result<Vec<Emitted>, TransformError> {
        let data: CoreEvent = read(json_data(event)?)?;
        let kind = data.involved_object.kind.as_deref().unwrap_or_default();
        if !PHASE_ITEM_KINDS.contains(&kind) {
            return Ok(Vec::new());
        }
        let Some((phase, status)) = parse_reason(&data.reason) else {
            return Ok(Vec::new());
        };
        let annotations = &data.metadata.annotations;
        let namespace = data
            .involved_object
            .namespace
            .as_deref()
            .or(annotations.get("namespace").map(String::as_str))
            .ok_or_else(|| TransformError::new("data.involvedObject.namespace is missing"))?;
        let key = match phase.level {
            Level::Workload => "workloadVersion",
            Level::App => "appVersion",
        };
        let version = annotations
            .get(key)
            .map(String::as_str)
            .or_else(|| data.message.as_deref().and_then(message_object)?.2)
            .ok_or_else(|| {
                TransformError::new(format!("data.metadata.annotations.{key} is missing"))
            })?;
        let timestamp = data
            .last_timestamp
            .or(data.event_time)
            .or(data.first_timestamp)
            .or(event.time)
            .ok_or_else(|| TransformError::new("data.lastTimestamp is missing"))?;
        self.outcome(Outcome {
            phase,
            status,
            event_type: data.event_type.as_deref().unwrap_or("Normal"),
            namespace,
            name: &data.involved_object.name,
            version,
            message: data.message.as_deref(),
            timestamp,
        })
    }

    fn outcome(&self, o: Outcome<'_>) -> Result<Vec<Emitted>, TransformError> {
        let wanted = match self.settings.service {
            ServiceLevel::Workload => Level::Workload,
            ServiceLevel::Application => Level::App,
        };
        if o.phase.level != wanted {
            return Ok(Vec::new());
        }
        let Some(outcome) = verdict(o.phase, o.status, o.event_type == "Warning") else {
            return Ok(Vec::new());
        };
        if o.version.is_empty() {
            return Err(TransformError::new(format!(
                "{} {} has no version",
                o.phase.long, o.name
            )));
        }
        let service = service_of(o.phase.level, o.name, o.version);
        let (level, kind) = match o.phase.level {
            Level::Workload => ("workload", "KeptnWorkloadVersion"),
            Level::App => ("app", "KeptnAppVersion"),
        };
        let source = self.settings.source.as_str();
        let environment = self
            .settings
            .environment
            .clone()
            .unwrap_or_else(|| o.namespace.to_owned());
        let mut dora = DoraData {
            outcome: Some(outcome.to_owned()),
            ..DoraData::default()
        };
        if o.phase.level == Level::App {
            dora.team = Some(service.clone());
        }
        let mut keptn = Map::new();
        keptn.insert("phase".into(), json!(o.phase.short));
        keptn.insert("status".into(), json!(o.status));
        keptn.insert("type".into(), json!(o.event_type));
        keptn.insert("kind".into(), json!(kind));
        keptn.insert("name".into(), json!(o.name));
        keptn.insert("namespace".into(), json!(o.namespace));
        keptn.insert("version".into(), json!(o.version));
        if let Some(message) = o.message {
            keptn.insert("message".into(), json!(message));
        }
        let fact = Fact {
            event_type: SERVICE_DEPLOYED,
            id: derived_id(&["keptn", level, source, o.namespace, &service, o.version]),
            timestamp: o.timestamp,
            content: Content::Service(ServiceContent {
                environment: Some(Reference::id(environment)),
                artifact_id: Some(generic_purl(&service, Some(o.version))),
            }),
            subject_id: service,
            dora: Some(dora),
            own: Some(("keptn", keptn)),
        };
        Ok(vec![fact.into_cdevent(source).into()])
    }
}

/// The event's JSON data.
fn json_data(event: &CloudEvent) -> Result<&serde_json::Value, TransformError> {
    event
        .data_json()
        .ok_or_else(|| TransformError::new("data is not JSON"))
}

impl Transformer for KeptnTransformer {
    fn name(&self) -> &str {
        "keptn"
    }

    fn transform(&self, event: &CloudEvent) -> Result<Vec<Emitted>, TransformError> {
        if event.event_type.starts_with(APISERVER_PREFIX) {
            // A deleted Event (expired after its TTL) reports nothing new.
            if event.event_type.ends_with(".delete") {
                return Ok(Vec::new());
            }
            self.read_event(event)
        } else {
            self.read_cloudevent(event)
        }
    }
}

#[cfg(test)]
#[path = "transform_tests.rs"]
mod tests;
