//! Who may call what: bearer tokens with two scopes, checked in front of the endpoints.
//!
//! - **ingest** tokens are accepted on `POST /events`, `POST /` and `POST /cdevents`, and on the
//!   webhooks that have no secret of their own (`[webhooks.<tool>]`).
//! - **read** tokens are accepted on the query API, the event browser and its stream, the
//!   pipeline state and `/metrics` (unless `metrics_open`).
//!
//! Tokens come from `[auth]` lists, from files with one token per line (re-read every
//! `token_files_poll`, so a rotated Kubernetes Secret takes effect without a restart), and from
//! `DORA_AUTH__*` variables. Only their SHA-256 digests are kept, and a presented token is
//! compared with every digest of the scope in constant time. A scope with no token and no token
//! file is open: the server keeps working as before and says so at start and on `/readyz`.
//! Missing or unknown token: `401` with `WWW-Authenticate: Bearer`; a valid token of the other
//! scope: `403`. Tokens are never logged.
//!
//! With `[auth.oidc]`, ingest also accepts OpenID Connect tokens of one issuer (the
//! service-account tokens Knative Eventing sources send, [`crate::oidc`]), tried after the
//! static tokens; ingest then counts as protected even without an ingest token. Such tokens
//! grant nothing else: on a read route they are unknown tokens.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::oidc::{OidcError, OidcSettings, OidcStatus, OidcVerifier};
use crate::Problem;

/// What a token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Send events.
    Ingest,
    /// Read the keys, facts, events and pipeline state.
    Read,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
        }
    }
}

/// `[auth]`: the tokens of each scope.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Tokens accepted for ingest.
    pub ingest_tokens: Vec<String>,
    /// Tokens accepted for reading.
    pub read_tokens: Vec<String>,
    /// Files with ingest tokens, one per line (blank lines and `#` comments ignored).
    pub ingest_token_files: Vec<PathBuf>,
    /// Files with read tokens, one per line.
    pub read_token_files: Vec<PathBuf>,
    /// Serve `/metrics` without a read token (for a Prometheus that cannot send one).
    pub metrics_open: bool,
    /// How often the token files are read again.
    #[serde(with = "humantime_serde")]
    pub token_files_poll: Duration,
    /// `[auth.oidc]`: OpenID Connect tokens accepted for ingest (absent: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OidcSettings>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            ingest_tokens: Vec::new(),
            read_tokens: Vec::new(),
            ingest_token_files: Vec::new(),
            read_token_files: Vec::new(),
            metrics_open: false,
            token_files_poll: Duration::from_secs(5),
            oidc: None,
        }
    }
}

impl std::fmt::Debug for AuthSettings {
    /// The tokens themselves are never printed, only how many there are.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("ingest_tokens", &self.ingest_tokens.len())
            .field("read_tokens", &self.read_tokens.len())
            .field("ingest_token_files", &self.ingest_token_files)
            .field("read_token_files", &self.read_token_files)
            .field("metrics_open", &self.metrics_open)
            .field("token_files_poll", &self.token_files_poll)
            .field("oidc", &self.oidc)
            .finish()
    }
}

impl AuthSettings {
    /// Whether requests of `scope` must carry a token (some token or token file is configured,
    /// or, for ingest, `[auth.oidc]`).
    pub fn protects(&self, scope: Scope) -> bool {
        match scope {
            Scope::Ingest => {
                !self.ingest_tokens.is_empty()
                    || !self.ingest_token_files.is_empty()
                    || self.oidc.is_some()
            }
            Scope::Read => !self.read_tokens.is_empty() || !self.read_token_files.is_empty(),
        }
    }

    /// Checks what serde cannot (`[auth.oidc]`).
    pub fn validate(&self) -> Result<(), AuthError> {
        if let Some(oidc) = &self.oidc {
            oidc.validate()?;
        }
        Ok(())
    }

    /// One line per open scope, for the start-up log, `/readyz` and `config check`.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if !self.protects(Scope::Ingest) {
            warnings.push(
                "anyone who reaches this server can send events: set [auth] ingest_tokens or \
                 ingest_token_files, or [auth.oidc]"
                    .to_owned(),
            );
        }
        if self
            .oidc
            .as_ref()
            .is_some_and(OidcSettings::allows_any_subject)
        {
            warnings.push(
                "any workload with a token of the [auth.oidc] issuer and audience can send \
                 events: [auth.oidc] subjects holds \"*\""
                    .to_owned(),
            );
        }
        if !self.protects(Scope::Read) {
            warnings.push(
                "anyone who reaches this server can read its metrics and events: set [auth] \
                 read_tokens or read_token_files"
                    .to_owned(),
            );
        }
        warnings
    }
}

/// Why the token files could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A token file could not be read.
    #[error("failed to read the token file {path}: {source}")]
    TokenFile {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A configured token is empty or holds whitespace.
    #[error("[auth] {scope} tokens: a token is empty or contains whitespace")]
    MalformedToken { scope: &'static str },
    /// `[auth.oidc]` cannot be used.
    #[error(transparent)]
    Oidc(#[from] OidcError),
}

type TokenDigest = [u8; 32];

fn digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

/// The digests of one scope's tokens.
#[derive(Default)]
struct ScopeTokens {
    protected: bool,
    digests: Vec<TokenDigest>,
}

impl ScopeTokens {
    /// Compares with every digest, so the time taken does not tell which one matched.
    fn accepts(&self, presented: &TokenDigest) -> bool {
        let mut found = subtle::Choice::from(0);
        for known in &self.digests {
            found |= known.ct_eq(presented);
        }
        found.into()
    }
}

#[derive(Default)]
struct Tokens {
    ingest: ScopeTokens,
    read: ScopeTokens,
}

impl Tokens {
    fn scope(&self, scope: Scope) -> &ScopeTokens {
        match scope {
            Scope::Ingest => &self.ingest,
            Scope::Read => &self.read,
        }
    }
}

/// Reads the tokens of a file: one per line, trimmed, blank lines and `#` comments skipped.
fn tokens_in_file(path: &PathBuf) -> Result<Vec<String>, AuthError> {
    let text = std::fs::read_to_string(path).map_err(|source| AuthError::TokenFile {
        path: path.clone(),
        source,
    })?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

fn load_scope(
    scope: Scope,
    listed: &[String],
    files: &[PathBuf],
) -> Result<ScopeTokens, AuthError> {
    let mut digests = Vec::new();
    for token in listed {
        let token = token.trim();
        if token.is_empty() || token.contains(char::is_whitespace) {
            return Err(AuthError::MalformedToken {
                scope: scope.as_str(),
            });
        }
        digests.push(digest(token));
    }
    for path in files {
        digests.extend(tokens_in_file(path)?.iter().map(|t| digest(t)));
    }
    digests.sort_unstable();
    digests.dedup();
    Ok(ScopeTokens {
        // A scope with token files stays closed while they are empty (fail closed).
        protected: !listed.is_empty() || !files.is_empty(),
        digests,
    })
}

fn load(settings: &AuthSettings) -> Result<Tokens, AuthError> {
    Ok(Tokens {
        ingest: load_scope(
            Scope::Ingest,
            &settings.ingest_tokens,
            &settings.ingest_token_files,
        )?,
        read: load_scope(
            Scope::Read,
            &settings.read_tokens,
            &settings.read_token_files,
        )?,
    })
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization: Bearer` header.
    Missing,
    /// A token no scope knows.
    Unknown,
    /// A token of the other scope.
    WrongScope,
}

/// Checks bearer tokens against the configured ones; cheap to clone.
#[derive(Clone)]
pub struct Authenticator {
    settings: Arc<AuthSettings>,
    tokens: Arc<RwLock<Arc<Tokens>>>,
    oidc: Option<Arc<OidcVerifier>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// Reads the configured tokens and token files (an unreadable file is an error) and sets up
    /// the OpenID Connect verifier (its keys are fetched when needed).
    pub fn new(settings: AuthSettings) -> Result<Self, AuthError> {
        let tokens = load(&settings)?;
        let oidc = match &settings.oidc {
            Some(oidc) => Some(Arc::new(OidcVerifier::new(oidc.clone())?)),
            None => None,
        };
        Ok(Self {
            settings: Arc::new(settings),
            tokens: Arc::new(RwLock::new(Arc::new(tokens))),
            oidc,
        })
    }

    /// An authenticator that lets everything through (tests, and tools that need no access control).
    pub fn open() -> Self {
        Self {
            settings: Arc::new(AuthSettings::default()),
            tokens: Arc::default(),
            oidc: None,
        }
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// Whether `scope` requires a token.
    pub fn protects(&self, scope: Scope) -> bool {
        self.current().scope(scope).protected || (scope == Scope::Ingest && self.oidc.is_some())
    }

    /// The OpenID Connect verifier, when `[auth.oidc]` is set.
    pub fn oidc(&self) -> Option<&Arc<OidcVerifier>> {
        self.oidc.as_ref()
    }

    /// The state of the OpenID Connect keys, when `[auth.oidc]` is set.
    pub fn oidc_status(&self) -> Option<OidcStatus> {
        self.oidc.as_ref().map(|oidc| oidc.status())
    }

    fn current(&self) -> Arc<Tokens> {
        match self.tokens.read() {
            Ok(tokens) => Arc::clone(&tokens),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Checks the request's bearer token for `scope`: the static tokens first, then, for
    /// ingest, the OpenID Connect verifier (which may fetch the issuer's keys).
    pub async fn check(&self, headers: &HeaderMap, scope: Scope) -> Result<(), Refusal> {
        let tokens = self.current();
        let oidc_protects = scope == Scope::Ingest && self.oidc.is_some();
        if !tokens.scope(scope).protected && !oidc_protects {
            return Ok(());
        }
        let presented = bearer_token(headers).ok_or(Refusal::Missing)?;
        let presented_digest = digest(presented);
        if tokens.scope(scope).accepts(&presented_digest) {
            return Ok(());
        }
        let other = match scope {
            Scope::Ingest => Scope::Read,
            Scope::Read => Scope::Ingest,
        };
        if tokens.scope(other).accepts(&presented_digest) {
            return Err(Refusal::WrongScope);
        }
        match (&self.oidc, scope) {
            (Some(oidc), Scope::Ingest) => match oidc.verify(presented).await {
                Ok(identity) => {
                    tracing::debug!(subject = %identity.subject, "OpenID Connect token accepted");
                    Ok(())
                }
                Err(rejection) => {
                    tracing::debug!(%rejection, "bearer token refused for ingest");
                    Err(Refusal::Unknown)
                }
            },
            _ => Err(Refusal::Unknown),
        }
    }

    /// Reads the token files again; keeps the tokens it has when one cannot be read.
    pub fn reload(&self) -> Result<(), AuthError> {
        let tokens = load(&self.settings)?;
        match self.tokens.write() {
            Ok(mut current) => *current = Arc::new(tokens),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(tokens),
        }
        Ok(())
    }

    /// Re-reads the token files every `token_files_poll` until `stop` resolves (nothing to do
    /// when no file is configured).
    pub async fn watch_token_files(self, stop: impl std::future::Future<Output = ()>) {
        let settings = &self.settings;
        if settings.ingest_token_files.is_empty() && settings.read_token_files.is_empty() {
            return;
        }
        let mut last = file_fingerprint(settings);
        let mut ticks =
            tokio::time::interval(settings.token_files_poll.max(Duration::from_millis(100)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => return,
                _ = ticks.tick() => {}
            }
            let now = file_fingerprint(settings);
            if now == last {
                continue;
            }
            match self.reload() {
                Ok(()) => {
                    let tokens = self.current();
                    tracing::info!(
                        ingest_tokens = tokens.ingest.digests.len(),
                        read_tokens = tokens.read.digests.len(),
                        "token files changed: tokens reloaded"
                    );
                    last = now;
                }
                Err(error) => {
                    tracing::warn!(%error, "token files changed but could not be read; the previous tokens stay in force");
                }
            }
        }
    }
}

/// The digest of every token file's content (or of the error reading it), to notice changes.
fn file_fingerprint(settings: &AuthSettings) -> Vec<TokenDigest> {
    settings
        .ingest_token_files
        .iter()
        .chain(&settings.read_token_files)
        .map(|path| match std::fs::read(path) {
            Ok(bytes) => Sha256::digest(&bytes).into(),
            Err(error) => digest(&error.to_string()),
        })
        .collect()
}

/// The token of `Authorization: Bearer <token>` (the scheme in any case).
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The answer to a refused request: `401` with `WWW-Authenticate`, or `403`.
pub fn refusal_response(refusal: Refusal, scope: Scope) -> Response {
    let scope = scope.as_str();
    match refusal {
        Refusal::WrongScope => Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Forbidden",
            format!("this token does not grant the {scope} scope"),
        )
        .with_field("Authorization")
        .into_response(),
        Refusal::Missing | Refusal::Unknown => {
            let (detail, challenge) = if refusal == Refusal::Missing {
                (
                    format!("this route needs a token of the {scope} scope: send Authorization: Bearer <token>"),
                    "Bearer realm=\"dora-events\"".to_owned(),
                )
            } else {
                (
                    format!("the bearer token is not valid for the {scope} scope"),
                    "Bearer realm=\"dora-events\", error=\"invalid_token\"".to_owned(),
                )
            };
            let mut response = Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Unauthorized",
                detail,
            )
            .with_field("Authorization")
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
            response
        }
    }
}

/// Middleware: lets a request through when its token grants `scope`
/// (`axum::middleware::from_fn_with_state((authenticator, scope), require)`).
pub async fn require(
    State((authenticator, scope)): State<(Authenticator, Scope)>,
    request: Request,
    next: Next,
) -> Response {
    match authenticator.check(request.headers(), scope).await {
        Ok(()) => next.run(request).await,
        Err(refusal) => refusal_response(refusal, scope),
    }
}

/// Puts every route of `router` behind `scope` (when the scope is protected) and says so in its
/// OpenAPI description: the bearer scheme, `401` and `403`. Routes added to `router` later are
/// not covered.
pub fn protect<S>(
    mut router: utoipa_axum::router::OpenApiRouter<S>,
    authenticator: &Authenticator,
    scope: Scope,
) -> utoipa_axum::router::OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    if !authenticator.protects(scope) {
        return router;
    }
    for item in router.get_openapi_mut().paths.paths.values_mut() {
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            describe_protection(operation, scope);
        }
    }
    router.route_layer(axum::middleware::from_fn_with_state(
        (authenticator.clone(), scope),
        require,
    ))
}

/// The name of the bearer scheme in `/openapi.json`.
pub const SECURITY_SCHEME: &str = "bearer";

/// Adds the bearer requirement and the `401`/`403` answers to one operation's description.
pub fn describe_protection(operation: &mut utoipa::openapi::path::Operation, scope: Scope) {
    use utoipa::openapi::security::SecurityRequirement;
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    operation.security = Some(vec![SecurityRequirement::new(
        SECURITY_SCHEME,
        [scope.as_str()],
    )]);
    let problem = || {
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ProblemDetails")))
            .build()
    };
    operation.responses.responses.insert(
        "401".to_owned(),
        ResponseBuilder::new()
            .description(format!(
                "No bearer token, or one that is not valid (`WWW-Authenticate: Bearer`); needs the {} scope",
                scope.as_str()
            ))
            .content("application/problem+json", problem())
            .build()
            .into(),
    );
    operation.responses.responses.insert(
        "403".to_owned(),
        ResponseBuilder::new()
            .description(format!(
                "A valid token without the {} scope",
                scope.as_str()
            ))
            .content("application/problem+json", problem())
            .build()
            .into(),
    );
}

/// Adds the bearer scheme to the description's components (once any scope is protected); it
/// says when ingest also takes OpenID Connect tokens.
pub fn describe_scheme(openapi: &mut utoipa::openapi::OpenApi, authenticator: &Authenticator) {
    use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
    let mut description =
        "A token of the ingest or read scope ([auth] in the configuration)".to_owned();
    if let Some(oidc) = authenticator.oidc() {
        description.push_str(&format!(
            ". The ingest scope also accepts OpenID Connect tokens (JWT) of the issuer {}, for \
             the audience {} ([auth.oidc]): the service-account tokens Knative Eventing sources \
             send to an authenticated sink",
            oidc.settings().issuer,
            oidc.settings().audiences.join(" or "),
        ));
    }
    let components = openapi.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        SECURITY_SCHEME,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(description))
                .build(),
        ),
    );
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn with_bearer(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        headers
    }

    fn settings(ingest: &[&str], read: &[&str]) -> AuthSettings {
        AuthSettings {
            ingest_tokens: ingest.iter().map(|t| t.to_string()).collect(),
            read_tokens: read.iter().map(|t| t.to_string()).collect(),
            ..AuthSettings::default()
        }
    }

    #[tokio::test]
    async fn each_scope_accepts_its_own_tokens_only() {
        let auth = Authenticator::new(settings(&["in-1", "in-2"], &["read-1"])).unwrap();
        assert_eq!(
            auth.check(&with_bearer("in-2"), Scope::Ingest).await,
            Ok(())
        );
        assert_eq!(
            auth.check(&with_bearer("read-1"), Scope::Read).await,
            Ok(())
        );
        assert_eq!(
            auth.check(&with_bearer("read-1"), Scope::Ingest).await,
            Err(Refusal::WrongScope)
        );
        assert_eq!(
            auth.check(&with_bearer("in-1"), Scope::Read).await,
            Err(Refusal::WrongScope)
        );
        assert_eq!(
            auth.check(&with_bearer("in-"), Scope::Ingest).await,
            Err(Refusal::Unknown)
        );
        assert_eq!(
            auth.check(&HeaderMap::new(), Scope::Read).await,
            Err(Refusal::Missing)
        );
    }

    #[tokio::test]
    async fn a_scope_without_tokens_is_open_and_warned_about() {
        let auth = Authenticator::new(settings(&["in-1"], &[])).unwrap();
        assert_eq!(auth.check(&HeaderMap::new(), Scope::Read).await, Ok(()));
        assert_eq!(
            auth.check(&HeaderMap::new(), Scope::Ingest).await,
            Err(Refusal::Missing)
        );
        let warnings = auth.settings().warnings();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("read"), "{warnings:?}");
    }

    #[test]
    fn the_bearer_scheme_is_read_in_any_case_and_other_schemes_are_not() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  tok "),
        );
        assert_eq!(bearer_token(&headers), Some("tok"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic dG9rOg=="),
        );
        assert_eq!(bearer_token(&headers), None);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer_token(&headers), None);
    }

    #[tokio::test]
    async fn token_files_are_read_and_reloaded_and_an_empty_file_keeps_the_scope_closed() {
        let dir = std::env::temp_dir().join(format!("dora-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ingest");
        std::fs::write(&file, "# rotated 2026-12-01\nfirst\n\n  second  \n").unwrap();
        let auth = Authenticator::new(AuthSettings {
            ingest_token_files: vec![file.clone()],
            ..AuthSettings::default()
        })
        .unwrap();
        assert_eq!(
            auth.check(&with_bearer("second"), Scope::Ingest).await,
            Ok(())
        );
        assert_eq!(
            auth.check(&with_bearer("# rotated"), Scope::Ingest).await,
            Err(Refusal::Unknown)
        );
        std::fs::write(&file, "third\n").unwrap();
        auth.reload().unwrap();
        assert_eq!(
            auth.check(&with_bearer("first"), Scope::Ingest).await,
            Err(Refusal::Unknown)
        );
        assert_eq!(
            auth.check(&with_bearer("third"), Scope::Ingest).await,
            Ok(())
        );
        std::fs::write(&file, "").unwrap();
        auth.reload().unwrap();
        assert_eq!(
            auth.check(&HeaderMap::new(), Scope::Ingest).await,
            Err(Refusal::Missing)
        );
        std::fs::remove_file(&file).unwrap();
        assert!(auth.reload().is_err(), "a missing file is an error");
        assert!(Authenticator::new(AuthSettings {
            ingest_token_files: vec![file],
            ..AuthSettings::default()
        })
        .is_err());
    }

    #[test]
    fn tokens_never_appear_in_debug_output() {
        let auth =
            Authenticator::new(settings(&["very-secret-ingest"], &["very-secret-read"])).unwrap();
        let printed = format!("{auth:?} {:?}", auth.settings());
        assert!(!printed.contains("very-secret"), "{printed}");
    }

    #[test]
    fn malformed_tokens_are_refused_at_start() {
        assert!(Authenticator::new(settings(&["two words"], &[])).is_err());
        assert!(Authenticator::new(settings(&[], &[" "])).is_err());
    }
}
