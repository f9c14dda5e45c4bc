//! PagerDuty: v3 webhook incident events -> incidents.
//!
//! `transform.rs`: the transformer; `webhook.rs`: `POST /webhooks/pagerduty`.

pub mod transform;
pub mod webhook;

pub use transform::*;

use crate::registry::{DefaultRoute, Source, SourcesConfig};
use crate::transform::Transformer;

/// Its routes in the default configuration.
const DEFAULT_ROUTES: &[DefaultRoute] = &[DefaultRoute::prefix("pagerduty", TYPE_PREFIX)];

/// The pagerduty source.
#[derive(Debug, Clone, Copy)]
pub struct Pagerduty;

impl Source for Pagerduty {
    fn name(&self) -> &'static str {
        "pagerduty"
    }

    fn summary(&self) -> &'static str {
        "PagerDuty: v3 webhook incident events -> incidents."
    }

    fn docs_page(&self) -> &'static str {
        "pagerduty.md"
    }

    fn transformer(&self, settings: &SourcesConfig) -> Box<dyn Transformer> {
        Box::new(PagerdutyTransformer::new(settings.pagerduty.clone()))
    }

    fn default_routes(&self) -> &'static [DefaultRoute] {
        DEFAULT_ROUTES
    }

    fn webhook(&self) -> Option<crate::webhook::Adapter> {
        Some(webhook::adapt)
    }
}
