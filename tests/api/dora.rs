//! The five keys through the HTTP API, on a hand-computed scenario posted as CDEvents.

use serde_json::{json, Value};

use std::time::Duration;

use crate::helpers::{
    poll_until, spawn_configured, spawn_with, storefront_settings, Backend, TestApp,
};

fn cdevent(kind: &str, id: &str, subject: &str, at: &str, content: Value, dora: Value) -> Value {
    // service.deployed, change.merged and incident.* are all at 0.3.0 in CDEvents v0.5.1.
    json!({
        "context": {"specversion": "0.5.1", "id": id, "source": "/scenario",
                    "type": format!("dev.cdevents.{kind}.0.3.0"), "timestamp": at},
        "subject": {"id": subject, "source": "/scenario", "content": content},
        "customData": {"dora": dora}
    })
}

fn deployed(id: &str, env: &str, at: &str, revision: &str) -> Value {
    cdevent(
        "service.deployed",
        id,
        "web",
        at,
        json!({"environment": {"id": env}, "artifactId": format!("pkg:oci/web@{revision}")}),
        json!({"revision": revision}),
    )
}

fn merged(id: &str, created: &str, merged_at: &str, sha: &str) -> Value {
    cdevent(
        "change.merged",
        id,
        id,
        merged_at,
        json!({"repository": {"id": "acme/web"}}),
        json!({"mergeSha": sha, "createdAt": created, "mergedAt": merged_at}),
    )
}

/// Window 2024-01-01 (a Monday) to 2024-01-15: two complete ISO weeks.
///
/// - C1 created 01-01 08:00, merged as aaa; D1 deploys aaa to production 01-01 12:00: lead 4 h.
/// - C2 created 01-02 00:00, merged as bbb; D2 deploys bbb 01-02 12:00: lead 12 h.
/// - I1 (web, production) detected 01-02 13:00, resolved 15:00: blamed on D2 (latest before it);
///   recovery 2 h.
/// - D3 production 01-03 12:00 (incident already resolved: not rework); D4 to staging, not counted.
///
/// Expected: 3 deployments; deploy days per week = median(3, 0) = 1.5 (high); lead time median
/// (14400 + 43200) / 2 = 28800 s (elite), p90 = 43200; change failure rate 1/3 (low); recovery
/// 7200 s (high); rework 0/3.
fn scenario() -> Vec<Value> {
    vec![
        merged(
            "acme/web#1",
            "2024-01-01T08:00:00Z",
            "2024-01-01T10:00:00Z",
            "aaa",
        ),
        deployed("d1", "production", "2024-01-01T12:00:00Z", "aaa"),
        merged(
            "acme/web#2",
            "2024-01-02T00:00:00Z",
            "2024-01-02T06:00:00Z",
            "bbb",
        ),
        deployed("d2", "production", "2024-01-02T12:00:00Z", "bbb"),
        cdevent(
            "incident.detected",
            "i1-detected",
            "inc-1",
            "2024-01-02T13:00:00Z",
            json!({"environment": {"id": "production"}, "service": {"id": "web"}}),
            json!({}),
        ),
        cdevent(
            "incident.resolved",
            "i1-resolved",
            "inc-1",
            "2024-01-02T15:00:00Z",
            json!({"environment": {"id": "production"}, "service": {"id": "web"}}),
            json!({}),
        ),
        deployed("d3", "production", "2024-01-03T12:00:00Z", "ccc"),
        deployed("d4", "staging", "2024-01-03T09:00:00Z", "ccc"),
    ]
}

/// The keys over the scenario's two weeks.
const SCENARIO_KEYS: &str = "/api/v1/dora?from=2024-01-01&to=2024-01-14";

/// A production deployment of web after the scenario's, in its window.
fn later_deployment() -> Value {
    deployed("d5", "production", "2024-01-04T12:00:00Z", "ddd")
}

/// Posts bare CDEvents to `/cdevents` and waits until the pipeline has processed them.
async fn post_and_process(app: &TestApp, events: &[Value]) {
    let response = app.post_json("/cdevents", &json!(events)).await;
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    app.wait_until_processed().await;
}

async fn spawn_production_only(backend: &Backend) -> TestApp {
    let db = backend.fresh_database().await;
    // Events say nothing of teams: only the configuration puts web in "storefront".
    spawn_with(storefront_settings(&db), db).await
}

async fn the_five_keys_match_the_hand_computed_scenario(backend: Backend) {
    let app = spawn_production_only(&backend).await;
    // Posted in reverse: arrival order must not matter.
    let mut events = scenario();
    events.reverse();
    post_and_process(&app, &events).await;
    let report = app.get_json(SCENARIO_KEYS).await;
    let keys = &report["keys"];
    assert_eq!(
        report["window"],
        json!({"from": "2024-01-01T00:00:00Z", "to": "2024-01-15T00:00:00Z"})
    );
    assert_eq!(
        report["filters"]["production_environments"],
        json!(["production"])
    );
    assert_eq!(keys["deployment_frequency"]["value"], 3);
    assert_eq!(keys["deployment_frequency"]["deploy_days_per_week"], 1.5);
    assert_eq!(keys["deployment_frequency"]["level"], "high");
    assert_eq!(keys["lead_time"]["value"], 28800.0);
    assert_eq!(keys["lead_time"]["p90"], 43200.0);
    assert_eq!(keys["lead_time"]["sample_size"], 2);
    assert_eq!(keys["lead_time"]["level"], "elite");
    assert_eq!(keys["change_failure_rate"]["sample_size"], 3);
    assert!((keys["change_failure_rate"]["value"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(keys["change_failure_rate"]["level"], "low");
    assert_eq!(keys["recovery_time"]["value"], 7200.0);
    assert_eq!(keys["recovery_time"]["level"], "high");
    assert_eq!(keys["rework_rate"]["value"], 0.0);

    // Drill-down: what each number is made of.
    let deployments = app
        .get_json("/api/v1/deployments?from=2024-01-01&to=2024-01-14")
        .await;
    assert_eq!(
        deployments["total"], 4,
        "staging deployments are listed, flagged"
    );
    let items = deployments["items"].as_array().unwrap();
    let order: Vec<&str> = items
        .iter()
        .map(|d| d["cdevent_id"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["d3", "d4", "d2", "d1"], "newest first");
    assert_eq!(items[1]["production"], false);
    let d2 = &items[2];
    assert_eq!(d2["cdevent_id"], "d2");
    assert_eq!(d2["changes"], json!(["acme/web#2"]));
    assert_eq!(d2["incidents"], json!(["inc-1"]));
    let changes = app
        .get_json("/api/v1/changes?from=2024-01-01&to=2024-01-14")
        .await;
    let lead_times: Vec<(String, i64)> = changes["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["lead_time_seconds"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        lead_times,
        [
            ("acme/web#2".to_owned(), 43200),
            ("acme/web#1".to_owned(), 14400)
        ]
    );
    let incidents = app
        .get_json("/api/v1/incidents?from=2024-01-01&to=2024-01-14")
        .await;
    assert_eq!(incidents["items"][0]["id"], "inc-1");
    assert_eq!(incidents["items"][0]["deployment"], d2["id"]);
    let page = app
        .get_json("/api/v1/deployments?from=2024-01-01&to=2024-01-14&limit=1&offset=2")
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["cdevent_id"], "d2");

    // Filters that match: the configured team, and the service and environment (the incident and
    // both changes stay whole and in scope).
    for query in ["team=storefront", "service=web&environment=production"] {
        let scoped = app
            .get_json(&format!(
                "/api/v1/dora?from=2024-01-01&to=2024-01-14&{query}"
            ))
            .await;
        assert_eq!(scoped["keys"], report["keys"], "{query}");
    }
    let staging = app
        .get_json("/api/v1/dora?from=2024-01-01&to=2024-01-14&environment=staging")
        .await;
    assert_eq!(
        staging["keys"]["deployment_frequency"]["value"], 0,
        "staging is not production"
    );

    // A filter that matches nothing gives no samples, not errors.
    let none = app
        .get_json("/api/v1/dora?from=2024-01-01&to=2024-01-14&service=api")
        .await;
    assert_eq!(none["keys"]["deployment_frequency"]["value"], 0);
    assert_eq!(none["keys"]["lead_time"]["value"], Value::Null);
    assert_eq!(none["filters"]["service"], json!(["api"]));

    // Weekly series of the failure rate: 1/3 in the first week, no sample in the second.
    let series = app
        .get_json("/api/v1/metrics/change-failure-rate?bucket=week&from=2024-01-01&to=2024-01-14")
        .await;
    let points = series["series"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    assert_eq!(points[0]["value"]["sample_size"], 3);
    assert_eq!(points[1]["value"]["sample_size"], 0);
}

async fn bad_dora_parameters_are_named(backend: Backend) {
    let app = spawn_production_only(&backend).await;
    for (query, field) in [
        ("from=yesterday", "from"),
        ("teem=a", "teem"),
        ("from=2024-02-01&to=2024-01-01", "from"),
        ("from=2024-01-01&from=2024-02-01", "from"),
        ("service=", "service"),
        ("to=9999-12-31", "to"),
    ] {
        let response = app.get(&format!("/api/v1/dora?{query}")).await;
        assert_eq!(response.status(), 400, "{query}");
        assert_eq!(
            response.json::<Value>().await.unwrap()["field"],
            field,
            "{query}"
        );
    }
    // U+0000 matches no stored text and PostgreSQL refuses it as a parameter: a 400, never a
    // 500, on every read route that filters.
    for path in [
        "/api/v1/dora?service=%00",
        "/api/v1/dora?environment=a%00b",
        "/api/v1/deployments?team=%00",
        "/api/v1/metrics/lead-time?service=%00",
        "/api/v1/charts/lead-time.svg?service=%00",
        "/deploy-frequency/day?service=%00",
        "/api/v1/events?type=%00",
        "/api/v1/events?source=x%00",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 400, "{path}");
        let problem = response.json::<Value>().await.unwrap();
        assert_eq!(
            problem["type"], "urn:dora-events:problem:invalid-parameter",
            "{path}"
        );
    }
    let response = app.get("/api/v1/metrics/happiness").await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "urn:dora-events:problem:unknown-metric");
    assert_eq!(body["field"], "key");
    let response = app
        .get("/api/v1/metrics/lead-time?bucket=day&from=2000-01-01&to=2024-01-01")
        .await;
    assert_eq!(response.status(), 400, "too many buckets");
    let response = app.get("/api/v1/metrics/lead-time?bucket=hour").await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["field"], "bucket");
}

backend_tests!(
    the_five_keys_match_the_hand_computed_scenario,
    bad_dora_parameters_are_named,
);

async fn charts_draw_the_series_of_the_hand_computed_scenario(backend: Backend) {
    let app = spawn_production_only(&backend).await;
    post_and_process(&app, &scenario()).await;
    let svg = |path: String| {
        let app = &app;
        async move {
            let response = app.get(&path).await;
            assert_eq!(response.status(), 200, "{path}");
            assert_eq!(response.headers()["content-type"], "image/svg+xml");
            response.text().await.unwrap()
        }
    };
    let window = "from=2024-01-01&to=2024-01-14&bucket=day";
    // Production deployments on 01-01, 01-02 and 01-03: three bars, nothing on the other days.
    let frequency = svg(format!("/api/v1/charts/deployment-frequency.svg?{window}")).await;
    assert!(frequency.starts_with("<svg"), "{frequency}");
    assert_eq!(
        frequency.matches("fill=\"#3B6EA5\"").count(),
        3,
        "{frequency}"
    );
    assert!(frequency.contains("2024-01-01"), "{frequency}");
    // Lead times on the days of D1 (4 h) and D2 (12 h): two points, in hours.
    let lead = svg(format!("/api/v1/charts/lead-time.svg?{window}")).await;
    assert_eq!(lead.matches("<circle").count(), 2, "{lead}");
    assert!(lead.contains("\nhours\n"), "{lead}");
    // The service filter applies: no deployments of "api".
    let other = svg(format!(
        "/api/v1/charts/deployment-frequency.svg?{window}&service=api"
    ))
    .await;
    assert_eq!(other.matches("fill=\"#3B6EA5\"").count(), 0, "{other}");

    for (path, status) in [
        ("/api/v1/charts/lead-time.png", 404),
        ("/api/v1/charts/happiness.svg", 404),
        ("/api/v1/charts/lead-time.svg?bucket=hour", 400),
        ("/api/v1/charts/lead-time.svg?colour=red", 400),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), status, "{path}");
    }
}

backend_tests!(charts_draw_the_series_of_the_hand_computed_scenario,);

/// The folded facts are kept between requests: a later event must still change the numbers
/// (and a filtered request must not see another scope's cached facts).
async fn numbers_follow_new_facts_between_requests(backend: Backend) {
    let app = spawn_production_only(&backend).await;
    post_and_process(&app, &scenario()).await;
    let window = SCENARIO_KEYS;
    let before = app.get_json(window).await;
    assert_eq!(before["keys"]["deployment_frequency"]["value"], 3);
    let web = app.get_json(&format!("{window}&service=web")).await;
    assert_eq!(web["keys"]["deployment_frequency"]["value"], 3);
    let api = app.get_json(&format!("{window}&service=api")).await;
    assert_eq!(api["keys"]["deployment_frequency"]["value"], 0);

    post_and_process(&app, &[later_deployment()]).await;
    let after = app.get_json(window).await;
    assert_eq!(after["keys"]["deployment_frequency"]["value"], 4);
    let listed = app
        .get_json("/api/v1/deployments?from=2024-01-01&to=2024-01-14")
        .await;
    assert_eq!(
        listed["total"], 5,
        "four production deployments and one to staging"
    );
    assert_eq!(listed["items"][0]["cdevent_id"], "d5");
}

backend_tests!(numbers_follow_new_facts_between_requests,);

/// With no time to wait for a rebuild (`freshness_wait = 0`), an answer after new facts comes
/// from the previous ones and says so, or from the new ones and says that; it never mixes them,
/// and the new numbers arrive by themselves without another event.
async fn stale_answers_say_so_and_catch_up(backend: Backend) {
    let app = spawn_configured(&backend, |settings| {
        settings.dora.production_environments = vec!["production".into()];
        settings.dora.freshness_wait = std::time::Duration::ZERO;
    })
    .await;
    let window = SCENARIO_KEYS;
    post_and_process(&app, &scenario()).await;
    // The keys were loaded (empty) when the server started: with no time to wait, an answer
    // comes from them, says so, and the new numbers arrive by themselves.
    let first = poll_until(Duration::from_secs(10), || async {
        let answer = app.get_json(window).await;
        if answer["stale"] == true {
            assert_eq!(
                answer["keys"]["deployment_frequency"]["value"], 0,
                "{answer}"
            );
            return None;
        }
        Some(answer)
    })
    .await;
    assert_eq!(first["keys"]["deployment_frequency"]["value"], 3);

    post_and_process(&app, &[later_deployment()]).await;
    let next = app.get_json(window).await;
    let expected = if next["stale"] == true { 3 } else { 4 };
    assert_eq!(
        next["keys"]["deployment_frequency"]["value"], expected,
        "{next}"
    );
    poll_until(Duration::from_secs(10), || async {
        let answer = app.get_json(window).await;
        (answer["stale"] == false).then_some(())
    })
    .await;
    let caught_up = app.get_json(window).await;
    assert_eq!(caught_up["stale"], false);
    assert_eq!(caught_up["keys"]["deployment_frequency"]["value"], 4);
    let series = app
        .get_json("/api/v1/metrics/deployment-frequency?from=2024-01-01&to=2024-01-14")
        .await;
    assert_eq!(series["stale"], false);
}

backend_tests!(stale_answers_say_so_and_catch_up,);

/// A deployment that lists what it ships (`customData.dora.changes` and `commits`): the named
/// change counts from its opening, each listed commit no change has as a change of its own from
/// its timestamp, all first deployed by it; a staging deployment listing the same commit earlier
/// does not make it count twice.
async fn deployments_that_list_their_changes_and_commits(backend: Backend) {
    let app = spawn_production_only(&backend).await;
    let mut deployment = deployed("d9", "production", "2024-02-02T00:00:00Z", "r9");
    deployment["customData"]["dora"]["changes"] = json!(["acme/web#9"]);
    deployment["customData"]["dora"]["commits"] = json!([
        {"sha": "c1", "timestamp": "2024-02-01T12:00:00Z"},
        {"sha": "c2", "timestamp": "2024-02-01T18:00:00Z"}
    ]);
    let mut staging = deployed("s9", "staging", "2024-02-01T20:00:00Z", "r9");
    staging["customData"]["dora"]["commits"] = json!(["c1"]);
    let events = [
        deployment,
        staging,
        merged(
            "acme/web#9",
            "2024-02-01T00:00:00Z",
            "2024-02-01T10:00:00Z",
            "m9",
        ),
    ];
    post_and_process(&app, &events).await;
    let report = app
        .get_json("/api/v1/dora?from=2024-02-01&to=2024-02-10")
        .await;
    let lead_time = &report["keys"]["lead_time"];
    // acme/web#9: opened Feb 1 00:00 -> 86400 s; web@c1: Feb 1 12:00 -> 43200 s; web@c2:
    // Feb 1 18:00 -> 21600 s. Median 43200, p90 (rank 3 of 3) 86400.
    assert_eq!(lead_time["sample_size"], 3, "{lead_time}");
    assert_eq!(lead_time["value"], 43_200.0);
    assert_eq!(lead_time["p90"], 86_400.0);
    let changes = app
        .get_json("/api/v1/changes?from=2024-02-01&to=2024-02-10")
        .await;
    let mut ids: Vec<&str> = changes["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["acme/web#9", "web@c1", "web@c2"]);
}

backend_tests!(deployments_that_list_their_changes_and_commits,);
