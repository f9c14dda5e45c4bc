//! The metrics endpoint: the last stage of the pipeline (... -> calculators -> **API**).
//!
//! - `GET /deploy-frequency/{day,week,month,year}`: the book's endpoint, in the book's shape.
//! - `GET /api/v1/deployments`, `GET /api/v1/failures`, `GET /api/v1/pipeline`: drill-down and
//!   pipeline state.
//! - `GET /healthz` (the process is up), `GET /readyz` (the database answers).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::Json;
use dora_http::auth::{self, Authenticator, Scope};
use dora_http::telemetry::{IngestTotals, Telemetry};
use dora_http::Problem;
use dora_store::{
    Bucket, Dimensions, FailureRecord, FrequencyFilter, FunctionJobStats, Store, StoreError,
    StoreStats,
};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub mod charts;
pub mod dashboard;
pub mod dora;
pub(crate) mod drilldown;
pub mod events;
pub mod live_keys;
pub mod params;
pub mod prometheus;

/// What the query routes need.
#[derive(Clone)]
pub struct ApiState {
    pub store: Store,
    pub dora: std::sync::Arc<dora::DoraSettings>,
    /// The live feed of stored events, shared by this process's viewers.
    pub feed: std::sync::Arc<events::EventFeed>,
    /// This process's request and ingest counters.
    pub telemetry: std::sync::Arc<Telemetry>,
    /// Whether this process serves the query routes (and so the DORA gauges of `/metrics`).
    pub serves_queries: bool,
    /// Whether this process ingests (and so reports ingest totals in `/api/v1/pipeline`).
    pub serves_ingest: bool,
    pub gauges: std::sync::Arc<prometheus::GaugeCache>,
    /// The keys' columns, kept up to date from the link tables.
    pub keys: std::sync::Arc<live_keys::LiveKeys>,
    /// Who may read (read tokens; open unless configured).
    pub auth: Authenticator,
}

/// Which routes a process serves besides health and pipeline state.
#[derive(Debug, Clone, Copy)]
pub struct Serves {
    pub ingest: bool,
    pub queries: bool,
}

impl ApiState {
    pub fn new(
        store: Store,
        dora: dora::DoraSettings,
        telemetry: std::sync::Arc<Telemetry>,
        serves: Serves,
    ) -> Self {
        let keys = live_keys::LiveKeys::new(dora.freshness_wait);
        Self {
            feed: events::EventFeed::new(store.clone()),
            store,
            dora: std::sync::Arc::new(dora),
            telemetry,
            serves_queries: serves.queries,
            serves_ingest: serves.ingest,
            gauges: std::sync::Arc::default(),
            keys: std::sync::Arc::new(keys),
            auth: Authenticator::open(),
        }
    }

    /// Requires read tokens as `auth` says.
    pub fn with_auth(mut self, auth: Authenticator) -> Self {
        self.auth = auth;
        self
    }
}

/// The query routes (the `api` role), with their OpenAPI description. The dashboard's files
/// are served by [`dashboard::router`].
pub fn router(state: ApiState) -> OpenApiRouter {
    let routes = OpenApiRouter::new()
        .routes(routes!(deploy_frequency))
        .routes(routes!(dora::deployments))
        .routes(routes!(dora::changes))
        .routes(routes!(dora::incidents))
        .routes(routes!(list_failures))
        .routes(routes!(dora::dora_keys))
        .routes(routes!(dora::key_series))
        .routes(routes!(dimensions))
        .routes(routes!(charts::chart))
        .routes(routes!(events::list_events))
        .routes(routes!(events::stream_events));
    auth::protect(routes, &state.auth, Scope::Read).with_state(state)
}

/// Health, pipeline state and Prometheus metrics, served by every role. Pipeline state needs a
/// read token when reading is protected, and so does `/metrics` unless `[auth] metrics_open`;
/// `/healthz` and `/readyz` stay open for probes.
pub fn health_router(state: ApiState) -> OpenApiRouter {
    let pipeline = auth::protect(
        OpenApiRouter::new().routes(routes!(pipeline)),
        &state.auth,
        Scope::Read,
    );
    let metrics = OpenApiRouter::new().routes(routes!(prometheus::metrics));
    let metrics = if state.auth.settings().metrics_open {
        metrics
    } else {
        auth::protect(metrics, &state.auth, Scope::Read)
    };
    pipeline
        .merge(metrics)
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .with_state(state)
}

pub(crate) fn store_problem(error: impl std::borrow::Borrow<StoreError>) -> Problem {
    let error = error.borrow();
    if error.is_unavailable() {
        tracing::warn!(error = %error, "query failed: database unavailable");
        Problem::unavailable("the database is unavailable", 5)
    } else {
        Problem::internal(&error)
    }
}

/// Checks that only known query parameters were given; a typo is a `400`, not a silent default.
fn only_params(params: &HashMap<String, String>, known: &[&str]) -> Result<(), Problem> {
    for (name, value) in params {
        no_nul(name, value)?;
    }
    match params.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => Err(Problem::bad_request(
            "unknown-parameter",
            "Unknown query parameter",
            unknown.clone(),
            format!(
                "unknown query parameter {unknown:?}; known: {}",
                known.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

/// Refuses a query parameter holding U+0000, which no stored text can match (and PostgreSQL
/// refuses as a parameter): a `400` naming it.
pub(crate) fn no_nul(name: &str, value: &str) -> Result<(), Problem> {
    if !name.contains('\0') && !value.contains('\0') {
        return Ok(());
    }
    Err(Problem::bad_request(
        "invalid-parameter",
        "Invalid query parameter",
        name.replace('\0', "\\u0000"),
        "a query parameter must not contain U+0000 (NUL)",
    ))
}

/// The query parameter `name`, given as `text`, as a whole number in `range`; anything else is
/// a `400` naming the parameter.
pub(crate) fn whole_number<T>(
    name: &str,
    text: Option<&String>,
    range: std::ops::RangeInclusive<T>,
) -> Result<Option<T>, Problem>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    text.map(|text| {
        text.parse::<T>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                Problem::bad_request(
                    "invalid-parameter",
                    "Invalid query parameter",
                    name,
                    format!(
                        "{name} must be a whole number from {} to {}, got {text:?}",
                        range.start(),
                        range.end()
                    ),
                )
            })
    })
    .transpose()
}

fn paging(params: &HashMap<String, String>) -> Result<(i64, i64), Problem> {
    let limit = whole_number("limit", params.get("limit"), 0..=1000)?;
    let offset = whole_number("offset", params.get("offset"), 0..=i64::MAX)?;
    Ok((limit.unwrap_or(100), offset.unwrap_or(0)))
}

/// One row of the book's response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FrequencyEntry {
    #[serde(rename = "DeployName")]
    pub deploy_name: String,
    #[serde(rename = "Deployments")]
    pub deployments: i64,
    #[serde(rename = "Time")]
    pub time: String,
}

/// The book's endpoint: production and other rollouts per service and UTC bucket.
#[utoipa::path(
    get,
    path = "/deploy-frequency/{bucket}",
    tag = "metrics",
    params(
        ("bucket" = inline(crate::params::BucketName), Path, description = "day, week, month or year"),
        ("environment" = Option<String>, Query, description = "Only this environment"),
        ("service" = Option<String>, Query, description = "Only this service")
    ),
    responses(
        (status = 200, description = "Deployments per service and bucket, in the book's shape", body = Vec<FrequencyEntry>),
        (status = 404, description = "Unknown bucket", body = dora_http::ProblemDetails, content_type = "application/problem+json"),
        crate::params::QueryErrors
    )
)]
async fn deploy_frequency(
    State(state): State<ApiState>,
    Path(bucket): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Vec<FrequencyEntry>>, Problem> {
    let bucket = Bucket::parse(&bucket).ok_or_else(|| {
        let detail = format!("{bucket:?} is not a bucket; use day, week, month or year");
        Problem::unknown("unknown-bucket", "Unknown bucket", "bucket", detail)
    })?;
    only_params(&params, &["environment", "service"])?;
    let filter = FrequencyFilter {
        environment: params.get("environment").cloned(),
        service: params.get("service").cloned(),
    };
    let rows = state
        .store
        .deploy_frequency(bucket, &filter)
        .await
        .map_err(store_problem)?;
    Ok(Json(
        rows.into_iter()
            .map(|row| FrequencyEntry {
                deploy_name: row.service,
                deployments: row.deployments,
                time: dora_model::time::format_rfc3339(&row.bucket_start),
            })
            .collect(),
    ))
}

/// A page of items with the paging that produced it.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub limit: i64,
    pub offset: i64,
}

/// Transformations that failed and CDEvents the calculator skipped (`transformer` is
/// `calculator`, with `cdevent_seq`), newest first, with the event and the reason.
#[utoipa::path(
    get,
    path = "/api/v1/failures",
    tag = "pipeline",
    params(
        ("limit" = Option<i64>, Query, minimum = 0, maximum = 1000, description = "Items per page (default 100, at most 1000)"),
        ("offset" = Option<i64>, Query, minimum = 0, description = "Items to skip")
    ),
    responses(
        (status = 200, description = "Failed transformations and CDEvents the calculator skipped (`transformer` = `calculator`, with `cdevent_seq`), newest first: `{items, limit, offset}`", body = Object, content_type = "application/json"),
        crate::params::QueryErrors
    )
)]
async fn list_failures(
    State(state): State<ApiState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Page<FailureRecord>>, Problem> {
    only_params(&params, &["limit", "offset"])?;
    let (limit, offset) = paging(&params)?;
    let items = state
        .store
        .list_failures(limit, offset)
        .await
        .map_err(store_problem)?;
    Ok(Json(Page {
        items,
        limit,
        offset,
    }))
}

/// Pipeline state: counts and how far behind each stage is.
#[derive(Debug, Serialize)]
pub struct PipelineState {
    #[serde(flatten)]
    pub stats: StoreStats,
    /// CDEvents not yet counted in the keys: not yet read by the facts calculator, or read
    /// but not linked yet.
    pub deployments_lag: i64,
    /// CDEvents whose facts are not linked yet.
    pub links_lag: i64,
    /// Calls of external functions not yet made (or to be retried), per function with pending
    /// jobs: the count, the oldest, the last error.
    pub function_jobs: Vec<FunctionJobStats>,
    /// What this process's ingest routes stored and refused since it started (absent in a
    /// process without the ingest role).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingest: Option<IngestTotals>,
}

/// Pipeline state: row counts, cursors, the lag of each stage and this process's ingest totals.
#[utoipa::path(
    get,
    path = "/api/v1/pipeline",
    tag = "pipeline",
    responses(
        (status = 200, description = "Row counts, cursors, lags, pending calls of external functions and (ingest processes) ingest totals", body = Object, content_type = "application/json"),
        crate::params::Unavailable
    )
)]
async fn pipeline(State(state): State<ApiState>) -> Result<Json<PipelineState>, Problem> {
    let stats = state.store.stats().await.map_err(store_problem)?;
    let function_jobs = state
        .store
        .function_job_stats()
        .await
        .map_err(store_problem)?;
    Ok(Json(PipelineState {
        deployments_lag: stats.last_cdevent_seq - stats.deployments_cursor.min(stats.links_cursor),
        links_lag: stats.last_cdevent_seq - stats.links_cursor,
        function_jobs,
        stats,
        ingest: state.serves_ingest.then(|| state.telemetry.ingest_totals()),
    }))
}

/// The services, environments and teams the filters can choose from.
///
/// Teams include the configured ones (`[dora.teams]`) as well as those the events name.
#[utoipa::path(
    get,
    path = "/api/v1/dimensions",
    tag = "metrics",
    responses(
        (status = 200, description = "`{services, environments, teams}`, sorted", body = Object, content_type = "application/json"),
        crate::params::Unavailable
    )
)]
async fn dimensions(State(state): State<ApiState>) -> Result<Json<Dimensions>, Problem> {
    let mut dimensions = state.store.dimensions().await.map_err(store_problem)?;
    dimensions.teams.extend(state.dora.teams.values().cloned());
    dimensions.teams.sort();
    dimensions.teams.dedup();
    Ok(Json(dimensions))
}

/// Liveness: the process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    responses(
        (status = 200, description = "The process is up: `{\"status\": \"ok\"}`", body = Object, content_type = "application/json")
    )
)]
async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// How each scope is guarded, as `/readyz` reports it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccessState {
    /// `tokens` or `open` for `POST /events`, `/` and `/cdevents` (`tokens` also when only
    /// OpenID Connect tokens are accepted).
    pub ingest: &'static str,
    /// `tokens` or `open` for the query API, events and pipeline state.
    pub read: &'static str,
    /// `tokens` or `open` for `/metrics`.
    pub metrics: &'static str,
    /// What is open to anyone who reaches the server.
    pub warnings: Vec<String>,
    /// With `[auth.oidc]`: whether the issuer's keys could be fetched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oidc: Option<dora_http::oidc::OidcStatus>,
}

/// The answer of `/readyz`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// Always `ready` (an unavailable database answers `503`).
    pub status: &'static str,
    pub auth: AccessState,
}

/// Readiness: the database answers. Also says which scopes are open to anyone.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    responses(
        (status = 200, description = "The database answers; `auth` says which scopes need tokens", body = Readiness),
        crate::params::Unavailable
    )
)]
async fn readyz(State(state): State<ApiState>) -> Result<Json<Readiness>, Problem> {
    state.store.ping().await.map_err(store_problem)?;
    let settings = state.auth.settings();
    let guard = |protected: bool| if protected { "tokens" } else { "open" };
    let read = guard(state.auth.protects(Scope::Read));
    Ok(Json(Readiness {
        status: "ready",
        auth: AccessState {
            ingest: guard(state.auth.protects(Scope::Ingest)),
            read,
            metrics: if settings.metrics_open { "open" } else { read },
            warnings: settings.warnings(),
            oidc: state.auth.oidc_status(),
        },
    }))
}
