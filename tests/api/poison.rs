//! No poison event: whatever an acknowledged (or stored) event holds, the pipeline moves on.
//! Events over the limits of `dora_model::limits`, or with text the store cannot keep, are
//! refused at the door with a `400` naming the field; rows stored before the limits, and rows
//! the database refuses, are recorded as failures and skipped while later events are counted;
//! a failure of the database itself is retried, never skipped; `recompute` succeeds after all.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{poll_until, spawn_app, test_settings, Backend, TestApp};

/// Text that does not compress (PostgreSQL compresses index entries: a run of one letter would
/// fit the B-tree limit where real ids do not).
fn incompressible(len: usize, seed: u64) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(ALPHABET[(state % ALPHABET.len() as u64) as usize])
        })
        .collect()
}

/// A valid v0.5.1 `service.deployed` CDEvent.
fn deployed(id: &str, service: &str) -> Value {
    json!({
        "context": {"specversion": "0.5.1", "id": id, "source": "/tests/poison",
                    "type": "dev.cdevents.service.deployed.0.3.0",
                    "timestamp": chrono::Utc::now().to_rfc3339()},
        "subject": {"id": service, "source": "/tests/poison",
                    "content": {"environment": {"id": "production"},
                                "artifactId": "pkg:oci/app@sha256%3Aabc"}}
    })
}

/// The CloudEvent that carries a CDEvent (structured mode), as a Knative source would send it.
fn carrying(cdevent: &Value, id: &str) -> Value {
    json!({"specversion": "1.0", "id": id, "source": "/tests/poison",
           "type": cdevent["context"]["type"], "datacontenttype": "application/json",
           "data": cdevent})
}

async fn post_json(app: &TestApp, path: &str, content_type: &str, body: String) -> (u16, Value) {
    let response = app
        .client
        .post(app.url(path))
        .header("content-type", content_type)
        .header("X-GitHub-Event", "push")
        .header("X-GitHub-Delivery", "poison-delivery")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Asserts a `400` problem naming `field` (and the index in a batch).
#[track_caller]
fn assert_refused(case: &str, (status, problem): &(u16, Value), field: &str) {
    assert_eq!(*status, 400, "{case}: {problem}");
    assert_eq!(problem["field"], field, "{case}: {problem}");
}

/// Waits until the pipeline has caught up and counted `deployments`.
async fn wait_for_deployments(app: &TestApp, deployments: i64) -> Value {
    poll_until(Duration::from_secs(20), || async {
        let state = app.pipeline().await;
        (state["deployments"] == deployments
            && state["router_lag"] == 0
            && state["deployments_lag"] == 0)
            .then_some(state)
    })
    .await
}

async fn failures(app: &TestApp) -> Vec<Value> {
    app.get_json("/api/v1/failures").await["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn poison_events_are_refused_at_the_door_naming_the_field(backend: Backend) {
    let app = spawn_app(&backend).await;
    let long = incompressible(3000, 1);
    let cases: Vec<(&str, &str, &str, String, &str)> = vec![
        (
            "CDEvent with a 3,000-character service name",
            "/cdevents",
            "application/json",
            deployed("d-1", &long).to_string(),
            "/subject/id",
        ),
        (
            "CDEvent with a 256-byte environment name",
            "/cdevents",
            "application/json",
            {
                let mut event = deployed("d-2", "svc");
                event["subject"]["content"]["environment"]["id"] = json!("e".repeat(256));
                event.to_string()
            },
            "/subject/content/environment/id",
        ),
        (
            "CDEvent with a 3,000-character revision (PostgreSQL indexes it)",
            "/cdevents",
            "application/json",
            {
                let mut event = deployed("d-3", "svc");
                event["customData"] = json!({"dora": {"revision": long}});
                event.to_string()
            },
            "/customData/dora/revision",
        ),
        (
            "CDEvent with a 3,000-character artifact id",
            "/cdevents",
            "application/json",
            {
                let mut event = deployed("d-4", "svc");
                event["subject"]["content"]["artifactId"] = json!(long);
                event.to_string()
            },
            "/subject/content/artifactId",
        ),
        (
            "CDEvent with a 3,000-character id inside a CloudEvent, to /events",
            "/events",
            "application/cloudevents+json",
            carrying(&deployed(&long, "svc"), "ce-1").to_string(),
            "/data/context/id",
        ),
        (
            "the same to /cdevents",
            "/cdevents",
            "application/cloudevents+json",
            carrying(&deployed(&long, "svc"), "ce-1").to_string(),
            "/data/context/id",
        ),
        (
            "a number PostgreSQL would give back as 309 digits no reader parses",
            "/events",
            "application/cloudevents+json",
            r#"{"specversion": "1.0", "id": "n-1", "source": "/s", "type": "t", "data": {"x": 1.7976931348623157e308}}"#.to_owned(),
            "/data/x",
        ),
        (
            "numbers that PostgreSQL would write out past 64 KiB of digits (52 each)",
            "/events",
            "application/cloudevents+json",
            format!(
                r#"{{"specversion": "1.0", "id": "n-2", "source": "/s", "type": "t", "data": {{"many": [{}]}}}}"#,
                vec!["3e50"; 2000].join(",")
            ),
            "/data/many/1260",
        ),
        (
            "CloudEvent id over 1,024 bytes",
            "/events",
            "application/cloudevents+json",
            json!({"specversion": "1.0", "id": long, "source": "/s", "type": "t"}).to_string(),
            "id",
        ),
        (
            "CloudEvent source over 1,024 bytes, to /",
            "/",
            "application/cloudevents+json",
            json!({"specversion": "1.0", "id": "1", "source": long, "type": "t"}).to_string(),
            "source",
        ),
        (
            "CloudEvent type over 1,024 bytes",
            "/events",
            "application/cloudevents+json",
            json!({"specversion": "1.0", "id": "1", "source": "/s", "type": long}).to_string(),
            "type",
        ),
        (
            "CloudEvent subject over 1,024 bytes",
            "/events",
            "application/cloudevents+json",
            json!({"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "subject": long})
                .to_string(),
            "subject",
        ),
        (
            "NUL in CloudEvent data",
            "/events",
            "application/cloudevents+json",
            json!({"specversion": "1.0", "id": "1", "source": "/s", "type": "t",
                   "data": {"log": ["ok", "a\u{0}b"]}})
            .to_string(),
            "/data/log/1",
        ),
        (
            "NUL in a webhook payload",
            "/webhooks/github",
            "application/json",
            json!({"ref": "refs/heads/main", "head_commit": {"message": "fix\u{0}"},
                   "repository": {"full_name": "o/r", "html_url": "https://github.com/o/r"}})
            .to_string(),
            "/data/head_commit/message",
        ),
        (
            "webhook whose repository (the event's source) is over 1,024 bytes",
            "/webhooks/github",
            "application/json",
            json!({"ref": "refs/heads/main",
                   "repository": {"full_name": "o/r", "html_url": format!("https://github.com/{long}")}})
            .to_string(),
            "source",
        ),
        (
            "a lone surrogate in CloudEvent data",
            "/events",
            "application/cloudevents+json",
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"x":"\ud800"}}"#
                .to_string(),
            "body",
        ),
        (
            "a lone surrogate in a webhook payload",
            "/webhooks/github",
            "application/json",
            r#"{"ref":"refs/heads/main","head_commit":{"message":"\udc00"}}"#.to_string(),
            "body",
        ),
    ];
    for (case, path, content_type, body, field) in &cases {
        let answer = post_json(&app, path, content_type, body.clone()).await;
        assert_refused(case, &answer, field);
    }
    // In a batch, the bad event's position is named too, and nothing of the batch is stored.
    let batch = json!([
        {"specversion": "1.0", "id": "b-0", "source": "/s", "type": "t"},
        {"specversion": "1.0", "id": "b-1", "source": long, "type": "t"}
    ]);
    let answer = post_json(
        &app,
        "/events",
        "application/cloudevents-batch+json",
        batch.to_string(),
    )
    .await;
    assert_refused("batch", &answer, "source");
    assert_eq!(answer.1["index"], 1, "{}", answer.1);
    // Binary mode: the attribute comes from a header.
    let response = app
        .client
        .post(app.url("/events"))
        .header("ce-specversion", "1.0")
        .header("ce-id", long.as_str())
        .header("ce-source", "/s")
        .header("ce-type", "t")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["field"], "id");
    // A number PostgreSQL's JSONB cannot hold (SQLite keeps the text as is): never a 5xx.
    let tiny =
        r#"{"specversion":"1.0","id":"tiny","source":"/s","type":"t","data":{"x":1e-20000}}"#;
    let (status, problem) =
        post_json(&app, "/events", "application/cloudevents+json", tiny.into()).await;
    match backend {
        Backend::Sqlite => assert_eq!(status, 202, "{problem}"),
        Backend::Postgres(_) => {
            assert_refused("1e-20000 on PostgreSQL", &(status, problem), "body")
        }
    }

    // Nothing poisoned was stored; normal events are counted.
    let (status, _) = post_json(
        &app,
        "/cdevents",
        "application/json",
        json!([
            deployed("ok-1", "checkout"),
            deployed("ok-2", &"s".repeat(255))
        ])
        .to_string(),
    )
    .await;
    assert_eq!(status, 202);
    let state = wait_for_deployments(&app, 2).await;
    let stored = match backend {
        Backend::Sqlite => 3,
        Backend::Postgres(_) => 2,
    };
    assert_eq!(state["raw_events"], stored, "{state}");
    assert_eq!(state["failures"], 0, "{state}");
    app.stop().await;
}

/// Runs SQL on the test's database, bypassing the door.
async fn execute(app: &TestApp, statements: &[String]) {
    if app.database_url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
        for sql in statements {
            sqlx::raw_sql(sql).execute(&pool).await.unwrap();
        }
        pool.close().await;
    } else {
        let pool = sqlx::SqlitePool::connect(&app.database_url).await.unwrap();
        for sql in statements {
            sqlx::raw_sql(sql).execute(&pool).await.unwrap();
        }
        pool.close().await;
    }
}

/// SQL string literal.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Rows as an earlier version (or another writer) stored them: past every limit.
fn poison_rows(postgres: bool) -> Vec<String> {
    let long_id = incompressible(3000, 2);
    let long_service = incompressible(3000, 3);
    let (now, json) = if postgres {
        ("now()", "::jsonb")
    } else {
        ("0", "")
    };
    let raw = |id: &str, cdevent: Value| {
        format!(
            "INSERT INTO cloudevents_raw (event_id, event_source, event_type, received_at, origin, content) \
             VALUES ({}, '/tests/poison', 'dev.cdevents.service.deployed.0.3.0', {now}, 'cdevents', {}{json})",
            quoted(id),
            quoted(&carrying(&cdevent, id).to_string())
        )
    };
    vec![
        // The router once stalled on this one (the cdevents_raw unique index on PostgreSQL).
        raw("long-cdevent-id", deployed(&long_id, "checkout")),
        // The calculator once stalled on this one (the deployments indexes on PostgreSQL).
        raw("long-service", deployed("long-service", &long_service)),
        // And on this one, already a CDEvent.
        format!(
            "INSERT INTO cdevents_raw (cd_id, cd_source, cd_type, cd_subject_id, cd_timestamp, content, transformer, stored_at) \
             VALUES ('stored-long-service', '/tests/poison', 'dev.cdevents.service.deployed.0.3.0', 'x', {}, {}{json}, 'cdevents', {now})",
            if postgres { "now()" } else { "0" },
            quoted(&deployed("stored-long-service", &long_service).to_string())
        ),
        // A stored CDEvent whose `customData.dora` does not read (a change id that is a number).
        format!(
            "INSERT INTO cdevents_raw (cd_id, cd_source, cd_type, cd_subject_id, cd_timestamp, content, transformer, stored_at) \
             VALUES ('stored-bad-dora', '/tests/poison', 'dev.cdevents.service.deployed.0.3.0', 'x', {}, {}{json}, 'cdevents', {now})",
            if postgres { "now()" } else { "0" },
            quoted(&{
                let mut bad = deployed("stored-bad-dora", "checkout");
                bad["customData"] = json!({"dora": {"changes": [7]}});
                bad
            }.to_string())
        ),
    ]
}

async fn poison_rows_stored_before_the_limits_are_recorded_and_skipped(backend: Backend) {
    let app = spawn_app(&backend).await;
    let postgres = matches!(backend, Backend::Postgres(_));
    execute(&app, &poison_rows(postgres)).await;
    // A normal event after them wakes the stages, and is counted.
    let (status, _) = post_json(
        &app,
        "/cdevents",
        "application/json",
        deployed("after-poison", "checkout").to_string(),
    )
    .await;
    assert_eq!(status, 202);
    let state = wait_for_deployments(&app, 1).await;
    assert_eq!(state["failures"], 4, "{state}");
    let failures = failures(&app).await;
    let reason_of = |predicate: &dyn Fn(&Value) -> bool| {
        failures
            .iter()
            .find(|f| predicate(f))
            .unwrap_or_else(|| panic!("no such failure in {failures:#?}"))["reason"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(reason_of(&|f| f["event_id"] == "long-cdevent-id").contains("/context/id"));
    assert!(reason_of(&|f| f["event_id"] == "long-service").contains("/subject/id"));
    let skipped = reason_of(&|f| f["event_id"] == "stored-long-service");
    assert!(skipped.contains("/subject/id"), "{skipped}");
    let unreadable = reason_of(&|f| f["event_id"] == "stored-bad-dora");
    assert!(
        unreadable.contains("/customData/dora/changes/0"),
        "{unreadable}"
    );
    assert!(failures
        .iter()
        .any(|f| f["transformer"] == "calculator" && f["cdevent_seq"].is_i64()));
    let deployments = app.get_json("/api/v1/deployments").await;
    assert!(
        deployments.to_string().contains("after-poison"),
        "{deployments}"
    );

    // recompute rebuilds everything after the raw store, poison included.
    let db = app.stop().await;
    let report = dora_events::app::recompute(&test_settings(&db))
        .await
        .expect("recompute succeeds on any stored history");
    assert_eq!(report.raw_events, 3);
    assert_eq!(report.failures, 2);
    assert_eq!(report.deployments, 1);
}

/// Makes the database itself refuse rows naming `refused-by-db`, as a constraint would: a
/// cause the limits do not know of.
fn refusal_constraints(postgres: bool) -> Vec<String> {
    if postgres {
        vec![
            "ALTER TABLE cdevents_raw ADD CONSTRAINT refuse_poison CHECK (cd_id <> 'refused-by-db')".into(),
            "ALTER TABLE deployments ADD CONSTRAINT refuse_poison CHECK (service <> 'refused-by-db')".into(),
        ]
    } else {
        vec![
            "CREATE TRIGGER refuse_poison_cdevent BEFORE INSERT ON cdevents_raw WHEN NEW.cd_id = 'refused-by-db' \
             BEGIN SELECT RAISE(ABORT, 'refused for the test'); END".into(),
            "CREATE TRIGGER refuse_poison_deployment BEFORE INSERT ON deployments WHEN NEW.service = 'refused-by-db' \
             BEGIN SELECT RAISE(ABORT, 'refused for the test'); END".into(),
        ]
    }
}

async fn rows_the_database_refuses_are_recorded_and_skipped(backend: Backend) {
    let app = spawn_app(&backend).await;
    execute(
        &app,
        &refusal_constraints(matches!(backend, Backend::Postgres(_))),
    )
    .await;
    // One request: the router and the calculator each get them in one batch.
    let batch = json!([
        deployed("before", "cart"),
        deployed("refused-by-db", "payments"),
        deployed("deployment-refused", "refused-by-db"),
        deployed("after", "search"),
    ]);
    let (status, _) = post_json(&app, "/cdevents", "application/json", batch.to_string()).await;
    assert_eq!(status, 202);
    let state = wait_for_deployments(&app, 2).await;
    assert_eq!(state["cdevents"], 3, "{state}");
    let failures = failures(&app).await;
    assert_eq!(failures.len(), 2, "{failures:#?}");
    let router = failures
        .iter()
        .find(|f| f["event_id"] == "refused-by-db")
        .unwrap();
    assert_eq!(router["transformer"], "router");
    assert!(router["reason"]
        .as_str()
        .unwrap()
        .contains("the database refused"));
    let calculator = failures
        .iter()
        .find(|f| f["event_id"] == "deployment-refused")
        .unwrap();
    assert_eq!(calculator["transformer"], "calculator");
    let services = app.get_json("/api/v1/deployments").await.to_string();
    assert!(services.contains("cart") && services.contains("search"));
    app.stop().await;
}

/// A link row the database refuses (here a constraint on one change's id) does not stop the
/// linker: the pass is linked again one CDEvent at a time, the CDEvent at fault is recorded as the
/// linker's failure, and the other events are counted.
async fn links_the_database_refuses_are_recorded_and_skipped(backend: Backend) {
    let app = spawn_app(&backend).await;
    let refusal = if matches!(backend, Backend::Postgres(_)) {
        "ALTER TABLE change_links ADD CONSTRAINT refuse_poison CHECK (change_id <> 'refused-links')"
    } else {
        "CREATE TRIGGER refuse_poison_link BEFORE INSERT ON change_links \
         WHEN NEW.change_id = 'refused-links' BEGIN SELECT RAISE(ABORT, 'refused for the test'); END"
    };
    execute(&app, &[refusal.to_owned()]).await;
    let merged = json!({
        "context": {"specversion": "0.5.1", "id": "merged-refused", "source": "/tests/poison",
                    "type": "dev.cdevents.change.merged.0.3.0",
                    "timestamp": chrono::Utc::now().to_rfc3339()},
        "subject": {"id": "refused-links", "source": "/tests/poison",
                    "content": {"repository": {"id": "acme/app"}}},
        "customData": {"dora": {"mergeSha": "abc123"}}
    });
    let batch = json!([
        deployed("before-links", "cart"),
        merged,
        deployed("after-links", "search")
    ]);
    let (status, _) = post_json(&app, "/cdevents", "application/json", batch.to_string()).await;
    assert_eq!(status, 202);
    wait_for_deployments(&app, 2).await;
    let failures = failures(&app).await;
    let linker = failures
        .iter()
        .find(|f| f["transformer"] == "linker")
        .unwrap_or_else(|| panic!("the refused links are recorded: {failures:#?}"));
    assert_eq!(linker["event_id"], "merged-refused", "{linker}");
    assert!(
        linker["reason"].as_str().unwrap().contains("refused"),
        "{linker}"
    );
    let keys = app.get_json("/api/v1/dora").await;
    assert_eq!(keys["keys"]["deployment_frequency"]["value"], 2, "{keys}");
    assert_eq!(
        keys["freshness"]["behind_cdevents"], 0,
        "nothing held back: {keys}"
    );
    app.stop().await;
}

backend_tests!(
    poison_events_are_refused_at_the_door_naming_the_field,
    poison_rows_stored_before_the_limits_are_recorded_and_skipped,
    rows_the_database_refuses_are_recorded_and_skipped,
    links_the_database_refuses_are_recorded_and_skipped,
);

/// A failure of the database itself (here a serialization failure, SQLSTATE 40001, raised by a
/// trigger) is retried: nothing is recorded or skipped, and the deployment is counted once the
/// database accepts it. PostgreSQL only: SQLite has no way to raise `SQLITE_BUSY` on demand.
#[tokio::test]
async fn poison_free_database_failures_are_retried_not_skipped() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let app = spawn_app(&backend).await;
    execute(
        &app,
        &["CREATE SEQUENCE refused_attempts;
           CREATE FUNCTION refuse_for_now() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
             IF NEW.service = 'retry-me' THEN
               PERFORM nextval('refused_attempts');
               RAISE EXCEPTION 'try again' USING ERRCODE = '40001';
             END IF;
             RETURN NEW;
           END $$;
           CREATE TRIGGER refuse_for_now BEFORE INSERT ON deployments
             FOR EACH ROW EXECUTE FUNCTION refuse_for_now();"
            .to_string()],
    )
    .await;
    let (status, _) = post_json(
        &app,
        "/cdevents",
        "application/json",
        deployed("retried", "retry-me").to_string(),
    )
    .await;
    assert_eq!(status, 202);
    let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    poll_until(Duration::from_secs(20), || async {
        let (attempts, called): (i64, bool) =
            sqlx::query_as("SELECT last_value, is_called FROM refused_attempts")
                .fetch_one(&pool)
                .await
                .unwrap();
        (called && attempts >= 2).then_some(())
    })
    .await;
    let state = app.pipeline().await;
    assert_eq!(state["deployments"], 0, "{state}");
    assert_eq!(state["deployments_lag"], 1, "not skipped: {state}");
    assert_eq!(
        state["failures"], 0,
        "not recorded as the event's fault: {state}"
    );
    sqlx::raw_sql("DROP TRIGGER refuse_for_now ON deployments")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let state = wait_for_deployments(&app, 1).await;
    assert_eq!(state["failures"], 0, "{state}");
    app.stop().await;
}
