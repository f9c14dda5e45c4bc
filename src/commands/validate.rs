//! `dora-events validate`: checks CloudEvent and CDEvent files against the specs.

use std::path::PathBuf;
use std::process::ExitCode;

use super::Global;

/// Its arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Files to check.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

pub async fn run(_global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let Args { files } = args;
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
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
