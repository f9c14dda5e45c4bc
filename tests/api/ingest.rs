//! The CloudEvents endpoint: content modes, de-duplication and every class of bad input.

use serde_json::{json, Value};

use crate::helpers::{cloudevent, fixture_path, spawn_app, stored_raw_events, Backend, TestApp};

/// The raw events the store kept, parsed, oldest first.
async fn stored_events(app: &TestApp) -> Vec<Value> {
    stored_raw_events(&app.database_url).await
}

/// One HTTP request of the conformance feature file, with its placeholders filled in.
struct RawRequest {
    headers: Vec<(String, String)>,
    body: String,
}

/// Reads the feature's scenario outlines: the request between `"""` markers and the content
/// types of its Examples table; yields one request per example, plus the expected data.
fn feature_requests() -> Vec<(RawRequest, Value)> {
    let text = std::fs::read_to_string(fixture_path(
        "cloudevents-conformance/http-protocol-binding.feature",
    ))
    .unwrap();
    let mut cases = Vec::new();
    for scenario in text.split("Scenario Outline:").skip(1) {
        let blocks: Vec<&str> = scenario.split("\"\"\"").collect();
        let request = blocks[1];
        let expected_data: Value = serde_json::from_str(blocks[3].trim()).unwrap();
        let examples = scenario.split("Examples:").nth(1).unwrap();
        let content_types: Vec<String> = examples
            .lines()
            .filter_map(|l| l.trim().strip_prefix('|'))
            .map(|l| l.trim_end_matches('|').trim().to_owned())
            .skip(1)
            .filter(|l| !l.is_empty())
            .collect();
        assert!(!content_types.is_empty());
        for content_type in content_types {
            let filled = request.replace("<contentType>", &content_type);
            let (head, body) = filled.split_once("\n\n").unwrap();
            let headers = head
                .lines()
                .skip(1) // request line
                .filter_map(|l| l.trim().split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                .filter(|(k, _)| k != "host" && k != "content-length")
                .collect();
            cases.push((
                RawRequest {
                    headers,
                    body: body.trim().to_owned(),
                },
                expected_data.clone(),
            ));
        }
    }
    cases
}

async fn conformance_feature_requests_are_stored_with_their_attributes_and_data(backend: Backend) {
    let app = spawn_app(&backend).await;
    let cases = feature_requests();
    assert_eq!(cases.len(), 4, "two binary and two structured examples");
    for (i, (request, _)) in cases.iter().enumerate() {
        let mut builder = app.client.post(app.url("/events"));
        for (name, value) in &request.headers {
            // Each case gets its own id so that all four are stored.
            let value = if name == "ce-id" {
                format!("{value}-{i}")
            } else {
                value.clone()
            };
            builder = builder.header(name, value);
        }
        let body = if request.headers.iter().any(|(k, _)| k == "ce-id") {
            request.body.clone()
        } else {
            let mut event: Value = serde_json::from_str(&request.body).unwrap();
            event["id"] = json!(format!("1234-1234-1234-{i}"));
            event.to_string()
        };
        let response = builder.body(body).send().await.unwrap();
        assert_eq!(response.status(), 202, "case {i}");
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({"accepted": 1, "duplicates": 0})
        );
    }
    let stored = stored_events(&app).await;
    assert_eq!(stored.len(), 4);
    for (i, ((_, expected_data), event)) in cases.iter().zip(&stored).enumerate() {
        assert_eq!(event["id"], json!(format!("1234-1234-1234-{i}")));
        assert_eq!(event["type"], "com.example.someevent");
        assert_eq!(event["source"], "/mycontext/subcontext");
        assert_eq!(event["time"], "2018-04-05T03:56:24Z");
        assert_eq!(&event["data"], expected_data, "case {i}");
    }
}

/// The YAML conformance cases, each sent in the mode it names (binary when it names none).
async fn conformance_yaml_cases_round_trip_in_their_content_modes(backend: Backend) {
    let app = spawn_app(&backend).await;
    let mut expected = Vec::new();
    for file in ["v1.yaml", "v1_minimum.yaml"] {
        let text =
            std::fs::read_to_string(fixture_path(&format!("cloudevents-conformance/{file}")))
                .unwrap();
        for (n, document) in serde_yaml::Deserializer::from_str(&text).enumerate() {
            let case: serde_yaml::Value = serde::Deserialize::deserialize(document).unwrap();
            let attributes = &case["ContextAttributes"];
            let mode = case["Mode"].as_str().unwrap_or("binary").to_owned();
            let id = format!("{file}-{n}");
            let data = case["Data"].as_str().unwrap_or_default().to_owned();
            let content_type = attributes["datacontenttype"]
                .as_str()
                .unwrap_or("application/json")
                .to_owned();
            let is_json = content_type.starts_with("application/json");
            let mut extensions = Vec::new();
            if let serde_yaml::Value::Mapping(map) = &attributes["Extensions"] {
                for (k, v) in map {
                    extensions.push((
                        k.as_str().unwrap().to_owned(),
                        v.as_str().unwrap().to_owned(),
                    ));
                }
            }
            let time = attributes["time"].as_str().map(str::to_owned);
            let response = if mode == "structured" {
                let mut event = json!({
                    "specversion": "1.0", "id": id, "type": attributes["type"].as_str().unwrap(),
                    "source": attributes["source"].as_str().unwrap(), "datacontenttype": content_type,
                });
                if let Some(time) = &time {
                    event["time"] = json!(time);
                }
                for (k, v) in &extensions {
                    event[k] = json!(v);
                }
                event["data"] = if is_json {
                    serde_json::from_str(&data).unwrap()
                } else {
                    json!(data)
                };
                app.post_structured("/events", &event).await
            } else {
                let mut builder = app
                    .client
                    .post(app.url("/events"))
                    .header("ce-specversion", "1.0")
                    .header("ce-id", &id)
                    .header("ce-type", attributes["type"].as_str().unwrap())
                    .header("ce-source", attributes["source"].as_str().unwrap())
                    .header("content-type", &content_type);
                if let Some(time) = &time {
                    builder = builder.header("ce-time", time);
                }
                for (k, v) in &extensions {
                    // Header values may not hold a newline: percent-encode as the binding says.
                    builder = builder.header(
                        format!("ce-{k}"),
                        v.replace('%', "%25").replace('\n', "%0A"),
                    );
                }
                builder.body(data.clone()).send().await.unwrap()
            };
            assert_eq!(
                response.status(),
                202,
                "{id}: {}",
                response.text().await.unwrap()
            );
            expected.push((id, is_json, data, extensions));
        }
    }
    let stored = stored_events(&app).await;
    assert_eq!(stored.len(), expected.len());
    for ((id, is_json, data, extensions), event) in expected.iter().zip(&stored) {
        assert_eq!(event["id"], json!(id));
        if *is_json {
            assert_eq!(
                event["data"],
                serde_json::from_str::<Value>(data).unwrap(),
                "{id}"
            );
        } else {
            assert_eq!(event["data"], json!(data), "{id}");
        }
        for (k, v) in extensions {
            assert_eq!(event[k], json!(v), "{id}: extension {k}");
        }
    }
}

async fn a_redelivered_event_is_acknowledged_and_stored_once(backend: Backend) {
    let app = spawn_app(&backend).await;
    let first = app.post_structured("/events", &cloudevent("dup-1")).await;
    assert_eq!(
        first.json::<Value>().await.unwrap(),
        json!({"accepted": 1, "duplicates": 0})
    );
    let again = app.post_structured("/events", &cloudevent("dup-1")).await;
    assert_eq!(again.status(), 202);
    assert_eq!(
        again.json::<Value>().await.unwrap(),
        json!({"accepted": 0, "duplicates": 1})
    );
    // In one batch, and across modes: same (source, id) is the same event.
    let batch = app
        .post_batch(
            "/events",
            &json!([
                cloudevent("dup-1"),
                cloudevent("dup-2"),
                cloudevent("dup-2")
            ]),
        )
        .await;
    assert_eq!(
        batch.json::<Value>().await.unwrap(),
        json!({"accepted": 1, "duplicates": 2})
    );
    // Same id from another source is another event.
    let mut other_source = cloudevent("dup-1");
    other_source["source"] = json!("/elsewhere");
    let other = app.post_structured("/events", &other_source).await;
    assert_eq!(
        other.json::<Value>().await.unwrap(),
        json!({"accepted": 1, "duplicates": 0})
    );
    assert_eq!(stored_events(&app).await.len(), 3);
}

async fn batches_store_all_events_and_an_empty_batch_is_valid(backend: Backend) {
    let app = spawn_app(&backend).await;
    let events: Vec<Value> = (0..50).map(|i| cloudevent(&format!("b-{i}"))).collect();
    let response = app.post_batch("/events", &json!(events)).await;
    assert_eq!(response.status(), 202);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"accepted": 50, "duplicates": 0})
    );
    let empty = app.post_batch("/events", &json!([])).await;
    assert_eq!(empty.status(), 202);
    assert_eq!(
        empty.json::<Value>().await.unwrap(),
        json!({"accepted": 0, "duplicates": 0})
    );
    let stored = stored_events(&app).await;
    assert_eq!(stored.len(), 50);
    assert_eq!(stored[49]["id"], "b-49");
}

async fn the_root_path_is_an_alias_for_knative_sinks(backend: Backend) {
    let app = spawn_app(&backend).await;
    let response = app.post_structured("/", &cloudevent("root-1")).await;
    assert_eq!(response.status(), 202);
    assert_eq!(stored_events(&app).await.len(), 1);
}

async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "errors are RFC 9457 problem details"
    );
    response.json().await.unwrap()
}

async fn each_missing_or_bad_attribute_is_named_in_a_400(backend: Backend) {
    let app = spawn_app(&backend).await;
    type Breakage = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Breakage)> = vec![
        ("id", Box::new(|e| e["id"] = json!(""))),
        (
            "source",
            Box::new(|e| {
                e.as_object_mut().unwrap().remove("source");
            }),
        ),
        ("type", Box::new(|e| e["type"] = json!(42))),
        ("specversion", Box::new(|e| e["specversion"] = json!("0.2"))),
        ("time", Box::new(|e| e["time"] = json!("last tuesday"))),
        ("data_base64", Box::new(|e| e["data_base64"] = json!("!!!"))),
        ("Bad_Name", Box::new(|e| e["Bad_Name"] = json!("x"))),
    ];
    for (attribute, break_it) in cases {
        let mut event = cloudevent("bad");
        break_it(&mut event);
        let body = problem(app.post_structured("/events", &event).await, 400).await;
        assert_eq!(body["field"], attribute, "{body}");
        assert!(
            body["detail"].as_str().unwrap().contains(attribute),
            "{body}"
        );
    }
    let not_json = app
        .post_as("/events", "application/cloudevents+json", "{not json")
        .await;
    assert_eq!(problem(not_json, 400).await["field"], "body");
    let without_id = [("specversion", "1.0"), ("source", "/s"), ("type", "t")];
    let binary_missing_id = app.post_binary("/events", &without_id, "{}").await;
    assert_eq!(problem(binary_missing_id, 400).await["field"], "id");
    let attributes = [
        ("specversion", "1.0"),
        ("id", "1"),
        ("source", "/s"),
        ("type", "t"),
    ];
    let binary_bad_json = app.post_binary("/events", &attributes, "{oops").await;
    assert_eq!(problem(binary_bad_json, 400).await["field"], "data");
    assert!(
        stored_events(&app).await.is_empty(),
        "nothing bad was stored"
    );
}

async fn a_batch_with_one_bad_event_names_its_index_and_stores_nothing(backend: Backend) {
    let app = spawn_app(&backend).await;
    let mut bad = cloudevent("b-2");
    bad["time"] = json!("2023-13-45T99:00:00Z");
    let batch = json!([cloudevent("b-0"), cloudevent("b-1"), bad, cloudevent("b-3")]);
    let body = problem(app.post_batch("/events", &batch).await, 400).await;
    assert_eq!(body["index"], 2);
    assert_eq!(body["field"], "time");
    let not_array = problem(app.post_batch("/events", &cloudevent("x")).await, 400).await;
    assert_eq!(not_array["field"], "body");
    assert!(stored_events(&app).await.is_empty());
}

async fn unreadable_content_types_get_415(backend: Backend) {
    let app = spawn_app(&backend).await;
    for content_type in ["text/plain", "application/xml"] {
        let response = app.post_as("/events", content_type, "hello").await;
        assert_eq!(problem(response, 415).await["field"], "Content-Type");
    }
    let no_type = app
        .client
        .post(app.url("/events"))
        .body("hello")
        .send()
        .await
        .unwrap();
    problem(no_type, 415).await;
}

async fn oversize_bodies_get_413_per_mode(backend: Backend) {
    let app = spawn_app(&backend).await;
    let mut big = cloudevent("big");
    big["data"] = json!("x".repeat(1024 * 1024 + 1));
    problem(app.post_structured("/events", &big).await, 413).await;
    // The same event is fine inside a batch (10 MiB), but a batch over 10 MiB is not.
    let response = app.post_batch("/events", &json!([big])).await;
    assert_eq!(response.status(), 202);
    let huge: Vec<Value> = (0..11)
        .map(|i| {
            let mut e = cloudevent(&format!("huge-{i}"));
            e["data"] = json!("y".repeat(1024 * 1024));
            e
        })
        .collect();
    problem(app.post_batch("/events", &json!(huge)).await, 413).await;
    // Chunked bodies without Content-Length are limited too.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![Ok(big.to_string().into_bytes())];
    let streamed = app
        .post_as(
            "/events",
            "application/cloudevents+json",
            reqwest::Body::wrap_stream(futures_stream(chunks)),
        )
        .await;
    problem(streamed, 413).await;
    assert_eq!(stored_events(&app).await.len(), 1);
}

fn futures_stream(
    chunks: Vec<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    struct Chunks(std::vec::IntoIter<Result<Vec<u8>, std::io::Error>>);
    impl futures_core::Stream for Chunks {
        type Item = Result<Vec<u8>, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(self.0.next())
        }
    }
    Chunks(chunks.into_iter())
}

async fn unknown_routes_answer_problem_json(backend: Backend) {
    let app = spawn_app(&backend).await;
    let response = app.get("/nope").await;
    problem(response, 404).await;
}

backend_tests!(
    conformance_feature_requests_are_stored_with_their_attributes_and_data,
    conformance_yaml_cases_round_trip_in_their_content_modes,
    a_redelivered_event_is_acknowledged_and_stored_once,
    batches_store_all_events_and_an_empty_batch_is_valid,
    the_root_path_is_an_alias_for_knative_sinks,
    each_missing_or_bad_attribute_is_named_in_a_400,
    a_batch_with_one_bad_event_names_its_index_and_stores_nothing,
    unreadable_content_types_get_415,
    oversize_bodies_get_413_per_mode,
    unknown_routes_answer_problem_json,
);
