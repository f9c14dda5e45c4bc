//! `POST /webhooks/github`: one GitHub webhook delivery -> one CloudEvent, shaped as Knative's
//! GitHubSource shapes it, so that the `github` transformer serves both ways in.
//!
//! # Checks, in order
//!
//! 1. With `[webhooks.github] secret` set, `X-Hub-Signature-256: sha256=<hex>` must be the
//!    HMAC-SHA256 of the raw body under the secret (compared in constant time); missing or wrong:
//!    `401`, nothing stored. Without a secret, deliveries are accepted unsigned.
//! 2. `X-GitHub-Event` (the event name, e.g. `push`) and `X-GitHub-Delivery` (a GUID) are
//!    required: `400` naming the header.
//! 3. The body must be a JSON object (the webhook's content type `application/json`): `400`
//!    naming `body`.
//!
//! # The CloudEvent
//!
//! | attribute | value |
//! |---|---|
//! | `id` | `X-GitHub-Delivery` (a redelivery has the same GUID, so the raw store keeps it once) |
//! | `type` | `dev.knative.source.github.<X-GitHub-Event>` |
//! | `source` | the repository URL: `repository.html_url`, else `https://github.com/<repository.full_name>`; without a repository (organization hooks' `ping`, `membership`, ...) `https://github.com/<organization.login>`, else the sender's URL, else `https://github.com` |
//! | `subject` | what GitHubSource puts there ([`subject_of`]): the pull request or issue number, the deployment id, the release tag, the push's compare range, ...; none for the events GitHubSource does not handle (`workflow_run`, `workflow_job`, ...) |
//! | `datacontenttype` | `application/json` |
//! | `data` | the payload, unchanged |
//!
//! There is no `time`: the request carries none, and the clock would make the event depend on
//! when it arrived (the raw store records the receive time anyway). GitHubSource's extension
//! attributes (`owner`, `repository`, `sender`, `action`, ...) are not added: they repeat the
//! payload, and nothing downstream reads them. GitHubSource takes its `source` from its own
//! configuration (`https://github.com/<owner>/<repo>` or `https://github.com/<org>`); for a
//! repository on github.com that is the same URL.

use dora_http::Problem;
use dora_model::cloudevent::CloudEvent;
use http::HeaderMap;
use serde_json::Value;

use super::TYPE_PREFIX;
use crate::webhook::{read_header, request_object, required_header, Authentication, Webhook};

/// The event name.
pub const EVENT_HEADER: &str = "X-GitHub-Event";
/// The delivery GUID: the CloudEvent id.
pub const DELIVERY_HEADER: &str = "X-GitHub-Delivery";
/// `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";
/// The title of its `400`s.
const TITLE: &str = "Invalid GitHub webhook request";

/// `POST /webhooks/github`: signed when `[webhooks.github] secret` is set.
pub const WEBHOOK: Webhook = Webhook::new(
    "github",
    Authentication::Sha256Signature {
        header: SIGNATURE_HEADER,
    },
    adapt,
);

/// Wraps the payload of an authenticated request into one CloudEvent.
fn adapt(headers: &HeaderMap, body: &[u8]) -> Result<Vec<CloudEvent>, Problem> {
    let event_name = read_header(
        headers,
        EVENT_HEADER,
        TITLE,
        "a GitHub event name",
        |name| {
            name.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
                .then_some(name)
        },
    )?;
    let delivery = required_header(headers, DELIVERY_HEADER, TITLE)?;
    let hint = "; set the webhook's content type to application/json";
    let payload = request_object(body, TITLE, hint)?;
    let (source, subject) = (source_of(&payload), subject_of(event_name, &payload));
    let event_type = format!("{TYPE_PREFIX}{event_name}");
    Ok(vec![CloudEvent::json(
        delivery.to_owned(),
        source,
        event_type,
        payload,
    )
    .about(subject)])
}

/// The CloudEvent source: the repository URL, else the organization's or the sender's.
pub fn source_of(payload: &Value) -> String {
    let text = |path: &[&str]| {
        path.iter()
            .try_fold(payload, |value, key| value.get(key))
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty() && !text.chars().any(char::is_whitespace))
    };
    let http = |url: &str| url.starts_with("https://") || url.starts_with("http://");
    if let Some(full_name) = text(&["repository", "full_name"]) {
        return match text(&["repository", "html_url"]).filter(|url| http(url)) {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("https://github.com/{full_name}"),
        };
    }
    if let Some(login) = text(&["organization", "login"]) {
        return format!("https://github.com/{login}");
    }
    if let Some(url) = text(&["sender", "html_url"]).filter(|url| http(url)) {
        return url.trim_end_matches('/').to_owned();
    }
    if let Some(login) = text(&["sender", "login"]) {
        return format!("https://github.com/{login}");
    }
    "https://github.com".to_owned()
}

/// The CloudEvent subject GitHubSource gives the event (knative-extensions/eventing-github
/// `SubjectAndExtensionsFromGitHubEvent`); `None` for events it does not know, and when the
/// payload lacks the field.
pub fn subject_of(event_name: &str, payload: &Value) -> Option<String> {
    let at = |path: &[&str]| -> Option<String> {
        match path.iter().try_fold(payload, |value, key| value.get(key))? {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        }
    };
    let last_path_portion = |url: String| url.rsplit_once('/').map(|(_, last)| last.to_owned());
    let subject = match event_name {
        "check_run" => at(&["check_run", "id"]),
        "check_suite" => at(&["check_suite", "id"]),
        "commit_comment" | "issue_comment" => {
            at(&["comment", "html_url"]).and_then(last_path_portion)
        }
        "create" | "delete" => at(&["ref_type"]),
        "deployment" | "deployment_status" => at(&["deployment", "id"]),
        "discussion" => at(&["discussion", "id"]),
        "fork" => at(&["forkee", "id"]),
        "gollum" => payload.get("pages").and_then(Value::as_array).map(|pages| {
            pages
                .iter()
                .filter_map(|page| page.get("page_name").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(",")
        }),
        "installation"
        | "installation_repositories"
        | "integration_installation"
        | "integration_installation_repositories" => at(&["installation", "id"]),
        "issues" => at(&["issue", "number"]),
        "label" => at(&["label", "name"]),
        "member" | "membership" => at(&["member", "id"]),
        "milestone" => at(&["milestone", "number"]),
        "organization" | "org_block" | "project" | "project_card" | "project_column" => {
            at(&["action"])
        }
        "page_build" => at(&["id"]),
        "ping" => at(&["hook_id"]),
        "public" | "repository" | "team_add" | "watch" => at(&["repository", "id"]),
        "pull_request" => at(&["pull_request", "number"]),
        "pull_request_review" => at(&["review", "id"]),
        "pull_request_review_comment" => at(&["comment", "id"]),
        "push" => at(&["compare"]).and_then(last_path_portion),
        "release" => at(&["release", "tag_name"]),
        "repository_vulnerability_alert" => at(&["alert", "id"]),
        "security_advisory" => at(&["security_advisory", "ghsa_id"]),
        "status" => at(&["sha"]),
        "team" => at(&["team", "id"]),
        _ => None,
    };
    subject.filter(|subject| !subject.is_empty())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subjects_follow_github_source() {
        let cases = [
            (
                "pull_request",
                json!({"pull_request": {"number": 2}}),
                Some("2"),
            ),
            ("issues", json!({"issue": {"number": 1}}), Some("1")),
            (
                "push",
                json!({"compare": "https://github.com/o/r/compare/6113728f27ae...000000000000"}),
                Some("6113728f27ae...000000000000"),
            ),
            (
                "issue_comment",
                json!({"comment": {"html_url": "https://github.com/o/r/issues/2#issuecomment-393304133"}}),
                Some("2#issuecomment-393304133"),
            ),
            (
                "deployment_status",
                json!({"deployment": {"id": 145988746}}),
                Some("145988746"),
            ),
            (
                "release",
                json!({"release": {"tag_name": "0.0.1"}}),
                Some("0.0.1"),
            ),
            ("create", json!({"ref_type": "tag"}), Some("tag")),
            ("ping", json!({"hook_id": 30}), Some("30")),
            (
                "gollum",
                json!({"pages": [{"page_name": "Home"}, {"page_name": "Main"}]}),
                Some("Home,Main"),
            ),
            ("workflow_run", json!({"workflow_run": {"id": 1}}), None),
            ("pull_request", json!({}), None),
            ("push", json!({"compare": ""}), None),
        ];
        for (event, payload, expected) in cases {
            assert_eq!(subject_of(event, &payload).as_deref(), expected, "{event}");
        }
    }

    #[test]
    fn sources_prefer_the_repository() {
        let cases = [
            (
                json!({"repository": {"full_name": "o/r", "html_url": "https://ghe.example.com/o/r"}}),
                "https://ghe.example.com/o/r",
            ),
            (
                json!({"repository": {"full_name": "o/r"}}),
                "https://github.com/o/r",
            ),
            (
                json!({"repository": {"full_name": "o/r", "html_url": "not a url"}}),
                "https://github.com/o/r",
            ),
            (
                json!({"organization": {"login": "org"}, "sender": {"login": "u"}}),
                "https://github.com/org",
            ),
            (json!({"sender": {"login": "u"}}), "https://github.com/u"),
            (json!({}), "https://github.com"),
        ];
        for (payload, expected) in cases {
            assert_eq!(source_of(&payload), expected, "{payload}");
        }
    }
}
