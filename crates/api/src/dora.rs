//! `GET /api/v1/dora` and `GET /api/v1/metrics/{key}`: the five DORA keys for a window, from the
//! facts in scope (definitions in METRICS.md), with the window, filters and sample sizes.
//!
//! Query parameters: `from`, `to` (RFC 3339, or a date: `from` at its start, `to` through its
//! end; default the last 90 days up to now), `service`, `environment`, `team` (each repeatable:
//! any of), and `bucket=day|week|month|year` for series. Anything else is a `400`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use dora_http::Problem;
use dora_metrics::dora::levels::Thresholds;
use dora_metrics::dora::{self, window::Bucket, window::Window, DoraConfig, Key, KeyColumns};
use dora_metrics::scope::Scope;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::live_keys::{Freshness, KeysConfig};
use crate::{store_problem, ApiState};

/// `[dora]` in the configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DoraSettings {
    /// Environments that count as production; empty: every environment counts.
    pub production_environments: Vec<String>,
    /// How long after a deployment an incident is blamed on it by time alone.
    #[serde(with = "humantime_serde")]
    pub attribution_horizon: Duration,
    /// Service -> team; wins over team metadata in events.
    pub teams: BTreeMap<String, String>,
    /// How long a query waits for the keys to catch up with the links before it answers from
    /// the previous ones (marked `stale`); see `live_keys`.
    #[serde(with = "humantime_serde")]
    pub freshness_wait: Duration,
    /// Level thresholds (defaults: the DORA 2023 clusters; METRICS.md).
    pub thresholds: Thresholds,
}

impl Default for DoraSettings {
    fn default() -> Self {
        Self {
            production_environments: Vec::new(),
            attribution_horizon: Duration::from_secs(7 * 24 * 3600),
            teams: BTreeMap::new(),
            freshness_wait: crate::live_keys::DEFAULT_FRESHNESS_WAIT,
            thresholds: Thresholds::default(),
        }
    }
}

impl DoraSettings {
    /// The computation's configuration (what links and keys depend on).
    pub fn config(&self) -> DoraConfig {
        DoraConfig {
            production_environments: self.production_environments.clone(),
            attribution_horizon: chrono::Duration::from_std(self.attribution_horizon)
                .unwrap_or_else(|_| chrono::Duration::days(7)),
            thresholds: self.thresholds,
        }
    }
}

/// The window and filters of every DORA route, for the OpenAPI description (the query itself
/// is read by `parse_query`, which also refuses unknown and repeated parameters).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct DoraParams {
    /// Window start: RFC 3339 or a date (default: 90 days before `to`); before `to`.
    #[param(schema_with = crate::params::time_or_date)]
    from: Option<String>,
    /// Window end: RFC 3339, or a date to include that whole day (default: now).
    #[param(schema_with = crate::params::time_or_date)]
    to: Option<String>,
    /// Only these services (repeatable).
    #[param(schema_with = crate::params::names)]
    service: Option<Vec<String>>,
    /// Only these environments (repeatable).
    #[param(schema_with = crate::params::names)]
    environment: Option<Vec<String>>,
    /// Only these teams (repeatable).
    #[param(schema_with = crate::params::names)]
    team: Option<Vec<String>>,
}

/// The paging of the drill-down routes, for the OpenAPI description.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct PagingParams {
    /// Items per page (default 100, at most 1000).
    #[param(schema_with = page_limit)]
    limit: Option<i64>,
    /// Items to skip.
    #[param(schema_with = page_offset)]
    offset: Option<i64>,
    /// Start after this item: the `next` of the previous page (faster than `offset` deep
    /// into a long list).
    #[param(schema_with = page_after)]
    after: Option<String>,
}

fn page_after() -> utoipa::openapi::schema::ObjectBuilder {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(crate::drilldown::CURSOR_PATTERN))
}

fn page_limit() -> utoipa::openapi::schema::ObjectBuilder {
    crate::params::whole(0, 1000)
}

fn page_offset() -> utoipa::openapi::schema::ObjectBuilder {
    crate::params::whole(0, i64::MAX)
}

/// The parsed query of a DORA request.
pub(crate) struct DoraQuery {
    pub window: Window,
    pub scope: Scope,
    /// Endpoint-specific parameters (`bucket`, `limit`, `offset`), by name.
    extra: BTreeMap<String, String>,
}

fn bad(field: &str, detail: String) -> Problem {
    Problem::bad_request(
        "invalid-parameter",
        "Invalid query parameter",
        field,
        detail,
    )
}

fn parse_time(field: &str, text: &str, end_of_day: bool) -> Result<DateTime<Utc>, Problem> {
    if let Some(time) = dora_model::time::parse_rfc3339(text) {
        return Ok(time);
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        bad(
            field,
            format!("{field} must be an RFC 3339 time or a date (YYYY-MM-DD), got {text:?}"),
        )
    })?;
    let date = if end_of_day {
        date.succ_opt().unwrap_or(date)
    } else {
        date
    };
    let time = date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    if !(1..=9999).contains(&chrono::Datelike::year(&time)) {
        return Err(bad(
            field,
            format!("{field} must fall in the years 1 to 9999, got {text:?}"),
        ));
    }
    Ok(time)
}

/// Series longer than this are refused: each bucket is a full computation.
const MAX_BUCKETS: i64 = 1000;

/// What the live keys need of the settings.
pub(crate) fn keys_config(state: &ApiState) -> KeysConfig {
    KeysConfig {
        teams: state.dora.teams.clone(),
        dora: state.dora.config(),
    }
}

/// The keys' columns of `scope` (see [`crate::live_keys`]), and how fresh they are.
pub(crate) async fn key_columns(
    state: &ApiState,
    scope: &Scope,
) -> Result<(Arc<KeyColumns>, Freshness), Problem> {
    state
        .keys
        .columns(&state.store, &keys_config(state), scope)
        .await
        .map_err(store_problem)
}

/// Loads the unfiltered keys' columns (at start, so that the first request finds them).
pub async fn warm_up(state: &ApiState) -> Result<(), Arc<dora_store::StoreError>> {
    state
        .keys
        .unfiltered(&state.store, &keys_config(state))
        .await
        .map(|_| ())
}

/// `stale` and `freshness` for an answer.
fn with_freshness(object: &mut serde_json::Map<String, Value>, freshness: &Freshness) {
    object.insert("stale".into(), json!(freshness.stale));
    object.insert(
        "freshness".into(),
        json!({"behind_cdevents": freshness.behind_cdevents,
               "behind_seconds": freshness.behind_seconds}),
    );
}

fn parse_query(raw: Option<&str>, extra_names: &[&str]) -> Result<DoraQuery, Problem> {
    let (mut from, mut to) = (None, None);
    let mut scope = Scope::default();
    let mut extra = BTreeMap::new();
    for pair in raw.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        let (key, value) = (decode(key), decode(value));
        if value.is_empty() {
            return Err(bad(&key, format!("{key} must not be empty")));
        }
        crate::no_nul(&key, &value)?;
        let once = |seen: bool| {
            if seen {
                Err(bad(&key, format!("{key} may be given once")))
            } else {
                Ok(())
            }
        };
        let push =
            |list: &mut Option<Vec<String>>| list.get_or_insert_with(Vec::new).push(value.clone());
        match key.as_str() {
            "from" => {
                once(from.is_some())?;
                from = Some(parse_time("from", &value, false)?);
            }
            "to" => {
                once(to.is_some())?;
                to = Some(parse_time("to", &value, true)?);
            }
            "service" => push(&mut scope.services),
            "environment" => push(&mut scope.environments),
            "team" => push(&mut scope.teams),
            name if extra_names.contains(&name) => {
                once(extra.contains_key(name))?;
                extra.insert(key.clone(), value);
            }
            other => {
                let mut known = vec!["from", "to", "service", "environment", "team"];
                known.extend_from_slice(extra_names);
                return Err(Problem::bad_request(
                    "unknown-parameter",
                    "Unknown query parameter",
                    other,
                    format!(
                        "unknown query parameter {other:?}; known: {}",
                        known.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(DoraQuery {
        window: window(from, to)?,
        scope,
        extra,
    })
}

/// The window from `from` and `to` as parsed: `to` defaults to now, `from` to 90 days before
/// `to`, and `from` must come first.
fn window(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Result<Window, Problem> {
    let to = to.unwrap_or_else(Utc::now);
    let from = from.unwrap_or(to - chrono::Duration::days(90));
    Window::new(from, to)
        .ok_or_else(|| bad("from", format!("from ({from}) must be before to ({to})")))
}

/// What `GET /api/v1/dora` is asked, as values: the filters (any of each list) and the window
/// as given (RFC 3339 or a date; `to` as a date runs through that day). `dora-events metrics`
/// builds one from its flags and asks the server with [`KeysRequest::to_query_string`], or
/// computes the answer in-process with [`keys_for`], the function the route runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeysRequest {
    pub services: Vec<String>,
    pub environments: Vec<String>,
    pub teams: Vec<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

impl KeysRequest {
    /// The URL query string (`service=a&service=b&from=...`), percent-encoded.
    pub fn to_query_string(&self) -> String {
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        pairs.extend(self.services.iter().map(|s| ("service", s.as_str())));
        pairs.extend(
            self.environments
                .iter()
                .map(|s| ("environment", s.as_str())),
        );
        pairs.extend(self.teams.iter().map(|s| ("team", s.as_str())));
        pairs.extend(self.from.iter().map(|s| ("from", s.as_str())));
        pairs.extend(self.to.iter().map(|s| ("to", s.as_str())));
        pairs
            .iter()
            .map(|(key, value)| format!("{key}={}", utf8_percent_encode(value, QUERY_VALUE)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// The query it stands for, checked as the route checks its parameters.
    fn query(&self) -> Result<DoraQuery, Problem> {
        let names = |key: &str, values: &[String]| -> Result<Option<Vec<String>>, Problem> {
            if values.iter().any(String::is_empty) {
                return Err(bad(key, format!("{key} must not be empty")));
            }
            Ok(Some(values.to_vec()).filter(|values| !values.is_empty()))
        };
        let time = |key: &str, text: &Option<String>, end: bool| match text {
            Some(text) if text.is_empty() => Err(bad(key, format!("{key} must not be empty"))),
            Some(text) => parse_time(key, text, end).map(Some),
            None => Ok(None),
        };
        let scope = Scope {
            services: names("service", &self.services)?,
            environments: names("environment", &self.environments)?,
            teams: names("team", &self.teams)?,
        };
        Ok(DoraQuery {
            window: window(
                time("from", &self.from, false)?,
                time("to", &self.to, true)?,
            )?,
            scope,
            extra: BTreeMap::new(),
        })
    }
}

/// Everything but RFC 3986's unreserved characters is percent-encoded in a query value.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The five keys for `request`: what `GET /api/v1/dora` answers for the same parameters.
pub async fn keys_for(state: &ApiState, request: &KeysRequest) -> Result<Value, Problem> {
    keys_report(state, &request.query()?).await
}

/// The five keys of `query` with the filters and the freshness of the answer.
async fn keys_report(state: &ApiState, query: &DoraQuery) -> Result<Value, Problem> {
    let (columns, freshness) = key_columns(state, &query.scope).await?;
    let report = columns.report(&query.window);
    let mut body = serde_json::to_value(&report).map_err(|e| Problem::internal(&e))?;
    if let Some(object) = body.as_object_mut() {
        object.insert("filters".into(), filters_json(&query.scope, &state.dora));
        with_freshness(object, &freshness);
    }
    Ok(body)
}

/// `limit` (default 100, at most 1000) and `offset` from the extra parameters.
fn paging(extra: &BTreeMap<String, String>) -> Result<(usize, usize), Problem> {
    let limit = crate::whole_number("limit", extra.get("limit"), 0..=1000)?;
    let offset = crate::whole_number("offset", extra.get("offset"), 0..=usize::MAX)?;
    Ok((limit.unwrap_or(100), offset.unwrap_or(0)))
}

fn filters_json(scope: &Scope, settings: &DoraSettings) -> Value {
    json!({
        "service": scope.services,
        "environment": scope.environments,
        "team": scope.teams,
        "production_environments": settings.production_environments,
    })
}

/// The five DORA keys for a window and filters, with levels, thresholds and sample sizes.
#[utoipa::path(
    get,
    path = "/api/v1/dora",
    tag = "metrics",
    params(
        DoraParams
    ),
    responses(
        (status = 200, description = "The five keys with value, unit, level, thresholds and sample size, for the window and filters", body = Object, content_type = "application/json"),
        crate::params::QueryErrors
    )
)]
pub async fn dora_keys(
    State(state): State<ApiState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, Problem> {
    let query = parse_query(raw.as_deref(), &[])?;
    keys_report(&state, &query).await.map(Json)
}

/// One key per bucket, as `GET /api/v1/metrics/{key}` and the charts compute it.
pub(crate) struct SeriesAnswer {
    pub key: Key,
    pub bucket: Bucket,
    pub query: DoraQuery,
    pub series: Vec<dora::KeySeriesPoint>,
    pub freshness: Freshness,
}

/// One DORA key per day, week, month or year of the window.
#[utoipa::path(
    get,
    path = "/api/v1/metrics/{key}",
    tag = "metrics",
    params(
        ("key" = inline(crate::params::KeyName), Path, description = "deployment-frequency, lead-time, change-failure-rate, recovery-time or rework-rate"),
        DoraParams,
        ("bucket" = inline(Option<crate::params::BucketName>), Query, description = "day, week (default), month or year; at most 1000 buckets in the window")
    ),
    responses(
        (status = 200, description = "The key per bucket: `{key, bucket, window, filters, series}`", body = Object, content_type = "application/json"),
        (status = 404, description = "Unknown key", body = dora_http::ProblemDetails, content_type = "application/problem+json"),
        crate::params::QueryErrors
    )
)]
pub async fn key_series(
    State(state): State<ApiState>,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, Problem> {
    let answer = compute_series(&state, &key, raw.as_deref()).await?;
    let mut body = json!({
        "key": key,
        "bucket": answer.bucket.as_str(),
        "window": answer.query.window,
        "filters": filters_json(&answer.query.scope, &state.dora),
        "series": answer.series,
    });
    if let Some(object) = body.as_object_mut() {
        with_freshness(object, &answer.freshness);
    }
    Ok(Json(body))
}

/// Parses a series request (`key` as in the URL, the raw query) and computes it.
pub(crate) async fn compute_series(
    state: &ApiState,
    key: &str,
    raw: Option<&str>,
) -> Result<SeriesAnswer, Problem> {
    let parsed_key = Key::from_path(key).ok_or_else(|| {
        Problem::unknown(
            "unknown-metric",
            "Unknown metric",
            "key",
            format!(
                "{key:?} is not a metric; use deployment-frequency, lead-time, change-failure-rate, recovery-time or rework-rate"
            ),
        )
    })?;
    let query = parse_query(raw, &["bucket"])?;
    let bucket = match query.extra.get("bucket") {
        None => Bucket::Week,
        Some(text) => Bucket::parse(text).ok_or_else(|| {
            bad(
                "bucket",
                format!("bucket must be day, week, month or year, got {text:?}"),
            )
        })?,
    };
    let days = (query.window.to - query.window.from).num_days();
    let buckets = match bucket {
        Bucket::Day => days,
        Bucket::Week => days / 7,
        Bucket::Month => days / 28,
        Bucket::Year => days / 365,
    };
    if buckets > MAX_BUCKETS {
        return Err(bad(
            "bucket",
            format!(
                "the window holds about {buckets} buckets of a {}; at most {MAX_BUCKETS}",
                bucket.as_str()
            ),
        ));
    }
    let (columns, freshness) = key_columns(state, &query.scope).await?;
    let series = columns.key_series(&query.window, parsed_key, bucket);
    Ok(SeriesAnswer {
        key: parsed_key,
        bucket,
        query,
        series,
        freshness,
    })
}

/// Which drill-down list.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listing {
    Deployments,
    Changes,
    Incidents,
}

async fn drill_down(
    state: ApiState,
    raw: Option<String>,
    listing: Listing,
) -> Result<Json<Value>, Problem> {
    let query = parse_query(raw.as_deref(), &["limit", "offset", "after"])?;
    let (limit, offset) = paging(&query.extra)?;
    let after = query
        .extra
        .get("after")
        .map(|text| crate::drilldown::parse_after(listing, text))
        .transpose()?;
    let (total, items, next, freshness) = if query.scope == Scope::default() {
        crate::drilldown::from_tables(&state, &query.window, listing, limit, offset, after).await?
    } else {
        crate::drilldown::from_scope(&state, &query, listing, limit, offset, after.as_ref()).await?
    };
    let mut body = json!({
        "window": query.window,
        "filters": filters_json(&query.scope, &state.dora),
        "total": total,
        "limit": limit,
        "offset": offset,
        "items": items,
        "next": next,
    });
    if let Some(object) = body.as_object_mut() {
        with_freshness(object, &freshness);
    }
    Ok(Json(body))
}

/// A drill-down route: `GET $path` lists `$listing` a page at a time; `$description` says what
/// a page holds.
macro_rules! drill_down_route {
    ($(#[doc = $doc:literal])* $name:ident, $path:literal, $listing:ident, $description:literal) => {
        $(#[doc = $doc])*
        #[utoipa::path(
            get,
            path = $path,
            tag = "drill-down",
            params(DoraParams, PagingParams),
            responses(
                (status = 200, description = $description, body = Object, content_type = "application/json"),
                crate::params::QueryErrors
            )
        )]
        pub async fn $name(
            State(state): State<ApiState>,
            RawQuery(raw): RawQuery,
        ) -> Result<Json<Value>, Problem> {
            drill_down(state, raw, Listing::$listing).await
        }
    };
}

drill_down_route!(
    /// Deployments in the window, newest first.
    ///
    /// With what each shipped, the incidents blamed on it, why it needed intervention and what
    /// recovered it.
    deployments,
    "/api/v1/deployments",
    Deployments,
    "Deployments in the window with what they shipped, their incidents, rollbacks and recovery: `{window, filters, total, limit, offset, items}`"
);

drill_down_route!(
    /// Changes first deployed to production in the window, with their lead time.
    changes,
    "/api/v1/changes",
    Changes,
    "Changes first deployed to production in the window, with their lead time: `{window, filters, total, limit, offset, items}`"
);

drill_down_route!(
    /// Incidents detected in the window, with the deployment each is attributed to.
    incidents,
    "/api/v1/incidents",
    Incidents,
    "Incidents detected in the window and the deployment each is attributed to: `{window, filters, total, limit, offset, items}`"
);
