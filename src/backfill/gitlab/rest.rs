//! The GitLab REST API (v4) objects `backfill gitlab` reads, as serde structs: only the fields it
//! reads or carries into the webhook payloads (GitLab sends many more; they are ignored). An
//! object that lacks a field the backfill needs is an error naming the endpoint and the field.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

/// `T` read from one object of `endpoint`'s answer; an error names the endpoint and the field.
pub fn read<T: DeserializeOwned>(object: &Value, endpoint: &str) -> anyhow::Result<T> {
    serde_path_to_error::deserialize(object).map_err(|error| {
        anyhow::anyhow!(
            "GET {endpoint}: {} of an answer's object: {}",
            error.path(),
            error.inner()
        )
    })
}

/// `GET /projects/:id`.
#[derive(Debug, Clone, Deserialize)]
pub struct Project {
    pub id: u64,
    pub name: String,
    pub path_with_namespace: String,
    pub web_url: String,
    pub description: Option<String>,
    pub default_branch: Option<String>,
    pub ssh_url_to_repo: Option<String>,
    pub http_url_to_repo: Option<String>,
    pub avatar_url: Option<String>,
    pub namespace: Option<Namespace>,
    pub visibility: Option<String>,
}

/// `project.namespace`.
#[derive(Debug, Clone, Deserialize)]
pub struct Namespace {
    pub name: String,
}

/// A user as the API lists it (`author`, `user`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct User {
    pub id: Option<u64>,
    pub name: Option<String>,
    pub username: Option<String>,
    pub avatar_url: Option<String>,
    pub web_url: Option<String>,
}

/// `GET /projects/:id/deployments`.
#[derive(Debug, Clone, Deserialize)]
pub struct Deployment {
    pub id: u64,
    #[serde(rename = "ref", default)]
    pub git_ref: Option<String>,
    pub sha: String,
    pub status: String,
    pub updated_at: DateTime<Utc>,
    pub environment: Environment,
    pub deployable: Option<Deployable>,
    pub user: Option<User>,
}

/// `deployment.environment`.
#[derive(Debug, Clone, Deserialize)]
pub struct Environment {
    pub name: String,
    pub external_url: Option<String>,
    pub tier: Option<String>,
    pub slug: Option<String>,
}

/// `deployment.deployable`: the job that deployed.
#[derive(Debug, Clone, Deserialize)]
pub struct Deployable {
    pub id: u64,
    pub finished_at: Option<DateTime<Utc>>,
    pub commit: Option<DeployableCommit>,
}

/// `deployment.deployable.commit`.
#[derive(Debug, Clone, Deserialize)]
pub struct DeployableCommit {
    pub title: Option<String>,
}

/// `GET /projects/:id/merge_requests`.
#[derive(Debug, Clone, Deserialize)]
pub struct MergeRequest {
    pub id: u64,
    pub iid: u64,
    pub title: String,
    pub description: Option<String>,
    /// `opened`, `closed`, `locked`, `merged`.
    pub state: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub merged_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub source_branch: String,
    pub target_branch: String,
    pub source_project_id: Option<u64>,
    pub target_project_id: Option<u64>,
    /// The head of the merge request.
    pub sha: Option<String>,
    pub merge_commit_sha: Option<String>,
    pub squash_commit_sha: Option<String>,
    pub web_url: String,
    #[serde(default)]
    pub labels: Vec<String>,
    pub author: Option<User>,
}

/// `GET /projects/:id/repository/commits/:sha`, and the commits of
/// `GET /projects/:id/merge_requests/:iid/commits`.
#[derive(Debug, Clone, Deserialize)]
pub struct Commit {
    pub id: String,
    pub title: Option<String>,
    pub message: Option<String>,
    pub author_name: Option<String>,
    pub author_email: Option<String>,
    /// When it was committed (what a push hook calls its `timestamp`); older answers have only
    /// `created_at`, which is the same time.
    pub committed_date: Option<DateTime<Utc>>,
    pub created_at: Option<DateTime<Utc>>,
    pub parent_ids: Option<Vec<String>>,
    pub web_url: Option<String>,
    /// Its files, when read (`[[services]]`): not part of the answer.
    #[serde(skip)]
    pub files: Option<ChangedFiles>,
}

/// The files a commit changed, as a push hook lists them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangedFiles {
    pub added: Vec<String>,
    pub modified: Vec<String>,
    pub removed: Vec<String>,
}

/// An entry of `GET /projects/:id/repository/commits/:sha/diff`.
#[derive(Debug, Clone, Deserialize)]
pub struct DiffEntry {
    pub old_path: String,
    pub new_path: String,
    #[serde(default)]
    pub new_file: bool,
    #[serde(default)]
    pub renamed_file: bool,
    #[serde(default)]
    pub deleted_file: bool,
}

impl ChangedFiles {
    /// A commit's diff entries as a push lists them (a renamed file: its old path removed, its
    /// new one added).
    pub fn of(diff: &[DiffEntry]) -> Self {
        let mut files = Self::default();
        for entry in diff {
            if entry.new_file {
                files.added.push(entry.new_path.clone());
            } else if entry.deleted_file {
                files.removed.push(entry.old_path.clone());
            } else if entry.renamed_file {
                files.removed.push(entry.old_path.clone());
                files.added.push(entry.new_path.clone());
            } else {
                files.modified.push(entry.new_path.clone());
            }
        }
        files
    }
}

impl Commit {
    /// Its first parent, when the answer lists them.
    pub fn first_parent(&self) -> Option<&str> {
        self.parent_ids.as_ref()?.first().map(String::as_str)
    }
}

/// `GET /projects/:id/issues`.
#[derive(Debug, Clone, Deserialize)]
pub struct Issue {
    pub id: u64,
    pub iid: u64,
    pub title: String,
    pub description: Option<String>,
    /// `opened`, `closed`.
    pub state: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub labels: Vec<String>,
    pub web_url: String,
    /// `issue`, `incident`, `test_case`, `task`.
    pub issue_type: Option<String>,
    pub severity: Option<String>,
    #[serde(default)]
    pub confidential: bool,
    pub author: Option<User>,
}

impl Issue {
    /// Whether GitLab says it is an incident (its type, not a label).
    pub fn typed_incident(&self) -> bool {
        self.issue_type
            .as_deref()
            .is_some_and(|kind| kind.eq_ignore_ascii_case("incident"))
    }
}

/// `GET /projects/:id/pipelines` (the list: what decides whether it is read whole).
#[derive(Debug, Clone, Deserialize)]
pub struct PipelineListed {
    pub id: u64,
    pub status: String,
    pub updated_at: DateTime<Utc>,
}

/// `GET /projects/:id/pipelines/:pipeline_id`.
#[derive(Debug, Clone, Deserialize)]
pub struct Pipeline {
    pub id: u64,
    pub iid: Option<u64>,
    pub name: Option<String>,
    pub sha: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
    #[serde(default)]
    pub tag: bool,
    pub before_sha: Option<String>,
    pub source: Option<String>,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration: Option<u64>,
    pub queued_duration: Option<f64>,
    pub web_url: String,
    pub user: Option<User>,
}

impl Pipeline {
    /// The merge request a pipeline ran for, from its ref (`refs/merge-requests/<iid>/head`).
    pub fn merge_request_iid(&self) -> Option<u64> {
        self.git_ref
            .strip_prefix("refs/merge-requests/")?
            .split('/')
            .next()?
            .parse()
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_missing_or_wrong_field_is_named_with_the_endpoint() {
        let deployment = json!({"id": 1, "sha": "s", "status": "success",
                                "updated_at": "2025-03-03T14:00:00Z"});
        let error = read::<Deployment>(&deployment, "/projects/a/b/deployments")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.contains("/projects/a/b/deployments") && error.contains("environment"),
            "{error}"
        );
        let merge = json!({"id": 1, "iid": 2, "title": "t", "state": "merged",
                           "created_at": "yesterday", "updated_at": "2025-03-03T14:00:00Z",
                           "source_branch": "f", "target_branch": "main", "web_url": "u"});
        let error = read::<MergeRequest>(&merge, "/projects/a/b/merge_requests")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("created_at"), "{error}");
    }

    #[test]
    fn pipelines_of_merge_requests_name_them_by_their_ref() {
        let pipeline = |git_ref: &str| -> Option<Pipeline> {
            serde_json::from_value(json!({
                "id": 1, "sha": "s", "ref": git_ref, "status": "success",
                "created_at": "2025-03-03T14:00:00Z", "web_url": "u",
            }))
            .ok()
        };
        let iid = |git_ref: &str| pipeline(git_ref).and_then(|p| p.merge_request_iid());
        assert_eq!(iid("refs/merge-requests/7/head"), Some(7));
        assert_eq!(iid("main"), None);
    }
}
