//! End-to-end tests: a real server on port 0, real HTTP, a real SQLite file per test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

/// Runs each named `async fn(Backend)` twice, as `<name>::sqlite` and `<name>::postgres`.
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name(dora_testkit::Backend::Sqlite).await;
                }

                #[tokio::test]
                async fn postgres() {
                    if let Some(backend) = dora_testkit::Backend::postgres() {
                        super::$name(backend).await;
                    }
                }
            }
        )*
    };
}

mod auth;
mod backfill;
mod bitbucket;
mod cdevents;
mod cli;
mod demo;
mod deploy_frequency;
mod dora;
mod durability;
mod events;
mod flux;
mod functions;
mod grafana;
mod helpers;
mod import;
mod incremental;
mod ingest;
mod jenkins;
mod jira;
mod keptn;
mod monorepo;
mod observability;
mod oidc;
mod openapi;
mod opsgenie;
mod poison;
mod readme;
mod rules;
mod scaling;
mod slow_clients;
