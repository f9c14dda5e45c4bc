//! Golden tests of the `flux` source: every directory under `tests/fixtures/flux/` (repository
//! root) holds `input.json` (the body the notification-controller POSTs), `expected.json` (the
//! JSON array of CDEvents it must give once `POST /webhooks/flux` wrapped it) and, for some,
//! `settings.json` (`[sources.flux]`). With `DORA_UPDATE_GOLDEN=1` the expected files are
//! rewritten from the current output.
//!
//! Every emitted CDEvent must validate against the official CDEvents schemas, and the rules
//! (which reasons are rollouts, one deployment per revision, where service and environment come
//! from) are asserted on the fixtures, so that a careless golden update cannot hide a wrong one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::single;
use dora_sources::flux::{webhook, FluxSettings, FluxTransformer};
use dora_sources::transform::{SERVICE_DEPLOYED, SERVICE_ROLLEDBACK};

golden_webhook_tool!("flux", FluxSettings, FluxTransformer::new, webhook::WEBHOOK, golden_minimum: 10);

#[test]
fn an_applied_kustomization_is_a_deployment_of_its_commit() {
    let deployed = one("kustomization-applied");
    common::assert_deployed(&deployed, "webapp", "production");
    let dora = &deployed["customData"]["dora"];
    assert_eq!(dora["outcome"], "success");
    assert_eq!(dora["revision"], "731f7eaddfb6af01cb2173e18f0f75b0ba780ef1");
    assert_eq!(dora["team"], "storefront");
    assert_eq!(
        deployed["subject"]["content"]["artifactId"],
        "pkg:generic/webapp@731f7eaddfb6af01cb2173e18f0f75b0ba780ef1"
    );
}

#[test]
fn the_same_revision_reconciled_again_is_the_same_deployment() {
    let first = one("kustomization-applied");
    let later = body("kustomization-applied").replace("09:14:02Z", "09:24:02Z");
    let again = single(run_body(later.as_bytes(), FluxSettings::default()), "later");
    assert_eq!(first["context"]["id"], again["context"]["id"]);
    let next = body("kustomization-applied").replace("731f7ead", "831f7ead");
    let next = single(run_body(next.as_bytes(), FluxSettings::default()), "next");
    assert_ne!(first["context"]["id"], next["context"]["id"]);
}

#[test]
fn failed_health_checks_and_upgrades_are_failed_deployments() {
    let failed = one("kustomization-health-check-failed");
    assert_eq!(failed["customData"]["dora"]["outcome"], "failure");
    assert_eq!(
        failed["subject"]["id"], "shop-web",
        "the service metadata key"
    );
    let failed = one("helmrelease-upgrade-failed");
    assert_eq!(failed["context"]["type"], SERVICE_DEPLOYED);
    assert_eq!(failed["customData"]["dora"]["outcome"], "failure");
}

#[test]
fn a_helm_release_is_a_deployment_of_its_chart_version() {
    let deployed = one("helmrelease-upgrade-succeeded");
    common::assert_deployed(&deployed, "podinfo", "staging");
    assert_eq!(
        deployed["subject"]["content"]["artifactId"],
        "pkg:generic/podinfo@6.5.4"
    );
    assert!(deployed["customData"]["dora"].get("revision").is_none());
    assert_eq!(
        one("helmrelease-rollback-succeeded")["context"]["type"],
        SERVICE_ROLLEDBACK
    );
}

#[test]
fn the_old_revision_spelling_and_the_settings_are_read() {
    let deployed = one("kustomization-applied-before-flux-2");
    assert_eq!(
        deployed["customData"]["dora"]["revision"],
        "731f7eaddfb6af01cb2173e18f0f75b0ba780ef1"
    );
    assert_eq!(deployed["subject"]["content"]["environment"]["id"], "apps");
    let configured = one("kustomization-applied-environment-setting");
    assert_eq!(
        configured["subject"]["content"]["environment"]["id"],
        "prod-eu"
    );
    assert_eq!(configured["context"]["source"], "flux/eu-1");
    assert_ne!(configured["context"]["id"], deployed["context"]["id"]);
}

#[test]
fn events_that_are_not_rollouts_give_nothing() {
    for case in [
        "kustomization-validation-failed",
        "generic-provider-body",
        "source-event-hmac-vector",
    ] {
        assert!(
            run_dir(&common::fixtures(TOOL).join(case)).is_empty(),
            "{case}"
        );
    }
}
