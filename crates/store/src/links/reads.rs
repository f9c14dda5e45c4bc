//! What the linker and the keys read of the facts and the link tables ([`crate::links`]):
//! queries written once for both backends ([`crate::sql`]).

use chrono::{DateTime, Utc};

use crate::links::*;
use crate::sql::{
    earliest, latest, with_pool, List, StoredTime, CHANGE_LINK_COLUMNS, DEPLOYMENT_COLUMNS,
    DEPLOYMENT_LINK_COLUMNS, INCIDENT_LINK_COLUMNS,
};
use crate::{DeploymentRecord, ObservationRecord, Store, StoreError};

/// An upper time bound: `until`, or the end of time.
fn until_or_latest(until: Option<DateTime<Utc>>) -> StoredTime {
    StoredTime(until.map_or_else(latest, |until| until.min(latest())))
}

impl Store {
    /// Deployments and observations of the CDEvents with `from < seq <= to`, in stored order.
    pub async fn facts_between(&self, from: i64, to: i64) -> Result<NewFacts, StoreError> {
        let deployments = format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE cdevent_seq > $1 AND cdevent_seq <= $2
             ORDER BY cdevent_seq"
        );
        let observations = format!(
            "SELECT {} FROM observations WHERE cdevent_seq > $1 AND cdevent_seq <= $2 ORDER BY id",
            self.dialect().observation_columns()
        );
        with_pool!(self, pool => Ok(NewFacts {
            deployments: sqlx::query_as(&deployments).bind(from).bind(to).fetch_all(pool).await?,
            observations: sqlx::query_as(&observations).bind(from).bind(to).fetch_all(pool).await?,
        }))
    }

    /// Every observation of the facts `ids` of kind `fact`, in stored order.
    pub async fn observations_of(
        &self,
        fact: &str,
        ids: &[String],
    ) -> Result<Vec<ObservationRecord>, StoreError> {
        let sql = format!(
            "SELECT {} FROM observations WHERE fact = $1 AND {} ORDER BY id",
            self.dialect().observation_columns(),
            self.dialect().in_list("fact_id", 2)
        );
        Ok(with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(fact)
            .bind(List(ids))
            .fetch_all(pool)
            .await?))
    }

    /// Deployments matching any criterion of `wanted`.
    pub async fn deployments_matching(
        &self,
        wanted: &DeploymentMatch,
    ) -> Result<Vec<DeploymentRecord>, StoreError> {
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        // One indexed lookup per criterion, united.
        let dialect = self.dialect();
        let sql = format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE {}
             UNION SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE {}
             UNION SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE revision IS NOT NULL AND {}
             UNION SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE {}",
            dialect.in_list("id", 1),
            dialect.in_list("cdevent_id", 2),
            dialect.in_list("lower(revision)", 3),
            dialect.in_list("artifact_id", 4),
        );
        Ok(with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(List(&wanted.ids))
            .bind(List(&wanted.cdevent_ids))
            .bind(List(&wanted.revisions))
            .bind(List(&wanted.artifacts))
            .fetch_all(pool)
            .await?))
    }

    /// The latest (by time, then id) deployment of `service` in one of `environments` (`None`:
    /// any) with `from <= deployed_at <= to`.
    pub async fn latest_deployment(
        &self,
        service: &str,
        environments: Option<&[String]>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Option<DeploymentRecord>, StoreError> {
        let environment_is = match environments {
            Some(_) => self.dialect().in_list("environment", 2),
            None => "$2 IS NULL".to_owned(),
        };
        let sql = format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments
             WHERE service = $1 AND {environment_is} AND deployed_at >= $3 AND deployed_at <= $4
             ORDER BY deployed_at DESC, id DESC LIMIT 1"
        );
        Ok(with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(service)
            .bind(environments.map(List))
            .bind(StoredTime(from))
            .bind(StoredTime(to))
            .fetch_optional(pool)
            .await?))
    }

    /// A service and environment's deployments from `from` to `until` in (time, id) order, both
    /// inclusive (`None`: to the end). Bounded by position, not by time alone: deployments that
    /// share a timestamp after `until` are not read.
    ///
    /// Written as index ranges only: a (time, id) row comparison is not one in SQLite (its
    /// planner ranges over the time and filters the ids, reading every deployment of an instant
    /// that many share), so a bound's own instant is read apart, by time and id.
    pub async fn target_deployments(
        &self,
        service: &str,
        environment: &str,
        from: OrderKey,
        until: Option<OrderKey>,
    ) -> Result<Vec<DeploymentRecord>, StoreError> {
        let target = "service = $1 AND environment = $2";
        let sql = if until.is_some_and(|(at, _)| at == from.0) {
            format!(
                "SELECT {DEPLOYMENT_COLUMNS} FROM deployments
                 WHERE {target} AND deployed_at = $3 AND deployed_at = $5 AND id >= $4 AND id <= $6
                 ORDER BY id"
            )
        } else {
            format!(
                "SELECT * FROM (
                   SELECT {DEPLOYMENT_COLUMNS} FROM deployments
                    WHERE {target} AND deployed_at = $3 AND id >= $4
                   UNION ALL
                   SELECT {DEPLOYMENT_COLUMNS} FROM deployments
                    WHERE {target} AND deployed_at > $3 AND deployed_at < $5
                   UNION ALL
                   SELECT {DEPLOYMENT_COLUMNS} FROM deployments
                    WHERE {target} AND deployed_at = $5 AND deployed_at > $3 AND id <= $6
                 ) AS range_rows
                 ORDER BY deployed_at, id"
            )
        };
        let until = until.map_or((latest(), i64::MAX), |(at, id)| (at.min(latest()), id));
        Ok(with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(service)
            .bind(environment)
            .bind(StoredTime(from.0))
            .bind(from.1)
            // Ranges on the index, never `IS NULL OR`: a query costs its rows, not the history's.
            .bind(StoredTime(until.0))
            .bind(until.1)
            .fetch_all(pool)
            .await?))
    }

    /// The neighbour of `at` among a service and environment's deployments (only those whose
    /// rollout did not fail, with `not_failed`). As in [`Store::target_deployments`], `at`'s own
    /// instant is read apart from the instants around it, so that both parts are index ranges.
    pub async fn target_neighbour(
        &self,
        service: &str,
        environment: &str,
        at: OrderKey,
        side: Neighbour,
        not_failed: bool,
    ) -> Result<Option<DeploymentRecord>, StoreError> {
        let (same_instant, other_instants, order) = match side {
            Neighbour::Before => (
                "deployed_at = $3 AND id < $4",
                "deployed_at < $3",
                "deployed_at DESC, id DESC",
            ),
            Neighbour::After => (
                "deployed_at = $3 AND id > $4",
                "deployed_at > $3",
                "deployed_at, id",
            ),
        };
        let part = |condition: &str| {
            format!(
                "SELECT * FROM (SELECT {DEPLOYMENT_COLUMNS} FROM deployments
                  WHERE service = $1 AND environment = $2 AND {condition}
                    AND (NOT $5 OR NOT failed)
                  ORDER BY {order} LIMIT 1)"
            )
        };
        let sql = format!(
            "SELECT * FROM ({} AS same_instant UNION ALL {} AS other_instants) AS neighbours
             ORDER BY {order} LIMIT 1",
            part(same_instant),
            part(other_instants)
        );
        Ok(with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(service)
            .bind(environment)
            .bind(StoredTime(at.0))
            .bind(at.1)
            .bind(not_failed)
            .fetch_optional(pool)
            .await?))
    }

    /// `(key, fact id)` pairs of `link_keys` with one of `keys`.
    pub async fn facts_with_keys(
        &self,
        keys: &[String],
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.rows_in("SELECT key, fact_id FROM link_keys", "key", keys)
            .await
    }

    /// `(key, fact id)` pairs of `link_keys` of the facts `ids`.
    pub async fn keys_of_facts(&self, ids: &[String]) -> Result<Vec<(String, String)>, StoreError> {
        self.rows_in("SELECT key, fact_id FROM link_keys", "fact_id", ids)
            .await
    }

    /// The stored links of these changes.
    pub async fn change_links(&self, ids: &[String]) -> Result<Vec<ChangeLinkRow>, StoreError> {
        let select = format!("SELECT {CHANGE_LINK_COLUMNS} FROM change_links");
        self.rows_in(&select, "change_id", ids).await
    }

    /// The stored links of these incidents.
    pub async fn incident_links(&self, ids: &[String]) -> Result<Vec<IncidentLinkRow>, StoreError> {
        let select = format!("SELECT {INCIDENT_LINK_COLUMNS} FROM incident_links");
        self.rows_in(&select, "incident_id", ids).await
    }

    /// Incidents attributed to one of these deployments.
    pub async fn incidents_attributed_to(
        &self,
        deployment_ids: &[i64],
    ) -> Result<Vec<IncidentLinkRow>, StoreError> {
        let select = format!("SELECT {INCIDENT_LINK_COLUMNS} FROM incident_links");
        self.rows_in(&select, "deployment_id", deployment_ids).await
    }

    /// Incidents of one of `services` detected in `[from, to]`, or naming one of `artifacts`.
    pub async fn incidents_near(
        &self,
        services: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        artifacts: &[String],
    ) -> Result<Vec<IncidentLinkRow>, StoreError> {
        if services.is_empty() && artifacts.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {INCIDENT_LINK_COLUMNS} FROM incident_links
             WHERE {} AND detected_at >= $2 AND detected_at <= $3
             UNION SELECT {INCIDENT_LINK_COLUMNS} FROM incident_links WHERE {}",
            self.dialect().in_list("service", 1),
            self.dialect().in_list("artifact_id", 4),
        );
        Ok(with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(List(services))
            .bind(StoredTime(from))
            .bind(StoredTime(to))
            .bind(List(artifacts))
            .fetch_all(pool)
            .await?))
    }

    /// Incidents attributed to a deployment of this service and environment, detected at or
    /// before `until` (`None`: any time) and not resolved at or before `open_after`.
    pub async fn incidents_of_target(
        &self,
        service: &str,
        environment: &str,
        until: Option<DateTime<Utc>>,
        open_after: DateTime<Utc>,
    ) -> Result<Vec<IncidentLinkRow>, StoreError> {
        let sql = format!(
            "SELECT {INCIDENT_LINK_COLUMNS} FROM incident_links
             WHERE deployment_id IS NOT NULL AND target_service = $1 AND target_environment = $2
               AND detected_at <= $3
               AND (resolved_at IS NULL OR resolved_at > $4)"
        );
        Ok(with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(service)
            .bind(environment)
            .bind(until_or_latest(until))
            .bind(StoredTime(open_after))
            .fetch_all(pool)
            .await?))
    }

    /// The stored links of these deployments.
    pub async fn deployment_links(
        &self,
        ids: &[i64],
    ) -> Result<Vec<DeploymentLinkRow>, StoreError> {
        let select = format!("SELECT {DEPLOYMENT_LINK_COLUMNS} FROM deployment_links");
        self.rows_in(&select, "deployment_id", ids).await
    }

    /// The configuration fingerprint the links were made under, if any.
    pub async fn links_fingerprint(&self) -> Result<Option<String>, StoreError> {
        let sql = "SELECT fingerprint FROM link_config WHERE id = 1";
        Ok(with_pool!(self, pool => sqlx::query_scalar(sql).fetch_optional(pool).await?))
    }

    /// Every link row, sorted by id (for tests and consistency checks).
    pub async fn all_links(&self) -> Result<AllLinks, StoreError> {
        let changes = format!("SELECT {CHANGE_LINK_COLUMNS} FROM change_links");
        let incidents = format!("SELECT {INCIDENT_LINK_COLUMNS} FROM incident_links");
        let deployments = format!("SELECT {DEPLOYMENT_LINK_COLUMNS} FROM deployment_links");
        let containments =
            "SELECT change_id, deployment_id, service, environment, shipped FROM change_deployments";
        let mut links = with_pool!(self, pool => AllLinks {
            changes: sqlx::query_as(&changes).fetch_all(pool).await?,
            containments: sqlx::query_as(containments).fetch_all(pool).await?,
            incidents: sqlx::query_as(&incidents).fetch_all(pool).await?,
            deployments: sqlx::query_as(&deployments).fetch_all(pool).await?,
        });
        // Sorted here: the databases' collations differ.
        links.changes.sort_by(|a, b| a.change_id.cmp(&b.change_id));
        links
            .containments
            .sort_by(|a, b| (&a.change_id, a.deployment_id).cmp(&(&b.change_id, b.deployment_id)));
        links
            .incidents
            .sort_by(|a, b| a.incident_id.cmp(&b.incident_id));
        links.deployments.sort_by_key(|d| d.deployment_id);
        Ok(links)
    }

    /// The key rows with times in `[from, to)` (`None`: unbounded).
    pub async fn key_rows(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<KeyRowsRecord, StoreError> {
        // Bounds, never `IS NULL OR`: a generic plan must still use the time indexes. Without
        // ids the keys do not need, and mapped as they stream in: a history's worth of rows is
        // never held twice.
        let (from, to) = (from.unwrap_or_else(earliest), to.unwrap_or_else(latest));
        let (deployments, shipped) = dispatch!(self, s => s.key_records(from, to).await)?;
        let detections = "SELECT i.deployment_id, i.detected_at FROM deployments d
             JOIN incident_links i ON i.deployment_id = d.id
             WHERE d.deployed_at >= $1 AND d.deployed_at < $2";
        let incidents = "SELECT '' AS id, detected_at, unattributed FROM incident_links
             WHERE detected_at >= $1 AND detected_at < $2";
        let (from, to) = (StoredTime(from), StoredTime(to));
        let (detections, incidents): (Vec<(i64, StoredTime)>, _) = with_pool!(self, pool => (
            sqlx::query_as(detections).bind(from).bind(to).fetch_all(pool).await?,
            sqlx::query_as(incidents).bind(from).bind(to).fetch_all(pool).await?,
        ));
        Ok(KeyRowsRecord {
            deployments,
            detections: detections.into_iter().map(|(id, at)| (id, at.0)).collect(),
            shipped,
            incidents,
        })
    }

    /// The days whose key rows changed in link passes after `after` up to `upto`; `None` when
    /// those records were pruned (the reader must load everything again).
    pub async fn dirty_days_since(
        &self,
        after: i64,
        upto: i64,
    ) -> Result<Option<Vec<i32>>, StoreError> {
        let kept_from = "SELECT dirty_days_from FROM link_config WHERE id = 1";
        let days = "SELECT DISTINCT day FROM link_dirty_days WHERE version > $1 AND version <= $2 ORDER BY day";
        with_pool!(self, pool => {
            let kept_from: Option<i64> = sqlx::query_scalar(kept_from).fetch_optional(pool).await?;
            if kept_from.unwrap_or(0) > after {
                return Ok(None);
            }
            Ok(Some(sqlx::query_scalar(days).bind(after).bind(upto).fetch_all(pool).await?))
        })
    }

    /// The links cursor and how far it is behind the CDEvents store.
    pub async fn link_lag(&self) -> Result<LinkLag, StoreError> {
        // `behind` from the highest seq (a gap left by a rolled back append counts too):
        // counting rows after the cursor would scan the table once caught up.
        let sql = format!(
            "SELECT c.position AS version,
                    {}((SELECT COALESCE(MAX(seq), 0) FROM cdevents_raw) - c.position, 0) AS cdevents_behind,
                    (SELECT stored_at FROM cdevents_raw WHERE seq > c.position ORDER BY seq LIMIT 1)
                      AS oldest_unlinked_at
             FROM (SELECT COALESCE((SELECT position FROM cursors WHERE name = $1), 0) AS position) c",
            self.dialect().greatest()
        );
        Ok(with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(LINKS_CURSOR)
            .fetch_one(pool)
            .await?))
    }

    /// Deployments (any environment) with `from <= deployed_at < to`, by time.
    pub async fn deployments_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DeploymentRecord>, StoreError> {
        let sql = format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE deployed_at >= $1 AND deployed_at < $2
             ORDER BY deployed_at, id"
        );
        Ok(with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(StoredTime(from))
            .bind(StoredTime(to))
            .fetch_all(pool)
            .await?))
    }

    /// What a scope of these services and environments (`None`: any) may need.
    pub async fn scope_records(
        &self,
        services: Option<&[String]>,
        environments: Option<&[String]>,
    ) -> Result<ScopeRecords, StoreError> {
        // Conditions written only for the filters given, so each can use its index.
        let filter = |column: &str, values: Option<&[String]>, n: u8| match values {
            Some(_) => self.dialect().in_list(column, n),
            None => format!("${n} IS NULL"),
        };
        let scope = format!(
            "{} AND {}",
            filter("service", services, 1),
            filter("environment", environments, 2)
        );
        let deployments = format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE {scope} ORDER BY deployed_at, id"
        );
        let changes = format!(
            "SELECT detail FROM change_links WHERE change_id IN (
                 SELECT change_id FROM change_deployments WHERE {scope})"
        );
        let incidents_of = match services {
            Some(_) => format!(
                "service IS NULL OR {}",
                self.dialect().in_list("service", 1)
            ),
            None => "$1 IS NULL".to_owned(),
        };
        let incidents = format!("SELECT detail FROM incident_links WHERE {incidents_of}");
        let (services, environments) = (services.map(List), environments.map(List));
        with_pool!(self, pool => Ok(ScopeRecords {
            deployments: sqlx::query_as(&deployments)
                .bind(services)
                .bind(environments)
                .fetch_all(pool)
                .await?,
            change_details: sqlx::query_scalar(&changes)
                .bind(services)
                .bind(environments)
                .fetch_all(pool)
                .await?,
            incident_details: sqlx::query_scalar(&incidents).bind(services).fetch_all(pool).await?,
        }))
    }
}
