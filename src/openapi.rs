//! `GET /openapi.json`: the OpenAPI 3.1 description of the routes this process serves,
//! generated from the handlers' annotations (utoipa) as the routes are registered.

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;

/// Where the description is served.
pub const PATH: &str = "/openapi.json";

/// The document's header; the paths are added by the routers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "dora-events",
        description = "DORA metrics from CloudEvents and CDEvents. Errors are RFC 9457 problem details. Definitions: METRICS.md; details: docs/api.md.",
        license(name = "Apache-2.0")
    ),
    tags(
        (name = "ingest", description = "CloudEvents, CDEvents and webhooks in"),
        (name = "metrics", description = "The five DORA keys, series and charts"),
        (name = "drill-down", description = "The facts behind the numbers"),
        (name = "events", description = "Stored events: history and live feed"),
        (name = "pipeline", description = "Pipeline state and failed transformations"),
        (name = "health", description = "Liveness, readiness and Prometheus metrics"),
        (name = "dashboard", description = "The web dashboard's files")
    ),
    paths(description)
)]
pub struct ApiDoc;

/// This description (OpenAPI 3.1, JSON) of the routes this process serves.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "health",
    responses((status = 200, description = "The OpenAPI description of this process's routes", body = Object, content_type = "application/json"))
)]
#[allow(dead_code)] // only its description is used; `serve` answers the route
fn description() {}

/// Serves the description (serialised on each call: it is small and rarely fetched).
pub async fn serve(description: Arc<utoipa::openapi::OpenApi>) -> Response {
    match description.to_json() {
        Ok(json) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            json,
        )
            .into_response(),
        Err(error) => dora_http::Problem::internal(&error).into_response(),
    }
}
