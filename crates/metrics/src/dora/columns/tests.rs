//! Tests of the keys' columns: day replacement and windows against scans of the rows.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use super::*;
use crate::dora::deployment_frequency;
use crate::dora::facts::DoraFacts;
use crate::dora::testkit::{generated, t, windows, Lcg};
use crate::dora::window::Bucket;

type Rows = (
    Vec<DeploymentKeyRow>,
    Vec<ShippedKeyRow>,
    Vec<IncidentKeyRow>,
);

fn configs() -> [DoraConfig; 2] {
    [
        DoraConfig {
            production_environments: vec!["prod".into(), "prod-eu".into()],
            ..DoraConfig::default()
        },
        DoraConfig::default(),
    ]
}

/// Every answer the columns give over `windows`, as JSON: the five keys and the deployments
/// per day (per year over windows of more than a year).
fn answers(columns: &KeyColumns, windows: &[Window]) -> Vec<String> {
    windows
        .iter()
        .map(|w| {
            let long = w.to - w.from > chrono::Duration::days(366);
            let bucket = if long { Bucket::Year } else { Bucket::Day };
            let buckets = deployment_frequency::per_bucket(columns, w, bucket);
            let counts: Vec<u64> = buckets.iter().map(|b| b.deployments).collect();
            format!(
                "{} {counts:?}",
                serde_json::to_string(&columns.report(w)).unwrap()
            )
        })
        .collect()
}

/// The rows of `rows` whose day `keep` accepts.
fn of_days(rows: &Rows, keep: impl Fn(i32) -> bool) -> Rows {
    (
        rows.0
            .iter()
            .filter(|r| keep(day_of(r.at)))
            .cloned()
            .collect(),
        rows.1
            .iter()
            .filter(|r| keep(day_of(r.at)))
            .cloned()
            .collect(),
        rows.2
            .iter()
            .filter(|r| keep(day_of(r.detected_at)))
            .cloned()
            .collect(),
    )
}

fn days_of(rows: &Rows) -> BTreeSet<i32> {
    let deployments = rows.0.iter().map(|r| day_of(r.at));
    let shipped = rows.1.iter().map(|r| day_of(r.at));
    let incidents = rows.2.iter().map(|r| day_of(r.detected_at));
    deployments.chain(shipped).chain(incidents).collect()
}

fn block_days(columns: &KeyColumns) -> Vec<i32> {
    columns.blocks.iter().map(|b| b.day).collect()
}

/// Starts from the columns of `old` (another history, or a part of this one) and replaces
/// random groups of days, one group per step, with their rows in `new`. After each step the
/// columns must answer every window exactly as columns built at once from the same rows, and
/// share every block they did not replace with the previous step; after the last, as the
/// columns of `new`.
pub(crate) fn check_day_replacement(config: &DoraConfig, old: &Rows, new: &Rows, seed: u64) {
    let mut g = Lcg(seed);
    let windows = windows(seed);
    let all_days: Vec<i32> = days_of(old).union(&days_of(new)).copied().collect();
    let steps = 1 + g.next(4);
    let mut groups: Vec<BTreeSet<i32>> = vec![BTreeSet::new(); steps as usize];
    for &day in &all_days {
        groups[g.next(steps) as usize].insert(day);
    }
    let (d, s, i) = old.clone();
    let mut columns = KeyColumns::from_rows(config.clone(), d, s, i);
    let mut replaced: BTreeSet<i32> = BTreeSet::new();
    for days in &groups {
        let (d, s, i) = of_days(new, |day| days.contains(&day));
        let next = columns.with_days_replaced(days, d, s, i);
        // Shared, not rebuilt: the blocks of the other days are the previous ones.
        let previous: BTreeMap<i32, &Arc<DayBlock>> =
            columns.blocks.iter().map(|b| (b.day, b)).collect();
        for block in &next.blocks {
            if !days.contains(&block.day) {
                assert!(Arc::ptr_eq(block, previous[&block.day]), "seed {seed}");
            }
        }
        replaced.extend(days);
        let current = {
            let from_old = of_days(old, |day| !replaced.contains(&day));
            let from_new = of_days(new, |day| replaced.contains(&day));
            (
                [from_old.0, from_new.0].concat(),
                [from_old.1, from_new.1].concat(),
                [from_old.2, from_new.2].concat(),
            )
        };
        let expected_days: Vec<i32> = days_of(&current).into_iter().collect();
        let (d, s, i) = current;
        let at_once = KeyColumns::from_rows(config.clone(), d, s, i);
        assert_eq!(block_days(&next), expected_days, "seed {seed}");
        assert_eq!(block_days(&at_once), expected_days, "seed {seed}");
        assert_eq!(
            answers(&next, &windows),
            answers(&at_once, &windows),
            "seed {seed}"
        );
        columns = next;
    }
    let (d, s, i) = new.clone();
    let whole = KeyColumns::from_rows(config.clone(), d, s, i);
    assert_eq!(
        answers(&columns, &windows),
        answers(&whole, &windows),
        "seed {seed}"
    );
}

fn rows(facts: &DoraFacts, config: &DoraConfig) -> Rows {
    Linked::new(facts, config).key_rows()
}

#[test]
fn replacing_days_of_another_history_answers_as_building_at_once() {
    for seed in 1..=10 {
        for config in configs() {
            let new = rows(&generated(seed), &config);
            // Most days change, some appear, some vanish.
            let other = rows(&generated(seed + 1_000), &config);
            check_day_replacement(&config, &other, &new, seed);
            // From nothing, and back to nothing.
            check_day_replacement(&config, &Rows::default(), &new, seed + 700);
            check_day_replacement(&config, &new, &Rows::default(), seed + 900);
        }
    }
}

#[test]
fn replacing_days_of_a_part_answers_as_building_at_once() {
    for seed in 1..=10 {
        for config in configs() {
            let new = rows(&generated(seed), &config);
            // A part of the same history (as before a late incident or a new deployment
            // arrived): a few rows of some days change.
            let mut g = Lcg(seed);
            let mut part = new.clone();
            part.0.retain(|_| g.next(4) > 0);
            part.1.retain(|_| g.next(4) > 0);
            part.2.retain(|_| g.next(4) > 0);
            if let Some(row) = part.0.first_mut() {
                row.recovery = Some(RecoveryCell::Open);
                row.detections.push(row.at);
            }
            check_day_replacement(&config, &part, &new, seed + 500);
        }
    }
}

#[test]
fn replacing_no_day_shares_everything() {
    let config = DoraConfig::default();
    let columns = Linked::new(&generated(3), &config).columns();
    let same = columns.with_days_replaced(&BTreeSet::new(), Vec::new(), Vec::new(), Vec::new());
    assert!(!columns.blocks.is_empty());
    assert_eq!(same.blocks.len(), columns.blocks.len());
    assert!(same
        .blocks
        .iter()
        .zip(&columns.blocks)
        .all(|(a, b)| Arc::ptr_eq(a, b)));
    // A day with no rows given and no block yet stays without one.
    let far = BTreeSet::from([day_of(t("2030-01-01T00:00:00Z"))]);
    let still = columns.with_days_replaced(&far, Vec::new(), Vec::new(), Vec::new());
    assert_eq!(block_days(&still), block_days(&columns));
}

/// What the keys read of `rows` over `window`, scanning every row: the reference for the
/// blocks' binary searches and running counts.
fn scanned(
    rows: &Rows,
    window: &Window,
) -> (DeploymentCounts, Vec<String>, ShippedCounts, Vec<i32>, u64) {
    let mut deployments: Vec<&DeploymentKeyRow> =
        rows.0.iter().filter(|r| window.contains(r.at)).collect();
    deployments.sort_by_key(|r| (r.at, r.id));
    let count =
        |f: &dyn Fn(&DeploymentKeyRow) -> bool| deployments.iter().filter(|r| f(r)).count() as u64;
    let days: BTreeSet<i32> = deployments.iter().map(|r| day_of(r.at)).collect();
    let counts = DeploymentCounts {
        deployments: deployments.len() as u64,
        deploy_days: days.len() as u64,
        failed_rollouts: count(&|r| r.failed_rollout),
        rollbacks: count(&|r| r.rollback),
        needed_intervention: count(&|r| r.recovery.is_some()),
        reason_incident: count(&|r| r.reason_incident),
        reason_rolled_back: count(&|r| r.reason_rolled_back),
        rework_rollback: count(&|r| r.rework == Some(ReworkKind::Rollback)),
        rework_during_incident: count(&|r| r.rework == Some(ReworkKind::DuringIncident)),
    };
    let failed = deployments
        .iter()
        .filter_map(|r| Some(format!("{:?} {:?}", r.recovery?, r.detections)))
        .collect();
    let shipped: Vec<&ShippedKeyRow> = rows.1.iter().filter(|r| window.contains(r.at)).collect();
    let shipped_counts = ShippedCounts {
        clock_skew: shipped.iter().filter(|r| r.lead == LEAD_CLOCK_SKEW).count() as u64,
        no_timestamp: shipped
            .iter()
            .filter(|r| r.lead == LEAD_NO_TIMESTAMP)
            .count() as u64,
        skewed_commits: shipped.iter().map(|r| u64::from(r.skewed_commits)).sum(),
    };
    let mut leads: Vec<i32> = shipped.iter().map(|r| r.lead).filter(|l| *l >= 0).collect();
    leads.sort_unstable();
    let unattributed = rows
        .2
        .iter()
        .filter(|r| r.unattributed && window.contains(r.detected_at))
        .count() as u64;
    (counts, failed, shipped_counts, leads, unattributed)
}

#[test]
fn windows_read_what_a_scan_of_the_rows_finds() {
    for seed in 1..=30 {
        for config in configs() {
            let rows = rows(&generated(seed), &config);
            let (d, s, i) = rows.clone();
            let columns = KeyColumns::from_rows(config.clone(), d, s, i);
            let mut windows = windows(seed);
            // Reversed windows read nothing, as empty ones.
            windows.push(Window {
                from: t("2024-01-10T00:00:00Z"),
                to: t("2024-01-05T00:00:00Z"),
            });
            for w in &windows {
                let shipped = columns.shipped_in(w);
                let mut leads = columns.with_lead_times(&shipped, |leads| leads.to_vec());
                leads.sort_unstable();
                let failed = columns
                    .failed_in(w)
                    .map(|f| format!("{:?} {:?}", f.recovery, f.detections))
                    .collect();
                let got = (
                    columns.deployments_in(w),
                    failed,
                    columns.shipped_counts(&shipped),
                    leads,
                    columns.unattributed_in(w),
                );
                assert_eq!(got, scanned(&rows, w), "seed {seed} window {w:?}");
            }
        }
    }
}

#[test]
fn days_are_utc_dates() {
    assert_eq!(day_of(t("1970-01-01T00:00:00Z")), 0);
    assert_eq!(day_of(t("1969-12-31T23:59:59.999999999Z")), -1);
    assert_eq!(day_of(t("2024-01-01T23:59:59Z")), 19_723);
    assert_eq!(day_of(t("2024-01-02T00:00:00Z")), 19_724);
    // Offsets are only notation: the UTC date counts.
    assert_eq!(day_of(t("2024-01-02T01:00:00+02:00")), 19_723);
    let epoch = t("1970-01-01T00:00:00Z").date_naive();
    let mut g = Lcg(7);
    for _ in 0..1_000 {
        let seconds = i64::try_from(g.next(1 << 40)).unwrap() - (1 << 39);
        let at = DateTime::<Utc>::from_timestamp(seconds, 0).unwrap();
        let days = (at.date_naive() - epoch).num_days();
        assert_eq!(i64::from(day_of(at)), days, "{at}");
    }
    assert!(day_of(DateTime::<Utc>::MIN_UTC) < 0 && day_of(DateTime::<Utc>::MAX_UTC) > 0);
}
