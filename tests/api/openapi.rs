//! `GET /openapi.json` describes every route the server answers, and nothing it does not.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{spawn_app, Backend};

/// Sample values for the path parameters of the described routes.
fn fill(path: &str) -> String {
    path.replace("{bucket}", "week")
        .replace("{key}", "lead-time")
        .replace("{file}", "lead-time.svg")
        .replace("{tool}", "alertmanager")
}

async fn the_description_matches_the_live_routes(backend: Backend) {
    let app = spawn_app(&backend).await;
    let description = app.get_json("/openapi.json").await;
    assert_eq!(description["openapi"], "3.1.0");
    assert_eq!(description["info"]["title"], "dora-events");
    let paths = description["paths"].as_object().unwrap();
    let described: BTreeSet<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("post", "/events"),
        ("post", "/"),
        ("post", "/cdevents"),
        ("post", "/webhooks/{tool}"),
        ("get", "/deploy-frequency/{bucket}"),
        ("get", "/api/v1/dora"),
        ("get", "/api/v1/metrics/{key}"),
        ("get", "/api/v1/charts/{file}"),
        ("get", "/api/v1/dimensions"),
        ("get", "/api/v1/deployments"),
        ("get", "/api/v1/changes"),
        ("get", "/api/v1/incidents"),
        ("get", "/api/v1/events"),
        ("get", "/api/v1/events/stream"),
        ("get", "/api/v1/failures"),
        ("get", "/api/v1/pipeline"),
        ("get", "/metrics"),
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/openapi.json"),
        ("get", "/"),
        ("get", "/ui/app.js"),
        ("get", "/ui/style.css"),
    ]
    .into_iter()
    .map(|(m, p)| (m.to_owned(), p.to_owned()))
    .collect();
    assert_eq!(described, expected);

    for (method, path) in &described {
        let operation = &paths[path][method];
        assert!(
            operation["summary"].as_str().is_some_and(|s| !s.is_empty())
                || operation["description"]
                    .as_str()
                    .is_some_and(|s| !s.is_empty()),
            "{method} {path} says what it does"
        );
        assert!(operation["responses"]
            .as_object()
            .is_some_and(|r| !r.is_empty()));
        // Every described route is served: whatever it answers, it is not the fallback's
        // "no such route" nor "method not allowed".
        let url = app.url(&fill(path));
        let request = match method.as_str() {
            "get" => app.client.get(&url),
            "post" => app
                .client
                .post(&url)
                .header("content-type", "application/json")
                .body("[]"),
            other => panic!("unexpected method {other}"),
        };
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        if status == 404 {
            let problem: Value = response.json().await.unwrap();
            assert_ne!(
                problem["type"], "urn:dora-events:problem:not-found",
                "{method} {path} is described but not served"
            );
        }
        assert_ne!(status, 405, "{method} {path}");
    }

    // And a route that is not described is not served.
    let response = app.get("/api/v1/undocumented").await;
    assert_eq!(response.status(), 404);
}

backend_tests!(the_description_matches_the_live_routes,);
