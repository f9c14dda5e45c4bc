//! Observations: what one CDEvent says about a change or an incident. The observer
//! ([`crate::observer`]) writes them (`observations.body`, with the [`FactKind`] in `observations.fact`); the linker
//! reads them back and folds them into facts. One type for both sides, so that what is written
//! is what is read.
//!
//! The stored JSON is the one earlier versions wrote with `json!` (an object with sorted keys,
//! absent values as `null` where they were), byte for byte, and every shape ever stored still
//! reads: stored history outlives the code. A body that does not read is an
//! [`UnreadableObservation`], which the linker records in `fact_failures`.

use chrono::{DateTime, Utc};
use dora_model::time::parse_rfc3339;
use dora_store::ObservationRecord;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use dora_model::dora::FactKind;

use crate::dora::facts::Commit;

/// What one CDEvent says about a change or an incident.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// A deployment names the change among those it ships (`customData.dora.changes`).
    Shipped(Shipped),
    /// A deployment lists one of its commits (`customData.dora.commits`): the change that has
    /// the commit, or else the change `<service>@<sha>`.
    Listed(Listed),
    /// An artifact was built from the change (`artifact.packaged|published`).
    Built(Built),
    /// A `change.*` CDEvent: the change was created, updated, merged...
    Change(ChangeReport),
    /// An `incident.*` CDEvent.
    Incident(IncidentReport),
}

/// `{"deployment", "predicate": "deployed"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shipped {
    /// The CDEvent id of the deployment.
    pub deployment: String,
    /// The deployment's commits, in rows stored before listed commits were observations of
    /// their own (never written now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commits: Option<Vec<Value>>,
}

/// `{"commits": [commit], "deployment", "predicate": "listed"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Listed {
    /// The CDEvent id of the deployment.
    pub deployment: String,
    /// The commit as the deployment listed it (a SHA, or an object with `sha` or `id` and maybe
    /// `timestamp`), kept whole.
    pub commits: Vec<Value>,
}

/// `{"artifact_id", "predicate": "artifact"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Built {
    pub artifact_id: String,
}

/// The observations whose predicate is fixed, tagged by it.
#[derive(Serialize, Deserialize)]
#[serde(tag = "predicate", rename_all = "lowercase")]
enum Tagged {
    Deployed(Shipped),
    Listed(Listed),
    Artifact(Built),
}

/// What a `change.*` CDEvent says; every key is written, absent ones as `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeReport {
    /// The CDEvent's predicate: `created`, `updated`, `merged`, `reviewed`, `abandoned`.
    pub predicate: String,
    pub repository: Option<String>,
    /// `customData.dora.createdAt` as given (read as RFC 3339 when folded; anything else is no
    /// time).
    pub created_at: Option<String>,
    pub merged_at: Option<String>,
    pub merge_sha: Option<String>,
    /// A push's revision: a commit of the change.
    pub revision: Option<String>,
    /// `customData.dora.commits` as given; only an array of commits is read.
    pub commits: Option<Value>,
}

/// What an `incident.*` CDEvent says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentReport {
    pub predicate: IncidentPredicate,
    pub artifact_id: Option<String>,
    /// The CDEvent id of the deployment the incident names.
    pub deployment: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentPredicate {
    Detected,
    Reported,
    Resolved,
}

impl Observation {
    /// What the observation is about: the `fact` column.
    pub fn kind(&self) -> FactKind {
        match self {
            Observation::Incident(_) => FactKind::Incident,
            _ => FactKind::Change,
        }
    }

    /// The `body` column: a JSON object with sorted keys.
    pub fn to_body(&self) -> Result<String, serde_json::Error> {
        let value = match self {
            Observation::Shipped(shipped) => {
                serde_json::to_value(Tagged::Deployed(shipped.clone()))
            }
            Observation::Listed(listed) => serde_json::to_value(Tagged::Listed(listed.clone())),
            Observation::Built(built) => serde_json::to_value(Tagged::Artifact(built.clone())),
            Observation::Change(report) => serde_json::to_value(report),
            Observation::Incident(report) => serde_json::to_value(report),
        }?;
        // A `Value` keeps its keys sorted: the order `json!` gave.
        Ok(value.to_string())
    }

    /// Reads the `fact` and `body` columns.
    pub fn read(fact: &str, body: &str) -> Result<Observation, String> {
        let kind = FactKind::parse(fact).ok_or_else(|| format!("unknown fact kind {fact:?}"))?;
        let value: Value =
            serde_json::from_str(body).map_err(|e| format!("the body is not JSON: {e}"))?;
        let predicate = value
            .get("predicate")
            .and_then(Value::as_str)
            .ok_or("the body has no predicate")?
            .to_owned();
        let read = match (kind, predicate.as_str()) {
            (FactKind::Change, "deployed" | "listed" | "artifact") => serde_json::from_value(value)
                .map(|tagged| match tagged {
                    Tagged::Deployed(shipped) => Observation::Shipped(shipped),
                    Tagged::Listed(listed) => Observation::Listed(listed),
                    Tagged::Artifact(built) => Observation::Built(built),
                }),
            (FactKind::Change, _) => serde_json::from_value(value).map(Observation::Change),
            (FactKind::Incident, _) => serde_json::from_value(value).map(Observation::Incident),
        };
        read.map_err(|e| format!("a {} observation {predicate:?}: {e}", kind.as_str()))
    }

    /// The CDEvent id of the deployment the observation names.
    pub fn deployment(&self) -> Option<&str> {
        match self {
            Observation::Shipped(shipped) => Some(&shipped.deployment),
            Observation::Listed(listed) => Some(&listed.deployment),
            Observation::Incident(report) => report.deployment.as_deref(),
            Observation::Built(_) | Observation::Change(_) => None,
        }
    }

    /// The artifact the observation names.
    pub fn artifact_id(&self) -> Option<&str> {
        match self {
            Observation::Built(built) => Some(&built.artifact_id),
            Observation::Incident(report) => report.artifact_id.as_deref(),
            _ => None,
        }
    }

    /// The merge SHA a change report gives.
    pub fn merge_sha(&self) -> Option<&str> {
        match self {
            Observation::Change(report) => report.merge_sha.as_deref(),
            _ => None,
        }
    }

    /// The commits the observation gives: listed entries (strings, or objects with `sha` or
    /// `id` and maybe `timestamp`); a change report's revision counts as a commit.
    pub fn commits(&self) -> Vec<Commit> {
        let (entries, revision) = match self {
            Observation::Shipped(shipped) => (shipped.commits.as_deref(), None),
            Observation::Listed(listed) => (Some(listed.commits.as_slice()), None),
            Observation::Change(report) => match &report.commits {
                Some(Value::Array(entries)) => {
                    (Some(entries.as_slice()), report.revision.as_deref())
                }
                _ => (None, report.revision.as_deref()),
            },
            Observation::Built(_) | Observation::Incident(_) => (None, None),
        };
        let mut out: Vec<Commit> = entries
            .unwrap_or_default()
            .iter()
            .filter_map(commit_of)
            .collect();
        if let Some(revision) = revision {
            if !out.iter().any(|c| c.sha.eq_ignore_ascii_case(revision)) {
                out.push(Commit {
                    sha: revision.to_owned(),
                    at: None,
                });
            }
        }
        out
    }
}

/// One listed commit: a SHA, or `{"sha" (or "id"), "timestamp"}`.
fn commit_of(entry: &Value) -> Option<Commit> {
    match entry {
        Value::String(sha) => Some(Commit {
            sha: sha.clone(),
            at: None,
        }),
        Value::Object(map) => {
            let sha = map.get("sha").or_else(|| map.get("id"))?.as_str()?;
            let at = map
                .get("timestamp")
                .and_then(Value::as_str)
                .and_then(parse_rfc3339);
            Some(Commit {
                sha: sha.to_owned(),
                at,
            })
        }
        _ => None,
    }
}

/// A change report's time (`created_at`, `merged_at`), when it is RFC 3339.
pub(crate) fn time_of(text: &Option<String>) -> Option<DateTime<Utc>> {
    text.as_deref().and_then(parse_rfc3339)
}

/// A stored observation, read: the row's columns and its typed body.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub fact_id: String,
    pub service: Option<String>,
    pub environment: Option<String>,
    pub observed_at: DateTime<Utc>,
    pub observation: Observation,
}

/// A stored observation that does not read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableObservation {
    pub fact: String,
    pub fact_id: String,
    pub reason: String,
}

impl std::fmt::Display for UnreadableObservation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the stored observation of {} {:?} cannot be read: {}",
            self.fact, self.fact_id, self.reason
        )
    }
}

impl Observed {
    pub fn read(record: &ObservationRecord) -> Result<Observed, UnreadableObservation> {
        match Observation::read(&record.fact, &record.body) {
            Ok(observation) => Ok(Observed {
                fact_id: record.fact_id.clone(),
                service: record.service.clone(),
                environment: record.environment.clone(),
                observed_at: record.observed_at,
                observation,
            }),
            Err(reason) => Err(UnreadableObservation {
                fact: record.fact.clone(),
                fact_id: record.fact_id.clone(),
                reason,
            }),
        }
    }
}

/// Reads stored observations: those that read, and those that do not.
pub fn read_all(records: &[ObservationRecord]) -> (Vec<Observed>, Vec<UnreadableObservation>) {
    let mut observed = Vec::with_capacity(records.len());
    let mut unreadable = Vec::new();
    for record in records {
        match Observed::read(record) {
            Ok(o) => observed.push(o),
            Err(u) => unreadable.push(u),
        }
    }
    (observed, unreadable)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(observation: &Observation) -> String {
        observation.to_body().unwrap()
    }

    fn commit() -> Value {
        json!({"sha": "ABC", "timestamp": "2024-01-01T00:00:00Z", "message": "fix"})
    }

    /// `observation` writes `expected` (what the `json!` calls of earlier versions wrote) and
    /// reads back as itself.
    fn writes(observation: Observation, expected: &Value) {
        assert_eq!(body(&observation), expected.to_string());
        let fact = observation.kind().as_str();
        assert_eq!(
            Observation::read(fact, &body(&observation)),
            Ok(observation)
        );
    }

    #[test]
    fn deployment_and_artifact_bodies_are_what_json_wrote_byte_for_byte() {
        let shipped = Shipped {
            deployment: "d-1".into(),
            commits: None,
        };
        writes(
            Observation::Shipped(shipped),
            &json!({"predicate": "deployed", "deployment": "d-1"}),
        );
        let listed = Listed {
            deployment: "d-1".into(),
            commits: vec![commit()],
        };
        writes(
            Observation::Listed(listed),
            &json!({"predicate": "listed", "deployment": "d-1", "commits": [commit()]}),
        );
        let built = Built {
            artifact_id: "pkg:oci/web@1".into(),
        };
        writes(
            Observation::Built(built),
            &json!({"predicate": "artifact", "artifact_id": "pkg:oci/web@1"}),
        );
    }

    #[test]
    fn report_bodies_are_what_json_wrote_byte_for_byte() {
        let created_at: Option<&str> = Some("2024-01-01T00:00:00Z");
        let none: Option<&str> = None;
        let commits: Option<Value> = None;
        let merged = ChangeReport {
            predicate: "merged".into(),
            repository: Some("acme/web".into()),
            created_at: created_at.map(str::to_owned),
            merged_at: None,
            merge_sha: Some("m1".into()),
            revision: None,
            commits: Some(json!(["c1", commit()])),
        };
        writes(
            Observation::Change(merged),
            &json!({"predicate": "merged", "repository": "acme/web", "created_at": created_at,
                    "merged_at": none, "merge_sha": "m1", "revision": none,
                    "commits": Some(json!(["c1", commit()]))}),
        );
        let pushed = ChangeReport {
            predicate: "updated".into(),
            repository: None,
            created_at: None,
            merged_at: None,
            merge_sha: None,
            revision: Some("r1".into()),
            commits: None,
        };
        writes(
            Observation::Change(pushed),
            &json!({"predicate": "updated", "repository": none, "created_at": none,
                    "merged_at": none, "merge_sha": none, "revision": "r1", "commits": commits}),
        );
        let detected = IncidentReport {
            predicate: IncidentPredicate::Detected,
            artifact_id: None,
            deployment: Some("d-1".into()),
        };
        writes(
            Observation::Incident(detected),
            &json!({"predicate": "detected", "artifact_id": none, "deployment": "d-1"}),
        );
    }

    /// Rows as databases hold them, written by every version so far.
    #[test]
    fn stored_rows_of_every_version_read() {
        // Before listed commits (a deployment's commits on the change `<service>@<cdevent id>`).
        let old = Observation::read(
            "change",
            r#"{"commits":["c1",{"id":"c2","timestamp":"2024-01-01T00:00:00Z"}],"deployment":"d-1","predicate":"deployed"}"#,
        )
        .unwrap();
        assert_eq!(old.deployment(), Some("d-1"));
        assert_eq!(
            old.commits(),
            [
                Commit {
                    sha: "c1".into(),
                    at: None
                },
                Commit {
                    sha: "c2".into(),
                    at: parse_rfc3339("2024-01-01T00:00:00Z")
                }
            ]
        );
        let report = Observation::read(
            "change",
            r#"{"commits":null,"created_at":"not a time","merge_sha":null,"merged_at":null,"predicate":"created","repository":null,"revision":"R1"}"#,
        )
        .unwrap();
        let Observation::Change(change) = &report else {
            panic!("{report:?}")
        };
        assert_eq!(time_of(&change.created_at), None, "no time, but readable");
        assert_eq!(report.commits()[0].sha, "R1");
        let incident = Observation::read(
            "incident",
            r#"{"artifact_id":"pkg:oci/web@1","deployment":null,"predicate":"resolved"}"#,
        )
        .unwrap();
        assert_eq!(incident.kind(), FactKind::Incident);
        assert_eq!(incident.artifact_id(), Some("pkg:oci/web@1"));
    }

    #[test]
    fn unreadable_bodies_say_why() {
        for (fact, body, why) in [
            ("change", "{not json", "not JSON"),
            ("change", r#"{"deployment":"d"}"#, "no predicate"),
            (
                "change",
                r#"{"predicate":"listed","deployment":"d"}"#,
                "commits",
            ),
            ("incident", r#"{"predicate":"forgotten"}"#, "forgotten"),
            ("artifact", r#"{"predicate":"artifact"}"#, "fact kind"),
        ] {
            let reason = Observation::read(fact, body).unwrap_err();
            assert!(reason.contains(why), "{body}: {reason}");
        }
    }
}
