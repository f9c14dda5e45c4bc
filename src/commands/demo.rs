//! `dora-events demo`: the product on a temporary database filled with generated history.

use std::process::ExitCode;

use anyhow::Context;
use dora_events::config::{Overrides, Settings};

use super::Global;

/// Its arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Seed of the generated history: the same seed gives the same events.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Days of history, ending at the start of today (UTC).
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u32).range(7..=3650))]
    pub days: u32,
    /// Exit after printing the summary instead of serving (for scripts and CI).
    #[arg(long)]
    pub exit: bool,
}

pub async fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let Args {
        seed,
        listen,
        days,
        exit,
    } = args;
    let options = dora_events::demo::DemoOptions { seed, days, exit };
    demo(global, listen, options).await
}

/// `dora-events demo`: the settings, a temporary database unless one was given, and the run.
async fn demo(
    global: &Global,
    listen: String,
    options: dora_events::demo::DemoOptions,
) -> anyhow::Result<ExitCode> {
    let database_url = global.database_url.clone();
    let overrides = Overrides {
        listen: Some(listen),
        database_url: database_url.clone(),
    };
    let mut settings =
        dora_events::demo::demo_settings(Settings::load(global.config.as_deref(), &overrides)?);
    // Only an explicit --database-url puts the demo's history into a real database.
    let temporary = match database_url {
        Some(_) => None,
        None => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            let dir = std::env::temp_dir()
                .join(format!("dora-events-demo-{}-{nanos}", std::process::id()));
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("Failed to create {}", dir.display()))?;
            settings.database_url = format!("sqlite://{}", dir.join("demo.db").display());
            Some(dir)
        }
    };
    let outcome = dora_events::demo::run(settings, options, super::wait_for_signal()).await;
    if let Some(dir) = temporary {
        let _ = std::fs::remove_dir_all(dir);
    }
    outcome.map(|()| ExitCode::SUCCESS)
}
