//! `dora-events backfill github|gitlab` against a fake API of the tool (`fake`): pages, rate
//! limits, an interruption and its resume, a second run, the same history later delivered by
//! webhooks, and the keys of a backfilled history against those of the same history sent as
//! webhooks.

mod fake;
mod github;
mod gitlab;

use dora_events::app::{run_once, Role};

use crate::helpers::{spawn_with, test_settings, TestApp, TestDb};

/// Runs the router and the calculators over `db`, then serves it.
async fn process_and_serve(db: TestDb) -> TestApp {
    let mut settings = test_settings(&db);
    settings.dora.production_environments = vec!["production".into()];
    run_once(&settings, Role::All).await.unwrap();
    spawn_with(settings, db).await
}

/// Runs the `dora-events` binary with `args` and the variables `env` (off the runtime: the fake
/// API is served on it); its exit code, standard output and standard error.
async fn dora_events(env: &[(&str, &str)], args: Vec<String>) -> (i32, String, String) {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_dora-events"))
            .args(&args)
            .envs(env)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}
