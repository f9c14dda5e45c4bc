//! The `dora-events` command line.

use std::path::PathBuf;

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand};
use dora_events::app::{recompute, run_once, Application, Role};
use dora_events::config::{Overrides, Settings};
use dora_store::Store;
use tracing_subscriber::EnvFilter;

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
    Serve {
        /// Address to listen on (default 0.0.0.0:8080). Also DORA_LISTEN.
        #[arg(long)]
        listen: Option<String>,
        /// Which stages this process runs. Also DORA_ROLE.
        #[arg(long, value_enum, default_value = "all", env = "DORA_ROLE")]
        role: Role,
        /// Run the router and/or calculators of the role until caught up, then exit (for a CronJob).
        #[arg(long)]
        once: bool,
    },
    /// Rebuild CDEvents and deployments from the raw CloudEvents (on a stopped store).
    ///
    /// Example: dora-events recompute --database-url sqlite://dora.db
    Recompute,
    /// Load-test ingest: post unique CloudEvents from concurrent clients, report events/s and latency.
    ///
    /// Without --url it starts a server of its own on --database-url and also reports its CPU and
    /// peak memory. Example: dora-events bench --database-url sqlite:///tmp/bench.db --mode batch
    Bench {
        /// A running server to load instead of starting one.
        #[arg(long)]
        url: Option<String>,
        #[arg(long, value_enum, default_value = "structured")]
        mode: dora_events::bench::BenchMode,
        /// Concurrent keep-alive clients.
        #[arg(long, default_value_t = 32)]
        clients: usize,
        /// Events to send in all.
        #[arg(long, default_value_t = 100_000)]
        events: u64,
        /// Events per request in batch mode.
        #[arg(long, default_value_t = 100)]
        batch_size: u64,
        /// Ingest token of the server at --url (sent as Authorization: Bearer).
        #[arg(long, env = "DORA_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Read token for its pipeline state, when --token is not also a read token.
        #[arg(long, env = "DORA_READ_TOKEN", hide_env_values = true)]
        read_token: Option<String>,
    },
    /// Post CloudEvent or CDEvent files (JSON, arrays or JSON Lines; - for stdin) to a server.
    ///
    /// Reports what was accepted, duplicate or rejected and why; exit code 1 if anything was rejected.
    /// Example: dora-events send --url http://localhost:8080 examples/tutorial/*.json
    Send {
        /// The server to post to.
        #[arg(long, default_value = "http://localhost:8080", env = "DORA_URL")]
        url: String,
        /// Files to send (- for standard input).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Ingest token (sent as Authorization: Bearer).
        #[arg(long, env = "DORA_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// Check CloudEvent and CDEvent files against the specs (exit code 1 if any is invalid).
    ///
    /// A file holds one event, a JSON array of events, or JSON Lines; CDEvents are checked against
    /// the official schema of their release. Example: dora-events validate events/*.json
    Validate {
        /// Files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Run the configured routes and rules offline on CloudEvent files; print the CDEvents as JSON.
    ///
    /// Reports, per event, the transformers its routes send it to, the CDEvents that pass
    /// validation and the failures with their reasons; exit code 1 if anything failed.
    /// Example: dora-events transform --config dora-events.toml --input event.json
    Transform {
        /// CloudEvents: one JSON event, an array of events, or JSON Lines (- for stdin).
        #[arg(long)]
        input: PathBuf,
    },
    /// Check configuration without starting anything (exit code 1 if it is invalid).
    ///
    /// Example: dora-events config check dora-events.toml
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Ask a running server whether it is ready (exit code 0) or not (1): a container healthcheck.
    ///
    /// Example: dora-events probe --url http://127.0.0.1:8080/readyz
    Probe {
        /// The URL to GET; any 2xx answer means healthy.
        #[arg(long, default_value = "http://127.0.0.1:8080/readyz")]
        url: String,
    },
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
    Demo {
        /// Seed of the generated history: the same seed gives the same events.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Days of history, ending at the start of today (UTC).
        #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u32).range(7..=3650))]
        days: u32,
        /// Exit after printing the summary instead of serving (for scripts and CI).
        #[arg(long)]
        exit: bool,
    },
    /// Bulk-load CloudEvents from a file (JSON Lines or a JSON array; - for stdin) into the database.
    ///
    /// Events are checked as POST /events checks them and stored thousands per transaction, with
    /// a progress bar and a summary: read, imported, duplicates, rejected (with line and reason;
    /// exit code 1 if any). Running it again resumes after the last committed batch. The router
    /// of a running server picks the events up, or run `dora-events serve --once`.
    /// Example: dora-events import --database-url sqlite://dora.db history.jsonl
    Import {
        /// The file to import (- for standard input).
        file: PathBuf,
        /// Events per transaction.
        #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        batch_size: u64,
        /// Read the file from its start, ignoring the checkpoint of an earlier run.
        #[arg(long)]
        from_start: bool,
        /// Instead of importing, write COUNT synthetic CloudEvents to FILE (for benchmarks).
        #[arg(long, value_name = "COUNT")]
        generate: Option<u64>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the five DORA keys as a table (or JSON), from a server or straight from a database.
    ///
    /// With --url it asks a server (GET /api/v1/dora); otherwise it opens the database
    /// (--database-url, DORA_DATABASE_URL or the configuration) and computes the keys the way the
    /// server does. Example: dora-events metrics --url http://localhost:8080 --service checkout --from 2024-01-01
    Metrics {
        /// A running server to ask instead of opening the database. Also DORA_URL.
        #[arg(long, env = "DORA_URL")]
        url: Option<String>,
        /// Read token of the server at --url (sent as Authorization: Bearer).
        #[arg(long, env = "DORA_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Only these services (repeatable: any of).
        #[arg(long = "service", value_name = "SERVICE")]
        services: Vec<String>,
        /// Only these environments (repeatable: any of).
        #[arg(long = "environment", value_name = "ENVIRONMENT")]
        environments: Vec<String>,
        /// Only these teams (repeatable: any of).
        #[arg(long = "team", value_name = "TEAM")]
        teams: Vec<String>,
        /// Window start: RFC 3339 or a date (default: 90 days before --to).
        #[arg(long)]
        from: Option<String>,
        /// Window end: RFC 3339, or a date (through that day); default now.
        #[arg(long)]
        to: Option<String>,
        /// Print the API's JSON instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script.
    ///
    /// Example: dora-events completions bash > /etc/bash_completion.d/dora-events
    /// Example: dora-events completions zsh > "${fpath[1]}/_dora-events"
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Load the configuration (defaults, FILE or --config, DORA_* variables) and check it.
    ///
    /// Example: dora-events config check dora-events.example.toml
    Check {
        /// The TOML file (else --config / DORA_CONFIG, else the defaults).
        file: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The demo talks to a person: its own server's logs would bury the summary.
    let default_filter = match cli.command {
        Command::Demo { .. } => "error",
        // Big batches are slow statements by design.
        Command::Import { .. } => "warn,sqlx=error",
        _ => "info,sqlx=warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter)),
        )
        .init();
    let mut overrides = Overrides {
        database_url: cli.database_url.clone(),
        ..Overrides::default()
    };
    match cli.command {
        Command::Serve { listen, role, once } => {
            overrides.listen = listen;
            let settings = Settings::load(cli.config.as_deref(), &overrides)?;
            if once {
                let report = run_once(&settings, role).await?;
                println!(
                    "{}",
                    serde_json::to_string(&report).context("Failed to print the report")?
                );
                return Ok(());
            }
            let app = Application::build_with_role(settings, role).await?;
            let handle = app.shutdown_handle();
            tokio::spawn(async move {
                wait_for_signal().await;
                tracing::info!("shutting down");
                handle.shutdown();
            });
            app.run_until_stopped().await
        }
        Command::Recompute => {
            let settings = Settings::load(cli.config.as_deref(), &overrides)?;
            let report = recompute(&settings).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&report).context("Failed to print the report")?
            );
            Ok(())
        }
        Command::Bench {
            url,
            mode,
            clients,
            events,
            batch_size,
            token,
            read_token,
        } => {
            let settings = Settings::load(cli.config.as_deref(), &overrides)?;
            let report = dora_events::bench::run(dora_events::bench::BenchOptions {
                url,
                database_url: settings.database_url,
                mode,
                clients,
                events,
                batch_size,
                token,
                read_token,
            })
            .await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&report).context("Failed to print the report")?
            );
            Ok(())
        }
        Command::Send { url, files, token } => {
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
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Validate { files } => {
            let mut invalid = 0;
            for file in &files {
                for verdict in dora_events::validate::validate_file(file) {
                    match verdict.problem {
                        None => println!("{}: ok ({})", verdict.location, verdict.kind),
                        Some((field, message)) => {
                            invalid += 1;
                            println!(
                                "{}: invalid {} at {field}: {message}",
                                verdict.location, verdict.kind
                            );
                        }
                    }
                }
            }
            if invalid > 0 {
                eprintln!("{invalid} invalid");
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Transform { input } => {
            let settings = Settings::load(cli.config.as_deref(), &overrides)?;
            let report = dora_events::transform::transform_file(&input, &settings)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&report).context("Failed to print the report")?
            );
            if !report.is_clean() {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Config {
            action: ConfigAction::Check { file },
        } => {
            let file = file.or(cli.config);
            match Settings::load(file.as_deref(), &overrides) {
                Ok(settings) => {
                    println!(
                        "configuration is valid: {} routes, listen {}, database {}",
                        settings.routes.len(),
                        settings.listen,
                        dora_events::app::redact(&settings.database_url)
                    );
                    for warning in settings.auth.warnings() {
                        println!("no authentication: {warning}");
                    }
                    if let Some(oidc) = &settings.auth.oidc {
                        println!(
                            "ingest accepts OpenID Connect tokens of {} for {} from {}",
                            oidc.issuer,
                            oidc.audiences.join(", "),
                            oidc.subjects.join(", ")
                        );
                    }
                    let unsigned = settings.webhooks.unsigned();
                    if !unsigned.is_empty() {
                        println!(
                            "webhooks accepted unsigned (no secret or token): {}",
                            unsigned.join(", ")
                        );
                    }
                    Ok(())
                }
                Err(error) => {
                    eprintln!("configuration is invalid: {error:#}");
                    std::process::exit(1);
                }
            }
        }
        Command::Probe { url } => {
            let client = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(3))
                .build()
                .context("Failed to build the HTTP client")?;
            match client.get(&url).send().await {
                Ok(response) if response.status().is_success() => Ok(()),
                Ok(response) => {
                    eprintln!("{url}: {}", response.status());
                    std::process::exit(1);
                }
                Err(error) => {
                    eprintln!("{url}: {error}");
                    std::process::exit(1);
                }
            }
        }
        Command::Migrate => {
            let settings = Settings::load(cli.config.as_deref(), &overrides)?;
            let store = Store::connect(&settings.database_url).await?;
            store.close().await;
            println!(
                "database {} is up to date",
                dora_events::app::redact(&settings.database_url)
            );
            Ok(())
        }
        Command::Import {
            file,
            batch_size,
            from_start,
            generate,
            json,
        } => {
            if let Some(count) = generate {
                dora_events::import::write_sample(&file, count)?;
                println!("wrote {count} CloudEvents to {}", file.display());
                return Ok(());
            }
            let settings = Settings::load(cli.config.as_deref(), &overrides)?;
            let store = Store::connect(&settings.database_url)
                .await
                .with_context(|| {
                    format!(
                        "Failed to open the database {}",
                        dora_events::app::redact(&settings.database_url)
                    )
                })?;
            let options = dora_events::import::ImportOptions {
                path: file.clone(),
                batch_size: usize::try_from(batch_size).unwrap_or(5000),
                from_start,
                max_event_bytes: settings.ingest.max_event_bytes,
                progress: !json,
            };
            let report = dora_events::import::import(&store, &options).await;
            store.close().await;
            let report = report?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).context("Failed to print the report")?
                );
            } else {
                print_import(&file, &report);
            }
            if report.rejected > 0 {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Demo {
            seed,
            listen,
            days,
            exit,
        } => {
            let options = dora_events::demo::DemoOptions { seed, days, exit };
            demo(cli.config, cli.database_url, listen, options).await
        }
        Command::Metrics {
            url,
            token,
            services,
            environments,
            teams,
            from,
            to,
            json,
        } => {
            let query = dora_events::metrics::KeysQuery {
                services,
                environments,
                teams,
                from,
                to,
            };
            let body = match url {
                Some(url) => {
                    dora_events::metrics::from_server(&url, token.as_deref(), &query).await?
                }
                None => {
                    let settings = Settings::load(cli.config.as_deref(), &overrides)?;
                    let store = open_existing(&settings.database_url).await?;
                    let body =
                        dora_events::metrics::from_store(store.clone(), &settings.dora, &query)
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
            Ok(())
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "dora-events",
                &mut std::io::stdout(),
            );
            Ok(())
        }
    }
}

fn print_import(file: &std::path::Path, report: &dora_events::import::ImportReport) {
    if let Some(position) = &report.resumed_at {
        println!(
            "resumed at {position}: an earlier run imported what comes before (--from-start to read it all again)"
        );
    }
    println!(
        "{}: read {}, imported {}, duplicates {}, rejected {} in {:.2} s ({:.0} events/s)",
        file.display(),
        report.read,
        report.imported,
        report.duplicates,
        report.rejected,
        report.seconds,
        report.events_per_second()
    );
    for rejection in &report.rejections {
        println!("rejected {}: {}", rejection.location, rejection.reason);
    }
    let unlisted = report.rejected - report.rejections.len() as u64;
    if unlisted > 0 {
        println!("... and {unlisted} more rejected");
    }
    if report.imported > 0 {
        println!(
            "The router of a running server picks them up (within router.interval), or run: dora-events serve --once"
        );
    }
}

/// Opens a database that must exist already: reading keys from a SQLite file that is not there
/// is a mistake (a wrong path), not a reason to create an empty one.
async fn open_existing(database_url: &str) -> anyhow::Result<dora_store::Store> {
    if !database_url.starts_with("postgres") {
        let path = database_url
            .strip_prefix("sqlite://")
            .or_else(|| database_url.strip_prefix("sqlite:"))
            .unwrap_or(database_url);
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

/// `dora-events demo`: the settings, a temporary database unless one was given, and the run.
async fn demo(
    cli_config: Option<PathBuf>,
    database_url: Option<String>,
    listen: String,
    options: dora_events::demo::DemoOptions,
) -> anyhow::Result<()> {
    let overrides = Overrides {
        listen: Some(listen),
        database_url: database_url.clone(),
    };
    let mut settings =
        dora_events::demo::demo_settings(Settings::load(cli_config.as_deref(), &overrides)?);
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
    let outcome = dora_events::demo::run(settings, options, wait_for_signal()).await;
    if let Some(dir) = temporary {
        let _ = std::fs::remove_dir_all(dir);
    }
    outcome
}

async fn wait_for_signal() {
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
