//! The event Flux's notification-controller POSTs through a `generic` or `generic-hmac`
//! Provider (`fluxcd/pkg/apis/event/v1beta1.Event`, marshalled by Go's `json.Marshal`): read
//! into the fields the webhook and the transformer use, unknown fields ignored.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One Flux event.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FluxEvent {
    /// The object reconciled (a Kustomization, a HelmRelease, a GitRepository, ...).
    pub involved_object: ObjectReference,
    /// `info` or `error`.
    pub severity: String,
    pub timestamp: DateTime<Utc>,
    #[serde(default)]
    pub message: String,
    /// The controller's reason in UpperCamelCase (`ReconciliationSucceeded`, `UpgradeFailed`).
    pub reason: String,
    /// The revision applied (`kustomize.toolkit.fluxcd.io/revision`,
    /// `helm.toolkit.fluxcd.io/revision`), the Alert's `eventMetadata`, and the object's
    /// `event.toolkit.fluxcd.io/*` annotations.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub reporting_controller: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporting_instance: Option<String>,
}

/// `involvedObject`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReference {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}
