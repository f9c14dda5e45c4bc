//! GitHub: Knative GitHubSource CloudEvents (`dev.knative.source.github.<event>`) and GitHub
//! webhooks wrapped the same way by `POST /webhooks/github` -> changes, deployments, incidents.
//!
//! (Being written: emits nothing yet.)

use dora_model::cloudevent::CloudEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{TransformError, Transformer};

/// `[sources.github]` in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GithubSettings {
    /// Issues with this label are incidents (opened: detected, closed: resolved).
    pub incident_label: String,
}

impl Default for GithubSettings {
    fn default() -> Self {
        Self {
            incident_label: "incident".into(),
        }
    }
}

/// The `github` transformer.
pub struct GithubTransformer {
    #[allow(dead_code)]
    settings: GithubSettings,
}

impl GithubTransformer {
    pub fn new(settings: GithubSettings) -> Self {
        Self { settings }
    }
}

impl Transformer for GithubTransformer {
    fn name(&self) -> &str {
        "github"
    }

    fn transform(&self, _event: &CloudEvent) -> Result<Vec<Value>, TransformError> {
        Ok(Vec::new())
    }
}
