//! The command line: exit codes, messages and output of every command but `import` (import.rs).

use std::process::Command;

use crate::helpers::fixture_path;

fn dora_events(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_dora-events"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn validate_passes_official_examples_and_names_the_field_of_a_bad_event() {
    let good = fixture_path("cdevents-spec/v0.5.1/conformance/service_deployed.json");
    let (code, out, _) = dora_events(&["validate", good.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("ok (CDEvent dev.cdevents.service.deployed.0.3.0 (v0.5.1))"),
        "{out}"
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"[{"specversion":"1.0","id":"1","source":"/s","type":"t","time":"soon"}]"#,
    )
    .unwrap();
    let (code, out, err) =
        dora_events(&["validate", good.to_str().unwrap(), bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        out.contains("bad.json[0]: invalid CloudEvent at time"),
        "{out}"
    );
    assert!(err.contains("1 invalid"), "{err}");
}

#[test]
fn config_check_accepts_the_example_and_names_a_mistake() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dora-events.example.toml");
    let (code, out, err) = dora_events(&["config", "check", example.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("configuration is valid"), "{out}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[routes]]\nname = \"r\"\ntype_prefix = \"x.\"\ntransformers = [\"jenkins\"]\n",
    )
    .unwrap();
    let (code, _, err) = dora_events(&["config", "check", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("jenkins"), "{err}");
}

async fn send_posts_files_in_the_right_mode_and_reports_rejections(
    backend: crate::helpers::Backend,
) {
    let app = crate::helpers::spawn_app(&backend).await;
    let tutorial = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tutorial");
    let mut files: Vec<String> = std::fs::read_dir(&tutorial)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    // A bare CDEvent goes to /cdevents.
    files.push(
        fixture_path("cdevents-spec/v0.5.1/conformance/service_deployed.json")
            .display()
            .to_string(),
    );
    let address = app.address.clone();
    let run = move |files: Vec<String>| {
        let mut args = vec!["send".to_owned(), "--url".to_owned(), address.clone()];
        args.extend(files);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        dora_events(&args)
    };
    let first = files.clone();
    let (code, out, _) = tokio::task::spawn_blocking(move || run(first))
        .await
        .unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("accepted 5, duplicates 0, rejected requests 0"),
        "{out}"
    );
    let state = app.wait_until_processed().await;
    assert_eq!(state["raw_events"], 5);
    assert_eq!(
        state["deployments"],
        3 + 1,
        "the tutorial's three rollouts and the CDEvent"
    );

    // Sending again: duplicates; a bad event: rejected with the reason, exit code 1.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"/s\",\"type\":\"t\",\"time\":\"never\"}\n").unwrap();
    let mut again = files;
    again.push(bad.display().to_string());
    let address = app.address.clone();
    let (code, out, _) = tokio::task::spawn_blocking(move || {
        let mut args = vec!["send".to_owned(), "--url".to_owned(), address];
        args.extend(again);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        dora_events(&args)
    })
    .await
    .unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("accepted 0, duplicates 5, rejected requests 1"),
        "{out}"
    );
    assert!(
        out.contains("time"),
        "the reason names the attribute: {out}"
    );
}

backend_tests!(send_posts_files_in_the_right_mode_and_reports_rejections,);

async fn probe_is_healthy_against_a_ready_server_and_not_against_a_closed_port(
    backend: crate::helpers::Backend,
) {
    let app = crate::helpers::spawn_app(&backend).await;
    let ready = format!("{}/readyz", app.address);
    let (code, _, err) =
        tokio::task::spawn_blocking(move || dora_events(&["probe", "--url", &ready]))
            .await
            .unwrap();
    assert_eq!(code, 0, "{err}");
    let missing = format!("{}/no-such-page", app.address);
    let (code, _, err) =
        tokio::task::spawn_blocking(move || dora_events(&["probe", "--url", &missing]))
            .await
            .unwrap();
    assert_eq!(code, 1);
    assert!(err.contains("404"), "{err}");
    let (code, _, _) = tokio::task::spawn_blocking(|| {
        dora_events(&["probe", "--url", "http://127.0.0.1:1/readyz"])
    })
    .await
    .unwrap();
    assert_eq!(code, 1);
}

backend_tests!(probe_is_healthy_against_a_ready_server_and_not_against_a_closed_port,);

#[test]
fn metrics_refuses_a_database_file_that_does_not_exist() {
    let (code, _, err) =
        dora_events(&["metrics", "--database-url", "sqlite:///nonexistent/dora.db"]);
    assert_ne!(code, 0);
    assert!(err.contains("no database at /nonexistent/dora.db"), "{err}");
}
