//! Reading an ingest request's body (**ingest** -> raw store -> ...): frame by frame, charging
//! the in-flight memory budget as bytes arrive (never from the declared length), enforcing the
//! size limit both from `Content-Length` and as bytes arrive, and answering `408` to a body that
//! stops moving or arrives slower than the minimum rate. A slow client therefore holds only the
//! budget for what it really sent, and only until its body times out.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode};
use dora_http::Problem;
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Budget charged per body byte, measured (BENCHMARKS.md, "Flood of large events"): while a
/// request is parsed, the body, the parsed event and the text stored for it; while it is
/// committed, that text, the driver's copy of the bound parameter and the database's own, and the
/// allocator's slack around blocks this large. With 3, peak memory grew by 2 bytes per byte of
/// budget; with 6 it grows by about 1.
pub const MEMORY_PER_BODY_BYTE: usize = 6;

/// Budget charged per JSON value of a body once it has arrived, for a body whose values are so
/// dense (`[0,0,0,…]`: two bytes a value) that parsing it takes more than
/// [`MEMORY_PER_BODY_BYTE`] covers: a parsed value is 32 bytes, and the arrays and maps holding
/// them up to twice that.
pub const MEMORY_PER_JSON_VALUE: usize = 64;
/// What the body itself and the text stored for it take besides its values, per body byte.
const MEMORY_PER_DENSE_BODY_BYTE: usize = 2;

/// About how many JSON values `body` holds: its `,`, `[` and `{` outside strings (every value
/// but a container's first follows a comma; every container opens one). Not JSON, or partly:
/// counted all the same (a charge, not a parse).
pub fn json_values(body: &[u8]) -> usize {
    let (mut values, mut in_string, mut escaped) = (0usize, false, false);
    for &byte in body {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match byte {
                b'"' => in_string = true,
                b',' | b'[' | b'{' => values += 1,
                _ => {}
            }
        }
    }
    values
}

/// Smallest buffer grown for a body, so that a trickle of tiny frames does not reallocate for each.
const INITIAL_BUFFER: usize = 8 * 1024;

/// How long a body may take to arrive.
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeouts {
    /// A body that sends nothing for this long is answered `408`; also the grace period before
    /// `min_bytes_per_second` applies.
    pub stall: Duration,
    /// After `stall`, the body must have arrived at this average rate (0: no minimum).
    pub min_bytes_per_second: u64,
}

impl Default for BodyTimeouts {
    fn default() -> Self {
        Self {
            stall: Duration::from_secs(10),
            min_bytes_per_second: 1024,
        }
    }
}

/// The part of the in-flight budget a request holds (released when dropped).
pub struct Charge {
    budget: Arc<Semaphore>,
    permit: Option<OwnedSemaphorePermit>,
    charged_kib: u32,
}

impl Charge {
    fn new(budget: Arc<Semaphore>) -> Self {
        Self {
            budget,
            permit: None,
            charged_kib: 0,
        }
    }

    /// Extends the charge to cover `body_bytes` received; `Err` when the budget has no room.
    fn cover(&mut self, body_bytes: usize) -> Result<(), Problem> {
        self.cover_memory(body_bytes.saturating_mul(MEMORY_PER_BODY_BYTE))
    }

    /// Extends the charge to cover the parse of the whole `body` when its values are dense
    /// ([`MEMORY_PER_JSON_VALUE`]): `503` when the budget has no room now, `413` when a budget
    /// of `capacity_kib` never would.
    pub fn cover_parse(&mut self, body: &[u8], capacity_kib: usize) -> Result<(), Problem> {
        let values = json_values(body);
        let parsed = values
            .saturating_mul(MEMORY_PER_JSON_VALUE)
            .saturating_add(body.len().saturating_mul(MEMORY_PER_DENSE_BODY_BYTE));
        if parsed.div_ceil(1024) > capacity_kib {
            return Err(Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Payload too large",
                format!(
                    "this body's {values} JSON values would take {} MiB to parse, more than \
                     ingest.max_in_flight_bytes; send fewer at a time",
                    parsed.div_ceil(1024 * 1024)
                ),
            )
            .with_field("body"));
        }
        self.cover_memory(parsed)
    }

    /// Extends the charge to `memory` bytes (never shrinks it).
    fn cover_memory(&mut self, memory: usize) -> Result<(), Problem> {
        let kib = u32::try_from(memory.div_ceil(1024)).unwrap_or(u32::MAX);
        let more = kib.saturating_sub(self.charged_kib);
        if more == 0 {
            return Ok(());
        }
        let permit = self
            .budget
            .clone()
            .try_acquire_many_owned(more)
            .map_err(|_| {
                Problem::unavailable("too much is being ingested right now; retry shortly", 1)
                    .closing_connection()
            })?;
        match &mut self.permit {
            Some(held) => held.merge(permit),
            None => self.permit = Some(permit),
        }
        self.charged_kib = kib;
        Ok(())
    }

    /// KiB of budget held.
    pub fn kib(&self) -> u32 {
        self.charged_kib
    }
}

/// When a body still arriving must have made more progress.
struct Pace {
    timeouts: BodyTimeouts,
    started: Instant,
    last_progress: Instant,
}

impl Pace {
    fn start(timeouts: BodyTimeouts) -> Self {
        let now = Instant::now();
        Self {
            timeouts,
            started: now,
            last_progress: now,
        }
    }

    /// The instant by which the next bytes must arrive, and what it enforces.
    fn deadline(&self, received: usize) -> (Instant, Lateness) {
        let stalled = self.last_progress + self.timeouts.stall;
        if self.timeouts.min_bytes_per_second == 0 {
            return (stalled, Lateness::Stalled);
        }
        // After the grace period the body must have `rate * (t - started - stall)` bytes: with
        // `received` so far, that fails at `started + stall + received / rate`.
        let earned =
            Duration::from_secs_f64(received as f64 / self.timeouts.min_bytes_per_second as f64);
        let too_slow = self.started + self.timeouts.stall + earned;
        if too_slow < stalled {
            (too_slow, Lateness::TooSlow)
        } else {
            (stalled, Lateness::Stalled)
        }
    }
}

enum Lateness {
    Stalled,
    TooSlow,
}

/// The `Content-Length` a request declares, if any.
fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
}

fn too_large(limit: usize) -> Problem {
    Problem::payload_too_large(limit, "this request's body").closing_connection()
}

fn too_slow(lateness: Lateness, timeouts: BodyTimeouts) -> Problem {
    let detail = match lateness {
        Lateness::Stalled => format!(
            "the request body stopped arriving for {}s",
            timeouts.stall.as_secs_f64()
        ),
        Lateness::TooSlow => format!(
            "the request body arrived slower than {} bytes/s",
            timeouts.min_bytes_per_second
        ),
    };
    Problem::new(
        StatusCode::REQUEST_TIMEOUT,
        "body-timeout",
        "Request body too slow",
        detail,
    )
    .closing_connection()
}

/// Reads a body of at most `limit` bytes, charging `budget` as it arrives; the [`Charge`] must be
/// held for as long as the body or what is parsed from it is.
pub async fn read_body(
    budget: &Arc<Semaphore>,
    timeouts: BodyTimeouts,
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<(Bytes, Charge), Problem> {
    let declared = declared_length(headers);
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large(limit));
    }
    let mut charge = Charge::new(Arc::clone(budget));
    let mut buffer: Vec<u8> = Vec::new();
    let mut pace = Pace::start(timeouts);
    let mut body = body;
    loop {
        let (deadline, lateness) = pace.deadline(buffer.len());
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return Err(too_slow(lateness, timeouts)),
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(Problem::bad_request(
                    "unreadable-body",
                    "Unreadable body",
                    "body",
                    format!("could not read the body: {e}"),
                ))
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        if data.is_empty() {
            continue;
        }
        let received = buffer.len().saturating_add(data.len());
        if received > limit {
            return Err(too_large(limit));
        }
        charge.cover(received)?;
        if buffer.capacity() < received {
            // Grow by doubling, but never past what was declared (or the limit): the buffer is
            // at most twice what arrived, which the charge covers.
            let ceiling = declared.unwrap_or(limit).max(received);
            let wanted = (buffer.capacity() * 2)
                .max(INITIAL_BUFFER)
                .max(received)
                .min(ceiling);
            buffer.reserve_exact(wanted - buffer.len());
        }
        // Copied out of the connection's read buffer, so a frame never pins a larger buffer.
        buffer.extend_from_slice(&data);
        pace.last_progress = Instant::now();
    }
    Ok((Bytes::from(buffer), charge))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn budget(kib: usize) -> Arc<Semaphore> {
        Arc::new(Semaphore::new(kib))
    }

    #[test]
    fn json_values_are_counted_outside_strings() {
        assert_eq!(json_values(b"{}"), 1);
        assert_eq!(json_values(b"[0,0,0]"), 3);
        assert_eq!(json_values(br#"{"a": [1, {"b": "x,[{"}], "c": "\"{,"}"#), 5);
        assert_eq!(json_values(b"plain text, with a comma"), 1);
    }

    #[test]
    fn dense_bodies_are_charged_for_their_values_and_refused_when_no_budget_could_hold_them() {
        let budget = budget(64 * 1024);
        // 1 MiB of zeros: 524,288 values of 64 bytes and 2 bytes a byte, 34 MiB; 6 MiB by size.
        let zeros = format!("[{}0]", "0,".repeat(512 * 1024 - 1));
        let mut charge = Charge::new(Arc::clone(&budget));
        charge.cover(zeros.len()).unwrap();
        let kib = |bytes: usize| u32::try_from(bytes.div_ceil(1024)).unwrap();
        assert_eq!(charge.kib(), kib(6 * zeros.len()));
        charge.cover_parse(zeros.as_bytes(), 64 * 1024).unwrap();
        assert_eq!(charge.kib(), kib(524_288 * 64 + 2 * zeros.len()));
        assert_eq!(budget.available_permits(), 64 * 1024 - 34 * 1024 - 1);
        // A sparse body keeps its charge by size.
        let text = format!(r#"{{"data": "{}"}}"#, "x".repeat(1024 * 1024));
        let mut sparse = Charge::new(Arc::clone(&budget));
        sparse.cover(text.len()).unwrap();
        let by_size = sparse.kib();
        sparse.cover_parse(text.as_bytes(), 64 * 1024).unwrap();
        assert_eq!(sparse.kib(), by_size);
        // No budget of 16 MiB could parse the zeros: 413, not a 503 to retry forever.
        let mut too_dense = Charge::new(budget);
        let refused = too_dense
            .cover_parse(zeros.as_bytes(), 16 * 1024)
            .unwrap_err();
        assert_eq!(refused.status, 413);
        assert_eq!(refused.field.as_deref(), Some("body"));
    }

    /// Why reading `body` (default timeouts) failed.
    async fn read_error(
        budget: &Arc<Semaphore>,
        headers: &HeaderMap,
        body: Body,
        limit: usize,
    ) -> Problem {
        read_body(budget, BodyTimeouts::default(), headers, body, limit)
            .await
            .err()
            .unwrap()
    }

    /// Reads `body` (default timeouts, 10,000 bytes at most) in a task of its own, for a test
    /// that feeds it.
    fn spawn_read(
        budget: &Arc<Semaphore>,
        body: Body,
    ) -> tokio::task::JoinHandle<Result<(Bytes, Charge), Problem>> {
        let budget = Arc::clone(budget);
        tokio::spawn(async move {
            read_body(
                &budget,
                BodyTimeouts::default(),
                &HeaderMap::new(),
                body,
                10_000,
            )
            .await
        })
    }

    /// A body of these frames, all ready at once.
    fn chunked(chunks: Vec<&'static [u8]>) -> Body {
        let frames = chunks
            .into_iter()
            .map(|c| Ok::<_, std::io::Error>(Bytes::from_static(c)));
        Body::from_stream(futures_util::stream::iter(frames))
    }

    #[tokio::test]
    async fn the_budget_is_charged_for_bytes_received_not_declared() {
        let budget = budget(100);
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(10_000_000));
        let body = chunked(vec![&[b'x'; 700], &[b'y'; 700]]);
        let (bytes, charge) =
            read_body(&budget, BodyTimeouts::default(), &headers, body, 20_000_000)
                .await
                .unwrap();
        assert_eq!(bytes.len(), 1400);
        // 1400 bytes at 6 bytes each: 8400 bytes, 9 KiB; not the 10 MB declared.
        assert_eq!(charge.kib(), 9);
        assert_eq!(budget.available_permits(), 91);
        drop(charge);
        assert_eq!(budget.available_permits(), 100);
    }

    #[tokio::test]
    async fn limits_apply_to_declared_and_received_lengths() {
        let budget = budget(1000);
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(11));
        let error = read_error(&budget, &headers, Body::empty(), 10).await;
        assert_eq!(error.status, 413);
        assert!(error.close_connection);
        let body = chunked(vec![b"123456", b"78901"]);
        let error = read_error(&budget, &HeaderMap::new(), body, 10).await;
        assert_eq!(error.status, 413);
        assert_eq!(budget.available_permits(), 1000);
    }

    #[tokio::test]
    async fn an_exhausted_budget_answers_503_with_retry_after() {
        let budget = budget(1);
        let body = chunked(vec![&[b'x'; 300], &[b'x'; 300]]);
        let error = read_error(&budget, &HeaderMap::new(), body, 10_000).await;
        assert_eq!(error.status, 503);
        assert_eq!(error.retry_after, Some(1));
        assert_eq!(budget.available_permits(), 1);
    }

    /// A body fed by the test, frame by frame.
    fn channel() -> (tokio::sync::mpsc::Sender<Bytes>, Body) {
        let (sender, receiver) = tokio::sync::mpsc::channel(16);
        let frames = futures_util::stream::unfold(receiver, |mut receiver| async move {
            let frame = receiver.recv().await?;
            Some((Ok::<_, std::io::Error>(frame), receiver))
        });
        (sender, Body::from_stream(frames))
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_gets_408_and_releases_its_charge() {
        let budget = budget(1000);
        let (sender, body) = channel();
        let reading = spawn_read(&budget, body);
        sender
            .send(Bytes::from_static(&[b'x'; 2000]))
            .await
            .unwrap();
        let error = reading.await.unwrap().err().unwrap();
        assert_eq!(error.status, 408);
        assert!(error.close_connection);
        assert!(
            error.detail.contains("stopped arriving"),
            "{}",
            error.detail
        );
        assert_eq!(budget.available_permits(), 1000);
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_below_the_minimum_rate_gets_408_though_it_never_stalls() {
        let budget = budget(1000);
        let (sender, body) = channel();
        let started = Instant::now();
        let reading = spawn_read(&budget, body);
        // One byte a second: never 10 s without a byte, but far below 1024 bytes/s.
        let trickle = tokio::spawn(async move {
            while sender.send(Bytes::from_static(b"x")).await.is_ok() {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        let error = reading.await.unwrap().err().unwrap();
        assert_eq!(error.status, 408);
        assert!(
            error.detail.contains("slower than 1024"),
            "{}",
            error.detail
        );
        let took = started.elapsed();
        assert!(
            took >= Duration::from_secs(10) && took < Duration::from_secs(11),
            "{took:?}"
        );
        trickle.abort();
    }
}
