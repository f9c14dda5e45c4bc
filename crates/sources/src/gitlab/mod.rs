//! GitLab: pushes, merge requests, deployments, pipelines and incident issues (Knative GitLabSource or its webhook) -> changes, deployments, pipeline runs and incidents.
//!
//! `payload.rs`: the fields of GitLab's payloads it reads; `transform.rs`: the transformer
//! (`incident.rs`: its incident issues); `webhook.rs`: `POST /webhooks/gitlab`.

mod incident;
mod payload;
pub mod transform;
pub mod webhook;

pub use transform::*;

use crate::registry::DefaultRoute;

/// Its routes in the default configuration.
const DEFAULT_ROUTES: &[DefaultRoute] = &[DefaultRoute::prefix("gitlab", TYPE_PREFIX)];

crate::registry::declare_source! {
    /// The gitlab source.
    pub struct Gitlab {
        name: "gitlab",
        summary: "GitLab: pushes, merge requests, deployments, pipelines and incident issues (Knative GitLabSource or its webhook) -> changes, deployments, pipeline runs and incidents.",
        docs_page: "gitlab.md",
        transformer: |settings| GitlabTransformer::new(GitlabSettings {
            services: settings.services.clone(),
            ..settings.gitlab.clone()
        }),
        default_routes: DEFAULT_ROUTES,
        webhook: webhook::WEBHOOK,
    }
}
