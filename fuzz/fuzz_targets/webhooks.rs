//! Every webhook adapter (`POST /webhooks/{tool}`), then the default routes on what it made.
//!
//! Input: a first line `<tool> [secret|signed]`, then `name: value` header lines, an empty line
//! and the body (see `dora_fuzz::split_request`):
//!
//! * `<tool>` alone: no `[webhooks.<tool>]` secret or token, so the adapter takes the request
//!   unsigned (as with an ingest token) and the payload parser is what is fuzzed;
//! * `secret`: a secret and tokens are configured and the headers are as fuzzed: the signature
//!   and token checks are what is fuzzed (`401` unless they hold);
//! * `signed`: a secret and tokens are configured and the harness signs the body correctly (or
//!   sends the right token), so the checks pass and the payload parser runs after them.
//!
//! Every event an adapter makes, if it is storable, must read back as stored and goes through
//! the default routes (every built-in transformer the route table sends it to, with the schema
//! validation of what they emit).
#![no_main]

use std::sync::OnceLock;

use dora_fuzz::{assert_stored_form_reads_back, split_line, split_request};
use dora_ingest::webhook::{require_json, webhook_for};
use dora_sources::{SecretSetting, TokenSetting, WebhookSettings};
use dora_pipeline::router::route_event;
use dora_pipeline::routing::{default_routes, RoutingTable};
use dora_sources::SourcesConfig;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;

const SECRET: &str = "fuzz-secret";

fn configured() -> WebhookSettings {
    WebhookSettings {
        github: SecretSetting {
            secret: Some(SECRET.into()),
        },
        gitlab: TokenSetting {
            token: Some(SECRET.into()),
        },
        alertmanager: TokenSetting {
            token: Some(SECRET.into()),
        },
        pagerduty: SecretSetting {
            secret: Some(SECRET.into()),
        },
        argocd: TokenSetting {
            token: Some(SECRET.into()),
        },
        flux: SecretSetting {
            secret: Some(SECRET.into()),
        },
        opsgenie: TokenSetting {
            token: Some(SECRET.into()),
        },
        jira: SecretSetting {
            secret: Some(SECRET.into()),
        },
        bitbucket: SecretSetting {
            secret: Some(SECRET.into()),
        },
    }
}

fn table() -> &'static RoutingTable {
    static TABLE: OnceLock<RoutingTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        RoutingTable::new(&default_routes(), &SourcesConfig::default(), &[])
            .expect("the default routes build")
    })
}

fn hmac_hex(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Adds what the tool sends to prove it knows the configured secret or token.
fn sign(tool: &str, headers: &mut HeaderMap, body: &[u8]) {
    let (name, value) = match tool {
        "github" => ("x-hub-signature-256", format!("sha256={}", hmac_hex(body))),
        "pagerduty" => ("x-pagerduty-signature", format!("v1={}", hmac_hex(body))),
        "flux" => ("x-signature", format!("sha256={}", hmac_hex(body))),
        "jira" | "bitbucket" => ("x-hub-signature", format!("sha256={}", hmac_hex(body))),
        "gitlab" => ("x-gitlab-token", SECRET.to_owned()),
        _ => ("authorization", format!("Bearer {SECRET}")),
    };
    headers.insert(name, HeaderValue::from_str(&value).expect("ASCII"));
}

fuzz_target!(|data: &[u8]| {
    let (first, rest) = split_line(data);
    let Ok(first) = std::str::from_utf8(first) else {
        return;
    };
    let mut words = first.split_ascii_whitespace();
    let Some(tool) = words.next() else {
        return;
    };
    let Some(webhook) = webhook_for(tool) else {
        return;
    };
    let (mut headers, body) = split_request(rest.unwrap_or_default());
    let settings = match words.next() {
        None => WebhookSettings::default(),
        Some("secret") => configured(),
        Some("signed") => {
            sign(tool, &mut headers, body);
            configured()
        }
        Some(_) => return,
    };
    let _ = require_json(&headers);
    let events = match webhook.receive(&headers, body, &settings) {
        Ok(events) => events,
        Err(problem) => {
            assert!(
                problem.status == 400 || problem.status == 401,
                "{problem:?}"
            );
            let _ = serde_json::to_vec(&problem);
            return;
        }
    };
    for event in &events {
        if event.check_storable().is_err() {
            // Refused at the door (400) before it is stored.
            continue;
        }
        let content = event.to_json().to_string();
        let stored = assert_stored_form_reads_back(event, &content);
        let _ = route_event(table(), &stored, false);
    }
});
