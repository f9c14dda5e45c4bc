//! Argo CD: notifications of syncs and health -> deployments, failed deployments and incidents.
//!
//! `transform.rs`: the transformer; `webhook.rs`: `POST /webhooks/argocd`.

pub mod payload;
pub mod transform;
pub mod webhook;

pub use payload::*;
pub use transform::*;

use crate::registry::{DefaultRoute, Source, SourcesConfig};
use crate::transform::Transformer;

/// Its routes in the default configuration.
const DEFAULT_ROUTES: &[DefaultRoute] = &[DefaultRoute::prefix("argocd", TYPE_PREFIX)];

/// The argocd source.
#[derive(Debug, Clone, Copy)]
pub struct Argocd;

impl Source for Argocd {
    fn name(&self) -> &'static str {
        "argocd"
    }

    fn summary(&self) -> &'static str {
        "Argo CD: notifications of syncs and health -> deployments, failed deployments and incidents."
    }

    fn docs_page(&self) -> &'static str {
        "argocd.md"
    }

    fn transformer(&self, settings: &SourcesConfig) -> Box<dyn Transformer> {
        Box::new(ArgocdTransformer::new(settings.argocd.clone()))
    }

    fn default_routes(&self) -> &'static [DefaultRoute] {
        DEFAULT_ROUTES
    }

    fn webhook(&self) -> Option<crate::webhook::Adapter> {
        Some(webhook::adapt)
    }
}
