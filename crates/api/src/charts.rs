//! Trend charts for the dashboard, drawn on the server as SVG with `plotters`:
//! `GET /api/v1/charts/{key}.svg` takes the parameters of `GET /api/v1/metrics/{key}` and draws
//! the same series (bars for deployment counts, a line for the others, gaps where a bucket has
//! no sample).

use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use dora_http::Problem;
use dora_metrics::dora::{Key, KeySeriesPoint};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::dora::{compute_series, DoraParams, SeriesAnswer};
use crate::ApiState;

// Drawn at about the size the dashboard shows them, so the text stays readable.
const WIDTH: u32 = 420;
const HEIGHT: u32 = 220;
const BAR_COLOUR: RGBColor = RGBColor(59, 110, 165);
const LINE_COLOUR: RGBColor = RGBColor(196, 92, 38);

/// One DORA key per bucket of the window, drawn as an SVG chart.
#[utoipa::path(
    get,
    path = "/api/v1/charts/{file}",
    tag = "metrics",
    params(
        ("file" = inline(crate::params::ChartFile), Path, description = "{key}.svg, key as in /api/v1/metrics/{key}"),
        DoraParams,
        ("bucket" = inline(Option<crate::params::BucketName>), Query, description = "day, week (default), month or year; at most 1000 buckets in the window")
    ),
    responses(
        (status = 200, description = "The series as an SVG chart", content_type = "image/svg+xml"),
        (status = 404, description = "Unknown chart or key", body = dora_http::ProblemDetails, content_type = "application/problem+json"),
        crate::params::QueryErrors
    )
)]
pub async fn chart(
    State(state): State<ApiState>,
    Path(file): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Problem> {
    let key = file.strip_suffix(".svg").ok_or_else(|| {
        let detail = format!("{file:?} is not a chart; charts are named {{key}}.svg");
        Problem::unknown("unknown-chart", "Unknown chart", "key", detail)
    })?;
    let answer = compute_series(&state, key, raw.as_deref()).await?;
    let svg = draw(&answer).map_err(|error| Problem::internal(&error))?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        svg,
    )
        .into_response())
}

/// How a key's values are shown: the unit on the axis and the factor from the stored unit.
fn scale(key: Key, series: &[KeySeriesPoint]) -> (&'static str, f64) {
    match key {
        Key::DeploymentFrequency => ("deployments", 1.0),
        Key::ChangeFailureRate | Key::ReworkRate => ("percent", 100.0),
        Key::LeadTime | Key::RecoveryTime => {
            let longest = series
                .iter()
                .filter_map(|point| point.value.value())
                .fold(0.0, f64::max);
            if longest >= 2.0 * 86_400.0 {
                ("days", 1.0 / 86_400.0)
            } else {
                ("hours", 1.0 / 3_600.0)
            }
        }
    }
}

fn title(key: Key) -> &'static str {
    match key {
        Key::DeploymentFrequency => "Deployments",
        Key::LeadTime => "Change lead time (median)",
        Key::ChangeFailureRate => "Change failure rate",
        Key::RecoveryTime => "Failed deployment recovery time (median)",
        Key::ReworkRate => "Rework rate",
    }
}

/// The chart's drawing context: buckets on x (one per unit, from 0), values on y.
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Draws the series; the error is plotters' own, as text.
fn draw(answer: &SeriesAnswer) -> Result<String, String> {
    let (unit, factor) = scale(answer.key, &answer.series);
    let values: Vec<Option<f64>> = answer
        .series
        .iter()
        .map(|point| point.value.value().map(|v| v * factor))
        .collect();
    let labels: Vec<String> = answer
        .series
        .iter()
        .map(|point| point.bucket_start.format("%Y-%m-%d").to_string())
        .collect();
    let top = values.iter().flatten().fold(0.0_f64, |a, b| a.max(*b));
    let top = if top > 0.0 { top * 1.15 } else { 1.0 };
    let count = values.len().max(1);

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("{} per {}", title(answer.key), answer.bucket.as_str()),
                ("sans-serif", 16),
            )
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(48)
            .build_cartesian_2d(-0.5..(count as f64 - 0.5), 0.0..top)
            .map_err(|e| e.to_string())?;
        let label_at = |x: &f64| {
            let index = x.round();
            if (x - index).abs() < 1e-6 && index >= 0.0 {
                labels.get(index as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(count.min(5))
            .x_label_formatter(&label_at)
            .y_desc(unit)
            .label_style(("sans-serif", 13))
            .y_labels(5)
            .draw()
            .map_err(|e| e.to_string())?;
        if answer.key == Key::DeploymentFrequency {
            draw_bars(&mut chart, &values)?;
        } else {
            draw_lines(&mut chart, &values)?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// One bar per bucket with a count above zero.
fn draw_bars(chart: &mut Chart<'_, '_>, values: &[Option<f64>]) -> Result<(), String> {
    chart
        .draw_series(values.iter().enumerate().filter_map(|(i, value)| {
            let x = i as f64;
            value
                .filter(|v| *v > 0.0)
                .map(|v| Rectangle::new([(x - 0.35, 0.0), (x + 0.35, v)], BAR_COLOUR.filled()))
        }))
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// One line, with a dot per point, per run of buckets with a sample; a bucket without one
/// leaves a gap.
fn draw_lines(chart: &mut Chart<'_, '_>, values: &[Option<f64>]) -> Result<(), String> {
    for run in &runs(values) {
        chart
            .draw_series(LineSeries::new(
                run.iter().copied(),
                LINE_COLOUR.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(
                run.iter()
                    .map(|point| Circle::new(*point, 3, LINE_COLOUR.filled())),
            )
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The runs of consecutive buckets with a value, as (bucket, value) points.
fn runs(values: &[Option<f64>]) -> Vec<Vec<(f64, f64)>> {
    let mut run: Vec<(f64, f64)> = Vec::new();
    let mut runs = Vec::new();
    for (i, value) in values.iter().enumerate() {
        match value {
            Some(v) => run.push((i as f64, *v)),
            None if !run.is_empty() => runs.push(std::mem::take(&mut run)),
            None => {}
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}
