//! Argo CD: notifications posted to `POST /webhooks/argocd` (`io.argoproj.argocd.<trigger>`)
//! -> deployments, failed deployments and incidents.
//!
//! # Input
//!
//! Argo CD does not speak CloudEvents. Its notifications controller renders the template
//! documented in `docs/integrations/argocd.md` when a trigger fires and posts the result to
//! `POST /webhooks/argocd`; the adapter (`dora_sources::argocd::webhook`) checks it with
//! [`parse`] and wraps it into one CloudEvent:
//!
//! * `type`: `io.argoproj.argocd.<trigger>` ([`TYPE_PREFIX`] + the payload's `trigger`);
//! * `source`: the payload's `argocdUrl` without a trailing `/`, or `argocd` ([`DEFAULT_SOURCE`]);
//! * `id`: [`Notification::event_id`] = `<app namespace>/<app name>/<revision>/<operation
//!   startedAt>/<trigger>/<health lastTransitionTime>` (`-` for what is missing): a notification
//!   Argo CD sends again (its webhook client retries on errors) is a duplicate;
//! * `time`: the latest of `operation.startedAt`, `operation.finishedAt` and
//!   `health.lastTransitionTime`; `subject`: the application name;
//! * `data`: the payload as sent.
//!
//! The payload (what the template renders; every member but `trigger` and `app.name` may be
//! missing, `null` or empty):
//!
//! ```json
//! {
//!   "trigger": "on-sync-succeeded",
//!   "argocdUrl": "https://argocd.example.com",
//!   "app": {"name": "guestbook", "namespace": "argocd", "uid": "…", "project": "default",
//!           "labels": {}, "annotations": {}},
//!   "destination": {"server": "https://kubernetes.default.svc", "name": "", "namespace": "prod"},
//!   "sync": {"status": "Synced", "revision": "<sha>", "revisions": []},
//!   "operation": {"phase": "Succeeded", "message": "…", "startedAt": "…", "finishedAt": "…",
//!                 "revision": "<syncResult.revision>", "revisions": ["<syncResult.revisions>"],
//!                 "syncRevision": "<operation.sync.revision>", "syncRevisions": []},
//!   "health": {"status": "Healthy", "message": "…", "lastTransitionTime": "…"},
//!   "images": ["ghcr.io/org/guestbook:1.2.3"],
//!   "history": [{"id": 4, "revision": "<sha>", "revisions": [], "deployStartedAt": "…",
//!                "deployedAt": "…"}]
//! }
//! ```
//!
//! `history` holds (at most) the last two entries of `status.history`, Argo CD's list of
//! successful syncs, oldest first.
//!
//! # Output
//!
//! By trigger (lists configurable in [`ArgocdSettings`]); other triggers give nothing:
//!
//! | trigger | CDEvent (v0.5.1) |
//! |---|---|
//! | `on-deployed`, `on-sync-succeeded` | `service.deployed`, `customData.dora.outcome = "success"` |
//! | `on-sync-failed` | `service.deployed`, `customData.dora.outcome = "failure"` |
//! | `on-health-degraded` | `incident.detected` |
//! | `on-health-recovered` (health `Healthy` only) | `incident.resolved` of the last two rollouts' incidents |
//!
//! ## Deployments
//!
//! One sync operation is one rollout: context `id` = `derived_id(["argocd", <source>, <app
//! namespace/name>, <revision>, <operation.startedAt>])`, whichever trigger reported it, so
//! `on-deployed` and `on-sync-succeeded` of the same sync are one deployment (the CDEvents store
//! keeps the first). A deployment trigger without `operation.startedAt` is an error.
//!
//! * `subject.id` (the service): the first of [`ArgocdSettings::service_keys`] that is a label,
//!   then an annotation, of the Application; else the application name;
//! * `environment.id`: the first of [`ArgocdSettings::environment_keys`] (labels, then
//!   annotations); else [`ArgocdSettings::environments`] looked up by `<destination
//!   name>/<namespace>`, `<destination server>/<namespace>`, `<namespace>`, `<destination
//!   name>`, `<destination server>`; else the destination namespace; else
//!   [`ArgocdSettings::default_environment`]. `environment.source` = the destination server;
//! * revision ([`pick_revision`]): `operation.revision` (the sync result), else the first
//!   commit SHA (40 or 64 hex digits) among `operation.revisions` (multi-source applications:
//!   chart versions and commits), else the first of them; then the same with `syncRevision(s)`
//!   (the requested revision: failed syncs may have no result), then with `sync`. It goes to
//!   `customData.dora.revision`;
//! * `artifactId`: the OCI purl of the image deployed ([`chosen_image`]: the first of `images`
//!   whose tag is one of the revisions, as Helm charts often version like their image, else the
//!   first image), else `pkg:generic/<service>@<revision>`;
//! * `timestamp`: `operation.finishedAt`, else `operation.startedAt`;
//! * `customData.dora.team`: the Application's `app.kubernetes.io/part-of` label, when set;
//!   `customData.argocd`: application, project, trigger, phase, message, health, sync status,
//!   revisions, images, destination, startedAt, finishedAt.
//!
//! ## Incidents
//!
//! Argo CD reports degradations, and (with the documented `on-health-recovered` trigger)
//! recoveries, but a recovery does not name the degradation it ends. So an incident is "the
//! degradation of a rollout": the rollout is the last successful sync (`history`, last entry;
//! without history the current operation), and the incident's `subject.id` is
//! `<app namespace>/<app name>/<revision>/<deployStartedAt>`.
//!
//! * detected: context `id` = `derived_id(["argocd", <source>, "incident", <subject.id>,
//!   "detected"])`, `timestamp` = `health.lastTransitionTime` (when it became degraded),
//!   `customData.dora.deployment` = the context id the rollout's deployment has (above), and
//!   `artifactId`, service and environment as for deployments. Without any rollout, the subject
//!   is `<app>/degraded/<lastTransitionTime>`;
//! * resolved: one `incident.resolved` for each of the last two rollouts (the degraded one, if
//!   the app recovered on its own, or the one before a fixing sync), at
//!   `health.lastTransitionTime` (when it became healthy), with the id
//!   `derived_id([..., "resolved"])`: the first resolution of an incident is kept, later ones
//!   are duplicates, and a resolution of a rollout that had no incident is ignored by the
//!   calculator.
//!
//! Malformed data is a [`TransformError`] naming the field.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use dora_model::cdevent::{Content, DoraData, IncidentContent, Reference, ServiceContent};
use dora_model::cloudevent::{CloudEvent, Data};
use dora_model::ids::derived_id;
use dora_model::time::format_rfc3339;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::payload::{chosen_image, parse, Notification};
use crate::common::time_or_event_time;
use crate::purl::generic_purl;
use crate::purl::oci_purl;
use crate::transform::{
    Emitted, Fact, TransformError, Transformer, INCIDENT_DETECTED, INCIDENT_RESOLVED,
    SERVICE_DEPLOYED,
};

/// The prefix of every Argo CD CloudEvent type; the trigger name follows.
pub const TYPE_PREFIX: &str = "io.argoproj.argocd.";
/// The source of notifications without `argocdUrl`.
pub const DEFAULT_SOURCE: &str = "argocd";
/// The environment of applications without a destination namespace, by default.
pub const UNKNOWN_ENVIRONMENT: &str = "unknown";
/// Placeholder of a missing part of an event id.
pub(crate) const MISSING: &str = "-";

/// `[sources.argocd]` in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ArgocdSettings {
    /// Triggers that report a successful rollout.
    pub deployed_triggers: Vec<String>,
    /// Triggers that report a failed rollout.
    pub failed_triggers: Vec<String>,
    /// Triggers that report a degradation (`incident.detected`).
    pub incident_triggers: Vec<String>,
    /// Triggers that report a recovery (`incident.resolved`).
    pub resolved_triggers: Vec<String>,
    /// Application labels, then annotations, naming the service; else the application name.
    pub service_keys: Vec<String>,
    /// Application labels, then annotations, naming the environment.
    pub environment_keys: Vec<String>,
    /// Environment by `<cluster>/<namespace>`, `<namespace>` or `<cluster>` of the destination
    /// (cluster: its name or server URL).
    pub environments: BTreeMap<String, String>,
    /// The environment of applications with no destination namespace (default `"unknown"`).
    pub default_environment: String,
}

impl Default for ArgocdSettings {
    fn default() -> Self {
        Self {
            deployed_triggers: vec!["on-deployed".into(), "on-sync-succeeded".into()],
            failed_triggers: vec!["on-sync-failed".into()],
            incident_triggers: vec!["on-health-degraded".into()],
            resolved_triggers: vec!["on-health-recovered".into()],
            service_keys: vec!["dora-events.dev/service".into()],
            environment_keys: vec!["dora-events.dev/environment".into()],
            environments: BTreeMap::new(),
            default_environment: UNKNOWN_ENVIRONMENT.into(),
        }
    }
}

/// The `argocd` transformer.
pub struct ArgocdTransformer {
    settings: ArgocdSettings,
}

impl ArgocdTransformer {
    pub fn new(settings: ArgocdSettings) -> Self {
        Self { settings }
    }
}

// ---------------------------------------------------------------------------------------------
// The transformer

/// What a trigger reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Report {
    Deployed,
    Failed,
    Degraded,
    Recovered,
}

impl ArgocdTransformer {
    fn report(&self, trigger: &str) -> Option<Report> {
        let has = |list: &[String]| list.iter().any(|t| t.trim() == trigger);
        let settings = &self.settings;
        if has(&settings.deployed_triggers) {
            Some(Report::Deployed)
        } else if has(&settings.failed_triggers) {
            Some(Report::Failed)
        } else if has(&settings.incident_triggers) {
            Some(Report::Degraded)
        } else if has(&settings.resolved_triggers) {
            Some(Report::Recovered)
        } else {
            None
        }
    }
}

impl Transformer for ArgocdTransformer {
    fn name(&self) -> &str {
        "argocd"
    }

    fn transform(&self, event: &CloudEvent) -> Result<Vec<Emitted>, TransformError> {
        let Some(report) = event
            .event_type
            .strip_prefix(TYPE_PREFIX)
            .and_then(|trigger| self.report(trigger))
        else {
            return Ok(Vec::new());
        };
        let data = match &event.data {
            Some(Data::Json(value)) => value,
            Some(_) => return Err(TransformError::new("data is not JSON")),
            None => return Err(TransformError::new("data is missing")),
        };
        let notification = parse(data).map_err(|e| TransformError::new(e.describe()))?;
        let context = Context::new(&self.settings, event, &notification);
        match report {
            Report::Deployed => Ok(vec![context.deployment("success")?]),
            Report::Failed => Ok(vec![context.deployment("failure")?]),
            Report::Degraded => Ok(vec![context.detected()?]),
            Report::Recovered => context.resolved(),
        }
    }
}

/// What every CDEvent of one notification shares.
struct Context<'a> {
    event: &'a CloudEvent,
    n: &'a Notification<'a>,
    /// The revision the sync applied ([`Notification::revision`]).
    revision: Option<&'a str>,
    /// Every revision the payload names ([`Notification::revisions`]).
    revisions: Vec<&'a str>,
    /// The context source: the CloudEvent's.
    source: String,
    service: String,
    environment: String,
    artifact: String,
}

impl<'a> Context<'a> {
    fn new(settings: &ArgocdSettings, event: &'a CloudEvent, n: &'a Notification<'a>) -> Self {
        let service = n
            .first_key(&settings.service_keys)
            .unwrap_or(n.app.name)
            .to_owned();
        let environment = n
            .first_key(&settings.environment_keys)
            .map(str::to_owned)
            .or_else(|| mapped_environment(settings, n))
            .or_else(|| n.destination.namespace.map(str::to_owned))
            .unwrap_or_else(|| match settings.default_environment.trim() {
                "" => UNKNOWN_ENVIRONMENT.to_owned(),
                environment => environment.to_owned(),
            });
        let (revision, revisions) = (n.revision(), n.revisions());
        let artifact = chosen_image(&n.images, &revisions)
            .and_then(oci_purl)
            .unwrap_or_else(|| generic_purl(&service, revision));
        Self {
            event,
            n,
            revision,
            revisions,
            source: event.source.clone(),
            service,
            environment,
            artifact,
        }
    }

    /// `subject.content.environment`.
    fn environment(&self) -> Reference {
        Reference {
            id: self.environment.clone(),
            source: self.n.destination.server.map(str::to_owned),
        }
    }

    /// `customData.argocd`.
    fn details(&self) -> Map<String, Value> {
        let n = self.n;
        let mut argocd = Map::new();
        argocd.insert("application".into(), json!(n.app_key()));
        let optional = [
            ("project", n.app.project),
            ("trigger", Some(n.trigger)),
            ("phase", n.operation.phase),
            ("syncStatus", n.sync.status),
            ("health", n.health.status),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                argocd.insert(key.into(), json!(value));
            }
        }
        if !self.revisions.is_empty() {
            argocd.insert("revisions".into(), json!(self.revisions));
        }
        if !n.images.is_empty() {
            argocd.insert("images".into(), json!(n.images));
        }
        let mut destination = Map::new();
        for (key, value) in [
            ("server", n.destination.server),
            ("name", n.destination.name),
            ("namespace", n.destination.namespace),
        ] {
            if let Some(value) = value {
                destination.insert(key.into(), json!(value));
            }
        }
        if !destination.is_empty() {
            argocd.insert("destination".into(), Value::Object(destination));
        }
        for (key, time) in [
            ("startedAt", n.operation.started_at),
            ("finishedAt", n.operation.finished_at),
        ] {
            if let Some(time) = time {
                argocd.insert(key.into(), json!(format_rfc3339(&time)));
            }
        }
        argocd
    }

    /// `customData.dora` with what every CDEvent carries (`team`).
    fn dora(&self) -> DoraData {
        DoraData {
            team: self.n.label("app.kubernetes.io/part-of").map(str::to_owned),
            ..DoraData::default()
        }
    }

    /// The CDEvent of `fact`: context and subject source are this Argo CD.
    fn cdevent(&self, fact: Fact) -> Emitted {
        fact.into_cdevent(&self.source).into()
    }

    /// A sync operation -> `service.deployed` with its outcome.
    fn deployment(&self, outcome: &str) -> Result<Emitted, TransformError> {
        let n = self.n;
        let started = n.operation.started_at.ok_or_else(|| {
            TransformError::new(format!(
                "data.operation.startedAt is missing: trigger {:?} must report a sync operation",
                n.trigger
            ))
        })?;
        let timestamp = n.operation.finished_at.unwrap_or(started);
        let content = Content::Service(ServiceContent {
            environment: Some(self.environment()),
            artifact_id: Some(self.artifact.clone()),
        });
        let mut dora = self.dora();
        dora.revision = self.revision.map(str::to_owned);
        dora.outcome = Some(outcome.to_owned());
        let mut argocd = self.details();
        if outcome != "success" {
            if let Some(message) = n.operation.message {
                argocd.insert("message".into(), json!(message));
            }
        }
        Ok(self.cdevent(Fact {
            event_type: SERVICE_DEPLOYED,
            id: n.deployment_id(&self.source, self.revision, &started),
            timestamp,
            subject_id: self.service.clone(),
            content,
            dora: Some(dora),
            own: Some(("argocd", argocd)),
        }))
    }

    /// The rollouts whose degradation an incident of this notification is about, newest first:
    /// the history's (at most two), else the current operation.
    fn rollouts(&self) -> Vec<(Option<&'a str>, DateTime<Utc>)> {
        let mut rollouts: Vec<(Option<&str>, DateTime<Utc>)> = self
            .n
            .history
            .iter()
            .rev()
            .filter_map(|r| r.deploy_started_at.map(|at| (r.picked_revision(), at)))
            .collect();
        if rollouts.is_empty() {
            if let Some(started) = self.n.operation.started_at {
                rollouts.push((self.revision, started));
            }
        }
        rollouts
    }

    /// `<app>/<revision>/<startedAt>`: the incident of a rollout.
    fn incident_key(&self, revision: Option<&str>, started: &DateTime<Utc>) -> String {
        format!(
            "{}/{}/{}",
            self.n.app_key(),
            revision.unwrap_or(MISSING),
            format_rfc3339(started)
        )
    }

    fn incident_content(&self) -> IncidentContent {
        let n = self.n;
        let mut description = format!(
            "Argo CD application {} is {}",
            n.app.name,
            n.health.status.unwrap_or("degraded")
        );
        if let Some(message) = n.health.message {
            description.push_str(": ");
            description.push_str(message);
        }
        IncidentContent {
            description: Some(description),
            environment: Some(self.environment()),
            service: Some(Reference::id(&self.service)),
            artifact_id: Some(self.artifact.clone()),
            ticket_uri: None,
        }
    }

    /// When the health changed: `health.lastTransitionTime`, else the CloudEvent's time.
    fn health_time(&self) -> Result<DateTime<Utc>, TransformError> {
        let names = ["data.health.lastTransitionTime"];
        time_or_event_time(self.n.health.last_transition_time, self.event, &names)
    }

    /// A degradation -> `incident.detected` of the last rollout.
    fn detected(&self) -> Result<Emitted, TransformError> {
        let n = self.n;
        let timestamp = self.health_time()?;
        let mut dora = self.dora();
        let subject = match self.rollouts().first() {
            Some((revision, started)) => {
                dora.deployment = Some(n.deployment_id(&self.source, *revision, started));
                dora.revision = revision.map(str::to_owned);
                self.incident_key(*revision, started)
            }
            None => format!("{}/degraded/{}", n.app_key(), format_rfc3339(&timestamp)),
        };
        let mut argocd = self.details();
        if let Some(message) = n.health.message {
            argocd.insert("healthMessage".into(), json!(message));
        }
        Ok(self.cdevent(Fact {
            event_type: INCIDENT_DETECTED,
            id: derived_id(&["argocd", &self.source, "incident", &subject, "detected"]),
            timestamp,
            subject_id: subject,
            content: Content::Incident(self.incident_content()),
            dora: Some(dora),
            own: Some(("argocd", argocd)),
        }))
    }

    /// A recovery (health `Healthy`) -> `incident.resolved` of the last two rollouts.
    fn resolved(&self) -> Result<Vec<Emitted>, TransformError> {
        let n = self.n;
        if n.health.status != Some("Healthy") {
            return Ok(Vec::new());
        }
        let timestamp = self.health_time()?;
        let mut out = Vec::new();
        for (revision, started) in self.rollouts() {
            let subject = self.incident_key(revision, &started);
            let mut dora = self.dora();
            dora.deployment = Some(n.deployment_id(&self.source, revision, &started));
            dora.revision = revision.map(str::to_owned);
            let content = Content::Incident(IncidentContent {
                artifact_id: None,
                ..self.incident_content()
            });
            out.push(self.cdevent(Fact {
                event_type: INCIDENT_RESOLVED,
                id: derived_id(&["argocd", &self.source, "incident", &subject, "resolved"]),
                timestamp,
                subject_id: subject,
                content,
                dora: Some(dora),
                own: Some(("argocd", self.details())),
            }));
        }
        Ok(out)
    }
}

/// [`ArgocdSettings::environments`] looked up by the destination.
fn mapped_environment(settings: &ArgocdSettings, n: &Notification) -> Option<String> {
    let map = &settings.environments;
    if map.is_empty() {
        return None;
    }
    let clusters: Vec<&str> = [n.destination.name, n.destination.server]
        .into_iter()
        .flatten()
        .collect();
    let mut keys = Vec::new();
    if let Some(namespace) = n.destination.namespace {
        for cluster in &clusters {
            keys.push(format!("{cluster}/{namespace}"));
        }
        keys.push(namespace.to_owned());
    }
    keys.extend(clusters.iter().map(|c| (*c).to_owned()));
    keys.iter()
        .find_map(|key| map.get(key))
        .map(|environment| environment.trim().to_owned())
        .filter(|environment| !environment.is_empty())
}

#[cfg(test)]
#[path = "transform_tests.rs"]
mod tests;
