//! The demo's backfill: history from a tool's API rather than from its webhooks. A fake GitHub
//! REST API on `127.0.0.1:0` serves the last weeks of `acme/ledger` (service `ledger`, which the
//! webhook history does not have): merged pull requests, the default branch's squash commits, and
//! deployments with their statuses, one in five of which fails and is redeployed two hours later.
//! `dora-events backfill github` then reads it into the demo's own server (`POST /events`), the
//! flow of `dora-events backfill github --repo acme/ledger --url http://...` against GitHub.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use crate::backfill::client::{GithubClient, Limits};
use crate::backfill::github::{self, kinds::Kind};
use crate::backfill::sink::Sink;
use crate::backfill::window::Window;
use crate::backfill::KindReport;

/// The repository the fake API serves, and its service (the repository's name).
pub const REPO: &str = "acme/ledger";
pub const SERVICE: &str = "ledger";
const HTML: &str = "https://github.com/acme/ledger";

/// Serves the fake API, backfills [`REPO`] from it into the server at `base`, and stops the API.
pub async fn run(base: &str, days: u32, end: DateTime<Utc>) -> anyhow::Result<KindReport> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("the demo's fake GitHub API could not listen")?;
    let api_url = format!("http://{}", listener.local_addr()?);
    let app = axum::Router::new()
        .fallback(answer)
        .with_state(Arc::new(history(days, end)));
    let api = tokio::spawn(async move { axum::serve(listener, app).await });
    let outcome = backfill(&api_url, base).await;
    api.abort();
    outcome
}

async fn backfill(api_url: &str, base: &str) -> anyhow::Result<KindReport> {
    let client = GithubClient::new(api_url, None, Limits::default(), Arc::new(|_| {}))?;
    let sink = Sink::Server {
        client: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()?,
        events_url: format!("{base}/events"),
    };
    let options = github::Options {
        repos: vec![REPO.to_owned()],
        kinds: Kind::ALL.to_vec(),
        window: Window::default(),
        incident_label: "incident".to_owned(),
        file_lists_for: Vec::new(),
        progress: false,
    };
    let report = github::run(&client, &sink, &options).await?;
    Ok(report.total(REPO))
}

/// Path -> what `GET` answers.
type Api = BTreeMap<String, Value>;

async fn answer(State(api): State<Arc<Api>>, uri: Uri) -> Response {
    match api.get(uri.path()) {
        Some(body) => Json(body.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"}))).into_response(),
    }
}

fn at(time: DateTime<Utc>) -> String {
    crate::backfill::window::rfc3339(&time)
}

/// A 40-digit SHA for the `n`th commit of the history.
fn sha(n: u64) -> String {
    format!("{:040x}", 0x1ed6e7_u64 * 1_000_003 + n)
}

/// Every other day of the last `days`: a pull request opened at 09:00 (its commit written at
/// 08:00), squash-merged at 13:00, deployed at 15:00; one deployment in five fails and the same
/// commit is deployed again at 17:00.
fn history(days: u32, end: DateTime<Utc>) -> Api {
    let start = end - Duration::days(i64::from(days));
    let day0 = start
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc();
    let (mut pulls, mut commits, mut deployments) = (Vec::new(), Vec::new(), Vec::new());
    let mut api = Api::new();
    let mut n = 0u64;
    for day in (1..i64::from(days)).step_by(2) {
        n += 1;
        let morning = day0 + Duration::days(day);
        let hours = |h: i64| morning + Duration::hours(h);
        let merge = sha(n);
        pulls.push(pull(n, hours(9), hours(13), &merge));
        commits.push(commit(n, hours(8), hours(13)));
        let failed = n.is_multiple_of(5);
        let mut rollouts = vec![(1000 + 2 * n, hours(15), failed)];
        if failed {
            rollouts.push((1001 + 2 * n, hours(17), false));
        }
        for (id, time, failed) in rollouts {
            deployments.push(deployment(id, &merge, time));
            let state = if failed { "failure" } else { "success" };
            api.insert(
                format!("/repos/{REPO}/deployments/{id}/statuses"),
                json!([
                    status(id * 10, "in_progress", time - Duration::minutes(5)),
                    status(id * 10 + 1, state, time)
                ]),
            );
        }
    }
    // GitHub lists newest first.
    pulls.reverse();
    commits.reverse();
    deployments.reverse();
    let repo = json!({
        "id": 4242, "name": "ledger", "full_name": REPO, "private": false,
        "owner": {"login": "acme"}, "html_url": HTML,
        "url": format!("https://api.github.com/repos/{REPO}"), "default_branch": "main",
    });
    let empty = Value::Array(Vec::new());
    api.extend([
        (format!("/repos/{REPO}"), repo),
        (format!("/repos/{REPO}/pulls"), Value::Array(pulls)),
        (format!("/repos/{REPO}/commits"), Value::Array(commits)),
        (
            format!("/repos/{REPO}/deployments"),
            Value::Array(deployments),
        ),
        (format!("/repos/{REPO}/issues"), empty.clone()),
        (format!("/repos/{REPO}/releases"), empty),
        (
            format!("/repos/{REPO}/actions/runs"),
            json!({"total_count": 0, "workflow_runs": []}),
        ),
    ]);
    api
}

fn pull(n: u64, opened: DateTime<Utc>, merged: DateTime<Utc>, merge: &str) -> Value {
    json!({
        "number": n, "title": format!("Ledger change {n}"), "state": "closed",
        "html_url": format!("{HTML}/pull/{n}"),
        "created_at": at(opened), "updated_at": at(merged),
        "closed_at": at(merged), "merged_at": at(merged), "merge_commit_sha": merge,
        "head": {"ref": format!("change-{n}"), "sha": format!("{:040x}", 0xbead_u64 + n)},
        "base": {"ref": "main", "sha": sha(n - 1)},
        "user": {"login": "dana"},
    })
}

/// The squash commit of pull request `n`: written at `written`, committed on merge.
fn commit(n: u64, written: DateTime<Utc>, committed: DateTime<Utc>) -> Value {
    let person = |time: DateTime<Utc>| json!({"name": "Dana", "email": "dana@example.com", "date": at(time)});
    json!({
        "sha": sha(n), "html_url": format!("{HTML}/commit/{}", sha(n)),
        "parents": [{"sha": sha(n - 1)}],
        "author": {"login": "dana"}, "committer": {"login": "web-flow"},
        "commit": {
            "message": format!("Ledger change {n} (#{n})"),
            "author": person(written), "committer": person(committed),
            "tree": {"sha": format!("{:040x}", 0x7ee_u64 + n)},
        },
    })
}

fn deployment(id: u64, sha: &str, created: DateTime<Utc>) -> Value {
    json!({
        "id": id, "sha": sha, "ref": "main", "task": "deploy", "environment": "production",
        "created_at": at(created - Duration::minutes(5)), "updated_at": at(created),
        "creator": {"login": "deploy-bot"},
    })
}

fn status(id: u64, state: &str, time: DateTime<Utc>) -> Value {
    json!({
        "id": id, "state": state, "environment": "production",
        "created_at": at(time), "updated_at": at(time),
    })
}
