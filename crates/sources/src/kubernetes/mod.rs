//! Kubernetes: Deployments, ReplicaSets and their Events through a Knative ApiServerSource -> deployments, rollbacks and removals.
//!
//! `payload.rs` reads the ApiServerSource's CloudEvent data (Kubernetes objects) into serde
//! structs; `transform.rs` (Deployments, ReplicaSets, removals) and `events.rs` (core v1 Events)
//! turn them into CDEvents.

mod events;
mod payload;
pub mod transform;

pub use transform::*;

use crate::registry::DefaultRoute;

/// Its routes in the default configuration.
const DEFAULT_ROUTES: &[DefaultRoute] = &[
    DefaultRoute {
        name: "kubernetes-deployment-events",
        type_prefix: APISERVER_PREFIX,
        data: &[
            ("kind", &["Event"]),
            ("involvedObject.kind", &["Deployment"]),
        ],
    },
    DefaultRoute {
        name: "kubernetes-deployments",
        type_prefix: APISERVER_PREFIX,
        data: &[("kind", &["Deployment", "ReplicaSet"])],
    },
];

crate::registry::declare_source! {
    /// The kubernetes source.
    pub struct Kubernetes {
        name: "kubernetes",
        summary: "Kubernetes: Deployments, ReplicaSets and their Events through a Knative ApiServerSource -> deployments, rollbacks and removals.",
        docs_page: "kubernetes.md",
        transformer: |_settings| KubernetesTransformer,
        default_routes: DEFAULT_ROUTES,
    }
}
