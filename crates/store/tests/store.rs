//! The store's guarantees, on every backend: group commit splits outcomes per request and stores
//! each (source, id) once; cursors refuse a move from a stale position.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use dora_store::writer::RawWriter;
use dora_store::{NewRawEvent, Origin, RouterOutput, Store, StoreError};
use dora_testkit::Backend;
use tokio::sync::Notify;

fn raw(source: &str, id: &str) -> NewRawEvent {
    NewRawEvent {
        id: id.into(),
        source: source.into(),
        event_type: "com.example.test".into(),
        time: None,
        received_at: Utc::now(),
        content: format!(
            r#"{{"specversion":"1.0","id":"{id}","source":"{source}","type":"com.example.test"}}"#
        ),
        origin: Origin::Events,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_store_each_event_once_and_report_per_request() {
    for backend in Backend::all() {
        let db = backend.fresh_database().await;
        let store = Store::connect(&db.url).await.unwrap();
        let committed = Arc::new(Notify::new());
        let writer = RawWriter::spawn(store.clone(), 64, 50, committed);
        // 20 requests of 10 events; request r holds ids r*5 .. r*5+10, so neighbours overlap
        // by half and most ids arrive twice, in different requests and commits.
        let mut tasks = Vec::new();
        for request in 0..20 {
            let writer = writer.clone();
            tasks.push(tokio::spawn(async move {
                let events: Vec<NewRawEvent> = (request * 5..request * 5 + 10)
                    .map(|i| raw("/writer-test", &format!("e-{i}")))
                    .collect();
                let ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
                let outcome = writer.write(events).await.unwrap();
                assert_eq!(
                    outcome.len(),
                    ids.len(),
                    "one outcome per event of this request"
                );
                ids.into_iter().zip(outcome).collect::<Vec<_>>()
            }));
        }
        let mut new_per_id: HashMap<String, usize> = HashMap::new();
        for task in tasks {
            for (id, new) in task.await.unwrap() {
                *new_per_id.entry(id).or_default() += usize::from(new);
            }
        }
        assert_eq!(new_per_id.len(), 105, "ids 0..105 were sent");
        assert!(
            new_per_id.values().all(|count| *count == 1),
            "each id reported new exactly once: {backend:?}"
        );
        assert_eq!(store.stats().await.unwrap().raw_events, 105);
        store.close().await;
    }
}

#[tokio::test]
async fn a_cursor_moves_only_from_where_it_stands() {
    for backend in Backend::all() {
        let db = backend.fresh_database().await;
        let store = Store::connect(&db.url).await.unwrap();
        store
            .append_raw(&[raw("/s", "1"), raw("/s", "2")])
            .await
            .unwrap();
        let empty = RouterOutput::default();
        store.commit_router_pass(0, 1, &empty).await.unwrap();
        let stale = store.commit_router_pass(0, 2, &empty).await;
        assert!(
            matches!(stale, Err(StoreError::CursorMoved { .. })),
            "{backend:?}: {stale:?}"
        );
        assert_eq!(store.cursor(dora_store::ROUTER_CURSOR).await.unwrap(), 1);
        store.commit_router_pass(1, 2, &empty).await.unwrap();
        assert_eq!(store.cursor(dora_store::ROUTER_CURSOR).await.unwrap(), 2);
        store.close().await;
    }
}

#[tokio::test]
async fn raw_events_are_read_in_order_after_a_position() {
    for backend in Backend::all() {
        let db = backend.fresh_database().await;
        let store = Store::connect(&db.url).await.unwrap();
        let events: Vec<NewRawEvent> = (0..10).map(|i| raw("/s", &i.to_string())).collect();
        assert_eq!(store.append_raw(&events).await.unwrap(), vec![true; 10]);
        let all = store.raw_after(0, 100).await.unwrap();
        assert_eq!(all.len(), 10);
        assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
        let tail = store.raw_after(all[6].seq, 2).await.unwrap();
        assert_eq!(
            tail.iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![all[7].seq, all[8].seq]
        );
        store.close().await;
    }
}

#[tokio::test]
async fn several_instances_migrating_at_once_all_start() {
    for backend in Backend::all() {
        let db = backend.fresh_database().await;
        // Four pools race for the empty database (one task; they interleave at every await).
        let (a, b, c, d) = tokio::join!(
            Store::connect(&db.url),
            Store::connect(&db.url),
            Store::connect(&db.url),
            Store::connect(&db.url)
        );
        for opened in [a, b, c, d] {
            let store = opened.unwrap_or_else(|e| panic!("{backend:?}: {e}"));
            store.ping().await.unwrap();
            store.close().await;
        }
    }
}
