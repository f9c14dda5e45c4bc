//! `dora-events import`: bulk loading into the database, its summary, rejections, resuming, and
//! the router picking the events up afterwards.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::helpers::{fixture_json, Backend};

fn dora_events(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dora-events"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn run(args: Vec<String>, stdin: Option<String>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        dora_events(&args, stdin.as_deref())
    })
    .await
    .unwrap()
}

/// Runs `serve --once` on the database at `url` and reads its JSON report.
async fn serve_once(url: &str) -> Value {
    let args = vec!["serve", "--once", "--database-url", url];
    let (code, out, err) = run(args.into_iter().map(String::from).collect(), None).await;
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(out.trim()).unwrap()
}

fn event(n: u32) -> String {
    json!({
        "specversion": "1.0",
        "id": format!("import-{n}"),
        "source": "/tests/import",
        "type": "com.example.import",
        "time": "2024-03-01T10:00:00Z",
        "data": {"n": n}
    })
    .to_string()
}

async fn import_reports_what_it_did_and_resumes_where_the_last_run_stopped(backend: Backend) {
    let db = backend.fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("history.jsonl");
    // Lines 1-12: ten events, a blank line, a repeat of event 3, two bad events.
    let mut lines: Vec<String> = (1..=4).map(event).collect();
    lines.push(String::new());
    lines.push(
        r#"{"specversion":"1.0","id":"bad-1","source":"/s","type":"t","time":"never"}"#.into(),
    );
    lines.push(event(3));
    lines.push("{\"specversion\": \"1.0\", \"id\": \"bad-2\"".into());
    lines.extend((5..=10).map(event));
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let path = file.display().to_string();
    let args = |extra: &[&str]| -> Vec<String> {
        let mut args = vec![
            "import".to_owned(),
            "--database-url".to_owned(),
            db.url.clone(),
            "--batch-size".to_owned(),
            "3".to_owned(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push(path.clone());
        args
    };

    let (code, out, err) = run(args(&[]), None).await;

    assert_eq!(code, 1, "rejections make the exit code 1: {out}{err}");
    assert!(
        out.contains("read 13, imported 10, duplicates 1, rejected 2"),
        "{out}"
    );
    assert!(
        out.contains("rejected line 6: time: \"never\" is not an RFC 3339 timestamp"),
        "{out}"
    );
    assert!(out.contains("rejected line 8: not JSON"), "{out}");

    // Nothing new: the checkpoint says the whole file is in.
    let (code, out, _) = run(args(&[]), None).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("resumed at line 15"), "{out}");
    assert!(out.contains("read 0, imported 0"), "{out}");

    // The file grows: only the new lines are read, numbered where they are.
    let mut more = std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap();
    writeln!(more, "{}\n{}\nnot an event", event(11), event(12)).unwrap();
    let (code, out, _) = run(args(&[]), None).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("read 3, imported 2, duplicates 0, rejected 1"),
        "{out}"
    );
    assert!(out.contains("rejected line 17: not JSON"), "{out}");

    // --from-start reads it all again: everything is a duplicate, stored once.
    let (_, out, _) = run(args(&["--json", "--from-start"]), None).await;
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["read"], 16);
    assert_eq!(report["imported"], 0);
    assert_eq!(report["duplicates"], 13);
    assert_eq!(report["rejected"], 3);

    // The router picks them up like any other raw event.
    let once = serve_once(&db.url).await;
    assert_eq!(once["raw_events_routed"], 12);
}

backend_tests!(import_reports_what_it_did_and_resumes_where_the_last_run_stopped,);

async fn import_reads_json_arrays_and_standard_input_and_wraps_bare_cdevents(backend: Backend) {
    let db = backend.fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let array = dir.path().join("events.json");
    let cdevent = fixture_json("cdevents-spec/v0.5.1/conformance/service_deployed.json");
    let mut invalid_cdevent = cdevent.clone();
    invalid_cdevent["subject"]["content"]
        .as_object_mut()
        .unwrap()
        .remove("environment");
    let items = json!([
        serde_json::from_str::<Value>(&event(1)).unwrap(),
        cdevent,
        invalid_cdevent,
    ]);
    std::fs::write(&array, serde_json::to_string_pretty(&items).unwrap()).unwrap();

    let (code, out, _) = run(
        vec![
            "import".into(),
            "--database-url".into(),
            db.url.clone(),
            array.display().to_string(),
        ],
        None,
    )
    .await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("read 3, imported 2, duplicates 0, rejected 1"),
        "{out}"
    );
    assert!(
        out.contains("rejected [2]: /subject/content"),
        "a bare CDEvent is checked against its schema: {out}"
    );

    let stdin = format!("{}\n{}\n", event(1), event(2));
    let (code, out, _) = run(
        vec![
            "import".into(),
            "--database-url".into(),
            db.url.clone(),
            "-".into(),
        ],
        Some(stdin),
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("read 2, imported 1, duplicates 1, rejected 0"),
        "{out}"
    );

    let once = serve_once(&db.url).await;
    assert_eq!(once["raw_events_routed"], 3);
    assert_eq!(
        once["cdevents_emitted"], 1,
        "the bare CDEvent passes through"
    );
}

backend_tests!(import_reads_json_arrays_and_standard_input_and_wraps_bare_cdevents,);
