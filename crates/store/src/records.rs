//! The rows the store writes and reads, as the rest of the workspace sees them: what a stage
//! hands to the store ([`NewRawEvent`], [`RouterOutput`], [`FactsOutput`], ...) and what the store
//! hands back ([`RawBatch`], [`DeploymentRecord`], [`EventRow`], ...).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::sql::{OptionalStoredTime, StoredTime};

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

/// Reads a stored `origin` (anything but `cdevents` came in through `POST /events`).
impl From<String> for Origin {
    fn from(text: String) -> Self {
        Self::parse(&text)
    }
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

impl NewRawEvent {
    /// The row of `event`, received now, stored as `content` (its structured JSON text).
    pub fn received(
        event: dora_model::cloudevent::CloudEvent,
        content: String,
        origin: Origin,
    ) -> Self {
        Self {
            id: event.id,
            source: event.source,
            event_type: event.event_type,
            time: event.time,
            received_at: Utc::now(),
            content,
            origin,
        }
    }
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, sqlx::FromRow)]
pub struct Position {
    pub tx: i64,
    pub seq: i64,
}

/// Where a live tail starts: after `after`, skipping the rows in `seen` (on PostgreSQL, those
/// committed before the tail started by transactions still behind the snapshot horizon; a
/// tail hands rows out in horizon order, and these were stored before it began).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TailStart {
    pub after: Position,
    pub seen: std::collections::HashSet<i64>,
}

impl TailStart {
    /// The most rows `seen` holds, the oldest (past it, the rows stored before the tail but
    /// not held here show in it).
    pub const MAX_SEEN: usize = 10_000;

    pub fn at(after: Position) -> Self {
        TailStart {
            after,
            seen: Default::default(),
        }
    }
}

impl Position {
    /// Before the first row.
    pub const START: Position = Position { tx: 0, seq: 0 };

    /// A position in a log appended under a lock (`tx` 0): `cdevents_raw`, and every log on
    /// SQLite.
    pub(crate) fn at(seq: i64) -> Self {
        Position { tx: 0, seq }
    }
}

/// A stored raw CloudEvent, as the router reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RawRecord {
    #[sqlx(flatten)]
    pub position: Position,
    #[sqlx(try_from = "String")]
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
#[derive(Debug, Clone, sqlx::FromRow)]
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
#[derive(Debug, Clone, sqlx::FromRow)]
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
#[derive(Debug, Clone, Serialize, PartialEq, Eq, sqlx::FromRow)]
pub struct FunctionJobStats {
    pub function: String,
    pub pending: i64,
    /// The oldest pending raw event (lowest `raw_seq`) and when its job was enqueued.
    pub oldest_raw_seq: i64,
    #[sqlx(try_from = "StoredTime")]
    pub oldest_enqueued_at: DateTime<Utc>,
    /// The most recent delivery error among its jobs, if any failed.
    pub last_error: Option<String>,
    pub max_attempts: i32,
}

/// Which kind of CDEvent a deployment row comes from (stored as its text: `deployed`,
/// `upgraded`, `rolledback`).
pub use dora_model::dora::DeploymentKind;

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
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ObservationRecord {
    pub fact: String,
    pub fact_id: String,
    pub service: Option<String>,
    pub environment: Option<String>,
    #[sqlx(try_from = "StoredTime")]
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

/// Calendar buckets, in UTC: day at midnight, ISO week from Monday, month from the 1st, year
/// from 1 January.
pub use dora_model::dora::Bucket;

/// Filters of the deployment frequency query.
#[derive(Debug, Clone, Default)]
pub struct FrequencyFilter {
    pub environment: Option<String>,
    pub service: Option<String>,
}

/// Deployments of one service in one bucket.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FrequencyRow {
    pub service: String,
    pub deployments: i64,
    #[sqlx(try_from = "StoredTime")]
    pub bucket_start: DateTime<Utc>,
}

/// A recorded failure with the event it concerns: a transformation that failed (the raw
/// CloudEvent's id, source and type), or a CDEvent the facts calculator skipped (`transformer`
/// is [`FACTS_CALCULATOR`], `cdevent_seq` is set, and id, source and type are the CDEvent's).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct FailureRecord {
    pub id: i64,
    /// The raw event concerned (0 for a CDEvent that came from none).
    pub raw_seq: i64,
    pub event_id: String,
    pub event_source: String,
    pub event_type: String,
    pub transformer: String,
    pub reason: String,
    #[sqlx(try_from = "StoredTime")]
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
    pub(crate) fn table(self) -> &'static str {
        match self {
            Self::CloudEvents => "cloudevents_raw",
            Self::CdEvents => "cdevents_raw",
        }
    }

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
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct EventRow {
    pub seq: i64,
    pub id: String,
    pub source: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// The event's own time (`time` of a CloudEvent, `context.timestamp` of a CDEvent).
    #[sqlx(try_from = "OptionalStoredTime")]
    pub time: Option<DateTime<Utc>>,
    /// When it was stored (received by ingest, or made by the router).
    #[sqlx(try_from = "StoredTime")]
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
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct DeploymentRecord {
    pub id: i64,
    pub cdevent_id: String,
    #[sqlx(try_from = "String")]
    pub kind: DeploymentKind,
    pub service: String,
    pub environment: String,
    pub artifact_id: Option<String>,
    #[sqlx(try_from = "StoredTime")]
    pub deployed_at: DateTime<Utc>,
    pub team: Option<String>,
    pub failed: bool,
    pub revision: Option<String>,
}

/// Row counts and cursor positions, for health and lag.
#[derive(Debug, Clone, Default, Serialize, sqlx::FromRow)]
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
