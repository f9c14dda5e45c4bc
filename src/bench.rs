//! `dora-events bench`: a load generator for the ingest path, for BENCHMARKS.md.
//!
//! It starts a server of its own (the binary itself, on a free port and the given database) or
//! targets `--url`, posts unique CloudEvents from concurrent keep-alive clients in structured or
//! batch mode, and reports events stored per second, request latency (p50, p99), and, for a
//! server it started, the server's CPU time and peak RSS (from `/proc`). It checks at the end
//! that the server stored every event it acknowledged.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::Serialize;

/// How events are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BenchMode {
    /// One event per request (`application/cloudevents+json`).
    Structured,
    /// `--batch-size` events per request (`application/cloudevents-batch+json`).
    Batch,
    /// One bare CDEvent per request to `POST /cdevents` (a schema-valid `service.deployed`).
    Cdevents,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub url: Option<String>,
    pub database_url: String,
    pub mode: BenchMode,
    pub clients: usize,
    pub events: u64,
    pub batch_size: u64,
    /// The ingest token for `--url` (also used to read the pipeline state unless `read_token`).
    pub token: Option<String>,
    /// The read token for the pipeline state, when it differs from `token`.
    pub read_token: Option<String>,
}

/// What was measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub mode: BenchMode,
    pub database: String,
    pub clients: usize,
    pub events: u64,
    pub requests: u64,
    pub seconds: f64,
    pub events_per_second: f64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_max_ms: f64,
    /// Server CPU seconds (user + system) during the load, as a share of one core.
    pub server_cpu_cores: Option<f64>,
    pub server_peak_rss_mib: Option<f64>,
    pub stored_events: i64,
    /// With the server the bench started (all stages): seconds from the first request until
    /// the router and the calculators had processed every stored event, and the events per
    /// second that makes (what the whole pipeline sustains, not only ingest).
    pub processed_seconds: Option<f64>,
    pub processed_events_per_second: Option<f64>,
}

/// The longest wait for the stages to catch up after the load.
const MAX_PROCESSING_WAIT: Duration = Duration::from_secs(300);

/// Polls the pipeline state until no stage lags behind what is stored.
async fn wait_until_processed(client: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let state = pipeline_state(client, base).await?;
        let lags = ["router_lag", "deployments_lag", "links_lag"];
        if lags.iter().all(|lag| state[*lag].as_i64() == Some(0)) {
            return Ok(());
        }
        if started.elapsed() > MAX_PROCESSING_WAIT {
            bail!("the stages did not catch up within {MAX_PROCESSING_WAIT:?}: {state}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct SpawnedServer {
    child: Child,
    base: String,
}

impl Drop for SpawnedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_server(database_url: &str) -> anyhow::Result<SpawnedServer> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child =
        Command::new(std::env::current_exe().context("Failed to find the dora-events binary")?)
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--database-url",
                database_url,
            ])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("Failed to start the server")?;
    Ok(SpawnedServer {
        child,
        base: format!("http://127.0.0.1:{port}"),
    })
}

/// CPU ticks (user + system) and peak RSS (KiB) of a process, from `/proc`.
fn process_usage(pid: u32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let peak_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some((ticks, peak_kib))
}

fn event_json(run: &str, n: u64) -> String {
    format!(
        r#"{{"specversion":"1.0","id":"{run}-{n}","source":"/bench/{run}","type":"com.example.bench","time":"2023-08-05T10:00:00Z","datacontenttype":"application/json","data":{{"n":{n},"service":"bench","status":"ok"}}}}"#
    )
}

/// A `service.deployed` CDEvent (v0.5.1) of about 400 bytes, unique per run and number.
fn cdevent_json(run: &str, n: u64) -> String {
    format!(
        r#"{{"context":{{"specversion":"0.5.1","id":"{run}-{n}","source":"/bench/{run}","type":"dev.cdevents.service.deployed.0.3.0","timestamp":"2023-08-05T10:00:00Z"}},"subject":{{"id":"bench","source":"/bench/{run}","content":{{"environment":{{"id":"production"}},"artifactId":"pkg:oci/bench@sha256%3A{n:064x}"}}}}}}"#
    )
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)] as f64 / 1000.0
}

/// `GET /api/v1/pipeline`: counts, cursors and the lag of each stage.
async fn pipeline_state(client: &reqwest::Client, base: &str) -> anyhow::Result<serde_json::Value> {
    let response = client.get(format!("{base}/api/v1/pipeline")).send().await?;
    Ok(response.error_for_status()?.json().await?)
}

async fn stored_events(client: &reqwest::Client, base: &str) -> anyhow::Result<i64> {
    let state = pipeline_state(client, base).await?;
    state["raw_events"]
        .as_i64()
        .context("pipeline state has no raw_events")
}

/// Runs the load and returns what was measured.
pub async fn run(options: BenchOptions) -> anyhow::Result<BenchReport> {
    let spawned = match &options.url {
        Some(_) => None,
        None => Some(spawn_server(&options.database_url)?),
    };
    let base = match (&options.url, &spawned) {
        (Some(url), _) => url.trim_end_matches('/').to_owned(),
        (None, Some(server)) => server.base.clone(),
        (None, None) => bail!("no server to send to"),
    };
    let client = crate::client::client(
        reqwest::Client::builder().pool_max_idle_per_host(options.clients),
        options.token.as_deref(),
    )?;
    let reader = crate::client::client(
        reqwest::Client::builder(),
        options.read_token.as_deref().or(options.token.as_deref()),
    )?;
    wait_until_ready(&client, &base).await?;
    let stored_before = stored_events(&reader, &base).await?;
    let load = Arc::new(Load::new(&options, &base));
    let usage_before = spawned.as_ref().and_then(|s| process_usage(s.child.id()));
    let started = Instant::now();
    let mut latencies = load.send(&client, options.clients).await?;
    let seconds = started.elapsed().as_secs_f64();
    let usage_after = spawned.as_ref().and_then(|s| process_usage(s.child.id()));
    latencies.sort_unstable();
    let stored = stored_events(&reader, &base).await? - stored_before;
    if stored != options.events as i64 {
        bail!(
            "the server acknowledged {} events but stored {stored}",
            options.events
        );
    }
    let (server_cpu_cores, server_peak_rss_mib) = server_usage(usage_before, usage_after, seconds);
    let processed_seconds = match spawned {
        Some(_) => {
            wait_until_processed(&reader, &base).await?;
            Some(started.elapsed().as_secs_f64())
        }
        None => None,
    };
    Ok(BenchReport {
        mode: options.mode,
        database: crate::app::redact(&options.database_url),
        clients: options.clients,
        events: options.events,
        requests: load.requests,
        seconds,
        events_per_second: options.events as f64 / seconds,
        latency_p50_ms: percentile(&latencies, 50.0),
        latency_p99_ms: percentile(&latencies, 99.0),
        latency_max_ms: percentile(&latencies, 100.0),
        server_cpu_cores,
        server_peak_rss_mib,
        stored_events: stored,
        processed_seconds,
        processed_events_per_second: processed_seconds.map(|s| options.events as f64 / s),
    })
}

/// Polls `GET /readyz` until it succeeds, for at most 30 seconds.
async fn wait_until_ready(client: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let ready = Instant::now();
    while client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map(|r| r.status().is_success())
        .ok()
        != Some(true)
    {
        if ready.elapsed() > Duration::from_secs(30) {
            bail!("the server at {base} did not become ready");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// The requests of one run, shared by its clients: each takes the next request number until
/// none is left.
struct Load {
    url: String,
    mode: BenchMode,
    run_id: String,
    total_events: u64,
    per_request: u64,
    requests: u64,
    next_request: AtomicU64,
}

impl Load {
    fn new(options: &BenchOptions, base: &str) -> Self {
        let per_request = match options.mode {
            BenchMode::Structured | BenchMode::Cdevents => 1,
            BenchMode::Batch => options.batch_size.max(1),
        };
        let url = match options.mode {
            BenchMode::Cdevents => format!("{base}/cdevents"),
            _ => format!("{base}/events"),
        };
        Self {
            url,
            mode: options.mode,
            run_id: format!("{:x}", chrono::Utc::now().timestamp_micros()),
            total_events: options.events,
            per_request,
            requests: options.events.div_ceil(per_request),
            next_request: AtomicU64::new(0),
        }
    }

    /// Sends every request from `clients` concurrent clients; the latency of each request in
    /// microseconds.
    async fn send(
        self: &Arc<Self>,
        client: &reqwest::Client,
        clients: usize,
    ) -> anyhow::Result<Vec<u64>> {
        let mut workers = Vec::with_capacity(clients);
        for _ in 0..clients.max(1) {
            let (load, client) = (Arc::clone(self), client.clone());
            workers.push(tokio::spawn(async move { load.one_client(client).await }));
        }
        let mut latencies = Vec::with_capacity(self.requests as usize);
        for worker in workers {
            latencies.extend(worker.await.context("a client task failed")??);
        }
        Ok(latencies)
    }

    /// One client: requests until none is left.
    async fn one_client(&self, client: reqwest::Client) -> anyhow::Result<Vec<u64>> {
        let mut latencies = Vec::new();
        loop {
            let request = self.next_request.fetch_add(1, Ordering::Relaxed);
            if request >= self.requests {
                return Ok(latencies);
            }
            let (content_type, body) = self.request_body(request);
            let sent = Instant::now();
            self.post_until_accepted(&client, content_type, body)
                .await?;
            latencies.push(sent.elapsed().as_micros() as u64);
        }
    }

    /// The content type and body of request number `request`.
    fn request_body(&self, request: u64) -> (&'static str, String) {
        let first = request * self.per_request;
        let last = (first + self.per_request).min(self.total_events);
        match self.mode {
            BenchMode::Structured => (
                "application/cloudevents+json",
                event_json(&self.run_id, first),
            ),
            BenchMode::Cdevents => ("application/json", cdevent_json(&self.run_id, first)),
            BenchMode::Batch => {
                let items: Vec<String> =
                    (first..last).map(|n| event_json(&self.run_id, n)).collect();
                (
                    "application/cloudevents-batch+json",
                    format!("[{}]", items.join(",")),
                )
            }
        }
    }

    /// Posts until the server accepts (202), again after 10 ms while it is full (503).
    async fn post_until_accepted(
        &self,
        client: &reqwest::Client,
        content_type: &str,
        body: String,
    ) -> anyhow::Result<()> {
        loop {
            let response = client
                .post(&self.url)
                .header("content-type", content_type)
                .body(body.clone())
                .send()
                .await?;
            match response.status().as_u16() {
                202 => return Ok(()),
                503 => tokio::time::sleep(Duration::from_millis(10)).await,
                status => bail!("the server answered {status}: {}", response.text().await?),
            }
        }
    }
}

/// The server's CPU time during the load as a share of one core, and its peak RSS in MiB, when
/// both readings of `/proc` succeeded.
fn server_usage(
    before: Option<(u64, u64)>,
    after: Option<(u64, u64)>,
    seconds: f64,
) -> (Option<f64>, Option<f64>) {
    let ticks_per_second = 100.0; // USER_HZ on Linux
    match (before, after) {
        (Some((before, _)), Some((after, peak_kib))) => (
            Some((after - before) as f64 / ticks_per_second / seconds),
            Some(peak_kib as f64 / 1024.0),
        ),
        _ => (None, None),
    }
}
