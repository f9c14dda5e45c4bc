//! Group commit for ingest: concurrent requests are queued (bounded) and written by a few
//! writer tasks (one on SQLite), many requests per commit, so acknowledging only committed
//! events stays fast.
//!
//! A request waits for the transaction holding its events to commit; a full queue is refused at
//! once ([`WriteError::Overloaded`], which ingest answers with `503` and `Retry-After`), never
//! buffered without bound.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Mutex, Notify};

use crate::{NewRawEvent, Store, StoreError};

/// Why events could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The queue is full: the client should retry later.
    #[error("ingest queue is full")]
    Overloaded,
    /// The writer has stopped (shutdown).
    #[error("ingest writer has stopped")]
    Stopped,
    /// The database is away or busy; nothing of this request was stored (unless the connection
    /// was lost after the commit: a retry then reports duplicates).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database refused a value of this request's events (a [`crate::Blame::Event`] error,
    /// such as a number PostgreSQL cannot hold): the request is at fault, nothing was stored.
    #[error("the database refused the events: {0}")]
    Refused(String),
    /// Storing this request failed for a reason a retry will not cure.
    #[error("storing events failed: {0}")]
    Failed(String),
}

/// Where a request learns, per event, whether it was new (or why its events were not stored).
type Reply = oneshot::Sender<Result<Vec<bool>, WriteError>>;

struct WriteRequest {
    events: Vec<NewRawEvent>,
    reply: Reply,
}

/// Handle to the writer task; cheap to clone.
#[derive(Clone)]
pub struct RawWriter {
    queue: mpsc::Sender<WriteRequest>,
}

impl RawWriter {
    /// Starts the writer tasks. `queue_capacity` bounds waiting requests; `max_batch_events`
    /// bounds one transaction; `concurrent_commits` transactions may be in flight at once (on
    /// SQLite, which has one writer, always 1). `committed` is notified after every commit that
    /// stored something new.
    pub fn spawn(
        store: Store,
        queue_capacity: usize,
        max_batch_events: usize,
        concurrent_commits: usize,
        committed: Arc<Notify>,
    ) -> Self {
        let (queue, receiver) = mpsc::channel(queue_capacity.max(1));
        let receiver = Arc::new(Mutex::new(receiver));
        let writers = match store {
            Store::Sqlite(_) => 1,
            Store::Postgres(_) => concurrent_commits.max(1),
        };
        for _ in 0..writers {
            tokio::spawn(run(
                store.clone(),
                receiver.clone(),
                max_batch_events.max(1),
                committed.clone(),
            ));
        }
        Self { queue }
    }

    /// Stores the events (all or none) and returns, per event, whether it was new.
    pub async fn write(&self, events: Vec<NewRawEvent>) -> Result<Vec<bool>, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .try_send(WriteRequest { events, reply })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => WriteError::Overloaded,
                mpsc::error::TrySendError::Closed(_) => WriteError::Stopped,
            })?;
        answer.await.unwrap_or(Err(WriteError::Stopped))
    }
}

/// One writer: takes everything waiting (up to `max_batch_events`) from the shared queue,
/// commits it as one transaction, answers each request, and goes back for more. While one
/// writer commits, another can gather the next group.
async fn run(
    store: Store,
    receiver: Arc<Mutex<mpsc::Receiver<WriteRequest>>>,
    max_batch_events: usize,
    committed: Arc<Notify>,
) {
    let mut events: Vec<NewRawEvent> = Vec::new();
    let mut waiting: Vec<(usize, Reply)> = Vec::new();
    loop {
        {
            let mut receiver = receiver.lock().await;
            let Some(first) = receiver.recv().await else {
                return;
            };
            let mut next = Some(first);
            while let Some(mut request) = next.take() {
                waiting.push((request.events.len(), request.reply));
                events.append(&mut request.events);
                if events.len() < max_batch_events {
                    next = receiver.try_recv().ok();
                }
            }
        }
        match store.append_raw(&events).await {
            Ok(inserted) => {
                if inserted.iter().any(|new| *new) {
                    committed.notify_one();
                }
                let mut rest = inserted.as_slice();
                for (count, reply) in waiting.drain(..) {
                    let (mine, tail) = rest.split_at(count.min(rest.len()));
                    rest = tail;
                    let _ = reply.send(Ok(mine.to_vec()));
                }
            }
            Err(error) if error.is_unavailable() || waiting.len() == 1 => {
                tracing::warn!(error = %error, events = events.len(), "a group of raw events was not stored");
                for (_, reply) in waiting.drain(..) {
                    let _ = reply.send(Err(write_error(&error)));
                }
            }
            Err(error) => {
                // Not the database's fault: one request is likely to blame. Store each request on
                // its own, so the others do not fail with it.
                tracing::warn!(error = %error, requests = waiting.len(), "group failed; storing its requests one by one");
                let mut offset = 0;
                for (count, reply) in waiting.drain(..) {
                    let mine = &events[offset..offset + count];
                    offset += count;
                    let outcome = match store.append_raw(mine).await {
                        Ok(inserted) => {
                            if inserted.iter().any(|new| *new) {
                                committed.notify_one();
                            }
                            Ok(inserted)
                        }
                        Err(e) => Err(write_error(&e)),
                    };
                    let _ = reply.send(outcome);
                }
            }
        }
        events.clear();
    }
}

fn write_error(error: &StoreError) -> WriteError {
    if error.is_unavailable() {
        WriteError::Unavailable(error.to_string())
    } else if error.blame() == crate::Blame::Event {
        WriteError::Refused(error.to_string())
    } else {
        WriteError::Failed(error.to_string())
    }
}
