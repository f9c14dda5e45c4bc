//! Bitbucket Cloud: pushes and pull requests (its webhook) -> changes; Pipelines deployments
//! (its Deployments API, read by `dora-events backfill bitbucket`) -> deployments.
//!
//! `payload.rs`: the fields of Bitbucket's payloads it reads; `transform.rs`: the transformer;
//! `deployment.rs`: the deployments from the API; `webhook.rs`: `POST /webhooks/bitbucket`.

pub mod deployment;
mod payload;
pub mod transform;
pub mod webhook;

pub use transform::*;

use crate::registry::DefaultRoute;

/// Its routes in the default configuration.
const DEFAULT_ROUTES: &[DefaultRoute] = &[DefaultRoute::prefix("bitbucket", TYPE_PREFIX)];

crate::registry::declare_source! {
    /// The bitbucket source.
    pub struct Bitbucket {
        name: "bitbucket",
        summary: "Bitbucket Cloud: pushes and pull requests (its webhook) -> changes; Pipelines deployments (its API) -> deployments.",
        docs_page: "bitbucket.md",
        transformer: |_settings| BitbucketTransformer,
        default_routes: DEFAULT_ROUTES,
        webhook: webhook::WEBHOOK,
    }
}
