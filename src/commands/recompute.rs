//! `dora-events recompute`: rebuilds CDEvents, facts and links from the raw CloudEvents.

use std::process::ExitCode;

use anyhow::Context;
use dora_events::app::recompute;

use super::Global;

pub async fn run(global: &Global) -> anyhow::Result<ExitCode> {
    let settings = global.settings()?;
    let report = recompute(&settings).await?;
    println!(
        "{}",
        serde_json::to_string_pretty(&report).context("Failed to print the report")?
    );
    Ok(ExitCode::SUCCESS)
}
