//! `dora-events demo`: the product on a fresh database, filled with a generated but realistic
//! delivery history, so a newcomer has something to look at within a minute.
//!
//! The history goes in the way real tools would send it: GitHub webhooks (pushes, pull requests,
//! workflow runs, deployments, incident issues), Argo CD notifications, Tekton's CloudEvents,
//! Alertmanager and PagerDuty webhooks, and bare CDEvents from a release script, all posted over
//! HTTP to the server's own endpoints, so the same adapters, router, transformers and calculators
//! as in production turn them into the five keys.
//!
//! Four teams' services, each with its own tools and habits ([`PROFILES`]):
//!
//! | service | team | code and CI | deploys | incidents | meant to be |
//! |---|---|---|---|---|---|
//! | `checkout` | storefront | GitHub, Actions | GitHub deployments, every merge | Alertmanager | elite |
//! | `catalog` | storefront | GitHub, Actions | Argo CD, three trains a week | Argo CD health | high |
//! | `payments-api` | payments | GitHub, Tekton builds | Tekton, weekly, hotfixes | PagerDuty | medium |
//! | `billing-legacy` | billing | GitHub, Actions | a release script (CDEvents), every other week, rollbacks | GitHub issues | struggling |
//!
//! plus a shared database that pages people and has no deployments (unattributed incidents).
//! Changes link to deployments the documented ways (METRICS.md): by commit SHA (a deployment's
//! revision is a merge commit), and by artifact (an `artifact.packaged` CDEvent listing the
//! changes in `customData.dora.changes`, whose id is the deployment's `artifactId`). Incidents link
//! by service and time (Alertmanager, PagerDuty, issues) or by naming the deployment (Argo CD).
//!
//! Everything random comes from [`SplitMix64`] seeded with `--seed`, and times from the end of the
//! history, so a seed and an end date give the same events, byte for byte.

use std::time::{Duration as StdDuration, Instant};

use anyhow::{bail, Context};
use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Timelike, Utc, Weekday};
use dora_sources::kubernetes::oci_purl;
use serde_json::{json, Value};

use crate::app::Application;
use crate::config::Settings;

/// A small, fast, seedable generator (Steele, Lea and Flood's SplitMix64): enough for test data,
/// and it keeps the demo free of a `rand` dependency.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi` (the modulo bias is irrelevant at these ranges).
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = (hi - lo) as u64 + 1;
        lo + (self.next_u64() % span) as i64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next_u64() % items.len() as u64) as usize]
    }

    /// `n` lowercase hex digits (commit SHAs, fingerprints).
    pub fn hex(&mut self, n: usize) -> String {
        let mut out = String::with_capacity(n + 16);
        while out.len() < n {
            out.push_str(&format!("{:016x}", self.next_u64()));
        }
        out.truncate(n);
        out
    }

    /// A random (version 4 shaped) UUID, for delivery ids.
    pub fn uuid(&mut self) -> String {
        let h = self.hex(32);
        format!(
            "{}-{}-4{}-a{}-{}",
            &h[..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..32]
        )
    }
}

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
enum Deployer {
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
enum Alerts {
    Alertmanager,
    ArgoCdHealth,
    PagerDuty,
    GithubIssues,
}

/// A service's habits. Durations are in minutes, ranges inclusive.
#[derive(Debug, Clone, Copy)]
struct Profile {
    service: &'static str,
    team: &'static str,
    deployer: Deployer,
    alerts: Alerts,
    /// Pull requests started per working day.
    prs_per_day: (i64, i64),
    /// From the first commit to the pull request.
    coding: (i64, i64),
    /// From the pull request to its merge.
    review: (i64, i64),
    /// Release days (empty: every merge is released on its own).
    release_days: &'static [Weekday],
    /// A train every this many weeks.
    every_weeks: i64,
    /// From staging to production.
    promotion: (i64, i64),
    /// How long before the history starts work may have begun (long-lived branches).
    warmup_days: i64,
    /// Share of production releases that go wrong (spread evenly, so even a service with a
    /// dozen releases shows its rate).
    failure_rate: f64,
    /// Of those, the share whose rollout fails (the others cause an incident).
    failed_rollout_share: f64,
    /// Time to resolve an incident.
    recovery: (i64, i64),
    /// After an incident, the chance of a hotfix released out of the train.
    hotfix: f64,
    /// After an incident or a failed rollout, the chance of a rollback.
    rollback: f64,
    topics: &'static [&'static str],
}

const HOUR: i64 = 60;
const DAY: i64 = 24 * HOUR;

/// The demo's services.
const PROFILES: [Profile; 4] = [
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

const PEOPLE: [&str; 8] = [
    "amira", "bruno", "chen", "dana", "emeka", "freya", "goran", "hana",
];

/// A pull request and the commits it merges.
#[derive(Debug, Clone)]
struct PullRequest {
    number: u64,
    title: String,
    author: &'static str,
    branch: String,
    /// (sha, time, message)
    commits: Vec<(String, DateTime<Utc>, String)>,
    opened: DateTime<Utc>,
    merged: Option<DateTime<Utc>>,
    abandoned: Option<DateTime<Utc>>,
    merge_sha: String,
    /// When CI finished on the merge commit.
    built: Option<DateTime<Utc>>,
}

/// What one deployment put out, for rollbacks and Argo CD's history.
#[derive(Debug, Clone)]
struct Rollout {
    revision: String,
    version: String,
    started: DateTime<Utc>,
}

/// The history of one service.
struct ServiceHistory {
    p: Profile,
    rng: SplitMix64,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    out: Vec<Delivery>,
    next_pr: u64,
    next_id: u64,
    releases: u64,
    production_releases: u64,
    failure_phase: f64,
    main_head: String,
    last_good: Option<Rollout>,
    previous_good: Option<Rollout>,
}

fn rfc3339(time: &DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn minutes(n: i64) -> Duration {
    Duration::minutes(n)
}

fn is_workday(time: &DateTime<Utc>) -> bool {
    !matches!(time.weekday(), Weekday::Sat | Weekday::Sun)
}

impl ServiceHistory {
    fn new(p: Profile, seed: u64, index: u64, start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
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

    fn id(&mut self) -> u64 {
        self.next_id += self.rng.between(1, 50) as u64;
        self.next_id
    }

    fn repo_name(&self) -> String {
        format!("acme/{}", self.p.service)
    }

    fn repo_url(&self) -> String {
        format!("https://github.com/acme/{}", self.p.service)
    }

    fn send(
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
    fn working_hours(&mut self, time: DateTime<Utc>) -> DateTime<Utc> {
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

    // -----------------------------------------------------------------------------------------
    // GitHub

    fn repository(&self, pushed_at: Option<i64>) -> Value {
        let mut repo = json!({
            "id": 40_000_000 + self.p.service.len() as u64 * 7919,
            "name": self.p.service,
            "full_name": self.repo_name(),
            "private": true,
            "owner": {"login": "acme", "type": "Organization", "html_url": "https://github.com/acme"},
            "html_url": self.repo_url(),
            "default_branch": "main",
        });
        if let (Some(pushed), Some(object)) = (pushed_at, repo.as_object_mut()) {
            object.insert("pushed_at".into(), json!(pushed));
        }
        repo
    }

    fn github(&mut self, at: DateTime<Utc>, event: &str, payload: Value) {
        let delivery = self.rng.uuid();
        self.send(
            at,
            "/webhooks/github",
            vec![
                ("content-type", "application/json".into()),
                ("x-github-event", event.into()),
                ("x-github-delivery", delivery),
            ],
            payload,
        );
    }

    fn pull_request_payload(&self, pr: &PullRequest, action: &str) -> Value {
        let closed = pr.merged.or(pr.abandoned);
        let state = if action == "closed" { "closed" } else { "open" };
        json!({
            "action": action,
            "number": pr.number,
            "pull_request": {
                "html_url": format!("{}/pull/{}", self.repo_url(), pr.number),
                "number": pr.number,
                "state": state,
                "title": pr.title,
                "user": {"login": pr.author},
                "created_at": rfc3339(&pr.opened),
                "updated_at": rfc3339(&closed.filter(|_| action == "closed").unwrap_or(pr.opened)),
                "closed_at": closed.filter(|_| action == "closed").map(|t| rfc3339(&t)),
                "merged_at": pr.merged.filter(|_| action == "closed").map(|t| rfc3339(&t)),
                "merge_commit_sha": pr.merged.filter(|_| action == "closed").map(|_| pr.merge_sha.clone()),
                "merged": action == "closed" && pr.merged.is_some(),
                "head": {"ref": pr.branch, "sha": pr.commits.last().map(|c| c.0.clone())},
                "base": {"ref": "main"},
                "commits": pr.commits.len(),
            },
            "repository": self.repository(None),
            "sender": {"login": pr.author},
        })
    }

    fn commit_json(&self, sha: &str, at: &DateTime<Utc>, message: &str, author: &str) -> Value {
        json!({
            "id": sha,
            "distinct": true,
            "message": message,
            "timestamp": rfc3339(at),
            "url": format!("{}/commit/{sha}", self.repo_url()),
            "author": {"name": author, "email": format!("{author}@acme.example"), "username": author},
            "committer": {"name": "GitHub", "email": "noreply@github.com", "username": "web-flow"},
            "added": [],
            "removed": [],
            "modified": [format!("src/{}.rs", message.split_whitespace().last().unwrap_or("lib"))],
        })
    }

    /// The push of a merge to `main`: the pull request's commits and the merge commit.
    fn push_merge(&mut self, pr: &PullRequest, merged: DateTime<Utc>) {
        let mut commits: Vec<Value> = pr
            .commits
            .iter()
            .map(|(sha, at, message)| self.commit_json(sha, at, message, pr.author))
            .collect();
        let merge_message = format!(
            "Merge pull request #{} from acme/{}\n\n{}",
            pr.number, pr.branch, pr.title
        );
        let merge = self.commit_json(&pr.merge_sha, &merged, &merge_message, pr.author);
        commits.push(merge.clone());
        let before = std::mem::replace(&mut self.main_head, pr.merge_sha.clone());
        let payload = json!({
            "ref": "refs/heads/main",
            "before": before,
            "after": pr.merge_sha,
            "created": false,
            "deleted": false,
            "forced": false,
            "compare": format!("{}/compare/{}...{}", self.repo_url(), &before[..12], &pr.merge_sha[..12]),
            "commits": commits,
            "head_commit": merge,
            "repository": self.repository(Some(merged.timestamp())),
            "pusher": {"name": pr.author, "email": format!("{}@acme.example", pr.author)},
            "sender": {"login": pr.author},
        });
        self.github(merged + Duration::seconds(2), "push", payload);
    }

    /// CI on the merge commit: a GitHub Actions run, or a Tekton build for the Tekton service.
    fn build(&mut self, pr: &PullRequest, merged: DateTime<Utc>) -> DateTime<Utc> {
        let started = merged + Duration::seconds(self.rng.between(5, 40));
        let mut finished = started + minutes(self.rng.between(4, 14));
        let flaky = self.rng.chance(0.05);
        if self.p.deployer == Deployer::Tekton {
            let name = format!("build-{}", self.p.service);
            self.tekton_run(&name, None, &pr.merge_sha, None, started, finished, !flaky);
            if flaky {
                let again = finished + minutes(self.rng.between(3, 20));
                finished = again + minutes(self.rng.between(4, 14));
                self.tekton_run(&name, None, &pr.merge_sha, None, again, finished, true);
            }
            return finished;
        }
        let run_id = self.id() * 10;
        for attempt in 1..=(if flaky { 2 } else { 1 }) {
            let conclusion = if attempt == 1 && flaky {
                "failure"
            } else {
                "success"
            };
            let payload = json!({
                "action": "completed",
                "workflow_run": {
                    "id": run_id,
                    "name": "CI",
                    "head_branch": "main",
                    "head_sha": pr.merge_sha,
                    "path": ".github/workflows/ci.yml",
                    "run_attempt": attempt,
                    "event": "push",
                    "status": "completed",
                    "conclusion": conclusion,
                    "html_url": format!("{}/actions/runs/{run_id}", self.repo_url()),
                    "run_started_at": rfc3339(&started),
                    "updated_at": rfc3339(&finished),
                },
                "workflow": {"name": "CI", "path": ".github/workflows/ci.yml"},
                "repository": self.repository(None),
                "sender": {"login": pr.author},
            });
            self.github(finished, "workflow_run", payload);
            if attempt == 1 && flaky {
                finished += minutes(self.rng.between(8, 25));
            }
        }
        finished
    }

    fn deployment_status(&mut self, env: &str, sha: &str, at: DateTime<Utc>, success: bool) {
        let deployment = self.id();
        let status = self.id();
        let state = if success { "success" } else { "failure" };
        let created = at - minutes(self.rng.between(2, 6));
        let payload = json!({
            "action": "created",
            "deployment_status": {
                "id": status,
                "state": state,
                "environment": env,
                "description": if success { "Deployment finished" } else { "Health checks failed" },
                "target_url": format!("{}/actions/runs/{}", self.repo_url(), deployment * 3),
                "created_at": rfc3339(&at),
                "updated_at": rfc3339(&at),
            },
            "deployment": {
                "id": deployment,
                "sha": sha,
                "ref": "main",
                "task": "deploy",
                "payload": {},
                "environment": env,
                "original_environment": env,
                "production_environment": env == "production",
                "created_at": rfc3339(&created),
                "updated_at": rfc3339(&at),
            },
            "repository": self.repository(None),
            "sender": {"login": "github-actions[bot]"},
        });
        self.github(at, "deployment_status", payload);
    }

    fn issue(&mut self, detected: DateTime<Utc>, resolved: Option<DateTime<Utc>>, title: &str) {
        let number = self.next_pr;
        self.next_pr += 1;
        let author = *self.rng.pick(&PEOPLE);
        let labels = json!([
            {"name": "incident"},
            {"name": format!("service:{}", self.p.service)},
            {"name": "env:production"},
        ]);
        let issue = |state: &str, closed: Option<DateTime<Utc>>| {
            json!({
                "number": number,
                "title": title,
                "state": state,
                "labels": labels,
                "user": {"login": author},
                "html_url": format!("{}/issues/{number}", self.repo_url()),
                "created_at": rfc3339(&detected),
                "updated_at": rfc3339(&closed.unwrap_or(detected)),
                "closed_at": closed.map(|t| rfc3339(&t)),
            })
        };
        let opened = json!({
            "action": "opened",
            "issue": issue("open", None),
            "repository": self.repository(None),
            "sender": {"login": author},
        });
        let closed = resolved.map(|at| {
            json!({
                "action": "closed",
                "issue": issue("closed", Some(at)),
                "repository": self.repository(None),
                "sender": {"login": author},
            })
        });
        self.github(detected, "issues", opened);
        if let (Some(at), Some(payload)) = (resolved, closed) {
            self.github(at, "issues", payload);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Argo CD

    /// One notification about `rollout` of the `<service>-<env>` application. `sync` is when
    /// the sync operation finished and its phase; health notifications have none (the sync they
    /// follow succeeded).
    fn argocd(
        &mut self,
        env: &str,
        trigger: &str,
        rollout: &Rollout,
        sync: Option<(DateTime<Utc>, &str)>,
        health: (&str, DateTime<Utc>),
        history: &[&Rollout],
    ) {
        let finished = sync.map(|(at, _)| at);
        let phase = sync.map_or("Succeeded", |(_, phase)| phase);
        let service = self.p.service;
        let image = format!("ghcr.io/acme/{service}:{}", rollout.version);
        let payload = json!({
            "trigger": trigger,
            "argocdUrl": "https://argocd.acme.example",
            "app": {
                "name": format!("{service}-{env}"),
                "namespace": "argocd",
                "project": self.p.team,
                "labels": {
                    "dora-events.dev/service": service,
                    "dora-events.dev/environment": env,
                    "app.kubernetes.io/part-of": self.p.team,
                },
                "annotations": {},
            },
            "destination": {"server": format!("https://{env}.k8s.acme.example"), "namespace": service},
            "sync": {"status": "Synced", "revision": rollout.revision},
            "operation": {
                "phase": phase,
                "message": if phase == "Succeeded" { "successfully synced (all tasks run)".to_owned() } else { format!("one or more objects failed to apply: Deployment/{service} rollout timed out") },
                "startedAt": rfc3339(&rollout.started),
                "finishedAt": finished.map(|t| rfc3339(&t)),
                "revision": rollout.revision,
                "syncRevision": rollout.revision,
            },
            "health": {"status": health.0, "lastTransitionTime": rfc3339(&health.1)},
            "images": [image],
            "history": history.iter().enumerate().map(|(i, r)| json!({
                "id": i + 1,
                "revision": r.revision,
                "deployStartedAt": rfc3339(&r.started),
                "deployedAt": rfc3339(&(r.started + Duration::seconds(40))),
            })).collect::<Vec<_>>(),
        });
        let at = [Some(rollout.started), finished, Some(health.1)]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(rollout.started);
        self.send(
            at,
            "/webhooks/argocd",
            vec![("content-type", "application/json".into())],
            payload,
        );
    }

    // -----------------------------------------------------------------------------------------
    // Tekton

    #[allow(clippy::too_many_arguments)]
    fn tekton_run(
        &mut self,
        pipeline: &str,
        env: Option<&str>,
        revision: &str,
        image: Option<&str>,
        started: DateTime<Utc>,
        finished: DateTime<Utc>,
        success: bool,
    ) {
        let suffix = self.rng.hex(5);
        let name = format!("{pipeline}-run-{suffix}");
        let uid = self.rng.uuid();
        let mut params = vec![
            json!({"name": "service", "value": self.p.service}),
            json!({"name": "revision", "value": revision}),
        ];
        if let Some(env) = env {
            params.push(json!({"name": "environment", "value": env}));
        }
        if let Some(image) = image {
            params.push(json!({"name": "image", "value": image}));
        }
        let state = if success { "successful" } else { "failed" };
        let source = format!("/apis/tekton.dev/v1beta1/namespaces/ci/pipelineruns/{name}");
        let event = json!({
            "specversion": "1.0",
            "id": self.rng.uuid(),
            "source": source,
            "type": format!("dev.tekton.event.pipelinerun.{state}.v1"),
            "subject": name,
            "time": rfc3339(&(finished + Duration::seconds(1))),
            "datacontenttype": "application/json",
            "data": {"pipelineRun": {
                "metadata": {
                    "name": name,
                    "namespace": "ci",
                    "uid": uid,
                    "creationTimestamp": rfc3339(&started),
                    "labels": {
                        "tekton.dev/pipeline": pipeline,
                        "dora-events.dev/deploy": if env.is_some() { "true" } else { "false" },
                        "app.kubernetes.io/part-of": self.p.team,
                    },
                },
                "spec": {"params": params, "pipelineRef": {"name": pipeline}},
                "status": {
                    "startTime": rfc3339(&started),
                    "completionTime": rfc3339(&finished),
                    "conditions": [{
                        "type": "Succeeded",
                        "status": if success { "True" } else { "False" },
                        "reason": if success { "Succeeded" } else { "Failed" },
                        "message": if success { "Tasks Completed: 3 (Failed: 0, Cancelled 0), Skipped: 0" } else { "Tasks Completed: 2 (Failed: 1, Cancelled 0), Skipped: 1" },
                        "lastTransitionTime": rfc3339(&finished),
                    }],
                },
            }},
        });
        self.send(
            finished + Duration::seconds(1),
            "/events",
            vec![("content-type", "application/cloudevents+json".into())],
            event,
        );
    }

    // -----------------------------------------------------------------------------------------
    // CDEvents sent by the release script and CI

    fn cdevent(&mut self, at: DateTime<Utc>, kind: &str, subject: Value, dora: Value) -> String {
        let id = self.rng.uuid();
        let event = json!({
            "context": {
                "specversion": "0.5.1",
                "id": id,
                "source": format!("https://jenkins.acme.example/job/{}", self.p.service),
                "type": format!("dev.cdevents.{kind}"),
                "timestamp": rfc3339(&at),
            },
            "subject": subject,
            "customData": {"dora": dora},
        });
        self.send(
            at,
            "/cdevents",
            vec![("content-type", "application/json".into())],
            event,
        );
        id
    }

    /// The artifact a deployment rolls out, as its `artifactId`.
    fn artifact_id(&self, version: &str, revision: &str) -> String {
        let service = self.p.service;
        match self.p.deployer {
            Deployer::Github => dora_sources::github::github_purl("acme", service, revision),
            Deployer::ArgoCd | Deployer::Tekton => {
                let image = format!("ghcr.io/acme/{service}:{version}");
                oci_purl(&image).unwrap_or_else(|| format!("pkg:oci/{service}@{version}"))
            }
            Deployer::Script => format!("pkg:generic/{service}@{version}"),
        }
    }

    /// `artifact.packaged` naming the changes built into the artifact (METRICS.md: linking by
    /// artifact).
    fn packaged(&mut self, at: DateTime<Utc>, version: &str, revision: &str, prs: &[PullRequest]) {
        let repo = self.repo_name();
        let changes: Vec<String> = prs
            .iter()
            .flat_map(|pr| {
                [
                    format!("{repo}#{}", pr.number),
                    format!("{repo}@{}", pr.merge_sha),
                ]
            })
            .collect();
        let Some(last) = prs.last() else { return };
        let subject = json!({
            "id": self.artifact_id(version, revision),
            "source": format!("https://ci.acme.example/{}", self.p.service),
            "content": {"change": {"id": format!("{repo}#{}", last.number), "source": self.repo_url()}},
        });
        self.cdevent(
            at,
            "artifact.packaged.0.3.0",
            subject,
            json!({"changes": changes}),
        );
    }

    fn script_deploy(
        &mut self,
        kind: &str,
        env: &str,
        rollout: &Rollout,
        at: DateTime<Utc>,
        success: bool,
    ) {
        let subject = json!({
            "id": self.p.service,
            "source": format!("https://jenkins.acme.example/job/{}", self.p.service),
            "content": {
                "environment": {"id": env},
                "artifactId": self.artifact_id(&rollout.version, &rollout.revision),
            },
        });
        let dora = json!({
            "revision": rollout.revision,
            "outcome": if success { "success" } else { "failure" },
            "team": self.p.team,
        });
        self.cdevent(at, kind, subject, dora);
    }

    // -----------------------------------------------------------------------------------------
    // Incident sources

    fn alertmanager(&mut self, detected: DateTime<Utc>, resolved: Option<DateTime<Utc>>) {
        let fingerprint = self.rng.hex(16);
        let alertname = *self
            .rng
            .pick(&["HighErrorRate", "LatencySLOBurn", "PodCrashLooping"]);
        let service = self.p.service;
        let labels = json!({
            "alertname": alertname,
            "service": service,
            "environment": "production",
            "namespace": service,
            "severity": "critical",
        });
        let summary = format!("{alertname} on {service} in production");
        for (status, at, ends) in [
            ("firing", Some(detected), None),
            ("resolved", resolved, resolved),
        ] {
            let Some(at) = at else { continue };
            let payload = json!({
                "receiver": "dora-events",
                "status": status,
                "alerts": [{
                    "status": status,
                    "labels": labels,
                    "annotations": {"summary": summary, "runbook_url": format!("https://runbooks.acme.example/{alertname}")},
                    "startsAt": rfc3339(&detected),
                    "endsAt": ends.map(|t| rfc3339(&t)).unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
                    "generatorURL": "http://prometheus.monitoring.svc:9090/graph",
                    "fingerprint": fingerprint,
                }],
                "groupLabels": {"alertname": alertname},
                "commonLabels": labels,
                "commonAnnotations": {"summary": summary},
                "externalURL": "http://alertmanager.monitoring.svc:9093",
                "version": "4",
                "groupKey": format!("{{}}:{{alertname=\"{alertname}\"}}"),
                "truncatedAlerts": 0,
            });
            self.send(
                at + Duration::seconds(30),
                "/webhooks/alertmanager",
                vec![("content-type", "application/json".into())],
                payload,
            );
        }
    }

    fn pagerduty(
        &mut self,
        service: &str,
        detected: DateTime<Utc>,
        resolved: Option<DateTime<Utc>>,
        title: &str,
    ) {
        pagerduty(
            &mut self.rng,
            &mut self.out,
            self.end,
            service,
            detected,
            resolved,
            title,
        );
    }

    // -----------------------------------------------------------------------------------------
    // The history

    fn pull_requests(&mut self) -> Vec<PullRequest> {
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

    fn pull_request(&mut self, started: DateTime<Utc>) -> PullRequest {
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
    fn code(&mut self) -> Vec<PullRequest> {
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

    fn run(&mut self) {
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
    fn release(&mut self, staging: DateTime<Utc>, prs: Vec<PullRequest>) {
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
    fn hotfix(&mut self, detected: DateTime<Utc>) -> DateTime<Utc> {
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

    fn good(&mut self, rollout: Rollout) {
        self.previous_good = self.last_good.replace(rollout);
    }

    /// Deploys with the service's tool; returns when the rollout finished.
    fn deploy(&mut self, env: &str, rollout: &Rollout, success: bool) -> DateTime<Utc> {
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
                self.tekton_run(
                    &pipeline,
                    Some(env),
                    &rollout.revision,
                    Some(&image),
                    rollout.started,
                    finished,
                    success,
                );
            }
            Deployer::Script => {
                self.script_deploy("service.deployed.0.3.0", env, rollout, finished, success);
            }
        }
        finished
    }

    fn rollback(&mut self, to: &Rollout, at: DateTime<Utc>) {
        // Only the release script reports rollbacks as such; the demo gives it the rollbacks.
        self.script_deploy("service.rolledback.0.3.0", "production", to, at, true);
        self.good(to.clone());
    }

    fn incident(
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

/// A PagerDuty incident: triggered, and resolved unless still open at the end.
#[allow(clippy::too_many_arguments)]
fn pagerduty(
    rng: &mut SplitMix64,
    out: &mut Vec<Delivery>,
    end: DateTime<Utc>,
    service: &str,
    detected: DateTime<Utc>,
    resolved: Option<DateTime<Utc>>,
    title: &str,
) {
    let incident = format!("Q{}", rng.hex(13).to_uppercase());
    let service_id = format!(
        "P{}",
        &service.to_uppercase().replace('-', "")[..5.min(service.len())]
    );
    let number = rng.between(1000, 9999);
    for (event_type, at) in [
        ("incident.triggered", Some(detected)),
        ("incident.resolved", resolved),
    ] {
        let Some(at) = at else { continue };
        if at >= end {
            continue;
        }
        let status = if event_type == "incident.triggered" {
            "triggered"
        } else {
            "resolved"
        };
        let payload = json!({"event": {
            "id": format!("01{}", rng.hex(24).to_uppercase()),
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": rfc3339(&at),
            "agent": {"type": "service_reference", "id": service_id, "summary": service},
            "data": {
                "id": incident,
                "type": "incident",
                "html_url": format!("https://acme.pagerduty.com/incidents/{incident}"),
                "number": number,
                "status": status,
                "title": title,
                "service": {"id": service_id, "summary": service, "type": "service_reference"},
                "urgency": "high",
                "priority": {"summary": "P2"},
            },
        }});
        out.push(Delivery {
            at,
            path: "/webhooks/pagerduty",
            headers: vec![("content-type", "application/json".into())],
            body: payload.to_string(),
        });
    }
}

/// The whole history: `days` days of every demo service, ending at `end`, in sending order.
/// The same seed and end give the same deliveries.
pub fn generate(seed: u64, days: u32, end: DateTime<Utc>) -> Vec<Delivery> {
    let start = end - Duration::days(i64::from(days));
    let mut out = Vec::new();
    for (index, profile) in PROFILES.iter().enumerate() {
        let mut history = ServiceHistory::new(*profile, seed, index as u64, start, end);
        history.run();
        out.append(&mut history.out);
    }
    // A shared database pages people too; no deployment of it is known, so its incidents stay
    // unattributed.
    let mut rng = SplitMix64::new(seed ^ 0x5348_4152_4544);
    for _ in 0..2 {
        let detected = start + minutes(rng.between(0, i64::from(days) * DAY));
        let resolved = detected + minutes(rng.between(30, 5 * HOUR));
        pagerduty(
            &mut rng,
            &mut out,
            end,
            "shared-postgres",
            detected,
            Some(resolved),
            "Replication lag on shared-postgres",
        );
    }
    out.retain(|d| d.at < end);
    out.sort_by_key(|d| d.at);
    out
}

/// Where the history ends by default: the start of the current UTC day, so the demo's 90 days
/// are the dashboard's default window and one day gives one history per seed.
pub fn default_end() -> DateTime<Utc> {
    let today = Utc::now().date_naive();
    Utc.from_utc_datetime(&today.and_time(NaiveTime::MIN))
}

/// What loading the history did.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    pub requests: usize,
    pub accepted: u64,
    pub duplicates: u64,
}

/// Posts the deliveries to the server at `base`, oldest first, a few at a time (so the server
/// commits them in groups, as it would under real traffic). Any refusal is an error: the demo's
/// payloads are meant to be valid.
pub async fn load(base: &str, deliveries: &[Delivery]) -> anyhow::Result<LoadReport> {
    const IN_FLIGHT: usize = 8;
    let base = base.trim_end_matches('/').to_owned();
    let client = reqwest::Client::new();
    let deliveries = std::sync::Arc::new(deliveries.to_vec());
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..IN_FLIGHT {
        let (client, base, deliveries, next) = (
            client.clone(),
            base.clone(),
            deliveries.clone(),
            next.clone(),
        );
        workers.spawn(async move {
            let mut report = LoadReport::default();
            loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(delivery) = deliveries.get(index) else {
                    return anyhow::Ok(report);
                };
                let body = post(&client, &base, delivery).await?;
                report.requests += 1;
                report.accepted += body["accepted"].as_u64().unwrap_or(0);
                report.duplicates += body["duplicates"].as_u64().unwrap_or(0);
            }
        });
    }
    let mut total = LoadReport::default();
    while let Some(outcome) = workers.join_next().await {
        let report = outcome.context("a loading task failed")??;
        total.requests += report.requests;
        total.accepted += report.accepted;
        total.duplicates += report.duplicates;
    }
    Ok(total)
}

/// Posts one delivery, waiting out `503`s; returns the answer's JSON.
async fn post(client: &reqwest::Client, base: &str, delivery: &Delivery) -> anyhow::Result<Value> {
    let mut attempts = 0;
    loop {
        let mut request = client
            .post(format!("{base}{}", delivery.path))
            .body(delivery.body.clone());
        for (name, value) in &delivery.headers {
            request = request.header(*name, value);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("Failed to reach {base}"))?;
        let status = response.status();
        if status.as_u16() == 503 && attempts < 100 {
            attempts += 1;
            tokio::time::sleep(StdDuration::from_millis(100)).await;
            continue;
        }
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!(
                "POST {} refused a demo event ({status}): {}",
                delivery.path,
                body["detail"].as_str().unwrap_or("no detail")
            );
        }
        return Ok(body);
    }
}

/// Polls `GET /api/v1/pipeline` until the router and the calculators have caught up, or fails
/// after `deadline`. Returns the final pipeline state.
pub async fn wait_until_processed(base: &str, deadline: StdDuration) -> anyhow::Result<Value> {
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        let state: Value = client
            .get(format!("{}/api/v1/pipeline", base.trim_end_matches('/')))
            .send()
            .await?
            .json()
            .await?;
        if state["router_lag"] == 0 && state["deployments_lag"] == 0 {
            return Ok(state);
        }
        if started.elapsed() > deadline {
            bail!("the pipeline did not catch up within {deadline:?}: {state}");
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
}

/// The demo's settings on top of the user's: production is `production`, and the demo's services
/// belong to their teams (unless the configuration says otherwise).
pub fn demo_settings(mut settings: Settings) -> Settings {
    // Generated data, loaded through HTTP by this process: no tokens (the start-up log says so).
    settings.auth = dora_http::auth::AuthSettings::default();
    if settings.dora.production_environments.is_empty() {
        settings.dora.production_environments = vec!["production".into()];
    }
    for (service, team) in teams() {
        settings
            .dora
            .teams
            .entry(service.into())
            .or_insert_with(|| team.into());
    }
    settings
}

/// `dora-events demo` options.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub seed: u64,
    pub days: u32,
    /// Exit after printing the summary instead of serving until Ctrl-C.
    pub exit: bool,
}

/// Serves `settings` (already demo-adjusted, on a fresh database), loads the history, prints
/// where to look and the keys, then serves until `stop` resolves (or returns, with `exit`).
pub async fn run(
    settings: Settings,
    options: DemoOptions,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let database = crate::app::redact(&settings.database_url);
    let app = Application::build(settings.clone()).await?;
    let address = app.local_addr()?;
    let base = format!("http://{address}");
    let handle = app.shutdown_handle();
    let server = tokio::spawn(app.run_until_stopped());

    let end = default_end();
    let deliveries = generate(options.seed, options.days, end);
    eprintln!(
        "Loading {} days of history (seed {}): {} webhook and event deliveries to {base} ...",
        options.days,
        options.seed,
        deliveries.len()
    );
    let started = Instant::now();
    let outcome = async {
        let loaded = load(&base, &deliveries).await?;
        let state = wait_until_processed(&base, StdDuration::from_secs(120)).await?;
        let summary = summary(&base, &settings).await?;
        anyhow::Ok((loaded, state, summary))
    }
    .await;
    let (loaded, state, summary) = match outcome {
        Ok(done) => done,
        Err(error) => {
            handle.shutdown();
            let _ = server.await;
            return Err(error);
        }
    };
    let browse = if address.ip().is_unspecified() {
        format!("http://localhost:{}", address.port())
    } else {
        base.clone()
    };
    println!(
        "Loaded {} events ({} already stored) in {:.1} s: {} raw events, {} CDEvents, {} deployments, {} transformation failures.",
        loaded.accepted,
        loaded.duplicates,
        started.elapsed().as_secs_f64(),
        state["raw_events"],
        state["cdevents"],
        state["deployments"],
        state["failures"],
    );
    println!("Database: {database}\n");
    println!("{summary}");
    println!("Where to look:");
    for (path, what) in [
        ("/", "the dashboard"),
        (
            "/api/v1/dora",
            "the five keys (add ?service=checkout, ?team=billing, from=, to=)",
        ),
        ("/deploy-frequency/week", "the book's deployment frequency"),
        (
            "/api/v1/deployments?service=billing-legacy",
            "the evidence behind the numbers",
        ),
    ] {
        println!("  {:<68} {what}", format!("{browse}{path}"));
    }
    println!("  dora-events metrics --url {browse} --team storefront");
    if options.exit {
        handle.shutdown();
        return server.await.context("the server task failed")?;
    }
    println!("\nServing until Ctrl-C.");
    tokio::spawn(async move {
        stop.await;
        handle.shutdown();
    });
    server.await.context("the server task failed")?
}

/// The keys over everything, and one line per service with its levels.
async fn summary(base: &str, settings: &Settings) -> anyhow::Result<String> {
    let all =
        crate::metrics::from_server(base, None, &crate::metrics::KeysQuery::default()).await?;
    let mut text = crate::metrics::render(&all)?;
    text.push_str("\nPer service (level of frequency / lead time / failure rate / recovery):\n");
    for service in services() {
        let query = crate::metrics::KeysQuery {
            services: vec![service.into()],
            ..Default::default()
        };
        let body = crate::metrics::from_server(base, None, &query).await?;
        let keys = &body["keys"];
        let level = |key: &str| keys[key]["level"].as_str().unwrap_or("-").to_owned();
        let team = settings
            .dora
            .teams
            .get(service)
            .map(String::as_str)
            .unwrap_or("-");
        text.push_str(&format!(
            "  {service:<16} {team:<12} {:<7} {:<7} {:<7} {}\n",
            level("deployment_frequency"),
            level("lead_time"),
            level("change_failure_rate"),
            level("recovery_time"),
        ));
    }
    Ok(text)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // First outputs for seed 1234567 of the reference C implementation.
        let mut rng = SplitMix64::new(1_234_567);
        assert_eq!(rng.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(rng.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn ranges_stay_inside_their_bounds() {
        let mut rng = SplitMix64::new(7);
        for _ in 0..1000 {
            let n = rng.between(3, 5);
            assert!((3..=5).contains(&n));
        }
        assert_eq!(rng.hex(40).len(), 40);
        assert_eq!(rng.uuid().len(), 36);
    }
}
