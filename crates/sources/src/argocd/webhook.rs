//! `POST /webhooks/argocd`: Argo CD notifications (the webhook service of Argo CD's
//! notifications controller), one CloudEvent per notification.
//!
//! # Authentication
//!
//! When `[webhooks.argocd] token` is set, the request must carry `Authorization: Bearer <token>`
//! (a header of the `service.webhook.dora-events` entry in `argocd-notifications-cm`, the token
//! taken from `argocd-notifications-secret`); the token is compared in constant time. A missing
//! or wrong token is `401` naming `Authorization`, and nothing is stored.
//!
//! # The CloudEvent
//!
//! The body is what the template documented in `docs/integrations/argocd.md` renders, checked
//! by `dora_sources::argocd::parse`:
//!
//! * `type`: `io.argoproj.argocd.<trigger>` (e.g. `io.argoproj.argocd.on-sync-succeeded`);
//! * `source`: the payload's `argocdUrl` (without a trailing `/`), or `argocd`;
//! * `id`: `<app namespace>/<app name>/<revision>/<operation startedAt>/<trigger>/<health
//!   lastTransitionTime>` (`Notification::event_id`): the same notification sent again is a
//!   duplicate;
//! * `time`: the latest of the operation's `startedAt` and `finishedAt` and the health's
//!   `lastTransitionTime`, when any is set;
//! * `subject`: the application name; `data`: the payload as sent.
//!
//! A malformed payload (not JSON, not an object, no `trigger` or `app.name`, a member of the
//! wrong type, a timestamp that is not RFC 3339) is `400` naming the field as a JSON pointer
//! (e.g. `/operation/startedAt`); nothing is stored. Triggers the transformer does not map are
//! stored all the same.

use super::{parse, TYPE_PREFIX};
use dora_http::Problem;
use dora_model::cloudevent::CloudEvent;
use dora_model::time::format_rfc3339;
use http::HeaderMap;
use serde_json::Value;

use crate::webhook::{invalid_payload, Authentication, Webhook};

/// `POST /webhooks/argocd`: a bearer token when `[webhooks.argocd] token` is set.
pub const WEBHOOK: Webhook = Webhook::new(
    "argocd",
    Authentication::Bearer {
        hint: "headers of the Argo CD webhook service",
    },
    adapt,
);

/// Wraps the payload of an authenticated request into CloudEvents.
fn adapt(_headers: &HeaderMap, body: &[u8]) -> Result<Vec<CloudEvent>, Problem> {
    let payload: Value = serde_json::from_slice(body)
        .map_err(|e| invalid("body", format!("not valid JSON: {e}")))?;
    let notification = parse(&payload).map_err(|e| {
        let field = if e.pointer.is_empty() {
            "body".to_owned()
        } else {
            e.pointer.clone()
        };
        invalid(field, e.message)
    })?;
    let time = notification.time();
    let (id, source) = (notification.event_id(), notification.source());
    let event_type = format!("{TYPE_PREFIX}{}", notification.trigger);
    let subject = Some(notification.app.name.to_owned());
    Ok(vec![CloudEvent {
        time,
        time_text: time.as_ref().map(format_rfc3339),
        ..CloudEvent::json(id, source, event_type, payload).about(subject)
    }])
}

/// `400` about one field of the payload.
fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Problem {
    invalid_payload("Invalid Argo CD notification", field, detail)
}
