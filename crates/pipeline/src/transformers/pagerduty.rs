//! PagerDuty: v3 webhook events wrapped into CloudEvents by `POST /webhooks/pagerduty`
//! (`com.pagerduty.<event_type>`, e.g. `com.pagerduty.incident.triggered`) -> incidents.
//!
//! (Being written: emits nothing yet.)

use dora_model::cloudevent::CloudEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{TransformError, Transformer};

/// `[sources.pagerduty]` in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PagerdutySettings {
    /// PagerDuty service name -> dora-events service, when they differ.
    pub services: std::collections::BTreeMap<String, String>,
}

/// The `pagerduty` transformer.
pub struct PagerdutyTransformer {
    #[allow(dead_code)]
    settings: PagerdutySettings,
}

impl PagerdutyTransformer {
    pub fn new(settings: PagerdutySettings) -> Self {
        Self { settings }
    }
}

impl Transformer for PagerdutyTransformer {
    fn name(&self) -> &str {
        "pagerduty"
    }

    fn transform(&self, _event: &CloudEvent) -> Result<Vec<Value>, TransformError> {
        Ok(Vec::new())
    }
}
