//! `GET /api/v1/dora` and `GET /api/v1/metrics/{key}`: the five DORA keys for a window, from the
//! facts in scope (definitions in METRICS.md), with the window, filters and sample sizes.
//!
//! Query parameters: `from`, `to` (RFC 3339, or a date: `from` at its start, `to` through its
//! end; default the last 90 days up to now), `service`, `environment`, `team` (each repeatable:
//! any of), and `bucket=day|week|month|year` for series. Anything else is a `400`.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use dora_http::Problem;
use dora_metrics::dora::{self, window::Bucket, window::Window, DoraConfig, Key};
use dora_store::FactFilter;
use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

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
}

impl Default for DoraSettings {
    fn default() -> Self {
        Self {
            production_environments: Vec::new(),
            attribution_horizon: Duration::from_secs(7 * 24 * 3600),
            teams: BTreeMap::new(),
        }
    }
}

impl DoraSettings {
    fn config(&self) -> DoraConfig {
        DoraConfig {
            production_environments: self.production_environments.clone(),
            attribution_horizon: chrono::Duration::from_std(self.attribution_horizon)
                .unwrap_or_else(|_| chrono::Duration::days(7)),
            ..DoraConfig::default()
        }
    }
}

/// The parsed query of a DORA request.
struct DoraQuery {
    window: Window,
    filter: FactFilter,
    bucket: Option<Bucket>,
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
    Ok(date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
}

fn parse_query(raw: Option<&str>, allow_bucket: bool) -> Result<DoraQuery, Problem> {
    let (mut from, mut to, mut bucket) = (None, None, None);
    let mut filter = FactFilter::default();
    for pair in raw.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        let (key, value) = (decode(key), decode(value));
        let push =
            |list: &mut Option<Vec<String>>| list.get_or_insert_with(Vec::new).push(value.clone());
        match key.as_str() {
            "from" => from = Some(parse_time("from", &value, false)?),
            "to" => to = Some(parse_time("to", &value, true)?),
            "service" => push(&mut filter.services),
            "environment" => push(&mut filter.environments),
            "team" => push(&mut filter.teams),
            "bucket" if allow_bucket => {
                bucket = Some(Bucket::parse(&value).ok_or_else(|| {
                    bad(
                        "bucket",
                        format!("bucket must be day, week, month or year, got {value:?}"),
                    )
                })?)
            }
            other => {
                let known = if allow_bucket {
                    "from, to, service, environment, team, bucket"
                } else {
                    "from, to, service, environment, team"
                };
                return Err(Problem::bad_request(
                    "unknown-parameter",
                    "Unknown query parameter",
                    other,
                    format!("unknown query parameter {other:?}; known: {known}"),
                ));
            }
        }
    }
    let to = to.unwrap_or_else(Utc::now);
    let from = from.unwrap_or(to - chrono::Duration::days(90));
    let window = Window::new(from, to)
        .ok_or_else(|| bad("from", format!("from ({from}) must be before to ({to})")))?;
    Ok(DoraQuery {
        window,
        filter,
        bucket,
    })
}

fn filters_json(filter: &FactFilter, settings: &DoraSettings) -> Value {
    json!({
        "service": filter.services,
        "environment": filter.environments,
        "team": filter.teams,
        "production_environments": settings.production_environments,
    })
}

/// `GET /api/v1/dora`.
pub async fn dora_keys(
    State(state): State<ApiState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, Problem> {
    let query = parse_query(raw.as_deref(), false)?;
    let rows = state
        .store
        .load_facts(&query.filter)
        .await
        .map_err(store_problem)?;
    let facts = dora_metrics::facts::fold(rows, &state.dora.teams);
    let report = dora::compute(&facts, &query.window, &state.dora.config());
    let mut body = serde_json::to_value(&report).map_err(|e| Problem::internal(&e))?;
    if let Some(object) = body.as_object_mut() {
        object.insert("filters".into(), filters_json(&query.filter, &state.dora));
    }
    Ok(Json(body))
}

/// `GET /api/v1/metrics/{key}?bucket=week`.
pub async fn key_series(
    State(state): State<ApiState>,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, Problem> {
    let parsed_key = Key::from_path(&key).ok_or_else(|| {
        Problem::new(
            StatusCode::NOT_FOUND,
            "unknown-metric",
            "Unknown metric",
            format!(
                "{key:?} is not a metric; use deployment-frequency, lead-time, change-failure-rate, recovery-time or rework-rate"
            ),
        )
        .with_field("key")
    })?;
    let query = parse_query(raw.as_deref(), true)?;
    let bucket = query.bucket.unwrap_or(Bucket::Week);
    let rows = state
        .store
        .load_facts(&query.filter)
        .await
        .map_err(store_problem)?;
    let facts = dora_metrics::facts::fold(rows, &state.dora.teams);
    let series = dora::key_series(
        &facts,
        &query.window,
        &state.dora.config(),
        parsed_key,
        bucket,
    );
    Ok(Json(json!({
        "key": key,
        "bucket": bucket.as_str(),
        "window": query.window,
        "filters": filters_json(&query.filter, &state.dora),
        "series": series,
    })))
}
