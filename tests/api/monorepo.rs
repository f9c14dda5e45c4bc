//! Monorepo services end to end: `[[services]]` maps `acme/monorepo`'s paths to the services
//! `api` and `web`; one merged pull request and the push that landed it (GitHub webhooks on
//! `POST /webhooks/github`, shaped as octokit's payload examples) touch both; each service is
//! deployed at its own time (bare `service.deployed` CDEvents). Each service's lead time runs
//! from its own commits to its own deployment, and the team filter follows `[[services]]` and
//! `[dora] teams`.

use serde_json::{json, Value};

use crate::helpers::{fixture_json, spawn_configured, Backend, TestApp};
use dora_events::config::Settings;
use dora_sources::services::ServiceConfig;

const REPOSITORY: &str = "acme/monorepo";
/// The merge commit of pull request #7, the head of `main` after the push.
const MERGE: &str = "7777777777777777777777777777777777777777";
const KEYS: &str = "/api/v1/dora?from=2024-01-01&to=2024-01-08";

fn service(name: &str, paths: &[&str], team: &str) -> ServiceConfig {
    ServiceConfig {
        name: name.into(),
        repository: REPOSITORY.into(),
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        team: Some(team.into()),
    }
}

fn configure(settings: &mut Settings) {
    settings.dora.production_environments = vec!["production".into()];
    settings.services = vec![
        service("api", &["services/api/**", "libs/money/*.rs"], "payments"),
        service("web", &["services/web/**"], "frontend"),
    ];
    // [dora] teams wins over [[services]]: web belongs to storefront, not frontend.
    settings
        .dora
        .teams
        .insert("web".into(), "storefront".into());
}

/// `repository` of octokit's payload example, moved to `acme/monorepo`.
fn repository(example: &Value) -> Value {
    let mut repository = example["repository"].clone();
    repository["full_name"] = json!(REPOSITORY);
    repository["name"] = json!("monorepo");
    repository["html_url"] = json!(format!("https://github.com/{REPOSITORY}"));
    repository["default_branch"] = json!("main");
    repository
}

/// octokit's `pull_request/closed.payload.json` as the merge of #7: opened Jan 1 09:00, merged
/// Jan 2 10:00 as [`MERGE`].
fn merged_pull_request() -> Value {
    let mut payload =
        fixture_json("github/octokit-pull-request-closed-unmerged/input.json")["data"].clone();
    payload["repository"] = repository(&payload);
    payload["number"] = json!(7);
    let pull = &mut payload["pull_request"];
    pull["number"] = json!(7);
    pull["created_at"] = json!("2024-01-01T09:00:00Z");
    pull["merged"] = json!(true);
    pull["merged_at"] = json!("2024-01-02T10:00:00Z");
    pull["closed_at"] = json!("2024-01-02T10:00:00Z");
    pull["merge_commit_sha"] = json!(MERGE);
    payload
}

fn commit(sha: &str, at: &str, modified: &[&str]) -> Value {
    json!({"id": sha, "tree_id": sha, "distinct": true, "message": "work", "timestamp": at,
           "url": format!("https://github.com/{REPOSITORY}/commit/{sha}"),
           "author": {"name": "Codertocat", "email": "c@example.com", "username": "Codertocat"},
           "committer": {"name": "Codertocat", "email": "c@example.com", "username": "Codertocat"},
           "added": [], "removed": [], "modified": modified})
}

/// octokit's `push/with-new-branch.payload.json` as the push of #7's merge onto `main`: a
/// README commit (no service), api's commit, web's commit, and the merge commit touching both.
fn push() -> Value {
    let mut payload = fixture_json("github/octokit-push-new-branch/input.json")["data"].clone();
    payload["repository"] = repository(&payload);
    payload["repository"]["pushed_at"] = json!(1_704_189_605); // 2024-01-02T10:00:05Z
    payload["ref"] = json!("refs/heads/main");
    payload["before"] = json!("0123456789012345678901234567890123456789");
    payload["after"] = json!(MERGE);
    payload["created"] = json!(false);
    let commits = vec![
        commit(
            "0000000000000000000000000000000000000000",
            "2024-01-01T07:00:00Z",
            &["README.md"],
        ),
        commit(
            "1111111111111111111111111111111111111111",
            "2024-01-01T08:00:00Z",
            &["services/api/src/handler.rs"],
        ),
        commit(
            "2222222222222222222222222222222222222222",
            "2024-01-01T08:30:00Z",
            &["services/web/src/index.ts"],
        ),
        commit(
            MERGE,
            "2024-01-02T10:00:00Z",
            &["services/api/src/handler.rs", "services/web/src/index.ts"],
        ),
    ];
    payload["head_commit"] = commits[3].clone();
    payload["commits"] = json!(commits);
    payload
}

fn deployed(id: &str, service: &str, at: &str) -> Value {
    json!({
        "context": {"specversion": "0.5.1", "id": id, "source": "/deployer",
                    "type": "dev.cdevents.service.deployed.0.3.0", "timestamp": at},
        "subject": {"id": service, "source": "/deployer",
                    "content": {"environment": {"id": "production"},
                                "artifactId": format!("pkg:generic/{service}@{MERGE}")}},
        "customData": {"dora": {"revision": MERGE}}
    })
}

async fn post_github(app: &TestApp, event: &str, delivery: &str, payload: &Value) {
    let headers = [
        ("x-github-event", event.to_owned()),
        ("x-github-delivery", delivery.to_owned()),
    ];
    let response = app.deliver("github", &headers, payload).await;
    assert_eq!(
        response.status().as_u16(),
        202,
        "{}",
        response.text().await.unwrap()
    );
}

/// `(sample_size, value)` of the lead time of `GET {KEYS}{filter}`, and the deployments.
async fn lead_time(app: &TestApp, filter: &str) -> (Value, Value, Value) {
    let report = app.get_json(&format!("{KEYS}{filter}")).await;
    let keys = &report["keys"];
    (
        keys["lead_time"]["sample_size"].clone(),
        keys["lead_time"]["value"].clone(),
        keys["deployment_frequency"]["value"].clone(),
    )
}

async fn a_monorepo_push_gives_each_service_its_own_lead_time_and_team(backend: Backend) {
    let app = spawn_configured(&backend, configure).await;
    post_github(&app, "pull_request", "d-pr", &merged_pull_request()).await;
    let deployments = json!([
        deployed("deploy-api", "api", "2024-01-02T12:00:00Z"),
        deployed("deploy-web", "web", "2024-01-03T08:30:00Z"),
    ]);
    let response = app.post_json("/cdevents", &deployments).await;
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    app.wait_until_processed().await;
    // Before the push arrives, #7 is one change of no service, first deployed (by its merge
    // SHA) with api on Jan 2 12:00, started at its opening Jan 1 09:00: 27 h = 97200 s.
    assert_eq!(
        lead_time(&app, "").await,
        (json!(1), json!(97200.0), json!(2))
    );

    post_github(&app, "push", "d-push", &push()).await;
    app.wait_until_processed().await;

    // Pull request #7 follows the push: one change per service, each starting at its own
    // earliest commit made before #7 was opened (09:00); the README commit (07:00, no service)
    // and the merge commit (dated at the merge) give no start.
    // api: c1 Jan 1 08:00 -> deployed Jan 2 12:00: 28 h = 28 * 3600 = 100800 s.
    // web: c2 Jan 1 08:30 -> deployed Jan 3 08:30: 48 h = 48 * 3600 = 172800 s.
    // Both: median of [100800, 172800] = (100800 + 172800) / 2 = 136800 s. (Without the split,
    // #7 would be one change, counted once at api's deployment: a sample of 1.)
    assert_eq!(
        lead_time(&app, "").await,
        (json!(2), json!(136800.0), json!(2))
    );
    assert_eq!(
        lead_time(&app, "&service=api").await,
        (json!(1), json!(100800.0), json!(1))
    );
    assert_eq!(
        lead_time(&app, "&service=web").await,
        (json!(1), json!(172800.0), json!(1))
    );
    // Teams: api's from [[services]] (payments); web's from [dora] teams (storefront wins over
    // [[services]]' frontend).
    assert_eq!(
        lead_time(&app, "&team=payments").await,
        (json!(1), json!(100800.0), json!(1))
    );
    assert_eq!(
        lead_time(&app, "&team=storefront").await,
        (json!(1), json!(172800.0), json!(1))
    );
    assert_eq!(
        lead_time(&app, "&team=frontend").await,
        (json!(0), Value::Null, json!(0))
    );

    // The drill-down names the per-service changes.
    let changes = app
        .get_json("/api/v1/changes?from=2024-01-01&to=2024-01-08")
        .await;
    let mut ids: Vec<(String, Value)> = changes["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{changes:#}"))
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["lead_time_seconds"].clone(),
            )
        })
        .collect();
    ids.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        ids,
        [
            (format!("{REPOSITORY}@{MERGE}:api"), json!(100800)),
            (format!("{REPOSITORY}@{MERGE}:web"), json!(172800)),
        ]
    );
}

backend_tests!(a_monorepo_push_gives_each_service_its_own_lead_time_and_team);
