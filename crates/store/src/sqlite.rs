//! The SQLite backend: the embedded default. WAL journal, `synchronous = FULL` so a commit
//! survives power loss (ingest acknowledges only committed events), and every time stored as
//! integer microseconds (UTC). Here is what SQLite does its own way: opening and migrating,
//! writes as multi-row `VALUES`; the queries both backends share are in [`crate::reads`] and
//! [`crate::links`], the pipeline stages' transactions in [`crate::commits`].

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use dora_model::time::to_micros;
use sqlx::query_builder::Separated;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Sqlite, SqlitePool, Transaction};

use crate::commits::pipeline_commits;
use crate::sql::Dialect;
use crate::writes::*;
use crate::{
    NewCdEvent, NewDeployment, NewFactFailure, NewFailure, NewObservation, NewRawEvent, Position,
    RawBatch, StoreError,
};

mod links;

/// Rows per multi-row INSERT (at most 10 parameters each: 5,000, under SQLite's 32,766 limit).
const ROWS_PER_STATEMENT: usize = 500;

const MIGRATIONS: &[(i64, &str)] = migrations!("sqlite");

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Taken by this process's pipeline writes (ingest, router, calculators), one at a time.
    write_turn: Arc<tokio::sync::Mutex<()>>,
}

/// A write transaction's turn (see [`SqliteStore::begin_write`]); the next writer goes when
/// it is dropped.
pub(crate) type WriteTurn = tokio::sync::OwnedMutexGuard<()>;

impl SqliteStore {
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Begins a write transaction once this process's earlier ones are done; hold the turn
    /// until the transaction is committed or rolled back. SQLite has one writer: without turns,
    /// a writer that finds another's lock taken sleeps in SQLite's busy handler (1, 2, 5, 10 ms
    /// and more) while nobody writes, and under load ingest's commits and the stages' passes
    /// kept finding each other's lock taken. Waiting on an async queue instead, the next writer
    /// starts the moment the lock is free. Other processes still meet the busy timeout.
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<(WriteTurn, Transaction<'static, Sqlite>), StoreError> {
        let turn = Arc::clone(&self.write_turn).lock_owned().await;
        let tx = self.pool.begin().await?;
        Ok((turn, tx))
    }

    /// Begins the transaction that claims a function job: `BEGIN IMMEDIATE`, so the job is
    /// deleted under the write lock and two workers cannot both find it there.
    async fn begin_job(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    pub(crate) async fn open(path: &str) -> Result<Self, StoreError> {
        // Several processes opening a new file at once race to switch it to WAL, which SQLite
        // answers with "database is locked" without waiting on the busy timeout: retry that.
        let mut attempt = 0;
        loop {
            match Self::try_open(path).await {
                Err(error) if error.is_unavailable() && attempt < 50 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
                }
                outcome => return outcome,
            }
        }
    }

    async fn try_open(path: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))?
            .create_if_missing(true)
            .busy_timeout(Duration::from_secs(30))
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // sqlx hands rows from its SQLite thread to the task one at a time through a bounded
            // channel: at the default 50 a pass reading hundreds of rows parks and wakes that
            // thread every 50 rows. The whole answer is collected in memory anyway
            // (`fetch_all`), so a larger channel costs no memory, only wake-ups saved.
            .row_buffer_size(1024);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        let store = Self {
            pool,
            write_turn: Arc::default(),
        };
        if let Err(error) = store.migrate().await {
            store.pool.close().await;
            return Err(error);
        }
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        // BEGIN IMMEDIATE takes the write lock before the applied versions are read, so two
        // processes starting at once apply each migration once.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
        )
        .execute(&mut *tx)
        .await?;
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
            .fetch_all(&mut *tx)
            .await?;
        for (version, sql) in MIGRATIONS {
            if applied.contains(version) {
                continue;
            }
            sqlx::raw_sql(sql).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)")
                .bind(version)
                .bind(to_micros(&Utc::now()))
                .execute(&mut *tx)
                .await?;
            tracing::info!(version, "applied SQLite migration");
        }
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn append_raw(&self, events: &[NewRawEvent]) -> Result<Vec<bool>, StoreError> {
        // Nearly always every event is new, and the count of rows inserted says so: no row comes
        // back across threads. Only a group with a duplicate is stored again, naming its new keys.
        match self.append_raw_all_new(events).await? {
            Some(inserted) => Ok(inserted),
            None => self.append_raw_returning(events).await,
        }
    }

    pub(crate) async fn import_raw(
        &self,
        events: &[NewRawEvent],
        checkpoint: Option<(&str, i64)>,
    ) -> Result<u64, StoreError> {
        // Without RETURNING: sqlx sends every returned row across threads, which costs more than
        // the insert itself at import rates. Bigger statements, too (7 parameters per row).
        const ROWS: usize = 4000;
        let mut tx = self.pool.begin().await?;
        let inserted = insert_rows_by(
            &mut tx,
            (RAW_EVENT_COLUMNS, RAW_EVENT_CONFLICT),
            events,
            ROWS,
            bind_raw_event,
        )
        .await?;
        if let Some((name, position)) = checkpoint {
            sqlx::query(
                "INSERT INTO cursors (name, position, updated_at) VALUES (?, ?, ?)
                 ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at",
            )
            .bind(name)
            .bind(position)
            .bind(to_micros(&Utc::now()))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(inserted)
    }

    /// Stores `events` if none of them is a duplicate (of a stored event or of another in the
    /// group); else rolls back and answers `None`.
    async fn append_raw_all_new(
        &self,
        events: &[NewRawEvent],
    ) -> Result<Option<Vec<bool>>, StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        for chunk in events.chunks(ROWS_PER_STATEMENT) {
            let mut insert =
                QueryBuilder::<Sqlite>::new(format!("INSERT INTO {RAW_EVENT_COLUMNS} "));
            insert.push_values(chunk, bind_raw_event);
            insert.push(format!(" {RAW_EVENT_CONFLICT}"));
            let inserted = insert.build().execute(&mut *tx).await?.rows_affected();
            if inserted != chunk.len() as u64 {
                tx.rollback().await?;
                return Ok(None);
            }
        }
        tx.commit().await?;
        Ok(Some(vec![true; events.len()]))
    }

    async fn append_raw_returning(&self, events: &[NewRawEvent]) -> Result<Vec<bool>, StoreError> {
        // Multi-row statements: sqlx runs SQLite on a worker thread, and each statement is a
        // round trip to it, so rows per statement is what makes group commit pay off.
        let (_turn, mut tx) = self.begin_write().await?;
        let mut new_keys = HashSet::with_capacity(events.len());
        for chunk in events.chunks(ROWS_PER_STATEMENT) {
            let mut insert =
                QueryBuilder::<Sqlite>::new(format!("INSERT INTO {RAW_EVENT_COLUMNS} "));
            insert.push_values(chunk, bind_raw_event);
            insert.push(format!(
                " {RAW_EVENT_CONFLICT} RETURNING event_source, event_id"
            ));
            let keys: Vec<(String, String)> = insert.build_query_as().fetch_all(&mut *tx).await?;
            new_keys.extend(keys);
        }
        tx.commit().await?;
        Ok(crate::first_occurrences_inserted(events, new_keys))
    }

    pub(crate) async fn cursor(&self, name: &str) -> Result<Position, StoreError> {
        let position: Option<i64> =
            sqlx::query_scalar("SELECT position FROM cursors WHERE name = ?")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        Ok(Position {
            tx: 0,
            seq: position.unwrap_or(0),
        })
    }

    pub(crate) async fn raw_after(
        &self,
        after: Position,
        limit: i64,
    ) -> Result<RawBatch, StoreError> {
        // Writers are serialised, so rows become visible in `seq` order: nothing is ever pending.
        let positions = crate::sql::positions_within_text_budget(
            Dialect::Sqlite,
            ("cloudevents_raw", "seq > $1", "seq", "seq"),
            2,
            3,
        );
        let sql = format!(
            "SELECT 0 AS tx, r.seq, r.origin, r.content FROM ({positions}) AS p \
             JOIN cloudevents_raw r ON r.seq = p.seq ORDER BY r.seq"
        );
        let records = sqlx::query_as(&sql)
            .bind(after.seq)
            .bind(limit)
            .bind(crate::PASS_TEXT_BYTES)
            .fetch_all(&self.pool)
            .await?;
        Ok(RawBatch {
            records,
            more_pending: false,
        })
    }
}

pipeline_commits!(SqliteStore);

/// Appends CDEvents (with the raw event each came from), `stored_at` now. Multi-row
/// statements, as for raw appends: a pass of a loaded router stores hundreds of CDEvents, one
/// round trip to SQLite's worker thread per chunk instead of per CDEvent.
async fn append_cdevents(
    tx: &mut Transaction<'_, Sqlite>,
    cdevents: &[(i64, &NewCdEvent)],
) -> Result<(), StoreError> {
    let now = to_micros(&Utc::now());
    let table = (CDEVENT_COLUMNS, CDEVENT_CONFLICT);
    insert_rows(tx, table, cdevents, |mut row, (raw_seq, cdevent)| {
        row.push_bind(&cdevent.id)
            .push_bind(&cdevent.source)
            .push_bind(&cdevent.event_type)
            .push_bind(&cdevent.subject_id)
            .push_bind(&cdevent.subject_source)
            .push_bind(to_micros(&cdevent.timestamp))
            .push_bind(&cdevent.content)
            .push_bind(*raw_seq)
            .push_bind(&cdevent.transformer)
            .push_bind(now);
    })
    .await?;
    Ok(())
}

/// Records (or records again) that transformers failed on raw events, at the same instant.
async fn record_transform_failures(
    tx: &mut Transaction<'_, Sqlite>,
    failures: &[NewFailure],
) -> Result<(), StoreError> {
    let now = to_micros(&Utc::now());
    let statement = format!(
        "INSERT INTO {TRANSFORM_FAILURE_COLUMNS} VALUES ($1, $2, $3, $4) {TRANSFORM_FAILURE_CONFLICT}"
    );
    for failure in failures {
        sqlx::query(&statement)
            .bind(failure.raw_seq)
            .bind(&failure.transformer)
            .bind(crate::storable_reason(&failure.reason))
            .bind(now)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Queues calls of external functions: `(raw_seq, function name)`, due now.
async fn enqueue_function_jobs(
    tx: &mut Transaction<'_, Sqlite>,
    jobs: &[(i64, String)],
) -> Result<(), StoreError> {
    let now = to_micros(&Utc::now());
    let statement = format!(
        "INSERT INTO {FUNCTION_JOB_COLUMNS} VALUES ($1, $2, $3, $3) {FUNCTION_JOB_CONFLICT}"
    );
    for (raw_seq, function) in jobs {
        sqlx::query(&statement)
            .bind(raw_seq)
            .bind(function)
            .bind(now)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

async fn write_deployments(
    tx: &mut Transaction<'_, Sqlite>,
    deployments: &[NewDeployment],
) -> Result<(), StoreError> {
    let table = (DEPLOYMENT_WRITE_COLUMNS, DEPLOYMENT_CONFLICT);
    insert_rows(tx, table, deployments, |mut row, d| {
        row.push_bind(d.cdevent_seq)
            .push_bind(&d.cdevent_id)
            .push_bind(d.kind.as_str())
            .push_bind(&d.service)
            .push_bind(&d.environment)
            .push_bind(&d.artifact_id)
            .push_bind(to_micros(&d.deployed_at))
            .push_bind(&d.team)
            .push_bind(d.failed)
            .push_bind(&d.revision);
    })
    .await?;
    Ok(())
}

async fn write_observations(
    tx: &mut Transaction<'_, Sqlite>,
    observations: &[NewObservation],
) -> Result<(), StoreError> {
    let table = (OBSERVATION_WRITE_COLUMNS, OBSERVATION_CONFLICT);
    insert_rows(tx, table, observations, |mut row, o| {
        row.push_bind(o.cdevent_seq)
            .push_bind(o.ordinal)
            .push_bind(o.fact)
            .push_bind(&o.fact_id)
            .push_bind(&o.service)
            .push_bind(&o.environment)
            .push_bind(to_micros(&o.observed_at))
            .push_bind(&o.body);
    })
    .await?;
    Ok(())
}

/// Records (or records again) that `calculator` could not use these CDEvents.
async fn record_fact_failures(
    tx: &mut Transaction<'_, Sqlite>,
    calculator: &str,
    failures: &[NewFactFailure],
) -> Result<(), StoreError> {
    let now = to_micros(&Utc::now());
    let statement = format!(
        "INSERT INTO {FACT_FAILURE_COLUMNS} VALUES ($1, $2, $3, $4) {FACT_FAILURE_CONFLICT}"
    );
    for failure in failures {
        sqlx::query(&statement)
            .bind(failure.cdevent_seq)
            .bind(calculator)
            .bind(crate::storable_reason(&failure.reason))
            .bind(now)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The values of one raw event, in the order of [`RAW_EVENT_COLUMNS`].
fn bind_raw_event<'r>(mut row: Separated<'_, 'r, Sqlite, &'static str>, event: &'r NewRawEvent) {
    row.push_bind(&event.id)
        .push_bind(&event.source)
        .push_bind(&event.event_type)
        .push_bind(event.time.as_ref().map(to_micros))
        .push_bind(to_micros(&event.received_at))
        .push_bind(event.origin.as_str())
        .push_bind(&event.content);
}

/// Inserts `rows` into `table` (`"name (columns)"`, then what a conflict does) with multi-row
/// statements of [`ROWS_PER_STATEMENT`] rows, each row's values pushed by `bind`: one round trip
/// to SQLite's worker thread per statement instead of per row. Returns the rows inserted.
async fn insert_rows<'r, T>(
    tx: &mut Transaction<'_, Sqlite>,
    table: (&str, &str),
    rows: &'r [T],
    bind: impl FnMut(Separated<'_, 'r, Sqlite, &'static str>, &'r T),
) -> Result<u64, StoreError> {
    insert_rows_by(tx, table, rows, ROWS_PER_STATEMENT, bind).await
}

/// [`insert_rows`] with at most `per_statement` rows per statement.
async fn insert_rows_by<'r, T>(
    tx: &mut Transaction<'_, Sqlite>,
    (table, on_conflict): (&str, &str),
    rows: &'r [T],
    per_statement: usize,
    mut bind: impl FnMut(Separated<'_, 'r, Sqlite, &'static str>, &'r T),
) -> Result<u64, StoreError> {
    let mut inserted = 0;
    for chunk in rows.chunks(per_statement) {
        let mut insert = QueryBuilder::<Sqlite>::new(format!("INSERT INTO {table} "));
        insert.push_values(chunk, &mut bind);
        insert.push(format!(" {on_conflict}"));
        inserted += insert.build().execute(&mut **tx).await?.rows_affected();
    }
    Ok(inserted)
}

/// Moves a cursor from `from` to `to`, failing if another worker moved it first.
async fn move_cursor(
    tx: &mut Transaction<'_, Sqlite>,
    name: &str,
    from: Position,
    to: Position,
) -> Result<(), StoreError> {
    let (from, to) = (from.seq, to.seq);
    let now = to_micros(&Utc::now());
    sqlx::query("INSERT INTO cursors (name, position, updated_at) VALUES (?, 0, ?) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    let moved = sqlx::query(
        "UPDATE cursors SET position = ?, updated_at = ? WHERE name = ? AND position = ?",
    )
    .bind(to)
    .bind(now)
    .bind(name)
    .bind(from)
    .execute(&mut **tx)
    .await?;
    if moved.rows_affected() != 1 {
        return Err(StoreError::CursorMoved {
            name: name.to_owned(),
            expected: from,
        });
    }
    Ok(())
}
