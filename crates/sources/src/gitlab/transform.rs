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

use dora_model::cdevent::{
    Content, DoraData, PipelineRunContent, Reference, RunFields, ServiceContent,
};
use dora_model::cloudevent::CloudEvent;
use dora_model::time::format_rfc3339;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::payload;
use crate::code_host::{
    is_full_sha, listed_commits, team_label, CodeHost, CodeHostSettings, CodeHostTransformer,
    ListedCommits, Push, Repository, RepositoryFact,
};
use crate::common::{insert_some, is_http_url, payload, percent_encode, read, time_or_event_time};
use crate::transform::{
    Emitted, TransformError, CHANGE_ABANDONED, CHANGE_CREATED, CHANGE_MERGED, PIPELINERUN_FINISHED,
    SERVICE_DEPLOYED,
};

use super::incident::issue;

/// The CloudEvent type prefix of GitLab events (GitLabSource and `POST /webhooks/gitlab`).
pub const TYPE_PREFIX: &str = "dev.knative.sources.gitlab.";

pub use crate::code_host::DEFAULT_ENVIRONMENT;

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
pub type GitlabSettings = CodeHostSettings;

/// The `gitlab` transformer.
pub type GitlabTransformer = CodeHostTransformer<super::Gitlab>;

impl CodeHost for super::Gitlab {
    const NAME: &'static str = "gitlab";
    const TYPE_PREFIX: &'static str = TYPE_PREFIX;

    fn cdevents(
        settings: &GitlabSettings,
        gitlab_event: &str,
        event: &CloudEvent,
    ) -> Result<Vec<Emitted>, TransformError> {
        match gitlab_event {
            "push" => push(settings, event, payload(event)?),
            "merge_request" => merge_request(settings, event, payload(event)?),
            "pipeline" => pipeline(event, payload(event)?),
            "deployment" => deployment(event, payload(event)?),
            "issue" | "confidential_issue" => issue(settings, event, payload(event)?),
            // `tag_push`, `job` (`build`), `note`, `release`, `wiki_page`, `feature_flag`, ...
            _ => Ok(Vec::new()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The project

/// The project of an event: `path_with_namespace` must be `<namespace>/<project>`.
pub(crate) fn project<'a>(
    project: &payload::Project<'a>,
) -> Result<Repository<'a>, TransformError> {
    let path = project.path_with_namespace;
    Repository::at(
        "gitlab",
        path,
        &[project.web_url, project.homepage],
        "https://gitlab.com",
    )
    .ok_or_else(|| {
        TransformError::new(format!(
            "data.project.path_with_namespace {path:?} is not <namespace>/<project>"
        ))
    })
}

/// `object_attributes.action` of a merge request or issue event: what decides whether it gives
/// anything, read before the rest.
pub(crate) fn object_action(data: &Value) -> Result<&str, TransformError> {
    Ok(read::<payload::Attributes<payload::Action>>(data)?
        .object_attributes
        .action)
}

/// The project and the `object_attributes` (a merge request or an issue) of an event about one
/// object of a project.
pub(crate) fn project_object<'a, T: Deserialize<'a>>(
    data: &'a Value,
) -> Result<(Repository<'a>, T), TransformError> {
    let payload::ObjectEvent {
        project: payload_project,
        object_attributes,
    } = read::<payload::ObjectEvent<T>>(data)?;
    Ok((project(&payload_project)?, object_attributes))
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

// ---------------------------------------------------------------------------------------------
// push

/// `push` to a branch with commits -> `change.updated` carrying the commits (one per service
/// the commits touched, for a project of `[[services]]`).
fn push(
    settings: &GitlabSettings,
    event: &CloudEvent,
    data: &Value,
) -> Result<Vec<Emitted>, TransformError> {
    let kind: payload::PushRef = read(data)?;
    let (git_ref, after) = (kind.git_ref, kind.after);
    let Some(branch) = git_ref.strip_prefix("refs/heads/") else {
        // Tags come as `tag_push`; any other ref carries no new commits.
        return Ok(Vec::new());
    };
    if after.bytes().all(|b| b == b'0') {
        // A deleted branch.
        return Ok(Vec::new());
    }
    if kind.commits.is_none_or(|commits| commits.is_empty()) {
        return Ok(Vec::new());
    }
    let push: payload::Push = read(data)?;
    let project = project(&push.project)?;
    let before = push.before;

    let ListedCommits {
        listed,
        head_time,
        latest_time,
    } = listed_commits(&push.commits, after);
    let timestamp =
        match head_time.or(latest_time).or(event.time) {
            Some(time) => time,
            None => return Err(TransformError::new(
                "no timestamp: data.commits[].timestamp are missing and the CloudEvent has no time",
            )),
        };

    let mut gitlab = Map::new();
    insert_some(&mut gitlab, "totalCommitsCount", push.total_commits_count);
    insert_some(&mut gitlab, "projectId", push.project.id);
    let pushed = Push {
        before,
        after,
        git_ref,
        branch,
        default_branch: push.project.default_branch,
        commits: listed,
    };
    Ok(project.push_cdevents(pushed, timestamp, gitlab, &push.commits, &settings.services))
}

// ---------------------------------------------------------------------------------------------
// merge_request

/// `merge_request` open -> `change.created`; merge -> `change.merged`; close ->
/// `change.abandoned`.
fn merge_request(
    settings: &GitlabSettings,
    event: &CloudEvent,
    data: &Value,
) -> Result<Vec<Emitted>, TransformError> {
    let action = object_action(data)?;
    if !matches!(action, "open" | "merge" | "close") {
        // update, reopen, approved, unapproved, approval, unapproval, ...
        return Ok(Vec::new());
    }
    let (project, merge) = project_object::<payload::MergeRequest>(data)?;
    let iid = merge.iid.to_string();

    let (mut dora, mut gitlab) = merge_request_details(&merge, &project, settings);

    let mut description = None;
    let subject_id = format!("{}!{iid}", project.path);
    let (event_type, id, timestamp) = match action {
        "open" => {
            description = merge.title;
            (
                CHANGE_CREATED,
                project.id(&["merge_request", &iid, "created"]),
                merge.created_at,
            )
        }
        "merge" => {
            let merged_at = time_or_event_time(
                merge.merged_at.or(merge.updated_at),
                event,
                &[
                    "data.object_attributes.merged_at",
                    "data.object_attributes.updated_at",
                ],
            )?;
            let (from, merge_sha) = merge_sha(&merge)?;
            dora.merge_sha = Some(merge_sha.to_owned());
            dora.merged_at = Some(format_rfc3339(&merged_at));
            gitlab.insert("mergeShaFrom".into(), json!(from));
            (
                CHANGE_MERGED,
                project.id(&["merge_request", &iid, "merged"]),
                merged_at,
            )
        }
        _ => {
            let closed_at = time_or_event_time(
                merge.closed_at.or(merge.updated_at),
                event,
                &[
                    "data.object_attributes.closed_at",
                    "data.object_attributes.updated_at",
                ],
            )?;
            let closed_text = format_rfc3339(&closed_at);
            dora.detail("closedAt", closed_text.as_str());
            (
                CHANGE_ABANDONED,
                project.id(&["merge_request", &iid, "abandoned", &closed_text]),
                closed_at,
            )
        }
    };
    Ok(vec![project.cdevent(RepositoryFact {
        event_type,
        id,
        timestamp,
        subject_id,
        content: project.change_content(description),
        dora,
        own: gitlab,
    })])
}

/// `customData.dora` and `customData.gitlab` of a merge request's CDEvents, before what its
/// action adds.
fn merge_request_details(
    merge: &payload::MergeRequest<'_>,
    project: &Repository<'_>,
    settings: &GitlabSettings,
) -> (DoraData, Map<String, Value>) {
    let mut dora = project.dora();
    let labels = merge.labels.as_deref().unwrap_or_default();
    dora.team = team_label(labels, "title", &settings.team_label_prefix);
    dora.detail("number", merge.iid);
    insert_some(&mut dora.details, "headSha", head_sha(merge));
    insert_some(&mut dora.details, "sourceBranch", merge.source_branch);
    insert_some(&mut dora.details, "targetBranch", merge.target_branch);
    dora.created_at = Some(format_rfc3339(&merge.created_at));
    let mut gitlab = Map::new();
    insert_some(&mut gitlab, "mergeRequestId", merge.id);
    insert_some(&mut gitlab, "url", merge.url);
    insert_some(&mut gitlab, "state", merge.state);
    (dora, gitlab)
}

/// `last_commit.id`: the head of a merge request.
fn head_sha<'a>(merge: &payload::MergeRequest<'a>) -> Option<&'a str> {
    merge.last_commit.as_ref().and_then(|commit| commit.id)
}

/// The SHA a merge request landed as, and where it was read: `merge_commit_sha`, else
/// `squash_commit_sha`, else `last_commit.id` (a fast-forward merge).
fn merge_sha<'a>(
    merge: &payload::MergeRequest<'a>,
) -> Result<(&'static str, &'a str), TransformError> {
    [
        ("merge_commit_sha", merge.merge_commit_sha),
        ("squash_commit_sha", merge.squash_commit_sha),
        ("last_commit.id", head_sha(merge)),
    ]
    .into_iter()
    .find_map(|(from, sha)| Some((from, sha?)))
    .ok_or_else(|| {
        TransformError::new(
            "data.object_attributes.merge_commit_sha is missing (and there is no \
             squash_commit_sha or last_commit.id)",
        )
    })
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
fn pipeline(event: &CloudEvent, data: &Value) -> Result<Vec<Emitted>, TransformError> {
    let status = read::<payload::Attributes<payload::Status>>(data)?
        .object_attributes
        .status;
    if PIPELINE_NOT_DONE.contains(&status) {
        return Ok(Vec::new());
    }
    let outcome = pipeline_outcome(status).ok_or_else(|| {
        TransformError::new(format!(
            "data.object_attributes.status {status:?} is not a known pipeline status"
        ))
    })?;
    let payload::PipelineEvent {
        project: payload_project,
        object_attributes: run,
        merge_request,
    } = read(data)?;
    let project = project(&payload_project)?;
    let pipeline_id = run.id.to_string();
    let timestamp = time_or_event_time(
        run.finished_at,
        event,
        &["data.object_attributes.finished_at"],
    )?;
    let finished_text = run
        .finished_at
        .as_ref()
        .map(format_rfc3339)
        .unwrap_or_default();

    let name = run.name.unwrap_or(project.path);
    let uri = match run.url.filter(|u| is_http_url(u)) {
        Some(url) => url.to_owned(),
        None => format!("{}/-/pipelines/{pipeline_id}", project.url),
    };
    let content = Content::PipelineRun(PipelineRunContent {
        pipeline_name: Some(name.to_owned()),
        run: RunFields {
            uri: Some(uri),
            outcome: Some(outcome.to_owned()),
            errors: None,
        },
    });

    let mut dora = project.dora();
    dora.revision = run.sha.map(str::to_owned);
    if let Some(git_ref) = run.git_ref {
        let tag = run.tag.unwrap_or(false);
        dora.detail(if tag { "tag" } else { "branch" }, git_ref);
    }
    dora.outcome = Some(outcome.to_owned());
    if let Some(created) = &run.created_at {
        dora.created_at = Some(format_rfc3339(created));
    }
    if let Some(finished) = &run.finished_at {
        dora.detail("finishedAt", format_rfc3339(finished));
    }
    let mut gitlab = Map::new();
    gitlab.insert("pipelineId".into(), json!(run.id));
    insert_some(&mut gitlab, "iid", run.iid);
    gitlab.insert("status".into(), json!(status));
    insert_some(&mut gitlab, "source", run.source);
    insert_some(&mut gitlab, "durationSeconds", run.duration);
    insert_some(
        &mut gitlab,
        "mergeRequestIid",
        merge_request.and_then(|merge| merge.iid),
    );
    Ok(vec![project.cdevent(RepositoryFact {
        event_type: PIPELINERUN_FINISHED,
        id: project.id(&["pipeline", &pipeline_id, status, &finished_text]),
        timestamp,
        subject_id: pipeline_id.clone(),
        content,
        dora,
        own: gitlab,
    })])
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
fn deployment(event: &CloudEvent, data: &Value) -> Result<Vec<Emitted>, TransformError> {
    let status = read::<payload::Status>(data)?.status;
    let outcome = match status {
        "success" => "success",
        "failed" => "failure",
        // running, canceled, ...: not a rollout that happened (or not yet).
        _ => return Ok(Vec::new()),
    };
    let deployment: payload::Deployment = read(data)?;
    let project = project(&deployment.project)?;
    let environment = deployment.environment;
    let timestamp = time_or_event_time(
        deployment.status_changed_at,
        event,
        &["data.status_changed_at"],
    )?;
    let short_sha = deployment.short_sha;
    let revision = full_sha_of(deployment.commit_url, short_sha);

    let content = Content::Service(ServiceContent {
        environment: Some(Reference::within(environment, &project.url)),
        artifact_id: Some(gitlab_purl(
            project.path,
            revision.or(short_sha),
            &project.url,
        )),
    });
    let mut dora = project.dora();
    dora.revision = revision.map(str::to_owned);
    if let Some(short) = short_sha {
        dora.detail("shortRevision", short);
    }
    dora.outcome = Some(outcome.to_owned());
    if let Some(git_ref) = deployment.git_ref {
        dora.detail("ref", git_ref);
    }
    let mut gitlab = Map::new();
    gitlab.insert("deploymentId".into(), json!(deployment.deployment_id));
    insert_some(&mut gitlab, "deployableId", deployment.deployable_id);
    gitlab.insert("status".into(), json!(status));
    for (key, value) in [
        ("deployableUrl", deployment.deployable_url),
        ("commitUrl", deployment.commit_url),
        ("commitTitle", deployment.commit_title),
        ("environmentSlug", deployment.environment_slug),
        ("environmentTier", deployment.environment_tier),
        (
            "environmentExternalUrl",
            deployment.environment_external_url,
        ),
    ] {
        insert_some(&mut gitlab, key, value);
    }
    Ok(vec![project.cdevent(RepositoryFact {
        event_type: SERVICE_DEPLOYED,
        id: project.id(&["deployment", &deployment.deployment_id.to_string()]),
        timestamp,
        subject_id: project.name.to_owned(),
        content,
        dora,
        own: gitlab,
    })])
}

#[cfg(test)]
#[path = "transform_tests.rs"]
mod tests;
