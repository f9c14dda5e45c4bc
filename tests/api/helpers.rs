//! The test harness: a real server on port 0 over a fresh SQLite file per test.

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use dora_events::app::{Application, ShutdownHandle};
use dora_events::config::Settings;
use serde_json::Value;
use tokio::task::JoinHandle;

pub use dora_testkit::{Backend, TestDb};

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub database_url: String,
    pub db: TestDb,
    shutdown: ShutdownHandle,
    task: JoinHandle<anyhow::Result<()>>,
}

/// Settings for a test server on `db`: port 0, a long interval (so the wake-ups are what is tested).
pub fn test_settings(db: &TestDb) -> Settings {
    let mut settings = Settings {
        listen: "127.0.0.1:0".into(),
        database_url: db.url.clone(),
        ..Settings::default()
    };
    settings.router.interval = Duration::from_secs(3600);
    settings.metrics.interval = Duration::from_secs(3600);
    settings
}

/// [`test_settings`] where only `production` counts as production and the configuration (not the
/// events) puts the service `web` in the team `storefront`.
pub fn storefront_settings(db: &TestDb) -> Settings {
    let mut settings = test_settings(db);
    settings.dora.production_environments = vec!["production".into()];
    settings
        .dora
        .teams
        .insert("web".into(), "storefront".into());
    settings
}

/// A test server over a fresh database of `backend`, with [`test_settings`] as `configure`
/// changes them.
pub async fn spawn_configured(backend: &Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let db = backend.fresh_database().await;
    let mut settings = test_settings(&db);
    configure(&mut settings);
    spawn_with(settings, db).await
}

pub async fn spawn_app(backend: &Backend) -> TestApp {
    let db = backend.fresh_database().await;
    spawn_with(test_settings(&db), db).await
}

pub async fn spawn_with(settings: Settings, db: TestDb) -> TestApp {
    let database_url = settings.database_url.clone();
    let app = Application::build(settings)
        .await
        .expect("application builds");
    let address = format!("http://{}", app.local_addr().expect("bound"));
    let shutdown = app.shutdown_handle();
    let task = tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        database_url,
        db,
        shutdown,
        task,
    }
}

impl TestApp {
    /// Stops the server gracefully and waits for it.
    pub async fn stop(self) -> TestDb {
        self.shutdown.shutdown();
        self.task
            .await
            .expect("server task")
            .expect("server ran cleanly");
        self.db
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// POSTs `body` with the content type `content_type`.
    pub async fn post_as(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.post_with(&[], path, content_type, body).await
    }

    /// POSTs `body` as `application/json` (a CDEvent or an array of them on `/cdevents`).
    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.post_as(path, "application/json", body.to_string())
            .await
    }

    /// POSTs an event in binary mode: its attributes as `ce-*` headers (`("id", "1")` is
    /// `ce-id: 1`), its data as the `application/json` body.
    pub async fn post_binary(
        &self,
        path: &str,
        attributes: &[(&str, &str)],
        data: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let headers: Vec<(String, &str)> = attributes
            .iter()
            .map(|(name, value)| (format!("ce-{name}"), *value))
            .collect();
        self.post_with(&headers, path, "application/json", data)
            .await
    }

    pub async fn post_structured(&self, path: &str, event: &Value) -> reqwest::Response {
        self.post_as(path, "application/cloudevents+json", event.to_string())
            .await
    }

    pub async fn post_batch(&self, path: &str, events: &Value) -> reqwest::Response {
        self.post_as(
            path,
            "application/cloudevents-batch+json",
            events.to_string(),
        )
        .await
    }

    /// POSTs `body` with `headers` before its content type.
    async fn post_with(
        &self,
        headers: &[(String, &str)],
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let mut request = self.client.post(self.url(path));
        for (name, value) in headers {
            request = request.header(name, *value);
        }
        request
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request sent")
    }

    /// POSTs a webhook `payload` to `/webhooks/{tool}` as `application/json` with `headers` (the
    /// event's name, its delivery's id, a signature or a token).
    pub async fn deliver(
        &self,
        tool: &str,
        headers: &[(&str, String)],
        payload: &Value,
    ) -> reqwest::Response {
        let headers: Vec<(String, &str)> = headers
            .iter()
            .map(|(name, value)| (name.to_string(), value.as_str()))
            .collect();
        let path = format!("/webhooks/{tool}");
        self.post_with(&headers, &path, "application/json", payload.to_string())
            .await
    }

    /// POSTs a webhook `body` to `/webhooks/{tool}` with one header (the tool's signature or
    /// token); returns the status and the answer's JSON (`null` when it has none).
    pub async fn post_webhook(&self, tool: &str, header: (&str, &str), body: &str) -> (u16, Value) {
        let headers = [(header.0.to_owned(), header.1)];
        let path = format!("/webhooks/{tool}");
        let response = self
            .post_with(&headers, &path, "application/json", body.to_owned())
            .await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// (failed deployments, recovery time in seconds or `null`) of `GET {keys}`.
    pub async fn failures_and_recovery(&self, keys: &str) -> (i64, Value) {
        let report = self.get_json(keys).await;
        let keys = &report["keys"];
        let failed = keys["change_failure_rate"]["failed_deployments"].as_i64();
        (
            failed.expect("failed_deployments"),
            keys["recovery_time"]["value"].clone(),
        )
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().await.expect("JSON body")
    }

    /// (deployments, failed deployments) of `GET <keys>` (an `/api/v1/dora?...` path).
    pub async fn deployments_and_failures(&self, keys: &str) -> (i64, i64) {
        let report = self.get_json(keys).await;
        let keys = &report["keys"];
        let count = |value: &Value| value.as_i64().expect("a count");
        (
            count(&keys["deployment_frequency"]["value"]),
            count(&keys["change_failure_rate"]["failed_deployments"]),
        )
    }

    /// The raw events stored, as `/api/v1/pipeline` reports them to a holder of `token`.
    pub async fn raw_events_with(&self, token: &str) -> i64 {
        let request = self.client.get(self.url("/api/v1/pipeline"));
        let state = json_of(request.bearer_auth(token)).await;
        state["raw_events"].as_i64().expect("raw_events")
    }

    pub async fn pipeline(&self) -> Value {
        self.get_json("/api/v1/pipeline").await
    }

    /// Waits until the router and the calculator have caught up with everything stored.
    pub async fn wait_until_processed(&self) -> Value {
        poll_until(Duration::from_secs(10), || async {
            let state = self.pipeline().await;
            (state["router_lag"] == 0 && state["deployments_lag"] == 0).then_some(state)
        })
        .await
    }
}

/// Sends `request` and reads the JSON body of its answer, whatever the status.
pub async fn json_of(request: reqwest::RequestBuilder) -> Value {
    let response = request.send().await.expect("request sent");
    response.json().await.expect("JSON body")
}

/// Polls `probe` until it returns `Some`, failing the test after `deadline`.
pub async fn poll_until<T, F, Fut>(deadline: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            start.elapsed() < deadline,
            "condition not met within {deadline:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A file under `tests/fixtures`.
pub fn fixture_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(relative)
}

pub fn fixture_json(relative: &str) -> Value {
    let text = std::fs::read_to_string(fixture_path(relative))
        .unwrap_or_else(|e| panic!("{relative}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// A minimal valid CloudEvent.
pub fn cloudevent(id: &str) -> Value {
    serde_json::json!({
        "specversion": "1.0",
        "id": id,
        "source": "/tests",
        "type": "com.example.test",
        "time": "2023-08-05T10:00:00Z",
        "data": {"n": 1}
    })
}

/// A `service.deployed` CDEvent of `service` to production at `at` (an incident source's
/// end-to-end tests blame it).
pub fn production_deployment(id: &str, service: &str, at: &str) -> Value {
    serde_json::json!({
        "context": {"specversion": "0.5.1", "id": id, "source": "/tests",
                    "type": "dev.cdevents.service.deployed.0.3.0", "timestamp": at},
        "subject": {"id": service, "source": "/tests",
                    "content": {"environment": {"id": "production"},
                                "artifactId": format!("pkg:oci/{service}@sha256:1")}}
    })
}

/// An ApiServerSource event for a Deployment object in Resource mode.
pub fn deployment_event(
    id: &str,
    name: &str,
    namespace: &str,
    revision: u32,
    image: &str,
    time: &str,
) -> Value {
    serde_json::json!({
        "specversion": "1.0",
        "type": "dev.knative.apiserver.resource.update",
        "source": "https://10.96.0.1:443",
        "subject": format!("/apis/apps/v1/namespaces/{namespace}/deployments/{name}"),
        "id": id,
        "time": time,
        "datacontenttype": "application/json",
        "kind": "Deployment",
        "name": name,
        "namespace": namespace,
        "data": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": format!("uid-{namespace}-{name}"),
                "generation": revision,
                "creationTimestamp": "2023-08-01T00:00:00Z",
                "annotations": {"deployment.kubernetes.io/revision": revision.to_string()}
            },
            "spec": {
                "replicas": 1,
                "template": {"spec": {"containers": [{"name": "main", "image": image}]}}
            }
        }
    })
}

/// A `dora-events serve` child process on a free port; killed (SIGKILL) when dropped.
pub struct ServerProcess {
    child: std::process::Child,
    pub base: String,
}

impl ServerProcess {
    pub fn start(database_url: &str, role: &str, env: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_dora-events"));
        command
            .args([
                "serve",
                "--role",
                role,
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .args(["--database-url", database_url])
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        Self {
            child: command.spawn().expect("dora-events starts"),
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    pub async fn wait_ready(&self, client: &reqwest::Client) {
        poll_until(Duration::from_secs(30), || async {
            match client.get(format!("{}/readyz", self.base)).send().await {
                Ok(r) if r.status().is_success() => Some(()),
                _ => None,
            }
        })
        .await;
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Every raw event stored at `database_url`, oldest first, waiting out rows pending behind a
/// running transaction (on PostgreSQL the horizon is cluster-wide: other tests count).
pub async fn stored_raw_events(database_url: &str) -> Vec<Value> {
    let store = dora_store::Store::connect(database_url)
        .await
        .expect("store opens");
    let records = poll_until(Duration::from_secs(10), || async {
        let batch = store
            .raw_after(dora_store::Position::START, 1_000_000)
            .await
            .expect("raw events readable");
        (!batch.more_pending).then_some(batch.records)
    })
    .await;
    store.close().await;
    records
        .iter()
        .map(|r| serde_json::from_str(&r.content).expect("stored content is JSON"))
        .collect()
}
