//! The command line: exit codes, messages and output of every command but `import` (import.rs).

use std::process::{Command, Output};

use crate::helpers::fixture_path;

/// Runs `dora-events` with `args`: its exit code, standard output and standard error.
fn dora_events(args: &[&str]) -> (i32, String, String) {
    dora_events_with(args, &[])
}

/// [`dora_events`] with the variables `env` set.
pub(crate) fn dora_events_with(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(env!("CARGO_BIN_EXE_dora-events"))
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
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
        "[[routes]]\nname = \"r\"\ntype_prefix = \"x.\"\ntransformers = [\"bamboo\"]\n",
    )
    .unwrap();
    let (code, _, err) = dora_events(&["config", "check", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("bamboo"), "{err}");
}

/// Layers: defaults, then the file, then `DORA_*` variables, then flags; a secret made of digits
/// stays a secret (text), not a number.
#[test]
fn configuration_layers_apply_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("layers.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:1111\"\ndatabase_url = \"sqlite://from-file.db\"\n[webhooks.gitlab]\ntoken = \"from-file\"\n",
    )
    .unwrap();
    let (code, out, err) = dora_events_with(
        &[
            "config",
            "check",
            file.to_str().unwrap(),
            "--database-url",
            "sqlite://from-flag.db",
        ],
        &[
            ("DORA_LISTEN", "127.0.0.1:2222"),
            ("DORA_DATABASE_URL", "sqlite://from-env.db"),
            ("DORA_WEBHOOKS__GITHUB__SECRET", "0012345"),
            ("DORA_WEBHOOKS__PAGERDUTY__SECRET", "true"),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("listen 127.0.0.1:2222"),
        "env beats the file: {out}"
    );
    assert!(
        out.contains("database sqlite://from-flag.db"),
        "the flag beats env: {out}"
    );
    assert!(
        out.contains(
            "webhooks accepted unsigned (no secret or token): argocd, alertmanager, flux, opsgenie, jira, bitbucket\n"
        ),
        "github and pagerduty from env, gitlab from the file: {out}"
    );
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
        out.contains("accepted 5, duplicates 0, rejected 0"),
        "{out}"
    );
    let state = app.wait_until_processed().await;
    assert_eq!(state["raw_events"], 5);
    assert_eq!(
        state["deployments"],
        3 + 1,
        "the tutorial's three rollouts and the CDEvent"
    );

    // Sending again: duplicates; a file with a bad event between two good ones: the good ones
    // are stored, the bad one is rejected with its position and reason, exit code 1.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.jsonl");
    let good = |id: &str| {
        format!("{{\"specversion\":\"1.0\",\"id\":\"{id}\",\"source\":\"/s\",\"type\":\"t\"}}\n")
    };
    let bad_line = "{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"/s\",\"type\":\"t\",\"time\":\"never\"}\n";
    std::fs::write(&bad, format!("{}{bad_line}{}", good("g1"), good("g2"))).unwrap();
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
        out.contains("accepted 2, duplicates 5, rejected 1"),
        "{out}"
    );
    assert!(
        out.contains("bad.jsonl event 2: 400 Bad Request (time)"),
        "the position and the attribute: {out}"
    );
    assert_eq!(app.wait_until_processed().await["raw_events"], 7);
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
fn transform_prints_what_the_rules_emit_and_fails_on_a_failing_event() {
    // `dora-events transform` of a kubewatch fixture with the kubewatch rules.
    let transform = |case: &str| {
        let config = fixture_path("rules/kubewatch.toml");
        let input = fixture_path(&format!("rules/kubewatch/{case}/input.json"));
        dora_events(&[
            "transform",
            "--config",
            config.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
        ])
    };
    let (code, out, err) = transform("deployment-update");
    assert_eq!(code, 0, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["cdevents"], 1, "{out}");
    assert_eq!(report["failures"], 0, "{out}");
    assert!(out.contains("dev.cdevents.service.deployed.0.3.0"), "{out}");

    // kubewatch sent no new object: the rule errors, the command says why and exits with 1.
    let (code, out, _) = transform("deployment-update-missing-obj");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("data.obj is missing"), "{out}");
}

#[test]
fn every_command_says_what_it_does_with_an_example() {
    let (code, out, _) = dora_events(&["--help"]);
    assert_eq!(code, 0);
    let commands: Vec<String> = out
        .lines()
        .skip_while(|line| !line.starts_with("Commands:"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .filter(|name| name != "help")
        .collect();
    for expected in [
        "serve",
        "send",
        "import",
        "metrics",
        "demo",
        "completions",
        "validate",
    ] {
        assert!(commands.iter().any(|c| c == expected), "{out}");
    }
    for command in commands {
        let mut args = vec![command.as_str()];
        if command == "config" {
            args.push("check");
        }
        args.push("--help");
        let (code, out, _) = dora_events(&args);
        assert_eq!(code, 0, "{command} --help");
        assert!(
            out.contains("Example: dora-events "),
            "`{command} --help` shows an example:\n{out}"
        );
    }
}

#[test]
fn completions_are_printed_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let (code, out, err) = dora_events(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(
            out.contains("dora-events") && out.contains("import") && out.contains("metrics"),
            "{shell}:\n{out}"
        );
    }
    let (code, _, err) = dora_events(&["completions", "tcsh"]);
    assert_ne!(code, 0);
    assert!(err.contains("possible values"), "{err}");
}

/// The demo's settings (production is `production`) as a file, for commands that open the
/// database themselves.
fn demo_config(dir: &std::path::Path) -> String {
    let path = dir.join("demo.toml");
    std::fs::write(
        &path,
        "[dora]\nproduction_environments = [\"production\"]\n",
    )
    .unwrap();
    path.display().to_string()
}

async fn metrics_gives_the_same_keys_from_a_server_and_from_its_database(
    backend: crate::helpers::Backend,
) {
    let db = backend.fresh_database().await;
    let settings = dora_events::demo::demo_settings(crate::helpers::test_settings(&db));
    let app = crate::helpers::spawn_with(settings, db).await;
    let end = "2024-06-03T00:00:00Z".parse().unwrap();
    dora_events::demo::load(&app.address, &dora_events::demo::generate(5, 21, end))
        .await
        .unwrap();
    dora_events::demo::wait_until_processed(&app.address, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    let window = ["--from", "2024-05-13", "--to", "2024-06-02"];
    let (address, url) = (app.address.clone(), app.database_url.clone());

    let (from_server, from_database, table, refused) = tokio::task::spawn_blocking(move || {
        let mut server = vec![
            "metrics",
            "--url",
            &address,
            "--json",
            "--service",
            "checkout",
        ];
        server.extend(window);
        let mut database = vec![
            "metrics",
            "--database-url",
            &url,
            "--config",
            &config,
            "--json",
            "--service",
            "checkout",
        ];
        database.extend(window);
        let mut table = vec!["metrics", "--url", &address, "--team", "storefront"];
        table.extend(window);
        (
            dora_events(&server),
            dora_events(&database),
            dora_events(&table),
            dora_events(&["metrics", "--url", &address, "--from", "last tuesday"]),
        )
    })
    .await
    .unwrap();

    assert_eq!(from_server.0, 0, "{}", from_server.2);
    assert_eq!(from_database.0, 0, "{}", from_database.2);
    let server: serde_json::Value = serde_json::from_str(&from_server.1).unwrap();
    let database: serde_json::Value = serde_json::from_str(&from_database.1).unwrap();
    assert_eq!(server, database, "the same numbers both ways");
    assert_eq!(server["filters"]["service"][0], "checkout");
    assert!(server["keys"]["deployment_frequency"]["value"].as_u64() > Some(0));

    let (code, out, err) = table;
    assert_eq!(code, 0, "{err}");
    for expected in [
        "DORA keys from 2024-05-13 00:00 to 2024-06-03 00:00 (UTC)",
        "filters: team storefront; production = production",
        "deployment frequency",
        "change lead time",
        "change failure rate",
        "failed deployment recovery",
        "deployment rework rate",
        "elite <= 5.0 %",
    ] {
        assert!(out.contains(expected), "{expected:?} in:\n{out}");
    }
    let (code, _, err) = refused;
    assert_ne!(code, 0);
    assert!(
        err.contains("from must be an RFC 3339 time or a date"),
        "{err}"
    );
    app.stop().await;
}

backend_tests!(metrics_gives_the_same_keys_from_a_server_and_from_its_database,);

#[test]
fn metrics_refuses_a_database_file_that_does_not_exist() {
    let (code, _, err) =
        dora_events(&["metrics", "--database-url", "sqlite:///nonexistent/dora.db"]);
    assert_ne!(code, 0);
    assert!(err.contains("no database at /nonexistent/dora.db"), "{err}");
}

async fn demo_serves_a_generated_history_and_prints_where_to_look(
    backend: crate::helpers::Backend,
) {
    // On SQLite the demo makes its own temporary database; on PostgreSQL it is given one.
    let url = match backend {
        crate::helpers::Backend::Sqlite => None,
        _ => Some(backend.fresh_database().await),
    };
    let database_url = url.as_ref().map(|db| db.url.clone());
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        let mut args = vec!["demo", "--exit", "--listen", "127.0.0.1:0", "--days", "14"];
        if let Some(url) = &database_url {
            args.extend(["--database-url", url]);
        }
        dora_events(&args)
    })
    .await
    .unwrap();

    assert_eq!(code, 0, "{out}\n{err}");
    for expected in [
        "0 transformation failures",
        "deployment frequency",
        "Per service",
        "checkout         storefront",
        "Where to look:",
        "/api/v1/dora",
        "/deploy-frequency/week",
    ] {
        assert!(out.contains(expected), "{expected:?} in:\n{out}");
    }
}

backend_tests!(demo_serves_a_generated_history_and_prints_where_to_look,);

/// `bench` with the server it starts (all stages): every acknowledged event stored, then
/// processed by every stage, no sooner than the load ended.
#[test]
fn bench_counts_what_was_stored_and_waits_until_every_stage_processed_it() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("bench.db").display());
    let args = [
        "bench",
        "--database-url",
        &database,
        "--mode",
        "cdevents",
        "--clients",
        "4",
        "--events",
        "300",
    ];
    let (code, out, err) = dora_events(&args);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["stored_events"], 300, "{report:#}");
    let (load, processed) = (
        report["seconds"].as_f64().unwrap(),
        report["processed_seconds"].as_f64().unwrap(),
    );
    assert!(processed >= load, "{report:#}");
    assert!(report["processed_events_per_second"].as_f64().unwrap() > 0.0);
    // The server is gone: what it had processed by then is in the database.
    let stats = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = dora_store::Store::connect(&database).await.unwrap();
        let stats = store.stats().await.unwrap();
        store.close().await;
        stats
    });
    assert_eq!((stats.raw_events, stats.cdevents), (300, 300));
    assert_eq!((stats.deployments, stats.router_lag), (300, 0));
    assert_eq!(stats.links_cursor, stats.last_cdevent_seq);
}
