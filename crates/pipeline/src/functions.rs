//! External functions: transformers of kind `http` (`[functions.<name>]`, routes name them
//! `http:<name>`), e.g. the book's Knative functions.
//!
//! The router never calls a function: a slow or absent function must not slow or hold its pass.
//! It enqueues a job per (raw event, function) in `function_jobs`, in the transaction that moves
//! its cursor. The [`FunctionWorker`] of each function takes the due jobs, oldest first, POSTs
//! each CloudEvent in binary mode (`ce-*` headers, the data as the body) and stores the CDEvents
//! of the answer and deletes the job in one transaction. A function that cannot be reached,
//! times out, or answers 5xx, 408 or 429 keeps its job, retried with exponential backoff for as
//! long as it takes; any other 4xx or an answer that is not CDEvents is a failure recorded in
//! `transform_failures`, and so is an answer the database refuses to store ([`Blame::Event`]).
//! Each function has its own worker, so one being down delays no other.
//!
//! ```toml
//! [functions.jenkins]
//! url = "http://jenkins-to-cdevents.default.svc.cluster.local"
//! timeout = "5s"
//!
//! [[routes]]
//! name = "jenkins"
//! type_prefix = "io.jenkins."
//! transformers = ["http:jenkins"]
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dora_model::cloudevent::{media_type, CloudEvent, Data};
use dora_model::ids::derived_id;
use dora_store::{Blame, FunctionJob, JobOutcome, NewCdEvent, Store, StoreError};
use percent_encoding::{AsciiSet, CONTROLS};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::router::validated_cdevent;

/// Jobs taken per pass (one call and one transaction each).
const JOBS_PER_PASS: i64 = 32;
/// How much of an error answer's body a failure quotes.
const QUOTED_BODY_CHARS: usize = 200;

/// Characters percent-encoded in `ce-` header values (CloudEvents HTTP binding, 3.1.3.2):
/// controls, space, `"` and `%`; non-ASCII is always encoded.
const HEADER_VALUE: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'%');

/// One `[functions.<name>]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionConfig {
    /// Where the CloudEvents are POSTed.
    pub url: String,
    /// Longest wait for a complete answer; past it the call is retried.
    #[serde(with = "humantime_serde", default = "default_timeout")]
    pub timeout: Duration,
    /// Extra request headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Sent as `Authorization: Bearer <token>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<String>,
    /// Wait before the first retry; each further retry waits twice as long, up to `retry_max`.
    #[serde(with = "humantime_serde", default = "default_retry_initial")]
    pub retry_initial: Duration,
    /// Longest wait between retries.
    #[serde(with = "humantime_serde", default = "default_retry_max")]
    pub retry_max: Duration,
}

fn default_timeout() -> Duration {
    Duration::from_secs(5)
}

fn default_retry_initial() -> Duration {
    Duration::from_secs(1)
}

fn default_retry_max() -> Duration {
    Duration::from_secs(300)
}

impl FunctionConfig {
    /// A function at `url` with the default timeout and retries.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            timeout: default_timeout(),
            headers: BTreeMap::new(),
            bearer_token: None,
            retry_initial: default_retry_initial(),
            retry_max: default_retry_max(),
        }
    }

    /// The wait before the next attempt after `attempts` failed ones (this one included).
    pub fn backoff(&self, attempts: i32) -> Duration {
        let exponent = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(30);
        self.retry_initial
            .saturating_mul(2u32.saturating_pow(exponent))
            .min(self.retry_max)
    }
}

/// A `[functions.<name>]` entry that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("function {function:?}: {message}")]
pub struct FunctionError {
    pub function: String,
    pub message: String,
}

/// Checks the entries of `[functions]` (names, URLs, headers, timeouts).
pub fn check_functions(functions: &BTreeMap<String, FunctionConfig>) -> Result<(), FunctionError> {
    for (name, config) in functions {
        FunctionWorker::client(name, config)?;
    }
    Ok(())
}

/// What one call of a function came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// The function answered with these CDEvents (validated), or failed for good.
    Settled(JobOutcome),
    /// Try again later: the function is away, slow, or overloaded.
    Retry(String),
}

/// What one pass of a function worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FunctionPass {
    /// Jobs finished (answered, or failed for good).
    pub finished: usize,
    /// CDEvents stored.
    pub cdevents: usize,
    /// A call must be retried: the function is not called again before then.
    pub paused_until: Option<DateTime<Utc>>,
}

/// Calls one function for its due jobs.
#[derive(Debug, Clone)]
pub struct FunctionWorker {
    store: Store,
    name: String,
    /// `http:<name>`: the transformer its CDEvents and failures are recorded under.
    transformer: String,
    config: FunctionConfig,
    client: reqwest::Client,
    headers: reqwest::header::HeaderMap,
}

impl FunctionWorker {
    pub fn new(store: Store, name: &str, config: FunctionConfig) -> Result<Self, FunctionError> {
        let (client, headers) = Self::client(name, &config)?;
        Ok(Self {
            store,
            name: name.to_owned(),
            transformer: format!("http:{name}"),
            config,
            client,
            headers,
        })
    }

    fn client(
        name: &str,
        config: &FunctionConfig,
    ) -> Result<(reqwest::Client, reqwest::header::HeaderMap), FunctionError> {
        let fail = |message: String| FunctionError {
            function: name.to_owned(),
            message,
        };
        if !crate::transformers::rules::is_valid_name(name) {
            return Err(fail(
                "a function name is letters, digits, '-', '_' or '.'".into(),
            ));
        }
        let url = reqwest::Url::parse(&config.url)
            .map_err(|e| fail(format!("url {:?} is not a URL: {e}", config.url)))?;
        if url.scheme() != "http" {
            // The build carries no TLS stack; in a cluster, functions are reached over plain
            // HTTP (a service mesh adds TLS, if wanted).
            return Err(fail(format!("url {:?} must be http://", config.url)));
        }
        if config.timeout.is_zero() || config.retry_initial.is_zero() {
            return Err(fail("timeout and retry_initial must be positive".into()));
        }
        if config.retry_max < config.retry_initial {
            return Err(fail("retry_max must be at least retry_initial".into()));
        }
        let mut headers = reqwest::header::HeaderMap::new();
        for (header, value) in &config.headers {
            let header_name = reqwest::header::HeaderName::from_bytes(header.as_bytes())
                .map_err(|_| fail(format!("header {header:?} is not a valid header name")))?;
            let header_value = reqwest::header::HeaderValue::from_str(value)
                .map_err(|_| fail(format!("header {header:?} has an invalid value")))?;
            headers.insert(header_name, header_value);
        }
        if let Some(token) = &config.bearer_token {
            let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| fail("bearer_token is not a valid header value".into()))?;
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| fail(format!("cannot build an HTTP client: {e}")))?;
        Ok((client, headers))
    }

    /// The function's name (`[functions.<name>]`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Calls the function for its due jobs, oldest first, until one must be retried.
    pub async fn run_pass(&self) -> Result<FunctionPass, StoreError> {
        let mut pass = FunctionPass::default();
        let jobs = self
            .store
            .due_function_jobs(&self.name, Utc::now(), JOBS_PER_PASS)
            .await?;
        for job in jobs {
            match self.deliver(&job).await {
                Delivery::Settled(outcome) => {
                    if let JobOutcome::Failed { reason, .. } = &outcome {
                        tracing::warn!(function = %self.name, raw_seq = job.raw_seq, reason = %reason,
                            "function failed for good; see GET /api/v1/failures");
                    }
                    let stored = match &outcome {
                        JobOutcome::Done(cdevents) => cdevents.len(),
                        JobOutcome::Failed { .. } => 0,
                    };
                    if self.finish(&job, &outcome).await? {
                        pass.finished += 1;
                        pass.cdevents += stored;
                    }
                }
                Delivery::Retry(reason) => {
                    let attempts = job.attempts.saturating_add(1);
                    let wait = self.config.backoff(attempts);
                    let at = Utc::now()
                        + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
                    tracing::warn!(function = %self.name, raw_seq = job.raw_seq, attempts,
                        retry_in = ?wait, reason = %reason, "function call failed; will retry");
                    self.store
                        .retry_function_job(job.raw_seq, &self.name, at, &reason)
                        .await?;
                    // The function is away or overloaded: leave its other jobs until then too.
                    pass.paused_until = Some(at);
                    break;
                }
            }
        }
        Ok(pass)
    }

    /// Stores a job's outcome. When the database refuses what the function answered
    /// ([`Blame::Event`]), the job ends as a failure naming the database's reason instead (and,
    /// should even that be refused, as a failure without it), so one answer never holds back
    /// the function's other jobs.
    async fn finish(&self, job: &FunctionJob, outcome: &JobOutcome) -> Result<bool, StoreError> {
        let error = match self
            .store
            .finish_function_job(job.raw_seq, &self.name, outcome)
            .await
        {
            Err(error) if error.blame() == Blame::Event => error,
            settled => return settled,
        };
        tracing::error!(function = %self.name, raw_seq = job.raw_seq, error = %error,
            "the database refused a function's answer; recorded in transform_failures");
        let refused = JobOutcome::Failed {
            transformer: self.transformer.clone(),
            reason: format!("the database refused the function's answer: {error}"),
        };
        match self
            .store
            .finish_function_job(job.raw_seq, &self.name, &refused)
            .await
        {
            Err(error) if error.blame() == Blame::Event => {
                let bare = JobOutcome::Failed {
                    transformer: self.transformer.clone(),
                    reason: "the database refused the function's answer".into(),
                };
                self.store
                    .finish_function_job(job.raw_seq, &self.name, &bare)
                    .await
            }
            settled => settled,
        }
    }

    /// When the next job is due (none: no job).
    pub async fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.store.next_function_job_due(&self.name).await
    }

    /// One call of the function for one job.
    #[tracing::instrument(skip(self, job), fields(function = %self.name, raw_seq = job.raw_seq))]
    pub async fn deliver(&self, job: &FunctionJob) -> Delivery {
        let event = match CloudEvent::from_json_bytes(job.content.as_bytes()) {
            Ok(event) => event,
            Err(e) => return self.failed(format!("stored event is not a valid CloudEvent: {e}")),
        };
        let (headers, body) = binary_mode(&event);
        let request = self
            .client
            .post(&self.config.url)
            .headers(self.headers.clone())
            .headers(headers)
            .body(body);
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => return Delivery::Retry(self.transport_error(&e)),
        };
        let status = response.status();
        let response_headers = response.headers().clone();
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(e) => return Delivery::Retry(self.transport_error(&e)),
        };
        if status.is_success() {
            return match self.read_answer(&event, &response_headers, &body) {
                Ok(cdevents) => Delivery::Settled(JobOutcome::Done(cdevents)),
                Err(reason) => self.failed(format!("invalid answer ({status}): {reason}")),
            };
        }
        let quoted: String = String::from_utf8_lossy(&body)
            .chars()
            .take(QUOTED_BODY_CHARS)
            .collect();
        let reason = format!("answered {status}: {}", quoted.trim());
        let retryable = status.is_server_error()
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS
            || status == reqwest::StatusCode::REQUEST_TIMEOUT;
        if retryable {
            Delivery::Retry(reason)
        } else {
            self.failed(reason)
        }
    }

    fn failed(&self, reason: String) -> Delivery {
        Delivery::Settled(JobOutcome::Failed {
            transformer: self.transformer.clone(),
            reason,
        })
    }

    fn transport_error(&self, error: &reqwest::Error) -> String {
        if error.is_timeout() {
            return format!("no answer within {:?}", self.config.timeout);
        }
        // reqwest's own message ("error sending request") hides the cause in its sources.
        let mut message = format!("cannot reach {}: {error}", self.config.url);
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            message.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        message
    }

    /// The CDEvents of a 2xx answer: none (204, empty body), a CloudEvent in binary or
    /// structured mode whose data is a CDEvent, a batch of them, a CDEvent or an array of
    /// CDEvents. Every CDEvent must be valid, or none is stored.
    fn read_answer(
        &self,
        event: &CloudEvent,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
    ) -> Result<Vec<NewCdEvent>, String> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Vec::new());
        }
        let content_type = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(media_type)
            .unwrap_or_default();
        let json: Value =
            serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
        let binary_mode = headers.contains_key("ce-specversion");
        let documents: Vec<Value> = if binary_mode {
            // A CloudEvent in binary mode: the body is its data, the CDEvent.
            vec![json]
        } else {
            let items = match json {
                Value::Array(items) => items,
                single => vec![single],
            };
            let batch = content_type == "application/cloudevents-batch+json";
            let structured = content_type == "application/cloudevents+json";
            items
                .into_iter()
                .enumerate()
                .map(|(index, item)| {
                    let is_cloudevent = batch
                        || structured
                        || item.get("specversion").is_some_and(Value::is_string);
                    if !is_cloudevent {
                        return Ok(item);
                    }
                    let cloudevent = CloudEvent::from_json_value(item)
                        .map_err(|e| format!("CloudEvent {index}: {e}"))?;
                    cloudevent.data_json().cloned().ok_or_else(|| {
                        format!("CloudEvent {index} carries no JSON data (the CDEvent)")
                    })
                })
                .collect::<Result<_, String>>()?
        };
        documents
            .into_iter()
            .enumerate()
            .map(|(index, mut document)| {
                self.complete_id(&mut document, event, index);
                validated_cdevent(&document, &self.transformer)
                    .map_err(|reason| format!("CDEvent {index}: {reason}"))
            })
            .collect()
    }

    /// Gives a CDEvent without `context.id` a deterministic one (from the function, the
    /// CloudEvent and the CDEvent's position), so a call made again stores nothing new.
    fn complete_id(&self, document: &mut Value, event: &CloudEvent, index: usize) {
        let Some(context) = document.get_mut("context").and_then(Value::as_object_mut) else {
            return;
        };
        let missing = context
            .get("id")
            .is_none_or(|id| id.is_null() || id.as_str() == Some(""));
        if missing {
            let id = derived_id(&[
                "http",
                &self.name,
                &event.source,
                &event.id,
                &index.to_string(),
            ]);
            context.insert("id".into(), Value::String(id));
        }
    }
}

/// A CloudEvent in the HTTP binary mode: `ce-` headers and the data as the body.
pub fn binary_mode(event: &CloudEvent) -> (reqwest::header::HeaderMap, Vec<u8>) {
    let mut headers = reqwest::header::HeaderMap::new();
    let mut put = |name: &str, value: &str| {
        let encoded = percent_encoding::utf8_percent_encode(value, HEADER_VALUE).to_string();
        if let (Ok(name), Ok(value)) = (
            reqwest::header::HeaderName::from_bytes(format!("ce-{name}").as_bytes()),
            reqwest::header::HeaderValue::from_str(&encoded),
        ) {
            headers.insert(name, value);
        }
    };
    put("specversion", "1.0");
    put("id", &event.id);
    put("source", &event.source);
    put("type", &event.event_type);
    let time = event
        .time_text
        .clone()
        .or_else(|| event.time.as_ref().map(dora_model::time::format_rfc3339));
    if let Some(time) = &time {
        put("time", time);
    }
    if let Some(subject) = &event.subject {
        put("subject", subject);
    }
    if let Some(schema) = &event.dataschema {
        put("dataschema", schema);
    }
    for (name, value) in &event.extensions {
        match value {
            Value::String(text) => put(name, text),
            other => put(name, &other.to_string()),
        }
    }
    let (body, default_type) = match &event.data {
        Some(Data::Json(value)) => (value.to_string().into_bytes(), Some("application/json")),
        Some(Data::Text(text)) => (text.clone().into_bytes(), Some("text/plain")),
        Some(Data::Binary(bytes)) => (bytes.clone(), Some("application/octet-stream")),
        None => (Vec::new(), None),
    };
    let content_type = event.datacontenttype.as_deref().or(default_type);
    if let Some(value) = content_type.and_then(|ct| reqwest::header::HeaderValue::from_str(ct).ok())
    {
        headers.insert(reqwest::header::CONTENT_TYPE, value);
    }
    (headers, body)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn backoff_doubles_from_the_initial_wait_up_to_the_cap() {
        let config = FunctionConfig::new("http://localhost:1");
        let waits: Vec<u64> = [1, 2, 3, 9, 10, 100]
            .into_iter()
            .map(|attempts| config.backoff(attempts).as_secs())
            .collect();
        assert_eq!(waits, [1, 2, 4, 256, 300, 300]);
    }

    #[test]
    fn binary_mode_carries_attributes_as_percent_encoded_headers() {
        let event = CloudEvent::from_json_value(json!({
            "specversion": "1.0", "id": "a b", "source": "/s", "type": "t",
            "time": "2023-08-05T10:00:00+02:00", "myext": 3, "data": {"x": "é"}
        }))
        .unwrap();
        let (headers, body) = binary_mode(&event);
        assert_eq!(headers["ce-id"], "a%20b");
        assert_eq!(headers["ce-time"], "2023-08-05T10:00:00+02:00");
        assert_eq!(headers["ce-myext"], "3");
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(
            serde_json::from_slice::<Value>(&body).unwrap(),
            json!({"x": "é"})
        );
    }

    #[test]
    fn bad_entries_are_named() {
        let mut functions = BTreeMap::new();
        functions.insert("f".to_owned(), FunctionConfig::new("ftp://x"));
        let error = check_functions(&functions).unwrap_err().to_string();
        assert!(error.starts_with("function \"f\": url"), "{error}");
    }
}
