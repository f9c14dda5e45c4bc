//! What every dora-events HTTP endpoint shares: the one error type, [`Problem`], which answers
//! RFC 9457 `application/problem+json`. Client errors name the offending field; server errors
//! reveal nothing and leave the cause in the log.

pub mod auth;
pub mod connections;
pub mod oidc;
pub mod telemetry;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An RFC 9457 problem detail, boxed so that `Result<T, Problem>` stays small.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Problem(Box<ProblemDetails>);

/// The members of a problem detail.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProblemDetails {
    /// A URN naming the kind of problem, e.g. `urn:dora-events:problem:invalid-cloudevent`.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The attribute, parameter or JSON pointer at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For batches: the position of the offending event (from 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// Seconds after which a retry may succeed (also sent as `Retry-After`).
    #[serde(skip, default)]
    #[schema(ignore)]
    pub retry_after: Option<u64>,
    /// Answer with `Connection: close`: the request body was left unread, so the connection
    /// cannot carry another request (the server discards the rest for a while, so that a client
    /// still writing it reads this answer instead of a reset).
    #[serde(skip, default)]
    #[schema(ignore)]
    pub close_connection: bool,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, title: &str, detail: impl Into<String>) -> Self {
        Self(Box::new(ProblemDetails {
            problem_type: format!("urn:dora-events:problem:{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            field: None,
            index: None,
            retry_after: None,
            close_connection: false,
        }))
    }

    /// A `400` about one field.
    pub fn bad_request(
        slug: &str,
        title: &str,
        field: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(StatusCode::BAD_REQUEST, slug, title, detail).with_field(field)
    }

    /// A `404` for a path parameter, `field`, that names nothing the route knows.
    pub fn unknown(
        slug: &str,
        title: &str,
        field: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(StatusCode::NOT_FOUND, slug, title, detail).with_field(field)
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn with_index(mut self, index: usize) -> Self {
        self.index = Some(index);
        self
    }

    /// `503` with `Retry-After`: overload or an unavailable database; nothing was stored.
    pub fn unavailable(detail: impl Into<String>, retry_after_seconds: u64) -> Self {
        let mut problem = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            detail,
        );
        problem.retry_after = Some(retry_after_seconds);
        problem
    }

    /// `500` for a server fault: the cause is logged here, the client sees no detail.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the server failed; the cause is in its log",
        )
    }

    /// `413`: the body is larger than `limit` bytes.
    pub fn payload_too_large(limit: usize, what: &str) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
            format!("{what} may be at most {limit} bytes"),
        )
    }

    /// Marks the answer as the last on its connection (`Connection: close`).
    pub fn closing_connection(mut self) -> Self {
        self.close_connection = true;
        self
    }

    /// Adds the batch index when there is one.
    pub fn at_index(self, index: Option<usize>) -> Self {
        match index {
            Some(i) => self.with_index(i),
            None => self,
        }
    }

    /// `404` for an unknown route.
    pub fn not_found(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            format!("no route for {path}"),
        )
    }
}

impl std::ops::Deref for Problem {
    type Target = ProblemDetails;
    fn deref(&self) -> &ProblemDetails {
        &self.0
    }
}

impl std::ops::DerefMut for Problem {
    fn deref_mut(&mut self) -> &mut ProblemDetails {
        &mut self.0
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.close_connection {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        let kind = self.problem_type.rsplit(':').next().unwrap_or_default();
        response
            .extensions_mut()
            .insert(telemetry::ProblemKind(kind.to_owned()));
        response
    }
}

/// The policy of every answer: only this server's own files and API, never in a frame.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'none'";

/// Middleware (`axum::middleware::map_response`): security headers on every answer, so the
/// dashboard cannot be framed or fed foreign scripts and no answer is sniffed as another type.
pub async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    response
}

/// The fallback handler: unknown routes answer a `404` problem.
pub async fn not_found(uri: axum::http::Uri) -> Problem {
    Problem::not_found(uri.path())
}

/// The handler for a known route with the wrong method: a `405` problem.
pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}
