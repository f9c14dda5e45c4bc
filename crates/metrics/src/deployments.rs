//! Deployments: one row per `service.deployed`, `service.upgraded` or `service.rolledback`
//! CDEvent, i.e. one rollout of a service (`subject.id`) into an environment
//! (`subject.content.environment.id`) at the event's `context.timestamp`.
//!
//! Rollout identity is settled upstream: a transformer gives the same CDEvent id to every event
//! about the same rollout and the CDEvents store keeps one, so each stored CDEvent is one rollout.

use dora_model::cdevent::CdEvent;
use dora_store::{
    CdEventRecord, DeploymentKind, NewDeployment, Store, StoreError, DEPLOYMENTS_CURSOR,
};

/// The deployments calculator over one store.
#[derive(Debug, Clone)]
pub struct DeploymentsCalculator {
    store: Store,
    batch_size: i64,
}

/// The deployment a CDEvent stands for, if it is one.
pub fn deployment_from(record: &CdEventRecord) -> Option<NewDeployment> {
    let parsed = dora_spec::parse_type(&record.event_type)?;
    if parsed.custom || parsed.subject != "service" {
        return None;
    }
    let kind = match parsed.predicate.as_str() {
        "deployed" => DeploymentKind::Deployed,
        "upgraded" => DeploymentKind::Upgraded,
        "rolledback" => DeploymentKind::Rolledback,
        _ => return None,
    };
    let document: serde_json::Value = match serde_json::from_str(&record.content) {
        Ok(document) => document,
        Err(e) => {
            tracing::error!(seq = record.seq, error = %e, "stored CDEvent is not JSON; skipped");
            return None;
        }
    };
    let event = match CdEvent::from_value(&document) {
        Ok(event) => event,
        Err(e) => {
            tracing::error!(seq = record.seq, error = %e, "stored CDEvent is unreadable; skipped");
            return None;
        }
    };
    let environment = event.content_str("/environment/id")?.to_owned();
    Some(NewDeployment {
        cdevent_seq: record.seq,
        artifact_id: event.content_str("/artifactId").map(str::to_owned),
        cdevent_id: event.id,
        kind,
        service: event.subject_id,
        environment,
        deployed_at: event.timestamp,
    })
}

impl DeploymentsCalculator {
    pub fn new(store: Store, batch_size: i64) -> Self {
        Self {
            store,
            batch_size: batch_size.max(1),
        }
    }

    /// Processes the next batch of CDEvents; returns how many were read (0: caught up).
    pub async fn run_pass(&self) -> Result<usize, StoreError> {
        let from = self.store.cursor(DEPLOYMENTS_CURSOR).await?.seq;
        let batch = self.store.cdevents_after(from, self.batch_size).await?;
        let Some(last) = batch.last() else {
            return Ok(0);
        };
        let deployments: Vec<NewDeployment> = batch.iter().filter_map(deployment_from).collect();
        self.store
            .commit_deployments(from, last.seq, &deployments)
            .await?;
        tracing::debug!(
            cdevents = batch.len(),
            deployments = deployments.len(),
            cursor = last.seq,
            "deployments pass"
        );
        Ok(batch.len())
    }

    /// Runs passes until caught up; returns the number of CDEvents read.
    pub async fn run_until_idle(&self) -> Result<usize, StoreError> {
        let mut total = 0;
        loop {
            match self.run_pass().await? {
                0 => return Ok(total),
                n => total += n,
            }
        }
    }
}
