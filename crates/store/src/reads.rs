//! The queries of the pipeline's tables that both backends run alike ([`crate::sql`]): function
//! jobs, CDEvents for the calculators, facts for the keys, the event browser and the failures
//! list, counts. Writes, and reads that follow PostgreSQL's snapshot horizon, stay in the
//! backends.

use chrono::{DateTime, Utc};

use crate::sql::{with_pool, Dialect, List, OptionalStoredTime, StoredTime, DEPLOYMENT_COLUMNS};
use crate::writes::derived_tables;
use crate::{
    Bucket, CdEventRecord, Dimensions, EventLog, EventQuery, EventRow, FactFilter, FactRows,
    FailureRecord, FrequencyFilter, FrequencyRow, FunctionJob, FunctionJobStats, Position, Store,
    StoreError, StoreStats, TailStart, DEPLOYMENTS_CURSOR, DIMENSION_QUERIES, LINKS_CURSOR,
    ROUTER_CURSOR,
};

/// The event browser's view of a log: its columns under the names of [`EventRow`]'s fields,
/// and `extra` ones (e.g. the `tx` of a [`TailRow`]).
pub(crate) fn event_select(dialect: Dialect, log: EventLog, extra: &str) -> String {
    let (columns, table) = match log {
        EventLog::CloudEvents => (
            "seq, event_id AS id, event_source AS source, event_type, event_time AS time, \
             received_at AS stored_at, origin",
            "cloudevents_raw",
        ),
        EventLog::CdEvents => (
            "seq, cd_id AS id, cd_source AS source, cd_type AS event_type, cd_timestamp AS time, \
             stored_at, transformer AS origin",
            "cdevents_raw",
        ),
    };
    let content = dialect.json_text("content");
    format!("SELECT {columns}, {content}{extra} FROM {table}")
}

/// An event of a live tail, selected with [`event_select`] and the `tx` of its position.
#[derive(sqlx::FromRow)]
pub(crate) struct TailRow {
    #[sqlx(flatten)]
    pub(crate) position: Position,
    #[sqlx(flatten)]
    pub(crate) event: EventRow,
}

impl Store {
    /// Deployments per service and bucket, sorted by bucket then service (the book's endpoint).
    pub async fn deploy_frequency(
        &self,
        bucket: Bucket,
        filter: &FrequencyFilter,
    ) -> Result<Vec<FrequencyRow>, StoreError> {
        let sql = format!(
            "SELECT service, {} AS bucket_start, COUNT(*) AS deployments FROM deployments
             WHERE ($1 IS NULL OR environment = $1) AND ($2 IS NULL OR service = $2)
             GROUP BY service, bucket_start ORDER BY bucket_start, service",
            self.dialect().bucket_start(bucket, "deployed_at")
        );
        Ok(with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(&filter.environment)
            .bind(&filter.service)
            .fetch_all(pool)
            .await?))
    }

    /// Where a live tail of `log` starts: after every event visible now.
    pub async fn tail_start(&self, log: EventLog) -> Result<TailStart, StoreError> {
        if let (Store::Postgres(backend), EventLog::CloudEvents) = (self, log) {
            return backend.raw_tail_start().await;
        }
        // Appended one writer at a time (SQLite) or under a lock (CDEvents on PostgreSQL): rows
        // become visible in `seq` order.
        let sql = format!("SELECT COALESCE(MAX(seq), 0) FROM {}", log.table());
        let seq: i64 = with_pool!(self, pool => sqlx::query_scalar(&sql).fetch_one(pool).await?);
        Ok(TailStart::at(Position::at(seq)))
    }

    /// Events of `log` after `after`, in the order they became visible (oldest first), at most
    /// `limit` and, past the first, [`crate::PAGE_TEXT_BYTES`] of text, each with its position
    /// for the next call. Like the router, a tail never skips an
    /// event committed late by a slower transaction.
    pub async fn tail_events(
        &self,
        log: EventLog,
        after: Position,
        limit: i64,
    ) -> Result<Vec<(Position, EventRow)>, StoreError> {
        let rows: Vec<TailRow> = match (self, log) {
            (Store::Postgres(backend), EventLog::CloudEvents) => {
                backend.raw_tail_events(after, limit).await?
            }
            // Visible in `seq` order, as in `tail_start`.
            _ => {
                let positions = crate::sql::positions_within_text_budget(
                    self.dialect(),
                    (log.table(), "seq > $1", "seq", "seq"),
                    2,
                    3,
                );
                let sql = format!(
                    "{} WHERE seq IN ({positions}) ORDER BY seq",
                    event_select(self.dialect(), log, ", CAST(0 AS BIGINT) AS tx")
                );
                with_pool!(self, pool => sqlx::query_as(&sql)
                    .bind(after.seq)
                    .bind(limit)
                    .bind(crate::PAGE_TEXT_BYTES)
                    .fetch_all(pool)
                    .await?)
            }
        };
        Ok(rows.into_iter().map(|r| (r.position, r.event)).collect())
    }

    /// The due jobs of `function` (`next_attempt_at <= now`), oldest raw event first, at most
    /// `limit`.
    pub async fn due_function_jobs(
        &self,
        function: &str,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<FunctionJob>, StoreError> {
        let sql = format!(
            "SELECT j.raw_seq, j.function, j.attempts, {}
             FROM function_jobs j JOIN cloudevents_raw r ON r.seq = j.raw_seq
             WHERE j.function = $1 AND j.next_attempt_at <= $2
             ORDER BY j.raw_seq LIMIT $3",
            self.dialect().json_text("r.content")
        );
        Ok(with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(function)
            .bind(StoredTime(now))
            .bind(limit)
            .fetch_all(pool)
            .await?))
    }

    /// When the next job of `function` is due, if it has any.
    pub async fn next_function_job_due(
        &self,
        function: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let sql = "SELECT MIN(next_attempt_at) FROM function_jobs WHERE function = $1";
        let next: OptionalStoredTime = with_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(function)
            .fetch_one(pool)
            .await?);
        Ok(next.0)
    }

    /// Keeps a job for another attempt at `next_attempt_at`, recording why this one failed.
    pub async fn retry_function_job(
        &self,
        raw_seq: i64,
        function: &str,
        next_attempt_at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE function_jobs SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2
                   WHERE raw_seq = $3 AND function = $4";
        with_pool!(self, pool => {
            sqlx::query(sql)
                .bind(StoredTime(next_attempt_at))
                .bind(error)
                .bind(raw_seq)
                .bind(function)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Pending jobs per function, by function name.
    pub async fn function_job_stats(&self) -> Result<Vec<FunctionJobStats>, StoreError> {
        let sql = "SELECT j.function, COUNT(*) AS pending, MIN(j.raw_seq) AS oldest_raw_seq,
                          MIN(j.created_at) AS oldest_enqueued_at, MAX(j.attempts) AS max_attempts,
                          (SELECT last_error FROM function_jobs e
                           WHERE e.function = j.function AND e.last_error IS NOT NULL
                           ORDER BY e.next_attempt_at DESC LIMIT 1) AS last_error
                   FROM function_jobs j GROUP BY j.function ORDER BY j.function";
        Ok(with_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?))
    }

    /// CDEvents with `seq > after`, oldest first, at most `limit` and, past the first, at most
    /// [`crate::PASS_TEXT_BYTES`] of text.
    pub async fn cdevents_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<CdEventRecord>, StoreError> {
        let positions = crate::sql::positions_within_text_budget(
            self.dialect(),
            ("cdevents_raw", "seq > $1", "seq", "seq"),
            2,
            3,
        );
        let sql = format!(
            "SELECT c.seq, c.cd_type AS event_type, {} FROM ({positions}) AS p \
             JOIN cdevents_raw c ON c.seq = p.seq ORDER BY c.seq",
            self.dialect().json_text("c.content")
        );
        Ok(with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(after)
            .bind(limit)
            .bind(crate::PASS_TEXT_BYTES)
            .fetch_all(pool)
            .await?))
    }

    /// The deployments and observations in the scope of a filter (all times), for the DORA keys.
    pub async fn load_facts(&self, filter: &FactFilter) -> Result<FactRows, StoreError> {
        let dialect = self.dialect();
        let deployments = format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments
             WHERE ($1 IS NULL OR {}) AND ($2 IS NULL OR {}) AND ($3 IS NULL OR {})
             ORDER BY deployed_at, id",
            dialect.in_list("service", 1),
            dialect.in_list("environment", 2),
            dialect.in_list("team", 3),
        );
        let deployments: Vec<crate::DeploymentRecord> = with_pool!(self, pool =>
            sqlx::query_as(&deployments)
                .bind(filter.services.as_deref().map(List))
                .bind(filter.environments.as_deref().map(List))
                .bind(filter.teams.as_deref().map(List))
                .fetch_all(pool)
                .await?);
        // Observations follow the services of the scope: the filter's, or (by team) the
        // services of the team's deployments.
        let services = match (&filter.services, &filter.teams) {
            (Some(services), _) => Some(services.clone()),
            (None, Some(_)) => Some(deployments.iter().map(|d| d.service.clone()).collect()),
            (None, None) => None,
        };
        let observations = format!(
            "SELECT {} FROM observations
             WHERE ($1 IS NULL OR service IS NULL OR {}) AND ($2 IS NULL OR environment IS NULL OR {})
             ORDER BY id",
            dialect.observation_columns(),
            dialect.in_list("service", 1),
            dialect.in_list("environment", 2),
        );
        // Mapped as they stream in: a history of millions of observations is never held twice.
        let observations = with_pool!(self, pool => sqlx::query_as(&observations)
            .bind(services.as_deref().map(List))
            .bind(filter.environments.as_deref().map(List))
            .fetch_all(pool)
            .await?);
        Ok(FactRows {
            deployments,
            observations,
        })
    }

    /// Recorded failures (transformations, and CDEvents the calculator skipped), newest first.
    pub async fn list_failures(
        &self,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<FailureRecord>, StoreError> {
        let sql = "SELECT * FROM (
               SELECT f.id, f.raw_seq, r.event_id, r.event_source, r.event_type, f.transformer, f.reason,
                      f.failed_at, CAST(NULL AS BIGINT) AS cdevent_seq
               FROM transform_failures f JOIN cloudevents_raw r ON r.seq = f.raw_seq
               UNION ALL
               SELECT f.id, COALESCE(c.raw_seq, 0), c.cd_id, c.cd_source, c.cd_type, f.calculator, f.reason,
                      f.failed_at, f.cdevent_seq
               FROM fact_failures f JOIN cdevents_raw c ON c.seq = f.cdevent_seq
             ) failures
             ORDER BY failed_at DESC, id DESC LIMIT $1 OFFSET $2";
        Ok(with_pool!(self, pool => sqlx::query_as(sql)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?))
    }

    /// A page of stored events for the event browser, newest first: at most `query.limit` and,
    /// past the first, [`crate::PAGE_TEXT_BYTES`] of text.
    pub async fn list_events(&self, query: &EventQuery) -> Result<Vec<EventRow>, StoreError> {
        let dialect = self.dialect();
        let filter = format!(
            "($1 IS NULL OR seq < $1) AND ($2 IS NULL OR {}) AND ($3 IS NULL OR {})",
            dialect.starts_with(query.log.type_column(), 2),
            dialect.starts_with(query.log.source_column(), 3),
        );
        let positions = crate::sql::positions_within_text_budget(
            dialect,
            (query.log.table(), &filter, "seq", "seq DESC"),
            4,
            5,
        );
        let sql = format!(
            "{} WHERE seq IN ({positions}) ORDER BY seq DESC",
            event_select(dialect, query.log, ""),
        );
        Ok(with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(query.before)
            .bind(query.type_prefix.as_deref())
            .bind(query.source_prefix.as_deref())
            .bind(query.limit)
            .bind(crate::PAGE_TEXT_BYTES)
            .fetch_all(pool)
            .await?))
    }

    /// The services, environments and teams named by stored facts.
    pub async fn dimensions(&self) -> Result<Dimensions, StoreError> {
        let [services, environments, teams] = DIMENSION_QUERIES;
        with_pool!(self, pool => Ok(Dimensions {
            services: sqlx::query_scalar(services).fetch_all(pool).await?,
            environments: sqlx::query_scalar(environments).fetch_all(pool).await?,
            teams: sqlx::query_scalar(teams).fetch_all(pool).await?,
        }))
    }

    /// Row counts and cursor positions.
    pub async fn stats(&self) -> Result<StoreStats, StoreError> {
        // Raw events the router has not read yet: on PostgreSQL, rows after its position in
        // (tx, seq) order; on SQLite, where `seq` alone orders them, the difference of the two.
        let router_lag = match self.dialect() {
            Dialect::Sqlite => {
                "(SELECT COALESCE(MAX(seq), 0) FROM cloudevents_raw)
                 - (SELECT COALESCE(MAX(position), 0) FROM cursors WHERE name = $1)"
            }
            Dialect::Postgres => {
                "(SELECT COUNT(*) FROM cloudevents_raw r
                  WHERE (r.tx, r.seq) > ((SELECT COALESCE(MAX(position_tx), 0) FROM cursors WHERE name = $1),
                                          (SELECT COALESCE(MAX(position), 0) FROM cursors WHERE name = $1)))"
            }
        };
        let sql = format!(
            "SELECT
               (SELECT COUNT(*) FROM cloudevents_raw) AS raw_events,
               (SELECT COUNT(*) FROM cdevents_raw) AS cdevents,
               (SELECT COUNT(*) FROM deployments) AS deployments,
               (SELECT COUNT(*) FROM transform_failures) + (SELECT COUNT(*) FROM fact_failures) AS failures,
               (SELECT COALESCE(MAX(seq), 0) FROM cloudevents_raw) AS last_raw_seq,
               (SELECT COALESCE(MAX(seq), 0) FROM cdevents_raw) AS last_cdevent_seq,
               (SELECT COALESCE(MAX(position), 0) FROM cursors WHERE name = $1) AS router_cursor,
               (SELECT COALESCE(MAX(position), 0) FROM cursors WHERE name = $2) AS deployments_cursor,
               (SELECT COALESCE(MAX(position), 0) FROM cursors WHERE name = $3) AS links_cursor,
               {router_lag} AS router_lag"
        );
        Ok(with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(ROUTER_CURSOR)
            .bind(DEPLOYMENTS_CURSOR)
            .bind(LINKS_CURSOR)
            .fetch_one(pool)
            .await?))
    }

    /// Deletes everything derived from `cloudevents_raw` (CDEvents, failures, facts, cursors,
    /// function jobs), so the pipeline can rebuild it (`dora-events recompute`).
    pub async fn reset_derived(&self) -> Result<(), StoreError> {
        let statements = self.dialect().empty_tables(&derived_tables());
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for statement in &statements {
                sqlx::query(statement).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// A cheap round trip, for readiness.
    pub async fn ping(&self) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// Closes the pool (waits for connections to be returned).
    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }
}
