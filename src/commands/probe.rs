//! `dora-events probe`: a container healthcheck against a running server.

use std::process::ExitCode;

use anyhow::Context;

use super::Global;

/// Its arguments.
#[derive(clap::Args)]
pub struct Args {
    /// The URL to GET; any 2xx answer means healthy.
    #[arg(long, default_value = "http://127.0.0.1:8080/readyz")]
    pub url: String,
}

pub async fn run(_global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let Args { url } = args;
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build()
        .context("Failed to build the HTTP client")?;
    match client.get(&url).send().await {
        Ok(response) if response.status().is_success() => Ok(ExitCode::SUCCESS),
        Ok(response) => {
            eprintln!("{url}: {}", response.status());
            Ok(ExitCode::FAILURE)
        }
        Err(error) => {
            eprintln!("{url}: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}
