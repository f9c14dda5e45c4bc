//! Prometheus Alertmanager: alerts wrapped into CloudEvents by `POST /webhooks/alertmanager`
//! (`io.prometheus.alertmanager.alert.firing|resolved`) -> `incident.detected|resolved`.
//!
//! (Being written: emits nothing yet.)

use dora_model::cloudevent::CloudEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{TransformError, Transformer};

/// `[sources.alertmanager]` in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertmanagerSettings {
    /// Alert labels naming the service, first present wins.
    pub service_labels: Vec<String>,
    /// Alert labels naming the environment, first present wins.
    pub environment_labels: Vec<String>,
}

impl Default for AlertmanagerSettings {
    fn default() -> Self {
        Self {
            service_labels: vec!["service".into(), "app".into(), "job".into()],
            environment_labels: vec!["environment".into(), "env".into(), "namespace".into()],
        }
    }
}

/// The `alertmanager` transformer.
pub struct AlertmanagerTransformer {
    #[allow(dead_code)]
    settings: AlertmanagerSettings,
}

impl AlertmanagerTransformer {
    pub fn new(settings: AlertmanagerSettings) -> Self {
        Self { settings }
    }
}

impl Transformer for AlertmanagerTransformer {
    fn name(&self) -> &str {
        "alertmanager"
    }

    fn transform(&self, _event: &CloudEvent) -> Result<Vec<Value>, TransformError> {
        Ok(Vec::new())
    }
}
