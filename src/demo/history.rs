//! The demo's history model: four services' profiles (their tools and habits) and what happens
//! to each over time (pull requests, builds, releases, deployments, failures, incidents,
//! rollbacks). What each tool sends about it is in [`super::wire`].

use chrono::{DateTime, Datelike, Duration, NaiveTime, Timelike, Utc, Weekday};
use serde_json::Value;

use super::random::SplitMix64;
use super::wire::TektonRun;

/// One HTTP request of the history: what a tool would post, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// When the tool sends it (deliveries are posted in this order).
    pub at: DateTime<Utc>,
    /// `/webhooks/github`, `/events`, `/cdevents`, ...
    pub path: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// How a service is deployed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Deployer {
    /// GitHub deployments (`deployment_status` webhooks), every merge to staging then production.
    Github,
    /// Argo CD applications `<service>-staging` and `<service>-production`.
    ArgoCd,
    /// Tekton pipeline runs labelled as deploying.
    Tekton,
    /// A release script that sends CDEvents itself.
    Script,
}

/// Where a service's incidents come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alerts {
    Alertmanager,
    ArgoCdHealth,
    PagerDuty,
    GithubIssues,
}

/// A service's habits. Durations are in minutes, ranges inclusive.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Profile {
    pub(crate) service: &'static str,
    pub(crate) team: &'static str,
    pub(crate) deployer: Deployer,
    pub(crate) alerts: Alerts,
    /// Pull requests started per working day.
    pub(crate) prs_per_day: (i64, i64),
    /// From the first commit to the pull request.
    pub(crate) coding: (i64, i64),
    /// From the pull request to its merge.
    pub(crate) review: (i64, i64),
    /// Release days (empty: every merge is released on its own).
    pub(crate) release_days: &'static [Weekday],
    /// A train every this many weeks.
    pub(crate) every_weeks: i64,
    /// From staging to production.
    pub(crate) promotion: (i64, i64),
    /// How long before the history starts work may have begun (long-lived branches).
    pub(crate) warmup_days: i64,
    /// Share of production releases that go wrong (spread evenly, so even a service with a
    /// dozen releases shows its rate).
    pub(crate) failure_rate: f64,
    /// Of those, the share whose rollout fails (the others cause an incident).
    pub(crate) failed_rollout_share: f64,
    /// Time to resolve an incident.
    pub(crate) recovery: (i64, i64),
    /// After an incident, the chance of a hotfix released out of the train.
    pub(crate) hotfix: f64,
    /// After an incident or a failed rollout, the chance of a rollback.
    pub(crate) rollback: f64,
    pub(crate) topics: &'static [&'static str],
}

pub(crate) const HOUR: i64 = 60;
pub(crate) const DAY: i64 = 24 * HOUR;

/// The demo's services.
pub(crate) const PROFILES: [Profile; 4] = [
    Profile {
        service: "checkout",
        team: "storefront",
        deployer: Deployer::Github,
        alerts: Alerts::Alertmanager,
        prs_per_day: (2, 4),
        coding: (HOUR, 6 * HOUR),
        review: (20, 3 * HOUR),
        release_days: &[],
        every_weeks: 1,
        promotion: (20, 90),
        warmup_days: 0,
        failure_rate: 0.035,
        failed_rollout_share: 0.25,
        recovery: (8, 45),
        hotfix: 0.0,
        rollback: 0.0,
        topics: &[
            "cart totals",
            "payment form",
            "promo codes",
            "address validation",
            "order confirmation email",
            "guest checkout",
            "tax calculation",
            "shipping options",
        ],
    },
    Profile {
        service: "catalog",
        team: "storefront",
        deployer: Deployer::ArgoCd,
        alerts: Alerts::ArgoCdHealth,
        prs_per_day: (1, 2),
        coding: (6 * HOUR, 2 * DAY),
        review: (4 * HOUR, 30 * HOUR),
        release_days: &[Weekday::Mon, Weekday::Wed, Weekday::Thu],
        every_weeks: 1,
        promotion: (HOUR, 4 * HOUR),
        warmup_days: 4,
        failure_rate: 0.075,
        failed_rollout_share: 0.25,
        recovery: (HOUR, 6 * HOUR),
        hotfix: 0.0,
        rollback: 0.0,
        topics: &[
            "product search facets",
            "image thumbnails",
            "price history",
            "category tree",
            "stock badges",
            "recommendations",
        ],
    },
    Profile {
        service: "payments-api",
        team: "payments",
        deployer: Deployer::Tekton,
        alerts: Alerts::PagerDuty,
        prs_per_day: (0, 2),
        coding: (DAY, 5 * DAY),
        review: (DAY, 4 * DAY),
        release_days: &[Weekday::Mon],
        every_weeks: 1,
        promotion: (22 * HOUR, 28 * HOUR),
        warmup_days: 14,
        failure_rate: 0.16,
        failed_rollout_share: 0.2,
        recovery: (4 * HOUR, 2 * DAY),
        hotfix: 1.0,
        rollback: 0.0,
        topics: &[
            "card tokenisation",
            "refund flow",
            "3-D Secure challenge",
            "idempotency keys",
            "settlement report",
            "currency rounding",
        ],
    },
    Profile {
        service: "billing-legacy",
        team: "billing",
        deployer: Deployer::Script,
        alerts: Alerts::GithubIssues,
        prs_per_day: (0, 1),
        coding: (7 * DAY, 20 * DAY),
        review: (10 * DAY, 30 * DAY),
        release_days: &[Weekday::Thu],
        every_weeks: 2,
        promotion: (2 * DAY, 5 * DAY),
        warmup_days: 60,
        failure_rate: 0.6,
        failed_rollout_share: 0.0,
        recovery: (6 * DAY, 16 * DAY),
        hotfix: 0.0,
        rollback: 0.8,
        topics: &[
            "invoice PDF layout",
            "dunning letters",
            "VAT rules",
            "SOAP adapter",
            "nightly batch",
            "customer ledger",
        ],
    },
];

/// The team of each demo service (the demo's `[dora] teams`).
pub fn teams() -> Vec<(&'static str, &'static str)> {
    PROFILES.iter().map(|p| (p.service, p.team)).collect()
}

/// The demo's services, from the one meant to be elite to the struggling one.
pub fn services() -> Vec<&'static str> {
    PROFILES.iter().map(|p| p.service).collect()
}

pub(crate) const PEOPLE: [&str; 8] = [
    "amira", "bruno", "chen", "dana", "emeka", "freya", "goran", "hana",
];

/// A pull request and the commits it merges.
#[derive(Debug, Clone)]
pub(crate) struct PullRequest {
    pub(crate) number: u64,
    pub(crate) title: String,
    pub(crate) author: &'static str,
    pub(crate) branch: String,
    /// (sha, time, message)
    pub(crate) commits: Vec<(String, DateTime<Utc>, String)>,
    pub(crate) opened: DateTime<Utc>,
    pub(crate) merged: Option<DateTime<Utc>>,
    pub(crate) abandoned: Option<DateTime<Utc>>,
    pub(crate) merge_sha: String,
    /// When CI finished on the merge commit.
    pub(crate) built: Option<DateTime<Utc>>,
}

/// What one deployment put out, for rollbacks and Argo CD's history.
#[derive(Debug, Clone)]
pub(crate) struct Rollout {
    pub(crate) revision: String,
    pub(crate) version: String,
    pub(crate) started: DateTime<Utc>,
}

/// The history of one service.
pub(crate) struct ServiceHistory {
    pub(crate) p: Profile,
    pub(crate) rng: SplitMix64,
    pub(crate) start: DateTime<Utc>,
    pub(crate) end: DateTime<Utc>,
    pub(crate) out: Vec<Delivery>,
    pub(crate) next_pr: u64,
    pub(crate) next_id: u64,
    pub(crate) releases: u64,
    pub(crate) production_releases: u64,
    pub(crate) failure_phase: f64,
    pub(crate) main_head: String,
    pub(crate) last_good: Option<Rollout>,
    pub(crate) previous_good: Option<Rollout>,
}

pub(crate) fn rfc3339(time: &DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub(crate) fn minutes(n: i64) -> Duration {
    Duration::minutes(n)
}

pub(crate) fn is_workday(time: &DateTime<Utc>) -> bool {
    !matches!(time.weekday(), Weekday::Sat | Weekday::Sun)
}

impl ServiceHistory {
    pub(crate) fn new(
        p: Profile,
        seed: u64,
        index: u64,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Self {
        // One stream per service, so a service's history does not depend on the others'.
        let mut rng = SplitMix64::new(seed ^ (index + 1).wrapping_mul(0xA076_1D64_78BD_642F));
        let main_head = rng.hex(40);
        let next_id = rng.between(1_000_000, 9_000_000) as u64;
        let next_pr = rng.between(100, 900) as u64;
        let failure_phase = rng.between(0, 999) as f64 / 1000.0;
        Self {
            p,
            rng,
            start,
            end,
            out: Vec::new(),
            next_pr,
            next_id,
            releases: 0,
            production_releases: 0,
            failure_phase,
            main_head,
            last_good: None,
            previous_good: None,
        }
    }

    pub(crate) fn id(&mut self) -> u64 {
        self.next_id += self.rng.between(1, 50) as u64;
        self.next_id
    }

    pub(crate) fn repo_name(&self) -> String {
        format!("acme/{}", self.p.service)
    }

    pub(crate) fn repo_url(&self) -> String {
        format!("https://github.com/acme/{}", self.p.service)
    }

    pub(crate) fn send(
        &mut self,
        at: DateTime<Utc>,
        path: &'static str,
        headers: Vec<(&'static str, String)>,
        body: Value,
    ) {
        if at < self.end {
            self.out.push(Delivery {
                at,
                path,
                headers,
                body: body.to_string(),
            });
        }
    }

    /// The next working-hours moment at or after `time` (Monday to Friday, 09:00 to 18:00 UTC).
    pub(crate) fn working_hours(&mut self, time: DateTime<Utc>) -> DateTime<Utc> {
        let mut t = time;
        let hour = t.hour();
        if is_workday(&t) && (9..18).contains(&hour) {
            return t;
        }
        if hour >= 18 || !is_workday(&t) {
            t += Duration::days(1);
        }
        while !is_workday(&t) {
            t += Duration::days(1);
        }
        let morning = t.date_naive().and_time(NaiveTime::MIN).and_utc();
        morning + minutes(9 * HOUR + self.rng.between(0, 90))
    }
}

impl ServiceHistory {
    // -----------------------------------------------------------------------------------------
    // The history

    pub(crate) fn pull_requests(&mut self) -> Vec<PullRequest> {
        let mut prs = Vec::new();
        let first = self.start - Duration::days(self.p.warmup_days);
        let days = (self.end - first).num_days();
        for day in 0..days {
            let date = first + Duration::days(day);
            if !is_workday(&date) {
                continue;
            }
            for _ in 0..self.rng.between(self.p.prs_per_day.0, self.p.prs_per_day.1) {
                let started = date + minutes(self.rng.between(8 * HOUR, 17 * HOUR));
                let pr = self.pull_request(started);
                prs.push(pr);
            }
        }
        prs
    }

    pub(crate) fn pull_request(&mut self, started: DateTime<Utc>) -> PullRequest {
        let topic = *self.rng.pick(self.p.topics);
        let verb = *self
            .rng
            .pick(&["Fix", "Add", "Improve", "Refactor", "Speed up", "Clean up"]);
        let author = *self.rng.pick(&PEOPLE);
        let coding = self.rng.between(self.p.coding.0, self.p.coding.1);
        let count = self.rng.between(1, 4);
        let commits = (0..count)
            .map(|i| {
                let at = started + minutes(coding * i / count.max(1));
                let message = if i == 0 {
                    format!("{verb} {topic}")
                } else {
                    (*self.rng.pick(&[
                        "Address review comments",
                        "Add tests",
                        "Tidy up",
                        "Handle the empty case",
                    ]))
                    .to_owned()
                };
                (self.rng.hex(40), at, message)
            })
            .collect::<Vec<_>>();
        let opened = started + minutes(coding + self.rng.between(2, 30));
        let decided = opened + minutes(self.rng.between(self.p.review.0, self.p.review.1));
        let abandoned = self.rng.chance(0.05);
        let number = self.next_pr;
        self.next_pr += 1;
        PullRequest {
            number,
            title: format!("{verb} {topic}"),
            author,
            branch: format!("{author}/{}", topic.replace(' ', "-").to_lowercase()),
            commits,
            opened,
            merged: (!abandoned).then_some(decided),
            abandoned: abandoned.then_some(decided),
            merge_sha: self.rng.hex(40),
            built: None,
        }
    }

    /// Pull request events, pushes to `main` and CI; returns the merged pull requests in merge order.
    pub(crate) fn code(&mut self) -> Vec<PullRequest> {
        let prs = self.pull_requests();
        let mut merged = Vec::new();
        for pr in &prs {
            let opened = self.pull_request_payload(pr, "opened");
            self.github(pr.opened, "pull_request", opened);
            if pr.abandoned.is_some() {
                let closed = self.pull_request_payload(pr, "closed");
                self.github(pr.abandoned.unwrap_or(pr.opened), "pull_request", closed);
            }
            if pr.merged.is_some() {
                merged.push(pr.clone());
            }
        }
        merged.sort_by_key(|pr| pr.merged);
        for pr in &mut merged {
            let Some(at) = pr.merged else { continue };
            let closed = self.pull_request_payload(pr, "closed");
            self.github(at, "pull_request", closed);
            self.push_merge(pr, at);
            pr.built = Some(self.build(pr, at));
        }
        merged
    }

    pub(crate) fn run(&mut self) {
        let merged = self.code();
        if self.p.release_days.is_empty() {
            // Continuous delivery: every merge on its own.
            for pr in merged {
                let Some(built) = pr.built else { continue };
                let staging = built + minutes(self.rng.between(3, 12));
                self.release(staging, vec![pr]);
            }
            return;
        }
        let mut waiting: Vec<PullRequest> = merged;
        let days = (self.end - self.start).num_days();
        let phase = self.rng.between(0, self.p.every_weeks - 1);
        for day in 0..days {
            let date = self.start + Duration::days(day);
            let week = (date - self.start).num_days() / 7;
            if !self.p.release_days.contains(&date.weekday()) || week % self.p.every_weeks != phase
            {
                continue;
            }
            let staging = date + minutes(10 * HOUR + self.rng.between(0, 120));
            let (ready, later): (Vec<PullRequest>, Vec<PullRequest>) = waiting
                .into_iter()
                .partition(|pr| pr.built.is_some_and(|b| b < staging));
            waiting = later;
            if !ready.is_empty() {
                self.release(staging, ready);
            }
        }
    }

    /// Ships `prs` to staging at `staging`, then to production, with what can go wrong there.
    pub(crate) fn release(&mut self, staging: DateTime<Utc>, prs: Vec<PullRequest>) {
        let Some(last) = prs.last() else { return };
        self.releases += 1;
        let revision = last.merge_sha.clone();
        let version = match self.p.deployer {
            Deployer::Github => revision[..7].to_owned(),
            Deployer::Script => format!("{}.{}", staging.year(), self.releases),
            Deployer::ArgoCd | Deployer::Tekton => format!("1.{}.0", 40 + self.releases),
        };
        let packaged = staging - minutes(self.rng.between(5, 20));
        self.packaged(packaged, &version, &revision, &prs);
        let staged = Rollout {
            revision: revision.clone(),
            version: version.clone(),
            started: staging,
        };
        self.deploy("staging", &staged, true);
        let promoted = staging + minutes(self.rng.between(self.p.promotion.0, self.p.promotion.1));
        let production = Rollout {
            started: self.working_hours(promoted),
            ..staged
        };
        if production.started >= self.end {
            return;
        }
        // The n-th production release goes wrong when the running total of failure_rate
        // crosses a whole number (from a random phase).
        self.production_releases += 1;
        let n = self.production_releases as f64;
        let fails = (n * self.p.failure_rate + self.failure_phase).floor()
            > ((n - 1.0) * self.p.failure_rate + self.failure_phase).floor();
        let failed_rollout = fails && self.rng.chance(self.p.failed_rollout_share);
        if failed_rollout {
            let finished = self.deploy("production", &production, false);
            if self.rng.chance(self.p.rollback) {
                if let Some(previous) = self.last_good.clone() {
                    let at = finished + minutes(self.rng.between(2 * HOUR, 2 * DAY));
                    self.rollback(&previous, at);
                }
                return;
            }
            // Try again once the cause is found.
            let retry = Rollout {
                started: finished + minutes(self.rng.between(15, 3 * HOUR)),
                ..production
            };
            self.deploy("production", &retry, true);
            self.good(retry);
            return;
        }
        let finished = self.deploy("production", &production, true);
        self.good(production.clone());
        if !fails {
            return;
        }
        let detected = finished + minutes(self.rng.between(5, 4 * HOUR));
        let mut resolved =
            detected + minutes(self.rng.between(self.p.recovery.0, self.p.recovery.1));
        if self.rng.chance(self.p.hotfix) {
            resolved = self.hotfix(detected);
        }
        if self.rng.chance(self.p.rollback) {
            if let Some(previous) = self.previous_good.clone() {
                let at = detected + minutes(self.rng.between(HOUR, 2 * DAY));
                self.rollback(&previous, at.min(resolved - minutes(5)));
            }
        }
        let resolved = (resolved < self.end).then_some(resolved);
        self.incident(detected, resolved, &production);
    }

    /// A fix written, merged and shipped out of the train while an incident is open; returns
    /// when the incident is resolved (shortly after the fix reaches production).
    pub(crate) fn hotfix(&mut self, detected: DateTime<Utc>) -> DateTime<Utc> {
        let started = detected + minutes(self.rng.between(20, 60));
        let mut pr = self.pull_request(started);
        pr.commits.truncate(1);
        let first = pr.commits.first().map(|c| c.1).unwrap_or(detected);
        pr.opened = first + minutes(self.rng.between(20, 90));
        pr.title = format!("Hotfix: {}", pr.title);
        let merged = pr.opened + minutes(self.rng.between(15, 60));
        pr.merged = Some(merged);
        let opened = self.pull_request_payload(&pr, "opened");
        self.github(pr.opened, "pull_request", opened);
        let closed = self.pull_request_payload(&pr, "closed");
        self.github(merged, "pull_request", closed);
        self.push_merge(&pr, merged);
        let built = self.build(&pr, merged);
        self.releases += 1;
        let version = format!("1.{}.1", 40 + self.releases);
        self.packaged(
            built + minutes(1),
            &version,
            &pr.merge_sha,
            std::slice::from_ref(&pr),
        );
        let rollout = Rollout {
            revision: pr.merge_sha.clone(),
            version,
            started: built + minutes(self.rng.between(5, 20)),
        };
        self.deploy("staging", &rollout, true);
        let production = Rollout {
            started: rollout.started + minutes(self.rng.between(15, 45)),
            ..rollout
        };
        let finished = self.deploy("production", &production, true);
        self.good(production);
        finished + minutes(self.rng.between(10, 40))
    }

    pub(crate) fn good(&mut self, rollout: Rollout) {
        self.previous_good = self.last_good.replace(rollout);
    }

    /// Deploys with the service's tool; returns when the rollout finished.
    pub(crate) fn deploy(&mut self, env: &str, rollout: &Rollout, success: bool) -> DateTime<Utc> {
        let finished = rollout.started + minutes(self.rng.between(2, 9));
        match self.p.deployer {
            Deployer::Github => self.deployment_status(env, &rollout.revision, finished, success),
            Deployer::ArgoCd => {
                let (trigger, phase) = if success {
                    ("on-sync-succeeded", "Succeeded")
                } else {
                    ("on-sync-failed", "Failed")
                };
                let history: Vec<&Rollout> = success.then_some(rollout).into_iter().collect();
                let health = if success { "Healthy" } else { "Progressing" };
                self.argocd(
                    env,
                    trigger,
                    rollout,
                    Some((finished, phase)),
                    (health, finished),
                    &history,
                );
            }
            Deployer::Tekton => {
                let image = format!("ghcr.io/acme/{}:{}", self.p.service, rollout.version);
                let pipeline = format!("deploy-{}", self.p.service);
                self.tekton_run(TektonRun {
                    pipeline: &pipeline,
                    env: Some(env),
                    revision: &rollout.revision,
                    image: Some(&image),
                    started: rollout.started,
                    finished,
                    success,
                });
            }
            Deployer::Script => {
                self.script_deploy("service.deployed.0.3.0", env, rollout, finished, success);
            }
        }
        finished
    }

    pub(crate) fn rollback(&mut self, to: &Rollout, at: DateTime<Utc>) {
        // Only the release script reports rollbacks as such; the demo gives it the rollbacks.
        self.script_deploy("service.rolledback.0.3.0", "production", to, at, true);
        self.good(to.clone());
    }

    pub(crate) fn incident(
        &mut self,
        detected: DateTime<Utc>,
        resolved: Option<DateTime<Utc>>,
        rollout: &Rollout,
    ) {
        let topic = *self.rng.pick(self.p.topics);
        let title = format!("{} errors in {topic}", self.p.service);
        match self.p.alerts {
            Alerts::Alertmanager => self.alertmanager(detected, resolved),
            Alerts::PagerDuty => {
                let service = self.p.service;
                self.pagerduty(service, detected, resolved, &title);
            }
            Alerts::GithubIssues => self.issue(detected, resolved, &title),
            Alerts::ArgoCdHealth => {
                let previous = self.previous_good.clone();
                let history: Vec<&Rollout> = previous.iter().chain(Some(rollout)).collect();
                self.argocd(
                    "production",
                    "on-health-degraded",
                    rollout,
                    None,
                    ("Degraded", detected),
                    &history,
                );
                if let Some(resolved) = resolved {
                    self.argocd(
                        "production",
                        "on-health-recovered",
                        rollout,
                        None,
                        ("Healthy", resolved),
                        &history,
                    );
                }
            }
        }
    }
}
