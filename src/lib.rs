//! dora-events: a DORA metrics engine fed by CloudEvents and CDEvents.
//!
//! The book's pipeline, one stage per crate: `dora-ingest` (CloudEvents and CDEvents endpoints)
//! -> `dora-store` (raw store, cursors, facts) -> `dora-pipeline` (router and transformers) ->
//! `dora-metrics` (calculators) -> `dora-api` (queries). This crate wires them into one binary.

pub mod app;
pub mod backfill;
pub mod bench;
pub mod client;
pub mod config;
pub mod demo;
pub mod documents;
pub mod import;
pub mod metrics;
pub mod openapi;
pub mod send;
pub mod server;
pub mod stages;
pub mod transform;
pub mod validate;
