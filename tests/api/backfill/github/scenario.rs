//! A small history of `acme/shop`, hand-checkable, in two shapes: the REST objects the fake API
//! serves (made from GitHub's own examples, `tests/fixtures/backfill/github/`), and the webhook
//! deliveries GitHub would have sent for it (written here by hand, after GitHub's webhook
//! documentation, independently of the backfill's own conversion).
//!
//! March 2025, all in `production`, service `shop` (the repository's name):
//!
//! | when | what |
//! |---|---|
//! | 03-03 09:00 | PR #1 opened (head `h1`) |
//! | 03-03 12:00 | PR #1 squash-merged as `c1` (parent `c0`) |
//! | 03-03 14:00 | deployment 101 of `c1` succeeds (in progress at 13:55) |
//! | 03-04 10:00 | PR #2 opened |
//! | 03-05 10:00 | PR #2 squash-merged as `c2` |
//! | 03-05 12:00 | deployment 102 of `c2` fails |
//! | 03-05 12:30 | incident issue #10 opened |
//! | 03-05 15:00 | deployment 103 of `c2` succeeds |
//! | 03-05 15:30 | issue #10 closed |
//! | 03-06 08:00 | `c3` written (author date), pushed straight to main at 08:30 |
//! | 03-06 10:00 | deployment 104 of `c3` succeeds |
//! | 03-06 11:00 | PR #3 opened, closed unmerged at 12:00 |
//!
//! Besides: workflow run 501 (`Build`, success, 03-03 13:40) and release `v1.0.0` (03-06 10:30).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::helpers::fixture_json;

pub const REPO: &str = "acme/shop";
const HTML: &str = "https://github.com/acme/shop";

pub fn sha(name: &str) -> String {
    format!("{name:0>40}")
}

/// The first element of a fixture list, with `fields` written over it.
fn from_fixture(file: &str, fields: Value) -> Value {
    let list = fixture_json(&format!("backfill/github/{file}"));
    let first = match list.get("workflow_runs") {
        Some(runs) => &runs[0],
        None => &list[0],
    };
    let mut object = first.clone();
    for (key, value) in fields.as_object().unwrap() {
        object[key] = value.clone();
    }
    object
}

/// A deployment: its commit, when it was made, and its statuses (id, state, time), oldest first.
pub struct Deployment {
    id: u64,
    commit: String,
    created: String,
    statuses: Vec<(u64, &'static str, String)>,
}

/// A closed pull request: its head, when it was opened and closed, its merge commit if merged.
pub struct Pull {
    number: u64,
    head: String,
    created: String,
    closed: String,
    merge: Option<String>,
}

/// A commit of the default branch: its parent, author and committer dates, and message.
pub struct Commit {
    name: String,
    parent: String,
    authored: String,
    committed: String,
    message: String,
}

/// An incident issue: (number, opened, closed).
type Incident = (u64, String, String);

/// A history of `acme/shop`, as the fake API serves it and as webhooks deliver it.
pub struct History {
    deployments: Vec<Deployment>,
    pulls: Vec<Pull>,
    commits: Vec<Commit>,
    incidents: Vec<Incident>,
    /// With the workflow run and the release of March 2025.
    with_run_and_release: bool,
}

fn text(value: &str) -> String {
    value.to_owned()
}

impl History {
    /// The history of March 2025 in the table above.
    pub fn march() -> Self {
        let deployment =
            |id, commit: &str, created: &str, statuses: &[(u64, &'static str, &str)]| Deployment {
                id,
                commit: text(commit),
                created: text(created),
                statuses: statuses
                    .iter()
                    .map(|&(id, state, at)| (id, state, text(at)))
                    .collect(),
            };
        let pull = |number, head: &str, created: &str, closed: &str, merge: Option<&str>| Pull {
            number,
            head: text(head),
            created: text(created),
            closed: text(closed),
            merge: merge.map(text),
        };
        let commit =
            |name: &str, parent: &str, authored: &str, committed: &str, message: &str| Commit {
                name: text(name),
                parent: text(parent),
                authored: text(authored),
                committed: text(committed),
                message: text(message),
            };
        History {
            deployments: vec![
                deployment(
                    101,
                    "c1",
                    "2025-03-03T13:50:00Z",
                    &[
                        (1001, "in_progress", "2025-03-03T13:55:00Z"),
                        (1002, "success", "2025-03-03T14:00:00Z"),
                    ],
                ),
                deployment(
                    102,
                    "c2",
                    "2025-03-05T11:50:00Z",
                    &[(1003, "failure", "2025-03-05T12:00:00Z")],
                ),
                deployment(
                    103,
                    "c2",
                    "2025-03-05T14:50:00Z",
                    &[(1004, "success", "2025-03-05T15:00:00Z")],
                ),
                deployment(
                    104,
                    "c3",
                    "2025-03-06T09:50:00Z",
                    &[(1005, "success", "2025-03-06T10:00:00Z")],
                ),
            ],
            pulls: vec![
                pull(
                    1,
                    "h1",
                    "2025-03-03T09:00:00Z",
                    "2025-03-03T12:00:00Z",
                    Some("c1"),
                ),
                pull(
                    2,
                    "h2",
                    "2025-03-04T10:00:00Z",
                    "2025-03-05T10:00:00Z",
                    Some("c2"),
                ),
                pull(
                    3,
                    "h3",
                    "2025-03-06T11:00:00Z",
                    "2025-03-06T12:00:00Z",
                    None,
                ),
            ],
            commits: vec![
                commit(
                    "c1",
                    "c0",
                    "2025-03-03T12:00:00Z",
                    "2025-03-03T12:00:00Z",
                    "Checkout (#1)",
                ),
                commit(
                    "c2",
                    "c1",
                    "2025-03-05T10:00:00Z",
                    "2025-03-05T10:00:00Z",
                    "Cart (#2)",
                ),
                commit(
                    "c3",
                    "c2",
                    "2025-03-06T08:00:00Z",
                    "2025-03-06T08:30:00Z",
                    "Fix the footer",
                ),
            ],
            incidents: vec![(
                10,
                text("2025-03-05T12:30:00Z"),
                text("2025-03-05T15:30:00Z"),
            )],
            with_run_and_release: true,
        }
    }

    /// The 52 weeks from Monday 2024-01-01, each the same shape (week `w`, its Monday `M`):
    ///
    /// * PR `#w+1` opened `M` 09:00 less `w % 3` days, squash-merged `M` 12:00 as `c<w>`;
    /// * `c<w>` deployed Tuesday 10:00 (created 09:50). When `w % 4 == 3` that rollout fails,
    ///   incident issue `#1000+w` is opened at 10:30, `c<w>` is deployed again at 13:00 and the
    ///   issue closed at 13:30;
    /// * when `w` is even, `d<w>` (written Wednesday 08:00) is pushed straight to main at 08:30
    ///   and deployed at 10:00.
    ///
    /// Hand-checked keys over 2024: 52 + 13 + 26 = **91 deployments** on 52 Tuesdays and 26
    /// Wednesdays (**78 deploy days**; 52 complete weeks of 1 or 2 days, half each: median and
    /// mean **1.5** a week). **13 failed** (failed rollout and incident): rate 13/91, and the 13
    /// redeployments made while their incident was open are the **13 rework** deployments.
    /// **Recovery** 10:30 -> 13:30, **10,800 s** each. **78 lead times**: 26 pushes of 7,200 s
    /// (08:00 -> 10:00) and 52 requests of 25, 49 and 73 h (18, 17 and 17 of them): median (the
    /// 39th and 40th) **90,000 s**, p90 (the 71st) **262,800 s**.
    pub fn year() -> Self {
        let monday = chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z").unwrap();
        let mut history = History {
            deployments: Vec::new(),
            pulls: Vec::new(),
            commits: Vec::new(),
            incidents: Vec::new(),
            with_run_and_release: false,
        };
        let mut parent = text("c0");
        for week in 0..52_u64 {
            let at = |day: i64, hour: i64, minute: i64| {
                let time = monday
                    + chrono::Duration::days(7 * week as i64 + day)
                    + chrono::Duration::minutes(60 * hour + minute);
                time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            };
            let merged = format!("c{week}");
            history.pulls.push(Pull {
                number: week + 1,
                head: format!("e{week}"),
                created: at(-((week % 3) as i64), 9, 0),
                closed: at(0, 12, 0),
                merge: Some(merged.clone()),
            });
            history.commits.push(Commit {
                name: merged.clone(),
                parent: std::mem::replace(&mut parent, merged.clone()),
                authored: at(0, 12, 0),
                committed: at(0, 12, 0),
                message: format!("Change {week} (#{})", week + 1),
            });
            let id = 10_000 + 10 * week;
            if week % 4 == 3 {
                history.deployments.push(Deployment {
                    id,
                    commit: merged.clone(),
                    created: at(1, 9, 50),
                    statuses: vec![(id * 10, "failure", at(1, 10, 0))],
                });
                history
                    .incidents
                    .push((1000 + week, at(1, 10, 30), at(1, 13, 30)));
                history.deployments.push(Deployment {
                    id: id + 1,
                    commit: merged.clone(),
                    created: at(1, 12, 50),
                    statuses: vec![((id + 1) * 10, "success", at(1, 13, 0))],
                });
            } else {
                history.deployments.push(Deployment {
                    id,
                    commit: merged.clone(),
                    created: at(1, 9, 50),
                    statuses: vec![(id * 10, "success", at(1, 10, 0))],
                });
            }
            if week % 2 == 0 {
                let pushed = format!("d{week}");
                history.commits.push(Commit {
                    name: pushed.clone(),
                    parent: std::mem::replace(&mut parent, pushed.clone()),
                    authored: at(2, 8, 0),
                    committed: at(2, 8, 30),
                    message: format!("Fix {week}"),
                });
                history.deployments.push(Deployment {
                    id: id + 2,
                    commit: pushed,
                    created: at(2, 9, 50),
                    statuses: vec![((id + 2) * 10, "success", at(2, 10, 0))],
                });
            }
        }
        history
    }

    /// The CloudEvents a backfill makes of it (the webhook deliveries): one per deployment
    /// status, two per pull request and per incident, one per commit, and the run and the
    /// release.
    pub fn events(&self) -> u64 {
        let statuses: usize = self.deployments.iter().map(|d| d.statuses.len()).sum();
        let extras = if self.with_run_and_release { 2 } else { 0 };
        (statuses + 2 * self.pulls.len() + self.commits.len() + 2 * self.incidents.len() + extras)
            as u64
    }
}

fn repository_rest() -> Value {
    json!({
        "id": 4242, "node_id": "R_kgDOshop", "name": "shop", "full_name": REPO,
        "private": false, "owner": {"login": "acme", "id": 1, "type": "Organization"},
        "html_url": HTML, "url": "https://api.github.com/repos/acme/shop",
        "default_branch": "main", "pushed_at": "2025-03-31T00:00:00Z",
        "archived": false
    })
}

impl History {
    /// What the fake API serves: (objects, lists), each list in GitHub's order.
    pub fn rest(&self) -> (BTreeMap<String, Value>, BTreeMap<String, Vec<Value>>) {
        let base = format!("/repos/{REPO}");
        let objects = BTreeMap::from([(base.clone(), repository_rest())]);
        let mut lists = BTreeMap::new();
        self.rest_deployments(&base, &mut lists);
        self.rest_pulls(&base, &mut lists);
        self.rest_commits(&base, &mut lists);
        self.rest_issues(&base, &mut lists);
        let (runs, releases) = match self.with_run_and_release {
            true => (
                vec![from_fixture("workflow-runs.json", run())],
                vec![from_fixture("releases.json", release())],
            ),
            false => (Vec::new(), Vec::new()),
        };
        lists.insert(format!("{base}/actions/runs"), runs);
        lists.insert(format!("{base}/releases"), releases);
        (objects, lists)
    }

    /// Deployments newest first, each one's statuses newest first.
    fn rest_deployments(&self, base: &str, lists: &mut Lists) {
        let mut listed = Vec::new();
        for d in &self.deployments {
            listed.push(from_fixture("deployments.json", json!({
                "id": d.id, "sha": sha(&d.commit), "ref": "main", "environment": "production",
                "original_environment": "production", "created_at": d.created, "updated_at": d.created,
                "payload": {}, "url": format!("https://api.github.com/repos/{REPO}/deployments/{}", d.id),
            })));
            let statuses: Vec<Value> = d
                .statuses
                .iter()
                .rev()
                .map(|(id, state, at)| {
                    from_fixture(
                        "deployment-statuses.json",
                        json!({
                            "id": id, "state": state, "environment": "production",
                            "created_at": at, "updated_at": at,
                        }),
                    )
                })
                .collect();
            lists.insert(format!("{base}/deployments/{}/statuses", d.id), statuses);
        }
        listed.reverse();
        lists.insert(format!("{base}/deployments"), listed);
    }

    /// Closed pull requests, most recently updated first.
    fn rest_pulls(&self, base: &str, lists: &mut Lists) {
        let mut pulls: Vec<Value> = self
            .pulls
            .iter()
            .map(|p| {
                let (number, closed) = (p.number, &p.closed);
                let mut pull = from_fixture(
                    "pulls.json",
                    json!({
                        "number": number, "state": "closed", "title": format!("Pull #{number}"),
                        "created_at": p.created, "updated_at": closed, "closed_at": closed,
                        "merged_at": p.merge.as_ref().map(|_| closed),
                        "merge_commit_sha": p.merge.as_deref().map(sha),
                        "html_url": format!("{HTML}/pull/{number}"),
                    }),
                );
                pull["head"]["sha"] = json!(sha(&p.head));
                pull["head"]["ref"] = json!(format!("topic-{number}"));
                pull["base"]["ref"] = json!("main");
                pull
            })
            .collect();
        pulls.reverse();
        lists.insert(format!("{base}/pulls"), pulls);
    }

    /// The default branch's commits, newest first.
    fn rest_commits(&self, base: &str, lists: &mut Lists) {
        let mut commits: Vec<Value> = self
            .commits
            .iter()
            .map(|c| {
                let id = sha(&c.name);
                let mut commit = from_fixture(
                    "commits.json",
                    json!({
                        "sha": id, "html_url": format!("{HTML}/commit/{id}"),
                        "parents": [{"sha": sha(&c.parent), "url": "", "html_url": ""}],
                    }),
                );
                commit["commit"]["author"]["date"] = json!(c.authored);
                commit["commit"]["committer"]["date"] = json!(c.committed);
                commit["commit"]["message"] = json!(c.message);
                commit
            })
            .collect();
        commits.reverse();
        lists.insert(format!("{base}/commits"), commits);
    }

    /// The incident issues, newest first.
    fn rest_issues(&self, base: &str, lists: &mut Lists) {
        let mut issues: Vec<Value> = self
            .incidents
            .iter()
            .map(|(number, opened, closed)| {
                let issue = from_fixture(
                    "issues.json",
                    json!({
                        "number": number, "title": "Checkout down", "state": "closed",
                        "created_at": opened, "updated_at": closed, "closed_at": closed,
                        "labels": [{"id": 7, "name": "incident", "color": "d73a4a", "default": false}],
                        "html_url": format!("{HTML}/issues/{number}"),
                    }),
                );
                remove(issue, "pull_request")
            })
            .collect();
        issues.reverse();
        lists.insert(format!("{base}/issues"), issues);
    }
}

/// What the fake API serves of March 2025.
pub fn rest() -> (BTreeMap<String, Value>, BTreeMap<String, Vec<Value>>) {
    History::march().rest()
}

type Lists = BTreeMap<String, Vec<Value>>;

/// The workflow run that built `c1`, as both the REST API and the webhook carry it.
fn run() -> Value {
    json!({
        "id": 501, "run_attempt": 1, "status": "completed", "conclusion": "success",
        "name": "Build", "path": ".github/workflows/build.yml", "event": "push",
        "head_sha": sha("c1"), "head_branch": "main",
        "run_started_at": "2025-03-03T13:30:00Z", "updated_at": "2025-03-03T13:40:00Z",
        "html_url": format!("{HTML}/actions/runs/501"),
    })
}

/// The release of 03-06, published 10:30.
fn release() -> Value {
    json!({
        "id": 601, "tag_name": "v1.0.0", "name": "v1.0.0", "target_commitish": "main",
        "draft": false, "prerelease": false, "published_at": "2025-03-06T10:30:00Z",
        "author": {"login": "octocat"}, "html_url": format!("{HTML}/releases/tag/v1.0.0"),
    })
}

fn remove(mut object: Value, field: &str) -> Value {
    object.as_object_mut().unwrap().remove(field);
    object
}

/// The repository as webhooks carry it (push payloads: `pushed_at` in Unix seconds).
fn repository_hook(pushed_at: Option<i64>) -> Value {
    let mut repository = json!({
        "id": 4242, "name": "shop", "full_name": REPO, "html_url": HTML,
        "default_branch": "main", "owner": {"login": "acme"},
    });
    if let Some(at) = pushed_at {
        repository["pushed_at"] = json!(at);
    }
    repository
}

fn unix(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .timestamp()
}

impl History {
    /// The webhook deliveries of the same history: (X-GitHub-Event, payload), in the order
    /// GitHub would have sent them.
    pub fn webhooks(&self) -> Vec<(&'static str, Value)> {
        let mut hooks: Hooks = Vec::new();
        self.pull_hooks(&mut hooks);
        self.push_hooks(&mut hooks);
        self.deployment_hooks(&mut hooks);
        self.issue_hooks(&mut hooks);
        if self.with_run_and_release {
            hooks.push((
                text("2025-03-03T13:40:00Z"),
                "workflow_run",
                json!({"action": "completed", "workflow_run": run(), "workflow": {"name": "Build"},
                       "repository": repository_hook(None)}),
            ));
            hooks.push((
                text("2025-03-06T10:30:00Z"),
                "release",
                json!({"action": "published", "release": release(), "repository": repository_hook(None)}),
            ));
        }
        hooks.sort_by(|a, b| a.0.cmp(&b.0));
        hooks
            .into_iter()
            .map(|(_, event, payload)| (event, payload))
            .collect()
    }

    fn pull_hooks(&self, hooks: &mut Hooks) {
        for p in &self.pulls {
            let (number, closed) = (p.number, &p.closed);
            let pull = |state: &str| {
                let is_closed = state == "closed";
                json!({
                    "number": number, "state": state, "title": format!("Pull #{number}"),
                    "created_at": p.created, "closed_at": if is_closed { json!(closed) } else { json!(null) },
                    "merged": is_closed && p.merge.is_some(),
                    "merged_at": if is_closed { json!(p.merge.as_ref().map(|_| closed)) } else { json!(null) },
                    "merge_commit_sha": p.merge.as_deref().map(sha),
                    "head": {"sha": sha(&p.head), "ref": format!("topic-{number}")}, "base": {"ref": "main"},
                    "html_url": format!("{HTML}/pull/{number}"),
                })
            };
            let payload = |action: &str, state: &str| {
                json!({
                    "action": action, "number": number, "pull_request": pull(state),
                    "repository": repository_hook(None),
                })
            };
            hooks.push((p.created.clone(), "pull_request", payload("opened", "open")));
            hooks.push((closed.clone(), "pull_request", payload("closed", "closed")));
        }
    }

    fn push_hooks(&self, hooks: &mut Hooks) {
        for c in &self.commits {
            let (id, parent) = (sha(&c.name), sha(&c.parent));
            let commit = json!({"id": id, "message": c.message, "timestamp": c.authored,
                                "author": {"name": "Dev", "email": "dev@acme.test"}});
            hooks.push((
                c.committed.clone(),
                "push",
                json!({
                    "ref": "refs/heads/main", "before": parent, "after": id,
                    "created": false, "deleted": false, "forced": false,
                    "compare": format!("{HTML}/compare/{}...{}", &parent[..12], &id[..12]),
                    "commits": [commit.clone()], "head_commit": commit,
                    "repository": repository_hook(Some(unix(&c.committed))),
                }),
            ));
        }
    }

    fn deployment_hooks(&self, hooks: &mut Hooks) {
        for d in &self.deployments {
            let deployment = json!({"id": d.id, "sha": sha(&d.commit), "ref": "main", "task": "deploy",
                                    "environment": "production", "payload": {}, "created_at": d.created});
            for (id, state, at) in &d.statuses {
                hooks.push((
                    at.clone(),
                    "deployment_status",
                    json!({
                        "action": "created",
                        "deployment_status": {"id": id, "state": state, "environment": "production",
                                              "created_at": at, "updated_at": at},
                        "deployment": deployment, "repository": repository_hook(None),
                    }),
                ));
            }
        }
    }

    fn issue_hooks(&self, hooks: &mut Hooks) {
        for (number, opened, closed) in &self.incidents {
            let issue = |state: &str| {
                json!({
                    "number": number, "title": "Checkout down", "state": state,
                    "labels": [{"name": "incident"}], "created_at": opened,
                    "closed_at": if state == "closed" { json!(closed) } else { json!(null) },
                    "html_url": format!("{HTML}/issues/{number}"),
                })
            };
            hooks.push((
                opened.clone(),
                "issues",
                json!({"action": "opened", "issue": issue("open"), "repository": repository_hook(None)}),
            ));
            hooks.push((
                closed.clone(),
                "issues",
                json!({"action": "closed", "issue": issue("closed"), "repository": repository_hook(None)}),
            ));
        }
    }
}

/// The webhook deliveries of March 2025.
pub fn webhooks() -> Vec<(&'static str, Value)> {
    History::march().webhooks()
}

/// (when, event, payload)
type Hooks = Vec<(String, &'static str, Value)>;
