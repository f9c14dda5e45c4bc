//! Tekton: pipeline and task run events -> pipeline runs, and deployments of the runs that deploy.
//!
//! `transform.rs`: the transformer.

mod payload;
pub mod transform;

pub use transform::*;

use crate::registry::{DefaultRoute, Source, SourcesConfig};
use crate::transform::Transformer;

/// Its routes in the default configuration.
const DEFAULT_ROUTES: &[DefaultRoute] = &[DefaultRoute::prefix("tekton", TYPE_PREFIX)];

/// The tekton source.
#[derive(Debug, Clone, Copy)]
pub struct Tekton;

impl Source for Tekton {
    fn name(&self) -> &'static str {
        "tekton"
    }

    fn summary(&self) -> &'static str {
        "Tekton: pipeline and task run events -> pipeline runs, and deployments of the runs that deploy."
    }

    fn docs_page(&self) -> &'static str {
        "tekton.md"
    }

    fn transformer(&self, settings: &SourcesConfig) -> Box<dyn Transformer> {
        Box::new(TektonTransformer::new(settings.tekton.clone()))
    }

    fn default_routes(&self) -> &'static [DefaultRoute] {
        DEFAULT_ROUTES
    }
}
