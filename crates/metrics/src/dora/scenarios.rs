//! Hand-computed scenarios over all five keys of the pure DORA computation (`crate::dora`) used
//! by the API: the edge cases of issue 4 in one month of facts, checked through [`compute`],
//! [`series`] and the drill-down, with the production filter on and off and facts shuffled.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::testkit::{change, dep, incident, t, window};
use super::*;

/// January 2024 (Monday Jan 1 .. Thursday Feb 1), production = ["prod"], horizon 7 days.
///
/// | id | service/env  | at           | notes                                                   |
/// |----|--------------|--------------|---------------------------------------------------------|
/// | 1  | api/staging  | Jan 2 09:00  | rev aaa111: ships c-staging to staging only             |
/// | 2  | api/prod     | Jan 3 10:00  | art api:1: first api prod deployment, ships c1 only     |
/// | 3  | api/prod     | Jan 5 12:00  | rev bbb222: ships c2 (tie with 4, lower id wins)        |
/// | 4  | api/prod     | Jan 5 12:00  | rev bbb222: same second; i-tie blamed here (higher id)  |
/// | 5  | api/prod     | Jan 10 10:00 | rev ccc333: rolled back by 6; c3 skewed                 |
/// | 6  | api/prod     | Jan 10 10:30 | rollback to bbb222: rework                              |
/// | 7  | api/prod     | Jan 20 10:00 | art api:2: ships c4; i-open blamed here                 |
/// | 8  | web/prod     | Jan 15 00:00 | art web:1: ships c5; i-late (Feb 3) names it            |
/// | 9  | web/prod     | Jan 28 00:00 | art web:2                                               |
/// | 10 | api/prod     | Jan 26 09:00 | made while i-open is open: rework                       |
///
/// Changes: c0 (commit "old", linked to nothing: the first deployment does not contain it),
/// c-staging (commit aaa111 at Jan 1 09:00), c1 (art api:1, commit at Jan 3 08:00),
/// c2 (commit bbb222 at Jan 4 12:00), c3 (commit ccc333 at Jan 10 11:00, after deployment 5),
/// c4 (art api:2, created Jan 18 10:00), c5 (service web, art web:1, created Jan 12 00:00).
///
/// Incidents: i-tie (api/prod, Jan 5 12:30 -> 13:00), i-open (api/prod, Jan 25 10:00, never
/// resolved), i-late (web/prod, detected Feb 3 00:00 -> 06:00, names deployment 8),
/// i-orphan (mobile/prod, Jan 16: nothing to blame).
fn january() -> DoraFacts {
    DoraFacts {
        deployments: vec![
            dep(1, "api", "staging", "2024-01-02T09:00:00Z").rev("aaa111"),
            dep(2, "api", "prod", "2024-01-03T10:00:00Z").art("api:1"),
            dep(3, "api", "prod", "2024-01-05T12:00:00Z").rev("bbb222"),
            dep(4, "api", "prod", "2024-01-05T12:00:00Z").rev("bbb222"),
            dep(5, "api", "prod", "2024-01-10T10:00:00Z").rev("ccc333"),
            dep(6, "api", "prod", "2024-01-10T10:30:00Z")
                .rev("bbb222")
                .rollback(),
            dep(7, "api", "prod", "2024-01-20T10:00:00Z").art("api:2"),
            dep(8, "web", "prod", "2024-01-15T00:00:00Z").art("web:1"),
            dep(9, "web", "prod", "2024-01-28T00:00:00Z").art("web:2"),
            dep(10, "api", "prod", "2024-01-26T09:00:00Z"),
        ],
        changes: vec![
            change("c0").commit("old", Some("2024-01-01T00:00:00Z")),
            change("c-staging").commit("aaa111", Some("2024-01-01T09:00:00Z")),
            change("c1")
                .artifact("api:1")
                .commit("c1sha", Some("2024-01-03T08:00:00Z")),
            change("c2").commit("bbb222", Some("2024-01-04T12:00:00Z")),
            change("c3").commit("ccc333", Some("2024-01-10T11:00:00Z")),
            change("c4")
                .artifact("api:2")
                .created("2024-01-18T10:00:00Z"),
            change("c5")
                .service("web")
                .artifact("web:1")
                .created("2024-01-12T00:00:00Z"),
        ],
        incidents: vec![
            incident("i-tie", "api", "prod", "2024-01-05T12:30:00Z")
                .resolved("2024-01-05T13:00:00Z"),
            incident("i-open", "api", "prod", "2024-01-25T10:00:00Z"),
            incident("i-late", "web", "prod", "2024-02-03T00:00:00Z")
                .resolved("2024-02-03T06:00:00Z")
                .names(8),
            incident("i-orphan", "mobile", "prod", "2024-01-16T00:00:00Z"),
        ],
    }
}

fn prod() -> DoraConfig {
    DoraConfig {
        production_environments: vec!["prod".into()],
        ..DoraConfig::default()
    }
}

fn jan() -> Window {
    window("2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z")
}

#[test]
fn january_report_by_hand() {
    let report = compute(&january(), &jan(), &prod());
    let k = &report.keys;

    // Deployment frequency: production deployments 2..=10 = 9. Complete ISO weeks: Jan 1-7,
    // 8-14, 15-21, 22-28 (Jan 29 - Feb 4 is cut by the window end).
    // Deploy days: week 1 {Jan 3, Jan 5} = 2; week 2 {Jan 10} = 1; week 3 {Jan 15, Jan 20} = 2;
    // week 4 {Jan 26, Jan 28} = 2. Sorted [1, 2, 2, 2]: median (2 + 2) / 2 = 2 -> high.
    // Mean 7/4 = 1.75. Deploy days in the window: 7. One rollback (6), no failed rollout.
    let f = &k.deployment_frequency;
    assert_eq!(f.value, 9);
    assert_eq!(f.complete_weeks, 4);
    assert_eq!(f.deploy_days, 7);
    assert_eq!(f.deploy_days_per_week, Some(2.0));
    assert_eq!(f.mean_deploy_days_per_week, Some(1.75));
    assert_eq!(f.level, Some(Level::High));
    assert_eq!(f.rollbacks, 1);
    assert_eq!(f.failed_rollouts, 0);

    // Lead time: c1 at 2 (Jan 3 10:00 - 08:00) = 7200; c2 at 3 (tie with 4 -> id 3;
    // Jan 5 12:00 - Jan 4 12:00) = 86400; c3 at 5: its only timestamp is after deployment 5
    // -> excluded_clock_skew; c4 at 7 (Jan 20 10:00 - Jan 18 10:00) = 172800; c5 at 8
    // (Jan 15 - Jan 12) = 259200. c0 (not linked) and c-staging (staging only): no sample.
    // Even count: [7200, 86400, 172800, 259200] -> median (86400 + 172800) / 2 = 129600 -> high.
    // p90: rank ceil(0.9 * 4) = 4 -> 259200.
    let l = &k.lead_time;
    assert_eq!(l.sample_size, 4);
    assert_eq!(l.value, Some(129_600.0));
    assert_eq!(l.p90, Some(259_200.0));
    assert_eq!(l.level, Some(Level::High));
    assert_eq!(l.excluded_clock_skew, 1);
    assert_eq!(l.skewed_commits, 1);

    // Change failure rate: 4 (i-tie, by time; tie -> id 4), 5 (rolled back by 6), 7 (i-open),
    // 8 (i-late, detected after the window, names it) -> 4/9 -> low. i-orphan: unattributed.
    let c = &k.change_failure_rate;
    assert_eq!(c.sample_size, 9);
    assert_eq!(c.failed_deployments, 4);
    assert_eq!(c.value, Some(4.0 / 9.0));
    assert_eq!(c.level, Some(Level::Low));
    assert_eq!(c.reasons.incident, 3);
    assert_eq!(c.reasons.rolled_back, 1);
    assert_eq!(c.reasons.failed_rollout, 0);
    assert_eq!(c.incidents_detected_after_window, 1);
    assert_eq!(c.unattributed_incidents, 1);

    // Recovery: 4: 12:30 -> 13:00 = 1800; 5: Jan 10 10:00 -> rollback 6 at 10:30 = 1800;
    // 7: i-open unresolved -> open; 8: Feb 3 00:00 -> 06:00 = 21600.
    // [1800, 1800, 21600] -> median 1800 -> elite.
    let r = &k.recovery_time;
    assert_eq!(r.failed_deployments, 4);
    assert_eq!(r.sample_size, 3);
    assert_eq!(r.open, 1);
    assert_eq!(r.value, Some(1_800.0));
    assert_eq!(r.level, Some(Level::Elite));

    // Rework: 6 (rollback), 10 (Jan 26 09:00, i-open on 7 open since Jan 25) -> 2/9, no level.
    let w = &k.rework_rate;
    assert_eq!(w.sample_size, 9);
    assert_eq!(w.rework_deployments, 2);
    assert_eq!(w.rollbacks, 1);
    assert_eq!(w.during_incident, 1);
    assert_eq!(w.value, Some(2.0 / 9.0));
    assert_eq!(w.level, None);
}

#[test]
fn january_drill_down_by_hand() {
    let facts = january();
    let config = prod();
    let linked = Linked::new(&facts, &config);
    // First deployment of api: only what is linked to it (c1), not the older c0.
    assert_eq!(
        linked.deployment_links(2).unwrap().changes,
        vec!["c1".to_string()]
    );
    assert_eq!(
        linked
            .change_links("c0")
            .unwrap()
            .first_production_deployment,
        None
    );
    // Staging only: shipped to staging 1, never to production.
    let staged = linked.change_links("c-staging").unwrap();
    assert_eq!(staged.deployments, vec![1]);
    assert_eq!(staged.first_production_deployment, None);
    assert_eq!(staged.lead_time_seconds, None);
    // Same second: the change counts at 3 (lower id), the incident goes to 4 (the latest).
    assert_eq!(
        linked
            .change_links("c2")
            .unwrap()
            .first_production_deployment,
        Some(3)
    );
    assert_eq!(
        linked.deployment_links(3).unwrap().changes,
        vec!["c2".to_string()]
    );
    // 4 contains c2 too but does not ship it again; 6 (rollback to bbb222) neither.
    assert!(linked.deployment_links(4).unwrap().changes.is_empty());
    assert_eq!(
        linked.change_links("c2").unwrap().deployments,
        vec![3, 4, 6]
    );
    assert_eq!(linked.incident_links("i-tie").unwrap().deployment, Some(4));
    // Clock skew, shown on the change.
    let c3 = linked.change_links("c3").unwrap();
    assert_eq!(c3.first_production_deployment, Some(5));
    assert_eq!(c3.excluded, Some(drilldown::LeadTimeExclusion::ClockSkew));
    // Rollback and what recovered it.
    let d5 = linked.deployment_links(5).unwrap();
    assert_eq!(d5.rolled_back_by, Some(6));
    assert_eq!(
        d5.recovery,
        Some(linking::Recovery::Recovered {
            started_at: t("2024-01-10T10:00:00Z"),
            recovered_at: t("2024-01-10T10:30:00Z"),
            seconds: 1_800,
            by: linking::RecoveredBy::Deployment { deployment_id: 6 },
        })
    );
    // Open incident at the end of the window.
    assert!(matches!(
        linked.deployment_links(7).unwrap().recovery,
        Some(linking::Recovery::Open { .. })
    ));
    // Rework evidence.
    assert_eq!(
        linked.deployment_links(10).unwrap().rework,
        Some(linking::ReworkReason::DuringIncident {
            incident_id: "i-open".into()
        })
    );
    // Incidents: with no deployment to blame, and named explicitly.
    let orphan = linked.incident_links("i-orphan").unwrap();
    assert_eq!(orphan.status, drilldown::IncidentStatus::Unattributed);
    assert_eq!(orphan.deployment, None);
    let late = linked.incident_links("i-late").unwrap();
    assert_eq!(late.deployment, Some(8));
    assert_eq!(late.rule, Some(linking::AttributionRule::DeploymentRef));
}

#[test]
fn production_filter_off_counts_staging() {
    // Every environment counts: deployment 1 (staging, Jan 2) joins.
    // Frequency: 10 deployments; week 1 days {Jan 2, 3, 5} = 3 -> [3, 1, 2, 2] -> median 2.
    // Lead time: c-staging now ships at 1 (Jan 2 09:00 - Jan 1 09:00 = 86400):
    // [7200, 86400, 86400, 172800, 259200], odd -> median 86400 = exactly one day -> high
    // (not elite: elite is < 1 day). p90 rank ceil(4.5) = 5 -> 259200.
    // Failure rate 4/10 = 0.4; rework 2/10.
    let report = compute(&january(), &jan(), &DoraConfig::default());
    let k = &report.keys;
    assert_eq!(k.deployment_frequency.value, 10);
    assert_eq!(k.deployment_frequency.deploy_days_per_week, Some(2.0));
    assert_eq!(k.deployment_frequency.mean_deploy_days_per_week, Some(2.0));
    assert_eq!(k.lead_time.sample_size, 5);
    assert_eq!(k.lead_time.value, Some(86_400.0));
    assert_eq!(k.lead_time.level, Some(Level::High));
    assert_eq!(k.lead_time.p90, Some(259_200.0));
    assert_eq!(k.change_failure_rate.value, Some(0.4));
    assert_eq!(k.rework_rate.value, Some(0.2));
}

#[test]
fn shuffled_facts_give_the_same_report() {
    let facts = january();
    let expected = serde_json::to_string(&compute(&facts, &jan(), &prod())).unwrap();
    for rotation in 0..facts.deployments.len() {
        let mut shuffled = facts.clone();
        shuffled.deployments.rotate_left(rotation);
        shuffled.deployments.reverse();
        shuffled.changes.rotate_left(rotation % facts.changes.len());
        shuffled
            .incidents
            .rotate_right(rotation % facts.incidents.len());
        shuffled.incidents.reverse();
        let got = serde_json::to_string(&compute(&shuffled, &jan(), &prod())).unwrap();
        assert_eq!(got, expected, "rotation {rotation}");
        // The drill-down too.
        let config = prod();
        let a = Linked::new(&facts, &config);
        let b = Linked::new(&shuffled, &config);
        assert_eq!(a.deployments_in(&jan()), b.deployments_in(&jan()));
        assert_eq!(a.changes_all(), b.changes_all());
        assert_eq!(a.incidents_in(&jan()), b.incidents_in(&jan()));
    }
}

#[test]
fn january_columns_updated_day_by_day_answer_as_built_at_once() {
    // The pass before i-late arrived, then the next one: the columns of the first, with days
    // replaced by the rows of the second, answer as the second's built at once.
    let mut first = january();
    first.incidents.retain(|i| i.id != "i-late");
    for config in [prod(), DoraConfig::default()] {
        let old = Linked::new(&first, &config).key_rows();
        let new = Linked::new(&january(), &config).key_rows();
        for seed in 1..=10 {
            columns::tests::check_day_replacement(&config, &old, &new, seed);
        }
    }
}

#[test]
fn late_incident_changes_the_old_failure_rate_on_the_next_pass() {
    // First pass, before i-late arrived: failures 4, 5, 7 -> 3/9; recovery samples
    // [1800, 1800] -> median 1800.
    let mut facts = january();
    facts.incidents.retain(|i| i.id != "i-late");
    let before = compute(&facts, &jan(), &prod());
    assert_eq!(before.keys.change_failure_rate.value, Some(3.0 / 9.0));
    assert_eq!(
        before
            .keys
            .change_failure_rate
            .incidents_detected_after_window,
        0
    );
    assert_eq!(before.keys.recovery_time.sample_size, 2);
    // Next pass with i-late: 4/9, and a third recovery sample.
    let after = compute(&january(), &jan(), &prod());
    assert_eq!(after.keys.change_failure_rate.value, Some(4.0 / 9.0));
    assert_eq!(after.keys.recovery_time.sample_size, 3);
}

#[test]
fn report_json_shape() {
    let report = compute(&january(), &jan(), &prod());
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["window"]["from"], "2024-01-01T00:00:00Z");
    assert_eq!(json["window"]["to"], "2024-02-01T00:00:00Z");
    for key in Key::ALL.map(Key::name) {
        let k = &json["keys"][key];
        for field in ["value", "unit", "level", "thresholds", "sample_size"] {
            assert!(k.get(field).is_some(), "{key}.{field} missing");
        }
    }
    assert_eq!(
        json["keys"]["deployment_frequency"]["deploy_days_per_week"],
        2.0
    );
    assert_eq!(json["keys"]["lead_time"]["unit"], "seconds");
    assert_eq!(json["keys"]["lead_time"]["level"], "high");
    assert_eq!(json["keys"]["change_failure_rate"]["unit"], "ratio");
    assert_eq!(json["keys"]["recovery_time"]["level"], "elite");
    assert!(json["keys"]["rework_rate"]["level"].is_null());
    assert!(json["keys"]["rework_rate"]["thresholds"].is_null());
    assert_eq!(
        json["keys"]["change_failure_rate"]["thresholds"]["elite_at_most"],
        0.05
    );
    let back: DoraReport = serde_json::from_value(json).unwrap();
    assert_eq!(back, report);
    // Empty facts: counts 0, values and levels null.
    let empty = serde_json::to_value(compute(&DoraFacts::default(), &jan(), &prod())).unwrap();
    assert_eq!(empty["keys"]["deployment_frequency"]["value"], 0);
    assert_eq!(empty["keys"]["deployment_frequency"]["level"], "low");
    for key in Key::ALL[1..].iter().map(|key| key.name()) {
        assert!(empty["keys"][key]["value"].is_null(), "{key}");
        assert!(empty["keys"][key]["level"].is_null(), "{key}");
        assert_eq!(empty["keys"][key]["sample_size"], 0, "{key}");
    }
}

#[test]
fn weekly_series_by_hand() {
    // Weeks of January (window clipped at Feb 1): Jan 1, 8, 15, 22, 29.
    // Deployments per week (prod): {2,3,4} = 3, {5,6} = 2, {7,8} = 2, {9,10} = 2, {} = 0.
    // Failure rate per week: week 1: 4 failed of 3 -> 1/3; week 2: 5 of {5,6} -> 1/2;
    // week 3: 7, 8 of {7,8} -> 1; week 4: 0/2; week 5: no deployments -> null.
    let points = series(&january(), &jan(), &prod(), Bucket::Week);
    let starts: Vec<_> = points.iter().map(|p| p.bucket_start).collect();
    assert_eq!(
        starts,
        vec![
            t("2024-01-01T00:00:00Z"),
            t("2024-01-08T00:00:00Z"),
            t("2024-01-15T00:00:00Z"),
            t("2024-01-22T00:00:00Z"),
            t("2024-01-29T00:00:00Z"),
        ]
    );
    let counts: Vec<u64> = points
        .iter()
        .map(|p| p.report.keys.deployment_frequency.value)
        .collect();
    assert_eq!(counts, vec![3, 2, 2, 2, 0]);
    let rates: Vec<Option<f64>> = points
        .iter()
        .map(|p| p.report.keys.change_failure_rate.value)
        .collect();
    assert_eq!(
        rates,
        vec![Some(1.0 / 3.0), Some(0.5), Some(1.0), Some(0.0), None]
    );
    // The last bucket is clipped to the window and holds no complete week: no level.
    let last = &points[4].report;
    assert_eq!(
        last.window,
        window("2024-01-29T00:00:00Z", "2024-02-01T00:00:00Z")
    );
    assert_eq!(last.keys.deployment_frequency.level, None);
    // Week 2's single complete week: 1 deploy day (Jan 10) -> high.
    assert_eq!(
        points[1].report.keys.deployment_frequency.level,
        Some(Level::High)
    );
    // The one-key series and the bucket counts agree with the full series.
    let lead = key_series(&january(), &jan(), &prod(), Key::LeadTime, Bucket::Week);
    // Week 1: c1 7200 and c2 86400 -> median 46800.
    match &lead[0].value {
        KeyReport::LeadTime(l) => assert_eq!(l.value, Some(46_800.0)),
        other => panic!("unexpected {other:?}"),
    }
    let counts: Vec<u64> = deployment_counts(&january(), &jan(), &prod(), Bucket::Week)
        .iter()
        .map(|b| b.deployments)
        .collect();
    assert_eq!(counts, vec![3, 2, 2, 2, 0]);
    assert_eq!(Key::from_path("lead-time"), Some(Key::LeadTime));
    assert_eq!(Key::from_path("lead_time"), None);
}
