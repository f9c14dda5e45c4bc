//! Tekton: pipeline and task run events -> pipeline runs, and deployments of the runs that deploy.
//!
//! `payload.rs`: the run objects read into serde structs; `transform.rs`: the transformer.

mod payload;
pub mod transform;

pub use transform::*;

use crate::registry::DefaultRoute;

/// Its routes in the default configuration.
const DEFAULT_ROUTES: &[DefaultRoute] = &[DefaultRoute::prefix("tekton", TYPE_PREFIX)];

crate::registry::declare_source! {
    /// The tekton source.
    pub struct Tekton {
        name: "tekton",
        summary: "Tekton: pipeline and task run events -> pipeline runs, and deployments of the runs that deploy.",
        docs_page: "tekton.md",
        transformer: |settings| TektonTransformer::new(settings.tekton.clone()),
        default_routes: DEFAULT_ROUTES,
    }
}
