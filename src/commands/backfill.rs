//! `dora-events backfill github|gitlab|bitbucket`: history from a tool's REST API into the database (or a
//! server); the work is in `dora_events::backfill`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use dora_events::backfill::client::{ApiClient, GithubClient, Limits, Notice};
use dora_events::backfill::sink::Sink;
use dora_events::backfill::window::Window;
use dora_events::backfill::{bitbucket, github, gitlab, ListKind, Report};
use dora_events::config::Settings;
use serde::Serialize;

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
    /// Deployments, merge requests, incident issues and pipelines of GitLab projects, sent
    /// through the `gitlab` source as its webhooks would have sent them.
    ///
    /// Merged merge requests come with the push that landed them. The token (GITLAB_TOKEN or
    /// --token-file, sent as PRIVATE-TOKEN) needs the read_api scope.
    ///
    /// Example: dora-events backfill gitlab --project acme/shop --since 2025-01-01 (with GITLAB_TOKEN set)
    Gitlab(GitlabArgs),
    /// Pipelines deployments of Bitbucket Cloud repositories (Bitbucket has no deployment
    /// webhook), sent through the `bitbucket` source.
    ///
    /// Pushes and pull requests come from the webhook; run this on a schedule (with --since a
    /// few days back) to follow deployments. The token (BITBUCKET_TOKEN or --token-file) is an
    /// access token (sent as Bearer) or USER:API_TOKEN (sent as Basic), able to read the
    /// repository and its pipelines.
    ///
    /// Example: dora-events backfill bitbucket --repo acme/shop --since 2025-01-01 (with BITBUCKET_TOKEN set)
    Bitbucket(BitbucketArgs),
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
    /// The REST API: https://api.github.com, or GitHub Enterprise's https://HOST/api/v3.
    #[arg(long, default_value = "https://api.github.com")]
    pub api_url: String,
    /// What to read (repeatable; default: all).
    #[arg(long = "kind", value_enum)]
    pub kinds: Vec<github::kinds::Kind>,
    #[command(flatten)]
    pub common: Common,
}

/// `backfill gitlab`.
#[derive(clap::Args)]
pub struct GitlabArgs {
    /// A project, GROUP/NAME or GROUP/SUBGROUP/NAME (repeatable).
    #[arg(long = "project", value_name = "GROUP/NAME")]
    pub projects: Vec<String>,
    /// Every (not archived) project of a group and its subgroups (repeatable).
    #[arg(long = "group", value_name = "GROUP")]
    pub groups: Vec<String>,
    /// The GitLab instance: https://gitlab.com, or a self-managed one's URL (the API is under
    /// /api/v4).
    #[arg(long, default_value = "https://gitlab.com")]
    pub api_url: String,
    /// What to read (repeatable; default: all).
    #[arg(long = "kind", value_enum)]
    pub kinds: Vec<gitlab::kinds::Kind>,
    #[command(flatten)]
    pub common: Common,
}

/// `backfill bitbucket`.
#[derive(clap::Args)]
pub struct BitbucketArgs {
    /// A repository, WORKSPACE/REPOSITORY (repeatable).
    #[arg(long = "repo", value_name = "WORKSPACE/REPOSITORY", required = true)]
    pub repos: Vec<String>,
    /// The REST API (the paths start with /2.0).
    #[arg(long, default_value = "https://api.bitbucket.org")]
    pub api_url: String,
    #[command(flatten)]
    pub common: Common,
}

/// The options of every tool.
#[derive(clap::Args)]
pub struct Common {
    /// Only history from this day (YYYY-MM-DD, UTC), time (RFC 3339) or number of days ago
    /// (`3d`: from the start of the UTC day three days back; for scheduled runs) on.
    #[arg(long, value_parser = parse_time)]
    pub since: Option<DateTime<Utc>>,
    /// Only history up to this day (YYYY-MM-DD: its end, UTC) or time (RFC 3339).
    #[arg(long, value_parser = parse_until)]
    pub until: Option<DateTime<Utc>>,
    /// A file holding the token (else GITHUB_TOKEN / GITLAB_TOKEN / BITBUCKET_TOKEN; without
    /// either, anonymous: GitHub allows 60 requests/h, GitLab and Bitbucket public repositories
    /// only).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
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

impl Common {
    fn window(&self) -> Window {
        Window {
            since: self.since,
            until: self.until,
        }
    }

    fn limits(&self) -> Limits {
        Limits {
            max_wait: Duration::from_secs(self.max_wait),
            ..Limits::default()
        }
    }

    /// The API token: `--token-file`, else the variable `variable`.
    fn api_token(&self, variable: &str) -> anyhow::Result<Option<String>> {
        if let Some(path) = &self.token_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("Failed to read --token-file {}", path.display()))?;
            return Ok(Some(text.trim().to_owned()));
        }
        Ok(std::env::var(variable)
            .ok()
            .filter(|t| !t.trim().is_empty()))
    }

    fn progress(&self) -> bool {
        !self.json && std::io::stderr().is_terminal()
    }
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    if let Some(days) = text.strip_suffix('d').and_then(|n| n.parse::<u32>().ok()) {
        return days_ago(Utc::now(), days).ok_or_else(|| format!("{text:?} is too far back"));
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{text:?} is neither YYYY-MM-DD, RFC 3339 nor <N>d (days ago): {e}"))
}

/// The start of the UTC day `days` before `now`'s: `3d` read on any hour of a day is the same
/// time, so scheduled runs of one day share their checkpoints and page `ETag`s (the window is
/// part of their name).
fn days_ago(now: DateTime<Utc>, days: u32) -> Option<DateTime<Utc>> {
    let day = now
        .date_naive()
        .checked_sub_days(chrono::Days::new(u64::from(days)))?;
    Some(day.and_time(chrono::NaiveTime::MIN).and_utc())
}

fn parse_until(text: &str) -> Result<DateTime<Utc>, String> {
    if text.ends_with('d') {
        return Err(format!("{text:?}: --until takes YYYY-MM-DD or RFC 3339"));
    }
    let time = parse_time(text)?;
    if NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok() {
        return Ok(time + chrono::Duration::days(1) - chrono::Duration::seconds(1));
    }
    Ok(time)
}

pub async fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    match args.tool {
        Tool::Github(args) => run_github(global, args).await,
        Tool::Gitlab(args) => run_gitlab(global, args).await,
        Tool::Bitbucket(args) => run_bitbucket(global, args).await,
    }
}

/// Every tool's notices go to standard error.
fn notice() -> Notice {
    Arc::new(|line: String| eprintln!("{line}"))
}

/// Deduplicated (case-insensitively), and not empty.
fn distinct(mut names: Vec<String>, what: &str) -> anyhow::Result<Vec<String>> {
    let mut seen = std::collections::BTreeSet::new();
    names.retain(|name| seen.insert(name.to_ascii_lowercase()));
    anyhow::ensure!(!names.is_empty(), "give {what}");
    Ok(names)
}

async fn run_github(global: &Global, args: GithubArgs) -> anyhow::Result<ExitCode> {
    let settings = global.settings()?;
    let common = &args.common;
    let token = common.api_token("GITHUB_TOKEN")?;
    let client = GithubClient::new(&args.api_url, token.as_deref(), common.limits(), notice())?;
    let mut repos = args.repos.clone();
    for org in &args.orgs {
        repos.extend(github::org_repos(&client, org).await?);
    }
    let repos = distinct(repos, "--repo OWNER/NAME or --org ORG")?;
    let services = settings.service_map()?;
    let options = github::Options {
        file_lists_for: repos
            .iter()
            .filter(|r| services.splits(r))
            .cloned()
            .collect(),
        repos,
        kinds: or_all(&args.kinds, &github::kinds::Kind::ALL),
        window: common.window(),
        incident_label: settings.sources.github.incident_label.clone(),
        progress: common.progress(),
    };
    let sink = sink(&settings, common).await?;
    let outcome = github::run(&client, &sink, &options).await;
    finish(sink, outcome, common, "GitHub").await
}

async fn run_gitlab(global: &Global, args: GitlabArgs) -> anyhow::Result<ExitCode> {
    let settings = global.settings()?;
    let common = &args.common;
    let token = common.api_token("GITLAB_TOKEN")?;
    let client = gitlab::client(&args.api_url, token.as_deref(), common.limits(), notice())?;
    let mut projects = args.projects.clone();
    for group in &args.groups {
        projects.extend(gitlab::group_projects(&client, group).await?);
    }
    let projects = distinct(projects, "--project GROUP/NAME or --group GROUP")?;
    let services = settings.service_map()?;
    let options = gitlab::Options {
        file_lists_for: projects
            .iter()
            .filter(|p| services.splits(p))
            .cloned()
            .collect(),
        projects,
        kinds: or_all(&args.kinds, &gitlab::kinds::Kind::ALL),
        window: common.window(),
        incident_label: settings.sources.gitlab.incident_label.clone(),
        progress: common.progress(),
    };
    let sink = sink(&settings, common).await?;
    let outcome = gitlab::run(&client, &sink, &options).await;
    finish(sink, outcome, common, "GitLab").await
}

async fn run_bitbucket(global: &Global, args: BitbucketArgs) -> anyhow::Result<ExitCode> {
    let settings = global.settings()?;
    let common = &args.common;
    let token = common.api_token("BITBUCKET_TOKEN")?;
    let client = ApiClient::with_dialect(
        &bitbucket::BITBUCKET,
        &args.api_url,
        token.as_deref(),
        common.limits(),
        notice(),
    )?;
    let options = bitbucket::Options {
        repos: distinct(args.repos.clone(), "--repo WORKSPACE/REPOSITORY")?,
        window: common.window(),
        progress: common.progress(),
    };
    let sink = sink(&settings, common).await?;
    let outcome = bitbucket::run(&client, &sink, &options).await;
    finish(sink, outcome, common, "Bitbucket").await
}

/// `kinds`, or every kind when none is given.
fn or_all<K: Copy>(kinds: &[K], all: &[K]) -> Vec<K> {
    if kinds.is_empty() { all } else { kinds }.to_vec()
}

/// Where the events go: nowhere (`--dry-run`), a server (`--url`) or the database.
async fn sink(settings: &Settings, common: &Common) -> anyhow::Result<Sink> {
    if common.dry_run {
        return Ok(Sink::DryRun);
    }
    if let Some(url) = &common.url {
        return Ok(Sink::Server {
            client: dora_events::client::client(
                reqwest::Client::builder().timeout(Duration::from_secs(60)),
                common.token.as_deref(),
            )?,
            events_url: format!("{}/events", url.trim_end_matches('/')),
        });
    }
    let store = dora_events::app::open_store(settings).await?;
    Ok(Sink::Store {
        store,
        max_event_bytes: settings.ingest.max_event_bytes,
    })
}

/// Closes the database and prints the report.
async fn finish<K: Serialize + ListKind>(
    sink: Sink,
    outcome: anyhow::Result<Report<K>>,
    common: &Common,
    tool: &str,
) -> anyhow::Result<ExitCode> {
    if let Sink::Store { store, .. } = &sink {
        store.clone().close().await;
    }
    let report = outcome?;
    print_report(&report, common, tool)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the report: as JSON, or one line per repository (project) and the requests made.
fn print_report<K: Serialize + ListKind>(
    report: &Report<K>,
    common: &Common,
    tool: &str,
) -> anyhow::Result<()> {
    let (dry_run, sent_to_server) = (common.dry_run, common.url.is_some());
    if common.json {
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
    let unchanged: u64 = report
        .repos
        .keys()
        .map(|repo| report.total(repo).unchanged_pages)
        .sum();
    match unchanged {
        0 => println!("{} requests to the {tool} API", report.requests),
        _ => println!(
            "{} requests to the {tool} API ({unchanged} pages unchanged since the last run: 304 Not Modified, skipped)",
            report.requests
        ),
    }
    if !dry_run && !sent_to_server {
        println!(
            "The router of a running server picks them up (within router.interval), or run: dora-events serve --once"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_reads_a_day_a_time_or_days_ago_from_the_start_of_that_day() {
        let day = parse_time("2025-03-01").unwrap_or_default();
        assert_eq!(day.to_rfc3339(), "2025-03-01T00:00:00+00:00");
        let time = parse_time("2025-03-01T12:30:00+02:00").unwrap_or_default();
        assert_eq!(time.to_rfc3339(), "2025-03-01T10:30:00+00:00");
        let now: DateTime<Utc> = "2025-03-05T23:59:00Z".parse().unwrap_or_default();
        let days_back = |days| {
            days_ago(now, days)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default()
        };
        assert_eq!(days_back(3), "2025-03-02T00:00:00+00:00");
        assert_eq!(days_back(0), "2025-03-05T00:00:00+00:00");
        assert_eq!(days_ago(now, u32::MAX), None);
        assert!(parse_time("4000000000d").is_err());
        assert!(parse_until("1d").is_err() && parse_until("2025-03-01").is_ok());
        let error = parse_time("3 days").err().unwrap_or_default();
        assert!(error.contains("<N>d"), "{error}");
        assert!(parse_time("3d").is_ok() && parse_time("-3d").is_err());
    }
}
