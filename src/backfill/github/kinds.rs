//! What `backfill github` reads of a repository, one [`Kind`] per list endpoint: its first URL, which
//! objects fall in the window, and the CloudEvents an object gives (`payloads`).

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::payloads;
use crate::backfill::client::ApiClient;
use crate::backfill::window::{query_value, rfc3339, time_of};
pub use crate::backfill::window::{Fit, Window};
use crate::backfill::{read_all, ListKind, Lists};
use dora_model::cloudevent::CloudEvent;

/// Statuses read per deployment at most (pages of 100).
const MAX_STATUS_PAGES: usize = 10;

/// A kind of history, read from one list endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// `GET /repos/{repo}/deployments` and each one's statuses.
    Deployments,
    /// `GET /repos/{repo}/pulls?state=closed`.
    PullRequests,
    /// `GET /repos/{repo}/commits?sha=<default branch>`.
    Commits,
    /// `GET /repos/{repo}/issues?labels=<incident label>&state=all`.
    Incidents,
    /// `GET /repos/{repo}/actions/runs?status=completed`.
    WorkflowRuns,
    /// `GET /repos/{repo}/releases`.
    Releases,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Deployments,
        Kind::PullRequests,
        Kind::Commits,
        Kind::Incidents,
        Kind::WorkflowRuns,
        Kind::Releases,
    ];

    /// Where the list lives under a list answer that is an object.
    pub fn field(self) -> Option<&'static str> {
        (self == Kind::WorkflowRuns).then_some("workflow_runs")
    }
}

impl ListKind for Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Deployments => "deployments",
            Kind::PullRequests => "pull-requests",
            Kind::Commits => "commits",
            Kind::Incidents => "incidents",
            Kind::WorkflowRuns => "workflow-runs",
            Kind::Releases => "releases",
        }
    }
}

/// What a kind needs to know about the repository.
pub struct RepoContext<'a> {
    pub client: &'a ApiClient,
    /// `owner/name`.
    pub full_name: &'a str,
    /// The `repository` of the payloads.
    pub repository: &'a Value,
    pub default_branch: &'a str,
    pub incident_label: &'a str,
    pub window: Window,
    /// Whether the commits a push lists are read with their files (`[[services]]`).
    pub with_files: bool,
}

impl Lists for RepoContext<'_> {
    type Kind = Kind;

    fn client(&self) -> &ApiClient {
        self.client
    }

    fn field(&self, kind: Kind) -> Option<&'static str> {
        kind.field()
    }

    /// Not deployments: their statuses are lists of their own, and whether a new status
    /// changes the deployments page is not documented.
    fn skips_unchanged(&self, kind: Kind) -> bool {
        kind != Kind::Deployments
    }

    fn first_url(&self, kind: Kind, page: i64) -> String {
        let repo = self.full_name;
        let w = self.window;
        let mut query = vec!["per_page=100".to_owned(), format!("page={page}")];
        let path = match kind {
            Kind::Deployments => "deployments",
            Kind::PullRequests => {
                query.push("state=closed&sort=updated&direction=desc".into());
                "pulls"
            }
            Kind::Commits => {
                query.push(format!("sha={}", query_value(self.default_branch)));
                query.extend(
                    w.since
                        .map(|t| format!("since={}", query_value(&rfc3339(&t)))),
                );
                query.extend(
                    w.until
                        .map(|t| format!("until={}", query_value(&rfc3339(&t)))),
                );
                "commits"
            }
            Kind::Incidents => {
                query.push(format!("labels={}", query_value(self.incident_label)));
                query.push("state=all&sort=created&direction=desc".into());
                query.extend(
                    w.since
                        .map(|t| format!("since={}", query_value(&rfc3339(&t)))),
                );
                "issues"
            }
            Kind::WorkflowRuns => {
                query.push("status=completed".into());
                let day = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
                let created = match (w.since, w.until) {
                    (Some(s), Some(u)) => Some(format!("{}..{}", day(s), day(u))),
                    (Some(s), None) => Some(format!(">={}", day(s))),
                    (None, Some(u)) => Some(format!("<={}", day(u))),
                    (None, None) => None,
                };
                query.extend(created.map(|c| format!("created={}", query_value(&c))));
                "actions/runs"
            }
            Kind::Releases => "releases",
        };
        self.client
            .url(&format!("/repos/{repo}/{path}?{}", query.join("&")))
    }

    fn fit(&self, kind: Kind, object: &Value) -> Fit {
        let w = self.window;
        match kind {
            Kind::Deployments => w.fit(time_of(object, "created_at")),
            Kind::PullRequests => match w.fit(time_of(object, "updated_at")) {
                Fit::Older => Fit::Older,
                _ => match w.fit(time_of(object, "closed_at")) {
                    Fit::Inside => Fit::Inside,
                    _ => Fit::Outside,
                },
            },
            // Filtered by the API (`since`, `until`, `created`).
            Kind::Commits | Kind::WorkflowRuns => Fit::Inside,
            Kind::Incidents if object.get("pull_request").is_some() => Fit::Outside,
            Kind::Incidents => match w.fit(time_of(object, "created_at")) {
                Fit::Older => match w.fit(time_of(object, "closed_at")) {
                    Fit::Inside => Fit::Inside,
                    _ => Fit::Outside,
                },
                fit => fit,
            },
            Kind::Releases => match object["draft"].as_bool() {
                Some(true) => Fit::Outside,
                _ => w.fit(time_of(object, "published_at")),
            },
        }
    }

    async fn events(&self, kind: Kind, object: &Value) -> anyhow::Result<Vec<CloudEvent>> {
        let repository = self.repository;
        Ok(match kind {
            Kind::Deployments => {
                let statuses = self.statuses(object).await?;
                payloads::deployment_statuses(repository, object, statuses)
            }
            Kind::PullRequests => payloads::pull_request(repository, object),
            Kind::Commits => {
                let listed = self.brought_in(object).await?;
                vec![payloads::push(
                    repository,
                    self.default_branch,
                    object,
                    &listed,
                )]
            }
            Kind::Incidents => payloads::incident_issue(repository, object),
            Kind::WorkflowRuns => match object["conclusion"].as_str() {
                Some(_) => vec![payloads::workflow_run(repository, object)],
                None => Vec::new(),
            },
            Kind::Releases => vec![payloads::release(repository, object)],
        })
    }
}

impl RepoContext<'_> {
    /// The commits a push of `commit` listed: itself, or for a merge commit those of
    /// `GET /compare/<first parent>...<sha>` (at most 250, oldest first, as GitHub answers).
    async fn brought_in(&self, commit: &Value) -> anyhow::Result<Vec<Value>> {
        let listed = self.listed(commit).await?;
        if !self.with_files {
            return Ok(listed);
        }
        let mut with_files = Vec::with_capacity(listed.len());
        for commit in listed {
            let Some(sha) = commit["sha"].as_str() else {
                with_files.push(commit);
                continue;
            };
            let path = format!("/repos/{}/commits/{sha}", self.full_name);
            with_files.push(self.client.object(&self.client.url(&path)).await?);
        }
        Ok(with_files)
    }

    /// The commits a push of `commit` listed, without their files.
    async fn listed(&self, commit: &Value) -> anyhow::Result<Vec<Value>> {
        let parents = commit["parents"].as_array().map_or(0, Vec::len);
        let (Some(sha), Some(first)) =
            (commit["sha"].as_str(), commit["parents"][0]["sha"].as_str())
        else {
            return Ok(vec![commit.clone()]);
        };
        if parents < 2 {
            return Ok(vec![commit.clone()]);
        }
        let path = format!("/repos/{}/compare/{first}...{sha}", self.full_name);
        let body = self.client.object(&self.client.url(&path)).await?;
        match body["commits"].as_array() {
            Some(commits) if !commits.is_empty() => Ok(commits.clone()),
            _ => Ok(vec![commit.clone()]),
        }
    }

    /// Every status of a deployment (at most [`MAX_STATUS_PAGES`] pages).
    async fn statuses(&self, deployment: &Value) -> anyhow::Result<Vec<Value>> {
        let id = match &deployment["id"] {
            Value::Number(id) => id.to_string(),
            other => anyhow::bail!("a deployment without a numeric id: {other}"),
        };
        let path = format!(
            "/repos/{}/deployments/{id}/statuses?per_page=100",
            self.full_name
        );
        read_all(self.client, self.client.url(&path), MAX_STATUS_PAGES).await
    }
}
