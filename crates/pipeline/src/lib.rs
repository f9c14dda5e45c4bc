//! The router and the transformers: the stage between the raw CloudEvents store and the
//! CDEvents store (ingest -> raw store -> **router -> transformers** -> CDEvents store ->
//! calculators -> API).
//!
//! [`routing::RoutingTable`] decides which transformers see an event; [`router::Router`] runs
//! passes over the raw store after its cursor; [`transformers`] hold the built-in
//! transformers, each a pure function from one CloudEvent to zero or more CDEvents;
//! [`functions`] calls external functions (`http:<name>`) for the jobs the router enqueues.

pub mod functions;
pub mod router;
pub mod routing;
pub mod transformers;
