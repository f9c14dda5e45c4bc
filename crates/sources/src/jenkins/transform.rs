//! Jenkins -> `service.deployed`, from the CDEvents plugin's `pipelinerun.finished` events.
//!
//! The plugin (`jenkinsci/cdevents-plugin`) posts CloudEvents 0.3 (read as 1.0 by ingest) of
//! the CDEvents v0.1 binding: type `dev.cdevents.pipelinerun.finished.0.1.0`, the run's
//! `pipelinename`, `url`, `outcome` and `errors` as extensions, and in `data` the job and its
//! build (`build.number`, `build.status`, `build.parameters`, `build.scmState`). Those events
//! carry no CDEvent document, so the `cdevents` pass-through leaves them alone.
//!
//! # What counts
//!
//! A finished build of a **deploy job** (its full name matches one of
//! [`JenkinsSettings::deploy_jobs`], `*` standing for any text, `?` for any one character) is
//! a deployment:
//!
//! | `build.status` | CDEvent |
//! |---|---|
//! | `SUCCESS` | `service.deployed`, outcome `success` |
//! | `FAILURE`, `UNSTABLE` | `service.deployed`, outcome `failure` |
//! | `ABORTED`, `NOT_BUILT`, none | nothing (nothing was rolled out) |
//!
//! Builds of other jobs count nowhere.
//!
//! # What becomes what
//!
//! * the CDEvent id: `derived_id(["jenkins", <source>, <job>, <build number>])`: the plugin's
//!   retry of a build's event is the same deployment;
//! * `subject.id` (the service): the build parameter [`JenkinsSettings::service_param`], else
//!   the job's last name segment;
//! * `environment.id`: the build parameter [`JenkinsSettings::environment_param`], else
//!   [`JenkinsSettings::default_environment`];
//! * `customData.dora.revision`: `build.scmState.commit` (lead time finds the changes);
//!   `artifactId`: `pkg:generic/<service>@<commit, else build number>`;
//! * `customData.jenkins`: job, build number and URL, status, repository and branch.

use dora_model::cdevent::{Content, DoraData, Reference, ServiceContent};
use dora_model::cloudevent::CloudEvent;
use dora_model::ids::derived_id;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map};

use super::payload::{JobRun, Parameters};
use crate::common::read;
use crate::glob::matches_text;
use crate::purl::generic_purl;
use crate::transform::{Emitted, Fact, TransformError, Transformer, SERVICE_DEPLOYED};

/// The type of the plugin's finished runs.
pub const PIPELINERUN_FINISHED_V01: &str = "dev.cdevents.pipelinerun.finished.0.1.0";

/// `[sources.jenkins]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JenkinsSettings {
    /// Full names of the jobs whose builds are deployments; `*` stands for any text, `?` for
    /// any one character.
    pub deploy_jobs: Vec<String>,
    /// The build parameter naming the service; the job's last name segment when absent.
    pub service_param: String,
    /// The build parameter naming the environment.
    pub environment_param: String,
    /// The environment when the build has no such parameter.
    pub default_environment: String,
    /// The context and subject source of the CDEvents (one per Jenkins controller).
    pub source: String,
}

impl Default for JenkinsSettings {
    fn default() -> Self {
        Self {
            deploy_jobs: vec!["*deploy*".into()],
            service_param: "SERVICE".into(),
            environment_param: "ENVIRONMENT".into(),
            default_environment: "production".into(),
            source: "jenkins".into(),
        }
    }
}

/// Transforms the Jenkins CDEvents plugin's finished runs of deploy jobs into deployments.
#[derive(Debug, Clone, Default)]
pub struct JenkinsTransformer {
    settings: JenkinsSettings,
}

impl JenkinsTransformer {
    pub fn new(settings: JenkinsSettings) -> Self {
        Self { settings }
    }

    fn is_deploy_job(&self, job: &str) -> bool {
        self.settings
            .deploy_jobs
            .iter()
            .any(|pattern| matches_text(pattern, job))
    }

    fn deployment(
        &self,
        run: &JobRun,
        outcome: &str,
        event: &CloudEvent,
    ) -> Result<Fact, TransformError> {
        let settings = &self.settings;
        let build = &run.build;
        let parameter = |name: &str| {
            build
                .parameters
                .as_ref()
                .and_then(|p: &Parameters| p.get(name))
        };
        let service = parameter(&settings.service_param)
            .unwrap_or_else(|| run.name.rsplit('/').next().unwrap_or(&run.name).to_owned());
        let environment = parameter(&settings.environment_param)
            .unwrap_or_else(|| settings.default_environment.clone());
        let scm = build.scm_state.as_ref();
        let commit = scm.and_then(|s| s.commit.clone()).filter(|c| !c.is_empty());
        let number = build.number.to_string();
        let timestamp = event
            .time
            .ok_or_else(|| TransformError::new("time is missing"))?;
        let mut jenkins = Map::new();
        jenkins.insert("job".into(), json!(run.name));
        jenkins.insert("build".into(), json!(build.number));
        jenkins.insert("status".into(), json!(build.status));
        if let Some(url) = &build.full_url {
            jenkins.insert("url".into(), json!(url));
        }
        if let Some(repository) = scm.and_then(|s| s.url.as_ref()) {
            jenkins.insert("repository".into(), json!(repository));
        }
        if let Some(branch) = scm.and_then(|s| s.branch.as_ref()) {
            jenkins.insert("branch".into(), json!(branch));
        }
        Ok(Fact {
            event_type: SERVICE_DEPLOYED,
            id: derived_id(&["jenkins", &settings.source, &run.name, &number]),
            timestamp,
            content: Content::Service(ServiceContent {
                environment: Some(Reference::id(environment)),
                artifact_id: Some(generic_purl(
                    &service,
                    Some(commit.as_deref().unwrap_or(&number)),
                )),
            }),
            subject_id: service,
            dora: Some(DoraData {
                outcome: Some(outcome.to_owned()),
                revision: commit,
                ..DoraData::default()
            }),
            own: Some(("jenkins", jenkins)),
        })
    }
}

impl Transformer for JenkinsTransformer {
    fn name(&self) -> &str {
        "jenkins"
    }

    fn transform(&self, event: &CloudEvent) -> Result<Vec<Emitted>, TransformError> {
        if event.event_type != PIPELINERUN_FINISHED_V01 {
            return Ok(Vec::new());
        }
        let data = event
            .data_json()
            .ok_or_else(|| TransformError::new("data is not JSON"))?;
        let run: JobRun = read(data)?;
        if !self.is_deploy_job(&run.name) {
            return Ok(Vec::new());
        }
        let outcome = match run.build.status.as_deref() {
            Some("SUCCESS") => "success",
            Some("FAILURE" | "UNSTABLE") => "failure",
            _ => return Ok(Vec::new()),
        };
        let fact = self.deployment(&run, outcome, event)?;
        Ok(vec![fact.into_cdevent(&self.settings.source).into()])
    }
}
