//! Storage for every stage of the dora-events pipeline.
//!
//! Stages talk through the store, not through memory: ingest appends to `cloudevents_raw`, the
//! router reads it after its cursor and appends to `cdevents_raw`, calculators read that after
//! their own cursors and maintain fact tables, the API reads the facts. Each consumer moves its
//! cursor in the same transaction as its output, so a crash never skips or repeats work, and
//! unique keys on (source, id) make redelivered input harmless.
//!
//! [`Store`] is a closed enum over the backends (SQLite and PostgreSQL). A query whose SQL is the
//! same on both is written once (`reads`, `links::reads`, `links::pages`, `links::commit`), with
//! `sql` rendering the few fragments the two spell differently and mapping rows through
//! `sqlx::FromRow`; `writes` holds the text both backends' writes share. What really differs
//! stays in the backends (`sqlite`, `postgres`): opening and migrating, how many rows travel in
//! one statement, PostgreSQL's snapshot horizon and notifications, the key rows' packing.
//!
//! ```no_run
//! # async fn demo() -> Result<(), dora_store::StoreError> {
//! let store = dora_store::Store::connect("sqlite://dora-events.db").await?;
//! let stats = store.stats().await?;
//! println!("{} raw events", stats.raw_events);
//! # Ok(()) }
//! ```

/// The embedded migrations of one backend (`migrations/<dir>/`), applied in order and recorded
/// in `schema_migrations`.
macro_rules! migrations {
    ($dir:literal) => {
        &[
            (
                1,
                include_str!(concat!("../migrations/", $dir, "/0001_init.sql")),
            ),
            (
                2,
                include_str!(concat!("../migrations/", $dir, "/0002_facts.sql")),
            ),
            (
                3,
                include_str!(concat!("../migrations/", $dir, "/0003_function_jobs.sql")),
            ),
            (
                4,
                include_str!(concat!("../migrations/", $dir, "/0004_fact_failures.sql")),
            ),
            (
                5,
                include_str!(concat!("../migrations/", $dir, "/0005_links.sql")),
            ),
            (
                6,
                include_str!(concat!("../migrations/", $dir, "/0006_backfill_pages.sql")),
            ),
            (
                7,
                include_str!(concat!("../migrations/", $dir, "/0007_content_bytes.sql")),
            ),
        ]
    };
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

mod backfill_pages;
mod commits;
mod error;
mod postgres;
mod reads;
mod records;
mod sql;
mod sqlite;
pub mod writer;
mod writes;

pub use backfill_pages::PageValidator;
pub use error::*;
pub use records::*;

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

/// The most event text one read of a stage's pass takes ([`Store::raw_after`],
/// [`Store::cdevents_after`]), whatever its row limit: rows are taken while the text before them
/// is under this, so a pass always takes at least one row. A backlog of large events (1 MiB
/// each, after an outage) is then read 16 at a time, not a thousand: the pass's memory stays
/// bounded, at this and one event. The measure is the text a read returns: on PostgreSQL, the
/// text of the JSONB (with its spacing and its numbers written out), measured when stored.
pub const PASS_TEXT_BYTES: i64 = 16 * 1024 * 1024;

/// The most event text one page of the event browser, or one poll of its live feed, reads
/// (always at least one event): with large events a page holds fewer.
pub const PAGE_TEXT_BYTES: i64 = 4 * 1024 * 1024;

/// Whether rows whose texts are `texts` fill a text budget (`budget`: [`PASS_TEXT_BYTES`] or
/// [`PAGE_TEXT_BYTES`]): a read that gave them stopped at the budget, and more rows may be
/// waiting.
pub fn fills_text_budget<'a>(texts: impl IntoIterator<Item = &'a str>, budget: i64) -> bool {
    let read: usize = texts.into_iter().map(str::len).sum();
    i64::try_from(read).unwrap_or(i64::MAX) >= budget
}

/// The store, over one of the supported backends.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

mod links;
pub use links::*;

/// The default connection pool size for PostgreSQL.
pub const DEFAULT_POOL_SIZE: u32 = 10;

impl Store {
    /// The SQL dialect of the backend.
    pub(crate) fn dialect(&self) -> sql::Dialect {
        match self {
            Self::Sqlite(_) => sql::Dialect::Sqlite,
            Self::Postgres(_) => sql::Dialect::Postgres,
        }
    }

    /// Opens (creating if needed) the database at `url` and runs the migrations.
    ///
    /// `sqlite://PATH`, `sqlite:PATH` and a bare file path open SQLite; `postgres://...` PostgreSQL.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, DEFAULT_POOL_SIZE).await
    }

    /// Like [`Store::connect`], with the size of the PostgreSQL connection pool.
    pub async fn connect_with(url: &str, pool_size: u32) -> Result<Self, StoreError> {
        match DatabaseUrl::parse(url)? {
            DatabaseUrl::Postgres(url) => {
                Ok(Self::Postgres(PostgresStore::open(url, pool_size).await?))
            }
            DatabaseUrl::Sqlite(path) => Ok(Self::Sqlite(SqliteStore::open(path).await?)),
        }
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

    /// The next raw events after `after`, in reading order, at most `limit`, and while the text
    /// before each is under [`PASS_TEXT_BYTES`] (always the first).
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
}
/// What a database URL names: `postgres://...` (or `postgresql://...`), else a SQLite file
/// (`sqlite://PATH`, `sqlite:PATH` or a bare path). Every place that must tell them apart (the
/// store, the CLI, the tests) reads a URL through this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseUrl<'a> {
    Postgres(&'a str),
    /// The SQLite file's path.
    Sqlite(&'a str),
}

impl<'a> DatabaseUrl<'a> {
    /// Reads `url`; a SQLite URL without a path, or with another scheme, is [`StoreError::BadUrl`].
    pub fn parse(url: &'a str) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if path.is_empty() || path.contains("://") {
            return Err(StoreError::BadUrl(url.to_owned()));
        }
        Ok(Self::Sqlite(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_name_postgres_or_a_sqlite_file() {
        let parse = |url| DatabaseUrl::parse(url).ok();
        assert_eq!(
            parse("postgres://u@h/db"),
            Some(DatabaseUrl::Postgres("postgres://u@h/db"))
        );
        assert_eq!(
            parse("postgresql://h/db"),
            Some(DatabaseUrl::Postgres("postgresql://h/db"))
        );
        assert_eq!(
            parse("sqlite:///tmp/a.db"),
            Some(DatabaseUrl::Sqlite("/tmp/a.db"))
        );
        assert_eq!(parse("sqlite:a.db"), Some(DatabaseUrl::Sqlite("a.db")));
        assert_eq!(parse("dora.db"), Some(DatabaseUrl::Sqlite("dora.db")));
        assert_eq!(parse("sqlite://"), None);
        assert_eq!(parse("mysql://h/db"), None);
    }
}
