//! `POST /webhooks/gitlab`: one GitLab webhook delivery -> one CloudEvent, shaped as Knative's
//! GitLabSource shapes it, so that the `gitlab` transformer serves both ways in.
//!
//! # Checks, in order
//!
//! 1. With `[webhooks.gitlab] token` set, `X-Gitlab-Token` must equal it (GitLab sends the
//!    webhook's "Secret token" verbatim; compared in constant time); missing or wrong: `401`
//!    naming the header, nothing stored. Without a token, deliveries are accepted as they come.
//! 2. `X-Gitlab-Event` is required and must look like GitLab's event names (`<Words> Hook`, e.g.
//!    `Push Hook`, `Merge Request Hook`): `400` naming the header.
//! 3. The body must be a JSON object: `400` naming `body`.
//!
//! # The CloudEvent
//!
//! | attribute | value |
//! |---|---|
//! | `id` | `X-Gitlab-Event-UUID`; without it (older GitLab), [`body_id`]: a UUIDv5 of the event name and the SHA-256 of the body, so that the same delivery sent again is stored once |
//! | `type` | `dev.knative.sources.gitlab.<event>`, `<event>` = [`event_name`] of `X-Gitlab-Event` (`Push Hook` -> `push`, `Merge Request Hook` -> `merge_request`, `Job Hook` -> `job`), as GitLabSource names it |
//! | `source` | the project URL: `project.web_url`, else `project.homepage`, else `repository.homepage` (job hooks), else `X-Gitlab-Instance` (system hooks), else `https://gitlab.com` ([`source_of`]) |
//! | `comgitlabevent` | the `X-Gitlab-Event` header, verbatim (GitLabSource's extension attribute) |
//! | `datacontenttype` | `application/json` |
//! | `data` | the payload, unchanged |
//!
//! There is no `time` and no `subject`, as with GitLabSource's events: the request carries no
//! time, and the clock would make the event depend on when it arrived (the raw store records the
//! receive time anyway). GitLabSource takes its `source` from its `projectUrl`, which is the
//! project's web URL.

use dora_http::Problem;
use dora_model::cloudevent::CloudEvent;
use http::HeaderMap;
use serde_json::{Map, Value};

use super::TYPE_PREFIX;
use crate::webhook::{
    check_signature_header, delivery_id, header, read_header, request_object, tokens_match,
    Authentication, Webhook,
};

/// The event name, e.g. `Push Hook`.
pub const EVENT_HEADER: &str = "X-Gitlab-Event";
/// The delivery's UUID: the CloudEvent id.
pub const EVENT_UUID_HEADER: &str = "X-Gitlab-Event-UUID";
/// The webhook's secret token, verbatim.
pub const TOKEN_HEADER: &str = "X-Gitlab-Token";
/// The title of its `400`s.
const TITLE: &str = "Invalid GitLab webhook request";
/// The first part of a [`body_id`].
const BODY_ID_PATH: &str = "webhooks/gitlab";
/// The GitLab instance's URL (e.g. `https://gitlab.com`).
pub const INSTANCE_HEADER: &str = "X-Gitlab-Instance";
/// GitLabSource's extension attribute carrying `X-Gitlab-Event`.
pub const EVENT_EXTENSION: &str = "comgitlabevent";

/// `POST /webhooks/gitlab`: [`check_token`] when `[webhooks.gitlab] token` is set.
pub const WEBHOOK: Webhook =
    Webhook::new("gitlab", Authentication::HeaderToken(check_token), adapt);

/// Wraps the payload of an authenticated request into one CloudEvent.
fn adapt(headers: &HeaderMap, body: &[u8]) -> Result<Vec<CloudEvent>, Problem> {
    let what = "a GitLab event name (e.g. \"Push Hook\")";
    let (event_header, name) = read_header(headers, EVENT_HEADER, TITLE, what, |value| {
        event_name(value).map(|name| (value, name))
    })?;
    let payload = request_object(body, TITLE, "")?;
    let id = delivery_id(headers, EVENT_UUID_HEADER, BODY_ID_PATH, &name, body);
    let instance = header(headers, INSTANCE_HEADER);
    Ok(vec![delivery(id, event_header, &name, payload, instance)])
}

/// The CloudEvent of one delivery: `payload` sent with `X-Gitlab-Event: <event_header>` (whose
/// [`event_name`] is `name`) and `X-Gitlab-Instance: <instance>`, with the id `id` (also what
/// `dora-events backfill gitlab` wraps its payloads in).
pub fn delivery(
    id: String,
    event_header: &str,
    name: &str,
    payload: Value,
    instance: Option<&str>,
) -> CloudEvent {
    let mut extensions = Map::new();
    extensions.insert(
        EVENT_EXTENSION.to_owned(),
        Value::String(event_header.to_owned()),
    );
    let source = source_of(&payload, instance);
    let event_type = format!("{TYPE_PREFIX}{name}");
    CloudEvent {
        extensions,
        ..CloudEvent::json(id, source, event_type, payload)
    }
}

/// `X-Gitlab-Token` must equal `token`; compared in constant time ([`tokens_match`], so that
/// neither the content nor the length of the token leaks through timing).
fn check_token(headers: &HeaderMap, token: &str) -> Result<(), Problem> {
    check_signature_header(
        headers,
        TOKEN_HEADER,
        format!("{TOKEN_HEADER} is missing; a webhook token is configured"),
        format!("{TOKEN_HEADER} is not the configured webhook token"),
        |sent| tokens_match(sent.as_bytes(), token.as_bytes()),
    )
}

/// GitLabSource's event name of an `X-Gitlab-Event` value: without the ` Hook` suffix, in
/// lowercase, spaces as `_` (`Merge Request Hook` -> `merge_request`). `None` for a value that
/// is not `<words> Hook` with words of ASCII letters separated by single spaces.
pub fn event_name(header_value: &str) -> Option<String> {
    let words = header_value.trim().strip_suffix(" Hook")?;
    let valid = !words.is_empty()
        && words
            .split(' ')
            .all(|word| !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphabetic()));
    valid.then(|| words.to_ascii_lowercase().replace(' ', "_"))
}

/// The id of a delivery without `X-Gitlab-Event-UUID`: [`crate::webhook::body_id`] of
/// `webhooks/gitlab`, the event name and the body.
pub fn body_id(event_name: &str, body: &[u8]) -> String {
    crate::webhook::body_id(BODY_ID_PATH, event_name, body)
}

/// The CloudEvent source: the project URL, else the job hook's `repository.homepage`, else the
/// instance (`X-Gitlab-Instance`), else `https://gitlab.com`.
pub fn source_of(payload: &Value, instance: Option<&str>) -> String {
    let url = |text: &str| {
        let http = text.starts_with("https://") || text.starts_with("http://");
        (http && text.len() > "https://".len() && !text.chars().any(char::is_whitespace))
            .then(|| text.trim_end_matches('/').to_owned())
    };
    let at = |path: &[&str]| {
        path.iter()
            .try_fold(payload, |value, key| value.get(key))
            .and_then(Value::as_str)
            .and_then(url)
    };
    at(&["project", "web_url"])
        .or_else(|| at(&["project", "homepage"]))
        .or_else(|| at(&["repository", "homepage"]))
        .or_else(|| instance.map(str::trim).and_then(url))
        .unwrap_or_else(|| "https://gitlab.com".to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn event_names_follow_gitlab_source() {
        for (header, name) in [
            ("Push Hook", Some("push")),
            ("Tag Push Hook", Some("tag_push")),
            ("Merge Request Hook", Some("merge_request")),
            ("Pipeline Hook", Some("pipeline")),
            ("Job Hook", Some("job")),
            ("Deployment Hook", Some("deployment")),
            ("Issue Hook", Some("issue")),
            ("Confidential Issue Hook", Some("confidential_issue")),
            ("Resource Access Token Hook", Some("resource_access_token")),
            ("System Hook", Some("system")),
            (" Push Hook ", Some("push")),
            ("push", None),
            ("Hook", None),
            (" Hook", None),
            ("Push  Hook", None),
            ("Push_Hook", None),
            ("Push Hook Hook2", None),
            ("Push\tHook", None),
            ("Püsh Hook", None),
        ] {
            assert_eq!(event_name(header).as_deref(), name, "{header:?}");
        }
    }

    #[test]
    fn body_ids_are_deterministic_and_depend_on_event_and_body() {
        assert_eq!(body_id("push", b"{}"), body_id("push", b"{}"));
        assert_ne!(body_id("push", b"{}"), body_id("push", b"{ }"));
        assert_ne!(body_id("push", b"{}"), body_id("job", b"{}"));
        assert_eq!(body_id("push", b"{}").len(), 36);
    }

    #[test]
    fn sources_prefer_the_project() {
        let cases = [
            (
                json!({"project": {"web_url": "http://10.0.0.1:3000/g/p/"},
                       "repository": {"homepage": "http://other/g/p"}}),
                None,
                "http://10.0.0.1:3000/g/p",
            ),
            (
                json!({"project": {"web_url": "not a url", "homepage": "https://h/g/p"}}),
                None,
                "https://h/g/p",
            ),
            (
                json!({"repository": {"homepage": "https://gitlab.example.com/g/p"}}),
                Some("https://gitlab.example.com"),
                "https://gitlab.example.com/g/p",
            ),
            (
                json!({"event_name": "project_create"}),
                Some("https://gitlab.example.com"),
                "https://gitlab.example.com",
            ),
            (json!({}), Some("nonsense"), "https://gitlab.com"),
            (
                json!({"project": {"web_url": 3}}),
                None,
                "https://gitlab.com",
            ),
        ];
        for (payload, instance, expected) in cases {
            assert_eq!(source_of(&payload, instance), expected, "{payload}");
        }
    }
}
