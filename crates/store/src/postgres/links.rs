//! What the link tables need of PostgreSQL alone ([`crate::links`]): a links pass's rows as
//! `UNNEST` of arrays (the pass itself is written once, in `links/commit.rs`), and the key
//! rows as arrays, one row per day.

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use sqlx::{Postgres, Transaction};

use super::{column, move_cursor, record_fact_failures, PostgresStore};
use crate::links::*;
use crate::sql::Dialect;
use crate::writes::*;
use crate::StoreError;

link_commits!(PostgresStore, Postgres, Dialect::Postgres, usize::MAX);

/// The production deployments of [`crate::Store::key_rows`] (their links flag them), as
/// arrays per day of `deployed_at` in `[$1, $2)`.
const DEPLOYMENT_DAYS: &str = "SELECT array_agg(d.id) AS ids, array_agg(d.deployed_at) AS ats,
            array_agg(l.flags) AS flags, array_agg(l.recovery_seconds) AS recoveries
     FROM deployments d JOIN deployment_links l ON l.deployment_id = d.id
     WHERE d.deployed_at >= $1
       AND d.deployed_at < $2 AND (l.flags & 1) = 1
     GROUP BY date_trunc('day', d.deployed_at AT TIME ZONE 'UTC')";

/// The shipped changes of [`crate::Store::key_rows`], as arrays per day of `first_at` in
/// `[$1, $2)`.
const SHIPPED_DAYS: &str =
    "SELECT array_agg(first_at) AS ats, array_agg(first_deployment) AS deployments,
            array_agg(lead) AS leads, array_agg(skewed) AS skewed
     FROM change_links
     WHERE first_at IS NOT NULL AND first_at >= $1
       AND first_at < $2
     GROUP BY date_trunc('day', first_at AT TIME ZONE 'UTC')";

impl PostgresStore {
    /// The production deployments and the shipped changes of [`crate::Store::key_rows`], by
    /// time in `[from, to)`. Many rows travel as arrays, one row per day: far fewer rows to hand
    /// over.
    pub(crate) async fn key_records(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<KeyRecords, StoreError> {
        type Deployments = (Vec<i64>, Vec<DateTime<Utc>>, Vec<i64>, Vec<Option<i64>>);
        let deployments = self.by_day(DEPLOYMENT_DAYS, (from, to), |day: Deployments| {
            let (ids, ats, flags, recoveries) = day;
            let rows = ids.into_iter().zip(ats).zip(flags).zip(recoveries);
            rows.map(
                |(((id, at), flags), recovery_seconds)| DeploymentKeyRecord {
                    id,
                    at,
                    flags,
                    recovery_seconds,
                },
            )
        });
        type Shipped = (Vec<DateTime<Utc>>, Vec<i64>, Vec<i32>, Vec<i32>);
        let shipped = self.by_day(SHIPPED_DAYS, (from, to), |day: Shipped| {
            let (ats, deployments, leads, skewed) = day;
            let rows = ats.into_iter().zip(deployments).zip(leads).zip(skewed);
            rows.map(|(((at, deployment_id), lead), skewed)| ShippedKeyRecord {
                change_id: String::new(),
                at,
                deployment_id,
                lead,
                skewed,
            })
        });
        Ok((deployments.await?, shipped.await?))
    }

    /// The rows of the days `sql` selects between `$1` and `$2`, each day's made by `rows`.
    async fn by_day<D, I>(
        &self,
        sql: &str,
        (from, to): (DateTime<Utc>, DateTime<Utc>),
        rows: impl Fn(D) -> I,
    ) -> Result<Vec<I::Item>, StoreError>
    where
        D: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
        I: Iterator,
    {
        let mut days = sqlx::query_as::<_, D>(sql)
            .bind(from)
            .bind(to)
            .fetch(&self.pool);
        let mut all = Vec::new();
        while let Some(day) = days.try_next().await? {
            all.extend(rows(day));
        }
        Ok(all)
    }
}

async fn write_containments(
    tx: &mut Transaction<'_, Postgres>,
    containments: &[ContainmentRow],
) -> Result<(), StoreError> {
    if containments.is_empty() {
        return Ok(());
    }
    sqlx::query(&format!(
        "INSERT INTO {CONTAINMENT_COLUMNS}
         SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::boolean[])"
    ))
    .bind(column(containments, |c| c.change_id.as_str()))
    .bind(column(containments, |c| c.deployment_id))
    .bind(column(containments, |c| c.service.as_str()))
    .bind(column(containments, |c| c.environment.as_str()))
    .bind(column(containments, |c| c.shipped))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Writes (or writes again) the links of changes, incidents and deployments, as of `version`.
async fn write_links(
    tx: &mut Transaction<'_, Postgres>,
    version: i64,
    writes: &LinkWrites,
) -> Result<(), StoreError> {
    write_change_links(tx, version, &writes.changes).await?;
    write_incident_links(tx, version, &writes.incidents).await?;
    write_deployment_links(tx, version, &writes.deployments).await
}

async fn write_change_links(
    tx: &mut Transaction<'_, Postgres>,
    version: i64,
    changes: &[ChangeLinkRow],
) -> Result<(), StoreError> {
    if changes.is_empty() {
        return Ok(());
    }
    sqlx::query(&format!(
        "INSERT INTO {CHANGE_LINK_WRITE_COLUMNS}
         SELECT *, $7::bigint FROM UNNEST($1::text[], $2::bigint[], $3::timestamptz[], $4::int[],
                                           $5::int[], $6::text[])
         {CHANGE_LINK_CONFLICT}"
    ))
    .bind(column(changes, |c| c.change_id.as_str()))
    .bind(column(changes, |c| c.first_deployment))
    .bind(column(changes, |c| c.first_at))
    .bind(column(changes, |c| c.lead))
    .bind(column(changes, |c| c.skewed))
    .bind(column(changes, |c| c.detail.as_str()))
    .bind(version)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn write_incident_links(
    tx: &mut Transaction<'_, Postgres>,
    version: i64,
    incidents: &[IncidentLinkRow],
) -> Result<(), StoreError> {
    if incidents.is_empty() {
        return Ok(());
    }
    sqlx::query(&format!(
        "INSERT INTO {INCIDENT_LINK_WRITE_COLUMNS}
         SELECT *, $12::bigint FROM UNNEST($1::text[], $2::timestamptz[], $3::timestamptz[],
           $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[], $9::text[],
           $10::boolean[], $11::text[])
         {INCIDENT_LINK_CONFLICT}"
    ))
    .bind(column(incidents, |i| i.incident_id.as_str()))
    .bind(column(incidents, |i| i.detected_at))
    .bind(column(incidents, |i| i.resolved_at))
    .bind(column(incidents, |i| i.service.as_deref()))
    .bind(column(incidents, |i| i.environment.as_deref()))
    .bind(column(incidents, |i| i.artifact_id.as_deref()))
    .bind(column(incidents, |i| i.deployment_id))
    .bind(column(incidents, |i| i.target_service.as_deref()))
    .bind(column(incidents, |i| i.target_environment.as_deref()))
    .bind(column(incidents, |i| i.unattributed))
    .bind(column(incidents, |i| i.detail.as_str()))
    .bind(version)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn write_deployment_links(
    tx: &mut Transaction<'_, Postgres>,
    version: i64,
    deployments: &[DeploymentLinkRow],
) -> Result<(), StoreError> {
    if deployments.is_empty() {
        return Ok(());
    }
    sqlx::query(&format!(
        "INSERT INTO {DEPLOYMENT_LINK_WRITE_COLUMNS}
         SELECT *, $5::bigint FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::text[])
         {DEPLOYMENT_LINK_CONFLICT}"
    ))
    .bind(column(deployments, |d| d.deployment_id))
    .bind(column(deployments, |d| d.flags))
    .bind(column(deployments, |d| d.recovery_seconds))
    .bind(column(deployments, |d| d.detail.as_str()))
    .bind(version)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Adds the pass's `link_keys` and the days whose key rows it changed (as of `version`).
async fn write_keys(
    tx: &mut Transaction<'_, Postgres>,
    version: i64,
    writes: &LinkWrites,
) -> Result<(), StoreError> {
    if !writes.keys.is_empty() {
        sqlx::query(&format!(
            "INSERT INTO {LINK_KEY_COLUMNS} SELECT * FROM UNNEST($1::text[], $2::text[]) {LINK_KEY_CONFLICT}"
        ))
        .bind(column(&writes.keys, |(key, _)| key.as_str()))
        .bind(column(&writes.keys, |(_, fact_id)| fact_id.as_str()))
        .execute(&mut **tx)
        .await?;
    }
    if !writes.dirty_days.is_empty() {
        sqlx::query(&format!(
            "INSERT INTO {DIRTY_DAY_COLUMNS} SELECT $1::bigint, * FROM UNNEST($2::int[])"
        ))
        .bind(version)
        .bind(&writes.dirty_days)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
