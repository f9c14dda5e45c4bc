//! The pipeline stages' transactions ([`crate::Store::commit_router_pass`],
//! [`crate::Store::finish_function_job`], [`crate::Store::commit_facts`]), written once and
//! compiled for each backend by [`pipeline_commits`]: the steps and their order are here, the
//! rows go in through the backend's own `append_cdevents`, `record_transform_failures`,
//! `enqueue_function_jobs`, `write_deployments`, `write_observations` and
//! `record_fact_failures` (multi-row `VALUES` on SQLite, `UNNEST` on PostgreSQL).

/// Implements `commit_router_pass`, `finish_function_job` and `commit_facts` for a backend
/// `$store`. Each moves its cursor (or claims its job) first: on PostgreSQL that row's lock makes
/// a concurrent worker with the same batch wait, then find the cursor moved (the job gone)
/// before it has written anything; on SQLite, which has one writer, the order is free.
macro_rules! pipeline_commits {
    ($store:ty) => {
        impl $store {
            pub(crate) async fn commit_router_pass(
                &self,
                from: $crate::Position,
                to: $crate::Position,
                output: &$crate::RouterOutput,
            ) -> Result<(), $crate::StoreError> {
                let (_turn, mut tx) = self.begin_write().await?;
                move_cursor(&mut tx, $crate::ROUTER_CURSOR, from, to).await?;
                let cdevents: Vec<(i64, &$crate::NewCdEvent)> =
                    output.cdevents.iter().map(|(seq, c)| (*seq, c)).collect();
                append_cdevents(&mut tx, &cdevents).await?;
                record_transform_failures(&mut tx, &output.failures).await?;
                enqueue_function_jobs(&mut tx, &output.function_jobs).await?;
                tx.commit().await?;
                Ok(())
            }

            pub(crate) async fn finish_function_job(
                &self,
                raw_seq: i64,
                function: &str,
                outcome: &$crate::JobOutcome,
            ) -> Result<bool, $crate::StoreError> {
                let mut tx = self.begin_job().await?;
                let deleted =
                    sqlx::query("DELETE FROM function_jobs WHERE raw_seq = $1 AND function = $2")
                        .bind(raw_seq)
                        .bind(function)
                        .execute(&mut *tx)
                        .await?;
                if deleted.rows_affected() != 1 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                match outcome {
                    $crate::JobOutcome::Done(cdevents) => {
                        let cdevents: Vec<_> = cdevents.iter().map(|c| (raw_seq, c)).collect();
                        append_cdevents(&mut tx, &cdevents).await?;
                    }
                    $crate::JobOutcome::Failed {
                        transformer,
                        reason,
                    } => {
                        let failure = $crate::NewFailure {
                            raw_seq,
                            transformer: transformer.clone(),
                            reason: reason.clone(),
                        };
                        record_transform_failures(&mut tx, std::slice::from_ref(&failure)).await?;
                    }
                }
                tx.commit().await?;
                Ok(true)
            }

            pub(crate) async fn commit_facts(
                &self,
                from: i64,
                to: i64,
                output: &$crate::FactsOutput,
            ) -> Result<(), $crate::StoreError> {
                let (_turn, mut tx) = self.begin_write().await?;
                let (from, to) = ($crate::Position::at(from), $crate::Position::at(to));
                move_cursor(&mut tx, $crate::DEPLOYMENTS_CURSOR, from, to).await?;
                write_deployments(&mut tx, &output.deployments).await?;
                write_observations(&mut tx, &output.observations).await?;
                let failures = &output.failures;
                record_fact_failures(&mut tx, $crate::FACTS_CALCULATOR, failures).await?;
                tx.commit().await?;
                Ok(())
            }
        }
    };
}
pub(crate) use pipeline_commits;
