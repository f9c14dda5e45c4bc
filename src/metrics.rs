//! `dora-events metrics`: the five DORA keys as a terminal table, or the API's JSON.
//!
//! Two ways to the same numbers: ask a server (`GET /api/v1/dora`), or open the database and run
//! the function the server runs for that route (`dora_api::dora::keys_for`) in-process, so the
//! checks of the parameters, the facts loaded and the computation cannot drift apart.
//!
//! ```text
//! dora-events metrics --url http://localhost:8080 --service checkout --from 2024-01-01
//! dora-events metrics --database-url sqlite://dora-events.db --team payments --json
//! ```

use std::fmt::Write as _;

use anyhow::{bail, Context};
use dora_api::dora::DoraSettings;
use dora_metrics::dora::levels::RateThresholds;
use dora_metrics::dora::{
    DeploymentFrequency, DoraKeys, DoraReport, LeadTime, Level, RecoveryTime,
};
use serde_json::Value;

/// What to compute the keys over: the API's query parameters, as values.
pub use dora_api::dora::KeysRequest as KeysQuery;

/// The `GET /api/v1/dora` answer of the server at `base` (e.g. `http://localhost:8080`), asked
/// with the read `token` when one is given.
pub async fn from_server(
    base: &str,
    token: Option<&str>,
    query: &KeysQuery,
) -> anyhow::Result<Value> {
    let url = format!(
        "{}/api/v1/dora?{}",
        base.trim_end_matches('/'),
        query.to_query_string()
    );
    let response = crate::client::client(reqwest::Client::builder(), token)?
        .get(&url)
        .send()
        .await
        .with_context(|| format!("Failed to reach {base}"))?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .with_context(|| format!("{url} did not answer JSON ({status})"))?;
    if !status.is_success() {
        bail!(
            "the server refused the query ({status}): {}",
            body["detail"].as_str().unwrap_or("no detail")
        );
    }
    Ok(body)
}

/// The same answer computed in-process on `store`, by the function the API's route runs, after
/// linking
/// whatever facts the calculator has not linked yet (all of them when the links were made under
/// another configuration).
pub async fn from_store(
    store: dora_store::Store,
    dora: &DoraSettings,
    query: &KeysQuery,
) -> anyhow::Result<Value> {
    dora_metrics::linker::Linker::new(store.clone(), dora.config(), 1000)
        .run_until_idle()
        .await
        .context("Failed to link the facts")?;
    let state = dora_api::ApiState::new(
        store,
        dora.clone(),
        dora_http::telemetry::Telemetry::new(),
        dora_api::Serves {
            ingest: false,
            queries: true,
        },
    );
    dora_api::dora::keys_for(&state, query)
        .await
        .map_err(|problem| anyhow::anyhow!("{}", problem.detail))
}

/// The report as a terminal table: one line per key with value, level, sample and thresholds,
/// under the window and filters.
pub fn render(body: &Value) -> anyhow::Result<String> {
    let report: DoraReport = serde_json::from_value(body.clone())
        .context("the answer is not a DORA report (is the server a dora-events?)")?;
    let keys = &report.keys;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "DORA keys from {} to {} (UTC)",
        report.window.from.format("%Y-%m-%d %H:%M"),
        report.window.to.format("%Y-%m-%d %H:%M")
    );
    let _ = writeln!(out, "{}", describe_filters(&body["filters"]));
    let _ = writeln!(out);
    out.push_str(&table(&key_rows(keys)));
    let failure = &keys.change_failure_rate;
    if failure.unattributed_incidents > 0 {
        let _ = writeln!(
            out,
            "\n{} incident(s) in the window could not be attributed to a deployment.",
            failure.unattributed_incidents
        );
    }
    Ok(out)
}

/// One line of the table: key, value, level, sample, thresholds.
type Row = [String; 5];

/// The header of the table.
const HEADER: [&str; 5] = ["key", "value", "level", "sample", "thresholds"];

fn key_rows(keys: &DoraKeys) -> [Row; 5] {
    let (failure, rework) = (&keys.change_failure_rate, &keys.rework_rate);
    [
        frequency_row(&keys.deployment_frequency),
        lead_time_row(&keys.lead_time),
        rate_row(
            "change failure rate",
            failure.value,
            [failure.failed_deployments, failure.sample_size],
            failure.level,
            Some(&failure.thresholds),
        ),
        recovery_row(&keys.recovery_time),
        rate_row(
            "deployment rework rate",
            rework.value,
            [rework.rework_deployments, rework.sample_size],
            rework.level,
            rework.thresholds.as_ref(),
        ),
    ]
}

fn frequency_row(frequency: &DeploymentFrequency) -> Row {
    let per_week = match frequency.deploy_days_per_week {
        Some(days) => format!(", {days:.1} deploy days/week"),
        None => String::new(),
    };
    [
        "deployment frequency".to_owned(),
        format!("{}{per_week}", plural(frequency.value, "deployment")),
        level_text(frequency.level),
        format!("{} weeks", frequency.complete_weeks),
        format!(
            "elite >= {}, high >= {}, medium >= {:.2} deploy days/week",
            frequency.thresholds.elite_at_least,
            frequency.thresholds.high_at_least,
            frequency.thresholds.medium_at_least
        ),
    ]
}

fn lead_time_row(lead: &LeadTime) -> Row {
    [
        "change lead time".to_owned(),
        match (lead.value, lead.p90) {
            (Some(median), Some(p90)) => {
                format!("{} (p90 {})", duration(median), duration(p90))
            }
            (Some(median), None) => duration(median),
            _ => "-".to_owned(),
        },
        level_text(lead.level),
        plural(lead.sample_size, "change"),
        duration_thresholds(&lead.thresholds),
    ]
}

fn recovery_row(recovery: &RecoveryTime) -> Row {
    [
        "failed deployment recovery".to_owned(),
        match recovery.value {
            Some(median) if recovery.open > 0 => {
                format!("{} ({} still open)", duration(median), recovery.open)
            }
            Some(median) => duration(median),
            None if recovery.open > 0 => format!("- ({} still open)", recovery.open),
            None => "-".to_owned(),
        },
        level_text(recovery.level),
        plural(recovery.sample_size, "recovery"),
        duration_thresholds(&recovery.thresholds),
    ]
}

/// A rate's row: the rate with what it counts (`12.5 % (1 of 8)`, or `-` without a sample).
fn rate_row(
    key: &str,
    rate: Option<f64>,
    [counted, sample_size]: [u64; 2],
    level: Option<Level>,
    thresholds: Option<&RateThresholds>,
) -> Row {
    [
        key.to_owned(),
        match rate {
            Some(rate) => format!("{} ({counted} of {sample_size})", percent(rate)),
            None => "-".to_owned(),
        },
        level_text(level),
        plural(sample_size, "deployment"),
        rate_thresholds(thresholds),
    ]
}

/// The header and `rows` in columns as wide as their widest cell, two spaces apart, one line each.
fn table(rows: &[Row]) -> String {
    let mut widths = HEADER.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut text = String::new();
        for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                let _ = write!(text, "{cell:<width$}  ");
            }
        }
        text.trim_end().to_owned()
    };
    let mut out = String::new();
    let _ = writeln!(out, "{}", line(&HEADER.map(str::to_owned)));
    for row in rows {
        let _ = writeln!(out, "{}", line(row));
    }
    out
}

fn describe_filters(filters: &Value) -> String {
    let list = |name: &str| -> Vec<String> {
        filters[name]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut parts = Vec::new();
    for name in ["service", "environment", "team"] {
        let values = list(name);
        if !values.is_empty() {
            parts.push(format!("{name} {}", values.join(" or ")));
        }
    }
    let scope = if parts.is_empty() {
        "all services, environments and teams".to_owned()
    } else {
        parts.join(", ")
    };
    let production = list("production_environments");
    let production = if production.is_empty() {
        "every environment counts as production".to_owned()
    } else {
        format!("production = {}", production.join(", "))
    };
    format!("filters: {scope}; {production}")
}

fn level_text(level: Option<Level>) -> String {
    match level {
        Some(Level::Elite) => "elite",
        Some(Level::High) => "high",
        Some(Level::Medium) => "medium",
        Some(Level::Low) => "low",
        None => "-",
    }
    .to_owned()
}

fn plural(count: u64, noun: &str) -> String {
    match (count, noun) {
        (1, _) => format!("1 {noun}"),
        (_, "recovery") => format!("{count} recoveries"),
        _ => format!("{count} {noun}s"),
    }
}

fn percent(ratio: f64) -> String {
    format!("{:.1} %", ratio * 100.0)
}

/// Seconds as a short human duration: `42s`, `38m`, `5h 12m`, `3d 4h`.
pub fn duration(seconds: f64) -> String {
    let total = seconds.round().max(0.0) as u64;
    let (days, hours, minutes) = (total / 86_400, total % 86_400 / 3600, total % 3600 / 60);
    match total {
        0..60 => format!("{total}s"),
        60..3600 => format!("{minutes}m"),
        3600..86_400 if minutes == 0 => format!("{hours}h"),
        3600..86_400 => format!("{hours}h {minutes:02}m"),
        _ if hours == 0 => format!("{days}d"),
        _ => format!("{days}d {hours}h"),
    }
}

fn duration_thresholds(thresholds: &dora_metrics::dora::levels::DurationThresholds) -> String {
    format!(
        "elite < {}, high < {}, medium < {}",
        duration(thresholds.elite_below_seconds),
        duration(thresholds.high_below_seconds),
        duration(thresholds.medium_below_seconds)
    )
}

fn rate_thresholds(thresholds: Option<&RateThresholds>) -> String {
    match thresholds {
        Some(t) => format!(
            "elite <= {}, high <= {}, medium <= {}",
            percent(t.elite_at_most),
            percent(t.high_at_most),
            percent(t.medium_at_most)
        ),
        None => "none configured (DORA publishes no levels)".to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_repeat_filters_and_encode_values() {
        let query = KeysQuery {
            services: vec!["web".into(), "a b&c".into()],
            environments: vec!["production".into()],
            teams: vec![],
            from: Some("2024-01-01T00:00:00+01:00".into()),
            to: None,
        };
        assert_eq!(
            query.to_query_string(),
            "service=web&service=a%20b%26c&environment=production&from=2024-01-01T00%3A00%3A00%2B01%3A00"
        );
    }

    #[test]
    fn durations_read_like_a_person_would_say_them() {
        assert_eq!(duration(42.0), "42s");
        assert_eq!(duration(38.0 * 60.0 + 10.0), "38m");
        assert_eq!(duration(5.0 * 3600.0 + 12.0 * 60.0), "5h 12m");
        assert_eq!(duration(3.0 * 86_400.0 + 4.0 * 3600.0), "3d 4h");
        assert_eq!(duration(86_400.0), "1d");
        assert_eq!(duration(3600.0), "1h");
    }
}
