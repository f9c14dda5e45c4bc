//! The observer, first stage of the metrics (CDEvents store -> **observer** -> linker -> keys): reads
//! new CDEvents after its cursor (the facts cursor) and records, in the same transaction as the
//! cursor move, what the DORA keys need:
//!
//! - a deployment row per `service.deployed|upgraded|rolledback` CDEvent (one rollout of a
//!   service, `subject.id`, into an environment, `subject.content.environment.id`, at
//!   `context.timestamp`), with its team, outcome and revision from `customData.dora`;
//! - an observation per thing a CDEvent says about a change (`change.*`, and `artifact.*` that
//!   reference a change) or an incident (`incident.*`), folded into facts when keys are computed
//!   ([`crate::folding`]).
//!
//! Rollout identity is settled upstream: a transformer gives the same CDEvent id to every event
//! about the same rollout and the CDEvents store keeps one. The `customData.dora` keys read here
//! are the contract in METRICS.md, read as a typed [`DoraData`] (camelCase, with the snake_case
//! spellings of older history as aliases). A CDEvent whose `customData.dora` or content does not
//! read (a key of the wrong type) is a recorded failure naming the field, not half-counted.
//!
//! `fact_failures` and `GET /api/v1/failures` call it `calculator`. No CDEvent holds it back: one it cannot count (over a limit, unreadable) or whose
//! facts the database refuses ([`Blame::Event`]) is recorded in `fact_failures` and skipped;
//! only a failure of the database itself stops a pass, to be retried.

use dora_model::cdevent::{CdEvent, Content, DoraData};
use dora_model::dora::DeploymentKind;
use dora_store::{
    Blame, CdEventRecord, FactsOutput, NewDeployment, NewFactFailure, NewObservation, Store,
    StoreError, DEPLOYMENTS_CURSOR,
};
use serde_json::Value;

use crate::observation::{
    Built, ChangeReport, IncidentPredicate, IncidentReport, Listed, Observation, Shipped,
};

/// The observer over one store.
#[derive(Debug, Clone)]
pub struct Observer {
    store: Store,
    batch_size: i64,
}

/// `customData.dora` of an event; empty when it has none.
fn dora_of(event: &CdEvent) -> &DoraData {
    static NONE: std::sync::OnceLock<DoraData> = std::sync::OnceLock::new();
    event
        .dora()
        .unwrap_or_else(|| NONE.get_or_init(DoraData::default))
}

/// The team of an event: `customData.dora.team`, else the Kubernetes `app.kubernetes.io/part-of`
/// label the Kubernetes transformer passes on.
fn team_of(event: &CdEvent) -> Option<String> {
    dora_of(event)
        .team
        .as_deref()
        .or_else(|| {
            event
                .custom_data
                .as_ref()?
                .tool("kubernetes")?
                .pointer("/labels/app.kubernetes.io~1part-of")?
                .as_str()
        })
        .map(str::to_owned)
}

/// One observation of a CDEvent, before it is stored.
struct Said {
    fact_id: String,
    service: Option<String>,
    environment: Option<String>,
    observation: Observation,
}

/// What one stored CDEvent contributes to the facts. A CDEvent that cannot contribute (stored
/// before the limits of [`dora_model::limits`], or unreadable) is a failure in `output`.
pub fn observe(record: &CdEventRecord, output: &mut FactsOutput) {
    let Some(parsed) = dora_spec::parse_type(&record.event_type) else {
        return;
    };
    if parsed.custom {
        return;
    }
    let fail = |output: &mut FactsOutput, reason: String| {
        tracing::warn!(seq = record.seq, reason = %reason, "CDEvent skipped; see GET /api/v1/failures");
        output.failures.push(NewFactFailure {
            cdevent_seq: record.seq,
            reason,
        });
    };
    let document: Value = match serde_json::from_str(&record.content) {
        Ok(document) => document,
        Err(e) => return fail(output, format!("the stored CDEvent is not JSON: {e}")),
    };
    let event = match CdEvent::from_value(&document) {
        Ok(event) => event,
        Err(e) => return fail(output, format!("the stored CDEvent cannot be counted: {e}")),
    };
    let said = match (parsed.subject.as_str(), parsed.predicate.as_str()) {
        ("service", predicate) => match DeploymentKind::parse(predicate) {
            Some(kind) => deployment(record.seq, &event, kind, output),
            None => Vec::new(),
        },
        ("change", predicate) => vec![change_report(&event, predicate)],
        ("artifact", "packaged" | "published") => artifact_built(&event),
        ("incident", predicate) => incident_report(&event, predicate).into_iter().collect(),
        _ => Vec::new(),
    };
    for (ordinal, said) in said.into_iter().enumerate() {
        let body = match said.observation.to_body() {
            Ok(body) => body,
            Err(e) => return fail(output, format!("an observation cannot be written: {e}")),
        };
        output.observations.push(NewObservation {
            cdevent_seq: record.seq,
            ordinal: i32::try_from(ordinal).unwrap_or(i32::MAX),
            fact: said.observation.kind().as_str(),
            fact_id: said.fact_id,
            service: said.service,
            environment: said.environment,
            observed_at: event.timestamp,
            body,
        });
    }
}

/// A `service.deployed|upgraded|rolledback` CDEvent: a deployment row in `output` (none without
/// an environment), and what the deployment says it ships: changes by id, and commits (with
/// their timestamps), each of which is part of the change that has it, or else a change of its
/// own, `<service>@<sha>` (crate::folding).
fn deployment(
    seq: i64,
    event: &CdEvent,
    kind: DeploymentKind,
    output: &mut FactsOutput,
) -> Vec<Said> {
    let Some(environment) = event.content.environment() else {
        return Vec::new();
    };
    let dora = dora_of(event);
    let mut said = Vec::new();
    if let Some(ids) = &dora.changes {
        for id in ids {
            let shipped = Shipped {
                deployment: event.id.clone(),
                commits: None,
            };
            said.push(Said {
                fact_id: id.to_owned(),
                service: None,
                environment: None,
                observation: Observation::Shipped(shipped),
            });
        }
    }
    if let Some(list) = &dora.commits {
        for commit in list {
            let sha = commit
                .as_str()
                .or_else(|| commit.get("sha").and_then(Value::as_str))
                .or_else(|| commit.get("id").and_then(Value::as_str));
            let Some(sha) = sha.filter(|sha| !sha.is_empty()) else {
                continue;
            };
            let listed = Listed {
                deployment: event.id.clone(),
                commits: vec![commit.clone()],
            };
            said.push(Said {
                fact_id: format!("{}@{}", event.subject_id, sha.to_ascii_lowercase()),
                service: Some(event.subject_id.clone()),
                environment: None,
                observation: Observation::Listed(listed),
            });
        }
    }
    output.deployments.push(NewDeployment {
        cdevent_seq: seq,
        cdevent_id: event.id.clone(),
        kind,
        service: event.subject_id.clone(),
        environment: environment.to_owned(),
        artifact_id: event
            .content
            .artifact_id()
            .or(dora.artifact.as_deref())
            .map(str::to_owned),
        deployed_at: event.timestamp,
        team: team_of(event),
        failed: dora.outcome.as_deref() == Some("failure"),
        revision: dora.revision.clone(),
    });
    said
}

/// A `change.*` CDEvent.
fn change_report(event: &CdEvent, predicate: &str) -> Said {
    let dora = dora_of(event);
    let repository = match &event.content {
        Content::Change(change) => change.repository.as_ref(),
        _ => None,
    };
    let report = ChangeReport {
        predicate: predicate.to_owned(),
        repository: repository.map(|repository| repository.id.clone()),
        created_at: dora.created_at.clone(),
        merged_at: dora.merged_at.clone(),
        merge_sha: dora.merge_sha.clone(),
        revision: dora.revision.clone(),
        commits: dora.commits.clone().map(Value::Array),
    };
    Said {
        fact_id: event.subject_id.clone(),
        service: dora.service.clone(),
        environment: None,
        observation: Observation::Change(report),
    }
}

/// An `artifact.packaged|published` CDEvent: one observation per change it references.
fn artifact_built(event: &CdEvent) -> Vec<Said> {
    let mut changes: Vec<String> = match &event.content {
        Content::Artifact(artifact) => artifact.change.iter().map(|c| c.id.clone()).collect(),
        _ => Vec::new(),
    };
    if let Some(ids) = &dora_of(event).changes {
        changes.extend(ids.iter().cloned());
    }
    changes
        .into_iter()
        .map(|change| Said {
            fact_id: change,
            service: None,
            environment: None,
            observation: Observation::Built(Built {
                artifact_id: event.subject_id.clone(),
            }),
        })
        .collect()
}

/// An `incident.detected|reported|resolved` CDEvent.
fn incident_report(event: &CdEvent, predicate: &str) -> Option<Said> {
    let predicate = match predicate {
        "detected" => IncidentPredicate::Detected,
        "reported" => IncidentPredicate::Reported,
        "resolved" => IncidentPredicate::Resolved,
        _ => return None,
    };
    let dora = dora_of(event);
    let service = match &event.content {
        Content::Incident(incident) => incident.service.as_ref().map(|s| s.id.as_str()),
        _ => None,
    };
    let report = IncidentReport {
        predicate,
        artifact_id: event.content.artifact_id().map(str::to_owned),
        deployment: dora.deployment.clone(),
    };
    Some(Said {
        fact_id: event.subject_id.clone(),
        service: service.or(dora.service.as_deref()).map(str::to_owned),
        environment: event.content.environment().map(str::to_owned),
        observation: Observation::Incident(report),
    })
}

/// What one pass of the [`Observer`] read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ObserverPass {
    /// CDEvents read (0: caught up).
    pub cdevents: usize,
    /// As many as one pass may read (its batch size, or its text budget): more may be waiting.
    pub full: bool,
}

impl Observer {
    pub fn new(store: Store, batch_size: i64) -> Self {
        Self {
            store,
            batch_size: batch_size.max(1),
        }
    }

    /// Processes the next batch of CDEvents; says how many were read (0: caught up).
    pub async fn run_pass(&self) -> Result<ObserverPass, StoreError> {
        let from = self.store.cursor(DEPLOYMENTS_CURSOR).await?.seq;
        let batch = self.store.cdevents_after(from, self.batch_size).await?;
        let Some(last) = batch.last() else {
            return Ok(ObserverPass::default());
        };
        let read = ObserverPass {
            cdevents: batch.len(),
            full: batch.len() as i64 >= self.batch_size
                || dora_store::fills_text_budget(
                    batch.iter().map(|r| r.content.as_str()),
                    dora_store::PASS_TEXT_BYTES,
                ),
        };
        let mut output = FactsOutput::default();
        for record in &batch {
            observe(record, &mut output);
        }
        match self.store.commit_facts(from, last.seq, &output).await {
            Ok(()) => {}
            Err(error) if error.blame() == Blame::Event => {
                tracing::warn!(error = %error, cdevents = batch.len(),
                    "the database refused a facts pass; storing its CDEvents one by one");
                self.commit_one_by_one(from, &batch).await?;
            }
            Err(error) => return Err(error),
        }
        tracing::debug!(
            cdevents = batch.len(),
            deployments = output.deployments.len(),
            observations = output.observations.len(),
            cursor = last.seq,
            "facts pass"
        );
        Ok(read)
    }

    /// Commits a batch the database refused as a whole, one CDEvent per transaction, so that
    /// only the CDEvent at fault is set aside: its facts are replaced by a failure naming the
    /// database's reason (or, should even that be refused, by nothing) and the cursor moves
    /// past it. A database error stops here, with the cursor after the CDEvents committed.
    async fn commit_one_by_one(
        &self,
        from: i64,
        batch: &[CdEventRecord],
    ) -> Result<(), StoreError> {
        let mut position = from;
        for record in batch {
            let mut own = FactsOutput::default();
            observe(record, &mut own);
            let error = match self.store.commit_facts(position, record.seq, &own).await {
                Ok(()) => {
                    position = record.seq;
                    continue;
                }
                Err(error) if error.blame() == Blame::Event => error,
                Err(error) => return Err(error),
            };
            tracing::error!(seq = record.seq, error = %error,
                "the database refused the facts of a CDEvent; recorded in fact_failures and skipped");
            let recorded = FactsOutput {
                failures: vec![NewFactFailure {
                    cdevent_seq: record.seq,
                    reason: format!("the database refused this CDEvent's facts: {error}"),
                }],
                ..FactsOutput::default()
            };
            match self
                .store
                .commit_facts(position, record.seq, &recorded)
                .await
            {
                Ok(()) => {}
                Err(error) if error.blame() == Blame::Event => {
                    tracing::error!(seq = record.seq, error = %error,
                        "the database refused even the failure record of a CDEvent; skipped");
                    self.store
                        .commit_facts(position, record.seq, &FactsOutput::default())
                        .await?;
                }
                Err(error) => return Err(error),
            }
            position = record.seq;
        }
        Ok(())
    }

    /// Runs passes until caught up; returns the number of CDEvents read.
    pub async fn run_until_idle(&self) -> Result<usize, StoreError> {
        crate::until_idle(|| async { Ok(self.run_pass().await?.cdevents) }).await
    }
}
