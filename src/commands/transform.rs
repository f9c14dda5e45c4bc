//! `dora-events transform`: the configured routes and rules, offline, on CloudEvent files.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::Global;

/// Its arguments.
#[derive(clap::Args)]
pub struct Args {
    /// CloudEvents: one JSON event, an array of events, or JSON Lines (- for stdin).
    #[arg(long)]
    pub input: PathBuf,
}

pub async fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let Args { input } = args;
    let settings = global.settings()?;
    let report = dora_events::transform::transform_file(&input, &settings)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&report).context("Failed to print the report")?
    );
    if !report.is_clean() {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
