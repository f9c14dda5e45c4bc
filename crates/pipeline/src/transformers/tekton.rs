//! Tekton: CloudEvents from Tekton's events controller (`dev.tekton.event.pipelinerun.*`, `taskrun.*`) -> pipeline runs, and deployments for deploying pipelines.
//!
//! (Being written: emits nothing yet.)

use dora_model::cloudevent::CloudEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{TransformError, Transformer};

/// `[sources.tekton]` in the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TektonSettings {}

/// The `tekton` transformer.
pub struct TektonTransformer {
    #[allow(dead_code)]
    settings: TektonSettings,
}

impl TektonTransformer {
    pub fn new(settings: TektonSettings) -> Self {
        Self { settings }
    }
}

impl Transformer for TektonTransformer {
    fn name(&self) -> &str {
        "tekton"
    }

    fn transform(&self, _event: &CloudEvent) -> Result<Vec<Value>, TransformError> {
        Ok(Vec::new())
    }
}
