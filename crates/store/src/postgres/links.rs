//! The link tables on PostgreSQL ([`crate::links`]): lists travel as arrays (`= ANY`, `UNNEST`),
//! times as `timestamptz`.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::Row;

use super::{deployment_record, move_cursor, PostgresStore, DEPLOYMENT_COLUMNS};
use crate::links::*;
use crate::{DeploymentRecord, ObservationRecord, Position, StoreError};

const OBSERVATION_COLUMNS: &str =
    "fact, fact_id, service, environment, observed_at, body::text AS body";

fn observation_record(row: &PgRow) -> Result<ObservationRecord, StoreError> {
    Ok(ObservationRecord {
        fact: row.try_get("fact")?,
        fact_id: row.try_get("fact_id")?,
        service: row.try_get("service")?,
        environment: row.try_get("environment")?,
        observed_at: row.try_get("observed_at")?,
        body: row.try_get("body")?,
    })
}

const CHANGE_LINK_COLUMNS: &str = "change_id, first_deployment, first_at, lead, skewed, detail";

fn change_link(row: &PgRow) -> Result<ChangeLinkRow, StoreError> {
    Ok(ChangeLinkRow {
        change_id: row.try_get("change_id")?,
        first_deployment: row.try_get("first_deployment")?,
        first_at: row.try_get("first_at")?,
        lead: row.try_get("lead")?,
        skewed: row.try_get("skewed")?,
        detail: row.try_get("detail")?,
    })
}

const INCIDENT_LINK_COLUMNS: &str = "incident_id, detected_at, resolved_at, service, environment, \
     artifact_id, deployment_id, target_service, target_environment, unattributed, detail";

fn incident_link(row: &PgRow) -> Result<IncidentLinkRow, StoreError> {
    Ok(IncidentLinkRow {
        incident_id: row.try_get("incident_id")?,
        detected_at: row.try_get("detected_at")?,
        resolved_at: row.try_get("resolved_at")?,
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

fn deployment_link(row: &PgRow) -> Result<DeploymentLinkRow, StoreError> {
    Ok(DeploymentLinkRow {
        deployment_id: row.try_get("deployment_id")?,
        flags: row.try_get("flags")?,
        recovery_seconds: row.try_get("recovery_seconds")?,
        detail: row.try_get("detail")?,
    })
}

fn containment(row: &PgRow) -> Result<ContainmentRow, StoreError> {
    Ok(ContainmentRow {
        change_id: row.try_get("change_id")?,
        deployment_id: row.try_get("deployment_id")?,
        service: row.try_get("service")?,
        environment: row.try_get("environment")?,
        shipped: row.try_get("shipped")?,
    })
}

/// The earliest instant both databases store (the year 1).
fn pg_min() -> DateTime<Utc> {
    DateTime::from_timestamp(-62_135_596_800, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The latest instant PostgreSQL stores (its timestamps end in the year 294276; chrono's before).
fn pg_max() -> DateTime<Utc> {
    DateTime::from_timestamp(8_000_000_000_000, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn key_pair(row: &PgRow) -> Result<(String, String), StoreError> {
    Ok((row.try_get("key")?, row.try_get("fact_id")?))
}

impl PostgresStore {
    pub(crate) async fn facts_between(&self, from: i64, to: i64) -> Result<NewFacts, StoreError> {
        let deployments = sqlx::query(&format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE cdevent_seq > $1 AND cdevent_seq <= $2
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
            "SELECT {OBSERVATION_COLUMNS} FROM observations WHERE cdevent_seq > $1 AND cdevent_seq <= $2
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
             WHERE fact = $1 AND fact_id = ANY($2) ORDER BY id"
        ))
        .bind(fact)
        .bind(ids)
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
        sqlx::query(&format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE id = ANY($1)
             UNION SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE cdevent_id = ANY($2)
             UNION SELECT {DEPLOYMENT_COLUMNS} FROM deployments
                   WHERE revision IS NOT NULL AND lower(revision) = ANY($3)
             UNION SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE artifact_id = ANY($4)"
        ))
        .bind(&wanted.ids)
        .bind(&wanted.cdevent_ids)
        .bind(&wanted.revisions)
        .bind(&wanted.artifacts)
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
            Some(_) => "environment = ANY($2)",
            None => "$2::text[] IS NULL",
        };
        let row = sqlx::query(&format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments
             WHERE service = $1 AND {environment_is} AND deployed_at >= $3 AND deployed_at <= $4
             ORDER BY deployed_at DESC, id DESC LIMIT 1"
        ))
        .bind(service)
        .bind(environments)
        .bind(from)
        .bind(to)
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
             WHERE service = $1 AND environment = $2 AND (deployed_at, id) >= ($3, $4)
               AND deployed_at <= $5
             ORDER BY deployed_at, id"
        ))
        .bind(service)
        .bind(environment)
        .bind(from.0)
        .bind(from.1)
        // Ranges on the index, never `IS NULL OR`: a query costs its rows, not the history's.
        .bind(until.unwrap_or(DateTime::<Utc>::MAX_UTC).min(pg_max()))
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
            Neighbour::Before => ("(deployed_at, id) < ($3, $4)", "deployed_at DESC, id DESC"),
            Neighbour::After => ("(deployed_at, id) > ($3, $4)", "deployed_at, id"),
        };
        let row = sqlx::query(&format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments
             WHERE service = $1 AND environment = $2 AND {condition} AND (NOT $5 OR NOT failed)
             ORDER BY {order} LIMIT 1"
        ))
        .bind(service)
        .bind(environment)
        .bind(at.0)
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
        sqlx::query("SELECT key, fact_id FROM link_keys WHERE key = ANY($1)")
            .bind(keys)
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
        sqlx::query("SELECT key, fact_id FROM link_keys WHERE fact_id = ANY($1)")
            .bind(ids)
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
            "SELECT {CHANGE_LINK_COLUMNS} FROM change_links WHERE change_id = ANY($1)"
        ))
        .bind(ids)
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
            "SELECT {INCIDENT_LINK_COLUMNS} FROM incident_links WHERE incident_id = ANY($1)"
        ))
        .bind(ids)
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
             WHERE service = ANY($1) AND detected_at >= $2 AND detected_at <= $3
             UNION SELECT {INCIDENT_LINK_COLUMNS} FROM incident_links WHERE artifact_id = ANY($4)"
        ))
        .bind(services)
        .bind(from)
        .bind(to)
        .bind(artifacts)
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
             WHERE deployment_id IS NOT NULL AND target_service = $1 AND target_environment = $2
               AND detected_at <= $3
               AND (resolved_at IS NULL OR resolved_at > $4)"
        ))
        .bind(service)
        .bind(environment)
        .bind(until.unwrap_or(DateTime::<Utc>::MAX_UTC).min(pg_max()))
        .bind(open_after)
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
            "SELECT {INCIDENT_LINK_COLUMNS} FROM incident_links WHERE deployment_id = ANY($1)"
        ))
        .bind(deployment_ids)
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
             WHERE deployment_id = ANY($1)",
        )
        .bind(ids)
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
        // The cursor first: its row lock serialises concurrent passes.
        move_cursor(
            &mut tx,
            LINKS_CURSOR,
            Position { tx: 0, seq: from },
            Position { tx: 0, seq: to },
        )
        .await?;
        if !writes.removed_changes.is_empty() {
            sqlx::query("DELETE FROM change_links WHERE change_id = ANY($1)")
                .bind(&writes.removed_changes)
                .execute(&mut *tx)
                .await?;
        }
        let rewritten: Vec<&str> = writes
            .changes
            .iter()
            .map(|c| c.change_id.as_str())
            .chain(writes.removed_changes.iter().map(String::as_str))
            .collect();
        if !rewritten.is_empty() {
            sqlx::query("DELETE FROM change_deployments WHERE change_id = ANY($1)")
                .bind(&rewritten)
                .execute(&mut *tx)
                .await?;
        }
        let containments = &writes.containments;
        if !containments.is_empty() {
            sqlx::query(
                "INSERT INTO change_deployments (change_id, deployment_id, service, environment, shipped)
                 SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::boolean[])",
            )
            .bind(containments.iter().map(|c| c.change_id.as_str()).collect::<Vec<_>>())
            .bind(containments.iter().map(|c| c.deployment_id).collect::<Vec<_>>())
            .bind(containments.iter().map(|c| c.service.as_str()).collect::<Vec<_>>())
            .bind(containments.iter().map(|c| c.environment.as_str()).collect::<Vec<_>>())
            .bind(containments.iter().map(|c| c.shipped).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await?;
        }
        if !writes.removed_incidents.is_empty() {
            sqlx::query("DELETE FROM incident_links WHERE incident_id = ANY($1)")
                .bind(&writes.removed_incidents)
                .execute(&mut *tx)
                .await?;
        }
        let changes = &writes.changes;
        if !changes.is_empty() {
            sqlx::query(
                "INSERT INTO change_links (change_id, first_deployment, first_at, lead, skewed, detail, version)
                 SELECT *, $7::bigint FROM UNNEST($1::text[], $2::bigint[], $3::timestamptz[], $4::int[],
                                                   $5::int[], $6::text[])
                 ON CONFLICT (change_id) DO UPDATE SET first_deployment = excluded.first_deployment,
                   first_at = excluded.first_at, lead = excluded.lead, skewed = excluded.skewed,
                   detail = excluded.detail, version = excluded.version",
            )
            .bind(changes.iter().map(|c| c.change_id.as_str()).collect::<Vec<_>>())
            .bind(changes.iter().map(|c| c.first_deployment).collect::<Vec<_>>())
            .bind(changes.iter().map(|c| c.first_at).collect::<Vec<_>>())
            .bind(changes.iter().map(|c| c.lead).collect::<Vec<_>>())
            .bind(changes.iter().map(|c| c.skewed).collect::<Vec<_>>())
            .bind(changes.iter().map(|c| c.detail.as_str()).collect::<Vec<_>>())
            .bind(to)
            .execute(&mut *tx)
            .await?;
        }
        let incidents = &writes.incidents;
        if !incidents.is_empty() {
            sqlx::query(
                "INSERT INTO incident_links (incident_id, detected_at, resolved_at, service, environment,
                   artifact_id, deployment_id, target_service, target_environment, unattributed, detail, version)
                 SELECT *, $12::bigint FROM UNNEST($1::text[], $2::timestamptz[], $3::timestamptz[],
                   $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[], $9::text[],
                   $10::boolean[], $11::text[])
                 ON CONFLICT (incident_id) DO UPDATE SET detected_at = excluded.detected_at,
                   resolved_at = excluded.resolved_at, service = excluded.service,
                   environment = excluded.environment, artifact_id = excluded.artifact_id,
                   deployment_id = excluded.deployment_id, target_service = excluded.target_service,
                   target_environment = excluded.target_environment,
                   unattributed = excluded.unattributed, detail = excluded.detail,
                   version = excluded.version",
            )
            .bind(incidents.iter().map(|i| i.incident_id.as_str()).collect::<Vec<_>>())
            .bind(incidents.iter().map(|i| i.detected_at).collect::<Vec<_>>())
            .bind(incidents.iter().map(|i| i.resolved_at).collect::<Vec<_>>())
            .bind(incidents.iter().map(|i| i.service.as_deref()).collect::<Vec<_>>())
            .bind(incidents.iter().map(|i| i.environment.as_deref()).collect::<Vec<_>>())
            .bind(incidents.iter().map(|i| i.artifact_id.as_deref()).collect::<Vec<_>>())
            .bind(incidents.iter().map(|i| i.deployment_id).collect::<Vec<_>>())
            .bind(incidents.iter().map(|i| i.target_service.as_deref()).collect::<Vec<_>>())
            .bind(incidents.iter().map(|i| i.target_environment.as_deref()).collect::<Vec<_>>())
            .bind(incidents.iter().map(|i| i.unattributed).collect::<Vec<_>>())
            .bind(incidents.iter().map(|i| i.detail.as_str()).collect::<Vec<_>>())
            .bind(to)
            .execute(&mut *tx)
            .await?;
        }
        let deployments = &writes.deployments;
        if !deployments.is_empty() {
            sqlx::query(
                "INSERT INTO deployment_links (deployment_id, flags, recovery_seconds, detail, version)
                 SELECT *, $5::bigint FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::text[])
                 ON CONFLICT (deployment_id) DO UPDATE SET flags = excluded.flags,
                   recovery_seconds = excluded.recovery_seconds, detail = excluded.detail,
                   version = excluded.version",
            )
            .bind(deployments.iter().map(|d| d.deployment_id).collect::<Vec<_>>())
            .bind(deployments.iter().map(|d| d.flags).collect::<Vec<_>>())
            .bind(deployments.iter().map(|d| d.recovery_seconds).collect::<Vec<_>>())
            .bind(deployments.iter().map(|d| d.detail.as_str()).collect::<Vec<_>>())
            .bind(to)
            .execute(&mut *tx)
            .await?;
        }
        if !writes.keys.is_empty() {
            sqlx::query(
                "INSERT INTO link_keys (key, fact_id) SELECT * FROM UNNEST($1::text[], $2::text[])
                 ON CONFLICT (key, fact_id) DO NOTHING",
            )
            .bind(writes.keys.iter().map(|k| k.0.as_str()).collect::<Vec<_>>())
            .bind(writes.keys.iter().map(|k| k.1.as_str()).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await?;
        }
        if !writes.dirty_days.is_empty() {
            sqlx::query(
                "INSERT INTO link_dirty_days (version, day) SELECT $1::bigint, * FROM UNNEST($2::int[])",
            )
            .bind(to)
            .bind(&writes.dirty_days)
            .execute(&mut *tx)
            .await?;
        }
        let failures = &writes.failures;
        if !failures.is_empty() {
            sqlx::query(
                "INSERT INTO fact_failures (cdevent_seq, calculator, reason, failed_at)
                 SELECT seq, $3, reason, now() FROM UNNEST($1::bigint[], $2::text[]) AS f(seq, reason)
                 ON CONFLICT (cdevent_seq, calculator) DO UPDATE SET reason = excluded.reason, failed_at = excluded.failed_at",
            )
            .bind(failures.iter().map(|f| f.cdevent_seq).collect::<Vec<_>>())
            .bind(failures.iter().map(|f| crate::storable_reason(&f.reason)).collect::<Vec<_>>())
            .bind(LINKER)
            .execute(&mut *tx)
            .await?;
        }
        let prune_below = to - DIRTY_DAYS_KEPT;
        if prune_below > 0 {
            let pruned = sqlx::query("DELETE FROM link_dirty_days WHERE version <= $1")
                .bind(prune_below)
                .execute(&mut *tx)
                .await?;
            if pruned.rows_affected() > 0 {
                sqlx::query("UPDATE link_config SET dirty_days_from = $1 WHERE id = 1")
                    .bind(prune_below)
                    .execute(&mut *tx)
                    .await?;
            }
        }
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
        sqlx::query(
            "TRUNCATE deployment_links, change_links, change_deployments, incident_links, link_keys, link_dirty_days",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM cursors WHERE name = $1")
            .bind(LINKS_CURSOR)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO link_config (id, fingerprint) VALUES (1, $1)
             ON CONFLICT (id) DO UPDATE SET fingerprint = excluded.fingerprint, dirty_days_from = 0",
        )
        .bind(fingerprint)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn all_links(&self) -> Result<AllLinks, StoreError> {
        let changes = sqlx::query(&format!("SELECT {CHANGE_LINK_COLUMNS} FROM change_links"))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(change_link)
            .collect::<Result<_, _>>()?;
        let incidents = sqlx::query(&format!(
            "SELECT {INCIDENT_LINK_COLUMNS} FROM incident_links"
        ))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(incident_link)
        .collect::<Result<_, _>>()?;
        let deployments = sqlx::query(
            "SELECT deployment_id, flags, recovery_seconds, detail FROM deployment_links",
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
        let mut out = KeyRowsRecord::default();
        // Bounds, never `IS NULL OR`: a generic plan must still use the time indexes.
        let (from, to) = (from.unwrap_or_else(pg_min), to.unwrap_or_else(pg_max));
        // Streamed, and without ids the keys do not need: a history's worth of rows is never
        // held twice.
        // Many rows travel as arrays, one row per day: far fewer rows to hand over.
        let mut rows = sqlx::query(
            "SELECT array_agg(d.id) AS ids, array_agg(d.deployed_at) AS ats,
                    array_agg(l.flags) AS flags, array_agg(l.recovery_seconds) AS recoveries
             FROM deployments d JOIN deployment_links l ON l.deployment_id = d.id
             WHERE d.deployed_at >= $1
               AND d.deployed_at < $2 AND (l.flags & 1) = 1
             GROUP BY date_trunc('day', d.deployed_at AT TIME ZONE 'UTC')",
        )
        .bind(from)
        .bind(to)
        .fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            let ids: Vec<i64> = row.try_get("ids")?;
            let ats: Vec<DateTime<Utc>> = row.try_get("ats")?;
            let flags: Vec<i64> = row.try_get("flags")?;
            let recoveries: Vec<Option<i64>> = row.try_get("recoveries")?;
            for (((id, at), flags), recovery_seconds) in
                ids.into_iter().zip(ats).zip(flags).zip(recoveries)
            {
                out.deployments.push(DeploymentKeyRecord {
                    id,
                    at,
                    flags,
                    recovery_seconds,
                });
            }
        }
        drop(rows);
        let mut rows = sqlx::query(
            "SELECT i.deployment_id, i.detected_at FROM deployments d
             JOIN incident_links i ON i.deployment_id = d.id
             WHERE d.deployed_at >= $1
               AND d.deployed_at < $2",
        )
        .bind(from)
        .bind(to)
        .fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            out.detections
                .push((row.try_get("deployment_id")?, row.try_get("detected_at")?));
        }
        drop(rows);
        let mut rows = sqlx::query(
            "SELECT array_agg(first_at) AS ats, array_agg(first_deployment) AS deployments,
                    array_agg(lead) AS leads, array_agg(skewed) AS skewed
             FROM change_links
             WHERE first_at IS NOT NULL AND first_at >= $1
               AND first_at < $2
             GROUP BY date_trunc('day', first_at AT TIME ZONE 'UTC')",
        )
        .bind(from)
        .bind(to)
        .fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            let ats: Vec<DateTime<Utc>> = row.try_get("ats")?;
            let deployments: Vec<i64> = row.try_get("deployments")?;
            let leads: Vec<i32> = row.try_get("leads")?;
            let skewed: Vec<i32> = row.try_get("skewed")?;
            for (((at, deployment_id), lead), skewed) in
                ats.into_iter().zip(deployments).zip(leads).zip(skewed)
            {
                out.shipped.push(ShippedKeyRecord {
                    change_id: String::new(),
                    at,
                    deployment_id,
                    lead,
                    skewed,
                });
            }
        }
        drop(rows);
        let mut rows = sqlx::query(
            "SELECT detected_at, unattributed FROM incident_links
             WHERE detected_at >= $1
               AND detected_at < $2",
        )
        .bind(from)
        .bind(to)
        .fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            out.incidents.push(IncidentKeyRecord {
                id: String::new(),
                detected_at: row.try_get("detected_at")?,
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
            "SELECT DISTINCT day FROM link_dirty_days WHERE version > $1 AND version <= $2 ORDER BY day",
        )
        .bind(after)
        .bind(upto)
        .fetch_all(&self.pool)
        .await?;
        Ok(Some(days))
    }

    pub(crate) async fn link_lag(&self) -> Result<LinkLag, StoreError> {
        let row = sqlx::query(
            // `behind` from the highest seq (a gap left by a rolled back append counts too):
            // counting rows after the cursor would scan the table once caught up.
            "SELECT c.position,
                    GREATEST((SELECT COALESCE(MAX(seq), 0) FROM cdevents_raw) - c.position, 0) AS behind,
                    (SELECT stored_at FROM cdevents_raw WHERE seq > c.position ORDER BY seq LIMIT 1) AS oldest
             FROM (SELECT COALESCE((SELECT position FROM cursors WHERE name = $1), 0) AS position) c",
        )
        .bind(LINKS_CURSOR)
        .fetch_one(&self.pool)
        .await?;
        Ok(LinkLag {
            version: row.try_get("position")?,
            cdevents_behind: row.try_get("behind")?,
            oldest_unlinked_at: row.try_get("oldest")?,
        })
    }

    pub(crate) async fn deployment_page(
        &self,
        query: &PageQuery,
    ) -> Result<Page<DeploymentPageRow>, StoreError> {
        let total: Option<i64> =
            if query.count {
                Some(sqlx::query_scalar(
            "SELECT COUNT(*) FROM deployments WHERE deployed_at >= $1 AND deployed_at < $2",
        )
        .bind(query.from)
        .bind(query.to)
        .fetch_one(&self.pool)
        .await?)
            } else {
                None
            };
        let (after_at, after_id) = match &query.after {
            Some(PageAfter::Deployment(at, id)) => (Some(*at), *id),
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
             WHERE d.deployed_at >= $1 AND d.deployed_at < $2 AND {after}
             ORDER BY d.deployed_at DESC, d.id DESC LIMIT $5 OFFSET $6",
            after = if after_at.is_some() {
                "(d.deployed_at, d.id) < ($3, $4)"
            } else {
                "$3::timestamptz IS NULL AND $4::bigint IS NOT NULL"
            }
        ))
        .bind(query.from)
        .bind(query.to)
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
             WHERE deployment_id = ANY($1) AND shipped ORDER BY change_id COLLATE \"C\"",
        )
        .bind(&ids)
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
             WHERE deployment_id = ANY($1) ORDER BY detected_at, incident_id COLLATE \"C\"",
        )
        .bind(&ids)
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
        let total: Option<i64> = if query.count {
            Some(
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM change_links WHERE first_at >= $1 AND first_at < $2",
                )
                .bind(query.from)
                .bind(query.to)
                .fetch_one(&self.pool)
                .await?,
            )
        } else {
            None
        };
        let (after_at, after_deployment, after_id) = match &query.after {
            Some(PageAfter::Change(at, deployment, id)) => (Some(*at), *deployment, id.as_str()),
            _ => (None, 0, ""),
        };
        let items = sqlx::query(&format!(
            "SELECT {CHANGE_LINK_COLUMNS} FROM change_links
             WHERE first_at >= $1 AND first_at < $2
               AND {after}
             ORDER BY first_at DESC, first_deployment DESC, change_id COLLATE \"C\" DESC LIMIT $6 OFFSET $7",
            after = if after_at.is_some() {
                "(first_at, first_deployment, change_id COLLATE \"C\") < ($3, $4, $5::text COLLATE \"C\")"
            } else {
                "$3::timestamptz IS NULL AND $4::bigint IS NOT NULL AND $5::text IS NOT NULL"
            }
        ))
        .bind(query.from)
        .bind(query.to)
        .bind(after_at)
        .bind(after_deployment)
        .bind(after_id)
        .bind(query.limit)
        .bind(if query.after.is_some() { 0 } else { query.offset })
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
        let total: Option<i64> = if query.count {
            Some(sqlx::query_scalar(
            "SELECT COUNT(*) FROM incident_links WHERE detected_at >= $1 AND detected_at < $2",
        )
        .bind(query.from)
        .bind(query.to)
        .fetch_one(&self.pool)
        .await?)
        } else {
            None
        };
        let (after_at, after_id) = match &query.after {
            Some(PageAfter::Incident(at, id)) => (Some(*at), id.as_str()),
            _ => (None, ""),
        };
        let items = sqlx::query(&format!(
            "SELECT {INCIDENT_LINK_COLUMNS} FROM incident_links
             WHERE detected_at >= $1 AND detected_at < $2
               AND {after}
             ORDER BY detected_at DESC, incident_id COLLATE \"C\" DESC LIMIT $5 OFFSET $6",
            after = if after_at.is_some() {
                "(detected_at, incident_id COLLATE \"C\") < ($3, $4::text COLLATE \"C\")"
            } else {
                "$3::timestamptz IS NULL AND $4::text IS NOT NULL"
            }
        ))
        .bind(query.from)
        .bind(query.to)
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
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE deployed_at >= $1 AND deployed_at < $2
             ORDER BY deployed_at, id"
        ))
        .bind(from)
        .bind(to)
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
            Some(_) => format!("{column} = ANY(${n})"),
            None => format!("${n}::text[] IS NULL"),
        };
        let deployments = sqlx::query(&format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE {} AND {} ORDER BY deployed_at, id",
            filter("service", services, 1),
            filter("environment", environments, 2),
        ))
        .bind(services)
        .bind(environments)
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
        .bind(services)
        .bind(environments)
        .fetch_all(&self.pool)
        .await?;
        let incidents_of = match services {
            Some(_) => "service IS NULL OR service = ANY($1)",
            None => "$1::text[] IS NULL",
        };
        let incident_details = sqlx::query_scalar(&format!(
            "SELECT detail FROM incident_links WHERE {incidents_of}"
        ))
        .bind(services)
        .fetch_all(&self.pool)
        .await?;
        Ok(ScopeRecords {
            deployments,
            change_details,
            incident_details,
        })
    }
}
