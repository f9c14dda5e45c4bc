//! `dora-events migrate`: creates or upgrades the database schema.

use std::process::ExitCode;

use dora_store::Store;

use super::Global;

pub async fn run(global: &Global) -> anyhow::Result<ExitCode> {
    let settings = global.settings()?;
    let store = Store::connect(&settings.database_url).await?;
    store.close().await;
    println!(
        "database {} is up to date",
        dora_events::app::redact(&settings.database_url)
    );
    Ok(ExitCode::SUCCESS)
}
