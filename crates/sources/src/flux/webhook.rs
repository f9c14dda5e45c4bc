//! `POST /webhooks/flux`: events of Flux's controllers, sent by the notification-controller
//! through a `generic-hmac` (or `generic`) Provider, one CloudEvent per event.
//!
//! # Authentication
//!
//! When `[webhooks.flux] secret` is set, the request must carry `X-Signature: <hash>=<hex>`, the
//! HMAC of the exact body under the secret (the `token` of the Provider's Secret), with `<hash>`
//! one of `sha224`, `sha256` (Flux's default), `sha384` or `sha512`; it is compared in constant
//! time. A missing or wrong signature is `401` naming `X-Signature`, and nothing is stored.
//!
//! # The CloudEvent
//!
//! * `type`: `io.fluxcd.<kind lowercased>.<severity>` (`io.fluxcd.kustomization.info`);
//! * `source`: `flux/<reportingController>` (`flux/kustomize-controller`);
//! * `id`: derived from the object (kind, namespace, name), the reason, the timestamp and the
//!   revision: the notification-controller's retry of the same event is a duplicate;
//! * `time`: the event's `timestamp`; `subject`: `<namespace>/<name>`; `data`: the event.
//!
//! A malformed event (not JSON, a required member missing or of the wrong type) is `400` naming
//! the member as a JSON pointer (`/involvedObject/kind`); nothing of it is stored.

use dora_http::Problem;
use dora_model::cloudevent::CloudEvent;
use dora_model::ids::derived_id;
use dora_model::time::format_rfc3339;
use hmac::Hmac;
use http::HeaderMap;
use serde_json::Value;
use sha2::{Sha224, Sha256, Sha384, Sha512};

use super::payload::FluxEvent;
use super::transform::{revision_of, TYPE_PREFIX};
use crate::common::read_fields;
use crate::webhook::{
    check_signature_header, hmac_matches, missing_signature, Authentication, Webhook,
};

/// The header of a `generic-hmac` Provider's signature.
pub const SIGNATURE_HEADER: &str = "X-Signature";

/// `POST /webhooks/flux`: [`check_signature`] when `[webhooks.flux] secret` is set.
pub const WEBHOOK: Webhook = Webhook::new(
    "flux",
    Authentication::BodySignature {
        header: SIGNATURE_HEADER,
        check: check_signature,
    },
    adapt,
);

/// Wraps the event of an authenticated request into a CloudEvent.
fn adapt(_headers: &HeaderMap, body: &[u8]) -> Result<Vec<CloudEvent>, Problem> {
    let payload: Value = serde_json::from_slice(body)
        .map_err(|e| invalid("body", format!("not valid JSON: {e}")))?;
    if !payload.is_object() {
        return Err(invalid("body", "a Flux event must be a JSON object"));
    }
    let event: FluxEvent = read_fields(&payload).map_err(|fault| {
        invalid(
            fault.pointer(),
            format!("{} {}", fault.pointer(), fault.what()),
        )
    })?;
    let object = &event.involved_object;
    let timestamp = format_rfc3339(&event.timestamp);
    let id = derived_id(&[
        "flux",
        &object.kind,
        &object.namespace,
        &object.name,
        &event.reason,
        &timestamp,
        revision_of(&event.metadata).unwrap_or_default(),
    ]);
    let source = format!("flux/{}", non_empty(&event.reporting_controller, "unknown"));
    let event_type = format!(
        "{TYPE_PREFIX}{}.{}",
        object.kind.to_ascii_lowercase(),
        non_empty(&event.severity, "info")
    );
    let subject = format!("{}/{}", object.namespace, object.name);
    Ok(vec![CloudEvent::json(id, source, event_type, payload)
        .at(event.timestamp, timestamp)
        .about(Some(subject))])
}

fn non_empty<'a>(text: &'a str, otherwise: &'a str) -> &'a str {
    if text.is_empty() {
        otherwise
    } else {
        text
    }
}

/// `X-Signature` must be `<hash>=<hex HMAC of body under secret>`.
fn check_signature(headers: &HeaderMap, body: &[u8], secret: &str) -> Result<(), Problem> {
    let secret = secret.as_bytes();
    check_signature_header(
        headers,
        SIGNATURE_HEADER,
        missing_signature(SIGNATURE_HEADER),
        format!(
            "{SIGNATURE_HEADER} is not <sha224|sha256|sha384|sha512>=<HMAC of the body under the \
             configured secret>"
        ),
        |value| {
            let (hash, hex) = value.trim().split_once('=').unwrap_or(("", ""));
            match hash {
                "sha224" => hmac_matches::<Hmac<Sha224>>(secret, body, hex),
                "sha256" => hmac_matches::<Hmac<Sha256>>(secret, body, hex),
                "sha384" => hmac_matches::<Hmac<Sha384>>(secret, body, hex),
                "sha512" => hmac_matches::<Hmac<Sha512>>(secret, body, hex),
                _ => false,
            }
        },
    )
}

/// `400` about one member of the event.
fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Problem {
    Problem::bad_request(
        "invalid-webhook-payload",
        "Invalid Flux event",
        field.into(),
        detail.into(),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::WebhookSettings;
    use hmac::digest::KeyInit;
    use hmac::Mac;

    /// The body and signature of notification-controller's own test
    /// (`internal/notifier/forwarder_test.go`, Apache-2.0; see tests/fixtures/flux/README.md).
    const BODY: &str =
        include_str!("../../../../tests/fixtures/flux/source-event-hmac-vector/input.json");
    const KEY: &str = "7152fed34dd6149a7c75a276c510da27cb6f82b0";
    const SIGNATURE: &str =
        "sha256=65b018549b1254e7226d1c08f9567ee45bc9de0fc4e7b1a40253f9a018b08be7";

    fn signed(signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(SIGNATURE_HEADER, signature.parse().unwrap());
        headers
    }

    fn with_secret() -> WebhookSettings {
        let mut settings = WebhookSettings::default();
        settings.flux.secret = Some(KEY.into());
        settings
    }

    #[test]
    fn flux_own_test_vector_checks_out() {
        let events = WEBHOOK.receive(&signed(SIGNATURE), BODY.as_bytes(), &with_secret());
        let events = events.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event_type, "io.fluxcd.gitrepository.info");
        assert_eq!(events[0].source, "flux/source-controller");
        assert_eq!(events[0].subject.as_deref(), Some("gitops-system/webapp"));
    }

    #[test]
    fn a_wrong_missing_or_unknown_signature_is_refused() {
        let other_body = BODY.replace("message", "massage");
        let sha512_of_other = "sha512=00";
        for (headers, body) in [
            (signed(SIGNATURE), other_body.as_str()),
            (HeaderMap::new(), BODY),
            (signed(&SIGNATURE.replace("sha256", "sha1")), BODY),
            (signed(sha512_of_other), BODY),
            (
                signed("65b018549b1254e7226d1c08f9567ee45bc9de0fc4e7b1a40253f9a018b08be7"),
                BODY,
            ),
        ] {
            let refused = WEBHOOK
                .receive(&headers, body.as_bytes(), &with_secret())
                .unwrap_err();
            assert_eq!(refused.status, 401);
        }
    }

    #[test]
    fn every_hash_flux_offers_is_checked() {
        fn hex_of<M: Mac + KeyInit>(body: &str) -> String {
            let mut mac = <M as KeyInit>::new_from_slice(KEY.as_bytes()).unwrap();
            mac.update(body.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        for signature in [
            format!("sha224={}", hex_of::<Hmac<Sha224>>(BODY)),
            format!("sha384={}", hex_of::<Hmac<Sha384>>(BODY)),
            format!("sha512={}", hex_of::<Hmac<Sha512>>(BODY)),
        ] {
            assert!(
                WEBHOOK
                    .receive(&signed(&signature), BODY.as_bytes(), &with_secret())
                    .is_ok(),
                "{signature}"
            );
        }
    }

    #[test]
    fn a_malformed_event_names_the_member() {
        let settings = WebhookSettings::default();
        for (body, field) in [
            ("[]", "body"),
            ("{", "body"),
            (
                r#"{"severity":"info","timestamp":"2022-09-30T06:40:29Z","reason":"r"}"#,
                "/involvedObject",
            ),
            (
                r#"{"involvedObject":{"kind":7,"name":"a"},"severity":"info","timestamp":"2022-09-30T06:40:29Z","reason":"r"}"#,
                "/involvedObject/kind",
            ),
            (
                r#"{"involvedObject":{"kind":"K","name":"a"},"severity":"info","timestamp":"soon","reason":"r"}"#,
                "/timestamp",
            ),
        ] {
            let refused = WEBHOOK
                .receive(&HeaderMap::new(), body.as_bytes(), &settings)
                .unwrap_err();
            assert_eq!(refused.status, 400, "{body}");
            assert_eq!(refused.field.as_deref(), Some(field), "{body}");
        }
    }

    #[test]
    fn the_same_event_sent_again_has_the_same_id() {
        let settings = WebhookSettings::default();
        let once = WEBHOOK
            .receive(&HeaderMap::new(), BODY.as_bytes(), &settings)
            .unwrap_or_default();
        let again = WEBHOOK
            .receive(&HeaderMap::new(), BODY.as_bytes(), &settings)
            .unwrap_or_default();
        assert_eq!(once[0].id, again[0].id);
        let later = BODY.replace("06:40:29Z", "06:45:29Z");
        let later = WEBHOOK
            .receive(&HeaderMap::new(), later.as_bytes(), &settings)
            .unwrap_or_default();
        assert_ne!(once[0].id, later[0].id);
    }
}
