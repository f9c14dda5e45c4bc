//! Test builders for the pure DORA computation (`crate::dora`) used by the API: short
//! constructors for facts and windows so that scenarios read like their hand computations.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, Utc};

use super::columns::KeyColumns;
use super::facts::{Change, Commit, Deployment, DeploymentKind, DoraConfig, DoraFacts, Incident};
use super::linking::Linked;
use super::window::Window;

pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("bad time {s}: {e}"))
        .with_timezone(&Utc)
}

pub fn window(from: &str, to: &str) -> Window {
    Window::new(t(from), t(to)).unwrap()
}

/// January 2024, the window most scenarios are written for.
pub fn january_window() -> Window {
    window("2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z")
}

/// The key columns of `facts` linked under `config`: what every metric computes on.
pub fn linked_columns(facts: &DoraFacts, config: &DoraConfig) -> KeyColumns {
    Linked::new(facts, config).columns()
}

/// A successful `deployed` rollout with no artifact or revision.
pub fn dep(id: i64, service: &str, environment: &str, at: &str) -> Deployment {
    Deployment {
        id,
        service: service.to_string(),
        environment: environment.to_string(),
        team: None,
        at: t(at),
        kind: DeploymentKind::Deployed,
        failed: false,
        artifact_id: None,
        revision: None,
    }
}

impl Deployment {
    pub fn rev(mut self, sha: &str) -> Self {
        self.revision = Some(sha.to_string());
        self
    }
    pub fn art(mut self, artifact: &str) -> Self {
        self.artifact_id = Some(artifact.to_string());
        self
    }
    pub fn failed(mut self) -> Self {
        self.failed = true;
        self
    }
    pub fn rollback(mut self) -> Self {
        self.kind = DeploymentKind::Rolledback;
        self
    }
}

/// A change with no service, timestamps, commits or artifacts.
pub fn change(id: &str) -> Change {
    Change {
        id: id.to_string(),
        service: None,
        repository: None,
        created_at: None,
        merged_at: None,
        commits: Vec::new(),
        merge_sha: None,
        artifact_ids: Vec::new(),
        deployment_refs: Vec::new(),
    }
}

impl Change {
    pub fn service(mut self, service: &str) -> Self {
        self.service = Some(service.to_string());
        self
    }
    pub fn commit(mut self, sha: &str, at: Option<&str>) -> Self {
        self.commits.push(Commit {
            sha: sha.to_string(),
            at: at.map(t),
        });
        self
    }
    pub fn created(mut self, at: &str) -> Self {
        self.created_at = Some(t(at));
        self
    }
    pub fn merged(mut self, at: &str) -> Self {
        self.merged_at = Some(t(at));
        self
    }
    pub fn merge_sha(mut self, sha: &str) -> Self {
        self.merge_sha = Some(sha.to_string());
        self
    }
    pub fn artifact(mut self, artifact: &str) -> Self {
        self.artifact_ids.push(artifact.to_string());
        self
    }
}

/// An open incident of `service` in `environment`.
pub fn incident(id: &str, service: &str, environment: &str, detected: &str) -> Incident {
    Incident {
        id: id.to_string(),
        service: Some(service.to_string()),
        environment: Some(environment.to_string()),
        artifact_id: None,
        deployment_ref: None,
        detected_at: t(detected),
        resolved_at: None,
    }
}

impl Incident {
    pub fn resolved(mut self, at: &str) -> Self {
        self.resolved_at = Some(t(at));
        self
    }
    pub fn art(mut self, artifact: &str) -> Self {
        self.artifact_id = Some(artifact.to_string());
        self
    }
    pub fn names(mut self, deployment: i64) -> Self {
        self.deployment_ref = Some(deployment);
        self
    }
    pub fn no_environment(mut self) -> Self {
        self.environment = None;
        self
    }
    pub fn no_service(mut self) -> Self {
        self.service = None;
        self
    }
}

/// The small deterministic generator (LCG) of the differential tests, for generated facts and
/// windows.
pub use dora_testkit::history::Lcg;

/// Random facts over 20 days of 2024 (hour granularity, so many same-time ties): 120
/// deployments of two services in `prod`, `prod-eu` and `staging`, 80 changes linked to them by
/// artifact or SHA, 60 incidents; to compare the indexed linking with the naive rules and the
/// key columns with their reference.
pub fn generated(seed: u64) -> DoraFacts {
    let mut g = Lcg(seed);
    let base = t("2024-01-01T00:00:00Z");
    let services = ["api", "web"];
    let envs = ["prod", "prod-eu", "staging"];
    let pick = |g: &mut Lcg, n: u64| -> Option<String> {
        (g.next(3) > 0).then(|| format!("x{}", g.next(n)))
    };
    let mut facts = DoraFacts::default();
    for id in 0..120 {
        // Hour granularity over 20 days: many same-time ties.
        let at = base + Duration::hours(i64::try_from(g.next(480)).unwrap());
        let mut d = dep(
            id,
            services[g.next(2) as usize],
            envs[g.next(3) as usize],
            "2024-01-01T00:00:00Z",
        );
        d.at = at;
        d.failed = g.next(8) == 0;
        if g.next(6) == 0 {
            d.kind = DeploymentKind::Rolledback;
        }
        d.artifact_id = pick(&mut g, 30);
        d.revision = pick(&mut g, 30);
        facts.deployments.push(d);
    }
    for id in 0..80 {
        let mut c = change(&format!("c{id}"));
        if g.next(2) == 0 {
            c.service = Some(services[g.next(2) as usize].to_string());
        }
        for _ in 0..g.next(3) {
            let sha = format!("x{}", g.next(30));
            let at = (g.next(2) == 0)
                .then(|| base + Duration::hours(i64::try_from(g.next(480)).unwrap()));
            c.commits.push(crate::dora::facts::Commit { sha, at });
        }
        c.merge_sha = pick(&mut g, 30);
        if g.next(2) == 0 {
            c.artifact_ids.push(format!("x{}", g.next(30)));
        }
        c.created_at =
            (g.next(2) == 0).then(|| base + Duration::hours(i64::try_from(g.next(480)).unwrap()));
        facts.changes.push(c);
    }
    for id in 0..60 {
        let detected = base + Duration::hours(i64::try_from(g.next(500)).unwrap());
        let mut i = incident(
            &format!("i{id}"),
            services[g.next(2) as usize],
            envs[g.next(3) as usize],
            "2024-01-01T00:00:00Z",
        );
        i.detected_at = detected;
        if g.next(4) == 0 {
            i.environment = None;
        }
        if g.next(6) == 0 {
            i.service = None;
        }
        if g.next(5) == 0 {
            i.deployment_ref = Some(i64::try_from(g.next(130)).unwrap());
        }
        i.artifact_id = if g.next(3) == 0 {
            pick(&mut g, 30)
        } else {
            None
        };
        if g.next(4) > 0 {
            i.resolved_at = Some(detected + Duration::hours(i64::try_from(g.next(100)).unwrap()));
        }
        facts.incidents.push(i);
    }
    facts
}

/// Windows over the span of [`generated`] facts (late December 2023 to early February 2024), of
/// every shape the key columns must answer: any instants (nanoseconds included), midnight to
/// midnight, hour-aligned (the generated facts' own instants as edges), one second wide, empty
/// (`from == to`, which [`Window::new`] refuses but the keys must still answer), and one
/// spanning everything.
pub fn windows(seed: u64) -> Vec<Window> {
    let mut g = Lcg(seed);
    let base = t("2023-12-25T00:00:00Z");
    let mut out = vec![
        Window {
            from: t("1970-01-01T00:00:00Z"),
            to: t("2100-01-01T00:00:00Z"),
        },
        window("2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z"),
    ];
    let instant = |g: &mut Lcg, aligned: i64| {
        let seconds = i64::try_from(g.next(45 * 86_400)).unwrap() / aligned * aligned;
        let nanos = if aligned == 1 {
            g.next(1_000_000_000)
        } else {
            0
        };
        base + Duration::seconds(seconds) + Duration::nanoseconds(i64::try_from(nanos).unwrap())
    };
    for _ in 0..12 {
        for aligned in [1, 3_600, 86_400] {
            let (a, b) = (instant(&mut g, aligned), instant(&mut g, aligned));
            let (from, to) = (a.min(b), a.max(b));
            out.push(Window { from, to });
            out.push(Window { from, to: from });
            out.push(Window {
                from,
                to: from + Duration::seconds(1),
            });
            out.push(Window {
                from: from - Duration::nanoseconds(1),
                to: from + Duration::nanoseconds(1),
            });
        }
    }
    out
}
