//! The store's guarantees, on every backend: group commit splits outcomes per request and stores
//! each (source, id) once; cursors refuse a move from a stale position.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use dora_store::writer::RawWriter;
use dora_store::{JobOutcome, NewRawEvent, Origin, Position, RouterOutput, Store, StoreError};
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

/// Every stored raw event, waiting out rows that are pending behind a running transaction (on
/// PostgreSQL the horizon is cluster-wide, so other tests' transactions can hold rows back).
async fn read_all(store: &Store) -> Vec<dora_store::RawRecord> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let batch = store.raw_after(Position::START, 100_000).await.unwrap();
        if !batch.more_pending {
            return batch.records;
        }
        assert!(std::time::Instant::now() < deadline, "rows stayed pending");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_store_each_event_once_and_report_per_request() {
    for backend in Backend::all() {
        let db = backend.fresh_database().await;
        let store = Store::connect(&db.url).await.unwrap();
        let committed = Arc::new(Notify::new());
        let writer = RawWriter::spawn(store.clone(), 64, 50, 4, committed);
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
        let (first, second) = {
            let rows = read_all(&store).await;
            (rows[0].position, rows[1].position)
        };
        store
            .commit_router_pass(Position::START, first, &empty)
            .await
            .unwrap();
        let stale = store
            .commit_router_pass(Position::START, second, &empty)
            .await;
        assert!(
            matches!(stale, Err(StoreError::CursorMoved { .. })),
            "{backend:?}: {stale:?}"
        );
        assert_eq!(
            store.cursor(dora_store::ROUTER_CURSOR).await.unwrap(),
            first
        );
        store
            .commit_router_pass(first, second, &empty)
            .await
            .unwrap();
        assert_eq!(
            store.cursor(dora_store::ROUTER_CURSOR).await.unwrap(),
            second
        );
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
        let all = read_all(&store).await;
        assert_eq!(all.len(), 10);
        assert!(all.windows(2).all(|w| w[0].position < w[1].position));
        let tail = store.raw_after(all[6].position, 2).await.unwrap().records;
        assert_eq!(
            tail.iter().map(|r| r.position).collect::<Vec<_>>(),
            vec![all[7].position, all[8].position]
        );
        store.close().await;
    }
}

/// A raw event whose text is about `mib` MiB (a long string in `data`).
fn large_raw(id: &str, mib: usize) -> NewRawEvent {
    let mut event = raw("/large", id);
    let data = "x".repeat(mib * 1024 * 1024);
    event.content = format!(
        r#"{{"specversion":"1.0","id":"{id}","source":"/large","type":"com.example.test","data":"{data}"}}"#
    );
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_reads_large_events_a_text_budget_at_a_time() {
    // Five events of 6 MiB against a budget of 16 MiB: the first read takes the rows whose text
    // before them is under the budget (0, 6 and 12 MiB), the next read the other two.
    assert_eq!(dora_store::PASS_TEXT_BYTES, 16 * 1024 * 1024);
    for backend in Backend::all() {
        let db = backend.fresh_database().await;
        let store = Store::connect(&db.url).await.unwrap();
        let events: Vec<NewRawEvent> = (0..5).map(|i| large_raw(&i.to_string(), 6)).collect();
        store.append_raw(&events).await.unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let first = loop {
            let batch = store.raw_after(Position::START, 1000).await.unwrap();
            if batch.records.len() >= 3 || std::time::Instant::now() > deadline {
                break batch;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        };
        let ids = |records: &[dora_store::RawRecord]| -> Vec<String> {
            records
                .iter()
                .map(|r| {
                    let event: serde_json::Value = serde_json::from_str(&r.content).unwrap();
                    event["id"].as_str().unwrap().to_owned()
                })
                .collect()
        };
        assert_eq!(ids(&first.records), ["0", "1", "2"], "{backend:?}");
        // A read cut short by the budget says so (its stage passes again at once).
        assert!(dora_store::fills_text_budget(
            first.records.iter().map(|r| r.content.as_str()),
            dora_store::PASS_TEXT_BYTES
        ));
        let last = first.records[2].position;
        let rest = store.raw_after(last, 1000).await.unwrap();
        assert_eq!(ids(&rest.records), ["3", "4"], "{backend:?}");
        assert!(!dora_store::fills_text_budget(
            rest.records.iter().map(|r| r.content.as_str()),
            dora_store::PASS_TEXT_BYTES
        ));
        // One event larger than the whole budget is still read, alone.
        store
            .append_raw(&[large_raw("5", 17), raw("/large", "6")])
            .await
            .unwrap();
        let after = rest.records[1].position;
        let alone = loop {
            let batch = store.raw_after(after, 1000).await.unwrap();
            if !batch.records.is_empty() || std::time::Instant::now() > deadline {
                break batch;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        };
        assert_eq!(ids(&alone.records), ["5"], "{backend:?}");
        store.close().await;
    }
}

#[tokio::test]
async fn numbers_at_the_edges_the_door_allows_read_back_as_json() {
    // `dora_model::limits::NUMBER_MAGNITUDES`: PostgreSQL gives these back written out in full,
    // and what it gives back must still parse.
    for backend in Backend::all() {
        let db = backend.fresh_database().await;
        let store = Store::connect(&db.url).await.unwrap();
        let mut event = raw("/edges", "1");
        event.content = r#"{"specversion":"1.0","id":"1","source":"/edges","type":"t","data":[9.99e100,-1e-100,1.7976931348623157e100,2.2250738585072014e-100]}"#.to_owned();
        store.append_raw(&[event]).await.unwrap();
        let all = read_all(&store).await;
        let read: serde_json::Value = serde_json::from_str(&all[0].content)
            .unwrap_or_else(|e| panic!("{backend:?}: {e}: {}", all[0].content));
        let numbers: Vec<f64> = read["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_f64().unwrap())
            .collect();
        let sent = [
            9.99e100,
            -1e-100,
            1.7976931348623157e100,
            2.2250738585072014e-100,
        ];
        assert_eq!(numbers.len(), sent.len(), "{backend:?}");
        for (read, sent) in numbers.iter().zip(sent) {
            // serde_json reads long decimals to within an ulp or two.
            assert!(
                ((read - sent) / sent).abs() < 1e-12,
                "{backend:?}: {read} for {sent}"
            );
        }
        store.close().await;
    }
}

/// A raw event `received_mib` MiB long as sent, whose text as a store gives it back differs:
/// `data` an array of `1e20`, which PostgreSQL's JSONB gives back as 21 digits and a space
/// (`expanding`), or of `1` padded with spaces, which it drops.
fn reshaped_raw(id: &str, received_mib: usize, expanding: bool) -> NewRawEvent {
    let mut event = raw("/reshaped", id);
    let (item, count) = if expanding {
        ("1e20,", received_mib * 1024 * 1024 / 5)
    } else {
        (
            "1,                                                              ",
            received_mib * 16 * 1024,
        )
    };
    let items = item.repeat(count);
    event.content = format!(
        r#"{{"specversion":"1.0","id":"{id}","source":"/reshaped","type":"com.example.test","data":[{items}0]}}"#
    );
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_text_budget_counts_the_text_a_read_returns() {
    // Four events of 6 MiB as sent that read back small on PostgreSQL, then eight of 1 MiB
    // that read back near 5 MiB: each read holds at most the budget and one event of the text
    // it returns, and a read that left rows behind says it filled its budget.
    let budget = dora_store::PASS_TEXT_BYTES;
    for backend in Backend::all() {
        let db = backend.fresh_database().await;
        let store = Store::connect(&db.url).await.unwrap();
        let events: Vec<NewRawEvent> = (0..12)
            .map(|i| reshaped_raw(&format!("{i:02}"), if i < 4 { 6 } else { 1 }, i >= 4))
            .collect();
        store.append_raw(&events).await.unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let (mut position, mut ids, mut reads) = (Position::START, Vec::new(), Vec::new());
        while ids.len() < events.len() && std::time::Instant::now() < deadline {
            let batch = store.raw_after(position, 1000).await.unwrap();
            let Some(last) = batch.records.last() else {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            };
            position = last.position;
            let lengths: Vec<usize> = batch.records.iter().map(|r| r.content.len()).collect();
            let before_last: usize = lengths[..lengths.len() - 1].iter().sum();
            assert!((before_last as i64) < budget, "{backend:?}: {lengths:?}");
            let full = dora_store::fills_text_budget(
                batch.records.iter().map(|r| r.content.as_str()),
                budget,
            );
            for record in &batch.records {
                let event: serde_json::Value = serde_json::from_str(&record.content).unwrap();
                ids.push(event["id"].as_str().unwrap().to_owned());
            }
            reads.push((lengths, full));
        }
        let expected: Vec<String> = (0..12).map(|i| format!("{i:02}")).collect();
        assert_eq!(ids, expected, "{backend:?}");
        for (lengths, full) in &reads[..reads.len() - 1] {
            assert!(
                full,
                "{backend:?}: a read of {lengths:?} left rows behind unsaid"
            );
        }
        store.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_calculators_read_large_cdevents_a_text_budget_at_a_time() {
    for backend in Backend::all() {
        let db = backend.fresh_database().await;
        let store = Store::connect(&db.url).await.unwrap();
        store.append_raw(&[raw("/s", "1")]).await.unwrap();
        let row = read_all(&store).await[0].clone();
        let data = "x".repeat(9 * 1024 * 1024);
        let cdevent = |i: usize| dora_store::NewCdEvent {
            id: format!("cd-{i}"),
            source: "/large".into(),
            event_type: "dev.cdevents.service.deployed.0.2.0".into(),
            subject_id: "s".into(),
            subject_source: None,
            timestamp: Utc::now(),
            content: format!(r#"{{"context":{{"id":"cd-{i}"}},"data":"{data}"}}"#),
            transformer: "test".into(),
        };
        let output = RouterOutput {
            cdevents: (0..3).map(|i| (row.seq(), cdevent(i))).collect(),
            ..RouterOutput::default()
        };
        store
            .commit_router_pass(Position::START, row.position, &output)
            .await
            .unwrap();
        // 9 MiB each against 16 MiB: two rows start under the budget, the third does not.
        let first = store.cdevents_after(0, 1000).await.unwrap();
        assert_eq!(first.len(), 2, "{backend:?}");
        let rest = store.cdevents_after(first[1].seq, 1000).await.unwrap();
        assert_eq!(rest.len(), 1, "{backend:?}");
        assert!(rest[0].content.contains("cd-2"), "{backend:?}");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_job_is_enqueued_once_finished_once_and_reset_with_the_derived_tables() {
    for backend in Backend::all() {
        let db = backend.fresh_database().await;
        let store = Store::connect(&db.url).await.unwrap();
        store.append_raw(&[raw("/s", "1")]).await.unwrap();
        let row = read_all(&store).await[0].clone();
        let output = RouterOutput {
            function_jobs: vec![(row.seq(), "f".into()), (row.seq(), "f".into())],
            ..RouterOutput::default()
        };
        store
            .commit_router_pass(Position::START, row.position, &output)
            .await
            .unwrap();
        let due = store.due_function_jobs("f", Utc::now(), 10).await.unwrap();
        assert_eq!(due.len(), 1, "{backend:?}");
        assert!(due[0].content.contains("\"id\""), "{backend:?}");

        let later = Utc::now() + chrono::Duration::seconds(60);
        store
            .retry_function_job(row.seq(), "f", later, "answered 503")
            .await
            .unwrap();
        assert!(store
            .due_function_jobs("f", Utc::now(), 10)
            .await
            .unwrap()
            .is_empty());
        let stats = store.function_job_stats().await.unwrap();
        assert_eq!(stats.len(), 1);
        assert_eq!(stats[0].pending, 1);
        assert_eq!(stats[0].max_attempts, 1);
        assert_eq!(stats[0].last_error.as_deref(), Some("answered 503"));

        let done = JobOutcome::Done(Vec::new());
        assert!(store
            .finish_function_job(row.seq(), "f", &done)
            .await
            .unwrap());
        assert!(
            !store
                .finish_function_job(row.seq(), "f", &done)
                .await
                .unwrap(),
            "{backend:?}: a job is finished once"
        );
        assert!(store.function_job_stats().await.unwrap().is_empty());

        // recompute: the job is derived from cloudevents_raw and goes with the other tables.
        store.reset_derived().await.unwrap();
        store
            .commit_router_pass(Position::START, row.position, &output)
            .await
            .unwrap();
        assert_eq!(store.function_job_stats().await.unwrap()[0].pending, 1);
        store.reset_derived().await.unwrap();
        assert!(store.function_job_stats().await.unwrap().is_empty());
        store.close().await;
    }
}

/// A live tail starts after every event stored before it, even one a transaction still
/// running holds behind PostgreSQL's snapshot horizon: such an event is marked seen at the
/// start, so the tail can skip it when the horizon passes it.
#[tokio::test]
async fn a_tail_started_behind_a_running_transaction_knows_what_was_stored_before_it() {
    use dora_store::EventLog;
    use sqlx::Connection;
    for backend in Backend::all() {
        let db = backend.fresh_database().await;
        let store = Store::connect(&db.url).await.unwrap();
        // On PostgreSQL, an older transaction keeps running while "before" commits.
        let mut holder = match matches!(backend, Backend::Postgres(_)) {
            true => {
                let mut connection = sqlx::PgConnection::connect(&db.url).await.unwrap();
                sqlx::query("BEGIN").execute(&mut connection).await.unwrap();
                sqlx::query("SELECT pg_current_xact_id()")
                    .execute(&mut connection)
                    .await
                    .unwrap();
                Some(connection)
            }
            false => None,
        };
        store.append_raw(&[raw("/s", "before")]).await.unwrap();
        let start = store.tail_start(EventLog::CloudEvents).await.unwrap();
        if let Some(mut connection) = holder.take() {
            sqlx::query("COMMIT")
                .execute(&mut connection)
                .await
                .unwrap();
            assert_eq!(start.seen.len(), 1, "{start:?}");
        } else {
            assert!(start.seen.is_empty());
        }
        store.append_raw(&[raw("/s", "after")]).await.unwrap();

        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let shown: Vec<String> = loop {
            let rows = store
                .tail_events(EventLog::CloudEvents, start.after, 100)
                .await
                .unwrap();
            let shown: Vec<String> = rows
                .iter()
                .filter(|(_, row)| !start.seen.contains(&row.seq))
                .map(|(_, row)| row.id.clone())
                .collect();
            if rows.iter().any(|(_, row)| row.id == "after") {
                break shown;
            }
            assert!(std::time::Instant::now() < deadline, "rows stayed pending");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        };
        assert_eq!(shown, ["after"], "{backend:?}");
        store.close().await;
    }
}

/// The page validators of a backfill: kept per list and page, replaced, and those of the same
/// list over other windows forgotten (not those of other lists).
#[tokio::test]
async fn page_validators_are_kept_replaced_and_forgotten_per_list() {
    use dora_store::PageValidator;
    for backend in Backend::all() {
        let db = backend.fresh_database().await;
        let store = Store::connect(&db.url).await.unwrap();
        let validator = |etag: &str, next: Option<&str>| PageValidator {
            etag: etag.into(),
            next: next.map(str::to_owned),
        };
        let lists = [
            "b:gh:acme/shop:pulls:2025..",
            "b:gh:acme/shop:pulls:2026..",
            "b:gh:acme/shop:commits:2025..",
        ];
        for list in lists {
            store
                .keep_page_validator(
                    list,
                    "https://api/p1",
                    &validator("W/\"1\"", Some("https://api/p2")),
                )
                .await
                .unwrap();
        }
        store
            .keep_page_validator(lists[1], "https://api/p1", &validator("W/\"2\"", None))
            .await
            .unwrap();
        let read = |list: &'static str| {
            let store = store.clone();
            async move { store.page_validator(list, "https://api/p1").await.unwrap() }
        };
        assert_eq!(read(lists[1]).await, Some(validator("W/\"2\"", None)));
        store
            .forget_other_page_validators("b:gh:acme/shop:pulls:", lists[1])
            .await
            .unwrap();
        assert_eq!(read(lists[0]).await, None, "{backend:?}");
        assert!(read(lists[1]).await.is_some() && read(lists[2]).await.is_some());
        store.close().await;
    }
}
