//! The PostgreSQL backend: for several processes and replicas on one database.
//!
//! Event content is `JSONB`, times are `TIMESTAMPTZ`, and writes are multi-row `INSERT ... SELECT
//! FROM UNNEST(...)` statements, one per table and transaction. Sessions run with
//! `synchronous_commit = on`, whatever the server's default, since a 2xx means durable.
//!
//! Cursors need rows to become visible in the order they are read, which PostgreSQL sequences
//! do not promise when transactions commit concurrently (a reader could see `seq` 10 before 9
//! commits, move its cursor to 10, and skip 9 forever). Ingest appends to `cloudevents_raw`
//! concurrently and without a lock, so each row records the id of its transaction (`tx`) and
//! the router reads in (`tx`, `seq`) order only below the snapshot horizon (see
//! [`PostgresStore::raw_after`]). `cdevents_raw` has one producer at a time (the router holding
//! its cursor) and appends under a transaction-scoped advisory lock, so its `seq` order is
//! commit order. Requires PostgreSQL 13 or later (`pg_current_xact_id`).

use std::collections::HashSet;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::{Arguments, PgPool, Postgres, Transaction};

use crate::commits::pipeline_commits;
use crate::reads::{event_select, TailRow};
use crate::sql::Dialect;
use crate::writes::*;
use crate::{
    EventLog, NewCdEvent, NewDeployment, NewFactFailure, NewFailure, NewObservation, NewRawEvent,
    Position, RawBatch, RawRecord, StoreError, TailStart,
};

mod links;

const MIGRATIONS: &[(i64, &str)] = migrations!("postgres");

/// Advisory lock keys (arbitrary constants, unique to dora-events).
const MIGRATION_LOCK: i64 = 0x646f_7261_0001;

/// Inserts a group of raw events from arrays (see [`raw_event_arrays`]). Appends take no lock:
/// they run concurrently, and readers order rows by the appending transaction (see
/// [`PostgresStore::raw_after`]). Rows go in in (source, id) order, so concurrent appends of
/// overlapping events wait on each other's keys in one order and never deadlock.
/// `content_bytes` is the length of the text PostgreSQL gives back for the JSONB (its spacing,
/// numbers without exponents), which is what a read of the row returns, not of the text sent.
macro_rules! insert_raw_events {
    () => {
        "INSERT INTO cloudevents_raw (event_id, event_source, event_type, event_time, received_at, origin, content, content_bytes)
         SELECT id, source, type, time, received, origin, content, octet_length(content::text)
         FROM (SELECT id, source, type, time, received, origin, content::jsonb AS content
               FROM UNNEST($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::text[], $7::text[])
                    AS e(id, source, type, time, received, origin, content)
               OFFSET 0) AS e
         ON CONFLICT (event_source, event_id) DO NOTHING"
    };
}

/// One group of ingested events: a single autocommit statement (atomic on its own, one round
/// trip), returning the keys it stored.
const APPEND_RAW: &str = concat!(insert_raw_events!(), " RETURNING event_source, event_id");

/// The same, also notifying `dora_events_raw` listeners (other processes' routers) when it
/// stored anything. PostgreSQL folds the per-row notifications of one transaction into one,
/// delivered at commit.
const APPEND_RAW_AND_NOTIFY: &str = concat!(
    "WITH inserted AS (",
    insert_raw_events!(),
    " RETURNING event_source, event_id)
     SELECT event_source, event_id, pg_notify('dora_events_raw', '') FROM inserted"
);

const CDEVENT_APPEND_LOCK: i64 = 0x646f_7261_0003;

/// [`CDEVENT_COLUMNS`] and `content_bytes` (migration 0007, PostgreSQL only: SQLite reads a
/// text's length from its row header, see [`crate::sql::positions_within_text_budget`]).
const CDEVENT_COLUMNS_WITH_BYTES: &str = "cdevents_raw (cd_id, cd_source, cd_type, cd_subject_id, \
     cd_subject_source, cd_timestamp, content, raw_seq, transformer, stored_at, content_bytes)";

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    connect_options: std::sync::Arc<PgConnectOptions>,
    /// Whether appends to `cloudevents_raw` notify other processes (see
    /// [`crate::Store::notify_other_processes`]).
    notify_raw_commits: bool,
}

impl PostgresStore {
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Begins a write transaction. PostgreSQL runs concurrent writers itself: no turn to wait
    /// for (the SQLite backend's `begin_write` takes one).
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<((), sqlx::Transaction<'static, sqlx::Postgres>), StoreError> {
        Ok(((), self.pool.begin().await?))
    }

    /// Begins the transaction that claims a function job: deleting the job locks its row, so a
    /// second worker with the same job waits, then finds it gone and stores nothing.
    async fn begin_job(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        Ok(self.pool.begin().await?)
    }

    pub(crate) async fn open(url: &str, pool_size: u32) -> Result<Self, StoreError> {
        // A 2xx means durable: never let a server-side default relax commit durability.
        let connect_options =
            PgConnectOptions::from_str(url)?.options([("synchronous_commit", "on")]);
        let pool = PgPoolOptions::new()
            .max_connections(pool_size.max(2))
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(connect_options.clone())
            .await?;
        let store = Self {
            pool,
            connect_options: std::sync::Arc::new(connect_options),
            notify_raw_commits: true,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies missing migrations under a session advisory lock, so that instances starting at
    /// once apply each migration once.
    async fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *conn)
            .await?;
        let outcome = Self::apply_migrations(&mut conn).await;
        let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *conn)
            .await;
        outcome?;
        unlocked?;
        Ok(())
    }

    async fn apply_migrations(conn: &mut PgConnection) -> Result<(), StoreError> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)",
        )
        .execute(&mut *conn)
        .await?;
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
            .fetch_all(&mut *conn)
            .await?;
        for (version, sql) in MIGRATIONS {
            if applied.contains(version) {
                continue;
            }
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            sqlx::raw_sql(sql).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())")
                .bind(version)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            tracing::info!(version, "applied PostgreSQL migration");
        }
        Ok(())
    }

    pub(crate) async fn append_raw(&self, events: &[NewRawEvent]) -> Result<Vec<bool>, StoreError> {
        retrying_deadlocks(|| self.try_append_raw(events)).await
    }

    async fn try_append_raw(&self, events: &[NewRawEvent]) -> Result<Vec<bool>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let statement = if self.notify_raw_commits {
            APPEND_RAW_AND_NOTIFY
        } else {
            APPEND_RAW
        };
        let keys: Vec<(String, String)> = sqlx::query_as_with(statement, raw_event_arrays(events)?)
            .fetch_all(&self.pool)
            .await?;
        let new_keys: HashSet<(String, String)> = keys.into_iter().collect();
        Ok(crate::first_occurrences_inserted(events, new_keys))
    }

    pub(crate) async fn import_raw(
        &self,
        events: &[NewRawEvent],
        checkpoint: Option<(&str, i64)>,
    ) -> Result<u64, StoreError> {
        retrying_deadlocks(|| self.try_import_raw(events, checkpoint)).await
    }

    async fn try_import_raw(
        &self,
        events: &[NewRawEvent],
        checkpoint: Option<(&str, i64)>,
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query_with(insert_raw_events!(), raw_event_arrays(events)?)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if let Some((name, position)) = checkpoint {
            sqlx::query(
                "INSERT INTO cursors (name, position_tx, position, updated_at) VALUES ($1, 0, $2, now())
                 ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at",
            )
            .bind(name)
            .bind(position)
            .execute(&mut *tx)
            .await?;
        }
        if inserted > 0 && self.notify_raw_commits {
            // Delivered at commit: routers in other processes wake up.
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(crate::RAW_CHANNEL)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(inserted)
    }

    pub(crate) async fn cursor(&self, name: &str) -> Result<Position, StoreError> {
        let position = sqlx::query_as(
            "SELECT position_tx AS tx, position AS seq FROM cursors WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(position.unwrap_or(Position::START))
    }

    /// Raw events after `after` in (`tx`, `seq`) order. Appends commit concurrently, so a row of
    /// a transaction that is still running could later appear *before* rows already visible;
    /// only rows of transactions older than every running one (`tx` below the snapshot's xmin,
    /// the horizon) are final in that order and handed out. When rows exist after the batch
    /// (pending behind the horizon, or beyond the limit), `more_pending` says so.
    pub(crate) async fn raw_after(
        &self,
        after: Position,
        limit: i64,
    ) -> Result<RawBatch, StoreError> {
        let horizon = self.snapshot_horizon().await?;
        if after.tx >= horizon {
            // The horizon only grows, and the cursor only ever passes rows below it: a cursor at or
            // past it means the transaction ids went back (database restored or moved to another
            // cluster). Reading on would skip every new row; stop and say so.
            return Err(StoreError::Corrupt {
                seq: after.seq,
                reason: format!(
                    "the router cursor stands at transaction {} but the database's oldest running transaction is {horizon}: \
                     were transaction ids reset (restore or migration to another cluster)? See docs/scaling.md",
                    after.tx
                ),
            });
        }
        let select = "SELECT tx, seq, origin, content::text AS content FROM cloudevents_raw";
        let page = (after, horizon, limit, crate::PASS_TEXT_BYTES);
        let records: Vec<RawRecord> = self.below_horizon(select, page).await?;
        let last = records.last().map_or(after, |r| r.position);
        let more_pending: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM cloudevents_raw WHERE (tx, seq) > ($1, $2))",
        )
        .bind(last.tx)
        .bind(last.seq)
        .fetch_one(&self.pool)
        .await?;
        Ok(RawBatch {
            records,
            more_pending,
        })
    }

    /// Where a live tail of `cloudevents_raw` starts: after the last row below the snapshot
    /// horizon (every row after it in (tx, seq) order belongs to a transaction still running,
    /// not yet begun, or committed while an older one runs), skipping the rows already
    /// committed among those.
    pub(crate) async fn raw_tail_start(&self) -> Result<TailStart, StoreError> {
        // One statement, one snapshot: the last row below the horizon, and the rows of
        // transactions at or above it that are committed already (visible now, but handed out
        // by a tail only once the horizon passes them: they are skipped, being older than the
        // tail).
        let rows: Vec<(i64, i64, bool)> = sqlx::query_as(
            "WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS horizon),
             last AS (SELECT r.tx, r.seq FROM cloudevents_raw r, h WHERE r.tx < h.horizon
                      ORDER BY r.tx DESC, r.seq DESC LIMIT 1)
             SELECT tx, seq, TRUE FROM last
             UNION ALL
             (SELECT r.tx, r.seq, FALSE FROM cloudevents_raw r, h WHERE r.tx >= h.horizon
              ORDER BY r.tx, r.seq LIMIT $1)",
        )
        .bind(TailStart::MAX_SEEN as i64)
        .fetch_all(&self.pool)
        .await?;
        let mut start = TailStart::at(Position::START);
        for (tx, seq, is_last) in rows {
            match is_last {
                true => start.after = Position { tx, seq },
                false => {
                    start.seen.insert(seq);
                }
            }
        }
        Ok(start)
    }

    /// The raw events of a live tail after `after`, in (tx, seq) order below the snapshot
    /// horizon (see [`PostgresStore::raw_after`]).
    pub(crate) async fn raw_tail_events(
        &self,
        after: Position,
        limit: i64,
    ) -> Result<Vec<TailRow>, StoreError> {
        let horizon = self.snapshot_horizon().await?;
        let select = event_select(Dialect::Postgres, EventLog::CloudEvents, ", tx");
        let page = (after, horizon, limit, crate::PAGE_TEXT_BYTES);
        self.below_horizon(&select, page).await
    }

    /// The rows of `cloudevents_raw` that `select` names (with their `tx` and `seq`) after
    /// `after` in (tx, seq) order, of transactions below `horizon`, at most `limit` and, past
    /// the first, `text_budget` bytes of text.
    async fn below_horizon<R>(
        &self,
        select: &str,
        (after, horizon, limit, text_budget): (Position, i64, i64, i64),
    ) -> Result<Vec<R>, StoreError>
    where
        R: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
    {
        let positions = crate::sql::positions_within_text_budget(
            Dialect::Postgres,
            ("cloudevents_raw", BELOW_HORIZON, "tx, seq", "tx, seq"),
            4,
            5,
        );
        let sql = format!(
            "{select} WHERE seq IN (SELECT p.seq FROM ({positions}) AS p) ORDER BY tx, seq"
        );
        Ok(sqlx::query_as(&sql)
            .bind(after.tx)
            .bind(after.seq)
            .bind(horizon)
            .bind(limit)
            .bind(text_budget)
            .fetch_all(&self.pool)
            .await?)
    }

    /// The oldest transaction still running: rows of older transactions are all visible.
    async fn snapshot_horizon(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Forwards notifications on `channel` (from any process) to `wake`, reconnecting after errors.
    pub(crate) fn forward_notifications(
        &self,
        channel: &'static str,
        wake: std::sync::Arc<tokio::sync::Notify>,
    ) {
        // A connection of its own, not one of the pool's: a listener holds its connection for
        // good and would starve a small pool.
        let options = self.connect_options.clone();
        let pool = self.pool.clone();
        tokio::spawn(async move {
            while !pool.is_closed() {
                let connected = async {
                    let mut listener = sqlx::postgres::PgListener::connect_with(
                        &PgPoolOptions::new()
                            .max_connections(1)
                            .connect_lazy_with((*options).clone()),
                    )
                    .await?;
                    listener.listen(channel).await?;
                    Ok::<_, sqlx::Error>(listener)
                }
                .await;
                let mut listener = match connected {
                    Ok(listener) => listener,
                    Err(error) => {
                        tracing::warn!(channel, error = %error, "cannot listen for commits; retrying");
                        tokio::time::sleep(Duration::from_secs(2)).await;
                        continue;
                    }
                };
                // Notifications sent while not listening are lost: wake once to catch up.
                wake.notify_one();
                loop {
                    match listener.try_recv().await {
                        Ok(Some(_)) => wake.notify_one(),
                        // The connection was lost (and is re-established by the next call).
                        Ok(None) => wake.notify_one(),
                        Err(error) => {
                            tracing::warn!(channel, error = %error, "lost the commit listener; reconnecting");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            break;
                        }
                    }
                    if pool.is_closed() {
                        return;
                    }
                }
            }
        });
    }

    pub(crate) fn set_notify_raw_commits(&mut self, notify: bool) {
        self.notify_raw_commits = notify;
    }
}

/// Queues a notification, delivered to listeners when (and only if) the transaction commits.
async fn notify(tx: &mut Transaction<'_, Postgres>, channel: &str) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(channel)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn lock(tx: &mut Transaction<'_, Postgres>, key: i64) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(key)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pipeline_commits!(PostgresStore);

/// Appends CDEvents (with the raw event each came from) under the append lock, so that they
/// become visible in `seq` order, and notifies listeners at commit.
async fn append_cdevents(
    tx: &mut Transaction<'_, Postgres>,
    cdevents: &[(i64, &NewCdEvent)],
) -> Result<(), StoreError> {
    if cdevents.is_empty() {
        return Ok(());
    }
    lock(tx, CDEVENT_APPEND_LOCK).await?;
    sqlx::query(&format!(
        "INSERT INTO {CDEVENT_COLUMNS_WITH_BYTES}
         SELECT id, source, type, subject_id, subject_source, ts, content, raw_seq, transformer, now(),
                octet_length(content::text)
         FROM (SELECT id, source, type, subject_id, subject_source, ts, content::jsonb AS content, raw_seq, transformer
               FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[],
                           $8::bigint[], $9::text[])
                    AS c(id, source, type, subject_id, subject_source, ts, content, raw_seq, transformer)
               OFFSET 0) AS c
         {CDEVENT_CONFLICT}"
    ))
    .bind(column(cdevents, |(_, c)| c.id.as_str()))
    .bind(column(cdevents, |(_, c)| c.source.as_str()))
    .bind(column(cdevents, |(_, c)| c.event_type.as_str()))
    .bind(column(cdevents, |(_, c)| c.subject_id.as_str()))
    .bind(column(cdevents, |(_, c)| c.subject_source.as_deref()))
    .bind(column(cdevents, |(_, c)| c.timestamp))
    .bind(column(cdevents, |(_, c)| c.content.as_str()))
    .bind(column(cdevents, |(raw_seq, _)| *raw_seq))
    .bind(column(cdevents, |(_, c)| c.transformer.as_str()))
    .execute(&mut **tx)
    .await?;
    notify(tx, crate::CDEVENTS_CHANNEL).await
}

/// Records (or records again) that transformers failed on raw events.
async fn record_transform_failures(
    tx: &mut Transaction<'_, Postgres>,
    failures: &[NewFailure],
) -> Result<(), StoreError> {
    if failures.is_empty() {
        return Ok(());
    }
    sqlx::query(&format!(
        "INSERT INTO {TRANSFORM_FAILURE_COLUMNS}
         SELECT raw_seq, transformer, reason, now()
         FROM UNNEST($1::bigint[], $2::text[], $3::text[]) AS f(raw_seq, transformer, reason)
         {TRANSFORM_FAILURE_CONFLICT}"
    ))
    .bind(column(failures, |f| f.raw_seq))
    .bind(column(failures, |f| f.transformer.as_str()))
    .bind(column(failures, |f| crate::storable_reason(&f.reason)))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Queues calls of external functions: `(raw_seq, function name)`, due now.
async fn enqueue_function_jobs(
    tx: &mut Transaction<'_, Postgres>,
    jobs: &[(i64, String)],
) -> Result<(), StoreError> {
    if jobs.is_empty() {
        return Ok(());
    }
    sqlx::query(&format!(
        "INSERT INTO {FUNCTION_JOB_COLUMNS}
         SELECT raw_seq, function, now(), now()
         FROM UNNEST($1::bigint[], $2::text[]) AS j(raw_seq, function)
         {FUNCTION_JOB_CONFLICT}"
    ))
    .bind(column(jobs, |(raw_seq, _)| *raw_seq))
    .bind(column(jobs, |(_, function)| function.as_str()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn write_deployments(
    tx: &mut Transaction<'_, Postgres>,
    deployments: &[NewDeployment],
) -> Result<(), StoreError> {
    if deployments.is_empty() {
        return Ok(());
    }
    sqlx::query(&format!(
        "INSERT INTO {DEPLOYMENT_WRITE_COLUMNS}
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                              $7::timestamptz[], $8::text[], $9::boolean[], $10::text[])
         {DEPLOYMENT_CONFLICT}"
    ))
    .bind(column(deployments, |d| d.cdevent_seq))
    .bind(column(deployments, |d| d.cdevent_id.as_str()))
    .bind(column(deployments, |d| d.kind.as_str()))
    .bind(column(deployments, |d| d.service.as_str()))
    .bind(column(deployments, |d| d.environment.as_str()))
    .bind(column(deployments, |d| d.artifact_id.as_deref()))
    .bind(column(deployments, |d| d.deployed_at))
    .bind(column(deployments, |d| d.team.as_deref()))
    .bind(column(deployments, |d| d.failed))
    .bind(column(deployments, |d| d.revision.as_deref()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn write_observations(
    tx: &mut Transaction<'_, Postgres>,
    observations: &[NewObservation],
) -> Result<(), StoreError> {
    if observations.is_empty() {
        return Ok(());
    }
    sqlx::query(&format!(
        "INSERT INTO {OBSERVATION_WRITE_COLUMNS}
         SELECT seq, ordinal, fact, fact_id, service, environment, observed_at, body::jsonb
         FROM UNNEST($1::bigint[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::timestamptz[], $8::text[])
              AS o(seq, ordinal, fact, fact_id, service, environment, observed_at, body)
         {OBSERVATION_CONFLICT}"
    ))
    .bind(column(observations, |o| o.cdevent_seq))
    .bind(column(observations, |o| o.ordinal))
    .bind(column(observations, |o| o.fact))
    .bind(column(observations, |o| o.fact_id.as_str()))
    .bind(column(observations, |o| o.service.as_deref()))
    .bind(column(observations, |o| o.environment.as_deref()))
    .bind(column(observations, |o| o.observed_at))
    .bind(column(observations, |o| o.body.as_str()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records (or records again) that `calculator` could not use these CDEvents.
async fn record_fact_failures(
    tx: &mut Transaction<'_, Postgres>,
    calculator: &str,
    failures: &[NewFactFailure],
) -> Result<(), StoreError> {
    if failures.is_empty() {
        return Ok(());
    }
    sqlx::query(&format!(
        "INSERT INTO {FACT_FAILURE_COLUMNS}
         SELECT seq, $3, reason, now() FROM UNNEST($1::bigint[], $2::text[]) AS f(seq, reason)
         {FACT_FAILURE_CONFLICT}"
    ))
    .bind(column(failures, |f| f.cdevent_seq))
    .bind(column(failures, |f| crate::storable_reason(&f.reason)))
    .bind(calculator)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// One column of `rows`, as an array parameter for `UNNEST`.
fn column<'r, T, V>(rows: &'r [T], value: impl Fn(&'r T) -> V) -> Vec<V> {
    rows.iter().map(value).collect()
}

/// The seven arrays [`insert_raw_events`] reads, one value of each event in each.
fn raw_event_arrays(events: &[NewRawEvent]) -> Result<PgArguments, StoreError> {
    let mut arguments = PgArguments::default();
    let encode = |e: sqlx::error::BoxDynError| StoreError::Database(sqlx::Error::Encode(e));
    arguments
        .add(column(events, |e| e.id.as_str()))
        .map_err(encode)?;
    arguments
        .add(column(events, |e| e.source.as_str()))
        .map_err(encode)?;
    arguments
        .add(column(events, |e| e.event_type.as_str()))
        .map_err(encode)?;
    arguments.add(column(events, |e| e.time)).map_err(encode)?;
    arguments
        .add(column(events, |e| e.received_at))
        .map_err(encode)?;
    arguments
        .add(column(events, |e| e.origin.as_str()))
        .map_err(encode)?;
    arguments
        .add(column(events, |e| e.content.as_str()))
        .map_err(encode)?;
    Ok(arguments)
}

/// Runs `write` again (at most three times more) when it deadlocked with a concurrent append.
async fn retrying_deadlocks<T, F>(mut write: impl FnMut() -> F) -> Result<T, StoreError>
where
    F: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut attempt = 0;
    loop {
        match write().await {
            Err(StoreError::Database(sqlx::Error::Database(db)))
                if db.code().as_deref() == Some("40P01") && attempt < 3 =>
            {
                attempt += 1;
                tracing::debug!(
                    attempt,
                    "append deadlocked with a concurrent append; retrying"
                );
            }
            outcome => return outcome,
        }
    }
}

/// Moves a cursor from `from` to `to`, failing if another worker moved it first. The row lock
/// taken here is held to commit, so concurrent passes over the same cursor serialise.
async fn move_cursor(
    tx: &mut Transaction<'_, Postgres>,
    name: &str,
    from: Position,
    to: Position,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO cursors (name, position_tx, position, updated_at) VALUES ($1, 0, 0, now())
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .execute(&mut **tx)
    .await?;
    let moved = sqlx::query(
        "UPDATE cursors SET position_tx = $1, position = $2, updated_at = now()
         WHERE name = $3 AND position_tx = $4 AND position = $5",
    )
    .bind(to.tx)
    .bind(to.seq)
    .bind(name)
    .bind(from.tx)
    .bind(from.seq)
    .execute(&mut **tx)
    .await?;
    if moved.rows_affected() != 1 {
        return Err(StoreError::CursorMoved {
            name: name.to_owned(),
            expected: from.seq,
        });
    }
    Ok(())
}

/// The rows of `cloudevents_raw` after `($1, $2)` in (tx, seq) order, of transactions below the
/// horizon `$3`.
const BELOW_HORIZON: &str = "(tx, seq) > ($1, $2) AND tx < $3";
