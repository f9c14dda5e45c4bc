//! Bitbucket Cloud: pushes and pull requests (its webhook) -> changes.
//!
//! `payload.rs`: the fields of Bitbucket's payloads it reads; `transform.rs`: the transformer;
//! `webhook.rs`: `POST /webhooks/bitbucket`.

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
        summary: "Bitbucket Cloud: pushes and pull requests (its webhook) -> changes.",
        docs_page: "bitbucket.md",
        transformer: |_settings| BitbucketTransformer,
        default_routes: DEFAULT_ROUTES,
        webhook: webhook::adapt,
    }
}
