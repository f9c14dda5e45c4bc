//! The issuer's public keys read from a JWKS document (RSA, P-256 and P-384 signing keys), and
//! a token's signature checked with those that fit it.

use base64::Engine;
use serde::Deserialize;

use super::token::{Unverified, BASE64URL};
use super::{Algorithm, Rejection};

/// One public key of the issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Jwk {
    pub(super) key_id: Option<String>,
    /// The `alg` the key is restricted to, when the JWKS says.
    algorithm: Option<String>,
    pub(super) key: PublicKey,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PublicKey {
    Rsa {
        modulus: Vec<u8>,
        exponent: Vec<u8>,
    },
    /// An uncompressed point (`04 || x || y`).
    P256(Vec<u8>),
    P384(Vec<u8>),
}

impl Jwk {
    pub(super) fn fits(&self, algorithm: Algorithm) -> bool {
        let kind_fits = matches!(
            (&self.key, algorithm),
            (
                PublicKey::Rsa { .. },
                Algorithm::Rs256 | Algorithm::Rs384 | Algorithm::Rs512
            ) | (PublicKey::P256(_), Algorithm::Es256)
                | (PublicKey::P384(_), Algorithm::Es384)
        );
        kind_fits
            && self
                .algorithm
                .as_deref()
                .is_none_or(|restricted| restricted == algorithm.name())
    }

    fn verifies(&self, algorithm: Algorithm, signed: &[u8], signature: &[u8]) -> bool {
        use ring::signature;
        match (&self.key, algorithm) {
            (PublicKey::Rsa { modulus, exponent }, _) => {
                let parameters = match algorithm {
                    Algorithm::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    Algorithm::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    Algorithm::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                    Algorithm::Es256 | Algorithm::Es384 => return false,
                };
                signature::RsaPublicKeyComponents {
                    n: modulus,
                    e: exponent,
                }
                .verify(parameters, signed, signature)
                .is_ok()
            }
            (PublicKey::P256(point), Algorithm::Es256) => {
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(signed, signature)
                    .is_ok()
            }
            (PublicKey::P384(point), Algorithm::Es384) => {
                signature::UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point)
                    .verify(signed, signature)
                    .is_ok()
            }
            _ => false,
        }
    }
}

/// At most this many keys are kept from one JWKS.
const MAX_KEYS: usize = 64;

/// The signing keys of a JWKS document; keys of other kinds or uses are skipped.
pub(super) fn parse_jwks(document: &[u8]) -> Result<Vec<Jwk>, String> {
    #[derive(Deserialize)]
    struct Document {
        keys: Vec<serde_json::Map<String, serde_json::Value>>,
    }
    let document: Document =
        serde_json::from_slice(document).map_err(|e| format!("not a JWKS document: {e}"))?;
    let mut keys = Vec::new();
    for fields in document.keys.iter().take(MAX_KEYS) {
        match parse_jwk(fields) {
            Ok(Some(key)) => keys.push(key),
            Ok(None) => {}
            Err(reason) => tracing::debug!(%reason, "a JWKS key was skipped"),
        }
    }
    Ok(keys)
}

fn parse_jwk(fields: &serde_json::Map<String, serde_json::Value>) -> Result<Option<Jwk>, String> {
    let text = |name: &str| fields.get(name).and_then(serde_json::Value::as_str);
    let bytes = |name: &str| -> Result<Vec<u8>, String> {
        let value = text(name).ok_or_else(|| format!("no {name}"))?;
        BASE64URL
            .decode(value)
            .map_err(|_| format!("{name} is not base64url"))
    };
    if text("use").is_some_and(|usage| usage != "sig") {
        return Ok(None);
    }
    let key = match (text("kty"), text("crv")) {
        (Some("RSA"), _) => {
            let modulus = bytes("n")?;
            let first = modulus
                .iter()
                .position(|b| *b != 0)
                .unwrap_or(modulus.len());
            let exponent = bytes("e")?;
            let exponent_first = exponent
                .iter()
                .position(|b| *b != 0)
                .unwrap_or(exponent.len());
            PublicKey::Rsa {
                modulus: modulus[first..].to_vec(),
                exponent: exponent[exponent_first..].to_vec(),
            }
        }
        (Some("EC"), Some(curve @ ("P-256" | "P-384"))) => {
            let size = if curve == "P-256" { 32 } else { 48 };
            let (x, y) = (bytes("x")?, bytes("y")?);
            if x.len() != size || y.len() != size {
                return Err(format!("{curve} coordinates of the wrong length"));
            }
            let mut point = Vec::with_capacity(1 + 2 * size);
            point.push(4);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            if size == 32 {
                PublicKey::P256(point)
            } else {
                PublicKey::P384(point)
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(Jwk {
        key_id: text("kid").map(str::to_owned),
        algorithm: text("alg").map(str::to_owned),
        key,
    }))
}

/// Checks the signature with the keys that fit the token's key id and algorithm.
pub(super) fn verify_signature(token: &Unverified<'_>, keys: &[Jwk]) -> Result<(), Rejection> {
    let mut candidates = keys
        .iter()
        .filter(|key| token.key_id.is_none() || key.key_id == token.key_id)
        .filter(|key| key.fits(token.algorithm))
        .peekable();
    if candidates.peek().is_none() {
        return Err(Rejection::UnknownKey);
    }
    if candidates.any(|key| key.verifies(token.algorithm, token.signed, &token.signature)) {
        Ok(())
    } else {
        Err(Rejection::Signature)
    }
}
