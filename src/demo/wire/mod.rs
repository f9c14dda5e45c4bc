//! What each tool sends about the demo's history, in its own wire format: one module per tool,
//! each adding to [`super::history::ServiceHistory`] the deliveries of that tool.

mod argocd;
mod cdevents;
mod github;
mod incidents;
mod tekton;

pub(crate) use incidents::pagerduty;
pub(crate) use tekton::TektonRun;
