//! The parts of Bitbucket Cloud's webhook payloads the transformer reads, as serde structs: only
//! the fields it uses (the others are ignored), read with [`crate::common::read`] (or, by the
//! webhook, [`crate::common::read_fields`]) so that a wrong or missing field is named.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::code_host::Commit;
use crate::common::de;

/// `repository`, in every event the transformer reads.
#[derive(Deserialize)]
pub(crate) struct Repository<'a> {
    /// `<workspace>/<repository slug>`.
    #[serde(deserialize_with = "de::text")]
    pub(crate) full_name: &'a str,
    #[serde(borrow, default)]
    pub(crate) links: Option<Links<'a>>,
    /// The main branch, when the payload names it.
    #[serde(borrow, default)]
    pub(crate) mainbranch: Option<Branch<'a>>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) uuid: Option<&'a str>,
}

/// `links` of a repository or a pull request: only the web page.
#[derive(Deserialize)]
pub(crate) struct Links<'a> {
    #[serde(borrow, default)]
    pub(crate) html: Option<Href<'a>>,
}

/// `{"href": ...}`.
#[derive(Deserialize)]
pub(crate) struct Href<'a> {
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) href: Option<&'a str>,
}

impl<'a> Links<'a> {
    /// `html.href`.
    pub(crate) fn html(links: Option<&Links<'a>>) -> Option<&'a str> {
        links?.html.as_ref()?.href
    }
}

/// `{"name": ...}` of a branch.
#[derive(Deserialize)]
pub(crate) struct Branch<'a> {
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) name: Option<&'a str>,
}

// ---------------------------------------------------------------------------------------------
// repo:push

/// A `repo:push`.
#[derive(Deserialize)]
pub(crate) struct PushEvent<'a> {
    #[serde(borrow)]
    pub(crate) repository: Repository<'a>,
    #[serde(borrow)]
    pub(crate) push: Changes<'a>,
}

/// `push`: one change per branch or tag the push moved.
#[derive(Deserialize)]
pub(crate) struct Changes<'a> {
    #[serde(borrow)]
    pub(crate) changes: Vec<RefChange<'a>>,
}

/// `push.changes[]`: `old` is `null` for a created branch, `new` for a deleted one.
#[derive(Deserialize)]
pub(crate) struct RefChange<'a> {
    #[serde(borrow, default)]
    pub(crate) old: Option<Ref<'a>>,
    #[serde(borrow, default)]
    pub(crate) new: Option<Ref<'a>>,
    /// The newest commits first, at most five (then `truncated` is true).
    #[serde(borrow, default)]
    pub(crate) commits: Vec<Commit<'a>>,
    #[serde(default, deserialize_with = "de::lenient")]
    pub(crate) truncated: Option<bool>,
    #[serde(default, deserialize_with = "de::lenient")]
    pub(crate) forced: Option<bool>,
    #[serde(default, deserialize_with = "de::lenient")]
    pub(crate) created: Option<bool>,
}

/// A branch or tag: `type` is `branch` or `tag` (`annotated_tag`).
#[derive(Deserialize)]
pub(crate) struct Ref<'a> {
    #[serde(deserialize_with = "de::text")]
    pub(crate) name: &'a str,
    #[serde(rename = "type", deserialize_with = "de::text")]
    pub(crate) kind: &'a str,
    #[serde(borrow)]
    pub(crate) target: Target<'a>,
}

/// The commit a branch or tag points to.
#[derive(Deserialize)]
pub(crate) struct Target<'a> {
    #[serde(deserialize_with = "de::text")]
    pub(crate) hash: &'a str,
    #[serde(default, deserialize_with = "de::optional_time")]
    pub(crate) date: Option<DateTime<Utc>>,
}

// ---------------------------------------------------------------------------------------------
// pullrequest:*

/// A `pullrequest:<action>`.
#[derive(Deserialize)]
pub(crate) struct PullRequestEvent<'a> {
    #[serde(borrow)]
    pub(crate) repository: Repository<'a>,
    #[serde(borrow)]
    pub(crate) pullrequest: PullRequest<'a>,
}

/// `pullrequest`.
#[derive(Deserialize)]
pub(crate) struct PullRequest<'a> {
    pub(crate) id: u64,
    #[serde(deserialize_with = "de::time")]
    pub(crate) created_on: DateTime<Utc>,
    #[serde(default, deserialize_with = "de::optional_time")]
    pub(crate) updated_on: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) title: Option<&'a str>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) state: Option<&'a str>,
    /// Why it was declined.
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) reason: Option<&'a str>,
    #[serde(borrow, default)]
    pub(crate) source: Option<Endpoint<'a>>,
    #[serde(borrow, default)]
    pub(crate) destination: Option<Endpoint<'a>>,
    #[serde(borrow, default)]
    pub(crate) merge_commit: Option<CommitRef<'a>>,
    #[serde(borrow, default)]
    pub(crate) links: Option<Links<'a>>,
}

/// `source` or `destination` of a pull request.
#[derive(Deserialize)]
pub(crate) struct Endpoint<'a> {
    #[serde(borrow, default)]
    pub(crate) branch: Option<Branch<'a>>,
    #[serde(borrow, default)]
    pub(crate) commit: Option<CommitRef<'a>>,
}

/// `{"hash": ...}`: Bitbucket abbreviates it (12 hex digits) in pull request payloads.
#[derive(Deserialize)]
pub(crate) struct CommitRef<'a> {
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) hash: Option<&'a str>,
}

impl<'a> Endpoint<'a> {
    /// `branch.name`.
    pub(crate) fn branch(endpoint: Option<&Endpoint<'a>>) -> Option<&'a str> {
        endpoint?.branch.as_ref()?.name
    }

    /// `commit.hash`.
    pub(crate) fn hash(endpoint: Option<&Endpoint<'a>>) -> Option<&'a str> {
        endpoint?.commit.as_ref()?.hash
    }
}
