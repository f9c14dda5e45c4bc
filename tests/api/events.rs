//! The event browser: the history of stored events, the live feed (server-sent events) and the
//! filter dimensions.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{cloudevent, deployment_event, poll_until, spawn_app, Backend, TestApp};

/// The ids of a page's items, in order.
fn ids(page: &Value) -> Vec<&str> {
    let items = page["items"].as_array().unwrap();
    items.iter().map(|i| i["id"].as_str().unwrap()).collect()
}

async fn history_pages_newest_first_with_prefix_filters(backend: Backend) {
    let app = spawn_app(&backend).await;
    let mut events = Vec::new();
    for n in 0..5 {
        let mut event = cloudevent(&format!("e{n}"));
        event["type"] = json!(if n % 2 == 0 {
            "com.example.even"
        } else {
            "com.example.odd"
        });
        event["source"] = json!(format!("/tests/{}", n % 2));
        events.push(event);
    }
    events.push(deployment_event(
        "k1",
        "web",
        "prod",
        1,
        "nginx:1.25",
        "2023-08-05T10:00:00Z",
    ));
    assert_eq!(
        app.post_batch("/events", &Value::Array(events))
            .await
            .status(),
        202
    );

    let page = app.get_json("/api/v1/events?limit=4").await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(ids(&page), ["k1", "e4", "e3", "e2"], "newest first");
    assert_eq!(items[1]["kind"], "cloudevent");
    assert_eq!(items[1]["type"], "com.example.even");
    assert_eq!(items[1]["origin"], "events");
    assert_eq!(
        items[1]["event"]["data"],
        json!({"n": 1}),
        "the whole event"
    );
    assert!(items[1]["received_at"].is_string());
    let before = page["next_before"].as_i64().unwrap();
    let rest = app
        .get_json(&format!("/api/v1/events?limit=4&before={before}"))
        .await;
    assert_eq!(ids(&rest), ["e1", "e0"]);
    assert!(rest["next_before"].is_null(), "the last page says so");

    let odd = app
        .get_json("/api/v1/events?type=com.example.o&source=/tests/1")
        .await;
    assert_eq!(ids(&odd), ["e3", "e1"]);

    // The CDEvent the router made of the Deployment, with its transformer.
    app.wait_until_processed().await;
    let cdevents = app.get_json("/api/v1/events?kind=cdevents").await;
    let items = cdevents["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{cdevents}");
    assert_eq!(items[0]["kind"], "cdevent");
    assert_eq!(items[0]["transformer"], "kubernetes");
    assert!(items[0]["type"]
        .as_str()
        .unwrap()
        .starts_with("dev.cdevents.service.deployed."));
    assert_eq!(
        items[0]["event"]["subject"]["content"]["environment"]["id"],
        "prod"
    );

    for bad in ["kind=raw", "limit=0", "limit=501", "before=x", "sort=asc"] {
        let response = app.get(&format!("/api/v1/events?{bad}")).await;
        assert_eq!(response.status(), 400, "{bad}");
    }
}

/// Reads server-sent events from `path` until `wanted` lines of `data:` have arrived, or fails
/// at the deadline.
struct FeedReader {
    response: reqwest::Response,
    buffer: String,
}

impl FeedReader {
    async fn open(app: &TestApp, path: &str) -> Self {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event (name and parsed data), within `deadline`.
    async fn next(&mut self, deadline: Duration) -> (String, Value) {
        let wait = async {
            loop {
                if let Some(end) = self.buffer.find("\n\n") {
                    let block: String = self.buffer.drain(..end + 2).collect();
                    let mut name = String::from("message");
                    let mut data = String::new();
                    for line in block.lines() {
                        if let Some(value) = line.strip_prefix("event:") {
                            name = value.trim().to_owned();
                        } else if let Some(value) = line.strip_prefix("data:") {
                            data.push_str(value.trim_start());
                        }
                    }
                    if data.is_empty() {
                        continue; // a keep-alive comment
                    }
                    return (name, serde_json::from_str(&data).unwrap());
                }
                let chunk = self.response.chunk().await.unwrap().expect("stream open");
                self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
            }
        };
        tokio::time::timeout(deadline, wait)
            .await
            .expect("an event within the deadline")
    }
}

async fn live_feed_shows_new_events_and_their_cdevents_as_they_are_stored(backend: Backend) {
    let app = spawn_app(&backend).await;
    // Stored before anybody watched: not replayed.
    assert_eq!(
        app.post_structured("/events", &cloudevent("before"))
            .await
            .status(),
        202
    );
    let mut all = FeedReader::open(&app, "/api/v1/events/stream").await;
    let mut deployments_only = FeedReader::open(
        &app,
        "/api/v1/events/stream?kind=cdevents&type=dev.cdevents.service.",
    )
    .await;

    let deployment = deployment_event(
        "live-1",
        "web",
        "prod",
        1,
        "nginx:1.25",
        "2023-08-05T10:00:00Z",
    );
    assert_eq!(
        app.post_structured("/events", &deployment).await.status(),
        202
    );

    let (name, item) = all.next(Duration::from_secs(2)).await;
    assert_eq!(name, "cloudevent");
    assert_eq!(item["id"], "live-1", "the earlier event is not replayed");
    assert_eq!(item["event"]["data"]["metadata"]["name"], "web");
    let (name, item) = all.next(Duration::from_secs(5)).await;
    assert_eq!(name, "cdevent");
    assert_eq!(item["transformer"], "kubernetes");

    let (name, item) = deployments_only.next(Duration::from_secs(5)).await;
    assert_eq!(name, "cdevent", "the filtered feed skips the CloudEvent");
    assert!(item["type"]
        .as_str()
        .unwrap()
        .starts_with("dev.cdevents.service.deployed."));

    // Several at once arrive in the order they were stored.
    let batch: Vec<Value> = (0..3).map(|n| cloudevent(&format!("b{n}"))).collect();
    assert_eq!(
        app.post_batch("/events", &Value::Array(batch))
            .await
            .status(),
        202
    );
    let mut ids = Vec::new();
    while ids.len() < 3 {
        let (name, item) = all.next(Duration::from_secs(2)).await;
        if name == "cloudevent" {
            ids.push(item["id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(ids, ["b0", "b1", "b2"]);

    // Viewers that leave stop the tailer; a new viewer starts from what is stored then.
    drop(all);
    drop(deployments_only);
    assert_eq!(
        app.post_structured("/events", &cloudevent("unwatched"))
            .await
            .status(),
        202
    );
    let mut again = FeedReader::open(&app, "/api/v1/events/stream?kind=cloudevents").await;
    assert_eq!(
        app.post_structured("/events", &cloudevent("watched"))
            .await
            .status(),
        202
    );
    let (_, item) = again.next(Duration::from_secs(2)).await;
    assert!(
        item["id"] == "watched" || item["id"] == "unwatched",
        "{item}"
    );
    if item["id"] == "unwatched" {
        let (_, item) = again.next(Duration::from_secs(2)).await;
        assert_eq!(item["id"], "watched");
    }
}

async fn dimensions_list_what_the_facts_name(backend: Backend) {
    let app = spawn_app(&backend).await;
    let empty = app.get_json("/api/v1/dimensions").await;
    assert_eq!(
        empty,
        json!({"services": [], "environments": [], "teams": []})
    );
    let events = json!([
        deployment_event("d1", "web", "prod", 1, "nginx:1.25", "2023-08-05T10:00:00Z"),
        deployment_event("d2", "api", "staging", 1, "api:1", "2023-08-05T10:00:00Z"),
        deployment_event(
            "d3",
            "web",
            "staging",
            1,
            "nginx:1.25",
            "2023-08-05T10:00:00Z"
        ),
    ]);
    assert_eq!(app.post_batch("/events", &events).await.status(), 202);
    let dimensions = poll_until(Duration::from_secs(10), || async {
        let dimensions = app.get_json("/api/v1/dimensions").await;
        (dimensions["services"].as_array().unwrap().len() == 2).then_some(dimensions)
    })
    .await;
    assert_eq!(dimensions["services"], json!(["api", "web"]));
    assert_eq!(dimensions["environments"], json!(["prod", "staging"]));
}

/// Large events: a page of the history holds at most 4 MiB of their text (always one event) and
/// still says where the next page starts; the live feed sends them without their JSON.
async fn large_events_fill_fewer_history_items_and_reach_the_feed_without_their_json(
    backend: Backend,
) {
    let app = spawn_app(&backend).await;
    let mut feed = FeedReader::open(&app, "/api/v1/events/stream?kind=cloudevents").await;
    let padding = "x".repeat(900 * 1024);
    for n in 0..7 {
        let mut event = cloudevent(&format!("large{n}"));
        event["data"] = json!({ "padding": padding });
        assert_eq!(app.post_structured("/events", &event).await.status(), 202);
    }
    // About 0.9 MiB each: the texts before the fifth add up to 3.6 MiB, before the sixth to 4.5.
    let page = app.get_json("/api/v1/events?limit=50").await;
    assert_eq!(
        ids(&page),
        ["large6", "large5", "large4", "large3", "large2"]
    );
    assert_eq!(
        page["items"][0]["event"]["data"]["padding"]
            .as_str()
            .map(str::len),
        Some(padding.len()),
        "the history shows the whole event"
    );
    let before = page["next_before"].as_i64().expect("a next page");
    let rest = app
        .get_json(&format!("/api/v1/events?limit=50&before={before}"))
        .await;
    assert_eq!(ids(&rest), ["large1", "large0"]);
    assert!(rest["next_before"].is_null());

    let (name, item) = feed.next(Duration::from_secs(5)).await;
    assert_eq!(name, "cloudevent");
    assert_eq!(item["id"], "large0");
    assert!(item["event"].is_null(), "{}", item["event"]);
    assert!(item["event_bytes"].as_u64().unwrap() > 900 * 1024);
    // A small event still comes whole.
    assert_eq!(
        app.post_structured("/events", &cloudevent("small"))
            .await
            .status(),
        202
    );
    loop {
        let (_, item) = feed.next(Duration::from_secs(5)).await;
        if item["id"] == "small" {
            assert_eq!(item["event"]["id"], "small");
            assert!(item.get("event_bytes").is_none());
            break;
        }
    }
}

/// The live feed takes `MAX_FEED_VIEWERS` viewers at once; the next is `503` with
/// `Retry-After`, so viewers cannot take every connection the server accepts.
#[tokio::test]
async fn the_live_feed_turns_away_viewers_past_its_cap() {
    let app = spawn_app(&Backend::Sqlite).await;
    let mut viewers = Vec::new();
    for _ in 0..dora_api::events::MAX_FEED_VIEWERS {
        viewers.push(FeedReader::open(&app, "/api/v1/events/stream").await);
    }
    let response = app.get("/api/v1/events/stream?kind=cdevents").await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    let problem: Value = response.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("viewers"),
        "{problem}"
    );
    // The rest of the API still answers.
    assert_eq!(app.get("/api/v1/events?limit=1").await.status(), 200);
    drop(viewers);
    app.stop().await;
}

backend_tests!(
    history_pages_newest_first_with_prefix_filters,
    live_feed_shows_new_events_and_their_cdevents_as_they_are_stored,
    large_events_fill_fewer_history_items_and_reach_the_feed_without_their_json,
    dimensions_list_what_the_facts_name,
);
