//! The commands of the `dora-events` binary: one module each, with its arguments and a `run`
//! that returns the exit code. What they do beyond reading arguments and printing lives in the
//! library (`dora_events::*`), shared with the server and the tests.

use std::path::PathBuf;

use anyhow::Context;
use dora_events::config::{Overrides, Settings};

pub mod backfill;
pub mod bench;
pub mod config;
pub mod demo;
pub mod import;
pub mod metrics;
pub mod migrate;
pub mod probe;
pub mod recompute;
pub mod send;
pub mod serve;
pub mod transform;
pub mod validate;

/// The options every command takes.
pub struct Global {
    /// `--config`: the TOML configuration file.
    pub config: Option<PathBuf>,
    /// `--database-url`.
    pub database_url: Option<String>,
}

impl Global {
    /// What the command line sets over the configuration.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            database_url: self.database_url.clone(),
            ..Overrides::default()
        }
    }

    /// The settings: defaults, the configuration file, `DORA_*` variables, the command line.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        Settings::load(self.config.as_deref(), &self.overrides())
    }
}

/// Opens a database that must exist already: reading keys from a SQLite file that is not there
/// is a mistake (a wrong path), not a reason to create an empty one.
pub async fn open_existing(database_url: &str) -> anyhow::Result<dora_store::Store> {
    if let Ok(dora_store::DatabaseUrl::Sqlite(path)) = dora_store::DatabaseUrl::parse(database_url)
    {
        anyhow::ensure!(
            std::path::Path::new(path).exists(),
            "no database at {path}: give --database-url (or --url to ask a running server)"
        );
    }
    dora_store::Store::connect(database_url)
        .await
        .with_context(|| {
            format!(
                "Failed to open the database {}",
                dora_events::app::redact(database_url)
            )
        })
}

pub async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
