//! The `dora-events` command line: the arguments, and one module per command (`commands/`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use commands::Global;
use tracing_subscriber::EnvFilter;

mod commands;

/// DORA metrics from CloudEvents and CDEvents.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// TOML configuration file.
    #[arg(long, global = true, env = "DORA_CONFIG")]
    config: Option<PathBuf>,
    /// Database: sqlite://PATH (default sqlite://dora-events.db). Also DORA_DATABASE_URL.
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the stages of the pipeline: all in one process (default), or one role per process.
    ///
    /// Example: dora-events serve --listen 127.0.0.1:8080 --database-url sqlite://dora.db
    /// Example: dora-events serve --role router --database-url postgres://postgres@db/dora
    Serve(commands::serve::Args),
    /// Rebuild CDEvents and deployments from the raw CloudEvents (on a stopped store).
    ///
    /// Example: dora-events recompute --database-url sqlite://dora.db
    Recompute,
    /// Load-test ingest: post unique CloudEvents from concurrent clients, report events/s and latency.
    ///
    /// Without --url it starts a server of its own on --database-url and also reports its CPU and
    /// peak memory. Example: dora-events bench --database-url sqlite:///tmp/bench.db --mode batch
    Bench(commands::bench::Args),
    /// Post CloudEvent or CDEvent files (JSON, arrays or JSON Lines; - for stdin) to a server.
    ///
    /// Reports what was accepted, duplicate or rejected and why; exit code 1 if anything was rejected.
    /// Example: dora-events send --url http://localhost:8080 examples/tutorial/*.json
    Send(commands::send::Args),
    /// Check CloudEvent and CDEvent files against the specs (exit code 1 if any is invalid).
    ///
    /// A file holds one event, a JSON array of events, or JSON Lines; CDEvents are checked against
    /// the official schema of their release. Example: dora-events validate events/*.json
    Validate(commands::validate::Args),
    /// Run the configured routes and rules offline on CloudEvent files; print the CDEvents as JSON.
    ///
    /// Reports, per event, the transformers its routes send it to, the CDEvents that pass
    /// validation and the failures with their reasons; exit code 1 if anything failed.
    /// Example: dora-events transform --config dora-events.toml --input event.json
    Transform(commands::transform::Args),
    /// Check configuration without starting anything (exit code 1 if it is invalid).
    ///
    /// Example: dora-events config check dora-events.toml
    Config(commands::config::Args),
    /// Ask a running server whether it is ready (exit code 0) or not (1): a container healthcheck.
    ///
    /// Example: dora-events probe --url http://127.0.0.1:8080/readyz
    Probe(commands::probe::Args),
    /// Create or upgrade the database schema, then exit.
    ///
    /// Example: dora-events migrate --database-url sqlite://dora.db
    Migrate,
    /// Serve the product on a fresh database filled with 90 days of generated, realistic history.
    ///
    /// Four teams' services (one elite, one struggling) send GitHub, Argo CD, Tekton, Alertmanager,
    /// PagerDuty and CDEvents traffic through the real HTTP endpoints; then it prints the five
    /// keys and where to look, and serves until Ctrl-C. The database is a temporary file unless
    /// --database-url is given. Example: dora-events demo --seed 7 --listen 127.0.0.1:8080
    Demo(commands::demo::Args),
    /// Bulk-load CloudEvents from a file (JSON Lines or a JSON array; - for stdin) into the database.
    ///
    /// Events are checked as POST /events checks them and stored thousands per transaction, with
    /// a progress bar and a summary: read, imported, duplicates, rejected (with line and reason;
    /// exit code 1 if any). Running it again resumes after the last committed batch. The router
    /// of a running server picks the events up, or run `dora-events serve --once`.
    /// Example: dora-events import --database-url sqlite://dora.db history.jsonl
    Import(commands::import::Args),
    /// Read history from a tool's REST API and send it through its source, as its webhooks would.
    ///
    /// Objects make the event ids, so running it twice, or over history that webhooks also
    /// delivered, counts nothing twice; an interrupted run resumes after its last stored page.
    /// Tools: github, gitlab, bitbucket. Example: dora-events backfill github --repo acme/shop --since 2025-01-01
    /// (with GITHUB_TOKEN set); dora-events backfill gitlab --project acme/shop (with GITLAB_TOKEN set)
    Backfill(commands::backfill::Args),
    /// Print the five DORA keys as a table (or JSON), from a server or straight from a database.
    ///
    /// With --url it asks a server (GET /api/v1/dora); otherwise it opens the database
    /// (--database-url, DORA_DATABASE_URL or the configuration) and computes the keys the way the
    /// server does. Example: dora-events metrics --url http://localhost:8080 --service checkout --from 2024-01-01
    Metrics(commands::metrics::Args),
    /// Print a shell completion script.
    ///
    /// Example: dora-events completions bash > /etc/bash_completion.d/dora-events
    /// Example: dora-events completions zsh > "${fpath[1]}/_dora-events"
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo talks to a person: its own server's logs would bury the summary.
    let default_filter = match cli.command {
        Command::Demo(_) => "error",
        // Big batches are slow statements by design.
        Command::Import(_) | Command::Backfill(_) => "warn,sqlx=error",
        _ => "info,sqlx=warn",
    };
    // Logs go to standard error: standard output is the commands' own (`metrics --json | jq`).
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter)),
        )
        .init();
    let global = Global {
        config: cli.config,
        database_url: cli.database_url,
    };
    let outcome = match cli.command {
        Command::Serve(args) => commands::serve::run(&global, args).await,
        Command::Recompute => commands::recompute::run(&global).await,
        Command::Bench(args) => commands::bench::run(&global, args).await,
        Command::Send(args) => commands::send::run(&global, args).await,
        Command::Validate(args) => commands::validate::run(&global, args).await,
        Command::Transform(args) => commands::transform::run(&global, args).await,
        Command::Config(args) => commands::config::run(&global, args).await,
        Command::Probe(args) => commands::probe::run(&global, args).await,
        Command::Migrate => commands::migrate::run(&global).await,
        Command::Demo(args) => commands::demo::run(&global, args).await,
        Command::Import(args) => commands::import::run(&global, args).await,
        Command::Backfill(args) => commands::backfill::run(&global, args).await,
        Command::Metrics(args) => commands::metrics::run(&global, args).await,
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "dora-events",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
    };
    outcome.unwrap_or_else(|error| {
        eprintln!("Error: {error:?}");
        ExitCode::FAILURE
    })
}
