//! A JWT taken apart (header, claims, signature; nothing trusted yet) and its claims checked
//! against the settings; why a token is refused.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use serde::Deserialize;

use super::OidcSettings;

/// Why a token was refused (for the log: it never holds the token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("not a JWT")]
    Malformed,
    #[error("algorithm {0:?} is not accepted (RS256, RS384, RS512, ES256, ES384)")]
    Algorithm(String),
    #[error("the token carries critical header parameters")]
    CriticalHeader,
    #[error("issuer {0:?} is not the configured one")]
    Issuer(String),
    #[error("no expiry (exp)")]
    MissingExpiry,
    #[error("expired")]
    Expired,
    #[error("not valid yet (nbf)")]
    NotYetValid,
    #[error("issued in the future (iat)")]
    IssuedInFuture,
    #[error("no accepted audience in aud")]
    Audience,
    #[error("subject {0:?} is not allowed")]
    Subject(String),
    #[error("no key of the issuer has this key id and algorithm")]
    UnknownKey,
    #[error("the signature does not verify")]
    Signature,
}

/// The signature algorithms accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Rs256,
    Rs384,
    Rs512,
    Es256,
    Es384,
}

impl Algorithm {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "RS256" => Self::Rs256,
            "RS384" => Self::Rs384,
            "RS512" => Self::Rs512,
            "ES256" => Self::Es256,
            "ES384" => Self::Es384,
            _ => return None,
        })
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Rs384 => "RS384",
            Self::Rs512 => "RS512",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
        }
    }
}

/// JWT and JWK base64url; padding tolerated in JWKS values, where some issuers add it.
pub(super) const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Longer tokens are not looked at (a service-account token is about 1 KB).
pub(super) const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The `aud` claim: one string or a list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// The registered claims read; others are ignored.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Audience>,
    exp: Option<f64>,
    nbf: Option<f64>,
    iat: Option<f64>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    crit: Option<serde_json::Value>,
}

/// A token taken apart; nothing in it is trusted yet.
pub(super) struct Unverified<'a> {
    pub(super) algorithm: Algorithm,
    pub(super) key_id: Option<String>,
    pub(super) claims: Claims,
    pub(super) signed: &'a [u8],
    pub(super) signature: Vec<u8>,
}

impl<'a> Unverified<'a> {
    pub(super) fn parse(token: &'a str) -> Result<Self, Rejection> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Rejection::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Rejection::Malformed);
        };
        let decode = |part: &str| BASE64URL.decode(part).map_err(|_| Rejection::Malformed);
        let header: Header =
            serde_json::from_slice(&decode(header)?).map_err(|_| Rejection::Malformed)?;
        let algorithm =
            Algorithm::from_name(&header.alg).ok_or(Rejection::Algorithm(header.alg.clone()))?;
        if header.crit.is_some() {
            return Err(Rejection::CriticalHeader);
        }
        let claims: Claims =
            serde_json::from_slice(&decode(payload)?).map_err(|_| Rejection::Malformed)?;
        let signature = decode(signature)?;
        if signature.is_empty() {
            return Err(Rejection::Malformed);
        }
        let signed_len = token.len() - token.rsplit('.').next().map_or(0, str::len) - 1;
        Ok(Self {
            algorithm,
            key_id: header.kid,
            claims,
            signed: &token.as_bytes()[..signed_len],
            signature,
        })
    }
}

/// What a verified token says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub subject: String,
}

/// Checks the claims at `now` (seconds since the epoch); the signature is checked apart.
pub fn check_claims(
    claims: &Claims,
    settings: &OidcSettings,
    now: f64,
) -> Result<Identity, Rejection> {
    let leeway = settings.leeway.as_secs_f64();
    let issuer = claims.iss.as_deref().unwrap_or_default();
    if issuer != settings.issuer {
        return Err(Rejection::Issuer(shorten(issuer)));
    }
    let expiry = claims.exp.ok_or(Rejection::MissingExpiry)?;
    if !expiry.is_finite() || now >= expiry + leeway {
        return Err(Rejection::Expired);
    }
    if claims
        .nbf
        .is_some_and(|nbf| !nbf.is_finite() || nbf > now + leeway)
    {
        return Err(Rejection::NotYetValid);
    }
    if claims
        .iat
        .is_some_and(|iat| !iat.is_finite() || iat > now + leeway)
    {
        return Err(Rejection::IssuedInFuture);
    }
    let accepted = |audience: &String| settings.audiences.contains(audience);
    let audience_ok = match &claims.aud {
        Some(Audience::One(audience)) => accepted(audience),
        Some(Audience::Many(audiences)) => audiences.iter().any(accepted),
        None => false,
    };
    if !audience_ok {
        return Err(Rejection::Audience);
    }
    let subject = claims.sub.as_deref().unwrap_or_default();
    if subject.is_empty()
        || !settings
            .subjects
            .iter()
            .any(|pattern| subject_matches(pattern, subject))
    {
        return Err(Rejection::Subject(shorten(subject)));
    }
    Ok(Identity {
        subject: subject.to_owned(),
    })
}

/// `pattern` is a subject, or a prefix followed by `*`.
pub fn subject_matches(pattern: &str, subject: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => subject.starts_with(prefix),
        None => pattern == subject,
    }
}

/// An untrusted value, cut for the log and without control characters (no forged log lines).
pub(super) fn shorten(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(120).collect()
}
