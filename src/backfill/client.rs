//! The REST API client of `dora-events backfill` (GitHub, GitLab, Bitbucket): one GET at a
//! time, pages followed through the `Link` header (GitLab's `X-Next-Page`, Bitbucket's `next` in
//! the body), rate limits waited out. What differs between the tools (authentication, header
//! names, hints) is a [`Dialect`].
//!
//! # Rate limits
//!
//! * A rate-limited status (GitHub: `403`/`429`, GitLab: `429`) with `Retry-After: <seconds>`:
//!   wait that long, then ask again.
//! * A rate-limited status with `<remaining>: 0` and `<reset>: <unix seconds>` (GitHub:
//!   `X-RateLimit-Remaining`/`X-RateLimit-Reset`, GitLab: `RateLimit-Remaining`/`RateLimit-Reset`):
//!   wait until the reset (plus a second), then ask again.
//! * Any other `429`, or a GitHub `403` whose message speaks of a rate limit (a secondary limit
//!   without `Retry-After`): wait a minute, as GitHub's documentation asks.
//! * `502`/`503`/`504`: wait [`Limits::retry_base`], doubled each time, then ask again.
//!
//! Every wait is announced through the client's notice callback (the command prints it) and is at
//! most [`Limits::max_wait`]; a request waits at most [`Limits::max_retries`] times before its
//! error is reported. Every request has a timeout and every body a size bound.
//!
//! Errors name the endpoint (the path and query asked, never the token) and the HTTP status,
//! and the caller adds the repository or project.
//!
//! # Conditional requests
//!
//! [`ApiClient::page_if_changed`] sends a page's `ETag` of an earlier run as `If-None-Match`:
//! a `304 Not Modified` answer carries no body and, on GitHub, costs no rate limit.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use reqwest::header::{
    HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, ETAG, IF_NONE_MATCH, USER_AGENT,
};
use reqwest::{Response, StatusCode};
use serde_json::Value;

/// The largest response body read (pages of 100 objects are well below).
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// How long and how often the client waits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The longest single wait (a rate-limit reset further away is waited for this long, then
    /// the request is tried again).
    pub max_wait: Duration,
    /// Waits per request before its error is reported.
    pub max_retries: u32,
    /// The first wait after a `502`/`503`/`504` (doubled each time).
    pub retry_base: Duration,
    /// The timeout of one request.
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_wait: Duration::from_secs(65 * 60),
            max_retries: 6,
            retry_base: Duration::from_secs(2),
            request_timeout: Duration::from_secs(60),
        }
    }
}

/// Where the client says that it waits (the command prints it above the progress bars).
pub type Notice = Arc<dyn Fn(String) + Send + Sync>;

/// One page of a list endpoint.
#[derive(Debug)]
pub struct Page {
    pub items: Vec<Value>,
    /// The `rel="next"` URL of the `Link` header (else the page named by `X-Next-Page`).
    pub next: Option<String>,
    /// The page's `ETag`, when the API gave one.
    pub etag: Option<String>,
}

/// What differs between the tools' APIs.
pub struct Dialect {
    /// `GitHub`, in messages.
    pub tool: &'static str,
    /// The headers every request carries, with the token (when given).
    pub headers: fn(Option<&str>) -> anyhow::Result<HeaderMap>,
    /// The header counting the requests left, and the one giving the reset (unix seconds).
    pub remaining: &'static str,
    pub reset: &'static str,
    /// Whether a `403` may be a rate limit (GitHub's secondary limits).
    pub forbidden_may_limit: bool,
    /// The header naming the next page's number, besides `Link` (GitLab's `X-Next-Page`).
    pub next_page: Option<&'static str>,
    /// The member of a list answer holding the next page's URL (Bitbucket's `next`).
    pub next_in_body: Option<&'static str>,
    /// Said after a `401`, and after a `404`.
    pub unauthorized_hint: &'static str,
    pub not_found_hint: &'static str,
}

/// The client of a tool's REST API.
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    api: String,
    limits: Limits,
    notice: Notice,
    dialect: &'static Dialect,
    /// Requests sent (counted for the report), and those answered `304 Not Modified`.
    requests: Arc<std::sync::atomic::AtomicU64>,
    not_modified: Arc<std::sync::atomic::AtomicU64>,
}

/// GitHub's REST API (v3).
pub static GITHUB: Dialect = Dialect {
    tool: "GitHub",
    headers: github_headers,
    remaining: "X-RateLimit-Remaining",
    reset: "X-RateLimit-Reset",
    forbidden_may_limit: true,
    next_page: None,
    next_in_body: None,
    unauthorized_hint: " (check GITHUB_TOKEN or --token-file)",
    not_found_hint: " (no such repository, or the token cannot read it)",
};

fn github_headers(token: Option<&str>) -> anyhow::Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    headers.insert(
        ACCEPT,
        HeaderValue::from_static("application/vnd.github+json"),
    );
    headers.insert(
        "X-GitHub-Api-Version",
        HeaderValue::from_static("2022-11-28"),
    );
    if let Some(token) = token {
        let value = secret(&format!("Bearer {token}"), "GitHub")?;
        headers.insert(AUTHORIZATION, value);
    }
    Ok(headers)
}

/// A header value holding a secret (left out of debug output).
pub fn secret(text: &str, tool: &str) -> anyhow::Result<HeaderValue> {
    let mut value = HeaderValue::from_str(text)
        .with_context(|| format!("the {tool} token holds characters a header cannot carry"))?;
    value.set_sensitive(true);
    Ok(value)
}

/// The GitHub client of earlier releases: an [`ApiClient`] speaking [`GITHUB`].
pub type GithubClient = ApiClient;

impl ApiClient {
    /// A client for the API at `api_url` speaking `dialect`, sending `token` when given.
    pub fn with_dialect(
        dialect: &'static Dialect,
        api_url: &str,
        token: Option<&str>,
        limits: Limits,
        notice: Notice,
    ) -> anyhow::Result<Self> {
        let api = api_url.trim_end_matches('/').to_owned();
        anyhow::ensure!(
            api.starts_with("https://") || api.starts_with("http://"),
            "--api-url {api_url:?} is not an http(s) URL"
        );
        let mut headers = (dialect.headers)(token.map(str::trim).filter(|t| !t.is_empty()))?;
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("dora-events/", env!("CARGO_PKG_VERSION"))),
        );
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(limits.request_timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .context("Failed to build the HTTP client")?;
        Ok(Self {
            http,
            api,
            limits,
            notice,
            dialect,
            requests: Arc::default(),
            not_modified: Arc::default(),
        })
    }

    /// A GitHub client for the API at `api_url` (`https://api.github.com`, or GitHub
    /// Enterprise's `https://HOST/api/v3`), sending `token` when given.
    pub fn new(
        api_url: &str,
        token: Option<&str>,
        limits: Limits,
        notice: Notice,
    ) -> anyhow::Result<Self> {
        Self::with_dialect(&GITHUB, api_url, token, limits, notice)
    }

    /// The URL of `path_and_query` (`/repos/o/r/deployments?per_page=100`) on this API.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.api)
    }

    /// Requests sent so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Requests answered `304 Not Modified` so far.
    pub fn not_modified(&self) -> u64 {
        self.not_modified.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// One JSON object (`GET /repos/o/r`).
    pub async fn object(&self, url: &str) -> anyhow::Result<Value> {
        let (_, body) = self.get(url).await?;
        Ok(body)
    }

    /// One page of a list: the body is an array, or an object holding it under `field`
    /// (`workflow_runs`).
    pub async fn page(&self, url: &str, field: Option<&str>) -> anyhow::Result<Page> {
        let (headers, body) = self.get(url).await?;
        self.page_of(url, field, &headers, body)
    }

    /// The same, asked with `If-None-Match: etag` when `etag` is given: none when the API
    /// answers `304 Not Modified` (GitHub does not count it against the rate limit).
    pub async fn page_if_changed(
        &self,
        url: &str,
        field: Option<&str>,
        etag: Option<&str>,
    ) -> anyhow::Result<Option<Page>> {
        match self.send(url, etag).await? {
            Some((headers, body)) => self.page_of(url, field, &headers, body).map(Some),
            None => Ok(None),
        }
    }

    fn page_of(
        &self,
        url: &str,
        field: Option<&str>,
        headers: &HeaderMap,
        body: Value,
    ) -> anyhow::Result<Page> {
        let body_next = self
            .dialect
            .next_in_body
            .and_then(|member| body.get(member)?.as_str())
            .map(str::to_owned);
        let list = match field {
            Some(field) => body.get(field).cloned().unwrap_or(Value::Null),
            None => body,
        };
        let Value::Array(items) = list else {
            bail!(
                "GET {}: the answer is not a list{}",
                self.endpoint(url),
                field.map(|f| format!(" under {f:?}")).unwrap_or_default()
            );
        };
        let next = next_link(headers)
            .or_else(|| self.next_page(url, headers))
            .or(body_next);
        let next = match next {
            Some(next) if self.same_api(&next) => Some(next),
            Some(next) => bail!(
                "GET {}: the next page {next:?} is not on {} (not followed)",
                self.endpoint(url),
                self.api
            ),
            None => None,
        };
        let etag = headers
            .get(ETAG)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        Ok(Page { items, next, etag })
    }

    /// The URL of the page named by the dialect's next-page header (`X-Next-Page: 3`): `url`
    /// with its `page` parameter set to it. Empty (the last page) or not a number: none.
    fn next_page(&self, url: &str, headers: &HeaderMap) -> Option<String> {
        let number: u64 = headers
            .get(self.dialect.next_page?)?
            .to_str()
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let mut pairs: Vec<String> = query
            .split('&')
            .filter(|pair| !pair.is_empty() && !pair.starts_with("page="))
            .map(str::to_owned)
            .collect();
        pairs.push(format!("page={number}"));
        Some(format!("{path}?{}", pairs.join("&")))
    }

    /// The path and query of `url`, for messages.
    pub fn endpoint<'a>(&self, url: &'a str) -> &'a str {
        url.strip_prefix(self.api.as_str()).unwrap_or(url)
    }

    fn same_api(&self, url: &str) -> bool {
        url.strip_prefix(self.api.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'))
    }

    /// GET `url`, waiting out rate limits and gateway errors; the headers and the JSON body.
    async fn get(&self, url: &str) -> anyhow::Result<(HeaderMap, Value)> {
        let answer = self.send(url, None).await?;
        answer.with_context(|| format!("GET {}: 304 Not Modified, unasked", self.endpoint(url)))
    }

    /// GET `url` (with `If-None-Match: etag` when given), waiting out rate limits and gateway
    /// errors; the headers and the JSON body, or none for `304 Not Modified`.
    async fn send(
        &self,
        url: &str,
        etag: Option<&str>,
    ) -> anyhow::Result<Option<(HeaderMap, Value)>> {
        let endpoint = self.endpoint(url);
        let mut attempt = 0;
        loop {
            self.requests
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut request = self.http.get(url);
            if let Some(etag) = etag {
                request = request.header(IF_NONE_MATCH, etag);
            }
            let response = request.send().await;
            let response = match response {
                Ok(response) => response,
                Err(error) if attempt < self.limits.max_retries && error.is_timeout() => {
                    attempt += 1;
                    self.wait(self.backoff(attempt), &format!("GET {endpoint} timed out"))
                        .await;
                    continue;
                }
                Err(error) => {
                    return Err(error).with_context(|| format!("GET {endpoint}: no answer"))
                }
            };
            let status = response.status();
            if status == StatusCode::NOT_MODIFIED && etag.is_some() {
                self.not_modified
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Ok(None);
            }
            if status.is_success() {
                let headers = response.headers().clone();
                let body = read_body(response, endpoint).await?;
                return Ok(Some((headers, body)));
            }
            let headers = response.headers().clone();
            let message = message_of(response, endpoint).await;
            match self.retry_after(status, &headers, &message, attempt) {
                Some((wait, why)) if attempt < self.limits.max_retries => {
                    attempt += 1;
                    self.wait(wait, &format!("GET {endpoint}: {why}")).await;
                }
                _ => return Err(self.failure(status, &message, endpoint)),
            }
        }
    }

    /// Whether (and how long) to wait before asking again after `status`.
    fn retry_after(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        message: &str,
        attempt: u32,
    ) -> Option<(Duration, String)> {
        let number =
            |name: &str| -> Option<u64> { headers.get(name)?.to_str().ok()?.trim().parse().ok() };
        let limited = status == StatusCode::TOO_MANY_REQUESTS
            || (status == StatusCode::FORBIDDEN && self.dialect.forbidden_may_limit);
        if limited {
            if let Some(seconds) = number("retry-after") {
                return Some((
                    Duration::from_secs(seconds),
                    format!("{status}, Retry-After {seconds} s"),
                ));
            }
            if number(self.dialect.remaining) == Some(0) {
                let reset = number(self.dialect.reset).unwrap_or(0);
                let now = chrono::Utc::now().timestamp().max(0).unsigned_abs();
                let seconds = reset.saturating_sub(now) + 1;
                return Some((
                    Duration::from_secs(seconds),
                    format!(
                        "{status}, rate limit exhausted until {} {reset}",
                        self.dialect.reset
                    ),
                ));
            }
            // A secondary limit without Retry-After: GitHub asks for at least a minute.
            if status == StatusCode::TOO_MANY_REQUESTS
                || message.to_ascii_lowercase().contains("rate limit")
            {
                return Some((
                    Duration::from_secs(60),
                    format!("{status}, {message:?} without Retry-After"),
                ));
            }
        }
        let gateway = matches!(status.as_u16(), 502..=504);
        gateway.then(|| (self.backoff(attempt + 1), status.to_string()))
    }

    /// The error of a refused request: the endpoint, the status and the tool's message.
    fn failure(&self, status: StatusCode, message: &str, endpoint: &str) -> anyhow::Error {
        let message = match message {
            "" => String::new(),
            message => format!(": {message}"),
        };
        let hint = match status {
            StatusCode::UNAUTHORIZED => self.dialect.unauthorized_hint,
            StatusCode::NOT_FOUND => self.dialect.not_found_hint,
            _ => "",
        };
        let tool = self.dialect.tool;
        anyhow::anyhow!("GET {endpoint}: {tool} answered {status}{message}{hint}")
    }

    fn backoff(&self, attempt: u32) -> Duration {
        self.limits
            .retry_base
            .saturating_mul(1 << attempt.saturating_sub(1).min(10))
    }

    /// Sleeps `wait` (at most [`Limits::max_wait`]), saying so first.
    async fn wait(&self, wait: Duration, why: &str) {
        let wait = wait.min(self.limits.max_wait);
        let shown = if wait < Duration::from_secs(1) {
            format!("{} ms", wait.as_millis())
        } else {
            format!("{} s", wait.as_secs())
        };
        (self.notice)(format!("{why}: waiting {shown} before asking again"));
        tokio::time::sleep(wait).await;
    }
}

/// The JSON body, read up to [`MAX_BODY_BYTES`].
async fn read_body(mut response: Response, endpoint: &str) -> anyhow::Result<Value> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .with_context(|| format!("GET {endpoint}: the answer broke off"))?
    {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            bail!("GET {endpoint}: the answer is larger than {MAX_BODY_BYTES} bytes");
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).with_context(|| format!("GET {endpoint}: the answer is not JSON"))
}

/// The `message` of a refused request (GitLab: else its `error`; Bitbucket: `error.message`; a
/// `message` that is not a text as JSON), at most 300 characters, or nothing.
async fn message_of(response: Response, endpoint: &str) -> String {
    let body = read_body(response, endpoint).await.ok();
    let body = match body {
        Some(Value::Object(mut object)) if object.get("error").is_some_and(Value::is_object) => {
            object.remove("error")
        }
        body => body,
    };
    let text = |field: &str| match body.as_ref()?.get(field)? {
        Value::String(text) => Some(text.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    };
    text("message")
        .or_else(|| text("error"))
        .map(|message| message.chars().take(300).collect())
        .unwrap_or_default()
}

/// The `rel="next"` URL of a `Link` header: `<url>; rel="next", <url>; rel="last"`.
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = headers.get("link")?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, params) = part.trim().split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| matches!(p.trim(), "rel=\"next\"" | "rel=next"));
        let url = url.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| url.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_links_are_read_from_the_link_header() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "link",
            HeaderValue::from_static(
                "<https://api.github.com/repositories/1/deployments?page=2>; rel=\"next\", \
                 <https://api.github.com/repositories/1/deployments?page=5>; rel=\"last\"",
            ),
        );
        assert_eq!(
            next_link(&headers).as_deref(),
            Some("https://api.github.com/repositories/1/deployments?page=2")
        );
        headers.insert(
            "link",
            HeaderValue::from_static("<https://x/?page=1>; rel=\"prev\""),
        );
        assert_eq!(next_link(&headers), None);
    }

    #[test]
    fn gitlab_next_pages_are_read_from_x_next_page_when_there_is_no_link() {
        let notice: Notice = Arc::new(|_| {});
        let dialect = Dialect {
            next_page: Some("x-next-page"),
            ..GITHUB
        };
        let dialect: &'static Dialect = Box::leak(Box::new(dialect));
        let client =
            ApiClient::with_dialect(dialect, "https://gl", None, Limits::default(), notice)
                .unwrap_or_else(|e| panic!("{e}"));
        let url = "https://gl/api/v4/projects/a%2Fb/pipelines?per_page=100&page=2&scope=finished";
        let mut headers = HeaderMap::new();
        headers.insert("x-next-page", HeaderValue::from_static("3"));
        assert_eq!(
            client.next_page(url, &headers).as_deref(),
            Some("https://gl/api/v4/projects/a%2Fb/pipelines?per_page=100&scope=finished&page=3")
        );
        headers.insert("x-next-page", HeaderValue::from_static(""));
        assert_eq!(client.next_page(url, &headers), None);
        let github = ApiClient::new("https://gh", None, Limits::default(), Arc::new(|_| {}))
            .unwrap_or_else(|e| panic!("{e}"));
        headers.insert("x-next-page", HeaderValue::from_static("3"));
        assert_eq!(
            github.next_page(url, &headers),
            None,
            "GitHub has no X-Next-Page"
        );
    }
}
