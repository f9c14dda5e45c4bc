//! `dora-events import`: bulk-loads CloudEvents from a file into the database.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::Global;

/// Its arguments.
#[derive(clap::Args)]
pub struct Args {
    /// The file to import (- for standard input).
    pub file: PathBuf,
    /// Events per transaction.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub batch_size: u64,
    /// Read the file from its start, ignoring the checkpoint of an earlier run.
    #[arg(long)]
    pub from_start: bool,
    /// Instead of importing, write COUNT synthetic CloudEvents to FILE (for benchmarks).
    #[arg(long, value_name = "COUNT")]
    pub generate: Option<u64>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let Args {
        file,
        batch_size,
        from_start,
        generate,
        json,
    } = args;
    if let Some(count) = generate {
        dora_events::import::write_sample(&file, count)?;
        println!("wrote {count} CloudEvents to {}", file.display());
        return Ok(ExitCode::SUCCESS);
    }
    let settings = global.settings()?;
    let store = dora_events::app::open_store(&settings).await?;
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
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
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
