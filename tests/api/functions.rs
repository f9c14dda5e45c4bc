//! External functions end to end: a fake function (an axum server on port 0 in the test) turns a
//! custom CloudEvent into a `service.deployed` the API counts; while it answers 503 other routes
//! go on and its job waits with the reason, then is processed once it is back; a 400 is a
//! failure with its reason; a call made twice (the first one timed out) stores one CDEvent; a
//! function not listening yet gets its events once it is.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use dora_pipeline::functions::FunctionConfig;
use dora_pipeline::routing::{default_routes, RouteConfig};
use dora_pipeline::transformers::TransformerRef;
use serde_json::{json, Value};

use crate::helpers::{deployment_event, poll_until, spawn_with, test_settings, Backend, TestApp};

/// How the fake function answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A structured CloudEvent whose data is a `service.deployed` without an id.
    Deploy,
    /// 503: the function is away.
    Unavailable,
    /// 400 with a reason.
    Refuse,
    /// Answers after 1.5 s (past the timeout) the first time it sees an event, at once after.
    SlowOnce,
}

#[derive(Debug, Default)]
struct Calls {
    /// `(ce-id, ce-type, content-type, body)` of every request.
    seen: Vec<(String, String, String, Value)>,
}

#[derive(Clone)]
struct Fake {
    mode: Arc<Mutex<Mode>>,
    calls: Arc<Mutex<Calls>>,
}

impl Fake {
    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn calls_for(&self, id: &str) -> usize {
        let calls = self.calls.lock().unwrap();
        calls.seen.iter().filter(|(seen, ..)| seen == id).count()
    }
}

async fn function(State(fake): State<Fake>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let data: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let id = header("ce-id");
    let first_time = fake.calls_for(&id) == 0;
    fake.calls.lock().unwrap().seen.push((
        id.clone(),
        header("ce-type"),
        header("content-type"),
        data.clone(),
    ));
    let mode = *fake.mode.lock().unwrap();
    match mode {
        Mode::Unavailable => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                HeaderMap::new(),
                "warming up".to_owned(),
            )
        }
        Mode::Refuse => {
            return (
                StatusCode::BAD_REQUEST,
                HeaderMap::new(),
                "unknown release channel".to_owned(),
            )
        }
        Mode::SlowOnce if first_time => tokio::time::sleep(Duration::from_millis(1500)).await,
        Mode::Deploy | Mode::SlowOnce => {}
    }
    let cdevent = json!({
        "context": {
            "specversion": "0.5.1",
            "source": "/release-tool",
            "type": "dev.cdevents.service.deployed.0.3.0",
            "timestamp": data["at"],
        },
        "subject": {
            "id": data["service"],
            "source": "/release-tool",
            "content": {
                "environment": {"id": "production"},
                "artifactId": format!("pkg:oci/{}?repository_url=ghcr.io/example/{}&tag={}",
                    data["service"].as_str().unwrap_or_default(),
                    data["service"].as_str().unwrap_or_default(),
                    data["version"].as_str().unwrap_or_default()),
            }
        }
    });
    let answer = json!({
        "specversion": "1.0",
        "id": format!("answer-{id}"),
        "source": "/release-function",
        "type": "dev.cdevents.service.deployed.0.3.0",
        "datacontenttype": "application/json",
        "data": cdevent,
    });
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        "application/cloudevents+json".parse().unwrap(),
    );
    (StatusCode::OK, headers, answer.to_string())
}

/// Starts the fake function; returns it and its URL.
async fn spawn_function() -> (Fake, String) {
    spawn_function_on(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
}

/// Starts the fake function on `listener`.
fn spawn_function_on(listener: tokio::net::TcpListener) -> (Fake, String) {
    let fake = Fake {
        mode: Arc::new(Mutex::new(Mode::Deploy)),
        calls: Arc::new(Mutex::new(Calls::default())),
    };
    let app = axum::Router::new()
        .route("/", axum::routing::post(function))
        .with_state(fake.clone());
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (fake, url)
}

fn release(id: &str, service: &str, version: &str, at: &str) -> Value {
    json!({
        "specversion": "1.0",
        "id": id,
        "source": "/release-tool",
        "type": "com.example.release",
        "time": at,
        "data": {"service": service, "version": version, "at": at}
    })
}

async fn spawn_app_with_function(backend: &Backend, url: &str) -> TestApp {
    let db = backend.fresh_database().await;
    let mut settings = test_settings(&db);
    let mut config = FunctionConfig::new(url);
    config.timeout = Duration::from_millis(500);
    config.retry_initial = Duration::from_millis(50);
    config.retry_max = Duration::from_millis(200);
    settings.functions.insert("releases".into(), config);
    let mut routes = default_routes();
    routes.push(RouteConfig {
        name: "releases".into(),
        event_type: Some("com.example.release".into()),
        type_prefix: None,
        source: None,
        data: Default::default(),
        transformers: vec![TransformerRef::Function("releases".into())],
    });
    settings.routes = routes;
    spawn_with(settings, db).await
}

async fn deployments(app: &TestApp) -> i64 {
    app.get_json("/api/v1/deployments?from=2023-08-01&to=2023-08-31")
        .await["total"]
        .as_i64()
        .unwrap()
}

const DEADLINE: Duration = Duration::from_secs(10);

async fn a_function_turns_events_into_cdevents_and_waits_out_its_outages(backend: Backend) {
    let (fake, url) = spawn_function().await;
    let app = spawn_app_with_function(&backend, &url).await;

    // Up: the function's CDEvent is counted.
    let r1 = release("r1", "web", "1.0.0", "2023-08-05T10:00:00Z");
    assert_eq!(app.post_structured("/events", &r1).await.status(), 202);
    poll_until(DEADLINE, || async {
        (deployments(&app).await == 1).then_some(())
    })
    .await;
    {
        let calls = fake.calls.lock().unwrap();
        let (id, event_type, content_type, body) = &calls.seen[0];
        assert_eq!(
            (id.as_str(), event_type.as_str()),
            ("r1", "com.example.release")
        );
        assert_eq!(content_type, "application/json");
        assert_eq!(body, &r1["data"]);
    }
    let events = app.get_json("/api/v1/events?kind=cdevents").await;
    assert_eq!(
        events["items"][0]["transformer"], "http:releases",
        "{events}"
    );

    // Down: a Kubernetes rollout posted meanwhile is processed; the release waits with its reason.
    fake.set(Mode::Unavailable);
    let r2 = release("r2", "api", "2.0.0", "2023-08-06T10:00:00Z");
    assert_eq!(app.post_structured("/events", &r2).await.status(), 202);
    let rollout = deployment_event(
        "k1",
        "nginx",
        "default",
        1,
        "nginx:1.14.2",
        "2023-08-07T09:00:00Z",
    );
    assert_eq!(app.post_structured("/events", &rollout).await.status(), 202);
    let pending = poll_until(DEADLINE, || async {
        let state = app.pipeline().await;
        let job = state["function_jobs"][0].clone();
        (deployments(&app).await == 2 && job["max_attempts"].as_i64() >= Some(2)).then_some(job)
    })
    .await;
    assert_eq!(pending["function"], "releases");
    assert_eq!(pending["pending"], 1);
    let error = pending["last_error"].as_str().unwrap();
    assert!(
        error.contains("503") && error.contains("warming up"),
        "{error}"
    );

    // Back: the waiting release is processed.
    fake.set(Mode::Deploy);
    poll_until(DEADLINE, || async {
        (deployments(&app).await == 3).then_some(())
    })
    .await;
    let state = app.pipeline().await;
    assert_eq!(state["function_jobs"], json!([]), "{state}");

    // Refused: a failure with the function's reason, nothing held.
    fake.set(Mode::Refuse);
    let r3 = release("r3", "db", "3.0.0", "2023-08-08T10:00:00Z");
    assert_eq!(app.post_structured("/events", &r3).await.status(), 202);
    let failure = poll_until(DEADLINE, || async {
        let failures = app.get_json("/api/v1/failures").await;
        let failure = failures["items"][0].clone();
        (failure["event_id"] == "r3").then_some(failure)
    })
    .await;
    assert_eq!(failure["transformer"], "http:releases");
    let reason = failure["reason"].as_str().unwrap();
    assert!(
        reason.contains("400") && reason.contains("unknown release channel"),
        "{reason}"
    );
    assert_eq!(app.pipeline().await["function_jobs"], json!([]));

    // Called twice (the first call timed out): one CDEvent, one deployment.
    fake.set(Mode::SlowOnce);
    let cdevents_before = app.pipeline().await["cdevents"].as_i64().unwrap();
    let r4 = release("r4", "cache", "4.0.0", "2023-08-09T10:00:00Z");
    assert_eq!(app.post_structured("/events", &r4).await.status(), 202);
    poll_until(DEADLINE, || async {
        (deployments(&app).await == 4).then_some(())
    })
    .await;
    assert!(
        fake.calls_for("r4") >= 2,
        "the first call timed out and was made again"
    );
    let state = app.wait_until_processed().await;
    assert_eq!(
        state["cdevents"].as_i64().unwrap(),
        cdevents_before + 1,
        "{state}"
    );
    assert_eq!(state["function_jobs"], json!([]));

    // Delivered again at ingest: a duplicate, no second call, no second CDEvent.
    let calls = fake.calls_for("r1");
    assert!(app
        .post_structured("/events", &r1)
        .await
        .status()
        .is_success());
    let state = app.wait_until_processed().await;
    assert_eq!(state["cdevents"].as_i64().unwrap(), cdevents_before + 1);
    assert_eq!(fake.calls_for("r1"), calls);
    assert_eq!(deployments(&app).await, 4);
    app.stop().await;
}

async fn a_function_not_yet_listening_gets_its_events_once_it_is_up(backend: Backend) {
    // A port nothing listens on (yet).
    let address = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let app = spawn_app_with_function(&backend, &format!("http://{address}/")).await;
    let r1 = release("r1", "web", "1.0.0", "2023-08-05T10:00:00Z");
    assert_eq!(app.post_structured("/events", &r1).await.status(), 202);
    let pending = poll_until(DEADLINE, || async {
        let job = app.pipeline().await["function_jobs"][0].clone();
        job["last_error"].is_string().then_some(job)
    })
    .await;
    let error = pending["last_error"].as_str().unwrap();
    assert!(error.starts_with("cannot reach http://"), "{error}");
    assert_eq!(deployments(&app).await, 0);

    let listener = tokio::net::TcpListener::bind(address).await.unwrap();
    let (fake, _) = spawn_function_on(listener);
    poll_until(DEADLINE, || async {
        (deployments(&app).await == 1).then_some(())
    })
    .await;
    assert_eq!(fake.calls_for("r1"), 1);
    assert_eq!(app.pipeline().await["function_jobs"], json!([]));
    app.stop().await;
}

backend_tests!(
    a_function_turns_events_into_cdevents_and_waits_out_its_outages,
    a_function_not_yet_listening_gets_its_events_once_it_is_up
);
