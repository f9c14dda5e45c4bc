//! Helpers shared by the webhook tests: fixtures under `tests/fixtures/<tool>/` (repository
//! root), request builders, and the endpoint on a real server over a fresh SQLite store.
//!
//! Each test file compiles this module on its own, and not every file uses every item.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use dora_ingest::{IngestState, Limits};
use dora_model::cloudevent::CloudEvent;
use dora_sources::webhook::Webhook;
use dora_sources::WebhookSettings;
use dora_store::writer::RawWriter;
use dora_store::{Position, Store};
use serde_json::Value;

/// A body that is not a JSON object (a form, nothing, an array, a string), sent to `webhook`
/// with `headers` under `settings`, is `400` naming `body`.
pub fn assert_bodies_not_json_objects_are_400(
    webhook: &Webhook,
    headers: &HeaderMap,
    settings: &WebhookSettings,
) {
    for bad in [b"payload=%7B%7D".as_slice(), b"", b"[1, 2]", b"\"text\""] {
        let problem = webhook.receive(headers, bad, settings).unwrap_err();
        assert_eq!(problem.status, 400, "{}", String::from_utf8_lossy(bad));
        assert_eq!(problem.field.as_deref(), Some("body"));
    }
}

/// `webhook` makes exactly `expected` of the fixture `case`'s `body` sent with `request` (no
/// secret or token set).
pub fn assert_fixture_made(
    webhook: &Webhook,
    case: &str,
    request: &HeaderMap,
    body: &[u8],
    expected: CloudEvent,
) {
    let made = webhook
        .receive(request, body, &WebhookSettings::default())
        .unwrap_or_else(|e| panic!("{case}: {}", e.detail));
    assert_eq!(made, vec![expected], "{case}");
}

/// `tests/fixtures/<tool>` at the repository root.
pub fn fixtures(tool: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(tool)
}

pub fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The body a golden case of a tool was delivered with: the `data` of its `input.json`.
pub fn case_body(tool: &str, case: &str) -> Vec<u8> {
    let input = read_json(&fixtures(tool).join(case).join("input.json"));
    serde_json::to_vec(&input["data"]).unwrap()
}

/// A golden case that a webhook delivered: its name and directory, the CloudEvent of its
/// `input.json` and the body it was delivered with.
pub struct WebhookCase {
    pub name: String,
    pub dir: PathBuf,
    pub expected: CloudEvent,
    pub body: Vec<u8>,
}

/// The golden cases of a tool that its webhook delivered: all but `knative-*`, which the
/// Knative source made.
pub fn webhook_cases(tool: &str) -> Vec<WebhookCase> {
    case_names(tool)
        .into_iter()
        .filter(|name| !name.starts_with("knative-"))
        .map(|name| {
            let dir = fixtures(tool).join(&name);
            let input = read_json(&dir.join("input.json"));
            WebhookCase {
                expected: CloudEvent::from_json_value(input.clone()).unwrap(),
                body: serde_json::to_vec(&input["data"]).unwrap(),
                name,
                dir,
            }
        })
        .collect()
}

/// The CloudEvents in a store, in the order stored (the first ten).
pub async fn stored(store: &Store) -> Vec<CloudEvent> {
    let batch = store.raw_after(Position::START, 10).await.unwrap();
    batch
        .records
        .iter()
        .map(|record| CloudEvent::from_json_bytes(record.content.as_bytes()).unwrap())
        .collect()
}

/// The bytes of `payloads/<name>.json` of a tool.
pub fn payload_bytes(tool: &str, name: &str) -> Vec<u8> {
    let path = fixtures(tool).join("payloads").join(format!("{name}.json"));
    fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn payload(tool: &str, name: &str) -> Value {
    serde_json::from_slice(&payload_bytes(tool, name)).unwrap()
}

/// The payload names of a tool (file stems under `payloads/`), sorted.
pub fn payload_names(tool: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(fixtures(tool).join("payloads"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The golden case directories of a tool (those holding an `input.json`).
pub fn case_names(tool: &str) -> BTreeSet<String> {
    fs::read_dir(fixtures(tool))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("input.json").is_file())
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// A header map of `(name, value)` pairs.
pub fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

/// A header map of the `(name, value)` pairs of `pairs`, then of `extra`.
pub fn headers_and(pairs: &[(&str, &str)], extra: &[(&str, &str)]) -> HeaderMap {
    headers(&[pairs, extra].concat())
}

/// An `Authorization` header with `value`.
pub fn bearer(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("authorization", HeaderValue::from_str(value).unwrap());
    headers
}

/// A fresh SQLite store in its own directory (removed on drop).
pub struct TempStore {
    dir: PathBuf,
    pub store: Store,
}

impl TempStore {
    /// `tool` and `test` name the directory, `dora-<tool>-webhook-<test>-…`.
    pub async fn new(tool: &str, test: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "dora-{tool}-webhook-{test}-{}-{nanos}",
            std::process::id()
        ));
        fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("dora-events.db").display());
        let store = Store::connect(&url).await.unwrap();
        Self { dir, store }
    }
}

impl Drop for TempStore {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Serves the ingest routes on 127.0.0.1:0; returns the address.
pub async fn serve(store: &Store, settings: WebhookSettings) -> std::net::SocketAddr {
    let writer = RawWriter::spawn(
        store.clone(),
        64,
        100,
        1,
        Arc::new(tokio::sync::Notify::new()),
    );
    let state = IngestState::new(writer, Limits::default(), 16 * 1024 * 1024, settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, axum::Router::from(dora_ingest::router(state)))
            .await
            .unwrap();
    });
    address
}

/// One HTTP/1.1 POST to `path` with `headers`; returns the status and the JSON body.
pub async fn post(
    address: std::net::SocketAddr,
    path: &str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        stream.write_all(&body).unwrap();
        read_response(&mut stream)
    })
    .await
    .unwrap()
}

/// Reads a whole HTTP/1.1 response from `stream` (which the server closes): its status and its
/// JSON body (`null` without one).
pub fn read_response(stream: &mut std::net::TcpStream) -> (StatusCode, Value) {
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let text = String::from_utf8(response).unwrap();
    let status: u16 = text
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let (_, body) = text.split_once("\r\n\r\n").expect("headers end");
    // The body may be chunked: keep the JSON object.
    let json = body
        .find('{')
        .zip(body.rfind('}'))
        .map_or(Value::Null, |(start, end)| {
            serde_json::from_str(&body[start..=end]).unwrap()
        });
    (StatusCode::from_u16(status).unwrap(), json)
}

/// POSTs one delivery twice to `path`: the first is accepted, the second (a redelivery) is a
/// duplicate, not a second event.
pub async fn deliver_twice(
    address: std::net::SocketAddr,
    path: &str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) {
    for expected in [
        serde_json::json!({"accepted": 1, "duplicates": 0}),
        serde_json::json!({"accepted": 0, "duplicates": 1}),
    ] {
        let (status, answer) = post(address, path, headers.clone(), body.clone()).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{path}");
        assert_eq!(answer, expected, "{path}");
    }
}

/// Whether the golden files are to be rewritten (`DORA_UPDATE_GOLDEN=1`).
pub fn update_golden() -> bool {
    std::env::var("DORA_UPDATE_GOLDEN").is_ok_and(|v| v == "1")
}

/// Compares the JSON of an adapted CloudEvent with the golden `input.json` at `path` (or, when
/// `update`, writes it there); a difference adds a message naming `case` to `failures`.
pub fn compare_input(
    case: &str,
    path: &Path,
    stored: &Value,
    update: bool,
    failures: &mut Vec<String>,
) {
    if update {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut text = serde_json::to_string_pretty(stored).unwrap();
        text.push('\n');
        fs::write(path, text).unwrap();
    } else {
        match fs::read_to_string(path) {
            Ok(text) => {
                let expected: Value = serde_json::from_str(&text).unwrap();
                if &expected != stored {
                    failures.push(format!(
                        "{case}: the adapter's CloudEvent differs from input.json\n\
                         --- got:\n{stored:#}\n--- expected:\n{expected:#}"
                    ));
                }
            }
            Err(e) => failures.push(format!("{}: {e}", path.display())),
        }
    }
}
