//! Jenkins: the CDEvents plugin's finished runs of deploy jobs -> deployments and failed
//! deployments.
//!
//! `payload.rs`: the plugin's data; `transform.rs`: the transformer. The plugin posts
//! CloudEvents itself (to `POST /events`), so there is no webhook.

mod payload;
pub mod transform;

pub use transform::*;

use crate::registry::DefaultRoute;

/// Its route in the default configuration: the plugin's finished pipeline runs.
const DEFAULT_ROUTES: &[DefaultRoute] =
    &[DefaultRoute::prefix("jenkins", PIPELINERUN_FINISHED_V01)];

crate::registry::declare_source! {
    /// The jenkins source.
    pub struct Jenkins {
        name: "jenkins",
        summary: "Jenkins: the CDEvents plugin's finished runs of deploy jobs -> deployments and failed deployments.",
        docs_page: "jenkins.md",
        transformer: |settings| JenkinsTransformer::new(settings.jenkins.clone()),
        default_routes: DEFAULT_ROUTES,
    }
}
