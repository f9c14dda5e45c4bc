//! Linking rules of the pure DORA computation (`crate::dora`) used by the API: which changes a
//! deployment shipped, when a change started, which deployment an incident is blamed on, which
//! deployments needed intervention, how they recovered, and which deployments were rework.
//!
//! Each rule is a pure function over facts and a set of candidate deployments (any order; the
//! function itself filters by production, service, environment and time), so it can be read and
//! tested on its own. [`Linked`] applies them to a whole [`DoraFacts`](super::facts::DoraFacts) once, narrowing the
//! candidates with indexes so that the cost stays `O(n log n)`; the key modules then read
//! `Linked` for any window. The rules are written out in METRICS.md.
//!
//! The one total order of deployments is by time, ties by id ([`Deployment::order_key`](super::facts::Deployment::order_key)).

//! One module per rule family: [`lead_time`] (containment, first production deployment, start),
//! [`attribution`] (incidents), [`intervention`] (rollbacks, intervention, recovery), [`rework`];
//! [`targets`] the filters they share; [`linked`] applies them all.

pub mod attribution;
pub mod intervention;
pub mod lead_time;
pub mod linked;
pub mod rework;
pub mod targets;

#[cfg(test)]
mod tests;

pub use attribution::{attribute_incident, Attribution, AttributionRule};
pub use intervention::{
    intervention_reasons, recovery, rolled_back_deployment, InterventionReason, RecoveredBy,
    Recovery,
};
pub use lead_time::{
    change_start, contains, first_production_deployment, ChangeStart, StartSource,
};
pub use linked::Linked;
pub use rework::{rework_reason, ReworkReason};
pub use targets::is_production;
