//! `dora-events backfill bitbucket`: the Pipelines deployments of Bitbucket Cloud repositories,
//! from the Deployments API (Bitbucket has no deployment webhook), sent through the `bitbucket`
//! source as CloudEvents of type `org.bitbucket.cloud.api.deployment`.
//!
//! Per repository: `GET /2.0/repositories/{workspace}/{repo}` (its name and web URL),
//! `GET .../environments/` (the names of the environments the deployments point at by uuid) and
//! `GET .../deployments/?sort=-state.started_on`, newest first, pages found through the body's
//! `next` URL. A deployment is in the window by its `state.completion_date`; one still in
//! progress has none and is left for a later run. Each CloudEvent's id is
//! `backfill:<workspace>/<repo>:deployment:<uuid>`, so running again stores nothing twice.
//!
//! Pushes and pull requests come from the webhook (`POST /webhooks/bitbucket`); run this on a
//! schedule (with `--since` a few days back) to follow deployments as they happen.

use std::collections::BTreeMap;

use anyhow::Context;
use base64::Engine;
use dora_model::cloudevent::CloudEvent;
use dora_sources::bitbucket::deployment::DEPLOYMENT_TYPE;
use dora_sources::bitbucket::webhook::source_of;
use indicatif::ProgressBar;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION};
use serde_json::{json, Value};

use super::client::{secret, ApiClient, Dialect};
use super::sink::Sink;
use super::window::{time_of, Fit, Window};
use super::{backfill_kinds, is_path_segment, run_each, KindReport, ListKind, Lists};

/// Environments read per repository at most (pages of 100).
const MAX_ENVIRONMENT_PAGES: usize = 10;

/// What is read: only deployments (pushes and pull requests come from the webhook).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// `GET /2.0/repositories/{repo}/deployments/`.
    Deployments,
}

impl Kind {
    pub const ALL: [Kind; 1] = [Kind::Deployments];
}

impl ListKind for Kind {
    fn name(self) -> &'static str {
        "deployments"
    }
}

/// What a Bitbucket backfill did, per repository and kind.
pub type Report = super::Report<Kind>;

/// What to backfill.
#[derive(Debug, Clone)]
pub struct Options {
    /// `workspace/repository`, each.
    pub repos: Vec<String>,
    pub window: Window,
    /// Draw progress bars (when standard error is a terminal).
    pub progress: bool,
}

/// Bitbucket Cloud's REST API (2.0): `ApiClient::with_dialect(&BITBUCKET, "https://api.bitbucket.org", ...)`
/// (the paths start with `/2.0`).
pub static BITBUCKET: Dialect = Dialect {
    tool: "Bitbucket",
    headers: bitbucket_headers,
    remaining: "X-RateLimit-Remaining",
    reset: "X-RateLimit-Reset",
    forbidden_may_limit: false,
    next_page: None,
    next_in_body: Some("next"),
    unauthorized_hint:
        " (check BITBUCKET_TOKEN or --token-file: an access token, or USER:API_TOKEN)",
    not_found_hint: " (no such repository, or the token cannot read it)",
};

/// An access token is sent as `Bearer`; `user:password` (an API token or app password with its
/// user) as `Basic`.
fn bitbucket_headers(token: Option<&str>) -> anyhow::Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    if let Some(token) = token {
        let value = match token.contains(':') {
            true => {
                let encoded = base64::engine::general_purpose::STANDARD.encode(token);
                format!("Basic {encoded}")
            }
            false => format!("Bearer {token}"),
        };
        headers.insert(AUTHORIZATION, secret(&value, "Bitbucket")?);
    }
    Ok(headers)
}

/// Backfills every repository of `options` into `sink`. Stops at the first error (naming the
/// repository, the endpoint and the status); what was stored until then stays.
pub async fn run(client: &ApiClient, sink: &Sink, options: &Options) -> anyhow::Result<Report> {
    let one = |repo, bar| backfill_repo(client, sink, options.window, repo, bar);
    run_each(client, sink, &options.repos, options.progress, one).await
}

/// What the deployments of one repository need.
struct RepoContext<'a> {
    client: &'a ApiClient,
    full_name: &'a str,
    /// `GET /2.0/repositories/{repo}`, as the CloudEvents carry it.
    repository: Value,
    /// The environments by uuid.
    environments: BTreeMap<String, Value>,
    window: Window,
}

async fn backfill_repo(
    client: &ApiClient,
    sink: &Sink,
    window: Window,
    repo: String,
    bar: ProgressBar,
) -> anyhow::Result<(BTreeMap<Kind, KindReport>, Vec<String>)> {
    let repo = repo.as_str();
    anyhow::ensure!(is_repo_name(repo), "{repo:?} is not WORKSPACE/REPOSITORY");
    let base = format!("/2.0/repositories/{repo}");
    let repository = client.object(&client.url(&base)).await?;
    let mut environments = BTreeMap::new();
    let mut url = Some(client.url(&format!("{base}/environments/?pagelen=100")));
    for _ in 0..MAX_ENVIRONMENT_PAGES {
        let Some(next) = url.take() else { break };
        let page = client.page(&next, Some("values")).await?;
        for environment in page.items {
            if let Some(uuid) = environment["uuid"].as_str() {
                environments.insert(uuid.to_owned(), environment.clone());
            }
        }
        url = page.next;
    }
    anyhow::ensure!(
        url.is_none(),
        "GET {base}/environments/: more than {MAX_ENVIRONMENT_PAGES} pages of environments"
    );
    let context = RepoContext {
        client,
        full_name: repo,
        repository,
        environments,
        window,
    };
    let kinds = [Kind::Deployments];
    backfill_kinds("bitbucket", &context, sink, repo, kinds, &window, &bar).await
}

impl Lists for RepoContext<'_> {
    type Kind = Kind;

    fn client(&self) -> &ApiClient {
        self.client
    }

    fn first_url(&self, _kind: Kind, page: i64) -> String {
        self.client.url(&format!(
            "/2.0/repositories/{}/deployments/?pagelen=100&page={page}&sort=-state.started_on",
            self.full_name
        ))
    }

    fn field(&self, _kind: Kind) -> Option<&'static str> {
        Some("values")
    }

    /// In the window by its completion; the list (newest start first) ends at a deployment
    /// that started a day before `--since` (one that started earlier but completed inside
    /// may still follow a shorter one).
    fn fit(&self, _kind: Kind, object: &Value) -> Fit {
        let started = time_of(&object["state"], "start_date");
        let slack = chrono::Duration::days(1);
        if let (Some(started), Some(since)) = (started, self.window.since) {
            if started < since - slack {
                return Fit::Older;
            }
        }
        match self
            .window
            .fit(time_of(&object["state"], "completion_date"))
        {
            Fit::Older => Fit::Outside,
            fit => fit, // no completion (still in progress): outside; a later run sends it
        }
    }

    async fn events(&self, _kind: Kind, deployment: &Value) -> anyhow::Result<Vec<CloudEvent>> {
        let endpoint = format!("GET /2.0/repositories/{}/deployments/", self.full_name);
        let uuid = deployment["uuid"]
            .as_str()
            .with_context(|| format!("{endpoint}: values[].uuid is missing"))?;
        let environment_uuid = deployment["environment"]["uuid"]
            .as_str()
            .with_context(|| {
                format!("{endpoint}: deployment {uuid}: environment.uuid is missing")
            })?;
        // An environment deleted since is no longer listed: its uuid stands for its name (not a
        // production environment unless configured so).
        let unlisted = json!({"uuid": environment_uuid, "name": environment_uuid});
        let environment = self.environments.get(environment_uuid).unwrap_or(&unlisted);
        let data = json!({
            "repository": self.repository,
            "deployment": deployment,
            "environment": environment,
        });
        let id = format!("backfill:{}:deployment:{uuid}", self.full_name);
        let source = source_of(&data);
        let time = time_of(&deployment["state"], "completion_date");
        let mut event = CloudEvent::json(id, source, DEPLOYMENT_TYPE.to_owned(), data);
        if let Some(time) = time {
            event = event.at(time, super::window::rfc3339(&time));
        }
        Ok(vec![event])
    }
}

/// `WORKSPACE/REPOSITORY` of the characters Bitbucket allows.
pub fn is_repo_name(repo: &str) -> bool {
    repo.split_once('/')
        .is_some_and(|(workspace, name)| is_path_segment(workspace) && is_path_segment(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_and_token_is_sent_as_basic_and_a_token_alone_as_bearer() {
        let basic = bitbucket_headers(Some("dev@acme.test:ATATT3x")).unwrap_or_default();
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("dev@acme.test:ATATT3x")
        );
        assert_eq!(basic[AUTHORIZATION], expected.as_str());
        assert!(basic[AUTHORIZATION].is_sensitive());
        let bearer = bitbucket_headers(Some("ATCTT3x")).unwrap_or_default();
        assert_eq!(bearer[AUTHORIZATION], "Bearer ATCTT3x");
        assert!(!bitbucket_headers(None)
            .unwrap_or_default()
            .contains_key(AUTHORIZATION));
    }
}
