//! Argo CD: notifications posted to `POST /webhooks/argocd` (`io.argoproj.argocd.<trigger>`) -> deployments and failures.
//!
//! (Being written: emits nothing yet.)

use dora_model::cloudevent::CloudEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{TransformError, Transformer};

/// `[sources.argocd]` in the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ArgocdSettings {}

/// The `argocd` transformer.
pub struct ArgocdTransformer {
    #[allow(dead_code)]
    settings: ArgocdSettings,
}

impl ArgocdTransformer {
    pub fn new(settings: ArgocdSettings) -> Self {
        Self { settings }
    }
}

impl Transformer for ArgocdTransformer {
    fn name(&self) -> &str {
        "argocd"
    }

    fn transform(&self, _event: &CloudEvent) -> Result<Vec<Value>, TransformError> {
        Ok(Vec::new())
    }
}
