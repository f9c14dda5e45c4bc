//! What this process has served: requests per route with their latency, events ingested and
//! duplicates, and problems answered per kind. Kept in memory (since the process started) and
//! exposed by `GET /metrics` in the Prometheus text format and by `GET /api/v1/pipeline`.
//!
//! Handlers report through response extensions ([`IngestOutcome`], and every [`crate::Problem`]
//! carries its [`ProblemKind`]); [`record`] is the middleware that reads them, so the endpoint
//! crates know nothing of Prometheus.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;

/// Upper bounds (seconds) of the request latency histogram's buckets.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Set on an ingest response: how many events it stored and how many were duplicates.
#[derive(Debug, Clone, Copy)]
pub struct IngestOutcome {
    pub accepted: usize,
    pub duplicates: usize,
}

/// Set on every problem response: its kind (the last part of its type URN).
#[derive(Debug, Clone)]
pub struct ProblemKind(pub String);

#[derive(Debug, Default)]
struct Histogram {
    /// Counts per bucket of [`LATENCY_BUCKETS`] (not cumulative), then the overflow.
    counts: [u64; LATENCY_BUCKETS.len() + 1],
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        let index = LATENCY_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.counts[index] += 1;
        self.sum += seconds;
    }
}

#[derive(Debug, Default)]
struct Counts {
    /// By (method, route, status class).
    requests: BTreeMap<(String, String, u16), Histogram>,
    /// By route: events stored, duplicates.
    ingested: BTreeMap<String, (u64, u64)>,
    /// By (route, problem kind).
    problems: BTreeMap<(String, String), u64>,
}

/// The counters of one process.
#[derive(Debug, Default)]
pub struct Telemetry {
    counts: Mutex<Counts>,
    /// The server's connections (written by its accept loop).
    pub connections: crate::connections::ConnectionCounters,
}

/// Ingest totals since the process started, for `GET /api/v1/pipeline`.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct IngestTotals {
    /// Events stored.
    pub received: u64,
    /// Events acknowledged as already stored.
    pub duplicates: u64,
    /// Ingest requests refused, by problem kind (`invalid-cloudevent`, `payload-too-large`, ...).
    pub rejected: BTreeMap<String, u64>,
}

/// The routes that ingest events.
fn is_ingest_route(route: &str) -> bool {
    matches!(route, "/events" | "/" | "/cdevents" | "/webhooks/{tool}")
}

impl Telemetry {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        // Counters stay usable after a panic elsewhere: they are plain numbers.
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records one request.
    pub fn observe(
        &self,
        method: &str,
        route: &str,
        status: u16,
        seconds: f64,
        ingested: Option<IngestOutcome>,
        problem: Option<&str>,
    ) {
        let mut counts = self.counts();
        counts
            .requests
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default()
            .observe(seconds);
        if let Some(outcome) = ingested {
            let entry = counts.ingested.entry(route.to_owned()).or_default();
            entry.0 += outcome.accepted as u64;
            entry.1 += outcome.duplicates as u64;
        }
        if let Some(kind) = problem {
            *counts
                .problems
                .entry((route.to_owned(), kind.to_owned()))
                .or_default() += 1;
        }
    }

    /// Events stored, duplicates and refusals by the ingest routes of this process.
    pub fn ingest_totals(&self) -> IngestTotals {
        let counts = self.counts();
        let mut totals = IngestTotals::default();
        for (stored, duplicates) in counts.ingested.values() {
            totals.received += stored;
            totals.duplicates += duplicates;
        }
        for ((route, kind), n) in &counts.problems {
            if is_ingest_route(route) {
                *totals.rejected.entry(kind.clone()).or_default() += n;
            }
        }
        totals
    }

    /// Appends this process's counters in the Prometheus text format.
    pub fn write_prometheus(&self, out: &mut String) {
        self.connections.write_prometheus(out);
        let counts = self.counts();
        counts.write_requests(out);
        counts.write_ingested(out);
        counts.write_problems(out);
    }
}

impl Counts {
    /// `dora_http_request_duration_seconds`: one histogram per method, route and status.
    fn write_requests(&self, out: &mut String) {
        family(
            out,
            "dora_http_request_duration_seconds",
            "histogram",
            "HTTP requests served, by method, route and status, with their latency.",
        );
        for ((method, route, status), histogram) in &self.requests {
            let labels = [
                ("method", method.as_str()),
                ("route", route.as_str()),
                ("status", &status.to_string()),
            ];
            histogram.write(out, "dora_http_request_duration_seconds", &labels);
        }
    }

    /// `dora_events_received_total` and `dora_events_duplicate_total`, by route.
    fn write_ingested(&self, out: &mut String) {
        family(
            out,
            "dora_events_received_total",
            "counter",
            "Events stored by ingest, by route.",
        );
        for (route, (stored, _)) in &self.ingested {
            sample(
                out,
                "dora_events_received_total",
                &[("route", route)],
                *stored as f64,
            );
        }
        family(
            out,
            "dora_events_duplicate_total",
            "counter",
            "Events acknowledged as already stored (same source and id), by route.",
        );
        for (route, (_, duplicates)) in &self.ingested {
            sample(
                out,
                "dora_events_duplicate_total",
                &[("route", route)],
                *duplicates as f64,
            );
        }
    }

    /// The problems answered: `dora_events_rejected_total` for the ingest routes,
    /// `dora_http_problems_total` for the others.
    fn write_problems(&self, out: &mut String) {
        family(
            out,
            "dora_events_rejected_total",
            "counter",
            "Ingest requests refused, by route and reason (the problem kind).",
        );
        family(
            out,
            "dora_http_problems_total",
            "counter",
            "Problem responses of other routes, by route and kind.",
        );
        let (ingest, other): (Vec<_>, Vec<_>) = self
            .problems
            .iter()
            .partition(|((route, _), _)| is_ingest_route(route));
        for ((route, kind), n) in ingest {
            sample(
                out,
                "dora_events_rejected_total",
                &[("route", route), ("reason", kind)],
                *n as f64,
            );
        }
        for ((route, kind), n) in other {
            sample(
                out,
                "dora_http_problems_total",
                &[("route", route), ("kind", kind)],
                *n as f64,
            );
        }
    }
}

impl Histogram {
    /// The `_bucket` (cumulative, then `+Inf`), `_sum` and `_count` samples of `name`.
    fn write(&self, out: &mut String, name: &str, labels: &[(&str, &str)]) {
        let bucket = format!("{name}_bucket");
        let mut cumulative = 0;
        for (index, bound) in LATENCY_BUCKETS.iter().enumerate() {
            cumulative += self.counts[index];
            sample_with(
                out,
                &bucket,
                labels,
                ("le", &bound.to_string()),
                cumulative as f64,
            );
        }
        cumulative += self.counts[LATENCY_BUCKETS.len()];
        sample_with(out, &bucket, labels, ("le", "+Inf"), cumulative as f64);
        sample(out, &format!("{name}_sum"), labels, self.sum);
        sample(out, &format!("{name}_count"), labels, cumulative as f64);
    }
}

/// Writes a metric family's `# HELP` and `# TYPE` lines.
pub fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Writes one sample line.
pub fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    write_sample(out, name, labels, None, value);
}

fn sample_with(
    out: &mut String,
    name: &str,
    labels: &[(&str, &str)],
    extra: (&str, &str),
    value: f64,
) {
    write_sample(out, name, labels, Some(extra), value);
}

fn write_sample(
    out: &mut String,
    name: &str,
    labels: &[(&str, &str)],
    extra: Option<(&str, &str)>,
    value: f64,
) {
    out.push_str(name);
    let mut all = labels.iter().copied().chain(extra).peekable();
    if all.peek().is_some() {
        out.push('{');
        for (index, (key, value)) in all.enumerate() {
            if index > 0 {
                out.push(',');
            }
            out.push_str(key);
            out.push_str("=\"");
            for c in value.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '"' => out.push_str("\\\""),
                    '\n' => out.push_str("\\n"),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        out.push('}');
    }
    let _ = if value.is_nan() {
        writeln!(out, " NaN")
    } else if value.is_infinite() {
        writeln!(out, " {}Inf", if value > 0.0 { "+" } else { "-" })
    } else {
        writeln!(out, " {value}")
    };
}

/// The middleware: times every request and records what its response says.
pub async fn record(
    State(telemetry): State<Arc<Telemetry>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    // The route pattern, not the path: one series per route, whatever the ids in URLs.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let response = next.run(request).await;
    telemetry.observe(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
        response.extensions().get::<IngestOutcome>().copied(),
        response
            .extensions()
            .get::<ProblemKind>()
            .map(|kind| kind.0.as_str()),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_labels_escaped() {
        let telemetry = Telemetry::default();
        telemetry.observe("GET", "/a\"b", 200, 0.003, None, None);
        telemetry.observe("GET", "/a\"b", 200, 20.0, None, None);
        telemetry.observe(
            "POST",
            "/events",
            202,
            0.0005,
            Some(IngestOutcome {
                accepted: 3,
                duplicates: 1,
            }),
            None,
        );
        telemetry.observe(
            "POST",
            "/events",
            400,
            0.0005,
            None,
            Some("invalid-cloudevent"),
        );
        telemetry.observe(
            "GET",
            "/api/v1/dora",
            400,
            0.0005,
            None,
            Some("unknown-parameter"),
        );
        let mut out = String::new();
        telemetry.write_prometheus(&mut out);
        let series = "method=\"GET\",route=\"/a\\\"b\",status=\"200\"";
        assert!(
            out.contains(&format!(
                "dora_http_request_duration_seconds_bucket{{{series},le=\"0.0025\"}} 0\n"
            )),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "dora_http_request_duration_seconds_bucket{{{series},le=\"0.005\"}} 1\n"
            )),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "dora_http_request_duration_seconds_bucket{{{series},le=\"10\"}} 1\n"
            )),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "dora_http_request_duration_seconds_bucket{{{series},le=\"+Inf\"}} 2\n"
            )),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "dora_http_request_duration_seconds_count{{{series}}} 2\n"
            )),
            "{out}"
        );
        assert!(
            out.contains("dora_events_received_total{route=\"/events\"} 3\n"),
            "{out}"
        );
        assert!(
            out.contains("dora_events_duplicate_total{route=\"/events\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains(
                "dora_events_rejected_total{route=\"/events\",reason=\"invalid-cloudevent\"} 1\n"
            ),
            "{out}"
        );
        assert!(
            out.contains(
                "dora_http_problems_total{route=\"/api/v1/dora\",kind=\"unknown-parameter\"} 1\n"
            ),
            "{out}"
        );
        let totals = telemetry.ingest_totals();
        assert_eq!(totals.received, 3);
        assert_eq!(totals.duplicates, 1);
        assert_eq!(
            totals.rejected,
            BTreeMap::from([("invalid-cloudevent".to_owned(), 1)]),
            "problems of query routes are not ingest rejections"
        );
    }
}
