//! Where backfilled CloudEvents go, and the checkpoints that let an interrupted run resume.
//!
//! Into a database, each page's events are stored as `POST /webhooks/github` stores a delivery
//! (the raw store, keyed by source and id, origin `events`) in one transaction with the page's
//! checkpoint. The checkpoint is a row of the `cursors` table (the one `import` resumes from),
//! named `backfill:github:<api>/<owner>/<name>:<kind>:<since>..<until>`, holding how many pages of
//! that list are stored ([`DONE`] once the list is finished). A run that ends without errors sets
//! its checkpoints back to 0, so the next run reads everything again (and stores only what is
//! new); a run that fails leaves them, and the same command resumes after the last stored page.
//! `recompute` clears the `cursors` table: a backfill interrupted before it starts over.
//!
//! With `--dry-run` nothing is opened or stored: the events are only counted.

use dora_model::cloudevent::CloudEvent;
use dora_store::{NewRawEvent, Origin, Store};

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
}

impl Sink {
    /// The checkpoint named `name` (0 when there is none, or in a dry run).
    pub async fn checkpoint(&self, name: &str) -> anyhow::Result<i64> {
        match self {
            Sink::DryRun => Ok(0),
            Sink::Store { store, .. } => Ok(store.cursor(name).await?.seq),
        }
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
