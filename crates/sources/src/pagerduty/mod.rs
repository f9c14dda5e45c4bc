//! PagerDuty: v3 webhook incident events -> incidents.
//!
//! `transform.rs`: the transformer; `webhook.rs`: `POST /webhooks/pagerduty`.

pub mod transform;
pub mod webhook;

pub use transform::*;

use crate::registry::DefaultRoute;

/// Its routes in the default configuration.
const DEFAULT_ROUTES: &[DefaultRoute] = &[DefaultRoute::prefix("pagerduty", TYPE_PREFIX)];

crate::registry::declare_source! {
    /// The pagerduty source.
    pub struct Pagerduty {
        name: "pagerduty",
        summary: "PagerDuty: v3 webhook incident events -> incidents.",
        docs_page: "pagerduty.md",
        transformer: |settings| PagerdutyTransformer::new(settings.pagerduty.clone()),
        default_routes: DEFAULT_ROUTES,
        webhook: webhook::WEBHOOK,
    }
}
