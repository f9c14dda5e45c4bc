//! GitHub: pushes, pull requests, deployment statuses, workflow runs, releases and incident issues (Knative GitHubSource or its webhook) -> changes, deployments, pipeline runs and incidents.
//!
//! `payload.rs`: the fields of GitHub's payloads it reads; `transform.rs`: the transformer; `webhook.rs`: `POST /webhooks/github`.

mod payload;
pub mod transform;
pub mod webhook;

pub use transform::*;

use crate::registry::DefaultRoute;

/// Its routes in the default configuration.
const DEFAULT_ROUTES: &[DefaultRoute] = &[DefaultRoute::prefix("github", TYPE_PREFIX)];

crate::registry::declare_source! {
    /// The github source.
    pub struct Github {
        name: "github",
        summary: "GitHub: pushes, pull requests, deployment statuses, workflow runs, releases and incident issues (Knative GitHubSource or its webhook) -> changes, deployments, pipeline runs and incidents.",
        docs_page: "github.md",
        transformer: |settings| GithubTransformer::new(GithubSettings {
            services: settings.services.clone(),
            ..settings.github.clone()
        }),
        default_routes: DEFAULT_ROUTES,
        webhook: webhook::WEBHOOK,
    }
}
