//! `dora-events send`: posts CloudEvent or CDEvent files (or standard input) to a running server,
//! in the content mode that fits, and reports what was accepted, duplicate or rejected, and why.
//!
//! A file holds one event, a JSON array of events, or JSON Lines. CloudEvents (objects with
//! `specversion`) go to `POST /events` in batches (`application/cloudevents-batch+json`); bare
//! CDEvents (objects with `context`) go to `POST /cdevents` as a JSON array.

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use serde_json::Value;

/// Events per request.
const BATCH: usize = 500;

/// What the server said about the events sent.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SendReport {
    pub accepted: u64,
    pub duplicates: u64,
    /// Events refused, with the server's reason (the problem detail).
    pub rejected: Vec<String>,
}

/// Reads the events of a file (`-` for standard input).
pub fn read_events(path: &PathBuf) -> anyhow::Result<Vec<Value>> {
    let text = if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("Failed to read standard input")?;
        text
    } else {
        std::fs::read_to_string(path)
            .with_context(|| format!("Failed to read {}", path.display()))?
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Array(items)) => Ok(items),
        Ok(value) => Ok(vec![value]),
        Err(_) => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, line)| {
                serde_json::from_str(line)
                    .with_context(|| format!("{} line {}: not JSON", path.display(), i + 1))
            })
            .collect(),
    }
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    content_type: &str,
    events: &[Value],
    report: &mut SendReport,
) -> anyhow::Result<()> {
    for chunk in events.chunks(BATCH) {
        let response = client
            .post(url)
            .header("content-type", content_type)
            .body(Value::Array(chunk.to_vec()).to_string())
            .send()
            .await
            .with_context(|| format!("Failed to reach {url}"))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            report.accepted += body["accepted"].as_u64().unwrap_or(0);
            report.duplicates += body["duplicates"].as_u64().unwrap_or(0);
        } else {
            let index = body["index"]
                .as_u64()
                .map(|i| format!(" (event {i} of the request)"))
                .unwrap_or_default();
            report.rejected.push(format!(
                "{} events refused with {status}{index}: {}",
                chunk.len(),
                body["detail"].as_str().unwrap_or("no detail")
            ));
        }
    }
    Ok(())
}

/// Sends every event of the files to the server at `base` (e.g. `http://localhost:8080`).
pub async fn send(base: &str, files: &[PathBuf]) -> anyhow::Result<SendReport> {
    let base = base.trim_end_matches('/');
    let client = reqwest::Client::new();
    let mut report = SendReport::default();
    for file in files {
        let events = read_events(file)?;
        let (cloudevents, cdevents): (Vec<Value>, Vec<Value>) = events
            .into_iter()
            .partition(|e| e.get("specversion").is_some() || e.get("context").is_none());
        post(
            &client,
            &format!("{base}/events"),
            "application/cloudevents-batch+json",
            &cloudevents,
            &mut report,
        )
        .await?;
        post(
            &client,
            &format!("{base}/cdevents"),
            "application/json",
            &cdevents,
            &mut report,
        )
        .await?;
    }
    Ok(report)
}
