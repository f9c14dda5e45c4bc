//! Test builders for the pure DORA computation (`crate::dora`) used by the API: short
//! constructors for facts and windows so that scenarios read like their hand computations.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Utc};

use super::facts::{Change, Commit, Deployment, DeploymentKind, Incident};
use super::window::Window;

pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("bad time {s}: {e}"))
        .with_timezone(&Utc)
}

pub fn window(from: &str, to: &str) -> Window {
    Window::new(t(from), t(to)).unwrap()
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
