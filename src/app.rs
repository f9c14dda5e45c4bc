//! Wiring: one [`Application`] that binds the HTTP listener, opens the store and starts every
//! stage of the pipeline in one process. `main` and the tests both build it.

use dora_http::auth::{Authenticator, Scope};
use dora_http::telemetry::Telemetry;
use std::net::SocketAddr;
use std::sync::Arc;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use anyhow::Context;
use dora_metrics::linker::Linker;
use dora_metrics::observer::Observer;
use dora_pipeline::router::Router as EventRouter;
use dora_pipeline::routing::RoutingTable;
use dora_store::writer::RawWriter;
use dora_store::{Store, StoreError};
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::config::Settings;
use crate::stages::{run_function_stage, run_stage, Progress};
use dora_pipeline::functions::FunctionWorker;

/// Which stages a process runs (`serve --role`). Several processes with different roles (and
/// replicas of each) can share one PostgreSQL database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Every stage in one process.
    All,
    /// `POST /events`, `POST /`, `POST /cdevents`.
    Ingest,
    /// The router and the transformers.
    Router,
    /// The calculators.
    Metrics,
    /// The query routes.
    Api,
}

impl Role {
    fn runs(self, stage: Role) -> bool {
        self == Role::All || self == stage
    }
}

/// A bound, not yet running, dora-events server.
pub struct Application {
    listener: TcpListener,
    role: Role,
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
        Self::build_with_role(settings, Role::All).await
    }

    /// Like [`Application::build`], for a process that runs only some stages.
    pub async fn build_with_role(settings: Settings, role: Role) -> anyhow::Result<Self> {
        let table = Arc::new(settings.routing_table()?);
        let store = open_store(&settings).await?;
        let listener = TcpListener::bind(&settings.listen)
            .await
            .with_context(|| format!("Failed to listen on {}", settings.listen))?;
        let (shutdown, _) = watch::channel(false);
        Ok(Self {
            listener,
            role,
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

    /// Serves HTTP and runs the stages of its role until shut down.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let (role, settings, store, shutdown) =
            (self.role, &self.settings, &self.store, &self.shutdown);
        let wakes = Wakes::default();
        let mut stage_tasks = Vec::new();
        if role.runs(Role::Router) {
            stage_tasks.extend(spawn_router_stages(
                store, self.table, settings, &wakes, shutdown,
            )?);
        }
        if role.runs(Role::Metrics) {
            stage_tasks.push(spawn_metrics_stage(store, settings, &wakes, shutdown));
        }
        let auth = start_auth(settings, role, shutdown)?;
        let telemetry = Telemetry::new();
        let api_state = start_api_state(role, settings, store, &telemetry, &auth)?;
        let routes = http_routes(role, settings, store, &auth, api_state, wakes.raw_committed);
        let app = into_service(routes, &auth, &telemetry);

        tracing::info!(address = %self.listener.local_addr()?, role = ?role, database = %redact(&settings.database_url), "dora-events is serving");
        crate::server::serve(
            self.listener,
            app,
            crate::server::ServerLimits::from_settings(&settings.http),
            telemetry,
            shutdown.subscribe(),
        )
        .await
        .context("HTTP server failed")?;
        let _ = shutdown.send(true);
        for task in stage_tasks {
            let _ = task.await;
        }
        store.close().await;
        tracing::info!("dora-events stopped");
        Ok(())
    }
}

/// How the stages of one process wake each other in memory (the store forwards the commits of
/// other processes to the same [`Notify`]s).
#[derive(Default)]
struct Wakes {
    /// Raw events were committed: the router has work.
    raw_committed: Arc<Notify>,
    /// CDEvents were committed: the calculators and the function workers have work.
    cdevents_committed: Arc<Notify>,
}

/// Starts one worker per external function, so that one being away delays no other, and the
/// router, which wakes them.
fn spawn_router_stages(
    store: &Store,
    table: Arc<RoutingTable>,
    settings: &Settings,
    wakes: &Wakes,
    shutdown: &watch::Sender<bool>,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    store.forward_notifications(dora_store::RAW_CHANNEL, wakes.raw_committed.clone());
    let router = EventRouter::new(store.clone(), table, settings.router.batch_size);
    let mut tasks = Vec::new();
    let mut function_wakes = Vec::new();
    for (name, config) in &settings.functions {
        let worker = FunctionWorker::new(store.clone(), name, config.clone())?;
        let wake = Arc::new(Notify::new());
        function_wakes.push(wake.clone());
        tasks.push(tokio::spawn(run_function_stage(
            worker,
            wake,
            wakes.cdevents_committed.clone(),
            settings.router.interval,
            shutdown.subscribe(),
        )));
    }
    let function_wakes = Arc::new(function_wakes);
    let cdevents_committed = wakes.cdevents_committed.clone();
    tasks.push(tokio::spawn(run_stage(
        "router",
        wakes.raw_committed.clone(),
        settings.router.interval,
        shutdown.subscribe(),
        move || {
            route_pass(
                router.clone(),
                cdevents_committed.clone(),
                function_wakes.clone(),
            )
        },
    )));
    Ok(tasks)
}

/// One pass of the router, then wakes the stages after it if it gave them work.
async fn route_pass(
    router: EventRouter,
    cdevents_committed: Arc<Notify>,
    function_wakes: Arc<Vec<Arc<Notify>>>,
) -> Result<Progress, StoreError> {
    let report = router.run_pass().await?;
    if report.cdevents > 0 {
        cdevents_committed.notify_one();
    }
    if report.function_jobs > 0 {
        for wake in function_wakes.iter() {
            wake.notify_one();
        }
    }
    Ok(Progress {
        processed: report.events,
        pending: report.pending,
        full: report.full,
    })
}

/// Starts the calculators: the facts, then the links of what they changed.
fn spawn_metrics_stage(
    store: &Store,
    settings: &Settings,
    wakes: &Wakes,
    shutdown: &watch::Sender<bool>,
) -> JoinHandle<()> {
    store.forward_notifications(
        dora_store::CDEVENTS_CHANNEL,
        wakes.cdevents_committed.clone(),
    );
    let calculator = Observer::new(store.clone(), settings.metrics.batch_size);
    let linker = Linker::new(
        store.clone(),
        settings.dora.config(),
        settings.metrics.batch_size,
    );
    tokio::spawn(run_stage(
        "calculator:deployments",
        wakes.cdevents_committed.clone(),
        settings.metrics.interval,
        shutdown.subscribe(),
        move || {
            let (calculator, linker) = (calculator.clone(), linker.clone());
            async move {
                // Facts first, then the links of what they changed.
                let observed = calculator.run_pass().await?;
                let linked = linker.run_pass().await?;
                Ok(Progress {
                    processed: observed.cdevents + linked,
                    pending: false,
                    full: observed.full,
                })
            }
        },
    ))
}

/// Reads the `[auth]` tokens, warns of what is left unprotected, checks the OIDC issuer at
/// start (ingest only) and re-reads the token files until shutdown.
fn start_auth(
    settings: &Settings,
    role: Role,
    shutdown: &watch::Sender<bool>,
) -> anyhow::Result<Authenticator> {
    let auth =
        Authenticator::new(settings.auth.clone()).context("Failed to read the [auth] tokens")?;
    for warning in settings.auth.warnings() {
        tracing::warn!("NO AUTHENTICATION: {warning}");
    }
    if let Some(oidc) = auth.oidc().filter(|_| role.runs(Role::Ingest)) {
        // Says at start whether the issuer's keys can be fetched; tokens fetch them anyway.
        let oidc = Arc::clone(oidc);
        tokio::spawn(async move { oidc.warm_up().await });
    }
    let mut stop = shutdown.subscribe();
    tokio::spawn(auth.clone().watch_token_files(async move {
        let _ = stop.wait_for(|stopped| *stopped).await;
    }));
    Ok(auth)
}

/// The state of the query and health routes; a process that serves queries loads the keys'
/// columns now rather than on the first request.
fn start_api_state(
    role: Role,
    settings: &Settings,
    store: &Store,
    telemetry: &Arc<Telemetry>,
    auth: &Authenticator,
) -> anyhow::Result<dora_api::ApiState> {
    let api_state = dora_api::ApiState::new(
        store.clone(),
        settings.dora_settings()?,
        Arc::clone(telemetry),
        dora_api::Serves {
            ingest: role.runs(Role::Ingest),
            queries: role.runs(Role::Api),
        },
    )
    .with_auth(auth.clone());
    if role.runs(Role::Api) {
        let state = api_state.clone();
        tokio::spawn(async move {
            if let Err(error) = dora_api::dora::warm_up(&state).await {
                tracing::warn!(error = %error, "could not load the keys at start; the first request will");
            }
        });
    }
    Ok(api_state)
}

/// The routes of `role`, with their description: health always, ingest and queries by role.
fn http_routes(
    role: Role,
    settings: &Settings,
    store: &Store,
    auth: &Authenticator,
    api_state: dora_api::ApiState,
    raw_committed: Arc<Notify>,
) -> OpenApiRouter {
    let mut app = OpenApiRouter::with_openapi(crate::openapi::ApiDoc::openapi())
        .merge(dora_api::health_router(api_state.clone()));
    if role.runs(Role::Ingest) {
        app = app.merge(ingest_routes(role, settings, store, auth, raw_committed));
    }
    if role.runs(Role::Api) {
        app = app
            .merge(dora_api::router(api_state))
            .merge(dora_api::dashboard::router());
    }
    app
}

/// `POST /events`, `POST /`, `POST /cdevents` and the webhooks, behind the raw writer.
fn ingest_routes(
    role: Role,
    settings: &Settings,
    store: &Store,
    auth: &Authenticator,
    raw_committed: Arc<Notify>,
) -> OpenApiRouter {
    // A process with its own router wakes it in memory; only an ingest-only process
    // needs to tell routers elsewhere.
    let writer_store = store
        .clone()
        .notify_other_processes(!role.runs(Role::Router));
    let writer = RawWriter::spawn(
        writer_store,
        settings.ingest.queue_capacity,
        settings.ingest.max_events_per_commit,
        settings.ingest.concurrent_commits,
        raw_committed,
    );
    let limits = dora_ingest::Limits {
        max_event_bytes: settings.ingest.max_event_bytes,
        max_batch_bytes: settings.ingest.max_batch_bytes,
    };
    for tool in settings.webhooks.unsigned() {
        tracing::warn!(
            webhook = tool,
            "POST /webhooks/{tool} accepts unsigned requests: set its secret in [webhooks.{tool}]"
        );
    }
    let body_timeouts = dora_ingest::body::BodyTimeouts {
        stall: settings.http.body_stall_timeout,
        min_bytes_per_second: settings.http.body_min_bytes_per_second,
    };
    dora_ingest::router(
        dora_ingest::IngestState::new(
            writer,
            limits,
            settings.ingest.max_in_flight_bytes,
            settings.webhooks.clone(),
        )
        .with_auth(auth.clone())
        .with_body_timeouts(body_timeouts),
    )
}

/// The routes as one service: `GET` of the description, the fallbacks and the layers (telemetry,
/// no body limit of axum's own, security headers).
fn into_service(
    routes: OpenApiRouter,
    auth: &Authenticator,
    telemetry: &Arc<Telemetry>,
) -> axum::Router {
    // The routes and their description come from the same code: the description is
    // complete by construction, for this process's role.
    let (mut app, mut description) = routes.split_for_parts();
    if auth.protects(Scope::Ingest) || auth.protects(Scope::Read) {
        dora_http::auth::describe_scheme(&mut description, auth);
    }
    let description = Arc::new(description);
    app = app.route(
        crate::openapi::PATH,
        axum::routing::get(move || crate::openapi::serve(Arc::clone(&description))),
    );
    app.fallback(dora_http::not_found)
        .method_not_allowed_fallback(dora_http::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(telemetry),
            dora_http::telemetry::record,
        ))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(axum::middleware::map_response(dora_http::security_headers))
}

/// The database URL without its password, for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The configured database, with its pool size; an error names it with its password hidden.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    Store::connect_with(&settings.database_url, settings.database_pool_size)
        .await
        .with_context(|| {
            format!(
                "Failed to open the database {}",
                redact(&settings.database_url)
            )
        })
}

/// One pass of the stages of `role` until they are caught up, then return (`serve --once`, for
/// a Kubernetes CronJob as in the book).
pub async fn run_once(settings: &Settings, role: Role) -> anyhow::Result<OnceReport> {
    anyhow::ensure!(
        matches!(role, Role::All | Role::Router | Role::Metrics),
        "--once runs the router or the calculators; the {role:?} role serves HTTP"
    );
    let store = open_store(settings).await?;
    let mut report = OnceReport::default();
    if role.runs(Role::Router) {
        let table = Arc::new(settings.routing_table()?);
        let routed = EventRouter::new(store.clone(), table, settings.router.batch_size)
            .run_until_idle()
            .await
            .context("Failed to route raw events")?;
        report.raw_events_routed = routed.events;
        report.cdevents_emitted = routed.cdevents;
        report.failures = routed.failures;
    }
    if role.runs(Role::Metrics) {
        report.cdevents_read = count_until_idle(&store, settings).await?;
    }
    store.close().await;
    Ok(report)
}

/// Runs the facts calculator, then the linker, until both are caught up; returns the CDEvents
/// the calculator read.
async fn count_until_idle(store: &Store, settings: &Settings) -> anyhow::Result<usize> {
    let cdevents = Observer::new(store.clone(), settings.metrics.batch_size)
        .run_until_idle()
        .await
        .context("Failed to compute deployments")?;
    Linker::new(
        store.clone(),
        settings.dora.config(),
        settings.metrics.batch_size,
    )
    .run_until_idle()
    .await
    .context("Failed to link the facts")?;
    Ok(cdevents)
}

/// What `serve --once` did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct OnceReport {
    pub raw_events_routed: usize,
    pub cdevents_emitted: usize,
    pub failures: usize,
    pub cdevents_read: usize,
}

/// Rebuilds every CDEvent and fact from `cloudevents_raw` (the store should not be served meanwhile).
pub async fn recompute(settings: &Settings) -> anyhow::Result<RecomputeReport> {
    let table = Arc::new(settings.routing_table()?);
    let store = open_store(settings).await?;
    store
        .reset_derived()
        .await
        .context("Failed to clear derived tables")?;
    let routed = EventRouter::new(store.clone(), table, settings.router.batch_size)
        .run_until_idle()
        .await
        .context("Failed to route raw events")?;
    let cdevents = count_until_idle(&store, settings).await?;
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
