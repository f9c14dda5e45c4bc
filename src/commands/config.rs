//! `dora-events config check`: loads and checks the configuration without starting anything.

use std::path::PathBuf;
use std::process::ExitCode;

use dora_events::config::Settings;

use super::Global;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Load the configuration (defaults, FILE or --config, DORA_* variables) and check it.
    ///
    /// Example: dora-events config check dora-events.example.toml
    Check {
        /// The TOML file (else --config / DORA_CONFIG, else the defaults).
        file: Option<PathBuf>,
    },
}

pub async fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let Action::Check { file } = args.action;
    let file = file.or(global.config.clone());
    match Settings::load(file.as_deref(), &global.overrides()) {
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
            for (service, ours, winner) in settings.overridden_teams() {
                println!(
                    "service {service}: team {winner:?} from [dora] teams, not {ours:?} from [[services]]"
                );
            }
            let unsigned = settings.webhooks.unsigned();
            if !unsigned.is_empty() {
                println!(
                    "webhooks accepted unsigned (no secret or token): {}",
                    unsigned.join(", ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("configuration is invalid: {error:#}");
            Ok(ExitCode::FAILURE)
        }
    }
}
