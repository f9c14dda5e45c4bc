//! What `backfill gitlab` reads of a project, one [`Kind`] per list endpoint of the REST API
//! (v4): its first URL, which objects fall in the window, and the CloudEvents an object gives
//! (`payloads`).
//!
//! Every list is asked newest first by `updated_at`, from `updated_after=<since>` on; the window
//! is checked again on each object (an object updated before `--since` ends the list).

use serde_json::Value;

use super::payloads::{self, HookProject};
use super::rest::{self, read};
use crate::backfill::client::ApiClient;
use crate::backfill::window::{query_value, rfc3339, Fit, Window};
use crate::backfill::{read_all, ListKind, Lists};
use dora_model::cloudevent::CloudEvent;
use dora_sources::gitlab::pipeline_outcome;

/// Commit pages read per merge request at most (pages of 100).
const MAX_COMMIT_PAGES: usize = 10;

/// A kind of history, read from one list endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// `GET /projects/:id/deployments` (finished: `success`, `failed`).
    Deployments,
    /// `GET /projects/:id/merge_requests?state=all`, and each merged one's commits.
    MergeRequests,
    /// `GET /projects/:id/issues?issue_type=incident`.
    Incidents,
    /// `GET /projects/:id/issues?labels=<incident label>` (those not of type incident).
    IncidentLabel,
    /// `GET /projects/:id/pipelines?scope=finished`, and each one whole.
    Pipelines,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Deployments,
        Kind::MergeRequests,
        Kind::Incidents,
        Kind::IncidentLabel,
        Kind::Pipelines,
    ];

    /// The path of its list under the project.
    fn path(self) -> &'static str {
        match self {
            Kind::Deployments => "deployments",
            Kind::MergeRequests => "merge_requests",
            Kind::Incidents | Kind::IncidentLabel => "issues",
            Kind::Pipelines => "pipelines",
        }
    }
}

impl ListKind for Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Deployments => "deployments",
            Kind::MergeRequests => "merge-requests",
            Kind::Incidents => "incidents",
            Kind::IncidentLabel => "incident-label",
            Kind::Pipelines => "pipelines",
        }
    }
}

/// What a kind needs to know about the project.
pub struct ProjectContext<'a> {
    pub client: &'a ApiClient,
    /// `group/subgroup/name`.
    pub path: &'a str,
    pub project: &'a HookProject,
    pub incident_label: &'a str,
    pub window: Window,
    /// Whether the commits of a landing push are read with their files (`[[services]]`).
    pub with_files: bool,
}

/// The id of a project in a URL: its path, percent-encoded (`group%2Fname`).
pub fn project_id(path: &str) -> String {
    query_value(path)
}

impl ProjectContext<'_> {
    /// `/api/v4/projects/<id>/<rest>`.
    fn api(&self, rest: &str) -> String {
        self.client.url(&format!(
            "/api/v4/projects/{}/{rest}",
            project_id(self.path)
        ))
    }

    /// The time `object` of `kind` counts at, and whether it is read at all.
    fn decisive(&self, kind: Kind, object: &Value, endpoint: &str) -> anyhow::Result<Fit> {
        let w = self.window;
        let updated = |time| match w.fit(Some(time)) {
            Fit::Older => Some(Fit::Older),
            _ => None,
        };
        Ok(match kind {
            Kind::Deployments => {
                let d: rest::Deployment = read(object, endpoint)?;
                match matches!(d.status.as_str(), "success" | "failed") {
                    true => w.fit(Some(d.updated_at)),
                    false => updated(d.updated_at).unwrap_or(Fit::Outside),
                }
            }
            Kind::MergeRequests => {
                let m: rest::MergeRequest = read(object, endpoint)?;
                let at = match m.state.as_str() {
                    "merged" => m.merged_at,
                    "closed" => m.closed_at,
                    _ => Some(m.created_at),
                };
                updated(m.updated_at).unwrap_or_else(|| inside_or_outside(w.fit(at)))
            }
            Kind::Incidents | Kind::IncidentLabel => {
                let i: rest::Issue = read(object, endpoint)?;
                if kind == Kind::IncidentLabel && i.typed_incident() {
                    return Ok(Fit::Outside); // read with `incidents`
                }
                let opened = w.fit(Some(i.created_at));
                let closed = w.fit(i.closed_at);
                match updated(i.updated_at) {
                    Some(older) => older,
                    None if opened == Fit::Inside || closed == Fit::Inside => Fit::Inside,
                    None => Fit::Outside,
                }
            }
            Kind::Pipelines => {
                let p: rest::PipelineListed = read(object, endpoint)?;
                match pipeline_outcome(&p.status) {
                    Some(_) => w.fit(Some(p.updated_at)),
                    None => updated(p.updated_at).unwrap_or(Fit::Outside),
                }
            }
        })
    }

    /// The commits the push that landed a merged merge request listed (oldest first), and the
    /// branch head before it: the merge commit and the merge request's commits (a merge
    /// commit), the squash commit (a squash), or the merge request's commits (a fast-forward).
    async fn landed(
        &self,
        merge: &rest::MergeRequest,
    ) -> anyhow::Result<Option<(String, Vec<rest::Commit>)>> {
        let squash = match &merge.squash_commit_sha {
            Some(sha) => Some(self.commit(sha).await?),
            None => None,
        };
        let merge_commit = match &merge.merge_commit_sha {
            Some(sha) => Some(self.commit(sha).await?),
            None => None,
        };
        let own = match squash {
            Some(squash) => vec![squash],
            None => self.merge_request_commits(merge.iid).await?,
        };
        let before = match (&merge_commit, own.first()) {
            (Some(merge_commit), _) => merge_commit.first_parent().map(str::to_owned),
            (None, Some(oldest)) if oldest.parent_ids.is_some() => {
                oldest.first_parent().map(str::to_owned)
            }
            (None, Some(oldest)) => self
                .commit(&oldest.id)
                .await?
                .first_parent()
                .map(str::to_owned),
            (None, None) => None,
        };
        let mut commits = own;
        commits.extend(merge_commit);
        if self.with_files {
            for commit in &mut commits {
                commit.files = Some(self.changed_files(&commit.id).await?);
            }
        }
        Ok(before.map(|before| (before, commits)))
    }

    /// `GET /repository/commits/:sha/diff`: the files a commit changed.
    async fn changed_files(&self, sha: &str) -> anyhow::Result<rest::ChangedFiles> {
        let path = format!("repository/commits/{}/diff?per_page=100", query_value(sha));
        let url = self.api(&path);
        let items = read_all(self.client, url.clone(), MAX_COMMIT_PAGES).await?;
        let endpoint = self.client.endpoint(&url);
        let diff = items
            .iter()
            .map(|item| read(item, endpoint))
            .collect::<anyhow::Result<Vec<rest::DiffEntry>>>()?;
        Ok(rest::ChangedFiles::of(&diff))
    }

    /// `GET /repository/commits/:sha`.
    async fn commit(&self, sha: &str) -> anyhow::Result<rest::Commit> {
        let url = self.api(&format!("repository/commits/{}", query_value(sha)));
        let object = self.client.object(&url).await?;
        read(&object, self.client.endpoint(&url))
    }

    /// `GET /merge_requests/:iid/commits`, oldest first.
    async fn merge_request_commits(&self, iid: u64) -> anyhow::Result<Vec<rest::Commit>> {
        let url = self.api(&format!("merge_requests/{iid}/commits?per_page=100"));
        let items = read_all(self.client, url.clone(), MAX_COMMIT_PAGES).await?;
        let endpoint = self.client.endpoint(&url);
        let mut commits = items
            .iter()
            .map(|item| read(item, endpoint))
            .collect::<anyhow::Result<Vec<rest::Commit>>>()?;
        commits.reverse(); // GitLab lists them newest first
        Ok(commits)
    }

    async fn merge_request_events(&self, object: &Value) -> anyhow::Result<Vec<CloudEvent>> {
        let endpoint = format!("/projects/{}/merge_requests", self.path);
        let merge: rest::MergeRequest = read(object, &endpoint)?;
        let mut events = payloads::merge_request(self.project, &merge);
        if merge.state == "merged" {
            if let Some((before, commits)) = self.landed(&merge).await? {
                let branch = &merge.target_branch;
                events.extend(payloads::push(self.project, branch, &before, &commits));
            }
        }
        Ok(events)
    }

    async fn pipeline_events(&self, object: &Value) -> anyhow::Result<Vec<CloudEvent>> {
        let endpoint = format!("/projects/{}/pipelines", self.path);
        let listed: rest::PipelineListed = read(object, &endpoint)?;
        let url = self.api(&format!("pipelines/{}", listed.id));
        let whole = self.client.object(&url).await?;
        let pipeline: rest::Pipeline = read(&whole, self.client.endpoint(&url))?;
        Ok(vec![payloads::pipeline(self.project, &pipeline)])
    }
}

/// `Older` of the decisive time is only `Outside`: the list is ordered by `updated_at`.
fn inside_or_outside(fit: Fit) -> Fit {
    match fit {
        Fit::Inside => Fit::Inside,
        _ => Fit::Outside,
    }
}

impl Lists for ProjectContext<'_> {
    type Kind = Kind;

    fn client(&self) -> &ApiClient {
        self.client
    }

    fn first_url(&self, kind: Kind, page: i64) -> String {
        let mut query = vec![
            "per_page=100".to_owned(),
            format!("page={page}"),
            "order_by=updated_at&sort=desc".to_owned(),
        ];
        query.extend(
            self.window
                .since
                .map(|t| format!("updated_after={}", query_value(&rfc3339(&t)))),
        );
        match kind {
            Kind::Deployments => {}
            Kind::MergeRequests => query.push("state=all".into()),
            Kind::Incidents => query.push("issue_type=incident&state=all&scope=all".into()),
            Kind::IncidentLabel => {
                query.push(format!("labels={}", query_value(self.incident_label)));
                query.push("state=all&scope=all".into());
            }
            Kind::Pipelines => query.push("scope=finished".into()),
        }
        self.api(&format!("{}?{}", kind.path(), query.join("&")))
    }

    fn fit(&self, kind: Kind, object: &Value) -> Fit {
        // An object that cannot be read is kept: `events` reports what is wrong with it.
        let endpoint = format!("/projects/{}/{}", self.path, kind.path());
        self.decisive(kind, object, &endpoint)
            .unwrap_or(Fit::Inside)
    }

    async fn events(&self, kind: Kind, object: &Value) -> anyhow::Result<Vec<CloudEvent>> {
        let endpoint = format!("/projects/{}/{}", self.path, kind.path());
        Ok(match kind {
            Kind::Deployments => {
                let deployment: rest::Deployment = read(object, &endpoint)?;
                payloads::deployment(self.project, &deployment)
                    .into_iter()
                    .collect()
            }
            Kind::MergeRequests => self.merge_request_events(object).await?,
            Kind::Incidents | Kind::IncidentLabel => {
                let issue: rest::Issue = read(object, &endpoint)?;
                payloads::incident(self.project, &issue)
            }
            Kind::Pipelines => self.pipeline_events(object).await?,
        })
    }
}
