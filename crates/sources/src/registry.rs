//! The list of sources and what it generates: the `[sources.*]` and `[webhooks.*]` settings,
//! the unsigned-webhook warning, and [`SOURCES`], from which ingest builds `/webhooks/{tool}`,
//! the router its default routes and built-in transformers, and the docs their table.

use serde::{Deserialize, Serialize};

use crate::transform::Transformer;
use crate::webhook::{SecretSetting, TokenSetting, Webhook, WebhookAuth};

/// One tool dora-events reads.
pub trait Source: Sync {
    /// The name in routes (`transformers = ["github"]`), `[sources.<name>]`,
    /// `[webhooks.<name>]` and `/webhooks/<name>`.
    fn name(&self) -> &'static str;
    /// What the source reads and what it makes of it, for the docs table and `--help`.
    fn summary(&self) -> &'static str;
    /// Its transformer, with its `[sources.<name>]` settings.
    fn transformer(&self, settings: &SourcesConfig) -> Box<dyn Transformer>;
    /// The routes the default configuration has for it, in order.
    fn default_routes(&self) -> &'static [DefaultRoute];
    /// Its page, relative to `docs/integrations/`.
    fn docs_page(&self) -> &'static str;
    /// Its `POST /webhooks/<name>`, for tools that do not speak CloudEvents.
    fn webhook(&self) -> Option<Webhook> {
        None
    }
}

impl std::fmt::Debug for dyn Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A route of the default configuration: the events whose `type` starts with `type_prefix`
/// and, when `data` is not empty, whose data has one of the listed values at each dotted path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultRoute {
    pub name: &'static str,
    pub type_prefix: &'static str,
    pub data: &'static [(&'static str, &'static [&'static str])],
}

impl DefaultRoute {
    /// A route of every event whose type starts with `type_prefix`.
    pub const fn prefix(name: &'static str, type_prefix: &'static str) -> Self {
        Self {
            name,
            type_prefix,
            data: &[],
        }
    }
}

/// The source of that name.
pub fn source(name: &str) -> Option<&'static dyn Source> {
    SOURCES.iter().copied().find(|source| source.name() == name)
}

/// The webhook of the source of that name, if it has one.
pub fn webhook_for(name: &str) -> Option<Webhook> {
    source(name).and_then(|source| source.webhook())
}

/// The table of sources in `docs/integrations/README.md`, as the registry makes it (a test
/// keeps the file equal to it).
pub fn docs_table() -> String {
    let mut table = String::from(
        "| Source | Webhook | Settings | Default routes (CloudEvent type) | What |\n|---|---|---|---|---|\n",
    );
    for source in SOURCES {
        let name = source.name();
        let webhook = match source.webhook() {
            Some(_) => format!("`POST /webhooks/{name}`, `[webhooks.{name}]`"),
            None => "-".to_owned(),
        };
        let settings = if WITH_SETTINGS.contains(&name) {
            format!("`[sources.{name}]`")
        } else {
            "-".to_owned()
        };
        let mut routes: Vec<String> = Vec::new();
        for route in source.default_routes() {
            let prefix = format!("`{}*`", route.type_prefix);
            if !routes.contains(&prefix) {
                routes.push(prefix);
            }
        }
        table.push_str(&format!(
            "| [{name}]({}) | {webhook} | {settings} | {} | {} |\n",
            source.docs_page(),
            routes.join(", "),
            source.summary()
        ));
    }
    table
}

/// Declares a source: its unit struct and its [`Source`] impl. `transformer` makes its
/// transformer from the `[sources.*]` settings (named by the closure's parameter); `webhook`,
/// when given, is its `POST /webhooks/<name>` (a [`Webhook`] whose `tool` is `name`).
macro_rules! declare_source {
    (
        $(#[doc = $doc:literal])*
        pub struct $source:ident {
            name: $name:literal,
            summary: $summary:literal,
            docs_page: $docs_page:literal,
            transformer: |$settings:ident| $transformer:expr,
            default_routes: $routes:expr,
            $(webhook: $webhook:expr,)?
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $source;

        impl $crate::registry::Source for $source {
            fn name(&self) -> &'static str {
                $name
            }

            fn summary(&self) -> &'static str {
                $summary
            }

            fn docs_page(&self) -> &'static str {
                $docs_page
            }

            fn transformer(
                &self,
                $settings: &$crate::registry::SourcesConfig,
            ) -> Box<dyn $crate::transform::Transformer> {
                Box::new($transformer)
            }

            fn default_routes(&self) -> &'static [$crate::registry::DefaultRoute] {
                $routes
            }

            $(
                fn webhook(&self) -> Option<$crate::webhook::Webhook> {
                    Some($webhook)
                }
            )?
        }
    };
}
pub(crate) use declare_source;

/// Declares the sources: for each, its name (the field of the settings), the [`Source`], and
/// the types of its `[sources.<name>]` settings and `[webhooks.<name>]` authentication when it
/// has them.
macro_rules! registry {
    ($( $name:ident => $source:expr $(, settings: $settings:ty)? $(, webhook: $auth:ty)? ; )*) => {
        /// Every source, in the order of the docs table and of the default routes.
        pub static SOURCES: &[&dyn Source] = &[$( &$source, )*];

        /// The sources that have `[sources.<name>]` settings.
        const WITH_SETTINGS: &[&str] = &[$($( { let _: Option<$settings> = None; stringify!($name) }, )?)*];

        /// `[sources.*]`: the options of each source's transformer.
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct SourcesConfig {
            $($( pub $name: $settings, )?)*
            /// The top-level `[[services]]`, compiled, for the code-host transformers (not a
            /// `[sources.*]` key: the configuration sets it).
            #[serde(skip)]
            pub services: crate::services::ServiceMap,
        }

        /// `[webhooks.*]`: how each webhook is authenticated. Without a secret or token a
        /// webhook is accepted unsigned (the server warns once at start).
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct WebhookSettings {
            $($( pub $name: $auth, )?)*
        }

        impl WebhookSettings {
            /// The webhooks that accept unsigned requests, for the warning at start.
            pub fn unsigned(&self) -> Vec<&'static str> {
                let mut unsigned = Vec::new();
                $($(
                    if !<$auth as WebhookAuth>::is_set(&self.$name) {
                        unsigned.push(stringify!($name));
                    }
                )?)*
                unsigned
            }

            /// The secret or token `[webhooks.<tool>]` sets, if any.
            pub fn key(&self, tool: &str) -> Option<&str> {
                match tool {
                    $($( stringify!($name) => <$auth as WebhookAuth>::key(&self.$name), )?)*
                    _ => None,
                }
            }
        }
    };
}

registry! {
    kubernetes => crate::kubernetes::Kubernetes;
    cdevents => crate::cdevents::Cdevents;
    github => crate::github::Github, settings: crate::github::GithubSettings, webhook: SecretSetting;
    gitlab => crate::gitlab::Gitlab, settings: crate::gitlab::GitlabSettings, webhook: TokenSetting;
    tekton => crate::tekton::Tekton, settings: crate::tekton::TektonSettings;
    argocd => crate::argocd::Argocd, settings: crate::argocd::ArgocdSettings, webhook: TokenSetting;
    alertmanager => crate::alertmanager::Alertmanager,
        settings: crate::alertmanager::AlertmanagerSettings, webhook: TokenSetting;
    pagerduty => crate::pagerduty::Pagerduty,
        settings: crate::pagerduty::PagerdutySettings, webhook: SecretSetting;
    keptn => crate::keptn::Keptn, settings: crate::keptn::KeptnSettings;
    flux => crate::flux::Flux, settings: crate::flux::FluxSettings, webhook: SecretSetting;
    jenkins => crate::jenkins::Jenkins, settings: crate::jenkins::JenkinsSettings;
    opsgenie => crate::opsgenie::Opsgenie,
        settings: crate::opsgenie::OpsgenieSettings, webhook: TokenSetting;
    jira => crate::jira::Jira, settings: crate::jira::JiraSettings, webhook: SecretSetting;
    bitbucket => crate::bitbucket::Bitbucket, webhook: SecretSetting;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_is_found_by_its_name_and_the_names_are_distinct() {
        for (i, registered) in SOURCES.iter().enumerate() {
            let found = source(registered.name()).map(|s| s.name());
            assert_eq!(found, Some(registered.name()));
            assert!(SOURCES[..i].iter().all(|s| s.name() != registered.name()));
        }
        assert!(source("bamboo").is_none());
    }

    #[test]
    fn a_webhook_without_its_secret_or_token_is_unsigned() {
        let every_webhook = [
            "github",
            "gitlab",
            "argocd",
            "alertmanager",
            "pagerduty",
            "flux",
            "opsgenie",
            "jira",
            "bitbucket",
        ];
        let mut settings = WebhookSettings::default();
        assert_eq!(settings.unsigned(), every_webhook);
        settings.github.secret = Some("s".into());
        settings.gitlab.token = Some("t".into());
        assert_eq!(settings.unsigned(), every_webhook[2..]);
    }

    #[test]
    fn the_docs_table_is_the_registry() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/integrations/README.md"
        );
        let docs = std::fs::read_to_string(path).unwrap_or_default();
        let table = docs_table();
        assert!(
            docs.contains(&table),
            "docs/integrations/README.md must hold the table of sources as the registry makes it:\n{table}"
        );
    }

    #[test]
    fn the_sources_with_a_webhook_are_those_with_webhook_settings() {
        let with_webhook: Vec<&str> = SOURCES
            .iter()
            .filter(|s| s.webhook().is_some())
            .map(|s| s.name())
            .collect();
        assert_eq!(with_webhook, WebhookSettings::default().unsigned());
    }

    #[test]
    fn each_webhook_is_named_after_its_source_and_reads_its_own_settings() {
        let webhooks: Vec<Webhook> = SOURCES.iter().filter_map(|s| s.webhook()).collect();
        for source in SOURCES {
            if let Some(webhook) = source.webhook() {
                assert_eq!(webhook.tool(), source.name());
            }
        }
        for webhook in &webhooks {
            let tool = webhook.tool();
            // `[webhooks.<tool>]` with its secret, or its token, set to the tool's name.
            let settings: WebhookSettings = ["secret", "token"]
                .iter()
                .find_map(|key| {
                    serde_json::from_value(serde_json::json!({ tool: { *key: tool } })).ok()
                })
                .unwrap_or_else(|| panic!("[webhooks.{tool}] has neither secret nor token"));
            for other in &webhooks {
                let expected = (other.tool() == tool).then_some(tool);
                assert_eq!(
                    settings.key(other.tool()),
                    expected,
                    "{tool} {}",
                    other.tool()
                );
            }
        }
        assert_eq!(WebhookSettings::default().key("bamboo"), None);
    }
}
