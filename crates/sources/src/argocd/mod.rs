//! Argo CD: notifications of syncs and health -> deployments, failed deployments and incidents.
//!
//! `transform.rs`: the transformer; `webhook.rs`: `POST /webhooks/argocd`.

pub mod payload;
pub mod transform;
pub mod webhook;

pub use payload::*;
pub use transform::*;

use crate::registry::DefaultRoute;

/// Its routes in the default configuration.
const DEFAULT_ROUTES: &[DefaultRoute] = &[DefaultRoute::prefix("argocd", TYPE_PREFIX)];

crate::registry::declare_source! {
    /// The argocd source.
    pub struct Argocd {
        name: "argocd",
        summary: "Argo CD: notifications of syncs and health -> deployments, failed deployments and incidents.",
        docs_page: "argocd.md",
        transformer: |settings| ArgocdTransformer::new(settings.argocd.clone()),
        default_routes: DEFAULT_ROUTES,
        webhook: webhook::WEBHOOK,
    }
}
