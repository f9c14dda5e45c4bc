//! Benchmark of the five keys' computation at the scale issue 4 sets (BENCHMARKS.md): one year of
//! 1,000,000 production deployments of 50 services and 5,000,000 changes, with rollbacks, failed
//! rollouts and incidents. Run with `cargo bench -p dora-metrics --bench keys` (optionally
//! `-- DEPLOYMENTS CHANGES_PER_DEPLOYMENT`). Prints how long linking, building the columns (key
//! rows, then day blocks), replacing one day of them and answering windows take; it asserts
//! nothing about time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone, Utc};
use dora_metrics::dora::facts::{Change, Commit, Deployment, DeploymentKind, Incident};
use dora_metrics::dora::linking::Linked;
use dora_metrics::dora::{day_of, DoraConfig, DoraFacts, Key, KeyColumns, Window};

const SERVICES: i64 = 50;

fn generate(deployments: i64, changes_per_deployment: i64) -> DoraFacts {
    let start = Utc.with_ymd_and_hms(2023, 1, 1, 0, 0, 0).unwrap();
    let step = Duration::seconds(365 * 86_400) / i32::try_from(deployments).unwrap();
    let mut facts = DoraFacts::default();
    for d in 0..deployments {
        let at = start + step * i32::try_from(d).unwrap();
        let service = format!("svc-{}", d % SERVICES);
        let sha = format!("{d:040x}");
        facts.deployments.push(Deployment {
            id: d + 1,
            service: service.clone(),
            environment: "production".into(),
            team: Some(format!("team-{}", d % 7)),
            at,
            kind: if d % 97 == 0 {
                DeploymentKind::Rolledback
            } else {
                DeploymentKind::Deployed
            },
            failed: d % 89 == 0,
            artifact_id: Some(format!("pkg:oci/{service}@sha256:{d:x}")),
            revision: Some(sha.clone()),
        });
        for c in 0..changes_per_deployment {
            let commit_at: DateTime<Utc> = at - Duration::minutes(30 + 97 * c + (d % 600));
            facts.changes.push(Change {
                id: format!("{service}#{d}-{c}"),
                service: Some(service.clone()),
                repository: Some(service.clone()),
                created_at: Some(commit_at),
                merged_at: Some(at - Duration::minutes(10)),
                commits: vec![Commit {
                    sha: format!("{d:032x}{c:08x}"),
                    at: Some(commit_at),
                }],
                merge_sha: Some(sha.clone()),
                artifact_ids: Vec::new(),
                deployment_refs: Vec::new(),
            });
        }
        if d % 53 == 0 {
            facts.incidents.push(Incident {
                id: format!("incident-{d}"),
                service: Some(service.clone()),
                environment: Some("production".into()),
                artifact_id: None,
                deployment_ref: None,
                detected_at: at + Duration::minutes(5),
                resolved_at: (d % 5 != 0).then(|| at + Duration::minutes(95)),
            });
        }
    }
    facts
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let value = f();
    println!("{what}: {:.1} ms", started.elapsed().as_secs_f64() * 1000.0);
    value
}

fn main() {
    let args: Vec<i64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let deployments = args.first().copied().unwrap_or(1_000_000);
    let per_deployment = args.get(1).copied().unwrap_or(5);
    let facts = timed("generate", || generate(deployments, per_deployment));
    println!(
        "{} deployments, {} changes, {} incidents",
        facts.deployments.len(),
        facts.changes.len(),
        facts.incidents.len()
    );
    let config = DoraConfig {
        production_environments: vec!["production".into()],
        ..DoraConfig::default()
    };
    let linked = timed("link", || Linked::new(&facts, &config));
    let (columns, replaced) = columns_and_one_day_replaced(&linked, &config);
    answer(&columns, &replaced);
}

/// The keys' columns from the links, and the same with one day replaced by its own rows.
fn columns_and_one_day_replaced(
    linked: &Linked<'_>,
    config: &DoraConfig,
) -> (KeyColumns, KeyColumns) {
    let started = Instant::now();
    let (deployments, shipped, incidents) = timed("key rows", || linked.key_rows());
    // One day's rows, as the API would read them back after new facts touched that day.
    let day = day_of(Utc.with_ymd_and_hms(2023, 6, 15, 12, 0, 0).unwrap());
    let one_day = (
        deployments
            .iter()
            .filter(|r| day_of(r.at) == day)
            .cloned()
            .collect::<Vec<_>>(),
        shipped
            .iter()
            .filter(|r| day_of(r.at) == day)
            .cloned()
            .collect::<Vec<_>>(),
        incidents
            .iter()
            .filter(|r| day_of(r.detected_at) == day)
            .cloned()
            .collect::<Vec<_>>(),
    );
    let columns = timed("day blocks from rows", || {
        KeyColumns::from_rows(config.clone(), deployments, shipped, incidents)
    });
    println!(
        "columns in all: {:.1} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    let replaced = timed(
        &format!(
            "replace one day ({} deployments, {} changes, {} incidents)",
            one_day.0.len(),
            one_day.1.len(),
            one_day.2.len()
        ),
        || {
            let (d, s, i) = one_day;
            columns.with_days_replaced(&BTreeSet::from([day]), d, s, i)
        },
    );
    (columns, replaced)
}

/// Times the answers over a year and a quarter.
fn answer(columns: &KeyColumns, replaced: &KeyColumns) {
    let year = Window::new(
        Utc.with_ymd_and_hms(2023, 1, 1, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
    )
    .unwrap();
    let quarter = Window::new(
        Utc.with_ymd_and_hms(2023, 4, 1, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2023, 7, 1, 0, 0, 0).unwrap(),
    )
    .unwrap();
    for run in 1..=5 {
        let report = timed(&format!("five keys, one year (run {run})"), || {
            columns.report(&year)
        });
        if run == 1 {
            println!(
                "  deployments {} lead time {:?} s (n {}) failure rate {:?} recovery {:?} s rework {:?}",
                report.keys.deployment_frequency.value,
                report.keys.lead_time.value,
                report.keys.lead_time.sample_size,
                report.keys.change_failure_rate.value,
                report.keys.recovery_time.value,
                report.keys.rework_rate.value,
            );
        }
    }
    for key in [
        Key::DeploymentFrequency,
        Key::LeadTime,
        Key::ChangeFailureRate,
        Key::RecoveryTime,
        Key::ReworkRate,
    ] {
        timed(&format!("{key:?}, one year"), || columns.key(key, &year));
    }
    timed("five keys, one quarter", || columns.report(&quarter));
    let same = timed("five keys, one year, after replacing one day", || {
        replaced.report(&year)
    }) == columns.report(&year);
    println!("  same answers after replacing the day with its own rows: {same}");
    timed("lead time by week, one year", || {
        columns.key_series(&year, Key::LeadTime, dora_metrics::dora::Bucket::Week)
    });
}
