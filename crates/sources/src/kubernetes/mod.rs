//! Kubernetes: Deployments, ReplicaSets and their Events through a Knative ApiServerSource -> deployments, rollbacks and removals.
//!
//! `transform.rs`: the transformer.

mod events;
pub mod transform;

pub use transform::*;

use crate::registry::{DefaultRoute, Source, SourcesConfig};
use crate::transform::Transformer;

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

/// The kubernetes source.
#[derive(Debug, Clone, Copy)]
pub struct Kubernetes;

impl Source for Kubernetes {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn summary(&self) -> &'static str {
        "Kubernetes: Deployments, ReplicaSets and their Events through a Knative ApiServerSource -> deployments, rollbacks and removals."
    }

    fn docs_page(&self) -> &'static str {
        "kubernetes.md"
    }

    fn transformer(&self, _settings: &SourcesConfig) -> Box<dyn Transformer> {
        Box::new(KubernetesTransformer)
    }

    fn default_routes(&self) -> &'static [DefaultRoute] {
        DEFAULT_ROUTES
    }
}
