//! `dora-events serve`: the stages of the pipeline, all in one process or one role per process.

use std::process::ExitCode;

use anyhow::Context;
use dora_events::app::{run_once, Application, Role};
use dora_events::config::{Overrides, Settings};

use super::Global;

/// Its arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on (default 0.0.0.0:8080). Also DORA_LISTEN.
    #[arg(long)]
    pub listen: Option<String>,
    /// Which stages this process runs. Also DORA_ROLE.
    #[arg(long, value_enum, default_value = "all", env = "DORA_ROLE")]
    pub role: Role,
    /// Run the router and/or calculators of the role until caught up, then exit (for a CronJob).
    #[arg(long)]
    pub once: bool,
}

pub async fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let Args { listen, role, once } = args;
    let overrides = Overrides {
        listen,
        ..global.overrides()
    };
    let settings = Settings::load(global.config.as_deref(), &overrides)?;
    if once {
        let report = run_once(&settings, role).await?;
        println!(
            "{}",
            serde_json::to_string(&report).context("Failed to print the report")?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let app = Application::build_with_role(settings, role).await?;
    let handle = app.shutdown_handle();
    tokio::spawn(async move {
        super::wait_for_signal().await;
        tracing::info!("shutting down");
        handle.shutdown();
    });
    app.run_until_stopped().await?;
    Ok(ExitCode::SUCCESS)
}
