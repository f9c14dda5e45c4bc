//! Bitbucket Pipelines deployments, read from Bitbucket Cloud's Deployments API by
//! `dora-events backfill bitbucket` (Bitbucket has no deployment webhook) -> deployments.
//!
//! The backfill sends each deployment as a CloudEvent of type [`DEPLOYMENT_TYPE`]
//! (`org.bitbucket.cloud.api.deployment`) whose data holds the API's objects as they are:
//! `{"repository": <GET /repositories/{w}/{r}>, "deployment": <an item of GET .../deployments/>,
//! "environment": <its item of GET .../environments/>}`.
//!
//! | `deployment.state` | CDEvent |
//! |---|---|
//! | `COMPLETED`, `status.name` `SUCCESSFUL` | `service.deployed`, `customData.dora.outcome` `success` |
//! | `COMPLETED`, `status.name` `FAILED` | `service.deployed`, `outcome` `failure` (a failed rollout) |
//! | `COMPLETED` `STOPPED`, `IN_PROGRESS`, `UNDEPLOYED`, ... | nothing (no rollout happened, or not yet) |
//!
//! The service is the repository's slug (as GitHub's deployments use the repository's name),
//! the environment the environment's `name` as Bitbucket shows it (`Production`: list it in
//! `dora.production_environments`), the revision `release.commit.hash` (the pushed commits'
//! SHAs, so lead time links them), the time `state.completion_date`, and the id
//! `derived_id(["bitbucket", <repository URL>, "deployment", <deployment uuid>])`.

use chrono::{DateTime, Utc};
use dora_model::cdevent::{Content, Reference, ServiceContent};
use dora_model::cloudevent::CloudEvent;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::payload;
use crate::code_host::{Repository, RepositoryFact};
use crate::common::{de, insert_some, percent_encode, read, time_or_event_time};
use crate::transform::{Emitted, TransformError, SERVICE_DEPLOYED};

/// The CloudEvent type of a deployment read from the API.
pub const DEPLOYMENT_TYPE: &str = "org.bitbucket.cloud.api.deployment";

/// The data of a [`DEPLOYMENT_TYPE`] CloudEvent.
#[derive(Deserialize)]
struct DeploymentEvent<'a> {
    #[serde(borrow)]
    repository: payload::Repository<'a>,
    #[serde(borrow)]
    deployment: Deployment<'a>,
    #[serde(borrow)]
    environment: Environment<'a>,
}

/// An item of `GET /repositories/{workspace}/{repo_slug}/deployments/`.
#[derive(Deserialize)]
struct Deployment<'a> {
    #[serde(deserialize_with = "de::text")]
    uuid: &'a str,
    #[serde(borrow)]
    state: State<'a>,
    #[serde(borrow, default)]
    release: Option<Release<'a>>,
}

/// `deployment.state`: `name` `COMPLETED` with a `status`, `IN_PROGRESS`, `UNDEPLOYED`.
#[derive(Deserialize)]
struct State<'a> {
    #[serde(deserialize_with = "de::text")]
    name: &'a str,
    #[serde(borrow, default)]
    status: Option<Named<'a>>,
    #[serde(default)]
    completion_date: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::optional_text")]
    url: Option<&'a str>,
}

/// `{"name": ...}`.
#[derive(Deserialize)]
struct Named<'a> {
    #[serde(deserialize_with = "de::text")]
    name: &'a str,
}

/// `deployment.release`: what was deployed.
#[derive(Deserialize)]
struct Release<'a> {
    #[serde(default, deserialize_with = "de::optional_text")]
    name: Option<&'a str>,
    #[serde(borrow, default)]
    commit: Option<ReleaseCommit<'a>>,
}

#[derive(Deserialize)]
struct ReleaseCommit<'a> {
    #[serde(deserialize_with = "de::text")]
    hash: &'a str,
}

/// An item of `GET /repositories/{workspace}/{repo_slug}/environments/`.
#[derive(Deserialize)]
struct Environment<'a> {
    #[serde(deserialize_with = "de::text")]
    name: &'a str,
    #[serde(default, deserialize_with = "de::optional_text")]
    uuid: Option<&'a str>,
    #[serde(borrow, default)]
    environment_type: Option<Named<'a>>,
}

/// A [`DEPLOYMENT_TYPE`] CloudEvent -> `service.deployed` when it finished or failed.
pub(crate) fn deployment(event: &CloudEvent, data: &Value) -> Result<Vec<Emitted>, TransformError> {
    let DeploymentEvent {
        repository: payload_repository,
        deployment,
        environment,
    } = read(data)?;
    let outcome = match (deployment.state.name, &deployment.state.status) {
        ("COMPLETED", Some(Named { name: "SUCCESSFUL" })) => "success",
        ("COMPLETED", Some(Named { name: "FAILED" })) => "failure",
        _ => return Ok(Vec::new()),
    };
    let repo = super::transform::repository(&payload_repository)?;
    let sha = deployment
        .release
        .as_ref()
        .and_then(|release| release.commit.as_ref())
        .map(|commit| commit.hash)
        .ok_or_else(|| {
            TransformError::new("data.deployment.release.commit.hash is missing".to_owned())
        })?;
    let timestamp = time_or_event_time(
        deployment.state.completion_date,
        event,
        &["data.deployment.state.completion_date"],
    )?;
    let content = Content::Service(ServiceContent {
        environment: Some(Reference::within(environment.name, &repo.url)),
        artifact_id: Some(bitbucket_purl(&repo, sha)),
    });
    let mut dora = repo.dora();
    dora.revision = Some(sha.to_owned());
    dora.outcome = Some(outcome.to_owned());
    let mut own = Map::new();
    own.insert("deploymentUuid".into(), deployment.uuid.into());
    insert_some(&mut own, "status", deployment.state.status.map(|s| s.name));
    insert_some(&mut own, "url", deployment.state.url);
    insert_some(&mut own, "environmentUuid", environment.uuid);
    insert_some(
        &mut own,
        "environmentType",
        environment.environment_type.map(|t| t.name),
    );
    insert_some(&mut own, "release", deployment.release.and_then(|r| r.name));
    Ok(vec![repo.cdevent(RepositoryFact {
        event_type: SERVICE_DEPLOYED,
        id: repo.id(&["deployment", deployment.uuid]),
        timestamp,
        subject_id: repo.name.to_owned(),
        content,
        dora,
        own,
    })])
}

/// The purl of a commit of a Bitbucket repository: `pkg:bitbucket/<workspace>/<repo>@<sha>`
/// (the purl `bitbucket` type: workspace and name are case-insensitive, so lowercased).
fn bitbucket_purl(repo: &Repository<'_>, sha: &str) -> String {
    format!(
        "pkg:bitbucket/{}/{}@{}",
        percent_encode(&repo.owner().to_lowercase(), b""),
        percent_encode(&repo.name.to_lowercase(), b""),
        percent_encode(sha, b"")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::Transformer;
    use serde_json::json;

    fn event(state: Value, release: Value) -> CloudEvent {
        let data = json!({
            "repository": {"full_name": "acme/shop", "links": {"html": {"href": "https://bitbucket.org/acme/shop"}}},
            "deployment": {"uuid": "{d1}", "state": state, "release": release,
                           "environment": {"uuid": "{e3}"}},
            "environment": {"uuid": "{e3}", "name": "Production", "environment_type": {"name": "Production"}},
        });
        CloudEvent::json(
            "backfill:acme/shop:deployment:{d1}".into(),
            "https://bitbucket.org/acme/shop".into(),
            DEPLOYMENT_TYPE.into(),
            data,
        )
    }

    fn completed(status: &str) -> Value {
        json!({"name": "COMPLETED", "status": {"name": status}, "completion_date": "2025-03-05T12:00:00+00:00"})
    }

    fn release() -> Value {
        json!({"name": "#13", "commit": {"hash": "c2".repeat(20)}})
    }

    fn run(event: &CloudEvent) -> Result<Vec<Value>, TransformError> {
        let emitted = super::super::BitbucketTransformer.transform(event)?;
        Ok(emitted.into_iter().map(Emitted::into_document).collect())
    }

    #[test]
    fn a_completed_rollout_is_a_deployment_with_its_outcome_and_others_are_nothing() {
        for (status, outcome) in [("SUCCESSFUL", "success"), ("FAILED", "failure")] {
            let out = run(&event(completed(status), release())).unwrap_or_default();
            assert_eq!(out.len(), 1, "{status}");
            let dora = &out[0]["customData"]["dora"];
            assert_eq!(dora["outcome"], outcome);
            assert_eq!(dora["revision"], "c2".repeat(20));
            assert_eq!(out[0]["subject"]["id"], "shop");
            assert_eq!(
                out[0]["subject"]["content"]["environment"]["id"],
                "Production"
            );
            assert_eq!(out[0]["context"]["timestamp"], "2025-03-05T12:00:00Z");
            assert_eq!(
                out[0]["subject"]["content"]["artifactId"],
                format!("pkg:bitbucket/acme/shop@{}", "c2".repeat(20))
            );
        }
        let stopped = run(&event(completed("STOPPED"), release())).unwrap_or_default();
        let in_progress = json!({"name": "IN_PROGRESS", "start_date": "2025-03-05T12:00:00+00:00"});
        let running = run(&event(in_progress, release())).unwrap_or_default();
        assert!(stopped.is_empty() && running.is_empty());
    }

    #[test]
    fn a_deployment_without_its_commit_is_refused_naming_the_field() {
        let error = run(&event(completed("SUCCESSFUL"), json!({"name": "#13"}))).err();
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.contains("data.deployment.release.commit.hash"),
            "{message}"
        );
    }
}
