//! The event browser: stored CloudEvents and CDEvents, as a history (`GET /api/v1/events`) and
//! as a live feed (`GET /api/v1/events/stream`, server-sent events).
//!
//! The live feed tails the store, so it shows what every ingest process stored and what every
//! router made of it, whichever process the browser talks to. One tailer per process polls
//! while somebody watches and stops when the last viewer leaves; viewers share it through a
//! bounded broadcast channel, and one that falls behind is told how many events it missed.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use dora_http::Problem;
use dora_store::{EventLog, EventQuery, EventRow, Store, TailStart};
use futures_util::Stream;
use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::{broadcast, Mutex, OwnedSemaphorePermit, Semaphore};

use crate::{only_params, store_problem, whole_number, ApiState};

/// How often the tailer looks for new events while somebody watches.
const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// Events read per log and poll.
const TAIL_BATCH: i64 = 500;
/// Events buffered for viewers; a viewer further behind skips ahead and is told.
const FEED_CAPACITY: usize = 1024;
/// Largest page of the history (with large events a page holds fewer: at most
/// `dora_store::PAGE_TEXT_BYTES` of their text, and always one).
const MAX_PAGE: i64 = 500;
/// Events larger than this reach the live feed without their JSON (`event` null, and their size
/// in `event_bytes`; the history shows them whole): the feed keeps its last [`FEED_CAPACITY`]
/// items for viewers, and this bounds what they hold (64 MiB).
const FEED_EVENT_BYTES: usize = 64 * 1024;
/// Viewers of the live feed at once, a process. A stream never idles (it sends a keep-alive
/// comment every 15 s), so without a cap viewers could take every connection the server
/// accepts; past it a viewer is answered `503` with `Retry-After`.
pub const MAX_FEED_VIEWERS: usize = 64;
/// Seconds a viewer turned away is asked to wait.
const FEED_RETRY_SECONDS: u64 = 5;
/// History pages' bytes a process holds at once, from reading a page until its last bytes are
/// handed to the connection (a slow reader holds its page that long): past it a page is `503`
/// with `Retry-After`. Held a permit per KiB.
pub const PAGE_BYTES_IN_FLIGHT: usize = 64 * 1024 * 1024;
/// What a page is held for before it is read: its text budget, the one event past it, and the
/// items' own fields.
const PAGE_RESERVE_BYTES: usize = 6 * 1024 * 1024;
/// The pieces a page is written in, so that its permit lasts until the last is taken.
const PAGE_PIECE_BYTES: usize = 64 * 1024;

/// One event as the browser shows it, in the history and in the live feed.
#[derive(Serialize)]
struct Item<'a> {
    kind: &'static str,
    seq: i64,
    id: &'a str,
    source: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
    time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    received_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    origin: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transformer: Option<&'a str>,
    event: &'a RawValue,
    /// The size of an event the live feed leaves out (see [`FEED_EVENT_BYTES`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    event_bytes: Option<usize>,
}

fn kind_name(log: EventLog) -> &'static str {
    match log {
        EventLog::CloudEvents => "cloudevent",
        EventLog::CdEvents => "cdevent",
    }
}

/// The JSON of a stored event, whole, or without the event past `max_event_bytes`. The stored
/// content is JSON written by the pipeline; should a row ever hold something else, it is shown
/// as a string rather than breaking the page.
fn item_json(log: EventLog, row: &EventRow, max_event_bytes: usize) -> String {
    let fallback;
    let left_out = (row.content.len() > max_event_bytes).then_some(row.content.len());
    let content = if left_out.is_some() {
        "null"
    } else {
        &row.content
    };
    let event = match serde_json::from_str::<&RawValue>(content) {
        Ok(raw) => raw,
        Err(_) => {
            fallback = RawValue::from_string(
                serde_json::to_string(&row.content).unwrap_or_else(|_| "null".into()),
            )
            .ok();
            match &fallback {
                Some(raw) => raw.as_ref(),
                None => return "{}".into(),
            }
        }
    };
    let format = dora_model::time::format_rfc3339;
    let item = Item {
        kind: kind_name(log),
        seq: row.seq,
        id: &row.id,
        source: &row.source,
        event_type: &row.event_type,
        time: row.time.as_ref().map(format),
        received_at: (log == EventLog::CloudEvents).then(|| format(&row.stored_at)),
        origin: (log == EventLog::CloudEvents).then_some(row.origin.as_str()),
        transformer: (log == EventLog::CdEvents).then_some(row.origin.as_str()),
        event,
        event_bytes: left_out,
    };
    serde_json::to_string(&item).unwrap_or_else(|_| "{}".into())
}

fn parse_log(params: &HashMap<String, String>) -> Result<Option<EventLog>, Problem> {
    match params.get("kind").map(String::as_str) {
        None => Ok(None),
        Some("cloudevents") => Ok(Some(EventLog::CloudEvents)),
        Some("cdevents") => Ok(Some(EventLog::CdEvents)),
        Some(other) => Err(Problem::bad_request(
            "invalid-parameter",
            "Invalid query parameter",
            "kind",
            format!("kind must be cloudevents or cdevents, got {other:?}"),
        )),
    }
}

/// A page of the history: `{"items": [...newest first], "next_before": seq | null}`.
#[derive(Serialize)]
pub struct EventPage {
    items: Vec<Box<RawValue>>,
    next_before: Option<i64>,
}

/// The filters the history and the live feed share, as `/openapi.json` describes them.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // described only; the routes parse the text
pub(crate) struct FeedParams {
    /// cloudevents or cdevents
    #[param(inline)]
    kind: Option<crate::params::EventKind>,
    /// Only types starting with this
    #[param(rename = "type", pattern = r"^[^\x00]*$")]
    event_type: Option<String>,
    /// Only sources starting with this
    #[param(pattern = r"^[^\x00]*$")]
    source: Option<String>,
}

/// Stored CloudEvents or CDEvents, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "events",
    params(
        FeedParams,
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "Items per page (default 50, at most 500)"),
        ("before" = Option<i64>, Query, minimum = 0, description = "Only events with a smaller sequence number (the previous page's next_before)")
    ),
    responses(
        (status = 200, description = "Stored events, newest first: `{items, next_before}`", body = Object, content_type = "application/json"),
        crate::params::QueryErrors
    )
)]
pub async fn list_events(
    State(state): State<ApiState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, Problem> {
    only_params(&params, &["kind", "limit", "before", "type", "source"])?;
    let log = parse_log(&params)?.unwrap_or_default();
    let limit = whole_number("limit", params.get("limit"), 1..=MAX_PAGE)?.unwrap_or(50);
    let query = EventQuery {
        log,
        before: whole_number("before", params.get("before"), 0..=i64::MAX)?,
        type_prefix: params.get("type").filter(|t| !t.is_empty()).cloned(),
        source_prefix: params.get("source").filter(|s| !s.is_empty()).cloned(),
        limit,
    };
    // What a page may take is held before it is read, so a page turned away costs no read;
    // what it did not take is given back once it is written out below.
    let held = state.feed.hold_page(PAGE_RESERVE_BYTES)?;
    let rows = state
        .store
        .list_events(&query)
        .await
        .map_err(store_problem)?;
    let full = rows.len() as i64 == limit
        || dora_store::fills_text_budget(
            rows.iter().map(|row| row.content.as_str()),
            dora_store::PAGE_TEXT_BYTES,
        );
    let next_before = match rows.last() {
        Some(last) if full => Some(last.seq),
        _ => None,
    };
    let items = rows
        .iter()
        .filter_map(|row| RawValue::from_string(item_json(log, row, usize::MAX)).ok())
        .collect();
    drop(rows);
    let body =
        serde_json::to_vec(&EventPage { items, next_before }).map_err(|e| Problem::internal(&e))?;
    let permit = state.feed.fit_page(held, body.len())?;
    Ok(held_json(body, permit))
}

/// Holds `bytes` (rounded up to KiB, at most the whole budget) of `budget`, a permit per KiB.
fn hold_kib(budget: &Arc<Semaphore>, bytes: usize) -> Result<OwnedSemaphorePermit, Problem> {
    let kib = u32::try_from(kib_of(bytes)).unwrap_or(u32::MAX);
    Arc::clone(budget).try_acquire_many_owned(kib).map_err(|_| {
        Problem::unavailable(
            "the event browser is answering as many pages as it holds at once",
            1,
        )
    })
}

/// `held` of `budget`, made to cover `bytes` ([`EventFeed::fit_page`]).
fn fit_kib(
    budget: &Arc<Semaphore>,
    mut held: OwnedSemaphorePermit,
    bytes: usize,
) -> Result<OwnedSemaphorePermit, Problem> {
    let needed = kib_of(bytes);
    let holds = held.num_permits();
    if needed < holds {
        drop(held.split(holds - needed));
    } else if needed > holds {
        held.merge(hold_kib(budget, (needed - holds) * 1024)?);
    }
    Ok(held)
}

/// `bytes` in KiB of [`PAGE_BYTES_IN_FLIGHT`]: rounded up, at least one, at most all.
fn kib_of(bytes: usize) -> usize {
    bytes.div_ceil(1024).clamp(1, PAGE_BYTES_IN_FLIGHT / 1024)
}

/// A JSON answer written in pieces, holding `permit` until the last piece is taken (hyper takes
/// the next piece once the previous is written or buffered).
fn held_json(body: Vec<u8>, permit: OwnedSemaphorePermit) -> Response {
    let body = Bytes::from(body);
    let pieces: Vec<Bytes> = (0..body.len())
        .step_by(PAGE_PIECE_BYTES)
        .map(|start| body.slice(start..(start + PAGE_PIECE_BYTES).min(body.len())))
        .collect();
    let stream = futures_util::stream::unfold(
        (pieces.into_iter(), permit),
        |(mut pieces, permit)| async move {
            let piece = pieces.next()?;
            Some((Ok::<_, Infallible>(piece), (pieces, permit)))
        },
    );
    (
        [(CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// An event on its way to the viewers, serialised once for all of them.
#[derive(Debug)]
pub struct FeedItem {
    log: EventLog,
    seq: i64,
    event_type: String,
    source: String,
    json: String,
}

/// The process's live feed of stored events.
pub struct EventFeed {
    store: Store,
    sender: broadcast::Sender<Arc<FeedItem>>,
    /// Whether a tailer task runs; taken together with subscribing, so that a viewer never
    /// joins a tailer that has just decided to stop.
    running: Mutex<bool>,
    /// A permit per viewer ([`MAX_FEED_VIEWERS`]), held by its stream.
    viewers: Arc<Semaphore>,
    /// A permit per KiB of history pages being answered ([`PAGE_BYTES_IN_FLIGHT`]).
    pages: Arc<Semaphore>,
}

/// A viewer's place in the feed: what reaches it, and its permit.
struct Viewer {
    receiver: broadcast::Receiver<Arc<FeedItem>>,
    _permit: OwnedSemaphorePermit,
}

impl EventFeed {
    pub fn new(store: Store) -> Arc<Self> {
        let (sender, _) = broadcast::channel(FEED_CAPACITY);
        Arc::new(Self {
            store,
            sender,
            running: Mutex::new(false),
            viewers: Arc::new(Semaphore::new(MAX_FEED_VIEWERS)),
            pages: Arc::new(Semaphore::new(PAGE_BYTES_IN_FLIGHT / 1024)),
        })
    }

    /// Holds `bytes` of a history page against [`PAGE_BYTES_IN_FLIGHT`] until the permit drops;
    /// `503` when the budget is spent.
    fn hold_page(&self, bytes: usize) -> Result<OwnedSemaphorePermit, Problem> {
        hold_kib(&self.pages, bytes)
    }

    /// `held`, made to cover `bytes`: what it holds beyond them given back, what it lacks taken
    /// (`503` when the budget is spent).
    fn fit_page(
        &self,
        held: OwnedSemaphorePermit,
        bytes: usize,
    ) -> Result<OwnedSemaphorePermit, Problem> {
        fit_kib(&self.pages, held, bytes)
    }

    /// Joins the feed: every event stored from now on reaches the receiver.
    async fn subscribe(self: &Arc<Self>) -> Result<Viewer, Problem> {
        let permit = Arc::clone(&self.viewers).try_acquire_owned().map_err(|_| {
            Problem::unavailable(
                format!("the live feed has {MAX_FEED_VIEWERS} viewers, as many as it takes"),
                FEED_RETRY_SECONDS,
            )
        })?;
        let mut running = self.running.lock().await;
        let receiver = self.sender.subscribe();
        if !*running {
            let start = [
                self.store
                    .tail_start(EventLog::CloudEvents)
                    .await
                    .map_err(store_problem)?,
                self.store
                    .tail_start(EventLog::CdEvents)
                    .await
                    .map_err(store_problem)?,
            ];
            *running = true;
            tokio::spawn(Arc::clone(self).tail(start));
        }
        Ok(Viewer {
            receiver,
            _permit: permit,
        })
    }

    /// Polls both logs and broadcasts what is new, until nobody watches.
    async fn tail(self: Arc<Self>, starts: [TailStart; 2]) {
        let logs = [EventLog::CloudEvents, EventLog::CdEvents];
        let [mut raw_start, mut cd_start] = starts;
        let mut positions = [raw_start.after, cd_start.after];
        let mut seen = [
            std::mem::take(&mut raw_start.seen),
            std::mem::take(&mut cd_start.seen),
        ];
        loop {
            {
                let mut running = self.running.lock().await;
                if self.sender.receiver_count() == 0 {
                    *running = false;
                    return;
                }
            }
            let mut full = false;
            let tails = logs
                .into_iter()
                .zip(positions.iter_mut())
                .zip(seen.iter_mut());
            for ((log, position), seen) in tails {
                match self.store.tail_events(log, *position, TAIL_BATCH).await {
                    Ok(rows) => {
                        full |= rows.len() as i64 == TAIL_BATCH
                            || dora_store::fills_text_budget(
                                rows.iter().map(|(_, row)| row.content.as_str()),
                                dora_store::PAGE_TEXT_BYTES,
                            );
                        for (next, row) in rows {
                            *position = next;
                            if seen.remove(&row.seq) {
                                continue; // stored before the tail began
                            }
                            let item = FeedItem {
                                log,
                                seq: row.seq,
                                json: item_json(log, &row, FEED_EVENT_BYTES),
                                event_type: row.event_type,
                                source: row.source,
                            };
                            // No receiver left is fine: the loop notices and stops.
                            let _ = self.sender.send(Arc::new(item));
                        }
                    }
                    Err(error) => {
                        tracing::warn!(error = %error, "live event feed: reading the store failed; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
            if !full {
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        }
    }
}

/// What one viewer asked to see.
struct FeedFilter {
    log: Option<EventLog>,
    type_prefix: Option<String>,
    source_prefix: Option<String>,
}

impl FeedFilter {
    fn admits(&self, item: &FeedItem) -> bool {
        self.log.is_none_or(|log| log == item.log)
            && self
                .type_prefix
                .as_deref()
                .is_none_or(|prefix| item.event_type.starts_with(prefix))
            && self
                .source_prefix
                .as_deref()
                .is_none_or(|prefix| item.source.starts_with(prefix))
    }
}

/// Events as they are stored, as server-sent events.
///
/// Named `cloudevent` and `cdevent` (data: an item of the history), and `lagged` (data: how
/// many this viewer skipped because it fell behind).
#[utoipa::path(
    get,
    path = "/api/v1/events/stream",
    tag = "events",
    params(FeedParams),
    responses(
        (status = 200, description = "Server-sent events `cloudevent` and `cdevent` (data: an item of the history; an event over 64 KiB comes without its JSON: `event` null, its size in `event_bytes`) and `lagged` (data: events skipped)", content_type = "text/event-stream"),
        (status = 400, description = "A parameter is unknown, repeated or invalid (named in `field`)", body = dora_http::ProblemDetails, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable, or the live feed has as many viewers as it takes (64 a process); retry after `Retry-After`", body = dora_http::ProblemDetails, content_type = "application/problem+json")
    )
)]
pub async fn stream_events(
    State(state): State<ApiState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Problem> {
    only_params(&params, &["kind", "type", "source"])?;
    let filter = FeedFilter {
        log: parse_log(&params)?,
        type_prefix: params.get("type").filter(|t| !t.is_empty()).cloned(),
        source_prefix: params.get("source").filter(|s| !s.is_empty()).cloned(),
    };
    let viewer = state.feed.subscribe().await?;
    let stream =
        futures_util::stream::unfold((viewer, filter), |(mut viewer, filter)| async move {
            loop {
                let event = match viewer.receiver.recv().await {
                    Ok(item) if filter.admits(&item) => Event::default()
                        .event(kind_name(item.log))
                        .id(item.seq.to_string())
                        .data(item.json.as_str()),
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(skipped)) => {
                        Event::default().event("lagged").data(skipped.to_string())
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                };
                return Some((Ok(event), (viewer, filter)));
            }
        });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pages_in_flight_are_held_to_the_budget_until_their_permits_drop() {
        let budget = Arc::new(Semaphore::new(PAGE_BYTES_IN_FLIGHT / 1024));
        let page = 4 * 1024 * 1024 + 1;
        let held: Vec<_> = (0..15).map(|_| hold_kib(&budget, page).unwrap()).collect();
        // 15 pages of 4 MiB and a KiB: what is left is less than another.
        let refused = hold_kib(&budget, page).unwrap_err();
        assert_eq!(refused.status, 503);
        assert_eq!(refused.retry_after, Some(1));
        assert!(hold_kib(&budget, 1).is_ok(), "small pages still fit");
        drop(held);
        assert!(hold_kib(&budget, page).is_ok());
        // A page larger than the whole budget waits for all of it rather than never fitting.
        assert!(hold_kib(&budget, 2 * PAGE_BYTES_IN_FLIGHT).is_ok());
    }

    #[test]
    fn a_page_held_before_its_read_keeps_only_what_it_takes() {
        let all = PAGE_BYTES_IN_FLIGHT / 1024;
        let budget = Arc::new(Semaphore::new(all));
        let held = hold_kib(&budget, PAGE_RESERVE_BYTES).unwrap();
        assert_eq!(budget.available_permits(), all - PAGE_RESERVE_BYTES / 1024);
        let small = fit_kib(&budget, held, 3000).unwrap();
        assert_eq!(
            (small.num_permits(), budget.available_permits()),
            (3, all - 3)
        );
        let large = fit_kib(&budget, small, 7 * 1024 * 1024).unwrap();
        assert_eq!(large.num_permits(), 7 * 1024);
        let _rest = hold_kib(&budget, (all - 7 * 1024) * 1024).unwrap();
        let refused = fit_kib(&budget, large, 8 * 1024 * 1024).unwrap_err();
        assert_eq!(refused.status, 503);
    }

    #[tokio::test]
    async fn a_held_page_keeps_its_permit_until_its_last_piece_is_taken() {
        use futures_util::StreamExt;
        let budget = Arc::new(Semaphore::new(PAGE_BYTES_IN_FLIGHT / 1024));
        let body = vec![b'x'; 3 * PAGE_PIECE_BYTES + 10];
        let response = held_json(body, hold_kib(&budget, 3 * PAGE_PIECE_BYTES + 10).unwrap());
        let free = |budget: &Arc<Semaphore>| budget.available_permits();
        assert_eq!(free(&budget), PAGE_BYTES_IN_FLIGHT / 1024 - 193);
        let mut stream = response.into_body().into_data_stream();
        let mut taken = 0;
        while let Some(piece) = stream.next().await {
            taken += piece.unwrap().len();
            if taken < 3 * PAGE_PIECE_BYTES + 10 {
                assert_eq!(free(&budget), PAGE_BYTES_IN_FLIGHT / 1024 - 193);
            }
        }
        assert_eq!(taken, 3 * PAGE_PIECE_BYTES + 10);
        assert_eq!(free(&budget), PAGE_BYTES_IN_FLIGHT / 1024);
    }
}
