//! `POST /webhooks/{tool}` decides what the headers can decide before it reads a body: with a
//! secret or token set, a request without the tool's token or signature header is `401` at once,
//! so forged requests cost no body (and no share of the in-flight body budget).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;

use axum::http::StatusCode;
use common::{read_response, serve, TempStore};
use dora_ingest::webhook::tools;
use dora_sources::WebhookSettings;
use serde_json::{json, Value};

/// Declared, never sent: past any body limit, so a server that read bodies first would answer
/// `413` before looking at the headers.
const DECLARED_LENGTH: usize = 1 << 30;

/// `[webhooks.<tool>]` with a secret, or a token where the tool takes one.
fn keyed(tool: &str) -> WebhookSettings {
    ["secret", "token"]
        .iter()
        .find_map(|key| serde_json::from_value(json!({ tool: { *key: "k-0123456789" } })).ok())
        .unwrap_or_else(|| panic!("[webhooks.{tool}] takes neither a secret nor a token"))
}

/// Sends only the request head of a JSON POST to `/webhooks/<tool>` declaring
/// [`DECLARED_LENGTH`] bytes of body; returns the answer's status and problem.
fn post_head(address: std::net::SocketAddr, tool: &str) -> (StatusCode, Value) {
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST /webhooks/{tool} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {DECLARED_LENGTH}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    read_response(&mut stream)
}

#[tokio::test]
async fn a_request_without_the_token_or_signature_header_is_401_before_its_body_is_read() {
    let temp = TempStore::new("every", "auth-first").await;
    let tools: Vec<&str> = tools().collect();
    assert!(tools.len() >= 9, "{tools:?}");
    for tool in tools {
        let address = serve(&temp.store, keyed(tool)).await;
        let (status, problem) = tokio::task::spawn_blocking(move || post_head(address, tool))
            .await
            .unwrap();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{tool}: {problem}");
        let field = problem["field"].as_str().unwrap_or_default();
        assert!(!field.is_empty(), "{tool}: the problem names no header");
    }
}

#[tokio::test]
async fn without_a_key_the_same_request_is_judged_by_its_body_length() {
    // The control: unsigned, nothing stops the request before the body limit does.
    let temp = TempStore::new("every", "unsigned-413").await;
    let address = serve(&temp.store, WebhookSettings::default()).await;
    for tool in tools() {
        let (status, problem) = tokio::task::spawn_blocking(move || post_head(address, tool))
            .await
            .unwrap();
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{tool}: {problem}");
    }
}
