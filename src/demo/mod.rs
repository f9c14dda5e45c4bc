//! `dora-events demo`: the product on a fresh database, filled with a generated but realistic
//! delivery history, so a newcomer has something to look at within a minute.
//!
//! The history goes in the way real tools would send it: GitHub webhooks (pushes, pull requests,
//! workflow runs, deployments, incident issues), Argo CD notifications, Tekton's CloudEvents,
//! Alertmanager and PagerDuty webhooks, and bare CDEvents from a release script, all posted over
//! HTTP to the server's own endpoints, so the same adapters, router, transformers and calculators
//! as in production turn them into the five keys.
//!
//! Four teams' services, each with its own tools and habits ([`PROFILES`]):
//!
//! | service | team | code and CI | deploys | incidents | meant to be |
//! |---|---|---|---|---|---|
//! | `checkout` | storefront | GitHub, Actions | GitHub deployments, every merge | Alertmanager | elite |
//! | `catalog` | storefront | GitHub, Actions | Argo CD, three trains a week | Argo CD health | high |
//! | `payments-api` | payments | GitHub, Tekton builds | Tekton, weekly, hotfixes | PagerDuty | medium |
//! | `billing-legacy` | billing | GitHub, Actions | a release script (CDEvents), every other week, rollbacks | GitHub issues | struggling |
//!
//! plus a shared database that pages people and has no deployments (unattributed incidents), and
//! `ledger`, whose history comes from a fake GitHub REST API through `backfill github`
//! ([`backfill`]): history from an API on day one, as well as from webhooks.
//! Changes link to deployments the documented ways (METRICS.md): by commit SHA (a deployment's
//! revision is a merge commit), and by artifact (an `artifact.packaged` CDEvent listing the
//! changes in `customData.dora.changes`, whose id is the deployment's `artifactId`). Incidents link
//! by service and time (Alertmanager, PagerDuty, issues) or by naming the deployment (Argo CD).
//!
//! Everything random comes from [`SplitMix64`] seeded with `--seed`, and times from the end of the
//! history, so a seed and an end date give the same events, byte for byte.

pub mod backfill;
mod history;
mod random;
mod wire;

use std::time::{Duration as StdDuration, Instant};

use anyhow::{bail, Context};
use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use serde_json::Value;

use crate::app::Application;
use crate::config::Settings;

use history::*;
pub use history::{services, teams};
pub use random::SplitMix64;
use wire::pagerduty;

/// The whole history: `days` days of every demo service, ending at `end`, in sending order.
/// The same seed and end give the same deliveries.
pub fn generate(seed: u64, days: u32, end: DateTime<Utc>) -> Vec<Delivery> {
    let start = end - Duration::days(i64::from(days));
    let mut out = Vec::new();
    for (index, profile) in PROFILES.iter().enumerate() {
        let mut history = ServiceHistory::new(*profile, seed, index as u64, start, end);
        history.run();
        out.append(&mut history.out);
    }
    // A shared database pages people too; no deployment of it is known, so its incidents stay
    // unattributed.
    let mut rng = SplitMix64::new(seed ^ 0x5348_4152_4544);
    for _ in 0..2 {
        let detected = start + minutes(rng.between(0, i64::from(days) * DAY));
        let resolved = detected + minutes(rng.between(30, 5 * HOUR));
        pagerduty(
            &mut rng,
            &mut out,
            end,
            "shared-postgres",
            detected,
            Some(resolved),
            "Replication lag on shared-postgres",
        );
    }
    out.retain(|d| d.at < end);
    out.sort_by_key(|d| d.at);
    out
}

/// Where the history ends by default: the start of the current UTC day, so the demo's 90 days
/// are the dashboard's default window and one day gives one history per seed.
pub fn default_end() -> DateTime<Utc> {
    let today = Utc::now().date_naive();
    Utc.from_utc_datetime(&today.and_time(NaiveTime::MIN))
}

/// What loading the history did.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    pub requests: usize,
    pub accepted: u64,
    pub duplicates: u64,
}

/// Posts the deliveries to the server at `base`, oldest first, a few at a time (so the server
/// commits them in groups, as it would under real traffic). Any refusal is an error: the demo's
/// payloads are meant to be valid.
pub async fn load(base: &str, deliveries: &[Delivery]) -> anyhow::Result<LoadReport> {
    const IN_FLIGHT: usize = 8;
    let base = base.trim_end_matches('/').to_owned();
    let client = reqwest::Client::new();
    let deliveries = std::sync::Arc::new(deliveries.to_vec());
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..IN_FLIGHT {
        let (client, base, deliveries, next) = (
            client.clone(),
            base.clone(),
            deliveries.clone(),
            next.clone(),
        );
        workers.spawn(async move {
            let mut report = LoadReport::default();
            loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(delivery) = deliveries.get(index) else {
                    return anyhow::Ok(report);
                };
                let body = post(&client, &base, delivery).await?;
                report.requests += 1;
                report.accepted += body["accepted"].as_u64().unwrap_or(0);
                report.duplicates += body["duplicates"].as_u64().unwrap_or(0);
            }
        });
    }
    let mut total = LoadReport::default();
    while let Some(outcome) = workers.join_next().await {
        let report = outcome.context("a loading task failed")??;
        total.requests += report.requests;
        total.accepted += report.accepted;
        total.duplicates += report.duplicates;
    }
    Ok(total)
}

/// Posts one delivery, waiting out `503`s; returns the answer's JSON.
async fn post(client: &reqwest::Client, base: &str, delivery: &Delivery) -> anyhow::Result<Value> {
    let mut attempts = 0;
    loop {
        let mut request = client
            .post(format!("{base}{}", delivery.path))
            .body(delivery.body.clone());
        for (name, value) in &delivery.headers {
            request = request.header(*name, value);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("Failed to reach {base}"))?;
        let status = response.status();
        if status.as_u16() == 503 && attempts < 100 {
            attempts += 1;
            tokio::time::sleep(StdDuration::from_millis(100)).await;
            continue;
        }
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!(
                "POST {} refused a demo event ({status}): {}",
                delivery.path,
                body["detail"].as_str().unwrap_or("no detail")
            );
        }
        return Ok(body);
    }
}

/// Polls `GET /api/v1/pipeline` until the router and the calculators have caught up, or fails
/// after `deadline`. Returns the final pipeline state.
pub async fn wait_until_processed(base: &str, deadline: StdDuration) -> anyhow::Result<Value> {
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        let state: Value = client
            .get(format!("{}/api/v1/pipeline", base.trim_end_matches('/')))
            .send()
            .await?
            .json()
            .await?;
        if state["router_lag"] == 0 && state["deployments_lag"] == 0 {
            return Ok(state);
        }
        if started.elapsed() > deadline {
            bail!("the pipeline did not catch up within {deadline:?}: {state}");
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
}

/// The demo's settings on top of the user's: production is `production`, and the demo's services
/// belong to their teams (unless the configuration says otherwise).
pub fn demo_settings(mut settings: Settings) -> Settings {
    // Generated data, loaded through HTTP by this process: no tokens (the start-up log says so).
    settings.auth = dora_http::auth::AuthSettings::default();
    if settings.dora.production_environments.is_empty() {
        settings.dora.production_environments = vec!["production".into()];
    }
    for (service, team) in teams() {
        settings
            .dora
            .teams
            .entry(service.into())
            .or_insert_with(|| team.into());
    }
    settings
}

/// `dora-events demo` options.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub seed: u64,
    pub days: u32,
    /// Exit after printing the summary instead of serving until Ctrl-C.
    pub exit: bool,
}

/// Serves `settings` (already demo-adjusted, on a fresh database), loads the history, prints
/// where to look and the keys, then serves until `stop` resolves (or returns, with `exit`).
pub async fn run(
    settings: Settings,
    options: DemoOptions,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let database = crate::app::redact(&settings.database_url);
    let app = Application::build(settings.clone()).await?;
    let address = app.local_addr()?;
    let base = format!("http://{address}");
    let handle = app.shutdown_handle();
    let server = tokio::spawn(app.run_until_stopped());

    let end = default_end();
    let deliveries = generate(options.seed, options.days, end);
    eprintln!(
        "Loading {} days of history (seed {}): {} webhook and event deliveries to {base} ...",
        options.days,
        options.seed,
        deliveries.len()
    );
    let started = Instant::now();
    let outcome = async {
        let loaded = load(&base, &deliveries).await?;
        let backfilled = backfill::run(&base, options.days, end).await?;
        let state = wait_until_processed(&base, StdDuration::from_secs(120)).await?;
        let summary = summary(&base, &settings).await?;
        anyhow::Ok((loaded, backfilled, state, summary))
    }
    .await;
    let (loaded, backfilled, state, summary) = match outcome {
        Ok(done) => done,
        Err(error) => {
            handle.shutdown();
            let _ = server.await;
            return Err(error);
        }
    };
    let browse = if address.ip().is_unspecified() {
        format!("http://localhost:{}", address.port())
    } else {
        base.clone()
    };
    println!(
        "Loaded {} events ({} already stored) in {:.1} s: {} raw events, {} CDEvents, {} deployments, {} transformation failures.",
        loaded.accepted,
        loaded.duplicates,
        started.elapsed().as_secs_f64(),
        state["raw_events"],
        state["cdevents"],
        state["deployments"],
        state["failures"],
    );
    println!(
        "Backfilled {} from a fake GitHub REST API the demo started: {} objects read, {} events stored, as `dora-events backfill github --repo {} --url {base}` does against GitHub (docs/integrations/backfill.md).",
        backfill::REPO,
        backfilled.objects,
        backfilled.stored,
        backfill::REPO,
    );
    println!("Database: {database}\n");
    println!("{summary}");
    print_where_to_look(&browse);
    if options.exit {
        handle.shutdown();
        return server.await.context("the server task failed")?;
    }
    println!("\nServing until Ctrl-C.");
    tokio::spawn(async move {
        stop.await;
        handle.shutdown();
    });
    server.await.context("the server task failed")?
}

/// The pages and commands to try next, on the server at `browse`.
fn print_where_to_look(browse: &str) {
    println!("Where to look:");
    for (path, what) in [
        ("/", "the dashboard"),
        (
            "/api/v1/dora",
            "the five keys (add ?service=checkout, ?team=billing, from=, to=)",
        ),
        ("/deploy-frequency/week", "the book's deployment frequency"),
        (
            "/api/v1/deployments?service=billing-legacy",
            "the evidence behind the numbers",
        ),
    ] {
        println!("  {:<68} {what}", format!("{browse}{path}"));
    }
    println!("  dora-events metrics --url {browse} --team storefront");
}

/// The keys over everything, and one line per service with its levels.
async fn summary(base: &str, settings: &Settings) -> anyhow::Result<String> {
    let all =
        crate::metrics::from_server(base, None, &crate::metrics::KeysQuery::default()).await?;
    let mut text = crate::metrics::render(&all)?;
    text.push_str("\nPer service (level of frequency / lead time / failure rate / recovery):\n");
    for service in services().into_iter().chain([backfill::SERVICE]) {
        let query = crate::metrics::KeysQuery {
            services: vec![service.into()],
            ..Default::default()
        };
        let body = crate::metrics::from_server(base, None, &query).await?;
        let keys = &body["keys"];
        let level = |key: &str| keys[key]["level"].as_str().unwrap_or("-").to_owned();
        let team = settings
            .dora
            .teams
            .get(service)
            .map(String::as_str)
            .unwrap_or("-");
        text.push_str(&format!(
            "  {service:<16} {team:<12} {:<7} {:<7} {:<7} {}\n",
            level("deployment_frequency"),
            level("lead_time"),
            level("change_failure_rate"),
            level("recovery_time"),
        ));
    }
    Ok(text)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // First outputs for seed 1234567 of the reference C implementation.
        let mut rng = SplitMix64::new(1_234_567);
        assert_eq!(rng.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(rng.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn ranges_stay_inside_their_bounds() {
        let mut rng = SplitMix64::new(7);
        for _ in 0..1000 {
            let n = rng.between(3, 5);
            assert!((3..=5).contains(&n));
        }
        assert_eq!(rng.hex(40).len(), 40);
        assert_eq!(rng.uuid().len(), 36);
    }
}
