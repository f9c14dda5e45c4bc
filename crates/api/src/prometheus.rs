//! `GET /metrics` in the Prometheus text format: this process's request and ingest counters,
//! the pipeline's state read from the store (so every role reports it), and, from processes
//! that serve queries, the five DORA keys per service and production environment over the
//! last 30 days.
//!
//! The DORA gauges are computed from every stored fact, like `GET /api/v1/dora`; they are kept
//! for [`DORA_GAUGES_TTL`] so that frequent scrapes cost one computation.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use dora_http::telemetry::{family, sample};
use dora_metrics::dora::levels::Level;
use dora_metrics::dora::{DoraReport, Window};
use dora_metrics::scope::Scope;
use tokio::sync::Mutex;

use crate::ApiState;

/// The window of the DORA gauges, ending at the scrape.
pub const DORA_GAUGES_WINDOW_DAYS: i64 = 30;
/// How long computed DORA gauges are reused.
pub const DORA_GAUGES_TTL: Duration = Duration::from_secs(60);
/// Series (service, environment, team) the DORA gauges have at most: those with the most
/// production deployments in the window (ties by name). Whoever can ingest names services, and
/// every series costs a computation and about 2 KB of every scrape; `dora_series_omitted` says
/// how many were left out.
pub const MAX_DORA_SERIES: usize = 500;

/// The DORA gauges last computed, and when.
#[derive(Default)]
pub struct GaugeCache {
    computed: Mutex<Option<(Instant, Arc<String>)>>,
}

/// Prometheus metrics: requests, ingest, pipeline state and the DORA keys per service.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    responses(
        (status = 200, description = "Prometheus text format: request, ingest and pipeline metrics, and the DORA gauges (query processes)", content_type = "text/plain")
    )
)]
pub async fn metrics(State(state): State<ApiState>) -> Response {
    let mut out = String::with_capacity(16 * 1024);
    state.telemetry.write_prometheus(&mut out);
    write_pipeline(&state, &mut out).await;
    if state.serves_queries {
        match dora_gauges(&state).await {
            Ok(gauges) => out.push_str(&gauges),
            Err(problem) => {
                tracing::warn!(detail = %problem.detail, "the DORA gauges could not be computed");
            }
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

/// Row counts and lags of the pipeline, from the store; `dora_store_up` says whether it answered.
async fn write_pipeline(state: &ApiState, out: &mut String) {
    let stats = state.store.stats().await;
    family(
        out,
        "dora_store_up",
        "gauge",
        "Whether the database answered this scrape (1) or not (0).",
    );
    sample(
        out,
        "dora_store_up",
        &[],
        if stats.is_ok() { 1.0 } else { 0.0 },
    );
    let Ok(stats) = stats else { return };
    let gauges = [
        (
            "dora_stored_rows",
            "Rows stored, by table.",
            vec![
                ("cloudevents_raw", stats.raw_events),
                ("cdevents_raw", stats.cdevents),
                ("deployments", stats.deployments),
                ("transform_failures", stats.failures),
            ],
        ),
        (
            "dora_stage_lag_events",
            "Events stored but not yet processed, by stage.",
            vec![
                ("router", stats.router_lag),
                (
                    "calculator",
                    stats.last_cdevent_seq - stats.deployments_cursor,
                ),
                ("linker", stats.last_cdevent_seq - stats.links_cursor),
            ],
        ),
    ];
    for (name, help, values) in gauges {
        family(out, name, "gauge", help);
        let label = if name == "dora_stored_rows" {
            "table"
        } else {
            "stage"
        };
        for (value_label, value) in values {
            sample(out, name, &[(label, value_label)], value as f64);
        }
    }
    family(
        out,
        "dora_transform_failures",
        "gauge",
        "Raw events a transformer could not transform, and CDEvents the calculator skipped (GET /api/v1/failures lists them).",
    );
    sample(out, "dora_transform_failures", &[], stats.failures as f64);
}

/// The DORA gauges, from the cache when fresh.
async fn dora_gauges(state: &ApiState) -> Result<Arc<String>, dora_http::Problem> {
    let mut cached = state.gauges.computed.lock().await;
    if let Some((at, text)) = cached.as_ref() {
        if at.elapsed() < DORA_GAUGES_TTL {
            return Ok(Arc::clone(text));
        }
    }
    let to = Utc::now();
    let window = Window {
        from: to - chrono::Duration::days(DORA_GAUGES_WINDOW_DAYS),
        to,
    };
    let config = state.dora.config();
    // Every (service, environment, team) with a production deployment in the window.
    let deployments = state
        .store
        .deployments_between(window.from, window.to)
        .await
        .map_err(crate::store_problem)?;
    let mut counted: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for deployment in deployments.into_iter().filter(|d| {
        config.production_environments.is_empty()
            || config.production_environments.contains(&d.environment)
    }) {
        let team = state
            .dora
            .teams
            .get(&deployment.service)
            .cloned()
            .or(deployment.team);
        let key = (
            deployment.service,
            deployment.environment,
            team.unwrap_or_default(),
        );
        *counted.entry(key).or_default() += 1;
    }
    let (series, omitted) = busiest(counted, MAX_DORA_SERIES);
    let keys_config = crate::dora::keys_config(state);
    let mut reports = Vec::with_capacity(series.len());
    for (service, environment, team) in series {
        let scope = Scope {
            services: Some(vec![service.clone()]),
            environments: Some(vec![environment.clone()]),
            teams: None,
        };
        // Each scope's columns are kept per links version, like any filtered request's.
        let (columns, _) = state
            .keys
            .columns(&state.store, &keys_config, &scope)
            .await
            .map_err(crate::store_problem)?;
        reports.push(([service, environment, team], columns.report(&window)));
    }
    let mut text = write_dora(&reports);
    write_omitted(&mut text, omitted);
    let text = Arc::new(text);
    *cached = Some((Instant::now(), Arc::clone(&text)));
    Ok(text)
}

/// The `most` series with the most deployments (ties in name order), in name order, and how many
/// were left out.
fn busiest(
    counted: BTreeMap<(String, String, String), usize>,
    most: usize,
) -> (BTreeSet<(String, String, String)>, usize) {
    let total = counted.len();
    let mut ranked: Vec<_> = counted.into_iter().collect();
    // Stable: equal counts keep their name order.
    ranked.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
    let kept: BTreeSet<_> = ranked.into_iter().take(most).map(|(key, _)| key).collect();
    let omitted = total - kept.len();
    (kept, omitted)
}

/// `dora_series_omitted`: series past [`MAX_DORA_SERIES`], left out of the DORA gauges.
fn write_omitted(out: &mut String, omitted: usize) {
    family(
        out,
        "dora_series_omitted",
        "gauge",
        "Series (service, environment, team) with production deployments in the window left out of the DORA gauges, which have the 500 with the most.",
    );
    sample(out, "dora_series_omitted", &[], omitted as f64);
}

/// The number Grafana can colour a level by: elite 4, high 3, medium 2, low 1.
fn level_number(level: Level) -> f64 {
    match level {
        Level::Elite => 4.0,
        Level::High => 3.0,
        Level::Medium => 2.0,
        Level::Low => 1.0,
    }
}

fn write_dora(reports: &[([String; 3], DoraReport)]) -> String {
    let mut out = String::new();
    let window = format!("{DORA_GAUGES_WINDOW_DAYS}d");
    for gauge in GAUGES {
        write_gauge(&mut out, &gauge, reports, &window);
    }
    write_levels(&mut out, reports, &window);
    out
}

/// One gauge of the keys: its name, its help and its value in a report (absent: no sample).
struct Gauge {
    name: &'static str,
    help: &'static str,
    value: fn(&DoraReport) -> Option<f64>,
}

/// The gauges of the keys, in the order written.
const GAUGES: [Gauge; 7] = [
    Gauge {
        name: "dora_deployments",
        help: "Production deployments in the window.",
        value: |r| Some(r.keys.deployment_frequency.value as f64),
    },
    Gauge {
        name: "dora_deploy_days_per_week",
        help: "Median over complete ISO weeks of days with a production deployment.",
        value: |r| r.keys.deployment_frequency.deploy_days_per_week,
    },
    Gauge {
        name: "dora_lead_time_seconds",
        help: "Median change lead time (commit to production).",
        value: |r| r.keys.lead_time.value,
    },
    Gauge {
        name: "dora_lead_time_p90_seconds",
        help: "90th percentile change lead time.",
        value: |r| r.keys.lead_time.p90,
    },
    Gauge {
        name: "dora_change_failure_rate",
        help: "Share of production deployments that needed intervention (0 to 1).",
        value: |r| r.keys.change_failure_rate.value,
    },
    Gauge {
        name: "dora_recovery_time_seconds",
        help: "Median failed deployment recovery time.",
        value: |r| r.keys.recovery_time.value,
    },
    Gauge {
        name: "dora_rework_rate",
        help: "Share of production deployments that were unplanned fixes or rollbacks (0 to 1).",
        value: |r| r.keys.rework_rate.value,
    },
];

/// A gauge's family and its sample per series (service, environment, team) that has a value.
fn write_gauge(
    out: &mut String,
    gauge: &Gauge,
    reports: &[([String; 3], DoraReport)],
    window: &str,
) {
    family(
        out,
        gauge.name,
        "gauge",
        &format!(
            "{} Over the last {window}; per service, environment and team.",
            gauge.help
        ),
    );
    for (series, report) in reports {
        if let Some(value) = (gauge.value)(report) {
            series_sample(out, gauge.name, series, window, None, value);
        }
    }
}

/// `dora_level`: per series, the level of each key that has one, as [`level_number`].
fn write_levels(out: &mut String, reports: &[([String; 3], DoraReport)], window: &str) {
    family(
        out,
        "dora_level",
        "gauge",
        "DORA performance level per key: elite 4, high 3, medium 2, low 1 (absent: no sample).",
    );
    for (series, report) in reports {
        let keys = &report.keys;
        let levels = [
            ("deployment_frequency", keys.deployment_frequency.level),
            ("lead_time", keys.lead_time.level),
            ("change_failure_rate", keys.change_failure_rate.level),
            ("recovery_time", keys.recovery_time.level),
            ("rework_rate", keys.rework_rate.level),
        ];
        for (key, level) in levels {
            if let Some(level) = level {
                series_sample(
                    out,
                    "dora_level",
                    series,
                    window,
                    Some(key),
                    level_number(level),
                );
            }
        }
    }
}

/// One sample of a series (service, environment, team) over the window, naming its `key`
/// for levels.
fn series_sample(
    out: &mut String,
    name: &str,
    [service, environment, team]: &[String; 3],
    window: &str,
    key: Option<&str>,
    value: f64,
) {
    let mut labels = vec![
        ("service", service.as_str()),
        ("environment", environment.as_str()),
        ("team", team.as_str()),
        ("window", window),
    ];
    labels.extend(key.map(|key| ("key", key)));
    sample(out, name, &labels, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busiest_series_are_kept_and_the_rest_counted() {
        let key = |name: &str| (name.to_owned(), "production".to_owned(), String::new());
        let counted = BTreeMap::from([
            (key("a"), 1),
            (key("b"), 5),
            (key("c"), 2),
            (key("d"), 5),
            (key("e"), 2),
        ]);
        let (kept, omitted) = busiest(counted, 3);
        // b and d (5 each), then c before e (2 each, name order).
        assert_eq!(kept, BTreeSet::from([key("b"), key("c"), key("d")]));
        assert_eq!(omitted, 2);
        let (all, none) = busiest(BTreeMap::from([(key("a"), 1)]), MAX_DORA_SERIES);
        assert_eq!((all.len(), none), (1, 0));
    }
}
