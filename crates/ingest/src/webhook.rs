//! `POST /webhooks/{tool}`: the webhooks of tools that do not speak CloudEvents, one per source
//! that has one (`dora_sources::Source::webhook`).
//!
//! The source's webhook checks the request's signature or token (its `Authentication`, when
//! `[webhooks.<tool>]` sets a secret or token), then its adapter wraps the tool's payload
//! into one or more CloudEvents, which are stored raw like any other event and routed to the
//! source's transformer. A payload the tool could send but that dora-events does not map is
//! still stored (and answered `202`); a bad signature is `401` and stores nothing.

use axum::http::{HeaderMap, StatusCode};
use dora_http::Problem;
use dora_sources::webhook::Webhook;

/// The webhook of a tool, by its path segment.
pub fn webhook_for(tool: &str) -> Option<Webhook> {
    dora_sources::webhook_for(tool)
}

/// The tools that have a webhook, as `/webhooks/{tool}` names them.
pub fn tools() -> impl Iterator<Item = &'static str> {
    dora_sources::SOURCES
        .iter()
        .filter(|source| source.webhook().is_some())
        .map(|source| source.name())
}

/// Refuses every body but JSON with `415`. Each tool sends `application/json`; a browser can
/// send `text/plain`, form bodies or no type at all to another site without asking it first
/// (no CORS preflight), so accepting them would let any web page forge events.
pub fn require_json(headers: &HeaderMap) -> Result<(), Problem> {
    let media = crate::binding::media_type(headers);
    match media.as_deref() {
        Some("application/json") => Ok(()),
        Some(media) if media.starts_with("application/") && media.ends_with("+json") => Ok(()),
        other => Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            format!(
                "webhooks take Content-Type: application/json, not {}",
                other.unwrap_or("a body without Content-Type")
            ),
        )
        .with_field("Content-Type")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_a_webhook_and_unknown_ones_none() {
        // Which sources have a webhook is the registry's test; here: each is found by name.
        let with_webhook = dora_sources::WebhookSettings::default().unsigned();
        assert!(with_webhook.contains(&"github") && with_webhook.contains(&"flux"));
        for tool in &with_webhook {
            assert!(webhook_for(tool).is_some(), "{tool}");
        }
        assert!(webhook_for("jenkins").is_none());
        assert!(webhook_for("kubernetes").is_none());
        assert_eq!(tools().collect::<Vec<_>>(), with_webhook);
    }
}
