//! `dora-events backfill github`: history from the GitHub REST API into the database.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use dora_events::backfill::client::{GithubClient, Limits};
use dora_events::backfill::kinds::{Kind, Window};
use dora_events::backfill::sink::Sink;
use dora_events::backfill::{self, Options, Report};

use super::Global;

/// Its arguments.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub tool: Tool,
}

/// The tools it reads.
#[derive(clap::Subcommand)]
pub enum Tool {
    /// Deployments, pull requests, commits, incident issues, workflow runs and releases of GitHub
    /// repositories, sent through the `github` source as its webhooks would have sent them.
    ///
    /// Example: dora-events backfill github --repo acme/shop --since 2025-01-01 (with GITHUB_TOKEN set)
    Github(GithubArgs),
}

/// `backfill github`.
#[derive(clap::Args)]
pub struct GithubArgs {
    /// A repository, OWNER/NAME (repeatable).
    #[arg(long = "repo", value_name = "OWNER/NAME")]
    pub repos: Vec<String>,
    /// Every (not archived) repository of an organization (repeatable).
    #[arg(long = "org", value_name = "ORG")]
    pub orgs: Vec<String>,
    /// Only history from this day (YYYY-MM-DD, UTC) or time (RFC 3339) on.
    #[arg(long, value_parser = parse_time)]
    pub since: Option<DateTime<Utc>>,
    /// Only history up to this day (YYYY-MM-DD: its end, UTC) or time (RFC 3339).
    #[arg(long, value_parser = parse_until)]
    pub until: Option<DateTime<Utc>>,
    /// The REST API: https://api.github.com, or GitHub Enterprise's https://HOST/api/v3.
    #[arg(long, default_value = "https://api.github.com")]
    pub api_url: String,
    /// A file holding the token (else GITHUB_TOKEN; without either, anonymous: 60 requests/h).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// What to read (repeatable; default: all).
    #[arg(long = "kind", value_enum)]
    pub kinds: Vec<Kind>,
    /// Count what would be sent; store nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The longest wait for a rate limit, in seconds (then the request is tried again).
    #[arg(long, default_value_t = 3900)]
    pub max_wait: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Send to a running server (POST /events) instead of into --database-url.
    #[arg(long, env = "DORA_URL")]
    pub url: Option<String>,
    /// The server's ingest token (sent as Authorization: Bearer).
    #[arg(long, env = "DORA_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{text:?} is neither YYYY-MM-DD nor RFC 3339: {e}"))
}

fn parse_until(text: &str) -> Result<DateTime<Utc>, String> {
    let time = parse_time(text)?;
    if NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok() {
        return Ok(time + chrono::Duration::days(1) - chrono::Duration::seconds(1));
    }
    Ok(time)
}

fn token(args: &GithubArgs) -> anyhow::Result<Option<String>> {
    if let Some(path) = &args.token_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("Failed to read --token-file {}", path.display()))?;
        return Ok(Some(text.trim().to_owned()));
    }
    Ok(std::env::var("GITHUB_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty()))
}

pub async fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let Tool::Github(args) = args.tool;
    let settings = global.settings()?;
    let limits = Limits {
        max_wait: Duration::from_secs(args.max_wait),
        ..Limits::default()
    };
    let notice = Arc::new(|line: String| eprintln!("{line}"));
    let client = GithubClient::new(&args.api_url, token(&args)?.as_deref(), limits, notice)?;
    let mut repos = args.repos.clone();
    for org in &args.orgs {
        repos.extend(backfill::org_repos(&client, org).await?);
    }
    let mut seen = std::collections::BTreeSet::new();
    repos.retain(|repo| seen.insert(repo.to_ascii_lowercase()));
    anyhow::ensure!(!repos.is_empty(), "give --repo OWNER/NAME or --org ORG");
    let options = Options {
        repos,
        kinds: if args.kinds.is_empty() {
            Kind::ALL.to_vec()
        } else {
            args.kinds.clone()
        },
        window: Window {
            since: args.since,
            until: args.until,
        },
        incident_label: settings.sources.github.incident_label.clone(),
        progress: !args.json && std::io::stderr().is_terminal(),
    };
    let sink = if args.dry_run {
        Sink::DryRun
    } else if let Some(url) = &args.url {
        Sink::Server {
            client: dora_events::client::client(
                reqwest::Client::builder().timeout(Duration::from_secs(60)),
                args.token.as_deref(),
            )?,
            events_url: format!("{}/events", url.trim_end_matches('/')),
        }
    } else {
        let store = dora_store::Store::connect(&settings.database_url)
            .await
            .with_context(|| {
                format!(
                    "Failed to open the database {}",
                    dora_events::app::redact(&settings.database_url)
                )
            })?;
        Sink::Store {
            store,
            max_event_bytes: settings.ingest.max_event_bytes,
        }
    };
    let outcome = backfill::run(&client, &sink, &options).await;
    if let Sink::Store { store, .. } = &sink {
        store.clone().close().await;
    }
    let report = outcome?;
    print_report(&report, args.dry_run, args.url.is_some(), args.json)?;
    Ok(ExitCode::SUCCESS)
}

fn print_report(
    report: &Report,
    dry_run: bool,
    sent_to_server: bool,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        let text = serde_json::to_string_pretty(report).context("Failed to print the report")?;
        println!("{text}");
        return Ok(());
    }
    for (repo, kinds) in &report.repos {
        let total = report.total(repo);
        let detail: Vec<String> = kinds
            .iter()
            .map(|(kind, r)| format!("{} {}", kind.name(), r.objects))
            .collect();
        if dry_run {
            println!(
                "{repo}: would send {} events ({}) [dry run]",
                total.events,
                detail.join(", ")
            );
        } else {
            println!(
                "{repo}: {} events ({}): stored {}, duplicates {}, rejected {}",
                total.events,
                detail.join(", "),
                total.stored,
                total.duplicates,
                total.rejected
            );
        }
    }
    println!("{} requests to the GitHub API", report.requests);
    if !dry_run && !sent_to_server {
        println!(
            "The router of a running server picks them up (within router.interval), or run: dora-events serve --once"
        );
    }
    Ok(())
}
