//! GitHub: Knative GitHubSource CloudEvents (`dev.knative.source.github.<event>`) and GitHub
//! webhooks wrapped the same way by `POST /webhooks/github` -> changes, deployments, pipeline
//! runs, incidents and releases.
//!
//! # Input
//!
//! CloudEvents whose `type` is [`TYPE_PREFIX`] followed by the GitHub event name (the
//! `X-GitHub-Event` header) and whose `data` is the webhook payload. Knative's GitHubSource sends
//! them, and so does the webhook adapter (`dora_sources::github::webhook`). The transformer reads
//! only `type` and `data` (and `time` as a last resort for a timestamp), so both ways in give the
//! same CDEvents.
//!
//! # Output (CDEvents v0.5.1)
//!
//! | GitHub event | condition | CDEvent |
//! |---|---|---|
//! | `push` | a branch (`refs/heads/*`), not deleted, with commits | `change.updated` ([`CHANGE_UPDATED`]) |
//! | `pull_request` | `opened` | `change.created` ([`CHANGE_CREATED`]) |
//! | `pull_request` | `closed`, `merged: true` | `change.merged` ([`CHANGE_MERGED`]) |
//! | `pull_request` | `closed`, not merged | `change.abandoned` ([`CHANGE_ABANDONED`]) |
//! | `deployment_status` | state `success` | `service.deployed`, `customData.dora.outcome = "success"` |
//! | `deployment_status` | state `failure` or `error` | `service.deployed`, `customData.dora.outcome = "failure"` |
//! | `workflow_run` | `completed` | `pipelinerun.finished` ([`PIPELINERUN_FINISHED`]) |
//! | `issues` with the incident label | `opened`, `reopened`, `labeled` (with it) | `incident.detected` |
//! | `issues` with the incident label | `closed` | `incident.detected` + `incident.resolved` |
//! | `release` | `published` | `artifact.published` ([`ARTIFACT_PUBLISHED`]), `subject.id` = `pkg:github/<owner>/<repo>@<tag>` |
//! | anything else (`ping`, other actions, other events) | | nothing |
//!
//! ## Why `push` is a `change.updated`
//!
//! CDEvents v0.5.1 has no "commits pushed" event. A push is not a `change.merged` (that is what
//! the pull request reports, and a push to a feature branch merges nothing), and `branch.*` only
//! covers creating and deleting branches. `change.updated` ("a change has been updated, e.g. new
//! commits") fits: the change is the pushed range, `subject.id` = `<owner>/<repo>@<after>`. What
//! lead time needs travels in `customData.dora`: the commits with their timestamps, the new
//! revision (`after`), `before`, `ref`, `branch` and whether it is the default branch. Pushes
//! that carry no commits (branch created at an existing commit, branch deleted, tags) give
//! nothing: they say nothing about when code was written.
//!
//! ## Identity
//!
//! Every CDEvent id is `derived_id(["github", <repository URL>, <what>, <key>...])` with a key
//! taken from the payload, not from the delivery: the same fact delivered twice (a redelivery,
//! a repository hook and an organization hook, the webhook and a GitHubSource, or the `opened`
//! and `labeled` deliveries GitHub sends for an issue created with a label) gets the same id, and
//! the CDEvents store keeps the first. Keys:
//!
//! * push: `"push"`, ref, before, after;
//! * pull request: `"pull_request"`, number, `"created"` | `"merged"` | `"abandoned"` + `closed_at`
//!   (a pull request closed, reopened and closed again is abandoned twice);
//! * deployment: `"deployment"`, `deployment.id`: one GitHub deployment is one rollout, and its
//!   first terminal status (success, failure or error) decides how it went;
//! * workflow run: `"workflow_run"`, run id, `run_attempt` (a re-run is another pipeline run);
//! * incident: `"issue"`, number, `"detected"` | `"resolved"`: an issue is one incident, detected
//!   when it was created and resolved when it was first closed;
//! * release: `"release"`, release id.
//!
//! The context `source` and `subject.source` are the repository URL (`repository.html_url`, else
//! `https://github.com/<full_name>`), also for GitHubSources that watch a whole organization.
//!
//! ## Fields
//!
//! * Timestamps come from the payload (never the clock): push: `repository.pushed_at` (Unix
//!   seconds in webhooks, RFC 3339 from GitHubSource), else `head_commit.timestamp`; pull
//!   request: `created_at`, `merged_at`, `closed_at`; deployment: `deployment_status.updated_at`,
//!   else `created_at`; workflow run: `updated_at`, else `run_started_at`; incident: the issue's
//!   `created_at` (detected: also when the label came later) and `closed_at` (resolved);
//!   release: `published_at`. Missing: the CloudEvent `time`; without it an error.
//! * Deployments: `subject.id` (the service) = `deployment.payload.service` when the deployment
//!   payload is an object naming one, else the repository name; environment =
//!   `deployment.environment`; `artifactId` = `pkg:github/<owner>/<repo>@<sha>` ([`github_purl`]);
//!   `customData.dora.revision` = `deployment.sha`.
//! * Incidents: an issue is an incident when one of its labels is
//!   [`GithubSettings::incident_label`] (case-insensitive, as GitHub compares labels). Service =
//!   a `service:<name>` label, else the repository name; environment = an `env:<name>` or
//!   `environment:<name>` label, else [`GithubSettings::default_environment`] (`"production"`).
//! * Workflow run outcome, from `conclusion` ([`run_outcome`]): `success`, `neutral` -> success;
//!   `failure`, `timed_out` -> failure; `cancelled`, `skipped`, `stale`, `action_required` ->
//!   cancel; `startup_failure` -> error. Another value is an error, so that a new conclusion
//!   shows up as transform failures instead of a silently wrong outcome.
//! * `customData.dora` carries what the calculators read (`repository` = `<owner>/<repo>`,
//!   `revision`, `commits` = `[{"sha", "timestamp", "message"}]`, `merge_sha`, `created_at`,
//!   `merged_at`, `outcome`, ...); `customData.github` carries GitHub details (numbers, URLs).
//!   Times in `customData` are RFC 3339 in UTC.
//!
//! Malformed payloads of the events above (no `repository.full_name`, a pull request without
//! `number`, an unparsable timestamp, ...) are a [`TransformError`] naming the field.

use dora_model::cdevent::{
    ArtifactContent, Content, PipelineRunContent, Reference, RunFields, ServiceContent,
};
use dora_model::cloudevent::CloudEvent;
use dora_model::time::format_rfc3339;
use serde_json::{json, Map, Value};

use super::payload;
use crate::code_host::{
    default_environment, label_value, listed_commits, team_label, CodeHost, CodeHostSettings,
    CodeHostTransformer, IncidentIssue, Push, Repository, RepositoryFact,
};
use crate::common::{
    insert_some, is_http_url, missing, payload, percent_encode, read, time_or_event_time,
};
use crate::transform::{Emitted, TransformError, SERVICE_DEPLOYED};
pub use crate::transform::{
    ARTIFACT_PUBLISHED, CHANGE_ABANDONED, CHANGE_CREATED, CHANGE_MERGED, CHANGE_UPDATED,
    INCIDENT_DETECTED, INCIDENT_RESOLVED, PIPELINERUN_FINISHED,
};

/// The CloudEvent type prefix of GitHub events (GitHubSource and `POST /webhooks/github`).
pub const TYPE_PREFIX: &str = "dev.knative.source.github.";

pub use crate::code_host::DEFAULT_ENVIRONMENT;

/// `[sources.github]` in the configuration.
pub type GithubSettings = CodeHostSettings;

/// The `github` transformer.
pub type GithubTransformer = CodeHostTransformer<super::Github>;

impl CodeHost for super::Github {
    const NAME: &'static str = "github";
    const TYPE_PREFIX: &'static str = TYPE_PREFIX;

    fn cdevents(
        settings: &GithubSettings,
        github_event: &str,
        event: &CloudEvent,
    ) -> Result<Vec<Emitted>, TransformError> {
        match github_event {
            "push" => push(settings, event, payload(event)?),
            "pull_request" => pull_request(settings, payload(event)?),
            "deployment_status" => deployment_status(event, payload(event)?),
            "workflow_run" => workflow_run(event, payload(event)?),
            "issues" => issues(settings, event, payload(event)?),
            "release" => release(event, payload(event)?),
            // `ping`, `deployment` (its statuses say how it went), and everything else.
            _ => Ok(Vec::new()),
        }
    }
}

/// The repository of an event: `full_name` must be `<owner>/<name>`.
fn repository<'a>(repository: &payload::Repository<'a>) -> Result<Repository<'a>, TransformError> {
    let full_name = repository.full_name;
    let (_, name) = full_name
        .split_once('/')
        .filter(|(owner, name)| !owner.is_empty() && !name.is_empty() && !name.contains('/'))
        .ok_or_else(|| {
            TransformError::new(format!(
                "data.repository.full_name {full_name:?} is not <owner>/<name>"
            ))
        })?;
    let url = match repository.html_url {
        Some(url) if is_http_url(url) => url.trim_end_matches('/').to_owned(),
        _ => format!("https://github.com/{full_name}"),
    };
    let server = url
        .strip_suffix(full_name)
        .and_then(|rest| rest.strip_suffix('/'))
        .filter(|server| is_http_url(server))
        .unwrap_or("https://github.com")
        .to_owned();
    Ok(Repository {
        tool: "github",
        path: full_name,
        name,
        url,
        server,
    })
}

// ---------------------------------------------------------------------------------------------
// push

/// `push` to a branch with commits -> `change.updated` carrying the commits (one per service
/// the commits touched, for a repository of `[[services]]`).
fn push(
    settings: &GithubSettings,
    event: &CloudEvent,
    data: &Value,
) -> Result<Vec<Emitted>, TransformError> {
    let kind: payload::PushRef = read(data)?;
    let git_ref = kind.git_ref;
    let Some(branch) = git_ref.strip_prefix("refs/heads/") else {
        // Tags (and any other ref) carry no new commits.
        return Ok(Vec::new());
    };
    if kind.deleted.unwrap_or(false) || kind.commits.is_none_or(|commits| commits.is_empty()) {
        return Ok(Vec::new());
    }
    let push: payload::Push = read(data)?;
    let repo = repository(&push.repository)?;
    let (before, after) = (push.before, push.after);

    let listed = listed_commits(&push.commits, after).listed;

    let head_time = push.head_commit.and_then(|head| head.timestamp);
    let timestamp = time_or_event_time(
        push.repository.pushed_at.or(head_time),
        event,
        &["data.repository.pushed_at", "data.head_commit.timestamp"],
    )?;
    let default_branch = push
        .repository
        .default_branch
        .or(push.repository.master_branch);

    let mut github = Map::new();
    insert_some(&mut github, "created", push.created);
    insert_some(&mut github, "forced", push.forced);
    insert_some(&mut github, "compare", push.compare);
    let pushed = Push {
        before,
        after,
        git_ref,
        branch,
        default_branch,
        commits: listed,
    };
    Ok(repo.push_cdevents(pushed, timestamp, github, &push.commits, &settings.services))
}

// ---------------------------------------------------------------------------------------------
// pull_request

/// `pull_request` opened -> `change.created`; closed -> `change.merged` or `change.abandoned`.
fn pull_request(settings: &GithubSettings, data: &Value) -> Result<Vec<Emitted>, TransformError> {
    let action = read::<payload::Action>(data)?.action;
    if action != "opened" && action != "closed" {
        return Ok(Vec::new());
    }
    let payload::PullRequestEvent {
        repository: repo,
        pull_request: pull,
    } = read(data)?;
    let repo = repository(&repo)?;
    let number = pull.number.to_string();

    let mut dora = repo.dora();
    dora.detail("number", pull.number)
        .detail("headSha", pull.head.sha);
    insert_some(&mut dora.details, "headRef", pull.head.git_ref);
    insert_some(
        &mut dora.details,
        "baseRef",
        pull.base.and_then(|base| base.git_ref),
    );
    dora.created_at = Some(format_rfc3339(&pull.created_at));
    let labels = pull.labels.as_deref().unwrap_or_default();
    dora.team = team_label(labels, "name", &settings.team_label_prefix);
    let mut github = Map::new();
    insert_some(&mut github, "url", pull.html_url);
    insert_some(&mut github, "commit_count", pull.commits);

    let mut description = None;
    let subject_id = format!("{}#{number}", repo.path);
    let (event_type, id, timestamp) = if action == "opened" {
        description = pull.title;
        (
            CHANGE_CREATED,
            repo.id(&["pull_request", &number, "created"]),
            pull.created_at,
        )
    } else if pull.merged.unwrap_or(false) {
        let merged_at = pull
            .merged_at
            .ok_or_else(|| missing("data.pull_request.merged_at"))?;
        let merge_sha = pull
            .merge_commit_sha
            .ok_or_else(|| missing("data.pull_request.merge_commit_sha"))?;
        dora.merge_sha = Some(merge_sha.to_owned());
        dora.merged_at = Some(format_rfc3339(&merged_at));
        (
            CHANGE_MERGED,
            repo.id(&["pull_request", &number, "merged"]),
            merged_at,
        )
    } else {
        let closed_at = pull
            .closed_at
            .ok_or_else(|| missing("data.pull_request.closed_at"))?;
        let closed_text = format_rfc3339(&closed_at);
        dora.detail("closedAt", closed_text.as_str());
        (
            CHANGE_ABANDONED,
            repo.id(&["pull_request", &number, "abandoned", &closed_text]),
            closed_at,
        )
    };
    Ok(vec![repo.cdevent(RepositoryFact {
        event_type,
        id,
        timestamp,
        subject_id,
        content: repo.change_content(description),
        dora,
        own: github,
    })])
}

// ---------------------------------------------------------------------------------------------
// deployment_status

/// `deployment_status` success / failure / error -> `service.deployed` with its outcome.
fn deployment_status(event: &CloudEvent, data: &Value) -> Result<Vec<Emitted>, TransformError> {
    let state = read::<payload::DeploymentState>(data)?
        .deployment_status
        .state;
    let outcome = match state {
        "success" => "success",
        "failure" | "error" => "failure",
        // pending, queued, in_progress, inactive, ...: not (yet) a rollout that happened.
        _ => return Ok(Vec::new()),
    };
    let payload::DeploymentStatusEvent {
        repository: repo,
        deployment,
        deployment_status: status,
    } = read(data)?;
    let repo = repository(&repo)?;
    let sha = deployment.sha;
    let environment = deployment
        .environment
        .or(status.environment)
        .ok_or_else(|| missing("data.deployment.environment"))?;
    let service = deployment.service.unwrap_or(repo.name);
    let timestamp = time_or_event_time(
        status.updated_at.or(status.created_at),
        event,
        &[
            "data.deployment_status.updated_at",
            "data.deployment_status.created_at",
        ],
    )?;

    let content = Content::Service(ServiceContent {
        environment: Some(Reference::within(environment, &repo.url)),
        artifact_id: Some(github_purl(repo.owner(), repo.name, sha)),
    });
    let mut dora = repo.dora();
    dora.revision = Some(sha.to_owned());
    dora.outcome = Some(outcome.to_owned());
    if let Some(git_ref) = deployment.git_ref {
        dora.detail("ref", git_ref);
    }
    let mut github = Map::new();
    github.insert("deployment_id".into(), json!(deployment.id));
    github.insert("state".into(), json!(state));
    insert_some(&mut github, "task", deployment.task);
    insert_some(&mut github, "description", status.description);
    insert_some(&mut github, "log_url", status.log_url);
    insert_some(&mut github, "target_url", status.target_url);
    Ok(vec![repo.cdevent(RepositoryFact {
        event_type: SERVICE_DEPLOYED,
        id: repo.id(&["deployment", &deployment.id.to_string()]),
        timestamp,
        subject_id: service.to_owned(),
        content,
        dora,
        own: github,
    })])
}

/// The purl of a commit of a GitHub repository: `pkg:github/<owner>/<repo>@<sha>` (the purl
/// `github` type: owner and name are case-insensitive, so lowercased).
pub fn github_purl(owner: &str, name: &str, version: &str) -> String {
    format!(
        "pkg:github/{}/{}@{}",
        percent_encode(&owner.to_lowercase(), b""),
        percent_encode(&name.to_lowercase(), b""),
        percent_encode(version, b"")
    )
}

// ---------------------------------------------------------------------------------------------
// workflow_run

/// The `pipelinerun.finished` outcome of a workflow run's `conclusion`; `None` for a value GitHub
/// did not document.
pub fn run_outcome(conclusion: &str) -> Option<&'static str> {
    Some(match conclusion {
        "success" | "neutral" => "success",
        "failure" | "timed_out" => "failure",
        "cancelled" | "skipped" | "stale" | "action_required" => "cancel",
        "startup_failure" => "error",
        _ => return None,
    })
}

/// `workflow_run` completed -> `pipelinerun.finished`.
fn workflow_run(event: &CloudEvent, data: &Value) -> Result<Vec<Emitted>, TransformError> {
    if read::<payload::Action>(data)?.action != "completed" {
        return Ok(Vec::new());
    }
    let payload::WorkflowRunEvent {
        repository: repo,
        workflow_run: run,
        workflow,
    } = read(data)?;
    let repo = repository(&repo)?;
    let run_id = run.id.to_string();
    let attempt = run.run_attempt.unwrap_or(1);
    let conclusion = run.conclusion;
    let outcome = run_outcome(conclusion).ok_or_else(|| {
        TransformError::new(format!(
            "data.workflow_run.conclusion {conclusion:?} is not a known workflow run conclusion"
        ))
    })?;
    let timestamp = time_or_event_time(
        run.updated_at.or(run.run_started_at),
        event,
        &[
            "data.workflow_run.updated_at",
            "data.workflow_run.run_started_at",
        ],
    )?;
    let name = run
        .name
        .or(workflow.and_then(|workflow| workflow.name))
        .or(run.path);

    let url = run.html_url.filter(|u| is_http_url(u));
    let content = Content::PipelineRun(PipelineRunContent {
        pipeline_name: name.map(str::to_owned),
        run: RunFields {
            uri: url.map(str::to_owned),
            outcome: Some(outcome.to_owned()),
            errors: None,
        },
    });
    let mut dora = repo.dora();
    dora.revision = run.head_sha.map(str::to_owned);
    dora.outcome = Some(outcome.to_owned());
    if let Some(branch) = run.head_branch {
        dora.detail("branch", branch);
    }
    if let Some(started) = &run.run_started_at {
        dora.detail("startedAt", format_rfc3339(started));
    }
    let mut github = Map::new();
    github.insert("run_id".into(), json!(run.id));
    github.insert("run_attempt".into(), json!(attempt));
    github.insert("conclusion".into(), json!(conclusion));
    insert_some(&mut github, "event", run.event);
    insert_some(&mut github, "workflow", run.path);
    Ok(vec![repo.cdevent(RepositoryFact {
        event_type: PIPELINERUN_FINISHED,
        id: repo.id(&["workflow_run", &run_id, &attempt.to_string()]),
        timestamp,
        subject_id: run_id.clone(),
        content,
        dora,
        own: github,
    })])
}

// ---------------------------------------------------------------------------------------------
// issues

/// `issues` carrying the incident label -> `incident.detected` (and `incident.resolved` once
/// closed).
fn issues(
    settings: &GithubSettings,
    event: &CloudEvent,
    data: &Value,
) -> Result<Vec<Emitted>, TransformError> {
    let action = read::<payload::Action>(data)?.action;
    let incident_label = settings.incident_label.trim();
    let is_incident_label = |name: &str| name.trim().eq_ignore_ascii_case(incident_label);
    if !matches!(action, "opened" | "reopened" | "closed" | "labeled") {
        return Ok(Vec::new());
    }
    let kind: payload::IssueLabels = read(data)?;
    let (state, labels) = match kind.issue {
        Some(issue) => (issue.state, issue.labels.unwrap_or_default()),
        None => (None, Vec::new()),
    };
    let (detect, resolve) = match action {
        "opened" | "reopened" => (true, false),
        "closed" => (true, true),
        _ => {
            let label = kind.label.ok_or_else(|| missing("data.label.name"))?;
            if !is_incident_label(label.name) {
                return Ok(Vec::new());
            }
            (true, state == Some("closed"))
        }
    };
    let labels: Vec<&str> = labels.into_iter().map(|label| label.0).collect();
    if incident_label.is_empty() || !labels.iter().any(|label| is_incident_label(label)) {
        return Ok(Vec::new());
    }
    let payload::IssuesEvent {
        repository: repo,
        issue,
    } = read(data)?;
    let repo = repository(&repo)?;
    let mut github = Map::new();
    github.insert("number".into(), json!(issue.number));
    insert_some(&mut github, "url", issue.html_url);
    let resolved_at = if resolve {
        Some(
            issue
                .closed_at
                .or(event.time)
                .ok_or_else(|| missing("data.issue.closed_at"))?,
        )
    } else {
        None
    };
    let issue = IncidentIssue {
        number: issue.number.to_string(),
        title: issue.title,
        service: label_value(&labels, &["service"], false).unwrap_or(repo.name),
        environment: label_value(&labels, &["env", "environment"], false).unwrap_or(
            default_environment(&settings.default_environment, DEFAULT_ENVIRONMENT),
        ),
        created_at: issue.created_at,
        detect,
        resolved_at,
        own: github,
    };
    Ok(repo.incident_cdevents(issue))
}

// ---------------------------------------------------------------------------------------------
// release

/// `release` published -> `artifact.published` (`pkg:github/<owner>/<repo>@<tag>`).
fn release(event: &CloudEvent, data: &Value) -> Result<Vec<Emitted>, TransformError> {
    if read::<payload::Action>(data)?.action != "published" {
        // `created`/`released`/`prereleased` come with or around `published`: counted once.
        return Ok(Vec::new());
    }
    let payload::ReleaseEvent {
        repository: repo,
        release,
    } = read(data)?;
    let repo = repository(&repo)?;
    let tag = release.tag_name;
    let timestamp =
        time_or_event_time(release.published_at, event, &["data.release.published_at"])?;

    let content = Content::Artifact(ArtifactContent {
        user: release
            .author
            .and_then(|author| author.login)
            .map(str::to_owned),
        change: None,
    });
    let mut dora = repo.dora();
    dora.detail("tag", tag);
    if let Some(target) = release.target_commitish {
        dora.detail("targetCommitish", target);
        // Usually a branch name; a full commit SHA is the released revision.
        if target.len() == 40 && target.bytes().all(|b| b.is_ascii_hexdigit()) {
            dora.revision = Some(target.to_owned());
        }
    }
    let mut github = Map::new();
    github.insert("release_id".into(), json!(release.id));
    insert_some(&mut github, "name", release.name);
    insert_some(&mut github, "prerelease", release.prerelease);
    insert_some(&mut github, "url", release.html_url);
    Ok(vec![repo.cdevent(RepositoryFact {
        event_type: ARTIFACT_PUBLISHED,
        id: repo.id(&["release", &release.id.to_string()]),
        timestamp,
        subject_id: github_purl(repo.owner(), repo.name, tag),
        content,
        dora,
        own: github,
    })])
}

#[cfg(test)]
#[path = "transform_tests.rs"]
mod tests;
