//! What every webhook shares: the `[webhooks.<tool>]` secret or token, checking an HMAC
//! signature or a bearer token in constant time, and `401` when it does not check out.
//!
//! A source's own webhook (`POST /webhooks/{tool}`, a [`Webhook`], see
//! [`crate::Source::webhook`]) names its [`Authentication`], which [`Webhook::receive`] checks
//! first, and its [`Adapter`], which then wraps the tool's payload into CloudEvents that are
//! stored raw and routed to the source's transformer.

use chrono::{DateTime, Utc};
use dora_http::Problem;
use dora_model::cloudevent::CloudEvent;
use dora_model::ids::derived_id;
use dora_model::time::format_rfc3339;
use hmac::digest::{CtOutput, KeyInit};
use hmac::{Hmac, Mac};
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub use crate::WebhookSettings;

/// A shared HMAC secret (`[webhooks.github] secret = "..."`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretSetting {
    pub secret: Option<String>,
}

/// A shared token sent as a header (`[webhooks.gitlab] token = "..."`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenSetting {
    pub token: Option<String>,
}

/// How a webhook is authenticated, as `[webhooks.<tool>]` sets it.
pub trait WebhookAuth {
    /// The secret or token, when set (without one, requests are accepted unsigned).
    fn key(&self) -> Option<&str>;

    /// Whether a secret or token is set.
    fn is_set(&self) -> bool {
        self.key().is_some()
    }
}

impl WebhookAuth for SecretSetting {
    fn key(&self) -> Option<&str> {
        self.secret.as_deref()
    }
}

impl WebhookAuth for TokenSetting {
    fn key(&self) -> Option<&str> {
        self.token.as_deref()
    }
}

/// Turns the payload of one webhook request, once authenticated, into CloudEvents.
pub type Adapter = fn(&HeaderMap, &[u8]) -> Result<Vec<CloudEvent>, Problem>;

/// How a tool proves that a webhook request comes from it, under the secret or token of
/// `[webhooks.<tool>]`; a request that does not is `401` naming the header.
#[derive(Debug, Clone, Copy)]
pub enum Authentication {
    /// `sha256=<hex HMAC-SHA256 of the body>` in `header` ([`check_sha256_signature`]).
    Sha256Signature { header: &'static str },
    /// `Authorization: Bearer <token>` ([`check_bearer`]); `hint` says where the sender sets it.
    Bearer { hint: &'static str },
    /// A token in a header of the tool's own, checked by the tool's function under the token.
    HeaderToken(fn(&HeaderMap, &str) -> Result<(), Problem>),
    /// A signature of the body in `header`, checked by the tool's function under the secret.
    BodySignature {
        header: &'static str,
        check: fn(&HeaderMap, &[u8], &str) -> Result<(), Problem>,
    },
}

impl Authentication {
    /// Checks a request to the webhook of `tool` under `key`, its secret or token.
    pub fn check(
        self,
        tool: &str,
        headers: &HeaderMap,
        body: &[u8],
        key: &str,
    ) -> Result<(), Problem> {
        match self {
            Self::Sha256Signature { header } => check_sha256_signature(headers, header, body, key),
            Self::BodySignature { check, .. } => check(headers, body, key),
            Self::Bearer { .. } | Self::HeaderToken(_) => self.check_headers(tool, headers, key),
        }
    }

    /// What the headers alone decide, before the body is read: the whole check of a token; the
    /// presence of a signature, which the body's check then verifies.
    fn check_headers(self, tool: &str, headers: &HeaderMap, key: &str) -> Result<(), Problem> {
        match self {
            Self::Bearer { hint } => check_bearer(headers, key, tool, hint),
            Self::HeaderToken(check) => check(headers, key),
            Self::Sha256Signature { header: name } | Self::BodySignature { header: name, .. } => {
                match header(headers, name) {
                    Some(_) => Ok(()),
                    None => Err(unauthorized(missing_signature(name), name)),
                }
            }
        }
    }
}

/// The detail of a `401` for a request without its signature header `name`.
pub fn missing_signature(name: &str) -> String {
    format!("{name} is missing; a webhook secret is configured")
}

/// A source's `POST /webhooks/<tool>`: how a request is authenticated, and how its payload
/// becomes CloudEvents.
#[derive(Debug, Clone, Copy)]
pub struct Webhook {
    /// The tool, as `/webhooks/<tool>` and `[webhooks.<tool>]` name it (the source's name).
    tool: &'static str,
    /// The check of every request when `[webhooks.<tool>]` sets a secret or token.
    authentication: Authentication,
    /// The payload's CloudEvents, for a request that passed the check: reached only through
    /// [`Webhook::receive`], so that no caller skips the check.
    adapt: Adapter,
}

impl Webhook {
    /// The webhook of `tool` (its source's name), authenticated by `authentication`, whose
    /// payloads `adapt` turns into CloudEvents.
    pub const fn new(tool: &'static str, authentication: Authentication, adapt: Adapter) -> Self {
        Self {
            tool,
            authentication,
            adapt,
        }
    }

    /// The tool, as `/webhooks/<tool>` and `[webhooks.<tool>]` name it.
    pub fn tool(&self) -> &'static str {
        self.tool
    }

    /// What the headers of a request decide of its authentication when `settings` has a secret
    /// or token for the tool: a token's whole check, a signature's presence. Run before the body
    /// is read, so that a request without them costs no body; [`Webhook::receive`] checks all
    /// again.
    pub fn check_headers(
        &self,
        headers: &HeaderMap,
        settings: &WebhookSettings,
    ) -> Result<(), Problem> {
        match settings.key(self.tool) {
            Some(key) => self.authentication.check_headers(self.tool, headers, key),
            None => Ok(()),
        }
    }

    /// One request: authenticated when `settings` has a secret or token for the tool (else
    /// accepted unsigned), then turned into CloudEvents.
    pub fn receive(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        settings: &WebhookSettings,
    ) -> Result<Vec<CloudEvent>, Problem> {
        if let Some(key) = settings.key(self.tool) {
            self.authentication.check(self.tool, headers, body, key)?;
        }
        (self.adapt)(headers, body)
    }
}

/// `401` for a request whose signature or token does not check out.
pub fn unauthorized(detail: impl Into<String>, header: &str) -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        "bad-signature",
        "Signature check failed",
        detail,
    )
    .with_field(header)
}

/// Checks `signature_hex` (lowercase or uppercase hex) as the HMAC-SHA256 of `body` under
/// `secret`, in constant time.
pub fn hmac_sha256_matches(secret: &[u8], body: &[u8], signature_hex: &str) -> bool {
    hmac_matches::<Hmac<Sha256>>(secret, body, signature_hex)
}

/// Checks `signature_hex` (lowercase or uppercase hex) as the HMAC `M` of `body` under
/// `secret`, in constant time.
pub fn hmac_matches<M: Mac + KeyInit>(secret: &[u8], body: &[u8], signature_hex: &str) -> bool {
    let Ok(expected) = hex::decode(signature_hex.trim()) else {
        return false;
    };
    let Ok(mut mac) = <M as KeyInit>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// The header `name` that carries a signature or a token, checked by `matches`: missing, `401`
/// saying `missing`; not matching, `401` saying `mismatch`; both name the header.
pub fn check_signature_header(
    headers: &HeaderMap,
    name: &str,
    missing: impl Into<String>,
    mismatch: impl Into<String>,
    matches: impl FnOnce(&str) -> bool,
) -> Result<(), Problem> {
    match header(headers, name) {
        None => Err(unauthorized(missing, name)),
        Some(value) if matches(value) => Ok(()),
        Some(_) => Err(unauthorized(mismatch, name)),
    }
}

/// `sha256=<hex HMAC-SHA256 of body under secret>`: the header value GitHub, Bitbucket, Jira and
/// Flux's `generic-hmac` send, which [`check_sha256_signature`] accepts (tests and fuzzing sign
/// with it).
pub fn sha256_signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length: the error case cannot happen and would sign nothing.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// `header` must be `sha256=` and the hex HMAC-SHA256 of `body` under `secret` (GitHub's
/// `X-Hub-Signature-256`, Bitbucket Cloud's and Jira's `X-Hub-Signature`); missing or wrong: `401` naming
/// the header.
pub fn check_sha256_signature(
    headers: &HeaderMap,
    header_name: &str,
    body: &[u8],
    secret: &str,
) -> Result<(), Problem> {
    check_signature_header(
        headers,
        header_name,
        missing_signature(header_name),
        format!(
            "{header_name} is not sha256=<HMAC-SHA256 of the body under the configured secret>"
        ),
        |value| {
            value
                .trim()
                .strip_prefix("sha256=")
                .is_some_and(|hex| hmac_sha256_matches(secret.as_bytes(), body, hex))
        },
    )
}

/// A header as text, if present and readable.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A header as text without surrounding white space, if present, readable and not blank.
pub fn present_header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    header(headers, name)
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

/// `400` about a header or the body of a code host's delivery (`type` `invalid-webhook`);
/// `title` is the problem's (`Invalid GitHub webhook request`).
pub fn invalid_request(
    title: &str,
    field: impl Into<String>,
    detail: impl Into<String>,
) -> Problem {
    Problem::bad_request("invalid-webhook", title, field, detail)
}

/// The header `name`, required: missing or blank, [`invalid_request`] with `title` naming it.
pub fn required_header<'a>(
    headers: &'a HeaderMap,
    name: &str,
    title: &str,
) -> Result<&'a str, Problem> {
    present_header(headers, name)
        .ok_or_else(|| invalid_request(title, name, format!("{name} is missing")))
}

/// The header `name`, required ([`required_header`]) and read by `read`; a value `read` does not
/// take is [`invalid_request`] with `title` saying that it is not `what`
/// (`a GitHub event name`).
pub fn read_header<'a, T>(
    headers: &'a HeaderMap,
    name: &str,
    title: &str,
    what: &str,
    read: impl FnOnce(&'a str) -> Option<T>,
) -> Result<T, Problem> {
    let value = required_header(headers, name, title)?;
    read(value)
        .ok_or_else(|| invalid_request(title, name, format!("{name} {value:?} is not {what}")))
}

/// A code host's body, which must be a JSON object; else [`invalid_request`] with `title` naming
/// `body` (`hint` follows the JSON error: what the sender should set).
pub fn request_object(body: &[u8], title: &str, hint: &str) -> Result<Value, Problem> {
    let payload: Value = serde_json::from_slice(body)
        .map_err(|e| invalid_request(title, "body", format!("the body is not JSON ({e}){hint}")))?;
    if !payload.is_object() {
        return Err(invalid_request(
            title,
            "body",
            "the body is not a JSON object",
        ));
    }
    Ok(payload)
}

/// The id of a delivery: the header `id_header` (the tool's delivery UUID) when sent, else
/// [`body_id`] of `path`, `name` and `body`.
pub fn delivery_id(
    headers: &HeaderMap,
    id_header: &str,
    path: &str,
    name: &str,
    body: &[u8],
) -> String {
    present_header(headers, id_header).map_or_else(|| body_id(path, name, body), str::to_owned)
}

/// The id of a delivery without one of its own: a UUIDv5 of `path` (`webhooks/gitlab`), the
/// event's `name` and the hex SHA-256 of the raw body. The same bytes sent again get the same id
/// (and are stored once); any other delivery differs in its body.
pub fn body_id(path: &str, name: &str, body: &[u8]) -> String {
    let digest = hex::encode(Sha256::digest(body));
    derived_id(&[path, name, &digest])
}

/// The scheme and host of a URL: `https://acme.pagerduty.com` for
/// `https://acme.pagerduty.com/incidents/PFQZPSY` (the account or site of a tool); `None` for
/// anything that is not an absolute http(s) URL with a host.
pub fn url_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    if host.is_empty() || host.contains(char::is_whitespace) {
        return None;
    }
    Some(format!("{scheme}://{}", host.to_ascii_lowercase()))
}

/// The one CloudEvent of a delivery whose payload is stored as sent, at `time` (written as
/// RFC 3339).
pub fn payload_event_at(
    id: String,
    source: String,
    event_type: String,
    payload: Map<String, Value>,
    time: DateTime<Utc>,
) -> Vec<CloudEvent> {
    let time_text = format_rfc3339(&time);
    vec![CloudEvent::json(id, source, event_type, Value::Object(payload)).at(time, time_text)]
}

/// `400` about one field of a tool's payload; `title` is the problem's (`Invalid Opsgenie
/// payload`), `field` a JSON pointer or `body`.
pub fn invalid_payload(
    title: &str,
    field: impl Into<String>,
    detail: impl Into<String>,
) -> Problem {
    let field = field.into();
    let detail = format!("{field}: {}", detail.into());
    Problem::bad_request("invalid-webhook-payload", title, field, detail)
}

/// The body as a JSON object; else [`invalid_payload`] with `title`, naming `body` and saying
/// that `what` (`a Jira webhook payload`) must be one.
pub fn json_object_body(
    body: &[u8],
    what: &str,
    title: &str,
) -> Result<Map<String, Value>, Problem> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(invalid_payload(
            title,
            "body",
            format!("{what} must be a JSON object"),
        )),
        Err(e) => Err(invalid_payload(
            title,
            "body",
            format!("not valid JSON: {e}"),
        )),
    }
}

/// The object member `name` of the payload object at the JSON pointer `at`; else
/// [`invalid_payload`] with `title`, naming `<at>/<name>`.
pub fn required_object<'a>(
    object: &'a Map<String, Value>,
    at: &str,
    name: &str,
    title: &str,
) -> Result<&'a Map<String, Value>, Problem> {
    let pointer = format!("{at}/{name}");
    match object.get(name) {
        Some(Value::Object(member)) => Ok(member),
        None | Some(Value::Null) => Err(invalid_payload(title, pointer, "is required (an object)")),
        Some(_) => Err(invalid_payload(title, pointer, "must be an object")),
    }
}

/// The non-empty string member `name` of the payload object at the JSON pointer `at`; else
/// [`invalid_payload`] with `title`, naming `<at>/<name>`.
pub fn required_text<'a>(
    object: &'a Map<String, Value>,
    at: &str,
    name: &str,
    title: &str,
) -> Result<&'a str, Problem> {
    let pointer = format!("{at}/{name}");
    match object.get(name) {
        Some(Value::String(text)) if !text.is_empty() => Ok(text),
        None | Some(Value::Null) | Some(Value::String(_)) => Err(invalid_payload(
            title,
            pointer,
            "is required (a non-empty string)",
        )),
        Some(_) => Err(invalid_payload(title, pointer, "must be a string")),
    }
}

/// `Authorization: Bearer <token>`, with the token compared in constant time. `tool` names the
/// `[webhooks.<tool>]` section in the mismatch message; `hint` says where the sender sets the
/// header (shown when it is missing).
pub fn check_bearer(
    headers: &HeaderMap,
    token: &str,
    tool: &str,
    hint: &str,
) -> Result<(), Problem> {
    const AUTHORIZATION: &str = "Authorization";
    let Some(value) = header(headers, "authorization") else {
        return Err(unauthorized(
            format!(
                "the request has no Authorization header; send Authorization: Bearer <token> \
                 ({hint})"
            ),
            AUTHORIZATION,
        ));
    };
    let presented = value
        .trim()
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, presented)| presented.trim());
    match presented {
        Some(presented) if tokens_match(presented.as_bytes(), token.as_bytes()) => Ok(()),
        Some(_) => Err(unauthorized(
            format!("the bearer token does not match [webhooks.{tool}] token"),
            AUTHORIZATION,
        )),
        None => Err(unauthorized(
            "the Authorization header is not of the form Bearer <token>",
            AUTHORIZATION,
        )),
    }
}

/// Equality of two secrets in constant time: both are reduced to HMAC tags of the same length,
/// compared by `CtOutput` (no early exit, and the lengths of the secrets do not show).
pub fn tokens_match(presented: &[u8], expected: &[u8]) -> bool {
    let tag = |secret: &[u8]| -> Option<CtOutput<Hmac<Sha256>>> {
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(b"dora-events webhook token").ok()?;
        mac.update(secret);
        Some(mac.finalize())
    };
    match (tag(presented), tag(expected)) {
        (Some(presented), Some(expected)) => presented == expected,
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {

    #[test]
    fn url_origin_keeps_scheme_and_host() {
        assert_eq!(
            url_origin("https://pig208.pagerduty.com/incidents/PFQZPSY").as_deref(),
            Some("https://pig208.pagerduty.com")
        );
        assert_eq!(
            url_origin("HTTPS://Acme.PagerDuty.com").as_deref(),
            Some("https://acme.pagerduty.com")
        );
        assert_eq!(
            url_origin("https://user@acme.pagerduty.com:8443?x").as_deref(),
            Some("https://acme.pagerduty.com:8443")
        );
        assert_eq!(url_origin("/incidents/P1"), None);
        assert_eq!(url_origin("ftp://acme/x"), None);
        assert_eq!(url_origin("https:///x"), None);
    }
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(tokens_match(b"s3cret", b"s3cret"));
        assert!(!tokens_match(b"s3cret", b"s3cre"));
        assert!(!tokens_match(b"s3cret ", b"s3cret"));
        assert!(!tokens_match(b"", b"s3cret"));
        assert!(tokens_match(b"", b""));
    }

    #[test]
    fn body_ids_are_deterministic_and_depend_on_path_event_and_body() {
        let push = body_id("webhooks/gitlab", "push", b"{}");
        assert_eq!(push, body_id("webhooks/gitlab", "push", b"{}"));
        assert_eq!(push.len(), 36);
        for (path, name, body) in [
            ("webhooks/gitlab", "push", b"{ }".as_slice()),
            ("webhooks/gitlab", "job", b"{}"),
            ("webhooks/bitbucket", "push", b"{}"),
        ] {
            assert_ne!(push, body_id(path, name, body), "{path} {name}");
        }
    }

    #[test]
    fn hmac_matches_the_rfc_4231_test_vector_and_nothing_else() {
        // RFC 4231, test case 2.
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert!(hmac_sha256_matches(
            b"Jefe",
            b"what do ya want for nothing?",
            expected
        ));
        assert!(hmac_sha256_matches(
            b"Jefe",
            b"what do ya want for nothing?",
            &expected.to_uppercase()
        ));
        assert!(!hmac_sha256_matches(
            b"Jefe",
            b"what do ya want for nothing!",
            expected
        ));
        assert!(!hmac_sha256_matches(
            b"jefe",
            b"what do ya want for nothing?",
            expected
        ));
        assert!(!hmac_sha256_matches(
            b"Jefe",
            b"what do ya want for nothing?",
            "zz"
        ));
    }
}
