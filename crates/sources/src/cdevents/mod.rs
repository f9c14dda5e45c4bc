//! CDEvents: CloudEvents that carry a CDEvent (dev.cdevents.*, custom dev.cdeventsx.*), and POST /cdevents -> stored as they are, after schema validation.
//!
//! `transform.rs`: the transformer.

pub mod transform;

pub use transform::*;

use crate::registry::{DefaultRoute, Source, SourcesConfig};
use crate::transform::Transformer;

/// Its routes in the default configuration.
const DEFAULT_ROUTES: &[DefaultRoute] = &[
    DefaultRoute::prefix("cdevents", "dev.cdevents."),
    DefaultRoute::prefix("cdevents-custom", "dev.cdeventsx."),
];

/// The cdevents source.
#[derive(Debug, Clone, Copy)]
pub struct Cdevents;

impl Source for Cdevents {
    fn name(&self) -> &'static str {
        "cdevents"
    }

    fn summary(&self) -> &'static str {
        "CDEvents: CloudEvents that carry a CDEvent (dev.cdevents.*, custom dev.cdeventsx.*), and POST /cdevents -> stored as they are, after schema validation."
    }

    fn docs_page(&self) -> &'static str {
        "../api.md#post-cdevents"
    }

    fn transformer(&self, _settings: &SourcesConfig) -> Box<dyn Transformer> {
        Box::new(PassThrough)
    }

    fn default_routes(&self) -> &'static [DefaultRoute] {
        DEFAULT_ROUTES
    }
}
