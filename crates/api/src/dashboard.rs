//! The dashboard: static pages built into the binary and served by the `api` role at `GET /`.
//!
//! The pages read the JSON API (`/api/v1/...`) and the charts (`/api/v1/charts/...`); nothing is
//! fetched from the internet.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// One file of the dashboard: where it is served, its media type and its contents.
struct Asset {
    path: &'static str,
    media_type: &'static str,
    body: &'static str,
}

const ASSETS: [Asset; 3] = [
    Asset {
        path: "/",
        media_type: "text/html; charset=utf-8",
        body: include_str!("../assets/index.html"),
    },
    Asset {
        path: "/ui/app.js",
        media_type: "text/javascript; charset=utf-8",
        body: include_str!("../assets/app.js"),
    },
    Asset {
        path: "/ui/style.css",
        media_type: "text/css; charset=utf-8",
        body: include_str!("../assets/style.css"),
    },
];

/// The routes of the dashboard's files.
pub fn router() -> Router {
    ASSETS.iter().fold(Router::new(), |router, asset| {
        router.route(asset.path, get(move || serve(asset)))
    })
}

async fn serve(asset: &'static Asset) -> Response {
    (
        [
            (header::CONTENT_TYPE, asset.media_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        asset.body,
    )
        .into_response()
}
