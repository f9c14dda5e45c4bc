//! A small history of the GitLab project `acme/web/shop`, hand-checkable, in two shapes: the REST
//! objects the fake GitLab serves (made from GitLab's own examples,
//! `tests/fixtures/backfill/gitlab/`), and the webhook deliveries GitLab would have sent for it
//! (written here by hand from the hook examples, independently of the backfill's conversion; the
//! hooks write times the way GitLab's hooks do, e.g. `2025-03-03 15:00:00 +0100`).
//!
//! March 2025, all in `production`, service `shop` (the project's name). Commits: `f0` the head of
//! `main` before; `b1` (MR !1), `a1` its merge commit; `d2` (MR !2), `c2` its squash commit; `e3`
//! (MR !3, fast-forwarded).
//!
//! | when | what |
//! |---|---|
//! | 03-03 08:00 | `b1` committed |
//! | 03-03 09:00 | MR !1 opened |
//! | 03-03 12:00 | MR !1 merged: merge commit `a1` (parents `f0`, `b1`); push `f0` -> `a1` lists `b1`, `a1` |
//! | 03-03 13:40 | pipeline 501 of `a1` succeeds |
//! | 03-03 14:00 | deployment 101 of `a1` succeeds |
//! | 03-04 09:00 | `d2` committed; 10:00 MR !2 opened |
//! | 03-05 10:00 | MR !2 squash-merged as `c2` (parent `a1`); push `a1` -> `c2` lists `c2` |
//! | 03-05 12:00 | deployment 102 of `c2` fails |
//! | 03-05 12:30 | incident #10 (of type incident, also labelled `incident`) opened |
//! | 03-05 15:00 | deployment 103 of `c2` succeeds |
//! | 03-05 15:30 | incident #10 closed |
//! | 03-06 07:00 | `e3` committed (parent `c2`); 08:00 MR !3 opened; 09:00 fast-forward merged; push `c2` -> `e3` lists `e3` |
//! | 03-06 09:58 | deployment 105 of `e3` canceled (no hook reads it) |
//! | 03-06 10:00 | deployment 104 of `e3` succeeds |
//! | 03-06 10:30 | issue #11 labelled `incident` opened; closed 11:30 |
//! | 03-06 11:00 | MR !4 opened; closed unmerged at 12:00 |
//!
//! Besides: MR !2 was commented on 03-07 08:00 (its `updated_at`), MR !0 was merged in February
//! (before the window: it ends the list), pipeline 502 is still running.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::helpers::fixture_json;

pub const PROJECT: &str = "acme/web/shop";
/// The project's id in URLs.
pub const PROJECT_ID: &str = "acme%2Fweb%2Fshop";
pub const WEB: &str = "https://gitlab.example.com/acme/web/shop";
/// `GET /projects/:id`.
pub fn project_path() -> String {
    format!("/api/v4/projects/{PROJECT_ID}")
}

pub fn sha(name: &str) -> String {
    format!("{name:0>40}")
}

type Objects = BTreeMap<String, Value>;
type Lists = BTreeMap<String, Vec<Value>>;

/// The fixture `file` (its first element when it is a list), with `fields` written over it.
fn from_fixture(file: &str, fields: Value) -> Value {
    let fixture = fixture_json(&format!("backfill/gitlab/{file}"));
    let mut object = match fixture {
        Value::Array(items) => items[0].clone(),
        object => object,
    };
    for (key, value) in fields.as_object().unwrap() {
        object[key] = value.clone();
    }
    object
}

/// (id, commit, status, updated_at), newest first.
const DEPLOYMENTS: [(u64, &str, &str, &str); 5] = [
    (104, "e3", "success", "2025-03-06T10:00:00Z"),
    (105, "e3", "canceled", "2025-03-06T09:58:00Z"),
    (103, "c2", "success", "2025-03-05T15:00:00Z"),
    (102, "c2", "failed", "2025-03-05T12:00:00Z"),
    (101, "a1", "success", "2025-03-03T14:00:00Z"),
];

/// A merge request: iid, state, head, created, ended (merged or closed), updated, merge commit,
/// squash commit.
struct Merge {
    iid: u64,
    state: &'static str,
    head: &'static str,
    created: &'static str,
    ended: &'static str,
    updated: &'static str,
    merge_commit: Option<&'static str>,
    squash_commit: Option<&'static str>,
}

/// Most recently updated first.
fn merges() -> Vec<Merge> {
    let m = |iid, state, head, created, ended, updated, merge_commit, squash_commit| Merge {
        iid,
        state,
        head,
        created,
        ended,
        updated,
        merge_commit,
        squash_commit,
    };
    vec![
        m(
            2,
            "merged",
            "d2",
            "2025-03-04T10:00:00Z",
            "2025-03-05T10:00:00Z",
            "2025-03-07T08:00:00Z",
            None,
            Some("c2"),
        ),
        m(
            4,
            "closed",
            "dd4",
            "2025-03-06T11:00:00Z",
            "2025-03-06T12:00:00Z",
            "2025-03-06T12:00:00Z",
            None,
            None,
        ),
        m(
            3,
            "merged",
            "e3",
            "2025-03-06T08:00:00Z",
            "2025-03-06T09:00:00Z",
            "2025-03-06T09:00:00Z",
            None,
            None,
        ),
        m(
            1,
            "merged",
            "b1",
            "2025-03-03T09:00:00Z",
            "2025-03-03T12:00:00Z",
            "2025-03-03T12:00:00Z",
            Some("a1"),
            None,
        ),
        m(
            0,
            "merged",
            "ee0",
            "2025-02-01T09:00:00Z",
            "2025-02-01T12:00:00Z",
            "2025-02-01T12:00:00Z",
            Some("aa0"),
            None,
        ),
    ]
}

/// (name, parents, committed)
const COMMITS: [(&str, &[&str], &str); 5] = [
    ("b1", &["f0"], "2025-03-03T08:00:00Z"),
    ("a1", &["f0", "b1"], "2025-03-03T12:00:00Z"),
    ("d2", &["a1"], "2025-03-04T09:00:00Z"),
    ("c2", &["a1"], "2025-03-05T10:00:00Z"),
    ("e3", &["c2"], "2025-03-06T07:00:00Z"),
];

/// (iid, typed incident, created, closed, updated)
const ISSUES: [(u64, bool, &str, &str); 2] = [
    (11, false, "2025-03-06T10:30:00Z", "2025-03-06T11:30:00Z"),
    (10, true, "2025-03-05T12:30:00Z", "2025-03-05T15:30:00Z"),
];

/// The objects and lists of the fake GitLab.
pub fn rest() -> (Objects, Lists) {
    let base = project_path();
    let mut objects = Objects::new();
    let mut lists = Lists::new();
    objects.insert(
        base.clone(),
        json!({
            "id": 30, "name": "shop", "path": "shop", "path_with_namespace": PROJECT,
            "web_url": WEB, "default_branch": "main", "visibility": "private",
            "namespace": {"name": "web", "full_path": "acme/web"},
            "http_url_to_repo": format!("{WEB}.git"),
            "ssh_url_to_repo": "git@gitlab.example.com:acme/web/shop.git",
        }),
    );
    lists.insert(format!("{base}/deployments"), rest_deployments());
    rest_merges(&base, &mut objects, &mut lists);
    rest_issues(&base, &mut lists);
    rest_pipelines(&base, &mut objects, &mut lists);
    (objects, lists)
}

fn rest_deployments() -> Vec<Value> {
    DEPLOYMENTS
        .iter()
        .map(|(id, commit, status, at)| {
            let mut deployment = from_fixture(
                "deployments.json",
                json!({
                    "id": id, "iid": id - 100, "ref": "main", "sha": sha(commit),
                    "status": status, "created_at": at, "updated_at": at,
                    "environment": {"id": 9, "name": "production", "external_url": "https://shop.example.com"},
                }),
            );
            deployment["deployable"]["id"] = json!(id * 10);
            deployment
        })
        .collect()
}

fn rest_commit(name: &str) -> Value {
    let (_, parents, at) = COMMITS.iter().find(|(n, _, _)| *n == name).unwrap();
    let parents: Vec<String> = parents.iter().map(|p| sha(p)).collect();
    from_fixture(
        "commit.json",
        json!({
            "id": sha(name), "short_id": &sha(name)[..11], "title": format!("Commit {name}"),
            "message": format!("Commit {name}"), "created_at": at, "committed_date": at,
            "authored_date": at, "parent_ids": parents,
            "web_url": format!("{WEB}/-/commit/{}", sha(name)),
        }),
    )
}

fn rest_merges(base: &str, objects: &mut Objects, lists: &mut Lists) {
    let listed = merges()
        .iter()
        .map(|m| {
            let merged = m.state == "merged";
            from_fixture(
                "merge-requests.json",
                json!({
                    "id": 700 + m.iid, "iid": m.iid, "project_id": 30, "title": format!("MR !{}", m.iid),
                    "state": m.state, "created_at": m.created, "updated_at": m.updated,
                    "merged_at": if merged { json!(m.ended) } else { Value::Null },
                    "closed_at": if merged { Value::Null } else { json!(m.ended) },
                    "target_branch": "main", "source_branch": format!("topic-{}", m.iid),
                    "source_project_id": 30, "target_project_id": 30, "labels": [],
                    "sha": sha(m.head), "merge_commit_sha": m.merge_commit.map(sha),
                    "squash_commit_sha": m.squash_commit.map(sha),
                    "web_url": format!("{WEB}/-/merge_requests/{}", m.iid),
                }),
            )
        })
        .collect();
    lists.insert(format!("{base}/merge_requests"), listed);
    // `GET .../commits` lists newest first, without parents (as the example does).
    for (iid, names) in [(1, vec!["b1"]), (2, vec!["d2"]), (3, vec!["e3"])] {
        let commits = names
            .iter()
            .map(|name| {
                let (_, _, at) = COMMITS.iter().find(|(n, _, _)| n == name).unwrap();
                from_fixture(
                    "merge-request-commits.json",
                    json!({"id": sha(name), "short_id": &sha(name)[..11], "created_at": at,
                           "title": format!("Commit {name}"), "message": format!("Commit {name}")}),
                )
            })
            .collect();
        lists.insert(format!("{base}/merge_requests/{iid}/commits"), commits);
    }
    for (name, _, _) in COMMITS {
        objects.insert(
            format!("{base}/repository/commits/{}", sha(name)),
            rest_commit(name),
        );
    }
}

fn rest_issues(base: &str, lists: &mut Lists) {
    let issue = |(iid, typed, created, closed): (u64, bool, &str, &str)| {
        from_fixture(
            "issue.json",
            json!({
                "id": 900 + iid, "iid": iid, "project_id": 30, "title": format!("Incident #{iid}"),
                "state": "closed", "created_at": created, "closed_at": closed, "updated_at": closed,
                "labels": ["incident"], "issue_type": if typed { "incident" } else { "issue" },
                "type": if typed { "INCIDENT" } else { "ISSUE" },
                "web_url": format!("{WEB}/-/issues/{iid}"),
            }),
        )
    };
    let all: Vec<Value> = ISSUES.into_iter().map(issue).collect();
    let typed = vec![all[1].clone()];
    lists.insert(format!("{base}/issues?issue_type=incident"), typed);
    lists.insert(format!("{base}/issues?labels=incident"), all);
}

fn rest_pipelines(base: &str, objects: &mut Objects, lists: &mut Lists) {
    let listed = [
        (502, "running", "2025-03-06T10:05:00Z"),
        (501, "success", "2025-03-03T13:40:00Z"),
    ]
    .iter()
    .map(|(id, status, at)| {
        from_fixture(
            "pipelines.json",
            json!({"id": id, "iid": id - 500, "project_id": 30, "sha": sha("a1"), "ref": "main",
                       "status": status, "created_at": "2025-03-03T13:30:00Z", "updated_at": at,
                       "web_url": format!("{WEB}/-/pipelines/{id}")}),
        )
    })
    .collect();
    lists.insert(format!("{base}/pipelines"), listed);
    let whole = from_fixture(
        "pipeline.json",
        json!({"id": 501, "iid": 1, "project_id": 30, "name": "Build", "sha": sha("a1"),
               "ref": "main", "status": "success", "source": "push", "before_sha": sha("f0"),
               "created_at": "2025-03-03T13:30:00Z", "updated_at": "2025-03-03T13:40:00Z",
               "started_at": "2025-03-03T13:31:00Z", "finished_at": "2025-03-03T13:40:00Z",
               "duration": 540, "queued_duration": 60, "web_url": format!("{WEB}/-/pipelines/501")}),
    );
    objects.insert(format!("{base}/pipelines/501"), whole);
}

// ---------------------------------------------------------------------------------------------
// The same history as webhook deliveries

/// The hooks' `project`.
fn hook_project() -> Value {
    let mut project = fixture_json("backfill/gitlab/push-hook.json")["project"].clone();
    for (key, value) in [
        ("id", json!(30)),
        ("name", json!("shop")),
        ("web_url", json!(WEB)),
        ("homepage", json!(WEB)),
        ("path_with_namespace", json!(PROJECT)),
        ("default_branch", json!("main")),
    ] {
        project[key] = value;
    }
    project
}

/// The hook example `file` with `fields` written over it and the project's.
fn hook(file: &str, fields: Value) -> Value {
    let mut payload = fixture_json(&format!("backfill/gitlab/{file}"));
    payload["project"] = hook_project();
    for (key, value) in fields.as_object().unwrap() {
        payload[key] = value.clone();
    }
    payload
}

/// `(X-Gitlab-Event, payload)` of every delivery, in the order GitLab would have sent them.
pub fn webhooks() -> Vec<(&'static str, Value)> {
    let mut hooks = Vec::new();
    merge_hooks(&mut hooks);
    push_hooks(&mut hooks);
    deployment_hooks(&mut hooks);
    issue_hooks(&mut hooks);
    let mut pipeline = hook("pipeline-hook.json", json!({}));
    let attributes = &mut pipeline["object_attributes"];
    for (key, value) in [
        ("id", json!(501)),
        ("iid", json!(1)),
        ("ref", json!("main")),
        ("sha", json!(sha("a1"))),
        ("status", json!("success")),
        ("finished_at", json!("2025-03-03 13:40:00 UTC")),
        ("created_at", json!("2025-03-03 13:30:00 UTC")),
    ] {
        attributes[key] = value;
    }
    pipeline["merge_request"] = Value::Null;
    hooks.push(("Pipeline Hook", pipeline));
    hooks
}

type Hooks = Vec<(&'static str, Value)>;

/// Opened, then merged or closed: `updated_at` is the time of the action.
fn merge_hooks(hooks: &mut Hooks) {
    let mut merges = merges();
    merges.retain(|m| m.iid > 0);
    for m in &merges {
        let opened = hook("merge-request-hook.json", json!({"labels": []}));
        let mut attributes = opened["object_attributes"].clone();
        for (key, value) in [
            ("id", json!(700 + m.iid)),
            ("iid", json!(m.iid)),
            ("action", json!("open")),
            ("state", json!("opened")),
            ("created_at", json!(m.created)),
            ("updated_at", json!(m.created)),
            ("target_branch", json!("main")),
            ("last_commit", json!({"id": sha(m.head)})),
            ("url", json!(format!("{WEB}/-/merge_requests/{}", m.iid))),
        ] {
            attributes[key] = value;
        }
        let mut open = opened.clone();
        open["object_attributes"] = attributes.clone();
        hooks.push(("Merge Request Hook", open));
        let (action, state) = match m.state {
            "merged" => ("merge", "merged"),
            _ => ("close", "closed"),
        };
        attributes["action"] = json!(action);
        attributes["state"] = json!(state);
        attributes["updated_at"] = json!(m.ended);
        attributes["merge_commit_sha"] = json!(m.merge_commit.map(sha));
        attributes["squash_commit_sha"] = json!(m.squash_commit.map(sha));
        let mut end = opened;
        end["object_attributes"] = attributes;
        hooks.push(("Merge Request Hook", end));
    }
}

/// before, after, (commit, timestamp) of a push.
type Push = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// The pushes that landed the merge requests (commit times as GitLab writes them, with offsets).
fn push_hooks(hooks: &mut Hooks) {
    let pushes: [Push; 3] = [
        (
            "f0",
            "a1",
            &[
                ("b1", "2025-03-03T09:00:00+01:00"),
                ("a1", "2025-03-03T13:00:00+01:00"),
            ],
        ),
        ("a1", "c2", &[("c2", "2025-03-05T11:00:00+01:00")]),
        ("c2", "e3", &[("e3", "2025-03-06T08:00:00+01:00")]),
    ];
    for (before, after, commits) in pushes {
        let commits: Vec<Value> = commits
            .iter()
            .map(|(name, at)| {
                json!({"id": sha(name), "message": format!("Commit {name}"), "title": format!("Commit {name}"),
                       "timestamp": at, "url": format!("{WEB}/-/commit/{}", sha(name)),
                       "author": {"name": "Jordi Mallach", "email": "jordi@softcatala.org"},
                       "added": [], "modified": [], "removed": []})
            })
            .collect();
        let count = commits.len();
        hooks.push((
            "Push Hook",
            hook(
                "push-hook.json",
                json!({"before": sha(before), "after": sha(after), "checkout_sha": sha(after),
                       "ref": "refs/heads/main", "project_id": 30, "commits": commits,
                       "total_commits_count": count}),
            ),
        ));
    }
}

/// Each deployment's status changes (101 also `running` first), times as GitLab's hooks write them.
fn deployment_hooks(hooks: &mut Hooks) {
    let changes = [
        (101, "a1", "running", "2025-03-03 14:55:00 +0100"),
        (101, "a1", "success", "2025-03-03 15:00:00 +0100"),
        (102, "c2", "failed", "2025-03-05 13:00:00 +0100"),
        (103, "c2", "success", "2025-03-05 16:00:00 +0100"),
        (105, "e3", "canceled", "2025-03-06 10:58:00 +0100"),
        (104, "e3", "success", "2025-03-06 11:00:00 +0100"),
    ];
    for (id, commit, status, at) in changes {
        hooks.push((
            "Deployment Hook",
            hook(
                "deployment-hook.json",
                json!({"status": status, "status_changed_at": at, "deployment_id": id,
                       "deployable_id": id * 10, "deployable_url": format!("{WEB}/-/jobs/{}", id * 10),
                       "environment": "production", "environment_tier": "production",
                       "environment_slug": "production", "ref": "main",
                       "short_sha": &sha(commit)[..8],
                       "commit_url": format!("{WEB}/-/commit/{}", sha(commit))}),
            ),
        ));
    }
}

/// Each incident opened, then closed.
fn issue_hooks(hooks: &mut Hooks) {
    let mut issues = ISSUES;
    issues.reverse();
    for (iid, typed, created, closed) in issues {
        let labels = json!([{"id": 1, "title": "incident", "type": "ProjectLabel"}]);
        let base = hook("issue-hook.json", json!({"labels": labels}));
        let mut attributes = base["object_attributes"].clone();
        for (key, value) in [
            ("id", json!(900 + iid)),
            ("iid", json!(iid)),
            ("action", json!("open")),
            ("state", json!("opened")),
            ("type", json!(if typed { "Incident" } else { "Issue" })),
            ("created_at", json!(created)),
            ("updated_at", json!(created)),
            ("closed_at", Value::Null),
            ("labels", labels.clone()),
            ("url", json!(format!("{WEB}/-/issues/{iid}"))),
        ] {
            attributes[key] = value;
        }
        let mut open = base.clone();
        open["object_attributes"] = attributes.clone();
        hooks.push(("Issue Hook", open));
        attributes["action"] = json!("close");
        attributes["state"] = json!("closed");
        attributes["updated_at"] = json!(closed);
        attributes["closed_at"] = json!(closed);
        let mut close = base;
        close["object_attributes"] = attributes;
        hooks.push(("Issue Hook", close));
    }
}
