//! [`OidcVerifier`]: verifies tokens against the issuer's keys, which it keeps and fetches (from
//! `jwks_url` or through OpenID discovery) when they are missing, stale or lack a token's key id,
//! never more often than `jwks_min_interval`.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::jwks::{parse_jwks, verify_signature, Jwk};
use super::settings::http_url;
use super::token::{shorten, Unverified};
use super::{check_claims, Identity, OidcError, OidcSettings, Rejection};

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
pub(super) fn discovered_jwks_url(document: &[u8], issuer: &str) -> Result<reqwest::Url, String> {
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
