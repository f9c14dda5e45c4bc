//! The incremental linker against a from-scratch linking of the same facts: random histories of
//! deployments, changes (requests, landing pushes, listed commits, artifacts) and incidents,
//! delivered shuffled, in random chunks, with redeliveries, on both stores. After every chunk
//! the link tables must equal what linking everything stored from scratch gives.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Utc};
use dora_metrics::dora::DoraConfig;
use dora_metrics::linker::{links_from_scratch, Linker};
use dora_metrics::observer::Observer;
use dora_store::{NewCdEvent, NewRawEvent, Origin, RouterOutput, Store, ROUTER_CURSOR};
use dora_testkit::history::{loose_history as history, Lcg};
use dora_testkit::Backend;
use serde_json::Value;

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
    // On PostgreSQL the router reads below the oldest running transaction of the whole server,
    // which other databases' transactions can hold back for a moment: route until all is routed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let from = store.cursor(ROUTER_CURSOR).await.unwrap();
        let batch = store.raw_after(from, 100_000).await.unwrap();
        if let Some(last) = batch.records.last() {
            let output = RouterOutput {
                cdevents: batch
                    .records
                    .iter()
                    .map(|r| (r.seq(), as_cdevent(&r.content)))
                    .collect(),
                ..RouterOutput::default()
            };
            store
                .commit_router_pass(from, last.position, &output)
                .await
                .unwrap();
        }
        if !batch.more_pending {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "raw events stayed pending for 60 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A stored CDEvent as passed through by `POST /cdevents`.
fn as_cdevent(content: &str) -> NewCdEvent {
    let event: Value = serde_json::from_str(content).unwrap();
    let text = |pointer: &str| event.pointer(pointer).unwrap().as_str().unwrap().to_owned();
    NewCdEvent {
        id: text("/context/id"),
        source: text("/context/source"),
        event_type: text("/context/type"),
        subject_id: text("/subject/id"),
        subject_source: None,
        timestamp: DateTime::parse_from_rfc3339(&text("/context/timestamp"))
            .unwrap()
            .with_timezone(&Utc),
        content: content.to_owned(),
        transformer: "cdevents".into(),
    }
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
        for seed in 1..=8u64 {
            let config = if seed % 2 == 0 {
                prod_only()
            } else {
                DoraConfig::default()
            };
            let db = backend.fresh_database().await;
            let store = Store::connect(&db.url).await.unwrap();
            let mut g = Lcg(seed * 7919);
            // Shuffled, with one event in six delivered twice.
            // Seeds 7 and 8: every CDEvent's time falls on a two-day boundary, so many
            // deployments of a service and environment share their timestamp.
            let mut events: Vec<(Value, bool)> = history(seed)
                .into_iter()
                .map(|e| if seed > 6 { on_two_day_boundary(e) } else { e })
                .flat_map(|e| {
                    let again = g.chance(6);
                    std::iter::once((e.clone(), false)).chain(again.then_some((e, true)))
                })
                .collect();
            for i in (1..events.len()).rev() {
                let j = g.next(i as u64 + 1) as usize;
                events.swap(i, j);
            }
            let calculator = Observer::new(store.clone(), 7);
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

/// The CDEvent with its `context.timestamp` moved back to the last two-day boundary.
fn on_two_day_boundary(mut event: Value) -> Value {
    let at = event["context"]["timestamp"].as_str().unwrap();
    let at = DateTime::parse_from_rfc3339(at).unwrap().timestamp();
    let block = 2 * 24 * 3600;
    let tied = DateTime::from_timestamp(at - at.rem_euclid(block), 0).unwrap();
    event["context"]["timestamp"] = Value::from(tied.to_rfc3339());
    event
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
        Observer::new(store.clone(), 100)
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

/// An observation that does not read (here a time that is a number) is no silent skip:
/// the linker links the pass again one CDEvent at a time, records the observation as its
/// failure of that CDEvent, and links everything else as linking from scratch does.
#[tokio::test]
async fn an_observation_that_does_not_read_is_a_recorded_failure() {
    for backend in Backend::all() {
        let db = backend.fresh_database().await;
        let store = Store::connect(&db.url).await.unwrap();
        let events: Vec<(Value, bool)> = history(3).into_iter().map(|e| (e, false)).collect();
        store_cdevents(&store, &events).await;
        let batch = store.cdevents_after(0, 100_000).await.unwrap();
        let mut output = dora_store::FactsOutput::default();
        for record in &batch {
            dora_metrics::observer::observe(record, &mut output);
        }
        let corrupt = output
            .observations
            .iter_mut()
            .find(|o| o.fact == "change")
            .expect("the history observes changes");
        // JSON (PostgreSQL stores bodies as JSON), but not an observation.
        corrupt.body = r#"{"predicate": "merged", "created_at": 7}"#.into();
        let (seq, fact_id) = (corrupt.cdevent_seq, corrupt.fact_id.clone());
        let last = batch.last().unwrap().seq;
        store.commit_facts(0, last, &output).await.unwrap();

        let config = DoraConfig::default();
        let linker = Linker::new(store.clone(), config.clone(), 1_000);
        linker.run_until_idle().await.unwrap();
        let failures = store.list_failures(100, 0).await.unwrap();
        let recorded: Vec<_> = failures
            .iter()
            .filter(|f| f.transformer == dora_store::LINKER)
            .collect();
        assert_eq!(recorded.len(), 1, "{backend:?}: {failures:#?}");
        assert_eq!(recorded[0].cdevent_seq, Some(seq), "{backend:?}");
        assert!(
            recorded[0].reason.contains("invalid type") && recorded[0].reason.contains(&fact_id),
            "{backend:?}: {}",
            recorded[0].reason
        );
        assert_eq!(
            store.cursor(dora_store::LINKS_CURSOR).await.unwrap().seq,
            last,
            "{backend:?}: nothing held back"
        );
        let expected = links_from_scratch(&store, &config).await.unwrap();
        assert_links_equal(
            &store.all_links().await.unwrap(),
            &expected,
            &format!("{backend:?}"),
        );
        assert!(!expected.deployments.is_empty());
        store.close().await;
    }
}

/// `Store::target_deployments` and `Store::target_neighbour` read ranges and neighbours by
/// (time, id) position with index ranges per instant; on a history where many deployments
/// share their timestamps, they must give what filtering every deployment gives.
#[tokio::test]
async fn ranges_and_neighbours_by_position_equal_a_scan_of_every_deployment() {
    use dora_store::Neighbour;
    for backend in Backend::all() {
        let db = backend.fresh_database().await;
        let store = Store::connect(&db.url).await.unwrap();
        let events: Vec<(Value, bool)> = history(7)
            .into_iter()
            .map(|e| (on_two_day_boundary(e), false))
            .collect();
        store_cdevents(&store, &events).await;
        Observer::new(store.clone(), 1000)
            .run_until_idle()
            .await
            .unwrap();
        let all = store.facts_between(0, i64::MAX).await.unwrap().deployments;
        let key = |d: &dora_store::DeploymentRecord| (d.deployed_at, d.id);
        let mut g = Lcg(11);
        let mut checked = (0, 0);
        for _ in 0..200 {
            let pick = &all[g.next(all.len() as u64) as usize];
            let target = (pick.service.as_str(), pick.environment.as_str());
            let mut mine: Vec<_> = all
                .iter()
                .filter(|d| (d.service.as_str(), d.environment.as_str()) == target)
                .collect();
            mine.sort_by_key(|d| key(d));
            let from = key(mine[g.next(mine.len() as u64) as usize]);
            let until = match g.next(3) {
                0 => None,
                1 => Some(from),
                _ => Some(key(mine[g.next(mine.len() as u64) as usize])).filter(|u| *u >= from),
            };
            let expected: Vec<i64> = mine
                .iter()
                .filter(|d| key(d) >= from && until.is_none_or(|u| key(d) <= u))
                .map(|d| d.id)
                .collect();
            let read = store
                .target_deployments(target.0, target.1, from, until)
                .await
                .unwrap();
            let read: Vec<i64> = read.iter().map(|d| d.id).collect();
            assert_eq!(read, expected, "{backend:?} {target:?} {from:?}..{until:?}");
            checked.0 += usize::from(read.len() > 1);
            for (side, not_failed) in [
                (Neighbour::Before, false),
                (Neighbour::Before, true),
                (Neighbour::After, false),
                (Neighbour::After, true),
            ] {
                let mut candidates = mine.iter().filter(|d| !(not_failed && d.failed));
                let expected = match side {
                    Neighbour::Before => candidates.rfind(|d| key(d) < from),
                    Neighbour::After => candidates.into_iter().find(|d| key(d) > from),
                }
                .map(|d| d.id);
                let read = store
                    .target_neighbour(target.0, target.1, from, side, not_failed)
                    .await
                    .unwrap()
                    .map(|d| d.id);
                assert_eq!(read, expected, "{backend:?} {target:?} {from:?} {side:?}");
                checked.1 +=
                    usize::from(read.is_some_and(|id| {
                        mine.iter().any(|d| d.id == id && d.deployed_at == from.0)
                    }));
            }
        }
        // The history exercises what the split queries are about: ranges of several
        // deployments, and neighbours at the same instant as the position.
        assert!(checked.0 > 20 && checked.1 > 20, "{backend:?}: {checked:?}");
        store.close().await;
    }
}
