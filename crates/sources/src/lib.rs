//! The sources of dora-events: one folder per tool, each holding all that tool needs.
//!
//! ```text
//! tool --webhook--> ingest ([`Source::webhook`]) --> raw store --> router --routes-->
//!      ([`Source::default_routes`]) transformer ([`Source::transformer`]) --> CDEvents store
//! ```
//!
//! A source is a folder `src/<tool>/` with its transformer (`transform.rs`: the tool's payload
//! to CDEvents, with its `[sources.<tool>]` settings), its webhook when the tool has one
//! (`webhook.rs`: signature or token check and the CloudEvent envelope), and a `mod.rs` that
//! ties them together as a [`Source`]. The one list in [`registry`] names every source: it
//! makes `[sources.*]` ([`SourcesConfig`]), `[webhooks.*]` ([`WebhookSettings`]), the
//! `/webhooks/{tool}` routes, the default routes and the docs table. Adding a source is one
//! folder and one line there (CONTRIBUTING.md, "Adding a source").

mod code_host;
pub mod common;
pub mod glob;
pub mod purl;
mod registry;
pub mod services;
pub mod transform;
pub mod webhook;

pub mod alertmanager;
pub mod argocd;
pub mod bitbucket;
pub mod cdevents;
pub mod flux;
pub mod github;
pub mod gitlab;
pub mod jenkins;
pub mod jira;
pub mod keptn;
pub mod kubernetes;
pub mod opsgenie;
pub mod pagerduty;
pub mod tekton;

pub use registry::{
    docs_table, source, webhook_for, DefaultRoute, Source, SourcesConfig, WebhookSettings, SOURCES,
};
pub use transform::{CdEventDraft, Emitted, TransformError, Transformer};
pub use webhook::{SecretSetting, TokenSetting};
