//! `dora-events metrics`: the five keys as a table or JSON, from a server or a database.

use std::process::ExitCode;

use anyhow::Context;

use super::Global;

/// Its arguments.
#[derive(clap::Args)]
pub struct Args {
    /// A running server to ask instead of opening the database. Also DORA_URL.
    #[arg(long, env = "DORA_URL")]
    pub url: Option<String>,
    /// Read token of the server at --url (sent as Authorization: Bearer).
    #[arg(long, env = "DORA_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Only these services (repeatable: any of).
    #[arg(long = "service", value_name = "SERVICE")]
    pub services: Vec<String>,
    /// Only these environments (repeatable: any of).
    #[arg(long = "environment", value_name = "ENVIRONMENT")]
    pub environments: Vec<String>,
    /// Only these teams (repeatable: any of).
    #[arg(long = "team", value_name = "TEAM")]
    pub teams: Vec<String>,
    /// Window start: RFC 3339 or a date (default: 90 days before --to).
    #[arg(long)]
    pub from: Option<String>,
    /// Window end: RFC 3339, or a date (through that day); default now.
    #[arg(long)]
    pub to: Option<String>,
    /// Print the API's JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let Args {
        url,
        token,
        services,
        environments,
        teams,
        from,
        to,
        json,
    } = args;
    let query = dora_events::metrics::KeysQuery {
        services,
        environments,
        teams,
        from,
        to,
    };
    let body = match url {
        Some(url) => dora_events::metrics::from_server(&url, token.as_deref(), &query).await?,
        None => {
            let settings = global.settings()?;
            let store = super::open_existing(&settings.database_url).await?;
            let body =
                dora_events::metrics::from_store(store.clone(), &settings.dora_settings()?, &query)
                    .await;
            store.close().await;
            body?
        }
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&body).context("Failed to print the report")?
        );
    } else {
        print!("{}", dora_events::metrics::render(&body)?);
    }
    Ok(ExitCode::SUCCESS)
}
