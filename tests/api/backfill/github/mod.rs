//! `dora-events backfill github` against a fake GitHub API: pages, rate limits, an interruption
//! and its resume, a second run, the same history later delivered by webhooks, and the keys of a
//! backfilled history against those of the same history sent as webhooks.

mod scenario;

use dora_events::backfill::client::GithubClient;
use dora_events::backfill::github::kinds::{Kind, Window};
use dora_events::backfill::github::{self as backfill, Options, Report};
use dora_events::backfill::sink::Sink;
use serde_json::Value;

use super::fake::{FakeApi, Fault, FaultKind};
use super::{
    assert_all_found_again, assert_interrupted, dora_events, kept_notices, post_hooks,
    process_and_serve, rate_limited_notices, stored_of_type, test_limits, with_store, Outcome,
    Scenario,
};
use crate::helpers::{spawn_with, test_settings, Backend, TestApp, TestDb};

/// CloudEvents of the scenario: 5 deployment statuses, 3 pull requests opened and closed, 3
/// commits, one incident opened and closed, a workflow run, a release.
const EVENTS: u64 = 5 + 6 + 3 + 2 + 1 + 1;

backend_tests!(
    backfill_keys_equal_webhook_keys_and_webhooks_after_a_backfill_add_nothing,
    backfill_twice_stores_nothing_new,
    backfill_waits_out_rate_limits,
    backfill_resumes_after_an_interruption,
    backfill_to_a_running_server_counts_the_same,
    backfill_sends_a_merge_commit_as_the_push_of_what_it_brought_in,
    backfill_lists_the_files_of_a_monorepo_s_commits_as_its_pushes_do,
    a_year_backfilled_has_hand_checked_keys_and_counts_nothing_twice,
    a_second_run_skips_the_pages_the_api_says_did_not_change,
);

/// The March scenario of `acme/shop` (`scenario::rest`, `scenario::webhooks`).
struct Github;

impl Scenario for Github {
    type Kind = Kind;
    const REPO: &'static str = scenario::REPO;
    const EVENTS: u64 = EVENTS;
    /// 5 statuses give 4 deployments (in_progress gives none); 3 + 3 pull request CDEvents; 3
    /// pushes; detected + resolved; a pipeline run; a release.
    const CDEVENTS: u64 = 4 + 6 + 3 + 2 + 1 + 1;
    const TOOL: &'static str = "github";

    async fn fake() -> FakeApi {
        let (objects, lists) = scenario::rest();
        FakeApi::start(objects, lists, 2).await
    }

    async fn backfill_to(fake: &FakeApi, sink: &Sink) -> Outcome<Kind> {
        backfill_listing_files(fake, sink, &[], march()).await
    }

    fn assert_first_run(_report: &Report, log: &[String]) {
        for page_two in ["/deployments?", "/pulls?", "/commits?"] {
            assert!(
                log.iter()
                    .any(|r| r.contains(page_two) && r.contains("page=2")),
                "{page_two} page 2 was followed: {log:?}"
            );
        }
    }

    async fn webhook_server(db: TestDb) -> TestApp {
        let mut settings = test_settings(&db);
        settings.dora.production_environments = vec!["production".into()];
        spawn_with(settings, db).await
    }

    fn webhooks() -> Vec<(&'static str, Value)> {
        scenario::webhooks()
    }

    fn delivery_headers(index: usize, event: &str) -> Vec<(&'static str, String)> {
        vec![
            ("x-github-event", event.to_owned()),
            (
                "x-github-delivery",
                format!("6d2f0000-0000-4000-8000-{index:012}"),
            ),
        ]
    }

    fn assert_hand_checked(keys: &Value) {
        // 4 production deployments on 4 days, one failed (102) with the incident attributed to
        // it; lead times PR #1 09:00 -> 14:00 (5 h), c3 08:00 -> 10:00 (2 h), PR #2 03-04
        // 10:00 -> its first production deployment.
        assert_eq!(keys["deployment_frequency"]["value"], 4);
        assert_eq!(keys["change_failure_rate"]["sample_size"], 4);
        assert_eq!(keys["change_failure_rate"]["value"], 0.25);
        assert_eq!(keys["lead_time"]["sample_size"], 3);
        assert_eq!(keys["lead_time"]["value"], 18000.0);
        // PR #2: 03-04 10:00 -> 03-05 12:00, the failed deployment 102 (26 h): the p90.
        assert_eq!(keys["lead_time"]["p90"], 93600.0);
        // 102 failed at 12:00, 103 succeeded at 15:00; 103 was made while the incident was
        // open.
        assert_eq!(keys["recovery_time"]["value"], 10800.0);
        assert_eq!(keys["rework_rate"]["value"], 0.25);
        assert_eq!(keys["deployment_frequency"]["deploy_days"], 3);
    }
}

/// The window of the March scenario, and of the year.
fn march() -> Window {
    window("2025-03-01T00:00:00Z", "2025-03-31T23:59:59Z")
}

fn year_2024() -> Window {
    window("2024-01-01T00:00:00Z", "2024-12-31T23:59:59Z")
}

fn window(since: &str, until: &str) -> Window {
    Window {
        since: Some(since.parse().unwrap()),
        until: Some(until.parse().unwrap()),
    }
}

/// Backfills the scenario's repository from `fake` into `db` over `window`.
async fn backfill_window_into(fake: &FakeApi, db: &TestDb, window: Window) -> Outcome<Kind> {
    with_store(db, 1 << 20, async |sink: &Sink| {
        backfill_listing_files(fake, sink, &[], window).await
    })
    .await
}

/// Backfills the scenario's repository from `fake` into `sink` over `window`, reading the files
/// of the commits of `file_lists_for`'s repositories.
async fn backfill_listing_files(
    fake: &FakeApi,
    sink: &Sink,
    file_lists_for: &[String],
    window: Window,
) -> Outcome<Kind> {
    let (notice, notices) = kept_notices();
    let client = GithubClient::new(&fake.url, Some("test-token"), test_limits(), notice).unwrap();
    let options = Options {
        repos: vec![scenario::REPO.to_owned()],
        kinds: Kind::ALL.to_vec(),
        window,
        incident_label: "incident".into(),
        file_lists_for: file_lists_for.to_vec(),
        progress: false,
    };
    let report = backfill::run(&client, sink, &options).await;
    let notices = notices.lock().unwrap().clone();
    (report, notices)
}

async fn backfill_keys_equal_webhook_keys_and_webhooks_after_a_backfill_add_nothing(
    backend: Backend,
) {
    super::keys_equal_webhook_keys_and_webhooks_after_a_backfill_add_nothing::<Github>(backend)
        .await;
}

async fn backfill_twice_stores_nothing_new(backend: Backend) {
    super::twice_stores_nothing_new::<Github>(backend).await;
}

async fn backfill_waits_out_rate_limits(backend: Backend) {
    let fake = Github::fake().await;
    fake.add_fault(Fault {
        path: "/pulls".into(),
        page: Some(2),
        times: 1,
        kind: FaultKind::RateLimit,
    });
    fake.add_fault(Fault {
        path: "/commits".into(),
        page: None,
        times: 2,
        kind: FaultKind::RetryAfter,
    });
    fake.add_fault(Fault {
        path: "/issues".into(),
        page: None,
        times: 1,
        kind: FaultKind::Secondary,
    });
    let notices = rate_limited_notices::<Github>(backend, &fake).await;
    assert!(notices[3].contains("/issues") && notices[3].contains("without Retry-After"));
    assert!(
        notices[0].contains("/repos/acme/shop/pulls") && notices[0].contains("X-RateLimit-Reset")
    );
    assert!(
        notices[1].contains("/repos/acme/shop/commits") && notices[1].contains("Retry-After 1 s")
    );
}

async fn backfill_resumes_after_an_interruption(backend: Backend) {
    let fake = Github::fake().await;
    fake.add_fault(Fault {
        path: "/commits".into(),
        page: Some(2),
        times: u32::MAX,
        kind: FaultKind::Status(500),
    });
    let db = backend.fresh_database().await;
    let parts = [
        "acme/shop",
        "/repos/acme/shop/commits?",
        "page=2",
        "500 Internal Server Error",
    ];
    assert_interrupted::<Github>(&fake, &db, &parts).await;

    let resumed = Github::backfill_into(&fake, &db).await.0.unwrap();
    let log = fake.take_log();
    let lists: Vec<&String> = log.iter().filter(|r| !r.contains("/statuses")).collect();
    assert!(
        !lists
            .iter()
            .any(|r| r.contains("/deployments?") || r.contains("/pulls?")),
        "finished lists are not read again: {lists:?}"
    );
    let commits: Vec<&&String> = lists.iter().filter(|r| r.contains("/commits?")).collect();
    assert_eq!(commits.len(), 1, "{commits:?}");
    assert!(commits[0].contains("page=2"), "{commits:?}");
    let commits_report = &resumed.repos[scenario::REPO][&Kind::Commits];
    assert_eq!(commits_report.resumed_at_page, Some(2));
    assert_eq!(commits_report.stored, 1);

    // Everything is there once, and the finished run left no checkpoint behind.
    assert_all_found_again::<Github>(&fake, &db).await;
    assert!(fake.take_log().iter().any(|r| r.contains("/deployments?")));
}

const GITHUB_ENV: [(&str, &str); 1] = [("GITHUB_TOKEN", "test-token")];

#[tokio::test]
async fn backfill_command_dry_run_counts_then_stores() {
    let fake = Github::fake().await;
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("dora.db");
    let args = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = ["backfill", "github", "--repo", scenario::REPO]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(["--api-url".into(), fake.url.clone()]);
        args.extend(["--since".into(), "2025-03-01".into()]);
        args.extend(["--until".into(), "2025-03-31".into()]);
        args.extend([
            "--database-url".into(),
            format!("sqlite://{}", database.display()),
        ]);
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let (code, out, err) = dora_events(&GITHUB_ENV, args(&["--dry-run"])).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("acme/shop: would send {EVENTS} events")),
        "{out}"
    );
    assert!(!database.exists(), "a dry run opens no database");
    assert!(fake.take_log().iter().all(|r| !r.contains("token")));

    let (code, out, err) = dora_events(&GITHUB_ENV, args(&[])).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("stored {EVENTS}, duplicates 0")),
        "{out}"
    );

    let (code, out, err) = dora_events(&GITHUB_ENV, args(&["--json"])).await;
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["repos"]["acme/shop"]["deployments"]["duplicates"], 5);

    let (code, _, err) = dora_events(
        &GITHUB_ENV,
        vec![
            "backfill".into(),
            "github".into(),
            "--repo".into(),
            "acme/nope".into(),
            "--api-url".into(),
            fake.url.clone(),
            "--dry-run".into(),
        ],
    )
    .await;
    assert_eq!(code, 1);
    assert!(
        err.contains("acme/nope") && err.contains("GET /repos/acme/nope") && err.contains("404"),
        "{err}"
    );
}

async fn backfill_to_a_running_server_counts_the_same(backend: Backend) {
    super::to_a_running_server_counts_the_same::<Github>(backend).await;
}

async fn backfill_sends_a_merge_commit_as_the_push_of_what_it_brought_in(backend: Backend) {
    let (mut objects, mut lists) = scenario::rest();
    let commits = lists
        .get(&format!("/repos/{}/commits", scenario::REPO))
        .unwrap()
        .clone();
    // c1 becomes a merge of f2 (branched from c0 at f1) into c0.
    let with = |sha: &str, parents: &[&str]| {
        let mut commit = commits[2].clone();
        commit["sha"] = serde_json::json!(scenario::sha(sha));
        let parents: Vec<serde_json::Value> = parents
            .iter()
            .map(|p| serde_json::json!({"sha": scenario::sha(p)}))
            .collect();
        commit["parents"] = serde_json::json!(parents);
        commit
    };
    let merge = with("c1", &["c0", "f2"]);
    lists.insert(
        format!("/repos/{}/commits", scenario::REPO),
        vec![merge.clone()],
    );
    let compare = format!(
        "/repos/{}/compare/{}...{}",
        scenario::REPO,
        scenario::sha("c0"),
        scenario::sha("c1")
    );
    let brought_in = vec![with("f1", &["c0"]), with("f2", &["f1"]), merge];
    objects.insert(
        compare,
        serde_json::json!({"status": "ahead", "commits": brought_in}),
    );
    let fake = FakeApi::start(objects, lists, 2).await;
    let db = backend.fresh_database().await;
    Github::backfill_into(&fake, &db).await.0.unwrap();

    let pushes = stored_of_type(&db, GITHUB_PUSH).await;
    assert_eq!(pushes.len(), 1);
    let listed: Vec<String> = pushes[0]["data"]["commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().trim_start_matches('0').to_owned())
        .collect();
    assert_eq!(listed, ["f1", "f2", "c1"]);
    assert_eq!(pushes[0]["data"]["before"], scenario::sha("c0"));
}

const GITHUB_PUSH: &str = "dev.knative.source.github.push";

/// A repository `[[services]]` splits by path: each commit a push lists is read again with its
/// files (`GET /commits/{sha}`), listed as the push webhook lists them; other repositories cost
/// no such request and list no files.
async fn backfill_lists_the_files_of_a_monorepo_s_commits_as_its_pushes_do(backend: Backend) {
    let (mut objects, lists) = scenario::rest();
    let listed = lists[&format!("/repos/{}/commits", scenario::REPO)].clone();
    let files = serde_json::json!({
        "c1": [{"filename": "services/api/main.go", "status": "modified"}],
        "c2": [{"filename": "web/app.js", "status": "added"},
               {"filename": "web/new.js", "status": "renamed", "previous_filename": "web/old.js"}],
        "c3": [{"filename": "README.md", "status": "removed"}],
    });
    for commit in &listed {
        let sha = commit["sha"].as_str().unwrap();
        let mut detail = commit.clone();
        detail["files"] = files[sha.trim_start_matches('0')].clone();
        objects.insert(format!("/repos/{}/commits/{sha}", scenario::REPO), detail);
    }
    let fake = FakeApi::start(objects, lists, 2).await;
    let detail_requests =
        |log: Vec<String>| log.iter().filter(|path| path.contains("/commits/")).count();

    let db = backend.fresh_database().await;
    let monorepo = [scenario::REPO.to_uppercase()];
    with_store(&db, 1 << 20, async |sink: &Sink| {
        backfill_listing_files(&fake, sink, &monorepo, march()).await
    })
    .await
    .0
    .unwrap();
    assert_eq!(detail_requests(fake.take_log()), 3);
    let mut seen = std::collections::BTreeMap::new();
    for push in stored_of_type(&db, GITHUB_PUSH).await {
        let commit = &push["data"]["commits"][0];
        let id = commit["id"]
            .as_str()
            .unwrap()
            .trim_start_matches('0')
            .to_owned();
        let lists = ["added", "removed", "modified"].map(|key| commit[key].clone());
        seen.insert(id, serde_json::json!(lists));
    }
    assert_eq!(
        serde_json::json!(seen),
        serde_json::json!({
            "c1": [[], [], ["services/api/main.go"]],
            "c2": [["web/app.js", "web/new.js"], ["web/old.js"], []],
            "c3": [[], ["README.md"], []],
        })
    );

    let plain = backend.fresh_database().await;
    Github::backfill_into(&fake, &plain).await.0.unwrap();
    assert_eq!(detail_requests(fake.take_log()), 0);
    let pushes = stored_of_type(&plain, GITHUB_PUSH).await;
    assert_eq!(pushes.len(), 3);
    assert!(pushes
        .iter()
        .all(|push| push["data"]["commits"][0].get("added").is_none()));
}

/// A year of `acme/shop` (`scenario::History::year`, whose keys are hand-checked there),
/// backfilled from pages of 30: the keys are right; a second run stores nothing; the same year
/// delivered afterwards by webhooks adds no CDEvent; the year sent only as webhooks has the
/// same keys.
async fn a_year_backfilled_has_hand_checked_keys_and_counts_nothing_twice(backend: Backend) {
    const YEAR: &str = "/api/v1/dora?from=2024-01-01&to=2024-12-31";
    let history = scenario::History::year();
    let events = history.events();
    // 91 statuses, 52 requests opened and closed, 78 commits, 13 incidents opened and closed.
    assert_eq!(events, 91 + 104 + 78 + 26);
    let (objects, lists) = history.rest();
    let fake = FakeApi::start(objects, lists, 30).await;
    let db = backend.fresh_database().await;
    let first = Github::totals(
        &backfill_window_into(&fake, &db, year_2024())
            .await
            .0
            .unwrap(),
    );
    assert_eq!((first.events, first.stored), (events, events));
    let again = Github::totals(
        &backfill_window_into(&fake, &db, year_2024())
            .await
            .0
            .unwrap(),
    );
    assert_eq!(
        (again.events, again.stored, again.duplicates),
        (events, 0, events)
    );

    let app = process_and_serve(db).await;
    let keys = app.get_json(YEAR).await["keys"].clone();
    let frequency = &keys["deployment_frequency"];
    assert_eq!(frequency["value"], 91);
    assert_eq!(frequency["deploy_days"], 78);
    assert_eq!(frequency["complete_weeks"], 52);
    assert_eq!(frequency["deploy_days_per_week"], 1.5);
    assert_eq!(frequency["mean_deploy_days_per_week"], 1.5);
    assert_eq!(frequency["failed_rollouts"], 13);
    let failure = &keys["change_failure_rate"];
    assert_eq!(
        (&failure["sample_size"], &failure["failed_deployments"]),
        (&91.into(), &13.into())
    );
    assert_eq!(failure["reasons"]["incident"], 13);
    assert_eq!(failure["reasons"]["failed_rollout"], 13);
    assert!((failure["value"].as_f64().unwrap() - 13.0 / 91.0).abs() < 1e-12);
    let lead = &keys["lead_time"];
    assert_eq!(lead["sample_size"], 78);
    assert_eq!(lead["value"], 90000.0);
    assert_eq!(lead["p90"], 262800.0);
    let recovery = &keys["recovery_time"];
    assert_eq!(
        (&recovery["sample_size"], &recovery["value"]),
        (&13.into(), &10800.0.into())
    );
    assert_eq!(keys["rework_rate"]["rework_deployments"], 13);
    assert_eq!(keys["rework_rate"]["during_incident"], 13);

    let before = app.pipeline().await;
    post_hooks(&app, "github", history.webhooks(), Github::delivery_headers).await;
    let after = app.pipeline().await;
    assert_eq!(after["cdevents"], before["cdevents"], "{after}");
    assert_eq!(after["failures"], 0, "{after}");
    assert_eq!(app.get_json(YEAR).await["keys"], keys);
    app.stop().await;

    let hooked = Github::webhook_server(backend.fresh_database().await).await;
    post_hooks(
        &hooked,
        "github",
        history.webhooks(),
        Github::delivery_headers,
    )
    .await;
    assert_eq!(hooked.get_json(YEAR).await["keys"], keys);
    assert_eq!(hooked.pipeline().await["cdevents"], before["cdevents"]);
    hooked.stop().await;
}

/// With an API that gives `ETag`s, a second run asks with `If-None-Match` and skips the pages
/// answered `304` with their objects, except deployments (their statuses are read apart) and
/// the last page of each list; a page that changed is read again, and what is new on it
/// stored. A page whose events were refused keeps no `ETag`: a later run reads it again.
async fn a_second_run_skips_the_pages_the_api_says_did_not_change(backend: Backend) {
    let fake = Github::fake().await;
    fake.serve_etags();
    let db = backend.fresh_database().await;
    let first = Github::totals(&Github::backfill_into(&fake, &db).await.0.unwrap());
    assert_eq!((first.stored, first.unchanged_pages), (EVENTS, 0));
    assert_eq!(fake.not_modified(), 0);

    // Pages of 2. The first pages of pulls and commits are skipped; the last page of a list is
    // read again (an ETag need not cover the paging headers: a page added after it would go
    // unseen), so are the one-page lists (issues, runs, releases) and deployments (2 pages, 5
    // statuses): 5 + 2 + 1 + 2 + 1 + 1 events, all duplicates.
    let second = Github::backfill_into(&fake, &db).await.0.unwrap();
    let total = Github::totals(&second);
    assert_eq!(fake.not_modified(), 2);
    assert_eq!(total.unchanged_pages, 2);
    assert_eq!((total.events, total.stored, total.duplicates), (12, 0, 12));
    assert_eq!(second.repos[scenario::REPO][&Kind::Deployments].pages, 2);
    let pulls = &second.repos[scenario::REPO][&Kind::PullRequests];
    assert_eq!(
        (pulls.pages, pulls.unchanged_pages, pulls.objects),
        (2, 1, 1)
    );

    // A pull request closed since: the pulls pages changed and are read again.
    let pulls_path = format!("/repos/{}/pulls", scenario::REPO);
    let (_, lists) = scenario::rest();
    let mut pulls = lists[&pulls_path].clone();
    let mut newest = pulls[0].clone();
    for (field, value) in [
        ("number", serde_json::json!(4)),
        ("title", serde_json::json!("Pull #4")),
        ("created_at", serde_json::json!("2025-03-07T09:00:00Z")),
        ("updated_at", serde_json::json!("2025-03-07T12:00:00Z")),
        ("closed_at", serde_json::json!("2025-03-07T12:00:00Z")),
        ("merged_at", serde_json::Value::Null),
        ("merge_commit_sha", serde_json::Value::Null),
        (
            "html_url",
            serde_json::json!("https://github.com/acme/shop/pull/4"),
        ),
    ] {
        newest[field] = value;
    }
    pulls.insert(0, newest);
    fake.set_list(&pulls_path, pulls);
    let third = Github::backfill_into(&fake, &db).await.0.unwrap();
    let pull_report = &third.repos[scenario::REPO][&Kind::PullRequests];
    assert_eq!(
        (
            pull_report.unchanged_pages,
            pull_report.objects,
            pull_report.stored
        ),
        (0, 4, 2)
    );
    assert_eq!(Github::totals(&third).unchanged_pages, 1); // the first page of commits
    assert_eq!(Github::totals(&third).stored, 2);

    // Refused events (over a limit of 100 bytes) leave no ETag: under the usual limit, the next
    // run reads every page again and stores them.
    let strict = backend.fresh_database().await;
    let tiny = with_store(&strict, 100, async |tiny: &Sink| {
        Github::backfill_to(&fake, tiny).await
    })
    .await;
    let refused = Github::totals(&tiny.0.unwrap());
    assert_eq!((refused.stored, refused.rejected), (0, EVENTS + 2));
    let before = fake.not_modified();
    let stored = Github::totals(&Github::backfill_into(&fake, &strict).await.0.unwrap());
    assert_eq!((stored.stored, stored.unchanged_pages), (EVENTS + 2, 0));
    assert_eq!(fake.not_modified(), before);
}
