//! Where backfilled CloudEvents go, and the checkpoints that let an interrupted run resume.
//!
//! Into a database, each page's events are stored as `POST /webhooks/<tool>` stores a delivery
//! (the raw store, keyed by source and id, origin `events`) in one transaction with the page's
//! checkpoint. The checkpoint is a row of the `cursors` table (the one `import` resumes from),
//! named `backfill:<tool>:<api>/<repository or project>:<kind>:<since>..<until>`, holding how many pages of
//! that list are stored ([`DONE`] once the list is finished). A run that ends without errors sets
//! its checkpoints back to 0, so the next run reads everything again (and stores only what is
//! new); a run that fails leaves them, and the same command resumes after the last stored page.
//! `recompute` clears the `cursors` table: a backfill interrupted before it starts over.
//!
//! To a running server (`--url`, with its ingest token), each page's events are posted to
//! `POST /events` as batches of at most [`SERVER_BATCH`] (`application/cloudevents-batch+json`),
//! which stores them the same way; `429`/`503` are waited out (`Retry-After`, at most
//! [`MAX_SERVER_WAIT`], [`MAX_SERVER_RETRIES`] times). The server keeps no checkpoints for the
//! backfill: an interrupted run starts over, and what was sent already counts as duplicates.
//!
//! Into a database, each page's `ETag` is kept too (`backfill_pages`, by list name and page
//! URL, with the URL of the page after it), once its events are stored: the next run of the
//! same list asks with `If-None-Match`, and a page answered `304 Not Modified` is skipped with
//! all its objects (see [`crate::backfill::Lists::skips_unchanged`]). A server or a dry run
//! keeps no validators: every page is read.
//!
//! With `--dry-run` nothing is opened or stored: the events are only counted.

use std::time::Duration;

use anyhow::Context;
use dora_model::cloudevent::CloudEvent;
use dora_store::{NewRawEvent, Origin, PageValidator, Store};
use serde_json::Value;

/// Events per `POST /events` request.
pub const SERVER_BATCH: usize = 50;
/// The longest wait for an overloaded server.
pub const MAX_SERVER_WAIT: Duration = Duration::from_secs(30);
/// Waits per request for an overloaded server.
pub const MAX_SERVER_RETRIES: u32 = 10;

/// The checkpoint of a list read to its end in a run still under way.
pub const DONE: i64 = -1;

/// What one write did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Written {
    pub stored: u64,
    pub duplicates: u64,
    /// Larger than `ingest.max_event_bytes` (as the webhook endpoint would refuse them).
    pub rejected: u64,
}

/// The database, or nowhere (`--dry-run`).
pub enum Sink {
    DryRun,
    Store {
        store: Store,
        max_event_bytes: usize,
    },
    /// A running server: its `POST /events` URL, and a client carrying its ingest token.
    Server {
        client: reqwest::Client,
        events_url: String,
    },
}

impl Sink {
    /// The checkpoint named `name` (0 when there is none, or in a dry run).
    pub async fn checkpoint(&self, name: &str) -> anyhow::Result<i64> {
        match self {
            Sink::DryRun | Sink::Server { .. } => Ok(0),
            Sink::Store { store, .. } => Ok(store.cursor(name).await?.seq),
        }
    }

    /// The validator kept for page `url` of the list `name` (none in a dry run or to a server:
    /// they keep none).
    pub async fn page_validator(
        &self,
        name: &str,
        url: &str,
    ) -> anyhow::Result<Option<PageValidator>> {
        match self {
            Sink::DryRun | Sink::Server { .. } => Ok(None),
            Sink::Store { store, .. } => Ok(store.page_validator(name, url).await?),
        }
    }

    /// Keeps `validator` for page `url` of the list `name`, once the page's events are stored.
    pub async fn keep_page_validator(
        &self,
        name: &str,
        url: &str,
        validator: &PageValidator,
    ) -> anyhow::Result<()> {
        if let Sink::Store { store, .. } = self {
            store.keep_page_validator(name, url, validator).await?;
        }
        Ok(())
    }

    /// Forgets the page validators of the lists named `<prefix>...` but `name` (the same list
    /// over the windows of earlier runs).
    pub async fn forget_other_page_validators(
        &self,
        prefix: &str,
        name: &str,
    ) -> anyhow::Result<()> {
        if let Sink::Store { store, .. } = self {
            store.forget_other_page_validators(prefix, name).await?;
        }
        Ok(())
    }

    /// Stores `events` and moves the checkpoint `name` to `position`, in one transaction.
    pub async fn write(
        &self,
        events: Vec<CloudEvent>,
        name: &str,
        position: i64,
    ) -> anyhow::Result<Written> {
        let (store, max_event_bytes) = match self {
            Sink::DryRun => {
                return Ok(Written {
                    stored: events.len() as u64,
                    ..Written::default()
                })
            }
            Sink::Store {
                store,
                max_event_bytes,
            } => (store, *max_event_bytes),
            Sink::Server { client, events_url } => {
                return post_events(client, events_url, &events).await;
            }
        };
        let mut written = Written::default();
        let mut rows = Vec::with_capacity(events.len());
        for event in events {
            let content = event.to_json_string();
            if content.len() > max_event_bytes || event.check_storable().is_err() {
                written.rejected += 1;
                continue;
            }
            rows.push(NewRawEvent::received(event, content, Origin::Events));
        }
        let stored = store.import_raw(&rows, Some((name, position))).await?;
        written.stored = stored;
        written.duplicates = rows.len() as u64 - stored;
        Ok(written)
    }

    /// Sets the checkpoints of a finished run back to 0.
    pub async fn clear(&self, names: &[String]) -> anyhow::Result<()> {
        if let Sink::Store { store, .. } = self {
            for name in names {
                store.import_raw(&[], Some((name, 0))).await?;
            }
        }
        Ok(())
    }
}

/// Posts `events` to a server's `POST /events` in batches; what it stored and found duplicate.
async fn post_events(
    client: &reqwest::Client,
    url: &str,
    events: &[CloudEvent],
) -> anyhow::Result<Written> {
    let mut written = Written::default();
    for batch in events.chunks(SERVER_BATCH) {
        let body = Value::Array(batch.iter().map(CloudEvent::to_json).collect()).to_string();
        let answer = post_batch(client, url, body).await?;
        written.stored += answer["accepted"].as_u64().unwrap_or(0);
        written.duplicates += answer["duplicates"].as_u64().unwrap_or(0);
    }
    Ok(written)
}

/// One batch, waiting out `429` and `503`; the server's JSON answer.
async fn post_batch(client: &reqwest::Client, url: &str, body: String) -> anyhow::Result<Value> {
    let mut attempt = 0;
    loop {
        let response = client
            .post(url)
            .header("content-type", "application/cloudevents-batch+json")
            .body(body.clone())
            .send()
            .await
            .with_context(|| format!("POST {url}: no answer"))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok()?.trim().parse::<u64>().ok());
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(answer);
        }
        let overloaded = status.as_u16() == 429 || status.as_u16() == 503;
        if !overloaded || attempt >= MAX_SERVER_RETRIES {
            let detail = answer["detail"].as_str().unwrap_or("no detail");
            anyhow::bail!("POST {url}: the server answered {status}: {detail}");
        }
        attempt += 1;
        let wait = Duration::from_secs(retry_after.unwrap_or(1)).min(MAX_SERVER_WAIT);
        eprintln!(
            "POST {url}: {status}: waiting {} s before sending again",
            wait.as_secs()
        );
        tokio::time::sleep(wait).await;
    }
}
