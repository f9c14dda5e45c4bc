//! Tests of the linking rules, one by one and through [`Linked`].

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::dora::facts::{Deployment, DoraConfig, Incident};
use crate::dora::testkit::{change, dep, generated, incident, t};
use chrono::Duration;

fn prod_only() -> DoraConfig {
    DoraConfig {
        production_environments: vec!["prod".into(), "prod-eu".into()],
        ..DoraConfig::default()
    }
}

#[test]
fn production_filter() {
    let all = DoraConfig::default();
    assert!(is_production("staging", &all));
    assert!(is_production("", &all));
    let config = prod_only();
    assert!(is_production("prod", &config));
    assert!(is_production("prod-eu", &config));
    assert!(!is_production("staging", &config));
    assert!(!is_production("Prod", &config)); // exact, case-sensitive
}

#[test]
fn containment_rules() {
    let d = dep(1, "api", "prod", "2024-01-10T00:00:00Z")
        .art("img:7")
        .rev("ABCDEF");
    // By artifact.
    assert!(contains(&d, &change("c").artifact("img:7")));
    assert!(!contains(&d, &change("c").artifact("img:8")));
    // By merge SHA or a commit SHA, case-insensitively, whole SHA only.
    assert!(contains(&d, &change("c").merge_sha("abcdef")));
    assert!(contains(
        &d,
        &change("c").commit("x", None).commit("abcdef", None)
    ));
    assert!(!contains(&d, &change("c").commit("abcde", None)));
    // Service: must match when the change names one.
    assert!(contains(&d, &change("c").service("api").artifact("img:7")));
    assert!(!contains(&d, &change("c").service("web").artifact("img:7")));
    // No git ancestry: a deployment of a later commit does not contain an earlier change.
    let earlier = change("c0").commit("111111", Some("2024-01-01T00:00:00Z"));
    assert!(!contains(&d, &earlier));
    // Empty identifiers never match.
    let blank = dep(2, "api", "prod", "2024-01-10T00:00:00Z")
        .art("")
        .rev("");
    assert!(!contains(&blank, &change("c").artifact("").merge_sha("")));
}

#[test]
fn first_production_deployment_ties_by_id_and_skips_staging() {
    // Deployments of `s`, the commit of the change.
    let of_s = |id, service, environment, at| dep(id, service, environment, at).rev("s");
    let deps = [
        of_s(9, "api", "prod", "2024-01-05T12:00:00Z"),
        of_s(4, "api", "prod", "2024-01-05T12:00:00Z"),
        of_s(1, "api", "staging", "2024-01-01T00:00:00Z"),
        of_s(2, "web", "prod", "2024-01-02T00:00:00Z"),
        of_s(3, "api", "prod", "2024-01-06T00:00:00Z"),
    ];
    let config = prod_only();
    let c = change("c").service("api").commit("s", None);
    // Staging 1 and the other service's 2 are skipped; 4 and 9 are in the same second: 4.
    assert_eq!(
        first_production_deployment(&c, &deps, &config).map(|d| d.id),
        Some(4)
    );
    // Without a service, web's 2 (Jan 2) is first.
    let c = change("c").commit("s", None);
    assert_eq!(
        first_production_deployment(&c, &deps, &config).map(|d| d.id),
        Some(2)
    );
    // Staging only: no production deployment.
    let staging_only = [of_s(1, "api", "staging", "2024-01-01T00:00:00Z")];
    assert!(first_production_deployment(&c, &staging_only, &config).is_none());
    // Production filter off: staging counts.
    let all = DoraConfig::default();
    assert_eq!(
        first_production_deployment(&c, &staging_only, &all).map(|d| d.id),
        Some(1)
    );
}

#[test]
fn change_start_tiers_and_skew() {
    let at = t("2024-01-10T12:00:00Z");
    let full = change("c")
        .commit("a", Some("2024-01-10T09:00:00Z"))
        .commit("b", Some("2024-01-10T08:00:00Z"))
        .commit("c", Some("2024-01-10T13:00:00Z"))
        .commit("d", None)
        .created("2024-01-09T00:00:00Z")
        .merged("2024-01-10T11:00:00Z");
    // Earliest commit wins over created (even though created is earlier).
    assert_eq!(
        change_start(&full, at),
        ChangeStart::Start {
            at: t("2024-01-10T08:00:00Z"),
            source: StartSource::Commit,
            skewed_commits: 1
        }
    );
    let created = change("c")
        .created("2024-01-09T00:00:00Z")
        .merged("2024-01-10T00:00:00Z");
    assert_eq!(
        change_start(&created, at),
        ChangeStart::Start {
            at: t("2024-01-09T00:00:00Z"),
            source: StartSource::Created,
            skewed_commits: 0
        }
    );
    let merged = change("c").commit("x", None).merged("2024-01-10T00:00:00Z");
    assert!(matches!(
        change_start(&merged, at),
        ChangeStart::Start {
            source: StartSource::Merged,
            ..
        }
    ));
    // A commit exactly at the deployment time is not skew: lead time 0.
    let same = change("c").commit("x", Some("2024-01-10T12:00:00Z"));
    assert!(matches!(change_start(&same, at), ChangeStart::Start { at: s, .. } if s == at));
    // Everything after the deployment: clock skew.
    let skewed = change("c")
        .commit("x", Some("2024-01-10T12:00:01Z"))
        .created("2024-01-10T12:30:00Z");
    assert_eq!(
        change_start(&skewed, at),
        ChangeStart::ClockSkew { skewed_commits: 1 }
    );
    assert_eq!(
        change_start(&change("c").commit("x", None), at),
        ChangeStart::NoTimestamp
    );
}

fn attribute(incident: &Incident, deps: &[Deployment], config: &DoraConfig) -> Attribution {
    let refs: Vec<&Deployment> = deps.iter().collect();
    attribute_incident(incident, &refs, config)
}

#[test]
fn attribution_rules_in_order() {
    let deps = [
        dep(1, "api", "prod", "2024-01-01T00:00:00Z").art("v1"),
        dep(2, "api", "prod", "2024-01-03T00:00:00Z").art("v2"),
        dep(3, "api", "prod-eu", "2024-01-04T00:00:00Z").art("v1"),
        dep(4, "api", "staging", "2024-01-04T12:00:00Z").art("v1"),
        dep(5, "web", "prod", "2024-01-04T00:00:00Z"),
    ];
    let config = prod_only();
    let by = |id, rule| Attribution::Deployment { id, rule };
    let base = incident("i", "api", "prod", "2024-01-05T00:00:00Z");
    // Rule 4 (time): latest api/prod at or before detection: 2.
    assert_eq!(
        attribute(&base, &deps, &config),
        by(2, AttributionRule::ServiceEnvironmentTime)
    );
    // Rule 3 (artifact) wins over time: v1 in prod -> 1 (3 is prod-eu, 4 is staging).
    let art = base.clone().art("v1");
    assert_eq!(
        attribute(&art, &deps, &config),
        by(1, AttributionRule::Artifact)
    );
    // Without an environment the artifact rule takes any production environment: 3.
    assert_eq!(
        attribute(&art.clone().no_environment(), &deps, &config),
        by(3, AttributionRule::Artifact)
    );
    // Rule 1 (reference) wins over everything.
    assert_eq!(
        attribute(&art.clone().names(5), &deps, &config),
        by(5, AttributionRule::DeploymentRef)
    );
    // Reference to a staging deployment: non-production incident.
    assert_eq!(
        attribute(&base.clone().names(4), &deps, &config),
        Attribution::NonProduction
    );
    // Reference to an unknown deployment falls through to the other rules.
    assert_eq!(
        attribute(&base.clone().names(99), &deps, &config),
        by(2, AttributionRule::ServiceEnvironmentTime)
    );
    // An artifact deployed only after detection falls through to time.
    let later_artifact = incident("i", "api", "prod", "2024-01-02T00:00:00Z").art("v2");
    assert_eq!(
        attribute(&later_artifact, &deps, &config),
        by(1, AttributionRule::ServiceEnvironmentTime)
    );
    // Staging incident: non-production.
    let staging = incident("i", "api", "staging", "2024-01-05T00:00:00Z");
    assert_eq!(
        attribute(&staging, &deps, &config),
        Attribution::NonProduction
    );
    // No environment: latest api deployment in any production environment: 3 (prod-eu).
    assert_eq!(
        attribute(&base.clone().no_environment(), &deps, &config),
        by(3, AttributionRule::ServiceEnvironmentTime)
    );
    // No service and nothing else: unattributed. Unknown service: unattributed.
    assert_eq!(
        attribute(&base.clone().no_service(), &deps, &config),
        Attribution::Unattributed
    );
    let other = incident("i", "mobile", "prod", "2024-01-05T00:00:00Z");
    assert_eq!(attribute(&other, &deps, &config), Attribution::Unattributed);
    // Before any deployment: unattributed.
    let early = incident("i", "api", "prod", "2023-12-31T00:00:00Z");
    assert_eq!(attribute(&early, &deps, &config), Attribution::Unattributed);
}

#[test]
fn attribution_horizon_is_inclusive() {
    let deps = [dep(1, "api", "prod", "2024-01-01T00:00:00Z")];
    let config = DoraConfig::default();
    // Exactly 7 days later: attributed.
    let at_horizon = incident("i", "api", "prod", "2024-01-08T00:00:00Z");
    assert!(matches!(
        attribute(&at_horizon, &deps, &config),
        Attribution::Deployment { id: 1, .. }
    ));
    // One second more: unattributed.
    let past = incident("i", "api", "prod", "2024-01-08T00:00:01Z");
    assert_eq!(attribute(&past, &deps, &config), Attribution::Unattributed);
    // A longer horizon brings it back.
    let long = DoraConfig {
        attribution_horizon: Duration::days(8),
        ..DoraConfig::default()
    };
    assert!(matches!(
        attribute(&past, &deps, &long),
        Attribution::Deployment { id: 1, .. }
    ));
    // Detected in the same second as the deployment: attributed (at or before).
    let same = incident("i", "api", "prod", "2024-01-01T00:00:00Z");
    assert!(matches!(
        attribute(&same, &deps, &config),
        Attribution::Deployment { id: 1, .. }
    ));
}

#[test]
fn attribution_tie_takes_the_higher_id() {
    let deps = [
        dep(8, "api", "prod", "2024-01-01T00:00:00Z"),
        dep(7, "api", "prod", "2024-01-01T00:00:00Z"),
    ];
    let i = incident("i", "api", "prod", "2024-01-01T01:00:00Z");
    assert!(matches!(
        attribute(&i, &deps, &DoraConfig::default()),
        Attribution::Deployment { id: 8, .. }
    ));
}

#[test]
fn rollback_predecessor() {
    let d1 = dep(1, "api", "prod", "2024-01-01T00:00:00Z");
    let d2 = dep(2, "api", "prod", "2024-01-02T00:00:00Z");
    let d3 = dep(3, "api", "staging", "2024-01-02T12:00:00Z");
    let r = dep(4, "api", "prod", "2024-01-03T00:00:00Z").rollback();
    let config = prod_only();
    let all = [&d1, &d2, &d3, &r];
    assert_eq!(
        rolled_back_deployment(&r, &all, &config).map(|d| d.id),
        Some(2)
    );
    assert_eq!(rolled_back_deployment(&d2, &all, &config), None); // not a rollback
    let first = [&r];
    assert_eq!(rolled_back_deployment(&r, &first, &config), None); // nothing before
    let staging_rb = dep(5, "api", "staging", "2024-01-03T00:00:00Z").rollback();
    assert_eq!(rolled_back_deployment(&staging_rb, &all, &config), None);
    // Same second as its predecessor: ordered by id.
    let tie = dep(6, "api", "prod", "2024-01-02T00:00:00Z").rollback();
    assert_eq!(
        rolled_back_deployment(&tie, &all, &config).map(|d| d.id),
        Some(2)
    );
}

#[test]
fn intervention_reasons_listed_in_order() {
    let d = dep(1, "api", "prod", "2024-01-01T00:00:00Z");
    assert!(intervention_reasons(&d, 0, false).is_empty());
    assert_eq!(
        intervention_reasons(&d.clone().failed(), 2, true),
        vec![
            InterventionReason::Incident,
            InterventionReason::RolledBack,
            InterventionReason::FailedRollout
        ]
    );
}

#[test]
fn recovery_rules() {
    let config = DoraConfig::default();
    let failed = dep(1, "api", "prod", "2024-01-01T00:00:00Z").failed();
    let also_failed = dep(2, "api", "prod", "2024-01-01T01:00:00Z").failed();
    let other_env = dep(3, "api", "staging", "2024-01-01T01:30:00Z");
    let good = dep(4, "api", "prod", "2024-01-01T02:00:00Z");
    let later_good = dep(5, "api", "prod", "2024-01-01T03:00:00Z");
    let candidates = [&failed, &also_failed, &other_env, &good, &later_good];
    assert_eq!(
        recovery(&failed, &[], &candidates, &config),
        Recovery::Recovered {
            started_at: t("2024-01-01T00:00:00Z"),
            recovered_at: t("2024-01-01T02:00:00Z"),
            seconds: 7_200,
            by: RecoveredBy::Deployment { deployment_id: 4 },
        }
    );
    assert_eq!(
        recovery(&later_good, &[], &candidates, &config),
        Recovery::Open {
            started_at: t("2024-01-01T03:00:00Z")
        }
    );
    let i1 = incident("i1", "api", "prod", "2024-01-01T00:10:00Z").resolved("2024-01-01T00:40:00Z");
    let i2 = incident("i2", "api", "prod", "2024-01-01T00:20:00Z").resolved("2024-01-01T00:30:00Z");
    assert_eq!(
        recovery(&failed, &[&i2, &i1], &candidates, &config),
        Recovery::Recovered {
            started_at: t("2024-01-01T00:10:00Z"),
            recovered_at: t("2024-01-01T00:40:00Z"),
            seconds: 1_800,
            by: RecoveredBy::IncidentsResolved,
        }
    );
    let open = incident("i3", "api", "prod", "2024-01-01T00:05:00Z");
    assert_eq!(
        recovery(&failed, &[&i1, &open], &candidates, &config),
        Recovery::Open {
            started_at: t("2024-01-01T00:05:00Z")
        }
    );
}

#[test]
fn rework_rules() {
    let config = prod_only();
    let blamed = dep(1, "api", "prod", "2024-01-01T00:00:00Z");
    let i = incident("i", "api", "prod", "2024-01-01T01:00:00Z").resolved("2024-01-01T03:00:00Z");
    let pairs = [(&i, &blamed)];
    let at = |s: &str| dep(2, "api", "prod", s);
    assert_eq!(
        rework_reason(&at("2024-01-01T00:30:00Z"), &pairs, &config),
        None
    );
    assert_eq!(
        rework_reason(&at("2024-01-01T01:00:00Z"), &pairs, &config),
        Some(ReworkReason::DuringIncident {
            incident_id: "i".into()
        })
    );
    assert_eq!(
        rework_reason(&at("2024-01-01T03:00:00Z"), &pairs, &config),
        None
    );
    // Other environment or service: not rework.
    let eu = dep(2, "api", "prod-eu", "2024-01-01T02:00:00Z");
    assert_eq!(rework_reason(&eu, &pairs, &config), None);
    // Staging is never rework, even a rollback.
    let stg = dep(2, "api", "staging", "2024-01-01T02:00:00Z").rollback();
    assert_eq!(rework_reason(&stg, &pairs, &config), None);
    // A rollback is rework with no incident at all.
    let rb = dep(3, "api", "prod", "2024-01-05T00:00:00Z").rollback();
    assert_eq!(
        rework_reason(&rb, &[], &config),
        Some(ReworkReason::Rollback)
    );
    // The blamed deployment itself is not rework for its own incident.
    let self_blamed = dep(1, "api", "prod", "2024-01-01T02:00:00Z");
    let pairs = [(&i, &self_blamed)];
    assert_eq!(rework_reason(&self_blamed, &pairs, &config), None);
}

#[test]
fn indexed_linking_matches_the_naive_rules() {
    for seed in 1..=20 {
        let facts = generated(seed);
        for config in [prod_only(), DoraConfig::default()] {
            let linked = Linked::new(&facts, &config);
            let all: Vec<&Deployment> = facts.deployments.iter().collect();
            let id_of = |i: Option<usize>| i.map(|i| facts.deployments[i].id);
            for (ci, c) in facts.changes.iter().enumerate() {
                let naive =
                    first_production_deployment(c, &facts.deployments, &config).map(|d| d.id);
                assert_eq!(
                    id_of(linked.changes[ci].first_production),
                    naive,
                    "seed {seed} change {ci}"
                );
            }
            let mut pairs = Vec::new();
            for (ii, i) in facts.incidents.iter().enumerate() {
                let naive = attribute_incident(i, &all, &config);
                assert_eq!(
                    linked.incidents[ii].attribution, naive,
                    "seed {seed} incident {ii}"
                );
                if let Attribution::Deployment { id, .. } = naive {
                    let d = facts.deployments.iter().find(|d| d.id == id).unwrap();
                    pairs.push((i, d));
                }
            }
            for (di, d) in facts.deployments.iter().enumerate() {
                let state = &linked.deployments[di];
                assert_eq!(
                    state.rework,
                    rework_reason(d, &pairs, &config),
                    "seed {seed} dep {}",
                    d.id
                );
                let naive_rb = rolled_back_deployment(d, &all, &config).map(|p| p.id);
                assert_eq!(
                    id_of(state.rolls_back),
                    naive_rb,
                    "seed {seed} dep {}",
                    d.id
                );
                let attributed: Vec<&Incident> = pairs
                    .iter()
                    .filter(|(_, b)| b.id == d.id)
                    .map(|(i, _)| *i)
                    .collect();
                let rolled_back = facts.deployments.iter().any(|r| {
                    rolled_back_deployment(r, &all, &config).is_some_and(|p| p.id == d.id)
                });
                let reasons = if state.production {
                    intervention_reasons(d, attributed.len(), rolled_back)
                } else {
                    Vec::new()
                };
                assert_eq!(state.reasons, reasons, "seed {seed} dep {}", d.id);
                let naive_recovery =
                    (!reasons.is_empty()).then(|| recovery(d, &attributed, &all, &config));
                assert_eq!(state.recovery, naive_recovery, "seed {seed} dep {}", d.id);
            }
        }
    }
}
