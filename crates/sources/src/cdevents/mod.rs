//! CDEvents: CloudEvents that carry a CDEvent (dev.cdevents.*, custom dev.cdeventsx.*), and POST /cdevents -> stored as they are, after schema validation.
//!
//! `transform.rs`: the transformer.

pub mod transform;

pub use transform::*;

use crate::registry::DefaultRoute;

/// Its routes in the default configuration.
const DEFAULT_ROUTES: &[DefaultRoute] = &[
    DefaultRoute::prefix("cdevents", "dev.cdevents."),
    DefaultRoute::prefix("cdevents-custom", "dev.cdeventsx."),
];

crate::registry::declare_source! {
    /// The cdevents source.
    pub struct Cdevents {
        name: "cdevents",
        summary: "CDEvents: CloudEvents that carry a CDEvent (dev.cdevents.*, custom dev.cdeventsx.*), and POST /cdevents -> stored as they are, after schema validation.",
        docs_page: "../api.md#post-cdevents",
        transformer: |_settings| PassThrough,
        default_routes: DEFAULT_ROUTES,
    }
}
