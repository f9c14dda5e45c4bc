//! The HTTP client of the commands that talk to a running server (`send`, `metrics --url`,
//! `bench --url`): it carries the bearer token of `--token` / `DORA_TOKEN` on every request.

use anyhow::Context;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};

/// A client that sends `Authorization: Bearer <token>` when a token is given.
pub fn client(
    builder: reqwest::ClientBuilder,
    token: Option<&str>,
) -> anyhow::Result<reqwest::Client> {
    let mut headers = HeaderMap::new();
    if let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) {
        let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
            .context("the token holds characters a header cannot carry")?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }
    builder
        .default_headers(headers)
        .build()
        .context("Failed to build the HTTP client")
}
