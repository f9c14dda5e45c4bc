//! `POST /webhooks/bitbucket`: one Bitbucket Cloud webhook delivery -> one CloudEvent.
//!
//! # Checks, in order
//!
//! 1. With `[webhooks.bitbucket] secret` set, `X-Hub-Signature: sha256=<hex>` must be the
//!    HMAC-SHA256 of the raw body under the secret (the webhook's "Secret"; compared in constant
//!    time); missing or wrong: `401` naming the header, nothing stored. Without a secret,
//!    deliveries are accepted unsigned.
//! 2. `X-Event-Key` is required and must look like Bitbucket's event keys (`<category>:<event>`,
//!    e.g. `repo:push`, `pullrequest:fulfilled`): `400` naming the header.
//! 3. The body must be a JSON object: `400` naming `body`. For the events the transformer reads
//!    (`repo:push`, `pullrequest:created`, `pullrequest:fulfilled`, `pullrequest:rejected`), a
//!    member it needs that is missing or of the wrong type is `400` naming it as a JSON pointer
//!    (`/pullrequest/id`); nothing of it is stored.
//!
//! # The CloudEvent
//!
//! | attribute | value |
//! |---|---|
//! | `id` | `X-Request-UUID`; without it, a UUIDv5 of the event key and the SHA-256 of the body ([`body_id`]) |
//! | `type` | [`event_type`] of `X-Event-Key`: `org.bitbucket.cloud.repo.push` |
//! | `source` | the repository URL (`repository.links.html.href`, else `https://bitbucket.org/<repository.full_name>`), else `https://bitbucket.org` |
//! | `datacontenttype` | `application/json` |
//! | `data` | the payload, unchanged |
//!
//! There is no `time`: the request carries none, and the clock would make the event depend on
//! when it arrived (the raw store records the receive time anyway).

use dora_http::Problem;
use dora_model::cloudevent::CloudEvent;
use http::HeaderMap;
use serde_json::Value;

use super::payload::{PullRequestEvent, PushEvent};
use super::transform::event_type;
use crate::common::{is_http_url, read_fields, FieldFault};
use crate::webhook::{
    delivery_id, invalid_request, read_header, request_object, Authentication, Webhook,
};

/// The event key, e.g. `repo:push`.
pub const EVENT_HEADER: &str = "X-Event-Key";
/// The delivery's UUID: the CloudEvent id.
pub const REQUEST_UUID_HEADER: &str = "X-Request-UUID";
/// `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature";
/// The title of its `400`s.
const TITLE: &str = "Invalid Bitbucket webhook request";
/// The first part of a [`body_id`].
const BODY_ID_PATH: &str = "webhooks/bitbucket";

/// `POST /webhooks/bitbucket`: signed when `[webhooks.bitbucket] secret` is set.
pub const WEBHOOK: Webhook = Webhook::new(
    "bitbucket",
    Authentication::Sha256Signature {
        header: SIGNATURE_HEADER,
    },
    adapt,
);

/// Wraps the payload of an authenticated request into one CloudEvent.
fn adapt(headers: &HeaderMap, body: &[u8]) -> Result<Vec<CloudEvent>, Problem> {
    let what = "a Bitbucket event key (e.g. \"repo:push\")";
    let key = read_header(headers, EVENT_HEADER, TITLE, what, |key| {
        is_event_key(key).then_some(key)
    })?;
    let payload = request_object(body, TITLE, "")?;
    check_members(key, &payload)?;
    let id = delivery_id(headers, REQUEST_UUID_HEADER, BODY_ID_PATH, key, body);
    let source = source_of(&payload);
    Ok(vec![CloudEvent::json(id, source, event_type(key), payload)])
}

/// `<category>:<event>`, each of ASCII lowercase letters and `_`.
pub fn is_event_key(key: &str) -> bool {
    let word =
        |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    key.split_once(':')
        .is_some_and(|(category, event)| word(category) && word(event))
}

/// The members the transformer needs, for the events it reads.
fn check_members(key: &str, payload: &Value) -> Result<(), Problem> {
    let fault = match key {
        "repo:push" => read_fields::<PushEvent>(payload).err(),
        "pullrequest:created" | "pullrequest:fulfilled" | "pullrequest:rejected" => {
            read_fields::<PullRequestEvent>(payload).err()
        }
        _ => None,
    };
    match fault {
        None => Ok(()),
        Some(fault) => Err(member(&fault)),
    }
}

fn member(fault: &FieldFault) -> Problem {
    invalid(
        fault.pointer(),
        format!("{} {}", fault.pointer(), fault.what()),
    )
}

/// The id of a delivery without `X-Request-UUID`: [`crate::webhook::body_id`] of
/// `webhooks/bitbucket`, the event key and the body.
pub fn body_id(event_key: &str, body: &[u8]) -> String {
    crate::webhook::body_id(BODY_ID_PATH, event_key, body)
}

/// The CloudEvent source: the repository's web URL, else `https://bitbucket.org/<full_name>`,
/// else `https://bitbucket.org`.
pub fn source_of(payload: &Value) -> String {
    let repository = payload.get("repository");
    let text = |pointer: &str| {
        repository
            .and_then(|repository| repository.pointer(pointer))
            .and_then(Value::as_str)
    };
    if let Some(url) = text("/links/html/href").filter(|url| is_http_url(url)) {
        return url.trim_end_matches('/').to_owned();
    }
    match text("/full_name").filter(|name| !name.is_empty() && !name.contains(char::is_whitespace))
    {
        Some(name) => format!("https://bitbucket.org/{name}"),
        None => "https://bitbucket.org".to_owned(),
    }
}

/// `400` about a header, the body or one member of the payload.
fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Problem {
    invalid_request(TITLE, field, detail)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::WebhookSettings;

    /// The body and signature of bitbucket-branch-source-plugin's own test (MIT; see
    /// tests/fixtures/bitbucket/README.md).
    const BODY: &str =
        include_str!("../../../../tests/fixtures/bitbucket/repo-push-signed/input.json");
    const SECRET: &str = "Gkvl$k$wyNpQAF42";
    const SIGNATURE: &str =
        "sha256=f205c729821c6954aff2afe72b965c34015b4baf96ea8ddc2cc44999c014a035";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, value.parse().unwrap());
        }
        headers
    }

    fn with_secret() -> WebhookSettings {
        let mut settings = WebhookSettings::default();
        settings.bitbucket.secret = Some(SECRET.into());
        settings
    }

    #[test]
    fn the_plugin_test_vector_checks_out() {
        let signed = headers(&[(EVENT_HEADER, "repo:push"), (SIGNATURE_HEADER, SIGNATURE)]);
        let events = WEBHOOK
            .receive(&signed, BODY.as_bytes(), &with_secret())
            .unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event_type, "org.bitbucket.cloud.repo.push");
        assert_eq!(events[0].id, body_id("repo:push", BODY.as_bytes()));
    }

    #[test]
    fn a_wrong_or_missing_signature_is_refused() {
        let other = BODY.replace("\"push\"", "\"push\" ");
        for (signature, body) in [
            (Some(SIGNATURE), other.as_str()),
            (None, BODY),
            (Some(&SIGNATURE[7..]), BODY),
            (Some("sha1=f205c729821c6954aff2afe72b965c34015b4baf"), BODY),
        ] {
            let mut sent = headers(&[(EVENT_HEADER, "repo:push")]);
            if let Some(signature) = signature {
                sent.insert(SIGNATURE_HEADER, signature.parse().unwrap());
            }
            let refused = WEBHOOK
                .receive(&sent, body.as_bytes(), &with_secret())
                .unwrap_err();
            assert_eq!(refused.status, 401);
            assert_eq!(refused.field.as_deref(), Some(SIGNATURE_HEADER));
        }
    }

    #[test]
    fn a_bad_request_names_the_header_the_body_or_the_member() {
        let settings = WebhookSettings::default();
        for (key, body, field) in [
            (None, "{}", EVENT_HEADER),
            (Some("push"), "{}", EVENT_HEADER),
            (Some("Repo:Push"), "{}", EVENT_HEADER),
            (Some("repo:push"), "[]", "body"),
            (Some("repo:push"), "{", "body"),
            (
                Some("repo:push"),
                r#"{"push": {"changes": []}}"#,
                "/repository",
            ),
            (
                Some("pullrequest:fulfilled"),
                r#"{"repository": {"full_name": "w/r"}, "pullrequest": {"id": "x"}}"#,
                "/pullrequest/id",
            ),
        ] {
            let sent = match key {
                Some(key) => headers(&[(EVENT_HEADER, key)]),
                None => HeaderMap::new(),
            };
            let refused = WEBHOOK
                .receive(&sent, body.as_bytes(), &settings)
                .unwrap_err();
            assert_eq!(refused.status, 400, "{key:?} {body}");
            assert_eq!(refused.field.as_deref(), Some(field), "{key:?} {body}");
        }
        let other = headers(&[(EVENT_HEADER, "issue:created")]);
        assert!(
            WEBHOOK.receive(&other, b"{}", &settings).is_ok(),
            "not read: not checked"
        );
    }

    #[test]
    fn the_request_uuid_is_the_id_and_the_repository_the_source() {
        let sent = headers(&[
            (EVENT_HEADER, "repo:push"),
            (REQUEST_UUID_HEADER, "4d0f2a3c-1b2e-4c5d-8e9f-0a1b2c3d4e5f"),
        ]);
        let events = WEBHOOK
            .receive(&sent, BODY.as_bytes(), &WebhookSettings::default())
            .unwrap();
        assert_eq!(events[0].id, "4d0f2a3c-1b2e-4c5d-8e9f-0a1b2c3d4e5f");
        assert!(events[0].source.starts_with("https://bitbucket.org/"));
        assert_eq!(
            source_of(&serde_json::json!({"repository": {"full_name": "w/r"}})),
            "https://bitbucket.org/w/r"
        );
        assert_eq!(source_of(&serde_json::json!({})), "https://bitbucket.org");
    }
}
