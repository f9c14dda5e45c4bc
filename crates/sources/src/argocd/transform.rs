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
use dora_model::cloudevent::{CloudEvent, Data};
use dora_model::ids::derived_id;
use dora_model::time::{format_rfc3339, parse_rfc3339};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::kubernetes::oci_purl;
use crate::tekton::generic_purl;
use crate::transform::{
    CdEventDraft, TransformError, Transformer, INCIDENT_DETECTED, INCIDENT_RESOLVED,
    SERVICE_DEPLOYED,
};

/// The prefix of every Argo CD CloudEvent type; the trigger name follows.
pub const TYPE_PREFIX: &str = "io.argoproj.argocd.";
/// The source of notifications without `argocdUrl`.
pub const DEFAULT_SOURCE: &str = "argocd";
/// The environment of applications without a destination namespace, by default.
pub const UNKNOWN_ENVIRONMENT: &str = "unknown";
/// Placeholder of a missing part of an event id.
const MISSING: &str = "-";

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
// The payload

/// A member of the payload that is not what the template renders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// JSON pointer of the member (`/operation/startedAt`; `""` for the whole payload).
    pub pointer: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            message: message.into(),
        }
    }

    /// `data.operation.startedAt <message>`: for transform errors.
    pub fn describe(&self) -> String {
        let path: String = self
            .pointer
            .split('/')
            .skip(1)
            .map(|segment| {
                let segment = segment.replace("~1", "/").replace("~0", "~");
                match segment.parse::<usize>() {
                    Ok(index) => format!("[{index}]"),
                    Err(_) => format!(".{segment}"),
                }
            })
            .collect();
        format!("data{path} {}", self.message)
    }
}

/// One entry of `history`: a successful sync.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollout<'a> {
    /// The revision deployed ([`pick_revision`] of `revision` and `revisions`).
    pub revision: Option<&'a str>,
    /// When the sync started (`deployStartedAt`; the operation's `startedAt`).
    pub started_at: Option<DateTime<Utc>>,
}

/// A notification, checked.
#[derive(Debug, Clone)]
pub struct Notification<'a> {
    pub trigger: &'a str,
    pub argocd_url: Option<&'a str>,
    pub app_name: &'a str,
    pub app_namespace: Option<&'a str>,
    pub project: Option<&'a str>,
    pub labels: Option<&'a Map<String, Value>>,
    pub annotations: Option<&'a Map<String, Value>>,
    pub destination_server: Option<&'a str>,
    pub destination_name: Option<&'a str>,
    pub destination_namespace: Option<&'a str>,
    pub sync_status: Option<&'a str>,
    pub phase: Option<&'a str>,
    pub message: Option<&'a str>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The revision of the operation (or, without one, of the sync status).
    pub revision: Option<&'a str>,
    /// Every revision named by the operation and the sync status, in order, without repeats.
    pub revisions: Vec<&'a str>,
    pub health_status: Option<&'a str>,
    pub health_message: Option<&'a str>,
    pub health_since: Option<DateTime<Utc>>,
    pub images: Vec<&'a str>,
    /// The last (at most two) successful syncs, oldest first.
    pub history: Vec<Rollout<'a>>,
}

/// Checks a payload as the documented template renders it.
pub fn parse(data: &Value) -> Result<Notification<'_>, FieldError> {
    let Value::Object(root) = data else {
        return Err(FieldError::new(
            "",
            "an Argo CD notification must be a JSON object",
        ));
    };
    let root = Obj {
        map: root,
        pointer: String::new(),
    };
    let trigger = root
        .str("trigger")?
        .ok_or_else(|| FieldError::new("/trigger", "is required (the trigger name)"))?;
    if !trigger
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return Err(FieldError::new(
            "/trigger",
            format!("{trigger:?} is not a trigger name (letters, digits, '-', '_', '.')"),
        ));
    }
    let app = root
        .object("app")?
        .ok_or_else(|| FieldError::new("/app", "is required (an object)"))?;
    let app_name = app
        .str("name")?
        .ok_or_else(|| FieldError::new("/app/name", "is required (the application name)"))?;
    let empty = Obj::empty();
    let destination = root
        .object("destination")?
        .unwrap_or_else(|| empty.at("/destination"));
    let sync = root.object("sync")?.unwrap_or_else(|| empty.at("/sync"));
    let operation = root
        .object("operation")?
        .unwrap_or_else(|| empty.at("/operation"));
    let health = root
        .object("health")?
        .unwrap_or_else(|| empty.at("/health"));

    let op_revisions = operation.str_array("revisions")?;
    let requested_revisions = operation.str_array("syncRevisions")?;
    let sync_revisions = sync.str_array("revisions")?;
    let revision = pick_revision(operation.str("revision")?, &op_revisions)
        .or(pick_revision(
            operation.str("syncRevision")?,
            &requested_revisions,
        ))
        .or(pick_revision(sync.str("revision")?, &sync_revisions));
    let mut revisions = Vec::new();
    for candidate in [
        operation.str("revision")?,
        operation.str("syncRevision")?,
        sync.str("revision")?,
    ]
    .into_iter()
    .flatten()
    .chain(op_revisions.iter().copied())
    .chain(requested_revisions.iter().copied())
    .chain(sync_revisions.iter().copied())
    {
        if !revisions.contains(&candidate) {
            revisions.push(candidate);
        }
    }

    let mut history = Vec::new();
    if let Some(entries) = root.array("history")? {
        let count = entries.len();
        for (index, entry) in entries.iter().enumerate().skip(count.saturating_sub(2)) {
            let pointer = format!("/history/{index}");
            let Value::Object(entry) = entry else {
                return Err(FieldError::new(pointer, "must be an object"));
            };
            let entry = Obj {
                map: entry,
                pointer,
            };
            let listed = entry.str_array("revisions")?;
            history.push(Rollout {
                revision: pick_revision(entry.str("revision")?, &listed),
                started_at: entry.time("deployStartedAt")?,
            });
        }
    }

    Ok(Notification {
        trigger,
        argocd_url: root.str("argocdUrl")?,
        app_name,
        app_namespace: app.str("namespace")?,
        project: app.str("project")?,
        labels: app.string_map("labels")?,
        annotations: app.string_map("annotations")?,
        destination_server: destination.str("server")?,
        destination_name: destination.str("name")?,
        destination_namespace: destination.str("namespace")?,
        sync_status: sync.str("status")?,
        phase: operation.str("phase")?,
        message: operation.str("message")?,
        started_at: operation.time("startedAt")?,
        finished_at: operation.time("finishedAt")?,
        revision,
        revisions,
        health_status: health.str("status")?,
        health_message: health.str("message")?,
        health_since: health.time("lastTransitionTime")?,
        images: root.str_array("images")?,
        history,
    })
}

/// The revision among a single one and a list (multi-source applications list one per
/// source): the single one when set, else the first commit SHA of the list, else its first.
pub fn pick_revision<'a>(single: Option<&'a str>, listed: &[&'a str]) -> Option<&'a str> {
    single
        .or_else(|| listed.iter().copied().find(|r| is_commit_sha(r)))
        .or_else(|| listed.first().copied())
}

/// 40 (SHA-1) or 64 (SHA-256) hexadecimal digits.
fn is_commit_sha(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Notification<'_> {
    /// The CloudEvent source: the Argo CD URL without a trailing `/`, or [`DEFAULT_SOURCE`].
    pub fn source(&self) -> String {
        match self.argocd_url.map(|url| url.trim().trim_end_matches('/')) {
            Some(url) if !url.is_empty() => url.to_owned(),
            _ => DEFAULT_SOURCE.to_owned(),
        }
    }

    /// `<app namespace>/<app name>` (the name alone without a namespace).
    pub fn app_key(&self) -> String {
        match self.app_namespace {
            Some(namespace) => format!("{namespace}/{}", self.app_name),
            None => self.app_name.to_owned(),
        }
    }

    /// The CloudEvent id (see the module documentation).
    pub fn event_id(&self) -> String {
        let time = |time: &Option<DateTime<Utc>>| {
            time.as_ref()
                .map_or_else(|| MISSING.to_owned(), format_rfc3339)
        };
        format!(
            "{}/{}/{}/{}/{}",
            self.app_key(),
            self.revision.unwrap_or(MISSING),
            time(&self.started_at),
            self.trigger,
            time(&self.health_since)
        )
    }

    /// The CloudEvent time: the latest of the operation's start and end and the health change.
    pub fn time(&self) -> Option<DateTime<Utc>> {
        [self.started_at, self.finished_at, self.health_since]
            .into_iter()
            .flatten()
            .max()
    }

    /// The context id of the deployment CDEvent of a rollout (sync operation) of this app.
    fn deployment_id(
        &self,
        source: &str,
        revision: Option<&str>,
        started: &DateTime<Utc>,
    ) -> String {
        derived_id(&[
            "argocd",
            source,
            &self.app_key(),
            revision.unwrap_or(""),
            &format_rfc3339(started),
        ])
    }

    fn label(&self, name: &str) -> Option<&str> {
        string_value(self.labels, name)
    }

    fn annotation(&self, name: &str) -> Option<&str> {
        string_value(self.annotations, name)
    }

    /// The first of `keys` that is a label, then the first that is an annotation.
    fn first_key(&self, keys: &[String]) -> Option<&str> {
        keys.iter()
            .find_map(|key| self.label(key))
            .or_else(|| keys.iter().find_map(|key| self.annotation(key)))
    }
}

fn string_value<'a>(map: Option<&'a Map<String, Value>>, name: &str) -> Option<&'a str> {
    map?.get(name)?
        .as_str()
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The image deployed: the first of `images` whose tag is one of `revisions` (ignoring a leading
/// `v`), else the first image.
pub fn chosen_image<'a>(images: &[&'a str], revisions: &[&str]) -> Option<&'a str> {
    let bare = |text: &str| text.strip_prefix('v').unwrap_or(text).to_owned();
    images
        .iter()
        .copied()
        .find(|image| {
            image_tag(image).is_some_and(|tag| revisions.iter().any(|r| bare(r) == bare(tag)))
        })
        .or_else(|| images.first().copied())
}

/// The tag of an image reference (`registry/name:tag@digest`), if it has one.
fn image_tag(image: &str) -> Option<&str> {
    let reference = image.split('@').next()?;
    let (_, tag) = reference.rsplit_once(':')?;
    (!tag.contains('/') && !tag.is_empty()).then_some(tag)
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

    fn transform(&self, event: &CloudEvent) -> Result<Vec<Value>, TransformError> {
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
            .unwrap_or(n.app_name)
            .to_owned();
        let environment = n
            .first_key(&settings.environment_keys)
            .map(str::to_owned)
            .or_else(|| mapped_environment(settings, n))
            .or_else(|| n.destination_namespace.map(str::to_owned))
            .unwrap_or_else(|| match settings.default_environment.trim() {
                "" => UNKNOWN_ENVIRONMENT.to_owned(),
                environment => environment.to_owned(),
            });
        let artifact = chosen_image(&n.images, &n.revisions)
            .and_then(oci_purl)
            .unwrap_or_else(|| generic_purl(&service, n.revision));
        Self {
            event,
            n,
            source: event.source.clone(),
            service,
            environment,
            artifact,
        }
    }

    /// `subject.content.environment`.
    fn environment(&self) -> Value {
        match self.n.destination_server {
            Some(server) => json!({"id": self.environment, "source": server}),
            None => json!({"id": self.environment}),
        }
    }

    /// `customData.argocd`.
    fn details(&self) -> Map<String, Value> {
        let n = self.n;
        let mut argocd = Map::new();
        argocd.insert("application".into(), json!(n.app_key()));
        let optional = [
            ("project", n.project),
            ("trigger", Some(n.trigger)),
            ("phase", n.phase),
            ("syncStatus", n.sync_status),
            ("health", n.health_status),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                argocd.insert(key.into(), json!(value));
            }
        }
        if !n.revisions.is_empty() {
            argocd.insert("revisions".into(), json!(n.revisions));
        }
        if !n.images.is_empty() {
            argocd.insert("images".into(), json!(n.images));
        }
        let mut destination = Map::new();
        for (key, value) in [
            ("server", n.destination_server),
            ("name", n.destination_name),
            ("namespace", n.destination_namespace),
        ] {
            if let Some(value) = value {
                destination.insert(key.into(), json!(value));
            }
        }
        if !destination.is_empty() {
            argocd.insert("destination".into(), Value::Object(destination));
        }
        for (key, time) in [("startedAt", n.started_at), ("finishedAt", n.finished_at)] {
            if let Some(time) = time {
                argocd.insert(key.into(), json!(format_rfc3339(&time)));
            }
        }
        argocd
    }

    /// `customData.dora` with what every CDEvent carries (`team`).
    fn dora(&self) -> Map<String, Value> {
        let mut dora = Map::new();
        if let Some(team) = self.n.label("app.kubernetes.io/part-of") {
            dora.insert("team".into(), json!(team));
        }
        dora
    }

    #[allow(clippy::too_many_arguments)]
    fn document(
        &self,
        event_type: &'static str,
        id: String,
        timestamp: DateTime<Utc>,
        subject_id: String,
        content: Map<String, Value>,
        dora: Map<String, Value>,
        argocd: Map<String, Value>,
    ) -> Value {
        CdEventDraft {
            event_type,
            id,
            source: self.source.clone(),
            timestamp,
            subject_id,
            subject_source: Some(self.source.clone()),
            content,
            custom_data: Some(json!({"dora": dora, "argocd": argocd})),
        }
        .into_json()
    }

    /// A sync operation -> `service.deployed` with its outcome.
    fn deployment(&self, outcome: &str) -> Result<Value, TransformError> {
        let n = self.n;
        let started = n.started_at.ok_or_else(|| {
            TransformError::new(format!(
                "data.operation.startedAt is missing: trigger {:?} must report a sync operation",
                n.trigger
            ))
        })?;
        let timestamp = n.finished_at.unwrap_or(started);
        let mut content = Map::new();
        content.insert("environment".into(), self.environment());
        content.insert("artifactId".into(), json!(self.artifact));
        let mut dora = self.dora();
        if let Some(revision) = n.revision {
            dora.insert("revision".into(), json!(revision));
        }
        dora.insert("outcome".into(), json!(outcome));
        let mut argocd = self.details();
        if outcome != "success" {
            if let Some(message) = n.message {
                argocd.insert("message".into(), json!(message));
            }
        }
        Ok(self.document(
            SERVICE_DEPLOYED,
            n.deployment_id(&self.source, n.revision, &started),
            timestamp,
            self.service.clone(),
            content,
            dora,
            argocd,
        ))
    }

    /// The rollouts whose degradation an incident of this notification is about, newest first:
    /// the history's (at most two), else the current operation.
    fn rollouts(&self) -> Vec<(Option<&'a str>, DateTime<Utc>)> {
        let mut rollouts: Vec<(Option<&str>, DateTime<Utc>)> = self
            .n
            .history
            .iter()
            .rev()
            .filter_map(|r| r.started_at.map(|at| (r.revision, at)))
            .collect();
        if rollouts.is_empty() {
            if let Some(started) = self.n.started_at {
                rollouts.push((self.n.revision, started));
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

    fn incident_content(&self) -> Map<String, Value> {
        let n = self.n;
        let mut content = Map::new();
        let mut description = format!(
            "Argo CD application {} is {}",
            n.app_name,
            n.health_status.unwrap_or("degraded")
        );
        if let Some(message) = n.health_message {
            description.push_str(": ");
            description.push_str(message);
        }
        content.insert("description".into(), json!(description));
        content.insert("environment".into(), self.environment());
        content.insert("service".into(), json!({"id": self.service}));
        content.insert("artifactId".into(), json!(self.artifact));
        content
    }

    /// A degradation -> `incident.detected` of the last rollout.
    fn detected(&self) -> Result<Value, TransformError> {
        let n = self.n;
        let timestamp = n.health_since.or(self.event.time).ok_or_else(|| {
            TransformError::new(
                "no timestamp: data.health.lastTransitionTime is missing and the CloudEvent has \
                 no time",
            )
        })?;
        let mut dora = self.dora();
        let subject = match self.rollouts().first() {
            Some((revision, started)) => {
                dora.insert(
                    "deployment".into(),
                    json!(n.deployment_id(&self.source, *revision, started)),
                );
                if let Some(revision) = revision {
                    dora.insert("revision".into(), json!(revision));
                }
                self.incident_key(*revision, started)
            }
            None => format!("{}/degraded/{}", n.app_key(), format_rfc3339(&timestamp)),
        };
        let mut argocd = self.details();
        if let Some(message) = n.health_message {
            argocd.insert("healthMessage".into(), json!(message));
        }
        Ok(self.document(
            INCIDENT_DETECTED,
            derived_id(&["argocd", &self.source, "incident", &subject, "detected"]),
            timestamp,
            subject,
            self.incident_content(),
            dora,
            argocd,
        ))
    }

    /// A recovery (health `Healthy`) -> `incident.resolved` of the last two rollouts.
    fn resolved(&self) -> Result<Vec<Value>, TransformError> {
        let n = self.n;
        if n.health_status != Some("Healthy") {
            return Ok(Vec::new());
        }
        let timestamp = n.health_since.or(self.event.time).ok_or_else(|| {
            TransformError::new(
                "no timestamp: data.health.lastTransitionTime is missing and the CloudEvent has \
                 no time",
            )
        })?;
        let mut out = Vec::new();
        for (revision, started) in self.rollouts() {
            let subject = self.incident_key(revision, &started);
            let mut dora = self.dora();
            dora.insert(
                "deployment".into(),
                json!(n.deployment_id(&self.source, revision, &started)),
            );
            if let Some(revision) = revision {
                dora.insert("revision".into(), json!(revision));
            }
            let mut content = self.incident_content();
            content.remove("artifactId");
            out.push(self.document(
                INCIDENT_RESOLVED,
                derived_id(&["argocd", &self.source, "incident", &subject, "resolved"]),
                timestamp,
                subject,
                content,
                dora,
                self.details(),
            ));
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
    let clusters: Vec<&str> = [n.destination_name, n.destination_server]
        .into_iter()
        .flatten()
        .collect();
    let mut keys = Vec::new();
    if let Some(namespace) = n.destination_namespace {
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

// ---------------------------------------------------------------------------------------------
// JSON access with JSON pointers in errors

/// An object of the payload, with its JSON pointer.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    pointer: String,
}

/// The empty object standing for a missing section.
static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

impl<'a> Obj<'a> {
    fn empty() -> Obj<'static> {
        Obj {
            map: &EMPTY,
            pointer: String::new(),
        }
    }

    fn at(&self, pointer: &str) -> Obj<'a> {
        Obj {
            map: self.map,
            pointer: pointer.to_owned(),
        }
    }

    fn child(&self, key: &str) -> String {
        format!(
            "{}/{}",
            self.pointer,
            key.replace('~', "~0").replace('/', "~1")
        )
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|value| !value.is_null())
    }

    /// A member that must be a string when present; empty (or blank) strings are absent.
    fn str(&self, key: &str) -> Result<Option<&'a str>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.as_str()).filter(|t| !t.trim().is_empty())),
            Some(_) => Err(FieldError::new(self.child(key), "must be a string")),
        }
    }

    fn object(&self, key: &str) -> Result<Option<Obj<'a>>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Obj {
                map,
                pointer: self.child(key),
            })),
            Some(_) => Err(FieldError::new(self.child(key), "must be an object")),
        }
    }

    fn array(&self, key: &str) -> Result<Option<&'a Vec<Value>>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(FieldError::new(self.child(key), "must be an array")),
        }
    }

    /// An array of strings (empty strings left out).
    fn str_array(&self, key: &str) -> Result<Vec<&'a str>, FieldError> {
        let Some(items) = self.array(key)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            match item {
                Value::String(text) if text.trim().is_empty() => {}
                Value::String(text) => out.push(text.as_str()),
                _ => {
                    return Err(FieldError::new(
                        format!("{}/{index}", self.child(key)),
                        "must be a string",
                    ))
                }
            }
        }
        Ok(out)
    }

    /// An object whose values must be strings (labels, annotations).
    fn string_map(&self, key: &str) -> Result<Option<&'a Map<String, Value>>, FieldError> {
        let Some(object) = self.object(key)? else {
            return Ok(None);
        };
        for (name, value) in object.map {
            if !value.is_string() {
                return Err(FieldError::new(object.child(name), "must be a string"));
            }
        }
        Ok(Some(object.map))
    }

    /// A member that must be an RFC 3339 timestamp when present.
    fn time(&self, key: &str) -> Result<Option<DateTime<Utc>>, FieldError> {
        match self.str(key)? {
            None => Ok(None),
            Some(text) => parse_rfc3339(text).map(Some).ok_or_else(|| {
                FieldError::new(
                    self.child(key),
                    format!("{text:?} is not an RFC 3339 timestamp"),
                )
            }),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const SHA: &str = "90460e57069cadc1332ca8137268028bf3f12765";

    #[test]
    fn revisions_prefer_the_single_one_then_a_commit() {
        assert_eq!(pick_revision(Some("abc"), &["0.6.3", SHA]), Some("abc"));
        assert_eq!(pick_revision(None, &["0.6.3", SHA]), Some(SHA));
        assert_eq!(pick_revision(None, &["0.6.3", "1.0.0"]), Some("0.6.3"));
        assert_eq!(pick_revision(None, &[]), None);
    }

    #[test]
    fn the_image_tagged_like_a_revision_is_chosen() {
        let images = ["ghcr.io/o/app:0.6.2", "ghcr.io/o/app:0.6.3"];
        assert_eq!(
            chosen_image(&images, &["0.6.3", SHA]),
            Some("ghcr.io/o/app:0.6.3")
        );
        assert_eq!(
            chosen_image(&images, &["v0.6.3"]),
            Some("ghcr.io/o/app:0.6.3")
        );
        assert_eq!(chosen_image(&images, &[SHA]), Some("ghcr.io/o/app:0.6.2"));
        assert_eq!(chosen_image(&[], &[SHA]), None);
        assert_eq!(image_tag("localhost:5000/app"), None);
        assert_eq!(image_tag("localhost:5000/app:1@sha256:ab"), Some("1"));
    }

    #[test]
    fn field_errors_describe_their_path() {
        let error = FieldError::new("/history/1/deployStartedAt", "is bad");
        assert_eq!(error.describe(), "data.history[1].deployStartedAt is bad");
        let error = FieldError::new("/app/labels/a~1b", "must be a string");
        assert_eq!(error.describe(), "data.app.labels.a/b must be a string");
    }

    #[test]
    fn the_environment_mapping_tries_cluster_and_namespace() {
        let data = json!({"trigger": "on-deployed", "app": {"name": "web"},
            "destination": {"name": "prod-eu", "server": "https://10.0.0.1", "namespace": "web"}});
        let n = parse(&data).unwrap();
        let with = |pairs: &[(&str, &str)]| ArgocdSettings {
            environments: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..ArgocdSettings::default()
        };
        let lookup = |pairs: &[(&str, &str)]| mapped_environment(&with(pairs), &n);
        assert_eq!(lookup(&[]), None);
        assert_eq!(
            lookup(&[("prod-eu", "production")]).as_deref(),
            Some("production")
        );
        assert_eq!(
            lookup(&[("prod-eu", "a"), ("web", "b")]).as_deref(),
            Some("b")
        );
        assert_eq!(
            lookup(&[("web", "b"), ("https://10.0.0.1/web", "c")]).as_deref(),
            Some("c")
        );
        assert_eq!(
            lookup(&[("https://10.0.0.1/web", "c"), ("prod-eu/web", "d")]).as_deref(),
            Some("d")
        );
    }

    #[test]
    fn settings_default_and_partial_configuration() {
        let settings = ArgocdSettings::default();
        assert_eq!(
            settings.deployed_triggers,
            ["on-deployed", "on-sync-succeeded"]
        );
        assert_eq!(settings.failed_triggers, ["on-sync-failed"]);
        assert_eq!(settings.incident_triggers, ["on-health-degraded"]);
        let partial: ArgocdSettings =
            serde_json::from_value(json!({"environments": {"prod": "production"}})).unwrap();
        assert_eq!(partial.environments["prod"], "production");
        assert_eq!(partial.resolved_triggers, ["on-health-recovered"]);
    }
}
