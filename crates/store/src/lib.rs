//! Storage for every stage of the dora-events pipeline.
//!
//! Stages talk through the store, not through memory: ingest appends to `cloudevents_raw`, the
//! router reads it after its cursor and appends to `cdevents_raw`, calculators read that after
//! their own cursors and maintain fact tables, the API reads the facts. Each consumer moves its
//! cursor in the same transaction as its output, so a crash never skips or repeats work, and
//! unique keys on (source, id) make redelivered input harmless.
//!
//! [`Store`] is a closed enum over the backends (SQLite and PostgreSQL), so
//! every backend writes its own SQL instead of a lowest-common-denominator dialect.
//!
//! ```no_run
//! # async fn demo() -> Result<(), dora_store::StoreError> {
//! let store = dora_store::Store::connect("sqlite://dora-events.db").await?;
//! let stats = store.stats().await?;
//! println!("{} raw events", stats.raw_events);
//! # Ok(()) }
//! ```

use chrono::{DateTime, Utc};
use serde::Serialize;

mod postgres;
mod sqlite;
pub mod writer;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Notification channel: raw events were committed (PostgreSQL `NOTIFY`).
pub const RAW_CHANNEL: &str = "dora_events_raw";
/// Notification channel: CDEvents were committed.
pub const CDEVENTS_CHANNEL: &str = "dora_events_cdevents";

/// Cursor of the router over `cloudevents_raw`.
pub const ROUTER_CURSOR: &str = "router";
/// Cursor of the deployments calculator over `cdevents_raw`.
pub const DEPLOYMENTS_CURSOR: &str = "calculator:deployments";

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not one this build understands.
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://USER@HOST/DB")]
    BadUrl(String),
    /// The database could not be reached or refused the operation.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Another worker moved the cursor first; the batch was rolled back and can be retried.
    #[error("cursor {name} moved concurrently (expected position {expected})")]
    CursorMoved { name: String, expected: i64 },
    /// Stored content could not be decoded (corruption or a bug, never client input).
    #[error("stored row {seq} is unreadable: {reason}")]
    Corrupt { seq: i64, reason: String },
}

/// Per event, whether it was stored, given the (source, id) keys the INSERT returned: the first
/// occurrence of a key in the batch is the one stored, later ones are duplicates.
pub(crate) fn first_occurrences_inserted(
    events: &[NewRawEvent],
    mut new_keys: std::collections::HashSet<(String, String)>,
) -> Vec<bool> {
    events
        .iter()
        .map(|e| new_keys.remove(&(e.source.clone(), e.id.clone())))
        .collect()
}

/// Which endpoint a raw event came in through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `POST /events` (or `/`): routed by the routing table.
    Events,
    /// `POST /cdevents`: validated as a CDEvent at the door, always passed through as one.
    Cdevents,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Events => "events",
            Self::Cdevents => "cdevents",
        }
    }

    pub(crate) fn parse(text: &str) -> Self {
        if text == "cdevents" {
            Self::Cdevents
        } else {
            Self::Events
        }
    }
}

impl StoreError {
    /// True when the database is away or busy (worth a `503` and a retry), false for faults that
    /// a retry will not cure (undecodable rows, bad SQL, configuration).
    pub fn is_unavailable(&self) -> bool {
        let Self::Database(error) = self else {
            return false;
        };
        match error {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                // SQLite: busy and locked with their extended codes. PostgreSQL: classes 08
                // (connection), 53 (resources), 57 (operator intervention), serialization failure
                // and deadlock, read-only transaction (a demoted primary after failover), and 55000,
                // which is how a database that does not accept connections refuses one.
                let code = code.as_ref();
                matches!(
                    code,
                    "5" | "6"
                        | "261"
                        | "262"
                        | "517"
                        | "773"
                        | "40001"
                        | "40P01"
                        | "25006"
                        | "55000"
                ) || ["08", "53", "57"]
                    .iter()
                    .any(|class| code.starts_with(class))
            }),
            _ => false,
        }
    }
}

/// Whose fault a failed write is, which decides what a stage does about it.
///
/// A stage that cannot store what one event became must neither stop (retrying the same write
/// for ever holds back every later event) nor skip events because the database was away. The
/// database's own error code says which: see [`postgres_blame`] and [`sqlite_blame`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The values written: something in one event the database refuses (a text too long for an
    /// index, a number out of range, a character it cannot store, a constraint). The same
    /// write fails the same way every time: the stage records the event as failed and moves on.
    Event,
    /// The database itself (connection lost, shutting down, busy or locked, a serialization
    /// failure or deadlock, out of memory, disk or connections), or a cause not known to be the
    /// event's: the stage retries the same work later and skips nothing.
    Database,
}

/// [`Blame`] by PostgreSQL SQLSTATE. The event's: class 22 (data exception: a value out of
/// range, a character the encoding cannot hold, an invalid JSON text), 23 (integrity constraint
/// violation) and 54 (program limit exceeded: an index row over the B-tree limit, a statement
/// too complex). Everything else is the database's: 08 (connection), 40 (transaction rollback:
/// serialization failure, deadlock), 53 (insufficient resources), 55 (object not in a
/// prerequisite state), 57 (operator intervention: shutdown, cancel), 58 (system error), XX
/// (internal) and codes not listed, which are retried rather than skipped.
pub fn postgres_blame(sqlstate: &str) -> Blame {
    match sqlstate.get(..2) {
        Some("22" | "23" | "54") => Blame::Event,
        _ => Blame::Database,
    }
}

/// SQLite primary result codes that are the event's fault ([`sqlite_blame`]).
const SQLITE_TOOBIG: i32 = 18;
const SQLITE_CONSTRAINT: i32 = 19;
const SQLITE_MISMATCH: i32 = 20;

/// [`Blame`] by SQLite result code (primary or extended: the low byte is the primary code).
/// The event's: `SQLITE_TOOBIG` (a value over the length limit), `SQLITE_CONSTRAINT` (any
/// constraint, including a trigger's `RAISE(ABORT)`) and `SQLITE_MISMATCH`. Everything else is
/// the database's: `SQLITE_BUSY`, `SQLITE_LOCKED`, `SQLITE_NOMEM`, `SQLITE_READONLY`,
/// `SQLITE_IOERR`, `SQLITE_FULL`, `SQLITE_CANTOPEN`, `SQLITE_CORRUPT`, ...
pub fn sqlite_blame(result_code: i32) -> Blame {
    match result_code & 0xff {
        SQLITE_TOOBIG | SQLITE_CONSTRAINT | SQLITE_MISMATCH => Blame::Event,
        _ => Blame::Database,
    }
}

impl StoreError {
    /// Whose fault this error is ([`Blame`]), by the backend's own error code.
    pub fn blame(&self) -> Blame {
        let Self::Database(error) = self else {
            // A moved cursor is retried; an unreadable row is not a write's fault.
            return Blame::Database;
        };
        match error {
            // A value the driver could not send (e.g. over the protocol's size limit).
            sqlx::Error::Encode(_) => Blame::Event,
            sqlx::Error::Database(db) => {
                if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                    postgres_blame(pg.code())
                } else if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                    db.code()
                        .and_then(|code| code.parse::<i32>().ok())
                        .map_or(Blame::Database, sqlite_blame)
                } else {
                    Blame::Database
                }
            }
            _ => Blame::Database,
        }
    }
}

/// Longest failure reason stored, in characters.
const MAX_REASON_CHARS: usize = 2000;

/// A failure reason as stored: without NUL (PostgreSQL text cannot hold it; an error message
/// may quote the input) and at most [`MAX_REASON_CHARS`] characters.
pub(crate) fn storable_reason(reason: &str) -> String {
    let mut text: String = reason
        .chars()
        .take(MAX_REASON_CHARS)
        .map(|c| {
            if c == '\0' {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        })
        .collect();
    if reason.chars().nth(MAX_REASON_CHARS).is_some() {
        text.push('…');
    }
    text
}

/// A CloudEvent to append to `cloudevents_raw`.
#[derive(Debug, Clone)]
pub struct NewRawEvent {
    pub id: String,
    pub source: String,
    pub event_type: String,
    pub time: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    /// The whole event in structured JSON form.
    pub content: String,
    pub origin: Origin,
}

/// A validated CDEvent to append to `cdevents_raw`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCdEvent {
    pub id: String,
    pub source: String,
    pub event_type: String,
    pub subject_id: String,
    pub subject_source: Option<String>,
    pub timestamp: DateTime<Utc>,
    /// The CDEvent document as JSON text.
    pub content: String,
    /// Which transformer produced it (`cdevents` for pass-through and `POST /cdevents`).
    pub transformer: String,
}

/// Where a consumer stands in `cloudevents_raw`. Rows are read in (`tx`, `seq`) order; `tx` is
/// the id of the transaction that appended the row on PostgreSQL (where appends run
/// concurrently), and 0 on SQLite (where they are serialised and `seq` alone orders them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Position {
    pub tx: i64,
    pub seq: i64,
}

impl Position {
    /// Before the first row.
    pub const START: Position = Position { tx: 0, seq: 0 };
}

/// A stored raw CloudEvent, as the router reads it.
#[derive(Debug, Clone)]
pub struct RawRecord {
    pub position: Position,
    pub origin: Origin,
    pub content: String,
}

impl RawRecord {
    /// The row's sequence number (what CDEvents and failures refer to).
    pub fn seq(&self) -> i64 {
        self.position.seq
    }
}

/// The next raw events after a position.
#[derive(Debug, Clone, Default)]
pub struct RawBatch {
    pub records: Vec<RawRecord>,
    /// Rows exist after the batch that cannot be read yet, because a transaction older than
    /// theirs is still running (PostgreSQL): read again shortly.
    pub more_pending: bool,
}

/// A stored CDEvent, as the calculators read it.
#[derive(Debug, Clone)]
pub struct CdEventRecord {
    pub seq: i64,
    pub event_type: String,
    pub content: String,
}

/// A transformation that failed, to be recorded with its reason.
#[derive(Debug, Clone)]
pub struct NewFailure {
    pub raw_seq: i64,
    pub transformer: String,
    pub reason: String,
}

/// What one router pass writes, atomically with its cursor move.
#[derive(Debug, Clone, Default)]
pub struct RouterOutput {
    /// CDEvents with the raw event they came from.
    pub cdevents: Vec<(i64, NewCdEvent)>,
    pub failures: Vec<NewFailure>,
    /// Calls of external functions to make: `(raw_seq, function name)`.
    pub function_jobs: Vec<(i64, String)>,
}

/// A call of an external function waiting to be made (or made again).
#[derive(Debug, Clone)]
pub struct FunctionJob {
    pub raw_seq: i64,
    pub function: String,
    /// Failed deliveries so far.
    pub attempts: i32,
    /// The raw CloudEvent, in structured JSON.
    pub content: String,
}

/// How a function job ended: what is stored, atomically with the job's deletion.
#[derive(Debug, Clone, PartialEq)]
pub enum JobOutcome {
    /// The function answered: its CDEvents (possibly none).
    Done(Vec<NewCdEvent>),
    /// A failure that a retry will not cure (4xx, an invalid answer): recorded in
    /// `transform_failures` under `transformer`.
    Failed { transformer: String, reason: String },
}

/// The pending jobs of one function.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FunctionJobStats {
    pub function: String,
    pub pending: i64,
    /// The oldest pending raw event (lowest `raw_seq`) and when its job was enqueued.
    pub oldest_raw_seq: i64,
    pub oldest_enqueued_at: DateTime<Utc>,
    /// The most recent delivery error among its jobs, if any failed.
    pub last_error: Option<String>,
    pub max_attempts: i32,
}

/// Which kind of CDEvent a deployment row comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeploymentKind {
    Deployed,
    Upgraded,
    Rolledback,
}

/// Reads a stored `deployments.kind`.
pub(crate) fn parse_kind(text: &str, id: i64) -> Result<DeploymentKind, StoreError> {
    match text {
        "deployed" => Ok(DeploymentKind::Deployed),
        "upgraded" => Ok(DeploymentKind::Upgraded),
        "rolledback" => Ok(DeploymentKind::Rolledback),
        other => Err(StoreError::Corrupt {
            seq: id,
            reason: format!("unknown deployment kind {other:?}"),
        }),
    }
}

impl DeploymentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deployed => "deployed",
            Self::Upgraded => "upgraded",
            Self::Rolledback => "rolledback",
        }
    }
}

/// One rollout of a service into an environment.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDeployment {
    pub cdevent_seq: i64,
    pub cdevent_id: String,
    pub kind: DeploymentKind,
    pub service: String,
    pub environment: String,
    pub artifact_id: Option<String>,
    pub deployed_at: DateTime<Utc>,
    pub team: Option<String>,
    /// The rollout itself failed (`customData.dora.outcome = "failure"`).
    pub failed: bool,
    /// The commit SHA deployed, when the source says.
    pub revision: Option<String>,
}

/// What one CDEvent says about a change, an artifact or an incident: folded into facts when the
/// DORA keys are computed.
#[derive(Debug, Clone, PartialEq)]
pub struct NewObservation {
    pub cdevent_seq: i64,
    /// Position among the observations of the same CDEvent.
    pub ordinal: i32,
    /// `change` or `incident`.
    pub fact: &'static str,
    pub fact_id: String,
    pub service: Option<String>,
    pub environment: Option<String>,
    pub observed_at: DateTime<Utc>,
    /// The observation's fields as a JSON object.
    pub body: String,
}

/// A stored observation.
#[derive(Debug, Clone)]
pub struct ObservationRecord {
    pub fact: String,
    pub fact_id: String,
    pub service: Option<String>,
    pub environment: Option<String>,
    pub observed_at: DateTime<Utc>,
    pub body: String,
}

/// What a calculator pass writes, atomically with its cursor move.
#[derive(Debug, Clone, Default)]
pub struct FactsOutput {
    pub deployments: Vec<NewDeployment>,
    pub observations: Vec<NewObservation>,
    /// CDEvents whose facts could not be recorded, kept in `fact_failures`.
    pub failures: Vec<NewFactFailure>,
}

/// The name `fact_failures` (and `GET /api/v1/failures`) gives the facts calculator.
pub const FACTS_CALCULATOR: &str = "calculator";

/// A CDEvent the facts calculator skipped, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFactFailure {
    pub cdevent_seq: i64,
    pub reason: String,
}

/// Which facts to load for the DORA keys: `None` = all; a list = any of.
#[derive(Debug, Clone, Default)]
pub struct FactFilter {
    pub services: Option<Vec<String>>,
    pub environments: Option<Vec<String>>,
    pub teams: Option<Vec<String>>,
}

/// Deployments and observations in the scope of a filter. Observations that name no service
/// (or no environment) are included under any filter: they may concern any.
#[derive(Debug, Clone, Default)]
pub struct FactRows {
    pub deployments: Vec<DeploymentRecord>,
    pub observations: Vec<ObservationRecord>,
}

/// Calendar buckets, in UTC: day at midnight, ISO week from Monday, month from the 1st, year from 1 January.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Day,
    Week,
    Month,
    Year,
}

impl Bucket {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "day" => Some(Self::Day),
            "week" => Some(Self::Week),
            "month" => Some(Self::Month),
            "year" => Some(Self::Year),
            _ => None,
        }
    }
}

/// Filters of the deployment frequency query.
#[derive(Debug, Clone, Default)]
pub struct FrequencyFilter {
    pub environment: Option<String>,
    pub service: Option<String>,
}

/// Deployments of one service in one bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrequencyRow {
    pub service: String,
    pub deployments: i64,
    pub bucket_start: DateTime<Utc>,
}

/// A recorded failure with the event it concerns: a transformation that failed (the raw
/// CloudEvent's id, source and type), or a CDEvent the facts calculator skipped (`transformer`
/// is [`FACTS_CALCULATOR`], `cdevent_seq` is set, and id, source and type are the CDEvent's).
#[derive(Debug, Clone, Serialize)]
pub struct FailureRecord {
    pub id: i64,
    /// The raw event concerned (0 for a CDEvent that came from none).
    pub raw_seq: i64,
    pub event_id: String,
    pub event_source: String,
    pub event_type: String,
    pub transformer: String,
    pub reason: String,
    pub failed_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cdevent_seq: Option<i64>,
}

/// Which log the event browser reads: the raw CloudEvents as received, or the CDEvents the
/// router made of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventLog {
    #[default]
    CloudEvents,
    CdEvents,
}

impl EventLog {
    /// The column the type filter compares.
    pub(crate) fn type_column(self) -> &'static str {
        match self {
            Self::CloudEvents => "event_type",
            Self::CdEvents => "cd_type",
        }
    }

    /// The column the source filter compares.
    pub(crate) fn source_column(self) -> &'static str {
        match self {
            Self::CloudEvents => "event_source",
            Self::CdEvents => "cd_source",
        }
    }
}

/// A page of the event browser: newest first, optionally before a sequence number and only
/// types and sources starting with the given prefixes.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub log: EventLog,
    pub before: Option<i64>,
    pub type_prefix: Option<String>,
    pub source_prefix: Option<String>,
    pub limit: i64,
}

/// A stored event as the event browser shows it.
#[derive(Debug, Clone, Serialize)]
pub struct EventRow {
    pub seq: i64,
    pub id: String,
    pub source: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// The event's own time (`time` of a CloudEvent, `context.timestamp` of a CDEvent).
    pub time: Option<DateTime<Utc>>,
    /// When it was stored (received by ingest, or made by the router).
    pub stored_at: DateTime<Utc>,
    /// `events`/`cdevents` (how a CloudEvent arrived) or the transformer that made a CDEvent.
    pub origin: String,
    /// The event as JSON text.
    pub content: String,
}

/// The services, environments and teams the stored facts name, sorted (for filter menus).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Dimensions {
    pub services: Vec<String>,
    pub environments: Vec<String>,
    pub teams: Vec<String>,
}

/// The queries behind [`Dimensions`]; plain SQL that both backends run as is.
pub(crate) const DIMENSION_QUERIES: [&str; 3] = [
    "SELECT service FROM deployments UNION SELECT service FROM observations WHERE service IS NOT NULL ORDER BY 1",
    "SELECT environment FROM deployments UNION SELECT environment FROM observations WHERE environment IS NOT NULL ORDER BY 1",
    "SELECT DISTINCT team FROM deployments WHERE team IS NOT NULL ORDER BY 1",
];

/// A stored deployment, for listing.
#[derive(Debug, Clone, Serialize)]
pub struct DeploymentRecord {
    pub id: i64,
    pub cdevent_id: String,
    pub kind: DeploymentKind,
    pub service: String,
    pub environment: String,
    pub artifact_id: Option<String>,
    pub deployed_at: DateTime<Utc>,
    pub team: Option<String>,
    pub failed: bool,
    pub revision: Option<String>,
}

/// Row counts and cursor positions, for health and lag.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StoreStats {
    pub raw_events: i64,
    pub cdevents: i64,
    pub deployments: i64,
    pub failures: i64,
    pub last_raw_seq: i64,
    pub last_cdevent_seq: i64,
    pub router_cursor: i64,
    pub deployments_cursor: i64,
    /// The linker's cursor (`calculator:links`).
    pub links_cursor: i64,
    /// Raw events the router has not read yet.
    pub router_lag: i64,
}

/// The store, over one of the supported backends.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

/// Calls the same method on whichever backend the store is.
macro_rules! dispatch {
    ($store:expr, $backend:ident => $call:expr) => {
        match $store {
            Store::Sqlite($backend) => $call,
            Store::Postgres($backend) => $call,
        }
    };
}

mod links;
pub use links::*;

/// The default connection pool size for PostgreSQL.
pub const DEFAULT_POOL_SIZE: u32 = 10;

impl Store {
    /// Opens (creating if needed) the database at `url` and runs the migrations.
    ///
    /// `sqlite://PATH`, `sqlite:PATH` and a bare file path open SQLite; `postgres://...` PostgreSQL.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, DEFAULT_POOL_SIZE).await
    }

    /// Like [`Store::connect`], with the size of the PostgreSQL connection pool.
    pub async fn connect_with(url: &str, pool_size: u32) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(PostgresStore::open(url, pool_size).await?));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if path.is_empty() || path.contains("://") {
            return Err(StoreError::BadUrl(url.to_owned()));
        }
        Ok(Self::Sqlite(SqliteStore::open(path).await?))
    }

    /// Appends raw events in one transaction.
    /// Returns, per event, whether it was new (`false`: a duplicate of a stored (source, id)).
    pub async fn append_raw(&self, events: &[NewRawEvent]) -> Result<Vec<bool>, StoreError> {
        dispatch!(self, s => s.append_raw(events).await)
    }

    /// Bulk loading (`dora-events import`): appends raw events as [`Store::append_raw`] does but
    /// returns only how many were new, and records how far the loader got (`checkpoint`: a cursor
    /// name of its own, never a stage's, and a position) in the same transaction, so a resumed
    /// load starts right after the last committed batch. [`Store::cursor`] reads it back.
    pub async fn import_raw(
        &self,
        events: &[NewRawEvent],
        checkpoint: Option<(&str, i64)>,
    ) -> Result<u64, StoreError> {
        dispatch!(self, s => s.import_raw(events, checkpoint).await)
    }

    /// The position a cursor stands at ([`Position::START`] before the first pass).
    pub async fn cursor(&self, name: &str) -> Result<Position, StoreError> {
        dispatch!(self, s => s.cursor(name).await)
    }

    /// The next raw events after `after`, in reading order, at most `limit`.
    pub async fn raw_after(&self, after: Position, limit: i64) -> Result<RawBatch, StoreError> {
        dispatch!(self, s => s.raw_after(after, limit).await)
    }

    /// Stores a router pass's output and moves the router cursor from `from` to `to`, atomically.
    pub async fn commit_router_pass(
        &self,
        from: Position,
        to: Position,
        output: &RouterOutput,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.commit_router_pass(from, to, output).await)
    }

    /// The due jobs of `function` (`next_attempt_at <= now`), oldest raw event first, at most
    /// `limit`.
    pub async fn due_function_jobs(
        &self,
        function: &str,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<FunctionJob>, StoreError> {
        dispatch!(self, s => s.due_function_jobs(function, now, limit).await)
    }

    /// When the next job of `function` is due, if it has any.
    pub async fn next_function_job_due(
        &self,
        function: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        dispatch!(self, s => s.next_function_job_due(function).await)
    }

    /// Stores what a job produced and deletes the job, in one transaction. Returns `false` (and
    /// stores nothing) when the job is gone: another worker finished it, or `recompute` reset it.
    pub async fn finish_function_job(
        &self,
        raw_seq: i64,
        function: &str,
        outcome: &JobOutcome,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.finish_function_job(raw_seq, function, outcome).await)
    }

    /// Keeps a job for another attempt at `next_attempt_at`, recording why this one failed.
    pub async fn retry_function_job(
        &self,
        raw_seq: i64,
        function: &str,
        next_attempt_at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.retry_function_job(raw_seq, function, next_attempt_at, error).await)
    }

    /// Pending jobs per function, by function name.
    pub async fn function_job_stats(&self) -> Result<Vec<FunctionJobStats>, StoreError> {
        dispatch!(self, s => s.function_job_stats().await)
    }

    /// CDEvents with `seq > after`, oldest first, at most `limit`.
    pub async fn cdevents_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<CdEventRecord>, StoreError> {
        dispatch!(self, s => s.cdevents_after(after, limit).await)
    }

    /// Stores deployments and observations and moves the facts cursor from `from` to `to`,
    /// atomically.
    pub async fn commit_facts(
        &self,
        from: i64,
        to: i64,
        output: &FactsOutput,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.commit_facts(from, to, output).await)
    }

    /// The deployments and observations in the scope of a filter (all times), for the DORA keys.
    pub async fn load_facts(&self, filter: &FactFilter) -> Result<FactRows, StoreError> {
        dispatch!(self, s => s.load_facts(filter).await)
    }

    /// Deployments per service and bucket, sorted by bucket then service (the book's endpoint).
    pub async fn deploy_frequency(
        &self,
        bucket: Bucket,
        filter: &FrequencyFilter,
    ) -> Result<Vec<FrequencyRow>, StoreError> {
        dispatch!(self, s => s.deploy_frequency(bucket, filter).await)
    }

    /// Recorded failures (transformations, and CDEvents the calculator skipped), newest first.
    pub async fn list_failures(
        &self,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<FailureRecord>, StoreError> {
        dispatch!(self, s => s.list_failures(limit, offset).await)
    }

    /// A page of stored events for the event browser, newest first.
    pub async fn list_events(&self, query: &EventQuery) -> Result<Vec<EventRow>, StoreError> {
        dispatch!(self, s => s.list_events(query).await)
    }

    /// Where a live tail of `log` starts: after every event visible now.
    pub async fn tail_start(&self, log: EventLog) -> Result<Position, StoreError> {
        dispatch!(self, s => s.tail_start(log).await)
    }

    /// Events of `log` after `after`, in the order they became visible (oldest first), at most
    /// `limit`, each with its position for the next call. Like the router, a tail never skips an
    /// event committed late by a slower transaction.
    pub async fn tail_events(
        &self,
        log: EventLog,
        after: Position,
        limit: i64,
    ) -> Result<Vec<(Position, EventRow)>, StoreError> {
        dispatch!(self, s => s.tail_events(log, after, limit).await)
    }

    /// The services, environments and teams named by stored facts.
    pub async fn dimensions(&self) -> Result<Dimensions, StoreError> {
        let mut lists = Vec::with_capacity(DIMENSION_QUERIES.len());
        for sql in DIMENSION_QUERIES {
            lists.push(match self {
                Store::Sqlite(s) => sqlx::query_scalar(sql).fetch_all(s.pool()).await?,
                Store::Postgres(s) => sqlx::query_scalar(sql).fetch_all(s.pool()).await?,
            });
        }
        let mut lists = lists.into_iter();
        Ok(Dimensions {
            services: lists.next().unwrap_or_default(),
            environments: lists.next().unwrap_or_default(),
            teams: lists.next().unwrap_or_default(),
        })
    }

    /// Row counts and cursor positions.
    pub async fn stats(&self) -> Result<StoreStats, StoreError> {
        dispatch!(self, s => s.stats().await)
    }

    /// Deletes everything derived from `cloudevents_raw` (CDEvents, failures, facts, cursors,
    /// function jobs),
    /// so the pipeline can rebuild it (`dora-events recompute`).
    pub async fn reset_derived(&self) -> Result<(), StoreError> {
        dispatch!(self, s => s.reset_derived().await)
    }

    /// Wakes `wake` whenever another process commits on `channel` ([`RAW_CHANNEL`],
    /// [`CDEVENTS_CHANNEL`]). PostgreSQL only (`LISTEN`/`NOTIFY`); SQLite processes share no
    /// channel and rely on in-process wake-ups and the stage interval.
    pub fn forward_notifications(
        &self,
        channel: &'static str,
        wake: std::sync::Arc<tokio::sync::Notify>,
    ) {
        match self {
            Self::Sqlite(_) => {}
            Self::Postgres(s) => s.forward_notifications(channel, wake),
        }
    }

    /// Whether ingest commits notify routers in other processes ([`RAW_CHANNEL`]). A process that
    /// runs a router itself wakes it in memory and can turn this off, saving a notification per
    /// commit; every router stage still also runs on its interval. No effect on SQLite.
    pub fn notify_other_processes(mut self, notify: bool) -> Self {
        if let Self::Postgres(s) = &mut self {
            s.set_notify_raw_commits(notify);
        }
        self
    }

    /// A cheap round trip, for readiness.
    pub async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self, s => s.ping().await)
    }

    /// Closes the pool (waits for connections to be returned).
    pub async fn close(&self) {
        dispatch!(self, s => s.close().await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_data_constraint_and_limit_errors_are_the_events() {
        for sqlstate in [
            "22001", // string data right truncation
            "22003", // numeric value out of range ("value overflows numeric format")
            "22021", // character not in repertoire (NUL)
            "22P02", // invalid text representation
            "22P05", // untranslatable character (\u0000 in JSONB)
            "23505", // unique violation
            "23514", // check violation
            "54000", // program limit exceeded (index row size exceeds B-tree maximum)
            "54001", // statement too complex
        ] {
            assert_eq!(postgres_blame(sqlstate), Blame::Event, "{sqlstate}");
        }
    }

    #[test]
    fn postgres_connection_rollback_resource_and_shutdown_errors_are_the_databases() {
        for sqlstate in [
            "08000", "08006", // connection exception, connection failure
            "40001", "40P01", // serialization failure, deadlock
            "53100", "53200", "53300", // disk full, out of memory, too many connections
            "55P03", // lock not available
            "57014", "57P01", "57P03", // query canceled, admin shutdown, cannot connect now
            "58030", // I/O error
            "25006", // read-only transaction (a demoted primary)
            "42P01", // undefined table: a bug or a missing migration, never skipped over
            "XX000", "", "2",
        ] {
            assert_eq!(postgres_blame(sqlstate), Blame::Database, "{sqlstate:?}");
        }
    }

    #[test]
    fn sqlite_constraint_toobig_and_mismatch_are_the_events() {
        // Primary codes and extended ones (unique 2067, check 275, trigger 1811, not null 1299).
        for code in [18, 19, 20, 2067, 275, 1811, 1299] {
            assert_eq!(sqlite_blame(code), Blame::Event, "{code}");
        }
    }

    #[test]
    fn sqlite_busy_locked_io_and_full_are_the_databases() {
        // BUSY, LOCKED, NOMEM, READONLY, INTERRUPT, IOERR, CORRUPT, FULL, CANTOPEN, ERROR,
        // BUSY_SNAPSHOT (517), LOCKED_SHAREDCACHE (262), IOERR_WRITE (778).
        for code in [5, 6, 7, 8, 9, 10, 11, 13, 14, 1, 517, 262, 778] {
            assert_eq!(sqlite_blame(code), Blame::Database, "{code}");
        }
    }

    #[test]
    fn errors_without_a_database_code_are_retried() {
        assert_eq!(
            StoreError::Database(sqlx::Error::PoolTimedOut).blame(),
            Blame::Database
        );
        assert_eq!(
            StoreError::CursorMoved {
                name: "router".into(),
                expected: 1
            }
            .blame(),
            Blame::Database
        );
    }

    #[test]
    fn stored_reasons_lose_nul_and_length() {
        assert_eq!(storable_reason("a\0b"), "a\u{fffd}b");
        let long = "x".repeat(MAX_REASON_CHARS + 10);
        assert_eq!(storable_reason(&long).chars().count(), MAX_REASON_CHARS + 1);
        assert_eq!(storable_reason("short"), "short");
    }
}
