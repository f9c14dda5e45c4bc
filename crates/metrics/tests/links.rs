//! The incremental linker against a from-scratch linking of the same facts: random histories of
//! deployments, changes (requests, landing pushes, listed commits, artifacts) and incidents,
//! delivered shuffled, in random chunks, with redeliveries, on both stores. After every chunk
//! the link tables must equal what linking everything stored from scratch gives.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use dora_metrics::calculator::FactsCalculator;
use dora_metrics::dora::DoraConfig;
use dora_metrics::links::{links_from_scratch, Linker};
use dora_store::{NewCdEvent, NewRawEvent, Origin, RouterOutput, Store, ROUTER_CURSOR};
use dora_testkit::Backend;
use serde_json::{json, Value};

/// A small deterministic generator (LCG).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.next(one_in) == 0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.next(items.len() as u64) as usize]
    }
}

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
}

fn time(g: &mut Lcg, hours: u64) -> String {
    (base() + Duration::hours(g.next(hours) as i64)).to_rfc3339()
}

fn cdevent(id: &str, kind: &str, timestamp: &str, subject: Value, custom: Value) -> Value {
    let mut event = json!({
        "context": {"specversion": "0.4.1", "id": id, "source": "/test", "timestamp": timestamp,
                    "type": format!("dev.cdevents.{kind}.0.2.0")},
        "subject": subject,
    });
    if !custom.is_null() {
        event["customData"] = json!({"dora": custom});
    }
    event
}

/// A random history as CDEvents, in generation order.
fn history(seed: u64) -> Vec<Value> {
    let mut g = Lcg(seed);
    let services = ["api", "web"];
    let environments = ["prod", "prod-eu", "staging"];
    let sha = |g: &mut Lcg| format!("S{}", g.next(24));
    let mut events = Vec::new();
    for n in 0..50 {
        let kind = match g.next(8) {
            0 => "service.rolledback",
            1 => "service.upgraded",
            _ => "service.deployed",
        };
        let mut custom = serde_json::Map::new();
        if g.next(3) > 0 {
            custom.insert("revision".into(), json!(sha(&mut g)));
        }
        if g.chance(7) {
            custom.insert("outcome".into(), json!("failure"));
        }
        if g.chance(4) {
            let commits: Vec<Value> = (0..=g.next(2))
                .map(|_| {
                    if g.chance(2) {
                        json!(sha(&mut g))
                    } else {
                        json!({"sha": sha(&mut g), "timestamp": time(&mut g, 480)})
                    }
                })
                .collect();
            custom.insert("commits".into(), json!(commits));
        }
        if g.chance(5) {
            custom.insert("changes".into(), json!([format!("pr-{}", g.next(20))]));
        }
        let mut content = json!({"environment": {"id": g.pick(&environments)}});
        if g.chance(2) {
            content["artifactId"] = json!(format!("img:{}", g.next(12)));
        }
        events.push(cdevent(
            &format!("deploy-{n}"),
            kind,
            &time(&mut g, 480),
            json!({"id": g.pick(&services), "content": content}),
            Value::Object(custom),
        ));
    }
    for n in 0..20 {
        // A request, merged, sometimes with its service, creation and commits.
        let merge_sha = sha(&mut g);
        let mut custom = json!({"mergeSha": merge_sha});
        if g.chance(2) {
            custom["service"] = json!(g.pick(&services));
        }
        if g.next(3) > 0 {
            custom["createdAt"] = json!(time(&mut g, 400));
        }
        if g.chance(3) {
            custom["commits"] = json!([{"sha": sha(&mut g), "timestamp": time(&mut g, 400)}]);
        }
        let id = format!("pr-{n}");
        events.push(cdevent(
            &format!("merged-{n}"),
            "change.merged",
            &time(&mut g, 480),
            json!({"id": id, "content": {"repository": {"id": "acme"}}}),
            custom,
        ));
        // The push that landed it (sometimes), with its merge commit and an earlier one.
        if g.chance(2) {
            events.push(cdevent(
                &format!("push-{n}"),
                "change.updated",
                &time(&mut g, 480),
                json!({"id": format!("acme@{merge_sha}"), "content": {}}),
                json!({"commits": [
                    {"sha": sha(&mut g), "timestamp": time(&mut g, 400)},
                    {"sha": merge_sha, "timestamp": time(&mut g, 480)}]}),
            ));
        }
        if g.chance(3) {
            events.push(cdevent(
                &format!("packaged-{n}"),
                "artifact.packaged",
                &time(&mut g, 480),
                json!({"id": format!("img:{}", g.next(12)), "content": {"change": {"id": id}}}),
                Value::Null,
            ));
        }
    }
    for n in 0..16 {
        let detected = base() + Duration::hours(g.next(500) as i64);
        let mut content = serde_json::Map::new();
        if g.next(5) > 0 {
            content.insert("service".into(), json!({"id": g.pick(&services)}));
        }
        if g.next(4) > 0 {
            content.insert("environment".into(), json!({"id": g.pick(&environments)}));
        }
        if g.chance(4) {
            content.insert("artifactId".into(), json!(format!("img:{}", g.next(12))));
        }
        let custom = if g.chance(4) {
            json!({"deployment": format!("deploy-{}", g.next(60))})
        } else {
            Value::Null
        };
        let id = format!("inc-{n}");
        events.push(cdevent(
            &format!("detected-{n}"),
            "incident.detected",
            &detected.to_rfc3339(),
            json!({"id": id, "content": Value::Object(content)}),
            custom,
        ));
        if g.next(4) > 0 {
            let resolved = detected + Duration::hours(g.next(120) as i64);
            events.push(cdevent(
                &format!("resolved-{n}"),
                "incident.resolved",
                &resolved.to_rfc3339(),
                json!({"id": id, "content": {}}),
                Value::Null,
            ));
        }
    }
    events
}

/// Stores CDEvents as `POST /cdevents` would (a raw event each, passed through as a CDEvent);
/// a redelivery gets a raw id of its own and is kept once as a CDEvent.
async fn store_cdevents(store: &Store, events: &[(Value, bool)]) {
    let raws: Vec<NewRawEvent> = events
        .iter()
        .map(|(event, redelivery)| {
            let id = event["context"]["id"].as_str().unwrap();
            NewRawEvent {
                id: if *redelivery {
                    format!("{id}-again")
                } else {
                    id.to_owned()
                },
                source: "/test".into(),
                event_type: event["context"]["type"].as_str().unwrap().into(),
                time: None,
                received_at: Utc::now(),
                content: event.to_string(),
                origin: Origin::Cdevents,
            }
        })
        .collect();
    store.append_raw(&raws).await.unwrap();
    let from = store.cursor(ROUTER_CURSOR).await.unwrap();
    let batch = store.raw_after(from, 100_000).await.unwrap();
    let Some(last) = batch.records.last() else {
        return;
    };
    let cdevents = batch
        .records
        .iter()
        .map(|record| {
            let event: Value = serde_json::from_str(&record.content).unwrap();
            let text = |pointer: &str| event.pointer(pointer).unwrap().as_str().unwrap().to_owned();
            let cdevent = NewCdEvent {
                id: text("/context/id"),
                source: text("/context/source"),
                event_type: text("/context/type"),
                subject_id: text("/subject/id"),
                subject_source: None,
                timestamp: DateTime::parse_from_rfc3339(&text("/context/timestamp"))
                    .unwrap()
                    .with_timezone(&Utc),
                content: record.content.clone(),
                transformer: "cdevents".into(),
            };
            (record.seq(), cdevent)
        })
        .collect();
    let output = RouterOutput {
        cdevents,
        ..RouterOutput::default()
    };
    store
        .commit_router_pass(from, last.position, &output)
        .await
        .unwrap();
}

fn prod_only() -> DoraConfig {
    DoraConfig {
        production_environments: vec!["prod".into(), "prod-eu".into()],
        ..DoraConfig::default()
    }
}

#[tokio::test]
async fn incremental_links_equal_links_from_scratch() {
    for backend in Backend::all() {
        for seed in 1..=6u64 {
            let config = if seed % 2 == 0 {
                prod_only()
            } else {
                DoraConfig::default()
            };
            let db = backend.fresh_database().await;
            let store = Store::connect(&db.url).await.unwrap();
            let mut g = Lcg(seed * 7919);
            // Shuffled, with one event in six delivered twice.
            let mut events: Vec<(Value, bool)> = history(seed)
                .into_iter()
                .flat_map(|e| {
                    let again = g.chance(6);
                    std::iter::once((e.clone(), false)).chain(again.then_some((e, true)))
                })
                .collect();
            for i in (1..events.len()).rev() {
                let j = g.next(i as u64 + 1) as usize;
                events.swap(i, j);
            }
            let calculator = FactsCalculator::new(store.clone(), 7);
            let linker = Linker::new(store.clone(), config.clone(), 5);
            linker.prepare().await.unwrap();
            let mut rest = events.as_slice();
            let mut chunk = 0;
            while !rest.is_empty() {
                let size = (1 + g.next(25) as usize).min(rest.len());
                let (now, later) = rest.split_at(size);
                rest = later;
                store_cdevents(&store, now).await;
                calculator.run_until_idle().await.unwrap();
                linker.run_until_idle().await.unwrap();
                chunk += 1;
                if chunk % 3 == 0 || rest.is_empty() {
                    let stored = store.all_links().await.unwrap();
                    let expected = links_from_scratch(&store, &config).await.unwrap();
                    assert_links_equal(
                        &stored,
                        &expected,
                        &format!("{backend:?} seed {seed} chunk {chunk}"),
                    );
                }
            }
            let all = store.all_links().await.unwrap();
            assert!(all.deployments.len() >= 40, "the history has deployments");
            assert!(all.incidents.len() >= 10, "and incidents");
            assert!(
                all.changes.iter().any(|c| c.first_deployment.is_some()),
                "and shipped changes"
            );
            store.close().await;
        }
    }
}

fn assert_links_equal(stored: &dora_store::AllLinks, expected: &dora_store::AllLinks, what: &str) {
    for (s, e) in stored.changes.iter().zip(&expected.changes) {
        assert_eq!(s, e, "{what}: change");
    }
    assert_eq!(
        stored
            .changes
            .iter()
            .map(|c| &c.change_id)
            .collect::<Vec<_>>(),
        expected
            .changes
            .iter()
            .map(|c| &c.change_id)
            .collect::<Vec<_>>(),
        "{what}: change ids"
    );
    assert_eq!(
        stored.containments, expected.containments,
        "{what}: containments"
    );
    for (s, e) in stored.incidents.iter().zip(&expected.incidents) {
        assert_eq!(s, e, "{what}: incident");
    }
    assert_eq!(
        stored.incidents.len(),
        expected.incidents.len(),
        "{what}: incidents"
    );
    for (s, e) in stored.deployments.iter().zip(&expected.deployments) {
        assert_eq!(s, e, "{what}: deployment");
    }
    assert_eq!(
        stored.deployments.len(),
        expected.deployments.len(),
        "{what}: deployments"
    );
}

#[tokio::test]
async fn a_new_configuration_links_everything_again() {
    for backend in Backend::all() {
        let db = backend.fresh_database().await;
        let store = Store::connect(&db.url).await.unwrap();
        let events: Vec<(Value, bool)> = history(3).into_iter().map(|e| (e, false)).collect();
        store_cdevents(&store, &events).await;
        FactsCalculator::new(store.clone(), 100)
            .run_until_idle()
            .await
            .unwrap();
        for config in [DoraConfig::default(), prod_only()] {
            let linker = Linker::new(store.clone(), config.clone(), 1_000);
            linker.prepare().await.unwrap();
            linker.run_until_idle().await.unwrap();
            let expected = links_from_scratch(&store, &config).await.unwrap();
            assert_links_equal(
                &store.all_links().await.unwrap(),
                &expected,
                &format!("{backend:?}"),
            );
        }
        store.close().await;
    }
}
