//! The linked facts reduced to what the five keys read, for any window: the last step of the
//! pure DORA computation (`crate::dora`) before the numbers (facts -> [`Linked`] -> key rows ->
//! **[`KeyColumns`]** -> keys).
//!
//! Every link (what a deployment shipped, the incident blamed on it, its rollback, recovery and
//! rework, each change's lead time) is resolved once by [`Linked::new`] and does not depend on the
//! window; [`Linked::key_rows`] reduces them to plain rows ([`DeploymentKeyRow`],
//! [`ShippedKeyRow`], [`IncidentKeyRow`]), and [`KeyColumns::from_rows`] sorts those into
//! columns.
//!
//! The columns are cut into **day blocks**, one per UTC date holding any row ([`day_of`]). A block
//! holds that day's production deployments by (time, id), those of them that needed intervention,
//! the changes first deployed to production that day by (time, deployment, change) with their lead
//! times, and the incidents detected that day by (detection, id), each list with running counts
//! (prefix sums) of everything the keys count. Beside the blocks, [`KeyColumns`] keeps running totals over whole blocks. A window (any
//! two instants, not only midnights) is then a binary search for the block of each edge and one
//! inside it, block totals for the days in between, and a few subtractions. Only what needs the
//! values themselves is scanned: the lead times of the window's changes (median and p90 by
//! selection) and the deployments that needed intervention (a few percent).
//!
//! Why days: links are stored as the facts arrive, and new facts change the rows of a few days
//! (a late incident fails an old deployment, a new deployment ships changes). Each block sits
//! behind an [`Arc`], so [`KeyColumns::with_days_replaced`] builds the next version from the rows
//! of the days that changed, shares every other block with the previous version and redoes only
//! the running totals over blocks, so that the API can keep each scope's columns up to date
//! without rebuilding its history.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::facts::DoraConfig;
use super::key_rows::{
    DeploymentKeyRow, IncidentKeyRow, RecoveryCell, ReworkKind, ShippedKeyRow, LEAD_CLOCK_SKEW,
    LEAD_NO_TIMESTAMP,
};
use super::linking::Linked;
use super::window::{in_window, Window};

const SECONDS_PER_DAY: i64 = 86_400;

/// The UTC date of `at`, as days since 1970-01-01 (negative before): the key of its day block.
pub fn day_of(at: DateTime<Utc>) -> i32 {
    let days = at.timestamp().div_euclid(SECONDS_PER_DAY);
    // Every date chrono represents fits (about 96 million days either side).
    i32::try_from(days.clamp(i64::from(i32::MIN), i64::from(i32::MAX))).unwrap_or_default()
}

// What is counted of each kind of row: indices into its running counts.
const FAILED_ROLLOUT: usize = 0;
const ROLLBACK: usize = 1;
const NEEDED_INTERVENTION: usize = 2;
const REASON_INCIDENT: usize = 3;
const REASON_ROLLED_BACK: usize = 4;
const REWORK_ROLLBACK: usize = 5;
const REWORK_DURING_INCIDENT: usize = 6;
const DEPLOYMENT_COUNTS: usize = 7;

const CLOCK_SKEW: usize = 0;
const NO_TIMESTAMP: usize = 1;
const SKEWED_COMMITS: usize = 2;
const WITH_LEAD: usize = 3;
const SHIPPED_COUNTS: usize = 4;

const UNATTRIBUTED: usize = 0;
const INCIDENT_COUNTS: usize = 1;

/// How many rows, and the sum of each of `N` counted properties over them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tally<const N: usize> {
    rows: u64,
    of: [u64; N],
}

impl<const N: usize> Default for Tally<N> {
    fn default() -> Self {
        Tally {
            rows: 0,
            of: [0; N],
        }
    }
}

impl<const N: usize> Tally<N> {
    fn plus(mut self, other: Self) -> Self {
        self.rows = self.rows.saturating_add(other.rows);
        for (a, b) in self.of.iter_mut().zip(other.of) {
            *a = a.saturating_add(b);
        }
        self
    }

    fn minus(mut self, other: Self) -> Self {
        self.rows = self.rows.saturating_sub(other.rows);
        for (a, b) in self.of.iter_mut().zip(other.of) {
            *a = a.saturating_sub(b);
        }
        self
    }
}

/// One kind of row of one day, by time, with running counts of `N` properties: `running[i]`
/// sums the rows before `i` (one entry more than rows).
#[derive(Debug, Clone)]
struct Section<const N: usize> {
    at: Vec<DateTime<Utc>>,
    running: Vec<[u32; N]>,
}

impl<const N: usize> Section<N> {
    /// From rows already in order, each with its amount of every property.
    fn new(rows: impl ExactSizeIterator<Item = (DateTime<Utc>, [u32; N])>) -> Self {
        let mut at = Vec::with_capacity(rows.len());
        let mut running = Vec::with_capacity(rows.len() + 1);
        let mut total = [0u32; N];
        running.push(total);
        for (time, amounts) in rows {
            at.push(time);
            // A day holds far fewer than 4 billion of anything; saturate rather than wrap.
            for (sum, amount) in total.iter_mut().zip(amounts) {
                *sum = sum.saturating_add(amount);
            }
            running.push(total);
        }
        Section { at, running }
    }

    fn len(&self) -> usize {
        self.at.len()
    }

    /// How many rows are before `at`.
    fn position(&self, at: DateTime<Utc>) -> usize {
        self.at.partition_point(|x| *x < at)
    }

    /// The tally of rows `start..end`.
    fn tally(&self, start: usize, end: usize) -> Tally<N> {
        let running = |i: usize| self.running.get(i).copied().unwrap_or([0; N]);
        let (before, through) = (running(start), running(end));
        let mut of = [0u64; N];
        for ((sum, a), b) in of.iter_mut().zip(before).zip(through) {
            *sum = u64::from(b).saturating_sub(u64::from(a));
        }
        Tally {
            rows: u64::try_from(end.saturating_sub(start)).unwrap_or(u64::MAX),
            of,
        }
    }

    fn total(&self) -> Tally<N> {
        self.tally(0, self.len())
    }
}

/// A production deployment that needed intervention.
#[derive(Debug, Clone)]
struct FailedRow {
    at: DateTime<Utc>,
    recovery: RecoveryCell,
    /// Its attributed incidents' detection times: `DayBlock::detections[start..end]`.
    detections: (u32, u32),
}

/// A production deployment in a window that needed intervention, as the keys read it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Failed<'a> {
    pub recovery: RecoveryCell,
    /// Detection times of the incidents attributed to it.
    pub detections: &'a [DateTime<Utc>],
}

/// Everything of one UTC day the keys read.
#[derive(Debug)]
struct DayBlock {
    /// [`day_of`] every row of the block.
    day: i32,
    /// Production deployments by (time, id).
    deployments: Section<DEPLOYMENT_COUNTS>,
    /// Of those, the ones that needed intervention, in the same order.
    failed: Vec<FailedRow>,
    /// Detection times of the incidents attributed to each failed deployment.
    detections: Vec<DateTime<Utc>>,
    /// Changes first deployed to production that day, by (time, deployment id, change id).
    shipped: Section<SHIPPED_COUNTS>,
    /// The lead times (whole seconds) of those that have one, in the same order: row `i`'s is
    /// `leads[running[i][WITH_LEAD]]`. Kept apart so that a window copies whole days of samples
    /// at once rather than filtering them.
    leads: Vec<i32>,
    /// Incidents detected that day, by (detection, id).
    incidents: Section<INCIDENT_COUNTS>,
    totals: Totals,
}

/// Bounds into [`DayBlock::detections`] (a day with more than 4 billion incidents does not fit
/// in memory anyway; saturate rather than wrap).
fn offset(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

impl DayBlock {
    /// The block of `day` from its rows, each list already in block order.
    fn new(
        day: i32,
        deployments: &[DeploymentKeyRow],
        shipped: &[ShippedKeyRow],
        incidents: &[IncidentKeyRow],
    ) -> DayBlock {
        let deployment_section = Section::new(deployments.iter().map(|d| {
            let mut amounts = [0u32; DEPLOYMENT_COUNTS];
            amounts[FAILED_ROLLOUT] = u32::from(d.failed_rollout);
            amounts[ROLLBACK] = u32::from(d.rollback);
            amounts[NEEDED_INTERVENTION] = u32::from(d.recovery.is_some());
            amounts[REASON_INCIDENT] = u32::from(d.reason_incident);
            amounts[REASON_ROLLED_BACK] = u32::from(d.reason_rolled_back);
            amounts[REWORK_ROLLBACK] = u32::from(d.rework == Some(ReworkKind::Rollback));
            amounts[REWORK_DURING_INCIDENT] =
                u32::from(d.rework == Some(ReworkKind::DuringIncident));
            (d.at, amounts)
        }));
        let mut detections = Vec::new();
        let failed = deployments
            .iter()
            .filter_map(|d| {
                let recovery = d.recovery?;
                let start = offset(detections.len());
                detections.extend_from_slice(&d.detections);
                Some(FailedRow {
                    at: d.at,
                    recovery,
                    detections: (start, offset(detections.len())),
                })
            })
            .collect();
        let shipped_section = Section::new(shipped.iter().map(|s| {
            let mut amounts = [0u32; SHIPPED_COUNTS];
            amounts[CLOCK_SKEW] = u32::from(s.lead == LEAD_CLOCK_SKEW);
            amounts[NO_TIMESTAMP] = u32::from(s.lead == LEAD_NO_TIMESTAMP);
            amounts[SKEWED_COMMITS] = s.skewed_commits;
            amounts[WITH_LEAD] = u32::from(s.lead >= 0);
            (s.at, amounts)
        }));
        let incident_section = Section::new(incidents.iter().map(|i| {
            let mut amounts = [0u32; INCIDENT_COUNTS];
            amounts[UNATTRIBUTED] = u32::from(i.unattributed);
            (i.detected_at, amounts)
        }));
        let totals = Totals {
            deployments: deployment_section.total(),
            deploy_days: u64::from(!deployments.is_empty()),
            shipped: shipped_section.total(),
            incidents: incident_section.total(),
        };
        DayBlock {
            day,
            deployments: deployment_section,
            failed,
            detections,
            shipped: shipped_section,
            leads: shipped
                .iter()
                .map(|s| s.lead)
                .filter(|&lead| lead >= 0)
                .collect(),
            incidents: incident_section,
            totals,
        }
    }

    fn deployment_rows(&self) -> &Section<DEPLOYMENT_COUNTS> {
        &self.deployments
    }

    fn shipped_rows(&self) -> &Section<SHIPPED_COUNTS> {
        &self.shipped
    }

    fn incident_rows(&self) -> &Section<INCIDENT_COUNTS> {
        &self.incidents
    }

    fn detections(&self, row: &FailedRow) -> &[DateTime<Utc>] {
        let (start, end) = row.detections;
        self.detections
            .get(start as usize..end as usize)
            .unwrap_or(&[])
    }
}

/// What a block (or a run of blocks) adds up to.
#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    deployments: Tally<DEPLOYMENT_COUNTS>,
    /// Blocks with a production deployment.
    deploy_days: u64,
    shipped: Tally<SHIPPED_COUNTS>,
    incidents: Tally<INCIDENT_COUNTS>,
}

impl Totals {
    fn plus(self, other: &Totals) -> Totals {
        Totals {
            deployments: self.deployments.plus(other.deployments),
            deploy_days: self.deploy_days.saturating_add(other.deploy_days),
            shipped: self.shipped.plus(other.shipped),
            incidents: self.incidents.plus(other.incidents),
        }
    }
}

/// A place among the rows of one kind: before row `offset` of block `block` (`blocks.len()`
/// for the end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Position {
    block: usize,
    offset: usize,
}

/// The rows of one kind in a window, `[start, end)`.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: Position,
    end: Position,
}

/// The changes whose first production deployment is in a window ([`KeyColumns::shipped_in`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ShippedSpan(Span);

/// What the keys count of the production deployments in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DeploymentCounts {
    pub deployments: u64,
    /// Distinct UTC dates with a deployment.
    pub deploy_days: u64,
    pub failed_rollouts: u64,
    pub rollbacks: u64,
    pub needed_intervention: u64,
    /// Intervention reasons (one deployment may have several).
    pub reason_incident: u64,
    pub reason_rolled_back: u64,
    pub rework_rollback: u64,
    pub rework_during_incident: u64,
}

/// What the keys count of the changes first deployed to production in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ShippedCounts {
    pub clock_skew: u64,
    pub no_timestamp: u64,
    /// Commit timestamps after the deployment, ignored for the start.
    pub skewed_commits: u64,
}

/// What the five keys need of one set of linked facts, for any window, as day blocks (see the
/// module docs). Build with [`KeyColumns::from_rows`] (or [`Linked::columns`]), update with
/// [`KeyColumns::with_days_replaced`]; owns its data, so it can be cached and shared between
/// requests, and versions share the blocks of the days they agree on.
#[derive(Debug, Clone)]
pub struct KeyColumns {
    pub(crate) config: DoraConfig,
    /// By day; no two of the same day, none empty.
    blocks: Vec<Arc<DayBlock>>,
    /// `before[i]`: the totals of `blocks[..i]` (one entry more than blocks).
    before: Vec<Totals>,
}

thread_local! {
    /// Lead times of one window, reused between computations on the same thread (millions of
    /// values: allocating and faulting them in anew each time costs more than selecting them).
    static LEAD_SAMPLES: RefCell<Vec<i32>> = const { RefCell::new(Vec::new()) };
}

/// The blocks of `deployments`, `shipped` and `incidents` (any order), by day.
fn blocks_of(
    mut deployments: Vec<DeploymentKeyRow>,
    mut shipped: Vec<ShippedKeyRow>,
    mut incidents: Vec<IncidentKeyRow>,
) -> Vec<Arc<DayBlock>> {
    deployments.sort_unstable_by_key(|d| (d.at, d.id));
    shipped.sort_unstable_by(|a, b| {
        (a.at, a.deployment_id, &a.change_id).cmp(&(b.at, b.deployment_id, &b.change_id))
    });
    incidents.sort_unstable_by(|a, b| (a.detected_at, &a.id).cmp(&(b.detected_at, &b.id)));
    let mut deployment_days = deployments.chunk_by(|a, b| day_of(a.at) == day_of(b.at));
    let mut shipped_days = shipped.chunk_by(|a, b| day_of(a.at) == day_of(b.at));
    let mut incident_days =
        incidents.chunk_by(|a, b| day_of(a.detected_at) == day_of(b.detected_at));
    let (mut d, mut s, mut i) = (
        deployment_days.next(),
        shipped_days.next(),
        incident_days.next(),
    );
    let mut blocks = Vec::new();
    loop {
        let day_d = d.and_then(|rows| rows.first()).map(|r| day_of(r.at));
        let day_s = s.and_then(|rows| rows.first()).map(|r| day_of(r.at));
        let day_i = i
            .and_then(|rows| rows.first())
            .map(|r| day_of(r.detected_at));
        let Some(day) = [day_d, day_s, day_i].into_iter().flatten().min() else {
            break;
        };
        let of_day = |rows_day: Option<i32>| rows_day == Some(day);
        blocks.push(Arc::new(DayBlock::new(
            day,
            if of_day(day_d) { d.unwrap_or(&[]) } else { &[] },
            if of_day(day_s) { s.unwrap_or(&[]) } else { &[] },
            if of_day(day_i) { i.unwrap_or(&[]) } else { &[] },
        )));
        if of_day(day_d) {
            d = deployment_days.next();
        }
        if of_day(day_s) {
            s = shipped_days.next();
        }
        if of_day(day_i) {
            i = incident_days.next();
        }
    }
    blocks
}

impl KeyColumns {
    /// The columns of these rows (any order): production deployments, changes with a first
    /// production deployment and incidents, as [`Linked::key_rows`] gives them.
    pub fn from_rows(
        config: DoraConfig,
        deployments: Vec<DeploymentKeyRow>,
        shipped: Vec<ShippedKeyRow>,
        incidents: Vec<IncidentKeyRow>,
    ) -> KeyColumns {
        Self::of_blocks(config, blocks_of(deployments, shipped, incidents))
    }

    /// A new version in which every day of `days` (as [`day_of`]) holds exactly the given rows
    /// of that day, and every other day what it holds in `self` (shared, not copied). The rows
    /// must be of those days (rows of other days are ignored); a day left without rows has no
    /// block any more. Costs the sorting of the given rows plus a pass over the blocks.
    pub fn with_days_replaced(
        &self,
        days: &BTreeSet<i32>,
        mut deployments: Vec<DeploymentKeyRow>,
        mut shipped: Vec<ShippedKeyRow>,
        mut incidents: Vec<IncidentKeyRow>,
    ) -> KeyColumns {
        let replaced = |at: DateTime<Utc>| days.contains(&day_of(at));
        debug_assert!(deployments.iter().all(|d| replaced(d.at)));
        debug_assert!(shipped.iter().all(|s| replaced(s.at)));
        debug_assert!(incidents.iter().all(|i| replaced(i.detected_at)));
        deployments.retain(|d| replaced(d.at));
        shipped.retain(|s| replaced(s.at));
        incidents.retain(|i| replaced(i.detected_at));
        let mut fresh = blocks_of(deployments, shipped, incidents)
            .into_iter()
            .peekable();
        let mut days = days.iter().copied().peekable();
        let mut blocks = Vec::with_capacity(self.blocks.len() + fresh.len());
        for block in &self.blocks {
            while let Some(new) = fresh.next_if(|new| new.day < block.day) {
                blocks.push(new);
            }
            while days.next_if(|&day| day < block.day).is_some() {}
            if days.next_if_eq(&block.day).is_some() {
                // Replaced: by its new rows, or by nothing when it has none left.
                blocks.extend(fresh.next_if(|new| new.day == block.day));
            } else {
                blocks.push(Arc::clone(block));
            }
        }
        blocks.extend(fresh);
        Self::of_blocks(self.config.clone(), blocks)
    }

    fn of_blocks(config: DoraConfig, blocks: Vec<Arc<DayBlock>>) -> KeyColumns {
        let mut before = Vec::with_capacity(blocks.len() + 1);
        let mut running = Totals::default();
        before.push(running);
        for block in &blocks {
            running = running.plus(&block.totals);
            before.push(running);
        }
        KeyColumns {
            config,
            blocks,
            before,
        }
    }

    /// The configuration the links were made with.
    pub fn config(&self) -> &DoraConfig {
        &self.config
    }

    /// The block of the first row of `section` at or after `at`.
    fn position<const N: usize>(
        &self,
        at: DateTime<Utc>,
        section: impl Fn(&DayBlock) -> &Section<N>,
    ) -> Position {
        let day = day_of(at);
        let block = self.blocks.partition_point(|b| b.day < day);
        let offset = match self.blocks.get(block) {
            Some(b) if b.day == day => section(b).position(at),
            _ => 0,
        };
        Position { block, offset }
    }

    fn span<const N: usize>(
        &self,
        window: &Window,
        section: impl Fn(&DayBlock) -> &Section<N>,
    ) -> Span {
        let start = self.position(window.from, &section);
        let end = self.position(window.to, &section).max(start);
        Span { start, end }
    }

    /// The tally of the rows of `section` in `span`: the edge blocks' running counts, and the
    /// totals over blocks in between.
    fn tally<const N: usize>(
        &self,
        span: &Span,
        section: impl Fn(&DayBlock) -> &Section<N>,
        totals: impl Fn(&Totals) -> Tally<N>,
    ) -> Tally<N> {
        let (start, end) = (span.start, span.end);
        let within = |block: usize, from: usize, to: Option<usize>| {
            self.blocks
                .get(block)
                .map(|b| {
                    let rows = section(b);
                    rows.tally(from, to.unwrap_or(rows.len()))
                })
                .unwrap_or_default()
        };
        if start.block == end.block {
            return within(start.block, start.offset, Some(end.offset));
        }
        let whole = |i: usize| self.before.get(i).map(&totals).unwrap_or_default();
        within(start.block, start.offset, None)
            .plus(whole(end.block).minus(whole(start.block + 1)))
            .plus(within(end.block, 0, Some(end.offset)))
    }

    /// What the keys count of the production deployments in `window`.
    pub(crate) fn deployments_in(&self, window: &Window) -> DeploymentCounts {
        let section = DayBlock::deployment_rows;
        let span = self.span(window, section);
        let tally = self.tally(&span, section, |t| t.deployments);
        let (start, end) = (span.start, span.end);
        // A block is one date: count the blocks the span takes at least one deployment of.
        let deploy_days = if start.block == end.block {
            u64::from(start.offset < end.offset)
        } else {
            let head = self
                .blocks
                .get(start.block)
                .is_some_and(|b| start.offset < b.deployments.len());
            let whole = |i: usize| self.before.get(i).map_or(0, |t| t.deploy_days);
            u64::from(head)
                + whole(end.block).saturating_sub(whole(start.block + 1))
                + u64::from(end.offset > 0)
        };
        DeploymentCounts {
            deployments: tally.rows,
            deploy_days,
            failed_rollouts: tally.of[FAILED_ROLLOUT],
            rollbacks: tally.of[ROLLBACK],
            needed_intervention: tally.of[NEEDED_INTERVENTION],
            reason_incident: tally.of[REASON_INCIDENT],
            reason_rolled_back: tally.of[REASON_ROLLED_BACK],
            rework_rollback: tally.of[REWORK_ROLLBACK],
            rework_during_incident: tally.of[REWORK_DURING_INCIDENT],
        }
    }

    /// Production deployments in `window` that needed intervention, in deployment order.
    pub(crate) fn failed_in<'s>(
        &'s self,
        window: &'s Window,
    ) -> impl Iterator<Item = Failed<'s>> + 's {
        let first = self.blocks.partition_point(|b| b.day < day_of(window.from));
        let last = self.blocks.partition_point(|b| b.day <= day_of(window.to));
        self.blocks
            .get(first..last)
            .unwrap_or(&[])
            .iter()
            .flat_map(move |block| {
                in_window(&block.failed, window, |row| row.at)
                    .iter()
                    .map(move |row| Failed {
                        recovery: row.recovery,
                        detections: block.detections(row),
                    })
            })
    }

    /// Changes whose first production deployment is in `window`.
    pub(crate) fn shipped_in(&self, window: &Window) -> ShippedSpan {
        ShippedSpan(self.span(window, DayBlock::shipped_rows))
    }

    /// What the keys count of the changes in `span`.
    pub(crate) fn shipped_counts(&self, span: &ShippedSpan) -> ShippedCounts {
        let tally = self.tally(&span.0, DayBlock::shipped_rows, |t| t.shipped);
        ShippedCounts {
            clock_skew: tally.of[CLOCK_SKEW],
            no_timestamp: tally.of[NO_TIMESTAMP],
            skewed_commits: tally.of[SKEWED_COMMITS],
        }
    }

    /// Runs `f` on the lead times (seconds) of the changes in `span` that have one, in a buffer
    /// it may reorder.
    pub(crate) fn with_lead_times<T>(
        &self,
        span: &ShippedSpan,
        f: impl FnOnce(&mut [i32]) -> T,
    ) -> T {
        let Span { start, end } = span.0;
        // Row offsets to sample offsets: how many rows before them have a lead time.
        let samples_before = |b: &DayBlock, row: usize| {
            let before = b.shipped.running.get(row).map_or(0, |r| r[WITH_LEAD]);
            before as usize
        };
        LEAD_SAMPLES.with(|buffer| {
            let mut buffer = buffer.borrow_mut();
            buffer.clear();
            let blocks = self.blocks.get(start.block..).unwrap_or(&[]);
            for (block, b) in (start.block..=end.block).zip(blocks) {
                let from = if block == start.block {
                    samples_before(b, start.offset)
                } else {
                    0
                };
                let to = if block == end.block {
                    samples_before(b, end.offset)
                } else {
                    b.leads.len()
                };
                buffer.extend_from_slice(b.leads.get(from..to).unwrap_or(&[]));
            }
            f(&mut buffer)
        })
    }

    /// How many production deployments, shipped changes (first production deployment in the
    /// window) and incidents (detected in it) `window` holds: the totals of the drill-down
    /// lists, without counting rows in the database.
    pub fn counts_in(&self, window: &Window) -> (u64, u64, u64) {
        let deployments = self.deployments_in(window).deployments;
        let shipped = self
            .tally(&self.shipped_in(window).0, DayBlock::shipped_rows, |t| {
                t.shipped
            })
            .rows;
        let section = DayBlock::incident_rows;
        let incidents = self
            .tally(&self.span(window, section), section, |t| t.incidents)
            .rows;
        (deployments, shipped, incidents)
    }

    /// Production incidents detected in `window` that no deployment could be blamed for.
    pub(crate) fn unattributed_in(&self, window: &Window) -> u64 {
        let section = DayBlock::incident_rows;
        let span = self.span(window, section);
        self.tally(&span, section, |t| t.incidents).of[UNATTRIBUTED]
    }
}

impl Linked<'_> {
    /// The links reduced to the keys' columns.
    pub fn columns(&self) -> KeyColumns {
        let (deployments, shipped, incidents) = self.key_rows();
        KeyColumns::from_rows(self.config.clone(), deployments, shipped, incidents)
    }
}

#[cfg(test)]
pub(crate) mod tests;
