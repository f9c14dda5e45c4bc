//! A links pass's transaction ([`crate::Store::commit_links`]) and the links reset, written
//! once and compiled for each backend by [`link_commits`]: the steps whose SQL is the same run
//! here, the rows go in through the backend's own `write_containments`, `write_links`,
//! `write_keys` and `record_fact_failures` (multi-row `VALUES` on SQLite, `UNNEST` on
//! PostgreSQL).

/// Implements `commit_links` and `reset_links` for a backend: `$store` and its `$db`, rendering
/// SQL for `$dialect` and deleting at most `$per_delete` ids per statement.
macro_rules! link_commits {
    ($store:ty, $db:ty, $dialect:expr, $per_delete:expr) => {
        impl $store {
            pub(crate) async fn commit_links(
                &self,
                from: i64,
                to: i64,
                writes: &$crate::links::LinkWrites,
            ) -> Result<(), $crate::StoreError> {
                use $crate::links::{LINKER, LINKS_CURSOR};
                let (_turn, mut tx) = self.begin_write().await?;
                // The cursor first: on PostgreSQL its row lock serialises concurrent passes.
                let (from, to) = ($crate::Position::at(from), $crate::Position::at(to));
                move_cursor(&mut tx, LINKS_CURSOR, from, to).await?;
                let removed_changes = &writes.removed_changes;
                delete_where_in(&mut tx, "change_links", "change_id", removed_changes).await?;
                let rewritten = writes.rewritten_changes();
                delete_where_in(&mut tx, "change_deployments", "change_id", &rewritten).await?;
                write_containments(&mut tx, &writes.containments).await?;
                let removed_incidents = &writes.removed_incidents;
                delete_where_in(&mut tx, "incident_links", "incident_id", removed_incidents)
                    .await?;
                write_links(&mut tx, to.seq, writes).await?;
                write_keys(&mut tx, to.seq, writes).await?;
                record_fact_failures(&mut tx, LINKER, &writes.failures).await?;
                prune_dirty_days(&mut tx, to.seq).await?;
                tx.commit().await?;
                Ok(())
            }

            pub(crate) async fn reset_links(
                &self,
                fingerprint: &str,
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                for statement in $dialect.empty_tables(&$crate::writes::LINK_TABLES) {
                    sqlx::query(&statement).execute(&mut *tx).await?;
                }
                sqlx::query("DELETE FROM cursors WHERE name = $1")
                    .bind($crate::links::LINKS_CURSOR)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query($crate::writes::LINK_FINGERPRINT_UPSERT)
                    .bind(fingerprint)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }
        }

        /// Deletes the rows of `table` whose `column` is one of `values`.
        async fn delete_where_in<'v, T>(
            tx: &mut sqlx::Transaction<'_, $db>,
            table: &str,
            column: &str,
            values: &'v [T],
        ) -> Result<(), $crate::StoreError>
        where
            $crate::sql::List<'v, T>: for<'q> sqlx::Encode<'q, $db> + sqlx::Type<$db> + Send,
        {
            let sql = format!("DELETE FROM {table} WHERE {}", $dialect.in_list(column, 1));
            for chunk in values.chunks($per_delete) {
                let list = $crate::sql::List(chunk);
                sqlx::query(&sql).bind(list).execute(&mut **tx).await?;
            }
            Ok(())
        }

        /// Forgets the dirty days of passes more than `DIRTY_DAYS_KEPT` before `version`, and
        /// records from where on they are kept.
        async fn prune_dirty_days(
            tx: &mut sqlx::Transaction<'_, $db>,
            version: i64,
        ) -> Result<(), $crate::StoreError> {
            let prune_below = version - $crate::links::DIRTY_DAYS_KEPT;
            if prune_below <= 0 {
                return Ok(());
            }
            let pruned = sqlx::query($crate::writes::PRUNE_DIRTY_DAYS)
                .bind(prune_below)
                .execute(&mut **tx)
                .await?;
            if pruned.rows_affected() > 0 {
                sqlx::query($crate::writes::DIRTY_DAYS_KEPT_FROM)
                    .bind(prune_below)
                    .execute(&mut **tx)
                    .await?;
            }
            Ok(())
        }
    };
}
pub(crate) use link_commits;
