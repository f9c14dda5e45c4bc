//! `dora-events bench`: the load generator of BENCHMARKS.md.

use std::process::ExitCode;

use anyhow::Context;

use super::Global;

/// Its arguments.
#[derive(clap::Args)]
pub struct Args {
    /// A running server to load instead of starting one.
    #[arg(long)]
    pub url: Option<String>,
    #[arg(long, value_enum, default_value = "structured")]
    pub mode: dora_events::bench::BenchMode,
    /// Concurrent keep-alive clients.
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// Events to send in all.
    #[arg(long, default_value_t = 100_000)]
    pub events: u64,
    /// Events per request in batch mode.
    #[arg(long, default_value_t = 100)]
    pub batch_size: u64,
    /// Ingest token of the server at --url (sent as Authorization: Bearer).
    #[arg(long, env = "DORA_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Read token for its pipeline state, when --token is not also a read token.
    #[arg(long, env = "DORA_READ_TOKEN", hide_env_values = true)]
    pub read_token: Option<String>,
}

pub async fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let settings = global.settings()?;
    let report = dora_events::bench::run(dora_events::bench::BenchOptions {
        url: args.url,
        database_url: settings.database_url,
        mode: args.mode,
        clients: args.clients,
        events: args.events,
        batch_size: args.batch_size,
        token: args.token,
        read_token: args.read_token,
    })
    .await?;
    println!(
        "{}",
        serde_json::to_string_pretty(&report).context("Failed to print the report")?
    );
    Ok(ExitCode::SUCCESS)
}
