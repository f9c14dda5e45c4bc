//! A fake GitHub or GitLab REST API on port 0: lists served in pages of a small size with
//! `Link` headers (GitLab: and `X-Next-Page`), every request logged, and faults (rate limits,
//! errors) injected on demand.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use tokio::task::JoinHandle;

/// What a fault answers.
#[derive(Debug, Clone)]
pub enum FaultKind {
    /// `403` with `X-RateLimit-Remaining: 0` and a reset a second away.
    RateLimit,
    /// `429` with `Retry-After: 1`.
    RetryAfter,
    /// `403` saying "secondary rate limit", without a header saying how long.
    Secondary,
    /// `429` with GitLab's `RateLimit-Remaining: 0` and a `RateLimit-Reset` a second away.
    GitlabRateLimit,
    /// That status, with `{"message": ...}`.
    Status(u16),
}

/// Which API the fake speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Style {
    #[default]
    Github,
    /// `Link` and `X-Next-Page` on every page, except lists whose path ends with
    /// [`X_NEXT_PAGE_ONLY`]: only `X-Next-Page` (so that both ways are followed).
    Gitlab,
    /// Bitbucket Cloud's paginated objects: `{"pagelen", "page", "size", "values", "next"}`,
    /// no `Link`; asks for `Authorization: Bearer` [`BITBUCKET_TOKEN`].
    Bitbucket,
}

/// The token the Bitbucket fake asks for.
pub const BITBUCKET_TOKEN: &str = "bb-test-token";

/// The token the GitLab fake asks for (`PRIVATE-TOKEN`).
pub const GITLAB_TOKEN: &str = "glpat-test-token";

/// The GitLab list answered without `Link` headers.
pub const X_NEXT_PAGE_ONLY: &str = "/merge_requests";

/// Requests whose path ends with `path` (and, when given, ask for `page`) get `kind`, `times`
/// times.
#[derive(Debug, Clone)]
pub struct Fault {
    pub path: String,
    pub page: Option<usize>,
    pub times: u32,
    pub kind: FaultKind,
}

#[derive(Default)]
struct Inner {
    style: Style,
    base: String,
    page_size: usize,
    objects: BTreeMap<String, Value>,
    lists: BTreeMap<String, Vec<Value>>,
    log: Vec<String>,
    faults: Vec<Fault>,
    /// Whether list pages carry an `ETag` and answer `If-None-Match` with `304`.
    etags: bool,
    not_modified: usize,
}

type Shared = Arc<Mutex<Inner>>;

pub struct FakeApi {
    pub url: String,
    inner: Shared,
    task: JoinHandle<()>,
}

impl FakeApi {
    /// Serves `objects` (path -> JSON) and `lists` (path -> items, in GitHub's order; a key
    /// `<path>?<name>=<value>` serves the requests asking for that pair) as GitHub.
    pub async fn start(
        objects: BTreeMap<String, Value>,
        lists: BTreeMap<String, Vec<Value>>,
        page_size: usize,
    ) -> Self {
        Self::start_as(Style::Github, objects, lists, page_size).await
    }

    /// Serves `objects` (raw path, e.g. `/api/v4/projects/a%2Fb` -> JSON) and `lists` as `style`.
    pub async fn start_as(
        style: Style,
        objects: BTreeMap<String, Value>,
        lists: BTreeMap<String, Vec<Value>>,
        page_size: usize,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let inner = Arc::new(Mutex::new(Inner {
            style,
            base: url.clone(),
            page_size,
            objects,
            lists,
            ..Inner::default()
        }));
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(inner.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { url, inner, task }
    }

    pub fn add_fault(&self, fault: Fault) {
        self.inner.lock().unwrap().faults.push(fault);
    }

    /// From now on, list pages carry an `ETag` (of their content) and a request whose
    /// `If-None-Match` names it is answered `304 Not Modified`, without a body or `Link`.
    pub fn serve_etags(&self) {
        self.inner.lock().unwrap().etags = true;
    }

    /// The requests answered `304` so far.
    pub fn not_modified(&self) -> usize {
        self.inner.lock().unwrap().not_modified
    }

    /// Serves `items` as the list at `path` from now on.
    pub fn set_list(&self, path: &str, items: Vec<Value>) {
        self.inner
            .lock()
            .unwrap()
            .lists
            .insert(path.to_owned(), items);
    }

    pub fn clear_faults(&self) {
        self.inner.lock().unwrap().faults.clear();
    }

    /// The requests so far (path and query), and forgets them.
    pub fn take_log(&self) -> Vec<String> {
        std::mem::take(&mut self.inner.lock().unwrap().log)
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn query_page(uri: &Uri) -> usize {
    uri.query()
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("page=")?.parse().ok())
        .unwrap_or(1)
}

async fn answer(State(inner): State<Shared>, uri: Uri, request: HeaderMap) -> Response {
    let mut inner = inner.lock().unwrap();
    let path = uri.path().to_owned();
    let page = query_page(&uri);
    inner.log.push(
        uri.path_and_query()
            .map(ToString::to_string)
            .unwrap_or_default(),
    );
    if let Some(fault) = inner
        .faults
        .iter_mut()
        .find(|f| f.times > 0 && path.ends_with(&f.path) && f.page.is_none_or(|p| p == page))
    {
        fault.times -= 1;
        let kind = fault.kind.clone();
        return fault_response(&kind, inner.style);
    }
    let token = request.get("private-token").and_then(|v| v.to_str().ok());
    if inner.style == Style::Gitlab && token != Some(GITLAB_TOKEN) {
        let unauthorized = json!({"message": "401 Unauthorized"});
        return (StatusCode::UNAUTHORIZED, Json(unauthorized)).into_response();
    }
    let bearer = request.get("authorization").and_then(|v| v.to_str().ok());
    if inner.style == Style::Bitbucket && bearer != Some(&format!("Bearer {BITBUCKET_TOKEN}")) {
        let unauthorized = json!({"type": "error", "error": {"message": "Access token expired."}});
        return (StatusCode::UNAUTHORIZED, Json(unauthorized)).into_response();
    }
    if let Some(object) = inner.objects.get(&path) {
        return Json(object.clone()).into_response();
    }
    let Some(items) = list_of(&inner.lists, &path, uri.query().unwrap_or_default()) else {
        let not_found = match inner.style {
            Style::Github => json!({"message": "Not Found"}),
            Style::Gitlab => json!({"message": "404 Project Not Found"}),
            Style::Bitbucket => {
                json!({"type": "error", "error": {"message": "Repository acme/nope not found"}})
            }
        };
        return (StatusCode::NOT_FOUND, Json(not_found)).into_response();
    };
    let size = inner.page_size;
    let slice: Vec<Value> = items
        .iter()
        .skip((page - 1) * size)
        .take(size)
        .cloned()
        .collect();
    let more = items.len() > page * size;
    let mut headers = next_headers(&inner, &uri, page, more);
    let body = if path.ends_with("/actions/runs") {
        json!({"total_count": items.len(), "workflow_runs": slice})
    } else if inner.style == Style::Bitbucket {
        let mut body = json!({"pagelen": size, "page": page, "size": items.len(), "values": slice});
        if let Some(link) = headers.remove("link") {
            let next = link.to_str().unwrap().split_once('>').unwrap().0[1..].to_owned();
            body["next"] = json!(next);
        }
        body
    } else {
        Value::Array(slice)
    };
    if inner.etags {
        let etag = etag_of(&body, &headers);
        if request.get("if-none-match") == Some(&etag) {
            inner.not_modified += 1;
            let mut headers = HeaderMap::new();
            headers.insert("etag", etag);
            return (StatusCode::NOT_MODIFIED, headers).into_response();
        }
        headers.insert("etag", etag);
    }
    (headers, Json(body)).into_response()
}

/// A weak `ETag` of a page: a hash of its body and of its paging headers.
fn etag_of(body: &Value, headers: &HeaderMap) -> HeaderValue {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    body.to_string().hash(&mut hasher);
    for (name, value) in headers {
        (name.as_str(), value.as_bytes()).hash(&mut hasher);
    }
    HeaderValue::from_str(&format!("W/\"{:016x}\"", hasher.finish())).unwrap()
}

/// The list of `path`: the one keyed `<path>?<pair>` whose pair the query holds (a filter, e.g.
/// `issue_type=incident`), else the one keyed `<path>`.
fn list_of<'a>(
    lists: &'a BTreeMap<String, Vec<Value>>,
    path: &str,
    query: &str,
) -> Option<&'a Vec<Value>> {
    let filtered = lists.iter().find(|(key, _)| {
        key.split_once('?').is_some_and(|(key_path, pair)| {
            key_path == path && query.split('&').any(|asked| asked == pair)
        })
    });
    filtered.map(|(_, items)| items).or_else(|| lists.get(path))
}

/// `Link` (rel="next" and "last") and, for GitLab, `X-Next-Page` (empty on the last page).
fn next_headers(inner: &Inner, uri: &Uri, page: usize, more: bool) -> HeaderMap {
    let path = uri.path();
    let mut headers = HeaderMap::new();
    if inner.style == Style::Gitlab {
        let next = if more {
            (page + 1).to_string()
        } else {
            String::new()
        };
        headers.insert("x-next-page", HeaderValue::from_str(&next).unwrap());
        if path.ends_with(X_NEXT_PAGE_ONLY) {
            return headers;
        }
    }
    if more {
        let query: Vec<&str> = uri
            .query()
            .unwrap_or_default()
            .split('&')
            .filter(|pair| !pair.starts_with("page=") && !pair.is_empty())
            .collect();
        let link = format!(
            "<{}{path}?{}&page={}>; rel=\"next\", <{}{path}?page=99>; rel=\"last\"",
            inner.base,
            query.join("&"),
            page + 1,
            inner.base
        );
        headers.insert("link", HeaderValue::from_str(&link).unwrap());
    }
    headers
}

fn fault_response(kind: &FaultKind, style: Style) -> Response {
    let mut headers = HeaderMap::new();
    let (status, message) = match kind {
        FaultKind::RateLimit => {
            let reset = chrono::Utc::now().timestamp() + 1;
            headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
            headers.insert("x-ratelimit-reset", HeaderValue::from(reset));
            (403, "API rate limit exceeded")
        }
        FaultKind::RetryAfter => {
            headers.insert("retry-after", HeaderValue::from_static("1"));
            (429, "You have exceeded a secondary rate limit")
        }
        FaultKind::Secondary => (403, "You have exceeded a secondary rate limit."),
        FaultKind::GitlabRateLimit => {
            let reset = chrono::Utc::now().timestamp() + 1;
            headers.insert("ratelimit-remaining", HeaderValue::from_static("0"));
            headers.insert("ratelimit-reset", HeaderValue::from(reset));
            (429, "Retry later")
        }
        FaultKind::Status(status) if style == Style::Gitlab => {
            (*status, "500 Internal Server Error")
        }
        FaultKind::Status(status) => (*status, "Server Error"),
    };
    let status = StatusCode::from_u16(status).unwrap();
    (status, headers, Json(json!({"message": message}))).into_response()
}
