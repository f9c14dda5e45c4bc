//! What every webhook shares: the `[webhooks.<tool>]` secret or token, checking an HMAC
//! signature or a bearer token in constant time, and `401` when it does not check out.
//!
//! A source's own webhook (`POST /webhooks/{tool}`, see [`crate::Source::webhook`]) checks the
//! request with these, then wraps the tool's payload into CloudEvents that are stored raw and
//! routed to the source's transformer.

use dora_http::Problem;
use dora_model::cloudevent::CloudEvent;
use hmac::digest::CtOutput;
use hmac::{Hmac, Mac};
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

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
    /// Whether a secret or token is set (without one, requests are accepted unsigned).
    fn is_set(&self) -> bool;
}

impl WebhookAuth for SecretSetting {
    fn is_set(&self) -> bool {
        self.secret.is_some()
    }
}

impl WebhookAuth for TokenSetting {
    fn is_set(&self) -> bool {
        self.token.is_some()
    }
}

/// Turns one webhook request into CloudEvents, after checking its signature.
pub type Adapter = fn(&HeaderMap, &[u8], &WebhookSettings) -> Result<Vec<CloudEvent>, Problem>;

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

/// `header` must be `sha256=` and the hex HMAC-SHA256 of `body` under `secret` (GitHub's
/// `X-Hub-Signature-256`, Bitbucket Cloud's `X-Hub-Signature`); missing or wrong: `401` naming
/// the header.
pub fn check_sha256_signature(
    headers: &HeaderMap,
    header_name: &str,
    body: &[u8],
    secret: &str,
) -> Result<(), Problem> {
    let Some(value) = header(headers, header_name) else {
        return Err(unauthorized(
            format!("{header_name} is missing; a webhook secret is configured"),
            header_name,
        ));
    };
    let matches = value
        .trim()
        .strip_prefix("sha256=")
        .is_some_and(|hex| hmac_sha256_matches(secret.as_bytes(), body, hex));
    if matches {
        Ok(())
    } else {
        Err(unauthorized(
            format!(
                "{header_name} is not sha256=<HMAC-SHA256 of the body under the configured secret>"
            ),
            header_name,
        ))
    }
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
}
