//! Access control through real HTTP: ingest and read tokens, their files, the webhooks without a
//! secret, bodies a browser could send cross-site, and the security headers.

use std::time::Duration;

use dora_sources::webhook::sha256_signature;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use serde_json::{json, Value};

use crate::helpers::{
    cloudevent, fixture_json, json_of, poll_until, spawn_app, spawn_configured, Backend, TestApp,
};

const INGEST: &str = "ingest-token-0123456789";
const READ: &str = "read-token-9876543210";

/// A client that sends `token` as a bearer token on every request.
fn client_with(token: &str) -> reqwest::Client {
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

async fn spawn_protected(
    backend: &Backend,
    adjust: impl FnOnce(&mut dora_events::config::Settings),
) -> TestApp {
    spawn_configured(backend, |settings| {
        settings.auth.ingest_tokens = vec![INGEST.into()];
        settings.auth.read_tokens = vec![READ.into()];
        adjust(settings);
    })
    .await
}

async fn post_as(
    app: &TestApp,
    token: Option<&str>,
    path: &str,
    event: &Value,
) -> reqwest::Response {
    let client = match token {
        Some(token) => client_with(token),
        None => reqwest::Client::new(),
    };
    client
        .post(app.url(path))
        .header("content-type", "application/cloudevents+json")
        .body(event.to_string())
        .send()
        .await
        .unwrap()
}

async fn problem(response: reqwest::Response) -> Value {
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    response.json().await.unwrap()
}

async fn raw_events(app: &TestApp) -> i64 {
    app.raw_events_with(READ).await
}

/// Ingest routes: no token 401 with a challenge, an unknown token 401 `invalid_token`, a read
/// token 403, an ingest token 202; nothing refused is stored.
async fn ingest_needs_an_ingest_token(backend: Backend) {
    let app = spawn_protected(&backend, |_| {}).await;
    for path in ["/events", "/", "/cdevents"] {
        let event = cloudevent(&format!("auth-{}", path.len()));
        let missing = post_as(&app, None, path, &event).await;
        assert_eq!(missing.status(), 401, "{path} without a token");
        assert_eq!(
            missing.headers()["www-authenticate"],
            "Bearer realm=\"dora-events\""
        );
        assert_eq!(problem(missing).await["field"], "Authorization");

        let unknown = post_as(&app, Some("not-a-token"), path, &event).await;
        assert_eq!(unknown.status(), 401, "{path} with an unknown token");
        assert!(unknown.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\""));

        let read = post_as(&app, Some(READ), path, &event).await;
        assert_eq!(read.status(), 403, "{path} with a read token");
        assert!(problem(read).await["detail"]
            .as_str()
            .unwrap()
            .contains("ingest"));
    }
    assert_eq!(raw_events(&app).await, 0, "nothing refused was stored");

    let accepted = post_as(&app, Some(INGEST), "/events", &cloudevent("auth-ok")).await;
    assert_eq!(accepted.status(), 202);
    let deployed = fixture_json("cdevents-spec/v0.5.1/conformance/service_deployed.json");
    let accepted = client_with(INGEST)
        .post(app.url("/cdevents"))
        .header("content-type", "application/json")
        .body(deployed.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 202, "{}", accepted.text().await.unwrap());
    assert_eq!(raw_events(&app).await, 2);
    app.stop().await;
}

/// Read routes: the query API, the event browser and its stream, pipeline state and /metrics
/// need a read token; health, readiness, the description and the dashboard's files do not.
async fn reading_needs_a_read_token(backend: Backend) {
    let app = spawn_protected(&backend, |_| {}).await;
    let protected = [
        "/api/v1/dora",
        "/api/v1/deployments",
        "/api/v1/changes",
        "/api/v1/incidents",
        "/api/v1/failures",
        "/api/v1/dimensions",
        "/api/v1/events",
        "/api/v1/pipeline",
        "/api/v1/charts/deployment-frequency.svg",
        "/deploy-frequency/day",
        "/metrics",
    ];
    let anonymous = reqwest::Client::new();
    for path in protected {
        let response = anonymous.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 401, "GET {path} without a token");
        assert!(response.headers().contains_key("www-authenticate"));
        let response = client_with(INGEST).get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 403, "GET {path} with an ingest token");
        let response = client_with(READ).get(app.url(path)).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "GET {path} with a read token: {}",
            response.status()
        );
    }
    // The live stream: refused without a token, opened with one.
    let stream = anonymous
        .get(app.url("/api/v1/events/stream"))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 401);
    let stream = client_with(READ)
        .get(app.url("/api/v1/events/stream"))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    drop(stream);

    for path in [
        "/healthz",
        "/readyz",
        "/openapi.json",
        "/",
        "/ui/app.js",
        "/ui/style.css",
    ] {
        let response = anonymous.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "GET {path} stays open");
    }
    let ready = json_of(anonymous.get(app.url("/readyz"))).await;
    assert_eq!(
        ready["auth"],
        json!({"ingest": "tokens", "read": "tokens", "metrics": "tokens", "warnings": []})
    );
    app.stop().await;
}

/// `/openapi.json` says which operations need which scope, and that the webhooks take either a
/// tool's signature or an ingest token.
async fn the_description_tells_which_scope_each_route_needs(backend: Backend) {
    let app = spawn_protected(&backend, |_| {}).await;
    let description = app.get_json("/openapi.json").await;
    assert_eq!(
        description["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let security =
        |path: &str, method: &str| description["paths"][path][method]["security"].clone();
    assert_eq!(security("/events", "post"), json!([{"bearer": ["ingest"]}]));
    assert_eq!(
        security("/api/v1/dora", "get"),
        json!([{"bearer": ["read"]}])
    );
    assert_eq!(security("/metrics", "get"), json!([{"bearer": ["read"]}]));
    assert_eq!(
        security("/webhooks/{tool}", "post"),
        json!([{"bearer": ["ingest"]}, {}])
    );
    assert_eq!(security("/healthz", "get"), Value::Null);
    for (path, method) in [("/events", "post"), ("/api/v1/deployments", "get")] {
        let responses = &description["paths"][path][method]["responses"];
        assert!(responses["401"].is_object(), "{path} documents 401");
        assert!(responses["403"].is_object(), "{path} documents 403");
    }
    app.stop().await;
}

/// Without any token the server works as before and says so on `/readyz`; `metrics_open`
/// opens `/metrics` alone.
async fn without_tokens_everything_is_open_and_said_to_be(backend: Backend) {
    let app = spawn_app(&backend).await;
    assert_eq!(
        app.post_structured("/events", &cloudevent("open-1"))
            .await
            .status(),
        202
    );
    let ready = app.get_json("/readyz").await;
    assert_eq!(ready["auth"]["ingest"], "open");
    assert_eq!(ready["auth"]["read"], "open");
    assert_eq!(ready["auth"]["warnings"].as_array().unwrap().len(), 2);
    app.get_json("/api/v1/dora").await;
    app.stop().await;

    let app = spawn_protected(&backend, |settings| settings.auth.metrics_open = true).await;
    let metrics = reqwest::get(app.url("/metrics")).await.unwrap();
    assert_eq!(
        metrics.status(),
        200,
        "metrics_open serves /metrics to anyone"
    );
    let dora = reqwest::get(app.url("/api/v1/dora")).await.unwrap();
    assert_eq!(dora.status(), 401, "but nothing else");
    app.stop().await;
}

fn alertmanager_payload() -> Value {
    json!({
        "version": "4", "groupKey": "{}:{alertname=\"HighErrorRate\"}", "status": "firing",
        "receiver": "dora-events", "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://alertmanager:9093",
        "alerts": [{
            "status": "firing",
            "labels": {"alertname": "HighErrorRate", "service": "checkout", "severity": "critical"},
            "annotations": {}, "startsAt": "2026-12-01T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "a1b2c3d4e5f60718"
        }]
    })
}

/// A webhook without a secret of its own needs an ingest token once ingest is protected (one
/// forged incident would move a failure rate); a webhook with its secret needs only the
/// signature.
async fn unsigned_webhooks_need_an_ingest_token_and_signed_ones_their_signature(backend: Backend) {
    let secret = "github-secret";
    let app = spawn_protected(&backend, |settings| {
        settings.webhooks.github.secret = Some(secret.into())
    })
    .await;
    let body = alertmanager_payload().to_string();
    let post = |client: reqwest::Client| {
        let request = client
            .post(app.url("/webhooks/alertmanager"))
            .header("content-type", "application/json")
            .body(body.clone());
        async move { request.send().await.unwrap() }
    };
    let forged = post(reqwest::Client::new()).await;
    assert_eq!(forged.status(), 401);
    assert_eq!(post(client_with(READ)).await.status(), 403);
    assert_eq!(
        raw_events(&app).await,
        0,
        "the forged incident was not stored"
    );
    assert_eq!(post(client_with(INGEST)).await.status(), 202);
    assert_eq!(raw_events(&app).await, 1);

    // GitHub has its secret: a signed delivery needs no token, a forged one is refused.
    let ping =
        r#"{"zen":"Keep it logically awesome.","hook_id":1,"repository":{"full_name":"acme/web"}}"#;
    let signature = sha256_signature(secret.as_bytes(), ping.as_bytes());
    let github = |signature: String| {
        reqwest::Client::new()
            .post(app.url("/webhooks/github"))
            .header("content-type", "application/json")
            .header("x-github-event", "ping")
            .header("x-github-delivery", "5f1e9a40-0000-11ef-8000-000000000001")
            .header("x-hub-signature-256", signature)
            .body(ping)
            .send()
    };
    assert_eq!(github(signature).await.unwrap().status(), 202);
    assert_eq!(github("sha256=00".into()).await.unwrap().status(), 401);
    app.stop().await;
}

/// Bodies a web page can send to another site without a CORS preflight (`text/plain`, forms,
/// no type) are refused with `415` on every webhook, even one that is open; CORS stays off.
async fn webhooks_refuse_bodies_a_browser_sends_cross_site(backend: Backend) {
    let app = spawn_app(&backend).await;
    let body = alertmanager_payload().to_string();
    for tool in [
        "alertmanager",
        "pagerduty",
        "argocd",
        "gitlab",
        "github",
        "opsgenie",
        "jira",
    ] {
        for content_type in [
            Some("text/plain"),
            Some("text/plain;charset=UTF-8"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            None,
        ] {
            let mut request = app
                .client
                .post(app.url(&format!("/webhooks/{tool}")))
                .body(body.clone());
            if let Some(content_type) = content_type {
                request = request.header("content-type", content_type);
            }
            let response = request.send().await.unwrap();
            assert_eq!(
                response.status(),
                415,
                "/webhooks/{tool} with {content_type:?}"
            );
            assert_eq!(problem(response).await["field"], "Content-Type");
        }
    }
    assert_eq!(app.pipeline().await["raw_events"], 0);
    let accepted = app
        .post_as(
            "/webhooks/alertmanager",
            "application/json; charset=utf-8",
            body,
        )
        .await;
    assert_eq!(accepted.status(), 202);

    // No CORS: a preflight from another origin gets no permission.
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/events"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(!preflight
        .headers()
        .contains_key("access-control-allow-origin"));
    app.stop().await;
}

/// Every answer carries the security headers; the dashboard's policy allows only its own files.
async fn answers_carry_security_headers(backend: Backend) {
    let app = spawn_app(&backend).await;
    for path in ["/", "/api/v1/dora", "/nowhere", "/healthz"] {
        let response = app.get(path).await;
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("default-src 'none'"), "{path}: {policy}");
        assert!(policy.contains("script-src 'self'"), "{path}: {policy}");
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
    }
    app.stop().await;
}

/// Token files are read again while serving: a rotated token works, the old one stops working.
async fn rotated_token_files_apply_without_a_restart(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("read-tokens");
    std::fs::write(&file, "# read tokens\nfirst-read-token\n").unwrap();
    let app = spawn_configured(&backend, |settings| {
        settings.auth.read_token_files = vec![file.clone()];
        settings.auth.token_files_poll = Duration::from_millis(100);
    })
    .await;
    let status = |token: &'static str| {
        let request = client_with(token).get(app.url("/api/v1/pipeline"));
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status("first-read-token").await, 200);
    assert_eq!(status("second-read-token").await, 401);
    std::fs::write(&file, "second-read-token\n").unwrap();
    poll_until(Duration::from_secs(10), || async {
        (status("second-read-token").await == 200).then_some(())
    })
    .await;
    assert_eq!(status("first-read-token").await, 401);
    // An unreadable file keeps the tokens in force.
    std::fs::remove_file(&file).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(status("second-read-token").await, 200);
    app.stop().await;
}

backend_tests!(
    ingest_needs_an_ingest_token,
    reading_needs_a_read_token,
    the_description_tells_which_scope_each_route_needs,
    without_tokens_everything_is_open_and_said_to_be,
    unsigned_webhooks_need_an_ingest_token_and_signed_ones_their_signature,
    webhooks_refuse_bodies_a_browser_sends_cross_site,
    answers_carry_security_headers,
    rotated_token_files_apply_without_a_restart,
);
