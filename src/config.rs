//! Configuration: built-in defaults, then the TOML file (`--config`, `DORA_CONFIG`), then
//! `DORA_*` environment variables (`DORA_ROUTER__INTERVAL=5s` sets `[router] interval`), then flags.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use dora_api::dora::DoraSettings;
use dora_http::auth::AuthSettings;
use dora_pipeline::functions::{check_functions, FunctionConfig};
use dora_pipeline::routing::{default_routes, RouteConfig, RoutingTable};
use dora_pipeline::transformers::rules::RuleConfig;
use dora_pipeline::transformers::SourcesConfig;
use dora_sources::services::{ServiceConfig, ServiceMap};
use dora_sources::WebhookSettings;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// Top-level keys that `DORA_*` variables may set (others, like `DORA_CONFIG`, are not settings).
const SECTIONS: [&str; 12] = [
    "auth",
    "dora",
    "listen",
    "http",
    "database_url",
    "database_pool_size",
    "ingest",
    "router",
    "metrics",
    "sources",
    "webhooks",
    "functions",
];

/// Everything `serve` and the other commands read.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Address the HTTP server binds.
    pub listen: String,
    /// `sqlite://PATH` (the embedded default) or `postgres://USER@HOST/DB`.
    pub database_url: String,
    /// Connections in the PostgreSQL pool.
    pub database_pool_size: u32,
    /// `[http]`: connection limits and timeouts of the HTTP server.
    pub http: HttpSettings,
    pub ingest: IngestSettings,
    pub router: StageSettings,
    pub metrics: StageSettings,
    /// The routing table; when the file has `[[routes]]`, they replace the defaults.
    pub routes: Vec<RouteConfig>,
    /// `[[rules]]`: user-defined transformers in jq syntax (docs/integrations/rules.md).
    pub rules: Vec<RuleConfig>,
    /// `[sources.*]`: options of the built-in transformers.
    pub sources: SourcesConfig,
    /// `[[services]]`: the services of monorepos, by repository and path globs, with their
    /// teams (METRICS.md, "Monorepo services and teams").
    pub services: Vec<ServiceConfig>,
    /// `[functions.<name>]`: external functions, named `http:<name>` by routes
    /// (docs/integrations/functions.md).
    pub functions: BTreeMap<String, FunctionConfig>,
    /// `[webhooks.*]`: secrets and tokens of `POST /webhooks/{tool}`.
    pub webhooks: WebhookSettings,
    /// `[dora]`: production environments, teams, attribution horizon.
    pub dora: DoraSettings,
    /// `[auth]`: ingest and read tokens (SECURITY.md).
    pub auth: AuthSettings,
}

/// Ingest limits and queueing.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestSettings {
    /// Largest body for one event (binary or structured mode), in bytes.
    pub max_event_bytes: usize,
    /// Largest body for a batch request, in bytes.
    pub max_batch_bytes: usize,
    /// Requests waiting for the writer before ingest answers 503.
    pub queue_capacity: usize,
    /// Most events grouped into one transaction.
    pub max_events_per_commit: usize,
    /// Transactions of ingested events in flight at once (PostgreSQL; SQLite has one writer).
    pub concurrent_commits: usize,
    /// Request bodies held in memory at once (being read and parsed), in bytes; past it, 503.
    pub max_in_flight_bytes: usize,
}

/// How long and how many clients may hold the HTTP server (`[http]`): what keeps slow or idle
/// clients from holding connections, file descriptors or the ingest byte budget.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Time for a client to send a request's headers, from its first byte (or from accepting a
    /// new connection); past it the connection is closed. At most 30 s.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// Time a kept-alive connection may wait for its next request before it is closed.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// A request body that sends nothing for this long is answered `408` and its connection
    /// closed. At most 30 s. Also the grace period before `body_min_bytes_per_second` applies.
    #[serde(with = "humantime_serde")]
    pub body_stall_timeout: Duration,
    /// After `body_stall_timeout`, a body must have arrived at this average rate (bytes per
    /// second, since its first byte was awaited), else `408`. 0 turns the check off.
    pub body_min_bytes_per_second: u64,
    /// Open connections at once; more wait in the listen backlog until one closes (a warning is
    /// logged, at most once a minute, and `dora_http_connection_limit_reached_total` counts).
    pub max_connections: usize,
    /// Per connection: the largest read buffer, which bounds the request line and headers (at
    /// least 8192).
    pub max_header_bytes: usize,
    /// On shutdown, how long requests in flight may take to finish before their connections are
    /// dropped.
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
}

/// A background stage (router or calculators).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StageSettings {
    /// How often the stage runs when nothing wakes it (it is also woken by the stage before it).
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Events read per pass (one transaction each).
    pub batch_size: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:8080".into(),
            database_url: "sqlite://dora-events.db".into(),
            database_pool_size: dora_store::DEFAULT_POOL_SIZE,
            http: HttpSettings::default(),
            ingest: IngestSettings::default(),
            router: StageSettings::default(),
            metrics: StageSettings::default(),
            routes: default_routes(),
            rules: Vec::new(),
            sources: SourcesConfig::default(),
            services: Vec::new(),
            functions: BTreeMap::new(),
            webhooks: WebhookSettings::default(),
            dora: DoraSettings::default(),
            auth: AuthSettings::default(),
        }
    }
}

impl Default for IngestSettings {
    fn default() -> Self {
        let limits = dora_ingest::Limits::default();
        Self {
            max_event_bytes: limits.max_event_bytes,
            max_batch_bytes: limits.max_batch_bytes,
            queue_capacity: 1024,
            max_events_per_commit: 5000,
            concurrent_commits: 2,
            max_in_flight_bytes: 64 * 1024 * 1024,
        }
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            body_stall_timeout: Duration::from_secs(10),
            body_min_bytes_per_second: 1024,
            max_connections: 512,
            max_header_bytes: 64 * 1024,
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

impl Default for StageSettings {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(60),
            batch_size: 1000,
        }
    }
}

/// Values given on the command line; unset ones leave the layers below alone.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
}

/// `webhooks.<tool>.<secret|token>` for an environment variable `DORA_WEBHOOKS__<TOOL>__<SECRET|TOKEN>`.
fn credential_path(name: &str) -> Option<String> {
    // Any case, as figment matches the prefix.
    let name = name.to_ascii_lowercase();
    let rest = name.strip_prefix("dora_")?;
    let mut parts = rest.split("__");
    let (section, tool, key) = (parts.next()?, parts.next()?, parts.next()?);
    let credential = section == "webhooks" && (key == "secret" || key == "token");
    (credential && parts.next().is_none()).then(|| format!("webhooks.{tool}.{key}"))
}

/// `auth.<key>` for `DORA_AUTH__INGEST_TOKENS`, `__READ_TOKENS`, `__INGEST_TOKEN_FILES`,
/// `__READ_TOKEN_FILES`, `__OIDC__AUDIENCES` or `__OIDC__SUBJECTS` (any case): lists given as
/// text, separated by commas or whitespace.
fn token_list_path(name: &str) -> Option<String> {
    let name = name.to_ascii_lowercase();
    let key = name.strip_prefix("dora_auth__")?;
    matches!(
        key,
        "ingest_tokens"
            | "read_tokens"
            | "ingest_token_files"
            | "read_token_files"
            | "oidc__audiences"
            | "oidc__subjects"
    )
    .then(|| format!("auth.{}", key.replace("__", ".")))
}

/// `auth.oidc.<key>` for `DORA_AUTH__OIDC__ISSUER` and `__JWKS_URL`: text, read verbatim.
fn oidc_text_path(name: &str) -> Option<String> {
    let name = name.to_ascii_lowercase();
    let key = name.strip_prefix("dora_auth__oidc__")?;
    matches!(key, "issuer" | "jwks_url").then(|| format!("auth.oidc.{key}"))
}

/// The items of a list variable: separated by commas or whitespace, empty items dropped.
fn list_items(value: &str) -> Vec<String> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Settings {
    /// Compiles the routes and the rules (routes may name the configured functions); the
    /// code-host transformers get `[[services]]`.
    pub fn routing_table(&self) -> anyhow::Result<RoutingTable> {
        let functions: Vec<&str> = self.functions.keys().map(String::as_str).collect();
        let sources = SourcesConfig {
            services: self.service_map()?,
            ..self.sources.clone()
        };
        RoutingTable::with_functions(&self.routes, &sources, &self.rules, &functions)
            .context("invalid routes or rules")
    }

    /// `[[services]]`, checked and compiled.
    pub fn service_map(&self) -> anyhow::Result<ServiceMap> {
        ServiceMap::new(&self.services).context("invalid [[services]]")
    }

    /// `[dora]` with the teams of `[[services]]` added to `[dora] teams`; where both name a
    /// service, `[dora] teams` wins (the one map the whole deployment shares, and what an
    /// operator overrides with `DORA_DORA__TEAMS__<service>`).
    pub fn dora_settings(&self) -> anyhow::Result<DoraSettings> {
        let mut dora = self.dora.clone();
        for (service, team) in self.service_map()?.teams() {
            dora.teams
                .entry(service.to_owned())
                .or_insert_with(|| team.to_owned());
        }
        Ok(dora)
    }

    /// The services whose `[[services]]` team `[dora] teams` overrides: `(service, [[services]]
    /// team, [dora] team)`, for `config check` to say so.
    pub fn overridden_teams(&self) -> Vec<(String, String, String)> {
        let Ok(map) = self.service_map() else {
            return Vec::new();
        };
        map.teams()
            .into_iter()
            .filter_map(|(service, team)| {
                let winner = self.dora.teams.get(service)?;
                (winner != team).then(|| (service.to_owned(), team.to_owned(), winner.clone()))
            })
            .collect()
    }

    /// Loads the layers and checks the result (routes compile, limits make sense).
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = file {
            anyhow::ensure!(
                path.exists(),
                "config file {} does not exist",
                path.display()
            );
            figment = figment.merge(Toml::file(path));
        }
        figment = figment.merge(
            Env::prefixed("DORA_")
                .filter(|key| {
                    let key = key.as_str().to_ascii_lowercase();
                    SECTIONS
                        .iter()
                        .any(|section| key == *section || key.starts_with(&format!("{section}__")))
                })
                .split("__"),
        );
        // Secrets and tokens are text whatever they look like: the typed reading above would
        // make `12345` a number (refused) and `007` the number 7. Read them again verbatim.
        for (name, value) in std::env::vars_os() {
            let (Some(name), Some(value)) = (name.to_str(), value.to_str()) else {
                continue;
            };
            if let Some(path) = credential_path(name) {
                figment = figment.merge((path, value.to_owned()));
            } else if let Some(path) = token_list_path(name) {
                figment = figment.merge((path, list_items(value)));
            } else if let Some(path) = oidc_text_path(name) {
                figment = figment.merge((path, value.to_owned()));
            }
        }
        let settings: Settings = figment
            .merge(Serialized::defaults(overrides))
            .extract()
            .context("invalid configuration")?;
        settings.check()?;
        Ok(settings)
    }

    /// Checks what serde cannot: the routing table (and the rules compile) and the limits.
    pub fn check(&self) -> anyhow::Result<()> {
        self.service_map()?;
        self.routing_table()?;
        self.auth.validate()?;
        check_functions(&self.functions).context("invalid [functions]")?;
        anyhow::ensure!(
            self.database_pool_size > 0,
            "database_pool_size must be positive"
        );
        anyhow::ensure!(
            self.ingest.concurrent_commits > 0,
            "ingest.concurrent_commits must be positive"
        );
        anyhow::ensure!(
            self.ingest.max_event_bytes > 0,
            "ingest.max_event_bytes must be positive"
        );
        anyhow::ensure!(
            self.ingest.max_batch_bytes >= self.ingest.max_event_bytes,
            "ingest.max_batch_bytes must be at least ingest.max_event_bytes"
        );
        self.check_http()?;
        for tool in WebhookSettings::default().unsigned() {
            // An empty secret would be a key anybody can sign with, and would turn off the
            // ingest-token check an unsigned webhook falls back to.
            anyhow::ensure!(
                self.webhooks
                    .key(tool)
                    .is_none_or(|key| !key.trim().is_empty()),
                "webhooks.{tool}: its secret or token is empty; set it, or remove it to accept \
                 unsigned deliveries (which need an ingest token when ingest is protected)"
            );
        }
        anyhow::ensure!(
            self.router.batch_size > 0,
            "router.batch_size must be positive"
        );
        anyhow::ensure!(
            self.metrics.batch_size > 0,
            "metrics.batch_size must be positive"
        );
        Ok(())
    }

    fn check_http(&self) -> anyhow::Result<()> {
        let http = &self.http;
        let most = Duration::from_secs(30);
        for (name, value) in [
            ("header_read_timeout", http.header_read_timeout),
            ("body_stall_timeout", http.body_stall_timeout),
        ] {
            anyhow::ensure!(
                !value.is_zero() && value <= most,
                "http.{name} must be more than 0 and at most 30s (got {value:?})"
            );
        }
        anyhow::ensure!(
            !http.idle_timeout.is_zero(),
            "http.idle_timeout must be more than 0"
        );
        anyhow::ensure!(
            http.max_connections > 0,
            "http.max_connections must be positive"
        );
        anyhow::ensure!(
            http.max_header_bytes >= 8192,
            "http.max_header_bytes must be at least 8192"
        );
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn file_routes_replace_defaults_and_flags_win() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dora.toml");
        std::fs::write(
            &path,
            r#"
listen = "127.0.0.1:9000"
[router]
interval = "5s"
[[routes]]
name = "only-cdevents"
type_prefix = "dev.cdevents."
transformers = ["cdevents"]
"#,
        )
        .unwrap();
        let overrides = Overrides {
            database_url: Some("sqlite://x.db".into()),
            ..Overrides::default()
        };
        let settings = Settings::load(Some(&path), &overrides).unwrap();
        assert_eq!(settings.listen, "127.0.0.1:9000");
        assert_eq!(settings.database_url, "sqlite://x.db");
        assert_eq!(settings.router.interval, Duration::from_secs(5));
        assert_eq!(settings.routes.len(), 1);
    }

    #[test]
    fn unknown_keys_and_bad_routes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dora.toml");
        std::fs::write(&path, "lisen = \"x\"\n").unwrap();
        assert!(Settings::load(Some(&path), &Overrides::default()).is_err());
        std::fs::write(&path, "[[routes]]\nname = \"r\"\ntransformers = []\n").unwrap();
        let error = format!(
            "{:#}",
            Settings::load(Some(&path), &Overrides::default()).unwrap_err()
        );
        assert!(error.contains("names no transformer"), "{error}");
        for section in [
            "[webhooks.github]\nsecret = \"\"\n",
            "[webhooks.argocd]\ntoken = \" \"\n",
        ] {
            std::fs::write(&path, section).unwrap();
            let error = format!(
                "{:#}",
                Settings::load(Some(&path), &Overrides::default()).unwrap_err()
            );
            assert!(error.contains("secret or token is empty"), "{error}");
        }
    }

    #[test]
    fn http_settings_load_and_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dora.toml");
        std::fs::write(
            &path,
            "[http]\nheader_read_timeout = \"2s\"\nmax_connections = 7\n",
        )
        .unwrap();
        let settings = Settings::load(Some(&path), &Overrides::default()).unwrap();
        assert_eq!(settings.http.header_read_timeout, Duration::from_secs(2));
        assert_eq!(settings.http.max_connections, 7);
        assert_eq!(settings.http.body_stall_timeout, Duration::from_secs(10));
        for bad in [
            "[http]\nheader_read_timeout = \"31s\"\n",
            "[http]\nbody_stall_timeout = \"0s\"\n",
            "[http]\nmax_connections = 0\n",
            "[http]\nmax_header_bytes = 100\n",
        ] {
            std::fs::write(&path, bad).unwrap();
            assert!(
                Settings::load(Some(&path), &Overrides::default()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn functions_load_and_routes_must_name_configured_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dora.toml");
        let route = "[[routes]]\nname = \"jenkins\"\ntype_prefix = \"io.jenkins.\"\ntransformers = [\"http:jenkins\"]\n";
        std::fs::write(&path, route).unwrap();
        let error = format!(
            "{:#}",
            Settings::load(Some(&path), &Overrides::default()).unwrap_err()
        );
        assert!(
            error.contains("route \"jenkins\": names http:jenkins, but no [functions.jenkins]"),
            "{error}"
        );
        std::fs::write(
            &path,
            format!(
                "{route}[functions.jenkins]\nurl = \"http://fn.default.svc\"\ntimeout = \"2s\"\n"
            ),
        )
        .unwrap();
        let settings = Settings::load(Some(&path), &Overrides::default()).unwrap();
        let jenkins = &settings.functions["jenkins"];
        assert_eq!(jenkins.timeout, Duration::from_secs(2));
        assert_eq!(jenkins.retry_initial, Duration::from_secs(1));
        assert_eq!(jenkins.retry_max, Duration::from_secs(300));
    }

    #[test]
    fn services_are_checked_at_load_with_errors_naming_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dora.toml");
        let entry = "[[services]]\nname = \"api\"\nrepository = \"acme/monorepo\"\n";
        for (bad, expected) in [
            (
                format!("{entry}paths = []\n"),
                "services[0].paths: is empty",
            ),
            (
                format!("{entry}paths = [\"ok/**\", \"services/a**\"]\n"),
                "services[0].paths[1]: \"services/a**\" has '**' inside a segment",
            ),
            (
                format!("{entry}paths = [\"a/**\"]\nowners = [\"x\"]\n"),
                "found `owners`",
            ),
            (
                "[[services]]\nname = \"api\"\npaths = [\"a/**\"]\n".to_owned(),
                "missing field `repository`",
            ),
        ] {
            std::fs::write(&path, &bad).unwrap();
            let error = format!(
                "{:#}",
                Settings::load(Some(&path), &Overrides::default()).unwrap_err()
            );
            assert!(error.contains(expected), "{bad}: {error}");
        }
        let good = format!(
            "{entry}paths = [\"services/api/**\"]\nteam = \"payments\"\n\
             [[services]]\nname = \"web\"\nrepository = \"acme/monorepo\"\n\
             paths = [\"services/web/**\"]\nteam = \"frontend\"\n\
             [dora.teams]\nweb = \"storefront\"\n"
        );
        std::fs::write(&path, good).unwrap();
        let settings = Settings::load(Some(&path), &Overrides::default()).unwrap();
        let teams = settings.dora_settings().unwrap().teams;
        assert_eq!(teams["api"], "payments");
        assert_eq!(teams["web"], "storefront", "[dora] teams wins");
        assert_eq!(
            settings.overridden_teams(),
            [("web".into(), "frontend".into(), "storefront".into())]
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod example_file {
    use super::*;

    /// The documented example must load and say exactly what the defaults are.
    #[test]
    fn the_example_configuration_is_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("dora-events.example.toml");
        let loaded = Settings::load(Some(&path), &Overrides::default()).unwrap();
        let defaults = Settings::default();
        assert_eq!(
            serde_json::to_value(&loaded).unwrap(),
            serde_json::to_value(&defaults).unwrap()
        );
    }

    /// The rule the example shows, commented out, compiles once uncommented.
    #[test]
    fn credentials_come_from_their_variables_only() {
        assert_eq!(
            credential_path("DORA_WEBHOOKS__GITHUB__SECRET").as_deref(),
            Some("webhooks.github.secret")
        );
        assert_eq!(
            credential_path("DORA_WEBHOOKS__GITLAB__TOKEN").as_deref(),
            Some("webhooks.gitlab.token")
        );
        assert_eq!(credential_path("DORA_WEBHOOKS__GITHUB"), None);
        assert_eq!(credential_path("DORA_LISTEN"), None);
        assert_eq!(credential_path("DORA_SOURCES__GITHUB__SECRET"), None);
        assert_eq!(credential_path("DORA_WEBHOOKS__GITHUB__SECRET__X"), None);
        assert_eq!(credential_path("WEBHOOKS__GITHUB__SECRET"), None);
        assert_eq!(
            credential_path("dora_webhooks__github__secret").as_deref(),
            Some("webhooks.github.secret")
        );
    }

    #[test]
    fn oidc_variables_are_read_as_text_and_lists() {
        assert_eq!(
            token_list_path("DORA_AUTH__OIDC__SUBJECTS").as_deref(),
            Some("auth.oidc.subjects")
        );
        assert_eq!(
            token_list_path("dora_auth__oidc__audiences").as_deref(),
            Some("auth.oidc.audiences")
        );
        assert_eq!(token_list_path("DORA_AUTH__OIDC__ISSUER"), None);
        assert_eq!(
            oidc_text_path("DORA_AUTH__OIDC__ISSUER").as_deref(),
            Some("auth.oidc.issuer")
        );
        assert_eq!(
            oidc_text_path("DORA_AUTH__OIDC__JWKS_URL").as_deref(),
            Some("auth.oidc.jwks_url")
        );
        assert_eq!(oidc_text_path("DORA_AUTH__OIDC__LEEWAY"), None);
        assert_eq!(
            list_items("system:serviceaccount:dora:*, system:serviceaccount:ci:deployer"),
            [
                "system:serviceaccount:dora:*",
                "system:serviceaccount:ci:deployer"
            ]
        );
    }

    /// The lines of the example file from `start` on that are commented out with `# `,
    /// uncommented.
    fn commented_out(start: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("dora-events.example.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let at = text.find(start).expect("the example shows it");
        text[at..]
            .lines()
            .map_while(|line| line.strip_prefix("# "))
            .map(|line| format!("{line}\n"))
            .collect()
    }

    /// The `[auth.oidc]` table the example shows, commented out, loads once uncommented; without
    /// subjects it is refused.
    #[test]
    fn the_example_oidc_table_loads() {
        let table = commented_out("# [auth.oidc]");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("dora.toml");
        std::fs::write(&file, &table).unwrap();
        let loaded = Settings::load(Some(&file), &Overrides::default()).unwrap();
        let oidc = loaded.auth.oidc.clone().expect("[auth.oidc] loaded");
        assert_eq!(oidc.issuer, "https://kubernetes.default.svc.cluster.local");
        assert_eq!(oidc.subjects, ["system:serviceaccount:dora:*"]);
        assert_eq!(oidc.jwks_min_interval, Duration::from_secs(10));
        assert!(loaded
            .auth
            .warnings()
            .iter()
            .all(|w| !w.contains("send events")));
        let without_subjects: String = table
            .lines()
            .filter(|line| !line.starts_with("subjects"))
            .map(|line| format!("{line}\n"))
            .collect();
        std::fs::write(&file, without_subjects).unwrap();
        assert!(Settings::load(Some(&file), &Overrides::default()).is_err());
        std::fs::write(
            &file,
            table.replace("[\"system:serviceaccount:dora:*\"]", "[]"),
        )
        .unwrap();
        let error = format!(
            "{:#}",
            Settings::load(Some(&file), &Overrides::default()).unwrap_err()
        );
        assert!(error.contains("subjects"), "{error}");
    }

    /// The `[[services]]` the example shows, commented out, load once uncommented.
    #[test]
    fn the_example_services_load() {
        let services = commented_out("# [[services]]");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("dora.toml");
        std::fs::write(&file, &services).unwrap();
        let loaded = Settings::load(Some(&file), &Overrides::default()).unwrap();
        assert_eq!(loaded.services.len(), 2);
        assert_eq!(loaded.dora_settings().unwrap().teams["api"], "payments");
    }

    #[test]
    fn the_example_rule_compiles() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("dora-events.example.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let start = text.find("# [[rules]]").expect("the example shows a rule");
        let rule: String = text[start..]
            .lines()
            .map(|line| {
                line.strip_prefix("# ")
                    .unwrap_or(line.trim_start_matches('#'))
            })
            .map(|line| format!("{line}\n"))
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let uncommented = dir.path().join("dora.toml");
        std::fs::write(&uncommented, format!("{text}\n{rule}")).unwrap();
        let loaded = Settings::load(Some(&uncommented), &Overrides::default()).unwrap();
        assert_eq!(loaded.rules.len(), 1);
        assert_eq!(loaded.rules[0].name, "jenkins-deploy");
    }
}
