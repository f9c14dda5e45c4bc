//! GitHub webhooks: pushes, pull requests, workflow runs, deployment statuses and incident
//! issues, as GitHub posts them.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use crate::demo::history::*;
use crate::demo::wire::TektonRun;

impl ServiceHistory {
    pub(crate) fn repository(&self, pushed_at: Option<i64>) -> Value {
        let mut repo = json!({
            "id": 40_000_000 + self.p.service.len() as u64 * 7919,
            "name": self.p.service,
            "full_name": self.repo_name(),
            "private": true,
            "owner": {"login": "acme", "type": "Organization", "html_url": "https://github.com/acme"},
            "html_url": self.repo_url(),
            "default_branch": "main",
        });
        if let (Some(pushed), Some(object)) = (pushed_at, repo.as_object_mut()) {
            object.insert("pushed_at".into(), json!(pushed));
        }
        repo
    }

    pub(crate) fn github(&mut self, at: DateTime<Utc>, event: &str, payload: Value) {
        let delivery = self.rng.uuid();
        self.send(
            at,
            "/webhooks/github",
            vec![
                ("content-type", "application/json".into()),
                ("x-github-event", event.into()),
                ("x-github-delivery", delivery),
            ],
            payload,
        );
    }

    pub(crate) fn pull_request_payload(&self, pr: &PullRequest, action: &str) -> Value {
        let closed = pr.merged.or(pr.abandoned);
        let state = if action == "closed" { "closed" } else { "open" };
        json!({
            "action": action,
            "number": pr.number,
            "pull_request": {
                "html_url": format!("{}/pull/{}", self.repo_url(), pr.number),
                "number": pr.number,
                "state": state,
                "title": pr.title,
                "user": {"login": pr.author},
                "created_at": rfc3339(&pr.opened),
                "updated_at": rfc3339(&closed.filter(|_| action == "closed").unwrap_or(pr.opened)),
                "closed_at": closed.filter(|_| action == "closed").map(|t| rfc3339(&t)),
                "merged_at": pr.merged.filter(|_| action == "closed").map(|t| rfc3339(&t)),
                "merge_commit_sha": pr.merged.filter(|_| action == "closed").map(|_| pr.merge_sha.clone()),
                "merged": action == "closed" && pr.merged.is_some(),
                "head": {"ref": pr.branch, "sha": pr.commits.last().map(|c| c.0.clone())},
                "base": {"ref": "main"},
                "commits": pr.commits.len(),
            },
            "repository": self.repository(None),
            "sender": {"login": pr.author},
        })
    }

    pub(crate) fn commit_json(
        &self,
        sha: &str,
        at: &DateTime<Utc>,
        message: &str,
        author: &str,
    ) -> Value {
        json!({
            "id": sha,
            "distinct": true,
            "message": message,
            "timestamp": rfc3339(at),
            "url": format!("{}/commit/{sha}", self.repo_url()),
            "author": {"name": author, "email": format!("{author}@acme.example"), "username": author},
            "committer": {"name": "GitHub", "email": "noreply@github.com", "username": "web-flow"},
            "added": [],
            "removed": [],
            "modified": [format!("src/{}.rs", message.split_whitespace().last().unwrap_or("lib"))],
        })
    }

    /// The push of a merge to `main`: the pull request's commits and the merge commit.
    pub(crate) fn push_merge(&mut self, pr: &PullRequest, merged: DateTime<Utc>) {
        let mut commits: Vec<Value> = pr
            .commits
            .iter()
            .map(|(sha, at, message)| self.commit_json(sha, at, message, pr.author))
            .collect();
        let merge_message = format!(
            "Merge pull request #{} from acme/{}\n\n{}",
            pr.number, pr.branch, pr.title
        );
        let merge = self.commit_json(&pr.merge_sha, &merged, &merge_message, pr.author);
        commits.push(merge.clone());
        let before = std::mem::replace(&mut self.main_head, pr.merge_sha.clone());
        let payload = json!({
            "ref": "refs/heads/main",
            "before": before,
            "after": pr.merge_sha,
            "created": false,
            "deleted": false,
            "forced": false,
            "compare": format!("{}/compare/{}...{}", self.repo_url(), &before[..12], &pr.merge_sha[..12]),
            "commits": commits,
            "head_commit": merge,
            "repository": self.repository(Some(merged.timestamp())),
            "pusher": {"name": pr.author, "email": format!("{}@acme.example", pr.author)},
            "sender": {"login": pr.author},
        });
        self.github(merged + Duration::seconds(2), "push", payload);
    }

    /// CI on the merge commit: a GitHub Actions run, or a Tekton build for the Tekton service.
    pub(crate) fn build(&mut self, pr: &PullRequest, merged: DateTime<Utc>) -> DateTime<Utc> {
        let started = merged + Duration::seconds(self.rng.between(5, 40));
        let mut finished = started + minutes(self.rng.between(4, 14));
        let flaky = self.rng.chance(0.05);
        if self.p.deployer == Deployer::Tekton {
            let name = format!("build-{}", self.p.service);
            self.tekton_run(TektonRun {
                pipeline: &name,
                env: None,
                revision: &pr.merge_sha,
                image: None,
                started,
                finished,
                success: !flaky,
            });
            if flaky {
                let again = finished + minutes(self.rng.between(3, 20));
                finished = again + minutes(self.rng.between(4, 14));
                self.tekton_run(TektonRun {
                    pipeline: &name,
                    env: None,
                    revision: &pr.merge_sha,
                    image: None,
                    started: again,
                    finished,
                    success: true,
                });
            }
            return finished;
        }
        let run_id = self.id() * 10;
        for attempt in 1..=(if flaky { 2 } else { 1 }) {
            let conclusion = if attempt == 1 && flaky {
                "failure"
            } else {
                "success"
            };
            let payload = json!({
                "action": "completed",
                "workflow_run": {
                    "id": run_id,
                    "name": "CI",
                    "head_branch": "main",
                    "head_sha": pr.merge_sha,
                    "path": ".github/workflows/ci.yml",
                    "run_attempt": attempt,
                    "event": "push",
                    "status": "completed",
                    "conclusion": conclusion,
                    "html_url": format!("{}/actions/runs/{run_id}", self.repo_url()),
                    "run_started_at": rfc3339(&started),
                    "updated_at": rfc3339(&finished),
                },
                "workflow": {"name": "CI", "path": ".github/workflows/ci.yml"},
                "repository": self.repository(None),
                "sender": {"login": pr.author},
            });
            self.github(finished, "workflow_run", payload);
            if attempt == 1 && flaky {
                finished += minutes(self.rng.between(8, 25));
            }
        }
        finished
    }

    pub(crate) fn deployment_status(
        &mut self,
        env: &str,
        sha: &str,
        at: DateTime<Utc>,
        success: bool,
    ) {
        let deployment = self.id();
        let status = self.id();
        let state = if success { "success" } else { "failure" };
        let created = at - minutes(self.rng.between(2, 6));
        let payload = json!({
            "action": "created",
            "deployment_status": {
                "id": status,
                "state": state,
                "environment": env,
                "description": if success { "Deployment finished" } else { "Health checks failed" },
                "target_url": format!("{}/actions/runs/{}", self.repo_url(), deployment * 3),
                "created_at": rfc3339(&at),
                "updated_at": rfc3339(&at),
            },
            "deployment": {
                "id": deployment,
                "sha": sha,
                "ref": "main",
                "task": "deploy",
                "payload": {},
                "environment": env,
                "original_environment": env,
                "production_environment": env == "production",
                "created_at": rfc3339(&created),
                "updated_at": rfc3339(&at),
            },
            "repository": self.repository(None),
            "sender": {"login": "github-actions[bot]"},
        });
        self.github(at, "deployment_status", payload);
    }

    pub(crate) fn issue(
        &mut self,
        detected: DateTime<Utc>,
        resolved: Option<DateTime<Utc>>,
        title: &str,
    ) {
        let number = self.next_pr;
        self.next_pr += 1;
        let author = *self.rng.pick(&PEOPLE);
        let labels = json!([
            {"name": "incident"},
            {"name": format!("service:{}", self.p.service)},
            {"name": "env:production"},
        ]);
        let issue = |state: &str, closed: Option<DateTime<Utc>>| {
            json!({
                "number": number,
                "title": title,
                "state": state,
                "labels": labels,
                "user": {"login": author},
                "html_url": format!("{}/issues/{number}", self.repo_url()),
                "created_at": rfc3339(&detected),
                "updated_at": rfc3339(&closed.unwrap_or(detected)),
                "closed_at": closed.map(|t| rfc3339(&t)),
            })
        };
        let opened = json!({
            "action": "opened",
            "issue": issue("open", None),
            "repository": self.repository(None),
            "sender": {"login": author},
        });
        let closed = resolved.map(|at| {
            json!({
                "action": "closed",
                "issue": issue("closed", Some(at)),
                "repository": self.repository(None),
                "sender": {"login": author},
            })
        });
        self.github(detected, "issues", opened);
        if let (Some(at), Some(payload)) = (resolved, closed) {
            self.github(at, "issues", payload);
        }
    }
}
