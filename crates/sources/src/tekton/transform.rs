//! Tekton: CloudEvents from Tekton's events controller (`dev.tekton.event.pipelinerun.*`,
//! `dev.tekton.event.taskrun.*`) -> pipeline and task runs, and deployments for the pipeline
//! runs that deploy.
//!
//! # Input
//!
//! What Tekton Pipelines sends to the sink configured as `default-cloud-events-sink` (ConfigMap
//! `config-defaults`, or `config-events` in newer releases), one CloudEvent per change of a
//! run's `Succeeded` condition:
//!
//! * `type`: `dev.tekton.event.<kind>.<state>.v1`, kind `pipelinerun` or `taskrun` (also
//!   `customrun`, ignored), state `started` (first seen by the reconciler), `running`, `unknown`
//!   (still running), `successful` (condition `True`) or `failed` (condition `False`, which
//!   includes cancelled and timed-out runs);
//! * `source`: the run's self link, e.g. `/apis/tekton.dev/v1beta1/namespaces/ci/pipelineruns/x`
//!   (a URI reference; newer releases spell the kind `PipelineRun`);
//! * `id`: a random UUID (so the raw store cannot de-duplicate a resend; the CDEvent ids below
//!   can), `subject`: the run's name, `time`: when it was sent;
//! * `data`: `{"pipelineRun": <the PipelineRun>}` or `{"taskRun": <the TaskRun>}`, serialised
//!   as `tekton.dev/v1beta1` even when the cluster stores v1 (`spec.params[]` as
//!   `{"name", "value"}`, `status.conditions[]`, `status.startTime`, `status.completionTime`,
//!   `status.pipelineSpec` with the parameters' defaults).
//!
//! # Output
//!
//! | Tekton type | CDEvents (v0.5.1) |
//! |---|---|
//! | `pipelinerun.started.v1` | `pipelinerun.started` |
//! | `pipelinerun.successful.v1` | `pipelinerun.finished` (outcome `success`); a deploying run also `service.deployed` (outcome `success`) |
//! | `pipelinerun.failed.v1` | `pipelinerun.finished` (outcome `failure`, or `cancel`); a deploying run that was not cancelled also `service.deployed` with `customData.dora.outcome = "failure"` |
//! | `taskrun.started.v1` | `taskrun.started` |
//! | `taskrun.successful.v1`, `taskrun.failed.v1` | `taskrun.finished` (outcome as above) |
//! | `*.cancelled.v1` (not sent by the releases we know; accepted) | `*.finished` (outcome `cancel`) |
//! | `*.running.v1`, `*.unknown.v1`, `customrun.*`, other versions | nothing |
//!
//! A failed run whose `Succeeded` condition has a cancellation reason (`Cancelled`,
//! `CancelledRunFinally`, `StoppedRunFinally`, `PipelineRunCancelled`, `TaskRunCancelled`) has
//! outcome `cancel` and is not a deployment: someone stopped it, nothing says it rolled out.
//! Timeouts and every other failure are `failure`.
//!
//! ## Which pipeline runs deploy
//!
//! A pipeline run deploys when the label (or annotation) [`TektonSettings::deploy_label`]
//! (`dora-events.dev/deploy`) on the PipelineRun is `"true"` (Tekton copies a Pipeline's labels
//! to its runs, so labelling the Pipeline is enough); `"false"` says it does not, whatever its
//! name. Otherwise it deploys when its pipeline name (label `tekton.dev/pipeline`, else
//! `spec.pipelineRef.name`, else the run's name) matches one of
//! [`TektonSettings::deploy_pipelines`]: a pattern with `*` or `?` is a glob over the whole name
//! ([`name_matches`]), any other pattern a prefix (`deploy` matches `deploy-prod`).
//!
//! ## Fields
//!
//! Parameters are read from `spec.params` (string values only), falling back to the default of
//! the pipeline's parameter of that name (`status.pipelineSpec.params[].default`).
//!
//! * Deployment `subject.id` (the service): the first of [`TektonSettings::service_params`]
//!   (`service`) set on the run, else the first of [`TektonSettings::service_labels`]
//!   (`app.kubernetes.io/name`), else the pipeline name;
//! * `environment.id`: the first of [`TektonSettings::environment_params`] (`environment`), else
//!   of [`TektonSettings::environment_labels`] (`dora-events.dev/environment`), else
//!   [`TektonSettings::default_environment`] (`"unknown"`);
//! * `customData.dora.revision`: the first of [`TektonSettings::revision_params`] (`revision`,
//!   `git-revision`), on the pipeline run events too;
//! * `artifactId`: the OCI purl ([`oci_purl`]) of the first of [`TektonSettings::image_params`]
//!   (`image`), else `pkg:generic/<service>@<revision>` ([`generic_purl`]; without `@` when there
//!   is no revision);
//! * `customData.dora.team`: the run's `app.kubernetes.io/part-of` label, when set;
//! * `uri` (run events): `<dashboard_url>/#/namespaces/<ns>/pipelineruns/<name>` with
//!   [`TektonSettings::dashboard_url`], else the run's API URL under
//!   [`TektonSettings::api_server_url`] (`https://kubernetes.default.svc`);
//! * `pipelineName` / `taskName`: label `tekton.dev/pipeline` / `tekton.dev/task`, else the
//!   `pipelineRef` / `taskRef` name, else the run's name; a task run of a pipeline run names it
//!   in `pipelineRun.id` (`<namespace>/<label tekton.dev/pipelineRun>`);
//! * timestamps come from the run, never the clock: started = `status.startTime`, else the
//!   CloudEvent `time`, else `metadata.creationTimestamp`; finished and deployed =
//!   `status.completionTime`, else the `Succeeded` condition's `lastTransitionTime`, else the
//!   CloudEvent `time`;
//! * context `source` and `subject.source` = the CloudEvent source; run `subject.id` =
//!   `<namespace>/<name>`.
//!
//! ## Ids
//!
//! `derived_id(["tekton", <kind>, <run uid (else namespace/name)>, <state>])` with state
//! `started`, `finished` or `deployed`: Tekton's CloudEvent ids are random, but every resend of
//! the same state of the same run gives the same CDEvent id, and the CDEvents store keeps the
//! first. A re-run is a new PipelineRun, with a new uid.
//!
//! Malformed data of a handled type (no `pipelineRun` object, no `metadata.name`, a timestamp
//! that is not RFC 3339, ...) is a [`TransformError`] naming the field.

use chrono::{DateTime, Utc};
use dora_model::cdevent::{
    Content, DoraData, PipelineRunContent, Reference, RunFields, ServiceContent, TaskRunContent,
};
use dora_model::cloudevent::CloudEvent;
use dora_model::ids::derived_id;
use dora_model::time::format_rfc3339;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::payload::{PipelineRunData, RunObject, TaskRunData};
use crate::common::{display_path, insert_some, no_timestamp, payload, read};
pub use crate::purl::generic_purl;
use crate::purl::oci_purl;
pub use crate::transform::PIPELINERUN_FINISHED;
use crate::transform::{Emitted, Fact, TransformError, Transformer, SERVICE_DEPLOYED};

/// The prefix of every Tekton CloudEvent type.
pub const TYPE_PREFIX: &str = "dev.tekton.event.";
pub use crate::transform::{PIPELINERUN_STARTED, TASKRUN_FINISHED, TASKRUN_STARTED};

/// The label (or annotation) that marks a deploying pipeline run, by default.
pub const DEFAULT_DEPLOY_LABEL: &str = "dora-events.dev/deploy";
/// The API server the `uri` of runs points at without a dashboard (the in-cluster name).
pub const DEFAULT_API_SERVER_URL: &str = "https://kubernetes.default.svc";
/// The environment of deployments that name none, by default.
pub const UNKNOWN_ENVIRONMENT: &str = "unknown";

/// `Succeeded` condition reasons of a cancelled (or gracefully stopped) run.
const CANCEL_REASONS: [&str; 5] = [
    "Cancelled",
    "CancelledRunFinally",
    "StoppedRunFinally",
    "PipelineRunCancelled",
    "TaskRunCancelled",
];

/// `[sources.tekton]` in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TektonSettings {
    /// Pipeline names whose runs deploy: globs (`*`, `?`) or prefixes. Default: none.
    pub deploy_pipelines: Vec<String>,
    /// A PipelineRun label (or annotation) saying whether the run deploys (`"true"`/`"false"`).
    pub deploy_label: String,
    /// Run parameters naming the service, first set wins.
    pub service_params: Vec<String>,
    /// Run labels naming the service, after the parameters.
    pub service_labels: Vec<String>,
    /// Run parameters naming the environment, first set wins.
    pub environment_params: Vec<String>,
    /// Run labels naming the environment, after the parameters.
    pub environment_labels: Vec<String>,
    /// The environment of deployments that name none (default `"unknown"`, also when empty).
    pub default_environment: String,
    /// Run parameters holding the commit deployed, first set wins.
    pub revision_params: Vec<String>,
    /// Run parameters holding the image deployed, first set wins.
    pub image_params: Vec<String>,
    /// The Tekton Dashboard (e.g. `https://tekton.example.com`), for the `uri` of runs.
    pub dashboard_url: Option<String>,
    /// The Kubernetes API server, for the `uri` of runs without a dashboard.
    pub api_server_url: String,
}

impl Default for TektonSettings {
    fn default() -> Self {
        Self {
            deploy_pipelines: Vec::new(),
            deploy_label: DEFAULT_DEPLOY_LABEL.into(),
            service_params: vec!["service".into()],
            service_labels: vec!["app.kubernetes.io/name".into()],
            environment_params: vec!["environment".into()],
            environment_labels: vec!["dora-events.dev/environment".into()],
            default_environment: UNKNOWN_ENVIRONMENT.into(),
            revision_params: vec!["revision".into(), "git-revision".into()],
            image_params: vec!["image".into()],
            dashboard_url: None,
            api_server_url: DEFAULT_API_SERVER_URL.into(),
        }
    }
}

/// The `tekton` transformer.
pub struct TektonTransformer {
    settings: TektonSettings,
}

impl TektonTransformer {
    pub fn new(settings: TektonSettings) -> Self {
        Self { settings }
    }
}

/// The two kinds of runs handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    PipelineRun,
    TaskRun,
}

impl Kind {
    /// The key of the run object in the CloudEvent data.
    fn data_key(self) -> &'static str {
        match self {
            Self::PipelineRun => "pipelineRun",
            Self::TaskRun => "taskRun",
        }
    }

    /// The lowercase kind, as in the Tekton types and in the ids.
    fn name(self) -> &'static str {
        match self {
            Self::PipelineRun => "pipelinerun",
            Self::TaskRun => "taskrun",
        }
    }

    /// The Kubernetes resource (plural) and the Dashboard's path segment.
    fn resource(self) -> &'static str {
        match self {
            Self::PipelineRun => "pipelineruns",
            Self::TaskRun => "taskruns",
        }
    }
}

/// The lifecycle states that give CDEvents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Started,
    Successful,
    Failed,
    /// Not sent by the Tekton releases we know (they report cancellations as `failed`), but
    /// accepted should a release send it.
    Cancelled,
}

/// Splits `<kind>.<state>.v1` (after [`TYPE_PREFIX`]); `None` for what gives nothing.
fn parse_type(rest: &str) -> Option<(Kind, State)> {
    let mut parts = rest.split('.');
    let kind = match parts.next()? {
        "pipelinerun" => Kind::PipelineRun,
        "taskrun" => Kind::TaskRun,
        _ => return None,
    };
    let state = match parts.next()? {
        "started" => State::Started,
        "successful" => State::Successful,
        "failed" => State::Failed,
        "cancelled" => State::Cancelled,
        _ => return None,
    };
    (parts.next()? == "v1" && parts.next().is_none()).then_some((kind, state))
}

impl Transformer for TektonTransformer {
    fn name(&self) -> &str {
        "tekton"
    }

    fn transform(&self, event: &CloudEvent) -> Result<Vec<Emitted>, TransformError> {
        let Some((kind, state)) = event
            .event_type
            .strip_prefix(TYPE_PREFIX)
            .and_then(parse_type)
        else {
            return Ok(Vec::new());
        };
        let data = payload(event)?;
        let object = match kind {
            Kind::PipelineRun => read::<PipelineRunData>(data)?.run,
            Kind::TaskRun => read::<TaskRunData>(data)?.run,
        };
        let run = Run { kind, object };
        match state {
            State::Started => Ok(vec![self.started(event, &run)?]),
            State::Successful | State::Failed | State::Cancelled => {
                self.finished(event, &run, state)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The run

/// A PipelineRun or TaskRun, as the CloudEvent carries it.
struct Run<'a> {
    kind: Kind,
    object: RunObject<'a>,
}

impl<'a> Run<'a> {
    fn name(&self) -> &'a str {
        self.object.metadata.name
    }

    fn namespace(&self) -> &'a str {
        self.object.metadata.namespace
    }

    /// `<namespace>/<name>`.
    fn reference(&self) -> String {
        format!("{}/{}", self.namespace(), self.name())
    }

    /// The CDEvent id of a state of this run.
    fn id(&self, state: &str) -> String {
        let key = match self.object.metadata.uid {
            Some(uid) => uid.to_owned(),
            None => self.reference(),
        };
        derived_id(&["tekton", self.kind.name(), &key, state])
    }

    /// The pipeline (or task) this is a run of.
    fn definition_name(&self) -> &'a str {
        let (label, reference) = match self.kind {
            Kind::PipelineRun => ("tekton.dev/pipeline", &self.object.spec.pipeline_ref),
            Kind::TaskRun => ("tekton.dev/task", &self.object.spec.task_ref),
        };
        self.object
            .label(label)
            .or_else(|| reference.as_ref().and_then(|reference| reference.name))
            .unwrap_or(self.name())
    }

    /// The revision a pipeline run builds or deploys (task runs: none).
    fn revision(&self, settings: &TektonSettings) -> Option<&str> {
        match self.kind {
            Kind::PipelineRun => self.object.first_param(&settings.revision_params),
            Kind::TaskRun => None,
        }
    }

    /// A link to the run: the Tekton Dashboard's page, else its API URL.
    fn uri(&self, settings: &TektonSettings) -> String {
        let dashboard = settings
            .dashboard_url
            .as_deref()
            .map(|url| url.trim().trim_end_matches('/'))
            .filter(|url| !url.is_empty());
        let path = format!(
            "namespaces/{}/{}/{}",
            self.namespace(),
            self.kind.resource(),
            self.name()
        );
        match dashboard {
            Some(dashboard) => format!("{dashboard}/#/{path}"),
            None => {
                let api = match settings.api_server_url.trim().trim_end_matches('/') {
                    "" => DEFAULT_API_SERVER_URL,
                    api => api,
                };
                format!("{api}/apis/tekton.dev/v1/{path}")
            }
        }
    }

    /// Whether this pipeline run deploys (see the module documentation).
    fn deploys(&self, settings: &TektonSettings) -> bool {
        if self.kind != Kind::PipelineRun {
            return false;
        }
        let label = settings.deploy_label.trim();
        if !label.is_empty() {
            let value = self
                .object
                .label(label)
                .or_else(|| self.object.annotation(label));
            match value.map(str::trim) {
                Some(value) if value.eq_ignore_ascii_case("true") => return true,
                Some(value) if value.eq_ignore_ascii_case("false") => return false,
                _ => {}
            }
        }
        let pipeline = self.definition_name();
        settings
            .deploy_pipelines
            .iter()
            .any(|pattern| name_matches(pattern.trim(), pipeline))
    }

    /// When the run started: its `startTime`, else the CloudEvent's time, else its
    /// `creationTimestamp`.
    fn start_time(&self, event: &CloudEvent) -> Result<DateTime<Utc>, TransformError> {
        let object = &self.object;
        (object.status.start_time)
            .or(event.time)
            .or(object.metadata.creation_timestamp)
            .ok_or_else(|| {
                let key = self.kind.data_key();
                no_timestamp(&[
                    display_path(&[key, "status", "startTime"]),
                    display_path(&[key, "metadata", "creationTimestamp"]),
                ])
            })
    }

    /// When the run finished: its `completionTime`, else its `Succeeded` condition's
    /// `lastTransitionTime`, else the CloudEvent's time.
    fn completion_time(&self, event: &CloudEvent) -> Result<DateTime<Utc>, TransformError> {
        let condition = self.object.succeeded();
        (self.object.status.completion_time)
            .or(condition.and_then(|condition| condition.last_transition_time))
            .or(event.time)
            .ok_or_else(|| {
                TransformError::new(format!(
                    "no timestamp: data.{0}.status.completionTime and the Succeeded \
                     condition's lastTransitionTime are missing and the CloudEvent has no time",
                    self.kind.data_key()
                ))
            })
    }
}

/// What a finished run gives its `service.deployed`.
struct Finished<'a> {
    outcome: &'static str,
    revision: Option<&'a str>,
    timestamp: DateTime<Utc>,
    tekton: Map<String, Value>,
}

/// How a finished run ended, from the CloudEvent type and the `Succeeded` condition's reason.
fn outcome(state: State, reason: Option<&str>) -> &'static str {
    match state {
        State::Successful => "success",
        State::Cancelled => "cancel",
        _ if reason.is_some_and(|reason| CANCEL_REASONS.contains(&reason)) => "cancel",
        _ => "failure",
    }
}

impl TektonTransformer {
    /// `*.started.v1` -> `pipelinerun.started` / `taskrun.started`.
    fn started(&self, event: &CloudEvent, run: &Run) -> Result<Emitted, TransformError> {
        let timestamp = run.start_time(event)?;
        let event_type = match run.kind {
            Kind::PipelineRun => PIPELINERUN_STARTED,
            Kind::TaskRun => TASKRUN_STARTED,
        };
        let dora = DoraData {
            revision: run.revision(&self.settings).map(str::to_owned),
            ..DoraData::default()
        };
        let mut tekton = run_details(run);
        tekton.insert("startTime".into(), json!(format_rfc3339(&timestamp)));
        Ok(Fact {
            event_type,
            id: run.id("started"),
            timestamp,
            subject_id: run.reference(),
            content: self.run_content(run),
            dora: Some(dora).filter(|dora| !dora.is_empty()),
            own: Some(("tekton", tekton)),
        }
        .into_cdevent(&event.source)
        .into())
    }

    /// `*.successful.v1`, `*.failed.v1` -> `*.finished`, and `service.deployed` for a deploying
    /// pipeline run that was not cancelled.
    fn finished(
        &self,
        event: &CloudEvent,
        run: &Run,
        state: State,
    ) -> Result<Vec<Emitted>, TransformError> {
        let condition = run.object.succeeded();
        let reason = condition.and_then(|condition| condition.reason);
        let message = condition.and_then(|condition| condition.message);
        let outcome = outcome(state, reason);
        let timestamp = run.completion_time(event)?;
        let revision = run.revision(&self.settings);

        let mut content = self.run_content(run);
        let event_type = match run.kind {
            Kind::PipelineRun => PIPELINERUN_FINISHED,
            Kind::TaskRun => TASKRUN_FINISHED,
        };
        if let Some(run) = content.run_fields_mut() {
            run.outcome = Some(outcome.to_owned());
            run.errors = message.filter(|_| outcome != "success").map(str::to_owned);
        }
        let dora = DoraData {
            revision: revision.map(str::to_owned),
            outcome: Some(outcome.to_owned()),
            ..DoraData::default()
        };
        let mut tekton = run_details(run);
        insert_some(&mut tekton, "reason", reason);
        let started = run.object.status.start_time.as_ref().map(format_rfc3339);
        insert_some(&mut tekton, "startTime", started);
        tekton.insert("completionTime".into(), json!(format_rfc3339(&timestamp)));
        let mut out = vec![Fact {
            event_type,
            id: run.id("finished"),
            timestamp,
            subject_id: run.reference(),
            content,
            dora: Some(dora),
            own: Some(("tekton", tekton.clone())),
        }
        .into_cdevent(&event.source)
        .into()];

        if outcome == "cancel" || !run.deploys(&self.settings) {
            return Ok(out);
        }
        let finished = Finished {
            outcome,
            revision,
            timestamp,
            tekton,
        };
        out.push(self.deployed(event, run, finished));
        Ok(out)
    }

    /// The `service.deployed` of a deploying pipeline run that finished.
    fn deployed(&self, event: &CloudEvent, run: &Run, finished: Finished<'_>) -> Emitted {
        let Finished {
            outcome,
            revision,
            timestamp,
            mut tekton,
        } = finished;
        let settings = &self.settings;
        let object = &run.object;
        let service = object
            .first_param(&settings.service_params)
            .or_else(|| object.first_label(&settings.service_labels))
            .unwrap_or(run.definition_name());
        let environment = object
            .first_param(&settings.environment_params)
            .or_else(|| object.first_label(&settings.environment_labels))
            .unwrap_or(match settings.default_environment.trim() {
                "" => UNKNOWN_ENVIRONMENT,
                environment => environment,
            });
        let image = object.first_param(&settings.image_params);
        let artifact = image
            .and_then(oci_purl)
            .unwrap_or_else(|| generic_purl(service, revision));
        let content = Content::Service(ServiceContent {
            environment: Some(Reference::id(environment)),
            artifact_id: Some(artifact),
        });
        let dora = DoraData {
            revision: revision.map(str::to_owned),
            outcome: Some(outcome.to_owned()),
            team: object.label("app.kubernetes.io/part-of").map(str::to_owned),
            ..DoraData::default()
        };
        tekton.insert("pipelineRun".into(), json!(run.reference()));
        insert_some(&mut tekton, "image", image);
        Fact {
            event_type: SERVICE_DEPLOYED,
            id: run.id("deployed"),
            timestamp,
            subject_id: service.to_owned(),
            content,
            dora: Some(dora),
            own: Some(("tekton", tekton)),
        }
        .into_cdevent(&event.source)
        .into()
    }

    /// The content shared by the started and finished events (`pipelineName`/`taskName`,
    /// `uri`, a task run's `pipelineRun`).
    fn run_content(&self, run: &Run) -> Content {
        let name = Some(run.definition_name().to_owned());
        let fields = RunFields {
            uri: Some(run.uri(&self.settings)),
            ..RunFields::default()
        };
        match run.kind {
            Kind::PipelineRun => Content::PipelineRun(PipelineRunContent {
                pipeline_name: name,
                run: fields,
            }),
            Kind::TaskRun => Content::TaskRun(TaskRunContent {
                task_name: name,
                pipeline_run: run
                    .object
                    .label("tekton.dev/pipelineRun")
                    .map(|pipeline_run| {
                        Reference::id(format!("{}/{pipeline_run}", run.namespace()))
                    }),
                run: fields,
            }),
        }
    }
}

/// `customData.tekton`: what identifies the run.
fn run_details(run: &Run) -> Map<String, Value> {
    let mut tekton = Map::new();
    tekton.insert("namespace".into(), json!(run.namespace()));
    tekton.insert("name".into(), json!(run.name()));
    insert_some(&mut tekton, "uid", run.object.metadata.uid);
    let definition = match run.kind {
        Kind::PipelineRun => "pipeline",
        Kind::TaskRun => "task",
    };
    tekton.insert(definition.into(), json!(run.definition_name()));
    tekton
}

/// Whether a pipeline name matches a pattern of `deploy_pipelines`: a pattern with `*` (any run
/// of characters) or `?` (one character) is a glob over the whole name; any other is a prefix.
/// An empty pattern matches nothing.
pub fn name_matches(pattern: &str, name: &str) -> bool {
    if pattern.is_empty() {
        return false;
    }
    if !pattern.contains(['*', '?']) {
        return name.starts_with(pattern);
    }
    crate::glob::matches_text(pattern, name)
}

#[cfg(test)]
#[path = "transform_tests.rs"]
mod tests;
