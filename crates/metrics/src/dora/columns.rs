//! The linked facts reduced to what the five keys read, for any window: the last step of the
//! pure DORA computation (`crate::dora`) before the numbers (facts -> [`Linked`] ->
//! **[`KeyColumns`]** -> keys).
//!
//! Every link (what a deployment shipped, the incident blamed on it, its rollback, recovery and
//! rework, each change's lead time) is resolved once by [`Linked::new`] and does not depend on the
//! window. [`KeyColumns`] keeps, for production deployments, shipped changes and incidents, their
//! times sorted, and beside them running counts (prefix sums) of everything the keys count, so a
//! window is a few binary searches and subtractions. Only what needs the values themselves is
//! scanned: the lead times of the window's changes (median and p90 by selection) and the
//! deployments that needed intervention (a few percent). The API caches the columns per scope.

use std::cell::RefCell;
use std::ops::Range;

use chrono::{DateTime, Utc};

use super::facts::{DeploymentKind, DoraConfig};
use super::linking::{
    in_window, range_in, Attribution, ChangeStart, InterventionReason, Linked, Recovery,
    ReworkReason,
};
use super::window::Window;
use super::{
    change_failure_rate, deployment_frequency, lead_time, recovery_time, rework_rate, DoraKeys,
    DoraReport, Key, KeyReport,
};

/// Running counts of one property over a list: `count(range)` is how many items in `range`
/// have it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Counts(Vec<u32>);

impl Counts {
    fn from_flags(flags: impl Iterator<Item = bool>) -> Self {
        Self::from_amounts(flags.map(u32::from))
    }

    fn from_amounts(amounts: impl Iterator<Item = u32>) -> Self {
        let mut running = vec![0u32];
        let mut total = 0u32;
        for amount in amounts {
            total = total.saturating_add(amount);
            running.push(total);
        }
        Counts(running)
    }

    /// The total over `range` (indices of the list the counts were built from).
    pub fn count(&self, range: &Range<usize>) -> u64 {
        let at = |i: usize| u64::from(self.0.get(i).copied().unwrap_or_default());
        at(range.end).saturating_sub(at(range.start))
    }
}

/// Recovery of a deployment that needed intervention, as the recovery key reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecoveryCell {
    Recovered { seconds: i64 },
    Open,
    InvalidTimes,
}

/// A production deployment that needed intervention.
#[derive(Debug, Clone)]
pub(crate) struct FailedRow {
    pub at: DateTime<Utc>,
    pub recovery: RecoveryCell,
    /// Its attributed incidents' detection times: `incident_detections[start..end]`.
    pub detections: (u32, u32),
}

/// A lead time that is not one: every timestamp of the change is after its deployment.
pub(crate) const LEAD_CLOCK_SKEW: i32 = -1;
/// A lead time that is not one: the change has no timestamp.
pub(crate) const LEAD_NO_TIMESTAMP: i32 = -2;

/// Production deployments by (time, id), with running counts.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeploymentColumns {
    pub at: Vec<DateTime<Utc>>,
    /// Deployments whose UTC date differs from the previous deployment's (the first of a day).
    pub first_of_day: Counts,
    pub failed_rollouts: Counts,
    pub rollbacks: Counts,
    pub needed_intervention: Counts,
    /// Intervention reasons (one deployment may have several).
    pub incident: Counts,
    pub rolled_back: Counts,
    pub rework_rollback: Counts,
    pub rework_during_incident: Counts,
}

/// Changes with a first production deployment, by that deployment's (time, id).
#[derive(Debug, Clone, Default)]
pub(crate) struct ShippedColumns {
    /// When the first production deployment happened.
    pub at: Vec<DateTime<Utc>>,
    /// Lead time in whole seconds (saturated at `i32::MAX`, 68 years), or [`LEAD_CLOCK_SKEW`],
    /// or [`LEAD_NO_TIMESTAMP`].
    pub lead: Vec<i32>,
    pub clock_skew: Counts,
    pub no_timestamp: Counts,
    /// Commit timestamps after the deployment, ignored for the start.
    pub skewed_commits: Counts,
}

/// What the five keys need of one set of linked facts, for any window. Build with
/// [`Linked::columns`]; owns its data, so it can be cached and shared between requests.
#[derive(Debug, Clone)]
pub struct KeyColumns {
    pub(crate) config: DoraConfig,
    pub(crate) deployments: DeploymentColumns,
    /// Production deployments that needed intervention, in deployment order.
    pub(crate) failed: Vec<FailedRow>,
    /// Detection times of the incidents attributed to each failed deployment
    /// ([`FailedRow::detections`]).
    pub(crate) incident_detections: Vec<DateTime<Utc>>,
    pub(crate) shipped: ShippedColumns,
    /// Incident detections by (detection, id).
    pub(crate) incidents_at: Vec<DateTime<Utc>>,
    /// Production incidents no deployment could be blamed for.
    pub(crate) unattributed: Counts,
}

/// Bounds of the [`FailedRow::detections`] range (more than 4 billion incidents do not fit in
/// memory anyway; saturate rather than wrap).
fn offset(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

impl Linked<'_> {
    /// The links reduced to the keys' columns.
    pub fn columns(&self) -> KeyColumns {
        let deps = &self.facts.deployments;
        let incidents = &self.facts.incidents;
        let production = || {
            self.production
                .iter()
                .map(|&i| (&deps[i], &self.deployments[i]))
        };
        let has = |reason| {
            move |(_, s): (_, &super::linking::DeploymentState)| s.reasons.contains(&reason)
        };
        let mut previous_day = None;
        let deployments = DeploymentColumns {
            at: production().map(|(d, _)| d.at).collect(),
            first_of_day: Counts::from_flags(production().map(|(d, _)| {
                let day = d.at.date_naive();
                previous_day.replace(day) != Some(day)
            })),
            failed_rollouts: Counts::from_flags(production().map(|(d, _)| d.failed)),
            rollbacks: Counts::from_flags(
                production().map(|(d, _)| d.kind == DeploymentKind::Rolledback),
            ),
            needed_intervention: Counts::from_flags(
                production().map(|(_, s)| !s.reasons.is_empty()),
            ),
            incident: Counts::from_flags(production().map(has(InterventionReason::Incident))),
            rolled_back: Counts::from_flags(production().map(has(InterventionReason::RolledBack))),
            rework_rollback: Counts::from_flags(
                production().map(|(_, s)| matches!(s.rework, Some(ReworkReason::Rollback))),
            ),
            rework_during_incident: Counts::from_flags(
                production()
                    .map(|(_, s)| matches!(s.rework, Some(ReworkReason::DuringIncident { .. }))),
            ),
        };
        let mut incident_detections = Vec::new();
        let failed = production()
            .filter_map(|(d, state)| {
                let recovery = match state.recovery.as_ref()? {
                    Recovery::Recovered { seconds, .. } => {
                        RecoveryCell::Recovered { seconds: *seconds }
                    }
                    Recovery::Open { .. } => RecoveryCell::Open,
                    Recovery::InvalidTimes { .. } => RecoveryCell::InvalidTimes,
                };
                let start = offset(incident_detections.len());
                incident_detections
                    .extend(state.incidents.iter().map(|&ii| incidents[ii].detected_at));
                Some(FailedRow {
                    at: d.at,
                    recovery,
                    detections: (start, offset(incident_detections.len())),
                })
            })
            .collect();
        let shipped_rows: Vec<(DateTime<Utc>, i32, u32)> = self
            .shipped_changes
            .iter()
            .filter_map(|&ci| {
                let state = &self.changes[ci];
                let at = deps[state.first_production?].at;
                let (lead, skewed) = match state.start? {
                    ChangeStart::Start {
                        at: start,
                        skewed_commits,
                        ..
                    } => {
                        let seconds = (at - start).num_seconds().clamp(0, i64::from(i32::MAX));
                        (i32::try_from(seconds).unwrap_or(i32::MAX), skewed_commits)
                    }
                    ChangeStart::ClockSkew { skewed_commits } => (LEAD_CLOCK_SKEW, skewed_commits),
                    ChangeStart::NoTimestamp => (LEAD_NO_TIMESTAMP, 0),
                };
                Some((at, lead, offset(skewed)))
            })
            .collect();
        let shipped = ShippedColumns {
            at: shipped_rows.iter().map(|r| r.0).collect(),
            lead: shipped_rows.iter().map(|r| r.1).collect(),
            clock_skew: Counts::from_flags(shipped_rows.iter().map(|r| r.1 == LEAD_CLOCK_SKEW)),
            no_timestamp: Counts::from_flags(shipped_rows.iter().map(|r| r.1 == LEAD_NO_TIMESTAMP)),
            skewed_commits: Counts::from_amounts(shipped_rows.iter().map(|r| r.2)),
        };
        let by_detection = || self.incidents_by_detection.iter().copied();
        KeyColumns {
            config: self.config.clone(),
            deployments,
            failed,
            incident_detections,
            shipped,
            incidents_at: by_detection().map(|ii| incidents[ii].detected_at).collect(),
            unattributed: Counts::from_flags(
                by_detection()
                    .map(|ii| self.incidents[ii].attribution == Attribution::Unattributed),
            ),
        }
    }

    /// The five keys over `window`.
    pub fn report(&self, window: &Window) -> DoraReport {
        self.columns().report(window)
    }

    /// One key over `window`.
    pub fn key(&self, key: Key, window: &Window) -> KeyReport {
        self.columns().key(key, window)
    }
}

thread_local! {
    /// Lead times of one window, reused between computations on the same thread (millions of
    /// values: allocating and faulting them in anew each time costs more than selecting them).
    static LEAD_SAMPLES: RefCell<Vec<i32>> = const { RefCell::new(Vec::new()) };
}

impl KeyColumns {
    /// The configuration the links were made with.
    pub fn config(&self) -> &DoraConfig {
        &self.config
    }

    /// Production deployments in `window` (indices of [`DeploymentColumns`]).
    pub(crate) fn production_in(&self, window: &Window) -> Range<usize> {
        range_in(&self.deployments.at, window, |at| *at)
    }

    /// Distinct UTC dates among the production deployments in `range`.
    pub(crate) fn deploy_days(&self, range: &Range<usize>) -> u64 {
        if range.is_empty() {
            return 0;
        }
        // The first deployment of the range starts a day whether or not it is the first of
        // its day overall.
        1 + self
            .deployments
            .first_of_day
            .count(&(range.start + 1..range.end))
    }

    /// Production deployments in `window` that needed intervention.
    pub(crate) fn failed_in(&self, window: &Window) -> &[FailedRow] {
        in_window(&self.failed, window, |row| row.at)
    }

    /// Detection times of the incidents attributed to `row`.
    pub(crate) fn detections(&self, row: &FailedRow) -> &[DateTime<Utc>] {
        let (start, end) = row.detections;
        self.incident_detections
            .get(start as usize..end as usize)
            .unwrap_or(&[])
    }

    /// Changes whose first production deployment is in `window` (indices of
    /// [`ShippedColumns`]).
    pub(crate) fn shipped_in(&self, window: &Window) -> Range<usize> {
        range_in(&self.shipped.at, window, |at| *at)
    }

    /// Runs `f` on the lead times (seconds) of the changes in `range` that have one, in a buffer
    /// it may reorder.
    pub(crate) fn with_lead_times<T>(
        &self,
        range: &Range<usize>,
        f: impl FnOnce(&mut [i32]) -> T,
    ) -> T {
        let leads = self.shipped.lead.get(range.clone()).unwrap_or(&[]);
        LEAD_SAMPLES.with(|buffer| {
            let mut buffer = buffer.borrow_mut();
            buffer.clear();
            buffer.extend(leads.iter().copied().filter(|lead| *lead >= 0));
            f(&mut buffer)
        })
    }

    /// Incidents detected in `window` (indices of the detection-ordered incidents).
    pub(crate) fn incidents_detected_in(&self, window: &Window) -> Range<usize> {
        range_in(&self.incidents_at, window, |at| *at)
    }

    /// The five keys over `window`.
    pub fn report(&self, window: &Window) -> DoraReport {
        DoraReport {
            window: *window,
            keys: DoraKeys {
                deployment_frequency: deployment_frequency::compute(self, window),
                lead_time: lead_time::compute(self, window),
                change_failure_rate: change_failure_rate::compute(self, window),
                recovery_time: recovery_time::compute(self, window),
                rework_rate: rework_rate::compute(self, window),
            },
        }
    }

    /// One key over `window`.
    pub fn key(&self, key: Key, window: &Window) -> KeyReport {
        match key {
            Key::DeploymentFrequency => {
                KeyReport::DeploymentFrequency(deployment_frequency::compute(self, window))
            }
            Key::LeadTime => KeyReport::LeadTime(lead_time::compute(self, window)),
            Key::ChangeFailureRate => {
                KeyReport::ChangeFailureRate(change_failure_rate::compute(self, window))
            }
            Key::RecoveryTime => KeyReport::RecoveryTime(recovery_time::compute(self, window)),
            Key::ReworkRate => KeyReport::ReworkRate(rework_rate::compute(self, window)),
        }
    }
}
