//! What the link tables need of SQLite alone ([`crate::links`]): a links pass's rows as
//! multi-row `VALUES` (the pass itself is written once, in `links/commit.rs`), and the key
//! rows packed as one text per day.

use chrono::{DateTime, Utc};
use dora_model::time::{from_micros, to_micros};
use futures_util::TryStreamExt;
use sqlx::{Sqlite, Transaction};

use super::{
    insert_rows, insert_rows_by, move_cursor, record_fact_failures, SqliteStore, ROWS_PER_STATEMENT,
};
use crate::links::*;
use crate::sql::Dialect;
use crate::writes::*;
use crate::StoreError;

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

link_commits!(SqliteStore, Sqlite, Dialect::Sqlite, ROWS_PER_STATEMENT);

/// The production deployments of [`crate::Store::key_rows`] (their links flag them), packed
/// per day of `deployed_at` in `[$1, $2)`.
const PACKED_DEPLOYMENTS: &str =
    "SELECT group_concat(d.id || ',' || d.deployed_at || ',' || l.flags || ','
                             || ifnull(l.recovery_seconds, ''), ';') AS packed
     FROM deployments d JOIN deployment_links l ON l.deployment_id = d.id
     WHERE d.deployed_at >= ?1 AND d.deployed_at < ?2 AND (l.flags & 1) = 1
     GROUP BY d.deployed_at / 86400000000";

/// The shipped changes of [`crate::Store::key_rows`], packed per day of `first_at` in `[$1, $2)`.
const PACKED_SHIPPED: &str =
    "SELECT group_concat(first_at || ',' || first_deployment || ',' || lead || ',' || skewed, ';')
            AS packed
     FROM change_links WHERE first_at >= ?1 AND first_at < ?2
     GROUP BY first_at / 86400000000";

impl SqliteStore {
    /// The production deployments and the shipped changes of [`crate::Store::key_rows`], by
    /// time in `[from, to)`. Many rows travel as one text per day: sqlx hands rows over one by
    /// one from its SQLite thread, which costs more than the query itself at a history's size.
    pub(crate) async fn key_records(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<KeyRecords, StoreError> {
        let days = (to_micros(&from), to_micros(&to));
        let deployments = self.unpacked(PACKED_DEPLOYMENTS, days, |[id, at, flags, recovery]| {
            Ok(DeploymentKeyRecord {
                id: number(id)?,
                at: from_micros(number(at)?),
                flags: number(flags)?,
                recovery_seconds: (!recovery.is_empty())
                    .then(|| number(recovery))
                    .transpose()?,
            })
        });
        let shipped = self.unpacked(PACKED_SHIPPED, days, |[at, deployment, lead, skewed]| {
            Ok(ShippedKeyRecord {
                change_id: String::new(),
                at: from_micros(number(at)?),
                deployment_id: number(deployment)?,
                lead: number(lead)?,
                skewed: number(skewed)?,
            })
        });
        Ok((deployments.await?, shipped.await?))
    }

    /// The rows of the packed days `sql` selects between `$1` and `$2` (microseconds), each
    /// made by `row` of its four fields.
    async fn unpacked<T>(
        &self,
        sql: &str,
        (from, to): (i64, i64),
        row: impl Fn([&str; 4]) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut days = sqlx::query_scalar::<_, String>(sql)
            .bind(from)
            .bind(to)
            .fetch(&self.pool);
        let mut rows = Vec::new();
        while let Some(packed) = days.try_next().await? {
            for fields in unpack(&packed) {
                rows.push(row(fields?)?);
            }
        }
        Ok(rows)
    }
}

async fn write_containments(
    tx: &mut Transaction<'_, Sqlite>,
    containments: &[ContainmentRow],
) -> Result<(), StoreError> {
    insert_rows(tx, (CONTAINMENT_COLUMNS, ""), containments, |mut row, c| {
        row.push_bind(&c.change_id)
            .push_bind(c.deployment_id)
            .push_bind(&c.service)
            .push_bind(&c.environment)
            .push_bind(c.shipped);
    })
    .await?;
    Ok(())
}

/// Writes (or writes again) the links of changes, incidents and deployments, as of `version`.
async fn write_links(
    tx: &mut Transaction<'_, Sqlite>,
    version: i64,
    writes: &LinkWrites,
) -> Result<(), StoreError> {
    let changes = (CHANGE_LINK_WRITE_COLUMNS, CHANGE_LINK_CONFLICT);
    insert_rows(tx, changes, &writes.changes, |mut row, link| {
        row.push_bind(&link.change_id)
            .push_bind(link.first_deployment)
            .push_bind(link.first_at.as_ref().map(to_micros))
            .push_bind(link.lead)
            .push_bind(link.skewed)
            .push_bind(&link.detail)
            .push_bind(version);
    })
    .await?;
    let incidents = (INCIDENT_LINK_WRITE_COLUMNS, INCIDENT_LINK_CONFLICT);
    let per_statement = ROWS_PER_STATEMENT / 2;
    insert_rows_by(
        tx,
        incidents,
        &writes.incidents,
        per_statement,
        |mut row, link| {
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
                .push_bind(version);
        },
    )
    .await?;
    let deployments = (DEPLOYMENT_LINK_WRITE_COLUMNS, DEPLOYMENT_LINK_CONFLICT);
    insert_rows(tx, deployments, &writes.deployments, |mut row, link| {
        row.push_bind(link.deployment_id)
            .push_bind(link.flags)
            .push_bind(link.recovery_seconds)
            .push_bind(&link.detail)
            .push_bind(version);
    })
    .await?;
    Ok(())
}

/// Adds the pass's `link_keys` and the days whose key rows it changed (as of `version`).
async fn write_keys(
    tx: &mut Transaction<'_, Sqlite>,
    version: i64,
    writes: &LinkWrites,
) -> Result<(), StoreError> {
    let keys = (LINK_KEY_COLUMNS, LINK_KEY_CONFLICT);
    insert_rows(tx, keys, &writes.keys, |mut row, (key, fact_id)| {
        row.push_bind(key).push_bind(fact_id);
    })
    .await?;
    insert_rows(
        tx,
        (DIRTY_DAY_COLUMNS, ""),
        &writes.dirty_days,
        |mut row, day| {
            row.push_bind(version).push_bind(*day);
        },
    )
    .await?;
    Ok(())
}
