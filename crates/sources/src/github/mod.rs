//! GitHub: pushes, pull requests, deployment statuses, workflow runs, releases and incident issues (Knative GitHubSource or its webhook) -> changes, deployments, pipeline runs and incidents.
//!
//! `transform.rs`: the transformer; `webhook.rs`: `POST /webhooks/github`.

pub mod transform;
pub mod webhook;

pub use transform::*;

use crate::registry::{DefaultRoute, Source, SourcesConfig};
use crate::transform::Transformer;

/// Its routes in the default configuration.
const DEFAULT_ROUTES: &[DefaultRoute] = &[DefaultRoute::prefix("github", TYPE_PREFIX)];

/// The github source.
#[derive(Debug, Clone, Copy)]
pub struct Github;

impl Source for Github {
    fn name(&self) -> &'static str {
        "github"
    }

    fn summary(&self) -> &'static str {
        "GitHub: pushes, pull requests, deployment statuses, workflow runs, releases and incident issues (Knative GitHubSource or its webhook) -> changes, deployments, pipeline runs and incidents."
    }

    fn docs_page(&self) -> &'static str {
        "github.md"
    }

    fn transformer(&self, settings: &SourcesConfig) -> Box<dyn Transformer> {
        Box::new(GithubTransformer::new(settings.github.clone()))
    }

    fn default_routes(&self) -> &'static [DefaultRoute] {
        DEFAULT_ROUTES
    }

    fn webhook(&self) -> Option<crate::webhook::Adapter> {
        Some(webhook::adapt)
    }
}
