//! `[auth.oidc]`: the issuer, audiences and subjects accepted, where the keys are and how often
//! they are fetched, and the checks serde cannot make.

use std::path::PathBuf;
use std::time::Duration;

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

    pub(super) fn discovery_url(&self) -> String {
        format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        )
    }
}

pub(super) fn http_url(text: &str) -> Result<reqwest::Url, String> {
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
