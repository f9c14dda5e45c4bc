//! `dora-events send`: posts CloudEvent and CDEvent files to a server.

use std::path::PathBuf;
use std::process::ExitCode;

use super::Global;

/// Its arguments.
#[derive(clap::Args)]
pub struct Args {
    /// The server to post to.
    #[arg(long, default_value = "http://localhost:8080", env = "DORA_URL")]
    pub url: String,
    /// Files to send (- for standard input).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Ingest token (sent as Authorization: Bearer).
    #[arg(long, env = "DORA_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

pub async fn run(_global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let Args { url, files, token } = args;
    let report = dora_events::send::send(&url, token.as_deref(), &files).await?;
    println!(
        "accepted {}, duplicates {}, rejected {}",
        report.accepted,
        report.duplicates,
        report.rejected.len()
    );
    for reason in &report.rejected {
        println!("rejected: {reason}");
    }
    if !report.rejected.is_empty() {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
