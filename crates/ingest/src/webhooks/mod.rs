//! Webhooks of tools that do not speak CloudEvents: `POST /webhooks/{tool}`.
//!
//! An adapter checks the request's signature or token, then wraps the tool's payload into one
//! or more CloudEvents, which are stored raw like any other event and routed to the tool's
//! transformer. The CloudEvent types match what the tool's Knative source would send, so one
//! transformer serves both ways in. A payload the tool could send but that dora-events does not
//! map is still stored (and answered `202`); a bad signature is `401` and stores nothing.

use axum::http::{HeaderMap, StatusCode};
use dora_http::Problem;
use dora_model::cloudevent::CloudEvent;
use hmac::digest::CtOutput;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub mod alertmanager;
pub mod argocd;
pub mod github;
pub mod gitlab;
pub mod pagerduty;

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

/// `[webhooks.*]`: how each webhook is authenticated. Without a secret or token a webhook is
/// accepted unsigned (the server warns once at start).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSettings {
    pub github: SecretSetting,
    pub gitlab: TokenSetting,
    pub alertmanager: TokenSetting,
    pub pagerduty: SecretSetting,
    pub argocd: TokenSetting,
}

impl WebhookSettings {
    /// The webhooks that accept unsigned requests, for the warning at start.
    pub fn unsigned(&self) -> Vec<&'static str> {
        let mut unsigned = Vec::new();
        if self.github.secret.is_none() {
            unsigned.push("github");
        }
        if self.gitlab.token.is_none() {
            unsigned.push("gitlab");
        }
        if self.argocd.token.is_none() {
            unsigned.push("argocd");
        }
        if self.alertmanager.token.is_none() {
            unsigned.push("alertmanager");
        }
        if self.pagerduty.secret.is_none() {
            unsigned.push("pagerduty");
        }
        unsigned
    }
}

/// Turns one webhook request into CloudEvents, after checking its signature.
pub type Adapter = fn(&HeaderMap, &[u8], &WebhookSettings) -> Result<Vec<CloudEvent>, Problem>;

/// The adapter of a tool, by its path segment.
pub fn adapter_for(tool: &str) -> Option<Adapter> {
    match tool {
        "github" => Some(github::adapt),
        "gitlab" => Some(gitlab::adapt),
        "argocd" => Some(argocd::adapt),
        "alertmanager" => Some(alertmanager::adapt),
        "pagerduty" => Some(pagerduty::adapt),
        _ => None,
    }
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
    let Ok(expected) = hex::decode(signature_hex.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// A header as text, if present and readable.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
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
fn tokens_match(presented: &[u8], expected: &[u8]) -> bool {
    let tag = |secret: &[u8]| -> Option<CtOutput<Hmac<Sha256>>> {
        let mut mac = Hmac::<Sha256>::new_from_slice(b"dora-events webhook token").ok()?;
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
    use super::*;

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

    #[test]
    fn every_tool_has_an_adapter_and_unknown_ones_none() {
        for tool in ["github", "gitlab", "argocd", "alertmanager", "pagerduty"] {
            assert!(adapter_for(tool).is_some(), "{tool}");
        }
        assert!(adapter_for("jenkins").is_none());
    }
}
