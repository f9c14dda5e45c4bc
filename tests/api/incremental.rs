//! The incremental engine end to end: random histories posted shuffled, in chunks, with
//! redeliveries; after each chunk every answer of the API (keys for several windows and
//! scopes, the drill-down lists, paged by offset and by `after`) must equal a from-scratch
//! computation over everything stored (fold, narrow, link: the engine before the link tables).

use std::collections::BTreeMap;

use chrono::Duration;
use dora_metrics::dora::linking::Linked;
use dora_metrics::dora::Window;
use dora_metrics::folding::fold;
use dora_metrics::scope::{narrow, Scope};
use dora_store::{FactFilter, Store};
use dora_testkit::history::{base, history, Lcg};
use serde_json::{json, Value};

use crate::helpers::{spawn_with, test_settings, Backend, TestApp};

fn scopes() -> Vec<(Scope, &'static str)> {
    vec![
        (Scope::default(), ""),
        (
            Scope {
                services: Some(vec!["api".into()]),
                ..Scope::default()
            },
            "&service=api",
        ),
        (
            Scope {
                environments: Some(vec!["prod".into()]),
                ..Scope::default()
            },
            "&environment=prod",
        ),
        (
            Scope {
                teams: Some(vec!["storefront".into()]),
                ..Scope::default()
            },
            "&team=storefront",
        ),
    ]
}

fn windows() -> Vec<Window> {
    let at = |hours: i64| base() + Duration::hours(hours);
    vec![
        Window::new(at(0), at(24 * 31)).unwrap(),
        Window::new(at(24 * 7), at(24 * 14)).unwrap(),
        Window::new(at(37), at(24 * 9 + 5)).unwrap(),
        Window::new(at(-24 * 30), at(24 * 60)).unwrap(),
    ]
}

fn query(window: &Window) -> String {
    format!(
        "from={}&to={}",
        window.from.to_rfc3339().replace('+', "%2B"),
        window.to.to_rfc3339().replace('+', "%2B")
    )
}

/// Every item of a drill-down list, by `after` pages of 7.
async fn all_pages(app: &TestApp, path: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let url = match &after {
            Some(next) => format!("{path}&limit=7&after={next}"),
            None => format!("{path}&limit=7"),
        };
        let page = app.get_json(&url).await;
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => return items,
        }
    }
}

/// The API's answers against a from-scratch computation over what is stored.
async fn check(
    app: &TestApp,
    store: &Store,
    settings_teams: &BTreeMap<String, String>,
    config: &dora_metrics::dora::DoraConfig,
    what: &str,
) {
    let rows = store.load_facts(&FactFilter::default()).await.unwrap();
    let cdevent_ids: BTreeMap<i64, String> = rows
        .deployments
        .iter()
        .map(|d| (d.id, d.cdevent_id.clone()))
        .collect();
    let facts = fold(rows, settings_teams);
    for (scope, filter) in scopes() {
        let scoped = narrow(&facts, &scope);
        let linked = Linked::new(&scoped, config);
        for window in windows() {
            let q = query(&window);
            let answer = app.get_json(&format!("/api/v1/dora?{q}{filter}")).await;
            // Through text, as the answer came (numbers parse the same way).
            let expected: Value =
                serde_json::from_str(&serde_json::to_string(&linked.report(&window)).unwrap())
                    .unwrap();
            assert_eq!(answer["keys"], expected["keys"], "{what}: keys {q}{filter}");
            assert_eq!(answer["stale"], false, "{what}");
            assert_eq!(answer["freshness"]["behind_cdevents"], 0, "{what}");

            let mut deployments: Vec<Value> = linked
                .deployments_in(&window)
                .into_iter()
                .map(|d| {
                    let mut item = serde_json::to_value(&d).unwrap();
                    item["cdevent_id"] = json!(cdevent_ids.get(&d.id));
                    item
                })
                .collect();
            deployments.reverse();
            let mut changes: Vec<Value> = linked
                .changes_in(&window)
                .into_iter()
                .map(|c| serde_json::to_value(&c).unwrap())
                .collect();
            changes.reverse();
            let mut incidents: Vec<Value> = linked
                .incidents_in(&window)
                .into_iter()
                .map(|i| serde_json::to_value(&i).unwrap())
                .collect();
            incidents.reverse();
            for (list, expected) in [
                ("deployments", deployments),
                ("changes", changes),
                ("incidents", incidents),
            ] {
                let path = format!("/api/v1/{list}?{q}{filter}");
                let page = app.get_json(&format!("{path}&limit=1000")).await;
                assert_eq!(page["total"], expected.len(), "{what}: {path}");
                assert_eq!(page["items"], json!(expected), "{what}: {path}");
                assert_eq!(
                    all_pages(app, &path).await,
                    expected,
                    "{what}: {path} by after"
                );
                // Any well-formed cursor is a place in the list, even one naming no item
                // (a NUL in its text included: PostgreSQL refuses NULs in text).
                let odd = app.get_json(&format!("{path}&after=10.7.004e")).await;
                assert!(odd["items"].is_array(), "{what}: {path}: {odd}");
                let offset = app.get_json(&format!("{path}&limit=3&offset=2")).await;
                let slice: Vec<Value> = expected.iter().skip(2).take(3).cloned().collect();
                assert_eq!(offset["items"], json!(slice), "{what}: {path} by offset");
            }
        }
    }
}

async fn every_answer_equals_a_computation_from_scratch(backend: Backend) {
    for seed in [11u64, 12] {
        let db = backend.fresh_database().await;
        let mut settings = test_settings(&db);
        if seed % 2 == 0 {
            settings.dora.production_environments = vec!["prod".into(), "prod-eu".into()];
        }
        settings
            .dora
            .teams
            .insert("web".into(), "storefront".into());
        let teams = settings.dora.teams.clone();
        let config = settings.dora.config();
        let app = spawn_with(settings, db).await;
        let store = Store::connect(&app.database_url).await.unwrap();
        let mut g = Lcg(seed);
        let mut events: Vec<Value> = history(seed)
            .into_iter()
            .flat_map(|e| {
                let again = g.chance(6);
                std::iter::once(e.clone()).chain(again.then_some(e))
            })
            .collect();
        for i in (1..events.len()).rev() {
            let j = g.next(i as u64 + 1) as usize;
            events.swap(i, j);
        }
        let mut chunk = 0;
        for part in events.chunks(30) {
            let response = app.post_json("/cdevents", &json!(part)).await;
            assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
            app.wait_until_processed().await;
            chunk += 1;
            if chunk % 2 == 0 || part.len() < 30 {
                check(
                    &app,
                    &store,
                    &teams,
                    &config,
                    &format!("{backend:?} seed {seed} chunk {chunk}"),
                )
                .await;
            }
        }
        store.close().await;
    }
}

backend_tests!(every_answer_equals_a_computation_from_scratch,);
