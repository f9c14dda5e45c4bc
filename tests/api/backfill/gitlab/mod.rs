//! `dora-events backfill gitlab` against a fake GitLab API: pages (`Link` and `X-Next-Page`),
//! rate limits, an interruption and its resume, a second run, the same history later delivered
//! by webhooks, and the keys of a backfilled history against those of the same history sent as
//! webhooks.

mod scenario;

use dora_events::backfill::gitlab::kinds::Kind;
use dora_events::backfill::gitlab::{self, Options, Report};
use dora_events::backfill::sink::Sink;
use dora_events::backfill::window::Window;

use super::fake::{FakeApi, Fault, FaultKind, Style, GITLAB_TOKEN};
use super::{
    assert_all_found_again, assert_interrupted, dora_events, kept_notices, rate_limited_notices,
    stored_of_type, test_limits, with_store, Outcome, Scenario,
};
use crate::helpers::{spawn_with, test_settings, Backend, TestApp, TestDb};
use serde_json::Value;

/// CloudEvents of the scenario: 4 finished deployments; 4 merge requests opened and merged or
/// closed (8) and the 3 pushes that landed the merged ones; 2 incidents opened and closed (4);
/// a pipeline.
const EVENTS: u64 = 4 + 8 + 3 + 4 + 1;
const WEBHOOK_TOKEN: &str = "gitlab-webhook-secret";

backend_tests!(
    gitlab_backfill_keys_equal_webhook_keys_and_webhooks_after_a_backfill_add_nothing,
    gitlab_backfill_twice_stores_nothing_new,
    gitlab_backfill_waits_out_rate_limits,
    gitlab_backfill_resumes_after_an_interruption,
    gitlab_backfill_to_a_running_server_counts_the_same,
    gitlab_backfill_lists_the_files_of_a_monorepo_s_landing_pushes,
);

/// The March scenario of `acme/web/shop` (`scenario::rest`, `scenario::webhooks`).
struct Gitlab;

impl Scenario for Gitlab {
    type Kind = Kind;
    const REPO: &'static str = scenario::PROJECT;
    const EVENTS: u64 = EVENTS;
    /// 4 deployments; 4 created + 3 merged + 1 abandoned; 3 pushes; 2 detected + 2 resolved; a
    /// pipeline run.
    const CDEVENTS: u64 = 4 + 8 + 3 + 4 + 1;
    const TOOL: &'static str = "gitlab";

    async fn fake() -> FakeApi {
        let (objects, lists) = scenario::rest();
        FakeApi::start_as(Style::Gitlab, objects, lists, 2).await
    }

    async fn backfill_to(fake: &FakeApi, sink: &Sink) -> Outcome<Kind> {
        backfill_listing_files(fake, sink, &[]).await
    }

    /// Every object once, pages followed by `Link` and by `X-Next-Page` alone, the window asked
    /// of the API.
    fn assert_first_run(report: &Report, log: &[String]) {
        let kinds = &report.repos[scenario::PROJECT];
        // 5 deployments on 3 pages (105 canceled: not an object of the window); the merge
        // requests' third page holds !0, older than the window, which ends the list; #10 is
        // read once.
        assert_eq!(
            (
                kinds[&Kind::Deployments].pages,
                kinds[&Kind::Deployments].objects
            ),
            (3, 4)
        );
        assert_eq!(
            (
                kinds[&Kind::MergeRequests].pages,
                kinds[&Kind::MergeRequests].objects
            ),
            (3, 4)
        );
        assert_eq!(kinds[&Kind::Incidents].objects, 1);
        assert_eq!(kinds[&Kind::IncidentLabel].objects, 1);
        assert_eq!(kinds[&Kind::Pipelines].objects, 1);
        let id = scenario::PROJECT_ID;
        for page_three in [
            format!("/api/v4/projects/{id}/deployments?"),
            format!("/api/v4/projects/{id}/merge_requests?"),
        ] {
            assert!(
                log.iter()
                    .any(|r| r.starts_with(&page_three) && r.contains("page=3")),
                "{page_three} page 3 was followed (merge requests: by X-Next-Page alone): {log:?}"
            );
        }
        assert!(
            log.iter().any(|r| r.contains("/deployments?")
                && r.contains("updated_after=2025%2D03%2D01T00%3A00%3A00Z")),
            "{log:?}"
        );
    }

    /// A server over `db` whose `POST /webhooks/gitlab` asks for [`WEBHOOK_TOKEN`].
    async fn webhook_server(db: TestDb) -> TestApp {
        let mut settings = test_settings(&db);
        settings.dora.production_environments = vec!["production".into()];
        settings.webhooks.gitlab.token = Some(WEBHOOK_TOKEN.into());
        spawn_with(settings, db).await
    }

    fn webhooks() -> Vec<(&'static str, Value)> {
        scenario::webhooks()
    }

    fn delivery_headers(index: usize, event: &str) -> Vec<(&'static str, String)> {
        vec![
            ("x-gitlab-event", event.to_owned()),
            ("x-gitlab-token", WEBHOOK_TOKEN.to_owned()),
            (
                "x-gitlab-event-uuid",
                format!("0e7f0000-0000-4000-8000-{index:012}"),
            ),
        ]
    }

    fn assert_hand_checked(keys: &Value) {
        // 4 production deployments (101, 102, 103, 104) on 3 days.
        assert_eq!(keys["deployment_frequency"]["value"], 4);
        assert_eq!(keys["deployment_frequency"]["deploy_days"], 3);
        // 102 failed (and #10 at 12:30 is attributed to it), #11 at 03-06 10:30 to 104: 2 of 4.
        assert_eq!(keys["change_failure_rate"]["sample_size"], 4);
        assert_eq!(keys["change_failure_rate"]["value"], 0.5);
        // Lead times: !1 from b1 (08:00, before it was opened at 09:00) to 101 at 14:00: 6 h;
        // !2 from its opening 03-04 10:00 (its squash commit c2 is younger) to 102 03-05 12:00:
        // 26 h; !3 from e3 (07:00) to 104 at 10:00: 3 h. Median 6 h, p90 (nearest rank 3 of 3)
        // 26 h.
        assert_eq!(keys["lead_time"]["sample_size"], 3);
        assert_eq!(keys["lead_time"]["value"], 21600.0);
        assert_eq!(keys["lead_time"]["p90"], 93600.0);
        // Recovery: 102, #10 12:30 -> 15:30 (3 h); 104, #11 10:30 -> 11:30 (1 h): median 2 h.
        assert_eq!(keys["recovery_time"]["sample_size"], 2);
        assert_eq!(keys["recovery_time"]["value"], 7200.0);
        // 103 (03-05 15:00) was made while #10 (of 102) was open: 1 of 4.
        assert_eq!(keys["rework_rate"]["value"], 0.25);
    }
}

/// Backfills the scenario's project from `fake` into `sink`, reading the files of the commits
/// of `file_lists_for`'s projects.
async fn backfill_listing_files(
    fake: &FakeApi,
    sink: &Sink,
    file_lists_for: &[String],
) -> Outcome<Kind> {
    let (notice, notices) = kept_notices();
    let client = gitlab::client(&fake.url, Some(GITLAB_TOKEN), test_limits(), notice).unwrap();
    let options = Options {
        projects: vec![scenario::PROJECT.to_owned()],
        kinds: Kind::ALL.to_vec(),
        window: Window {
            since: Some("2025-03-01T00:00:00Z".parse().unwrap()),
            until: Some("2025-03-31T23:59:59Z".parse().unwrap()),
        },
        incident_label: "incident".into(),
        file_lists_for: file_lists_for.to_vec(),
        progress: false,
    };
    let report = gitlab::run(&client, sink, &options).await;
    let notices = notices.lock().unwrap().clone();
    (report, notices)
}

async fn gitlab_backfill_keys_equal_webhook_keys_and_webhooks_after_a_backfill_add_nothing(
    backend: Backend,
) {
    super::keys_equal_webhook_keys_and_webhooks_after_a_backfill_add_nothing::<Gitlab>(backend)
        .await;
}

async fn gitlab_backfill_twice_stores_nothing_new(backend: Backend) {
    super::twice_stores_nothing_new::<Gitlab>(backend).await;
}

async fn gitlab_backfill_waits_out_rate_limits(backend: Backend) {
    let fake = Gitlab::fake().await;
    for (path, page, times, kind) in [
        ("/deployments", Some(2), 1, FaultKind::GitlabRateLimit),
        ("/pipelines", None, 1, FaultKind::RetryAfter),
        ("/issues", None, 2, FaultKind::Status(502)),
    ] {
        fake.add_fault(Fault {
            path: path.into(),
            page,
            times,
            kind,
        });
    }
    let notices = rate_limited_notices::<Gitlab>(backend, &fake).await;
    let id = scenario::PROJECT_ID;
    assert!(
        notices[0].contains(&format!("/api/v4/projects/{id}/deployments?"))
            && notices[0].contains("429")
            && notices[0].contains("RateLimit-Reset"),
        "{}",
        notices[0]
    );
    // The gateway errors: 10 ms, then 20 ms.
    assert!(
        notices[1].contains("/issues?")
            && notices[1].contains("502")
            && notices[1].contains("waiting 10 ms")
    );
    assert!(notices[2].contains("waiting 20 ms"), "{}", notices[2]);
    assert!(notices[3].contains("/pipelines?") && notices[3].contains("Retry-After 1 s"));
}

async fn gitlab_backfill_resumes_after_an_interruption(backend: Backend) {
    let fake = Gitlab::fake().await;
    fake.add_fault(Fault {
        path: "/merge_requests".into(),
        page: Some(2),
        times: u32::MAX,
        kind: FaultKind::Status(500),
    });
    let db = backend.fresh_database().await;
    let merge_requests = format!("/api/v4/projects/{}/merge_requests?", scenario::PROJECT_ID);
    let parts = [
        "acme/web/shop",
        &merge_requests,
        "page=2",
        "GitLab answered 500 Internal Server Error",
    ];
    assert_interrupted::<Gitlab>(&fake, &db, &parts).await;

    let resumed = Gitlab::backfill_into(&fake, &db).await.0.unwrap();
    let log = fake.take_log();
    assert!(
        !log.iter().any(|r| r.contains("/deployments?")),
        "a finished list is not read again: {log:?}"
    );
    let merges: Vec<&String> = log
        .iter()
        .filter(|r| r.contains("/merge_requests?"))
        .collect();
    assert_eq!(merges.len(), 2, "{merges:?}");
    assert!(merges[0].contains("page=2"), "{merges:?}");
    let merges_report = &resumed.repos[scenario::PROJECT][&Kind::MergeRequests];
    assert_eq!(merges_report.resumed_at_page, Some(2));
    // Page 2: !3 and !1, each opened, merged and its push; page 3: !0, older than the window.
    assert_eq!(merges_report.stored, 3 + 3);

    assert_all_found_again::<Gitlab>(&fake, &db).await;
}

async fn gitlab_backfill_to_a_running_server_counts_the_same(backend: Backend) {
    super::to_a_running_server_counts_the_same::<Gitlab>(backend).await;
}

const GITLAB_ENV: [(&str, &str); 1] = [("GITLAB_TOKEN", GITLAB_TOKEN)];

#[tokio::test]
async fn gitlab_backfill_command_reads_projects_and_groups() {
    let (mut objects, lists) = scenario::rest();
    objects.insert(
        "/api/v4/groups/acme/projects".into(),
        serde_json::json!([{"path_with_namespace": scenario::PROJECT, "archived": false},
                           {"path_with_namespace": "acme/old", "archived": true}]),
    );
    let fake = FakeApi::start_as(Style::Gitlab, objects, lists, 2).await;
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("dora.db");
    let args = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = ["backfill", "gitlab", "--api-url", &fake.url]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(["--since", "2025-03-01", "--until", "2025-03-31"].map(String::from));
        args.extend([
            "--database-url".into(),
            format!("sqlite://{}", database.display()),
        ]);
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let (code, out, err) = dora_events(&GITLAB_ENV, args(&["--group", "acme", "--dry-run"])).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("acme/web/shop: would send {EVENTS} events")),
        "{out}"
    );
    assert!(
        !out.contains("acme/old"),
        "archived projects are left out: {out}"
    );
    assert!(!database.exists(), "a dry run opens no database");
    assert!(out.contains("requests to the GitLab API"), "{out}");

    let (code, out, err) = dora_events(&GITLAB_ENV, args(&["--project", scenario::PROJECT])).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("stored {EVENTS}, duplicates 0")),
        "{out}"
    );
    // The project, 3 pages of deployments and of merge requests, 3 commits and 2 commit lists
    // of the merged ones, 2 incident lists, the pipelines and pipeline 501.
    assert!(out.contains("16 requests to the GitLab API"), "{out}");

    let (code, out, err) = dora_events(
        &GITLAB_ENV,
        args(&["--project", scenario::PROJECT, "--json"]),
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        report["repos"]["acme/web/shop"]["merge-requests"]["duplicates"],
        11
    );

    let (code, _, err) =
        dora_events(&[], args(&["--project", scenario::PROJECT, "--dry-run"])).await;
    assert_eq!(code, 1);
    assert!(err.contains("401") && err.contains("GITLAB_TOKEN"), "{err}");

    let (code, _, err) =
        dora_events(&GITLAB_ENV, args(&["--project", "acme/nope", "--dry-run"])).await;
    assert_eq!(code, 1);
    assert!(
        err.contains("acme/nope")
            && err.contains("GET /api/v4/projects/acme%2Fnope")
            && err.contains("404"),
        "{err}"
    );
}

/// A project `[[services]]` splits by path: the commits of each landing push are read with
/// their diffs (`GET /repository/commits/:sha/diff`) and listed as a Push Hook lists its files;
/// other projects cost no such request and list none.
async fn gitlab_backfill_lists_the_files_of_a_monorepo_s_landing_pushes(backend: Backend) {
    let (objects, mut lists) = scenario::rest();
    let base = scenario::project_path();
    // Every commit a landing push can list gets a diff: a new file, a renamed one, a change.
    let commits: Vec<String> = objects
        .keys()
        .filter_map(|path| path.strip_prefix(&format!("{base}/repository/commits/")))
        .map(str::to_owned)
        .collect();
    for sha in &commits {
        let name = sha.trim_start_matches('0');
        let diff = serde_json::json!([
            {"old_path": format!("services/{name}/new.rs"), "new_path": format!("services/{name}/new.rs"), "new_file": true},
            {"old_path": "docs/old.md", "new_path": "docs/new.md", "renamed_file": true},
            {"old_path": "README.md", "new_path": "README.md"},
        ]);
        let diff = diff.as_array().unwrap().clone();
        lists.insert(format!("{base}/repository/commits/{sha}/diff"), diff);
    }
    let fake = FakeApi::start_as(Style::Gitlab, objects, lists, 2).await;
    // The commits whose diff was asked for (each in pages of two entries: all three are read).
    let diff_requests = |log: Vec<String>| {
        let diffs = log.iter().filter(|path| path.contains("/diff"));
        let commits = diffs.map(|path| path.split('?').next().unwrap_or_default().to_owned());
        commits.collect::<std::collections::BTreeSet<_>>().len()
    };
    const PUSH: &str = "dev.knative.sources.gitlab.push";

    let db = backend.fresh_database().await;
    let monorepo = [scenario::PROJECT.to_owned()];
    with_store(&db, 1 << 20, async |sink: &Sink| {
        backfill_listing_files(&fake, sink, &monorepo).await
    })
    .await
    .0
    .unwrap();
    let pushes = stored_of_type(&db, PUSH).await;
    let listed: Vec<&Value> = pushes
        .iter()
        .flat_map(|push| push["data"]["commits"].as_array().unwrap())
        .collect();
    assert!(!listed.is_empty());
    assert_eq!(diff_requests(fake.take_log()), listed.len());
    for commit in listed {
        let name = commit["id"].as_str().unwrap().trim_start_matches('0');
        let new = format!("services/{name}/new.rs");
        assert_eq!(commit["added"], serde_json::json!([new, "docs/new.md"]));
        assert_eq!(commit["removed"], serde_json::json!(["docs/old.md"]));
        assert_eq!(commit["modified"], serde_json::json!(["README.md"]));
    }

    let plain = backend.fresh_database().await;
    Gitlab::backfill_into(&fake, &plain).await.0.unwrap();
    assert_eq!(diff_requests(fake.take_log()), 0);
    let pushes = stored_of_type(&plain, PUSH).await;
    assert!(!pushes.is_empty());
    for push in &pushes {
        for commit in push["data"]["commits"].as_array().unwrap() {
            assert_eq!(commit["added"], serde_json::json!([]));
        }
    }
}
