//! Keptn: the lifecycle operator's CloudEvents and Kubernetes Events of workload and application phases -> deployments and failed deployments.
//!
//! `payload.rs`: Keptn's payloads; `transform.rs`: the transformer.

mod payload;
pub mod transform;

pub use transform::*;

use crate::registry::DefaultRoute;

/// Its routes in the default configuration: Keptn's CloudEvents (their types are the phase
/// names, `Workload Deployment.Finished`, with data `type` `Normal` or `Warning`), and the core
/// v1 Events about Keptn's phase items from the ApiServerSource (the kubernetes source's Event
/// route takes only Events about Deployments, so the two never share an Event).
const DEFAULT_ROUTES: &[DefaultRoute] = &[
    DefaultRoute {
        name: "keptn-workload",
        type_prefix: "Workload ",
        data: &[("type", &["Normal", "Warning"])],
    },
    DefaultRoute {
        name: "keptn-app",
        type_prefix: "App ",
        data: &[("type", &["Normal", "Warning"])],
    },
    DefaultRoute {
        name: "keptn-events",
        type_prefix: APISERVER_PREFIX,
        data: &[
            ("kind", &["Event"]),
            ("involvedObject.kind", PHASE_ITEM_KINDS),
        ],
    },
];

crate::registry::declare_source! {
    /// The keptn source.
    pub struct Keptn {
        name: "keptn",
        summary: "Keptn: the lifecycle operator's CloudEvents and Kubernetes Events of workload and application phases -> deployments and failed deployments.",
        docs_page: "keptn.md",
        transformer: |settings| KeptnTransformer::new(settings.keptn.clone()),
        default_routes: DEFAULT_ROUTES,
    }
}
