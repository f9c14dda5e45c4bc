//! Slow and idle clients cannot hold the server: slow bodies hold only the budget for what they
//! sent and get `408`, slow headers and idle keep-alive connections are closed, the connection
//! cap makes new connections wait rather than fail, and a client that writes its whole oversize
//! body before reading gets the `413`. Raw TCP clients, so that nothing is buffered for them.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dora_sources::webhook::sha256_signature;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{cloudevent, fixture_json, poll_until, spawn_configured, Backend, TestApp};

const GITHUB_SECRET: &str = "slow-clients-secret";

/// host:port of the test server.
fn host(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_owned()
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(host(app)).await.expect("connects")
}

/// Reads until the end of a response head (or the connection ends); the text read.
async fn read_head(stream: &mut TcpStream, within: Duration) -> String {
    let mut read = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    while !read.windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => read.extend_from_slice(&buffer[..n]),
            Err(_) => panic!(
                "no response within {within:?}; read {:?}",
                String::from_utf8_lossy(&read)
            ),
        }
    }
    String::from_utf8_lossy(&read).into_owned()
}

/// Reads everything until the server closes the connection.
async fn read_to_close(stream: &mut TcpStream, within: Duration) -> String {
    let mut read = Vec::new();
    tokio::time::timeout(within, stream.read_to_end(&mut read))
        .await
        .unwrap_or_else(|_| panic!("not closed within {within:?}"))
        .expect("read until closed");
    String::from_utf8_lossy(&read).into_owned()
}

/// Waits until the server closes the connection (EOF or reset), failing after `within`; how long
/// it took.
async fn closed_by_server(mut stream: TcpStream, within: Duration) -> Duration {
    let start = Instant::now();
    let mut buffer = [0u8; 1024];
    loop {
        match tokio::time::timeout(within, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return start.elapsed(),
            Ok(Ok(_)) => continue,
            Err(_) => panic!("the server kept the connection open for {within:?}"),
        }
    }
}

/// The value of an unlabelled sample in `GET /metrics`.
async fn metric(app: &TestApp, line_start: &str) -> f64 {
    let text = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(line_start))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("{line_start} not in /metrics"))
}

/// One slow upload: declares `length` bytes, then sends one byte every 100 ms until told to
/// stop, then waits for the answer.
struct SlowUpload {
    sent: Arc<AtomicUsize>,
    answer: tokio::task::JoinHandle<(String, Duration)>,
}

fn slow_upload(
    app: &TestApp,
    content_type: &'static str,
    length: usize,
    stop: Arc<AtomicBool>,
) -> SlowUpload {
    let sent = Arc::new(AtomicUsize::new(0));
    let address = host(app);
    let counter = Arc::clone(&sent);
    let answer = tokio::spawn(async move {
        let mut stream = TcpStream::connect(address).await.unwrap();
        let head = format!(
            "POST /events HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        while !stop.load(Ordering::SeqCst) {
            stream.write_all(b" ").await.unwrap();
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let stopped = Instant::now();
        let head = read_head(&mut stream, Duration::from_secs(20)).await;
        (head, stopped.elapsed())
    });
    SlowUpload { sent, answer }
}

fn github_signature(body: &[u8]) -> String {
    sha256_signature(GITHUB_SECRET.as_bytes(), body)
}

/// The attack: six 10 MiB batches and four 1 MiB events trickling one byte at a time.
/// Other clients (signed GitHub deliveries too) get 202 meanwhile; once the uploads stop moving
/// they get 408 after `body_stall_timeout`.
async fn slow_uploads_hold_only_what_they_sent_while_others_get_202(backend: Backend) {
    let app = spawn_configured(&backend, |settings| {
        settings.http.body_stall_timeout = Duration::from_secs(2);
        // One byte per 100 ms is 10 bytes/s: slow, but above this minimum.
        settings.http.body_min_bytes_per_second = 1;
        settings.webhooks.github.secret = Some(GITHUB_SECRET.into());
    })
    .await;

    let stop = Arc::new(AtomicBool::new(false));
    let mut uploads = Vec::new();
    for _ in 0..6 {
        uploads.push(slow_upload(
            &app,
            "application/cloudevents-batch+json",
            10 * 1024 * 1024,
            Arc::clone(&stop),
        ));
    }
    for _ in 0..4 {
        uploads.push(slow_upload(
            &app,
            "application/cloudevents+json",
            1024 * 1024,
            Arc::clone(&stop),
        ));
    }
    // Every upload is under way (its body being read) before the others post.
    poll_until(Duration::from_secs(10), || async {
        uploads
            .iter()
            .all(|upload| upload.sent.load(Ordering::SeqCst) >= 3)
            .then_some(())
    })
    .await;

    let client = reqwest::Client::new();
    for i in 0..5 {
        let response = client
            .post(app.url("/events"))
            .header("content-type", "application/cloudevents+json")
            .body(cloudevent(&format!("while-slow-{i}")).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202, "{:?}", response.text().await);
    }
    // A 2 MiB batch needs 12 MiB of budget: there is room, since the uploads hold only bytes.
    let batch: Vec<_> = (0..2)
        .map(|i| {
            let mut event = cloudevent(&format!("large-{i}"));
            event["data"] = json!("z".repeat(1024 * 1024 - 200));
            event
        })
        .collect();
    let response = client
        .post(app.url("/events"))
        .header("content-type", "application/cloudevents-batch+json")
        .body(json!(batch).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202, "{:?}", response.text().await);
    let delivery =
        serde_json::to_vec(&fixture_json("github/octokit-pull-request-opened/input.json")["data"])
            .unwrap();
    let response = client
        .post(app.url("/webhooks/github"))
        .header("content-type", "application/json")
        .header("x-github-event", "pull_request")
        .header("x-github-delivery", "5b6f4a2e-0000-4000-8000-000000000001")
        .header("x-hub-signature-256", github_signature(&delivery))
        .body(delivery)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202, "{:?}", response.text().await);
    assert!(
        uploads.iter().all(|upload| !upload.answer.is_finished()),
        "the slow uploads were still being read"
    );

    stop.store(true, Ordering::SeqCst);
    for upload in uploads {
        let (head, waited) = upload.answer.await.unwrap();
        assert!(head.starts_with("HTTP/1.1 408"), "{head}");
        assert!(
            head.to_ascii_lowercase().contains("connection: close"),
            "{head}"
        );
        assert!(waited >= Duration::from_millis(1500), "{waited:?}");
    }
    app.stop().await;
}

/// A body that never pauses long but arrives below `body_min_bytes_per_second` gets 408.
#[tokio::test]
async fn a_slow_body_below_the_minimum_rate_gets_408() {
    let app = spawn_configured(&Backend::Sqlite, |settings| {
        settings.http.body_stall_timeout = Duration::from_secs(1);
        settings.http.body_min_bytes_per_second = 1000;
    })
    .await;
    let mut stream = connect(&app).await;
    stream
        .write_all(
            b"POST /events HTTP/1.1\r\nHost: test\r\nContent-Type: application/cloudevents+json\r\nContent-Length: 100000\r\n\r\n",
        )
        .await
        .unwrap();
    let started = Instant::now();
    // Ten bytes a second, never a pause of more than 100 ms, until the server answers.
    let mut first = [0u8; 1];
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no answer within 10 s"
        );
        stream.write_all(b" ").await.unwrap();
        match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut first)).await {
            Ok(Ok(1)) => break,
            Ok(other) => panic!("connection ended without an answer: {other:?}"),
            Err(_) => continue,
        }
    }
    let answered_after = started.elapsed();
    let rest = read_to_close(&mut stream, Duration::from_secs(10)).await;
    let response = format!("{}{rest}", first[0] as char);
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("slower than 1000 bytes/s"), "{response}");
    // Not before the grace period (body_stall_timeout) is over.
    assert!(
        answered_after >= Duration::from_secs(1),
        "{answered_after:?}"
    );
    app.stop().await;
}

/// Connections that send their headers a byte at a time, and new ones that send nothing, are
/// closed after `header_read_timeout`; the server keeps answering others.
#[tokio::test]
async fn slow_headers_and_silent_connections_are_dropped_after_the_header_timeout() {
    let app = spawn_configured(&Backend::Sqlite, |settings| {
        settings.http.header_read_timeout = Duration::from_secs(1);
    })
    .await;
    let mut waiting = Vec::new();
    for i in 0..20 {
        let mut stream = connect(&app).await;
        if i % 2 == 0 {
            stream
                .write_all(b"POST /events HTTP/1.1\r\nHost: test\r\n")
                .await
                .unwrap();
            // Keeps sending header bytes (never the end of the head) until the server closes.
            let (mut read_half, mut write_half) = stream.into_split();
            tokio::spawn(async move {
                while write_half.write_all(b"X").await.is_ok() {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            });
            waiting.push(tokio::spawn(async move {
                let start = Instant::now();
                let mut buffer = [0u8; 64];
                let _ = tokio::time::timeout(Duration::from_secs(6), read_half.read(&mut buffer))
                    .await
                    .expect("the server kept a slow-header connection open");
                start.elapsed()
            }));
        } else {
            waiting.push(tokio::spawn(closed_by_server(
                stream,
                Duration::from_secs(6),
            )));
        }
    }
    // Meanwhile the server answers normal clients.
    let response = app.post_structured("/events", &cloudevent("normal")).await;
    assert_eq!(response.status(), 202);
    for held in waiting {
        let held = held.await.unwrap();
        assert!(
            held >= Duration::from_millis(900) && held < Duration::from_secs(4),
            "{held:?}"
        );
    }
    assert_eq!(
        metric(
            &app,
            "dora_http_connections_closed_by_server_total{reason=\"header_timeout\"}"
        )
        .await,
        20.0
    );
    app.stop().await;
}

/// A kept-alive connection that sends no new request is closed after `idle_timeout`, well before
/// the longer header timeout.
#[tokio::test]
async fn idle_keep_alive_connections_are_closed_after_the_idle_timeout() {
    let app = spawn_configured(&Backend::Sqlite, |settings| {
        settings.http.idle_timeout = Duration::from_secs(1);
        settings.http.header_read_timeout = Duration::from_secs(20);
    })
    .await;
    let mut stream = connect(&app).await;
    for _ in 0..2 {
        // Two requests on the connection: it is kept alive between them.
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .unwrap();
        let head = read_head(&mut stream, Duration::from_secs(5)).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(!head.to_ascii_lowercase().contains("connection: close"));
        // The small JSON body follows the head; drain it.
        let mut body = [0u8; 256];
        let _ = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut body)).await;
    }
    let held = closed_by_server(stream, Duration::from_secs(5)).await;
    assert!(held >= Duration::from_millis(500), "{held:?}");
    assert_eq!(
        metric(
            &app,
            "dora_http_connections_closed_by_server_total{reason=\"idle_timeout\"}"
        )
        .await,
        1.0
    );
    app.stop().await;
}

/// At `max_connections`, a new connection waits (in the listen backlog) instead of failing, and
/// is served once another closes; the wait is counted.
#[tokio::test]
async fn at_the_connection_cap_new_connections_wait_until_others_close() {
    let app = spawn_configured(&Backend::Sqlite, |settings| {
        settings.http.max_connections = 3;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect(&app).await);
    }
    let waiting = tokio::spawn({
        let url = app.url("/healthz");
        async move { reqwest::get(url).await.map(|response| response.status()) }
    });
    // Not served while the cap is reached (the three connections are silent, within the header
    // timeout of 10 s).
    let early = tokio::time::timeout(Duration::from_millis(500), async {
        while !waiting.is_finished() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(early.is_err(), "served past the connection cap");
    drop(held);
    let status = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("served once the others closed")
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
    assert!(metric(&app, "dora_http_connection_limit_reached_total ").await >= 1.0);
    app.stop().await;
}

/// Clients that write their whole body before reading (Python's urllib, `requests`) read the
/// 413, whether the size is declared or only found while reading a chunked body.
#[tokio::test]
async fn a_client_that_writes_a_2_mib_body_before_reading_gets_the_413() {
    let app = crate::helpers::spawn_app(&Backend::Sqlite).await;
    for chunked in [false, true] {
        let head =
            "POST /events HTTP/1.1\r\nHost: test\r\nContent-Type: application/cloudevents+json\r\n";
        let response = write_whole_body_then_read(&app, head, 2 * 1024 * 1024, chunked).await;
        assert!(response.starts_with("HTTP/1.1 413"), "{response}");
        assert!(response.contains("application/problem+json"), "{response}");
        assert!(response.contains("payload-too-large"), "{response}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_webhook_client_with_a_wrong_token_that_writes_its_whole_body_gets_the_401() {
    // The token is refused from the headers, before the body is read: a sender that writes
    // its whole (here oversize) body first still reads the answer.
    let app = spawn_configured(&Backend::Sqlite, |settings| {
        settings.webhooks.gitlab.token = Some("slow-clients-token".into());
    })
    .await;
    for chunked in [false, true] {
        let head =
            "POST /webhooks/gitlab HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
                    X-Gitlab-Event: Push Hook\r\nX-Gitlab-Token: not-the-token\r\n";
        let response = write_whole_body_then_read(&app, head, 12 * 1024 * 1024, chunked).await;
        assert!(response.starts_with("HTTP/1.1 401"), "{response}");
        assert!(response.contains("X-Gitlab-Token"), "{response}");
    }
    app.stop().await;
}

/// Sends the request `head` (its lines, without the framing header), then, after giving the
/// server time to answer, a body of `length` bytes (declared or chunked) before reading; the
/// whole response.
async fn write_whole_body_then_read(
    app: &TestApp,
    head: &str,
    length: usize,
    chunked: bool,
) -> String {
    let body = vec![b'x'; length];
    let mut stream = connect(app).await;
    let framing = if chunked {
        "Transfer-Encoding: chunked".to_owned()
    } else {
        format!("Content-Length: {}", body.len())
    };
    stream
        .write_all(format!("{head}{framing}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    // Give the server time to answer (and, were it to close at once, to close) before the
    // body: the client does not look until it has written everything.
    tokio::time::sleep(Duration::from_millis(200)).await;
    if chunked {
        for piece in body.chunks(64 * 1024) {
            stream
                .write_all(format!("{:x}\r\n", piece.len()).as_bytes())
                .await
                .expect("the body is written");
            stream.write_all(piece).await.expect("the body is written");
            stream
                .write_all(b"\r\n")
                .await
                .expect("the body is written");
        }
        stream
            .write_all(b"0\r\n\r\n")
            .await
            .expect("the body is written");
    } else {
        stream.write_all(&body).await.expect("the body is written");
    }
    read_to_close(&mut stream, Duration::from_secs(10)).await
}

backend_tests!(slow_uploads_hold_only_what_they_sent_while_others_get_202);
