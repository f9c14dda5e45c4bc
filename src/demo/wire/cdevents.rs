//! Bare CDEvents, as the release script and CI send them.

use chrono::{DateTime, Utc};
use dora_sources::kubernetes::oci_purl;
use serde_json::{json, Value};

use crate::demo::history::*;

impl ServiceHistory {
    pub(crate) fn cdevent(
        &mut self,
        at: DateTime<Utc>,
        kind: &str,
        subject: Value,
        dora: Value,
    ) -> String {
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
    pub(crate) fn artifact_id(&self, version: &str, revision: &str) -> String {
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
    pub(crate) fn packaged(
        &mut self,
        at: DateTime<Utc>,
        version: &str,
        revision: &str,
        prs: &[PullRequest],
    ) {
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

    pub(crate) fn script_deploy(
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
}
