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

struct Deployment {
    id: u64,
    commit: &'static str,
    created: &'static str,
    /// (status id, state, time), oldest first.
    statuses: Vec<(u64, &'static str, &'static str)>,
}

fn deployments() -> Vec<Deployment> {
    let d = |id, commit, created, statuses| Deployment {
        id,
        commit,
        created,
        statuses,
    };
    vec![
        d(
            101,
            "c1",
            "2025-03-03T13:50:00Z",
            vec![
                (1001, "in_progress", "2025-03-03T13:55:00Z"),
                (1002, "success", "2025-03-03T14:00:00Z"),
            ],
        ),
        d(
            102,
            "c2",
            "2025-03-05T11:50:00Z",
            vec![(1003, "failure", "2025-03-05T12:00:00Z")],
        ),
        d(
            103,
            "c2",
            "2025-03-05T14:50:00Z",
            vec![(1004, "success", "2025-03-05T15:00:00Z")],
        ),
        d(
            104,
            "c3",
            "2025-03-06T09:50:00Z",
            vec![(1005, "success", "2025-03-06T10:00:00Z")],
        ),
    ]
}

/// (number, head, created, closed, merge commit when merged)
type Pull = (
    u64,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
);

fn pulls() -> Vec<Pull> {
    vec![
        (
            1,
            "h1",
            "2025-03-03T09:00:00Z",
            "2025-03-03T12:00:00Z",
            Some("c1"),
        ),
        (
            2,
            "h2",
            "2025-03-04T10:00:00Z",
            "2025-03-05T10:00:00Z",
            Some("c2"),
        ),
        (
            3,
            "h3",
            "2025-03-06T11:00:00Z",
            "2025-03-06T12:00:00Z",
            None,
        ),
    ]
}

/// (sha, parent, author date, committer date, message)
type Commit = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

fn commits() -> Vec<Commit> {
    vec![
        (
            "c1",
            "c0",
            "2025-03-03T12:00:00Z",
            "2025-03-03T12:00:00Z",
            "Checkout (#1)",
        ),
        (
            "c2",
            "c1",
            "2025-03-05T10:00:00Z",
            "2025-03-05T10:00:00Z",
            "Cart (#2)",
        ),
        (
            "c3",
            "c2",
            "2025-03-06T08:00:00Z",
            "2025-03-06T08:30:00Z",
            "Fix the footer",
        ),
    ]
}

const INCIDENT: (u64, &str, &str) = (10, "2025-03-05T12:30:00Z", "2025-03-05T15:30:00Z");

fn repository_rest() -> Value {
    json!({
        "id": 4242, "node_id": "R_kgDOshop", "name": "shop", "full_name": REPO,
        "private": false, "owner": {"login": "acme", "id": 1, "type": "Organization"},
        "html_url": HTML, "url": "https://api.github.com/repos/acme/shop",
        "default_branch": "main", "pushed_at": "2025-03-31T00:00:00Z",
        "archived": false
    })
}

/// What the fake API serves: (objects, lists), each list in GitHub's order.
pub fn rest() -> (BTreeMap<String, Value>, BTreeMap<String, Vec<Value>>) {
    let base = format!("/repos/{REPO}");
    let objects = BTreeMap::from([(base.clone(), repository_rest())]);
    let mut lists = BTreeMap::new();
    rest_deployments(&base, &mut lists);
    rest_pulls(&base, &mut lists);
    rest_commits(&base, &mut lists);
    rest_issues(&base, &mut lists);
    lists.insert(
        format!("{base}/actions/runs"),
        vec![from_fixture("workflow-runs.json", run())],
    );
    lists.insert(
        format!("{base}/releases"),
        vec![from_fixture("releases.json", release())],
    );
    (objects, lists)
}

type Lists = BTreeMap<String, Vec<Value>>;

/// Deployments newest first, each one's statuses newest first.
fn rest_deployments(base: &str, lists: &mut Lists) {
    let mut listed = Vec::new();
    for d in deployments() {
        listed.push(from_fixture("deployments.json", json!({
            "id": d.id, "sha": sha(d.commit), "ref": "main", "environment": "production",
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
fn rest_pulls(base: &str, lists: &mut Lists) {
    let mut pulls: Vec<Value> = pulls()
        .into_iter()
        .map(|(number, head, created, closed, merge)| {
            let mut pull = from_fixture(
                "pulls.json",
                json!({
                    "number": number, "state": "closed", "title": format!("Pull #{number}"),
                    "created_at": created, "updated_at": closed, "closed_at": closed,
                    "merged_at": merge.map(|_| closed), "merge_commit_sha": merge.map(sha),
                    "html_url": format!("{HTML}/pull/{number}"),
                }),
            );
            pull["head"]["sha"] = json!(sha(head));
            pull["head"]["ref"] = json!(format!("topic-{number}"));
            pull["base"]["ref"] = json!("main");
            pull
        })
        .collect();
    pulls.reverse();
    lists.insert(format!("{base}/pulls"), pulls);
}

/// The default branch's commits, newest first.
fn rest_commits(base: &str, lists: &mut Lists) {
    let mut commits: Vec<Value> = commits()
        .into_iter()
        .map(|(id, parent, authored, committed, message)| {
            let mut commit = from_fixture(
                "commits.json",
                json!({
                    "sha": sha(id), "html_url": format!("{HTML}/commit/{}", sha(id)),
                    "parents": [{"sha": sha(parent), "url": "", "html_url": ""}],
                }),
            );
            commit["commit"]["author"]["date"] = json!(authored);
            commit["commit"]["committer"]["date"] = json!(committed);
            commit["commit"]["message"] = json!(message);
            commit
        })
        .collect();
    commits.reverse();
    lists.insert(format!("{base}/commits"), commits);
}

/// The incident issue.
fn rest_issues(base: &str, lists: &mut Lists) {
    let (number, opened, closed) = INCIDENT;
    let issue = from_fixture(
        "issues.json",
        json!({
            "number": number, "title": "Checkout down", "state": "closed",
            "created_at": opened, "updated_at": closed, "closed_at": closed,
            "labels": [{"id": 7, "name": "incident", "color": "d73a4a", "default": false}],
            "html_url": format!("{HTML}/issues/{number}"),
        }),
    );
    let issue = remove(issue, "pull_request");
    lists.insert(format!("{base}/issues"), vec![issue]);
}

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

/// The webhook deliveries of the same history: (X-GitHub-Event, payload), in the order GitHub
/// would have sent them.
pub fn webhooks() -> Vec<(&'static str, Value)> {
    let mut hooks: Hooks = Vec::new();
    pull_hooks(&mut hooks);
    push_hooks(&mut hooks);
    deployment_hooks(&mut hooks);
    issue_hooks(&mut hooks);
    hooks.push((
        "2025-03-03T13:40:00Z",
        "workflow_run",
        json!({"action": "completed", "workflow_run": run(), "workflow": {"name": "Build"},
               "repository": repository_hook(None)}),
    ));
    hooks.push((
        "2025-03-06T10:30:00Z",
        "release",
        json!({"action": "published", "release": release(), "repository": repository_hook(None)}),
    ));
    hooks.sort_by(|a, b| a.0.cmp(b.0));
    hooks
        .into_iter()
        .map(|(_, event, payload)| (event, payload))
        .collect()
}

/// (when, event, payload)
type Hooks = Vec<(&'static str, &'static str, Value)>;

fn pull_hooks(hooks: &mut Hooks) {
    for (number, head, created, closed, merge) in pulls() {
        let pull = |state: &str| {
            json!({
                "number": number, "state": state, "title": format!("Pull #{number}"),
                "created_at": created, "closed_at": if state == "closed" { json!(closed) } else { json!(null) },
                "merged": state == "closed" && merge.is_some(),
                "merged_at": if state == "closed" { json!(merge.map(|_| closed)) } else { json!(null) },
                "merge_commit_sha": merge.map(sha),
                "head": {"sha": sha(head), "ref": format!("topic-{number}")}, "base": {"ref": "main"},
                "html_url": format!("{HTML}/pull/{number}"),
            })
        };
        let payload = |action: &str, state: &str| {
            json!({
                "action": action, "number": number, "pull_request": pull(state),
                "repository": repository_hook(None),
            })
        };
        hooks.push((created, "pull_request", payload("opened", "open")));
        hooks.push((closed, "pull_request", payload("closed", "closed")));
    }
}

fn push_hooks(hooks: &mut Hooks) {
    for (id, parent, authored, committed, message) in commits() {
        let commit = json!({"id": sha(id), "message": message, "timestamp": authored,
                            "author": {"name": "Dev", "email": "dev@acme.test"}});
        hooks.push((
            committed,
            "push",
            json!({
                "ref": "refs/heads/main", "before": sha(parent), "after": sha(id),
                "created": false, "deleted": false, "forced": false,
                "compare": format!("{HTML}/compare/{}...{}", &sha(parent)[..12], &sha(id)[..12]),
                "commits": [commit.clone()], "head_commit": commit,
                "repository": repository_hook(Some(unix(committed))),
            }),
        ));
    }
}

fn deployment_hooks(hooks: &mut Hooks) {
    for d in deployments() {
        let deployment = json!({"id": d.id, "sha": sha(d.commit), "ref": "main", "task": "deploy",
                                "environment": "production", "payload": {}, "created_at": d.created});
        for (id, state, at) in d.statuses {
            hooks.push((
                at,
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

fn issue_hooks(hooks: &mut Hooks) {
    let (number, opened, closed) = INCIDENT;
    let issue = |state: &str| {
        json!({
            "number": number, "title": "Checkout down", "state": state,
            "labels": [{"name": "incident"}], "created_at": opened,
            "closed_at": if state == "closed" { json!(closed) } else { json!(null) },
            "html_url": format!("{HTML}/issues/{number}"),
        })
    };
    hooks.push((
        opened,
        "issues",
        json!({"action": "opened", "issue": issue("open"), "repository": repository_hook(None)}),
    ));
    hooks.push((
        closed,
        "issues",
        json!({"action": "closed", "issue": issue("closed"), "repository": repository_hook(None)}),
    ));
}
