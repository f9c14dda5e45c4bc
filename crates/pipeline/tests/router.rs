//! The router over a real store: passes follow the cursor one batch at a time, every event is
//! read once, failures are recorded without holding the cursor, and a new router instance
//! (a restart) continues where the last one stopped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::Utc;
use dora_pipeline::router::{PassReport, Router};
use dora_pipeline::routing::{default_routes, RoutingTable};
use dora_store::{NewRawEvent, Origin, Store, ROUTER_CURSOR};
use dora_testkit::Backend;
use serde_json::{json, Value};

fn deployment(id: &str, revision: u32) -> Value {
    json!({"specversion": "1.0", "id": id, "source": "https://10.96.0.1:443",
        "type": "dev.knative.apiserver.resource.update", "time": "2023-08-05T10:00:00Z",
        "data": {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "prod", "uid": "u-1",
                "annotations": {"deployment.kubernetes.io/revision": revision.to_string()}},
            "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "web:1"}]}}}}})
}

fn raw(event: &Value) -> NewRawEvent {
    NewRawEvent {
        id: event["id"].as_str().unwrap().into(),
        source: event["source"].as_str().unwrap().into(),
        event_type: event["type"].as_str().unwrap().into(),
        time: None,
        received_at: Utc::now(),
        content: event.to_string(),
        origin: Origin::Events,
    }
}

/// One pass, run again while it read nothing because rows are held back by a transaction still
/// open elsewhere (PostgreSQL's horizon is the whole server's: another test's transaction can
/// hold this database's rows back for a moment).
async fn settled_pass(router: &Router) -> PassReport {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let report = router.run_pass().await.unwrap();
        if report.events > 0 || !report.pending || std::time::Instant::now() > deadline {
            return report;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn passes_follow_the_cursor_one_batch_at_a_time() {
    for backend in Backend::all() {
        let db = backend.fresh_database().await;
        let store = Store::connect(&db.url).await.unwrap();
        let events = [
            deployment("a", 1),
            json!({"specversion": "1.0", "id": "unrouted", "source": "/x", "type": "com.example.other"}),
            deployment("b", 1), // same rollout as "a": same CDEvent id
            json!({"specversion": "1.0", "id": "bad", "source": "/ci",
                   "type": "dev.cdevents.service.deployed.0.3.0", "data": {"context": {}}}),
            deployment("c", 2),
        ];
        store
            .append_raw(&events.iter().map(raw).collect::<Vec<_>>())
            .await
            .unwrap();
        let table =
            Arc::new(RoutingTable::new(&default_routes(), &Default::default(), &[]).unwrap());
        let router = Router::new(store.clone(), table.clone(), 1);

        let mut reports = Vec::new();
        for _ in 0..events.len() {
            let before = store.cursor(ROUTER_CURSOR).await.unwrap();
            let report = settled_pass(&router).await;
            let after = store.cursor(ROUTER_CURSOR).await.unwrap();
            assert_eq!(
                report.events, 1,
                "{backend:?}: one event per pass with batch size 1"
            );
            assert!(
                after > before,
                "the cursor moves on every pass, failures included"
            );
            reports.push(report);
        }
        let cdevents: Vec<usize> = reports.iter().map(|r| r.cdevents).collect();
        assert_eq!(cdevents, [1, 0, 1, 0, 1]);
        assert_eq!(reports.iter().map(|r| r.failures).sum::<usize>(), 1);
        assert_eq!(
            settled_pass(&router).await,
            PassReport::default(),
            "caught up"
        );

        // A new router (a restart) reads nothing again.
        let restarted = Router::new(store.clone(), table, 100);
        assert_eq!(settled_pass(&restarted).await.events, 0);
        let stats = store.stats().await.unwrap();
        assert_eq!(stats.cdevents, 2, "a and b are one rollout; c is another");
        assert_eq!(stats.failures, 1);
        let failures = store.list_failures(10, 0).await.unwrap();
        assert_eq!(failures[0].event_id, "bad");
        store.close().await;
    }
}
