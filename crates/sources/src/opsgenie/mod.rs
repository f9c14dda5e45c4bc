//! Opsgenie: alerts from the outgoing Webhook integration -> incidents.
//!
//! `transform.rs`: the transformer; `webhook.rs`: `POST /webhooks/opsgenie`.

pub mod transform;
pub mod webhook;

pub use transform::*;

use crate::registry::DefaultRoute;

/// Its routes in the default configuration.
const DEFAULT_ROUTES: &[DefaultRoute] = &[DefaultRoute::prefix("opsgenie", TYPE_PREFIX)];

crate::registry::declare_source! {
    /// The opsgenie source.
    pub struct Opsgenie {
        name: "opsgenie",
        summary: "Opsgenie: Webhook integration alert actions (Create, Close) -> incidents.",
        docs_page: "opsgenie.md",
        transformer: |settings| OpsgenieTransformer::new(settings.opsgenie.clone()),
        default_routes: DEFAULT_ROUTES,
        webhook: webhook::WEBHOOK,
    }
}
