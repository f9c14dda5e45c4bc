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

/// A route serving one file of `assets/`, described as `$description` of type `$media_type`.
macro_rules! asset_route {
    ($(#[doc = $doc:literal])* $name:ident, $path:literal, $file:literal, $media_type:literal, $description:literal) => {
        $(#[doc = $doc])*
        #[utoipa::path(
            get,
            path = $path,
            tag = "dashboard",
            responses((status = 200, description = $description, body = String, content_type = $media_type))
        )]
        async fn $name() -> Response {
            asset(
                concat!($media_type, "; charset=utf-8"),
                include_str!(concat!("../assets/", $file)),
            )
        }
    };
}

asset_route!(
    /// The dashboard: the five keys, trends, drill-down, live events and pipeline health.
    page, "/", "index.html", "text/html", "The dashboard page"
);
asset_route!(
    /// The dashboard's script.
    script, "/ui/app.js", "app.js", "text/javascript", "The dashboard's script"
);
asset_route!(
    /// The dashboard's style sheet.
    styles, "/ui/style.css", "style.css", "text/css", "The dashboard's style sheet"
);

/// The routes of the dashboard's files, with their description.
pub fn router() -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(page))
        .routes(routes!(script))
        .routes(routes!(styles))
}
