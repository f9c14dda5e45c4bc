//! `POST /webhooks/argocd` (being written: answers 501 until then).

use axum::http::{HeaderMap, StatusCode};
use dora_http::Problem;
use dora_model::cloudevent::CloudEvent;

use super::WebhookSettings;

/// Checks the request and wraps its payload into CloudEvents.
pub fn adapt(
    _headers: &HeaderMap,
    _body: &[u8],
    _settings: &WebhookSettings,
) -> Result<Vec<CloudEvent>, Problem> {
    Err(Problem::new(
        StatusCode::NOT_IMPLEMENTED,
        "not-implemented",
        "Not implemented",
        "the argocd webhook is not available yet",
    ))
}
