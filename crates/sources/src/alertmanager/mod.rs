//! Prometheus Alertmanager: firing and resolved alerts -> incidents.
//!
//! `transform.rs`: the transformer; `webhook.rs`: `POST /webhooks/alertmanager`.

pub mod transform;
pub mod webhook;

pub use transform::*;

use crate::registry::{DefaultRoute, Source, SourcesConfig};
use crate::transform::Transformer;

/// Its routes in the default configuration.
const DEFAULT_ROUTES: &[DefaultRoute] = &[DefaultRoute::prefix("alertmanager", TYPE_PREFIX)];

/// The alertmanager source.
#[derive(Debug, Clone, Copy)]
pub struct Alertmanager;

impl Source for Alertmanager {
    fn name(&self) -> &'static str {
        "alertmanager"
    }

    fn summary(&self) -> &'static str {
        "Prometheus Alertmanager: firing and resolved alerts -> incidents."
    }

    fn docs_page(&self) -> &'static str {
        "alertmanager.md"
    }

    fn transformer(&self, settings: &SourcesConfig) -> Box<dyn Transformer> {
        Box::new(AlertmanagerTransformer::new(settings.alertmanager.clone()))
    }

    fn default_routes(&self) -> &'static [DefaultRoute] {
        DEFAULT_ROUTES
    }

    fn webhook(&self) -> Option<crate::webhook::Adapter> {
        Some(webhook::adapt)
    }
}
