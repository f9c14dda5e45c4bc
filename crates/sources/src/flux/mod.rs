//! Flux CD: Kustomization and HelmRelease rollouts reported by the notification-controller ->
//! deployments and failed deployments.
//!
//! `payload.rs`: Flux's event; `webhook.rs`: `POST /webhooks/flux`; `transform.rs`: the
//! transformer.

mod payload;
pub mod transform;
pub mod webhook;

pub use payload::{FluxEvent, ObjectReference};
pub use transform::*;

use crate::registry::DefaultRoute;

/// Its routes in the default configuration: the events of the objects that roll out.
const DEFAULT_ROUTES: &[DefaultRoute] = &[
    DefaultRoute::prefix("flux-kustomization", "io.fluxcd.kustomization."),
    DefaultRoute::prefix("flux-helmrelease", "io.fluxcd.helmrelease."),
];

crate::registry::declare_source! {
    /// The flux source.
    pub struct Flux {
        name: "flux",
        summary: "Flux CD: Kustomization and HelmRelease rollouts reported by the notification-controller -> deployments and failed deployments.",
        docs_page: "flux.md",
        transformer: |settings| FluxTransformer::new(settings.flux.clone()),
        default_routes: DEFAULT_ROUTES,
        webhook: webhook::WEBHOOK,
    }
}
