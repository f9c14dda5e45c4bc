//! The link tables on PostgreSQL ([`crate::links`]): lists travel as arrays (`= ANY`, `UNNEST`),
//! times as `timestamptz`.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{move_cursor, PostgresStore};
use crate::links::*;
use crate::sql::{earliest, latest};
use crate::{Position, StoreError};

impl PostgresStore {
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

    pub(crate) async fn key_rows(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<KeyRowsRecord, StoreError> {
        use futures_util::TryStreamExt;
        let mut out = KeyRowsRecord::default();
        // Bounds, never `IS NULL OR`: a generic plan must still use the time indexes.
        let (from, to) = (from.unwrap_or_else(earliest), to.unwrap_or_else(latest));
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
}
