//! The router stage: reads raw CloudEvents after its cursor, sends each to the transformers its
//! routes name, validates what they emit, and stores CDEvents, failures and the new cursor in
//! one transaction. A failing transformer is recorded and never holds back other events; nor
//! does an event whose CDEvents the database refuses ([`Blame::Event`]): the batch is then
//! committed event by event and the refused one recorded in `transform_failures`.
//! External functions are never called here: a job per (event, function) is enqueued in the
//! same transaction, for the function worker ([`crate::functions`]).

use std::sync::Arc;

use dora_model::cdevent::CdEvent;
use dora_model::cloudevent::CloudEvent;
use dora_store::{
    Blame, NewCdEvent, NewFailure, Origin, Position, RawRecord, RouterOutput, Store, StoreError,
    ROUTER_CURSOR,
};
use serde_json::Value;

use crate::routing::RoutingTable;
use dora_sources::{cdevents, Emitted};

/// Moves the items matching `wanted` out of `items`, keeping their order.
fn take_where<T>(items: &mut Vec<T>, wanted: impl Fn(&T) -> bool) -> Vec<T> {
    let (taken, kept) = std::mem::take(items)
        .into_iter()
        .partition(|item| wanted(item));
    *items = kept;
    taken
}

/// How long `run_until_idle` waits for rows held back by a running transaction.
const PENDING_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Raw events read (the cursor moved past all of them).
    pub events: usize,
    /// CDEvents emitted (before de-duplication by the store).
    pub cdevents: usize,
    /// Transformations that failed.
    pub failures: usize,
    /// Calls of external functions enqueued (before de-duplication by the store).
    pub function_jobs: usize,
    /// Newer raw events exist that cannot be read in order yet (a transaction older than theirs
    /// is still running, PostgreSQL only): pass again shortly.
    pub pending: bool,
    /// The pass read as many raw events as one pass may (its batch size, or its text budget):
    /// more may be waiting, pass again at once.
    pub full: bool,
}

/// The router over one store.
#[derive(Debug, Clone)]
pub struct Router {
    store: Store,
    table: Arc<RoutingTable>,
    batch_size: i64,
}

/// Checks an emitted (or posted) CDEvent against its schema and reads the columns the store keeps.
pub fn validated_cdevent(document: &Value, transformer: &str) -> Result<NewCdEvent, String> {
    dora_spec::validate(document)
        .map_err(|e| format!("CDEvent is invalid at {}: {e}", e.field()))?;
    stored_cdevent(document, transformer)
}

/// Reads the columns the store keeps of a CDEvent whose schema was checked already: one that
/// `POST /cdevents` (or `dora-events import`) validated before storing it, passed through.
fn stored_cdevent(document: &Value, transformer: &str) -> Result<NewCdEvent, String> {
    let event = CdEvent::from_value(document).map_err(|e| format!("CDEvent is invalid: {e}"))?;
    Ok(columns(event, document, transformer))
}

/// The row of a CDEvent whose document is `document`.
fn columns(event: CdEvent, document: &Value, transformer: &str) -> NewCdEvent {
    NewCdEvent {
        id: event.id,
        source: event.source,
        event_type: event.event_type,
        subject_id: event.subject_id,
        subject_source: event.subject_source,
        timestamp: event.timestamp,
        content: document.to_string(),
        transformer: transformer.to_owned(),
    }
}

/// What the routes make of one CloudEvent.
#[derive(Debug, Clone, Default)]
pub struct Routed {
    /// The transformers the event went to, in order.
    pub transformers: Vec<String>,
    /// The CDEvents they emitted that passed validation.
    pub cdevents: Vec<NewCdEvent>,
    /// `(transformer, reason)` for each transformer that failed or emitted an invalid CDEvent.
    pub failures: Vec<(String, String)>,
}

/// Checks a CDEvent a transformer built: its document (written here, once) against its schema
/// and its indexed texts against the limits; the columns come from the typed value.
fn typed_cdevent(event: CdEvent, transformer: &str) -> Result<NewCdEvent, String> {
    let document = event.to_document();
    dora_spec::validate(&document)
        .map_err(|e| format!("CDEvent is invalid at {}: {e}", e.field()))?;
    CdEvent::check_limits(&document).map_err(|e| format!("CDEvent is invalid: {e}"))?;
    Ok(columns(event, &document, transformer))
}

/// Sends one CloudEvent to the transformers its routes name and validates what they emit: the
/// router's work on one event, without the store (`dora-events transform` runs it offline). An
/// event posted to `POST /cdevents` (`posted_as_cdevent`) also goes to the pass-through.
pub fn route_event(table: &RoutingTable, event: &CloudEvent, posted_as_cdevent: bool) -> Routed {
    let mut routed = Routed::default();
    for transformer in table.transformers_for(event, posted_as_cdevent) {
        let name = transformer.name();
        routed.transformers.push(name.to_owned());
        let emitted = match transformer.transform(event) {
            Ok(emitted) => emitted,
            Err(e) => {
                routed.failures.push((name.to_owned(), e.reason));
                continue;
            }
        };
        // What `POST /cdevents` validated is not validated again: its pass-through emits the
        // very document ingest checked against its schema. Every other output is checked.
        let validated_at_ingest = posted_as_cdevent && name == cdevents::PASS_THROUGH;
        let mut rejected = Vec::new();
        for cdevent in emitted {
            let checked = match cdevent {
                Emitted::Typed(event) => typed_cdevent(*event, name),
                Emitted::Verbatim(document) if validated_at_ingest => {
                    stored_cdevent(&document, name)
                }
                Emitted::Verbatim(document) => validated_cdevent(&document, name),
            };
            match checked {
                Ok(cdevent) => routed.cdevents.push(cdevent),
                Err(reason) => rejected.push(reason),
            }
        }
        if !rejected.is_empty() {
            routed.failures.push((name.to_owned(), rejected.join("; ")));
        }
    }
    routed
}

impl Router {
    pub fn new(store: Store, table: Arc<RoutingTable>, batch_size: i64) -> Self {
        Self {
            store,
            table,
            batch_size: batch_size.max(1),
        }
    }

    /// Routes the next batch of raw events after the cursor. `events == 0` means caught up.
    pub async fn run_pass(&self) -> Result<PassReport, StoreError> {
        let from = self.store.cursor(ROUTER_CURSOR).await?;
        let batch = self.store.raw_after(from, self.batch_size).await?;
        let pending = batch.more_pending;
        let batch = batch.records;
        let Some(last) = batch.last() else {
            return Ok(PassReport {
                pending,
                ..PassReport::default()
            });
        };
        let to = last.position;
        let mut output = RouterOutput::default();
        for record in &batch {
            self.route_one(record, &mut output);
        }
        let mut report = PassReport {
            events: batch.len(),
            cdevents: output.cdevents.len(),
            failures: output.failures.len(),
            function_jobs: output.function_jobs.len(),
            pending,
            full: batch.len() as i64 >= self.batch_size
                || dora_store::fills_text_budget(
                    batch.iter().map(|r| r.content.as_str()),
                    dora_store::PASS_TEXT_BYTES,
                ),
        };
        match self.store.commit_router_pass(from, to, &output).await {
            Ok(()) => {}
            Err(error) if error.blame() == Blame::Event => {
                tracing::warn!(error = %error, events = batch.len(),
                    "the database refused a router pass; storing its events one by one");
                report.failures += self.commit_one_by_one(from, &batch, output).await?;
            }
            Err(error) => return Err(error),
        }
        if report.failures > 0 {
            tracing::warn!(
                failures = report.failures,
                "some events could not be transformed; see GET /api/v1/failures"
            );
        }
        tracing::debug!(
            events = report.events,
            cdevents = report.cdevents,
            cursor = ?to,
            "router pass"
        );
        Ok(report)
    }

    /// Commits a batch the database refused as a whole, one raw event per transaction, so that
    /// only the event at fault is set aside: what it became is replaced by a failure naming the
    /// database's reason (or, should even that be refused, by nothing) and the cursor moves past
    /// it. A database error stops here, with the cursor after the events already committed.
    /// Returns how many events were set aside.
    async fn commit_one_by_one(
        &self,
        from: Position,
        batch: &[RawRecord],
        mut output: RouterOutput,
    ) -> Result<usize, StoreError> {
        let mut refused = 0;
        let mut position = from;
        for record in batch {
            let seq = record.seq();
            let own = RouterOutput {
                cdevents: take_where(&mut output.cdevents, |(raw, _)| *raw == seq),
                failures: take_where(&mut output.failures, |f| f.raw_seq == seq),
                function_jobs: take_where(&mut output.function_jobs, |(raw, _)| *raw == seq),
            };
            let error = match self
                .store
                .commit_router_pass(position, record.position, &own)
                .await
            {
                Ok(()) => {
                    position = record.position;
                    continue;
                }
                Err(error) if error.blame() == Blame::Event => error,
                Err(error) => return Err(error),
            };
            refused += 1;
            tracing::error!(raw_seq = seq, error = %error,
                "the database refused what a raw event became; recorded in transform_failures and skipped");
            let mut failures = own.failures;
            failures.push(NewFailure {
                raw_seq: seq,
                transformer: "router".into(),
                reason: format!("the database refused what this event became: {error}"),
            });
            let recorded = RouterOutput {
                failures,
                ..RouterOutput::default()
            };
            match self
                .store
                .commit_router_pass(position, record.position, &recorded)
                .await
            {
                Ok(()) => {}
                Err(error) if error.blame() == Blame::Event => {
                    tracing::error!(raw_seq = seq, error = %error,
                        "the database refused even the failure record of a raw event; skipped");
                    self.store
                        .commit_router_pass(position, record.position, &RouterOutput::default())
                        .await?;
                }
                Err(error) => return Err(error),
            }
            position = record.position;
        }
        Ok(refused)
    }

    fn route_one(&self, record: &RawRecord, output: &mut RouterOutput) {
        let seq = record.seq();
        let event = match CloudEvent::from_json_bytes(record.content.as_bytes()) {
            Ok(event) => event,
            Err(e) => {
                output.failures.push(NewFailure {
                    raw_seq: seq,
                    transformer: "router".into(),
                    reason: format!("stored event is not a valid CloudEvent: {e}"),
                });
                return;
            }
        };
        output.function_jobs.extend(
            self.table
                .functions_for(&event)
                .into_iter()
                .map(|name| (seq, name.to_owned())),
        );
        let routed = route_event(&self.table, &event, record.origin == Origin::Cdevents);
        output
            .cdevents
            .extend(routed.cdevents.into_iter().map(|cdevent| (seq, cdevent)));
        output
            .failures
            .extend(
                routed
                    .failures
                    .into_iter()
                    .map(|(transformer, reason)| NewFailure {
                        raw_seq: seq,
                        transformer,
                        reason,
                    }),
            );
    }

    /// Runs passes until caught up (waiting out pending rows); returns the summed report.
    pub async fn run_until_idle(&self) -> Result<PassReport, StoreError> {
        let mut total = PassReport::default();
        let mut pending_since: Option<std::time::Instant> = None;
        loop {
            let report = self.run_pass().await?;
            if report.events == 0 && report.pending {
                // Rows behind a still-running transaction: they are next once it ends. A
                // transaction that stays open holds them back; do not wait for it forever.
                let waiting = *pending_since.get_or_insert_with(std::time::Instant::now);
                if waiting.elapsed() > PENDING_PATIENCE {
                    return Err(StoreError::Corrupt {
                        seq: 0,
                        reason: format!(
                            "raw events stayed behind a running database transaction for {PENDING_PATIENCE:?}; \
                             a long-running transaction on the PostgreSQL cluster holds routing back (docs/scaling.md)"
                        ),
                    });
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            }
            pending_since = None;
            if report.events == 0 {
                return Ok(total);
            }
            total.events += report.events;
            total.cdevents += report.cdevents;
            total.failures += report.failures;
            total.function_jobs += report.function_jobs;
        }
    }
}
