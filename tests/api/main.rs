//! End-to-end tests: a real server on port 0, real HTTP, a real SQLite file per test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cdevents;
mod deploy_frequency;
mod durability;
mod helpers;
mod ingest;
