//! The dashboard: static pages built into the binary and served by the `api` role at `GET /`.
//!
//! The pages read the JSON API (`/api/v1/...`) and the charts (`/api/v1/charts/...`); nothing is
//! fetched from the internet. The files are routes like any other, described in `/openapi.json`.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

fn asset(media_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, media_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// The dashboard: the five keys, trends, drill-down, live events and pipeline health.
#[utoipa::path(
    get,
    path = "/",
    tag = "dashboard",
    responses((status = 200, description = "The dashboard page", body = String, content_type = "text/html"))
)]
async fn page() -> Response {
    asset(
        "text/html; charset=utf-8",
        include_str!("../assets/index.html"),
    )
}

/// The dashboard's script.
#[utoipa::path(
    get,
    path = "/ui/app.js",
    tag = "dashboard",
    responses((status = 200, description = "The dashboard's script", body = String, content_type = "text/javascript"))
)]
async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../assets/app.js"),
    )
}

/// The dashboard's style sheet.
#[utoipa::path(
    get,
    path = "/ui/style.css",
    tag = "dashboard",
    responses((status = 200, description = "The dashboard's style sheet", body = String, content_type = "text/css"))
)]
async fn styles() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../assets/style.css"),
    )
}

/// The routes of the dashboard's files, with their description.
pub fn router() -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(page))
        .routes(routes!(script))
        .routes(routes!(styles))
}
