//! Prometheus Alertmanager: firing and resolved alerts -> incidents.
//!
//! `transform.rs`: the transformer; `webhook.rs`: `POST /webhooks/alertmanager`.

pub mod transform;
pub mod webhook;

pub use transform::*;

use crate::registry::DefaultRoute;

/// Its routes in the default configuration.
const DEFAULT_ROUTES: &[DefaultRoute] = &[DefaultRoute::prefix("alertmanager", TYPE_PREFIX)];

crate::registry::declare_source! {
    /// The alertmanager source.
    pub struct Alertmanager {
        name: "alertmanager",
        summary: "Prometheus Alertmanager: firing and resolved alerts -> incidents.",
        docs_page: "alertmanager.md",
        transformer: |settings| AlertmanagerTransformer::new(settings.alertmanager.clone()),
        default_routes: DEFAULT_ROUTES,
        webhook: webhook::WEBHOOK,
    }
}
