//! The parts of GitLab's webhook payloads the transformer reads, as serde structs: only the fields
//! it uses (GitLab adds fields all the time; the others are ignored), read with
//! [`crate::common::read`] so that a wrong or missing field is an error naming it.
//!
//! An event whose other actions (or statuses) give nothing is read in steps: first what decides
//! whether it gives anything ([`Attributes`], [`PushRef`], [`Status`], [`IssueKind`]), then the rest, so that an ignored event never fails on
//! a field it lacks.

use chrono::{DateTime, Utc};
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};

use crate::code_host::{label_name, Commit};
use crate::common::de;

/// `project`, in every event the transformer reads.
#[derive(Deserialize)]
pub(crate) struct Project<'a> {
    /// `<namespace>/<project>`, nested groups included.
    #[serde(deserialize_with = "de::text")]
    pub(crate) path_with_namespace: &'a str,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) web_url: Option<&'a str>,
    /// What older payloads carry instead of `web_url`.
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) homepage: Option<&'a str>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) default_branch: Option<&'a str>,
    #[serde(default, deserialize_with = "de::lenient")]
    pub(crate) id: Option<u64>,
}

/// `object_attributes` alone: what decides whether a merge request, issue or pipeline event
/// gives anything ([`Action`], [`Status`]) is read first.
#[derive(Deserialize)]
pub(crate) struct Attributes<T> {
    pub(crate) object_attributes: T,
}

/// An event about one object of a project: a merge request ([`MergeRequest`]) or an issue
/// ([`Issue`]).
#[derive(Deserialize)]
pub(crate) struct ObjectEvent<'a, T> {
    #[serde(borrow)]
    pub(crate) project: Project<'a>,
    pub(crate) object_attributes: T,
}

/// `object_attributes.action` of merge request and issue events.
#[derive(Deserialize)]
pub(crate) struct Action<'a> {
    #[serde(deserialize_with = "de::text")]
    pub(crate) action: &'a str,
}

// ---------------------------------------------------------------------------------------------
// push

/// What decides whether a `push` gives anything: a branch, not deleted, with commits.
#[derive(Deserialize)]
pub(crate) struct PushRef<'a> {
    #[serde(rename = "ref", deserialize_with = "de::text")]
    pub(crate) git_ref: &'a str,
    /// All zeros when the branch was deleted.
    #[serde(deserialize_with = "de::text")]
    pub(crate) after: &'a str,
    pub(crate) commits: Option<Vec<IgnoredAny>>,
}

/// A `push` to a branch with commits.
#[derive(Deserialize)]
pub(crate) struct Push<'a> {
    #[serde(borrow)]
    pub(crate) project: Project<'a>,
    #[serde(deserialize_with = "de::text")]
    pub(crate) before: &'a str,
    #[serde(borrow)]
    pub(crate) commits: Vec<Commit<'a>>,
    #[serde(default, deserialize_with = "de::lenient")]
    pub(crate) total_commits_count: Option<u64>,
}

// ---------------------------------------------------------------------------------------------
// merge_request

/// `merge_request.object_attributes`.
#[derive(Deserialize)]
pub(crate) struct MergeRequest<'a> {
    pub(crate) iid: u64,
    #[serde(deserialize_with = "de::time")]
    pub(crate) created_at: DateTime<Utc>,
    #[serde(default, deserialize_with = "de::optional_time")]
    pub(crate) updated_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::optional_time")]
    pub(crate) merged_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::optional_time")]
    pub(crate) closed_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) title: Option<&'a str>,
    #[serde(borrow)]
    pub(crate) last_commit: Option<LastCommit<'a>>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) merge_commit_sha: Option<&'a str>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) squash_commit_sha: Option<&'a str>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) source_branch: Option<&'a str>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) target_branch: Option<&'a str>,
    #[serde(default, deserialize_with = "de::lenient")]
    pub(crate) id: Option<u64>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) url: Option<&'a str>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) state: Option<&'a str>,
    /// The labels (`{"title"}`), read when they are a list: the team label.
    #[serde(default, deserialize_with = "de::lenient")]
    pub(crate) labels: Option<Vec<serde_json::Value>>,
}

/// `merge_request.object_attributes.last_commit`: the head of the merge request.
#[derive(Deserialize)]
pub(crate) struct LastCommit<'a> {
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) id: Option<&'a str>,
}

// ---------------------------------------------------------------------------------------------
// pipeline

/// `status` (of a pipeline's `object_attributes`, or of a deployment).
#[derive(Deserialize)]
pub(crate) struct Status<'a> {
    #[serde(deserialize_with = "de::text")]
    pub(crate) status: &'a str,
}

/// A `pipeline` that finished.
#[derive(Deserialize)]
pub(crate) struct PipelineEvent<'a> {
    #[serde(borrow)]
    pub(crate) project: Project<'a>,
    #[serde(borrow)]
    pub(crate) object_attributes: Pipeline<'a>,
    pub(crate) merge_request: Option<PipelineMergeRequest>,
}

/// `pipeline.object_attributes`.
#[derive(Deserialize)]
pub(crate) struct Pipeline<'a> {
    pub(crate) id: u64,
    #[serde(default, deserialize_with = "de::optional_time")]
    pub(crate) finished_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::optional_time")]
    pub(crate) created_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) name: Option<&'a str>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) url: Option<&'a str>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) sha: Option<&'a str>,
    #[serde(rename = "ref", default, deserialize_with = "de::optional_text")]
    pub(crate) git_ref: Option<&'a str>,
    /// Whether `ref` is a tag.
    pub(crate) tag: Option<bool>,
    /// What started it (`push`, `merge_request_event`, `schedule`, ...).
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) source: Option<&'a str>,
    #[serde(default, deserialize_with = "de::lenient")]
    pub(crate) iid: Option<u64>,
    /// Seconds.
    #[serde(default, deserialize_with = "de::lenient")]
    pub(crate) duration: Option<u64>,
}

/// `pipeline.merge_request`: the merge request a pipeline ran for.
#[derive(Deserialize)]
pub(crate) struct PipelineMergeRequest {
    #[serde(default, deserialize_with = "de::lenient")]
    pub(crate) iid: Option<u64>,
}

// ---------------------------------------------------------------------------------------------
// deployment

/// A `deployment` that succeeded or failed (its `status` is read first as a [`Status`]).
#[derive(Deserialize)]
pub(crate) struct Deployment<'a> {
    #[serde(borrow)]
    pub(crate) project: Project<'a>,
    pub(crate) deployment_id: u64,
    #[serde(deserialize_with = "de::text")]
    pub(crate) environment: &'a str,
    #[serde(default, deserialize_with = "de::optional_time")]
    pub(crate) status_changed_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) short_sha: Option<&'a str>,
    /// `<project>/-/commit/<sha>`.
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) commit_url: Option<&'a str>,
    #[serde(rename = "ref", default, deserialize_with = "de::optional_text")]
    pub(crate) git_ref: Option<&'a str>,
    #[serde(default, deserialize_with = "de::lenient")]
    pub(crate) deployable_id: Option<u64>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) deployable_url: Option<&'a str>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) commit_title: Option<&'a str>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) environment_slug: Option<&'a str>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) environment_tier: Option<&'a str>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) environment_external_url: Option<&'a str>,
}

// ---------------------------------------------------------------------------------------------
// issue

/// What decides whether an `issue` is an incident: its labels (`labels`, else
/// `object_attributes.labels`), its type and its state.
#[derive(Deserialize)]
pub(crate) struct IssueKind<'a> {
    #[serde(borrow)]
    pub(crate) labels: Option<Vec<Label<'a>>>,
    #[serde(borrow)]
    pub(crate) object_attributes: IssueType<'a>,
}

/// `issue.object_attributes` of [`IssueKind`].
#[derive(Deserialize)]
pub(crate) struct IssueType<'a> {
    #[serde(borrow)]
    pub(crate) labels: Option<Vec<Label<'a>>>,
    /// `Incident` (current GitLab).
    #[serde(rename = "type", default, deserialize_with = "de::optional_text")]
    pub(crate) kind: Option<&'a str>,
    /// `incident` (older GitLab).
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) issue_type: Option<&'a str>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) state: Option<&'a str>,
}

/// A label's title: `{"title": ...}`, or (GitLabSource's payload types) the title itself.
pub(crate) struct Label<'a>(pub(crate) &'a str);

impl<'de: 'a, 'a> Deserialize<'de> for Label<'a> {
    fn deserialize<D: Deserializer<'de>>(data: D) -> Result<Self, D::Error> {
        label_name(data, "title").map(Label)
    }
}

/// `issue.object_attributes`.
#[derive(Deserialize)]
pub(crate) struct Issue<'a> {
    pub(crate) iid: u64,
    #[serde(deserialize_with = "de::time")]
    pub(crate) created_at: DateTime<Utc>,
    #[serde(default, deserialize_with = "de::optional_time")]
    pub(crate) closed_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::optional_time")]
    pub(crate) updated_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) title: Option<&'a str>,
    #[serde(default, deserialize_with = "de::lenient")]
    pub(crate) id: Option<u64>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) url: Option<&'a str>,
    #[serde(rename = "type", default, deserialize_with = "de::optional_text")]
    pub(crate) kind: Option<&'a str>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) severity: Option<&'a str>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) escalation_status: Option<&'a str>,
}
