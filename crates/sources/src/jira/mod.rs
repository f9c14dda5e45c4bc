//! Jira Service Management: issue webhooks of Incident issues -> incidents.
//!
//! `transform.rs`: the transformer; `webhook.rs`: `POST /webhooks/jira`.

pub mod transform;
pub mod webhook;

pub use transform::*;

use crate::registry::DefaultRoute;

/// Its routes in the default configuration.
const DEFAULT_ROUTES: &[DefaultRoute] = &[DefaultRoute::prefix("jira", TYPE_PREFIX)];

crate::registry::declare_source! {
    /// The jira source.
    pub struct Jira {
        name: "jira",
        summary: "Jira Service Management: created and updated issues of the Incident type -> incidents.",
        docs_page: "jira.md",
        transformer: |settings| JiraTransformer::new(settings.jira.clone()),
        default_routes: DEFAULT_ROUTES,
        webhook: webhook::WEBHOOK,
    }
}
