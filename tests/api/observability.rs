//! Observability: `GET /metrics` in the Prometheus text format and the ingest totals of
//! `GET /api/v1/pipeline`.

use std::collections::HashSet;

use serde_json::json;

use crate::helpers::{cloudevent, spawn_with, storefront_settings, Backend, TestApp};

/// Checks the exposition format line by line: every sample belongs to a family declared by a
/// `# TYPE` line before it, labels are quoted, values are numbers. Returns the sample lines.
fn parse_exposition(text: &str) -> Vec<String> {
    let mut declared = HashSet::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(declared.insert(name.to_owned()), "declared twice: {line}");
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        assert!(
            !line.is_empty() && !line.starts_with('#'),
            "stray line {line:?}"
        );
        let (series, value) = line.rsplit_once(' ').expect("series value");
        assert!(
            value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value),
            "{line}"
        );
        let name = series.split('{').next().unwrap();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix).filter(|f| declared.contains(*f)))
            .unwrap_or(name);
        assert!(declared.contains(family), "sample before its TYPE: {line}");
        if let Some(labels) = series.strip_prefix(name) {
            if !labels.is_empty() {
                assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
                assert!(labels.matches('"').count() % 2 == 0, "{line}");
            }
        }
        samples.push(line.to_owned());
    }
    samples
}

async fn scrape(app: &TestApp) -> Vec<String> {
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    parse_exposition(&response.text().await.unwrap())
}

fn has(samples: &[String], line: &str) -> bool {
    samples.iter().any(|s| s == line)
}

async fn metrics_count_ingest_and_report_the_keys_per_service(backend: Backend) {
    let db = backend.fresh_database().await;
    let app = spawn_with(storefront_settings(&db), db).await;

    // Two new events, one duplicate, one refused.
    let batch = json!([cloudevent("a"), cloudevent("b")]);
    assert_eq!(app.post_batch("/events", &batch).await.status(), 202);
    assert_eq!(
        app.post_structured("/events", &cloudevent("a"))
            .await
            .status(),
        202
    );
    let mut bad = cloudevent("c");
    bad["time"] = json!("yesterday");
    assert_eq!(app.post_structured("/events", &bad).await.status(), 400);
    // A production deployment yesterday (inside the gauges' 30 days) and one to staging.
    let yesterday = chrono::Utc::now() - chrono::Duration::days(1);
    let at = yesterday.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let deployed = |id: &str, environment: &str| {
        json!({
            "context": {"specversion": "0.5.1", "id": id, "source": "/ci",
                        "type": "dev.cdevents.service.deployed.0.3.0", "timestamp": at},
            "subject": {"id": "web", "source": "/ci",
                        "content": {"environment": {"id": environment}, "artifactId": "pkg:oci/web@sha256:1"}}
        })
    };
    let response = app
        .post_json(
            "/cdevents",
            &json!([deployed("d1", "production"), deployed("d2", "staging")]),
        )
        .await;
    assert_eq!(response.status(), 202);
    let state = app.wait_until_processed().await;
    assert_eq!(
        state["ingest"],
        json!({"received": 4, "duplicates": 1, "rejected": {"invalid-cloudevent": 1}}),
        "{state}"
    );

    let samples = scrape(&app).await;
    assert!(
        has(&samples, "dora_events_received_total{route=\"/events\"} 2"),
        "{samples:#?}"
    );
    assert!(
        has(
            &samples,
            "dora_events_received_total{route=\"/cdevents\"} 2"
        ),
        "{samples:#?}"
    );
    assert!(
        has(&samples, "dora_events_duplicate_total{route=\"/events\"} 1"),
        "{samples:#?}"
    );
    assert!(
        has(
            &samples,
            "dora_events_rejected_total{route=\"/events\",reason=\"invalid-cloudevent\"} 1"
        ),
        "{samples:#?}"
    );
    assert!(
        has(
            &samples,
            "dora_http_request_duration_seconds_count{method=\"POST\",route=\"/events\",status=\"202\"} 2"
        ),
        "{samples:#?}"
    );
    assert!(has(&samples, "dora_store_up 1"), "{samples:#?}");
    assert!(
        has(&samples, "dora_stored_rows{table=\"cloudevents_raw\"} 4"),
        "{samples:#?}"
    );
    assert!(
        has(&samples, "dora_stage_lag_events{stage=\"router\"} 0"),
        "{samples:#?}"
    );
    assert!(has(&samples, "dora_series_omitted 0"), "{samples:#?}");
    let labels = "service=\"web\",environment=\"production\",team=\"storefront\",window=\"30d\"";
    assert!(
        has(&samples, &format!("dora_deployments{{{labels}}} 1")),
        "{samples:#?}"
    );
    assert!(
        has(&samples, &format!("dora_change_failure_rate{{{labels}}} 0")),
        "{samples:#?}"
    );
    assert!(
        has(
            &samples,
            &format!("dora_level{{{labels},key=\"change_failure_rate\"}} 4")
        ),
        "elite: {samples:#?}"
    );
    assert!(
        !samples
            .iter()
            .any(|s| s.contains("environment=\"staging\"")),
        "staging is not production: {samples:#?}"
    );
    // No change reached production: no lead time series rather than a made-up zero.
    assert!(
        !samples
            .iter()
            .any(|s| s.starts_with("dora_lead_time_seconds{")),
        "{samples:#?}"
    );
}

backend_tests!(metrics_count_ingest_and_report_the_keys_per_service,);
