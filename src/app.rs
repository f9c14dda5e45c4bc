//! Wiring: one [`Application`] that binds the HTTP listener, opens the store and starts every
//! stage of the pipeline in one process. `main` and the tests both build it.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use dora_metrics::deployments::DeploymentsCalculator;
use dora_pipeline::router::Router as EventRouter;
use dora_pipeline::routing::RoutingTable;
use dora_store::writer::RawWriter;
use dora_store::Store;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

use crate::config::Settings;
use crate::stages::run_stage;

/// A bound, not yet running, dora-events server.
pub struct Application {
    listener: TcpListener,
    settings: Settings,
    store: Store,
    table: Arc<RoutingTable>,
    shutdown: watch::Sender<bool>,
}

/// Stops a running [`Application`] (graceful: in-flight requests finish).
#[derive(Clone)]
pub struct ShutdownHandle(watch::Sender<bool>);

impl ShutdownHandle {
    pub fn shutdown(&self) {
        let _ = self.0.send(true);
    }
}

impl Application {
    /// Opens the store (running migrations), compiles the routes and binds the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let table = Arc::new(RoutingTable::new(&settings.routes).context("invalid routes")?);
        let store = Store::connect(&settings.database_url)
            .await
            .with_context(|| format!("Failed to open the database {}", settings.database_url))?;
        let listener = TcpListener::bind(&settings.listen)
            .await
            .with_context(|| format!("Failed to listen on {}", settings.listen))?;
        let (shutdown, _) = watch::channel(false);
        Ok(Self {
            listener,
            settings,
            store,
            table,
            shutdown,
        })
    }

    /// The bound address (the real port when the settings asked for port 0).
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.shutdown.clone())
    }

    /// Serves HTTP and runs the router and the calculators until shut down.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Self {
            listener,
            settings,
            store,
            table,
            shutdown,
        } = self;
        let raw_committed = Arc::new(Notify::new());
        let cdevents_committed = Arc::new(Notify::new());

        let writer = RawWriter::spawn(
            store.clone(),
            settings.ingest.queue_capacity,
            settings.ingest.max_events_per_commit,
            raw_committed.clone(),
        );
        let router = EventRouter::new(store.clone(), table, settings.router.batch_size);
        let router_task = tokio::spawn(run_stage(
            "router",
            raw_committed,
            settings.router.interval,
            shutdown.subscribe(),
            {
                let cdevents_committed = cdevents_committed.clone();
                move || {
                    let router = router.clone();
                    let cdevents_committed = cdevents_committed.clone();
                    async move {
                        let report = router.run_pass().await?;
                        if report.cdevents > 0 {
                            cdevents_committed.notify_one();
                        }
                        Ok(report.events)
                    }
                }
            },
        ));
        let calculator = DeploymentsCalculator::new(store.clone(), settings.metrics.batch_size);
        let calculator_task = tokio::spawn(run_stage(
            "calculator:deployments",
            cdevents_committed,
            settings.metrics.interval,
            shutdown.subscribe(),
            move || {
                let calculator = calculator.clone();
                async move { calculator.run_pass().await }
            },
        ));

        let app: Router = Router::new()
            .merge(dora_ingest::router(dora_ingest::IngestState {
                writer,
                limits: dora_ingest::Limits {
                    max_event_bytes: settings.ingest.max_event_bytes,
                    max_batch_bytes: settings.ingest.max_batch_bytes,
                },
            }))
            .merge(dora_api::router(dora_api::ApiState {
                store: store.clone(),
            }))
            .fallback(dora_http::not_found)
            .layer(axum::extract::DefaultBodyLimit::disable());

        let mut stop = shutdown.subscribe();
        tracing::info!(address = %listener.local_addr()?, database = %settings.database_url, "dora-events is serving");
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            })
            .await
            .context("HTTP server failed")?;
        let _ = shutdown.send(true);
        let _ = router_task.await;
        let _ = calculator_task.await;
        store.close().await;
        tracing::info!("dora-events stopped");
        Ok(())
    }
}

/// Rebuilds every CDEvent and fact from `cloudevents_raw` (the store should not be served meanwhile).
pub async fn recompute(settings: &Settings) -> anyhow::Result<RecomputeReport> {
    let table = Arc::new(RoutingTable::new(&settings.routes).context("invalid routes")?);
    let store = Store::connect(&settings.database_url)
        .await
        .with_context(|| format!("Failed to open the database {}", settings.database_url))?;
    store
        .reset_derived()
        .await
        .context("Failed to clear derived tables")?;
    let routed = EventRouter::new(store.clone(), table, settings.router.batch_size)
        .run_until_idle()
        .await
        .context("Failed to route raw events")?;
    let cdevents = DeploymentsCalculator::new(store.clone(), settings.metrics.batch_size)
        .run_until_idle()
        .await
        .context("Failed to compute deployments")?;
    let stats = store.stats().await?;
    store.close().await;
    Ok(RecomputeReport {
        raw_events: routed.events,
        cdevents_emitted: routed.cdevents,
        failures: routed.failures,
        cdevents_read: cdevents,
        deployments: stats.deployments,
    })
}

/// What `recompute` rebuilt.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RecomputeReport {
    pub raw_events: usize,
    pub cdevents_emitted: usize,
    pub failures: usize,
    pub cdevents_read: usize,
    pub deployments: i64,
}
