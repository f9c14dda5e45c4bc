//! Input facts of the pure DORA computation (`crate::dora`), the metric stage used by the API:
//! deployments, changes and incidents as folding makes them (`crate::folding`), narrowed by the
//! caller (service, environment, team), plus the configuration of the computation.
//!
//! These are plain data: no I/O happens in `crate::dora`. Times are UTC instants.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::levels::Thresholds;

pub use dora_model::dora::DeploymentKind;

/// One rollout of a service into an environment.
///
/// `id` is unique among the deployments given to one computation (the store's primary key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    pub id: i64,
    pub service: String,
    pub environment: String,
    #[serde(default)]
    pub team: Option<String>,
    pub at: DateTime<Utc>,
    pub kind: DeploymentKind,
    /// The rollout itself failed.
    #[serde(default)]
    pub failed: bool,
    #[serde(default)]
    pub artifact_id: Option<String>,
    /// Commit SHA deployed, when known.
    #[serde(default)]
    pub revision: Option<String>,
}

impl Deployment {
    /// The total order of deployments used everywhere: by time, ties by id.
    pub fn order_key(&self) -> (DateTime<Utc>, i64) {
        (self.at, self.id)
    }
}

/// One commit of a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    pub sha: String,
    /// Commit timestamp, when the source gave one (push events do).
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
}

/// One change (pull/merge request, or a pushed set of commits).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub id: String,
    /// When given, only deployments of this service can contain the change.
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub merged_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub commits: Vec<Commit>,
    #[serde(default)]
    pub merge_sha: Option<String>,
    /// Artifacts built from the change (`artifact.packaged` referencing it).
    #[serde(default)]
    pub artifact_ids: Vec<String>,
    /// Deployments (ids) that say they ship the change (`customData.dora.changes` or
    /// `commits` on a deployment CDEvent).
    #[serde(default)]
    pub deployment_refs: Vec<i64>,
}

/// One incident, detected and maybe resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    pub id: String,
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub environment: Option<String>,
    #[serde(default)]
    pub artifact_id: Option<String>,
    /// A deployment the incident names explicitly.
    #[serde(default)]
    pub deployment_ref: Option<i64>,
    pub detected_at: DateTime<Utc>,
    #[serde(default)]
    pub resolved_at: Option<DateTime<Utc>>,
}

/// Everything one computation looks at. Order does not matter: the computation sorts.
///
/// Give all the facts of the filtered scope known so far, not only those inside the window:
/// a change's first production deployment, a rollback's predecessor, an incident detected after
/// the window and the deployment that recovered a failure can all lie outside it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoraFacts {
    #[serde(default)]
    pub deployments: Vec<Deployment>,
    #[serde(default)]
    pub changes: Vec<Change>,
    #[serde(default)]
    pub incidents: Vec<Incident>,
}

/// Configuration of the computation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DoraConfig {
    /// Environments that count as production (exact, case-sensitive names); empty = all count.
    pub production_environments: Vec<String>,
    /// How long after a deployment an incident of the same service and environment is still
    /// blamed on it by time alone (attribution rule 3). Default 7 days. In JSON: whole seconds.
    #[serde(rename = "attribution_horizon_seconds", with = "seconds")]
    pub attribution_horizon: Duration,
    /// Level thresholds; defaults are the DORA 2023 clusters.
    pub thresholds: Thresholds,
}

/// The default attribution horizon: 7 days.
pub fn default_attribution_horizon() -> Duration {
    Duration::days(7)
}

impl Default for DoraConfig {
    fn default() -> Self {
        DoraConfig {
            production_environments: Vec::new(),
            attribution_horizon: default_attribution_horizon(),
            thresholds: Thresholds::default(),
        }
    }
}

/// `chrono::Duration` as whole seconds in JSON.
mod seconds {
    use chrono::Duration;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(value.num_seconds())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let secs = i64::deserialize(deserializer)?;
        Duration::try_seconds(secs)
            .ok_or_else(|| serde::de::Error::custom("attribution horizon out of range"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_json_round_trip() {
        let config = DoraConfig::default();
        assert!(config.production_environments.is_empty());
        assert_eq!(config.attribution_horizon, Duration::days(7));
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["attribution_horizon_seconds"], 604_800);
        let back: DoraConfig = serde_json::from_value(json).unwrap();
        assert_eq!(back, config);
        // Missing fields take the defaults.
        let partial: DoraConfig =
            serde_json::from_str(r#"{"production_environments":["prod"]}"#).unwrap();
        assert_eq!(partial.production_environments, vec!["prod".to_string()]);
        assert_eq!(partial.attribution_horizon, Duration::days(7));
    }

    #[test]
    fn facts_deserialize_with_optional_fields_missing() {
        let facts: DoraFacts = serde_json::from_str(
            r#"{"deployments":[{"id":1,"service":"a","environment":"prod",
                "at":"2024-01-01T00:00:00Z","kind":"rolledback"}],
                "changes":[{"id":"c"}],
                "incidents":[{"id":"i","detected_at":"2024-01-01T00:00:00Z"}]}"#,
        )
        .unwrap();
        assert_eq!(facts.deployments[0].kind, DeploymentKind::Rolledback);
        assert!(!facts.deployments[0].failed);
        assert!(facts.changes[0].commits.is_empty());
        assert_eq!(facts.incidents[0].resolved_at, None);
    }
}
