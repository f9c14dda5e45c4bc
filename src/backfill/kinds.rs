//! What the backfill reads of a repository, one [`Kind`] per list endpoint: its first URL, which
//! objects fall in the window, and the CloudEvents an object gives (`payloads`).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use super::client::GithubClient;
use super::payloads;
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

    pub fn name(self) -> &'static str {
        match self {
            Kind::Deployments => "deployments",
            Kind::PullRequests => "pull-requests",
            Kind::Commits => "commits",
            Kind::Incidents => "incidents",
            Kind::WorkflowRuns => "workflow-runs",
            Kind::Releases => "releases",
        }
    }

    /// Where the list lives under a list answer that is an object.
    pub fn field(self) -> Option<&'static str> {
        (self == Kind::WorkflowRuns).then_some("workflow_runs")
    }
}

/// The time window of a backfill (both ends optional, inclusive).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// Where an object's time falls relative to the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    Inside,
    /// After `until` (or without the time that decides): skipped.
    Outside,
    /// Before `since` in a list ordered newest first: this and every later object are skipped.
    Older,
}

impl Window {
    fn fit(&self, time: Option<DateTime<Utc>>) -> Fit {
        match time {
            None => Fit::Outside,
            Some(t) if self.since.is_some_and(|since| t < since) => Fit::Older,
            Some(t) if self.until.is_some_and(|until| t > until) => Fit::Outside,
            Some(_) => Fit::Inside,
        }
    }

    /// `since..until` for a checkpoint name.
    pub fn label(&self) -> String {
        let text = |t: Option<DateTime<Utc>>| t.map(|t| rfc3339(&t)).unwrap_or_default();
        format!("{}..{}", text(self.since), text(self.until))
    }
}

fn rfc3339(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn time_of(object: &Value, field: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(object.get(field)?.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Percent-encodes a query value.
fn query_value(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// What a kind needs to know about the repository.
pub struct RepoContext<'a> {
    pub client: &'a GithubClient,
    /// `owner/name`.
    pub full_name: &'a str,
    /// The `repository` of the payloads.
    pub repository: &'a Value,
    pub default_branch: &'a str,
    pub incident_label: &'a str,
    pub window: Window,
}

impl RepoContext<'_> {
    /// The URL of `kind`'s list, from page `page` (1 = the first).
    pub fn first_url(&self, kind: Kind, page: i64) -> String {
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

    /// Whether `object` of `kind` is in the window.
    pub fn fit(&self, kind: Kind, object: &Value) -> Fit {
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

    /// The CloudEvents of one object of `kind` in the window.
    pub async fn events(&self, kind: Kind, object: &Value) -> anyhow::Result<Vec<CloudEvent>> {
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

    /// The commits a push of `commit` listed: itself, or for a merge commit those of
    /// `GET /compare/<first parent>...<sha>` (at most 250, oldest first, as GitHub answers).
    async fn brought_in(&self, commit: &Value) -> anyhow::Result<Vec<Value>> {
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
        let mut url = Some(self.client.url(&path));
        let mut statuses = Vec::new();
        for _ in 0..MAX_STATUS_PAGES {
            let Some(next) = url.take() else { break };
            let page = self.client.page(&next, None).await?;
            statuses.extend(page.items);
            url = page.next;
        }
        Ok(statuses)
    }
}
