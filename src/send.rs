//! `dora-events send`: posts CloudEvent or CDEvent files (or standard input) to a running server,
//! in the content mode that fits, and reports what was accepted, duplicate or rejected, and why.
//!
//! A file holds one event, a JSON array of events, or JSON Lines. CloudEvents (objects with
//! `specversion`) go to `POST /events` in batches (`application/cloudevents-batch+json`); bare
//! CDEvents (objects with `context`) go to `POST /cdevents` as a JSON array. A batch refused for
//! a bad event is sent again event by event, so one bad event costs only itself.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::Value;

use crate::documents::{is_bare_cdevent, read_text};

/// Events with their position in their file (from 1).
type Numbered = Vec<(usize, Value)>;

/// Events per request.
const BATCH: usize = 500;

/// What the server said about the events sent.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SendReport {
    pub accepted: u64,
    pub duplicates: u64,
    /// Events refused: the file, the event's position in it (from 1) and the server's reason.
    pub rejected: Vec<String>,
}

/// Reads the events of a file (`-` for standard input): one JSON document, an array of them, or
/// JSON Lines (an empty file has none). A line that is not JSON is an error naming the file and
/// the line (counted from 1, blank lines skipped).
pub fn read_events(path: &Path) -> anyhow::Result<Vec<Value>> {
    let text = read_text(path)?;
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

/// One request's outcome: counts on success, else the status and the problem's detail.
async fn post_one(
    client: &reqwest::Client,
    url: &str,
    content_type: &str,
    events: &[Value],
) -> anyhow::Result<Result<(u64, u64), (reqwest::StatusCode, Value)>> {
    let response = client
        .post(url)
        .header("content-type", content_type)
        .body(Value::Array(events.to_vec()).to_string())
        .send()
        .await
        .with_context(|| format!("Failed to reach {url}"))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    Ok(if status.is_success() {
        Ok((
            body["accepted"].as_u64().unwrap_or(0),
            body["duplicates"].as_u64().unwrap_or(0),
        ))
    } else {
        Err((status, body))
    })
}

/// The problem's field and detail, for a rejection line.
fn reason(status: reqwest::StatusCode, problem: &Value) -> String {
    let field = problem["field"]
        .as_str()
        .map(|f| format!(" ({f})"))
        .unwrap_or_default();
    let detail = problem["detail"].as_str().unwrap_or("no detail");
    format!("{status}{field}: {detail}")
}

/// Posts `events` (the events of `file` at positions `first..`, counted from 1) in batches. A
/// batch the server refuses as a client error stores nothing, so its events are sent again one
/// by one: the good ones are stored and each bad one is reported with its position and reason.
async fn post(
    client: &reqwest::Client,
    url: &str,
    content_type: &str,
    events: &[(usize, Value)],
    file: &str,
    report: &mut SendReport,
) -> anyhow::Result<()> {
    for chunk in events.chunks(BATCH) {
        let values: Vec<Value> = chunk.iter().map(|(_, e)| e.clone()).collect();
        match post_one(client, url, content_type, &values).await? {
            Ok((accepted, duplicates)) => {
                report.accepted += accepted;
                report.duplicates += duplicates;
            }
            Err((status, _)) if status.is_client_error() && chunk.len() > 1 => {
                for (position, event) in chunk {
                    match post_one(client, url, content_type, std::slice::from_ref(event)).await? {
                        Ok((accepted, duplicates)) => {
                            report.accepted += accepted;
                            report.duplicates += duplicates;
                        }
                        Err((status, problem)) => report.rejected.push(format!(
                            "{file} event {position}: {}",
                            reason(status, &problem)
                        )),
                    }
                }
            }
            Err((status, problem)) => {
                let positions = match (chunk.first(), chunk.last()) {
                    (Some((first, _)), Some((last, _))) if first != last => {
                        format!("events {first} to {last}")
                    }
                    (Some((first, _)), _) => format!("event {first}"),
                    _ => "no events".to_owned(),
                };
                report
                    .rejected
                    .push(format!("{file} {positions}: {}", reason(status, &problem)));
            }
        }
    }
    Ok(())
}

/// Sends every event of the files to the server at `base` (e.g. `http://localhost:8080`), with
/// the ingest `token` when one is given.
pub async fn send(
    base: &str,
    token: Option<&str>,
    files: &[PathBuf],
) -> anyhow::Result<SendReport> {
    let base = base.trim_end_matches('/');
    let client = crate::client::client(reqwest::Client::builder(), token)?;
    let mut report = SendReport::default();
    for file in files {
        let events = read_events(file)?;
        let (cloudevents, cdevents): (Numbered, Numbered) = events
            .into_iter()
            .enumerate()
            .map(|(i, e)| (i + 1, e))
            .partition(|(_, e)| !is_bare_cdevent(e));
        let name = file.display().to_string();
        post(
            &client,
            &format!("{base}/events"),
            "application/cloudevents-batch+json",
            &cloudevents,
            &name,
            &mut report,
        )
        .await?;
        post(
            &client,
            &format!("{base}/cdevents"),
            "application/json",
            &cdevents,
            &name,
            &mut report,
        )
        .await?;
    }
    Ok(report)
}
