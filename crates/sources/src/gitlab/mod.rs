//! GitLab: pushes, merge requests, deployments, pipelines and incident issues (Knative GitLabSource or its webhook) -> changes, deployments, pipeline runs and incidents.
//!
//! `transform.rs`: the transformer; `webhook.rs`: `POST /webhooks/gitlab`.

mod incident;
pub mod transform;
pub mod webhook;

pub use transform::*;

use crate::registry::{DefaultRoute, Source, SourcesConfig};
use crate::transform::Transformer;

/// Its routes in the default configuration.
const DEFAULT_ROUTES: &[DefaultRoute] = &[DefaultRoute::prefix("gitlab", TYPE_PREFIX)];

/// The gitlab source.
#[derive(Debug, Clone, Copy)]
pub struct Gitlab;

impl Source for Gitlab {
    fn name(&self) -> &'static str {
        "gitlab"
    }

    fn summary(&self) -> &'static str {
        "GitLab: pushes, merge requests, deployments, pipelines and incident issues (Knative GitLabSource or its webhook) -> changes, deployments, pipeline runs and incidents."
    }

    fn docs_page(&self) -> &'static str {
        "gitlab.md"
    }

    fn transformer(&self, settings: &SourcesConfig) -> Box<dyn Transformer> {
        Box::new(GitlabTransformer::new(settings.gitlab.clone()))
    }

    fn default_routes(&self) -> &'static [DefaultRoute] {
        DEFAULT_ROUTES
    }

    fn webhook(&self) -> Option<crate::webhook::Adapter> {
        Some(webhook::adapt)
    }
}
