//! GitLab: Knative GitLabSource CloudEvents (`dev.knative.sources.gitlab.<event>`) and `POST /webhooks/gitlab` -> changes, deployments, incidents.
//!
//! (Being written: emits nothing yet.)

use dora_model::cloudevent::CloudEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{TransformError, Transformer};

/// `[sources.gitlab]` in the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GitlabSettings {}

/// The `gitlab` transformer.
pub struct GitlabTransformer {
    #[allow(dead_code)]
    settings: GitlabSettings,
}

impl GitlabTransformer {
    pub fn new(settings: GitlabSettings) -> Self {
        Self { settings }
    }
}

impl Transformer for GitlabTransformer {
    fn name(&self) -> &str {
        "gitlab"
    }

    fn transform(&self, _event: &CloudEvent) -> Result<Vec<Value>, TransformError> {
        Ok(Vec::new())
    }
}
