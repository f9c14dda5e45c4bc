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
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::code_host::{
    default_environment, label_value, listed_commits, IncidentIssue, Push, Repository,
    RepositoryFact,
};
use crate::common::{
    copy_strings, display_path, field, first_time, is_http_url, number_value, optional_bool,
    optional_str, optional_time, payload, percent_encode, required_number, required_str,
    required_time,
};
use crate::transform::{Emitted, TransformError, Transformer, SERVICE_DEPLOYED};
pub use crate::transform::{
    ARTIFACT_PUBLISHED, CHANGE_ABANDONED, CHANGE_CREATED, CHANGE_MERGED, CHANGE_UPDATED,
    INCIDENT_DETECTED, INCIDENT_RESOLVED, PIPELINERUN_FINISHED,
};

/// The CloudEvent type prefix of GitHub events (GitHubSource and `POST /webhooks/github`).
pub const TYPE_PREFIX: &str = "dev.knative.source.github.";

/// The environment of incidents without an `env:` label, by default.
pub const DEFAULT_ENVIRONMENT: &str = "production";

/// `[sources.github]` in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GithubSettings {
    /// Issues with this label are incidents (opened: detected, closed: resolved).
    pub incident_label: String,
    /// The environment of an incident whose issue has no `env:<name>` or `environment:<name>`
    /// label (default `"production"`; the incident schemas require an environment).
    pub default_environment: String,
}

impl Default for GithubSettings {
    fn default() -> Self {
        Self {
            incident_label: "incident".into(),
            default_environment: DEFAULT_ENVIRONMENT.into(),
        }
    }
}

/// The `github` transformer.
pub struct GithubTransformer {
    settings: GithubSettings,
}

impl GithubTransformer {
    pub fn new(settings: GithubSettings) -> Self {
        Self { settings }
    }
}

impl Transformer for GithubTransformer {
    fn name(&self) -> &str {
        "github"
    }

    fn transform(&self, event: &CloudEvent) -> Result<Vec<Emitted>, TransformError> {
        let Some(github_event) = event.event_type.strip_prefix(TYPE_PREFIX) else {
            return Ok(Vec::new());
        };
        match github_event {
            "push" => push(event, payload(event)?),
            "pull_request" => pull_request(payload(event)?),
            "deployment_status" => deployment_status(event, payload(event)?),
            "workflow_run" => workflow_run(event, payload(event)?),
            "issues" => issues(&self.settings, event, payload(event)?),
            "release" => release(event, payload(event)?),
            // `ping`, `deployment` (its statuses say how it went), and everything else.
            _ => Ok(Vec::new()),
        }
    }
}

/// `data.repository`: `full_name` is required (`<owner>/<name>`).
fn repository(data: &Value) -> Result<Repository<'_>, TransformError> {
    let path = ["repository", "full_name"];
    let full_name = required_str(data, &path)?;
    let (_, name) = full_name
        .split_once('/')
        .filter(|(owner, name)| !owner.is_empty() && !name.is_empty() && !name.contains('/'))
        .ok_or_else(|| {
            TransformError::new(format!(
                "{} {full_name:?} is not <owner>/<name>",
                display_path(&path)
            ))
        })?;
    let url = match optional_str(data, &["repository", "html_url"])? {
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

/// `push` to a branch with commits -> `change.updated` carrying the commits.
fn push(event: &CloudEvent, data: &Value) -> Result<Vec<Emitted>, TransformError> {
    let git_ref = required_str(data, &["ref"])?;
    let Some(branch) = git_ref.strip_prefix("refs/heads/") else {
        // Tags (and any other ref) carry no new commits.
        return Ok(Vec::new());
    };
    if optional_bool(data, &["deleted"])?.unwrap_or(false) {
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
    let repo = repository(data)?;
    let before = required_str(data, &["before"])?;
    let after = required_str(data, &["after"])?;

    let listed = listed_commits(commits, after)?.listed;

    let timestamp = first_time(
        event,
        data,
        &[&["repository", "pushed_at"], &["head_commit", "timestamp"]],
    )?;
    let default_branch = match optional_str(data, &["repository", "default_branch"])? {
        Some(default) => Some(default),
        None => optional_str(data, &["repository", "master_branch"])?,
    };

    let dora = repo.push_dora(Push {
        before,
        after,
        git_ref,
        branch,
        default_branch,
        commits: listed,
    });
    let mut github = Map::new();
    for key in ["created", "forced"] {
        if let Some(flag) = optional_bool(data, &[key])? {
            github.insert(key.into(), json!(flag));
        }
    }
    if let Some(compare) = optional_str(data, &["compare"])? {
        github.insert("compare".into(), json!(compare));
    }

    Ok(vec![repo.cdevent(RepositoryFact {
        event_type: CHANGE_UPDATED,
        id: repo.id(&["push", git_ref, before, after]),
        timestamp,
        subject_id: format!("{}@{after}", repo.path),
        content: repo.change_content(None),
        dora,
        own: github,
    })])
}

// ---------------------------------------------------------------------------------------------
// pull_request

/// `pull_request` opened -> `change.created`; closed -> `change.merged` or `change.abandoned`.
fn pull_request(data: &Value) -> Result<Vec<Emitted>, TransformError> {
    let action = required_str(data, &["action"])?;
    if action != "opened" && action != "closed" {
        return Ok(Vec::new());
    }
    let repo = repository(data)?;
    let number = required_number(data, &["pull_request", "number"])?;
    let created_at = required_time(data, &["pull_request", "created_at"])?;
    let head_sha = required_str(data, &["pull_request", "head", "sha"])?;

    let mut dora = repo.dora();
    dora.detail("number", number_value(&number))
        .detail("headSha", head_sha);
    copy_strings(
        data,
        &mut dora.details,
        &[
            ("headRef", &["pull_request", "head", "ref"]),
            ("baseRef", &["pull_request", "base", "ref"]),
        ],
    )?;
    dora.created_at = Some(format_rfc3339(&created_at));
    let mut github = Map::new();
    if let Some(url) = optional_str(data, &["pull_request", "html_url"])? {
        github.insert("url".into(), json!(url));
    }
    if let Some(count) = field(data, &["pull_request", "commits"]).filter(|v| v.is_u64()) {
        github.insert("commit_count".into(), count.clone());
    }

    let mut description = None;
    let subject_id = format!("{}#{number}", repo.path);
    let (event_type, id, timestamp) = if action == "opened" {
        description = optional_str(data, &["pull_request", "title"])?;
        (
            CHANGE_CREATED,
            repo.id(&["pull_request", &number, "created"]),
            created_at,
        )
    } else if optional_bool(data, &["pull_request", "merged"])?.unwrap_or(false) {
        let merged_at = match optional_time(data, &["pull_request", "merged_at"])? {
            Some(time) => time,
            None => {
                return Err(TransformError::new(
                    "data.pull_request.merged_at is missing",
                ))
            }
        };
        let merge_sha = required_str(data, &["pull_request", "merge_commit_sha"])?;
        dora.merge_sha = Some(merge_sha.to_owned());
        dora.merged_at = Some(format_rfc3339(&merged_at));
        (
            CHANGE_MERGED,
            repo.id(&["pull_request", &number, "merged"]),
            merged_at,
        )
    } else {
        let closed_at = required_time(data, &["pull_request", "closed_at"])?;
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
    let state = required_str(data, &["deployment_status", "state"])?;
    let outcome = match state {
        "success" => "success",
        "failure" | "error" => "failure",
        // pending, queued, in_progress, inactive, ...: not (yet) a rollout that happened.
        _ => return Ok(Vec::new()),
    };
    let repo = repository(data)?;
    let deployment_id = required_number(data, &["deployment", "id"])?;
    let sha = required_str(data, &["deployment", "sha"])?;
    let environment = match optional_str(data, &["deployment", "environment"])? {
        Some(environment) => environment,
        None => optional_str(data, &["deployment_status", "environment"])?
            .ok_or_else(|| TransformError::new("data.deployment.environment is missing"))?,
    };
    let service = match field(data, &["deployment", "payload", "service"]) {
        None => repo.name,
        Some(Value::String(service)) if !service.is_empty() => service.as_str(),
        Some(_) => {
            return Err(TransformError::new(
                "data.deployment.payload.service is not a non-empty string",
            ))
        }
    };
    let timestamp = first_time(
        event,
        data,
        &[
            &["deployment_status", "updated_at"],
            &["deployment_status", "created_at"],
        ],
    )?;

    let content = Content::Service(ServiceContent {
        environment: Some(Reference::within(environment, &repo.url)),
        artifact_id: Some(github_purl(repo.owner(), repo.name, sha)),
    });
    let mut dora = repo.dora();
    dora.revision = Some(sha.to_owned());
    dora.outcome = Some(outcome.to_owned());
    if let Some(git_ref) = optional_str(data, &["deployment", "ref"])? {
        dora.detail("ref", git_ref);
    }
    let mut github = Map::new();
    github.insert("deployment_id".into(), json!(number_value(&deployment_id)));
    github.insert("state".into(), json!(state));
    for (key, path) in [
        ("task", ["deployment", "task"]),
        ("description", ["deployment_status", "description"]),
        ("log_url", ["deployment_status", "log_url"]),
        ("target_url", ["deployment_status", "target_url"]),
    ] {
        if let Some(value) = optional_str(data, &path)? {
            github.insert(key.into(), json!(value));
        }
    }
    Ok(vec![repo.cdevent(RepositoryFact {
        event_type: SERVICE_DEPLOYED,
        id: repo.id(&["deployment", &deployment_id]),
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
    if required_str(data, &["action"])? != "completed" {
        return Ok(Vec::new());
    }
    let repo = repository(data)?;
    let run_id = required_number(data, &["workflow_run", "id"])?;
    let attempt = match field(data, &["workflow_run", "run_attempt"]) {
        None => "1".to_owned(),
        Some(_) => required_number(data, &["workflow_run", "run_attempt"])?,
    };
    let path = ["workflow_run", "conclusion"];
    let conclusion = required_str(data, &path)?;
    let outcome = run_outcome(conclusion).ok_or_else(|| {
        TransformError::new(format!(
            "{} {conclusion:?} is not a known workflow run conclusion",
            display_path(&path)
        ))
    })?;
    let timestamp = first_time(
        event,
        data,
        &[
            &["workflow_run", "updated_at"],
            &["workflow_run", "run_started_at"],
        ],
    )?;
    let mut name = optional_str(data, &["workflow_run", "name"])?;
    if name.is_none() {
        name = optional_str(data, &["workflow", "name"])?;
    }
    if name.is_none() {
        name = optional_str(data, &["workflow_run", "path"])?;
    }

    let url = optional_str(data, &["workflow_run", "html_url"])?.filter(|u| is_http_url(u));
    let content = Content::PipelineRun(PipelineRunContent {
        pipeline_name: name.map(str::to_owned),
        run: RunFields {
            uri: url.map(str::to_owned),
            outcome: Some(outcome.to_owned()),
            errors: None,
        },
    });
    let mut dora = repo.dora();
    dora.revision = optional_str(data, &["workflow_run", "head_sha"])?.map(str::to_owned);
    dora.outcome = Some(outcome.to_owned());
    if let Some(branch) = optional_str(data, &["workflow_run", "head_branch"])? {
        dora.detail("branch", branch);
    }
    if let Some(started) = optional_time(data, &["workflow_run", "run_started_at"])? {
        dora.detail("startedAt", format_rfc3339(&started));
    }
    let mut github = Map::new();
    github.insert("run_id".into(), json!(number_value(&run_id)));
    github.insert("run_attempt".into(), json!(number_value(&attempt)));
    github.insert("conclusion".into(), json!(conclusion));
    for (key, path) in [
        ("event", ["workflow_run", "event"]),
        ("workflow", ["workflow_run", "path"]),
    ] {
        if let Some(value) = optional_str(data, &path)? {
            github.insert(key.into(), json!(value));
        }
    }
    Ok(vec![repo.cdevent(RepositoryFact {
        event_type: PIPELINERUN_FINISHED,
        id: repo.id(&["workflow_run", &run_id, &attempt]),
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
    let action = required_str(data, &["action"])?;
    let incident_label = settings.incident_label.trim();
    let is_incident_label = |name: &str| name.trim().eq_ignore_ascii_case(incident_label);
    let (detect, resolve) = match action {
        "opened" | "reopened" => (true, false),
        "closed" => (true, true),
        "labeled" => {
            let label = required_str(data, &["label", "name"])?;
            if !is_incident_label(label) {
                return Ok(Vec::new());
            }
            let closed = optional_str(data, &["issue", "state"])? == Some("closed");
            (true, closed)
        }
        _ => return Ok(Vec::new()),
    };
    let labels = issue_labels(data)?;
    if incident_label.is_empty() || !labels.iter().any(|label| is_incident_label(label)) {
        return Ok(Vec::new());
    }
    let repo = repository(data)?;
    let mut github = Map::new();
    let number = required_number(data, &["issue", "number"])?;
    let created_at = required_time(data, &["issue", "created_at"])?;
    let title = optional_str(data, &["issue", "title"])?;
    github.insert("number".into(), json!(number_value(&number)));
    if let Some(url) = optional_str(data, &["issue", "html_url"])? {
        github.insert("url".into(), json!(url));
    }
    let resolved_at = if resolve {
        match optional_time(data, &["issue", "closed_at"])?.or(event.time) {
            Some(time) => Some(time),
            None => return Err(TransformError::new("data.issue.closed_at is missing")),
        }
    } else {
        None
    };
    let issue = IncidentIssue {
        number,
        title,
        service: label_value(&labels, &["service"], false).unwrap_or(repo.name),
        environment: label_value(&labels, &["env", "environment"], false).unwrap_or(
            default_environment(&settings.default_environment, DEFAULT_ENVIRONMENT),
        ),
        created_at,
        detect,
        resolved_at,
        own: github,
    };
    Ok(repo.incident_cdevents(issue))
}

/// The names of `data.issue.labels`.
fn issue_labels(data: &Value) -> Result<Vec<&str>, TransformError> {
    let labels = match field(data, &["issue", "labels"]) {
        None => return Ok(Vec::new()),
        Some(Value::Array(labels)) => labels,
        Some(_) => return Err(TransformError::new("data.issue.labels is not an array")),
    };
    let mut names = Vec::with_capacity(labels.len());
    for (index, label) in labels.iter().enumerate() {
        match label.get("name") {
            Some(Value::String(name)) => names.push(name.as_str()),
            // GitHubSource's older payload types may render a label as its name.
            None if label.is_string() => names.extend(label.as_str()),
            _ => {
                return Err(TransformError::new(format!(
                    "data.issue.labels[{index}].name is missing or not a string"
                )))
            }
        }
    }
    Ok(names)
}

// ---------------------------------------------------------------------------------------------
// release

/// `release` published -> `artifact.published` (`pkg:github/<owner>/<repo>@<tag>`).
fn release(event: &CloudEvent, data: &Value) -> Result<Vec<Emitted>, TransformError> {
    if required_str(data, &["action"])? != "published" {
        // `created`/`released`/`prereleased` come with or around `published`: counted once.
        return Ok(Vec::new());
    }
    let repo = repository(data)?;
    let release_id = required_number(data, &["release", "id"])?;
    let tag = required_str(data, &["release", "tag_name"])?;
    let timestamp = first_time(event, data, &[&["release", "published_at"]])?;

    let content = Content::Artifact(ArtifactContent {
        user: optional_str(data, &["release", "author", "login"])?.map(str::to_owned),
        change: None,
    });
    let mut dora = repo.dora();
    dora.detail("tag", tag);
    if let Some(target) = optional_str(data, &["release", "target_commitish"])? {
        dora.detail("targetCommitish", target);
        // Usually a branch name; a full commit SHA is the released revision.
        if target.len() == 40 && target.bytes().all(|b| b.is_ascii_hexdigit()) {
            dora.revision = Some(target.to_owned());
        }
    }
    let mut github = Map::new();
    github.insert("release_id".into(), json!(number_value(&release_id)));
    if let Some(name) = optional_str(data, &["release", "name"])? {
        github.insert("name".into(), json!(name));
    }
    if let Some(prerelease) = optional_bool(data, &["release", "prerelease"])? {
        github.insert("prerelease".into(), json!(prerelease));
    }
    if let Some(url) = optional_str(data, &["release", "html_url"])? {
        github.insert("url".into(), json!(url));
    }
    Ok(vec![repo.cdevent(RepositoryFact {
        event_type: ARTIFACT_PUBLISHED,
        id: repo.id(&["release", &release_id]),
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
