//! Bitbucket Cloud: its webhook deliveries, wrapped by `POST /webhooks/bitbucket` into
//! CloudEvents of type [`TYPE_PREFIX`]`<event key>` (the `X-Event-Key` with `:` as `.`:
//! `repo:push` -> `org.bitbucket.cloud.repo.push`) -> changes.
//!
//! # Output (CDEvents v0.5.1)
//!
//! | Bitbucket event | condition | CDEvent |
//! |---|---|---|
//! | `repo:push` | each change of a branch, not deleted, with commits | `change.updated` ([`CHANGE_UPDATED`]) |
//! | `pullrequest:created` | | `change.created` ([`CHANGE_CREATED`]) |
//! | `pullrequest:fulfilled` (merged) | | `change.merged` ([`CHANGE_MERGED`]) |
//! | `pullrequest:rejected` (declined) | | `change.abandoned` ([`CHANGE_ABANDONED`]) |
//! | anything else (tags, `pullrequest:updated`, comments, approvals, `repo:commit_status_*`, ...) | | nothing |
//! | `org.bitbucket.cloud.api.deployment` (not a webhook: `backfill bitbucket`) | completed, successful or failed | `service.deployed` (see `deployment.rs`) |
//!
//! Bitbucket Cloud has no deployment webhook: Pipelines deployments are not sent to webhooks
//! (a pipeline's result arrives only as a `repo:commit_status_*` build status, which says
//! nothing of an environment). `dora-events backfill bitbucket` reads them from the
//! Deployments API instead; other deploying tools (CDEvents, Argo CD, Flux, Kubernetes) work
//! too. They ship the pushed commits by SHA.
//!
//! A push is a `change.updated` as with GitHub and GitLab: the change is the pushed range,
//! `subject.id` = `<workspace>/<repository>@<after>`, `customData.dora.revision` = the new head
//! and `customData.dora.commits` the listed commits with their dates (Bitbucket lists the
//! newest first, at most five: `customData.bitbucket.truncated`). One push may move several
//! branches: one CDEvent per branch.
//!
//! Pull requests: `subject.id` = `<workspace>/<repository>#<id>`. Bitbucket abbreviates the
//! hashes of a pull request payload (12 hex digits); a short SHA never matches a full one
//! (METRICS.md), so the merge commit is `customData.dora.mergeSha` only when full, else
//! `customData.dora.shortMergeSha`. Lead time therefore comes from the push that brought
//! the merge onto the branch (its commits are full SHAs), as for a direct push.
//!
//! # Times
//!
//! push: the date of the head commit, else the new head's `target.date`, else the latest listed
//! commit date; created: `created_on`; merged and declined: `updated_on`. Else the CloudEvent
//! `time`, else an error naming the field.
//!
//! # Identity
//!
//! Every CDEvent id is `derived_id(["bitbucket", <repository URL>, <what>, <key>...])`, so the
//! same fact delivered twice gets the same id: push: `"push"`, ref, before (40 zeros for a new
//! branch), after; pull request: `"pullrequest"`, id, `"created"` | `"merged"` | `"abandoned"`
//! + the decline time. The context `source` and `subject.source` are the repository URL
//!   (`repository.links.html.href`, else `https://bitbucket.org/<full_name>`).

use dora_model::cloudevent::CloudEvent;
use dora_model::time::format_rfc3339;
use serde_json::{Map, Value};

use super::payload::{self, Endpoint, Links};
use crate::code_host::{
    is_full_sha, listed_commits, ListedCommits, Push, Repository, RepositoryFact,
};
use crate::common::{insert_some, no_timestamp, payload as data_of, read, time_or_event_time};
use crate::transform::{
    Emitted, TransformError, Transformer, CHANGE_ABANDONED, CHANGE_CREATED, CHANGE_MERGED,
    CHANGE_UPDATED,
};

/// The CloudEvent type prefix of Bitbucket Cloud events (`POST /webhooks/bitbucket`).
pub const TYPE_PREFIX: &str = "org.bitbucket.cloud.";

/// `before` of a branch that did not exist, as git writes it.
const NO_COMMIT: &str = "0000000000000000000000000000000000000000";

/// The CloudEvent type of an `X-Event-Key` (`repo:push` -> `org.bitbucket.cloud.repo.push`).
pub fn event_type(event_key: &str) -> String {
    format!("{TYPE_PREFIX}{}", event_key.replace(':', "."))
}

/// The `bitbucket` transformer.
pub struct BitbucketTransformer;

impl Transformer for BitbucketTransformer {
    fn name(&self) -> &str {
        "bitbucket"
    }

    fn transform(&self, event: &CloudEvent) -> Result<Vec<Emitted>, TransformError> {
        match event.event_type.strip_prefix(TYPE_PREFIX) {
            Some("repo.push") => push(event, data_of(event)?),
            Some("pullrequest.created") => pull_request(event, data_of(event)?, Action::Created),
            Some("pullrequest.fulfilled") => pull_request(event, data_of(event)?, Action::Merged),
            Some("pullrequest.rejected") => pull_request(event, data_of(event)?, Action::Abandoned),
            Some("api.deployment") => super::deployment::deployment(event, data_of(event)?),
            _ => Ok(Vec::new()),
        }
    }
}

/// The repository of an event: `full_name` must be `<workspace>/<repository>`.
pub(crate) fn repository<'a>(
    repository: &payload::Repository<'a>,
) -> Result<Repository<'a>, TransformError> {
    let path = repository.full_name;
    let url = Links::html(repository.links.as_ref());
    Repository::at("bitbucket", path, &[url], "https://bitbucket.org").ok_or_else(|| {
        TransformError::new(format!(
            "data.repository.full_name {path:?} is not <workspace>/<repository>"
        ))
    })
}

// ---------------------------------------------------------------------------------------------
// repo:push

/// `repo:push` -> one `change.updated` per branch it moved with commits.
fn push(event: &CloudEvent, data: &Value) -> Result<Vec<Emitted>, TransformError> {
    let pushed: payload::PushEvent = read(data)?;
    let repo = repository(&pushed.repository)?;
    let default_branch = pushed
        .repository
        .mainbranch
        .as_ref()
        .and_then(|branch| branch.name);
    let mut out = Vec::new();
    for (index, change) in pushed.push.changes.iter().enumerate() {
        if let Some(emitted) = branch_update(&repo, change, default_branch, event, index)? {
            out.push(emitted);
        }
    }
    Ok(out)
}

/// One change of a push: a branch (not a tag) that still exists and got commits.
fn branch_update(
    repo: &Repository<'_>,
    change: &payload::RefChange<'_>,
    default_branch: Option<&str>,
    event: &CloudEvent,
    index: usize,
) -> Result<Option<Emitted>, TransformError> {
    let Some(new) = change.new.as_ref().filter(|new| new.kind == "branch") else {
        // A deleted branch, or a tag.
        return Ok(None);
    };
    if change.commits.is_empty() {
        return Ok(None);
    }
    let after = new.target.hash;
    let before = change.old.as_ref().map_or(NO_COMMIT, |old| old.target.hash);
    let git_ref = format!("refs/heads/{}", new.name);
    let ListedCommits {
        listed,
        head_time,
        latest_time,
    } = listed_commits(&change.commits, after);
    let timestamp = head_time
        .or(new.target.date)
        .or(latest_time)
        .or(event.time)
        .ok_or_else(|| {
            no_timestamp(&[
                format!("data.push.changes[{index}].commits[].date"),
                format!("data.push.changes[{index}].new.target.date"),
            ])
        })?;
    let dora = repo.push_dora(Push {
        before,
        after,
        git_ref: &git_ref,
        branch: new.name,
        default_branch,
        commits: listed,
    });
    let mut own = Map::new();
    insert_some(&mut own, "truncated", change.truncated);
    insert_some(&mut own, "forced", change.forced);
    insert_some(&mut own, "created", change.created);
    Ok(Some(repo.cdevent(RepositoryFact {
        event_type: CHANGE_UPDATED,
        id: repo.id(&["push", &git_ref, before, after]),
        timestamp,
        subject_id: format!("{}@{after}", repo.path),
        content: repo.change_content(None),
        dora,
        own,
    })))
}

// ---------------------------------------------------------------------------------------------
// pullrequest:*

/// What a pull request event says happened.
#[derive(Clone, Copy)]
enum Action {
    Created,
    Merged,
    Abandoned,
}

/// `pullrequest:created` -> `change.created`; `fulfilled` -> `change.merged`; `rejected` ->
/// `change.abandoned`.
fn pull_request(
    event: &CloudEvent,
    data: &Value,
    action: Action,
) -> Result<Vec<Emitted>, TransformError> {
    let payload::PullRequestEvent {
        repository: payload_repository,
        pullrequest: pr,
    } = read(data)?;
    let repo = repository(&payload_repository)?;
    let number = pr.id.to_string();
    let mut dora = repo.dora();
    dora.detail("number", pr.id);
    insert_some(
        &mut dora.details,
        "sourceBranch",
        Endpoint::branch(pr.source.as_ref()),
    );
    insert_some(
        &mut dora.details,
        "targetBranch",
        Endpoint::branch(pr.destination.as_ref()),
    );
    insert_some(
        &mut dora.details,
        "shortHeadSha",
        Endpoint::hash(pr.source.as_ref()),
    );
    dora.created_at = Some(format_rfc3339(&pr.created_on));
    let mut own = Map::new();
    insert_some(&mut own, "url", Links::html(pr.links.as_ref()));
    insert_some(&mut own, "state", pr.state);
    insert_some(&mut own, "repositoryUuid", payload_repository.uuid);

    let updated = || time_or_event_time(pr.updated_on, event, &["data.pullrequest.updated_on"]);
    let (event_type, id, timestamp, description) = match action {
        Action::Created => (
            CHANGE_CREATED,
            repo.id(&["pullrequest", &number, "created"]),
            pr.created_on,
            pr.title,
        ),
        Action::Merged => {
            let merged_at = updated()?;
            dora.merged_at = Some(format_rfc3339(&merged_at));
            match pr.merge_commit.as_ref().and_then(|commit| commit.hash) {
                Some(sha) if is_full_sha(sha) => dora.merge_sha = Some(sha.to_owned()),
                Some(short) => {
                    dora.detail("shortMergeSha", short);
                }
                None => {}
            }
            let id = repo.id(&["pullrequest", &number, "merged"]);
            (CHANGE_MERGED, id, merged_at, None)
        }
        Action::Abandoned => {
            let closed_at = updated()?;
            let closed_text = format_rfc3339(&closed_at);
            dora.detail("closedAt", closed_text.as_str());
            insert_some(&mut own, "reason", pr.reason);
            let id = repo.id(&["pullrequest", &number, "abandoned", &closed_text]);
            (CHANGE_ABANDONED, id, closed_at, None)
        }
    };
    Ok(vec![repo.cdevent(RepositoryFact {
        event_type,
        id,
        timestamp,
        subject_id: format!("{}#{number}", repo.path),
        content: repo.change_content(description),
        dora,
        own,
    })])
}
