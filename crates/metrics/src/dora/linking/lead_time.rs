//! Linking rules of lead time (`crate::dora::linking`): which deployments contain a change, the
//! first production one (where the change counts), and when the change started.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::super::facts::{Change, Deployment, DoraConfig};
use super::targets::is_production;

/// Commit SHAs compare case-insensitively, whole string (no short-SHA prefix matching).
fn same_sha(a: &str, b: &str) -> bool {
    !a.is_empty() && a.eq_ignore_ascii_case(b)
}

/// Containment: `change` is contained in `deployment` when the change names no service or the
/// deployment's service, and the deployment's artifact is one built from the change, or the
/// deployment's revision is the change's merge SHA or one of its commit SHAs, or the deployment
/// says it ships the change (`deployment_refs`).
///
/// There is no git graph: a deployment of a later commit does not contain earlier changes
/// unless they are linked to it by artifact or by their own SHAs.
pub fn contains(deployment: &Deployment, change: &Change) -> bool {
    if let Some(service) = &change.service {
        if service != &deployment.service {
            return false;
        }
    }
    let by_artifact = deployment
        .artifact_id
        .as_deref()
        .is_some_and(|a| !a.is_empty() && change.artifact_ids.iter().any(|x| x == a));
    let by_revision = deployment.revision.as_deref().is_some_and(|r| {
        change.merge_sha.as_deref().is_some_and(|m| same_sha(m, r))
            || change.commits.iter().any(|c| same_sha(&c.sha, r))
    });
    by_artifact || by_revision || change.deployment_refs.contains(&deployment.id)
}

/// The first production deployment (by time, ties by id) among `candidates` that contains
/// `change`: where the change counts for lead time.
pub fn first_production_deployment<'a>(
    change: &Change,
    candidates: impl IntoIterator<Item = &'a Deployment>,
    config: &DoraConfig,
) -> Option<&'a Deployment> {
    candidates
        .into_iter()
        .filter(|d| is_production(&d.environment, config) && contains(d, change))
        .min_by_key(|d| d.order_key())
}

/// Which timestamp a change's start came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartSource {
    /// The earliest commit timestamp not after the deployment.
    Commit,
    /// The change's creation (pull/merge request opened).
    Created,
    /// The change's merge.
    Merged,
}

/// The start of a change relative to the deployment that shipped it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ChangeStart {
    /// A start at or before the deployment. `skewed_commits` commit timestamps after the
    /// deployment were ignored.
    Start {
        at: DateTime<Utc>,
        source: StartSource,
        skewed_commits: usize,
    },
    /// Every timestamp the change has is after the deployment (clock skew): no lead time.
    ClockSkew { skewed_commits: usize },
    /// The change has no timestamp at all: no lead time.
    NoTimestamp,
}

/// Start of `change` for a deployment at `deployed_at`: the earliest commit timestamp among
/// those not after the deployment; if there is none, `created_at` if not after the deployment;
/// else `merged_at` if not after the deployment. Timestamps after the deployment are clock skew
/// and ignored; if that leaves nothing, the change is [`ChangeStart::ClockSkew`].
pub fn change_start(change: &Change, deployed_at: DateTime<Utc>) -> ChangeStart {
    let skewed_commits = change
        .commits
        .iter()
        .filter(|c| c.at.is_some_and(|at| at > deployed_at))
        .count();
    let not_after = |at: &Option<DateTime<Utc>>| at.filter(|at| *at <= deployed_at);
    if let Some(at) = change.commits.iter().filter_map(|c| not_after(&c.at)).min() {
        return ChangeStart::Start {
            at,
            source: StartSource::Commit,
            skewed_commits,
        };
    }
    if let Some(at) = not_after(&change.created_at) {
        return ChangeStart::Start {
            at,
            source: StartSource::Created,
            skewed_commits,
        };
    }
    if let Some(at) = not_after(&change.merged_at) {
        return ChangeStart::Start {
            at,
            source: StartSource::Merged,
            skewed_commits,
        };
    }
    let any_timestamp =
        skewed_commits > 0 || change.created_at.is_some() || change.merged_at.is_some();
    if any_timestamp {
        ChangeStart::ClockSkew { skewed_commits }
    } else {
        ChangeStart::NoTimestamp
    }
}
