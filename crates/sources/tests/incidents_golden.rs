//! Golden tests of the `alertmanager` and `pagerduty` transformers: every directory under
//! `tests/fixtures/{alertmanager,pagerduty}/` (repository root) that holds an `input.json` (the
//! CloudEvent the webhook adapter makes of a real payload; `dora-ingest`'s `incident_webhooks`
//! test checks that it is exactly that) and `expected.json` (the JSON array of CDEvents it must
//! give). With `DORA_UPDATE_GOLDEN=1` the expected files are rewritten from the current output.
//!
//! Settings: Alertmanager with its defaults; PagerDuty with the default environment and the
//! service mapping `"Checkout (prod)" = "checkout"`.
//!
//! Every emitted CDEvent must validate against the official v0.5.1 schemas (`dora_spec`), and
//! the rules (pairing, timestamps, labels, ignored types) are asserted on the fixtures, so that
//! a wrong implementation fails even after a careless golden update.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use common::{
    assert_minimum, case_name, cases, compare_golden, input, input_event, parse, read_json,
};
use dora_model::cloudevent::CloudEvent;
use dora_sources::alertmanager::{
    AlertmanagerSettings, AlertmanagerTransformer, INCIDENT_DETECTED, INCIDENT_RESOLVED,
};
use dora_sources::pagerduty::{PagerdutySettings, PagerdutyTransformer};
use dora_sources::{Source, SourcesConfig, Transformer};
use dora_spec::SpecRelease;
use serde_json::{json, Value};

const TOOLS: [&str; 2] = ["alertmanager", "pagerduty"];

fn pagerduty_settings() -> PagerdutySettings {
    PagerdutySettings {
        services: BTreeMap::from([("Checkout (prod)".to_owned(), "checkout".to_owned())]),
        ..PagerdutySettings::default()
    }
}

fn transformer(tool: &str) -> Box<dyn Transformer> {
    match tool {
        "alertmanager" => Box::new(AlertmanagerTransformer::new(AlertmanagerSettings::default())),
        "pagerduty" => Box::new(PagerdutyTransformer::new(pagerduty_settings())),
        _ => unreachable!("{tool}"),
    }
}

/// Runs the tool's transformer and checks every CDEvent against the schemas.
fn transform_with(transformer: &dyn Transformer, event: &CloudEvent) -> Vec<Value> {
    common::checked(transformer, event)
}

fn transform(tool: &str, event: &CloudEvent) -> Vec<Value> {
    transform_with(transformer(tool).as_ref(), event)
}

fn run(tool: &str, case: &str) -> Vec<Value> {
    transform(tool, &parse(input(tool, case)))
}

/// The one CDEvent a case gives.
fn one(tool: &str, case: &str) -> Value {
    let mut out = run(tool, case);
    assert_eq!(out.len(), 1, "{tool}/{case}: {out:#?}");
    out.remove(0)
}

#[test]
fn golden_cases() {
    let mut failures = Vec::new();
    for (tool, minimum) in TOOLS.into_iter().zip([8, 6]) {
        let cases = cases(tool);
        assert_minimum(&format!("{tool}: "), &cases, minimum);
        compare_golden(
            &format!("{tool}/"),
            &cases,
            case_name,
            |dir| transform(tool, &input_event(dir)),
            &mut failures,
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_case_gives_the_same_output_twice_and_emits_v0_5_1_incident_types() {
    assert_eq!(
        dora_spec::type_for(SpecRelease::V0_5_1, "incident", "detected"),
        Some(INCIDENT_DETECTED)
    );
    assert_eq!(
        dora_spec::type_for(SpecRelease::V0_5_1, "incident", "resolved"),
        Some(INCIDENT_RESOLVED)
    );
    for tool in TOOLS {
        for dir in cases(tool) {
            let event = parse(read_json(&dir.join("input.json")));
            let out = transform(tool, &event);
            assert_eq!(out, transform(tool, &event), "{}", case_name(&dir));
            for document in out {
                let kind = document["context"]["type"].as_str().unwrap();
                assert!(
                    kind == INCIDENT_DETECTED || kind == INCIDENT_RESOLVED,
                    "{kind}"
                );
                assert_eq!(document["context"]["source"], json!(event.source));
                assert_eq!(document["subject"]["source"], json!(event.source));
            }
        }
    }
}

#[test]
fn the_configured_transformer_kinds_are_these() {
    let sources = SourcesConfig::default();
    let event = parse(input("alertmanager", "project-resolved-0"));
    assert_eq!(
        transform_with(
            dora_sources::alertmanager::Alertmanager
                .transformer(&sources)
                .as_ref(),
            &event
        ),
        run("alertmanager", "project-resolved-0")
    );
    let event = parse(input("pagerduty", "zulip-triggered-v3-0"));
    assert_eq!(
        transform_with(
            dora_sources::pagerduty::Pagerduty
                .transformer(&sources)
                .as_ref(),
            &event
        ),
        run("pagerduty", "zulip-triggered-v3-0")
    );
}

// ---------------------------------------------------------------------------------------------
// Alertmanager

#[test]
fn alertmanager_firing_and_resolved_pair_up_with_the_alerts_times() {
    let detected = one("alertmanager", "project-mixed-group-0");
    let resolved = one("alertmanager", "project-resolved-0");
    assert_eq!(detected["context"]["type"], INCIDENT_DETECTED);
    assert_eq!(resolved["context"]["type"], INCIDENT_RESOLVED);
    assert_eq!(
        detected["subject"]["id"],
        "7a31e06805053420/2024-03-12T09:41:07.512Z"
    );
    assert_eq!(detected["subject"]["id"], resolved["subject"]["id"]);
    assert_ne!(detected["context"]["id"], resolved["context"]["id"]);
    // startsAt for the detection, endsAt for the resolution; never the clock.
    assert_eq!(detected["context"]["timestamp"], "2024-03-12T09:41:07.512Z");
    assert_eq!(resolved["context"]["timestamp"], "2024-03-12T10:02:22.512Z");
    assert_eq!(
        detected["subject"]["content"],
        json!({
            "description": "Checkout 5xx rate above 5%",
            "environment": {"id": "production"},
            "service": {"id": "checkout"},
        })
    );
    assert_eq!(
        detected["subject"]["content"],
        resolved["subject"]["content"]
    );
    let dora = &resolved["customData"]["dora"];
    assert_eq!(dora["startsAt"], "2024-03-12T09:41:07.512Z");
    assert_eq!(dora["endsAt"], "2024-03-12T10:02:22.512Z");
    assert_eq!(dora["labels"]["severity"], "critical");
    assert!(dora["generatorURL"]
        .as_str()
        .unwrap()
        .starts_with("http://prometheus-k8s-0:9090/"));
    // On a firing alert endsAt is only a guess: not reported.
    assert!(detected["customData"]["dora"].get("endsAt").is_none());
}

#[test]
fn alertmanager_labels_fall_back_in_the_configured_order() {
    // app (no service label) and namespace (no environment label).
    let payments = one("alertmanager", "project-mixed-group-1");
    assert_eq!(payments["context"]["type"], INCIDENT_RESOLVED);
    common::assert_incident_in(&payments, "payments", "shop-staging");
    // annotations.description when there is no summary.
    assert_eq!(
        payments["subject"]["content"]["description"],
        "5.3% of payments requests failed over the last 5 minutes."
    );
    // job; no environment label at all: the default environment.
    let msteams = one("alertmanager", "prometheus-msteams-firing-0");
    common::assert_incident_in(&msteams, "docker_nodes", "unknown");
    assert_eq!(
        msteams["subject"]["content"]["description"],
        "Server High Memory usage"
    );
    // No service label at all: no service; the message annotation as description.
    let bot = one("alertmanager", "alertmanager-bot-firing-0");
    assert!(bot["subject"]["content"].get("service").is_none());
    assert_eq!(
        bot["subject"]["content"]["description"],
        "Something is on fire"
    );
    // Settings change the labels looked at and the fallback.
    let custom = AlertmanagerTransformer::new(AlertmanagerSettings {
        service_labels: vec!["alertname".into()],
        environment_labels: vec!["cluster".into()],
        default_environment: "production".into(),
    });
    let event = parse(input("alertmanager", "alertmanager-bot-firing-0"));
    let document = transform_with(&custom, &event).remove(0);
    common::assert_incident_in(&document, "Fire", "production");
}

#[test]
fn alertmanager_old_payloads_pair_through_the_derived_fingerprint() {
    let firing = one("alertmanager", "alertmanager-bot-firing-0");
    let resolved = one("alertmanager", "alertmanager-bot-resolved-0");
    assert_eq!(firing["subject"]["id"], resolved["subject"]["id"]);
    // The offsets of the payload are normalised to UTC.
    let timestamps = [firing, resolved].map(|document| document["context"]["timestamp"].clone());
    assert_eq!(
        timestamps,
        [
            "2018-11-04T21:43:58.283995108Z",
            "2018-11-04T21:48:13.283995108Z"
        ]
    );
}

#[test]
fn alertmanager_rejects_what_it_cannot_date_and_ignores_other_types() {
    let transformer = transformer("alertmanager");
    let mut no_end = input("alertmanager", "project-resolved-0");
    no_end["data"]["endsAt"] = json!("0001-01-01T00:00:00Z");
    let error = transformer.documents(&parse(no_end)).unwrap_err();
    assert!(error.reason.contains("data.endsAt"), "{error}");
    let mut no_start = input("alertmanager", "zulip-alert-0");
    no_start["data"].as_object_mut().unwrap().remove("startsAt");
    let error = transformer.documents(&parse(no_start)).unwrap_err();
    assert!(error.reason.contains("data.startsAt"), "{error}");
    let mut other = input("alertmanager", "zulip-alert-0");
    other["type"] = json!("io.prometheus.alertmanager.alert.silenced");
    assert!(transformer.documents(&parse(other)).unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------
// PagerDuty

#[test]
fn pagerduty_triggered_and_resolved_pair_up_and_the_rest_gives_nothing() {
    let detected = one("pagerduty", "project-checkout-triggered-0");
    let resolved = one("pagerduty", "project-checkout-resolved-0");
    assert_eq!(detected["context"]["type"], INCIDENT_DETECTED);
    assert_eq!(resolved["context"]["type"], INCIDENT_RESOLVED);
    assert_eq!(detected["subject"]["id"], "Q2BFKD3NAOTJ4S");
    assert_eq!(detected["subject"]["id"], resolved["subject"]["id"]);
    assert_eq!(detected["context"]["source"], "https://acme.pagerduty.com");
    assert_eq!(detected["context"]["timestamp"], "2024-03-12T09:41:19.283Z");
    assert_eq!(resolved["context"]["timestamp"], "2024-03-12T10:02:31.054Z");
    // The service mapping of the settings, the default environment.
    assert_eq!(
        detected["subject"]["content"],
        json!({
            "description": "[FIRING:1] HighErrorRate checkout production",
            "environment": {"id": "production"},
            "service": {"id": "checkout"},
        })
    );
    assert_eq!(
        detected["customData"]["dora"]["serviceName"],
        "Checkout (prod)"
    );
    assert_eq!(detected["customData"]["dora"]["priority"], "P1");
    assert!(run("pagerduty", "project-checkout-acknowledged-0").is_empty());
    assert!(run("pagerduty", "project-ping-0").is_empty());
}

#[test]
fn pagerduty_unmapped_services_keep_their_name_and_ids_can_be_mapped() {
    let zulip = one("pagerduty", "zulip-triggered-v3-0");
    assert_eq!(zulip["subject"]["id"], "PFQZPSY");
    assert_eq!(zulip["subject"]["content"]["service"]["id"], "pig208");
    assert_eq!(zulip["context"]["source"], "https://pig208.pagerduty.com");
    let resolved = one("pagerduty", "zulip-resolved-v3-0");
    assert_eq!(resolved["context"]["type"], INCIDENT_RESOLVED);
    assert_eq!(resolved["context"]["timestamp"], "2021-06-04T13:16:53.816Z");

    let by_id = PagerdutyTransformer::new(PagerdutySettings {
        services: BTreeMap::from([("PA2P440".to_owned(), "pig".to_owned())]),
        environment: "prod".into(),
    });
    let event = parse(input("pagerduty", "zulip-triggered-v3-0"));
    let document = transform_with(&by_id, &event).remove(0);
    common::assert_incident_in(&document, "pig", "prod");
}

#[test]
fn pagerduty_incident_without_id_is_an_error() {
    let mut event = input("pagerduty", "zulip-resolved-v3-0");
    event["data"]["data"].as_object_mut().unwrap().remove("id");
    let error = transformer("pagerduty")
        .documents(&parse(event))
        .unwrap_err();
    assert!(error.reason.contains("data.data.id"), "{error}");
}

#[test]
fn alertmanager_sources_as_alertmanager_sends_them_are_valid() {
    // `http://:9093`: an Alertmanager whose hostname did not resolve (no --web.external-url).
    for source in [
        "http://:9093",
        "alertmanager",
        "https://am.example.com/alertmanager/",
    ] {
        let mut event = input("alertmanager", "zulip-alert-0");
        event["source"] = json!(source);
        assert_eq!(run_value("alertmanager", event).len(), 1, "{source}");
    }
}

fn run_value(tool: &str, event: Value) -> Vec<Value> {
    transform(tool, &parse(event))
}
