//! GitHub REST objects -> the webhook payloads the `github` source reads, wrapped into the
//! CloudEvents `POST /webhooks/github` makes of a delivery (same `type`, `source`, `subject`,
//! no `time`, the payload as `data`), so the transformer cannot tell them apart.
//!
//! | REST object | webhook payload(s) |
//! |---|---|
//! | deployment + each of its statuses | `deployment_status` `created`, oldest status first |
//! | pull request (closed) | `pull_request` `opened`, then `closed` (`merged` = `merged_at` is set) |
//! | commit of the default branch | `push` to `refs/heads/<default>`: `before` = its first parent, `after` = its SHA, `commits` = the commit (a merge commit: every commit it brought in, from `GET /compare`), `timestamp` = author date |
//! | issue with the incident label | `issues` `opened`, and `closed` when closed |
//! | workflow run (completed) | `workflow_run` `completed` |
//! | release (published) | `release` `published` |
//!
//! # CloudEvent ids
//!
//! A delivery's id is its GUID; a backfilled object has none, so its id is made from the
//! object: `backfill:<owner>/<name>:<event>:<action>:<object id>` (e.g.
//! `backfill:o/r:deployment_status:created:42`). Backfilling twice stores nothing new. The CDEvent
//! ids, what the metrics count, come from the objects in the transformer (`derived_id` of the
//! repository URL, the deployment id, the pull request number, ...), so a backfilled object and
//! the same object delivered by a webhook give the same CDEvent, stored once.

use dora_model::cloudevent::CloudEvent;
use dora_sources::github::webhook::{source_of, subject_of};
use dora_sources::github::TYPE_PREFIX;
use serde_json::{json, Map, Value};

/// The repository part of every payload: the fields webhooks carry and the transformer reads,
/// from `GET /repos/{owner}/{repo}` (its `pushed_at` is left out: it is the repository's last
/// push, not the backfilled one's).
pub fn repository(rest: &Value) -> Value {
    let mut repository = Map::new();
    for field in [
        "id",
        "node_id",
        "name",
        "full_name",
        "private",
        "owner",
        "html_url",
        "url",
        "default_branch",
    ] {
        if let Some(value) = rest.get(field) {
            repository.insert(field.to_owned(), value.clone());
        }
    }
    Value::Object(repository)
}

/// One webhook delivery's CloudEvent for `payload` of `event` (`push`, `deployment_status`, ...);
/// `key` identifies the object within the repository and event.
pub fn cloudevent(event: &str, key: &str, payload: Value) -> CloudEvent {
    let full_name = payload["repository"]["full_name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let action = payload["action"].as_str().unwrap_or("-").to_owned();
    let id = format!("backfill:{full_name}:{event}:{action}:{key}");
    let (source, subject) = (source_of(&payload), subject_of(event, &payload));
    CloudEvent {
        subject,
        ..CloudEvent::json(id, source, format!("{TYPE_PREFIX}{event}"), payload)
    }
}

/// The text of an object's `id` (or another key), for the CloudEvent id.
fn key_of(object: &Value, field: &str) -> String {
    match &object[field] {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A deployment and its statuses (any order) -> one `deployment_status` per status, oldest first
/// (the transformer keeps the first terminal one, as it does for webhooks).
pub fn deployment_statuses(
    repository: &Value,
    deployment: &Value,
    mut statuses: Vec<Value>,
) -> Vec<CloudEvent> {
    statuses.sort_by(|a, b| {
        let key = |s: &Value| {
            (
                s["created_at"].as_str().map(str::to_owned),
                s["id"].as_u64(),
            )
        };
        key(a).cmp(&key(b))
    });
    statuses
        .into_iter()
        .map(|status| {
            let key = format!("{}/{}", key_of(deployment, "id"), key_of(&status, "id"));
            let payload = json!({
                "action": "created",
                "deployment_status": status,
                "deployment": deployment,
                "repository": repository,
            });
            cloudevent("deployment_status", &key, payload)
        })
        .collect()
}

/// A pull request from `GET /pulls` -> `opened`, and `closed` when it is closed.
pub fn pull_request(repository: &Value, rest: &Value) -> Vec<CloudEvent> {
    let mut pull = rest.clone();
    let merged = rest["merged_at"].is_string();
    if let Some(object) = pull.as_object_mut() {
        object.insert("merged".into(), json!(merged));
    }
    let number = key_of(rest, "number");
    let payload = |action: &str| {
        json!({
            "action": action,
            "number": rest["number"],
            "pull_request": pull,
            "repository": repository,
        })
    };
    let mut events = vec![cloudevent("pull_request", &number, payload("opened"))];
    if rest["closed_at"].is_string() {
        events.push(cloudevent("pull_request", &number, payload("closed")));
    }
    events
}

/// A commit from `GET /commits` -> the push that moved `branch` from its first parent to it,
/// listing `listed` (REST commit objects, oldest first): the commit itself, or for a merge commit
/// every commit it brought in (`GET /compare/<first parent>...<sha>`), as GitHub's push lists
/// them.
pub fn push(repository: &Value, branch: &str, rest: &Value, listed: &[Value]) -> CloudEvent {
    let sha = rest["sha"].as_str().unwrap_or_default();
    let before = rest["parents"][0]["sha"]
        .as_str()
        .unwrap_or("0000000000000000000000000000000000000000");
    let mut head = push_commit(rest);
    if let Some(object) = head.as_object_mut() {
        // When it reached the branch, as near as the commit tells.
        object.insert(
            "timestamp".into(),
            rest["commit"]["committer"]["date"].clone(),
        );
    }
    let html = repository["html_url"].as_str().unwrap_or_default();
    let short = |s: &str| s.chars().take(12).collect::<String>();
    let payload = json!({
        "ref": format!("refs/heads/{branch}"),
        "before": before,
        "after": sha,
        "created": false,
        "deleted": false,
        "forced": false,
        "compare": format!("{html}/compare/{}...{}", short(before), short(sha)),
        "commits": listed.iter().map(push_commit).collect::<Vec<_>>(),
        "head_commit": head,
        "repository": repository,
    });
    cloudevent("push", sha, payload)
}

/// A REST commit object as a push lists it; `timestamp` is the author date. A commit read with
/// its `files` (`GET /commits/{sha}`) lists them as a push does: `added`, `removed`, `modified`
/// (a renamed file is its old name removed and its new one added).
fn push_commit(rest: &Value) -> Value {
    let mut listed = listed_commit(rest);
    if let (Some(files), Some(object)) = (rest["files"].as_array(), listed.as_object_mut()) {
        let (mut added, mut removed, mut modified) = (Vec::new(), Vec::new(), Vec::new());
        for file in files {
            let name = file["filename"].clone();
            match file["status"].as_str() {
                Some("added") => added.push(name),
                Some("removed") => removed.push(name),
                Some("renamed") => {
                    removed.push(file["previous_filename"].clone());
                    added.push(name);
                }
                _ => modified.push(name),
            }
        }
        object.insert("added".into(), Value::Array(added));
        object.insert("removed".into(), Value::Array(removed));
        object.insert("modified".into(), Value::Array(modified));
    }
    listed
}

fn listed_commit(rest: &Value) -> Value {
    let commit = &rest["commit"];
    let person = |who: &str| {
        json!({
            "name": commit[who]["name"],
            "email": commit[who]["email"],
            "username": rest[who]["login"],
        })
    };
    json!({
        "id": rest["sha"],
        "tree_id": commit["tree"]["sha"],
        "distinct": true,
        "message": commit["message"],
        "timestamp": commit["author"]["date"],
        "url": rest["html_url"],
        "author": person("author"),
        "committer": person("committer"),
    })
}

/// An issue carrying the incident label -> `opened`, and `closed` when closed.
pub fn incident_issue(repository: &Value, rest: &Value) -> Vec<CloudEvent> {
    let number = key_of(rest, "number");
    let payload = |action: &str| json!({"action": action, "issue": rest, "repository": repository});
    let mut events = vec![cloudevent("issues", &number, payload("opened"))];
    if rest["state"] == "closed" && rest["closed_at"].is_string() {
        events.push(cloudevent("issues", &number, payload("closed")));
    }
    events
}

/// A completed workflow run -> `workflow_run` `completed`.
pub fn workflow_run(repository: &Value, rest: &Value) -> CloudEvent {
    let key = format!(
        "{}/{}",
        key_of(rest, "id"),
        rest["run_attempt"].as_u64().unwrap_or(1)
    );
    let payload = json!({
        "action": "completed",
        "workflow_run": rest,
        "workflow": {"name": rest["name"], "path": rest["path"]},
        "repository": repository,
    });
    cloudevent("workflow_run", &key, payload)
}

/// A published release -> `release` `published`.
pub fn release(repository: &Value, rest: &Value) -> CloudEvent {
    let payload = json!({"action": "published", "release": rest, "repository": repository});
    cloudevent("release", &key_of(rest, "id"), payload)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use dora_model::cloudevent::Data;

    fn repository() -> Value {
        json!({"full_name": "o/r", "name": "r", "html_url": "https://github.com/o/r"})
    }

    fn commit(sha: &str, parents: &[&str], authored: &str) -> Value {
        let parents: Vec<Value> = parents.iter().map(|p| json!({"sha": p})).collect();
        json!({
            "sha": sha, "parents": parents, "html_url": format!("https://github.com/o/r/commit/{sha}"),
            "commit": {"message": "m", "author": {"name": "a", "date": authored},
                       "committer": {"name": "c", "date": "2025-01-02T00:00:00Z"}},
        })
    }

    #[test]
    fn a_merge_commit_is_a_push_of_what_it_brought_in() {
        let merge = commit("m1", &["p0", "f2"], "2025-01-02T00:00:00Z");
        let listed = [
            commit("f1", &["p0"], "2024-12-30T00:00:00Z"),
            commit("f2", &["f1"], "2024-12-31T00:00:00Z"),
            merge.clone(),
        ];
        let event = push(&repository(), "main", &merge, &listed);
        assert_eq!(event.id, "backfill:o/r:push:-:m1");
        assert_eq!(event.event_type, "dev.knative.source.github.push");
        assert_eq!(event.source, "https://github.com/o/r");
        assert_eq!(event.subject.as_deref(), Some("p0...m1"));
        let Some(Data::Json(data)) = event.data else {
            panic!("JSON data")
        };
        assert_eq!(
            (data["before"].as_str(), data["after"].as_str()),
            (Some("p0"), Some("m1"))
        );
        let ids: Vec<&str> = data["commits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["f1", "f2", "m1"]);
        assert_eq!(data["commits"][0]["timestamp"], "2024-12-30T00:00:00Z");
        assert_eq!(data["head_commit"]["timestamp"], "2025-01-02T00:00:00Z");
        assert_eq!(data["ref"], "refs/heads/main");
    }

    #[test]
    fn statuses_are_sent_oldest_first_with_ids_from_the_objects() {
        let deployment = json!({"id": 7, "sha": "s", "environment": "production"});
        let statuses = vec![
            json!({"id": 2, "state": "success", "created_at": "2025-01-01T00:02:00Z"}),
            json!({"id": 1, "state": "pending", "created_at": "2025-01-01T00:01:00Z"}),
        ];
        let events = deployment_statuses(&repository(), &deployment, statuses);
        let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "backfill:o/r:deployment_status:created:7/1",
                "backfill:o/r:deployment_status:created:7/2"
            ]
        );
        assert_eq!(events[0].subject.as_deref(), Some("7"));
    }

    #[test]
    fn a_listed_pull_request_says_whether_it_was_merged() {
        let merged = json!({"number": 3, "closed_at": "2025-01-02T00:00:00Z", "merged_at": "2025-01-02T00:00:00Z"});
        let events = pull_request(&repository(), &merged);
        assert_eq!(events.len(), 2);
        let Some(Data::Json(closed)) = &events[1].data else {
            panic!("JSON data")
        };
        assert_eq!(
            (
                closed["action"].as_str(),
                closed["pull_request"]["merged"].as_bool()
            ),
            (Some("closed"), Some(true))
        );
        let open = json!({"number": 4, "closed_at": null, "merged_at": null});
        assert_eq!(pull_request(&repository(), &open).len(), 1);
    }
}
