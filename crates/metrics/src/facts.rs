//! From stored rows to the facts the DORA keys are computed on: deployment rows as they are
//! (team from configuration first), observations folded per change and per incident. Folding
//! is order-independent, so events that arrived late or out of order give the same facts.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use dora_model::time::parse_rfc3339;
use dora_store::{DeploymentKind as StoredKind, FactRows};
use serde_json::Value;

use crate::dora::facts::{Change, Commit, Deployment, DeploymentKind, DoraFacts, Incident};

/// Folds stored rows into facts. `teams` maps a service to its team and wins over event metadata.
pub fn fold(rows: FactRows, teams: &BTreeMap<String, String>) -> DoraFacts {
    let deployments: Vec<Deployment> = rows
        .deployments
        .into_iter()
        .map(|d| Deployment {
            id: d.id,
            team: teams.get(&d.service).cloned().or(d.team),
            service: d.service,
            environment: d.environment,
            at: d.deployed_at,
            kind: match d.kind {
                StoredKind::Deployed => DeploymentKind::Deployed,
                StoredKind::Upgraded => DeploymentKind::Upgraded,
                StoredKind::Rolledback => DeploymentKind::Rolledback,
            },
            failed: d.failed,
            artifact_id: d.artifact_id,
            revision: d.revision,
        })
        .collect();
    let mut changes: BTreeMap<String, Change> = BTreeMap::new();
    let mut incidents: BTreeMap<String, IncidentDraft> = BTreeMap::new();
    for observation in rows.observations {
        let Ok(body) = serde_json::from_str::<Value>(&observation.body) else {
            continue;
        };
        let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
        let time = |key: &str| {
            body.get(key)
                .and_then(Value::as_str)
                .and_then(parse_rfc3339)
        };
        let predicate = text("predicate").unwrap_or_default();
        match observation.fact.as_str() {
            "change" => {
                let change = changes
                    .entry(observation.fact_id.clone())
                    .or_insert_with(|| Change {
                        id: observation.fact_id.clone(),
                        service: None,
                        repository: None,
                        created_at: None,
                        merged_at: None,
                        commits: Vec::new(),
                        merge_sha: None,
                        artifact_ids: Vec::new(),
                    });
                change.service = change.service.take().or(observation.service.clone());
                change.repository = change.repository.take().or(text("repository"));
                let created = time("created_at")
                    .or((predicate == "created").then_some(observation.observed_at));
                change.created_at = earliest(change.created_at, created);
                let merged = time("merged_at")
                    .or((predicate == "merged").then_some(observation.observed_at));
                change.merged_at = earliest(change.merged_at, merged);
                change.merge_sha = change.merge_sha.take().or(text("merge_sha"));
                if let Some(artifact) = text("artifact_id") {
                    if !change.artifact_ids.contains(&artifact) {
                        change.artifact_ids.push(artifact);
                    }
                }
                for commit in commits(&body) {
                    match change
                        .commits
                        .iter_mut()
                        .find(|c| c.sha.eq_ignore_ascii_case(&commit.sha))
                    {
                        Some(known) => known.at = known.at.or(commit.at),
                        None => change.commits.push(commit),
                    }
                }
            }
            "incident" => {
                let draft = incidents.entry(observation.fact_id.clone()).or_default();
                draft.service = draft.service.take().or(observation.service.clone());
                draft.environment = draft.environment.take().or(observation.environment.clone());
                draft.artifact_id = draft.artifact_id.take().or(text("artifact_id"));
                match predicate.as_str() {
                    "resolved" => {
                        draft.resolved_at = latest(draft.resolved_at, Some(observation.observed_at))
                    }
                    _ => {
                        draft.detected_at =
                            earliest(draft.detected_at, Some(observation.observed_at))
                    }
                }
            }
            _ => {}
        }
    }
    let incidents = incidents
        .into_iter()
        // A resolution without a detection is not an incident we can measure.
        .filter_map(|(id, draft)| {
            Some(Incident {
                id,
                service: draft.service,
                environment: draft.environment,
                artifact_id: draft.artifact_id,
                deployment_ref: None,
                detected_at: draft.detected_at?,
                resolved_at: draft.resolved_at,
            })
        })
        .collect();
    DoraFacts {
        deployments,
        changes: changes.into_values().collect(),
        incidents,
    }
}

#[derive(Default)]
struct IncidentDraft {
    service: Option<String>,
    environment: Option<String>,
    artifact_id: Option<String>,
    detected_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
}

fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn latest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// `commits` as strings or `{"sha", "timestamp"}` objects; a push's `revision` counts as a commit.
fn commits(body: &Value) -> Vec<Commit> {
    let mut out = Vec::new();
    if let Some(Value::Array(items)) = body.get("commits") {
        for item in items {
            match item {
                Value::String(sha) => out.push(Commit {
                    sha: sha.clone(),
                    at: None,
                }),
                Value::Object(map) => {
                    if let Some(sha) = map
                        .get("sha")
                        .or_else(|| map.get("id"))
                        .and_then(Value::as_str)
                    {
                        let at = map
                            .get("timestamp")
                            .and_then(Value::as_str)
                            .and_then(parse_rfc3339);
                        out.push(Commit {
                            sha: sha.to_owned(),
                            at,
                        });
                    }
                }
                _ => {}
            }
        }
    }
    if let Some(revision) = body.get("revision").and_then(Value::as_str) {
        if !out.iter().any(|c| c.sha.eq_ignore_ascii_case(revision)) {
            out.push(Commit {
                sha: revision.to_owned(),
                at: None,
            });
        }
    }
    out
}
