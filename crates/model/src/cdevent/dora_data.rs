//! `customData.dora`: what a CDEvent tells the DORA calculators beyond the standard fields (the
//! contract in METRICS.md), with one spelling, camelCase. CDEvents stored before that spelling
//! was settled wrote some keys in snake_case (`created_at`, `merge_sha`, ...): those are read as
//! aliases, so old history counts the same.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `customData.dora`. The typed fields are the ones the calculators read; everything else a
/// source writes there (the commit a push moved from, an alert's labels, ...) is in `details`,
/// kept as given and not read by the calculators.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DoraData {
    /// The service a change or incident belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The team dimension (after the configured mapping, before Kubernetes' `part-of`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// The repository (`owner/name`, `group/project`) a fact is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// The commit deployed, built or pushed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// The artifact deployed, when `subject.content.artifactId` is absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact: Option<String>,
    /// The `context.id` of the deployment CDEvent an incident blames.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
    /// `success` or `failure` (a failed rollout, a failed run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// Ids of the changes a deployment or artifact ships.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<Vec<String>>,
    /// Commits a deployment ships or a change is made of: SHAs, or objects with `sha` (or
    /// `id`) and `timestamp`, as given (the calculators read them with their own rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commits: Option<Vec<Value>>,
    /// When a change was opened (RFC 3339).
    #[serde(default, alias = "created_at", skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// When a change was merged (RFC 3339).
    #[serde(alias = "merged_at", skip_serializing_if = "Option::is_none")]
    pub merged_at: Option<String>,
    /// The commit a merge made on the target branch.
    #[serde(alias = "merge_sha", skip_serializing_if = "Option::is_none")]
    pub merge_sha: Option<String>,
    /// Everything else, as given.
    #[serde(flatten)]
    pub details: Map<String, Value>,
}

impl DoraData {
    /// True when nothing is set.
    pub fn is_empty(&self) -> bool {
        self == &DoraData::default()
    }

    /// Sets a detail (a key the calculators do not read), camelCase by convention.
    pub fn detail(&mut self, key: &str, value: impl Into<Value>) -> &mut Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_both_spellings_and_writes_camel_case() {
        let old: DoraData = serde_json::from_value(json!({
            "created_at": "2024-01-01T00:00:00Z", "merge_sha": "abc", "merged_at": "2024-01-02T00:00:00Z",
            "head_sha": "def", "number": 7
        }))
        .unwrap();
        assert_eq!(old.created_at.as_deref(), Some("2024-01-01T00:00:00Z"));
        assert_eq!(old.merge_sha.as_deref(), Some("abc"));
        assert_eq!(old.details.get("head_sha"), Some(&json!("def")));
        let new: DoraData =
            serde_json::from_value(json!({"createdAt": "2024-01-01T00:00:00Z", "mergeSha": "abc", "mergedAt": "2024-01-02T00:00:00Z", "head_sha": "def", "number": 7}))
                .unwrap();
        assert_eq!(old, new);
        assert_eq!(
            serde_json::to_value(&new).unwrap(),
            json!({"createdAt": "2024-01-01T00:00:00Z", "mergeSha": "abc", "mergedAt": "2024-01-02T00:00:00Z", "head_sha": "def", "number": 7})
        );
    }

    #[test]
    fn a_key_of_the_wrong_type_is_an_error_naming_it() {
        let value = json!({"service": 5});
        let error = serde_path_to_error::deserialize::<_, DoraData>(&value).unwrap_err();
        assert_eq!(error.path().to_string(), "service");
        let value = json!({"changes": ["a", 1]});
        let error = serde_path_to_error::deserialize::<_, DoraData>(&value).unwrap_err();
        assert_eq!(error.path().to_string(), "changes[1]");
    }
}
