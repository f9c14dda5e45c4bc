//! The link tables on SQLite ([`crate::links`]): lists travel as JSON arrays read with
//! `json_each`, times as integer microseconds.

use chrono::{DateTime, Utc};
use dora_model::time::{from_micros, to_micros};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};

use super::{deployment_record, move_cursor, SqliteStore, DEPLOYMENT_COLUMNS, ROWS_PER_STATEMENT};
use crate::links::*;
use crate::{DeploymentRecord, ObservationRecord, StoreError};

fn json_list<T: serde::Serialize>(values: &[T]) -> String {
    serde_json::to_string(values).unwrap_or_else(|_| "[]".to_owned())
}

const OBSERVATION_COLUMNS: &str = "fact, fact_id, service, environment, observed_at, body";

fn observation_record(row: &SqliteRow) -> Result<ObservationRecord, StoreError> {
    Ok(ObservationRecord {
        fact: row.try_get("fact")?,
        fact_id: row.try_get("fact_id")?,
        service: row.try_get("service")?,
        environment: row.try_get("environment")?,
        observed_at: from_micros(row.try_get("observed_at")?),
        body: row.try_get("body")?,
    })
}

const CHANGE_LINK_COLUMNS: &str = "change_id, first_deployment, first_at, lead, skewed, detail";

fn change_link(row: &SqliteRow) -> Result<ChangeLinkRow, StoreError> {
    Ok(ChangeLinkRow {
        change_id: row.try_get("change_id")?,
        first_deployment: row.try_get("first_deployment")?,
        first_at: row.try_get::<Option<i64>, _>("first_at")?.map(from_micros),
        lead: row.try_get("lead")?,
        skewed: row.try_get("skewed")?,
        detail: row.try_get("detail")?,
    })
}

const INCIDENT_LINK_COLUMNS: &str = "incident_id, detected_at, resolved_at, service, environment, \
     artifact_id, deployment_id, target_service, target_environment, unattributed, detail";

fn incident_link(row: &SqliteRow) -> Result<IncidentLinkRow, StoreError> {
    Ok(IncidentLinkRow {
        incident_id: row.try_get("incident_id")?,
        detected_at: from_micros(row.try_get("detected_at")?),
        resolved_at: row
            .try_get::<Option<i64>, _>("resolved_at")?
            .map(from_micros),
        service: row.try_get("service")?,
        environment: row.try_get("environment")?,
        artifact_id: row.try_get("artifact_id")?,
        deployment_id: row.try_get("deployment_id")?,
        target_service: row.try_get("target_service")?,
        target_environment: row.try_get("target_environment")?,
        unattributed: row.try_get("unattributed")?,
        detail: row.try_get("detail")?,
    })
}

fn deployment_link(row: &SqliteRow) -> Result<DeploymentLinkRow, StoreError> {
    Ok(DeploymentLinkRow {
        deployment_id: row.try_get("deployment_id")?,
        flags: row.try_get("flags")?,
        recovery_seconds: row.try_get("recovery_seconds")?,
        detail: row.try_get("detail")?,
    })
}

fn containment(row: &SqliteRow) -> Result<ContainmentRow, StoreError> {
    Ok(ContainmentRow {
        change_id: row.try_get("change_id")?,
        deployment_id: row.try_get("deployment_id")?,
        service: row.try_get("service")?,
        environment: row.try_get("environment")?,
        shipped: row.try_get("shipped")?,
    })
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

fn key_pair(row: &SqliteRow) -> Result<(String, String), StoreError> {
    Ok((row.try_get("key")?, row.try_get("fact_id")?))
}

impl SqliteStore {
    pub(crate) async fn facts_between(&self, from: i64, to: i64) -> Result<NewFacts, StoreError> {
        let deployments = sqlx::query(&format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE cdevent_seq > ? AND cdevent_seq <= ?
             ORDER BY cdevent_seq"
        ))
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(deployment_record)
        .collect::<Result<_, _>>()?;
        let observations = sqlx::query(&format!(
            "SELECT {OBSERVATION_COLUMNS} FROM observations WHERE cdevent_seq > ? AND cdevent_seq <= ?
             ORDER BY id"
        ))
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(observation_record)
        .collect::<Result<_, _>>()?;
        Ok(NewFacts {
            deployments,
            observations,
        })
    }

    pub(crate) async fn observations_of(
        &self,
        fact: &str,
        ids: &[String],
    ) -> Result<Vec<ObservationRecord>, StoreError> {
        sqlx::query(&format!(
            "SELECT {OBSERVATION_COLUMNS} FROM observations
             WHERE fact = ? AND fact_id IN (SELECT value FROM json_each(?)) ORDER BY id"
        ))
        .bind(fact)
        .bind(json_list(ids))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(observation_record)
        .collect()
    }

    pub(crate) async fn deployments_matching(
        &self,
        wanted: &DeploymentMatch,
    ) -> Result<Vec<DeploymentRecord>, StoreError> {
        // One indexed lookup per criterion, united.
        sqlx::query(&format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE id IN (SELECT value FROM json_each(?1))
             UNION SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE cdevent_id IN (SELECT value FROM json_each(?2))
             UNION SELECT {DEPLOYMENT_COLUMNS} FROM deployments
                   WHERE revision IS NOT NULL AND lower(revision) IN (SELECT value FROM json_each(?3))
             UNION SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE artifact_id IN (SELECT value FROM json_each(?4))"
        ))
        .bind(json_list(&wanted.ids))
        .bind(json_list(&wanted.cdevent_ids))
        .bind(json_list(&wanted.revisions))
        .bind(json_list(&wanted.artifacts))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(deployment_record)
        .collect()
    }

    pub(crate) async fn latest_deployment(
        &self,
        service: &str,
        environments: Option<&[String]>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Option<DeploymentRecord>, StoreError> {
        let environment_is = match environments {
            Some(_) => "environment IN (SELECT value FROM json_each(?2))",
            None => "?2 IS NULL",
        };
        let row = sqlx::query(&format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments
             WHERE service = ?1 AND {environment_is} AND deployed_at >= ?3 AND deployed_at <= ?4
             ORDER BY deployed_at DESC, id DESC LIMIT 1"
        ))
        .bind(service)
        .bind(environments.map(json_list))
        .bind(to_micros(&from))
        .bind(to_micros(&to))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(deployment_record).transpose()
    }

    pub(crate) async fn target_deployments(
        &self,
        service: &str,
        environment: &str,
        from: OrderKey,
        until: Option<DateTime<Utc>>,
    ) -> Result<Vec<DeploymentRecord>, StoreError> {
        sqlx::query(&format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments
             WHERE service = ?1 AND environment = ?2
               AND deployed_at >= ?3 AND (deployed_at > ?3 OR id >= ?4) AND deployed_at <= ?5
             ORDER BY deployed_at, id"
        ))
        .bind(service)
        .bind(environment)
        .bind(to_micros(&from.0))
        .bind(from.1)
        // Ranges on the index, never `IS NULL OR`: a query costs its rows, not the history's.
        .bind(until.as_ref().map_or(i64::MAX, to_micros))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(deployment_record)
        .collect()
    }

    pub(crate) async fn target_neighbour(
        &self,
        service: &str,
        environment: &str,
        at: OrderKey,
        side: Neighbour,
        not_failed: bool,
    ) -> Result<Option<DeploymentRecord>, StoreError> {
        let (condition, order) = match side {
            Neighbour::Before => (
                "deployed_at <= ?3 AND (deployed_at < ?3 OR id < ?4)",
                "deployed_at DESC, id DESC",
            ),
            Neighbour::After => (
                "deployed_at >= ?3 AND (deployed_at > ?3 OR id > ?4)",
                "deployed_at, id",
            ),
        };
        let row = sqlx::query(&format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments
             WHERE service = ?1 AND environment = ?2 AND {condition} AND (?5 = 0 OR failed = 0)
             ORDER BY {order} LIMIT 1"
        ))
        .bind(service)
        .bind(environment)
        .bind(to_micros(&at.0))
        .bind(at.1)
        .bind(not_failed)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(deployment_record).transpose()
    }

    pub(crate) async fn facts_with_keys(
        &self,
        keys: &[String],
    ) -> Result<Vec<(String, String)>, StoreError> {
        sqlx::query(
            "SELECT key, fact_id FROM link_keys WHERE key IN (SELECT value FROM json_each(?))",
        )
        .bind(json_list(keys))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(key_pair)
        .collect()
    }

    pub(crate) async fn keys_of_facts(
        &self,
        ids: &[String],
    ) -> Result<Vec<(String, String)>, StoreError> {
        sqlx::query(
            "SELECT key, fact_id FROM link_keys WHERE fact_id IN (SELECT value FROM json_each(?))",
        )
        .bind(json_list(ids))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(key_pair)
        .collect()
    }

    pub(crate) async fn change_links(
        &self,
        ids: &[String],
    ) -> Result<Vec<ChangeLinkRow>, StoreError> {
        sqlx::query(&format!(
            "SELECT {CHANGE_LINK_COLUMNS} FROM change_links
             WHERE change_id IN (SELECT value FROM json_each(?))"
        ))
        .bind(json_list(ids))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(change_link)
        .collect()
    }

    pub(crate) async fn incident_links(
        &self,
        ids: &[String],
    ) -> Result<Vec<IncidentLinkRow>, StoreError> {
        sqlx::query(&format!(
            "SELECT {INCIDENT_LINK_COLUMNS} FROM incident_links
             WHERE incident_id IN (SELECT value FROM json_each(?))"
        ))
        .bind(json_list(ids))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(incident_link)
        .collect()
    }

    pub(crate) async fn incidents_near(
        &self,
        services: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        artifacts: &[String],
    ) -> Result<Vec<IncidentLinkRow>, StoreError> {
        sqlx::query(&format!(
            "SELECT {INCIDENT_LINK_COLUMNS} FROM incident_links
             WHERE service IN (SELECT value FROM json_each(?1)) AND detected_at >= ?2 AND detected_at <= ?3
             UNION SELECT {INCIDENT_LINK_COLUMNS} FROM incident_links
             WHERE artifact_id IN (SELECT value FROM json_each(?4))"
        ))
        .bind(json_list(services))
        .bind(to_micros(&from))
        .bind(to_micros(&to))
        .bind(json_list(artifacts))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(incident_link)
        .collect()
    }

    pub(crate) async fn incidents_of_target(
        &self,
        service: &str,
        environment: &str,
        until: Option<DateTime<Utc>>,
        open_after: DateTime<Utc>,
    ) -> Result<Vec<IncidentLinkRow>, StoreError> {
        sqlx::query(&format!(
            "SELECT {INCIDENT_LINK_COLUMNS} FROM incident_links
             WHERE deployment_id IS NOT NULL AND target_service = ?1 AND target_environment = ?2
               AND detected_at <= ?3
               AND (resolved_at IS NULL OR resolved_at > ?4)"
        ))
        .bind(service)
        .bind(environment)
        .bind(until.as_ref().map_or(i64::MAX, to_micros))
        .bind(to_micros(&open_after))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(incident_link)
        .collect()
    }

    pub(crate) async fn incidents_attributed_to(
        &self,
        deployment_ids: &[i64],
    ) -> Result<Vec<IncidentLinkRow>, StoreError> {
        sqlx::query(&format!(
            "SELECT {INCIDENT_LINK_COLUMNS} FROM incident_links
             WHERE deployment_id IN (SELECT value FROM json_each(?))"
        ))
        .bind(json_list(deployment_ids))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(incident_link)
        .collect()
    }

    pub(crate) async fn deployment_links(
        &self,
        ids: &[i64],
    ) -> Result<Vec<DeploymentLinkRow>, StoreError> {
        sqlx::query(
            "SELECT deployment_id, flags, recovery_seconds, detail FROM deployment_links
             WHERE deployment_id IN (SELECT value FROM json_each(?))",
        )
        .bind(json_list(ids))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(deployment_link)
        .collect()
    }

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

    pub(crate) async fn links_fingerprint(&self) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT fingerprint FROM link_config WHERE id = 1")
                .fetch_optional(&self.pool)
                .await?,
        )
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

    pub(crate) async fn all_links(&self) -> Result<AllLinks, StoreError> {
        let changes = sqlx::query(&format!(
            "SELECT {CHANGE_LINK_COLUMNS} FROM change_links ORDER BY change_id"
        ))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(change_link)
        .collect::<Result<_, _>>()?;
        let incidents = sqlx::query(&format!(
            "SELECT {INCIDENT_LINK_COLUMNS} FROM incident_links ORDER BY incident_id"
        ))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(incident_link)
        .collect::<Result<_, _>>()?;
        let deployments = sqlx::query(
            "SELECT deployment_id, flags, recovery_seconds, detail FROM deployment_links
             ORDER BY deployment_id",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(deployment_link)
        .collect::<Result<_, _>>()?;
        let containments = sqlx::query(
            "SELECT change_id, deployment_id, service, environment, shipped FROM change_deployments",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(containment)
        .collect::<Result<_, _>>()?;
        Ok(AllLinks {
            changes,
            containments,
            incidents,
            deployments,
        })
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

    pub(crate) async fn dirty_days_since(
        &self,
        after: i64,
        upto: i64,
    ) -> Result<Option<Vec<i32>>, StoreError> {
        let kept_from: Option<i64> =
            sqlx::query_scalar("SELECT dirty_days_from FROM link_config WHERE id = 1")
                .fetch_optional(&self.pool)
                .await?;
        if kept_from.unwrap_or(0) > after {
            return Ok(None);
        }
        let days = sqlx::query_scalar(
            "SELECT DISTINCT day FROM link_dirty_days WHERE version > ? AND version <= ? ORDER BY day",
        )
        .bind(after)
        .bind(upto)
        .fetch_all(&self.pool)
        .await?;
        Ok(Some(days))
    }

    pub(crate) async fn link_lag(&self) -> Result<LinkLag, StoreError> {
        let row = sqlx::query(
            "WITH c AS (SELECT COALESCE((SELECT position FROM cursors WHERE name = ?1), 0) AS position)
             SELECT c.position,
                    MAX((SELECT COALESCE(MAX(seq), 0) FROM cdevents_raw) - c.position, 0) AS behind,
                    (SELECT stored_at FROM cdevents_raw WHERE seq > c.position ORDER BY seq LIMIT 1) AS oldest
             FROM c",
        )
        .bind(LINKS_CURSOR)
        .fetch_one(&self.pool)
        .await?;
        Ok(LinkLag {
            version: row.try_get("position")?,
            cdevents_behind: row.try_get("behind")?,
            oldest_unlinked_at: row.try_get::<Option<i64>, _>("oldest")?.map(from_micros),
        })
    }

    pub(crate) async fn deployment_page(
        &self,
        query: &PageQuery,
    ) -> Result<Page<DeploymentPageRow>, StoreError> {
        let (from, to) = (to_micros(&query.from), to_micros(&query.to));
        let total: Option<i64> =
            if query.count {
                Some(sqlx::query_scalar(
            "SELECT COUNT(*) FROM deployments WHERE deployed_at >= ? AND deployed_at < ?",
        )
        .bind(from)
        .bind(to)
        .fetch_one(&self.pool)
        .await?)
            } else {
                None
            };
        let (after_at, after_id) = match &query.after {
            Some(PageAfter::Deployment(at, id)) => (Some(to_micros(at)), *id),
            _ => (None, 0),
        };
        let columns = DEPLOYMENT_COLUMNS
            .split(", ")
            .map(|c| format!("d.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = sqlx::query(&format!(
            "SELECT {columns}, l.detail FROM deployments d
             LEFT JOIN deployment_links l ON l.deployment_id = d.id
             WHERE d.deployed_at >= ?1 AND d.deployed_at < ?2
               AND {after}
             ORDER BY d.deployed_at DESC, d.id DESC LIMIT ?5 OFFSET ?6",
            after = if after_at.is_some() {
                "d.deployed_at <= ?3 AND (d.deployed_at < ?3 OR d.id < ?4)"
            } else {
                "?3 IS NULL AND ?4 IS NOT NULL"
            }
        ))
        .bind(from)
        .bind(to)
        .bind(after_at)
        .bind(after_id)
        .bind(query.limit)
        .bind(if query.after.is_some() {
            0
        } else {
            query.offset
        })
        .fetch_all(&self.pool)
        .await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            items.push(DeploymentPageRow {
                deployment: deployment_record(row)?,
                detail: row.try_get("detail")?,
                shipped: Vec::new(),
                incidents: Vec::new(),
            });
        }
        let ids: Vec<i64> = items.iter().map(|i| i.deployment.id).collect();
        let position: std::collections::HashMap<i64, usize> =
            ids.iter().enumerate().map(|(n, id)| (*id, n)).collect();
        for row in sqlx::query(
            "SELECT deployment_id, change_id FROM change_deployments
             WHERE deployment_id IN (SELECT value FROM json_each(?)) AND shipped = 1
             ORDER BY change_id",
        )
        .bind(json_list(&ids))
        .fetch_all(&self.pool)
        .await?
        {
            let id: i64 = row.try_get("deployment_id")?;
            if let Some(&n) = position.get(&id) {
                items[n].shipped.push(row.try_get("change_id")?);
            }
        }
        for row in sqlx::query(
            "SELECT deployment_id, incident_id FROM incident_links
             WHERE deployment_id IN (SELECT value FROM json_each(?))
             ORDER BY detected_at, incident_id",
        )
        .bind(json_list(&ids))
        .fetch_all(&self.pool)
        .await?
        {
            let id: i64 = row.try_get("deployment_id")?;
            if let Some(&n) = position.get(&id) {
                items[n].incidents.push(row.try_get("incident_id")?);
            }
        }
        Ok(Page { total, items })
    }

    pub(crate) async fn change_page(
        &self,
        query: &PageQuery,
    ) -> Result<Page<ChangeLinkRow>, StoreError> {
        let (from, to) = (to_micros(&query.from), to_micros(&query.to));
        let total: Option<i64> = if query.count {
            Some(
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM change_links WHERE first_at >= ? AND first_at < ?",
                )
                .bind(from)
                .bind(to)
                .fetch_one(&self.pool)
                .await?,
            )
        } else {
            None
        };
        let (after_at, after_deployment, after_id) = match &query.after {
            Some(PageAfter::Change(at, deployment, id)) => {
                (Some(to_micros(at)), *deployment, id.as_str())
            }
            _ => (None, 0, ""),
        };
        let items = sqlx::query(&format!(
            "SELECT {CHANGE_LINK_COLUMNS} FROM change_links
             WHERE first_at >= ?1 AND first_at < ?2
               AND {after}
             ORDER BY first_at DESC, first_deployment DESC, change_id DESC LIMIT ?6 OFFSET ?7",
            after = if after_at.is_some() {
                "first_at <= ?3 AND (first_at, first_deployment, change_id) < (?3, ?4, ?5)"
            } else {
                "?3 IS NULL AND ?4 IS NOT NULL AND ?5 IS NOT NULL"
            }
        ))
        .bind(from)
        .bind(to)
        .bind(after_at)
        .bind(after_deployment)
        .bind(after_id)
        .bind(query.limit)
        .bind(if query.after.is_some() {
            0
        } else {
            query.offset
        })
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(change_link)
        .collect::<Result<_, _>>()?;
        Ok(Page { total, items })
    }

    pub(crate) async fn incident_page(
        &self,
        query: &PageQuery,
    ) -> Result<Page<IncidentLinkRow>, StoreError> {
        let (from, to) = (to_micros(&query.from), to_micros(&query.to));
        let total: Option<i64> = if query.count {
            Some(sqlx::query_scalar(
            "SELECT COUNT(*) FROM incident_links WHERE detected_at >= ? AND detected_at < ?",
        )
        .bind(from)
        .bind(to)
        .fetch_one(&self.pool)
        .await?)
        } else {
            None
        };
        let (after_at, after_id) = match &query.after {
            Some(PageAfter::Incident(at, id)) => (Some(to_micros(at)), id.as_str()),
            _ => (None, ""),
        };
        let items = sqlx::query(&format!(
            "SELECT {INCIDENT_LINK_COLUMNS} FROM incident_links
             WHERE detected_at >= ?1 AND detected_at < ?2
               AND {after}
             ORDER BY detected_at DESC, incident_id DESC LIMIT ?5 OFFSET ?6",
            after = if after_at.is_some() {
                "detected_at <= ?3 AND (detected_at, incident_id) < (?3, ?4)"
            } else {
                "?3 IS NULL AND ?4 IS NOT NULL"
            }
        ))
        .bind(from)
        .bind(to)
        .bind(after_at)
        .bind(after_id)
        .bind(query.limit)
        .bind(if query.after.is_some() {
            0
        } else {
            query.offset
        })
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(incident_link)
        .collect::<Result<_, _>>()?;
        Ok(Page { total, items })
    }

    pub(crate) async fn deployments_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DeploymentRecord>, StoreError> {
        sqlx::query(&format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE deployed_at >= ? AND deployed_at < ?
             ORDER BY deployed_at, id"
        ))
        .bind(to_micros(&from))
        .bind(to_micros(&to))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(deployment_record)
        .collect()
    }

    pub(crate) async fn scope_records(
        &self,
        services: Option<&[String]>,
        environments: Option<&[String]>,
    ) -> Result<ScopeRecords, StoreError> {
        // Conditions written only for the filters given, so each can use its index.
        let filter = |column: &str, values: Option<&[String]>, n: u8| match values {
            Some(_) => format!("{column} IN (SELECT value FROM json_each(?{n}))"),
            None => format!("?{n} IS NULL"),
        };
        let (services_json, environments_json) =
            (services.map(json_list), environments.map(json_list));
        let deployments = sqlx::query(&format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE {} AND {} ORDER BY deployed_at, id",
            filter("service", services, 1),
            filter("environment", environments, 2),
        ))
        .bind(&services_json)
        .bind(&environments_json)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(deployment_record)
        .collect::<Result<_, _>>()?;
        let change_details = sqlx::query_scalar(&format!(
            "SELECT detail FROM change_links WHERE change_id IN (
                 SELECT change_id FROM change_deployments WHERE {} AND {})",
            filter("service", services, 1),
            filter("environment", environments, 2),
        ))
        .bind(&services_json)
        .bind(&environments_json)
        .fetch_all(&self.pool)
        .await?;
        let incidents_of = match services {
            Some(_) => "service IS NULL OR service IN (SELECT value FROM json_each(?1))",
            None => "?1 IS NULL",
        };
        let incident_details = sqlx::query_scalar(&format!(
            "SELECT detail FROM incident_links WHERE {incidents_of}"
        ))
        .bind(&services_json)
        .fetch_all(&self.pool)
        .await?;
        Ok(ScopeRecords {
            deployments,
            change_details,
            incident_details,
        })
    }
}
