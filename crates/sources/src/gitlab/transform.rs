//! GitLab: Knative GitLabSource CloudEvents (`dev.knative.sources.gitlab.<event>`) and GitLab
//! webhooks wrapped the same way by `POST /webhooks/gitlab` -> changes, deployments, pipeline
//! runs and incidents.
//!
//! # Input
//!
//! CloudEvents whose `type` is [`TYPE_PREFIX`] followed by the GitLab event name: the
//! `X-Gitlab-Event` header without its ` Hook` suffix, in snake case (`Push Hook` -> `push`,
//! `Merge Request Hook` -> `merge_request`, `Confidential Issue Hook` -> `confidential_issue`),
//! as Knative's GitLabSource names them. The `data` is the webhook payload. Knative's
//! GitLabSource sends them, and so does the webhook adapter (`dora_sources::gitlab::webhook`).
//! The transformer reads only `type` and `data` (and `time` as a last resort for a timestamp),
//! so both ways in give the same CDEvents.
//!
//! # Output (CDEvents v0.5.1)
//!
//! | GitLab event | condition | CDEvent |
//! |---|---|---|
//! | `push` | a branch (`refs/heads/*`), not deleted, with commits | `change.updated` ([`CHANGE_UPDATED`]) |
//! | `merge_request` | action `open` | `change.created` ([`CHANGE_CREATED`]) |
//! | `merge_request` | action `merge` | `change.merged` ([`CHANGE_MERGED`]) |
//! | `merge_request` | action `close` | `change.abandoned` ([`CHANGE_ABANDONED`]) |
//! | `pipeline` | status `success`, `failed`, `canceled`, `skipped` | `pipelinerun.finished` ([`PIPELINERUN_FINISHED`]) with its outcome |
//! | `deployment` | status `success` | `service.deployed`, `customData.dora.outcome = "success"` |
//! | `deployment` | status `failed` | `service.deployed`, `customData.dora.outcome = "failure"` |
//! | `issue`, `confidential_issue` that is an incident | action `open`, `reopen`, `update` | `incident.detected` ([`INCIDENT_DETECTED`]) |
//! | `issue`, `confidential_issue` that is an incident | action `close` (or `update` of a closed one) | `incident.detected` + `incident.resolved` ([`INCIDENT_RESOLVED`]) |
//! | anything else (`tag_push`, `job`, `note`, `release`, other actions and statuses) | | nothing |
//!
//! An issue is an incident when one of its labels is [`GitlabSettings::incident_label`]
//! (case-insensitive), or when GitLab says so: `object_attributes.type = "Incident"` (current
//! GitLab) or `object_attributes.issue_type = "incident"` (older GitLab).
//!
//! A push is a `change.updated` for the reasons given in the `github` transformer: CDEvents has
//! no "commits pushed" event; the change is the pushed range, `subject.id` =
//! `<path_with_namespace>@<after>`, and the commits with their timestamps travel in
//! `customData.dora.commits`.
//!
//! ## Timestamps
//!
//! GitLab writes times in three formats, sometimes within one payload: RFC 3339
//! (`2013-12-03T17:15:43Z`, commit timestamps `2012-01-03T23:36:29+02:00`),
//! `2016-08-12 15:23:28 UTC` (pipelines, older merge requests) and `2021-04-28 21:50:00 +0200`
//! (deployments). The shared parser (`dora_model::time::parse_timestamp`) reads all three;
//! every time dora-events writes is RFC 3339 in UTC. A value in none of them is a [`TransformError`] naming the field.
//!
//! Which time a CDEvent carries (never the clock; the CloudEvent `time` only when the payload has
//! none, and an error without it):
//!
//! * push: the timestamp of the pushed head commit (`after`), else the latest commit timestamp
//!   (the push hook carries no push time);
//! * merge request: `created_at` (open), `merged_at` else `updated_at` (merge), `closed_at` else
//!   `updated_at` (close);
//! * pipeline: `finished_at`; deployment: `status_changed_at`;
//! * incident: the issue's `created_at` (detected, also when it became an incident later) and
//!   `closed_at`, else `updated_at` of the `close` action (resolved).
//!
//! ## Revisions
//!
//! * push: `after`; merge: `merge_commit_sha`, else `squash_commit_sha`, else `last_commit.id`
//!   (a fast-forward merge creates no merge commit: the head of the merge request becomes the
//!   head of the target branch); which one is recorded in `customData.gitlab.mergeShaFrom`;
//!   pipeline: `sha`.
//! * deployment: the deployment hook carries only `short_sha` (8 hex digits). A short SHA never
//!   matches a full one (METRICS.md: SHAs compare whole), so it is kept as
//!   `customData.dora.shortRevision`, never as `revision`. The full SHA is in the hook's
//!   `commit_url` (`<project>/-/commit/<sha>`): when that URL ends in a full SHA (40 or 64 hex
//!   digits) that starts with `short_sha`, it becomes `customData.dora.revision`. Otherwise the
//!   deployment has no `revision` (it still counts for frequency and failure rate, but ships no
//!   change for lead time).
//!
//! ## Identity
//!
//! Every CDEvent id is `derived_id(["gitlab", <project URL>, <what>, <key>...])` with a key taken
//! from the payload, not from the delivery, so the same fact delivered twice (a retry, a project
//! and a group hook, the webhook and a GitLabSource) gets the same id and the CDEvents store keeps
//! the first:
//!
//! * push: `"push"`, ref, before, after;
//! * merge request: `"merge_request"`, `iid`, `"created"` | `"merged"` | `"abandoned"` + the close
//!   time;
//! * pipeline: `"pipeline"`, pipeline id, status, `finished_at` (a pipeline whose jobs are retried
//!   finishes again, later: another pipeline run);
//! * deployment: `"deployment"`, `deployment_id`: one GitLab deployment is one rollout, and its
//!   first `success` or `failed` status decides how it went;
//! * incident: `"issue"`, `iid`, `"detected"` | `"resolved"`.
//!
//! The context `source` and `subject.source` are the project URL (`project.web_url`, else
//! `project.homepage`, else `https://gitlab.com/<path_with_namespace>`).
//!
//! ## Fields
//!
//! * Service (deployment `subject.id`, incident `service.id`): the project's path (the last
//!   segment of `path_with_namespace`); an incident may name another with a `service::<name>`
//!   (scoped) or `service:<name>` label.
//! * Environment: deployment: `environment`; incident: an `env::<name>`, `environment::<name>`
//!   (or single-colon) label, else [`GitlabSettings::default_environment`] (`"production"`).
//! * Deployment `artifactId`: [`gitlab_purl`] of the project at the revision (else the short SHA):
//!   `pkg:generic/<namespace>/<project>@<sha>?vcs_url=git%2B<project URL>` (purl has no `gitlab`
//!   type; `generic` with `vcs_url` is its way to name a commit of a repository).
//! * Pipeline outcome ([`pipeline_outcome`]): `success` -> success, `failed` -> failure,
//!   `canceled`, `skipped` -> cancel. Statuses of a pipeline still going ([`PIPELINE_NOT_DONE`])
//!   give nothing; any other status is an error, so that a new status shows up as transform
//!   failures instead of a silently wrong outcome.
//! * `customData.dora` carries what the calculators read, in camelCase (METRICS.md, "customData
//!   conventions"): `repository` (`path_with_namespace`), `revision`, `shortRevision`, `commits`
//!   (`[{"sha", "timestamp", "message"}]`), `mergeSha`, `createdAt`, `mergedAt`, `outcome`, ...;
//!   `customData.gitlab` carries GitLab details (ids, URLs, raw statuses).
//!
//! Malformed payloads of the events above (no `project.path_with_namespace`, a merge request
//! without `iid`, an unparsable timestamp, ...) are a [`TransformError`] naming the field.

use chrono::{DateTime, Utc};
use dora_model::cloudevent::CloudEvent;
use dora_model::time::format_rfc3339;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::common::{
    self, display_path, field, first_time, is_http_url, named_time, number_value, optional_bool,
    optional_str, optional_time, payload, percent_encode, required_number, required_str,
    required_time,
};
use crate::transform::{
    TransformError, Transformer, CHANGE_ABANDONED, CHANGE_CREATED, CHANGE_MERGED, CHANGE_UPDATED,
    INCIDENT_DETECTED, INCIDENT_RESOLVED, PIPELINERUN_FINISHED, SERVICE_DEPLOYED,
};

/// The CloudEvent type prefix of GitLab events (GitLabSource and `POST /webhooks/gitlab`).
pub const TYPE_PREFIX: &str = "dev.knative.sources.gitlab.";

/// The environment of incidents without an `env::` label, by default.
pub const DEFAULT_ENVIRONMENT: &str = "production";

/// Pipeline statuses of a pipeline that has not finished: they give nothing.
pub const PIPELINE_NOT_DONE: &[&str] = &[
    "created",
    "waiting_for_resource",
    "preparing",
    "waiting_for_callback",
    "pending",
    "running",
    "canceling",
    "manual",
    "scheduled",
];

/// `[sources.gitlab]` in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GitlabSettings {
    /// Issues with this label are incidents (opened: detected, closed: resolved), besides
    /// GitLab's own incidents (issue type `incident`).
    pub incident_label: String,
    /// The environment of an incident without an `env::<name>` label (default `"production"`;
    /// the incident schemas require an environment).
    pub default_environment: String,
}

impl Default for GitlabSettings {
    fn default() -> Self {
        Self {
            incident_label: "incident".into(),
            default_environment: DEFAULT_ENVIRONMENT.into(),
        }
    }
}

/// The `gitlab` transformer.
pub struct GitlabTransformer {
    settings: GitlabSettings,
}

impl GitlabTransformer {
    pub fn new(settings: GitlabSettings) -> Self {
        Self { settings }
    }
}

impl Transformer for GitlabTransformer {
    fn name(&self) -> &str {
        "gitlab"
    }

    fn transform(&self, event: &CloudEvent) -> Result<Vec<Value>, TransformError> {
        let Some(gitlab_event) = event.event_type.strip_prefix(TYPE_PREFIX) else {
            return Ok(Vec::new());
        };
        match gitlab_event {
            "push" => push(event, payload(event)?),
            "merge_request" => merge_request(event, payload(event)?),
            "pipeline" => pipeline(event, payload(event)?),
            "deployment" => deployment(event, payload(event)?),
            "issue" | "confidential_issue" => issue(&self.settings, event, payload(event)?),
            // `tag_push`, `job` (`build`), `note`, `release`, `wiki_page`, `feature_flag`, ...
            _ => Ok(Vec::new()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The project

/// The project an event is about.
struct Project<'a> {
    /// `path_with_namespace`, e.g. `gitlab-org/gitlab-test` (nested groups included).
    path: &'a str,
    /// The project's own path: the last segment of `path`.
    name: &'a str,
    /// `project.web_url`, else `project.homepage`, else `https://gitlab.com/<path>`.
    url: String,
    /// The server: `url` without `/<path>`, else the origin of `url`.
    server: String,
}

impl Project<'_> {
    /// A deterministic CDEvent id for a fact about this project.
    fn id(&self, parts: &[&str]) -> String {
        common::repository_fact_id("gitlab", &self.url, parts)
    }

    /// `{"id": "<path_with_namespace>", "source": <server>}`: a CDEvents repository reference.
    fn reference(&self) -> Value {
        json!({"id": self.path, "source": self.server})
    }

    /// A CDEvent about this project: context and subject source are its URL.
    #[allow(clippy::too_many_arguments)]
    fn cdevent(
        &self,
        event_type: &'static str,
        id: String,
        timestamp: DateTime<Utc>,
        subject_id: String,
        content: Map<String, Value>,
        dora: Map<String, Value>,
        gitlab: Map<String, Value>,
    ) -> Value {
        common::repository_cdevent(
            "gitlab", &self.url, event_type, id, timestamp, subject_id, content, dora, gitlab,
        )
    }

    /// `customData.dora` with `repository` set.
    fn dora(&self) -> Map<String, Value> {
        let mut dora = Map::new();
        dora.insert("repository".into(), json!(self.path));
        dora
    }
}

/// `data.project`: `path_with_namespace` is required.
fn project(data: &Value) -> Result<Project<'_>, TransformError> {
    let path_field = ["project", "path_with_namespace"];
    let path = required_str(data, &path_field)?;
    let name = path
        .rsplit('/')
        .next()
        .filter(|name| !name.is_empty() && !path.starts_with('/') && !path.contains("//"))
        .ok_or_else(|| {
            TransformError::new(format!(
                "{} {path:?} is not <namespace>/<project>",
                display_path(&path_field)
            ))
        })?;
    let mut url = None;
    for field in [["project", "web_url"], ["project", "homepage"]] {
        if let Some(candidate) = optional_str(data, &field)?.filter(|u| is_http_url(u)) {
            url = Some(candidate.trim_end_matches('/').to_owned());
            break;
        }
    }
    let url = url.unwrap_or_else(|| format!("https://gitlab.com/{path}"));
    let server = url
        .strip_suffix(path)
        .and_then(|rest| rest.strip_suffix('/'))
        .filter(|server| is_http_url(server))
        .map_or_else(|| origin(&url), str::to_owned);
    Ok(Project {
        path,
        name,
        url,
        server,
    })
}

/// `scheme://host[:port]` of an http(s) URL.
fn origin(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split('/').next().unwrap_or(rest);
            format!("{scheme}://{host}")
        }
        None => url.to_owned(),
    }
}

/// The purl of a commit (or any version) of a GitLab project:
/// `pkg:generic/<namespace>/<project>@<version>?vcs_url=git%2B<project URL>`. Purl has no
/// `gitlab` type; `generic` with a `vcs_url` qualifier is how it names a commit of a repository
/// (the purl specification's own example: `pkg:generic/bitwarderl?vcs_url=git%2Bhttps://...`).
/// Without a version: no `@<version>`.
pub fn gitlab_purl(path_with_namespace: &str, version: Option<&str>, project_url: &str) -> String {
    let segments: Vec<String> = path_with_namespace
        .split('/')
        .filter(|segment| !segment.is_empty())
        .map(|segment| percent_encode(segment, b""))
        .collect();
    let mut purl = format!("pkg:generic/{}", segments.join("/"));
    if let Some(version) = version {
        purl.push('@');
        purl.push_str(&percent_encode(version, b""));
    }
    purl.push_str("?vcs_url=git%2B");
    purl.push_str(&percent_encode(project_url, b":/"));
    purl
}

/// A git SHA of 40 (SHA-1) or 64 (SHA-256) hex digits.
fn is_full_sha(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

// ---------------------------------------------------------------------------------------------
// push

/// `push` to a branch with commits -> `change.updated` carrying the commits.
fn push(event: &CloudEvent, data: &Value) -> Result<Vec<Value>, TransformError> {
    let git_ref = required_str(data, &["ref"])?;
    let Some(branch) = git_ref.strip_prefix("refs/heads/") else {
        // Tags come as `tag_push`; any other ref carries no new commits.
        return Ok(Vec::new());
    };
    let after = required_str(data, &["after"])?;
    if after.bytes().all(|b| b == b'0') {
        // A deleted branch.
        return Ok(Vec::new());
    }
    let commits = match field(data, &["commits"]) {
        None => return Ok(Vec::new()),
        Some(Value::Array(commits)) => commits,
        Some(_) => return Err(TransformError::new("data.commits is not an array")),
    };
    if commits.is_empty() {
        return Ok(Vec::new());
    }
    let project = project(data)?;
    let before = required_str(data, &["before"])?;

    let mut listed = Vec::with_capacity(commits.len());
    let mut head_time = None;
    let mut latest_time: Option<DateTime<Utc>> = None;
    for (index, commit) in commits.iter().enumerate() {
        let at = |key: &str| format!("data.commits[{index}].{key}");
        let sha = match commit.get("id") {
            Some(Value::String(sha)) if !sha.is_empty() => sha,
            Some(Value::String(_)) | Some(Value::Null) | None => {
                return Err(TransformError::new(format!("{} is missing", at("id"))))
            }
            Some(_) => return Err(TransformError::new(format!("{} is not a string", at("id")))),
        };
        let mut entry = Map::new();
        entry.insert("sha".into(), json!(sha));
        if let Some(time) = named_time(commit.get("timestamp"), || at("timestamp"))? {
            entry.insert("timestamp".into(), json!(format_rfc3339(&time)));
            if sha.as_str() == after {
                head_time = Some(time);
            }
            latest_time = Some(latest_time.map_or(time, |latest| latest.max(time)));
        }
        if let Some(Value::String(message)) = commit.get("message") {
            if let Some(first) = message.lines().next().filter(|line| !line.is_empty()) {
                entry.insert("message".into(), json!(first));
            }
        }
        listed.push(Value::Object(entry));
    }
    let timestamp =
        match head_time.or(latest_time).or(event.time) {
            Some(time) => time,
            None => return Err(TransformError::new(
                "no timestamp: data.commits[].timestamp are missing and the CloudEvent has no time",
            )),
        };

    let mut dora = project.dora();
    dora.insert("revision".into(), json!(after));
    dora.insert("before".into(), json!(before));
    dora.insert("after".into(), json!(after));
    dora.insert("ref".into(), json!(git_ref));
    dora.insert("branch".into(), json!(branch));
    if let Some(default) = optional_str(data, &["project", "default_branch"])? {
        dora.insert("defaultBranch".into(), json!(branch == default));
    }
    dora.insert("commits".into(), Value::Array(listed));
    let mut gitlab = Map::new();
    if let Some(total) = field(data, &["total_commits_count"]).filter(|v| v.is_u64()) {
        gitlab.insert("totalCommitsCount".into(), total.clone());
    }
    if let Some(id) = field(data, &["project", "id"]).filter(|v| v.is_u64()) {
        gitlab.insert("projectId".into(), id.clone());
    }

    let mut content = Map::new();
    content.insert("repository".into(), project.reference());
    Ok(vec![project.cdevent(
        CHANGE_UPDATED,
        project.id(&["push", git_ref, before, after]),
        timestamp,
        format!("{}@{after}", project.path),
        content,
        dora,
        gitlab,
    )])
}

// ---------------------------------------------------------------------------------------------
// merge_request

/// `merge_request` open -> `change.created`; merge -> `change.merged`; close ->
/// `change.abandoned`.
fn merge_request(event: &CloudEvent, data: &Value) -> Result<Vec<Value>, TransformError> {
    let action = required_str(data, &["object_attributes", "action"])?;
    if !matches!(action, "open" | "merge" | "close") {
        // update, reopen, approved, unapproved, approval, unapproval, ...
        return Ok(Vec::new());
    }
    let project = project(data)?;
    let iid = required_number(data, &["object_attributes", "iid"])?;
    let created_at = required_time(data, &["object_attributes", "created_at"])?;

    let mut dora = project.dora();
    dora.insert("number".into(), json!(number_value(&iid)));
    if let Some(head) = optional_str(data, &["object_attributes", "last_commit", "id"])? {
        dora.insert("headSha".into(), json!(head));
    }
    for (key, path) in [
        ("sourceBranch", ["object_attributes", "source_branch"]),
        ("targetBranch", ["object_attributes", "target_branch"]),
    ] {
        if let Some(value) = optional_str(data, &path)? {
            dora.insert(key.into(), json!(value));
        }
    }
    dora.insert("createdAt".into(), json!(format_rfc3339(&created_at)));
    let mut gitlab = Map::new();
    if let Some(id) = field(data, &["object_attributes", "id"]).filter(|v| v.is_u64()) {
        gitlab.insert("mergeRequestId".into(), id.clone());
    }
    for (key, path) in [
        ("url", ["object_attributes", "url"]),
        ("state", ["object_attributes", "state"]),
    ] {
        if let Some(value) = optional_str(data, &path)? {
            gitlab.insert(key.into(), json!(value));
        }
    }

    let mut content = Map::new();
    content.insert("repository".into(), project.reference());
    let subject_id = format!("{}!{iid}", project.path);
    let (event_type, id, timestamp) = match action {
        "open" => {
            if let Some(title) = optional_str(data, &["object_attributes", "title"])? {
                content.insert("description".into(), json!(title));
            }
            (
                CHANGE_CREATED,
                project.id(&["merge_request", &iid, "created"]),
                created_at,
            )
        }
        "merge" => {
            let merged_at = first_time(
                event,
                data,
                &[
                    &["object_attributes", "merged_at"],
                    &["object_attributes", "updated_at"],
                ],
            )?;
            let mut merge_sha = None;
            for (from, path) in [
                (
                    "merge_commit_sha",
                    ["object_attributes", "merge_commit_sha"],
                ),
                (
                    "squash_commit_sha",
                    ["object_attributes", "squash_commit_sha"],
                ),
            ] {
                if let Some(sha) = optional_str(data, &path)? {
                    merge_sha = Some((from, sha));
                    break;
                }
            }
            if merge_sha.is_none() {
                merge_sha = optional_str(data, &["object_attributes", "last_commit", "id"])?
                    .map(|sha| ("last_commit.id", sha));
            }
            let Some((from, merge_sha)) = merge_sha else {
                return Err(TransformError::new(
                    "data.object_attributes.merge_commit_sha is missing (and there is no \
                     squash_commit_sha or last_commit.id)",
                ));
            };
            dora.insert("mergeSha".into(), json!(merge_sha));
            dora.insert("mergedAt".into(), json!(format_rfc3339(&merged_at)));
            gitlab.insert("mergeShaFrom".into(), json!(from));
            (
                CHANGE_MERGED,
                project.id(&["merge_request", &iid, "merged"]),
                merged_at,
            )
        }
        _ => {
            let closed_at = first_time(
                event,
                data,
                &[
                    &["object_attributes", "closed_at"],
                    &["object_attributes", "updated_at"],
                ],
            )?;
            let closed_text = format_rfc3339(&closed_at);
            dora.insert("closedAt".into(), json!(closed_text));
            (
                CHANGE_ABANDONED,
                project.id(&["merge_request", &iid, "abandoned", &closed_text]),
                closed_at,
            )
        }
    };
    Ok(vec![project.cdevent(
        event_type, id, timestamp, subject_id, content, dora, gitlab,
    )])
}

// ---------------------------------------------------------------------------------------------
// pipeline

/// The `pipelinerun.finished` outcome of a finished pipeline's status; `None` for a status of a
/// pipeline still going ([`PIPELINE_NOT_DONE`]) and for statuses GitLab did not document.
pub fn pipeline_outcome(status: &str) -> Option<&'static str> {
    Some(match status {
        "success" => "success",
        "failed" => "failure",
        "canceled" | "skipped" => "cancel",
        _ => return None,
    })
}

/// `pipeline` with a final status -> `pipelinerun.finished`.
fn pipeline(event: &CloudEvent, data: &Value) -> Result<Vec<Value>, TransformError> {
    let path = ["object_attributes", "status"];
    let status = required_str(data, &path)?;
    if PIPELINE_NOT_DONE.contains(&status) {
        return Ok(Vec::new());
    }
    let outcome = pipeline_outcome(status).ok_or_else(|| {
        TransformError::new(format!(
            "{} {status:?} is not a known pipeline status",
            display_path(&path)
        ))
    })?;
    let project = project(data)?;
    let pipeline_id = required_number(data, &["object_attributes", "id"])?;
    let finished_at = optional_time(data, &["object_attributes", "finished_at"])?;
    let timestamp = first_time(event, data, &[&["object_attributes", "finished_at"]])?;
    let finished_text = finished_at.as_ref().map(format_rfc3339).unwrap_or_default();

    let mut content = Map::new();
    let name = optional_str(data, &["object_attributes", "name"])?.unwrap_or(project.path);
    content.insert("pipelineName".into(), json!(name));
    let uri = match optional_str(data, &["object_attributes", "url"])?.filter(|u| is_http_url(u)) {
        Some(url) => url.to_owned(),
        None => format!("{}/-/pipelines/{pipeline_id}", project.url),
    };
    content.insert("uri".into(), json!(uri));
    content.insert("outcome".into(), json!(outcome));

    let mut dora = project.dora();
    if let Some(sha) = optional_str(data, &["object_attributes", "sha"])? {
        dora.insert("revision".into(), json!(sha));
    }
    if let Some(git_ref) = optional_str(data, &["object_attributes", "ref"])? {
        let tag = optional_bool(data, &["object_attributes", "tag"])?.unwrap_or(false);
        dora.insert(if tag { "tag" } else { "branch" }.into(), json!(git_ref));
    }
    dora.insert("outcome".into(), json!(outcome));
    if let Some(created) = optional_time(data, &["object_attributes", "created_at"])? {
        dora.insert("createdAt".into(), json!(format_rfc3339(&created)));
    }
    if let Some(finished) = &finished_at {
        dora.insert("finishedAt".into(), json!(format_rfc3339(finished)));
    }
    let mut gitlab = Map::new();
    gitlab.insert("pipelineId".into(), json!(number_value(&pipeline_id)));
    if let Some(iid) = field(data, &["object_attributes", "iid"]).filter(|v| v.is_u64()) {
        gitlab.insert("iid".into(), iid.clone());
    }
    gitlab.insert("status".into(), json!(status));
    if let Some(source) = optional_str(data, &["object_attributes", "source"])? {
        gitlab.insert("source".into(), json!(source));
    }
    if let Some(duration) = field(data, &["object_attributes", "duration"]).filter(|v| v.is_u64()) {
        gitlab.insert("durationSeconds".into(), duration.clone());
    }
    if let Some(iid) = field(data, &["merge_request", "iid"]).filter(|v| v.is_u64()) {
        gitlab.insert("mergeRequestIid".into(), iid.clone());
    }
    Ok(vec![project.cdevent(
        PIPELINERUN_FINISHED,
        project.id(&["pipeline", &pipeline_id, status, &finished_text]),
        timestamp,
        pipeline_id.clone(),
        content,
        dora,
        gitlab,
    )])
}

// ---------------------------------------------------------------------------------------------
// deployment

/// The full SHA of a deployment hook: the last segment of `commit_url`
/// (`<project>/-/commit/<sha>`) when it is a full SHA that starts with `short_sha` (when given).
fn full_sha_of<'a>(commit_url: Option<&'a str>, short_sha: Option<&str>) -> Option<&'a str> {
    let (prefix, sha) = commit_url?.trim_end_matches('/').rsplit_once('/')?;
    if !prefix.ends_with("/commit") || !is_full_sha(sha) {
        return None;
    }
    match short_sha {
        Some(short)
            if !sha
                .to_ascii_lowercase()
                .starts_with(&short.to_ascii_lowercase()) =>
        {
            None
        }
        _ => Some(sha),
    }
}

/// `deployment` success / failed -> `service.deployed` with its outcome.
fn deployment(event: &CloudEvent, data: &Value) -> Result<Vec<Value>, TransformError> {
    let status = required_str(data, &["status"])?;
    let outcome = match status {
        "success" => "success",
        "failed" => "failure",
        // running, canceled, ...: not a rollout that happened (or not yet).
        _ => return Ok(Vec::new()),
    };
    let project = project(data)?;
    let deployment_id = required_number(data, &["deployment_id"])?;
    let environment = required_str(data, &["environment"])?;
    let timestamp = first_time(event, data, &[&["status_changed_at"]])?;
    let short_sha = optional_str(data, &["short_sha"])?;
    let commit_url = optional_str(data, &["commit_url"])?;
    let revision = full_sha_of(commit_url, short_sha);

    let mut content = Map::new();
    content.insert(
        "environment".into(),
        json!({"id": environment, "source": project.url}),
    );
    content.insert(
        "artifactId".into(),
        json!(gitlab_purl(
            project.path,
            revision.or(short_sha),
            &project.url
        )),
    );
    let mut dora = project.dora();
    if let Some(revision) = revision {
        dora.insert("revision".into(), json!(revision));
    }
    if let Some(short) = short_sha {
        dora.insert("shortRevision".into(), json!(short));
    }
    dora.insert("outcome".into(), json!(outcome));
    if let Some(git_ref) = optional_str(data, &["ref"])? {
        dora.insert("ref".into(), json!(git_ref));
    }
    let mut gitlab = Map::new();
    gitlab.insert("deploymentId".into(), json!(number_value(&deployment_id)));
    if let Some(id) = field(data, &["deployable_id"]).filter(|v| v.is_u64()) {
        gitlab.insert("deployableId".into(), id.clone());
    }
    gitlab.insert("status".into(), json!(status));
    for (key, path) in [
        ("deployableUrl", "deployable_url"),
        ("commitUrl", "commit_url"),
        ("commitTitle", "commit_title"),
        ("environmentSlug", "environment_slug"),
        ("environmentTier", "environment_tier"),
        ("environmentExternalUrl", "environment_external_url"),
    ] {
        if let Some(value) = optional_str(data, &[path])? {
            gitlab.insert(key.into(), json!(value));
        }
    }
    Ok(vec![project.cdevent(
        SERVICE_DEPLOYED,
        project.id(&["deployment", &deployment_id]),
        timestamp,
        project.name.to_owned(),
        content,
        dora,
        gitlab,
    )])
}

// ---------------------------------------------------------------------------------------------
// issue

/// `issue` (or `confidential_issue`) that is an incident -> `incident.detected` (and
/// `incident.resolved` once closed).
fn issue(
    settings: &GitlabSettings,
    event: &CloudEvent,
    data: &Value,
) -> Result<Vec<Value>, TransformError> {
    let action = required_str(data, &["object_attributes", "action"])?;
    let closed = optional_str(data, &["object_attributes", "state"])? == Some("closed");
    let (detect, resolve) = match action {
        "open" | "reopen" => (true, false),
        "close" => (true, true),
        // An edit, e.g. the incident label added later; of a closed issue: also resolved.
        "update" => (true, closed),
        _ => return Ok(Vec::new()),
    };
    let labels = issue_labels(data)?;
    let incident_label = settings.incident_label.trim();
    let labelled = !incident_label.is_empty()
        && labels
            .iter()
            .any(|label| label.trim().eq_ignore_ascii_case(incident_label));
    let typed = [
        ["object_attributes", "type"],
        ["object_attributes", "issue_type"],
    ]
    .iter()
    .map(|path| optional_str(data, path))
    .collect::<Result<Vec<_>, _>>()?
    .into_iter()
    .flatten()
    .any(|kind| kind.eq_ignore_ascii_case("incident"));
    if !labelled && !typed {
        return Ok(Vec::new());
    }
    let project = project(data)?;
    let iid = required_number(data, &["object_attributes", "iid"])?;
    let created_at = required_time(data, &["object_attributes", "created_at"])?;

    let scoped = |prefixes: &[&str]| {
        labels.iter().find_map(|label| {
            let (prefix, value) = label.split_once(':')?;
            let value = value.trim_start_matches(':').trim();
            (prefixes
                .iter()
                .any(|p| prefix.trim().eq_ignore_ascii_case(p))
                && !value.is_empty())
            .then_some(value)
        })
    };
    let service = scoped(&["service"]).unwrap_or(project.name);
    let default_environment = match settings.default_environment.trim() {
        "" => DEFAULT_ENVIRONMENT,
        environment => environment,
    };
    let environment = scoped(&["env", "environment"]).unwrap_or(default_environment);

    let mut content = Map::new();
    if let Some(title) = optional_str(data, &["object_attributes", "title"])? {
        content.insert("description".into(), json!(title));
    }
    content.insert(
        "environment".into(),
        json!({"id": environment, "source": project.url}),
    );
    content.insert(
        "service".into(),
        json!({"id": service, "source": project.url}),
    );
    let mut dora = project.dora();
    dora.insert("detectedAt".into(), json!(format_rfc3339(&created_at)));
    let mut gitlab = Map::new();
    gitlab.insert("iid".into(), json!(number_value(&iid)));
    if let Some(id) = field(data, &["object_attributes", "id"]).filter(|v| v.is_u64()) {
        gitlab.insert("issueId".into(), id.clone());
    }
    for (key, path) in [
        ("url", ["object_attributes", "url"]),
        ("type", ["object_attributes", "type"]),
        ("severity", ["object_attributes", "severity"]),
        (
            "escalationStatus",
            ["object_attributes", "escalation_status"],
        ),
    ] {
        if let Some(value) = optional_str(data, &path)? {
            gitlab.insert(key.into(), json!(value));
        }
    }
    let subject_id = format!("{}#{iid}", project.path);

    // The resolution time: `closed_at`, else (closing now) `updated_at`, else the CloudEvent time.
    let resolved_at = if resolve {
        let mut time = optional_time(data, &["object_attributes", "closed_at"])?;
        if time.is_none() && action == "close" {
            time = optional_time(data, &["object_attributes", "updated_at"])?;
        }
        match time.or(event.time) {
            Some(time) => Some(time),
            None if action == "close" => {
                return Err(TransformError::new(
                    "data.object_attributes.closed_at is missing",
                ))
            }
            // An edit of a closed issue that does not say when it was closed: detected only.
            None => None,
        }
    } else {
        None
    };

    let mut out = Vec::with_capacity(2);
    if detect {
        out.push(project.cdevent(
            INCIDENT_DETECTED,
            project.id(&["issue", &iid, "detected"]),
            created_at,
            subject_id.clone(),
            content.clone(),
            dora.clone(),
            gitlab.clone(),
        ));
    }
    if let Some(resolved_at) = resolved_at {
        dora.insert("resolvedAt".into(), json!(format_rfc3339(&resolved_at)));
        out.push(project.cdevent(
            INCIDENT_RESOLVED,
            project.id(&["issue", &iid, "resolved"]),
            resolved_at,
            subject_id,
            content,
            dora,
            gitlab,
        ));
    }
    Ok(out)
}

/// The titles of `data.labels`, else of `data.object_attributes.labels`.
fn issue_labels(data: &Value) -> Result<Vec<&str>, TransformError> {
    let (labels, at) = match field(data, &["labels"]) {
        Some(labels) => (labels, "data.labels"),
        None => match field(data, &["object_attributes", "labels"]) {
            Some(labels) => (labels, "data.object_attributes.labels"),
            None => return Ok(Vec::new()),
        },
    };
    let Value::Array(labels) = labels else {
        return Err(TransformError::new(format!("{at} is not an array")));
    };
    let mut titles = Vec::with_capacity(labels.len());
    for (index, label) in labels.iter().enumerate() {
        match label.get("title") {
            Some(Value::String(title)) => titles.push(title.as_str()),
            None if label.is_string() => titles.extend(label.as_str()),
            _ => {
                return Err(TransformError::new(format!(
                    "{at}[{index}].title is missing or not a string"
                )))
            }
        }
    }
    Ok(titles)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use dora_model::time::parse_rfc3339;
    use dora_spec::SpecRelease;

    fn cloud_event(gitlab_event: &str, data: Value) -> CloudEvent {
        CloudEvent::from_json_value(json!({
            "specversion": "1.0",
            "id": "0d3e2c5a-5b1e-4a5e-9a3c-6f3f1d2b9c01",
            "source": "https://gitlab.example.com/acme/shop",
            "type": format!("{TYPE_PREFIX}{gitlab_event}"),
            "datacontenttype": "application/json",
            "data": data,
        }))
        .unwrap()
    }

    fn run_with(
        settings: GitlabSettings,
        gitlab_event: &str,
        data: Value,
    ) -> Result<Vec<Value>, TransformError> {
        let out = GitlabTransformer::new(settings).transform(&cloud_event(gitlab_event, data))?;
        for document in &out {
            dora_spec::validate(document)
                .unwrap_or_else(|e| panic!("invalid CDEvent: {e}\n{document:#}"));
        }
        Ok(out)
    }

    fn run(gitlab_event: &str, data: Value) -> Result<Vec<Value>, TransformError> {
        run_with(GitlabSettings::default(), gitlab_event, data)
    }

    fn error(gitlab_event: &str, data: Value) -> String {
        run(gitlab_event, data).unwrap_err().reason
    }

    fn project_json() -> Value {
        json!({
            "id": 7,
            "name": "Shop",
            "path_with_namespace": "acme/platform/shop",
            "web_url": "https://gitlab.example.com/acme/platform/shop",
            "default_branch": "main"
        })
    }

    fn deployment_json(status: &str) -> Value {
        json!({
            "object_kind": "deployment",
            "status": status,
            "status_changed_at": "2024-01-02 04:04:05 +0100",
            "deployment_id": 15,
            "environment": "production",
            "project": project_json(),
            "short_sha": "279484c0",
            "commit_url": "https://gitlab.example.com/acme/platform/shop/-/commit/279484c09fbe69ededfced8c1bb6e6d24616b468",
            "ref": "main"
        })
    }

    fn issue_json(action: &str, labels: Value) -> Value {
        json!({
            "object_kind": "issue",
            "project": project_json(),
            "object_attributes": {"iid": 4, "title": "Checkout down", "action": action,
                                  "state": if action == "close" { "closed" } else { "opened" },
                                  "created_at": "2024-01-01 10:00:00 UTC",
                                  "updated_at": "2024-01-01 12:30:00 UTC"},
            "labels": labels
        })
    }

    #[test]
    fn the_three_gitlab_time_formats_parse_to_the_same_instant() {
        let data = json!({"rfc": "2016-08-12T17:23:28+02:00", "utc": "2016-08-12 15:23:28 UTC",
                          "offset": "2016-08-12 17:23:28 +0200", "bad": "2016-08-12 15:23:28 CEST"});
        for key in ["rfc", "utc", "offset"] {
            let time = required_time(&data, &[key]).unwrap();
            assert_eq!(format_rfc3339(&time), "2016-08-12T15:23:28Z", "{key}");
        }
        assert_eq!(
            optional_time(&data, &["bad"]).unwrap_err().reason,
            "data.bad \"2016-08-12 15:23:28 CEST\" is not a timestamp"
        );
    }

    #[test]
    fn type_constants_are_the_v0_5_1_types() {
        for (constant, subject, predicate) in [
            (CHANGE_CREATED, "change", "created"),
            (CHANGE_UPDATED, "change", "updated"),
            (CHANGE_MERGED, "change", "merged"),
            (CHANGE_ABANDONED, "change", "abandoned"),
            (PIPELINERUN_FINISHED, "pipelinerun", "finished"),
            (INCIDENT_DETECTED, "incident", "detected"),
            (INCIDENT_RESOLVED, "incident", "resolved"),
            (SERVICE_DEPLOYED, "service", "deployed"),
        ] {
            assert_eq!(
                dora_spec::type_for(SpecRelease::V0_5_1, subject, predicate),
                Some(constant)
            );
        }
    }

    #[test]
    fn settings_default_and_partial_configuration() {
        let settings = GitlabSettings::default();
        assert_eq!(settings.incident_label, "incident");
        assert_eq!(settings.default_environment, "production");
        let partial: GitlabSettings =
            serde_json::from_value(json!({"default_environment": "prod"})).unwrap();
        assert_eq!(partial.incident_label, "incident");
        assert_eq!(partial.default_environment, "prod");
        assert!(serde_json::from_value::<GitlabSettings>(json!({"token": "x"})).is_err());
    }

    #[test]
    fn purls_are_generic_with_the_project_as_vcs_url() {
        assert_eq!(
            gitlab_purl(
                "acme/platform/shop",
                Some("279484c0"),
                "https://gitlab.example.com/acme/platform/shop"
            ),
            "pkg:generic/acme/platform/shop@279484c0\
             ?vcs_url=git%2Bhttps://gitlab.example.com/acme/platform/shop"
        );
        assert_eq!(
            gitlab_purl("a b/c+d", None, "http://h:3000/a%20b/c+d"),
            "pkg:generic/a%20b/c%2Bd?vcs_url=git%2Bhttp://h:3000/a%2520b/c%2Bd"
        );
    }

    #[test]
    fn pipeline_statuses_map_to_outcomes_or_nothing() {
        for (status, outcome) in [
            ("success", "success"),
            ("failed", "failure"),
            ("canceled", "cancel"),
            ("skipped", "cancel"),
        ] {
            assert_eq!(pipeline_outcome(status), Some(outcome), "{status}");
            assert!(!PIPELINE_NOT_DONE.contains(&status));
        }
        for status in PIPELINE_NOT_DONE {
            assert_eq!(pipeline_outcome(status), None);
            let data = json!({"project": project_json(),
                "object_attributes": {"id": 1, "status": status}});
            assert!(run("pipeline", data).unwrap().is_empty(), "{status}");
        }
        let data = json!({"project": project_json(),
            "object_attributes": {"id": 1, "status": "exploded",
                                  "finished_at": "2024-01-01 00:00:00 UTC"}});
        assert_eq!(
            error("pipeline", data),
            "data.object_attributes.status \"exploded\" is not a known pipeline status"
        );
    }

    #[test]
    fn pipeline_without_name_or_url_uses_the_project() {
        let data = json!({"project": project_json(),
            "object_attributes": {"id": 9, "status": "failed", "ref": "v1.0", "tag": true,
                                  "sha": "abc", "finished_at": "2024-01-01 00:00:00 UTC"}});
        let out = run("pipeline", data).unwrap();
        let content = &out[0]["subject"]["content"];
        assert_eq!(content["pipelineName"], "acme/platform/shop");
        assert_eq!(
            content["uri"],
            "https://gitlab.example.com/acme/platform/shop/-/pipelines/9"
        );
        assert_eq!(content["outcome"], "failure");
        assert_eq!(out[0]["customData"]["dora"]["tag"], "v1.0");
        assert!(out[0]["customData"]["dora"].get("branch").is_none());
        assert_eq!(out[0]["subject"]["id"], "9");
    }

    #[test]
    fn deployment_revision_comes_from_the_commit_url_and_short_sha_stays_apart() {
        let out = run("deployment", deployment_json("success")).unwrap();
        assert_eq!(out.len(), 1);
        let document = &out[0];
        assert_eq!(document["context"]["type"], SERVICE_DEPLOYED);
        assert_eq!(document["subject"]["id"], "shop");
        assert_eq!(document["context"]["timestamp"], "2024-01-02T03:04:05Z");
        let dora = &document["customData"]["dora"];
        assert_eq!(dora["revision"], "279484c09fbe69ededfced8c1bb6e6d24616b468");
        assert_eq!(dora["shortRevision"], "279484c0");
        assert_eq!(dora["outcome"], "success");
        assert_eq!(
            document["subject"]["content"]["artifactId"],
            "pkg:generic/acme/platform/shop@279484c09fbe69ededfced8c1bb6e6d24616b468\
             ?vcs_url=git%2Bhttps://gitlab.example.com/acme/platform/shop"
        );

        // A commit URL that does not end in a full SHA, or in another commit: short SHA only.
        for url in [
            Some("https://gitlab.example.com/acme/platform/shop/-/commit/279484c0"),
            Some("https://gitlab.example.com/acme/platform/shop/-/commit/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            Some("https://gitlab.example.com/acme/platform/shop/-/tree/279484c09fbe69ededfced8c1bb6e6d24616b468"),
            None,
        ] {
            let mut data = deployment_json("success");
            match url {
                Some(url) => data["commit_url"] = json!(url),
                None => {
                    data.as_object_mut().unwrap().remove("commit_url");
                }
            }
            let out = run("deployment", data).unwrap();
            let dora = &out[0]["customData"]["dora"];
            assert!(dora.get("revision").is_none(), "{url:?}");
            assert_eq!(dora["shortRevision"], "279484c0");
            assert_eq!(
                out[0]["subject"]["content"]["artifactId"],
                "pkg:generic/acme/platform/shop@279484c0\
                 ?vcs_url=git%2Bhttps://gitlab.example.com/acme/platform/shop"
            );
            assert_eq!(out[0]["context"]["id"], document["context"]["id"]);
        }
    }

    #[test]
    fn deployment_statuses() {
        let success = run("deployment", deployment_json("success")).unwrap();
        let failed = run("deployment", deployment_json("failed")).unwrap();
        assert_eq!(failed[0]["customData"]["dora"]["outcome"], "failure");
        assert_eq!(failed[0]["context"]["id"], success[0]["context"]["id"]);
        for status in ["running", "canceled", "created", "blocked"] {
            assert!(run("deployment", deployment_json(status))
                .unwrap()
                .is_empty());
        }
    }

    #[test]
    fn malformed_payloads_name_the_field() {
        let mut data = deployment_json("success");
        data.as_object_mut().unwrap().remove("environment");
        assert_eq!(error("deployment", data), "data.environment is missing");
        let mut data = deployment_json("success");
        data["status_changed_at"] = json!("28/04/2021");
        assert_eq!(
            error("deployment", data),
            "data.status_changed_at \"28/04/2021\" is not a timestamp"
        );
        let mut data = deployment_json("success");
        data.as_object_mut().unwrap().remove("status_changed_at");
        assert_eq!(
            error("deployment", data),
            "no timestamp: data.status_changed_at is missing and the CloudEvent has no time"
        );
        let mut data = deployment_json("success");
        data.as_object_mut().unwrap().remove("project");
        assert_eq!(
            error("deployment", data),
            "data.project.path_with_namespace is missing"
        );
        let merge = json!({"project": project_json(),
            "object_attributes": {"action": "merge", "iid": "3",
                                  "created_at": "2024-01-01T00:00:00Z"}});
        assert_eq!(
            error("merge_request", merge),
            "data.object_attributes.iid is not a whole number"
        );
        let merge = json!({"project": project_json(),
            "object_attributes": {"action": "merge", "iid": 3,
                                  "created_at": "2024-01-01T00:00:00Z",
                                  "updated_at": "2024-01-02T00:00:00Z"}});
        assert!(error("merge_request", merge)
            .starts_with("data.object_attributes.merge_commit_sha is missing"));
        let push = json!({"ref": "refs/heads/main", "before": "a", "after": "b",
            "project": project_json(), "commits": [{"id": "b", "timestamp": "soon"}]});
        assert_eq!(
            error("push", push),
            "data.commits[0].timestamp \"soon\" is not a timestamp"
        );
        let push = json!({"ref": "refs/heads/main", "before": "a", "after": "b",
            "project": project_json(), "commits": [{"id": "b"}]});
        assert_eq!(
            error("push", push),
            "no timestamp: data.commits[].timestamp are missing and the CloudEvent has no time"
        );
        assert_eq!(error("push", json!([1])), "data is not a JSON object");
        let data = json!({"project": {"path_with_namespace": "/x"}, "status": "success",
            "deployment_id": 1, "environment": "e", "status_changed_at": "2024-01-01T00:00:00Z"});
        assert!(error("deployment", data).contains("is not <namespace>/<project>"));
    }

    #[test]
    fn merge_sha_falls_back_to_the_squash_then_the_head_commit() {
        let data = |attributes: Value| {
            let mut base = json!({"action": "merge", "iid": 3, "state": "merged",
                "created_at": "2024-01-01 00:00:00 UTC", "updated_at": "2024-01-02 00:00:00 UTC",
                "last_commit": {"id": "head"}});
            for (key, value) in attributes.as_object().unwrap() {
                base[key] = value.clone();
            }
            json!({"project": project_json(), "object_attributes": base})
        };
        let out = run(
            "merge_request",
            data(json!({"merge_commit_sha": "m", "squash_commit_sha": "s"})),
        )
        .unwrap();
        assert_eq!(out[0]["customData"]["dora"]["mergeSha"], "m");
        assert_eq!(
            out[0]["customData"]["gitlab"]["mergeShaFrom"],
            "merge_commit_sha"
        );
        let out = run(
            "merge_request",
            data(json!({"merge_commit_sha": null, "squash_commit_sha": "s"})),
        )
        .unwrap();
        assert_eq!(out[0]["customData"]["dora"]["mergeSha"], "s");
        let out = run("merge_request", data(json!({}))).unwrap();
        assert_eq!(out[0]["customData"]["dora"]["mergeSha"], "head");
        assert_eq!(
            out[0]["customData"]["gitlab"]["mergeShaFrom"],
            "last_commit.id"
        );
        assert_eq!(out[0]["context"]["timestamp"], "2024-01-02T00:00:00Z");
        assert_eq!(out[0]["subject"]["id"], "acme/platform/shop!3");
        for action in ["update", "reopen", "approved", "unapproved"] {
            assert!(run("merge_request", data(json!({"action": action})))
                .unwrap()
                .is_empty());
        }
    }

    #[test]
    fn incidents_by_label_or_by_type_with_scoped_labels() {
        let out = run(
            "issue",
            issue_json(
                "open",
                json!([{"title": "Incident"}, {"title": "env::staging"},
                       {"title": "service::billing"}]),
            ),
        )
        .unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0]["context"]["type"], INCIDENT_DETECTED);
        assert_eq!(out[0]["subject"]["content"]["environment"]["id"], "staging");
        assert_eq!(out[0]["subject"]["content"]["service"]["id"], "billing");
        assert_eq!(out[0]["context"]["timestamp"], "2024-01-01T10:00:00Z");
        let out = run(
            "issue",
            issue_json(
                "open",
                json!([{"title": "incident"}, {"title": "Environment: qa"}]),
            ),
        )
        .unwrap();
        assert_eq!(out[0]["subject"]["content"]["environment"]["id"], "qa");
        assert_eq!(out[0]["subject"]["content"]["service"]["id"], "shop");
        assert!(run("issue", issue_json("open", json!([{"title": "bug"}])))
            .unwrap()
            .is_empty());

        for (key, value) in [("type", "Incident"), ("issue_type", "incident")] {
            let mut data = issue_json("open", json!([]));
            data["object_attributes"][key] = json!(value);
            let out = run("confidential_issue", data).unwrap();
            assert_eq!(out.len(), 1, "{key}");
            assert_eq!(
                out[0]["subject"]["content"]["environment"]["id"],
                "production"
            );
        }

        let settings = GitlabSettings {
            incident_label: "sev1".into(),
            default_environment: "prod".into(),
        };
        let out = run_with(
            settings,
            "issue",
            issue_json("open", json!([{"title": "SEV1"}])),
        )
        .unwrap();
        assert_eq!(out[0]["subject"]["content"]["environment"]["id"], "prod");
    }

    #[test]
    fn closing_resolves_and_edits_of_closed_incidents_resolve_too() {
        let out = run("issue", issue_json("close", json!([{"title": "incident"}]))).unwrap();
        let types: Vec<&Value> = out.iter().map(|d| &d["context"]["type"]).collect();
        assert_eq!(types, [INCIDENT_DETECTED, INCIDENT_RESOLVED]);
        // No closed_at: the close's updated_at.
        assert_eq!(out[1]["context"]["timestamp"], "2024-01-01T12:30:00Z");
        assert_eq!(
            out[1]["customData"]["dora"]["resolvedAt"],
            "2024-01-01T12:30:00Z"
        );

        let mut data = issue_json("update", json!([{"title": "incident"}]));
        data["object_attributes"]["state"] = json!("closed");
        // An edit of a closed issue without closed_at: detected only.
        assert_eq!(run("issue", data.clone()).unwrap().len(), 1);
        data["object_attributes"]["closed_at"] = json!("2024-01-01 11:00:00 UTC");
        let out = run("issue", data).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[1]["context"]["timestamp"], "2024-01-01T11:00:00Z");

        let mut data = issue_json("close", json!([{"title": "incident"}]));
        data["object_attributes"]
            .as_object_mut()
            .unwrap()
            .remove("updated_at");
        assert_eq!(
            error("issue", data),
            "data.object_attributes.closed_at is missing"
        );
    }

    #[test]
    fn pushes_without_commits_tags_and_deletions_give_nothing() {
        let base = json!({"ref": "refs/heads/main", "before": "a", "after": "b",
            "project": project_json(), "commits": []});
        assert!(run("push", base.clone()).unwrap().is_empty());
        let mut tag = base.clone();
        tag["ref"] = json!("refs/tags/v1");
        tag["commits"] = json!([{"id": "b", "timestamp": "2024-01-01T00:00:00Z"}]);
        assert!(run("push", tag).unwrap().is_empty());
        let mut deleted = base;
        deleted["after"] = json!("0000000000000000000000000000000000000000");
        deleted["commits"] = json!([{"id": "b", "timestamp": "2024-01-01T00:00:00Z"}]);
        assert!(run("push", deleted).unwrap().is_empty());
    }

    #[test]
    fn push_time_is_the_head_commit_else_the_latest_else_the_cloudevent() {
        let mut data = json!({"ref": "refs/heads/dev", "before": "a", "after": "c",
            "project": {"path_with_namespace": "o/r"},
            "commits": [{"id": "c", "timestamp": "2024-05-01T10:00:00+02:00"},
                        {"id": "b", "timestamp": "2024-05-01 09:00:00 UTC"}]});
        let out = run("push", data.clone()).unwrap();
        assert_eq!(out[0]["context"]["timestamp"], "2024-05-01T08:00:00Z");
        // Without a web_url: gitlab.com.
        assert_eq!(out[0]["context"]["source"], "https://gitlab.com/o/r");
        assert!(out[0]["customData"]["dora"].get("defaultBranch").is_none());
        data["after"] = json!("d");
        let out = run("push", data.clone()).unwrap();
        assert_eq!(out[0]["context"]["timestamp"], "2024-05-01T09:00:00Z");
        data["commits"] = json!([{"id": "d"}]);
        let mut event = cloud_event("push", data);
        event.time = parse_rfc3339("2024-06-01T00:00:00Z");
        let out = GitlabTransformer::new(GitlabSettings::default())
            .transform(&event)
            .unwrap();
        assert_eq!(out[0]["context"]["timestamp"], "2024-06-01T00:00:00Z");
    }

    #[test]
    fn project_url_and_server() {
        let data = json!({"project": {"path_with_namespace": "g/s/p",
                                      "web_url": "http://10.0.0.1:3000/g/s/p/"}});
        let parsed = project(&data).unwrap();
        assert_eq!(parsed.url, "http://10.0.0.1:3000/g/s/p");
        assert_eq!(parsed.server, "http://10.0.0.1:3000");
        assert_eq!(parsed.name, "p");
        let data = json!({"project": {"path_with_namespace": "g/p",
                                      "web_url": "https://example.com/other/place"}});
        assert_eq!(project(&data).unwrap().server, "https://example.com");
        let data = json!({"project": {"path_with_namespace": "g/p", "web_url": "not a url",
                                      "homepage": "https://h.example/g/p"}});
        assert_eq!(project(&data).unwrap().url, "https://h.example/g/p");
    }

    #[test]
    fn unknown_events_and_foreign_types_give_nothing() {
        for event in [
            "tag_push",
            "job",
            "build",
            "note",
            "release",
            "wiki_page",
            "system",
        ] {
            assert!(run(event, json!({"object_kind": event}))
                .unwrap()
                .is_empty());
        }
        let foreign = CloudEvent::from_json_value(json!({
            "specversion": "1.0", "id": "1", "source": "x", "type": "com.example.push",
            "data": {"ref": 1}
        }))
        .unwrap();
        let transformer = GitlabTransformer::new(GitlabSettings::default());
        assert!(transformer.transform(&foreign).unwrap().is_empty());
    }
}
