//! GitLab REST objects (`rest`) -> the webhook payloads the `gitlab` source reads, wrapped into
//! the CloudEvent `POST /webhooks/gitlab` makes of a delivery (same `type`, `source`,
//! `comgitlabevent`, no `time`, no `subject`, the payload as `data`), so the transformer cannot
//! tell them apart.
//!
//! | REST object | webhook payload(s) |
//! |---|---|
//! | deployment (`success`, `failed`) | `Deployment Hook` with its status; `status_changed_at` = the deployment's `updated_at` |
//! | merge request | `Merge Request Hook` `open`, then `merge` (merged) or `close` (closed), each with the state and times it had then |
//! | merged merge request | besides, the `Push Hook` that landed it on its target branch (see [`push`]) |
//! | incident issue (type `incident` or the incident label) | `Issue Hook` (`Confidential Issue Hook`) `open`, and `close` when closed |
//! | finished pipeline | `Pipeline Hook` with its status |
//!
//! # CloudEvent ids
//!
//! A delivery's id is its `X-Gitlab-Event-UUID`; a backfilled object has none, so its id is made
//! from the object: `backfill:<group>/<project>:<event>:<action or status>:<key>` (e.g.
//! `backfill:g/p:merge_request:merge:7`). Backfilling twice stores nothing new. The CDEvent ids,
//! what the metrics count, come from the objects in the transformer (the project URL and the
//! deployment id, the merge request iid, the pipeline id, status and finish time, the push's ref,
//! before and after, the issue iid), so a backfilled object and the same object delivered by a
//! webhook give the same CDEvent, stored once.

use chrono::{DateTime, Utc};
use dora_model::cloudevent::CloudEvent;
use dora_sources::gitlab::webhook::{delivery, event_name};
use serde_json::{json, Value};

use super::rest;
use crate::backfill::window::rfc3339;

/// Commits a push hook lists at most (GitLab lists the latest 20, and counts them all).
pub const PUSH_COMMITS: usize = 20;

/// The `project` of every payload, and the `repository` of the older ones, from
/// `GET /projects/:id`.
#[derive(Debug, Clone)]
pub struct HookProject {
    pub project: Value,
    pub repository: Value,
    pub path: String,
    pub web_url: String,
}

impl HookProject {
    pub fn new(rest: &rest::Project) -> Self {
        let visibility_level = match rest.visibility.as_deref() {
            Some("public") => 20,
            Some("internal") => 10,
            _ => 0,
        };
        let project = json!({
            "id": rest.id,
            "name": rest.name,
            "description": rest.description,
            "web_url": rest.web_url,
            "avatar_url": rest.avatar_url,
            "git_ssh_url": rest.ssh_url_to_repo,
            "git_http_url": rest.http_url_to_repo,
            "namespace": rest.namespace.as_ref().map(|n| n.name.clone()),
            "visibility_level": visibility_level,
            "path_with_namespace": rest.path_with_namespace,
            "default_branch": rest.default_branch,
            "homepage": rest.web_url,
            "url": rest.http_url_to_repo,
            "ssh_url": rest.ssh_url_to_repo,
            "http_url": rest.http_url_to_repo,
        });
        let repository = json!({
            "name": rest.name,
            "url": rest.http_url_to_repo,
            "description": rest.description,
            "homepage": rest.web_url,
        });
        Self {
            project,
            repository,
            path: rest.path_with_namespace.clone(),
            web_url: rest.web_url.trim_end_matches('/').to_owned(),
        }
    }

    /// One webhook delivery's CloudEvent for `payload` sent with `X-Gitlab-Event: <header>`;
    /// `action` and `key` identify the object within the project and event.
    pub fn cloudevent(&self, header: &str, action: &str, key: &str, payload: Value) -> CloudEvent {
        let name = event_name(header).unwrap_or_default();
        let id = format!("backfill:{}:{name}:{action}:{key}", self.path);
        delivery(id, header, &name, payload, None)
    }
}

fn time(time: &DateTime<Utc>) -> Value {
    json!(rfc3339(time))
}

fn some_time(time: Option<&DateTime<Utc>>) -> Value {
    time.map_or(Value::Null, |t| json!(rfc3339(t)))
}

/// The hook's `user` of an API user.
fn hook_user(user: Option<&rest::User>) -> Value {
    let user = user.cloned().unwrap_or_default();
    json!({"id": user.id, "name": user.name, "username": user.username, "avatar_url": user.avatar_url})
}

/// Labels as hooks carry them: `{"title": ...}`.
fn hook_labels(labels: &[String]) -> Value {
    Value::Array(labels.iter().map(|title| json!({"title": title})).collect())
}

/// A deployment that succeeded or failed -> its `Deployment Hook`; `None` for other statuses
/// (the transformer reads nothing of them).
pub fn deployment(project: &HookProject, rest: &rest::Deployment) -> Option<CloudEvent> {
    if !matches!(rest.status.as_str(), "success" | "failed") {
        return None;
    }
    let web = &project.web_url;
    let short: String = rest.sha.chars().take(8).collect();
    let deployable = rest.deployable.as_ref();
    let payload = json!({
        "object_kind": "deployment",
        "status": rest.status,
        "status_changed_at": time(&rest.updated_at),
        "deployment_id": rest.id,
        "deployable_id": deployable.map(|d| d.id),
        "deployable_url": deployable.map(|d| format!("{web}/-/jobs/{}", d.id)),
        "environment": rest.environment.name,
        "environment_tier": rest.environment.tier,
        "environment_slug": rest.environment.slug,
        "environment_external_url": rest.environment.external_url,
        "project": project.project,
        "short_sha": short,
        "user": hook_user(rest.user.as_ref()),
        "user_url": rest.user.as_ref().and_then(|u| u.web_url.clone()),
        "commit_url": format!("{web}/-/commit/{}", rest.sha),
        "commit_title": deployable.and_then(|d| d.commit.as_ref()?.title.clone()),
        "ref": rest.git_ref,
    });
    let key = rest.id.to_string();
    Some(project.cloudevent("Deployment Hook", &rest.status, &key, payload))
}

/// What the hooks of a merge request and of an issue share.
struct ObjectHook<'a> {
    /// `X-Gitlab-Event`.
    header: &'a str,
    /// `merge_request`, `issue`.
    object_kind: &'a str,
    event_type: &'a str,
    id: u64,
    iid: u64,
    title: &'a str,
    description: Option<&'a str>,
    url: &'a str,
    labels: &'a [String],
    author: Option<&'a rest::User>,
    created_at: DateTime<Utc>,
}

/// The [`ObjectHook`] of `$rest`, a [`rest::MergeRequest`] or a [`rest::Issue`] (which have
/// these fields alike), sent as `$header` with its `object_kind` and `event_type`.
macro_rules! object_hook {
    ($rest:expr, $header:expr, $object_kind:expr, $event_type:expr) => {
        ObjectHook {
            header: $header,
            object_kind: $object_kind,
            event_type: $event_type,
            id: $rest.id,
            iid: $rest.iid,
            title: &$rest.title,
            description: $rest.description.as_deref(),
            url: &$rest.web_url,
            labels: &$rest.labels,
            author: $rest.author.as_ref(),
            created_at: $rest.created_at,
        }
    };
}

impl ObjectHook<'_> {
    /// The `open` hook (as it was when opened), and the one of `end` (action, state, time)
    /// when given; `own(action)` are the object's own attributes.
    fn events(
        &self,
        project: &HookProject,
        end: Option<(&str, &str, DateTime<Utc>)>,
        own: impl Fn(&str) -> Value,
    ) -> Vec<CloudEvent> {
        let key = self.iid.to_string();
        let opened = ("open", "opened", self.created_at);
        [Some(opened), end]
            .into_iter()
            .flatten()
            .map(|(action, state, at)| {
                let payload = self.payload(project, action, state, &at, own(action));
                project.cloudevent(self.header, action, &key, payload)
            })
            .collect()
    }

    fn payload(
        &self,
        project: &HookProject,
        action: &str,
        state: &str,
        at: &DateTime<Utc>,
        own: Value,
    ) -> Value {
        let labels = hook_labels(self.labels);
        let mut attributes = json!({
            "id": self.id,
            "iid": self.iid,
            "title": self.title,
            "description": self.description,
            "state": state,
            "action": action,
            "created_at": time(&self.created_at),
            "updated_at": time(at),
            "url": self.url,
            "labels": labels,
        });
        if let (Some(attributes), Value::Object(own)) = (attributes.as_object_mut(), own) {
            attributes.extend(own);
        }
        json!({
            "object_kind": self.object_kind,
            "event_type": self.event_type,
            "user": hook_user(self.author),
            "project": project.project,
            "repository": project.repository,
            "object_attributes": attributes,
            "labels": labels,
        })
    }
}

/// A merge request -> `open` (as it was when opened), then `merge` when merged or `close` when
/// closed (as it was then: `updated_at` is that time).
pub fn merge_request(project: &HookProject, rest: &rest::MergeRequest) -> Vec<CloudEvent> {
    let hook = object_hook!(rest, "Merge Request Hook", "merge_request", "merge_request");
    let end = match (rest.state.as_str(), rest.merged_at, rest.closed_at) {
        ("merged", Some(at), _) => Some(("merge", "merged", at)),
        ("closed", _, Some(at)) => Some(("close", "closed", at)),
        _ => None,
    };
    hook.events(project, end, |action| {
        let merged = action == "merge";
        let when = |yes: bool, value: Value| if yes { value } else { Value::Null };
        json!({
            "merged_at": when(merged, some_time(rest.merged_at.as_ref())),
            "closed_at": when(action == "close", some_time(rest.closed_at.as_ref())),
            "source_branch": rest.source_branch,
            "target_branch": rest.target_branch,
            "source_project_id": rest.source_project_id,
            "target_project_id": rest.target_project_id,
            "last_commit": {"id": rest.sha},
            "merge_commit_sha": when(merged, json!(rest.merge_commit_sha)),
            "squash_commit_sha": when(merged, json!(rest.squash_commit_sha)),
        })
    })
}

/// The `Push Hook` that moved `branch` from `before` to the last of `commits` (oldest first;
/// the latest [`PUSH_COMMITS`] are listed, all are counted).
pub fn push(
    project: &HookProject,
    branch: &str,
    before: &str,
    commits: &[rest::Commit],
) -> Option<CloudEvent> {
    let after = commits.last()?.id.clone();
    let listed: Vec<Value> = commits
        .iter()
        .skip(commits.len().saturating_sub(PUSH_COMMITS))
        .map(|commit| {
            let files = commit.files.clone().unwrap_or_default();
            json!({
                "id": commit.id,
                "message": commit.message,
                "title": commit.title,
                "timestamp": some_time(commit.committed_date.or(commit.created_at).as_ref()),
                "url": commit.web_url,
                "author": {"name": commit.author_name, "email": commit.author_email},
                "added": files.added, "modified": files.modified, "removed": files.removed,
            })
        })
        .collect();
    let payload = json!({
        "object_kind": "push",
        "event_name": "push",
        "before": before,
        "after": after,
        "ref": format!("refs/heads/{branch}"),
        "checkout_sha": after,
        "project_id": project.project["id"],
        "project": project.project,
        "commits": listed,
        "total_commits_count": commits.len(),
        "repository": project.repository,
    });
    Some(project.cloudevent("Push Hook", "-", &after, payload))
}

/// An incident issue -> `open` (as it was when opened), and `close` when it is closed.
pub fn incident(project: &HookProject, rest: &rest::Issue) -> Vec<CloudEvent> {
    let (header, event_type) = match rest.confidential {
        true => ("Confidential Issue Hook", "confidential_issue"),
        false => ("Issue Hook", "issue"),
    };
    let hook = object_hook!(rest, header, "issue", event_type);
    let end = match (rest.state.as_str(), rest.closed_at) {
        ("closed", Some(at)) => Some(("close", "closed", at)),
        _ => None,
    };
    let kind = if rest.typed_incident() {
        "Incident"
    } else {
        "Issue"
    };
    hook.events(project, end, |action| {
        let closed = action == "close";
        json!({
            "closed_at": if closed { some_time(rest.closed_at.as_ref()) } else { Value::Null },
            "type": kind,
            "issue_type": rest.issue_type,
            "confidential": rest.confidential,
            "severity": rest.severity.as_deref().map(str::to_ascii_lowercase),
        })
    })
}

/// A finished pipeline -> its `Pipeline Hook`.
pub fn pipeline(project: &HookProject, rest: &rest::Pipeline) -> CloudEvent {
    let merge_request = rest
        .merge_request_iid()
        .map_or(Value::Null, |iid| json!({"iid": iid}));
    let payload = json!({
        "object_kind": "pipeline",
        "object_attributes": {
            "id": rest.id,
            "iid": rest.iid,
            "name": rest.name,
            "ref": rest.git_ref,
            "tag": rest.tag,
            "sha": rest.sha,
            "before_sha": rest.before_sha,
            "source": rest.source,
            "status": rest.status,
            "stages": [],
            "created_at": time(&rest.created_at),
            "finished_at": some_time(rest.finished_at.as_ref()),
            "duration": rest.duration,
            "queued_duration": rest.queued_duration,
            "variables": [],
            "url": rest.web_url,
        },
        "merge_request": merge_request,
        "user": hook_user(rest.user.as_ref()),
        "project": project.project,
        "commit": {"id": rest.sha},
        "builds": [],
    });
    let finished = rest.finished_at.as_ref().map(rfc3339).unwrap_or_default();
    let key = format!("{}:{finished}", rest.id);
    project.cloudevent("Pipeline Hook", &rest.status, &key, payload)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use dora_model::cloudevent::Data;
    use dora_sources::gitlab::webhook::EVENT_EXTENSION;

    fn project() -> HookProject {
        let rest: rest::Project = serde_json::from_value(json!({
            "id": 3, "name": "shop", "path_with_namespace": "acme/web/shop",
            "web_url": "https://gitlab.example.com/acme/web/shop",
        }))
        .unwrap();
        HookProject::new(&rest)
    }

    #[test]
    fn a_merged_merge_request_is_opened_then_merged_with_its_ids_from_the_object() {
        let rest: rest::MergeRequest = serde_json::from_value(json!({
            "id": 70, "iid": 7, "title": "t", "state": "merged",
            "created_at": "2025-03-03T09:00:00Z", "updated_at": "2025-03-09T00:00:00Z",
            "merged_at": "2025-03-03T12:00:00.000Z", "source_branch": "f", "target_branch": "main",
            "sha": "h", "merge_commit_sha": "m", "web_url": "https://gitlab.example.com/acme/web/shop/-/merge_requests/7",
        }))
        .unwrap();
        let events = merge_request(&project(), &rest);
        let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "backfill:acme/web/shop:merge_request:open:7",
                "backfill:acme/web/shop:merge_request:merge:7"
            ]
        );
        let Some(Data::Json(merged)) = &events[1].data else {
            panic!("JSON data")
        };
        let attributes = &merged["object_attributes"];
        assert_eq!(attributes["updated_at"], "2025-03-03T12:00:00Z");
        assert_eq!(attributes["merge_commit_sha"], "m");
        assert_eq!(events[1].source, "https://gitlab.example.com/acme/web/shop");
        assert_eq!(
            events[1].event_type,
            "dev.knative.sources.gitlab.merge_request"
        );
        assert_eq!(events[1].extensions[EVENT_EXTENSION], "Merge Request Hook");
    }

    #[test]
    fn only_finished_deployments_become_hooks() {
        let rest = |status: &str| -> rest::Deployment {
            serde_json::from_value(json!({
                "id": 41, "sha": "99d03678b90d914dbb1b109132516d71a4a03ea8", "status": status,
                "updated_at": "2025-03-03T14:00:00Z", "environment": {"name": "production"},
            }))
            .unwrap()
        };
        assert!(deployment(&project(), &rest("running")).is_none());
        let event = deployment(&project(), &rest("success")).unwrap();
        let Some(Data::Json(hook)) = &event.data else {
            panic!("JSON data")
        };
        assert_eq!(hook["short_sha"], "99d03678");
        assert_eq!(
            hook["commit_url"],
            "https://gitlab.example.com/acme/web/shop/-/commit/99d03678b90d914dbb1b109132516d71a4a03ea8"
        );
    }
}
