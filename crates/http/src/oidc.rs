//! OpenID Connect tokens for ingest: the Kubernetes service-account JWTs that Knative Eventing
//! sources send to an authenticated sink. Part of dora-http's access control: `auth`'s
//! [`Authenticator`](crate::auth::Authenticator) asks [`OidcVerifier::verify`] about an ingest
//! bearer token that no static token matched.
//!
//! A token is accepted when its signature verifies with a key of the issuer's JWKS (RS256,
//! RS384, RS512, ES256 or ES384; never `none` or an HMAC), it has not expired (`exp` is
//! required), `nbf`/`iat` are not in the future (all with `leeway`), `iss` is the issuer, `aud`
//! holds one of the audiences and `sub` is one of the allowed subjects (`prefix*` allowed).
//! The keys are fetched from `jwks_url` or through OpenID discovery, kept, fetched again after
//! `jwks_refresh`, and at once when a token names a key id the set does not have, but never
//! more often than `jwks_min_interval`. Whatever is wrong with a token, it is only refused.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use serde::{Deserialize, Serialize};

/// `[auth.oidc]`: which tokens of which issuer are accepted for ingest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// The `iss` of accepted tokens, e.g. `https://kubernetes.default.svc.cluster.local`.
    pub issuer: String,
    /// Where the keys are; without it, `jwks_uri` of `{issuer}/.well-known/openid-configuration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_url: Option<String>,
    /// Accepted `aud` values (the sink's audience); a token must hold one of them.
    pub audiences: Vec<String>,
    /// Allowed `sub` values; a trailing `*` matches any rest (`system:serviceaccount:dora:*`).
    pub subjects: Vec<String>,
    /// PEM certificates to trust (besides the usual roots) for an https JWKS or discovery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// A bearer token sent when fetching the discovery document and the keys (read at every
    /// fetch, so a projected service-account token may rotate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_token_file: Option<PathBuf>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    #[serde(default = "default_leeway", with = "humantime_serde")]
    pub leeway: Duration,
    /// How long fetched keys are used before they are fetched again.
    #[serde(default = "default_jwks_refresh", with = "humantime_serde")]
    pub jwks_refresh: Duration,
    /// The least time between two fetches, also when tokens name unknown key ids.
    #[serde(default = "default_jwks_min_interval", with = "humantime_serde")]
    pub jwks_min_interval: Duration,
}

fn default_leeway() -> Duration {
    Duration::from_secs(60)
}

fn default_jwks_refresh() -> Duration {
    Duration::from_secs(300)
}

fn default_jwks_min_interval() -> Duration {
    Duration::from_secs(10)
}

impl OidcSettings {
    /// Settings with the defaults for everything but the issuer, audiences and subjects.
    pub fn new(issuer: impl Into<String>, audiences: Vec<String>, subjects: Vec<String>) -> Self {
        Self {
            issuer: issuer.into(),
            jwks_url: None,
            audiences,
            subjects,
            ca_file: None,
            jwks_token_file: None,
            leeway: default_leeway(),
            jwks_refresh: default_jwks_refresh(),
            jwks_min_interval: default_jwks_min_interval(),
        }
    }

    /// Checks what serde cannot: something to match, URLs that are URLs.
    pub fn validate(&self) -> Result<(), OidcError> {
        let invalid = |message: String| Err(OidcError::Invalid(message));
        if self.issuer.trim().is_empty() {
            return invalid("issuer is empty".into());
        }
        match &self.jwks_url {
            Some(url) => {
                http_url(url).map_err(|e| OidcError::Invalid(format!("jwks_url: {e}")))?;
            }
            None => {
                http_url(&self.issuer).map_err(|e| {
                    OidcError::Invalid(format!(
                        "issuer: {e} (without jwks_url the keys are found through {{issuer}}/.well-known/openid-configuration)"
                    ))
                })?;
            }
        }
        if self.audiences.is_empty() || self.audiences.iter().any(|a| a.trim().is_empty()) {
            return invalid("audiences: name at least one, and no empty one".into());
        }
        if self.subjects.is_empty() {
            return invalid(
                "subjects: name the allowed subjects, e.g. system:serviceaccount:<namespace>:<name>"
                    .into(),
            );
        }
        for subject in &self.subjects {
            if subject.is_empty() || subject.trim_end_matches('*').contains('*') {
                return invalid(format!(
                    "subjects: {subject:?}: a subject is not empty and may end with one `*`, nowhere else"
                ));
            }
        }
        Ok(())
    }

    /// Whether a subject pattern lets every subject of the issuer through.
    pub fn allows_any_subject(&self) -> bool {
        self.subjects.iter().any(|s| s == "*")
    }

    fn discovery_url(&self) -> String {
        format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        )
    }
}

fn http_url(text: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(text).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!("{text:?} is not an http or https URL"));
    }
    Ok(url)
}

/// Why the OpenID Connect settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("[auth.oidc] {0}")]
    Invalid(String),
    #[error("[auth.oidc] failed to read ca_file {path}: {source}")]
    CaFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("[auth.oidc] ca_file {path} holds no usable PEM certificate: {source}")]
    Certificates {
        path: PathBuf,
        source: reqwest::Error,
    },
    #[error("[auth.oidc] failed to set up the HTTP client: {0}")]
    Client(reqwest::Error),
}

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

    fn name(self) -> &'static str {
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
const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Longer tokens are not looked at (a service-account token is about 1 KB).
const MAX_TOKEN_BYTES: usize = 16 * 1024;

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
struct Unverified<'a> {
    algorithm: Algorithm,
    key_id: Option<String>,
    claims: Claims,
    signed: &'a [u8],
    signature: Vec<u8>,
}

impl<'a> Unverified<'a> {
    fn parse(token: &'a str) -> Result<Self, Rejection> {
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
fn shorten(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(120).collect()
}

/// One public key of the issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Jwk {
    key_id: Option<String>,
    /// The `alg` the key is restricted to, when the JWKS says.
    algorithm: Option<String>,
    key: PublicKey,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PublicKey {
    Rsa {
        modulus: Vec<u8>,
        exponent: Vec<u8>,
    },
    /// An uncompressed point (`04 || x || y`).
    P256(Vec<u8>),
    P384(Vec<u8>),
}

impl Jwk {
    fn fits(&self, algorithm: Algorithm) -> bool {
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
fn parse_jwks(document: &[u8]) -> Result<Vec<Jwk>, String> {
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
fn verify_signature(token: &Unverified<'_>, keys: &[Jwk]) -> Result<(), Rejection> {
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

/// The fetched keys and how fetching went.
#[derive(Default)]
struct KeySet {
    keys: Vec<Jwk>,
    fetched_at: Option<Instant>,
    /// The last fetch failed (the keys, if any, are older ones).
    failing: bool,
}

/// The state of the key set, for `/readyz`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OidcStatus {
    /// How many signing keys are held.
    pub keys: usize,
    /// `not fetched` (no token seen yet), `fetched`, or `failing` (the last fetch failed).
    pub jwks: &'static str,
}

/// Largest discovery or JWKS document read.
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;
/// Bound on each fetch (connecting, sending, reading).
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Verifies OpenID Connect tokens against one issuer's keys; share it behind an `Arc`.
pub struct OidcVerifier {
    settings: OidcSettings,
    client: reqwest::Client,
    keys: RwLock<Arc<KeySet>>,
    /// Held while fetching (one fetch at a time); the instant of the last attempt.
    fetching: tokio::sync::Mutex<Option<Instant>>,
}

impl std::fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl OidcVerifier {
    /// Checks the settings and reads `ca_file`; fetches nothing yet.
    pub fn new(settings: OidcSettings) -> Result<Self, OidcError> {
        settings.validate()?;
        let mut client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("dora-events/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &settings.ca_file {
            let pem = std::fs::read(path).map_err(|source| OidcError::CaFile {
                path: path.clone(),
                source,
            })?;
            let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|source| {
                OidcError::Certificates {
                    path: path.clone(),
                    source,
                }
            })?;
            if certificates.is_empty() {
                return Err(OidcError::Invalid(format!(
                    "ca_file {} holds no certificate",
                    path.display()
                )));
            }
            for certificate in certificates {
                client = client.add_root_certificate(certificate);
            }
        }
        Ok(Self {
            client: client.build().map_err(OidcError::Client)?,
            settings,
            keys: RwLock::default(),
            fetching: tokio::sync::Mutex::new(None),
        })
    }

    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// Verifies `token` now: claims first (no key is fetched for a token refused anyway), then
    /// the signature, after one more fetch when no key has the token's key id.
    pub async fn verify(&self, token: &str) -> Result<Identity, Rejection> {
        let token = Unverified::parse(token)?;
        let identity = check_claims(&token.claims, &self.settings, unix_now())?;
        let keys = self.usable_keys().await;
        match verify_signature(&token, &keys.keys) {
            Err(Rejection::UnknownKey) => {
                let keys = self.refresh(true).await;
                verify_signature(&token, &keys.keys)?;
            }
            other => other?,
        }
        Ok(identity)
    }

    /// Fetches the keys once, saying in the log whether that worked (at start).
    pub async fn warm_up(&self) {
        let keys = self.refresh(true).await;
        if !keys.failing {
            tracing::info!(
                issuer = %self.settings.issuer,
                keys = keys.keys.len(),
                "OpenID Connect keys fetched: ingest accepts the issuer's tokens"
            );
        }
    }

    pub fn status(&self) -> OidcStatus {
        let keys = self.current();
        OidcStatus {
            keys: keys.keys.len(),
            jwks: match (keys.failing, keys.fetched_at) {
                (true, _) => "failing",
                (false, Some(_)) => "fetched",
                (false, None) => "not fetched",
            },
        }
    }

    fn current(&self) -> Arc<KeySet> {
        match self.keys.read() {
            Ok(keys) => Arc::clone(&keys),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// The keys, fetched first when there are none or they are older than `jwks_refresh`;
    /// while another request fetches, stale keys are used rather than waited for.
    async fn usable_keys(&self) -> Arc<KeySet> {
        let keys = self.current();
        let fresh = keys
            .fetched_at
            .is_some_and(|at| at.elapsed() < self.settings.jwks_refresh);
        if fresh {
            keys
        } else if keys.keys.is_empty() {
            self.refresh(false).await
        } else {
            match self.fetching.try_lock() {
                Ok(last_attempt) => self.refresh_locked(last_attempt, false).await,
                Err(_) => keys,
            }
        }
    }

    /// Fetches the keys unless the last attempt was less than `jwks_min_interval` ago (or, when
    /// not `forced`, the keys are fresh: another request fetched them meanwhile).
    async fn refresh(&self, forced: bool) -> Arc<KeySet> {
        let last_attempt = self.fetching.lock().await;
        self.refresh_locked(last_attempt, forced).await
    }

    async fn refresh_locked(
        &self,
        mut last_attempt: tokio::sync::MutexGuard<'_, Option<Instant>>,
        forced: bool,
    ) -> Arc<KeySet> {
        let current = self.current();
        if last_attempt.is_some_and(|at| at.elapsed() < self.settings.jwks_min_interval) {
            return current;
        }
        let fresh = current
            .fetched_at
            .is_some_and(|at| at.elapsed() < self.settings.jwks_refresh);
        if fresh && !forced {
            return current;
        }
        *last_attempt = Some(Instant::now());
        let next = match self.fetch_keys().await {
            Ok(keys) => {
                tracing::debug!(keys = keys.len(), "OpenID Connect keys fetched");
                KeySet {
                    keys,
                    fetched_at: Some(Instant::now()),
                    failing: false,
                }
            }
            Err(reason) => {
                tracing::warn!(
                    issuer = %self.settings.issuer,
                    %reason,
                    "failed to fetch the OpenID Connect keys; tokens whose key is not known are refused"
                );
                KeySet {
                    keys: current.keys.clone(),
                    fetched_at: current.fetched_at,
                    failing: true,
                }
            }
        };
        let next = Arc::new(next);
        match self.keys.write() {
            Ok(mut keys) => *keys = Arc::clone(&next),
            Err(poisoned) => *poisoned.into_inner() = Arc::clone(&next),
        }
        next
    }

    async fn fetch_keys(&self) -> Result<Vec<Jwk>, String> {
        let (jwks_url, send_token) = match &self.settings.jwks_url {
            Some(url) => (http_url(url)?, true),
            None => {
                let discovery = http_url(&self.settings.discovery_url())?;
                let document = self.get(&discovery, true).await?;
                let jwks_url = discovered_jwks_url(&document, &self.settings.issuer)?;
                // The token goes only where the issuer is: a jwks_uri elsewhere is fetched
                // without it.
                let same_origin = jwks_url.origin() == discovery.origin();
                (jwks_url, same_origin)
            }
        };
        let document = self.get(&jwks_url, send_token).await?;
        let keys = parse_jwks(&document)?;
        if keys.is_empty() {
            tracing::warn!(url = %jwks_url, "the JWKS holds no usable signing key");
        }
        Ok(keys)
    }

    /// GETs a JSON document of at most `MAX_DOCUMENT_BYTES`.
    async fn get(&self, url: &reqwest::Url, send_token: bool) -> Result<Vec<u8>, String> {
        let mut request = self
            .client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        if let (true, Some(path)) = (send_token, &self.settings.jwks_token_file) {
            let token = std::fs::read_to_string(path)
                .map_err(|e| format!("failed to read jwks_token_file {}: {e}", path.display()))?;
            request = request.bearer_auth(token.trim());
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| format!("GET {url}: {}", e.without_url()))?;
        if !response.status().is_success() {
            return Err(format!("GET {url}: status {}", response.status()));
        }
        if response
            .content_length()
            .is_some_and(|length| length > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(format!("GET {url}: larger than {MAX_DOCUMENT_BYTES} bytes"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("GET {url}: {}", e.without_url()))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(format!("GET {url}: larger than {MAX_DOCUMENT_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// `jwks_uri` of a discovery document whose `issuer` is the configured one.
fn discovered_jwks_url(document: &[u8], issuer: &str) -> Result<reqwest::Url, String> {
    #[derive(Deserialize)]
    struct Discovery {
        issuer: String,
        jwks_uri: String,
    }
    let discovery: Discovery = serde_json::from_slice(document)
        .map_err(|e| format!("not an OpenID discovery document: {e}"))?;
    if discovery.issuer != issuer {
        return Err(format!(
            "the discovery document names the issuer {:?}, not {issuer:?}",
            shorten(&discovery.issuer)
        ));
    }
    http_url(&discovery.jwks_uri).map_err(|e| format!("jwks_uri: {e}"))
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: f64 = 1_800_000_000.0;

    fn settings() -> OidcSettings {
        OidcSettings::new(
            "https://kubernetes.default.svc.cluster.local",
            vec!["dora-events".into(), "dora-events.dora.svc".into()],
            vec![
                "system:serviceaccount:knative-sources:watcher".into(),
                "system:serviceaccount:dora:*".into(),
            ],
        )
    }

    fn claims(value: serde_json::Value) -> Claims {
        serde_json::from_value(value).unwrap()
    }

    fn valid() -> serde_json::Value {
        json!({
            "iss": "https://kubernetes.default.svc.cluster.local",
            "sub": "system:serviceaccount:knative-sources:watcher",
            "aud": ["other", "dora-events"],
            "exp": NOW + 600.0,
            "nbf": NOW - 10.0,
            "iat": NOW - 10.0,
            "kubernetes.io": {"namespace": "knative-sources"}
        })
    }

    fn with(field: &str, value: serde_json::Value) -> Claims {
        let mut claims = valid();
        claims[field] = value;
        self::claims(claims)
    }

    fn without(field: &str) -> Claims {
        let mut claims = valid();
        claims.as_object_mut().unwrap().remove(field);
        self::claims(claims)
    }

    fn check(claims: &Claims) -> Result<Identity, Rejection> {
        check_claims(claims, &settings(), NOW)
    }

    #[test]
    fn valid_claims_name_the_subject() {
        assert_eq!(
            check(&claims(valid())).unwrap().subject,
            "system:serviceaccount:knative-sources:watcher"
        );
        assert!(check(&with("aud", json!("dora-events.dora.svc"))).is_ok());
        assert!(check(&without("nbf")).is_ok());
        assert!(check(&without("iat")).is_ok());
    }

    #[test]
    fn expiry_is_required_and_allows_the_leeway_only() {
        assert_eq!(check(&without("exp")), Err(Rejection::MissingExpiry));
        assert!(check(&with("exp", json!(NOW - 59.0))).is_ok());
        assert_eq!(
            check(&with("exp", json!(NOW - 60.0))),
            Err(Rejection::Expired)
        );
        assert_eq!(
            check(&with("exp", json!(NOW - 3600.0))),
            Err(Rejection::Expired)
        );
        assert!(
            check_claims(
                &with("exp", json!(NOW - 1.0)),
                &OidcSettings {
                    leeway: Duration::ZERO,
                    ..settings()
                },
                NOW
            )
            .is_err(),
            "no leeway, no grace"
        );
    }

    #[test]
    fn not_before_and_issued_at_in_the_future_are_refused_beyond_the_leeway() {
        assert!(check(&with("nbf", json!(NOW + 59.0))).is_ok());
        assert_eq!(
            check(&with("nbf", json!(NOW + 61.0))),
            Err(Rejection::NotYetValid)
        );
        assert!(check(&with("iat", json!(NOW + 59.0))).is_ok());
        assert_eq!(
            check(&with("iat", json!(NOW + 3600.0))),
            Err(Rejection::IssuedInFuture)
        );
    }

    #[test]
    fn issuer_must_be_the_configured_one_exactly() {
        for issuer in [
            json!("https://kubernetes.default.svc.cluster.local/"),
            json!("https://evil.example"),
            json!(""),
        ] {
            assert!(matches!(
                check(&with("iss", issuer)),
                Err(Rejection::Issuer(_))
            ));
        }
        assert!(matches!(check(&without("iss")), Err(Rejection::Issuer(_))));
    }

    #[test]
    fn audience_as_string_or_list_must_hold_an_accepted_one() {
        for audience in [
            json!("other"),
            json!(["other", "dora"]),
            json!([]),
            json!("DORA-EVENTS"),
        ] {
            assert_eq!(check(&with("aud", audience)), Err(Rejection::Audience));
        }
        assert_eq!(check(&without("aud")), Err(Rejection::Audience));
        assert!(check(&with("aud", json!(["dora-events"]))).is_ok());
    }

    #[test]
    fn subjects_match_exactly_or_by_a_trailing_wildcard() {
        assert!(check(&with("sub", json!("system:serviceaccount:dora:anything"))).is_ok());
        for subject in [
            "system:serviceaccount:knative-sources:watcher2",
            "system:serviceaccount:dora",
            "system:serviceaccount:doraX:a",
            "system:serviceaccount:knative-sources:*",
            "",
        ] {
            assert!(
                matches!(
                    check(&with("sub", json!(subject))),
                    Err(Rejection::Subject(_))
                ),
                "{subject}"
            );
        }
        assert!(matches!(check(&without("sub")), Err(Rejection::Subject(_))));
        assert_eq!(
            check(&with("sub", json!("evil\nINFO forged line"))),
            Err(Rejection::Subject("evilINFO forged line".into()))
        );
        assert!(subject_matches("*", "anyone"));
        assert!(!subject_matches("a", "ab"));
    }

    #[test]
    fn settings_need_an_issuer_audiences_and_subjects() {
        assert!(settings().validate().is_ok());
        let broken = [
            OidcSettings {
                subjects: vec![],
                ..settings()
            },
            OidcSettings {
                audiences: vec![],
                ..settings()
            },
            OidcSettings {
                audiences: vec!["".into()],
                ..settings()
            },
            OidcSettings {
                subjects: vec!["system:*:dora".into()],
                ..settings()
            },
            OidcSettings {
                issuer: "kubernetes".into(),
                ..settings()
            },
            OidcSettings {
                jwks_url: Some("file:///etc/passwd".into()),
                ..settings()
            },
        ];
        for settings in broken {
            assert!(settings.validate().is_err(), "{settings:?}");
        }
        // Without discovery, the issuer need not be a URL.
        assert!(OidcSettings {
            issuer: "kubernetes/serviceaccount".into(),
            jwks_url: Some("https://10.0.0.1:6443/openid/v1/jwks".into()),
            ..settings()
        }
        .validate()
        .is_ok());
    }

    fn encode(value: &serde_json::Value) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
    }

    #[test]
    fn only_asymmetric_algorithms_are_accepted() {
        let payload = encode(&valid());
        for alg in ["none", "HS256", "HS512", "PS256", "EdDSA", "rs256"] {
            let token = format!("{}.{payload}.c2ln", encode(&json!({"alg": alg})));
            assert!(
                matches!(Unverified::parse(&token), Err(Rejection::Algorithm(_))),
                "{alg}"
            );
        }
        let unsigned = format!("{}.{payload}.", encode(&json!({"alg": "RS256"})));
        assert!(matches!(
            Unverified::parse(&unsigned),
            Err(Rejection::Malformed)
        ));
        let critical = format!(
            "{}.{payload}.c2ln",
            encode(&json!({"alg": "RS256", "crit": ["exp"]}))
        );
        assert!(matches!(
            Unverified::parse(&critical),
            Err(Rejection::CriticalHeader)
        ));
        let token = format!(
            "{}.{payload}.c2ln",
            encode(&json!({"alg": "ES256", "kid": "k1"}))
        );
        let parsed = Unverified::parse(&token).unwrap();
        assert_eq!(parsed.algorithm, Algorithm::Es256);
        assert_eq!(parsed.key_id.as_deref(), Some("k1"));
        assert_eq!(parsed.signature, b"sig");
        assert!(parsed.signed.ends_with(payload.as_bytes()));
    }

    #[test]
    fn what_is_not_a_jwt_is_malformed() {
        for token in [
            "static-token",
            "a.b",
            "a.b.c.d",
            "...",
            "e30.e30.c2ln",
            "%%%.%%%.%%%",
            "a".repeat(MAX_TOKEN_BYTES + 1).as_str(),
        ] {
            assert!(Unverified::parse(token).is_err(), "{token:.40}");
        }
    }

    #[test]
    fn jwks_keep_signing_keys_of_known_kinds() {
        let n = BASE64URL.encode([0u8, 0xC3, 0x01, 0x02]);
        let coordinate = |len| BASE64URL.encode(vec![7u8; len]);
        let document = json!({"keys": [
            {"kty": "RSA", "kid": "r", "n": n, "e": "AQAB", "alg": "RS256", "use": "sig"},
            {"kty": "RSA", "kid": "enc", "n": n, "e": "AQAB", "use": "enc"},
            {"kty": "EC", "kid": "p256", "crv": "P-256", "x": coordinate(32), "y": coordinate(32)},
            {"kty": "EC", "kid": "short", "crv": "P-256", "x": coordinate(31), "y": coordinate(32)},
            {"kty": "EC", "kid": "p384", "crv": "P-384", "x": coordinate(48), "y": coordinate(48)},
            {"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": coordinate(32)},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}
        ]});
        let keys = parse_jwks(document.to_string().as_bytes()).unwrap();
        let ids: Vec<_> = keys.iter().map(|k| k.key_id.as_deref().unwrap()).collect();
        assert_eq!(ids, ["r", "p256", "p384"]);
        assert_eq!(
            keys[0].key,
            PublicKey::Rsa {
                modulus: vec![0xC3, 1, 2],
                exponent: vec![1, 0, 1]
            }
        );
        assert!(keys[0].fits(Algorithm::Rs256));
        assert!(!keys[0].fits(Algorithm::Rs512), "restricted to its alg");
        assert!(!keys[0].fits(Algorithm::Es256));
        assert!(keys[1].fits(Algorithm::Es256) && !keys[1].fits(Algorithm::Es384));
        assert!(keys[2].fits(Algorithm::Es384));
        assert!(parse_jwks(b"{\"keys\": 3}").is_err());
        assert!(parse_jwks(b"<html>").is_err());
    }

    #[test]
    fn discovery_must_name_the_same_issuer() {
        let issuer = "https://issuer.example";
        let document =
            json!({"issuer": issuer, "jwks_uri": "https://keys.example/jwks"}).to_string();
        assert_eq!(
            discovered_jwks_url(document.as_bytes(), issuer)
                .unwrap()
                .as_str(),
            "https://keys.example/jwks"
        );
        assert!(discovered_jwks_url(document.as_bytes(), "https://other.example").is_err());
        let document = json!({"issuer": issuer, "jwks_uri": "ftp://keys.example"}).to_string();
        assert!(discovered_jwks_url(document.as_bytes(), issuer).is_err());
    }
}
