//! The HTTP server loop, in front of every stage (ingest, queries, health): accepts connections
//! up to `http.max_connections`, serves each with hyper under a header read timeout, an idle
//! keep-alive timeout and a write timeout, closes connections lingering (so that a client still
//! writing a refused body reads the answer instead of a reset), and shuts down gracefully.
//!
//! Body timeouts are the ingest stage's own (`dora_ingest::body`): only it reads large bodies.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Context as _;
use axum::body::Body;
use dora_http::connections::{Closed, ConnectionCounters};
use dora_http::telemetry::Telemetry;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tower::ServiceExt;

use crate::config::HttpSettings;

/// After a connection's last answer, how much of an unread request body is read and thrown away
/// (so that its client, still writing, reads the answer), and how long each read may wait.
const LINGER_MAX_BYTES: u64 = 32 * 1024 * 1024;
const LINGER_READ_TIMEOUT: Duration = Duration::from_secs(2);

/// The longest pause between retries of a failing `accept` (out of file descriptors).
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// How often the same warning (connection cap, accept errors) may be logged.
const WARNING_INTERVAL: Duration = Duration::from_secs(60);

/// Descriptors kept for everything but client connections (database, files, outgoing calls).
const RESERVED_DESCRIPTORS: u64 = 128;

/// The limits the server loop enforces (the `[http]` settings).
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    /// A response the client does not read for this long closes the connection; also bounds
    /// lingering.
    pub write_stall_timeout: Duration,
    pub max_connections: usize,
    pub max_header_bytes: usize,
    pub shutdown_timeout: Duration,
}

impl ServerLimits {
    pub fn from_settings(http: &HttpSettings) -> Self {
        Self {
            header_read_timeout: http.header_read_timeout,
            idle_timeout: http.idle_timeout,
            write_stall_timeout: http.body_stall_timeout,
            max_connections: http.max_connections,
            max_header_bytes: http.max_header_bytes,
            shutdown_timeout: http.shutdown_timeout,
        }
    }
}

/// What the connections are told to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Serving,
    /// Finish the request in flight, then close.
    Draining,
    /// Close now.
    Abort,
}

/// Serves `app` on `listener` until `stop` turns true, then lets requests in flight finish (for
/// at most `shutdown_timeout`).
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: ServerLimits,
    telemetry: Arc<Telemetry>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let max_connections = connection_cap(limits.max_connections);
    let mut acceptor = Acceptor::new(listener, max_connections, Arc::clone(&telemetry));
    let (phase, _) = watch::channel(Phase::Serving);
    let stopped = async move {
        let _ = stop.wait_for(|stopped| *stopped).await;
    };
    tokio::pin!(stopped);
    loop {
        let (slot, stream) = tokio::select! {
            accepted = acceptor.next() => accepted?,
            () = &mut stopped => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let telemetry = Arc::clone(&telemetry);
        let phase = phase.subscribe();
        tokio::spawn(async move {
            let counters = &telemetry.connections;
            counters.opened();
            serve_connection(stream, app, limits, phase, counters).await;
            counters.finished();
            drop(slot);
        });
    }
    let Acceptor {
        listener, slots, ..
    } = acceptor;
    drop(listener);
    drain(
        &phase,
        &slots,
        max_connections,
        limits.shutdown_timeout,
        &telemetry,
    )
    .await;
    Ok(())
}

/// Accepts connections while a slot is free (one of `max_connections`), warning at most once a
/// [`WARNING_INTERVAL`] when the cap is reached or `accept` fails.
struct Acceptor {
    listener: TcpListener,
    slots: Arc<Semaphore>,
    max_connections: usize,
    telemetry: Arc<Telemetry>,
    cap_warning: Throttled,
    accept_warning: Throttled,
    /// The pause after a failed `accept`, doubled by each failure in a row.
    backoff: Duration,
}

impl Acceptor {
    fn new(listener: TcpListener, max_connections: usize, telemetry: Arc<Telemetry>) -> Self {
        Self {
            listener,
            slots: Arc::new(Semaphore::new(max_connections)),
            max_connections,
            telemetry,
            cap_warning: Throttled::new(),
            accept_warning: Throttled::new(),
            backoff: Duration::ZERO,
        }
    }

    /// The next connection, with the slot it holds until it closes.
    async fn next(&mut self) -> anyhow::Result<(OwnedSemaphorePermit, TcpStream)> {
        loop {
            let slot = self.slot().await?;
            if let Some(stream) = self.accept().await {
                return Ok((slot, stream));
            }
        }
    }

    /// A free slot, waiting for one (with a warning) while `max_connections` are open.
    async fn slot(&mut self) -> anyhow::Result<OwnedSemaphorePermit> {
        if let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() {
            return Ok(slot);
        }
        self.telemetry.connections.limit_reached();
        if let Some(suppressed) = self.cap_warning.due() {
            tracing::warn!(
                max_connections = self.max_connections,
                since_last_warning = suppressed,
                "http.max_connections connections are open: new connections wait until one closes"
            );
        }
        Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .context("connection slots closed")
    }

    /// A connection, or `None` after a failed `accept` once backed off.
    async fn accept(&mut self) -> Option<TcpStream> {
        match self.listener.accept().await {
            Ok((stream, _)) => {
                self.backoff = Duration::ZERO;
                Some(stream)
            }
            Err(error) => {
                self.telemetry.connections.accept_failed();
                if let Some(suppressed) = self.accept_warning.due() {
                    tracing::warn!(%error, since_last_warning = suppressed, "failed to accept a connection");
                }
                // Out of descriptors (or memory) the pending connection stays pending: retrying
                // at once would spin. Back off, up to a second.
                self.backoff =
                    (self.backoff * 2).clamp(Duration::from_millis(10), ACCEPT_BACKOFF_MAX);
                tokio::time::sleep(self.backoff).await;
                None
            }
        }
    }
}

/// Tells the connections to finish the request in flight and close, waits for them for at most
/// `shutdown_timeout`, then closes those still open.
async fn drain(
    phase: &watch::Sender<Phase>,
    slots: &Semaphore,
    max_connections: usize,
    shutdown_timeout: Duration,
    telemetry: &Telemetry,
) {
    let _ = phase.send(Phase::Draining);
    let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(shutdown_timeout, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            open = telemetry.connections.open(),
            "connections still busy after http.shutdown_timeout: closing them"
        );
        let _ = phase.send(Phase::Abort);
        let _ = slots.acquire_many(all).await;
    }
}

/// `max_connections`, lowered to fit the process's open-file limit (with a warning).
fn connection_cap(configured: usize) -> usize {
    let Some(limit) = open_file_limit() else {
        return configured;
    };
    let fitting = usize::try_from(limit.saturating_sub(RESERVED_DESCRIPTORS))
        .unwrap_or(usize::MAX)
        .max(1);
    if configured > fitting {
        tracing::warn!(
            max_connections = configured,
            open_file_limit = limit,
            using = fitting,
            "http.max_connections does not fit the open-file limit (ulimit -n); lowered"
        );
        return fitting;
    }
    configured
}

/// The soft limit on open files, from `/proc/self/limits` (Linux).
fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Logs at most once per [`WARNING_INTERVAL`], counting what it left out.
struct Throttled {
    last: Option<Instant>,
    suppressed: u64,
}

impl Throttled {
    fn new() -> Self {
        Self {
            last: None,
            suppressed: 0,
        }
    }

    /// `Some(occurrences left unlogged since the last warning)` when a warning is due.
    fn due(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < WARNING_INTERVAL)
        {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

/// Serves one connection until it ends, times out or the server stops.
async fn serve_connection(
    stream: TcpStream,
    app: axum::Router,
    limits: ServerLimits,
    mut phase: watch::Receiver<Phase>,
    counters: &ConnectionCounters,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        stream,
        activity: Arc::clone(&activity),
    });
    let service = {
        let activity = Arc::clone(&activity);
        hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let open = OpenRequest::start(Arc::clone(&activity));
            let app = app.clone();
            let answer: Pin<Box<dyn Future<Output = _> + Send>> = Box::pin(async move {
                let response = app.oneshot(request.map(Body::new)).await;
                // The request stays open until its response body is written.
                response.map(|response| response.map(|body| Tracked { body, _open: open }))
            });
            answer
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .keep_alive(true)
        .header_read_timeout(None)
        .max_buf_size(limits.max_header_bytes);
    let mut connection = builder.serve_connection(io, service);
    let mut draining = false;
    let ended = loop {
        let wake = activity.changed.notified();
        let deadline = activity.deadline(&limits);
        let event = tokio::select! {
            result = std::future::poll_fn(|cx| connection.poll_without_shutdown(cx)) => Event::Ended(result),
            changed = phase.changed() => match changed {
                Ok(()) => Event::Phase(*phase.borrow_and_update()),
                Err(_) => Event::Phase(Phase::Abort),
            },
            () = sleep_until(deadline.map(|(at, _)| at)) => Event::Check,
            () = wake => Event::Check,
        };
        match event {
            Event::Ended(result) => break result,
            Event::Phase(Phase::Serving) => {}
            Event::Phase(Phase::Draining) => {
                if !draining {
                    draining = true;
                    Pin::new(&mut connection).graceful_shutdown();
                }
            }
            Event::Phase(Phase::Abort) => {
                counters.closed_by_server(Closed::Shutdown);
                return;
            }
            Event::Check => {
                if let Some((at, why)) = activity.deadline(&limits) {
                    if Instant::now() >= at {
                        tracing::debug!(reason = why.label(), "closing a connection");
                        counters.closed_by_server(why);
                        return;
                    }
                }
            }
        }
    };
    match ended {
        Ok(()) => {
            let stream = connection.into_parts().io.into_inner().stream;
            linger(stream, limits.write_stall_timeout).await;
        }
        Err(error) => tracing::debug!(%error, "connection ended with an error"),
    }
}

enum Event {
    Ended(hyper::Result<()>),
    Phase(Phase),
    Check,
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Closes our side, then reads and throws away what the client still sends (bounded), so that a
/// client writing a body the server refused reads the answer rather than a reset.
async fn linger(mut stream: TcpStream, at_most: Duration) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let until = Instant::now() + at_most;
    let mut discarded = 0u64;
    let mut scratch = vec![0u8; 16 * 1024];
    while discarded < LINGER_MAX_BYTES {
        let read_until = until.min(Instant::now() + LINGER_READ_TIMEOUT);
        match tokio::time::timeout_at(read_until, stream.read(&mut scratch)).await {
            Ok(Ok(n)) if n > 0 => discarded += n as u64,
            _ => break,
        }
    }
}

/// A connection's state, as its timeouts need it. Times are milliseconds since `origin`.
struct Activity {
    origin: Instant,
    /// Requests whose response is not fully written.
    open_requests: AtomicUsize,
    /// Requests started on this connection.
    requests: AtomicU64,
    /// When `open_requests` last became 0.
    idle_since: AtomicU64,
    /// When the first byte of the next request's head arrived (or [`NOT_YET`]).
    head_started: AtomicU64,
    /// Since when a write has been waiting for the client to read (or [`NOT_YET`]).
    write_blocked_since: AtomicU64,
    /// Woken when a deadline may have come closer.
    changed: Notify,
}

const NOT_YET: u64 = u64::MAX;

impl Activity {
    fn new() -> Self {
        Self {
            origin: Instant::now(),
            open_requests: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            idle_since: AtomicU64::new(0),
            head_started: AtomicU64::new(NOT_YET),
            write_blocked_since: AtomicU64::new(NOT_YET),
            changed: Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(NOT_YET - 1)
    }

    fn at(&self, millis: u64) -> Instant {
        self.origin + Duration::from_millis(millis)
    }

    fn bytes_read(&self) {
        if self.open_requests.load(Ordering::Acquire) == 0
            && self.head_started.load(Ordering::Relaxed) == NOT_YET
        {
            self.head_started.store(self.now(), Ordering::Relaxed);
        }
    }

    fn write_blocked(&self) {
        if self.write_blocked_since.load(Ordering::Relaxed) == NOT_YET {
            self.write_blocked_since
                .store(self.now(), Ordering::Relaxed);
            self.changed.notify_one();
        }
    }

    fn write_moved(&self) {
        self.write_blocked_since.store(NOT_YET, Ordering::Relaxed);
    }

    /// The next instant at which the connection must be closed unless something happens, and why.
    fn deadline(&self, limits: &ServerLimits) -> Option<(Instant, Closed)> {
        let mut deadline: Option<(Instant, Closed)> = None;
        let mut consider = |at: Instant, why: Closed| {
            if deadline.is_none_or(|(earliest, _)| at < earliest) {
                deadline = Some((at, why));
            }
        };
        let blocked = self.write_blocked_since.load(Ordering::Relaxed);
        if blocked != NOT_YET {
            consider(
                self.at(blocked) + limits.write_stall_timeout,
                Closed::WriteTimeout,
            );
        }
        if self.open_requests.load(Ordering::Acquire) == 0 {
            let head = self.head_started.load(Ordering::Relaxed);
            if head != NOT_YET {
                consider(
                    self.at(head) + limits.header_read_timeout,
                    Closed::HeaderTimeout,
                );
            } else if self.requests.load(Ordering::Relaxed) == 0 {
                // A new connection must send its first request in time.
                consider(
                    self.origin + limits.header_read_timeout,
                    Closed::HeaderTimeout,
                );
            } else {
                consider(
                    self.at(self.idle_since.load(Ordering::Relaxed)) + limits.idle_timeout,
                    Closed::IdleTimeout,
                );
            }
        }
        deadline
    }
}

/// Held from a request's head to the end of its response body.
struct OpenRequest(Arc<Activity>);

impl OpenRequest {
    fn start(activity: Arc<Activity>) -> Self {
        activity.requests.fetch_add(1, Ordering::Relaxed);
        activity.head_started.store(NOT_YET, Ordering::Relaxed);
        activity.open_requests.fetch_add(1, Ordering::AcqRel);
        Self(activity)
    }
}

impl Drop for OpenRequest {
    fn drop(&mut self) {
        let activity = &self.0;
        activity.idle_since.store(activity.now(), Ordering::Relaxed);
        if activity.open_requests.fetch_sub(1, Ordering::AcqRel) == 1 {
            activity.changed.notify_one();
        }
    }
}

/// A response body that keeps its request open until it is written (or dropped).
struct Tracked {
    body: Body,
    _open: OpenRequest,
}

impl http_body::Body for Tracked {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The client's socket, noting when bytes arrive and when writes wait for the client.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_read();
        }
        polled
    }
}

impl Watched {
    fn note_write<T>(&self, polled: Poll<T>) -> Poll<T> {
        match polled {
            Poll::Pending => self.activity.write_blocked(),
            Poll::Ready(_) => self.activity.write_moved(),
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.note_write(polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.note_write(polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
