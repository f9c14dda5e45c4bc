//! The link tables on SQLite ([`crate::links`]): lists travel as JSON arrays read with
//! `json_each`, times as integer microseconds.

use chrono::{DateTime, Utc};
use dora_model::time::{from_micros, to_micros};
use sqlx::{QueryBuilder, Row, Sqlite};

use super::{move_cursor, SqliteStore, ROWS_PER_STATEMENT};
use crate::links::*;
use crate::StoreError;

fn json_list<T: serde::Serialize>(values: &[T]) -> String {
    serde_json::to_string(values).unwrap_or_else(|_| "[]".to_owned())
}

/// The rows of a `group_concat` of four comma-separated fields, `;` between rows.
fn unpack(packed: &str) -> impl Iterator<Item = Result<[&str; 4], StoreError>> + '_ {
    packed.split(';').map(|row| {
        let mut fields = row.splitn(4, ',');
        let mut next = || {
            fields.next().ok_or_else(|| StoreError::Corrupt {
                seq: 0,
                reason: format!("a packed key row has fewer than four fields: {row:?}"),
            })
        };
        Ok([next()?, next()?, next()?, next()?])
    })
}

fn number<T: std::str::FromStr>(text: &str) -> Result<T, StoreError> {
    text.parse().map_err(|_| StoreError::Corrupt {
        seq: 0,
        reason: format!("a packed key row holds {text:?} where a number belongs"),
    })
}

impl SqliteStore {
    pub(crate) async fn commit_links(
        &self,
        from: i64,
        to: i64,
        writes: &LinkWrites,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for ids in writes.removed_changes.chunks(ROWS_PER_STATEMENT) {
            sqlx::query(
                "DELETE FROM change_links WHERE change_id IN (SELECT value FROM json_each(?))",
            )
            .bind(json_list(ids))
            .execute(&mut *tx)
            .await?;
        }
        let rewritten: Vec<&str> = writes
            .changes
            .iter()
            .map(|c| c.change_id.as_str())
            .chain(writes.removed_changes.iter().map(String::as_str))
            .collect();
        for ids in rewritten.chunks(ROWS_PER_STATEMENT) {
            sqlx::query(
                "DELETE FROM change_deployments WHERE change_id IN (SELECT value FROM json_each(?))",
            )
            .bind(json_list(ids))
            .execute(&mut *tx)
            .await?;
        }
        for chunk in writes.containments.chunks(ROWS_PER_STATEMENT) {
            let mut insert = QueryBuilder::<Sqlite>::new(
                "INSERT INTO change_deployments (change_id, deployment_id, service, environment, shipped) ",
            );
            insert.push_values(chunk, |mut row, c| {
                row.push_bind(&c.change_id)
                    .push_bind(c.deployment_id)
                    .push_bind(&c.service)
                    .push_bind(&c.environment)
                    .push_bind(c.shipped);
            });
            insert.build().execute(&mut *tx).await?;
        }
        for ids in writes.removed_incidents.chunks(ROWS_PER_STATEMENT) {
            sqlx::query(
                "DELETE FROM incident_links WHERE incident_id IN (SELECT value FROM json_each(?))",
            )
            .bind(json_list(ids))
            .execute(&mut *tx)
            .await?;
        }
        for chunk in writes.changes.chunks(ROWS_PER_STATEMENT) {
            let mut insert = QueryBuilder::<Sqlite>::new(
                "INSERT INTO change_links (change_id, first_deployment, first_at, lead, skewed, detail, version) ",
            );
            insert.push_values(chunk, |mut row, link| {
                row.push_bind(&link.change_id)
                    .push_bind(link.first_deployment)
                    .push_bind(link.first_at.as_ref().map(to_micros))
                    .push_bind(link.lead)
                    .push_bind(link.skewed)
                    .push_bind(&link.detail)
                    .push_bind(to);
            });
            insert.push(
                " ON CONFLICT (change_id) DO UPDATE SET first_deployment = excluded.first_deployment,
                  first_at = excluded.first_at, lead = excluded.lead, skewed = excluded.skewed,
                  detail = excluded.detail, version = excluded.version",
            );
            insert.build().execute(&mut *tx).await?;
        }
        for chunk in writes.incidents.chunks(ROWS_PER_STATEMENT / 2) {
            let mut insert = QueryBuilder::<Sqlite>::new(
                "INSERT INTO incident_links (incident_id, detected_at, resolved_at, service, environment,
                 artifact_id, deployment_id, target_service, target_environment, unattributed, detail, version) ",
            );
            insert.push_values(chunk, |mut row, link| {
                row.push_bind(&link.incident_id)
                    .push_bind(to_micros(&link.detected_at))
                    .push_bind(link.resolved_at.as_ref().map(to_micros))
                    .push_bind(&link.service)
                    .push_bind(&link.environment)
                    .push_bind(&link.artifact_id)
                    .push_bind(link.deployment_id)
                    .push_bind(&link.target_service)
                    .push_bind(&link.target_environment)
                    .push_bind(link.unattributed)
                    .push_bind(&link.detail)
                    .push_bind(to);
            });
            insert.push(
                " ON CONFLICT (incident_id) DO UPDATE SET detected_at = excluded.detected_at,
                  resolved_at = excluded.resolved_at, service = excluded.service,
                  environment = excluded.environment, artifact_id = excluded.artifact_id,
                  deployment_id = excluded.deployment_id, target_service = excluded.target_service,
                  target_environment = excluded.target_environment,
                  unattributed = excluded.unattributed, detail = excluded.detail,
                  version = excluded.version",
            );
            insert.build().execute(&mut *tx).await?;
        }
        for chunk in writes.deployments.chunks(ROWS_PER_STATEMENT) {
            let mut insert = QueryBuilder::<Sqlite>::new(
                "INSERT INTO deployment_links (deployment_id, flags, recovery_seconds, detail, version) ",
            );
            insert.push_values(chunk, |mut row, link| {
                row.push_bind(link.deployment_id)
                    .push_bind(link.flags)
                    .push_bind(link.recovery_seconds)
                    .push_bind(&link.detail)
                    .push_bind(to);
            });
            insert.push(
                " ON CONFLICT (deployment_id) DO UPDATE SET flags = excluded.flags,
                  recovery_seconds = excluded.recovery_seconds, detail = excluded.detail,
                  version = excluded.version",
            );
            insert.build().execute(&mut *tx).await?;
        }
        for chunk in writes.keys.chunks(ROWS_PER_STATEMENT) {
            let mut insert = QueryBuilder::<Sqlite>::new("INSERT INTO link_keys (key, fact_id) ");
            insert.push_values(chunk, |mut row, (key, fact_id)| {
                row.push_bind(key).push_bind(fact_id);
            });
            insert.push(" ON CONFLICT (key, fact_id) DO NOTHING");
            insert.build().execute(&mut *tx).await?;
        }
        for chunk in writes.dirty_days.chunks(ROWS_PER_STATEMENT) {
            let mut insert =
                QueryBuilder::<Sqlite>::new("INSERT INTO link_dirty_days (version, day) ");
            insert.push_values(chunk, |mut row, day| {
                row.push_bind(to).push_bind(*day);
            });
            insert.build().execute(&mut *tx).await?;
        }
        let now = to_micros(&chrono::Utc::now());
        for failure in &writes.failures {
            sqlx::query(
                "INSERT INTO fact_failures (cdevent_seq, calculator, reason, failed_at) VALUES (?, ?, ?, ?)
                 ON CONFLICT (cdevent_seq, calculator) DO UPDATE SET reason = excluded.reason, failed_at = excluded.failed_at",
            )
            .bind(failure.cdevent_seq)
            .bind(LINKER)
            .bind(crate::storable_reason(&failure.reason))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let prune_below = to - DIRTY_DAYS_KEPT;
        if prune_below > 0 {
            let pruned = sqlx::query("DELETE FROM link_dirty_days WHERE version <= ?")
                .bind(prune_below)
                .execute(&mut *tx)
                .await?;
            if pruned.rows_affected() > 0 {
                sqlx::query("UPDATE link_config SET dirty_days_from = ? WHERE id = 1")
                    .bind(prune_below)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        move_cursor(&mut tx, LINKS_CURSOR, from, to).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn reset_links(&self, fingerprint: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for table in [
            "deployment_links",
            "change_links",
            "change_deployments",
            "incident_links",
            "link_keys",
            "link_dirty_days",
        ] {
            sqlx::query(&format!("DELETE FROM {table}"))
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM cursors WHERE name = ?")
            .bind(LINKS_CURSOR)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO link_config (id, fingerprint) VALUES (1, ?)
             ON CONFLICT (id) DO UPDATE SET fingerprint = excluded.fingerprint, dirty_days_from = 0",
        )
        .bind(fingerprint)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn key_rows(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<KeyRowsRecord, StoreError> {
        use futures_util::TryStreamExt;
        let from = from.as_ref().map_or(i64::MIN, to_micros);
        let to = to.as_ref().map_or(i64::MAX, to_micros);
        let mut out = KeyRowsRecord::default();
        // Streamed, and without ids the keys do not need: a history's worth of rows is never
        // held twice.
        // Many rows travel as one text per day: sqlx hands rows over one by one from its
        // SQLite thread, which costs more than the query itself at a history's size.
        let mut rows = sqlx::query(
            "SELECT group_concat(d.id || ',' || d.deployed_at || ',' || l.flags || ','
                                 || ifnull(l.recovery_seconds, ''), ';') AS packed
             FROM deployments d JOIN deployment_links l ON l.deployment_id = d.id
             WHERE d.deployed_at >= ?1 AND d.deployed_at < ?2 AND (l.flags & 1) = 1
             GROUP BY d.deployed_at / 86400000000",
        )
        .bind(from)
        .bind(to)
        .fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            let packed: String = row.try_get(0)?;
            for fields in unpack(&packed) {
                let [id, at, flags, recovery] = fields?;
                out.deployments.push(DeploymentKeyRecord {
                    id: number(id)?,
                    at: from_micros(number(at)?),
                    flags: number(flags)?,
                    recovery_seconds: (!recovery.is_empty())
                        .then(|| number(recovery))
                        .transpose()?,
                });
            }
        }
        drop(rows);
        let mut rows = sqlx::query(
            "SELECT i.deployment_id, i.detected_at FROM deployments d
             JOIN incident_links i ON i.deployment_id = d.id
             WHERE d.deployed_at >= ?1 AND d.deployed_at < ?2",
        )
        .bind(from)
        .bind(to)
        .fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            out.detections.push((
                row.try_get("deployment_id")?,
                from_micros(row.try_get("detected_at")?),
            ));
        }
        drop(rows);
        let mut rows = sqlx::query(
            "SELECT group_concat(first_at || ',' || first_deployment || ',' || lead || ',' || skewed, ';')
                    AS packed
             FROM change_links WHERE first_at >= ?1 AND first_at < ?2
             GROUP BY first_at / 86400000000",
        )
        .bind(from)
        .bind(to)
        .fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            let packed: String = row.try_get(0)?;
            for fields in unpack(&packed) {
                let [at, deployment, lead, skewed] = fields?;
                out.shipped.push(ShippedKeyRecord {
                    change_id: String::new(),
                    at: from_micros(number(at)?),
                    deployment_id: number(deployment)?,
                    lead: number(lead)?,
                    skewed: number(skewed)?,
                });
            }
        }
        drop(rows);
        let mut rows = sqlx::query(
            "SELECT detected_at, unattributed FROM incident_links
             WHERE detected_at >= ?1 AND detected_at < ?2",
        )
        .bind(from)
        .bind(to)
        .fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            out.incidents.push(IncidentKeyRecord {
                id: String::new(),
                detected_at: from_micros(row.try_get("detected_at")?),
                unattributed: row.try_get("unattributed")?,
            });
        }
        Ok(out)
    }
}
