//! Flux -> `service.deployed` / `service.rolledback`, from the events of kustomize-controller
//! and helm-controller that the webhook (`flux/webhook.rs`) stores.
//!
//! # What counts
//!
//! | object | reason (severity) | CDEvent |
//! |---|---|---|
//! | `Kustomization` | `ReconciliationSucceeded` (info): the controller applied a revision | `service.deployed`, outcome `success` |
//! | `Kustomization` | `ReconciliationFailed`, `HealthCheckFailed` (error): the apply or the health checks failed | `service.deployed`, outcome `failure` |
//! | `HelmRelease` | `InstallSucceeded`, `UpgradeSucceeded` (info) | `service.deployed`, outcome `success` |
//! | `HelmRelease` | `InstallFailed`, `UpgradeFailed` (error) | `service.deployed`, outcome `failure` |
//! | `HelmRelease` | `RollbackSucceeded` (info) | `service.rolledback` |
//! | anything else (sources, `Progressing`, `ValidationFailed`, `BuildFailed`, `ArtifactFailed`, dependency waits, tests, uninstalls) | | nothing |
//!
//! Failures before anything reaches the cluster (a manifest that does not build or validate,
//! an artifact that cannot be fetched) are not rollouts and count nowhere.
//!
//! # One revision, one deployment
//!
//! A successful reconciliation is reported again at every interval while nothing changes. The
//! CDEvent id is derived from the object and the applied revision
//! (`derived_id(["flux", <source>, kind, namespace, name, revision, outcome])`), and the
//! CDEvents store keeps the first CDEvent of an id: only the reconciliation that changes the
//! applied revision counts. A revision that fails and then succeeds is a failed deployment
//! followed by a successful one. An event without a revision (older controllers) falls back to
//! the event's own timestamp in the id.
//!
//! # What becomes what
//!
//! * `subject.id` (the service): the metadata key [`FluxSettings::service_key`] (an Alert's
//!   `eventMetadata` or the object's `event.toolkit.fluxcd.io/<key>` annotation), else the
//!   object's name;
//! * `environment.id`: the metadata key [`FluxSettings::environment_key`], else
//!   [`FluxSettings::environment`], else the object's namespace;
//! * `customData.dora.revision`: the Git commit of a Kustomization's revision
//!   (`main@sha1:<sha>`, or `main/<sha>` before Flux 2.0), so lead time finds the changes;
//! * `artifactId`: `pkg:generic/<object name>@<commit or revision>` (a HelmRelease's revision is
//!   its chart version);
//! * `customData.dora.team`: the metadata key `team`, when set;
//! * `customData.flux`: kind, namespace, name, reason, revision, controller and message.

use dora_model::cdevent::{Content, DoraData, Reference, ServiceContent};
use dora_model::cloudevent::CloudEvent;
use dora_model::ids::derived_id;
use dora_model::time::format_rfc3339;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map};

use super::payload::FluxEvent;
use crate::common::read;
use crate::purl::generic_purl;
use crate::transform::{
    Emitted, Fact, TransformError, Transformer, SERVICE_DEPLOYED, SERVICE_ROLLEDBACK,
};

/// The type prefix of the webhook's CloudEvents (`io.fluxcd.kustomization.info`).
pub const TYPE_PREFIX: &str = "io.fluxcd.";

/// The metadata keys that carry the applied revision, by controller.
const REVISION_KEYS: [&str; 2] = [
    "kustomize.toolkit.fluxcd.io/revision",
    "helm.toolkit.fluxcd.io/revision",
];

/// `[sources.flux]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FluxSettings {
    /// The metadata key naming the service (set it in the Alert's `eventMetadata` or as the
    /// object's `event.toolkit.fluxcd.io/<key>` annotation); the object's name when absent.
    pub service_key: String,
    /// The metadata key naming the environment.
    pub environment_key: String,
    /// The environment when the event's metadata has none; the namespace when unset.
    pub environment: Option<String>,
    /// The context and subject source of the CDEvents (give each cluster its own when several
    /// send to one dora-events).
    pub source: String,
}

impl Default for FluxSettings {
    fn default() -> Self {
        Self {
            service_key: "service".into(),
            environment_key: "env".into(),
            environment: None,
            source: "flux".into(),
        }
    }
}

/// What a reason says of a rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Deployed,
    Failed,
    RolledBack,
}

/// The verdict of an object kind's reason, if it is one.
fn verdict(kind: &str, reason: &str) -> Option<Verdict> {
    match (kind, reason) {
        ("Kustomization", "ReconciliationSucceeded") => Some(Verdict::Deployed),
        ("Kustomization", "ReconciliationFailed" | "HealthCheckFailed") => Some(Verdict::Failed),
        ("HelmRelease", "InstallSucceeded" | "UpgradeSucceeded") => Some(Verdict::Deployed),
        ("HelmRelease", "InstallFailed" | "UpgradeFailed") => Some(Verdict::Failed),
        ("HelmRelease", "RollbackSucceeded") => Some(Verdict::RolledBack),
        _ => None,
    }
}

/// The applied revision in an event's metadata, as sent (`main@sha1:<sha>`, `6.5.4`).
pub fn revision_of(metadata: &std::collections::BTreeMap<String, String>) -> Option<&str> {
    REVISION_KEYS
        .iter()
        .find_map(|key| metadata.get(*key))
        .map(String::as_str)
        .filter(|revision| !revision.is_empty())
}

/// The Git commit of a source revision: `<ref>@sha1:<sha>` (Flux 2.0 on), `<ref>/<sha>` or a
/// bare SHA (before); `None` for a chart version or an OCI digest.
fn commit_of(revision: &str) -> Option<&str> {
    let candidate = match revision.rsplit_once("@sha1:") {
        Some((_, sha)) => sha,
        None => revision.rsplit('/').next().unwrap_or(revision),
    };
    let is_sha = candidate.len() == 40 && candidate.bytes().all(|b| b.is_ascii_hexdigit());
    is_sha.then_some(candidate)
}

/// Transforms Flux's events into deployments.
#[derive(Debug, Clone, Default)]
pub struct FluxTransformer {
    settings: FluxSettings,
}

impl FluxTransformer {
    pub fn new(settings: FluxSettings) -> Self {
        Self { settings }
    }

    fn deployment(&self, event: &FluxEvent, verdict: Verdict) -> Fact {
        let object = &event.involved_object;
        let metadata = &event.metadata;
        let named = |key: &str| metadata.get(key).filter(|v| !v.is_empty()).cloned();
        let service = named(&self.settings.service_key).unwrap_or_else(|| object.name.clone());
        let environment = named(&self.settings.environment_key)
            .or_else(|| self.settings.environment.clone())
            .unwrap_or_else(|| object.namespace.clone());
        let revision = revision_of(metadata);
        let commit = revision.and_then(commit_of);
        let artifact = generic_purl(&object.name, commit.or(revision));
        let outcome = match verdict {
            Verdict::Failed => "failure",
            Verdict::Deployed | Verdict::RolledBack => "success",
        };
        let timestamp = format_rfc3339(&event.timestamp);
        let source = self.settings.source.as_str();
        let id = derived_id(&[
            "flux",
            source,
            &object.kind,
            &object.namespace,
            &object.name,
            revision.unwrap_or(&timestamp),
            outcome,
        ]);
        let mut flux = Map::new();
        flux.insert("kind".into(), json!(object.kind));
        flux.insert("namespace".into(), json!(object.namespace));
        flux.insert("name".into(), json!(object.name));
        flux.insert("reason".into(), json!(event.reason));
        if let Some(revision) = revision {
            flux.insert("revision".into(), json!(revision));
        }
        flux.insert("controller".into(), json!(event.reporting_controller));
        flux.insert("message".into(), json!(event.message));
        Fact {
            event_type: match verdict {
                Verdict::RolledBack => SERVICE_ROLLEDBACK,
                Verdict::Deployed | Verdict::Failed => SERVICE_DEPLOYED,
            },
            id,
            timestamp: event.timestamp,
            content: Content::Service(ServiceContent {
                environment: Some(Reference::id(environment)),
                artifact_id: Some(artifact),
            }),
            subject_id: service,
            dora: Some(DoraData {
                outcome: Some(outcome.to_owned()),
                revision: commit.map(str::to_owned),
                team: named("team"),
                ..DoraData::default()
            }),
            own: Some(("flux", flux)),
        }
    }
}

impl Transformer for FluxTransformer {
    fn name(&self) -> &str {
        "flux"
    }

    fn transform(&self, event: &CloudEvent) -> Result<Vec<Emitted>, TransformError> {
        let data = event
            .data_json()
            .ok_or_else(|| TransformError::new("data is not JSON"))?;
        let flux: FluxEvent = read(data)?;
        let Some(verdict) = verdict(&flux.involved_object.kind, &flux.reason) else {
            return Ok(Vec::new());
        };
        let fact = self.deployment(&flux, verdict);
        Ok(vec![fact.into_cdevent(&self.settings.source).into()])
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn commits_are_read_from_every_revision_spelling() {
        let sha = "731f7eaddfb6af01cb2173e18f0f75b0ba780ef1";
        assert_eq!(commit_of(&format!("main@sha1:{sha}")), Some(sha));
        assert_eq!(commit_of(&format!("main/{sha}")), Some(sha));
        assert_eq!(commit_of(&format!("refs/heads/main/{sha}")), Some(sha));
        assert_eq!(commit_of(sha), Some(sha));
        assert_eq!(commit_of("6.5.4"), None);
        assert_eq!(commit_of("latest@sha256:abc"), None);
        assert_eq!(commit_of(&format!("main@sha1:{}", &sha[..39])), None);
    }

    #[test]
    fn only_rollout_verdicts_count() {
        assert_eq!(
            verdict("Kustomization", "ReconciliationSucceeded"),
            Some(Verdict::Deployed)
        );
        assert_eq!(
            verdict("Kustomization", "HealthCheckFailed"),
            Some(Verdict::Failed)
        );
        assert_eq!(verdict("Kustomization", "ValidationFailed"), None);
        assert_eq!(
            verdict("HelmRelease", "UpgradeFailed"),
            Some(Verdict::Failed)
        );
        assert_eq!(
            verdict("HelmRelease", "RollbackSucceeded"),
            Some(Verdict::RolledBack)
        );
        assert_eq!(verdict("GitRepository", "ReconciliationSucceeded"), None);
        assert_eq!(verdict("HelmRelease", "ReconciliationSucceeded"), None);
    }
}
